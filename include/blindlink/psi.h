/* blindlink/psi.h - exact private set intersection between two parties
 * (ECDH PSI on ristretto255) over an authenticated, encrypted TCP channel.
 *
 * A run has three steps: load and normalise the local identifiers
 * (bl_psi_input_load; bad input fails here, before any network traffic),
 * run the protocol with the peer (bl_psi_run), then write this side's own
 * matched row ids (bl_psi_result_write). docs/psi.md describes the protocol,
 * what each side learns in each mode and the threat model. */
#ifndef BLINDLINK_PSI_H
#define BLINDLINK_PSI_H

#include "common.h"
#include "csv.h"
#include "ident.h"

BL_BEGIN_DECLS

/** Wire protocol version spoken by this build (hello and every frame). */
#define BL_PSI_PROTOCOL_VERSION 1
/** Long-term identity public key size (Ed25519). */
#define BL_PSI_PUBKEY_BYTES 32
/** Length of the text form of a public key: "blpsi-pub:" + 64 hex + NUL. */
#define BL_PSI_PUBKEY_TEXT (10 + 64 + 1)
/** Bytes of each doubly-masked comparison value (96 bits, docs/psi.md). */
#define BL_PSI_CMP_BYTES 12
/** Identifier types per record, at most. */
#define BL_PSI_MAX_TYPES 3
/** Columns of one composite identifier (name parts + date), at most. */
#define BL_PSI_MAX_COLUMNS 8
/** Environment variable holding the private key when no file is given. */
#define BL_PSI_KEY_ENV "BLINDLINK_PSI_KEY"

/* ---- long-term identity keys --------------------------------------------- */

/** A party's long-term identity (Ed25519 signing key in guarded memory). */
typedef struct bl_psi_identity bl_psi_identity;

/** Generate a fresh identity. */
bl_status bl_psi_identity_generate(bl_psi_identity **out, bl_error *err) BL_WUR;

/** Load a private key from `file` (must not be readable by group or others)
 *  or, when `file` is NULL, from environment variable `env_name`. */
bl_status bl_psi_identity_load(const char *file, const char *env_name, bl_psi_identity **out,
                               bl_error *err) BL_WUR;

/** Write the private key (mode 0600) and, if `public_path` is non-NULL, the
 *  public key, each atomically. */
bl_status bl_psi_identity_save(const bl_psi_identity *id, const char *secret_path,
                               const char *public_path, bl_error *err) BL_WUR;

/** Copy the public key out. */
void bl_psi_identity_public(const bl_psi_identity *id, uint8_t pk[BL_PSI_PUBKEY_BYTES]);

/** Wipe and free. NULL is a no-op. */
void bl_psi_identity_free(bl_psi_identity *id);

/** Text form of a public key: "blpsi-pub:<64 hex digits>". */
void bl_psi_pubkey_format(const uint8_t pk[BL_PSI_PUBKEY_BYTES], char out[BL_PSI_PUBKEY_TEXT]);

/** Parse a public key given literally ("blpsi-pub:HEX" or bare hex) or, if
 *  `spec` names a readable file, the first line of that file. */
bl_status bl_psi_pubkey_load(const char *spec, uint8_t pk[BL_PSI_PUBKEY_BYTES],
                             bl_error *err) BL_WUR;

/* ---- input ---------------------------------------------------------------- */

/** One identifier of a record: its type and the CSV column(s) holding it
 *  (namedob: one or more name columns, then the date-of-birth column). */
typedef struct bl_psi_ident_spec {
    bl_ident_type type;
    size_t ncolumns;
    const char *columns[BL_PSI_MAX_COLUMNS];
} bl_psi_ident_spec;

/** Input options. Identifier priority is the order of `idents`. */
typedef struct bl_psi_input_opts {
    size_t nidents;                          /**< 1..BL_PSI_MAX_TYPES, distinct types */
    bl_psi_ident_spec idents[BL_PSI_MAX_TYPES];
    const char *id_column;                   /**< row id column; NULL = 1-based data row number */
    bl_ident_opts norm;                      /**< normaliser options */
    int strict;                              /**< 1: a value that does not normalise is an error */
    bl_csv_opts csv;                         /**< CSV reader options */
    uint64_t max_records;                    /**< cap; 0 = 100 million */
    /** Called for every value that does not normalise (message names file,
     *  line, column, field and rule), with the 1-based row number. May be NULL. */
    void (*reject)(void *ctx, uint64_t row, const char *msg);
    void *reject_ctx;
} bl_psi_input_opts;

/** Counts gathered while loading. */
typedef struct bl_psi_input_stats {
    uint64_t rows;          /**< data rows read */
    uint64_t groups;        /**< rows with at least one usable identifier (sent to the peer) */
    uint64_t rejected;      /**< values that did not normalise (reported) */
    uint64_t missing;       /**< empty identifier values */
    uint64_t duplicates;    /**< values equal to one on an earlier row (kept once) */
    uint64_t per_type[BL_PSI_MAX_TYPES]; /**< usable values per identifier slot */
} bl_psi_input_stats;

