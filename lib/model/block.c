/* lib/model/block.c - blocking of field-level files for the model: keyed
 * block keys on the field filters.
 *
 * Record-level Hamming LSH does not work on field-level records: the
 * filters are sparse and zero-padded to 512-bit slices, so sampled bits are
 * mostly zero in every record, unrelated pairs collide almost as often as
 * matches and the LSH plan finds nothing cheaper than comparing all pairs
 * (100K x 100K: 1e10 pairs, 546 s). Equal values give equal field filters,
 * so a keyed hash of one field filter is a block key that every pair
 * agreeing exactly on that field shares (Splink's blocking rules, on the
 * encodings). A pair is compared when it agrees exactly on at least one
 * rule; a rule is a single field, or - for a field whose blocks are too big
 * (sex, a common given name at scale) - the conjunction of two such fields.
 * Each rule is kept when the pairs it lets through stay within a budget
 * per record; the cost of every rule is counted exactly before choosing.
 * Keys come from SipHash with a fresh random key: they never leave the
 * process. The blocks then go through the match layer's external-block
 * path (same kernels, each pair compared once, Dice threshold, top-k). */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

/* Pairs a rule may let through, per record of all inputs. Small rules
 * (all pairs kept): 16 (synth hard 100K: date of birth, e-mail and the
 * conjunctions of given name, surname and postcode). Big rules (top-k):
 * 256 (there: given name, surname, postcode, the largest ~100 per record;
 * at 1M those move into conjunctions). */
#define BLOCK_SMALL 16.0
#define BIG_RULE_MIN_DICE 0.5
#define BLOCK_BIG 256.0
#define MAX_RULES 64

typedef struct fhash {
    size_t nrec, nf;
    size_t goff[65]; /* global index of each dataset's first record */
    uint64_t *h;     /* nrec * nf keyed hashes of the field filters, 0 = empty field */
} fhash;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

typedef struct hjob {
    const bl_clkset *const *sets;
    const bl_fieldset *fs;
    fhash *fh;
    const unsigned char *key;
    atomic_size_t next;
} hjob;

#define HASH_CHUNK 4096

/* Keyed hashes of the field filters of records taken HASH_CHUNK at a time. */
static void *hash_worker(void *arg)
{
    hjob *j = arg;
    const bl_kernel *k = bli_kernel_active();
    fhash *fh = j->fh;
    size_t d = 0;
    for (size_t g0; (g0 = atomic_fetch_add(&j->next, HASH_CHUNK)) < fh->nrec;) {
        size_t g1 = g0 + HASH_CHUNK < fh->nrec ? g0 + HASH_CHUNK : fh->nrec;
        for (size_t g = g0; g < g1; g++) {
            while (g >= fh->goff[d + 1])
                d++;
            while (g < fh->goff[d])
                d--;
            const uint8_t *rec = bl_clkset_get(j->sets[d], g - fh->goff[d]);
            uint64_t *out = fh->h + g * fh->nf;
            for (size_t f = 0; f < fh->nf; f++) {
                const uint8_t *p = rec + j->fs->offset[f] / 8;
                const size_t nb = (j->fs->bits[f] + 7) / 8;
                unsigned char hv[crypto_shorthash_BYTES];
                out[f] = 0;
                if (!k->popcount(p, nb))
                    continue;
                crypto_shorthash(hv, p, nb, j->key);
                memcpy(&out[f], hv, sizeof out[f]);
                out[f] = mix64(out[f] ^ f) | 1;
            }
        }
    }
    return NULL;
}

static void run_threads(int nt, void *(*fn)(void *), void *arg);

static int field_hashes(const bl_clkset *const *sets, size_t nsets, const bl_fieldset *fs,
                        fhash *fh, int nt)
{
    unsigned char key[crypto_shorthash_KEYBYTES];
    randombytes_buf(key, sizeof key);
    fh->nf = fs->nfields;
    fh->goff[0] = 0;
    for (size_t d = 0; d < nsets; d++)
        fh->goff[d + 1] = fh->goff[d] + sets[d]->count;
    fh->nrec = fh->goff[nsets];
    fh->h = malloc((fh->nrec ? fh->nrec : 1) * fh->nf * sizeof *fh->h);
    if (!fh->h) {
        sodium_memzero(key, sizeof key);
        return -1;
    }
    hjob j = {.sets = sets, .fs = fs, .fh = fh, .key = key};
    atomic_init(&j.next, 0);
    run_threads(nt, hash_worker, &j);
    sodium_memzero(key, sizeof key);
    return 0;
}

/* Block key of record g under rule `mask` (a set of fields), 0 = none
 * (a field of the rule is empty). */
static uint64_t rule_key(const fhash *fh, size_t g, uint64_t mask, unsigned rule)
{
    const uint64_t *h = fh->h + g * fh->nf;
    uint64_t k = 0x243F6A8885A308D3ULL ^ rule;
    for (size_t f = 0; f < fh->nf; f++)
        if (mask >> f & 1) {
            if (!h[f])
                return 0;
            k = mix64(k ^ h[f]);
        }
    return k | 1;
}

/* Open-addressing table key -> (per-dataset count run, cross pairs, id). */
typedef struct kslot {
    uint64_t key;
    uint32_t cur_d, cur_c, tot, id;
    double sq;
} kslot;

typedef struct ktab {
    kslot *s;
    size_t cap;
} ktab;

static kslot *ktab_get(ktab *t, uint64_t key)
{
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ULL >> 20) & (t->cap - 1);
    while (t->s[i].key && t->s[i].key != key)
        i = (i + 1) & (t->cap - 1);
    return &t->s[i];
}

/* Pairs across datasets that rule `mask` lets through (records are taken
 * dataset by dataset, so a slot counts its current dataset's run). */
static double rule_cost(const fhash *fh, size_t nsets, uint64_t mask, unsigned rule, ktab *t)
{
    memset(t->s, 0, t->cap * sizeof *t->s);
    for (size_t d = 0; d < nsets; d++)
        for (size_t g = fh->goff[d]; g < fh->goff[d + 1]; g++) {
            uint64_t k = rule_key(fh, g, mask, rule);
            if (!k)
                continue;
            kslot *s = ktab_get(t, k);
            if (!s->key) {
                s->key = k;
                s->cur_d = (uint32_t)d;
            }
            if (s->cur_d != d) {
                s->sq += (double)s->cur_c * s->cur_c;
                s->cur_c = 0;
                s->cur_d = (uint32_t)d;
            }
            s->cur_c++;
            s->tot++;
        }
    double pairs = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->s[i].key) {
            const kslot *s = &t->s[i];
            double sq = s->sq + (double)s->cur_c * s->cur_c;
            pairs += ((double)s->tot * s->tot - sq) / 2;
        }
    return pairs;
}

