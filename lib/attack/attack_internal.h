/* lib/attack/attack_internal.h - what the attack methods share: the
 * plaintext the attacker holds, its own-key encodings in the layout of the
 * attacked file, and the filter segments (fields) to attack. */
#ifndef BLINDLINK_ATTACK_INTERNAL_H
#define BLINDLINK_ATTACK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <blindlink/attack.h>

/** One filter segment of a record: the whole record, or one field. */
typedef struct atk_seg {
    uint32_t offset, bits; /**< bit offset (multiple of 512 for fields) and length */
    size_t nfeat;
    size_t *feat;    /**< schema feature indices hashed into it */
    bl_schema *sub;  /**< schema for this segment alone (NULL: the whole schema) */
    bl_encoder *own; /**< attacker's encoder (own key) for the segment */
} atk_seg;

/** The hardening steps as the attacker models them: it knows the profile
 *  (Kerckhoffs), not the key, so not the permutation, taps or flips. */
typedef struct atk_hmodel {
    int xor_fold;
    double blip;
    int balance;
    uint32_t diffuse;
} atk_hmodel;

/** Steps of a canonical profile ("salt=..,xor,blip=P,balance,diffuse=T"). */
void atk_hmodel_parse(const char *canon, atk_hmodel *hm);

/** Expected Dice of two filters after the hardening `hm`, from the
 *  probabilities that a bit before it is set in both (p11), only in the
 *  first (p10), only in the second (p01); `*dens` (may be NULL) gets the
 *  probability that a bit of the first is set after it. Every step acts on
 *  that per-bit joint law: folding and diffusion XOR 2 or T bits (taken as
 *  independent: the hash positions are), BLIP flips each side
 *  independently, balancing mixes the law with its complement. */
double atk_hardened_dice(const atk_hmodel *hm, double p11, double p10, double p01, double *dens);

typedef struct atk_ctx {
    const bl_schema *schema;
    const bl_clkset *enc; /**< attacked encodings */
    bl_clkset *own;       /**< attacker's encodings of its plaintext, same layout */
    size_t m;             /**< plaintext records kept (= own->count) */
    size_t nf;            /**< schema features */
    char **cells;         /**< m * nf formatted-as-given cells (NUL-terminated) */
    char **ids;           /**< m plaintext ids (NULL if no id column) */
    size_t nseg;
    atk_seg *seg;
    int threads;
    uint64_t seed;
    /* Graph attack, record layout, no transform after hashing: the
     * attacker's encodings with WIDE_FACTOR x the bits, almost free of
     * collisions, from which the expected Dice at `narrow_bits` follows
     * (a q-gram similarity on the Dice scale without the own key's noise). */
    bl_encoder *wide_enc;
    bl_clkset *wide;
    uint32_t narrow_bits;
    atk_hmodel hm;    /**< the hardening the graph attack models (the profile, not the key) */
    bl_clkset *debal; /**< the attacked file with balancing undone (atk_debalance), or NULL */
} atk_ctx;

#define ATK_WIDE_FACTOR 8

/** The methods: fill `*g` (malloc'd) with at most one guess per encoded record. */
bl_status atk_graph(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err);
bl_status atk_frequency(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err);
bl_status atk_pattern(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err);

/** Dice of two filters given as 64-bit words (popcounts precomputed). */
double atk_dice_words(const uint64_t *a, const uint64_t *b, size_t words, uint32_t pa, uint32_t pb);

/** Popcount of `words` 64-bit words. */
uint32_t atk_popcount(const uint64_t *a, size_t words);

/** Bit i (MSB-first within bytes, as in the files) of filter bytes `b`. */
static inline int atk_bit(const uint8_t *b, uint32_t i)
{
    return (b[i >> 3] >> (7 - (i & 7))) & 1;
}

/** Greedy 1:1 assignment over scored pairs (higher score first): keeps a
 *  pair when neither side is taken yet. `pairs` is reordered. Returns the
 *  number kept, written to `out`. */
size_t atk_greedy(bl_attack_guess *pairs, size_t n, size_t nenc, size_t nplain,
                  bl_attack_guess *out);

/** Run fn(ctx, lo, hi) over [0, n) split across `threads` threads. */
void atk_parallel(int threads, size_t n, void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx);

/** Balancing undone without the key (debalance.c): when every column of
 *  every segment of `enc` has a complementary partner column, `*out` gets
 *  the records with one column of each pair (the sparser), and `lay` the
 *  halved segments; otherwise `*out` stays NULL and `lay` unchanged. */
bl_status atk_debalance(const bl_clkset *enc, bl_attack_layout *lay, bl_clkset **out,
                        bl_error *err);

/** Schema with only `feat` hashed and l = `l` (for one field). */
bl_status atk_subschema(const bl_schema *s, const size_t *feat, size_t nfeat, uint32_t l,
                        bl_schema **out, bl_error *err);

/** An encoder for one segment whose output is exactly `bits` bits. */
bl_status atk_seg_encoder(const bl_schema *sub, const uint8_t *secret, size_t len,
                          const bl_encode_opts *eo, uint32_t bits, bl_encoder **out, bl_error *err);

/* ---- sparse similarity graphs (knn.c) ---- */

#define ATK_NONE UINT32_MAX
/** The k-NN graphs are built exhaustively (all pairs of popcounts) by
 *  default; BL_ATTACK_KNN=lsh takes the plaintext side's candidates from
 *  MinHash LSH instead (experimental: at 10K it kept 32% of the edges the
 *  exhaustive graph agrees on, against 60%, and the attack failed). */
#define ATK_KNN_EXACT_MAX ((size_t)-1)

typedef struct atk_knn_in {
    const uint64_t *bits;    /**< the filters whose set bits LSH hashes */
    size_t n, words, stride; /**< stride in words */
    double (*sim)(const void *ctx, size_t i, size_t j);
    const void *ctx;
    size_t k;          /**< neighbours kept per node */
    const double *thr; /**< count candidates at or above these */
    size_t nthr;
    uint64_t seed; /**< the attacker's own (LSH functions) */
    int lsh;       /**< LSH allowed (sparse filters that separate neighbours) */
} atk_knn_in;

typedef struct atk_knn {
    size_t n, k;
    uint32_t *nb;  /**< n * k neighbours, most similar first; ATK_NONE pads */
    float *w;      /**< n * k their similarities */
    uint32_t *deg; /**< n * nthr: compared nodes at or above thr[t] */
} atk_knn;

/** Whether n nodes are compared exhaustively. */
int atk_knn_exact(size_t n);
bl_status atk_knn_build(const atk_knn_in *in, int threads, atk_knn *g);
void atk_knn_free(atk_knn *g);

#endif
