/* lib/attack/knn.c - sparse similarity graphs for the graph attack: each
 * node's k most similar nodes, and how many nodes it has above a few
 * similarity thresholds. Small sets are compared exhaustively; large ones
 * get their candidate pairs from MinHash LSH over the set bit positions of
 * the filters (the attacker computes it on the encodings without the key:
 * it only needs the bits, not what they mean; on its plaintext side on its
 * own wide encodings, a q-gram MinHash). A band's bucket larger than
 * KNN_CAP contributes only the KNN_CAP nodes nearest in the bucket's
 * (keyed, random) order, so the work per node is bounded. */
#include <stdlib.h>
#include <string.h>

#include "attack/attack_internal.h"

#define KNN_ROWS 3 /* MinHash values per band */
#define KNN_BANDS 32
#define KNN_CAP 96

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct knn_job {
    const atk_knn_in *in;
    atk_knn *out;
    /* LSH: per band, nodes in (key, tiebreak) order and each node's place */
    uint32_t *order, *place, *blo, *bhi; /* bands * n each */
    uint64_t *key;                       /* bands * n, in node order */
} knn_job;

static void keep_top(atk_knn *g, size_t i, uint32_t j, double s)
{
    uint32_t *nb = g->nb + i * g->k;
    float *w = g->w + i * g->k;
    if (s <= w[g->k - 1] && nb[g->k - 1] != ATK_NONE)
        return;
    size_t t = g->k - 1;
    while (t > 0 && (nb[t - 1] == ATK_NONE || w[t - 1] < s)) {
        nb[t] = nb[t - 1];
        w[t] = w[t - 1];
        t--;
    }
    nb[t] = j;
    w[t] = (float)s;
}

static void visit(const knn_job *J, size_t i, uint32_t j)
{
    const atk_knn_in *in = J->in;
    double s = in->sim(in->ctx, i, j);
    for (size_t t = 0; t < in->nthr; t++)
        J->out->deg[i * in->nthr + t] += s >= in->thr[t];
    keep_top(J->out, i, j, s);
}

static void exact_rows(void *ctx, size_t lo, size_t hi)
{
    const knn_job *J = ctx;
    for (size_t i = lo; i < hi; i++)
        for (size_t j = 0; j < J->in->n; j++)
            if (j != i)
                visit(J, i, (uint32_t)j);
}

/* MinHash signature bands of node i: KNN_ROWS minima per band over the set
 * bits, hashed into one 64-bit key per band. */
static void sig_rows(void *ctx, size_t lo, size_t hi)
{
    knn_job *J = ctx;
    const atk_knn_in *in = J->in;
    for (size_t i = lo; i < hi; i++) {
        const uint64_t *r = in->bits + i * in->stride;
        for (size_t b = 0; b < KNN_BANDS; b++) {
            uint64_t k = 0x243f6a8885a308d3ull ^ b;
            for (size_t h = 0; h < KNN_ROWS; h++) {
                uint64_t a = mix64(in->seed ^ (b * KNN_ROWS + h + 1)) | 1, mn = UINT64_MAX;
                for (size_t w = 0; w < in->words; w++)
                    for (uint64_t x = r[w]; x; x &= x - 1) {
                        uint64_t v = a * (uint64_t)(w * 64 + (size_t)__builtin_ctzll(x) + 1);
                        v ^= v >> 29;
                        mn = v < mn ? v : mn;
                    }
                k = mix64(k ^ mn);
            }
            J->key[b * in->n + i] = k;
        }
    }
}

typedef struct knn_ent {
    uint64_t key, tie;
    uint32_t node;
} knn_ent;

static int cmp_ent(const void *x, const void *y)
{
    const knn_ent *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->tie != b->tie)
        return a->tie < b->tie ? -1 : 1;
    return (a->node > b->node) - (a->node < b->node);
}

/* Per band: nodes sorted by key (ties in a keyed random order), each
 * node's place, and its bucket's bounds. */
