/* tests/unit/test_match_vectors.c - reproduces every anonlink 0.15.3 result
 * in tests/fixtures/matching/ (copied from ../shared/vectors/clkhash/matching):
 * dice_coefficient_accelerated with and without k, find_candidate_pairs,
 * greedy and probabilistic solvers, and anonlink-client find-similarity
 * (exhaustive, p-sig blocked, lambda-fold blocked). Scores are compared as
 * text (Python repr), pairs and order exactly; every kernel is exercised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <blindlink/io.h>
#include <blindlink/match.h>
#include "match/match_internal.h"

#define FIX "tests/fixtures/matching/"

static const char *schemas[] = {"schema1-blake", "schema2-doublehash"};

static char *slurp(const char *path)
{
    char *buf;
    size_t len;
    bl_error e = {0};
    if (bl_read_file(path, 1u << 24, &buf, &len, &e) != BL_OK)
        fail_msg("%s", e.msg);
    return buf;
}

static void load_sets(const char *schema, bl_clkset **a, bl_clkset **b)
{
    char p[256];
    bl_error e = {0};
    snprintf(p, sizeof p, FIX "people-a.%s.json", schema);
    assert_int_equal(bl_clkset_read(p, BL_CLK_AUTO, 0, a, &e), BL_OK);
    snprintf(p, sizeof p, FIX "people-b.%s.json", schema);
    assert_int_equal(bl_clkset_read(p, BL_CLK_AUTO, 0, b, &e), BL_OK);
}

/* raw tokens of the JSON array `field` inside object `key` of the file text */
static size_t raw_tokens(const char *text, const char *key, const char *field, char ***out)
{
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(text, pat);
    assert_non_null(p);
    snprintf(pat, sizeof pat, "\"%s\": [", field);
    p = strstr(p, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    while (*p && *p != ']') {
        while (*p == ' ' || *p == '\n' || *p == ',')
            p++;
        if (*p == ']')
            break;
        const char *s = p;
        while (*p && *p != ',' && *p != '\n' && *p != ']' && *p != ' ')
            p++;
        assert_int_equal(bli_grow((void **)&v, &cap, n + 1, sizeof *v, 16), 0);
        v[n++] = strndup(s, (size_t)(p - s));
    }
    *out = v;
    return n;
}

static void free_tokens(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void check_api_key(const char *text, const char *key, const bl_candidate *c, size_t n,
                          int with_dset)
{
    char **sims, **ra, **rb;
    size_t ns = raw_tokens(text, key, "sims", &sims);
    assert_int_equal(ns, n);
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        bl_format_double(c[i].score, buf);
        if (strcmp(buf, sims[i]) != 0)
            fail_msg("%s: score %zu is %s, anonlink has %s", key, i, buf, sims[i]);
    }
    free_tokens(sims, ns);
    if (!with_dset) {
        size_t na = raw_tokens(text, key, "rec_a", &ra);
        size_t nb = raw_tokens(text, key, "rec_b", &rb);
        assert_int_equal(na, n);
        assert_int_equal(nb, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(c[i].rec[0], strtoul(ra[i], NULL, 10));
            assert_int_equal(c[i].rec[1], strtoul(rb[i], NULL, 10));
        }
        free_tokens(ra, na);
        free_tokens(rb, nb);
    }
}

static void check_find_candidates(const char *path, const bl_candidate *c, size_t n)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    assert_non_null(root);
    json_t *o = json_object_get(root, "find_candidate_pairs(threshold=0.8)");
    json_t *dset = json_object_get(o, "dset"), *rec = json_object_get(o, "rec");
    assert_int_equal(json_array_size(json_object_get(o, "sims")), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c[i].dset[0], json_integer_value(json_array_get(json_array_get(dset, 0), i)));
        assert_int_equal(c[i].dset[1], json_integer_value(json_array_get(json_array_get(dset, 1), i)));
        assert_int_equal(c[i].rec[0], json_integer_value(json_array_get(json_array_get(rec, 0), i)));
        assert_int_equal(c[i].rec[1], json_integer_value(json_array_get(json_array_get(rec, 1), i)));
        assert_true(c[i].score ==
                    json_real_value(json_array_get(json_object_get(o, "sims"), i)));
    }
    json_decref(root);
}

static void check_groups_json(json_t *expected, const bl_groups *g)
{
    assert_true(json_is_array(expected));
    assert_int_equal(json_array_size(expected), bl_groups_count(g));
    for (size_t i = 0; i < bl_groups_count(g); i++) {
        const uint32_t *d, *r;
        size_t m = bl_groups_get(g, i, &d, &r);
        json_t *eg = json_array_get(expected, i);
        assert_int_equal(json_array_size(eg), m);
        for (size_t j = 0; j < m; j++) {
            assert_int_equal(d[j], json_integer_value(json_array_get(json_array_get(eg, j), 0)));
            assert_int_equal(r[j], json_integer_value(json_array_get(json_array_get(eg, j), 1)));
        }
    }
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Split a find-similarity file into its group blocks (text), sorted. */
static size_t group_chunks(const char *text, char ***out)
{
    size_t n = 0;
    char **v = calloc(4096, sizeof *v);
    const char *p = strstr(text, "\n    [\n");
    while (p) {
        const char *s = p + 1;
        const char *e = strstr(s, "\n    ]");
        assert_non_null(e);
        v[n++] = strndup(s, (size_t)(e - s) + 6);
        p = strstr(e + 6, "\n    [\n");
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

/* Our find-similarity output equals anonlink-client's up to group order,
 * byte for byte within groups. */
static void check_find_similarity(const char *expected_path, const bl_groups *g)
{
    char tmp[] = "/tmp/bl_fs_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    bl_error e = {0};
    assert_int_equal(bl_groups_write_json(tmp, g, &e), BL_OK);
    char *ours = slurp(tmp), *theirs = slurp(expected_path);
    unlink(tmp);
    char **a, **b;
    size_t na = group_chunks(ours, &a), nb = group_chunks(theirs, &b);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i], b[i]);
        free(a[i]);
        free(b[i]);
    }
    free(a);
    free(b);
    /* same framing */
    assert_memory_equal(ours, theirs, 2);
    assert_int_equal(ours[strlen(ours) - 1], ']');
    assert_int_equal(strlen(ours), strlen(theirs));
    free(ours);
    free(theirs);
}

