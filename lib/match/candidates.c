/* lib/match/candidates.c - candidate generation with anonlink semantics:
 * every dataset pair compared exhaustively (or through blocking), Dice >=
 * threshold with exact popcount-bound pruning (B sorted by popcount so each
 * A record scans one contiguous range), cache tiling (chunks of A against
 * L2-sized tiles of B), all cores (pthreads, dynamic work queue), optional
 * top-k per record, a cap on candidates, and the final anonlink order. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <math.h>
#include "match/candrun.h"
#include "match/match_internal.h"

#define CHUNK_A 64      /* A records per work unit */
#define TILE_B 2048     /* B records per cache tile (256 KiB at 128 B) */

/* digit d (0 = least significant) of the anonlink order key: rec1, rec0,
 * dset1, dset0 ascending, then score descending (positive doubles order
 * like their bit patterns, so the complement sorts descending). */
static inline uint32_t sort_digit(const bl_candidate *c, int d)
{
    switch (d) {
    case 0: return c->rec[1] & 0xffff;
    case 1: return c->rec[1] >> 16;
    case 2: return c->rec[0] & 0xffff;
    case 3: return c->rec[0] >> 16;
    case 4: return c->dset[1] & 0xffff;
    case 5: return c->dset[0] & 0xffff;
    default: {
        uint64_t b;
        memcpy(&b, &c->score, 8);
        return (uint32_t)((~b >> (16 * (d - 6))) & 0xffff);
    }
    }
}

/* Sort candidates into anonlink order: LSD radix sort with 16-bit digits,
 * skipping digits that are the same for every candidate. */
static int sort_candidates(bl_candidate *c, size_t n)
{
    /* a list already in this order (the model re-sorts its candidates for
     * training) costs one pass instead of up to ten radix passes; the order
     * is total on (score, datasets, records), so the result is the same */
    size_t run = 1;
    while (run < n && bli_candidate_cmp(&c[run - 1], &c[run]) <= 0)
        run++;
    if (run >= n)
        return 0;
    if (n < 4096) {
        qsort(c, n, sizeof *c, bli_candidate_cmp);
        return 0;
    }
    size_t *cnt = calloc((size_t)10 * 65536, sizeof *cnt);
    bl_candidate *tmp = malloc(n * sizeof *tmp);
    if (!cnt || !tmp) {
        free(cnt);
        free(tmp);
        qsort(c, n, sizeof *c, bli_candidate_cmp); /* in place, no extra memory */
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 10; d++)
            cnt[(size_t)d * 65536 + sort_digit(&c[i], d)]++;
    bl_candidate *src = c, *dst = tmp;
    for (int d = 0; d < 10; d++) {
        size_t *h = cnt + (size_t)d * 65536;
        if (h[sort_digit(&src[0], d)] == n)
            continue; /* constant digit */
        size_t sum = 0;
        for (size_t v = 0; v < 65536; v++) {
            size_t t = h[v];
            h[v] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[h[sort_digit(&src[i], d)]++] = src[i];
        bl_candidate *sw = src;
        src = dst;
        dst = sw;
    }
    if (src != c)
        memcpy(c, src, n * sizeof *c);
    free(cnt);
    free(tmp);
    return 0;
}

/* ---- exhaustive comparison of one dataset pair ---- */

typedef struct pairjob {
    uint32_t da, db;
    const bl_clkset *A, *B;
    uint32_t *aperm;  /* A sorted by popcount: sorted position -> original index */
    uint32_t *apop;   /* popcount by sorted A position */
    uint8_t *bdata;   /* B filters sorted by popcount, interleaved by 8 (aligned) */
    size_t nw;        /* 64-bit words per filter */
    uint32_t *bperm;  /* sorted position -> original index */
    uint32_t *bpop;   /* popcount by sorted position */
    size_t *bstart;   /* bstart[p] = first sorted position with popcount >= p, p in 0..nbits+1 */
    size_t nunits;    /* A chunks */
} pairjob;

typedef struct heapent {
    double score;
    uint32_t idx; /* original B index */
} heapent;

/* "worse" in anonlink's top-k: lower score, or equal score and higher index */
static int worse(const heapent *x, const heapent *y)
{
    return x->score < y->score || (x->score == y->score && x->idx > y->idx);
}

/* max-heap on "worse": root is the worst kept entry */
static void heap_push(heapent *h, size_t *n, size_t k, heapent e)
{
    if (*n == k) {
        if (!worse(&h[0], &e))
            return; /* e is not better than the worst kept */
        /* replace root, sift down */
        size_t i = 0;
        h[0] = e;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < *n && worse(&h[l], &h[m]))
                m = l;
            if (r < *n && worse(&h[r], &h[m]))
                m = r;
            if (m == i)
                break;
            heapent t = h[i];
            h[i] = h[m];
            h[m] = t;
            i = m;
        }
        return;
    }
    size_t i = (*n)++;
    h[i] = e;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!worse(&h[i], &h[p]))
            break;
        heapent t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

