/* tests/unit/test_csv.c - the streaming CSV reader: RFC 4180 quoting, CRLF,
 * BOM, FEBRL-style ", " separators, line numbers, caps, UTF-8 checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/csv.h>

#include "core/utf8.h"

static bl_csv_reader *open_mem(const char *text, size_t len, const bl_csv_opts *o)
{
    FILE *fp = fmemopen((void *)text, len, "rb");
    assert_non_null(fp);
    bl_csv_reader *r = NULL;
    bl_error e = {0};
    assert_int_equal(bl_csv_open_stream(fp, "mem.csv", o, &r, &e), BL_OK);
    return r;
}

static void test_quoting_and_crlf(void **state)
{
    (void)state;
    const char in[] = "a,b,c\r\n\"x,1\",\"he said \"\"hi\"\"\",\r\n\"multi\nline\",2,3";
    bl_csv_reader *r = open_mem(in, sizeof in - 1, NULL);
    bl_csv_row row;
    bl_error e = {0};
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(row.nfields, 3);
    assert_string_equal(row.fields[2], "c");
    assert_int_equal(row.line, 1);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_string_equal(row.fields[0], "x,1");
    assert_string_equal(row.fields[1], "he said \"hi\"");
    assert_string_equal(row.fields[2], "");
    assert_int_equal(row.line, 2);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK); /* no final newline */
    assert_string_equal(row.fields[0], "multi\nline");
    assert_int_equal(row.lens[0], 10);
    assert_int_equal(row.line, 3);
    assert_int_equal(row.record, 3);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_EOF);
    bl_csv_free(r);
}

static void test_spaces_kept_or_trimmed(void **state)
{
    (void)state;
    const char in[] = "rec-1-org, michaela , neumann\n";
    bl_csv_reader *r = open_mem(in, sizeof in - 1, NULL);
    bl_csv_row row;
    bl_error e = {0};
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_string_equal(row.fields[1], " michaela ");
    bl_csv_free(r);
    bl_csv_opts o = {.trim_spaces = 1};
    r = open_mem(in, sizeof in - 1, &o);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_string_equal(row.fields[1], "michaela");
    assert_string_equal(row.fields[2], "neumann");
    bl_csv_free(r);
}

static void test_bom(void **state)
{
    (void)state;
    const char in[] = "\xEF\xBB\xBFid,name\n1,x\n";
    bl_csv_reader *r = open_mem(in, sizeof in - 1, NULL);
    bl_csv_row row;
    bl_error e = {0};
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_string_equal(row.fields[0], "id");
    bl_csv_free(r);
    bl_csv_opts o = {.keep_bom = 1};
    r = open_mem(in, sizeof in - 1, &o);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_string_equal(row.fields[0], "\xEF\xBB\xBFid");
    bl_csv_free(r);
}

static void test_blank_lines_and_line_numbers(void **state)
{
    (void)state;
    const char in[] = "h1,h2\n\n1,2\n\n\n3,4\n";
    bl_csv_reader *r = open_mem(in, sizeof in - 1, NULL);
    bl_csv_row row;
    bl_error e = {0};
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(row.line, 3);
    assert_string_equal(row.fields[0], "1");
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(row.line, 6);
    assert_int_equal(row.record, 3);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_EOF);
    bl_csv_free(r);
}

static void test_malformed(void **state)
{
    (void)state;
    const char in[] = "a,b\n1,\"unterminated\n";
    bl_csv_reader *r = open_mem(in, sizeof in - 1, NULL);
    bl_csv_row row;
    bl_error e = {0};
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "mem.csv:"));
    assert_non_null(strstr(e.msg, "unterminated"));
    bl_csv_free(r);

    const char in2[] = "a,b\n1,x\"y\"z\n";
    r = open_mem(in2, sizeof in2 - 1, NULL);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "mem.csv:2:"));
    bl_csv_free(r);
}

static void test_utf8_and_caps(void **state)
{
    (void)state;
    const char in[] = "name\nJos\xC3\xA9\nbad\xC3\x28\n";
    bl_csv_opts o = {.validate_utf8 = 1};
    bl_csv_reader *r = open_mem(in, sizeof in - 1, &o);
    bl_csv_row row;
    bl_error e = {0};
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_OK);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "mem.csv:3:"));
    assert_non_null(strstr(e.msg, "invalid UTF-8"));
    bl_csv_free(r);

    const char in2[] = "aaaaaaaaaaaaaaaaaaaa,b\n";
    bl_csv_opts o2 = {.max_record_bytes = 8};
    r = open_mem(in2, sizeof in2 - 1, &o2);
    assert_int_equal(bl_csv_next(r, &row, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "larger than"));
    bl_csv_free(r);
}

static void test_write_field(void **state)
{
    (void)state;
    char buf[128] = {0};
    FILE *fp = fmemopen(buf, sizeof buf, "w");
    assert_int_equal(bl_csv_write_field(fp, "plain", 5), 0);
    fputc(',', fp);
    assert_int_equal(bl_csv_write_field(fp, "a,\"b\"", 5), 0);
    fclose(fp);
    assert_string_equal(buf, "plain,\"a,\"\"b\"\"\"");
}

/* what messages quote: one printable line, at most 60 bytes of the value
 * cut on a character, every byte that could act on a terminal escaped */
static void test_show_value(void **state)
{
    (void)state;
    char out[BLI_SHOW_CAP];
    assert_string_equal(bli_show_value(out, "2000", 4), "2000");
    assert_string_equal(bli_show_value(out, "M\0X", 3), "M\\x00X");
    assert_string_equal(bli_show_value(out, "\x1b]0;x\a", 6), "\\x1b]0;x\\x07");
    assert_string_equal(bli_show_value(out, "a\\x1b", 5), "a\\\\x1b");
    assert_string_equal(bli_show_value(out,
                                       "\xc2\x9b"
                                       "1m",
                                       4),
                        "\\u009b1m"); /* C1 CSI */
    assert_string_equal(bli_show_value(out,
                                       "\xe2\x80\xae"
                                       "ab",
                                       5),
                        "\\u202eab"); /* RLO */
    assert_string_equal(bli_show_value(out, "M\xc3\xbcller", 7), "M\xc3\xbcller");
    assert_string_equal(bli_show_value(out, "\xff", 1), "\\xff");
    char v[200];
    for (size_t i = 0; i < 100; i += 2)
        v[i] = (char)0xc3, v[i + 1] = (char)0xa9; /* 50 x e-acute: cut after 30 */
    bli_show_value(out, v, 100);
    assert_int_equal(strlen(out), 60 + 3);
    assert_string_equal(out + 60, "...");
    memset(v, 0x01, sizeof v); /* the worst case: every byte escaped */
    bli_show_value(out, v, sizeof v);
    assert_int_equal(strlen(out), 4 * 60 + 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting_and_crlf),
        cmocka_unit_test(test_spaces_kept_or_trimmed),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_blank_lines_and_line_numbers),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_utf8_and_caps),
        cmocka_unit_test(test_write_field),
        cmocka_unit_test(test_show_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
