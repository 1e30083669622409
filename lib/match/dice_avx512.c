/* lib/match/dice_avx512.c - AVX-512 popcount kernel using VPOPCNTDQ (per-64-bit
 * lane popcount) with masked loads for tails; target attributes keep the
 * rest of the build baseline; chosen at run time when the CPU has
 * avx512f + avx512vpopcntdq. */
#include "match/match_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,bmi2")))

AVX512_TARGET static uint32_t avx512_and_popcount(const uint8_t *a, const uint8_t *b, size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i x = _mm512_loadu_si512((const void *)(a + i));
        __m512i y = _mm512_loadu_si512((const void *)(b + i));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
    }
    if (i < n) {
        __mmask64 m = _bzhi_u64(~0ULL, (unsigned)(n - i));
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

AVX512_TARGET static uint32_t avx512_popcount(const uint8_t *a, size_t n)
{
    return avx512_and_popcount(a, a, n);
}

/* Sum of 8 lanes of 8 vectors at once: out[j] = sum of lanes of v[j]. */
AVX512_TARGET static inline __m256i hsum8x8(__m512i v0, __m512i v1, __m512i v2, __m512i v3,
                                            __m512i v4, __m512i v5, __m512i v6, __m512i v7)
{
    /* pairwise interleave-add reduces 8 vectors of 8 lanes to one vector of 8 sums */
    __m512i t0 = _mm512_add_epi64(_mm512_unpacklo_epi64(v0, v1), _mm512_unpackhi_epi64(v0, v1));
    __m512i t1 = _mm512_add_epi64(_mm512_unpacklo_epi64(v2, v3), _mm512_unpackhi_epi64(v2, v3));
    __m512i t2 = _mm512_add_epi64(_mm512_unpacklo_epi64(v4, v5), _mm512_unpackhi_epi64(v4, v5));
    __m512i t3 = _mm512_add_epi64(_mm512_unpacklo_epi64(v6, v7), _mm512_unpackhi_epi64(v6, v7));
    /* t0 lanes: [v0,v1] x 4 (128-bit groups); combine 128-bit groups */
    __m512i u0 = _mm512_add_epi64(_mm512_shuffle_i64x2(t0, t1, 0x88), _mm512_shuffle_i64x2(t0, t1, 0xdd));
    __m512i u1 = _mm512_add_epi64(_mm512_shuffle_i64x2(t2, t3, 0x88), _mm512_shuffle_i64x2(t2, t3, 0xdd));
    /* u0 128-bit groups: [v0v1 g0+g1], [v0v1 g2+g3], [v2v3 ...], [v2v3 ...] */
    __m512i w = _mm512_add_epi64(_mm512_shuffle_i64x2(u0, u1, 0x88), _mm512_shuffle_i64x2(u0, u1, 0xdd));
    /* w groups: v0v1, v2v3, v4v5, v6v7 -> convert to 32-bit */
    return _mm512_cvtepi64_epi32(w);
}

AVX512_TARGET static void many_128(const uint8_t *a, const uint8_t *b, size_t stride,
                                   size_t count, uint32_t *out)
{
    __m512i a0 = _mm512_loadu_si512((const void *)a);
    __m512i a1 = _mm512_loadu_si512((const void *)(a + 64));
    size_t j = 0;
#define PC(k)                                                                              \
    _mm512_add_epi64(                                                                     \
        _mm512_popcnt_epi64(_mm512_and_si512(a0, _mm512_loadu_si512((const void *)(b + (j + k) * stride)))), \
        _mm512_popcnt_epi64(_mm512_and_si512(a1, _mm512_loadu_si512((const void *)(b + (j + k) * stride + 64)))))
    for (; j + 8 <= count; j += 8) {
        __m512i v0 = PC(0), v1 = PC(1), v2 = PC(2), v3 = PC(3);
        __m512i v4 = PC(4), v5 = PC(5), v6 = PC(6), v7 = PC(7);
        _mm256_storeu_si256((__m256i *)(void *)(out + j), hsum8x8(v0, v1, v2, v3, v4, v5, v6, v7));
    }
    for (; j < count; j++)
        out[j] = (uint32_t)_mm512_reduce_add_epi64(PC(0));
#undef PC
}

AVX512_TARGET static void avx512_and_popcount_many(const uint8_t *a, const uint8_t *b, size_t stride,
                                                   size_t count, size_t n, uint32_t *out)
{
    if (n == 128) {
        many_128(a, b, stride, count, out);
        return;
    }
    for (size_t j = 0; j < count; j++)
        out[j] = avx512_and_popcount(a, b + j * stride, n);
}

/* 1024-bit filters: 8 pairs per step, counts reduced in registers, the
 * threshold prefilter applied as a vector compare; survivors are rare. */
AVX512_TARGET static size_t filter_128(const uint8_t *a, uint32_t pa, const uint8_t *b,
                                       size_t stride, size_t count, const uint32_t *bpop,
                                       float tf, uint32_t *idx, uint32_t *cnt)
{
    __m512i a0 = _mm512_loadu_si512((const void *)a);
    __m512i a1 = _mm512_loadu_si512((const void *)(a + 64));
    const __m256 tfv = _mm256_set1_ps(tf);
    const __m256i pav = _mm256_set1_epi32((int)pa), one = _mm256_set1_epi32(1);
    size_t j = 0, k = 0;
#define PC(q)                                                                              \
    _mm512_add_epi64(                                                                     \
        _mm512_popcnt_epi64(_mm512_and_si512(a0, _mm512_loadu_si512((const void *)(b + (j + q) * stride)))), \
        _mm512_popcnt_epi64(_mm512_and_si512(a1, _mm512_loadu_si512((const void *)(b + (j + q) * stride + 64)))))
    for (; j + 8 <= count; j += 8) {
        __m512i v0 = PC(0), v1 = PC(1), v2 = PC(2), v3 = PC(3);
        __m512i v4 = PC(4), v5 = PC(5), v6 = PC(6), v7 = PC(7);
        __m256i c = hsum8x8(v0, v1, v2, v3, v4, v5, v6, v7);
        __m256i pb = _mm256_loadu_si256((const __m256i *)(const void *)(bpop + j));
        __m256 lhs = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_slli_epi32(c, 1), one));
        __m256 rhs = _mm256_mul_ps(tfv, _mm256_cvtepi32_ps(_mm256_add_epi32(pav, pb)));
        __mmask8 m = _mm256_cmp_ps_mask(lhs, rhs, _CMP_GE_OQ);
        if (m) {
            uint32_t tmp[8];
            _mm256_storeu_si256((__m256i *)(void *)tmp, c);
            while (m) {
                unsigned bit = (unsigned)__builtin_ctz(m);
                idx[k] = (uint32_t)(j + bit);
                cnt[k++] = tmp[bit];
                m &= (__mmask8)(m - 1);
            }
        }
    }
    for (; j < count; j++) {
        uint32_t c = (uint32_t)_mm512_reduce_add_epi64(PC(0));
        if ((float)(2 * c + 1) >= tf * (float)(pa + bpop[j])) {
            idx[k] = (uint32_t)j;
            cnt[k++] = c;
        }
    }
