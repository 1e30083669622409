/* cli/cmd_describe.c - `blindlink describe FILE.clk`: what a CLK file holds
 * without comparing it to anything (as anonlink-client's describe): number
 * of encodings, length, fingerprint and metadata, popcount statistics and
 * histogram (text, JSON, SVG). Statistics: bl_clkset_stats (lib/core). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/clk.h>
#include <blindlink/io.h>
#include <blindlink/plot.h>
#include "cli.h"

#define CMD "describe"

static void usage(FILE *fp)
{
    fputs("Usage: blindlink describe [options] FILE.clk\n"
          "\n"
          "Describe a CLK file (clkhash JSON or blindlink binary; '-' reads stdin):\n"
          "number of encodings, filter length, schema fingerprint and encoding metadata\n"
          "(binary files), and the popcount (bits set per encoding): min, quartiles,\n"
          "max, mean, standard deviation, share of bits set, and a histogram. Filters\n"
          "with almost no or almost all bits set match poorly: check this first when a\n"
          "schema meets real data.\n"
          "\n"
          "Options:\n"
          "      --bins N             at most N histogram bins of equal whole-number width\n"
          "                           (default 20; text and SVG)\n"
          "      --svg FILE           the popcount histogram as an SVG image ('-' = stdout)\n"
          "      --title NAME         data set name in the picture (default: FILE)\n"
          "      --json               figures and histogram as JSON\n"
          "  -o, --output FILE        report destination (default stdout)\n"
          "  -q, --quiet              no report (picture only)\n"
          "  -v, --verbose            accepted as by every command (nothing to add here)\n"
          "  -V, --version            print the version\n"
          "  -h, --help               this help\n"
          "\n"
          "Exit status: 0 ok, 1 runtime failure, 2 usage or input error.\n",
          fp);
}

enum { OPT_BINS = CLI_OPT_FIRST_PRIVATE, OPT_SVG, OPT_TITLE };

typedef struct describe_cli {
    cli_common co;
    const char *input, *svg, *title;
    unsigned bins;
} describe_cli;

static int describe_parse(int argc, char **argv, describe_cli *d)
{
    static const struct option longopts[] = {
        {"bins", required_argument, NULL, OPT_BINS},
        {"svg", required_argument, NULL, OPT_SVG},
        {"title", required_argument, NULL, OPT_TITLE},
        CLI_LONGOPT_OUTPUT, CLI_LONGOPT_JSON, CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE,
        CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
        {NULL, 0, NULL, 0}};
    memset(d, 0, sizeof *d);
    d->co.output = "-";
    d->bins = 20;
    cli_getopt_begin(argc, argv);
    int c;
    uint64_t u;
    while ((c = getopt_long(argc, argv, ":o:qvVh", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option(CMD, c, optarg, &d->co);
        if (rc == CLI_OPT_UNHANDLED) {
            rc = CLI_OPT_OK;
            if (c == OPT_BINS && cli_parse_u64(optarg, 1, 1000, &u) == 0)
                d->bins = (unsigned)u;
            else if (c == OPT_BINS)
                rc = cli_usage_error(CMD, "--bins must be in 1..1000, got '%s'", optarg);
            else if (c == OPT_SVG)
                d->svg = optarg;
            else if (c == OPT_TITLE)
                d->title = optarg;
            else
                rc = cli_usage_error(CMD, "unknown option '%s'", cli_current_arg());
        }
        if (rc != CLI_OPT_OK)
            return rc;
    }
    if (argc - optind != 1)
        return cli_usage_error(CMD, "expected exactly one CLK file");
    d->input = argv[optind];
    if (d->svg && !strcmp(d->svg, "-") && !d->co.quiet && !strcmp(d->co.output, "-"))
        return cli_usage_error(CMD, "--svg - and the report both go to stdout: add -q or -o");
    const cli_path outs[] = {{"-o", d->co.output}, {"--svg", d->svg}};
    int rc = cli_check_inputs(CMD, &d->input, 1, 0);
    if (rc == CLI_EXIT_OK)
        rc = cli_check_outputs(CMD, outs, 2, &d->input, 1);
    return rc == CLI_EXIT_OK ? CLI_OPT_OK : rc;
}

/* popcounts grouped into `bins` bins of equal integer width from the
 * smallest to the largest popcount seen */
