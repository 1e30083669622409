/* lib/attack/graph.c - the similarity-graph matching attack after Vidanage,
 * Christen, Ranbaduge and Schnell (CIKM 2020, "A graph matching attack on
 * privacy-preserving record linkage"):
 *  1. two similarity graphs: Dice between the attacked encodings, and
 *     between the attacker's encodings of its plaintext (own key, same
 *     schema and hardening: a keyed q-gram Dice of the plaintext);
 *  2. node features from each graph alone: popcount, mean similarity, the
 *     k largest edge weights, degrees at the 99/99.9/99.99% similarity
 *     quantiles of the graph (per-graph z-scores, so the two key's
 *     collision patterns do not shift them apart);
 *  3. assignment: nearest feature vectors, greedy 1:1 (anonlink's greedy
 *     order: best score first);
 *  4. seed propagation: the most confident mutual matches become anchors;
 *     every node is re-described by its similarities to the anchors on its
 *     own side, and matched again, with more anchors each round.
 * Written here: no library implements this attack. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/attack_internal.h"

#define TOPK 10
#define NQ 3
#define NBASE (2 + TOPK + NQ)
#define NBASE_PAD ((NBASE + 7) / 8 * 8)
#define CAND 8
#define ROUNDS 7

typedef struct graph_side {
    const uint64_t *w;       /* records as words */
    size_t n, words, stride; /* stride in words */
    uint32_t *pc;
    double thr[NQ];
    float *feat;             /* n * dim */
    size_t dim;
    /* plaintext side with wide encodings: expected Dice at l bits */
    const uint64_t *ww;
    size_t wwords, wstride;
    uint32_t *wpc;
    double *qpow;            /* (1 - 1/l)^x for x = 0 .. 2 * max wpc */
    atk_hmodel hm;           /* the hardening of the attacked file, modelled */
} graph_side;

static const uint64_t *rec(const graph_side *g, size_t i) { return g->w + i * g->stride; }
static const uint64_t *wrec(const graph_side *g, size_t i) { return g->ww + i * g->wstride; }

void atk_hmodel_parse(const char *canon, atk_hmodel *hm)
{
    memset(hm, 0, sizeof *hm);
    for (const char *p = canon; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == 3 && !strncmp(p, "xor", 3))
            hm->xor_fold = 1;
        else if (n == 7 && !strncmp(p, "balance", 7))
            hm->balance = 1;
        else if (!strncmp(p, "blip=", 5))
            hm->blip = strtod(p + 5, NULL);
        else if (!strncmp(p, "diffuse=", 8))
            hm->diffuse = (uint32_t)strtoul(p + 8, NULL, 10);
        p += n + (p[n] == ',');
    }
}

static double ipow(double x, uint32_t t)
{
    double r = 1.0;
    while (t--)
        r *= x;
    return r;
}

/* Output bit = XOR of t input bits: with s = E[(-1)^bit] = 1 - 2p per
 * input, the XOR has E = s^t; for the pair, X xor Y is the XOR of t bits
 * of (A xor B). */
static void xor_law(double *p11, double *p10, double *p01, uint32_t t)
{
    double x = (1 - ipow(1 - 2 * (*p11 + *p10), t)) / 2, y = (1 - ipow(1 - 2 * (*p11 + *p01), t)) / 2,
           d = (1 - ipow(1 - 2 * (*p10 + *p01), t)) / 2;
    *p11 = (x + y - d) / 2;
    *p10 = x - *p11;
    *p01 = y - *p11;
}

double atk_hardened_dice(const atk_hmodel *hm, double p11, double p10, double p01, double *dens)
{
    if (hm->xor_fold)
        xor_law(&p11, &p10, &p01, 2);
    if (hm->blip > 0) {
        const double f = hm->blip, k = 1 - f, p00 = 1 - p11 - p10 - p01;
        double n11 = p11 * k * k + p10 * k * f + p01 * f * k + p00 * f * f;
        double n10 = p11 * k * f + p10 * k * k + p01 * f * f + p00 * f * k;
        double n01 = p11 * f * k + p10 * f * f + p01 * k * k + p00 * k * f;
        p11 = n11, p10 = n10, p01 = n01;
    }
    if (hm->balance) { /* half the bits are the complement */
        const double p00 = 1 - p11 - p10 - p01, m = (p10 + p01) / 2;
        p11 = (p11 + p00) / 2;
        p10 = p01 = m;
    }
    if (hm->diffuse)
        xor_law(&p11, &p10, &p01, hm->diffuse);
    if (dens)
        *dens = p11 + p10;
    double den = 2 * p11 + p10 + p01;
    return den > 0 ? 2 * p11 / den : 0.0;
}

