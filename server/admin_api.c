/* server/admin_api.c - the small endpoints: service status and version,
 * whoami, purposes, scopes, organisations and API keys (admin role), and
 * reading the audit log (auditor role). */
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "srv.h"

static int need_role(srv_req *r, const char *role)
{
    if (!strcmp(r->p.role, role))
        return 1;
    srv_problem(r, 403, "this operation needs a key with role %s; yours has role %s", role,
                r->p.role);
    return 0;
}

static int is_time_column(const char *name)
{
    return !strcmp(name, "created") || !strcmp(name, "expires") || !strcmp(name, "revoked");
}

static json_t *rows_to_json(sqlite3_stmt *s)
{
    json_t *arr = json_array();
    int nc = sqlite3_column_count(s);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; i < nc; i++) {
            const char *name = sqlite3_column_name(s, i);
            switch (sqlite3_column_type(s, i)) {
            case SQLITE_INTEGER: /* times (seconds) as RFC 3339, like every API time */
                json_object_set_new(o, name,
                                    is_time_column(name)
                                        ? srv_json_time(sqlite3_column_int64(s, i))
                                        : json_integer(sqlite3_column_int64(s, i)));
                break;
            case SQLITE_FLOAT:
                json_object_set_new(o, name, json_real(sqlite3_column_double(s, i)));
                break;
            case SQLITE_NULL:
                json_object_set_new(o, name, json_null());
                break;
            default:
                json_object_set_new(o, name, json_string((const char *)sqlite3_column_text(s, i)));
            }
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static void h_list(srv_req *r, const char *key, const char *sql, const char *bind)
{
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(r->db, sql, &e);
    if (!s) {
        srv_problem_from_error(r, &e);
        return;
    }
    if (bind)
        sqlite3_bind_text(s, 1, bind, -1, SQLITE_TRANSIENT);
    json_t *arr = rows_to_json(s);
    sqlite3_finalize(s);
    srv_reply(r, 200, json_pack("{s:o}", key, arr));
}

static json_t *body_json(srv_req *r)
{
    bl_error e = {0};
    json_t *o = srv_json_parse(r->body, r->len, &e);
    if (!o)
        srv_problem_from_error(r, &e);
    return o;
}

void srv_h_org_create(srv_req *r)
{
    if (!need_role(r, "admin"))
        return;
    json_t *o = body_json(r);
    if (!o)
        return;
    char name[129], kind[41], id[33];
    bl_error e = {0};
    if (srv_parse_org(o, name, kind, &e) != BL_OK ||
        srv_org_create(r->db, name, kind, id, &e) != BL_OK) {
        json_decref(o);
        srv_problem_from_error(r, &e);
        return;
    }
    json_decref(o);
    snprintf(r->resource, sizeof r->resource, "org/%s", id);
    srv_reply(r, 201, json_pack("{s:s,s:s,s:s}", "id", id, "name", name, "kind", kind));
}

void srv_h_key_create(srv_req *r)
{
    if (!need_role(r, "admin"))
        return;
    json_t *o = body_json(r);
    if (!o)
        return;
    char role[16], oid[33], key[BL_SRV_KEY_MAX], kid[17];
    int64_t exp = 0;
    bl_error e = {0};
    if (srv_parse_key(o, role, &exp, &e) != BL_OK || srv_org_resolve(r->db, r->seg[3], oid, &e) ||
        srv_key_create(r->db, oid, role, exp, key, kid, &e) != BL_OK) {
        json_decref(o);
        srv_problem_from_error(r, &e);
        return;
    }
    json_decref(o);
    snprintf(r->resource, sizeof r->resource, "org/%s/key/%s", oid, kid);
    snprintf(r->reason, sizeof r->reason, "issued %s key", role);
    srv_reply(r, 201, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", kid, "org", oid, "role", role,
                                "key", key, "note", "store this key now: it is shown only once"));
    sodium_memzero(key, sizeof key);
}

