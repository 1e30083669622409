/* blindlink/schema.h - clkhash linkage schemas (versions 1, 2 and 3).
 *
 * A linkage schema says, for every CSV column in order, how its values are
 * validated, formatted, tokenised and hashed into the Bloom filter (CLK), and
 * holds the global filter length, fold count and key-derivation settings.
 * Parsing accepts clkhash's v1, v2 and v3 layouts (docs/schema.md); v1/v2
 * are converted to the v3 model on load, exactly as clkhash converts them.
 *
 * A parsed bl_schema is immutable and may be shared between threads. */
#ifndef BLINDLINK_SCHEMA_H
#define BLINDLINK_SCHEMA_H

#include <stdio.h>
#include "common.h"

BL_BEGIN_DECLS

/** Caps protecting against hostile schemas. */
#define BL_SCHEMA_MAX_BYTES (4u << 20)   /**< schema file size */
#define BL_SCHEMA_MAX_FEATURES 4096u     /**< features (CSV columns) */
#define BL_SCHEMA_MAX_L (1u << 20)       /**< l * 2^folds, bits hashed into */
#define BL_SCHEMA_MAX_K 65536u           /**< bitsPerToken / bitsPerFeature */
#define BL_SCHEMA_MAX_KEY_SIZE 1024u     /**< kdf keySize in bytes */

typedef struct bl_schema bl_schema;

/** Value format of a feature (`format.type`). */
typedef enum bl_format_type {
    BL_FORMAT_STRING = 1,
    BL_FORMAT_INTEGER,
    BL_FORMAT_DATE,
    BL_FORMAT_ENUM
} bl_format_type;

/** Comparison (tokeniser) of a feature (`hashing.comparison.type`). */
typedef enum bl_comparison {
    BL_CMP_NGRAM = 1,
    BL_CMP_EXACT,
    BL_CMP_NUMERIC
} bl_comparison;

/** Token hashing scheme (`hashing.hash.type`). */
typedef enum bl_hash_type {
    BL_HASH_BLAKE = 1,
    BL_HASH_DOUBLE
} bl_hash_type;

/** A diagnostic from schema parsing: JSON path plus message. */
typedef struct bl_schema_diag {
    char path[160];   /**< e.g. "$.features[3].hashing.strategy" */
    char msg[352];    /**< what is wrong there */
} bl_schema_diag;

/** Parse a schema from a JSON text. `name` (e.g. the file name) prefixes
 *  messages. On failure returns BL_ESCHEMA with the first problem in `err`
 *  ("schema.json: $.features[2].hashing: unknown key 'kk'"). Warnings (such
 *  as the ignored camelCase `xorFolds`) do not fail; read them with
 *  bl_schema_warning(). */
bl_status bl_schema_parse(const char *json, size_t len, const char *name, bl_schema **out,
                          bl_error *err) BL_WUR;

/** Read and parse a schema file (at most BL_SCHEMA_MAX_BYTES). */
bl_status bl_schema_load(const char *path, bl_schema **out, bl_error *err) BL_WUR;

/** Validate a schema text and collect every problem found (not only the
 *  first), each with its JSON path. `*diags` is malloc'd (free() it) and
 *  holds `*ndiags` entries, errors first then warnings; `*nerrors` of them
 *  are errors. Returns BL_OK when the text parsed as JSON (whatever the
 *  number of problems), BL_ENOMEM/BL_ESCHEMA otherwise, with a message
 *  that starts with `name` (the file; NULL: "schema"). */
bl_status bl_schema_check(const char *json, size_t len, const char *name, bl_schema_diag **diags,
                          size_t *ndiags, size_t *nerrors, bl_error *err) BL_WUR;

/** Free a schema. NULL is a no-op. */
void bl_schema_free(bl_schema *s);

/** Schema version the text was written in (1, 2 or 3). */
int bl_schema_version(const bl_schema *s);

/** Final CLK length in bits (`clkConfig.l`, after folding). */
uint32_t bl_schema_filter_bits(const bl_schema *s);

/** Number of XOR folds (`clkConfig.xor_folds`; `xorFolds` is ignored). */
uint32_t bl_schema_xor_folds(const bl_schema *s);

/** Number of features, ignored ones included (= expected CSV columns). */
size_t bl_schema_nfeatures(const bl_schema *s);

/** Identifier of feature i (the expected CSV header cell). */
const char *bl_schema_feature_id(const bl_schema *s, size_t i);

/** 1 if feature i is ignored (not hashed). */
int bl_schema_feature_ignored(const bl_schema *s, size_t i);

/** Number of warnings recorded while parsing. */
size_t bl_schema_nwarnings(const bl_schema *s);

/** Warning i, e.g. "$.clkConfig.xorFolds: ignored; clkhash reads only
 *  'xor_folds', so the CLKs are not folded". */
const char *bl_schema_warning(const bl_schema *s, size_t i);

/** Serialise the schema as linkage schema v3 JSON (what `schema convert`
 *  writes). For a v1/v2 input the original document is transformed the way
 *  clkhash's converter does (key order kept, Python json.dump layout, ASCII
 *  escapes), so the result equals `anonlink convert-schema` output. `*out`
 *  is malloc'd and NUL-terminated. */
bl_status bl_schema_to_v3_json(const bl_schema *s, char **out, bl_error *err) BL_WUR;

/** Write a human-readable summary: global settings, one block per feature
 *  (format, validation, tokeniser, bits per token, hash), and the expected
 *  number of bits set per record estimated from `avg_len` characters per
 *  string value (use 0 for the default of 8). */
bl_status bl_schema_describe(const bl_schema *s, FILE *fp, double avg_len, bl_error *err) BL_WUR;

/** Expected number of distinct bits set in one CLK (after folding), for
 *  values of `avg_len` characters (0 = 8) and every feature present. */
double bl_schema_expected_bits(const bl_schema *s, double avg_len);

/** BLAKE2b-256 of a canonical form of everything that changes the bits of
 *  a CLK: l, folds, KDF hash/salt/info/keySize, and per feature its position,
 *  format kind, encoding, comparison, strategy, hash and missing value (not
 *  identifiers, descriptions or validation-only rules). `variant` names
 *  encoder options that also change bits (e.g. "normalize=names"); NULL or
 *  "" for plain clkhash behaviour. Two CLK files are comparable only if
 *  their fingerprints are equal. */
void bl_schema_fingerprint(const bl_schema *s, const char *variant,
                           uint8_t out[32]);

/** Every difference between two schemas, after bringing both to linkage
 *  schema v3: one entry per differing value, with its JSON path and both
 *  values ("$.clkConfig.l": "1024 in the first, 2048 in the second"); at
 *  most 1000. `*diffs` is malloc'd (free()); 0 entries = same schema. Use
 *  bl_schema_fingerprint to know whether CLKs stay comparable (descriptions
 *  and identifiers differ without changing any bit). */
bl_status bl_schema_compare(const bl_schema *a, const bl_schema *b, bl_schema_diag **diffs,
                            size_t *ndiffs, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
