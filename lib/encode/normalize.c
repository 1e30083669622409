/* lib/encode/normalize.c - opt-in Unicode normalisation profiles (beyond clkhash)
 * built on utf8proc. Exactly what each profile does is documented in
 * docs/normalize.md; in short:
 *   basic  : NFKC, whitespace runs -> one space, trimmed.
 *   names  : NFKC + case folding + accents (combining marks) removed +
 *            default-ignorable characters dropped; apostrophes removed;
 *            other punctuation -> space; whitespace collapsed and trimmed.
 *   strict : names, then every space removed too. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include <blindlink/encode.h>

#include "encode/pystrptime.h"

static const char *const names[] = {"none", "basic", "names", "strict"};

int bl_normalize_profile_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

const char *bl_normalize_profile_name(bl_normalize_profile p)
{
    return (unsigned)p < 4 ? names[p] : "unknown";
}

static int is_apostrophe(utf8proc_int32_t c)
{
    return c == 0x27 || c == 0x60 || c == 0xb4 || c == 0x2bc || c == 0x2018 || c == 0x2019 ||
           c == 0x2032;
}

static int is_punct(utf8proc_int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

bl_status bl_normalize(bl_normalize_profile profile, const char *in, size_t len, char **out,
                       size_t *outlen, bl_error *err)
{
    *out = NULL;
    *outlen = 0;
    if (profile == BL_NORMALIZE_NONE) {
        char *c = malloc(len + 1);
        if (!c)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        memcpy(c, in, len);
        c[len] = '\0';
        *out = c;
        *outlen = len;
        return BL_OK;
    }
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    if (profile >= BL_NORMALIZE_NAMES)
        opt |= UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE;
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len, &mapped, opt);
    if (n < 0)
        return bl_error_set(err, n == UTF8PROC_ERROR_NOMEM ? BL_ENOMEM : BL_EINPUT, "%s",
                            n == UTF8PROC_ERROR_NOMEM ? "out of memory" : "invalid UTF-8");
    /* second pass in place: punctuation and whitespace */
    size_t o = 0;
    int pending_space = 0;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t w = utf8proc_iterate(mapped + i, n - i, &c);
        if (w <= 0)
            break;
        int space = bli_uc_isspace(c);
        if (profile >= BL_NORMALIZE_NAMES && !space) {
            if (is_apostrophe(c)) {
                i += w;
                continue;
            }
            if (is_punct(c))
                space = 1;
        }
        if (space) {
            pending_space = 1;
            i += w;
            continue;
        }
        if (pending_space && o > 0 && profile != BL_NORMALIZE_STRICT)
            mapped[o++] = ' ';
        pending_space = 0;
        memmove(mapped + o, mapped + i, (size_t)w);
        o += (size_t)w;
        i += w;
    }
    mapped[o] = '\0';
    *out = (char *)mapped;
    *outlen = o;
    return BL_OK;
}
