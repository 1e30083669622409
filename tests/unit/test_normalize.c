/* tests/unit/test_normalize.c - opt-in normalisation profiles: exact output
 * of each profile, and the acceptance test: NFD "José", NFC "José" and
 * "JOSE" encode identically with --normalize=names and differently without. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/encode.h>
#include <blindlink/schema.h>

static void norm_eq(bl_normalize_profile p, const char *in, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    bl_error e = {0};
    assert_int_equal(bl_normalize(p, in, strlen(in), &out, &n, &e), BL_OK);
    if (strcmp(out, want))
        fail_msg("profile %s: '%s' -> '%s', want '%s'", bl_normalize_profile_name(p), in, out, want);
    assert_int_equal(n, strlen(want));
    free(out);
}

static void test_profiles(void **state)
{
    (void)state;
    assert_int_equal(bl_normalize_profile_parse("names"), BL_NORMALIZE_NAMES);
    assert_int_equal(bl_normalize_profile_parse("nope"), -1);
    norm_eq(BL_NORMALIZE_NONE, "  Jos\xc3\xa9  ", "  Jos\xc3\xa9  ");
    /* basic: NFKC (NFD e + U+0301 -> U+00E9, fullwidth A -> A, ligature fi -> fi), whitespace */
    norm_eq(BL_NORMALIZE_BASIC, "  Jose\xcc\x81 \t \xef\xbc\xa1\xef\xac\x81 ", "Jos\xc3\xa9 A" "fi");
    norm_eq(BL_NORMALIZE_BASIC, "O'Brien", "O'Brien");
    /* names: case fold, accents off, apostrophes dropped, other punctuation -> space */
    norm_eq(BL_NORMALIZE_NAMES, "  Jos\xc3\xa9  ", "jose");
    norm_eq(BL_NORMALIZE_NAMES, "O'Brien", "obrien");
    norm_eq(BL_NORMALIZE_NAMES, "O\xe2\x80\x99" "Brien", "obrien");
    norm_eq(BL_NORMALIZE_NAMES, "Anne-Marie  SMITH-JONES", "anne marie smith jones");
    norm_eq(BL_NORMALIZE_NAMES, "Stra\xc3\x9f" "e", "strasse");
    norm_eq(BL_NORMALIZE_NAMES, "\xc5\x81ukasz Wi\xc5\x9bniewski", "\xc5\x82ukasz wisniewski"); /* Ł has no decomposition */
    norm_eq(BL_NORMALIZE_NAMES, "Dr. J.R.R.  Tolkien", "dr j r r tolkien");
    /* strict: names without any spaces */
    norm_eq(BL_NORMALIZE_STRICT, "Anne-Marie  Smith-Jones", "annemariesmithjones");
    norm_eq(BL_NORMALIZE_STRICT, "Te Whata", "tewhata");
    char *out = NULL;
    size_t n;
    bl_error e = {0};
    assert_int_equal(bl_normalize(BL_NORMALIZE_NAMES, "\xff", 1, &out, &n, &e), BL_EINPUT);
}

static void encode_one(bl_schema *s, bl_normalize_profile p, const char *name, uint8_t out[16])
{
    bl_encode_opts o = {.normalize = p};
    bl_encoder *enc = NULL;
    bl_error e = {0};
    assert_int_equal(bl_encoder_new(s, (const uint8_t *)"secret", 6, &o, &enc, &e), BL_OK);
    bl_encode_scratch *sc = bl_encode_scratch_new(enc);
    const char *fields[1] = {name};
    size_t lens[1] = {strlen(name)};
    assert_int_equal(bl_encoder_encode(enc, sc, fields, lens, 1, out, NULL, &e), BL_OK);
    bl_encode_scratch_free(sc);
    bl_encoder_free(enc);
}

static void test_jose(void **state)
{
    (void)state;
    const char *schema = "{\"version\": 3, \"clkConfig\": {\"l\": 128, \"kdf\": {\"type\": \"HKDF\"}},"
                         " \"features\": [{\"identifier\": \"name\", \"format\": {\"type\": \"string\"},"
                         " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2},"
                         " \"strategy\": {\"bitsPerToken\": 10}}}]}";
    bl_schema *s = NULL;
    bl_error e = {0};
    assert_int_equal(bl_schema_parse(schema, strlen(schema), "s.json", &s, &e), BL_OK);
    const char *nfd = "Jose\xcc\x81", *nfc = "Jos\xc3\xa9", *upper = "JOSE";
    uint8_t a[16], b[16], c[16];
    encode_one(s, BL_NORMALIZE_NAMES, nfd, a);
    encode_one(s, BL_NORMALIZE_NAMES, nfc, b);
    encode_one(s, BL_NORMALIZE_NAMES, upper, c);
    assert_memory_equal(a, b, 16);
    assert_memory_equal(a, c, 16);
    encode_one(s, BL_NORMALIZE_NONE, nfd, a);
    encode_one(s, BL_NORMALIZE_NONE, nfc, b);
    encode_one(s, BL_NORMALIZE_NONE, upper, c);
    assert_memory_not_equal(a, b, 16);
    assert_memory_not_equal(a, c, 16);
    assert_memory_not_equal(b, c, 16);
    bl_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_jose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
