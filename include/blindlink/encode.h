/* blindlink/encode.h - clkhash-compatible CLK encoder.
 *
 * bl_encoder holds the per-feature keys derived from the secret (HKDF, as in
 * clkhash 0.18.3) and everything precomputed for hashing. It is immutable
 * after creation: many threads may encode with one encoder, each with its
 * own bl_encode_scratch. bl_encode_csv() is the whole streaming pipeline
 * (CSV in, CLK file out, all cores, input order kept, constant memory). */
#ifndef BLINDLINK_ENCODE_H
#define BLINDLINK_ENCODE_H

#include "common.h"
#include "clk.h"
#include "schema.h"

BL_BEGIN_DECLS

/** Opt-in Unicode normalisation applied to every value before
 *  validation and hashing (docs/normalize.md). Breaks clkhash
 *  compatibility unless both parties use the same profile. */
typedef enum bl_normalize_profile {
    BL_NORMALIZE_NONE = 0,  /**< clkhash behaviour: values hashed as given */
    BL_NORMALIZE_BASIC,     /**< "basic": NFKC + trim + collapse whitespace */
    BL_NORMALIZE_NAMES,     /**< "names": basic + case fold + accents removed +
                                 punctuation (- ' . etc.) to space, collapsed */
    BL_NORMALIZE_STRICT     /**< "strict": names, but punctuation and all
                                 whitespace removed entirely */
} bl_normalize_profile;

/** Parse a profile name ("none", "basic", "names", "strict"); -1 if unknown. */
int bl_normalize_profile_parse(const char *name);

/** Name of a profile ("none", "basic", ...). */
const char *bl_normalize_profile_name(bl_normalize_profile p);

/** Normalise one UTF-8 value with `profile` into a malloc'd NUL-terminated
 *  string (`*out`, length `*outlen`). BL_EINPUT on invalid UTF-8. */
bl_status bl_normalize(bl_normalize_profile profile, const char *in, size_t len, char **out,
                       size_t *outlen, bl_error *err) BL_WUR;

/** How a record's bits are laid out (docs/formats.md, CONTRACTS.md). */
typedef enum bl_layout {
    BL_LAYOUT_RECORD = 0, /**< one filter per record: the clkhash CLK */
    BL_LAYOUT_FIELDS      /**< one filter per field (feature or schema field
                               group), each hashed as clkhash hashes it into
                               the CLK, at 512-bit aligned offsets; the file
                               metadata lists the fields */
} bl_layout;

/** Parse "record" / "fields"; -1 if unknown. */
int bl_layout_parse(const char *name);

/** Encoder options; zero-initialise for clkhash 0.18.3 behaviour. */
typedef struct bl_encode_opts {
    int no_validate;    /**< 1: skip validation rules (clkhash --no-validate);
                             values that cannot be formatted still fail */
    int legacy_strip;   /**< 1: strip whitespace from every cell first, as
                             clkhash <= 0.18.1 did */
    bl_normalize_profile normalize; /**< opt-in normalisation */
    bl_layout layout;   /**< BL_LAYOUT_RECORD (default) or BL_LAYOUT_FIELDS */
    const char *harden; /**< NULL/"none", "recommended" or comma-separated steps
                             salt=FIELD, xor, blip=P, balance, diffuse=T
                             (docs/attacks.md); parsed and copied by
                             bl_encoder_new, so it need not outlive the call */
} bl_encode_opts;

typedef struct bl_encoder bl_encoder;

/** Derive keys from `secret` (its bytes are the HKDF input key material, as
 *  clkhash UTF-8-encodes its secret string) and prepare hashing. The
 *  secret is not retained; derived keys live in guarded memory and are
 *  wiped by bl_encoder_free. */
bl_status bl_encoder_new(const bl_schema *schema, const uint8_t *secret, size_t secret_len,
                         const bl_encode_opts *opts, bl_encoder **out, bl_error *err) BL_WUR;

/** Free (wipes keys). NULL is a no-op. */
void bl_encoder_free(bl_encoder *e);

/** The schema the encoder was made from. */
const bl_schema *bl_encoder_schema(const bl_encoder *e);

/** Encoding metadata the encoder writes into binary files (a JSON object:
 *  layout, fields, normalisation; docs/formats.md), or NULL for the plain
 *  record layout (whose files stay as before). Owned by the encoder. */
const char *bl_encoder_layout_meta(const bl_encoder *e);

/** CLK length in bits (= schema l; for the field layout the end of the last
 *  field; hardened: balance doubles it, xor halves it) and in bytes
 *  (ceil(nbits/8)). */
uint32_t bl_encoder_nbits(const bl_encoder *e);
size_t bl_encoder_nbytes(const bl_encoder *e);

/** Fingerprint for binary CLK headers: bl_schema_fingerprint with the
 *  encoder options (normalisation, legacy strip) as variant. */
void bl_encoder_fingerprint(const bl_encoder *e, uint8_t out[32]);

/** Canonical hardening profile of the encoder ("" = none), as written to
 *  the "harden" metadata key. */
const char *bl_encoder_harden(const bl_encoder *e);

/** Normalisation profile of the encoder. */
bl_normalize_profile bl_encoder_normalize(const bl_encoder *e);

/** Canonical form of a --harden profile for `schema` (e.g. "recommended"
 *  expands to its steps; "" for none), for record-level CLKs. BL_EINVAL
 *  with a message on a bad profile. */
