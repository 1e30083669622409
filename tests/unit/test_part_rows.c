/* tests/unit/test_part_rows.c - rank-local input reads of blindlink-mpi
 * (issue 15): bl_clkset_read_rows loads exactly the asked records of a
 * binary file (with ids, metadata and checksum present) plus the header's
 * fields and the metadata, refuses ranges past the end and pad bits in the
 * rows it reads; bl_match_part_rows names rows that cover every candidate
 * of the share (shares computed on sets holding only those rows equal the
 * shares on the full sets); with keyed LSH, table shares merged equal the
 * single-process candidates, top-k included, and so do the shares of
 * external blocks (a big block and small ones, pairs in several; the
 * big block split between shares when it costs more than one share). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/clk.h>
#include <blindlink/match.h>
#include "fixture.h"

static int setup(void **state)
{
    (void)state;
    return fx_dir_setup("part_rows");
}

static int teardown(void **state)
{
    (void)state;
    return fx_dir_teardown();
}

/* n random 1000-bit filters (a few near-duplicates of each other) with ids */
static bl_clkset *make_set(size_t n, uint32_t seed)
{
    bl_clkset *s = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(1000, n, &s, &e), BL_OK);
    uint8_t f[125];
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 0)
            for (size_t b = 0; b < sizeof f; b++) {
                x = x * 1103515245u + 12345u;
                f[b] = (uint8_t)((x >> 16) & (x >> 9)); /* ~25% density */
            }
        f[i % 125] ^= 1; /* near-duplicates */
        char id[32];
        snprintf(id, sizeof id, "r%zu", i);
        assert_int_equal(bl_clkset_append(s, f, id, &e), BL_OK);
    }
    assert_int_equal(bl_clkset_set_meta(s, "{\"normalize\":\"basic\"}", &e), BL_OK);
    return s;
}

static void test_read_rows(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *s = make_set(50, 7);
    assert_int_equal(bl_clkset_write(s, fx_path("a.clk"), BL_CLK_BIN, 1, &e), BL_OK);
    bl_clkset *r = NULL;
    assert_int_equal(bl_clkset_read_rows(fx_path("a.clk"), 10, 23, &r, &e), BL_OK);
    assert_int_equal(r->count, 50);
    assert_int_equal(r->nbits, 1000);
    assert_null(r->ids);
    assert_non_null(r->meta);
    assert_string_equal(r->meta, s->meta);
    for (size_t i = 10; i < 23; i++)
        assert_memory_equal(bl_clkset_get(r, i), bl_clkset_get(s, i), s->stride);
    bl_clkset_free(r);
    /* empty range: header and metadata only */
    assert_int_equal(bl_clkset_read_rows(fx_path("a.clk"), 0, 0, &r, &e), BL_OK);
    assert_int_equal(r->count, 50);
    assert_string_equal(r->meta, s->meta);
    bl_clkset_free(r);
    assert_int_equal(bl_clkset_read_rows(fx_path("a.clk"), 40, 51, &r, &e), BL_EINVAL);
    assert_null(r);
    assert_non_null(strstr(e.msg, "outside"));
    bl_clkset_free(s);
}

