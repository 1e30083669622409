/* bench/bench_model.c - Fellegi-Sunter model speed and quality, with the
 * record-level Dice baseline measured in the same process on the same data:
 *  1. field-level synthetic data: N people x 6 fields (token model, 20 bits
 *     per token, 1024-bit fields at 512-bit aligned offsets), party B holds
 *     corrupted copies of half of A plus N/2 people of its own;
 *  2. blocking (record-level Dice >= 0.3, top 10) and training (u from random
 *     pairs, EM on the candidates); EM alone on >= 1M candidate pairs;
 *  3. scoring throughput (pairs/s, 1 thread and all threads) against
 *     record-level Dice of the same pairs (the baseline);
 *  4. F1 of the model decision (posterior >= 0.5, 1:1) against the best
 *     record-level threshold (greedy 1:1).
 * Usage: bench_model [--quick] [--n N] [--score-pairs M] [--reps R] [--no-quality]
 * [--score-only] (no training on the big list, no quality) [--only score|levels|baseline|none] (just
 * that loop, 1 thread, R times: for perf and CPU-time differences against "none"; levels: the field
 * kernel's levels of 4,096 counted pairs in cache, as many times over as the list is long)
 * [--files A.clk B.clk] (field-level encodings to block, train and score instead of the synthetic
 * data: their candidates, in the order `match --model` scores them; no quality)
 * [--list mixed|blocked] (the big list: blocked candidates and random pairs, half each, or the blocked
 * candidates only) [--only ...|decide|decide-vs] (decide: the decision at 0.5 with the bound;
 * decide-vs: every other rep with the bound's first stages a pair at a time, the baseline of the
 * vector kernel's)
 * [--order key|anonlink|given] (the big list sorted by record, the default, in anonlink order:
 * record-level score descending, or as bl_model_candidates gives it with BL_MODEL_ORDER_BLOCKS:
 * with --files, the block order in which `match --model` scores its decision).
 * Scoring runs in the library's tiled order and, in the same rep, in the given order
 * (BL_SCORE_ORDER=given); a memory probe in the same run gives the bandwidth of streaming
 * reads and of reading random records of B's size, the roof of the baseline's access pattern.
 * Figures depend on the machine and its load; the program prints the runs side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <blindlink/model.h>
#include "model/model_internal.h"

#define NF 6
#define FBITS 1024
#define FBYTES (FBITS / 8)

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
static inline uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (all threads): on a shared machine
 * pairs per CPU-second is the figure that does not depend on the load. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The pairs CSV of up to 500,000 scored pairs on one thread and on all,
 * rows per second; the two files must be the same bytes. */
static void bench_pairs_csv(const bl_scored_pair *sp, size_t n, const bl_clkset *const *sets)
{
    char dir[] = "/tmp/bench_model_XXXXXX", p1[64], p2[64];
    if (!mkdtemp(dir))
        abort();
    snprintf(p1, sizeof p1, "%s/one.csv", dir);
    snprintf(p2, sizeof p2, "%s/all.csv", dir);
    n = n < 500000 ? n : 500000;
    bl_error e = {0};
    double t[3];
    t[0] = now();
    if (bl_model_write_pairs(p1, sp, n, sets, 2, 1, &e))
        abort();
    t[1] = now();
    if (bl_model_write_pairs(p2, sp, n, sets, 2, 0, &e))
        abort();
    t[2] = now();
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    int same = f1 && f2;
    while (same) {
        const int c1 = fgetc(f1), c2 = fgetc(f2);
        same = c1 == c2;
        if (c1 == EOF)
            break;
    }
    if (f1)
        fclose(f1);
    if (f2)
        fclose(f2);
    remove(p1);
    remove(p2);
    remove(dir);
    if (!same) {
        fprintf(stderr, "bench_model: the pairs CSV differs between 1 and %d threads\n",
                bli_ncpus());
        abort();
    }
    printf("pairs CSV of %zu scored pairs: 1 thread %.2f M rows/s (%.3fs), %d threads %.2f M "
           "rows/s (%.3fs; the same bytes)\n",
           n, (double)n / (t[1] - t[0]) / 1e6, t[1] - t[0], bli_ncpus(),
           (double)n / (t[2] - t[1]) / 1e6, t[2] - t[1]);
}

