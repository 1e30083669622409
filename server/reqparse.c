/* server/reqparse.c - parsing and validation of JSON request bodies.
 *
 * Every body is parsed with jansson (duplicate keys rejected) and checked
 * field by field: unknown fields, wrong types, out-of-range values and
 * over-long strings are refused with a message naming the field and the rule.
 * These functions are pure (no store access) so the fuzz target can drive
 * them directly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

/* jansson's message without its " near '...'" part: that part is the
 * request's own text (a subject key in an erasure request), and refusals
 * go into the audit log, which must never hold one. Line, column and byte
 * say where. */
static const char *json_reason(const json_error_t *je, char *buf, size_t cap)
{
    const char *near = strstr(je->text, " near ");
    const size_t n = near ? (size_t)(near - je->text) : strlen(je->text);
    snprintf(buf, cap, "%.*s", (int)n, je->text);
    return buf;
}

json_t *srv_json_parse(const char *body, size_t len, bl_error *err)
{
    if (!body || len == 0) {
        bl_error_set(err, BL_EINPUT, "request body is empty; a JSON object is required");
        return NULL;
    }
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        char why[JSON_ERROR_TEXT_LENGTH];
        bl_error_set(err, BL_EINPUT, "malformed JSON at line %d, column %d: %s", je.line, je.column,
                     json_reason(&je, why, sizeof why));
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        bl_error_set(err, BL_EINPUT, "request body must be a JSON object");
        return NULL;
    }
    return o;
}

/* Refuse fields not in the NULL-terminated `allowed` list. */
static bl_status only_fields(json_t *o, const char *const *allowed, bl_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (!strcmp(k, allowed[i]))
                ok = 1;
        if (!ok)
            return bl_error_set(err, BL_EINPUT, "field '%.64s' is not allowed here", k);
    }
    return BL_OK;
}

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* Copy string field `k` into out (cap bytes). required: error if absent. */
static bl_status get_str(json_t *o, const char *k, int required, size_t minlen, char *out,
                         size_t cap, bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        if (required)
            return bl_error_set(err, BL_EINPUT, "field '%s' is required", k);
        return BL_EOF;
    }
    if (!json_is_string(v))
        return bl_error_set(err, BL_EINPUT, "field '%s' must be a string", k);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (minlen == cap - 1 && n != minlen)
        return bl_error_set(err, BL_EINPUT, "field '%s' must be exactly %zu characters long", k,
                            minlen);
    if (n < minlen || n >= cap)
        return bl_error_set(err, BL_EINPUT, "field '%s' must be %zu to %zu characters long", k,
                            minlen, cap - 1);
    if (strlen(s) != n || !printable(s))
        return bl_error_set(err, BL_EINPUT, "field '%s' must not contain control characters", k);
    memcpy(out, s, n + 1);
    return BL_OK;
}

static bl_status get_num(json_t *o, const char *k, double lo, double hi, int lo_open, double *out,
                         bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return BL_EOF;
    if (!json_is_number(v))
        return bl_error_set(err, BL_EINPUT, "field '%s' must be a number", k);
    double d = json_number_value(v);
    if (!isfinite(d) || d > hi || d < lo || (lo_open && d <= lo))
        return bl_error_set(err, BL_EINPUT, "field '%s' must be in %s%g, %g]", k,
                            lo_open ? "(" : "[", lo, hi);
    *out = d;
    return BL_OK;
}

static bl_status get_int(json_t *o, const char *k, long long lo, long long hi, long long *out,
                         bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return BL_EOF;
    if (!json_is_integer(v))
        return bl_error_set(err, BL_EINPUT, "field '%s' must be an integer", k);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return bl_error_set(err, BL_EINPUT, "field '%s' must be between %lld and %lld", k, lo, hi);
    *out = x;
    return BL_OK;
}

static bl_status get_bool(json_t *o, const char *k, int *out, bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return BL_EOF;
    if (!json_is_boolean(v))
        return bl_error_set(err, BL_EINPUT, "field '%s' must be true or false", k);
    *out = json_is_true(v);
    return BL_OK;
}

#define CHECK(call)                                                                           \
    do {                                                                                      \
        bl_status rc_ = (call);                                                               \
        if (rc_ != BL_OK && rc_ != BL_EOF)                                                    \
            return rc_;                                                                       \
    } while (0)

