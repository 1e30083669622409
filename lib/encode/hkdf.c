/* lib/encode/hkdf.c - RFC 5869 HKDF with HMAC-SHA256 or HMAC-SHA512, used to
 * derive clkhash's per-feature keys. The extract and expand steps are
 * nettle's (hkdf_extract / hkdf_expand over nettle's HMAC); this file only
 * picks the hash, applies RFC 5869's defaults (no salt = HashLen zero bytes),
 * refuses outputs longer than 255 * HashLen (nettle does not check), and
 * wipes the HMAC states, which hold the PRK, before returning. */
#include <assert.h>
#include <string.h>

#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <sodium.h>

#include "encode/encode_internal.h"

/* nettle's HKDF takes the MAC as (void *ctx) callbacks: these adapters call
 * the typed HMAC functions, rather than casting their pointers */
static void up256(void *c, size_t n, const uint8_t *d) { hmac_sha256_update(c, n, d); }
static void dg256(void *c, size_t n, uint8_t *d) { hmac_sha256_digest(c, n, d); }
static void up512(void *c, size_t n, const uint8_t *d) { hmac_sha512_update(c, n, d); }
static void dg512(void *c, size_t n, uint8_t *d) { hmac_sha512_digest(c, n, d); }

int bli_hkdf(int sha512, const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
            const uint8_t *info, size_t info_len, uint8_t *okm, size_t okm_len)
{
    const size_t hl = sha512 ? SHA512_DIGEST_SIZE : SHA256_DIGEST_SIZE;
    if (okm_len > 255 * hl)
        return -1;
    static const uint8_t zeros[SHA512_DIGEST_SIZE] = {0};
    static const uint8_t empty[1] = {0};
    if (!salt) {
        salt = zeros;
        salt_len = hl;
    }
    if (!info)
        info = empty, info_len = 0;
    uint8_t prk[SHA512_DIGEST_SIZE];
    assert(hl <= sizeof prk);
    if (sha512) {
        struct hmac_sha512_ctx ctx;
        hmac_sha512_set_key(&ctx, salt_len, salt);
        hkdf_extract(&ctx, up512,
                     dg512, hl, ikm_len, ikm, prk);
        hmac_sha512_set_key(&ctx, hl, prk);
        hkdf_expand(&ctx, up512,
                    dg512, hl, info_len, info, okm_len, okm);
        sodium_memzero(&ctx, sizeof ctx);
    } else {
        struct hmac_sha256_ctx ctx;
        hmac_sha256_set_key(&ctx, salt_len, salt);
        hkdf_extract(&ctx, up256,
                     dg256, hl, ikm_len, ikm, prk);
        hmac_sha256_set_key(&ctx, hl, prk);
        hkdf_expand(&ctx, up256,
                    dg256, hl, info_len, info, okm_len, okm);
        sodium_memzero(&ctx, sizeof ctx);
    }
    sodium_memzero(prk, sizeof prk);
    return 0;
}
