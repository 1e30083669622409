/* tests/unit/test_clkfile.c - CLK sets and file formats: JSON layout exactly
 * as clkhash writes it, binary round trip with ids and checksum, rejection of
 * truncated/corrupt files, atomic output and secret loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include <blindlink/clk.h>
#include <blindlink/io.h>
#include "fixture.h"

static int setup(void **state)
{
    (void)state;
    return fx_dir_setup("clkfile");
}

static int teardown(void **state)
{
    (void)state;
    return fx_dir_teardown();
}

static const char *path(const char *name)
{
    return fx_path(name);
}

static char *slurp(const char *p, size_t *n)
{
    char *buf = NULL;
    bl_error e = {0};
    assert_int_equal(bl_read_file(p, 1 << 24, &buf, n, &e), BL_OK);
    return buf;
}

static void test_json_layout(void **state)
{
    (void)state;
    bl_clkset *s = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(16, 0, &s, &e), BL_OK);
    uint8_t a[2] = {0xff, 0x00}, b[2] = {0x80, 0x01};
    assert_int_equal(bl_clkset_append(s, a, NULL, &e), BL_OK);
    assert_int_equal(bl_clkset_append(s, b, NULL, &e), BL_OK);
    assert_int_equal(bl_clkset_write(s, path("a.json"), BL_CLK_JSON, 0, &e), BL_OK);
    size_t n;
    char *txt = slurp(path("a.json"), &n);
    assert_string_equal(txt, "{\"clks\": [\"/wA=\", \"gAE=\"]}");
    free(txt);
    bl_clkset *r = NULL;
    assert_int_equal(bl_clkset_read(path("a.json"), BL_CLK_AUTO, 0, &r, &e), BL_OK);
    assert_int_equal(r->count, 2);
    assert_int_equal(r->nbits, 16);
    assert_int_equal(r->stride % 64, 0);
    assert_memory_equal(bl_clkset_get(r, 1), b, 2);
    bl_clkset_free(r);
    bl_clkset_free(s);
}

static void test_bin_roundtrip(void **state)
{
    (void)state;
    bl_clkset *s = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(1000, 0, &s, &e), BL_OK);
    uint8_t f[125];
    for (int i = 0; i < 3000; i++) {
        for (int j = 0; j < 125; j++)
            f[j] = (uint8_t)(i * 31 + j * 7);
        char id[32];
        snprintf(id, sizeof id, "rec-%d", i);
        assert_int_equal(bl_clkset_append(s, f, id, &e), BL_OK);
    }
    memset(s->fingerprint, 0xAB, sizeof s->fingerprint);
    s->has_fingerprint = 1;
    assert_int_equal(bl_clkset_write(s, path("b.clk"), BL_CLK_BIN, 1, &e), BL_OK);
    bl_clkset *r = NULL;
    assert_int_equal(bl_clkset_read(path("b.clk"), BL_CLK_AUTO, 0, &r, &e), BL_OK);
    assert_int_equal(r->count, 3000);
    assert_int_equal(r->nbits, 1000);
    assert_true(r->has_fingerprint);
    assert_memory_equal(r->fingerprint, s->fingerprint, 32);
    assert_string_equal(r->ids[2999], "rec-2999");
    for (size_t i = 0; i < 3000; i++)
        assert_memory_equal(bl_clkset_get(r, i), bl_clkset_get(s, i), 125);
    bl_clkset_free(r);

    /* JSON of the same set converts back identically */
    assert_int_equal(bl_clkset_write(s, path("b.json"), BL_CLK_JSON, 0, &e), BL_OK);
    assert_int_equal(bl_clkset_read(path("b.json"), BL_CLK_JSON, 0, &r, &e), BL_OK);
    assert_int_equal(r->count, 3000);
    assert_memory_equal(r->data, s->data, 3000 * s->stride);
    bl_clkset_free(r);

    /* cap on count */
    assert_int_equal(bl_clkset_read(path("b.clk"), BL_CLK_AUTO, 10, &r, &e), BL_ELIMIT);
    bl_clkset_free(s);
}

