/* lib/encode/fields.c - field-level layout of encodings (`--layout fields`).
 *
 * A field-level record is the concatenation of one Bloom filter per field:
 * each schema feature (or named group of features, schema extension
 * "blindlink": {"fieldGroups": [...]}, docs/schema.md) is hashed exactly as
 * clkhash hashes it into the record filter (same keys, same indices, same
 * folding, l bits), but into its own filter. Every field starts at a bit
 * offset that is a multiple of 512 so the SIMD popcount kernels can run on a
 * slice; with xor_folds = 0 the OR of the field filters is the record CLK.
 * The layout is described in the file metadata (CONTRACTS.md, docs/formats.md):
 *   {"layout":"fields","fields":[{"name","features","offset","bits"}],...}
 * jansson builds that JSON (canonicalised by the CLK writer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <blindlink/encode.h>

#include "encode/encode_internal.h"
#include "core/internal.h"
#include "encode/fields_internal.h"

#define FIELD_ALIGN_BITS 512u

/* Index of the feature named `id` among hashed features, or -1. */
static long feature_index(const bl_schema *s, const char *id)
{
    for (size_t i = 0; i < s->nfeatures; i++)
        if (!s->features[i].ignored && s->features[i].identifier && !strcmp(s->features[i].identifier, id))
            return (long)i;
    return -1;
}

