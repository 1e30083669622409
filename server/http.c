/* server/http.c - the HTTP front of the service on libmicrohttpd: daemon
 * setup (thread pool, timeouts, connection limits), request routing,
 * authentication and per-key rate limiting before any body is read, capped
 * bodies and streamed uploads (spooled to disk), and sending the response
 * a handler left in the request (with its audit entry, see reply.c). The
 * handlers live in admin_api.c, projects.c, consent.c, uploads.c, runs.c. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "srv.h"

enum route {
    R_NONE = 0, R_STATUS, R_VERSION, R_WHOAMI, R_PURPOSES, R_PURPOSES_ADD, R_SCOPES, R_ORGS_LIST,
    R_ORGS_ADD, R_KEYS_ADD, R_KEYS_LIST, R_KEY_REVOKE, R_PROJECTS_LIST, R_PROJECTS_ADD,
    R_PROJECT_GET, R_PROJECT_DEL, R_AGREEMENT, R_APPROVE, R_ACCEPT, R_DECLINE, R_UPLOAD, R_UPLOAD_GET, R_UPLOAD_DEL, R_RUNS_ADD,
    R_RUNS_LIST, R_RUN_STATUS, R_RUN_RESULT, R_RUN_CANCEL, R_CONSENT, R_WITHDRAW, R_CONSENT_GET, R_ERASURE,
    R_AUDIT, R_BAD_METHOD
};

struct srv_bucket {
    char kid[SRV_KID_HEX + 1];
    double tokens;
    double last;
};


/* The request's audit entry, then (for a state-changing request) the commit
 * of the change together with its entries: either both are durable or
 * neither is, and the client is told 503. Unauthenticated refusals beyond
 * the first few per client and interval are only counted (clients.c). The
 * store handle goes back to the pool here, before the response is sent. */
static void finish_request(srv_req *r)
{
    srv_ctx *c = r->srv;
    int logged = 1;
    if (!r->authed && r->status >= 400 && !r->no_audit &&
        !srv_client_refusal(c, r->client, r->status))
        logged = -1; /* counted */
    if (logged == 1 && !srv_audit_request(r))
        logged = 0;
    if (r->tx) {
        bl_error e = {0};
        /* file changes follow the commit (txfiles.c); enc_mu keeps runs
         * from reading a file between the two */
        if (r->nfops)
            pthread_mutex_lock(&c->enc_mu);
        if (logged == 1 && srv_req_commit(r->db, &e) != BL_OK) {
            fprintf(stderr, "blindlink serve: commit failed: %s\n", e.msg);
            logged = 0;
        } else if (logged != 1) {
            srv_req_rollback(r->db);
        }
        if (r->nfops) {
            srv_fileops_finish(r, logged == 1);
            pthread_mutex_unlock(&c->enc_mu);
        }
        srv_audit_join(NULL);
        r->tx = 0;
        if (logged == 1 && r->checkpoint)
            srv_checkpoint(r->db);
    }
    if (r->db) {
        srv_db_release(c->st, r->db);
        r->db = NULL;
    }
    if (logged == 0)
        srv_problem(r, 503, "the audit log cannot be written, so no response is released and "
                            "nothing was changed");
}

static enum MHD_Result send_reply(srv_req *r)
{
    if (!r->status)
        srv_problem(r, 500, "handler produced no response");
    finish_request(r);
    char *text = r->json ? srv_json_text(r->json) : NULL;
    size_t len = text ? strlen(text) : 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text ? text : (char *)"", text ? MHD_RESPMEM_MUST_FREE
                                                                            : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->status == 429) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", r->retry_after ? r->retry_after : 1);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->queued = 1;
    return ret;
}

/* ---- rate limiting ------------------------------------------------------------------------ */

