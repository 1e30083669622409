/* lib/match/match_internal.h - private interfaces of the matching engine: popcount
 * kernels (scalar / AVX2 / AVX-512), blocking internals and helpers shared
 * by candidate generation, solvers and the writers. Not public API. */
#ifndef BLINDLINK_MATCH_INTERNAL_H
#define BLINDLINK_MATCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <blindlink/match.h>
#include "core/internal.h"
#include "match/candrun.h"

/** A popcount kernel. All functions accept any byte length `n` and any
 *  alignment; the SIMD versions handle tails with masked or scalar code. */
typedef struct bl_kernel {
    const char *name;
    /** popcount of n bytes */
    uint32_t (*popcount)(const uint8_t *a, size_t n);
    /** popcount of (a AND b) over n bytes */
    uint32_t (*and_popcount)(const uint8_t *a, const uint8_t *b, size_t n);
    /** out[j] = popcount(a AND b_j) for b_j = b + j*stride, j < count */
    void (*and_popcount_many)(const uint8_t *a, const uint8_t *b, size_t stride,
                              size_t count, size_t n, uint32_t *out);
    /** Like and_popcount_many, but reports only the j that pass the
     *  conservative prefilter 2c+1 >= tf*(pa+bpop[j]) (tf <= threshold, in
     *  float): their positions go to idx[], counts to cnt[]; returns how
     *  many. Every pair with Dice >= threshold passes. */
    size_t (*and_popcount_filter)(const uint8_t *a, uint32_t pa, const uint8_t *b, size_t stride,
                                  size_t count, size_t n, const uint32_t *bpop, float tf,
                                  uint32_t *idx, uint32_t *cnt);
    /** Interleaved comparison used by exhaustive matching. `b` holds blocks
     *  of 8 filters of `nw` 64-bit words; word w of filter r of block k is
     *  b[(k*nw + w)*8 + r]. For positions p in [lo, hi) (p = 8k + r) the
     *  count c = popcount(a AND filter p) is computed; positions passing the
     *  prefilter 2c+1 >= tf*(pa+bpop[p]) go to idx[] (absolute), c to cnt[].
     *  `a` is nw words, 8-byte aligned; bpop is padded to whole blocks. */
    size_t (*filter_il)(const uint64_t *a, size_t nw, uint32_t pa, const uint64_t *b, size_t lo,
                        size_t hi, const uint32_t *bpop, float tf, uint32_t *idx, uint32_t *cnt);
    /** Register-blocked filter_il: BL_IL_ROWS filters of A (a[r], each nw
     *  words, 8-byte aligned, popcount pa[r]) against the same positions
     *  [lo, hi), so each block of B is loaded once for all rows. Survivors
     *  of row r get idx[] (absolute), cnt[] and row[] = r. Order: by block,
     *  then row, then position (the scalar reference defines it). The output
     *  arrays hold BL_IL_ROWS * (hi - lo + 8) entries. */
    size_t (*filter_il_rows)(const uint64_t *const *a, size_t nw, const uint32_t *pa,
                             const uint64_t *b, size_t lo, size_t hi, const uint32_t *bpop,
                             float tf, uint32_t *idx, uint32_t *cnt, uint8_t *row);
} bl_kernel;

/** Rows of A per filter_il_rows call. */
#define BL_IL_ROWS 4

/** Generic and_popcount_filter on top of a kernel's and_popcount_many. */
size_t bli_filter_generic(void (*many)(const uint8_t *, const uint8_t *, size_t, size_t, size_t,
                                      uint32_t *),
                         const uint8_t *a, uint32_t pa, const uint8_t *b, size_t stride,
                         size_t count, size_t n, const uint32_t *bpop, float tf, uint32_t *idx,
                         uint32_t *cnt);

/** Largest float <= t. */
float bli_threshold_float(double t);

extern const bl_kernel bl_kernel_scalar;
/** NULL when the compiler cannot build them. */
const bl_kernel *bli_kernel_avx2_get(void);
const bl_kernel *bli_kernel_avx512_get(void);
/** The same kernels without the exact partial-sum early exit of their
 *  filter_il_rows ("avx2-full", "avx512-full": every popcount of every
 *  pair; identical results, for comparison; see dice_avx512.c). */
const bl_kernel *bli_kernel_avx2_full_get(void);
const bl_kernel *bli_kernel_avx512_full_get(void);

/** Kernel chosen at first use: BL_KERNEL env var, else best supported. */
const bl_kernel *bli_kernel_active(void);
/** Kernel by name if compiled in and supported by this CPU, else NULL. */
const bl_kernel *bli_kernel_by_name(const char *name);

