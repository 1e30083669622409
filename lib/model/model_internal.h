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
    /* u for the other fields of a pair whose names agree (namesakes:
     * pairs of records of one input), per name class (BL_NAMES_BOTH: both
     * names exact; BL_NAMES_ONE: one exact, the other in a similarity band);
     * has_u_names[c] = 0: u applies (train.c) */
    int has_u_names[2];
    double u_names[2][BL_MODEL_MAX_LEVELS];
} bl_field_model;

/** Name classes of a pair (bl_model_name_class); 0 = names do not agree. */
enum { BL_NAMES_BOTH = 1, BL_NAMES_ONE = 2 };

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
    uint64_t nnamesakes;        /* pairs behind u_names */
    int em_start;               /* 0: not recorded; 1 or 2: the EM start kept (train.c) */
    double em_loglik[2];        /* log-likelihood of each start's fit */
    double em_seconds;
};

/** The given-name and surname fields (the swapped-level pair, given
 *  first): 1 and their indices, or 0. */
static inline int bl_model_name_pair(const struct bl_model *m, size_t *g, size_t *s)
{
    for (size_t f = 0; f < m->nf; f++)
        if (m->f[f].swap_with > (int)f) {
            *g = f;
            *s = (size_t)m->f[f].swap_with;
            return 1;
        }
    return 0;
}

/** The name class of a pair's levels lv given the name pair g, s:
 *  BL_NAMES_BOTH, BL_NAMES_ONE (one exact, the other at a band level) or 0. */
static inline int bl_model_name_class(const struct bl_model *m, size_t g, size_t s, const uint8_t *lv)
{
    if (lv[g] == 0 && lv[s] == 0)
        return BL_NAMES_BOTH;
    if ((lv[g] == 0 && lv[s] > 0 && lv[s] < m->f[s].nbands) || (lv[s] == 0 && lv[g] > 0 && lv[g] < m->f[g].nbands))
        return BL_NAMES_ONE;
    return 0;
}

/** Can two filters of popcounts x and y reach Dice t at all? (the AND-count
 *  is at most the smaller popcount) */
static inline int bli_dice_possible(uint32_t x, uint32_t y, double t)
{
    const uint32_t lo = x < y ? x : y;
    return 2.0 * lo >= t * (double)(x + y);
}

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
    float *tfadj;      /* count * nf (0 when not adjusted); NULL when built without */
} bl_setstats;

/** Build per-field comparison definitions for a layout (default levels,
 *  given-name / surname swap detection by field name, m/u initial values). */
bl_status bl_model_new_for(const bl_fieldset *fs, const bl_clkset *example, bl_model **out,
                           bl_error *err);

/** Per-field AND-popcounts of record pairs (lib/model/fieldpop.c; the
 *  vector kernels in score_avx512.c and score_avx2.c). */
typedef struct bl_fieldpop bl_fieldpop;

/** AND-popcounts of every field of one pair: out[f] for f < nf. */
typedef void (*bli_fieldpop_pair_fn)(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out);

/** The same for n pairs (a[i], b[i]): cnt[i * fp->cstride + f]; when
 *  fp->batch_cross, also the crosswise counts of the name pair in
 *  cross[2 * i] (a's given name and b's surname) and cross[2 * i + 1]. a
 *  and b hold n + ahead pointers: the pairs after the n are only
 *  prefetched. (The field popcounts of both sides come from
 *  bl_setstats.pop: in the scoring order the rows are read in record
 *  order, so they cost less than popcounting the loaded bytes.) */
typedef void (*bli_fieldpop_batch_fn)(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,
                                      size_t n, size_t ahead, uint32_t *cnt, uint32_t *cross);

/** Levels of n pairs from their counts (rows of fp->cstride): lv[i * nf + f]; pa[i] / pb[i] are
 *  the pairs' per-field popcounts, a[i] / b[i] their records, cross the
 *  batch's crosswise counts or NULL (then counted when needed). */
