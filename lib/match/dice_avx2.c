/* lib/match/dice_avx2.c - AVX2 popcount kernel: nibble lookup (vpshufb) popcount
 * accumulated with vpsadbw, compiled with a target attribute so the rest of
 * the library stays baseline x86-64; selected at run time. */
#include <string.h>
#include "match/match_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2_TARGET __attribute__((target("avx2,popcnt")))

AVX2_TARGET static inline __m256i popcnt_bytes(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

AVX2_TARGET static inline uint32_t hsum64(__m256i acc)
{
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    return (uint32_t)((uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1));
}

AVX2_TARGET static uint32_t tail_and(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t c = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        c += (uint64_t)_mm_popcnt_u64(x & y);
    }
    for (; i < n; i++)
        c += (uint64_t)_mm_popcnt_u32((unsigned)(a[i] & b[i]));
    return (uint32_t)c;
}

AVX2_TARGET static uint32_t avx2_and_popcount(const uint8_t *a, const uint8_t *b, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    const __m256i zero = _mm256_setzero_si256();
    size_t i = 0;
    /* vpsadbw per 32-byte block keeps byte counts (<= 8 each) from overflowing */
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(popcnt_bytes(_mm256_and_si256(x, y)), zero));
    }
    return hsum64(acc) + tail_and(a + i, b + i, n - i);
}

AVX2_TARGET static uint32_t avx2_popcount(const uint8_t *a, size_t n)
{
    return avx2_and_popcount(a, a, n);
}

/* 128-byte (1024-bit) filters: 4 loads of A kept in registers */
AVX2_TARGET static void many_128(const uint8_t *a, const uint8_t *b, size_t stride,
                                 size_t count, uint32_t *out)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)a);
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(a + 32));
    __m256i a2 = _mm256_loadu_si256((const __m256i *)(const void *)(a + 64));
    __m256i a3 = _mm256_loadu_si256((const __m256i *)(const void *)(a + 96));
    for (size_t j = 0; j < count; j++) {
        const uint8_t *p = b + j * stride;
        __m256i s0 = popcnt_bytes(_mm256_and_si256(a0, _mm256_loadu_si256((const __m256i *)(const void *)p)));
        __m256i s1 = popcnt_bytes(_mm256_and_si256(a1, _mm256_loadu_si256((const __m256i *)(const void *)(p + 32))));
        __m256i s2 = popcnt_bytes(_mm256_and_si256(a2, _mm256_loadu_si256((const __m256i *)(const void *)(p + 64))));
        __m256i s3 = popcnt_bytes(_mm256_and_si256(a3, _mm256_loadu_si256((const __m256i *)(const void *)(p + 96))));
        /* byte sums stay <= 32: no overflow */
        __m256i s = _mm256_add_epi8(_mm256_add_epi8(s0, s1), _mm256_add_epi8(s2, s3));
        out[j] = hsum64(_mm256_sad_epu8(s, zero));
    }
}

AVX2_TARGET static void avx2_and_popcount_many(const uint8_t *a, const uint8_t *b, size_t stride,
                                               size_t count, size_t n, uint32_t *out)
{
    if (n == 128) {
        many_128(a, b, stride, count, out);
        return;
    }
    for (size_t j = 0; j < count; j++)
        out[j] = avx2_and_popcount(a, b + j * stride, n);
}

static size_t avx2_filter(const uint8_t *a, uint32_t pa, const uint8_t *b, size_t stride,
                          size_t count, size_t n, const uint32_t *bpop, float tf, uint32_t *idx,
                          uint32_t *cnt)
{
    return bli_filter_generic(avx2_and_popcount_many, a, pa, b, stride, count, n, bpop, tf, idx,
                             cnt);
}

/* Counts of one row of A against one interleaved block (8 filters): two ymm
 * of 4 lanes each; byte popcounts are accumulated for up to 31 words (<= 248
 * per byte) before vpsadbw. */
