/* lib/model/svg.c - charts of a model as SVG, written by hand (a few
 * rectangles and labels; no plotting library is worth the dependency):
 * the waterfall of one explained pair (prior, then each field's partial
 * weight, then the total and its probability) and the per-field m/u chart. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <blindlink/io.h>

#include "model/model_internal.h"

/* XML-escape a label into the stream. */
static void esc(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", fp);
        else if (*s == '>')
            fputs("&gt;", fp);
        else if (*s == '&')
            fputs("&amp;", fp);
        else if (*s == '"')
            fputs("&quot;", fp);
        else
            fputc(*s, fp);
    }
}

static bl_status finish(bl_ofile *f, const char *path, bl_error *err)
{
    if (ferror(bl_ofile_stream(f))) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}

bl_status bl_model_explain_svg(const char *path, const bl_explain_field *fl, size_t nf, double prior_weight,
                               double weight, double probability, bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st != BL_OK)
        return st;
    FILE *fp = bl_ofile_stream(f);
    /* running sums give the bar ends; the scale covers all of them */
    double lo = fmin(0, prior_weight), hi = fmax(0, prior_weight), run = prior_weight;
    for (size_t i = 0; i < nf; i++) {
        run += fl[i].weight;
        lo = fmin(lo, run);
        hi = fmax(hi, run);
    }
    lo = floor(lo) - 1;
    hi = ceil(hi) + 1;
    const int bw = 60, gap = 14, left = 60, top = 40, ph = 300;
    const int W = left + (int)(nf + 2) * (bw + gap) + 40, H = top + ph + 110;
#define Y(v) (top + (int)((hi - (v)) / (hi - lo) * ph))
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                "font-size=\"11\">\n", W, H);
    fprintf(fp, "<text x=\"%d\" y=\"20\" font-size=\"14\">Match weight waterfall: total %.2f, probability %.4f</text>\n",
            left, weight, probability);
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", left - 5, Y(0), W - 30, Y(0));
    for (double t = ceil(lo); t <= hi; t += fmax(1, round((hi - lo) / 10)))
        fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%g</text>\n", left - 8, Y(t) + 4, t);
    double start = 0;
    for (size_t i = 0; i <= nf + 1; i++) {
        double w = i == 0 ? prior_weight : i <= nf ? fl[i - 1].weight : 0;
        double a = i <= nf ? start : 0, b = i <= nf ? start + w : start;
        const char *col = i == nf + 1 ? "#555" : w >= 0 ? "#2a7f3f" : "#b03a2e";
        int x = left + (int)i * (bw + gap);
        int y0 = Y(fmax(a, b)), y1 = Y(fmin(a, b));
        fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", x, y0, bw,
                y1 - y0 > 1 ? y1 - y0 : 1, col);
        fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%+.2f</text>\n", x + bw / 2, y0 - 4,
                i == nf + 1 ? start : w);
        fprintf(fp, "<text transform=\"translate(%d,%d) rotate(40)\">", x + 8, top + ph + 14);
        if (i == 0)
            fputs("prior", fp);
        else if (i <= nf) {
            esc(fp, fl[i - 1].name);
            fputs(": ", fp);
            esc(fp, fl[i - 1].label);
        } else
            fputs("total", fp);
        fputs("</text>\n", fp);
        if (i <= nf)
            start += w;
    }
#undef Y
    fputs("</svg>\n", fp);
    return finish(f, path, err);
}

bl_status bl_model_mu_svg(const bl_model *m, const char *path, bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st != BL_OK)
        return st;
    FILE *fp = bl_ofile_stream(f);
    const int rowh = 16, colw = 200, left = 150, top = 40;
    int rows = 0;
    for (size_t i = 0; i < m->nf; i++)
        rows += (int)m->f[i].nlevels + 1;
    /* the "m / u" labels start at left + 2 colw + 24 and take up to 19
     * characters ("5.18e-05 / 5.18e-05", ~130 px at 11 px): 60 px cut them */
    const int W = left + 2 * colw + 24 + 140, H = top + rows * rowh + 20;
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                "font-size=\"11\">\n", W, H);
    fprintf(fp, "<text x=\"10\" y=\"18\" font-size=\"14\">m (match) and u (non-match) probability per level, "
                "prior %.4g</text>\n", m->prior);
    fprintf(fp, "<text x=\"%d\" y=\"34\">m</text><text x=\"%d\" y=\"34\">u</text>\n", left, left + colw + 20);
    int y = top;
    for (size_t i = 0; i < m->nf; i++) {
        const bl_field_model *fm = &m->f[i];
        fprintf(fp, "<text x=\"10\" y=\"%d\" font-weight=\"bold\">", y + 12);
        esc(fp, fm->name);
        fputs("</text>\n", fp);
        y += rowh;
        for (uint32_t l = 0; l < fm->nlevels; l++, y += rowh) {
            fprintf(fp, "<text x=\"20\" y=\"%d\">", y + 12);
            esc(fp, fm->label[l]);
            fputs("</text>\n", fp);
            fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#2a7f3f\"/>\n", left, y + 2,
                    fm->m[l] * colw, rowh - 4);
            fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#b03a2e\"/>\n",
                    left + colw + 20, y + 2, fm->u[l] * colw, rowh - 4);
            fprintf(fp, "<text x=\"%d\" y=\"%d\">%.3g / %.3g</text>\n", left + 2 * colw + 24, y + 12, fm->m[l],
                    fm->u[l]);
        }
    }
    fputs("</svg>\n", fp);
    return finish(f, path, err);
}
