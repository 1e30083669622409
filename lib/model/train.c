/* lib/model/train.c - unsupervised training of the Fellegi-Sunter model:
 * per-record field statistics (popcounts, value frequencies), u from random
 * record pairs, and m and the prior by expectation maximisation over the
 * comparison patterns of the blocked candidate pairs.
 *
 * EM runs on distinct level patterns with their counts (a few thousand for
 * a million candidates), so each iteration costs patterns x fields, not
 * pairs x fields; computing the patterns is the only pass over the pairs and
 * runs on all cores. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model_internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Threads for a pass of `work` items: threads as asked (0: one per CPU),
 * one per `grain` items at most. */
static int pass_threads(int threads, uint64_t work, uint64_t grain)
{
    int nt = threads > 0 ? threads : bli_ncpus();
    if (nt > 64)
        nt = 64;
    if ((uint64_t)nt > work / grain + 1)
        nt = (int)(work / grain + 1);
    return nt;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Hash of a field filter for the value counts and the namesakes' name
 * keys: equal filters (equal values) hash equal. Two independent lanes,
 * each taking two words per 64 x 64 -> 128-bit multiply folded to 64 bits
 * (the multiply-fold of wyhash-like hashes): one multiply per 16 bytes
 * where four lanes of mix64 took two per 8 and were two thirds of the
 * statistics pass before scoring (1M x 1M: 0.22 of 0.27 s); a tail
 * under 32 bytes takes one per 8. Only equality matters here (values are
 * counted by hash), so the hash may change between versions without
 * changing a figure unless two values collide: their counts are then
 * pooled (both get the smaller adjustment). For keyed filter bytes that
 * is about V^2 / 2^64 for V distinct values of a field (2e-7 at 2M). The
 * hash has no key, and bytes chosen for it can collide on purpose (a word
 * equal to a lane's constant zeroes that lane), but only with other bytes
 * so chosen: a party can pool the counts of its own crafted records, not
 * reach another party's values without knowing their bytes. 0 is kept for
 * "no value". */
__extension__ typedef unsigned __int128 tf_u128;
static inline uint64_t tf_mum(uint64_t a, uint64_t b)
{
    const tf_u128 r = (tf_u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t value_hash(const uint8_t *p, size_t n)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ n, y = 0xC2B2AE3D27D4EB4FULL;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        x = tf_mum(x ^ w[0], 0x165667B19E3779F9ULL ^ w[1]);
        y = tf_mum(y ^ w[2], 0x27D4EB2F165667C5ULL ^ w[3]);
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        x = tf_mum(x ^ w, 0x165667B19E3779F9ULL);
    }
    for (; i < n; i++)
        x = mix64(x ^ p[i]);
    return mix64(x ^ mix64(y)) | 1;
}

/* A value's slot in the count table: its hash, its count and then its
 * adjustment, in one cache line access. */
typedef struct tfslot {
    uint64_t key;
    uint32_t cnt;
    float adj;
} tfslot;

typedef struct counter {
    tfslot *t;
    size_t cap;
} counter;

static size_t counter_home(const counter *c, uint64_t h)
{
    return (size_t)(h * 0x9E3779B97F4A7C15ULL >> 17) & (c->cap - 1);
}

static size_t counter_slot(counter *c, uint64_t h)
{
    size_t i = counter_home(c, h);
    while (c->t[i].key && c->t[i].key != h)
        i = (i + 1) & (c->cap - 1);
    c->t[i].key = h;
    return i;
}

void bl_setstats_free(bl_setstats *st, size_t nsets)
{
    if (!st)
        return;
    for (size_t d = 0; d < nsets; d++) {
        free(st[d].pop);
        free(st[d].tfadj);
    }
}

/* Term-frequency adjustment of field f: log2(u_exact / tf(value)), where
 * u_exact is the chance that two random records agree exactly (the average
 * of tf over pairs), so frequent values weigh less and rare ones more.
 * h: the field's hashes of every record (0 = empty field, phase 0 of
 * setstats_worker), replaced by their slots. Counts, then adjustments,
 * each a pass with the table rows a few records ahead prefetched: the
 * table is bigger than the caches and each record's row is a random
 * access. */
#define TF_AHEAD 16
static void tf_field(const bl_model *m, size_t f, const bl_clkset *const *sets, size_t nsets, bl_setstats *st,
                     counter *c, uint64_t *h, size_t total)
{
    const bl_field_model *fm = &m->f[f];
    if (!fm->tf) /* tfadj is zeroed already */
        return;
    memset(c->t, 0, c->cap * sizeof *c->t);
    uint64_t present = 0;
    for (size_t g = 0; g < total; g++)
        present += h[g] != 0;
    for (size_t g = 0; g < total; g++) {
        if (g + TF_AHEAD < total && h[g + TF_AHEAD])
            __builtin_prefetch(&c->t[counter_home(c, h[g + TF_AHEAD])], 1);
        if (h[g]) {
            const size_t i = counter_slot(c, h[g]);
            c->t[i].cnt++;
            h[g] = i + 1;
        }
    }
    const double ue = fm->u_random[0] > 1e-9 ? fm->u_random[0] : 1e-9;
    for (size_t i = 0; i < c->cap; i++)
        if (c->t[i].key) {
            double a = log2(ue / ((double)c->t[i].cnt / (double)present));
            /* a value seen once says little more than "rare"; cap both ways */
            c->t[i].adj = (float)(a > 6 ? 6 : a < -6 ? -6 : a);
        }
    for (size_t d = 0, g = 0; d < nsets; d++)
        for (size_t r = 0; r < sets[d]->count; r++, g++) {
            if (g + TF_AHEAD < total && h[g + TF_AHEAD])
                __builtin_prefetch(&c->t[h[g + TF_AHEAD] - 1]);
            st[d].tfadj[r * m->nf + f] = h[g] ? c->t[h[g] - 1].adj : 0.0f;
        }
}

/* One thread's part of the statistics: phase 0 the popcount rows of its
 * share of every set's records, phase 1 the tf of fields t, t + nt, ...
 * (a field is one thread's, so the figures do not depend on nt). */
typedef struct ssjob {
    const bl_model *m;
    const bl_clkset *const *sets;
    size_t nsets;
    bl_setstats *st;
    uint64_t total;
    uint64_t *h; /* the fields' value hashes, field f's of record g at [f * total + g] */
    int t, nt, phase, fail;
} ssjob;

static void *setstats_worker(void *arg)
{
    ssjob *j = arg;
    const bl_model *m = j->m;
    /* phase 0 reads each record once for all its fields (field by field,
     * records 768 bytes apart came from memory one line at a time: the tf
     * pass waited on those loads for 90% of its time) */
    if (j->phase == 0) {
        const bl_kernel *k = bli_kernel_active();
        for (size_t d = 0, g0 = 0; d < j->nsets; g0 += j->sets[d++]->count) {
            const bl_clkset *s = j->sets[d];
            const size_t lo = s->count * (size_t)j->t / (size_t)j->nt,
                         hi = s->count * (size_t)(j->t + 1) / (size_t)j->nt;
            for (size_t r = lo; r < hi; r++) {
                const uint8_t *rec = bl_clkset_get(s, r);
                for (size_t f = 0; f < m->nf; f++) {
                    const uint8_t *p = rec + m->f[f].offset / 8;
                    const size_t nb = (m->f[f].bits + 7) / 8;
                    const uint32_t pc = k->popcount(p, nb);
                    j->st[d].pop[r * m->nf + f] = pc;
                    if (j->h)
                        j->h[f * j->total + g0 + r] = pc && m->f[f].tf ? value_hash(p, nb) : 0;
                }
            }
        }
        return NULL;
    }
    if ((size_t)j->t >= m->nf)
        return NULL;
    counter c = {0};
    c.cap = 64;
    while (c.cap < 2 * j->total + 64)
        c.cap *= 2;
    c.t = malloc(c.cap * sizeof *c.t);
    j->fail = !c.t;
    for (size_t f = (size_t)j->t; !j->fail && f < m->nf; f += (size_t)j->nt)
        tf_field(m, f, j->sets, j->nsets, j->st, &c, j->h + f * j->total, (size_t)j->total);
    free(c.t);
    return NULL;
}

bl_status bl_setstats_build(const bl_model *m, const bl_clkset *const *sets, size_t nsets,
                            bl_setstats *st, int with_tf, int threads, bl_error *err)
{
    memset(st, 0, nsets * sizeof *st);
    uint64_t total = 0;
    for (size_t d = 0; d < nsets; d++) {
        const bl_clkset *s = sets[d];
        st[d].s = s;
        st[d].pop = malloc((s->count ? s->count : 1) * m->nf * sizeof *st[d].pop);
        st[d].tfadj =
            with_tf ? calloc((s->count ? s->count : 1) * m->nf, sizeof *st[d].tfadj) : NULL;
        if (!st[d].pop || (with_tf && !st[d].tfadj)) {
            bl_setstats_free(st, nsets);
            return bl_error_set(err, BL_ENOMEM, "out of memory for record statistics");
        }
        total += s->count;
    }
    const int nt = pass_threads(threads, total, 50000); /* small sets: not worth a thread */
    ssjob jobs[64];
    uint64_t *h = with_tf ? malloc((total ? total : 1) * m->nf * sizeof *h) : NULL;
    int fail = with_tf && !h;
    for (int phase = 0; phase < (with_tf ? 2 : 1) && !fail; phase++) {
        for (int t = 0; t < nt; t++)
            jobs[t] = (ssjob){m, sets, nsets, st, total, h, t, nt, phase, 0};
        bli_par_run(setstats_worker, jobs, sizeof *jobs, nt);
    }
    for (int t = 0; !fail && t < nt; t++)
        fail |= jobs[t].fail;
    free(h);
    if (fail) {
        bl_setstats_free(st, nsets);
        return bl_error_set(err, BL_ENOMEM, "out of memory for value frequencies");
    }
    return BL_OK;
}

/* ---- u from random pairs ---------------------------------------------------- */

typedef struct urjob {
    const bl_model *m;
    const bl_fieldpop *fpk;
    const bl_clkset *const *sets;
    const bl_setstats *st;
    size_t nsets;
    uint64_t i0, i1, x0; /* pairs [i0, i1) of the sequence that starts at x0 */
    double cnt[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS];
} urjob;

static void *random_worker(void *arg)
{
    urjob *j = arg;
    const bl_model *m = j->m;
    uint8_t lv[BL_MODEL_MAX_FIELDS];
    /* pair i draws the 2i+1-th and 2i+2-th numbers of one Weyl sequence, so
     * a slice starts where a single loop would be */
    uint64_t x = j->x0 + 2 * j->i0 * 0x9E3779B97F4A7C15ULL;
    for (uint64_t i = j->i0; i < j->i1; i++) {
        uint64_t r1 = mix64(x += 0x9E3779B97F4A7C15ULL), r2 = mix64(x += 0x9E3779B97F4A7C15ULL);
        size_t d0 = (size_t)(r1 % j->nsets), d1 = (size_t)((r1 >> 32) % (j->nsets - 1));
        if (d1 >= d0)
            d1++;
        const bl_clkset *s0 = j->sets[d0], *s1 = j->sets[d1];
        size_t a = (size_t)((r2 & 0xffffffff) % s0->count), b = (size_t)((r2 >> 32) % s1->count);
        bl_model_levels(m, j->fpk, bl_clkset_get(s0, a), j->st[d0].pop + a * m->nf,
                        bl_clkset_get(s1, b), j->st[d1].pop + b * m->nf, lv, NULL);
        for (size_t f = 0; f < m->nf; f++)
            if (lv[f] != BL_LEVEL_MISSING)
                j->cnt[f][lv[f]] += 1;
    }
    return NULL;
}

/* v[l] of the free levels from num, scaled to what the fixed ones leave */
static void renorm(double *v, const int *fixed, const double *num, uint32_t nl);

/* u from the random pairs: u_random itself where no level's u is fixed
 * (bit for bit as before), else the free levels share what the fixed ones
 * leave, in u_random's proportions (they took u_random itself, and the
 * field's u summed to more than 1) */
static void u_set_from_random(bl_field_model *fm)
{
    int any = 0;
    for (uint32_t l = 0; l < fm->nlevels; l++)
        any |= fm->fix_u[l];
    if (any)
        renorm(fm->u, fm->fix_u, fm->u_random, fm->nlevels);
    else
        memcpy(fm->u, fm->u_random, sizeof fm->u);
}

/* u of each level: its share among npairs random cross-set pairs. The
 * counts are whole numbers (exact in a double), so the threads' slices add
 * up to the one-thread result bit for bit. */
static int u_from_random(bl_model *m, const bl_clkset *const *sets, size_t nsets,
                         const bl_setstats *st, uint64_t npairs, uint64_t seed, int threads)
{
    bl_fieldpop fpk;
    if (bl_fieldpop_init(&fpk, m, bli_kernel_active()) != 0)
        return -1;
    const int nt = pass_threads(threads, npairs, 50000);
    urjob *jobs = calloc((size_t)nt, sizeof *jobs);
    if (!jobs) {
        bl_fieldpop_free(&fpk);
        return -1;
    }
    for (int t = 0; t < nt; t++)
        jobs[t] = (urjob){.m = m,
                          .fpk = &fpk,
                          .sets = sets,
                          .st = st,
                          .nsets = nsets,
                          .i0 = npairs * (uint64_t)t / (uint64_t)nt,
                          .i1 = npairs * (uint64_t)(t + 1) / (uint64_t)nt,
                          .x0 = seed ? seed : 0x5eed};
    bli_par_run(random_worker, jobs, sizeof *jobs, nt);
    for (size_t f = 0; f < m->nf; f++) {
        bl_field_model *fm = &m->f[f];
        double cnt[BL_MODEL_MAX_LEVELS] = {0}, tot = 0;
        for (uint32_t l = 0; l < fm->nlevels; l++) {
            for (int t = 0; t < nt; t++)
                cnt[l] += jobs[t].cnt[f][l];
            tot += cnt[l];
        }
        /* add-half smoothing: a level never seen among random pairs is rare, not impossible */
        for (uint32_t l = 0; l < fm->nlevels; l++)
            fm->u_random[l] = (cnt[l] + 0.5) / (tot + 0.5 * fm->nlevels);
        u_set_from_random(fm);
    }
    m->nrandom = npairs;
    free(jobs);
    bl_fieldpop_free(&fpk);
    return 0;
}

/* ---- u among namesakes ------------------------------------------------------ */

#define NAMESAKE_PARTNERS 4     /* both names equal: pairs per record within its run */
#define NAMESAKE_MAX_RUN 256    /* records of one name used, so no name dominates */
#define NAMESAKE_MIN_PAIRS 200  /* fewer pairs: no u for the class, plain u */
#define NAMESAKE_PSEUDO 20.0    /* pseudo-pairs drawn towards the random-pair u */
#define NAMESAKE_MIN_COUNT 5.0  /* namesake pairs at a level before its u changes */

typedef struct nsjob {
    const bl_model *m;
    const bl_fieldpop *fpk;
    const bl_kernel *k;
    const bl_clkset *const *sets;
    const bl_setstats *stats;
    size_t nsets;
    int t, nt, fail;
    const bl_clkset *set; /* the set in hand */
    const bl_setstats *st;
    size_t g, s;
    double cnt[2][BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS]; /* per class */
    uint64_t npairs[2];
} nsjob;

/* The records of j->set with both names present, keyed three ways, each
 * sorted by key then record: k[0] by both name filters together, k[1] by
 * the given name's filter, k[2] by the surname's (each filter hashed once). */
static int name_keys(const nsjob *j, bl_keyrec *k[3], size_t *n)
{
    const bl_model *m = j->m;
    const size_t cap = j->set->count ? j->set->count : 1;
    for (int w = 0; w < 3; w++)
        k[w] = malloc(cap * sizeof *k[w]);
    if (!k[0] || !k[1] || !k[2])
        return -1;
    const size_t go = m->f[j->g].offset / 8, gb = (m->f[j->g].bits + 7) / 8;
    const size_t so = m->f[j->s].offset / 8, sb = (m->f[j->s].bits + 7) / 8;
    *n = 0;
    for (size_t r = 0; r < j->set->count; r++) {
        const uint8_t *rec = bl_clkset_get(j->set, r);
        if (!j->st->pop[r * m->nf + j->g] || !j->st->pop[r * m->nf + j->s])
            continue;
        const uint64_t hg = value_hash(rec + go, gb), hs = value_hash(rec + so, sb);
        k[0][*n] = (bl_keyrec){mix64(hg ^ mix64(hs)), (uint32_t)r, 0};
        k[1][*n] = (bl_keyrec){hg, (uint32_t)r, 0};
        k[2][(*n)++] = (bl_keyrec){hs, (uint32_t)r, 0};
    }
    /* each is in record order already, so a stable sort by key gives the
     * (key, record) order (a radix sort: qsort with a comparator took
     * ~0.15 s per key at 1M records, on the critical path) */
    for (int w = 0; w < 3; w++)
        if (bl_keyrec_sort(k[w], *n) != 0)
            return -1;
    return 0;
}

/* One pair of records of the set: its levels counted if its name class is
 * `want` (each pass counts one class, so no pair is counted twice). */
static void namesake_pair(nsjob *j, uint32_t ra, uint32_t rb, int want)
{
    const bl_model *m = j->m;
    uint8_t lv[BL_MODEL_MAX_FIELDS];
    bl_model_levels(m, j->fpk, bl_clkset_get(j->set, ra), j->st->pop + (size_t)ra * m->nf,
                    bl_clkset_get(j->set, rb), j->st->pop + (size_t)rb * m->nf, lv, NULL);
    const int c = bl_model_name_class(m, j->g, j->s, lv);
    if (c != want)
        return;
    for (size_t f = 0; f < m->nf; f++)
        if (f != j->g && f != j->s && lv[f] != BL_LEVEL_MISSING)
            j->cnt[c - 1][f][lv[f]] += 1;
    j->npairs[c - 1]++;
}

/* Pairs within runs of equal keys: with both names hashed, each record
 * with the next NAMESAKE_PARTNERS; with field x alone, every pair of the
 * run's first NAMESAKE_MAX_RUN records whose other name y is similar
 * enough for a band (its Dice checked first, as it prunes most pairs). */
static void namesake_runs(nsjob *j, const bl_keyrec *k, size_t n, size_t y, int both)
{
    const bl_model *m = j->m;
    const double ymin = m->f[y].band[m->f[y].nbands - 1];
    const size_t yo = m->f[y].offset / 8, yb = (m->f[y].bits + 7) / 8;
    for (size_t i = 0, run = 0; i < n; i++) {
        run = i > 0 && k[i].key == k[i - 1].key ? run + 1 : 0;
        if (run >= NAMESAKE_MAX_RUN)
            continue;
        const size_t lim = both ? NAMESAKE_PARTNERS : NAMESAKE_MAX_RUN - run - 1;
        for (size_t q = i + 1; q < n && q <= i + lim && k[q].key == k[i].key; q++) {
            if (!both) {
                const uint32_t pa = j->st->pop[(size_t)k[i].rec * m->nf + y], pb = j->st->pop[(size_t)k[q].rec * m->nf + y];
                const uint32_t c = j->k->and_popcount(bl_clkset_get(j->set, k[i].rec) + yo,
                                                      bl_clkset_get(j->set, k[q].rec) + yo, yb);
                if (2.0 * c < ymin * (double)(pa + pb)) /* below every band */
                    continue;
            }
            namesake_pair(j, k[i].rec, k[q].rec, both ? BL_NAMES_BOTH : BL_NAMES_ONE);
        }
    }
}

/* Every pass over every set given to this job (sets t, t + nt, ...). */
static void *namesake_worker(void *arg)
{
    nsjob *j = arg;
    for (size_t d = (size_t)j->t; d < j->nsets && !j->fail; d += (size_t)j->nt) {
        bl_keyrec *k[3] = {NULL, NULL, NULL};
        size_t n = 0;
        j->set = j->sets[d];
        j->st = &j->stats[d];
        j->fail = name_keys(j, k, &n) != 0;
        if (!j->fail) {
            namesake_runs(j, k[0], n, 0, 1);
            namesake_runs(j, k[1], n, j->s, 0);
            namesake_runs(j, k[2], n, j->g, 0);
        }
        for (int w = 0; w < 3; w++)
            free(k[w]);
    }
    return NULL;
}

/* u of level l among namesakes from `c` of `tot` pairs. Only where they
 * agree clearly more often than random pairs (at least NAMESAKE_MIN_COUNT
 * pairs and twice the random-pair expectation): the dependence this
 * corrects only ever raises u, and a rare level seen zero times among a
 * few thousand namesakes says nothing, so elsewhere u stays as it is (and
 * no weight rises above the independence model's). A u fixed by hand holds
 * for namesakes too. */
static double namesake_u(const bl_field_model *fm, uint32_t l, double c, double tot)
{
    const double u = fm->u[l];
    if (fm->fix_u[l] || c < NAMESAKE_MIN_COUNT || c < 2.0 * tot * u)
        return u;
    const double est = (c + NAMESAKE_PSEUDO * u) / (tot + NAMESAKE_PSEUDO);
    return est > u ? est : u;
}

/* Why: e-mail addresses (and often other fields) are made from the names,
 * so among non-matches whose names agree they agree far more often than
 * among random pairs, and adding their weight to the names' double-counts
 * the evidence (namesakes linked with high probability). Records of one
 * input are different people, so pairs of them whose names agree are
 * non-matches: per name class (both names exact; one exact and the other
 * in a band) their level frequencies are the u of the other fields for
 * such pairs, smoothed towards the random-pair u. (An input with
 * duplicates inside makes these u larger, which only weakens the evidence
 * of such pairs.) */
static int u_from_namesakes(bl_model *m, const bl_clkset *const *sets, size_t nsets,
                            const bl_setstats *st, int threads)
{
    size_t g, s;
    if (!bl_model_name_pair(m, &g, &s))
        return 0;
    bl_fieldpop fpk;
    if (bl_fieldpop_init(&fpk, m, bli_kernel_active()) != 0)
        return -1;
    /* one set per job: the sets' pairs are independent and their counts
     * whole numbers, so the sum is the same in any order */
    int nt = pass_threads(threads, nsets, 1);
    if ((size_t)nt > nsets) /* no thread without a set */
        nt = (int)nsets;
    nsjob *jobs = calloc((size_t)nt, sizeof *jobs);
    int rc = jobs ? 0 : -1;
    for (int t = 0; t < nt && rc == 0; t++)
        jobs[t] = (nsjob){.m = m,
                          .fpk = &fpk,
                          .k = bli_kernel_active(),
                          .sets = sets,
                          .stats = st,
                          .nsets = nsets,
                          .t = t,
                          .nt = nt,
                          .g = g,
                          .s = s};
    if (rc == 0)
        bli_par_run(namesake_worker, jobs, sizeof *jobs, nt);
    double cnt[2][BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS] = {{{0}}};
    m->nnamesakes = 0;
    for (int t = 0; t < nt && rc == 0; t++) {
        rc = jobs[t].fail ? -1 : 0;
        m->nnamesakes += jobs[t].npairs[0] + jobs[t].npairs[1];
        for (int c = 0; c < 2; c++)
            for (size_t f = 0; f < m->nf; f++)
                for (uint32_t l = 0; l < BL_MODEL_MAX_LEVELS; l++)
                    cnt[c][f][l] += jobs[t].cnt[c][f][l];
    }
    free(jobs);
    bl_fieldpop_free(&fpk);
    for (size_t f = 0; f < m->nf && rc == 0; f++)
        for (int c = 0; c < 2; c++) {
            bl_field_model *fm = &m->f[f];
            double tot = 0;
            for (uint32_t l = 0; l < fm->nlevels; l++)
                tot += cnt[c][f][l];
            fm->has_u_names[c] = f != g && f != s && tot >= NAMESAKE_MIN_PAIRS;
            for (uint32_t l = 0; l < fm->nlevels && fm->has_u_names[c]; l++)
                fm->u_names[c][l] = namesake_u(fm, l, cnt[c][f][l], tot);
        }
    return rc;
}

/* ---- comparison patterns of the candidates ---------------------------------- */

typedef struct pattern {
    uint8_t lv[BL_MODEL_MAX_FIELDS];
    double count;
} pattern;

typedef struct ptable {
    pattern *p;
    uint32_t *slot; /* index + 1 into p, open addressing */
    size_t n, cap, scap;
} ptable;

static uint64_t lv_hash(const uint8_t *lv, size_t nf)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < nf; i++)
        h = (h ^ lv[i]) * 1099511628211ULL;
    return mix64(h);
}

