/* server/runs.c - linkage runs: creation by the analyst, an in-process worker
 * pool that executes queued runs once every party has uploaded (stage 1:
 * load the checksummed encodings and keep only subjects still consenting;
 * stage 2: candidate pairs via bl_match_candidates under the project's cap;
 * stage 3: solve and store groups, re-checking consent), recovery of runs
 * interrupted by a crash, status with stages/progress/times, and results
 * shaped by role: owners see only their own rows, the analyst sees groups
 * only when the agreement allows, scores only when allowed, never encodings.
 * The analyst can cancel a queued or running run; a running one stops at the
 * next stage boundary (the worker checks a flag) and stores nothing. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <blindlink/clk.h>
#include <blindlink/match.h>
#include "srv.h"
#include "srv_mpi.h"

struct srv_active {
    char rid[SRV_ID_HEX + 1];
    int stage;
    uint64_t done, total; /* stage-2 comparisons, updated atomically */
    int cancel;           /* set (atomically) when the analyst cancels this run */
};

static int cancel_requested(struct srv_active *a)
{
    return __atomic_load_n(&a->cancel, __ATOMIC_RELAXED);
}

static const char *const stage_desc[] = {"", "waiting for and loading consented encodings",
                                         "computing similarity scores",
                                         "solving matches and storing results"};

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    struct srv_active *a = ctx;
    __atomic_store_n(&a->total, total, __ATOMIC_RELAXED);
    uint64_t old = __atomic_load_n(&a->done, __ATOMIC_RELAXED);
    while (done > old &&
           !__atomic_compare_exchange_n(&a->done, &old, done, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* Update a run unless it was cancelled (a cancelled run is final); returns
 * the number of rows changed, -1 on a store error. */
static int run_update(sqlite3 *db, const char *rid, const char *sql_set, const char *text,
                      int64_t a, int64_t b, int64_t cc)
{
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE runs SET %s WHERE id=?5 AND state<>'cancelled'", sql_set);
    sqlite3_stmt *s = srv_prep(db, sql, NULL);
    if (!s)
        return -1;
    if (text)
        sqlite3_bind_text(s, 1, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, a);
    sqlite3_bind_int64(s, 3, b);
    sqlite3_bind_int64(s, 4, cc);
    sqlite3_bind_text(s, 5, rid, -1, SQLITE_TRANSIENT);
    int changed = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(db) : -1;
    sqlite3_finalize(s);
    return changed;
}

static void run_fail(srv_ctx *c, sqlite3 *db, const char *rid, const char *purpose,
                     const char *msg)
{
    run_update(db, rid, "state='failed', message=?1, time_completed=?2", msg, bl_srv_now(), 0, 0);
    char res[64];
    snprintf(res, sizeof res, "run/%s", rid);
    srv_audit_system(c, "run.failed", res, purpose, 0, msg);
}

typedef struct party_data {
    char org[SRV_ID_HEX + 1];
    bl_clkset *set;  /* consented records only */
    uint32_t *rows;  /* row of the party's original upload for each record of `set` */
    size_t excluded;
} party_data;

static int stall_requested(srv_ctx *c, struct srv_active *slot)
{
    const char *s = getenv("BLINDLINK_FAULT_RUN_STALL_MS");
    long ms = s ? strtol(s, NULL, 10) : 0;
    while (ms > 0 && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED) && !cancel_requested(slot)) {
        usleep(50000);
        ms -= 50;
    }
    return __atomic_load_n(&c->stop, __ATOMIC_RELAXED);
}

/* One run in progress: what the stages hand on to each other. */
typedef struct run_job {
    srv_ctx *c;
    struct srv_active *slot;
    sqlite3 *db;
    const char *rid;
    char pid[SRV_ID_HEX + 1];
    double threshold;
    srv_project pj;
    char res[128];        /* audit resource */
    int n;                /* data owners */
    party_data *pd;       /* one per owner, k of them loaded */
    int k;
    sqlite3_stmt *q;      /* SRV_CONSENT_SQL, for the final consent check */
    json_t *rec;          /* the run's "records" summary */
    char msg[600];        /* failure, empty while all is well */
    int cancelled_at;     /* stage at which a cancellation was noticed */
    double t_stage[4];
    bl_candidate *cand;
    size_t ncand;
    uint64_t comparisons;
    size_t ngroups;
} run_job;

/* Read the run and its project. 0 if the run failed already (recorded). */
static int job_open(run_job *j)
{
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(j->db, "SELECT project_id, threshold FROM runs WHERE id=?", &e);
    if (s) {
        sqlite3_bind_text(s, 1, j->rid, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW) {
            snprintf(j->pid, sizeof j->pid, "%s", sqlite3_column_text(s, 0));
            j->threshold = sqlite3_column_double(s, 1);
        }
        sqlite3_finalize(s);
    }
    if (!j->pid[0] || srv_project_load(j->db, j->pid, &j->pj, &e) != BL_OK) {
        run_fail(j->c, j->db, j->rid, "-", "project vanished");
        return 0;
    }
    if (j->threshold < j->pj.threshold)
        j->threshold = j->pj.threshold; /* never below the agreed floor (queued before it held) */
    if (strcmp(j->pj.state, "active")) {
        run_fail(j->c, j->db, j->rid, j->pj.purpose, "the project was purged");
        return 0;
    }
    snprintf(j->res, sizeof j->res, "project/%s/run/%s", j->pid, j->rid);
    srv_audit_system(j->c, "run.start", j->res, j->pj.purpose, 1, "run started");
    j->n = j->pj.nowners;
    j->pd = calloc((size_t)j->n, sizeof *j->pd);
    if (!j->pd) {
        run_fail(j->c, j->db, j->rid, j->pj.purpose, "out of memory");
        return 0;
    }
    return 1;
}

/* Stage 1 for one party: verify the file's checksum, load it, keep the
 * records whose subject still consents. Sets j->msg on failure; returns 1
 * if the party counts as loaded (its summary goes into the run's records). */
static int load_party(run_job *j, party_data *p, const char *want)
{
    srv_ctx *c = j->c;
    int k = (int)(p - j->pd);
    bl_error e = {0};
    char path[4096], got[65];
    srv_enc_path(c->st, j->pid, p->org, path, sizeof path);
    bl_clkset *raw = NULL;
    pthread_mutex_lock(&c->enc_mu);
    bl_status rc = srv_file_sha256(path, got, &e);
    if (rc == BL_OK && strcmp(got, want))
        snprintf(j->msg, sizeof j->msg,
                 "stored encodings of party %d failed checksum verification (expected %.16s..., "
                 "found %.16s...)",
                 k, want, got);
    else if (rc == BL_OK)
        rc = bl_clkset_read(path, BL_CLK_BIN, 0, &raw, &e);
    pthread_mutex_unlock(&c->enc_mu);
    if (!j->msg[0] && rc != BL_OK)
        snprintf(j->msg, sizeof j->msg, "cannot load encodings of party %d: %s", k, e.msg);
    if (j->msg[0])
        return 0;
    if (!raw->ids) {
        snprintf(j->msg, sizeof j->msg, "stored encodings of party %d lack subject keys", k);
        bl_clkset_free(raw);
        return 0;
    }
    if (bl_clkset_new(raw->nbits, raw->count, &p->set, &e) != BL_OK ||
        !(p->rows = malloc((raw->count + 1) * sizeof *p->rows))) {
        snprintf(j->msg, sizeof j->msg, "out of memory loading party %d", k);
        bl_clkset_free(raw);
        return 0;
    }
    srv_consent_set cs;
    if (srv_consent_set_load(j->db, p->org, j->pj.purpose, &cs, &e) != BL_OK) {
        snprintf(j->msg, sizeof j->msg, "cannot load consent of party %d: %s", k, e.msg);
        bl_clkset_free(raw);
        return 0;
    }
    for (size_t i = 0; i < raw->count && !j->msg[0]; i++) {
        uint64_t row;
        const char *subject = srv_stored_subject(raw->ids[i], &row);
        if (!srv_consent_set_has(&cs, subject)) {
            p->excluded++;
            continue;
        }
        p->rows[p->set->count] = (uint32_t)row;
        if (bl_clkset_append(p->set, bl_clkset_get(raw, i), subject, &e) != BL_OK)
            snprintf(j->msg, sizeof j->msg, "party %d: %s", k, e.msg);
    }
    srv_consent_set_free(&cs);
    bl_clkset_free(raw);
    if (!j->msg[0] && p->set->count == 0)
        snprintf(j->msg, sizeof j->msg,
                 "party %d has no record whose subject consents to purpose %s", k, j->pj.purpose);
    return 1;
}

/* Stage 1: load, verify checksums, keep consenting subjects. */
static void stage_load(run_job *j)
{
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(j->db,
                               "SELECT g.org_id, u.sha256 FROM grants g JOIN uploads u ON "
                               "u.project_id=g.project_id AND u.org_id=g.org_id WHERE "
                               "g.project_id=? AND g.party_role='owner' ORDER BY g.party_index",
                               &e);
    j->q = srv_prep(j->db, SRV_CONSENT_SQL, &e);
    if (!s || !j->q)
        snprintf(j->msg, sizeof j->msg, "store error: %s", e.msg);
    if (s)
        sqlite3_bind_text(s, 1, j->pid, -1, SQLITE_TRANSIENT);
    while (!j->msg[0] && sqlite3_step(s) == SQLITE_ROW && j->k < j->n) {
        party_data *p = &j->pd[j->k];
        snprintf(p->org, sizeof p->org, "%s", sqlite3_column_text(s, 0));
        if (!load_party(j, p, (const char *)sqlite3_column_text(s, 1)))
            break;
        j->k++;
    }
    sqlite3_finalize(s);
    if (!j->msg[0] && j->k != j->n)
        snprintf(j->msg, sizeof j->msg, "only %d of %d parties have uploaded encodings", j->k,
                 j->n);
    j->rec = json_pack("{s:[],s:[]}", "used", "excluded_without_consent");
    for (int i = 0; i < j->k && j->pd[i].set; i++) {
        json_array_append_new(json_object_get(j->rec, "used"),
                              json_integer((json_int_t)j->pd[i].set->count));
        json_array_append_new(json_object_get(j->rec, "excluded_without_consent"),
                              json_integer((json_int_t)j->pd[i].excluded));
    }
    char *rectxt = json_dumps(j->rec, JSON_COMPACT);
    run_update(j->db, j->rid, "records=?1", rectxt, 0, 0, 0);
    free(rectxt);
}

/* --mpi-launch: a cancel or a service stop kills the launcher */
static int mpi_stop(void *ctx)
{
    run_job *j = ctx;
    return __atomic_load_n(&j->c->stop, __ATOMIC_RELAXED) || cancel_requested(j->slot);
}

/* Stage 2 through blindlink-mpi (server/mpirun.c); frees sets. */
static int stage_candidates_mpi(run_job *j, const bl_clkset **sets, const bl_match_opts *mo)
{
    int r = srv_mpi_candidates(&j->c->opts, j->rid, sets, (size_t)j->n, mo, j->comparisons,
                               mpi_stop, j, &j->cand, &j->ncand, j->msg, sizeof j->msg);
    free(sets);
    if (r == SRV_MPI_STOPPED && __atomic_load_n(&j->c->stop, __ATOMIC_RELAXED))
        return 0; /* stays 'running', resumes at the next start */
    if (r == SRV_MPI_STOPPED)
        j->cancelled_at = 2;
    __atomic_store_n(&j->slot->done, j->comparisons, __ATOMIC_RELAXED);
    return 1;
}

/* Stage 2: candidate pairs under the project's cap. 0 if the service is
 * shutting down (the run stays 'running' and resumes on restart). */
static int stage_candidates(run_job *j)
{
    srv_ctx *c = j->c;
    if (!j->msg[0] && cancel_requested(j->slot))
        j->cancelled_at = 1;
    if (!j->msg[0] && !j->cancelled_at) {
        __atomic_store_n(&j->slot->stage, 2, __ATOMIC_RELAXED);
        run_update(j->db, j->rid, "stage=2", NULL, 0, 0, 0);
        if (stall_requested(c, j->slot))
            return 0;
        if (cancel_requested(j->slot))
            j->cancelled_at = 2;
    }
    if (j->msg[0] || j->cancelled_at)
        return 1;
    int n = j->n;
    const bl_clkset **sets = malloc((size_t)n * sizeof *sets);
    for (int i = 0; sets && i < n; i++) {
        sets[i] = j->pd[i].set;
        for (int b = i + 1; b < n; b++)
            j->comparisons += (uint64_t)j->pd[i].set->count * j->pd[b].set->count;
    }
    bl_match_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.threshold = j->threshold;
    mo.top_k = (uint32_t)j->pj.top_k;
    mo.threads = c->opts.match_threads;
    if (c->opts.max_candidates && (int64_t)c->opts.max_candidates < j->pj.max_candidates)
        j->pj.max_candidates = (int64_t)c->opts.max_candidates;
    mo.max_candidates = (size_t)j->pj.max_candidates;
    mo.progress = progress_cb;
    mo.progress_ctx = j->slot;
    __atomic_store_n(&j->slot->total, j->comparisons, __ATOMIC_RELAXED);
    bl_error e = {0};
    if (sets && srv_mpi_wanted(&c->opts, j->comparisons))
        return stage_candidates_mpi(j, sets, &mo); /* server/mpirun.c */
    bl_status rc = sets ? bl_match_candidates(sets, (size_t)n, &mo, &j->cand, &j->ncand, &e)
                        : BL_ENOMEM;
    free(sets);
    if (rc == BL_ELIMIT)
        snprintf(j->msg, sizeof j->msg,
                 "candidate cap exceeded: more than %lld candidate pairs at threshold %.3f "
                 "(%.300s); raise the threshold or set top_k",
                 (long long)j->pj.max_candidates, j->threshold, e.msg);
    else if (rc != BL_OK)
        snprintf(j->msg, sizeof j->msg, "matching failed: %s",
                 e.msg[0] ? e.msg : bl_strerror(rc));
    __atomic_store_n(&j->slot->done, j->comparisons, __ATOMIC_RELAXED);
    return 1;
}

/* Store one solved group: only members whose subject still consents, and
 * only if at least two remain; the score is the mean pairwise Dice. */
static void store_group(run_job *j, const bl_groups *gr, size_t gi, sqlite3_stmt *ins)
{
    uint32_t keep_d[SRV_MAX_PARTIES * 4], keep_r[SRV_MAX_PARTIES * 4];
    const uint32_t *ds, *rs;
    size_t sz = bl_groups_get(gr, gi, &ds, &rs);
    size_t m = 0;
    for (size_t i = 0; i < sz && m < SRV_MAX_PARTIES * 4; i++) {
        party_data *p = &j->pd[ds[i]];
        if (srv_consent_has(j->q, p->org, p->set->ids[rs[i]], j->pj.purpose)) {
            keep_d[m] = ds[i];
            keep_r[m] = rs[i];
            m++;
        }
    }
    if (m < 2)
        return;
    double sum = 0;
    size_t pairs = 0;
    for (size_t a = 0; a < m; a++)
        for (size_t b = a + 1; b < m; b++, pairs++)
            sum += bl_dice(bl_clkset_get(j->pd[keep_d[a]].set, keep_r[a]),
                           bl_clkset_get(j->pd[keep_d[b]].set, keep_r[b]),
                           j->pd[keep_d[a]].set->nbytes);
    double score = pairs ? sum / (double)pairs : 0;
    for (size_t i = 0; i < m; i++) {
        party_data *p = &j->pd[keep_d[i]];
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, j->rid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, (sqlite3_int64)j->ngroups);
        sqlite3_bind_int(ins, 3, (int)keep_d[i]);
        sqlite3_bind_int64(ins, 4, p->rows[keep_r[i]]);
        sqlite3_bind_text(ins, 5, p->set->ids[keep_r[i]], -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(ins, 6, score);
        if (sqlite3_step(ins) != SQLITE_DONE && !j->msg[0])
            snprintf(j->msg, sizeof j->msg, "store: %s", sqlite3_errmsg(j->db));
    }
    j->ngroups++;
}

/* Stage 3 inside its transaction: replace the run's results and mark it
 * completed, unless a cancellation committed first. Commits or rolls back. */
static void store_results(run_job *j, const bl_groups *gr)
{
    bl_error e = {0};
    sqlite3 *db = j->db;
    sqlite3_stmt *ins = srv_prep(db,
                                 "INSERT INTO results(run_id,grp,party,row,subject,score) "
                                 "VALUES(?,?,?,?,?,?)",
                                 &e);
    sqlite3_stmt *del = srv_prep(db, "DELETE FROM results WHERE run_id=?", &e);
    if (del) { /* a resumed run starts its results afresh */
        sqlite3_bind_text(del, 1, j->rid, -1, SQLITE_TRANSIENT);
        sqlite3_step(del);
        sqlite3_finalize(del);
    }
    size_t G = bl_groups_count(gr);
    for (size_t gi = 0; ins && gi < G; gi++)
        store_group(j, gr, gi, ins);
    sqlite3_finalize(ins);
    if (!ins && !j->msg[0])
        snprintf(j->msg, sizeof j->msg, "store: %s", e.msg);
    /* last check: a cancellation that committed before this transaction
     * leaves no 'running' row to complete */
    int done = -2;
    if (!j->msg[0] && !cancel_requested(j->slot)) {
        done = run_update(db, j->rid,
                          "state='completed', stage=3, time_completed=?2, groups_found=?3", NULL,
                          bl_srv_now(), (int64_t)j->ngroups, 0);
        if (done < 0)
            snprintf(j->msg, sizeof j->msg, "store: %s", sqlite3_errmsg(db));
    }
    if (!j->msg[0] && done != 1) {
        j->cancelled_at = 3;
        srv_rollback(db);
    } else if (!j->msg[0]) {
        if (srv_commit(db, &e) != BL_OK)
            snprintf(j->msg, sizeof j->msg, "store: %s", e.msg);
    } else {
        srv_rollback(db);
    }
}

/* Stage 3: solve, store with a final consent check. */
static void stage_solve(run_job *j)
{
    if (!j->msg[0] && !j->cancelled_at && cancel_requested(j->slot))
        j->cancelled_at = 2;
    if (j->msg[0] || j->cancelled_at)
        return;
    __atomic_store_n(&j->slot->stage, 3, __ATOMIC_RELAXED);
    run_update(j->db, j->rid, "stage=3, comparisons=?2, candidates=?3", NULL,
               (int64_t)j->comparisons, (int64_t)j->ncand, 0);
    bl_groups *gr = NULL;
    bl_error e = {0};
    bl_status rc = !strcmp(j->pj.mode, "probabilistic")
                       ? bl_match_solve_probabilistic(j->cand, j->ncand, j->pj.merge_threshold, 0,
                                                      &gr, &e)
                       : bl_match_solve_greedy(j->cand, j->ncand, &gr, &e);
    if (rc != BL_OK)
        snprintf(j->msg, sizeof j->msg, "solver failed: %s", e.msg);
    else if (srv_begin(j->db, &e) != BL_OK)
        snprintf(j->msg, sizeof j->msg, "store: %s", e.msg);
    else
        store_results(j, gr);
    bl_groups_free(gr);
}

/* Record the stage times and the outcome (cancelled, failed, completed). */
static void job_finish(run_job *j)
{
    /* per-stage wall times, for users and for the benchmark */
    json_t *secs = json_array();
    for (int i = 1; i < 4; i++)
        json_array_append_new(secs, json_real(j->t_stage[i] > 0 && j->t_stage[i - 1] > 0
                                                  ? j->t_stage[i] - j->t_stage[i - 1]
                                                  : 0.0));
    json_object_set_new(j->rec, "stage_seconds", secs);
    char *rectxt = json_dumps(j->rec, JSON_COMPACT);
    run_update(j->db, j->rid, "records=?1", rectxt, 0, 0, 0);
    free(rectxt);
    if (j->msg[0] && !j->cancelled_at && cancel_requested(j->slot))
        j->cancelled_at = __atomic_load_n(&j->slot->stage, __ATOMIC_RELAXED);
    char why[160];
    if (j->cancelled_at) {
        snprintf(why, sizeof why,
                 "run stopped during stage %d after the analyst cancelled it; no result stored",
                 j->cancelled_at);
        srv_audit_system(j->c, "run.cancelled", j->res, j->pj.purpose, 1, why);
    } else if (j->msg[0]) {
        run_fail(j->c, j->db, j->rid, j->pj.purpose, j->msg);
    } else {
        snprintf(why, sizeof why, "run completed: %zu candidate pairs, %zu groups", j->ncand,
                 j->ngroups);
        srv_audit_system(j->c, "run.complete", j->res, j->pj.purpose, 1, why);
    }
}

static void job_free(run_job *j)
{
    json_decref(j->rec);
    sqlite3_finalize(j->q);
    free(j->cand);
    for (int i = 0; j->pd && i < j->n; i++) {
        bl_clkset_free(j->pd[i].set);
        free(j->pd[i].rows);
    }
    free(j->pd);
}

static void execute_run(srv_ctx *c, struct srv_active *slot, sqlite3 *db, const char *rid)
{
    run_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.slot = slot;
    j.db = db;
    j.rid = rid;
    j.threshold = 0.8;
    if (!job_open(&j)) {
        job_free(&j);
        return;
    }
    j.t_stage[0] = srv_mono_s();
    stage_load(&j);
    j.t_stage[1] = srv_mono_s();
    if (stage_candidates(&j)) {
        j.t_stage[2] = srv_mono_s();
        stage_solve(&j);
        j.t_stage[3] = srv_mono_s();
        job_finish(&j);
    }
    job_free(&j);
}

/* 1: claimed rid; 0: nothing claimable (or the store is busy); -1: the
 * oldest claimable run went to another worker first. */
static int claim_run(sqlite3 *db, char rid[SRV_ID_HEX + 1])
{
    sqlite3_stmt *s = srv_prep(
        db,
        "SELECT r.id FROM runs r JOIN projects p ON p.id=r.project_id WHERE r.state='queued' AND "
        "p.state='active' AND (SELECT COUNT(*) FROM uploads u WHERE u.project_id=r.project_id) = "
        "(SELECT COUNT(*) FROM grants g WHERE g.project_id=r.project_id AND g.party_role='owner') "
        "ORDER BY r.time_added LIMIT 1",
        NULL);
    if (!s)
        return 0;
    int got = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(rid, SRV_ID_HEX + 1, "%s", sqlite3_column_text(s, 0));
        got = 1;
    }
    sqlite3_finalize(s);
    if (!got)
        return 0;
    s = srv_prep(db,
                 "UPDATE runs SET state='running', stage=1, time_started=?, attempts=attempts+1 "
                 "WHERE id=? AND state='queued'",
                 NULL);
    if (!s)
        return 0;
    sqlite3_bind_int64(s, 1, bl_srv_now());
    sqlite3_bind_text(s, 2, rid, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    got = rc == SQLITE_DONE && sqlite3_changes(db) == 1;
    sqlite3_finalize(s);
    return got ? 1 : rc == SQLITE_DONE ? -1 : 0;
}

struct worker_arg {
    srv_ctx *c;
    int slot;
};

static void *worker_main(void *argp)
{
    struct worker_arg *wa = argp;
    srv_ctx *c = wa->c;
    struct srv_active *slot = &c->active[wa->slot];
    free(wa);
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        uint64_t seen = srv_work_gen(&c->work); /* before the claim: no lost wake-up */
        sqlite3 *db = srv_db_acquire(c->st);
        char rid[SRV_ID_HEX + 1];
        /* Claim without wk_mu: the claim may wait for SQLite's write lock,
         * and a request holding that lock takes wk_mu (run_json), so holding
         * wk_mu here would stall both until the busy timeout. The guarded
         * UPDATE makes two claimers safe; a cancellation that lands before
         * the slot is filled is caught by store_results' state check. */
        int got = claim_run(db, rid);
        if (got < 0) { /* another worker won this run: look again at once */
            srv_db_release(c->st, db);
            continue;
        }
        if (got) {
            pthread_mutex_lock(&c->wk_mu);
            snprintf(slot->rid, sizeof slot->rid, "%s", rid);
            __atomic_store_n(&slot->stage, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&slot->cancel, 0, __ATOMIC_RELAXED);
            slot->done = slot->total = 0;
            pthread_mutex_unlock(&c->wk_mu);
        }
        if (got) {
            execute_run(c, slot, db, rid);
            pthread_mutex_lock(&c->wk_mu);
            slot->rid[0] = '\0';
            pthread_mutex_unlock(&c->wk_mu);
            srv_db_release(c->st, db);
            continue;
        }
        srv_db_release(c->st, db);
        if (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED))
            srv_work_wait(&c->work, seen, 1000);
    }
    return NULL;
}

