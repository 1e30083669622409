/* lib/model/score_avx512.c - the AVX-512 field kernel: AND-popcounts of all
 * fields of a pair with VPOPCNTQ, one accumulator per field (eight fields
 * at a time, summed lane-wise in one transposing reduction instead of a
 * horizontal sum per field), the field's last bytes by a masked load so
 * exactly nbytes count; batches prefetch the records a few pairs ahead
 * (a record that repeats from the pair before is not prefetched again:
 * runs of one A record in record order, of one B record in tiles). */
#include <string.h>

#include "model/model_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define FP512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,bmi2")))

/* pairs ahead whose records are prefetched */
#define FP_AHEAD 8

FP512 static inline __m512i field_acc(const bl_fieldpop *fp, size_t f, const uint8_t *a,
                                      const uint8_t *b)
{
    const uint8_t *x = a + fp->off[f], *y = b + fp->off[f];
    const uint32_t n = fp->nbytes[f], full = n / 64;
    __m512i acc = _mm512_setzero_si512();
    for (uint32_t i = 0; i < full; i++)
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(
                                        _mm512_loadu_si512((const void *)(x + 64 * i)),
                                        _mm512_loadu_si512((const void *)(y + 64 * i)))));
    if (n % 64) {
        const __mmask64 m = _bzhi_u64(~0ULL, n % 64);
        acc = _mm512_add_epi64(
            acc, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_maskz_loadu_epi8(m, x + 64 * full),
                                                      _mm512_maskz_loadu_epi8(m, y + 64 * full))));
    }
    return acc;
}

/* out[j] = sum of the 8 lanes of vj, j < 8 (by value: an array argument
 * kept the accumulators in memory). */
FP512 static inline __m256i lane_sums8(__m512i v0, __m512i v1, __m512i v2, __m512i v3, __m512i v4,
                                       __m512i v5, __m512i v6, __m512i v7)
{
    /* 128-bit groups of p0: [v0, v1] pairs of lanes; then groups, then halves */
    const __m512i p0 =
        _mm512_add_epi64(_mm512_unpacklo_epi64(v0, v1), _mm512_unpackhi_epi64(v0, v1));
    const __m512i p1 =
        _mm512_add_epi64(_mm512_unpacklo_epi64(v2, v3), _mm512_unpackhi_epi64(v2, v3));
    const __m512i p2 =
        _mm512_add_epi64(_mm512_unpacklo_epi64(v4, v5), _mm512_unpackhi_epi64(v4, v5));
    const __m512i p3 =
        _mm512_add_epi64(_mm512_unpacklo_epi64(v6, v7), _mm512_unpackhi_epi64(v6, v7));
    const __m512i q0 =
        _mm512_add_epi64(_mm512_shuffle_i64x2(p0, p1, 0x88), _mm512_shuffle_i64x2(p0, p1, 0xdd));
    const __m512i q1 =
        _mm512_add_epi64(_mm512_shuffle_i64x2(p2, p3, 0x88), _mm512_shuffle_i64x2(p2, p3, 0xdd));
    return _mm512_cvtepi64_epi32(
        _mm512_add_epi64(_mm512_shuffle_i64x2(q0, q1, 0x88), _mm512_shuffle_i64x2(q0, q1, 0xdd)));
}