/* Expected Dice, after the file's hardening, of two l-bit filters whose
 * tokens set c common and a, b own hash positions: before hardening
 * P(bit in A and B) = 1 - q^(c+a) - q^(c+b) + q^(c+a+b), q = 1 - 1/l. */
static double expected_dice(const graph_side *g, uint32_t c, uint32_t a, uint32_t b)
{
    const double *q = g->qpow;
    double pa = 1 - q[c + a], pb = 1 - q[c + b], both = 1 - q[c + a] - q[c + b] + q[c + a + b];
    return atk_hardened_dice(&g->hm, both, pa - both, pb - both, NULL);
}

static double sim(const graph_side *g, size_t i, size_t j)
{
    if (g->ww) {
        uint32_t c = (uint32_t)(atk_dice_words(wrec(g, i), wrec(g, j), g->wwords, 1, 1) + 0.5);
        return expected_dice(g, c, g->wpc[i] - c, g->wpc[j] - c);
    }
    return atk_dice_words(rec(g, i), rec(g, j), g->words, g->pc[i], g->pc[j]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Similarity quantiles of a random sample of pairs (deterministic). */
static void thresholds(graph_side *g, uint64_t seed)
{
    const size_t S = 60000;
    double *v = malloc(S * sizeof *v);
    static const double q[NQ] = {0.99, 0.999, 0.9999};
    if (!v || g->n < 2) {
        for (int k = 0; k < NQ; k++)
            g->thr[k] = 0.9 + 0.03 * k;
        free(v);
        return;
    }
    uint64_t x = seed | 1;
    for (size_t s = 0; s < S; s++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = (size_t)(x % g->n), j = (size_t)((x >> 32) % g->n);
        v[s] = i == j ? 0.0 : sim(g, i, j);
    }
    qsort(v, S, sizeof *v, cmp_double);
    for (int k = 0; k < NQ; k++) {
        g->thr[k] = v[(size_t)(q[k] * (S - 1))];
        if (k && g->thr[k] <= g->thr[k - 1])
            g->thr[k] = g->thr[k - 1] + 1e-6;
    }
    free(v);
}

static void base_rows(void *ctx, size_t lo, size_t hi)
{
    graph_side *g = ctx;
    for (size_t i = lo; i < hi; i++) {
        double top[TOPK] = {0}, sum = 0;
        uint32_t deg[NQ] = {0};
        for (size_t j = 0; j < g->n; j++) {
            if (j == i)
                continue;
            double s = sim(g, i, j);
            sum += s;
            for (int k = 0; k < NQ; k++)
                deg[k] += s >= g->thr[k];
            if (s > top[TOPK - 1]) {
                int k = TOPK - 1;
                while (k > 0 && top[k - 1] < s) {
                    top[k] = top[k - 1];
                    k--;
                }
                top[k] = s;
            }
        }
        float *f = g->feat + i * g->dim;
        double dens = 0;
        if (g->ww) { /* expected density after hardening */
            double p = 1.0 - g->qpow[g->wpc[i]];
            atk_hardened_dice(&g->hm, p, 0, 0, &dens);
        }
        f[0] = g->ww ? (float)dens : (float)g->pc[i];
        f[1] = (float)(g->n > 1 ? sum / (double)(g->n - 1) : 0);
        for (int k = 0; k < TOPK; k++)
            f[2 + k] = (float)top[k];
        for (int k = 0; k < NQ; k++)
            f[2 + TOPK + k] = (float)log1p(deg[k]);
    }
}

/* z-score every feature column within its own graph. */
static void zscore(float *f, size_t n, size_t dim)
{
    for (size_t d = 0; d < dim; d++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s += f[i * dim + d];
        double mu = s / (double)n;
        for (size_t i = 0; i < n; i++)
            s2 += (f[i * dim + d] - mu) * (f[i * dim + d] - mu);
        double sd = sqrt(s2 / (double)n);
        for (size_t i = 0; i < n; i++)
            f[i * dim + d] = sd > 1e-12 ? (float)((f[i * dim + d] - mu) / sd) : 0.0f;
    }
}

typedef struct match_job {
    const float *fe, *fp;
    size_t ne, np, dim;
    bl_attack_guess *cand;   /* ne * CAND */
    float *margin;           /* ne: (d2 - d1) / d2 */
    uint32_t *bestp;         /* ne: nearest plain node */
} match_job;

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* the distance loop below: 8 independent lanes vectorise */
#endif
/* Squared distance; dim is a multiple of 8 (vectors are zero padded). */
static float dist2(const float *a, const float *b, size_t dim)
{
    float acc[8] = {0};
    for (size_t d = 0; d < dim; d += 8)
        for (int k = 0; k < 8; k++) {
            float t = a[d + k] - b[d + k];
            acc[k] += t * t;
        }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static void match_rows(void *ctx, size_t lo, size_t hi)
{
    match_job *J = ctx;
    for (size_t e = lo; e < hi; e++) {
        float bd[CAND];
        uint32_t bi[CAND];
        for (int k = 0; k < CAND; k++) {
            bd[k] = INFINITY;
            bi[k] = 0;
        }
        const float *a = J->fe + e * J->dim;
        for (size_t p = 0; p < J->np; p++) {
            float d = dist2(a, J->fp + p * J->dim, J->dim);
            if (d >= bd[CAND - 1])
                continue;
            int k = CAND - 1;
            while (k > 0 && bd[k - 1] > d) {
                bd[k] = bd[k - 1];
                bi[k] = bi[k - 1];
                k--;
            }
            bd[k] = d;
            bi[k] = (uint32_t)p;
        }
        for (int k = 0; k < CAND; k++)
            J->cand[e * CAND + k] = (bl_attack_guess){(uint32_t)e, bi[k], -(double)bd[k]};
        J->margin[e] = isfinite(bd[1]) && bd[1] > 0 ? (bd[1] - bd[0]) / bd[1] : 0.0f;
        J->bestp[e] = bi[0];
    }
}

typedef struct rev_job {
    const float *fe, *fp;
    size_t ne, np, dim;
    uint32_t *beste;         /* np: nearest encoded node */
} rev_job;

static void rev_rows(void *ctx, size_t lo, size_t hi)
{
    rev_job *J = ctx;
    for (size_t p = lo; p < hi; p++) {
        float bd = INFINITY;
        uint32_t bi = 0;
        for (size_t e = 0; e < J->ne; e++) {
            float d = dist2(J->fp + p * J->dim, J->fe + e * J->dim, J->dim);
            if (d < bd) {
                bd = d;
                bi = (uint32_t)e;
            }
        }
        J->beste[p] = bi;
    }
}

/* Nearest-feature candidates, then greedy 1:1; `out` gets the assignment,
 * scored by confidence: mutual nearest neighbours first, then the encoded
 * node's margin over its second-nearest. Returns its size. */
static size_t assign(int threads, const float *fe, size_t ne, const float *fp, size_t np, size_t dim,
                     bl_attack_guess *out, uint32_t *bestp, float *margin, bl_attack_guess *cand)
{
    match_job J = {fe, fp, ne, np, dim, cand, margin, bestp};
    atk_parallel(threads, ne, match_rows, &J);
    uint32_t *beste = malloc((np ? np : 1) * sizeof *beste);
    if (beste) {
        rev_job R = {fe, fp, ne, np, dim, beste};
        atk_parallel(threads, np, rev_rows, &R);
    }
    size_t k = atk_greedy(cand, ne * CAND, ne, np, out);
    for (size_t i = 0; i < k; i++) {
        int mutual = bestp[out[i].enc] == out[i].plain && beste && beste[out[i].plain] == out[i].enc;
        out[i].score = margin[out[i].enc] + (mutual ? 1.0 : 0.0);
    }
    free(beste);
    return k;
}

static int cmp_guess_score(const void *x, const void *y)
{
    const bl_attack_guess *a = x, *b = y;
    return a->score > b->score ? -1 : a->score < b->score ? 1 : (a->enc > b->enc) - (a->enc < b->enc);
}

typedef struct anchor_job {
    const graph_side *g;
    const uint32_t *anchor;  /* node of this side per anchor */
    size_t na, dim;
    float *out;              /* n * dim; first na columns anchor similarities */
} anchor_job;

static void anchor_rows(void *ctx, size_t lo, size_t hi)
{
    anchor_job *J = ctx;
    for (size_t i = lo; i < hi; i++)
        for (size_t a = 0; a < J->na; a++)
            J->out[i * J->dim + a] = (float)sim(J->g, i, J->anchor[a]);
}

/* One propagation round: anchors = the `na` most confident pairs of `cur`. */
static size_t propagate(int threads, graph_side *E, graph_side *P, bl_attack_guess *cur, size_t ncur, size_t na,
                        bl_attack_guess *out, uint32_t *bestp, float *margin, bl_attack_guess *cand, float *fe,
                        float *fp)
{
    qsort(cur, ncur, sizeof *cur, cmp_guess_score);
    if (na > ncur)
        na = ncur;
    uint32_t *ae = malloc((na ? na : 1) * sizeof *ae), *ap = malloc((na ? na : 1) * sizeof *ap);
    if (!ae || !ap) {
        free(ae);
        free(ap);
        return 0;
    }
    for (size_t a = 0; a < na; a++) {
        ae[a] = cur[a].enc;
        ap[a] = cur[a].plain;
    }
    size_t dim = (na + 7) / 8 * 8;
    memset(fe, 0, E->n * dim * sizeof *fe);
    memset(fp, 0, P->n * dim * sizeof *fp);
    anchor_job je = {E, ae, na, dim, fe}, jp = {P, ap, na, dim, fp};
    atk_parallel(threads, E->n, anchor_rows, &je);
    atk_parallel(threads, P->n, anchor_rows, &jp);
    zscore(fe, E->n, dim);
    zscore(fp, P->n, dim);
    size_t k = assign(threads, fe, E->n, fp, P->n, dim, out, bestp, margin, cand);
    free(ae);
    free(ap);
    return k;
}

static bl_status side_init(graph_side *g, const bl_clkset *s, size_t dim)
{
    g->w = (const uint64_t *)(const void *)s->data;
    g->n = s->count;
    g->stride = s->stride / 8;
    g->words = (s->nbytes + 7) / 8;
    g->dim = dim;
    g->pc = malloc((g->n ? g->n : 1) * sizeof *g->pc);
    g->feat = malloc((g->n ? g->n : 1) * dim * sizeof *g->feat);
    if (!g->pc || !g->feat)
        return BL_ENOMEM;
    for (size_t i = 0; i < g->n; i++)
        g->pc[i] = atk_popcount(rec(g, i), g->words);
    return BL_OK;
}

static bl_status side_wide(graph_side *g, const bl_clkset *w, uint32_t l)
{
    g->ww = (const uint64_t *)(const void *)w->data;
    g->wstride = w->stride / 8;
    g->wwords = (w->nbytes + 7) / 8;
    g->wpc = malloc((g->n ? g->n : 1) * sizeof *g->wpc);
    if (!g->wpc)
        return BL_ENOMEM;
    uint32_t mx = 0;
    for (size_t i = 0; i < g->n; i++) {
        g->wpc[i] = atk_popcount(wrec(g, i), g->wwords);
        mx = g->wpc[i] > mx ? g->wpc[i] : mx;
    }
    g->qpow = malloc((2 * (size_t)mx + 2) * sizeof *g->qpow);
    if (!g->qpow)
        return BL_ENOMEM;
    double q = 1.0 - 1.0 / l;
    g->qpow[0] = 1.0;
    for (size_t x = 1; x < 2 * (size_t)mx + 2; x++)
        g->qpow[x] = g->qpow[x - 1] * q;
    return BL_OK;
}

/* BL_ATTACK_DEBUG=1: per-round correct counts on stderr (development aid; the
 * ids are the scoring truth, never used by the attack itself). */
static void debug_round(const atk_ctx *c, const char *what, const bl_attack_guess *a, size_t k, const uint32_t *bestp)
{
    if (!getenv("BL_ATTACK_DEBUG") || !c->enc->ids || !c->ids)
        return;
    size_t ok = 0, top1 = 0, okhi = 0;
    for (size_t i = 0; i < k; i++)
        ok += c->ids[a[i].plain] && !strcmp(c->enc->ids[a[i].enc], c->ids[a[i].plain]);
    for (size_t e = 0; e < c->enc->count; e++)
        top1 += c->ids[bestp[e]] && !strcmp(c->enc->ids[e], c->ids[bestp[e]]);
    bl_attack_guess *t = malloc(k * sizeof *t);
    if (t) {
        memcpy(t, a, k * sizeof *t);
        qsort(t, k, sizeof *t, cmp_guess_score);
        for (size_t i = 0; i < k && i < 256; i++)
            okhi += c->ids[t[i].plain] && !strcmp(c->enc->ids[t[i].enc], c->ids[t[i].plain]);
        free(t);
    }
    fprintf(stderr, "graph %s: assigned %zu correct %zu, nearest correct %zu, top-256 by confidence correct %zu\n",
            what, k, ok, top1, okhi);
}

bl_status atk_graph(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err)
{
    const size_t ne = c->enc->count, np = c->m;
    size_t maxa = 512;
    if (maxa > ne / 8 * 8)
        maxa = ne / 8 * 8;
    if (maxa < 8)
        maxa = 8;
    size_t dim = maxa > NBASE_PAD ? maxa : NBASE_PAD;
    graph_side E = {0}, P = {0};
    bl_attack_guess *cand = malloc(ne * CAND * sizeof *cand), *a = malloc(ne * sizeof *a),
                    *b = malloc(ne * sizeof *b);
    uint32_t *bestp = malloc(ne * sizeof *bestp);
    float *margin = malloc(ne * sizeof *margin);
    bl_status st = BL_OK;
    if (!cand || !a || !b || !bestp || !margin || side_init(&E, c->enc, dim) != BL_OK ||
        side_init(&P, c->own, dim) != BL_OK || (c->wide && side_wide(&P, c->wide, c->narrow_bits) != BL_OK)) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    P.hm = c->hm;
    E.dim = P.dim = NBASE_PAD;
    memset(E.feat, 0, ne * dim * sizeof *E.feat);
    memset(P.feat, 0, np * dim * sizeof *P.feat);
    thresholds(&E, c->seed ^ 0x9e3779b97f4a7c15ull);
    thresholds(&P, c->seed ^ 0x9e3779b97f4a7c15ull);
    atk_parallel(c->threads, ne, base_rows, &E);
    atk_parallel(c->threads, np, base_rows, &P);
    zscore(E.feat, ne, NBASE_PAD);
    zscore(P.feat, np, NBASE_PAD);
    size_t k = assign(c->threads, E.feat, ne, P.feat, np, NBASE_PAD, a, bestp, margin, cand);
    debug_round(c, "features", a, k, bestp);
    size_t na = maxa / 16 > 16 ? maxa / 16 : maxa;
    for (int r = 0; r < ROUNDS && k > 1; r++, na = na * 2 > maxa ? maxa : na * 2) {
        size_t k2 = propagate(c->threads, &E, &P, a, k, na, b, bestp, margin, cand, E.feat, P.feat);
        bl_attack_guess *t = a;
        a = b;
        b = t;
        k = k2;
        debug_round(c, "anchors", a, k, bestp);
    }
    *g = a;
    *ng = k;
    a = NULL;
done:
    free(cand);
    free(a);
    free(b);
    free(bestp);
    free(margin);
    free(E.pc);
    free(E.feat);
    free(P.pc);
    free(P.feat);
    free(P.wpc);
    free(P.qpow);
    return st;
}