bl_status srv_workers_start(srv_ctx *c, bl_error *err)
{
    if (srv_mpi_check(&c->opts, err)) /* --mpi-launch (server/mpirun.c) */
        return BL_EINPUT;
    int n = c->opts.run_workers;
    c->workers = calloc((size_t)n, sizeof *c->workers);
    c->active = calloc((size_t)n, sizeof *c->active);
    if (!c->workers || !c->active)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (!wa)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        wa->c = c;
        wa->slot = i;
        if (pthread_create(&c->workers[i], NULL, worker_main, wa) != 0) {
            free(wa);
            return bl_error_set(err, BL_EINTERNAL, "cannot start run worker");
        }
        c->nworkers++;
    }
    return BL_OK;
}

void srv_workers_stop(srv_ctx *c)
{
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
    srv_work_signal(&c->work);
    for (int i = 0; i < c->nworkers; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        if (pthread_timedjoin_np(c->workers[i], NULL, &ts) != 0) {
            /* a long match cannot be interrupted: leave it 'running' so the
             * next start resumes it, and exit without touching the store */
            srv_audit_system(c, "service.stop", "-", "-", 1,
                             "stopped during a run; it resumes at the next start");
            fprintf(stderr, "blindlink serve: a run is still computing; it resumes at next start\n");
            _exit(0);
        }
    }
    free(c->workers);
    free(c->active);
    c->workers = NULL;
    c->active = NULL;
    c->nworkers = 0;
}