AVX2_TARGET static inline void block8(const uint64_t *a, size_t nw, const uint64_t *p,
                                      uint64_t c8[8])
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i s0 = zero, s1 = zero;
    for (size_t w0 = 0; w0 < nw; w0 += 31) {
        size_t w1 = w0 + 31 < nw ? w0 + 31 : nw;
        __m256i b0 = zero, b1 = zero;
        for (size_t w = w0; w < w1; w++) {
            __m256i av = _mm256_set1_epi64x((long long)a[w]);
            b0 = _mm256_add_epi8(b0, popcnt_bytes(_mm256_and_si256(
                                         av, _mm256_loadu_si256((const __m256i *)(const void *)(p + w * 8)))));
            b1 = _mm256_add_epi8(b1, popcnt_bytes(_mm256_and_si256(
                                         av, _mm256_loadu_si256((const __m256i *)(const void *)(p + w * 8 + 4)))));
        }
        s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(b0, zero));
        s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(b1, zero));
    }
    _mm256_storeu_si256((__m256i *)(void *)c8, s0);
    _mm256_storeu_si256((__m256i *)(void *)(c8 + 4), s1);
}

/* Interleaved blocks of 8 filters against one row of A. */
AVX2_TARGET static size_t avx2_filter_il(const uint64_t *a, size_t nw, uint32_t pa,
                                         const uint64_t *b, size_t lo, size_t hi,
                                         const uint32_t *bpop, float tf, uint32_t *idx,
                                         uint32_t *cnt)
{
    size_t k = 0;
    for (size_t blk = lo / 8; blk * 8 < hi; blk++) {
        uint64_t c8[8];
        block8(a, nw, b + blk * nw * 8, c8);
        for (size_t r = 0; r < 8; r++) {
            size_t pos = blk * 8 + r;
            if (pos < lo || pos >= hi)
                continue;
            uint32_t c = (uint32_t)c8[r];
            if ((float)(2 * c + 1) >= tf * (float)(pa + bpop[pos])) {
                idx[k] = (uint32_t)pos;
                cnt[k++] = c;
            }
        }
    }
    return k;
}


#define AVX2_INLINE AVX2_TARGET static inline __attribute__((always_inline))

/* Qword counts of one row against one interleaved block over words
 * [w0, w1): positions 0-3 added to *s0, 4-7 to *s1. Byte counts are summed
 * for at most 31 words (<= 248 per byte) before vpsadbw widens them. */
AVX2_INLINE void counts8(const uint64_t *a, const uint64_t *p, size_t w0, size_t w1, __m256i *s0,
                         __m256i *s1)
{
    const __m256i zero = _mm256_setzero_si256();
    for (size_t c0 = w0; c0 < w1; c0 += 31) {
        size_t c1 = c0 + 31 < w1 ? c0 + 31 : w1;
        __m256i b0 = zero, b1 = zero;
#pragma GCC unroll 16
        for (size_t w = c0; w < c1; w++) {
            __m256i av = _mm256_set1_epi64x((long long)a[w]);
            b0 = _mm256_add_epi8(b0, popcnt_bytes(_mm256_and_si256(
                                         av, _mm256_loadu_si256((const __m256i *)(const void *)(p + w * 8)))));
            b1 = _mm256_add_epi8(b1, popcnt_bytes(_mm256_and_si256(
                                         av, _mm256_loadu_si256((const __m256i *)(const void *)(p + w * 8 + 4)))));
        }
        *s0 = _mm256_add_epi64(*s0, _mm256_sad_epu8(b0, zero));
        *s1 = _mm256_add_epi64(*s1, _mm256_sad_epu8(b1, zero));
    }
}

/* The 8 qword counts of s0 (positions 0-3) and s1 (4-7) as 8 dwords. */
AVX2_INLINE __m256i pack8(__m256i s0, __m256i s1)
{
    __m256i t = _mm256_or_si256(s0, _mm256_slli_epi64(s1, 32)); /* c0 c4 c1 c5 ... */
    return _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
}

/* Bit q set when position q passes the reference test
 * (float)(2c+1) >= tf * (float)(pa + pb); float(pa) + float(pb) is exact
 * (sums below 2^22), so this is the scalar formula bit for bit. */
AVX2_INLINE unsigned pass8(__m256i c, __m256 tfv, __m256 fpa, __m256 fpb)
{
    __m256 lhs = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_add_epi32(c, c), _mm256_set1_epi32(1)));
    __m256 rhs = _mm256_mul_ps(tfv, _mm256_add_ps(fpa, fpb));
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(lhs, rhs, _CMP_GE_OQ));
}

