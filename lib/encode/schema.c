/* lib/encode/schema.c - parse and validate clkhash linkage schemas v1, v2 and v3.
 *
 * v1 and v2 documents are first checked against their own layout, then
 * rewritten into the v3 layout the way clkhash's converters do (v1: per
 * feature k = round-half-even(weight * k), weight 0 -> ignored; v2: ngram/
 * positional -> comparison, k -> bitsPerToken, numBits -> bitsPerFeature),
 * and the v3 document is parsed into the model of schema_internal.h.
 *
 * Every problem is recorded with its JSON path ("$.features[3].hashing");
 * parsing continues after a problem where it can, so `schema validate`
 * reports them all. Unknown keys are errors, except the documented-but-
 * ignored `clkConfig.xorFolds`, which is a warning (clkhash ignores it). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <math.h>
#include <pcre2.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/io.h>

#include "core/internal.h"
#include "encode/schema_internal.h"
#include "encode/fields_internal.h"

#define MAX_DIAGS 200

typedef struct pctx {
    bl_schema_diag *diags;
    size_t ndiags, nerrors, nwarn, cap;
    int oom;
} pctx;

static void diag_add(pctx *c, int is_error, const char *path, const char *fmt, va_list ap)
{
    if (c->ndiags >= MAX_DIAGS) {
        if (is_error)
            c->nerrors++;
        return;
    }
    if (bli_grow((void **)&c->diags, &c->cap, c->ndiags + 1, sizeof *c->diags, 16) != 0) {
        c->oom = 1;
        if (is_error)
            c->nerrors++;
        return;
    }
    bl_schema_diag *d = &c->diags[c->ndiags++];
    snprintf(d->path, sizeof d->path, "%s", path);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    if (is_error) {
        /* keep errors before warnings: move it in front of the first warning */
        size_t pos = c->nerrors;
        if (pos < c->ndiags - 1) {
            bl_schema_diag tmp = *d;
            memmove(&c->diags[pos + 1], &c->diags[pos], (c->ndiags - 1 - pos) * sizeof tmp);
            c->diags[pos] = tmp;
        }
        c->nerrors++;
    } else {
        c->nwarn++;
    }
}

static void perr(pctx *c, const char *path, const char *fmt, ...) BL_PRINTF(3, 4);
static void perr(pctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_add(c, 1, path, fmt, ap);
    va_end(ap);
}

static void pwarn(pctx *c, const char *path, const char *fmt, ...) BL_PRINTF(3, 4);
static void pwarn(pctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_add(c, 0, path, fmt, ap);
    va_end(ap);
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Report keys of `obj` not in the NULL-terminated `allowed` list. */
static void check_keys(pctx *c, const char *path, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, key))
                ok = 1;
        if (!ok) {
            char expected[256];
            size_t o = 0;
            expected[0] = '\0';
            for (const char *const *a = allowed; *a && o < sizeof expected - 40; a++)
                o += (size_t)snprintf(expected + o, sizeof expected - o, "%s%s", o ? ", " : "", *a);
            perr(c, path, "unknown key '%s' (allowed: %s)", key, expected);
        }
    }
}

/* Integer value, accepting integral reals as jsonschema does. */
static int as_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9.0e18) {
            *out = (int64_t)d;
            return 1;
        }
    }
    return 0;
}

/* Read optional/required integer key with a lower bound. Returns 1 if present and valid. */
static int get_int(pctx *c, const char *path, json_t *obj, const char *key, int required,
                   int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    char p[192];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!v) {
        if (required)
            perr(c, path, "missing required key '%s'", key);
        return 0;
    }
    int64_t x;
    if (!as_int(v, &x)) {
        perr(c, p, "must be an integer, not %s", jtype(v));
        return 0;
    }
    if (x < min) {
        perr(c, p, "must be at least %lld, not %lld", (long long)min, (long long)x);
        return 0;
    }
    if (x > max) {
        perr(c, p, "must be at most %lld, not %lld", (long long)max, (long long)x);
        return 0;
    }
    *out = x;
    return 1;
}

static const char *get_str(pctx *c, const char *path, json_t *obj, const char *key, int required)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            perr(c, path, "missing required key '%s'", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        perr(c, path, "'%s' must be a string, not %s", key, jtype(v));
        return NULL;
    }
    return json_string_value(v);
}

static int get_bool(pctx *c, const char *path, json_t *obj, const char *key, int dflt)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return dflt;
    if (!json_is_boolean(v)) {
        perr(c, path, "'%s' must be true or false, not %s", key, jtype(v));
        return dflt;
    }
    return json_is_true(v);
}

static json_t *get_obj(pctx *c, const char *path, json_t *obj, const char *key, int required)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            perr(c, path, "missing required key '%s'", key);
        return NULL;
    }
    if (!json_is_object(v)) {
        perr(c, path, "'%s' must be an object, not %s", key, jtype(v));
        return NULL;
    }
    return v;
}