bl_status srv_runs_recover(srv_ctx *c, bl_error *err)
{
    sqlite3 *db = srv_db_acquire(c->st);
    sqlite3_stmt *s = srv_prep(db, "SELECT id, attempts, stage FROM runs WHERE state='running'", err);
    if (!s) {
        srv_db_release(c->st, db);
        return BL_EIO;
    }
    struct {
        char id[SRV_ID_HEX + 1];
        int attempts, stage;
    } list[256];
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW && n < 256) {
        snprintf(list[n].id, sizeof list[n].id, "%s", sqlite3_column_text(s, 0));
        list[n].attempts = sqlite3_column_int(s, 1);
        list[n].stage = sqlite3_column_int(s, 2);
        n++;
    }
    sqlite3_finalize(s);
    for (int i = 0; i < n; i++) {
        char msg[200], res[80];
        snprintf(res, sizeof res, "run/%.40s", list[i].id);
        if (list[i].attempts >= 3) {
            snprintf(msg, sizeof msg,
                     "interrupted %d times by service restarts (last in stage %d); giving up",
                     list[i].attempts, list[i].stage);
            run_update(db, list[i].id, "state='failed', message=?1, time_completed=?2", msg,
                       bl_srv_now(), 0, 0);
            srv_audit_system(c, "run.failed", res, "-", 0, msg);
        } else {
            snprintf(msg, sizeof msg,
                     "resumed: the service stopped during stage %d (attempt %d); restarted from "
                     "the stored encodings",
                     list[i].stage, list[i].attempts);
            run_update(db, list[i].id, "state='queued', stage=1, message=?1", msg, 0, 0, 0);
            srv_audit_system(c, "run.resume", res, "-", 1, msg);
        }
    }
    srv_db_release(c->st, db);
    return BL_OK;
}

