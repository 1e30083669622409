/* lib/core/strmap.h - string interning map (internal): maps byte strings to dense
 * ids 0, 1, 2, ... in insertion order. Open addressing, FNV-1a hashing.
 * Used to turn record ids and block keys into integers. Not thread-safe. */
#ifndef BLINDLINK_STRMAP_H
#define BLINDLINK_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct bl_strmap {
    char **keys;    /* cap slots, NULL = empty; owned copies */
    uint32_t *vals; /* id of the key in the same slot */
    size_t cap, n;  /* cap is 0 or a power of two; n keys stored */
} bl_strmap;

/** Id of `s` (n bytes), adding it with the next id if new. 0 ok, -1 on
 *  allocation failure or when the map is full (2^32 - 1 keys). */
int bli_strmap_intern(bl_strmap *m, const char *s, size_t n, uint32_t *id);

/** 0 and *id when `s` (n bytes) is present, -1 when not. */
int bli_strmap_find(const bl_strmap *m, const char *s, size_t n, uint32_t *id);

/** Free all keys; the struct may be zero-initialised again after. */
void bli_strmap_free(bl_strmap *m);

#endif