/** Smallest intersection count c with (double)(2c)/(double)s >= t, for every
 *  popcount sum s in [0, 2*nbits]; entries are nbits+1 ("never") when even
 *  c = s/2 fails. Caller frees. */
uint32_t *bli_dice_cmin_table(uint32_t nbits, double threshold);

/** Internal view of a blocking description. */
struct bl_blocking {
    int kind; /* 1 = keyed LSH, 2 = external block lists */
    /* LSH */
    uint32_t nbits, tables, bits;
    /* tables [t_lo, t_hi) only (t_hi 0: all): one share of distributed
     * matching (partition.c); a pair is still emitted only by the first
     * table of all that it shares, so the shares never overlap */
    uint32_t t_lo, t_hi;
    uint32_t *pos; /* tables*bits sampled positions */
    uint64_t *masks; /* per table, the sampled positions as a filter-layout bitmap of mw words */
    size_t mw;
    /* external: per dataset, CSR lists of block ids (sorted, unique) */
    size_t ndsets;
    size_t *nrecs;          /* per dataset */
    size_t **off;           /* per dataset nrecs+1 */
    uint32_t **ids;         /* per dataset */
    uint32_t nblocks;
    /* one share of distributed matching (partition.c): only the blocks
     * with bowner[id] == bpart (bowner NULL: all), and of the blocks split
     * between shares (bowner[id] == BLI_BLOCK_SPLIT) only the units listed
     * in bpieces as (id, first unit, end unit) triples; a pair is still
     * emitted only by the first block of all that it shares (the block
     * lists stay whole), so the shares never overlap */
    const uint32_t *bowner;
    uint32_t bpart;
    const uint32_t *bpieces;
    size_t npieces;
};

/* a block's sorted members are compared in units of this many rows (each
 * with the later members); a split block is shared out in whole units */
#define BLI_BLOCK_UNIT 256
#define BLI_BLOCK_NONE UINT32_MAX
#define BLI_BLOCK_SPLIT (UINT32_MAX - 1)

/** LSH key of one filter for table t (bits sampled MSB-first positions). */
uint64_t bli_lsh_key(const bl_blocking *b, uint32_t t, const uint8_t *filter);
/** lsh_sort.c: stable radix sort of n entries (key << 32 | index, keys of
 *  `keybits` bits) by key on nt threads, tmp a scratch array of n; and the
 *  work units of the sorted entries (triples: bucket start, bucket end,
 *  start of an A range of at most unit_a members, for every bucket of two
 *  or more), malloc'd into *units. Both return -1 when out of memory. */
int bli_keys_sort(uint64_t *v, uint64_t *tmp, size_t n, uint32_t keybits, int nt);
int bli_keys_units(const uint64_t *e, size_t n, size_t unit_a, size_t **units, size_t *nunits,
                   int nt);

/** Blocked candidate generation (lib/match/blocking.c). Fills one buffer per
 *  thread in `bufs` (nthreads entries). Returns BL_OK or an error. */
bl_status bli_blocked_candidates(bl_candrun *run, const bl_clkset *const *sets, size_t nsets,
                                const bl_blocking *b, int nthreads, bl_candbuf *bufs,
                                bl_error *err);

/** candidates.c: per-record top-k of candidates in anonlink order (each
 *  record of the first dataset of a pair keeps its first k). */
void bli_candidates_topk_one_sided(bl_candidate *c, size_t *n, const bl_clkset *const *sets,
                                   size_t nsets, uint32_t k);

/** candidates.c: anonlink order; anonlink _enforce_k (two-sided top-k). */
void bl_candidates_sort(bl_candidate *c, size_t n);
/** What bl_candidates_sort then bl_candidates_enforce_k keep of c (the
 *  pairs among the k best of both their records), from c in any order,
 *  sorted, into *out (caller frees); c is left as it is. threads as
 *  bli_match_threads (its two sides on two at most). */
bl_status bl_candidates_best_k(const bl_clkset *const *sets, size_t nsets, const bl_candidate *c,
                               size_t n, uint32_t k, int threads, bl_candidate **out, size_t *nout,
                               bl_error *err);
bl_status bl_candidates_enforce_k(const bl_clkset *const *sets, size_t nsets, bl_candidate *c,
                                  size_t *n, uint32_t k, bl_error *err);

/** Tests only: make `k` the active kernel (NULL restores auto choice). */
void bli_kernel_force(const bl_kernel *k);

#endif