typedef struct pbins {
    uint64_t lo, width;
    size_t n;
    uint64_t *c;
} pbins;

static int make_bins(const bl_clk_stats *st, unsigned bins, pbins *b)
{
    uint64_t span = st->count ? (uint64_t)st->max - st->min + 1 : 1;
    b->width = (span + bins - 1) / bins;
    if (!b->width)
        b->width = 1;
    b->lo = st->count ? st->min : 0;
    b->n = (size_t)((span + b->width - 1) / b->width);
    b->c = calloc(b->n, sizeof *b->c);
    if (!b->c)
        return -1;
    for (uint64_t v = b->lo; st->count && v <= st->max; v++)
        b->c[(v - b->lo) / b->width] += st->hist[v];
    return 0;
}

static void report_text(FILE *fp, const char *name, const bl_clkset *s, const bl_clk_stats *st,
                        const pbins *b)
{
    fprintf(fp, "file             %s\nencodings        %zu\nbits             %u\n", name,
            st->count, st->nbits);
    if (s->has_fingerprint) {
        fputs("fingerprint      ", fp);
        for (int i = 0; i < BL_FINGERPRINT_BYTES; i++)
            fprintf(fp, "%02x", s->fingerprint[i]);
        fputc('\n', fp);
    }
    if (s->meta)
        fprintf(fp, "metadata         %s\n", s->meta);
    fprintf(fp, "record ids       %s\n", s->ids ? "yes" : "no");
    if (!st->count)
        return;
    fprintf(fp, "popcount min     %u\npopcount q1      %.0f\npopcount median  %.0f\n"
                "popcount q3      %.0f\npopcount max     %u\npopcount mean    %.2f\n"
                "popcount stddev  %.2f\nbits set         %.4f\n",
            st->min, st->q1, st->median, st->q3, st->max, st->mean, st->stddev, st->density);
    if (st->empty)
        fprintf(fp, "warning          %zu encodings have no bit set\n", st->empty);
    if (st->full)
        fprintf(fp, "warning          %zu encodings have every bit set\n", st->full);
    uint64_t mx = 1;
    for (size_t i = 0; i < b->n; i++)
        if (b->c[i] > mx)
            mx = b->c[i];
    fputs("\npopcount          count\n", fp);
    for (size_t i = 0; i < b->n; i++) {
        uint64_t a = b->lo + i * b->width, z = a + b->width - 1;
        int len = (int)((double)b->c[i] / (double)mx * 40 + 0.5);
        if (b->c[i] && !len)
            len = 1;
        if (b->width == 1)
            fprintf(fp, "%-11llu %11llu ", (unsigned long long)a, (unsigned long long)b->c[i]);
        else
            fprintf(fp, "%5llu-%-5llu %11llu ", (unsigned long long)a, (unsigned long long)z,
                    (unsigned long long)b->c[i]);
        for (int k = 0; k < len; k++)
            fputc('#', fp);
        fputc('\n', fp);
    }
}

