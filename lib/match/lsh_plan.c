/* lib/match/lsh_plan.c - planning of keyed LSH blocking: from a sample of
 * the data (filter density, agreement of sampled bits between likely
 * matches) choose the number of tables and bits per table that keep the
 * requested pair completeness at the least estimated cost, and say whether
 * blocking is worth it at all. Pure arithmetic on the sets; the blocking
 * itself is in blocking.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "match/match_internal.h"

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

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

int bl_blocking_lsh_plan(const bl_clkset *const *sets, size_t nsets, double threshold,
                         double recall, uint32_t *tables, uint32_t *bits, double *compare_share)
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
    double best = -1, share = 0;
    uint32_t bt = 1, bb = 1;
    uint32_t kmax = nbits < 32 ? nbits : 32;
    for (uint32_t k = 4; k <= kmax; k++) {
        double L = tables_needed(k, a, recall, athr, ns ? nkeep : 0);
        if (L > 1024)
            continue;
        double rk = collision_rate(k, r, agree, ns);
        /* measured on a 2-core box: ~2 ns per sampled bit per record and
         * ~100 ns per record per table for keys, sorting and bucketing; ~60 ns
         * per colliding pair (gather, compare, dedup check) */
        double cost = L * (tot * (k * 2.0 + 100.0) + pairs * rk * 60.0);
        if (best < 0 || cost < best) {
            best = cost;
            bt = (uint32_t)L;
            bb = k;
            share = L * rk;
        }
    }
    free(agree);
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