static int ptable_add(ptable *t, const uint8_t *lv, size_t nf, double cnt)
{
    if (2 * (t->n + 1) > t->scap) {
        size_t ns = t->scap ? t->scap * 2 : 1024;
        uint32_t *s = calloc(ns, sizeof *s);
        if (!s)
            return -1;
        for (size_t i = 0; i < t->n; i++) {
            size_t j = (size_t)lv_hash(t->p[i].lv, nf) & (ns - 1);
            while (s[j])
                j = (j + 1) & (ns - 1);
            s[j] = (uint32_t)i + 1;
        }
        free(t->slot);
        t->slot = s;
        t->scap = ns;
    }
    size_t j = (size_t)lv_hash(lv, nf) & (t->scap - 1);
    while (t->slot[j]) {
        pattern *p = &t->p[t->slot[j] - 1];
        if (!memcmp(p->lv, lv, nf)) {
            p->count += cnt;
            return 0;
        }
        j = (j + 1) & (t->scap - 1);
    }
    if (bli_grow((void **)&t->p, &t->cap, t->n + 1, sizeof *t->p, 256) != 0)
        return -1;
    memset(t->p[t->n].lv, 0, sizeof t->p[t->n].lv);
    memcpy(t->p[t->n].lv, lv, nf);
    t->p[t->n].count = cnt;
    t->slot[j] = (uint32_t)++t->n;
    return 0;
}

