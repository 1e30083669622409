/* lib/encode/encode.c - the CLK encoder: key derivation, per-record pipeline
 * (strip/normalise -> missing value -> validate -> format -> tokenise ->
 * bits per token -> token bytes -> indices -> OR into the filter -> fold ->
 * pack), following clkhash 0.18.3 bit for bit (spec section 2).
 *
 * The encoder is immutable after bl_encoder_new; all keyed material (the
 * HKDF output, precomputed BLAKE2b states, HMAC contexts) lives in libsodium
 * guarded memory and is wiped on free. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/encode.h>

#include "encode/encode_internal.h"
#include "encode/fields_internal.h"
#include "encode/nickname.h"
#include "encode/harden_internal.h"
#include "core/internal.h"
#include "core/utf8.h"

/* Precomputed BLAKE2b salt states per feature (more are derived on the fly). */
#define MAX_PRE_STATES 16

typedef struct fenc {
    const bl_feature *f;
    const uint8_t *key_a, *key_b;
    bl_blake_keys bk;
    bl_double_keys dk;
} fenc;

struct bl_encoder {
    const bl_schema *schema;
    bl_encode_opts opts;
    uint32_t l, L;
    size_t nbytes, Lbytes;
    uint8_t *keys;          /* sodium_malloc: F * 2 * keySize */
    size_t keys_len;
    fenc *fe;               /* sodium_malloc */
    size_t fe_len;
    bl_b2_keyed *states;    /* sodium_malloc */
    size_t states_len;
    uint8_t fingerprint[32];
    bl_field_layout fl;     /* BL_LAYOUT_FIELDS only */
    unsigned char *nick;    /* per feature: 1 = map given-name variants (names/strict profiles) */
    bl_harden_spec hspec;   /* hardening (harden.c); hard = NULL when none */
    bl_hardener *hard;
    bl_hardener **fhard;    /* BL_LAYOUT_FIELDS with hardening: one per field */
    uint32_t outl;          /* bits written per record (after hardening) */
    size_t outbytes;
};

struct bl_encode_scratch {
    bl_toklist tl;
    bl_fmt_ws ws;
    uint8_t *bits;
    uint32_t *idx;
    size_t idxcap;
    uint8_t *tb;            /* encoded token bytes */
    size_t tbcap;
    char *vbuf;             /* formatted value */
    size_t vcap;
    char *norm;             /* normalised value (utf8proc allocation) */
    char *nbuf;             /* value after nickname mapping */
    size_t ncap;
    bl_token_cache *cache;  /* token digests (NULL: disabled) */
    bl_blake_batch *bb;     /* blakeHash tokens queued for the multi-buffer kernel */
    uint8_t *hwork;         /* hardening work memory */
    uint8_t *fwork;         /* field layout with hardening: the fields before hardening */
    uint8_t *sb;            /* salted token bytes */
    size_t sbcap;
};

static const char *variant_of(const bl_encode_opts *o, const bl_schema *sc, const char *harden,
                              char *buf, size_t cap)
{
    buf[0] = '\0';
    if (o->normalize != BL_NORMALIZE_NONE || o->legacy_strip)
        snprintf(buf, cap, "normalize=%s;legacy_strip=%d%s", bl_normalize_profile_name(o->normalize),
                 o->legacy_strip ? 1 : 0,
                 o->normalize >= BL_NORMALIZE_NAMES ? ";nicknames=1" : ""); /* given-name table v1 */
    if (harden && *harden) { /* hardened files must never compare equal to plain ones */
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%sharden=%s", n ? ";" : "", harden);
    }
    if (o->layout == BL_LAYOUT_FIELDS) {
        /* the layout and its groups change the bits: part of the fingerprint */
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%slayout=fields;groups=%s", n ? ";" : "",
                 sc->ext_json ? sc->ext_json : "");
        size_t g, f;
        if (bl_fields_name_pair(sc, &g, &f)) { /* the shared name key changes the surname's bits */
            n = strlen(buf);
            snprintf(buf + n, cap - n, ";namekey=%s,%s", sc->features[g].identifier, sc->features[f].identifier);
        }
    }
    return buf;
}

