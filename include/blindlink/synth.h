/* blindlink/synth.h - synthetic person records with known ground truth.
 *
 * The generator draws person records (given name, surname, date of birth,
 * sex, address, suburb, postcode, state, email, phone) from frequency tables
 * derived from Febrl's data set generator, plus a configurable share of
 * non-ASCII names, and corrupts copies of them with a configurable error
 * model (keyboard typos, OCR and phonetic errors, nicknames, swapped names,
 * missing values, date errors, changed email/phone, lost accents).
 *
 * Every record is a pure function of (seed, dataset, position): generation
 * is random access, streaming (constant memory), deterministic for a seed and
 * independent of the order or thread in which records are produced. Record
 * ids follow FEBRL's convention: `rec-N-org` is the original of entity N,
 * `rec-N-dup-K` its K-th corrupted copy; same N means same person. */
#ifndef BLINDLINK_SYNTH_H
#define BLINDLINK_SYNTH_H

#include <stdio.h>
#include "common.h"

BL_BEGIN_DECLS

/** Output columns after `rec_id`, in CSV order. */
typedef enum bl_synth_field {
    BL_SYNTH_GIVEN_NAME = 0,
    BL_SYNTH_SURNAME,
    BL_SYNTH_DOB,
    BL_SYNTH_SEX,
    BL_SYNTH_ADDRESS,
    BL_SYNTH_SUBURB,
    BL_SYNTH_POSTCODE,
    BL_SYNTH_STATE,
    BL_SYNTH_EMAIL,
    BL_SYNTH_PHONE,
    BL_SYNTH_NFIELDS
} bl_synth_field;

/** Kinds of corruption. Probabilities are per applicable field unless the
 *  comment says per record; docs/synth.md has examples of each. */
typedef enum bl_synth_corruption {
    BL_SYNTH_TYPO_INSERT = 0, /**< insert a keyboard neighbour of a character */
    BL_SYNTH_TYPO_DELETE,     /**< delete one character */
    BL_SYNTH_TYPO_SUBSTITUTE, /**< replace a character by a keyboard neighbour */
    BL_SYNTH_TYPO_TRANSPOSE,  /**< swap two adjacent characters */
    BL_SYNTH_OCR,             /**< OCR confusion from Febrl's table (5<->s, m->rn) */
    BL_SYNTH_PHONETIC,        /**< phonetic variant from Febrl's rules (ph->f) */
    BL_SYNTH_VARIANT,         /**< nickname / known name variant (elizabeth->liz) */
    BL_SYNTH_SWAP_NAMES,      /**< per record: given name and surname swapped */
    BL_SYNTH_MISSING,         /**< value left empty */
    BL_SYNTH_DATE_SWAP,       /**< per record: day and month swapped (day <= 12) */
    BL_SYNTH_DATE_YEAR,       /**< per record: typo in the year (digit off by one
                                   or last two digits transposed) */
    BL_SYNTH_EMAIL_CHANGE,    /**< per record: a different email address */
    BL_SYNTH_PHONE_CHANGE,    /**< per record: a different phone number */
    BL_SYNTH_ACCENT,          /**< accents dropped (jose for josé); names with
                                   decomposable accents only */
    BL_SYNTH_NCORRUPTIONS
} bl_synth_corruption;

/** Date formats of the date_of_birth column. */
typedef enum bl_synth_date_format {
    BL_SYNTH_DATE_ISO = 0, /**< 1985-03-27 */
    BL_SYNTH_DATE_FEBRL,   /**< 19850327 */
    BL_SYNTH_DATE_DMY      /**< 27-03-1985 (anonlink tutorial style) */
} bl_synth_date_format;

/** How many duplicates an original with duplicates gets (dedup sets). */
typedef enum bl_synth_dup_dist {
    BL_SYNTH_DUPS_UNIFORM = 0, /**< 1..max_dups equally likely */
    BL_SYNTH_DUPS_POISSON,     /**< 1 + Poisson(1), capped at max_dups */
    BL_SYNTH_DUPS_ZIPF         /**< P(k) proportional to 1/k, k = 1..max_dups */
} bl_synth_dup_dist;

/** Upper bounds enforced by bl_synth_opts_check. */
#define BL_SYNTH_MAX_RECORDS ((uint64_t)1000000000)
#define BL_SYNTH_MAX_PARTIES 64
#define BL_SYNTH_MAX_DUPS 9

/** Generator settings. Initialise with bl_synth_opts_init, then change. */
typedef struct bl_synth_opts {
    uint64_t seed;           /**< any value; same seed + options = same bytes */
    uint64_t records;        /**< records per party (linkage) or originals (dedup) */
    unsigned parties;        /**< linkage: number of parties (>= 2) */
    double overlap;          /**< linkage: share of each party's records whose
                                  entity is in every party, [0, 1] */
    int dedup;               /**< 1: one dataset with duplicates instead of parties */
    double dup_share;        /**< dedup: share of originals that have duplicates */
    unsigned max_dups;       /**< dedup: most duplicates per original, 1..9 */
    bl_synth_dup_dist dup_dist;
    int corrupt_originals;   /**< 1: corrupt rec-N-org records too (default 0) */
    double unicode_share;    /**< share of people with non-ASCII names, [0, 1] */
    double prob[BL_SYNTH_NCORRUPTIONS]; /**< probability of each corruption */
    bl_synth_date_format date_format;
    int explain;             /**< 1: extra CSV column listing applied corruptions */
    double forms;            /**< per name field (given name, surname, suburb) of a
                                  copy: Unicode form or case changed (NFD, UPPER,
                                  Title); set by the "hard" level, 0 otherwise */
} bl_synth_opts;

