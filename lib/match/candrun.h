/* lib/match/candrun.h - one candidate-generation run: the shared state, the
 * per-thread candidate buffers, the candidate orders and the thread count.
 * Used by exhaustive generation (candidates.c), blocked generation
 * (blocking.c), the writers (match_io.c) and eval (eval.c); it calls only
 * the kernels and lib/core. Not public API. */
#ifndef BLINDLINK_MATCH_CANDRUN_H
#define BLINDLINK_MATCH_CANDRUN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <blindlink/match.h>

struct bl_kernel;

/** Candidate ordering of anonlink: score desc, then dset/rec asc. */
int bli_candidate_cmp(const void *x, const void *y);
/* qsort/bsearch order on the pair identity alone: (dset0, dset1, rec0, rec1). */
int bli_candidate_key_cmp(const void *x, const void *y);

/** Shared state of one candidate-generation run. */
typedef struct bl_candrun {
    const struct bl_kernel *k;
    double threshold;
    const uint32_t *cmin;       /* bli_dice_cmin_table */
    uint32_t nbits;
    size_t nbytes;              /* bytes compared per filter (stride-padded) */
    size_t cap;                 /* max candidates in memory */
    atomic_size_t stored;       /* candidates stored so far (all threads) */
    atomic_int failed;          /* 1 = cap exceeded, 2 = out of memory */
    atomic_uint_least64_t done; /* progress units */
    uint64_t total;
    const bl_match_opts *opts;
} bl_candrun;

/** Per-thread growable candidate vector. */
typedef struct bl_candbuf {
    bl_candidate *v;
    size_t n, cap;
} bl_candbuf;

/** Append (checks the global cap); returns 0 or -1 (run->failed is set). */
int bli_candbuf_push(bl_candrun *run, bl_candbuf *b, double score, uint32_t d0, uint32_t r0,
                    uint32_t d1, uint32_t r1);

/** Report progress (thread-safe, throttled by the caller). */
void bli_candrun_progress(bl_candrun *run, uint64_t add);

/** Popcounts of all filters of a set with the active kernel (malloc'd). */
uint32_t *bli_set_popcounts(const struct bl_kernel *k, const bl_clkset *s, size_t nbytes);

/** Number of worker threads for a request (0 = all cores). */
int bli_match_threads(int requested);

#endif
