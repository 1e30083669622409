/* lib/chat/ratchet.c - the chat layer's cryptographic core: X3DH key
 * agreement and the Double Ratchet, following the published Signal
 * specifications (X3DH rev. 1, Double Ratchet rev. 1), on libsodium.
 *
 * The chat layer (lib/chat) sits above core, encode (for the project's
 * RFC 5869 HKDF over libsodium HMAC-SHA256) and psi (the keygen key file);
 * nothing below calls it. Written here rather than taken from libolm or
 * libsignal-protocol-c: both are deprecated/archived upstream (issue 14).
 *
 * Choices (docs/chat.md): HKDF-SHA256 via lib/encode/hkdf.c because the
 * installed libsodium (1.0.18) has no crypto_kdf_hkdf_sha256 (added in
 * 1.0.19) and the same HMAC-SHA256 is in libsodium.js; KDF_CK is HMAC-SHA256
 * with constants 0x01/0x02 as the spec recommends; ENCRYPT is
 * XChaCha20-Poly1305 with key and nonce derived by HKDF from the message
 * key (a message key is used once, so a derived nonce is safe). Headers
 * are encrypted as in the spec's header encryption variant (section 4):
 * XChaCha20-Poly1305 under the chain's header key with a random 24-byte
 * nonce (a header key serves a whole chain). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chat/chat_internal.h"
#include "encode/encode_internal.h"

static const uint8_t INFO_X3DH[] = "blindlink-chat-x3dh-v1";
static const uint8_t INFO_RK[] = "blindlink-chat-ratchet-v1";
static const uint8_t INFO_MK[] = "blindlink-chat-message-v1";
static const uint8_t INFO_HK[] = "blindlink-chat-header-keys-v1";

/* ---- randomness ------------------------------------------------------------ */

static uint8_t test_seed[32];
static uint64_t test_ctr;
static int test_mode;

void chat_test_set_seed(const uint8_t seed[32])
{
    test_mode = seed != NULL;
    test_ctr = 0;
    if (seed)
        memcpy(test_seed, seed, 32);
}

void chat_random(uint8_t *buf, size_t n)
{
    if (!test_mode) {
        randombytes_buf(buf, n);
        return;
    }
    uint8_t nonce[8];
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(test_ctr >> (8 * i));
    test_ctr++;
    crypto_stream_chacha20(buf, n, nonce, test_seed);
}

static void gen_x25519(uint8_t sk[32], uint8_t pk[32])
{
    chat_random(sk, 32);
    crypto_scalarmult_base(pk, sk);
}

/* ---- KDFs ------------------------------------------------------------------ */

int chat_x3dh_kdf(const uint8_t dh1[32], const uint8_t dh2[32], const uint8_t dh3[32],
                  uint8_t out[96])
{
    /* KM = F || DH1 || DH2 || DH3, F = 32 bytes 0xFF (X3DH section 2.2) */
    uint8_t km[128];
    memset(km, 0xFF, 32);
    memcpy(km + 32, dh1, 32);
    memcpy(km + 64, dh2, 32);
    memcpy(km + 96, dh3, 32);
    int r = bli_hkdf(0, NULL, 0, km, sizeof km, INFO_X3DH, sizeof INFO_X3DH - 1, out, 32);
    /* the initial header keys, from SK (both parties know SK) */
    if (r == 0)
        r = bli_hkdf(0, NULL, 0, out, 32, INFO_HK, sizeof INFO_HK - 1, out + 32, 64);
    sodium_memzero(km, sizeof km);
    return r;
}

void chat_kdf_rk(const uint8_t rk[32], const uint8_t dh[32], uint8_t rk_out[32],
                 uint8_t ck_out[32], uint8_t nhk_out[32])
{
    uint8_t okm[96];
    (void)bli_hkdf(0, rk, 32, dh, 32, INFO_RK, sizeof INFO_RK - 1, okm, 96);
    memcpy(rk_out, okm, 32);
    memcpy(ck_out, okm + 32, 32);
    memcpy(nhk_out, okm + 64, 32);
    sodium_memzero(okm, sizeof okm);
}

