/* server/audit.c - the hash-chained audit log.
 *
 * DIR/audit.log holds one JSON object per line with sorted keys:
 *   seq, time, org, key, role, action, resource, purpose, decision, reason,
 *   status, prev, hash
 * where hash = SHA-256 of the line's canonical JSON without "hash" (compact,
 * sorted keys, ASCII) and prev = the previous entry's hash (64 zeros for the
 * first). The store keeps an anchor (meta audit_seq/audit_hash) updated with
 * every append inside the same SQLite write lock, so a truncated tail is
 * detected too. Appends are serialised across threads (mutex) and processes
 * (the SQLite write lock), so `blindlink admin` and the server share one
 * chain. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "srv.h"

#define AUDIT_LINE_MAX 8192
#define ENTRY_SIG_DOMAIN "blindlink-audit-entry-v1\n"
#define ANCHOR_SIG_DOMAIN "blindlink-audit-anchor-v1\n"
static const char zero_hash[65] = "0000000000000000000000000000000000000000000000000000000000000000";

/* Canonical hash of an entry object that does not contain "hash". */
static int entry_hash(json_t *o, char out[65])
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!s)
        return -1;
    uint8_t d[32];
    crypto_hash_sha256(d, (const unsigned char *)s, strlen(s));
    free(s);
    srv_hex(d, 32, out);
    return 0;
}

/* Read the last line of the audit file to recover (seq, hash). */
static bl_status read_tail(const char *path, uint64_t *seq, char hash[65], long long *size,
                           bl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    }
    *size = (long long)sb.st_size;
    if (sb.st_size == 0) {
        close(fd);
        *seq = 0;
        memcpy(hash, zero_hash, 65);
        return BL_OK;
    }
    char buf[AUDIT_LINE_MAX + 1];
    off_t start = sb.st_size > AUDIT_LINE_MAX ? sb.st_size - AUDIT_LINE_MAX : 0;
    ssize_t n = pread(fd, buf, (size_t)(sb.st_size - start), start);
    close(fd);
    if (n <= 0)
        return bl_error_set(err, BL_EIO, "%s: cannot read the last entry", path);
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    json_t *h = o ? json_object_get(o, "hash") : NULL;
    json_t *q = o ? json_object_get(o, "seq") : NULL;
    if (!json_is_string(h) || !json_is_integer(q) || strlen(json_string_value(h)) != 64) {
        json_decref(o);
        return bl_error_set(err, BL_EINPUT, "%s: last entry is corrupt; run 'blindlink audit verify'",
                            path);
    }
    *seq = (uint64_t)json_integer_value(q);
    memcpy(hash, json_string_value(h), 65);
    json_decref(o);
    return BL_OK;
}

/* BEGIN IMMEDIATE / COMMIT through the statement cache (one append per
 * request: this is the service's hottest write path). */
static bl_status exec_hot(sqlite3 *db, const char *sql, bl_error *err)
{
    int cached;
    sqlite3_stmt *s = srv_prep_hot(db, sql, &cached, err);
    if (!s)
        return BL_EIO;
    int rc = sqlite3_step(s);
    srv_hot_done(s, cached);
    if (rc != SQLITE_DONE)
        return bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(db));
    return BL_OK;
}

/* A request's own transaction on this thread (see srv_audit_join): entries
 * appended meanwhile commit with it, or not at all. */
static __thread sqlite3 *joined_db;

void srv_audit_join(sqlite3 *db)
{
    joined_db = db;
}

/* Every text field as valid UTF-8 (jansson refuses anything else, and one
 * unbuildable entry must not stop the log for everyone). */
static const char *clean(const char *s, char *buf, size_t cap)
{
    srv_text_clean(s && *s ? s : "-", buf, cap);
    return buf;
}

/* Test hook: BLINDLINK_FAULT_AUDIT_FAIL=ACTION fails every append of that
 * action after the change was made (tests the rollback). */
static int fault_injected(const char *action)
{
    const char *f = getenv("BLINDLINK_FAULT_AUDIT_FAIL");
    return f && *f && action && !strcmp(f, action);
}

/* The anchor (seq, hash) is signed too, so cutting the log back and writing
 * an earlier entry's seq and hash into the store does not pass. Stored as
 * meta 'audit_sig' = "<key id>:<signature hex>". */
