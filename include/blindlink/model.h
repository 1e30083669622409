/* blindlink/model.h - Fellegi-Sunter linkage over field-level encodings.
 *
 * Field-level CLK files (`encode --layout fields`) hold one Bloom filter per
 * field. For a candidate pair every field's Dice coefficient is mapped to a
 * comparison level (exact, similarity bands, a swapped given/surname level,
 * anything else; an empty field on either side is "missing" and neutral).
 * A model gives each level an m-probability (P(level | match)) and a
 * u-probability (P(level | non-match)); the match weight of a pair is
 * log2(prior/(1-prior)) + sum over fields of log2(m/u), plus a term-frequency
 * adjustment for exact agreement on frequent values; the posterior match
 * probability is 1 / (1 + 2^-weight).
 *
 * Training (bl_model_train) is unsupervised: u from random record pairs,
 * m and the prior by expectation maximisation over the blocked candidate
 * pairs. The model file is JSON (docs/model.md); m/u values marked "fixed"
 * there are kept by training and used as written. */
#ifndef BLINDLINK_MODEL_H
#define BLINDLINK_MODEL_H

#include <stdio.h>
#include "clk.h"
#include "match.h"

BL_BEGIN_DECLS

/** Most fields a model compares, most levels per field. */
#define BL_MODEL_MAX_FIELDS 32
#define BL_MODEL_MAX_LEVELS 12

/** Field layout of a field-level CLK set, read from its metadata. */
typedef struct bl_fieldset {
    size_t nfields;
    char *names[BL_MODEL_MAX_FIELDS];
    uint32_t offset[BL_MODEL_MAX_FIELDS]; /**< bit offset (multiple of 512) */
    uint32_t bits[BL_MODEL_MAX_FIELDS];
} bl_fieldset;

/** Read the layout of `s` (a field-level set; `name` names it in errors).
 *  BL_EINPUT when the file is record-level or its metadata is malformed. */
bl_status bl_fieldset_from_clkset(const bl_clkset *s, const char *name, bl_fieldset *out,
                                  bl_error *err) BL_WUR;
void bl_fieldset_clear(bl_fieldset *f);

/** Check that every set is field-level with the same metadata keys
 *  ("layout", "fields", "normalize", "harden") and fingerprint; the error
 *  names both files and the key that differs. */
bl_status bl_model_check_inputs(const bl_clkset *const *sets, const char *const *names,
                                size_t nsets, bl_error *err) BL_WUR;

typedef struct bl_model bl_model;

/** Training options; zero-initialise for the defaults. */
typedef struct bl_model_train_opts {
    uint32_t max_iter;       /**< EM iterations (0 = 100) */
    double tol;              /**< stop when no parameter moves more (0 = 1e-6) */
    uint64_t u_pairs;        /**< random pairs for u (0 = 1,000,000) */
    uint64_t seed;           /**< random pair sampling (0 = fixed default) */
    int threads;             /**< 0 = all cores */
    const bl_model *init;    /**< NULL, or a model whose values start EM and
                                  whose "fixed" m/u are kept */
    int progress;            /**< 1: progress on stderr (when a terminal) */
} bl_model_train_opts;

/** Candidate generation and decision options (zero = defaults). */
typedef struct bl_model_link_opts {
    double block_threshold;  /**< record-level Dice of candidates (0 = 0.3) */
    uint32_t top_k;          /**< candidates per record and dataset pair (0 = 10) */
    double min_probability;  /**< decision (0 = 0.5) */
    int threads;
    int lsh;                 /**< -1 never, 0 auto (large inputs), 1 always */
    size_t max_candidates;   /**< 0 = the match layer's default cap (1e8) when
                                  comparing record-level filters; no cap on
                                  the keyed field blocks of large inputs */
    int order;               /**< of bl_model_candidates' pairs: BL_MODEL_ORDER_SCORE
                                  or BL_MODEL_ORDER_BLOCKS (below) */
} bl_model_link_opts;

/** Candidates in anonlink's order: record-level score descending. */
#define BL_MODEL_ORDER_SCORE 0
/** Candidates grouped by the keyed field block that made each pair (the
 *  same set of pairs), so that pairs next to each other read the same
 *  records: scoring them in this order (bl_model_decide) waits far less on
 *  memory. Only the field blocks of large inputs have such blocks; other
 *  candidates come in anonlink's order. */
