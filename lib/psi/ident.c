/* lib/psi/ident.c - identifier normalisers for exact matching: email addresses,
 * name parts, dates of birth and the composite name + date-of-birth key.
 * Phone numbers live in lib/psi/ident_phone.c with their calling-code table.
 *
 * Every normaliser writes a canonical NUL-terminated string into a caller
 * buffer, reports "missing" as length 0 and rejects what it cannot
 * canonicalise with BL_EINPUT and the rule that failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include <blindlink/ident.h>

#include "core/internal.h"

static const char *const type_names[] = {NULL, "email", "phone", "namedob"};

const char *bl_ident_type_name(bl_ident_type t)
{
    if (t >= BL_IDENT_EMAIL && t <= BL_IDENT_NAMEDOB)
        return type_names[t];
    return "?";
}

bl_ident_type bl_ident_type_parse(const char *name)
{
    for (int t = BL_IDENT_EMAIL; t <= BL_IDENT_NAMEDOB; t++)
        if (!strcmp(name, type_names[t]))
            return (bl_ident_type)t;
    return (bl_ident_type)0;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* NFKC (+ case fold, + optional mark stripping) of `in` into a malloc'd
 * buffer; BL_EINPUT on invalid UTF-8 or an embedded NUL. */
static bl_status unicode_fold(const char *in, size_t len, int strip_marks, char **out,
                              size_t *outlen, bl_error *err)
{
    if (memchr(in, '\0', len))
        return bl_error_set(err, BL_EINPUT, "contains a NUL byte");
    if (len > 4 * BL_IDENT_MAX)
        return bl_error_set(err, BL_EINPUT, "longer than %d bytes", 4 * BL_IDENT_MAX);
    utf8proc_option_t o = UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD;
    if (strip_marks)
        o |= UTF8PROC_STRIPMARK;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len, &dst, o);
    if (n < 0) {
        free(dst);
        if (n == UTF8PROC_ERROR_NOMEM)
            return bl_error_set(err, BL_ENOMEM, "out of memory in Unicode normalisation");
        return bl_error_set(err, BL_EINPUT, "not valid UTF-8 (%s)", utf8proc_errmsg(n));
    }
    *out = (char *)dst;
    *outlen = (size_t)n;
    return BL_OK;
}

/* ---- email ------------------------------------------------------------- */

static int local_char_ok(unsigned char c)
{
    if (c >= 0x80)
        return 1; /* UTF-8 of an internationalised address (RFC 6531) */
    if (c <= 0x20 || c == 0x7f)
        return 0;
    return !strchr("\"(),:;<>[\\]@", c);
}

static bl_status check_domain(const char *d, size_t n, bl_error *err)
{
    if (n == 0)
        return bl_error_set(err, BL_EINPUT, "email has an empty domain");
    if (n > 253)
        return bl_error_set(err, BL_EINPUT, "email domain longer than 253 bytes");
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.') {
            unsigned char c = (unsigned char)d[i];
            if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return bl_error_set(err, BL_EINPUT, "email domain contains '%c'",
                                    c >= 0x20 && c < 0x7f ? c : '?');
            continue;
        }
        size_t ll = i - start;
        if (ll == 0)
            return bl_error_set(err, BL_EINPUT, "email domain has an empty label");
        if (ll > 63)
            return bl_error_set(err, BL_EINPUT, "email domain label longer than 63 bytes");
        if (d[start] == '-' || d[i - 1] == '-')
            return bl_error_set(err, BL_EINPUT, "email domain label starts or ends with '-'");
        labels++;
        start = i + 1;
    }
    if (labels < 2)
        return bl_error_set(err, BL_EINPUT, "email domain has no dot");
    return BL_OK;
}

