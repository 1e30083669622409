/* lib/attack/pattern.c - the pattern-mining attack after Christen,
 * Ranbaduge, Vatsalan and Schnell ("Precise and fast cryptanalysis for
 * Bloom filter based privacy-preserving record linkage", IEEE TKDE 2019;
 * PAKDD 2017): the bit positions a q-gram hashes to are set together in
 * every filter of a record holding that q-gram, so they form a frequent
 * co-occurring bit pattern whose support matches the q-gram's frequency in
 * the plaintext. Per segment (field or whole record):
 *  1. q-gram frequencies from the attacker's plaintext (tokens as the
 *     encoder makes them, bl_encoder_trace);
 *  2. mining: from the most frequent unassigned position, grow a set of
 *     positions that keep co-occurring (each new position holds >= 75% of
 *     the records holding all before it) - a greedy maximal frequent
 *     itemset; its support names the q-gram of closest frequency;
 *  3. re-identification: a filter holds a q-gram when >= 90% of its pattern
 *     is set; plaintext records are scored by the Dice of their q-gram sets
 *     over the identified q-grams, summed over segments, then greedy 1:1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "attack/attack_internal.h"

#define MAXTOK 64
#define GROW 0.75
#define PRESENT 0.9
#define BL_MAX_U32(a, b) ((a) > (b) ? (a) : (b))

typedef struct tok {
    uint64_t h;
    uint32_t count, ksum, recs;
} tok;

typedef struct trace_ctx {
    uint64_t *h;
    uint32_t *k;
    size_t n, cap;
} trace_ctx;

static void on_token(void *ctx, const bl_token_trace *t)
{
    trace_ctx *c = ctx;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        uint64_t *h = realloc(c->h, nc * sizeof *h);
        uint32_t *k = h ? realloc(c->k, nc * sizeof *k) : NULL;
        if (h)
            c->h = h;
        if (!h || !k)
            return;
        c->k = k;
        c->cap = nc;
    }
    uint8_t buf[8], f = (uint8_t)t->feature;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof buf);
    crypto_generichash_update(&st, &f, 1);
    crypto_generichash_update(&st, (const uint8_t *)t->token, t->token_len);
    crypto_generichash_final(&st, buf, sizeof buf);
    memcpy(&c->h[c->n], buf, 8);
    c->k[c->n++] = t->k;
}

static int cmp_tok_h(const void *x, const void *y)
{
    const tok *a = x, *b = y;
    return (a->h > b->h) - (a->h < b->h);
}

static int cmp_tok_count(const void *x, const void *y)
{
    const tok *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return (a->h > b->h) - (a->h < b->h);
}

/* Token traces of every plaintext record: the most frequent tokens (`top`,
 * at most MAXTOK) and each record's token mask over them (`pmask`). */
static size_t plain_tokens(const atk_ctx *c, const atk_seg *g, tok *top, uint64_t *pmask)
{
    bl_encode_scratch *scr = bl_encode_scratch_new(g->own);
    uint8_t *out = calloc(1, bl_encoder_nbytes(g->own) + 8);
    trace_ctx tc = {0};
    size_t *start = calloc(c->m + 1, sizeof *start), ntop = 0;
    const char *f[BL_SCHEMA_MAX_FEATURES];
    size_t lens[BL_SCHEMA_MAX_FEATURES];
    for (size_t p = 0; scr && out && start && p < c->m; p++) {
        start[p] = tc.n;
        for (size_t i = 0; i < c->nf; i++) {
            f[i] = c->cells[p * c->nf + i];
            lens[i] = strlen(f[i]);
        }
        bl_error e2;
        if (bl_encoder_trace(g->own, scr, f, lens, c->nf, out, on_token, &tc, &e2) != BL_OK)
            tc.n = start[p];
    }
    if (start)
        start[c->m] = tc.n;
    tok *all = malloc((tc.n ? tc.n : 1) * sizeof *all);
    if (all && start && tc.h) {
        for (size_t i = 0; i < tc.n; i++)
            all[i] = (tok){tc.h[i], 1, tc.k[i], 0};
        qsort(all, tc.n, sizeof *all, cmp_tok_h);
        size_t u = 0;
        for (size_t i = 0; i < tc.n; i++) {
            if (u && all[u - 1].h == all[i].h) {
                all[u - 1].count++;
                all[u - 1].ksum += all[i].ksum;
            } else {
                all[u++] = all[i];
            }
        }
        qsort(all, u, sizeof *all, cmp_tok_count);
        for (size_t i = 0; i < u && ntop < MAXTOK; i++)
            if (all[i].count >= 2)
                top[ntop++] = all[i];
        qsort(top, ntop, sizeof *top, cmp_tok_h);
        for (size_t p = 0; p < c->m; p++) {
            pmask[p] = 0;
            for (size_t i = start[p]; i < start[p + 1]; i++) {
                tok key = {tc.h[i], 0, 0, 0};
                tok *t = bsearch(&key, top, ntop, sizeof *top, cmp_tok_h);
                if (t)
                    pmask[p] |= 1ull << (t - top);
            }
        }
        for (size_t i = 0; i < ntop; i++)
            top[i].recs = 0;
        for (size_t p = 0; p < c->m; p++)
            for (size_t i = 0; i < ntop; i++)
                top[i].recs += (pmask[p] >> i) & 1;
    }
    free(all);
    free(tc.h);
    free(tc.k);
    free(start);
    free(out);
    bl_encode_scratch_free(scr);
    return ntop;
}

