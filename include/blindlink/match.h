/* blindlink/match.h - similarity, candidate generation, solvers, blocking.
 *
 * Semantics follow anonlink 0.15.3 (docs/match.md): Dice = 2|A&B| / (|A|+|B|),
 * 0 when both popcounts are 0; candidates are pairs with Dice >= threshold, at
 * most top_k per record, ordered by score descending, then (dataset, record)
 * ascending. */
#ifndef BLINDLINK_MATCH_H
#define BLINDLINK_MATCH_H

#include "clk.h"

BL_BEGIN_DECLS

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
    /** 1: top_k applies only to records of the first dataset of each pair,
     *  as anonlink's dice_coefficient_accelerated(k=...); 0 (default): as
     *  find_candidate_pairs (best k per record, then at most k per record in
     *  both directions). Added field; zero keeps the documented meaning. */
    int top_k_one_sided;
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

/** Distributed matching (blindlink-mpi): share `part` of `nparts` of the
 *  candidate work. Exhaustive: the cross-dataset pairs are split by
 *  estimated cost (rows of the first dataset of each dataset pair, weighted
 *  by the size of the second). Keyed LSH: the share is an equal range of the
 *  tables over all records (so it needs every row). External blocks: the
 *  share is a set of blocks and pieces of blocks (a block that costs more
 *  than 1/nparts of the total is cut into runs of 256-row units), dealt
 *  dearest first (cost: the pairs compared) to the share with the least
 *  cost so far, alike for every part; it needs every row and the whole
 *  block lists, and a pair is still emitted only by the first block it
 *  shares. Each share is compared
 *  with the same kernels and threads. The
 *  shares of all parts, concatenated in any order and passed to
 *  bl_match_candidates_merge, equal bl_match_candidates' result. */
bl_status bl_match_candidates_part(const bl_clkset *const *sets, size_t nsets,
                                   const bl_match_opts *opts, size_t part, size_t nparts,
                                   bl_candidate **out, size_t *count, bl_error *err) BL_WUR;

/** The rows of each dataset that share `part` of `nparts` of an exhaustive
 *  bl_match_candidates_part reads (an LSH or block share reads all), for datasets
 *  of `counts` records: the
 *  range [first[i], last[i]) (empty when equal) covers its rows of every
 *  dataset it splits and all of every dataset those rows are compared
 *  with. blindlink-mpi reads just these (bl_clkset_read_rows). */
void bl_match_part_rows(const size_t *counts, size_t nsets, size_t part, size_t nparts,
                        size_t *first, size_t *last);

/** Final step over the concatenated shares (in place, `*count` updated):
 *  the candidate cap, anonlink order and the two-sided top-k. */
bl_status bl_match_candidates_merge(const bl_clkset *const *sets, size_t nsets,
                                    const bl_match_opts *opts, bl_candidate *c, size_t *count,
                                    bl_error *err) BL_WUR;

/** Result of a solver: groups of (dataset, record). */
typedef struct bl_groups bl_groups;

/** anonlink greedy_solve: 1:1 (or N-party all-pairs-agree) greedy. */
bl_status bl_match_solve_greedy(const bl_candidate *c, size_t n, bl_groups **out,
                          bl_error *err) BL_WUR;

