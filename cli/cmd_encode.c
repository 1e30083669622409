/* cli/cmd_encode.c - `blindlink encode`: CSV of personal data -> CLKs, in
 * clkhash's argument order (DATA.csv SCHEMA.json OUTPUT) with the secret
 * taken from a file or the environment instead of argv. '-' reads stdin or
 * writes stdout (binary output is spooled: its header is written last).
 *
 * Adding an option: a field in encode_cli, a row in encode_longopts and a
 * case in encode_option; checks between options go in encode_check. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blindlink/encode.h>
#include <blindlink/io.h>
#include <blindlink/schema.h>

#include "cli.h"

#define SECRET_ENV "BLINDLINK_SECRET"

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink encode [options] DATA.csv SCHEMA.json OUTPUT\n"
            "       blindlink encode [options] -o OUTPUT DATA.csv SCHEMA.json\n"
            "\n"
            "Encode every row of DATA.csv into a CLK (keyed Bloom filter) as described by\n"
            "the clkhash linkage schema SCHEMA.json (v1, v2 or v3), bit-identical to\n"
            "clkhash 0.18.3. OUTPUT is clkhash JSON {\"clks\": [...]} or blindlink binary;\n"
            "'-' for DATA reads stdin, '-' for OUTPUT writes stdout (both formats).\n"
            "\n"
            "Secret (never from argv unless you insist):\n"
            "  --secret-file FILE     read the secret from FILE (one trailing newline dropped)\n"
            "                         default: the environment variable " SECRET_ENV "\n"
            "  --secret-argv SECRET   take it from the command line (visible to other users\n"
            "                         in ps and shell history: prints a warning)\n"
            "Options:\n"
            "  --format json|bin      output format (default json, as clkhash)\n"
            "  -o, --output FILE      OUTPUT given as an option instead of the third argument\n"
            "  -j, --threads N        worker threads (default: all cores; output order is\n"
            "                         always input order)\n"
            "  --no-header            DATA.csv has no header row\n"
            "  --check-header BOOL    compare the header with the schema identifiers\n"
            "                         (default true; false only skips the header row)\n"
            "  --no-validate          skip the schema's validation rules, as clkhash\n"
            "                         --no-validate (unparseable dates/integers still fail)\n"
            "  --legacy-strip         strip whitespace around every cell, as clkhash <= 0.18.1\n"
            "  --normalize[=PROFILE]  normalise values first (none, basic, names, strict;\n"
            "                         default names); breaks clkhash compatibility unless\n"
            "                         every party uses the same profile (docs/normalize.md)\n"
            "  --ids COLUMN           carry this CSV column as record id (binary format)\n"
            "  --layout record|fields record (default): one clkhash CLK per record;\n"
            "                         fields: one filter per schema feature or field group\n"
            "                         (binary format; for match --model, docs/model.md)\n"
            "  --harden PROFILE       harden against re-identification attacks: none,\n"
            "                         recommended, or steps salt=FIELD,xor,blip=P,balance,\n"
            "                         diffuse=T (docs/attacks.md); recorded in binary files,\n"
            "                         every party must use the same profile\n"
            "  --json                 summary (records, bits, format, fingerprint) as JSON\n"
            "                         on stdout (not with OUTPUT '-')\n"
            "  -q, --quiet            no progress bar, no warnings\n"
            "  -v, --verbose          summary line on stderr even when it is not a terminal\n"
            "  -V, --version          print the version\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok, 1 runtime failure, 2 usage or input error (nothing is\n"
            "written then). Errors name file, line, row, column and rule.\n");
}

enum { OPT_SECRET_FILE = CLI_OPT_FIRST_PRIVATE, OPT_SECRET_ARGV, OPT_FORMAT, OPT_NO_HEADER,
       OPT_CHECK_HEADER, OPT_NO_VALIDATE, OPT_LEGACY_STRIP, OPT_NORMALIZE, OPT_IDS, OPT_LAYOUT, OPT_HARDEN };

#define CMD "encode"

typedef struct encode_cli {
    cli_common co;
    const char *secret_file, *data, *schema_path;
    char *secret_argv;
    bl_encode_opts eo;
    bl_encode_csv_opts csv;
    int no_header, check_header;
} encode_cli;

static const struct option encode_longopts[] = {
    {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"secret-argv", required_argument, NULL, OPT_SECRET_ARGV},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"check-header", required_argument, NULL, OPT_CHECK_HEADER},
    {"no-validate", no_argument, NULL, OPT_NO_VALIDATE},
    {"legacy-strip", no_argument, NULL, OPT_LEGACY_STRIP},
    {"normalize", optional_argument, NULL, OPT_NORMALIZE},
    {"ids", required_argument, NULL, OPT_IDS},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"harden", required_argument, NULL, OPT_HARDEN},
    CLI_LONGOPT_OUTPUT, CLI_LONGOPT_THREADS, CLI_LONGOPT_JSON, CLI_LONGOPT_QUIET,
    CLI_LONGOPT_VERBOSE, CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
    {NULL, 0, NULL, 0},
};

static int parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int encode_option(int c, const char *arg, encode_cli *e)
{
    switch (c) {
    case OPT_SECRET_FILE: e->secret_file = arg; break;
    case OPT_SECRET_ARGV: e->secret_argv = (char *)arg; break;
    case OPT_FORMAT:
        if (!strcmp(arg, "json"))
            e->csv.format = BL_CLK_JSON;
        else if (!strcmp(arg, "bin"))
            e->csv.format = BL_CLK_BIN;
        else
            return cli_usage_error(CMD, "--format must be json or bin, not '%s'", arg);
        break;
    case OPT_NO_HEADER: e->no_header = 1; break;
    case OPT_CHECK_HEADER:
        if (parse_bool(arg, &e->check_header) != 0)
            return cli_usage_error(CMD, "--check-header must be true or false, not '%s'", arg);
        break;
    case OPT_NO_VALIDATE: e->eo.no_validate = 1; break;
    case OPT_LEGACY_STRIP: e->eo.legacy_strip = 1; break;
    case OPT_NORMALIZE: {
        int p = bl_normalize_profile_parse(arg ? arg : "names");
        if (p < 0)
            return cli_usage_error(CMD, "unknown --normalize profile '%s' (none, basic, names, "
                                        "strict)", arg);
        e->eo.normalize = (bl_normalize_profile)p;
        break;
    }
    case OPT_IDS: e->csv.id_column = arg; break;
    case OPT_HARDEN: e->eo.harden = arg; break;
    case OPT_LAYOUT: {
        int l = bl_layout_parse(arg);
        if (l < 0)
            return cli_usage_error("encode", "--layout must be record or fields, not '%s'", arg);
        e->eo.layout = (bl_layout)l;
        break;
    }
    default: return cli_usage_error(CMD, "unknown option '%s'", cli_current_arg());
    }
    return CLI_OPT_OK;
}

/* Output must be creatable: its directory writable, itself not a directory. */
static int check_output(const char *path)
{
    if (!strcmp(path, "-"))
        return 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_usage_error(CMD, "cannot write '%s': it is a directory", path);
    char *copy = strdup(path);
    if (!copy)
        return CLI_EXIT_FAIL;
    const char *dir = dirname(copy);
    int ok = access(dir, W_OK | X_OK) == 0;
    int e = errno;
    if (!ok)
        fprintf(stderr, "blindlink encode: cannot write '%s': directory '%s': %s\n", path, dir,
                strerror(e));
    free(copy);
    return ok ? 0 : CLI_EXIT_USAGE;
}

