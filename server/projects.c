/* server/projects.c - projects as linkage agreements: creation by an analyst
 * naming the data-owner parties, purpose, scopes, result type and match mode;
 * the access check every project endpoint goes through (party membership,
 * role, 90-day inactivity expiry, retention, readiness: approvals and the
 * signed agreement for extended scopes); agreement registration, approval
 * and re-approval; listing restricted to the caller's projects; purge. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "srv.h"

#define PROJECT_COLS                                                                           \
    "id, name, purpose, extended, result_type, reveal_scores, threshold, mode, "              \
    "merge_threshold, max_candidates, top_k, created, retention_until, state, creator_org, "  \
    "agreement_ref, agreement_sha256, agreement_at"

static void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

bl_status srv_project_load(sqlite3 *db, const char *pid, srv_project *pj, bl_error *err)
{
    memset(pj, 0, sizeof *pj);
    int cached;
    sqlite3_stmt *s = srv_prep_hot(db, "SELECT " PROJECT_COLS " FROM projects WHERE id=?",
                                   &cached, err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
    bl_status rc = BL_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        col_text(s, 0, pj->id, sizeof pj->id);
        col_text(s, 1, pj->name, sizeof pj->name);
        col_text(s, 2, pj->purpose, sizeof pj->purpose);
        pj->extended = sqlite3_column_int(s, 3);
        col_text(s, 4, pj->result_type, sizeof pj->result_type);
        pj->reveal_scores = sqlite3_column_int(s, 5);
        pj->threshold = sqlite3_column_double(s, 6);
        col_text(s, 7, pj->mode, sizeof pj->mode);
        pj->merge_threshold = sqlite3_column_double(s, 8);
        pj->max_candidates = sqlite3_column_int64(s, 9);
        pj->top_k = sqlite3_column_int(s, 10);
        pj->created = sqlite3_column_int64(s, 11);
        pj->retention_until = sqlite3_column_int64(s, 12);
        col_text(s, 13, pj->state, sizeof pj->state);
        col_text(s, 14, pj->creator, sizeof pj->creator);
        col_text(s, 15, pj->agreement_ref, sizeof pj->agreement_ref);
        col_text(s, 16, pj->agreement_sha, sizeof pj->agreement_sha);
        pj->agreement_at = sqlite3_column_int64(s, 17);
    } else {
        rc = bl_error_set(err, BL_ENOTFOUND, "no project %.40s", pid);
    }
    srv_hot_done(s, cached);
    if (rc == BL_OK) {
        s = srv_prep_hot(db,
                         "SELECT COUNT(*), IFNULL(SUM(state='invited'),0), "
                         "IFNULL(SUM(state='declined'),0), (SELECT COUNT(*) FROM void_invitations "
                         "WHERE project_id=?1), (SELECT IFNULL(schema_fingerprint,'') FROM "
                         "projects WHERE id=?1) FROM grants WHERE project_id=?1 AND "
                         "party_role='owner'",
                         &cached, err);
        if (!s)
            return BL_EIO;
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW) {
            pj->nowners = sqlite3_column_int(s, 0);
            pj->ninvited = sqlite3_column_int(s, 1) + sqlite3_column_int(s, 3);
            pj->ndeclined = sqlite3_column_int(s, 2);
            col_text(s, 4, pj->schema_fp, sizeof pj->schema_fp);
        }
        srv_hot_done(s, cached);
    }
    return rc;
}

const char *srv_project_shown_state(const srv_project *pj)
{
    if (strcmp(pj->state, "active"))
        return pj->state;
    if (pj->ndeclined)
        return "declined";
    return pj->ninvited ? "awaiting_acceptance" : "active";
}

static int grant_load(sqlite3 *db, const char *pid, const char *org, srv_grant *g)
{
    memset(g, 0, sizeof *g);
    int cached;
    sqlite3_stmt *s = srv_prep_hot(db,
                                   "SELECT party_role, party_index, state, approved_at, last_used, "
                                   "expired_at, approved_sha256 FROM grants WHERE project_id=? AND "
                                   "org_id=?",
                                   &cached, NULL);
    if (!s)
        return 0;
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, org, -1, SQLITE_TRANSIENT);
    int found = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        found = 1;
        col_text(s, 0, g->party_role, sizeof g->party_role);
        g->party_index = sqlite3_column_int(s, 1);
        col_text(s, 2, g->state, sizeof g->state);
        g->approved_at = sqlite3_column_int64(s, 3);
        g->last_used = sqlite3_column_int64(s, 4);
        g->expired_at = sqlite3_column_int64(s, 5);
        col_text(s, 6, g->approved_sha, sizeof g->approved_sha);
    }
    srv_hot_done(s, cached);
    return found;
}

static void grant_set(sqlite3 *db, const char *pid, const char *org, const char *sql_set,
                      int64_t t)
{
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE grants SET %s WHERE project_id=? AND org_id=?", sql_set);
    sqlite3_stmt *s = srv_prep(db, sql, NULL);
    if (!s)
        return;
    sqlite3_bind_int64(s, 1, t);
    sqlite3_bind_text(s, 2, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, org, -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_finalize(s);
}

bl_status srv_project_purge(srv_ctx *c, sqlite3 *db, srv_req *r, const char *pid,
                            const char *why, bl_error *err)
{
    if (srv_begin(db, err) != BL_OK)
        return BL_EIO;
    static const char *const sqls[] = {
        "DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE project_id=?1)",
        "DELETE FROM runs WHERE project_id=?1", "DELETE FROM uploads WHERE project_id=?1",
        "UPDATE projects SET state='purged' WHERE id=?1", NULL};
    for (int i = 0; sqls[i]; i++) {
        sqlite3_stmt *s = srv_prep(db, sqls[i], err);
        if (!s) {
            srv_rollback(db);
            return BL_EIO;
        }
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) {
            srv_rollback(db);
            return bl_error_set(err, BL_EIO, "purge: %s", sqlite3_errmsg(db));
        }
    }
    if (srv_commit(db, err) != BL_OK)
        return BL_EIO;
    /* inside a request the files go once its transaction commits */
    srv_file_after_commit(c, r, SRV_FOP_RMPROJECT, pid, err);
    char res[64];
    snprintf(res, sizeof res, "project/%s", pid);
    srv_audit_system(c, "project.purge", res, "-", 1, why);
    return BL_OK;
}

