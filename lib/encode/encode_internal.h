/* lib/encode/encode_internal.h - the encoder's stages, one file each, exposed
 * inside the library (and to unit tests): HKDF, BLAKE2b with precomputed
 * keyed state, token -> bit indices, tokenisers, value formatting, bloom
 * filter combine/fold/pack. */
#ifndef BLINDLINK_ENCODE_INTERNAL_H
#define BLINDLINK_ENCODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/hmac.h>

#include "encode/schema_internal.h"

/* ---- hkdf.c ----------------------------------------------------------------- */

/** RFC 5869 HKDF (extract + expand) with HMAC-SHA256 (sha512 = 0) or
 *  HMAC-SHA512. `salt` NULL means HashLen zero bytes; `info` may be NULL.
 *  Fails (-1) if okm_len > 255 * HashLen. */
int bli_hkdf(int sha512, const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
            const uint8_t *info, size_t info_len, uint8_t *okm, size_t okm_len);

/* ---- blake2b.c -------------------------------------------------------------- */

/** BLAKE2b keyed with a fixed key, salt and personalisation, with the state
 *  after the key block precomputed so each message costs only its own
 *  compressions. */
typedef struct bl_b2_keyed {
    uint64_t h0[8];       /* state after the parameter block */
    uint64_t hk[8];       /* state after compressing the key block */
    uint8_t keyblock[128];
    size_t keylen;
    size_t outlen;
} bl_b2_keyed;

/** Prepare: key of 0..64 bytes, salt and personal 16 bytes each (NULL =
 *  zeros), digest length 1..64. */
void bli_b2_keyed_init(bl_b2_keyed *k, const uint8_t *key, size_t keylen, const uint8_t *salt,
                      const uint8_t *personal, size_t outlen);

/** Hash `msg`; the digest is written as the 8 little-endian state words
 *  (byte i of the digest = byte i%8 of word i/8). */
void bli_b2_keyed_hash(const bl_b2_keyed *k, const uint8_t *msg, size_t len, uint64_t out[8]);

/** A multi-buffer compression kernel: `lanes` blocks at once, state and
 *  message transposed (word i of lane l at h[i * lanes + l], m[i * lanes + l],
 *  64-byte aligned), t[l] the byte counter, f[l] 0 or ~0 (final block). */
typedef struct bl_b2_kernel {
    const char *name;
    unsigned lanes;
    void (*compress)(uint64_t *h, const uint64_t *m, const uint64_t *t, const uint64_t *f);
} bl_b2_kernel;

#define BL_B2_MAXLANES 8

/** The one-lane kernel (always there). */
const bl_b2_kernel *bli_b2_kernel_scalar(void);
/** Kernels: NULL when the CPU lacks the instructions. */
const bl_b2_kernel *bli_b2_kernel_avx2_get(void);
const bl_b2_kernel *bli_b2_kernel_avx512_get(void);
/** "scalar", "avx2" or "avx512" (NULL if unknown or unsupported). */
const bl_b2_kernel *bli_b2_kernel_by_name(const char *name);
/** The widest supported kernel, or the one BL_HASH_KERNEL names. */
const bl_b2_kernel *bli_b2_kernel_active(void);
/** Tests: make `k` the active kernel (NULL: the automatic choice again). */
void bli_b2_kernel_force(const bl_b2_kernel *k);

/** One message of bli_b2_hash_many: digest words as bli_b2_keyed_hash. */
typedef struct bl_b2_job {
    const bl_b2_keyed *k;
    const uint8_t *msg;
    size_t len;
    uint64_t *out; /* 8 words */
} bl_b2_job;

/** Hash n messages (any lengths, any keyed states) with `kern` (NULL: the
 *  active kernel); the same digests as bli_b2_keyed_hash one by one. */
void bli_b2_hash_many(const bl_b2_kernel *kern, const bl_b2_job *jobs, size_t n);

/** One-shot BLAKE2b (any key length 0..64) into `out` (outlen bytes). */
void bli_blake2b(uint8_t *out, size_t outlen, const uint8_t *msg, size_t len, const uint8_t *key,
                size_t keylen, const uint8_t *salt, const uint8_t *personal);