/* Encoding metadata: stored canonically in binary files, read back, carried
 * by bl_clkset_write, ignored by JSON, and refused when it is not an object. */
static void test_bin_meta(void **state)
{
    (void)state;
    bl_clkset *s = NULL, *r = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(64, 0, &s, &e), BL_OK);
    uint8_t f[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(bl_clkset_append(s, f, "x", &e), BL_OK);
    assert_int_equal(bl_clkset_set_meta(s, "[1]", &e), BL_EINVAL);
    assert_int_equal(bl_clkset_set_meta(s, "{\"a\": 1,", &e), BL_EINVAL);
    assert_int_equal(bl_clkset_set_meta(s, "{ \"z\": [1, 2], \"a\": \"\u00e9\" }", &e), BL_OK);
    assert_string_equal(s->meta, "{\"a\":\"\u00e9\",\"z\":[1,2]}");
    assert_int_equal(bl_clkset_write(s, path("m.clk"), BL_CLK_BIN, 1, &e), BL_OK);
    assert_int_equal(bl_clkset_read(path("m.clk"), BL_CLK_AUTO, 0, &r, &e), BL_OK);
    assert_non_null(r->meta);
    assert_string_equal(r->meta, s->meta);
    assert_string_equal(r->ids[0], "x");
    /* a copy through bl_clkset_write keeps it, byte for byte */
    assert_int_equal(bl_clkset_write(r, path("m2.clk"), BL_CLK_BIN, 1, &e), BL_OK);
    size_t n1, n2;
    char *b1 = slurp(path("m.clk"), &n1), *b2 = slurp(path("m2.clk"), &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
    bl_clkset_free(r);
    /* JSON carries none */
    assert_int_equal(bl_clkset_write(s, path("m.json"), BL_CLK_JSON, 0, &e), BL_OK);
    assert_int_equal(bl_clkset_read(path("m.json"), BL_CLK_AUTO, 0, &r, &e), BL_OK);
    assert_null(r->meta);
    bl_clkset_free(r);
    /* no metadata: no flag, file as before */
    assert_int_equal(bl_clkset_set_meta(s, NULL, &e), BL_OK);
    assert_int_equal(bl_clkset_write(s, path("n.clk"), BL_CLK_BIN, 1, &e), BL_OK);
    assert_int_equal(bl_clkset_read(path("n.clk"), BL_CLK_AUTO, 0, &r, &e), BL_OK);
    assert_null(r->meta);
    bl_clkset_free(r);
    bl_clkset_free(s);
}

/* Record ids are text (they reach CSV/JSON outputs and audit logs): files
 * whose ids are not valid UTF-8 or hold a NUL byte are refused, naming the
 * record; the library refuses to add or write such ids too. */
static void test_bin_bad_ids(void **state)
{
    (void)state;
    bl_clkset *s = NULL, *r = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(64, 0, &s, &e), BL_OK);
    uint8_t f[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(bl_clkset_append(s, f, "ok-\xc3\xa9", &e), BL_OK);
    assert_int_equal(bl_clkset_append(s, f, "QQ", &e), BL_OK);
    assert_int_equal(bl_clkset_append(s, f, "bad\xc3", &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "not valid UTF-8 (byte 3)"));
    assert_int_equal(bl_clkset_append(s, f, "\xed\xa0\x80", &e), BL_EINPUT); /* a surrogate */
    assert_int_equal(s->count, 2);
    assert_int_equal(bl_clkset_write(s, path("id.clk"), BL_CLK_BIN, 1, &e), BL_OK);
    bl_clkwriter *w = NULL;
    assert_int_equal(bl_clkwriter_open(path("idw.clk"), BL_CLK_BIN, 64, NULL, 1, &w, &e), BL_OK);
    assert_int_equal(bl_clkwriter_put(w, f, "\xff", &e), BL_EINPUT);
    bl_clkwriter_abort(w);
    size_t n;
    char *bin = slurp(path("id.clk"), &n);
    char *q = memmem(bin, n, "QQ", 2);
    assert_non_null(q);
    const char *bad[2] = {"\xffQ", "Q\0"};
    const char *want[2] = {"id of record 1 is not valid UTF-8 (byte 0)",
                           "id of record 1 contains a NUL byte (byte 1)"};
    for (int k = 0; k < 2; k++) {
        memcpy(q, bad[k], 2);
        FILE *fp = fopen(path("idbad.clk"), "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(bin, 1, n, fp), n);
        fclose(fp);
        assert_int_equal(bl_clkset_read(path("idbad.clk"), BL_CLK_AUTO, 0, &r, &e), BL_EINPUT);
        assert_null(r);
        assert_non_null(strstr(e.msg, want[k]));
        assert_non_null(strstr(e.msg, "idbad.clk"));
    }
    free(bin);
    bl_clkset_free(s);
}

static void test_bin_corrupt(void **state)
{
    (void)state;
    size_t n;
    char *bin = slurp(path("b.clk"), &n);
    bl_error e = {0};
    bl_clkset *r = NULL;
    /* truncated */
    FILE *fp = fopen(path("t.clk"), "wb");
    fwrite(bin, 1, n / 2, fp);
    fclose(fp);
    assert_int_equal(bl_clkset_read(path("t.clk"), BL_CLK_AUTO, 0, &r, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "truncated"));
    /* one flipped bit in a record */
    bin[64 + 200] ^= 0x10;
    fp = fopen(path("c.clk"), "wb");
    fwrite(bin, 1, n, fp);
    fclose(fp);
    assert_int_equal(bl_clkset_read(path("c.clk"), BL_CLK_AUTO, 0, &r, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "checksum"));
    /* future version */
    bin[64 + 200] ^= 0x10;
    bin[8] = 9;
    fp = fopen(path("v.clk"), "wb");
    fwrite(bin, 1, n, fp);
    fclose(fp);
    assert_int_equal(bl_clkset_read(path("v.clk"), BL_CLK_AUTO, 0, &r, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "version 9"));
    free(bin);
}

/* A set of `n` filters of `nbits` bits with record i's bytes a function of i */
static bl_clkset *pattern_set(uint32_t nbits, size_t n)
{
    bl_clkset *s = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(nbits, 0, &s, &e), BL_OK);
    uint8_t f[128];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof f; j++)
            f[j] = (uint8_t)(i * 131 + j * 7 + (i >> 8));
        assert_int_equal(bl_clkset_append(s, f, NULL, &e), BL_OK);
    }
    return s;
}

