/* lib/model/fieldpop.c - AND-popcounts of every field of record pairs and
 * the comparison levels they give. Per-field calls into the match layer's
 * kernels pay a call and a horizontal sum per field, which dominated
 * scoring; the field kernels (scalar reference here, AVX-512 VPOPCNTQ and
 * AVX2 in score_avx512.c / score_avx2.c) take all fields of a pair in one
 * pass and a batch of pairs per call, prefetching the pairs ahead.
 * Counts are taken over exactly the field's nbytes (as the per-record
 * popcounts are), so every kernel gives the same counts on any input. The
 * field kernel follows the match layer's active kernel: BL_KERNEL=scalar
 * or avx2 forces the path under test. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void pair_scalar(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out)
{
    for (size_t f = 0; f < fp->nf; f++) {
        const uint8_t *x = a + fp->off[f], *y = b + fp->off[f];
        const size_t n = fp->nbytes[f];
        uint64_t c = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            c += (uint64_t)__builtin_popcountll(load64(x + i) & load64(y + i));
        for (; i < n; i++)
            c += (uint64_t)__builtin_popcount((unsigned)(x[i] & y[i]));
        out[f] = (uint32_t)c;
    }
}

static void batch_scalar(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,
                         size_t n, size_t ahead, uint32_t *cnt, uint32_t *cross)
{
    (void)ahead;
    (void)cross;
    for (size_t i = 0; i < n; i++)
        pair_scalar(fp, a[i], b[i], cnt + i * fp->cstride);
}

static void levels_scalar(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,
                          const uint32_t *const *pa, const uint32_t *const *pb, const uint32_t *cnt,
                          const uint32_t *cross, size_t n, uint8_t *lv)
{
    (void)cross;
    for (size_t i = 0; i < n; i++)
        bl_fieldpop_levels(fp, a[i], pa[i], b[i], pb[i], cnt + i * fp->cstride, lv + i * fp->nf);
}

/* The packed rows (lvrow in model_internal.h) from the tables above;
 * none when a field has more than 8 bands or sums past 16 bits. */
/* Levels from the packed rows without branches: the bands are strictly
 * descending (model_io.c), so their minima are non-increasing and the
 * band level is 1 + the number of minima above the count. */
static void levels_rows(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,
                        const uint32_t *const *pa, const uint32_t *const *pb, const uint32_t *cnt,
                        const uint32_t *cross, size_t n, uint8_t *lv)
{
    (void)cross;
    const size_t nf = fp->nf;
    for (size_t i = 0; i < n; i++) {
        const uint32_t *c = cnt + i * fp->cstride, *x = pa[i], *y = pb[i];
        uint8_t *l = lv + i * nf;
        for (size_t f = 0; f < nf; f++) {
            const uint16_t *r = fp->lvrow[f] + 8 * (size_t)(x[f] + y[f]);
            const uint32_t v = c[f];
            uint32_t k = 1 + (v < r[0]) + (v < r[1]) + (v < r[2]) + (v < r[3]) + (v < r[4]) + (v < r[5]) +
                         (v < r[6]);
            k = k == fp->nbands[f] ? fp->last[f] : k;
            k = v == x[f] && v == y[f] ? 0 : k;
            l[f] = (uint8_t)(x[f] && y[f] ? k : BL_LEVEL_MISSING);
        }
        if (fp->nswap)
            bli_fieldpop_swap(fp, a[i], x, b[i], y, c, NULL, l);
    }
}

static int init_rows(bl_fieldpop *fp)
{
    for (size_t f = 0; f < fp->nf; f++)
        if (fp->nbands[f] > 8 || 2 * (size_t)fp->nblk[f] * 512 >= UINT16_MAX)
            return 0;
    for (size_t f = 0; f < fp->nf; f++) {
        const size_t nsum = 2 * (size_t)fp->nblk[f] * 512 + 1;
        uint16_t *r = calloc(8 * nsum, sizeof *r);
        if (!r)
            return -1;
        fp->lvrow[f] = r;
        for (size_t s = 0; s < nsum; s++) {
            for (uint32_t l = 1; l < fp->nbands[f]; l++)
                r[8 * s + l - 1] = (uint16_t)fp->cmin[f][l][s];
        }
    }
    return 0;
}

static int init_tables(bl_fieldpop *fp, const bl_model *m)
{
    for (size_t f = 0; f < m->nf; f++) {
        fp->off[f] = m->f[f].offset / 8;
        fp->nbytes[f] = (m->f[f].bits + 7) / 8;
        fp->nblk[f] = (fp->nbytes[f] + 63) / 64;
        fp->nbands[f] = m->f[f].nbands;
        fp->last[f] = m->f[f].nlevels - 1;
        if (!f || fp->off[f] < fp->pf_lo)
            fp->pf_lo = fp->off[f];
        if (fp->off[f] + fp->nbytes[f] > fp->pf_hi)
            fp->pf_hi = fp->off[f] + fp->nbytes[f];
        if (fp->nbands[f] > fp->maxbands)
            fp->maxbands = fp->nbands[f];
        /* popcount sums reach 2 * 8 * nbytes: size the tables for whole blocks */
        for (uint32_t l = 1; l < m->f[f].nbands; l++)
            if (!(fp->cmin[f][l] = bli_dice_cmin_table(fp->nblk[f] * 512, m->f[f].band[l])))
                return -1;
    }
    for (size_t f = 0; f < m->nf; f++)
        for (uint32_t l = 1; l < fp->maxbands; l++)
            fp->bandv[l][f] = l < fp->nbands[f] ? m->f[f].band[l] : 2.0,
            fp->bandlt[l][f] = l < fp->nbands[f] ? m->f[f].band[l] : -1.0;
    /* the name pairs bl_model_levels checks for a swap: mutual, same length */
    for (size_t i = 0; i < m->nf; i++) {
        int j = m->f[i].swap_with;
        if (j <= (int)i || (size_t)j >= m->nf || m->f[j].swap_with != (int)i ||
            m->f[j].bits != m->f[i].bits)
            continue;
        fp->swap_g[fp->nswap] = (uint32_t)i;
        fp->swap_s[fp->nswap] = (uint32_t)j;
        if (!(fp->cswap[fp->nswap++] = bli_dice_cmin_table(fp->nblk[i] * 512, BL_SWAP_MIN_DICE)))
            return -1;
    }
    return init_rows(fp);
}