int srv_subject_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SRV_SUBJECT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':' || c == '='))
            return 0;
    }
    return 1;
}

bl_status srv_parse_project(json_t *o, srv_project_req *r, bl_error *err)
{
    static const char *const allowed[] = {"name", "purpose", "parties", "scopes", "result_type",
                                          "reveal_scores", "threshold", "mode", "merge_threshold",
                                          "retention_days", "max_candidates", "top_k",
                                          "schema", "schema_features", "schema_variant", NULL};
    memset(r, 0, sizeof *r);
    CHECK(only_fields(o, allowed, err));
    CHECK(get_str(o, "name", 1, 1, r->name, sizeof r->name, err));
    CHECK(get_str(o, "purpose", 1, 2, r->purpose, sizeof r->purpose, err));
    if (!srv_purpose_name_valid(r->purpose))
        return bl_error_set(err, BL_EINPUT, "field 'purpose': '%s' is not a purpose name", r->purpose);
    json_t *parties = json_object_get(o, "parties");
    if (!json_is_array(parties) || json_array_size(parties) < 2 ||
        json_array_size(parties) > SRV_MAX_PARTIES)
        return bl_error_set(err, BL_EINPUT,
                            "field 'parties' must be an array of 2 to %d data-owner organisations",
                            SRV_MAX_PARTIES);
    size_t i;
    json_t *v;
    json_array_foreach(parties, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof r->parties[0] || !printable(json_string_value(v)))
            return bl_error_set(err, BL_EINPUT,
                                "field 'parties[%zu]' must be an organisation id or name", i);
        snprintf(r->parties[i], sizeof r->parties[i], "%s", json_string_value(v));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->parties[j], r->parties[i]))
                return bl_error_set(err, BL_EINPUT, "field 'parties[%zu]' repeats '%s'", i,
                                    r->parties[i]);
    }
    r->nparties = (int)json_array_size(parties);
    json_t *scopes = json_object_get(o, "scopes");
    if (!json_is_array(scopes) || json_array_size(scopes) == 0 ||
        json_array_size(scopes) > SRV_MAX_SCOPES)
        return bl_error_set(err, BL_EINPUT, "field 'scopes' must be an array of 1 to %d scopes",
                            SRV_MAX_SCOPES);
    json_array_foreach(scopes, i, v)
    {
        if (!json_is_string(v) || srv_scope_kind(json_string_value(v)) < 0)
            return bl_error_set(err, BL_EINPUT,
                                "field 'scopes[%zu]' is not a known scope (see GET /api/v1/scopes)",
                                i);
        snprintf(r->scopes[i], sizeof r->scopes[i], "%s", json_string_value(v));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->scopes[j], r->scopes[i]))
                return bl_error_set(err, BL_EINPUT, "field 'scopes[%zu]' repeats '%s'", i,
                                    r->scopes[i]);
    }
    r->nscopes = (int)json_array_size(scopes);
    snprintf(r->result_type, sizeof r->result_type, "groups");
    CHECK(get_str(o, "result_type", 0, 1, r->result_type, sizeof r->result_type, err));
    if (strcmp(r->result_type, "groups") && strcmp(r->result_type, "owner_rows"))
        return bl_error_set(err, BL_EINPUT, "field 'result_type' must be 'groups' or 'owner_rows'");
    CHECK(get_bool(o, "reveal_scores", &r->reveal_scores, err));
    r->threshold = 0.8;
    CHECK(get_num(o, "threshold", 0.0, 1.0, 1, &r->threshold, err));
    snprintf(r->mode, sizeof r->mode, "greedy");
    CHECK(get_str(o, "mode", 0, 1, r->mode, sizeof r->mode, err));
    if (strcmp(r->mode, "greedy") && strcmp(r->mode, "probabilistic"))
        return bl_error_set(err, BL_EINPUT, "field 'mode' must be 'greedy' or 'probabilistic'");
    r->merge_threshold = 0.5;
    CHECK(get_num(o, "merge_threshold", 0.0, 1.0, 1, &r->merge_threshold, err));
    long long x = 365;
    CHECK(get_int(o, "retention_days", 1, 3650, &x, err));
    r->retention_days = (int)x;
    x = 0;
    CHECK(get_int(o, "max_candidates", 1, 1000000000000LL, &x, err));
    r->max_candidates = x;
    x = 0;
    CHECK(get_int(o, "top_k", 0, 1000000, &x, err));
    r->top_k = (int)x;
    return BL_OK;
}

