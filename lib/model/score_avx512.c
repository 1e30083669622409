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

/* The vector decision bound (bli_vbound), eight pairs per step. Its
 * helpers are inlined by force: called, they passed their vectors
 * through memory. */
#define VB_INLINE FP512 static inline __attribute__((always_inline))

/* x and y over n bytes, ANDed and counted into one accumulator. */
VB_INLINE __m512i acc_bytes(const uint8_t *x, const uint8_t *y, uint32_t n)
{
    if (n == 128) /* a clkhash field of 1024 bits, unrolled */
        return _mm512_add_epi64(
            _mm512_popcnt_epi64(_mm512_and_si512(_mm512_loadu_si512((const void *)x),
                                                 _mm512_loadu_si512((const void *)y))),
            _mm512_popcnt_epi64(_mm512_and_si512(_mm512_loadu_si512((const void *)(x + 64)),
                                                 _mm512_loadu_si512((const void *)(y + 64)))));
    __m512i acc = _mm512_setzero_si512();
    uint32_t i = 0;
    for (; i + 64 <= n; i += 64)
        acc = _mm512_add_epi64(
            acc, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_loadu_si512((const void *)(x + i)),
                                                      _mm512_loadu_si512((const void *)(y + i)))));
    if (i < n) {
        const __mmask64 m = _bzhi_u64(~0ULL, n - i);
        acc = _mm512_add_epi64(
            acc, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_maskz_loadu_epi8(m, x + i),
                                                      _mm512_maskz_loadu_epi8(m, y + i))));
    }
    return acc;
}

/* Eight pairs' counts of the bytes at offsets oa (in a) and ob (in b). */
VB_INLINE __m256i vb_count(const uint8_t *const *a, const uint8_t *const *b, const uint32_t *id,
                           uint32_t oa, uint32_t ob, uint32_t n)
{
    __m512i v[8];
#pragma GCC unroll 8
    for (size_t j = 0; j < 8; j++)
        v[j] = acc_bytes(a[id[j]] + oa, b[id[j]] + ob, n);
    return lane_sums8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

/* Field f's popcounts (or tf) of eight pairs through their row pointers. */
VB_INLINE __m256i vb_row(__m512i rows, uint32_t f)
{
    return _mm512_i64gather_epi32(_mm512_add_epi64(rows, _mm512_set1_epi64(4 * (long long)f)), NULL,
                                  1);
}

VB_INLINE __m256 vb_rowf(__m512i rows, uint32_t f)
{
    return _mm512_i64gather_ps(_mm512_add_epi64(rows, _mm512_set1_epi64(4 * (long long)f)), NULL,
                               1);
}

VB_INLINE __mmask8 vb_missing(__m256i x, __m256i y)
{
    const __m256i z = _mm256_setzero_si256();
    return _mm256_cmpeq_epu32_mask(x, z) | _mm256_cmpeq_epu32_mask(y, z);
}

/* Field f's bound before its count. */
VB_INLINE __m256 vb_before(const bli_vbound *vb, uint32_t f, __m256i x, __m256i y, __m256 t)
{
    const __m256 s1 = _mm256_set1_ps(vb->suf1[f]);
    const __m256 w = _mm256_mask_max_ps(s1, _mm256_cmpeq_epu32_mask(x, y), s1,
                                        _mm256_add_ps(_mm256_set1_ps(vb->ex[f]), t));
    return _mm256_maskz_mov_ps((__mmask8)~vb_missing(x, y), w);
}

/* bli_dice_possible(x, y, BL_SWAP_MIN_DICE) per lane, the same doubles. */
VB_INLINE __mmask8 vb_possible(__m256i x, __m256i y)
{
    const __m512d l =
        _mm512_mul_pd(_mm512_set1_pd(2.0), _mm512_cvtepu32_pd(_mm256_min_epu32(x, y)));
    const __m512d r =
        _mm512_mul_pd(_mm512_set1_pd(BL_SWAP_MIN_DICE), _mm512_cvtepu32_pd(_mm256_add_epi32(x, y)));
    return _mm512_cmp_pd_mask(l, r, _CMP_GE_OQ);
}

/* What a stage needs of eight pairs: their indices, records and rows. */
typedef struct vb_lanes {
    uint32_t id[8];
    __m512i x8, y8, t8;
} vb_lanes;

/* Stage st's field bound after its count for eight pairs (x, y, t: the
 * field's popcounts and tf). */
VB_INLINE __m256 vb_after(const bli_vbound *vb, const bli_vstage *st, const uint8_t *const *a,
                          const uint8_t *const *b, const vb_lanes *ln, __m256i x, __m256i y,
                          __m256 t)
{
    const __m256i c = vb_count(a, b, ln->id, st->off, st->off, st->nbytes);
    const __mmask8 exact = _mm256_cmpeq_epu32_mask(c, x) & _mm256_cmpeq_epu32_mask(c, y);
    /* the band level as levels_avx512 finds it (a missing field's lanes
     * divide by 0: their level does not count) */
    const __m512d d = _mm512_div_pd(_mm512_cvtepu32_pd(_mm256_add_epi32(c, c)),
                                    _mm512_cvtepu32_pd(_mm256_add_epi32(x, y)));
    __m256i lvl = _mm256_set1_epi32((int)st->last);
    for (uint32_t q = st->nbands; q-- > 1;)
        lvl = _mm256_mask_mov_epi32(lvl,
                                    _mm512_cmp_pd_mask(d, _mm512_set1_pd(st->band[q]), _CMP_GE_OQ),
                                    _mm256_set1_epi32((int)q));
    __m256 w =
        _mm256_permutex2var_ps(_mm256_loadu_ps(st->best), lvl, _mm256_loadu_ps(st->best + 8));
    if (st->h >= 0) {
        /* the swapped level, where it is more and the popcounts allow it */
        const __m256 sw = _mm256_set1_ps(st->swapw);
        const __m256i xh = vb_row(ln->x8, (uint32_t)st->h), yh = vb_row(ln->y8, (uint32_t)st->h);
        __mmask8 open = _mm256_cmp_ps_mask(sw, w, _CMP_GT_OQ) & (__mmask8)~vb_missing(xh, yh);
        open &= vb_possible(x, yh) & vb_possible(xh, y);
        if (open) {
            const __m256i cc = vb_count(a, b, ln->id, st->off, st->offh, st->nbytes);
            const __m256i need =
                _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), open, _mm256_add_epi32(x, yh),
                                             (const int *)(const void *)st->cswap, 4);
            open &= _mm256_cmpge_epu32_mask(cc, need);
            w = _mm256_mask_mov_ps(w, open, sw);
        }
    }
    w = _mm256_mask_mov_ps(w, exact, _mm256_add_ps(_mm256_set1_ps(vb->ex[st->f]), t));
    return _mm256_maskz_mov_ps((__mmask8)~vb_missing(x, y), w);
}