typedef void (*bli_fieldpop_levels_fn)(const bl_fieldpop *fp, const uint8_t *const *a, const uint8_t *const *b,
                                       const uint32_t *const *pa, const uint32_t *const *pb, const uint32_t *cnt,
                                       const uint32_t *cross, size_t n, uint8_t *lv);

/** The least probability (m, u, the prior) weights are computed with:
 *  log2(m/u) stays finite. A model file may not fix a value below it. */
#define BLI_MODEL_PMIN 1e-12

/** The decision bound (score.c) as a vector kernel runs it, stage by
 *  stage. A field's bound before its count: 0 when missing, else suf1,
 *  or best exact + tf when that is more and the popcounts are equal.
 *  After its count c: 0 when missing, best exact + tf when exact, else the
 *  best weight of its level (the highest band q whose minimum band[q]
 *  the Dice 2c / s reaches, in double as bl_fieldpop's levels, s being the
 *  popcount sum; else `last`), raised to swapw, a name field's swapped
 *  level, while the crosswise count (a's field and b's field h) and
 *  popcounts allow a swap (cswap: the minimal crosswise count by popcount
 *  sum). The first nfirst stages are
 *  counted for every pair, the later ones for the pairs still live.
 *  Floats: the bound's float sum stays within `margin2 / 2` of the double
 *  one, so a pair is kept while its float bound reaches thr (the double
 *  threshold less margin2). */
#define BLI_VBOUND_MAX_FIRST 4
typedef struct bli_vstage {
    uint32_t f, off, nbytes; /* the field and its bytes in a record */
    int32_t h;               /* a name field's partner, or -1 */
    uint32_t offh;           /* the partner's bytes (in b) for the crosswise count */
    float best[16], swapw;
    uint32_t nbands, last;
    double band[BL_MODEL_MAX_LEVELS];
    const uint32_t *cswap;
} bli_vstage;

typedef struct bli_vbound {
    uint32_t nf, nfirst, nstage;
    float pw, thr;
    double margin2;
    int32_t first[BL_MODEL_MAX_FIELDS]; /* field f's stage when q < nfirst, else -1 */
    float suf1[BL_MODEL_MAX_FIELDS], ex[BL_MODEL_MAX_FIELDS];
    bli_vstage st[BL_MODEL_MAX_FIELDS];         /* in stage order */
    uint32_t pf[4 * BLI_VBOUND_MAX_FIRST], npf; /* the lines of the first stage fields */
} bli_vbound;

/** The bound of n pairs (a[i], b[i]: records, n + ahead of them, the rest
 *  prefetched; pa / pb: popcount rows, tf: A's tf rows): the indices of
 *  those it cannot rule out into live (in order; their number returned).
 *  The arrays hold n rounded up to 8 entries (the padding: copies of a
 *  real pair's); wl is scratch of as many floats. */
typedef size_t (*bli_fieldpop_vbound_fn)(const bli_vbound *vb, const uint8_t *const *a,
                                         const uint8_t *const *b, const uint32_t *const *pa,
                                         const uint32_t *const *pb, const float *const *tf,
                                         size_t n, size_t ahead, uint32_t *live, float *wl);

