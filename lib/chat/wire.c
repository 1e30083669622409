/* lib/chat/wire.c - chat message codec (pure parser, driven by
 * fuzz/fuzz_chat_envelope.c), base64 (libsodium's URL-safe variant, no
 * padding, the same as libsodium.js), the prekey bundle's JSON form
 * (jansson), and the bank's key loading. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include <blindlink/io.h>
#include <blindlink/psi.h>

#include "chat/chat_internal.h"
#include "psi/wire.h"

int bl_chat_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

int64_t bl_chat_now(void)
{
    const char *e = getenv(BL_CHAT_NOW_ENV);
    if (e && *e) {
        char *end;
        long long v = strtoll(e, &end, 10);
        if (*end == '\0')
            return v;
    }
    return (int64_t)time(NULL);
}

bl_status bl_chat_msg_parse(const uint8_t *buf, size_t len, bl_chat_msg *m, bl_error *err)
{
    memset(m, 0, sizeof *m);
    if (len < 2)
        return bl_error_set(err, BL_EPROTO, "chat message: %zu bytes, too short for a header", len);
    if (len > BL_CHAT_MAX_MESSAGE)
        return bl_error_set(err, BL_ELIMIT, "chat message: %zu bytes exceeds the %d-byte limit",
                            len, BL_CHAT_MAX_MESSAGE);
    if (buf[0] != BL_CHAT_VERSION)
        return bl_error_set(err, BL_EPROTO, "chat message: byte 0 (version) is %u, expected %d",
                            buf[0], BL_CHAT_VERSION);
    if (buf[1] != BL_CHAT_MSG_PREKEY && buf[1] != BL_CHAT_MSG_NORMAL)
        return bl_error_set(err, BL_EPROTO, "chat message: byte 1 (type) is %u, expected 1 or 2",
                            buf[1]);
    m->type = buf[1];
    size_t off = 2;
    if (m->type == BL_CHAT_MSG_PREKEY) {
        if (len < off + CHAT_PREKEY_PREFIX)
            return bl_error_set(err, BL_EPROTO, "chat message: truncated prekey fields at byte %zu",
                                off);
        m->ik = buf + off;
        m->ek = buf + off + 32;
        m->spk_id = chat_get32(buf + off + 64);
        off += CHAT_PREKEY_PREFIX;
    }
    if (len < off + CHAT_ENC_HEADER)
        return bl_error_set(err, BL_EPROTO, "chat message: truncated ratchet header at byte %zu",
                            off);
    m->eh = buf + off;
    off += CHAT_ENC_HEADER;
    m->header_len = off;
    if (len - off < CHAT_TAG + CHAT_PAD_BLOCK || (len - off - CHAT_TAG) % CHAT_PAD_BLOCK != 0)
        return bl_error_set(err, BL_EPROTO,
                            "chat message: ciphertext of %zu bytes at byte %zu is not a padded "
                            "block plus tag",
                            len - off, off);
    m->ct = buf + off;
    m->ct_len = len - off;
    return BL_OK;
}

/* ---- base64 ------------------------------------------------------------------ */

char *bl_chat_b64(const uint8_t *buf, size_t len)
{
    const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t n = sodium_base64_ENCODED_LEN(len, v);
    char *s = malloc(n);
    if (s)
        sodium_bin2base64(s, n, buf, len, v);
    return s;
}

bl_status bl_chat_unb64(const char *s, uint8_t **out, size_t *len, size_t max, bl_error *err)
{
    *out = NULL;
    *len = 0;
    size_t sl = strlen(s);
    if (sl > (max / 3 + 1) * 4 + 4)
        return bl_error_set(err, BL_ELIMIT, "base64 value of %zu characters exceeds the limit", sl);
    uint8_t *b = malloc(sl * 3 / 4 + 1);
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    const char *end = NULL;
    if (sodium_base642bin(b, sl * 3 / 4 + 1, s, sl, NULL, len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + sl) {
        free(b);
        return bl_error_set(err, BL_EINPUT, "invalid base64 at character %zu",
                            end ? (size_t)(end - s) : 0);
    }
    if (*len > max) {
        free(b);
        return bl_error_set(err, BL_ELIMIT, "value of %zu bytes exceeds the %zu-byte limit", *len,
                            max);
    }
    *out = b;
    return BL_OK;
}

/* ---- bundle JSON ---------------------------------------------------------------- */

char *bl_chat_bundle_to_json(const bl_chat_bundle *b)
{
    char *ik = bl_chat_b64(b->ik, 32), *spk = bl_chat_b64(b->spk, 32), *sig = bl_chat_b64(b->sig, 64);
    char *out = NULL;
    if (ik && spk && sig) {
        json_t *o = json_pack("{s:s,s:s,s:I,s:s}", "ik", ik, "spk", spk, "spk_id",
                              (json_int_t)b->spk_id, "sig", sig);
        if (o)
            out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
    }
    free(ik), free(spk), free(sig);
    return out;
}

static bl_status field_bytes(json_t *o, const char *name, uint8_t *dst, size_t n, bl_error *err)
{
    const char *v = json_string_value(json_object_get(o, name));
    if (!v)
        return bl_error_set(err, BL_EPROTO, "bundle: $.%s missing or not a string", name);
    uint8_t *b = NULL;
    size_t len = 0;
    if (bl_chat_unb64(v, &b, &len, n, err) != BL_OK || len != n) {
        free(b);
        return bl_error_set(err, BL_EPROTO, "bundle: $.%s is not %zu bytes of base64", name, n);
    }
    memcpy(dst, b, n);
    free(b);
    return BL_OK;
}

bl_status bl_chat_bundle_from_json(const char *json, bl_chat_bundle *b, bl_error *err)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return bl_error_set(err, BL_EPROTO, "bundle: not a JSON object (line %d column %d)",
                            je.line, je.column);
    }
    bl_status st = field_bytes(o, "ik", b->ik, 32, err);
    if (st == BL_OK)
        st = field_bytes(o, "spk", b->spk, 32, err);
    if (st == BL_OK)
        st = field_bytes(o, "sig", b->sig, 64, err);
    json_t *id = json_object_get(o, "spk_id");
    if (st == BL_OK && (!json_is_integer(id) || json_integer_value(id) < 0 ||
                        json_integer_value(id) > 0xFFFFFFFFLL))
        st = bl_error_set(err, BL_EPROTO, "bundle: $.spk_id is not a 32-bit unsigned integer");
    if (st == BL_OK)
        b->spk_id = (uint32_t)json_integer_value(id);
    json_decref(o);
    return st;
}

