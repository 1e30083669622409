/* server/srv.h - private declarations shared by the service's source files:
 * the store handle and connection pool, principals, request context, audit
 * entries, policy constants and the parsed request bodies. */
#ifndef BLINDLINK_SRV_H
#define BLINDLINK_SRV_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <sqlite3.h>

#include <blindlink/clk.h>
#include <blindlink/common.h>
#include <blindlink/server.h>
/* bli_grow: the one growth helper (a static inline, no call into lib/) */
#include "core/internal.h"

#define SRV_ID_HEX 32            /* organisation, project and run ids */
#define SRV_KID_HEX 16           /* API key ids */
#define SRV_POOL_MAX 64
#define SRV_DAY 86400LL
#define SRV_INACTIVITY_LIMIT (90 * SRV_DAY) /* grant expiry after 90 days unused */
#define SRV_SUBJECT_MAX 128
#define SRV_MAX_PARTIES 16
#define SRV_MAX_SCOPES 32
#define SRV_JSON_UPLOAD_MAX ((size_t)64 << 20)
#define SRV_CONSENT_BATCH_MAX 10000
#define SRV_CLK_B64_MAX ((((1u << 20) / 8) + 2) / 3 * 4)

/* ---- store ----------------------------------------------------------------- */

struct bl_store {
    char *dir, *db_path, *audit_path, *enc_dir;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    sqlite3 *conns[SRV_POOL_MAX];
    int busy[SRV_POOL_MAX];
    int nconns;
    /* audit chain state (guarded by audit_mu; audit_db by audit_db_mu) */
    pthread_mutex_t audit_db_mu;
    pthread_mutex_t audit_mu;
    sqlite3 *audit_db;
    int audit_fd;
    uint64_t audit_seq;
    char audit_prev[65];
    long long audit_size; /* file size after our last append; -1 unknown */
    int audit_failing;    /* 1 after a failed append, until one succeeds */
    uint8_t tag_key[32];  /* keys srv_subject_tag */
    struct srv_audit_key *audit_key; /* signing key (audit_key.c); NULL = unsigned log */
    char audit_pub[65];   /* meta 'audit_pub': the log's public key in hex ("" = unsigned) */
};

/** Open `n` pooled connections (the admin CLI uses 1). */
bl_status srv_store_open(const char *data_dir, int nconns, bl_store **out, bl_error *err);
sqlite3 *srv_db_acquire(bl_store *st);
void srv_db_release(bl_store *st, sqlite3 *db);

/** Run SQL without results. */
bl_status srv_exec(sqlite3 *db, const char *sql, bl_error *err);
/** Prepare or set err. */
sqlite3_stmt *srv_prep(sqlite3 *db, const char *sql, bl_error *err);
/** Prepare `sql` (a string literal: cached by address) through a
 *  thread-local statement cache; *cached says how to release it. */
sqlite3_stmt *srv_prep_hot(sqlite3 *db, const char *sql, int *cached, bl_error *err);
/** Release a statement from srv_prep_hot (reset if cached, else finalise). */
void srv_hot_done(sqlite3_stmt *s, int cached);
/** Begin an immediate (write) transaction; inside the request's own
 *  transaction (srv_req_begin) a savepoint. */
bl_status srv_begin(sqlite3 *db, bl_error *err);
bl_status srv_commit(sqlite3 *db, bl_error *err);
void srv_rollback(sqlite3 *db);
/** The transaction around a whole state-changing request (http.c). A
 *  failed commit rolls back. */
bl_status srv_req_begin(sqlite3 *db, bl_error *err);
bl_status srv_req_commit(sqlite3 *db, bl_error *err);
void srv_req_rollback(sqlite3 *db);
/** Move the WAL into the main file and truncate it (after an erasure). */
void srv_checkpoint(sqlite3 *db);
/** BL_ESTATE if `dir` exists and group or others have any access to it. */
bl_status srv_check_private_dir(const char *dir, bl_error *err);

