/* lib/attack/debalance.c - undoing balancing without the key.
 *
 * Balancing (Berger and Schnell 2016) writes a filter followed by its
 * complement under a keyed permutation. The permutation hides which
 * position is which, but not which positions belong together: in every
 * record a position and its partner hold opposite bits. The columns of the
 * file (one position's bit over all records) therefore come in
 * complementary pairs. The attacker hashes every column and its
 * complement, pairs them, keeps the sparser column of each pair (Bloom
 * filters set fewer than half of their bits, so that is the original) and
 * gets back every record's filter before balancing, under a permutation of
 * its own - which no method here cares about: they never rely on the
 * secret key's positions. BLIP applied before balancing does not hide the
 * pairs (the complement is taken of the noisy bits); diffusion after
 * balancing does, as it mixes positions (then nothing pairs and the file
 * is attacked as it is). Records whose field is empty (no value: the
 * encoder leaves it empty) are left out of the pairing and stay empty.
 * Written here: the attack is ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/attack_internal.h"

/* Two 64-bit polynomial hashes of a column and of its complement. */
typedef struct colhash {
    uint64_t h[2], c[2];
    uint32_t ones;
    uint32_t col;
} colhash;

static const uint64_t MUL[2] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full};

static int cmp_h(const void *x, const void *y)
{
    const colhash *a = x, *b = y;
    if (a->h[0] != b->h[0])
        return a->h[0] < b->h[0] ? -1 : 1;
    if (a->h[1] != b->h[1])
        return a->h[1] < b->h[1] ? -1 : 1;
    return (a->col > b->col) - (a->col < b->col);
}

static int segment_empty(const uint8_t *rec, uint32_t off, uint32_t bits)
{
    for (uint32_t j = 0; j < bits; j++)
        if (atk_bit(rec, off + j))
            return 0;
    return 1;
}

/* Hash the `bits` columns starting at bit `off` over all records. */
static void hash_columns(const bl_clkset *s, uint32_t off, uint32_t bits, colhash *ch)
{
    for (uint32_t j = 0; j < bits; j++)
        ch[j] = (colhash){{1, 1}, {1, 1}, 0, j};
    for (size_t r = 0; r < s->count; r++) {
        const uint8_t *rec = s->data + r * s->stride;
        if (segment_empty(rec, off, bits))
            continue; /* an empty field (no value) is left empty by the encoder, not balanced */
        for (uint32_t j = 0; j < bits; j++) {
            int b = atk_bit(rec, off + j);
            for (int k = 0; k < 2; k++) {
                ch[j].h[k] = ch[j].h[k] * MUL[k] + (uint64_t)(1 + b);
                ch[j].c[k] = ch[j].c[k] * MUL[k] + (uint64_t)(2 - b);
            }
            ch[j].ones += (uint32_t)b;
        }
    }
}

/* Pair the columns of one segment: keep[i] = the column kept for pair i,
 * in increasing order of the pair's first column. Returns the number of
 * pairs, bits / 2 when every column found its complement, else 0. */
static uint32_t pair_segment(const bl_clkset *s, uint32_t off, uint32_t bits, uint32_t *keep)
{
    colhash *ch = malloc((bits ? bits : 1) * sizeof *ch),
            *sorted = malloc((bits ? bits : 1) * sizeof *sorted);
    int32_t *partner = malloc((bits ? bits : 1) * sizeof *partner);
    uint32_t n = 0;
    if (!ch || !sorted || !partner || bits % 2)
        goto done;
    hash_columns(s, off, bits, ch);
    memcpy(sorted, ch, bits * sizeof *ch);
    qsort(sorted, bits, sizeof *sorted, cmp_h);
    for (uint32_t j = 0; j < bits; j++)
        partner[j] = -1;
    for (uint32_t j = 0; j < bits; j++) {
        if (partner[j] >= 0)
            continue;
        colhash key = ch[j];
        key.h[0] = ch[j].c[0];
        key.h[1] = ch[j].c[1];
        key.col = 0;
        /* first column with that hash, then the first one still free */
        size_t lo = 0, hi = bits;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cmp_h(&sorted[mid], &key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < bits && sorted[lo].h[0] == key.h[0] && sorted[lo].h[1] == key.h[1]; lo++) {
            uint32_t p = sorted[lo].col;
            if (p != j && partner[p] < 0) {
                partner[j] = (int32_t)p;
                partner[p] = (int32_t)j;
                break;
            }
        }
        if (partner[j] < 0) {
            if (getenv("BL_ATTACK_DEBUG"))
                fprintf(stderr, "debalance: column %u of the segment at %u has no complement\n", j,
                        off);
            goto done; /* not balanced (or diffused after balancing) */
        }
    }
    for (uint32_t j = 0; j < bits; j++)
        if ((uint32_t)partner[j] > j)
            keep[n++] = ch[j].ones <= ch[partner[j]].ones ? j : (uint32_t)partner[j];
done:
    if (n != bits / 2)
        n = 0;
    free(ch);
    free(sorted);
    free(partner);
    return n;
}

bl_status atk_debalance(const bl_clkset *enc, bl_attack_layout *lay, bl_clkset **out, bl_error *err)
{
    *out = NULL;
    size_t nseg = lay->fields ? lay->nfields : 1;
    uint32_t *off = calloc(nseg, sizeof *off), *bits = calloc(nseg, sizeof *bits);
    uint32_t **keep = calloc(nseg, sizeof *keep);
    bl_status st = BL_OK;
    if (!off || !bits || !keep) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    uint32_t total = 0;
    for (size_t s = 0; s < nseg; s++) {
        off[s] = lay->fields ? lay->f[s].offset : 0;
        bits[s] = lay->fields ? lay->f[s].bits : enc->nbits;
        if (!(keep[s] = malloc((bits[s] / 2 + 1) * sizeof **keep))) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            goto done;
        }
        if (pair_segment(enc, off[s], bits[s], keep[s]) == 0)
            goto done; /* leave the file as it is */
    }
    /* the new layout: every segment halved, 512-bit aligned as before */
    for (size_t s = 0; s < nseg; s++) {
        uint32_t nb = bits[s] / 2;
        if (lay->fields) {
            lay->f[s].offset = total;
            lay->f[s].bits = nb;
        }
        total += s + 1 < nseg ? (nb + 511) / 512 * 512 : nb;
    }
    bl_clkset *d = NULL;
    if ((st = bl_clkset_new(total, enc->count, &d, err)) != BL_OK)
        goto done;
    uint8_t *row = calloc(1, d->nbytes + 8);
    if (!row) {
        bl_clkset_free(d);
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < enc->count && st == BL_OK; r++) {
        const uint8_t *src = enc->data + r * enc->stride;
        memset(row, 0, d->nbytes);
        for (size_t s = 0; s < nseg; s++) {
            uint32_t base = lay->fields ? lay->f[s].offset : 0;
            for (uint32_t i = 0; i < bits[s] / 2; i++)
                if (atk_bit(src, off[s] + keep[s][i]))
                    row[(base + i) >> 3] |= (uint8_t)(0x80u >> ((base + i) & 7));
        }
        st = bl_clkset_append(d, row, enc->ids ? enc->ids[r] : NULL, err);
    }
    free(row);
    if (st == BL_OK)
        *out = d;
    else
        bl_clkset_free(d);
done:
    for (size_t s = 0; keep && s < nseg; s++)
        free(keep[s]);
    free(keep);
    free(off);
    free(bits);
    return st;
}
