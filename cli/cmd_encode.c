/* cli/cmd_encode.c - `blindlink encode`: CSV of personal data -> CLKs, in
 * clkhash's argument order (DATA.csv SCHEMA.json OUTPUT) with the secret
 * taken from a file or the environment instead of argv. */
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
            "\n"
            "Encode every row of DATA.csv into a CLK (keyed Bloom filter) as described by\n"
            "the clkhash linkage schema SCHEMA.json (v1, v2 or v3), bit-identical to\n"
            "clkhash 0.18.3. OUTPUT is clkhash JSON {\"clks\": [...]} or blindlink binary;\n"
            "'-' for DATA reads stdin, '-' for OUTPUT writes stdout.\n"
            "\n"
            "Secret (never from argv unless you insist):\n"
            "  --secret-file FILE     read the secret from FILE (one trailing newline dropped)\n"
            "                         default: the environment variable " SECRET_ENV "\n"
            "  --secret-argv SECRET   take it from the command line (visible to other users\n"
            "                         in ps and shell history: prints a warning)\n"
            "Options:\n"
            "  --format json|bin      output format (default json, as clkhash)\n"
            "  --threads N            worker threads (default: all cores; output order is\n"
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
            "  --harden PROFILE       harden against re-identification attacks: none,\n"
            "                         recommended, or steps salt=FIELD,xor,blip=P,balance,\n"
            "                         diffuse=T (docs/attacks.md); recorded in binary files,\n"
            "                         every party must use the same profile\n"
            "  --quiet                no progress bar, no warnings\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok, 1 runtime failure, 2 usage or input error (nothing is\n"
            "written then). Errors name file, line, row, column and rule.\n");
}

enum { OPT_SECRET_FILE = 256, OPT_SECRET_ARGV, OPT_FORMAT, OPT_THREADS, OPT_NO_HEADER, OPT_CHECK_HEADER,
       OPT_NO_VALIDATE, OPT_LEGACY_STRIP, OPT_NORMALIZE, OPT_IDS, OPT_QUIET, OPT_HARDEN };

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

/* Output must be creatable: its directory writable, itself not a directory. */
static int check_output(const char *path)
{
    if (!strcmp(path, "-"))
        return 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_usage_error("encode", "cannot write '%s': it is a directory", path);
    char *copy = strdup(path);
    if (!copy)
        return CLI_EXIT_FAIL;
    const char *dir = dirname(copy);
    int ok = access(dir, W_OK | X_OK) == 0;
    int e = errno;
    if (!ok) {
        fprintf(stderr, "blindlink encode: cannot write '%s': directory '%s': %s\n", path, dir, strerror(e));
        free(copy);
        return CLI_EXIT_USAGE;
    }
    free(copy);
    return 0;
}

