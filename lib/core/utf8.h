/* lib/core/utf8.h - the library's one UTF-8 decoder (not public API).
 * Validation and code point offsets, strict as Python's codec (no overlong
 * forms, no surrogates, nothing above U+10FFFF). Multi-byte sequences are
 * decoded by utf8proc (lib/core/utf8.c); the ASCII bytes, almost all of the
 * data on the encoder's hot path, are handled inline here. */
#ifndef BLINDLINK_UTF8_H
#define BLINDLINK_UTF8_H

#include <stddef.h>

/** Length of the valid multi-byte sequence at s[i] (s[i] >= 0x80), or 0 if
 *  it is invalid (utf8proc_iterate). */
size_t bli_utf8_seq_len(const unsigned char *s, size_t i, size_t n);

/** Byte offset of the first invalid UTF-8 sequence in s[0, n), or -1 when
 *  all of it is valid. */
static inline long bli_utf8_invalid_at(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t w = bli_utf8_seq_len(s, i, n);
        if (w == 0)
            return (long)i;
        i += w;
    }
    return -1;
}

/** A value as it may be quoted in a message (out holds BLI_SHOW_CAP
 *  bytes): at most BLI_SHOW_MAX bytes of it, cut at a character boundary
 *  and marked "..." when cut; control bytes, NUL and bytes that are not
 *  UTF-8 written \xNN, C1 controls and bidirectional overrides \uNNNN and
 *  a backslash doubled, so that a message is one line that says what the
 *  value holds (a terminal escape in a cell does not reach the terminal,
 *  and "M\0X" is not shown as "M"). Returns out. */
#define BLI_SHOW_MAX 60
#define BLI_SHOW_CAP (6 * BLI_SHOW_MAX + 4)
char *bli_show_value(char *out, const char *v, size_t len);
/** bli_show_value into a buffer that lives to the end of the block */
#define BLI_SHOW(v, len) bli_show_value((char[BLI_SHOW_CAP]){0}, (v), (len))

/** 1 if s[0, n) is valid UTF-8, else 0. */
static inline int bli_utf8_valid(const char *s, size_t n)
{
    return bli_utf8_invalid_at(s, n) < 0;
}

/** Decode s[0, n): off[k] = byte offset of code point k, and off[count] = n
 *  (so `off` needs n + 1 entries). Returns the number of code points, or -1
 *  if s is not valid UTF-8. */
static inline long bli_utf8_offsets(const char *str, size_t n, size_t *off)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k = 0, i = 0;
    while (i < n) {
        off[k++] = i;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t w = bli_utf8_seq_len(s, i, n);
        if (w == 0)
            return -1;
        i += w;
    }
    off[k] = n;
    return (long)k;
}

/** Number of code points of s[0, n), which must be valid UTF-8 (counts the
 *  bytes that do not continue a sequence). */
static inline size_t bli_utf8_count(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xc0) != 0x80;
    return k;
}

#endif
