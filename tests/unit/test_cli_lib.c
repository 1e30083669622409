/* tests/unit/test_cli_lib.c - library functions added for the CLI (issue
 * 11), on hand-built inputs with answers worked out by hand: the threshold
 * sweep (bl_eval_sweep, counted and greedy re-solved), popcount statistics
 * (bl_clkset_stats), schema differences (bl_schema_compare) and blocklib
 * block files (bl_blocking_write_blocklib read back by
 * bl_blocking_read_files). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/clk.h>
#include <blindlink/eval.h>
#include <blindlink/io.h>
#include <blindlink/match.h>
#include <blindlink/schema.h>

#define C(s, d0, r0, d1, r1) {s, {d0, d1}, {r0, r1}}

static void test_sweep(void **state)
{
    (void)state;
    /* true pairs: (0,0) (1,1) (2,2); record 0 of A also scores 0.85 with B1 */
    const bl_candidate truth[] = {C(0, 0, 0, 1, 0), C(0, 0, 1, 1, 1), C(0, 0, 2, 1, 2)};
    const bl_candidate cand[] = {C(0.95, 0, 0, 1, 0), C(0.85, 0, 0, 1, 1), C(0.8, 0, 1, 1, 1),
                                 C(0.7, 0, 2, 1, 2), C(NAN, 0, 3, 1, 3)};
    bl_eval_truth *t = NULL;
    bl_error err = {0};
    assert_int_equal(bl_eval_truth_from_pairs(truth, 3, &t, &err), BL_OK);
    bl_eval_sweep_point *p = NULL;
    size_t n = 0;
    /* counted: at 0.7 four predicted, three true; at 0.8 three, two; at 0.9 one, one */
    assert_int_equal(bl_eval_sweep(t, cand, 5, 0.7, 0.9, 0.1, 0, 0, 0, &p, &n, &err), BL_OK);
    assert_int_equal(n, 3);
    assert_true(fabs(p[0].threshold - 0.7) < 1e-12 && fabs(p[2].threshold - 0.9) < 1e-12);
    assert_int_equal(p[0].r.predicted, 4);
    assert_int_equal(p[0].r.true_positives, 3);
    assert_int_equal(p[1].r.predicted, 3);
    assert_int_equal(p[1].r.true_positives, 2);
    assert_int_equal(p[2].r.predicted, 1);
    assert_true(fabs(p[2].r.recall - 1.0 / 3) < 1e-12);
    free(p);
    /* greedy 1:1: A0 takes B0 at 0.95, so A0-B1 (0.85) is dropped and
     * A1-B1 (0.8) stays: at 0.8 two predicted, both true */
    assert_int_equal(bl_eval_sweep(t, cand, 5, 0.8, 0.8, 0.1, 1, 0, 0, &p, &n, &err), BL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].r.predicted, 2);
    assert_int_equal(p[0].r.true_positives, 2);
    assert_true(fabs(p[0].r.precision - 1.0) < 1e-12);
    free(p);
    /* recall unknown: NaN recall and F1, precision kept */
    assert_int_equal(bl_eval_sweep(t, cand, 5, 0.8, 0.8, 0.1, 0, 0, 1, &p, &n, &err), BL_OK);
    assert_true(isnan(p[0].r.recall) && isnan(p[0].r.f1));
    assert_true(fabs(p[0].r.precision - 2.0 / 3) < 1e-12);
    free(p);
    /* the input order is not changed */
    assert_true(cand[0].score == 0.95 && cand[3].score == 0.7);
    /* bad ranges */
    assert_int_equal(bl_eval_sweep(t, cand, 5, 0.9, 0.8, 0.1, 0, 0, 0, &p, &n, &err), BL_EINVAL);
    assert_int_equal(bl_eval_sweep(t, cand, 5, 0.5, 1, 0, 0, 0, 0, &p, &n, &err), BL_EINVAL);
    assert_null(p);
    bl_eval_truth_free(t);
}

