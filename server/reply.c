/* server/reply.c - what every handler calls to answer and to record: JSON
 * success replies, application/problem+json problems (the title follows from
 * the status), the bl_status -> HTTP status map, and the audit helpers (one
 * entry per request, extra decisions on behalf of the request's principal,
 * system entries for the janitor and the run workers). It sits below the
 * handlers and above the audit log; it knows nothing of libmicrohttpd. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

void srv_reply(srv_req *r, int status, json_t *body)
{
    json_decref(r->json);
    r->status = status;
    r->json = body;
    r->content_type = "application/json";
    if (status < 400 && !r->reason[0])
        snprintf(r->reason, sizeof r->reason, "ok");
}

static const char *title_for(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

void srv_problem(srv_req *r, int status, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    char type[128];
    snprintf(type, sizeof type, "https://blindlink.dev/problems/%d", status);
    json_decref(r->json);
    r->json = json_pack("{s:s,s:s,s:i,s:s}", "type", type, "title", title_for(status), "status",
                        status, "detail", detail);
    r->status = status;
    r->content_type = "application/problem+json";
    snprintf(r->reason, sizeof r->reason, "%s", detail);
}

int srv_http_status(bl_status s)
{
    switch (s) {
    case BL_OK: return 200;
    case BL_EINVAL:
    case BL_EINPUT:
    case BL_ESCHEMA: return 400;
    case BL_EAUTH: return 403;
    case BL_ENOTFOUND: return 404;
    case BL_ESTATE: return 409;
    case BL_ELIMIT: return 413;
    default: return 500;
    }
}

void srv_problem_from_error(srv_req *r, const bl_error *e)
{
    srv_problem(r, srv_http_status(e->status), "%s",
                e->msg[0] ? e->msg : bl_strerror(e->status));
}

int srv_audit_request(srv_req *r)
{
    if (r->no_audit)
        return 1;
    char res[160];
    snprintf(res, sizeof res, "%.150s", r->resource[0] ? r->resource : r->path);
    srv_audit a = {.org = r->p.org, .key = r->p.kid, .role = r->p.role,
                   .action = r->action[0] ? r->action : "request", .resource = res,
                   .purpose = r->purpose, .allowed = r->status < 400, .reason = r->reason,
                   .status = r->status};
    bl_error e = {0};
    if (srv_audit_append(r->srv->st, &a, &e) != BL_OK) {
        fprintf(stderr, "blindlink serve: audit append failed: %s\n", e.msg);
        return 0;
    }
    return 1;
}

void srv_audit_decision(srv_req *r, const char *action, int allowed, const char *reason)
{
    srv_audit a = {.org = r->p.org, .key = r->p.kid, .role = r->p.role, .action = action,
                   .resource = r->resource[0] ? r->resource : r->path, .purpose = r->purpose,
                   .allowed = allowed, .reason = reason, .status = 0};
    bl_error e = {0};
    if (srv_audit_append(r->srv->st, &a, &e) != BL_OK)
        fprintf(stderr, "blindlink serve: audit append failed: %s\n", e.msg);
}

void srv_audit_system(srv_ctx *c, const char *action, const char *resource, const char *purpose,
                      int allowed, const char *reason)
{
    srv_audit a = {.org = "-", .key = "-", .role = "system", .action = action,
                   .resource = resource, .purpose = purpose, .allowed = allowed,
                   .reason = reason, .status = 0};
    bl_error e = {0};
    if (srv_audit_append(c->st, &a, &e) != BL_OK)
        fprintf(stderr, "blindlink serve: audit append failed: %s\n", e.msg);
}
