/* lib/model/score_avx2.c - the AVX2 field kernel: AND-popcounts of all
 * fields of a pair by nibble lookup (vpshufb) summed with vpsadbw per
 * 32-byte block, the field's last nbytes % 32 bytes with scalar popcnt;
 * batches prefetch the records a few pairs ahead. */
#include <string.h>

#include "model/model_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define FP256 __attribute__((target("avx2,popcnt")))

#define FP_AHEAD 8

FP256 static inline __m256i popcnt_bytes(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    return _mm256_add_epi8(
        _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
        _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
}

FP256 static inline uint32_t field_count(const uint8_t *x, const uint8_t *y, uint32_t n)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i acc = zero;
    uint32_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(x + i)),
                                     _mm256_loadu_si256((const __m256i *)(const void *)(y + i)));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(popcnt_bytes(v), zero));
    }
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    uint64_t c = (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
    for (; i + 8 <= n; i += 8) {
        uint64_t p, q;
        memcpy(&p, x + i, 8);
        memcpy(&q, y + i, 8);
        c += (uint64_t)_mm_popcnt_u64(p & q);
    }
    for (; i < n; i++)
        c += (uint64_t)_mm_popcnt_u32((unsigned)(x[i] & y[i]));
    return (uint32_t)c;
}

FP256 static void pair_avx2(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b,
                            uint32_t *out)
{
    for (size_t f = 0; f < fp->nf; f++)
        out[f] = field_count(a + fp->off[f], b + fp->off[f], fp->nbytes[f]);
}

FP256 static void batch_avx2(const bl_fieldpop *fp, const uint8_t *const *a,
                             const uint8_t *const *b, size_t n, size_t ahead, uint32_t *cnt,
                             uint32_t *cross)
{
    (void)cross;
    const size_t total = n + ahead;
    for (size_t i = 0; i < n; i++) {
        if (i + FP_AHEAD < total) {
            const uint8_t *pb = b[i + FP_AHEAD], *pa = a[i + FP_AHEAD];
            if (pb != b[i + FP_AHEAD - 1])
                for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
                    _mm_prefetch((const char *)(pb + o), _MM_HINT_T0);
            if (pa != a[i + FP_AHEAD - 1])
                for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
                    _mm_prefetch((const char *)(pa + o), _MM_HINT_T0);
        }
        for (size_t f = 0; f < fp->nf; f++)
            cnt[i * fp->cstride + f] = field_count(a[i] + fp->off[f], b[i] + fp->off[f], fp->nbytes[f]);
    }
}

int bli_fieldpop_avx2(bl_fieldpop *fp)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("popcnt"))
        return 0;
    fp->name = "avx2";
    fp->pair = pair_avx2;
    fp->batch = batch_avx2;
    return 1;
}

#else
int bli_fieldpop_avx2(bl_fieldpop *fp)
{
    (void)fp;
    return 0;
}
#endif