/* Token bucket per key id; 1 if the request may proceed. */
static int rate_allow(srv_ctx *c, const char *kid)
{
    double rate = c->opts.rate_limit, burst = c->opts.rate_burst, now = srv_mono_s();
    int ok = 1;
    pthread_mutex_lock(&c->rl_mu);
    struct srv_bucket *b = NULL;
    for (size_t i = 0; i < c->nbuckets; i++)
        if (!strcmp(c->buckets[i].kid, kid)) {
            b = &c->buckets[i];
            break;
        }
    if (!b) {
        if (c->nbuckets == c->capbuckets &&
            (c->nbuckets >= 65536 ||
             bli_grow((void **)&c->buckets, &c->capbuckets, c->nbuckets + 1, sizeof *c->buckets,
                     64) != 0))
            c->nbuckets = 0; /* cap reached: forget idle buckets */
        b = &c->buckets[c->nbuckets++];
        snprintf(b->kid, sizeof b->kid, "%s", kid);
        b->tokens = burst;
        b->last = now;
    }
    b->tokens += (now - b->last) * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last = now;
    if (b->tokens >= 1.0)
        b->tokens -= 1.0;
    else
        ok = 0;
    pthread_mutex_unlock(&c->rl_mu);
    return ok;
}

/* ---- routing ---------------------------------------------------------------------------------- */

static int seg_is(srv_req *r, int i, const char *s)
{
    return i < r->nseg && !strcmp(r->seg[i], s);
}

static int route_of(srv_req *r)
{
    int n = r->nseg, m = r->method;
    if (n < 2 || strcmp(r->seg[0], "api") || strcmp(r->seg[1], "v1"))
        return R_NONE;
    const char *a = n > 2 ? r->seg[2] : "";
#define M(method, route) return m == (method) ? (route) : R_BAD_METHOD
    if (n == 3 && !strcmp(a, "status")) M(SRV_GET, R_STATUS);
    if (n == 3 && !strcmp(a, "version")) M(SRV_GET, R_VERSION);
    if (n == 3 && !strcmp(a, "whoami")) M(SRV_GET, R_WHOAMI);
    if (n == 3 && !strcmp(a, "scopes")) M(SRV_GET, R_SCOPES);
    if (n == 3 && !strcmp(a, "audit")) M(SRV_GET, R_AUDIT);
    if (n == 3 && !strcmp(a, "erasure")) M(SRV_POST, R_ERASURE);
    if (n == 3 && !strcmp(a, "purposes"))
        return m == SRV_GET ? R_PURPOSES : m == SRV_POST ? R_PURPOSES_ADD : R_BAD_METHOD;
    if (n == 3 && !strcmp(a, "orgs"))
        return m == SRV_GET ? R_ORGS_LIST : m == SRV_POST ? R_ORGS_ADD : R_BAD_METHOD;
    if (n == 5 && !strcmp(a, "orgs") && seg_is(r, 4, "keys")) M(SRV_POST, R_KEYS_ADD);
    if (n == 3 && !strcmp(a, "keys")) M(SRV_GET, R_KEYS_LIST);
    if (n == 4 && !strcmp(a, "keys")) M(SRV_DELETE, R_KEY_REVOKE);
    if (n == 3 && !strcmp(a, "consent")) M(SRV_POST, R_CONSENT);
    if (n == 4 && !strcmp(a, "consent") && seg_is(r, 3, "withdraw")) M(SRV_POST, R_WITHDRAW);
    if (n == 4 && !strcmp(a, "consent")) M(SRV_GET, R_CONSENT_GET);
    if (strcmp(a, "projects"))
        return R_NONE;
    if (n == 3)
        return m == SRV_GET ? R_PROJECTS_LIST : m == SRV_POST ? R_PROJECTS_ADD : R_BAD_METHOD;
    if (n == 4)
        return m == SRV_GET ? R_PROJECT_GET : m == SRV_DELETE ? R_PROJECT_DEL : R_BAD_METHOD;
    if (n == 5 && seg_is(r, 4, "agreement")) M(SRV_POST, R_AGREEMENT);
    if (n == 5 && seg_is(r, 4, "approve")) M(SRV_POST, R_APPROVE);
    if (n == 5 && seg_is(r, 4, "accept")) M(SRV_POST, R_ACCEPT);
    if (n == 5 && seg_is(r, 4, "decline")) M(SRV_POST, R_DECLINE);
    if (n == 5 && seg_is(r, 4, "encodings"))
        return m == SRV_POST ? R_UPLOAD : m == SRV_GET ? R_UPLOAD_GET : m == SRV_DELETE ? R_UPLOAD_DEL : R_BAD_METHOD;
    if (n == 5 && seg_is(r, 4, "runs"))
        return m == SRV_POST ? R_RUNS_ADD : m == SRV_GET ? R_RUNS_LIST : R_BAD_METHOD;
    if (n == 6 && seg_is(r, 4, "runs"))
        return m == SRV_GET ? R_RUN_STATUS : m == SRV_DELETE ? R_RUN_CANCEL : R_BAD_METHOD;
    if (n == 7 && seg_is(r, 4, "runs") && seg_is(r, 6, "status")) M(SRV_GET, R_RUN_STATUS);
    if (n == 7 && seg_is(r, 4, "runs") && seg_is(r, 6, "result")) M(SRV_GET, R_RUN_RESULT);
#undef M
    return R_NONE;
}

