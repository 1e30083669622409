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

/* The records of pair i into the cache (not again when a side repeats
 * the pair before's: runs of one A record in record order, of one B
 * record in tiles). */
FP256 static inline void prefetch_pair(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,
                                       size_t i)
{
    const uint8_t *pb = b[i], *pa = a[i];
    if (pb != b[i - 1])
        for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
            _mm_prefetch((const char *)(pb + o), _MM_HINT_T0);
    if (pa != a[i - 1])
        for (uint32_t o = fp->pf_lo; o < fp->pf_hi; o += 64)
            _mm_prefetch((const char *)(pa + o), _MM_HINT_T0);
}

FP256 static void batch_avx2(const bl_fieldpop *fp, const uint8_t *const *a,
                             const uint8_t *const *b, size_t n, size_t ahead, uint32_t *cnt,
                             uint32_t *cross)
{
    (void)cross;
    const size_t total = n + ahead;
    for (size_t i = 0; i < n; i++) {
        if (i + FP_AHEAD < total)
            prefetch_pair(fp, a, b, i + FP_AHEAD);
        for (size_t f = 0; f < fp->nf; f++)
            cnt[i * fp->cstride + f] = field_count(a[i] + fp->off[f], b[i] + fp->off[f], fp->nbytes[f]);
    }
}

/* Levels of four fields [g, g + 4) of one pair, as levels_avx512 does
 * them: Dice = 2c / (pa + pb) in double (the correctly rounded division
 * the band tables are built from), the band level 1 + the number of band
 * minima above it (minima strictly descending; -1.0 pads a field's
 * missing bands), then "else", exact and missing override. In 128-bit
 * groups: four fields fill two doubles vectors. */