/* A person: per field a few token ids from a skewed vocabulary. */
typedef struct person {
    uint32_t tok[NF][10];
    int nt[NF];
} person;

static const int ntok[NF] = {6, 7, 8, 1, 4, 9}; /* given, surname, dob, sex, postcode, email */
static const uint32_t vocab[NF] = {3000, 8000, 100000, 2, 5000, 1000000};

static void make_person(person *p)
{
    for (int f = 0; f < NF; f++) {
        p->nt[f] = ntok[f];
        uint32_t base = (uint32_t)(rnd() % vocab[f]);
        /* squares skew the draw: frequent names exist */
        if (f < 2)
            base = (uint32_t)((double)vocab[f] * pow((double)(rnd() % 10000) / 10000.0, 3));
        for (int t = 0; t < ntok[f]; t++)
            p->tok[f][t] = base * 16 + (uint32_t)t;
    }
}

static void corrupt(person *p)
{
    for (int f = 0; f < NF; f++) {
        uint64_t r = rnd() % 100;
        if (r < 6)
            p->nt[f] = 0; /* missing */
        else if (r < 30 && p->nt[f] > 1)
            p->tok[f][rnd() % (uint64_t)p->nt[f]] ^= 0x40000000u; /* a typo: one token differs */
        else if (r < 36 && f != 3)
            p->tok[f][0] = (uint32_t)rnd(); /* changed value (one token) */
    }
}

static void encode(const person *p, uint8_t *rec)
{
    memset(rec, 0, NF * FBYTES);
    for (int f = 0; f < NF; f++)
        for (int t = 0; t < p->nt[f]; t++) {
            uint64_t h = (uint64_t)p->tok[f][t] * 0x9E3779B97F4A7C15ULL + (uint64_t)f * 0xC2B2AE3D27D4EB4FULL;
            for (int k = 0; k < 20; k++) {
                h ^= h >> 29;
                h *= 0xBF58476D1CE4E5B9ULL;
                uint32_t bit = (uint32_t)(h >> 40) % FBITS;
                rec[f * FBYTES + bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
            }
        }
}

static bl_clkset *new_set(size_t n)
{
    bl_clkset *s = NULL;
    bl_error e = {0};
    if (bl_clkset_new(NF * FBITS, n, &s, &e))
        abort();
    char meta[2048];
    size_t o = (size_t)snprintf(meta, sizeof meta, "{\"layout\":\"fields\",\"fields\":[");
    static const char *names[NF] = {"given_name", "surname", "dob", "sex", "postcode", "email"};
    for (int f = 0; f < NF; f++)
        o += (size_t)snprintf(meta + o, sizeof meta - o, "%s{\"name\":\"%s\",\"features\":[\"%s\"],\"offset\":%d,\"bits\":%d}",
                              f ? "," : "", names[f], names[f], f * FBITS, FBITS);
    snprintf(meta + o, sizeof meta - o, "]}");
    if (bl_clkset_set_meta(s, meta, &e))
        abort();
    return s;
}

/* F1 of predicted pairs against truth "b record j < n/2 is a copy of a record j". */
static double f1_of(const bl_candidate *p, size_t n, size_t ntrue)
{
    size_t tp = 0;
    for (size_t i = 0; i < n; i++)
        tp += p[i].rec[0] == p[i].rec[1] && p[i].rec[1] < ntrue;
    double prec = n ? (double)tp / (double)n : 0, rec = (double)tp / (double)ntrue;
    return prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
}

/* The memory roof in this run: streaming reads of a buffer far larger
 * than the caches (GB/s), and the baseline's pattern without the popcount
 * (one load per 64 bytes of the B record of each pair, in list order). */
typedef struct sjob_bw {
    const uint64_t *p;
    size_t n;
    uint64_t x;
} sjob_bw;

static void *stream_read(void *arg)
{
    sjob_bw *j = arg;
    for (int r = 0; r < 2; r++)
        for (size_t i = 0; i < j->n; i += 8)
            j->x += j->p[i] ^ j->p[i + 1] ^ j->p[i + 4];
    return NULL;
}

static void memory_probe(const bl_clkset *B, const bl_candidate *big, size_t n, const bl_kernel *k)
{
    const size_t len = (size_t)512 << 20;
    uint64_t *buf = malloc(len);
    if (!buf)
        return;
    memset(buf, 1, len);
    uint64_t x = 0;
    sjob_bw one = {buf, len / 8, 0}, two[2] = {{buf, len / 16, 0}, {buf + len / 16, len / 16, 0}};
    double t0 = now();
    stream_read(&one);
    double t1 = now();
    pthread_t th;
    int started = pthread_create(&th, NULL, stream_read, &two[1]) == 0;
    stream_read(&two[0]);
    if (started)
        pthread_join(th, NULL);
    else
        stream_read(&two[1]);
    double t1b = now();
    x += one.x + two[0].x + two[1].x;
    free(buf);
    double t2 = now();
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = bl_clkset_get(B, big[i].rec[1]);
        for (size_t o = 0; o < B->nbytes; o += 64)
            x += r[o];
    }
    double t3 = now();
    (void)k;
    printf("memory probe: streaming read %.1f GB/s on 1 thread, %.1f GB/s on 2 (512 MiB x 2); 1 thread, B records of "
           "the list (%zu bytes each, no prefetch) %.1f M records/s = %.1f GB/s (checksum %llu)\n",
           2.0 * (double)len / (t1 - t0) / 1e9, 2.0 * (double)len / (t1b - t1) / 1e9, (size_t)B->nbytes,
           (double)n / (t3 - t2) / 1e6, (double)n * (double)B->nbytes / (t3 - t2) / 1e9, (unsigned long long)x & 1);
}

