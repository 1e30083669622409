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
            "\n"
            "Convert a CLK file (the input format is detected) into clkhash JSON\n"
            "{\"clks\": [...]} or the blindlink binary format (docs/formats.md).\n"
            "  --format json|bin   output format (default: the other one than IN's)\n"
            "  --ids               keep record ids (binary output only; JSON has none)\n"
            "  -h, --help          this help\n"
            "The output is written atomically; OUT '-' writes to stdout.\n");
}

int cmd_convert(int argc, char **argv)
{
    static const struct option longopts[] = {{"format", required_argument, NULL, 'f'},
                                             {"ids", no_argument, NULL, 'i'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bl_clk_format fmt = BL_CLK_AUTO;
    int with_ids = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "json"))
                fmt = BL_CLK_JSON;
            else if (!strcmp(optarg, "bin"))
                fmt = BL_CLK_BIN;
            else
                return cli_usage_error("convert", "--format must be json or bin, not '%s'", optarg);
            break;
        case 'i': with_ids = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case ':': return cli_usage_error("convert", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("convert", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("convert", "expected IN OUT");
    const char *in = argv[optind], *out = argv[optind + 1];
    bl_error err = {0};
    bl_clkset *set = NULL;
    bl_status st = bl_clkset_read(in, BL_CLK_AUTO, 0, &set, &err);
    if (st != BL_OK) {
        if (st == BL_EIO)
            err.status = BL_EINVAL;
        return cli_fail("convert", &err);
    }
    if (fmt == BL_CLK_AUTO) {
        /* the other format: binary files carry a fingerprint or ids, JSON never does */
        FILE *fp = fopen(in, "rb");
        char magic[8] = {0};
        if (fp) {
            if (fread(magic, 1, sizeof magic, fp) != sizeof magic)
                magic[0] = 0;
            fclose(fp);
        }
        fmt = memcmp(magic, BL_CLKBIN_MAGIC, 8) == 0 ? BL_CLK_JSON : BL_CLK_BIN;
    }
    if (with_ids && fmt != BL_CLK_BIN) {
        bl_clkset_free(set);
        return cli_usage_error("convert", "--ids needs --format bin (clkhash JSON has no ids)");
    }
    if (with_ids && !set->ids) {
        bl_clkset_free(set);
        return cli_usage_error("convert", "--ids: '%s' carries no record ids", in);
    }
    st = bl_clkset_write(set, out, fmt, with_ids, &err);
    bl_clkset_free(set);
    if (st != BL_OK)
        return cli_fail("convert", &err);
    return CLI_EXIT_OK;
}