int bl_fields_check_ext(const json_t *ext, const bl_schema *s, char *path, size_t pcap, char *msg,
                        size_t mcap)
{
    snprintf(path, pcap, "$.blindlink");
    if (!json_is_object(ext)) {
        snprintf(msg, mcap, "must be an object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ext, key, v) {
        if (strcmp(key, "fieldGroups")) {
            snprintf(msg, mcap, "unknown key '%s' (allowed: fieldGroups)", key);
            return -1;
        }
    }
    const json_t *groups = json_object_get(ext, "fieldGroups");
    if (!groups)
        return 0;
    snprintf(path, pcap, "$.blindlink.fieldGroups");
    if (!json_is_array(groups)) {
        snprintf(msg, mcap, "must be an array of {\"name\": ..., \"features\": [...]}");
        return -1;
    }
    int *used = calloc(s->nfeatures + 1, sizeof *used);
    if (!used) {
        snprintf(msg, mcap, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t g = 0; g < json_array_size(groups) && !rc; g++) {
        const json_t *grp = json_array_get(groups, g);
        const json_t *name = json_object_get(grp, "name"), *feats = json_object_get(grp, "features");
        snprintf(path, pcap, "$.blindlink.fieldGroups[%zu]", g);
        if (!json_is_object(grp) || !json_is_string(name) || !json_string_length(name) ||
            !json_is_array(feats) || json_array_size(feats) == 0 || json_object_size(grp) != 2) {
            snprintf(msg, mcap, "must be {\"name\": NON-EMPTY STRING, \"features\": [identifiers]}");
            rc = -1;
            break;
        }
        if (feature_index(s, json_string_value(name)) >= 0) {
            /* a group named like a feature would make field names ambiguous */
            int member = 0;
            for (size_t j = 0; j < json_array_size(feats); j++)
                member |= json_is_string(json_array_get(feats, j)) &&
                          !strcmp(json_string_value(json_array_get(feats, j)), json_string_value(name));
            if (!member) {
                snprintf(msg, mcap, "group name '%s' is the identifier of another feature",
                         json_string_value(name));
                rc = -1;
                break;
            }
        }
        for (size_t j = 0; j < json_array_size(feats); j++) {
            const json_t *f = json_array_get(feats, j);
            snprintf(path, pcap, "$.blindlink.fieldGroups[%zu].features[%zu]", g, j);
            long fi = json_is_string(f) ? feature_index(s, json_string_value(f)) : -1;
            if (fi < 0) {
                snprintf(msg, mcap, "'%s' is not the identifier of a hashed feature",
                         json_is_string(f) ? json_string_value(f) : "(not a string)");
                rc = -1;
                break;
            }
            if (used[fi]) {
                snprintf(msg, mcap, "feature '%s' is in more than one group", json_string_value(f));
                rc = -1;
                break;
            }
            used[fi] = 1;
        }
    }
    free(used);
    return rc;
}

void bl_field_layout_free(bl_field_layout *fl)
{
    if (!fl)
        return;
    for (size_t i = 0; i < fl->nfields; i++)
        free(fl->names[i]);
    free(fl->names);
    free(fl->field_of);
    free(fl->offset);
    free(fl->meta);
    memset(fl, 0, sizeof *fl);
}

/* Group name of feature i from the schema extension, or NULL. */
static const char *group_of(const json_t *groups, const char *id)
{
    for (size_t g = 0; g < json_array_size(groups); g++) {
        const json_t *grp = json_array_get(groups, g), *feats = json_object_get(grp, "features");
        for (size_t j = 0; j < json_array_size(feats); j++)
            if (!strcmp(json_string_value(json_array_get(feats, j)), id))
                return json_string_value(json_object_get(grp, "name"));
    }
    return NULL;
}

/* Why a shared key: clkhash gives every feature its own key, so a surname
 * written in the given-name field sets unrelated bits and the model's
 * swapped level (given(A) vs surname(B)) could never fire. In the field
 * layout the given-name and surname features, each alone in its field and
 * hashed the same way, use the given name's keys (and hardener) for both;
 * the record-level CLK keeps clkhash's per-feature keys. */
int bl_fields_name_pair(const bl_schema *s, size_t *given, size_t *family)
{
    json_t *ext = s->ext_json ? json_loads(s->ext_json, 0, NULL) : NULL, *groups = json_object_get(ext, "fieldGroups");
    long g = -1, f = -1;
    int grouped = 0;
    for (size_t i = 0; i < s->nfeatures; i++) {
        const bl_feature *ft = &s->features[i];
        if (ft->ignored)
            continue;
        /* the model takes the first field of each kind, by field name */
        const char *grp = group_of(groups, ft->identifier), *name = grp ? grp : ft->identifier;
        const int role = bli_name_role(name); /* as the model recognises them */
        if (g < 0 && (role & BLI_NAME_GIVEN)) {
            g = (long)i;
            grouped |= grp != NULL;
        } else if (f < 0 && (role & BLI_NAME_FAMILY)) {
            f = (long)i;
            grouped |= grp != NULL;
        }
    }
    json_decref(ext);
    if (g < 0 || f < 0 || grouped || s->features[g].hash != s->features[f].hash)
        return 0;
    *given = (size_t)g;
    *family = (size_t)f;
    return 1;
}

static bl_status build_meta(const bl_schema *s, bl_normalize_profile norm, bl_field_layout *fl,
                            bl_error *err)
{
    json_t *root = json_object(), *arr = json_array();
    json_t **feats = calloc(fl->nfields, sizeof *feats);
    if (!root || !arr || !feats)
        goto oom;
    json_object_set_new(root, "layout", json_string("fields"));
    if (norm != BL_NORMALIZE_NONE)
        json_object_set_new(root, "normalize", json_string(bl_normalize_profile_name(norm)));
    for (size_t f = 0; f < fl->nfields; f++)
        feats[f] = json_array();
    for (size_t i = 0; i < s->nfeatures; i++)
        if (fl->field_of[i] != SIZE_MAX)
            json_array_append_new(feats[fl->field_of[i]], json_string(s->features[i].identifier));
    for (size_t f = 0; f < fl->nfields; f++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(fl->names[f]));
        json_object_set_new(o, "features", feats[f]);
        json_object_set_new(o, "offset", json_integer(fl->offset[f]));
        json_object_set_new(o, "bits", json_integer(fl->field_bits));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "fields", arr);
    arr = NULL;
    size_t gi, fi;
    if (bl_fields_name_pair(s, &gi, &fi)) {
        json_t *pair = json_array();
        json_array_append_new(pair, json_string(s->features[gi].identifier));
        json_array_append_new(pair, json_string(s->features[fi].identifier));
        json_object_set_new(root, "shared_name_key", pair);
    }
    fl->meta = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(root);
    free(feats);
    if (!fl->meta)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    return BL_OK;
oom:
    json_decref(root);
    json_decref(arr);
    free(feats);
    return bl_error_set(err, BL_ENOMEM, "out of memory");
}

bl_status bl_field_layout_build(const bl_schema *s, bl_normalize_profile norm, uint32_t out_bits,
                                bl_field_layout *fl, bl_error *err)
{
    memset(fl, 0, sizeof *fl);
    json_t *ext = NULL, *groups = NULL;
    if (s->ext_json) {
        ext = json_loads(s->ext_json, 0, NULL);
        groups = json_object_get(ext, "fieldGroups");
    }
    const size_t F = s->nfeatures;
    fl->field_of = malloc(F * sizeof *fl->field_of);
    fl->names = calloc(F, sizeof *fl->names);
    fl->offset = calloc(F, sizeof *fl->offset);
    if (!fl->field_of || !fl->names || !fl->offset) {
        json_decref(ext);
        bl_field_layout_free(fl);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    fl->field_bits = out_bits ? out_bits : s->l;
    const uint32_t stride = (fl->field_bits + FIELD_ALIGN_BITS - 1) / FIELD_ALIGN_BITS * FIELD_ALIGN_BITS;
    for (size_t i = 0; i < F; i++) {
        fl->field_of[i] = SIZE_MAX;
        if (s->features[i].ignored)
            continue;
        const char *name = group_of(groups, s->features[i].identifier);
        if (!name)
            name = s->features[i].identifier;
        size_t f = 0;
        while (f < fl->nfields && strcmp(fl->names[f], name))
            f++;
        if (f == fl->nfields) {
            fl->names[f] = strdup(name);
            if (!fl->names[f]) {
                json_decref(ext);
                bl_field_layout_free(fl);
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            }
            fl->offset[f] = (uint32_t)f * stride;
            fl->nfields++;
        }
        fl->field_of[i] = f;
    }
    json_decref(ext);
    if (fl->nfields == 0) {
        bl_field_layout_free(fl);
        return bl_error_set(err, BL_ESCHEMA, "--layout fields: the schema hashes no feature");
    }
    if ((uint64_t)fl->nfields * stride > BL_CLK_MAX_BITS) {
        size_t n = fl->nfields;
        bl_field_layout_free(fl);
        return bl_error_set(err, BL_ESCHEMA,
                            "--layout fields: %zu fields of %u bits exceed the %u-bit record cap", n, stride,
                            BL_CLK_MAX_BITS);
    }
    fl->total_bits = fl->offset[fl->nfields - 1] + fl->field_bits;
    return build_meta(s, norm, fl, err);
}

void bl_field_or_into(uint8_t *out, uint32_t offset_bits, const uint8_t *filter, uint32_t nbits)
{
    /* offsets are multiples of 512 bits, so whole bytes */
    uint8_t *dst = out + offset_bits / 8;
    size_t nb = (nbits + 7) / 8;
    for (size_t i = 0; i < nb; i++)
        dst[i] |= filter[i];
}

/* A feature whose values have few tokens from a small set: an exact
 * comparison or an enum (sex, state, a flag). */
static int low_entropy(const bl_feature *f)
{
    return f->cmp == BL_CMP_EXACT || f->fmt == BL_FORMAT_ENUM;
}

void bl_fields_describe(const bl_schema *s, FILE *fp)
{
    bl_field_layout fl;
    bl_error e = {0};
    if (bl_field_layout_build(s, BL_NORMALIZE_NONE, 0, &fl, &e) != BL_OK)
        return;
    fprintf(fp, "\n  With --layout fields: %zu field filters of %u bits (%u bits per record)\n", fl.nfields,
            fl.field_bits, fl.total_bits);
    for (size_t f = 0; f < fl.nfields; f++) {
        size_t members = 0, low = 0, li = 0;
        for (size_t i = 0; i < s->nfeatures; i++)
            if (fl.field_of[i] == f) {
                members++;
                if (low_entropy(&s->features[i]))
                    low++, li = i;
            }
        if (members == 1 && low)
            fprintf(fp, "  warning: field '%s' is alone in its filter and has few distinct values (%s): "
                        "equal values give equal filters, so the file shows how often each value occurs; "
                        "group it with another feature in \"blindlink\": {\"fieldGroups\": ...} "
                        "(docs/threat-model.md)\n", s->features[li].identifier,
                    s->features[li].fmt == BL_FORMAT_ENUM ? "enum" : "exact comparison");
    }
    bl_field_layout_free(&fl);
}