/* --only levels: the field kernel's levels alone, in cache: the counts of
 * the list's first LV_WIN pairs once, then their levels over and over
 * (as many pairs as the list holds). */
#define LV_WIN 4096
static double levels_loop(const bl_model *m, const bl_clkset *const *sets, const bl_setstats *ss,
                          const bl_kernel *k, const bl_candidate *big, size_t n)
{
    static uint32_t cnt[LV_WIN * BL_MODEL_MAX_FIELDS];
    static uint8_t lv[LV_WIN * BL_MODEL_MAX_FIELDS];
    static const uint8_t *ra[LV_WIN], *rb[LV_WIN];
    static const uint32_t *xa[LV_WIN], *xb[LV_WIN];
    bl_fieldpop fp;
    if (n < LV_WIN || bl_fieldpop_init(&fp, m, k))
        abort();
    for (size_t i = 0; i < LV_WIN; i++) {
        ra[i] = bl_clkset_get(sets[0], big[i].rec[0]);
        rb[i] = bl_clkset_get(sets[1], big[i].rec[1]);
        xa[i] = ss[0].pop + (size_t)big[i].rec[0] * m->nf;
        xb[i] = ss[1].pop + (size_t)big[i].rec[1] * m->nf;
    }
    fp.batch(&fp, ra, rb, LV_WIN, 0, cnt, NULL);
    double acc = 0;
    for (size_t done = 0; done < n; done += LV_WIN) {
        for (size_t q = 0; q < LV_WIN; q += 8)
            fp.levels(&fp, ra + q, rb + q, xa + q, xb + q, cnt + q * fp.cstride, NULL, 8, lv + q * m->nf);
        acc += lv[done % LV_WIN];
    }
    bl_fieldpop_free(&fp);
    return acc;
}

/* The decision's contract, checked on every run: the kept pairs come in
 * candidate order; a pair the full scores put at min_p or above is among
 * them with exactly those values; a pair left out is below min_p there. */