/* The rules, in two classes. Small rules (at most BLOCK_SMALL pairs per
 * record): single fields, and conjunctions of two fields neither of which
 * is small alone (a conjunction with a small field adds no pair). Their
 * pairs are all kept. Big rules: single fields up to BLOCK_BIG pairs per
 * record (a common given name, a postcode at 100K); their pairs go through
 * top-k. Fields beyond that (sex) only enter conjunctions. */
static void choose_rules(const fhash *fh, size_t nsets, ktab *t, uint64_t *small, size_t *nsmall,
                         uint64_t *big, size_t *nbig, double *pairs)
{
    const double sb = BLOCK_SMALL * (double)fh->nrec, bb = BLOCK_BIG * (double)fh->nrec;
    uint64_t small_single = 0;
    *nsmall = *nbig = 0;
    *pairs = 0;
    for (size_t f = 0; f < fh->nf && *nsmall < MAX_RULES && *nbig < MAX_RULES; f++) {
        double c = rule_cost(fh, nsets, 1ULL << f, 0, t);
        if (c <= sb) {
            small[(*nsmall)++] = 1ULL << f;
            small_single |= 1ULL << f;
        } else if (c <= bb) {
            big[(*nbig)++] = 1ULL << f;
        }
        if (c <= bb)
            *pairs += c;
    }
    for (size_t f = 0; f < fh->nf; f++)
        for (size_t g = f + 1; g < fh->nf && *nsmall < MAX_RULES; g++) {
            if ((small_single >> f & 1) || (small_single >> g & 1))
                continue;
            uint64_t mask = 1ULL << f | 1ULL << g;
            double c = rule_cost(fh, nsets, mask, 0, t);
            if (c <= sb) {
                small[(*nsmall)++] = mask;
                *pairs += c;
            }
        }
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* The external-block description of the rules: per record the sorted,
 * distinct ids of its blocks. */
static int fill_blocks(const fhash *fh, size_t nsets, const uint64_t *rules, size_t nr, ktab *t,
                       bl_blocking *b)
{
    uint32_t next = 0;
    b->kind = 2;
    b->ndsets = nsets;
    b->nrecs = calloc(nsets, sizeof *b->nrecs);
    b->off = calloc(nsets, sizeof *b->off);
    b->ids = calloc(nsets, sizeof *b->ids);
    if (!b->nrecs || !b->off || !b->ids)
        return -1;
    for (size_t d = 0; d < nsets; d++) {
        size_t cnt = fh->goff[d + 1] - fh->goff[d];
        b->nrecs[d] = cnt;
        b->off[d] = calloc(cnt + 1, sizeof **b->off);
        b->ids[d] = malloc((cnt * nr > 0 ? cnt * nr : 1) * sizeof **b->ids);
        if (!b->off[d] || !b->ids[d])
            return -1;
        size_t o = 0;
        for (size_t r = 0; r < cnt; r++) {
            uint32_t *ids = b->ids[d] + o;
            size_t k = 0;
            for (size_t q = 0; q < nr; q++) {
                uint64_t key = rule_key(fh, fh->goff[d] + r, rules[q], (unsigned)q);
                if (!key)
                    continue;
                kslot *s = ktab_get(t, key);
                if (!s->key) {
                    s->key = key;
                    s->id = next++;
                }
                ids[k++] = s->id;
            }
            qsort(ids, k, sizeof *ids, cmp_u32);
            size_t u = 0;
            for (size_t q = 0; q < k; q++)
                if (!u || ids[q] != ids[u - 1])
                    ids[u++] = ids[q];
            o += u;
            b->off[d][r + 1] = o;
        }
    }
    b->nblocks = next;
    return 0;
}

static int build_blocks(const fhash *fh, size_t nsets, const uint64_t *rules, size_t nr,
                        bl_blocking *b)
{
    /* every record may open a block per rule: room for all keys at half load */
    ktab tab = {0}, *t = &tab;
    tab.cap = 64;
    while (tab.cap < 2 * fh->nrec * nr + 64)
        tab.cap *= 2;
    if (!(tab.s = calloc(tab.cap, sizeof *tab.s)))
        return -1;
    int rc = fill_blocks(fh, nsets, rules, nr, t, b);
    free(tab.s);
    return rc;
}

/* The field layout of the inputs (from the first) with libsodium ready
 * for the keyed block hashes: the start of both blocking paths. */
static bl_status open_fields(const bl_clkset *const *sets, bl_fieldset *fs, bl_error *err)
{
    bl_status st = bl_fieldset_from_clkset(sets[0], "input 1", fs, err);
    if (st != BL_OK)
        return st;
    if (bl_init() != BL_OK) {
        bl_fieldset_clear(fs);
        return bl_error_set(err, BL_ECRYPTO, "libsodium failed to initialise");
    }
    return BL_OK;
}

bl_status bli_model_field_blocking(const bl_clkset *const *sets, size_t nsets, bl_blocking **small,
                                   bl_blocking **big, double *pairs, bl_error *err)
{
    *small = *big = NULL;
    *pairs = 0;
    if (nsets > 64)
        return BL_OK;
    bl_fieldset fs;
    bl_status st = open_fields(sets, &fs, err);
    if (st != BL_OK)
        return st;
    fhash fh = {0};
    ktab t = {0};
    int fail = field_hashes(sets, nsets, &fs, &fh, bli_match_threads(0));
    bl_fieldset_clear(&fs);
    t.cap = 64;
    while (t.cap < 2 * fh.nrec + 64)
        t.cap *= 2;
    if (!fail)
        fail = !(t.s = malloc(t.cap * sizeof *t.s));
    uint64_t rs[MAX_RULES], rb[MAX_RULES];
    size_t ns = 0, nb = 0;
    double all = 0;
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = x + 1; y < nsets; y++)
            all += (double)sets[x]->count * (double)sets[y]->count;
    if (!fail)
        choose_rules(&fh, nsets, &t, rs, &ns, rb, &nb, pairs);
    /* no usable rule, or the rules compare nearly everything: exhaustive */
    if (!fail && ns + nb && *pairs < all / 4) {
        if (ns)
            fail |= !(*small = calloc(1, sizeof **small)) ||
                    build_blocks(&fh, nsets, rs, ns, *small) != 0;
        if (nb && !fail)
            fail |=
                !(*big = calloc(1, sizeof **big)) || build_blocks(&fh, nsets, rb, nb, *big) != 0;
    }
    free(fh.h);
    free(t.s);
    if (fail) {
        bl_blocking_free(*small);
        bl_blocking_free(*big);
        *small = *big = NULL;
        return bl_error_set(err, BL_ENOMEM, "out of memory for field blocks");
    }
    return BL_OK;
}

/* Union of two candidate lists (a pair in both once, the first's score),
 * in anonlink order. Frees both; *out is the merged list. */
