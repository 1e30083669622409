/* lib/tokenhash.c - token -> Bloom filter bit indices, as clkhash 0.18.3.
 *
 * blakeHash: digest j = BLAKE2b-512(token, key = key_a, salt = ASCII j
 * zero-padded to 16 bytes, person = 16 zero bytes); the digests are read as
 * consecutive little-endian uint16 values, index_t = u_t mod L.
 * doubleHash: h1 = HMAC-SHA1(key_a, token) and h2 = HMAC-MD5(key_b, token)
 * as big-endian integers mod L; index_t = (h1 + t*h2) mod L, with optional
 * re-hashing of h2 == 0 (prevent_singularity). HMACs come from nettle;
 * their keyed inner/outer states are computed once per feature. */
#include <stdio.h>
#include <string.h>

#include <nettle/md5.h>
#include <nettle/sha1.h>

#include "encode_internal.h"

void bl_blake_salt(uint32_t j, uint8_t salt[16])
{
    char tmp[16];
    memset(salt, 0, 16);
    int n = snprintf(tmp, sizeof tmp, "%u", j);
    memcpy(salt, tmp, (size_t)n);
}

void bl_blake_indices(const bl_blake_keys *bk, const uint8_t *tok, size_t len, uint32_t k,
                      uint32_t L, uint32_t *out)
{
    const uint32_t mask = L - 1; /* L is a power of two (checked by the schema) */
    uint32_t t = 0;
    for (uint32_t j = 0; t < k; j++) {
        uint64_t h[8];
        if (j < bk->nstates) {
            bl_b2_keyed_hash(&bk->states[j], tok, len, h);
        } else {
            bl_b2_keyed tmp;
            uint8_t salt[16];
            bl_blake_salt(j, salt);
            bl_b2_keyed_init(&tmp, bk->key, bk->keylen, salt, NULL, 64);
            bl_b2_keyed_hash(&tmp, tok, len, h);
        }
        for (int w = 0; w < 8 && t < k; w++)
            for (int q = 0; q < 4 && t < k; q++)
                out[t++] = (uint32_t)((h[w] >> (16 * q)) & 0xffffu) & mask;
    }
}

uint32_t bl_be_mod(const uint8_t *d, size_t n, uint32_t L)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++)
        r = ((r << 8) | d[i]) % L;
    return (uint32_t)r;
}

void bl_double_keys_init(bl_double_keys *dk, const uint8_t *key_a, const uint8_t *key_b,
                         size_t keylen)
{
    hmac_sha1_set_key(&dk->sha1, keylen, key_a);
    hmac_md5_set_key(&dk->md5, keylen, key_b);
}

void bl_double_indices(const bl_double_keys *dk, int prevent_singularity, const uint8_t *tok,
                       size_t len, uint32_t k, uint32_t L, uint32_t *out)
{
    struct hmac_sha1_ctx sha1 = dk->sha1;
    struct hmac_md5_ctx md5 = dk->md5;
    uint8_t d1[SHA1_DIGEST_SIZE], d2[MD5_DIGEST_SIZE];
    hmac_sha1_update(&sha1, len, tok);
    hmac_sha1_digest(&sha1, sizeof d1, d1);
    hmac_md5_update(&md5, len, tok);
    hmac_md5_digest(&md5, sizeof d2, d2);
    uint64_t h1 = bl_be_mod(d1, sizeof d1, L);
    uint64_t h2 = bl_be_mod(d2, sizeof d2, L);
    if (prevent_singularity && h2 == 0) {
        /* h2 = HMAC-MD5(key_b, token || chr(c).encode('utf-8')) for c = 0, 1, ... */
        for (uint32_t c = 0; h2 == 0 && c < 0x110000; c++) {
            if (c >= 0xd800 && c < 0xe000)
                continue; /* Python cannot UTF-8 encode surrogates */
            uint8_t u[4];
            size_t n;
            if (c < 0x80) {
                u[0] = (uint8_t)c;
                n = 1;
            } else if (c < 0x800) {
                u[0] = (uint8_t)(0xc0 | (c >> 6));
                u[1] = (uint8_t)(0x80 | (c & 0x3f));
                n = 2;
            } else if (c < 0x10000) {
                u[0] = (uint8_t)(0xe0 | (c >> 12));
                u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
                u[2] = (uint8_t)(0x80 | (c & 0x3f));
                n = 3;
            } else {
                u[0] = (uint8_t)(0xf0 | (c >> 18));
                u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
                u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
                u[3] = (uint8_t)(0x80 | (c & 0x3f));
                n = 4;
            }
            md5 = dk->md5;
            hmac_md5_update(&md5, len, tok);
            hmac_md5_update(&md5, n, u);
            hmac_md5_digest(&md5, sizeof d2, d2);
            h2 = bl_be_mod(d2, sizeof d2, L);
        }
    }
    for (uint32_t t = 0; t < k; t++)
        out[t] = (uint32_t)((h1 + (uint64_t)t * h2) % L);
}
