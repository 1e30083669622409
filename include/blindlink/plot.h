/* blindlink/plot.h - SVG pictures an analyst reads to choose a threshold and
 * judge a linkage: candidate-score histograms (true vs false pairs, or all
 * candidates when no ground truth exists), precision/recall/F1 against the
 * threshold, and bar charts of counts (popcounts of a CLK file, N-party
 * cluster sizes). Colour-blind-safe palette (Okabe-Ito), a legend, the data
 * set's name, the threshold marked, empty bins drawn as visibly empty.
 * Files are written atomically ("-" = stdout). */
#ifndef BLINDLINK_PLOT_H
#define BLINDLINK_PLOT_H

#include "eval.h"

BL_BEGIN_DECLS

typedef struct bl_plot_opts {
    const char *title;  /**< data set name shown in the heading (NULL: none) */
    double threshold;   /**< marked with a dashed line; NaN = no marker */
    int no_truth;       /**< histogram: one class "candidate pairs" (no truth known) */
    const char *score_label; /**< what the scores are, on the x axes (NULL: "Dice similarity";
                                  pairs from match --model: "posterior probability") */
} bl_plot_opts;

void bl_plot_opts_init(bl_plot_opts *o);

/** Evaluation picture: the score histogram `h` (may be NULL) above the
 *  sweep plot `pts` (may be NULL; NaN figures are left out). At least one
 *  of the two must be given. */
bl_status bl_plot_eval_svg(const char *path, const bl_plot_opts *o, const bl_histogram *h,
                           const bl_eval_sweep_point *pts, size_t npts, bl_error *err) BL_WUR;

/** Bar chart of `n` counts over an integer x axis (popcount, cluster
 *  size): bar i covers x0 + i*width .. x0 + (i+1)*width - 1 (width >= 1);
 *  `heading`, `xlabel` and `series` (legend) describe it; log scale on y
 *  when `logy`. o->threshold, when not NaN, marks an x value. */
bl_status bl_plot_counts_svg(const char *path, const bl_plot_opts *o, const char *heading,
                             const char *xlabel, const char *series, uint64_t x0, uint64_t width,
                             const uint64_t *counts, size_t n, int logy, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
