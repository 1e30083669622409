/* tests/unit/test_dice.c - every popcount kernel against the scalar
 * reference at all byte lengths 1..300 (every tail), at odd alignments and
 * for the filter sizes that matter (64, 1000, 1024 bits and odd ones); the
 * batched "many" entry point; the exact Dice threshold table; Python-repr
 * double formatting; candidate generation vs a brute-force reference with
 * pruning, top-k, several datasets and threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/match.h>
#include "match/match_internal.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill(uint8_t *p, size_t n, int density_pct)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t v = 0;
        for (int b = 0; b < 8; b++)
            v = (uint8_t)(v << 1 | ((int)(xr() % 100) < density_pct));
        p[i] = v;
    }
}

/* "avx2"/"avx512" use the exact partial-sum early exit in filter_il_rows,
 * the "-full" kernels compute every popcount */
static const char *names[] = {"scalar", "avx2", "avx512", "avx2-full", "avx512-full"};
#define NKERNELS (sizeof names / sizeof *names)

static void test_kernels_all_lengths(void **state)
{
    (void)state;
    uint8_t *a = malloc(4096 + 64), *b = malloc(4096 + 64);
    uint32_t out[64];
    for (size_t k = 1; k < NKERNELS; k++) {
        const bl_kernel *kk = bli_kernel_by_name(names[k]);
        if (!kk) {
            printf("kernel %s not supported here: skipped\n", names[k]);
            continue;
        }
        for (size_t n = 0; n <= 300; n++)
            for (size_t off = 0; off < 3; off++) {
                int dens = (int)(xr() % 101);
                fill(a + off, n, dens);
                fill(b + off * 2, n, (int)(xr() % 101));
                assert_int_equal(kk->popcount(a + off, n), bl_kernel_scalar.popcount(a + off, n));
                assert_int_equal(kk->and_popcount(a + off, b + off * 2, n),
                                 bl_kernel_scalar.and_popcount(a + off, b + off * 2, n));
            }
        /* typical filter sizes, incl. 64, 1000, 1024 bits and odd ones */
        size_t sizes[] = {8, 125, 128, 64, 256, 17, 129, 511, 512, 1024, 4096};
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            size_t n = sizes[s];
            fill(a, n, 50);
            fill(b, n, 50);
            assert_int_equal(kk->and_popcount(a, b, n), bl_kernel_scalar.and_popcount(a, b, n));
            fill(a, n, 100);
            assert_int_equal(kk->popcount(a, n), n * 8);
        }
        /* many: counts 0..40 with strides, incl. the 128-byte fast path */
        size_t ns[] = {125, 128, 192};
        for (size_t q = 0; q < 3; q++) {
            size_t n = ns[q], stride = 192;
            uint8_t *many = malloc(stride * 40 + 64);
            uint8_t *one = malloc(192);
            fill(one, n, 40);
            fill(many, stride * 40, 40);
            for (size_t cnt = 0; cnt <= 40; cnt++) {
                kk->and_popcount_many(one, many, stride, cnt, n, out);
                for (size_t j = 0; j < cnt; j++)
                    assert_int_equal(out[j], bl_kernel_scalar.and_popcount(one, many + j * stride, n));
            }
            free(many);
            free(one);
        }
    }
    free(a);
    free(b);
}

