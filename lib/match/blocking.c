/* lib/match/blocking.c - blocking for scale. Keyed LSH (Hamming bit
 * sampling: `tables` tables of `bits` sampled positions; the positions are
 * derived from a secret key with keyed BLAKE2b, so block keys are useless to
 * anyone without the key) and blocked candidate generation over LSH tables
 * or external block lists (read by blockfile.c; LSH parameters chosen by
 * lsh_plan.c). Records sharing a block are compared with the same kernels;
 * each pair is emitted once (by the first table/block it shares). Called by
 * candidates.c; calls candrun.c and the kernels. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sodium.h>
#include <math.h>
#include "match/match_internal.h"

#define UNIT_A BLI_BLOCK_UNIT

bl_status bl_blocking_new_lsh(uint32_t nbits, uint32_t tables, uint32_t bits,
                              const uint8_t *key, size_t keylen, bl_blocking **out,
                              bl_error *err)
{
    if (!out)
        return bl_error_set(err, BL_EINVAL, "NULL output");
    *out = NULL;
    if (nbits == 0 || nbits > BL_CLK_MAX_BITS)
        return bl_error_set(err, BL_EINVAL, "LSH: filter length %u out of range", nbits);
    if (tables == 0 || tables > 1024)
        return bl_error_set(err, BL_EINVAL, "LSH: tables must be in 1..1024 (got %u)", tables);
    if (bits == 0 || bits > 32 || bits > nbits)
        return bl_error_set(err, BL_EINVAL, "LSH: bits per table must be in 1..min(32, %u) (got %u)",
                            nbits, bits);
    if (!key || keylen == 0)
        return bl_error_set(err, BL_EINVAL, "LSH: a non-empty secret key is required");
    bl_status st = bl_init();
    if (st)
        return bl_error_set(err, st, "libsodium failed to initialise");
    bl_blocking *b = calloc(1, sizeof *b);
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    b->kind = 1;
    b->nbits = nbits;
    b->tables = tables;
    b->bits = bits;
    b->pos = malloc((size_t)tables * bits * sizeof *b->pos);
    if (!b->pos) {
        free(b);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    /* k = BLAKE2b-256(key) so any key length works; positions = keyed
     * BLAKE2b(k, "blindlink-lsh-v1" | nbits | tables | bits | counter) words,
     * rejection-sampled into [0, nbits), distinct within a table. */
    unsigned char k[32];
    crypto_generichash(k, sizeof k, key, keylen, NULL, 0);
    uint64_t ctr = 0;
    uint32_t lim = (uint32_t)(UINT32_MAX - (UINT32_MAX % nbits + 1) % nbits);
    for (uint32_t t = 0; t < tables; t++) {
        for (uint32_t i = 0; i < bits;) {
            unsigned char msg[16 + 4 * 3 + 8], h[32];
            memcpy(msg, "blindlink-lsh-v1", 16);
            bli_store_le32(msg + 16, nbits);
            bli_store_le32(msg + 20, tables);
            bli_store_le32(msg + 24, bits);
            bli_store_le64(msg + 28, ctr++);
            crypto_generichash(h, sizeof h, msg, sizeof msg, k, sizeof k);
            for (int w = 0; w < 8 && i < bits; w++) {
                uint32_t v = bli_load_le32(h + 4 * w);
                if (v > lim)
                    continue;
                uint32_t p = v % nbits;
                int dup = 0;
                for (uint32_t q = 0; q < i; q++)
                    dup |= b->pos[t * bits + q] == p;
                if (!dup)
                    b->pos[t * bits + i++] = p;
            }
            sodium_memzero(h, sizeof h);
        }
    }
    sodium_memzero(k, sizeof k);
    /* position bitmaps in the filters' byte layout, for fast "collided in
     * table t?" tests: keys agree iff (f0 XOR f1) AND mask_t == 0 */
    b->mw = ((size_t)nbits + 63) / 64;
    b->masks = calloc((size_t)tables * b->mw, sizeof *b->masks);
    if (!b->masks) {
        bl_blocking_free(b);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    for (uint32_t t = 0; t < tables; t++) {
        uint8_t *mb = (uint8_t *)(b->masks + (size_t)t * b->mw);
        for (uint32_t i = 0; i < bits; i++) {
            uint32_t p = b->pos[t * bits + i];
            mb[p >> 3] |= (uint8_t)(0x80u >> (p & 7));
        }
    }
    *out = b;
    return BL_OK;
}

