/* tests/unit/test_match_solve.c - greedy and probabilistic solvers on hand
 * built cases whose anonlink results are worked out by hand (2 and 3
 * parties, merge thresholds, deduplication), and the on-disk formats:
 * anonlink binary candidates (round trip, truncation, bad header), CSV
 * columns with and without ids, groups JSON and pairs CSV. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/io.h>
#include <blindlink/match.h>
#include "fixture.h"

#define C(s, d0, r0, d1, r1) {s, {d0, d1}, {r0, r1}}

static int setup(void **state)
{
    (void)state;
    return fx_dir_setup("solve");
}

static int teardown(void **state)
{
    (void)state;
    return fx_dir_teardown();
}

/* group i as "d:r d:r ..." */
static void gstr(const bl_groups *g, size_t i, char *buf)
{
    const uint32_t *d, *r;
    size_t m = bl_groups_get(g, i, &d, &r);
    buf[0] = 0;
    for (size_t j = 0; j < m; j++)
        sprintf(buf + strlen(buf), "%s%u:%u", j ? " " : "", d[j], r[j]);
}

static void expect(const bl_groups *g, const char **want, size_t n)
{
    char buf[256];
    assert_int_equal(bl_groups_count(g), n);
    for (size_t i = 0; i < n; i++) {
        gstr(g, i, buf);
        assert_string_equal(buf, want[i]);
    }
}

static void test_greedy_two_party(void **state)
{
    (void)state;
    bl_candidate c[] = {C(0.9, 0, 0, 1, 0), C(0.8, 0, 0, 1, 1), C(0.7, 0, 1, 1, 1),
                        C(0.6, 0, 2, 1, 0)};
    bl_groups *g;
    bl_error e = {0};
    assert_int_equal(bl_match_solve_greedy(c, 4, &g, &e), BL_OK);
    const char *w[] = {"0:0 1:0", "0:1 1:1"};
    expect(g, w, 2);
    bl_groups_free(g);
    assert_int_equal(bl_match_solve_greedy(NULL, 0, &g, &e), BL_OK);
    assert_int_equal(bl_groups_count(g), 0);
    bl_groups_free(g);
}

static void test_three_party(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_groups *g;
    bl_candidate full[] = {C(0.9, 0, 0, 1, 0), C(0.85, 0, 0, 2, 0), C(0.8, 1, 0, 2, 0)};
    assert_int_equal(bl_match_solve_greedy(full, 3, &g, &e), BL_OK);
    const char *w1[] = {"0:0 1:0 2:0"};
    expect(g, w1, 1);
    bl_groups_free(g);
    /* missing B0-C0: greedy keeps A0-B0 only; probabilistic 0.5 adds C0 */
    assert_int_equal(bl_match_solve_greedy(full, 2, &g, &e), BL_OK);
    const char *w2[] = {"0:0 1:0"};
    expect(g, w2, 1);
    bl_groups_free(g);
    assert_int_equal(bl_match_solve_probabilistic(full, 2, 0.5, 1, &g, &e), BL_OK);
    expect(g, w1, 1);
    bl_groups_free(g);
    /* two groups of two merged when 2 of 4 cross pairs are seen (mt 0.5) */
    bl_candidate q[] = {C(0.95, 0, 0, 1, 0), C(0.94, 2, 0, 3, 0), C(0.9, 0, 0, 2, 0),
                        C(0.85, 1, 0, 3, 0)};
    assert_int_equal(bl_match_solve_probabilistic(q, 4, 0.5, 1, &g, &e), BL_OK);
    const char *w3[] = {"0:0 1:0 2:0 3:0"};
    expect(g, w3, 1);
    bl_groups_free(g);
    assert_int_equal(bl_match_solve_greedy(q, 4, &g, &e), BL_OK);
    const char *w4[] = {"0:0 1:0", "2:0 3:0"};
    expect(g, w4, 2);
    bl_groups_free(g);
}

static void test_dedup(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_groups *g;
    bl_candidate c[] = {C(0.9, 0, 0, 1, 0), C(0.8, 0, 1, 1, 0)};
    assert_int_equal(bl_match_solve_probabilistic(c, 2, 0.5, 1, &g, &e), BL_OK);
    const char *w1[] = {"0:0 1:0"};
    expect(g, w1, 1);
    bl_groups_free(g);
    assert_int_equal(bl_match_solve_probabilistic(c, 2, 0.5, 0, &g, &e), BL_OK);
    const char *w2[] = {"0:0 0:1 1:0"};
    expect(g, w2, 1);
    bl_groups_free(g);
    /* same-dataset pair and self pair */
    bl_candidate s[] = {C(1.0, 0, 0, 0, 0), C(0.9, 0, 0, 0, 1)};
    assert_int_equal(bl_match_solve_probabilistic(s, 2, 0.5, 1, &g, &e), BL_OK);
    assert_int_equal(bl_groups_count(g), 0);
    bl_groups_free(g);
    assert_int_equal(bl_match_solve_probabilistic(s, 2, 0.0, 1, &g, &e), BL_EINVAL);
    assert_int_equal(bl_match_solve_probabilistic(s, 2, 1.5, 1, &g, &e), BL_EINVAL);
}