static size_t and_count(const uint64_t *a, const uint64_t *b, size_t w, uint64_t *dst)
{
    size_t c = 0;
    for (size_t i = 0; i < w; i++) {
        uint64_t x = a[i] & b[i];
        if (dst)
            dst[i] = x;
        c += (size_t)__builtin_popcountll(x);
    }
    return c;
}

/* Grow one pattern from the most frequent free position. Returns its size
 * (0: nothing left); `pat` gets the positions, `*support` the records. */
static size_t mine_one(const uint64_t *cols, size_t nb, size_t w, uint8_t *used, uint64_t *I, uint64_t *tmp,
                       uint32_t *pat, size_t maxpat, size_t *support)
{
    size_t seed = (size_t)-1, best = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t cnt = used[b] ? 0 : and_count(cols + b * w, cols + b * w, w, NULL);
        if (cnt > best) {
            best = cnt;
            seed = b;
        }
    }
    if (seed == (size_t)-1 || best < 2)
        return 0;
    memcpy(I, cols + seed * w, w * sizeof *I);
    size_t n = 0, cur = best;
    pat[n++] = (uint32_t)seed;
    used[seed] = 2;
    while (n < maxpat) {
        size_t bb = (size_t)-1, bc = 0;
        for (size_t b = 0; b < nb; b++) {
            if (used[b])
                continue;
            size_t cnt = and_count(I, cols + b * w, w, NULL);
            if (cnt > bc) {
                bc = cnt;
                bb = b;
            }
        }
        if (bb == (size_t)-1 || (double)bc < GROW * (double)cur)
            break;
        and_count(I, cols + bb * w, w, tmp);
        memcpy(I, tmp, w * sizeof *I);
        cur = bc;
        pat[n++] = (uint32_t)bb;
        used[bb] = 2;
    }
    *support = cur;
    return n;
}

/* Encoded filters' columns (one bitset over the records per position). */
static uint64_t *columns(const bl_clkset *s, const atk_seg *g, size_t w)
{
    uint64_t *cols = calloc((size_t)g->bits * w + 1, sizeof *cols);
    if (!cols)
        return NULL;
    for (size_t r = 0; r < s->count; r++) {
        const uint8_t *b = bl_clkset_get(s, r);
        for (uint32_t j = 0; j < g->bits; j++)
            if (atk_bit(b, g->offset + j))
                cols[(size_t)j * w + r / 64] |= 1ull << (r % 64);
    }
    return cols;
}

typedef struct seg_masks {
    uint64_t *emask, *pmask; /* per record: identified q-grams held */
} seg_masks;

/* Mine patterns in one segment and name them: `em` gets, per encoded
 * record, the identified q-grams whose pattern it holds; `pm` per plaintext
 * record the same q-grams from its tokens. Returns q-grams identified. */