static void run_api(const char *schema)
{
    bl_clkset *a, *b;
    load_sets(schema, &a, &b);
    const bl_clkset *sets[2] = {a, b};
    char path[256];
    snprintf(path, sizeof path, FIX "people-a-vs-b.%s.anonlink-api.json", schema);
    char *text = slurp(path);
    bl_error e = {0};
    bl_candidate *c;
    size_t n;
    bl_match_opts o;
    memset(&o, 0, sizeof o);

    o.threshold = 0.5;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_OK);
    check_api_key(text, "dice_coefficient_accelerated(threshold=0.5)", c, n, 0);
    free(c);

    o.top_k = 2;
    o.top_k_one_sided = 1;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_OK);
    check_api_key(text, "dice_coefficient_accelerated(threshold=0.5,k=2)", c, n, 0);
    free(c);

    memset(&o, 0, sizeof o);
    o.threshold = 0.8;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_OK);
    check_api_key(text, "find_candidate_pairs(threshold=0.8)", c, n, 1);
    check_find_candidates(path, c, n);

    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    assert_non_null(root);
    bl_groups *g;
    assert_int_equal(bl_match_solve_greedy(c, n, &g, &e), BL_OK);
    check_groups_json(json_object_get(root, "greedy_solve(find_candidate_pairs(threshold=0.8)) [groups sorted]"), g);
    bl_groups_free(g);
    assert_int_equal(bl_match_solve_probabilistic(c, n, 0.5, 1, &g, &e), BL_OK);
    check_groups_json(json_object_get(root, "probabilistic_greedy_solve(find_candidate_pairs(threshold=0.8)) [groups sorted]"), g);
    bl_groups_free(g);

    /* find-similarity t=0.8 (anonlink-client) */
    assert_int_equal(bl_match_solve_greedy(c, n, &g, &e), BL_OK);
    snprintf(path, sizeof path, FIX "people-a-vs-b.%s.find-similarity-t0.8.json", schema);
    check_find_similarity(path, g);
    bl_groups_free(g);

    json_decref(root);
    free(c);
    free(text);
    bl_clkset_free(a);
    bl_clkset_free(b);
}

static void run_blocked(const char *blocks)
{
    bl_clkset *a, *b;
    load_sets("schema1-blake", &a, &b);
    const bl_clkset *sets[2] = {a, b};
    char pa[256], pb[256], ex[256];
    snprintf(pa, sizeof pa, FIX "people-a.%s", blocks);
    snprintf(pb, sizeof pb, FIX "people-b.%s", blocks);
    const char *paths[2] = {pa, pb};
    size_t nrecs[2] = {a->count, b->count};
    bl_error e = {0};
    bl_blocking *bk;
    assert_int_equal(bl_blocking_read_files(paths, 2, nrecs, &bk, &e), BL_OK);
    bl_match_opts o;
    memset(&o, 0, sizeof o);
    o.threshold = 0.8;
    o.blocking = bk;
    bl_candidate *c;
    size_t n;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &c, &n, &e), BL_OK);
    bl_groups *g;
    assert_int_equal(bl_match_solve_greedy(c, n, &g, &e), BL_OK);
    const char *tag = strstr(blocks, "psig") ? "psig" : "lambdafold";
    snprintf(ex, sizeof ex, FIX "people-a-vs-b.schema1-blake.find-similarity-t0.8.%s-blocked.json",
             tag);
    check_find_similarity(ex, g);
    /* pair completeness vs exhaustive and the blocking statistics */
    o.blocking = NULL;
    bl_candidate *full;
    size_t nfull;
    assert_int_equal(bl_match_candidates(sets, 2, &o, &full, &nfull, &e), BL_OK);
    double pc = bl_candidates_completeness(full, nfull, c, n);
    assert_true(pc > 0.5 && pc <= 1.0);
    bl_blocking_stats st;
    assert_int_equal(bl_blocking_stats_compute(bk, sets, 2, &st, &e), BL_OK);
    assert_int_equal(st.pairs_total, 400);
    assert_true(st.pairs_compared > 0 && st.pairs_compared < 400);
    free(full);
    bl_groups_free(g);
    free(c);
    bl_blocking_free(bk);
    bl_clkset_free(a);
    bl_clkset_free(b);
}

static const char *kernels[] = {"scalar", "avx2", "avx512", "avx2-full", "avx512-full"};

static void test_api_vectors(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
        const bl_kernel *kk = bli_kernel_by_name(kernels[k]);
        if (!kk)
            continue; /* CPU lacks it */
        bli_kernel_force(kk);
        for (size_t s = 0; s < 2; s++)
            run_api(schemas[s]);
    }
    bli_kernel_force(NULL);
}

static void test_blocked_vectors(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
        const bl_kernel *kk = bli_kernel_by_name(kernels[k]);
        if (!kk)
            continue;
        bli_kernel_force(kk);
        run_blocked("psig-blocks.json");
        run_blocked("schema1-blake.lambdafold-blocks.json");
    }
    bli_kernel_force(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_vectors),
        cmocka_unit_test(test_blocked_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
