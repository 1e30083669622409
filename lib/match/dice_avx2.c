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


/* Rows of A against each block in turn: AVX2 has 16 registers, too few to
 * hold four rows' byte accumulators and the nibble tables, so the rows run
 * one after the other while the 1 KiB block (1024-bit filters) sits in L1;
 * the tile of B is still streamed from L2 once per BL_IL_ROWS rows. */
AVX2_TARGET static size_t avx2_filter_il_rows(const uint64_t *const *a, size_t nw,
                                              const uint32_t *pa, const uint64_t *b, size_t lo,
                                              size_t hi, const uint32_t *bpop, float tf,
                                              uint32_t *idx, uint32_t *cnt, uint8_t *row)
{
    size_t k = 0;
    for (size_t blk = lo / 8; blk * 8 < hi; blk++) {
        const uint64_t *p = b + blk * nw * 8;
        for (int r = 0; r < BL_IL_ROWS; r++) {
            uint64_t c8[8];
            block8(a[r], nw, p, c8);
            for (size_t q = 0; q < 8; q++) {
                size_t pos = blk * 8 + q;
                if (pos < lo || pos >= hi)
                    continue;
                uint32_t c = (uint32_t)c8[q];
                if ((float)(2 * c + 1) >= tf * (float)(pa[r] + bpop[pos])) {
                    idx[k] = (uint32_t)pos;
                    cnt[k] = c;
                    row[k++] = (uint8_t)r;
                }
            }
        }
    }
    return k;
}

static const bl_kernel k_avx2 = {
    "avx2", avx2_popcount, avx2_and_popcount, avx2_and_popcount_many, avx2_filter, avx2_filter_il,
    avx2_filter_il_rows,
};

const bl_kernel *bli_kernel_avx2_get(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"))
        return &k_avx2;
    return NULL;
}

const bl_kernel *bli_kernel_avx2_ee_get(void)
{
    return bli_kernel_avx2_get();
}

#else
const bl_kernel *bli_kernel_avx2_ee_get(void)
{
    return NULL;
}

const bl_kernel *bli_kernel_avx2_get(void)
{
    return NULL;
}
#endif