bl_status srv_parse_consent(json_t *o, int purposes_optional, srv_consent_item **items, size_t *n,
                            bl_error *err)
{
    static const char *const allowed_top[] = {"subject", "purposes", "subjects", NULL};
    static const char *const allowed_item[] = {"subject", "purposes", NULL};
    *items = NULL;
    *n = 0;
    CHECK(only_fields(o, allowed_top, err));
    json_t *list = json_object_get(o, "subjects");
    size_t count;
    if (list) {
        if (json_object_get(o, "subject") || json_object_get(o, "purposes"))
            return bl_error_set(err, BL_EINPUT,
                                "give either 'subjects' or 'subject' with 'purposes', not both");
        if (!json_is_array(list) || json_array_size(list) == 0 ||
            json_array_size(list) > SRV_CONSENT_BATCH_MAX)
            return bl_error_set(err, BL_EINPUT, "field 'subjects' must be an array of 1 to %d items",
                                SRV_CONSENT_BATCH_MAX);
        count = json_array_size(list);
    } else {
        count = 1;
    }
    srv_consent_item *it = calloc(count, sizeof *it);
    if (!it)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t k = 0; k < count; k++) {
        json_t *e = list ? json_array_get(list, k) : o;
        char where[48] = "";
        if (list)
            snprintf(where, sizeof where, "subjects[%zu].", k);
        if (!json_is_object(e)) {
            free(it);
            return bl_error_set(err, BL_EINPUT, "field 'subjects[%zu]' must be an object", k);
        }
        if (list && only_fields(e, allowed_item, err) != BL_OK) {
            free(it);
            bl_error_prefix(err, "%s: ", where);
            return BL_EINPUT;
        }
        json_t *s = json_object_get(e, "subject");
        if (!json_is_string(s) || !srv_subject_valid(json_string_value(s))) {
            free(it);
            return bl_error_set(err, BL_EINPUT,
                                "field '%ssubject' must be a pseudonymous subject key of 1-%d "
                                "characters [A-Za-z0-9._:=-]",
                                where, SRV_SUBJECT_MAX);
        }
        snprintf(it[k].subject, sizeof it[k].subject, "%s", json_string_value(s));
        json_t *p = json_object_get(e, "purposes");
        if (!p && purposes_optional)
            continue;
        if (!json_is_array(p) || json_array_size(p) == 0 || json_array_size(p) > 16) {
            free(it);
            return bl_error_set(err, BL_EINPUT, "field '%spurposes' must be an array of 1 to 16 "
                                "purpose names", where);
        }
        size_t j;
        json_t *pv;
        json_array_foreach(p, j, pv)
        {
            if (!json_is_string(pv) || !srv_purpose_name_valid(json_string_value(pv))) {
                free(it);
                return bl_error_set(err, BL_EINPUT, "field '%spurposes[%zu]' is not a purpose name",
                                    where, j);
            }
            snprintf(it[k].purposes[j], sizeof it[k].purposes[j], "%s", json_string_value(pv));
        }
        it[k].npurposes = (int)json_array_size(p);
    }
    *items = it;
    *n = count;
    return BL_OK;
}

