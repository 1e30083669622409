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
#include "core/internal.h"

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
#define TC_MAXTOK 25

/* Keys and values in separate arrays: the two keys of a set share one
 * 64-byte line, a value is one line, so a lookup touches two lines (the
 * key array, 256 KiB, stays in L2). */
typedef struct tc_key {
    uint32_t tag;
    uint16_t feature;
    uint8_t len; /* 0 = empty */
    uint8_t tok[TC_MAXTOK];
} tc_key;

_Static_assert(sizeof(tc_key) == 32, "two keys per cache line");

typedef union tc_val {
    uint64_t d[8];    /* doubleHash: h1, h2 */
    uint16_t idx[32]; /* blakeHash: first 32 indices, already mod L */
} tc_val;

struct bl_token_cache {
    tc_key k[TC_SIZE];
    tc_val v[TC_SIZE];
    uint64_t hits, misses;
};

bl_token_cache *bli_token_cache_new(void)
{
    bl_token_cache *c = bli_aligned_alloc(sizeof(bl_token_cache));
    if (c)
        memset(c, 0, sizeof *c);
    return c;
}

void bli_token_cache_free(bl_token_cache *c)
{
    if (!c)
        return;
    if (getenv("BL_CACHE_STATS"))
        fprintf(stderr, "token cache: %llu hits, %llu misses\n", (unsigned long long)c->hits, (unsigned long long)c->misses);
    sodium_memzero(c, sizeof *c);
    bli_aligned_free(c);
}

/* 2-way set-associative: a set is two adjacent entries, the first the most
 * recently filled; a miss moves it to the second slot and refills the first. */