/* Records are read in blocks of a few MB: straight into the rows when the
 * disk record is the row (1024 bits), through a buffer when not (60 bits:
 * 8 bytes on disk, 64 in memory); both across block boundaries, and a pad
 * bit set in a later block is still found and named. */
static void test_bin_blocks(void **state)
{
    (void)state;
    const struct {
        uint32_t nbits;
        size_t n;
    } cases[] = {{1024, 40000}, {60, 600000}};
    bl_error e = {0};
    for (size_t c = 0; c < 2; c++) {
        bl_clkset *s = pattern_set(cases[c].nbits, cases[c].n), *r = NULL;
        assert_int_equal(bl_clkset_write(s, path("k.clk"), BL_CLK_BIN, 0, &e), BL_OK);
        assert_int_equal(bl_clkset_read(path("k.clk"), BL_CLK_AUTO, 0, &r, &e), BL_OK);
        assert_int_equal(r->count, cases[c].n);
        assert_int_equal(r->stride, s->stride);
        assert_memory_equal(r->data, s->data, s->count * s->stride); /* pad bytes 0 too */
        bl_clkset_free(r);
        bl_clkset_free(s);
    }
    /* 60 bits: the low 4 bits of byte 7 are pad; set one in record 550000 */
    size_t n;
    char *bin = slurp(path("k.clk"), &n);
    bin[64 + 550000 * 8 + 7] |= 0x01;
    FILE *fp = fopen(path("p.clk"), "wb");
    fwrite(bin, 1, n, fp);
    fclose(fp);
    free(bin);
    bl_clkset *r = NULL;
    assert_int_equal(bl_clkset_read(path("p.clk"), BL_CLK_AUTO, 0, &r, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "record 550000 has bits set beyond 60"));
    assert_null(r);
}

