/* lib/synth/tables.h - types of the generator tables compiled into the
 * library (lib/synth/tables.c, generated from data/febrl-tables/ by
 * scripts/gen_synth_tables.py). Internal to `blindlink synth`. */
#ifndef BL_SYNTH_TABLES_H
#define BL_SYNTH_TABLES_H

#include <stdint.h>

/** A weighted value list: cum[i] is the running total of weights 0..i. */
typedef struct bl_st_freq {
    const char *const *val;
    const uint32_t *cum;
    uint32_t n;
} bl_st_freq;

/** Age (years) distribution. */
typedef struct bl_st_ages {
    const uint8_t *years;
    const uint32_t *cum;
    uint32_t n;
} bl_st_ages;

/** A consistent (suburb, postcode, state) locality. */
typedef struct bl_st_loc {
    const char *suburb;
    const char *postcode;
    const char *state;
} bl_st_loc;

typedef struct bl_st_locs {
    const bl_st_loc *val;
    const uint32_t *cum;
    uint32_t n;
} bl_st_locs;

/** (a, b) pair; variant tables are sorted by a (bytewise), one row per variant. */
typedef struct bl_st_pair {
    const char *a;
    const char *b;
} bl_st_pair;

typedef struct bl_st_pairs {
    const bl_st_pair *val;
    uint32_t n;
} bl_st_pairs;

/** Phonetic rule: where (0 anywhere, 1 start, 2 middle, 3 end), the class of
 *  the character before and after the match (0 any, 1 vowel, 2 consonant),
 *  and the replacement. */
typedef struct bl_st_rule {
    uint8_t pos, pre, post;
    const char *from;
    const char *to;
} bl_st_rule;

typedef struct bl_st_rules {
    const bl_st_rule *val;
    uint32_t n;
} bl_st_rules;

extern const bl_st_freq bl_st_given_f, bl_st_given_m, bl_st_surname, bl_st_street,
    bl_st_streetnum;
extern const bl_st_ages bl_st_age;
extern const bl_st_locs bl_st_locality;
extern const bl_st_pairs bl_st_given_var, bl_st_surname_var, bl_st_suburb_var;
extern const bl_st_pairs bl_st_ocr, bl_st_areacode;
extern const bl_st_rules bl_st_phonetic;

#endif
