/* server/admin_json.c - `blindlink admin list --json`: the same organisations,
 * keys (ids, roles, states; never secrets) and purposes as bl_admin_list, as
 * one JSON object, so scripts need not parse the column layout. Kept apart
 * from auth.c: it only reads. */
#include <stdio.h>
#include <jansson.h>
#include "srv.h"

static json_t *text_or_null(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? json_string((const char *)t) : json_null();
}

/* rows of `sql` as objects with `names[i]` = column i (text) */
static bl_status rows(sqlite3 *db, const char *sql, const char *const *names, int ncol, json_t *arr,
                      bl_error *err)
{
    sqlite3_stmt *s = srv_prep(db, sql, err);
    if (!s)
        return BL_EIO;
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; i < ncol; i++)
            json_object_set_new(o, names[i], text_or_null(s, i));
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(s);
    return BL_OK;
}

static bl_status keys(sqlite3 *db, json_t *arr, bl_error *err)
{
    sqlite3_stmt *s = srv_prep(db,
                               "SELECT k.id, o.name, k.role, k.expires, k.revoked FROM keys k JOIN "
                               "orgs o ON o.id=k.org_id ORDER BY k.created",
                               err);
    if (!s)
        return BL_EIO;
    int64_t now = bl_srv_now();
    while (sqlite3_step(s) == SQLITE_ROW) {
        /* the same states as bl_admin_list */
        const char *state = "active";
        if (sqlite3_column_type(s, 4) != SQLITE_NULL)
            state = "revoked";
        else if (sqlite3_column_type(s, 3) != SQLITE_NULL && sqlite3_column_int64(s, 3) <= now)
            state = "expired";
        json_t *o = json_object();
        json_object_set_new(o, "id", text_or_null(s, 0));
        json_object_set_new(o, "org", text_or_null(s, 1));
        json_object_set_new(o, "role", text_or_null(s, 2));
        json_object_set_new(o, "state", json_string(state));
        /* RFC 3339, as everywhere in the API */
        char when[40];
        if (sqlite3_column_type(s, 3) != SQLITE_NULL)
            srv_time_fmt(sqlite3_column_int64(s, 3), when, sizeof when);
        json_object_set_new(o, "expires",
                            sqlite3_column_type(s, 3) == SQLITE_NULL ? json_null()
                                                                     : json_string(when));
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(s);
    return BL_OK;
}

bl_status bl_admin_list_json(bl_store *st, void *fpv, bl_error *err)
{
    static const char *const org_cols[] = {"id", "name", "kind"};
    static const char *const purpose_cols[] = {"name", "description"};
    sqlite3 *db = st->conns[0];
    json_t *root = json_object(), *orgs = json_array(), *ks = json_array(), *ps = json_array();
    json_object_set_new(root, "organisations", orgs);
    json_object_set_new(root, "keys", ks);
    json_object_set_new(root, "purposes", ps);
    bl_status rc =
        rows(db, "SELECT id, name, kind FROM orgs ORDER BY created, name", org_cols, 3, orgs, err);
    if (rc == BL_OK)
        rc = keys(db, ks, err);
    if (rc == BL_OK)
        rc = rows(db, "SELECT name, description FROM purposes ORDER BY builtin DESC, name",
                  purpose_cols, 2, ps, err);
    if (rc == BL_OK && json_dumpf(root, fpv, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        rc = bl_error_set(err, BL_EIO, "cannot write the list");
    if (rc == BL_OK)
        fputc('\n', fpv);
    json_decref(root);
    return rc;
}