static bl_status merge_candidates(bl_candidate *x, size_t nx, bl_candidate *y, size_t ny,
                                  bl_candidate **out, size_t *n, bl_error *err)
{
    bl_candidate *v = realloc(x, (nx + ny ? nx + ny : 1) * sizeof *v);
    if (!v) {
        free(x);
        free(y);
        return bl_error_set(err, BL_ENOMEM, "out of memory merging %zu candidates", nx + ny);
    }
    if (ny)
        memcpy(v + nx, y, ny * sizeof *v);
    free(y);
    size_t tot = nx + ny, o = 0;
    if (tot)
        qsort(v, tot, sizeof *v, bli_candidate_key_cmp);
    for (size_t i = 0; i < tot; i++)
        if (!o || bli_candidate_key_cmp(&v[i], &v[o - 1]))
            v[o++] = v[i];
    bl_candidates_sort(v, o);
    *out = v;
    *n = o;
    return BL_OK;
}

/* ---- Streamed candidates (the default path) ------------------------------
 *
 * The same rules and the same candidates as the blocks above through the
 * match layer, without its memory: that path stores every pair of the big
 * rules above Dice 0.5 before the top-k cut (100K: 3.1 GB peak; 1M would
 * not fit), plus a block-id list per record and a radix sort of them. Here
 * each rule's records are sorted by key once (radix sort: rule costs come
 * from the same sorted arrays, no hash table), every record of the first
 * dataset of a pair looks up its group in the other by an index made by a
 * merge of the sorted keys, and its candidates are generated in one go: the
 * distinct partners of its small rules (all kept at the block threshold)
 * and of its big rules (Dice >= BIG_RULE_MIN_DICE, best top_k by a bounded
 * selection). Records are split in chunks over threads, each chunk writes
 * its own list, and the lists are joined in chunk order: the result does
 * not depend on the thread count. The other side's top-k (anonlink's
 * enforce_k after the one-sided cut, which keeps a pair while its second
 * record has fewer than k better ones) is applied to the big pairs, per
 * record of the second dataset. */
#define GROUP_NONE UINT32_MAX
#define CHUNK_RECS 512

/* One rule over one dataset: records with a key, grouped by key. */
typedef struct dindex {
    uint32_t *rec;    /* grouped by key, ascending record inside a group */
    uint32_t *gstart; /* ngroups + 1 offsets into rec */
    uint64_t *gkey;   /* the groups' keys, ascending */
    size_t ngroups;
} dindex;

typedef struct srule {
    uint64_t mask;
    int big;
    double cost;
    dindex *di;     /* per dataset */
    uint32_t **map; /* per dataset pair x < y (pair index): group in y of each record of x */
} srule;

static void dindex_free(dindex *d)
{
    free(d->rec);
    free(d->gstart);
    free(d->gkey);
    memset(d, 0, sizeof *d);
}

/* LSD radix sort by key, 16-bit digits (stable: records stay ascending). */
int bl_keyrec_sort(bl_keyrec *v, size_t n)
{
    bl_keyrec *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t *cnt = malloc(65537 * sizeof *cnt);
    if (!tmp || !cnt) {
        free(tmp);
        free(cnt);
        return -1;
    }
    bl_keyrec *src = v, *dst = tmp;
    for (int sh = 0; sh < 64; sh += 16) {
        memset(cnt, 0, 65537 * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i].key >> sh & 0xffff) + 1]++;
        for (size_t i = 1; i <= 65536; i++)
            cnt[i] += cnt[i - 1];
        for (size_t i = 0; i < n; i++)
            dst[cnt[src[i].key >> sh & 0xffff]++] = src[i];
        bl_keyrec *sw = src;
        src = dst;
        dst = sw;
    }
    /* four passes: the result is back in v */
    free(tmp);
    free(cnt);
    return 0;
}

static int dindex_build(const fhash *fh, size_t d, uint64_t mask, dindex *di)
{
    memset(di, 0, sizeof *di);
    const size_t g0 = fh->goff[d], n = fh->goff[d + 1] - g0;
    bl_keyrec *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return -1;
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        uint64_t k = rule_key(fh, g0 + r, mask, 0);
        if (k) {
            v[m].key = k;
            v[m].rec = (uint32_t)r;
            v[m++].pad = 0;
        }
    }
    size_t ng = 0;
    if (bl_keyrec_sort(v, m) != 0) {
        free(v);
        return -1;
    }
    for (size_t i = 0; i < m; i++)
        ng += !i || v[i].key != v[i - 1].key;
    di->rec = malloc((m ? m : 1) * sizeof *di->rec);
    di->gstart = malloc((ng + 1) * sizeof *di->gstart);
    di->gkey = malloc((ng ? ng : 1) * sizeof *di->gkey);
    if (!di->rec || !di->gstart || !di->gkey) {
        free(v);
        dindex_free(di);
        return -1;
    }
    size_t g = 0;
    for (size_t i = 0; i < m; i++) {
        if (!i || v[i].key != v[i - 1].key) {
            di->gkey[g] = v[i].key;
            di->gstart[g++] = (uint32_t)i;
        }
        di->rec[i] = v[i].rec;
    }
    di->gstart[ng] = (uint32_t)m;
    di->ngroups = ng;
    free(v);
    return 0;
}

/* Cross pairs of a rule: the product of the sizes of equal-key groups. */
static double dindex_pairs(const dindex *x, const dindex *y)
{
    double p = 0;
    for (size_t i = 0, j = 0; i < x->ngroups && j < y->ngroups;) {
        if (x->gkey[i] < y->gkey[j]) {
            i++;
        } else if (x->gkey[i] > y->gkey[j]) {
            j++;
        } else {
            p += (double)(x->gstart[i + 1] - x->gstart[i]) * (double)(y->gstart[j + 1] - y->gstart[j]);
            i++;
            j++;
        }
    }
    return p;
}

/* map[r] = group in y of record r of x (GROUP_NONE: no partner under the rule). */
static uint32_t *dindex_map(const dindex *x, size_t nx, const dindex *y)
{
    uint32_t *map = malloc((nx ? nx : 1) * sizeof *map);
    if (!map)
        return NULL;
    for (size_t r = 0; r < nx; r++)
        map[r] = GROUP_NONE;
    for (size_t i = 0, j = 0; i < x->ngroups && j < y->ngroups;) {
        if (x->gkey[i] < y->gkey[j]) {
            i++;
        } else if (x->gkey[i] > y->gkey[j]) {
            j++;
        } else {
            for (uint32_t q = x->gstart[i]; q < x->gstart[i + 1]; q++)
                map[x->rec[q]] = (uint32_t)j;
            i++;
            j++;
        }
    }
    return map;
}

/* Rule evaluation: each candidate rule's indexes and its cost, rules taken
 * by the threads one at a time; a rule over `keep` pairs is freed at once. */
typedef struct ruleeval {
    const fhash *fh;
    size_t nsets;
    const uint64_t *mask;
    size_t n;
    double keep;
    dindex *di;   /* n * nsets */
    double *cost; /* n; < 0: out of memory */
    atomic_size_t next;
} ruleeval;