#undef PC
    return k;
}

static size_t avx512_filter(const uint8_t *a, uint32_t pa, const uint8_t *b, size_t stride,
                            size_t count, size_t n, const uint32_t *bpop, float tf, uint32_t *idx,
                            uint32_t *cnt)
{
    if (n == 128)
        return filter_128(a, pa, b, stride, count, bpop, tf, idx, cnt);
    return bli_filter_generic(avx512_and_popcount_many, a, pa, b, stride, count, n, bpop, tf, idx,
                             cnt);
}

/* Interleaved blocks of 8 filters: one zmm holds word w of 8 filters, so
 * the 8 counts accumulate lane-wise with no horizontal reduction. */
AVX512_TARGET static inline __m512i block_counts(const uint64_t *a, size_t nw, const uint64_t *p)
{
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    size_t w = 0;
    for (; w + 4 <= nw; w += 4) {
        c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_and_si512(
                                      _mm512_set1_epi64((long long)a[w]), _mm512_loadu_si512(p + w * 8))));
        c1 = _mm512_add_epi64(c1, _mm512_popcnt_epi64(_mm512_and_si512(
                                      _mm512_set1_epi64((long long)a[w + 1]), _mm512_loadu_si512(p + w * 8 + 8))));
        c2 = _mm512_add_epi64(c2, _mm512_popcnt_epi64(_mm512_and_si512(
                                      _mm512_set1_epi64((long long)a[w + 2]), _mm512_loadu_si512(p + w * 8 + 16))));
        c3 = _mm512_add_epi64(c3, _mm512_popcnt_epi64(_mm512_and_si512(
                                      _mm512_set1_epi64((long long)a[w + 3]), _mm512_loadu_si512(p + w * 8 + 24))));
    }
    for (; w < nw; w++)
        c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_and_si512(
                                      _mm512_set1_epi64((long long)a[w]), _mm512_loadu_si512(p + w * 8))));
    return _mm512_add_epi64(_mm512_add_epi64(c0, c1), _mm512_add_epi64(c2, c3));
}

