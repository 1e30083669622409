/* lib/core/utf8.c - the one UTF-8 decoder of the library (CSV cells, encoder
 * input, n-gram offsets, string lengths, record ids). Multi-byte sequences
 * are decoded by utf8proc_iterate, which rejects overlong forms, surrogates
 * and code points above U+10FFFF like Python's codec (clkhash decodes its
 * input with it). ASCII bytes are handled inline first: they are almost all
 * of the data and this sits on the encoder's hot path. */
#include <utf8proc.h>

#include "core/utf8.h"

/* length of the valid sequence at s[i], or 0 if it is invalid */
static size_t seq_len(const unsigned char *s, size_t i, size_t n)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t w = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
    return w > 0 ? (size_t)w : 0;
}

long bli_utf8_invalid_at(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t w = seq_len(s, i, n);
        if (w == 0)
            return (long)i;
        i += w;
    }
    return -1;
}

long bli_utf8_offsets(const char *str, size_t n, size_t *off)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k = 0, i = 0;
    while (i < n) {
        off[k++] = i;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t w = seq_len(s, i, n);
        if (w == 0)
            return -1;
        i += w;
    }
    off[k] = n;
    return (long)k;
}

size_t bli_utf8_count(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xc0) != 0x80;
    return k;
}
