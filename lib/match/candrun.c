/* lib/match/candrun.c - candidate runs: the pieces shared by exhaustive
 * (candidates.c) and blocked (blocking.c) candidate generation and by the
 * writers: per-thread buffers under a global cap, progress, popcounts of a
 * set, the thread count, and the two candidate orders. It sits below both
 * generators, so neither calls back into the other. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "match/match_internal.h"

int bli_candidate_cmp(const void *x, const void *y)
{
    const bl_candidate *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return bli_candidate_key_cmp(x, y);
}

int bli_candidate_key_cmp(const void *x, const void *y)
{
    const bl_candidate *a = x, *b = y;
    if (a->dset[0] != b->dset[0])
        return a->dset[0] < b->dset[0] ? -1 : 1;
    if (a->dset[1] != b->dset[1])
        return a->dset[1] < b->dset[1] ? -1 : 1;
    if (a->rec[0] != b->rec[0])
        return a->rec[0] < b->rec[0] ? -1 : 1;
    return a->rec[1] < b->rec[1] ? -1 : (a->rec[1] > b->rec[1]);
}

int bli_match_threads(int requested)
{
    if (requested > 0)
        return requested > 1024 ? 1024 : requested;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 1024 ? 1024 : (int)n);
}

int bli_candbuf_push(bl_candrun *run, bl_candbuf *b, double score, uint32_t d0, uint32_t r0,
                    uint32_t d1, uint32_t r1)
{
    size_t prev = atomic_fetch_add_explicit(&run->stored, 1, memory_order_relaxed);
    if (prev >= run->cap) {
        int z = 0;
        atomic_compare_exchange_strong(&run->failed, &z, 1);
        return -1;
    }
    if (bli_grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v, 1024) != 0) {
        atomic_store(&run->failed, 2);
        return -1;
    }
    bl_candidate *c = &b->v[b->n++];
    c->score = score;
    c->dset[0] = d0;
    c->dset[1] = d1;
    c->rec[0] = r0;
    c->rec[1] = r1;
    return 0;
}

void bli_candrun_progress(bl_candrun *run, uint64_t add)
{
    uint64_t d = atomic_fetch_add_explicit(&run->done, add, memory_order_relaxed) + add;
    if (run->opts->progress)
        run->opts->progress(run->opts->progress_ctx, d, run->total);
}

uint32_t *bli_set_popcounts(const bl_kernel *k, const bl_clkset *s, size_t nbytes)
{
    uint32_t *p = malloc((s->count ? s->count : 1) * sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < s->count; i++)
        p[i] = k->popcount(bl_clkset_get(s, i), nbytes);
    return p;
}
