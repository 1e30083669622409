/* lib/match/dice.c - Dice coefficient: the portable scalar popcount kernel, the
 * run-time choice of kernel (CPU detection, BL_KERNEL override) and the
 * exact threshold table used to test Dice >= t without a division. */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <pthread.h>
#include "match/match_internal.h"

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t scalar_popcount(const uint8_t *a, size_t n)
{
    uint64_t c = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        c += (uint64_t)__builtin_popcountll(load64(a + i));
    for (; i < n; i++)
        c += (uint64_t)__builtin_popcount(a[i]);
    return (uint32_t)c;
}

static uint32_t scalar_and_popcount(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t c = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        c += (uint64_t)__builtin_popcountll(load64(a + i) & load64(b + i));
    for (; i < n; i++)
        c += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
    return (uint32_t)c;
}

static void scalar_and_popcount_many(const uint8_t *a, const uint8_t *b, size_t stride,
                                     size_t count, size_t n, uint32_t *out)
{
    for (size_t j = 0; j < count; j++)
        out[j] = scalar_and_popcount(a, b + j * stride, n);
}

size_t bli_filter_generic(void (*many)(const uint8_t *, const uint8_t *, size_t, size_t, size_t,
                                      uint32_t *),
                         const uint8_t *a, uint32_t pa, const uint8_t *b, size_t stride,
                         size_t count, size_t n, const uint32_t *bpop, float tf, uint32_t *idx,
                         uint32_t *cnt)
{
    uint32_t tmp[256];
    size_t k = 0;
    for (size_t j0 = 0; j0 < count; j0 += 256) {
        size_t m = count - j0 < 256 ? count - j0 : 256;
        many(a, b + j0 * stride, stride, m, n, tmp);
        for (size_t q = 0; q < m; q++)
            if ((float)(2 * tmp[q] + 1) >= tf * (float)(pa + bpop[j0 + q])) {
                idx[k] = (uint32_t)(j0 + q);
                cnt[k++] = tmp[q];
            }
    }
    return k;
}

float bli_threshold_float(double t)
{
    float f = (float)t;
    while ((double)f > t)
        f = nextafterf(f, 0.0f);
    return f;
}

static size_t scalar_filter(const uint8_t *a, uint32_t pa, const uint8_t *b, size_t stride,
                            size_t count, size_t n, const uint32_t *bpop, float tf, uint32_t *idx,
                            uint32_t *cnt)
{
    return bli_filter_generic(scalar_and_popcount_many, a, pa, b, stride, count, n, bpop, tf, idx,
                             cnt);
}

static size_t scalar_filter_il(const uint64_t *a, size_t nw, uint32_t pa, const uint64_t *b,
                               size_t lo, size_t hi, const uint32_t *bpop, float tf, uint32_t *idx,
                               uint32_t *cnt)
{
    size_t k = 0;
    for (size_t p = lo; p < hi; p++) {
        const uint64_t *blk = b + (p / 8) * nw * 8 + (p % 8);
        uint32_t c = 0;
        for (size_t w = 0; w < nw; w++)
            c += (uint32_t)__builtin_popcountll(a[w] & blk[w * 8]);
        if ((float)(2 * c + 1) >= tf * (float)(pa + bpop[p])) {
            idx[k] = (uint32_t)p;
            cnt[k++] = c;
        }
    }
    return k;
}

/* The reference order of filter_il_rows: block, then row, then position. */
static size_t scalar_filter_il_rows(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                                    const uint64_t *b, size_t lo, size_t hi, const uint32_t *bpop,
                                    float tf, uint32_t *idx, uint32_t *cnt, uint8_t *row)
{
    size_t k = 0;
    for (size_t blk = lo / 8; blk * 8 < hi; blk++) {
        size_t s = blk * 8 > lo ? blk * 8 : lo, e = blk * 8 + 8 < hi ? blk * 8 + 8 : hi;
        for (size_t r = 0; r < BL_IL_ROWS; r++) {
            size_t n = scalar_filter_il(a[r], nw, pa[r], b, s, e, bpop, tf, idx + k, cnt + k);
            memset(row + k, (int)r, n);
            k += n;
        }
    }
    return k;
}

const bl_kernel bl_kernel_scalar = {
    "scalar", scalar_popcount, scalar_and_popcount, scalar_and_popcount_many, scalar_filter,
    scalar_filter_il, scalar_filter_il_rows,
};

const bl_kernel *bli_kernel_by_name(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "scalar") == 0)
        return &bl_kernel_scalar;
    if (strcmp(name, "avx2") == 0)
        return bli_kernel_avx2_get();
    if (strcmp(name, "avx512") == 0)
        return bli_kernel_avx512_get();
    if (strcmp(name, "avx2-full") == 0)
        return bli_kernel_avx2_full_get();
    if (strcmp(name, "avx512-full") == 0)
        return bli_kernel_avx512_full_get();
    return NULL;
}

static const bl_kernel *g_active;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose_kernel(void)
{
    const char *env = getenv("BL_KERNEL");
    const bl_kernel *k = NULL;
    if (env && *env && strcmp(env, "auto") != 0)
        k = bli_kernel_by_name(env); /* unsupported request falls back to auto */
    if (!k)
        k = bli_kernel_avx512_get();
    if (!k)
        k = bli_kernel_avx2_get();
    if (!k)
        k = &bl_kernel_scalar;
    g_active = k;
}

const bl_kernel *bli_kernel_active(void)
{
    pthread_once(&g_once, choose_kernel);
    return g_active;
}

const char *bl_match_kernel_name(void)
{
    return bli_kernel_active()->name;
}

double bl_dice(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    const bl_kernel *k = bli_kernel_active();
    uint32_t pa = k->popcount(a, nbytes), pb = k->popcount(b, nbytes);
    if (pa + pb == 0)
        return 0.0;
    uint32_t c = k->and_popcount(a, b, nbytes);
    return (double)(2u * c) / (double)(pa + pb);
}

uint32_t *bli_dice_cmin_table(uint32_t nbits, double threshold)
{
    size_t nsum = 2 * (size_t)nbits + 1;
    uint32_t *t = malloc(nsum * sizeof *t);
    if (!t)
        return NULL;
    for (size_t s = 0; s < nsum; s++) {
        if (s == 0) { /* Dice is 0 by definition: never >= t > 0 */
            t[s] = nbits + 1;
            continue;
        }
        /* estimate, then correct with the exact double comparison */
        double est = threshold * (double)s / 2.0;
        int64_t c = (int64_t)est - 2;
        if (c < 0)
            c = 0;
        while (c > 0 && (double)(2 * (c - 1)) / (double)s >= threshold)
            c--;
        while ((size_t)c <= s / 2 && (double)(2 * c) / (double)s < threshold)
            c++;
        t[s] = (size_t)c > s / 2 ? nbits + 1 : (uint32_t)c;
    }
    return t;
}

void bli_kernel_force(const bl_kernel *k)
{
    pthread_once(&g_once, choose_kernel);
    if (k)
        g_active = k;
    else
        choose_kernel();
}
