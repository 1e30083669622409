/* cli/cmd_schema.c - `blindlink schema validate|convert|describe|compare`:
 * check a linkage schema (every problem with its JSON path), upgrade v1/v2
 * to v3, print a summary with the expected bits set per record (text or
 * JSON), or say what differs between two schemas and whether their CLKs
 * can be compared (equal fingerprints). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/io.h>
#include <blindlink/schema.h>

#include "cli.h"

#define CMD "schema"

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink schema validate SCHEMA.json\n"
            "       blindlink schema convert SCHEMA.json OUTPUT.json\n"
            "       blindlink schema describe [--avg-length N] [--json] SCHEMA.json\n"
            "       blindlink schema compare [--json] A.json B.json\n"
            "\n"
            "validate  check a clkhash linkage schema (v1, v2 or v3); lists every problem\n"
            "          with its JSON path, e.g. $.features[3].hashing.strategy; exit 2 if any\n"
            "convert   write the schema as linkage schema v3 (as anonlink convert-schema);\n"
            "          OUTPUT '-' writes to stdout (or give it as -o OUTPUT)\n"
            "describe  human summary: formats, tokens, bits per token, hashes, and the\n"
            "          expected number of bits set per record (strings assumed to have\n"
            "          --avg-length characters, default 8); --json: the same figures and\n"
            "          every feature's v3 hashing settings as a JSON object\n"
            "compare   every difference between two schemas (both read as v3), each with\n"
            "          its JSON path, and whether CLKs made with them can be compared\n"
            "          (same fingerprint). Exit 0 when they can, 1 when not, 2 on error\n"
            "\n"
            "Options:\n"
            "  --avg-length N       describe: assumed characters per string value (8)\n"
            "  --json               describe, compare: JSON output\n"
            "  -o, --output FILE    where the output goes (default stdout); for convert\n"
            "                       instead of the OUTPUT argument\n"
            "  -q, --quiet          no warnings\n"
            "  -v, --verbose        accepted as by every command (nothing to add here)\n"
            "  -V, --version        print the version\n"
            "  -h, --help           this help\n"
            "'-' for a SCHEMA reads stdin.\n");
}

enum { OPT_AVG = CLI_OPT_FIRST_PRIVATE };

typedef struct schema_cli {
    cli_common co;
    double avg;
    const char *args[3];
    int nargs;
} schema_cli;

static int schema_parse(int argc, char **argv, schema_cli *s)
{
    static const struct option longopts[] = {
        {"avg-length", required_argument, NULL, OPT_AVG},
        CLI_LONGOPT_OUTPUT, CLI_LONGOPT_JSON, CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE,
        CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
        {NULL, 0, NULL, 0}};
    memset(s, 0, sizeof *s);
    s->avg = 8;
    cli_getopt_begin(argc, argv);
    int c;
    while ((c = getopt_long(argc, argv, ":o:qvVh", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option(CMD, c, optarg, &s->co);
        if (rc == CLI_OPT_UNHANDLED && c == OPT_AVG) {
            rc = CLI_OPT_OK;
            if (cli_parse_real(optarg, 0.0, 10000.0, 1, &s->avg) || s->avg >= 10000)
                rc = cli_usage_error(CMD, "--avg-length must be a positive number, not '%s'",
                                     optarg);
        } else if (rc == CLI_OPT_UNHANDLED) {
            rc = cli_usage_error(CMD, "unknown option '%s'", cli_current_arg());
        }
        if (rc != CLI_OPT_OK)
            return rc;
    }
    if (argc - optind > 3)
        return cli_usage_error(CMD, "too many arguments");
    for (int i = optind; i < argc; i++)
        s->args[s->nargs++] = argv[i];
    return CLI_OPT_OK;
}

/* a schema path, with '-' spooled from stdin */
static bl_status schema_path(const char *path, cli_spool *sp, bl_error *err)
{
    return cli_spool_stdin(path, sp, err);
}

static int do_validate(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    bl_error err = {0};
    cli_spool sp;
    bl_status st = schema_path(path, &sp, &err);
    if (!st)
        st = bl_read_file(sp.path, BL_SCHEMA_MAX_BYTES, &buf, &len, &err);
    if (st)
        cli_spool_blame(&sp, &err);
    cli_spool_free(&sp);
    if (st != BL_OK) {
        err.status = BL_EINVAL;
        return cli_fail(CMD, &err);
    }
    bl_schema_diag *d = NULL;
    size_t nd = 0, ne = 0;
    st = bl_schema_check(buf, len, path, &d, &nd, &ne, &err);
    bl_schema *s = NULL;
    if (st == BL_OK && ne == 0)
        st = bl_schema_parse(buf, len, path, &s, &err);
    free(buf);
    if (st != BL_OK) {
        free(d);
        return cli_fail(CMD, &err);
    }
    for (size_t i = 0; i < nd; i++)
        fprintf(i < ne ? stdout : stderr, "%s: %s: %s: %s\n", path, i < ne ? "error" : "warning",
                d[i].path, d[i].msg);
    free(d);
    if (ne) {
        fprintf(stdout, "%s: invalid (%zu error%s)\n", path, ne, ne == 1 ? "" : "s");
        return CLI_EXIT_USAGE;
    }
    printf("%s: valid linkage schema v%d (%zu columns, l = %u)\n", path, bl_schema_version(s),
           bl_schema_nfeatures(s), bl_schema_filter_bits(s));
    bl_schema_free(s);
    return CLI_EXIT_OK;
}