/* interleaved and prefiltered entry points against the scalar reference */
static void test_kernel_filters(void **state)
{
    (void)state;
    size_t nws[] = {8, 16, 24};
    for (size_t q = 0; q < 3; q++) {
        size_t nw = nws[q], nb = 37, nblk = (nb + 7) / 8;
        uint64_t *il = aligned_alloc(64, nblk * 8 * nw * 8);
        uint8_t *flat = aligned_alloc(64, nb * nw * 8);
        uint64_t *a = aligned_alloc(64, nw * 8);
        uint32_t *bpop = calloc(nblk * 8, sizeof *bpop);
        memset(il, 0, nblk * 8 * nw * 8);
        fill((uint8_t *)a, nw * 8, 40);
        fill(flat, nb * nw * 8, 40);
        for (size_t i = 0; i < nb; i++) {
            bpop[i] = bl_kernel_scalar.popcount(flat + i * nw * 8, nw * 8);
            for (size_t w = 0; w < nw; w++)
                memcpy(&il[((i / 8) * nw + w) * 8 + i % 8], flat + i * nw * 8 + 8 * w, 8);
        }
        uint32_t pa = bl_kernel_scalar.popcount((const uint8_t *)a, nw * 8);
        for (size_t k = 0; k < NKERNELS; k++) {
            const bl_kernel *kk = bli_kernel_by_name(names[k]);
            if (!kk)
                continue;
            for (size_t lo = 0; lo < nb; lo += 3)
                for (size_t hi = lo; hi <= nb; hi += 5) {
                    uint32_t idx[64], cnt[64], ridx[64], rcnt[64];
                    /* tf = 0: every position passes, counts must be exact */
                    size_t n = kk->filter_il(a, nw, pa, il, lo, hi, bpop, 0.0f, idx, cnt);
                    assert_int_equal(n, hi - lo);
                    for (size_t j = 0; j < n; j++) {
                        assert_int_equal(idx[j], lo + j);
                        assert_int_equal(cnt[j], bl_kernel_scalar.and_popcount(
                                                     (const uint8_t *)a, flat + (lo + j) * nw * 8, nw * 8));
                    }
                    float tf = bli_threshold_float(0.45);
                    n = kk->filter_il(a, nw, pa, il, lo, hi, bpop, tf, idx, cnt);
                    size_t rn = bl_kernel_scalar.filter_il(a, nw, pa, il, lo, hi, bpop, tf, ridx, rcnt);
                    assert_int_equal(n, rn);
                    assert_memory_equal(idx, ridx, n * sizeof *idx);
                    assert_memory_equal(cnt, rcnt, n * sizeof *cnt);
                    n = kk->and_popcount_filter((const uint8_t *)a, pa, flat + lo * nw * 8, nw * 8,
                                                hi - lo, nw * 8, bpop + lo, tf, idx, cnt);
                    assert_int_equal(n, rn);
                    for (size_t j = 0; j < n; j++)
                        assert_int_equal(idx[j] + lo, ridx[j]);
                }
        }
        free(il);
        free(flat);
        free(a);
        free(bpop);
    }
}

/* register-blocked rows: every kernel (with and without the early exit)
 * equals the scalar reference (same order) for filter lengths with and
 * without the unrolled path, all range tails, rows with different
 * popcounts, and thresholds up to 0.99 with near-duplicates present */
static void test_kernel_filter_rows(void **state)
{
    (void)state;
    /* 43 filters: every range; 300: ranges longer than the early-exit probe
     * (16 blocks), near-duplicates only below 40 and above 200, so the probe
     * both keeps and drops the early exit for the rest of a range */
    size_t nws[] = {1, 8, 15, 16, 17, 24, 8, 16, 24}, nbs[] = {43, 43, 43, 43, 43, 43, 300, 300, 300};
    for (size_t q = 0; q < sizeof nws / sizeof *nws; q++) {
        size_t nw = nws[q], nb = nbs[q], nblk = (nb + 7) / 8, long_ = nb > 100;
        uint64_t *il = aligned_alloc(64, nblk * 8 * nw * 8 + 64);
        uint8_t *flat = malloc(nb * nw * 8);
        uint64_t *rows = aligned_alloc(64, (BL_IL_ROWS * nw * 8 + 127) / 64 * 64); /* C11: a multiple of 64 */
        uint32_t *bpop = calloc(nblk * 8, sizeof *bpop);
        memset(il, 0, nblk * 8 * nw * 8);
        fill(flat, nb * nw * 8, 40);
        const uint64_t *ap[BL_IL_ROWS];
        uint32_t pa[BL_IL_ROWS];
        for (size_t r = 0; r < BL_IL_ROWS; r++) {
            fill((uint8_t *)(rows + r * nw), nw * 8, 20 + 15 * (int)r);
            ap[r] = rows + r * nw;
            pa[r] = bl_kernel_scalar.popcount((const uint8_t *)ap[r], nw * 8);
        }
        /* every third B filter is a row of A with 0-18 bits flipped, so high
         * thresholds keep some pairs of a block while the early exit could
         * drop the others, and Dice values fall on both sides of t */
        for (size_t i = 0; i < nb; i += 3) {
            if (long_ && i >= 40 && i <= 200)
                continue;
            uint8_t *f = flat + i * nw * 8;
            memcpy(f, ap[(i / 3) % BL_IL_ROWS], nw * 8);
            for (size_t fl = 0; fl < (i % 7) * 3; fl++) {
                size_t bit = (size_t)(xr() % (nw * 64));
                f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
        }
        for (size_t i = 0; i < nb; i++) {
            bpop[i] = bl_kernel_scalar.popcount(flat + i * nw * 8, nw * 8);
            for (size_t w = 0; w < nw; w++)
                memcpy(&il[((i / 8) * nw + w) * 8 + i % 8], flat + i * nw * 8 + 8 * w, 8);
        }
        enum { CAP = BL_IL_ROWS * 320 };
        static uint32_t idx[CAP], cnt[CAP], ridx[CAP], rcnt[CAP];
        static uint8_t row[CAP], rrow[CAP];
        for (size_t k = 0; k < NKERNELS; k++) {
            const bl_kernel *kk = bli_kernel_by_name(names[k]);
            if (!kk)
                continue;
            for (size_t lo = 0; lo < nb; lo += long_ ? 9 : 1)
                for (size_t hi = lo; hi <= nb; hi += long_ ? 7 + (hi % 5) : 1 + (hi % 3)) {
                    /* tf = 0: all positions of all rows, exact counts */
                    size_t n = kk->filter_il_rows(ap, nw, pa, il, lo, hi, bpop, 0.0f, idx, cnt, row);
                    assert_int_equal(n, BL_IL_ROWS * (hi - lo));
                    for (size_t j = 0; j < n; j++)
                        assert_int_equal(cnt[j], bl_kernel_scalar.and_popcount(
                                                     (const uint8_t *)ap[row[j]],
                                                     flat + idx[j] * nw * 8, nw * 8));
                    float tfs[] = {bli_threshold_float(0.3), bli_threshold_float(0.5),
                                   bli_threshold_float(0.8), bli_threshold_float(0.95),
                                   bli_threshold_float(0.99)};
                    for (size_t t = 0; t < sizeof tfs / sizeof *tfs; t++) {
                        n = kk->filter_il_rows(ap, nw, pa, il, lo, hi, bpop, tfs[t], idx, cnt, row);
                        size_t rn = bl_kernel_scalar.filter_il_rows(ap, nw, pa, il, lo, hi, bpop,
                                                                    tfs[t], ridx, rcnt, rrow);
                        assert_int_equal(n, rn);
                        assert_memory_equal(idx, ridx, n * sizeof *idx);
                        assert_memory_equal(cnt, rcnt, n * sizeof *cnt);
                        assert_memory_equal(row, rrow, n);
                    }
                }
        }
        free(il);
        free(flat);
        free(rows);
        free(bpop);
    }
}

static void test_dice_basic(void **state)
{
    (void)state;
    uint8_t a[16] = {0}, b[16] = {0};
    assert_true(bl_dice(a, b, 16) == 0.0);
    a[0] = 0xff;
    assert_true(bl_dice(a, b, 16) == 0.0);
    b[0] = 0x0f;
    assert_true(bl_dice(a, b, 16) == 8.0 / 12.0);
    assert_true(bl_dice(a, a, 16) == 1.0);
}

static void test_cmin_exact(void **state)
{
    (void)state;
    double ts[] = {0.8, 0.7, 0.5, 0.9, 1.0, 0.33333, 0.1, 0.999};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        uint32_t nbits = 200;
        uint32_t *t = bli_dice_cmin_table(nbits, ts[i]);
        for (uint32_t s = 1; s <= 2 * nbits; s++)
            for (uint32_t c = 0; c <= s / 2; c++) {
                int pass = (double)(2 * c) / (double)s >= ts[i];
                assert_int_equal(pass, c >= t[s]);
            }
        assert_true(t[0] > nbits);
        free(t);
    }
}

