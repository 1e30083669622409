/* tests/unit/test_psi_wire.c - the PSI wire format and channel: hello and
 * version checks, frame sealing (every flipped byte, replayed counter and
 * wrong key detected), setup and batch decoding, and the authenticated
 * handshake over a socketpair (right key, wrong pinned key, impersonation). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "psi/wire.h"

static void test_hello(void **state)
{
    (void)state;
    psi_hello h = {.version = BL_PSI_PROTOCOL_VERSION, .role = PSI_ROLE_SERVER};
    memset(h.kx_pk, 7, sizeof h.kx_pk);
    uint8_t b[PSI_HELLO_BYTES];
    psi_hello_encode(&h, b);
    psi_hello d;
    bl_error e = {0};
    assert_int_equal(psi_hello_decode(b, sizeof b, &d, &e), BL_OK);
    assert_int_equal(d.role, PSI_ROLE_SERVER);
    assert_memory_equal(d.kx_pk, h.kx_pk, 32);
    b[8] = 9; /* version 9 */
    assert_int_equal(psi_hello_decode(b, sizeof b, &d, &e), BL_EPROTO);
    assert_non_null(strstr(e.msg, "version mismatch"));
    assert_non_null(strstr(e.msg, "version 9"));
    b[8] = BL_PSI_PROTOCOL_VERSION;
    b[0] = 'X';
    assert_int_equal(psi_hello_decode(b, sizeof b, &d, &e), BL_EPROTO);
    assert_non_null(strstr(e.msg, "not a blindlink psi endpoint"));
    assert_int_equal(psi_hello_decode(b, 10, &d, &e), BL_EPROTO);
}

static void test_frames(void **state)
{
    (void)state;
    uint8_t key[32], key2[32];
    randombytes_buf(key, sizeof key);
    randombytes_buf(key2, sizeof key2);
    uint8_t pt[100], fr[100 + PSI_FRAME_HDR + PSI_FRAME_TAG], dec[200];
    for (size_t i = 0; i < sizeof pt; i++)
        pt[i] = (uint8_t)i;
    size_t fl = psi_frame_seal(key, 5, pt, sizeof pt, fr);
    assert_int_equal(fl, sizeof fr);
    size_t dl = 0;
    bl_error e = {0};
    assert_int_equal(psi_frame_open(key, 5, fr, fl, dec, &dl, &e), BL_OK);
    assert_int_equal(dl, sizeof pt);
    assert_memory_equal(dec, pt, sizeof pt);
    /* replay / reorder: another counter fails; so does another key */
    assert_int_equal(psi_frame_open(key, 6, fr, fl, dec, &dl, &e), BL_EPROTO);
    assert_non_null(strstr(e.msg, "failed authentication"));
    assert_int_equal(psi_frame_open(key2, 5, fr, fl, dec, &dl, &e), BL_EPROTO);
    /* every single flipped bit position is detected */
    for (size_t i = 0; i < fl; i++) {
        fr[i] ^= 0x01;
        assert_int_not_equal(psi_frame_open(key, 5, fr, fl, dec, &dl, &e), BL_OK);
        fr[i] ^= 0x01;
    }
    /* truncation */
    assert_int_equal(psi_frame_open(key, 5, fr, fl - 1, dec, &dl, &e), BL_EPROTO);
    assert_int_equal(psi_frame_open(key, 5, fr, 3, dec, &dl, &e), BL_EPROTO);
    /* header checks */
    uint32_t ct = 0;
    uint8_t h[PSI_FRAME_HDR] = {'B', 'L', 'F', BL_PSI_PROTOCOL_VERSION, 0, 0, 0, 0};
    assert_int_equal(psi_frame_header_parse(h, &ct, &e), BL_EPROTO); /* too short */
    h[4] = 17;
    assert_int_equal(psi_frame_header_parse(h, &ct, &e), BL_OK);
    assert_int_equal(ct, 17);
    h[3] = 2;
    assert_int_equal(psi_frame_header_parse(h, &ct, &e), BL_EPROTO);
    assert_non_null(strstr(e.msg, "version mismatch"));
    h[3] = BL_PSI_PROTOCOL_VERSION;
    h[7] = 0x10; /* 256 MiB > cap */
    assert_int_equal(psi_frame_header_parse(h, &ct, &e), BL_EPROTO);
}