/* ---- bank keys ------------------------------------------------------------------- */


void bl_chat_bankkeys_free(bl_chat_bankkeys *k)
{
    if (k)
        sodium_free(k);
}

/* signed prekey file: "blchat-spk:<id hex 8><secret hex 64>\n", mode 0600 */
static bl_status spk_load_or_create(bl_chat_bankkeys *k, const char *path, bl_error *err)
{
    bl_secret sec = {0};
    struct stat st;
    if (stat(path, &st) == 0) {
        bl_status s = bl_secret_load(path, NULL, &sec, err);
        if (s != BL_OK)
            return s;
        uint8_t raw[36];
        size_t got = 0;
        const char *end = NULL;
        int bad = sec.len != 11 + 72 || memcmp(sec.bytes, "blchat-spk:", 11) != 0 ||
                  sodium_hex2bin(raw, 36, (const char *)sec.bytes + 11, 72, NULL, &got, &end) ||
                  got != 36;
        if (!bad) {
            k->spk_id = chat_get32(raw);
            memcpy(k->spk_sk, raw + 4, 32);
        }
        sodium_memzero(raw, sizeof raw);
        bl_secret_free(&sec);
        if (bad)
            return bl_error_set(err, BL_EINPUT, "%s: not a blindlink chat signed prekey file", path);
    } else {
        uint8_t raw[36];
        randombytes_buf(raw, 4);
        raw[0] &= 0x7F;
        chat_random(raw + 4, 32);
        k->spk_id = chat_get32(raw);
        memcpy(k->spk_sk, raw + 4, 32);
        char *text = sodium_malloc(11 + 72 + 2);
        if (!text)
            return bl_error_set(err, BL_ENOMEM, "out of guarded memory");
        memcpy(text, "blchat-spk:", 11);
        sodium_bin2hex(text + 11, 73, raw, 36);
        text[83] = '\n';
        text[84] = 0;
        sodium_memzero(raw, sizeof raw);
        bl_ofile *f = NULL;
        bl_status s = bl_ofile_open(path, &f, err);
        if (s == BL_OK) {
            fputs(text, bl_ofile_stream(f));
            s = bl_ofile_commit(f, err);
        }
        sodium_free(text);
        if (s != BL_OK)
            return s;
    }
    crypto_scalarmult_base(k->spk_pk, k->spk_sk);
    return BL_OK;
}

bl_status bl_chat_bankkeys_load(const char *keyfile, const char *spk_file, bl_chat_bankkeys **out,
                                bl_error *err)
{
    *out = NULL;
    bl_psi_identity *id = NULL;
    bl_status s = bl_psi_identity_load(keyfile, NULL, &id, err);
    if (s != BL_OK)
        return s;
    bl_chat_bankkeys *k = sodium_malloc(sizeof *k);
    if (!k) {
        bl_psi_identity_free(id);
        return bl_error_set(err, BL_ENOMEM, "out of guarded memory");
    }
    memcpy(k->ed_pk, id->pk, 32);
    memcpy(k->ed_sk, id->sk, 64);
    bl_psi_identity_free(id);
    if (crypto_sign_ed25519_sk_to_curve25519(k->x_sk, k->ed_sk) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(k->x_pk, k->ed_pk) != 0) {
        bl_chat_bankkeys_free(k);
        return bl_error_set(err, BL_ECRYPTO, "cannot convert the identity key to X25519");
    }
    s = spk_load_or_create(k, spk_file, err);
    if (s != BL_OK) {
        bl_chat_bankkeys_free(k);
        return s;
    }
    chat_bankkeys_sign_spk(k);
    *out = k;
    return BL_OK;
}

bl_status chat_bankkeys_from_seed(const uint8_t seed[32], const uint8_t spk_sk[32], uint32_t spk_id,
                                  bl_chat_bankkeys **out)
{
    bl_chat_bankkeys *k = sodium_malloc(sizeof *k);
    if (!k)
        return BL_ENOMEM;
    crypto_sign_seed_keypair(k->ed_pk, k->ed_sk, seed);
    if (crypto_sign_ed25519_sk_to_curve25519(k->x_sk, k->ed_sk) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(k->x_pk, k->ed_pk) != 0) {
        sodium_free(k);
        return BL_ECRYPTO;
    }
    memcpy(k->spk_sk, spk_sk, 32);
    crypto_scalarmult_base(k->spk_pk, k->spk_sk);
    k->spk_id = spk_id;
    chat_bankkeys_sign_spk(k);
    *out = k;
    return BL_OK;
}