/* Several files at once: each set in its slot; a failure anywhere returns
 * no sets, and the first failing file in input order is the one named. */
static void test_read_many(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *s = pattern_set(1000, 3000);
    assert_int_equal(bl_clkset_write(s, path("m1.clk"), BL_CLK_BIN, 0, &e), BL_OK);
    bl_clkset *t = pattern_set(16, 5);
    assert_int_equal(bl_clkset_write(t, path("m2.json"), BL_CLK_JSON, 0, &e), BL_OK);
    /* fx_path keeps only its last 8 results: copies */
    char p0[1024], p1[1024], p2[1024];
    snprintf(p0, sizeof p0, "%s", path("m1.clk"));
    snprintf(p1, sizeof p1, "%s", path("m2.json"));
    snprintf(p2, sizeof p2, "%s", path("nonexistent.clk"));
    const char *paths[] = {p0, p1, p0};
    for (int threads = 0; threads <= 3; threads++) {
        bl_clkset *out[3];
        assert_int_equal(bl_clkset_read_many(paths, 3, threads, out, NULL, &e), BL_OK);
        assert_int_equal(out[0]->count, 3000);
        assert_int_equal(out[1]->count, 5);
        assert_int_equal(out[1]->nbits, 16);
        assert_memory_equal(out[2]->data, s->data, 3000 * s->stride);
        for (int i = 0; i < 3; i++)
            bl_clkset_free(out[i]);
    }
    /* a missing file and a truncated one: the first in order is reported */
    FILE *fp = fopen(path("m3.clk"), "wb");
    fwrite("BLCLK", 1, 5, fp);
    fclose(fp);
    char p3[1024];
    snprintf(p3, sizeof p3, "%s", path("m3.clk"));
    const char *bad[] = {p0, p3, p2, p1};
    bl_clkset *out[4];
    size_t failed = 99;
    bl_status st = bl_clkset_read_many(bad, 4, 2, out, &failed, &e);
    assert_int_not_equal(st, BL_OK);
    assert_int_equal(failed, 1);
    assert_non_null(strstr(e.msg, "m3.clk"));
    for (int i = 0; i < 4; i++)
        assert_null(out[i]);
    bl_clkset_free(s);
    bl_clkset_free(t);
}

static void test_json_errors(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"{\"clks\": [\"/wA=\", \"/w!=\"]}", "clks[1]: corrupt base64"},
        {"{\"clks\": [\"/wA=\", \"/wAA\"]}", "clks[1] has 3 bytes but clks[0] has 2"},
        /* as long in base64, one byte short: not padded from the record before */
        {"{\"clks\": [\"/wA=\", \"/w==\"]}", "clks[1] has 1 bytes but clks[0] has 2"},
        {"{\"clks\": [\"/wAA\", \"/wA=\"]}", "clks[1] has 2 bytes but clks[0] has 3"},
        {"{\"blindlink_model\": 1, \"prior\": 0.01, \"fields\": []}",
         "is a blindlink model (train, match --save-model), not CLKs"},
        {"{\"features\": []}", "is a clkhash linkage schema, not CLKs"},
        {"[[[0, 4], [1, 210]]]", "is groups JSON (match -f groups), not CLKs"},
        {"id,given_name\n1,ann\n", "is CSV text, not CLKs"},
        {"{\"clks\": []}", "no encodings"},
        {"{\"clks\": [\"/wA=\"", "invalid JSON"},
        {"[1,2]", "\"clks\" array"},
        {"{\"clks\": {\"a\": 1}}", "expected an object with a \"clks\" array"},
        {"", "empty file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp = fopen(path("e.json"), "wb");
        fputs(cases[i][0], fp);
        fclose(fp);
        bl_error e = {0};
        bl_clkset *r = NULL;
        assert_int_equal(bl_clkset_read(path("e.json"), BL_CLK_AUTO, 0, &r, &e), BL_EINPUT);
        if (!strstr(e.msg, cases[i][1]))
            fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i][1]);
        assert_null(r);
    }
}