int bl_layout_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcmp(name, "record"))
        return BL_LAYOUT_RECORD;
    if (!strcmp(name, "fields"))
        return BL_LAYOUT_FIELDS;
    return -1;
}

const char *bl_encoder_layout_meta(const bl_encoder *e)
{
    return e->opts.layout == BL_LAYOUT_FIELDS ? e->fl.meta : NULL;
}

/* Field layout: the field filters as written, and with hardening one
 * hardener per field, keyed by the field's name (harden.c), applied to each
 * field's l-bit filter; the layout then records the hardened length. */
static bl_status fields_setup(bl_encoder *e, const uint8_t *secret, size_t secret_len, bl_error *err)
{
    bl_status st = bl_field_layout_build(e->schema, e->opts.normalize, 0, &e->fl, err);
    if (st != BL_OK || !e->hspec.canon[0])
        return st;
    e->fhard = calloc(e->fl.nfields, sizeof *e->fhard);
    if (!e->fhard)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    /* the surname field of a shared name key takes the given-name field's
     * hardener too (same taps and permutation), or the swap would not show */
    size_t kg, kf, hg = SIZE_MAX, hf = SIZE_MAX;
    if (bl_fields_name_pair(e->schema, &kg, &kf)) {
        hg = e->fl.field_of[kg];
        hf = e->fl.field_of[kf];
    }
    for (size_t f = 0; f < e->fl.nfields; f++)
        if ((st = bl_hardener_new(&e->hspec, secret, secret_len, e->l, e->fl.names[f == hf ? hg : f],
                                  &e->fhard[f], err)) != BL_OK)
            return st;
    e->hard = e->fhard[0]; /* for the work-memory size: every field has the same lengths */
    uint32_t hb = bl_hardener_outbits(e->hard);
    bl_field_layout_free(&e->fl);
    return bl_field_layout_build(e->schema, e->opts.normalize, hb, &e->fl, err);
}