int srv_retention_sweep(srv_ctx *c)
{
    sqlite3 *db = srv_db_acquire(c->st);
    sqlite3_stmt *s = srv_prep(db,
                               "SELECT id FROM projects WHERE state='active' AND retention_until<=?",
                               NULL);
    char (*ids)[SRV_ID_HEX + 1] = NULL;
    size_t n = 0, cap = 0;
    if (s) {
        sqlite3_bind_int64(s, 1, bl_srv_now());
        while (sqlite3_step(s) == SQLITE_ROW && n < 1000) {
            if (bli_grow((void **)&ids, &cap, n + 1, sizeof *ids, 16) != 0)
                break;
            col_text(s, 0, ids[n], sizeof ids[n]);
            n++;
        }
        sqlite3_finalize(s);
    }
    /* grants unused for 90 days expire by themselves, accessed or not */
    s = srv_prep(db,
                 "SELECT g.project_id, g.org_id FROM grants g JOIN projects p ON "
                 "p.id=g.project_id WHERE p.state='active' AND g.state='active' AND "
                 "g.last_used < ?",
                 NULL);
    if (s) {
        int64_t now = bl_srv_now();
        sqlite3_bind_int64(s, 1, now - SRV_INACTIVITY_LIMIT);
        char (*ex)[2][SRV_ID_HEX + 1] = NULL;
        size_t nex = 0, excap = 0;
        while (sqlite3_step(s) == SQLITE_ROW && nex < 10000) {
            if (bli_grow((void **)&ex, &excap, nex + 1, sizeof *ex, 16) != 0)
                break;
            col_text(s, 0, ex[nex][0], sizeof ex[nex][0]);
            col_text(s, 1, ex[nex][1], sizeof ex[nex][1]);
            nex++;
        }
        sqlite3_finalize(s);
        for (size_t i = 0; i < nex; i++) {
            grant_set(db, ex[i][0], ex[i][1], "state='expired', expired_at=?", now);
            char res[96];
            snprintf(res, sizeof res, "project/%s/org/%s", ex[i][0], ex[i][1]);
            srv_audit_system(c, "grant.expire", res, "-", 0,
                             "access expired: unused for more than 90 days");
        }
        free(ex);
    }
    int purged = 0;
    for (size_t i = 0; i < n; i++) {
        bl_error e = {0};
        if (srv_project_purge(c, db, NULL, ids[i], "retention period ended", &e) == BL_OK)
            purged++;
    }
    free(ids);
    srv_db_release(c->st, db);
    return purged;
}

static int not_visible(srv_req *r, const char *pid, const char *why)
{
    srv_problem(r, 404, "no project %.40s is visible to organisation %s", pid,
                r->p.org_name);
    /* the audit reason says why, the caller learns nothing more */
    snprintf(r->reason, sizeof r->reason, "%s", why);
    return 0;
}