/* B's own popcounts of words [0, k) of one block, as 8 dwords. */
AVX2_INLINE __m256i bpart8(const uint64_t *p, size_t k)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    const __m256i zero = _mm256_setzero_si256();
    for (size_t c0 = 0; c0 < k; c0 += 31) {
        size_t c1 = c0 + 31 < k ? c0 + 31 : k;
        __m256i b0 = zero, b1 = zero;
#pragma GCC unroll 8
        for (size_t w = c0; w < c1; w++) {
            b0 = _mm256_add_epi8(b0, popcnt_bytes(_mm256_loadu_si256((const __m256i *)(const void *)(p + w * 8))));
            b1 = _mm256_add_epi8(b1, popcnt_bytes(_mm256_loadu_si256((const __m256i *)(const void *)(p + w * 8 + 4))));
        }
        s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(b0, zero));
        s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(b1, zero));
    }
    return pack8(s0, s1);
}

/* Rows of A against each block in turn: AVX2 has 16 registers, too few to
 * hold four rows' byte accumulators and the nibble tables, so the rows run
 * one after the other while the block (1 KiB for 1024-bit filters) sits in
 * L1. The threshold test is one 8-lane float compare per row and block.
 * Early exit (ee): after nw/4 and nw/2 words, if even
 * c_partial + min(rest of a, rest of b) fails the test at all 8 positions,
 * the rest of that row's block is skipped (see dice_avx512.c). */
AVX2_INLINE size_t rows_avx2(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                             const uint64_t *b, size_t lo, size_t hi, const uint32_t *bpop,
                             float tf, uint32_t *idx, uint32_t *cnt, uint8_t *row, int ee,
                             size_t *skipped)
{
    const __m256 tfv = _mm256_set1_ps(tf);
    size_t k = 0, k1 = nw / 4, k2 = nw / 2;
    __m256 fpa[BL_IL_ROWS];
    __m256i ra1[BL_IL_ROWS], ra2[BL_IL_ROWS];
    for (int r = 0; r < BL_IL_ROWS; r++) {
        uint32_t p1 = 0, p2 = 0;
        for (size_t w = 0; ee && w < k2; w++) {
            uint32_t c = (uint32_t)_mm_popcnt_u64(a[r][w]);
            p1 += w < k1 ? c : 0;
            p2 += c;
        }
        fpa[r] = _mm256_set1_ps((float)pa[r]);
        ra1[r] = _mm256_set1_epi32((int)(pa[r] - p1));
        ra2[r] = _mm256_set1_epi32((int)(pa[r] - p2));
    }
    for (size_t blk = lo / 8; blk * 8 < hi; blk++) {
        const uint64_t *p = b + blk * nw * 8;
        size_t pos = blk * 8, e = pos + 8 < hi ? pos + 8 : hi;
        unsigned valid = ((1u << (e - pos)) - 1) & (0xffu << (lo > pos ? lo - pos : 0));
        __m256i pb = _mm256_loadu_si256((const __m256i *)(const void *)(bpop + pos));
        __m256 fpb = _mm256_cvtepi32_ps(pb);
        __m256i rb1 = pb, rb2 = pb;
        if (ee) {
            rb1 = _mm256_sub_epi32(pb, bpart8(p, k1));
            rb2 = _mm256_sub_epi32(pb, bpart8(p, k2));
        }
        for (int r = 0; r < BL_IL_ROWS; r++) {
            __m256i s0 = _mm256_setzero_si256(), s1 = s0;
            size_t w = 0;
            if (ee) {
                counts8(a[r], p, 0, k1, &s0, &s1);
                __m256i bound = _mm256_add_epi32(pack8(s0, s1), _mm256_min_epu32(rb1, ra1[r]));
                if (!pass8(bound, tfv, fpa[r], fpb)) {
                    ++*skipped;
                    continue;
                }
                counts8(a[r], p, k1, k2, &s0, &s1);
                bound = _mm256_add_epi32(pack8(s0, s1), _mm256_min_epu32(rb2, ra2[r]));
                if (!pass8(bound, tfv, fpa[r], fpb)) {
                    ++*skipped;
                    continue;
                }
                w = k2;
            }
            counts8(a[r], p, w, nw, &s0, &s1);
            __m256i c = pack8(s0, s1);
            unsigned m = pass8(c, tfv, fpa[r], fpb) & valid;
            if (!m)
                continue;
            uint32_t tmp[8];
            _mm256_storeu_si256((__m256i *)(void *)tmp, c);
            while (m) {
                unsigned q = (unsigned)__builtin_ctz(m);
                idx[k] = (uint32_t)(pos + q);
                cnt[k] = tmp[q];
                row[k++] = (uint8_t)r;
                m &= m - 1;
            }
        }
    }
    return k;
}

