/* lib/encode/tokenhash.c - token -> Bloom filter bit indices, as clkhash 0.18.3.
 *
 * blakeHash: digest j = BLAKE2b-512(token, key = key_a, salt = ASCII j
 * zero-padded to 16 bytes, person = 16 zero bytes); the digests are read as
 * consecutive little-endian uint16 values, index_t = u_t mod L.
 * doubleHash: h1 = HMAC-SHA1(key_a, token) and h2 = HMAC-MD5(key_b, token)
 * as big-endian integers mod L; index_t = (h1 + t*h2) mod L, with optional
 * re-hashing of h2 == 0 (prevent_singularity). HMACs come from nettle;
 * their keyed inner/outer states are computed once per feature. */
#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <utf8proc.h>

#include "encode/encode_internal.h"

void bli_blake_salt(uint32_t j, uint8_t salt[16])
{
    char tmp[16];
    memset(salt, 0, 16);
    int n = snprintf(tmp, sizeof tmp, "%u", j);
    memcpy(salt, tmp, (size_t)n);
}

/* Digest j of a token: precomputed keyed state when there is one, else the
 * key with salt j (more than nstates * 32 bits per token is rare). */
static void blake_digest(const bl_blake_keys *bk, uint32_t j, const uint8_t *tok, size_t len,
                         uint64_t h[8])
{
    if (j < bk->nstates) {
        bli_b2_keyed_hash(&bk->states[j], tok, len, h);
        return;
    }
    bl_b2_keyed tmp;
    uint8_t salt[16];
    bli_blake_salt(j, salt);
    bli_b2_keyed_init(&tmp, bk->key, bk->keylen, salt, NULL, 64);
    bli_b2_keyed_hash(&tmp, tok, len, h);
}

/* Index q (0..31) of a digest: its q-th little-endian uint16, mod L. */
static inline uint32_t blake_index(const uint64_t h[8], uint32_t q, uint32_t mask)
{
    return (uint32_t)((h[q / 4] >> (16 * (q % 4))) & 0xffffu) & mask;
}

/* out[t] for t in [from, k): indices 32j .. 32j+31 come from digest j */
static void blake_indices_from(const bl_blake_keys *bk, const uint8_t *tok, size_t len,
                               uint32_t from, uint32_t k, uint32_t mask, uint32_t *out)
{
    uint32_t t = from;
    while (t < k) {
        uint64_t h[8];
        blake_digest(bk, t / 32, tok, len, h);
        for (uint32_t q = t % 32; q < 32 && t < k; q++)
            out[t++] = blake_index(h, q, mask);
    }
}

void bli_blake_indices(const bl_blake_keys *bk, const uint8_t *tok, size_t len, uint32_t k,
                      uint32_t L, uint32_t *out)
{
    assert(L && (L & (L - 1)) == 0); /* a power of two (checked by the schema) */
    blake_indices_from(bk, tok, len, 0, k, L - 1, out);
}

uint32_t bli_be_mod(const uint8_t *d, size_t n, uint32_t L)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++)
        r = ((r << 8) | d[i]) % L;
    return (uint32_t)r;
}

void bli_double_keys_init(bl_double_keys *dk, const uint8_t *key_a, const uint8_t *key_b,
                         size_t keylen)
{
    hmac_sha1_set_key(&dk->sha1, keylen, key_a);
    hmac_md5_set_key(&dk->md5, keylen, key_b);
}

/* h1, h2 of doubleHash (h2 after singularity prevention). */
static void double_pair(const bl_double_keys *dk, int prevent_singularity, const uint8_t *tok, size_t len,
                        uint32_t L, uint64_t *h1out, uint64_t *h2out)
{
    struct hmac_sha1_ctx sha1 = dk->sha1;
    struct hmac_md5_ctx md5 = dk->md5;
    uint8_t d1[SHA1_DIGEST_SIZE], d2[MD5_DIGEST_SIZE];
    hmac_sha1_update(&sha1, len, tok);
    hmac_sha1_digest(&sha1, sizeof d1, d1);
    hmac_md5_update(&md5, len, tok);
    hmac_md5_digest(&md5, sizeof d2, d2);
    uint64_t h1 = bli_be_mod(d1, sizeof d1, L);
    uint64_t h2 = bli_be_mod(d2, sizeof d2, L);
    if (prevent_singularity && h2 == 0) {
        /* h2 = HMAC-MD5(key_b, token || chr(c).encode('utf-8')) for c = 0, 1, ... */
        for (uint32_t c = 0; h2 == 0 && c < 0x110000; c++) {
            if (c >= 0xd800 && c < 0xe000)
                continue; /* Python cannot UTF-8 encode surrogates */
            uint8_t u[4];
            size_t n = (size_t)utf8proc_encode_char((utf8proc_int32_t)c, u);
            md5 = dk->md5;
            hmac_md5_update(&md5, len, tok);
            hmac_md5_update(&md5, n, u);
            hmac_md5_digest(&md5, sizeof d2, d2);
            h2 = bli_be_mod(d2, sizeof d2, L);
        }
    }
    *h1out = h1;
    *h2out = h2;
}