void bl_blocking_free(bl_blocking *b)
{
    if (!b)
        return;
    free(b->pos);
    free(b->masks);
    for (size_t i = 0; i < b->ndsets; i++) {
        if (b->off)
            free(b->off[i]);
        if (b->ids)
            free(b->ids[i]);
    }
    free(b->off);
    free(b->ids);
    free(b->nrecs);
    free(b);
}

uint64_t bli_lsh_key(const bl_blocking *b, uint32_t t, const uint8_t *f)
{
    assert(b->kind == 1 && t < b->tables && b->bits <= 64); /* keys are u64 */
    const uint32_t *p = b->pos + (size_t)t * b->bits;
    uint64_t key = 0;
    for (uint32_t i = 0; i < b->bits; i++)
        key = key << 1 | ((f[p[i] >> 3] >> (7 - (p[i] & 7))) & 1u);
    return key;
}

/* ---- blocked candidate generation ---- */

typedef struct lshround {
    uint64_t *e;     /* sorted (key << 32 | global index) */
    size_t n;
    size_t *units;   /* (bucket start, bucket end, a-range start) triples */
    size_t nunits;
} lshround;

typedef struct bctx {
    bl_candrun *run;
    const bl_blocking *b;
    const bl_clkset *const *sets;
    size_t nsets;
    size_t *goff;      /* nsets+1 global offsets */
    uint32_t *pop;     /* popcount per global index */
    uint32_t t;        /* current table (LSH) */
    lshround *r;
    atomic_size_t next;
    int count_only;
    atomic_uint_least64_t compared;
    atomic_uint_least64_t distinct; /* count_only: pairs met for the first time */
    uint32_t *keys; /* count_only, LSH: every record's key per table (or NULL) */
} bctx;

static inline uint32_t gdset(const bctx *c, uint32_t g)
{
    assert(g < c->goff[c->nsets]); /* a global index names a record of some set */
    uint32_t d = 0;
    while (g >= c->goff[d + 1])
        d++;
    return d;
}

static inline const uint8_t *gfilter(const bctx *c, uint32_t g, uint32_t *d, uint32_t *rec)
{
    uint32_t dd = gdset(c, g);
    *d = dd;
    *rec = (uint32_t)(g - c->goff[dd]);
    return bl_clkset_get(c->sets[dd], *rec);
}

/* True when (d0,r0)-(d1,r1) already met in an earlier table/block than the current. */
static int seen_before(const bctx *c, uint64_t cur_key, uint32_t d0, uint32_t r0, const uint8_t *f0,
                       uint32_t d1, uint32_t r1, const uint8_t *f1)
{
    const bl_blocking *b = c->b;
    if (b->kind == 1 && c->keys) {
        /* counting every colliding pair: compare the precomputed keys of
         * the earlier tables (branch-free blocks of 8) */
        const uint32_t *x = c->keys + (c->goff[d0] + r0) * (size_t)b->tables;
        const uint32_t *y = c->keys + (c->goff[d1] + r1) * (size_t)b->tables;
        uint32_t t = 0, n = c->t;
        for (; t + 8 <= n; t += 8) {
            int any = 0;
            for (uint32_t q = 0; q < 8; q++)
                any |= x[t + q] == y[t + q];
            if (any)
                return 1;
        }
        for (; t < n; t++)
            if (x[t] == y[t])
                return 1;
        return 0;
    }
    if (b->kind == 1) {
        /* filters are padded to 64-byte strides, so whole words can be read */
        uint64_t x[BL_CLK_MAX_BITS / 64 > 64 ? 64 : BL_CLK_MAX_BITS / 64];
        size_t mw = b->mw;
        if (mw > 64) { /* very long filters: compare keys directly */
            for (uint32_t t = 0; t < c->t; t++)
                if (bli_lsh_key(b, t, f0) == bli_lsh_key(b, t, f1))
                    return 1;
            return 0;
        }
        for (size_t w = 0; w < mw; w++) {
            uint64_t u, v;
            memcpy(&u, f0 + 8 * w, 8);
            memcpy(&v, f1 + 8 * w, 8);
            x[w] = u ^ v;
        }
        for (uint32_t t = 0; t < c->t; t++) {
            const uint64_t *m = b->masks + (size_t)t * mw;
            uint64_t acc = 0;
            for (size_t w = 0; w < mw; w++)
                acc |= x[w] & m[w];
            if (!acc)
                return 1;
        }
        return 0;
    }
    const uint32_t *x = b->ids[d0] + b->off[d0][r0], *xe = b->ids[d0] + b->off[d0][r0 + 1];
    const uint32_t *y = b->ids[d1] + b->off[d1][r1], *ye = b->ids[d1] + b->off[d1][r1 + 1];
    while (x < xe && y < ye && *x < cur_key && *y < cur_key) {
        if (*x == *y)
            return 1;
        if (*x < *y)
            x++;
        else
            y++;
    }
    return 0;
}