struct bl_fieldpop {
    const bl_kernel *k;
    const char *name; /* the field kernel: "scalar", "avx2" or "avx512" */
    bli_fieldpop_pair_fn pair;
    bli_fieldpop_batch_fn batch;
    bli_fieldpop_levels_fn levels;
    int batch_cross; /* batch fills `cross` */
    bli_fieldpop_vbound_fn vbound; /* NULL: the bound runs in score.c, a pair at a time */
    size_t nf;
    /* row stride of batch counts: nf rounded up to 8, so that a kernel
     * stores a row in whole vectors and levels loads exactly those (a load
     * over several smaller stores waits for them: no store forwarding) */
    size_t cstride;
    uint32_t off[BL_MODEL_MAX_FIELDS], nbytes[BL_MODEL_MAX_FIELDS], nblk[BL_MODEL_MAX_FIELDS];
    uint32_t pf_lo, pf_hi; /* byte range of a record that holds fields (prefetch) */
    /* per field and band: smallest AND-count reaching the band for each
     * popcount sum (bli_dice_cmin_table), so levels need no division */
    uint32_t *cmin[BL_MODEL_MAX_FIELDS][BL_MODEL_MAX_LEVELS];
    uint32_t nbands[BL_MODEL_MAX_FIELDS], last[BL_MODEL_MAX_FIELDS];
    /* swapped given name / surname pairs (g < s) and their Dice >= BL_SWAP_MIN_DICE table */
    uint32_t nswap, swap_g[BL_MODEL_MAX_FIELDS / 2], swap_s[BL_MODEL_MAX_FIELDS / 2];
    uint32_t *cswap[BL_MODEL_MAX_FIELDS / 2];
    /* for vector levels: the most bands of any field, each field's band
     * minima (2.0 where it has no such band: never reached) */
    uint32_t maxbands;
    double bandv[BL_MODEL_MAX_LEVELS][BL_MODEL_MAX_FIELDS];
    /* the same minima packed by popcount sum, for the branch-free levels:
     * lvrow[f][8 * s + k] = cmin of band k + 1 at sum s (k < nbands - 1,
     * else 0, which no count is below); NULL when a field has more than 8
     * bands */
    uint16_t *lvrow[BL_MODEL_MAX_FIELDS];
    /* bandv with -1.0 for a band a field lacks (below every Dice): the
     * AVX2 levels count the minima above a field's Dice */
    double bandlt[BL_MODEL_MAX_LEVELS][BL_MODEL_MAX_FIELDS];
};

/** 0, or -1 when out of memory (then nothing is held). The field kernel
 *  follows the match layer's kernel k (so BL_KERNEL forces it). */
int bl_fieldpop_init(bl_fieldpop *fp, const bl_model *m, const bl_kernel *k);
void bl_fieldpop_free(bl_fieldpop *fp);
/** The band level (1 .. nbands - 1, or last) an AND-count v of field f
 *  reaches at popcount sum `sum`, as the decision bound reads it (tested
 *  against the band minima). */
uint32_t bli_model_band(const bl_fieldpop *fp, size_t f, uint32_t v, uint32_t sum);
void bl_fieldpop_run(const bl_fieldpop *fp, const uint8_t *a, const uint8_t *b, uint32_t *out);

/** Levels of one pair from its AND-counts `cnt` (integer comparisons
 *  only; the same levels as bl_model_levels). */
void bl_fieldpop_levels(const bl_fieldpop *fp, const uint8_t *a, const uint32_t *pa, const uint8_t *b,
                        const uint32_t *pb, const uint32_t *cnt, uint8_t *lv);

/** The swapped-name part of bl_fieldpop_levels (lv holds the band levels);
 *  cross: the two crosswise counts of the (one) name pair, or NULL. */
void bli_fieldpop_swap(const bl_fieldpop *fp, const uint8_t *a, const uint32_t *pa, const uint8_t *b,
                       const uint32_t *pb, const uint32_t *cnt, const uint32_t *cross, uint8_t *lv);

/** The steps of bli_fieldpop_swap for name pair q, for kernels that count
 *  the crosswise pairs themselves: 1 when the pair's names may be swapped
 *  (neither is missing or agrees directly, and the crosswise popcounts
 *  allow Dice BL_SWAP_MIN_DICE), then bli_swap_reach on each crosswise
 *  count c of popcounts x and y; both reached: the swapped level. */
int bli_swap_maybe(const bl_fieldpop *fp, uint32_t q, const uint32_t *pa, const uint32_t *pb,
                   const uint32_t *cnt, const uint8_t *lv);
static inline int bli_swap_reach(const bl_fieldpop *fp, uint32_t q, uint32_t x, uint32_t y, uint32_t c)
{
    return c >= fp->cswap[q][x + y];
}

/** Vector field kernels: 1 and fp's functions set when built and
 *  supported by the CPU, else 0 (fp unchanged). */
int bli_fieldpop_avx512(bl_fieldpop *fp);
int bli_fieldpop_avx2(bl_fieldpop *fp);

