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
    if (!o || entry_hash(o, hash) != 0) {
        json_decref(o);
        rc = bl_error_set(err, BL_ENOMEM, "audit: cannot build entry");
        goto out;
    }
    json_object_set_new(o, "hash", json_string(hash));
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
out:
    return rc;
}

/* Lock order: audit_db_mu, then the SQLite write lock, then audit_mu. A
 * joined request already holds the write lock when it appends, so no
 * thread waits for the write lock while holding audit_mu. */
bl_status srv_audit_append(bl_store *st, const srv_audit *a, bl_error *err)
{
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

static bl_status read_anchor(const char *dir, uint64_t *seq, char hash[65], int *have)
{
    *have = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/blindlink.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return BL_OK;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT k, v FROM meta WHERE k IN ('audit_seq','audit_hash')", -1,
                           &s, NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(s, 0);
            const char *v = (const char *)sqlite3_column_text(s, 1);
            if (!k || !v)
                continue;
            if (!strcmp(k, "audit_seq"))
                *seq = strtoull(v, NULL, 10), (*have)++;
            else if (strlen(v) == 64)
                memcpy(hash, v, 65), (*have)++;
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (*have != 2)
        *have = 0;
    return BL_OK;
}

bl_status bl_audit_verify(const char *data_dir, bl_audit_report *rep, bl_error *err)
{
    bl_audit_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    memcpy(rep->head_hash, zero_hash, 65);
    char path[4096];
    snprintf(path, sizeof path, "%s/audit.log", data_dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    uint64_t anchor_seq = 0;
    char anchor_hash[65] = {0};
    int have_anchor = 0;
    read_anchor(data_dir, &anchor_seq, anchor_hash, &have_anchor);

    char prev[65];
    memcpy(prev, zero_hash, 65);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0;
    int anchor_seen = 0;
    bl_status rc = BL_OK;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        json_t *h = o ? json_object_get(o, "hash") : NULL;
        json_t *q = o ? json_object_get(o, "seq") : NULL;
        json_t *p = o ? json_object_get(o, "prev") : NULL;
        if (!json_is_object(o) || !json_is_string(h) || !json_is_integer(q) || !json_is_string(p)) {
            json_decref(o);
            rc = bl_error_set(err, BL_EINPUT, "%s:%llu: entry is not a valid audit record", path,
                              (unsigned long long)lineno);
            break;
        }
        char stored[65];
        snprintf(stored, sizeof stored, "%s", json_string_value(h));
        json_incref(h);
        json_object_del(o, "hash");
        char computed[65];
        int ok = entry_hash(o, computed) == 0;
        uint64_t seq = (uint64_t)json_integer_value(q);
        int prev_ok = !strcmp(json_string_value(p), prev);
        json_decref(h);
        json_decref(o);
        if (!ok || strcmp(computed, stored) != 0) {
            rc = bl_error_set(err, BL_EINPUT,
                              "%s:%llu: entry seq %llu was modified (its hash does not match "
                              "its content)",
                              path, (unsigned long long)lineno, (unsigned long long)seq);
            break;
        }
        if (seq != lineno) {
            rc = bl_error_set(err, BL_EINPUT,
                              "%s:%llu: expected entry seq %llu, found %llu (entries deleted, "
                              "inserted or reordered)",
                              path, (unsigned long long)lineno, (unsigned long long)lineno,
                              (unsigned long long)seq);
            break;
        }
        if (!prev_ok) {
            rc = bl_error_set(err, BL_EINPUT,
                              "%s:%llu: entry seq %llu does not chain to the previous entry "
                              "(deleted, inserted or reordered entries)",
                              path, (unsigned long long)lineno, (unsigned long long)seq);
            break;
        }
        if (have_anchor && seq == anchor_seq) {
            if (strcmp(stored, anchor_hash) != 0) {
                rc = bl_error_set(err, BL_EINPUT,
                                  "%s:%llu: entry seq %llu differs from the store's anchor", path,
                                  (unsigned long long)lineno, (unsigned long long)seq);
                break;
            }
            anchor_seen = 1;
        }
        memcpy(prev, stored, 65);
        rep->entries = lineno;
    }
    free(line);
    fclose(fp);
    if (rc != BL_OK) {
        rep->first_bad = lineno;
        return rc;
    }
    memcpy(rep->head_hash, prev, 65);
    if (have_anchor && anchor_seq > 0 && !anchor_seen) {
        rep->first_bad = rep->entries + 1;
        return bl_error_set(err, BL_EINPUT,
                            "%s: log ends at entry %llu but the store's anchor records entry %llu "
                            "(entries deleted at the end)",
                            path, (unsigned long long)rep->entries,
                            (unsigned long long)anchor_seq);
    }
    return BL_OK;
}