AVX512_TARGET static inline size_t il_tail(__m512i acc, size_t blk, size_t lo, size_t hi,
                                           uint32_t pa, const uint32_t *bpop, __m256 tfv,
                                           uint32_t *idx, uint32_t *cnt, size_t k)
{
    __m256i c = _mm512_cvtepi64_epi32(acc);
    __m256i pb = _mm256_loadu_si256((const __m256i *)(const void *)(bpop + blk * 8));
    __m256 lhs = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_slli_epi32(c, 1), _mm256_set1_epi32(1)));
    __m256 rhs = _mm256_mul_ps(tfv, _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32((int)pa), pb)));
    __mmask8 m = _mm256_cmp_ps_mask(lhs, rhs, _CMP_GE_OQ);
    if (blk * 8 < lo)
        m &= (__mmask8)(0xffu << (lo - blk * 8));
    if (blk * 8 + 8 > hi)
        m &= (__mmask8)(0xffu >> (blk * 8 + 8 - hi));
    if (m) {
        uint32_t tmp[8];
        _mm256_storeu_si256((__m256i *)(void *)tmp, c);
        while (m) {
            unsigned bit = (unsigned)__builtin_ctz(m);
            idx[k] = (uint32_t)(blk * 8 + bit);
            cnt[k++] = tmp[bit];
            m &= (__mmask8)(m - 1);
        }
    }
    return k;
}

AVX512_TARGET static size_t avx512_filter_il(const uint64_t *a, size_t nw, uint32_t pa,
                                             const uint64_t *b, size_t lo, size_t hi,
                                             const uint32_t *bpop, float tf, uint32_t *idx,
                                             uint32_t *cnt)
{
    size_t k = 0;
    const __m256 tfv = _mm256_set1_ps(tf);
    if (nw == 16) {
        /* 1024-bit filters: the 16 words of A stay in registers */
        __m512i av[16];
        for (int w = 0; w < 16; w++)
            av[w] = _mm512_set1_epi64((long long)a[w]);
        for (size_t blk = lo / 8; blk * 8 < hi; blk++) {
            const uint64_t *p = b + blk * 128;
            __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
            for (int w = 0; w < 16; w += 4) {
                c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_and_si512(av[w], _mm512_load_si512(p + w * 8))));
                c1 = _mm512_add_epi64(c1, _mm512_popcnt_epi64(_mm512_and_si512(av[w + 1], _mm512_load_si512(p + w * 8 + 8))));
                c2 = _mm512_add_epi64(c2, _mm512_popcnt_epi64(_mm512_and_si512(av[w + 2], _mm512_load_si512(p + w * 8 + 16))));
                c3 = _mm512_add_epi64(c3, _mm512_popcnt_epi64(_mm512_and_si512(av[w + 3], _mm512_load_si512(p + w * 8 + 24))));
            }
            __m512i acc = _mm512_add_epi64(_mm512_add_epi64(c0, c1), _mm512_add_epi64(c2, c3));
            k = il_tail(acc, blk, lo, hi, pa, bpop, tfv, idx, cnt, k);
        }
        return k;
    }
    for (size_t blk = lo / 8; blk * 8 < hi; blk++)
        k = il_tail(block_counts(a, nw, b + blk * nw * 8), blk, lo, hi, pa, bpop, tfv, idx, cnt, k);
    return k;
}

