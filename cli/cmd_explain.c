/* cli/cmd_explain.c - `blindlink explain`: why a pair scores what it scores
 * under a model: each field's Dice, comparison level and partial weight (with
 * the term-frequency adjustment), the prior, the total weight and the
 * posterior probability; --svg draws the waterfall chart. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/clk.h>
#include <blindlink/io.h>
#include <blindlink/model.h>
#include "cli.h"

static void usage(FILE *fp)
{
    fputs("Usage: blindlink explain --model MODEL.json [--svg FILE] [--input FILE ...] A.clk:I "
          "B.clk:J\n"
          "\n"
          "Explain the match weight of record I of A.clk against record J of B.clk\n"
          "(0-based indices, as in the pairs CSV): per field the Dice coefficient, the\n"
          "comparison level, its weight log2(m/u) and the term-frequency adjustment,\n"
          "then the prior weight, the total and the posterior match probability.\n"
          "Value frequencies (the term-frequency adjustments) are counted over A.clk\n"
          "and B.clk, or over the --input files: for a pair from a match of more than\n"
          "two inputs, give them all (as given to match) to get the pairs file's weight.\n"
          "\n"
          "Options:\n"
          "  -m, --model FILE   model file (blindlink train) (required)\n"
          "      --svg FILE     also write the waterfall chart as SVG\n"
          "      --input FILE   an input of the match run (repeat; A.clk and B.clk among them)\n"
          "      --json         print the explanation as JSON\n"
          "  -o, --output FILE  write the explanation to FILE instead of stdout\n"
          "  -q, --quiet        no explanation (with --svg: the chart alone)\n"
          "  -v, --verbose      accepted as by every command (nothing to add here)\n"
          "  -V, --version      print the version;  -h, --help  this help\n"
          "\n"
          "Exit status: 0 ok, 1 runtime failure, 2 usage or input error.\n",
          fp);
}

typedef struct explain_pair {
    const char *pa;
    size_t ia;
    const char *ida, *pb;
    size_t ib;
    const char *idb;
    const bl_explain_field *f;
    size_t nf;
    double pw, w, p;
} explain_pair;

static json_t *explain_json(const explain_pair *e)
{
    json_t *fields = json_array();
    for (size_t i = 0; i < e->nf; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "field", json_string(e->f[i].name));
        cli_json_set_real(o, "dice", e->f[i].dice); /* NaN (a missing value): null */
        json_object_set_new(o, "level", json_string(e->f[i].label));
        cli_json_set_real(o, "weight", e->f[i].weight);
        cli_json_set_real(o, "tf_adjust", e->f[i].tf_adjust);
        json_array_append_new(fields, o);
    }
    /* the record ids too, as the text shows them, when the file has ids */
    json_t *ra = json_pack("{s:s, s:I}", "file", e->pa, "index", (json_int_t)e->ia);
    json_t *rb = json_pack("{s:s, s:I}", "file", e->pb, "index", (json_int_t)e->ib);
    if (e->ida)
        json_object_set_new(ra, "id", json_string(e->ida));
    if (e->idb)
        json_object_set_new(rb, "id", json_string(e->idb));
    return json_pack("{s:o, s:o, s:f, s:o, s:f, s:f}", "a", ra, "b", rb, "prior_weight", e->pw,
                     "fields", fields, "weight", e->w, "probability", e->p);
}

static void explain_text(FILE *fp, const explain_pair *e)
{
    fprintf(fp, "%s:%zu %s  vs  %s:%zu %s\n", e->pa, e->ia, e->ida ? e->ida : "", e->pb, e->ib,
            e->idb ? e->idb : "");
    /* the tf adjustment is part of the weight: shown again on its own */
    fprintf(fp, "%-22s %8s  %-14s %9s %9s\n", "field", "dice", "level", "weight", "(tf part)");
    fprintf(fp, "%-22s %8s  %-14s %+9.3f\n", "(prior)", "", "", e->pw);
    for (size_t i = 0; i < e->nf; i++) {
        char d[16];
        if (isnan(e->f[i].dice))
            snprintf(d, sizeof d, "-");
        else
            snprintf(d, sizeof d, "%.3f", e->f[i].dice);
        fprintf(fp, "%-22s %8s  %-14s %+9.3f %+9.3f\n", e->f[i].name, d, e->f[i].label,
                e->f[i].weight, e->f[i].tf_adjust);
    }
    fprintf(fp, "%-22s %8s  %-14s %+9.3f   probability %.6f\n", "total", "", "", e->w, e->p);
}

