/* lib/encode/valueformat.c - clkhash's per-value validation rules and formatting.
 *
 * Validation (skipped for missing-value sentinels and with --no-validate):
 * encodability in the feature's encoding, regex fullmatch (PCRE2, Python
 * `re` semantics for the common syntax), length limits in code points, case
 * (simple Unicode case mapping), integer syntax and bounds, date parsing,
 * enum membership. Formatting: integers become str(int(v)), dates
 * strftime('%Y%m%d'), everything else is hashed unchanged. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <assert.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "encode/encode_internal.h"
#include "encode/pystrptime.h"
#include "core/utf8.h"

int bli_fmt_ws_init(bl_fmt_ws *ws)
{
    ws->date_ws = bli_pydate_workspace_new();
    ws->re_md = pcre2_match_data_create(1, NULL);
    if (!ws->date_ws || !ws->re_md) {
        bli_fmt_ws_free(ws);
        return -1;
    }
    return 0;
}

void bli_fmt_ws_free(bl_fmt_ws *ws)
{
    bli_pydate_workspace_free(ws->date_ws);
    pcre2_match_data_free(ws->re_md);
    ws->date_ws = ws->re_md = NULL;
}

void bli_py_strip(const char **s, size_t *len)
{
    const uint8_t *p = (const uint8_t *)*s;
    size_t b = 0, e = *len;
    while (b < e) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + b, (utf8proc_ssize_t)(e - b), &cp);
        if (n <= 0 || !bli_uc_isspace(cp))
            break;
        b += (size_t)n;
    }
    while (e > b) {
        size_t st = e - 1;
        while (st > b && (p[st] & 0xc0) == 0x80)
            st--;
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + st, (utf8proc_ssize_t)(e - st), &cp);
        if (n <= 0 || (size_t)n != e - st || !bli_uc_isspace(cp))
            break;
        e = st;
    }
    *s += b;
    *len = e - b;
}

/* Compare a canonical decimal string with an int64 bound: <0, 0, >0. */
static int cmp_decimal(const char *d, int64_t bound)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)bound);
    int dn = d[0] == '-', bn = b[0] == '-';
    if (dn != bn)
        return dn ? -1 : 1;
    size_t dl = strlen(d), bl = strlen(b);
    int mag = dl != bl ? (dl < bl ? -1 : 1) : strcmp(d, b);
    if (mag > 0)
        mag = 1;
    else if (mag < 0)
        mag = -1;
    return dn ? -mag : mag;
}

static int check_case(const char *v, size_t len, bl_case_rule rule)
{
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const uint8_t *)v + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return 0;
        i += (size_t)n;
        utf8proc_int32_t m = rule == BL_CASE_UPPER ? utf8proc_toupper(cp) : utf8proc_tolower(cp);
        if (m != cp)
            return 0;
    }
    return 1;
}

/* Rules of string features: encoding, pattern or length and case. */
static int check_string(const bl_feature *f, bl_fmt_ws *ws, const char *v, size_t len, char *msg,
                        size_t msgcap)
{
    if (f->encoding == BL_TEXTENC_ASCII) {
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)v[i] >= 0x80) {
                snprintf(msg, msgcap, "'%s' cannot be encoded as ascii", BLI_SHOW(v, len));
                return -1;
            }
    }
    if (f->regex) {
        int rc = pcre2_match(f->regex, (PCRE2_SPTR)v, len, 0,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NO_UTF_CHECK, ws->re_md, NULL);
        if (rc < 0) {
            snprintf(msg, msgcap, "'%s' does not match pattern '%s'", BLI_SHOW(v, len), f->pattern);
            return -1;
        }
        return 0;
    }
    size_t n = (f->min_length >= 0 || f->max_length >= 0) ? bli_utf8_count(v, len) : 0;
    if (f->min_length >= 0 && (int64_t)n < f->min_length) {
        snprintf(msg, msgcap, "'%s' is shorter than minLength %lld (%zu characters)",
                 BLI_SHOW(v, len), (long long)f->min_length, n);
        return -1;
    }
    if (f->max_length >= 0 && (int64_t)n > f->max_length) {
        snprintf(msg, msgcap, "'%s' is longer than maxLength %lld (%zu characters)",
                 BLI_SHOW(v, len), (long long)f->max_length, n);
        return -1;
    }
    if (f->case_rule != BL_CASE_MIXED && !check_case(v, len, f->case_rule)) {
        snprintf(msg, msgcap, "'%s' is not %s case", BLI_SHOW(v, len),
                 f->case_rule == BL_CASE_UPPER ? "upper" : "lower");
        return -1;
    }
    return 0;
}