int srv_project_access(srv_req *r, const char *pid, int need, srv_project *pj, srv_grant *g)
{
    bl_error e = {0};
    snprintf(r->resource, sizeof r->resource, "project/%.40s", pid);
    if (strlen(pid) != SRV_ID_HEX)
        return not_visible(r, pid, "malformed project id");
    if (srv_project_load(r->db, pid, pj, &e) != BL_OK) {
        if (e.status == BL_ENOTFOUND)
            return not_visible(r, pid, "no such project");
        srv_problem(r, 500, "%s", e.msg);
        return 0;
    }
    if (!grant_load(r->db, pid, r->p.org, g))
        return not_visible(r, pid, "organisation is not a party to this project");
    if (!strcmp(g->state, "declined"))
        return not_visible(r, pid, "organisation declined the invitation to this project");
    snprintf(r->purpose, sizeof r->purpose, "%s", pj->purpose);
    int64_t now = bl_srv_now();
    if (!strcmp(pj->state, "active") && now >= pj->retention_until) {
        srv_project_purge(r->srv, r->db, r, pid, "retention period ended", &e);
        snprintf(pj->state, sizeof pj->state, "purged");
    }
    if (strcmp(pj->state, "active") != 0) {
        srv_problem(r, 410, "project %s passed its retention date and its data was purged",
                    pid);
        return 0;
    }
    int role = need & 0x0f;
    int is_owner = !strcmp(g->party_role, "owner");
    if ((is_owner && strcmp(r->p.role, "data_owner")) || (!is_owner && strcmp(r->p.role, "analyst"))) {
        srv_problem(r, 403, "organisation %s is the %s in this project; a %s key cannot act for it",
                    r->p.org_name, is_owner ? "data owner" : "analyst", r->p.role);
        return 0;
    }
    if (role == SRV_ACC_OWNER && !is_owner) {
        srv_problem(r, 403, "only a data owner of this project may do this");
        return 0;
    }
    if (role == SRV_ACC_ANALYST && is_owner) {
        srv_problem(r, 403, "only the project's linkage analyst may do this");
        return 0;
    }
    if (!strcmp(g->state, "invited") && !(need & SRV_ACC_INVITEE)) {
        srv_problem(r, 403, "organisation %s has not accepted the invitation to project %s: read it "
                    "(GET /api/v1/projects/%s), then POST /api/v1/projects/%s/accept or /decline",
                    r->p.org_name, pid, pid, pid);
        return 0;
    }
    if (!(need & SRV_ACC_NO_EXPIRY)) {
        if (!strcmp(g->state, "active") && now - g->last_used > SRV_INACTIVITY_LIMIT) {
            grant_set(r->db, pid, r->p.org, "state='expired', expired_at=?", now);
            snprintf(g->state, sizeof g->state, "expired");
            g->expired_at = now;
        }
        if (!strcmp(g->state, "expired")) {
            char when[32];
            srv_time_fmt(g->last_used, when, sizeof when);
            srv_problem(r, 403, "access of organisation %s to project %s expired: unused for more than 90 "
                        "days (last use %s); the data owners must re-approve",
                        r->p.org_name, pid, when);
            return 0;
        }
    }
    if (need & SRV_ACC_NEED_READY) {
        if (!strcmp(g->state, "pending")) {
            srv_problem(r, 403, "project %s requests extended scopes: approve it first (POST "
                        "/api/v1/projects/%s/approve with the agreement's document_sha256)",
                        pid, pid);
            return 0;
        }
        if (pj->extended && !pj->agreement_sha[0]) {
            srv_problem(r, 403, "project %s requests scopes beyond name, email and profile_photo: no "
                        "signed agreement is registered, so no upload or run is allowed",
                        pid);
            return 0;
        }
        if (!pj->schema_fp[0]) {
            char why[400];
            srv_problem(r, 403, "%s", srv_no_schema_msg(pj, why, sizeof why));
            return 0;
        }
        /* an open invitation names the party as the analyst wrote it, so an
         * unknown name and a silent organisation read alike */
        if (pj->ninvited || pj->ndeclined) {
            srv_problem(r, 403, "project %s is not ready: a data owner %s (%d open)", pid,
                        pj->ndeclined ? "declined its invitation"
                                      : "has not accepted its invitation yet",
                        pj->ndeclined ? pj->ndeclined : pj->ninvited);
            return 0;
        }
        sqlite3_stmt *s = srv_prep(r->db,
                                   "SELECT o.name, g.state, IFNULL(g.approved_sha256,'') FROM "
                                   "grants g JOIN orgs o ON o.id=g.org_id WHERE g.project_id=? "
                                   "AND g.party_role='owner' ORDER BY g.party_index",
                                   &e);
        if (!s) {
            srv_problem(r, 500, "%s", e.msg);
            return 0;
        }
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        char blocker[300] = "";
        while (sqlite3_step(s) == SQLITE_ROW && !blocker[0]) {
            const char *oname = (const char *)sqlite3_column_text(s, 0);
            const char *st = (const char *)sqlite3_column_text(s, 1);
            const char *sha = (const char *)sqlite3_column_text(s, 2);
            if (strcmp(st, "active"))
                snprintf(blocker, sizeof blocker, "data owner %.128s has not approved (grant %s)",
                         oname, st);
            else if (pj->extended && strcmp(sha, pj->agreement_sha))
                snprintf(blocker, sizeof blocker,
                         "data owner %.128s has not approved the registered agreement", oname);
        }
        sqlite3_finalize(s);
        if (blocker[0]) {
            srv_problem(r, 403, "project %s is not ready: %s", pid, blocker);
            return 0;
        }
    }
    if (!strcmp(g->state, "active") && now - g->last_used > 60)
        grant_set(r->db, pid, r->p.org, "last_used=?", now);
    return 1;
}

