/* lib/model/model_internal.h - the Fellegi-Sunter model's private parts:
 * per-field comparison definitions, level computation, precomputed record
 * statistics shared by training, scoring and explanations. */
#ifndef BLINDLINK_MODEL_INTERNAL_H
#define BLINDLINK_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <blindlink/model.h>

#include "match/match_internal.h"

/** Level of a missing field (either side empty): neutral, not modelled. */
#define BL_LEVEL_MISSING 255

/** Dice a swapped given name / surname needs on both crossed comparisons. */
#define BL_SWAP_MIN_DICE 0.8

typedef struct bl_field_model {
    char *name;
    uint32_t offset, bits;      /* bit offset and length of the field filter */
    uint32_t nbands;            /* band[0] = 1 (exact), then descending Dice minima */
    double band[BL_MODEL_MAX_LEVELS];
    int swap_with;              /* field compared crosswise for the swapped level, or -1 */
    uint32_t nlevels;           /* nbands + (swap_with >= 0) + 1 (anything else) */
    char *label[BL_MODEL_MAX_LEVELS];
    double m[BL_MODEL_MAX_LEVELS], u[BL_MODEL_MAX_LEVELS];
    double u_random[BL_MODEL_MAX_LEVELS]; /* u measured on random pairs */
    double u_cand[BL_MODEL_MAX_LEVELS];   /* u among the non-matching candidates (EM) */
    int fix_m[BL_MODEL_MAX_LEVELS], fix_u[BL_MODEL_MAX_LEVELS];
    int tf;                     /* term-frequency adjustment of exact agreement */
} bl_field_model;

struct bl_model {
    size_t nf;
    bl_field_model f[BL_MODEL_MAX_FIELDS];
    double prior;               /* P(match) of a random cross-dataset pair */
    double prior_cand;          /* P(match) of a candidate pair (EM) */
    int fix_prior;
    int has_fp;
    uint8_t fingerprint[BL_FINGERPRINT_BYTES];
    char *normalize;            /* metadata "normalize" of the training files, or NULL */
    char *u_source;             /* "random" or "candidates" */
    /* training record */
    int trained, converged;
    uint32_t iterations;
    double max_change;
    uint64_t ncand, nrandom, npatterns;
    double em_seconds;
};

/** Level index of the "swapped" level, or -1. */
static inline int bl_field_swap_level(const bl_field_model *f)
{
    return f->swap_with >= 0 ? (int)f->nbands : -1;
}

/** Per-set statistics for scoring: per record and field the popcount and
 *  the term-frequency adjustment of an exact agreement on its value. */
typedef struct bl_setstats {
    const bl_clkset *s;
    uint32_t *pop;     /* count * nf */
    float *tfadj;      /* count * nf (0 when not adjusted) */
} bl_setstats;

/** Build per-field comparison definitions for a layout (default levels,
 *  given-name / surname swap detection by field name, m/u initial values). */
bl_status bl_model_new_for(const bl_fieldset *fs, const bl_clkset *example, bl_model **out,
                           bl_error *err);

/** Per-field AND-popcounts of a record pair (lib/model/fieldpop.c). */
typedef struct bl_fieldpop {
    const bl_kernel *k;
    size_t nf;
    int fused;
    uint32_t off[BL_MODEL_MAX_FIELDS], nbytes[BL_MODEL_MAX_FIELDS], nblk[BL_MODEL_MAX_FIELDS];
    /* per field and band: smallest AND-count reaching the band for each
     * popcount sum (bli_dice_cmin_table), so levels need no division */
    uint32_t *cmin[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS];
} bl_fieldpop;

/** 0, or -1 when out of memory (then nothing is held). */
int bl_fieldpop_init(bl_fieldpop *fp, const bl_model *m, const bl_kernel *k);
void bl_fieldpop_free(bl_fieldpop *fp);
void bl_fieldpop_run(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out);

/** Levels of all fields of one pair; `lv` receives nf levels, `dice` (may
 *  be NULL) the Dice coefficients (NaN when missing). */
void bl_model_levels(const bl_model *m, const bl_fieldpop *fp, const uint8_t *a, const uint32_t *pa,
                     const uint8_t *b, const uint32_t *pb, uint8_t *lv, double *dice);

/** Statistics of sets (tf over all of them). */
bl_status bl_setstats_build(const bl_model *m, const bl_clkset *const *sets, size_t nsets,
                            bl_setstats *st, bl_error *err);
void bl_setstats_free(bl_setstats *st, size_t nsets);

/** Weight log2(m/u) of level l of field f (0 for missing). */
double bl_model_level_weight(const bl_model *m, size_t f, unsigned l);

/** log2(prior / (1 - prior)). */
double bl_model_prior_weight(const bl_model *m);

/** EM on an explicit table of n level patterns (nf levels each, 255 =
 *  missing) with counts: the known-answer tests drive it directly. */
bl_status bl_model_em_table(bl_model *m, const uint8_t *levels, const double *counts, size_t n,
                            uint32_t max_iter, double tol, int update_u, bl_error *err);

/** Keyed field-value blocking of field-level sets (lib/model/block.c):
 *  blocks of the small rules (every pair kept) and of the big ones (top-k),
 *  either NULL when it has no rule, both NULL (compare all pairs) when no
 *  rule pays; *pairs = the pairs the rules let through (repeats counted). */
bl_status bli_model_field_blocking(const bl_clkset *const *sets, size_t nsets, bl_blocking **small,
                                   bl_blocking **big, double *pairs, bl_error *err);

#endif
