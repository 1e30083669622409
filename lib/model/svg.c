/* lib/model/svg.c - charts of a model as SVG, written by hand (a few
 * rectangles and labels; no plotting library is worth the dependency):
 * the waterfall of one explained pair (prior, then each field's partial
 * weight, then the total and its probability), the per-field m/u chart and
 * the match weight histogram. Colours are Okabe-Ito blue and vermillion
 * (safe for the common colour vision deficiencies, as lib/match/plot.c);
 * where two classes share a chart they differ by hatching too. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <blindlink/io.h>

#include "model/model_internal.h"

#define C_POS "#0072B2" /* Okabe-Ito blue: positive weight, m, true pairs */
#define C_NEG "#D55E00" /* Okabe-Ito vermillion: negative weight, u, false pairs */

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
        fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%g</text>\n", left - 8, Y(t) + 4,
                t == 0 ? 0.0 : t); /* never "-0" */
    double start = 0;
    for (size_t i = 0; i <= nf + 1; i++) {
        double w = i == 0 ? prior_weight : i <= nf ? fl[i - 1].weight : 0;
        double a = i <= nf ? start : 0, b = i <= nf ? start + w : start;
        const char *col = i == nf + 1 ? "#555" : w >= 0 ? C_POS : C_NEG;
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
            fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"" C_POS "\"/>\n", left, y + 2,
                    fm->m[l] * colw, rowh - 4);
            fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"" C_NEG "\"/>\n",
                    left + colw + 20, y + 2, fm->u[l] * colw, rowh - 4);
            fprintf(fp, "<text x=\"%d\" y=\"%d\">%.3g / %.3g</text>\n", left + 2 * colw + 24, y + 12, fm->m[l],
                    fm->u[l]);
        }
    }
    fputs("</svg>\n", fp);
    return finish(f, path, err);
}

/* a tick value as text: "-0" (a tiny negative rounded) prints as "0" */
static void tick(FILE *fp, double v, int decimals)
{
    if (fabs(v) < 0.5 * pow(10, -decimals))
        v = 0;
    fprintf(fp, "%.*f", decimals, v);
}

bl_status bli_model_weight_svg(const char *path, const uint64_t *tc, const uint64_t *fc, int bins,
                               double lo, double bw, bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st != BL_OK)
        return st;
    FILE *fp = bl_ofile_stream(f);
    /* false pairs outnumber true ones by orders of magnitude: one log
     * scale for both keeps the counts comparable and readable */
    uint64_t mx = 1;
    for (int b = 0; b < bins; b++) {
        mx = tc[b] > mx ? tc[b] : mx;
        mx = fc[b] > mx ? fc[b] : mx;
    }
    const double lmx = log10((double)mx + 1);
    const int left = 70, top = 40, pw = 540, ph = 260, right = 150;
    const int W = left + pw + right, H = top + ph + 60;
    const double cw = (double)pw / bins;
#define HT(c) ((c) ? ph * log10((double)(c) + 1) / lmx : 0.0)
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            W, H, W, H);
    fprintf(fp, "<defs><pattern id=\"hatch\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" "
                "patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"" C_NEG "\" "
                "fill-opacity=\"0.35\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"" C_NEG "\" "
                "stroke-width=\"2.5\"/></pattern></defs>\n");
    fprintf(fp, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Match weight of true "
                "and false pairs</text>\n", left);
    /* y axis: decades 1, 10, 100, ... with grid lines */
    for (uint64_t d = 1; d <= mx; d *= 10) {
        double y = top + ph - HT(d);
        fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", left,
                y, left + pw, y);
        fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n",
                left - 5, y, left, y);
        fprintf(fp, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%llu</text>\n", left - 8, y + 4,
                (unsigned long long)d);
        if (d > UINT64_MAX / 10)
            break;
    }
    for (int b = 0; b < bins; b++) {
        double x = left + b * cw, ht = HT(tc[b]), hf = HT(fc[b]);
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" C_POS "\">"
                    "<title>%llu true pairs</title></rect>\n",
                x + 1, top + ph - ht, cw / 2 - 1, ht, (unsigned long long)tc[b]);
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"url(#hatch)\" "
                    "stroke=\"" C_NEG "\"><title>%llu false pairs</title></rect>\n",
                x + cw / 2, top + ph - hf, cw / 2 - 1, hf, (unsigned long long)fc[b]);
    }
    fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n",
            left, top, pw, ph);
    /* x ticks at every fifth bin edge */
    for (int b = 0; b <= bins; b += 5) {
        double x = left + b * cw;
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>\n", x,
                top + ph, x, top + ph + 5);
        fprintf(fp, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x, top + ph + 18);
        tick(fp, lo + b * bw, bw * 5 < 2 ? 1 : 0);
        fputs("</text>\n", fp);
    }
    fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">match weight (log2 Bayes factor "
                "incl. prior)</text>\n", left + pw / 2, top + ph + 40);
    fprintf(fp, "<text x=\"18\" y=\"%d\" transform=\"rotate(-90 18 %d)\" text-anchor=\"middle\">"
                "pairs per bin (log scale)</text>\n", top + ph / 2, top + ph / 2);
    /* legend right of the plot, where no bar can hide it */
    const int lx = left + pw + 14;
    fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" fill=\"" C_POS "\"/>"
                "<text x=\"%d\" y=\"%d\">true pairs</text>\n", lx, top + 4, lx + 20, top + 14);
    fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" fill=\"url(#hatch)\" "
                "stroke=\"" C_NEG "\"/><text x=\"%d\" y=\"%d\">false pairs (hatched)</text>\n",
            lx, top + 24, lx + 20, top + 34);
#undef HT
    fputs("</svg>\n", fp);
    return finish(f, path, err);
}