typedef struct exctx {
    bl_candrun *run;
    pairjob *jobs;
    size_t njobs;
    size_t totalunits;
    atomic_size_t next;
    uint32_t topk; /* 0 = unlimited */
} exctx;

typedef struct worker {
    exctx *x;
    bl_candbuf *buf;
} worker;

/* Range of B popcounts that can reach the threshold against popcount a:
 * feasible iff cmin[a+b] <= min(a, b) (contiguous in b). */
static void feasible_range(const uint32_t *cmin, uint32_t nbits, uint32_t a, uint32_t *lo,
                           uint32_t *hi)
{
    /* lower part b <= a: feasibility increases with b; binary search first feasible */
    uint32_t L = 0, H = a + 1; /* search in [0, a]; H = a+1 means none */
    while (L < H) {
        uint32_t m = L + (H - L) / 2;
        if (cmin[a + m] <= m)
            H = m;
        else
            L = m + 1;
    }
    if (L > a) {
        *lo = 1;
        *hi = 0;
        return;
    }
    *lo = L;
    /* upper part b >= a: feasibility decreases with b; last feasible */
    uint32_t L2 = a, H2 = nbits; /* largest b in [a, nbits] with cmin[a+b] <= a */
    while (L2 < H2) {
        uint32_t m = L2 + (H2 - L2 + 1) / 2;
        if (cmin[a + m] <= a)
            L2 = m;
        else
            H2 = m - 1;
    }
    *hi = L2;
}

