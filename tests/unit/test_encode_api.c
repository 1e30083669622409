/* tests/unit/test_encode_api.c - the encoder API on hand-made schemas:
 * formatting equivalences (integers, dates), missing values, ascii and
 * validation rules, --no-validate, legacy strip, error messages, field
 * count, fingerprints with options, and concurrent use of one encoder. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/encode.h>
#include <blindlink/schema.h>

static const char *SCHEMA =
    "{\"version\": 3, \"clkConfig\": {\"l\": 256, \"kdf\": {\"type\": \"HKDF\", \"keySize\": 32}}, \"features\": ["
    "{\"identifier\": \"name\", \"format\": {\"type\": \"string\", \"encoding\": \"ascii\", \"maxLength\": 8, \"case\": \"lower\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 8}}},"
    "{\"identifier\": \"age\", \"format\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 150},"
    " \"hashing\": {\"comparison\": {\"type\": \"exact\"}, \"strategy\": {\"bitsPerToken\": 8},"
    " \"hash\": {\"type\": \"doubleHash\"}, \"missingValue\": {\"sentinel\": \"NA\", \"replaceWith\": \"\"}}},"
    "{\"identifier\": \"dob\", \"format\": {\"type\": \"date\", \"format\": \"%Y-%m-%d\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 1, \"positional\": true}, \"strategy\": {\"bitsPerFeature\": 40}}},"
    "{\"identifier\": \"w\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-32\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"numeric\", \"thresholdDistance\": 2.5, \"resolution\": 2, \"fractional_precision\": 1},"
    " \"strategy\": {\"bitsPerToken\": 4}}}]}";

static bl_schema *schema;

static int setup(void **state)
{
    (void)state;
    bl_error e = {0};
    return bl_schema_parse(SCHEMA, strlen(SCHEMA), "t.json", &schema, &e) == BL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bl_schema_free(schema);
    return 0;
}

static bl_status enc4(const bl_encode_opts *o, const char *a, const char *b, const char *c, const char *d,
                      uint8_t out[32], bl_error *e)
{
    bl_encoder *enc = NULL;
    bl_status st = bl_encoder_new(schema, (const uint8_t *)"s3cret", 6, o, &enc, e);
    if (st != BL_OK)
        return st;
    bl_encode_scratch *s = bl_encode_scratch_new(enc);
    const char *f[4] = {a, b, c, d};
    size_t l[4] = {strlen(a), strlen(b), strlen(c), strlen(d)};
    st = bl_encoder_encode(enc, s, f, l, 4, out, NULL, e);
    bl_encode_scratch_free(s);
    bl_encoder_free(enc);
    return st;
}

static void test_formatting_equivalences(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    bl_error e = {0};
    assert_int_equal(enc4(NULL, "bob", "42", "1985-04-07", "152.85", a, &e), BL_OK);
    assert_int_equal(enc4(NULL, "bob", " +042 ", "1985-4-7", "152.8", b, &e), BL_OK); /* 152.85 -> 1528 (half-even) */
    assert_memory_equal(a, b, 32);
    assert_int_equal(enc4(NULL, "bob", "43", "1985-04-07", "152.85", b, &e), BL_OK);
    assert_memory_not_equal(a, b, 32);
    /* sentinel "NA" skips validation (not an integer) and hashes as "" (no tokens):
     * the filter is the one of the other columns alone */
    assert_int_equal(enc4(NULL, "bob", "NA", "1985-04-07", "", a, &e), BL_OK);
    assert_int_equal(enc4(NULL, "bob", "42", "1985-04-07", "", b, &e), BL_OK);
    assert_memory_not_equal(a, b, 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(a[i] & ~b[i], 0); /* NA's bits are a subset */
}

static void expect_fail(const bl_encode_opts *o, const char *a, const char *b, const char *c, const char *d,
                        const char *msg)
{
    uint8_t out[32];
    bl_error e = {0};
    assert_int_equal(enc4(o, a, b, c, d, out, &e), BL_EINPUT);
    if (!strstr(e.msg, msg))
        fail_msg("want '%s', got '%s'", msg, e.msg);
}

