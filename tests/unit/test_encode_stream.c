/* tests/unit/test_encode_stream.c - bl_encode_csv, the streaming parallel
 * pipeline: tiny batches and several threads still give the vector file
 * byte for byte; the first bad row in file order is reported even when a
 * later row is malformed; no output is left on failure; header modes; ids.
 * Runs under ASan/UBSan in CI (unit label). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/clk.h>
#include <blindlink/encode.h>
#include <blindlink/io.h>
#include <blindlink/schema.h>
#include "fixture.h"

#define FIX "tests/fixtures/clkhash/"

static bl_schema *sc;
static bl_encoder *enc;

static int setup(void **state)
{
    (void)state;
    bl_error e = {0};
    if (bl_schema_load(FIX "schemas/schema2-doublehash.json", &sc, &e) != BL_OK)
        return -1;
    const char *secret = "correct horse battery staple";
    if (bl_encoder_new(sc, (const uint8_t *)secret, strlen(secret), NULL, &enc, &e) != BL_OK)
        return -1;
    return fx_dir_setup("stream");
}

static int teardown(void **state)
{
    (void)state;
    bl_encoder_free(enc);
    bl_schema_free(sc);
    return fx_dir_teardown();
}

static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    bl_error e = {0};
    assert_int_equal(bl_read_file(path, 1 << 24, &buf, len, &e), BL_OK);
    return buf;
}

static void test_batches_and_threads(void **state)
{
    (void)state;
    size_t wl;
    char *want = slurp(FIX "clks/people-a.schema2-doublehash.json", &wl);
    const int threads[] = {1, 2, 5};
    const size_t batches[] = {1, 3, 7, 0};
    const char *out;
    out = fx_path("o.json");
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++) {
            bl_encode_csv_opts o = {.format = BL_CLK_JSON, .threads = threads[i], .batch_rows = batches[j]};
            bl_error e = {0};
            uint64_t n = 0;
            if (bl_encode_csv(enc, FIX "data/people-a.csv", out, &o, &n, &e) != BL_OK)
                fail_msg("%s", e.msg);
            assert_int_equal(n, 20);
            size_t gl;
            char *got = slurp(out, &gl);
            assert_int_equal(gl, wl);
            assert_memory_equal(got, want, wl);
            free(got);
        }
    free(want);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static const char *HDR = "id,given_name,surname,dob,gender,email,postcode,age,height_cm\n";
static const char *GOOD = "x,Ann,Lee,1990-01-02,F,a@b.c,1234,30,170\n";

static void test_first_error_wins(void **state)
{
    (void)state;
    const char *csv, *out;
    csv = fx_path("bad.csv");
    out = fx_path("bad.json");
    /* row 5 has a bad postcode, row 9 is malformed CSV: with tiny batches
     * on several threads the reader hits row 9 first, yet row 5 is reported */
    size_t cap = 4096, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text + o, cap - o, "%s", HDR);
    for (int i = 1; i <= 12; i++) {
        if (i == 5)
            o += (size_t)snprintf(text + o, cap - o, "x,Ann,Lee,1990-01-02,F,a@b.c,12345,30,170\n");
        else if (i == 9)
            o += (size_t)snprintf(text + o, cap - o, "x,\"Ann,Lee\n");
        else
            o += (size_t)snprintf(text + o, cap - o, "%s", GOOD);
    }
    write_file(csv, text);
    free(text);
    bl_encode_csv_opts opt = {.format = BL_CLK_JSON, .threads = 3, .batch_rows = 2};
    bl_error e = {0};
    assert_int_equal(bl_encode_csv(enc, csv, out, &opt, NULL, &e), BL_EINPUT);
    if (!strstr(e.msg, "bad.csv:6: row 5, column 7 (postcode): '12345' does not match pattern '[0-9]{4}'"))
        fail_msg("%s", e.msg);
    assert_int_equal(access(out, F_OK), -1);
    /* without the bad value the malformed row is reported */
    text = malloc(cap);
    o = (size_t)snprintf(text, cap, "%s%s%sx,\"Ann\n", HDR, GOOD, GOOD);
    write_file(csv, text);
    free(text);
    assert_int_equal(bl_encode_csv(enc, csv, out, &opt, NULL, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "unterminated quoted field"));
    assert_int_equal(access(out, F_OK), -1);
    /* wrong column count, header mismatch, ids with JSON, empty input */
    text = malloc(cap);
    snprintf(text, cap, "%s%sa,b\n", HDR, GOOD);
    write_file(csv, text);
    free(text);
    assert_int_equal(bl_encode_csv(enc, csv, out, &opt, NULL, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "bad.csv:3: row 2 has 2 columns, the schema has 9"));
    write_file(csv, "id,given,surname,dob,gender,email,postcode,age,height_cm\n");
    assert_int_equal(bl_encode_csv(enc, csv, out, &opt, NULL, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "header column 2 is 'given' but the schema expects 'given_name'"));
    bl_encode_csv_opts ign = {.header = BL_HEADER_IGNORE};
    assert_int_equal(bl_encode_csv(enc, csv, out, &ign, NULL, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "no records"));
    bl_encode_csv_opts ids = {.format = BL_CLK_JSON, .id_column = "id"};
    assert_int_equal(bl_encode_csv(enc, csv, out, &ids, NULL, &e), BL_EINVAL);
    assert_int_equal(access(out, F_OK), -1);
}

static void test_ids_and_no_header(void **state)
{
    (void)state;
    const char *out, *csv;
    out = fx_path("ids.bin");
    bl_encode_csv_opts o = {.format = BL_CLK_BIN, .threads = 2, .batch_rows = 3, .id_column = "id"};
    bl_error e = {0};
    assert_int_equal(bl_encode_csv(enc, FIX "data/people-b.csv", out, &o, NULL, &e), BL_OK);
    bl_clkset *set = NULL;
    assert_int_equal(bl_clkset_read(out, BL_CLK_AUTO, 0, &set, &e), BL_OK);
    assert_int_equal(set->count, 20);
    assert_int_equal(set->nbits, 1000);
    assert_non_null(set->ids);
    assert_string_equal(set->ids[0], "b01");
    assert_string_equal(set->ids[19], "b20");
    assert_true(set->has_fingerprint);
    uint8_t fp[32];
    bl_encoder_fingerprint(enc, fp);
    assert_memory_equal(set->fingerprint, fp, 32);
    bl_clkset_free(set);
    /* --no-header: the same rows without the header line */
    csv = fx_path("nohdr.csv");
    size_t len;
    char *text = slurp(FIX "data/people-b.csv", &len);
    size_t skip = strcspn(text, "\n") + 1;
    write_file(csv, text + skip);
    free(text);
    out = fx_path("nohdr.json");
    bl_encode_csv_opts nh = {.header = BL_HEADER_NONE, .threads = 2};
    assert_int_equal(bl_encode_csv(enc, csv, out, &nh, NULL, &e), BL_OK);
    size_t gl, wl;
    char *got = slurp(out, &gl), *want = slurp(FIX "clks/people-b.schema2-doublehash.json", &wl);
    assert_int_equal(gl, wl);
    assert_memory_equal(got, want, wl);
    free(got);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_and_threads),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_ids_and_no_header),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