/* One owner that has not (yet) joined: shown as the analyst named it, with
 * no organisation id, so an unknown name and a silent organisation read
 * alike. */
static json_t *invitee_json(const unsigned char *ref, int index, const char *state)
{
    return json_pack("{s:s,s:s,s:i,s:s}", "invited_as", ref ? (const char *)ref : "", "role",
                     "owner", "party_index", index, "grant", state);
}

/* The parties of a project in party order (owners by index, then the
 * analyst); fills `uploads` with the owners' upload summaries. */
static json_t *parties_json(sqlite3 *db, const char *pid, json_t *uploads)
{
    json_t *slot[SRV_MAX_PARTIES + 1] = {0}; /* last: the analyst */
    sqlite3_stmt *s = srv_prep(db,
                               "SELECT g.org_id, o.name, g.party_role, g.party_index, g.state, "
                               "g.approved_at, g.last_used, u.stored, u.excluded, u.nbits, "
                               "g.invited_as FROM "
                               "grants g JOIN orgs o ON o.id=g.org_id LEFT JOIN uploads u ON "
                               "u.project_id=g.project_id AND u.org_id=g.org_id WHERE "
                               "g.project_id=? ORDER BY g.party_role DESC, g.party_index",
                               NULL);
    if (s) {
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *gst = (const char *)sqlite3_column_text(s, 4);
            int owner = !strcmp((const char *)sqlite3_column_text(s, 2), "owner");
            int idx = sqlite3_column_int(s, 3);
            int at = owner ? idx : SRV_MAX_PARTIES;
            if (at < 0 || at > SRV_MAX_PARTIES || slot[at])
                continue;
            if (owner && (!strcmp(gst, "invited") || !strcmp(gst, "declined"))) {
                slot[at] = invitee_json(sqlite3_column_text(s, 10), idx, gst);
                continue;
            }
            json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:o}", "org", sqlite3_column_text(s, 0), "name",
                                  sqlite3_column_text(s, 1), "role", sqlite3_column_text(s, 2),
                                  "grant", gst, "last_used",
                                  srv_json_time(sqlite3_column_int64(s, 6)));
            if (owner) {
                json_object_set_new(p, "party_index", json_integer(idx));
                json_object_set_new(p, "uploaded",
                                    json_boolean(sqlite3_column_type(s, 7) != SQLITE_NULL));
                if (sqlite3_column_type(s, 7) != SQLITE_NULL)
                    json_array_append_new(
                        uploads, json_pack("{s:i,s:I,s:I,s:i}", "party_index", idx, "stored",
                                           (json_int_t)sqlite3_column_int64(s, 7),
                                           "excluded_without_consent",
                                           (json_int_t)sqlite3_column_int64(s, 8), "nbits",
                                           sqlite3_column_int(s, 9)));
            }
            if (sqlite3_column_type(s, 5) != SQLITE_NULL)
                json_object_set_new(p, "approved_at", srv_json_time(sqlite3_column_int64(s, 5)));
            slot[at] = p;
        }
        sqlite3_finalize(s);
    }
    s = srv_prep(db, "SELECT party_index, ref FROM void_invitations WHERE project_id=?", NULL);
    if (s) {
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW) {
            int idx = sqlite3_column_int(s, 0);
            if (idx >= 0 && idx < SRV_MAX_PARTIES && !slot[idx])
                slot[idx] = invitee_json(sqlite3_column_text(s, 1), idx, "invited");
        }
        sqlite3_finalize(s);
    }
    json_t *parties = json_array();
    for (int i = 0; i <= SRV_MAX_PARTIES; i++)
        if (slot[i])
            json_array_append_new(parties, slot[i]);
    return parties;
}

