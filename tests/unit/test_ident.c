/* tests/unit/test_ident.c - identifier normalisers: email (provider rules),
 * phone to E.164 with default countries, names (NFKC, case fold, marks),
 * dates and the composite name + date-of-birth key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <blindlink/ident.h>

static char out[BL_IDENT_MAX + 1];

static const char *email(const char *in, unsigned rules)
{
    size_t n = 99;
    bl_error e = {0};
    if (bl_ident_email(in, strlen(in), rules, out, sizeof out, &n, &e) != BL_OK) {
        assert_int_equal(e.status, BL_EINPUT);
        assert_true(e.msg[0] != '\0');
        return NULL;
    }
    assert_int_equal(n, strlen(out));
    return out;
}

static const char *phone(const char *in, const char *cc)
{
    size_t n = 99;
    bl_error e = {0};
    if (bl_ident_phone(in, strlen(in), cc, out, sizeof out, &n, &e) != BL_OK) {
        assert_true(e.msg[0] != '\0');
        return NULL;
    }
    assert_int_equal(n, strlen(out));
    return out;
}

static void test_email(void **state)
{
    (void)state;
    assert_string_equal(email("  Alice.Smith@Example.COM \t", 0), "alice.smith@example.com");
    assert_string_equal(email("a+news@example.com", 0), "a+news@example.com");
    assert_string_equal(email("a+news@example.com", BL_EMAIL_PLUS), "a@example.com");
    assert_string_equal(email("J.Doe+x@GoogleMail.com", BL_EMAIL_GMAIL), "jdoe@gmail.com");
    assert_string_equal(email("j.doe@gmail.com", BL_EMAIL_GMAIL), "jdoe@gmail.com");
    assert_string_equal(email("j.doe+a@example.com", BL_EMAIL_GMAIL), "j.doe+a@example.com");
    assert_string_equal(email("x@example.com.", 0), "x@example.com");
    /* NFKC: fullwidth letters and the Kelvin sign fold to ASCII */
    assert_string_equal(email("\xef\xbc\xa1@example.com", 0), "a@example.com");
    assert_string_equal(email("\xe2\x84\xaa@example.com", 0), "k@example.com");
    /* missing */
    assert_string_equal(email("   ", 0), "");
    assert_string_equal(email("", 0), "");
    /* rejected */
    assert_null(email("no-at-sign", 0));
    assert_null(email("a@@example.com", 0));
    assert_null(email("a@b@example.com", 0));
    assert_null(email("@example.com", 0));
    assert_null(email("a@localhost", 0));
    assert_null(email("a b@example.com", 0));
    assert_null(email(".a@example.com", 0));
    assert_null(email("a..b@example.com", 0));
    assert_null(email("a@-x.com", 0));
    assert_null(email("a@x..com", 0));
    assert_null(email("a@x_y.com", 0));
    assert_null(email("+tag@example.com", BL_EMAIL_PLUS));
    assert_null(email("\xff@example.com", 0));
    const char nul[] = "a\0b@example.com";
    size_t n;
    bl_error e = {0};
    assert_int_equal(bl_ident_email(nul, sizeof nul - 1, 0, out, sizeof out, &n, &e), BL_EINPUT);
}

static void test_phone(void **state)
{
    (void)state;
    assert_string_equal(phone("+44 20 7946 0958", NULL), "+442079460958");
    assert_string_equal(phone("+44 (0)20 7946 0958", NULL), "+442079460958");
    assert_string_equal(phone("0044 20 7946 0958", "DE"), "+442079460958");
    assert_string_equal(phone("020 7946 0958", "GB"), "+442079460958");
    assert_string_equal(phone("07700 900123", "gb"), "+447700900123");
    assert_string_equal(phone("(201) 555-0123", "US"), "+12015550123");
    assert_string_equal(phone("1-201-555-0123", "US"), "+12015550123");
    assert_string_equal(phone("011 44 20 7946 0958", "US"), "+442079460958");
    assert_string_equal(phone("tel:+33 1 23 45 67 89", NULL), "+33123456789");
    assert_string_equal(phone("01 23 45 67 89", "FR"), "+33123456789");
    assert_string_equal(phone("06 12 34 56 78", "FR"), "+33612345678");
    /* Italy keeps its leading 0 (no trunk prefix) */
    assert_string_equal(phone("06 1234 5678", "IT"), "+390612345678");
    assert_string_equal(phone("+39 06 1234 5678", NULL), "+390612345678");
    /* Russia's trunk prefix is 8 */
    assert_string_equal(phone("8 495 123-45-67", "RU"), "+74951234567");
    assert_string_equal(phone("030 1234567", "DE"), "+49301234567");
    assert_string_equal(phone("+800 1234 5678", NULL), "+80012345678");
    assert_string_equal(phone("", "GB"), "");
    assert_string_equal(phone("  ", "GB"), "");
    /* rejected */
    assert_null(phone("555-0123x12", "US"));
    assert_null(phone("(101) 555-0123", "US")); /* NANP area code cannot start with 1 */
    assert_null(phone("201 555 012", "US"));
    assert_null(phone("020 7946 0958", NULL));  /* national without a default country */
    assert_null(phone("+999 1234 5678", NULL)); /* unassigned calling code */
    assert_null(phone("+44 1234 5678 9012 345", NULL));
    assert_null(phone("555", "GB"));
    assert_null(phone("--", "GB"));
    assert_null(phone("+4+4 20", NULL));
    size_t n;
    bl_error e = {0};
    assert_int_equal(bl_ident_phone("0201", 4, "ZZ", out, sizeof out, &n, &e), BL_EINVAL);
    assert_int_equal(bl_ident_calling_code("gb"), 44);
    assert_int_equal(bl_ident_calling_code("US"), 1);
    assert_int_equal(bl_ident_calling_code("XX"), 0);
}

