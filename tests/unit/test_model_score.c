/* tests/unit/test_model_score.c - the model's field kernels and scoring:
 * every field kernel (scalar reference, AVX2, AVX-512 where the CPU has
 * them) gives the reference AND-popcounts at all field counts and lengths
 * (tails of every size, garbage in the padding between fields), the
 * integer levels equal bl_model_levels (swapped names included), and
 * bl_model_score gives byte-identical scored pairs on every kernel, equal
 * to the weights summed from bl_model_levels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/model.h>

#include "match/candrun.h"
#include "model/model_internal.h"

static const char *const KERNELS[] = {"scalar", "avx2", "avx512"};

static uint64_t rs = 0x243F6A8885A308D3ULL;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* nf fields of the given lengths, given name / surname first when nf >= 2
 * (so the swapped level is in play), random m/u and prior. */
static bl_model *make_model(size_t nf, const uint32_t *bits, uint32_t *nbits)
{
    static const char *names[] = {"given_name", "surname", "dob", "sex", "postcode", "email"};
    bl_fieldset fs = {0};
    fs.nfields = nf;
    uint32_t off = 0;
    char buf[32];
    for (size_t i = 0; i < nf; i++) {
        snprintf(buf, sizeof buf, "%s%zu", names[i % 6], i / 6);
        fs.names[i] = strdup(buf);
        fs.offset[i] = off;
        fs.bits[i] = bits[i];
        off += (bits[i] + 511) / 512 * 512;
    }
    *nbits = off;
    bl_model *m = NULL;
    bl_error e = {0};
    assert_int_equal(bl_model_new_for(&fs, NULL, &m, &e), BL_OK);
    bl_fieldset_clear(&fs);
    for (size_t f = 0; f < nf; f++)
        for (uint32_t l = 0; l < m->f[f].nlevels; l++) {
            m->f[f].m[l] = 0.01 + (double)(rnd() % 1000) / 1000.0;
            m->f[f].u[l] = 0.01 + (double)(rnd() % 1000) / 1000.0;
        }
    m->prior = 0.05;
    return m;
}

/* A random field value of a given density. */
static void fill(uint8_t *p, size_t n, int dens)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd();
        p[i] = (uint8_t)(dens == 0   ? 0
                         : dens == 1 ? r & (r >> 8) & (r >> 16)
                         : dens == 2 ? r
                                     : r | (r >> 8));
    }
}

/* Records of set A random; of set B mostly noisy copies (some exact, some
 * with given name and surname swapped); the padding after each field holds
 * garbage that no count may see. */
static void make_sets(const bl_model *m, uint32_t nbits, size_t n, bl_clkset **A, bl_clkset **B)
{
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(nbits, n, A, &e), BL_OK);
    assert_int_equal(bl_clkset_new(nbits, n, B, &e), BL_OK);
    uint8_t *ra = calloc(1, nbits / 8 + 64), *rb = calloc(1, nbits / 8 + 64);
    for (size_t r = 0; r < n; r++) {
        memset(ra, 0, nbits / 8);
        for (size_t f = 0; f < m->nf; f++)
            fill(ra + m->f[f].offset / 8, (m->f[f].bits + 7) / 8, (int)(rnd() % 4));
        memcpy(rb, ra, nbits / 8);
        int kind = (int)(rnd() % 4);
        for (size_t f = 0; f < m->nf; f++) {
            uint8_t *p = rb + m->f[f].offset / 8;
            size_t nb = (m->f[f].bits + 7) / 8;
            if (kind == 1) /* noise: flip a few bits */
                for (int q = (int)(rnd() % 6); q > 0; q--)
                    p[rnd() % nb] ^= (uint8_t)(1u << (rnd() % 8));
            else if (kind == 2 && rnd() % 3 == 0)
                fill(p, nb, (int)(rnd() % 4));
        }
        if (kind == 3 && m->nf >= 2 && m->f[0].bits == m->f[1].bits) {
            size_t nb = (m->f[0].bits + 7) / 8;
            memcpy(rb + m->f[0].offset / 8, ra + m->f[1].offset / 8, nb);
            memcpy(rb + m->f[1].offset / 8, ra + m->f[0].offset / 8, nb);
        }
        assert_int_equal(bl_clkset_append(*A, ra, NULL, &e), BL_OK);
        assert_int_equal(bl_clkset_append(*B, rb, NULL, &e), BL_OK);
        /* garbage between fields, written after append (the API zeroes padding) */
        for (int s = 0; s < 2; s++) {
            uint8_t *rec = (s ? *B : *A)->data + r * (s ? *B : *A)->stride;
            for (size_t f = 0; f < m->nf; f++) {
                size_t end = m->f[f].offset / 8 + (m->f[f].bits + 7) / 8;
                size_t stop = (end + 63) / 64 * 64;
                for (size_t i = end; i < stop; i++)
                    rec[i] = (uint8_t)rnd();
            }
        }
    }
    free(ra);
    free(rb);
}

