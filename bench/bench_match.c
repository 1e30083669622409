/* bench/bench_match.c - matching throughput and scale. Prints, in one run:
 *  1. pairs/s of every popcount kernel on all pairs of random 1024-bit
 *     filters at threshold 0.95 (nothing pruned), one thread and all
 *     threads, against the plain popcnt-instruction loop in the same run
 *     ("-full": every popcount of every pair; the default avx2/avx512
 *     kernels add the exact partial-sum early exit, labelled "early exit");
 *  2. exhaustive matching of FEBRL-like filters (token model with corrupted
 *     duplicates), where popcount pruning helps, with every SIMD kernel;
 *  3. a large linkage of corrupted duplicates with keyed LSH blocking, its
 *     pair completeness against the exhaustive result on a sample and the
 *     recall of true duplicates, plus peak memory; the blocking statistics
 *     (distinct pairs compared) come from a separate, slower counting path
 *     and are timed apart from the match run.
 * Usage: bench_match [--quick] [--kernels] [--reps R] [--json] [--large N]
 * (default N = 1000000, R = 3; --kernels: part 1 only; --json: part 1
 * figures as JSON lines on stderr). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <blindlink/match.h>
#include <blindlink/io.h>
#include "match/match_internal.h"

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
static inline uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static bl_clkset *random_set(size_t n)
{
    bl_clkset *s;
    bl_error e = {0};
    if (bl_clkset_new(1024, n, &s, &e))
        abort();
    uint8_t f[128];
    for (size_t i = 0; i < n; i++) {
        for (int w = 0; w < 16; w++) {
            uint64_t v = rnd();
            memcpy(f + 8 * w, &v, 8);
        }
        if (bl_clkset_append(s, f, NULL, &e))
            abort();
    }
    return s;
}

/* FEBRL-like: a record is ~30 tokens out of a skewed vocabulary, each token
 * sets 20 hashed bits (like clkhash bigrams with 20 bits per token). */
#define NTOK_MAX 40
typedef struct rec {
    uint32_t tok[NTOK_MAX];
    int n;
} rec;

static uint32_t vocab_token(void)
{
    /* skew: many records share common tokens */
    uint64_t r = rnd();
    uint32_t lvl = (uint32_t)(r & 3);
    uint32_t range = lvl == 0 ? 200 : lvl == 1 ? 2000 : 60000;
    return (uint32_t)((r >> 8) % range) + lvl * 100000;
}

static void token_bits(uint8_t *f, uint32_t tok)
{
    uint64_t h = tok * 0xD6E8FEB86659FD93ULL + 0x1234567ULL;
    for (int k = 0; k < 20; k++) {
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 32;
        uint32_t p = (uint32_t)(h % 1024);
        f[p >> 3] |= (uint8_t)(0x80 >> (p & 7));
    }
}

static void rec_filter(const rec *r, uint8_t *f)
{
    memset(f, 0, 128);
    for (int i = 0; i < r->n; i++)
        token_bits(f, r->tok[i]);
}

/* A[i] and its corrupted duplicate B[i] (1-4 tokens replaced or dropped) */
static void febrl_like(size_t n, bl_clkset **A, bl_clkset **B)
{
    bl_error e = {0};
    if (bl_clkset_new(1024, n, A, &e) || bl_clkset_new(1024, n, B, &e))
        abort();
    uint8_t f[128];
    for (size_t i = 0; i < n; i++) {
        rec r;
        r.n = 24 + (int)(rnd() % 12);
        for (int t = 0; t < r.n; t++)
            r.tok[t] = vocab_token();
        rec_filter(&r, f);
        if (bl_clkset_append(*A, f, NULL, &e))
            abort();
        int edits = 1 + (int)(rnd() % 4);
        for (int q = 0; q < edits; q++) {
            int at = (int)(rnd() % (uint64_t)r.n);
            if (rnd() % 3 == 0 && r.n > 10)
                r.tok[at] = r.tok[--r.n];
            else
                r.tok[at] = vocab_token();
        }
        rec_filter(&r, f);
        if (bl_clkset_append(*B, f, NULL, &e))
            abort();
    }
}

