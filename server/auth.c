/* server/auth.c - principals: organisations, API keys (random, stored as
 * SHA-256 digests, checked in constant time, revocable, expiring), the
 * controlled purpose list and scope list, and the administration functions
 * behind `blindlink admin`.
 *
 * A key looks like "blk_<16 hex key id>_<64 hex secret>". Only the key id and
 * SHA-256("blindlink-key-v1" || secret) are stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <utf8proc.h>

#include "srv.h"

#define KEY_PREFIX "blk_"

const char *const srv_scopes[] = {
    /* minimal sign-up scopes */
    "name", "email", "profile_photo",
    /* extended scopes: need each data owner's approval and a signed agreement */
    "date_of_birth", "sex", "address", "postcode", "phone", "posts", "friends",
    "private_messages", "health_records", "financial_records", "location_history", NULL};

int srv_scope_kind(const char *scope)
{
    for (int i = 0; srv_scopes[i]; i++)
        if (!strcmp(scope, srv_scopes[i]))
            return i < 3 ? 1 : 0;
    return -1;
}

int srv_role_valid(const char *role)
{
    return !strcmp(role, "admin") || !strcmp(role, "data_owner") || !strcmp(role, "analyst") ||
           !strcmp(role, "auditor");
}

static void key_digest(const char *secret_hex, uint8_t out[32])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)"blindlink-key-v1", 16);
    crypto_hash_sha256_update(&h, (const unsigned char *)secret_hex, strlen(secret_hex));
    crypto_hash_sha256_final(&h, out);
}

bl_status srv_authenticate(sqlite3 *db, const char *header, srv_principal *p, bl_error *err)
{
    memset(p, 0, sizeof *p);
    if (!header || !*header)
        return bl_error_set(err, BL_EAUTH, "no API key: send 'Authorization: Bearer <key>'");
    if (!strncasecmp(header, "Bearer ", 7))
        header += 7;
    while (*header == ' ')
        header++;
    if (!*header)
        return bl_error_set(err, BL_EAUTH, "no API key: send 'Authorization: Bearer <key>'");
    size_t plen = strlen(KEY_PREFIX);
    if (strlen(header) != plen + SRV_KID_HEX + 1 + 64 || strncmp(header, KEY_PREFIX, plen) != 0 ||
        header[plen + SRV_KID_HEX] != '_')
        return bl_error_set(err, BL_EAUTH, "malformed API key");
    char kid[SRV_KID_HEX + 1];
    memcpy(kid, header + plen, SRV_KID_HEX);
    kid[SRV_KID_HEX] = '\0';
    char secret[65];
    memcpy(secret, header + plen + SRV_KID_HEX + 1, 64);
    secret[64] = '\0';
    if (!srv_is_hex(kid, SRV_KID_HEX) || !srv_is_hex(secret, 64)) {
        sodium_memzero(secret, sizeof secret);
        return bl_error_set(err, BL_EAUTH, "malformed API key");
    }
    uint8_t digest[32];
    key_digest(secret, digest);
    sodium_memzero(secret, sizeof secret);

    int cached;
    sqlite3_stmt *s = srv_prep_hot(db,
                                   "SELECT k.org_id, o.name, k.role, k.hash, k.expires, k.revoked "
                                   "FROM keys k JOIN orgs o ON o.id = k.org_id WHERE k.id = ?",
                                   &cached, err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, kid, -1, SQLITE_TRANSIENT);
    uint8_t stored[32];
    memset(stored, 0xa5, sizeof stored); /* compare against a dummy when unknown */
    int found = 0;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 3) == 32) {
        found = 1;
        memcpy(stored, sqlite3_column_blob(s, 3), 32);
        snprintf(p->org, sizeof p->org, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(p->org_name, sizeof p->org_name, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(p->role, sizeof p->role, "%s", (const char *)sqlite3_column_text(s, 2));
    }
    int match = crypto_verify_32(stored, digest) == 0;
    int64_t expires = found && sqlite3_column_type(s, 4) != SQLITE_NULL
                          ? sqlite3_column_int64(s, 4) : 0;
    int revoked = found && sqlite3_column_type(s, 5) != SQLITE_NULL;
    srv_hot_done(s, cached);
    snprintf(p->kid, sizeof p->kid, "%s", kid);
    if (!found || !match) {
        p->org[0] = p->org_name[0] = p->role[0] = '\0';
        return bl_error_set(err, BL_EAUTH, "unknown API key");
    }
    if (revoked)
        return bl_error_set(err, BL_EAUTH, "API key %s has been revoked", kid);
    if (expires && bl_srv_now() >= expires) {
        char when[32];
        srv_time_fmt(expires, when, sizeof when);
        return bl_error_set(err, BL_EAUTH, "API key %s expired at %s", kid, when);
    }
    return BL_OK;
}

bl_status srv_org_resolve(sqlite3 *db, const char *ref, char id[SRV_ID_HEX + 1], bl_error *err)
{
    sqlite3_stmt *s = srv_prep(db, "SELECT id FROM orgs WHERE id = ?1 OR name = ?1", err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, ref, -1, SQLITE_TRANSIENT);
    bl_status rc = BL_OK;
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(id, SRV_ID_HEX + 1, "%s", (const char *)sqlite3_column_text(s, 0));
    else
        rc = bl_error_set(err, BL_ENOTFOUND, "no organisation '%s'", ref);
    sqlite3_finalize(s);
    return rc;
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

bl_status srv_display_name_check(const char *what, const char *s, bl_error *err)
{
    /* names are shown to other parties: a right-to-left override or an
     * invisible control can make "bank\u202Egnp.exe" read as another name */
    utf8proc_ssize_t n = (utf8proc_ssize_t)strlen(s), i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, n - i, &cp);
        if (k <= 0)
            return bl_error_set(err, BL_EINVAL, "%s is not valid UTF-8 (byte %ld)", what, (long)i + 1);
        utf8proc_category_t cat = utf8proc_category(cp);
        int bidi = cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
                   (cp >= 0x2066 && cp <= 0x2069);
        if (bidi || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_ZL ||
            cat == UTF8PROC_CATEGORY_ZP)
            return bl_error_set(err, BL_EINVAL,
                                "%s must not contain U+%04X (%s), at byte %ld: it changes how the "
                                "name is displayed",
                                what, (unsigned)cp,
                                bidi ? "a bidirectional control" : "a control or separator",
                                (long)i + 1);
        i += k;
    }
    return BL_OK;
}