/* Units handed to a worker at a time: most buckets are tiny, and one
 * contended atomic per bucket would cost more than the bucket. */
#define UNIT_CHUNK 256
/* Units ahead whose members' filters and popcounts are prefetched: a
 * bucket's members are random records (a 2.5 GB filter array at 10M x
 * 10M), so every small bucket is otherwise a chain of cache misses. */
#define PF_UNITS 32
#define PF_MEMBERS 16

/* Prefetches the members of the buckets that start at units [pu, upto)
 * and returns upto (or pu when that is further). */
static size_t prefetch_units(const bctx *c, size_t pu, size_t upto)
{
    const size_t *un = c->r->units;
    for (; pu < upto; pu++) {
        if (un[3 * pu + 2] != un[3 * pu]) /* a later A range of a big bucket */
            continue;
        size_t bs = un[3 * pu], be = un[3 * pu + 1];
        if (be - bs > PF_MEMBERS)
            be = bs + PF_MEMBERS;
        for (size_t i = bs; i < be; i++) {
            uint32_t g = (uint32_t)c->r->e[i], d, r;
            const uint8_t *f = gfilter(c, g, &d, &r);
            __builtin_prefetch(f);
            __builtin_prefetch(f + 64);
            if (c->pop)
                __builtin_prefetch(c->pop + g);
        }
    }
    return pu;
}

typedef struct bworker {
    bctx *c;
    bl_candbuf *buf;
    size_t *bnd; /* nsets + 1 dataset boundaries (scratch) */
} bworker;