/* The lines of stage st's bytes of the records pa and pb. */
VB_INLINE void vb_prefetch(const bli_vstage *st, const uint8_t *pa, const uint8_t *pb)
{
    for (uint32_t o = 0; o < st->nbytes; o += 64) {
        _mm_prefetch((const char *)(pa + st->off + o), _MM_HINT_T0);
        _mm_prefetch((const char *)(pb + st->off + o), _MM_HINT_T0);
        if (st->h >= 0)
            _mm_prefetch((const char *)(pb + st->offh + o), _MM_HINT_T0);
    }
}

/* The kept lanes of idx and w to the ends of live and wl, in order, by a
 * compress in registers and whole stores (the arrays have room for 8
 * more): a compress into memory took some 150 cycles on Zen 4. */
VB_INLINE void vb_append(uint32_t *live, float *wl, __mmask8 keep, __m256i idx, __m256 w)
{
    _mm256_storeu_si256((__m256i *)(void *)live, _mm256_maskz_compress_epi32(keep, idx));
    _mm256_storeu_ps(wl, _mm256_maskz_compress_ps(keep, w));
}

/* out[f] = lane j: rows[j][f], for the fields f < nf of eight rows (8 x 8
 * transposes of whole-row loads: far fewer loads than a gather per
 * field, and the rows of one A record in a run are the same lines). */
VB_INLINE void vb_transpose(const uint32_t *const *rows, uint32_t nf, __m256i *out)
{
    for (uint32_t g = 0; g < nf; g += 8) {
        const __mmask8 m = (__mmask8)(nf - g >= 8 ? 0xff : (1u << (nf - g)) - 1);
        __m256i r[8], t[8], u[8];
        for (int j = 0; j < 8; j++)
            r[j] = _mm256_maskz_loadu_epi32(m, rows[j] + g);
        for (int j = 0; j < 8; j += 2) {
            t[j] = _mm256_unpacklo_epi32(r[j], r[j + 1]);
            t[j + 1] = _mm256_unpackhi_epi32(r[j], r[j + 1]);
        }
        for (int j = 0; j < 8; j += 4) {
            u[j] = _mm256_unpacklo_epi64(t[j], t[j + 2]);
            u[j + 1] = _mm256_unpackhi_epi64(t[j], t[j + 2]);
            u[j + 2] = _mm256_unpacklo_epi64(t[j + 1], t[j + 3]);
            u[j + 3] = _mm256_unpackhi_epi64(t[j + 1], t[j + 3]);
        }
        __m256i f[8];
        for (int k = 0; k < 4; k++) {
            f[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);
            f[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);
        }
        for (uint32_t k = 0; k < 8 && g + k < nf; k++)
            out[g + k] = f[k];
    }
}