static void test_read_rows_pad_bits(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *s = make_set(20, 3);
    assert_int_equal(bl_clkset_write(s, fx_path("p.clk"), BL_CLK_BIN, 0, &e), BL_OK);
    bl_clkset_free(s);
    /* set a pad byte of record 15 (records start at 64: 125 bytes + 3 pad) */
    FILE *fp = fopen(fx_path("p.clk"), "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 64 + 15 * 128 + 126, SEEK_SET), 0);
    fputc(0x01, fp);
    fclose(fp);
    bl_clkset *r = NULL;
    assert_int_equal(bl_clkset_read_rows(fx_path("p.clk"), 0, 10, &r, &e), BL_OK); /* not read */
    bl_clkset_free(r);
    assert_int_equal(bl_clkset_read_rows(fx_path("p.clk"), 10, 20, &r, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "record 15"));
}

/* a share computed on sets that hold only its rows (the others zeroed)
 * equals the share on the full sets */
static void check_shares(bl_clkset **full, size_t nsets, size_t nparts)
{
    bl_error e = {0};
    size_t counts[4], first[4], last[4];
    for (size_t i = 0; i < nsets; i++)
        counts[i] = full[i]->count;
    bl_match_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.threshold = 0.7;
    mo.threads = 1;
    for (size_t part = 0; part < nparts; part++) {
        bl_match_part_rows(counts, nsets, part, nparts, first, last);
        bl_clkset *sparse[4];
        for (size_t i = 0; i < nsets; i++) {
            assert_true(first[i] <= last[i] && last[i] <= counts[i]);
            assert_int_equal(bl_clkset_new(1000, counts[i], &sparse[i], &e), BL_OK);
            sparse[i]->count = counts[i];
            memset(sparse[i]->data, 0, counts[i] * sparse[i]->stride);
            memcpy(sparse[i]->data + first[i] * full[i]->stride,
                   full[i]->data + first[i] * full[i]->stride,
                   (last[i] - first[i]) * full[i]->stride);
        }
        bl_candidate *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        assert_int_equal(bl_match_candidates_part((const bl_clkset *const *)full, nsets, &mo, part,
                                                  nparts, &a, &na, &e),
                         BL_OK);
        assert_int_equal(bl_match_candidates_part((const bl_clkset *const *)sparse, nsets, &mo,
                                                  part, nparts, &b, &nb, &e),
                         BL_OK);
        assert_int_equal(na, nb);
        if (nparts <= 2)
            assert_true(na > 0);
        if (na)
            assert_memory_equal(a, b, na * sizeof *a);
        free(a);
        free(b);
        for (size_t i = 0; i < nsets; i++)
            bl_clkset_free(sparse[i]);
    }
}

static void test_part_rows(void **state)
{
    (void)state;
    /* the same seed: the sets share records, so every share has candidates */
    bl_clkset *s[3] = {make_set(37, 1), make_set(29, 1), make_set(11, 1)};
    for (size_t nparts = 1; nparts <= 7; nparts++) {
        check_shares(s, 2, nparts);
        check_shares(s, 3, nparts);
    }
    /* two parties, two parts: each reads its half of the first, all of the second */
    size_t counts[2] = {100, 60}, first[2], last[2];
    bl_match_part_rows(counts, 2, 1, 2, first, last);
    assert_int_equal(first[0], 50);
    assert_int_equal(last[0], 100);
    assert_int_equal(first[1], 0);
    assert_int_equal(last[1], 60);
    for (size_t i = 0; i < 3; i++)
        bl_clkset_free(s[i]);
}

/* Shares of a blocked run (LSH tables or external blocks), concatenated
 * and merged, equal the single-process candidates for 1..6 parts; without
 * top-k the shares are disjoint (every pair in exactly one share);
 * both_halves: each of 2 shares has candidates */
static void check_merged(bl_clkset **sets, size_t nsets, const bl_blocking *b, uint32_t k,
                         int both_halves)
{
    bl_error e = {0};
    bl_match_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.threshold = 0.6;
    mo.threads = 2;
    mo.top_k = k;
    mo.blocking = b;
    bl_candidate *ref = NULL;
    size_t nref = 0;
    assert_int_equal(
        bl_match_candidates((const bl_clkset *const *)sets, nsets, &mo, &ref, &nref, &e), BL_OK);
    assert_true(nref > 0);
    for (size_t nparts = 1; nparts <= 6; nparts++) {
        bl_candidate *all = NULL;
        size_t n = 0, nonempty = 0;
        for (size_t part = 0; part < nparts; part++) {
            bl_candidate *c = NULL;
            size_t m = 0;
            assert_int_equal(bl_match_candidates_part((const bl_clkset *const *)sets, nsets, &mo,
                                                      part, nparts, &c, &m, &e),
                             BL_OK);
            all = realloc(all, (n + m + 1) * sizeof *all);
            assert_non_null(all);
            memcpy(all + n, c, m * sizeof *c);
            n += m;
            nonempty += m > 0;
            free(c);
        }
        if (!k)
            assert_int_equal(n, nref);
        if (nparts == 2 && both_halves) /* the big block alone is not everything */
            assert_int_equal(nonempty, 2);
        assert_int_equal(
            bl_match_candidates_merge((const bl_clkset *const *)sets, nsets, &mo, all, &n, &e),
            BL_OK);
        assert_int_equal(n, nref);
        assert_memory_equal(all, ref, n * sizeof *all);
        free(all);
    }
    free(ref);
}

static void check_lsh(bl_clkset **sets, size_t nsets, uint32_t k)
{
    bl_error e = {0};
    bl_blocking *b = NULL;
    assert_int_equal(bl_blocking_new_lsh(1000, 13, 8, (const uint8_t *)"part-key", 8, &b, &e),
                     BL_OK);
    check_merged(sets, nsets, b, k, 0);
    bl_blocking_free(b);
}

/* a block file for n records: one big block (every other record), seven
 * small ones, a third of the records also in one of three others; the
 * lines intern big and small blocks in a mixed order, and many pairs
 * share two or three blocks, so the first-block rule decides who emits */
static const char *write_blocks(size_t d, size_t n)
{
    char name[32];
    snprintf(name, sizeof name, "blocks-%zu.csv", d);
    const char *path = fx_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "record,block\n");
    for (size_t i = 0; i < n; i++) {
        if (i % 5 == d)
            fprintf(f, "%zu,s%zu\n", i, i % 7);
        if (i % 2 == 0)
            fprintf(f, "%zu,big\n", i);
        fprintf(f, "%zu,s%zu\n", i, i % 7);
        if (i % 3 == 0)
            fprintf(f, "%zu,u%zu\n", i, (i / 3) % 3);
    }
    fclose(f);
    return path;
}