static void test_setup_and_batch(void **state)
{
    (void)state;
    psi_setup s = {.mode = BL_PSI_RECEIVE, .ntypes = 2, .types = {BL_IDENT_EMAIL, BL_IDENT_PHONE},
                   .cmp_bytes = 12, .email_rules = 3, .ngroups = 123456789, .batch = 4096};
    uint8_t b[PSI_SETUP_BYTES];
    psi_setup_encode(&s, b);
    psi_setup d;
    bl_error e = {0};
    assert_int_equal(psi_setup_decode(b, sizeof b, &d, &e), BL_OK);
    assert_int_equal(d.mode, BL_PSI_RECEIVE);
    assert_int_equal(d.ntypes, 2);
    assert_int_equal(d.types[1], BL_IDENT_PHONE);
    assert_int_equal(d.email_rules, 3);
    assert_int_equal(d.ngroups, 123456789);
    assert_int_equal(d.batch, 4096);
    assert_int_equal(psi_setup_decode(b, sizeof b - 1, &d, &e), BL_EPROTO);
    uint8_t c[PSI_SETUP_BYTES];
    memcpy(c, b, sizeof c);
    c[0] = 9;
    assert_int_equal(psi_setup_decode(c, sizeof c, &d, &e), BL_EPROTO);
    memcpy(c, b, sizeof c);
    c[3] = BL_IDENT_EMAIL; /* repeated type */
    assert_int_equal(psi_setup_decode(c, sizeof c, &d, &e), BL_EPROTO);
    memcpy(c, b, sizeof c);
    c[4] = 1; /* padding */
    assert_int_equal(psi_setup_decode(c, sizeof c, &d, &e), BL_EPROTO);
    memcpy(c, b, sizeof c);
    c[1] = 0;
    assert_int_equal(psi_setup_decode(c, sizeof c, &d, &e), BL_EPROTO);

    uint8_t batch[PSI_BATCH_HDR + 3 * 32];
    memset(batch, 0, sizeof batch);
    batch[0] = 5;
    batch[8] = 3;
    uint64_t start;
    uint32_t cnt;
    const uint8_t *data;
    assert_int_equal(psi_batch_decode(batch, sizeof batch, 32, 4, &start, &cnt, &data, &e), BL_OK);
    assert_int_equal(start, 5);
    assert_int_equal(cnt, 3);
    assert_ptr_equal(data, batch + PSI_BATCH_HDR);
    assert_int_equal(psi_batch_decode(batch, sizeof batch - 1, 32, 4, &start, &cnt, &data, &e),
                     BL_EPROTO);
    assert_int_equal(psi_batch_decode(batch, sizeof batch, 32, 2, &start, &cnt, &data, &e),
                     BL_EPROTO);
    batch[8] = 0;
    assert_int_equal(psi_batch_decode(batch, PSI_BATCH_HDR, 32, 4, &start, &cnt, &data, &e),
                     BL_EPROTO);
    assert_int_equal(psi_batch_decode(batch, 5, 32, 4, &start, &cnt, &data, &e), BL_EPROTO);
}

/* ---- handshake over a socketpair ------------------------------------------------ */

typedef struct side {
    int fd, role;
    const bl_psi_identity *me;
    const uint8_t *pinned;
    psi_chan *ch;
    bl_status st;
    bl_error err;
} side;

static void *run_side(void *arg)
{
    side *s = arg;
    s->st = psi_chan_open(s->fd, s->role, s->me, s->pinned, 5000, &s->ch, &s->err);
    return NULL;
}

static void handshake(const bl_psi_identity *srv, const uint8_t *srv_pins,
                      const bl_psi_identity *cli, const uint8_t *cli_pins, side *a, side *b)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *a = (side){.fd = sv[0], .role = PSI_ROLE_SERVER, .me = srv, .pinned = srv_pins};
    *b = (side){.fd = sv[1], .role = PSI_ROLE_CLIENT, .me = cli, .pinned = cli_pins};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_side, a), 0);
    run_side(b);
    pthread_join(t, NULL);
}