void srv_h_key_revoke(srv_req *r)
{
    if (!need_role(r, "admin"))
        return;
    const char *kid = r->seg[3];
    snprintf(r->resource, sizeof r->resource, "key/%.16s", kid);
    bl_error e = {0};
    sqlite3_stmt *s = srv_prep(r->db, "UPDATE keys SET revoked=? WHERE id=? AND revoked IS NULL",
                               &e);
    if (!s) {
        srv_problem_from_error(r, &e);
        return;
    }
    sqlite3_bind_int64(s, 1, bl_srv_now());
    sqlite3_bind_text(s, 2, kid, -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_finalize(s);
    if (sqlite3_changes(r->db) == 0) {
        srv_problem(r, 404, "no active key '%.16s'", kid);
        return;
    }
    srv_reply(r, 200, json_pack("{s:s,s:s}", "id", kid, "state", "revoked"));
}

void srv_h_purpose_create(srv_req *r)
{
    if (!need_role(r, "admin"))
        return;
    json_t *o = body_json(r);
    if (!o)
        return;
    char name[41], desc[401];
    bl_error e = {0};
    if (srv_parse_purpose(o, name, desc, &e) != BL_OK ||
        srv_purpose_add(r->db, name, desc, &e) != BL_OK) {
        json_decref(o);
        srv_problem_from_error(r, &e);
        return;
    }
    json_decref(o);
    snprintf(r->resource, sizeof r->resource, "purpose/%s", name);
    srv_reply(r, 201, json_pack("{s:s,s:s}", "name", name, "description", desc));
}

void srv_h_scopes(srv_req *r)
{
    json_t *arr = json_array();
    for (int i = 0; srv_scopes[i]; i++)
        json_array_append_new(arr, json_pack("{s:s,s:b}", "name", srv_scopes[i], "minimal",
                                             srv_scope_kind(srv_scopes[i]) == 1));
    srv_reply(r, 200, json_pack("{s:o}", "scopes", arr));
}

/* GET /audit?after=N&limit=M : entries with seq > after (auditor role). */
void srv_h_audit_read(srv_req *r)
{
    if (!need_role(r, "auditor"))
        return;
    const char *a = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "after");
    const char *l = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit");
    char *end;
    unsigned long long after = a ? strtoull(a, &end, 10) : 0;
    if (a && (*a == '\0' || *end)) {
        srv_problem(r, 400, "query parameter 'after' must be an entry number");
        return;
    }
    long limit = l ? strtol(l, &end, 10) : 100;
    if (l && (*l == '\0' || *end || limit < 1 || limit > 1000)) {
        srv_problem(r, 400, "query parameter 'limit' must be 1..1000");
        return;
    }
    FILE *fp = fopen(r->srv->st->audit_path, "r");
    if (!fp) {
        srv_problem(r, 500, "audit log unreadable");
        return;
    }
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    unsigned long long n = 0, last = after;
    while (getline(&line, &cap, fp) >= 0 && (long)json_array_size(arr) < limit) {
        if (++n <= after)
            continue;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (o) {
            json_array_append_new(arr, o);
            last = n;
        }
    }
    free(line);
    fclose(fp);
    srv_reply(r, 200, json_pack("{s:o,s:I}", "entries", arr, "next_after", (json_int_t)last));
}

void srv_h_status(srv_req *r)
{
    srv_reply(r, 200, json_pack("{s:s,s:s,s:o}", "status", "ok", "version", bl_version(), "time",
                                srv_json_time(bl_srv_now())));
}

void srv_h_version(srv_req *r)
{
    srv_reply(r, 200, json_pack("{s:s,s:s}", "blindlink", bl_version(), "api", "v1"));
}

void srv_h_whoami(srv_req *r)
{
    srv_reply(r, 200, json_pack("{s:s,s:s,s:s,s:s}", "org", r->p.org, "org_name", r->p.org_name,
                                "key", r->p.kid, "role", r->p.role));
}

void srv_h_purposes_list(srv_req *r)
{
    h_list(r, "purposes", "SELECT name, description, builtin FROM purposes ORDER BY name", NULL);
}

/* An admin sees every organisation, anyone else only its own. */
void srv_h_orgs_list(srv_req *r)
{
    if (!strcmp(r->p.role, "admin"))
        h_list(r, "orgs", "SELECT id, name, kind, created FROM orgs ORDER BY created", NULL);
    else
        h_list(r, "orgs", "SELECT id, name, kind, created FROM orgs WHERE id=?", r->p.org);
}

void srv_h_keys_list(srv_req *r)
{
    if (need_role(r, "admin"))
        h_list(r, "keys",
               "SELECT id, org_id AS org, role, created, expires, revoked FROM keys "
               "ORDER BY created",
               NULL);
}