FP256 static inline void levels4(const bl_fieldpop *fp, const double (*bpad)[BL_MODEL_MAX_FIELDS],
                                 const uint32_t *c, const uint32_t *x, const uint32_t *y, size_t g,
                                 size_t nact, uint8_t *out)
{
    static const int32_t lanes[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
    const __m128i act = _mm_loadu_si128((const __m128i *)(const void *)(lanes + 4 - nact));
    const __m128i vc = _mm_maskload_epi32((const int *)(c + g), act),
                  vx = _mm_maskload_epi32((const int *)(x + g), act),
                  vy = _mm_maskload_epi32((const int *)(y + g), act), zero = _mm_setzero_si128();
    const __m256d d = _mm256_div_pd(_mm256_cvtepi32_pd(_mm_add_epi32(vc, vc)),
                                    _mm256_cvtepi32_pd(_mm_add_epi32(vx, vy)));
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d k = one;
    for (uint32_t l = 1; l < fp->maxbands; l++)
        k = _mm256_add_pd(k, _mm256_and_pd(_mm256_cmp_pd(d, _mm256_loadu_pd(bpad[l] + g), _CMP_LT_OQ), one));
    __m128i lv = _mm256_cvtpd_epi32(k);
    const __m128i nb = _mm_loadu_si128((const __m128i *)(const void *)(fp->nbands + g)),
                  last = _mm_loadu_si128((const __m128i *)(const void *)(fp->last + g));
    lv = _mm_blendv_epi8(lv, last, _mm_cmpeq_epi32(lv, nb));
    lv = _mm_andnot_si128(_mm_and_si128(_mm_cmpeq_epi32(vc, vx), _mm_cmpeq_epi32(vc, vy)), lv);
    lv = _mm_or_si128(lv, _mm_and_si128(_mm_or_si128(_mm_cmpeq_epi32(vx, zero), _mm_cmpeq_epi32(vy, zero)),
                                        _mm_set1_epi32(BL_LEVEL_MISSING)));
    const __m128i b8 = _mm_packus_epi16(_mm_packus_epi32(lv, lv), zero);
    const uint32_t w = (uint32_t)_mm_cvtsi128_si32(b8);
    /* constant-size stores: a memcpy of nact bytes became a byte loop */
    if (nact == 4) {
        memcpy(out + g, &w, 4);
    } else {
        if (nact >= 2)
            memcpy(out + g, &w, 2);
        if (nact & 1)
            out[g + nact - 1] = (uint8_t)(w >> (8 * (nact - 1)));
    }
}

FP256 static void levels_avx2(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,
                              const uint32_t *const *pa, const uint32_t *const *pb, const uint32_t *cnt,
                              const uint32_t *cross, size_t n, uint8_t *lv)
{
    (void)cross;
    const size_t nf = fp->nf;
    const double(*bpad)[BL_MODEL_MAX_FIELDS] = (const double(*)[BL_MODEL_MAX_FIELDS])fp->bandlt;
    for (size_t i = 0; i < n; i++) {
        const uint32_t *ci = cnt + i * fp->cstride;
        uint8_t *li = lv + i * nf;
        for (size_t g = 0; g < nf; g += 4)
            levels4(fp, bpad, ci, pa[i], pb[i], g, nf - g < 4 ? nf - g : 4, li);
        /* bli_fieldpop_swap with this file's count, inlined */
        for (uint32_t q = 0; q < fp->nswap; q++) {
            if (!bli_swap_maybe(fp, q, pa[i], pb[i], ci, li))
                continue;
            const uint32_t gf = fp->swap_g[q], sf = fp->swap_s[q], nb = fp->nbytes[gf];
            if (!bli_swap_reach(fp, q, pa[i][gf], pb[i][sf], field_count(a[i] + fp->off[gf], b[i] + fp->off[sf], nb)) ||
                !bli_swap_reach(fp, q, pa[i][sf], pb[i][gf], field_count(a[i] + fp->off[sf], b[i] + fp->off[gf], nb)))
                continue;
            li[gf] = (uint8_t)fp->nbands[gf];
            li[sf] = (uint8_t)fp->nbands[sf];
        }
    }
}

/* The usual layout (every field l bits, l a multiple of 256: each field
 * of a clkhash schema has its l bits) with the block count NB32 a
 * constant: per field the byte counts of its blocks summed in one vector
 * (NB32 <= 31 blocks of at most 8 per byte), one vpsadbw, then four
 * fields' lane sums packed in 16-bit quarters (a field's count is at most
 * 256 * NB32 < 65536) and reduced together. */
FP256 static inline __attribute__((always_inline)) __m256i field_sad(const uint8_t *x, const uint8_t *y,
                                                                     const uint32_t NB32)
{
    __m256i acc = _mm256_setzero_si256();
    for (uint32_t i = 0; i < NB32; i++)
        acc = _mm256_add_epi8(acc, popcnt_bytes(_mm256_and_si256(
                                       _mm256_loadu_si256((const __m256i *)(const void *)(x + 32 * i)),
                                       _mm256_loadu_si256((const __m256i *)(const void *)(y + 32 * i)))));
    return _mm256_sad_epu8(acc, _mm256_setzero_si256());
}

FP256 static inline __attribute__((always_inline)) void pair_uniform(const bl_fieldpop *fp, const uint8_t *a,
                                                                      const uint8_t *b, uint32_t *out,
                                                                      const uint32_t NB32)
{
    const size_t nf = fp->nf;
    for (size_t g = 0; g < nf; g += 4) {
        __m256i p = field_sad(a + fp->off[g], b + fp->off[g], NB32);
        for (size_t j = 1; j < 4 && g + j < nf; j++)
            p = _mm256_or_si256(p, _mm256_slli_epi64(field_sad(a + fp->off[g + j], b + fp->off[g + j], NB32),
                                                     (int)(16 * j)));
        const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        const uint64_t v = (uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1);
        for (size_t j = 0; j < 4 && g + j < nf; j++)
            out[g + j] = (uint32_t)(v >> (16 * j)) & 0xffffu;
    }
}

#define UNIFORM_BATCH(NB32)                                                                                        \
    FP256 static void batch_u##NB32(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,     \
                                    size_t n, size_t ahead, uint32_t *cnt, uint32_t *cross)                      \
    {                                                                                                              \
        (void)cross;                                                                                               \
        for (size_t i = 0; i < n; i++) {                                                                           \
            if (i + FP_AHEAD < n + ahead)                                                                          \
                prefetch_pair(fp, a, b, i + FP_AHEAD);                                                             \
            pair_uniform(fp, a[i], b[i], cnt + i * fp->cstride, NB32);                                             \
        }                                                                                                          \
    }
UNIFORM_BATCH(1)
UNIFORM_BATCH(2)
UNIFORM_BATCH(4)
UNIFORM_BATCH(8)
UNIFORM_BATCH(16)

/* The uniform batch for fp's layout, or NULL. */
static bli_fieldpop_batch_fn uniform_for(const bl_fieldpop *fp)
{
    for (size_t f = 1; f < fp->nf; f++)
        if (fp->nbytes[f] != fp->nbytes[0])
            return NULL;
    switch (fp->nbytes[0]) {
    case 32: return batch_u1;
    case 64: return batch_u2;
    case 128: return batch_u4;
    case 256: return batch_u8;
    case 512: return batch_u16;
    default: return NULL;
    }
}

int bli_fieldpop_avx2(bl_fieldpop *fp)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("popcnt"))
        return 0;
    fp->name = "avx2";
    fp->pair = pair_avx2;
    fp->batch = uniform_for(fp) ? uniform_for(fp) : batch_avx2;
    if (fp->nf <= BL_MODEL_MAX_FIELDS - 4) /* levels4 reads (masked) lanes up to nf + 3 */
        fp->levels = levels_avx2;
    return 1;
}

#else
int bli_fieldpop_avx2(bl_fieldpop *fp)
{
    (void)fp;
    return 0;
}
#endif
