/* lib/synth/synth_internal.h - private helpers shared by the synth_*.c files:
 * the PRNG (splitmix64 seeding, xoshiro256**), weighted draws, and the
 * non-ASCII name lists. Never rand(): every draw comes from an explicit
 * state so records are reproducible and thread-independent. */
#ifndef BL_SYNTH_INTERNAL_H
#define BL_SYNTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <blindlink/synth.h>
#include "synth/tables.h"

static inline uint64_t bli_sx_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/** A 64-bit mix of several words (stream keys for entities and copies). */
static inline uint64_t bli_sx_hash(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a;
    uint64_t h = bli_sx_splitmix(&x);
    x = h ^ b;
    h = bli_sx_splitmix(&x);
    x = h ^ c;
    return bli_sx_splitmix(&x);
}

static inline uint64_t bli_sx_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/** xoshiro256** next. */
static inline uint64_t bli_sx_next(uint64_t s[4])
{
    uint64_t r = bli_sx_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = bli_sx_rotl(s[3], 45);
    return r;
}

/** Uniform double in [0, 1). */
static inline double bli_sx_unit(uint64_t s[4])
{
    return (double)(bli_sx_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/** Uniform integer in [0, n), n >= 1 (Lemire's multiply-shift, tiny bias
 *  irrelevant for test data). */
static inline uint32_t bli_sx_below(uint64_t s[4], uint32_t n)
{
    return (uint32_t)(((bli_sx_next(s) >> 32) * (uint64_t)n) >> 32);
}

/** True with probability p. */
static inline int bli_sx_chance(uint64_t s[4], double p)
{
    return p > 0.0 && bli_sx_unit(s) < p;
}

/** Index drawn from cumulative weights cum[0..n-1] (cum[n-1] = total). */
static inline uint32_t bli_sx_pick_cum(uint64_t s[4], const uint32_t *cum, uint32_t n)
{
    uint32_t x = bli_sx_below(s, cum[n - 1]);
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- non-ASCII names (lib/synth/intl.c) ---------------------------------- */

/** A small list of names in one script or language group. */
typedef struct bl_sx_intl {
    const char *group;               /**< e.g. "latin-accented", "cyrillic" */
    const char *const *given_f, *const *given_m, *const *surname;
    uint32_t n_f, n_m, n_s;
    uint32_t weight;                 /**< relative share within non-ASCII names */
    int latin;                       /**< 1 when an ASCII email can be derived */
} bl_sx_intl;

extern const bl_sx_intl bl_sx_intl_groups[];
extern const uint32_t bl_sx_intl_ngroups;

/** Copy `src` into `dst` (cap bytes) as lower-case ASCII letters only, with
 *  accents removed (é -> e, ß -> ss, ø -> o); characters without an ASCII
 *  form are skipped. Returns the length written. */
size_t bli_sx_ascii_fold(const char *src, char *dst, size_t cap);

/** Copy with truncation at a UTF-8 boundary; always NUL-terminates. */
void bli_sx_copy(char *dst, size_t cap, const char *src);

/** Whether the generator writes the `corruptions` column (lib/synth/synth.c). */
int bli_sx_explain(const bl_synth *g);

/* ---- hard.c ---- */
/** Set the "hard" level (probabilities, unicode share, forms). */
void bl_synth_hard_level(bl_synth_opts *o);
/** Change Unicode form / case of name fields with probability p each. */
int bl_synth_apply_forms(bl_synth_record *r, uint64_t rng[4], double p);

#endif
