/* lib/encode/meta.c - the encoding metadata the encoder writes into binary
 * CLK files (CONTRACTS: "normalize", "harden", and the field-level encoder's
 * "layout"/"fields") and the check that two files were encoded alike,
 * which `match` (and `train`) run before comparing anything. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/encode.h>

/* Value of `key` in meta text `meta` as canonical JSON text (malloc'd), or
 * the default for an absent key; NULL on parse failure. */
static char *meta_value(const char *meta, const char *key)
{
    static const struct { const char *key, *dflt; } defaults[] = {
        {"layout", "\"record\""}, {"normalize", "\"none\""}, {"harden", "\"none\""}, {"fields", "null"}};
    const char *dflt = "null";
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (!strcmp(defaults[i].key, key))
            dflt = defaults[i].dflt;
    if (!meta)
        return strdup(dflt);
    json_error_t je;
    json_t *o = json_loads(meta, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    json_t *v = json_object_get(o, key);
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup(dflt);
    json_decref(o);
    return s;
}

/* Where two "fields" values (arrays of field objects) first differ, as
 * "[i] (\"name\") \"key\"" into buf, with the two members' JSON text in *xa
 * and *xb (malloc'd); 0 when no such place was found (the caller then
 * prints the whole values). */
static int fields_diff(const char *va, const char *vb, char *buf, size_t cap, char **xa, char **xb)
{
    json_t *a = json_loads(va, JSON_DECODE_ANY, NULL), *b = json_loads(vb, JSON_DECODE_ANY, NULL);
    int found = 0;
    const size_t na = json_array_size(a), nb = json_array_size(b);
    for (size_t i = 0; !found && json_is_array(a) && json_is_array(b) && i < na && i < nb; i++) {
        json_t *fa = json_array_get(a, i), *fb = json_array_get(b, i);
        const char *key;
        json_t *v;
        const char *name = json_string_value(json_object_get(fa, "name"));
        json_object_foreach(fa, key, v)
        {
            json_t *w = json_object_get(fb, key);
            if (w && json_equal(v, w))
                continue;
            snprintf(buf, cap, "[%zu] (\"%s\") \"%s\"", i, name ? name : "?", key);
            *xa = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            *xb = w ? json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                    : strdup("absent");
            found = *xa && *xb;
            break;
        }
    }
    if (!found && json_is_array(a) && json_is_array(b) && na != nb) {
        snprintf(buf, cap, " (the number of fields)");
        char n1[32], n2[32];
        snprintf(n1, sizeof n1, "%zu", na);
        snprintf(n2, sizeof n2, "%zu", nb);
        *xa = strdup(n1);
        *xb = strdup(n2);
        found = *xa && *xb;
    }
    json_decref(a);
    json_decref(b);
    return found;
}

static bl_status meta_differs(const char *key, const char *va, const char *vb, const char *name_a,
                              const char *name_b, bl_error *err)
{
    char where[160] = "";
    char *xa = NULL, *xb = NULL;
    bl_status st;
    if (!strcmp(key, "fields") && fields_diff(va, vb, where, sizeof where, &xa, &xb))
        st = bl_error_set(
            err, BL_EINPUT,
            "%s and %s were encoded differently: metadata \"fields\"%s is %.120s in %s "
            "but %.120s in %s (every party must use the same schema and options)",
            name_a, name_b, where, xa, name_a, xb, name_b);
    else
        st = bl_error_set(err, BL_EINPUT,
                          "%s and %s were encoded differently: metadata \"%s\" is %.120s in %s but "
                          "%.120s in %s (every party must use the same options)",
                          name_a, name_b, key, va, name_a, vb, name_b);
    free(xa);
    free(xb);
    return st;
}

bl_status bl_clk_meta_check(const bl_clkset *a, const char *name_a, const bl_clkset *b, const char *name_b,
                            bl_error *err)
{
    /* the options first: a hardening or normalisation that differs also
     * changes the fields' sizes, and is the difference to name */
    static const char *const keys[] = {"layout", "normalize", "harden", "fields"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *va = meta_value(a->meta, keys[i]), *vb = meta_value(b->meta, keys[i]);
        int same = va && vb && !strcmp(va, vb);
        bl_status st = BL_OK;
        if (!va || !vb)
            st = bl_error_set(err, BL_EINPUT, "%s: unreadable encoding metadata", !va ? name_a : name_b);
        else if (!same)
            st = meta_differs(keys[i], va, vb, name_a, name_b, err);
        free(va);
        free(vb);
        if (st != BL_OK)
            return st;
    }
    return BL_OK;
}

bl_status bl_encoder_meta(const bl_encoder *e, char **out, bl_error *err)
{
    *out = NULL;
    /* the field layout's own object ("layout", "fields", ...) is the base */
    const char *lm = bl_encoder_layout_meta(e);
    json_t *o = lm ? json_loads(lm, 0, NULL) : json_object();
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    const char *h = bl_encoder_harden(e);
    bl_normalize_profile np = bl_encoder_normalize(e);
    if (np != BL_NORMALIZE_NONE)
        json_object_set_new(o, "normalize", json_string(bl_normalize_profile_name(np)));
    if (h && *h)
        json_object_set_new(o, "harden", json_string(h));
    if (json_object_size(o) > 0) {
        *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        if (!*out) {
            json_decref(o);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
    }
    json_decref(o);
    return BL_OK;
}