static int load(const char *path, int quiet, bl_schema **s)
{
    bl_error err = {0};
    cli_spool sp;
    bl_status st = schema_path(path, &sp, &err);
    if (!st)
        st = bl_schema_load(sp.path, s, &err);
    if (st)
        cli_spool_blame(&sp, &err);
    cli_spool_free(&sp);
    if (st != BL_OK)
        return cli_fail_input(CMD, &err);
    for (size_t i = 0; !quiet && i < bl_schema_nwarnings(*s); i++)
        fprintf(stderr, "blindlink schema: warning: %s: %s\n", path, bl_schema_warning(*s, i));
    return 0;
}

static bl_status write_text(const char *out, const char *text, bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(out, &f, err);
    if (st != BL_OK)
        return st;
    if (fputs(text, bl_ofile_stream(f)) < 0) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", out);
    }
    return bl_ofile_commit(f, err);
}

static int do_convert(const schema_cli *o, const char *in, const char *out)
{
    bl_schema *s = NULL;
    int rc = load(in, o->co.quiet, &s);
    if (rc)
        return rc;
    bl_error err = {0};
    char *json = NULL;
    bl_status st = bl_schema_to_v3_json(s, &json, &err);
    bl_schema_free(s);
    if (st == BL_OK)
        st = write_text(out, json, &err);
    free(json);
    if (st == BL_EIO)
        err.status = BL_EINVAL;
    return st ? cli_fail(CMD, &err) : CLI_EXIT_OK;
}

static void fingerprint_hex(const bl_schema *s, char hex[65])
{
    uint8_t fp[32];
    bl_schema_fingerprint(s, NULL, fp);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", fp[i]);
}

static json_t *describe_json(const bl_schema *s, const char *path, double avg)
{
    char hex[65], *v3 = NULL;
    bl_error err = {0};
    json_t *js = json_object(), *feats = json_array(), *warn = json_array();
    json_t *doc = bl_schema_to_v3_json(s, &v3, &err) == BL_OK ? json_loads(v3, 0, NULL) : NULL;
    free(v3);
    json_t *docf = doc ? json_object_get(doc, "features") : NULL;
    fingerprint_hex(s, hex);
    json_object_set_new(js, "schema", json_string(path));
    json_object_set_new(js, "version", json_integer(bl_schema_version(s)));
    json_object_set_new(js, "bits", json_integer(bl_schema_filter_bits(s)));
    json_object_set_new(js, "xor_folds", json_integer(bl_schema_xor_folds(s)));
    json_object_set_new(js, "columns", json_integer((json_int_t)bl_schema_nfeatures(s)));
    cli_json_set_real(js, "avg_length", avg);
    cli_json_set_real(js, "expected_bits_set", bl_schema_expected_bits(s, avg));
    json_object_set_new(js, "fingerprint", json_string(hex));
    for (size_t i = 0; i < bl_schema_nfeatures(s); i++) {
        json_t *f = json_object(), *src = docf ? json_array_get(docf, i) : NULL;
        json_object_set_new(f, "identifier", json_string(bl_schema_feature_id(s, i)));
        json_object_set_new(f, "ignored", json_boolean(bl_schema_feature_ignored(s, i)));
        if (src && json_object_get(src, "format"))
            json_object_set(f, "format", json_object_get(src, "format"));
        if (src && json_object_get(src, "hashing"))
            json_object_set(f, "hashing", json_object_get(src, "hashing"));
        json_array_append_new(feats, f);
    }
    json_object_set_new(js, "features", feats);
    for (size_t i = 0; i < bl_schema_nwarnings(s); i++)
        json_array_append_new(warn, json_string(bl_schema_warning(s, i)));
    json_object_set_new(js, "warnings", warn);
    json_decref(doc);
    return js;
}

static int do_describe(const schema_cli *o)
{
    if (o->nargs != 2)
        return cli_usage_error(CMD, "describe expects one SCHEMA.json");
    bl_schema *s = NULL;
    int rc = load(o->args[1], o->co.quiet || o->co.json, &s);
    if (rc)
        return rc;
    bl_error err = {0};
    bl_status st;
    const char *out = o->co.output ? o->co.output : "-";
    if (o->co.json) {
        json_t *js = describe_json(s, o->args[1], o->avg);
        st = cli_json_write(js, out, &err);
        json_decref(js);
    } else {
        bl_ofile *f = NULL;
        st = bl_ofile_open(out, &f, &err);
        if (!st && (st = bl_schema_describe(s, bl_ofile_stream(f), o->avg, &err)) != BL_OK)
            bl_ofile_abort(f);
        else if (!st)
            st = bl_ofile_commit(f, &err);
    }
    bl_schema_free(s);
    return st == BL_OK ? CLI_EXIT_OK : cli_fail(CMD, &err);
}

