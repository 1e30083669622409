/* tests/unit/test_schema.c - linkage schema parsing: the fixture schemas,
 * errors reported by JSON path, all errors collected, v1 -> v3 conversion
 * (weights rounded half-to-even), xorFolds warning, fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/schema.h>

#define FIX "tests/fixtures/clkhash/schemas/"

static bl_schema *load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FIX "%s.json", name);
    bl_schema *s = NULL;
    bl_error e = {0};
    if (bl_schema_load(path, &s, &e) != BL_OK)
        fail_msg("%s", e.msg);
    return s;
}

static void test_fixtures(void **state)
{
    (void)state;
    bl_schema *s1 = load("schema1-blake"), *s1v2 = load("schema1-blake-v2");
    bl_schema *s3 = load("schema3-mixed-folded"), *s5 = load("schema5-xorFolds-camelcase-ignored");
    assert_int_equal(bl_schema_version(s1), 3);
    assert_int_equal(bl_schema_version(s1v2), 2);
    assert_int_equal(bl_schema_filter_bits(s1), 1024);
    assert_int_equal(bl_schema_nfeatures(s1), 9);
    assert_string_equal(bl_schema_feature_id(s1, 3), "dob");
    assert_true(bl_schema_feature_ignored(s1, 0));
    assert_false(bl_schema_feature_ignored(s1, 1));
    assert_int_equal(bl_schema_xor_folds(s3), 1);
    assert_int_equal(bl_schema_xor_folds(s5), 0);
    assert_int_equal(bl_schema_nwarnings(s3), 0);
    assert_int_equal(bl_schema_nwarnings(s5), 1);
    assert_non_null(strstr(bl_schema_warning(s5, 0), "$.clkConfig.xorFolds: ignored"));
    /* a v2 schema and clkhash's conversion of it to v3 have one fingerprint;
     * schema1 (gender as exact, not as 1-grams) has another */
    uint8_t a[32], b[32], c[32];
    bl_schema *conv = load("schema1-blake-v2-converted-to-v3");
    bl_schema_fingerprint(conv, NULL, a);
    bl_schema_fingerprint(s1v2, "", b);
    assert_memory_equal(a, b, 32);
    bl_schema_free(conv);
    bl_schema_fingerprint(s1, NULL, a);
    assert_memory_not_equal(a, b, 32);
    bl_schema_fingerprint(s1, "normalize=names;legacy_strip=0", c);
    assert_memory_not_equal(a, c, 32);
    bl_schema_fingerprint(s3, NULL, b);
    bl_schema_fingerprint(s5, NULL, c);
    assert_memory_not_equal(b, c, 32); /* folded vs not */
    double eb = bl_schema_expected_bits(s1, 8);
    assert_true(eb > 100 && eb < 1024);
    bl_schema_free(s1);
    bl_schema_free(s1v2);
    bl_schema_free(s3);
    bl_schema_free(s5);
}

#define HDR "{\"version\": 3, \"clkConfig\": {\"l\": 1024, \"kdf\": {\"type\": \"HKDF\"}}, \"features\": ["
#define FEAT(fmt, hashing) "{\"identifier\": \"x\", \"format\": " fmt ", \"hashing\": " hashing "}"
#define STR "{\"type\": \"string\"}"
#define NG "\"comparison\": {\"type\": \"ngram\", \"n\": 2}"
#define BPT "\"strategy\": {\"bitsPerToken\": 20}"

static void expect_error(const char *json, const char *path_msg)
{
    bl_schema *s = NULL;
    bl_error e = {0};
    bl_status st = bl_schema_parse(json, strlen(json), "t.json", &s, &e);
    if (st != BL_ESCHEMA || !strstr(e.msg, path_msg))
        fail_msg("want '%s', got status %d '%s' for %s", path_msg, (int)st, e.msg, json);
    assert_null(s);
}

