/* include/blindlink/server.h - public interface of the blindlink linkage service.
 *
 * The service is a static library (the server directory) linked into the CLI. It keeps
 * its state in a data directory: an SQLite store (`blindlink.db`), encodings
 * as checksummed binary CLK files (`encodings/`), and the hash-chained audit
 * log (`audit.log`). `blindlink serve`, `blindlink admin` and
 * `blindlink audit` are thin front ends over the functions declared here. */
#ifndef BLINDLINK_SERVER_H
#define BLINDLINK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <blindlink/common.h>

BL_BEGIN_DECLS

/** Options of bl_server_run. Zero-initialise, then set data_dir and listen;
 *  zero fields take the documented defaults. */
typedef struct bl_server_opts {
    const char *data_dir;      /**< state directory (created if missing) */
    const char *listen;        /**< "HOST:PORT"; port 0 picks a free port */
    const char *port_file;     /**< if set, the bound port is written here */
    int http_threads;          /**< libmicrohttpd thread pool; 0 = cores */
    int run_workers;           /**< linkage run workers; 0 = 1 */
    int match_threads;         /**< threads per run; 0 = all cores */
    size_t max_body;           /**< cap on JSON request bodies; 0 = 1 MiB */
    uint64_t max_upload;       /**< cap on one encodings upload; 0 = 4 GiB */
    size_t max_records;        /**< cap on encodings per upload; 0 = 10M */
    double rate_limit;         /**< requests/s per API key; 0 = 50 */
    double rate_burst;         /**< bucket size; 0 = 4 x rate_limit */
    unsigned conn_timeout_s;   /**< idle connection timeout; 0 = 30 s */
    unsigned janitor_s;        /**< retention sweep interval; 0 = 60 s */
    size_t max_candidates;     /**< server-wide cap on candidate pairs per run;
                                    0 = BL_MATCH_DEFAULT_MAX_CANDIDATES */
    int quiet;                 /**< 1: no startup banner on stderr */
    double ip_rate_limit;      /**< requests/s per client address, checked before
                                    authentication; 0 = max(200, 4 x rate_limit) (burst 4x;
                                    a failed authentication costs 10 requests) */
    unsigned body_timeout_s;   /**< a request body must arrive within this; 0 = 600 s */
    unsigned audit_interval_s; /**< refusals of unauthenticated clients beyond the
                                    first 10 per interval are logged as one count
                                    per client; 0 = 60 s */
    int allow_shared_dir;      /**< 1: start on a data directory others can read */
    const char *audit_key;     /**< audit signing key file (outside data_dir, 0600);
                                    NULL = env BLINDLINK_AUDIT_KEY */
    int audit_unsigned;        /**< 1: run without a signing key (not tamper-evident) */
    int audit_rotate;          /**< 1: a key other than the store's starts a new key
                                    period (audit.key entry); 0: such a key is refused */
    const char *tls_cert;      /**< PEM certificate (chain) file: serve HTTPS */
    const char *tls_key;       /**< PEM private key file for tls_cert */
    int insecure_http;         /**< 1: allow plain HTTP on a non-loopback address */
    const char *mpi_launch;    /**< MPI launcher command, e.g. "mpirun -n 8 --hostfile H":
                                    runs of at least mpi_min_pairs comparisons execute their
                                    candidate step with blindlink-mpi under it (split into
                                    words without a shell, docs/service.md); NULL = never */
    const char *mpi_program;   /**< blindlink-mpi to launch; NULL = the one next to this
                                    executable, else blindlink-mpi on PATH */
    uint64_t mpi_min_pairs;    /**< with mpi_launch: smallest run (cross-party pairs) that
                                    is distributed; 0 = every run */
} bl_server_opts;

/** Run the service until SIGINT/SIGTERM. Opens (and migrates) the store,
 *  resumes interrupted runs, then serves. Returns BL_OK on a clean stop. */
bl_status bl_server_run(const bl_server_opts *opts, bl_error *err) BL_WUR;

/* ---- clock ------------------------------------------------------------- */

/** Set the clock offset in seconds added to the wall clock (tests move time
 *  with it; `--clock-offset` or env BLINDLINK_CLOCK_OFFSET). */
void bl_srv_clock_set_offset(int64_t seconds);

/** Parse an offset such as "3600", "-5m", "91d", "2h" into seconds. */
bl_status bl_srv_parse_duration(const char *s, int64_t *out, bl_error *err) BL_WUR;

/** Current service time (Unix seconds, offset applied). */
int64_t bl_srv_now(void);

/* ---- administration (used by `blindlink admin`) ------------------------- */

/** Opaque handle on a data directory's store. */
typedef struct bl_store bl_store;

/** Open (creating and migrating) the store in `data_dir`. */
bl_status bl_store_open(const char *data_dir, bl_store **out, bl_error *err) BL_WUR;
/** bl_store_open with the audit signing key file `audit_key` (NULL: env
 *  BLINDLINK_AUDIT_KEY); a key other than the store's is refused unless
 *  `rotate` (then it starts a new key period, as bl_server_opts.audit_rotate). */
bl_status bl_store_open_keyed(const char *data_dir, const char *audit_key, int rotate,
                              bl_store **out, bl_error *err) BL_WUR;

/** Close the store. NULL is a no-op. */
void bl_store_close(bl_store *st);