static void *rule_worker(void *arg)
{
    ruleeval *e = arg;
    for (size_t q; (q = atomic_fetch_add(&e->next, 1)) < e->n;) {
        dindex *di = e->di + q * e->nsets;
        int fail = 0;
        for (size_t d = 0; d < e->nsets; d++)
            fail |= dindex_build(e->fh, d, e->mask[q], &di[d]);
        double c = 0;
        for (size_t x = 0; !fail && x < e->nsets; x++)
            for (size_t y = x + 1; y < e->nsets; y++)
                c += dindex_pairs(&di[x], &di[y]);
        e->cost[q] = fail ? -1 : c;
        if (fail || c > e->keep)
            for (size_t d = 0; d < e->nsets; d++)
                dindex_free(&di[d]);
    }
    return NULL;
}

/* Run fn(arg) on nt threads (the caller is one of them). */
static void run_threads(int nt, void *(*fn)(void *), void *arg)
{
    pthread_t th[64];
    int made[64] = {0};
    if (nt > 64)
        nt = 64;
    for (int i = 1; i < nt; i++)
        made[i] = pthread_create(&th[i], NULL, fn, arg) == 0;
    fn(arg);
    for (int i = 1; i < nt; i++)
        if (made[i])
            pthread_join(th[i], NULL);
}

static int eval_rules(const fhash *fh, size_t nsets, const uint64_t *mask, size_t n, double keep,
                      int nt, dindex *di, double *cost)
{
    ruleeval e = {.fh = fh, .nsets = nsets, .mask = mask, .n = n, .keep = keep, .di = di, .cost = cost};
    atomic_init(&e.next, 0);
    run_threads(nt, rule_worker, &e);
    for (size_t q = 0; q < n; q++)
        if (cost[q] < 0)
            return -1;
    return 0;
}

static void srules_free(srule *r, size_t nr, size_t nsets)
{
    for (size_t q = 0; q < nr; q++) {
        for (size_t d = 0; r[q].di && d < nsets; d++)
            dindex_free(&r[q].di[d]);
        for (size_t p = 0; r[q].map && p < nsets * (nsets - 1) / 2; p++)
            free(r[q].map[p]);
        free(r[q].di);
        free(r[q].map);
    }
    free(r);
}

/* The rules of choose_rules (same classes and budgets), from sorted
 * indexes: single fields first, then conjunctions of two fields that are
 * not small alone. *rules gets the kept ones, small first. */
static int select_rules(const fhash *fh, size_t nsets, int nt, srule **rules, size_t *nr, double *pairs)
{
    const double sb = BLOCK_SMALL * (double)fh->nrec, bb = BLOCK_BIG * (double)fh->nrec;
    const size_t nf = fh->nf;
    uint64_t mask[MAX_RULES * 2];
    double cost[MAX_RULES * 2];
    size_t nm = 0;
    *rules = NULL;
    *nr = 0;
    *pairs = 0;
    for (size_t f = 0; f < nf && nm < MAX_RULES; f++)
        mask[nm++] = 1ULL << f;
    const size_t nsingle = nm;
    dindex *di = calloc(MAX_RULES * 2 * nsets, sizeof *di);
    srule *r = calloc(MAX_RULES * 2, sizeof *r);
    int fail = !di || !r || eval_rules(fh, nsets, mask, nsingle, bb, nt, di, cost) != 0;
    uint64_t small_single = 0;
    for (size_t q = 0; !fail && q < nsingle; q++)
        if (cost[q] <= sb)
            small_single |= mask[q];
    for (size_t f = 0; !fail && f < nf; f++)
        for (size_t g = f + 1; g < nf && nm < 2 * MAX_RULES; g++)
            if (!(small_single >> f & 1) && !(small_single >> g & 1))
                mask[nm++] = 1ULL << f | 1ULL << g;
    if (!fail)
        fail = eval_rules(fh, nsets, mask + nsingle, nm - nsingle, sb, nt, di + nsingle * nsets,
                          cost + nsingle) != 0;
    /* small rules first (singles, then conjunctions), then big singles;
     * MAX_RULES of each class at most, as choose_rules */
    size_t ns = 0, nb = 0, k = 0;
    for (int pass = 0; pass < 2 && !fail; pass++)
        for (size_t q = 0; q < nm; q++) {
            int small = cost[q] <= sb, big = q < nsingle && !small && cost[q] <= bb;
            if (!(pass == 0 ? small && ns < MAX_RULES : big && nb < MAX_RULES))
                continue;
            ns += pass == 0;
            nb += pass == 1;
            *pairs += cost[q];
            r[k].mask = mask[q];
            r[k].big = pass == 1;
            r[k].cost = cost[q];
            r[k].di = malloc(nsets * sizeof *r[k].di);
            if (!r[k].di) {
                fail = 1;
                break;
            }
            memcpy(r[k].di, di + q * nsets, nsets * sizeof *di);
            memset(di + q * nsets, 0, nsets * sizeof *di);
            k++;
        }
    for (size_t q = 0; di && q < nm * nsets; q++)
        dindex_free(&di[q]);
    free(di);
    if (fail) {
        if (r)
            srules_free(r, k, nsets);
        return -1;
    }
    *rules = r;
    *nr = k;
    return 0;
}

/* A candidate of the streamed path: records, AND-count, classes. */
#define FROM_SMALL 1u
#define FROM_BIG 2u
typedef struct mcand {
    uint32_t a, b, cnt, flag, key;
} mcand;

typedef struct chunkbuf {
    mcand *v;
    size_t n, cap;
} chunkbuf;

typedef struct gen {
    const srule *r;
    size_t nr, p, y; /* pair index and second dataset */
    const bl_clkset *sa, *sb;
    const uint32_t *popa, *popb;
    const bl_kernel *k;
    size_t nbytes;
    const uint32_t *cmin_s, *cmin_b;
    uint32_t topk;
    const uint32_t *ord; /* the first dataset's records in processing order */
    const uint32_t *kbase, *bkey; /* block key of rule q's group j in y: bkey[kbase[q] + j] */
    size_t nchunks;
    chunkbuf *out;
    atomic_size_t next;
    atomic_int failed;
} gen;

typedef struct gsel {
    double score;
    uint32_t b, cnt, key;
} gsel;

/* Per-thread scratch, indexed by record of the second dataset. */
typedef struct gscratch {
    uint32_t *stamp_s, *stamp_b, *cnt, *spos;
    uint32_t *list, *lkey; /* partners and the block key that found each */
    gsel *sel;
    size_t cap, kcap, selcap;
} gscratch;

static int push_cand(chunkbuf *o, uint32_t a, uint32_t b, uint32_t cnt, uint32_t flag, uint32_t key)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? 2 * o->cap : 1024;
        mcand *v = realloc(o->v, nc * sizeof *v);
        if (!v)
            return -1;
        o->v = v;
        o->cap = nc;
    }
    o->v[o->n++] = (mcand){a, b, cnt, flag, key};
    return 0;
}