/** Fill `out` with 2*nbytes lowercase hex of random bytes + NUL. */
void srv_random_hex(char *out, size_t nbytes);
void srv_hex(const uint8_t *in, size_t n, char *out);
int srv_is_hex(const char *s, size_t len);
/** SHA-256 of a file in hex; BL_EIO on read failure. */
bl_status srv_file_sha256(const char *path, char out[65], bl_error *err);
/** Format a Unix time as RFC 3339 UTC into buf (>= 21 bytes). */
void srv_time_fmt(int64_t t, char *buf, size_t cap);
/** Every time in an API reply: RFC 3339 in UTC ("2026-12-01T22:45:00Z"), as
 *  the audit log writes it; null for 0 (never). */
json_t *srv_json_time(int64_t t);
/** A reply's text: compact, each real with the fewest digits that read back
 *  as the same double, so a threshold of 0.85 is echoed 0.85. */
char *srv_json_text(json_t *v);
/** Build "<enc_dir>/<pid>/<org>.clk". */
void srv_enc_path(const bl_store *st, const char *pid, const char *org, char *buf, size_t cap);
/** Remove a project's encoding directory and its files. */
void srv_enc_remove_project(const bl_store *st, const char *pid);
/** Stored encodings carry ids "<upload row>/<subject key>" so results can
 *  name the row of the party's original upload. Returns the subject part
 *  and sets *row (0 if the id has no row prefix). */
const char *srv_stored_subject(const char *id, uint64_t *row);
/** Seconds on the monotonic clock (rate limiting, stage timings). */
double srv_mono_s(void);

/* ---- run workers' wake-up (workq.c) ----------------------------------------- */

typedef struct srv_workq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t gen; /* bumped by every signal */
} srv_workq;

void srv_workq_init(srv_workq *q);
void srv_workq_destroy(srv_workq *q);
/** Something may have become claimable (an upload stored, a run queued). */
void srv_work_signal(srv_workq *q);
/** The signal counter now; pass it to srv_work_wait after a failed claim. */
uint64_t srv_work_gen(srv_workq *q);
/** Wait until a signal after `seen`, or timeout_ms. */
void srv_work_wait(srv_workq *q, uint64_t seen, int timeout_ms);

/* ---- audit ------------------------------------------------------------------ */

typedef struct srv_audit {
    const char *org;      /* organisation id or "-" */
    const char *key;      /* key id or "-" */
    const char *role;     /* key role or "-" */
    const char *action;   /* e.g. "project.create", "run.result" */
    const char *resource; /* e.g. "project/<pid>/run/<rid>" */
    const char *purpose;  /* project purpose or "-" */
    int allowed;          /* 1 allowed, 0 refused */
    const char *reason;   /* why */
    int status;           /* HTTP status (0 for CLI actions) */
} srv_audit;

/** Entries appended on this thread join `db`'s open write transaction
 *  (NULL: each append commits on its own). The request front end joins
 *  while a state-changing request runs, so the change and its entries
 *  commit together or not at all. */
void srv_audit_join(sqlite3 *db);
/** Append one entry to the hash chain (thread- and process-safe). */
bl_status srv_audit_append(bl_store *st, const srv_audit *a, bl_error *err);
/** Whether an append can be expected to work: BL_EIO if the last append
 *  failed (and none succeeded since) or the log's tail no longer parses.
 *  Checked before a state-changing request runs, so a broken log stops
 *  writes before they happen rather than after. */
bl_status srv_audit_ready(bl_store *st, bl_error *err);

/* ---- audit signing key (audit_key.c) ------------------------------------------ */

typedef struct srv_audit_key srv_audit_key;
/** Load the signing key from `path` (NULL/"" = none) and reconcile it with
 *  the store's recorded public key: a store whose log is signed refuses a
 *  process without the key; `required` refuses to go on unsigned; a new key
 *  is recorded and logged ("audit.key"). BL_EINVAL for a misplaced, too
 *  readable or malformed key file. */