static size_t mine_segment(const atk_ctx *c, const atk_seg *g, uint64_t *em, uint64_t *pm)
{
    const size_t ne = c->enc->count, w = (ne + 63) / 64, nb = g->bits;
    tok top[MAXTOK];
    uint64_t *praw = malloc((c->m ? c->m : 1) * sizeof *praw), *cols = columns(c->enc, g, w);
    uint64_t *I = malloc(w * sizeof *I), *tmp = malloc(w * sizeof *tmp);
    uint8_t *used = calloc(nb ? nb : 1, 1), taken[MAXTOK] = {0};
    uint32_t *pat = malloc(nb * sizeof *pat);
    size_t found = 0;
    memset(em, 0, ne * sizeof *em);
    memset(pm, 0, c->m * sizeof *pm);
    size_t ntop = praw && cols && I && tmp && used && pat ? plain_tokens(c, g, top, praw) : 0;
    uint32_t kmax = 1;
    for (size_t t = 0; t < ntop; t++)
        kmax = BL_MAX_U32(kmax, top[t].ksum / top[t].count);
    for (size_t round = 0; ntop && round < 2 * ntop; round++) {
        size_t sup = 0, np = mine_one(cols, nb, w, used, I, tmp, pat, 2 * kmax + 2, &sup);
        if (!np)
            break;
        /* the q-gram whose plaintext frequency is closest to the support */
        size_t bt = (size_t)-1;
        double bd = INFINITY, fs = (double)sup / (double)ne;
        for (size_t t = 0; t < ntop; t++) {
            double ft = (double)top[t].recs / (double)c->m, d = fabs(log(fs / ft));
            uint32_t k = top[t].ksum / top[t].count;
            if (!taken[t] && np * 2 >= k && d < bd) {
                bd = d;
                bt = t;
            }
        }
        if (bt == (size_t)-1 || bd > log(1.5))
            continue;
        taken[bt] = 1;
        found++;
        for (size_t r = 0; r < ne; r++) {
            size_t have = 0;
            for (size_t i = 0; i < np; i++)
                have += (cols[(size_t)pat[i] * w + r / 64] >> (r % 64)) & 1;
            if ((double)have >= PRESENT * (double)np)
                em[r] |= 1ull << bt;
        }
        for (size_t p = 0; p < c->m; p++)
            pm[p] |= praw[p] & (1ull << bt);
    }
    free(praw);
    free(cols);
    free(I);
    free(tmp);
    free(used);
    free(pat);
    return found;
}

typedef struct score_job {
    const atk_ctx *c;
    const seg_masks *sm;
    bl_attack_guess *best;   /* ne */
} score_job;

static void score_rows(void *ctx, size_t lo, size_t hi)
{
    score_job *J = ctx;
    const atk_ctx *c = J->c;
    for (size_t e = lo; e < hi; e++) {
        double bs = 0, second = 0;
        uint32_t bp = UINT32_MAX;
        for (size_t p = 0; p < c->m; p++) {
            double s = 0;
            for (size_t g = 0; g < c->nseg; g++) {
                uint64_t a = J->sm[g].emask[e], b = J->sm[g].pmask[p];
                int na = __builtin_popcountll(a), nb = __builtin_popcountll(b);
                if (na + nb)
                    s += 2.0 * __builtin_popcountll(a & b) / (na + nb);
            }
            if (s > bs) {
                second = bs;
                bs = s;
                bp = (uint32_t)p;
            } else if (s > second) {
                second = s;
            }
        }
        /* a guess only where one plaintext record stands out */
        J->best[e] = (bl_attack_guess){(uint32_t)e, bp, bs > second ? bs - second + bs * 1e-3 : 0};
    }
}

bl_status atk_pattern(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err)
{
    const size_t ne = c->enc->count;
    seg_masks *sm = calloc(c->nseg, sizeof *sm);
    bl_attack_guess *best = malloc((ne ? ne : 1) * sizeof *best), *out = malloc((ne ? ne : 1) * sizeof *out);
    bl_status st = (!sm || !best || !out) ? bl_error_set(err, BL_ENOMEM, "out of memory") : BL_OK;
    size_t found = 0;
    for (size_t s = 0; st == BL_OK && s < c->nseg; s++) {
        sm[s].emask = malloc((ne ? ne : 1) * sizeof *sm[s].emask);
        sm[s].pmask = malloc((c->m ? c->m : 1) * sizeof *sm[s].pmask);
        if (!sm[s].emask || !sm[s].pmask)
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
        else
            found += mine_segment(c, &c->seg[s], sm[s].emask, sm[s].pmask);
    }
    size_t n = 0, k = 0;
    if (st == BL_OK && found) {
        score_job J = {c, sm, best};
        atk_parallel(c->threads, ne, score_rows, &J);
        for (size_t e = 0; e < ne; e++)
            if (best[e].plain != UINT32_MAX && best[e].score > 0)
                best[n++] = best[e];
        k = atk_greedy(best, n, ne, c->m, out);
    }
    for (size_t s = 0; sm && s < c->nseg; s++) {
        free(sm[s].emask);
        free(sm[s].pmask);
    }
    free(sm);
    free(best);
    if (st != BL_OK) {
        free(out);
        return st;
    }
    *g = out;
    *ng = k;
    return BL_OK;
}