static int grow_u32(uint32_t **v, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    uint32_t *p = realloc(*v, nc * sizeof *p);
    if (!p)
        return -1;
    *v = p;
    *cap = nc;
    return 0;
}

/* Distinct partners of record a under the rules of one class, into
 * s->list (order: rules, then group order: deterministic); *n their count. */
static int gather(const gen *g, gscratch *s, size_t a, int big, uint32_t *stamp, size_t *n)
{
    const uint32_t tag = (uint32_t)a + 1;
    size_t m = 0;
    for (size_t q = 0; q < g->nr; q++) {
        if (g->r[q].big != big)
            continue;
        uint32_t grp = g->r[q].map[g->p][a];
        if (grp == GROUP_NONE)
            continue;
        const dindex *d = &g->r[q].di[g->y];
        const uint32_t lo = d->gstart[grp], hi = d->gstart[grp + 1];
        if (grow_u32(&s->list, &s->cap, m + (hi - lo)) != 0 ||
            grow_u32(&s->lkey, &s->kcap, m + (hi - lo)) != 0)
            return -1;
        const uint32_t key = g->bkey ? g->bkey[g->kbase[q] + grp] : 0;
        for (uint32_t i = lo; i < hi; i++) {
            uint32_t b = d->rec[i];
            if (stamp[b] != tag) {
                stamp[b] = tag;
                s->lkey[m] = key;
                s->list[m++] = b;
            }
        }
    }
    *n = m;
    return 0;
}

/* AND-counts of a with the listed partners (except those whose count is
 * already known: known[b] == tag), prefetching the partners a few ahead. */
static void count_list(const gen *g, gscratch *s, const uint8_t *fa, size_t n, const uint32_t *known,
                       uint32_t tag)
{
    enum { AHEAD = 6 };
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n) {
            const char *p = (const char *)bl_clkset_get(g->sb, s->list[i + AHEAD]);
            for (size_t o = 0; o < g->nbytes; o += 64)
                __builtin_prefetch(p + o);
        }
        uint32_t b = s->list[i];
        if (!known || known[b] != tag)
            s->cnt[b] = g->k->and_popcount(fa, bl_clkset_get(g->sb, b), g->nbytes);
    }
}

static int gsel_cmp(const void *x, const void *y)
{
    const gsel *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

/* Move the k best of v[0..n) (gsel_cmp order, a total order: the set
 * does not depend on the algorithm) to v[0..k): quickselect, O(n). */
static void select_top(gsel *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n; /* the k-th element lies in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        /* median of three as the pivot, moved to hi - 1 */
        if (gsel_cmp(&v[mid], &v[lo]) < 0) { gsel t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
        if (gsel_cmp(&v[hi - 1], &v[lo]) < 0) { gsel t = v[hi - 1]; v[hi - 1] = v[lo]; v[lo] = t; }
        if (gsel_cmp(&v[mid], &v[hi - 1]) < 0) { gsel t = v[mid]; v[mid] = v[hi - 1]; v[hi - 1] = t; }
        const gsel pv = v[hi - 1];
        size_t st = lo;
        for (size_t i = lo; i + 1 < hi; i++)
            if (gsel_cmp(&v[i], &pv) < 0) {
                gsel t = v[i];
                v[i] = v[st];
                v[st++] = t;
            }
        v[hi - 1] = v[st];
        v[st] = pv;
        /* v[lo..st) before the pivot, v[st] the pivot, the rest after */
        if (st == k || st + 1 == k)
            return;
        if (st > k)
            hi = st;
        else
            lo = st + 1;
    }
}

static double dice_cnt(uint32_t c, uint32_t pa, uint32_t pb)
{
    return (double)(2u * c) / (double)(pa + pb);
}

/* Candidates of record a: the small rules' partners at the block
 * threshold, then the big rules' best top_k at BIG_RULE_MIN_DICE (a pair
 * of both classes is one entry with both flags). */
static int record_cands(const gen *g, gscratch *s, size_t a, chunkbuf *o)
{
    const uint32_t tag = (uint32_t)a + 1, pa = g->popa[a];
    const uint8_t *fa = bl_clkset_get(g->sa, a);
    size_t n;
    if (gather(g, s, a, 0, s->stamp_s, &n) != 0)
        return -1;
    count_list(g, s, fa, n, NULL, tag);
    for (size_t i = 0; i < n; i++) {
        uint32_t b = s->list[i], c = s->cnt[b];
        s->spos[b] = GROUP_NONE;
        if (c >= g->cmin_s[pa + g->popb[b]]) {
            s->spos[b] = (uint32_t)o->n;
            if (push_cand(o, (uint32_t)a, b, c, FROM_SMALL, s->lkey[i]) != 0)
                return -1;
        }
    }
    if (gather(g, s, a, 1, s->stamp_b, &n) != 0)
        return -1;
    count_list(g, s, fa, n, s->stamp_s, tag);
    if (n > s->selcap) {
        gsel *v = realloc(s->sel, n * sizeof *v);
        if (!v)
            return -1;
        s->sel = v;
        s->selcap = n;
    }
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b = s->list[i], c = s->cnt[b], pb = g->popb[b];
        if (c >= g->cmin_b[pa + pb])
            s->sel[ns++] = (gsel){dice_cnt(c, pa, pb), b, c, s->lkey[i]};
    }
    if (ns > g->topk) {
        select_top(s->sel, ns, g->topk);
        ns = g->topk;
    }
    for (size_t i = 0; i < ns; i++) {
        uint32_t b = s->sel[i].b;
        if (s->stamp_s[b] == tag && s->spos[b] != GROUP_NONE)
            o->v[s->spos[b]].flag |= FROM_BIG;
        else if (push_cand(o, (uint32_t)a, b, s->sel[i].cnt, FROM_BIG, s->sel[i].key) != 0)
            return -1;
    }
    return 0;
}

static void *gen_worker(void *arg)
{
    gen *g = arg;
    const size_t nb = g->sb->count ? g->sb->count : 1;
    gscratch s = {0};
    s.stamp_s = calloc(nb, sizeof *s.stamp_s);
    s.stamp_b = calloc(nb, sizeof *s.stamp_b);
    s.cnt = malloc(nb * sizeof *s.cnt);
    s.spos = malloc(nb * sizeof *s.spos);
    int fail = !s.stamp_s || !s.stamp_b || !s.cnt || !s.spos;
    for (size_t ch; !fail && (ch = atomic_fetch_add(&g->next, 1)) < g->nchunks;) {
        size_t a1 = (ch + 1) * CHUNK_RECS;
        if (a1 > g->sa->count)
            a1 = g->sa->count;
        for (size_t i = ch * CHUNK_RECS; !fail && i < a1; i++)
            fail = record_cands(g, &s, g->ord[i], &g->out[ch]) != 0;
        if (atomic_load_explicit(&g->failed, memory_order_relaxed))
            break;
    }
    if (fail)
        atomic_store(&g->failed, 1);
    free(s.stamp_s);
    free(s.stamp_b);
    free(s.cnt);
    free(s.spos);
    free(s.list);
    free(s.lkey);
    free(s.sel);
    return NULL;
}

