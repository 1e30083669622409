/* lib/encode/harden.c - hardening of Bloom-filter encodings against the
 * attacks of lib/attack (docs/attacks.md). Steps, applied in this order:
 *   salt=FIELD  record-level salting: every token is hashed together with the
 *               record's value of a stable field (done in encode.c while
 *               hashing; records with different salt values cannot match);
 *   xor         XOR folding once (Schnell, Borgs, Encheva 2016): l -> l/2;
 *   blip=P      BLIP randomised response (Schnell and Borgs 2016): every bit
 *               flipped with probability P;
 *   balance     balancing (Berger and Schnell 2016): the filter followed by
 *               its complement, keyed permutation; every record then has
 *               popcount l (length 2l);
 *   diffuse=T   the diffusion layer of Armknecht, Heng and Schnell (PoPETs
 *               2023): output bit j is the XOR of T input bits at positions
 *               tau_j drawn once from the key (same length).
 * All randomness is deterministic: keys come from HKDF over the secret, the
 * flips of BLIP from a keyed BLAKE2b of the record's filter, so the same
 * inputs and secret give the same bits. Written here because no library
 * implements these PPRL-specific transforms; libsodium supplies BLAKE2b and
 * the ChaCha20 stream (randombytes_buf_deterministic). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/encode.h>

#include "encode/encode_internal.h"
#include "encode/harden_internal.h"

/* The profile `recommended` expands to, per layout (chosen from
 * bench/attacks.sh, docs/attacks.md): the cheapest measured profiles that
 * hold every method at or below 1% against the attacker that models the
 * hardening and undoes balancing. Diffusion would cost record-level CLKs
 * (half full) 9-12 points of F1, so they get none; field-level filters
 * (sparse) need it, as BLIP alone hardly moves their Dice; balancing costs
 * the field-level model 8-13 points of F1 and is undone anyway. For
 * field-level files BLIP 0.035 rather than 0.03: against the percolation
 * graph attack 0.03 let 0.45-1.76% of 10K records through over three
 * secrets, 0.035 0.58-0.84%, at 0.93 points of model F1 (synth hard 10K)
 * against 0.74; 0.04 costs 1.16 points. */
#define RECOMMENDED "xor,blip=0.05"                  /* record-level CLKs */
#define RECOMMENDED_FIELDS "xor,blip=0.035,diffuse=2" /* --layout fields */

struct bl_hardener {
    bl_harden_spec spec;
    uint32_t inbits, midbits, outbits;
    uint8_t *key;          /* sodium_malloc: 32 bytes */
    uint32_t *perm;        /* balance: 2*midbits positions (sodium_malloc) */
    size_t perm_len;
    uint32_t *taps;        /* diffuse: outbits * T positions (sodium_malloc) */
    size_t taps_len;
};

static int get_bit(const uint8_t *b, uint32_t i) { return (b[i >> 3] >> (7 - (i & 7))) & 1; }

static bl_status parse_step(const char *tok, size_t len, const bl_schema *schema, bl_harden_spec *s,
                            bl_error *err)
{
    char t[96];
    if (len >= sizeof t)
        return bl_error_set(err, BL_EINVAL, "--harden: step '%.40s...' too long", tok);
    memcpy(t, tok, len);
    t[len] = '\0';
    char *eq = strchr(t, '=');
    char *val = eq ? eq + 1 : NULL;
    if (eq)
        *eq = '\0';
    char *end = NULL;
    if (!strcmp(t, "xor") && !val) {
        s->xor_fold = 1;
    } else if (!strcmp(t, "balance") && !val) {
        s->balance = 1;
    } else if (!strcmp(t, "blip") && val) {
        double p = strtod(val, &end);
        if (end == val || *end || !(p > 0 && p < 0.5))
            return bl_error_set(err, BL_EINVAL, "--harden: blip=P needs 0 < P < 0.5, not '%s'", val);
        s->blip = p;
    } else if (!strcmp(t, "diffuse") && val) {
        long v = strtol(val, &end, 10);
        if (end == val || *end || v < 1 || v > 16)
            return bl_error_set(err, BL_EINVAL, "--harden: diffuse=T needs T in 1..16, not '%s'", val);
        s->diffuse = (uint32_t)v;
    } else if (!strcmp(t, "salt") && val) {
        size_t nf = bl_schema_nfeatures(schema);
        s->salt_feature = -1;
        for (size_t i = 0; i < nf; i++)
            if (!strcmp(bl_schema_feature_id(schema, i), val))
                s->salt_feature = (int)i;
        if (s->salt_feature < 0 || strlen(val) >= sizeof s->salt_name)
            return bl_error_set(err, BL_EINVAL, "--harden: salt=%s: the schema has no feature of that name", val);
        snprintf(s->salt_name, sizeof s->salt_name, "%s", val);
    } else {
        return bl_error_set(err, BL_EINVAL,
                            "--harden: unknown step '%.60s' (none, recommended, salt=FIELD, xor, blip=P, "
                            "balance, diffuse=T)",
                            t);
    }
    return BL_OK;
}

