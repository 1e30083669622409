/* lib/match/lsh_plan.c - planning of keyed LSH blocking: from a sample of
 * the data (filter density, agreement of sampled bits between likely
 * matches) choose the number of tables and bits per table that keep the
 * requested pair completeness at the least estimated cost, and say whether
 * blocking is worth it at all. On large inputs (1e10 pairs and more) the
 * plan is fitted to real pairs at or above the threshold, found
 * exhaustively between a sample of the first set and all of the second
 * (about 2e10 comparisons, threaded): all of them, or each sampled record's
 * best one (BL_LSH_KEEP_BEST, for 1:1 and group linkage); otherwise to a
 * pair exactly at the threshold. The blocking itself is in blocking.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "match/match_internal.h"

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Plans for the pair exactly at the threshold ignore `keep`: the pairs a
 * record would lose are the hardest ones either way. */
void bl_blocking_lsh_auto(const bl_clkset *const *sets, size_t nsets, double threshold,
                          double recall, uint32_t *tables, uint32_t *bits)
{
    (void)bl_blocking_lsh_plan(sets, nsets, threshold, recall, tables, bits, NULL);
}

/* Mean density (share of set bits) of up to 4097 evenly spread filters. */
static double sample_density(const bl_clkset *s, double n)
{
    size_t cnt = s->count, step = cnt > 4096 ? cnt / 4096 : 1, m = 0;
    double sum = 0;
    for (size_t i = 0; i < cnt && m < 4097; i += step, m++)
        sum += bl_kernel_scalar.popcount(bl_clkset_get(s, i), s->nbytes);
    return m ? sum / (double)m / n : 0.5;
}

enum { NSAMP = 4096 };

/* NSAMP random pairs of sets 0 and 1: their bit agreement (agree[]) and the
 * agreement a pair of the same popcounts would have at Dice = threshold
 * (athr[]). Returns the number of pairs sampled (0 if a set is empty). */
static size_t sample_pairs(const bl_clkset *const *sets, double threshold, double n,
                           double *agree, double *athr)
{
    if (!sets[0]->count || !sets[1]->count)
        return 0;
    const bl_kernel *kk = bli_kernel_active();
    uint64_t x = 0x2545F4914F6CDD1DULL;
    size_t ns = 0;
    for (; ns < NSAMP; ns++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const uint8_t *fa = bl_clkset_get(sets[0], (size_t)(x % sets[0]->count));
        const uint8_t *fb = bl_clkset_get(sets[1], (size_t)((x >> 32) % sets[1]->count));
        uint32_t pa = kk->popcount(fa, sets[0]->nbytes), pb = kk->popcount(fb, sets[0]->nbytes);
        uint32_t c = kk->and_popcount(fa, fb, sets[0]->nbytes);
        agree[ns] = 1.0 - (double)(pa + pb - 2 * c) / n;
        /* a pair of these popcounts with Dice exactly t differs in
         * (pa + pb)(1 - t) bits: denser filters agree less at the same
         * Dice, so a mean popcount overstates the agreement */
        double at = 1.0 - (double)(pa + pb) * (1.0 - threshold) / n;
        athr[ns] = at > 0.999 ? 0.999 : (at < 0 ? 0 : at);
    }
    return ns;
}

/* Tables needed at k bits per table to keep `recall` of the pairs at the
 * threshold: from the mean agreement `a`, or (with samples) the smallest L
 * whose keep probability averaged over athr[0, nkeep) reaches recall. */