/* sets of n0, n1, n2 records (the same seed: shared records) */
static void check_blocks(size_t n0, size_t n1, size_t n2)
{
    bl_clkset *s[3] = {make_set(n0, 1), make_set(n1, 1), make_set(n2, 1)};
    for (size_t nsets = 2; nsets <= 3; nsets++) {
        char paths[3][256];
        const char *pp[3];
        size_t nrecs[3];
        for (size_t d = 0; d < nsets; d++) {
            snprintf(paths[d], sizeof paths[d], "%s", write_blocks(d, s[d]->count));
            pp[d] = paths[d];
            nrecs[d] = s[d]->count;
        }
        bl_blocking *b = NULL;
        bl_error e = {0};
        assert_int_equal(bl_blocking_read_files(pp, nsets, nrecs, &b, &e), BL_OK);
        for (uint32_t k = 0; k <= 2; k++)
            check_merged(s, nsets, b, k, 1);
        bl_blocking_free(b);
    }
    for (size_t i = 0; i < 3; i++)
        bl_clkset_free(s[i]);
}

static void test_block_shares(void **state)
{
    (void)state;
    check_blocks(61, 47, 30);
    /* the big block (450 + 350 + 200 members) costs more than a share of
     * 2 or more: it is cut into pieces of 256-row units */
    check_blocks(900, 700, 400);
}

static void test_lsh_tables(void **state)
{
    (void)state;
    bl_clkset *s[3] = {make_set(61, 1), make_set(47, 1), make_set(30, 1)};
    for (uint32_t k = 0; k <= 2; k++) {
        check_lsh(s, 2, k);
        check_lsh(s, 3, k);
    }
    for (size_t i = 0; i < 3; i++)
        bl_clkset_free(s[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_rows),
        cmocka_unit_test(test_read_rows_pad_bits),
        cmocka_unit_test(test_part_rows),
        cmocka_unit_test(test_lsh_tables),
        cmocka_unit_test(test_block_shares),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
