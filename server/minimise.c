/* server/minimise.c - minimisation enforced, not only declared: a project
 * must register the linkage schema its parties encode with (POST /projects
 * refuses a project without one, and a project created before this rule,
 * which has none, accepts no upload and no run). The analyst maps
 * every hashed feature of the schema to a scope ("schema_features"); the
 * service refuses a mapping that leaves a feature out, names a scope the
 * project does not request, or contradicts what a well-known feature name
 * says it carries (a feature "dob" is date_of_birth, whatever the analyst
 * claims). The schema's fingerprint (bl_schema_fingerprint: everything that
 * changes the bits) is stored, and an upload must carry the same one: a
 * binary CLK file in its header (blindlink encode writes it), a JSON upload
 * as "schema_fingerprint". The service cannot see the values hashed: what it
 * verifies is that every upload was made with the schema the parties
 * agreed to, and that this schema hashes only features within the scopes. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/clk.h>
#include <blindlink/schema.h>
#include <sodium.h>

#include "srv.h"

/* Feature identifiers whose meaning is plain, by scope (compared after
 * lower-casing and dropping everything but letters and digits). */
static const struct {
    const char *scope;
    const char *const names[16];
} known[] = {
    {"name", {"name", "firstname", "givenname", "forename", "forenames", "surname", "lastname",
              "familyname", "middlename", "fullname", "othernames", "maidenname", "initials", NULL}},
    {"email", {"email", "emailaddress", "mail", NULL}},
    {"date_of_birth", {"dob", "dateofbirth", "birthdate", "birthday", "yob", "yearofbirth",
                       "birthyear", "age", NULL}},
    {"sex", {"sex", "gender", NULL}},
    {"address", {"address", "street", "streetaddress", "addressline1", "addressline2", "city",
                 "town", "suburb", "housenumber", NULL}},
    {"postcode", {"postcode", "zip", "zipcode", "postalcode", NULL}},
    {"phone", {"phone", "phonenumber", "mobile", "telephone", "tel", NULL}},
    {"profile_photo", {"photo", "profilephoto", "avatar", NULL}},
};

/* The scope a feature name plainly carries, or NULL. */
static const char *known_scope(const char *id)
{
    char norm[64];
    size_t n = 0;
    for (const char *p = id; *p && n + 1 < sizeof norm; p++)
        if (isalnum((unsigned char)*p))
            norm[n++] = (char)tolower((unsigned char)*p);
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        for (int j = 0; known[i].names[j]; j++)
            if (!strcmp(norm, known[i].names[j]))
                return known[i].scope;
    return NULL;
}

static int has_scope(const srv_project_req *q, const char *scope)
{
    for (int i = 0; i < q->nscopes; i++)
        if (!strcmp(q->scopes[i], scope))
            return 1;
    return 0;
}

/* Every hashed feature mapped to a scope the project requests; no mapping
 * for a feature the schema does not hash. */
static bl_status check_mapping(const bl_schema *sc, json_t *map, const srv_project_req *q,
                               bl_error *err)
{
    size_t nf = bl_schema_nfeatures(sc), hashed = 0;
    for (size_t i = 0; i < nf; i++) {
        if (bl_schema_feature_ignored(sc, i))
            continue;
        hashed++;
        const char *id = bl_schema_feature_id(sc, i);
        json_t *v = json_object_get(map, id);
        if (!json_is_string(v))
            return bl_error_set(err, BL_EINPUT,
                                "schema feature '%.64s' (features[%zu]) is hashed but "
                                "'schema_features' gives it no scope",
                                id, i);
        const char *scope = json_string_value(v);
        if (srv_scope_kind(scope) < 0)
            return bl_error_set(err, BL_EINPUT,
                                "schema_features.%.64s: '%.40s' is not a known scope (GET "
                                "/api/v1/scopes)",
                                id, scope);
        const char *plain = known_scope(id);
        if (plain && strcmp(plain, scope))
            return bl_error_set(err, BL_EINPUT,
                                "schema_features.%.64s: a feature named '%.64s' carries %s, not "
                                "'%.40s'",
                                id, id, plain, scope);
        if (!has_scope(q, scope))
            return bl_error_set(err, BL_EINPUT,
                                "schema feature '%.64s' carries scope '%.40s', which the project "
                                "does not request: the schema exceeds the project's scopes",
                                id, scope);
    }
    if (json_object_size(map) != hashed)
        return bl_error_set(err, BL_EINPUT,
                            "'schema_features' maps %zu feature(s) but the schema hashes %zu: map "
                            "exactly the hashed features",
                            json_object_size(map), hashed);
    return BL_OK;
}