int cmd_encode(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
        {"secret-argv", required_argument, NULL, OPT_SECRET_ARGV},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"no-header", no_argument, NULL, OPT_NO_HEADER},
        {"check-header", required_argument, NULL, OPT_CHECK_HEADER},
        {"no-validate", no_argument, NULL, OPT_NO_VALIDATE},
        {"legacy-strip", no_argument, NULL, OPT_LEGACY_STRIP},
        {"normalize", optional_argument, NULL, OPT_NORMALIZE},
        {"ids", required_argument, NULL, OPT_IDS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"harden", required_argument, NULL, OPT_HARDEN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *secret_file = NULL;
    char *secret_argv = NULL;
    bl_encode_opts eo = {0};
    bl_encode_csv_opts co = {.format = BL_CLK_JSON, .progress = 1};
    int no_header = 0, check_header = 1, quiet = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SECRET_FILE: secret_file = optarg; break;
        case OPT_SECRET_ARGV: secret_argv = optarg; break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "json"))
                co.format = BL_CLK_JSON;
            else if (!strcmp(optarg, "bin"))
                co.format = BL_CLK_BIN;
            else
                return cli_usage_error("encode", "--format must be json or bin, not '%s'", optarg);
            break;
        case OPT_THREADS:
            if ((co.threads = cli_parse_threads(optarg)) < 0)
                return cli_usage_error("encode", "--threads must be 1..1024 or 'auto', not '%s'", optarg);
            break;
        case OPT_NO_HEADER: no_header = 1; break;
        case OPT_CHECK_HEADER:
            if (parse_bool(optarg, &check_header) != 0)
                return cli_usage_error("encode", "--check-header must be true or false, not '%s'", optarg);
            break;
        case OPT_NO_VALIDATE: eo.no_validate = 1; break;
        case OPT_LEGACY_STRIP: eo.legacy_strip = 1; break;
        case OPT_NORMALIZE: {
            int p = bl_normalize_profile_parse(optarg ? optarg : "names");
            if (p < 0)
                return cli_usage_error("encode", "unknown --normalize profile '%s' (none, basic, names, strict)",
                                       optarg);
            eo.normalize = (bl_normalize_profile)p;
            break;
        }
        case OPT_IDS: co.id_column = optarg; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_HARDEN: eo.harden = optarg; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case ':': return cli_usage_error("encode", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("encode", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 3)
        return cli_usage_error("encode", "expected DATA.csv SCHEMA.json OUTPUT (got %d argument%s)", argc - optind,
                               argc - optind == 1 ? "" : "s");
    const char *data = argv[optind], *schema_path = argv[optind + 1], *output = argv[optind + 2];
    co.header = no_header ? BL_HEADER_NONE : check_header ? BL_HEADER_CHECK : BL_HEADER_IGNORE;
    co.progress = !quiet;
    if (secret_file && secret_argv)
        return cli_usage_error("encode", "give only one of --secret-file and --secret-argv");
    if (strcmp(data, "-") && access(data, R_OK) != 0)
        return cli_usage_error("encode", "cannot read '%s': %s", data, strerror(errno));
    int rc = check_output(output);
    if (rc)
        return rc;

    bl_error err = {0};
    bl_schema *schema = NULL;
    if (bl_schema_load(schema_path, &schema, &err) != BL_OK) {
        if (err.status == BL_EIO)
            err.status = BL_EINVAL; /* a missing schema file is a usage error */
        return cli_fail("encode", &err);
    }
    if (!quiet)
        for (size_t i = 0; i < bl_schema_nwarnings(schema); i++)
            fprintf(stderr, "blindlink encode: warning: %s: %s\n", schema_path, bl_schema_warning(schema, i));

    bl_secret secret = {0};
    bl_status st;
    if (secret_argv) {
        fprintf(stderr, "blindlink encode: warning: --secret-argv exposes the secret to other users "
                        "(ps, /proc, shell history); prefer --secret-file or " SECRET_ENV "\n");
        st = bl_secret_from_bytes(secret_argv, strlen(secret_argv), &secret, &err);
        memset(secret_argv, 0, strlen(secret_argv)); /* hide it from /proc/PID/cmdline */
    } else {
        st = bl_secret_load(secret_file, SECRET_ENV, &secret, &err);
        if (st == BL_EINVAL && !secret_file)
            st = bl_error_set(&err, BL_EINVAL, "no secret: use --secret-file FILE or set " SECRET_ENV);
    }
    if (st != BL_OK) {
        bl_schema_free(schema);
        return cli_fail("encode", &err);
    }
    bl_encoder *enc = NULL;
    st = bl_encoder_new(schema, secret.bytes, secret.len, &eo, &enc, &err);
    bl_secret_free(&secret);
    if (st != BL_OK) {
        bl_schema_free(schema);
        return cli_fail("encode", &err);
    }
    uint64_t n = 0;
    st = bl_encode_csv(enc, data, output, &co, &n, &err);
    bl_encoder_free(enc);
    bl_schema_free(schema);
    if (st != BL_OK)
        return cli_fail("encode", &err);
    if (!quiet && isatty(STDERR_FILENO))
        fprintf(stderr, "blindlink encode: %llu records -> %s\n", (unsigned long long)n, output);
    return CLI_EXIT_OK;
}