static void test_errors_by_path(void **state)
{
    (void)state;
    expect_error(HDR FEAT(STR, "{" NG ", " BPT ", \"extra\": 1}") "]}",
                 "t.json: $.features[0].hashing: unknown key 'extra'");
    expect_error(HDR FEAT(STR, "{" NG ", \"strategy\": {\"bitsPerTokn\": 2}}") "]}",
                 "$.features[0].hashing.strategy: unknown key 'bitsPerTokn'");
    expect_error(HDR FEAT(STR, "{" NG "}") "]}", "$.features[0].hashing: missing required key 'strategy'");
    expect_error(HDR FEAT(STR, "{\"comparison\": {\"type\": \"ngram\", \"n\": 0}, " BPT "}") "]}",
                 "$.features[0].hashing.comparison.n: must be at least 1");
    expect_error(HDR FEAT(STR, "{" NG ", " BPT ", \"hash\": {\"type\": \"blakeHash\", \"prevent_singularity\": true}}") "]}",
                 "$.features[0].hashing.hash: 'prevent_singularity' may only be given with doubleHash");
    expect_error(HDR FEAT("{\"type\": \"string\", \"pattern\": \"[0-9\"}", "{" NG ", " BPT "}") "]}",
                 "$.features[0].format.pattern: invalid regular expression");
    expect_error(HDR FEAT("{\"type\": \"date\", \"format\": \"%Y-%Q\"}", "{" NG ", " BPT "}") "]}",
                 "$.features[0].format.format: 'Q' is a bad directive");
    expect_error(HDR FEAT("{\"type\": \"colour\"}", "{" NG ", " BPT "}") "]}",
                 "$.features[0].format.type: format type 'colour' is not one of");
    expect_error(HDR FEAT("{\"type\": \"integer\", \"pattern\": \"1\"}", "{" NG ", " BPT "}") "]}",
                 "$.features[0].format: unknown key 'pattern'");
    expect_error(HDR FEAT(STR, "{\"comparison\": {\"type\": \"numeric\", \"thresholdDistance\": 0.01, \"resolution\": 2}, " BPT "}") "]}",
                 "not enough fractional_precision");
    expect_error("{\"version\": 3, \"clkConfig\": {\"l\": 1000, \"kdf\": {\"type\": \"HKDF\"}}, \"features\": [" FEAT(STR, "{" NG ", " BPT "}") "]}",
                 "$.clkConfig.l: blakeHash needs l * 2^xor_folds to be a power of two");
    expect_error("{\"version\": 3, \"clkConfig\": {\"l\": 64, \"kdf\": {\"type\": \"HKDF\", \"hash\": \"MD5\"}}, \"features\": [" FEAT(STR, "{" NG ", " BPT "}") "]}",
                 "kdf hash 'MD5' is not one of SHA256, SHA512");
    expect_error("{\"version\": 3, \"clkConfig\": {\"l\": 64, \"kdf\": {\"type\": \"HKDF\", \"salt\": \"@@\"}}, \"features\": [" FEAT(STR, "{" NG ", " BPT "}") "]}",
                 "$.clkConfig.kdf.salt: is not valid base64");
    expect_error("{\"version\": 4, \"clkConfig\": {}, \"features\": []}", "$.version: schema version");
    expect_error("[1, 2]", "$: the top level must be an object");
    expect_error("{\"version\": 3, \"clkConfig\": {\"l\": 64, \"kdf\": {\"type\": \"HKDF\"}}, \"features\": [], \"x\": 1}",
                 "$: unknown key 'x'");
    expect_error("{\"version\": 3,", "t.json:1:");
    /* 64-byte SHA256 keys: at most 63 features */
    char *big = malloc(1 << 16);
    size_t o = (size_t)sprintf(big, "{\"version\": 3, \"clkConfig\": {\"l\": 64, \"kdf\": {\"type\": \"HKDF\"}}, \"features\": [");
    for (int i = 0; i < 64; i++)
        o += (size_t)sprintf(big + o, "%s{\"identifier\": \"c%d\", \"ignored\": true}", i ? ", " : "", i);
    sprintf(big + o, "]}");
    expect_error(big, "HKDF-SHA256 can derive at most 8160 bytes");
    free(big);
}