/* Register blocking: one load of word w of 8 B filters feeds all rows of A
 * (their word w broadcast from L1), so a block of B is read once per
 * BL_IL_ROWS filters of A. With one row the 256 KiB tile of B streamed from
 * L2 for every A filter, two cache lines per pair, and that was the limit;
 * now the popcount port is. Four accumulators of 8 pairs each: no
 * horizontal sums at all. */
AVX512_TARGET static inline void rows_counts(const uint64_t *const *a, size_t nw,
                                             const uint64_t *p, __m512i acc[BL_IL_ROWS])
{
    const uint64_t *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    for (size_t w = 0; w < nw; w++) {
        __m512i bw = _mm512_loadu_si512(p + w * 8);
        c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_and_si512(bw, _mm512_set1_epi64((long long)a0[w]))));
        c1 = _mm512_add_epi64(c1, _mm512_popcnt_epi64(_mm512_and_si512(bw, _mm512_set1_epi64((long long)a1[w]))));
        c2 = _mm512_add_epi64(c2, _mm512_popcnt_epi64(_mm512_and_si512(bw, _mm512_set1_epi64((long long)a2[w]))));
        c3 = _mm512_add_epi64(c3, _mm512_popcnt_epi64(_mm512_and_si512(bw, _mm512_set1_epi64((long long)a3[w]))));
    }
    acc[0] = c0;
    acc[1] = c1;
    acc[2] = c2;
    acc[3] = c3;
}

AVX512_TARGET static size_t avx512_filter_il_rows(const uint64_t *const *a, size_t nw,
                                                  const uint32_t *pa, const uint64_t *b,
                                                  size_t lo, size_t hi, const uint32_t *bpop,
                                                  float tf, uint32_t *idx, uint32_t *cnt,
                                                  uint8_t *row)
{
    _Static_assert(BL_IL_ROWS == 4, "rows_counts holds four rows");
    size_t k = 0;
    const __m256 tfv = _mm256_set1_ps(tf);
    for (size_t blk = lo / 8; blk * 8 < hi; blk++) {
        __m512i acc[BL_IL_ROWS];
        if (nw == 16) /* constant trip count: fully unrolled for 1024-bit filters */
            rows_counts(a, 16, b + blk * 128, acc);
        else
            rows_counts(a, nw, b + blk * nw * 8, acc);
        for (int r = 0; r < BL_IL_ROWS; r++) {
            size_t k0 = k;
            k = il_tail(acc[r], blk, lo, hi, pa[r], bpop, tfv, idx, cnt, k);
            for (; k0 < k; k0++)
                row[k0] = (uint8_t)r;
        }
    }
    return k;
}

static const bl_kernel k_avx512 = {
    "avx512", avx512_popcount, avx512_and_popcount, avx512_and_popcount_many, avx512_filter,
    avx512_filter_il, avx512_filter_il_rows,
};

const bl_kernel *bli_kernel_avx512_get(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vpopcntdq") &&
        __builtin_cpu_supports("bmi2"))
        return &k_avx512;
    return NULL;
}

#else
const bl_kernel *bli_kernel_avx512_get(void)
{
    return NULL;
}
#endif