static void *exhaustive_worker(void *arg)
{
    worker *w = arg;
    exctx *x = w->x;
    bl_candrun *run = x->run;
    const bl_kernel *k = run->k;
    const uint32_t *cmin = run->cmin;
    const size_t cap = (size_t)BL_IL_ROWS * (TILE_B + 8);
    uint32_t *cnt = malloc(cap * sizeof *cnt);
    uint32_t *sidx = malloc(cap * sizeof *sidx);
    uint8_t *srow = malloc(cap);
    const float tf = bli_threshold_float(run->threshold);
    heapent *heaps = NULL;
    size_t *hn = NULL;
    uint32_t hk = 0;
    if (!cnt || !sidx || !srow) {
        free(cnt);
        free(sidx);
        free(srow);
        atomic_store(&run->failed, 2);
        return NULL;
    }
    for (;;) {
        if (atomic_load_explicit(&run->failed, memory_order_relaxed))
            break;
        size_t u = atomic_fetch_add(&x->next, 1);
        if (u >= x->totalunits)
            break;
        /* locate job */
        size_t j = 0;
        while (u >= x->jobs[j].nunits) {
            u -= x->jobs[j].nunits;
            j++;
        }
        pairjob *pj = &x->jobs[j];
        size_t a0 = u * CHUNK_A, a1 = a0 + CHUNK_A;
        if (a1 > pj->A->count)
            a1 = pj->A->count;
        size_t na = a1 - a0;
        size_t nb = pj->B->count;
        if (x->topk) {
            uint32_t want = x->topk < nb ? x->topk : (uint32_t)(nb ? nb : 1);
            if (want > hk) {
                free(heaps);
                free(hn);
                heaps = malloc((size_t)CHUNK_A * want * sizeof *heaps);
                hn = malloc(CHUNK_A * sizeof *hn);
                hk = want;
                if (!heaps || !hn) {
                    atomic_store(&run->failed, 2);
                    break;
                }
            }
            memset(hn, 0, CHUNK_A * sizeof *hn);
        }
        /* per-A ranges in sorted B, and the union */
        size_t rlo[CHUNK_A], rhi[CHUNK_A];
        size_t ulo = SIZE_MAX, uhi = 0;
        for (size_t i = 0; i < na; i++) {
            uint32_t lo, hi;
            feasible_range(cmin, run->nbits, pj->apop[a0 + i], &lo, &hi);
            if (lo > hi) {
                rlo[i] = rhi[i] = 0;
                continue;
            }
            rlo[i] = pj->bstart[lo];
            rhi[i] = pj->bstart[hi + 1];
            if (rlo[i] < rhi[i]) {
                if (rlo[i] < ulo)
                    ulo = rlo[i];
                if (rhi[i] > uhi)
                    uhi = rhi[i];
            }
        }
        /* A is sorted by popcount, so BL_IL_ROWS neighbours have nearly the
         * same range: each group scans the union (exact cmin check below) */
        for (size_t t0 = ulo; ulo != SIZE_MAX && t0 < uhi; t0 += TILE_B) {
            size_t t1 = t0 + TILE_B < uhi ? t0 + TILE_B : uhi;
            for (size_t g = 0; g < na; g += BL_IL_ROWS) {
                size_t gn = na - g < BL_IL_ROWS ? na - g : BL_IL_ROWS;
                const uint64_t *ap[BL_IL_ROWS];
                uint32_t pav[BL_IL_ROWS];
                size_t s = SIZE_MAX, e = 0;
                for (size_t r = 0; r < BL_IL_ROWS; r++) {
                    size_t i = g + (r < gn ? r : gn - 1); /* short group: repeat the last row */
                    ap[r] = (const uint64_t *)(const void *)bl_clkset_get(pj->A, pj->aperm[a0 + i]);
                    pav[r] = pj->apop[a0 + i];
                    if (r < gn && rlo[i] < rhi[i]) {
                        s = rlo[i] < s ? rlo[i] : s;
                        e = rhi[i] > e ? rhi[i] : e;
                    }
                }
                s = s > t0 ? s : t0;
                e = e < t1 ? e : t1;
                if (s >= e)
                    continue;
                size_t nsurv = k->filter_il_rows(ap, pj->nw, pav,
                                                 (const uint64_t *)(const void *)pj->bdata, s, e,
                                                 pj->bpop, tf, sidx, cnt, srow);
                for (size_t q = 0; q < nsurv; q++) {
                    if (srow[q] >= gn)
                        continue;
                    size_t i = g + srow[q];
                    uint32_t c = cnt[q], pa = pav[srow[q]], pb = pj->bpop[sidx[q]];
                    if (c < cmin[pa + pb])
                        continue;
                    double score = (double)(2u * c) / (double)(pa + pb);
                    uint32_t bi = pj->bperm[sidx[q]];
                    if (x->topk) {
                        heapent e2 = {score, bi};
                        heap_push(heaps + i * hk, &hn[i], hk, e2);
                    } else if (bli_candbuf_push(run, w->buf, score, pj->da, pj->aperm[a0 + i],
                                               pj->db, bi)) {
                        goto out;
                    }
                }
            }
        }
        if (x->topk) {
            for (size_t i = 0; i < na; i++)
                for (size_t q = 0; q < hn[i]; q++)
                    if (bli_candbuf_push(run, w->buf, heaps[i * hk + q].score, pj->da,
                                        pj->aperm[a0 + i], pj->db, heaps[i * hk + q].idx))
                        goto out;
        }
        bli_candrun_progress(run, (uint64_t)na * nb);
    }
out:
    free(cnt);
    free(sidx);
    free(srow);
    free(heaps);
    free(hn);
    return NULL;
}