static void test_format_double(void **state)
{
    (void)state;
    char b[32];
    struct {
        double v;
        const char *s;
    } cases[] = {
        {0.9817671809256662, "0.9817671809256662"},
        {0.5526315789473685, "0.5526315789473685"},
        {0.6, "0.6"},
        {1.0, "1.0"},
        {0.0, "0.0"},
        {0.1, "0.1"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {123.5, "123.5"},
        {1e16, "1e+16"},
        {2.0 / 3.0, "0.6666666666666666"},
        {-0.25, "-0.25"},
        {1e22, "1e+22"},
        {5e-324, "5e-324"},
        {0.30000000000000004, "0.30000000000000004"},
        /* 15 and 14 significant digits: each step of the search for the shortest */
        {0.123456789012345, "0.123456789012345"},
        {0.12345678901234, "0.12345678901234"},
        {1234567.89012345, "1234567.89012345"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_string_equal(bl_format_double(cases[i].v, b), cases[i].s);
}

/* brute-force reference of find_candidate_pairs for 3 datasets */
static int cmpc(const void *x, const void *y)
{
    return bli_candidate_cmp(x, y);
}

static void test_candidates_vs_bruteforce(void **state)
{
    (void)state;
    bl_error e = {0};
    uint32_t nbits[] = {1024, 1000, 64, 520};
    for (size_t q = 0; q < 4; q++) {
        bl_clkset *s[3];
        size_t sizes[3] = {150, 97, 64};
        uint8_t buf[200];
        for (int d = 0; d < 3; d++) {
            assert_int_equal(bl_clkset_new(nbits[q], sizes[d], &s[d], &e), BL_OK);
            for (size_t i = 0; i < sizes[d]; i++) {
                fill(buf, (nbits[q] + 7) / 8, 20 + (int)(xr() % 30));
                if (nbits[q] % 8)
                    buf[nbits[q] / 8] &= (uint8_t)(0xff << (8 - nbits[q] % 8));
                if (i % 7 == 0 && d > 0) /* near duplicates of dataset 0 */
                    memcpy(buf, bl_clkset_get(s[0], i), (nbits[q] + 7) / 8), buf[1] ^= 0x11;
                assert_int_equal(bl_clkset_append(s[d], buf, NULL, &e), BL_OK);
            }
        }
        const bl_clkset *sets[3] = {s[0], s[1], s[2]};
        double t = q == 1 ? 0.3 : 0.55; /* 0.3: > 4096 candidates, radix sort path */
        /* reference */
        size_t rn = 0;
        bl_candidate *ref = malloc(sizeof *ref * 150 * 97 * 3);
        for (uint32_t x = 0; x < 3; x++)
            for (uint32_t y = x + 1; y < 3; y++)
                for (uint32_t i = 0; i < sizes[x]; i++)
                    for (uint32_t j = 0; j < sizes[y]; j++) {
                        double sc = bl_dice(bl_clkset_get(s[x], i), bl_clkset_get(s[y], j),
                                            s[0]->nbytes);
                        if (sc >= t)
                            ref[rn++] = (bl_candidate){sc, {x, y}, {i, j}};
                    }
        qsort(ref, rn, sizeof *ref, cmpc);
        for (int threads = 1; threads <= 3; threads++)
            for (size_t k = 1; k < NKERNELS + 1; k++) {
                const bl_kernel *kk = bli_kernel_by_name(names[k % NKERNELS]);
                if (!kk)
                    continue;
                bli_kernel_force(kk);
                bl_match_opts o;
                memset(&o, 0, sizeof o);
                o.threshold = t;
                o.threads = threads;
                bl_candidate *c;
                size_t n;
                assert_int_equal(bl_match_candidates(sets, 3, &o, &c, &n, &e), BL_OK);
                assert_int_equal(n, rn);
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(bli_candidate_cmp(&c[i], &ref[i]), 0);
                free(c);
                /* cap */
                o.max_candidates = rn > 1 ? rn - 1 : 1;
                if (rn > 1) {
                    assert_int_equal(bl_match_candidates(sets, 3, &o, &c, &n, &e), BL_ELIMIT);
                    assert_null(c);
                }
                /* top-k: every record keeps at most k per dataset pair */
                o.max_candidates = 0;
                o.top_k = 2;
                assert_int_equal(bl_match_candidates(sets, 3, &o, &c, &n, &e), BL_OK);
                assert_true(n <= rn);
                for (size_t i = 0; i < n; i++) {
                    size_t c0 = 0, c1 = 0;
                    for (size_t j = 0; j < n; j++) {
                        if (c[j].dset[0] == c[i].dset[0] && c[j].dset[1] == c[i].dset[1]) {
                            c0 += c[j].rec[0] == c[i].rec[0];
                            c1 += c[j].rec[1] == c[i].rec[1];
                        }
                    }
                    assert_true(c0 <= 2 && c1 <= 2);
                    if (i)
                        assert_true(bli_candidate_cmp(&c[i - 1], &c[i]) < 0);
                }
                free(c);
            }
        bli_kernel_force(NULL);
        /* keyed LSH blocking returns a subset of exhaustive, with exact scores */
        bl_blocking *bk;
        const uint8_t key[] = "k";
        assert_int_equal(bl_blocking_new_lsh(nbits[q], 16, 8, key, 1, &bk, &e), BL_OK);
        bl_match_opts o;
        memset(&o, 0, sizeof o);
        o.threshold = t;
        o.blocking = bk;
        bl_candidate *c;
        size_t n;
        assert_int_equal(bl_match_candidates(sets, 3, &o, &c, &n, &e), BL_OK);
        for (size_t i = 0; i < n; i++) {
            assert_non_null(bsearch(&c[i], ref, rn, sizeof *ref, cmpc));
            if (i)
                assert_true(bli_candidate_cmp(&c[i - 1], &c[i]) < 0); /* no duplicates */
        }
        /* near duplicates (2 flipped bits) are always found */
        for (size_t i = 0; i < rn; i++)
            if (ref[i].score >= 0.9)
                assert_non_null(bsearch(&ref[i], c, n, sizeof *c, cmpc));
        assert_true(bl_candidates_completeness(ref, rn, c, n) > 0.0);
        free(c);
        bl_blocking_free(bk);
        free(ref);
        for (int d = 0; d < 3; d++)
            bl_clkset_free(s[d]);
    }
}

/* The plan fitted to sampled pairs (inputs of 1e10 pairs and more): B holds
 * copies of A with 0-60 of about 310 set bits moved (Dice about 0.80-1.0),
 * so the fitted plan must keep at least 99% of the pairs at >= 0.8. */
static void test_lsh_plan_sampled(void **state)
{
    (void)state;
    enum { N = 100000, NB = 128 };
    bl_error e;
    bl_clkset *s[2];
    uint8_t buf[NB];
    for (int d = 0; d < 2; d++)
        assert_int_equal(bl_clkset_new(1024, N, &s[d], &e), BL_OK);
    for (size_t i = 0; i < N; i++) {
        fill(buf, NB, 30);
        assert_int_equal(bl_clkset_append(s[0], buf, NULL, &e), BL_OK);
        for (uint32_t m = (uint32_t)(xr() % 61); m > 0; m--) {
            uint32_t p = (uint32_t)(xr() % 1024);
            buf[p >> 3] ^= (uint8_t)(0x80u >> (p & 7));
        }
        assert_int_equal(bl_clkset_append(s[1], buf, NULL, &e), BL_OK);
    }
    const bl_clkset *sets[2] = {s[0], s[1]};
    uint32_t tables = 0, bits = 0;
    double share = 0;
    assert_int_equal(bl_blocking_lsh_plan(sets, 2, 0.8, 0.99, &tables, &bits, &share), 1);
    bl_blocking *bk;
    assert_int_equal(bl_blocking_new_lsh(1024, tables, bits, (const uint8_t *)"k", 1, &bk, &e), BL_OK);
    bl_match_opts o;
    memset(&o, 0, sizeof o);
    o.threshold = 0.8;
    o.blocking = bk;
    bl_candidate *c;
    size_t n, kept = 0, above = 0;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_OK);
    for (size_t i = 0; i < n; i++)
        kept += c[i].rec[0] == c[i].rec[1];
    for (size_t i = 0; i < N; i++)
        above += bl_dice(bl_clkset_get(s[0], i), bl_clkset_get(s[1], i), NB) >= 0.8;
    assert_true(above > N / 2);
    assert_true((double)kept >= 0.99 * (double)above);
    free(c);
    bl_blocking_free(bk);
    for (int d = 0; d < 2; d++) {
        bl_clkset_free(s[d]);
    }
}

/* Flips m random bits of a 1024-bit filter (at 30% density Dice falls by
 * about m / 614). */
static void flip_bits(uint8_t *buf, uint32_t m)
{
    for (; m > 0; m--) {
        uint32_t p = (uint32_t)(xr() % 1024);
        buf[p >> 3] ^= (uint8_t)(0x80u >> (p & 7));
    }
}

/* A of n random filters (30% density) and B of 2n: for every `every`-th
 * record i of A a near copy (0-12 bits flipped) at B record 2i and a far one
 * (95-115 flipped, Dice about 0.81-0.85) at 2i + 1; random filters there
 * for the other records. */
static void near_far_sets(bl_clkset *s[2], size_t n, size_t every)
{
    enum { NB = 128 };
    bl_error e;
    uint8_t buf[NB], copy[NB];
    assert_int_equal(bl_clkset_new(1024, n, &s[0], &e), BL_OK);
    assert_int_equal(bl_clkset_new(1024, 2 * n, &s[1], &e), BL_OK);
    for (size_t i = 0; i < n; i++) {
        fill(buf, NB, 30);
        assert_int_equal(bl_clkset_append(s[0], buf, NULL, &e), BL_OK);
        int linked = i % every == 0;
        memcpy(copy, buf, NB);
        if (linked)
            flip_bits(copy, (uint32_t)(xr() % 13));
        else
            fill(copy, NB, 30);
        assert_int_equal(bl_clkset_append(s[1], copy, NULL, &e), BL_OK);
        if (linked)
            flip_bits(buf, 95 + (uint32_t)(xr() % 21));
        else
            fill(buf, NB, 30);
        assert_int_equal(bl_clkset_append(s[1], buf, NULL, &e), BL_OK);
    }
}

/* BL_LSH_KEEP_BEST: every record of A has a near copy in B (0-12 bits
 * flipped) and a far one (95-115 flipped, Dice about 0.81-0.85). Keeping all
 * pairs >= 0.8 takes many tables for the far copies; keeping each record's
 * best pair takes far fewer, and those tables must still keep >= 99% of the
 * near copies. */
static void test_lsh_plan_best(void **state)
{
    (void)state;
    enum { N = 100000 };
    bl_error e;
    bl_clkset *s[2];
    near_far_sets(s, N, 1);
    const bl_clkset *sets[2] = {s[0], s[1]};
    uint32_t ta = 0, ba = 0, tb = 0, bb = 0;
    double share = 0;
    assert_int_equal(bl_blocking_lsh_plan_keep(sets, 2, 0.8, 0.99, BL_LSH_KEEP_ALL, &ta, &ba, &share), 1);
    assert_int_equal(bl_blocking_lsh_plan_keep(sets, 2, 0.8, 0.99, BL_LSH_KEEP_BEST, &tb, &bb, &share), 1);
    /* bl_blocking_lsh_plan is the ALL plan */
    uint32_t t0 = 0, b0 = 0;
    assert_int_equal(bl_blocking_lsh_plan(sets, 2, 0.8, 0.99, &t0, &b0, &share), 1);
    assert_true(t0 == ta && b0 == ba);
    /* measured: 36 x 21 against 3 x 25 */
    assert_true(2 * tb < ta);
    bl_blocking *bk;
    assert_int_equal(bl_blocking_new_lsh(1024, tb, bb, (const uint8_t *)"k", 1, &bk, &e), BL_OK);
    bl_match_opts o;
    memset(&o, 0, sizeof o);
    o.threshold = 0.8;
    o.blocking = bk;
    bl_candidate *c;
    size_t n, near = 0;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_OK);
    for (size_t i = 0; i < n; i++)
        near += c[i].rec[1] == 2 * c[i].rec[0];
    assert_true((double)near >= 0.99 * N);
    free(c);
    bl_blocking_free(bk);
    bl_clkset_free(s[0]);
    bl_clkset_free(s[1]);
}

/* Low overlap: only 4% of A has copies in B (a near and a far one), so the
 * sample holds too few best pairs to fit a plan to; the plan must then fit
 * all sampled pairs, not fall back to the costlier plan for a pair at the
 * threshold (it did: 72 tables against 36 for keep-all). */
static void test_lsh_plan_best_low_overlap(void **state)
{
    (void)state;
    bl_clkset *s[2];
    near_far_sets(s, 100000, 25);
    const bl_clkset *sets[2] = {s[0], s[1]};
    uint32_t ta = 0, ba = 0, tb = 0, bb = 0;
    double share = 0;
    assert_int_equal(bl_blocking_lsh_plan_keep(sets, 2, 0.8, 0.99, BL_LSH_KEEP_ALL, &ta, &ba, &share), 1);
    assert_int_equal(bl_blocking_lsh_plan_keep(sets, 2, 0.8, 0.99, BL_LSH_KEEP_BEST, &tb, &bb, &share), 1);
    assert_true(tb <= ta);
    bl_clkset_free(s[0]);
    bl_clkset_free(s[1]);
}

/* bl_candidates_sort against qsort with the anonlink order, on the radix
 * path (n >= 4096) and the qsort path, for shuffled lists, lists already in
 * order (the one-pass fast path) and lists with one element out of place
 * at the start or at the end (which must not take the fast path). */
static void test_candidates_sort(void **state)
{
    (void)state;
    const size_t sizes[] = {100, 5000};
    for (size_t z = 0; z < 2; z++) {
        const size_t n = sizes[z];
        bl_candidate *c = malloc(n * sizeof *c), *ref = malloc(n * sizeof *ref);
        assert_non_null(c);
        assert_non_null(ref);
        for (size_t i = 0; i < n; i++) {
            const uint64_t r = xr();
            c[i] = (bl_candidate){(double)(r % 977) / 977.0, {0, 1 + (uint32_t)(r >> 60) % 2},
                                  {(uint32_t)(r >> 20) % 300, (uint32_t)(r >> 40) % 300}};
        }
        for (int variant = 0; variant < 4; variant++) {
            memcpy(ref, c, n * sizeof *c);
            qsort(ref, n, sizeof *ref, bli_candidate_cmp);
            if (variant == 1) /* already in order */
                memcpy(c, ref, n * sizeof *c);
            if (variant == 2) { /* the last first */
                memcpy(c + 1, ref, (n - 1) * sizeof *c);
                c[0] = ref[n - 1];
            }
            if (variant == 3) { /* the first last */
                memcpy(c, ref + 1, (n - 1) * sizeof *c);
                c[n - 1] = ref[0];
            }
            bl_candidates_sort(c, n);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(bli_candidate_cmp(&c[i], &ref[i]), 0);
        }
        free(c);
        free(ref);
    }
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* the threaded radix sort and unit list of an LSH table against qsort and
 * a plain serial bucket walk, at sizes around the threaded cut-over and
 * thread counts that do not divide them */
static void test_keys_sort_units(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 999, 65535, 65536, 200003};
    static const int threads[] = {1, 2, 3, 5};
    static const uint32_t kbits[] = {7, 13, 25};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t ki = 0; ki < 3; ki++) {
            size_t n = sizes[si];
            uint64_t *v = malloc((n + 1) * sizeof *v), *ref = malloc((n + 1) * sizeof *v);
            uint64_t *tmp = malloc((n + 1) * sizeof *v);
            assert_non_null(v);
            assert_non_null(ref);
            assert_non_null(tmp);
            /* few distinct keys with 7 bits (big buckets), many with 25 */
            for (size_t i = 0; i < n; i++)
                ref[i] = (xr() & ((1u << kbits[ki]) - 1)) << 32 | i;
            qsort(ref, n, sizeof *ref, cmp_u64);
            for (size_t ti = 0; ti < 4; ti++) {
                for (size_t i = 0; i < n; i++)
                    v[(uint32_t)ref[i]] = ref[i]; /* the input: in index order */
                assert_int_equal(bli_keys_sort(v, tmp, n, kbits[ki], threads[ti]), 0);
                if (n)
                    assert_memory_equal(v, ref, n * sizeof *v);
                size_t *u = NULL, nu = 0, want = 0;
                assert_int_equal(bli_keys_units(v, n, 256, &u, &nu, threads[ti]), 0);
                for (size_t s = 0; s < n;) {
                    size_t e = s + 1;
                    while (e < n && v[e] >> 32 == v[s] >> 32)
                        e++;
                    for (size_t a = s; e - s >= 2 && a < e - 1; a += 256, want++) {
                        assert_true(want < nu);
                        assert_true(u[3 * want] == s && u[3 * want + 1] == e && u[3 * want + 2] == a);
                    }
                    s = e;
                }
                assert_int_equal(nu, want);
                free(u);
            }
            free(v);
            free(ref);
            free(tmp);
        }
}