static size_t swaps_seen, levels_seen[BL_MODEL_MAX_LEVELS + 1], crossed_kernels;

static void check_layout(size_t nf, const uint32_t *bits)
{
    uint32_t nbits = 0;
    bl_model *m = make_model(nf, bits, &nbits);
    const size_t n = 97;
    bl_clkset *A = NULL, *B = NULL;
    make_sets(m, nbits, n, &A, &B);
    const bl_kernel *ref = bli_kernel_by_name("scalar");
    bl_fieldpop fr;
    assert_int_equal(bl_fieldpop_init(&fr, m, ref), 0);
    assert_string_equal(fr.name, "scalar");
    const uint8_t *pa[97 + 5], *pb[97 + 5];
    for (size_t i = 0; i < n; i++) {
        pa[i] = bl_clkset_get(A, i / 3); /* runs of the same A record, as sorted candidates */
        pb[i] = bl_clkset_get(B, (i * 7 + i / 3) % n);
    }
    for (size_t i = n; i < n + 5; i++)
        pa[i] = pa[0], pb[i] = pb[1];
    uint32_t *want = malloc(n * nf * sizeof *want), *got = malloc(n * BL_MODEL_MAX_FIELDS * sizeof *got);
    uint32_t *wantb = malloc(n * nf * sizeof *wantb);
    uint32_t *cross = malloc(2 * n * sizeof *cross), *pop_a = malloc(n * nf * sizeof *pop_a);
    uint8_t *lvk = malloc(n * nf), *lvr = malloc(n * nf);
    const uint32_t *rowa[97], *rowb[97];
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < nf; f++)
            pop_a[i * nf + f] = ref->popcount(pa[i] + m->f[f].offset / 8, (m->f[f].bits + 7) / 8);
        rowa[i] = pop_a + i * nf;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < nf; f++) {
            want[i * nf + f] = ref->and_popcount(
                pa[i] + m->f[f].offset / 8, pb[i] + m->f[f].offset / 8, (m->f[f].bits + 7) / 8);
            wantb[i * nf + f] = ref->popcount(pb[i] + m->f[f].offset / 8, (m->f[f].bits + 7) / 8);
        }
    for (size_t kn = 0; kn < 3; kn++) {
        const bl_kernel *k = bli_kernel_by_name(KERNELS[kn]);
        if (!k)
            continue;
        bl_fieldpop fp;
        assert_int_equal(bl_fieldpop_init(&fp, m, k), 0);
        for (size_t i = 0; i < n; i++) {
            bl_fieldpop_run(&fp, pa[i], pb[i], got + i * nf);
            assert_memory_equal(got + i * nf, want + i * nf, nf * sizeof *got);
        }
        memset(got, 0xff, n * BL_MODEL_MAX_FIELDS * sizeof *got);
        /* batch rows are fp.cstride apart */
        assert_true(fp.cstride >= nf && fp.cstride % 8 == 0);
        fp.batch(&fp, pa, pb, n, 5, got, cross);
        for (size_t i = 0; i < n; i++)
            assert_memory_equal(got + i * fp.cstride, want + i * nf, nf * sizeof *got);
        fp.batch(&fp, pa + 3, pb + 3, 7, 0, got, cross + 6); /* short batch, nothing ahead */
        for (size_t i = 0; i < 7; i++)
            assert_memory_equal(got + i * fp.cstride, want + (3 + i) * nf, nf * sizeof *got);
        /* crosswise counts of the name pair, where the kernel takes them */
        fp.batch(&fp, pa, pb, n, 0, got, cross);
        for (size_t i = 0; fp.batch_cross && i < n; i++) {
            const size_t g = fp.swap_g[0], s = fp.swap_s[0];
            assert_int_equal(cross[2 * i],
                             ref->and_popcount(pa[i] + fp.off[g], pb[i] + fp.off[s], fp.nbytes[g]));
            assert_int_equal(cross[2 * i + 1],
                             ref->and_popcount(pa[i] + fp.off[s], pb[i] + fp.off[g], fp.nbytes[g]));
        }
        crossed_kernels += fp.batch_cross;
        /* the kernel's levels = bl_model_levels */
        for (size_t i = 0; i < n; i++) {
            rowb[i] = wantb + i * nf;
            bl_model_levels(m, &fr, pa[i], rowa[i], pb[i], rowb[i], lvr + i * nf, NULL);
        }
        fp.levels(&fp, pa, pb, rowa, rowb, got, fp.batch_cross ? cross : NULL, n, lvk);
        assert_memory_equal(lvk, lvr, n * nf);
        bl_fieldpop_free(&fp);
    }
    /* integer levels == bl_model_levels (doubles), incl. swapped names */
    uint32_t xa[BL_MODEL_MAX_FIELDS], xb[BL_MODEL_MAX_FIELDS];
    uint8_t l1[BL_MODEL_MAX_FIELDS], l2[BL_MODEL_MAX_FIELDS];
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < nf; f++) {
            xa[f] = ref->popcount(pa[i] + m->f[f].offset / 8, (m->f[f].bits + 7) / 8);
            xb[f] = ref->popcount(pb[i] + m->f[f].offset / 8, (m->f[f].bits + 7) / 8);
        }
        bl_model_levels(m, &fr, pa[i], xa, pb[i], xb, l1, NULL);
        bl_fieldpop_levels(&fr, pa[i], xa, pb[i], xb, want + i * nf, l2);
        assert_memory_equal(l1, l2, nf);
        swaps_seen += m->f[0].swap_with >= 0 && l1[0] == m->f[0].nbands;
        levels_seen[l1[0] == BL_LEVEL_MISSING ? BL_MODEL_MAX_LEVELS : l1[0]]++;
    }
    bl_fieldpop_free(&fr);
    free(want);
    free(got);
    free(wantb);
    free(cross);
    free(pop_a);
    free(lvk);
    free(lvr);
    bl_model_free(m);
    bl_clkset_free(A);
    bl_clkset_free(B);
}