#define BL_MODEL_ORDER_BLOCKS 1

/** Blocked candidate pairs of field-level sets, scored later. */
bl_status bl_model_candidates(const bl_clkset *const *sets, size_t nsets,
                              const bl_model_link_opts *opts, bl_candidate **out, size_t *count,
                              bl_error *err) BL_WUR;

/** Train a model on these (already checked) sets and their candidates;
 *  BL_EINPUT when there are no candidates (nothing to learn m from). */
bl_status bl_model_train(const bl_clkset *const *sets, size_t nsets, const bl_candidate *cand,
                         size_t ncand, const bl_model_train_opts *opts, bl_model **out,
                         bl_error *err) BL_WUR;

void bl_model_free(bl_model *m);

/** Write the model as JSON (atomic). */
bl_status bl_model_write(const bl_model *m, const char *path, bl_error *err) BL_WUR;
/** Model to a malloc'd JSON text. */
bl_status bl_model_to_json(const bl_model *m, char **out, bl_error *err) BL_WUR;
/** Read a model file; errors name the JSON path. */
bl_status bl_model_read(const char *path, bl_model **out, bl_error *err) BL_WUR;
bl_status bl_model_from_json(const char *json, size_t len, const char *name, bl_model **out,
                             bl_error *err) BL_WUR;

/** BL_EINPUT unless `s` (file `name`) has the fields and fingerprint the
 *  model was trained for. */
bl_status bl_model_check_set(const bl_model *m, const bl_clkset *s, const char *name,
                             bl_error *err) BL_WUR;

/** Training record: 1 when EM converged (else it hit the iteration limit),
 *  iterations run, the prior. */
int bl_model_converged(const bl_model *m, uint32_t *iterations, double *prior);
/** Candidate pairs EM trained on (each record's best few of the blocked
 *  pairs; the model file's training.candidate_pairs). */
uint64_t bl_model_training_pairs(const bl_model *m);

size_t bl_model_nfields(const bl_model *m);
const char *bl_model_field_name(const bl_model *m, size_t f);
size_t bl_model_nlevels(const bl_model *m, size_t f);
/** Level l of field f: label, m, u (probabilities) and weight log2(m/u). */
void bl_model_level(const bl_model *m, size_t f, size_t l, const char **label, double *mp,
                    double *up, double *weight);

/** A scored pair. */
typedef struct bl_scored_pair {
    bl_candidate c;      /**< c.score = probability */
    double weight;       /**< match weight (log2 Bayes factor incl. the prior) */
    double probability;
} bl_scored_pair;

/** Score candidates with the model (parallel, order kept). `out` has ncand
 *  entries (caller frees). */
bl_status bl_model_score(const bl_model *m, const bl_clkset *const *sets, size_t nsets,
                         const bl_candidate *cand, size_t ncand, int threads,
                         bl_scored_pair **out, bl_error *err) BL_WUR;

/** bl_model_score for a decision at probability min_p (0 < min_p < 1):
 *  `*out` (caller frees) receives, in candidate order, the *nout pairs
 *  that may reach min_p, each with exactly bl_model_score's values; a
 *  pair left out is certainly below min_p (its match weight is bounded
 *  from its records' per-field popcounts and the counts of its most
 *  telling fields, read one at a time, so most pairs are not compared in
 *  full). bl_model_resolve at min_p of *out gives the pairs it gives of
 *  bl_model_score's. With min_p <= 0 or >= 1: every candidate, as
 *  bl_model_score. */
bl_status bl_model_score_decide(const bl_model *m, const bl_clkset *const *sets, size_t nsets,
                                const bl_candidate *cand, size_t ncand, int threads, double min_p,
                                bl_scored_pair **out, size_t *nout, bl_error *err) BL_WUR;

/** bl_model_score_decide at opts->min_probability (0 = 0.5) on
 *  opts->threads, the candidates from bl_model_candidates with the same
 *  opts: with BL_MODEL_ORDER_BLOCKS they are scored in their own order,
 *  else in the library's cache tiles. The pairs returned, in candidate
 *  order, do not depend on the order of the work. */
bl_status bl_model_decide(const bl_model *m, const bl_clkset *const *sets, size_t nsets,
                          const bl_candidate *cand, size_t ncand, const bl_model_link_opts *opts,
                          bl_scored_pair **out, size_t *nout, bl_error *err) BL_WUR;