static const char *action_of(int route)
{
    static const char *const names[] = {
        [R_NONE] = "unknown", [R_STATUS] = "status", [R_VERSION] = "version",
        [R_WHOAMI] = "whoami", [R_PURPOSES] = "purpose.list", [R_PURPOSES_ADD] = "purpose.create",
        [R_SCOPES] = "scope.list", [R_ORGS_LIST] = "org.list", [R_ORGS_ADD] = "org.create",
        [R_KEYS_ADD] = "key.create", [R_KEYS_LIST] = "key.list", [R_KEY_REVOKE] = "key.revoke",
        [R_PROJECTS_LIST] = "project.list", [R_PROJECTS_ADD] = "project.create",
        [R_PROJECT_GET] = "project.read", [R_PROJECT_DEL] = "project.delete",
        [R_AGREEMENT] = "project.agreement", [R_APPROVE] = "project.approve",
        [R_ACCEPT] = "project.accept", [R_DECLINE] = "project.decline",
        [R_UPLOAD] = "encodings.upload", [R_UPLOAD_GET] = "encodings.read", [R_UPLOAD_DEL] = "encodings.delete",
        [R_RUNS_ADD] = "run.create", [R_RUNS_LIST] = "run.list", [R_RUN_STATUS] = "run.status",
        [R_RUN_RESULT] = "run.result", [R_RUN_CANCEL] = "run.cancel", [R_CONSENT] = "consent.opt_in",
        [R_WITHDRAW] = "consent.withdraw", [R_CONSENT_GET] = "consent.read",
        [R_ERASURE] = "subject.erasure", [R_AUDIT] = "audit.read", [R_BAD_METHOD] = "request"};
    return names[route];
}


