/* lib/encode/blake2b_avx2.c - 4-lane BLAKE2b compression with AVX2: four
 * independent messages per call, lane l of each ymm register = message l
 * (blake2b_lanes.h). Rotations by 32/24/16 are shuffles, by 63 an add and a
 * shift. Compiled with a target attribute; chosen at run time. */
#include "encode/encode_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2_TARGET __attribute__((target("avx2")))

#define B2V __m256i
#define B2_W 4
#define B2_ADD(a, b) _mm256_add_epi64(a, b)
#define B2_XOR(a, b) _mm256_xor_si256(a, b)
#define B2_LOAD(p) _mm256_load_si256((const __m256i *)(const void *)(p))
#define B2_STORE(p, v) _mm256_store_si256((__m256i *)(void *)(p), v)
#define B2_SET1(x) _mm256_set1_epi64x((long long)(x))
#define B2_ROR32(x) _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1))
#define B2_ROR24(x) _mm256_shuffle_epi8(x, r24)
#define B2_ROR16(x) _mm256_shuffle_epi8(x, r16)
#define B2_ROR63(x) _mm256_xor_si256(_mm256_srli_epi64(x, 63), _mm256_add_epi64(x, x))
#include "encode/blake2b_lanes.h"

AVX2_TARGET static void avx2_compress(uint64_t *h, const uint64_t *m, const uint64_t *t, const uint64_t *f)
{
    /* byte i of a rotated word = byte (i + 3) % 8 (resp. + 2) of the input */
    const __m256i r24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7,
                                         0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    const __m256i r16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6,
                                         7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    B2_COMPRESS_BODY(h, m, t, f);
}

static const bl_b2_kernel k_avx2 = {"avx2", 4, avx2_compress};

const bl_b2_kernel *bli_b2_kernel_avx2_get(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        return &k_avx2;
    return NULL;
}

#else
const bl_b2_kernel *bli_b2_kernel_avx2_get(void)
{
    return NULL;
}
#endif