static void pairjob_free(pairjob *p)
{
    free(p->aperm);
    free(p->apop);
    free(p->bdata);
    free(p->bperm);
    free(p->bpop);
    free(p->bstart);
}

/* Stable counting sort of n records by popcount: perm[sorted] = original;
 * start (nbits+2 entries, may be NULL) gets the first sorted position of
 * each popcount. Returns 0, or -1 out of memory. */
static int sort_by_pop(const uint32_t *pop, size_t n, uint32_t nbits, uint32_t *perm,
                       size_t *start)
{
    size_t *hist = calloc((size_t)nbits + 2, sizeof *hist);
    if (!hist)
        return -1;
    for (size_t i = 0; i < n; i++)
        hist[pop[i] + 1]++;
    for (size_t v = 1; v <= (size_t)nbits + 1; v++)
        hist[v] += hist[v - 1];
    if (start)
        memcpy(start, hist, ((size_t)nbits + 2) * sizeof *hist);
    for (size_t i = 0; i < n; i++)
        perm[hist[pop[i]]++] = (uint32_t)i;
    free(hist);
    return 0;
}

static bl_status pairjob_init(pairjob *p, const bl_kernel *k, const bl_clkset *A,
                              const bl_clkset *B, uint32_t da, uint32_t db, size_t nbytes,
                              uint32_t nbits, bl_error *err)
{
    memset(p, 0, sizeof *p);
    p->da = da;
    p->db = db;
    p->A = A;
    p->B = B;
    p->nunits = (A->count + CHUNK_A - 1) / CHUNK_A;
    uint32_t *ap = bli_set_popcounts(k, A, nbytes);
    uint32_t *bp = bli_set_popcounts(k, B, nbytes);
    size_t nb = B->count;
    size_t nblk = (nb + 7) / 8 + 1, nw = nbytes / 8;
    p->nw = nw;
    p->aperm = malloc((A->count ? A->count : 1) * sizeof *p->aperm);
    p->apop = malloc((A->count ? A->count : 1) * sizeof *p->apop);
    p->bperm = malloc((nb ? nb : 1) * sizeof *p->bperm);
    p->bpop = calloc(nblk * 8, sizeof *p->bpop);
    p->bstart = malloc(((size_t)nbits + 2) * sizeof *p->bstart);
    if (posix_memalign((void **)&p->bdata, 64, nblk * 8 * nw * 8) != 0)
        p->bdata = NULL;
    else
        memset(p->bdata, 0, nblk * 8 * nw * 8);
    if (!ap || !bp || !p->aperm || !p->apop || !p->bperm || !p->bpop || !p->bstart ||
        !p->bdata || sort_by_pop(ap, A->count, nbits, p->aperm, NULL) ||
        sort_by_pop(bp, nb, nbits, p->bperm, p->bstart)) {
        free(ap);
        free(bp);
        pairjob_free(p);
        return bl_error_set(err, BL_ENOMEM, "out of memory preparing %zu x %zu comparison",
                            A->count, nb);
    }
    for (size_t i = 0; i < A->count; i++)
        p->apop[i] = ap[p->aperm[i]];
    /* interleave: word w of sorted filter i at ((i/8)*nw + w)*8 + i%8 */
    for (size_t i = 0; i < nb; i++) {
        p->bpop[i] = bp[p->bperm[i]];
        const uint8_t *f = bl_clkset_get(B, p->bperm[i]);
        for (size_t w = 0; w < nw; w++)
            memcpy(p->bdata + (((i / 8) * nw + w) * 8 + i % 8) * 8, f + 8 * w, 8);
    }
    free(ap);
    free(bp);
    return BL_OK;
}

/* anonlink _enforce_k: keep a pair only while both records have at most k
 * pairs per dataset pair; counters grow even for rejected pairs. */