bl_status srv_schema_register(json_t *body, const srv_project_req *q, char fp_hex[65],
                              char **features_json, bl_error *err)
{
    fp_hex[0] = '\0';
    *features_json = NULL;
    json_t *schema = json_object_get(body, "schema");
    json_t *map = json_object_get(body, "schema_features");
    json_t *variant = json_object_get(body, "schema_variant");
    if (!schema && !map && !variant)
        return bl_error_set(err, BL_EINPUT,
                            "a project must register the linkage schema its parties encode with: "
                            "'schema' (the schema, a JSON object) and 'schema_features' ({feature: "
                            "scope}, every hashed feature mapped to one of the project's scopes) "
                            "are required");
    if (!json_is_object(schema) || !json_is_object(map))
        return bl_error_set(err, BL_EINPUT,
                            "'schema' (the linkage schema, a JSON object) and 'schema_features' "
                            "({feature: scope}) go together");
    if (variant && (!json_is_string(variant) || json_string_length(variant) > 200))
        return bl_error_set(err, BL_EINPUT, "'schema_variant' must be a string (at most 200 bytes)");
    char *text = json_dumps(schema, JSON_COMPACT);
    if (!text)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    bl_schema *sc = NULL;
    bl_status rc = bl_schema_parse(text, strlen(text), "schema", &sc, err);
    free(text);
    if (rc != BL_OK) {
        char why[BL_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return bl_error_set(err, BL_EINPUT, "%s", why);
    }
    rc = check_mapping(sc, map, q, err);
    if (rc == BL_OK) {
        uint8_t fp[32];
        bl_schema_fingerprint(sc, variant ? json_string_value(variant) : NULL, fp);
        srv_hex(fp, 32, fp_hex);
        json_t *rec = json_pack("{s:O,s:i,s:s}", "features", map, "bits",
                                (int)bl_schema_filter_bits(sc), "variant",
                                variant ? json_string_value(variant) : "");
        *features_json = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(rec);
        if (!*features_json)
            rc = bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_schema_free(sc);
    return rc;
}

bl_status srv_schema_fingerprint_parse(json_t *v, bl_clkset *set, bl_error *err)
{
    if (!v)
        return BL_OK;
    size_t bin = 0;
    if (!json_is_string(v) || json_string_length(v) != 2 * BL_FINGERPRINT_BYTES ||
        sodium_hex2bin(set->fingerprint, BL_FINGERPRINT_BYTES, json_string_value(v),
                       json_string_length(v), NULL, &bin, NULL) != 0 ||
        bin != BL_FINGERPRINT_BYTES)
        return bl_error_set(err, BL_EINPUT, "'schema_fingerprint' must be %d hex digits",
                            2 * BL_FINGERPRINT_BYTES);
    set->has_fingerprint = 1;
    return BL_OK;
}

const char *srv_no_schema_msg(const srv_project *pj, char *buf, size_t n)
{
    snprintf(buf, n, "project %s has no registered linkage schema (it was created before the "
             "schema became part of every agreement), so minimisation cannot be verified and no "
             "upload or run is allowed: create a new project with 'schema' and 'schema_features'",
             pj->id);
    return buf;
}

/* The filter length of the project's registered schema ("bits" of its
 * schema_features record), or 0 when not recorded or when the registered
 * variant changes it. */
static uint32_t registered_bits(sqlite3 *db, const char *pid)
{
    uint32_t bits = 0;
    sqlite3_stmt *s = srv_prep(db, "SELECT schema_features FROM projects WHERE id=?", NULL);
    if (!s)
        return 0;
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        json_t *rec = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
        json_int_t b = json_integer_value(json_object_get(rec, "bits"));
        const char *var = json_string_value(json_object_get(rec, "variant"));
        /* "bits" is the schema's l: a hardening (xor halves it, balance
         * doubles it) or the field layout makes other lengths, which the
         * fingerprint of the variant vouches for instead */
        const int same_l = !var || (!strstr(var, "harden") && !strstr(var, "layout"));
        bits = same_l && b > 0 && b <= UINT32_MAX ? (uint32_t)b : 0;
        json_decref(rec);
    }
    sqlite3_finalize(s);
    return bits;
}

int srv_schema_upload_ok(srv_req *r, const srv_project *pj, const bl_clkset *set)
{
    if (!pj->schema_fp[0]) {
        char why[400];
        srv_problem(r, 403, "%s", srv_no_schema_msg(pj, why, sizeof why));
        return 0;
    }
    char got[65];
    if (!set->has_fingerprint) {
        srv_problem(r, 400, "project %s registered a linkage schema: the upload must carry its "
                    "fingerprint (binary CLK header, or 'schema_fingerprint' in JSON)",
                    pj->id);
        return 0;
    }
    srv_hex(set->fingerprint, BL_FINGERPRINT_BYTES, got);
    if (sodium_memcmp(got, pj->schema_fp, 64) != 0) {
        srv_problem(r, 403, "the encodings were made with a schema whose fingerprint %.16s... "
                    "differs from the one registered for project %s (%.16s...): encode with the "
                    "agreed schema",
                    got, pj->id, pj->schema_fp);
        return 0;
    }
    /* the fingerprint is the uploader's claim: the length must also be the
     * schema's, or one party's short records would stall every run (the
     * honest party's upload refused as "different from the others") */
    const uint32_t bits = registered_bits(r->db, pj->id);
    if (bits && set->nbits != bits) {
        srv_problem(r, 400,
                    "the encodings have %u bits but the schema registered for project %s "
                    "makes %u-bit encodings: encode with the agreed schema",
                    set->nbits, pj->id, bits);
        return 0;
    }
    return 1;
}