static void test_handshake(void **state)
{
    (void)state;
    bl_psi_identity *ia = NULL, *ib = NULL, *ic = NULL;
    bl_error e = {0};
    assert_int_equal(bl_psi_identity_generate(&ia, &e), BL_OK);
    assert_int_equal(bl_psi_identity_generate(&ib, &e), BL_OK);
    assert_int_equal(bl_psi_identity_generate(&ic, &e), BL_OK);
    uint8_t pa[32], pb[32], pc[32];
    bl_psi_identity_public(ia, pa);
    bl_psi_identity_public(ib, pb);
    bl_psi_identity_public(ic, pc);
    side a, b;

    /* right keys: both authenticated, a message flows */
    handshake(ia, pb, ib, pa, &a, &b);
    assert_int_equal(a.st, BL_OK);
    assert_int_equal(b.st, BL_OK);
    assert_int_equal(psi_chan_send(b.ch, PSI_MSG_PING, NULL, 0, &e), BL_OK);
    assert_int_equal(psi_chan_send(b.ch, PSI_MSG_FIN, (const uint8_t *)"xy", 2, &e), BL_OK);
    unsigned type = 0;
    const uint8_t *p;
    size_t n;
    /* PINGs are skipped by recv_wait */
    assert_int_equal(psi_chan_recv_wait(a.ch, &type, &p, &n, &e), BL_OK);
    assert_int_equal(type, PSI_MSG_FIN);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "xy", 2);
    /* the peer's abort message is reported as such */
    psi_chan_abort(b.ch, "testing");
    assert_int_equal(psi_chan_recv_wait(a.ch, &type, &p, &n, &e), BL_EPROTO);
    assert_non_null(strstr(e.msg, "peer aborted: testing"));
    psi_chan_free(a.ch);
    psi_chan_free(b.ch);

    /* the server pins C but talks to B: refused by the server before data */
    handshake(ia, pc, ib, pa, &a, &b);
    assert_int_equal(a.st, BL_EAUTH);
    assert_non_null(strstr(a.err.msg, "not the pinned key"));
    psi_chan_free(b.ch);

    /* impersonation: C presents A's public key but signs with its own key */
    bl_psi_identity *fake = NULL;
    assert_int_equal(bl_psi_identity_generate(&fake, &e), BL_OK);
    memcpy(fake->pk, pa, 32);
    memcpy(fake->sk, ic->sk, sizeof fake->sk);
    handshake(fake, pb, ib, pa, &a, &b);
    assert_int_equal(b.st, BL_EAUTH);
    assert_non_null(strstr(b.err.msg, "impersonation"));
    psi_chan_free(a.ch);

    bl_psi_identity_free(ia);
    bl_psi_identity_free(ib);
    bl_psi_identity_free(ic);
    bl_psi_identity_free(fake);
}

static void test_keys_text(void **state)
{
    (void)state;
    bl_psi_identity *ia = NULL;
    bl_error e = {0};
    assert_int_equal(bl_psi_identity_generate(&ia, &e), BL_OK);
    uint8_t pk[32], back[32];
    char text[BL_PSI_PUBKEY_TEXT];
    bl_psi_identity_public(ia, pk);
    bl_psi_pubkey_format(pk, text);
    assert_int_equal(strlen(text), BL_PSI_PUBKEY_TEXT - 1);
    assert_int_equal(bl_psi_pubkey_load(text, back, &e), BL_OK);
    assert_memory_equal(pk, back, 32);
    assert_int_equal(bl_psi_pubkey_load(text + 10, back, &e), BL_OK); /* bare hex */
    assert_memory_equal(pk, back, 32);
    text[20] = 'g';
    assert_int_equal(bl_psi_pubkey_load(text, back, &e), BL_EINVAL);
    assert_int_equal(bl_psi_pubkey_load("blpsi-pub:00", back, &e), BL_EINVAL);
    bl_psi_identity_free(ia);
}

int main(void)
{
    if (bl_init() != BL_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),     cmocka_unit_test(test_frames),
        cmocka_unit_test(test_setup_and_batch), cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_keys_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