static void test_check_collects_all(void **state)
{
    (void)state;
    const char *json = HDR FEAT(STR, "{" NG ", \"strategy\": {}, \"bogus\": 1}") ", "
                       FEAT("{\"type\": \"enum\", \"values\": [1]}", "{" NG ", " BPT "}") "]}";
    bl_schema_diag *d = NULL;
    size_t nd = 0, ne = 0;
    bl_error e = {0};
    assert_int_equal(bl_schema_check(json, strlen(json), NULL, &d, &nd, &ne, &e), BL_OK);
    assert_int_equal(ne, 3);
    int seen_bogus = 0, seen_strategy = 0, seen_values = 0;
    for (size_t i = 0; i < ne; i++) {
        seen_bogus |= !strcmp(d[i].path, "$.features[0].hashing") && strstr(d[i].msg, "bogus");
        seen_strategy |= !strcmp(d[i].path, "$.features[0].hashing.strategy");
        seen_values |= !strcmp(d[i].path, "$.features[1].format.values[0]");
    }
    assert_true(seen_bogus && seen_strategy && seen_values);
    free(d);
}

static void test_v1_conversion(void **state)
{
    (void)state;
    /* weight 0.5 * k 5 = 2.5 -> 2 (half-to-even), weight 1.5 * 5 = 7.5 -> 8, weight 0 -> ignored */
    const char *v1 =
        "{\"version\": 1, \"clkConfig\": {\"l\": 64, \"k\": 5, \"hash\": {\"type\": \"doubleHash\"},"
        " \"kdf\": {\"type\": \"HKDF\"}}, \"features\": ["
        "{\"identifier\": \"a\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"ngram\": 2, \"weight\": 0.5}},"
        "{\"identifier\": \"b\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"ngram\": 1, \"positional\": true, \"weight\": 1.5}},"
        "{\"identifier\": \"c\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"ngram\": 2, \"weight\": 0}},"
        "{\"identifier\": \"d\", \"ignored\": true}]}";
    bl_schema *s = NULL;
    bl_error e = {0};
    if (bl_schema_parse(v1, strlen(v1), "v1.json", &s, &e) != BL_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(bl_schema_version(s), 1);
    assert_true(bl_schema_feature_ignored(s, 2));
    char *json = NULL;
    assert_int_equal(bl_schema_to_v3_json(s, &json, &e), BL_OK);
    assert_non_null(strstr(json, "\"version\": 3"));
    /* clkhash rebuilds clkConfig as {l, xor_folds, kdf} */
    assert_non_null(strstr(json, "\"clkConfig\": {\"l\": 64, \"xor_folds\": 0, \"kdf\": {\"type\": \"HKDF\"}}"));
    assert_non_null(strstr(json, "{\"strategy\": {\"bitsPerToken\": 2}, \"hash\": {\"type\": \"doubleHash\"}, "
                                 "\"comparison\": {\"type\": \"ngram\", \"n\": 2, \"positional\": false}}"));
    assert_non_null(strstr(json, "\"bitsPerToken\": 8"));
    assert_non_null(strstr(json, "{\"identifier\": \"c\", \"ignored\": true}"));
    assert_null(strstr(json, "weight"));
    /* the converted text parses as v3 to the same encoding parameters */
    bl_schema *s3 = NULL;
    assert_int_equal(bl_schema_parse(json, strlen(json), "conv.json", &s3, &e), BL_OK);
    uint8_t a[32], b[32];
    bl_schema_fingerprint(s, NULL, a);
    bl_schema_fingerprint(s3, NULL, b);
    assert_memory_equal(a, b, 32);
    free(json);
    bl_schema_free(s);
    bl_schema_free(s3);
    /* v1 without the global k */
    const char *bad = "{\"version\": 1, \"clkConfig\": {\"l\": 64, \"hash\": {\"type\": \"blakeHash\"}, \"kdf\": {\"type\": \"HKDF\"}},"
                      " \"features\": [{\"identifier\": \"a\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"ngram\": 2}}]}";
    expect_error(bad, "$.clkConfig: missing required key 'k'");
    /* v2 strategy keys checked with their own path */
    const char *v2 = "{\"version\": 2, \"clkConfig\": {\"l\": 64, \"kdf\": {\"type\": \"HKDF\"}},"
                     " \"features\": [{\"identifier\": \"a\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"ngram\": 2, \"strategy\": {\"kk\": 2}}}]}";
    expect_error(v2, "$.features[0].hashing.strategy: unknown key 'kk'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_errors_by_path),
        cmocka_unit_test(test_check_collects_all),
        cmocka_unit_test(test_v1_conversion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