static void dispatch(srv_req *r)
{
    char **sg = r->seg;
    switch (r->route) {
    case R_STATUS: srv_h_status(r); return;
    case R_VERSION: srv_h_version(r); return;
    case R_WHOAMI: srv_h_whoami(r); return;
    case R_PURPOSES: srv_h_purposes_list(r); return;
    case R_PURPOSES_ADD: srv_h_purpose_create(r); return;
    case R_SCOPES: srv_h_scopes(r); return;
    case R_ORGS_LIST: srv_h_orgs_list(r); return;
    case R_ORGS_ADD: srv_h_org_create(r); return;
    case R_KEYS_ADD: srv_h_key_create(r); return;
    case R_KEYS_LIST: srv_h_keys_list(r); return;
    case R_KEY_REVOKE: srv_h_key_revoke(r); return;
    case R_PROJECTS_LIST: srv_h_projects_list(r); return;
    case R_PROJECTS_ADD: srv_h_projects_create(r); return;
    case R_PROJECT_GET: srv_h_project_get(r, sg[3]); return;
    case R_PROJECT_DEL: srv_h_project_delete(r, sg[3]); return;
    case R_AGREEMENT: srv_h_agreement(r, sg[3]); return;
    case R_APPROVE: srv_h_approve(r, sg[3]); return;
    case R_ACCEPT: srv_h_invitation(r, sg[3], 1); return;
    case R_DECLINE: srv_h_invitation(r, sg[3], 0); return;
    case R_UPLOAD: srv_h_upload(r, sg[3]); return;
    case R_UPLOAD_GET: srv_h_upload_get(r, sg[3]); return;
    case R_UPLOAD_DEL: srv_h_upload_delete(r, sg[3]); return;
    case R_RUNS_ADD: srv_h_runs_create(r, sg[3]); return;
    case R_RUNS_LIST: srv_h_runs_list(r, sg[3]); return;
    case R_RUN_STATUS: srv_h_run_status(r, sg[3], sg[5]); return;
    case R_RUN_RESULT: srv_h_run_result(r, sg[3], sg[5]); return;
    case R_RUN_CANCEL: srv_h_run_cancel(r, sg[3], sg[5]); return;
    case R_CONSENT: srv_h_consent(r); return;
    case R_WITHDRAW: srv_h_consent_withdraw(r); return;
    case R_CONSENT_GET: srv_h_consent_get(r, sg[3]); return;
    case R_ERASURE: srv_h_erasure(r); return;
    case R_AUDIT: srv_h_audit_read(r); return;
    default: srv_problem(r, 404, "no such endpoint");
    }
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------------ */

static int parse_method(const char *m)
{
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
        return SRV_GET;
    if (!strcmp(m, "POST"))
        return SRV_POST;
    if (!strcmp(m, "PUT"))
        return SRV_PUT;
    if (!strcmp(m, "DELETE"))
        return SRV_DELETE;
    return 0;
}

static void split_path(srv_req *r, const char *url)
{
    snprintf(r->path, sizeof r->path, "%s", url);
    r->nseg = 0;
    char *save = NULL;
    for (char *t = strtok_r(r->path, "/", &save); t && r->nseg < 10; t = strtok_r(NULL, "/", &save))
        r->seg[r->nseg++] = t;
}

static void client_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

static int authorize(srv_req *r);
static int check_body_headers(srv_req *r);

static void free_req(srv_req *r)
{
    if (!r)
        return;
    if (r->tx) {
        srv_req_rollback(r->db);
        srv_audit_join(NULL);
    }
    if (r->nfops) { /* never committed: the old files stay */
        pthread_mutex_lock(&r->srv->enc_mu);
        srv_fileops_finish(r, 0);
        pthread_mutex_unlock(&r->srv->enc_mu);
    }
    free(r->fops);
    if (r->db)
        srv_db_release(r->srv->st, r->db);
    bl_clkset_free(r->upload_set);
    if (r->spool_fd >= 0)
        close(r->spool_fd);
    if (r->spool_path[0])
        unlink(r->spool_path);
    json_decref(r->json);
    free(r->body);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free_req(*con_cls);
    *con_cls = NULL;
}

/* Everything decided from the headers alone, before any body byte. Returns 1
 * to continue, 0 if a response was set. The store handle taken here (to
 * authenticate) is given back before the body is read: no handle is ever
 * held across a network read, so slow or half-sent bodies cannot drain the
 * pool. */
static int first_call(srv_req *r, const char *url)
{
    srv_ctx *c = r->srv;
    srv_text_clean(url, r->url, sizeof r->url);
    split_path(r, url);
    r->route = route_of(r);
    snprintf(r->action, sizeof r->action, "%s", action_of(r->route));
    if (r->route == R_CONSENT_GET) /* the path carries a subject key: never log it */
        snprintf(r->resource, sizeof r->resource, "consent/(subject withheld)");
    if (r->route == R_NONE) {
        srv_problem(r, 404, "no endpoint %.200s (the API lives under /api/v1)", r->url);
        return 0;
    }
    if (r->route == R_BAD_METHOD) {
        srv_problem(r, 405, "method not allowed on %.200s", r->url);
        return 0;
    }
    if (r->route == R_STATUS || r->route == R_VERSION) {
        r->no_audit = 1; /* anonymous health checks are not logged */
        return 1;
    }
    unsigned wait = 1;
    if (!srv_client_allow(c, r->client, 1.0, &wait)) {
        r->retry_after = wait;
        srv_problem(r, 429, "too many requests from %s; retry in %u s", r->client, wait);
        return 0;
    }
    r->db = srv_db_acquire(c->st);
    int ok = authorize(r) && check_body_headers(r);
    srv_db_release(c->st, r->db);
    r->db = NULL;
    return ok;
}

/* Authentication, the per-key rate limit and, for uploads, the checks that
 * need no body. 1 to continue. */
static int authorize(srv_req *r)
{
    srv_ctx *c = r->srv;
    bl_error e = {0};
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    if (srv_authenticate(r->db, auth, &r->p, &e) != BL_OK) {
        srv_client_auth_failed(c, r->client);
        srv_problem(r, 401, "%s", e.msg);
        return 0;
    }
    r->authed = 1;
    if (!rate_allow(c, r->p.kid)) {
        srv_problem(r, 429, "rate limit of %.0f requests/s for key %s exceeded; retry later",
                    c->opts.rate_limit, r->p.kid);
        return 0;
    }
    return 1;
}

static int content_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Content type and declared length; uploads are spooled to disk. */
static int check_body_headers(srv_req *r)
{
    srv_ctx *c = r->srv;
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    int has_body = declared > 0 || te;
    r->limit = c->opts.max_body;
    if (r->route == R_UPLOAD) {
        if (content_type_is(ct, "application/octet-stream")) {
            r->upload_mode = 2;
            r->limit = c->opts.max_upload;
        } else if (content_type_is(ct, "application/json")) {
            r->upload_mode = 1; /* streamed too, under --max-body */
        } else {
            srv_problem(r, 415,
                        "upload encodings as application/octet-stream (blindlink binary CLK file "
                        "with subject keys as ids) or application/json");
            return 0;
        }
    } else if (has_body && !content_type_is(ct, "application/json")) {
        srv_problem(r, 415, "this endpoint takes an application/json body, not %.60s",
                    ct ? ct : "a body without Content-Type");
        return 0;
    }
    if (declared > r->limit) {
        srv_problem(r, 413, "request body of %llu bytes exceeds the cap of %llu bytes", declared,
                    (unsigned long long)r->limit);
        return 0;
    }
    if (r->route != R_UPLOAD)
        return 1;
    if (!srv_upload_precheck(r, r->seg[3]))
        return 0;
    snprintf(r->spool_path, sizeof r->spool_path, "%s/spool-XXXXXX", c->st->enc_dir);
    r->spool_fd = mkostemp(r->spool_path, O_CLOEXEC);
    if (r->spool_fd < 0) {
        r->spool_path[0] = '\0';
        srv_problem(r, 500, "cannot spool upload: %s", strerror(errno));
        return 0;
    }
    return 1;
}

static void take_body(srv_req *r, const char *data, size_t n)
{
    if (r->too_big || r->status)
        return;
    if ((uint64_t)r->len + n > r->limit || r->spooled + n > r->limit) {
        r->too_big = 1;
        return;
    }
    if (r->upload_mode) {
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(r->spool_fd, data + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                srv_problem(r, 500, "cannot spool upload: %s", strerror(errno));
                return;
            }
            off += (size_t)w;
        }
        r->spooled += n;
        return;
    }
    if (bli_grow((void **)&r->body, &r->cap, r->len + n + 1, 1, 4096) != 0) {
        r->too_big = 1;
        return;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

/* The body is complete: run the handler. A request that may change state
 * runs inside one transaction with its audit entries (committed in
 * send_reply), and only while the log is appendable: a log whose last
 * append failed, or whose tail no longer chains, stops writes before they
 * happen (the refusal's own entry is still attempted). */
static void run_request(srv_req *r)
{
    srv_ctx *c = r->srv;
    if (r->route == R_UPLOAD)
        srv_upload_prepare(r); /* parse outside the write lock */
    if (r->status)
        return;
    r->db = srv_db_acquire(c->st);
    bl_error ae = {0};
    if (r->method != SRV_GET && r->route != R_STATUS && r->route != R_VERSION) {
        if (srv_audit_ready(c->st, &ae) != BL_OK) {
            fprintf(stderr, "blindlink serve: refusing a write, audit log not appendable: %s\n",
                    ae.msg);
            srv_problem(r, 503, "the audit log cannot be written, so nothing was changed; retry later");
            return;
        }
        if (srv_req_begin(r->db, &ae) != BL_OK) {
            srv_problem(r, 503, "the store is busy; nothing was changed, retry later");
            return;
        }
        r->tx = 1;
        srv_audit_join(r->db);
    }
    dispatch(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    srv_ctx *c = cls;
    srv_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->srv = c;
        r->conn = conn;
        r->spool_fd = -1;
        r->t_start = srv_mono_s();
        client_addr(conn, r->client, sizeof r->client);
        r->method = parse_method(method);
        *con_cls = r;
        if (!r->method) {
            srv_text_clean(url, r->url, sizeof r->url);
            split_path(r, url);
            srv_problem(r, 405, "method %.16s is not supported", method);
            return send_reply(r);
        }
        if (!first_call(r, url))
            return send_reply(r); /* refused before reading any body */
        return MHD_YES;
    }
    if (r->queued) {
        *upload_data_size = 0; /* discard what a refused request still sends */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* a body that trickles in, never idle long enough for the connection
         * timeout, is cut off at the body deadline */
        if (srv_mono_s() - r->t_start > c->opts.body_timeout_s)
            return MHD_NO;
        take_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->status) /* e.g. spool failure */
        return send_reply(r);
    if (r->too_big) {
        srv_problem(r, 413, "request body exceeds the cap of %llu bytes",
                    (unsigned long long)r->limit);
        return send_reply(r);
    }
    run_request(r);
    return send_reply(r);
}

/* ---- server lifecycle ---------------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

/* The bound address: IPv4 ("127.0.0.1:8080", "localhost:8080") or an IPv6
 * literal in brackets ("[::1]:8080", RFC 3986 style). */
typedef union srv_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
} srv_sockaddr;

static bl_status parse_listen(const char *listen, srv_sockaddr *sa, bl_error *err)
{
    memset(sa, 0, sizeof *sa);
    char host[256];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return bl_error_set(err, BL_EINVAL,
                            "--listen '%s' must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)",
                            listen ? listen : "");
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    int v6 = host[0] == '[';
    if (v6) {
        size_t hl = strlen(host);
        if (hl < 3 || host[hl - 1] != ']')
            return bl_error_set(err, BL_EINVAL,
                                "--listen '%s': an IPv6 address goes in brackets before the port, "
                                "e.g. [::1]:8080",
                                listen);
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    } else if (strchr(host, ':')) {
        return bl_error_set(err, BL_EINVAL,
                            "--listen '%s': write an IPv6 address in brackets, e.g. [::1]:8080",
                            listen);
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*(colon + 1) == '\0' || *end || port < 0 || port > 65535)
        return bl_error_set(err, BL_EINVAL, "--listen: bad port in '%s'", listen);
    if (v6) {
        sa->v6.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &sa->v6.sin6_addr) != 1)
            return bl_error_set(err, BL_EINVAL, "--listen: '%s' is not an IPv6 address", host);
        sa->v6.sin6_port = htons((uint16_t)port);
        return BL_OK;
    }
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    sa->v4.sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &sa->v4.sin_addr) != 1)
        return bl_error_set(err, BL_EINVAL, "--listen: '%s' is not an IPv4 address", host);
    sa->v4.sin_port = htons((uint16_t)port);
    return BL_OK;
}

