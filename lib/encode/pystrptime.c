/* lib/encode/pystrptime.c - Python-compatible text parsing used by clkhash value
 * formatting: datetime.strptime (date features), int(s, 10) (integer
 * features and numeric comparisons) and float(s) (numeric comparisons).
 *
 * strptime follows CPython's _strptime module: every directive becomes a
 * regular expression with the same alternatives in the same order, the
 * whole pattern is matched case-insensitively from the start (first match
 * in backtracking order, not necessarily the longest), trailing text is an
 * error ("unconverted data remains"), and the fields are then combined
 * with the same defaults (year 1900, the 1904 leap-year fix, %j/%U/%W
 * arithmetic) and range checks as datetime(). PCRE2 provides the regex
 * engine; its backtracking order equals Python's for these constructs. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#define BL_PYMIN(a, b) ((a) < (b) ? (a) : (b))

#include "encode/pystrptime.h"

/* ---- Unicode helpers ---------------------------------------------------- */

int bli_uc_decimal(int32_t cp)
{
    if (cp >= '0' && cp <= '9')
        return cp - '0';
    if (cp < 128 || !utf8proc_codepoint_valid(cp))
        return -1;
    if (utf8proc_category(cp) != UTF8PROC_CATEGORY_ND)
        return -1;
    /* Nd characters come in contiguous runs of ten starting at zero. */
    int32_t start = cp;
    while (start > 0 && utf8proc_category(start - 1) == UTF8PROC_CATEGORY_ND && cp - start < 100)
        start--;
    return (int)((cp - start) % 10);
}

int bli_uc_isspace(int32_t cp)
{
    if ((cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20))
        return 1;
    switch (cp) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f:
    case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

/* Python's _PyUnicode_TransformDecimalAndSpaceToASCII followed by stripping:
 * decimal digits -> '0'..'9', whitespace -> ' ', other non-ASCII -> fail.
 * Writes at most cap-1 bytes; returns length or -1. */
static int to_ascii_number(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    utf8proc_ssize_t pos = 0;
    while ((size_t)pos < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const uint8_t *)s + pos, (utf8proc_ssize_t)(len - (size_t)pos), &cp);
        if (n <= 0)
            return -1;
        pos += n;
        char c;
        if (cp < 128)
            c = (char)cp;
        else if (bli_uc_isspace(cp))
            c = ' ';
        else {
            int d = bli_uc_decimal(cp);
            if (d < 0)
                return -1;
            c = (char)('0' + d);
        }
        if (o + 1 >= cap)
            return -2;
        out[o++] = c;
    }
    /* strip Python whitespace (now all ASCII) */
    size_t b = 0, e = o;
    while (b < e && (out[b] == ' ' || (out[b] >= 9 && out[b] <= 13) || (out[b] >= 0x1c && out[b] <= 0x1f)))
        b++;
    while (e > b && (out[e - 1] == ' ' || (out[e - 1] >= 9 && out[e - 1] <= 13) ||
                     (out[e - 1] >= 0x1c && out[e - 1] <= 0x1f)))
        e--;
    memmove(out, out + b, e - b);
    out[e - b] = '\0';
    return (int)(e - b);
}

int bli_pyint_canonical(const char *s, size_t len, char *out, size_t cap)
{
    char stackbuf[256];
    char *buf = stackbuf;
    size_t bcap = sizeof stackbuf;
    if (len + 1 > bcap) {
        bcap = len + 1;
        buf = malloc(bcap);
        if (!buf)
            return -2;
    }
    int rc = -1;
    int n = to_ascii_number(s, len, buf, bcap);
    if (n <= 0)
        goto done;
    const char *p = buf, *end = buf + n;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p == end || !isdigit((unsigned char)*p))
        goto done;
    /* digits with single underscores between digits */
    size_t o = 0;
    int seen_nonzero = 0;
    if (neg) {
        if (cap < 2) { rc = -2; goto done; }
        out[o++] = '-';
    }
    for (; p < end; p++) {
        if (*p == '_') {
            if (p + 1 >= end || !isdigit((unsigned char)p[1]))
                goto done;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            goto done;
        if (*p == '0' && !seen_nonzero)
            continue;
        seen_nonzero = 1;
        if (o + 1 >= cap) { rc = -2; goto done; }
        out[o++] = *p;
    }
    if (!seen_nonzero) {
        o = 0; /* "-0" is "0" */
        if (cap < 2) { rc = -2; goto done; }
        out[o++] = '0';
    }
    out[o] = '\0';
    rc = (int)o;
done:
    if (buf != stackbuf)
        free(buf);
    return rc;
}