/* JSON description of a project for one of its parties. */
static json_t *project_json(sqlite3 *db, const srv_project *pj)
{
    json_t *uploads = json_array();
    json_t *parties = parties_json(db, pj->id, uploads);
    json_t *scopes = NULL, *schema = NULL;
    sqlite3_stmt *s = srv_prep(db, "SELECT scopes, schema_features FROM projects WHERE id=?", NULL);
    if (s) {
        sqlite3_bind_text(s, 1, pj->id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW) {
            scopes = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
            if (sqlite3_column_type(s, 1) != SQLITE_NULL)
                schema = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);
        }
        sqlite3_finalize(s);
    }
    /* the registered schema: what every upload must have been encoded with */
    if (schema && pj->schema_fp[0])
        json_object_set_new(schema, "fingerprint", json_string(pj->schema_fp));
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:o,s:b,s:s,s:b,s:f,s:s,s:o,s:o,s:s,s:o,s:o}", "id", pj->id, "name",
        pj->name, "purpose", pj->purpose, "scopes", scopes ? scopes : json_array(),
        "extended_scopes", pj->extended, "result_type", pj->result_type, "reveal_scores",
        pj->reveal_scores, "threshold", pj->threshold, "mode", pj->mode, "created",
        srv_json_time(pj->created), "retention_until", srv_json_time(pj->retention_until), "state",
        srv_project_shown_state(pj), "parties", parties, "uploads", uploads);
    if (pj->agreement_sha[0])
        json_object_set_new(o, "agreement",
                            json_pack("{s:s,s:s,s:o}", "contract_ref", pj->agreement_ref,
                                      "document_sha256", pj->agreement_sha, "registered_at",
                                      srv_json_time(pj->agreement_at)));
    else
        json_object_set_new(o, "agreement", json_null());
    if (!strcmp(pj->mode, "probabilistic"))
        json_object_set_new(o, "merge_threshold", json_real(pj->merge_threshold));
    json_object_set_new(o, "schema", schema ? schema : json_null());
    json_object_set_new(o, "minimisation", json_string(schema ? "verified" : "unverified"));
    return o;
}

/* Whether an organisation may be a data party: never the operator, nor an
 * organisation holding an admin or auditor key (they oversee the service). */
static int org_eligible(sqlite3 *db, const char *org)
{
    sqlite3_stmt *s = srv_prep(db,
                               "SELECT (SELECT kind FROM orgs WHERE id=?1)='operator' OR EXISTS("
                               "SELECT 1 FROM keys WHERE org_id=?1 AND role IN ('admin','auditor') "
                               "AND revoked IS NULL)",
                               NULL);
    if (!s)
        return 0;
    sqlite3_bind_text(s, 1, org, -1, SQLITE_TRANSIENT);
    int bad = sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return !bad;
}

/* Resolve the named parties. A name that matches no eligible organisation
 * (unknown, the operator, an auditor, the analyst itself, or one already
 * named by id) gets owners[i] = "" and becomes a void invitation: the
 * analyst sees it exactly like an invitation not yet answered. */
static void resolve_invitees(srv_req *r, const srv_project_req *q,
                             char owners[][SRV_ID_HEX + 1])
{
    for (int i = 0; i < q->nparties; i++) {
        bl_error e = {0};
        owners[i][0] = '\0';
        char id[SRV_ID_HEX + 1];
        if (srv_org_resolve(r->db, q->parties[i], id, &e) != BL_OK || !strcmp(id, r->p.org) ||
            !org_eligible(r->db, id))
            continue;
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= !strcmp(owners[j], id);
        if (!dup)
            memcpy(owners[i], id, sizeof id);
    }
}

/* The analyst's grant (active), one invitation per owner ('invited' grant,
 * or a void invitation). */