bl_status srv_audit_key_attach(bl_store *st, const char *path, int required, int rotate,
                               bl_error *err);
void srv_audit_key_free(srv_audit_key *k);
const char *srv_audit_key_id(const srv_audit_key *k);
/** Key id: 16 hex of SHA-256(public key). */
void srv_audit_kid(const unsigned char pk[32], char kid[17]);
/** Ed25519 signature of the NUL-terminated `msg` as 128 hex digits. */
void srv_audit_sign(const srv_audit_key *k, const char *msg, char sig_hex[129]);
int srv_audit_sig_ok(const unsigned char pk[32], const char *msg, const char *sig_hex);
bl_status srv_audit_pub_parse_hex(const char *hex, unsigned char pk[32]);

/* ---- principals -------------------------------------------------------------- */

typedef struct srv_principal {
    char org[SRV_ID_HEX + 1];
    char org_name[129];
    char kid[SRV_KID_HEX + 1];
    char role[16];
} srv_principal;

/** Check an Authorization header value. BL_OK, or BL_EAUTH with a reason
 *  ("unknown key", "key revoked", "key expired", "malformed"). */
bl_status srv_authenticate(sqlite3 *db, const char *header, srv_principal *p, bl_error *err);
int srv_role_valid(const char *role);
/** Resolve an organisation given as id or name into its id. */
bl_status srv_org_resolve(sqlite3 *db, const char *ref, char id[SRV_ID_HEX + 1], bl_error *err);
bl_status srv_key_create(sqlite3 *db, const char *org_id, const char *role, int64_t expires_in,
                         char *key_out, char kid_out[17], bl_error *err);
/** BL_EINVAL if a name shown to others holds invalid UTF-8, a control,
 *  a line/paragraph separator or a bidirectional control (U+202E...). */
bl_status srv_display_name_check(const char *what, const char *s, bl_error *err);
bl_status srv_org_create(sqlite3 *db, const char *name, const char *kind, char id_out[33],
                         bl_error *err);
bl_status srv_purpose_add(sqlite3 *db, const char *name, const char *desc, bl_error *err);

/* ---- policy ------------------------------------------------------------------ */

/** 1 if the scope is one of the minimal sign-up scopes (name, email,
 *  profile_photo); 0 for other known scopes; -1 if unknown. */
int srv_scope_kind(const char *scope);
/** Known scopes, NULL-terminated (for docs and error messages). */
extern const char *const srv_scopes[];

/* ---- parsed request bodies (reqparse.c) ---------------------------------------- */

typedef struct srv_project_req {
    char name[201];
    char purpose[41];
    char parties[SRV_MAX_PARTIES][129];
    int nparties;
    char scopes[SRV_MAX_SCOPES][32];
    int nscopes;
    char result_type[16]; /* "groups" | "owner_rows" */
    int reveal_scores;
    double threshold;
    char mode[16]; /* "greedy" | "probabilistic" */
    double merge_threshold;
    int retention_days;
    int64_t max_candidates;
    int top_k;
} srv_project_req;

typedef struct srv_consent_item {
    char subject[SRV_SUBJECT_MAX + 1];
    char purposes[16][41];
    int npurposes;
} srv_consent_item;

/** Parse a JSON body: returns the object (caller json_decref) or NULL with
 *  err set (BL_EINPUT, line/column). */
json_t *srv_json_parse(const char *body, size_t len, bl_error *err);
bl_status srv_parse_project(json_t *o, srv_project_req *r, bl_error *err);
/** Consent batch: {"subject":..,"purposes":[..]} or {"subjects":[{...},...]}.
 *  *items is malloc'd (free()). For withdraw, `purposes_optional` allows
 *  omitting purposes (= all). */
bl_status srv_parse_consent(json_t *o, int purposes_optional, srv_consent_item **items,
                            size_t *n, bl_error *err);
