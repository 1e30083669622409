/* lib/model/fieldpop.c - AND-popcounts of every field of a record pair in
 * one call. Per-field calls into the match layer's kernels pay a call and a
 * horizontal sum per 128-byte field, which dominates scoring; this fused
 * loop keeps one accumulator per field. The AVX-512 (VPOPCNTDQ) version is
 * used when the match layer's active kernel is "avx512" (so BL_KERNEL still
 * forces the path under test); otherwise the active kernel runs per field.
 * Fields start 64-byte aligned and the bytes after a field up to the next
 * 64-byte boundary are zero (layout contract), so whole blocks are read. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FP_AVX512 1
__attribute__((target("avx512f,avx512vpopcntdq"))) static void
fused_avx512(const uint8_t *a, const uint8_t *b, const uint32_t *off, const uint32_t *nblk, size_t nf, uint32_t *out)
{
    for (size_t f = 0; f < nf; f++) {
        const uint8_t *x = a + off[f], *y = b + off[f];
        __m512i acc = _mm512_popcnt_epi64(
            _mm512_and_si512(_mm512_load_si512((const void *)x), _mm512_load_si512((const void *)y)));
        for (uint32_t i = 1; i < nblk[f]; i++)
            acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(
                                            _mm512_load_si512((const void *)(x + 64 * i)),
                                            _mm512_load_si512((const void *)(y + 64 * i)))));
        out[f] = (uint32_t)_mm512_reduce_add_epi64(acc);
    }
}
#endif

int bl_fieldpop_init(bl_fieldpop *fp, const bl_model *m, const bl_kernel *k)
{
    memset(fp, 0, sizeof *fp);
    fp->k = k;
    fp->nf = m->nf;
    for (size_t f = 0; f < m->nf; f++) {
        fp->off[f] = m->f[f].offset / 8;
        fp->nbytes[f] = (m->f[f].bits + 7) / 8;
        fp->nblk[f] = (fp->nbytes[f] + 63) / 64;
        /* popcounts are taken over whole bytes: size the tables for whole blocks */
        for (uint32_t l = 1; l < m->f[f].nbands; l++)
            if (!(fp->cmin[f][l] = bli_dice_cmin_table(fp->nblk[f] * 512, m->f[f].band[l]))) {
                bl_fieldpop_free(fp);
                return -1;
            }
    }
#ifdef FP_AVX512
    fp->fused = !strcmp(k->name, "avx512");
#endif
    return 0;
}

void bl_fieldpop_free(bl_fieldpop *fp)
{
    for (size_t f = 0; f < BL_MODEL_MAX_FIELDS; f++)
        for (size_t l = 0; l < BL_MODEL_MAX_LEVELS; l++) {
            free(fp->cmin[f][l]);
            fp->cmin[f][l] = NULL;
        }
}

void bl_fieldpop_run(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out)
{
#ifdef FP_AVX512
    if (fp->fused) {
        fused_avx512(a, b, fp->off, fp->nblk, fp->nf, out);
        return;
    }
#endif
    for (size_t f = 0; f < fp->nf; f++)
        out[f] = fp->k->and_popcount(a + fp->off[f], b + fp->off[f], fp->nbytes[f]);
}