bl_status bl_encoder_new(const bl_schema *schema, const uint8_t *secret, size_t secret_len,
                         const bl_encode_opts *opts, bl_encoder **out, bl_error *err)
{
    if (!schema || !out || (!secret && secret_len))
        return bl_error_set(err, BL_EINVAL, "bl_encoder_new: NULL argument");
    *out = NULL;
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "libsodium failed to initialise");
    if (secret_len == 0)
        return bl_error_set(err, BL_EINVAL, "the secret is empty");
    bl_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    e->schema = schema;
    if (opts)
        e->opts = *opts;
    e->opts.harden = NULL; /* the caller's string is not kept: hspec holds the parsed profile */
    bl_status hst = bl_harden_parse(opts ? opts->harden : NULL, schema, e->opts.layout == BL_LAYOUT_FIELDS,
                                    &e->hspec, err);
    if (hst != BL_OK) {
        free(e);
        return hst;
    }
    e->l = schema->l;
    e->L = bli_schema_hash_len(schema);
    e->nbytes = (e->l + 7) / 8;
    e->Lbytes = (e->L + 7) / 8;
    const size_t F = schema->nfeatures, ks = schema->key_size;
    e->keys_len = F * 2 * ks;
    e->keys = sodium_malloc(e->keys_len);
    e->fe_len = F * sizeof *e->fe;
    e->fe = sodium_malloc(e->fe_len);
    if (!e->keys || !e->fe) {
        bl_encoder_free(e);
        return bl_error_set(err, BL_ENOMEM, "out of memory (guarded key memory)");
    }
    memset(e->fe, 0, e->fe_len);
    if (bli_hkdf(schema->kdf_sha512, schema->salt, schema->salt_len, secret, secret_len, schema->info,
                schema->info_len, e->keys, e->keys_len) != 0) {
        bl_encoder_free(e);
        return bl_error_set(err, BL_ESCHEMA, "HKDF cannot derive %zu bytes of keys", e->keys_len);
    }
    /* count BLAKE2b states to precompute */
    size_t nst = 0;
    for (size_t i = 0; i < F; i++) {
        const bl_feature *f = &schema->features[i];
        if (f->ignored || f->hash != BL_HASH_BLAKE)
            continue;
        size_t need = (f->k + 31) / 32;
        nst += need < MAX_PRE_STATES ? need : MAX_PRE_STATES;
    }
    if (nst) {
        e->states_len = nst * sizeof *e->states;
        e->states = sodium_malloc(e->states_len);
        if (!e->states) {
            bl_encoder_free(e);
            return bl_error_set(err, BL_ENOMEM, "out of memory (guarded key memory)");
        }
    }
    size_t si = 0, kg = 0, kf = SIZE_MAX;
    if (e->opts.layout == BL_LAYOUT_FIELDS && !bl_fields_name_pair(schema, &kg, &kf))
        kf = SIZE_MAX; /* no shared name key (fields.c) */
    for (size_t i = 0; i < F; i++) {
        fenc *fe = &e->fe[i];
        const bl_feature *f = &schema->features[i];
        const size_t ki = i == kf ? kg : i;
        fe->f = f;
        fe->key_a = e->keys + (2 * ki) * ks;
        fe->key_b = e->keys + (2 * ki + 1) * ks;
        if (f->ignored)
            continue;
        if (f->hash == BL_HASH_BLAKE) {
            size_t need = (f->k + 31) / 32;
            if (need > MAX_PRE_STATES)
                need = MAX_PRE_STATES;
            fe->bk.states = e->states + si;
            fe->bk.nstates = need;
            fe->bk.key = fe->key_a;
            fe->bk.keylen = ks;
            for (size_t j = 0; j < need; j++) {
                uint8_t salt[16];
                bli_blake_salt((uint32_t)j, salt);
                bli_b2_keyed_init(&e->states[si + j], fe->key_a, ks, salt, NULL, 64);
            }
            si += need;
        } else {
            bli_double_keys_init(&fe->dk, fe->key_a, fe->key_b, ks);
        }
    }
    e->nick = calloc(F ? F : 1, 1);
    if (!e->nick) {
        bl_encoder_free(e);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < F; i++)
        e->nick[i] = e->opts.normalize >= BL_NORMALIZE_NAMES && !schema->features[i].ignored &&
                     schema->features[i].fmt == BL_FORMAT_STRING && bl_nickname_applies(schema->features[i].identifier);
    e->outl = e->l;
    if (e->hspec.canon[0] && e->opts.layout != BL_LAYOUT_FIELDS) {
        bl_status st = bl_hardener_new(&e->hspec, secret, secret_len, e->l, NULL, &e->hard, err);
        if (st != BL_OK) {
            bl_encoder_free(e);
            return st;
        }
        e->outl = bl_hardener_outbits(e->hard);
    }
    if (e->opts.layout == BL_LAYOUT_FIELDS) {
        bl_status st = fields_setup(e, secret, secret_len, err);
        if (st != BL_OK) {
            bl_encoder_free(e);
            return st;
        }
        e->nbytes = (e->fl.total_bits + 7) / 8;
        e->outl = e->fl.total_bits;
    }
    e->outbytes = (e->outl + 7) / 8;
    size_t vcap = 256 + BL_HARDEN_CANON_MAX + (schema->ext_json ? strlen(schema->ext_json) : 0);
    for (size_t i = 0; i < F; i++) /* room for the shared name key's two identifiers */
        vcap += schema->features[i].identifier ? strlen(schema->features[i].identifier) : 0;
    char *variant = malloc(vcap);
    if (!variant) {
        bl_encoder_free(e);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_schema_fingerprint(schema, variant_of(&e->opts, schema, e->hspec.canon, variant, vcap),
                          e->fingerprint);
    free(variant);
    *out = e;
    return BL_OK;
}

