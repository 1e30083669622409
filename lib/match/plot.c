/* lib/match/plot.c - SVG pictures of linkage results (blindlink/plot.h).
 * Written by hand rather than through a plotting library: Debian's C
 * plotting libraries (plplot, cairo) pull in font and X stacks for what are
 * a few dozen rects and polylines, and plain SVG text is diffable in git.
 * Palette: Okabe & Ito (2008), distinguishable with every common colour
 * vision deficiency. Calls only the public eval/io API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/io.h>
#include <blindlink/plot.h>

/* Okabe-Ito colours */
#define C_BLUE "#0072B2"
#define C_GREEN "#009E73"
#define C_VERMILLION "#D55E00"
#define C_ORANGE "#E69F00"
#define C_PURPLE "#CC79A7"
#define C_EMPTY "#555555" /* empty-bin outline: grey, dashed, no fill */

/* the legend sits right of the plot area, where no data can hide it */
enum { W = 900, PH = 340, L = 80, R = 180, TOP = 72, B = 58 };

void bl_plot_opts_init(bl_plot_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = NAN;
}

/* text content with &, <, > and quotes escaped */
static void put_text(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, fp);
        }
    }
}

typedef struct panel {
    double x, y, w, h;     /* plot area */
    double xlo, xhi;       /* data range on x */
} panel;

static double px(const panel *p, double v)
{
    return p->x + (v - p->xlo) / (p->xhi - p->xlo) * p->w;
}

/* what the panel shows (bold), and below it the data set's name, so a
 * long name never runs off the picture's edge in the heading */
static void heading(FILE *fp, double y, const char *what, const char *title)
{
    fprintf(fp, "<text x=\"%d\" y=\"%.0f\" font-size=\"15\" font-weight=\"bold\">", L, y);
    put_text(fp, what);
    fputs("</text>\n", fp);
    if (title && *title) {
        fprintf(fp, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\" fill=\"#333333\">", L,
                y + 18);
        put_text(fp, title);
        fputs("</text>\n", fp);
    }
}

/* legend right of the plot area, sized to its labels */
static void legend(FILE *fp, const panel *p, const char *const *labels, const char *const *colours,
                   const int *lines, int n)
{
    size_t longest = 0;
    for (int i = 0; i < n; i++)
        if (strlen(labels[i]) > longest)
            longest = strlen(labels[i]);
    double w = 34 + 7.2 * (double)longest, h = 8 + 18.0 * n;
    double x = p->x + p->w + 12, y = p->y;
    fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
                "fill-opacity=\"0.9\" stroke=\"#cccccc\"/>\n", x, y, w, h);
    for (int i = 0; i < n; i++) {
        double yy = y + 6 + 18.0 * i;
        if (lines && lines[i] == 2) /* the empty-bin mark */
            fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"7\" fill=\"none\" "
                        "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"3,2\"/>\n",
                    x + 6, yy + 5, colours[i]);
        else if (lines && lines[i])
            fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                        "stroke-width=\"2.5\"/>\n", x + 6, yy + 6, x + 24, yy + 6, colours[i]);
        else
            fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"12\" fill=\"%s\"/>\n",
                    x + 6, yy, colours[i]);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\">", x + 30, yy + 11);
        put_text(fp, labels[i]);
        fputs("</text>\n", fp);
    }
}

static void axes(FILE *fp, const panel *p, const char *xlabel, const char *ylabel)
{
    fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                "stroke=\"black\"/>\n", p->x, p->y, p->w, p->h);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", p->x + p->w / 2,
            p->y + p->h + 40);
    put_text(fp, xlabel);
    fprintf(fp, "</text>\n<text x=\"18\" y=\"%.1f\" transform=\"rotate(-90 18 %.1f)\" "
                "text-anchor=\"middle\">", p->y + p->h / 2, p->y + p->h / 2);
    put_text(fp, ylabel);
    fputs("</text>\n", fp);
}

/* x ticks every 0.05 or 0.1 over [xlo, xhi] */
static void score_ticks(FILE *fp, const panel *p)
{
    double span = p->xhi - p->xlo, step = span > 0.5 ? 0.1 : span > 0.2 ? 0.05 : 0.025;
    for (double v = ceil(p->xlo / step - 1e-9) * step; v <= p->xhi + 1e-9; v += step) {
        double x = px(p, v);
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                x, p->y + p->h, x, p->y + p->h + 5);
        /* ceil() of a small negative is -0.0, which %g prints as "-0" */
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", x,
                p->y + p->h + 19, fabs(v) < 1e-9 ? 0.0 : v);
    }
}

static void threshold_marker(FILE *fp, const panel *p, double t)
{
    if (isnan(t) || t < p->xlo || t > p->xhi)
        return;
    double x = px(p, t);
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" "
                "stroke-width=\"2\" stroke-dasharray=\"5,3\"/>\n", x, p->y, x, p->y + p->h);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">threshold %g</text>\n", x,
            p->y - 5, t);
}

/* log scale: height of count c when the largest is mx */
static double logh(double c, double mx, double h)
{
    return c <= 0 ? 0 : h * log10(c + 1) / log10(mx + 1);
}