static int check_enum(const bl_feature *f, const char *v, size_t len, char *msg, size_t msgcap)
{
    for (size_t i = 0; i < f->nvalues; i++)
        if (f->value_lens[i] == len && !memcmp(f->values[i], v, len))
            return 0;
    char list[200];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < f->nvalues && o < sizeof list - 8; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s'%s'", i ? ", " : "", f->values[i]);
    snprintf(msg, msgcap, "'%s' is not one of %s", BLI_SHOW(v, len), list);
    return -1;
}

/* minimum/maximum of an integer feature, on its canonical decimal form */
static int check_int_range(const bl_feature *f, const char *v, size_t len, const char *canon,
                           size_t clen, char *msg, size_t msgcap)
{
    if (clen > 63) { /* too long to compare with an int64 bound: by sign only */
        int neg = memchr(v, '-', len) != NULL;
        if ((neg && f->has_minimum) || (!neg && f->has_maximum)) {
            snprintf(msg, msgcap, "'%s' is out of range", BLI_SHOW(v, len));
            return -1;
        }
        return 0;
    }
    char c[64];
    memcpy(c, canon, clen);
    c[clen] = '\0';
    if (f->has_minimum && cmp_decimal(c, f->minimum) < 0) {
        snprintf(msg, msgcap, "'%s' is less than the minimum %lld", BLI_SHOW(v, len),
                 (long long)f->minimum);
        return -1;
    }
    if (f->has_maximum && cmp_decimal(c, f->maximum) > 0) {
        snprintf(msg, msgcap, "'%s' is greater than the maximum %lld", BLI_SHOW(v, len),
                 (long long)f->maximum);
        return -1;
    }
    return 0;
}

const char *bli_value_prepare(const bl_feature *f, bl_fmt_ws *ws, int validate, const char *v,
                             size_t len, char *buf, size_t cap, size_t *olen, char *msg,
                             size_t msgcap)
{
    assert(cap >= len + 16); /* room for any canonical integer or %Y%m%d date */
    switch (f->fmt) {
    case BL_FORMAT_INTEGER: {
        int n = bli_pyint_canonical(v, len, buf, cap);
        if (n < 0) {
            snprintf(msg, msgcap,
                     n == -1 ? "'%s' is not an integer" : "'%s' is too long an integer",
                     BLI_SHOW(v, len));
            return NULL;
        }
        if (validate && check_int_range(f, v, len, buf, (size_t)n, msg, msgcap) != 0)
            return NULL;
        *olen = (size_t)n;
        return buf;
    }
    case BL_FORMAT_DATE: {
        /* parsed once: a value that fails to parse fails with or without
         * validation, with the same message */
        char why[128];
        int n = bli_pydate_format(f->date, ws->date_ws, v, len, buf, cap, why, sizeof why);
        if (n < 0) {
            if (!strcmp(why, "does not match"))
                snprintf(msg, msgcap, "'%s' does not match %s", BLI_SHOW(v, len), f->date_format);
            else
                snprintf(msg, msgcap, "'%s' is not a valid %s date: %s", BLI_SHOW(v, len),
                         f->date_format, why);
            return NULL;
        }
        *olen = (size_t)n;
        return buf;
    }
    case BL_FORMAT_STRING:
        if (validate && check_string(f, ws, v, len, msg, msgcap) != 0)
            return NULL;
        break;
    case BL_FORMAT_ENUM:
        if (validate && check_enum(f, v, len, msg, msgcap) != 0)
            return NULL;
        break;
    }
    *olen = len;
    return v;
}