AVX2_TARGET static size_t rows_entry(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                                     const uint64_t *b, size_t lo, size_t hi,
                                     const uint32_t *bpop, float tf, uint32_t *idx,
                                     uint32_t *cnt, uint8_t *row, int ee)
{
    size_t skipped = 0, k;
    ee = ee && nw >= 8; /* shorter filters: nothing worth skipping */
    if (!ee) {
        if (nw == 16) /* constant trip counts: unrolled for 1024-bit filters */
            return rows_avx2(a, 16, pa, b, lo, hi, bpop, tf, idx, cnt, row, 0, &skipped);
        return rows_avx2(a, nw, pa, b, lo, hi, bpop, tf, idx, cnt, row, 0, &skipped);
    }
    /* as in dice_avx512.c: the first EE_PROBE blocks run with the early
     * exit, the rest keep it only if at least half of those row-blocks
     * were skipped */
    enum { EE_PROBE = 8 };
    size_t mid = (lo / 8 + EE_PROBE) * 8;
    mid = mid < hi ? mid : hi;
    if (nw == 16) {
        k = rows_avx2(a, 16, pa, b, lo, mid, bpop, tf, idx, cnt, row, 1, &skipped);
        if (mid < hi)
            k += 2 * skipped >= BL_IL_ROWS * EE_PROBE
                     ? rows_avx2(a, 16, pa, b, mid, hi, bpop, tf, idx + k, cnt + k, row + k, 1, &skipped)
                     : rows_avx2(a, 16, pa, b, mid, hi, bpop, tf, idx + k, cnt + k, row + k, 0, &skipped);
        return k;
    }
    k = rows_avx2(a, nw, pa, b, lo, mid, bpop, tf, idx, cnt, row, 1, &skipped);
    if (mid < hi)
        k += 2 * skipped >= BL_IL_ROWS * EE_PROBE
                 ? rows_avx2(a, nw, pa, b, mid, hi, bpop, tf, idx + k, cnt + k, row + k, 1, &skipped)
                 : rows_avx2(a, nw, pa, b, mid, hi, bpop, tf, idx + k, cnt + k, row + k, 0, &skipped);
    return k;
}

static size_t avx2_filter_il_rows(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                                  const uint64_t *b, size_t lo, size_t hi, const uint32_t *bpop,
                                  float tf, uint32_t *idx, uint32_t *cnt, uint8_t *row)
{
    return rows_entry(a, nw, pa, b, lo, hi, bpop, tf, idx, cnt, row, 0);
}

static size_t avx2_filter_il_rows_ee(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                                     const uint64_t *b, size_t lo, size_t hi, const uint32_t *bpop,
                                     float tf, uint32_t *idx, uint32_t *cnt, uint8_t *row)
{
    return rows_entry(a, nw, pa, b, lo, hi, bpop, tf, idx, cnt, row, 1);
}

/* "avx2" (the default) uses the early exit; "avx2-full" computes every
 * popcount of every pair (the same results; for comparison) */
static const bl_kernel k_avx2 = {
    "avx2", avx2_popcount, avx2_and_popcount, avx2_and_popcount_many, avx2_filter, avx2_filter_il,
    avx2_filter_il_rows_ee,
};

const bl_kernel *bli_kernel_avx2_get(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"))
        return &k_avx2;
    return NULL;
}

static const bl_kernel k_avx2_full = {
    "avx2-full", avx2_popcount, avx2_and_popcount, avx2_and_popcount_many, avx2_filter,
    avx2_filter_il, avx2_filter_il_rows,
};

const bl_kernel *bli_kernel_avx2_full_get(void)
{
    return bli_kernel_avx2_get() ? &k_avx2_full : NULL;
}

#else
const bl_kernel *bli_kernel_avx2_full_get(void)
{
    return NULL;
}

const bl_kernel *bli_kernel_avx2_get(void)
{
    return NULL;
}
#endif