static void ptable_free(ptable *t)
{
    free(t->p);
    free(t->slot);
}

typedef struct pjob {
    const bl_model *m;
    const bl_clkset *const *sets;
    const bl_setstats *st;
    const bl_candidate *c;
    size_t lo, hi;
    ptable t;
    int fail;
} pjob;

static void *pattern_worker(void *arg)
{
    pjob *j = arg;
    const bl_kernel *k = bli_kernel_active();
    bl_fieldpop fpk;
    if (bl_fieldpop_init(&fpk, j->m, k) != 0) {
        j->fail = 1;
        return NULL;
    }
    uint8_t lv[BL_MODEL_MAX_FIELDS];
    for (size_t i = j->lo; i < j->hi && !j->fail; i++) {
        const bl_candidate *c = &j->c[i];
        uint32_t d0 = c->dset[0], d1 = c->dset[1];
        bl_model_levels(j->m, &fpk, bl_clkset_get(j->sets[d0], c->rec[0]), j->st[d0].pop + (size_t)c->rec[0] * j->m->nf,
                        bl_clkset_get(j->sets[d1], c->rec[1]), j->st[d1].pop + (size_t)c->rec[1] * j->m->nf, lv,
                        NULL);
        if (ptable_add(&j->t, lv, j->m->nf, 1.0) != 0)
            j->fail = 1;
    }
    bl_fieldpop_free(&fpk);
    return NULL;
}

