/* lib/encode/nickname.h - given-name variants (Bob -> robert, Liz ->
 * elizabeth) for the "names" and "strict" normalisation profiles, from the
 * compiled-in table lib/encode/nicknames_table.c (docs/normalize.md). */
#ifndef BLINDLINK_NICKNAME_H
#define BLINDLINK_NICKNAME_H

#include <stddef.h>

typedef struct bl_nickname {
    const char *variant;   /* normalised (lower case, no accents) */
    const char *canonical;
} bl_nickname;

extern const bl_nickname bl_nickname_table[];
extern const size_t bl_nickname_count;

/** Canonical name of the normalised word w[0..len), or NULL when the table
 *  does not list it as a variant. */
const char *bl_nickname_canonical(const char *w, size_t len);

/** 1 when a feature identifier names a given name (given, first, forename,
 *  christian, middle), whose values the table applies to. */
int bl_nickname_applies(const char *identifier);

/** Replace every word (space separated) of v[0..len) that is a variant by
 *  its canonical name, into `out` (cap bytes; needs len + 32 * words).
 *  Returns the new length, or (size_t)-1 when it does not fit. */
size_t bl_nickname_map(const char *v, size_t len, char *out, size_t cap);

#endif