int bli_pyfloat_parse(const char *s, size_t len, double *v)
{
    char stackbuf[256];
    char *buf = stackbuf;
    size_t bcap = sizeof stackbuf;
    if (len + 1 > bcap) {
        bcap = len + 1;
        buf = malloc(bcap);
        if (!buf)
            return -1;
    }
    int rc = -1;
    int n = to_ascii_number(s, len, buf, bcap);
    if (n <= 0)
        goto done;
    /* remove underscores that sit between two digits; others are errors */
    char *w = buf;
    for (int i = 0; i < n; i++) {
        if (buf[i] == '_') {
            if (i == 0 || i + 1 >= n || !isdigit((unsigned char)buf[i - 1]) ||
                !isdigit((unsigned char)buf[i + 1]))
                goto done;
            continue;
        }
        *w++ = buf[i];
    }
    *w = '\0';
    const char *p = buf;
    if (*p == '+' || *p == '-')
        p++;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan")) {
        *v = strtod(buf, NULL);
        rc = 0;
        goto done;
    }
    /* digits [. digits] | . digits, then optional exponent */
    const char *q = p;
    size_t nd = 0;
    while (isdigit((unsigned char)*q)) { q++; nd++; }
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q)) { q++; nd++; }
    }
    if (nd == 0)
        goto done;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!isdigit((unsigned char)*q))
            goto done;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (*q != '\0')
        goto done;
    *v = strtod(buf, NULL);
    rc = 0;
done:
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* ---- strptime ------------------------------------------------------------- */

struct bl_pydate_fmt {
    pcre2_code *re;
    char groups[32];  /* directive letter per capture group (1-based) */
    int ngroups;
};

static const char *const month_full[] = {"january", "february", "march", "april", "may",
                                          "june", "july", "august", "september", "october",
                                          "november", "december"};