static const uint32_t LENGTHS[] = {1,   7,   8,   9,   63,  64,  65,   100,  127,  128,  129,
                                   200, 256, 300, 511, 512, 513, 1000, 1024, 1025, 1536, 2048};
#define NLEN (sizeof LENGTHS / sizeof LENGTHS[0])

static void test_field_kernels(void **state)
{
    (void)state;
    uint32_t bits[BL_MODEL_MAX_FIELDS];
    static const size_t counts[] = {1, 2, 3, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
        for (size_t start = 0; start < NLEN; start += 3) {
            for (size_t f = 0; f < counts[c]; f++)
                bits[f] = LENGTHS[(start + f * 5) % NLEN];
            if (counts[c] >= 2 && start % 2 == 0)
                bits[1] = bits[0]; /* names of one length: the swap check runs */
            check_layout(counts[c], bits);
        }
    /* every length alone and as the pair of names */
    for (size_t l = 0; l < NLEN; l++) {
        for (size_t f = 0; f < 6; f++)
            bits[f] = LENGTHS[l];
        check_layout(1, bits);
        check_layout(6, bits);
    }
    /* one length of whole blocks, 1..16 fields (the specialised kernels) */
    static const uint32_t whole[] = {256, 512, 1024, 2048, 4096};
    for (size_t w = 0; w < sizeof whole / sizeof whole[0]; w++)
        for (size_t nf = 1; nf <= 16; nf++) {
            for (size_t f = 0; f < nf; f++)
                bits[f] = whole[w];
            check_layout(nf, bits);
        }
    if (bli_kernel_by_name("avx512"))
        assert_true(crossed_kernels > 0);
    /* the data reach the swapped level, missing, exact and every band */
    assert_true(swaps_seen > 0);
    assert_true(levels_seen[BL_MODEL_MAX_LEVELS] > 0);
    for (size_t l = 0; l < 7; l++)
        assert_true(levels_seen[l] > 0);
}

/* The levels of candidates c[0..n) of A x B by bl_model_levels (the
 * reference), nf per pair (caller frees), and the sets' statistics in ss
 * (caller frees). */
static uint8_t *ref_levels(const bl_model *m, const bl_clkset *A, const bl_clkset *B,
                           const bl_candidate *c, size_t n, bl_setstats *ss)
{
    const bl_clkset *sets[2] = {A, B};
    bl_error e = {0};
    assert_int_equal(bl_setstats_build(m, sets, 2, ss, 1, 0, &e), BL_OK);
    bl_fieldpop fp;
    assert_int_equal(bl_fieldpop_init(&fp, m, bli_kernel_active()), 0);
    uint8_t *lv = malloc((n ? n : 1) * m->nf);
    assert_non_null(lv);
    for (size_t i = 0; i < n; i++)
        bl_model_levels(m, &fp, bl_clkset_get(A, c[i].rec[0]), ss[0].pop + c[i].rec[0] * m->nf,
                        bl_clkset_get(B, c[i].rec[1]), ss[1].pop + c[i].rec[1] * m->nf,
                        lv + i * m->nf, NULL);
    bl_fieldpop_free(&fp);
    return lv;
}

/* bl_model_score on every kernel and in both scoring orders (tiled, for
 * lists of ORDER_MIN pairs and more, and the given order): the same bytes,
 * and the weights of bl_model_levels summed in field order (prior first,
 * TF after exact). The list is shuffled, as anonlink order leaves it. */
static void test_score_identical(void **state)
{
    (void)state;
    const uint32_t bits[6] = {1024, 1024, 512, 100, 1000, 2048};
    uint32_t nbits = 0;
    bl_model *m = make_model(6, bits, &nbits);
    const size_t n = 3000, nc = 70000;
    bl_clkset *A = NULL, *B = NULL;
    make_sets(m, nbits, n, &A, &B);
    const bl_clkset *sets[2] = {A, B};
    bl_candidate *c = malloc(nc * sizeof *c);
    for (size_t i = 0; i < nc; i++) {
        uint32_t a = (uint32_t)(i * n / nc);
        uint32_t b = i % 3 == 0 ? a : (uint32_t)(rnd() % n);
        c[i] = (bl_candidate){0, {0, 1}, {a, b}};
    }
    for (size_t i = nc - 1; i > 0; i--) {
        const size_t r = rnd() % (i + 1);
        const bl_candidate t = c[i];
        c[i] = c[r];
        c[r] = t;
    }
    bl_error e = {0};
    const bl_kernel *keep = bli_kernel_active();
    bli_kernel_force(bli_kernel_by_name("scalar"));
    bl_scored_pair *ref = NULL;
    assert_int_equal(bl_model_score(m, sets, 2, c, nc, 3, &ref, &e), BL_OK);
    /* the reference: bl_model_levels and the weights */
    bl_setstats ss[2];
    uint8_t *lvs = ref_levels(m, A, B, c, nc, ss);
    int tf_seen = 0;
    for (size_t i = 0; i < nc; i++) {
        const uint8_t *lv = lvs + i * m->nf;
        const size_t r0 = c[i].rec[0] * m->nf;
        double w = bl_model_prior_weight(m);
        for (size_t f = 0; f < m->nf; f++) {
            if (lv[f] == BL_LEVEL_MISSING)
                continue;
            w += bl_model_level_weight(m, f, lv[f]);
            if (lv[f] == 0) {
                w += ss[0].tfadj[r0 + f];
                tf_seen |= ss[0].tfadj[r0 + f] != 0;
            }
        }
        assert_true(ref[i].weight == w);
        assert_true(ref[i].probability == 1.0 / (1.0 + exp2(-w)));
        assert_true(ref[i].c.score == ref[i].probability);
        assert_memory_equal(ref[i].c.rec, c[i].rec, sizeof c[i].rec);
    }
    assert_true(tf_seen);
    free(lvs);
    bl_setstats_free(ss, 2);
    for (size_t kn = 0; kn < 3; kn++) {
        const bl_kernel *k = bli_kernel_by_name(KERNELS[kn]);
        if (!k)
            continue;
        bli_kernel_force(k);
        for (int ord = 0; ord < 2; ord++) {
            setenv("BL_SCORE_ORDER", ord ? "given" : "tiles", 1);
            for (int threads = 1; threads <= 3; threads++) {
                bl_scored_pair *got = NULL;
                assert_int_equal(bl_model_score(m, sets, 2, c, nc, threads, &got, &e), BL_OK);
                assert_memory_equal(got, ref, nc * sizeof *got);
                free(got);
            }
        }
    }
    /* three sets (global record numbers over them): tiled = given order */
    const bl_clkset *sets3[3] = {A, B, A};
    for (size_t i = 0; i < nc; i++)
        if (i % 3 == 1)
            c[i].dset[0] = 1, c[i].dset[1] = 2;
    bl_scored_pair *t3 = NULL, *g3 = NULL;
    setenv("BL_SCORE_ORDER", "tiles", 1);
    assert_int_equal(bl_model_score(m, sets3, 3, c, nc, 2, &t3, &e), BL_OK);
    setenv("BL_SCORE_ORDER", "given", 1);
    assert_int_equal(bl_model_score(m, sets3, 3, c, nc, 1, &g3, &e), BL_OK);
    assert_memory_equal(t3, g3, nc * sizeof *t3);
    for (size_t i = 0; i < nc; i++)
        assert_memory_equal(t3[i].c.dset, c[i].dset, sizeof c[i].dset);
    free(t3);
    free(g3);
    unsetenv("BL_SCORE_ORDER");
    bli_kernel_force(keep);
    free(ref);
    free(c);
    bl_model_free(m);
    bl_clkset_free(A);
    bl_clkset_free(B);
}

/* The decision's contract (bl_model_score_decide): the kept pairs in
 * candidate order; every pair the full scores put at min_p or above among
 * them with the same bytes; a pair left out below min_p in the full
 * scores. Returns the pairs left out. */
static size_t check_decide(const bl_candidate *c, size_t nc, const bl_scored_pair *full,
                           const bl_scored_pair *kept, size_t nk, double min_p)
{
    size_t k = 0;
    for (size_t i = 0; i < nc; i++) {
        const int here = k < nk && !memcmp(kept[k].c.rec, c[i].rec, sizeof c[i].rec) &&
                         !memcmp(kept[k].c.dset, c[i].dset, sizeof c[i].dset);
        if (here)
            assert_memory_equal(&kept[k++], &full[i], sizeof full[i]);
        else
            assert_true(full[i].probability < min_p);
    }
    assert_int_equal(k, nk);
    return nc - nk;
}

/* The decision on every kernel, both orders, 1-3 threads, several
 * thresholds and 0 to 6 fields counted for a whole chunk first, with name-class weights (the bound takes the best of every
 * class) and swapped names in the data: the contract above, some pairs
 * ruled out and some kept at or above each threshold; at 0 and 1 every
 * pair, as bl_model_score. */
static void test_decide_contract(void **state)
{
    (void)state;
    const uint32_t bits[6] = {1024, 1024, 512, 100, 1000, 2048};
    uint32_t nbits = 0;
    bl_model *m = make_model(6, bits, &nbits);
    for (size_t f = 0; f < m->nf; f++)
        for (int cl = 0; cl < 2; cl++) {
            m->f[f].has_u_names[cl] = 1;
            for (uint32_t l = 0; l < m->f[f].nlevels; l++)
                m->f[f].u_names[cl][l] = 0.01 + (double)(rnd() % 1000) / 1000.0;
        }
    /* a telling swapped level (capped at the exact weight, so that too):
     * the pairs of swapped names need it */
    for (size_t f = 0; f < 2; f++) {
        const int sl = bl_field_swap_level(&m->f[f]);
        assert_true(sl > 0);
        for (int l = 0; l <= sl; l += sl) {
            m->f[f].m[l] = 0.9;
            m->f[f].u[l] = m->f[f].u_names[0][l] = m->f[f].u_names[1][l] = 0.001;
        }
    }
    m->prior = 0.002;
    const size_t n = 3000, nc = 70000;
    bl_clkset *A = NULL, *B = NULL;
    make_sets(m, nbits, n, &A, &B);
    const bl_clkset *sets[2] = {A, B};
    bl_candidate *c = malloc(nc * sizeof *c);
    for (size_t i = 0; i < nc; i++) {
        uint32_t a = (uint32_t)(rnd() % n);
        c[i] = (bl_candidate){0, {0, 1}, {a, i % 3 == 0 ? a : (uint32_t)(rnd() % n)}};
    }
    bl_error e = {0};
    const bl_kernel *keep = bli_kernel_active();
    static const double thr[] = {0.5, 0.05, 0.95, 0.999999};
    size_t ruled_out[4] = {0};
    {
        /* the data hold pairs at the swapped level above 0.5 */
        bl_scored_pair *full = NULL;
        assert_int_equal(bl_model_score(m, sets, 2, c, nc, 2, &full, &e), BL_OK);
        bl_setstats ss[2];
        uint8_t *lv = ref_levels(m, A, B, c, nc, ss);
        size_t swhi = 0;
        for (size_t i = 0; i < nc; i++)
            swhi += (int)lv[i * m->nf] == bl_field_swap_level(&m->f[0]) && full[i].probability >= 0.5;
        assert_true(swhi > 0);
        free(lv);
        bl_setstats_free(ss, 2);
        free(full);
    }
    for (size_t kn = 0; kn < 3; kn++) {
        const bl_kernel *k = bli_kernel_by_name(KERNELS[kn]);
        if (!k)
            continue;
        bli_kernel_force(k);
        bl_scored_pair *full = NULL;
        assert_int_equal(bl_model_score(m, sets, 2, c, nc, 2, &full, &e), BL_OK);
        {
            bl_setstats ss[2];
            assert_int_equal(bl_setstats_build(m, sets, 2, ss, 1, 0, &e), BL_OK);
            bl_fieldpop fp;
            assert_int_equal(bl_fieldpop_init(&fp, m, bli_kernel_active()), 0);
            /* the data hold pairs at the swapped level above 0.5 */
            size_t swhi = 0;
            for (size_t i = 0; i < nc; i++) {
                uint8_t lv[BL_MODEL_MAX_FIELDS];
                bl_model_levels(m, &fp, bl_clkset_get(A, c[i].rec[0]),
                                ss[0].pop + c[i].rec[0] * m->nf, bl_clkset_get(B, c[i].rec[1]),
                                ss[1].pop + c[i].rec[1] * m->nf, lv, NULL);
                swhi += (int)lv[0] == bl_field_swap_level(&m->f[0]) && full[i].probability >= 0.5;
            }
            assert_true(swhi > 0);
            bl_fieldpop_free(&fp);
            bl_setstats_free(ss, 2);
        }
        for (int ord = 0; ord < 2; ord++) {
            setenv("BL_SCORE_ORDER", ord ? "given" : "tiles", 1);
            for (int threads = 1; threads <= 3; threads++)
                for (size_t t = 0; t < 4; t++) {
                    /* first stage fields: 0 to all 6, over the runs */
                    char first[8];
                    snprintf(first, sizeof first, "%d", (int)((threads * 4 + t) % 7));
                    setenv("BL_SCORE_BOUND_FIRST", first, 1);
                    bl_scored_pair *got = NULL;
                    size_t ng = 0, above = 0;
                    assert_int_equal(
                        bl_model_score_decide(m, sets, 2, c, nc, threads, thr[t], &got, &ng, &e),
                        BL_OK);
                    ruled_out[t] += check_decide(c, nc, full, got, ng, thr[t]);
                    for (size_t i = 0; i < ng; i++)
                        above += got[i].probability >= thr[t];
                    assert_true(above > 0);
                    free(got);
                }
            for (int edge = 0; edge < 2; edge++) {
                bl_scored_pair *got = NULL;
                size_t ng = 0;
                assert_int_equal(
                    bl_model_score_decide(m, sets, 2, c, nc, 2, edge ? 1.0 : 0.0, &got, &ng, &e),
                    BL_OK);
                assert_int_equal(ng, nc);
                assert_memory_equal(got, full, nc * sizeof *got);
                free(got);
            }
        }
        free(full);
    }
    for (size_t t = 0; t < 4; t++)
        assert_true(ruled_out[t] > 0);
    unsetenv("BL_SCORE_BOUND_FIRST");
    /* three sets (global record numbers in the tiles): the same contract */
    const bl_clkset *sets3[3] = {A, B, A};
    for (size_t i = 0; i < nc; i++)
        if (i % 3 == 1)
            c[i].dset[0] = 1, c[i].dset[1] = 2;
    bl_scored_pair *full3 = NULL;
    assert_int_equal(bl_model_score(m, sets3, 3, c, nc, 2, &full3, &e), BL_OK);
    for (int ord = 0; ord < 2; ord++) {
        setenv("BL_SCORE_ORDER", ord ? "given" : "tiles", 1);
        bl_scored_pair *got = NULL;
        size_t ng = 0;
        assert_int_equal(bl_model_score_decide(m, sets3, 3, c, nc, 2, 0.5, &got, &ng, &e), BL_OK);
        assert_true(check_decide(c, nc, full3, got, ng, 0.5) > 0);
        free(got);
    }
    free(full3);
    unsetenv("BL_SCORE_ORDER");
    bli_kernel_force(keep);
    free(c);
    bl_model_free(m);
    bl_clkset_free(A);
    bl_clkset_free(B);
}

/* A decision with no sets and no candidates: status 0, no pairs (the
 * vector bound once read the statistics of set 0 there; ASan saw it). */
static void test_decide_empty(void **state)
{
    (void)state;
    const uint32_t bits[6] = {1024, 1024, 1024, 1024, 1024, 1024};
    uint32_t nbits = 0;
    bl_model *m = make_model(6, bits, &nbits);
    bl_error e = {0};
    bl_scored_pair *got = NULL;
    size_t ng = 1;
    assert_int_equal(bl_model_score_decide(m, NULL, 0, NULL, 0, 2, 0.5, &got, &ng, &e), BL_OK);
    assert_int_equal(ng, 0);
    free(got);
    bl_model_free(m);
}

/* The bound's band lookup (branch-free from the packed minima) against
 * the first band whose minimum the count reaches, for every field of
 * several lengths, every popcount sum and every count up to it. */
static void test_bound_band(void **state)
{
    (void)state;
    const uint32_t bits[6] = {1024, 512, 100, 64, 1000, 2048};
    uint32_t nbits = 0;
    bl_model *m = make_model(6, bits, &nbits);
    bl_fieldpop fp;
    assert_int_equal(bl_fieldpop_init(&fp, m, bli_kernel_active()), 0);
    for (size_t f = 0; f < m->nf; f++) {
        assert_non_null(fp.lvrow[f]);
        for (uint32_t sum = 1; sum <= 2 * bits[f]; sum++)
            for (uint32_t v = 0; 2 * v <= sum; v++) {
                uint32_t l = 1;
                while (l < fp.nbands[f] && v < fp.cmin[f][l][sum])
                    l++;
                assert_int_equal(bli_model_band(&fp, f, v, sum), l < fp.nbands[f] ? l : fp.last[f]);
            }
    }
    bl_fieldpop_free(&fp);
    bl_model_free(m);
}

/* bl_candidates_best_k (the training pairs from candidates in block
 * order) keeps what sorting the whole list and enforce_k keep, in the same
 * order: 2 and 3 datasets, many equal scores, k from 1 to 4, the list
 * shuffled. */
static void test_best_k(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *s[3];
    const size_t cnt[3] = {40, 55, 30};
    uint8_t zero[64] = {0};
    for (int d = 0; d < 3; d++) {
        assert_int_equal(bl_clkset_new(512, cnt[d], &s[d], &e), BL_OK);
        for (size_t r = 0; r < cnt[d]; r++)
            assert_int_equal(bl_clkset_append(s[d], zero, NULL, &e), BL_OK);
    }
    for (size_t nsets = 2; nsets <= 3; nsets++) {
        const size_t n = 1500;
        bl_candidate *c = malloc(n * sizeof *c), *ref = malloc(n * sizeof *ref);
        size_t m = 0;
        /* distinct pairs: dataset pair and records from a shuffled index */
        for (size_t i = 0; m < n && i < 20 * n; i++) {
            const uint32_t x = (uint32_t)(rnd() % (nsets - 1)), y = x + 1 + (uint32_t)(rnd() % (nsets - 1 - x));
            const bl_candidate v = {(double)(rnd() % 12) / 11.0, {x, y},
                                    {(uint32_t)(rnd() % cnt[x]), (uint32_t)(rnd() % cnt[y])}};
            int dup = 0;
            for (size_t j = 0; j < m && !dup; j++)
                dup = !bli_candidate_key_cmp(&c[j], &v);
            if (!dup)
                c[m++] = v;
        }
        for (uint32_t k = 1; k <= 4; k++) {
            memcpy(ref, c, m * sizeof *c);
            size_t nr = m, nb = 0;
            bl_candidates_sort(ref, nr);
            assert_int_equal(bl_candidates_enforce_k((const bl_clkset *const *)s, nsets, ref, &nr, k, &e), BL_OK);
            for (int threads = 1; threads <= 2; threads++) {
                bl_candidate *got = NULL;
                assert_int_equal(bl_candidates_best_k((const bl_clkset *const *)s, nsets, c, m, k,
                                                      threads, &got, &nb, &e),
                                 BL_OK);
                assert_int_equal(nb, nr);
                assert_true(nr > 0 && nr < m);
                assert_memory_equal(got, ref, nr * sizeof *ref);
                free(got);
            }
        }
        free(c);
        free(ref);
    }
    for (int d = 0; d < 3; d++)
        bl_clkset_free(s[d]);
}

/* bl_setstats_build on sets big enough for its threads (one per 50,000
 * records): popcounts and term-frequency adjustments byte-identical for
 * every thread count, more threads than fields and a set of another size
 * included; values drawn from small pools so the frequencies vary, some
 * fields empty. */
static void test_setstats_threads(void **state)
{
    (void)state;
    const uint32_t bits[3] = {64, 40, 64};
    uint32_t nbits = 0;
    bl_model *m = make_model(3, bits, &nbits);
    for (size_t f = 0; f < 3; f++) {
        m->f[f].tf = 1;
        m->f[f].u_random[0] = 0.01;
    }
    m->f[2].tf = 0; /* a field without tf: its adjustments stay 0 */
    const size_t na = 180000, nb = 70001;
    bl_clkset *A = NULL, *B = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(nbits, na, &A, &e), BL_OK);
    assert_int_equal(bl_clkset_new(nbits, nb, &B, &e), BL_OK);
    uint8_t *rec = calloc(1, nbits / 8 + 64);
    uint16_t *val = malloc((na + nb) * 3 * sizeof *val); /* each record's pool indices */
    assert_non_null(val);
    for (size_t r = 0; r < na + nb; r++) {
        memset(rec, 0, nbits / 8);
        for (size_t f = 0; f < 3; f++) {
            uint64_t v = rnd() % (f == 0 ? 40 : 3000); /* pool index; 0 = empty */
            val[r * 3 + f] = (uint16_t)v;
            uint8_t *p = rec + m->f[f].offset / 8;
            for (size_t i = 0; v && i < (m->f[f].bits + 7) / 8; i++)
                p[i] = (uint8_t)((v * 0x9E3779B97F4A7C15ULL) >> (8 * (i % 8)));
        }
        assert_int_equal(bl_clkset_append(r < na ? A : B, rec, NULL, &e), BL_OK);
    }
    free(rec);
    const bl_clkset *sets[2] = {A, B};
    bl_setstats ref[2], got[2];
    assert_int_equal(bl_setstats_build(m, sets, 2, ref, 1, 1, &e), BL_OK);
    int tf_seen = 0, empty_seen = 0;
    for (size_t r = 0; r < na * 3; r++) {
        tf_seen |= ref[0].tfadj[r] != 0;
        empty_seen |= ref[0].pop[r] == 0;
        if (r % 3 == 2)
            assert_true(ref[0].tfadj[r] == 0);
    }
    assert_true(tf_seen && empty_seen);
    /* the adjustments from the values themselves: log2(u_exact / share of
     * the value among the non-empty ones, over both sets), capped at +-6 */
    for (size_t f = 0; f < 2; f++) {
        size_t cnt[3000] = {0}, present = 0;
        for (size_t r = 0; r < na + nb; r++)
            if (val[r * 3 + f])
                cnt[val[r * 3 + f]]++, present++;
        for (size_t r = 0; r < na + nb; r++) {
            const uint16_t v = val[r * 3 + f];
            double want = v ? log2(0.01 / ((double)cnt[v] / (double)present)) : 0.0;
            want = want > 6 ? 6 : want < -6 ? -6 : want;
            const float adj = r < na ? ref[0].tfadj[r * 3 + f] : ref[1].tfadj[(r - na) * 3 + f];
            assert_float_equal(adj, (float)want, 1e-5);
        }
    }
    free(val);
    const int threads[] = {2, 3, 4, 5, 0};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        assert_int_equal(bl_setstats_build(m, sets, 2, got, 1, threads[i], &e), BL_OK);
        for (int d = 0; d < 2; d++) {
            const size_t n = sets[d]->count * m->nf;
            assert_memory_equal(got[d].pop, ref[d].pop, n * sizeof *ref[d].pop);
            assert_memory_equal(got[d].tfadj, ref[d].tfadj, n * sizeof *ref[d].tfadj);
        }
        bl_setstats_free(got, 2);
    }
    /* without tf (training): the same popcounts, no adjustments */
    assert_int_equal(bl_setstats_build(m, sets, 2, got, 0, 2, &e), BL_OK);
    for (int d = 0; d < 2; d++) {
        assert_memory_equal(got[d].pop, ref[d].pop, sets[d]->count * m->nf * sizeof *ref[d].pop);
        assert_null(got[d].tfadj);
    }
    bl_setstats_free(got, 2);
    bl_setstats_free(ref, 2);
    bl_clkset_free(A);
    bl_clkset_free(B);
    bl_model_free(m);
}