bl_status bl_harden_canonical(const char *profile, const bl_schema *schema, char *out, size_t cap,
                              bl_error *err) BL_WUR;

/** As bl_harden_canonical for `layout`: "recommended" differs per layout
 *  (docs/attacks.md). */
bl_status bl_harden_canonical_layout(const char *profile, const bl_schema *schema, bl_layout layout, char *out,
                                     size_t cap, bl_error *err) BL_WUR;

/** Encoding metadata the encoder writes to binary files: a canonical JSON
 *  object with "normalize" and "harden" when not none, and "layout" and
 *  "fields" for the field layout; `*out` = NULL when
 *  there is nothing to record (clkhash-equivalent options). free() it. */
bl_status bl_encoder_meta(const bl_encoder *e, char **out, bl_error *err) BL_WUR;

/** Check that two CLK sets were encoded with the same "layout", "fields",
 *  "normalize" and "harden" metadata (absent keys take their defaults).
 *  BL_EINPUT with a message naming both files and the key otherwise. */
bl_status bl_clk_meta_check(const bl_clkset *a, const char *name_a, const bl_clkset *b,
                            const char *name_b, bl_error *err) BL_WUR;

/** Per-thread working memory for bl_encoder_encode (bounded in the size of
 *  one record). */
typedef struct bl_encode_scratch bl_encode_scratch;

/** New scratch for encoder `e`; NULL when out of memory. */
bl_encode_scratch *bl_encode_scratch_new(const bl_encoder *e);

/** Free scratch. NULL is a no-op. */
void bl_encode_scratch_free(bl_encode_scratch *s);

/** Encode one record: `nfields` cells (must equal the schema's feature
 *  count) given as pointers+lengths (UTF-8). Writes bl_encoder_nbytes()
 *  bytes to `out` (MSB-first bit order, pad bits zero) and the popcount to
 *  `*popcount` if non-NULL. On bad data returns BL_EINPUT with a message
 *  "column C (identifier): <rule>" for the caller to prefix with file/line. */
bl_status bl_encoder_encode(const bl_encoder *e, bl_encode_scratch *s, const char *const *fields,
                            const size_t *lens, size_t nfields, uint8_t *out, uint32_t *popcount,
                            bl_error *err) BL_WUR;

/** One hashed token, reported by bl_encoder_trace. */
typedef struct bl_token_trace {
    size_t feature;             /**< feature (column) index */
    const char *value;          /**< formatted value of the field */
    size_t value_len;
    const char *token;          /**< token text (UTF-8) */
    size_t token_len;
    const uint8_t *bytes;       /**< token as hashed (after encoding) */
    size_t nbytes;
    uint32_t k;                 /**< bits for this token */
    const uint32_t *indices;    /**< k indices into the unfolded filter */
} bl_token_trace;

/** Like bl_encoder_encode, calling `cb` for every token hashed (debugging
 *  and tests: compare with clkhash traces). */
bl_status bl_encoder_trace(const bl_encoder *e, bl_encode_scratch *s, const char *const *fields,
                           const size_t *lens, size_t nfields, uint8_t *out,
                           void (*cb)(void *ctx, const bl_token_trace *t), void *ctx,
                           bl_error *err) BL_WUR;

/** How the CSV header is treated by bl_encode_csv. */
typedef enum bl_header_mode {
    BL_HEADER_CHECK = 0, /**< first row is a header and must equal the identifiers */
    BL_HEADER_IGNORE,    /**< first row is a header, not compared (--check-header false) */
    BL_HEADER_NONE       /**< no header row (--no-header) */
} bl_header_mode;

/** Streaming CSV -> CLK file options. */
typedef struct bl_encode_csv_opts {
    bl_header_mode header;
    bl_clk_format format;   /**< BL_CLK_JSON (default when 0) or BL_CLK_BIN */
    int threads;            /**< 0 = all cores */
    const char *id_column;  /**< binary only: carry this column as record id */
    int progress;           /**< 1: bl_progress bar on stderr (if a terminal) */
    size_t batch_rows;      /**< rows per work unit; 0 = 4096 */
    /** With id_column: filled with the ids that cannot tell records apart
     *  (eval and explain find records by id), or NULL. */
    struct bl_encode_id_report *id_report;
} bl_encode_csv_opts;

/** Record ids that cannot tell records apart: the encodings are written
 *  all the same (a caller may warn). Rows count from 1 after the header. */
typedef struct bl_encode_id_report {
    uint64_t empty;        /**< records with an empty id */
    uint64_t repeated;     /**< records whose id an earlier record has */
    uint64_t first_repeat; /**< row of the first repeated id (0: none) */
} bl_encode_id_report;

/** Encode every row of CSV `csv_path` ("-" = stdin) into `out_path`
 *  atomically. Memory is bounded by threads x batch size, independent of
 *  the input size; output order equals input order. Errors name the file,
 *  line, row, column and rule ("people.csv:1043: row 1042, column 4 (dob):
 *  '1985-13-01' does not match %Y-%m-%d"); on any error no output file is
 *  left. `*nrecords` (may be NULL) receives the number of CLKs written. */
bl_status bl_encode_csv(const bl_encoder *e, const char *csv_path, const char *out_path,
                        const bl_encode_csv_opts *opts, uint64_t *nrecords, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
