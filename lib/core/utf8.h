/* lib/core/utf8.h - the library's one UTF-8 decoder (not public API).
 * Validation and code point offsets, strict as Python's codec (no overlong
 * forms, no surrogates, nothing above U+10FFFF), on utf8proc. */
#ifndef BLINDLINK_UTF8_H
#define BLINDLINK_UTF8_H

#include <stddef.h>

/** Byte offset of the first invalid UTF-8 sequence in s[0, n), or -1 when
 *  all of it is valid. */
long bli_utf8_invalid_at(const char *s, size_t n);

/** 1 if s[0, n) is valid UTF-8, else 0. */
static inline int bli_utf8_valid(const char *s, size_t n)
{
    return bli_utf8_invalid_at(s, n) < 0;
}

/** Decode s[0, n): off[k] = byte offset of code point k, and off[count] = n
 *  (so `off` needs n + 1 entries). Returns the number of code points, or -1
 *  if s is not valid UTF-8. */
long bli_utf8_offsets(const char *s, size_t n, size_t *off);

/** Number of code points of s[0, n), which must be valid UTF-8 (counts the
 *  bytes that do not continue a sequence). */
size_t bli_utf8_count(const char *s, size_t n);

#endif