/* Spool files of uploads that a crash interrupted (their records may lack
 * consent); in the project directories, what a crash between a commit and
 * its file change left (srv_files_recover): nothing uses them after a
 * restart. */
static void clean_stale_files(srv_ctx *c)
{
    const char *dir = c->st->enc_dir;
    DIR *d = opendir(dir);
    if (!d)
        return;
    unsigned spools = 0, renamed = 0, removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (!strncmp(de->d_name, "spool-", 6))
            spools += unlink(p) == 0;
    }
    closedir(d);
    srv_files_recover(c, &renamed, &removed);
    if (spools || renamed || removed) {
        char why[200];
        snprintf(why, sizeof why,
                 "removed %u stale upload spool file(s) and %u temporary or orphaned file(s), "
                 "put %u committed encodings file(s) in place, after an interrupted run of the "
                 "service",
                 spools, removed, renamed);
        srv_audit_system(c, "service.cleanup", "encodings", "-", 1, why);
    }
}

static void *janitor_main(void *arg)
{
    srv_ctx *c = arg;
    unsigned ticks = 0; /* 50 ms ticks, so a stop is noticed at once */
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        usleep(50000);
        if (ticks % 20 == 0)
            srv_clients_flush(c, 0);
        if (++ticks >= 20 * c->opts.janitor_s) {
            ticks = 0;
            srv_retention_sweep(c);
        }
    }
    return NULL;
}