static bl_status anchor_sign(bl_store *st, sqlite3 *db, bl_error *err)
{
    char msg[160], sig[129], val[160];
    snprintf(msg, sizeof msg, ANCHOR_SIG_DOMAIN "%llu\n%s", (unsigned long long)st->audit_seq,
             st->audit_prev);
    srv_audit_sign(st->audit_key, msg, sig);
    snprintf(val, sizeof val, "%s:%s", srv_audit_key_id(st->audit_key), sig);
    int cached;
    sqlite3_stmt *s = srv_prep_hot(db, "INSERT OR REPLACE INTO meta(k,v) VALUES('audit_sig',?)",
                                   &cached, err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, val, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(s);
    srv_hot_done(s, cached);
    return r == SQLITE_DONE ? BL_OK : bl_error_set(err, BL_EIO, "audit anchor: %s", sqlite3_errmsg(db));
}

/* Write one entry and move the anchor, inside the caller's write
 * transaction on `db`, holding audit_mu. */
static bl_status append_locked(bl_store *st, sqlite3 *db, const srv_audit *a, bl_error *err)
{
    bl_status rc = BL_OK;
    struct stat sb;
    if (fstat(st->audit_fd, &sb) != 0) {
        rc = bl_error_set(err, BL_EIO, "%s: %s", st->audit_path, strerror(errno));
        goto out;
    }
    if (st->audit_size != (long long)sb.st_size) {
        /* someone else (another process) appended, or first use */
        long long size;
        rc = read_tail(st->audit_path, &st->audit_seq, st->audit_prev, &size, err);
        if (rc != BL_OK)
            goto out;
    }
    int64_t now = bl_srv_now();
    char when[32];
    srv_time_fmt(now, when, sizeof when);
    char f[7][600];
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s}", "seq",
                          (json_int_t)(st->audit_seq + 1), "time", when, "org",
                          clean(a->org, f[0], 600), "key", clean(a->key, f[1], 600), "role",
                          clean(a->role, f[2], 600), "action", clean(a->action, f[3], 600),
                          "resource", clean(a->resource, f[4], 600), "purpose",
                          clean(a->purpose, f[5], 600), "decision",
                          a->allowed ? "allowed" : "refused", "reason",
                          clean(a->reason, f[6], 600), "status", a->status, "prev",
                          st->audit_prev);
    char hash[65];
    if (o && st->audit_key) /* the key id is part of what the hash covers */
        json_object_set_new(o, "kid", json_string(srv_audit_key_id(st->audit_key)));
    if (!o || entry_hash(o, hash) != 0) {
        json_decref(o);
        rc = bl_error_set(err, BL_ENOMEM, "audit: cannot build entry");
        goto out;
    }
    json_object_set_new(o, "hash", json_string(hash));
    if (st->audit_key) {
        char msg[96], sig[129];
        snprintf(msg, sizeof msg, ENTRY_SIG_DOMAIN "%s", hash);
        srv_audit_sign(st->audit_key, msg, sig);
        json_object_set_new(o, "sig", json_string(sig));
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line) {
        rc = bl_error_set(err, BL_ENOMEM, "audit: cannot serialise entry");
        goto out;
    }
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps leaves room for the NUL we overwrite */
    ssize_t w = write(st->audit_fd, line, len + 1);
    free(line);
    if (w != (ssize_t)(len + 1)) {
        rc = bl_error_set(err, BL_EIO, "%s: append failed", st->audit_path);
        st->audit_size = -1;
        goto out;
    }
    st->audit_seq++;
    memcpy(st->audit_prev, hash, 65);
    st->audit_size = (long long)sb.st_size + (long long)len + 1;
    int cached;
    sqlite3_stmt *s = srv_prep_hot(db, "UPDATE meta SET v=? WHERE k=?", &cached, err);
    if (!s) {
        rc = BL_EIO;
        goto out;
    }
    char seqbuf[32];
    snprintf(seqbuf, sizeof seqbuf, "%llu", (unsigned long long)st->audit_seq);
    sqlite3_bind_text(s, 1, seqbuf, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, "audit_seq", -1, SQLITE_STATIC);
    int r1 = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, "audit_hash", -1, SQLITE_STATIC);
    int r2 = sqlite3_step(s);
    srv_hot_done(s, cached);
    if (r1 != SQLITE_DONE || r2 != SQLITE_DONE)
        rc = bl_error_set(err, BL_EIO, "audit anchor: %s", sqlite3_errmsg(db));
    if (rc == BL_OK && st->audit_key)
        rc = anchor_sign(st, db, err);
out:
    return rc;
}

/* Lock order: audit_db_mu, then the SQLite write lock, then audit_mu. A
 * joined request already holds the write lock when it appends, so no
 * thread waits for the write lock while holding audit_mu. */