/* Reads a whole file (NUL-terminated) into *out; its length. */
static size_t slurp(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    *out = b;
    return (size_t)n;
}

/* The pairs CSV is the same bytes on any number of threads: more rows
 * than one round of chunks of three threads, three parties (the dataset
 * columns) with ids that need quoting, and a known first row. */
static void test_pairs_csv_threads(void **state)
{
    (void)state;
    enum { NREC = 40, NPAIRS = 120000 };
    bl_clkset *sets[3];
    bl_error e = {0};
    uint8_t bits[8] = {0};
    for (int d = 0; d < 3; d++) {
        assert_int_equal(bl_clkset_new(64, NREC, &sets[d], &e), BL_OK);
        for (int r = 0; r < NREC; r++) {
            char id[32];
            snprintf(id, sizeof id, r % 7 ? "p%d-%d" : "\"q,%d\"%d", d, r);
            assert_int_equal(bl_clkset_append(sets[d], bits, id, &e), BL_OK);
        }
    }
    bl_scored_pair *p = calloc(NPAIRS, sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < NPAIRS; i++) {
        p[i].c.dset[0] = (uint32_t)(rnd() % 3);
        p[i].c.dset[1] = (uint32_t)(rnd() % 3);
        p[i].c.rec[0] = (uint32_t)(rnd() % NREC);
        p[i].c.rec[1] = (uint32_t)(rnd() % NREC);
        p[i].weight = ((double)(rnd() >> 11) / 9007199254740992.0 - 0.5) * 80.0;
        p[i].probability = 1.0 / (1.0 + exp2(-p[i].weight));
        p[i].c.score = p[i].probability;
    }
    p[0].c = (bl_candidate){.dset = {0, 2}, .rec = {7, 3}, .score = 0.75};
    p[0].weight = 1.5849625007211563;
    p[0].probability = 0.75;
    char *ref = NULL, path[64];
    size_t nref = 0;
    const int threads[] = {1, 2, 3, 0};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        snprintf(path, sizeof path, "/tmp/test_pairs_csv_%d.csv", (int)getpid());
        assert_int_equal(bl_model_write_pairs(path, p, NPAIRS, (const bl_clkset *const *)sets, 3,
                                              threads[t], &e),
                         BL_OK);
        char *got = NULL;
        const size_t n = slurp(path, &got);
        remove(path);
        if (!ref) {
            const char *head = "a_dataset,a_index,b_dataset,b_index,score,weight,probability,"
                               "a_id,b_id\n0,7,2,3,0.75,1.5850,0.75,\"\"\"q,0\"\"7\",p2-3\n";
            assert_memory_equal(got, head, strlen(head));
            size_t rows = 0;
            for (size_t i = 0; i < n; i++)
                rows += got[i] == '\n';
            assert_int_equal(rows, NPAIRS + 1);
            ref = got, nref = n;
            continue;
        }
        assert_int_equal(n, nref);
        assert_memory_equal(got, ref, n);
        free(got);
    }
    free(ref);
    free(p);
    for (int d = 0; d < 3; d++)
        bl_clkset_free(sets[d]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_kernels),    cmocka_unit_test(test_score_identical),
        cmocka_unit_test(test_decide_contract),  cmocka_unit_test(test_decide_empty),
        cmocka_unit_test(test_setstats_threads), cmocka_unit_test(test_best_k),
        cmocka_unit_test(test_bound_band),       cmocka_unit_test(test_pairs_csv_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
