/* blindlink/attack.h - re-identification attacks against our own encodings
 * (docs/attacks.md), so data owners can measure their exposure.
 *
 * The attacker knows the schema and the encoding options (Kerckhoffs: the
 * normalisation and hardening profile, read from the binary file's metadata
 * or given explicitly) and holds a plaintext population that overlaps the
 * encoded one. It never knows the secret: it encodes its own plaintext with
 * a key of its own, so bit positions differ and every method works from
 * structure only (frequencies, co-occurrence, similarity graphs). Record ids
 * in the encoded file are used only to score the guesses. */
#ifndef BLINDLINK_ATTACK_H
#define BLINDLINK_ATTACK_H

#include "common.h"
#include "clk.h"
#include "encode.h"
#include "schema.h"

BL_BEGIN_DECLS

typedef enum bl_attack_method {
    BL_ATTACK_GRAPH = 1,  /**< similarity-graph matching (Vidanage et al. 2020) */
    BL_ATTACK_FREQUENCY,  /**< frequent filters aligned with frequent values */
    BL_ATTACK_PATTERN     /**< bit-pattern mining to q-grams (Christen et al.) */
} bl_attack_method;

/** Parse "graph", "frequency", "pattern"; -1 if unknown. */
int bl_attack_method_parse(const char *name);
const char *bl_attack_method_name(bl_attack_method m);

/** Attack options; zero-initialise, then set method. */
typedef struct bl_attack_opts {
    bl_attack_method method;
    const char *ids_column;   /**< column of the plaintext CSV holding its record ids */
    int truth_ids;            /**< 1: score guesses by id equality (needs ids on both sides) */
    int normalize_set;        /**< 1: use `normalize`, else the file's "normalize" metadata */
    bl_normalize_profile normalize;
    const char *harden;       /**< non-NULL: this profile, else the file's "harden" metadata */
    int legacy_strip;         /**< as encode --legacy-strip for the plaintext */
    int no_validate;          /**< as encode --no-validate */
    int threads;              /**< 0 = all cores */
    uint64_t seed;            /**< seed of the attacker's own key (runs are reproducible) */
    int progress;             /**< 1: progress on stderr when it is a terminal */
} bl_attack_opts;

/** Outcome of one attack. */
typedef struct bl_attack_result {
    size_t encoded;           /**< encoded records attacked */
    size_t plain;             /**< plaintext records known to the attacker */
    size_t skipped;           /**< plaintext rows the schema rejected (not used) */
    size_t guesses;           /**< encoded records given a plaintext guess */
    size_t correct;           /**< guesses whose ids agree (truth_ids) */
    double reidentified;      /**< correct / encoded */
    double precision;         /**< correct / guesses (0 when no guesses) */
    double seconds;           /**< wall time of the attack */
    char layout[16];          /**< "record" or "fields" */
    size_t segments;          /**< filters attacked per record (fields, or 1) */
    char harden[160];         /**< hardening profile the attacker reproduced ("" none) */
    int scored;               /**< 1: correct, reidentified and precision were measured
                                   (truth_ids); 0: there was no truth to score against */
} bl_attack_result;

/** One guess: encoded record -> plaintext record (row index, 0-based). */
typedef struct bl_attack_guess {
    uint32_t enc;
    uint32_t plain;
    double score;             /**< method-specific confidence, larger is surer */
} bl_attack_guess;

/** Run the attack of `o->method` with plaintext CSV `plain_csv` (header
 *  row naming the schema's identifiers, any order, other columns allowed)
 *  against `enc`. `guesses`/`nguesses` (may be NULL) receive the guesses
 *  (malloc'd). Errors: BL_EINPUT/BL_EINVAL naming the file and what is
 *  wrong (missing column, no ids with truth_ids, layout mismatch). */
bl_status bl_attack_run(const bl_schema *schema, const char *plain_csv, const bl_clkset *enc,
                        const bl_attack_opts *o, bl_attack_result *r, bl_attack_guess **guesses,
                        size_t *nguesses, bl_error *err) BL_WUR;

/** Write the result as one JSON object (method, encoded, plain, guesses,
 *  correct, reidentified, precision, seconds, layout, segments, harden). */
bl_status bl_attack_result_json(const bl_attack_result *r, bl_attack_method m, char **out,
                                bl_error *err) BL_WUR;

/** One field of the field-level layout (CONTRACTS "fields" metadata). */
typedef struct bl_attack_layout_field {
    char name[64];
    size_t nfeatures;
    char **features;          /**< schema feature identifiers */
    uint32_t offset, bits;
} bl_attack_layout_field;

/** Parsed "layout"/"fields" metadata of a CLK set. */
typedef struct bl_attack_layout {
    int fields;               /**< 0: record-level, 1: field-level */
    size_t nfields;
    bl_attack_layout_field *f;
} bl_attack_layout;

/** Parse the layout metadata of `s` (`name` for messages): absent means
 *  record-level. Checks offsets (multiples of 512, increasing, inside
 *  nbits) and that every feature name is in `schema`. */
bl_status bl_attack_layout_parse(const bl_clkset *s, const char *name, const bl_schema *schema, bl_attack_layout *out,
                          bl_error *err) BL_WUR;
void bl_attack_layout_free(bl_attack_layout *l);

/** Field-level encoding for tests and benchmarks until `encode --layout`
 *  exists: one field per non-ignored feature, each `field_bits` bits (a
 *  multiple of 512; the schema's hashing, l replaced) hardened with
 *  `eo->harden`, written with the "layout"/"fields" metadata of CONTRACTS
 *  to binary file `out_path` with ids from column `ids_column` (may be NULL). */
bl_status bl_attack_encode_fields(const bl_schema *schema, const char *csv, const bl_encode_opts *eo,
                                  const uint8_t *secret, size_t secret_len, uint32_t field_bits,
                                  const char *ids_column, const char *out_path, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