static void canonical(bl_harden_spec *s)
{
    char *c = s->canon;
    size_t cap = sizeof s->canon, n = 0;
    c[0] = '\0';
#define ADD(...) n += (size_t)snprintf(c + n, n < cap ? cap - n : 0, __VA_ARGS__)
    if (s->salt_feature >= 0)
        ADD("%ssalt=%s", n ? "," : "", s->salt_name);
    if (s->xor_fold)
        ADD("%sxor", n ? "," : "");
    if (s->blip > 0)
        ADD("%sblip=%g", n ? "," : "", s->blip);
    if (s->balance)
        ADD("%sbalance", n ? "," : "");
    if (s->diffuse)
        ADD("%sdiffuse=%u", n ? "," : "", s->diffuse);
#undef ADD
}

bl_status bl_harden_parse(const char *profile, const bl_schema *schema, int fields, bl_harden_spec *out,
                          bl_error *err)
{
    memset(out, 0, sizeof *out);
    out->salt_feature = -1;
    if (!profile || !*profile || !strcmp(profile, "none"))
        return BL_OK;
    const char *p = profile;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0)
            return bl_error_set(err, BL_EINVAL, "--harden: empty step in '%s'", profile);
        bl_status st;
        if (len == 11 && !strncmp(p, "recommended", 11)) {
            const char *r = fields ? RECOMMENDED_FIELDS : RECOMMENDED;
            while (*r) {
                size_t rl = strcspn(r, ",");
                if ((st = parse_step(r, rl, schema, out, err)) != BL_OK)
                    return st;
                r += rl + (r[rl] == ',');
            }
        } else if ((len == 4 && !strncmp(p, "none", 4))) {
            /* "none" inside a list adds nothing */
        } else if ((st = parse_step(p, len, schema, out, err)) != BL_OK) {
            return st;
        }
        p += len;
        if (*p == ',' && !*++p)
            return bl_error_set(err, BL_EINVAL, "--harden: empty step in '%s'", profile);
    }
    canonical(out);
    return BL_OK;
}

/* Deterministic uniform value in [0, n) from a ChaCha20 stream buffer. */
static uint32_t draw(const uint8_t *stream, size_t *pos, uint32_t n)
{
    uint32_t v;
    memcpy(&v, stream + *pos, 4);
    *pos += 4;
    return (uint32_t)(((uint64_t)v * n) >> 32);
}

