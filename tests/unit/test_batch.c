/* tests/unit/test_batch.c - the batch entry points (include/blindlink/batch.h)
 * used by the Python binding: bl_encoder_encode_batch gives the bytes and
 * popcounts of record-by-record bl_encoder_encode for every thread count,
 * reports the lowest failing record whichever thread saw it, and checks its
 * arguments; bl_clkset_append_packed appends with a step, clears pad bits,
 * and refuses a step shorter than a filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/batch.h>
#include <blindlink/clk.h>
#include <blindlink/encode.h>
#include <blindlink/schema.h>

static const char *SCHEMA =
    "{\"version\": 3, \"clkConfig\": {\"l\": 1000, \"kdf\": {\"type\": \"HKDF\"}}, \"features\": ["
    "{\"identifier\": \"id\", \"ignored\": true},"
    "{\"identifier\": \"name\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 15},"
    " \"hash\": {\"type\": \"doubleHash\"}}},"
    "{\"identifier\": \"age\", \"format\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 130},"
    " \"hashing\": {\"comparison\": {\"type\": \"exact\"}, \"strategy\": {\"bitsPerToken\": 20},"
    " \"hash\": {\"type\": \"doubleHash\"}}}]}";

#define NREC 5000
#define NF 3

typedef struct fixture {
    bl_schema *schema;
    bl_encoder *enc;
    char *text[NREC * NF];
    const char *cells[NREC * NF];
    size_t lens[NREC * NF];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    bl_error e = {0};
    if (!f || bl_schema_parse(SCHEMA, strlen(SCHEMA), "t.json", &f->schema, &e) != BL_OK ||
        bl_encoder_new(f->schema, (const uint8_t *)"k", 1, NULL, &f->enc, &e) != BL_OK) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    for (size_t r = 0; r < NREC; r++) {
        char buf[64];
        snprintf(buf, sizeof buf, "r%zu", r);
        f->text[r * NF] = strdup(buf);
        snprintf(buf, sizeof buf, "name %zu \xc3\xa9", r * 7919 % 1000);
        f->text[r * NF + 1] = strdup(buf);
        snprintf(buf, sizeof buf, "%zu", r % 131);
        f->text[r * NF + 2] = strdup(buf);
    }
    for (size_t i = 0; i < NREC * NF; i++) {
        f->cells[i] = f->text[i];
        f->lens[i] = strlen(f->text[i]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    for (size_t i = 0; i < NREC * NF; i++)
        free(f->text[i]);
    bl_encoder_free(f->enc);
    bl_schema_free(f->schema);
    free(f);
    return 0;
}

static void test_batch_equals_one_by_one(void **state)
{
    fixture *f = *state;
    const size_t nb = bl_encoder_nbytes(f->enc), stride = nb + 3;
    assert_int_equal(nb, 125);
    uint8_t *want = calloc(NREC, nb), *got = calloc(NREC, stride);
    uint32_t *wpop = calloc(NREC, sizeof *wpop), *gpop = calloc(NREC, sizeof *gpop);
    bl_encode_scratch *s = bl_encode_scratch_new(f->enc);
    bl_error e = {0};
    for (size_t r = 0; r < NREC; r++)
        assert_int_equal(bl_encoder_encode(f->enc, s, f->cells + r * NF, f->lens + r * NF, NF,
                                           want + r * nb, &wpop[r], &e), BL_OK);
    bl_encode_scratch_free(s);
    const int threads[] = {1, 2, 3, 7, 0};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        memset(got, 0xAA, NREC * stride);
        memset(gpop, 0, NREC * sizeof *gpop);
        assert_int_equal(bl_encoder_encode_batch(f->enc, f->cells, f->lens, NF, NREC, threads[t],
                                                 got, stride, gpop, NULL, &e), BL_OK);
        for (size_t r = 0; r < NREC; r++) {
            assert_memory_equal(got + r * stride, want + r * nb, nb);
            assert_int_equal(got[r * stride + nb], 0xAA); /* nothing past the filter */
            assert_int_equal(gpop[r], wpop[r]);
        }
    }
    /* zero records is not an error */
    assert_int_equal(bl_encoder_encode_batch(f->enc, NULL, NULL, NF, 0, 2, NULL, 0, NULL, NULL,
                                             &e), BL_OK);
    free(want);
    free(got);
    free(wpop);
    free(gpop);
}

