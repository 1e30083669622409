/* relay/server.c - `blindlink relay`: the messaging platform's side of the
 * bank chat. HTTP (libmicrohttpd, one thread per connection so long-polls
 * may block) in front of a SQLite store (WAL). It keeps accounts (random id,
 * hashed bearer token), bank names with their prekey bundles, pairwise
 * pseudonyms (HMAC of account and bank under the relay's key, so each bank
 * sees a different name for the same user) and a store-and-forward queue of
 * opaque envelopes with a TTL, a size cap and a per-mailbox cap.
 *
 * What it never has: a key that opens an envelope, a customer number, a
 * link code, a balance. Its log carries method, route template and status
 * only (with --verbose), never a pseudonym, token or body. An envelope is
 * acknowledged (HTTP 200) only after its INSERT committed: WAL with
 * synchronous=NORMAL survives a process kill (kill -9); FULL is not needed
 * for that (power loss is out of scope, docs/chat.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include <blindlink/io.h>
#include <blindlink/chat.h>
#include <blindlink/relay.h>

#define WAKE_BUCKETS 64

static unsigned bucket_of(const char *mailbox)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *mailbox; mailbox++)
        h = (h ^ (unsigned char)*mailbox) * 16777619u;
    return h % WAKE_BUCKETS;
}

typedef struct relay {
    bl_relay_opts o;
    sqlite3 *db;
    pthread_mutex_t db_mu;
    /* long-poll wake-ups per mailbox bucket, so a stored envelope wakes only
     * the pollers whose mailbox hashes to the same bucket */
    pthread_mutex_t wk_mu;
    pthread_cond_t wk_cv[WAKE_BUCKETS];
    uint64_t gen[WAKE_BUCKETS];
    uint8_t key[32];
    int64_t last_sweep;
    volatile sig_atomic_t stopping;
} relay;

typedef struct req {
    char *body;
    size_t len;
    int too_big;
} req;

typedef struct resp {
    unsigned code;
    char *body; /* malloc'd */
    const char *ctype;
    size_t len; /* 0: strlen(body) */
} resp;

/* ---- helpers ------------------------------------------------------------------ */

static resp jerr(unsigned code, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    resp r = {code, o ? json_dumps(o, JSON_COMPACT) : NULL, "application/json", 0};
    json_decref(o);
    return r;
}

static resp jok(unsigned code, json_t *o)
{
    resp r = {code, o ? json_dumps(o, JSON_COMPACT) : NULL, "application/json", 0};
    json_decref(o);
    return r;
}

static void token_hash(const char *tok, uint8_t h[32])
{
    crypto_generichash(h, 32, (const uint8_t *)tok, strlen(tok), (const uint8_t *)"bl-relay-token",
                       14);
}