bl_status bl_ident_email(const char *in, size_t len, unsigned rules, char *out, size_t cap,
                         size_t *outlen, bl_error *err)
{
    *outlen = 0;
    if (cap < BL_IDENT_MAX + 1)
        return bl_error_set(err, BL_EINVAL, "output buffer too small");
    out[0] = '\0';
    char *f = NULL;
    size_t n = 0;
    bl_status st = unicode_fold(in, len, 0, &f, &n, err);
    if (st != BL_OK)
        return st;
    size_t b = 0, e = n;
    while (b < e && is_space((unsigned char)f[b]))
        b++;
    while (e > b && is_space((unsigned char)f[e - 1]))
        e--;
    if (b == e) {
        free(f);
        return BL_OK; /* missing */
    }
    const char *s = f + b;
    size_t sl = e - b;
    const char *at = memchr(s, '@', sl);
    if (!at) {
        free(f);
        return bl_error_set(err, BL_EINPUT, "email has no '@'");
    }
    if (memchr(at + 1, '@', sl - (size_t)(at + 1 - s))) {
        free(f);
        return bl_error_set(err, BL_EINPUT, "email has more than one '@'");
    }
    size_t ll = (size_t)(at - s);
    const char *dom = at + 1;
    size_t dl = sl - ll - 1;
    if (dl > 0 && dom[dl - 1] == '.')
        dl--; /* fully qualified form "example.com." */
    if (ll == 0) {
        free(f);
        return bl_error_set(err, BL_EINPUT, "email has an empty local part");
    }
    for (size_t i = 0; i < ll; i++)
        if (!local_char_ok((unsigned char)s[i])) {
            unsigned char c = (unsigned char)s[i];
            free(f);
            return bl_error_set(err, BL_EINPUT, "email local part contains %s%c%s",
                                c > 0x20 && c < 0x7f ? "'" : "a ", c > 0x20 && c < 0x7f ? c : ' ',
                                c > 0x20 && c < 0x7f ? "'" : "space or control character");
        }
    if (s[0] == '.' || s[ll - 1] == '.' || memmem(s, ll, "..", 2)) {
        free(f);
        return bl_error_set(err, BL_EINPUT, "email local part has a leading, trailing or double dot");
    }
    st = check_domain(dom, dl, err);
    if (st != BL_OK) {
        free(f);
        return st;
    }
    /* provider rules on the local part */
    char local[BL_IDENT_MAX + 1];
    size_t lo = 0;
    int gmail = (rules & BL_EMAIL_GMAIL) &&
                ((dl == 9 && !memcmp(dom, "gmail.com", 9)) ||
                 (dl == 14 && !memcmp(dom, "googlemail.com", 14)));
    int cut_plus = gmail || (rules & BL_EMAIL_PLUS);
    for (size_t i = 0; i < ll && lo < BL_IDENT_MAX; i++) {
        char c = s[i];
        if (cut_plus && c == '+')
            break;
        if (gmail && c == '.')
            continue;
        local[lo++] = c;
    }
    if (lo == 0) {
        free(f);
        return bl_error_set(err, BL_EINPUT, "email local part is empty after provider rules");
    }
    if (local[0] == '.' || local[lo - 1] == '.' || memmem(local, lo, "..", 2)) {
        free(f);
        return bl_error_set(err, BL_EINPUT,
                            "email local part has a leading or trailing dot after provider rules");
    }
    if (lo > 64) {
        free(f);
        return bl_error_set(err, BL_EINPUT, "email local part longer than 64 bytes");
    }
    if (gmail) {
        dom = "gmail.com";
        dl = 9;
    }
    if (lo + 1 + dl > BL_IDENT_MAX) {
        free(f);
        return bl_error_set(err, BL_EINPUT, "email longer than %d bytes", BL_IDENT_MAX);
    }
    memcpy(out, local, lo);
    out[lo] = '@';
    memcpy(out + lo + 1, dom, dl);
    *outlen = lo + 1 + dl;
    out[*outlen] = '\0';
    free(f);
    return BL_OK;
}

/* ---- names --------------------------------------------------------------- */

bl_status bl_ident_name(const char *in, size_t len, unsigned rules, char *out, size_t cap,
                        size_t *outlen, bl_error *err)
{
    *outlen = 0;
    if (cap < BL_IDENT_MAX + 1)
        return bl_error_set(err, BL_EINVAL, "output buffer too small");
    out[0] = '\0';
    char *f = NULL;
    size_t n = 0;
    bl_status st = unicode_fold(in, len, (rules & BL_NAME_STRIP_MARKS) != 0, &f, &n, err);
    if (st != BL_OK)
        return st;
    size_t o = 0;
    int pending_space = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f[i];
        if (is_space(c)) {
            pending_space = o > 0;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            free(f);
            return bl_error_set(err, BL_EINPUT, "name contains a control character");
        }
        if (o + 2 > BL_IDENT_MAX) {
            free(f);
            return bl_error_set(err, BL_EINPUT, "name longer than %d bytes", BL_IDENT_MAX);
        }
        if (pending_space)
            out[o++] = ' ';
        pending_space = 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *outlen = o;
    free(f);
    return BL_OK;
}

/* ---- dates ------------------------------------------------------------- */

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* read between `min` and `max` digits */
static int read_num(const char *s, size_t n, size_t *pos, int min, int max, int *val)
{
    int k = 0, v = 0;
    while (*pos < n && k < max && s[*pos] >= '0' && s[*pos] <= '9') {
        v = v * 10 + (s[*pos] - '0');
        (*pos)++;
        k++;
    }
    *val = v;
    return k >= min;
}