static void test_batch_reports_lowest_bad_record(void **state)
{
    fixture *f = *state;
    const size_t nb = bl_encoder_nbytes(f->enc);
    uint8_t *out = calloc(NREC, nb);
    const char *saved[2] = {f->cells[4321 * NF + 2], f->cells[1234 * NF + 2]};
    size_t lens[2] = {f->lens[4321 * NF + 2], f->lens[1234 * NF + 2]};
    /* two bad ages far apart: whichever thread finishes first, 1234 is reported */
    f->cells[4321 * NF + 2] = "131";
    f->lens[4321 * NF + 2] = 3;
    f->cells[1234 * NF + 2] = "-1";
    f->lens[1234 * NF + 2] = 2;
    for (int t = 1; t <= 4; t++) {
        bl_error e = {0};
        size_t bad = 0;
        assert_int_equal(bl_encoder_encode_batch(f->enc, f->cells, f->lens, NF, NREC, t, out, nb,
                                                 NULL, &bad, &e), BL_EINPUT);
        assert_int_equal(bad, 1234);
        assert_non_null(strstr(e.msg, "record 1234: "));
        assert_non_null(strstr(e.msg, "age"));
    }
    f->cells[4321 * NF + 2] = saved[0];
    f->lens[4321 * NF + 2] = lens[0];
    f->cells[1234 * NF + 2] = saved[1];
    f->lens[1234 * NF + 2] = lens[1];
    bl_error e = {0};
    assert_int_equal(bl_encoder_encode_batch(f->enc, f->cells, f->lens, NF, NREC, 2, out, nb - 1,
                                             NULL, NULL, &e), BL_EINVAL);
    assert_non_null(strstr(e.msg, "out_stride"));
    assert_int_equal(bl_encoder_encode_batch(NULL, f->cells, f->lens, NF, 1, 1, out, nb, NULL,
                                             NULL, &e), BL_EINVAL);
    free(out);
}

static void test_append_packed(void **state)
{
    (void)state;
    bl_error e = {0};
    bl_clkset *s = NULL;
    assert_int_equal(bl_clkset_new(12, 0, &s, &e), BL_OK); /* 2 bytes, 4 pad bits */
    const uint8_t buf[] = {0x01, 0xFF, 0x99, 0x02, 0xF0, 0x77, 0x03, 0x3F, 0x55};
    assert_int_equal(bl_clkset_append_packed(s, buf, 3, 3, &e), BL_OK);
    assert_int_equal(s->count, 3);
    const uint8_t want[3][2] = {{0x01, 0xF0}, {0x02, 0xF0}, {0x03, 0x30}};
    for (size_t i = 0; i < 3; i++) {
        assert_memory_equal(bl_clkset_get(s, i), want[i], 2);
        for (size_t b = 2; b < s->stride; b++)
            assert_int_equal(bl_clkset_get(s, i)[b], 0);
    }
    assert_null(s->ids);
    assert_int_equal(bl_clkset_append_packed(s, buf, 2, 1, &e), BL_EINVAL);
    assert_non_null(strstr(e.msg, "step 1"));
    assert_int_equal(s->count, 3);
    assert_int_equal(bl_clkset_append_packed(s, NULL, 0, 0, &e), BL_OK);
    assert_int_equal(bl_clkset_append_packed(s, NULL, 1, 2, &e), BL_EINVAL);
    bl_clkset_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_equals_one_by_one),
        cmocka_unit_test(test_batch_reports_lowest_bad_record),
        cmocka_unit_test(test_append_packed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