void chat_kdf_ck(uint8_t ck[32], uint8_t mk[32])
{
    static const uint8_t one = 1, two = 2;
    uint8_t next[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, ck, 32);
    crypto_auth_hmacsha256_update(&st, &one, 1);
    crypto_auth_hmacsha256_final(&st, mk);
    crypto_auth_hmacsha256_init(&st, ck, 32);
    crypto_auth_hmacsha256_update(&st, &two, 1);
    crypto_auth_hmacsha256_final(&st, next);
    memcpy(ck, next, 32);
    sodium_memzero(next, sizeof next);
    sodium_memzero(&st, sizeof st);
}

static void mk_expand(const uint8_t mk[32], uint8_t key[32], uint8_t nonce[24])
{
    uint8_t okm[56];
    (void)bli_hkdf(0, NULL, 0, mk, 32, INFO_MK, sizeof INFO_MK - 1, okm, sizeof okm);
    memcpy(key, okm, 32);
    memcpy(nonce, okm + 32, 24);
    sodium_memzero(okm, sizeof okm);
}

/* ---- bundle ---------------------------------------------------------------- */

static void spk_signed_bytes(uint32_t id, const uint8_t spk[32], uint8_t out[54])
{
    memcpy(out, "blindlink-chat-spk", 18);
    chat_put32(out + 18, id);
    memcpy(out + 22, spk, 32);
}

bl_status bl_chat_bundle_verify(const bl_chat_bundle *b, const uint8_t pinned_ik[32],
                                bl_error *err)
{
    if (pinned_ik && sodium_memcmp(pinned_ik, b->ik, 32) != 0)
        return bl_error_set(err, BL_EAUTH,
                            "the bank's identity key from the relay differs from the pinned "
                            "key: refusing (the relay may be substituting keys)");
    uint8_t m[54];
    spk_signed_bytes(b->spk_id, b->spk, m);
    if (crypto_sign_verify_detached(b->sig, m, sizeof m, b->ik) != 0)
        return bl_error_set(err, BL_EAUTH,
                            "the bank's signed prekey does not verify under its identity key: "
                            "refusing");
    return BL_OK;
}

void chat_bankkeys_sign_spk(bl_chat_bankkeys *k)
{
    uint8_t m[54];
    spk_signed_bytes(k->spk_id, k->spk_pk, m);
    crypto_sign_detached(k->sig, NULL, m, sizeof m, k->ed_sk);
}

void bl_chat_bankkeys_bundle(const bl_chat_bankkeys *k, bl_chat_bundle *out)
{
    memcpy(out->ik, k->ed_pk, 32);
    memcpy(out->spk, k->spk_pk, 32);
    out->spk_id = k->spk_id;
    memcpy(out->sig, k->sig, 64);
}

/* ---- session lifecycle ------------------------------------------------------ */

static bl_chat_session *session_alloc(void)
{
    bl_chat_session *s = sodium_malloc(sizeof *s);
    if (s)
        memset(s, 0, sizeof *s);
    return s;
}

void bl_chat_session_free(bl_chat_session *s)
{
    if (s)
        sodium_free(s);
}

void bl_chat_session_ek(const bl_chat_session *s, uint8_t ek[32])
{
    memcpy(ek, s->ek_pk, 32);
}

size_t bl_chat_session_skipped(const bl_chat_session *s)
{
    return s->nskipped;
}