/* ---- HTTP handlers ------------------------------------------------------------------------ */

static json_t *run_json(srv_ctx *c, sqlite3 *db, const char *pid, const char *rid, int *found)
{
    *found = 0;
    int cached;
    sqlite3_stmt *s = srv_prep_hot(db,
                                   "SELECT id, name, threshold, state, stage, message, time_added, "
                                   "time_started, time_completed, comparisons, candidates, "
                                   "groups_found, records, attempts FROM runs WHERE id=? AND "
                                   "project_id=?",
                                   &cached, NULL);
    if (!s)
        return NULL;
    sqlite3_bind_text(s, 1, rid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, pid, -1, SQLITE_TRANSIENT);
    json_t *o = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *found = 1;
        const char *state = (const char *)sqlite3_column_text(s, 3);
        int stage = sqlite3_column_int(s, 4);
        if (stage < 1 || stage > 3)
            stage = 1;
        uint64_t done = 0, total = 0;
        int live = 0;
        pthread_mutex_lock(&c->wk_mu);
        for (int i = 0; i < c->nworkers; i++)
            if (!strcmp(c->active[i].rid, rid)) {
                live = 1;
                stage = __atomic_load_n(&c->active[i].stage, __ATOMIC_RELAXED);
                done = __atomic_load_n(&c->active[i].done, __ATOMIC_RELAXED);
                total = __atomic_load_n(&c->active[i].total, __ATOMIC_RELAXED);
            }
        pthread_mutex_unlock(&c->wk_mu);
        if (!strcmp(state, "completed")) {
            done = total = (uint64_t)sqlite3_column_int64(s, 9);
        }
        if (stage == 1 && !live && (!strcmp(state, "queued") || !strcmp(state, "running"))) {
            /* stage 1 counts the parties that have uploaded, as in the anchor */
            sqlite3_stmt *u = srv_prep(db,
                                       "SELECT (SELECT COUNT(*) FROM uploads WHERE project_id=?1), "
                                       "(SELECT COUNT(*) FROM grants WHERE project_id=?1 AND "
                                       "party_role='owner')",
                                       NULL);
            if (u) {
                sqlite3_bind_text(u, 1, pid, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(u) == SQLITE_ROW) {
                    done = (uint64_t)sqlite3_column_int64(u, 0);
                    total = (uint64_t)sqlite3_column_int64(u, 1);
                }
                sqlite3_finalize(u);
            }
        }
        double rel = total ? (double)done / (double)total : (!strcmp(state, "completed") ? 1.0 : 0.0);
        const char *pdesc = stage == 1 ? "parties that uploaded" : "comparisons done";
        o = json_pack("{s:s,s:s,s:f,s:s,s:i,s:{s:i,s:s,s:{s:I,s:f,s:s}}}", "run_id",
                      sqlite3_column_text(s, 0), "name", sqlite3_column_text(s, 1), "threshold",
                      sqlite3_column_double(s, 2), "state", state, "stages", 3, "current_stage",
                      "number", stage, "description", stage_desc[stage], "progress", "absolute",
                      (json_int_t)done, "relative", rel, "description", pdesc);
        static const char *const tcols[] = {"time_added", "time_started", "time_completed"};
        for (int i = 0; i < 3; i++) {
            if (sqlite3_column_type(s, 6 + i) == SQLITE_NULL)
                continue;
            char buf[32];
            srv_time_fmt(sqlite3_column_int64(s, 6 + i), buf, sizeof buf);
            json_object_set_new(o, tcols[i], json_string(buf));
        }
        if (sqlite3_column_type(s, 5) != SQLITE_NULL)
            json_object_set_new(o, "message", json_string((const char *)sqlite3_column_text(s, 5)));
        if (sqlite3_column_type(s, 9) != SQLITE_NULL)
            json_object_set_new(o, "total_number_of_comparisons",
                                json_integer(sqlite3_column_int64(s, 9)));
        if (sqlite3_column_type(s, 10) != SQLITE_NULL)
            json_object_set_new(o, "candidates", json_integer(sqlite3_column_int64(s, 10)));
        if (sqlite3_column_type(s, 11) != SQLITE_NULL)
            json_object_set_new(o, "groups", json_integer(sqlite3_column_int64(s, 11)));
        if (sqlite3_column_type(s, 12) != SQLITE_NULL) {
            json_t *rec = json_loads((const char *)sqlite3_column_text(s, 12), 0, NULL);
            if (rec)
                json_object_set_new(o, "records", rec);
        }
        json_object_set_new(o, "attempts", json_integer(sqlite3_column_int(s, 13)));
    }
    srv_hot_done(s, cached);
    return o;
}

