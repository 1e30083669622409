/* lib/match/dice_avx512.c - AVX-512 popcount kernel using VPOPCNTDQ (per-64-bit
 * lane popcount) with masked loads for tails; target attributes keep the
 * rest of the build baseline; chosen at run time when the CPU has
 * avx512f + avx512vpopcntdq. */
#include "match/match_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,bmi2,popcnt")))

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

/* Register blocking, 4 rows of A x 2 interleaved blocks of B (16 filters):
 * per word, two loads of B feed eight AND/VPOPCNTQ/ADD steps whose A word
 * is a broadcast from L1, so the popcount port, not loads, is the limit.
 * Counts stay in eight qword accumulators (lane = position) and need no
 * horizontal sums. The threshold test runs once per row for 16 positions:
 * one permute packs both blocks' counts into 16 dwords, and the float
 * compare is the scalar reference's own formula (exact: counts and popcount
 * sums are below 2^22, so every int->float step and 2c+1 are exact).
 *
 * Early exit (the default "avx512" kernel; "avx512-full" goes without): after the first nw/4 and nw/2 words,
 * c <= c_partial + min(popcount(rest of a), popcount(rest of b)). When that
 * bound fails the same float test for all 64 pairs, no pair of the two
 * blocks can pass (the test is monotone in c), so the rest is skipped; the
 * survivors and counts are exactly those of the full kernel. */
typedef struct rows_ctx {
    __m512 tf;
    __m512 fpa[BL_IL_ROWS];    /* (float)pa[r] */
    __m512i ra[2][BL_IL_ROWS]; /* early exit: pa[r] - popcount of its first k1 / k2 words */
    __m512i perm;              /* low dwords of two qword vectors, in order */
} rows_ctx;

#define AVX512_INLINE AVX512_TARGET static inline __attribute__((always_inline))

/* lhs of the reference test, float(2c+1), for 16 dword counts */
AVX512_INLINE __m512 lhs16(__m512i c)
{
    return _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_add_epi32(c, c), _mm512_set1_epi32(1)));
}

/* rhs of the reference test, tf * float(pa + pb): float(pa) + float(pb) is
 * exact, so this equals tf * (float)(pa + pb) bit for bit */
AVX512_INLINE __m512 rhs16(const rows_ctx *x, int r, __m512 fpb)
{
    return _mm512_mul_ps(x->tf, _mm512_add_ps(x->fpa[r], fpb));
}

/* The eight accumulators: row r against block h is cRh. */
#define ACC_ARGS __m512i c00, __m512i c01, __m512i c10, __m512i c11, __m512i c20, __m512i c21, \
                 __m512i c30, __m512i c31
#define ACC_PASS c00, c01, c10, c11, c20, c21, c30, c31

/* 16 dword counts of row r (block 0's 8 positions, then block 1's) */
#define ROW16(x, lo8, hi8) _mm512_permutex2var_epi32((lo8), (x)->perm, (hi8))

/* Can any pair of the two blocks still pass, given counts of the first k
 * words (the accumulators) and of B's own first k words (q0, q1)? */
AVX512_INLINE int bound_pass(const rows_ctx *x, int q, ACC_ARGS, __m512i q0, __m512i q1, __m512i pb,
                             __m512 fpb)
{
    __m512i rb = _mm512_sub_epi32(pb, ROW16(x, q0, q1));
    __m512i c[BL_IL_ROWS] = {ROW16(x, c00, c01), ROW16(x, c10, c11), ROW16(x, c20, c21),
                             ROW16(x, c30, c31)};
    __mmask16 m = 0;
#pragma GCC unroll 4
    for (int r = 0; r < BL_IL_ROWS; r++) {
        __m512i bound = _mm512_add_epi32(c[r], _mm512_min_epu32(rb, x->ra[q][r]));
        m |= _mm512_cmp_ps_mask(lhs16(bound), rhs16(x, r, fpb), _CMP_GE_OQ);
    }
    return m != 0;
}

/* An empty asm that keeps each accumulator a running sum in a register:
 * without it GCC re-associates the 128 adds of a fully unrolled block pair
 * into trees whose partial sums spill to the stack. */
#define KEEP(u, v, y, z) __asm__("" : "+v"(u), "+v"(v), "+v"(y), "+v"(z))