bl_status bl_chat_session_initiate(const bl_chat_bundle *bundle, bl_chat_session **out,
                                   bl_error *err)
{
    *out = NULL;
    bl_status st = bl_chat_bundle_verify(bundle, NULL, err);
    if (st != BL_OK)
        return st;
    uint8_t ikb_x[32];
    if (crypto_sign_ed25519_pk_to_curve25519(ikb_x, bundle->ik) != 0)
        return bl_error_set(err, BL_ECRYPTO, "the bank's identity key is not a valid point");
    bl_chat_session *s = session_alloc();
    if (!s)
        return bl_error_set(err, BL_ENOMEM, "cannot allocate guarded memory for a session");
    uint8_t ik_sk[32], ek_sk[32], dh[96], sk[96];
    gen_x25519(ik_sk, s->ik_pk);
    gen_x25519(ek_sk, s->ek_pk);
    /* DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B) */
    int bad = crypto_scalarmult(dh, ik_sk, bundle->spk) | crypto_scalarmult(dh + 32, ek_sk, ikb_x) |
              crypto_scalarmult(dh + 64, ek_sk, bundle->spk);
    if (!bad)
        bad = chat_x3dh_kdf(dh, dh + 32, dh + 64, sk);
    sodium_memzero(ik_sk, 32);
    sodium_memzero(ek_sk, 32);
    sodium_memzero(dh, sizeof dh);
    if (bad) {
        bl_chat_session_free(s);
        return bl_error_set(err, BL_ECRYPTO, "X3DH failed (low-order key in the bundle)");
    }
    s->role = 0;
    memcpy(s->ad, s->ik_pk, 32);
    memcpy(s->ad + 32, bundle->ik, 32);
    s->spk_id = bundle->spk_id;
    s->pending_prekey = 1;
    /* RatchetInitAlice: DHs = GENERATE_DH(); DHr = SPK_B; RK, CKs = KDF_RK(SK, DH(DHs, DHr)) */
    gen_x25519(s->dhs_sk, s->dhs_pk);
    memcpy(s->dhr, bundle->spk, 32);
    s->have_dhr = 1;
    uint8_t d[32];
    if (crypto_scalarmult(d, s->dhs_sk, s->dhr) != 0) {
        bl_chat_session_free(s);
        return bl_error_set(err, BL_ECRYPTO, "ratchet DH failed");
    }
    /* RatchetInitAliceHE: HKs = shared_hka, NHKr = shared_nhkb */
    chat_kdf_rk(sk, d, s->rk, s->cks, s->nhks);
    memcpy(s->hks, sk + 32, 32);
    memcpy(s->nhkr, sk + 64, 32);
    s->have_cks = s->have_hks = 1;
    sodium_memzero(d, 32);
    sodium_memzero(sk, sizeof sk);
    *out = s;
    return BL_OK;
}

/* ---- encrypt ----------------------------------------------------------------- */

