/* lib/attack/graph.c - the similarity-graph matching attack after Vidanage,
 * Christen, Ranbaduge and Schnell (CIKM 2020, "A graph matching attack on
 * privacy-preserving record linkage"):
 *  1. two similarity graphs: Dice between the attacked encodings, and
 *     between the attacker's encodings of its plaintext (own key, same
 *     schema and hardening: a keyed q-gram Dice of the plaintext);
 *     kept sparse: each node's GK nearest (knn.c);
 *  2. node features from each graph alone: popcount, mean similarity, the
 *     k largest edge weights, degrees at the 99/99.9/99.99% similarity
 *     quantiles of the graph, and the same averaged over the node's
 *     neighbours and their neighbours (per-graph z-scores, so the two key's
 *     collision patterns do not shift them apart);
 *  3. assignment: nearest feature vectors, greedy 1:1 (anonlink's greedy
 *     order: best score first);
 *  4. seeds and percolation: the most confident pairs are seeds; pairs
 *     whose neighbours are matched to each other's neighbours, with
 *     agreeing edge weights, are added best first, and the matching is
 *     re-drawn from that evidence a few times (see percolate()).
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
#define LEVELS 3 /* base features, neighbours' mean, their neighbours' mean */
#define FDIM (LEVELS * NBASE_PAD)
#define CAND 8
#define GK 48 /* neighbours per node in the sparse graphs */
#define MEAN_SAMPLE 256
/* Edge weights this far apart give no evidence: the plaintext's expected
 * Dice is within 0.01 of the encoded Dice on the true pairs' shared k-NN
 * edges (mean |difference|, unhardened synthetic persons). */
#define TAU 0.05
#define GROW_MIN 1.5  /* evidence (beyond the runner-up's) a new pair needs */
#define STUCK_MIN 0.5 /* ... when no pair has that: the best few at this */
#define REFINE 3

typedef struct graph_side {
    const uint64_t *w;       /* records as words */
    size_t n, words, stride; /* stride in words */
    uint32_t *pc;
    double thr[NQ];
    float *feat; /* n * dim */
    size_t dim;
    /* plaintext side with wide encodings: expected Dice at l bits */
    const uint64_t *ww;
    size_t wwords, wstride;
    uint32_t *wpc;
    double *qpow;  /* (1 - 1/l)^x for x = 0 .. 2 * max wpc */
    atk_hmodel hm; /* the hardening of the attacked file, modelled */
    atk_knn knn;   /* each node's GK nearest, degrees at thr */
} graph_side;

static const uint64_t *rec(const graph_side *g, size_t i)
{
    return g->w + i * g->stride;
}
static const uint64_t *wrec(const graph_side *g, size_t i)
{
    return g->ww + i * g->wstride;
}

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
    double x = (1 - ipow(1 - 2 * (*p11 + *p10), t)) / 2,
           y = (1 - ipow(1 - 2 * (*p11 + *p01), t)) / 2,
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

static double sim_cb(const void *ctx, size_t i, size_t j)
{
    return sim(ctx, i, j);
}

/* Node features from the side's k-NN graph: density, mean similarity to a
 * fixed pseudo-random sample of MEAN_SAMPLE nodes, the TOPK largest edge
 * weights and log degrees at the graph's quantile thresholds (counted
 * among the compared nodes; exact when the graph is built exhaustively,
 * LSH finds nearly all pairs that similar at scale). */
static void base_rows(void *ctx, size_t lo, size_t hi)
{
    graph_side *g = ctx;
    const atk_knn *k = &g->knn;
    for (size_t i = lo; i < hi; i++) {
        double sum = 0;
        size_t ns = 0;
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (size_t s = 0; s < MEAN_SAMPLE && g->n > 1; s++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t j = (size_t)(x % g->n);
            if (j != i) {
                sum += sim(g, i, j);
                ns++;
            }
        }
        float *f = g->feat + i * g->dim;
        double dens = 0;
        if (g->ww) { /* expected density after hardening */
            double p = 1.0 - g->qpow[g->wpc[i]];
            atk_hardened_dice(&g->hm, p, 0, 0, &dens);
        }
        f[0] = g->ww ? (float)dens : (float)g->pc[i];
        f[1] = (float)(ns ? sum / (double)ns : 0);
        for (int t = 0; t < TOPK; t++)
            f[2 + t] = k->nb[i * k->k + t] == ATK_NONE ? 0.0f : k->w[i * k->k + t];
        for (int t = 0; t < NQ; t++)
            f[2 + TOPK + t] = (float)log1p(k->deg[i * NQ + t]);
    }
}