bl_status srv_audit_append(bl_store *st, const srv_audit *a, bl_error *err)
{
    if (!st->audit_key && st->audit_pub[0])
        return bl_error_set(err, BL_ESTATE,
                            "the audit log is signed, but this process holds no signing key "
                            "(BLINDLINK_AUDIT_KEY=FILE)");
    sqlite3 *db = joined_db;
    if (db) { /* inside the request's transaction: its commit is ours */
        if (fault_injected(a->action))
            return bl_error_set(err, BL_EIO, "audit: injected failure (BLINDLINK_FAULT_AUDIT_FAIL)");
        pthread_mutex_lock(&st->audit_mu);
        bl_status rc = append_locked(st, db, a, err);
        if (rc != BL_OK)
            st->audit_size = -1; /* re-read the tail before the next append */
        st->audit_failing = rc != BL_OK;
        pthread_mutex_unlock(&st->audit_mu);
        return rc;
    }
    pthread_mutex_lock(&st->audit_db_mu); /* one user of audit_db at a time */
    db = st->audit_db;
    bl_status rc = exec_hot(db, "BEGIN IMMEDIATE", err);
    pthread_mutex_lock(&st->audit_mu);
    if (rc == BL_OK)
        rc = append_locked(st, db, a, err);
    if (rc == BL_OK)
        rc = exec_hot(db, "COMMIT", err);
    if (rc != BL_OK && !sqlite3_get_autocommit(db))
        srv_rollback(db);
    st->audit_failing = rc != BL_OK;
    pthread_mutex_unlock(&st->audit_mu);
    pthread_mutex_unlock(&st->audit_db_mu);
    return rc;
}

bl_status srv_audit_ready(bl_store *st, bl_error *err)
{
    bl_status rc = BL_OK;
    pthread_mutex_lock(&st->audit_mu);
    struct stat sb;
    if (st->audit_failing)
        rc = bl_error_set(err, BL_EIO, "%s: the last append failed", st->audit_path);
    else if (fstat(st->audit_fd, &sb) != 0)
        rc = bl_error_set(err, BL_EIO, "%s: %s", st->audit_path, strerror(errno));
    else if (st->audit_size != (long long)sb.st_size) {
        /* changed behind our back (another process, or damage): the next
         * append re-reads the tail anyway; check now that it will chain */
        uint64_t seq;
        char prev[65];
        long long size;
        rc = read_tail(st->audit_path, &seq, prev, &size, err);
    }
    pthread_mutex_unlock(&st->audit_mu);
    return rc;
}

/* ---- verification ---------------------------------------------------------------- */

typedef struct anchor {
    int have;          /* audit_seq and audit_hash both present */
    uint64_t seq;
    char hash[65];
    char sig[200];     /* "<kid>:<sig hex>" or "" */
    char pub[80];      /* recorded public key hex or "" */
} anchor;