/** Create an organisation; writes its new id (33 bytes incl. NUL) to id_out. */
bl_status bl_admin_org_add(bl_store *st, const char *name, const char *kind,
                           char id_out[33], bl_error *err) BL_WUR;

/** Issue an API key for organisation `org` (id or name) with `role`
 *  ("admin", "data_owner", "analyst", "auditor"); `expires_in` seconds from
 *  now (0 = never). The full key (shown once, never stored) is written to
 *  `key_out` (at least BL_SRV_KEY_MAX bytes) and its id to `kid_out`. */
bl_status bl_admin_key_add(bl_store *st, const char *org, const char *role, int64_t expires_in,
                           char *key_out, char kid_out[17], bl_error *err) BL_WUR;

/** Size of a buffer that can hold an API key plus NUL. */
#define BL_SRV_KEY_MAX 96

/** Revoke a key by id; BL_ENOTFOUND if unknown. */
bl_status bl_admin_key_revoke(bl_store *st, const char *kid, bl_error *err) BL_WUR;

/** Add a purpose to the controlled list (name: [a-z0-9_]{2,40}). */
bl_status bl_admin_purpose_add(bl_store *st, const char *name, const char *description,
                               bl_error *err) BL_WUR;

/** Print organisations, keys (ids, roles, states; never secrets) and
 *  purposes to `fp` as text. */
bl_status bl_admin_list(bl_store *st, void *fp, bl_error *err) BL_WUR;

/** The same as bl_admin_list as one JSON object {"organisations": [{id, name,
 *  kind}], "keys": [{id, org, role, state, expires}], "purposes": [{name,
 *  description}]} written to `fp` (a FILE *). */
bl_status bl_admin_list_json(bl_store *st, void *fp, bl_error *err) BL_WUR;

/** Bootstrap: create organisation `org_name` (kind "operator") with a first
 *  admin key, only if no admin key exists yet (BL_ESTATE otherwise). */
bl_status bl_admin_bootstrap(bl_store *st, const char *org_name, char *key_out,
                             char kid_out[17], bl_error *err) BL_WUR;

/* ---- audit log ------------------------------------------------------------ */

/** Result of bl_audit_verify. */
typedef struct bl_audit_report {
    uint64_t entries;       /**< lines checked */
    uint64_t first_bad;     /**< 1-based line of the first problem (0 = none) */
    char head_hash[65];     /**< hash of the last valid entry (hex) */
    uint64_t signed_entries; /**< entries whose signature was checked */
    uint64_t anchor_seq;    /**< sequence number the store's anchor records */
    int independent;        /**< 1: checked against keys the caller gave */
} bl_audit_report;

/** Verify the hash chain of DIR/audit.log and its anchor in the store:
 *  detects edited, deleted (inside or at the end), inserted and reordered
 *  entries. BL_OK when intact; BL_EINPUT with the first break described.
 *  A signed log is checked against the public key the store records (a
 *  self-check: use bl_audit_verify_keys for an independent one). */
bl_status bl_audit_verify(const char *data_dir, bl_audit_report *rep, bl_error *err) BL_WUR;

/** Options of bl_audit_verify_ex. Zero-initialise. */
typedef struct bl_audit_verify_opts {
    const char *const *pubkey_files; /**< public key files (bl_audit_keygen); more than one
                                          after a key rotation */
    size_t npub;                     /**< 0: use the key the store records (self-check) */
    uint64_t pin_seq;                /**< >0: the log must still hold entry pin_seq ... */
    const char *pin_hash;            /**< ... with this hash (a head seen at an earlier check) */
} bl_audit_verify_opts;

/** Verify with the auditor's own public keys: every entry must be signed by
 *  one of them, and so must the store's anchor; the anchor must be present,
 *  the log must reach it and may run past it by at most
 *  BL_AUDIT_CRASH_WINDOW entries; with a pin, the log must extend the head
 *  recorded earlier (catches a rollback of the whole directory). */
bl_status bl_audit_verify_ex(const char *data_dir, const bl_audit_verify_opts *opts,
                             bl_audit_report *rep, bl_error *err) BL_WUR;

/** Entries a log may hold beyond its anchor: an append writes the line, then
 *  commits the anchor, so a crash in between leaves exactly one. */
#define BL_AUDIT_CRASH_WINDOW 1

/** Create an audit signing key pair: `secret_path` (mode 0600) and
 *  `public_path`; neither may exist. Writes the key id (16 hex + NUL). */
bl_status bl_audit_keygen(const char *secret_path, const char *public_path, char kid[17],
                          bl_error *err) BL_WUR;

/** Read a public key file written by bl_audit_keygen. */
bl_status bl_audit_pubkey_load(const char *path, unsigned char pk[32], bl_error *err) BL_WUR;

/* ---- request parsing (exposed for the fuzz target) ---------------------- */

/** Validate a JSON request body for `kind` ("project", "consent",
 *  "withdraw", "agreement", "approve", "run", "org", "key", "erasure",
 *  "encodings", "purpose"). BL_OK or BL_EINPUT with a message naming the
 *  field and rule. Never crashes on any input. */
bl_status bl_srv_validate_body(const char *kind, const char *body, size_t len,
                               bl_error *err) BL_WUR;

BL_END_DECLS
#endif
