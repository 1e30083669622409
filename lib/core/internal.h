/* lib/core/internal.h - helpers shared inside the library (not public API). */
#ifndef BLINDLINK_INTERNAL_H
#define BLINDLINK_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <blindlink/common.h>

#define BL_UNUSED(x) ((void)(x))
#define BL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BL_MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void bli_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void bli_store_le64(uint8_t *p, uint64_t v)
{
    bli_store_le32(p, (uint32_t)v);
    bli_store_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t bli_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t bli_load_le64(const uint8_t *p)
{
    return (uint64_t)bli_load_le32(p) | (uint64_t)bli_load_le32(p + 4) << 32;
}

/** The capacity growth of bli_grow: `cap` (or `min_cap` when 0) doubled
 *  until it holds `need` items of `elem` bytes; 0 on overflow. For arrays
 *  that share one capacity (grow each with bli_resize to the result). */
static inline size_t bli_grow_cap(size_t cap, size_t need, size_t elem, size_t min_cap)
{
    size_t n = cap ? cap : min_cap;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return 0;
        n *= 2;
    }
    return n;
}

/** Resize `*p` to exactly `n` items of `elem` bytes (overflow checked).
 *  0 ok, -1 on failure (the old buffer is kept). */
static inline int bli_resize(void **p, size_t n, size_t elem)
{
    if (elem && n > SIZE_MAX / elem)
        return -1;
    size_t bytes = n * elem;
    void *q = realloc(*p, bytes > 0 ? bytes : 1);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

/** Grow `*p` (an array of `elem`-byte items, `*cap` allocated) to hold at
 *  least `need` items, doubling from `min_cap`: the library's one growth
 *  helper. 0 ok, -1 on allocation failure or overflow (the old buffer is
 *  kept). */
static inline int bli_grow(void **p, size_t *cap, size_t need, size_t elem, size_t min_cap)
{
    if (need <= *cap)
        return 0;
    size_t n = bli_grow_cap(*cap, need, elem, min_cap);
    if (n == 0 || bli_resize(p, n, elem) != 0)
        return -1;
    *cap = n;
    return 0;
}

/** 64-byte aligned allocation (free with bli_aligned_free, or free());
 *  NULL on failure. From 8 MB on, 2 MB aligned with huge pages asked for. */
void *bli_aligned_alloc(size_t size);
void bli_aligned_free(void *p);

/** Number of online CPUs (>= 1). */
int bli_ncpus(void);
/** par.c: runs fn over nt (1..64) jobs of `size` bytes each, job 0 on the
 *  calling thread; a thread that cannot start runs on the caller's. */
void bli_par_run(void *(*fn)(void *), void *jobs, size_t size, int nt);

/** Roles of a field or feature name (names.c), a bit set: BLI_NAME_GIVEN
 *  if it contains given/first/forename/christian, BLI_NAME_FAMILY if it
 *  contains surname/last/family (case-insensitive). */
enum { BLI_NAME_GIVEN = 1, BLI_NAME_FAMILY = 2 };
int bli_name_role(const char *name);

/** Length of the UTF-8 byte order mark that starts `p` (n bytes), 3 or 0:
 *  editors on Windows add one; it is not part of JSON or of a CSV header. */
static inline size_t bli_bom_len(const void *p, size_t n)
{
    const unsigned char *b = p;
    return n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF ? 3 : 0;
}

/** What the first bytes of a file that failed to parse as JSON look like,
 *  for the error message: "a binary CLK file (encode --format bin)", "CSV
 *  text", or "" when nothing is recognised (io.c). */
const char *bli_kind_hint(const void *head, size_t n);
/** bli_kind_hint's words for the kinds whose own readers ask for another */
#define BLI_KIND_MODEL "a blindlink model (train, match --save-model)"
#define BLI_KIND_SCHEMA "a clkhash linkage schema"
#define BLI_KIND_CLKS "clkhash CLKs (JSON)"
#define BLI_KIND_CSV "CSV text"
/** bli_kind_hint, but "" for a file of kind `own`: a reader names another
 *  kind of file it was given, and for its own kind (broken) its own error
 *  says what is wrong. */
const char *bli_kind_other(const void *head, size_t n, const char *own);
/** bli_kind_other of the first bytes of the file at path. */
const char *bli_kind_other_file(const char *path, const char *own);
/** bli_kind_hint of the first bytes of the file at path ("" if unreadable). */
const char *bli_kind_hint_file(const char *path);

#endif