bl_status srv_org_create(sqlite3 *db, const char *name, const char *kind, char id_out[33],
                         bl_error *err)
{
    if (!name_ok(name, 128))
        return bl_error_set(err, BL_EINVAL, "organisation name must be 1-128 printable characters");
    if (srv_display_name_check("organisation name", name, err) != BL_OK ||
        srv_display_name_check("organisation kind", kind && *kind ? kind : "other", err) != BL_OK)
        return BL_EINVAL;
    if (!kind || !*kind)
        kind = "other";
    if (!name_ok(kind, 40))
        return bl_error_set(err, BL_EINVAL, "organisation kind must be 1-40 printable characters");
    if (srv_is_hex(name, SRV_ID_HEX))
        return bl_error_set(err, BL_EINVAL, "organisation name must not look like an id");
    char id[SRV_ID_HEX + 1];
    srv_random_hex(id, SRV_ID_HEX / 2);
    sqlite3_stmt *s = srv_prep(db, "INSERT INTO orgs(id,name,kind,created) VALUES(?,?,?,?)", err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, bl_srv_now());
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_CONSTRAINT)
        return bl_error_set(err, BL_ESTATE, "organisation '%s' already exists", name);
    if (rc != SQLITE_DONE)
        return bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(db));
    memcpy(id_out, id, SRV_ID_HEX + 1);
    return BL_OK;
}

