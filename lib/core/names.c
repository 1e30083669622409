/* lib/core/names.c - which field names are a given name or a surname. The
 * encoder (the shared name key of the field layout, lib/encode/fields.c)
 * and the model (the swapped level and the namesake u, lib/model/model.c)
 * must recognise the same two fields, so both call this one test. */
#include <string.h>
#include <strings.h>

#include "core/internal.h"

/* Case-insensitive "contains any of words". */
static int contains_any(const char *n, const char *const *words)
{
    for (; *words; words++) {
        size_t wl = strlen(*words);
        for (const char *p = n; *p; p++)
            if (!strncasecmp(p, *words, wl))
                return 1;
    }
    return 0;
}

int bli_name_role(const char *name)
{
    static const char *const given[] = {"given", "first", "forename", "christian", NULL};
    static const char *const family[] = {"surname", "last", "family", NULL};
    if (!name)
        return 0;
    return (contains_any(name, given) ? BLI_NAME_GIVEN : 0) | (contains_any(name, family) ? BLI_NAME_FAMILY : 0);
}