/** Levels of all fields of one pair; `lv` receives nf levels, `dice` (may
 *  be NULL) the Dice coefficients (NaN when missing). */
void bl_model_levels(const bl_model *m, const bl_fieldpop *fp, const uint8_t *a, const uint32_t *pa,
                     const uint8_t *b, const uint32_t *pb, uint8_t *lv, double *dice);

/** A record of a set and a 64-bit key of it (block keys, name keys). */
typedef struct bl_keyrec {
    uint64_t key;
    uint32_t rec, pad;
} bl_keyrec;
/** Stable radix sort of v by key (block.c): entries in ascending record
 *  order come out by (key, record). -1 when out of memory. */
int bl_keyrec_sort(bl_keyrec *v, size_t n);

/** Statistics of sets (tf over all of them) on `threads` threads (0 = all
 *  cores; the figures do not depend on the number). with_tf = 0: the
 *  popcounts only (training: its tf adjustments would come from the
 *  untrained u and nothing there reads them). */
bl_status bl_setstats_build(const bl_model *m, const bl_clkset *const *sets, size_t nsets,
                            bl_setstats *st, int with_tf, int threads, bl_error *err);
void bl_setstats_free(bl_setstats *st, size_t nsets);

/** bl_model_score on statistics built once, into `out` (ncand entries,
 *  the caller's): the benchmark separates the per-record part and the
 *  first touch of the output memory from the per-pair part. ss: the
 *  statistics of the nsets sets. */
bl_status bl_model_score_into(const bl_model *m, const bl_clkset *const *sets,
                              const bl_setstats *ss, size_t nsets, const bl_candidate *cand,
                              size_t ncand, int threads, bl_scored_pair *out, bl_error *err);

/** bl_model_score_into for a decision at min_p (bl_model_score_decide). */
bl_status bli_model_decide_into(const bl_model *m, const bl_clkset *const *sets,
                                const bl_setstats *ss, size_t nsets, const bl_candidate *cand,
                                size_t ncand, int threads, double min_p, bl_scored_pair **out,
                                size_t *nout, bl_error *err);

/** Weight log2(m/u) of level l of field f (0 for missing). */
double bl_model_level_weight(const bl_model *m, size_t f, unsigned l);
/** The weight of level l of field f for a pair of name class c
 *  (bl_model_name_class; 0 = the plain weight): log2(m / u_names[c-1]),
 *  or the plain weight where the model has no u for that class. */
double bl_model_level_weight_names(const bl_model *m, size_t f, unsigned l, int c);

/** log2(prior / (1 - prior)). */
double bl_model_prior_weight(const bl_model *m);

/** EM on an explicit table of n level patterns (nf levels each, 255 =
 *  missing) with counts: the known-answer tests drive it directly. */
bl_status bl_model_em_table(bl_model *m, const uint8_t *levels, const double *counts, size_t n,
                            uint32_t max_iter, double tol, int update_u, bl_error *err);

/** The same from bl_model_train's two EM starts (the random-pair u in
 *  m's u, then the table's level frequencies), the likelier fit kept
 *  (m->em_start, m->em_loglik). */
bl_status bl_model_em_table_starts(bl_model *m, const uint8_t *levels, const double *counts, size_t n,
                                   uint32_t max_iter, double tol, bl_error *err);

/** Keyed field-value blocking of field-level sets (lib/model/block.c):
 *  blocks of the small rules (every pair kept) and of the big ones (top-k),
 *  either NULL when it has no rule, both NULL (compare all pairs) when no
 *  rule pays; *pairs = the pairs the rules let through (repeats counted). */
/** The SVG of bl_model_weight_report (lib/model/svg.c): bins true and false
 *  pair counts from lo, each bw wide, as side-by-side bars on a log scale. */
bl_status bli_model_weight_svg(const char *path, const uint64_t *tc, const uint64_t *fc, int bins,
                               double lo, double bw, bl_error *err);

bl_status bli_model_field_blocking(const bl_clkset *const *sets, size_t nsets, bl_blocking **small,
                                   bl_blocking **big, double *pairs, bl_error *err);

#endif