static bl_status build_patterns(const bl_model *m, const bl_clkset *const *sets, const bl_setstats *st,
                                const bl_candidate *c, size_t n, int threads, ptable *out, bl_error *err)
{
    int nt = threads > 0 ? threads : bli_ncpus();
    if (nt > 64)
        nt = 64;
    if ((size_t)nt > n / 10000 + 1)
        nt = (int)(n / 10000 + 1);
    pjob jobs[64];
    pthread_t tid[64];
    memset(jobs, 0, sizeof jobs);
    int started = 0;
    for (int t = 0; t < nt; t++) {
        jobs[t] = (pjob){m, sets, st, c, n * (size_t)t / (size_t)nt, n * (size_t)(t + 1) / (size_t)nt, {0}, 0};
        if (t == 0 || pthread_create(&tid[t], NULL, pattern_worker, &jobs[t]) == 0)
            started = t + 1;
        else
            break;
    }
    pattern_worker(&jobs[0]);
    for (int t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    int fail = 0;
    for (int t = started; t < nt; t++) /* threads that did not start: do their share here */
        pattern_worker(&jobs[t]);
    memset(out, 0, sizeof *out);
    for (int t = 0; t < nt; t++) {
        fail |= jobs[t].fail;
        for (size_t i = 0; i < jobs[t].t.n && !fail; i++)
            fail |= ptable_add(out, jobs[t].t.p[i].lv, m->nf, jobs[t].t.p[i].count) != 0;
        ptable_free(&jobs[t].t);
    }
    if (fail) {
        ptable_free(out);
        return bl_error_set(err, BL_ENOMEM, "out of memory for comparison patterns");
    }
    return BL_OK;
}

/* ---- EM --------------------------------------------------------------------- */

/* Normalise a field's non-fixed values to fill what the fixed ones leave. */
static void renorm(double *v, const int *fixed, const double *num, uint32_t nl)
{
    double fixed_sum = 0, free_sum = 0;
    for (uint32_t l = 0; l < nl; l++)
        if (fixed[l])
            fixed_sum += v[l];
        else
            free_sum += num[l];
    double room = 1.0 - fixed_sum;
    if (room < 0)
        room = 0;
    for (uint32_t l = 0; l < nl; l++)
        if (!fixed[l])
            v[l] = free_sum > 0 ? room * num[l] / free_sum : room / nl;
}

static double em_step(bl_model *m, const ptable *t, int update_u)
{
    double mn[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS] = {{0}}, un[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS] = {{0}};
    double lm[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS], lu[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS];
    for (size_t f = 0; f < m->nf; f++)
        for (uint32_t l = 0; l < m->f[f].nlevels; l++) {
            lm[f][l] = log(m->f[f].m[l] > 1e-300 ? m->f[f].m[l] : 1e-300);
            lu[f][l] = log(m->f[f].u[l] > 1e-300 ? m->f[f].u[l] : 1e-300);
        }
    const double lp = log(m->prior), lq = log(1 - m->prior);
    double psum = 0, tot = 0;
    for (size_t i = 0; i < t->n; i++) {
        const pattern *p = &t->p[i];
        double a = lp, b = lq;
        for (size_t f = 0; f < m->nf; f++)
            if (p->lv[f] != BL_LEVEL_MISSING) {
                a += lm[f][p->lv[f]];
                b += lu[f][p->lv[f]];
            }
        double post = 1.0 / (1.0 + exp(b - a));
        psum += post * p->count;
        tot += p->count;
        for (size_t f = 0; f < m->nf; f++)
            if (p->lv[f] != BL_LEVEL_MISSING) {
                mn[f][p->lv[f]] += post * p->count;
                un[f][p->lv[f]] += (1 - post) * p->count;
            }
    }
    double change = 0;
    for (size_t f = 0; f < m->nf; f++) {
        bl_field_model *fm = &m->f[f];
        double old_m[BL_MODEL_MAX_LEVELS], old_u[BL_MODEL_MAX_LEVELS];
        memcpy(old_m, fm->m, sizeof old_m);
        memcpy(old_u, fm->u, sizeof old_u);
        for (uint32_t l = 0; l < fm->nlevels; l++) {
            mn[f][l] += 1e-6; /* keeps every level possible */
            un[f][l] += 1e-6;
        }
        renorm(fm->m, fm->fix_m, mn[f], fm->nlevels);
        if (update_u)
            renorm(fm->u, fm->fix_u, un[f], fm->nlevels);
        for (uint32_t l = 0; l < fm->nlevels; l++) {
            change = fmax(change, fabs(fm->m[l] - old_m[l]));
            change = fmax(change, fabs(fm->u[l] - old_u[l]));
        }
    }
    if (!m->fix_prior && tot > 0) {
        double np = psum / tot;
        np = np < 1e-9 ? 1e-9 : np > 1 - 1e-9 ? 1 - 1e-9 : np;
        change = fmax(change, fabs(np - m->prior));
        m->prior = np;
    }
    return change;
}

/* Log-likelihood of the pattern table under the model's m, u and prior
 * (the two-class mixture EM maximises), missing fields left out as in
 * em_step. */
static double em_loglik(const bl_model *m, const ptable *t)
{
    double lm[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS], lu[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS];
    for (size_t f = 0; f < m->nf; f++)
        for (uint32_t l = 0; l < m->f[f].nlevels; l++) {
            lm[f][l] = log(m->f[f].m[l] > 1e-300 ? m->f[f].m[l] : 1e-300);
            lu[f][l] = log(m->f[f].u[l] > 1e-300 ? m->f[f].u[l] : 1e-300);
        }
    const double lp = log(m->prior), lq = log(1 - m->prior);
    double ll = 0;
    for (size_t i = 0; i < t->n; i++) {
        const pattern *p = &t->p[i];
        double a = lp, b = lq;
        for (size_t f = 0; f < m->nf; f++)
            if (p->lv[f] != BL_LEVEL_MISSING) {
                a += lm[f][p->lv[f]];
                b += lu[f][p->lv[f]];
            }
        const double hi = a > b ? a : b;
        ll += p->count * (hi + log1p(exp(-fabs(a - b))));
    }
    return ll;
}

/* What EM changes: the start of a run and its result. */
typedef struct em_state {
    double m[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS], u[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS];
    double prior, max_change, loglik;
    uint32_t iterations;
    int converged;
} em_state;

static void em_save(const bl_model *m, em_state *s)
{
    for (size_t f = 0; f < m->nf; f++) {
        memcpy(s->m[f], m->f[f].m, sizeof s->m[f]);
        memcpy(s->u[f], m->f[f].u, sizeof s->u[f]);
    }
    s->prior = m->prior;
    s->max_change = m->max_change;
    s->iterations = m->iterations;
    s->converged = m->converged;
}

static void em_restore(bl_model *m, const em_state *s)
{
    for (size_t f = 0; f < m->nf; f++) {
        memcpy(m->f[f].m, s->m[f], sizeof s->m[f]);
        memcpy(m->f[f].u, s->u[f], sizeof s->u[f]);
    }
    m->prior = s->prior;
    m->max_change = s->max_change;
    m->iterations = s->iterations;
    m->converged = s->converged;
}

/* update_u: 1 in training (u on the candidates; replaced by u_random
 * after EM), 0 for tests that keep u as given */
static void em_run(bl_model *m, const ptable *t, uint32_t max_iter, double tol, int update_u)
{
    m->converged = 0;
    for (m->iterations = 0; m->iterations < max_iter;) {
        m->max_change = em_step(m, t, update_u);
        m->iterations++;
        if (m->max_change < tol) {
            m->converged = 1;
            break;
        }
    }
}

/* The second start's u: each field's level frequencies over all the
 * training candidates (fixed values kept, the others filling the rest). */
static void u_from_marginals(bl_model *m, const ptable *t)
{
    double cnt[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS] = {{0}};
    for (size_t i = 0; i < t->n; i++)
        for (size_t f = 0; f < m->nf; f++)
            if (t->p[i].lv[f] != BL_LEVEL_MISSING)
                cnt[f][t->p[i].lv[f]] += t->p[i].count;
    for (size_t f = 0; f < m->nf; f++) {
        for (uint32_t l = 0; l < m->f[f].nlevels; l++)
            cnt[f][l] += 1e-6; /* as em_step: every level stays possible */
        renorm(m->f[f].u, m->f[f].fix_u, cnt[f], m->f[f].nlevels);
    }
}

/* EM from two starts, the likelier fit kept. Start 1 (the one used
 * alone before): u = the random-pair u. Among candidates chosen for
 * being similar that start calls nearly every candidate a match in its
 * first step, and where many candidates share a name with their record
 * without being the same person (synth hard 1M x 1M: 66% of the best-3
 * training pairs are non-matches, 82% of those with the same given name)
 * EM stays in that corner: a "match" class of every pair whose names
 * agree (namesakes included: prior 0.91 on the candidates where the truth
 * is 0.34, DOB exact in m 0.36 against 0.92) and a "non-match" class of
 * the few candidates that share only a birth date. Start 2: u = the
 * candidates' own level frequencies (what u is when most of them are
 * non-matches), m and prior as start 1; on that set it reaches a fit
 * whose log-likelihood is higher by 2.4e5 (prior 0.295, DOB exact in m
 * 0.93). The fit with the higher log-likelihood (EM's own criterion) is
 * kept; start 2 only when higher by more than EM_START_MARGIN of |loglik|
 * (both starts reaching the same fit then keep start 1's numbers, so
 * the models of such inputs do not change). */
#define EM_START_MARGIN 1e-6

static void em_two_starts(bl_model *m, const ptable *t, uint32_t max_iter, double tol)
{
    em_state start, fit1;
    em_save(m, &start);
    em_run(m, t, max_iter, tol, 1);
    em_save(m, &fit1);
    fit1.loglik = em_loglik(m, t);
    em_restore(m, &start);
    u_from_marginals(m, t);
    em_run(m, t, max_iter, tol, 1);
    const double ll2 = em_loglik(m, t);
    m->em_loglik[0] = fit1.loglik;
    m->em_loglik[1] = ll2;
    if (ll2 > fit1.loglik + EM_START_MARGIN * fabs(fit1.loglik)) {
        m->em_start = 2;
        return;
    }
    em_restore(m, &fit1);
    m->em_start = 1;
}

/* EM ran on the candidates with u free (their non-matches are similar
 * records, not random pairs, so u fixed at the random-pair values makes EM
 * call nearly every candidate a match). Its m are the match distribution;
 * the candidate prior times the candidates' share of all pairs is the prior
 * of a random pair; with u from random pairs that is the classic
 * Fellegi-Sunter weight, which does not depend on how candidates were
 * chosen. */
static void to_all_pairs(bl_model *m, const bl_clkset *const *sets, size_t nsets, size_t ncand)
{
    double total = 0, most = 0;
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = x + 1; y < nsets; y++) {
            total += (double)sets[x]->count * (double)sets[y]->count;
            most += (double)(sets[x]->count < sets[y]->count ? sets[x]->count : sets[y]->count);
        }
    for (size_t f = 0; f < m->nf; f++) {
        bl_field_model *fm = &m->f[f];
        memcpy(fm->u_cand, fm->u, sizeof fm->u_cand);
        u_set_from_random(fm);
    }
    if (m->fix_prior) /* EM kept it: it is the candidates' prior as well */
        m->prior_cand = m->prior;
    if (!m->fix_prior && total > 0) {
        m->prior_cand = m->prior;
        m->prior = m->prior * (double)ncand / total;
        /* Every decision links a record with at most one of each other
         * input (1:1 for two, one record per input in a group), so at most
         * min(Nx, Ny) pairs of inputs x and y match: a prior above that
         * share of all pairs is impossible (synth hard 1M with EM's start
         * 1 alone: 1.19e-6 > 1e-6; capped there F1 0.9137 -> 0.9189). */
        if (m->prior > most / total)
            m->prior = most / total;
        /* no candidates (or no matches among them): a tiny prior, still a probability */
        if (!(m->prior >= 1e-15))
            m->prior = 1e-15;
        if (m->prior > 1 - 1e-9)
            m->prior = 1 - 1e-9;
    }
}