/** anonlink probabilistic_greedy_solve(merge_threshold, deduplicated). */
bl_status bl_match_solve_probabilistic(const bl_candidate *c, size_t n, double merge_threshold,
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


/* ---- block files, blocking statistics and the on-disk formats of
 * candidates, pairs and groups (docs/match.md) ---- */

/** Read externally computed blocks, one file per dataset (in dataset order):
 *  blocklib / anonlink-client JSON `{"blocks": {"<record>": ["<key>", ...]}}`
 *  or CSV `record,block` lines (header optional). Two records are compared
 *  iff they share a block key. `nrecs[i]` is the size of dataset i (records
 *  missing from a file are in no block). */
bl_status bl_blocking_read_files(const char *const *paths, size_t n, const size_t *nrecs,
                                 bl_blocking **out, bl_error *err) BL_WUR;

/** Write the blocks of dataset `dataset` (records of `set`) in blocklib /
 *  anonlink-client JSON, readable back by bl_blocking_read_files: keyed LSH
 *  keys as "TABLE:HEX", external blocks as "bID". Atomic (bl_ofile). */
bl_status bl_blocking_write_blocklib(const bl_blocking *b, const bl_clkset *set, size_t dataset,
                                     const char *path, bl_error *err) BL_WUR;

/** Choose LSH parameters for these datasets and threshold: for each bits
 *  per table K the number of tables is the smallest that keeps a pair whose
 *  Dice is exactly `threshold` with probability >= `recall` (bit agreement
 *  estimated from the mean popcounts), and the K with the least estimated
 *  work (key computation plus expected colliding pairs) wins. Pairs above
 *  the threshold are kept with higher probability. On large inputs (sets 0
 *  and 1 have 1e10 pairs or more) the keep probability is instead averaged
 *  over the real pairs at or above the threshold between a sample of set 0
 *  (512-4096 records, about 2e10 comparisons, all cores) and all of set 1,
 *  with a target of (1 + recall) / 2 to leave room for the sample's error;
 *  when the sample finds fewer than 200 pairs, the plan above is used. The
 *  defaults of
 *  `blindlink match --blocking lsh` use recall 0.99. */
void bl_blocking_lsh_auto(const bl_clkset *const *sets, size_t nsets, double threshold,
                          double recall, uint32_t *tables, uint32_t *bits);

/** bl_blocking_lsh_auto that also says whether LSH is worth it: the keep
 *  probability is averaged over the popcounts of 4,096 sampled pairs (a
 *  pair of denser filters agrees in fewer bits at the same Dice). Returns
 *  1 when LSH is recommended; 0 when no choice of at most 1024 tables keeps
 *  `recall`, or the expected comparisons (repeats counted) reach the number
 *  of all pairs, so exhaustive comparison is cheaper and loses nothing.
 *  `compare_share` (may be NULL) receives the expected comparisons as a
 *  share of all pairs (INFINITY when recall cannot be reached). */
int bl_blocking_lsh_plan(const bl_clkset *const *sets, size_t nsets, double threshold,
                         double recall, uint32_t *tables, uint32_t *bits, double *compare_share);

/** Which pairs an LSH plan must keep. */
typedef enum bl_lsh_keep {
    /** every pair at or above the threshold: candidate lists */
    BL_LSH_KEEP_ALL = 0,
    /** each record's best pair at or above it: 1:1 and group linkage,
     *  whose solvers take a record's best available partner */
    BL_LSH_KEEP_BEST = 1
} bl_lsh_keep;

/** bl_blocking_lsh_plan choosing what `recall` applies to. With
 *  BL_LSH_KEEP_BEST the plan fitted to sampled pairs (large inputs) counts
 *  only the best pair of each sampled record of set 0 (highest Dice at or
 *  above the threshold): on corrupted duplicates these are mostly near
 *  copies, while the other pairs that reach the threshold are unrelated
 *  records near it, which take many tables to keep (10M x 10M, threshold
 *  0.8: 43 tables of 29 bits against 1005 of 25). When the sample holds
 *  fewer than 200 best pairs (few records have a pair: a low overlap) the
 *  plan is fitted to all sampled pairs. Small inputs plan for a pair at the
 *  threshold whatever `keep` says. */
int bl_blocking_lsh_plan_keep(const bl_clkset *const *sets, size_t nsets, double threshold,
                              double recall, bl_lsh_keep keep, uint32_t *tables, uint32_t *bits,
                              double *compare_share);

/** Blocking quality against the exhaustive result. */
typedef struct bl_blocking_stats {
    uint64_t pairs_total;     /**< all cross-dataset record pairs */
    uint64_t pairs_compared;  /**< distinct pairs the blocking lets through */
    double reduction_ratio;   /**< 1 - pairs_compared / pairs_total, in [0, 1] */
    uint64_t comparisons;     /**< bucket comparisons, counting a pair once per
                                   table/block it collides in (>= pairs_compared) */
} bl_blocking_stats;

/** Count the comparisons a blocking makes on `sets` (no Dice computed). */
bl_status bl_blocking_stats_compute(const bl_blocking *b, const bl_clkset *const *sets,
                                    size_t nsets, bl_blocking_stats *st, bl_error *err) BL_WUR;

/** Pair completeness: share of candidate pairs of `full` (exhaustive) that
 *  also appear in `blocked` (both in anonlink order). 1.0 when full is empty. */
double bl_candidates_completeness(const bl_candidate *full, size_t nfull,
                                  const bl_candidate *blocked, size_t nblocked);

/** Pair completeness over best pairs: of every record's best candidate in
 *  `full` with each other dataset (the first, in anonlink order, with that
 *  record as the first member), the share found in `blocked` (both in
 *  anonlink order); what `--lsh-keep best` plans for. A record whose top
 *  score is tied counts as found when `blocked` holds any of its pairs with
 *  that score. *nbest (may be NULL)
 *  receives the number of such pairs. 1.0 when full is empty, -1 when out
 *  of memory. */
double bl_candidates_completeness_best(const bl_candidate *full, size_t nfull,
                                       const bl_candidate *blocked, size_t nblocked,
                                       size_t *nbest);

/** Format a double the way Python's repr() does (shortest string that reads
 *  back to the same double). `buf` needs 32 bytes. Returns buf. */
char *bl_format_double(double v, char *buf);

/** Write candidates as CSV. Two datasets: `a_index,b_index,score` plus
 *  `a_id,b_id` when `sets` carry ids; more datasets add `a_dataset` and
 *  `b_dataset` columns. `sets` may be NULL (no ids). Atomic (bl_ofile). */
bl_status bl_candidates_write_csv(const char *path, const bl_candidate *c, size_t n,
                                  const bl_clkset *const *sets, size_t nsets,
                                  bl_error *err) BL_WUR;

/** anonlink's binary candidate format: 4-byte header (version 1, sizeof
 *  double, sizeof uint32, sizeof uint32) then little-endian 24-byte entries
 *  (score, dset0, dset1, rec0, rec1). */
bl_status bl_candidates_write_anonlink(const char *path, const bl_candidate *c, size_t n,
                                       bl_error *err) BL_WUR;
/** Read that format (`max` caps the entries, 0 = 1e9). */
bl_status bl_candidates_read_anonlink(const char *path, size_t max, bl_candidate **out,
                                      size_t *count, bl_error *err) BL_WUR;

/** Groups as anonlink-client find-similarity JSON: a list of groups, each a
 *  list of [dataset, record], indented like Python json.dump(indent=4).
 *  Groups and members are sorted (anonlink's own order is a hash-set order). */
bl_status bl_groups_write_json(const char *path, const bl_groups *g, bl_error *err) BL_WUR;

/** Matched pairs CSV from groups: every cross-dataset pair inside a group,
 *  with its candidate score when one exists (empty otherwise), ordered by
 *  score descending; columns as bl_candidates_write_csv. */
bl_status bl_groups_write_pairs_csv(const char *path, const bl_groups *g,
                                    const bl_candidate *c, size_t n,
                                    const bl_clkset *const *sets, size_t nsets,
                                    bl_error *err) BL_WUR;

BL_END_DECLS
#endif