static void pseudonym(const relay *r, const char *account, const char *bank, char out[32])
{
    uint8_t h[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, r->key, 32);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)account, strlen(account) + 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)bank, strlen(bank));
    crypto_auth_hmacsha256_final(&st, h);
    out[0] = 'p';
    sodium_bin2base64(out + 1, 31, h, 18, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int exec_sql(relay *r, const char *sql)
{
    return sqlite3_exec(r->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* ---- store ------------------------------------------------------------------------ */

/* The store holds pseudonyms, token hashes and queued envelopes: like the
 * service's data directory, a folder others can enter is refused, and
 * every file is made 0600 (the umask covers SQLite's -wal and -shm). */
static bl_status private_dir(const char *dir, bl_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return bl_error_set(err, BL_EIO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return bl_error_set(err, BL_EINVAL, "--data-dir %s is not a directory", dir);
    if (sb.st_mode & 077)
        return bl_error_set(err, BL_ESTATE,
                            "data directory %s has mode %04o: other users could read the relay's "
                            "accounts and queued messages; chmod 700 it",
                            dir, (unsigned)(sb.st_mode & 07777));
    static const char *const files[] = {"relay.db", "relay.db-wal", "relay.db-shm"};
    char p[4096];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077))
            (void)chmod(p, 0600);
    }
    return BL_OK;
}

static bl_status store_open(relay *r, bl_error *err)
{
    umask(077);
    if (mkdir(r->o.data_dir, 0700) != 0 && errno != EEXIST)
        return bl_error_set(err, BL_EIO, "%s: %s", r->o.data_dir, strerror(errno));
    bl_status ps = private_dir(r->o.data_dir, err);
    if (ps != BL_OK)
        return ps;
    char path[4096];
    snprintf(path, sizeof path, "%s/relay.key", r->o.data_dir);
    bl_secret sec = {0};
    if (access(path, F_OK) == 0) {
        bl_status s = bl_secret_load(path, NULL, &sec, err);
        if (s != BL_OK)
            return s;
        int bad = sec.len != 32;
        if (!bad)
            memcpy(r->key, sec.bytes, 32);
        bl_secret_free(&sec);
        if (bad)
            return bl_error_set(err, BL_EINPUT, "%s: not a relay key (32 bytes)", path);
    } else {
        randombytes_buf(r->key, 32);
        bl_ofile *f = NULL;
        bl_status s = bl_ofile_open(path, &f, err);
        if (s != BL_OK)
            return s;
        fwrite(r->key, 1, 32, bl_ofile_stream(f));
        if ((s = bl_ofile_commit(f, err)) != BL_OK)
            return s;
    }
    snprintf(path, sizeof path, "%s/relay.db", r->o.data_dir);
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        return bl_error_set(err, BL_EIO, "%s: %s", path, sqlite3_errmsg(r->db));
    sqlite3_busy_timeout(r->db, 5000);
    if (exec_sql(r, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    "CREATE TABLE IF NOT EXISTS accounts(id TEXT PRIMARY KEY,"
                    " token_hash BLOB UNIQUE NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS banks(name TEXT PRIMARY KEY,"
                    " account TEXT NOT NULL, bundle TEXT NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS pseudonyms(pseud TEXT PRIMARY KEY,"
                    " account TEXT NOT NULL, bank TEXT NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS messages(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " mailbox TEXT NOT NULL, sender TEXT NOT NULL, body BLOB NOT NULL,"
                    " expires INTEGER NOT NULL);"
                    "CREATE INDEX IF NOT EXISTS messages_mb ON messages(mailbox, seq);"))
        return bl_error_set(err, BL_EIO, "%s: cannot set up the schema: %s", path,
                            sqlite3_errmsg(r->db));
    return BL_OK;
}

/* Account id of a bearer token, or 0 when unknown. Caller holds db_mu. */
static int auth_account(relay *r, struct MHD_Connection *c, char acct[40])
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > 90)
        return 0;
    uint8_t th[32];
    token_hash(h + 7, th);
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT id FROM accounts WHERE token_hash=?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_blob(st, 1, th, 32, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(acct, 40, "%s", (const char *)sqlite3_column_text(st, 0));
            ok = 1;
        }
    }
    sqlite3_finalize(st);
    return ok;
}

/* ---- routes -------------------------------------------------------------------------- */

