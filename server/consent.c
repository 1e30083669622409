/* server/consent.c - the consent registry (opt-in per subject and purpose,
 * withdrawal, history) and its readers (one lookup, or a sorted snapshot of
 * the subjects opted in to a purpose), the removal of a subject from stored
 * encodings and results after withdrawal, and GDPR erasure. Subject keys
 * reach the audit log only as a keyed tag (srv_subject_tag). Called by the
 * router and by uploads.c and runs.c; calls the store and the clk files. */
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
        if (out->n >= SRV_CONSENT_SET_MAX ||
            bli_grow((void **)&offs, &cap, out->n + 1, sizeof *offs, 1024) != 0) {
            rc = bl_error_set(err, BL_ELIMIT, "consent set too large");
            break;
        }
        if (bli_grow((void **)&out->pool, &pcap, plen + l, 1, 65536) != 0) {
            rc = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
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

/* Short tag for a subject key in the audit log: keyed BLAKE2b, so the log
 * alone does not let anyone test guessed identifiers. */
void srv_subject_tag(const bl_store *st, const char *org, const char *subject, char out[17])
{
    uint8_t d[8];
    crypto_generichash_state h;
    crypto_generichash_init(&h, st->tag_key, sizeof st->tag_key, sizeof d);
    crypto_generichash_update(&h, (const unsigned char *)org, strlen(org));
    crypto_generichash_update(&h, (const unsigned char *)"/", 1);
    crypto_generichash_update(&h, (const unsigned char *)subject, strlen(subject));
    crypto_generichash_final(&h, d, sizeof d);
    srv_hex(d, 8, out);
}

static int need_owner_key(srv_req *r)
{
    if (!strcmp(r->p.role, "data_owner"))
        return 1;
    srv_problem(r, 403, "only data owner keys manage consent and subjects");
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
        srv_problem(r, 400, "%s", e.msg);
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
                srv_problem(r, 400, "subjects[%zu].purposes[%d]: '%s' is not in the controlled purpose "
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
            srv_problem(r, 500, "cannot record consent: %s",
                        e.msg[0] ? e.msg : sqlite3_errmsg(r->db));
        return;
    }
    if (srv_commit(r->db, &e) != BL_OK) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    snprintf(r->reason, sizeof r->reason, "recorded %zu opt-in(s) for %zu subject(s)", records, n);
    srv_reply(r, 200, json_pack("{s:I,s:I,s:o}", "subjects", (json_int_t)n, "opt_ins",
                                (json_int_t)records, "recorded_at", srv_json_time(now)));
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
    size_t nh = 0, hcap = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *purpose = (const char *)sqlite3_column_text(s, 2);
        int match = !purposes || purposes->npurposes == 0;
        for (int j = 0; purposes && j < purposes->npurposes; j++)
            if (!strcmp(purposes->purposes[j], purpose))
                match = 1;
        if (!match)
            continue;
        if (bli_grow((void **)&hits, &hcap, nh + 1, sizeof *hits, 8) != 0)
            break;
        snprintf(hits[nh].pid, sizeof hits[nh].pid, "%s", sqlite3_column_text(s, 0));
        hits[nh].party = sqlite3_column_int(s, 1);
        hits[nh].uploaded = sqlite3_column_int(s, 3);
        nh++;
    }
    sqlite3_finalize(s);
    bl_status rc = BL_OK;
    for (size_t h = 0; h < nh && rc == BL_OK; h++) {
        if (hits[h].uploaded) {
            /* the file this transaction sees (an earlier subject of the
             * same request may have rewritten it); a rewrite goes to the
             * pending file and replaces the old one only after the commit */
            char path[4096], pending[4200], cur[4200];
            srv_enc_path(c->st, hits[h].pid, r->p.org, path, sizeof path);
            srv_file_pending_path(path, pending, sizeof pending);
            pthread_mutex_lock(&c->enc_mu);
            bl_clkset *set = NULL;
            const char *from = srv_file_current(r, path, cur, sizeof cur);
            rc = from ? bl_clkset_read(from, BL_CLK_BIN, 0, &set, err)
                      : bl_error_set(err, BL_ENOTFOUND, "removed");
            size_t found = 0;
            for (size_t i = 0; rc == BL_OK && set->ids && i < set->count; i++)
                if (!strcmp(srv_stored_subject(set->ids[i], NULL), subject))
                    found++;
            if (rc == BL_OK && found && found == set->count) {
                /* nothing left: the binary format holds at least one record,
                 * so the upload disappears and the party uploads afresh */
                rc = srv_file_after_commit(r->srv, r, SRV_FOP_UNLINK, path, err);
                sqlite3_stmt *u = rc != BL_OK ? NULL
                                              : srv_prep(r->db,
                                                         "DELETE FROM uploads WHERE project_id=? "
                                                         "AND org_id=?",
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
                rc = bl_clkwriter_open(pending, BL_CLK_BIN, set->nbits,
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
                    rc = srv_file_sha256(pending, sha, err);
                if (rc == BL_OK)
                    rc = srv_file_after_commit(r->srv, r, SRV_FOP_RENAME, path, err);
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
            srv_problem(r, 500, "withdrawal recorded but removal failed: %s",
                        e.msg);
            return;
        }
        files += f;
        rows += rr;
        char tag[17], why[200];
        srv_subject_tag(r->srv->st, r->p.org, it[i].subject, tag);
        snprintf(why, sizeof why,
                 "subject #%s withdrew consent; removed from %ld encoding file(s) and %ld result "
                 "row(s)",
                 tag, f, rr);
        srv_audit_decision(r, "consent.withdraw.removal", 1, why);
    }
    free(it);
    r->checkpoint = 1; /* the removed rows leave the WAL too */
    snprintf(r->reason, sizeof r->reason, "%ld consent(s) withdrawn", withdrawn);
    srv_reply(r, 200, json_pack("{s:I,s:I,s:I,s:o}", "withdrawn", (json_int_t)withdrawn,
                                "encoding_files_updated", (json_int_t)files,
                                "result_rows_removed", (json_int_t)rows, "recorded_at",
                                srv_json_time(now)));
}

void srv_h_consent_get(srv_req *r, const char *subject)
{
    snprintf(r->resource, sizeof r->resource, "org/%s/consent/(subject withheld)", r->p.org);
    if (!need_owner_key(r))
        return;
    if (!srv_subject_valid(subject)) {
        srv_problem(r, 400, "subject key must match [A-Za-z0-9._:=-]{1,%d}",
                    SRV_SUBJECT_MAX);
        return;
    }
    char tag[17];
    srv_subject_tag(r->srv->st, r->p.org, subject, tag);
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
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    json_t *cur = json_array(), *hist = json_array();
    sqlite3_bind_text(s, 1, r->p.org, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, subject, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *x = json_pack("{s:s,s:s,s:o}", "purpose", sqlite3_column_text(s, 0), "state",
                              sqlite3_column_text(s, 1), "opted_in_at",
                              srv_json_time(sqlite3_column_int64(s, 2)));
        if (sqlite3_column_type(s, 3) != SQLITE_NULL)
            json_object_set_new(x, "withdrawn_at", srv_json_time(sqlite3_column_int64(s, 3)));
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
        srv_problem(r, 400, "%s", e.msg);
        return;
    }
    json_decref(o);
    char tag[17];
    srv_subject_tag(r->srv->st, r->p.org, subject, tag);
    snprintf(r->resource, sizeof r->resource, "org/%s/subject/#%s", r->p.org, tag);
    long files = 0, rows = 0;
    if (remove_subject(r, subject, NULL, &files, &rows, &e) != BL_OK) {
        srv_problem(r, 500, "erasure incomplete: %s", e.msg);
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
    r->checkpoint = 1; /* erased rows leave the WAL too */
    snprintf(r->reason, sizeof r->reason,
             "GDPR erasure of subject #%s: %ld consent record(s), %ld encoding file(s) rewritten, "
             "%ld result row(s) removed",
             tag, consents, files, rows);
    srv_reply(r, 200, json_pack("{s:s,s:I,s:I,s:I}", "subject_tag", tag, "consent_records_removed",
                                (json_int_t)consents, "encoding_files_updated", (json_int_t)files,
                                "result_rows_removed", (json_int_t)rows));
}