static bl_status enforce_k(const bl_clkset *const *sets, size_t nsets, bl_candidate *c,
                           size_t *n, uint32_t k, bl_error *err)
{
    /* counter index: ordered dataset pair (x, y) counts records of y */
    size_t *base = calloc(nsets * nsets + 1, sizeof *base);
    if (!base)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    size_t tot = 0;
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = 0; y < nsets; y++) {
            base[x * nsets + y] = tot;
            if (x != y)
                tot += sets[y]->count;
        }
    uint32_t *cnt = calloc(tot ? tot : 1, sizeof *cnt);
    if (!cnt) {
        free(base);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < *n; i++) {
        uint32_t d0 = c[i].dset[0], d1 = c[i].dset[1];
        uint32_t *k0 = &cnt[base[d0 * nsets + d1] + c[i].rec[1]];
        uint32_t *k1 = &cnt[base[d1 * nsets + d0] + c[i].rec[0]];
        if (*k0 < UINT32_MAX)
            (*k0)++;
        if (*k1 < UINT32_MAX)
            (*k1)++;
        if (*k0 <= k && *k1 <= k)
            c[o++] = c[i];
    }
    *n = o;
    free(cnt);
    free(base);
    return BL_OK;
}

/* Per-A-record top-k over already generated candidates (blocked path). */
static void topk_one_sided(bl_candidate *c, size_t *n, const bl_clkset *const *sets, size_t nsets,
                           uint32_t k, uint32_t *scratch_counts_unused)
{
    (void)scratch_counts_unused;
    /* c is sorted in anonlink order; the first k of each (d0, d1, rec0) are its best k */
    size_t tot = 0;
    size_t *base = calloc(nsets * nsets + 1, sizeof *base);
    if (!base)
        return;
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = 0; y < nsets; y++) {
            base[x * nsets + y] = tot;
            if (x < y)
                tot += sets[x]->count;
        }
    uint32_t *cnt = calloc(tot ? tot : 1, sizeof *cnt);
    if (!cnt) {
        free(base);
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < *n; i++) {
        uint32_t *q = &cnt[base[c[i].dset[0] * nsets + c[i].dset[1]] + c[i].rec[0]];
        if (++*q <= k)
            c[o++] = c[i];
    }
    *n = o;
    free(cnt);
    free(base);
}

static bl_status validate(const bl_clkset *const *sets, size_t nsets, const bl_match_opts *o,
                          bl_error *err)
{
    if (!sets || nsets < 2)
        return bl_error_set(err, BL_EINVAL, "matching needs at least two datasets (got %zu)",
                            sets ? nsets : 0);
    if (nsets > 4096)
        return bl_error_set(err, BL_EINVAL, "too many datasets (%zu, at most 4096)", nsets);
    if (!o || !(o->threshold > 0.0 && o->threshold <= 1.0))
        return bl_error_set(err, BL_EINVAL, "threshold must be in (0, 1] (got %g)",
                            o ? o->threshold : 0.0);
    for (size_t i = 0; i < nsets; i++) {
        if (!sets[i])
            return bl_error_set(err, BL_EINVAL, "dataset %zu is missing", i);
        if (sets[i]->count > UINT32_MAX)
            return bl_error_set(err, BL_ELIMIT, "dataset %zu has %zu records (at most %u)", i,
                                sets[i]->count, UINT32_MAX);
        if (sets[i]->nbits != sets[0]->nbits)
            return bl_error_set(err, BL_EINPUT,
                                "dataset %zu has %u-bit filters but dataset 0 has %u-bit filters",
                                i, sets[i]->nbits, sets[0]->nbits);
        if (sets[i]->has_fingerprint && sets[0]->has_fingerprint &&
            memcmp(sets[i]->fingerprint, sets[0]->fingerprint, BL_FINGERPRINT_BYTES) != 0)
            return bl_error_set(err, BL_EINPUT,
                                "dataset %zu was encoded with a different schema or options "
                                "(fingerprint differs from dataset 0)",
                                i);
    }
    if (o->blocking && o->blocking->kind == 1 && o->blocking->nbits != sets[0]->nbits)
        return bl_error_set(err, BL_EINVAL, "LSH blocking built for %u bits, filters have %u",
                            o->blocking->nbits, sets[0]->nbits);
    if (o->blocking && o->blocking->kind == 2) {
        if (o->blocking->ndsets != nsets)
            return bl_error_set(err, BL_EINPUT, "%zu block files for %zu datasets",
                                o->blocking->ndsets, nsets);
        for (size_t i = 0; i < nsets; i++)
            if (o->blocking->nrecs[i] != sets[i]->count)
                return bl_error_set(err, BL_EINPUT,
                                    "block file %zu covers %zu records but dataset %zu has %zu",
                                    i, o->blocking->nrecs[i], i, sets[i]->count);
    }
    return BL_OK;
}