bl_status srv_key_create(sqlite3 *db, const char *org_id, const char *role, int64_t expires_in,
                         char *key_out, char kid_out[17], bl_error *err)
{
    if (!srv_role_valid(role))
        return bl_error_set(err, BL_EINVAL,
                            "role '%s' is not one of admin, data_owner, analyst, auditor", role);
    if (expires_in < 0)
        return bl_error_set(err, BL_EINVAL, "expiry must be positive");
    char kid[SRV_KID_HEX + 1], secret[65];
    srv_random_hex(kid, SRV_KID_HEX / 2);
    srv_random_hex(secret, 32);
    uint8_t digest[32];
    key_digest(secret, digest);
    sqlite3_stmt *s = srv_prep(
        db, "INSERT INTO keys(id,org_id,role,hash,created,expires) VALUES(?,?,?,?,?,?)", err);
    if (!s) {
        sodium_memzero(secret, sizeof secret);
        return BL_EIO;
    }
    int64_t now = bl_srv_now();
    sqlite3_bind_text(s, 1, kid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, org_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 4, digest, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, now);
    if (expires_in > 0)
        sqlite3_bind_int64(s, 6, now + expires_in);
    else
        sqlite3_bind_null(s, 6);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        sodium_memzero(secret, sizeof secret);
        return bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(db));
    }
    snprintf(key_out, BL_SRV_KEY_MAX, KEY_PREFIX "%s_%s", kid, secret);
    sodium_memzero(secret, sizeof secret);
    memcpy(kid_out, kid, SRV_KID_HEX + 1);
    return BL_OK;
}

int srv_purpose_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

bl_status srv_purpose_add(sqlite3 *db, const char *name, const char *desc, bl_error *err)
{
    if (!srv_purpose_name_valid(name))
        return bl_error_set(err, BL_EINVAL, "purpose name '%s' must match [a-z0-9_]{2,40}", name);
    if (!desc || !name_ok(desc, 400))
        return bl_error_set(err, BL_EINVAL, "purpose description must be 1-400 printable characters");
    sqlite3_stmt *s = srv_prep(db, "INSERT INTO purposes(name,description,builtin) VALUES(?,?,0)",
                               err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, desc, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_CONSTRAINT)
        return bl_error_set(err, BL_ESTATE, "purpose '%s' already exists", name);
    if (rc != SQLITE_DONE)
        return bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(db));
    return BL_OK;
}

/* ---- admin CLI entry points (audited as the "cli" principal) ------------------------ */

static void admin_audit(bl_store *st, const char *action, const char *resource, int allowed,
                        const char *reason)
{
    srv_audit a = {.org = "-", .key = "-", .role = "cli-admin", .action = action,
                   .resource = resource, .purpose = "-", .allowed = allowed, .reason = reason};
    bl_error e = {0};
    if (srv_audit_append(st, &a, &e) != BL_OK)
        fprintf(stderr, "blindlink admin: audit: %s\n", e.msg);
}

bl_status bl_admin_org_add(bl_store *st, const char *name, const char *kind, char id_out[33],
                           bl_error *err)
{
    bl_status rc = srv_org_create(st->conns[0], name, kind, id_out, err);
    char res[64];
    snprintf(res, sizeof res, "org/%s", rc == BL_OK ? id_out : "-");
    admin_audit(st, "org.create", res, rc == BL_OK, rc == BL_OK ? "created" : err->msg);
    return rc;
}

bl_status bl_admin_key_add(bl_store *st, const char *org, const char *role, int64_t expires_in,
                           char *key_out, char kid_out[17], bl_error *err)
{
    char id[SRV_ID_HEX + 1];
    bl_status rc = srv_org_resolve(st->conns[0], org, id, err);
    if (rc == BL_OK)
        rc = srv_key_create(st->conns[0], id, role, expires_in, key_out, kid_out, err);
    char res[80], why[128];
    snprintf(res, sizeof res, "org/%s/key/%s", rc == BL_OK ? id : "-", rc == BL_OK ? kid_out : "-");
    snprintf(why, sizeof why, "issued %s key", role);
    admin_audit(st, "key.create", res, rc == BL_OK, rc == BL_OK ? why : err->msg);
    return rc;
}

