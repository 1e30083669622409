/* lib/encode/schema_compare.c - what differs between two linkage schemas:
 * both are brought to linkage schema v3 (bl_schema_to_v3_json, so a v2 and
 * its converted v3 compare equal) and the two JSON documents are walked
 * together, reporting every differing value with its JSON path. Whether
 * the CLKs stay comparable is the fingerprint's business
 * (bl_schema_fingerprint); this says why they are not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <blindlink/schema.h>

#define MAX_DIFFS 1000

typedef struct dctx {
    bl_schema_diag *d;
    size_t n, cap;
    int oom;
} dctx;

/* short rendering of a value for a message ("absent" when missing) */
static void show(const json_t *v, char *buf, size_t cap)
{
    if (!v) {
        snprintf(buf, cap, "absent");
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(buf, cap, "?");
        return;
    }
    if (strlen(s) >= cap && cap > 4)
        snprintf(buf, cap, "%.*s...", (int)cap - 4, s);
    else
        snprintf(buf, cap, "%s", s);
    free(s);
}

static void add(dctx *c, const char *path, const json_t *a, const json_t *b)
{
    if (c->n >= MAX_DIFFS || c->oom)
        return;
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 16;
        bl_schema_diag *nd = realloc(c->d, nc * sizeof *nd);
        if (!nd) {
            c->oom = 1;
            return;
        }
        c->d = nd;
        c->cap = nc;
    }
    bl_schema_diag *d = &c->d[c->n++];
    char va[160], vb[160];
    show(a, va, sizeof va);
    show(b, vb, sizeof vb);
    snprintf(d->path, sizeof d->path, "%s", path);
    snprintf(d->msg, sizeof d->msg, "%s in the first, %s in the second", va, vb);
}

static void walk(dctx *c, const char *path, const json_t *a, const json_t *b)
{
    char sub[160];
    if (a && b && json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            walk(c, sub, v, json_object_get(b, k));
        }
        json_object_foreach((json_t *)b, k, v)
            if (!json_object_get(a, k)) {
                snprintf(sub, sizeof sub, "%s.%s", path, k);
                add(c, sub, NULL, v);
            }
        return;
    }
    if (a && b && json_is_array(a) && json_is_array(b)) {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na || i < nb; i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            walk(c, sub, json_array_get(a, i), json_array_get(b, i));
        }
        return;
    }
    if (!a || !b || !json_equal((json_t *)a, (json_t *)b))
        add(c, path, a, b);
}

static bl_status v3_doc(const bl_schema *s, json_t **out, bl_error *err)
{
    char *text = NULL;
    bl_status st = bl_schema_to_v3_json(s, &text, err);
    if (st)
        return st;
    json_error_t je;
    *out = json_loads(text, 0, &je);
    free(text);
    if (!*out)
        return bl_error_set(err, BL_EINTERNAL, "schema compare: v3 form does not parse: %s",
                            je.text);
    return BL_OK;
}

bl_status bl_schema_compare(const bl_schema *a, const bl_schema *b, bl_schema_diag **diffs,
                            size_t *ndiffs, bl_error *err)
{
    *diffs = NULL;
    *ndiffs = 0;
    if (!a || !b)
        return bl_error_set(err, BL_EINVAL, "schema compare: NULL schema");
    json_t *ja = NULL, *jb = NULL;
    bl_status st = v3_doc(a, &ja, err);
    if (!st)
        st = v3_doc(b, &jb, err);
    dctx c = {0};
    if (!st)
        walk(&c, "$", ja, jb);
    json_decref(ja);
    json_decref(jb);
    if (!st && c.oom)
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    if (st) {
        free(c.d);
        return st;
    }
    *diffs = c.d;
    *ndiffs = c.n;
    return BL_OK;
}
