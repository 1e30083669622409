/* tests/unit/test_chat_ratchet.c - X3DH + Double Ratchet (lib/chat):
 * known-answer conversation (tests/fixtures/chat/kat.json, derived with a
 * deterministic key stream and checked byte for byte here and by the
 * independent JS implementation in web/chat.js), round trips both ways,
 * out-of-order delivery, replay, the MAX_SKIP cap and the kept-keys cap,
 * tampering with every byte, state unchanged after a rejected message,
 * save/load, bundle signature and pinning, message codec limits.
 * BL_CHAT_KAT_WRITE=FILE rewrites the vector file (only when the format
 * changes on purpose). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "chat/chat_internal.h"

static bl_chat_bankkeys *bank_keys(void)
{
    uint8_t seed[32], spk[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i, spk[i] = (uint8_t)(0x40 + i);
    bl_chat_bankkeys *k = NULL;
    assert_int_equal(chat_bankkeys_from_seed(seed, spk, 7, &k), BL_OK);
    return k;
}

typedef struct pair {
    bl_chat_bankkeys *k;
    bl_chat_session *c, *b; /* customer, bank */
} pair;

static void enc(bl_chat_session *s, const char *text, uint8_t **m, size_t *n)
{
    bl_error e = {0};
    assert_int_equal(bl_chat_encrypt(s, (const uint8_t *)text, strlen(text), m, n, &e), BL_OK);
}

static void dec_ok(bl_chat_session *s, const uint8_t *m, size_t n, const char *want)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    bl_error e = {0};
    bl_status st = bl_chat_decrypt(s, m, n, &pt, &len, &e);
    if (st != BL_OK)
        fprintf(stderr, "decrypt: %s\n", e.msg);
    assert_int_equal(st, BL_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(pt, want, len);
    free(pt);
}

static bl_status dec(bl_chat_session *s, const uint8_t *m, size_t n)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    bl_error e = {0};
    bl_status st = bl_chat_decrypt(s, m, n, &pt, &len, &e);
    free(pt);
    return st;
}

/* Customer initiates; the bank accepts the first message "hi". */
static void open_pair(pair *p)
{
    p->k = bank_keys();
    bl_chat_bundle b;
    bl_chat_bankkeys_bundle(p->k, &b);
    bl_error e = {0};
    assert_int_equal(bl_chat_session_initiate(&b, &p->c, &e), BL_OK);
    uint8_t *m, *pt;
    size_t n, len;
    enc(p->c, "hi", &m, &n);
    assert_int_equal(bl_chat_session_accept(p->k, m, n, &p->b, &pt, &len, &e), BL_OK);
    assert_int_equal(len, 2);
    free(m);
    free(pt);
}

static void close_pair(pair *p)
{
    bl_chat_session_free(p->c);
    bl_chat_session_free(p->b);
    bl_chat_bankkeys_free(p->k);
}

static char *hex(const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    sodium_bin2hex(h, 2 * n + 1, b, n);
    return h;
}

/* The known-answer conversation: customer -> bank, bank -> customer,
 * customer -> bank (second ratchet step), all keys from a fixed stream. */
/* bank names and pseudonyms: the one rule the CLI, bot and relay share */
static void test_name_valid(void **state)
{
    (void)state;
    assert_true(bl_chat_name_valid("Bank_1-x"));
    char long64[65], long65[66];
    memset(long64, 'a', 64), long64[64] = '\0';
    memset(long65, 'a', 65), long65[65] = '\0';
    assert_true(bl_chat_name_valid(long64));
    assert_false(bl_chat_name_valid(long65));
    assert_false(bl_chat_name_valid(""));
    assert_false(bl_chat_name_valid(NULL));
    assert_false(bl_chat_name_valid("../etc"));
    assert_false(bl_chat_name_valid("a b"));
    assert_false(bl_chat_name_valid("caf\xc3\xa9"));
}