FP512 static inline __m256i lane_sums(const __m512i *v)
{
    return lane_sums8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

FP512 static inline void store_sums(uint32_t *out, size_t left, __m256i s)
{
    if (left >= 8)
        _mm256_storeu_si256((__m256i *)(void *)out, s);
    else
        _mm256_mask_storeu_epi32(out, (__mmask8)((1u << left) - 1), s);
}

FP512 static inline void pair_counts(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b,
                                     uint32_t *out)
{
    for (size_t g = 0; g < fp->nf; g += 8) {
        __m512i v[8];
#pragma GCC unroll 8
        for (size_t j = 0; j < 8; j++)
            v[j] = g + j < fp->nf ? field_acc(fp, g + j, a, b) : _mm512_setzero_si512();
        store_sums(out + g, fp->nf - g, lane_sums(v));
    }
}

FP512 static void pair_avx512(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b,
                              uint32_t *out)
{
    pair_counts(fp, a, b, out);
}

FP512 static inline void prefetch_pair(const bl_fieldpop *fp, const uint8_t *const *a,
                                       const uint8_t *const *b, size_t i)
{
    const uint8_t *pb = b[i], *pa = a[i];
    if (pb != b[i - 1])
        for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
            _mm_prefetch((const char *)(pb + o), _MM_HINT_T0);
    if (pa != a[i - 1])
        for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
            _mm_prefetch((const char *)(pa + o), _MM_HINT_T0);
}

/* The usual layout, fields of one length of whole blocks (every field of a
 * clkhash schema has its l bits): with NF and NB constants every loop
 * unrolls and the accumulators stay in registers. CROSS adds the two
 * crosswise counts of the swapped-name check (a's given name with b's
 * surname and the reverse) as two more lanes of the same reduction. */
FP512 static inline __attribute__((always_inline)) void pair_uniform(
    const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out,
    uint32_t *cross, const size_t NF, const uint32_t NB, const int CROSS)
{
    const size_t T = NF + (CROSS ? 2 : 0);
    uint32_t tc[16];
    for (size_t g = 0; g < T; g += 8) {
        __m512i v[8];
#pragma GCC unroll 8
        for (size_t j = 0; j < 8; j++) {
            v[j] = _mm512_setzero_si512();
            if (g + j >= T)
                continue;
            const size_t f = g + j;
            const uint8_t *x = a + fp->off[f < NF ? f : f == NF ? fp->swap_g[0] : fp->swap_s[0]];
            const uint8_t *y = b + fp->off[f < NF ? f : f == NF ? fp->swap_s[0] : fp->swap_g[0]];
#pragma GCC unroll 4
            for (uint32_t i = 0; i < NB; i++)
                v[j] = _mm512_add_epi64(
                    v[j], _mm512_popcnt_epi64(_mm512_and_si512(
                              _mm512_loadu_si512((const void *)(x + 64 * i)),
                              _mm512_loadu_si512((const void *)(y + 64 * i)))));
        }
        const __m256i sums = lane_sums8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        _mm256_storeu_si256((__m256i *)(void *)(tc + g), sums);
        if (g < NF) /* whole rows of fp->cstride: the lanes past NF are padding */
            _mm256_storeu_si256((__m256i *)(void *)(out + g), sums);
    }
    if (CROSS)
        memcpy(cross, tc + NF, 2 * sizeof *cross);
}

#define FP_UNIFORM(NF, NB, CR)                                                                    \
    FP512 static void batch_##NF##_##NB##_##CR(const bl_fieldpop *fp, const uint8_t *const *a,    \
                                               const uint8_t *const *b, size_t n, size_t ahead,   \
                                               uint32_t *cnt, uint32_t *cross)                    \
    {                                                                                             \
        for (size_t i = 0; i < n; i++) {                                                          \
            if (i + FP_AHEAD < n + ahead)                                                         \
                prefetch_pair(fp, a, b, i + FP_AHEAD);                                            \
            pair_uniform(fp, a[i], b[i], cnt + i * fp->cstride, cross + 2 * i, NF, NB, CR);        \
        }                                                                                         \
    }
#define FP_UNIFORM_NB(NB, CR)                                                                   \
    FP_UNIFORM(1, NB, CR)                                                                       \
    FP_UNIFORM(2, NB, CR) FP_UNIFORM(3, NB, CR) FP_UNIFORM(4, NB, CR) FP_UNIFORM(5, NB, CR)     \
        FP_UNIFORM(6, NB, CR) FP_UNIFORM(7, NB, CR) FP_UNIFORM(8, NB, CR) FP_UNIFORM(9, NB, CR) \
            FP_UNIFORM(10, NB, CR) FP_UNIFORM(11, NB, CR) FP_UNIFORM(12, NB, CR)
FP_UNIFORM_NB(1, 0)
FP_UNIFORM_NB(2, 0)
FP_UNIFORM_NB(1, 1)
FP_UNIFORM_NB(2, 1)
#define FP_UNIFORM_MAX_NF 12
#define FP_ROW(NB, CR)                                                                            \
    {                                                                                             \
        batch_1_##NB##_##CR, batch_2_##NB##_##CR, batch_3_##NB##_##CR, batch_4_##NB##_##CR,       \
            batch_5_##NB##_##CR, batch_6_##NB##_##CR, batch_7_##NB##_##CR, batch_8_##NB##_##CR,   \
            batch_9_##NB##_##CR, batch_10_##NB##_##CR, batch_11_##NB##_##CR, batch_12_##NB##_##CR \
    }
static const bli_fieldpop_batch_fn uniform_batch[2][2][FP_UNIFORM_MAX_NF] = {
    {FP_ROW(1, 0), FP_ROW(2, 0)}, {FP_ROW(1, 1), FP_ROW(2, 1)}};

/* The specialised batch for fp's layout (with the crosswise counts when
 * there is one name pair), or NULL. */
