/* tests/unit/test_server.c - unit tests of the service internals that run
 * under the sanitizers: duration parsing, the store (migrations, bootstrap,
 * organisations, keys: constant-time check, revocation, expiry with the
 * injectable clock), the audit chain (append, verify, detect edits and a
 * truncated tail) and request-body validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/io.h>

#include "srv.h"
#include "fixture.h"

static int setup(void **state)
{
    (void)state;
    return fx_dir_setup("srv_unit");
}

static int teardown(void **state)
{
    (void)state;
    return fx_dir_teardown();
}

static void test_duration(void **state)
{
    (void)state;
    int64_t s = 0;
    assert_int_equal(bl_srv_parse_duration("91d", &s, NULL), BL_OK);
    assert_int_equal(s, 91 * 86400);
    assert_int_equal(bl_srv_parse_duration("-5m", &s, NULL), BL_OK);
    assert_int_equal(s, -300);
    assert_int_equal(bl_srv_parse_duration("2h", &s, NULL), BL_OK);
    assert_int_equal(s, 7200);
    assert_int_equal(bl_srv_parse_duration("3600", &s, NULL), BL_OK);
    assert_int_equal(s, 3600);
    bl_error e = {0};
    assert_int_equal(bl_srv_parse_duration("3x", &s, &e), BL_EINVAL);
    assert_non_null(strstr(e.msg, "duration"));
    assert_int_equal(bl_srv_parse_duration("", &s, NULL), BL_EINVAL);
    assert_int_equal(bl_srv_parse_duration("d", &s, NULL), BL_EINVAL);
}

static void test_keys(void **state)
{
    (void)state;
    bl_store *st = NULL;
    bl_error e = {0};
    assert_int_equal(bl_store_open(fx_dir, &st, &e), BL_OK);
    char key[BL_SRV_KEY_MAX], kid[17], org[33];
    assert_int_equal(bl_admin_bootstrap(st, "operator", key, kid, &e), BL_OK);
    assert_int_equal(bl_admin_bootstrap(st, "operator2", key, kid, &e), BL_ESTATE);
    assert_int_equal(bl_admin_org_add(st, "hospital", "hospital", org, &e), BL_OK);
    assert_int_equal(bl_admin_org_add(st, "hospital", "hospital", org, &e), BL_ESTATE);
    assert_int_equal(bl_admin_key_add(st, "hospital", "data_owner", 0, key, kid, &e), BL_OK);
    assert_int_equal(bl_admin_key_add(st, "hospital", "superuser", 0, key, kid, &e), BL_EINVAL);
    assert_int_equal(bl_admin_key_add(st, "nobody", "analyst", 0, key, kid, &e), BL_ENOTFOUND);
    assert_int_equal(bl_admin_key_add(st, "hospital", "data_owner", 0, key, kid, &e), BL_OK);

    sqlite3 *db = st->conns[0];
    srv_principal p;
    char header[160];
    snprintf(header, sizeof header, "Bearer %s", key);
    assert_int_equal(srv_authenticate(db, header, &p, &e), BL_OK);
    assert_string_equal(p.org, org);
    assert_string_equal(p.role, "data_owner");
    /* one changed secret digit */
    char bad[160];
    memcpy(bad, header, sizeof bad);
    size_t n = strlen(bad);
    bad[n - 1] = bad[n - 1] == '0' ? '1' : '0';
    assert_int_equal(srv_authenticate(db, bad, &p, &e), BL_EAUTH);
    assert_non_null(strstr(e.msg, "unknown"));
    assert_int_equal(srv_authenticate(db, "Bearer blk_zz", &p, &e), BL_EAUTH);
    assert_int_equal(srv_authenticate(db, NULL, &p, &e), BL_EAUTH);
    /* revocation */
    assert_int_equal(bl_admin_key_revoke(st, kid, &e), BL_OK);
    assert_int_equal(srv_authenticate(db, header, &p, &e), BL_EAUTH);
    assert_non_null(strstr(e.msg, "revoked"));
    assert_int_equal(bl_admin_key_revoke(st, kid, &e), BL_ENOTFOUND);
    /* expiry with the injectable clock */
    assert_int_equal(bl_admin_key_add(st, "hospital", "analyst", 86400, key, kid, &e), BL_OK);
    snprintf(header, sizeof header, "%s", key);
    assert_int_equal(srv_authenticate(db, header, &p, &e), BL_OK);
    bl_srv_clock_set_offset(2 * 86400);
    assert_int_equal(srv_authenticate(db, header, &p, &e), BL_EAUTH);
    assert_non_null(strstr(e.msg, "expired"));
    bl_srv_clock_set_offset(0);
    /* purposes are a controlled list that can be extended */
    assert_int_equal(bl_admin_purpose_add(st, "insurance_pricing", "pricing", &e), BL_OK);
    assert_int_equal(bl_admin_purpose_add(st, "Bad Name", "x", &e), BL_EINVAL);
    assert_int_equal(bl_admin_purpose_add(st, "research", "again", &e), BL_ESTATE);
    bl_store_close(st);
    /* every admin action above is in an intact chain */
    bl_audit_report rep;
    assert_int_equal(bl_audit_verify(fx_dir, &rep, &e), BL_OK);
    assert_true(rep.entries >= 12);
}

