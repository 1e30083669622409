/* lib/core/utf8.c - the one UTF-8 decoder of the library (CSV cells, encoder
 * input, n-gram offsets, string lengths, record ids; the loops are inline in
 * utf8.h). Multi-byte sequences are decoded by utf8proc_iterate, which
 * rejects overlong forms, surrogates and code points above U+10FFFF like
 * Python's codec (clkhash decodes its input with it). */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "core/utf8.h"

size_t bli_utf8_seq_len(const unsigned char *s, size_t i, size_t n)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t w = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
    return w > 0 ? (size_t)w : 0;
}

/* A multi-byte character that may be shown as it is: not a C1 control
 * (U+0080..U+009F, CSI among them) nor a bidirectional embedding, override
 * or isolate (U+202A..U+202E, U+2066..U+2069), which reorder the line. */
static int shown_raw(const unsigned char *c, size_t w)
{
    if (w == 2)
        return !(c[0] == 0xC2 && c[1] < 0xA0);
    if (w == 3 && c[0] == 0xE2 && c[1] == 0x80)
        return !(c[2] >= 0xAA && c[2] <= 0xAE);
    if (w == 3 && c[0] == 0xE2 && c[1] == 0x81)
        return !(c[2] >= 0xA6 && c[2] <= 0xA9);
    return 1;
}

char *bli_show_value(char *out, const char *v, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)v;
    size_t i = 0, o = 0;
    while (i < len && i < BLI_SHOW_MAX) {
        size_t w = s[i] < 0x80 ? 1 : bli_utf8_seq_len(s, i, len);
        if (w > 1 && i + w > BLI_SHOW_MAX)
            break; /* a character the cut would split */
        if (w > 1 && !shown_raw(s + i, w)) {
            /* a C1 control or a bidirectional override: its code point */
            int32_t cp;
            utf8proc_iterate(s + i, (utf8proc_ssize_t)w, &cp);
            o += (size_t)snprintf(out + o, BLI_SHOW_CAP - o, "\\u%04x", (unsigned)cp);
            i += w;
        } else if (w > 1) {
            memcpy(out + o, s + i, w);
            o += w;
            i += w;
        } else if (s[i] == '\\') { /* so that "\x1b" in a value is not read as ESC */
            out[o++] = '\\', out[o++] = '\\';
            i++;
        } else if (s[i] < 0x20 || s[i] == 0x7f || w == 0) {
            out[o++] = '\\', out[o++] = 'x', out[o++] = hex[s[i] >> 4], out[o++] = hex[s[i] & 15];
            i++;
        } else {
            out[o++] = (char)s[i++];
        }
    }
    if (i < len)
        memcpy(out + o, "...", 3), o += 3;
    assert(o < BLI_SHOW_CAP);
    out[o] = '\0';
    return out;
}