static void test_name_and_date(void **state)
{
    (void)state;
    size_t n = 0;
    bl_error e = {0};
    const char *nm = "  Jos\xc3\xa9   MAR\xc3\x8d" "A\t ";
    assert_int_equal(bl_ident_name(nm, strlen(nm), 0, out, sizeof out, &n, &e), BL_OK);
    assert_string_equal(out, "jos\xc3\xa9 mar\xc3\xad" "a");
    assert_int_equal(bl_ident_name(nm, strlen(nm), BL_NAME_STRIP_MARKS, out, sizeof out, &n, &e),
                     BL_OK);
    assert_string_equal(out, "jose maria");
    /* decomposed input composes to the same key */
    const char *dec = "Jose\xcc\x81";
    assert_int_equal(bl_ident_name(dec, strlen(dec), 0, out, sizeof out, &n, &e), BL_OK);
    assert_string_equal(out, "jos\xc3\xa9");
    assert_int_equal(bl_ident_name("Stra\xc3\x9f" "e", 7, 0, out, sizeof out, &n, &e), BL_OK);
    assert_string_equal(out, "strasse");
    assert_int_equal(bl_ident_name("a\x01", 2, 0, out, sizeof out, &n, &e), BL_EINPUT);

    assert_int_equal(bl_ident_date("1985-03-07", 10, NULL, out, sizeof out, &n, &e), BL_OK);
    assert_string_equal(out, "1985-03-07");
    assert_int_equal(bl_ident_date(" 7/3/1985 ", 10, "%d/%m/%Y", out, sizeof out, &n, &e), BL_OK);
    assert_string_equal(out, "1985-03-07");
    assert_int_equal(bl_ident_date("2000-02-29", 10, NULL, out, sizeof out, &n, &e), BL_OK);
    assert_int_equal(bl_ident_date("1900-02-29", 10, NULL, out, sizeof out, &n, &e), BL_EINPUT);
    assert_int_equal(bl_ident_date("1985-13-01", 10, NULL, out, sizeof out, &n, &e), BL_EINPUT);
    assert_int_equal(bl_ident_date("1985-04-31", 10, NULL, out, sizeof out, &n, &e), BL_EINPUT);
    assert_int_equal(bl_ident_date("1985-03-07x", 11, NULL, out, sizeof out, &n, &e), BL_EINPUT);
    assert_int_equal(bl_ident_date("85-03-07", 8, NULL, out, sizeof out, &n, &e), BL_EINPUT);
    assert_int_equal(bl_ident_date("1700-01-01", 10, NULL, out, sizeof out, &n, &e), BL_EINPUT);
    assert_int_equal(bl_ident_date("1985-03-07", 10, "%Y-%q", out, sizeof out, &n, &e), BL_EINVAL);
    assert_int_equal(bl_ident_date("", 0, NULL, out, sizeof out, &n, &e), BL_OK);
    assert_int_equal(n, 0);
}

static void test_namedob(void **state)
{
    (void)state;
    bl_ident_opts o = {0};
    o.dob_format = "%d.%m.%Y";
    const char *parts[2] = {" Anna ", "M\xc3\xbcLLER"};
    size_t lens[2] = {6, 7};
    size_t n = 0;
    bl_error e = {0};
    assert_int_equal(
        bl_ident_namedob(parts, lens, 2, "1.2.1990", 8, &o, out, sizeof out, &n, &e), BL_OK);
    assert_memory_equal(out, "anna\x1fm\xc3\xbcller\x1f" "1990-02-01", n);
    assert_int_equal(n, strlen("anna\x1fm\xc3\xbcller\x1f" "1990-02-01"));
    /* all empty: missing */
    const char *empty[2] = {"", " "};
    size_t elens[2] = {0, 1};
    assert_int_equal(bl_ident_namedob(empty, elens, 2, "", 0, &o, out, sizeof out, &n, &e), BL_OK);
    assert_int_equal(n, 0);
    /* partly empty: rejected, naming the part */
    const char *half[2] = {"Anna", ""};
    size_t hlens[2] = {4, 0};
    assert_int_equal(
        bl_ident_namedob(half, hlens, 2, "1.2.1990", 8, &o, out, sizeof out, &n, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "name part 2"));
    assert_int_equal(
        bl_ident_namedob(parts, lens, 2, "", 0, &o, out, sizeof out, &n, &e), BL_EINPUT);
    assert_int_equal(
        bl_ident_namedob(parts, lens, 2, "31.2.1990", 9, &o, out, sizeof out, &n, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "date of birth"));
}

static void test_type_names(void **state)
{
    (void)state;
    assert_int_equal(bl_ident_type_parse("email"), BL_IDENT_EMAIL);
    assert_int_equal(bl_ident_type_parse("phone"), BL_IDENT_PHONE);
    assert_int_equal(bl_ident_type_parse("namedob"), BL_IDENT_NAMEDOB);
    assert_int_equal(bl_ident_type_parse("ssn"), 0);
    assert_string_equal(bl_ident_type_name(BL_IDENT_PHONE), "phone");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email),   cmocka_unit_test(test_phone),
        cmocka_unit_test(test_name_and_date), cmocka_unit_test(test_namedob),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