static void test_stats(void **state)
{
    (void)state;
    bl_clkset *s = NULL;
    bl_error err = {0};
    assert_int_equal(bl_clkset_new(16, 4, &s, &err), BL_OK);
    const uint8_t f[4][2] = {{0x00, 0x00}, {0x01, 0x00}, {0xff, 0x0f}, {0xff, 0xff}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(bl_clkset_append(s, f[i], NULL, &err), BL_OK);
    bl_clk_stats st;
    assert_int_equal(bl_clkset_stats(s, &st, &err), BL_OK);
    /* popcounts 0, 1, 12, 16 */
    assert_int_equal(st.count, 4);
    assert_int_equal(st.min, 0);
    assert_int_equal(st.max, 16);
    assert_true(fabs(st.mean - 29.0 / 4) < 1e-12);
    /* sample sd of 0,1,12,16: mean 7.25, squares 52.5625+39.0625+22.5625+76.5625 */
    assert_true(fabs(st.stddev - sqrt(190.75 / 3)) < 1e-9);
    assert_true(st.median == 1 && st.q1 == 0 && st.q3 == 12);
    assert_int_equal(st.empty, 1);
    assert_int_equal(st.full, 1);
    assert_int_equal(st.hist[12], 1);
    assert_int_equal(st.hist[2], 0);
    assert_true(fabs(st.density - 29.0 / 64) < 1e-12);
    bl_clk_stats_free(&st);
    bl_clkset_free(s);
}

static const char *schema_a =
    "{\"version\": 3, \"clkConfig\": {\"l\": 1024, \"kdf\": {\"type\": \"HKDF\", \"hash\": "
    "\"SHA256\", \"keySize\": 64}}, \"features\": [{\"identifier\": \"name\", \"format\": "
    "{\"type\": \"string\", \"encoding\": \"utf-8\"}, \"hashing\": {\"comparison\": {\"type\": "
    "\"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}, \"hash\": {\"type\": "
    "\"blakeHash\"}}}]}";

static void test_schema_compare(void **state)
{
    (void)state;
    bl_error err = {0};
    bl_schema *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(bl_schema_parse(schema_a, strlen(schema_a), "a", &a, &err), BL_OK);
    assert_int_equal(bl_schema_parse(schema_a, strlen(schema_a), "b", &b, &err), BL_OK);
    char *other = strdup(schema_a);
    char *p = strstr(other, "\"bitsPerToken\": 20");
    p[16] = '3'; /* 20 -> 30 */
    assert_int_equal(bl_schema_parse(other, strlen(other), "c", &c, &err), BL_OK);
    bl_schema_diag *d = NULL;
    size_t n = 9;
    assert_int_equal(bl_schema_compare(a, b, &d, &n, &err), BL_OK);
    assert_int_equal(n, 0);
    free(d);
    assert_int_equal(bl_schema_compare(a, c, &d, &n, &err), BL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].path, "$.features[0].hashing.strategy.bitsPerToken");
    assert_string_equal(d[0].msg, "20 in the first, 30 in the second");
    free(d);
    free(other);
    bl_schema_free(a);
    bl_schema_free(b);
    bl_schema_free(c);
}

static void test_block_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/bl_blk_XXXXXX";
    assert_non_null(mkdtemp(dir));
    bl_error err = {0};
    bl_clkset *s[2] = {NULL, NULL};
    for (int d = 0; d < 2; d++) {
        assert_int_equal(bl_clkset_new(64, 8, &s[d], &err), BL_OK);
        for (int r = 0; r < 6; r++) {
            uint8_t f[8];
            for (int i = 0; i < 8; i++)
                f[i] = (uint8_t)(0x11 * (r + 1) + i * (d + 3));
            assert_int_equal(bl_clkset_append(s[d], f, NULL, &err), BL_OK);
        }
    }
    bl_blocking *lsh = NULL, *back = NULL;
    const uint8_t key[] = "key";
    assert_int_equal(bl_blocking_new_lsh(64, 4, 6, key, 3, &lsh, &err), BL_OK);
    char p0[96], p1[96];
    snprintf(p0, sizeof p0, "%s/b-1.json", dir);
    snprintf(p1, sizeof p1, "%s/b-2.json", dir);
    assert_int_equal(bl_blocking_write_blocklib(lsh, s[0], 0, p0, &err), BL_OK);
    assert_int_equal(bl_blocking_write_blocklib(lsh, s[1], 1, p1, &err), BL_OK);
    const char *paths[] = {p0, p1};
    size_t nrecs[] = {6, 6};
    assert_int_equal(bl_blocking_read_files(paths, 2, nrecs, &back, &err), BL_OK);
    /* same candidates through the LSH and through its written blocks */
    bl_match_opts o;
    memset(&o, 0, sizeof o);
    o.threshold = 0.1;
    o.threads = 1;
    bl_candidate *c1 = NULL, *c2 = NULL;
    size_t n1 = 0, n2 = 0;
    const bl_clkset *const *sets = (const bl_clkset *const *)s;
    o.blocking = lsh;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c1, &n1, &err), BL_OK);
    o.blocking = back;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c2, &n2, &err), BL_OK);
    assert_true(n1 > 0); /* the blocking lets some pairs through */
    assert_int_equal(n1, n2);
    assert_true(n1 == 0 || memcmp(c1, c2, n1 * sizeof *c1) == 0);
    /* a set of another length is refused, nothing written */
    bl_clkset *wrong = NULL;
    assert_int_equal(bl_clkset_new(128, 1, &wrong, &err), BL_OK);
    char p2[96];
    snprintf(p2, sizeof p2, "%s/w.json", dir);
    assert_int_equal(bl_blocking_write_blocklib(lsh, wrong, 0, p2, &err), BL_EINVAL);
    assert_int_equal(access(p2, F_OK), -1);
    free(c1);
    free(c2);
    bl_clkset_free(wrong);
    bl_blocking_free(lsh);
    bl_blocking_free(back);
    for (int d = 0; d < 2; d++)
        bl_clkset_free(s[d]);
    unlink(p0);
    unlink(p1);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_schema_compare),
        cmocka_unit_test(test_block_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
