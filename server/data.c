/* server/data.c - personal-data paths: the consent registry (opt-in per
 * subject and purpose, withdrawal, history), encodings uploads (JSON or a
 * streamed binary CLK file; only subjects who opted in to the project's
 * purpose are stored, the rest are counted and dropped), removal of a
 * subject from stored encodings and results after withdrawal, and GDPR
 * erasure. Raw encodings are never returned by any endpoint. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <blindlink/clk.h>
#include "srv.h"

int srv_consent_has(sqlite3_stmt *q, const char *org, const char *subject, const char *purpose)
{
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, org, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, subject, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, purpose, -1, SQLITE_TRANSIENT);
    int has = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_reset(q);
    return has;
}

const char *srv_stored_subject(const char *id, uint64_t *row)
{
    const char *slash = strchr(id, '/');
    if (row)
        *row = slash ? strtoull(id, NULL, 10) : 0;
    return slash ? slash + 1 : id;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bl_status srv_consent_set_load(sqlite3 *db, const char *org, const char *purpose,
                               srv_consent_set *out, bl_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = srv_prep(db,
                               "SELECT subject FROM consent WHERE org_id=? AND purpose=? AND "
                               "state='in'",
                               err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, org, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, purpose, -1, SQLITE_TRANSIENT);
    size_t cap = 0, pcap = 0, plen = 0;
    size_t *offs = NULL;
    bl_status rc = BL_OK;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *subj = (const char *)sqlite3_column_text(s, 0);
        size_t l = strlen(subj) + 1;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 1024;
            size_t *no = cap <= SRV_CONSENT_SET_MAX ? realloc(offs, cap * sizeof *no) : NULL;
            if (!no) {
                rc = bl_error_set(err, BL_ELIMIT, "consent set too large");
                break;
            }
            offs = no;
        }
        if (plen + l > pcap) {
            pcap = pcap ? pcap * 2 : 65536;
            while (plen + l > pcap)
                pcap *= 2;
            char *np = realloc(out->pool, pcap);
            if (!np) {
                rc = bl_error_set(err, BL_ENOMEM, "out of memory");
                break;
            }
            out->pool = np;
        }
        memcpy(out->pool + plen, subj, l);
        offs[out->n++] = plen;
        plen += l;
    }
    sqlite3_finalize(s);
    if (rc == BL_OK && out->n) {
        out->subj = malloc(out->n * sizeof *out->subj);
        if (!out->subj)
            rc = bl_error_set(err, BL_ENOMEM, "out of memory");
        for (size_t i = 0; rc == BL_OK && i < out->n; i++)
            out->subj[i] = out->pool + offs[i];
        if (rc == BL_OK)
            qsort(out->subj, out->n, sizeof *out->subj, cmp_str);
    }
    free(offs);
    if (rc != BL_OK)
        srv_consent_set_free(out);
    return rc;
}

int srv_consent_set_has(const srv_consent_set *cs, const char *subject)
{
    return cs->n && bsearch(&subject, cs->subj, cs->n, sizeof *cs->subj, cmp_str) != NULL;
}

void srv_consent_set_free(srv_consent_set *cs)
{
    free(cs->subj);
    free(cs->pool);
    memset(cs, 0, sizeof *cs);
}

/* Short, non-reversible tag for a subject key in the audit log. */
static void subject_tag(const char *org, const char *subject, char out[17])
{
    uint8_t d[32];
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)org, strlen(org));
    crypto_hash_sha256_update(&h, (const unsigned char *)"/", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)subject, strlen(subject));
    crypto_hash_sha256_final(&h, d);
    srv_hex(d, 8, out);
}

static int need_owner_key(srv_req *r)
{
    if (!strcmp(r->p.role, "data_owner"))
        return 1;
    srv_problem(r, 403, "Forbidden", "only data owner keys manage consent and subjects");
    return 0;
}

/* ---- consent ---------------------------------------------------------------------------- */

/* Shared front half of the consent endpoints: owner key check, body parse,
 * audit resource. Returns 0 after sending the problem response. */
static int consent_request(srv_req *r, int withdraw, srv_consent_item **it, size_t *n)
{
    if (!need_owner_key(r))
        return 0;
    bl_error e = {0};
    json_t *o = srv_json_parse(r->body, r->len, &e);
    if (!o || srv_parse_consent(o, withdraw, it, n, &e) != BL_OK) {
        json_decref(o);
        srv_problem(r, 400, "Bad Request", "%s", e.msg);
        return 0;
    }
    json_decref(o);
    snprintf(r->resource, sizeof r->resource, "org/%s/consent", r->p.org);
    return 1;
}