static bl_status collect(bl_candrun *run, bl_candbuf *bufs, int nt, bl_candidate **out,
                         size_t *count, bl_error *err)
{
    size_t tot = 0;
    for (int t = 0; t < nt; t++)
        tot += bufs[t].n;
    bl_candidate *all = malloc((tot ? tot : 1) * sizeof *all);
    if (!all)
        return bl_error_set(err, BL_ENOMEM, "out of memory collecting %zu candidates", tot);
    size_t o = 0;
    for (int t = 0; t < nt; t++) {
        if (bufs[t].n)
            memcpy(all + o, bufs[t].v, bufs[t].n * sizeof *all);
        o += bufs[t].n;
        free(bufs[t].v);
        bufs[t].v = NULL;
    }
    /* every stored candidate was counted against the cap, so the buffers
     * never hold more than the run stored */
    assert(tot <= atomic_load(&run->stored) && tot <= run->cap);
    (void)run; /* only the assertion reads it (NDEBUG builds) */
    sort_candidates(all, tot);
    *out = all;
    *count = tot;
    return BL_OK;
}

/* Run exhaustive_worker on nt threads (the caller's among them) over the
 * units of x; units left by threads that failed to start run here. */
static bl_status run_exhaustive(exctx *x, int nt, bl_candbuf *bufs, bl_error *err)
{
    if ((size_t)nt > x->totalunits)
        nt = x->totalunits ? (int)x->totalunits : 1;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    worker *ws = calloc((size_t)nt, sizeof *ws);
    char *created = calloc((size_t)nt, 1);
    bl_status st = BL_OK;
    if (!th || !ws) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    } else {
        for (int t = 0; t < nt; t++) {
            ws[t].x = x;
            ws[t].buf = &bufs[t];
            if (t > 0 && created && pthread_create(&th[t], NULL, exhaustive_worker, &ws[t]) == 0)
                created[t] = 1;
        }
        exhaustive_worker(&ws[0]);
        for (int t = 1; t < nt; t++)
            if (created && created[t])
                pthread_join(th[t], NULL);
    }
    free(created);
    free(th);
    free(ws);
    return st;
}

/* Every dataset pair compared in full (with popcount pruning): one pairjob
 * per pair, B sorted by popcount. */
static bl_status exhaustive_candidates(bl_candrun *run, const bl_clkset *const *sets, size_t nsets,
                                       int nt, bl_candbuf *bufs, bl_error *err)
{
    size_t njobs = nsets * (nsets - 1) / 2;
    pairjob *jobs = calloc(njobs, sizeof *jobs);
    bl_status st = jobs ? BL_OK : bl_error_set(err, BL_ENOMEM, "out of memory");
    size_t j = 0;
    for (size_t a = 0; !st && a < nsets; a++)
        for (size_t b = a + 1; !st && b < nsets; b++) {
            st = pairjob_init(&jobs[j], run->k, sets[a], sets[b], (uint32_t)a, (uint32_t)b,
                              run->nbytes, run->nbits, err);
            if (!st) {
                run->total += (uint64_t)sets[a]->count * sets[b]->count;
                j++;
            }
        }
    if (!st) {
        assert(j == njobs);
        exctx x;
        memset(&x, 0, sizeof x);
        x.run = run;
        x.jobs = jobs;
        x.njobs = njobs;
        for (size_t i = 0; i < njobs; i++)
            x.totalunits += jobs[i].nunits;
        atomic_init(&x.next, 0);
        x.topk = run->opts->top_k;
        st = run_exhaustive(&x, nt, bufs, err);
    }
    for (size_t i = 0; i < j; i++)
        pairjob_free(&jobs[i]);
    free(jobs);
    return st;
}

