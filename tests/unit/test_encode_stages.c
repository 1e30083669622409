/* tests/unit/test_encode_stages.c - each encoder stage on its own: HKDF
 * (RFC 5869 cases), BLAKE2b salt path vs libsodium, HMAC big-endian mod L,
 * code-point n-grams, numeric half-even/floor-mod, bitsPerFeature
 * remainder, folding, MSB-first bit order, Python int/float/strptime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nettle/hmac.h>
#include <sodium.h>

#include "encode/encode_internal.h"
#include "encode/pystrptime.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* ---- HKDF: RFC 5869 appendix A, cases 1-3 (SHA-256) ------------------------------ */
static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    struct {
        const char *ikm, *salt, *info, *okm;
    } cases[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
         "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
         "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f"
         "909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
         "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
         "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
         "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    };
    for (size_t i = 0; i < 3; i++) {
        uint8_t ikm[128], salt[128], info[128], want[128], got[128];
        size_t il = unhex(cases[i].ikm, ikm), sl = unhex(cases[i].salt, salt), nl = unhex(cases[i].info, info);
        size_t ol = unhex(cases[i].okm, want);
        /* case 3 has an empty salt: RFC default = HashLen zeros, same as passing none */
        assert_int_equal(bli_hkdf(0, sl ? salt : NULL, sl, ikm, il, nl ? info : NULL, nl, got, ol), 0);
        assert_memory_equal(got, want, ol);
    }
    uint8_t big[32 * 256];
    assert_int_equal(bli_hkdf(0, NULL, 0, (const uint8_t *)"k", 1, NULL, 0, big, 255 * 32), 0);
    assert_int_equal(bli_hkdf(0, NULL, 0, (const uint8_t *)"k", 1, NULL, 0, big, 255 * 32 + 1), -1);
    /* prefix stability: a feature's keys do not depend on the feature count */
    uint8_t a[64 * 4], b[64 * 8];
    assert_int_equal(bli_hkdf(1, NULL, 0, (const uint8_t *)"secret", 6, NULL, 0, a, sizeof a), 0);
    assert_int_equal(bli_hkdf(1, NULL, 0, (const uint8_t *)"secret", 6, NULL, 0, b, sizeof b), 0);
    assert_memory_equal(a, b, sizeof a);
}

/* ---- BLAKE2b with salt/personal and precomputed key state vs libsodium --------------- */
static void test_blake2b_vs_libsodium(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t msg[300], key[64];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0xa5 ^ i);
    const size_t lens[] = {0, 1, 2, 31, 127, 128, 129, 255, 256, 257, 300};
    const size_t keylens[] = {16, 32, 33, 64};
    for (size_t j = 0; j < 40; j++) {
        uint8_t salt[16], pers[16] = {0};
        bli_blake_salt((uint32_t)j, salt);
        for (size_t ki = 0; ki < 4; ki++)
            for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
                uint8_t want[64], got[64];
                assert_int_equal(crypto_generichash_blake2b_salt_personal(want, 64, msg, lens[li], key,
                                                                          keylens[ki], salt, pers),
                                 0);
                bli_blake2b(got, 64, msg, lens[li], key, keylens[ki], salt, pers);
                assert_memory_equal(got, want, 64);
            }
    }
    /* unkeyed and short digests */
    uint8_t want[32], got[32];
    crypto_generichash_blake2b(want, 32, msg, 100, NULL, 0);
    bli_blake2b(got, 32, msg, 100, NULL, 0, NULL, NULL);
    assert_memory_equal(got, want, 32);
    /* salt bytes: ASCII digits then zero bytes */
    uint8_t salt[16];
    bli_blake_salt(12, salt);
    assert_memory_equal(salt, "12\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
}