static bl_status bands_sort(knn_job *J)
{
    size_t n = J->in->n;
    knn_ent *t = malloc(n * sizeof *t);
    if (!t)
        return BL_ENOMEM;
    for (size_t b = 0; b < KNN_BANDS; b++) {
        uint32_t *o = J->order + b * n;
        for (size_t i = 0; i < n; i++)
            t[i] = (knn_ent){J->key[b * n + i], mix64(J->in->seed ^ 0x5bd1e995u ^ i), (uint32_t)i};
        qsort(t, n, sizeof *t, cmp_ent);
        for (size_t i = 0; i < n; i++)
            o[i] = t[i].node;
        for (size_t s = 0; s < n;) {
            size_t e = s + 1;
            while (e < n && t[e].key == t[s].key)
                e++;
            for (size_t u = s; u < e; u++) {
                J->place[b * n + o[u]] = (uint32_t)u;
                J->blo[b * n + o[u]] = (uint32_t)s;
                J->bhi[b * n + o[u]] = (uint32_t)e;
            }
            s = e;
        }
    }
    free(t);
    return BL_OK;
}

static void lsh_rows(void *ctx, size_t lo, size_t hi)
{
    const knn_job *J = ctx;
    size_t n = J->in->n;
    uint32_t *stamp = malloc(n * sizeof *stamp);
    if (!stamp)
        return; /* the node keeps no neighbours; the attack goes on */
    memset(stamp, 0xff, n * sizeof *stamp);
    for (size_t i = lo; i < hi; i++) {
        stamp[i] = (uint32_t)i;
        for (size_t b = 0; b < KNN_BANDS; b++) {
            const uint32_t *o = J->order + b * n;
            size_t p = J->place[b * n + i], s = J->blo[b * n + i], e = J->bhi[b * n + i];
            if (e - s > KNN_CAP) { /* the KNN_CAP nearest in the bucket's order */
                size_t a = p > s + KNN_CAP / 2 ? p - KNN_CAP / 2 : s;
                if (a + KNN_CAP > e)
                    a = e - KNN_CAP;
                s = a, e = a + KNN_CAP;
            }
            for (size_t t = s; t < e; t++)
                if (stamp[o[t]] != (uint32_t)i) {
                    stamp[o[t]] = (uint32_t)i;
                    visit(J, i, o[t]);
                }
        }
    }
    free(stamp);
}

int atk_knn_exact(size_t n)
{
    const char *e = getenv("BL_ATTACK_KNN");
    if (e && !strcmp(e, "lsh"))
        return 0;
    if (e && !strcmp(e, "exact"))
        return 1;
    return n <= ATK_KNN_EXACT_MAX;
}

bl_status atk_knn_build(const atk_knn_in *in, int threads, atk_knn *g)
{
    size_t n = in->n, k = in->k;
    memset(g, 0, sizeof *g);
    g->n = n;
    g->k = k;
    g->nb = malloc((n ? n : 1) * k * sizeof *g->nb);
    g->w = calloc((n ? n : 1) * k, sizeof *g->w);
    g->deg = calloc((n ? n : 1) * (in->nthr ? in->nthr : 1), sizeof *g->deg);
    if (!g->nb || !g->w || !g->deg)
        return BL_ENOMEM;
    memset(g->nb, 0xff, n * k * sizeof *g->nb);
    knn_job J = {.in = in, .out = g};
    if (!in->lsh || atk_knn_exact(n)) {
        atk_parallel(threads, n, exact_rows, &J);
        return BL_OK;
    }
    size_t nb = KNN_BANDS * n;
    J.order = malloc(nb * sizeof *J.order);
    J.place = malloc(nb * sizeof *J.place);
    J.blo = malloc(nb * sizeof *J.blo);
    J.bhi = malloc(nb * sizeof *J.bhi);
    J.key = malloc(nb * sizeof *J.key);
    bl_status st = BL_ENOMEM;
    if (J.order && J.place && J.blo && J.bhi && J.key) {
        atk_parallel(threads, n, sig_rows, &J);
        st = bands_sort(&J);
        if (st == BL_OK)
            atk_parallel(threads, n, lsh_rows, &J);
    }
    free(J.order);
    free(J.place);
    free(J.blo);
    free(J.bhi);
    free(J.key);
    return st;
}

void atk_knn_free(atk_knn *g)
{
    free(g->nb);
    free(g->w);
    free(g->deg);
    memset(g, 0, sizeof *g);
}