static void copy_init(bl_model *m, const bl_model *init)
{
    if (!init || init->nf != m->nf)
        return;
    for (size_t f = 0; f < m->nf; f++) {
        bl_field_model *d = &m->f[f];
        const bl_field_model *s = &init->f[f];
        if (s->nlevels != d->nlevels)
            continue;
        d->nbands = s->nbands;
        memcpy(d->band, s->band, sizeof d->band);
        memcpy(d->m, s->m, sizeof d->m);
        memcpy(d->u, s->u, sizeof d->u);
        memcpy(d->fix_m, s->fix_m, sizeof d->fix_m);
        memcpy(d->fix_u, s->fix_u, sizeof d->fix_u);
        d->tf = s->tf;
    }
    m->prior = init->prior;
    m->fix_prior = init->fix_prior;
}


/* EM sees the best TRAIN_TOP_K candidates per record (two-sided, anonlink's
 * rule): deeper candidate lists (match keeps 100 per record) are mostly
 * people who share a common name, and with them the second EM class fits
 * "same name" instead of "same person". The larger the inputs, the more
 * namesakes there are among a record's best few: synth hard 100K, top 100:
 * prior 2.2e-4, F1 0.60, top 10: F1 0.98; synth medium 1M, top 10: prior
 * 4.3e-6 (4 matches per record), F1 0.87, top 3: F1 0.9946, top 2: 0.9948.
 * Top 3 costs nothing measurable below that (hard 100K 0.9825 against
 * 0.9827 with top 10, hard 10K 0.9890 against 0.9893, FEBRL4 0.9999 and
 * the anonlink tutorial 0.9812 against 0.9813). The model's weights do not
 * depend on the candidate set (to_all_pairs), so the whole list is scored
 * with it. */