static void test_lsh_keyed(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_blocking *x, *y, *z;
    assert_int_equal(bl_blocking_new_lsh(1024, 4, 20, (const uint8_t *)"secret-one", 10, &x, &e), BL_OK);
    assert_int_equal(bl_blocking_new_lsh(1024, 4, 20, (const uint8_t *)"secret-one", 10, &y, &e), BL_OK);
    assert_int_equal(bl_blocking_new_lsh(1024, 4, 20, (const uint8_t *)"secret-two", 10, &z, &e), BL_OK);
    assert_memory_equal(x->pos, y->pos, 80 * sizeof *x->pos);
    assert_true(memcmp(x->pos, z->pos, 80 * sizeof *x->pos) != 0);
    for (uint32_t t = 0; t < 4; t++)
        for (uint32_t i = 0; i < 20; i++) {
            assert_true(x->pos[t * 20 + i] < 1024);
            for (uint32_t j = 0; j < i; j++)
                assert_true(x->pos[t * 20 + i] != x->pos[t * 20 + j]);
        }
    bl_blocking_free(x);
    bl_blocking_free(y);
    bl_blocking_free(z);
    assert_int_equal(bl_blocking_new_lsh(1024, 0, 20, (const uint8_t *)"k", 1, &x, &e), BL_EINVAL);
    assert_int_equal(bl_blocking_new_lsh(1024, 4, 33, (const uint8_t *)"k", 1, &x, &e), BL_EINVAL);
    assert_int_equal(bl_blocking_new_lsh(1024, 4, 8, NULL, 0, &x, &e), BL_EINVAL);
}