bl_status bl_admin_key_revoke(bl_store *st, const char *kid, bl_error *err)
{
    sqlite3_stmt *s = srv_prep(st->conns[0],
                               "UPDATE keys SET revoked=? WHERE id=? AND revoked IS NULL", err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_int64(s, 1, bl_srv_now());
    sqlite3_bind_text(s, 2, kid, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    bl_status r = BL_OK;
    if (rc != SQLITE_DONE)
        r = bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(st->conns[0]));
    else if (sqlite3_changes(st->conns[0]) == 0)
        r = bl_error_set(err, BL_ENOTFOUND, "no active key '%s'", kid);
    char res[64];
    snprintf(res, sizeof res, "key/%.16s", kid);
    admin_audit(st, "key.revoke", res, r == BL_OK, r == BL_OK ? "revoked" : err->msg);
    return r;
}

bl_status bl_admin_purpose_add(bl_store *st, const char *name, const char *description,
                               bl_error *err)
{
    bl_status rc = srv_purpose_add(st->conns[0], name, description, err);
    char res[64];
    snprintf(res, sizeof res, "purpose/%.40s", name);
    admin_audit(st, "purpose.create", res, rc == BL_OK, rc == BL_OK ? "added" : err->msg);
    return rc;
}

bl_status bl_admin_bootstrap(bl_store *st, const char *org_name, char *key_out, char kid_out[17],
                             bl_error *err)
{
    sqlite3 *db = st->conns[0];
    if (srv_begin(db, err) != BL_OK)
        return BL_EIO;
    sqlite3_stmt *s = srv_prep(db, "SELECT COUNT(*) FROM keys WHERE role='admin'", err);
    int n = 0;
    if (s && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (!s) {
        srv_rollback(db);
        return BL_EIO;
    }
    if (n > 0) {
        srv_rollback(db);
        admin_audit(st, "admin.bootstrap", "-", 0, "an administrator already exists");
        return bl_error_set(err, BL_ESTATE,
                            "already bootstrapped: an administrator key exists (use an admin key "
                            "or 'blindlink admin key add')");
    }
    char id[SRV_ID_HEX + 1];
    bl_status rc = srv_org_create(db, org_name, "operator", id, err);
    if (rc == BL_OK)
        rc = srv_key_create(db, id, "admin", 0, key_out, kid_out, err);
    if (rc == BL_OK)
        rc = srv_commit(db, err);
    if (rc != BL_OK) {
        srv_rollback(db);
        return rc;
    }
    char res[80];
    snprintf(res, sizeof res, "org/%s/key/%s", id, kid_out);
    admin_audit(st, "admin.bootstrap", res, 1, "first administrator created");
    return BL_OK;
}

bl_status bl_admin_list(bl_store *st, void *fpv, bl_error *err)
{
    FILE *fp = fpv;
    sqlite3 *db = st->conns[0];
    sqlite3_stmt *s = srv_prep(db, "SELECT id, name, kind FROM orgs ORDER BY created, name", err);
    if (!s)
        return BL_EIO;
    fprintf(fp, "organisations:\n");
    while (sqlite3_step(s) == SQLITE_ROW)
        fprintf(fp, "  %s  %-24s %s\n", sqlite3_column_text(s, 0), sqlite3_column_text(s, 1),
                sqlite3_column_text(s, 2));
    sqlite3_finalize(s);
    s = srv_prep(db,
                 "SELECT k.id, o.name, k.role, k.expires, k.revoked FROM keys k JOIN orgs o ON "
                 "o.id=k.org_id ORDER BY k.created",
                 err);
    if (!s)
        return BL_EIO;
    fprintf(fp, "keys:\n");
    int64_t now = bl_srv_now();
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *state = "active";
        if (sqlite3_column_type(s, 4) != SQLITE_NULL)
            state = "revoked";
        else if (sqlite3_column_type(s, 3) != SQLITE_NULL && sqlite3_column_int64(s, 3) <= now)
            state = "expired";
        fprintf(fp, "  %s  %-24s %-10s %s\n", sqlite3_column_text(s, 0),
                sqlite3_column_text(s, 1), sqlite3_column_text(s, 2), state);
    }
    sqlite3_finalize(s);
    s = srv_prep(db, "SELECT name, description FROM purposes ORDER BY builtin DESC, name", err);
    if (!s)
        return BL_EIO;
    fprintf(fp, "purposes:\n");
    while (sqlite3_step(s) == SQLITE_ROW)
        fprintf(fp, "  %-26s %s\n", sqlite3_column_text(s, 0), sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    return BL_OK;
}