int bl_fieldpop_init(bl_fieldpop *fp, const bl_model *m, const bl_kernel *k)
{
    memset(fp, 0, sizeof *fp);
    fp->k = k;
    fp->nf = m->nf;
    fp->cstride = (m->nf + 7) & ~(size_t)7;
    if (init_tables(fp, m) != 0) {
        bl_fieldpop_free(fp);
        return -1;
    }
    fp->name = "scalar";
    fp->pair = pair_scalar;
    fp->batch = batch_scalar;
    fp->levels = fp->lvrow[0] ? levels_rows : levels_scalar;
    if (!strcmp(k->name, "avx512"))
        (void)(bli_fieldpop_avx512(fp) || bli_fieldpop_avx2(fp));
    else if (!strcmp(k->name, "avx2"))
        (void)bli_fieldpop_avx2(fp);
    return 0;
}

void bl_fieldpop_free(bl_fieldpop *fp)
{
    for (size_t f = 0; f < BL_MODEL_MAX_FIELDS; f++)
        for (size_t l = 0; l < BL_MODEL_MAX_LEVELS; l++) {
            free(fp->cmin[f][l]);
            fp->cmin[f][l] = NULL;
        }
    for (size_t i = 0; i < BL_MODEL_MAX_FIELDS / 2; i++) {
        free(fp->cswap[i]);
        fp->cswap[i] = NULL;
    }
    fp->nswap = 0;
    for (size_t f = 0; f < BL_MODEL_MAX_FIELDS; f++) {
        free(fp->lvrow[f]);
        fp->lvrow[f] = NULL;
    }
}

void bl_fieldpop_run(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out)
{
    fp->pair(fp, a, b, out);
}

int bli_swap_maybe(const bl_fieldpop *fp, uint32_t q, const uint32_t *pa, const uint32_t *pb,
                   const uint32_t *cnt, const uint8_t *lv)
{
    const uint32_t g = fp->swap_g[q], s = fp->swap_s[q], *t = fp->cswap[q];
    if (lv[g] == BL_LEVEL_MISSING || lv[s] == BL_LEVEL_MISSING)
        return 0;
    if (cnt[g] >= t[pa[g] + pb[g]] || cnt[s] >= t[pa[s] + pb[s]])
        return 0; /* one of them agrees directly */
    return bli_dice_possible(pa[g], pb[s], BL_SWAP_MIN_DICE) && bli_dice_possible(pa[s], pb[g], BL_SWAP_MIN_DICE);
}

/* bl_model_levels' swapped level with its Dice tests as table lookups:
 * Dice(c, s) >= BL_SWAP_MIN_DICE exactly when c >= cswap[s]. */
void bli_fieldpop_swap(const bl_fieldpop *fp, const uint8_t *a, const uint32_t *pa,
                       const uint8_t *b, const uint32_t *pb, const uint32_t *cnt,
                       const uint32_t *cross, uint8_t *lv)
{
    for (uint32_t q = 0; q < fp->nswap; q++) {
        if (!bli_swap_maybe(fp, q, pa, pb, cnt, lv))
            continue;
        const uint32_t g = fp->swap_g[q], s = fp->swap_s[q], nb = fp->nbytes[g];
        if (!bli_swap_reach(fp, q, pa[g], pb[s],
                            cross ? cross[0] : fp->k->and_popcount(a + fp->off[g], b + fp->off[s], nb)) ||
            !bli_swap_reach(fp, q, pa[s], pb[g],
                            cross ? cross[1] : fp->k->and_popcount(a + fp->off[s], b + fp->off[g], nb)))
            continue;
        lv[g] = (uint8_t)fp->nbands[g];
        lv[s] = (uint8_t)fp->nbands[s];
    }
}

void bl_fieldpop_levels(const bl_fieldpop *fp, const uint8_t *a, const uint32_t *pa,
                        const uint8_t *b, const uint32_t *pb, const uint32_t *cnt, uint8_t *lv)
{
    for (size_t f = 0; f < fp->nf; f++) {
        const uint32_t c = cnt[f], x = pa[f], y = pb[f];
        if (!x || !y) {
            lv[f] = BL_LEVEL_MISSING;
            continue;
        }
        if (c == x && c == y) {
            lv[f] = 0;
            continue;
        }
        uint32_t l = 1;
        const uint32_t s = x + y;
        while (l < fp->nbands[f] && c < fp->cmin[f][l][s])
            l++;
        lv[f] = (uint8_t)(l < fp->nbands[f] ? l : fp->last[f]);
    }
    if (fp->nswap)
        bli_fieldpop_swap(fp, a, pa, b, pb, cnt, NULL, lv);
}
