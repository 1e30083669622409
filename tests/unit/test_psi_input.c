/* tests/unit/test_psi_input.c - loading PSI input: counts of rows, records,
 * rejected, missing and duplicate values per identifier slot; strict mode,
 * missing columns, ragged rows and the record cap give located errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/psi.h>

static char path[64];

static void write_file(const char *text)
{
    strcpy(path, "/tmp/bl_psi_input_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static bl_psi_input_opts two_idents(void)
{
    bl_psi_input_opts o;
    memset(&o, 0, sizeof o);
    o.nidents = 2;
    o.idents[0].type = BL_IDENT_EMAIL;
    o.idents[0].ncolumns = 1;
    o.idents[0].columns[0] = "email";
    o.idents[1].type = BL_IDENT_PHONE;
    o.idents[1].ncolumns = 1;
    o.idents[1].columns[0] = "phone";
    strcpy(o.norm.phone_country, "GB");
    return o;
}

static int nrejects;
static uint64_t last_row;
static void on_reject(void *ctx, uint64_t row, const char *msg)
{
    (void)ctx;
    assert_non_null(strstr(msg, ":4:3 (phone)"));
    nrejects++;
    last_row = row;
}

static void test_counts(void **state)
{
    (void)state;
    write_file("id,email,phone\n"
               "1,a@x.org,020 7946 0958\n"
               "2,A@X.ORG,\n"          /* duplicate email, missing phone: not sent */
               "3,b@x.org,12\n"        /* bad phone: reported, email kept */
               "4,,+44 20 7946 0958\n" /* duplicate phone, missing email */
               "5,,07700 900123\n");
    bl_psi_input_opts o = two_idents();
    o.reject = on_reject;
    bl_psi_input *in = NULL;
    bl_error e = {0};
    nrejects = 0;
    assert_int_equal(bl_psi_input_load(path, &o, &in, &e), BL_OK);
    bl_psi_input_stats st;
    bl_psi_input_stats_get(in, &st);
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.groups, 3); /* rows 1, 3, 5 */
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.missing, 3);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(st.per_type[0], 2);
    assert_int_equal(st.per_type[1], 2);
    assert_int_equal(nrejects, 1);
    assert_int_equal(last_row, 3);
    bl_psi_input_free(in);

    /* strict: the bad phone is an error with file:line:column */
    o.strict = 1;
    assert_int_equal(bl_psi_input_load(path, &o, &in, &e), BL_EINPUT);
    assert_null(in);
    assert_non_null(strstr(e.msg, ":4:3 (phone): phone number"));

    /* the record cap */
    o.strict = 0;
    o.reject = NULL;
    o.max_records = 4;
    assert_int_equal(bl_psi_input_load(path, &o, &in, &e), BL_ELIMIT);
    unlink(path);
}

static void test_errors(void **state)
{
    (void)state;
    bl_psi_input_opts o = two_idents();
    bl_psi_input *in = NULL;
    bl_error e = {0};
    write_file("id,mail,phone\n1,a@x.org,\n");
    assert_int_equal(bl_psi_input_load(path, &o, &in, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, ":1: missing identifier column 'email'"));
    unlink(path);

    write_file("id,email,phone\n1,a@x.org,\n2,b@x.org\n");
    assert_int_equal(bl_psi_input_load(path, &o, &in, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, ":3:3: record has 2 fields"));
    o.id_column = "uid";
    assert_int_equal(bl_psi_input_load(path, &o, &in, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "missing id column 'uid'"));
    unlink(path);

    write_file("");
    o.id_column = NULL;
    assert_int_equal(bl_psi_input_load(path, &o, &in, &e), BL_EINPUT);
    unlink(path);

    assert_int_equal(bl_psi_input_load("-", &o, &in, &e), BL_EINVAL);
    o.idents[1].type = BL_IDENT_EMAIL; /* a type twice */
    assert_int_equal(bl_psi_input_load("x.csv", &o, &in, &e), BL_EINVAL);
    o = two_idents();
    o.idents[1].type = BL_IDENT_NAMEDOB; /* needs >= 2 columns */
    assert_int_equal(bl_psi_input_load("x.csv", &o, &in, &e), BL_EINVAL);
    o.nidents = 0;
    assert_int_equal(bl_psi_input_load("x.csv", &o, &in, &e), BL_EINVAL);
    bl_psi_input_free(NULL);
}

static void test_modes(void **state)
{
    (void)state;
    assert_int_equal(bl_psi_mode_parse("both"), BL_PSI_BOTH);
    assert_int_equal(bl_psi_mode_parse("receive"), BL_PSI_RECEIVE);
    assert_int_equal(bl_psi_mode_parse("send"), BL_PSI_SEND);
    assert_int_equal(bl_psi_mode_parse("count"), BL_PSI_COUNT);
    assert_int_equal(bl_psi_mode_parse("all"), 0);
    assert_string_equal(bl_psi_mode_name(BL_PSI_COUNT), "count");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