static bli_fieldpop_batch_fn uniform_for(const bl_fieldpop *fp, int *cross)
{
    *cross = fp->nswap == 1;
    if (fp->nf < 1 || fp->nf > FP_UNIFORM_MAX_NF || fp->nswap > 1)
        return NULL;
    const uint32_t nbytes = fp->nbytes[0];
    for (size_t f = 1; f < fp->nf; f++)
        if (fp->nbytes[f] != nbytes)
            return NULL;
    const int row = nbytes == 64 ? 0 : nbytes == 128 ? 1 : -1;
    return row < 0 ? NULL : uniform_batch[*cross][row][fp->nf - 1];
}

FP512 static void batch_avx512(const bl_fieldpop *fp, const uint8_t *const *a,
                               const uint8_t *const *b, size_t n, size_t ahead, uint32_t *cnt,
                               uint32_t *cross)
{
    (void)cross;
    const size_t total = n + ahead;
    for (size_t i = 0; i < n; i++) {
        if (i + FP_AHEAD < total)
            prefetch_pair(fp, a, b, i + FP_AHEAD);
        pair_counts(fp, a[i], b[i], cnt + i * fp->cstride);
    }
}

/* Levels of eight fields at once. Dice >= band is tested in double as
 * 2c / (pa + pb) >= band: the correctly rounded division gives the same
 * answers as bl_model_levels' tables (which are built from that very
 * comparison); bands run from the lowest up, so the highest reached one
 * is written last; then exact and missing override. */
FP512 static void levels_avx512(const bl_fieldpop *fp, const uint8_t *const *a,
                                const uint8_t *const *b, const uint32_t *const *pa,
                                const uint32_t *const *pb, const uint32_t *cnt,
                                const uint32_t *cross, size_t n, uint8_t *lv)
{
    const size_t nf = fp->nf;
    for (size_t i = 0; i < n; i++) {
        const uint32_t *ci = cnt + i * fp->cstride;
        uint8_t *li = lv + i * nf;
        for (size_t g = 0; g < nf; g += 8) {
            const __mmask8 act = (__mmask8)(nf - g >= 8 ? 0xff : (1u << (nf - g)) - 1);
            const __m256i c = _mm256_maskz_mov_epi32(act, _mm256_loadu_si256((const __m256i *)(const void *)(ci + g))),
                          x = _mm256_maskz_loadu_epi32(act, pa[i] + g),
                          y = _mm256_maskz_loadu_epi32(act, pb[i] + g),
                          zero = _mm256_setzero_si256();
            const __mmask8 miss =
                _mm256_cmpeq_epu32_mask(x, zero) | _mm256_cmpeq_epu32_mask(y, zero);
            const __mmask8 exact = _mm256_cmpeq_epu32_mask(c, x) & _mm256_cmpeq_epu32_mask(c, y);
            const __m512d d = _mm512_maskz_div_pd((__mmask8)(act & ~miss),
                                                  _mm512_cvtepu32_pd(_mm256_add_epi32(c, c)),
                                                  _mm512_cvtepu32_pd(_mm256_add_epi32(x, y)));
            __m256i l = _mm256_maskz_loadu_epi32(act, fp->last + g);
            for (int q = (int)fp->maxbands - 1; q >= 1; q--)
                l = _mm256_mask_mov_epi32(
                    l, _mm512_cmp_pd_mask(d, _mm512_loadu_pd(fp->bandv[q] + g), _CMP_GE_OQ),
                    _mm256_set1_epi32((int)q));
            l = _mm256_mask_mov_epi32(l, exact, zero);
            l = _mm256_mask_mov_epi32(l, miss, _mm256_set1_epi32(BL_LEVEL_MISSING));
            _mm256_mask_cvtepi32_storeu_epi8(li + g, act, l);
        }
        if (fp->nswap)
            bli_fieldpop_swap(fp, a[i], pa[i], b[i], pb[i], ci, cross ? cross + 2 * i : NULL, li);
    }
}

int bli_fieldpop_avx512(bl_fieldpop *fp)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512vpopcntdq") ||
        !__builtin_cpu_supports("bmi2"))
        return 0;
    fp->name = "avx512";
    fp->pair = pair_avx512;
    int cross = 0;
    bli_fieldpop_batch_fn u = uniform_for(fp, &cross);
    fp->batch = u ? u : batch_avx512;
    fp->batch_cross = u && cross;
    fp->levels = levels_avx512;
    return 1;
}

#else
int bli_fieldpop_avx512(bl_fieldpop *fp)
{
    (void)fp;
    return 0;
}
#endif