bl_status srv_parse_agreement(json_t *o, char ref[201], char sha[65], bl_error *err)
{
    static const char *const allowed[] = {"contract_ref", "document_sha256", NULL};
    CHECK(only_fields(o, allowed, err));
    CHECK(get_str(o, "contract_ref", 1, 1, ref, 201, err));
    CHECK(get_str(o, "document_sha256", 1, 64, sha, 65, err));
    for (char *c = sha; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    if (!srv_is_hex(sha, 64))
        return bl_error_set(err, BL_EINPUT, "field 'document_sha256' must be 64 hex digits");
    return BL_OK;
}

bl_status srv_parse_approve(json_t *o, char sha[65], bl_error *err)
{
    static const char *const allowed[] = {"document_sha256", NULL};
    sha[0] = '\0';
    CHECK(only_fields(o, allowed, err));
    bl_status rc = get_str(o, "document_sha256", 0, 64, sha, 65, err);
    if (rc == BL_EOF)
        return BL_OK;
    if (rc != BL_OK)
        return rc;
    for (char *c = sha; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    if (!srv_is_hex(sha, 64))
        return bl_error_set(err, BL_EINPUT, "field 'document_sha256' must be 64 hex digits");
    return BL_OK;
}

bl_status srv_parse_run(json_t *o, char name[201], double *threshold, bl_error *err)
{
    static const char *const allowed[] = {"name", "threshold", NULL};
    CHECK(only_fields(o, allowed, err));
    snprintf(name, 201, "run");
    CHECK(get_str(o, "name", 0, 1, name, 201, err));
    *threshold = -1;
    CHECK(get_num(o, "threshold", 0.0, 1.0, 1, threshold, err));
    return BL_OK;
}

bl_status srv_parse_org(json_t *o, char name[129], char kind[41], bl_error *err)
{
    static const char *const allowed[] = {"name", "kind", NULL};
    CHECK(only_fields(o, allowed, err));
    CHECK(get_str(o, "name", 1, 1, name, 129, err));
    snprintf(kind, 41, "other");
    CHECK(get_str(o, "kind", 0, 1, kind, 41, err));
    return BL_OK;
}

bl_status srv_parse_key(json_t *o, char role[16], int64_t *expires_in, bl_error *err)
{
    static const char *const allowed[] = {"role", "expires_in_days", NULL};
    CHECK(only_fields(o, allowed, err));
    CHECK(get_str(o, "role", 1, 1, role, 16, err));
    if (!srv_role_valid(role))
        return bl_error_set(err, BL_EINPUT,
                            "field 'role' must be one of admin, data_owner, analyst, auditor");
    long long d = 0;
    CHECK(get_int(o, "expires_in_days", 1, 3650, &d, err));
    *expires_in = d * SRV_DAY;
    return BL_OK;
}

bl_status srv_parse_subject(json_t *o, char subject[SRV_SUBJECT_MAX + 1], bl_error *err)
{
    static const char *const allowed[] = {"subject", NULL};
    CHECK(only_fields(o, allowed, err));
    CHECK(get_str(o, "subject", 1, 1, subject, SRV_SUBJECT_MAX + 1, err));
    if (!srv_subject_valid(subject))
        return bl_error_set(err, BL_EINPUT, "field 'subject' must match [A-Za-z0-9._:=-]{1,%d}",
                            SRV_SUBJECT_MAX);
    return BL_OK;
}

bl_status srv_parse_purpose(json_t *o, char name[41], char desc[401], bl_error *err)
{
    static const char *const allowed[] = {"name", "description", NULL};
    CHECK(only_fields(o, allowed, err));
    CHECK(get_str(o, "name", 1, 2, name, 41, err));
    if (!srv_purpose_name_valid(name))
        return bl_error_set(err, BL_EINPUT, "field 'name' must match [a-z0-9_]{2,40}");
    CHECK(get_str(o, "description", 1, 1, desc, 401, err));
    return BL_OK;
}

static bl_status count_element(void *ctx, size_t i, const char *subject, const char *clk,
                               bl_error *err)
{
    (void)ctx, (void)i, (void)subject, (void)clk, (void)err;
    return BL_OK;
}

bl_status bl_srv_validate_body(const char *kind, const char *body, size_t len, bl_error *err)
{
    if (!strcmp(kind, "encodings")) { /* uploads are parsed as a stream, never as a tree */
        size_t n = 0;
        return srv_parse_encodings_stream(body ? body : "", body ? len : 0, count_element, NULL, &n,
                                          NULL, err);
    }
    json_t *o = srv_json_parse(body, len, err);
    if (!o)
        return BL_EINPUT;
    bl_status rc;
    if (!strcmp(kind, "project")) {
        srv_project_req *r = malloc(sizeof *r);
        rc = r ? srv_parse_project(o, r, err) : BL_ENOMEM;
        if (rc == BL_OK) { /* the registered schema and its feature->scope map */
            char fp[65], *rec = NULL;
            rc = srv_schema_register(o, r, fp, &rec, err);
            free(rec);
        }
        free(r);
    } else if (!strcmp(kind, "consent") || !strcmp(kind, "withdraw")) {
        srv_consent_item *it = NULL;
        size_t n = 0;
        rc = srv_parse_consent(o, !strcmp(kind, "withdraw"), &it, &n, err);
        free(it);
    } else if (!strcmp(kind, "agreement")) {
        char ref[201], sha[65];
        rc = srv_parse_agreement(o, ref, sha, err);
    } else if (!strcmp(kind, "approve")) {
        char sha[65];
        rc = srv_parse_approve(o, sha, err);
    } else if (!strcmp(kind, "run")) {
        char name[201];
        double t;
        rc = srv_parse_run(o, name, &t, err);
    } else if (!strcmp(kind, "org")) {
        char name[129], k[41];
        rc = srv_parse_org(o, name, k, err);
    } else if (!strcmp(kind, "key")) {
        char role[16];
        int64_t e;
        rc = srv_parse_key(o, role, &e, err);
    } else if (!strcmp(kind, "erasure")) {
        char s[SRV_SUBJECT_MAX + 1];
        rc = srv_parse_subject(o, s, err);
    } else if (!strcmp(kind, "purpose")) {
        char n[41], d[401];
        rc = srv_parse_purpose(o, n, d, err);
    } else {
        rc = bl_error_set(err, BL_EINVAL, "unknown body kind '%s'", kind);
    }
    json_decref(o);
    return rc;
}

/* ---- streamed JSON uploads ---------------------------------------------------------- */

/* The frame of {"encodings":[ELEM, ...]} is scanned here by hand (white
 * space, one field name, brackets and commas: nothing else may appear), and
 * each element is parsed by jansson on its own (JSON_DISABLE_EOF_CHECK stops
 * after the element's closing brace), so memory holds one element at a time
 * instead of the whole document as a tree (about 15 times its size). */
static size_t skip_ws(const char *b, size_t len, size_t i)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

static bl_status frame_error(size_t at, const char *what, bl_error *err)
{
    return bl_error_set(err, BL_EINPUT, "malformed JSON upload at byte %zu: %s", at + 1, what);
}

/* One element: the shape of {"subject": key, "clk": base64}, then the callback. */
static bl_status stream_element(const char *b, size_t len, size_t *i, size_t k,
                                srv_encoding_cb cb, void *ctx, bl_error *err)
{
    json_error_t je;
    json_t *e = json_loadb(b + *i, len - *i, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
    if (!e) {
        char why[JSON_ERROR_TEXT_LENGTH];
        return bl_error_set(err, BL_EINPUT, "encodings[%zu]: malformed JSON at byte %zu: %s", k,
                            *i + (size_t)je.position, json_reason(&je, why, sizeof why));
    }
    *i += (size_t)je.position;
    json_t *s = json_object_get(e, "subject"), *c = json_object_get(e, "clk");
    bl_status rc = BL_OK;
    if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(s) || !json_is_string(c))
        rc = bl_error_set(err, BL_EINPUT,
                          "encodings[%zu] must be {\"subject\": string, \"clk\": base64 string}", k);
    else if (!srv_subject_valid(json_string_value(s)))
        rc = bl_error_set(err, BL_EINPUT, "encodings[%zu].subject must match [A-Za-z0-9._:=-]{1,%d}",
                          k, SRV_SUBJECT_MAX);
    else if (json_string_length(c) == 0 || json_string_length(c) > SRV_CLK_B64_MAX)
        rc = bl_error_set(err, BL_EINPUT, "encodings[%zu].clk has a bad length", k);
    else
        rc = cb(ctx, k, json_string_value(s), json_string_value(c), err);
    json_decref(e);
    return rc;
}

/* The elements of "encodings": [ELEM, ...], from the '[' at *i. */
static bl_status stream_array(const char *b, size_t len, size_t *i, srv_encoding_cb cb, void *ctx,
                              size_t *count, bl_error *err)
{
    size_t k = 0;
    if (*i >= len || b[*i] != '[')
        return bl_error_set(err, BL_EINPUT,
                            "field 'encodings' must be a non-empty array of "
                            "{\"subject\": ..., \"clk\": base64}");
    for (*i = skip_ws(b, len, *i + 1);; k++) {
        if (*i < len && b[*i] == ']' && k == 0)
            return bl_error_set(err, BL_EINPUT,
                                "field 'encodings' must be a non-empty array of "
                                "{\"subject\": ..., \"clk\": base64}");
        bl_status rc = stream_element(b, len, i, k, cb, ctx, err);
        if (rc != BL_OK)
            return rc;
        *i = skip_ws(b, len, *i);
        if (*i < len && b[*i] == ',') {
            *i = skip_ws(b, len, *i + 1);
            continue;
        }
        if (*i < len && b[*i] == ']')
            break;
        return frame_error(*i, "expected ',' or ']' after an element", err);
    }
    (*i)++;
    *count = k + 1;
    return BL_OK;
}

/* The value of "schema_fingerprint" (one small JSON value, parsed whole). */
static bl_status stream_fingerprint(const char *b, size_t len, size_t *i, json_t **fp,
                                    bl_error *err)
{
    json_error_t je;
    json_t *v = json_loadb(b + *i, len - *i, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &je);
    if (!v) {
        char why[JSON_ERROR_TEXT_LENGTH];
        return bl_error_set(err, BL_EINPUT, "schema_fingerprint: malformed JSON at byte %zu: %s",
                            *i + (size_t)je.position, json_reason(&je, why, sizeof why));
    }
    *i += (size_t)je.position;
    if (!json_is_string(v)) {
        json_decref(v);
        return bl_error_set(err, BL_EINPUT, "'schema_fingerprint' must be a hex string");
    }
    if (fp)
        *fp = v;
    else
        json_decref(v);
    return BL_OK;
}

/* The name of the field at b[i] (a '"'), for messages: at most 40 bytes. */
static bl_status field_not_allowed(const char *b, size_t len, size_t i, bl_error *err)
{
    size_t e = i + 1;
    while (e < len && e < i + 41 && b[e] != '"')
        e++;
    if (i < len && b[i] == '"')
        return bl_error_set(err, BL_EINPUT, "field '%.*s' is not allowed here", (int)(e - i - 1),
                            b + i + 1);
    return frame_error(i, "expected the field \"encodings\" or \"schema_fingerprint\"", err);
}

static int field_is(const char *b, size_t len, size_t i, const char *key)
{
    size_t n = strlen(key);
    return i + n <= len && !memcmp(b + i, key, n);
}

/* The frame: {"encodings": [...]} with an optional "schema_fingerprint"
 * before or after it, each field at most once. */
bl_status srv_parse_encodings_stream(const char *b, size_t len, srv_encoding_cb cb, void *ctx,
                                     size_t *count, json_t **fp, bl_error *err)
{
    static const char key[] = "\"encodings\"", fkey[] = "\"schema_fingerprint\"";
    size_t i = skip_ws(b, len, 0), n = 0;
    int have_enc = 0, have_fp = 0;
    bl_status rc = BL_OK;
    if (fp)
        *fp = NULL;
    if (len == 0)
        return bl_error_set(err, BL_EINPUT, "request body is empty; a JSON object is required");
    if (i >= len || b[i] != '{')
        return frame_error(i, "the upload must be a JSON object {\"encodings\": [...]}", err);
    for (i = skip_ws(b, len, i + 1); rc == BL_OK;) {
        int enc = !have_enc && field_is(b, len, i, key);
        int fpk = !enc && !have_fp && field_is(b, len, i, fkey);
        if (!enc && !fpk) {
            rc = field_not_allowed(b, len, i, err);
            break;
        }
        i = skip_ws(b, len, i + (enc ? sizeof key : sizeof fkey) - 1);
        if (i >= len || b[i] != ':') {
            rc = frame_error(i, "expected ':'", err);
            break;
        }
        i = skip_ws(b, len, i + 1);
        if (enc)
            rc = stream_array(b, len, &i, cb, ctx, &n, err), have_enc = 1;
        else
            rc = stream_fingerprint(b, len, &i, fp, err), have_fp = 1;
        i = skip_ws(b, len, i);
        if (rc != BL_OK || i >= len || b[i] != ',')
            break;
        i = skip_ws(b, len, i + 1);
    }
    if (rc == BL_OK && !have_enc)
        rc = frame_error(i, "expected the field \"encodings\"", err);
    if (rc == BL_OK && (i >= len || b[i] != '}'))
        rc = frame_error(i, "expected '}'", err);
    if (rc == BL_OK && (i = skip_ws(b, len, i + 1)) != len)
        rc = frame_error(i, "data after the JSON object", err);
    if (rc != BL_OK && fp) {
        json_decref(*fp);
        *fp = NULL;
    }
    if (rc == BL_OK)
        *count = n;
    return rc;
}