static char *xstrdup(pctx *c, const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p) {
        c->oom = 1;
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* Python round(): half to even. */
static double round_half_even(double x)
{
    double r = nearbyint(x); /* default rounding mode: to nearest, ties to even */
    return r;
}

/* ---- v1 / v2 -> v3 document conversion -------------------------------------- */

static void check_common_clkconfig(pctx *c, json_t *cfg, int version)
{
    static const char *const k12[] = {"l", "kdf", "xor_folds", "xorFolds", "k", "hash", NULL};
    static const char *const k3[] = {"l", "kdf", "xor_folds", "xorFolds", NULL};
    check_keys(c, "$.clkConfig", cfg, version == 1 ? k12 : k3);
}

/* Validate a v2 hashing object and rewrite it in place into v3 layout. */
static void v2_hashing_to_v3(pctx *c, const char *path, json_t *h)
{
    static const char *const keys[] = {"ngram", "positional", "strategy", "hash", "missingValue", NULL};
    check_keys(c, path, h, keys);
    int64_t n = 0;
    char p[192];
    if (get_int(c, path, h, "ngram", 1, 0, 64, &n) && n == 0) {
        snprintf(p, sizeof p, "%s.ngram", path);
        perr(c, p, "ngram 0 is not supported (it yields empty tokens)");
    }
    int positional = get_bool(c, path, h, "positional", 0);
    json_t *st = get_obj(c, path, h, "strategy", 1);
    json_t *nst = json_object();
    if (!nst) {
        c->oom = 1;
        return;
    }
    if (st) {
        snprintf(p, sizeof p, "%s.strategy", path);
        static const char *const sk[] = {"k", "numBits", NULL};
        check_keys(c, p, st, sk);
        json_t *k = json_object_get(st, "k"), *nb = json_object_get(st, "numBits");
        json_t *which = k ? k : nb;
        if (k && nb)
            perr(c, p, "give only one of 'k' and 'numBits'");
        if (!which)
            perr(c, p, "needs 'k' or 'numBits'");
        else if (!json_is_number(which) || json_number_value(which) < 1)
            perr(c, p, "'%s' must be a number >= 1", k ? "k" : "numBits");
        else
            json_object_set_new(nst, k ? "bitsPerToken" : "bitsPerFeature",
                                json_integer((json_int_t)json_number_value(which)));
    }
    json_object_set_new(h, "strategy", nst);
    json_object_del(h, "ngram");
    json_object_del(h, "positional");
    json_t *cmp = json_pack("{s:s, s:I, s:b}", "type", "ngram", "n", (json_int_t)n, "positional", positional);
    if (!cmp) {
        c->oom = 1;
        return;
    }
    json_object_set_new(h, "comparison", cmp);
}

/* Convert a v1 document to v2 in place (global k and hash move into features). */
static void v1_to_v2(pctx *c, json_t *root)
{
    json_t *cfg = json_object_get(root, "clkConfig");
    json_t *features = json_object_get(root, "features");
    if (!json_is_object(cfg) || !json_is_array(features))
        return;
    int64_t k = 0;
    int have_k = get_int(c, "$.clkConfig", cfg, "k", 1, 1, BL_SCHEMA_MAX_K, &k);
    json_t *hash = get_obj(c, "$.clkConfig", cfg, "hash", 1);
    json_t *hash_copy = hash ? json_deep_copy(hash) : json_pack("{s:s}", "type", "blakeHash");
    size_t i;
    json_t *f;
    json_array_foreach(features, i, f) {
        char path[96];
        snprintf(path, sizeof path, "$.features[%zu].hashing", i);
        if (!json_is_object(f) || json_object_get(f, "ignored"))
            continue;
        json_t *h = json_object_get(f, "hashing");
        if (!json_is_object(h))
            continue;
        static const char *const keys[] = {"ngram", "positional", "weight", "missingValue", NULL};
        check_keys(c, path, h, keys);
        double weight = 1;
        json_t *w = json_object_get(h, "weight");
        if (w) {
            if (!json_is_number(w) || json_number_value(w) < 0) {
                char p[128];
                snprintf(p, sizeof p, "%s.weight", path);
                perr(c, p, "must be a number >= 0");
            } else {
                weight = json_number_value(w);
            }
            json_object_del(h, "weight");
        }
        if (weight == 0) {
            json_t *idv = json_object_get(f, "identifier");
            /* O takes a new reference, o steals one: the fallback string must be stolen */
            json_t *ign = idv ? json_pack("{s:O, s:b}", "identifier", idv, "ignored", 1)
                              : json_pack("{s:s, s:b}", "identifier", "", "ignored", 1);
            if (ign)
                json_array_set_new(features, i, ign);
            continue;
        }
        double kk = round_half_even(weight * (double)(have_k ? k : 1));
        json_object_set_new(h, "strategy", json_pack("{s:I}", "k", (json_int_t)kk));
        if (hash_copy)
            json_object_set_new(h, "hash", json_deep_copy(hash_copy));
    }
    json_decref(hash_copy);
    /* clkhash rebuilds clkConfig as {l, xor_folds (default 0), kdf}: other
     * keys, the camelCase xorFolds included, are dropped */
    if (json_object_get(cfg, "xorFolds"))
        pwarn(c, "$.clkConfig.xorFolds",
              "ignored, as clkhash ignores it: it reads only 'xor_folds', so these CLKs are NOT folded; "
              "write \"xor_folds\" to fold");
    json_t *ncfg = json_object();
    json_t *l = json_object_get(cfg, "l"), *xf = json_object_get(cfg, "xor_folds"), *kdf = json_object_get(cfg, "kdf");
    if (!ncfg) {
        c->oom = 1;
        return;
    }
    if (l)
        json_object_set(ncfg, "l", l);
    json_object_set_new(ncfg, "xor_folds", xf ? json_incref(xf) : json_integer(0));
    if (kdf)
        json_object_set(ncfg, "kdf", kdf);
    json_object_set_new(root, "clkConfig", ncfg);
    json_object_set_new(root, "version", json_integer(2));
}

static void v2_to_v3(pctx *c, json_t *root)
{
    json_t *features = json_object_get(root, "features");
    if (json_is_array(features)) {
        size_t i;
        json_t *f;
        json_array_foreach(features, i, f) {
            if (!json_is_object(f) || json_is_true(json_object_get(f, "ignored")))
                continue;
            json_t *h = json_object_get(f, "hashing");
            char path[96];
            snprintf(path, sizeof path, "$.features[%zu].hashing", i);
            if (json_is_object(h))
                v2_hashing_to_v3(c, path, h);
        }
    }
    json_object_set_new(root, "version", json_integer(3));
}

/* ---- v3 parsing ------------------------------------------------------------- */

static void *compile_pattern(pctx *c, const char *path, const char *pat)
{
    /* Python syntax differences handled: {,n} -> {0,n}; \Z -> \z. */
    size_t n = strlen(pat);
    char *t = malloc(n * 2 + 1);
    if (!t) {
        c->oom = 1;
        return NULL;
    }
    size_t o = 0;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        if (pat[i] == '\\' && i + 1 < n) {
            t[o++] = '\\';
            t[o++] = (!in_class && pat[i + 1] == 'Z') ? 'z' : pat[i + 1];
            i++;
            continue;
        }
        if (pat[i] == '[')
            in_class = 1;
        else if (pat[i] == ']')
            in_class = 0;
        t[o++] = pat[i];
        if (!in_class && pat[i] == '{' && i + 1 < n && pat[i + 1] == ',')
            t[o++] = '0';
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)t, o, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    free(t);
    if (!re) {
        PCRE2_UCHAR buf[160];
        pcre2_get_error_message(ec, buf, sizeof buf);
        perr(c, path, "invalid regular expression '%s': %s at offset %zu", pat, (const char *)buf,
             (size_t)eo);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static void parse_format(pctx *c, const char *fpath, json_t *fmtobj, bl_feature *f)
{
    char path[128];
    snprintf(path, sizeof path, "%s.format", fpath);
    const char *type = get_str(c, path, fmtobj, "type", 1);
    if (!type)
        return;
    if (!strcmp(type, "string")) {
        static const char *const k[] = {"type", "encoding", "case", "minLength", "maxLength",
                                         "pattern", "description", NULL};
        check_keys(c, path, fmtobj, k);
        f->fmt = BL_FORMAT_STRING;
        const char *enc = get_str(c, path, fmtobj, "encoding", 0);
        if (enc) {
            if (!strcmp(enc, "utf-8"))
                f->encoding = BL_TEXTENC_UTF8;
            else if (!strcmp(enc, "ascii"))
                f->encoding = BL_TEXTENC_ASCII;
            else if (!strcmp(enc, "utf-16"))
                f->encoding = BL_TEXTENC_UTF16;
            else if (!strcmp(enc, "utf-32"))
                f->encoding = BL_TEXTENC_UTF32;
            else
                perr(c, path, "encoding '%s' is not one of ascii, utf-8, utf-16, utf-32", enc);
        }
        const char *pat = get_str(c, path, fmtobj, "pattern", 0);
        if (pat) {
            if (json_object_get(fmtobj, "case") || json_object_get(fmtobj, "minLength") ||
                json_object_get(fmtobj, "maxLength"))
                perr(c, path, "'pattern' cannot be combined with 'case', 'minLength' or 'maxLength'");
            char pp[160];
            snprintf(pp, sizeof pp, "%s.pattern", path);
            f->pattern = xstrdup(c, pat, strlen(pat));
            f->regex = compile_pattern(c, pp, pat);
        }
        const char *cs = get_str(c, path, fmtobj, "case", 0);
        if (cs) {
            if (!strcmp(cs, "upper"))
                f->case_rule = BL_CASE_UPPER;
            else if (!strcmp(cs, "lower"))
                f->case_rule = BL_CASE_LOWER;
            else if (strcmp(cs, "mixed"))
                perr(c, path, "case '%s' is not one of upper, lower, mixed", cs);
        }
        int64_t v;
        if (get_int(c, path, fmtobj, "minLength", 0, 0, INT64_MAX, &v))
            f->min_length = v;
        if (get_int(c, path, fmtobj, "maxLength", 0, 1, INT64_MAX, &v))
            f->max_length = v;
    } else if (!strcmp(type, "integer")) {
        static const char *const k[] = {"type", "minimum", "maximum", "description", NULL};
        check_keys(c, path, fmtobj, k);
        f->fmt = BL_FORMAT_INTEGER;
        f->has_minimum = get_int(c, path, fmtobj, "minimum", 0, INT64_MIN, INT64_MAX, &f->minimum);
        f->has_maximum = get_int(c, path, fmtobj, "maximum", 0, INT64_MIN, INT64_MAX, &f->maximum);
    } else if (!strcmp(type, "date")) {
        static const char *const k[] = {"type", "format", "description", NULL};
        check_keys(c, path, fmtobj, k);
        f->fmt = BL_FORMAT_DATE;
        const char *df = get_str(c, path, fmtobj, "format", 1);
        if (df) {
            char msg[256];
            f->date_format = xstrdup(c, df, strlen(df));
            f->date = bli_pydate_compile(df, msg, sizeof msg);
            if (!f->date) {
                char pp[160];
                snprintf(pp, sizeof pp, "%s.format", path);
                perr(c, pp, "%s", msg);
            }
        }
    } else if (!strcmp(type, "enum")) {
        static const char *const k[] = {"type", "values", "description", NULL};
        check_keys(c, path, fmtobj, k);
        f->fmt = BL_FORMAT_ENUM;
        json_t *vals = json_object_get(fmtobj, "values");
        if (!vals) {
            perr(c, path, "missing required key 'values'");
        } else if (!json_is_array(vals)) {
            perr(c, path, "'values' must be an array of strings");
        } else {
            size_t nv = json_array_size(vals);
            f->values = calloc(nv ? nv : 1, sizeof *f->values);
            f->value_lens = calloc(nv ? nv : 1, sizeof *f->value_lens);
            if (!f->values || !f->value_lens) {
                c->oom = 1;
                return;
            }
            for (size_t i = 0; i < nv; i++) {
                json_t *s = json_array_get(vals, i);
                if (!json_is_string(s)) {
                    char pp[160];
                    snprintf(pp, sizeof pp, "%s.values[%zu]", path, i);
                    perr(c, pp, "must be a string, not %s", jtype(s));
                    continue;
                }
                f->values[f->nvalues] = xstrdup(c, json_string_value(s), json_string_length(s));
                f->value_lens[f->nvalues++] = json_string_length(s);
            }
        }
    } else {
        char pp[160];
        snprintf(pp, sizeof pp, "%s.type", path);
        perr(c, pp, "format type '%s' is not one of string, integer, date, enum", type);
    }
}

static void parse_hashing(pctx *c, const char *fpath, json_t *h, bl_feature *f)
{
    char path[128], p[160];
    snprintf(path, sizeof path, "%s.hashing", fpath);
    static const char *const hk[] = {"comparison", "strategy", "hash", "missingValue", NULL};
    check_keys(c, path, h, hk);

    json_t *cmp = get_obj(c, path, h, "comparison", 1);
    if (cmp) {
        snprintf(p, sizeof p, "%s.comparison", path);
        const char *type = get_str(c, p, cmp, "type", 1);
        if (type && !strcmp(type, "ngram")) {
            static const char *const k[] = {"type", "n", "positional", NULL};
            check_keys(c, p, cmp, k);
            int64_t n;
            f->cmp = BL_CMP_NGRAM;
            if (get_int(c, p, cmp, "n", 1, 1, 64, &n))
                f->n = (uint32_t)n;
            f->positional = get_bool(c, p, cmp, "positional", 0);
        } else if (type && !strcmp(type, "exact")) {
            static const char *const k[] = {"type", NULL};
            check_keys(c, p, cmp, k);
            f->cmp = BL_CMP_EXACT;
        } else if (type && !strcmp(type, "numeric")) {
            static const char *const k[] = {"type", "thresholdDistance", "resolution",
                                             "fractional_precision", NULL};
            check_keys(c, p, cmp, k);
            f->cmp = BL_CMP_NUMERIC;
            json_t *td = json_object_get(cmp, "thresholdDistance");
            if (!td)
                perr(c, p, "missing required key 'thresholdDistance'");
            else if (!json_is_number(td) || !(json_number_value(td) > 0))
                perr(c, p, "'thresholdDistance' must be a number > 0");
            else
                f->threshold = json_number_value(td);
            int64_t r = 0, fp = 0;
            if (get_int(c, p, cmp, "resolution", 1, 1, 100000, &r))
                f->resolution = (uint32_t)r;
            if (get_int(c, p, cmp, "fractional_precision", 0, 0, 18, &fp))
                f->frac_precision = (uint32_t)fp;
            if (f->threshold > 0) {
                double d = round_half_even(f->threshold * pow(10.0, (double)f->frac_precision));
                if (d < 1)
                    perr(c, p, "not enough fractional_precision to encode thresholdDistance %g", f->threshold);
                else if (d > 1e15)
                    perr(c, p, "thresholdDistance * 10^fractional_precision is too large");
                else
                    f->distance = (int64_t)d;
            }
        } else if (type) {
            perr(c, p, "comparison type '%s' is not one of ngram, exact, numeric", type);
        }
    }

    json_t *st = get_obj(c, path, h, "strategy", 1);
    if (st) {
        snprintf(p, sizeof p, "%s.strategy", path);
        static const char *const k[] = {"bitsPerToken", "bitsPerFeature", NULL};
        check_keys(c, p, st, k);
        int has_t = json_object_get(st, "bitsPerToken") != NULL;
        int has_f = json_object_get(st, "bitsPerFeature") != NULL;
        int64_t v;
        if (has_t && has_f)
            perr(c, p, "give only one of 'bitsPerToken' and 'bitsPerFeature'");
        else if (!has_t && !has_f)
            perr(c, p, "needs 'bitsPerToken' or 'bitsPerFeature'");
        else if (get_int(c, p, st, has_t ? "bitsPerToken" : "bitsPerFeature", 1, 1, BL_SCHEMA_MAX_K, &v)) {
            f->strategy = has_t ? BL_STRATEGY_BITS_PER_TOKEN : BL_STRATEGY_BITS_PER_FEATURE;
            f->k = (uint32_t)v;
        }
    }

    f->hash = BL_HASH_BLAKE;
    f->prevent_singularity = -1;
    json_t *hs = get_obj(c, path, h, "hash", 0);
    if (hs) {
        snprintf(p, sizeof p, "%s.hash", path);
        const char *type = get_str(c, p, hs, "type", 1);
        if (type && !strcmp(type, "blakeHash")) {
            static const char *const k[] = {"type", NULL};
            if (json_object_get(hs, "prevent_singularity"))
                perr(c, p, "'prevent_singularity' may only be given with doubleHash");
            else
                check_keys(c, p, hs, k);
        } else if (type && !strcmp(type, "doubleHash")) {
            static const char *const k[] = {"type", "prevent_singularity", NULL};
            check_keys(c, p, hs, k);
            f->hash = BL_HASH_DOUBLE;
            if (json_object_get(hs, "prevent_singularity"))
                f->prevent_singularity = get_bool(c, p, hs, "prevent_singularity", 0);
        } else if (type) {
            perr(c, p, "hash type '%s' is not one of blakeHash, doubleHash", type);
        }
    }

    json_t *mv = get_obj(c, path, h, "missingValue", 0);
    if (mv) {
        snprintf(p, sizeof p, "%s.missingValue", path);
        static const char *const k[] = {"sentinel", "replaceWith", NULL};
        check_keys(c, p, mv, k);
        json_t *s = json_object_get(mv, "sentinel");
        json_t *r = json_object_get(mv, "replaceWith");
        if (!s)
            perr(c, p, "missing required key 'sentinel'");
        else if (!json_is_string(s))
            perr(c, p, "'sentinel' must be a string, not %s", jtype(s));
        else {
            f->has_missing = 1;
            f->sentinel = xstrdup(c, json_string_value(s), json_string_length(s));
            f->sentinel_len = json_string_length(s);
            json_t *rv = s;
            if (r && !json_is_string(r))
                perr(c, p, "'replaceWith' must be a string, not %s", jtype(r));
            else if (r) {
                rv = r;
                f->has_replace = 1;
            }
            f->replace_with = xstrdup(c, json_string_value(rv), json_string_length(rv));
            f->replace_len = json_string_length(rv);
        }
    }
}

static void parse_feature(pctx *c, size_t i, json_t *fo, bl_feature *f)
{
    char path[64];
    snprintf(path, sizeof path, "$.features[%zu]", i);
    f->min_length = f->max_length = -1;
    f->prevent_singularity = -1;
    if (!json_is_object(fo)) {
        perr(c, path, "must be an object, not %s", jtype(fo));
        f->ignored = 1;
        return;
    }
    const char *id = get_str(c, path, fo, "identifier", 1);
    f->identifier = xstrdup(c, id ? id : "", id ? strlen(id) : 0);
    json_t *ign = json_object_get(fo, "ignored");
    if (ign && !json_is_boolean(ign))
        perr(c, path, "'ignored' must be true or false, not %s", jtype(ign));
    if (json_is_true(ign) && !json_object_get(fo, "format") && !json_object_get(fo, "hashing")) {
        static const char *const k[] = {"identifier", "ignored", "description", NULL};
        check_keys(c, path, fo, k);
        f->ignored = 1;
        return;
    }
    static const char *const k[] = {"identifier", "description", "ignored", "format", "hashing", NULL};
    check_keys(c, path, fo, k);
    get_str(c, path, fo, "description", 0);
    json_t *fmt = get_obj(c, path, fo, "format", 1);
    json_t *h = get_obj(c, path, fo, "hashing", 1);
    if (fmt)
        parse_format(c, path, fmt, f);
    if (h)
        parse_hashing(c, path, h, f);
    if (json_is_true(ign))
        f->ignored = 1;
}

static void parse_kdf(pctx *c, json_t *kdf, bl_schema *s)
{
    const char *path = "$.clkConfig.kdf";
    static const char *const k[] = {"type", "hash", "salt", "info", "keySize", NULL};
    check_keys(c, path, kdf, k);
    const char *type = get_str(c, path, kdf, "type", 1);
    if (type && strcmp(type, "HKDF"))
        perr(c, path, "kdf type '%s' is not supported (only HKDF)", type);
    const char *hash = get_str(c, path, kdf, "hash", 0);
    if (hash) {
        if (!strcmp(hash, "SHA512"))
            s->kdf_sha512 = 1;
        else if (strcmp(hash, "SHA256"))
            perr(c, path, "kdf hash '%s' is not one of SHA256, SHA512", hash);
    }
    const char *names[2] = {"salt", "info"};
    uint8_t **dst[2] = {&s->salt, &s->info};
    size_t *dlen[2] = {&s->salt_len, &s->info_len};
    for (int j = 0; j < 2; j++) {
        const char *b64 = get_str(c, path, kdf, names[j], 0);
        if (!b64)
            continue;
        size_t n = strlen(b64);
        uint8_t *buf = malloc(n + 1);
        if (!buf) {
            c->oom = 1;
            return;
        }
        size_t outlen = 0;
        if (sodium_base642bin(buf, n + 1, b64, n, " \t\r\n", &outlen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            char p[64];
            snprintf(p, sizeof p, "%s.%s", path, names[j]);
            perr(c, p, "is not valid base64");
            free(buf);
            continue;
        }
        *dst[j] = buf;
        *dlen[j] = outlen;
    }
    int64_t ks = 64;
    get_int(c, path, kdf, "keySize", 0, 1, BL_SCHEMA_MAX_KEY_SIZE, &ks);
    s->key_size = (uint32_t)ks;
}

static int is_pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

/* Parse an already converted v3 document into `s`. */
static void parse_v3(pctx *c, json_t *root, bl_schema *s, int orig_version)
{
    static const char *const top[] = {"version", "clkConfig", "features", "blindlink", NULL};
    check_keys(c, "$", root, top);
    json_t *cfg = get_obj(c, "$", root, "clkConfig", 1);
    s->key_size = 64;
    if (cfg) {
        if (orig_version == 3)
            check_common_clkconfig(c, cfg, 3);
        int64_t l = 0, folds = 0;
        if (get_int(c, "$.clkConfig", cfg, "l", 1, 1, BL_SCHEMA_MAX_L, &l))
            s->l = (uint32_t)l;
        if (get_int(c, "$.clkConfig", cfg, "xor_folds", 0, 0, 20, &folds))
            s->folds = (uint32_t)folds;
        if (json_object_get(cfg, "xorFolds")) {
            if (json_object_get(cfg, "xor_folds"))
                pwarn(c, "$.clkConfig.xorFolds",
                      "ignored; clkhash reads only 'xor_folds' (which is also given)");
            else
                pwarn(c, "$.clkConfig.xorFolds",
                      "ignored, as clkhash ignores it: it reads only 'xor_folds', so these CLKs are "
                      "NOT folded; write \"xor_folds\" to fold");
        }
        if (s->l && ((uint64_t)s->l << s->folds) > BL_SCHEMA_MAX_L)
            perr(c, "$.clkConfig", "l * 2^xor_folds = %llu exceeds the cap of %u bits",
                 (unsigned long long)((uint64_t)s->l << s->folds), BL_SCHEMA_MAX_L);
        json_t *kdf = get_obj(c, "$.clkConfig", cfg, "kdf", 1);
        if (kdf)
            parse_kdf(c, kdf, s);
    }
    json_t *features = json_object_get(root, "features");
    if (!features) {
        perr(c, "$", "missing required key 'features'");
        return;
    }
    if (!json_is_array(features)) {
        perr(c, "$.features", "must be an array, not %s", jtype(features));
        return;
    }
    size_t nf = json_array_size(features);
    if (nf == 0) {
        perr(c, "$.features", "must list at least one feature (one per CSV column)");
        return;
    }
    if (nf > BL_SCHEMA_MAX_FEATURES) {
        perr(c, "$.features", "%zu features exceed the cap of %u", nf, BL_SCHEMA_MAX_FEATURES);
        return;
    }
    s->features = calloc(nf, sizeof *s->features);
    if (!s->features) {
        c->oom = 1;
        return;
    }
    s->nfeatures = nf;
    int any_blake = 0;
    for (size_t i = 0; i < nf; i++) {
        parse_feature(c, i, json_array_get(features, i), &s->features[i]);
        if (!s->features[i].ignored && s->features[i].hash == BL_HASH_BLAKE)
            any_blake = 1;
    }
    /* blindlink's own extension (field groups of --layout fields, lib/encode/fields.c) */
    json_t *ext = json_object_get(root, "blindlink");
    if (ext) {
        char epath[160], emsg[300];
        if (bl_fields_check_ext(ext, s, epath, sizeof epath, emsg, sizeof emsg) != 0)
            perr(c, epath, "%s", emsg);
        else if (!(s->ext_json = json_dumps(ext, JSON_COMPACT)))
            c->oom = 1;
    }
    /* identifiers must be unique among hashed features: the CSV header check relies on it */
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < i; j++)
            if (s->features[i].identifier && s->features[j].identifier &&
                !strcmp(s->features[i].identifier, s->features[j].identifier) &&
                s->features[i].identifier[0]) {
                char p[64];
                snprintf(p, sizeof p, "$.features[%zu].identifier", i);
                pwarn(c, p, "identifier '%s' repeats $.features[%zu]", s->features[i].identifier, j);
            }
    if (s->l) {
        uint64_t L = (uint64_t)s->l << s->folds;
        if (any_blake && !is_pow2(L))
            perr(c, "$.clkConfig.l",
                 "blakeHash needs l * 2^xor_folds to be a power of two (it is %llu); use doubleHash "
                 "or change l",
                 (unsigned long long)L);
    }
    if (any_blake && s->key_size > 64)
        perr(c, "$.clkConfig.kdf.keySize", "blakeHash keys are at most 64 bytes, not %u", s->key_size);
    size_t hashlen = s->kdf_sha512 ? 64 : 32;
    if ((uint64_t)nf * 2 * s->key_size > 255 * hashlen)
        perr(c, "$.clkConfig.kdf",
             "HKDF-%s can derive at most %zu bytes, but %zu features x 2 keys x %u bytes need %llu; "
             "lower keySize or use SHA512",
             s->kdf_sha512 ? "SHA512" : "SHA256", 255 * hashlen, nf, s->key_size,
             (unsigned long long)nf * 2 * s->key_size);
}

static void feature_free(bl_feature *f)
{
    free(f->identifier);
    free(f->pattern);
    pcre2_code_free(f->regex);
    free(f->date_format);
    bli_pydate_free(f->date);
    for (size_t i = 0; i < f->nvalues; i++)
        free(f->values[i]);
    free(f->values);
    free(f->value_lens);
    free(f->sentinel);
    free(f->replace_with);
}

void bl_schema_free(bl_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfeatures; i++)
        feature_free(&s->features[i]);
    free(s->features);
    free(s->salt);
    free(s->info);
    for (size_t i = 0; i < s->nwarnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    free(s->v3_json);
    free(s->ext_json);
    free(s);
}

/* Full pipeline: JSON text -> diagnostics (+ schema if no errors and out). */
static bl_status parse_all(const char *json, size_t len, pctx *c, bl_schema **out, bl_error *err,
                           const char *name)
{
    json_error_t je;
    const size_t bom = bli_bom_len(json, len);
    json += bom;
    len -= bom;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    /* a model, groups, CLKs where the schema belongs (valid JSON or not) */
    const char *other = bli_kind_other(json, len, BLI_KIND_SCHEMA);
    if (!root && *other)
        return bl_error_set(err, BL_ESCHEMA, "%s is %s, not a clkhash schema (JSON)",
                            name ? name : "schema", other);
    if (!root)
        return bl_error_set(err, BL_ESCHEMA, "%s:%d:%d: not valid JSON: %s", name ? name : "schema",
                            je.line, je.column, je.text);
    bl_schema *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(root);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    int version = 0;
    if (!json_is_object(root)) {
        perr(c, "$", "the top level must be an object, not %s", jtype(root));
    } else {
        json_t *v = json_object_get(root, "version");
        int64_t iv;
        if (!v && *other)
            perr(c, "$", "this is %s, not a clkhash schema", other);
        else if (!v)
            perr(c, "$", "missing required key 'version'");
        else if (!as_int(v, &iv) || iv < 1 || iv > 3)
            perr(c, "$.version", "schema version %s is not supported (1, 2 or 3)",
                 json_is_number(v) ? "given" : "must be a number and");
        else
            version = (int)iv;
    }
    if (version) {
        s->version = version;
        json_t *cfg = json_object_get(root, "clkConfig");
        if (version < 3 && json_is_object(cfg))
            check_common_clkconfig(c, cfg, version);
        if (version == 1)
            v1_to_v2(c, root);
        if (version <= 2)
            v2_to_v3(c, root);
        parse_v3(c, root, s, version);
        s->v3_json = json_dumps(root, JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17));
        if (!s->v3_json)
            c->oom = 1;
    }
    json_decref(root);
    if (c->oom) {
        bl_schema_free(s);
        return bl_error_set(err, BL_ENOMEM, "out of memory while parsing the schema");
    }
    if (c->nerrors || !version) {
        bl_schema_free(s);
        if (c->ndiags)
            bl_error_set(err, BL_ESCHEMA, "%s: %s: %s%s", name ? name : "schema", c->diags[0].path,
                         c->diags[0].msg,
                         c->nerrors > 1 ? " (and more; see 'blindlink schema validate')" : "");
        else
            bl_error_set(err, BL_ESCHEMA, "%s: invalid schema", name ? name : "schema");
        return BL_ESCHEMA;
    }
    if (out) {
        s->warnings = calloc(c->nwarn ? c->nwarn : 1, sizeof *s->warnings);
        if (!s->warnings) {
            bl_schema_free(s);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        for (size_t i = c->nerrors; i < c->ndiags; i++) {
            size_t n = strlen(c->diags[i].path) + strlen(c->diags[i].msg) + 3;
            char *w = malloc(n);
            if (!w)
                break;
            snprintf(w, n, "%s: %s", c->diags[i].path, c->diags[i].msg);
            s->warnings[s->nwarnings++] = w;
        }
        *out = s;
    } else {
        bl_schema_free(s);
    }
    return BL_OK;
}

bl_status bl_schema_parse(const char *json, size_t len, const char *name, bl_schema **out,
                          bl_error *err)
{
    if (!json || !out)
        return bl_error_set(err, BL_EINVAL, "bl_schema_parse: NULL argument");
    *out = NULL;
    if (len > BL_SCHEMA_MAX_BYTES)
        return bl_error_set(err, BL_ELIMIT, "%s: schema larger than %u bytes", name ? name : "schema",
                            BL_SCHEMA_MAX_BYTES);
    pctx c = {0};
    bl_status st = parse_all(json, len, &c, out, err, name);
    free(c.diags);
    return st;
}

bl_status bl_schema_load(const char *path, bl_schema **out, bl_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (!out)
        return bl_error_set(err, BL_EINVAL, "bl_schema_load: NULL argument");
    *out = NULL;
    bl_status st = bl_read_file(path, BL_SCHEMA_MAX_BYTES, &buf, &len, err);
    if (st != BL_OK)
        return st;
    st = bl_schema_parse(buf, len, path, out, err);
    free(buf);
    return st;
}

bl_status bl_schema_check(const char *json, size_t len, const char *name, bl_schema_diag **diags,
                          size_t *ndiags, size_t *nerrors, bl_error *err)
{
    pctx c = {0};
    *diags = NULL;
    *ndiags = *nerrors = 0;
    bl_status st = parse_all(json, len, &c, NULL, err, name);
    if (st == BL_ENOMEM || (st != BL_OK && c.ndiags == 0 && c.nerrors == 0)) {
        free(c.diags);
        return st;
    }
    *diags = c.diags;
    *ndiags = c.ndiags;
    *nerrors = c.nerrors;
    return BL_OK;
}

int bl_schema_version(const bl_schema *s) { return s->version; }
uint32_t bl_schema_filter_bits(const bl_schema *s) { return s->l; }
uint32_t bl_schema_xor_folds(const bl_schema *s) { return s->folds; }
size_t bl_schema_nfeatures(const bl_schema *s) { return s->nfeatures; }
const char *bl_schema_feature_id(const bl_schema *s, size_t i)
{
    return i < s->nfeatures ? s->features[i].identifier : NULL;
}
int bl_schema_feature_ignored(const bl_schema *s, size_t i)
{
    return i < s->nfeatures ? s->features[i].ignored : 1;
}
size_t bl_schema_nwarnings(const bl_schema *s) { return s->nwarnings; }
const char *bl_schema_warning(const bl_schema *s, size_t i)
{
    return i < s->nwarnings ? s->warnings[i] : NULL;
}

bl_status bl_schema_to_v3_json(const bl_schema *s, char **out, bl_error *err)
{
    if (!s->v3_json)
        return bl_error_set(err, BL_EINTERNAL, "no v3 serialisation available");
    *out = strdup(s->v3_json);
    return *out ? BL_OK : bl_error_set(err, BL_ENOMEM, "out of memory");
}