static void log_yticks(FILE *fp, const panel *p, double mx)
{
    for (double v = 1; v <= mx * 1.0001; v *= 10) {
        double y = p->y + p->h - logh(v, mx, p->h);
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
                p->x, y, p->x + p->w, y);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", p->x - 6,
                y + 4, v);
    }
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">0</text>\n", p->x - 6,
            p->y + p->h + 4);
    /* the largest count at the top, unless a power of ten is already there */
    double top = pow(10, floor(log10(mx)));
    if (mx >= 2 && p->h - logh(top, mx, p->h) > 14)
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", p->x - 6,
                p->y + 4, mx);
}

/* one bar; an empty bin gets a hollow dashed outline so "zero" is visible
 * and cannot be mistaken for a missing bin */
static void bar(FILE *fp, double x, double w, const panel *p, double hgt, uint64_t c,
                const char *colour, const char *what)
{
    if (c == 0) {
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"7\" fill=\"none\" "
                    "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"3,2\">"
                    "<title>0 %s</title></rect>\n",
                x + 0.75, p->y + p->h - 7.75, w > 1.5 ? w - 1.5 : w, C_EMPTY, what);
        return;
    }
    if (hgt < 2)
        hgt = 2;
    fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                "<title>%llu %s</title></rect>\n",
            x, p->y + p->h - hgt, w, hgt, colour, (unsigned long long)c, what);
}

static void histogram_panel(FILE *fp, double y0, const bl_plot_opts *o, const bl_histogram *h,
                            double xlo)
{
    panel p = {L, y0 + TOP, W - L - R, PH, xlo < h->lo ? xlo : h->lo, 1.0};
    heading(fp, y0 + 22, o->no_truth ? "Scores of candidate pairs" : "Scores of true and false "
                                                                      "candidate pairs", o->title);
    double mx = 1;
    for (uint32_t b = 0; b < h->bins; b++) {
        if ((double)h->true_counts[b] > mx)
            mx = (double)h->true_counts[b];
        if ((double)h->false_counts[b] > mx)
            mx = (double)h->false_counts[b];
    }
    log_yticks(fp, &p, mx);
    for (uint32_t b = 0; b < h->bins; b++) {
        double x = px(&p, h->lo + (1.0 - h->lo) * b / h->bins);
        double bw = px(&p, h->lo + (1.0 - h->lo) * (b + 1) / h->bins) - x;
        if (o->no_truth) {
            bar(fp, x + 1, bw - 2, &p, logh((double)h->false_counts[b], mx, p.h),
                h->false_counts[b], C_BLUE, "candidate pairs");
            continue;
        }
        bar(fp, x + 1, bw / 2 - 1, &p, logh((double)h->true_counts[b], mx, p.h),
            h->true_counts[b], C_GREEN, "true pairs");
        bar(fp, x + bw / 2, bw / 2 - 1, &p, logh((double)h->false_counts[b], mx, p.h),
            h->false_counts[b], C_VERMILLION, "false pairs");
    }
    score_ticks(fp, &p);
    threshold_marker(fp, &p, o->threshold);
    axes(fp, &p, o->score_label ? o->score_label : "Dice similarity",
         "pairs per bin (log scale)");
    if (o->no_truth) {
        const char *lab[] = {"candidate pairs", "empty bin"};
        const char *col[] = {C_BLUE, C_EMPTY};
        int ln[] = {0, 2};
        legend(fp, &p, lab, col, ln, 2);
    } else {
        const char *lab[] = {"true pairs", "false pairs", "empty bin"};
        const char *col[] = {C_GREEN, C_VERMILLION, C_EMPTY};
        int ln[] = {0, 0, 2};
        legend(fp, &p, lab, col, ln, 3);
    }
}

static void series(FILE *fp, const panel *p, const bl_eval_sweep_point *pts, size_t n, int which,
                   const char *colour)
{
    fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" points=\"", colour);
    for (size_t i = 0; i < n; i++) {
        double v = which == 0 ? pts[i].r.precision : which == 1 ? pts[i].r.recall : pts[i].r.f1;
        if (!isnan(v))
            fprintf(fp, "%.1f,%.1f ", px(p, pts[i].threshold), p->y + p->h - v * p->h);
    }
    fputs("\"/>\n", fp);
}

static void sweep_panel(FILE *fp, double y0, const bl_plot_opts *o, const bl_eval_sweep_point *pts,
                        size_t n, double xlo)
{
    double lo = xlo < pts[0].threshold ? xlo : pts[0].threshold, hi = pts[n - 1].threshold;
    if (hi - lo < 1e-9) {
        lo -= 0.05;
        hi += 0.05;
    }
    panel p = {L, y0 + TOP, W - L - R, PH, lo, hi};
    heading(fp, y0 + 22, "Precision, recall and F1 by threshold", o->title);
    for (int i = 0; i <= 5; i++) {
        double y = p.y + p.h - p.h * i / 5.0;
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
                p.x, y, p.x + p.w, y);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", p.x - 6,
                y + 4, i / 5.0);
    }
    series(fp, &p, pts, n, 0, C_BLUE);
    series(fp, &p, pts, n, 1, C_ORANGE);
    series(fp, &p, pts, n, 2, C_PURPLE);
    score_ticks(fp, &p);
    threshold_marker(fp, &p, o->threshold);
    char xl[96];
    snprintf(xl, sizeof xl, "threshold (%s)", o->score_label ? o->score_label : "Dice similarity");
    axes(fp, &p, xl, "share");
    const char *lab[] = {"precision", "recall", "F1"};
    const char *col[] = {C_BLUE, C_ORANGE, C_PURPLE};
    int ln[] = {1, 1, 1};
    legend(fp, &p, lab, col, ln, 3);
}