bl_status bl_ident_date(const char *in, size_t len, const char *format, char *out, size_t cap,
                        size_t *outlen, bl_error *err)
{
    *outlen = 0;
    if (cap < 11)
        return bl_error_set(err, BL_EINVAL, "output buffer too small");
    out[0] = '\0';
    const char *fmt = format ? format : "%Y-%m-%d";
    size_t b = 0, e = len;
    while (b < e && is_space((unsigned char)in[b]))
        b++;
    while (e > b && is_space((unsigned char)in[e - 1]))
        e--;
    if (b == e)
        return BL_OK;
    const char *s = in + b;
    size_t n = e - b, pos = 0;
    int y = -1, m = -1, d = -1;
    for (const char *f = fmt; *f; f++) {
        if (*f == '%' && f[1]) {
            f++;
            int ok = 1;
            switch (*f) {
            case 'Y': ok = read_num(s, n, &pos, 4, 4, &y); break;
            case 'm': ok = read_num(s, n, &pos, 1, 2, &m); break;
            case 'd': ok = read_num(s, n, &pos, 1, 2, &d); break;
            case '%': ok = pos < n && s[pos] == '%'; pos += ok; break;
            default:
                return bl_error_set(err, BL_EINVAL, "date format '%s': unsupported directive %%%c",
                                    fmt, *f);
            }
            if (!ok)
                return bl_error_set(err, BL_EINPUT, "date does not match format %s", fmt);
        } else {
            if (pos >= n || s[pos] != *f)
                return bl_error_set(err, BL_EINPUT, "date does not match format %s", fmt);
            pos++;
        }
    }
    if (pos != n)
        return bl_error_set(err, BL_EINPUT, "date has trailing characters after format %s", fmt);
    if (y < 0 || m < 0 || d < 0)
        return bl_error_set(err, BL_EINVAL, "date format '%s' needs %%Y, %%m and %%d", fmt);
    if (y < 1800 || y > 2200)
        return bl_error_set(err, BL_EINPUT, "date year %d outside 1800..2200", y);
    if (m < 1 || m > 12)
        return bl_error_set(err, BL_EINPUT, "date month %d outside 1..12", m);
    if (d < 1 || d > days_in_month(y, m))
        return bl_error_set(err, BL_EINPUT, "date day %d does not exist in %04d-%02d", d, y, m);
    int w = snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
    *outlen = (size_t)w;
    return BL_OK;
}

/* ---- composite name + date of birth -------------------------------------- */

bl_status bl_ident_namedob(const char *const *parts, const size_t *lens, size_t nparts,
                           const char *dob, size_t dob_len, const bl_ident_opts *opts, char *out,
                           size_t cap, size_t *outlen, bl_error *err)
{
    *outlen = 0;
    if (cap < BL_IDENT_MAX + 1)
        return bl_error_set(err, BL_EINVAL, "output buffer too small");
    out[0] = '\0';
    char key[BL_IDENT_MAX + 1], buf[BL_IDENT_MAX + 1];
    size_t o = 0, empty = 0, first_empty = 0;
    bl_status st;
    for (size_t i = 0; i < nparts; i++) {
        size_t bl = 0;
        st = bl_ident_name(parts[i], lens[i], opts ? opts->name_rules : 0, buf, sizeof buf, &bl,
                           err);
        if (st != BL_OK) {
            bl_error_prefix(err, "name part %zu: ", i + 1);
            return st;
        }
        if (bl == 0 && empty++ == 0)
            first_empty = i + 1;
        if (o + bl + 1 > BL_IDENT_MAX)
            return bl_error_set(err, BL_EINPUT, "composite key longer than %d bytes", BL_IDENT_MAX);
        memcpy(key + o, buf, bl);
        o += bl;
        key[o++] = 0x1f;
    }
    size_t dl = 0;
    st = bl_ident_date(dob, dob_len, opts ? opts->dob_format : NULL, buf, sizeof buf, &dl, err);
    if (st != BL_OK) {
        bl_error_prefix(err, "date of birth: ");
        return st;
    }
    if (dl == 0)
        empty++;
    if (empty == nparts + 1)
        return BL_OK; /* missing altogether */
    if (empty > 0) {
        if (dl == 0)
            return bl_error_set(err, BL_EINPUT, "date of birth is empty but the name is not");
        return bl_error_set(err, BL_EINPUT, "name part %zu is empty but other parts are not",
                            first_empty);
    }
    if (o + dl > BL_IDENT_MAX)
        return bl_error_set(err, BL_EINPUT, "composite key longer than %d bytes", BL_IDENT_MAX);
    memcpy(key + o, buf, dl);
    o += dl;
    memcpy(out, key, o);
    out[o] = '\0';
    *outlen = o;
    return BL_OK;
}