typedef struct bitem {
    double score;
    uint32_t a;
    mcand *e;
} bitem;

static int bitem_cmp(const void *x, const void *y)
{
    const bitem *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->a > b->a) - (a->a < b->a);
}

/* The second side of anonlink's top-k on the big pairs: a record of the
 * second dataset keeps its best top_k (score, then first record). Only
 * records over the limit are sorted. */
static int cut_second_side(const gen *g)
{
    const size_t nb = g->sb->count;
    uint32_t *cnt = calloc(nb ? nb : 1, sizeof *cnt);
    size_t *off = calloc(nb + 1, sizeof *off);
    if (!cnt || !off) {
        free(cnt);
        free(off);
        return -1;
    }
    for (size_t ch = 0; ch < g->nchunks; ch++)
        for (size_t i = 0; i < g->out[ch].n; i++)
            if (g->out[ch].v[i].flag & FROM_BIG)
                cnt[g->out[ch].v[i].b]++;
    for (size_t b = 0; b < nb; b++)
        off[b + 1] = off[b] + (cnt[b] > g->topk ? cnt[b] : 0);
    bitem *it = off[nb] ? malloc(off[nb] * sizeof *it) : NULL;
    if (off[nb] && !it) {
        free(cnt);
        free(off);
        return -1;
    }
    memset(cnt, 0, (nb ? nb : 1) * sizeof *cnt);
    for (size_t ch = 0; off[nb] && ch < g->nchunks; ch++)
        for (size_t i = 0; i < g->out[ch].n; i++) {
            mcand *e = &g->out[ch].v[i];
            if ((e->flag & FROM_BIG) && off[e->b + 1] > off[e->b])
                it[off[e->b] + cnt[e->b]++] =
                    (bitem){dice_cnt(e->cnt, g->popa[e->a], g->popb[e->b]), e->a, e};
        }
    for (size_t b = 0; b < nb; b++) {
        size_t m = off[b + 1] - off[b];
        if (!m)
            continue;
        qsort(it + off[b], m, sizeof *it, bitem_cmp);
        for (size_t i = g->topk; i < m; i++)
            it[off[b] + i].e->flag &= ~FROM_BIG;
    }
    free(it);
    free(cnt);
    free(off);
    return 0;
}

static uint32_t *set_pops(const bl_kernel *k, const bl_clkset *s, size_t nbytes)
{
    uint32_t *p = malloc((s->count ? s->count : 1) * sizeof *p);
    for (size_t i = 0; p && i < s->count; i++)
        p[i] = k->popcount(bl_clkset_get(s, i), nbytes);
    return p;
}

/* The groups of d (nrec records) by their smallest record: group keys
 * come from a hash with a fresh random key, so their own order changes
 * from run to run, and this one does not. by[k] = group of rank k (records
 * ascend within a group and each is in one group at most). */
static uint32_t *groups_by_first(const dindex *d, size_t nrec)
{
    uint32_t *first = malloc((nrec ? nrec : 1) * sizeof *first);
    uint32_t *by = malloc((d->ngroups ? d->ngroups : 1) * sizeof *by);
    if (!first || !by) {
        free(first);
        free(by);
        return NULL;
    }
    for (size_t r = 0; r < nrec; r++)
        first[r] = GROUP_NONE;
    for (size_t j = 0; j < d->ngroups; j++)
        first[d->rec[d->gstart[j]]] = (uint32_t)j;
    for (size_t r = 0, k = 0; r < nrec; r++)
        if (first[r] != GROUP_NONE)
            by[k++] = first[r];
    free(first);
    return by;
}

/* Processing order of the records of dataset x: grouped by the key of the
 * biggest big rule (groups by their smallest record), so that consecutive
 * records share that rule's partner group and find its records in cache
 * (100K: about 860 partners per record to compare, most of them from one
 * rule); records without that key last. The set of candidates and their
 * anonlink order do not depend on it; the block order keeps it within a
 * block. */
static uint32_t *process_order(const srule *r, size_t nr, size_t x, size_t n)
{
    uint32_t *ord = malloc((n ? n : 1) * sizeof *ord);
    if (!ord)
        return NULL;
    const srule *best = NULL;
    for (size_t q = 0; q < nr; q++)
        if (r[q].big && (!best || r[q].cost > best->cost))
            best = &r[q];
    if (!best) {
        for (size_t i = 0; i < n; i++)
            ord[i] = (uint32_t)i;
        return ord;
    }
    const dindex *d = &best->di[x];
    uint8_t *seen = calloc(n ? n : 1, 1);
    uint32_t *by = groups_by_first(d, n);
    if (!seen || !by) {
        free(ord);
        free(seen);
        free(by);
        return NULL;
    }
    size_t o = 0;
    for (size_t k = 0; k < d->ngroups; k++)
        for (uint32_t i = d->gstart[by[k]]; i < d->gstart[by[k] + 1]; i++) {
            seen[d->rec[i]] = 1;
            ord[o++] = d->rec[i];
        }
    for (size_t i = 0; i < n; i++)
        if (!seen[i])
            ord[o++] = (uint32_t)i;
    free(seen);
    free(by);
    return ord;
}

/* Block keys of the rules' groups in dataset y (ny records): group j of
 * rule q is key[base[q] + j], the rules in order and each rule's groups by
 * their smallest record (groups_by_first); *nkeys of them, 0 when they do
 * not fit 32 bits (then no block order). NULL when out of memory. */
static uint32_t *block_keys(const srule *r, size_t nr, size_t y, size_t ny, uint32_t *base,
                            size_t *nkeys)
{
    size_t sum = 0;
    for (size_t q = 0; q < nr && sum < UINT32_MAX; q++) {
        base[q] = (uint32_t)sum;
        sum += r[q].di[y].ngroups;
    }
    *nkeys = sum < UINT32_MAX ? sum : 0;
    uint32_t *key = calloc(*nkeys ? *nkeys : 1, sizeof *key);
    for (size_t q = 0; key && q < nr && *nkeys; q++) {
        uint32_t *by = groups_by_first(&r[q].di[y], ny);
        if (!by) {
            free(key);
            return NULL;
        }
        for (size_t k = 0; k < r[q].di[y].ngroups; k++)
            key[base[q] + by[k]] = base[q] + (uint32_t)k;
        free(by);
    }
    return key;
}

/* One thread's share of join_chunks: with keys, the candidates of keys
 * [klo, khi) (each thread scans every chunk and writes only its keys'
 * slots, so the order within a key is the chunks' order); without, chunks
 * [klo, khi) from dst[o]. The last reader of a chunk frees it, so the
 * peak stays near the candidates once plus a few chunks. */
typedef struct joinjob {
    gen *g;
    bl_candidate *dst;
    size_t *pos;         /* key -> next slot (only this job's keys are touched) */
    atomic_int *readers; /* per chunk: jobs still to read it */
    size_t klo, khi, o;
    uint32_t x, y;
} joinjob;