/* Level L of the features: the mean of level L-1 over the node's k-NN
 * (recursive structural features: what the node's neighbourhood looks
 * like, not only the node). */
typedef struct rec_job {
    graph_side *g;
    size_t level;
} rec_job;

static void recurse_rows(void *ctx, size_t lo, size_t hi)
{
    rec_job *R = ctx;
    graph_side *g = R->g;
    const atk_knn *k = &g->knn;
    size_t from = (R->level - 1) * NBASE_PAD, to = R->level * NBASE_PAD;
    for (size_t i = lo; i < hi; i++) {
        float *f = g->feat + i * g->dim;
        size_t n = 0;
        for (size_t d = 0; d < NBASE_PAD; d++)
            f[to + d] = 0;
        for (size_t t = 0; t < k->k && k->nb[i * k->k + t] != ATK_NONE; t++, n++) {
            const float *o = g->feat + (size_t)k->nb[i * k->k + t] * g->dim;
            for (size_t d = 0; d < NBASE_PAD; d++)
                f[to + d] += o[from + d];
        }
        for (size_t d = 0; n && d < NBASE_PAD; d++)
            f[to + d] /= (float)n;
    }
}

static void zscore(float *f, size_t n, size_t dim);

static void features(graph_side *g, int threads)
{
    atk_parallel(threads, g->n, base_rows, g);
    zscore(g->feat, g->n, g->dim);
    for (size_t l = 1; l < LEVELS; l++) {
        rec_job R = {g, l};
        atk_parallel(threads, g->n, recurse_rows, &R);
    }
    zscore(g->feat, g->n, g->dim);
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
    bl_attack_guess *cand; /* ne * CAND */
    float *margin;         /* ne: (d2 - d1) / d2 */
    uint32_t *bestp;       /* ne: nearest plain node */
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
    uint32_t *beste; /* np: nearest encoded node */
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
static size_t assign(int threads, const float *fe, size_t ne, const float *fp, size_t np,
                     size_t dim, bl_attack_guess *out, uint32_t *bestp, float *margin,
                     bl_attack_guess *cand)
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
        int mutual =
            bestp[out[i].enc] == out[i].plain && beste && beste[out[i].plain] == out[i].enc;
        out[i].score = margin[out[i].enc] + (mutual ? 1.0 : 0.0);
    }
    free(beste);
    return k;
}

static int cmp_guess_score(const void *x, const void *y)
{
    const bl_attack_guess *a = x, *b = y;
    return a->score > b->score   ? -1
           : a->score < b->score ? 1
                                 : (a->enc > b->enc) - (a->enc < b->enc);
}

/* ---- percolation: growing the matching from seeds ----
 * Each matched pair (e', p') is a witness for the pairs (e, p) with e a
 * neighbour of e' and p a neighbour of p' in the two sparse graphs,
 * weighted by how well the two edge weights agree (the plaintext weight is
 * the expected Dice of the attacked filters, so they should). A pair
 * witnessed by several matched neighbours is very unlikely by chance: a
 * wrong seed spreads its witnesses over random pairs, right seeds
 * concentrate them on the true pairs (percolation graph matching,
 * Yartseva and Grossglauser 2013; Kazemi, Hassani and Grossglauser 2015).
 * That makes the outcome depend far less on how many seeds are right. */

typedef struct perc_job {
    const atk_knn *ge, *gp;
    const uint32_t *me, *mp; /* current matching, ATK_NONE when free */
    bl_attack_guess *prop;   /* ne: best plain node per encoded node */
    float *second;           /* ne: the runner-up's evidence */
    int all;                 /* refine: every node, taken plain nodes too */
} perc_job;

typedef struct witness {
    uint32_t p;
    float w;
} witness;

static int cmp_witness(const void *x, const void *y)
{
    const witness *a = x, *b = y;
    return (a->p > b->p) - (a->p < b->p);
}

