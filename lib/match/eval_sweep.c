/* lib/match/eval_sweep.c - precision/recall/F1 over a range of thresholds
 * (what `blindlink eval --sweep` prints and plots): at each threshold the
 * candidates above it are either counted as they are or re-solved 1:1 with
 * the greedy solver, as a linkage run at that threshold would. Calls only
 * this layer's public functions (eval, solve). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/eval.h>
#include <blindlink/match.h>

/* score descending, then pair identity, so the prefix above a threshold is
 * a contiguous run and greedy sees anonlink's order */
static int cmp_score_desc(const void *x, const void *y)
{
    const bl_candidate *a = x, *b = y;
    int an = isnan(a->score), bn = isnan(b->score);
    if (an != bn)
        return an - bn; /* NaN last: never above a threshold */
    if (!an && a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->dset[0] != b->dset[0])
        return a->dset[0] < b->dset[0] ? -1 : 1;
    if (a->rec[0] != b->rec[0])
        return a->rec[0] < b->rec[0] ? -1 : 1;
    if (a->dset[1] != b->dset[1])
        return a->dset[1] < b->dset[1] ? -1 : 1;
    return a->rec[1] < b->rec[1] ? -1 : (a->rec[1] > b->rec[1]);
}

/* the pairs inside the greedy groups of the first k candidates */
static bl_status solved_pairs(const bl_candidate *c, size_t k, bl_candidate *sel, size_t cap,
                              size_t *np, bl_error *err)
{
    bl_groups *g = NULL;
    bl_status st = bl_match_solve_greedy(c, k, &g, err);
    if (st)
        return st;
    size_t n = 0;
    for (size_t q = 0; q < bl_groups_count(g); q++) {
        const uint32_t *d, *r;
        size_t gs = bl_groups_get(g, q, &d, &r);
        for (size_t x = 0; x < gs; x++)
            for (size_t y = x + 1; y < gs; y++)
                if (d[x] != d[y] && n < cap)
                    sel[n++] = (bl_candidate){0, {d[x], d[y]}, {r[x], r[y]}};
    }
    bl_groups_free(g);
    *np = n;
    return BL_OK;
}

bl_status bl_eval_sweep(const bl_eval_truth *t, const bl_candidate *c, size_t n, double lo,
                        double hi, double step, int solve, uint64_t true_pairs,
                        int recall_unknown, bl_eval_sweep_point **out, size_t *count,
                        bl_error *err)
{
    *out = NULL;
    *count = 0;
    if (!t || (n && !c) || !(lo > 0 && lo <= hi && hi <= 1) || !(step > 0) ||
        (hi - lo) / step > 10000)
        return bl_error_set(err, BL_EINVAL, "sweep: need 0 < lo <= hi <= 1, step > 0 and at "
                                            "most 10000 steps");
    size_t npts = (size_t)floor((hi - lo) / step + 1e-9) + 1;
    bl_candidate *sorted = malloc((n ? n : 1) * sizeof *sorted);
    bl_candidate *sel = malloc((n ? n : 1) * sizeof *sel);
    bl_eval_sweep_point *pts = calloc(npts, sizeof *pts);
    if (!sorted || !sel || !pts) {
        free(sorted);
        free(sel);
        free(pts);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    if (n)
        memcpy(sorted, c, n * sizeof *c);
    qsort(sorted, n, sizeof *sorted, cmp_score_desc);
    bl_status st = BL_OK;
    size_t i;
    for (i = 0; i < npts && lo + (double)i * step <= hi + 1e-12; i++) {
        double th = lo + (double)i * step;
        size_t kk = 0; /* length of the prefix at or above th */
        while (kk < n && !isnan(sorted[kk].score) && sorted[kk].score >= th)
            kk++;
        bl_eval_result r;
        if (solve) {
            size_t np = 0;
            st = solved_pairs(sorted, kk, sel, n, &np, err);
            if (st)
                break;
            r = bl_eval_score(t, sel, np, true_pairs);
        } else {
            r = bl_eval_score(t, sorted, kk, true_pairs);
        }
        if (recall_unknown) {
            r.true_pairs = 0;
            r.recall = NAN;
            r.f1 = NAN;
        }
        pts[i].threshold = th;
        pts[i].r = r;
    }
    free(sorted);
    free(sel);
    if (st) {
        free(pts);
        return st;
    }
    *out = pts;
    *count = i;
    return BL_OK;
}