static int compare_report(const schema_cli *o, const bl_schema *a, const bl_schema *b,
                          const bl_schema_diag *d, size_t nd, bl_error *err)
{
    char ha[65], hb[65];
    fingerprint_hex(a, ha);
    fingerprint_hex(b, hb);
    int same = strcmp(ha, hb) == 0;
    const char *out = o->co.output ? o->co.output : "-";
    bl_status st;
    if (o->co.json) {
        json_t *js = json_object(), *arr = json_array();
        json_object_set_new(js, "first", json_string(o->args[1]));
        json_object_set_new(js, "second", json_string(o->args[2]));
        json_object_set_new(js, "first_fingerprint", json_string(ha));
        json_object_set_new(js, "second_fingerprint", json_string(hb));
        json_object_set_new(js, "comparable", json_boolean(same));
        for (size_t i = 0; i < nd; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "path", json_string(d[i].path));
            json_object_set_new(e, "difference", json_string(d[i].msg));
            json_array_append_new(arr, e);
        }
        json_object_set_new(js, "differences", arr);
        st = cli_json_write(js, out, err);
        json_decref(js);
    } else {
        bl_ofile *f = NULL;
        if ((st = bl_ofile_open(out, &f, err)) != BL_OK)
            return cli_fail(CMD, err);
        FILE *fp = bl_ofile_stream(f);
        for (size_t i = 0; i < nd; i++)
            fprintf(fp, "%s: %s\n", d[i].path, d[i].msg);
        fprintf(fp, "%s: fingerprint %.16s...\n%s: fingerprint %.16s...\n", o->args[1], ha,
                o->args[2], hb);
        fprintf(fp, "%zu difference%s; %s\n", nd, nd == 1 ? "" : "s",
                same ? "CLKs made with the two schemas are comparable (same fingerprint)"
                     : "CLKs made with the two schemas are NOT comparable (fingerprints differ)");
        st = bl_ofile_commit(f, err);
    }
    if (st)
        return cli_fail(CMD, err);
    return same ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int do_compare(const schema_cli *o)
{
    if (o->nargs != 3)
        return cli_usage_error(CMD, "compare expects A.json B.json");
    if (!strcmp(o->args[1], "-") && !strcmp(o->args[2], "-"))
        return cli_usage_error(CMD, "compare: only one schema can come from stdin");
    bl_schema *a = NULL, *b = NULL;
    int rc = load(o->args[1], 1, &a);
    if (!rc)
        rc = load(o->args[2], 1, &b);
    bl_error err = {0};
    bl_schema_diag *d = NULL;
    size_t nd = 0;
    if (!rc && bl_schema_compare(a, b, &d, &nd, &err) != BL_OK)
        rc = cli_fail(CMD, &err);
    else if (!rc)
        rc = compare_report(o, a, b, d, nd, &err);
    free(d);
    bl_schema_free(a);
    bl_schema_free(b);
    return rc;
}

int cmd_schema(int argc, char **argv)
{
    schema_cli o;
    int rc = schema_parse(argc, argv, &o);
    if (rc != CLI_OPT_OK)
        return rc == CLI_OPT_EXIT ? CLI_EXIT_OK : rc;
    if (o.nargs < 1)
        return cli_usage_error(CMD, "expected a subcommand: validate, convert, describe or "
                                    "compare");
    const char *sub = o.args[0];
    /* the output (convert's second argument or -o) is none of the schemas read */
    const int conv2 = !strcmp(sub, "convert") && !o.co.output && o.nargs == 3;
    const cli_path out = {conv2 ? "OUTPUT" : "-o", conv2 ? o.args[2] : o.co.output};
    if ((rc = cli_check_outputs(CMD, &out, 1, o.args + 1, (size_t)o.nargs - 1 - conv2)) !=
        CLI_EXIT_OK)
        return rc;
    if (!strcmp(sub, "validate")) {
        if (o.nargs != 2)
            return cli_usage_error(CMD, "validate expects one SCHEMA.json");
        return do_validate(o.args[1]);
    }
    if (!strcmp(sub, "convert")) {
        if (o.co.output ? o.nargs != 2 : o.nargs != 3)
            return cli_usage_error(CMD, "convert expects SCHEMA.json OUTPUT.json");
        return do_convert(&o, o.args[1], o.co.output ? o.co.output : o.args[2]);
    }
    if (!strcmp(sub, "describe"))
        return do_describe(&o);
    if (!strcmp(sub, "compare"))
        return do_compare(&o);
    return cli_usage_error(CMD, "unknown subcommand '%s' (validate, convert, describe, compare)",
                           sub);
}