static resp r_register(relay *r)
{
    uint8_t id[12], tok[32];
    randombytes_buf(id, sizeof id);
    randombytes_buf(tok, sizeof tok);
    char ids[24], toks[48];
    sodium_bin2base64(ids, sizeof ids, id, sizeof id, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(toks, sizeof toks, tok, sizeof tok, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    uint8_t th[32];
    token_hash(toks, th);
    sqlite3_stmt *st = NULL;
    int ok = 0;
    pthread_mutex_lock(&r->db_mu);
    if (sqlite3_prepare_v2(r->db, "INSERT INTO accounts(id, token_hash) VALUES(?,?)", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, ids, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, th, 32, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->db_mu);
    sodium_memzero(tok, sizeof tok);
    if (!ok)
        return jerr(500, "store failure");
    resp out = jok(201, json_pack("{s:s,s:s}", "account", ids, "token", toks));
    sodium_memzero(toks, sizeof toks);
    return out;
}

static resp r_put_bundle(relay *r, struct MHD_Connection *c, const char *name, const req *q)
{
    if (!bl_chat_name_valid(name))
        return jerr(400, "bank name must be 1-64 of [A-Za-z0-9_-]");
    bl_chat_bundle b;
    bl_error e = {0};
    if (!q->body || bl_chat_bundle_from_json(q->body, &b, &e) != BL_OK)
        return jerr(400, e.msg[0] ? e.msg : "body must be a bundle");
    if (bl_chat_bundle_verify(&b, NULL, &e) != BL_OK)
        return jerr(400, "bundle signature does not verify");
    char *js = bl_chat_bundle_to_json(&b);
    char acct[40];
    resp out;
    pthread_mutex_lock(&r->db_mu);
    if (!auth_account(r, c, acct)) {
        out = jerr(401, "missing or unknown bearer token");
    } else {
        sqlite3_stmt *st = NULL;
        int ok = sqlite3_prepare_v2(r->db,
                                    "INSERT INTO banks(name, account, bundle) VALUES(?1,?2,?3) "
                                    "ON CONFLICT(name) DO UPDATE SET bundle=?3 WHERE account=?2",
                                    -1, &st, NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, acct, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, js, -1, SQLITE_STATIC);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        sqlite3_finalize(st);
        if (!ok)
            out = jerr(500, "store failure");
        else if (sqlite3_changes(r->db) == 0)
            out = jerr(409, "bank name belongs to another account");
        else
            out = jok(200, json_pack("{s:s}", "bank", name));
    }
    pthread_mutex_unlock(&r->db_mu);
    free(js);
    return out;
}

static resp r_get_bundle(relay *r, const char *name)
{
    if (!bl_chat_name_valid(name))
        return jerr(400, "invalid bank name");
    sqlite3_stmt *st = NULL;
    resp out = jerr(404, "unknown bank");
    pthread_mutex_lock(&r->db_mu);
    if (sqlite3_prepare_v2(r->db, "SELECT bundle FROM banks WHERE name=?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            free(out.body);
            out.code = 200;
            out.body = strdup((const char *)sqlite3_column_text(st, 0));
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->db_mu);
    return out;
}

/* Resolve `to` for the sending account: a bank name (the sender becomes its
 * pairwise pseudonym) or, when the sender owns a bank, one of that bank's
 * pseudonyms (the sender becomes the bank's name). Caller holds db_mu. */
static int route(relay *r, const char *acct, const char *to, char mailbox[40], char sender[72])
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT p.account, p.bank FROM pseudonyms p JOIN banks b ON "
                           "b.name=p.bank WHERE p.pseud=? AND b.account=?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, acct, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(mailbox, 40, "%s", (const char *)sqlite3_column_text(st, 0));
            snprintf(sender, 72, "%s", (const char *)sqlite3_column_text(st, 1));
            found = 1;
        }
    }
    sqlite3_finalize(st);
    if (found)
        return 1;
    if (sqlite3_prepare_v2(r->db, "SELECT account FROM banks WHERE name=?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(mailbox, 40, "%s", (const char *)sqlite3_column_text(st, 0));
            found = 1;
        }
    }
    sqlite3_finalize(st);
    if (!found)
        return 0;
    char p[32];
    pseudonym(r, acct, to, p);
    snprintf(sender, 72, "%s", p);
    if (sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO pseudonyms VALUES(?,?,?)", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, acct, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return found;
}

static resp store_envelope(relay *r, const char *mailbox, const char *sender, const uint8_t *b,
                           size_t n)
{
    sqlite3_stmt *st = NULL;
    long long queued = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM messages WHERE mailbox=?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            queued = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if ((size_t)queued >= r->o.queue_cap)
        return jerr(429, "recipient's queue is full");
    int ok = sqlite3_prepare_v2(r->db,
                                "INSERT INTO messages(mailbox, sender, body, expires) "
                                "VALUES(?,?,?,?)",
                                -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, sender, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, b, (int)n, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL) + r->o.ttl_s);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (!ok)
        return jerr(500, "store failure");
    return jok(200, json_pack("{s:I}", "seq", (json_int_t)sqlite3_last_insert_rowid(r->db)));
}

static resp r_send(relay *r, struct MHD_Connection *c, const req *q)
{
    if (q->too_big)
        return jerr(413, "envelope exceeds the relay's size cap");
    json_t *o = q->body ? json_loadb(q->body, q->len, 0, NULL) : NULL;
    const char *to = json_string_value(json_object_get(o, "to"));
    const char *body = json_string_value(json_object_get(o, "body"));
    if (!to || !body || !bl_chat_name_valid(to)) {
        json_decref(o);
        return jerr(400, "body must be {\"to\": NAME, \"body\": BASE64URL}");
    }
    uint8_t *bin = NULL;
    size_t n = 0;
    bl_error e = {0};
    bl_status s = bl_chat_unb64(body, &bin, &n, r->o.max_message, &e);
    if (s != BL_OK || n == 0) {
        json_decref(o);
        free(bin);
        return s == BL_ELIMIT ? jerr(413, "envelope exceeds the relay's size cap")
                              : jerr(400, "$.body is not base64url");
    }
    char acct[40], mailbox[40], sender[72];
    resp out;
    pthread_mutex_lock(&r->db_mu);
    if (!auth_account(r, c, acct))
        out = jerr(401, "missing or unknown bearer token");
    else if (!route(r, acct, to, mailbox, sender))
        out = jerr(404, "unknown recipient");
    else
        out = store_envelope(r, mailbox, sender, bin, n);
    pthread_mutex_unlock(&r->db_mu);
    json_decref(o);
    free(bin);
    if (out.code == 200) {
        unsigned b = bucket_of(mailbox);
        pthread_mutex_lock(&r->wk_mu);
        r->gen[b]++;
        pthread_cond_broadcast(&r->wk_cv[b]);
        pthread_mutex_unlock(&r->wk_mu);
    }
    return out;
}

/* Messages after `after` for the mailbox, as a JSON array (NULL: none).
 * Deletes acknowledged ones (seq <= after) and, once a minute, expired ones. */
static json_t *fetch(relay *r, const char *acct, long long after)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "DELETE FROM messages WHERE mailbox=? AND seq<=?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, acct, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    int64_t now = (int64_t)time(NULL);
    if (now - r->last_sweep >= 60) {
        r->last_sweep = now;
        if (sqlite3_prepare_v2(r->db, "DELETE FROM messages WHERE expires<?", -1, &st, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_int64(st, 1, now);
            sqlite3_step(st);
        }
        sqlite3_finalize(st);
    }
    json_t *arr = json_array();
    if (sqlite3_prepare_v2(r->db,
                           "SELECT seq, sender, body FROM messages WHERE mailbox=? AND seq>? "
                           "AND expires>=? ORDER BY seq LIMIT 100",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, acct, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, now);
        while (sqlite3_step(st) == SQLITE_ROW) {
            char *b64 = bl_chat_b64(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
            json_array_append_new(arr, json_pack("{s:I,s:s,s:s}", "seq",
                                                 (json_int_t)sqlite3_column_int64(st, 0), "from",
                                                 (const char *)sqlite3_column_text(st, 1), "body",
                                                 b64 ? b64 : ""));
            free(b64);
        }
    }
    sqlite3_finalize(st);
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static resp r_poll(relay *r, struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
    char *end = NULL;
    long long after = a ? strtoll(a, &end, 10) : 0;
    if (a && (*end || after < 0))
        return jerr(400, "after must be a non-negative integer");
    long wait = w ? strtol(w, &end, 10) : 0;
    if (w && (*end || wait < 0))
        return jerr(400, "wait must be a non-negative integer (seconds)");
    if (wait > r->o.max_wait_s)
        wait = r->o.max_wait_s;
    char acct[40];
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait;
    pthread_mutex_lock(&r->db_mu);
    int known = auth_account(r, c, acct);
    pthread_mutex_unlock(&r->db_mu);
    if (!known)
        return jerr(401, "missing or unknown bearer token");
    unsigned b = bucket_of(acct);
    for (;;) { /* bounded: ends at the deadline */
        pthread_mutex_lock(&r->wk_mu);
        uint64_t gen = r->gen[b];
        pthread_mutex_unlock(&r->wk_mu);
        pthread_mutex_lock(&r->db_mu);
        json_t *arr = fetch(r, acct, after);
        pthread_mutex_unlock(&r->db_mu);
        if (arr)
            return jok(200, json_pack("{s:o}", "messages", arr));
        pthread_mutex_lock(&r->wk_mu);
        int timed_out = 0;
        while (r->gen[b] == gen && !timed_out && !r->stopping)
            timed_out = pthread_cond_timedwait(&r->wk_cv[b], &r->wk_mu, &deadline) == ETIMEDOUT;
        pthread_mutex_unlock(&r->wk_mu);
        if (timed_out || r->stopping)
            return jok(200, json_pack("{s:[]}", "messages"));
    }
}

/* Static web client: a fixed list of names, read from --web DIR. */
static resp r_static(relay *r, const char *url)
{
    static const struct {
        const char *url, *file, *ctype;
    } files[] = {{"/", "index.html", "text/html; charset=utf-8"},
                 {"/index.html", "index.html", "text/html; charset=utf-8"},
                 {"/app.js", "app.js", "text/javascript"},
                 {"/style.css", "style.css", "text/css"},
                 {"/chat.js", "chat.js", "text/javascript"},
                 {"/sodium.js", "node_modules/libsodium-wrappers-sumo/dist/modules-sumo-esm/"
                                "libsodium-wrappers.mjs",
                  "text/javascript"},
                 {"/libsodium-sumo.mjs", "node_modules/libsodium-sumo/dist/modules-sumo-esm/"
                                         "libsodium-sumo.mjs",
                  "text/javascript"}};
    if (!r->o.web_dir)
        return jerr(404, "no web client configured (--web DIR)");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (strcmp(url, files[i].url) != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", r->o.web_dir, files[i].file);
        char *buf = NULL;
        size_t len = 0;
        bl_error e = {0};
        if (bl_read_file(path, 8 << 20, &buf, &len, &e) != BL_OK)
            return jerr(404, "web file missing (run npm ci in web/)");
        resp out = {200, buf, files[i].ctype, len};
        return out;
    }
    return jerr(404, "not found");
}

static resp dispatch(relay *r, struct MHD_Connection *c, const char *url, const char *method,
                     const req *q, const char **route_name)
{
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), put = !strcmp(method, "PUT");
    if (!strcmp(url, "/v1/accounts") && post)
        return *route_name = "accounts", r_register(r);
    if (!strcmp(url, "/v1/send") && post)
        return *route_name = "send", r_send(r, c, q);
    if (!strcmp(url, "/v1/messages") && get)
        return *route_name = "messages", r_poll(r, c);
    if (!strcmp(url, "/v1/health") && get)
        return *route_name = "health", jok(200, json_pack("{s:s}", "status", "ok"));
    if (!strncmp(url, "/v1/banks/", 10)) {
        char name[80];
        const char *rest = url + 10, *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        if (n >= sizeof name)
            return jerr(400, "invalid bank name");
        memcpy(name, rest, n);
        name[n] = 0;
        *route_name = "banks";
        if (!slash && put)
            return r_put_bundle(r, c, name, q);
        if (slash && !strcmp(slash, "/bundle") && get)
            return r_get_bundle(r, name);
    }
    if (get && strncmp(url, "/v1/", 4) != 0)
        return *route_name = "static", r_static(r, url);
    return jerr(404, "no such route");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    (void)version;
    relay *r = cls;
    req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    if (*data_size) {
        /* base64 and JSON framing add a third plus a little */
        size_t cap = r->o.max_message / 3 * 4 + 1024;
        if (!q->too_big && q->len + *data_size <= cap) {
            char *nb = realloc(q->body, q->len + *data_size + 1);
            if (!nb)
                return MHD_NO;
            q->body = nb;
            memcpy(q->body + q->len, data, *data_size);
            q->len += *data_size;
            q->body[q->len] = 0;
        } else {
            q->too_big = 1;
        }
        *data_size = 0;
        return MHD_YES;
    }
    const char *rn = "-";
    resp out = dispatch(r, c, url, method, q, &rn);
    if (!out.body)
        out = jerr(500, "out of memory");
    if (r->o.verbose)
        fprintf(stderr, "relay: %s %s %u\n", method, rn, out.code);
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(out.len ? out.len : strlen(out.body), out.body,
                                        MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        free(out.body);
        return MHD_NO;
    }
    MHD_add_response_header(mr, "Content-Type", out.ctype);
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    MHD_add_response_header(mr, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'");
    enum MHD_Result ret = MHD_queue_response(c, out.code, mr);
    MHD_destroy_response(mr);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    req *q = *con_cls;
    if (q) {
        free(q->body);
        free(q);
    }
    *con_cls = NULL;
}

static bl_status parse_listen(const char *s, struct sockaddr_in *sa, bl_error *err)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon)
        return bl_error_set(err, BL_EINVAL, "--listen '%s': expected HOST:PORT", s ? s : "");
    char host[64];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host)
        return bl_error_set(err, BL_EINVAL, "--listen: host too long");
    memcpy(host, s, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || colon[1] == 0)
        return bl_error_set(err, BL_EINVAL, "--listen '%s': bad port", s);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return bl_error_set(err, BL_EINVAL, "--listen '%s': host must be an IPv4 address", s);
    return BL_OK;
}