/* blocking statistics count distinct pairs (checked by brute force over
 * the table keys); with many narrow tables pairs collide repeatedly, so the
 * comparisons exceed the pairs, yet the reduction ratio stays in [0, 1] */
/* completeness over each record's best pair: A0's best is (A0, B1), A1's
 * is (A1, B0); blocked keeps A0's best and A1's second, so 1 of 2 */
static void test_completeness_best(void **state)
{
    (void)state;
    const bl_candidate full[] = {{0.95, {0, 1}, {0, 1}}, {0.9, {0, 1}, {1, 0}},
                                 {0.85, {0, 1}, {0, 0}}, {0.82, {0, 1}, {1, 2}}};
    const bl_candidate blocked[] = {{0.95, {0, 1}, {0, 1}}, {0.82, {0, 1}, {1, 2}}};
    size_t nb = 0;
    assert_true(bl_candidates_completeness_best(full, 4, blocked, 2, &nb) == 0.5);
    assert_int_equal(nb, 2);
    assert_true(bl_candidates_completeness(full, 4, blocked, 2) == 0.5);
    assert_true(bl_candidates_completeness_best(full, 4, full, 4, NULL) == 1.0);
    assert_true(bl_candidates_completeness_best(full, 4, blocked + 1, 1, NULL) == 0.0);
    assert_true(bl_candidates_completeness_best(NULL, 0, NULL, 0, &nb) == 1.0);
    assert_int_equal(nb, 0);
}