/** Decide: pairs with probability >= min_p, resolved 1:1 (two datasets:
 *  highest weight first) or into groups (more: anonlink's probabilistic
 *  greedy rule on weight order, one record per dataset, two groups merged
 *  when at least BL_MODEL_MERGE_DEFAULT of their cross pairs are such
 *  pairs). `*out` (caller frees) receives the matched pairs inside a
 *  group, ordered by weight descending. */
bl_status bl_model_resolve(const bl_scored_pair *p, size_t n, size_t nsets, double min_p,
                           bl_scored_pair **out, size_t *nout, bl_error *err) BL_WUR;

/** The share of cross pairs bl_model_resolve asks for to merge groups. */
#define BL_MODEL_MERGE_DEFAULT 0.5

/** bl_model_resolve with that share given: merge_threshold in (0, 1]
 *  (1 = every cross pair, anonlink's greedy_solve). */
bl_status bl_model_resolve_merge(const bl_scored_pair *p, size_t n, size_t nsets, double min_p,
                                 double merge_threshold, bl_scored_pair **out, size_t *nout,
                                 bl_error *err) BL_WUR;

/** Pairs CSV: a_index,b_index,score,weight,probability[,a_id,b_id] (more
 *  datasets: a_dataset,a_index,b_dataset,b_index,...); score = probability.
 *  Rows are formatted on `threads` threads (0 = all cores; the file is the
 *  same for any number). */
bl_status bl_model_write_pairs(const char *path, const bl_scored_pair *p, size_t n,
                               const bl_clkset *const *sets, size_t nsets, int threads,
                               bl_error *err) BL_WUR;

/** One field of an explained pair. */
typedef struct bl_explain_field {
    const char *name;
    double dice;         /**< NaN when missing */
    int level;           /**< -1 = missing */
    const char *label;
    double weight;       /**< partial weight incl. term-frequency adjustment */
    double tf_adjust;
} bl_explain_field;

/** Explain record i of `a` against record j of `b`: per-field levels and
 *  partial weights (`fields` has room for BL_MODEL_MAX_FIELDS), the prior
 *  weight, total weight and probability. `tfsets` (may be NULL) are the
 *  sets whose value frequencies drive the term-frequency adjustment. */
bl_status bl_model_explain(const bl_model *m, const bl_clkset *a, size_t i, const bl_clkset *b,
                           size_t j, const bl_clkset *const *tfsets, size_t ntf,
                           bl_explain_field *fields, double *prior_weight, double *weight,
                           double *probability, bl_error *err) BL_WUR;

/** Waterfall chart (SVG) of an explanation, written atomically. */
bl_status bl_model_explain_svg(const char *path, const bl_explain_field *f, size_t nf,
                               double prior_weight, double weight, double probability,
                               bl_error *err) BL_WUR;

/** Per-field m/u chart of a model (SVG), written atomically. */
bl_status bl_model_mu_svg(const bl_model *m, const char *path, bl_error *err) BL_WUR;

/* ---- eval of model output ---- */
#include "eval.h"

/** The `weight` column of a pairs CSV written by match --model, in row
 *  order (`n` rows expected). */
bl_status bl_model_read_weights(const char *path, size_t n, double **out, bl_error *err) BL_WUR;

/** Match weights of true vs false pairs in BL_MODEL_WEIGHT_BINS bins of
 *  `width` from `lo` (the lowest weight to the highest). */
#define BL_MODEL_WEIGHT_BINS 30
typedef struct bl_weight_hist {
    double lo, width;
    uint64_t true_counts[BL_MODEL_WEIGHT_BINS], false_counts[BL_MODEL_WEIGHT_BINS];
} bl_weight_hist;
void bl_model_weight_hist(const bl_eval_truth *t, const bl_candidate *pairs, const double *w,
                          size_t n, bl_weight_hist *h);

/** Histogram of match weights of true vs false pairs: text to `fp` (may be
 *  NULL) and an SVG chart to `svg_path` (may be NULL), atomically. */
bl_status bl_model_weight_report(const bl_eval_truth *t, const bl_candidate *pairs, const double *w,
                                 size_t n, FILE *fp, const char *svg_path, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