static double tables_needed(uint32_t k, double a, double recall, const double *athr,
                            size_t nkeep)
{
    double L = ceil(log(1.0 - recall) / log(1.0 - pow(a, (double)k)));
    if (!(L >= 1))
        L = 1;
    if (!nkeep)
        return L;
    double lo = 1, hi = 1025;
    while (lo < hi) {
        double mid = floor((lo + hi) / 2), keep = 0;
        for (size_t i = 0; i < nkeep; i++)
            keep += 1.0 - pow(1.0 - pow(athr[i], (double)k), mid);
        if (keep / (double)nkeep >= recall)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Chance that an unrelated pair collides in one table of k bits: bits of
 * real CLKs are correlated and pairs differ in how alike they are, so the
 * mean of agreement^k over sampled pairs rather than (mean agreement)^k. */
static double collision_rate(uint32_t k, double r, const double *agree, size_t ns)
{
    if (!ns)
        return pow(r, (double)k);
    double rk = 0;
    for (size_t i = 0; i < ns; i++)
        rk += pow(agree[i], (double)k);
    return rk / (double)ns;
}

/* ---- the sample of real pairs ----
 * On large inputs the plan is fitted to the pairs that blocking must keep,
 * found exhaustively between a sample of set 0 and all of set 1: most pairs
 * above a threshold lie well above it (at 1M x 1M corrupted duplicates half
 * of them are at Dice 1), so planning for a pair exactly at the threshold
 * asked for 3-10x the tables that the measured completeness needed. */

/* Inputs smaller than this (pairs of sets 0 and 1) keep the threshold
 * plan: their blocking costs little either way, and the sample would be
 * most of the exhaustive run. */
#define EMP_MIN_PAIRS 1e10
/* Comparisons the sample may make (about 20 CPU-s with the filter kernel)
 * and its size bounds in rows of set 0: with BL_LSH_KEEP_BEST a row gives
 * at most one pair, so the sample should have a couple of thousand rows. */
#define EMP_BUDGET 2e10
#define EMP_MIN_ROWS 512
#define EMP_MAX_ROWS 4096
/* Pairs the sample must find to be trusted; fewer falls back. */
#define EMP_MIN_FOUND 200
/* Records of set 1 per block: 2,048 filters of 128 bytes stay in L2 while
 * every sample row runs over them. Rows outer, set 1 inner read all of set
 * 1 from memory once per row (1.28 GB per row at 10M: 2,000 rows took
 * about 60 of the 130 s of a 10M x 10M run). */
#define EMP_CHUNK 2048

/* Each sampled row's best pair so far: Dice 2c / s compared as cross
 * products, ties to the nearer filter (smaller Hamming distance h). */
typedef struct empbest {
    uint32_t c, s, h;
} empbest;

static int emp_better(uint32_t c, uint32_t s, uint32_t h, const empbest *b)
{
    uint64_t l = (uint64_t)c * b->s, r = (uint64_t)b->c * s;
    return !b->s || l > r || (l == r && h < b->h);
}

typedef struct empjob {
    const bl_clkset *a, *b;
    const uint32_t *bpop, *apop;
    const bl_kernel *k;
    size_t m, step;     /* sample rows 0, step, 2 step, ... (m of them) */
    size_t b0, b1;      /* this job's records of set 1 */
    double threshold;
    float tf;
    uint32_t *hist;     /* all pairs: pairs found per Hamming distance, nbits + 1 */
    empbest *best;      /* BL_LSH_KEEP_BEST: each row's best pair (else NULL) */
    size_t nh;
    int fail;
} empjob;

static void *emp_worker(void *arg)
{
    empjob *j = arg;
    uint32_t *idx = malloc(2 * EMP_CHUNK * sizeof *idx), *cnt = idx ? idx + EMP_CHUNK : NULL;
    if (!idx) {
        j->fail = 1;
        return NULL;
    }
    size_t nbytes = j->a->nbytes;
    for (size_t lo = j->b0; lo < j->b1; lo += EMP_CHUNK) {
        size_t n = j->b1 - lo < EMP_CHUNK ? j->b1 - lo : EMP_CHUNK;
        const uint8_t *fb = bl_clkset_get(j->b, lo);
        for (size_t r = 0; r < j->m; r++) {
            uint32_t pa = j->apop[r];
            size_t ns = j->k->and_popcount_filter(bl_clkset_get(j->a, r * j->step), pa, fb,
                                                  j->b->stride, n, nbytes, j->bpop + lo, j->tf,
                                                  idx, cnt);
            for (size_t s = 0; s < ns; s++) {
                uint32_t pb = j->bpop[lo + idx[s]], c = cnt[s], h = pa + pb - 2 * c;
                if (2.0 * c < j->threshold * (double)(pa + pb))
                    continue;
                j->hist[h]++;
                j->nh++;
                if (j->best && emp_better(c, pa + pb, h, &j->best[r]))
                    j->best[r] = (empbest){c, pa + pb, h};
            }
        }
    }
    free(idx);
    return NULL;
}

/* Histogram hist[0..nbits] (calloc'd) of the Hamming distances of the pairs
 * at or above the threshold between a sample of set 0 and all of set 1;
 * with `best` also, in hist[nbits + 1 ..], that of each sampled row's best
 * pair, *nbest of them. Returns the number of pairs (0, hist NULL, when the
 * inputs are too small or memory ran out); *scale = the factor from sample
 * to the whole of set 0. */
static size_t emp_sample(const bl_clkset *const *sets, double threshold, int best,
                         uint32_t **hist, size_t *nbest, double *scale)
{
    const bl_clkset *a = sets[0], *b = sets[1];
    *hist = NULL;
    *nbest = 0;
    if ((double)a->count * (double)b->count < EMP_MIN_PAIRS)
        return 0;
    double want = EMP_BUDGET / (double)b->count;
    size_t m = want < EMP_MIN_ROWS ? EMP_MIN_ROWS : (want > EMP_MAX_ROWS ? EMP_MAX_ROWS : (size_t)want);
    if (m > a->count)
        m = a->count;
    size_t step = a->count / m, nh1 = (size_t)a->nbits + 1;
    const bl_kernel *k = bli_kernel_active();
    int nt = bli_match_threads(0);
    nt = nt > 16 ? 16 : nt;
    uint32_t *bpop = malloc((b->count + m) * sizeof *bpop), *apop = bpop ? bpop + b->count : NULL;
    /* a histogram per thread, and one more for the best pairs */
    uint32_t *h = calloc(nh1 * (size_t)(nt + 1), sizeof *h), *hb = h ? h + nh1 * (size_t)nt : NULL;
    empbest *eb = best ? calloc(m * (size_t)nt, sizeof *eb) : NULL;
    if (!bpop || !h || (best && !eb)) {
        free(bpop);
        free(h);
        free(eb);
        return 0;
    }
    for (size_t i = 0; i < b->count; i++)
        bpop[i] = k->popcount(bl_clkset_get(b, i), b->nbytes);
    for (size_t r = 0; r < m; r++)
        apop[r] = k->popcount(bl_clkset_get(a, r * step), a->nbytes);
    empjob jobs[16];
    for (int t = 0; t < nt; t++)
        jobs[t] = (empjob){a, b, bpop, apop, k, m, step, b->count * (size_t)t / (size_t)nt,
                           b->count * (size_t)(t + 1) / (size_t)nt, threshold,
                           bli_threshold_float(threshold), h + nh1 * (size_t)t,
                           eb ? eb + m * (size_t)t : NULL, 0, 0};
    bli_par_run(emp_worker, jobs, sizeof *jobs, nt);
    size_t n = 0;
    int fail = 0;
    for (int t = 0; t < nt; t++) {
        n += jobs[t].nh;
        fail |= jobs[t].fail;
        for (size_t x = 0; t > 0 && x < nh1; x++)
            h[x] += jobs[t].hist[x];
    }
    /* best pairs: the best of the threads' bests per row (the order of
     * merging cannot change it: emp_better is a strict total order on
     * (Dice, -h), and equal keys are the same histogram entry) */
    for (size_t r = 0; eb && r < m; r++) {
        empbest x = eb[r];
        for (int t = 1; t < nt; t++)
            if (eb[m * (size_t)t + r].s &&
                emp_better(eb[m * (size_t)t + r].c, eb[m * (size_t)t + r].s, eb[m * (size_t)t + r].h, &x))
                x = eb[m * (size_t)t + r];
        if (x.s) {
            hb[x.h]++;
            (*nbest)++;
        }
    }
    memmove(h + nh1, hb, nh1 * sizeof *h); /* thread 1's histogram is merged */
    free(bpop);
    free(eb);
    if (fail) {
        free(h);
        *nbest = 0;
        return 0;
    }
    *hist = h;
    *scale = (double)a->count / (double)m;
    return n;
}

/* Chance that a pair at Hamming distance h collides in one table of k
 * distinct sampled positions out of n: C(n - h, k) / C(n, k). */
static double emp_collide(uint32_t h, uint32_t k, uint32_t n)
{
    double q = 1;
    for (uint32_t j = 0; j < k; j++)
        q *= j + h >= n ? 0.0 : (double)(n - h - j) / (double)(n - j);
    return q;
}

/* Smallest L <= 1024 keeping on average `target` of the sampled pairs
 * (given as a histogram hist[h] of distances, nh pairs in all, with q[h]
 * the one-table collision chance), or 0 if none does. */
static uint32_t emp_tables(const uint32_t *hist, const double *q, uint32_t n, size_t nh,
                           double target)
{
    uint32_t lo = 1, hi = 1025;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        double keep = 0;
        for (uint32_t h = 0; h <= n; h++)
            if (hist[h])
                keep += hist[h] * (1.0 - pow(1.0 - q[h], (double)mid));
        if (keep / (double)nh >= target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo > 1024 ? 0 : lo;
}

int bl_blocking_lsh_plan(const bl_clkset *const *sets, size_t nsets, double threshold,
                         double recall, uint32_t *tables, uint32_t *bits, double *compare_share)
{
    return bl_blocking_lsh_plan_keep(sets, nsets, threshold, recall, BL_LSH_KEEP_ALL, tables, bits,
                                     compare_share);
}

int bl_blocking_lsh_plan_keep(const bl_clkset *const *sets, size_t nsets, double threshold,
                              double recall, bl_lsh_keep keep, uint32_t *tables, uint32_t *bits,
                              double *compare_share)
{
    uint32_t nbits = sets[0]->nbits;
    double n = nbits, tot = 0, pairs = 0, pmean = 0, rsum = 0, rw = 0;
    double dens[64];
    size_t nd = nsets < 64 ? nsets : 64;
    for (size_t d = 0; d < nd; d++) {
        dens[d] = sample_density(sets[d], n);
        pmean += dens[d];
        tot += (double)sets[d]->count;
    }
    /* agreement at the threshold from the mean popcount (a 90th percentile
     * proved far too pessimistic on FEBRL-like data) */
    pmean /= (double)(nd ? nd : 1);
    for (size_t x = 0; x < nd; x++)
        for (size_t y = x + 1; y < nd; y++) {
            double w = (double)sets[x]->count * (double)sets[y]->count;
            pairs += w;
            rsum += w * (dens[x] * dens[y] + (1 - dens[x]) * (1 - dens[y]));
            rw += w;
        }
    double r = rw > 0 ? rsum / rw : 0.5;       /* agreement of unrelated pairs */
    double a = 1.0 - 2.0 * pmean * (1.0 - threshold); /* agreement at the threshold */
    if (a > 0.999)
        a = 0.999;
    if (a < 0.5)
        a = 0.5;
    if (!(recall > 0 && recall < 1))
        recall = 0.995;
    double *agree = malloc(2 * NSAMP * sizeof *agree);
    double *athr = agree ? agree + NSAMP : NULL; /* agreement at the threshold, per pair */
    size_t ns = agree ? sample_pairs(sets, threshold, n, agree, athr) : 0;
    /* non-matching candidates near a low threshold are mostly dense
     * filters (they reach the threshold more easily), which agree less at
     * the same Dice: average the keep probability over the denser half of
     * the sampled pairs */
    size_t nkeep = ns;
    if (ns >= 2) {
        qsort(athr, ns, sizeof *athr, cmp_double);
        nkeep = ns / 2;
    }
    uint32_t *hist = NULL, *fit = NULL;
    double escale = 1, *q = NULL;
    size_t nbest = 0;
    size_t ne = nsets >= 2 && ns ? emp_sample(sets, threshold, keep == BL_LSH_KEEP_BEST, &hist,
                                              &nbest, &escale)
                                 : 0;
    /* the pairs the plan keeps: the rows' best ones, or when the sample has
     * too few of them (few records have a pair: a low overlap) all pairs,
     * or when too few of those the plan for a pair at the threshold */
    size_t nfit = nbest;
    fit = hist ? hist + nbits + 1 : NULL;
    if (nfit < EMP_MIN_FOUND) {
        nfit = ne;
        fit = hist;
    }
    if (nfit < EMP_MIN_FOUND)
        fit = NULL;
    else
        q = malloc((nbits + 1) * sizeof *q);
    int emp = fit && q;
    /* the sample estimates the share kept: aim half-way between the
     * requested recall and 1 to leave room for its error */
    double target = 1.0 - (1.0 - recall) / 2;
    /* pairs above the threshold in all of the input, from the sample (all
     * of them pay for their repeats, whichever the plan keeps) */
    double above = (double)ne * escale * pairs / ((double)sets[0]->count * (double)sets[1]->count);
    double best = -1, share = 0;
    uint32_t bt = 1, bb = 1;
    uint32_t kmax = nbits < 32 ? nbits : 32;
    for (uint32_t k = 4; k <= kmax; k++) {
        double L, hits = 0;
        if (emp) {
            for (uint32_t h = 0; h <= nbits; h++)
                q[h] = hist[h] || fit[h] ? emp_collide(h, k, nbits) : 0;
            L = emp_tables(fit, q, nbits, nfit, target);
            if (L == 0)
                continue;
            /* the mean tables a pair collides in, over all sampled pairs */
            double sq = 0;
            for (uint32_t h = 0; h <= nbits; h++)
                sq += hist[h] * q[h];
            hits = sq / (double)ne * L;
        } else {
            L = tables_needed(k, a, recall, athr, ns ? nkeep : 0);
            if (L > 1024)
                continue;
        }
        double rk = collision_rate(k, r, agree, ns);
        /* measured on a 2-core box: ~2 ns per sampled bit per record and
         * ~100 ns per record per table for keys, sorting and bucketing; ~60 ns
         * per colliding pair (gather, compare, dedup check), which the
         * pairs above the threshold pay in every table they share */
        double cost = L * (tot * (k * 2.0 + 100.0) + pairs * rk * 60.0) + above * hits * 60.0;
        if (best < 0 || cost < best) {
            best = cost;
            bt = (uint32_t)L;
            bb = k;
            share = L * rk;
        }
    }
    free(agree);
    free(hist);
    free(q);
    int worth = 1;
    if (best < 0) { /* threshold too low to keep `recall` with 1024 tables */
        bt = 1024;
        bb = 4;
        worth = 0;
    } else if (share >= 1.0) {
        /* the tables would compare more pairs (repeats counted) than the
         * exhaustive run does */
        worth = 0;
    }
    if (compare_share)
        *compare_share = best < 0 ? INFINITY : share;
    *tables = bt;
    *bits = bb;
    return worth;
}
