/* lib/encode/tokenize.c - clkhash's comparisons turned into tokens: n-grams over
 * Unicode code points (optionally positional), exact (whole value), and
 * numeric neighbourhoods (thresholdDistance/resolution/fractional_precision
 * with Python's round-half-even and floor-mod); plus the per-token text
 * encodings (utf-8, ascii, utf-16/utf-32 with a BOM on every token). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode/encode_internal.h"
#include "encode/pystrptime.h"
#include "core/internal.h"
#include "core/utf8.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

void bli_toklist_free(bl_toklist *t)
{
    free(t->buf);
    free(t->off);
    free(t->cps);
    free(t->cpoff);
    memset(t, 0, sizeof *t);
}

static void tl_reset(bl_toklist *t)
{
    t->len = 0;
    t->n = 0;
}

/* Append a token made of up to three pieces. */
static int tl_push(bl_toklist *t, const char *a, size_t alen, const char *b, size_t blen)
{
    size_t need = t->len + alen + blen;
    if (need > BL_TOKLIST_MAX_BYTES)
        return -2;
    if (bli_grow((void **)&t->buf, &t->cap, need, 1, 256) != 0 ||
        bli_grow((void **)&t->off, &t->ncap, t->n + 2, sizeof *t->off, 64) != 0)
        return -2;
    if (t->n == 0)
        t->off[0] = 0;
    memcpy(t->buf + t->len, a, alen);
    if (blen)
        memcpy(t->buf + t->len + alen, b, blen);
    t->len = need;
    t->off[++t->n] = need;
    return 0;
}

/* Decode UTF-8 into t->cpoff (byte offset per code point, plus end). */
static long decode_offsets(bl_toklist *t, const char *v, size_t len)
{
    if (bli_grow((void **)&t->cpoff, &t->cpcap, len + 1, sizeof *t->cpoff, 64) != 0)
        return -2;
    return bli_utf8_offsets(v, len, t->cpoff);
}

/* n-grams of up to 16 code points written straight into t->buf, whose room
 * for every window is reserved first: byte loops instead of a memcpy call
 * per piece (most grams are 2-8 bytes). Returns 1 when the value is too long
 * for the reservation (the caller assembles the tokens piecewise). */
static int ngram_direct(bl_toklist *t, const char *v, long ncp, uint32_t n, int positional)
{
    const long pad = n > 1 ? (long)n - 1 : 0;
    const long total = ncp + 2 * pad;
    const long nwin = total >= (long)n ? total - (long)n + 1 : 0;
    const size_t per = 22 + 4 * (size_t)n; /* "<i> " then at most n code points of 4 bytes */
    if (n > 16 || (size_t)nwin > (BL_TOKLIST_MAX_BYTES - t->len) / per)
        return 1;
    if (bli_grow((void **)&t->buf, &t->cap, t->len + (size_t)nwin * per, 1, 256) != 0 ||
        bli_grow((void **)&t->off, &t->ncap, t->n + (size_t)nwin + 1, sizeof *t->off, 64) != 0)
        return -2;
    char *out = t->buf + t->len;
    t->off[0] = 0;
    for (long i = 0; i < nwin; i++) {
        long s = i - pad, e = i - pad + (long)n; /* window in v's code point coordinates */
        long lead = s < 0 ? -s : 0, trail = e > ncp ? e - ncp : 0;
        long cs = s < 0 ? 0 : s, ce = e > ncp ? ncp : e;
        size_t bs = t->cpoff[cs], be = ce > cs ? t->cpoff[ce] : bs;
        if (positional) {
            char d[24];
            int nd = 0;
            for (unsigned long x = (unsigned long)(i + 1); x; x /= 10)
                d[nd++] = (char)('0' + x % 10);
            while (nd)
                *out++ = d[--nd];
            *out++ = ' ';
        }
        for (long k = 0; k < lead; k++)
            *out++ = ' ';
        for (size_t b = bs; b < be; b++)
            *out++ = v[b];
        for (long k = 0; k < trail; k++)
            *out++ = ' ';
        t->off[++t->n] = (size_t)(out - t->buf);
    }
    t->len = (size_t)(out - t->buf);
    return 0;
}

int bli_tokenize_ngram(bl_toklist *t, const char *v, size_t len, uint32_t n, int positional)
{
    tl_reset(t);
    if (len == 0)
        return 0;
    long ncp = decode_offsets(t, v, len);
    if (ncp < 0)
        return (int)ncp;
    int drc = ngram_direct(t, v, ncp, n, positional);
    if (drc <= 0)
        return drc;
    /* Padded word: (n-1) spaces + v + (n-1) spaces; windows of n code
     * points. A window is [leading spaces][slice of v][trailing spaces]. */
    static const char spaces[64] = "                                                               ";
    const long pad = n > 1 ? (long)n - 1 : 0;
    const long total = ncp + 2 * pad;
    char tmp[64 * 4 + 32];
    for (long i = 0; i + (long)n <= total; i++) {
        long s = i - pad, e = i - pad + (long)n; /* window in v's code point coordinates */
        long lead = s < 0 ? -s : 0, trail = e > ncp ? e - ncp : 0;
        long cs = s < 0 ? 0 : s, ce = e > ncp ? ncp : e;
        size_t bs = t->cpoff[cs], be = ce > cs ? t->cpoff[ce] : bs;
        size_t o = 0;
        if (positional) { /* "<i> " without printf: this is the hot path */
            char d[24];
            int nd = 0;
            for (unsigned long x = (unsigned long)(i + 1); x; x /= 10)
                d[nd++] = (char)('0' + x % 10);
            while (nd)
                tmp[o++] = d[--nd];
            tmp[o++] = ' ';
        }
        if (o + (size_t)lead + (size_t)trail + (be - bs) <= sizeof tmp) {
            memcpy(tmp + o, spaces, (size_t)lead);
            o += (size_t)lead;
            memcpy(tmp + o, v + bs, be - bs);
            o += be - bs;
            memcpy(tmp + o, spaces, (size_t)trail);
            o += (size_t)trail;
            int rc = tl_push(t, tmp, o, NULL, 0);
            if (rc)
                return rc;
        } else { /* long grams: assemble piecewise */
            int rc = tl_push(t, tmp, o, NULL, 0);
            if (rc)
                return rc;
            t->n--; /* extend the same token */
            if ((rc = tl_push(t, spaces, (size_t)lead, v + bs, be - bs)))
                return rc;
            t->n--;
            if ((rc = tl_push(t, spaces, (size_t)trail, NULL, 0)))
                return rc;
        }
    }
    return 0;
}