/** Defaults: seed 1, 1000 records, 2 parties, overlap 0.5, dedup off
 *  (dup_share 0.5, max_dups 3, uniform), unicode_share 0.05, ISO dates,
 *  and the "medium" corruption level. */
void bl_synth_opts_init(bl_synth_opts *o);

/** Set every corruption probability from a named level: "none", "low",
 *  "medium", "high" or "hard" (high error rates, unicode_share 0.3 from the
 *  small international name lists, and `forms`). BL_EINVAL for another name. */
bl_status bl_synth_set_level(bl_synth_opts *o, const char *level, bl_error *err) BL_WUR;

/** Short option-style name of a corruption kind ("typo-insert", "ocr", ...),
 *  NULL when out of range. */
const char *bl_synth_corruption_name(bl_synth_corruption c);

/** Column name of a field ("given_name", ...), NULL when out of range. */
const char *bl_synth_field_name(bl_synth_field f);

/** Validate options; BL_EINVAL with a message naming the bad option. */
bl_status bl_synth_opts_check(const bl_synth_opts *o, bl_error *err) BL_WUR;

/** Capacity of one field value, including the NUL. */
#define BL_SYNTH_FIELD_MAX 128

/** One generated record. `applied[f]` has bit (1u << kind) set for every
 *  corruption applied to field f. */
typedef struct bl_synth_record {
    char id[48];
    char field[BL_SYNTH_NFIELDS][BL_SYNTH_FIELD_MAX];
    uint32_t applied[BL_SYNTH_NFIELDS];
    uint64_t entity; /**< N of rec-N-... */
    int dup;         /**< -1 for an original, else K of rec-N-dup-K */
} bl_synth_record;

typedef struct bl_synth bl_synth;

/** Make a generator for validated copies of `o`. */
bl_status bl_synth_new(const bl_synth_opts *o, bl_synth **out, bl_error *err) BL_WUR;

/** Free. NULL is a no-op. */
void bl_synth_free(bl_synth *g);

/** Number of output datasets: `parties`, or 1 for dedup. */
unsigned bl_synth_ndatasets(const bl_synth *g);

/** Number of records dataset `d` holds. */
uint64_t bl_synth_size(const bl_synth *g, unsigned d);

/** Number of slots of dataset `d` (>= its size). Records are produced slot
 *  by slot in output order; a slot may be empty in deduplication sets. */
uint64_t bl_synth_slots(const bl_synth *g, unsigned d);

/** Produce the record in `slot` (< bl_synth_slots) of dataset `d`; returns 1,
 *  or 0 when the slot is empty (r untouched). Pure function of the options;
 *  thread-safe on a shared generator. */
int bl_synth_get(const bl_synth *g, unsigned d, uint64_t slot, bl_synth_record *r);

/** The uncorrupted record of entity `entity` (as an original would be with
 *  corrupt_originals off). Entity numbers: those that bl_synth_get reports. */
void bl_synth_entity(const bl_synth *g, uint64_t entity, bl_synth_record *r);

/** Write the CSV header line (rec_id, the fields, and `corruptions` when
 *  explain is on). Returns 0 or -1 on a write error. */
int bl_synth_write_header(const bl_synth *g, FILE *fp);

/** Write one record as a CSV line. Returns 0 or -1 on a write error. */
int bl_synth_write_record(const bl_synth *g, const bl_synth_record *r, FILE *fp);

/** Write every dataset: `paths[d]` for d < bl_synth_ndatasets, each atomically
 *  (bl_ofile; "-" writes to stdout). Uses `threads` worker threads (0 = all
 *  cores); output bytes do not depend on it. `progress` (may be NULL)
 *  receives records written so far. On failure no output file is left. */
bl_status bl_synth_write_all(const bl_synth *g, const char *const *paths, int threads,
                             void (*progress)(void *ctx, uint64_t done), void *ctx,
                             bl_error *err) BL_WUR;

/* ---- corruption primitives (exposed for tests and reuse) --------------- */

/** Apply corruption `kind` to the UTF-8 string `s` (capacity `cap` bytes
 *  including the NUL) for a field of kind `f`, drawing randomness from
 *  `*rng_state` (four 64-bit words, xoshiro256**; seed it with
 *  bl_synth_rng_seed). Returns 1 when `s` changed, 0 when the corruption does
 *  not apply to this value. The result is always valid UTF-8 shorter than cap
 *  when the input was valid UTF-8. Per-record kinds (swap names, date and
 *  email/phone changes) are not string operations: they return 0 here. */
int bl_synth_corrupt_value(bl_synth_corruption kind, bl_synth_field f, char *s, size_t cap,
                           uint64_t rng_state[4]);

/** Seed a xoshiro256** state from a 64-bit value (via splitmix64). */
void bl_synth_rng_seed(uint64_t rng_state[4], uint64_t seed);

BL_END_DECLS
#endif