#define TRAIN_TOP_K 3

static bl_status train_subset(const bl_clkset *const *sets, size_t nsets, const bl_candidate **cand,
                              size_t *ncand, int threads, bl_candidate **sub, bl_error *err)
{
    *sub = NULL;
    if (!*ncand)
        return BL_OK;
    bl_candidate *v = NULL;
    size_t n = 0;
    bl_status st;
    if (*ncand < UINT32_MAX) {
        /* the candidates may come in block order: the best pairs without
         * sorting them all */
        st = bl_candidates_best_k(sets, nsets, *cand, *ncand, TRAIN_TOP_K, threads, &v, &n, err);
    } else {
        if (!(v = malloc(*ncand * sizeof *v)))
            return bl_error_set(err, BL_ENOMEM, "out of memory for %zu training pairs", *ncand);
        memcpy(v, *cand, *ncand * sizeof *v);
        n = *ncand;
        bl_candidates_sort(v, n); /* enforce_k walks the best pairs first */
        st = bl_candidates_enforce_k(sets, nsets, v, &n, TRAIN_TOP_K, err);
    }
    if (st != BL_OK) {
        free(v);
        return st;
    }
    *sub = v;
    *cand = v;
    *ncand = n;
    return BL_OK;
}

/* EM fits each field's m and candidate u over its levels and the prior.
 * On fewer training pairs than those values (one record gives at most
 * TRAIN_TOP_K) any fit explains the pairs and EM "converges" to a model of
 * noise, so such inputs are refused as inputs without candidates are. */