/* a tie for a record's top score: A0 scores 0.9 with B3 and B4 (anonlink
 * order puts B3 first); blocking that keeps only (A0, B4) found A0's best.
 * A1's kept pair is below its top (a miss), and A2's top 0.9 is not tied
 * with its kept 0.6 (a miss), so 1 of 3 */
static void test_completeness_best_tie(void **state)
{
    (void)state;
    const bl_candidate full[] = {{0.9, {0, 1}, {0, 3}}, {0.9, {0, 1}, {0, 4}},
                                 {0.9, {0, 1}, {2, 1}}, {0.8, {0, 1}, {1, 3}},
                                 {0.7, {0, 1}, {1, 4}}, {0.6, {0, 1}, {2, 2}}};
    const bl_candidate blocked[] = {{0.9, {0, 1}, {0, 4}}, {0.7, {0, 1}, {1, 4}},
                                    {0.6, {0, 1}, {2, 2}}};
    size_t nb = 0;
    assert_true(bl_candidates_completeness_best(full, 6, blocked, 3, &nb) == 1.0 / 3);
    assert_int_equal(nb, 3);
    /* the first of the tie alone counts once, as before */
    assert_true(bl_candidates_completeness_best(full, 6, full, 1, &nb) == 1.0 / 3);
    /* both tied pairs kept: still one best pair for A0 */
    assert_true(bl_candidates_completeness_best(full, 6, full, 2, &nb) == 1.0 / 3);
    assert_true(bl_candidates_completeness_best(full, 6, full, 6, &nb) == 1.0);
    assert_int_equal(nb, 3);
}

