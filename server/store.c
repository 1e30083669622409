/* server/store.c - the service's embedded SQLite store: opening the data
 * directory, schema migrations (PRAGMA user_version), a small connection
 * pool, the injectable clock and small helpers (ids, hashes, paths). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "srv.h"

/* ---- clock ------------------------------------------------------------------- */

static int64_t clock_offset;

void bl_srv_clock_set_offset(int64_t seconds)
{
    __atomic_store_n(&clock_offset, seconds, __ATOMIC_RELAXED);
}

int64_t bl_srv_now(void)
{
    return (int64_t)time(NULL) + __atomic_load_n(&clock_offset, __ATOMIC_RELAXED);
}

bl_status bl_srv_parse_duration(const char *s, int64_t *out, bl_error *err)
{
    if (!s || !*s)
        return bl_error_set(err, BL_EINVAL, "empty duration");
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno)
        return bl_error_set(err, BL_EINVAL, "'%s' is not a duration (e.g. 3600, 91d, 2h, 30m)", s);
    long long mul = 1;
    if (*end == 'd')
        mul = SRV_DAY, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 's')
        end++;
    if (*end || v > 1000000000LL || v < -1000000000LL)
        return bl_error_set(err, BL_EINVAL, "'%s' is not a duration (e.g. 3600, 91d, 2h, 30m)", s);
    *out = v * mul;
    return BL_OK;
}

/* ---- helpers ------------------------------------------------------------------ */

void srv_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void srv_random_hex(char *out, size_t nbytes)
{
    uint8_t buf[64];
    if (nbytes > sizeof buf)
        nbytes = sizeof buf;
    randombytes_buf(buf, nbytes);
    srv_hex(buf, nbytes, out);
    sodium_memzero(buf, sizeof buf);
}

int srv_is_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

bl_status srv_file_sha256(const char *path, char out[65], bl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    static __thread uint8_t buf[1 << 16];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)r);
    }
    close(fd);
    uint8_t d[32];
    crypto_hash_sha256_final(&h, d);
    srv_hex(d, 32, out);
    return BL_OK;
}