/* the documented defaults of every option left 0 */
static void server_defaults(bl_server_opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (o->http_threads <= 0) /* handlers block on the store: at least 4 */
        o->http_threads = ncpu > 4 ? (int)ncpu : 4;
    if (o->run_workers <= 0)
        o->run_workers = 1;
    if (!o->max_body)
        o->max_body = 1 << 20;
    if (!o->max_upload)
        o->max_upload = 4ULL << 30;
    if (!o->max_records)
        o->max_records = 10000000;
    if (o->rate_limit <= 0)
        o->rate_limit = 50;
    if (o->rate_burst <= 0)
        o->rate_burst = 4 * o->rate_limit;
    if (!o->conn_timeout_s)
        o->conn_timeout_s = 30;
    if (!o->janitor_s)
        o->janitor_s = 60;
    if (o->ip_rate_limit <= 0)
        o->ip_rate_limit = 4 * o->rate_limit > 200 ? 4 * o->rate_limit : 200;
    if (!o->body_timeout_s)
        o->body_timeout_s = 600;
    if (!o->audit_interval_s)
        o->audit_interval_s = 60;
}

/* the address, its policy, TLS material, the data directory, the store and
 * its audit key: everything checked before a thread starts */
static bl_status server_open(srv_ctx *c, srv_sockaddr *sa, srv_tls *tls, bl_error *err)
{
    const bl_server_opts *o = &c->opts;
    bl_status rc = parse_listen(o->listen, sa, err);
    if (rc == BL_OK)
        rc = srv_listen_policy(o, &sa->sa, err);
    if (rc == BL_OK)
        rc = srv_tls_load(o, tls, err);
    if (rc != BL_OK)
        return rc;
    if (!o->allow_shared_dir)
        rc = srv_check_private_dir(o->data_dir, err);
    if (rc == BL_OK)
        rc = srv_store_open(o->data_dir, o->http_threads + o->run_workers + 3, &c->st, err);
    if (rc == BL_OK) {
        const char *key = o->audit_key ? o->audit_key : getenv("BLINDLINK_AUDIT_KEY");
        rc = srv_audit_key_attach(c->st, key, !o->audit_unsigned, o->audit_rotate, err);
        if (rc != BL_OK)
            bl_store_close(c->st);
    }
    if (rc != BL_OK)
        srv_tls_free(tls);
    return rc;
}