static bl_status insert_parties(sqlite3 *db, const char *pid, const char *analyst,
                                const srv_project_req *q, char owners[][SRV_ID_HEX + 1],
                                int64_t now, bl_error *err)
{
    sqlite3_stmt *g = srv_prep(db,
                               "INSERT INTO grants(project_id,org_id,party_role,party_index,state,"
                               "last_used,invited_as) VALUES(?,?,?,?,?,?,?)",
                               err);
    sqlite3_stmt *v = srv_prep(db,
                               "INSERT INTO void_invitations(project_id,party_index,ref) "
                               "VALUES(?,?,?)",
                               err);
    int ok = g && v;
    for (int i = -1; ok && i < q->nparties; i++) {
        sqlite3_stmt *s = i >= 0 && !owners[i][0] ? v : g;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        if (s == v) {
            sqlite3_bind_int(s, 2, i);
            sqlite3_bind_text(s, 3, q->parties[i], -1, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_text(s, 2, i < 0 ? analyst : owners[i], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 3, i < 0 ? "analyst" : "owner", -1, SQLITE_STATIC);
            sqlite3_bind_int(s, 4, i);
            sqlite3_bind_text(s, 5, i < 0 ? "active" : "invited", -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 6, now);
            if (i >= 0)
                sqlite3_bind_text(s, 7, q->parties[i], -1, SQLITE_TRANSIENT);
        }
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    if (!ok && g && v)
        bl_error_set(err, BL_EIO, "cannot record the parties: %s", sqlite3_errmsg(db));
    sqlite3_finalize(g);
    sqlite3_finalize(v);
    return ok ? BL_OK : BL_EIO;
}

void srv_h_projects_create(srv_req *r)
{
    if (strcmp(r->p.role, "analyst")) {
        srv_problem(r, 403, "only a linkage analyst key can create projects");
        return;
    }
    bl_error e = {0};
    json_t *o = srv_json_parse(r->body, r->len, &e);
    srv_project_req *q = calloc(1, sizeof *q);
    if (!o || !q || srv_parse_project(o, q, &e) != BL_OK) {
        json_decref(o);
        free(q);
        srv_problem(r, 400, "%s", e.msg[0] ? e.msg : "out of memory");
        return;
    }
    char schema_fp[65];
    char *schema_rec = NULL;
    if (srv_schema_register(o, q, schema_fp, &schema_rec, &e) != BL_OK) {
        json_decref(o);
        free(q);
        srv_problem(r, 400, "%s", e.msg);
        return;
    }
    json_decref(o);
    snprintf(r->purpose, sizeof r->purpose, "%s", q->purpose);
    /* purpose must be in the controlled list */
    sqlite3_stmt *s = srv_prep(r->db, "SELECT 1 FROM purposes WHERE name=?", &e);
    int known = 0;
    if (s) {
        sqlite3_bind_text(s, 1, q->purpose, -1, SQLITE_TRANSIENT);
        known = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    if (!known) {
        srv_problem(r, 400, "purpose '%s' is not in the controlled list (GET /api/v1/purposes)", q->purpose);
        free(q);
        free(schema_rec);
        return;
    }
    /* only the literal names are compared: telling the analyst that two
     * different names are one organisation would reveal it exists */
    for (int i = 0; i < q->nparties; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(q->parties[i], q->parties[j])) {
                srv_problem(r, 400, "parties[%d] repeats parties[%d]", i, j);
                free(q);
                free(schema_rec);
                return;
            }
    char owners[SRV_MAX_PARTIES][SRV_ID_HEX + 1];
    resolve_invitees(r, q, owners);
    if (q->nparties > 2 && !strcmp(q->result_type, "owner_rows") && q->reveal_scores) {
        srv_problem(r, 400, "scores are only available for 2-party projects");
        free(q);
        free(schema_rec);
        return;
    }
    int extended = 0;
    json_t *scopes = json_array();
    for (int i = 0; i < q->nscopes; i++) {
        if (srv_scope_kind(q->scopes[i]) == 0)
            extended = 1;
        json_array_append_new(scopes, json_string(q->scopes[i]));
    }
    char *scopes_txt = json_dumps(scopes, JSON_COMPACT);
    json_decref(scopes);
    int64_t now = bl_srv_now();
    int64_t cap = (int64_t)(r->srv->opts.max_candidates ? r->srv->opts.max_candidates
                                                        : (size_t)100000000);
    if (q->max_candidates <= 0 || q->max_candidates > cap)
        q->max_candidates = cap;
    char pid[SRV_ID_HEX + 1];
    srv_random_hex(pid, SRV_ID_HEX / 2);
    int ok = srv_begin(r->db, &e) == BL_OK;
    s = ok ? srv_prep(r->db,
                      "INSERT INTO projects(id,name,purpose,scopes,extended,result_type,"
                      "reveal_scores,threshold,mode,merge_threshold,max_candidates,top_k,created,"
                      "retention_until,creator_org,schema_fingerprint,schema_features) "
                      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      &e)
           : NULL;
    if (s) {
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, q->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, q->purpose, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, scopes_txt ? scopes_txt : "[]", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 5, extended);
        sqlite3_bind_text(s, 6, q->result_type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 7, q->reveal_scores);
        sqlite3_bind_double(s, 8, q->threshold);
        sqlite3_bind_text(s, 9, q->mode, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(s, 10, q->merge_threshold);
        sqlite3_bind_int64(s, 11, q->max_candidates);
        sqlite3_bind_int(s, 12, q->top_k);
        sqlite3_bind_int64(s, 13, now);
        sqlite3_bind_int64(s, 14, now + (int64_t)q->retention_days * SRV_DAY);
        sqlite3_bind_text(s, 15, r->p.org, -1, SQLITE_TRANSIENT);
        if (schema_fp[0]) {
            sqlite3_bind_text(s, 16, schema_fp, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 17, schema_rec, -1, SQLITE_TRANSIENT);
        }
        ok = sqlite3_step(s) == SQLITE_DONE;
        sqlite3_finalize(s);
    } else {
        ok = 0;
    }
    free(scopes_txt);
    free(schema_rec);
    if (ok)
        ok = insert_parties(r->db, pid, r->p.org, q, owners, now, &e) == BL_OK;
    if (!ok || srv_commit(r->db, &e) != BL_OK) {
        srv_rollback(r->db);
        srv_problem(r, 500, "cannot create project: %s",
                    e.msg[0] ? e.msg : sqlite3_errmsg(r->db));
        free(q);
        return;
    }
    snprintf(r->resource, sizeof r->resource, "project/%s", pid);
    snprintf(r->reason, sizeof r->reason, "project created; %d data owner(s) invited%s",
             q->nparties,
             extended ? "; extended scopes: approvals and a signed agreement required" : "");
    free(q);
    srv_project pj;
    if (srv_project_load(r->db, pid, &pj, &e) != BL_OK) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    srv_reply(r, 201, project_json(r->db, &pj));
}

void srv_h_projects_list(srv_req *r)
{
    if (strcmp(r->p.role, "analyst") && strcmp(r->p.role, "data_owner")) {
        srv_problem(r, 403, "only data owner and analyst keys take part in projects");
        return;
    }
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(r->db,
                               "SELECT p.id, p.name, p.purpose, CASE WHEN p.state<>'active' "
                               "THEN p.state WHEN EXISTS(SELECT 1 FROM grants d WHERE "
                               "d.project_id=p.id AND d.state='declined') THEN 'declined' WHEN "
                               "EXISTS(SELECT 1 FROM grants i WHERE i.project_id=p.id AND "
                               "i.state='invited') OR EXISTS(SELECT 1 FROM void_invitations v "
                               "WHERE v.project_id=p.id) THEN 'awaiting_acceptance' ELSE "
                               "'active' END, g.party_role, g.state, p.created FROM projects p "
                               "JOIN grants g ON g.project_id=p.id WHERE g.org_id=? AND "
                               "g.state<>'declined' ORDER BY p.created",
                               &e);
    if (!s) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    sqlite3_bind_text(s, 1, r->p.org, -1, SQLITE_TRANSIENT);
    json_t *arr = json_array();
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "id", sqlite3_column_text(s, 0),
                           "name", sqlite3_column_text(s, 1), "purpose", sqlite3_column_text(s, 2),
                           "state", sqlite3_column_text(s, 3), "your_role",
                           sqlite3_column_text(s, 4), "your_grant", sqlite3_column_text(s, 5),
                           "created", srv_json_time(sqlite3_column_int64(s, 6))));
    sqlite3_finalize(s);
    snprintf(r->reason, sizeof r->reason, "listed %zu project(s) of organisation",
             json_array_size(arr));
    srv_reply(r, 200, json_pack("{s:o}", "projects", arr));
}

void srv_h_project_get(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    /* a pending owner may read the agreement it is asked to approve */
    if (!srv_project_access(r, pid, SRV_ACC_ANY | SRV_ACC_INVITEE, &pj, &g))
        return;
    srv_reply(r, 200, project_json(r->db, &pj));
}

void srv_h_project_delete(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_ANALYST, &pj, &g))
        return;
    bl_error e = {0};
    if (srv_project_purge(r->srv, r->db, r, pid, "deleted by the analyst", &e) != BL_OK) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    srv_reply(r, 200, json_pack("{s:s,s:s}", "id", pid, "state", "purged"));
}