static void *bucket_worker(void *arg)
{
    bworker *w = arg;
    bctx *c = w->c;
    bl_candrun *run = c->run;
    const bl_kernel *k = run->k;
    size_t stride = c->sets[0]->stride;
    uint8_t *scratch = NULL;
    size_t scap = 0;
    uint32_t *cnt = malloc(16 * sizeof *cnt); /* >= 8 for in-place small buckets */
    uint64_t compared = 0, distinct = 0;
    size_t ubeg = 0, uend = 0, pu = 0;
    w->bnd = malloc((c->nsets + 1) * sizeof *w->bnd);
    if (!w->bnd || !cnt) {
        free(w->bnd);
        w->bnd = NULL;
        free(cnt);
        atomic_store(&run->failed, 2);
        return NULL;
    }
    for (;;) {
        if (atomic_load_explicit(&run->failed, memory_order_relaxed))
            break;
        if (ubeg == uend) {
            ubeg = atomic_fetch_add(&c->next, UNIT_CHUNK);
            if (ubeg >= c->r->nunits)
                break;
            uend = ubeg + UNIT_CHUNK < c->r->nunits ? ubeg + UNIT_CHUNK : c->r->nunits;
            pu = ubeg;
        }
        size_t u = ubeg++;
        pu = prefetch_units(c, pu, u + PF_UNITS < uend ? u + PF_UNITS : uend);
        size_t bs = c->r->units[3 * u], be = c->r->units[3 * u + 1], as = c->r->units[3 * u + 2];
        size_t ae = as + UNIT_A < be ? as + UNIT_A : be;
        uint64_t key = c->r->e[bs] >> 32;
        size_t m = be - bs;
        /* first member index of the dataset after each member's dataset */
        /* dataset boundaries inside the bucket (members are sorted by global
         * index, hence grouped by dataset): bnd[d] = first member of dataset >= d */
        size_t *bnd = w->bnd;
        size_t nb = c->nsets;
        for (size_t d = 0, i = bs; d <= nb; d++) {
            while (i < be && (d == nb || (uint32_t)c->r->e[i] < c->goff[d]))
                i++;
            bnd[d] = i;
        }
        size_t first_b = bnd[gdset(c, (uint32_t)c->r->e[as]) + 1];
        if (first_b < as + 1)
            first_b = as + 1;
        int gather = be - first_b > 8; /* small buckets: compare in place */
        if (!c->count_only && gather && first_b < be) {
            /* gather the members that the unit's A side is compared with */
            if (m > scap) {
                free(scratch);
                free(cnt);
                scap = m;
                if (posix_memalign((void **)&scratch, 64, scap * stride) != 0)
                    scratch = NULL;
                cnt = malloc(scap * sizeof *cnt);
                if (!scratch || !cnt) {
                    atomic_store(&run->failed, 2);
                    break;
                }
            }
            for (size_t i = first_b; i < be; i++) {
                uint32_t d, r;
                memcpy(scratch + (i - bs) * stride, gfilter(c, (uint32_t)c->r->e[i], &d, &r),
                       stride);
            }
        }
        for (size_t i = as; i < ae; i++) {
            uint32_t gi = (uint32_t)c->r->e[i];
            uint32_t d0, r0;
            const uint8_t *f0 = gfilter(c, gi, &d0, &r0);
            /* members of later datasets start at the next dataset boundary */
            size_t j0 = d0 + 1 <= nb ? bnd[d0 + 1] : be;
            if (j0 < i + 1)
                j0 = i + 1;
            if (j0 >= be)
                continue;
            compared += be - j0;
            if (c->count_only) {
                /* distinct pairs: a pair counts in the first table/block
                 * where it collides */
                for (size_t j = j0; j < be; j++) {
                    uint32_t d1, r1;
                    const uint8_t *f1 = gfilter(c, (uint32_t)c->r->e[j], &d1, &r1);
                    if (!seen_before(c, key, d0, r0, f0, d1, r1, f1))
                        distinct++;
                }
                continue;
            }
            if (gather) {
                k->and_popcount_many(f0, scratch + (j0 - bs) * stride, stride, be - j0, run->nbytes,
                                     cnt);
            } else {
                /* most pairs of a small bucket are random collisions: the
                 * popcount bound min(pa, pb) >= cmin skips loading the
                 * filter of many (cnt 0 is below every cmin it meets) */
                uint32_t pa = c->pop[gi];
                for (size_t j = j0; j < be; j++) {
                    uint32_t dd, rr, gj = (uint32_t)c->r->e[j], pb = c->pop[gj];
                    if ((pa < pb ? pa : pb) < run->cmin[pa + pb]) {
                        cnt[j - j0] = 0;
                        continue;
                    }
                    cnt[j - j0] = k->and_popcount(f0, gfilter(c, gj, &dd, &rr), run->nbytes);
                }
            }
            uint32_t pa = c->pop[gi];
            for (size_t j = j0; j < be; j++) {
                uint32_t gj = (uint32_t)c->r->e[j];
                uint32_t pb = c->pop[gj], cc = cnt[j - j0];
                if (cc < run->cmin[pa + pb])
                    continue;
                uint32_t d1, r1;
                const uint8_t *f1 = gfilter(c, gj, &d1, &r1);
                if (seen_before(c, key, d0, r0, f0, d1, r1, f1))
                    continue;
                double score = (double)(2u * cc) / (double)(pa + pb);
                if (bli_candbuf_push(run, w->buf, score, d0, r0, d1, r1))
                    goto out;
            }
        }
    }
out:
    atomic_fetch_add(&c->compared, compared);
    atomic_fetch_add(&c->distinct, distinct);
    free(w->bnd);
    w->bnd = NULL;
    free(scratch);
    free(cnt);
    return NULL;
}

/* External blocks, distributed: 1 when this share compares rows of block
 * id in unit k (any unit: SIZE_MAX). The pieces of split blocks are few
 * (fewer split blocks than shares, at most one piece per share each), so
 * the list is searched in order. */
static int share_has(const bl_blocking *b, uint32_t id, size_t k)
{
    if (!b->bowner)
        return 1;
    if (b->bowner[id] != BLI_BLOCK_SPLIT)
        return b->bowner[id] == b->bpart;
    for (size_t i = 0; i < b->npieces; i++) {
        const uint32_t *t = b->bpieces + 3 * i;
        if (t[0] == id && (k == SIZE_MAX || (k >= t[1] && k < t[2])))
            return 1;
    }
    return 0;
}

/* With a distributed external blocking, keeps only the units of this
 * share (in order). */