/* The baseline: the loop anyone would write (and what anonlink's C++ core
 * does): popcounts of every filter computed once, then per pair the
 * intersection popcount over 64-bit words with the popcnt instruction (the
 * target attribute: baseline x86-64 lacks it and __builtin_popcountll would
 * be a bit-twiddling call), the Dice score in double, one thread. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("popcnt")))
#endif
static size_t plain_loop(const bl_clkset *A, const bl_clkset *B, size_t na, const uint32_t *pa,
                         const uint32_t *pb, double t)
{
    size_t hits = 0;
    for (size_t i = 0; i < na; i++) {
        const uint8_t *a = bl_clkset_get(A, i);
        uint64_t aw[16];
        memcpy(aw, a, 128);
        for (size_t j = 0; j < B->count; j++) {
            const uint8_t *b = bl_clkset_get(B, j);
            unsigned c = 0;
            for (size_t k = 0; k < 16; k++) {
                uint64_t y;
                memcpy(&y, b + 8 * k, 8);
                c += (unsigned)__builtin_popcountll(aw[k] & y);
            }
            unsigned s = pa[i] + pb[j];
            hits += s && 2.0 * c / s >= t;
        }
    }
    return hits;
}

static uint32_t *popcounts(const bl_clkset *s)
{
    uint32_t *p = malloc(s->count * sizeof *p);
    if (!p)
        abort();
    for (size_t i = 0; i < s->count; i++)
        p[i] = bl_kernel_scalar.popcount(bl_clkset_get(s, i), 128);
    return p;
}

static void print_load(const char *when)
{
    double l1 = -1, l5 = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf", &l1, &l5) != 2)
            l1 = l5 = -1;
        fclose(f);
    }
    printf("  load average %s: %.2f (1 min), %.2f (5 min)\n", when, l1, l5);
}

/* CPU seconds of the whole process (all threads): with ~7 other jobs on 2
 * cores, wall time measures the scheduler; pairs per CPU-second measure
 * the code. Both are printed. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double g_cpu; /* CPU seconds of the last run() */