void srv_h_consent(srv_req *r)
{
    srv_consent_item *it = NULL;
    size_t n = 0;
    if (!consent_request(r, 0, &it, &n))
        return;
    bl_error e = {0};
    int64_t now = bl_srv_now();
    sqlite3_stmt *chk = NULL, *up = NULL, *ev = NULL;
    int ok = srv_begin(r->db, &e) == BL_OK;
    if (ok) {
        chk = srv_prep(r->db, "SELECT 1 FROM purposes WHERE name=?", &e);
        up = srv_prep(r->db,
                      "INSERT INTO consent(org_id,subject,purpose,state,opted_in_at) "
                      "VALUES(?1,?2,?3,'in',?4) ON CONFLICT(org_id,subject,purpose) DO UPDATE "
                      "SET state='in', opted_in_at=?4, withdrawn_at=NULL",
                      &e);
        ev = srv_prep(r->db,
                      "INSERT INTO consent_events(org_id,subject,purpose,action,at) "
                      "VALUES(?,?,?,'opt_in',?)",
                      &e);
        ok = chk && up && ev;
    }
    size_t records = 0;
    for (size_t i = 0; ok && i < n; i++) {
        for (int j = 0; ok && j < it[i].npurposes; j++) {
            sqlite3_reset(chk);
            sqlite3_bind_text(chk, 1, it[i].purposes[j], -1, SQLITE_TRANSIENT);
            if (sqlite3_step(chk) != SQLITE_ROW) {
                srv_problem(r, 400, "Bad Request",
                            "subjects[%zu].purposes[%d]: '%s' is not in the controlled purpose "
                            "list",
                            i, j, it[i].purposes[j]);
                ok = -1;
                break;
            }
            sqlite3_stmt *ss[2] = {up, ev};
            for (int k = 0; k < 2 && ok == 1; k++) {
                sqlite3_reset(ss[k]);
                sqlite3_bind_text(ss[k], 1, r->p.org, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(ss[k], 2, it[i].subject, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(ss[k], 3, it[i].purposes[j], -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(ss[k], 4, now);
                if (sqlite3_step(ss[k]) != SQLITE_DONE)
                    ok = 0;
            }
            records++;
        }
    }
    sqlite3_finalize(chk);
    sqlite3_finalize(up);
    sqlite3_finalize(ev);
    free(it);
    if (ok != 1) {
        srv_rollback(r->db);
        if (ok == 0)
            srv_problem(r, 500, "Internal Server Error", "cannot record consent: %s",
                        e.msg[0] ? e.msg : sqlite3_errmsg(r->db));
        return;
    }
    if (srv_commit(r->db, &e) != BL_OK) {
        srv_problem(r, 500, "Internal Server Error", "%s", e.msg);
        return;
    }
    snprintf(r->reason, sizeof r->reason, "recorded %zu opt-in(s) for %zu subject(s)", records, n);
    srv_reply(r, 200, json_pack("{s:I,s:I,s:I}", "subjects", (json_int_t)n, "opt_ins",
                                (json_int_t)records, "recorded_at", (json_int_t)now));
}

/* Remove `subject` (of the caller's org) from the stored encodings and the
 * results of every project where the org is a data owner and, when
 * `purposes` is given, whose purpose is in it. */
static bl_status remove_subject(srv_req *r, const char *subject, const srv_consent_item *purposes,
                                long *files, long *rows, bl_error *err)
{
    srv_ctx *c = r->srv;
    *files = *rows = 0;
    sqlite3_stmt *s = srv_prep(r->db,
                               "SELECT g.project_id, g.party_index, p.purpose, "
                               "(u.project_id IS NOT NULL) FROM grants g JOIN projects p ON "
                               "p.id=g.project_id LEFT JOIN uploads u ON u.project_id=g.project_id "
                               "AND u.org_id=g.org_id WHERE g.org_id=? AND g.party_role='owner' "
                               "AND p.state='active'",
                               err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, r->p.org, -1, SQLITE_TRANSIENT);
    struct hit {
        char pid[SRV_ID_HEX + 1];
        int party, uploaded;
    } *hits = NULL;
    size_t nh = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *purpose = (const char *)sqlite3_column_text(s, 2);
        int match = !purposes || purposes->npurposes == 0;
        for (int j = 0; purposes && j < purposes->npurposes; j++)
            if (!strcmp(purposes->purposes[j], purpose))
                match = 1;
        if (!match)
            continue;
        void *p = realloc(hits, (nh + 1) * sizeof *hits);
        if (!p)
            break;
        hits = p;
        snprintf(hits[nh].pid, sizeof hits[nh].pid, "%s", sqlite3_column_text(s, 0));
        hits[nh].party = sqlite3_column_int(s, 1);
        hits[nh].uploaded = sqlite3_column_int(s, 3);
        nh++;
    }
    sqlite3_finalize(s);
    bl_status rc = BL_OK;
    for (size_t h = 0; h < nh && rc == BL_OK; h++) {
        if (hits[h].uploaded) {
            char path[4096];
            srv_enc_path(c->st, hits[h].pid, r->p.org, path, sizeof path);
            pthread_mutex_lock(&c->enc_mu);
            bl_clkset *set = NULL;
            rc = bl_clkset_read(path, BL_CLK_BIN, 0, &set, err);
            size_t found = 0;
            for (size_t i = 0; rc == BL_OK && set->ids && i < set->count; i++)
                if (!strcmp(srv_stored_subject(set->ids[i], NULL), subject))
                    found++;
            if (rc == BL_OK && found && found == set->count) {
                /* nothing left: the binary format holds at least one record,
                 * so the upload disappears and the party uploads afresh */
                unlink(path);
                sqlite3_stmt *u = srv_prep(r->db,
                                           "DELETE FROM uploads WHERE project_id=? AND org_id=?",
                                           err);
                if (u) {
                    sqlite3_bind_text(u, 1, hits[h].pid, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_text(u, 2, r->p.org, -1, SQLITE_TRANSIENT);
                    sqlite3_step(u);
                    sqlite3_finalize(u);
                }
                *files += 1;
            } else if (rc == BL_OK && found) {
                bl_clkwriter *w = NULL;
                rc = bl_clkwriter_open(path, BL_CLK_BIN, set->nbits,
                                       set->has_fingerprint ? set->fingerprint : NULL, 1, &w, err);
                for (size_t i = 0; rc == BL_OK && i < set->count; i++)
                    if (strcmp(srv_stored_subject(set->ids[i], NULL), subject))
                        rc = bl_clkwriter_put(w, bl_clkset_get(set, i), set->ids[i], err);
                if (rc == BL_OK)
                    rc = bl_clkwriter_commit(w, err);
                else
                    bl_clkwriter_abort(w);
                char sha[65];
                if (rc == BL_OK)
                    rc = srv_file_sha256(path, sha, err);
                if (rc == BL_OK) {
                    sqlite3_stmt *u = srv_prep(r->db,
                                               "UPDATE uploads SET sha256=?, stored=stored-? "
                                               "WHERE project_id=? AND org_id=?",
                                               err);
                    if (u) {
                        sqlite3_bind_text(u, 1, sha, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_int64(u, 2, (sqlite3_int64)found);
                        sqlite3_bind_text(u, 3, hits[h].pid, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(u, 4, r->p.org, -1, SQLITE_TRANSIENT);
                        sqlite3_step(u);
                        sqlite3_finalize(u);
                    }
                    *files += 1;
                }
            }
            bl_clkset_free(set);
            pthread_mutex_unlock(&c->enc_mu);
            if (rc == BL_ENOTFOUND || rc == BL_EIO) {
                /* upload file missing: nothing stored to remove */
                rc = BL_OK;
            }
        }
        if (rc != BL_OK)
            break;
        /* results: the subject's rows, then groups left with fewer than two members */
        static const char *const sqls[] = {
            "DELETE FROM results WHERE subject=?2 AND party=?3 AND run_id IN (SELECT id FROM "
            "runs WHERE project_id=?1)",
            "DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE project_id=?1) AND "
            "(run_id, grp) IN (SELECT run_id, grp FROM results WHERE run_id IN (SELECT id FROM "
            "runs WHERE project_id=?1) GROUP BY run_id, grp HAVING COUNT(*) < 2)",
            "UPDATE runs SET groups_found=(SELECT COUNT(DISTINCT grp) FROM results WHERE "
            "results.run_id=runs.id) WHERE project_id=?1 AND state='completed'",
            NULL};
        for (int k = 0; sqls[k]; k++) {
            sqlite3_stmt *d = srv_prep(r->db, sqls[k], err);
            if (!d) {
                rc = BL_EIO;
                break;
            }
            sqlite3_bind_text(d, 1, hits[h].pid, -1, SQLITE_TRANSIENT);
            if (k == 0) {
                sqlite3_bind_text(d, 2, subject, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(d, 3, hits[h].party);
            }
            sqlite3_step(d);
            if (k == 0)
                *rows += sqlite3_changes(r->db);
            sqlite3_finalize(d);
        }
    }
    free(hits);
    return rc;
}

void srv_h_consent_withdraw(srv_req *r)
{
    srv_consent_item *it = NULL;
    size_t n = 0;
    if (!consent_request(r, 1, &it, &n))
        return;
    bl_error e = {0};
    int64_t now = bl_srv_now();
    long files = 0, rows = 0, withdrawn = 0;
    for (size_t i = 0; i < n; i++) {
        /* record the withdrawal first: from now on nothing new can use it */
        char sql[512];
        snprintf(sql, sizeof sql,
                 "UPDATE consent SET state='withdrawn', withdrawn_at=?1 WHERE org_id=?2 AND "
                 "subject=?3 AND state='in'%s",
                 it[i].npurposes ? " AND purpose IN (SELECT value FROM json_each(?4))" : "");
        json_t *pl = json_array();
        for (int j = 0; j < it[i].npurposes; j++)
            json_array_append_new(pl, json_string(it[i].purposes[j]));
        char *plist = json_dumps(pl, JSON_COMPACT);
        json_decref(pl);
        sqlite3_stmt *s = srv_prep(r->db, sql, &e);
        if (!s) {
            free(plist);
            break;
        }
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_text(s, 2, r->p.org, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, it[i].subject, -1, SQLITE_TRANSIENT);
        if (it[i].npurposes)
            sqlite3_bind_text(s, 4, plist ? plist : "[]", -1, SQLITE_TRANSIENT);
        sqlite3_step(s);
        long changed = sqlite3_changes(r->db);
        sqlite3_finalize(s);
        withdrawn += changed;
        s = srv_prep(r->db,
                     "INSERT INTO consent_events(org_id,subject,purpose,action,at) SELECT org_id, "
                     "subject, purpose, 'withdraw', withdrawn_at FROM consent WHERE org_id=? AND "
                     "subject=? AND withdrawn_at=? AND state='withdrawn'",
                     &e);
        if (s) {
            sqlite3_bind_text(s, 1, r->p.org, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, it[i].subject, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s, 3, now);
            sqlite3_step(s);
            sqlite3_finalize(s);
        }
        free(plist);
        long f = 0, rr = 0;
        if (remove_subject(r, it[i].subject, &it[i], &f, &rr, &e) != BL_OK) {
            free(it);
            srv_problem(r, 500, "Internal Server Error", "withdrawal recorded but removal failed: %s",
                        e.msg);
            return;
        }
        files += f;
        rows += rr;
        char tag[17], why[200];
        subject_tag(r->p.org, it[i].subject, tag);
        snprintf(why, sizeof why,
                 "subject #%s withdrew consent; removed from %ld encoding file(s) and %ld result "
                 "row(s)",
                 tag, f, rr);
        srv_audit_decision(r, "consent.withdraw.removal", 1, why);
    }
    free(it);
    snprintf(r->reason, sizeof r->reason, "%ld consent(s) withdrawn", withdrawn);
    srv_reply(r, 200, json_pack("{s:I,s:I,s:I,s:I}", "withdrawn", (json_int_t)withdrawn,
                                "encoding_files_updated", (json_int_t)files,
                                "result_rows_removed", (json_int_t)rows, "recorded_at",
                                (json_int_t)now));
}

void srv_h_consent_get(srv_req *r, const char *subject)
{
    if (!need_owner_key(r))
        return;
    if (!srv_subject_valid(subject)) {
        srv_problem(r, 400, "Bad Request", "subject key must match [A-Za-z0-9._:=-]{1,%d}",
                    SRV_SUBJECT_MAX);
        return;
    }
    char tag[17];
    subject_tag(r->p.org, subject, tag);
    snprintf(r->resource, sizeof r->resource, "org/%s/consent/#%s", r->p.org, tag);
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(r->db,
                               "SELECT purpose, state, opted_in_at, withdrawn_at FROM consent "
                               "WHERE org_id=? AND subject=? ORDER BY purpose",
                               &e);
    sqlite3_stmt *h = srv_prep(r->db,
                               "SELECT purpose, action, at FROM consent_events WHERE org_id=? AND "
                               "subject=? ORDER BY id",
                               &e);
    if (!s || !h) {
        sqlite3_finalize(s);
        sqlite3_finalize(h);
        srv_problem(r, 500, "Internal Server Error", "%s", e.msg);
        return;
    }
    json_t *cur = json_array(), *hist = json_array();
    sqlite3_bind_text(s, 1, r->p.org, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, subject, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *x = json_pack("{s:s,s:s,s:I}", "purpose", sqlite3_column_text(s, 0), "state",
                              sqlite3_column_text(s, 1), "opted_in_at",
                              (json_int_t)sqlite3_column_int64(s, 2));
        if (sqlite3_column_type(s, 3) != SQLITE_NULL)
            json_object_set_new(x, "withdrawn_at", json_integer(sqlite3_column_int64(s, 3)));
        json_array_append_new(cur, x);
    }
    sqlite3_bind_text(h, 1, r->p.org, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(h, 2, subject, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(h) == SQLITE_ROW)
        json_array_append_new(hist, json_pack("{s:s,s:s,s:I}", "purpose", sqlite3_column_text(h, 0),
                                              "action", sqlite3_column_text(h, 1), "at",
                                              (json_int_t)sqlite3_column_int64(h, 2)));
    sqlite3_finalize(s);
    sqlite3_finalize(h);
    srv_reply(r, 200, json_pack("{s:s,s:o,s:o}", "subject", subject, "consent", cur, "history",
                                hist));
}

void srv_h_erasure(srv_req *r)
{
    if (!need_owner_key(r))
        return;
    bl_error e = {0};
    json_t *o = srv_json_parse(r->body, r->len, &e);
    char subject[SRV_SUBJECT_MAX + 1];
    if (!o || srv_parse_subject(o, subject, &e) != BL_OK) {
        json_decref(o);
        srv_problem(r, 400, "Bad Request", "%s", e.msg);
        return;
    }
    json_decref(o);
    char tag[17];
    subject_tag(r->p.org, subject, tag);
    snprintf(r->resource, sizeof r->resource, "org/%s/subject/#%s", r->p.org, tag);
    long files = 0, rows = 0;
    if (remove_subject(r, subject, NULL, &files, &rows, &e) != BL_OK) {
        srv_problem(r, 500, "Internal Server Error", "erasure incomplete: %s", e.msg);
        return;
    }
    long consents = 0;
    static const char *const sqls[] = {"DELETE FROM consent WHERE org_id=? AND subject=?",
                                       "DELETE FROM consent_events WHERE org_id=? AND subject=?",
                                       NULL};
    for (int k = 0; sqls[k]; k++) {
        sqlite3_stmt *s = srv_prep(r->db, sqls[k], &e);
        if (!s)
            continue;
        sqlite3_bind_text(s, 1, r->p.org, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, subject, -1, SQLITE_TRANSIENT);
        sqlite3_step(s);
        if (k == 0)
            consents = sqlite3_changes(r->db);
        sqlite3_finalize(s);
    }
    snprintf(r->reason, sizeof r->reason,
             "GDPR erasure of subject #%s: %ld consent record(s), %ld encoding file(s) rewritten, "
             "%ld result row(s) removed",
             tag, consents, files, rows);
    srv_reply(r, 200, json_pack("{s:s,s:I,s:I,s:I}", "subject_tag", tag, "consent_records_removed",
                                (json_int_t)consents, "encoding_files_updated", (json_int_t)files,
                                "result_rows_removed", (json_int_t)rows));
}

/* ---- uploads ------------------------------------------------------------------------------- */

static int upload_exists(sqlite3 *db, const char *pid, const char *org)
{
    sqlite3_stmt *s = srv_prep(db, "SELECT 1 FROM uploads WHERE project_id=? AND org_id=?", NULL);
    if (!s)
        return 0;
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, org, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
}

int srv_upload_precheck(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_OWNER | SRV_ACC_NEED_READY, &pj, &g))
        return 0;
    if (upload_exists(r->db, pid, r->p.org)) {
        srv_problem(r, 409, "Conflict",
                    "organisation %s already uploaded encodings to project %s (one upload per "
                    "party)",
                    r->p.org_name, pid);
        return 0;
    }
    return 1;
}

/* Store the consented records of `set` for the caller in project pj. */
static void store_upload_locked(srv_req *r, const srv_project *pj, bl_clkset *set);

/* Order pointers into a set's id array by id, then by position. */
static int cmp_id_ptr(const void *a, const void *b)
{
    char *const *x = *(char *const *const *)a, *const *y = *(char *const *const *)b;
    int c = strcmp(*x, *y);
    return c ? c : (x > y) - (x < y);
}

/* Find the earliest record whose subject key already appeared: 1 with the
 * 0-based positions of the first occurrence and of that repeat, 0 if all
 * keys are distinct, -1 out of memory. O(n log n), 8 bytes per record. */
static int find_duplicate(const bl_clkset *set, size_t *first, size_t *at)
{
    if (set->count < 2)
        return 0;
    char **base = set->ids;
    char ***v = malloc(set->count * sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < set->count; i++)
        v[i] = &base[i];
    qsort(v, set->count, sizeof *v, cmp_id_ptr);
    int found = 0;
    for (size_t k = 1; k < set->count; k++) {
        if (strcmp(*v[k - 1], *v[k]))
            continue;
        /* v[k-1] starts or continues a run of equal keys: the run's first
         * element is the first occurrence, v[k] the first repeat */
        size_t g = k - 1;
        while (g > 0 && !strcmp(*v[g - 1], *v[k]))
            g--;
        size_t pos = (size_t)(v[k] - base);
        if (!found || pos < *at) {
            *first = (size_t)(v[g] - base);
            *at = pos;
            found = 1;
        }
        while (k + 1 < set->count && !strcmp(*v[k], *v[k + 1]))
            k++; /* later repeats of the same key come after v[k] */
    }
    free(v);
    return found;
}

static void store_upload(srv_req *r, const srv_project *pj, bl_clkset *set)
{
    /* one writer per encodings directory: concurrent uploads of the same
     * party cannot clobber each other's file */
    pthread_mutex_lock(&r->srv->enc_mu);
    if (upload_exists(r->db, pj->id, r->p.org))
        srv_problem(r, 409, "Conflict",
                    "organisation %s already uploaded encodings to project %s (one upload per "
                    "party)",
                    r->p.org_name, pj->id);
    else
        store_upload_locked(r, pj, set);
    pthread_mutex_unlock(&r->srv->enc_mu);
    if (r->status == 201)
        srv_workers_wake(r->srv);
}

static void store_upload_locked(srv_req *r, const srv_project *pj, bl_clkset *set)
{
    srv_ctx *c = r->srv;
    bl_error e = {0};
    if (!set->ids) {
        srv_problem(r, 400, "Bad Request",
                    "the upload carries no record ids: each encoding needs its pseudonymous "
                    "subject key as id");
        return;
    }
    sqlite3_stmt *s = srv_prep(r->db, "SELECT nbits FROM uploads WHERE project_id=? LIMIT 1", &e);
    if (s) {
        sqlite3_bind_text(s, 1, pj->id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW && (uint32_t)sqlite3_column_int(s, 0) != set->nbits) {
            srv_problem(r, 400, "Bad Request",
                        "encodings have %u bits but the other parties of project %s uploaded %d-bit "
                        "encodings",
                        set->nbits, pj->id, sqlite3_column_int(s, 0));
            sqlite3_finalize(s);
            return;
        }
        sqlite3_finalize(s);
    }
    for (size_t i = 0; i < set->count; i++)
        if (!srv_subject_valid(set->ids[i])) {
            srv_problem(r, 400, "Bad Request",
                        "record %zu: id '%.40s' is not a subject key ([A-Za-z0-9._:=-]{1,%d})",
                        i + 1, set->ids[i], SRV_SUBJECT_MAX);
            return;
        }
    size_t dup_first = 0, dup_at = 0;
    int dup = find_duplicate(set, &dup_first, &dup_at);
    if (dup < 0) {
        srv_problem(r, 500, "Internal Server Error", "out of memory checking subject keys");
        return;
    }
    if (dup) {
        /* the owner gets the key back; the audit log gets only its tag */
        const char *key = set->ids[dup_at];
        srv_problem(r, 400, "Bad Request",
                    "duplicate subject key '%s': records %zu and %zu of the upload carry it (each "
                    "subject may appear once per upload); nothing stored",
                    key, dup_first + 1, dup_at + 1);
        json_object_set_new(r->json, "duplicate",
                            json_pack("{s:s,s:[I,I]}", "subject", key, "records",
                                      (json_int_t)(dup_first + 1), (json_int_t)(dup_at + 1)));
        char tag[17];
        subject_tag(r->p.org, key, tag);
        snprintf(r->reason, sizeof r->reason,
                 "duplicate subject key (tag %s) at records %zu and %zu; nothing stored", tag,
                 dup_first + 1, dup_at + 1);
        return;
    }
    char dir[4096], path[4096];
    srv_enc_path(c->st, pj->id, NULL, dir, sizeof dir);
    mkdir(dir, 0700);
    srv_enc_path(c->st, pj->id, r->p.org, path, sizeof path);
    srv_consent_set cs;
    if (srv_consent_set_load(r->db, r->p.org, pj->purpose, &cs, &e) != BL_OK) {
        srv_problem(r, 500, "Internal Server Error", "%s", e.msg);
        return;
    }
    bl_clkwriter *w = NULL;
    bl_status rc = bl_clkwriter_open(path, BL_CLK_BIN, set->nbits,
                                     set->has_fingerprint ? set->fingerprint : NULL, 1, &w, &e);
    size_t stored = 0, excluded = 0;
    for (size_t i = 0; rc == BL_OK && i < set->count; i++) {
        if (srv_consent_set_has(&cs, set->ids[i])) {
            char sid[SRV_SUBJECT_MAX + 32];
            snprintf(sid, sizeof sid, "%zu/%s", i, set->ids[i]);
            rc = bl_clkwriter_put(w, bl_clkset_get(set, i), sid, &e);
            stored++;
        } else {
            excluded++;
        }
    }
    srv_consent_set_free(&cs);
    if (rc != BL_OK) {
        bl_clkwriter_abort(w);
        srv_problem(r, 500, "Internal Server Error", "cannot store encodings: %s", e.msg);
        return;
    }
    if (stored == 0) {
        bl_clkwriter_abort(w);
        srv_problem(r, 403, "Forbidden",
                    "none of the %zu records has consent for purpose '%s'; nothing stored "
                    "(%zu excluded without consent)",
                    set->count, pj->purpose, excluded);
        return;
    }
    char sha[65];
    rc = bl_clkwriter_commit(w, &e);
    if (rc == BL_OK)
        rc = srv_file_sha256(path, sha, &e);
    int ok = rc == BL_OK;
    if (ok) {
        s = srv_prep(r->db,
                     "INSERT INTO uploads(project_id,org_id,sha256,nbits,received,stored,excluded,"
                     "created) VALUES(?,?,?,?,?,?,?,?)",
                     &e);
        ok = s != NULL;
        if (s) {
            sqlite3_bind_text(s, 1, pj->id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, r->p.org, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 3, sha, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(s, 4, (int)set->nbits);
            sqlite3_bind_int64(s, 5, (sqlite3_int64)set->count);
            sqlite3_bind_int64(s, 6, (sqlite3_int64)stored);
            sqlite3_bind_int64(s, 7, (sqlite3_int64)excluded);
            sqlite3_bind_int64(s, 8, bl_srv_now());
            ok = sqlite3_step(s) == SQLITE_DONE;
            sqlite3_finalize(s);
        }
    }
    if (!ok) {
        unlink(path);
        srv_problem(r, 409, "Conflict", "cannot record the upload: %s",
                    e.msg[0] ? e.msg : sqlite3_errmsg(r->db));
        return;
    }
    snprintf(r->reason, sizeof r->reason,
             "stored %zu of %zu records; %zu excluded without consent for purpose %s", stored,
             set->count, excluded, pj->purpose);
    srv_reply(r, 201, json_pack("{s:I,s:I,s:I,s:i,s:s}", "received", (json_int_t)set->count,
                                "stored", (json_int_t)stored, "excluded_without_consent",
                                (json_int_t)excluded, "nbits", (int)set->nbits, "sha256", sha));
}

static bl_clkset *json_to_set(srv_req *r, json_t *arr)
{
    bl_error e = {0};
    size_t n = json_array_size(arr);
    bl_clkset *set = NULL;
    uint8_t *buf = malloc(BL_CLK_MAX_BITS / 8 + 4);
    uint32_t nbytes = 0;
    for (size_t i = 0; buf && i < n; i++) {
        json_t *x = json_array_get(arr, i);
        const char *b64 = json_string_value(json_object_get(x, "clk"));
        size_t len = 0;
        if (bl_base64_decode(b64, strlen(b64), buf, BL_CLK_MAX_BITS / 8, &len) != BL_OK ||
            len == 0) {
            srv_problem(r, 400, "Bad Request", "encodings[%zu].clk is not valid base64", i);
            break;
        }
        if (!set) {
            nbytes = (uint32_t)len;
            if (bl_clkset_new(nbytes * 8, n, &set, &e) != BL_OK) {
                srv_problem(r, 400, "Bad Request", "%s", e.msg);
                break;
            }
        } else if (len != nbytes) {
            srv_problem(r, 400, "Bad Request",
                        "encodings[%zu].clk has %zu bytes; the first encoding has %u", i, len,
                        nbytes);
            break;
        }
        if (bl_clkset_append(set, buf, json_string_value(json_object_get(x, "subject")), &e) !=
            BL_OK) {
            srv_problem(r, 400, "Bad Request", "encodings[%zu]: %s", i, e.msg);
            break;
        }
    }
    free(buf);
    if (r->status) {
        bl_clkset_free(set);
        return NULL;
    }
    return set;
}

void srv_h_upload(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    /* re-check after the body arrived: state may have changed meanwhile */
    if (!srv_upload_precheck(r, pid))
        return;
    srv_project_load(r->db, pid, &pj, NULL);
    (void)g;
    bl_error e = {0};
    bl_clkset *set = NULL;
    if (r->upload_mode == 1) {
        json_t *o = srv_json_parse(r->body, r->len, &e), *arr = NULL;
        if (!o || srv_parse_encodings(o, &arr, &e) != BL_OK) {
            json_decref(o);
            srv_problem(r, 400, "Bad Request", "%s", e.msg);
            return;
        }
        if (json_array_size(arr) > r->srv->opts.max_records) {
            json_decref(o);
            srv_problem(r, 413, "Payload Too Large", "more than %zu encodings in one upload",
                        r->srv->opts.max_records);
            return;
        }
        set = json_to_set(r, arr);
        json_decref(o);
        if (!set)
            return;
    } else {
        if (r->spooled == 0) {
            srv_problem(r, 400, "Bad Request", "empty upload");
            return;
        }
        bl_status rc = bl_clkset_read(r->spool_path, BL_CLK_BIN, r->srv->opts.max_records, &set, &e);
        if (rc != BL_OK) {
            /* do not echo the spool path: name the upload instead */
            const char *m = strstr(e.msg, r->spool_path);
            srv_problem(r, rc == BL_ELIMIT ? 413 : 400, rc == BL_ELIMIT ? "Payload Too Large"
                                                                       : "Bad Request",
                        "upload is not a valid blindlink binary CLK file: %s",
                        m ? m + strlen(r->spool_path) + (m[strlen(r->spool_path)] == ':' ? 2 : 0)
                          : e.msg);
            return;
        }
        close(r->spool_fd);
        r->spool_fd = -1;
        unlink(r->spool_path);
        r->spool_path[0] = '\0';
    }
    store_upload(r, &pj, set);
    bl_clkset_free(set);
}

void srv_h_upload_get(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_OWNER, &pj, &g))
        return;
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(r->db,
                               "SELECT received, stored, excluded, nbits, sha256, created FROM "
                               "uploads WHERE project_id=? AND org_id=?",
                               &e);
    if (!s) {
        srv_problem(r, 500, "Internal Server Error", "%s", e.msg);
        return;
    }
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, r->p.org, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        srv_problem(r, 404, "Not Found", "organisation %s has not uploaded to project %s",
                    r->p.org_name, pid);
        return;
    }
    json_t *o = json_pack("{s:I,s:I,s:I,s:i,s:s,s:I,s:s}", "received",
                          (json_int_t)sqlite3_column_int64(s, 0), "stored",
                          (json_int_t)sqlite3_column_int64(s, 1), "excluded_without_consent",
                          (json_int_t)sqlite3_column_int64(s, 2), "nbits",
                          sqlite3_column_int(s, 3), "sha256", sqlite3_column_text(s, 4),
                          "created", (json_int_t)sqlite3_column_int64(s, 5), "note",
                          "encodings are never returned by the service");
    sqlite3_finalize(s);
    srv_reply(r, 200, o);
}

void srv_h_upload_delete(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    /* leaving is always possible, also after the grant expired */
    if (!srv_project_access(r, pid, SRV_ACC_OWNER | SRV_ACC_NO_EXPIRY, &pj, &g))
        return;
    bl_error e = {0};
    pthread_mutex_lock(&r->srv->enc_mu);
    int had = upload_exists(r->db, pid, r->p.org);
    char path[4096];
    srv_enc_path(r->srv->st, pid, r->p.org, path, sizeof path);
    long rows = 0;
    int ok = srv_begin(r->db, &e) == BL_OK;
    static const char *const sqls[] = {
        "DELETE FROM uploads WHERE project_id=?1 AND org_id=?2",
        "DELETE FROM results WHERE party=?3 AND run_id IN (SELECT id FROM runs WHERE "
        "project_id=?1)",
        "DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE project_id=?1) AND "
        "(run_id, grp) IN (SELECT run_id, grp FROM results WHERE run_id IN (SELECT id FROM runs "
        "WHERE project_id=?1) GROUP BY run_id, grp HAVING COUNT(*) < 2)",
        "UPDATE runs SET groups_found=(SELECT COUNT(DISTINCT grp) FROM results WHERE "
        "results.run_id=runs.id) WHERE project_id=?1 AND state='completed'",
        NULL};
    for (int k = 0; ok && sqls[k]; k++) {
        sqlite3_stmt *s = srv_prep(r->db, sqls[k], &e);
        if (!s) {
            ok = 0;
            break;
        }
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        if (sqlite3_bind_parameter_count(s) >= 2)
            sqlite3_bind_text(s, 2, r->p.org, -1, SQLITE_TRANSIENT);
        if (sqlite3_bind_parameter_count(s) >= 3)
            sqlite3_bind_int(s, 3, g.party_index);
        ok = sqlite3_step(s) == SQLITE_DONE;
        if (k == 1)
            rows = sqlite3_changes(r->db);
        sqlite3_finalize(s);
    }
    if (ok)
        ok = srv_commit(r->db, &e) == BL_OK;
    else
        srv_rollback(r->db);
    if (ok)
        unlink(path);
    pthread_mutex_unlock(&r->srv->enc_mu);
    if (!ok) {
        srv_problem(r, 500, "Internal Server Error", "cannot delete the upload: %s",
                    e.msg[0] ? e.msg : sqlite3_errmsg(r->db));
        return;
    }
    if (!had && rows == 0) {
        srv_problem(r, 404, "Not Found", "organisation %s has not uploaded to project %s",
                    r->p.org_name, pid);
        return;
    }
    snprintf(r->reason, sizeof r->reason,
             "data owner withdrew its encodings; %ld result row(s) removed", rows);
    srv_reply(r, 200, json_pack("{s:b,s:I}", "encodings_deleted", had, "result_rows_removed",
                                (json_int_t)rows));
}