void bli_double_indices(const bl_double_keys *dk, int prevent_singularity, const uint8_t *tok,
                       size_t len, uint32_t k, uint32_t L, uint32_t *out)
{
    uint64_t h1, h2;
    double_pair(dk, prevent_singularity, tok, len, L, &h1, &h2);
    for (uint32_t t = 0; t < k; t++)
        out[t] = (uint32_t)((h1 + (uint64_t)t * h2) % L);
}

/* ---- per-thread token cache ------------------------------------------------------
 * Real data repeats tokens heavily (date digits, e-mail domains, common name
 * n-grams), and a token's digest depends only on (feature, token bytes).
 * A small direct-mapped cache of the first BLAKE2b digest (or the doubleHash
 * pair h1, h2) skips most hash computations. Entries are wiped on free. */

#define TC_BITS 13
#define TC_SIZE (1u << TC_BITS)
#define TC_MAXTOK 22

typedef struct tc_entry {
    uint32_t tag;
    uint16_t feature;
    uint8_t len;     /* 0 = empty */
    uint8_t tok[TC_MAXTOK + 1];
    union {
        uint64_t d[8];      /* doubleHash: h1, h2 */
        uint16_t idx[32];   /* blakeHash: first 32 indices, already mod L */
    } u;
} tc_entry;

struct bl_token_cache {
    tc_entry e[TC_SIZE];
    uint64_t hits, misses;
};

bl_token_cache *bli_token_cache_new(void)
{
    return calloc(1, sizeof(bl_token_cache));
}

void bli_token_cache_free(bl_token_cache *c)
{
    if (!c)
        return;
    if (getenv("BL_CACHE_STATS"))
        fprintf(stderr, "token cache: %llu hits, %llu misses\n", (unsigned long long)c->hits, (unsigned long long)c->misses);
    sodium_memzero(c, sizeof *c);
    free(c);
}

/* 2-way set-associative: a set is two adjacent entries, the first the most
 * recently filled; a miss moves it to the second slot and refills the first. */
static tc_entry *tc_lookup(bl_token_cache *c, uint32_t feature, const uint8_t *tok, size_t len, int *hit)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ feature;
    for (size_t i = 0; i < len; i++)
        h = (h ^ tok[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    tc_entry *set = &c->e[(h & (TC_SIZE - 1)) & ~(uint64_t)1];
    uint32_t tag = (uint32_t)(h >> 32);
    for (int w = 0; w < 2; w++) {
        tc_entry *e = &set[w];
        if (e->len == len && e->tag == tag && e->feature == feature && memcmp(e->tok, tok, len) == 0) {
            *hit = 1;
            return e;
        }
    }
    *hit = 0;
    set[1] = set[0];
    tc_entry *e = &set[0];
    e->tag = tag;
    e->feature = (uint16_t)feature;
    e->len = (uint8_t)len;
    memcpy(e->tok, tok, len);
    return e;
}

void bli_blake_indices_cached(bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk, const uint8_t *tok,
                             size_t len, uint32_t k, uint32_t L, uint32_t *out)
{
    if (!c || len == 0 || len > TC_MAXTOK || feature > 0xffff) {
        bli_blake_indices(bk, tok, len, k, L, out);
        return;
    }
    int hit;
    const uint32_t mask = L - 1;
    tc_entry *e = tc_lookup(c, feature, tok, len, &hit);
    if (!hit) {
        uint64_t h[8];
        blake_digest(bk, 0, tok, len, h);
        for (uint32_t q = 0; q < 32; q++)
            e->u.idx[q] = (uint16_t)blake_index(h, q, mask);
        c->misses++;
    } else {
        c->hits++;
    }
    uint32_t t = k < 32 ? k : 32;
    for (uint32_t i = 0; i < t; i++)
        out[i] = e->u.idx[i];
    blake_indices_from(bk, tok, len, t, k, mask, out); /* more than 32: digests 1, 2, ... */
}

void bli_double_indices_cached(bl_token_cache *c, uint32_t feature, const bl_double_keys *dk,
                              int prevent_singularity, const uint8_t *tok, size_t len, uint32_t k, uint32_t L,
                              uint32_t *out)
{
    uint64_t h1, h2;
    int hit = 0;
    tc_entry *e = NULL;
    if (c && len > 0 && len <= TC_MAXTOK && feature <= 0xffff)
        e = tc_lookup(c, feature, tok, len, &hit);
    if (e && hit) {
        h1 = e->u.d[0];
        h2 = e->u.d[1];
        c->hits++;
    } else {
        double_pair(dk, prevent_singularity, tok, len, L, &h1, &h2);
        if (e) {
            e->u.d[0] = h1;
            e->u.d[1] = h2;
            c->misses++;
        }
    }
    for (uint32_t t = 0; t < k; t++)
        out[t] = (uint32_t)((h1 + (uint64_t)t * h2) % L);
}