bl_status srv_parse_agreement(json_t *o, char ref[201], char sha[65], bl_error *err);
bl_status srv_parse_approve(json_t *o, char sha[65], bl_error *err);
bl_status srv_parse_run(json_t *o, char name[201], double *threshold, bl_error *err);
bl_status srv_parse_org(json_t *o, char name[129], char kind[41], bl_error *err);
bl_status srv_parse_key(json_t *o, char role[16], int64_t *expires_in, bl_error *err);
bl_status srv_parse_subject(json_t *o, char subject[SRV_SUBJECT_MAX + 1], bl_error *err);
bl_status srv_parse_purpose(json_t *o, char name[41], char desc[401], bl_error *err);
int srv_subject_valid(const char *s);
int srv_purpose_name_valid(const char *s);
/** Called once per element of a streamed JSON upload (0-based index). */
typedef bl_status (*srv_encoding_cb)(void *ctx, size_t index, const char *subject,
                                     const char *clk_b64, bl_error *err);
/** Walk {"encodings":[...]} in `buf` one element at a time (same checks as
 *  before, without building the whole document). An optional
 *  "schema_fingerprint" string (before or after) goes to *fp (the caller
 *  frees it; NULL when absent, or when fp is NULL). */
bl_status srv_parse_encodings_stream(const char *buf, size_t len, srv_encoding_cb cb, void *ctx,
                                     size_t *count, json_t **fp, bl_error *err);


/* ---- server context and requests (http.c, reply.c) ------------------------------------ */

struct MHD_Daemon;
struct MHD_Connection;
struct srv_active;

typedef struct srv_ctx {
    bl_store *st;
    bl_server_opts opts;
    struct MHD_Daemon *daemon;
    pthread_mutex_t rl_mu;          /* rate limiters and refusal counts */
    struct srv_bucket *buckets;     /* per key */
    size_t nbuckets, capbuckets;
    struct srv_client *clients;     /* per client address */
    size_t nclients, capclients;
    pthread_mutex_t enc_mu;         /* serialises rewrites/reads of encoding files */
    pthread_mutex_t wk_mu;          /* run workers: claiming and the active slots */
    srv_workq work;                 /* wakes the run workers */
    int stop;
    pthread_t *workers;
    int nworkers;
    struct srv_active *active;      /* one slot per worker: progress of running runs */
} srv_ctx;

enum { SRV_GET = 1, SRV_POST, SRV_PUT, SRV_DELETE };

/* A change to an encodings file that waits for the request's commit
 * (txfiles.c). RMPROJECT: `path` holds the project id. */
enum { SRV_FOP_RENAME, SRV_FOP_UNLINK, SRV_FOP_RMPROJECT };
typedef struct srv_fileop {
    int kind;
    char path[4096];
    char tmp[4200];
} srv_fileop;

typedef struct srv_req {
    srv_ctx *srv;
    struct MHD_Connection *conn;
    int method;
    char path[512];
    char *seg[10];
    int nseg;
    int route;
    char url[600];     /* the full request path, valid UTF-8 (for the log) */
    char client[64];   /* client address */
    double t_start;    /* monotonic time of the headers */
    srv_principal p;
    int authed;
    int no_audit; /* anonymous health checks */
    sqlite3 *db;
    /* body */
    char *body;
    size_t len, cap, limit;
    int too_big;
    int spool_fd;
    char spool_path[4096];
    uint64_t spooled;
    int upload_mode; /* 0 none, 1 json, 2 binary (both spooled to disk) */
    bl_clkset *upload_set; /* parsed before the request's transaction */
    int tx;          /* the request's transaction is open on db */
    int checkpoint;  /* checkpoint the WAL after commit (erasure) */
    srv_fileop *fops; /* file changes applied after the commit (txfiles.c) */
    int nfops;
    size_t capfops;
    unsigned retry_after; /* seconds, for a 429 */
    int first_done;
    /* response */
    int status;
    json_t *json;
    const char *content_type;
    int queued;
    /* audit */
    char action[48];
    char resource[128];
    char purpose[41];
    char reason[512];
} srv_req;

