/* cli/cmd_convert.c - `blindlink convert IN OUT --format json|bin`: move CLK
 * files between clkhash JSON and the blindlink binary format (clk.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <blindlink/clk.h>

#include "cli.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink convert [--format json|bin] [--ids] IN OUT\n"
            "       blindlink convert [--format json|bin] [--ids] -o OUT IN\n"
            "\n"
            "Convert a CLK file (the input format is detected) into clkhash JSON\n"
            "{\"clks\": [...]} or the blindlink binary format (docs/formats.md).\n"
            "  --format json|bin   output format (default: the other one than IN's)\n"
            "  --ids               keep record ids (binary output only; JSON has none)\n"
            "  -o, --output FILE   OUT given as an option instead of the second argument\n"
            "  -q, --quiet         no warnings\n"
            "  -V, --version       print the version\n"
            "  -v, --verbose       accepted as by every command (nothing to add here)\n"
            "  -h, --help          this help\n"
            "The output is written atomically; IN '-' reads stdin, OUT '-' writes stdout\n"
            "(both formats).\n");
}

enum { OPT_FORMAT = CLI_OPT_FIRST_PRIVATE, OPT_IDS };

static int convert_parse(int argc, char **argv, cli_common *co, bl_clk_format *fmt,
                         int *with_ids)
{
    static const struct option longopts[] = {{"format", required_argument, NULL, OPT_FORMAT},
                                             {"ids", no_argument, NULL, OPT_IDS},
                                             CLI_LONGOPT_OUTPUT, CLI_LONGOPT_QUIET,
                                             CLI_LONGOPT_VERBOSE, CLI_LONGOPT_VERSION,
                                             CLI_LONGOPT_HELP,
                                             {NULL, 0, NULL, 0}};
    cli_getopt_begin(argc, argv);
    int c;
    while ((c = getopt_long(argc, argv, ":o:qvVh", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option("convert", c, optarg, co);
        if (rc == CLI_OPT_UNHANDLED && c == OPT_FORMAT) {
            rc = CLI_OPT_OK;
            if (!strcmp(optarg, "json"))
                *fmt = BL_CLK_JSON;
            else if (!strcmp(optarg, "bin"))
                *fmt = BL_CLK_BIN;
            else
                rc = cli_usage_error("convert", "--format must be json or bin, not '%s'", optarg);
        } else if (rc == CLI_OPT_UNHANDLED && c == OPT_IDS) {
            *with_ids = 1;
            rc = CLI_OPT_OK;
        } else if (rc == CLI_OPT_UNHANDLED) {
            rc = cli_usage_error("convert", "unknown option '%s'", cli_current_arg());
        }
        if (rc != CLI_OPT_OK)
            return rc;
    }
    int nargs = argc - optind;
    if (co->output ? nargs != 1 : nargs != 2)
        return cli_usage_error("convert", co->output ? "expected IN with -o OUT"
                                                     : "expected IN OUT");
    if (!co->output)
        co->output = argv[optind + 1];
    return CLI_OPT_OK;
}

/* the other format than the input's: binary files start with the magic */
static bl_clk_format other_format(const char *in)
{
    FILE *fp = fopen(in, "rb");
    char magic[8] = {0};
    if (fp) {
        if (fread(magic, 1, sizeof magic, fp) != sizeof magic)
            magic[0] = 0;
        fclose(fp);
    }
    return memcmp(magic, BL_CLKBIN_MAGIC, 8) == 0 ? BL_CLK_JSON : BL_CLK_BIN;
}

static int convert_write(const bl_clkset *set, const char *out, bl_clk_format fmt, int with_ids)
{
    bl_error err = {0};
    cli_spool sp = {0};
    bl_status st = BL_OK;
    if (fmt == BL_CLK_BIN)
        st = cli_spool_stdout_begin(out, &sp, &err);
    else
        sp.path = out;
    if (st == BL_OK)
        st = bl_clkset_write(set, sp.path, fmt, with_ids, &err);
    bl_status st2 = cli_spool_stdout_end(&sp, st == BL_OK, &err);
    if (st == BL_OK)
        st = st2;
    return st == BL_OK ? CLI_EXIT_OK : cli_fail("convert", &err);
}

int cmd_convert(int argc, char **argv)
{
    cli_common co = {0};
    bl_clk_format fmt = BL_CLK_AUTO;
    int with_ids = 0;
    int rc = convert_parse(argc, argv, &co, &fmt, &with_ids);
    if (rc != CLI_OPT_OK)
        return rc == CLI_OPT_EXIT ? CLI_EXIT_OK : rc;
    const char *in = argv[optind];
    const cli_path outp = {"OUT", co.output};
    if ((rc = cli_check_inputs("convert", &in, 1, 0)) != CLI_EXIT_OK ||
        (rc = cli_check_outputs("convert", &outp, 1, &in, 1)) != CLI_EXIT_OK)
        return rc;
    bl_error err = {0};
    bl_clkset *set = NULL;
    cli_spool sp;
    bl_status st = cli_spool_stdin(in, &sp, &err);
    if (st == BL_OK)
        st = bl_clkset_read(sp.path, BL_CLK_AUTO, 0, &set, &err);
    if (st == BL_OK && fmt == BL_CLK_AUTO)
        fmt = other_format(sp.path);
    if (st != BL_OK)
        cli_spool_blame(&sp, &err);
    cli_spool_free(&sp);
    if (st != BL_OK)
        return cli_fail_input("convert", &err);
    if (fmt == BL_CLK_JSON && cli_is_field_level(set))
        rc = cli_usage_error("convert",
                             "'%s' holds field-level encodings: clkhash JSON cannot "
                             "record their field layout (the model and explain "
                             "need it); keep them binary",
                             in);
    else if (with_ids && fmt != BL_CLK_BIN)
        rc = cli_usage_error("convert", "--ids needs --format bin (clkhash JSON has no ids)");
    else if (with_ids && !set->ids)
        rc = cli_usage_error("convert", "--ids: '%s' carries no record ids", in);
    else
        rc = convert_write(set, co.output, fmt, with_ids);
    bl_clkset_free(set);
    return rc;
}