void bl_encoder_free(bl_encoder *e)
{
    if (!e)
        return;
    if (e->keys)
        sodium_free(e->keys);
    if (e->fe)
        sodium_free(e->fe);
    if (e->states)
        sodium_free(e->states);
    free(e->nick);
    if (e->fhard) { /* e->hard is fhard[0] then */
        for (size_t f = 0; f < e->fl.nfields; f++)
            bl_hardener_free(e->fhard[f]);
        free(e->fhard);
    } else {
        bl_hardener_free(e->hard);
    }
    bl_field_layout_free(&e->fl);
    free(e);
}

const bl_schema *bl_encoder_schema(const bl_encoder *e) { return e->schema; }
uint32_t bl_encoder_nbits(const bl_encoder *e) { return e->outl; }
size_t bl_encoder_nbytes(const bl_encoder *e) { return e->outbytes; }
const char *bl_encoder_harden(const bl_encoder *e) { return e->hspec.canon; }
bl_normalize_profile bl_encoder_normalize(const bl_encoder *e) { return e->opts.normalize; }
void bl_encoder_fingerprint(const bl_encoder *e, uint8_t out[32]) { memcpy(out, e->fingerprint, 32); }

bl_encode_scratch *bl_encode_scratch_new(const bl_encoder *e)
{
    bl_encode_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->bits = calloc(e->Lbytes + 8, 1);
    if (!getenv("BL_NO_TOKEN_CACHE")) /* for benchmarks: measure without it */
        s->cache = bli_token_cache_new();
    s->vcap = 64;
    s->vbuf = malloc(s->vcap);
    s->bb = bli_blake_batch_new();
    if (e->hard && !(s->hwork = malloc(bl_hardener_work_bytes(e->hard)))) {
        bl_encode_scratch_free(s);
        return NULL;
    }
    if (e->fhard && !(s->fwork = malloc(e->fl.nfields * ((e->l + 7) / 8) + 8))) {
        bl_encode_scratch_free(s);
        return NULL;
    }
    if (!s->bits || !s->vbuf || !s->bb || bli_fmt_ws_init(&s->ws) != 0) {
        bl_encode_scratch_free(s);
        return NULL;
    }
    return s;
}

void bl_encode_scratch_free(bl_encode_scratch *s)
{
    if (!s)
        return;
    bli_toklist_free(&s->tl);
    bli_fmt_ws_free(&s->ws);
    free(s->bits);
    free(s->idx);
    free(s->tb);
    free(s->vbuf);
    free(s->norm);
    free(s->nbuf);
    free(s->hwork);
    free(s->fwork);
    free(s->sb);
    bli_token_cache_free(s->cache);
    bli_blake_batch_free(s->bb);
    free(s);
}

/* Field layout: fold feature i's bits as clkhash folds the record, OR them
 * into the feature's field (in `out`, or with hardening in the unhardened
 * fields s->fwork) and clear the work filter for the next one. */
static void flush_field(const bl_encoder *e, bl_encode_scratch *s, size_t i, uint8_t *out)
{
    bli_bloom_fold(s->bits, e->L, e->schema->folds);
    if (e->l % 8)
        s->bits[(e->l + 7) / 8 - 1] &= (uint8_t)(0xff00u >> (e->l % 8));
    size_t f = e->fl.field_of[i];
    if (f != SIZE_MAX && e->fhard)
        bl_field_or_into(s->fwork, (uint32_t)(f * ((e->l + 7) / 8) * 8), s->bits, e->l);
    else if (f != SIZE_MAX)
        bl_field_or_into(out, e->fl.offset[f], s->bits, e->l);
    memset(s->bits, 0, e->Lbytes);
}