bl_status bl_match_candidates(const bl_clkset *const *sets, size_t nsets,
                              const bl_match_opts *opts, bl_candidate **out, size_t *count,
                              bl_error *err)
{
    if (!out || !count)
        return bl_error_set(err, BL_EINVAL, "NULL output");
    *out = NULL;
    *count = 0;
    bl_status st = validate(sets, nsets, opts, err);
    if (st)
        return st;
    bl_candrun run;
    memset(&run, 0, sizeof run);
    run.k = bli_kernel_active();
    run.threshold = opts->threshold;
    run.nbits = sets[0]->nbits;
    /* filters are zero padded to the stride: compare whole 64-byte blocks */
    run.nbytes = ((size_t)sets[0]->nbytes + 63) / 64 * 64;
    run.cap = opts->max_candidates ? opts->max_candidates : BL_MATCH_DEFAULT_MAX_CANDIDATES;
    run.opts = opts;
    atomic_init(&run.stored, 0);
    atomic_init(&run.failed, 0);
    atomic_init(&run.done, 0);
    run.cmin = bli_dice_cmin_table(run.nbits, opts->threshold);
    if (!run.cmin)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    int nt = bli_match_threads(opts->threads);
    bl_candbuf *bufs = calloc((size_t)nt, sizeof *bufs);
    if (!bufs) {
        free((void *)run.cmin);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }

    if (opts->blocking) {
        st = bli_blocked_candidates(&run, sets, nsets, opts->blocking, nt, bufs, err);
    } else {
        st = exhaustive_candidates(&run, sets, nsets, nt, bufs, err);
    }
    free((void *)run.cmin);
    if (!st && atomic_load(&run.failed) == 1)
        st = bl_error_set(err, BL_ELIMIT,
                          "more than %zu candidate pairs at threshold %g: raise the threshold, "
                          "use --top-k, or raise --max-candidates",
                          run.cap, opts->threshold);
    else if (!st && atomic_load(&run.failed) == 2)
        st = bl_error_set(err, BL_ENOMEM, "out of memory storing candidate pairs");
    if (st) {
        for (int t = 0; t < bli_match_threads(opts->threads); t++)
            free(bufs[t].v);
        free(bufs);
        return st;
    }
    st = collect(&run, bufs, bli_match_threads(opts->threads), out, count, err);
    free(bufs);
    if (st)
        return st;
    if (opts->top_k) {
        if (opts->blocking)
            topk_one_sided(*out, count, sets, nsets, opts->top_k, NULL);
        if (!opts->top_k_one_sided)
            st = enforce_k(sets, nsets, *out, count, opts->top_k, err);
        if (st) {
            free(*out);
            *out = NULL;
            *count = 0;
        }
    }
    return st;
}

void bli_candidates_topk_one_sided(bl_candidate *c, size_t *n, const bl_clkset *const *sets,
                                   size_t nsets, uint32_t k)
{
    topk_one_sided(c, n, sets, nsets, k, NULL);
}

void bl_candidates_sort(bl_candidate *c, size_t n)
{
    sort_candidates(c, n);
}

/* A record's best k pairs so far (best_k), best first: score and index
 * (16 bytes: a record's slots share a cache line; the list is read again
 * only to break a tie of scores). */
typedef struct bestslot {
    double score;
    uint32_t idx, pad;
} bestslot;

static int best_before(const bl_candidate *c, size_t i, const bestslot *s)
{
    if (c[i].score != s->score)
        return c[i].score > s->score;
    return bli_candidate_cmp(&c[i], &c[s->idx]) < 0;
}