static void test_audit_chain(void **state)
{
    (void)state;
    bl_store *st = NULL;
    bl_error e = {0};
    assert_int_equal(bl_store_open(fx_dir, &st, &e), BL_OK);
    for (int i = 0; i < 40; i++) {
        char why[64];
        snprintf(why, sizeof why, "entry %d \"quoted\" \xc3\xa9", i);
        srv_audit a = {.org = "o", .key = "k", .role = "analyst", .action = "test",
                       .resource = "r", .purpose = "research", .allowed = i % 2,
                       .reason = why, .status = 200};
        assert_int_equal(srv_audit_append(st, &a, &e), BL_OK);
    }
    bl_store_close(st);
    bl_audit_report rep;
    assert_int_equal(bl_audit_verify(fx_dir, &rep, &e), BL_OK);
    assert_int_equal(rep.entries, 40);
    const char *path, *backup;
    path = fx_path("audit.log");
    backup = fx_path("audit.bak");
    char *orig = NULL;
    size_t len = 0;
    assert_int_equal(bl_read_file(path, 1 << 20, &orig, &len, &e), BL_OK);
    /* edit one character inside entry 20 */
    char *p = orig;
    for (int line = 1; line < 20; line++)
        p = strchr(p, '\n') + 1;
    char *q = strstr(p, "entry 19");
    assert_non_null(q);
    char saved = q[6];
    q[6] = '8';
    FILE *fp = fopen(path, "w");
    fwrite(orig, 1, len, fp);
    fclose(fp);
    assert_int_equal(bl_audit_verify(fx_dir, &rep, &e), BL_EINPUT);
    assert_int_equal(rep.first_bad, 20);
    assert_non_null(strstr(e.msg, "modified"));
    q[6] = saved;
    /* drop the last entry: the store's anchor notices */
    char *last = orig + len - 2;
    while (*last != '\n')
        last--;
    fp = fopen(path, "w");
    fwrite(orig, 1, (size_t)(last - orig + 1), fp);
    fclose(fp);
    assert_int_equal(bl_audit_verify(fx_dir, &rep, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "deleted at the end"));
    fp = fopen(path, "w");
    fwrite(orig, 1, len, fp);
    fclose(fp);
    assert_int_equal(bl_audit_verify(fx_dir, &rep, &e), BL_OK);
    free(orig);
    (void)backup;
}