static void test_ofile_atomic(void **state)
{
    (void)state;
    bl_ofile *f = NULL;
    bl_error e = {0};
    assert_int_equal(bl_ofile_open(path("o.txt"), &f, &e), BL_OK);
    fputs("partial", bl_ofile_stream(f));
    assert_int_equal(access(path("o.txt"), F_OK), -1); /* not visible before commit */
    bl_ofile_abort(f);
    assert_int_equal(access(path("o.txt"), F_OK), -1);
    assert_int_equal(bl_ofile_open(path("o.txt"), &f, &e), BL_OK);
    fputs("done", bl_ofile_stream(f));
    assert_int_equal(bl_ofile_commit(f, &e), BL_OK);
    size_t n;
    char *t = slurp(path("o.txt"), &n);
    assert_string_equal(t, "done");
    free(t);
    assert_int_equal(bl_ofile_open("/nonexistent-dir/x", &f, &e), BL_EIO);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/x"));
    /* bl_write_file: whole buffers, replacing the old content */
    assert_int_equal(bl_write_file(path("o.txt"), "replaced", 8, &e), BL_OK);
    t = slurp(path("o.txt"), &n);
    assert_int_equal(n, 8);
    assert_string_equal(t, "replaced");
    free(t);
    assert_int_equal(bl_write_file(path("o.txt"), "", 0, &e), BL_OK);
    t = slurp(path("o.txt"), &n);
    assert_int_equal(n, 0);
    free(t);
    assert_int_equal(bl_write_file("/nonexistent-dir/x", "a", 1, &e), BL_EIO);
}

static void test_secret(void **state)
{
    (void)state;
    FILE *fp = fopen(path("s.txt"), "wb");
    fputs("correct horse battery staple\n", fp);
    fclose(fp);
    bl_secret s = {0};
    bl_error e = {0};
    assert_int_equal(bl_secret_load(path("s.txt"), NULL, &s, &e), BL_OK);
    assert_int_equal(s.len, 28);
    assert_memory_equal(s.bytes, "correct horse battery staple", 28);
    bl_secret_free(&s);
    setenv("BL_TEST_SECRET", "from-env", 1);
    assert_int_equal(bl_secret_load(NULL, "BL_TEST_SECRET", &s, &e), BL_OK);
    assert_memory_equal(s.bytes, "from-env", 8);
    assert_null(getenv("BL_TEST_SECRET")); /* removed from the environment */
    bl_secret_free(&s);
    assert_int_equal(bl_secret_load(NULL, "BL_TEST_SECRET", &s, &e), BL_EINVAL);
    assert_non_null(strstr(e.msg, "BL_TEST_SECRET"));
    assert_int_equal(bl_secret_load(path("missing"), NULL, &s, &e), BL_EINVAL);
}

static void test_status_strings(void **state)
{
    (void)state;
    for (int s = 0; s < BL_STATUS_COUNT_; s++)
        assert_non_null(bl_strerror((bl_status)s));
    assert_int_equal(bl_status_exit_code(BL_EINPUT), 2);
    assert_int_equal(bl_status_exit_code(BL_EIO), 1);
    assert_int_equal(bl_status_exit_code(BL_OK), 0);
}

/* the table encoder against libsodium's at every length 0..200 */
static void test_base64_encode(void **state)
{
    (void)state;
    uint8_t in[200];
    char got[300], want[300];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        bl_base64_encode(in, n, got);
        sodium_bin2base64(want, sizeof want, in, n, sodium_base64_VARIANT_ORIGINAL);
        assert_string_equal(got, want);
        assert_int_equal(strlen(got), bl_base64_encoded_len(n));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_layout),    cmocka_unit_test(test_bin_roundtrip),
        cmocka_unit_test(test_bin_meta),       cmocka_unit_test(test_bin_corrupt),
        cmocka_unit_test(test_bin_bad_ids),    cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_ofile_atomic),   cmocka_unit_test(test_secret),
        cmocka_unit_test(test_status_strings), cmocka_unit_test(test_base64_encode),
        cmocka_unit_test(test_bin_blocks),     cmocka_unit_test(test_read_many),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