static void best_insert(bestslot *s, uint32_t k, const bl_candidate *c, size_t i)
{
    if (s[k - 1].idx != UINT32_MAX && !best_before(c, i, &s[k - 1]))
        return;
    uint32_t j = k - 1;
    while (j > 0 && (s[j - 1].idx == UINT32_MAX || best_before(c, i, &s[j - 1]))) {
        s[j] = s[j - 1];
        j--;
    }
    s[j] = (bestslot){c[i].score, (uint32_t)i, 0};
}

typedef struct bestjob {
    const bl_candidate *c;
    size_t n;
    const size_t *base;
    size_t nsets;
    bestslot *s;
    uint32_t k;
    int side; /* 0: the second record's slots, 1: the first's */
} bestjob;

static void *best_worker(void *arg)
{
    const bestjob *j = arg;
    const bl_candidate *c = j->c;
    for (size_t i = 0; i < j->n; i++) {
        const uint32_t d0 = c[i].dset[0], d1 = c[i].dset[1];
        const size_t at = j->side ? j->base[d1 * j->nsets + d0] + c[i].rec[0]
                                  : j->base[d0 * j->nsets + d1] + c[i].rec[1];
        best_insert(j->s + at * j->k, j->k, c, i);
    }
    return NULL;
}

/* What enforce_k keeps of the sorted list (a pair among the k best of
 * both its records, per dataset pair) from a list in any order, without
 * sorting it: one pass keeps each record's k best, the pairs in both of
 * theirs are copied in list order and sorted. For the model, whose
 * candidates come in block order, it replaces a sort of every candidate
 * (1M x 1M: 26.6M pairs) by one of the training pairs. */
bl_status bl_candidates_best_k(const bl_clkset *const *sets, size_t nsets, const bl_candidate *c,
                               size_t n, uint32_t k, int threads, bl_candidate **out, size_t *nout,
                               bl_error *err)
{
    *out = NULL;
    *nout = 0;
    assert(k > 0 && n < UINT32_MAX);
    size_t *base = calloc(nsets * nsets + 1, sizeof *base), tot = 0;
    if (!base)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = 0; y < nsets; y++) {
            base[x * nsets + y] = tot;
            if (x != y)
                tot += sets[y]->count;
        }
    bestslot *s = malloc((tot ? tot : 1) * k * sizeof *s);
    uint8_t *in = calloc(n ? n : 1, 1);
    if (!s || !in) {
        free(base);
        free(s);
        free(in);
        return bl_error_set(err, BL_ENOMEM, "out of memory for the best %u pairs per record", k);
    }
    for (size_t i = 0; i < tot * k; i++)
        s[i].idx = UINT32_MAX;
    /* each side of the pairs on a thread of its own (their slots are
     * apart: a pair's two records count in different dataset pairs) */
    bestjob jobs[2];
    for (int side = 0; side < 2; side++)
        jobs[side] = (bestjob){c, n, base, nsets, s, k, side};
    if (bli_match_threads(threads) > 1) {
        bli_par_run(best_worker, jobs, sizeof *jobs, 2);
    } else {
        best_worker(&jobs[0]);
        best_worker(&jobs[1]);
    }
    size_t m = 0;
    for (size_t i = 0; i < tot * k; i++)
        if (s[i].idx != UINT32_MAX && ++in[s[i].idx] == 2)
            m++;
    free(s);
    free(base);
    bl_candidate *v = malloc((m ? m : 1) * sizeof *v);
    if (!v) {
        free(in);
        return bl_error_set(err, BL_ENOMEM, "out of memory for %zu pairs", m);
    }
    for (size_t i = 0, o = 0; i < n; i++)
        if (in[i] == 2)
            v[o++] = c[i];
    free(in);
    sort_candidates(v, m);
    *out = v;
    *nout = m;
    return BL_OK;
}

bl_status bl_candidates_enforce_k(const bl_clkset *const *sets, size_t nsets, bl_candidate *c,
                                  size_t *n, uint32_t k, bl_error *err)
{
    return enforce_k(sets, nsets, c, n, k, err);
}