static void share_units(lshround *r, const bl_blocking *b)
{
    size_t n = 0;
    for (size_t u = 0; u < r->nunits; u++) {
        size_t bs = r->units[3 * u], a = r->units[3 * u + 2];
        if (!share_has(b, (uint32_t)(r->e[bs] >> 32), (a - bs) / UNIT_A))
            continue;
        memmove(r->units + 3 * n, r->units + 3 * u, 3 * sizeof *r->units);
        n++;
    }
    r->nunits = n;
}

#define KEY_BATCH 8 /* tables whose keys are computed per pass over the filters */

typedef struct keyjob {
    bctx *c;
    uint64_t *e;      /* KEY_BATCH arrays of ntot entries */
    size_t ntot;
    uint32_t t0, nt;  /* tables t0 .. t0+nt-1 */
    size_t g0, g1;
} keyjob;

static void *key_worker(void *arg)
{
    keyjob *j = arg;
    for (size_t g = j->g0; g < j->g1; g++) {
        uint32_t d, r;
        const uint8_t *f = gfilter(j->c, (uint32_t)g, &d, &r);
        for (uint32_t q = 0; q < j->nt; q++)
            j->e[q * j->ntot + g] = bli_lsh_key(j->c->b, j->t0 + q, f) << 32 | g;
    }
    return NULL;
}

/* External blocks: (block id << 32 | global index) for every membership
 * of a block this share compares rows of (all without bowner), and a sort
 * buffer of the same size. -1 when out of memory. */
static int ext_entries(const bctx *c, uint64_t **ext, uint64_t **tmp, size_t *n)
{
    const bl_blocking *b = c->b;
    size_t tot = 0;
    for (size_t d = 0; d < c->nsets; d++)
        for (size_t q = 0; q < b->off[d][b->nrecs[d]]; q++)
            tot += share_has(b, b->ids[d][q], SIZE_MAX);
    *ext = malloc((tot ? tot : 1) * sizeof **ext);
    *tmp = malloc((tot ? tot : 1) * sizeof **tmp);
    if (!*ext || !*tmp)
        return -1;
    *n = 0;
    for (size_t d = 0; d < c->nsets; d++)
        for (size_t rec = 0; rec < b->nrecs[d]; rec++)
            for (size_t q = b->off[d][rec]; q < b->off[d][rec + 1]; q++) {
                uint32_t id = b->ids[d][q];
                if (share_has(b, id, SIZE_MAX))
                    (*ext)[(*n)++] = (uint64_t)id << 32 | (c->goff[d] + rec);
            }
    return 0;
}

static bl_status run_rounds(bctx *c, int nt, bl_candbuf *bufs, bl_error *err)
{
    const bl_blocking *b = c->b;
    size_t ntot = c->goff[c->nsets];
    uint32_t rounds = b->kind == 1 ? b->tables : 1;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    bworker *ws = calloc((size_t)nt, sizeof *ws);
    keyjob *kj = calloc((size_t)nt, sizeof *kj);
    char *created = calloc((size_t)nt, 1);
    lshround r;
    memset(&r, 0, sizeof r);
    bl_status st = BL_OK;
    uint64_t *batch = NULL, *tmp = NULL, *ext = NULL;
    if (!th || !ws || !kj || !created) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    uint32_t t_lo = b->kind == 1 ? b->t_lo : 0;
    if (b->kind == 1 && b->t_hi)
        rounds = b->t_hi;
    c->run->total = rounds - t_lo;
    for (uint32_t t = t_lo; t < rounds && !st; t++) {
        c->t = t;
        free(r.units);
        memset(&r, 0, sizeof r);
        uint32_t keybits;
        if (b->kind == 1) {
            uint32_t nb = rounds - t_lo < KEY_BATCH ? rounds - t_lo : KEY_BATCH;
            if (!batch) {
                batch = malloc((size_t)nb * (ntot ? ntot : 1) * sizeof *batch);
                tmp = malloc((ntot ? ntot : 1) * sizeof *tmp);
                if (!batch || !tmp) {
                    st = bl_error_set(err, BL_ENOMEM, "out of memory for LSH keys");
                    break;
                }
            }
            if ((t - t_lo) % nb == 0) { /* keys of the next tables, one pass over the filters */
                for (int i = 0; i < nt; i++) {
                    kj[i].c = c;
                    kj[i].e = batch;
                    kj[i].ntot = ntot;
                    kj[i].t0 = t;
                    kj[i].nt = rounds - t < nb ? rounds - t : nb;
                    kj[i].g0 = ntot * (size_t)i / (size_t)nt;
                    kj[i].g1 = ntot * (size_t)(i + 1) / (size_t)nt;
                    created[i] = i > 0 && pthread_create(&th[i], NULL, key_worker, &kj[i]) == 0;
                }
                key_worker(&kj[0]);
                for (int i = 1; i < nt; i++) {
                    if (created[i])
                        pthread_join(th[i], NULL);
                    else
                        key_worker(&kj[i]);
                }
            }
            r.n = ntot;
            r.e = batch + (size_t)((t - t_lo) % nb) * ntot;
            keybits = b->bits;
        } else {
            if (ext_entries(c, &ext, &tmp, &r.n)) {
                st = bl_error_set(err, BL_ENOMEM, "out of memory");
                break;
            }
            r.e = ext;
            keybits = 32;
        }
        if (bli_keys_sort(r.e, tmp, r.n, keybits, nt) ||
            bli_keys_units(r.e, r.n, UNIT_A, &r.units, &r.nunits, nt)) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory sorting blocks");
            break;
        }
        if (b->kind == 2 && b->bowner)
            share_units(&r, b);
        c->r = &r;
        atomic_store(&c->next, 0);
        for (int i = 0; i < nt; i++) {
            ws[i].c = c;
            ws[i].buf = &bufs[i];
            created[i] = i > 0 && pthread_create(&th[i], NULL, bucket_worker, &ws[i]) == 0;
        }
        bucket_worker(&ws[0]);
        for (int i = 1; i < nt; i++)
            if (created[i])
                pthread_join(th[i], NULL);
        if (atomic_load(&c->run->failed))
            break;
        bli_candrun_progress(c->run, 1);
    }
