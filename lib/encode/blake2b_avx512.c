/* lib/encode/blake2b_avx512.c - 8-lane BLAKE2b compression with AVX-512F:
 * eight independent messages per call, lane l of each zmm register =
 * message l (blake2b_lanes.h); every rotation is one vprorq. Compiled with a
 * target attribute; chosen at run time. */
#include "encode/encode_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx512f")))

#define B2V __m512i
#define B2_W 8
#define B2_ADD(a, b) _mm512_add_epi64(a, b)
#define B2_XOR(a, b) _mm512_xor_si512(a, b)
#define B2_LOAD(p) _mm512_load_si512((const void *)(p))
#define B2_STORE(p, v) _mm512_store_si512((void *)(p), v)
#define B2_SET1(x) _mm512_set1_epi64((long long)(x))
#define B2_ROR32(x) _mm512_ror_epi64(x, 32)
#define B2_ROR24(x) _mm512_ror_epi64(x, 24)
#define B2_ROR16(x) _mm512_ror_epi64(x, 16)
#define B2_ROR63(x) _mm512_ror_epi64(x, 63)
#include "encode/blake2b_lanes.h"

AVX512_TARGET static void avx512_compress(uint64_t *h, const uint64_t *m, const uint64_t *t, const uint64_t *f)
{
    B2_COMPRESS_BODY(h, m, t, f);
}

static const bl_b2_kernel k_avx512 = {"avx512", 8, avx512_compress};

const bl_b2_kernel *bli_b2_kernel_avx512_get(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return &k_avx512;
    return NULL;
}

#else
const bl_b2_kernel *bli_b2_kernel_avx512_get(void)
{
    return NULL;
}
#endif
