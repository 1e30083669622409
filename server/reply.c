/* server/reply.c - what every handler calls to answer and to record: JSON
 * success replies, application/problem+json problems (the title follows from
 * the status), the bl_status -> HTTP status map, and the audit helpers (one
 * entry per request, extra decisions on behalf of the request's principal,
 * system entries for the janitor and the run workers). It sits below the
 * handlers and above the audit log; it knows nothing of libmicrohttpd. */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "srv.h"

/* ---- text that reaches a JSON reply or the audit log -------------------------------- */

/* Bytes of the valid UTF-8 character at s (n bytes left), or 0 if none:
 * utf8proc decodes (the one decoder); a NUL ends the text. */
static size_t char_len(const char *s, size_t n)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &cp);
    return k > 0 && cp >= 0 ? (size_t)k : 0;
}

void srv_text_clean(const char *in, char *out, size_t cap)
{
    assert(cap > 0);
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = char_len(in + i, n - i);
        if (k) {
            if (o + k >= cap)
                break;
            memcpy(out + o, in + i, k);
            o += k;
            i += k;
        } else { /* not UTF-8: shown as \xHH, so the text stays valid and says what came */
            if (o + 4 >= cap)
                break;
            snprintf(out + o, 5, "\\x%02x", (unsigned char)in[i]);
            o += 4;
            i++;
        }
    }
    out[o] = '\0';
}

void srv_text_cut(char *s, size_t max)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t k = char_len(s + i, n - i);
        if (!k)
            k = 1;
        if (i + k > max)
            break;
        i += k;
    }
    s[i] = '\0';
}

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
    char raw[512], detail[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (len >= (int)sizeof raw)
        srv_text_cut(raw, sizeof raw - 1); /* a cut inside a character drops it */
    srv_text_clean(raw, detail, sizeof detail);
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
    snprintf(res, sizeof res, "%.150s", r->resource[0] ? r->resource : r->url);
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
                   .resource = r->resource[0] ? r->resource : r->url, .purpose = r->purpose,
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

/* The shortest text of the real `x` that reads back as the same double
 * (as jansson, it keeps a ".0" when the digits alone would read as an
 * integer). */
static int shortest_real(double x, char *buf, size_t cap)
{
    int n = 0;
    for (int digits = 1; digits <= 17; digits++) {
        n = snprintf(buf, cap, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (n > 0 && (size_t)n + 2 < cap && !strpbrk(buf, ".eEni")) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return n;
}

char *srv_json_text(json_t *v)
{
    /* jansson writes every real with 17 digits (0.85 as 0.84999999999999998):
     * each number with a fraction or exponent outside strings is rewritten
     * in its shortest round-trip form, so a threshold of 0.85 reads 0.85 */
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        return NULL;
    size_t len = strlen(text), cap = 2 * len + 64; /* a real may gain ".0" */
    char *out = malloc(cap);
    if (!out)
        return text;
    size_t o = 0;
    int in_str = 0;
    for (size_t i = 0; i < len;) {
        char ch = text[i];
        if (in_str) {
            out[o++] = text[i++];
            if (ch == '\\' && i < len)
                out[o++] = text[i++];
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"')
            in_str = 1;
        if (ch != '-' && (ch < '0' || ch > '9')) {
            out[o++] = text[i++];
            continue;
        }
        size_t end = i;
        while (end < len && strchr("+-0123456789.eE", text[end]))
            end++;
        char num[64];
        size_t n = end - i;
        if (n < sizeof num && strcspn(text + i, ".eE") < n) { /* a real, not an integer */
            memcpy(num, text + i, n);
            num[n] = '\0';
            o += (size_t)shortest_real(strtod(num, NULL), out + o, cap - o);
        } else {
            memcpy(out + o, text + i, end - i);
            o += end - i;
        }
        i = end;
    }
    out[o] = '\0';
    free(text);
    return out;
}
