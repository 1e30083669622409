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
#include <sodium.h>
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

static int field_hashes(const bl_clkset *const *sets, size_t nsets, const bl_fieldset *fs,
                        fhash *fh)
{
    const bl_kernel *k = bli_kernel_active();
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
    for (size_t d = 0; d < nsets; d++)
        for (size_t r = 0; r < sets[d]->count; r++) {
            const uint8_t *rec = bl_clkset_get(sets[d], r);
            uint64_t *out = fh->h + (fh->goff[d] + r) * fh->nf;
            for (size_t f = 0; f < fh->nf; f++) {
                const uint8_t *p = rec + fs->offset[f] / 8;
                const size_t nb = (fs->bits[f] + 7) / 8;
                unsigned char hv[crypto_shorthash_BYTES];
                out[f] = 0;
                if (!k->popcount(p, nb))
                    continue;
                crypto_shorthash(hv, p, nb, key);
                memcpy(&out[f], hv, sizeof out[f]);
                out[f] = mix64(out[f] ^ f) | 1;
            }
        }
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

bl_status bli_model_field_blocking(const bl_clkset *const *sets, size_t nsets, bl_blocking **small,
                                   bl_blocking **big, double *pairs, bl_error *err)
{
    *small = *big = NULL;
    *pairs = 0;
    if (nsets > 64)
        return BL_OK;
    bl_fieldset fs;
    bl_status st = bl_fieldset_from_clkset(sets[0], "input 1", &fs, err);
    if (st != BL_OK)
        return st;
    if (bl_init() != BL_OK) {
        bl_fieldset_clear(&fs);
        return bl_error_set(err, BL_ECRYPTO, "libsodium failed to initialise");
    }
    fhash fh = {0};
    ktab t = {0};
    int fail = field_hashes(sets, nsets, &fs, &fh);
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