bl_status bl_chat_encrypt(bl_chat_session *s, const uint8_t *pt, size_t ptlen, uint8_t **msg,
                          size_t *mlen, bl_error *err)
{
    *msg = NULL;
    *mlen = 0;
    if (ptlen > BL_CHAT_MAX_PLAINTEXT)
        return bl_error_set(err, BL_ELIMIT, "message of %zu bytes exceeds the %d-byte limit",
                            ptlen, BL_CHAT_MAX_PLAINTEXT);
    if (!s->have_cks || !s->have_hks)
        return bl_error_set(err, BL_ESTATE, "session cannot send yet");
    size_t padded_max = ptlen + CHAT_PAD_BLOCK;
    uint8_t *padded = sodium_malloc(padded_max);
    if (!padded)
        return bl_error_set(err, BL_ENOMEM, "out of guarded memory");
    memcpy(padded, pt, ptlen);
    size_t plen = 0;
    if (sodium_pad(&plen, padded, ptlen, CHAT_PAD_BLOCK, padded_max) != 0) {
        sodium_free(padded);
        return bl_error_set(err, BL_EINTERNAL, "padding failed");
    }
    size_t pre = s->pending_prekey ? CHAT_PREKEY_PREFIX : 0;
    size_t hl = 2 + pre + CHAT_ENC_HEADER;
    uint8_t *out = malloc(hl + plen + CHAT_TAG);
    if (!out) {
        sodium_free(padded);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    out[0] = BL_CHAT_VERSION;
    out[1] = pre ? BL_CHAT_MSG_PREKEY : BL_CHAT_MSG_NORMAL;
    uint8_t *h = out + 2;
    if (pre) {
        memcpy(h, s->ik_pk, 32);
        memcpy(h + 32, s->ek_pk, 32);
        chat_put32(h + 64, s->spk_id);
        h += CHAT_PREKEY_PREFIX;
    }
    /* HENCRYPT(HKs, header): nonce || AEAD, bound to the bytes before it */
    uint8_t plain[CHAT_HEADER];
    memcpy(plain, s->dhs_pk, 32);
    chat_put32(plain + 32, s->pn);
    chat_put32(plain + 36, s->ns);
    chat_random(h, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(h + 24, NULL, plain, CHAT_HEADER, out,
                                               (size_t)(h - out), NULL, h, s->hks);
    uint8_t mk[32], key[32], nonce[24];
    chat_kdf_ck(s->cks, mk);
    s->ns++;
    mk_expand(mk, key, nonce);
    /* AEAD associated data: X3DH AD || the whole message header */
    uint8_t *ad = malloc(64 + hl);
    if (!ad) {
        free(out);
        sodium_free(padded);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    memcpy(ad, s->ad, 64);
    memcpy(ad + 64, out, hl);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + hl, &clen, padded, plen, ad, 64 + hl, NULL,
                                               nonce, key);
    free(ad);
    sodium_free(padded);
    sodium_memzero(mk, 32);
    sodium_memzero(key, 32);
    *msg = out;
    *mlen = hl + (size_t)clen;
    return BL_OK;
}

/* ---- decrypt ----------------------------------------------------------------- */

static bl_status open_with(const bl_chat_session *s, const uint8_t mk[32], const uint8_t *msg,
                           const bl_chat_msg *m, uint8_t **pt, size_t *ptlen, bl_error *err)
{
    uint8_t key[32], nonce[24];
    mk_expand(mk, key, nonce);
    uint8_t *ad = malloc(64 + m->header_len);
    uint8_t *buf = sodium_malloc(m->ct_len);
    if (!ad || !buf) {
        free(ad);
        if (buf)
            sodium_free(buf);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    memcpy(ad, s->ad, 64);
    memcpy(ad + 64, msg, m->header_len);
    unsigned long long n = 0;
    int r = crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &n, NULL, m->ct, m->ct_len, ad,
                                                       64 + m->header_len, nonce, key);
    free(ad);
    sodium_memzero(key, 32);
    size_t unp = 0;
    if (r != 0 || sodium_unpad(&unp, buf, (size_t)n, CHAT_PAD_BLOCK) != 0) {
        sodium_free(buf);
        return bl_error_set(err, BL_ECRYPTO,
                            "message rejected: authentication failed (tampered, replayed or "
                            "not for this session)");
    }
    uint8_t *o = malloc(unp + 1);
    if (!o) {
        sodium_free(buf);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    memcpy(o, buf, unp);
    o[unp] = 0;
    sodium_free(buf);
    *pt = o;
    *ptlen = unp;
    return BL_OK;
}

static void skipped_add(bl_chat_session *s, const uint8_t hk[32], uint32_t n, const uint8_t mk[32])
{
    if (s->nskipped == BL_CHAT_MAX_SKIPPED_KEPT) { /* drop the oldest */
        sodium_memzero(&s->skipped[0], sizeof s->skipped[0]);
        memmove(&s->skipped[0], &s->skipped[1], (s->nskipped - 1) * sizeof s->skipped[0]);
        s->nskipped--;
    }
    chat_skipped *k = &s->skipped[s->nskipped++];
    memcpy(k->hk, hk, 32);
    k->n = n;
    memcpy(k->mk, mk, 32);
}

/* SkipMessageKeys(state, until) */
static bl_status skip_keys(bl_chat_session *s, uint32_t until, bl_error *err)
{
    if (!s->have_ckr)
        return BL_OK;
    if (until > s->nr && until - s->nr > BL_CHAT_MAX_SKIP)
        return bl_error_set(err, BL_ELIMIT,
                            "message rejected: it would skip %u message keys (limit %d)",
                            until - s->nr, BL_CHAT_MAX_SKIP);
    while (s->nr < until) {
        uint8_t mk[32];
        chat_kdf_ck(s->ckr, mk);
        skipped_add(s, s->hkr, s->nr, mk);
        sodium_memzero(mk, 32);
        s->nr++;
    }
    return BL_OK;
}

/* DHRatchetHE */
static bl_status dh_ratchet(bl_chat_session *s, const uint8_t dh_pub[32], bl_error *err)
{
    uint8_t d[32];
    s->pn = s->ns;
    s->ns = 0;
    s->nr = 0;
    memcpy(s->hks, s->nhks, 32);
    memcpy(s->hkr, s->nhkr, 32);
    s->have_hks = s->have_hkr = 1;
    memcpy(s->dhr, dh_pub, 32);
    s->have_dhr = 1;
    if (crypto_scalarmult(d, s->dhs_sk, s->dhr) != 0)
        return bl_error_set(err, BL_ECRYPTO, "message rejected: low-order ratchet key");
    chat_kdf_rk(s->rk, d, s->rk, s->ckr, s->nhkr);
    s->have_ckr = 1;
    gen_x25519(s->dhs_sk, s->dhs_pk);
    if (crypto_scalarmult(d, s->dhs_sk, s->dhr) != 0)
        return bl_error_set(err, BL_ECRYPTO, "ratchet DH failed");
    chat_kdf_rk(s->rk, d, s->rk, s->cks, s->nhks);
    s->have_cks = 1;
    sodium_memzero(d, 32);
    return BL_OK;
}

/* HDECRYPT: the plain header (DH key, PN, N) if `hk` opens it. */
static int open_header(const uint8_t hk[32], const uint8_t *msg, const bl_chat_msg *m,
                       uint8_t hdr[CHAT_HEADER])
{
    return crypto_aead_xchacha20poly1305_ietf_decrypt(hdr, NULL, NULL, m->eh + 24,
                                                      CHAT_ENC_HEADER - 24, msg,
                                                      (size_t)(m->eh - msg), m->eh, hk);
}

/* RatchetDecryptHE on a working copy `w` of the state. */
static bl_status decrypt_in(bl_chat_session *w, const uint8_t *msg, const bl_chat_msg *m,
                            uint8_t **pt, size_t *ptlen, bl_error *err)
{
    uint8_t hdr[CHAT_HEADER];
    for (uint32_t i = 0; i < w->nskipped; i++) { /* TrySkippedMessageKeysHE */
        chat_skipped *k = &w->skipped[i];
        if (open_header(k->hk, msg, m, hdr) == 0 && chat_get32(hdr + 36) == k->n) {
            bl_status st = open_with(w, k->mk, msg, m, pt, ptlen, err);
            if (st == BL_OK) {
                sodium_memzero(k, sizeof *k);
                memmove(k, k + 1, (w->nskipped - i - 1) * sizeof *k);
                w->nskipped--;
            }
            return st;
        }
    }
    bl_status st;
    int step;
    if (w->have_hkr && open_header(w->hkr, msg, m, hdr) == 0)
        step = 0;
    else if (open_header(w->nhkr, msg, m, hdr) == 0)
        step = 1;
    else
        return bl_error_set(err, BL_ECRYPTO,
                            "message rejected: authentication failed (header: tampered or not "
                            "for this session)");
    uint32_t pn = chat_get32(hdr + 32), n = chat_get32(hdr + 36);
    if (step && ((st = skip_keys(w, pn, err)) != BL_OK || (st = dh_ratchet(w, hdr, err)) != BL_OK))
        return st;
    if (n < w->nr)
        return bl_error_set(err, BL_ECRYPTO,
                            "message rejected: message %u of this chain was already received "
                            "(replay)",
                            n);
    if ((st = skip_keys(w, n, err)) != BL_OK)
        return st;
    uint8_t mk[32];
    chat_kdf_ck(w->ckr, mk);
    w->nr++;
    st = open_with(w, mk, msg, m, pt, ptlen, err);
    sodium_memzero(mk, 32);
    return st;
}

bl_status bl_chat_decrypt(bl_chat_session *s, const uint8_t *msg, size_t len, uint8_t **pt,
                          size_t *ptlen, bl_error *err)
{
    *pt = NULL;
    *ptlen = 0;
    bl_chat_msg m;
    bl_status st = bl_chat_msg_parse(msg, len, &m, err);
    if (st != BL_OK)
        return st;
    if (m.type == BL_CHAT_MSG_PREKEY &&
        (s->role == 0 || sodium_memcmp(m.ek, s->ek_pk, 32) != 0 ||
         sodium_memcmp(m.ik, s->ad, 32) != 0))
        return bl_error_set(err, BL_ECRYPTO, "message rejected: prekey message for another session");
    bl_chat_session *w = session_alloc();
    if (!w)
        return bl_error_set(err, BL_ENOMEM, "out of guarded memory");
    memcpy(w, s, sizeof *s);
    st = decrypt_in(w, msg, &m, pt, ptlen, err);
    if (st == BL_OK) {
        if (w->role == 0)
            w->pending_prekey = 0; /* an answer arrived: X3DH is complete */
        memcpy(s, w, sizeof *s);
    }
    bl_chat_session_free(w);
    return st;
}

bl_status bl_chat_session_accept(const bl_chat_bankkeys *keys, const uint8_t *msg, size_t len,
                                 bl_chat_session **out, uint8_t **pt, size_t *ptlen,
                                 bl_error *err)
{
    *out = NULL;
    bl_chat_msg m;
    bl_status st = bl_chat_msg_parse(msg, len, &m, err);
    if (st != BL_OK)
        return st;
    if (m.type != BL_CHAT_MSG_PREKEY)
        return bl_error_set(err, BL_ESTATE, "no session with this sender: first message must be "
                                            "a prekey message");
    if (m.spk_id != keys->spk_id)
        return bl_error_set(err, BL_ECRYPTO, "prekey message for unknown signed prekey %u",
                            m.spk_id);
    bl_chat_session *s = session_alloc();
    if (!s)
        return bl_error_set(err, BL_ENOMEM, "out of guarded memory");
    uint8_t dh[96], sk[96];
    int bad = crypto_scalarmult(dh, keys->spk_sk, m.ik) | crypto_scalarmult(dh + 32, keys->x_sk, m.ek) |
              crypto_scalarmult(dh + 64, keys->spk_sk, m.ek);
    if (!bad)
        bad = chat_x3dh_kdf(dh, dh + 32, dh + 64, sk);
    sodium_memzero(dh, sizeof dh);
    if (bad) {
        bl_chat_session_free(s);
        return bl_error_set(err, BL_ECRYPTO, "message rejected: X3DH failed (low-order key)");
    }
    /* RatchetInitBob: DHs = SPK_B, RK = SK */
    s->role = 1;
    memcpy(s->ad, m.ik, 32);
    memcpy(s->ad + 32, keys->ed_pk, 32);
    memcpy(s->ik_pk, m.ik, 32);
    memcpy(s->ek_pk, m.ek, 32);
    s->spk_id = m.spk_id;
    memcpy(s->dhs_sk, keys->spk_sk, 32);
    memcpy(s->dhs_pk, keys->spk_pk, 32);
    memcpy(s->rk, sk, 32);
    /* RatchetInitBobHE: NHKs = shared_nhkb, NHKr = shared_hka */
    memcpy(s->nhks, sk + 64, 32);
    memcpy(s->nhkr, sk + 32, 32);
    sodium_memzero(sk, sizeof sk);
    st = decrypt_in(s, msg, &m, pt, ptlen, err);
    if (st != BL_OK) {
        bl_chat_session_free(s);
        return st;
    }
    *out = s;
    return BL_OK;
}

/* ---- persistence -------------------------------------------------------------- */

#define SESS_MAGIC "BLCS2"
#define SESS_FIXED (5 + 1 + 64 + 32 * 12 + 5 + 12 + 1 + 4 + 4)

bl_status bl_chat_session_save(const bl_chat_session *s, uint8_t **buf, size_t *len,
                               bl_error *err)
{
    size_t n = SESS_FIXED + (size_t)s->nskipped * 68;
    uint8_t *b = sodium_malloc(n), *p = b;
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "out of guarded memory");
    memcpy(p, SESS_MAGIC, 5), p += 5;
    *p++ = s->role;
    memcpy(p, s->ad, 64), p += 64;
    const uint8_t *keys[12] = {s->rk,  s->dhs_sk, s->dhs_pk, s->dhr, s->cks,  s->ckr,
                               s->hks, s->hkr,    s->nhks,   s->nhkr, s->ik_pk, s->ek_pk};
    for (int i = 0; i < 12; i++)
        memcpy(p, keys[i], 32), p += 32;
    *p++ = s->have_dhr, *p++ = s->have_cks, *p++ = s->have_ckr;
    *p++ = s->have_hks, *p++ = s->have_hkr;
    chat_put32(p, s->ns), chat_put32(p + 4, s->nr), chat_put32(p + 8, s->pn), p += 12;
    *p++ = s->pending_prekey;
    chat_put32(p, s->spk_id), p += 4;
    chat_put32(p, s->nskipped), p += 4;
    for (uint32_t i = 0; i < s->nskipped; i++) {
        memcpy(p, s->skipped[i].hk, 32);
        chat_put32(p + 32, s->skipped[i].n);
        memcpy(p + 36, s->skipped[i].mk, 32);
        p += 68;
    }
    *buf = b; /* caller frees with sodium_free */
    *len = n;
    return BL_OK;
}

bl_status bl_chat_session_load(const uint8_t *b, size_t len, bl_chat_session **out, bl_error *err)
{
    *out = NULL;
    if (len < SESS_FIXED || memcmp(b, SESS_MAGIC, 5) != 0)
        return bl_error_set(err, BL_EINPUT, "session file: not a blindlink chat session");
    uint32_t nsk = chat_get32(b + SESS_FIXED - 4);
    if (nsk > BL_CHAT_MAX_SKIPPED_KEPT || len != SESS_FIXED + (size_t)nsk * 68)
        return bl_error_set(err, BL_EINPUT, "session file: bad length");
    bl_chat_session *s = session_alloc();
    if (!s)
        return bl_error_set(err, BL_ENOMEM, "out of guarded memory");
    const uint8_t *p = b + 5;
    s->role = *p++;
    memcpy(s->ad, p, 64), p += 64;
    uint8_t *keys[12] = {s->rk,  s->dhs_sk, s->dhs_pk, s->dhr,  s->cks,   s->ckr,
                         s->hks, s->hkr,    s->nhks,   s->nhkr, s->ik_pk, s->ek_pk};
    for (int i = 0; i < 12; i++)
        memcpy(keys[i], p, 32), p += 32;
    s->have_dhr = *p++, s->have_cks = *p++, s->have_ckr = *p++;
    s->have_hks = *p++, s->have_hkr = *p++;
    s->ns = chat_get32(p), s->nr = chat_get32(p + 4), s->pn = chat_get32(p + 8), p += 12;
    s->pending_prekey = *p++;
    s->spk_id = chat_get32(p), p += 4;
    s->nskipped = chat_get32(p), p += 4;
    for (uint32_t i = 0; i < s->nskipped; i++) {
        memcpy(s->skipped[i].hk, p, 32);
        s->skipped[i].n = chat_get32(p + 32);
        memcpy(s->skipped[i].mk, p + 36, 32);
        p += 68;
    }
    *out = s;
    return BL_OK;
}
