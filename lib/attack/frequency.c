/* lib/attack/frequency.c - the frequency attack on Bloom-filter encodings
 * (Kuzu, Kantarcioglu, Durham and Malin 2011; Niedermeyer et al. 2014;
 * Christen et al. 2017): identical values give identical filters, so the
 * frequency distribution of the filters of a field mirrors the frequency
 * distribution of its plaintext values. Per segment (a field of the
 * field-level layout, or the whole record):
 *  1. group identical filters (encoded side) and identical values (the
 *     attacker's own encodings: equal own-key filters = equal token sets);
 *  2. align groups seen at least twice by frequency rank, keeping only
 *     alignments whose popcounts agree (same tokens set about as many bits
 *     under any key);
 *  3. re-identify: an encoded record whose aligned values single out one
 *     plaintext record is guessed to be it (greedy 1:1 by how many fields
 *     agree). Works where values repeat and fields stand alone; whole-record
 *     CLKs of distinct people rarely repeat, so it finds little there. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "attack/attack_internal.h"

#define MAX_GROUP_SCAN 4096

typedef struct keyed {
    uint64_t h;
    uint32_t rec;
} keyed;

static int cmp_keyed(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return (a->rec > b->rec) - (a->rec < b->rec);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Group id per record (`gid`), groups sorted by size descending: `gsize`,
 * `gpc` (popcount of the group's filter). Returns the number of groups. */
static size_t group_segment(const bl_clkset *s, const atk_seg *g, uint32_t *gid, uint32_t **gsize, uint32_t **gpc)
{
    size_t n = s->count, nb = (g->bits + 7) / 8, ng = 0;
    keyed *k = malloc((n ? n : 1) * sizeof *k);
    uint32_t *sz = calloc(n ? n : 1, sizeof *sz), *pc = calloc(n ? n : 1, sizeof *pc);
    if (!k || !sz || !pc) {
        free(k);
        free(sz);
        free(pc);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = bl_clkset_get(s, i) + g->offset / 8;
        uint8_t h[8];
        crypto_generichash(h, sizeof h, b, nb, NULL, 0);
        memcpy(&k[i].h, h, 8);
        k[i].rec = (uint32_t)i;
    }
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || k[i].h != k[i - 1].h) {
            const uint8_t *b = bl_clkset_get(s, k[i].rec) + g->offset / 8;
            uint32_t c = 0;
            for (size_t j = 0; j < nb; j++)
                c += (uint32_t)__builtin_popcount(b[j]);
            pc[ng++] = c;
        }
        gid[k[i].rec] = (uint32_t)(ng - 1);
        sz[ng - 1]++;
    }
    /* renumber by size descending (ties: first seen) */
    uint64_t *ord = malloc((ng ? ng : 1) * sizeof *ord);
    uint32_t *ren = malloc((ng ? ng : 1) * sizeof *ren), *s2 = malloc((ng ? ng : 1) * sizeof *s2),
             *p2 = malloc((ng ? ng : 1) * sizeof *p2);
    if (ord && ren && s2 && p2) {
        for (size_t i = 0; i < ng; i++)
            ord[i] = ((uint64_t)(0xffffffffu - sz[i]) << 32) | i;
        qsort(ord, ng, sizeof *ord, cmp_u64);
        for (size_t r = 0; r < ng; r++) {
            uint32_t old = (uint32_t)ord[r];
            ren[old] = (uint32_t)r;
            s2[r] = sz[old];
            p2[r] = pc[old];
        }
        for (size_t i = 0; i < n; i++)
            gid[i] = ren[gid[i]];
        memcpy(sz, s2, ng * sizeof *sz);
        memcpy(pc, p2, ng * sizeof *pc);
    }
    free(ord);
    free(ren);
    free(s2);
    free(p2);
    free(k);
    *gsize = sz;
    *gpc = pc;
    return ng;
}

/* Encoded group -> plaintext group (or UINT32_MAX) by frequency rank: both
 * seen at least twice, relative frequencies within a factor of 2, and
 * popcounts within 10% + 2 bits. */
