/* lib/core/utf8.c - the one UTF-8 decoder of the library (CSV cells, encoder
 * input, n-gram offsets, string lengths, record ids; the loops are inline in
 * utf8.h). Multi-byte sequences are decoded by utf8proc_iterate, which
 * rejects overlong forms, surrogates and code points above U+10FFFF like
 * Python's codec (clkhash decodes its input with it). */
#include <utf8proc.h>

#include "core/utf8.h"

size_t bli_utf8_seq_len(const unsigned char *s, size_t i, size_t n)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t w = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
    return w > 0 ? (size_t)w : 0;
}
