/* cli/cmd_schema.c - `blindlink schema validate|convert|describe`: check a
 * linkage schema (every problem with its JSON path), upgrade v1/v2 to v3,
 * or print a human summary with the expected bits set per record. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/io.h>
#include <blindlink/schema.h>

#include "cli.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink schema validate SCHEMA.json\n"
            "       blindlink schema convert SCHEMA.json OUTPUT.json\n"
            "       blindlink schema describe [--avg-length N] SCHEMA.json\n"
            "\n"
            "validate  check a clkhash linkage schema (v1, v2 or v3); lists every problem\n"
            "          with its JSON path, e.g. $.features[3].hashing.strategy; exit 2 if any\n"
            "convert   write the schema as linkage schema v3 (as anonlink convert-schema);\n"
            "          OUTPUT '-' writes to stdout\n"
            "describe  human summary: formats, tokens, bits per token, hashes, and the\n"
            "          expected number of bits set per record (strings assumed to have\n"
            "          --avg-length characters, default 8)\n");
}

static int do_validate(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    bl_error err = {0};
    if (bl_read_file(path, BL_SCHEMA_MAX_BYTES, &buf, &len, &err) != BL_OK) {
        err.status = BL_EINVAL;
        return cli_fail("schema", &err);
    }
    bl_schema_diag *d = NULL;
    size_t nd = 0, ne = 0;
    bl_status st = bl_schema_check(buf, len, &d, &nd, &ne, &err);
    free(buf);
    if (st != BL_OK)
        return cli_fail("schema", &err);
    for (size_t i = 0; i < nd; i++)
        fprintf(i < ne ? stdout : stderr, "%s: %s: %s: %s\n", path, i < ne ? "error" : "warning", d[i].path,
                d[i].msg);
    free(d);
    if (ne) {
        fprintf(stdout, "%s: invalid (%zu error%s)\n", path, ne, ne == 1 ? "" : "s");
        return CLI_EXIT_USAGE;
    }
    bl_schema *s = NULL;
    if (bl_schema_load(path, &s, &err) != BL_OK)
        return cli_fail("schema", &err);
    printf("%s: valid linkage schema v%d (%zu columns, l = %u)\n", path, bl_schema_version(s),
           bl_schema_nfeatures(s), bl_schema_filter_bits(s));
    bl_schema_free(s);
    return CLI_EXIT_OK;
}

static int load(const char *path, bl_schema **s)
{
    bl_error err = {0};
    if (bl_schema_load(path, s, &err) != BL_OK) {
        if (err.status == BL_EIO)
            err.status = BL_EINVAL;
        return cli_fail("schema", &err);
    }
    for (size_t i = 0; i < bl_schema_nwarnings(*s); i++)
        fprintf(stderr, "blindlink schema: warning: %s: %s\n", path, bl_schema_warning(*s, i));
    return 0;
}

static int do_convert(const char *in, const char *out)
{
    bl_schema *s = NULL;
    int rc = load(in, &s);
    if (rc)
        return rc;
    bl_error err = {0};
    char *json = NULL;
    bl_status st = bl_schema_to_v3_json(s, &json, &err);
    bl_schema_free(s);
    if (st != BL_OK)
        return cli_fail("schema", &err);
    bl_ofile *f = NULL;
    if ((st = bl_ofile_open(out, &f, &err)) != BL_OK) {
        free(json);
        if (st == BL_EIO)
            err.status = BL_EINVAL;
        return cli_fail("schema", &err);
    }
    if (fputs(json, bl_ofile_stream(f)) < 0) {
        free(json);
        bl_ofile_abort(f);
        bl_error_set(&err, BL_EIO, "%s: write failed", out);
        return cli_fail("schema", &err);
    }
    free(json);
    if ((st = bl_ofile_commit(f, &err)) != BL_OK)
        return cli_fail("schema", &err);
    return CLI_EXIT_OK;
}

static int do_describe(int argc, char **argv)
{
    static const struct option longopts[] = {{"avg-length", required_argument, NULL, 'a'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    double avg = 8;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'a') {
            char *end;
            avg = strtod(optarg, &end);
            if (*end || !(avg > 0 && avg < 10000))
                return cli_usage_error("schema", "--avg-length must be a positive number, not '%s'", optarg);
        } else if (c == 'h') {
            usage(stdout);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error("schema", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("schema", "describe expects one SCHEMA.json");
    bl_schema *s = NULL;
    int rc = load(argv[optind], &s);
    if (rc)
        return rc;
    bl_error err = {0};
    bl_status st = bl_schema_describe(s, stdout, avg, &err);
    bl_schema_free(s);
    return st == BL_OK ? CLI_EXIT_OK : cli_fail("schema", &err);
}

int cmd_schema(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("schema", "expected a subcommand: validate, convert or describe");
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
    if (!strcmp(sub, "validate")) {
        if (argc != 3)
            return cli_usage_error("schema", "validate expects one SCHEMA.json");
        return do_validate(argv[2]);
    }
    if (!strcmp(sub, "convert")) {
        if (argc != 4)
            return cli_usage_error("schema", "convert expects SCHEMA.json OUTPUT.json");
        return do_convert(argv[2], argv[3]);
    }
    if (!strcmp(sub, "describe"))
        return do_describe(argc - 1, argv + 1);
    return cli_usage_error("schema", "unknown subcommand '%s' (validate, convert, describe)", sub);
}