static bl_status finish(bl_ofile *f, FILE *fp, const char *path, bl_error *err)
{
    fputs("</svg>\n", fp);
    if (ferror(fp)) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}

static FILE *start(const char *path, int height, bl_ofile **f, bl_status *st, bl_error *err)
{
    *st = bl_ofile_open(path, f, err);
    if (*st)
        return NULL;
    FILE *fp = bl_ofile_stream(*f);
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
                "font-size=\"12\">\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            W, height, W, height, W, height);
    return fp;
}

bl_status bl_plot_eval_svg(const char *path, const bl_plot_opts *o, const bl_histogram *h,
                           const bl_eval_sweep_point *pts, size_t npts, bl_error *err)
{
    if (!o || (!h && (!pts || !npts)) || (h && (!h->bins || !h->true_counts)))
        return bl_error_set(err, BL_EINVAL, "plot: nothing to draw");
    int panel_h = TOP + PH + B;
    int height = (h ? panel_h : 0) + (pts && npts ? panel_h : 0);
    bl_ofile *f;
    bl_status st;
    FILE *fp = start(path, height, &f, &st, err);
    if (!fp)
        return st;
    /* both panels share one x axis, so a score lines up with its threshold */
    double xlo = 1.0;
    if (h)
        xlo = h->lo;
    if (pts && npts && pts[0].threshold < xlo)
        xlo = pts[0].threshold;
    if (h)
        histogram_panel(fp, 0, o, h, xlo);
    if (pts && npts)
        sweep_panel(fp, h ? panel_h : 0, o, pts, npts, h ? xlo : pts[0].threshold);
    return finish(f, fp, path, err);
}

bl_status bl_plot_counts_svg(const char *path, const bl_plot_opts *o, const char *head,
                             const char *xlabel, const char *name, uint64_t x0, uint64_t width,
                             const uint64_t *counts, size_t n, int logy, bl_error *err)
{
    if (!o || !counts || !n || n > 100000 || !width)
        return bl_error_set(err, BL_EINVAL, "plot: 1..100000 counts and a bin width expected");
    bl_ofile *f;
    bl_status st;
    FILE *fp = start(path, TOP + PH + B, &f, &st, err);
    if (!fp)
        return st;
    /* x in data units: bar i spans [x0 + i*width - 0.5, x0 + (i+1)*width - 0.5) */
    panel p = {L, TOP, W - L - R, PH, (double)x0 - 0.5, (double)(x0 + n * width) - 0.5};
    heading(fp, 22, head, o->title);
    double mx = 1;
    for (size_t i = 0; i < n; i++)
        if ((double)counts[i] > mx)
            mx = (double)counts[i];
    if (logy) {
        log_yticks(fp, &p, mx);
    } else {
        double step = pow(10, floor(log10(mx)));
        if (mx / step < 3)
            step /= 2;
        for (double v = 0; v <= mx * 1.0001; v += step) {
            double y = p.y + p.h - p.h * v / mx;
            fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        "stroke=\"#e5e5e5\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                        "text-anchor=\"end\">%.0f</text>\n",
                    p.x, y, p.x + p.w, y, p.x - 6, y + 4, v);
        }
    }
    double bw = p.w / (double)n;
    for (size_t i = 0; i < n; i++) {
        double hg = logy ? logh((double)counts[i], mx, p.h) : p.h * (double)counts[i] / mx;
        bar(fp, p.x + (double)i * bw + (bw > 4 ? 1 : 0), bw > 4 ? bw - 2 : bw, &p, hg, counts[i],
            C_BLUE, name);
    }
    /* about 10 integer labels, at bar centres when bars are one unit wide */
    uint64_t every = n <= 12 ? 1 : (uint64_t)ceil((double)n / 10.0);
    for (size_t i = 0; i < n; i += every) {
        double xv = (double)(x0 + i * width) + (width > 1 ? -0.5 : 0.0);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%llu</text>\n",
                px(&p, xv), p.y + p.h + 19, (unsigned long long)(x0 + i * width));
    }
    threshold_marker(fp, &p, o->threshold);
    axes(fp, &p, xlabel, logy ? "count (log scale)" : "count");
    const char *lab[] = {name, "empty bin"};
    const char *col[] = {C_BLUE, C_EMPTY};
    int ln[] = {0, 2};
    legend(fp, &p, lab, col, ln, 2);
    return finish(f, fp, path, err);
}
