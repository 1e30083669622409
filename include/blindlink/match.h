/* blindlink/match.h - similarity, candidate generation, solvers, blocking.
 *
 * Semantics follow anonlink 0.15.3 (docs/spec: ../shared/spec/clkhash-encoding.md
 * section 3): Dice = 2|A&B| / (|A|+|B|), 0 when both popcounts are 0;
 * candidates are pairs with Dice >= threshold, at most top_k per record,
 * ordered by score descending, then (dataset, record) ascending. */
#ifndef BLINDLINK_MATCH_H
#define BLINDLINK_MATCH_H

#include "clk.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One candidate pair; always dset[0] < dset[1]. */
typedef struct bl_candidate {
    double score;
    uint32_t dset[2];
    uint32_t rec[2];
} bl_candidate;

/** Opaque LSH / external blocking description (see bl_blocking_* below). */
typedef struct bl_blocking bl_blocking;

/** Options for bl_match_candidates. Zero-initialise, then set threshold. */
typedef struct bl_match_opts {
    double threshold;       /**< in (0, 1] */
    uint32_t top_k;         /**< 0 = unlimited, else best k per record per dataset pair */
    int threads;            /**< 0 = all cores */
    size_t max_candidates;  /**< 0 = default cap (BL_MATCH_DEFAULT_MAX_CANDIDATES);
                                 exceeding it fails with BL_ELIMIT */
    const bl_blocking *blocking; /**< NULL = exhaustive comparison */
    /** optional progress callback: pairs done / total; may be NULL. Called
     *  from worker threads, must be thread-safe. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} bl_match_opts;

#define BL_MATCH_DEFAULT_MAX_CANDIDATES ((size_t)100000000)

/** Dice coefficient of two packed filters of `nbytes` bytes (scalar API). */
double bl_dice(const uint8_t *a, const uint8_t *b, size_t nbytes);

/** Name of the popcount kernel in use ("scalar", "avx2", "avx512"). The
 *  environment variable BL_KERNEL forces one (tests run every path). */
const char *bl_match_kernel_name(void);

/** Find every candidate pair across all dataset pairs of `sets` (nsets >= 2,
 *  equal nbits, equal fingerprints when present). On success `*out` is a
 *  malloc'd array of `*count` candidates in anonlink order (free()). */
bl_status bl_match_candidates(const bl_clkset *const *sets, size_t nsets,
                              const bl_match_opts *opts, bl_candidate **out,
                              size_t *count, bl_error *err) BL_WUR;

/** Result of a solver: groups of (dataset, record). */
typedef struct bl_groups bl_groups;

/** anonlink greedy_solve: 1:1 (or N-party all-pairs-agree) greedy. */
bl_status bl_solve_greedy(const bl_candidate *c, size_t n, bl_groups **out,
                          bl_error *err) BL_WUR;

/** anonlink probabilistic_greedy_solve(merge_threshold, deduplicated). */
bl_status bl_solve_probabilistic(const bl_candidate *c, size_t n, double merge_threshold,
                                 int deduplicated, bl_groups **out, bl_error *err) BL_WUR;

size_t bl_groups_count(const bl_groups *g);
/** Size of group i and its members (arrays of `size` entries, owned by g). */
size_t bl_groups_get(const bl_groups *g, size_t i, const uint32_t **dsets,
                     const uint32_t **recs);
void bl_groups_free(bl_groups *g);

/** Keyed LSH blocking: `tables` hash tables of `bits` sampled bit positions
 *  each; which positions is derived from `key` (so block keys reveal nothing
 *  without it). */
bl_status bl_blocking_new_lsh(uint32_t nbits, uint32_t tables, uint32_t bits,
                              const uint8_t *key, size_t keylen, bl_blocking **out,
                              bl_error *err) BL_WUR;
void bl_blocking_free(bl_blocking *b);

#ifdef __cplusplus
}
#endif
#endif
