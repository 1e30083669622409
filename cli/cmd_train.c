/* cli/cmd_train.c - `blindlink train`: fit a Fellegi-Sunter model (u from
 * random pairs, m and the prior by EM over blocked candidates) on two or
 * more field-level CLK files and write it as JSON. The training step is
 * shared with `blindlink match --model auto` (cli/match_model.c). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindlink/clk.h>
#include <blindlink/model.h>
#include "cli.h"

#define MAX_INPUTS 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void free_sets(bl_clkset **sets, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bl_clkset_free(sets[i]);
}

/* Read and check field-level inputs; prints the error and returns the exit
 * code on failure. */
static int read_inputs(const char *cmd, size_t n, char *const *paths, int threads, bl_clkset **sets)
{
    bl_error err = {0};
    for (size_t i = 0; i < n; i++)
        if (!strcmp(paths[i], "-"))
            return cli_usage_error(cmd, "field-level inputs must be files: '-' (stdin) is not "
                                        "supported");
    if (bl_clkset_read_many((const char *const *)paths, n, threads, sets, NULL, &err) != BL_OK)
        return cli_fail_input(cmd, &err);
    if (bl_model_check_inputs((const bl_clkset *const *)sets, (const char *const *)paths, n, &err) != BL_OK) {
        free_sets(sets, n);
        return cli_fail(cmd, &err);
    }
    return 0;
}

/* Train on sets: candidates, then EM. */
static bl_status train_on(bl_clkset **sets, const char *const *paths, size_t n,
                          const bl_model_link_opts *lo, const bl_model_train_opts *to,
                          bl_model **out, int verbose, int quiet, bl_error *err)
{
    bl_candidate *c = NULL;
    size_t nc = 0;
    double t0 = now();
    bl_status st = bl_model_candidates((const bl_clkset *const *)sets, n, lo, &c, &nc, err);
    if (st != BL_OK)
        return st;
    double t1 = now();
    if (!quiet)
        cli_warn_no_candidates("train", c, nc, (const bl_clkset *const *)sets, paths, n);
    st = bl_model_train((const bl_clkset *const *)sets, n, c, nc, to, out, err);
    free(c);
    if (st == BL_OK && verbose) {
        uint32_t it;
        double prior;
        int conv = bl_model_converged(*out, &it, &prior);
        fprintf(stderr, "blindlink: %zu candidate pairs, EM on %llu of them (each record's best; %.2fs blocking, "
                        "%.2fs training): %s after %u iterations, prior %.4g\n", nc,
                (unsigned long long)bl_model_training_pairs(*out), t1 - t0, now() - t1,
                conv ? "converged" : "hit the iteration limit", it, prior);
    }
    return st;
}