static void test_anonlink_binary(void **state)
{
    (void)state;
    const char *p;
    p = fx_path("c.bin");
    bl_candidate c[] = {C(0.9817671809256662, 0, 3, 1, 3), C(0.5, 0, 1, 2, 7)};
    bl_error e = {0};
    assert_int_equal(bl_candidates_write_anonlink(p, c, 2, &e), BL_OK);
    FILE *fp = fopen(p, "rb");
    uint8_t raw[64];
    size_t n = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    assert_int_equal(n, 4 + 48);
    assert_int_equal(raw[0], 1);
    assert_int_equal(raw[1], 8);
    assert_int_equal(raw[2], 4);
    assert_int_equal(raw[3], 4);
    assert_int_equal(raw[4 + 24 + 12], 2);  /* dset1 of entry 2 */
    assert_int_equal(raw[4 + 24 + 16], 1);  /* rec0 */
    bl_candidate *r;
    size_t rn;
    assert_int_equal(bl_candidates_read_anonlink(p, 0, &r, &rn, &e), BL_OK);
    assert_int_equal(rn, 2);
    assert_memory_equal(r, c, sizeof c);
    free(r);
    assert_int_equal(bl_candidates_read_anonlink(p, 1, &r, &rn, &e), BL_ELIMIT);
    /* truncated */
    assert_int_equal(truncate(p, 4 + 24 + 5), 0);
    assert_int_equal(bl_candidates_read_anonlink(p, 0, &r, &rn, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "truncated"));
    assert_int_equal(truncate(p, 2), 0);
    assert_int_equal(bl_candidates_read_anonlink(p, 0, &r, &rn, &e), BL_EINPUT);
    fp = fopen(p, "wb");
    fwrite("\x02\x08\x04\x04", 1, 4, fp);
    fclose(fp);
    assert_int_equal(bl_candidates_read_anonlink(p, 0, &r, &rn, &e), BL_EINPUT);
    /* scores are similarities: NaN, infinities and negatives are refused */
    const double bad[] = {NAN, INFINITY, -1.0, 1.5};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bl_candidate b[] = {C(0.9, 0, 3, 1, 3), C(bad[i], 0, 1, 2, 7)};
        assert_int_equal(bl_candidates_write_anonlink(p, b, 2, &e), BL_OK);
        assert_int_equal(bl_candidates_read_anonlink(p, 0, &r, &rn, &e), BL_EINPUT);
        assert_non_null(strstr(e.msg, "entry 1 (byte 28)"));
    }
}

static char *slurp(const char *p)
{
    char *b;
    size_t n;
    bl_error e = {0};
    assert_int_equal(bl_read_file(p, 1 << 20, &b, &n, &e), BL_OK);
    return b;
}

static void test_csv_and_groups(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *a, *b;
    uint8_t f[128] = {0};
    assert_int_equal(bl_clkset_new(1024, 2, &a, &e), BL_OK);
    assert_int_equal(bl_clkset_new(1024, 2, &b, &e), BL_OK);
    assert_int_equal(bl_clkset_append(a, f, "a,0", &e), BL_OK);
    assert_int_equal(bl_clkset_append(a, f, "a1", &e), BL_OK);
    assert_int_equal(bl_clkset_append(b, f, "b0", &e), BL_OK);
    assert_int_equal(bl_clkset_append(b, f, "b1", &e), BL_OK);
    const bl_clkset *sets[2] = {a, b};
    bl_candidate c[] = {C(0.9, 0, 1, 1, 0), C(0.8, 0, 0, 1, 1), C(0.7, 0, 1, 1, 1)};
    const char *p;
    p = fx_path("c.csv");
    assert_int_equal(bl_candidates_write_csv(p, c, 3, sets, 2, &e), BL_OK);
    char *t = slurp(p);
    assert_string_equal(t, "a_index,b_index,score,a_id,b_id\n1,0,0.9,a1,b0\n0,1,0.8,\"a,0\",b1\n"
                           "1,1,0.7,a1,b1\n");
    free(t);
    assert_int_equal(bl_candidates_write_csv(p, c, 3, NULL, 0, &e), BL_OK);
    t = slurp(p);
    assert_string_equal(t, "a_index,b_index,score\n1,0,0.9\n0,1,0.8\n1,1,0.7\n");
    free(t);
    bl_groups *g;
    assert_int_equal(bl_match_solve_greedy(c, 3, &g, &e), BL_OK);
    assert_int_equal(bl_groups_write_pairs_csv(p, g, c, 3, sets, 2, &e), BL_OK);
    t = slurp(p);
    assert_string_equal(t, "a_index,b_index,score,a_id,b_id\n1,0,0.9,a1,b0\n0,1,0.8,\"a,0\",b1\n");
    free(t);
    assert_int_equal(bl_groups_write_json(p, g, &e), BL_OK);
    t = slurp(p);
    assert_string_equal(t, "[\n    [\n        [\n            0,\n            0\n        ],\n"
                           "        [\n            1,\n            1\n        ]\n    ],\n"
                           "    [\n        [\n            0,\n            1\n        ],\n"
                           "        [\n            1,\n            0\n        ]\n    ]\n]");
    free(t);
    bl_groups_free(g);
    /* 3 parties: dataset columns */
    bl_candidate m[] = {C(0.9, 0, 1, 2, 0)};
    assert_int_equal(bl_candidates_write_csv(p, m, 1, NULL, 3, &e), BL_OK);
    t = slurp(p);
    assert_string_equal(t, "a_dataset,a_index,b_dataset,b_index,score\n0,1,2,0,0.9\n");
    free(t);
    bl_clkset_free(a);
    bl_clkset_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_two_party), cmocka_unit_test(test_three_party),
        cmocka_unit_test(test_dedup),            cmocka_unit_test(test_anonlink_binary),
        cmocka_unit_test(test_csv_and_groups),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