static uint64_t tc_hash(uint32_t feature, const uint8_t *tok, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ feature;
    for (size_t i = 0; i < len; i++)
        h = (h ^ tok[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static inline size_t tc_set(uint64_t h)
{
    return (size_t)(h & (TC_SIZE - 1)) & ~(size_t)1;
}

static inline int tc_cacheable(const bl_token_cache *c, uint32_t feature, size_t len)
{
    return c && len > 0 && len <= TC_MAXTOK && feature <= 0xffff;
}

static inline void tc_prefetch(const bl_token_cache *c, uint64_t h)
{
    size_t i = tc_set(h);
    __builtin_prefetch(&c->k[i]);
    __builtin_prefetch(&c->v[i]);
    __builtin_prefetch(&c->v[i + 1]);
}

/* The value of (feature, tok), or NULL. Tokens are short: a byte loop beats
 * a call to memcmp. */
static tc_val *tc_find(bl_token_cache *c, uint64_t h, uint32_t feature, const uint8_t *tok, size_t len)
{
    const size_t set = tc_set(h);
    const uint32_t tag = (uint32_t)(h >> 32);
    for (size_t w = set; w < set + 2; w++) {
        const tc_key *e = &c->k[w];
        if (e->len != len || e->tag != tag || e->feature != feature)
            continue;
        size_t i = 0;
        while (i < len && e->tok[i] == tok[i])
            i++;
        if (i == len)
            return &c->v[w];
    }
    return NULL;
}

/* A fresh entry for (feature, tok), evicting the set's older one. */
static tc_val *tc_insert(bl_token_cache *c, uint64_t h, uint32_t feature, const uint8_t *tok, size_t len)
{
    const size_t set = tc_set(h);
    c->k[set + 1] = c->k[set];
    c->v[set + 1] = c->v[set];
    tc_key *e = &c->k[set];
    e->tag = (uint32_t)(h >> 32);
    e->feature = (uint16_t)feature;
    e->len = (uint8_t)len;
    memcpy(e->tok, tok, len);
    return &c->v[set];
}

static tc_val *tc_lookup(bl_token_cache *c, uint32_t feature, const uint8_t *tok, size_t len, int *hit)
{
    uint64_t h = tc_hash(feature, tok, len);
    tc_val *e = tc_find(c, h, feature, tok, len);
    *hit = e != NULL;
    return e ? e : tc_insert(c, h, feature, tok, len);
}

void bli_blake_indices_cached(bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk, const uint8_t *tok,
                             size_t len, uint32_t k, uint32_t L, uint32_t *out)
{
    if (!tc_cacheable(c, feature, len)) {
        bli_blake_indices(bk, tok, len, k, L, out);
        return;
    }
    int hit;
    const uint32_t mask = L - 1;
    tc_val *e = tc_lookup(c, feature, tok, len, &hit);
    if (!hit) {
        uint64_t h[8];
        blake_digest(bk, 0, tok, len, h);
        for (uint32_t q = 0; q < 32; q++)
            e->idx[q] = (uint16_t)blake_index(h, q, mask);
        c->misses++;
    } else {
        c->hits++;
    }
    uint32_t t = k < 32 ? k : 32;
    for (uint32_t i = 0; i < t; i++)
        out[i] = e->idx[i];
    blake_indices_from(bk, tok, len, t, k, mask, out); /* more than 32: digests 1, 2, ... */
}

void bli_double_indices_cached(bl_token_cache *c, uint32_t feature, const bl_double_keys *dk,
                              int prevent_singularity, const uint8_t *tok, size_t len, uint32_t k, uint32_t L,
                              uint32_t *out)
{
    uint64_t h1, h2;
    int hit = 0;
    tc_val *e = NULL;
    if (tc_cacheable(c, feature, len))
        e = tc_lookup(c, feature, tok, len, &hit);
    if (e && hit) {
        h1 = e->d[0];
        h2 = e->d[1];
        c->hits++;
    } else {
        double_pair(dk, prevent_singularity, tok, len, L, &h1, &h2);
        if (e) {
            e->d[0] = h1;
            e->d[1] = h2;
            c->misses++;
        }
    }
    for (uint32_t t = 0; t < k; t++)
        out[t] = (uint32_t)((h1 + (uint64_t)t * h2) % L);
}

/* ---- deferred, multi-buffer blakeHash ----------------------------------------
 * bli_blake_batch_add sets a cached token's bits at once and queues the
 * others; bli_blake_batch_flush hashes every queued digest in one
 * bli_b2_hash_many call (W messages per compression), sets their bits and
 * fills the cache. Bits are ORed, so the order they are set in does not
 * change the filter. */

typedef struct bb_token {
    const bl_blake_keys *bk;
    uint32_t feature, k, mask;
    uint32_t j0;      /* first digest hashed here (1 when digest 0 was cached) */
    size_t off, len;  /* token bytes in the arena */
    size_t job;       /* index of its first job; jobs for j0 .. its last are consecutive */
} bb_token;

struct bl_blake_batch {
    uint8_t *arena;
    size_t alen, acap;
    bb_token *tok;
    size_t ntok, tcap;
    bl_b2_job *jobs;
    size_t njobs, jcap;
    uint64_t *dig; /* 8 words per job */
    size_t dcap;
};

bl_blake_batch *bli_blake_batch_new(void)
{
    return calloc(1, sizeof(bl_blake_batch));
}

void bli_blake_batch_free(bl_blake_batch *b)
{
    if (!b)
        return;
    if (b->arena)
        sodium_memzero(b->arena, b->acap); /* tokens are personal data */
    if (b->dig)
        sodium_memzero(b->dig, b->dcap * 8 * sizeof *b->dig);
    free(b->arena);
    free(b->tok);
    free(b->jobs);
    free(b->dig);
    free(b);
}

void bli_blake_batch_reset(bl_blake_batch *b)
{
    b->ntok = b->njobs = b->alen = 0;
}

static inline void set_digest_bits(const uint64_t h[8], uint32_t from, uint32_t to, uint32_t mask,
                                   uint8_t *bits)
{
    for (uint32_t q = from; q < to; q++)
        bli_bit_set(bits, blake_index(h, q, mask));
}

/* One token: bits from the cache, or queued; `hash` its cache hash. */
static inline int batch_add_one(bl_blake_batch *b, bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk,
                                const uint8_t *tok, size_t len, uint64_t hash, uint32_t k, uint32_t L,
                                uint8_t *bits)
{
    const uint32_t mask = L - 1;
    uint32_t j0 = 0;
    if (tc_cacheable(c, feature, len)) {
        tc_val *e = tc_find(c, hash, feature, tok, len);
        if (e) {
            c->hits++;
            const uint32_t t = k < 32 ? k : 32;
            for (uint32_t i = 0; i < t; i++)
                bli_bit_set(bits, e->idx[i]);
            if (k <= 32)
                return 0;
            j0 = 1;
        }
    }
    /* digests j0 .. need-1 of the precomputed states are queued; any beyond
     * them (more than 32 * nstates bits per token) are hashed at flush */
    uint32_t need = (k + 31) / 32;
    uint32_t nq = need < bk->nstates ? need : (uint32_t)bk->nstates;
    nq = nq > j0 ? nq - j0 : 0;
    if (bli_grow((void **)&b->arena, &b->acap, b->alen + len, 1, 1024) != 0 ||
        bli_grow((void **)&b->tok, &b->tcap, b->ntok + 1, sizeof *b->tok, 64) != 0 ||
        bli_grow((void **)&b->jobs, &b->jcap, b->njobs + nq, sizeof *b->jobs, 64) != 0)
        return -1;
    memcpy(b->arena + b->alen, tok, len);
    b->tok[b->ntok++] = (bb_token){bk, feature, k, mask, j0, b->alen, len, b->njobs};
    for (uint32_t j = j0; j < j0 + nq; j++) /* msg and out are set at flush (buffers may move) */
        b->jobs[b->njobs++] = (bl_b2_job){&bk->states[j], NULL, len, NULL};
    b->alen += len;
    return 0;
}

int bli_blake_batch_add(bl_blake_batch *b, bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk,
                       const uint8_t *tok, size_t len, uint32_t k, uint32_t L, uint8_t *bits)
{
    return batch_add_one(b, c, feature, bk, tok, len, tc_hash(feature, tok, len), k, L, bits);
}

int bli_blake_batch_add_list(bl_blake_batch *b, bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk,
                            const bl_toklist *tl, bl_strategy strategy, uint32_t fk, uint32_t L, uint8_t *bits)
{
    enum { CHUNK = 64 };
    uint64_t hs[CHUNK];
    const size_t n = tl->n;
    for (size_t t0 = 0; t0 < n; t0 += CHUNK) {
        const size_t t1 = n - t0 < CHUNK ? n : t0 + CHUNK;
        /* first start loading the cache lines of every token, so the
         * lookups below overlap their memory latency */
        for (size_t t = t0; t < t1; t++) {
            const uint8_t *tok = (const uint8_t *)tl->buf + tl->off[t];
            const size_t len = tl->off[t + 1] - tl->off[t];
            hs[t - t0] = tc_hash(feature, tok, len);
            if (tc_cacheable(c, feature, len))
                tc_prefetch(c, hs[t - t0]);
        }
        for (size_t t = t0; t < t1; t++) {
            const uint32_t k = bli_token_k(strategy, fk, t, n);
            if (k == 0)
                continue;
            const uint8_t *tok = (const uint8_t *)tl->buf + tl->off[t];
            if (batch_add_one(b, c, feature, bk, tok, tl->off[t + 1] - tl->off[t], hs[t - t0], k, L, bits) != 0)
                return -1;
        }
    }
    return 0;
}

/* The bits of queued token t from its digests (and the cache entry). */
static void batch_token_done(bl_blake_batch *b, bl_token_cache *c, const bb_token *t, uint8_t *bits)
{
    const uint8_t *tok = b->arena + t->off;
    const uint32_t need = (t->k + 31) / 32;
    for (uint32_t j = t->j0; j < need; j++) {
        const uint32_t from = 32 * j, to = t->k < from + 32 ? t->k : from + 32;
        uint64_t h[8];
        const uint64_t *d = h;
        if (j < t->bk->nstates)
            d = b->dig + 8 * (t->job + (j - t->j0));
        else
            blake_digest(t->bk, j, tok, t->len, h);
        set_digest_bits(d, 0, to - from, t->mask, bits);
        if (j == 0 && tc_cacheable(c, t->feature, t->len)) {
            /* a token queued twice in one batch is found on its second pass */
            uint64_t hh = tc_hash(t->feature, tok, t->len);
            if (!tc_find(c, hh, t->feature, tok, t->len)) {
                tc_val *e = tc_insert(c, hh, t->feature, tok, t->len);
                for (uint32_t q = 0; q < 32; q++)
                    e->idx[q] = (uint16_t)blake_index(d, q, t->mask);
            }
            c->misses++;
        }
    }
}

int bli_blake_batch_flush(bl_blake_batch *b, bl_token_cache *c, uint8_t *bits)
{
    if (b->ntok == 0)
        return 0;
    if (bli_grow((void **)&b->dig, &b->dcap, b->njobs, 8 * sizeof *b->dig, 64) != 0)
        return -1;
    for (size_t i = 0; i < b->ntok; i++) {
        const bb_token *t = &b->tok[i];
        const size_t nq = (i + 1 < b->ntok ? b->tok[i + 1].job : b->njobs) - t->job;
        for (size_t q = 0; q < nq; q++) {
            b->jobs[t->job + q].msg = b->arena + t->off;
            b->jobs[t->job + q].out = b->dig + 8 * (t->job + q);
        }
    }
    /* a wide kernel costs about as much for 1-2 messages as for all its
     * lanes (AVX-512: 8 lanes ~ 2.7 one-lane compressions): tiny batches go
     * one by one */
    bli_b2_hash_many(b->njobs <= 2 ? bli_b2_kernel_scalar() : NULL, b->jobs, b->njobs);
    for (size_t i = 0; i < b->ntok; i++)
        batch_token_done(b, c, &b->tok[i], bits);
    bli_blake_batch_reset(b);
    return 0;
}