/* text or --json, on stdout or atomically to -o FILE */
static bl_status write_explanation(const explain_pair *e, const cli_common *co, bl_error *err)
{
    const char *out = co->output ? co->output : "-";
    if (co->json) {
        json_t *o = explain_json(e);
        bl_status st = cli_json_write(o, out, err);
        json_decref(o);
        return st;
    }
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(out, &f, err);
    if (st != BL_OK)
        return st;
    explain_text(bl_ofile_stream(f), e);
    return bl_ofile_commit(f, err);
}

/* as match --model takes */
#define EXPLAIN_MAX_INPUTS 64

/* index of s in v[0..n), or n */
static size_t find_path(const char *const *v, size_t n, const char *s)
{
    size_t i = 0;
    while (i < n && strcmp(v[i], s))
        i++;
    return i;
}

static int among(const char *const *v, size_t n, const char *s)
{
    return find_path(v, n, s) < n;
}

/* "file:index" -> path (in place) and index; else the usage error, naming
 * the argument. The index is decimal digits only: strtoull alone took
 * "+3", " 3" and "-0" as record 3 and 0. */
static int split_ref(char *arg, size_t *idx)
{
    char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return cli_usage_error("explain", "'%s': records are given as FILE:INDEX (e.g. a.clk:12)",
                               arg);
    const char *d = colon + 1;
    size_t nd = strspn(d, "0123456789");
    char *end;
    errno = 0;
    unsigned long long v = nd ? strtoull(d, &end, 10) : 0;
    if (!nd || d[nd])
        return cli_usage_error("explain",
                               "'%s': the record index after ':' must be a whole number in decimal "
                               "digits (0-based, e.g. a.clk:12)",
                               arg);
    if (errno) /* ERANGE: more than 2^64 - 1 */
        return cli_usage_error("explain", "'%s': record index too large", arg);
    *colon = '\0';
    *idx = (size_t)v;
    return 0;
}

typedef struct explain_args {
    const char *model, *svg, *inputs[EXPLAIN_MAX_INPUTS];
    size_t ninputs;
    cli_common co;
    char *pa, *pb; /* A.clk, B.clk (the ":I" cut off) */
    size_t ia, ib;
} explain_args;

/* the options and FILE:INDEX arguments: CLI_OPT_OK, CLI_OPT_EXIT or an exit
 * code with the message printed */
static int explain_parse(int argc, char **argv, explain_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"svg", required_argument, NULL, 1001},
        {"input", required_argument, NULL, 1002},
        CLI_LONGOPT_JSON,
        CLI_LONGOPT_OUTPUT,
        CLI_LONGOPT_QUIET,
        CLI_LONGOPT_VERBOSE,
        CLI_LONGOPT_VERSION,
        CLI_LONGOPT_HELP,
        {NULL, 0, NULL, 0},
    };
    int c;
    /* "-:12" (stdin, record 12) would read as an unknown option */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strncmp(argv[i], "-:", 2))
            return cli_usage_error("explain", "'%s': records are read from files, not stdin: "
                                              "give FILE:INDEX", argv[i]);
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":m:o:qvVh", opts, NULL)) != -1) {
        int rc = CLI_OPT_OK;
        if (c == 'm')
            a->model = optarg;
        else if (c == 1001)
            a->svg = optarg;
        else if (c == 1002 && a->ninputs == EXPLAIN_MAX_INPUTS)
            rc = cli_usage_error("explain", "at most %d --input files", EXPLAIN_MAX_INPUTS);
        else if (c == 1002)
            a->inputs[a->ninputs++] = optarg;
        else if (c == 'h')
            rc = (usage(stdout), CLI_OPT_EXIT);
        else if ((rc = cli_common_option("explain", c, optarg, &a->co)) == CLI_OPT_UNHANDLED)
            rc = cli_usage_error("explain", "unknown option '%s'", cli_current_arg());
        if (rc != CLI_OPT_OK)
            return rc;
    }
    if (!a->model)
        return cli_usage_error("explain", "--model MODEL.json is required");
    if (argc - optind != 2)
        return cli_usage_error("explain", "expected A.clk:I B.clk:J");
    a->pa = argv[optind], a->pb = argv[optind + 1];
    int urc = split_ref(a->pa, &a->ia);
    if (urc || (urc = split_ref(a->pb, &a->ib)))
        return urc;
    if (!strcmp(a->pa, "-") || !strcmp(a->pb, "-"))
        return cli_usage_error("explain", "records are read from files, not stdin: give FILE:INDEX");
    if (a->ninputs &&
        (!among(a->inputs, a->ninputs, a->pa) || !among(a->inputs, a->ninputs, a->pb)))
        return cli_usage_error("explain",
                               "%s is not among the --input files (give every input of the "
                               "match run, %s and %s included)",
                               among(a->inputs, a->ninputs, a->pa) ? a->pb : a->pa, a->pa, a->pb);
    const int report_stdout = !a->co.quiet && (!a->co.output || !strcmp(a->co.output, "-"));
    if (a->svg && !strcmp(a->svg, "-") && report_stdout)
        return cli_usage_error("explain", "--svg - and the explanation both go to stdout: add -q "
                                          "or -o FILE");
    return CLI_OPT_OK;
}