static void usage(FILE *fp)
{
    fputs("Usage: blindlink train [options] -o MODEL.json A.clk B.clk [C.clk ...]\n"
          "\n"
          "Fit a Fellegi-Sunter model on field-level encodings (encode --layout fields):\n"
          "u-probabilities from random record pairs, m-probabilities and the match prior\n"
          "by expectation maximisation over blocked candidate pairs (no labels needed).\n"
          "The model file (docs/model.md) lists each field's comparison levels with m, u\n"
          "and weight, the prior and whether EM converged; edit m or u and add\n"
          "\"fixed\": [\"m\"] to a level to keep a value (match and later training use it).\n"
          "\n"
          "Options:\n"
          "  -o, --output FILE     model file to write (required)\n"
          "      --init MODEL      start from this model (its fixed values are kept)\n"
          "      --max-iter N      EM iterations (default 100)\n"
          "      --tol X           convergence: largest parameter change (default 1e-6)\n"
          "      --u-pairs N       random pairs for u (default 1000000)\n"
          "      --seed N          random pair sampling seed\n"
          "      --mu-svg FILE     also draw the m/u chart per field (SVG)\n"
          "  -j, --threads N       worker threads (default all cores)\n"
          "  -q, --quiet           no warnings (EM iteration limit) on stderr\n"
          "  -v, --verbose         summary on stderr\n"
          "  -V, --version         print the version;  -h, --help  this help\n"
          "\n"
          "Exit status: 0 ok (also when EM hit the iteration limit: the model says so),\n"
          "1 runtime failure, 2 usage or input error.\n",
          fp);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* The inputs (none twice) and outputs, before reading anything: 0 or the
 * exit code with the message printed. */
static int train_paths(const char *output, const char *svg, const char *init, char *const *paths,
                       size_t n)
{
    const cli_path outs[] = {{"-o", output}, {"--mu-svg", svg}};
    const char *ins[MAX_INPUTS + 1] = {init};
    for (size_t i = 0; i < n; i++)
        ins[i + 1] = paths[i];
    int rc = cli_check_inputs("train", ins + 1, n, 1);
    if (rc == CLI_EXIT_OK)
        rc = cli_check_inputs("train", ins, 1, 0);
    if (rc == CLI_EXIT_OK)
        rc = cli_check_outputs("train", outs, 2, ins, n + 1);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    cli_batch_memory();
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"init", required_argument, NULL, 1001},
        {"max-iter", required_argument, NULL, 1002}, {"tol", required_argument, NULL, 1003},
        {"u-pairs", required_argument, NULL, 1004}, {"seed", required_argument, NULL, 1005},
        {"mu-svg", required_argument, NULL, 1006}, {"threads", required_argument, NULL, 'j'},
        CLI_LONGOPT_VERBOSE, CLI_LONGOPT_QUIET, CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
        {NULL, 0, NULL, 0},
    };
    cli_common co = {0};
    const char *output = NULL, *init = NULL, *svg = NULL;
    bl_model_train_opts to = {0};
    int c;
    double v;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":o:j:qvVh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 1001: init = optarg; break;
        case 1002:
            if (parse_num(optarg, 1, 1e6, &v))
                return cli_usage_error("train", "--max-iter must be 1..1000000, got '%s'", optarg);
            to.max_iter = (uint32_t)v;
            break;
        case 1003:
            if (parse_num(optarg, 1e-15, 1, &v))
                return cli_usage_error("train", "--tol must be in (0, 1], got '%s'", optarg);
            to.tol = v;
            break;
        case 1004:
            if (parse_num(optarg, 1, 1e10, &v))
                return cli_usage_error("train", "--u-pairs must be a positive count, got '%s'", optarg);
            to.u_pairs = (uint64_t)v;
            break;
        case 1005:
            if (parse_num(optarg, 0, 1.8e19, &v))
                return cli_usage_error("train", "--seed must be a non-negative integer, got '%s'", optarg);
            to.seed = (uint64_t)v;
            break;
        case 1006: svg = optarg; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: {
            int rc = cli_common_option("train", c, optarg, &co);
            if (rc == CLI_OPT_EXIT)
                return CLI_EXIT_OK;
            if (rc == CLI_OPT_UNHANDLED)
                rc = cli_usage_error("train", "unknown option '%s'", cli_current_arg());
            if (rc != CLI_OPT_OK)
                return rc;
        }
        }
    }
    to.threads = co.threads;
    int verbose = co.verbose;
    size_t n = (size_t)(argc - optind);
    if (!output)
        return cli_usage_error("train", "-o MODEL.json is required");
    if (n < 2 || n > MAX_INPUTS)
        return cli_usage_error("train", "need 2 to %d field-level CLK files (got %zu)", MAX_INPUTS, n);
    int rc = train_paths(output, svg, init, argv + optind, n);
    if (rc)
        return rc;
    bl_clkset *sets[MAX_INPUTS] = {0};
    rc = read_inputs("train", n, argv + optind, co.threads, sets);
    if (rc)
        return rc;
    bl_error err = {0};
    bl_model *initm = NULL, *m = NULL;
    bl_status st = BL_OK;
    if (init) {
        st = bl_model_read(init, &initm, &err);
        for (size_t i = 0; st == BL_OK && i < n; i++)
            st = bl_model_check_set(initm, sets[i], argv[optind + (int)i], &err);
    }
    to.init = initm;
    bl_model_link_opts lo = {.threads = to.threads};
    if (st == BL_OK)
        st = train_on(sets, (const char *const *)(argv + optind), n, &lo, &to, &m, verbose,
                      co.quiet, &err);
    /* the picture first: a failure there leaves no model file behind */
    if (st == BL_OK && svg)
        st = bl_model_mu_svg(m, svg, &err);
    if (st == BL_OK)
        st = bl_model_write(m, output, &err);
    if (st == BL_OK) {
        uint32_t it;
        double prior;
        if (!bl_model_converged(m, &it, &prior) && !co.quiet)
            fprintf(stderr, "blindlink train: warning: EM hit the iteration limit (%u) before converging; "
                            "the model file records it (raise --max-iter)\n", it);
    }
    rc = st == BL_OK ? CLI_EXIT_OK : cli_fail("train", &err);
    bl_model_free(m);
    bl_model_free(initm);
    free_sets(sets, n);
    return rc;
}