void srv_h_agreement(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_ANALYST, &pj, &g))
        return;
    bl_error e = {0};
    json_t *o = srv_json_parse(r->body, r->len, &e);
    char ref[201], sha[65];
    if (!o || srv_parse_agreement(o, ref, sha, &e) != BL_OK) {
        json_decref(o);
        srv_problem(r, 400, "%s", e.msg);
        return;
    }
    json_decref(o);
    int64_t now = bl_srv_now();
    int ok = srv_begin(r->db, &e) == BL_OK;
    sqlite3_stmt *s = ok ? srv_prep(r->db,
                                    "UPDATE projects SET agreement_ref=?, agreement_sha256=?, "
                                    "agreement_at=? WHERE id=?",
                                    &e)
                         : NULL;
    if (s) {
        sqlite3_bind_text(s, 1, ref, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, sha, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 3, now);
        sqlite3_bind_text(s, 4, pid, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(s) == SQLITE_DONE;
        sqlite3_finalize(s);
    } else {
        ok = 0;
    }
    /* a different document voids approvals given for the old one */
    if (ok && pj.extended) {
        s = srv_prep(r->db,
                     "UPDATE grants SET state='pending' WHERE project_id=? AND party_role='owner' "
                     "AND state NOT IN ('invited','declined') AND IFNULL(approved_sha256,'')<>?",
                     &e);
        if (s) {
            sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, sha, -1, SQLITE_TRANSIENT);
            ok = sqlite3_step(s) == SQLITE_DONE;
            sqlite3_finalize(s);
        }
    }
    if (!ok || srv_commit(r->db, &e) != BL_OK) {
        srv_rollback(r->db);
        srv_problem(r, 500, "cannot register agreement");
        return;
    }
    char shown[201];
    snprintf(shown, sizeof shown, "%s", ref);
    srv_text_cut(shown, 100); /* at a character boundary */
    snprintf(r->reason, sizeof r->reason, "agreement '%s' sha256 %.16s... registered", shown, sha);
    srv_project_load(r->db, pid, &pj, &e);
    srv_reply(r, 200, project_json(r->db, &pj));
}