done:
    free(r.units);
    free(batch);
    free(tmp);
    free(ext);
    free(th);
    free(ws);
    free(kj);
    free(created);
    return st;
}

static bl_status bctx_init(bctx *c, const bl_kernel *k, const bl_blocking *b,
                           const bl_clkset *const *sets, size_t nsets, size_t nbytes, bl_error *err)
{
    memset(c, 0, sizeof *c);
    c->b = b;
    c->sets = sets;
    c->nsets = nsets;
    c->goff = calloc(nsets + 1, sizeof *c->goff);
    if (!c->goff)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t d = 0; d < nsets; d++)
        c->goff[d + 1] = c->goff[d] + sets[d]->count;
    if (c->goff[nsets] >= UINT32_MAX) {
        free(c->goff);
        return bl_error_set(err, BL_ELIMIT, "blocking supports fewer than 2^32 records in total");
    }
    if (k) {
        c->pop = malloc((c->goff[nsets] ? c->goff[nsets] : 1) * sizeof *c->pop);
        if (!c->pop) {
            free(c->goff);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        for (size_t d = 0; d < nsets; d++)
            for (size_t i = 0; i < sets[d]->count; i++)
                c->pop[c->goff[d] + i] = k->popcount(bl_clkset_get(sets[d], i), nbytes);
    }
    atomic_init(&c->next, 0);
    atomic_init(&c->compared, 0);
    atomic_init(&c->distinct, 0);
    return BL_OK;
}

bl_status bli_blocked_candidates(bl_candrun *run, const bl_clkset *const *sets, size_t nsets,
                                const bl_blocking *b, int nthreads, bl_candbuf *bufs,
                                bl_error *err)
{
    bctx c;
    bl_status st = bctx_init(&c, run->k, b, sets, nsets, run->nbytes, err);
    if (st)
        return st;
    c.run = run;
    st = run_rounds(&c, nthreads, bufs, err);
    free(c.goff);
    free(c.pop);
    return st;
}