static void test_rules_and_messages(void **state)
{
    (void)state;
    expect_fail(NULL, "jos\xc3\xa9", "1", "1985-04-07", "1", "column 1 (name): 'jos\xc3\xa9' cannot be encoded as ascii");
    expect_fail(NULL, "Bob", "1", "1985-04-07", "1", "column 1 (name): 'Bob' is not lower case");
    expect_fail(NULL, "bobbobbob", "1", "1985-04-07", "1", "is longer than maxLength 8 (9 characters)");
    expect_fail(NULL, "bob", "-1", "1985-04-07", "1", "column 2 (age): '-1' is less than the minimum 0");
    expect_fail(NULL, "bob", "4x", "1985-04-07", "1", "column 2 (age): '4x' is not an integer");
    expect_fail(NULL, "bob", "4", "1985-04-31", "1", "column 3 (dob): '1985-04-31' is not a valid %Y-%m-%d date: day is out of range for month");
    expect_fail(NULL, "bob", "4", "1985-04-07", "tall", "column 4 (w): 'tall' is not a number");
    expect_fail(NULL, "b\xc3", "4", "1985-04-07", "1", "column 1 (name): invalid UTF-8");
    /* --no-validate skips rules but not formatting */
    bl_encode_opts nv = {.no_validate = 1};
    uint8_t out[32];
    bl_error e = {0};
    assert_int_equal(enc4(&nv, "BobBobBob", "-1", "1985-04-07", "1", out, &e), BL_OK);
    expect_fail(&nv, "bob", "4x", "1985-04-07", "1", "'4x' is not an integer");
    expect_fail(&nv, "bob", "4", "85-04-07", "1", "'85-04-07' does not match %Y-%m-%d");
}

static void test_legacy_strip_and_fields(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    bl_error e = {0};
    bl_encode_opts ls = {.legacy_strip = 1};
    assert_int_equal(enc4(NULL, "bob", "42", "1985-04-07", "1", a, &e), BL_OK);
    assert_int_equal(enc4(&ls, " bob\t", "42", " 1985-04-07 ", "1", b, &e), BL_OK);
    assert_memory_equal(a, b, 32);
    /* without strip the spaces are data (and the date does not parse) */
    expect_fail(NULL, "bob", "42", " 1985-04-07", "1", "does not match %Y-%m-%d");
    bl_encoder *enc = NULL;
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)"s", 1, NULL, &enc, &e), BL_OK);
    bl_encode_scratch *s = bl_encode_scratch_new(enc);
    const char *f[3] = {"a", "b", "c"};
    size_t l[3] = {1, 1, 1};
    assert_int_equal(bl_encoder_encode(enc, s, f, l, 3, a, NULL, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "expected 4 columns, found 3"));
    assert_int_equal(bl_encoder_nbits(enc), 256);
    assert_int_equal(bl_encoder_nbytes(enc), 32);
    bl_encode_scratch_free(s);
    bl_encoder_free(enc);
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)"", 0, NULL, &enc, &e), BL_EINVAL);
}

static void test_fingerprint_options(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_encoder *a = NULL, *b = NULL, *c = NULL;
    bl_encode_opts n = {.normalize = BL_NORMALIZE_NAMES};
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)"x", 1, NULL, &a, &e), BL_OK);
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)"y", 1, NULL, &b, &e), BL_OK);
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)"x", 1, &n, &c, &e), BL_OK);
    uint8_t fa[32], fb[32], fc[32], fs[32];
    bl_encoder_fingerprint(a, fa);
    bl_encoder_fingerprint(b, fb);
    bl_encoder_fingerprint(c, fc);
    bl_schema_fingerprint(schema, NULL, fs);
    assert_memory_equal(fa, fb, 32); /* the secret is not part of it */
    assert_memory_equal(fa, fs, 32);
    assert_memory_not_equal(fa, fc, 32);
    bl_encoder_free(a);
    bl_encoder_free(b);
    bl_encoder_free(c);
}

/* one encoder, four threads, each with its own scratch: same results */
struct job {
    const bl_encoder *enc;
    uint8_t out[200][32];
};

static void *worker(void *arg)
{
    struct job *j = arg;
    bl_encode_scratch *s = bl_encode_scratch_new(j->enc);
    for (int i = 0; i < 200; i++) {
        char name[16], age[8];
        snprintf(name, sizeof name, "n%dx", i % 37);
        snprintf(age, sizeof age, "%d", i % 100);
        const char *f[4] = {name, age, "2001-02-03", "17.5"};
        size_t l[4] = {strlen(name), strlen(age), 10, 4};
        bl_error e = {0};
        if (bl_encoder_encode(j->enc, s, f, l, 4, j->out[i], NULL, &e) != BL_OK)
            abort();
    }
    bl_encode_scratch_free(s);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_encoder *enc = NULL;
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)"k", 1, NULL, &enc, &e), BL_OK);
    static struct job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].enc = enc;
        assert_int_equal(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 1; i < 4; i++)
        assert_memory_equal(jobs[0].out, jobs[i].out, sizeof jobs[0].out);
    bl_encoder_free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formatting_equivalences),
        cmocka_unit_test(test_rules_and_messages),
        cmocka_unit_test(test_legacy_strip_and_fields),
        cmocka_unit_test(test_fingerprint_options),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