static unsigned sa_port(const srv_sockaddr *sa)
{
    return ntohs(sa->sa.sa_family == AF_INET6 ? sa->v6.sin6_port : sa->v4.sin_port);
}

static bl_status server_daemon(srv_ctx *c, const srv_sockaddr *sa, const srv_tls *tls,
                               bl_error *err)
{
    const bl_server_opts *o = &c->opts;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa->sa.sa_family == AF_INET6)
        flags |= MHD_USE_IPv6; /* the literal given: [::1] stays IPv6-only */
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)srv_tls_priorities},
        {MHD_OPTION_END, 0, NULL}};
    if (tls->cert)
        flags |= MHD_USE_TLS;
    else
        tls_opts[0].option = MHD_OPTION_END;
    c->daemon = MHD_start_daemon(
        /* the port too (MHD_OPTION_SOCK_ADDR decides), so that a bind error names it */
        flags, sa_port(sa), NULL, NULL, &on_request, c, MHD_OPTION_SOCK_ADDR, &sa->sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->http_threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)o->conn_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(128 * 1024), MHD_OPTION_NOTIFY_COMPLETED, &on_completed, c, MHD_OPTION_ARRAY,
        tls_opts, MHD_OPTION_END);
    if (!c->daemon)
        return bl_error_set(err, BL_ENET, "cannot listen on %s (address in use%s?)", o->listen,
                            tls->cert ? ", or a certificate and key that do not match" : "");
    return BL_OK;
}