static void test_lsh_stats_distinct(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *s[2];
    size_t sizes[2] = {60, 45};
    uint8_t buf[128];
    for (int d = 0; d < 2; d++) {
        assert_int_equal(bl_clkset_new(1024, sizes[d], &s[d], &e), BL_OK);
        for (size_t i = 0; i < sizes[d]; i++) {
            fill(buf, 128, 40);
            assert_int_equal(bl_clkset_append(s[d], buf, NULL, &e), BL_OK);
        }
    }
    const bl_clkset *sets[2] = {s[0], s[1]};
    bl_blocking *b;
    assert_int_equal(bl_blocking_new_lsh(1024, 40, 2, (const uint8_t *)"k", 1, &b, &e), BL_OK);
    uint64_t want = 0, reps = 0;
    for (size_t i = 0; i < sizes[0]; i++)
        for (size_t j = 0; j < sizes[1]; j++) {
            uint32_t hits = 0;
            for (uint32_t t = 0; t < 40; t++)
                hits += bli_lsh_key(b, t, bl_clkset_get(s[0], i)) ==
                        bli_lsh_key(b, t, bl_clkset_get(s[1], j));
            want += hits > 0;
            reps += hits;
        }
    bl_blocking_stats st;
    assert_int_equal(bl_blocking_stats_compute(b, sets, 2, &st, &e), BL_OK);
    assert_int_equal(st.pairs_total, 60 * 45);
    assert_int_equal(st.pairs_compared, want);
    assert_int_equal(st.comparisons, reps);
    assert_true(st.comparisons > st.pairs_total);
    assert_true(st.reduction_ratio >= 0.0 && st.reduction_ratio <= 1.0);
    assert_true(fabs(st.reduction_ratio - (1.0 - (double)want / (60.0 * 45.0))) < 1e-12);
    bl_blocking_free(b);
    bl_clkset_free(s[0]);
    bl_clkset_free(s[1]);
}