/* Field layout with hardening: every field's filter through its own
 * hardener into its place in `out`. An empty field (no value) stays empty,
 * as without hardening, so that `match --model` can treat it as missing;
 * which fields are empty is visible either way (docs/attacks.md). */
static void harden_fields(const bl_encoder *e, bl_encode_scratch *s, const uint8_t *rd, uint8_t *out)
{
    const size_t lb = (e->l + 7) / 8;
    for (size_t f = 0; f < e->fl.nfields; f++)
        if (bli_popcount_bytes(s->fwork + f * lb, lb))
            bl_hardener_apply(e->fhard[f], s->fwork + f * lb, out + e->fl.offset[f] / 8, s->hwork, rd);
}

/* Value of feature i as clkhash hashes it: stripped (legacy), normalised
 * (opt-in), the missing-value replacement, or validated and formatted. */
static bl_status prepare_value(const bl_encoder *e, bl_encode_scratch *s, size_t i,
                               const char **v, size_t *len, bl_error *err)
{
    const bl_feature *f = e->fe[i].f;
    char msg[400];
    if (e->opts.legacy_strip)
        bli_py_strip(v, len);
    if (e->opts.normalize != BL_NORMALIZE_NONE && f->fmt == BL_FORMAT_STRING) {
        free(s->norm);
        s->norm = NULL;
        size_t nl;
        bl_status st = bl_normalize(e->opts.normalize, *v, *len, &s->norm, &nl, err);
        if (st != BL_OK) {
            bl_error_prefix(err, "column %zu (%s): ", i + 1, f->identifier);
            return st;
        }
        *v = s->norm;
        *len = nl;
        if (e->nick[i]) {
            /* given names: known variants to their canonical form (Bob -> robert) */
            if (bli_grow((void **)&s->nbuf, &s->ncap, *len + 32 * (*len / 2 + 1) + 1, 1, 64) != 0)
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            size_t ml = bl_nickname_map(*v, *len, s->nbuf, s->ncap);
            if (ml != (size_t)-1) {
                *v = s->nbuf;
                *len = ml;
            }
        }
    }
    if (f->has_missing && *len == f->sentinel_len && !memcmp(*v, f->sentinel, *len)) {
        *v = f->replace_with;
        *len = f->replace_len;
    } else {
        if (bli_grow((void **)&s->vbuf, &s->vcap, *len + 32, 1, 64) != 0)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        size_t olen;
        const char *fv = bli_value_prepare(f, &s->ws, !e->opts.no_validate, *v, *len, s->vbuf,
                                          s->vcap, &olen, msg, sizeof msg);
        if (!fv)
            return bl_error_set(err, BL_EINPUT, "column %zu (%s): %s", i + 1, f->identifier, msg);
        *v = fv;
        *len = olen;
    }
    return BL_OK;
}

/* The value's tokens into s->tl, by the feature's comparison. */
static bl_status tokenize_value(const bl_feature *f, bl_encode_scratch *s, size_t i, const char *v,
                                size_t len, bl_error *err)
{
    char msg[400];
    int rc;
    switch (f->cmp) {
    case BL_CMP_NGRAM:
        rc = bli_tokenize_ngram(&s->tl, v, len, f->n, f->positional);
        break;
    case BL_CMP_EXACT:
        rc = bli_tokenize_exact(&s->tl, v, len);
        break;
    default:
        rc = bli_tokenize_numeric(&s->tl, v, len, f->distance, f->resolution, f->frac_precision, msg,
                                 sizeof msg);
        break;
    }
    if (rc == -1)
        return f->cmp == BL_CMP_NUMERIC
                   ? bl_error_set(err, BL_EINPUT, "column %zu (%s): %s", i + 1, f->identifier, msg)
                   : bl_error_set(err, BL_EINPUT, "column %zu (%s): invalid UTF-8", i + 1, f->identifier);
    if (rc)
        return bl_error_set(err, BL_ENOMEM, "column %zu (%s): out of memory tokenising", i + 1,
                            f->identifier);
    return BL_OK;
}