static void check_decision(const bl_candidate *c, const bl_scored_pair *full, size_t n,
                           const bl_scored_pair *kept, size_t nk, double min_p)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const int here = k < nk && kept[k].c.rec[0] == c[i].rec[0] &&
                         kept[k].c.rec[1] == c[i].rec[1] && kept[k].c.dset[0] == c[i].dset[0] &&
                         kept[k].c.dset[1] == c[i].dset[1];
        if (here ? kept[k].weight != full[i].weight || kept[k].probability != full[i].probability
                 : full[i].probability >= min_p) {
            fprintf(stderr, "bench_model: the decision differs from the full scores at pair %zu\n",
                    i);
            abort();
        }
        k += (size_t)here;
    }
    if (k != nk) {
        fprintf(stderr, "bench_model: the decision kept %zu pairs not in the list\n", nk - k);
        abort();
    }
}

int main(int argc, char **argv)
{
    size_t N = 20000, score_pairs = 5000000;
    int reps = 1, quality = 1, train_big = 1;
    const char *only = NULL, *order = "key", *list = "mixed", *files[2] = {NULL, NULL};
    int pairs_given = 0, order_given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            N = 4000, score_pairs = 1000000;
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            N = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-quality"))
            quality = 0;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i], quality = 0, train_big = 0;
        else if (!strcmp(argv[i], "--score-only"))
            quality = 0, train_big = 0;
        else if (!strcmp(argv[i], "--order") && i + 1 < argc)
            order = argv[++i], order_given = 1;
        else if (!strcmp(argv[i], "--files") && i + 2 < argc)
            files[0] = argv[i + 1], files[1] = argv[i + 2], i += 2, quality = 0;
        else if (!strcmp(argv[i], "--list") && i + 1 < argc)
            list = argv[++i];
        else if (!strcmp(argv[i], "--score-pairs") && i + 1 < argc)
            score_pairs = strtoull(argv[++i], NULL, 10), pairs_given = 1;
    }
    bl_error e = {0};
    bl_clkset *A = NULL, *B = NULL;
    if (files[0]) {
        if (bl_clkset_read(files[0], BL_CLK_AUTO, 0, &A, &e) ||
            bl_clkset_read(files[1], BL_CLK_AUTO, 0, &B, &e)) {
            fprintf(stderr, "bench_model: %s\n", e.msg);
            return 1;
        }
        N = A->count;
    } else {
        A = new_set(N);
        B = new_set(N);
    }
    person *pp = malloc(N * sizeof *pp);
    uint8_t rec[NF * FBYTES];
    for (size_t i = 0; !files[0] && i < N; i++) {
        make_person(&pp[i]);
        encode(&pp[i], rec);
        if (bl_clkset_append(A, rec, NULL, &e))
            abort();
    }
    for (size_t j = 0; !files[0] && j < N; j++) {
        person q;
        if (j < N / 2) {
            q = pp[j];
            corrupt(&q);
        } else {
            make_person(&q);
        }
        encode(&q, rec);
        if (bl_clkset_append(B, rec, NULL, &e))
            abort();
    }
    const bl_clkset *sets[2] = {A, B};
    if (files[0])
        printf("bench_model: %s (%zu records) x %s (%zu records), %u bytes per record, kernel %s, "
               "%d cpus\n",
               files[0], A->count, files[1], B->count, A->nbytes, bl_match_kernel_name(),
               bli_ncpus());
    else
        printf("bench_model: %zu x %zu records, %d fields of %d bits, kernel %s, %d cpus\n", N, N,
               NF, FBITS, bl_match_kernel_name(), bli_ncpus());

    double t0 = now();
    bl_candidate *c = NULL;
    size_t nc = 0;
    bl_model_link_opts lo = {.order = strcmp(order, "given") ? BL_MODEL_ORDER_SCORE : BL_MODEL_ORDER_BLOCKS};
    if (bl_model_candidates(sets, 2, &lo, &c, &nc, &e))
        abort();
    double t1 = now();
    bl_model *m = NULL;
    bl_model_train_opts to = {0};
    if (bl_model_train(sets, 2, c, nc, &to, &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double t2 = now();
    uint32_t it;
    double prior;
    int conv = bl_model_converged(m, &it, &prior);
    printf("blocking: %zu candidate pairs in %.2fs; training %.2fs (%s, %u iterations)\n", nc, t1 - t0, t2 - t1,
           conv ? "converged" : "hit the iteration limit", it);

    /* a big candidate list: the blocked pairs repeated, plus random pairs
     * (--list blocked: the blocked pairs only, as `match --model` sees them) */
    /* with --files: the files' candidates as `match --model` scores them
     * (anonlink order), unless told otherwise */
    if (files[0]) {
        list = "blocked";
        if (!pairs_given)
            score_pairs = nc;
        if (!order_given)
            order = "anonlink";
    }
    const int mixed = strcmp(list, "blocked") != 0;
    bl_candidate *big = malloc(score_pairs * sizeof *big);
    for (size_t i = 0; i < score_pairs; i++) {
        if (!mixed && nc) {
            big[i] = c[i % nc];
        } else if (i % 2 == 0 && nc) {
            big[i] = c[(i / 2) % nc];
        } else {
            big[i] = (bl_candidate){0, {0, 1}, {(uint32_t)(rnd() % N), (uint32_t)(rnd() % N)}};
        }
    }
    /* record order, or the order bl_model_candidates gives `match --model`
     * (anonlink: score descending, the random pairs' 0 last by record) */
    if (!strcmp(order, "anonlink"))
        bl_candidates_sort(big, score_pairs);
    else if (strcmp(order, "given"))
        qsort(big, score_pairs, sizeof *big, bli_candidate_key_cmp);
    printf("scoring list: %zu pairs (%s) in %s order\n", score_pairs,
           mixed ? "blocked candidates and random pairs, half each" : "blocked candidates only",
           order);
    bl_model *m2 = NULL;
    double t3 = now();
    if (train_big && bl_model_train(sets, 2, big, score_pairs, &to, &m2, &e))
        abort();
    double t4 = now();
    if (train_big)
        printf("training on %zu candidate pairs: %.2fs in all (u from 1M random pairs, patterns, EM: %s after %u "
           "iterations)\n", score_pairs, t4 - t3, bl_model_converged(m2, &it, NULL) ? "converged" : "iteration limit",
           it);

    /* scoring vs record-level Dice of the same pairs, repeated (shared
     * machine): wall-clock pairs/s and pairs per CPU-second */
    const bl_kernel *k = bli_kernel_active();
    bl_fieldpop fpk;
    if (bl_fieldpop_init(&fpk, m, k))
        abort();
    const char *fk = fpk.name;
    bl_fieldpop_free(&fpk);
    /* an output buffer touched once, as a caller scoring batches reuses it */
    bl_scored_pair *warm = calloc(score_pairs, sizeof *warm);
    if (only) {
        bl_setstats ss[2];
        if (bl_setstats_build(m, sets, 2, ss, 1, 0, &e))
            abort();
        /* --order given: the list's own order (the block order of --files) */
        if (!strcmp(order, "given") && !getenv("BL_SCORE_ORDER"))
            setenv("BL_SCORE_ORDER", "given", 1);
        /* decide-vs: every other rep with the pair-at-a-time first stages
         * (BL_SCORE_VBOUND=0), the baseline of the vector bound */
        const int vs = !strcmp(only, "decide-vs");
        if (vs)
            only = "decide";
        double acc = 0, oc0 = cpu_now(), omin = 1e30, vmin[2] = {1e30, 1e30}, vsum[2] = {0, 0};
        for (int rep = 0; rep < (vs ? 2 * reps : reps); rep++) {
            if (vs)
                setenv("BL_SCORE_VBOUND", rep % 2 ? "0" : "1", 1);
            const double r0 = cpu_now();
            if (!strcmp(only, "levels"))
                acc += levels_loop(m, sets, ss, k, big, score_pairs);
            if (!strcmp(only, "score") &&
                bl_model_score_into(m, sets, ss, 2, big, score_pairs, 1, warm, &e))
                abort();
            if (!strcmp(only, "decide")) {
                bl_scored_pair *dec = NULL;
                size_t nk;
                if (bli_model_decide_into(m, sets, ss, 2, big, score_pairs, 1, 0.5, &dec, &nk, &e))
                    abort();
                free(dec);
            }
            if (!strcmp(only, "baseline"))
                for (size_t i = 0; i < score_pairs; i++)
                    acc += k->and_popcount(bl_clkset_get(A, big[i].rec[0]), bl_clkset_get(B, big[i].rec[1]), A->nbytes);
            omin = fmin(omin, cpu_now() - r0);
            vmin[rep % 2] = fmin(vmin[rep % 2], cpu_now() - r0);
            vsum[rep % 2] += cpu_now() - r0;
        }
        const double oc1 = cpu_now();
        if (vs) {
            unsetenv("BL_SCORE_VBOUND");
            for (int v = 0; v < 2; v++)
                printf("decide, %s first stages: %d x %zu pairs, %.1f ns of CPU per pair (fastest "
                       "rep %.1f)\n",
                       v ? "pair-at-a-time" : "vector", reps, score_pairs,
                       vsum[v] * 1e9 / ((double)reps * (double)score_pairs),
                       vmin[v] * 1e9 / (double)score_pairs);
            reps *= 2;
        }
        printf("%s: %d x %zu pairs, %.1f ns of CPU per pair (fastest rep %.1f; checksum %.0f)\n", only, reps,
               score_pairs, (oc1 - oc0) * 1e9 / ((double)reps * (double)score_pairs),
               omin * 1e9 / (double)score_pairs, acc);
        bl_setstats_free(ss, 2);
        free(warm);
        free(big);
        free(c);
        free(pp);
        bl_model_free(m);
        bl_clkset_free(A);
        bl_clkset_free(B);
        return 0;
    }
    double bs[2][2] = {{0}}, bs_cpu[2][2] = {{0}}, dbest[2][2] = {{0}}, best_base = 0,
           best_base_cpu = 0;
    for (int rep = 0; rep < reps; rep++) {
        bl_setstats ss[2];
        double t5 = now(), c5 = cpu_now();
        if (bl_setstats_build(m, sets, 2, ss, 1, 0, &e))
            abort();
        double t6 = now(), c6 = cpu_now();
        printf("per-record statistics (field popcounts, term frequencies) of %zu records: %.3fs (%.3f CPU-s)\n",
               2 * N, t6 - t5, c6 - c5);
        for (int ord = 0; ord < 2; ord++)
            for (int threads = 1; threads <= bli_ncpus();
                 threads = threads == 1 && bli_ncpus() > 1 ? bli_ncpus() : threads + 99) {
                setenv("BL_SCORE_ORDER", ord ? "given" : "tiles", 1);
                double s0 = now(), c0 = cpu_now();
                if (bl_model_score_into(m, sets, ss, 2, big, score_pairs, threads, warm, &e))
                    abort();
                double s1 = now(), c1 = cpu_now();
                const int ti = threads > 1;
                bs[ord][ti] = fmax(bs[ord][ti], (double)score_pairs / (s1 - s0) / 1e6);
                bs_cpu[ord][ti] = fmax(bs_cpu[ord][ti], (double)score_pairs / (c1 - c0) / 1e6);
                printf("model scoring (%s field kernel, %s order, statistics built, warm output), %d thread%s: %.1f M "
                       "pairs/s (%.3fs; %.1f M pairs per CPU-second)\n", fk, ord ? "given" : "tiled", threads,
                       threads > 1 ? "s" : "", (double)score_pairs / (s1 - s0) / 1e6, s1 - s0,
                       (double)score_pairs / (c1 - c0) / 1e6);
                bl_scored_pair *dec = NULL;
                size_t nk = 0;
                s0 = now(), c0 = cpu_now();
                if (bli_model_decide_into(m, sets, ss, 2, big, score_pairs, threads, 0.5, &dec, &nk,
                                          &e))
                    abort();
                s1 = now(), c1 = cpu_now();
                check_decision(big, warm, score_pairs, dec, nk, 0.5);
                free(dec);
                const size_t skipped = score_pairs - nk;
                dbest[ord][ti] = fmax(dbest[ord][ti], (double)score_pairs / (s1 - s0) / 1e6);
                printf("model decision at posterior >= 0.5 (bound, %s order), %d thread%s: %.1f M "
                       "pairs/s (%.3fs; "
                       "%.1f M pairs per CPU-second; %.1f%% ruled out by the bound; decisions as "
                       "the full scores)\n",
                       ord ? "given" : "tiled", threads, threads > 1 ? "s" : "",
                       (double)score_pairs / (s1 - s0) / 1e6, s1 - s0,
                       (double)score_pairs / (c1 - c0) / 1e6,
                       100.0 * (double)skipped / (double)score_pairs);
            }
        unsetenv("BL_SCORE_ORDER");
        /* the per-pair path scoring took before the batched kernels:
         * bl_model_levels (one fused count call per pair) and the weights */
        {
            bl_fieldpop fq;
            if (bl_fieldpop_init(&fq, m, k))
                abort();
            double w[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS], pw = bl_model_prior_weight(m), chk = 0;
            for (size_t f = 0; f < m->nf; f++)
                for (uint32_t l = 0; l < bl_model_nlevels(m, f); l++)
                    w[f][l] = bl_model_level_weight(m, f, l);
            double q0 = now(), qc0 = cpu_now();
            for (size_t i = 0; i < score_pairs; i++) {
                uint8_t lv[BL_MODEL_MAX_FIELDS];
                const size_t r0 = big[i].rec[0] * m->nf, r1 = big[i].rec[1] * m->nf;
                bl_model_levels(m, &fq, bl_clkset_get(A, big[i].rec[0]), ss[0].pop + r0,
                                bl_clkset_get(B, big[i].rec[1]), ss[1].pop + r1, lv, NULL);
                double x = pw;
                for (size_t f = 0; f < m->nf; f++)
                    if (lv[f] != BL_LEVEL_MISSING)
                        x += w[f][lv[f]] + (lv[f] == 0 ? ss[0].tfadj[r0 + f] : 0);
                warm[i].weight = x;
                warm[i].probability = 1.0 / (1.0 + exp2(-x));
                chk += warm[i].probability;
            }
            double q1 = now(), qc1 = cpu_now();
            bl_fieldpop_free(&fq);
            printf("per-pair path as before (bl_model_levels per pair), 1 thread: %.1f M pairs/s (%.1f M pairs per "
                   "CPU-second; checksum %.3f)\n", (double)score_pairs / (q1 - q0) / 1e6,
                   (double)score_pairs / (qc1 - qc0) / 1e6, chk);
        }
        bl_setstats_free(ss, 2);
        bl_scored_pair *sp = NULL;
        double s0 = now(), c0 = cpu_now();
        if (bl_model_score(m, sets, 2, big, score_pairs, 0, &sp, &e))
            abort();
        double s1 = now(), c1 = cpu_now();
        bench_pairs_csv(sp, score_pairs, sets);
        free(sp);
        printf("bl_model_score incl. per-record statistics, all threads: %.1f M pairs/s (%.3fs; %.1f M pairs per "
               "CPU-second)\n", (double)score_pairs / (s1 - s0) / 1e6, s1 - s0, (double)score_pairs / (c1 - c0) / 1e6);
        double acc = 0, b0 = now(), bc0 = cpu_now();
        for (size_t i = 0; i < score_pairs; i++)
            acc += k->and_popcount(bl_clkset_get(A, big[i].rec[0]), bl_clkset_get(B, big[i].rec[1]), A->nbytes);
        double b1 = now(), bc1 = cpu_now();
        best_base = fmax(best_base, (double)score_pairs / (b1 - b0) / 1e6);
        best_base_cpu = fmax(best_base_cpu, (double)score_pairs / (bc1 - bc0) / 1e6);
        printf("baseline record-level Dice (and-popcount of the whole %d-bit record), 1 thread: "
               "%.1f M pairs/s "
               "(%.1f M pairs per CPU-second; checksum %.0f)\n",
               (int)(A->nbytes * 8), (double)score_pairs / (b1 - b0) / 1e6,
               (double)score_pairs / (bc1 - bc0) / 1e6, acc);
        memory_probe(B, big, score_pairs, k);
    }
    printf("best of %d: scoring tiled %.1f M pairs/s on 1 thread, %.1f M on %d (%.1f / %.1f M per CPU-second); "
           "given order %.1f / %.1f M (%.1f / %.1f per CPU-second); baseline %.1f M on 1 thread (%.1f per "
           "CPU-second)\n", reps, bs[0][0], bs[0][1], bli_ncpus(), bs_cpu[0][0], bs_cpu[0][1], bs[1][0], bs[1][1],
           bs_cpu[1][0], bs_cpu[1][1], best_base, best_base_cpu);
    printf("best of %d: decision (bound) tiled %.1f M pairs/s on 1 thread, %.1f M on %d; given "
           "order %.1f / %.1f M\n",
           reps, dbest[0][0], dbest[0][1], bli_ncpus(), dbest[1][0], dbest[1][1]);
    free(warm);
    if (!quality) {
        free(big);
        free(c);
        free(pp);
        bl_model_free(m);
        bl_model_free(m2);
        bl_clkset_free(A);
        bl_clkset_free(B);
        return 0;
    }

    /* quality: model decision vs the best record-level threshold */
    bl_scored_pair *sp = NULL, *res = NULL;
    size_t nres = 0;
    if (bl_model_score(m, sets, 2, c, nc, 0, &sp, &e) || bl_model_resolve(sp, nc, 2, 0.5, &res, &nres, &e))
        abort();
    bl_candidate *pr = malloc((nres ? nres : 1) * sizeof *pr);
    for (size_t i = 0; i < nres; i++)
        pr[i] = res[i].c;
    double f1m = f1_of(pr, nres, N / 2), best = 0, bt = 0;
    for (double t = 0.3; t < 1.0; t += 0.02) {
        bl_match_opts mo;
        memset(&mo, 0, sizeof mo);
        mo.threshold = t;
        bl_candidate *rc = NULL;
        size_t nrc = 0;
        if (bl_match_candidates(sets, 2, &mo, &rc, &nrc, &e))
            abort();
        bl_groups *g = NULL;
        if (bl_match_solve_greedy(rc, nrc, &g, &e))
            abort();
        size_t ng = bl_groups_count(g);
        bl_candidate *gp = malloc((ng ? ng : 1) * sizeof *gp);
        for (size_t i = 0; i < ng; i++) {
            const uint32_t *ds, *rr;
            bl_groups_get(g, i, &ds, &rr);
            gp[i] = (bl_candidate){0, {0, 1}, {ds[0] == 0 ? rr[0] : rr[1], ds[0] == 0 ? rr[1] : rr[0]}};
        }
        double f = f1_of(gp, ng, N / 2);
        if (f > best)
            best = f, bt = t;
        free(gp);
        free(rc);
        bl_groups_free(g);
    }
    printf("F1: model (posterior >= 0.5) %.4f; best record-level Dice threshold %.2f: %.4f\n", f1m, bt, best);
    free(pr);
    free(sp);
    free(res);
    free(big);
    free(c);
    free(pp);
    bl_model_free(m);
    bl_model_free(m2);
    bl_clkset_free(A);
    bl_clkset_free(B);
    return 0;
}
