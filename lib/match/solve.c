/* lib/match/solve.c - solvers turning candidate pairs into groups, with the
 * semantics of anonlink 0.15.3's native greedy_solve_inner: walk candidates
 * in order, merge two groups when the edges seen between them reach
 * merge_threshold * |g0| * |g1| (greedy: threshold 1, no dedup check;
 * probabilistic: configurable, optionally never two records of one dataset
 * in a group). Groups come out sorted for a stable, comparable result. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "match/match_internal.h"

struct bl_groups {
    size_t n;
    size_t *off;     /* n+1 */
    uint32_t *dsets; /* off[n] */
    uint32_t *recs;
};

typedef struct adj {
    uint32_t g;
    uint64_t cnt;
} adj;

typedef struct group {
    uint64_t *mem; /* (dset << 32 | rec) */
    uint32_t size, cap;
    adj *links;
    uint32_t nlinks, lcap;
} group;

typedef struct solver {
    /* record -> group id + 1 (0 = none), open addressing */
    uint64_t *keys;
    uint32_t *vals;
    size_t hcap; /* power of two */
    group *g;
    size_t ng, gcap;
    int oom;
} solver;

static size_t hslot(const solver *s, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ULL;
    size_t i = (size_t)(h >> 20) & (s->hcap - 1);
    while (s->vals[i] && s->keys[i] != key)
        i = (i + 1) & (s->hcap - 1);
    return i;
}

static uint32_t get_group(const solver *s, uint64_t key)
{
    size_t i = hslot(s, key);
    return s->vals[i]; /* 0 = none, else gid+1 */
}

static void set_group(solver *s, uint64_t key, uint32_t gid)
{
    size_t i = hslot(s, key);
    s->keys[i] = key;
    s->vals[i] = gid + 1;
}

static int mem_push(solver *s, group *g, uint64_t r)
{
    if (g->size == g->cap) { /* 32-bit capacities keep groups small */
        size_t nc = bli_grow_cap(g->cap, (size_t)g->size + 1, sizeof *g->mem, 2);
        if (nc == 0 || nc > UINT32_MAX || bli_resize((void **)&g->mem, nc, sizeof *g->mem) != 0) {
            s->oom = 1;
            return -1;
        }
        g->cap = (uint32_t)nc;
    }
    g->mem[g->size++] = r;
    return 0;
}

static uint32_t new_group(solver *s)
{
    if (bli_grow((void **)&s->g, &s->gcap, s->ng + 1, sizeof *s->g, 64) != 0) {
        s->oom = 1;
        return UINT32_MAX;
    }
    memset(&s->g[s->ng], 0, sizeof(group));
    return (uint32_t)s->ng++;
}

static uint32_t make_group(solver *s, uint64_t r0, const uint64_t *r1)
{
    uint32_t gid = new_group(s);
    if (gid == UINT32_MAX)
        return gid;
    if (mem_push(s, &s->g[gid], r0) || (r1 && mem_push(s, &s->g[gid], *r1)))
        return UINT32_MAX;
    set_group(s, r0, gid);
    if (r1)
        set_group(s, *r1, gid);
    return gid;
}

static adj *link_find(group *g, uint32_t other)
{
    for (uint32_t i = 0; i < g->nlinks; i++)
        if (g->links[i].g == other)
            return &g->links[i];
    return NULL;
}

static uint64_t link_add(solver *s, group *g, uint32_t other, uint64_t n)
{
    adj *a = link_find(g, other);
    if (a) {
        a->cnt += n;
        return a->cnt;
    }
    if (g->nlinks == g->lcap) {
        size_t nc = bli_grow_cap(g->lcap, (size_t)g->nlinks + 1, sizeof *g->links, 4);
        if (nc == 0 || nc > UINT32_MAX ||
            bli_resize((void **)&g->links, nc, sizeof *g->links) != 0) {
            s->oom = 1;
            return 0;
        }
        g->lcap = (uint32_t)nc;
    }
    g->links[g->nlinks].g = other;
    g->links[g->nlinks].cnt = n;
    g->nlinks++;
    return n;
}