/* One word w of 4 rows against blocks p0 and p1 (broadcast A words from L1). */
#define ROWS_WORD(w)                                                                              \
    do {                                                                                          \
        __m512i b0_ = _mm512_loadu_si512(p0 + (w) * 8), b1_ = _mm512_loadu_si512(p1 + (w) * 8);   \
        _mm_prefetch((const char *)(p0 + (w) * 8 + PF), _MM_HINT_T1);                             \
        _mm_prefetch((const char *)(p1 + (w) * 8 + PF), _MM_HINT_T1);                             \
        __m512i x_ = _mm512_set1_epi64((long long)a0[w]);                                         \
        c00 = _mm512_add_epi64(c00, _mm512_popcnt_epi64(_mm512_and_si512(b0_, x_)));              \
        c01 = _mm512_add_epi64(c01, _mm512_popcnt_epi64(_mm512_and_si512(b1_, x_)));              \
        x_ = _mm512_set1_epi64((long long)a1[w]);                                                 \
        c10 = _mm512_add_epi64(c10, _mm512_popcnt_epi64(_mm512_and_si512(b0_, x_)));              \
        c11 = _mm512_add_epi64(c11, _mm512_popcnt_epi64(_mm512_and_si512(b1_, x_)));              \
        x_ = _mm512_set1_epi64((long long)a2[w]);                                                 \
        c20 = _mm512_add_epi64(c20, _mm512_popcnt_epi64(_mm512_and_si512(b0_, x_)));              \
        c21 = _mm512_add_epi64(c21, _mm512_popcnt_epi64(_mm512_and_si512(b1_, x_)));              \
        x_ = _mm512_set1_epi64((long long)a3[w]);                                                 \
        c30 = _mm512_add_epi64(c30, _mm512_popcnt_epi64(_mm512_and_si512(b0_, x_)));              \
        c31 = _mm512_add_epi64(c31, _mm512_popcnt_epi64(_mm512_and_si512(b1_, x_)));              \
        if (QB) {                                                                                 \
            q0 = _mm512_add_epi64(q0, _mm512_popcnt_epi64(b0_));                                  \
            q1 = _mm512_add_epi64(q1, _mm512_popcnt_epi64(b1_));                                  \
        }                                                                                         \
        KEEP(c00, c01, c10, c11);                                                                 \
        KEEP(c20, c21, c30, c31);                                                                 \
    } while (0)

/* Survivors of one block pair at positions pos..pos+15 (valid: the bits of
 * [lo, hi)), in the reference order: block, row, position. */
AVX512_INLINE size_t rows_emit(const rows_ctx *x, ACC_ARGS, __m512 fpb, size_t pos, unsigned valid,
                               uint32_t *idx, uint32_t *cnt, uint8_t *row, size_t k)
{
    __m512i c[BL_IL_ROWS] = {ROW16(x, c00, c01), ROW16(x, c10, c11), ROW16(x, c20, c21),
                             ROW16(x, c30, c31)};
    __mmask16 m[BL_IL_ROWS], any = 0;
#pragma GCC unroll 4
    for (int r = 0; r < BL_IL_ROWS; r++) {
        m[r] = _mm512_cmp_ps_mask(lhs16(c[r]), rhs16(x, r, fpb), _CMP_GE_OQ) & (__mmask16)valid;
        any |= m[r];
    }
    if (!any)
        return k;
    for (unsigned h = 0; h < 2; h++)
        for (int r = 0; r < BL_IL_ROWS; r++) {
            unsigned bits = (m[r] >> (8 * h)) & 0xffu;
            if (!bits)
                continue;
            uint32_t tmp[16];
            _mm512_storeu_si512((void *)tmp, c[r]);
            while (bits) {
                unsigned q = 8 * h + (unsigned)__builtin_ctz(bits);
                idx[k] = (uint32_t)(pos + q);
                cnt[k] = tmp[q];
                row[k++] = (uint8_t)r;
                bits &= bits - 1;
            }
        }
    return k;
}

AVX512_INLINE size_t rows_range(const rows_ctx *x, const uint64_t *const *a, size_t nw,
                                const uint64_t *b, size_t lo, size_t hi, const uint32_t *bpop,
                                uint32_t *idx, uint32_t *cnt, uint8_t *row, int ee,
                                size_t *skipped)
{
    const uint64_t *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    size_t k = 0, k1 = nw / 4, k2 = nw / 2;
    /* Software prefetch into L2, 16 blocks (16 KiB for 1024-bit filters)
     * ahead: the caller scans a tile of B once per 4 rows, and the first
     * scan of each tile, from L3, set the pace; measured best of 2-256. */
    const size_t PF = 16 * nw * 8;
    for (size_t blk = lo / 8; blk * 8 < hi; blk += 2) {
        size_t pos = blk * 8;
        const uint64_t *p0 = b + blk * nw * 8;
        /* a lone last block is paired with itself; its copy is masked off */
        const uint64_t *p1 = pos + 8 < hi ? p0 + nw * 8 : p0;
        size_t e = pos + 16 < hi ? pos + 16 : hi;
        unsigned valid = ((1u << (e - pos)) - 1) & (0xffffu << (lo > pos ? lo - pos : 0));
        __m512i pb = p1 != p0 ? _mm512_loadu_si512((const void *)(bpop + pos))
                              : _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(bpop + pos)));
        __m512 fpb = _mm512_cvtepi32_ps(pb);
        __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00;
        __m512i c21 = c00, c30 = c00, c31 = c00, q0 = c00, q1 = c00;
        size_t w = 0;
        if (ee) {
#define QB 1
#pragma GCC unroll 16
            for (; w < k1; w++)
                ROWS_WORD(w);
            if (!bound_pass(x, 0, ACC_PASS, q0, q1, pb, fpb)) {
                ++*skipped;
                continue;
            }
#pragma GCC unroll 16
            for (; w < k2; w++)
                ROWS_WORD(w);
            if (!bound_pass(x, 1, ACC_PASS, q0, q1, pb, fpb)) {
                ++*skipped;
                continue;
            }
#undef QB
        }