typedef struct bl_psi_input bl_psi_input;

/** Read `path` (a regular file: it is read again when writing results),
 *  normalise and deduplicate every identifier. Malformed CSV, a missing
 *  column or (with strict) a value that does not normalise give BL_EINPUT
 *  with file, line and column. */
bl_status bl_psi_input_load(const char *path, const bl_psi_input_opts *opts,
                            bl_psi_input **out, bl_error *err) BL_WUR;

/** Loading counts. */
void bl_psi_input_stats_get(const bl_psi_input *in, bl_psi_input_stats *st);

/** Free. NULL is a no-op. */
void bl_psi_input_free(bl_psi_input *in);

/* ---- protocol ------------------------------------------------------------- */

/** Who learns what (docs/psi.md). Both sides must pick matching modes:
 *  both/both, count/count, receive/send. */
typedef enum bl_psi_mode {
    BL_PSI_BOTH = 1, /**< each side learns which of its own rows matched */
    BL_PSI_RECEIVE,  /**< this side learns its matched rows; the peer learns only sizes */
    BL_PSI_SEND,     /**< the peer learns its matched rows; this side learns only sizes */
    BL_PSI_COUNT     /**< both learn only the intersection size (PSI-CA) */
} bl_psi_mode;

/** Parse "both", "receive", "send", "count"; 0 if unknown. */
bl_psi_mode bl_psi_mode_parse(const char *s);

/** Name of a mode. */
const char *bl_psi_mode_name(bl_psi_mode m);

/** Run options. Zero-initialise, then set mode and one of listen/connect. */
typedef struct bl_psi_opts {
    bl_psi_mode mode;
    const char *listen;     /**< "HOST:PORT" to accept one peer (PORT 0 = any free port) */
    const char *connect;    /**< "HOST:PORT" to connect to (retried until the timeout) */
    int timeout_s;          /**< peer silence / connect / accept limit; 0 = 120 */
    int threads;            /**< worker threads for the group arithmetic; 0 = all cores */
    uint32_t batch;         /**< records per frame; 0 = 4096 */
    int progress;           /**< 1: progress bar on stderr (only if it is a terminal) */
    /** Called once the listener is bound, with the actual port. May be NULL. */
    void (*on_listen)(void *ctx, unsigned port);
    void *on_listen_ctx;
} bl_psi_opts;

/** Summary of a run. Fields a side does not learn are zero and flagged. */
typedef struct bl_psi_stats {
    uint64_t own_groups;      /**< records this side sent */
    uint64_t peer_groups;     /**< records the peer sent (learned by both) */
    int learned;              /**< 1 when this side learned the intersection */
    int learned_rows;         /**< 1 when it learned which rows matched */
    uint64_t intersection;    /**< matched records (one-to-one), when learned */
    uint64_t per_type[BL_PSI_MAX_TYPES]; /**< matches per identifier slot, when learned */
    uint64_t bytes_sent;      /**< bytes written to the socket, framing included */
    uint64_t bytes_received;  /**< bytes read from the socket */
    double seconds;           /**< wall time of the protocol (after loading) */
    double idle_seconds;      /**< part of it spent waiting for the peer with nothing to compute */
} bl_psi_stats;

typedef struct bl_psi_result bl_psi_result;

/** Run the protocol with a peer over TCP: authenticate (the peer must prove
 *  it holds the private key of `peer_pk`, pinned), negotiate, exchange
 *  masked identifiers, and compute this side's result. Runs once per input
 *  with a fresh secret scalar. Network failures, timeouts and a vanished
 *  peer give BL_ENET; a refused key BL_EAUTH; malformed or tampered frames,
 *  a version or mode mismatch BL_EPROTO. */
bl_status bl_psi_run(bl_psi_input *in, const bl_psi_identity *me,
                     const uint8_t peer_pk[BL_PSI_PUBKEY_BYTES], const bl_psi_opts *opts,
                     bl_psi_result **out, bl_error *err) BL_WUR;

/** Statistics of a finished run. */
void bl_psi_result_stats(const bl_psi_result *r, bl_psi_stats *st);

/** Write this side's matched rows as CSV ("<id>,matched_on") atomically, in
 *  input order, re-reading the input file for the row ids. BL_ESTATE when
 *  this side did not learn its rows. */
bl_status bl_psi_result_write(const bl_psi_result *r, const bl_psi_input *in, const char *path,
                              bl_error *err) BL_WUR;

/** Free. NULL is a no-op. */
void bl_psi_result_free(bl_psi_result *r);

BL_END_DECLS
#endif