static void *join_worker(void *arg)
{
    joinjob *j = arg;
    gen *g = j->g;
    const size_t c0 = j->pos ? 0 : j->klo, c1 = j->pos ? g->nchunks : j->khi;
    size_t o = j->o;
    for (size_t ch = c0; ch < c1; ch++) {
        const chunkbuf *b = &g->out[ch];
        for (size_t i = 0; i < b->n; i++) {
            const mcand *e = &b->v[i];
            if (!e->flag || (j->pos && (e->key < j->klo || e->key >= j->khi)))
                continue;
            const size_t at = j->pos ? j->pos[e->key]++ : o++;
            j->dst[at] = (bl_candidate){
                dice_cnt(e->cnt, g->popa[e->a], g->popb[e->b]), {j->x, j->y}, {e->a, e->b}};
        }
        if (atomic_fetch_sub(&j->readers[ch], 1) == 1) {
            free(g->out[ch].v);
            g->out[ch].v = NULL;
        }
    }
    return NULL;
}

/* Room for `add` more candidates. Why the first allocation is our own: the
 * list is hundreds of MB written in block order (scattered), and on 4 KB
 * pages its first touch and TLB misses were most of the join's time. */
static int join_room(bl_candidate **all, size_t nall, size_t add, size_t *cap)
{
    if (nall + add <= *cap)
        return 0;
    bl_candidate *v =
        *all ? realloc(*all, (nall + add) * sizeof *v) : bli_aligned_alloc(add * sizeof *v);
    if (!v)
        return -1;
    *all = v;
    *cap = nall + add;
    return 0;
}

/* The chunks' kept candidates appended to *all: in block order (key by
 * key) when there are keys, in record order when not; split between the
 * threads by equal shares of candidates. */
static int join_chunks(gen *g, size_t x, size_t y, size_t nkeys, int nt, bl_candidate **all,
                       size_t *nall, size_t *cap)
{
    size_t *cnt = calloc((nkeys ? nkeys : g->nchunks) + 1, sizeof *cnt);
    if (!cnt)
        return -1;
    for (size_t ch = 0; ch < g->nchunks; ch++)
        for (size_t i = 0; i < g->out[ch].n; i++)
            if (g->out[ch].v[i].flag)
                cnt[(nkeys ? g->out[ch].v[i].key : ch) + 1]++;
    const size_t nk = nkeys ? nkeys : g->nchunks;
    for (size_t k = 0; k < nk; k++)
        cnt[k + 1] += cnt[k]; /* start of key (or chunk) k, from *nall */
    const size_t add = cnt[nk];
    if (join_room(all, *nall, add, cap) != 0) {
        free(cnt);
        return -1;
    }
    for (size_t k = 0; k <= nk; k++)
        cnt[k] += *nall;
    if (nt < 1 || add < 4096) /* a few thousand: not worth a thread */
        nt = 1;
    if (nt > 64)
        nt = 64;
    atomic_int *readers = malloc((g->nchunks ? g->nchunks : 1) * sizeof *readers);
    if (!readers) {
        free(cnt);
        return -1;
    }
    for (size_t ch = 0; ch < g->nchunks; ch++)
        atomic_init(&readers[ch], nkeys ? nt : 1); /* with keys every job reads every chunk */
    joinjob jobs[64];
    size_t k = 0;
    for (int t = 0; t < nt; t++) {
        const size_t want = *nall + add * (size_t)(t + 1) / (size_t)nt;
        size_t k1 = t == nt - 1 ? nk : k;
        while (k1 < nk && cnt[k1] < want)
            k1++;
        jobs[t] = (joinjob){g,  *all,   nkeys ? cnt : NULL, readers,    k,
                            k1, cnt[k], (uint32_t)x,        (uint32_t)y};
        k = k1;
    }
    bli_par_run(join_worker, jobs, sizeof *jobs, nt);
    free(readers);
    free(cnt);
    *nall += add;
    return 0;
}

/* Candidates of datasets x < y (pair index p), appended to *all. */
static int stream_pair(const bl_clkset *const *sets, size_t x, size_t y, size_t p, srule *r, size_t nr,
                       const bl_model_link_opts *o, int nt, bl_candidate **all, size_t *nall, size_t *cap)
{
    size_t nkeys = 0;
    const int want = o->order == BL_MODEL_ORDER_BLOCKS;
    uint32_t *kbase = calloc(nr ? nr : 1, sizeof *kbase);
    uint32_t *bkey = want && kbase ? block_keys(r, nr, y, sets[y]->count, kbase, &nkeys) : NULL;
    const size_t blocks = bkey ? nkeys : 0;
    gen g = {.r = r, .nr = nr, .p = p, .y = y, .sa = sets[x], .sb = sets[y], .topk = o->top_k};
    g.k = bli_kernel_active();
    g.nbytes = ((size_t)sets[0]->nbytes + 63) / 64 * 64;
    uint32_t *cs = bli_dice_cmin_table(sets[0]->nbits, o->block_threshold);
    double tb = o->block_threshold > BIG_RULE_MIN_DICE ? o->block_threshold : BIG_RULE_MIN_DICE;
    uint32_t *cb = bli_dice_cmin_table(sets[0]->nbits, tb);
    uint32_t *pa = set_pops(g.k, sets[x], g.nbytes), *pb = set_pops(g.k, sets[y], g.nbytes);
    g.cmin_s = cs;
    g.cmin_b = cb;
    g.popa = pa;
    g.popb = pb;
    g.nchunks = (sets[x]->count + CHUNK_RECS - 1) / CHUNK_RECS;
    g.out = calloc(g.nchunks ? g.nchunks : 1, sizeof *g.out);
    uint32_t *ord = process_order(r, nr, x, sets[x]->count);
    g.ord = ord;
    g.kbase = kbase;
    g.bkey = blocks ? bkey : NULL;
    int fail = !cs || !cb || !pa || !pb || !g.out || !ord || !kbase || (want && !bkey);
    for (size_t q = 0; !fail && q < nr; q++)
        fail = !(r[q].map[p] = dindex_map(&r[q].di[x], sets[x]->count, &r[q].di[y]));
    atomic_init(&g.next, 0);
    atomic_init(&g.failed, 0);
    if (!fail) {
        run_threads(nt, gen_worker, &g);
        fail = atomic_load(&g.failed) || cut_second_side(&g) != 0;
    }
    if (!fail)
        fail = join_chunks(&g, x, y, blocks, nt, all, nall, cap) != 0;
    for (size_t ch = 0; g.out && ch < g.nchunks; ch++)
        free(g.out[ch].v);
    for (size_t q = 0; q < nr; q++) {
        free(r[q].map[p]);
        r[q].map[p] = NULL;
    }
    free(g.out);
    free(ord);
    free(kbase);
    free(bkey);
    free(cs);
    free(cb);
    free(pa);
    free(pb);
    return fail ? -1 : 0;
}

