/* lib/core/strmap.c - string interning map (see strmap.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Keys are NUL-free in practice, but compare lengths first so a key with an
 * embedded NUL can never alias a shorter one. */
static int key_eq(const char *k, const char *s, size_t n)
{
    return strlen(k) == n && memcmp(k, s, n) == 0;
}

static int grow(bl_strmap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 1024;
    char **nk = calloc(nc, sizeof *nk);
    uint32_t *nv = calloc(nc, sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = fnv1a(m->keys[i], strlen(m->keys[i])) & (nc - 1);
            while (nk[j])
                j = (j + 1) & (nc - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = nc;
    return 0;
}

int bli_strmap_find(const bl_strmap *m, const char *s, size_t n, uint32_t *id)
{
    if (!m->cap)
        return -1;
    assert(m->cap && (m->cap & (m->cap - 1)) == 0 && 2 * m->n <= m->cap); /* half empty: probing ends */
    size_t j = fnv1a(s, n) & (m->cap - 1);
    while (m->keys[j]) {
        if (key_eq(m->keys[j], s, n)) {
            *id = m->vals[j];
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

int bli_strmap_intern(bl_strmap *m, const char *s, size_t n, uint32_t *id)
{
    if (bli_strmap_find(m, s, n, id) == 0)
        return 0;
    if (m->n >= UINT32_MAX - 1)
        return -1;
    /* keep the load factor at or below one half */
    if (2 * (m->n + 1) > m->cap && grow(m) != 0)
        return -1;
    size_t j = fnv1a(s, n) & (m->cap - 1);
    while (m->keys[j])
        j = (j + 1) & (m->cap - 1);
    m->keys[j] = strndup(s, n);
    if (!m->keys[j])
        return -1;
    m->vals[j] = (uint32_t)m->n++;
    *id = m->vals[j];
    return 0;
}

void bli_strmap_free(bl_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