/** Copy `in` to `out` (cap bytes) as valid UTF-8: each byte that is not
 *  part of a valid character becomes the text \xHH; never cuts a character. */
void srv_text_clean(const char *in, char *out, size_t cap);
/** Truncate `s` in place to at most `max` bytes at a character boundary. */
void srv_text_cut(char *s, size_t max);
/** Set a JSON success response (takes the reference). */
void srv_reply(srv_req *r, int status, json_t *body);
/** Set an application/problem+json response (the title follows from the
 *  status); `detail` also becomes the audit reason. */
void srv_problem(srv_req *r, int status, const char *fmt, ...) BL_PRINTF(3, 4);
/** Problem response from an error context (status from srv_http_status). */
void srv_problem_from_error(srv_req *r, const bl_error *e);
/** Map a bl_status to an HTTP status (400, 403, 404, 409, 413, 500, ...). */
int srv_http_status(bl_status s);
/** Append the request's own entry (fails closed: 0 if the log could not be
 *  written; the front end then answers 503 instead of the response). */
int srv_audit_request(srv_req *r);
/** Append a system audit entry (no principal: janitor, worker). */
void srv_audit_system(srv_ctx *c, const char *action, const char *resource, const char *purpose,
                      int allowed, const char *reason);
/** Append an extra decision entry on behalf of the request's principal. */
void srv_audit_decision(srv_req *r, const char *action, int allowed, const char *reason);

/* ---- per client address, before authentication (clients.c) ------------------------------ */

/** Charge `cost` requests to the address's bucket; 0 (with the seconds to
 *  wait) if it is empty. */
int srv_client_allow(srv_ctx *c, const char *addr, double cost, unsigned *retry_after);
/** A failed authentication from `addr` (costs more than a request). */
void srv_client_auth_failed(srv_ctx *c, const char *addr);
/** A refused unauthenticated request: 1 to log it, 0 if only counted. */
int srv_client_refusal(srv_ctx *c, const char *addr, int status);
/** Log the counts of intervals that ended (all: every count, at stop). */
void srv_clients_flush(srv_ctx *c, int all);

/* ---- TLS and the listening policy (tls.c) ---------------------------------------------------- */

typedef struct srv_tls {
    char *cert, *key; /* PEM texts in guarded memory; NULL without TLS */
} srv_tls;
struct sockaddr;
extern const char srv_tls_priorities[];
/** Plain HTTP only on loopback unless opts->insecure_http; cert and key together. */
bl_status srv_listen_policy(const bl_server_opts *o, const struct sockaddr *sa, bl_error *err);
bl_status srv_tls_load(const bl_server_opts *o, srv_tls *t, bl_error *err);
void srv_tls_free(srv_tls *t);

/* ---- small endpoints (admin_api.c) ----------------------------------------------------------- */

void srv_h_status(srv_req *r);
void srv_h_version(srv_req *r);
void srv_h_whoami(srv_req *r);
void srv_h_purposes_list(srv_req *r);
void srv_h_purpose_create(srv_req *r);
void srv_h_scopes(srv_req *r);
void srv_h_orgs_list(srv_req *r);
void srv_h_org_create(srv_req *r);
void srv_h_key_create(srv_req *r);
void srv_h_keys_list(srv_req *r);
void srv_h_key_revoke(srv_req *r);
/** GET /audit?after=N&limit=M (auditor role). */
void srv_h_audit_read(srv_req *r);

/* ---- projects (projects.c) ----------------------------------------------------------- */