static void align(const uint32_t *es, const uint32_t *epc, size_t neg, size_t ne, const uint32_t *ps,
                  const uint32_t *ppc, size_t npg, size_t np, uint32_t *map)
{
    for (size_t g = 0; g < neg; g++)
        map[g] = UINT32_MAX;
    for (size_t r = 0; r < neg && r < npg; r++) {
        if (es[r] < 2 || ps[r] < 2)
            break;
        double fe = (double)es[r] / (double)ne, fp = (double)ps[r] / (double)np;
        uint32_t d = epc[r] > ppc[r] ? epc[r] - ppc[r] : ppc[r] - epc[r];
        if (fe < 2 * fp && fp < 2 * fe && d <= ppc[r] / 10 + 2)
            map[r] = (uint32_t)r;
    }
}

typedef struct seg_groups {
    uint32_t *egid, *pgid, *map;
    uint32_t *psize;
} seg_groups;

/* Best plaintext record for encoded record e, or UINT32_MAX: the one that
 * agrees with the most aligned fields, when it is the only one. */
static uint32_t guess_one(const atk_ctx *c, const seg_groups *sg, size_t e, double *score)
{
    size_t rare = (size_t)-1;
    uint32_t rare_sz = UINT32_MAX, nguess = 0;
    for (size_t s = 0; s < c->nseg; s++) {
        uint32_t pg = sg[s].map[sg[s].egid[e]];
        if (pg == UINT32_MAX)
            continue;
        nguess++;
        if (sg[s].psize[pg] < rare_sz) {
            rare_sz = sg[s].psize[pg];
            rare = s;
        }
    }
    if (rare == (size_t)-1 || rare_sz > MAX_GROUP_SCAN)
        return UINT32_MAX;
    uint32_t want = sg[rare].map[sg[rare].egid[e]], best = UINT32_MAX, bestc = 0, ties = 0;
    for (size_t p = 0; p < c->m; p++) { /* scan: groups are small after the rarity check */
        if (sg[rare].pgid[p] != want)
            continue;
        uint32_t agree = 0;
        for (size_t s = 0; s < c->nseg; s++) {
            uint32_t pg = sg[s].map[sg[s].egid[e]];
            agree += pg != UINT32_MAX && sg[s].pgid[p] == pg;
        }
        if (agree > bestc) {
            bestc = agree;
            best = (uint32_t)p;
            ties = 0;
        } else if (agree == bestc) {
            ties++;
        }
    }
    *score = bestc;
    return ties ? UINT32_MAX : best;
}

bl_status atk_frequency(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err)
{
    const size_t ne = c->enc->count, np = c->m;
    seg_groups *sg = calloc(c->nseg, sizeof *sg);
    bl_attack_guess *pairs = malloc((ne ? ne : 1) * sizeof *pairs), *out = malloc((ne ? ne : 1) * sizeof *out);
    bl_status st = (!sg || !pairs || !out) ? bl_error_set(err, BL_ENOMEM, "out of memory") : BL_OK;
    for (size_t s = 0; st == BL_OK && s < c->nseg; s++) {
        uint32_t *esz = NULL, *epc = NULL, *ppc = NULL;
        sg[s].egid = malloc((ne ? ne : 1) * sizeof *sg[s].egid);
        sg[s].pgid = malloc((np ? np : 1) * sizeof *sg[s].pgid);
        if (!sg[s].egid || !sg[s].pgid) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
        }
        size_t neg = group_segment(c->enc, &c->seg[s], sg[s].egid, &esz, &epc);
        size_t npg = group_segment(c->own, &c->seg[s], sg[s].pgid, &sg[s].psize, &ppc);
        sg[s].map = malloc((neg ? neg : 1) * sizeof *sg[s].map);
        if (!esz || !epc || !ppc || !sg[s].psize || !sg[s].map)
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
        else
            align(esz, epc, neg, ne, sg[s].psize, ppc, npg, np, sg[s].map);
        free(esz);
        free(epc);
        free(ppc);
    }
    size_t n = 0;
    for (size_t e = 0; st == BL_OK && e < ne; e++) {
        double sc = 0;
        uint32_t p = guess_one(c, sg, e, &sc);
        if (p != UINT32_MAX)
            pairs[n++] = (bl_attack_guess){(uint32_t)e, p, sc};
    }
    size_t k = st == BL_OK ? atk_greedy(pairs, n, ne, np, out) : 0;
    for (size_t s = 0; sg && s < c->nseg; s++) {
        free(sg[s].egid);
        free(sg[s].pgid);
        free(sg[s].map);
        free(sg[s].psize);
    }
    free(sg);
    free(pairs);
    if (st != BL_OK) {
        free(out);
        return st;
    }
    *g = out;
    *ng = k;
    return BL_OK;
}
