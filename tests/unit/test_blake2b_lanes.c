/* tests/unit/test_blake2b_lanes.c - the multi-buffer BLAKE2b kernels
 * (scalar, AVX2 4 lanes, AVX-512 8 lanes) against libsodium's
 * crypto_generichash_blake2b_salt_personal and the one-message reference
 * bli_b2_keyed_hash: every batch size 1..20 (each lane fill count and
 * refills), lengths 0..300 (empty keyed message = key block only, exactly
 * 128 bytes, multi-block), key lengths 0/1/32/64 and a different salt per
 * message, so lanes carry different states at once. Then the encoder with
 * each kernel forced, token cache on and off, against bl_encoder_trace (the
 * token-by-token path): tokens of 1..600 bits (several digests, and more
 * than the precomputed states), multi-block tokens, UTF-16, missing values.
 * Kernels the CPU lacks are reported as skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include <blindlink/encode.h>
#include <blindlink/schema.h>

#include "encode/encode_internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define NSTATES 12
#define MAXJOBS 20

typedef struct fixture {
    bl_b2_keyed st[NSTATES];
    uint8_t key[NSTATES][64], salt[NSTATES][16];
    size_t keylen[NSTATES];
    uint8_t msg[MAXJOBS][300];
} fixture;

static void fixture_init(fixture *fx)
{
    static const size_t kl[] = {0, 1, 32, 64};
    for (int s = 0; s < NSTATES; s++) {
        fx->keylen[s] = kl[s % 4];
        for (int i = 0; i < 64; i++)
            fx->key[s][i] = (uint8_t)xr();
        bli_blake_salt((uint32_t)(s * 7), fx->salt[s]);
        bli_b2_keyed_init(&fx->st[s], fx->key[s], fx->keylen[s], fx->salt[s], NULL, 64);
    }
    for (int j = 0; j < MAXJOBS; j++)
        for (int i = 0; i < 300; i++)
            fx->msg[j][i] = (uint8_t)xr();
}

/* One batch of n messages with lengths from `lens` through kernel k; each
 * digest checked against libsodium and the reference. */
static void check_batch(const bl_b2_kernel *k, fixture *fx, size_t n, const size_t *lens)
{
    bl_b2_job jobs[MAXJOBS] = {{0}};
    uint64_t out[MAXJOBS][8];
    int sidx[MAXJOBS];
    memset(out, 0xee, sizeof out);
    for (size_t j = 0; j < n; j++) {
        sidx[j] = (int)(xr() % NSTATES);
        jobs[j] = (bl_b2_job){&fx->st[sidx[j]], fx->msg[j], lens[j], out[j]};
    }
    bli_b2_hash_many(k, jobs, n);
    for (size_t j = 0; j < n; j++) {
        uint64_t ref[8];
        bli_b2_keyed_hash(&fx->st[sidx[j]], fx->msg[j], lens[j], ref);
        assert_memory_equal(out[j], ref, sizeof ref);
        uint8_t want[64], got[64], pers[16] = {0};
        const int s = sidx[j];
        assert_int_equal(crypto_generichash_blake2b_salt_personal(want, 64, fx->msg[j], lens[j],
                                                                  fx->keylen[s] ? fx->key[s] : NULL,
                                                                  fx->keylen[s], fx->salt[s], pers),
                         0);
        for (int i = 0; i < 8; i++)
            for (int b = 0; b < 8; b++)
                got[8 * i + b] = (uint8_t)(out[j][i] >> (8 * b));
        if (memcmp(got, want, 64) != 0)
            fail_msg("kernel %s: message %zu of %zu (%zu bytes, key %zu bytes) differs from libsodium",
                     k->name, j, n, lens[j], fx->keylen[s]);
    }
}

static void run_kernel(const char *name)
{
    const bl_b2_kernel *k = bli_b2_kernel_by_name(name);
    if (!k) {
        printf("kernel %s not supported on this CPU: skipped\n", name);
        skip();
    }
    assert_string_equal(k->name, name);
    assert_true(k->lanes >= 1 && k->lanes <= BL_B2_MAXLANES);
    fixture *fx = malloc(sizeof *fx);
    assert_non_null(fx);
    fixture_init(fx);
    static const size_t edge[] = {0, 1, 2, 7, 8, 63, 64, 111, 112, 127, 128, 129, 200, 255, 256, 257, 300};
    const size_t nedge = sizeof edge / sizeof *edge;
    size_t lens[MAXJOBS];
    for (size_t n = 1; n <= MAXJOBS; n++) {
        for (size_t rep = 0; rep < 40; rep++) {
            for (size_t j = 0; j < n; j++) /* edges first, then random lengths */
                lens[j] = rep < 20 ? edge[(j + rep) % nedge] : (size_t)(xr() % 301);
            check_batch(k, fx, n, lens);
        }
        for (size_t j = 0; j < n; j++) /* equal short lengths: the encoder's usual batch */
            lens[j] = 2;
        check_batch(k, fx, n, lens);
    }
    check_batch(k, fx, 0, lens); /* an empty batch writes nothing */
    free(fx);
}

static void test_scalar(void **state)
{
    (void)state;
    run_kernel("scalar");
}

static void test_avx2(void **state)
{
    (void)state;
    run_kernel("avx2");
}

