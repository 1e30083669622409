/* cli/cmd_match.c - `blindlink match`: read two or more CLK files (clkhash JSON
 * or blindlink binary), find candidate pairs (Dice >= threshold, optional
 * top-k, exhaustive or blocked), solve them into matches (greedy 1:1 or
 * probabilistic multi-party) and write pairs CSV, groups JSON, candidates
 * CSV or anonlink binary candidates, atomically. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindlink/clk.h>
#include <blindlink/encode.h>
#include <blindlink/io.h>
#include <blindlink/match.h>
#include "cli.h"

#define CMD "match"
#define MAX_INPUTS 64

static void usage(FILE *fp)
{
    fputs(
        "Usage: blindlink match [options] --threshold T A.clk B.clk [C.clk ...]\n"
        "\n"
        "Find which encodings (CLKs) belong to the same entity, as anonlink does.\n"
        "Inputs are clkhash JSON ({\"clks\": [...]}) or blindlink binary CLK files,\n"
        "all with the same filter length and schema fingerprint.\n"
        "\n"
        "Options:\n"
        "  -t, --threshold T        Dice similarity threshold in (0, 1] (required)\n"
        "  -o, --output FILE        output file (default '-' = stdout)\n"
        "  -f, --output-format F    pairs (default): matched pairs CSV\n"
        "                           groups: anonlink find-similarity groups JSON\n"
        "                           candidates: every candidate pair as CSV\n"
        "                           anonlink: candidates in anonlink's binary format\n"
        "  -s, --solver S           greedy (default, = anonlink greedy_solve),\n"
        "                           probabilistic (= probabilistic_greedy_solve), none\n"
        "      --merge-threshold M  probabilistic solver: share of cross pairs that\n"
        "                           must be candidates to merge groups (default 0.5)\n"
        "      --no-dedup           probabilistic solver: allow two records of one\n"
        "                           dataset in a group\n"
        "  -k, --top-k K            keep at most K candidates per record and dataset pair\n"
        "  -j, --threads N          worker threads (default 0 = all cores)\n"
        "      --max-candidates N   fail cleanly beyond N candidate pairs (default 1e8)\n"
        "\n"
        "Blocking (default: exhaustive comparison):\n"
        "      --blocking lsh       keyed LSH over the encodings; the bit positions come\n"
        "                           from a secret (--blocking-key-file or the variable\n"
        "                           named by --blocking-key-env, default BL_BLOCKING_KEY)\n"
        "      --lsh-tables L       number of hash tables } default: chosen from the\n"
        "      --lsh-bits K         sampled bits per table } data and threshold to keep\n"
        "                           a pair at the threshold with probability 99%; when\n"
        "                           that would cost more comparisons than all pairs (low\n"
        "                           thresholds), match exhaustively with a message\n"
        "      --blocks FILE        external blocks, once per input in the same order:\n"
        "                           blocklib/anonlink-client JSON or 'record,block' CSV\n"
        "      --blocking-report    also run exhaustively and report pair completeness\n"
        "                           and reduction ratio on stderr\n"
        "\n"
        "  -v, --verbose            summary on stderr (records, candidates, kernel, time)\n"
        "  -h, --help               this help\n"
        "\n"
        "Environment: BL_KERNEL=scalar|avx2|avx512 forces a popcount kernel.\n"
        "Exit status: 0 ok, 1 runtime failure, 2 usage or input error.\n",
        fp);
}

enum {
    OPT_MERGE = 1000,
    OPT_NODEDUP,
    OPT_MAXC,
    OPT_BLOCKING,
    OPT_TABLES,
    OPT_BITS,
    OPT_BLOCKS,
    OPT_KEYFILE,
    OPT_KEYENV,
    OPT_REPORT,
};

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_unit(const char *s, double *out)
{
    char *end;
    errno = 0;
    if (!s || !*s)
        return -1;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

typedef struct progress_ctx {
    bl_progress *p;
} progress_ctx;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)total;
    progress_ctx *pc = ctx;
    bl_progress_update(pc->p, done);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cmd_match(int argc, char **argv)
{
    static const struct option opts[] = {
        {"threshold", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"output-format", required_argument, NULL, 'f'},
        {"solver", required_argument, NULL, 's'},
        {"merge-threshold", required_argument, NULL, OPT_MERGE},
        {"no-dedup", no_argument, NULL, OPT_NODEDUP},
        {"top-k", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 'j'},
        {"max-candidates", required_argument, NULL, OPT_MAXC},
        {"blocking", required_argument, NULL, OPT_BLOCKING},
        {"lsh-tables", required_argument, NULL, OPT_TABLES},
        {"lsh-bits", required_argument, NULL, OPT_BITS},
        {"blocks", required_argument, NULL, OPT_BLOCKS},
        {"blocking-key-file", required_argument, NULL, OPT_KEYFILE},
        {"blocking-key-env", required_argument, NULL, OPT_KEYENV},
        {"blocking-report", no_argument, NULL, OPT_REPORT},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double threshold = NAN, merge = 0.5;
    const char *output = "-", *format = "pairs", *solver = "greedy", *blocking = NULL;
    const char *keyfile = NULL, *keyenv = "BL_BLOCKING_KEY";
    const char *blocks[MAX_INPUTS];
    size_t nblocks = 0;
    int dedup = 1, verbose = 0, report = 0, threads = 0, solver_set = 0;
    unsigned long long topk = 0, maxc = 0, tables = 0, bits = 0, v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:o:f:s:k:j:vh", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (parse_unit(optarg, &threshold) || !(threshold > 0.0 && threshold <= 1.0))
                return cli_usage_error(CMD, "--threshold must be a number in (0, 1], got '%s'",
                                       optarg);
            break;
        case 'o': output = optarg; break;
        case 'f':
            if (strcmp(optarg, "pairs") && strcmp(optarg, "groups") &&
                strcmp(optarg, "candidates") && strcmp(optarg, "anonlink"))
                return cli_usage_error(CMD, "--output-format must be pairs, groups, candidates "
                                            "or anonlink, got '%s'", optarg);
            format = optarg;
            break;
        case 's':
            if (strcmp(optarg, "greedy") && strcmp(optarg, "probabilistic") && strcmp(optarg, "none"))
                return cli_usage_error(CMD, "--solver must be greedy, probabilistic or none, got '%s'",
                                       optarg);
            solver = optarg;
            solver_set = 1;
            break;
        case OPT_MERGE:
            if (parse_unit(optarg, &merge) || !(merge > 0.0 && merge <= 1.0))
                return cli_usage_error(CMD, "--merge-threshold must be in (0, 1], got '%s'", optarg);
            break;
        case OPT_NODEDUP: dedup = 0; break;
        case 'k':
            if (parse_u64(optarg, UINT32_MAX, &topk) || topk == 0)
                return cli_usage_error(CMD, "--top-k must be a positive integer, got '%s'", optarg);
            break;
        case 'j':
            threads = cli_parse_threads(optarg);
            if (threads < 0)
                return cli_usage_error(CMD, "--threads must be a count or 'auto', got '%s'", optarg);
            break;
        case OPT_MAXC:
            if (parse_u64(optarg, (unsigned long long)SIZE_MAX / 64, &maxc) || maxc == 0)
                return cli_usage_error(CMD, "--max-candidates must be a positive integer, got '%s'",
                                       optarg);
            break;
        case OPT_BLOCKING:
            if (strcmp(optarg, "lsh") && strcmp(optarg, "none") && strcmp(optarg, "files"))
                return cli_usage_error(CMD, "--blocking must be lsh, files or none, got '%s'", optarg);
            blocking = optarg;
            break;
        case OPT_TABLES:
            if (parse_u64(optarg, 1024, &tables) || tables == 0)
                return cli_usage_error(CMD, "--lsh-tables must be in 1..1024, got '%s'", optarg);
            break;
        case OPT_BITS:
            if (parse_u64(optarg, 32, &bits) || bits == 0)
                return cli_usage_error(CMD, "--lsh-bits must be in 1..32, got '%s'", optarg);
            break;
        case OPT_BLOCKS:
            if (nblocks == MAX_INPUTS)
                return cli_usage_error(CMD, "too many --blocks files");
            blocks[nblocks++] = optarg;
            break;
        case OPT_KEYFILE: keyfile = optarg; break;
        case OPT_KEYENV: keyenv = optarg; break;
        case OPT_REPORT: report = 1; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: return cli_usage_error(CMD, "unknown option");
        }
    }
    (void)v;
    if (isnan(threshold))
        return cli_usage_error(CMD, "--threshold is required");
    size_t nin = (size_t)(argc - optind);
    if (nin < 2)
        return cli_usage_error(CMD, "need at least two CLK files (got %zu)", nin);
    if (nin > MAX_INPUTS)
        return cli_usage_error(CMD, "at most %d inputs", MAX_INPUTS);
    if (nblocks && (!blocking || strcmp(blocking, "files") == 0))
        blocking = "files";
    else if (nblocks)
        return cli_usage_error(CMD, "--blocks goes with --blocking files (or alone)");
    if (blocking && strcmp(blocking, "files") == 0 && nblocks != nin)
        return cli_usage_error(CMD, "--blocks must be given once per input (%zu inputs, %zu files)",
                               nin, nblocks);
    if (blocking && strcmp(blocking, "none") == 0)
        blocking = NULL;
    if (report && !blocking)
        return cli_usage_error(CMD, "--blocking-report needs --blocking");
    if (strcmp(format, "groups") == 0 && strcmp(solver, "none") == 0)
        return cli_usage_error(CMD, "--output-format groups needs a solver");
    if (!solver_set && (strcmp(format, "candidates") == 0 || strcmp(format, "anonlink") == 0))
        solver = "none";
    if (strcmp(format, "pairs") == 0 && strcmp(solver, "none") == 0)
        format = "candidates";

    int rc = CLI_EXIT_OK;
    bl_error err = {0};
    bl_clkset *sets[MAX_INPUTS] = {0};
    bl_blocking *bk = NULL;
    bl_secret key = {0};
    bl_candidate *cand = NULL, *full = NULL;
    bl_groups *groups = NULL;
    size_t ncand = 0, nfull = 0;
    double t0 = now();
    for (size_t i = 0; i < nin; i++) {
        bl_status st = bl_clkset_read(argv[optind + (int)i], BL_CLK_AUTO, 0, &sets[i], &err);
        if (st == BL_OK && i > 0) /* same layout, normalisation, hardening (exit 2 otherwise) */
            st = bl_clk_meta_check(sets[0], argv[optind], sets[i], argv[optind + (int)i], &err);
        if (st) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
    }
    uint32_t dt = 0, db = 0;
    if (blocking && strcmp(blocking, "lsh") == 0) {
        /* the key is required even when the run falls back to exhaustive */
        bl_status st = bl_secret_load(keyfile, keyenv, &key, &err);
        if (st) {
            bl_error_prefix(&err, "blocking key: ");
            rc = cli_fail(CMD, &err);
            goto done;
        }
        double share;
        if (!bl_blocking_lsh_plan((const bl_clkset *const *)sets, nin, threshold, 0.99, &dt, &db,
                                  &share) && !tables && !bits) {
            /* never lose matches silently: compare everything instead */
            if (isinf(share))
                fprintf(stderr, "blindlink match: at threshold %g no LSH setting of at most 1024 "
                                "tables keeps 99%% of the matches; comparing exhaustively\n",
                        threshold);
            else
                fprintf(stderr, "blindlink match: at threshold %g LSH blocking keeping 99%% of "
                                "the matches would make %.1fx as many comparisons as the "
                                "exhaustive run; comparing exhaustively (force blocking with "
                                "--lsh-tables/--lsh-bits)\n", threshold, share);
            blocking = NULL;
            bl_secret_free(&key);
            if (report) {
                fprintf(stderr, "blindlink match: --blocking-report: no blocking used, pair "
                                "completeness 1\n");
                report = 0;
            }
        }
    }
    if (blocking && strcmp(blocking, "lsh") == 0) {
        if (tables)
            dt = (uint32_t)tables;
        if (bits)
            db = (uint32_t)bits;
        if (verbose)
            fprintf(stderr, "blindlink match: keyed LSH blocking with %u tables of %u bits\n", dt, db);
        bl_status st = bl_blocking_new_lsh(sets[0]->nbits, dt, db, key.bytes, key.len, &bk, &err);
        bl_secret_free(&key);
        if (st) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
    } else if (blocking) {
        size_t nrecs[MAX_INPUTS];
        for (size_t i = 0; i < nin; i++)
            nrecs[i] = sets[i]->count;
        bl_status st = bl_blocking_read_files(blocks, nin, nrecs, &bk, &err);
        if (st) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
    }
    bl_match_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.threshold = threshold;
    mo.top_k = (uint32_t)topk;
    mo.threads = threads;
    mo.max_candidates = (size_t)maxc;
    mo.blocking = bk;
    progress_ctx pc;
    uint64_t total = 0;
    for (size_t x = 0; x < nin; x++)
        for (size_t y = x + 1; y < nin; y++)
            total += (uint64_t)sets[x]->count * sets[y]->count;
    pc.p = bl_progress_new(bk ? "blocked matching (tables)" : "comparing pairs",
                           bk ? (uint64_t)(bk ? 0 : total) : total);
    mo.progress = on_progress;
    mo.progress_ctx = &pc;
    double t1 = now();
    bl_status st = bl_match_candidates((const bl_clkset *const *)sets, nin, &mo, &cand, &ncand, &err);
    bl_progress_finish(pc.p);
    double t2 = now();
    if (st) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    bl_blocking_stats bs;
    memset(&bs, 0, sizeof bs);
    if (bk && (report || verbose)) {
        /* counting the blocked comparisons computes no Dice: cheap next to
         * the exhaustive run, which only --blocking-report does */
        st = bl_blocking_stats_compute(bk, (const bl_clkset *const *)sets, nin, &bs, &err);
        if (st) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
        if (verbose)
            fprintf(stderr,
                    "blindlink match: blocking compared %llu of %llu pairs "
                    "(reduction ratio %.6f; %llu comparisons counting repeats)\n",
                    (unsigned long long)bs.pairs_compared, (unsigned long long)bs.pairs_total,
                    bs.reduction_ratio, (unsigned long long)bs.comparisons);
    }
    if (report) {
        mo.blocking = NULL;
        mo.progress = NULL;
        st = bl_match_candidates((const bl_clkset *const *)sets, nin, &mo, &full, &nfull, &err);
        if (st) {
            rc = cli_fail(CMD, &err);
            goto done;
        }
        fprintf(stderr,
                "blindlink match: blocking compared %llu of %llu pairs (reduction ratio %.6f; "
                "%llu comparisons counting repeats); "
                "pair completeness %.6f (%zu of %zu exhaustive candidates)\n",
                (unsigned long long)bs.pairs_compared, (unsigned long long)bs.pairs_total,
                bs.reduction_ratio, (unsigned long long)bs.comparisons, bl_candidates_completeness(full, nfull, cand, ncand),
                (size_t)(bl_candidates_completeness(full, nfull, cand, ncand) * (double)nfull + 0.5),
                nfull);
    }
    if (strcmp(solver, "greedy") == 0)
        st = bl_match_solve_greedy(cand, ncand, &groups, &err);
    else if (strcmp(solver, "probabilistic") == 0)
        st = bl_match_solve_probabilistic(cand, ncand, merge, dedup, &groups, &err);
    if (st) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    double t3 = now();
    if (strcmp(format, "candidates") == 0)
        st = bl_candidates_write_csv(output, cand, ncand, (const bl_clkset *const *)sets, nin, &err);
    else if (strcmp(format, "anonlink") == 0)
        st = bl_candidates_write_anonlink(output, cand, ncand, &err);
    else if (strcmp(format, "groups") == 0)
        st = bl_groups_write_json(output, groups, &err);
    else
        st = bl_groups_write_pairs_csv(output, groups, cand, ncand, (const bl_clkset *const *)sets,
                                       nin, &err);
    if (st) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    if (verbose) {
        fprintf(stderr, "blindlink match: %zu inputs (", nin);
        for (size_t i = 0; i < nin; i++)
            fprintf(stderr, "%s%zu", i ? " x " : "", sets[i]->count);
        fprintf(stderr,
                " records, %u bits), threshold %g: %zu candidate pairs", sets[0]->nbits,
                threshold, ncand);
        if (groups)
            fprintf(stderr, ", %zu groups (%s)", bl_groups_count(groups), solver);
        fprintf(stderr, "; kernel %s, read %.3fs, compare %.3fs", bl_match_kernel_name(), t1 - t0,
                t2 - t1);
        if (!bk)
            fprintf(stderr, " (%.0f M pairs/s)",
                    (double)total / (t2 - t1 > 1e-9 ? t2 - t1 : 1e-9) / 1e6);
        fprintf(stderr, ", solve %.3fs\n", t3 - t2);
    }
done:
    bl_secret_free(&key);
    bl_groups_free(groups);
    free(cand);
    free(full);
    bl_blocking_free(bk);
    for (size_t i = 0; i < nin && i < MAX_INPUTS; i++)
        bl_clkset_free(sets[i]);
    return rc;
}
