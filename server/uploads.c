/* server/uploads.c - encodings uploads: a JSON body or a streamed binary CLK
 * file (spooled to disk by the front end). Only subjects who opted in to the
 * project's purpose are stored, the rest are counted and dropped; a data
 * owner can read its upload's summary and withdraw the whole upload. Raw
 * encodings are never returned by any endpoint. A stored upload signals
 * the run workers through the work queue (srv_work_signal). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blindlink/clk.h>
#include "srv.h"

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
        srv_problem(r, 409, "organisation %s already uploaded encodings to project %s (one upload per "
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
        srv_problem(r, 409, "organisation %s already uploaded encodings to project %s (one upload per "
                    "party)",
                    r->p.org_name, pj->id);
    else
        store_upload_locked(r, pj, set);
    pthread_mutex_unlock(&r->srv->enc_mu);
    if (r->status == 201)
        srv_work_signal(&r->srv->work);
}

static void store_upload_locked(srv_req *r, const srv_project *pj, bl_clkset *set)
{
    srv_ctx *c = r->srv;
    bl_error e = {0};
    if (!set->ids) {
        srv_problem(r, 400, "the upload carries no record ids: each encoding needs its pseudonymous "
                    "subject key as id");
        return;
    }
    sqlite3_stmt *s = srv_prep(r->db, "SELECT nbits FROM uploads WHERE project_id=? LIMIT 1", &e);
    if (s) {
        sqlite3_bind_text(s, 1, pj->id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW && (uint32_t)sqlite3_column_int(s, 0) != set->nbits) {
            srv_problem(r, 400, "encodings have %u bits but the other parties of project %s uploaded %d-bit "
                        "encodings",
                        set->nbits, pj->id, sqlite3_column_int(s, 0));
            sqlite3_finalize(s);
            return;
        }
        sqlite3_finalize(s);
    }
    for (size_t i = 0; i < set->count; i++)
        if (!srv_subject_valid(set->ids[i])) {
            /* the owner sees the id (made valid UTF-8), the log only its position */
            char shown[41];
            snprintf(shown, sizeof shown, "%s", set->ids[i]);
            srv_text_cut(shown, 40);
            srv_problem(r, 400,
                        "record %zu: id '%s' is not a subject key ([A-Za-z0-9._:=-]{1,%d})",
                        i + 1, shown, SRV_SUBJECT_MAX);
            snprintf(r->reason, sizeof r->reason,
                     "record %zu: id is not a subject key (id withheld from the log)", i + 1);
            return;
        }
    size_t dup_first = 0, dup_at = 0;
    int dup = find_duplicate(set, &dup_first, &dup_at);
    if (dup < 0) {
        srv_problem(r, 500, "out of memory checking subject keys");
        return;
    }
    if (dup) {
        /* the owner gets the key back; the audit log gets only its tag */
        const char *key = set->ids[dup_at];
        srv_problem(r, 400, "duplicate subject key '%s': records %zu and %zu of the upload carry it (each "
                    "subject may appear once per upload); nothing stored",
                    key, dup_first + 1, dup_at + 1);
        json_object_set_new(r->json, "duplicate",
                            json_pack("{s:s,s:[I,I]}", "subject", key, "records",
                                      (json_int_t)(dup_first + 1), (json_int_t)(dup_at + 1)));
        char tag[17];
        srv_subject_tag(r->srv->st, r->p.org, key, tag);
        snprintf(r->reason, sizeof r->reason,
                 "duplicate subject key (tag %s) at records %zu and %zu; nothing stored", tag,
                 dup_first + 1, dup_at + 1);
        return;
    }
    char dir[4096], final[4096], path[4200];
    srv_enc_path(c->st, pj->id, NULL, dir, sizeof dir);
    mkdir(dir, 0700);
    srv_enc_path(c->st, pj->id, r->p.org, final, sizeof final);
    /* written under the pending name, renamed only once the row commits */
    srv_file_pending_path(final, path, sizeof path);
    srv_consent_set cs;
    if (srv_consent_set_load(r->db, r->p.org, pj->purpose, &cs, &e) != BL_OK) {
        srv_problem(r, 500, "%s", e.msg);
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
        srv_problem(r, 500, "cannot store encodings: %s", e.msg);
        return;
    }
    if (stored == 0) {
        bl_clkwriter_abort(w);
        srv_problem(r, 403, "none of the %zu records has consent for purpose '%s'; nothing stored "
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
    if (ok)
        ok = srv_file_after_commit(r->srv, r, SRV_FOP_RENAME, final, &e) == BL_OK;
    if (!ok) {
        unlink(path);
        srv_problem(r, 409, "cannot record the upload: %s",
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

/* Filling a set from a streamed JSON upload, one element at a time. */
typedef struct json_sink {
    bl_clkset *set;
    size_t max_records;
    uint8_t buf[BL_CLK_MAX_BITS / 8 + 4];
    int status; /* HTTP status of the problem, if any */
} json_sink;

static bl_status sink_element(void *ctx, size_t i, const char *subject, const char *b64,
                              bl_error *err)
{
    json_sink *k = ctx;
    size_t len = 0;
    if (i >= k->max_records) {
        k->status = 413;
        return bl_error_set(err, BL_ELIMIT, "more than %zu encodings in one upload",
                            k->max_records);
    }
    if (bl_base64_decode(b64, strlen(b64), k->buf, BL_CLK_MAX_BITS / 8, &len) != BL_OK || len == 0)
        return bl_error_set(err, BL_EINPUT, "encodings[%zu].clk is not valid base64", i);
    if (!k->set) {
        if (bl_clkset_new((uint32_t)len * 8, 1024, &k->set, err) != BL_OK)
            return BL_EINPUT;
    } else if (len != k->set->nbytes) {
        return bl_error_set(err, BL_EINPUT,
                            "encodings[%zu].clk has %zu bytes; the first encoding has %u", i, len,
                            (unsigned)k->set->nbytes);
    }
    if (bl_clkset_append(k->set, k->buf, subject, err) != BL_OK) {
        bl_error_prefix(err, "encodings[%zu]: ", i);
        return BL_EINPUT;
    }
    return BL_OK;
}

/* A JSON upload spooled to disk, read through a read-only mapping. */
static bl_clkset *json_spool_to_set(srv_req *r)
{
    json_sink *k = calloc(1, sizeof *k);
    if (!k) {
        srv_problem(r, 500, "out of memory");
        return NULL;
    }
    k->status = 400;
    k->max_records = r->srv->opts.max_records;
    bl_error e = {0};
    size_t n = 0;
    json_t *fp = NULL;
    void *map = r->spooled ? mmap(NULL, r->spooled, PROT_READ, MAP_PRIVATE, r->spool_fd, 0) : NULL;
    bl_status rc;
    if (map == MAP_FAILED)
        rc = bl_error_set(&e, BL_EIO, "cannot read the spooled upload");
    else
        rc = srv_parse_encodings_stream(map ? (const char *)map : "", map ? r->spooled : 0,
                                        sink_element, k, &n, &fp, &e);
    if (map && map != MAP_FAILED)
        munmap(map, r->spooled);
    bl_clkset *set = k->set;
    if (rc == BL_OK && set) /* the schema the encodings claim (checked in srv_h_upload) */
        rc = srv_schema_fingerprint_parse(fp, set, &e);
    json_decref(fp);
    if (rc != BL_OK) {
        srv_problem(r, rc == BL_EIO ? 500 : k->status, "%s", e.msg);
        bl_clkset_free(set);
        set = NULL;
    }
    free(k);
    return set;
}

void srv_upload_prepare(srv_req *r)
{
    bl_error e = {0};
    bl_clkset *set = NULL;
    if (r->upload_mode == 1) {
        set = json_spool_to_set(r);
    } else if (r->spooled == 0) {
        srv_problem(r, 400, "empty upload");
    } else {
        bl_status rc = bl_clkset_read(r->spool_path, BL_CLK_BIN, r->srv->opts.max_records, &set, &e);
        if (rc != BL_OK) {
            /* do not echo the spool path: name the upload instead */
            const char *m = strstr(e.msg, r->spool_path);
            srv_problem(r, rc == BL_ELIMIT ? 413 : 400,
                        "upload is not a valid blindlink binary CLK file: %s",
                        m ? m + strlen(r->spool_path) + (m[strlen(r->spool_path)] == ':' ? 2 : 0)
                          : e.msg);
        }
    }
    if (r->spool_fd >= 0)
        close(r->spool_fd);
    r->spool_fd = -1;
    if (r->spool_path[0])
        unlink(r->spool_path);
    r->spool_path[0] = '\0';
    r->upload_set = set;
}

void srv_h_upload(srv_req *r, const char *pid)
{
    srv_project pj;
    /* re-check after the body arrived: state may have changed meanwhile */
    if (!srv_upload_precheck(r, pid))
        return;
    srv_project_load(r->db, pid, &pj, NULL);
    if (!r->upload_set) {
        srv_problem(r, 500, "upload not prepared");
        return;
    }
    if (srv_schema_upload_ok(r, &pj, r->upload_set)) /* made with the agreed schema (minimise.c) */
        store_upload(r, &pj, r->upload_set);
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
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, r->p.org, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        srv_problem(r, 404, "organisation %s has not uploaded to project %s",
                    r->p.org_name, pid);
        return;
    }
    json_t *o = json_pack("{s:I,s:I,s:I,s:i,s:s,s:o,s:s}", "received",
                          (json_int_t)sqlite3_column_int64(s, 0), "stored",
                          (json_int_t)sqlite3_column_int64(s, 1), "excluded_without_consent",
                          (json_int_t)sqlite3_column_int64(s, 2), "nbits",
                          sqlite3_column_int(s, 3), "sha256", sqlite3_column_text(s, 4),
                          "created", srv_json_time(sqlite3_column_int64(s, 5)), "note",
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
        ok = srv_file_after_commit(r->srv, r, SRV_FOP_UNLINK, path, &e) == BL_OK;
    if (ok)
        ok = srv_commit(r->db, &e) == BL_OK;
    else
        srv_rollback(r->db);
    pthread_mutex_unlock(&r->srv->enc_mu);
    if (!ok) {
        srv_problem(r, 500, "cannot delete the upload: %s",
                    e.msg[0] ? e.msg : sqlite3_errmsg(r->db));
        return;
    }
    if (!had && rows == 0) {
        srv_problem(r, 404, "organisation %s has not uploaded to project %s",
                    r->p.org_name, pid);
        return;
    }
    snprintf(r->reason, sizeof r->reason,
             "data owner withdrew its encodings; %ld result row(s) removed", rows);
    srv_reply(r, 200, json_pack("{s:b,s:I}", "encodings_deleted", had, "result_rows_removed",
                                (json_int_t)rows));
}