/* the bound port to --port-file (atomically) and the address to stderr */
static bl_status server_announce(srv_ctx *c, const srv_sockaddr *sa, int https, bl_error *err)
{
    const bl_server_opts *o = &c->opts;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : sa_port(sa);
    if (o->port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", o->port_file);
        FILE *fp = fopen(tmp, "w");
        if (!fp || fprintf(fp, "%u\n", port) < 0 || fclose(fp) != 0 ||
            rename(tmp, o->port_file) != 0)
            return bl_error_set(err, BL_EIO, "cannot write port file %s", o->port_file);
    }
    if (!o->quiet) {
        char host[INET6_ADDRSTRLEN] = "?";
        int six = sa->sa.sa_family == AF_INET6;
        inet_ntop(sa->sa.sa_family,
                  six ? (const void *)&sa->v6.sin6_addr : (const void *)&sa->v4.sin_addr, host,
                  sizeof host);
        fprintf(stderr, "blindlink serve: listening on %s://%s%s%s:%u, data in %s\n",
                https ? "https" : "http", six ? "[" : "", host, six ? "]" : "", port, o->data_dir);
    }
    return BL_OK;
}

bl_status bl_server_run(const bl_server_opts *in, bl_error *err)
{
    srv_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    c->opts = *in;
    const bl_server_opts *o = &c->opts;
    server_defaults(&c->opts);
    srv_sockaddr sa;
    srv_tls tls = {0};
    bl_status rc = server_open(c, &sa, &tls, err);
    if (rc != BL_OK) {
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->rl_mu, NULL);
    pthread_mutex_init(&c->enc_mu, NULL);
    pthread_mutex_init(&c->wk_mu, NULL);
    srv_workq_init(&c->work);

    /* block signals in every thread; the main thread waits for them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv_audit_system(c, "service.start", "-", "-", 1, "service started");
    clean_stale_files(c);
    rc = srv_runs_recover(c, err);
    if (rc == BL_OK) {
        srv_retention_sweep(c);
        rc = srv_workers_start(c, err);
    }
    pthread_t janitor;
    int have_janitor = 0;
    if (rc == BL_OK && pthread_create(&janitor, NULL, janitor_main, c) == 0)
        have_janitor = 1;
    if (rc == BL_OK)
        rc = server_daemon(c, &sa, &tls, err);
    if (rc == BL_OK)
        rc = server_announce(c, &sa, tls.cert != NULL, err);
    if (rc == BL_OK) {
        int sig = 0;
        sigwait(&set, &sig);
        got_signal = sig;
        if (!o->quiet)
            fprintf(stderr, "blindlink serve: stopping (signal %d)\n", sig);
    }
    if (c->daemon)
        MHD_stop_daemon(c->daemon);
    srv_tls_free(&tls);
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
    srv_workers_stop(c);
    if (have_janitor)
        pthread_join(janitor, NULL);
    srv_clients_flush(c, 1);
    if (rc == BL_OK)
        srv_audit_system(c, "service.stop", "-", "-", 1, "service stopped");
    bl_store_close(c->st);
    srv_workq_destroy(&c->work);
    free(c->buckets);
    free(c->clients);
    free(c);
    return rc;
}