static void test_validation(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *a, *b;
    assert_int_equal(bl_clkset_new(1024, 1, &a, &e), BL_OK);
    assert_int_equal(bl_clkset_new(1000, 1, &b, &e), BL_OK);
    const bl_clkset *sets[2] = {a, b};
    bl_match_opts o;
    memset(&o, 0, sizeof o);
    bl_candidate *c;
    size_t n;
    o.threshold = 0.0;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_EINVAL);
    o.threshold = 1.5;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_EINVAL);
    o.threshold = 0.8;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "1000"));
    assert_int_equal(bl_match_candidates(sets, 1, &o, &c, &n, &e), BL_EINVAL);
    bl_clkset_free(b);
    assert_int_equal(bl_clkset_new(1024, 1, &b, &e), BL_OK);
    a->has_fingerprint = b->has_fingerprint = 1;
    memset(a->fingerprint, 1, sizeof a->fingerprint);
    memset(b->fingerprint, 2, sizeof b->fingerprint);
    sets[1] = b;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "fingerprint"));
    b->has_fingerprint = 0;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_OK);
    assert_int_equal(n, 0);
    free(c);
    bl_clkset_free(a);
    bl_clkset_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_all_lengths), cmocka_unit_test(test_kernel_filters),
        cmocka_unit_test(test_kernel_filter_rows),
        cmocka_unit_test(test_dice_basic),
        cmocka_unit_test(test_cmin_exact),          cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_candidates_vs_bruteforce), cmocka_unit_test(test_lsh_keyed), cmocka_unit_test(test_lsh_plan_sampled), cmocka_unit_test(test_lsh_plan_best), cmocka_unit_test(test_lsh_plan_best_low_overlap), cmocka_unit_test(test_keys_sort_units), cmocka_unit_test(test_candidates_sort), cmocka_unit_test(test_completeness_best), cmocka_unit_test(test_completeness_best_tie),
        cmocka_unit_test(test_lsh_stats_distinct),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