typedef struct srv_project {
    char id[SRV_ID_HEX + 1];
    char name[201];
    char purpose[41];
    int extended;
    char result_type[16];
    int reveal_scores;
    double threshold;
    char mode[16];
    double merge_threshold;
    int64_t max_candidates;
    int top_k;
    int64_t created, retention_until;
    char state[16];
    char creator[SRV_ID_HEX + 1];
    char agreement_ref[201];
    char agreement_sha[65];
    int64_t agreement_at;
    int nowners;
    int ninvited;  /* owner invitations not yet accepted (void ones included) */
    int ndeclined; /* owner invitations declined */
    char schema_fp[65];        /* registered linkage schema fingerprint ("" = none) */
} srv_project;

typedef struct srv_grant {
    char party_role[10]; /* "owner" | "analyst" */
    int party_index;     /* 0.. for owners, -1 for the analyst */
    char state[12];      /* "active" | "pending" | "expired" */
    int64_t approved_at, last_used, expired_at;
    char approved_sha[65];
} srv_grant;

enum { SRV_ACC_ANY = 0, SRV_ACC_OWNER = 1, SRV_ACC_ANALYST = 2 };
#define SRV_ACC_NO_EXPIRY 0x10 /* the re-approval itself */
#define SRV_ACC_NEED_READY 0x20 /* uploads and runs: approvals + agreement complete */
#define SRV_ACC_INVITEE 0x40 /* also open to an owner that has not yet accepted */

/** Load project `pid` and check the caller may act on it. 1 if allowed, 0
 *  if a problem response was set. */
int srv_project_access(srv_req *r, const char *pid, int need, srv_project *pj, srv_grant *g);
bl_status srv_project_load(sqlite3 *db, const char *pid, srv_project *pj, bl_error *err);
/** Purge a project's data (encodings, runs, results); keeps a tombstone.
 *  Inside request r's transaction the files go once it commits (r NULL:
 *  at once). */
bl_status srv_project_purge(srv_ctx *c, sqlite3 *db, srv_req *r, const char *pid,
                            const char *why, bl_error *err);
/** Purge every project past its retention date; returns how many. */
int srv_retention_sweep(srv_ctx *c);
void srv_h_projects_create(srv_req *r);
void srv_h_projects_list(srv_req *r);
void srv_h_project_get(srv_req *r, const char *pid);
void srv_h_project_delete(srv_req *r, const char *pid);
void srv_h_agreement(srv_req *r, const char *pid);
void srv_h_approve(srv_req *r, const char *pid);
/** An invited data owner accepts or declines (POST .../accept, .../decline). */
void srv_h_invitation(srv_req *r, const char *pid, int accept);
/** State shown to parties: "awaiting_acceptance" / "declined" while the
 *  invitations are not all accepted, else the stored state. */
const char *srv_project_shown_state(const srv_project *pj);

/* ---- file changes that follow the commit (txfiles.c) ---------------------------------------- */

/** The pending name of an encodings file: ".<name>.pending" beside it. */
void srv_file_pending_path(const char *path, char *buf, size_t cap);
/** Where the request's current version of `path` is: `path`, its pending
 *  file (buf) when this transaction rewrote it, or NULL when it removed it. */
const char *srv_file_current(srv_req *r, const char *path, char *buf, size_t cap);
/** Register a change of `path` to apply once the request's transaction has
 *  committed: SRV_FOP_RENAME (its pending file, already written, replaces
 *  it), SRV_FOP_UNLINK, SRV_FOP_RMPROJECT (path = project id). Without a
 *  request transaction (r NULL, or r->tx 0) the change is made at once,
 *  under enc_mu (which the caller must not hold then). */
bl_status srv_file_after_commit(srv_ctx *c, srv_req *r, int kind, const char *path,
                                bl_error *err);
/** Apply (committed) or drop (rolled back: pending files removed) the
 *  request's file changes; the caller holds enc_mu. */
void srv_fileops_finish(srv_req *r, int committed);
/** At start: finish renames a crash interrupted after the commit, remove
 *  other pending files and encodings files the store no longer records. */
void srv_files_recover(srv_ctx *c, unsigned *renamed, unsigned *removed);