void srv_h_runs_create(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_ANALYST | SRV_ACC_NEED_READY, &pj, &g))
        return;
    char name[201] = "run";
    double threshold = -1;
    bl_error e = {0};
    if (r->len) {
        json_t *o = srv_json_parse(r->body, r->len, &e);
        if (!o || srv_parse_run(o, name, &threshold, &e) != BL_OK) {
            json_decref(o);
            srv_problem(r, 400, "%s", e.msg);
            return;
        }
        json_decref(o);
    }
    /* the project's threshold is part of what the parties agreed to: a run
     * may be stricter, never looser (issue 10, finding 9) */
    if (threshold < 0)
        threshold = pj.threshold;
    if (threshold < pj.threshold) {
        srv_problem(r, 403, "run threshold %.3f is below the threshold %.3f fixed by the project's "
                    "agreement; a run may only be stricter",
                    threshold, pj.threshold);
        return;
    }
    char rid[SRV_ID_HEX + 1];
    srv_random_hex(rid, SRV_ID_HEX / 2);
    sqlite3_stmt *s = srv_prep(r->db,
                               "INSERT INTO runs(id,project_id,name,threshold,state,time_added) "
                               "VALUES(?,?,?,?,'queued',?)",
                               &e);
    if (!s) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    sqlite3_bind_text(s, 1, rid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, pid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 4, threshold);
    sqlite3_bind_int64(s, 5, bl_srv_now());
    int ok = sqlite3_step(s) == SQLITE_DONE;
    sqlite3_finalize(s);
    if (!ok) {
        srv_problem(r, 500, "cannot create run: %s", sqlite3_errmsg(r->db));
        return;
    }
    snprintf(r->resource, sizeof r->resource, "project/%s/run/%s", pid, rid);
    snprintf(r->reason, sizeof r->reason, "run queued at threshold %.3f", threshold);
    srv_work_signal(&r->srv->work);
    int found;
    srv_reply(r, 201, run_json(r->srv, r->db, pid, rid, &found));
}