/* Witnesses of encoded node e into buf (at most GK * GK). */
static size_t witnesses(const perc_job *J, size_t e, witness *buf)
{
    const atk_knn *ge = J->ge, *gp = J->gp;
    size_t n = 0;
    for (size_t t = 0; t < ge->k; t++) {
        uint32_t e2 = ge->nb[e * ge->k + t];
        if (e2 == ATK_NONE)
            break;
        uint32_t p2 = J->me[e2];
        if (p2 == ATK_NONE)
            continue;
        float se = ge->w[e * ge->k + t];
        for (size_t u = 0; u < gp->k; u++) {
            uint32_t p = gp->nb[(size_t)p2 * gp->k + u];
            if (p == ATK_NONE)
                break;
            if (!J->all && J->mp[p] != ATK_NONE)
                continue;
            float w = 1.0f - fabsf(se - gp->w[(size_t)p2 * gp->k + u]) / (float)TAU;
            if (w > 0)
                buf[n++] = (witness){p, w};
        }
    }
    return n;
}

static void propose_rows(void *ctx, size_t lo, size_t hi)
{
    perc_job *J = ctx;
    witness *buf = malloc(J->ge->k * J->gp->k * sizeof *buf);
    for (size_t e = lo; e < hi; e++) {
        J->prop[e] = (bl_attack_guess){(uint32_t)e, ATK_NONE, 0.0};
        J->second[e] = 0;
        if (!buf || (!J->all && J->me[e] != ATK_NONE))
            continue;
        size_t n = witnesses(J, e, buf);
        qsort(buf, n, sizeof *buf, cmp_witness);
        double best = 0, sec = 0;
        uint32_t bp = ATK_NONE;
        for (size_t i = 0; i < n;) {
            double w = 0;
            size_t j = i;
            for (; j < n && buf[j].p == buf[i].p; j++)
                w += buf[j].w;
            if (w > best) {
                sec = best;
                best = w;
                bp = buf[i].p;
            } else if (w > sec) {
                sec = w;
            }
            i = j;
        }
        J->prop[e] = (bl_attack_guess){(uint32_t)e, bp, best};
        J->second[e] = (float)sec;
    }
    free(buf);
}

static int cmp_prop(const void *x, const void *y)
{
    const bl_attack_guess *a = x, *b = y;
    return a->score > b->score   ? -1
           : a->score < b->score ? 1
                                 : (a->enc > b->enc) - (a->enc < b->enc);
}

/* Proposals at or above `min` (evidence beyond the runner-up's), best
 * first, into J->prop[0..); returns how many. */
static size_t proposals(int threads, perc_job *J, size_t ne, double min)
{
    atk_parallel(threads, ne, propose_rows, J);
    size_t k = 0;
    for (size_t e = 0; e < ne; e++) {
        bl_attack_guess g = J->prop[e];
        g.score -= J->second[e];
        if (g.plain != ATK_NONE && g.score >= min)
            J->prop[k++] = g;
    }
    qsort(J->prop, k, sizeof *J->prop, cmp_prop);
    return k;
}

/* Grow: repeatedly add the best-witnessed free pairs, at most as many per
 * round as are matched already (best first, as the one-at-a-time
 * percolation would), until no pair has GROW_MIN. */
static void grow(int threads, perc_job *J, uint32_t *me, uint32_t *mp, size_t ne)
{
    J->all = 0;
    int stuck = 0;
    for (;;) {
        size_t matched = 0, added = 0;
        for (size_t e = 0; e < ne; e++)
            matched += me[e] != ATK_NONE;
        size_t k = proposals(threads, J, ne, stuck ? STUCK_MIN : GROW_MIN),
               lim = matched > 16 ? matched : 16;
        if (stuck)
            lim = lim / 8 > 4 ? lim / 8 : 4;
        for (size_t i = 0; i < k && added < lim; i++) {
            bl_attack_guess g = J->prop[i];
            if (me[g.enc] != ATK_NONE || mp[g.plain] != ATK_NONE)
                continue;
            me[g.enc] = g.plain;
            mp[g.plain] = g.enc;
            added++;
        }
        if (!added && stuck)
            break;
        stuck = !added;
    }
}

/* Refine: every encoded node's best-witnessed plain node under the current
 * matching, then a fresh greedy 1:1 over those: early mistakes, which few
 * matched neighbours confirm, give way to the pairs the rest supports. */