/* The streamed candidates of all dataset pairs; *done = 0 when no rule
 * pays (the caller then compares all pairs). */
static bl_status stream_candidates(const bl_clkset *const *sets, size_t nsets, const bl_model_link_opts *o,
                                   bl_candidate **out, size_t *count, int *done, bl_error *err)
{
    *done = 0;
    if (nsets > 64)
        return BL_OK;
    bl_fieldset fs;
    bl_status st = open_fields(sets, &fs, err);
    if (st != BL_OK)
        return st;
    const int nt = bli_match_threads(o->threads);
    fhash fh = {0};
    srule *r = NULL;
    size_t nr = 0, nall = 0, cap = 0;
    double pairs = 0, all = 0;
    bl_candidate *v = NULL;
    int fail = field_hashes(sets, nsets, &fs, &fh, nt);
    bl_fieldset_clear(&fs);
    if (!fail)
        fail = select_rules(&fh, nsets, nt, &r, &nr, &pairs);
    free(fh.h);
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = x + 1; y < nsets; y++)
            all += (double)sets[x]->count * (double)sets[y]->count;
    /* no usable rule, or the rules compare nearly everything: exhaustive */
    const int use = !fail && nr && pairs < all / 4;
    for (size_t q = 0; use && !fail && q < nr; q++)
        fail = !(r[q].map = calloc(nsets * (nsets - 1) / 2, sizeof *r[q].map));
    for (size_t x = 0, p = 0; use && !fail && x < nsets; x++)
        for (size_t y = x + 1; !fail && y < nsets; y++, p++)
            fail = stream_pair(sets, x, y, p, r, nr, o, nt, &v, &nall, &cap) != 0;
    if (r)
        srules_free(r, nr, nsets);
    if (fail) {
        free(v);
        return bl_error_set(err, BL_ENOMEM, "out of memory for field blocks");
    }
    if (!use)
        return BL_OK;
    if (o->max_candidates && nall > o->max_candidates) {
        free(v);
        return bl_error_set(err, BL_ELIMIT, "more than %zu candidate pairs from the field blocks",
                            o->max_candidates);
    }
    if (o->order != BL_MODEL_ORDER_BLOCKS)
        bl_candidates_sort(v, nall);
    *out = v;
    *count = nall;
    *done = 1;
    return BL_OK;
}

static bl_status model_candidates(const bl_clkset *const *sets, size_t nsets, bl_model_link_opts o,
                                  bl_candidate **out, size_t *count, bl_error *err);

/* The cap's message of the match layer names -t and --top-k, which the
 * model path does not take (match --model refuses them): say what does. */
bl_status bl_model_candidates(const bl_clkset *const *sets, size_t nsets,
                              const bl_model_link_opts *o_in, bl_candidate **out, size_t *count,
                              bl_error *err)
{
    bl_model_link_opts o = {0};
    if (o_in)
        o = *o_in;
    if (!(o.block_threshold > 0))
        o.block_threshold = 0.3;
    /* 100, not 10: with names shared by many people the record-level Dice
     * of a true pair with typos is often beaten by ten other records (synth
     * hard, true pairs kept: 10K top 10 98.3%, top 100 99.4%; 100K with
     * field blocks top 10 95.4%, top 100 98.1%); the model then ranks them
     * (training uses the best 10, train.c) */
    if (!o.top_k)
        o.top_k = 100;
    bl_status st = model_candidates(sets, nsets, o, out, count, err);
    /* only the cap on candidate pairs (other limits, such as records per
     * dataset, keep their own message) */
    if (st == BL_ELIMIT && err && !strncmp(err->msg, "more than ", 10) && strstr(err->msg, "candidate pairs"))
        st = bl_error_set(err, BL_ELIMIT,
                          "more than %zu candidate pairs for the model (it picks its own: the "
                          "best %u per record at record-level Dice >= %g, docs/model.md): "
                          "raise --max-candidates",
                          o.max_candidates ? o.max_candidates : BL_MATCH_DEFAULT_MAX_CANDIDATES,
                          o.top_k, o.block_threshold);
    return st;
}

static bl_status model_candidates(const bl_clkset *const *sets, size_t nsets, bl_model_link_opts o,
                                  bl_candidate **out, size_t *count, bl_error *err)
{
    bl_match_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.threshold = o.block_threshold;
    mo.top_k = o.top_k;
    mo.threads = o.threads;
    mo.max_candidates = o.max_candidates;
    double total = 0;
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = x + 1; y < nsets; y++)
            total += (double)sets[x]->count * (double)sets[y]->count;
    if (o.lsh < 0 || (o.lsh == 0 && total <= 4e9))
        return bl_match_candidates(sets, nsets, &mo, out, count, err);
    /* large inputs: keyed blocks on the field values (above). Pairs of the
     * small rules are all kept (a true pair whose names both changed but
     * whose date of birth or e-mail agrees loses the record-level top-k to
     * people sharing its name: at synth hard 100K top 100 over all rules
     * kept 98.1% of the true pairs); those of the big rules go through
     * top-k. */
    /* BL_MODEL_BLOCK=match: the same candidates through the match layer's
     * external blocks (the reference the streamed path is tested against) */
    const char *via = getenv("BL_MODEL_BLOCK");
    if (!via || strcmp(via, "match")) {
        int done;
        bl_status sst = stream_candidates(sets, nsets, &o, out, count, &done, err);
        if (sst != BL_OK || done)
            return sst;
        return bl_match_candidates(sets, nsets, &mo, out, count, err);
    }
    bl_blocking *small = NULL, *big = NULL;
    double bpairs;
    bl_status st = bli_model_field_blocking(sets, nsets, &small, &big, &bpairs, err);
    if (st != BL_OK)
        return st;
    if (!small && !big)
        return bl_match_candidates(sets, nsets, &mo, out, count, err);
    bl_candidate *cs = NULL, *cb = NULL;
    size_t ncs = 0, ncb = 0;
    if (small) {
        bl_match_opts ms = mo;
        ms.top_k = 0;
        ms.blocking = small;
        st = bl_match_candidates(sets, nsets, &ms, &cs, &ncs, err);
    }
    if (st == BL_OK && big) {
        mo.blocking = big;
        /* the match layer keeps every pair above the threshold of these
         * blocks before cutting the top k: from Dice 0.5, synth hard 100K
         * keeps 99.36% of the true pairs instead of 99.38% at 1.7 GB peak
         * instead of 2.5 GB */
        if (mo.threshold < BIG_RULE_MIN_DICE)
            mo.threshold = BIG_RULE_MIN_DICE;
        st = bl_match_candidates(sets, nsets, &mo, &cb, &ncb, err);
    }
    bl_blocking_free(small);
    bl_blocking_free(big);
    if (st != BL_OK) {
        free(cs);
        free(cb);
        return st;
    }
    return merge_candidates(cs, ncs, cb, ncb, out, count, err);
}