/* The first stages for every pair: the live ones into live / wl. */
FP512 static size_t vb_first(const bli_vbound *vb, const uint8_t *const *a, const uint8_t *const *b,
                             const uint32_t *const *pa, const uint32_t *const *pb,
                             const float *const *tf, size_t n, size_t ahead, uint32_t *live,
                             float *wl)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i += 8) {
        /* the first stage fields of the group after next (an A record
         * repeats in runs: once) */
        for (size_t j = i + 16; j < i + 24 && j < n + ahead; j++) {
            for (uint32_t k = 0; k < vb->npf; k++)
                _mm_prefetch((const char *)(b[j] + vb->pf[k]), _MM_HINT_T0);
            if (a[j] != a[j - 1])
                for (uint32_t k = 0; k < vb->npf; k++)
                    _mm_prefetch((const char *)(a[j] + vb->pf[k]), _MM_HINT_T0);
        }
        vb_lanes ln;
        for (uint32_t j = 0; j < 8; j++)
            ln.id[j] = (uint32_t)i + j;
        ln.x8 = _mm512_loadu_si512((const void *)(pa + i));
        ln.y8 = _mm512_loadu_si512((const void *)(pb + i));
        ln.t8 = _mm512_loadu_si512((const void *)(tf + i));
        __m256i xs[BL_MODEL_MAX_FIELDS], ys[BL_MODEL_MAX_FIELDS], ts[BL_MODEL_MAX_FIELDS];
        vb_transpose(pa + i, vb->nf, xs);
        vb_transpose(pb + i, vb->nf, ys);
        const uint32_t *tr[8]; /* the tf rows, read as 32-bit lanes */
        for (int j = 0; j < 8; j++)
            tr[j] = (const uint32_t *)(const void *)tf[i + j];
        vb_transpose(tr, vb->nf, ts);
        __m256 s = _mm256_set1_ps(vb->pw);
        for (uint32_t f = 0; f < vb->nf; f++) {
            const __m256i x = xs[f], y = ys[f];
            const __m256 t = _mm256_castsi256_ps(ts[f]);
            const int q = vb->first[f];
            s = _mm256_add_ps(s, q < 0 ? vb_before(vb, f, x, y, t)
                                       : vb_after(vb, &vb->st[q], a, b, &ln, x, y, t));
        }
        const __mmask8 act = (__mmask8)(n - i >= 8 ? 0xff : (1u << (n - i)) - 1);
        const __mmask8 keep = _mm256_mask_cmp_ps_mask(act, s, _mm256_set1_ps(vb->thr), _CMP_GE_OQ);
        vb_append(live + m, wl + m, keep, _mm256_loadu_si256((const __m256i *)(const void *)ln.id),
                  s);
        m += (size_t)__builtin_popcount(keep);
    }
    return m;
}

/* A later stage over the live pairs live[0..m), compacted in place. */
FP512 static size_t vb_stage(const bli_vbound *vb, const bli_vstage *st, const uint8_t *const *a,
                             const uint8_t *const *b, const uint32_t *const *pa,
                             const uint32_t *const *pb, const float *const *tf, uint32_t *live,
                             float *wl, size_t m)
{
    size_t k = 0;
    for (size_t g = 0; g < m; g += 8) {
        for (size_t j = g + 8; j < g + 16 && j < m; j++)
            vb_prefetch(st, a[live[j]], b[live[j]]);
        const __mmask8 act = (__mmask8)(m - g >= 8 ? 0xff : (1u << (m - g)) - 1);
        const __m256i idx = _mm256_mask_loadu_epi32(_mm256_set1_epi32((int)live[0]), act, live + g);
        vb_lanes ln;
        _mm256_storeu_si256((__m256i *)(void *)ln.id, idx);
        ln.x8 = _mm512_i32gather_epi64(idx, (const void *)pa, 8);
        ln.y8 = _mm512_i32gather_epi64(idx, (const void *)pb, 8);
        ln.t8 = _mm512_i32gather_epi64(idx, (const void *)tf, 8);
        const __m256i x = vb_row(ln.x8, st->f), y = vb_row(ln.y8, st->f);
        const __m256 t = vb_rowf(ln.t8, st->f);
        const __m256 d =
            _mm256_sub_ps(vb_after(vb, st, a, b, &ln, x, y, t), vb_before(vb, st->f, x, y, t));
        const __m256 w = _mm256_add_ps(_mm256_maskz_loadu_ps(act, wl + g), d);
        const __mmask8 keep = _mm256_mask_cmp_ps_mask(act, w, _mm256_set1_ps(vb->thr), _CMP_GE_OQ);
        vb_append(live + k, wl + k, keep, idx, w);
        k += (size_t)__builtin_popcount(keep);
    }
    return k;
}

FP512 static size_t vbound_avx512(const bli_vbound *vb, const uint8_t *const *a,
                                  const uint8_t *const *b, const uint32_t *const *pa,
                                  const uint32_t *const *pb, const float *const *tf, size_t n,
                                  size_t ahead, uint32_t *live, float *wl)
{
    size_t m = vb_first(vb, a, b, pa, pb, tf, n, ahead, live, wl);
    for (uint32_t q = vb->nfirst; q < vb->nstage && m; q++)
        m = vb_stage(vb, &vb->st[q], a, b, pa, pb, tf, live, wl, m);
    return m;
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
    fp->vbound = vbound_avx512;
    return 1;
}

#else
int bli_fieldpop_avx512(bl_fieldpop *fp)
{
    (void)fp;
    return 0;
}
#endif