/* ---- tokenhash.c ------------------------------------------------------------ */

/** Salt clkhash uses for the j-th BLAKE2b digest of a token: ASCII decimal
 *  of j followed by zero bytes (16 bytes). */
void bli_blake_salt(uint32_t j, uint8_t salt[16]);

/** Precomputed keyed BLAKE2b states for digests j = 0..nstates-1. */
typedef struct bl_blake_keys {
    bl_b2_keyed *states;
    size_t nstates;
    const uint8_t *key;
    size_t keylen;
} bl_blake_keys;

/** blakeHash: k indices of `tok` in [0, L) (L a power of two). */
void bli_blake_indices(const bl_blake_keys *bk, const uint8_t *tok, size_t len, uint32_t k,
                      uint32_t L, uint32_t *out);

/** Big-endian unsigned integer of `n` bytes, modulo L. */
uint32_t bli_be_mod(const uint8_t *d, size_t n, uint32_t L);

/** doubleHash keys with HMAC inner/outer state precomputed. */
typedef struct bl_double_keys {
    struct hmac_sha1_ctx sha1;  /* keyed with key_a */
    struct hmac_md5_ctx md5;    /* keyed with key_b */
} bl_double_keys;

void bli_double_keys_init(bl_double_keys *dk, const uint8_t *key_a, const uint8_t *key_b,
                         size_t keylen);

/** doubleHash: index_t = (h1 + t*h2) mod L; with prevent_singularity,
 *  h2 == 0 is re-hashed with chr(c) appended until non-zero. */
void bli_double_indices(const bl_double_keys *dk, int prevent_singularity, const uint8_t *tok,
                       size_t len, uint32_t k, uint32_t L, uint32_t *out);

/** Per-thread cache of token digests keyed by (feature, token bytes);
 *  wiped on free. Tokens longer than 25 bytes bypass it. */
typedef struct bl_token_cache bl_token_cache;
bl_token_cache *bli_token_cache_new(void);
void bli_token_cache_free(bl_token_cache *c);

/** bli_blake_indices / bli_double_indices through the cache (`c` may be NULL).
 *  `feature` identifies the key set (the feature index). */
void bli_blake_indices_cached(bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk, const uint8_t *tok,
                             size_t len, uint32_t k, uint32_t L, uint32_t *out);
void bli_double_indices_cached(bl_token_cache *c, uint32_t feature, const bl_double_keys *dk,
                              int prevent_singularity, const uint8_t *tok, size_t len, uint32_t k, uint32_t L,
                              uint32_t *out);

/* ---- tokenize.c ------------------------------------------------------------- */

/** Growable list of UTF-8 tokens; token i = buf[off[i] .. off[i+1]). */
typedef struct bl_toklist {
    char *buf;
    size_t len, cap;
    size_t *off;     /* n + 1 entries used */
    size_t n, ncap;
    int32_t *cps;    /* code point workspace */
    size_t *cpoff;   /* byte offset of each code point */
    size_t cpcap;
} bl_toklist;

void bli_toklist_free(bl_toklist *t);

/** Cap on the bytes of all tokens of one value. */
#define BL_TOKLIST_MAX_BYTES ((size_t)256 << 20)

/** n-grams over code points (padding n-1 spaces each side when n > 1;
 *  positional: "<i> <gram>" 1-based). Empty value -> no tokens. Returns 0,
 *  -1 invalid UTF-8, -2 out of memory / cap. */
int bli_tokenize_ngram(bl_toklist *t, const char *v, size_t len, uint32_t n, int positional);

/** exact: the whole non-empty value is one token. */
int bli_tokenize_exact(bl_toklist *t, const char *v, size_t len);

/** numeric (thresholdDistance D = round(T*10^p), resolution r, precision p):
 *  2r+1 decimal tokens. Returns 0, -1 not a number (msg set), -2 ENOMEM. */
int bli_tokenize_numeric(bl_toklist *t, const char *v, size_t len, int64_t distance,
                        uint32_t resolution, uint32_t precision, char *msg, size_t msgcap);

/** Number of bits for token i of n under a strategy (bitsPerFeature gives
 *  the remainder to the first tokens). */