static int encode_check(encode_cli *e, int nargs, char **args)
{
    if (e->co.output ? nargs != 2 : nargs != 3)
        return cli_usage_error(CMD, e->co.output ? "expected DATA.csv SCHEMA.json with -o "
                                                   "(got %d argument%s)"
                                                 : "expected DATA.csv SCHEMA.json OUTPUT (got %d "
                                                   "argument%s)",
                               nargs, nargs == 1 ? "" : "s");
    e->data = args[0];
    e->schema_path = args[1];
    if (!e->co.output)
        e->co.output = args[2];
    e->csv.header = e->no_header ? BL_HEADER_NONE
                                 : e->check_header ? BL_HEADER_CHECK : BL_HEADER_IGNORE;
    e->csv.progress = !e->co.quiet;
    e->csv.threads = e->co.threads;
    if (e->secret_file && e->secret_argv)
        return cli_usage_error(CMD, "give only one of --secret-file and --secret-argv");
    if (e->co.json && !strcmp(e->co.output, "-"))
        return cli_usage_error(CMD, "--json prints the summary on stdout: give an OUTPUT file");
    if (strcmp(e->data, "-") && access(e->data, R_OK) != 0)
        return cli_usage_error(CMD, "cannot read '%s': %s", e->data, strerror(errno));
    int rc = check_output(e->co.output);
    if (rc != 0)
        return rc;
    const cli_path out = {"OUTPUT", e->co.output};
    const char *ins[] = {e->data, e->schema_path, e->secret_file};
    rc = cli_check_inputs(CMD, ins, 3, 0);
    return rc ? rc : cli_check_outputs(CMD, &out, 1, ins, 3);
}