static void link_del(group *g, uint32_t other)
{
    for (uint32_t i = 0; i < g->nlinks; i++)
        if (g->links[i].g == other) {
            g->links[i] = g->links[--g->nlinks];
            return;
        }
}

static int no_dup_rec_group(uint64_t r, const group *g)
{
    for (uint32_t i = 0; i < g->size; i++)
        if ((g->mem[i] >> 32) == (r >> 32))
            return 0;
    return 1;
}

static int no_dup_groups(const group *a, const group *b)
{
    for (uint32_t i = 0; i < a->size; i++)
        if (!no_dup_rec_group(a->mem[i], b))
            return 0;
    return 1;
}

static void merge_into(solver *s, uint32_t ab, uint32_t ae)
{
    group *A = &s->g[ab], *E = &s->g[ae];
    for (uint32_t i = 0; i < E->size; i++) {
        if (mem_push(s, A, E->mem[i]))
            return;
        set_group(s, E->mem[i], ab);
    }
    link_del(A, ae);
    link_del(E, ab);
    for (uint32_t i = 0; i < E->nlinks; i++) {
        uint32_t o = E->links[i].g;
        uint64_t c = E->links[i].cnt;
        link_add(s, A, o, c);
        group *O = &s->g[o];
        link_del(O, ae);
        link_add(s, O, ab, c);
    }
    free(E->mem);
    free(E->links);
    memset(E, 0, sizeof *E);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : (a > b);
}

typedef struct gref {
    const uint64_t *mem;
    uint32_t size;
} gref;

static int cmp_gref(const void *x, const void *y)
{
    const gref *a = x, *b = y;
    uint32_t n = a->size < b->size ? a->size : b->size;
    for (uint32_t i = 0; i < n; i++)
        if (a->mem[i] != b->mem[i])
            return a->mem[i] < b->mem[i] ? -1 : 1;
    return a->size < b->size ? -1 : (a->size > b->size);
}

static void solver_free(solver *s)
{
    for (size_t i = 0; i < s->ng; i++) {
        free(s->g[i].mem);
        free(s->g[i].links);
    }
    free(s->g);
    free(s->keys);
    free(s->vals);
}

/* Greedy step for one candidate pair: start a group, grow one, or merge
 * two when their links reach the merge threshold. */
static void add_candidate(solver *s, const bl_candidate *c, double mt, int dedup)
{
    uint64_t i0 = (uint64_t)c->dset[0] << 32 | c->rec[0];
    uint64_t i1 = (uint64_t)c->dset[1] << 32 | c->rec[1];
    if (i0 == i1)
        return;
    uint32_t g0 = get_group(s, i0), g1 = get_group(s, i1);
    if (g0 && g1) {
        g0--, g1--;
        if (g0 == g1)
            return;
        double overlap = (double)link_add(s, &s->g[g0], g1, 1);
        link_add(s, &s->g[g1], g0, 1);
        uint32_t s0 = s->g[g0].size, s1 = s->g[g1].size;
        if (overlap >= mt * s0 * s1 && (!dedup || no_dup_groups(&s->g[g0], &s->g[g1]))) {
            if (s0 < s1)
                merge_into(s, g1, g0);
            else
                merge_into(s, g0, g1);
        }
    } else if (g0 || g1) {
        uint32_t gid = (g0 ? g0 : g1) - 1;
        uint64_t r = g0 ? i1 : i0;
        if (1.0 >= mt * s->g[gid].size) {
            if (!dedup || no_dup_rec_group(r, &s->g[gid])) {
                if (mem_push(s, &s->g[gid], r) == 0)
                    set_group(s, r, gid);
            }
        } else {
            uint32_t gi = make_group(s, r, NULL);
            if (gi != UINT32_MAX) {
                link_add(s, &s->g[gid], gi, 1);
                link_add(s, &s->g[gi], gid, 1);
            }
        }
    } else {
        if (!dedup || c->dset[0] != c->dset[1])
            make_group(s, i0, &i1);
    }
}