#define QB 0
#pragma GCC unroll 16
        for (; w < nw; w++)
            ROWS_WORD(w);
#undef QB
        k = rows_emit(x, ACC_PASS, fpb, pos, valid, idx, cnt, row, k);
    }
    return k;
}

AVX512_TARGET static size_t rows_entry(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                                       const uint64_t *b, size_t lo, size_t hi,
                                       const uint32_t *bpop, float tf, uint32_t *idx,
                                       uint32_t *cnt, uint8_t *row, int ee)
{
    _Static_assert(BL_IL_ROWS == 4, "rows_words holds four rows");
    rows_ctx x;
    x.tf = _mm512_set1_ps(tf);
    x.perm = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    ee = ee && nw >= 8; /* shorter filters: nothing worth skipping */
    for (int r = 0; r < BL_IL_ROWS; r++) {
        x.fpa[r] = _mm512_set1_ps((float)pa[r]);
        if (ee) {
            uint32_t s1 = 0, s2 = 0;
            for (size_t w = 0; w < nw / 2; w++) {
                uint32_t c = (uint32_t)_mm_popcnt_u64(a[r][w]);
                s1 += w < nw / 4 ? c : 0;
                s2 += c;
            }
            x.ra[0][r] = _mm512_set1_epi32((int)(pa[r] - s1));
            x.ra[1][r] = _mm512_set1_epi32((int)(pa[r] - s2));
        }
    }
    if (!ee) {
        size_t unused = 0;
        if (nw == 16) /* constant trip counts: fully unrolled for 1024-bit filters */
            return rows_range(&x, a, 16, b, lo, hi, bpop, idx, cnt, row, 0, &unused);
        return rows_range(&x, a, nw, b, lo, hi, bpop, idx, cnt, row, 0, &unused);
    }
    /* The bound prunes only where the threshold is far above the typical
     * Dice (all-pairs at 0.95: nearly every block pair; random filters at
     * 0.7: none, and the checks then cost about a quarter). So the first
     * EE_PROBE block pairs run with it, and the rest of the range keeps it
     * only if at least half of those were skipped. Exact either way. */
    enum { EE_PROBE = 8 };
    size_t mid = (lo / 8 + 2 * EE_PROBE) * 8, skipped = 0, k;
    mid = mid < hi ? mid : hi;
    if (nw == 16) {
        k = rows_range(&x, a, 16, b, lo, mid, bpop, idx, cnt, row, 1, &skipped);
        if (mid < hi)
            k += 2 * skipped >= EE_PROBE
                     ? rows_range(&x, a, 16, b, mid, hi, bpop, idx + k, cnt + k, row + k, 1, &skipped)
                     : rows_range(&x, a, 16, b, mid, hi, bpop, idx + k, cnt + k, row + k, 0, &skipped);
        return k;
    }
    k = rows_range(&x, a, nw, b, lo, mid, bpop, idx, cnt, row, 1, &skipped);
    if (mid < hi)
        k += 2 * skipped >= EE_PROBE
                 ? rows_range(&x, a, nw, b, mid, hi, bpop, idx + k, cnt + k, row + k, 1, &skipped)
                 : rows_range(&x, a, nw, b, mid, hi, bpop, idx + k, cnt + k, row + k, 0, &skipped);
    return k;
}

static size_t avx512_filter_il_rows(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                                    const uint64_t *b, size_t lo, size_t hi, const uint32_t *bpop,
                                    float tf, uint32_t *idx, uint32_t *cnt, uint8_t *row)
{
    return rows_entry(a, nw, pa, b, lo, hi, bpop, tf, idx, cnt, row, 0);
}

static size_t avx512_filter_il_rows_ee(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                                       const uint64_t *b, size_t lo, size_t hi,
                                       const uint32_t *bpop, float tf, uint32_t *idx,
                                       uint32_t *cnt, uint8_t *row)
{
    return rows_entry(a, nw, pa, b, lo, hi, bpop, tf, idx, cnt, row, 1);
}

/* "avx512" (the default) uses the early exit; "avx512-full" computes every
 * popcount of every pair (the same results; for comparison) */
static const bl_kernel k_avx512 = {
    "avx512", avx512_popcount, avx512_and_popcount, avx512_and_popcount_many, avx512_filter,
    avx512_filter_il, avx512_filter_il_rows_ee,
};

static const bl_kernel k_avx512_full = {
    "avx512-full", avx512_popcount, avx512_and_popcount, avx512_and_popcount_many, avx512_filter,
    avx512_filter_il, avx512_filter_il_rows,
};

static int avx512_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vpopcntdq") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
}

const bl_kernel *bli_kernel_avx512_full_get(void)
{
    return avx512_ok() ? &k_avx512_full : NULL;
}

const bl_kernel *bli_kernel_avx512_get(void)
{
    return avx512_ok() ? &k_avx512 : NULL;
}

#else
const bl_kernel *bli_kernel_avx512_get(void)
{
    return NULL;
}

const bl_kernel *bli_kernel_avx512_full_get(void)
{
    return NULL;
}
#endif