static bl_status fill_tables(bl_hardener *h, bl_error *err)
{
    uint8_t seed[randombytes_SEEDBYTES];
    if (h->spec.balance) {
        uint32_t n = 2 * h->midbits;
        h->perm_len = (size_t)n * sizeof *h->perm;
        h->perm = sodium_malloc(h->perm_len);
        uint8_t *stream = malloc((size_t)n * 4);
        if (!h->perm || !stream) {
            free(stream);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        crypto_generichash(seed, sizeof seed, (const uint8_t *)"balance", 7, h->key, 32);
        randombytes_buf_deterministic(stream, (size_t)n * 4, seed);
        size_t pos = 0;
        for (uint32_t i = 0; i < n; i++)
            h->perm[i] = i;
        for (uint32_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
            uint32_t j = draw(stream, &pos, i + 1), t = h->perm[i];
            h->perm[i] = h->perm[j];
            h->perm[j] = t;
        }
        free(stream);
    }
    if (h->spec.diffuse) {
        size_t n = (size_t)h->outbits * h->spec.diffuse;
        h->taps_len = n * sizeof *h->taps;
        h->taps = sodium_malloc(h->taps_len);
        uint8_t *stream = malloc(n * 4);
        if (!h->taps || !stream) {
            free(stream);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        crypto_generichash(seed, sizeof seed, (const uint8_t *)"diffuse", 7, h->key, 32);
        randombytes_buf_deterministic(stream, n * 4, seed);
        size_t pos = 0;
        for (size_t i = 0; i < n; i++)
            h->taps[i] = draw(stream, &pos, h->outbits);
        free(stream);
    }
    sodium_memzero(seed, sizeof seed);
    return BL_OK;
}

bl_status bl_hardener_new(const bl_harden_spec *spec, const uint8_t *secret, size_t secret_len, uint32_t inbits,
                          const char *field, bl_hardener **out, bl_error *err)
{
    *out = NULL;
    if (spec->xor_fold && (inbits % 2 || inbits < 16))
        return bl_error_set(err, BL_EINVAL, "--harden xor: the filter length %u is not even", inbits);
    bl_hardener *h = calloc(1, sizeof *h);
    if (!h)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    h->spec = *spec;
    h->inbits = inbits;
    h->midbits = spec->xor_fold ? inbits / 2 : inbits;
    h->outbits = spec->balance ? 2 * h->midbits : h->midbits;
    h->key = sodium_malloc(32);
    if (!h->key) {
        free(h);
        return bl_error_set(err, BL_ENOMEM, "out of memory (guarded key memory)");
    }
    static const uint8_t salt[] = "blindlink-harden-v1";
    /* info "harden" (record level), "harden" 0x1f NAME per field: fields
     * share no permutation, taps or flips, so one field's hardening tells
     * nothing about another's */
    char info[8 + 256];
    size_t ilen = (size_t)snprintf(info, sizeof info, "harden%s%.255s", field ? "\x1f" : "", field ? field : "");
    if (bli_hkdf(0, salt, sizeof salt - 1, secret, secret_len, (const uint8_t *)info, ilen, h->key, 32) != 0) {
        bl_hardener_free(h);
        return bl_error_set(err, BL_ECRYPTO, "cannot derive the hardening key");
    }
    bl_status st = fill_tables(h, err);
    if (st != BL_OK) {
        bl_hardener_free(h);
        return st;
    }
    *out = h;
    return BL_OK;
}

void bl_hardener_free(bl_hardener *h)
{
    if (!h)
        return;
    if (h->key)
        sodium_free(h->key);
    if (h->perm)
        sodium_free(h->perm);
    if (h->taps)
        sodium_free(h->taps);
    free(h);
}

uint32_t bl_hardener_outbits(const bl_hardener *h) { return h->outbits; }
const bl_harden_spec *bl_hardener_spec(const bl_hardener *h) { return &h->spec; }

size_t bl_hardener_work_bytes(const bl_hardener *h)
{
    /* two buffers of the largest intermediate length plus the BLIP stream */
    size_t maxbits = h->inbits > h->outbits ? h->inbits : h->outbits;
    return 2 * ((maxbits + 7) / 8 + 8) + (h->spec.blip > 0 ? (size_t)h->midbits * 2 : 0);
}

/* BLIP: flip each bit with probability p; 16-bit uniforms from a ChaCha20
 * stream seeded with keyed BLAKE2b of the filter and the whole record (the
 * same record gives the same flips; equal field values in different
 * records get different flips, so field filters do not repeat). */
static void blip(const bl_hardener *h, uint8_t *bits, uint32_t n, uint8_t *stream, const uint8_t *rec)
{
    uint8_t seed[randombytes_SEEDBYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, h->key, 32, sizeof seed);
    crypto_generichash_update(&st, bits, (n + 7) / 8);
    crypto_generichash_update(&st, rec, BL_HARDEN_RECORD_BYTES);
    crypto_generichash_final(&st, seed, sizeof seed);
    randombytes_buf_deterministic(stream, (size_t)n * 2, seed);
    uint32_t thr = (uint32_t)(h->spec.blip * 65536.0 + 0.5);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)stream[2 * i] | (uint32_t)stream[2 * i + 1] << 8;
        if (u < thr)
            bits[i >> 3] ^= (uint8_t)(0x80u >> (i & 7));
    }
    sodium_memzero(seed, sizeof seed);
}