/* blakeHash indices = little-endian u16 of consecutive digests mod L */
static void test_blake_indices(void **state)
{
    (void)state;
    uint8_t key[64];
    memset(key, 0x11, sizeof key);
    bl_b2_keyed st[1];
    uint8_t salt0[16];
    bli_blake_salt(0, salt0);
    bli_b2_keyed_init(&st[0], key, 64, salt0, NULL, 64);
    bl_blake_keys bk = {st, 1, key, 64}; /* digest 1 and 2 derived on the fly */
    uint32_t idx[80];
    bli_blake_indices(&bk, (const uint8_t *)"ab", 2, 80, 1024, idx);
    for (uint32_t j = 0; j < 3; j++) {
        uint8_t d[64], salt[16];
        bli_blake_salt(j, salt);
        crypto_generichash_blake2b_salt_personal(d, 64, (const uint8_t *)"ab", 2, key, 64, salt,
                                                 (const uint8_t *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        for (uint32_t t = 0; t < 32 && j * 32 + t < 80; t++)
            assert_int_equal(idx[j * 32 + t], (uint32_t)(d[2 * t] | d[2 * t + 1] << 8) % 1024);
    }
}

/* ---- doubleHash: big-endian integers mod a non-power-of-two L ---------------------- */
static uint32_t slow_mod(const uint8_t *d, size_t n, uint32_t L)
{
    /* schoolbook long division on a digit array, independent of bli_be_mod */
    uint32_t r = 0;
    for (size_t i = 0; i < n; i++)
        for (int b = 7; b >= 0; b--)
            r = (uint32_t)(((uint64_t)r * 2 + ((d[i] >> b) & 1)) % L);
    return r;
}

static void test_be_mod_and_double_hash(void **state)
{
    (void)state;
    const uint8_t d[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                           0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
    /* 0x0102...10 mod 1000 computed with 128-bit arithmetic */
    __extension__ unsigned __int128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | d[i];
    assert_int_equal(bli_be_mod(d, 16, 1000), (uint32_t)(v % 1000));
    assert_int_equal(bli_be_mod(d, 16, 997), (uint32_t)(v % 997));
    assert_int_equal(bli_be_mod(d, 16, 1024), (uint32_t)(v % 1024)); /* = low bits, big-endian */
    assert_int_equal(bli_be_mod(d, 16, 1024), 0x0f10 & 0x3ff);

    uint8_t ka[64], kb[64];
    memset(ka, 1, sizeof ka);
    memset(kb, 2, sizeof kb);
    bl_double_keys dk;
    bli_double_keys_init(&dk, ka, kb, 64);
    uint32_t idx[20];
    bli_double_indices(&dk, 0, (const uint8_t *)"jo", 2, 20, 1000, idx);
    struct hmac_sha1_ctx s1;
    struct hmac_md5_ctx m5;
    uint8_t h1d[20], h2d[16];
    hmac_sha1_set_key(&s1, 64, ka);
    hmac_sha1_update(&s1, 2, (const uint8_t *)"jo");
    hmac_sha1_digest(&s1, 20, h1d);
    hmac_md5_set_key(&m5, 64, kb);
    hmac_md5_update(&m5, 2, (const uint8_t *)"jo");
    hmac_md5_digest(&m5, 16, h2d);
    uint32_t h1 = slow_mod(h1d, 20, 1000), h2 = slow_mod(h2d, 16, 1000);
    for (uint32_t t = 0; t < 20; t++)
        assert_int_equal(idx[t], (h1 + t * h2) % 1000);
}

/* ---- tokenisers ---------------------------------------------------------------------------- */
static void assert_tokens(bl_toklist *t, const char *const *want, size_t n)
{
    assert_int_equal(t->n, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = t->off[i + 1] - t->off[i];
        if (len != strlen(want[i]) || memcmp(t->buf + t->off[i], want[i], len))
            fail_msg("token %zu: got '%.*s', want '%s'", i, (int)len, t->buf + t->off[i], want[i]);
    }
}

static void test_ngrams_code_points(void **state)
{
    (void)state;
    bl_toklist t = {0};
    const char *bob2[] = {" B", "Bo", "ob", "b "};
    assert_int_equal(bli_tokenize_ngram(&t, "Bob", 3, 2, 0), 0);
    assert_tokens(&t, bob2, 4);
    const char *bobp[] = {"1  B", "2 Bo", "3 ob", "4 b "};
    assert_int_equal(bli_tokenize_ngram(&t, "Bob", 3, 2, 1), 0);
    assert_tokens(&t, bobp, 4);
    const char *jose[] = {" J", "Jo", "os", "s\xc3\xa9", "\xc3\xa9 "}; /* é is one code point */
    assert_int_equal(bli_tokenize_ngram(&t, "Jos\xc3\xa9", 5, 2, 0), 0);
    assert_tokens(&t, jose, 5);
    const char *emoji[] = {" \xf0\x9f\x98\x80", "\xf0\x9f\x98\x80x", "x "}; /* astral: one code point */
    assert_int_equal(bli_tokenize_ngram(&t, "\xf0\x9f\x98\x80x", 5, 2, 0), 0);
    assert_tokens(&t, emoji, 3);
    const char *dob[] = {"1 1", "2 9", "3 8", "4 5", "5 0", "6 4", "7 1", "8 2"};
    assert_int_equal(bli_tokenize_ngram(&t, "19850412", 8, 1, 1), 0);
    assert_tokens(&t, dob, 8);
    const char *tri[] = {"  a", " a ", "a  "};
    assert_int_equal(bli_tokenize_ngram(&t, "a", 1, 3, 0), 0);
    assert_tokens(&t, tri, 3);
    assert_int_equal(bli_tokenize_ngram(&t, "", 0, 2, 0), 0);
    assert_int_equal(t.n, 0);
    assert_int_equal(bli_tokenize_ngram(&t, "\xff", 1, 2, 0), -1);
    const char *ex[] = {"a b"};
    assert_int_equal(bli_tokenize_exact(&t, "a b", 3), 0);
    assert_tokens(&t, ex, 1);
    assert_int_equal(bli_tokenize_exact(&t, "", 0), 0);
    assert_int_equal(t.n, 0);
    bli_toklist_free(&t);
}

static void test_numeric_half_even_floor_mod(void **state)
{
    (void)state;
    bl_toklist t = {0};
    char msg[200];
    /* spec example: T=2.5 r=2 p=1: 152.85 -> 1528 (half-even) -> 6112 -> 6100 */
    const char *a[] = {"6050", "6075", "6100", "6125", "6150"};
    assert_int_equal(bli_tokenize_numeric(&t, "152.85", 6, 25, 2, 1, msg, sizeof msg), 0);
    assert_tokens(&t, a, 5);
    /* 0.25 * 10 = 2.5 rounds to 2 (half-up would give 3 and tokens 0,10,20) */
    const char *b[] = {"-10", "0", "10"};
    assert_int_equal(bli_tokenize_numeric(&t, "0.25", 4, 10, 1, 1, msg, sizeof msg), 0);
    assert_tokens(&t, b, 3);
    /* negative values: Python floor-mod (-42 mod 5 = 3) */
    const char *c[] = {"-55", "-50", "-45", "-40", "-35", "-30", "-25"};
    assert_int_equal(bli_tokenize_numeric(&t, "-7", 2, 5, 3, 0, msg, sizeof msg), 0);
    assert_tokens(&t, c, 7);
    /* p = 0 truncates floats */
    const char *d[] = {"-20", "-16", "-12", "-8", "-4"};
    assert_int_equal(bli_tokenize_numeric(&t, "-3.7", 4, 4, 2, 0, msg, sizeof msg), 0);
    assert_tokens(&t, d, 5);
    /* Python int(): whitespace and underscores; float(): exponent */
    const char *e[] = {"199500", "200200", "200900"};
    assert_int_equal(bli_tokenize_numeric(&t, " 1_000 ", 7, 700, 1, 2, msg, sizeof msg), 0);
    assert_tokens(&t, e, 3);
    const char *f[] = {"1998", "2001", "2004"};
    assert_int_equal(bli_tokenize_numeric(&t, "1e3", 3, 3, 1, 0, msg, sizeof msg), 0);
    assert_tokens(&t, f, 3);
    assert_int_equal(bli_tokenize_numeric(&t, "abc", 3, 3, 1, 0, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "not a number"));
    assert_int_equal(bli_tokenize_numeric(&t, "nan", 3, 3, 1, 0, msg, sizeof msg), -1);
    assert_int_equal(bli_tokenize_numeric(&t, "", 0, 3, 1, 0, msg, sizeof msg), 0);
    assert_int_equal(t.n, 0);
    bli_toklist_free(&t);
}

static void test_bits_per_feature_remainder(void **state)
{
    (void)state;
    /* 10 bits over 3 tokens: the first 10 % 3 = 1 token gets one more */
    assert_int_equal(bli_token_k(BL_STRATEGY_BITS_PER_FEATURE, 10, 0, 3), 4);
    assert_int_equal(bli_token_k(BL_STRATEGY_BITS_PER_FEATURE, 10, 1, 3), 3);
    assert_int_equal(bli_token_k(BL_STRATEGY_BITS_PER_FEATURE, 10, 2, 3), 3);
    /* fewer bits than tokens: q = 0 */
    assert_int_equal(bli_token_k(BL_STRATEGY_BITS_PER_FEATURE, 2, 0, 5), 1);
    assert_int_equal(bli_token_k(BL_STRATEGY_BITS_PER_FEATURE, 2, 1, 5), 1);
    assert_int_equal(bli_token_k(BL_STRATEGY_BITS_PER_FEATURE, 2, 2, 5), 0);
    uint32_t sum = 0;
    for (size_t i = 0; i < 7; i++)
        sum += bli_token_k(BL_STRATEGY_BITS_PER_FEATURE, 150, i, 7);
    assert_int_equal(sum, 150);
    assert_int_equal(bli_token_k(BL_STRATEGY_BITS_PER_TOKEN, 20, 5, 7), 20);
}

static void test_bits_msb_first_and_fold(void **state)
{
    (void)state;
    uint8_t b[16] = {0};
    bli_bit_set(b, 0);
    bli_bit_set(b, 9);
    bli_bit_set(b, 127);
    assert_int_equal(b[0], 0x80);
    assert_int_equal(b[1], 0x40);
    assert_int_equal(b[15], 0x01);
    /* fold 128 -> 64: bit i ^= bit 64+i */
    uint8_t f[16] = {0};
    bli_bit_set(f, 3);
    bli_bit_set(f, 64 + 3);  /* cancels */
    bli_bit_set(f, 64 + 10); /* lands on 10 */
    bli_bit_set(f, 63);
    bli_bloom_fold(f, 128, 1);
    uint8_t want[16] = {0};
    bli_bit_set(want, 10);
    bli_bit_set(want, 63);
    assert_memory_equal(f, want, 16);
    /* non byte-aligned halves: 20 bits folded twice -> 5 bits */
    uint8_t g[4] = {0};
    bli_bit_set(g, 12); /* second half of 20 -> 2 */
    bli_bit_set(g, 7);  /* -> in the 10-bit vector, second half of 10 -> 2: cancels */
    bli_bit_set(g, 4);
    bli_bloom_fold(g, 20, 2);
    uint8_t w2[4] = {0};
    bli_bit_set(w2, 4);
    assert_memory_equal(g, w2, 4);
    assert_int_equal(bli_popcount_bytes(want, 16), 2);
}

static void test_utf16_utf32_bom_per_token(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n = bli_token_encode(BL_TEXTENC_UTF16, "a\xc3\xa9", 3, out);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "\xff\xfe" "a\0" "\xe9\0", 6);
    n = bli_token_encode(BL_TEXTENC_UTF16, "\xf0\x9f\x98\x80", 4, out); /* U+1F600: surrogate pair */
    assert_int_equal(n, 6);
    assert_memory_equal(out, "\xff\xfe\x3d\xd8\x00\xde", 6);
    n = bli_token_encode(BL_TEXTENC_UTF32, "a", 1, out);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "\xff\xfe\0\0a\0\0\0", 8);
}

/* ---- Python int()/float()/strptime() ------------------------------------------------------- */
static void test_python_int_float(void **state)
{
    (void)state;
    char out[64];
    const char *ok[][2] = {{"+42", "42"},  {" 7", "7"},     {"042", "42"},       {"-0", "0"},
                           {"1_000", "1000"}, {"\t-12 ", "-12"}, {"\xd9\xa3", "3"}, {"000", "0"}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(bli_pyint_canonical(ok[i][0], strlen(ok[i][0]), out, sizeof out), (int)strlen(ok[i][1]));
        assert_string_equal(out, ok[i][1]);
    }
    const char *bad[] = {"", " ", "1__0", "_1", "1_", "1.0", "0x10", "+", "1 2", "\xc2\xbd"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(bli_pyint_canonical(bad[i], strlen(bad[i]), out, sizeof out), -1);
    double v;
    assert_int_equal(bli_pyfloat_parse("1_0.5", 5, &v), 0);
    assert_true(v == 10.5);
    assert_int_equal(bli_pyfloat_parse(" .5e1 ", 6, &v), 0);
    assert_true(v == 5.0);
    assert_int_equal(bli_pyfloat_parse("-Infinity", 9, &v), 0);
    assert_int_equal(bli_pyfloat_parse("0x1p3", 5, &v), -1);
    assert_int_equal(bli_pyfloat_parse("1e", 2, &v), -1);
    assert_int_equal(bli_pyfloat_parse(".", 1, &v), -1);
}

static void test_python_strptime(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"1985-4-7", "%Y-%m-%d", "19850407"},     {"0999-01-05", "%Y-%m-%d", "9990105"},
        {"05/06/68", "%d/%m/%y", "20680605"},     {"05/06/69", "%d/%m/%y", "19690605"},
        {"12 JAN 2001", "%d %b %Y", "20010112"},  {"Monday 3 March   2003", "%A %d %B %Y", "20030303"},
        {"2003 045", "%Y %j", "20030214"},        {"2003 10 1", "%Y %U %w", "20030310"},
        {"2003 10 1", "%Y %W %w", "20030310"},    {"131", "%m%d", "19000131"},
        {"2000-02-29", "%Y-%m-%d", "20000229"},   {"07:30 PM 1999.12.31", "%I:%M %p %Y.%m.%d", "19991231"},
    };
    void *ws = bli_pydate_workspace_new();
    char msg[128], out[32];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bl_pydate_fmt *f = bli_pydate_compile(cases[i][1], msg, sizeof msg);
        assert_non_null(f);
        int n = bli_pydate_format(f, ws, cases[i][0], strlen(cases[i][0]), out, sizeof out, msg, sizeof msg);
        if (n < 0)
            fail_msg("%s / %s: %s", cases[i][0], cases[i][1], msg);
        assert_string_equal(out, cases[i][2]);
        bli_pydate_free(f);
    }
    const char *bad[][3] = {
        {"1985-13-01", "%Y-%m-%d", "does not match"},
        {"1985-02-30", "%Y-%m-%d", "day is out of range for month"},
        {"1985-01-011", "%Y-%m-%d", "unconverted data remains: 1"},
        {"02-29", "%m-%d", "day is out of range for month"},
        {"85-01-01", "%Y-%m-%d", "does not match"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bl_pydate_fmt *f = bli_pydate_compile(bad[i][1], msg, sizeof msg);
        assert_non_null(f);
        assert_int_equal(bli_pydate_format(f, ws, bad[i][0], strlen(bad[i][0]), out, sizeof out, msg, sizeof msg), -1);
        assert_string_equal(msg, bad[i][2]);
        bli_pydate_free(f);
    }
    assert_null(bli_pydate_compile("%Y-%q", msg, sizeof msg));
    assert_non_null(strstr(msg, "bad directive"));
    assert_null(bli_pydate_compile("%Y-%", msg, sizeof msg));
    assert_null(bli_pydate_compile("%Y %Y", msg, sizeof msg));
    bli_pydate_workspace_free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_blake2b_vs_libsodium),
        cmocka_unit_test(test_blake_indices),
        cmocka_unit_test(test_be_mod_and_double_hash),
        cmocka_unit_test(test_ngrams_code_points),
        cmocka_unit_test(test_numeric_half_even_floor_mod),
        cmocka_unit_test(test_bits_per_feature_remainder),
        cmocka_unit_test(test_bits_msb_first_and_fold),
        cmocka_unit_test(test_utf16_utf32_bom_per_token),
        cmocka_unit_test(test_python_int_float),
        cmocka_unit_test(test_python_strptime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