void srv_h_approve(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_OWNER | SRV_ACC_NO_EXPIRY, &pj, &g))
        return;
    bl_error e = {0};
    char sha[65] = "";
    if (r->len) {
        json_t *o = srv_json_parse(r->body, r->len, &e);
        if (!o || srv_parse_approve(o, sha, &e) != BL_OK) {
            json_decref(o);
            srv_problem(r, 400, "%s", e.msg);
            return;
        }
        json_decref(o);
    }
    if (pj.extended) {
        if (!pj.agreement_sha[0]) {
            srv_problem(r, 409, "project %s requests extended scopes and has no registered agreement yet; "
                        "approval needs one",
                        pid);
            return;
        }
        /* the approver proves it holds the signed document: the hash it
         * quotes must match, and a refusal never tells it the right one */
        if (strlen(sha) != 64 || sodium_memcmp(sha, pj.agreement_sha, 64) != 0) {
            srv_problem(r, 403, "the quoted document_sha256 does not match the registered agreement; "
                        "hash the signed document you hold (SHA-256) and quote it");
            return;
        }
    }
    int64_t now = bl_srv_now();
    int ok = srv_begin(r->db, &e) == BL_OK;
    sqlite3_stmt *s = ok ? srv_prep(r->db,
                                    "UPDATE grants SET state='active', approved_at=?1, "
                                    "last_used=?1, expired_at=NULL, approved_sha256=?2 WHERE "
                                    "project_id=?3 AND org_id=?4",
                                    &e)
                         : NULL;
    if (s) {
        sqlite3_bind_int64(s, 1, now);
        if (sha[0])
            sqlite3_bind_text(s, 2, sha, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, 2);
        sqlite3_bind_text(s, 3, pid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, r->p.org, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(s) == SQLITE_DONE;
        sqlite3_finalize(s);
    } else {
        ok = 0;
    }
    /* the analyst's expired access comes back once every owner re-approved */
    if (ok) {
        s = srv_prep(r->db,
                     "UPDATE grants SET state='active', last_used=?1, expired_at=NULL WHERE "
                     "project_id=?2 AND party_role='analyst' AND state='expired' AND NOT EXISTS("
                     "SELECT 1 FROM grants o WHERE o.project_id=?2 AND o.party_role='owner' AND "
                     "(o.state<>'active' OR IFNULL(o.approved_at,0) < grants.expired_at))",
                     &e);
        if (s) {
            sqlite3_bind_int64(s, 1, now);
            sqlite3_bind_text(s, 2, pid, -1, SQLITE_TRANSIENT);
            ok = sqlite3_step(s) == SQLITE_DONE;
            sqlite3_finalize(s);
        }
    }
    int analyst_back = ok ? sqlite3_changes(r->db) > 0 : 0;
    if (!ok || srv_commit(r->db, &e) != BL_OK) {
        srv_rollback(r->db);
        srv_problem(r, 500, "cannot record approval");
        return;
    }
    snprintf(r->reason, sizeof r->reason, "approved by data owner%s%s",
             sha[0] ? " for agreement " : "", analyst_back ? "; analyst access re-activated" : "");
    srv_project_load(r->db, pid, &pj, &e);
    srv_reply(r, 200, project_json(r->db, &pj));
}

void srv_h_invitation(srv_req *r, const char *pid, int accept)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_OWNER | SRV_ACC_INVITEE | SRV_ACC_NO_EXPIRY, &pj, &g))
        return;
    if (strcmp(g.state, "invited")) {
        srv_problem(r, 409, "organisation %s already accepted the invitation to project %s",
                    r->p.org_name, pid);
        return;
    }
    /* eligibility is checked again: the organisation may have been given an
     * admin or auditor key since it was invited */
    if (accept && !org_eligible(r->db, r->p.org)) {
        not_visible(r, pid, "operators and auditors cannot be data parties");
        return;
    }
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(r->db,
                               "UPDATE grants SET state=?1, last_used=?2 WHERE project_id=?3 AND "
                               "org_id=?4 AND state='invited'",
                               &e);
    if (!s) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    /* an extended-scope project still needs the owner's approval of the
     * signed agreement after it joined */
    sqlite3_bind_text(s, 1, !accept ? "declined" : pj.extended ? "pending" : "active", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, bl_srv_now());
    sqlite3_bind_text(s, 3, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, r->p.org, -1, SQLITE_TRANSIENT);
    int ok = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(r->db) == 1;
    sqlite3_finalize(s);
    if (!ok) {
        srv_problem(r, 409, "the invitation to project %s was answered meanwhile", pid);
        return;
    }
    snprintf(r->reason, sizeof r->reason, "invitation %s by data owner%s",
             accept ? "accepted" : "declined",
             accept && pj.extended ? "; approval of the signed agreement still required" : "");
    srv_project_load(r->db, pid, &pj, &e);
    if (accept)
        srv_reply(r, 200, project_json(r->db, &pj));
    else
        srv_reply(r, 200, json_pack("{s:s,s:s}", "id", pid, "your_grant", "declined"));
}