/* the model and the sets: A.clk and B.clk, or every --input, A and B among
 * them (value frequencies are counted over the sets read, and
 * bl_model_explain finds A's by the set itself, not by its path) */
static bl_status explain_read(const explain_args *a, const char *const *paths, size_t nread,
                              bl_model **m, bl_clkset **in, bl_error *err)
{
    bl_status st = bl_model_read(a->model, m, err);
    for (size_t i = 0; st == BL_OK && i < nread; i++) {
        st = bl_clkset_read(paths[i], BL_CLK_AUTO, 0, &in[i], err);
        if (st == BL_OK)
            st = bl_model_check_set(*m, in[i], paths[i], err);
    }
    return cli_input_status(st, err); /* an input that cannot be read: exit 2 */
}

static bl_status explain_run(const explain_args *a, bl_model *m, bl_clkset **in,
                             const char *const *paths, size_t nread, bl_error *err)
{
    const bl_clkset *tf[EXPLAIN_MAX_INPUTS];
    for (size_t i = 0; i < nread; i++)
        tf[i] = in[i];
    const bl_clkset *sa = a->ninputs ? in[find_path(paths, nread, a->pa)] : in[0];
    const bl_clkset *sb = a->ninputs ? in[find_path(paths, nread, a->pb)] : in[1];
    if (a->ia >= sa->count || a->ib >= sb->count) {
        const int bad_a = a->ia >= sa->count;
        return bl_error_set(err, BL_EINVAL,
                            "record index %zu out of range: %s has %zu records "
                            "(the first is 0)",
                            bad_a ? a->ia : a->ib, bad_a ? a->pa : a->pb,
                            bad_a ? sa->count : sb->count);
    }
    bl_explain_field f[BL_MODEL_MAX_FIELDS];
    double pw = 0, w = 0, p = 0;
    bl_status st = bl_model_explain(m, sa, a->ia, sb, a->ib, tf, nread, f, &pw, &w, &p, err);
    if (st == BL_OK && a->svg)
        st = bl_model_explain_svg(a->svg, f, bl_model_nfields(m), pw, w, p, err);
    if (st == BL_OK && !a->co.quiet) {
        explain_pair ep = {a->pa,
                           a->ia,
                           sa->ids ? sa->ids[a->ia] : NULL,
                           a->pb,
                           a->ib,
                           sb->ids ? sb->ids[a->ib] : NULL,
                           f,
                           bl_model_nfields(m),
                           pw,
                           w,
                           p};
        st = write_explanation(&ep, &a->co, err);
    }
    return st;
}

int cmd_explain(int argc, char **argv)
{
    explain_args a = {0};
    int urc = explain_parse(argc, argv, &a);
    if (urc != CLI_OPT_OK)
        return urc == CLI_OPT_EXIT ? CLI_EXIT_OK : urc;
    const char *paths[EXPLAIN_MAX_INPUTS] = {a.pa, a.pb};
    const size_t nread = a.ninputs ? a.ninputs : 2;
    for (size_t i = 0; i < a.ninputs; i++)
        paths[i] = a.inputs[i];
    /* neither output may be an input (the model, a .clk) or the other */
    const cli_path outs[2] = {{"--svg", a.svg}, {"-o", a.co.quiet ? NULL : a.co.output}};
    const char *ins[EXPLAIN_MAX_INPUTS + 1] = {a.model};
    for (size_t i = 0; i < nread; i++)
        ins[i + 1] = paths[i];
    if ((urc = cli_check_outputs("explain", outs, 2, ins, nread + 1)) != CLI_EXIT_OK)
        return urc;
    bl_error err = {0};
    bl_model *m = NULL;
    bl_clkset *in[EXPLAIN_MAX_INPUTS] = {NULL};
    bl_status st = explain_read(&a, paths, nread, &m, in, &err);
    if (st == BL_OK)
        st = explain_run(&a, m, in, paths, nread, &err);
    int rc = st == BL_OK ? CLI_EXIT_OK : cli_fail("explain", &err);
    for (size_t i = 0; i < nread; i++)
        bl_clkset_free(in[i]);
    bl_model_free(m);
    return rc;
}