/* ---- registered linkage schema (minimise.c) ------------------------------------------------ */

struct bl_clkset;
/** From a project body's "schema", "schema_features" and "schema_variant"
 *  (required: a project without a schema is refused): check that every
 *  hashed feature maps to a scope the project requests and compute the
 *  fingerprint into fp_hex; on success
 *  *features_json (malloc'd) records the mapping. BL_EINPUT with the reason. */
bl_status srv_schema_register(json_t *body, const srv_project_req *q, char fp_hex[65],
                              char **features_json, bl_error *err);
/** JSON uploads: a "schema_fingerprint" value (NULL = none) into set. */
bl_status srv_schema_fingerprint_parse(json_t *v, struct bl_clkset *set, bl_error *err);
/** 1 if the upload's fingerprint matches the project's registered schema;
 *  else (also when the project has none) a problem response is set. */
int srv_schema_upload_ok(srv_req *r, const srv_project *pj, const struct bl_clkset *set);
/** Why a project without a registered schema (one created before the schema
 * was required) accepts no upload and no run; written into buf. */
const char *srv_no_schema_msg(const srv_project *pj, char *buf, size_t n);

/* ---- uploads (uploads.c) ------------------------------------------------------------------ */

/** Pre-check before an upload body is received (role, grant, readiness,
 *  not yet uploaded). 1 if allowed. */
int srv_upload_precheck(srv_req *r, const char *pid);
/** Parse the spooled upload (JSON streamed, or binary) into r->upload_set
 *  before the request's transaction opens; a problem is set on failure. */
void srv_upload_prepare(srv_req *r);
void srv_h_upload(srv_req *r, const char *pid);
void srv_h_upload_get(srv_req *r, const char *pid);
/** A data owner withdraws its whole upload: file, row, and its rows in results. */
void srv_h_upload_delete(srv_req *r, const char *pid);

/* ---- consent and erasure (consent.c) ------------------------------------------------------- */

/** Short keyed tag for a subject key in the audit log (never the key). */
void srv_subject_tag(const bl_store *st, const char *org, const char *subject, char out[17]);
void srv_h_consent(srv_req *r);
void srv_h_consent_withdraw(srv_req *r);
void srv_h_consent_get(srv_req *r, const char *subject);
void srv_h_erasure(srv_req *r);
/** 1 if subject has an active opt-in for purpose with org. */
int srv_consent_has(sqlite3_stmt *q, const char *org, const char *subject, const char *purpose);
/** Sorted snapshot of the subjects opted in to one purpose with one org. */
typedef struct srv_consent_set {
    char **subj;
    char *pool;
    size_t n;
} srv_consent_set;
#define SRV_CONSENT_SET_MAX ((size_t)100000000)
bl_status srv_consent_set_load(sqlite3 *db, const char *org, const char *purpose,
                               srv_consent_set *out, bl_error *err);
int srv_consent_set_has(const srv_consent_set *cs, const char *subject);
void srv_consent_set_free(srv_consent_set *cs);
#define SRV_CONSENT_SQL                                                                        \
    "SELECT 1 FROM consent WHERE org_id=? AND subject=? AND purpose=? AND state='in'"

/* ---- runs (runs.c) ------------------------------------------------------------------------- */

bl_status srv_workers_start(srv_ctx *c, bl_error *err);
void srv_workers_stop(srv_ctx *c);
/** Requeue runs interrupted by a crash (or fail them after 3 attempts). */
bl_status srv_runs_recover(srv_ctx *c, bl_error *err);
void srv_h_runs_create(srv_req *r, const char *pid);
void srv_h_runs_list(srv_req *r, const char *pid);
void srv_h_run_status(srv_req *r, const char *pid, const char *rid);
void srv_h_run_result(srv_req *r, const char *pid, const char *rid);
/** Cancel a queued or running run (analyst); 409 once it has ended. */
void srv_h_run_cancel(srv_req *r, const char *pid, const char *rid);

#endif