/* Hash every token of s->tl to its k bit indices and set them; the trace
 * callback (if any) sees each token. */
static bl_status hash_tokens(const bl_encoder *e, bl_encode_scratch *s, size_t i, const char *v,
                             size_t len, const char *salt, size_t saltlen,
                             void (*cb)(void *, const bl_token_trace *), void *ctx, bl_error *err)
{
    const fenc *fe = &e->fe[i];
    const bl_feature *f = fe->f;
    const size_t ntok = s->tl.n;
    if (f->hash == BL_HASH_BLAKE && !cb && !salt &&
        (f->fmt != BL_FORMAT_STRING || (f->encoding != BL_TEXTENC_UTF16 && f->encoding != BL_TEXTENC_UTF32))) {
        /* tokens hashed as they are: the whole list in one call, queued for
         * the multi-buffer kernel (bli_b2_hash_many) */
        if (bli_blake_batch_add_list(s->bb, s->cache, (uint32_t)i, &fe->bk, &s->tl, f->strategy, f->k, e->L,
                                    s->bits) != 0)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        return BL_OK;
    }
    for (size_t t = 0; t < ntok; t++) {
        uint32_t k = bli_token_k(f->strategy, f->k, t, ntok);
        if (k == 0)
            continue;
        const char *tok = s->tl.buf + s->tl.off[t];
        size_t tlen = s->tl.off[t + 1] - s->tl.off[t];
        const uint8_t *tb = (const uint8_t *)tok;
        size_t tbl = tlen;
        if (f->fmt == BL_FORMAT_STRING && (f->encoding == BL_TEXTENC_UTF16 || f->encoding == BL_TEXTENC_UTF32)) {
            if (bli_grow((void **)&s->tb, &s->tbcap, 4 + 4 * tlen, 1, 64) != 0)
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            tbl = bli_token_encode(f->encoding, tok, tlen, s->tb);
            tb = s->tb;
        }
        if (salt) { /* record-level salting (harden.c) */
            if (bli_grow((void **)&s->sb, &s->sbcap, tbl + 1 + saltlen, 1, 64) != 0)
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            memmove(s->sb, tb, tbl);
            s->sb[tbl] = 0x1f; /* unit separator: "ab"+"c" differs from "a"+"bc" */
            memcpy(s->sb + tbl + 1, salt, saltlen);
            tb = s->sb;
            tbl += 1 + saltlen;
        }
        if (f->hash == BL_HASH_BLAKE && !cb) {
            /* queued: hashed with other tokens of the record (bli_b2_hash_many) */
            if (bli_blake_batch_add(s->bb, s->cache, (uint32_t)i, &fe->bk, tb, tbl, k, e->L, s->bits) != 0)
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            continue;
        }
        if (bli_grow((void **)&s->idx, &s->idxcap, k, sizeof *s->idx, 64) != 0)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        if (f->hash == BL_HASH_BLAKE)
            bli_blake_indices_cached(s->cache, (uint32_t)i, &fe->bk, tb, tbl, k, e->L, s->idx);
        else
            bli_double_indices_cached(s->cache, (uint32_t)i, &fe->dk, f->prevent_singularity == 1, tb, tbl,
                                     k, e->L, s->idx);
        for (uint32_t j = 0; j < k; j++)
            bli_bit_set(s->bits, s->idx[j]);
        if (cb) {
            bl_token_trace tr = {i, v, len, tok, tlen, tb, tbl, k, s->idx};
            cb(ctx, &tr);
        }
    }
    return BL_OK;
}