void srv_time_fmt(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *srv_json_time(int64_t t)
{
    if (t <= 0)
        return json_null();
    char buf[32];
    srv_time_fmt(t, buf, sizeof buf);
    return json_string(buf);
}

void srv_enc_path(const bl_store *st, const char *pid, const char *org, char *buf, size_t cap)
{
    if (org)
        snprintf(buf, cap, "%s/%s/%s.clk", st->enc_dir, pid, org);
    else
        snprintf(buf, cap, "%s/%s", st->enc_dir, pid);
}

const char *srv_stored_subject(const char *id, uint64_t *row)
{
    const char *slash = strchr(id, '/');
    if (row)
        *row = slash ? strtoull(id, NULL, 10) : 0;
    return slash ? slash + 1 : id;
}

double srv_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void srv_enc_remove_project(const bl_store *st, const char *pid)
{
    char dir[4096];
    srv_enc_path(st, pid, NULL, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- SQL helpers ---------------------------------------------------------------- */

bl_status srv_exec(sqlite3 *db, const char *sql, bl_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        bl_error_set(err, BL_EIO, "store: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return BL_EIO;
    }
    return BL_OK;
}

sqlite3_stmt *srv_prep(sqlite3 *db, const char *sql, bl_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

/* Thread-local cache of prepared statements for the hot read path. A
 * statement belongs to its connection and is only ever run by the thread
 * holding that connection, so no locking is needed; a store generation
 * number invalidates entries of closed stores (whose statements were
 * finalised at close). */
#define TL_CACHE 48
static uint64_t store_generation = 1;
static __thread struct {
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt *st;
    uint64_t gen;
} tl_cache[TL_CACHE];

sqlite3_stmt *srv_prep_hot(sqlite3 *db, const char *sql, int *cached, bl_error *err)
{
    uint64_t gen = __atomic_load_n(&store_generation, __ATOMIC_ACQUIRE);
    int free_slot = -1;
    for (int i = 0; i < TL_CACHE; i++) {
        if (tl_cache[i].gen == gen && tl_cache[i].db == db && tl_cache[i].sql == sql) {
            *cached = 1;
            return tl_cache[i].st;
        }
        if (free_slot < 0 && tl_cache[i].gen != gen)
            free_slot = i;
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, free_slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &s,
                           NULL) != SQLITE_OK) {
        bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
        return NULL;
    }
    *cached = free_slot >= 0;
    if (free_slot >= 0) {
        tl_cache[free_slot].db = db;
        tl_cache[free_slot].sql = sql;
        tl_cache[free_slot].st = s;
        tl_cache[free_slot].gen = gen;
    }
    return s;
}

void srv_hot_done(sqlite3_stmt *s, int cached)
{
    if (!s)
        return;
    if (cached) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    } else {
        sqlite3_finalize(s);
    }
}

static void close_conn(sqlite3 *db)
{
    sqlite3_stmt *s;
    while ((s = sqlite3_next_stmt(db, NULL)))
        sqlite3_finalize(s); /* cached statements die with their connection */
    sqlite3_close(db);
}

/* A handler's transaction inside the request's own (http.c opens one around
 * every state-changing request) becomes a savepoint: its commit releases
 * the savepoint and the request's commit, together with the audit entry,
 * makes it durable. One connection is used by one thread at a time, so the
 * nesting is tracked per thread. */
static __thread int tx_nested[16], tx_depth;

bl_status srv_begin(sqlite3 *db, bl_error *err)
{
    int nested = !sqlite3_get_autocommit(db);
    if (tx_depth >= 16)
        return bl_error_set(err, BL_EINTERNAL, "store: transactions nested too deeply");
    bl_status rc = srv_exec(db, nested ? "SAVEPOINT h" : "BEGIN IMMEDIATE", err);
    if (rc == BL_OK)
        tx_nested[tx_depth++] = nested;
    return rc;
}

bl_status srv_commit(sqlite3 *db, bl_error *err)
{
    int nested = tx_depth > 0 && tx_nested[tx_depth - 1];
    bl_status rc = srv_exec(db, nested ? "RELEASE h" : "COMMIT", err);
    if (rc == BL_OK && tx_depth > 0)
        tx_depth--;
    return rc;
}

void srv_rollback(sqlite3 *db)
{
    int nested = tx_depth > 0 && tx_nested[tx_depth - 1];
    if (nested)
        sqlite3_exec(db, "ROLLBACK TO h; RELEASE h", NULL, NULL, NULL);
    else
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (tx_depth > 0)
        tx_depth--;
}

bl_status srv_req_begin(sqlite3 *db, bl_error *err)
{
    tx_depth = 0;
    return srv_exec(db, "BEGIN IMMEDIATE", err);
}

bl_status srv_req_commit(sqlite3 *db, bl_error *err)
{
    tx_depth = 0;
    bl_status rc = srv_exec(db, "COMMIT", err);
    if (rc != BL_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void srv_req_rollback(sqlite3 *db)
{
    tx_depth = 0;
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

void srv_checkpoint(sqlite3 *db)
{
    /* erased pages leave the WAL too (secure_delete zeroes them in the file) */
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/* ---- schema migrations ------------------------------------------------------------ */

/* Each entry moves the schema from version i to i+1. Never edit a released
 * step; append a new one. */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE orgs(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE keys(id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  role TEXT NOT NULL CHECK(role IN ('admin','data_owner','analyst','auditor')),"
    "  hash BLOB NOT NULL, created INTEGER NOT NULL, expires INTEGER, revoked INTEGER);"
    "CREATE TABLE purposes(name TEXT PRIMARY KEY, description TEXT NOT NULL,"
    "  builtin INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE projects(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  purpose TEXT NOT NULL REFERENCES purposes(name), scopes TEXT NOT NULL,"
    "  extended INTEGER NOT NULL, result_type TEXT NOT NULL, reveal_scores INTEGER NOT NULL,"
    "  threshold REAL NOT NULL, mode TEXT NOT NULL, merge_threshold REAL NOT NULL,"
    "  max_candidates INTEGER NOT NULL, top_k INTEGER NOT NULL,"
    "  created INTEGER NOT NULL, retention_until INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'active', creator_org TEXT NOT NULL REFERENCES orgs(id),"
    "  agreement_ref TEXT, agreement_sha256 TEXT, agreement_at INTEGER);"
    "CREATE TABLE grants(project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  org_id TEXT NOT NULL REFERENCES orgs(id), party_role TEXT NOT NULL,"
    "  party_index INTEGER NOT NULL, state TEXT NOT NULL, approved_at INTEGER,"
    "  approved_sha256 TEXT, last_used INTEGER NOT NULL, expired_at INTEGER,"
    "  PRIMARY KEY(project_id, org_id));"
    "CREATE TABLE uploads(project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  org_id TEXT NOT NULL REFERENCES orgs(id), sha256 TEXT NOT NULL, nbits INTEGER NOT NULL,"
    "  received INTEGER NOT NULL, stored INTEGER NOT NULL, excluded INTEGER NOT NULL,"
    "  created INTEGER NOT NULL, PRIMARY KEY(project_id, org_id));"
    "CREATE TABLE consent(org_id TEXT NOT NULL REFERENCES orgs(id), subject TEXT NOT NULL,"
    "  purpose TEXT NOT NULL REFERENCES purposes(name), state TEXT NOT NULL,"
    "  opted_in_at INTEGER NOT NULL, withdrawn_at INTEGER,"
    "  PRIMARY KEY(org_id, subject, purpose));"
    "CREATE TABLE consent_events(id INTEGER PRIMARY KEY, org_id TEXT NOT NULL,"
    "  subject TEXT NOT NULL, purpose TEXT NOT NULL, action TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX consent_events_subject ON consent_events(org_id, subject);"
    "CREATE TABLE runs(id TEXT PRIMARY KEY,"
    "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, threshold REAL NOT NULL, state TEXT NOT NULL,"
    "  stage INTEGER NOT NULL DEFAULT 1, message TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
    "  time_added INTEGER NOT NULL, time_started INTEGER, time_completed INTEGER,"
    "  comparisons INTEGER, candidates INTEGER, groups_found INTEGER, records TEXT);"
    "CREATE INDEX runs_project ON runs(project_id);"
    "CREATE TABLE results(run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  grp INTEGER NOT NULL, party INTEGER NOT NULL, row INTEGER NOT NULL,"
    "  subject TEXT NOT NULL, score REAL NOT NULL);"
    "CREATE INDEX results_run ON results(run_id, grp);"
    "CREATE INDEX results_subject ON results(subject);"
    "INSERT INTO meta VALUES('audit_seq','0');"
    "INSERT INTO meta VALUES('audit_hash',"
    "  '0000000000000000000000000000000000000000000000000000000000000000');"
    "INSERT INTO purposes VALUES"
    "  ('treatment_planning','planning the treatment of the person by their care providers',1),"
    "  ('bank_messaging','messages from the person''s bank about their own accounts',1),"
    "  ('research','approved research; results used only in aggregate',1),"
    "  ('advertising','targeting or measuring advertising',1),"
    "  ('fraud_prevention','detecting and preventing fraud against the person or the parties',1),"
    "  ('public_health_statistics','aggregate statistics for public health authorities',1);",
    /* 2 (issue 10, "server2"): invitations (an owner grant starts 'invited';
     * names that resolve to no eligible organisation become void invitations,
     * indistinguishable to the analyst) and the registered linkage schema */
    "ALTER TABLE grants ADD COLUMN invited_as TEXT;"
    "CREATE TABLE void_invitations(project_id TEXT NOT NULL REFERENCES projects(id)"
    "  ON DELETE CASCADE, party_index INTEGER NOT NULL, ref TEXT NOT NULL,"
    "  PRIMARY KEY(project_id, party_index));"
    "ALTER TABLE projects ADD COLUMN schema_fingerprint TEXT;"
    "ALTER TABLE projects ADD COLUMN schema_features TEXT;",
};

static bl_status migrate(sqlite3 *db, bl_error *err)
{
    sqlite3_stmt *s = srv_prep(db, "PRAGMA user_version", err);
    if (!s)
        return BL_EIO;
    int version = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    int target = (int)(sizeof migrations / sizeof migrations[0]);
    if (version > target)
        return bl_error_set(err, BL_ESTATE,
                            "store schema version %d is newer than this blindlink (%d)", version,
                            target);
    for (int v = version; v < target; v++) {
        if (srv_begin(db, err) != BL_OK)
            return BL_EIO;
        /* re-check inside the write lock: another process may have migrated */
        s = srv_prep(db, "PRAGMA user_version", err);
        int now = v;
        if (s && sqlite3_step(s) == SQLITE_ROW)
            now = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
        if (now > v) {
            srv_rollback(db);
            v = now - 1;
            continue;
        }
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if (srv_exec(db, migrations[v], err) != BL_OK || srv_exec(db, pragma, err) != BL_OK ||
            srv_commit(db, err) != BL_OK) {
            srv_rollback(db);
            bl_error_prefix(err, "migration %d: ", v + 1);
            return BL_EIO;
        }
    }
    return BL_OK;
}

static bl_status open_conn(const char *path, sqlite3 **out, bl_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        bl_error_set(err, BL_EIO, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return BL_EIO;
    }
    sqlite3_busy_timeout(db, 10000);
    if (srv_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                 "PRAGMA temp_store=MEMORY; PRAGMA secure_delete=ON;",
                 err) != BL_OK) {
        sqlite3_close(db);
        return BL_EIO;
    }
    *out = db;
    return BL_OK;
}

static bl_status mkdir_p(const char *path, bl_error *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return bl_error_set(err, BL_EIO, "cannot create %s: %s", path, strerror(errno));
    return BL_OK;
}

/* Files left with a lax mode by an older version or another umask: 0600
 * (regular files) and 0700 (the encodings directory). */
static void private_files(bl_store *st)
{
    static const char *const names[] = {"blindlink.db", "blindlink.db-wal", "blindlink.db-shm",
                                        "audit.log", NULL};
    char p[4400];
    for (int i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", st->dir, names[i]);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077))
            chmod(p, 0600);
    }
    chmod(st->enc_dir, 0700);
}

/* The key of the subject tags in the audit log (srv_subject_tag): random,
 * kept in the store, never logged, so a log reader cannot test guesses. */
static bl_status load_tag_key(bl_store *st, bl_error *err)
{
    sqlite3 *db = st->conns[0];
    if (srv_exec(db, "INSERT OR IGNORE INTO meta VALUES('tag_key', lower(hex(randomblob(32))))",
                 err) != BL_OK)
        return BL_EIO;
    sqlite3_stmt *s = srv_prep(db, "SELECT v FROM meta WHERE k='tag_key'", err);
    if (!s)
        return BL_EIO;
    bl_status rc = BL_OK;
    const char *v = sqlite3_step(s) == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    if (!v || strlen(v) != 64 || sodium_hex2bin(st->tag_key, 32, v, 64, NULL, NULL, NULL) != 0)
        rc = bl_error_set(err, BL_EIO, "store: bad tag key");
    sqlite3_finalize(s);
    return rc;
}

bl_status srv_check_private_dir(const char *dir, bl_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return BL_OK; /* created 0700 when the store opens */
    if (sb.st_mode & 077)
        return bl_error_set(err, BL_ESTATE,
                            "data directory %s has mode %04o: other users could read the consent "
                            "registry and subject keys; chmod 700 it, or pass --allow-shared-dir "
                            "if that is intended",
                            dir, (unsigned)(sb.st_mode & 07777));
    return BL_OK;
}

bl_status srv_store_open(const char *data_dir, int nconns, bl_store **out, bl_error *err)
{
    if (!data_dir || !*data_dir)
        return bl_error_set(err, BL_EINVAL, "no data directory given");
    if (nconns < 1)
        nconns = 1;
    if (nconns > SRV_POOL_MAX)
        nconns = SRV_POOL_MAX;
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    /* no global allocation statistics: they take a process-wide mutex on
     * every SQLite allocation (fails harmlessly once SQLite is initialised) */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    bl_store *st = calloc(1, sizeof *st);
    if (!st)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    st->audit_fd = -1;
    st->audit_size = -1;
    pthread_mutex_init(&st->pool_mu, NULL);
    pthread_cond_init(&st->pool_cv, NULL);
    pthread_mutex_init(&st->audit_mu, NULL);
    pthread_mutex_init(&st->audit_db_mu, NULL);
    size_t n = strlen(data_dir) + 32;
    st->dir = strdup(data_dir);
    st->db_path = malloc(n);
    st->audit_path = malloc(n);
    st->enc_dir = malloc(n);
    if (!st->dir || !st->db_path || !st->audit_path || !st->enc_dir) {
        bl_store_close(st);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    snprintf(st->db_path, n, "%s/blindlink.db", data_dir);
    snprintf(st->audit_path, n, "%s/audit.log", data_dir);
    snprintf(st->enc_dir, n, "%s/encodings", data_dir);
    /* everything the service creates is private to its user: the store holds
     * the consent registry and subject keys (SQLite creates -wal and -shm
     * with the main file's mode, and the umask applies to all of them) */
    umask(077);
    bl_status rc = mkdir_p(data_dir, err);
    if (rc == BL_OK)
        rc = mkdir_p(st->enc_dir, err);
    if (rc == BL_OK)
        rc = open_conn(st->db_path, &st->conns[0], err);
    if (rc == BL_OK) {
        st->nconns = 1;
        rc = migrate(st->conns[0], err);
    }
    for (int i = 1; rc == BL_OK && i < nconns; i++) {
        rc = open_conn(st->db_path, &st->conns[i], err);
        if (rc == BL_OK)
            st->nconns++;
    }
    if (rc == BL_OK)
        rc = open_conn(st->db_path, &st->audit_db, err);
    if (rc == BL_OK) {
        st->audit_fd = open(st->audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (st->audit_fd < 0)
            rc = bl_error_set(err, BL_EIO, "%s: %s", st->audit_path, strerror(errno));
    }
    if (rc == BL_OK)
        rc = load_tag_key(st, err);
    if (rc == BL_OK)
        private_files(st);
    if (rc != BL_OK) {
        bl_error_prefix(err, "store %s: ", data_dir);
        bl_store_close(st);
        return rc;
    }
    *out = st;
    return BL_OK;
}

bl_status bl_store_open(const char *data_dir, bl_store **out, bl_error *err)
{
    return bl_store_open_keyed(data_dir, NULL, 0, out, err);
}

bl_status bl_store_open_keyed(const char *data_dir, const char *audit_key, int rotate,
                              bl_store **out, bl_error *err)
{
    bl_status rc = srv_store_open(data_dir, 1, out, err);
    /* the admin CLI signs its audit entries with the service's key */
    const char *key = audit_key ? audit_key : getenv("BLINDLINK_AUDIT_KEY");
    if (rc == BL_OK && (rc = srv_audit_key_attach(*out, key, 0, rotate, err)) != BL_OK) {
        bl_store_close(*out);
        *out = NULL;
    }
    return rc;
}

void bl_store_close(bl_store *st)
{
    if (!st)
        return;
    /* invalidate every thread's cached statements before finalising them */
    __atomic_add_fetch(&store_generation, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < st->nconns; i++)
        close_conn(st->conns[i]);
    if (st->audit_db)
        close_conn(st->audit_db);
    if (st->audit_fd >= 0)
        close(st->audit_fd);
    srv_audit_key_free(st->audit_key);
    pthread_mutex_destroy(&st->pool_mu);
    pthread_cond_destroy(&st->pool_cv);
    pthread_mutex_destroy(&st->audit_mu);
    pthread_mutex_destroy(&st->audit_db_mu);
    free(st->dir);
    free(st->db_path);
    free(st->audit_path);
    free(st->enc_dir);
    sodium_memzero(st->tag_key, sizeof st->tag_key);
    free(st);
}

sqlite3 *srv_db_acquire(bl_store *st)
{
    pthread_mutex_lock(&st->pool_mu);
    for (;;) {
        for (int i = 0; i < st->nconns; i++) {
            if (!st->busy[i]) {
                st->busy[i] = 1;
                pthread_mutex_unlock(&st->pool_mu);
                return st->conns[i];
            }
        }
        pthread_cond_wait(&st->pool_cv, &st->pool_mu);
    }
}

void srv_db_release(bl_store *st, sqlite3 *db)
{
    if (!db)
        return;
    if (!sqlite3_get_autocommit(db)) /* never hand back a connection inside a transaction */
        srv_req_rollback(db);
    pthread_mutex_lock(&st->pool_mu);
    for (int i = 0; i < st->nconns; i++)
        if (st->conns[i] == db)
            st->busy[i] = 0;
    pthread_cond_signal(&st->pool_cv);
    pthread_mutex_unlock(&st->pool_mu);
}
