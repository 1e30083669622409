/* lib/encode/blake2b.c - BLAKE2b (RFC 7693) with salt/personalisation and a
 * precomputed keyed state.
 *
 * clkhash hashes every token with a keyed BLAKE2b; a keyed hash of a short
 * message costs two compressions (key block + message block). The key block
 * is the same for every token of a feature, so bli_b2_keyed_init compresses
 * it once and bli_b2_keyed_hash starts from that state: one compression per
 * short token. Verified against libsodium's
 * crypto_generichash_blake2b_salt_personal in tests/unit/test_encode_stages.c. */
#include <string.h>

#include "encode/encode_internal.h"
#include "core/internal.h"

static const uint64_t iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotr(uint64_t x, int n)
{
    return (x >> n) | (x << (64 - n));
}

#define G(a, b, c, d, x, y)                                                                        \
    do {                                                                                           \
        a = a + b + (x);                                                                           \
        d = rotr(d ^ a, 32);                                                                       \
        c = c + d;                                                                                 \
        b = rotr(b ^ c, 24);                                                                       \
        a = a + b + (y);                                                                           \
        d = rotr(d ^ a, 16);                                                                       \
        c = c + d;                                                                                 \
        b = rotr(b ^ c, 63);                                                                       \
    } while (0)

/* One round with the message schedule of round r as compile-time constants
 * (the rounds are unrolled so every m[] index is a constant and the 16
 * message words stay in registers). */
#define ROUND(r)                                                                                   \
    do {                                                                                           \
        G(v0, v4, v8, v12, m[sigma[r][0]], m[sigma[r][1]]);                                        \
        G(v1, v5, v9, v13, m[sigma[r][2]], m[sigma[r][3]]);                                        \
        G(v2, v6, v10, v14, m[sigma[r][4]], m[sigma[r][5]]);                                       \
        G(v3, v7, v11, v15, m[sigma[r][6]], m[sigma[r][7]]);                                       \
        G(v0, v5, v10, v15, m[sigma[r][8]], m[sigma[r][9]]);                                       \
        G(v1, v6, v11, v12, m[sigma[r][10]], m[sigma[r][11]]);                                     \
        G(v2, v7, v8, v13, m[sigma[r][12]], m[sigma[r][13]]);                                      \
        G(v3, v4, v9, v14, m[sigma[r][14]], m[sigma[r][15]]);                                      \
    } while (0)

/* Compress one 128-byte block; t = total bytes so far (incl. this block). */
static void compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last)
{
    uint64_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = bli_load_le64(block + 8 * i);
    uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
    uint64_t v8 = iv[0], v9 = iv[1], v10 = iv[2], v11 = iv[3];
    uint64_t v12 = iv[4] ^ t, v13 = iv[5], v14 = last ? ~iv[6] : iv[6], v15 = iv[7];
    ROUND(0);
    ROUND(1);
    ROUND(2);
    ROUND(3);
    ROUND(4);
    ROUND(5);
    ROUND(6);
    ROUND(7);
    ROUND(8);
    ROUND(9);
    ROUND(10);
    ROUND(11);
    h[0] ^= v0 ^ v8;
    h[1] ^= v1 ^ v9;
    h[2] ^= v2 ^ v10;
    h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12;
    h[5] ^= v5 ^ v13;
    h[6] ^= v6 ^ v14;
    h[7] ^= v7 ^ v15;
}

void bli_b2_keyed_init(bl_b2_keyed *k, const uint8_t *key, size_t keylen, const uint8_t *salt,
                      const uint8_t *personal, size_t outlen)
{
    memset(k, 0, sizeof *k);
    for (int i = 0; i < 8; i++)
        k->h0[i] = iv[i];
    k->h0[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ (uint64_t)outlen;
    if (salt) {
        k->h0[4] ^= bli_load_le64(salt);
        k->h0[5] ^= bli_load_le64(salt + 8);
    }
    if (personal) {
        k->h0[6] ^= bli_load_le64(personal);
        k->h0[7] ^= bli_load_le64(personal + 8);
    }
    k->keylen = keylen;
    k->outlen = outlen;
    memcpy(k->hk, k->h0, sizeof k->hk);
    if (keylen) {
        memcpy(k->keyblock, key, keylen);
        compress(k->hk, k->keyblock, 128, 0);
    }
}

void bli_b2_keyed_hash(const bl_b2_keyed *k, const uint8_t *msg, size_t len, uint64_t out[8])
{
    uint64_t h[8];
    uint64_t t;
    if (k->keylen) {
        if (len == 0) { /* the key block is the only, final block */
            memcpy(h, k->h0, sizeof h);
            compress(h, k->keyblock, 128, 1);
            memcpy(out, h, sizeof h);
            return;
        }
        memcpy(h, k->hk, sizeof h);
        t = 128;
    } else {
        memcpy(h, k->h0, sizeof h);
        t = 0;
    }
    while (len > 128) {
        t += 128;
        compress(h, msg, t, 0);
        msg += 128;
        len -= 128;
    }
    uint8_t block[128];
    memset(block, 0, sizeof block);
    memcpy(block, msg, len);
    t += len;
    compress(h, block, t, 1);
    memcpy(out, h, sizeof h);
}

void bli_blake2b(uint8_t *out, size_t outlen, const uint8_t *msg, size_t len, const uint8_t *key,
                size_t keylen, const uint8_t *salt, const uint8_t *personal)
{
    bl_b2_keyed k;
    uint64_t h[8];
    uint8_t full[64];
    bli_b2_keyed_init(&k, key, keylen, salt, personal, outlen);
    bli_b2_keyed_hash(&k, msg, len, h);
    for (int i = 0; i < 8; i++)
        bli_store_le64(full + 8 * i, h[i]);
    memcpy(out, full, outlen);
}