static void test_kat(void **state)
{
    (void)state;
    uint8_t rs[32];
    for (int i = 0; i < 32; i++)
        rs[i] = (uint8_t)(0xA0 + i);
    chat_test_set_seed(rs);
    bl_chat_bankkeys *k = bank_keys();
    bl_chat_bundle b;
    bl_chat_bankkeys_bundle(k, &b);
    bl_error e = {0};
    bl_chat_session *c = NULL, *bs = NULL;
    assert_int_equal(bl_chat_session_initiate(&b, &c, &e), BL_OK);
    const char *p1 = "{\"t\":\"msg\",\"id\":1,\"text\":\"hello bank\"}";
    const char *p2 = "{\"t\":\"reply\",\"re\":1,\"text\":\"hello customer\"}";
    const char *p3 = "{\"t\":\"msg\",\"id\":2,\"text\":\"balance\"}";
    uint8_t *m1, *m2, *m3, *pt;
    size_t n1, n2, n3, len;
    enc(c, p1, &m1, &n1);
    assert_int_equal(bl_chat_session_accept(k, m1, n1, &bs, &pt, &len, &e), BL_OK);
    free(pt);
    enc(bs, p2, &m2, &n2);
    dec_ok(c, m2, n2, p2);
    enc(c, p3, &m3, &n3);
    dec_ok(bs, m3, n3, p3);
    chat_test_set_seed(NULL);

    char *bundle = bl_chat_bundle_to_json(&b);
    char *h1 = hex(m1, n1), *h2 = hex(m2, n2), *h3 = hex(m3, n3);
    const char *out = getenv("BL_CHAT_KAT_WRITE");
    if (out) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]}",
                              "about",
                              "blindlink chat known-answer conversation (tests/unit/test_chat_ratchet.c)",
                              "bank_seed", "000102...1f", "spk_sk", "404142...5f", "rng_seed",
                              "a0a1a2...bf", "messages", "from", "customer", "plaintext", p1, "wire",
                              h1, "from", "bank", "plaintext", p2, "wire", h2, "from", "customer",
                              "plaintext", p3, "wire", h3);
        json_object_set_new(o, "bundle", json_loads(bundle, 0, NULL));
        json_dump_file(o, out, JSON_INDENT(1) | JSON_SORT_KEYS);
        json_decref(o);
    }
    json_t *kat = json_load_file("tests/fixtures/chat/kat.json", 0, NULL);
    assert_non_null(kat);
    json_t *msgs = json_object_get(kat, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "wire")), h1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "wire")), h2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 2), "wire")), h3);
    char *kb = json_dumps(json_object_get(kat, "bundle"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(kb, bundle);
    free(kb);
    json_decref(kat);
    free(h1), free(h2), free(h3), free(bundle);
    free(m1), free(m2), free(m3);
    bl_chat_session_free(c);
    bl_chat_session_free(bs);
    bl_chat_bankkeys_free(k);
}

static void test_round_trips(void **state)
{
    (void)state;
    pair p;
    open_pair(&p);
    char text[64];
    for (int round = 0; round < 6; round++) { /* alternate senders, 1..3 in a row */
        bl_chat_session *from = round % 2 ? p.c : p.b, *to = round % 2 ? p.b : p.c;
        for (int j = 0; j <= round % 3; j++) {
            snprintf(text, sizeof text, "round %d message %d", round, j);
            uint8_t *m;
            size_t n;
            enc(from, text, &m, &n);
            dec_ok(to, m, n, text);
            free(m);
        }
    }
    close_pair(&p);
}

static void test_out_of_order_and_replay(void **state)
{
    (void)state;
    pair p;
    open_pair(&p);
    uint8_t *m[5];
    size_t n[5];
    char t[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(t[i], sizeof t[i], "msg %d", i);
        enc(p.b, t[i], &m[i], &n[i]);
    }
    static const int order[5] = {2, 0, 4, 1, 3};
    for (int i = 0; i < 5; i++) {
        dec_ok(p.c, m[order[i]], n[order[i]], t[order[i]]);
        if (i == 2)
            assert_int_equal(bl_chat_session_skipped(p.c), 2); /* keys of 1 and 3 wait */
    }
    assert_int_equal(bl_chat_session_skipped(p.c), 0);
    for (int i = 0; i < 5; i++) /* every replay is refused */
        assert_int_equal(dec(p.c, m[i], n[i]), BL_ECRYPTO);
    /* a message from an old chain after a new ratchet step still decrypts */
    uint8_t *late, *x;
    size_t nl, nx;
    enc(p.b, "late", &late, &nl);
    enc(p.c, "turn", &x, &nx);
    dec_ok(p.b, x, nx, "turn");
    uint8_t *y;
    size_t ny;
    enc(p.b, "new chain", &y, &ny);
    dec_ok(p.c, y, ny, "new chain");
    dec_ok(p.c, late, nl, "late");
    assert_int_equal(dec(p.c, late, nl), BL_ECRYPTO);
    free(late), free(x), free(y);
    for (int i = 0; i < 5; i++)
        free(m[i]);
    close_pair(&p);
}

static void test_skip_cap(void **state)
{
    (void)state;
    pair p;
    open_pair(&p);
    uint8_t *m = NULL;
    size_t n = 0;
    for (int i = 0; i <= BL_CHAT_MAX_SKIP + 1; i++) { /* keep only the last */
        free(m);
        enc(p.b, "x", &m, &n);
    }
    /* message number MAX_SKIP+1 would need MAX_SKIP+1 skipped keys */
    assert_int_equal(dec(p.c, m, n), BL_ELIMIT);
    assert_int_equal(bl_chat_session_skipped(p.c), 0);
    free(m);
    /* exactly MAX_SKIP skipped keys are accepted and kept */
    pair q;
    open_pair(&q);
    for (int i = 0; i <= BL_CHAT_MAX_SKIP; i++) {
        m = NULL;
        enc(q.b, "y", &m, &n);
        if (i < BL_CHAT_MAX_SKIP)
            free(m);
    }
    dec_ok(q.c, m, n, "y");
    assert_int_equal(bl_chat_session_skipped(q.c), BL_CHAT_MAX_SKIP);
    free(m);
    close_pair(&p);
    close_pair(&q);
}

static void test_kept_keys_cap(void **state)
{
    (void)state;
    pair p;
    open_pair(&p);
    /* three chains of 900 skipped each: more than BL_CHAT_MAX_SKIPPED_KEPT */
    for (int chain = 0; chain < 3; chain++) {
        uint8_t *m = NULL;
        size_t n = 0;
        for (int i = 0; i <= 900; i++) {
            free(m);
            enc(p.b, "z", &m, &n);
        }
        dec_ok(p.c, m, n, "z");
        free(m);
        enc(p.c, "ack", &m, &n);
        dec_ok(p.b, m, n, "ack");
        free(m);
    }
    assert_int_equal(bl_chat_session_skipped(p.c), BL_CHAT_MAX_SKIPPED_KEPT);
    close_pair(&p);
}

static void test_tamper_every_byte(void **state)
{
    (void)state;
    pair p;
    open_pair(&p);
    uint8_t *m;
    size_t n;
    enc(p.b, "transfer nothing", &m, &n);
    uint8_t *before = NULL, *after = NULL;
    size_t lb, la;
    bl_error e = {0};
    assert_int_equal(bl_chat_session_save(p.c, &before, &lb, &e), BL_OK);
    for (size_t i = 0; i < n; i++) {
        m[i] ^= 0x01;
        bl_status st = dec(p.c, m, n);
        assert_true(st == BL_ECRYPTO || st == BL_EPROTO || st == BL_ELIMIT);
        m[i] ^= 0x01;
    }
    assert_int_equal(dec(p.c, m, n - 1), BL_EPROTO); /* truncated */
    assert_int_equal(bl_chat_session_save(p.c, &after, &la, &e), BL_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(before, after, la); /* nothing changed */
    dec_ok(p.c, m, n, "transfer nothing");
    sodium_free(before);
    sodium_free(after);
    free(m);
    close_pair(&p);
}

static void test_save_load(void **state)
{
    (void)state;
    pair p;
    open_pair(&p);
    uint8_t *m1, *m2, *buf;
    size_t n1, n2, len;
    enc(p.b, "one", &m1, &n1);
    enc(p.b, "two", &m2, &n2);
    dec_ok(p.c, m2, n2, "two"); /* leaves one skipped key */
    bl_error e = {0};
    assert_int_equal(bl_chat_session_save(p.c, &buf, &len, &e), BL_OK);
    bl_chat_session *c2 = NULL;
    assert_int_equal(bl_chat_session_load(buf, len, &c2, &e), BL_OK);
    assert_int_equal(bl_chat_session_skipped(c2), 1);
    dec_ok(c2, m1, n1, "one");
    assert_int_equal(bl_chat_session_load(buf, len - 1, &c2, &e), BL_EINPUT);
    sodium_free(buf);
    bl_chat_session_free(c2);
    free(m1), free(m2);
    close_pair(&p);
}

static void test_bundle(void **state)
{
    (void)state;
    bl_chat_bankkeys *k = bank_keys();
    bl_chat_bundle b, evil;
    bl_chat_bankkeys_bundle(k, &b);
    bl_error e = {0};
    assert_int_equal(bl_chat_bundle_verify(&b, b.ik, &e), BL_OK);
    evil = b;
    evil.spk[3] ^= 0x40; /* a relay swaps in its own prekey */
    assert_int_equal(bl_chat_bundle_verify(&evil, b.ik, &e), BL_EAUTH);
    evil = b;
    evil.spk_id++;
    assert_int_equal(bl_chat_bundle_verify(&evil, NULL, &e), BL_EAUTH);
    /* a relay's own identity with a valid signature: the pin catches it */
    uint8_t seed[32] = {9}, spk[32] = {8};
    bl_chat_bankkeys *r = NULL;
    assert_int_equal(chat_bankkeys_from_seed(seed, spk, 7, &r), BL_OK);
    bl_chat_bankkeys_bundle(r, &evil);
    assert_int_equal(bl_chat_bundle_verify(&evil, NULL, &e), BL_OK);
    assert_int_equal(bl_chat_bundle_verify(&evil, b.ik, &e), BL_EAUTH);
    char *js = bl_chat_bundle_to_json(&b);
    bl_chat_bundle b2;
    assert_int_equal(bl_chat_bundle_from_json(js, &b2, &e), BL_OK);
    assert_memory_equal(&b2, &b, sizeof b);
    assert_int_equal(bl_chat_bundle_from_json("{\"ik\":1}", &b2, &e), BL_EPROTO);
    free(js);
    bl_chat_bankkeys_free(r);
    bl_chat_bankkeys_free(k);
}

static void test_codec(void **state)
{
    (void)state;
    uint8_t buf[300] = {BL_CHAT_VERSION, BL_CHAT_MSG_NORMAL};
    bl_chat_msg m;
    bl_error e = {0};
    assert_int_equal(bl_chat_msg_parse(buf, 2 + 80 + 128 + 16, &m, &e), BL_OK);
    assert_int_equal(m.header_len, 82);
    assert_int_equal(bl_chat_msg_parse(buf, 2 + 80 + 127 + 16, &m, &e), BL_EPROTO);
    assert_int_equal(bl_chat_msg_parse(buf, 1, &m, &e), BL_EPROTO);
    buf[0] = 9;
    assert_int_equal(bl_chat_msg_parse(buf, 226, &m, &e), BL_EPROTO);
    assert_non_null(strstr(e.msg, "version"));
    buf[0] = BL_CHAT_VERSION;
    buf[1] = BL_CHAT_MSG_PREKEY;
    assert_int_equal(bl_chat_msg_parse(buf, 2 + 60, &m, &e), BL_EPROTO);
    assert_int_equal(bl_chat_msg_parse(buf, BL_CHAT_MAX_MESSAGE + 1, &m, &e), BL_ELIMIT);
    pair p;
    open_pair(&p);
    static char big[BL_CHAT_MAX_PLAINTEXT + 1];
    memset(big, 'a', sizeof big);
    uint8_t *out;
    size_t n;
    assert_int_equal(bl_chat_encrypt(p.c, (uint8_t *)big, sizeof big, &out, &n, &e), BL_ELIMIT);
    /* the bank refuses a normal message without a session */
    enc(p.b, "x", &out, &n);
    bl_chat_session *s = NULL;
    uint8_t *pt = NULL;
    size_t len;
    assert_int_equal(bl_chat_session_accept(p.k, out, n, &s, &pt, &len, &e), BL_ESTATE);
    free(out);
    close_pair(&p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid), cmocka_unit_test(test_kat),          cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_out_of_order_and_replay), cmocka_unit_test(test_skip_cap),
        cmocka_unit_test(test_kept_keys_cap), cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_save_load),    cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