static void test_validate(void **state)
{
    (void)state;
    static const struct {
        const char *kind, *body;
        bl_status want;
        const char *msg;
    } cases[] = {
        /* the linkage schema is part of every project */
        {"project", "{\"name\":\"p\",\"purpose\":\"research\",\"parties\":[\"a\",\"b\"],\"scopes\":[\"name\"]}", BL_EINPUT, "must register the linkage schema"},
        {"project", "{\"name\":\"p\",\"purpose\":\"research\",\"parties\":[\"a\",\"b\"],\"scopes\":[\"name\"],"
                    "\"schema\":{\"version\":3,\"clkConfig\":{\"l\":1024,\"kdf\":{\"type\":\"HKDF\",\"hash\":\"SHA256\",\"keySize\":64}},"
                    "\"features\":[{\"identifier\":\"token\",\"format\":{\"type\":\"string\",\"encoding\":\"utf-8\"},"
                    "\"hashing\":{\"comparison\":{\"type\":\"ngram\",\"n\":2},\"strategy\":{\"bitsPerToken\":20},\"hash\":{\"type\":\"blakeHash\"}}}]},"
                    "\"schema_features\":{\"token\":\"name\"}}", BL_OK, NULL},
        {"project", "{\"name\":\"p\",\"purpose\":\"research\",\"parties\":[\"a\"],\"scopes\":[\"name\"]}", BL_EINPUT, "parties"},
        {"project", "{\"name\":\"p\",\"purpose\":\"Research!\",\"parties\":[\"a\",\"b\"],\"scopes\":[\"name\"]}", BL_EINPUT, "purpose"},
        {"project", "{\"name\":\"p\",\"purpose\":\"research\",\"parties\":[\"a\",\"b\"],\"scopes\":[\"name\"],\"mode\":\"magic\"}", BL_EINPUT, "mode"},
        {"project", "{\"name\":\"p\",\"purpose\":\"research\",\"parties\":[\"a\",\"b\"],\"scopes\":[\"name\"],\"top_k\":-1}", BL_EINPUT, "top_k"},
        {"project", "{", BL_EINPUT, "malformed JSON"},
        {"consent", "{\"subjects\":[]}", BL_EINPUT, "subjects"},
        {"consent", "{\"subject\":\"s\",\"purposes\":[\"research\"],\"subjects\":[]}", BL_EINPUT, "either"},
        {"withdraw", "{\"subject\":\"s\"}", BL_OK, NULL},
        {"consent", "{\"subject\":\"s\"}", BL_EINPUT, "purposes"},
        {"agreement", "{\"contract_ref\":\"c\",\"document_sha256\":\"ab\"}", BL_EINPUT, "64"},
        {"key", "{\"role\":\"root\"}", BL_EINPUT, "role"},
        {"key", "{\"role\":\"auditor\",\"expires_in_days\":0}", BL_EINPUT, "expires_in_days"},
        {"run", "{\"threshold\":0}", BL_EINPUT, "threshold"},
        {"run", "{}", BL_OK, NULL},
        {"encodings", "{\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}]}", BL_OK, NULL},
        {"encodings", "{\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\",\"x\":1}]}", BL_EINPUT, "encodings[0]"},
        /* schema_fingerprint (minimisation) before or after, once, a string */
        {"encodings", "{\"schema_fingerprint\":\"00\", \"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}]}", BL_OK, NULL},
        {"encodings", "{\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}] , \"schema_fingerprint\":\"00\"}", BL_OK, NULL},
        {"encodings", "{\"schema_fingerprint\":7,\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}]}", BL_EINPUT, "schema_fingerprint"},
        {"encodings", "{\"schema_fingerprint\":\"00\",\"schema_fingerprint\":\"00\",\"encodings\":[]}", BL_EINPUT, "'schema_fingerprint' is not allowed"},
        {"encodings", "{\"schema_fingerprint\":\"00\"}", BL_EINPUT, "encodings"},
        {"encodings", "{\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}],\"encodings\":[]}", BL_EINPUT, "'encodings' is not allowed"},
        {"encodings", "{\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}],\"extra\":1}", BL_EINPUT, "'extra' is not allowed"},
        {"encodings", "{\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}],}", BL_EINPUT, "byte"},
        {"encodings", "{\"encodings\":[{\"subject\":\"s\",\"clk\":\"AAAA\"}]} x", BL_EINPUT, "after"},
        {"nonsense", "{}", BL_EINVAL, "unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bl_error e = {0};
        bl_status rc = bl_srv_validate_body(cases[i].kind, cases[i].body, strlen(cases[i].body), &e);
        if (rc != cases[i].want)
            fail_msg("case %zu (%s): got %d (%s)", i, cases[i].kind, rc, e.msg);
        if (cases[i].msg && !strstr(e.msg, cases[i].msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_chain, setup, teardown),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