/* The solver's groups of two or more, members sorted, groups sorted. */
static bl_status collect_groups(solver *s, bl_groups **out, bl_error *err)
{
    size_t ng = 0, nm = 0;
    for (size_t i = 0; i < s->ng; i++)
        if (s->g[i].size > 1) {
            ng++;
            nm += s->g[i].size;
        }
    gref *refs = malloc((ng ? ng : 1) * sizeof *refs);
    bl_groups *g = calloc(1, sizeof *g);
    if (g) {
        g->off = malloc((ng + 1) * sizeof *g->off);
        g->dsets = malloc((nm ? nm : 1) * sizeof *g->dsets);
        g->recs = malloc((nm ? nm : 1) * sizeof *g->recs);
    }
    if (!refs || !g || !g->off || !g->dsets || !g->recs) {
        free(refs);
        bl_groups_free(g);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < s->ng; i++)
        if (s->g[i].size > 1) {
            qsort(s->g[i].mem, s->g[i].size, sizeof(uint64_t), cmp_u64);
            refs[k].mem = s->g[i].mem;
            refs[k].size = s->g[i].size;
            k++;
        }
    assert(k == ng);
    qsort(refs, ng, sizeof *refs, cmp_gref);
    g->n = ng;
    size_t o = 0;
    for (size_t i = 0; i < ng; i++) {
        g->off[i] = o;
        for (uint32_t j = 0; j < refs[i].size; j++, o++) {
            g->dsets[o] = (uint32_t)(refs[i].mem[j] >> 32);
            g->recs[o] = (uint32_t)refs[i].mem[j];
        }
    }
    g->off[ng] = o;
    free(refs);
    *out = g;
    return BL_OK;
}

static bl_status solve(const bl_candidate *c, size_t n, double mt, int dedup, bl_groups **out,
                       bl_error *err)
{
    if (!out)
        return bl_error_set(err, BL_EINVAL, "NULL output");
    *out = NULL;
    if (!(mt >= 0.0 && mt <= 1.0))
        return bl_error_set(err, BL_EINVAL, "merge threshold must be in [0, 1] (got %g)", mt);
    if (n && !c)
        return bl_error_set(err, BL_EINVAL, "NULL candidates");
    solver s;
    memset(&s, 0, sizeof s);
    s.hcap = 64;
    while (s.hcap < 4 * n + 64)
        s.hcap *= 2;
    s.keys = malloc(s.hcap * sizeof *s.keys);
    s.vals = calloc(s.hcap, sizeof *s.vals);
    if (!s.keys || !s.vals) {
        solver_free(&s);
        return bl_error_set(err, BL_ENOMEM, "out of memory for %zu candidates", n);
    }
    for (size_t i = 0; i < n && !s.oom; i++)
        add_candidate(&s, &c[i], mt, dedup);
    if (s.oom) {
        solver_free(&s);
        return bl_error_set(err, BL_ENOMEM, "out of memory while solving");
    }
    bl_status st = collect_groups(&s, out, err);
    solver_free(&s);
    return st;
}

bl_status bl_match_solve_greedy(const bl_candidate *c, size_t n, bl_groups **out, bl_error *err)
{
    return solve(c, n, 1.0, 0, out, err);
}

bl_status bl_match_solve_probabilistic(const bl_candidate *c, size_t n, double merge_threshold,
                                 int deduplicated, bl_groups **out, bl_error *err)
{
    if (!(merge_threshold > 0.0 && merge_threshold <= 1.0)) {
        if (out)
            *out = NULL;
        return bl_error_set(err, BL_EINVAL, "merge threshold must be in (0, 1] (got %g)",
                            merge_threshold);
    }
    return solve(c, n, merge_threshold, deduplicated ? 1 : 0, out, err);
}

size_t bl_groups_count(const bl_groups *g)
{
    return g ? g->n : 0;
}

size_t bl_groups_get(const bl_groups *g, size_t i, const uint32_t **dsets, const uint32_t **recs)
{
    if (!g || i >= g->n)
        return 0;
    if (dsets)
        *dsets = g->dsets + g->off[i];
    if (recs)
        *recs = g->recs + g->off[i];
    return g->off[i + 1] - g->off[i];
}

void bl_groups_free(bl_groups *g)
{
    if (!g)
        return;
    free(g->off);
    free(g->dsets);
    free(g->recs);
    free(g);
}