static json_t *report_json(const char *name, const bl_clkset *s, const bl_clk_stats *st,
                           const pbins *b)
{
    json_t *js = json_object(), *h = json_array();
    json_object_set_new(js, "file", json_string(name));
    json_object_set_new(js, "encodings", json_integer((json_int_t)st->count));
    json_object_set_new(js, "bits", json_integer(st->nbits));
    if (s->has_fingerprint) {
        char hex[2 * BL_FINGERPRINT_BYTES + 1];
        for (int i = 0; i < BL_FINGERPRINT_BYTES; i++)
            sprintf(hex + 2 * i, "%02x", s->fingerprint[i]);
        json_object_set_new(js, "fingerprint", json_string(hex));
    }
    json_t *meta = s->meta ? json_loads(s->meta, 0, NULL) : NULL;
    if (meta)
        json_object_set_new(js, "metadata", meta);
    json_object_set_new(js, "record_ids", json_boolean(s->ids != NULL));
    json_t *p = json_object();
    json_object_set_new(p, "min", json_integer(st->min));
    cli_json_set_real(p, "q1", st->q1);
    cli_json_set_real(p, "median", st->median);
    cli_json_set_real(p, "q3", st->q3);
    json_object_set_new(p, "max", json_integer(st->max));
    cli_json_set_real(p, "mean", st->mean);
    cli_json_set_real(p, "stddev", st->stddev);
    json_object_set_new(js, "popcount", p);
    cli_json_set_real(js, "bits_set_share", st->density);
    json_object_set_new(js, "empty_encodings", json_integer((json_int_t)st->empty));
    json_object_set_new(js, "full_encodings", json_integer((json_int_t)st->full));
    for (size_t i = 0; i < b->n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "from", json_integer((json_int_t)(b->lo + i * b->width)));
        json_object_set_new(e, "to", json_integer((json_int_t)(b->lo + (i + 1) * b->width - 1)));
        json_object_set_new(e, "count", json_integer((json_int_t)b->c[i]));
        json_array_append_new(h, e);
    }
    json_object_set_new(js, "histogram", h);
    return js;
}

static bl_status write_report(const describe_cli *d, const char *name, const bl_clkset *s,
                              const bl_clk_stats *st, const pbins *b, bl_error *err)
{
    if (d->co.json) {
        json_t *js = report_json(name, s, st, b);
        bl_status rs = cli_json_write(js, d->co.output, err);
        json_decref(js);
        return rs;
    }
    bl_ofile *f = NULL;
    bl_status rs = bl_ofile_open(d->co.output, &f, err);
    if (rs)
        return rs;
    report_text(bl_ofile_stream(f), name, s, st, b);
    return bl_ofile_commit(f, err);
}

int cmd_describe(int argc, char **argv)
{
    describe_cli d;
    int rc = describe_parse(argc, argv, &d);
    if (rc != CLI_OPT_OK)
        return rc == CLI_OPT_EXIT ? CLI_EXIT_OK : rc;
    const char *name = strcmp(d.input, "-") ? d.input : "stdin";
    bl_error err = {0};
    bl_clkset *s = NULL;
    bl_clk_stats st = {0};
    pbins b = {0};
    cli_spool sp;
    bl_status rs = cli_spool_stdin(d.input, &sp, &err);
    if (!rs)
        rs = bl_clkset_read(sp.path, BL_CLK_AUTO, 0, &s, &err);
    if (rs)
        cli_spool_blame(&sp, &err);
    cli_spool_free(&sp);
    if (!rs)
        rs = bl_clkset_stats(s, &st, &err);
    if (!rs && make_bins(&st, d.bins, &b))
        rs = bl_error_set(&err, BL_ENOMEM, "out of memory");
    if (!rs && d.svg) {
        bl_plot_opts po;
        bl_plot_opts_init(&po);
        po.title = d.title ? d.title : name;
        rs = bl_plot_counts_svg(d.svg, &po, "Bits set per encoding", "popcount", "encodings",
                                b.lo, b.width, b.c, b.n, 0, &err);
    }
    if (!rs && !d.co.quiet)
        rs = write_report(&d, name, s, &st, &b, &err);
    if (rs) {
        if (rs == BL_EIO && !s)
            err.status = BL_EINVAL; /* an unreadable input is a usage error */
        rc = cli_fail(CMD, &err);
    }
    free(b.c);
    bl_clk_stats_free(&st);
    bl_clkset_free(s);
    return rc;
}
