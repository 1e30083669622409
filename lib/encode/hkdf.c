/* lib/encode/hkdf.c - RFC 5869 HKDF with HMAC-SHA256 or HMAC-SHA512 (libsodium's
 * HMAC primitives), used to derive clkhash's per-feature keys.
 * Intermediate values (PRK, T(i)) are wiped before returning. */
#include <sodium.h>
#include <string.h>

#include "encode/encode_internal.h"

static void hmac(int sha512, const uint8_t *key, size_t keylen, const uint8_t *a, size_t alen,
                 const uint8_t *b, size_t blen, const uint8_t *c, size_t clen, uint8_t *out)
{
    if (sha512) {
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, key, keylen);
        crypto_auth_hmacsha512_update(&st, a, alen);
        crypto_auth_hmacsha512_update(&st, b, blen);
        crypto_auth_hmacsha512_update(&st, c, clen);
        crypto_auth_hmacsha512_final(&st, out);
        sodium_memzero(&st, sizeof st);
    } else {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, keylen);
        crypto_auth_hmacsha256_update(&st, a, alen);
        crypto_auth_hmacsha256_update(&st, b, blen);
        crypto_auth_hmacsha256_update(&st, c, clen);
        crypto_auth_hmacsha256_final(&st, out);
        sodium_memzero(&st, sizeof st);
    }
}

int bl_hkdf(int sha512, const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
            const uint8_t *info, size_t info_len, uint8_t *okm, size_t okm_len)
{
    const size_t hl = sha512 ? 64 : 32;
    if (okm_len > 255 * hl)
        return -1;
    uint8_t zeros[64] = {0};
    uint8_t prk[64], t[64];
    static const uint8_t empty[1] = {0};
    if (!salt) {
        salt = zeros;
        salt_len = hl;
    }
    if (!info)
        info = empty, info_len = 0;
    /* extract: PRK = HMAC(salt, IKM) */
    hmac(sha512, salt, salt_len, ikm, ikm_len, empty, 0, empty, 0, prk);
    /* expand: T(i) = HMAC(PRK, T(i-1) | info | i) */
    size_t done = 0, tlen = 0;
    for (uint8_t i = 1; done < okm_len; i++) {
        uint8_t ctr = i;
        hmac(sha512, prk, hl, t, tlen, info, info_len, &ctr, 1, t);
        tlen = hl;
        size_t n = okm_len - done < hl ? okm_len - done : hl;
        memcpy(okm + done, t, n);
        done += n;
    }
    sodium_memzero(prk, sizeof prk);
    sodium_memzero(t, sizeof t);
    return 0;
}