static void refine(int threads, perc_job *J, uint32_t *me, uint32_t *mp, size_t ne, size_t np)
{
    J->all = 1;
    size_t k = proposals(threads, J, ne, 1e-9);
    memset(me, 0xff, ne * sizeof *me);
    memset(mp, 0xff, np * sizeof *mp);
    for (size_t i = 0; i < k; i++) {
        bl_attack_guess g = J->prop[i];
        if (mp[g.plain] != ATK_NONE)
            continue;
        me[g.enc] = g.plain;
        mp[g.plain] = g.enc;
    }
}

static void debug_match(const atk_ctx *c, const char *what, const uint32_t *me, size_t ne)
{
    if (!getenv("BL_ATTACK_DEBUG") || !c->enc->ids || !c->ids)
        return;
    size_t k = 0, ok = 0;
    for (size_t e = 0; e < ne; e++)
        if (me[e] != ATK_NONE) {
            k++;
            ok += c->ids[me[e]] && !strcmp(c->enc->ids[e], c->ids[me[e]]);
        }
    fprintf(stderr, "graph %s: matched %zu correct %zu\n", what, k, ok);
}

/* BL_ATTACK_DEBUG=2: how far the two sparse graphs agree on the true
 * pairs (scoring truth; development only). */
static void debug_knn(const atk_ctx *c, const graph_side *E, const graph_side *P)
{
    const char *d = getenv("BL_ATTACK_DEBUG");
    if (!d || *d != '2' || E->n != P->n)
        return;
    size_t common = 0, tot = 0;
    double dd = 0, wsum = 0;
    for (size_t i = 0; i < E->n; i++) {
        if (!c->ids[i] || strcmp(c->enc->ids[i], c->ids[i]))
            continue;
        for (size_t t = 0; t < GK; t++) {
            uint32_t j = E->knn.nb[i * GK + t];
            if (j == ATK_NONE)
                break;
            tot++;
            wsum += E->knn.w[i * GK + t];
            for (size_t u = 0; u < GK; u++)
                if (P->knn.nb[i * GK + u] == j) {
                    common++;
                    dd += fabs(E->knn.w[i * GK + t] - P->knn.w[i * GK + u]);
                }
        }
    }
    fprintf(stderr,
            "graph knn: %zu of %zu encoded edges in the plain graph, mean |dw| %.4f, mean w %.4f\n",
            common, tot, common ? dd / (double)common : 0, tot ? wsum / (double)tot : 0);
}

/* Seeds (the most confident feature matches), grown and refined. */
static bl_status percolate(const atk_ctx *c, const graph_side *E, const graph_side *P,
                           bl_attack_guess *a, size_t k, size_t nseed, uint32_t *me, uint32_t *mp)
{
    size_t ne = E->n, np = P->n;
    perc_job J = {
        &E->knn, &P->knn, me, mp, malloc(ne * sizeof *J.prop), malloc(ne * sizeof *J.second), 0};
    if (!J.prop || !J.second) {
        free(J.prop);
        free(J.second);
        return BL_ENOMEM;
    }
    memset(me, 0xff, ne * sizeof *me);
    memset(mp, 0xff, np * sizeof *mp);
    qsort(a, k, sizeof *a, cmp_guess_score);
    for (size_t i = 0; i < k && i < nseed; i++) {
        me[a[i].enc] = a[i].plain;
        mp[a[i].plain] = a[i].enc;
    }
    debug_match(c, "seeds", me, ne);
    debug_knn(c, E, P);
    grow(c->threads, &J, me, mp, ne);
    debug_match(c, "grown", me, ne);
    for (int r = 0; r < REFINE; r++) {
        refine(c->threads, &J, me, mp, ne, np);
        debug_match(c, "refined", me, ne);
        grow(c->threads, &J, me, mp, ne);
        debug_match(c, "grown", me, ne);
    }
    free(J.prop);
    free(J.second);
    return BL_OK;
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
static void debug_round(const atk_ctx *c, const char *what, const bl_attack_guess *a, size_t k,
                        const uint32_t *bestp)
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
    fprintf(stderr,
            "graph %s: assigned %zu correct %zu, nearest correct %zu, top-256 by confidence "
            "correct %zu\n",
            what, k, ok, top1, okhi);
}