int bli_tokenize_exact(bl_toklist *t, const char *v, size_t len)
{
    tl_reset(t);
    if (len == 0)
        return 0;
    return tl_push(t, v, len, NULL, 0);
}

static int i128_to_str(i128 v, char *out)
{
    char tmp[48];
    int n = 0, neg = v < 0;
    u128 u = neg ? (u128)(-(v + 1)) + 1 : (u128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    int o = 0;
    if (neg)
        out[o++] = '-';
    while (n)
        out[o++] = tmp[--n];
    out[o] = '\0';
    return o;
}

#define I128_LIMIT ((i128)1 << 120)

int bli_tokenize_numeric(bl_toklist *t, const char *v, size_t len, int64_t distance,
                        uint32_t resolution, uint32_t precision, char *msg, size_t msgcap)
{
    tl_reset(t);
    if (len == 0)
        return 0;
    i128 val = 0;
    char canon[64];
    int cn = bli_pyint_canonical(v, len, canon, sizeof canon);
    if (cn > 0 && cn <= 36) {
        const char *p = canon;
        int neg = *p == '-';
        if (neg)
            p++;
        for (; *p; p++)
            val = val * 10 + (*p - '0');
        if (neg)
            val = -val;
        for (uint32_t i = 0; i < precision; i++)
            val *= 10;
    } else if (cn == -2 || cn > 36) {
        snprintf(msg, msgcap, "'%s' is too large for a numeric comparison", BLI_SHOW(v, len));
        return -1;
    } else {
        double f;
        if (bli_pyfloat_parse(v, len, &f) != 0) {
            snprintf(msg, msgcap, "'%s' is not a number (numeric comparison)", BLI_SHOW(v, len));
            return -1;
        }
        double x = precision > 0 ? nearbyint(f * pow(10.0, (double)precision)) : trunc(f);
        if (!isfinite(x) || fabs(x) >= 1e36) {
            snprintf(msg, msgcap, "'%s' cannot be used in a numeric comparison (%s)",
                     BLI_SHOW(v, len), isnan(x) ? "not a number" : "out of range");
            return -1;
        }
        val = (i128)x;
    }
    val = val * 2 * (i128)resolution;
    if (val > I128_LIMIT || val < -I128_LIMIT) {
        snprintf(msg, msgcap, "'%s' is too large for a numeric comparison", BLI_SHOW(v, len));
        return -1;
    }
    i128 D = distance;
    i128 res = val % D;
    if (res < 0)
        res += D; /* Python floor-mod: non-negative for positive D */
    if (res != 0) {
        if (2 * res < D)
            val -= res;
        else
            val += D - res;
    }
    for (long j = -(long)resolution; j <= (long)resolution; j++) {
        char buf[64];
        int n = i128_to_str(val + (i128)j * D, buf);
        int rc = tl_push(t, buf, (size_t)n, NULL, 0);
        if (rc)
            return rc;
    }
    return 0;
}

size_t bli_token_encode(bl_text_encoding enc, const char *tok, size_t len, uint8_t *out)
{
    if (enc == BL_TEXTENC_UTF8 || enc == BL_TEXTENC_ASCII) {
        memcpy(out, tok, len);
        return len;
    }
    size_t o = 0;
    out[o++] = 0xff;
    out[o++] = 0xfe;
    if (enc == BL_TEXTENC_UTF32) {
        out[o++] = 0;
        out[o++] = 0;
    }
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)tok[i];
        uint32_t cp;
        if (c < 0x80) {
            cp = c;
            i += 1;
        } else if (c < 0xe0) {
            cp = ((uint32_t)(c & 0x1f) << 6) | (tok[i + 1] & 0x3f);
            i += 2;
        } else if (c < 0xf0) {
            cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(tok[i + 1] & 0x3f) << 6) | (tok[i + 2] & 0x3f);
            i += 3;
        } else {
            cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(tok[i + 1] & 0x3f) << 12) |
                 ((uint32_t)(tok[i + 2] & 0x3f) << 6) | (tok[i + 3] & 0x3f);
            i += 4;
        }
        if (enc == BL_TEXTENC_UTF32) {
            out[o++] = (uint8_t)cp;
            out[o++] = (uint8_t)(cp >> 8);
            out[o++] = (uint8_t)(cp >> 16);
            out[o++] = (uint8_t)(cp >> 24);
        } else if (cp < 0x10000) {
            out[o++] = (uint8_t)cp;
            out[o++] = (uint8_t)(cp >> 8);
        } else {
            uint32_t u = cp - 0x10000;
            uint16_t hi = (uint16_t)(0xd800 | (u >> 10)), lo = (uint16_t)(0xdc00 | (u & 0x3ff));
            out[o++] = (uint8_t)hi;
            out[o++] = (uint8_t)(hi >> 8);
            out[o++] = (uint8_t)lo;
            out[o++] = (uint8_t)(lo >> 8);
        }
    }
    return o;
}