static inline uint32_t bli_token_k(bl_strategy s, uint32_t k, size_t i, size_t n)
{
    if (s == BL_STRATEGY_BITS_PER_TOKEN)
        return k;
    uint32_t q = (uint32_t)(k / n), r = (uint32_t)(k % n);
    return q + (i < r ? 1u : 0u);
}

/** Encode a UTF-8 token as Python's codec would: utf-8/ascii as is,
 *  utf-16 = BOM FF FE + LE units, utf-32 = BOM FF FE 00 00 + LE. Returns
 *  the byte length written to `out` (cap >= 4 + 4 * len). */
size_t bli_token_encode(bl_text_encoding enc, const char *tok, size_t len, uint8_t *out);

/** Deferred blakeHash of many tokens (of one record, or of more): _add sets
 *  the bits of a token whose digest is cached and queues the rest; _flush
 *  hashes the queued digests together with the multi-buffer kernel, sets
 *  their bits into `bits` (the same filter as _add was given) and fills the
 *  cache. 0, or -1 out of memory. Token bytes are copied (and wiped on
 *  free). */
typedef struct bl_blake_batch bl_blake_batch;
bl_blake_batch *bli_blake_batch_new(void);
void bli_blake_batch_free(bl_blake_batch *b);
int bli_blake_batch_add(bl_blake_batch *b, bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk,
                       const uint8_t *tok, size_t len, uint32_t k, uint32_t L, uint8_t *bits);
/** Every token of `tl` as hashed unchanged (utf-8/ascii, no salt), with
 *  bli_token_k(strategy, fk, ...) bits each: one call per feature, the
 *  tokens' cache lines prefetched first. */
int bli_blake_batch_add_list(bl_blake_batch *b, bl_token_cache *c, uint32_t feature, const bl_blake_keys *bk,
                            const bl_toklist *tl, bl_strategy strategy, uint32_t fk, uint32_t L, uint8_t *bits);
int bli_blake_batch_flush(bl_blake_batch *b, bl_token_cache *c, uint8_t *bits);
/** Drop whatever is queued (a record that failed half-way). */
void bli_blake_batch_reset(bl_blake_batch *b);

/* ---- valueformat.c ---------------------------------------------------------- */

/** Per-thread workspace for value formatting (regex/date match data). */
typedef struct bl_fmt_ws {
    void *date_ws;
    void *re_md;
} bl_fmt_ws;

int bli_fmt_ws_init(bl_fmt_ws *ws);
void bli_fmt_ws_free(bl_fmt_ws *ws);

/** Validate (if `validate`) and format a raw value for hashing, parsing it
 *  once: integer -> str(int(v)), date -> %Y%m%d, others unchanged (returned
 *  pointer = v). Not called for sentinels. `buf` (cap >= len + 16 bytes)
 *  holds reformatted values. Returns the value and sets *olen, or NULL with
 *  the broken rule or parse error in msg. */
const char *bli_value_prepare(const bl_feature *f, bl_fmt_ws *ws, int validate, const char *v,
                             size_t len, char *buf, size_t cap, size_t *olen, char *msg,
                             size_t msgcap);

/** Python str.strip(): strip Unicode whitespace at both ends. */
void bli_py_strip(const char **s, size_t *len);

/* ---- bloom.c ---------------------------------------------------------------- */

/** Set bit i of an MSB-first packed bit array. */
/* A table, not 0x80 >> (i & 7): without BMI2 (the build targets plain
 * x86-64) a shift by a variable count is several micro-ops, and setting
 * bits is most of the encoder's time once the token cache hits. */
static const uint8_t bli_bit_masks[8] = {0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01};

static inline void bli_bit_set(uint8_t *bits, uint32_t i)
{
    bits[i >> 3] |= bli_bit_masks[i & 7];
}

/** XOR-fold `folds` times a filter of L bits (in place); the result has
 *  L >> folds bits, zero padded to whole bytes. */
void bli_bloom_fold(uint8_t *bits, uint32_t L, uint32_t folds);

/** Population count of n bytes. */
uint32_t bli_popcount_bytes(const uint8_t *b, size_t n);

#endif
