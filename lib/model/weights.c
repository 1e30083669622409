/* lib/model/weights.c - `eval` for model output: the match weights of a
 * pairs CSV (its `weight` column) split into true and false pairs, as a text
 * histogram and an SVG chart, as Splink users expect next to the m/u chart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>
#include <blindlink/io.h>

#include "core/utf8.h"
#include "model/model_internal.h"

bl_status bl_model_read_weights(const char *path, size_t n, double **out, bl_error *err)
{
    *out = NULL;
    bl_csv_reader *r = NULL;
    bl_csv_opts o = {0};
    bl_status st = bl_csv_open(path, &o, &r, err);
    if (st != BL_OK)
        return st;
    bl_csv_row row;
    size_t col = SIZE_MAX, i = 0;
    double *w = malloc((n ? n : 1) * sizeof *w);
    if (!w) {
        bl_csv_free(r);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    if ((st = bl_csv_next(r, &row, err)) == BL_OK)
        for (size_t c = 0; c < row.nfields; c++)
            if (!strcmp(row.fields[c], "weight"))
                col = c;
    if (st == BL_OK && col == SIZE_MAX)
        st = bl_error_set(err, BL_EINPUT, "%s: no 'weight' column (pairs from match --model have one)", path);
    while (st == BL_OK && (st = bl_csv_next(r, &row, err)) == BL_OK) {
        char *end;
        if (i >= n || col >= row.nfields) {
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: rows and weights do not line up", path,
                              (unsigned long long)row.line);
            break;
        }
        w[i] = strtod(row.fields[col], &end);
        if (end == row.fields[col] || *end || !isfinite(w[i]))
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: weight '%s' is not a finite number", path,
                              (unsigned long long)row.line,
                              BLI_SHOW(row.fields[col], strlen(row.fields[col])));
        i++;
    }
    bl_csv_free(r);
    if (st == BL_EOF && i == n)
        st = BL_OK;
    else if (st == BL_EOF)
        st = bl_error_set(err, BL_EINPUT, "%s: %zu weights for %zu pairs", path, i, n);
    if (st != BL_OK) {
        free(w);
        return st;
    }
    *out = w;
    return BL_OK;
}

void bl_model_weight_hist(const bl_eval_truth *t, const bl_candidate *pairs, const double *w,
                          size_t n, bl_weight_hist *h)
{
    enum { BINS = BL_MODEL_WEIGHT_BINS };
    memset(h, 0, sizeof *h);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, w[i]);
        hi = fmax(hi, w[i]);
    }
    if (!(hi > lo)) {
        lo = n ? w[0] - 1 : 0;
        hi = lo + 2;
    }
    h->lo = lo;
    h->width = (hi - lo) / BINS;
    for (size_t i = 0; i < n; i++) {
        int b = (int)((w[i] - lo) / h->width);
        b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
        if (bl_eval_is_true(t, &pairs[i]))
            h->true_counts[b]++;
        else
            h->false_counts[b]++;
    }
}

bl_status bl_model_weight_report(const bl_eval_truth *t, const bl_candidate *pairs, const double *w,
                                 size_t n, FILE *fp, const char *svg_path, bl_error *err)
{
    enum { BINS = BL_MODEL_WEIGHT_BINS };
    bl_weight_hist h;
    bl_model_weight_hist(t, pairs, w, n, &h);
    uint64_t tmax = 1, fmax_ = 1;
    for (int b = 0; b < BINS; b++) {
        tmax = h.true_counts[b] > tmax ? h.true_counts[b] : tmax;
        fmax_ = h.false_counts[b] > fmax_ ? h.false_counts[b] : fmax_;
    }
    if (fp) {
        fprintf(fp, "\nmatch weight histogram (true pairs '#', false pairs 'x', each scaled to its maximum)\n");
        for (int b = BINS - 1; b >= 0; b--) {
            char tb[41] = {0}, fb[41] = {0};
            memset(tb, '#', (size_t)(40 * h.true_counts[b] / tmax));
            memset(fb, 'x', (size_t)(40 * h.false_counts[b] / fmax_));
            fprintf(fp, "%7.1f..%-7.1f %8llu %-40s %8llu %s\n", h.lo + b * h.width,
                    h.lo + (b + 1) * h.width, (unsigned long long)h.true_counts[b], tb,
                    (unsigned long long)h.false_counts[b], fb);
        }
    }
    if (!svg_path)
        return BL_OK;
    return bli_model_weight_svg(svg_path, h.true_counts, h.false_counts, BINS, h.lo, h.width, err);
}