static const char *const month_abbr[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_full[] = {"monday", "tuesday", "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};
static const char *const day_abbr[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* Alternation of names, longest first (Python's __seqToRE), stable order. */
static void names_re(char *out, size_t cap, const char *const *names, int n)
{
    size_t o = 0;
    o += (size_t)snprintf(out + o, cap - o, "(");
    int first = 1;
    for (size_t want = 16; want > 0; want--)
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == want) {
                o += (size_t)snprintf(out + o, cap - o, "%s%s", first ? "" : "|", names[i]);
                first = 0;
            }
    snprintf(out + o, cap - o, ")");
}

static const char *directive_re(char d, char *tmp, size_t cap)
{
    switch (d) {
    case 'd': return "(3[0-1]|[1-2]\\d|0[1-9]|[1-9]| [1-9])";
    case 'f': return "([0-9]{1,6})";
    case 'H': return "(2[0-3]|[0-1]\\d|\\d)";
    case 'I': return "(1[0-2]|0[1-9]|[1-9])";
    case 'j': return "(36[0-6]|3[0-5]\\d|[1-2]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])";
    case 'm': return "(1[0-2]|0[1-9]|[1-9])";
    case 'M': return "([0-5]\\d|\\d)";
    case 'S': return "(6[0-1]|[0-5]\\d|\\d)";
    case 'U': case 'W': return "(5[0-3]|[0-4]\\d|\\d)";
    case 'w': return "([0-6])";
    case 'u': return "([1-7])";
    case 'y': return "(\\d\\d)";
    case 'Y': return "(\\d\\d\\d\\d)";
    case 'p': return "(am|pm)";
    case 'B': names_re(tmp, cap, month_full, 12); return tmp;
    case 'b': names_re(tmp, cap, month_abbr, 12); return tmp;
    case 'A': names_re(tmp, cap, day_full, 7); return tmp;
    case 'a': names_re(tmp, cap, day_abbr, 7); return tmp;
    default: return NULL;
    }
}

bl_pydate_fmt *bli_pydate_compile(const char *fmt, char *msg, size_t msgcap)
{
    size_t cap = strlen(fmt) * 4 + 64;
    bl_pydate_fmt *f = calloc(1, sizeof *f);
    char *re = malloc(cap + 32 * 128);
    if (!f || !re) {
        free(f);
        free(re);
        snprintf(msg, msgcap, "out of memory");
        return NULL;
    }
    cap += 32 * 128;
    size_t o = 0;
    char tmp[128];
    for (const char *p = fmt; *p;) {
        if (*p == '%') {
            char d = p[1];
            if (d == '\0') {
                snprintf(msg, msgcap, "stray %% in format '%s'", fmt);
                goto fail;
            }
            if (d == '%') {
                re[o++] = '%';
                p += 2;
                continue;
            }
            if (strchr("GVzZcxX", d)) {
                snprintf(msg, msgcap, "directive '%%%c' in '%s' is not supported", d, fmt);
                goto fail;
            }
            const char *dre = directive_re(d, tmp, sizeof tmp);
            if (!dre) {
                snprintf(msg, msgcap, "'%c' is a bad directive in format '%s'", d, fmt);
                goto fail;
            }
            for (int g = 0; g < f->ngroups; g++)
                if (f->groups[g] == d || (strchr("UW", d) && strchr("UW", f->groups[g]))) {
                    snprintf(msg, msgcap, "directive '%%%c' repeated in format '%s'", d, fmt);
                    goto fail;
                }
            if (f->ngroups >= 31) {
                snprintf(msg, msgcap, "too many directives in format '%s'", fmt);
                goto fail;
            }
            f->groups[f->ngroups++] = d;
            size_t n = strlen(dre);
            memcpy(re + o, dre, n);
            o += n;
            p += 2;
        } else if (isspace((unsigned char)*p)) {
            while (isspace((unsigned char)*p))
                p++;
            memcpy(re + o, "\\s+", 3);
            o += 3;
        } else {
            unsigned char c = (unsigned char)*p++;
            if (c < 128 && !isalnum(c))
                re[o++] = '\\';
            re[o++] = (char)c;
        }
    }
    re[o] = '\0';
    int errcode;
    PCRE2_SIZE erroff;
    f->re = pcre2_compile((PCRE2_SPTR)re, o, PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_ANCHORED,
                          &errcode, &erroff, NULL);
    if (!f->re) {
        snprintf(msg, msgcap, "cannot compile date format '%s'", fmt);
        goto fail;
    }
    pcre2_jit_compile(f->re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    free(re);
    return f;
fail:
    free(re);
    free(f);
    return NULL;
}

void bli_pydate_free(bl_pydate_fmt *f)
{
    if (!f)
        return;
    pcre2_code_free(f->re);
    free(f);
}

void *bli_pydate_workspace_new(void)
{
    return pcre2_match_data_create(40, NULL);
}

void bli_pydate_workspace_free(void *ws)
{
    pcre2_match_data_free(ws);
}

static int is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* proleptic Gregorian ordinal, 0001-01-01 = 1 (Python date.toordinal) */
static long to_ordinal(long y, int m, int d)
{
    long yy = y - 1;
    long days = yy * 365 + yy / 4 - yy / 100 + yy / 400;
    for (int i = 1; i < m; i++)
        days += days_in_month(y, i);
    return days + d;
}

static int from_ordinal(long ord, long *y, int *m, int *d)
{
    if (ord < 1 || ord > to_ordinal(9999, 12, 31))
        return -1;
    long yr = (ord - 1) / 366 + 1; /* lower bound, then walk */
    while (to_ordinal(yr + 1, 1, 1) <= ord)
        yr++;
    long rem = ord - to_ordinal(yr, 1, 1) + 1;
    int mo = 1;
    while (rem > days_in_month(yr, mo)) {
        rem -= days_in_month(yr, mo);
        mo++;
    }
    *y = yr;
    *m = mo;
    *d = (int)rem;
    return 0;
}

/* weekday: Monday = 0 */
static int weekday_of(long y, int m, int d)
{
    return (int)((to_ordinal(y, m, d) + 6) % 7);
}

static long group_int(const char *s, PCRE2_SIZE a, PCRE2_SIZE b)
{
    long v = 0;
    for (PCRE2_SIZE i = a; i < b;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(b - i), &cp);
        if (n <= 0)
            break;
        i += (PCRE2_SIZE)n;
        int dv = bli_uc_decimal(cp);
        if (dv >= 0)
            v = v * 10 + dv;
    }
    return v;
}

static int name_index(const char *s, PCRE2_SIZE a, PCRE2_SIZE b, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == b - a && !strncasecmp(s + a, names[i], b - a))
            return i;
    return -1;
}

int bli_pydate_format(const bl_pydate_fmt *f, void *ws, const char *s, size_t len, char *out,
                     size_t cap, char *msg, size_t msgcap)
{
    pcre2_match_data *md = ws;
    int rc = pcre2_match(f->re, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc < 0) {
        snprintf(msg, msgcap, "does not match");
        return -1;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[1] != len) {
        snprintf(msg, msgcap, "unconverted data remains: %.*s", (int)BL_PYMIN(len - ov[1], 60),
                 s + ov[1]);
        return -1;
    }
    long year = -1, julian = -1, week = -1;
    int month = 1, day = 1, hour = 0, second = 0, weekday = -1, week_starts_mon = 0;
    int have_hour12 = 0, pm = -1, have_month = 0, have_day = 0;
    for (int g = 0; g < f->ngroups; g++) {
        PCRE2_SIZE a = ov[2 * (g + 1)], b = ov[2 * (g + 1) + 1];
        if (a == PCRE2_UNSET)
            continue;
        switch (f->groups[g]) {
        case 'y': year = group_int(s, a, b); year += year <= 68 ? 2000 : 1900; break;
        case 'Y': year = group_int(s, a, b); break;
        case 'm': month = (int)group_int(s, a, b); have_month = 1; break;
        case 'B': month = name_index(s, a, b, month_full, 12) + 1; have_month = 1; break;
        case 'b': month = name_index(s, a, b, month_abbr, 12) + 1; have_month = 1; break;
        case 'd': day = (int)group_int(s, a, b); have_day = 1; break;
        case 'H': hour = (int)group_int(s, a, b); break;
        case 'I': hour = (int)group_int(s, a, b); have_hour12 = 1; break;
        case 'p': pm = (b - a == 2 && (s[a] == 'p' || s[a] == 'P')); break;
        case 'S': second = (int)group_int(s, a, b); break;
        case 'A': weekday = name_index(s, a, b, day_full, 7); break;
        case 'a': weekday = name_index(s, a, b, day_abbr, 7); break;
        case 'w': weekday = (int)group_int(s, a, b); weekday = weekday == 0 ? 6 : weekday - 1; break;
        case 'u': weekday = (int)group_int(s, a, b) - 1; break;
        case 'j': julian = group_int(s, a, b); break;
        case 'U': week = group_int(s, a, b); week_starts_mon = 0; break;
        case 'W': week = group_int(s, a, b); week_starts_mon = 1; break;
        default: break; /* M, f: validated by the regex, irrelevant for the date */
        }
    }
    if (have_hour12) {
        if (pm != 1 && hour == 12)
            hour = 0;
        else if (pm == 1 && hour != 12)
            hour += 12;
    }
    (void)hour;
    int leap_fix = 0;
    if (year < 0 && month == 2 && day == 29) {
        year = 1904;
        leap_fix = 1;
    } else if (year < 0) {
        year = 1900;
    }
    if (year < 1 || year > 9999) {
        snprintf(msg, msgcap, "year %ld is out of range", year);
        return -1;
    }
    if (julian < 0 && weekday >= 0 && week >= 0) {
        int first = weekday_of(year, 1, 1), dow = weekday;
        if (!week_starts_mon) {
            first = (first + 1) % 7;
            dow = (dow + 1) % 7;
        }
        int week0 = (7 - first) % 7;
        julian = week == 0 ? 1 + dow - first : 1 + week0 + 7 * (week - 1) + dow;
        if (julian <= 0) {
            year -= 1;
            if (year < 1) {
                snprintf(msg, msgcap, "year 0 is out of range");
                return -1;
            }
            julian += is_leap(year) ? 366 : 365;
        }
    }
    if (julian < 0) {
        if (day > days_in_month(year, month)) {
            snprintf(msg, msgcap, "day is out of range for month");
            return -1;
        }
    } else {
        long y2;
        int m2, d2;
        if (from_ordinal(julian - 1 + to_ordinal(year, 1, 1), &y2, &m2, &d2) != 0) {
            snprintf(msg, msgcap, "date value out of range");
            return -1;
        }
        year = y2;
        month = m2;
        day = d2;
    }
    if (leap_fix) {
        year = 1900;
        if (day > days_in_month(year, month)) {
            snprintf(msg, msgcap, "day is out of range for month");
            return -1;
        }
    }
    if (second > 59) {
        snprintf(msg, msgcap, "second must be in 0..59");
        return -1;
    }
    (void)have_month;
    (void)have_day;
    /* strftime('%Y%m%d') as glibc: year unpadded (1..9999), month and day 2 digits */
    if (cap < 9)
        return -1;
    int n = 0;
    char yd[4];
    int ny = 0;
    for (long y = year; y; y /= 10)
        yd[ny++] = (char)('0' + y % 10);
    while (ny)
        out[n++] = yd[--ny];
    out[n++] = (char)('0' + month / 10);
    out[n++] = (char)('0' + month % 10);
    out[n++] = (char)('0' + day / 10);
    out[n++] = (char)('0' + day % 10);
    out[n] = '\0';
    return n;
}