static void test_avx512(void **state)
{
    (void)state;
    run_kernel("avx512");
}

/* the automatic choice is the widest supported kernel; unknown names fail */
static void test_dispatch(void **state)
{
    (void)state;
    const bl_b2_kernel *a = bli_b2_kernel_active();
    assert_non_null(a);
    const char *env = getenv("BL_HASH_KERNEL");
    if (env && bli_b2_kernel_by_name(env))
        assert_string_equal(a->name, env);
    else if (bli_b2_kernel_avx512_get())
        assert_string_equal(a->name, "avx512");
    else if (bli_b2_kernel_avx2_get())
        assert_string_equal(a->name, "avx2");
    else
        assert_string_equal(a->name, "scalar");
    assert_null(bli_b2_kernel_by_name("sse9"));
    assert_null(bli_b2_kernel_by_name(NULL));
    assert_int_equal(bli_b2_kernel_by_name("scalar")->lanes, 1);
}

static const char *ENC_SCHEMA =
    "{\"version\": 3, \"clkConfig\": {\"l\": 1024, \"kdf\": {\"type\": \"HKDF\", \"hash\": \"SHA256\","
    " \"salt\": \"SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==\","
    " \"info\": \"c2NoZW1hX2V4YW1wbGU=\", \"keySize\": 64}}, \"features\": ["
    "{\"identifier\": \"a\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}}},"
    "{\"identifier\": \"b\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-16\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 3}, \"strategy\": {\"bitsPerToken\": 100}}},"
    "{\"identifier\": \"c\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"exact\"}, \"strategy\": {\"bitsPerToken\": 600},"
    " \"missingValue\": {\"sentinel\": \"\"}}},"
    "{\"identifier\": \"d\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 1, \"positional\": true},"
    " \"strategy\": {\"bitsPerFeature\": 77}}}]}";

static void noop_cb(void *ctx, const bl_token_trace *t)
{
    (void)ctx;
    (void)t;
}

/* Random value of up to `max` characters from a small alphabet (repeats,
 * so the cache gets hits), some non-ASCII. */
static size_t rand_value(char *out, size_t max)
{
    static const char *const alpha[] = {"a", "b", "c", "x", "y", "1", "\xc3\xa9", "\xc5\x82", " "};
    size_t n = (size_t)(xr() % (max + 1)), len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = alpha[xr() % 9];
        memcpy(out + len, c, strlen(c));
        len += strlen(c);
    }
    return len;
}

static void test_encoder_kernels(void **state)
{
    (void)state;
    bl_schema *sc = NULL;
    bl_encoder *enc = NULL;
    bl_error err = {0};
    assert_int_equal(bl_schema_parse(ENC_SCHEMA, strlen(ENC_SCHEMA), "test", &sc, &err), BL_OK);
    assert_int_equal(bl_encoder_new(sc, (const uint8_t *)"s3cret", 6, NULL, &enc, &err), BL_OK);
    enum { NREC = 200, NF = 4 };
    static char vals[NREC][NF][700];
    static size_t lens[NREC][NF];
    static const size_t maxc[NF] = {12, 30, 200, 9};
    for (int r = 0; r < NREC; r++)
        for (int i = 0; i < NF; i++)
            lens[r][i] = rand_value(vals[r][i], maxc[i]);
    const size_t nb = bl_encoder_nbytes(enc);
    uint8_t *want = malloc(NREC * nb), *got = malloc(nb);
    assert_non_null(want);
    assert_non_null(got);
    bl_encode_scratch *s = bl_encode_scratch_new(enc);
    for (int r = 0; r < NREC; r++) {
        const char *f[NF] = {vals[r][0], vals[r][1], vals[r][2], vals[r][3]};
        assert_int_equal(bl_encoder_trace(enc, s, f, lens[r], NF, want + r * nb, noop_cb, NULL, &err), BL_OK);
    }
    bl_encode_scratch_free(s);
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    for (int k = 0; k < 3; k++) {
        const bl_b2_kernel *kern = bli_b2_kernel_by_name(names[k]);
        if (!kern)
            continue;
        bli_b2_kernel_force(kern);
        for (int nocache = 0; nocache < 2; nocache++) {
            if (nocache)
                setenv("BL_NO_TOKEN_CACHE", "1", 1);
            s = bl_encode_scratch_new(enc);
            unsetenv("BL_NO_TOKEN_CACHE");
            assert_non_null(s);
            for (int pass = 0; pass < 2; pass++) /* the second pass finds the tokens cached */
                for (int r = 0; r < NREC; r++) {
                    const char *f[NF] = {vals[r][0], vals[r][1], vals[r][2], vals[r][3]};
                    assert_int_equal(bl_encoder_encode(enc, s, f, lens[r], NF, got, NULL, &err), BL_OK);
                    if (memcmp(got, want + r * nb, nb) != 0)
                        fail_msg("kernel %s, cache %s, pass %d: record %d differs from the trace path",
                                 names[k], nocache ? "off" : "on", pass, r);
                }
            bl_encode_scratch_free(s);
        }
    }
    bli_b2_kernel_force(NULL);
    free(want);
    free(got);
    bl_encoder_free(enc);
    bl_schema_free(sc);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar),
        cmocka_unit_test(test_avx2),
        cmocka_unit_test(test_avx512),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_encoder_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