bl_status bl_blocking_stats_compute(const bl_blocking *b, const bl_clkset *const *sets,
                                    size_t nsets, bl_blocking_stats *out, bl_error *err)
{
    if (!b || !sets || nsets < 2 || !out)
        return bl_error_set(err, BL_EINVAL, "blocking statistics need a blocking and 2+ datasets");
    memset(out, 0, sizeof *out);
    bctx c;
    bl_status st = bctx_init(&c, NULL, b, sets, nsets, 0, err);
    if (st)
        return st;
    bl_candrun run;
    memset(&run, 0, sizeof run);
    bl_match_opts o;
    memset(&o, 0, sizeof o);
    run.opts = &o;
    atomic_init(&run.failed, 0);
    atomic_init(&run.done, 0);
    c.run = &run;
    c.count_only = 1;
    /* keys of every record in every table, when they fit in 512 MiB: the
     * distinct-pair test then compares keys instead of filter bitmaps */
    size_t nrec = c.goff[nsets];
    if (b->kind == 1 && nrec && (size_t)b->tables <= ((size_t)512 << 20) / 4 / nrec) {
        c.keys = malloc(nrec * b->tables * sizeof *c.keys);
        if (c.keys)
            for (size_t d = 0; d < nsets; d++)
                for (size_t i = 0; i < sets[d]->count; i++) {
                    uint32_t *kk = c.keys + (c.goff[d] + i) * (size_t)b->tables;
                    const uint8_t *f = bl_clkset_get(sets[d], i);
                    for (uint32_t t = 0; t < b->tables; t++)
                        kk[t] = (uint32_t)bli_lsh_key(b, t, f);
                }
    }
    int nt = bli_match_threads(0);
    bl_candbuf *bufs = calloc((size_t)nt, sizeof *bufs);
    if (!bufs) {
        free(c.keys);
        free(c.goff);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    st = run_rounds(&c, nt, bufs, err);
    free(bufs);
    free(c.keys);
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = x + 1; y < nsets; y++)
            out->pairs_total += (uint64_t)sets[x]->count * sets[y]->count;
    out->comparisons = atomic_load(&c.compared);
    out->pairs_compared = atomic_load(&c.distinct);
    /* over distinct pairs, so within [0, 1]: repeated collisions of a pair
     * in several tables cost work (see comparisons) but reduce nothing */
    out->reduction_ratio =
        out->pairs_total ? 1.0 - (double)out->pairs_compared / (double)out->pairs_total : 0.0;
    if (out->reduction_ratio < 0)
        out->reduction_ratio = 0;
    free(c.goff);
    return st;
}

double bl_candidates_completeness(const bl_candidate *full, size_t nfull,
                                  const bl_candidate *blocked, size_t nblocked)
{
    if (nfull == 0)
        return 1.0;
    size_t i = 0, j = 0, hit = 0;
    while (i < nfull && j < nblocked) {
        int c = bli_candidate_cmp(&full[i], &blocked[j]);
        if (c == 0) {
            hit++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    return (double)hit / (double)nfull;
}

/* the (first dataset, record, second dataset) of a candidate and its place
 * in the list: a record's best pair with each other dataset is the first
 * of its key in anonlink order */
typedef struct bestkey {
    uint64_t key;
    size_t at;
} bestkey;

static int bestkey_cmp(const void *x, const void *y)
{
    const bestkey *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->at > b->at) - (a->at < b->at);
}

static int cand_cmp_void(const void *x, const void *y)
{
    return bli_candidate_cmp(x, y);
}

double bl_candidates_completeness_best(const bl_candidate *full, size_t nfull,
                                       const bl_candidate *blocked, size_t nblocked,
                                       size_t *nbest)
{
    if (nbest)
        *nbest = 0;
    if (nfull == 0)
        return 1.0;
    bestkey *k = malloc(nfull * sizeof *k);
    if (!k)
        return -1.0;
    for (size_t i = 0; i < nfull; i++) {
        assert(full[i].dset[0] < 1u << 16 && full[i].dset[1] < 1u << 16);
        k[i] = (bestkey){(uint64_t)full[i].dset[0] << 48 | (uint64_t)full[i].dset[1] << 32 |
                             full[i].rec[0], i};
    }
    qsort(k, nfull, sizeof *k, bestkey_cmp);
    size_t n = 0, hit = 0;
    for (size_t i = 0; i < nfull; i++) {
        if (i && k[i].key == k[i - 1].key)
            continue;
        n++;
        /* a tie for the record's top score: any of the tied pairs counts
         * (which one is "first" is only anonlink's tie-break); within a
         * key, places follow anonlink order, so the ties come first */
        double top = full[k[i].at].score;
        int found = 0;
        for (size_t j = i; j < nfull && k[j].key == k[i].key && !found; j++)
            found = full[k[j].at].score == top &&
                    bsearch(&full[k[j].at], blocked, nblocked, sizeof *blocked, cand_cmp_void);
        hit += (size_t)found;
    }
    free(k);
    if (nbest)
        *nbest = n;
    return (double)hit / (double)n;
}