/* The sparse graph of one side. LSH only on the plaintext side's wide
 * filters: there a q-gram MinHash separates neighbours from the rest. The
 * attacked filters are about half full, their nearest neighbours at Dice
 * 0.6-0.7 against 0.56 for a random pair (synthetic persons): no LSH on
 * the bits tells those apart, so that side is compared all against all
 * (popcounts of l bits, the cheap part of the attack). */
static bl_status side_knn(graph_side *g, int threads, uint64_t seed)
{
    atk_knn_in in = {g->ww ? g->ww : g->w,
                     g->n,
                     g->ww ? g->wwords : g->words,
                     g->ww ? g->wstride : g->stride,
                     sim_cb,
                     g,
                     GK,
                     g->thr,
                     NQ,
                     seed,
                     g->ww != NULL};
    return atk_knn_build(&in, threads, &g->knn);
}

/* Matched pairs, then the feature round's pairs between nodes left over. */
static size_t collect(const bl_attack_guess *a, size_t k, const uint32_t *me, const uint32_t *mp,
                      size_t ne, bl_attack_guess *out)
{
    size_t n = 0;
    for (size_t e = 0; e < ne; e++)
        if (me[e] != ATK_NONE)
            out[n++] = (bl_attack_guess){(uint32_t)e, me[e], 1.0};
    for (size_t i = 0; i < k; i++)
        if (me[a[i].enc] == ATK_NONE && mp[a[i].plain] == ATK_NONE)
            out[n++] = (bl_attack_guess){a[i].enc, a[i].plain, 0.0};
    return n;
}

static size_t seed_count(size_t ne)
{
    const char *e = getenv("BL_ATTACK_SEEDS"); /* development: seeds to start from */
    size_t s = e ? (size_t)strtoul(e, NULL, 10) : ne / 10;
    return s < 100 ? 100 : s > 10000 && !e ? 10000 : s;
}

bl_status atk_graph(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err)
{
    const size_t ne = c->enc->count, np = c->m;
    graph_side E = {0}, P = {0};
    bl_attack_guess *cand = malloc(ne * CAND * sizeof *cand), *a = malloc(ne * sizeof *a),
                    *b = malloc(ne * sizeof *b);
    uint32_t *bestp = malloc(ne * sizeof *bestp), *me = malloc(ne * sizeof *me),
             *mp = malloc((np ? np : 1) * sizeof *mp);
    float *margin = malloc(ne * sizeof *margin);
    bl_status st = BL_OK;
    if (!cand || !a || !b || !bestp || !me || !mp || !margin ||
        side_init(&E, c->enc, FDIM) != BL_OK || side_init(&P, c->own, FDIM) != BL_OK ||
        (c->wide && side_wide(&P, c->wide, c->narrow_bits) != BL_OK)) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    P.hm = c->hm;
    memset(E.feat, 0, ne * FDIM * sizeof *E.feat);
    memset(P.feat, 0, np * FDIM * sizeof *P.feat);
    thresholds(&E, c->seed ^ 0x9e3779b97f4a7c15ull);
    thresholds(&P, c->seed ^ 0x9e3779b97f4a7c15ull);
    if (side_knn(&E, c->threads, c->seed ^ 0x6a09e667f3bcc908ull) != BL_OK ||
        side_knn(&P, c->threads, c->seed ^ 0xbb67ae8584caa73bull) != BL_OK) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    features(&E, c->threads);
    features(&P, c->threads);
    size_t k = assign(c->threads, E.feat, ne, P.feat, np, FDIM, a, bestp, margin, cand);
    debug_round(c, "features", a, k, bestp);
    if (percolate(c, &E, &P, a, k, seed_count(ne), me, mp) != BL_OK) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    *ng = collect(a, k, me, mp, ne, b);
    *g = b;
    b = NULL;
done:
    free(cand);
    free(a);
    free(b);
    free(bestp);
    free(me);
    free(mp);
    free(margin);
    free(E.pc);
    free(E.feat);
    free(P.pc);
    free(P.feat);
    free(P.wpc);
    free(P.qpow);
    atk_knn_free(&E.knn);
    atk_knn_free(&P.knn);
    return st;
}