static void read_anchor(const char *dir, anchor *an)
{
    memset(an, 0, sizeof *an);
    char path[4096];
    snprintf(path, sizeof path, "%s/blindlink.db", dir);
    sqlite3 *db = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0 || /* never create a database while checking one */
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *s = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT k, v FROM meta WHERE k IN ('audit_seq','audit_hash',"
                           "'audit_sig','audit_pub')",
                           -1, &s, NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(s, 0);
            const char *v = (const char *)sqlite3_column_text(s, 1);
            if (!k || !v)
                continue;
            if (!strcmp(k, "audit_seq"))
                an->seq = strtoull(v, NULL, 10), n++;
            else if (!strcmp(k, "audit_hash") && strlen(v) == 64)
                memcpy(an->hash, v, 65), n++;
            else if (!strcmp(k, "audit_sig"))
                snprintf(an->sig, sizeof an->sig, "%s", v);
            else if (!strcmp(k, "audit_pub"))
                snprintf(an->pub, sizeof an->pub, "%s", v);
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    an->have = n == 2;
}

/* The keys a signature may come from: the caller's files, or (self-check)
 * the one the store records. */
typedef struct keyring {
    unsigned char pk[8][32];
    char kid[8][17];
    size_t n;
} keyring;

static const unsigned char *ring_find(const keyring *kr, const char *kid)
{
    for (size_t i = 0; kid && i < kr->n; i++)
        if (!strcmp(kr->kid[i], kid))
            return kr->pk[i];
    return NULL;
}

/* Check one signed field: 1 if valid, else err describes it. */
static int entry_sig_check(const keyring *kr, json_t *o, const char *hash, const char *where,
                           uint64_t seq, bl_error *err)
{
    json_t *k = json_object_get(o, "kid"), *g = json_object_get(o, "sig");
    if (!json_is_string(k) || !json_is_string(g)) {
        bl_error_set(err, BL_EINPUT, "%s: entry seq %llu has no signature (added by someone "
                     "without the service's key?)",
                     where, (unsigned long long)seq);
        return 0;
    }
    const unsigned char *pk = ring_find(kr, json_string_value(k));
    if (!pk) {
        bl_error_set(err, BL_EINPUT, "%s: entry seq %llu is signed by key id %s, which is not "
                     "among the public keys given",
                     where, (unsigned long long)seq, json_string_value(k));
        return 0;
    }
    char msg[96];
    snprintf(msg, sizeof msg, ENTRY_SIG_DOMAIN "%s", hash);
    if (!srv_audit_sig_ok(pk, msg, json_string_value(g))) {
        bl_error_set(err, BL_EINPUT, "%s: entry seq %llu has an invalid signature (forged or "
                     "modified entry)",
                     where, (unsigned long long)seq);
        return 0;
    }
    return 1;
}

/* Check one line: parses, hash matches, seq consecutive, chains to prev,
 * and (signed) its signature. Sets *seq and stored[65]. */
static bl_status check_line(char *line, size_t n, uint64_t lineno, const char *path,
                            const char *prev, const keyring *kr, char stored[65], int *was_signed,
                            bl_error *err)
{
    char where[4200];
    snprintf(where, sizeof where, "%s:%llu", path, (unsigned long long)lineno);
    json_error_t je;
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
    json_t *h = o ? json_object_get(o, "hash") : NULL;
    json_t *q = o ? json_object_get(o, "seq") : NULL;
    json_t *p = o ? json_object_get(o, "prev") : NULL;
    if (!json_is_object(o) || !json_is_string(h) || !json_is_integer(q) || !json_is_string(p)) {
        json_decref(o);
        return bl_error_set(err, BL_EINPUT, "%s: entry is not a valid audit record", where);
    }
    snprintf(stored, 65, "%s", json_string_value(h));
    uint64_t seq = (uint64_t)json_integer_value(q);
    int prev_ok = !strcmp(json_string_value(p), prev);
    json_t *copy = json_deep_copy(o);
    json_object_del(copy, "hash");
    json_object_del(copy, "sig");
    char computed[65];
    int ok = copy && entry_hash(copy, computed) == 0 && !strcmp(computed, stored);
    json_decref(copy);
    bl_status rc = BL_OK;
    if (!ok)
        rc = bl_error_set(err, BL_EINPUT,
                          "%s: entry seq %llu was modified (its hash does not match its content)",
                          where, (unsigned long long)seq);
    else if (seq != lineno)
        rc = bl_error_set(err, BL_EINPUT,
                          "%s: expected entry seq %llu, found %llu (entries deleted, inserted or "
                          "reordered)",
                          where, (unsigned long long)lineno, (unsigned long long)seq);
    else if (!prev_ok)
        rc = bl_error_set(err, BL_EINPUT,
                          "%s: entry seq %llu does not chain to the previous entry (deleted, "
                          "inserted or reordered entries)",
                          where, (unsigned long long)seq);
    else if (kr->n && !entry_sig_check(kr, o, stored, where, seq, err))
        rc = BL_EINPUT;
    *was_signed = kr->n > 0;
    json_decref(o);
    return rc;
}

/* The anchor: present, signed (when the log is), reached by the log, and
 * not left behind by more than the crash window. */
static bl_status check_anchor(const anchor *an, const keyring *kr, const char *path,
                              uint64_t entries, const char *hash_at_anchor, bl_error *err)
{
    if (!an->have)
        return bl_error_set(err, BL_EINPUT,
                            "%s: the store's audit anchor is missing (audit_seq/audit_hash rows "
                            "or blindlink.db deleted): the log's end cannot be checked",
                            path);
    if (an->seq > entries)
        return bl_error_set(err, BL_EINPUT,
                            "%s: log ends at entry %llu but the store's anchor records entry %llu "
                            "(entries deleted at the end)",
                            path, (unsigned long long)entries, (unsigned long long)an->seq);
    if (an->seq > 0 && strcmp(hash_at_anchor, an->hash))
        return bl_error_set(err, BL_EINPUT, "%s: entry seq %llu differs from the store's anchor",
                            path, (unsigned long long)an->seq);
    if (entries - an->seq > BL_AUDIT_CRASH_WINDOW)
        return bl_error_set(err, BL_EINPUT,
                            "%s: the log runs %llu entries past the store's anchor (entry %llu); "
                            "at most %d can follow a crash (an older store restored?)",
                            path, (unsigned long long)(entries - an->seq),
                            (unsigned long long)an->seq, BL_AUDIT_CRASH_WINDOW);
    if (!kr->n)
        return BL_OK;
    const char *colon = strchr(an->sig, ':');
    char kid[17] = "";
    if (colon && colon - an->sig == 16)
        memcpy(kid, an->sig, 16);
    const unsigned char *pk = ring_find(kr, kid);
    char msg[160];
    snprintf(msg, sizeof msg, ANCHOR_SIG_DOMAIN "%llu\n%s", (unsigned long long)an->seq, an->hash);
    if (!pk || !srv_audit_sig_ok(pk, msg, colon + 1))
        return bl_error_set(err, BL_EINPUT,
                            "%s: the store's anchor (entry %llu) is not signed by a key id given "
                            "(forged or replaced anchor)",
                            path, (unsigned long long)an->seq);
    return BL_OK;
}

static bl_status load_ring(const char *const *files, size_t nfiles, const anchor *an,
                           keyring *kr, bl_error *err)
{
    memset(kr, 0, sizeof *kr);
    if (nfiles > 8)
        return bl_error_set(err, BL_EINVAL, "at most 8 public keys");
    for (size_t i = 0; i < nfiles; i++) {
        if (bl_audit_pubkey_load(files[i], kr->pk[i], err) != BL_OK)
            return BL_EINVAL;
        srv_audit_kid(kr->pk[i], kr->kid[i]);
        kr->n++;
    }
    if (!nfiles && an->pub[0] && srv_audit_pub_parse_hex(an->pub, kr->pk[0]) == BL_OK) {
        srv_audit_kid(kr->pk[0], kr->kid[0]);
        kr->n = 1;
    }
    return BL_OK;
}

/* The pin: an entry (seq, hash) an auditor recorded at an earlier check. */
static bl_status check_pin(const bl_audit_verify_opts *o, const char *path, uint64_t entries,
                           const char *hash_at_pin, bl_error *err)
{
    if (!o->pin_seq)
        return BL_OK;
    if (o->pin_seq > entries)
        return bl_error_set(err, BL_EINPUT,
                            "%s: the log ends at entry %llu but entry %llu was seen at an earlier "
                            "check (the log was cut or rolled back)",
                            path, (unsigned long long)entries, (unsigned long long)o->pin_seq);
    if (!o->pin_hash || strcmp(o->pin_hash, hash_at_pin))
        return bl_error_set(err, BL_EINPUT,
                            "%s: entry %llu differs from the one seen at an earlier check (the log "
                            "was rewritten)",
                            path, (unsigned long long)o->pin_seq);
    return BL_OK;
}

bl_status bl_audit_verify_ex(const char *data_dir, const bl_audit_verify_opts *opts,
                             bl_audit_report *rep, bl_error *err)
{
    bl_audit_verify_opts none = {0};
    if (!opts)
        opts = &none;
    const char *const *pubkey_files = opts->pubkey_files;
    size_t npub = opts->npub;
    bl_audit_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    memcpy(rep->head_hash, zero_hash, 65);
    anchor an;
    read_anchor(data_dir, &an);
    keyring kr;
    if (load_ring(pubkey_files, npub, &an, &kr, err) != BL_OK)
        return BL_EINVAL;
    rep->independent = npub > 0;
    rep->anchor_seq = an.seq;
    char path[4096];
    snprintf(path, sizeof path, "%s/audit.log", data_dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    char prev[65], at_anchor[65] = "", at_pin[65] = "";
    memcpy(prev, zero_hash, 65);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0;
    bl_status rc = BL_OK;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        char stored[65];
        int sgn = 0;
        rc = check_line(line, (size_t)n, lineno, path, prev, &kr, stored, &sgn, err);
        if (rc != BL_OK)
            break;
        if (lineno == an.seq)
            memcpy(at_anchor, stored, 65);
        if (lineno == opts->pin_seq)
            memcpy(at_pin, stored, 65);
        memcpy(prev, stored, 65);
        rep->entries = lineno;
        rep->signed_entries += (uint64_t)sgn;
    }
    free(line);
    fclose(fp);
    if (rc != BL_OK) {
        rep->first_bad = lineno;
        return rc;
    }
    memcpy(rep->head_hash, prev, 65);
    rc = check_anchor(&an, &kr, path, rep->entries, at_anchor, err);
    if (rc == BL_OK)
        rc = check_pin(opts, path, rep->entries, at_pin, err);
    if (rc != BL_OK)
        rep->first_bad = rep->entries + 1;
    return rc;
}

bl_status bl_audit_verify(const char *data_dir, bl_audit_report *rep, bl_error *err)
{
    return bl_audit_verify_ex(data_dir, NULL, rep, err);
}