bl_status bl_relay_run(const bl_relay_opts *opts, bl_error *err)
{
    relay *r = calloc(1, sizeof *r);
    if (!r)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    r->o = *opts;
    if (r->o.ttl_s <= 0)
        r->o.ttl_s = 7 * 86400;
    if (!r->o.max_message)
        r->o.max_message = BL_CHAT_MAX_MESSAGE;
    if (!r->o.queue_cap)
        r->o.queue_cap = 1000;
    if (r->o.max_wait_s <= 0)
        r->o.max_wait_s = 30;
    struct sockaddr_in sa;
    bl_status s = parse_listen(r->o.listen, &sa, err);
    if (s == BL_OK)
        s = store_open(r, err);
    pthread_mutex_init(&r->db_mu, NULL);
    pthread_mutex_init(&r->wk_mu, NULL);
    for (int i = 0; i < WAKE_BUCKETS; i++)
        pthread_cond_init(&r->wk_cv[i], NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = NULL;
    if (s == BL_OK) {
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                 MHD_USE_ERROR_LOG,
                             ntohs(sa.sin_port), NULL, NULL, &on_request, r, MHD_OPTION_SOCK_ADDR,
                             &sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(r->o.max_wait_s + 30),
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)2048,
                             MHD_OPTION_NOTIFY_COMPLETED, &on_completed, r, MHD_OPTION_END);
        if (!d)
            s = bl_error_set(err, BL_ENET, "cannot listen on %s (address in use?)", r->o.listen);
    }
    if (s == BL_OK) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        unsigned port = info ? info->port : 0;
        if (!r->o.quiet)
            fprintf(stderr, "blindlink relay: listening on port %u\n", port);
        /* bearer tokens travel in every request: off this machine they need TLS */
        if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127)
            fprintf(stderr,
                    "blindlink relay: warning: plain HTTP on %s: account tokens cross the "
                    "network in clear; serve it behind a TLS proxy (docs/chat.md)\n",
                    r->o.listen);
        if (r->o.port_file) {
            char txt[16];
            snprintf(txt, sizeof txt, "%u\n", port);
            bl_ofile *f = NULL;
            if (bl_ofile_open(r->o.port_file, &f, err) == BL_OK) {
                fputs(txt, bl_ofile_stream(f));
                if (bl_ofile_commit(f, err) != BL_OK)
                    fprintf(stderr, "blindlink relay: %s\n", err->msg);
            }
        }
        int sig = 0;
        sigwait(&set, &sig);
        r->stopping = 1;
        pthread_mutex_lock(&r->wk_mu);
        for (int i = 0; i < WAKE_BUCKETS; i++)
            pthread_cond_broadcast(&r->wk_cv[i]);
        pthread_mutex_unlock(&r->wk_mu);
        MHD_stop_daemon(d);
        if (!r->o.quiet)
            fprintf(stderr, "blindlink relay: stopped\n");
    }
    if (r->db)
        sqlite3_close(r->db);
    sodium_memzero(r->key, sizeof r->key);
    pthread_mutex_destroy(&r->db_mu);
    pthread_mutex_destroy(&r->wk_mu);
    for (int i = 0; i < WAKE_BUCKETS; i++)
        pthread_cond_destroy(&r->wk_cv[i]);
    free(r);
    return s;
}
