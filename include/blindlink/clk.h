/* blindlink/clk.h - sets of encodings (CLKs) in memory and their file
 * formats: clkhash's JSON `{"clks": [...]}` and blindlink's binary format
 * (docs/formats.md).
 *
 * In memory every filter occupies `stride` bytes (a multiple of 64), zero
 * padded past `nbits`, and the data block is 64-byte aligned, so SIMD kernels
 * can load whole vectors without tail handling on the padded side. */
#ifndef BLINDLINK_CLK_H
#define BLINDLINK_CLK_H

#include "common.h"

BL_BEGIN_DECLS

/** Size of a schema fingerprint (BLAKE2b-256). */
#define BL_FINGERPRINT_BYTES 32

/** Binary file magic (8 bytes) and current version. */
#define BL_CLKBIN_MAGIC "BLCLK\x00\r\n"
#define BL_CLKBIN_VERSION 1u
/** Header size of the binary format; records start at this offset. */
#define BL_CLKBIN_HEADER_BYTES 64u

/** Hard caps that protect memory on hostile input. */
#define BL_CLK_MAX_BITS (1u << 20)
#define BL_CLK_MAX_ID_BYTES 1024u
/** Largest metadata object in a binary file. */
#define BL_CLK_MAX_META_BYTES (1u << 20)

/** A set of equal-length bit vectors, optionally with record ids.
 *  Fields are public for hot loops; treat them as read-only and mutate
 *  through the functions. */
typedef struct bl_clkset {
    uint32_t nbits;        /**< filter length in bits (e.g. 1024, 1000) */
    uint32_t nbytes;       /**< ceil(nbits / 8): bytes that carry data */
    size_t stride;         /**< bytes between consecutive filters (multiple of 64) */
    size_t count;          /**< number of filters */
    size_t capacity;       /**< allocated filters */
    uint8_t *data;         /**< count * stride bytes, 64-byte aligned, zero padded */
    char **ids;            /**< NULL, or count NUL-terminated record ids (valid UTF-8:
                                readers, bl_clkset_append and bl_clkwriter_put refuse others) */
    int has_fingerprint;   /**< 1 when `fingerprint` is meaningful */
    uint8_t fingerprint[BL_FINGERPRINT_BYTES]; /**< schema+KDF fingerprint */
    char *meta;            /**< NULL, or the encoding metadata of a binary file: a JSON
                                object as canonical text (sorted keys, compact), e.g. the
                                layout, normalisation and hardening used (docs/formats.md) */
} bl_clkset;

/** File formats. */
typedef enum bl_clk_format {
    BL_CLK_AUTO = 0, /**< detect on read (binary magic, else JSON) */
    BL_CLK_JSON,     /**< clkhash `{"clks": ["base64", ...]}` */
    BL_CLK_BIN       /**< blindlink binary, docs/formats.md */
} bl_clk_format;

/** New empty set for `nbits`-bit filters (1..BL_CLK_MAX_BITS). */
bl_status bl_clkset_new(uint32_t nbits, size_t capacity_hint, bl_clkset **out,
                        bl_error *err) BL_WUR;

/** Free the set, its data and ids. NULL is a no-op. */
void bl_clkset_free(bl_clkset *s);

/** Append one filter given as `nbytes` packed bytes (MSB-first, as in the
 *  files). `id` may be NULL; once any id is given, all filters carry one
 *  (missing ones become ""). */
bl_status bl_clkset_append(bl_clkset *s, const uint8_t *bytes, const char *id,
                           bl_error *err) BL_WUR;

/** Pointer to filter i (no bounds check). */
static inline const uint8_t *bl_clkset_get(const bl_clkset *s, size_t i)
{
    return s->data + i * s->stride;
}

/** Read a file in either format. `max_count` caps the number of filters
 *  (0 = unlimited). Errors (BL_EINPUT) name the file and the offending entry:
 *  truncated binary, bad magic/version, corrupt base64, mixed lengths, empty
 *  input. */
bl_status bl_clkset_read(const char *path, bl_clk_format fmt, size_t max_count,
                         bl_clkset **out, bl_error *err) BL_WUR;

/** Read paths[0..n) as bl_clkset_read(path, BL_CLK_AUTO, 0) does, up to
 *  `threads` files at once (0: one per CPU). On success out[i] is file i's
 *  set. On failure every out[i] is NULL, `err` is the error of the first
 *  failing file in input order and `*failed` (if not NULL) its index. */
