/* lib/model/score_avx512.c - the AVX-512 field kernel: AND-popcounts of all
 * fields of a pair with VPOPCNTQ, one accumulator per field (eight fields
 * at a time, summed lane-wise in one transposing reduction instead of a
 * horizontal sum per field), the field's last bytes by a masked load so
 * exactly nbytes count; batches prefetch the records a few pairs ahead
 * (partner records are scattered; the first record of a pair mostly
 * repeats, candidates being sorted by it). */
#include "model/model_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define FP512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,bmi2")))

/* pairs ahead whose records are prefetched */
#define FP_AHEAD 8

FP512 static inline __m512i field_acc(const bl_fieldpop *fp, size_t f, const uint8_t *a, const uint8_t *b)
{
    const uint8_t *x = a + fp->off[f], *y = b + fp->off[f];
    const uint32_t n = fp->nbytes[f], full = n / 64;
    __m512i acc = _mm512_setzero_si512();
    for (uint32_t i = 0; i < full; i++)
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_loadu_si512((const void *)(x + 64 * i)),
                                                                          _mm512_loadu_si512((const void *)(y + 64 * i)))));
    if (n % 64) {
        const __mmask64 m = _bzhi_u64(~0ULL, n % 64);
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_maskz_loadu_epi8(m, x + 64 * full),
                                                                          _mm512_maskz_loadu_epi8(m, y + 64 * full))));
    }
    return acc;
}

/* out[j] = sum of the 8 lanes of v[j], j < 8. */
FP512 static inline __m256i lane_sums(const __m512i *v)
{
    __m512i p[4], q[2];
    for (int j = 0; j < 4; j++) /* 128-bit groups: [v2j, v2j+1] */
        p[j] = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2 * j], v[2 * j + 1]),
                                _mm512_unpackhi_epi64(v[2 * j], v[2 * j + 1]));
    for (int j = 0; j < 2; j++)
        q[j] = _mm512_add_epi64(_mm512_shuffle_i64x2(p[2 * j], p[2 * j + 1], 0x88),
                                _mm512_shuffle_i64x2(p[2 * j], p[2 * j + 1], 0xdd));
    return _mm512_cvtepi64_epi32(
        _mm512_add_epi64(_mm512_shuffle_i64x2(q[0], q[1], 0x88), _mm512_shuffle_i64x2(q[0], q[1], 0xdd)));
}

FP512 static inline void pair_counts(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out)
{
    for (size_t g = 0; g < fp->nf; g += 8) {
        __m512i v[8];
#pragma GCC unroll 8
        for (size_t j = 0; j < 8; j++)
            v[j] = g + j < fp->nf ? field_acc(fp, g + j, a, b) : _mm512_setzero_si512();
        __m256i s = lane_sums(v);
        if (fp->nf - g >= 8)
            _mm256_storeu_si256((__m256i *)(void *)(out + g), s);
        else
            _mm256_mask_storeu_epi32(out + g, (__mmask8)((1u << (fp->nf - g)) - 1), s);
    }
}

FP512 static void pair_avx512(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out)
{
    pair_counts(fp, a, b, out);
}

FP512 static void batch_avx512(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b, size_t n,
                               size_t ahead, uint32_t *cnt)
{
    const size_t total = n + ahead;
    for (size_t i = 0; i < n; i++) {
        if (i + FP_AHEAD < total) {
            const uint8_t *pb = b[i + FP_AHEAD], *pa = a[i + FP_AHEAD];
            for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
                _mm_prefetch((const char *)(pb + o), _MM_HINT_T0);
            if (pa != a[i + FP_AHEAD - 1])
                for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
                    _mm_prefetch((const char *)(pa + o), _MM_HINT_T0);
        }
        pair_counts(fp, a[i], b[i], cnt + i * fp->nf);
    }
}

int bli_fieldpop_avx512(bli_fieldpop_pair_fn *pair, bli_fieldpop_batch_fn *batch)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512vpopcntdq") ||
        !__builtin_cpu_supports("bmi2"))
        return 0;
    *pair = pair_avx512;
    *batch = batch_avx512;
    return 1;
}

#else
int bli_fieldpop_avx512(bli_fieldpop_pair_fn *pair, bli_fieldpop_batch_fn *batch)
{
    (void)pair;
    (void)batch;
    return 0;
}
#endif
