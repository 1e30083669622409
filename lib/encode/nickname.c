/* lib/encode/nickname.c - lookup in the given-name variant table (sorted by
 * variant, binary search) and word-by-word replacement of a normalised
 * value. The table is blindlink's own (data/nicknames/README.md). */
#include <string.h>
#include <strings.h>

#include "encode/nickname.h"

const char *bl_nickname_canonical(const char *w, size_t len)
{
    size_t lo = 0, hi = bl_nickname_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *v = bl_nickname_table[mid].variant;
        int c = strncmp(v, w, len);
        if (c == 0 && v[len] != '\0')
            c = 1; /* v is longer than w: it sorts after */
        if (c == 0)
            return bl_nickname_table[mid].canonical;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int bl_nickname_applies(const char *id)
{
    static const char *const words[] = {"given", "first", "forename", "christian", "middle", NULL};
    if (!id)
        return 0;
    for (const char *const *w = words; *w; w++) {
        size_t wl = strlen(*w);
        for (const char *p = id; *p; p++)
            if (!strncasecmp(p, *w, wl))
                return 1;
    }
    return 0;
}

size_t bl_nickname_map(const char *v, size_t len, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && v[j] != ' ')
            j++;
        const char *c = bl_nickname_canonical(v + i, j - i);
        const char *src = c ? c : v + i;
        size_t n = c ? strlen(c) : j - i;
        if (o + n + 1 > cap)
            return (size_t)-1;
        memcpy(out + o, src, n);
        o += n;
        if (j < len)
            out[o++] = ' ';
        i = j + 1;
    }
    out[o] = '\0';
    return o;
}