bl_status bl_clkset_read_many(const char *const *paths, size_t n, int threads, bl_clkset **out,
                              size_t *failed, bl_error *err) BL_WUR;

/** Read only records [first, last) of a binary CLK file (blindlink-mpi:
 *  each rank reads its share, docs/scale.md). The set has the file's full
 *  `count`, nbits, fingerprint and metadata, but only filters first..last-1
 *  are loaded: the others must not be used (their memory is allocated and
 *  never touched, so it is not resident). No ids are loaded and the
 *  checksum trailer is not verified (both need every byte: a full
 *  bl_clkset_read of the same file does it). `last` = SIZE_MAX: to the end
 *  of the file. A JSON file is read whole. */
bl_status bl_clkset_read_rows(const char *path, size_t first, size_t last, bl_clkset **out,
                              bl_error *err) BL_WUR;

/** Write a whole set atomically in the given format. `with_ids` only applies
 *  to BL_CLK_BIN (JSON never carries ids, as in clkhash). */
bl_status bl_clkset_write(const bl_clkset *s, const char *path, bl_clk_format fmt,
                          int with_ids, bl_error *err) BL_WUR;

/** Streaming writer: constant memory, atomic commit. */
typedef struct bl_clkwriter bl_clkwriter;

/** Open `path` for `nbits`-bit filters. `fingerprint` may be NULL.
 *  `with_ids`: binary format only. */
bl_status bl_clkwriter_open(const char *path, bl_clk_format fmt, uint32_t nbits,
                            const uint8_t *fingerprint, int with_ids, bl_clkwriter **out,
                            bl_error *err) BL_WUR;

/** Attach encoding metadata (a JSON object; stored canonically: sorted keys,
 *  compact) to a binary file. JSON output ignores it (clkhash has no such
 *  field). Replaces earlier metadata; call any time before commit. BL_EINVAL
 *  when `json` is not an object or is larger than BL_CLK_MAX_META_BYTES. */
bl_status bl_clkwriter_set_meta(bl_clkwriter *w, const char *json, bl_error *err) BL_WUR;

/** Replace the set's metadata (NULL removes it); validated and canonicalised
 *  as for bl_clkwriter_set_meta. */
bl_status bl_clkset_set_meta(bl_clkset *s, const char *json, bl_error *err) BL_WUR;

/** Append one filter (ceil(nbits/8) bytes) and its id (may be NULL). */
bl_status bl_clkwriter_put(bl_clkwriter *w, const uint8_t *bytes, const char *id,
                           bl_error *err) BL_WUR;

/** Finish the file, fsync and rename into place; frees `w` either way. */
bl_status bl_clkwriter_commit(bl_clkwriter *w, bl_error *err) BL_WUR;

/** Abandon: remove the temporary file and free. NULL is a no-op. */
void bl_clkwriter_abort(bl_clkwriter *w);

/** Popcount statistics of a set (what `blindlink describe` prints). */
typedef struct bl_clk_stats {
    size_t count;          /**< filters */
    uint32_t nbits;        /**< filter length */
    uint32_t min, max;     /**< smallest / largest popcount (0 when empty) */
    double q1, median, q3; /**< popcount quartiles (NaN when empty) */
    double mean, stddev;   /**< popcount mean and sample standard deviation */
    double density;        /**< mean / nbits: share of bits set */
    size_t empty, full;    /**< filters with no bit / every bit set */
    uint64_t *hist;        /**< nbits+1 counts: hist[p] filters have popcount p */
} bl_clk_stats;

/** Compute the statistics of `s`; free with bl_clk_stats_free. */
bl_status bl_clkset_stats(const bl_clkset *s, bl_clk_stats *out, bl_error *err) BL_WUR;
void bl_clk_stats_free(bl_clk_stats *st);

/** Base64 (standard alphabet, with padding) helpers used by the JSON format. */
size_t bl_base64_encoded_len(size_t nbytes);
/** Encode into `out` (at least bl_base64_encoded_len(n)+1 bytes, NUL-terminated). */
void bl_base64_encode(const uint8_t *in, size_t n, char *out);
/** Decode strictly (padding required, no whitespace). Returns decoded length
 *  in *outlen; BL_EINPUT on corrupt input or if it would exceed `cap`. */
bl_status bl_base64_decode(const char *in, size_t inlen, uint8_t *out, size_t cap,
                           size_t *outlen) BL_WUR;

BL_END_DECLS
#endif