void srv_h_runs_list(srv_req *r, const char *pid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_ANY, &pj, &g))
        return;
    sqlite3_stmt *s = srv_prep(r->db,
                               "SELECT id, name, state, time_added FROM runs WHERE project_id=? "
                               "ORDER BY time_added",
                               NULL);
    json_t *arr = json_array();
    if (s) {
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o}", "run_id",
                                                 sqlite3_column_text(s, 0), "name",
                                                 sqlite3_column_text(s, 1), "state",
                                                 sqlite3_column_text(s, 2), "time_added",
                                                 srv_json_time(sqlite3_column_int64(s, 3))));
        sqlite3_finalize(s);
    }
    srv_reply(r, 200, json_pack("{s:o}", "runs", arr));
}

/* Access check plus lookup shared by the run endpoints: on success returns
 * the run's JSON (caller owns it) with *pj and *g filled; otherwise the
 * problem response has been sent and NULL is returned. */
static json_t *run_lookup(srv_req *r, const char *pid, const char *rid, srv_project *pj,
                          srv_grant *g)
{
    if (!srv_project_access(r, pid, SRV_ACC_ANY, pj, g))
        return NULL;
    snprintf(r->resource, sizeof r->resource, "project/%.40s/run/%.40s", pid, rid);
    int found = 0;
    json_t *o = run_json(r->srv, r->db, pid, rid, &found);
    if (!found) {
        json_decref(o);
        srv_problem(r, 404, "no run %.40s in project %s", rid, pid);
        return NULL;
    }
    return o;
}

