/* blindlink/eval.h - linkage quality: precision, recall and F1 of matches
 * against ground truth (FEBRL rec-N-org / rec-N-dup-K ids, a shared id
 * column, or an explicit list of true pairs), threshold sweeps and
 * similarity histograms of true vs false candidate pairs (text and SVG). */
#ifndef BLINDLINK_EVAL_H
#define BLINDLINK_EVAL_H

#include <stdio.h>
#include "match.h"

BL_BEGIN_DECLS

/** Ground truth over a set of datasets (opaque). */
typedef struct bl_eval_truth bl_eval_truth;

/** How record ids name entities. */
typedef enum bl_eval_idmode {
    BL_EVAL_SAME_ID = 0, /**< records with equal ids are the same entity */
    BL_EVAL_FEBRL        /**< rec-N-org / rec-N-dup-K: entity N */
} bl_eval_idmode;

/** Truth from per-dataset record ids: `ids[d][r]` (NULL or "" = unknown
 *  record, never a true match), `counts[d]` records in dataset d. */
bl_status bl_eval_truth_from_ids(const char *const *const *ids, const size_t *counts,
                                 size_t nsets, bl_eval_idmode mode, bl_eval_truth **out,
                                 bl_error *err) BL_WUR;

/** Truth from an explicit list of true pairs (dset/rec fields used; score
 *  ignored). Duplicates are counted once. */
bl_status bl_eval_truth_from_pairs(const bl_candidate *pairs, size_t n, bl_eval_truth **out,
                                   bl_error *err) BL_WUR;

/** Truth from a CSV file of true pairs. Index-based (`a_index,b_index`
 *  columns, plus `a_dataset,b_dataset` beyond two datasets) or id-based
 *  (`a_id,b_id`, optional `a_dataset,b_dataset`; dataset 0 and 1 by
 *  default): ids are looked up in `ids[d][r]` (`counts[d]` records per
 *  dataset). With `ids_complete` (every record's id known, e.g. from the
 *  data files) an unknown id is an input error naming file:line:column;
 *  otherwise (ids only of matched records) it is a true pair that was not
 *  matched. An id carried by several records of a dataset is an error. */
bl_status bl_eval_truth_read(const char *path, const char *const *const *ids,
                             const size_t *counts, size_t nsets, int ids_complete,
                             bl_eval_truth **out, bl_error *err) BL_WUR;

/** Number of true cross-dataset pairs. */
uint64_t bl_eval_truth_pairs(const bl_eval_truth *t);

/** 1 when the pair is a true match. */
int bl_eval_is_true(const bl_eval_truth *t, const bl_candidate *c);

void bl_eval_truth_free(bl_eval_truth *t);

/** Quality figures. recall and f1 are NaN when the number of true pairs is
 *  unknown (0 given); precision NaN when nothing was predicted. */
typedef struct bl_eval_result {
    uint64_t predicted, true_positives, true_pairs;
    double precision, recall, f1;
} bl_eval_result;

/** Score predicted pairs (duplicates count once). `true_pairs` overrides the
 *  truth's count when non-zero. */
bl_eval_result bl_eval_score(const bl_eval_truth *t, const bl_candidate *pairs, size_t n,
                             uint64_t true_pairs);

/** One row of a threshold sweep. */
typedef struct bl_eval_sweep_point {
    double threshold;
    bl_eval_result r;
} bl_eval_sweep_point;

/** Quality at every threshold lo, lo+step, ... <= hi (at most 10,001
 *  points): the candidates with score >= threshold, re-solved 1:1 with the
 *  greedy solver at each threshold when `solve` is set (anonlink
 *  greedy_solve), else counted as they are. `true_pairs` as for
 *  bl_eval_score; with `recall_unknown` recall and f1 are NaN (no count of
 *  true pairs is known). `*out` is malloc'd (free()). The candidates are
 *  copied, `c` is left untouched; rows with a NaN score never count. */
bl_status bl_eval_sweep(const bl_eval_truth *t, const bl_candidate *c, size_t n, double lo,
                        double hi, double step, int solve, uint64_t true_pairs,
                        int recall_unknown, bl_eval_sweep_point **out, size_t *count,
                        bl_error *err) BL_WUR;

/** A matches/candidates CSV as written by `blindlink match` (columns found
 *  by name: a_index, b_index, optional a_dataset, b_dataset, score, a_id,
 *  b_id). Scores missing from a row are NaN. `ids` (optional) receives
 *  2*n malloc'd strings (a_id, b_id per row; NULL when absent). */
typedef struct bl_matches {
    bl_candidate *pairs;
    size_t n;
    char **ids;      /**< NULL or 2*n strings */
    int has_score;   /**< the file has a score column */
    uint32_t nsets;  /**< 1 + largest dataset index seen (>= 2) */
} bl_matches;

/** Read a matches file (`max_rows` caps rows, 0 = 1e8). */
bl_status bl_matches_read(const char *path, size_t max_rows, bl_matches *out,
                          bl_error *err) BL_WUR;
void bl_matches_free(bl_matches *m);

/** Histogram of candidate scores split into true and false pairs over
 *  [lo, 1] in `bins` bins; printed as text bars, or written as an SVG
 *  image (atomically). */
typedef struct bl_histogram {
    double lo;
    uint32_t bins;
    uint64_t *true_counts, *false_counts;
} bl_histogram;

bl_status bl_histogram_build(const bl_eval_truth *t, const bl_candidate *c, size_t n, double lo,
                             uint32_t bins, bl_histogram *out, bl_error *err) BL_WUR;
void bl_histogram_print(const bl_histogram *h, FILE *fp);
bl_status bl_histogram_write_svg(const bl_histogram *h, const char *path, bl_error *err) BL_WUR;
void bl_histogram_free(bl_histogram *h);

BL_END_DECLS
#endif
