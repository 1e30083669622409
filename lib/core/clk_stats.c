/* lib/core/clk_stats.c - what a CLK file looks like without comparing it to
 * anything (anonlink-client's `describe`): number of filters, length,
 * popcount distribution (min, quartiles, max, mean, standard deviation,
 * full histogram) and the share of bits set. A filter with almost no or
 * almost all bits set matches poorly, so the histogram is the first check
 * of a schema on real data. Uses the compiler's popcount builtin on 64-bit
 * words (scalar; the SIMD kernels live in the match layer above). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/clk.h>

static uint32_t popcount_filter(const uint8_t *f, size_t nbytes)
{
    uint32_t n = 0;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t w;
        memcpy(&w, f + i, 8);
        n += (uint32_t)__builtin_popcountll(w);
    }
    for (; i < nbytes; i++)
        n += (uint32_t)__builtin_popcount(f[i]);
    return n;
}

/* value at quantile q of the distribution held in the histogram */
static double quantile(const uint64_t *hist, uint32_t nbits, size_t count, double q)
{
    if (!count)
        return NAN;
    uint64_t want = (uint64_t)floor(q * (double)(count - 1)), seen = 0;
    for (uint32_t v = 0; v <= nbits; v++) {
        seen += hist[v];
        if (seen > want)
            return v;
    }
    return nbits;
}

bl_status bl_clkset_stats(const bl_clkset *s, bl_clk_stats *out, bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return bl_error_set(err, BL_EINVAL, "stats: NULL set");
    out->count = s->count;
    out->nbits = s->nbits;
    out->hist = calloc((size_t)s->nbits + 1, sizeof *out->hist);
    if (!out->hist)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    double sum = 0, sum2 = 0;
    out->min = s->count ? UINT32_MAX : 0;
    for (size_t i = 0; i < s->count; i++) {
        uint32_t p = popcount_filter(bl_clkset_get(s, i), s->nbytes);
        /* padding bits past nbits are zero by the set's invariant */
        if (p > s->nbits)
            p = s->nbits;
        out->hist[p]++;
        sum += p;
        sum2 += (double)p * p;
        if (p < out->min)
            out->min = p;
        if (p > out->max)
            out->max = p;
    }
    out->empty = s->count ? out->hist[0] : 0;
    out->full = s->count ? out->hist[s->nbits] : 0;
    if (s->count) {
        double n = (double)s->count;
        out->mean = sum / n;
        out->stddev = s->count > 1 ? sqrt(fmax(0.0, (sum2 - sum * sum / n) / (n - 1))) : 0.0;
        out->density = out->mean / s->nbits;
    } else {
        out->mean = out->stddev = out->density = NAN;
    }
    out->q1 = quantile(out->hist, s->nbits, s->count, 0.25);
    out->median = quantile(out->hist, s->nbits, s->count, 0.5);
    out->q3 = quantile(out->hist, s->nbits, s->count, 0.75);
    return BL_OK;
}

void bl_clk_stats_free(bl_clk_stats *st)
{
    if (!st)
        return;
    free(st->hist);
    st->hist = NULL;
}