void srv_h_run_status(srv_req *r, const char *pid, const char *rid)
{
    srv_project pj;
    srv_grant g;
    json_t *o = run_lookup(r, pid, rid, &pj, &g);
    if (o)
        srv_reply(r, 200, o);
}

void srv_h_run_result(srv_req *r, const char *pid, const char *rid)
{
    srv_project pj;
    srv_grant g;
    json_t *st = run_lookup(r, pid, rid, &pj, &g);
    if (!st)
        return;
    const char *state = json_string_value(json_object_get(st, "state"));
    if (strcmp(state, "completed")) {
        srv_problem(r, 409, "run %s is %s; results exist only for completed runs", rid,
                    state);
        json_decref(st);
        return;
    }
    json_decref(st);
    int owner = !strcmp(g.party_role, "owner");
    if (!owner && strcmp(pj.result_type, "groups")) {
        srv_problem(r, 403, "the agreement for project %s (result_type owner_rows) does not let the analyst "
                    "see matched groups; only counts are available in the run status",
                    pid);
        return;
    }
    sqlite3_stmt *s;
    json_t *out;
    if (owner) {
        s = srv_prep(r->db,
                     "SELECT grp, row, subject, score FROM results WHERE run_id=? AND party=? "
                     "ORDER BY row",
                     NULL);
        json_t *arr = json_array();
        if (s) {
            sqlite3_bind_text(s, 1, rid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(s, 2, g.party_index);
            while (sqlite3_step(s) == SQLITE_ROW) {
                /* no group number: owners comparing notes must not learn the
                 * linkage from the result itself */
                json_t *m = json_pack("{s:I,s:s}", "row", (json_int_t)sqlite3_column_int64(s, 1),
                                      "subject", sqlite3_column_text(s, 2));
                if (pj.reveal_scores)
                    json_object_set_new(m, "score", json_real(sqlite3_column_double(s, 3)));
                json_array_append_new(arr, m);
            }
            sqlite3_finalize(s);
        }
        snprintf(r->reason, sizeof r->reason, "data owner received its own %zu matched rows",
                 json_array_size(arr));
        out = json_pack("{s:s,s:i,s:o}", "view", "data_owner", "party_index", g.party_index,
                        "matches", arr);
    } else {
        s = srv_prep(r->db,
                     "SELECT grp, party, row, score FROM results WHERE run_id=? ORDER BY grp, party, "
                     "row",
                     NULL);
        json_t *groups = json_array(), *scores = json_array(), *cur = NULL;
        long long last = -1;
        if (s) {
            sqlite3_bind_text(s, 1, rid, -1, SQLITE_TRANSIENT);
            while (sqlite3_step(s) == SQLITE_ROW) {
                long long grp = sqlite3_column_int64(s, 0);
                if (grp != last) {
                    cur = json_array();
                    json_array_append_new(groups, cur);
                    json_array_append_new(scores, json_real(sqlite3_column_double(s, 3)));
                    last = grp;
                }
                json_array_append_new(cur, json_pack("[i,I]", sqlite3_column_int(s, 1),
                                                     (json_int_t)sqlite3_column_int64(s, 2)));
            }
            sqlite3_finalize(s);
        }
        snprintf(r->reason, sizeof r->reason, "analyst received %zu groups%s",
                 json_array_size(groups), pj.reveal_scores ? " with scores" : "");
        out = json_pack("{s:s,s:o}", "view", "analyst", "groups", groups);
        if (pj.reveal_scores)
            json_object_set_new(out, "scores", scores);
        else
            json_decref(scores);
    }
    srv_reply(r, 200, out);
}

/* DELETE /projects/{pid}/runs/{rid}: the analyst cancels a queued or running
 * run. The store row turns 'cancelled' at once (so the run is never claimed
 * or completed afterwards); a worker running it sees the flag at the next
 * stage boundary, discards its work and logs where it stopped. */
void srv_h_run_cancel(srv_req *r, const char *pid, const char *rid)
{
    srv_project pj;
    srv_grant g;
    if (!srv_project_access(r, pid, SRV_ACC_ANALYST, &pj, &g))
        return;
    snprintf(r->resource, sizeof r->resource, "project/%.40s/run/%.40s", pid, rid);
    bl_error e = {0};
    char was[16] = "";
    sqlite3_stmt *s = srv_prep(r->db, "SELECT state FROM runs WHERE id=? AND project_id=?", &e);
    if (!s) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    sqlite3_bind_text(s, 1, rid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, pid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(was, sizeof was, "%s", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (!was[0]) {
        srv_problem(r, 404, "no run %.40s in project %s", rid, pid);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "cancelled by organisation %s", r->p.org_name);
    s = srv_prep(r->db,
                 "UPDATE runs SET state='cancelled', message=?, time_completed=? WHERE id=? AND "
                 "project_id=? AND state IN ('queued','running')",
                 &e);
    if (!s) {
        srv_problem(r, 500, "%s", e.msg);
        return;
    }
    sqlite3_bind_text(s, 1, msg, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, bl_srv_now());
    sqlite3_bind_text(s, 3, rid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, pid, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    int changed = rc == SQLITE_DONE ? sqlite3_changes(r->db) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        srv_problem(r, 500, "cannot cancel run: %s",
                    sqlite3_errmsg(r->db));
        return;
    }
    if (!changed) {
        /* re-read: the run may have finished between the two statements */
        int found = 0;
        json_t *st = run_json(r->srv, r->db, pid, rid, &found);
        const char *now = st ? json_string_value(json_object_get(st, "state")) : NULL;
        srv_problem(r, 409, "run %s is %s; only queued or running runs can be cancelled", rid,
                    now ? now : was);
        json_decref(st);
        return;
    }
    /* a worker that already claimed the run holds it in its slot (filled
     * under wk_mu just after 'queued' -> 'running'); one that claimed it but
     * has not filled the slot yet sees 'cancelled' when it stores results */
    srv_ctx *c = r->srv;
    int live = 0;
    pthread_mutex_lock(&c->wk_mu);
    for (int i = 0; i < c->nworkers; i++)
        if (!strcmp(c->active[i].rid, rid)) {
            __atomic_store_n(&c->active[i].cancel, 1, __ATOMIC_RELAXED);
            live = 1;
        }
    pthread_mutex_unlock(&c->wk_mu);
    snprintf(r->reason, sizeof r->reason, "run cancelled (was %s%s)", was,
             live ? "; the worker stops at the next stage boundary" : "");
    int found;
    srv_reply(r, 200, run_json(c, r->db, pid, rid, &found));
}