static int encode_parse(int argc, char **argv, encode_cli *e)
{
    memset(e, 0, sizeof *e);
    e->csv.format = BL_CLK_JSON;
    e->check_header = 1;
    cli_getopt_begin(argc, argv);
    int c;
    while ((c = getopt_long(argc, argv, ":o:j:qvVh", encode_longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option(CMD, c, optarg, &e->co);
        if (rc == CLI_OPT_UNHANDLED)
            rc = encode_option(c, optarg, e);
        if (rc != CLI_OPT_OK)
            return rc;
    }
    return encode_check(e, argc - optind, argv + optind);
}

static bl_status load_secret(encode_cli *e, bl_secret *secret, bl_error *err)
{
    if (e->secret_argv) {
        fprintf(stderr, "blindlink encode: warning: --secret-argv exposes the secret to other "
                        "users (ps, /proc, shell history); prefer --secret-file or " SECRET_ENV
                        "\n");
        bl_status st = bl_secret_from_bytes(e->secret_argv, strlen(e->secret_argv), secret, err);
        memset(e->secret_argv, 0, strlen(e->secret_argv)); /* hide it from /proc/PID/cmdline */
        return st;
    }
    bl_status st = bl_secret_load(e->secret_file, SECRET_ENV, secret, err);
    if (st == BL_EINVAL && !e->secret_file)
        st = bl_error_set(err, BL_EINVAL, "no secret: use --secret-file FILE or set " SECRET_ENV);
    return st;
}

static void summary(const encode_cli *e, const bl_encoder *enc, uint64_t n)
{
    uint8_t fp[32];
    char hex[65];
    bl_encoder_fingerprint(enc, fp);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", fp[i]);
    if (!e->co.json) {
        fprintf(stderr, "blindlink encode: %llu records -> %s\n", (unsigned long long)n,
                e->co.output);
        return;
    }
    json_t *js = json_object();
    json_object_set_new(js, "records", json_integer((json_int_t)n));
    json_object_set_new(js, "output", json_string(e->co.output));
    json_object_set_new(js, "format", json_string(e->csv.format == BL_CLK_BIN ? "bin" : "json"));
    /* the encodings' length: with --layout fields the record of every
     * field filter (as describe reports it), not the schema's one filter */
    json_object_set_new(js, "bits", json_integer(bl_encoder_nbits(enc)));
    json_object_set_new(js, "layout",
                        json_string(e->eo.layout == BL_LAYOUT_FIELDS ? "fields" : "record"));
    json_object_set_new(js, "schema", json_string(e->schema_path));
    json_object_set_new(js, "fingerprint", json_string(hex));
    json_object_set_new(js, "normalize", json_string(bl_normalize_profile_name(e->eo.normalize)));
    bl_error err = {0};
    if (cli_json_write(js, "-", &err) != BL_OK)
        fprintf(stderr, "blindlink encode: %s\n", err.msg);
    json_decref(js);
}

/* Ids that cannot tell records apart: the encodings are fine, but eval
 * and explain find records by id, and a linkage unit wants to know. No id
 * is printed: the warning goes to terminals and logs. */
static void warn_ids(const encode_cli *e, const bl_encode_id_report *r)
{
    if (r->repeated)
        fprintf(stderr,
                "blindlink encode: warning: %llu records repeat the --ids %s of an "
                "earlier record (the first: row %llu); eval and explain cannot tell them "
                "apart by id\n",
                (unsigned long long)r->repeated, e->csv.id_column,
                (unsigned long long)r->first_repeat);
    if (r->empty)
        fprintf(stderr, "blindlink encode: warning: %llu records have an empty --ids %s\n",
                (unsigned long long)r->empty, e->csv.id_column);
}

static int encode_run(encode_cli *e, bl_schema *schema)
{
    bl_error err = {0};
    bl_secret secret = {0};
    bl_status st = load_secret(e, &secret, &err);
    if (st != BL_OK)
        return cli_fail(CMD, &err);
    bl_encoder *enc = NULL;
    st = bl_encoder_new(schema, secret.bytes, secret.len, &e->eo, &enc, &err);
    bl_secret_free(&secret);
    if (st != BL_OK)
        return cli_fail(CMD, &err);
    uint64_t n = 0;
    cli_spool out = {0};
    if (e->csv.format == BL_CLK_BIN)
        st = cli_spool_stdout_begin(e->co.output, &out, &err);
    else
        out.path = e->co.output;
    bl_encode_id_report ids = {0};
    e->csv.id_report = e->csv.id_column ? &ids : NULL;
    if (st == BL_OK)
        st = bl_encode_csv(enc, e->data, out.path, &e->csv, &n, &err);
    bl_status st2 = cli_spool_stdout_end(&out, st == BL_OK, &err);
    if (st == BL_OK)
        st = st2;
    if (st == BL_OK && !e->co.quiet)
        warn_ids(e, &ids);
    if (st == BL_OK && (e->co.json || (!e->co.quiet && (e->co.verbose ||
                                                          isatty(STDERR_FILENO)))))
        summary(e, enc, n);
    bl_encoder_free(enc);
    return st == BL_OK ? CLI_EXIT_OK : cli_fail(CMD, &err);
}

int cmd_encode(int argc, char **argv)
{
    encode_cli e;
    int rc = encode_parse(argc, argv, &e);
    if (rc != CLI_OPT_OK)
        return rc == CLI_OPT_EXIT ? CLI_EXIT_OK : rc;
    bl_error err = {0};
    bl_schema *schema = NULL;
    if (bl_schema_load(e.schema_path, &schema, &err) != BL_OK) {
        if (err.status == BL_EIO)
            err.status = BL_EINVAL; /* a missing schema file is a usage error */
        /* the usual cause here: the data and the schema given the other way round */
        if (strstr(err.msg, "is CSV text, not a clkhash schema")) {
            char m[sizeof err.msg];
            snprintf(m, sizeof m, "%s", err.msg);
            bl_error_set(&err, BL_EINVAL, "%s: is the order DATA.csv SCHEMA.json OUTPUT?", m);
        }
        return cli_fail(CMD, &err);
    }
    if (!e.co.quiet)
        for (size_t i = 0; i < bl_schema_nwarnings(schema); i++)
            fprintf(stderr, "blindlink encode: warning: %s: %s\n", e.schema_path,
                    bl_schema_warning(schema, i));
    rc = encode_run(&e, schema);
    bl_schema_free(schema);
    return rc;
}