static bl_status check_enough_pairs(const bl_model *m, const bl_clkset *const *sets, size_t nsets, size_t ntrain,
                                    bl_error *err)
{
    size_t nvalues = 1;
    for (size_t f = 0; f < m->nf; f++)
        nvalues += 2 * (size_t)(m->f[f].nlevels - 1);
    if (ntrain >= nvalues)
        return BL_OK;
    size_t small = 0;
    for (size_t d = 1; d < nsets; d++)
        if (sets[d]->count < sets[small]->count)
            small = d;
    return bl_error_set(err, BL_EINPUT,
                        "too few records to train a model: %zu training pair%s (each record's best %d "
                        "candidates), fewer than the %zu values EM fits (m and u of every level, the prior); "
                        "dataset %zu has %zu record%s. Train on more records encoded the same way and link "
                        "these with match --model FILE", ntrain, ntrain == 1 ? "" : "s", TRAIN_TOP_K, nvalues, small + 1,
                        sets[small]->count, sets[small]->count == 1 ? "" : "s");
}

bl_status bl_model_train(const bl_clkset *const *sets, size_t nsets, const bl_candidate *cand, size_t ncand,
                         const bl_model_train_opts *o_in, bl_model **out, bl_error *err)
{
    bl_model_train_opts o = {0};
    if (o_in)
        o = *o_in;
    if (!o.max_iter)
        o.max_iter = 100;
    if (!(o.tol > 0))
        o.tol = 1e-6;
    if (!o.u_pairs)
        o.u_pairs = 1000000;
    *out = NULL;
    if (nsets < 2)
        return bl_error_set(err, BL_EINVAL, "training needs at least two datasets");
    for (size_t d = 0; d < nsets; d++)
        if (!sets[d]->count)
            return bl_error_set(err, BL_EINPUT, "dataset %zu is empty", d + 1);
    /* EM on nothing "converges" at once to a prior of ~0: a model that
     * looks trained and links nothing. The usual cause is inputs encoded
     * with different secrets (the fingerprint covers the schema and the
     * options, not the secret), so say that. */
    if (!ncand)
        return bl_error_set(err, BL_EINPUT,
                            "no candidate pairs to train on: blocking found no similar records across the "
                            "inputs (were they all encoded with the same secret?)");
    bl_fieldset fs;
    bl_status st = bl_fieldset_from_clkset(sets[0], "input 1", &fs, err);
    if (st != BL_OK)
        return st;
    bl_model *m = NULL;
    st = bl_model_new_for(&fs, sets[0], &m, err);
    bl_fieldset_clear(&fs);
    if (st != BL_OK)
        return st;
    copy_init(m, o.init);
    /* the training pairs first: too few of them stop before any work */
    double t0 = now_s();
    bl_candidate *sub = NULL;
    if ((st = train_subset(sets, nsets, &cand, &ncand, o.threads, &sub, err)) != BL_OK ||
        (st = check_enough_pairs(m, sets, nsets, ncand, err)) != BL_OK) {
        free(sub);
        bl_model_free(m);
        return st;
    }
    const double subset_s = now_s() - t0;
    m->u_source = strdup("random");
    bl_setstats *ss = calloc(nsets, sizeof *ss);
    if (!ss || !m->u_source) {
        free(ss);
        free(sub);
        bl_model_free(m);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    if ((st = bl_setstats_build(m, sets, nsets, ss, 0, o.threads, err)) != BL_OK) {
        free(ss);
        free(sub);
        bl_model_free(m);
        return st;
    }
    if (u_from_random(m, sets, nsets, ss, o.u_pairs, o.seed, o.threads) != 0 ||
        u_from_namesakes(m, sets, nsets, ss, o.threads) != 0) {
        bl_setstats_free(ss, nsets);
        free(ss);
        free(sub);
        bl_model_free(m);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    t0 = now_s() - subset_s; /* EM's time, the subset included as before */
    ptable t;
    st = build_patterns(m, sets, ss, cand, ncand, o.threads, &t, err);
    free(sub);
    bl_setstats_free(ss, nsets);
    free(ss);
    if (st != BL_OK) {
        bl_model_free(m);
        return st;
    }
    m->ncand = ncand;
    m->npatterns = t.n;
    m->trained = 1;
    em_two_starts(m, &t, o.max_iter, o.tol);
    m->em_seconds = now_s() - t0;
    ptable_free(&t);
    to_all_pairs(m, sets, nsets, ncand);
    *out = m;
    return BL_OK;
}

/* The pattern table of an explicit list (unit tests). */
static bl_status table_of(const bl_model *m, const uint8_t *levels, const double *counts, size_t n, ptable *t,
                          bl_error *err)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++)
        if (ptable_add(t, levels + i * m->nf, m->nf, counts[i]) != 0) {
            ptable_free(t);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
    return BL_OK;
}

/* EM on an explicit pattern table (unit tests: known-answer tables). */
bl_status bl_model_em_table(bl_model *m, const uint8_t *levels, const double *counts, size_t n, uint32_t max_iter,
                            double tol, int update_u, bl_error *err)
{
    ptable t;
    bl_status st = table_of(m, levels, counts, n, &t, err);
    if (st != BL_OK)
        return st;
    m->trained = 1;
    em_run(m, &t, max_iter, tol, update_u);
    m->npatterns = t.n;
    ptable_free(&t);
    return BL_OK;
}

/* EM from the two starts of bl_model_train on an explicit table (unit
 * tests: the start kept and its fit). */
bl_status bl_model_em_table_starts(bl_model *m, const uint8_t *levels, const double *counts, size_t n,
                                   uint32_t max_iter, double tol, bl_error *err)
{
    ptable t;
    bl_status st = table_of(m, levels, counts, n, &t, err);
    if (st != BL_OK)
        return st;
    m->trained = 1;
    em_two_starts(m, &t, max_iter, tol);
    m->npatterns = t.n;
    ptable_free(&t);
    return BL_OK;
}