void bl_hardener_record_digest(const char *const *fields, const size_t *lens, size_t n,
                               uint8_t out[BL_HARDEN_RECORD_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, BL_HARDEN_RECORD_BYTES);
    for (size_t i = 0; i < n; i++) {
        uint8_t len[8];
        for (int b = 0; b < 8; b++)
            len[b] = (uint8_t)((uint64_t)lens[i] >> (8 * b));
        crypto_generichash_update(&st, len, sizeof len);
        crypto_generichash_update(&st, (const uint8_t *)fields[i], lens[i]);
    }
    crypto_generichash_final(&st, out, BL_HARDEN_RECORD_BYTES);
}

void bl_hardener_apply(const bl_hardener *h, const uint8_t *in, uint8_t *out, uint8_t *work, const uint8_t *rec)
{
    size_t maxbytes = ((h->inbits > h->outbits ? h->inbits : h->outbits) + 7) / 8 + 8;
    uint8_t *a = work, *b = work + maxbytes, *stream = work + 2 * maxbytes;
    uint32_t n = h->inbits;
    memset(a, 0, maxbytes);
    memcpy(a, in, (n + 7) / 8);
    if (h->spec.xor_fold) {
        uint32_t half = n / 2;
        memset(b, 0, maxbytes);
        for (uint32_t i = 0; i < half; i++)
            if (get_bit(a, i) ^ get_bit(a, i + half))
                bli_bit_set(b, i);
        memcpy(a, b, maxbytes);
        n = half;
    }
    if (h->spec.blip > 0)
        blip(h, a, n, stream, rec);
    if (h->spec.balance) {
        memset(b, 0, maxbytes);
        for (uint32_t i = 0; i < 2 * n; i++) {
            uint32_t src = h->perm[i];
            int v = src < n ? get_bit(a, src) : !get_bit(a, src - n);
            if (v)
                bli_bit_set(b, i);
        }
        memcpy(a, b, maxbytes);
        n *= 2;
    }
    if (h->spec.diffuse) {
        const uint32_t T = h->spec.diffuse;
        memset(b, 0, maxbytes);
        for (uint32_t j = 0; j < n; j++) {
            int v = 0;
            for (uint32_t t = 0; t < T; t++)
                v ^= get_bit(a, h->taps[(size_t)j * T + t]);
            if (v)
                bli_bit_set(b, j);
        }
        memcpy(a, b, maxbytes);
    }
    memcpy(out, a, (n + 7) / 8);
    sodium_memzero(work, bl_hardener_work_bytes(h));
}

/* ---- public: profile names and the metadata check of `match` ---- */

bl_status bl_harden_canonical(const char *profile, const bl_schema *schema, char *out, size_t cap, bl_error *err)
{
    return bl_harden_canonical_layout(profile, schema, BL_LAYOUT_RECORD, out, cap, err);
}

bl_status bl_harden_canonical_layout(const char *profile, const bl_schema *schema, bl_layout layout, char *out,
                                     size_t cap, bl_error *err)
{
    bl_harden_spec s;
    bl_status st = bl_harden_parse(profile, schema, layout == BL_LAYOUT_FIELDS, &s, err);
    if (st != BL_OK)
        return st;
    if (strlen(s.canon) >= cap)
        return bl_error_set(err, BL_EINVAL, "bl_harden_canonical: buffer too small");
    snprintf(out, cap, "%s", s.canon);
    return BL_OK;
}