static double run(const bl_clkset *A, const bl_clkset *B, double t, int threads,
                  const bl_blocking *bk, size_t *ncand, bl_candidate **keep)
{
    const bl_clkset *sets[2] = {A, B};
    bl_match_opts o;
    memset(&o, 0, sizeof o);
    o.threshold = t;
    o.threads = threads;
    o.blocking = bk;
    o.max_candidates = 200000000;
    bl_candidate *c;
    size_t n;
    bl_error e = {0};
    double c0 = cpu_s(), t0 = bl_clock_s();
    if (bl_match_candidates(sets, 2, &o, &c, &n, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        exit(1);
    }
    double dt = bl_clock_s() - t0;
    g_cpu = cpu_s() - c0;
    if (ncand)
        *ncand = n;
    if (keep)
        *keep = c;
    else
        free(c);
    return dt;
}

static long peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 3, only_kernels = 0, json = 0;
    size_t large = 1000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--kernels") == 0)
            only_kernels = 1;
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (strcmp(argv[i], "--large") == 0 && i + 1 < argc)
            large = strtoul(argv[++i], NULL, 10);
    }
    if (quick && large == 1000000)
        large = 100000;
    int ncpu = bli_match_threads(0);
    printf("blindlink matching benchmark (%d cores online; shared machines make figures noisy)\n",
           ncpu);

    /* 1. all pairs of random filters at 0.95: popcounts ~512 +- 16, every
     * B popcount is feasible for every A, so nothing is pruned. Each figure
     * is the best of `reps` runs; the plain loop runs between the kernels so
     * that load changes hit both. */
    size_t na = quick ? 1024 : 2048, nb = quick ? 16384 : 32768;
    bl_clkset *A = random_set(na), *B = random_set(nb);
    uint32_t *pa = popcounts(A), *pb = popcounts(B);
    double pairs = (double)na * nb;
    size_t nn = quick ? 64 : 256;
    printf("\n[1] all pairs, random 1024-bit filters, %zu x %zu, threshold 0.95 (no pruning); "
           "best of %d\n", na, nb, reps);
    print_load("before");
    double plain = 0, plain_cpu = 0;
    size_t h = 0;
    for (int r = 0; r < reps; r++) {
        double c0 = cpu_s(), t0 = bl_clock_s();
        h = plain_loop(A, B, nn, pa, pb, 0.95);
        double rate = (double)nn * nb / (bl_clock_s() - t0);
        double crate = (double)nn * nb / (cpu_s() - c0);
        plain = rate > plain ? rate : plain;
        plain_cpu = crate > plain_cpu ? crate : plain_cpu;
    }
    printf("  M pairs/s: wall clock (per CPU-second in brackets); ratios against the plain loop\n");
    printf("  %-18s 1 thread %8.1f (%8.1f)  [%zu hits]\n", "plain popcnt loop", plain / 1e6,
           plain_cpu / 1e6, h);
    /* "-full": every popcount of every pair. avx2/avx512 (the defaults):
     * the same kernels with the exact partial-sum early exit (the rest of a
     * block of pairs is skipped once even an upper bound on the count fails
     * the threshold; identical results). */
    printf("  -full: every popcount of every pair; early exit: the default kernels, which skip "
           "the rest of a block of pairs once an upper bound on its counts fails the threshold "
           "(same results)\n");
    const char *kn[] = {"scalar", "avx2-full", "avx2", "avx512-full", "avx512"};
    const char *kl[] = {"scalar", "avx2-full", "avx2 early exit", "avx512-full",
                        "avx512 early exit"};
    for (int k = 0; k < 5; k++) {
        const bl_kernel *kk = bli_kernel_by_name(kn[k]);
        if (!kk) {
            printf("  %-18s not supported by this CPU\n", kl[k]);
            continue;
        }
        bli_kernel_force(kk);
        double d1 = 1e30, dn = 1e30, c1 = 1e30, cn = 1e30;
        for (int r = 0; r < reps; r++) {
            double x = run(A, B, 0.95, 1, NULL, NULL, NULL), xc = g_cpu;
            double y = run(A, B, 0.95, 0, NULL, NULL, NULL), yc = g_cpu;
            d1 = x < d1 ? x : d1;
            dn = y < dn ? y : dn;
            c1 = xc < c1 ? xc : c1;
            cn = yc < cn ? yc : cn;
        }
        /* the 2-core figure per CPU-second is pairs / (CPU s / cores): what
         * the cores deliver when nobody else runs */
        double r1 = pairs / d1, rn = pairs / dn, q1 = pairs / c1, qn = pairs / cn * ncpu;
        printf("  %-18s 1 thread %8.1f (%8.1f) x%.1f (x%.1f) | %d threads %8.1f (%8.1f) x%.1f "
               "(x%.1f)\n", kl[k], r1 / 1e6, q1 / 1e6, r1 / plain, q1 / plain_cpu, ncpu,
               rn / 1e6, qn / 1e6, rn / plain, qn / plain_cpu);
        if (json)
            fprintf(stderr,
                    "{\"kernel\":\"%s\",\"plain_wall\":%.0f,\"plain_cpu\":%.0f,"
                    "\"k1_wall\":%.0f,\"k1_cpu\":%.0f,\"kn_wall\":%.0f,\"kn_cpu\":%.0f,"
                    "\"threads\":%d}\n", kn[k], plain, plain_cpu, r1, q1, rn, qn, ncpu);
    }
    print_load("after");
    bli_kernel_force(NULL);
    free(pa);
    free(pb);
    bl_clkset_free(A);
    bl_clkset_free(B);
    if (only_kernels)
        return 0;

    /* 2. FEBRL-like exhaustive, pruning active: the default kernel, then
     * each SIMD kernel with and without the early exit (same candidates) */
    size_t nf = quick ? 5000 : 20000;
    febrl_like(nf, &A, &B);
    size_t nc;
    double d = run(A, B, 0.8, 0, NULL, &nc, NULL);
    printf("\n[2] FEBRL-like filters (token model, corrupted duplicates), %zu x %zu exhaustive, "
           "threshold 0.8, %d threads; best of %d\n", nf, nf, ncpu, reps);
    printf("  default kernel %s: %.3f s, %.1f M pairs/s effective (popcount pruning), %zu "
           "candidates >= 0.8\n", bl_match_kernel_name(), d, (double)nf * nf / d / 1e6, nc);
    const char *kf[] = {"avx2-full", "avx2", "avx512-full", "avx512"};
    for (int k = 0; k < 4; k++) {
        const bl_kernel *kk = bli_kernel_by_name(kf[k]);
        if (!kk)
            continue;
        bli_kernel_force(kk);
        double best = 1e30, bcpu = 1e30;
        size_t nk = 0;
        for (int r = 0; r < reps; r++) {
            double x = run(A, B, 0.8, 0, NULL, &nk, NULL);
            best = x < best ? x : best;
            bcpu = g_cpu < bcpu ? g_cpu : bcpu;
        }
        printf("  %-12s %.3f s wall, %.3f CPU-s, %zu candidates%s\n", kf[k], best, bcpu, nk,
               nk == nc ? "" : " (DIFFERS)");
    }
    bli_kernel_force(NULL);
    bl_clkset_free(A);
    bl_clkset_free(B);

    /* 3. large blocked linkage */
    printf("\n[3] %zu x %zu corrupted duplicates with keyed LSH blocking, threshold 0.8\n", large,
           large);
    double g0 = bl_clock_s();
    febrl_like(large, &A, &B);
    printf("  generated in %.1f s\n", bl_clock_s() - g0);
    uint32_t tables, bits;
    const bl_clkset *sets[2] = {A, B};
    bl_blocking_lsh_auto(sets, 2, 0.8, 0.99, &tables, &bits);
    if (getenv("BL_BENCH_LSH_TABLES")) /* manual override for experiments */
        tables = (uint32_t)atoi(getenv("BL_BENCH_LSH_TABLES"));
    if (getenv("BL_BENCH_LSH_BITS"))
        bits = (uint32_t)atoi(getenv("BL_BENCH_LSH_BITS"));
    bl_blocking *bk;
    bl_error e = {0};
    if (bl_blocking_new_lsh(1024, tables, bits, (const uint8_t *)"bench-key", 9, &bk, &e))
        abort();
    bl_candidate *cand;
    bl_blocking_stats bst;
    /* bl_blocking_stats_compute is not the match's blocking: it is a
     * separate counting path that tests every colliding pair (not only
     * those that pass the threshold, as the match does) for an earlier
     * shared table, to count distinct pairs. When every record's key in
     * every table fits in 512 MiB it precomputes them on one thread (timed
     * alone here, with the same condition as blocking.c); otherwise each
     * colliding pair compares filter bitmaps against every earlier table's
     * mask, which is what makes it slow at 1M x 1M. */
    size_t nrec = 2 * large;
    int keys_fit = nrec && (size_t)tables <= ((size_t)512 << 20) / 4 / nrec;
    double kcpu = 0;
    uint64_t ksum = 0;
    if (keys_fit) {
        double k0 = cpu_s();
        for (size_t d2 = 0; d2 < 2; d2++)
            for (size_t i = 0; i < sets[d2]->count; i++)
                for (uint32_t t = 0; t < tables; t++)
                    ksum += bli_lsh_key(bk, t, bl_clkset_get(sets[d2], i));
        kcpu = cpu_s() - k0;
    }
    double s0 = bl_clock_s(), sc0 = cpu_s();
    if (bl_blocking_stats_compute(bk, sets, 2, &bst, &e))
        abort();
    double swall = bl_clock_s() - s0, scpu = cpu_s() - sc0;
    printf("  blocking statistics (a separate counting path, not part of the match run): %.1f s "
           "wall, %.1f CPU-s on %d threads; %.3g distinct pairs compared (reduction ratio %.6f)\n",
           swall, scpu, ncpu, (double)bst.pairs_compared, bst.reduction_ratio);
    if (keys_fit)
        printf("    (its keys of all records, on 1 thread: %.1f CPU-s [%02x])\n", kcpu,
               (unsigned)(ksum & 0xff));
    else
        printf("    (keys do not fit in 512 MiB: each colliding pair is tested against the masks "
               "of all earlier tables)\n");
    double lc0 = cpu_s();
    d = run(A, B, 0.8, 0, bk, &nc, &cand);
    double lcpu = cpu_s() - lc0;
    /* recall of true duplicates whose exact Dice reaches the threshold */
    size_t eligible = 0, found = 0;
    for (size_t i = 0; i < large; i++)
        eligible += bl_dice(bl_clkset_get(A, i), bl_clkset_get(B, i), 128) >= 0.8;
    for (size_t i = 0; i < nc; i++)
        found += cand[i].rec[0] == cand[i].rec[1];
    free(cand);
    printf("  match run, LSH %u tables x %u bits (keys, sort, bucket scan, comparisons): %.1f s "
           "wall, %.1f CPU-s on %d threads, %zu candidates; true duplicates kept %zu of %zu "
           "(%.4f)\n",
           tables, bits, d, lcpu, ncpu, nc, found, eligible,
           eligible ? (double)found / eligible : 1.0);
    /* exhaustive figure from a sample */
    size_t ns = quick ? 10000 : 30000;
    bl_clkset *SA, *SB;
    if (bl_clkset_new(1024, ns, &SA, &e) || bl_clkset_new(1024, ns, &SB, &e))
        abort();
    for (size_t i = 0; i < ns; i++)
        if (bl_clkset_append(SA, bl_clkset_get(A, i), NULL, &e) ||
            bl_clkset_append(SB, bl_clkset_get(B, i), NULL, &e))
            abort();
    bl_candidate *full, *blk;
    size_t nfull, nblk;
    double de = run(SA, SB, 0.8, 0, NULL, &nfull, &full);
    double db = run(SA, SB, 0.8, 0, bk, &nblk, &blk);
    bl_blocking_stats st;
    const bl_clkset *ss[2] = {SA, SB};
    if (bl_blocking_stats_compute(bk, ss, 2, &st, &e))
        abort();
    printf("  sample %zu x %zu: exhaustive %zu candidates in %.2f s; blocked %zu in %.2f s; pair "
           "completeness %.4f; reduction ratio %.5f\n",
           ns, ns, nfull, de, nblk, db, bl_candidates_completeness(full, nfull, blk, nblk),
           st.reduction_ratio);
    free(full);
    free(blk);
    printf("\npeak memory (max RSS): %ld MiB\n", peak_mib());
    bl_blocking_free(bk);
    bl_clkset_free(SA);
    bl_clkset_free(SB);
    bl_clkset_free(A);
    bl_clkset_free(B);
    return 0;
}
