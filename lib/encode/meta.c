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

bl_status bl_clk_meta_check(const bl_clkset *a, const char *name_a, const bl_clkset *b, const char *name_b,
                            bl_error *err)
{
    static const char *const keys[] = {"layout", "fields", "normalize", "harden"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *va = meta_value(a->meta, keys[i]), *vb = meta_value(b->meta, keys[i]);
        int same = va && vb && !strcmp(va, vb);
        bl_status st = BL_OK;
        if (!va || !vb)
            st = bl_error_set(err, BL_EINPUT, "%s: unreadable encoding metadata", !va ? name_a : name_b);
        else if (!same)
            st = bl_error_set(err, BL_EINPUT,
                              "%s and %s were encoded differently: metadata \"%s\" is %.120s in %s but %.120s "
                              "in %s (every party must use the same options)",
                              name_a, name_b, keys[i], va, name_a, vb, name_b);
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