static bl_status encode_impl(const bl_encoder *e, bl_encode_scratch *s, const char *const *fields,
                             const size_t *lens, size_t nfields, uint8_t *out, uint32_t *popcount,
                             void (*cb)(void *, const bl_token_trace *), void *ctx, bl_error *err)
{
    const bl_schema *sc = e->schema;
    if (nfields != sc->nfeatures)
        return bl_error_set(err, BL_EINPUT, "expected %zu columns, found %zu", sc->nfeatures, nfields);
    memset(s->bits, 0, e->Lbytes);
    bli_blake_batch_reset(s->bb); /* nothing left over from a record that failed */
    const int fields_layout = e->opts.layout == BL_LAYOUT_FIELDS;
    if (fields_layout)
        memset(out, 0, e->nbytes);
    if (e->fhard)
        memset(s->fwork, 0, e->fl.nfields * ((e->l + 7) / 8));
    /* record-level salting: the salt field's value is hashed with every token */
    const char *salt = NULL;
    size_t saltlen = 0;
    if (e->hspec.salt_feature >= 0) {
        salt = fields[e->hspec.salt_feature];
        saltlen = lens[e->hspec.salt_feature];
        bli_py_strip(&salt, &saltlen);
    }
    for (size_t i = 0; i < nfields; i++) {
        const bl_feature *f = e->fe[i].f;
        const char *v = fields[i];
        size_t len = lens[i];
        if (!bli_utf8_valid(v, len)) /* ignored columns too: clkhash decodes the whole file */
            return bl_error_set(err, BL_EINPUT, "column %zu (%s): invalid UTF-8", i + 1, f->identifier);
        if (f->ignored)
            continue;
        bl_status st = prepare_value(e, s, i, &v, &len, err);
        if (st == BL_OK)
            st = tokenize_value(f, s, i, v, len, err);
        if (st == BL_OK)
            st = hash_tokens(e, s, i, v, len, salt, saltlen, cb, ctx, err);
        if (st == BL_OK && fields_layout && bli_blake_batch_flush(s->bb, s->cache, s->bits) != 0)
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
        if (st != BL_OK)
            return st;
        if (fields_layout)
            flush_field(e, s, i, out);
    }
    if (fields_layout) {
        if (e->fhard) {
            uint8_t rd[BL_HARDEN_RECORD_BYTES];
            bl_hardener_record_digest(fields, lens, nfields, rd);
            harden_fields(e, s, rd, out);
        }
        if (popcount)
            *popcount = bli_popcount_bytes(out, e->nbytes);
        return BL_OK;
    }
    if (bli_blake_batch_flush(s->bb, s->cache, s->bits) != 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    bli_bloom_fold(s->bits, e->L, sc->folds);
    if (e->l % 8)
        s->bits[e->nbytes - 1] &= (uint8_t)(0xff00u >> (e->l % 8));
    if (e->hard) {
        uint8_t rd[BL_HARDEN_RECORD_BYTES];
        bl_hardener_record_digest(fields, lens, nfields, rd);
        bl_hardener_apply(e->hard, s->bits, out, s->hwork, rd);
    }
    else
        memcpy(out, s->bits, e->nbytes);
    if (popcount)
        *popcount = bli_popcount_bytes(out, e->outbytes);
    return BL_OK;
}

bl_status bl_encoder_encode(const bl_encoder *e, bl_encode_scratch *s, const char *const *fields,
                            const size_t *lens, size_t nfields, uint8_t *out, uint32_t *popcount,
                            bl_error *err)
{
    return encode_impl(e, s, fields, lens, nfields, out, popcount, NULL, NULL, err);
}

bl_status bl_encoder_trace(const bl_encoder *e, bl_encode_scratch *s, const char *const *fields,
                           const size_t *lens, size_t nfields, uint8_t *out,
                           void (*cb)(void *ctx, const bl_token_trace *t), void *ctx, bl_error *err)
{
    return encode_impl(e, s, fields, lens, nfields, out, NULL, cb, ctx, err);
}
