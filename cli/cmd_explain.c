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
#include <blindlink/model.h>
#include "cli.h"

static void usage(FILE *fp)
{
    fputs("Usage: blindlink explain --model MODEL.json [--svg FILE] A.clk:I B.clk:J\n"
          "\n"
          "Explain the match weight of record I of A.clk against record J of B.clk\n"
          "(0-based indices, as in the pairs CSV): per field the Dice coefficient, the\n"
          "comparison level, its weight log2(m/u) and the term-frequency adjustment,\n"
          "then the prior weight, the total and the posterior match probability.\n"
          "\n"
          "Options:\n"
          "  -m, --model FILE   model file (blindlink train) (required)\n"
          "      --svg FILE     also write the waterfall chart as SVG\n"
          "      --json         print the explanation as JSON\n"
          "  -h, --help         this help\n"
          "\n"
          "Exit status: 0 ok, 1 runtime failure, 2 usage or input error.\n",
          fp);
}

/* "file:index" -> path (in place) and index. */
static int split_ref(char *arg, size_t *idx)
{
    char *colon = strrchr(arg, ':');
    if (!colon || !colon[1])
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '-')
        return -1;
    *colon = '\0';
    *idx = (size_t)v;
    return 0;
}

int cmd_explain(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"svg", required_argument, NULL, 1001},
        {"json", no_argument, NULL, 1002}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *svg = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 1001: svg = optarg; break;
        case 1002: json = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: return cli_usage_error("explain", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!model)
        return cli_usage_error("explain", "--model MODEL.json is required");
    if (argc - optind != 2)
        return cli_usage_error("explain", "expected A.clk:I B.clk:J");
    size_t ia, ib;
    char *pa = argv[optind], *pb = argv[optind + 1];
    if (split_ref(pa, &ia) || split_ref(pb, &ib))
        return cli_usage_error("explain", "records are given as FILE:INDEX (e.g. a.clk:12)");
    bl_error err = {0};
    bl_model *m = NULL;
    bl_clkset *a = NULL, *b = NULL;
    bl_status st = bl_model_read(model, &m, &err);
    if (st == BL_OK)
        st = bl_clkset_read(pa, BL_CLK_AUTO, 0, &a, &err);
    if (st == BL_OK)
        st = bl_clkset_read(pb, BL_CLK_AUTO, 0, &b, &err);
    if (st == BL_OK)
        st = bl_model_check_set(m, a, pa, &err);
    if (st == BL_OK)
        st = bl_model_check_set(m, b, pb, &err);
    bl_explain_field f[BL_MODEL_MAX_FIELDS];
    double pw = 0, w = 0, p = 0;
    const bl_clkset *tf[2] = {a, b};
    if (st == BL_OK && (ia >= a->count || ib >= b->count))
        st = bl_error_set(&err, BL_EINVAL, "record index out of range: %s has %zu records, %s has %zu", pa,
                          a->count, pb, b->count);
    if (st == BL_OK)
        st = bl_model_explain(m, a, ia, b, ib, tf, 2, f, &pw, &w, &p, &err);
    if (st == BL_OK && svg)
        st = bl_model_explain_svg(svg, f, bl_model_nfields(m), pw, w, p, &err);
    if (st == BL_OK) {
        const size_t nf = bl_model_nfields(m);
        const char *ida = a->ids ? a->ids[ia] : "", *idb = b->ids ? b->ids[ib] : "";
        if (json) {
            printf("{\"a\": {\"file\": \"%s\", \"index\": %zu}, \"b\": {\"file\": \"%s\", \"index\": %zu}, "
                   "\"prior_weight\": %.6f, \"fields\": [", pa, ia, pb, ib, pw);
            for (size_t i = 0; i < nf; i++)
                printf("%s{\"field\": \"%s\", \"dice\": %s%.6f%s, \"level\": \"%s\", \"weight\": %.6f, "
                       "\"tf_adjust\": %.6f}", i ? ", " : "", f[i].name, isnan(f[i].dice) ? "null" : "",
                       isnan(f[i].dice) ? 0.0 : f[i].dice, "", f[i].label, f[i].weight, f[i].tf_adjust);
            printf("], \"weight\": %.6f, \"probability\": %.9g}\n", w, p);
        } else {
            printf("%s:%zu %s  vs  %s:%zu %s\n", pa, ia, ida, pb, ib, idb);
            printf("%-22s %8s  %-14s %9s %9s\n", "field", "dice", "level", "weight", "tf adj");
            printf("%-22s %8s  %-14s %+9.3f\n", "(prior)", "", "", pw);
            for (size_t i = 0; i < nf; i++) {
                char d[16];
                if (isnan(f[i].dice))
                    snprintf(d, sizeof d, "-");
                else
                    snprintf(d, sizeof d, "%.3f", f[i].dice);
                printf("%-22s %8s  %-14s %+9.3f %+9.3f\n", f[i].name, d, f[i].label, f[i].weight, f[i].tf_adjust);
            }
            printf("%-22s %8s  %-14s %+9.3f   probability %.6f\n", "total", "", "", w, p);
        }
    }
    int rc = st == BL_OK ? CLI_EXIT_OK : cli_fail("explain", &err);
    bl_clkset_free(a);
    bl_clkset_free(b);
    bl_model_free(m);
    return rc;
}
