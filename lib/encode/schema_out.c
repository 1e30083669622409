/* lib/encode/schema_out.c - what a parsed schema is turned into: the canonical
 * fingerprint carried in binary CLK headers, the human summary of
 * `schema describe`, and the expected number of bits set per record. */
#include <math.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "encode/schema_internal.h"
#include "encode/fields_internal.h"

/* ---- fingerprint ------------------------------------------------------------ */

static void put(crypto_generichash_blake2b_state *st, const char *fmt, ...) BL_PRINTF(2, 3);
static void put(crypto_generichash_blake2b_state *st, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        crypto_generichash_blake2b_update(st, (const unsigned char *)buf,
                                          (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* length-prefixed bytes, so no field can run into the next */
static void put_bytes(crypto_generichash_blake2b_state *st, const void *p, size_t n, int present)
{
    if (!present) {
        put(st, "-;");
        return;
    }
    put(st, "%zu:", n);
    crypto_generichash_blake2b_update(st, p, n);
    put(st, ";");
}

void bl_schema_fingerprint(const bl_schema *s, const char *variant, uint8_t out[32])
{
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, NULL, 0, 32);
    put(&st, "blindlink-clk-fingerprint-v1\n");
    put(&st, "l=%u;folds=%u;kdf=HKDF-%s;keysize=%u;", s->l, s->folds, s->kdf_sha512 ? "SHA512" : "SHA256",
        s->key_size);
    put(&st, "salt=");
    put_bytes(&st, s->salt, s->salt_len, s->salt != NULL);
    put(&st, "info=");
    put_bytes(&st, s->info, s->info_len, s->info != NULL);
    put(&st, "features=%zu\n", s->nfeatures);
    for (size_t i = 0; i < s->nfeatures; i++) {
        const bl_feature *f = &s->features[i];
        if (f->ignored) {
            put(&st, "%zu:ignored\n", i);
            continue;
        }
        put(&st, "%zu:fmt=%d;enc=%d;cmp=%d;", i, (int)f->fmt,
            f->fmt == BL_FORMAT_STRING ? (int)f->encoding : 0, (int)f->cmp);
        if (f->cmp == BL_CMP_NGRAM)
            put(&st, "n=%u;pos=%d;", f->n, f->positional);
        else if (f->cmp == BL_CMP_NUMERIC)
            put(&st, "D=%lld;r=%u;p=%u;", (long long)f->distance, f->resolution, f->frac_precision);
        put(&st, "strategy=%d;k=%u;hash=%d;ps=%d;", (int)f->strategy, f->k, (int)f->hash,
            f->prevent_singularity == 1);
        put(&st, "missing=");
        put_bytes(&st, f->sentinel, f->sentinel_len, f->has_missing);
        put(&st, "replace=");
        put_bytes(&st, f->replace_with, f->replace_len, f->has_missing);
        put(&st, "\n");
    }
    put(&st, "variant=%s\n", variant ? variant : "");
    crypto_generichash_blake2b_final(&st, out, 32);
}

/* ---- expected bits ---------------------------------------------------------- */

static double value_chars(const bl_feature *f, double avg_len)
{
    switch (f->fmt) {
    case BL_FORMAT_DATE:
        return 8; /* YYYYMMDD */
    case BL_FORMAT_INTEGER:
        return 3;
    case BL_FORMAT_ENUM: {
        if (!f->nvalues)
            return 1;
        double sum = 0;
        for (size_t i = 0; i < f->nvalues; i++)
            sum += (double)f->value_lens[i];
        return sum / (double)f->nvalues;
    }
    default:
        return avg_len;
    }
}

static double feature_tokens(const bl_feature *f, double avg_len)
{
    double c = value_chars(f, avg_len);
    switch (f->cmp) {
    case BL_CMP_NGRAM:
        return f->n > 1 ? c + f->n - 1 : c;
    case BL_CMP_EXACT:
        return 1;
    default:
        return 2.0 * f->resolution + 1;
    }
}

static double feature_insertions(const bl_feature *f, double avg_len)
{
    double n = feature_tokens(f, avg_len);
    return f->strategy == BL_STRATEGY_BITS_PER_FEATURE ? (double)f->k : n * f->k;
}

double bl_schema_expected_bits(const bl_schema *s, double avg_len)
{
    if (avg_len <= 0)
        avg_len = 8;
    double L = (double)bli_schema_hash_len(s), m = 0;
    if (L <= 0)
        return 0;
    for (size_t i = 0; i < s->nfeatures; i++)
        if (!s->features[i].ignored)
            m += feature_insertions(&s->features[i], avg_len);
    double p = 1.0 - pow(1.0 - 1.0 / L, m); /* fraction of bits set before folding */
    for (uint32_t f = 0; f < s->folds; f++)
        p = 2 * p * (1 - p); /* XOR of two independent bits */
    return p * s->l;
}

/* ---- describe ----------------------------------------------------------------- */

static const char *enc_name(bl_text_encoding e)
{
    static const char *const n[] = {"utf-8", "ascii", "utf-16", "utf-32"};
    return n[e];
}

bl_status bl_schema_describe(const bl_schema *s, FILE *fp, double avg_len, bl_error *err)
{
    if (avg_len <= 0)
        avg_len = 8;
    size_t hashed = 0;
    for (size_t i = 0; i < s->nfeatures; i++)
        hashed += !s->features[i].ignored;
    fprintf(fp, "Linkage schema version %d%s\n", s->version, s->version < 3 ? " (read as v3)" : "");
    fprintf(fp, "  CLK length: %u bits (%u bytes)", s->l, (s->l + 7) / 8);
    if (s->folds)
        fprintf(fp, ", hashed into %u bits then XOR-folded %u time%s", bli_schema_hash_len(s), s->folds,
                s->folds > 1 ? "s" : "");
    fprintf(fp, "\n  Key derivation: HKDF-%s, salt %s, info %s, %u-byte keys (2 per column)\n",
            s->kdf_sha512 ? "SHA512" : "SHA256", s->salt ? "given" : "none (zeros)", s->info ? "given" : "none",
            s->key_size);
    fprintf(fp, "  Columns: %zu (%zu hashed, %zu ignored)\n\n", s->nfeatures, hashed, s->nfeatures - hashed);
    for (size_t i = 0; i < s->nfeatures; i++) {
        const bl_feature *f = &s->features[i];
        fprintf(fp, "  %2zu. %s", i + 1, f->identifier);
        if (f->ignored) {
            fprintf(fp, ": ignored\n");
            continue;
        }
        fprintf(fp, "\n      format: ");
        switch (f->fmt) {
        case BL_FORMAT_STRING:
            fprintf(fp, "string, %s", enc_name(f->encoding));
            if (f->pattern)
                fprintf(fp, ", must match /%s/", f->pattern);
            if (f->min_length >= 0)
                fprintf(fp, ", at least %lld characters", (long long)f->min_length);
            if (f->max_length >= 0)
                fprintf(fp, ", at most %lld characters", (long long)f->max_length);
            if (f->case_rule != BL_CASE_MIXED)
                fprintf(fp, ", %s case only", f->case_rule == BL_CASE_UPPER ? "upper" : "lower");
            break;
        case BL_FORMAT_INTEGER:
            fprintf(fp, "integer");
            if (f->has_minimum)
                fprintf(fp, " >= %lld", (long long)f->minimum);
            if (f->has_maximum)
                fprintf(fp, " <= %lld", (long long)f->maximum);
            fprintf(fp, " (hashed as canonical decimal)");
            break;
        case BL_FORMAT_DATE:
            fprintf(fp, "date %s (hashed as YYYYMMDD)", f->date_format);
            break;
        case BL_FORMAT_ENUM:
            fprintf(fp, "one of");
            for (size_t j = 0; j < f->nvalues; j++)
                fprintf(fp, "%s '%s'", j ? "," : "", f->values[j]);
            break;
        }
        if (f->has_missing) {
            fprintf(fp, "\n      missing value: '%s'", f->sentinel);
            if (f->has_replace)
                fprintf(fp, " -> hashed as '%s'", f->replace_with);
            else
                fprintf(fp, " (not validated)");
        }
        fprintf(fp, "\n      tokens: ");
        if (f->cmp == BL_CMP_NGRAM)
            fprintf(fp, "%s%u-grams of code points%s", f->positional ? "positional " : "", f->n,
                    f->n > 1 ? " (padded with spaces)" : "");
        else if (f->cmp == BL_CMP_EXACT)
            fprintf(fp, "the whole value (exact)");
        else
            fprintf(fp, "numeric neighbourhood: %u tokens, threshold distance %g, %u decimal%s", 2 * f->resolution + 1,
                    f->threshold, f->frac_precision, f->frac_precision == 1 ? "" : "s");
        fprintf(fp, ", ~%.1f per value\n      bits: ", feature_tokens(f, avg_len));
        if (f->strategy == BL_STRATEGY_BITS_PER_TOKEN)
            fprintf(fp, "%u per token", f->k);
        else
            fprintf(fp, "%u per value, shared among its tokens", f->k);
        fprintf(fp, ", %s", f->hash == BL_HASH_BLAKE ? "blakeHash" : "doubleHash");
        if (f->hash == BL_HASH_DOUBLE && f->prevent_singularity == 1)
            fprintf(fp, " (prevent_singularity)");
        fprintf(fp, "\n");
    }
    double eb = bl_schema_expected_bits(s, avg_len);
    fprintf(fp, "\n  Expected bits set per record: about %.0f of %u (%.0f%%), assuming every column\n"
                "  is present and strings average %.0f characters.\n",
            eb, s->l, s->l ? 100.0 * eb / s->l : 0.0, avg_len);
    for (size_t i = 0; i < s->nwarnings; i++)
        fprintf(fp, "  warning: %s\n", s->warnings[i]);
    bl_fields_describe(s, fp); /* --layout fields: low-entropy fields alone in a filter */
    if (ferror(fp))
        return bl_error_set(err, BL_EIO, "cannot write the description");
    return BL_OK;
}
