/* lib/model/model.c - the model layer: Fellegi-Sunter linkage over
 * field-level encodings (include/blindlink/model.h, docs/model.md).
 *
 * This layer sits above core and match: it reads CLK sets (core), uses the
 * match layer's popcount kernels on field slices, its candidate generation
 * (record-level Dice with keyed LSH) and its writers' conventions. Nothing
 * below calls it. This file: field layouts from file metadata, input
 * checks, comparison levels, weights and the model file (JSON, jansson). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <blindlink/io.h>

#include "core/utf8.h"
#include "core/internal.h"
#include "model/model_internal.h"

/* Default similarity bands (Dice minima) after the exact level. */
static const double default_bands[] = {1.0, 0.9, 0.8, 0.7, 0.6, 0.5};
#define NDEFAULT_BANDS (sizeof default_bands / sizeof default_bands[0])

void bl_fieldset_clear(bl_fieldset *f)
{
    for (size_t i = 0; i < f->nfields; i++)
        free(f->names[i]);
    memset(f, 0, sizeof *f);
}

bl_status bl_fieldset_from_clkset(const bl_clkset *s, const char *name, bl_fieldset *out,
                                  bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = s->meta ? json_loads(s->meta, 0, NULL) : NULL;
    const char *layout = json_string_value(json_object_get(root, "layout"));
    if (!layout || strcmp(layout, "fields")) {
        /* the message is made before root (and layout with it) is freed */
        if (!layout || !strcmp(layout, "record"))
            bl_error_set(err, BL_EINPUT,
                         "%s: record-level encodings; the model needs field-level ones: encode "
                         "with --layout fields --format bin",
                         name);
        else
            bl_error_set(err, BL_EINPUT,
                         "%s: metadata $.layout is '%s', not 'fields': the model needs "
                         "field-level encodings (encode --layout fields --format bin)",
                         name, BLI_SHOW(layout, strlen(layout)));
        json_decref(root);
        return BL_EINPUT;
    }
    json_t *fields = json_object_get(root, "fields");
    size_t n = json_array_size(fields);
    if (n == 0 || n > BL_MODEL_MAX_FIELDS) {
        json_decref(root);
        return bl_error_set(err, BL_EINPUT, "%s: metadata $.fields: %s", name,
                            n ? "more fields than a model compares (32)" : "missing or empty");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(fields, i);
        const char *fn = json_string_value(json_object_get(f, "name"));
        json_int_t off = json_integer_value(json_object_get(f, "offset"));
        json_int_t bits = json_integer_value(json_object_get(f, "bits"));
        if (!fn || !json_is_integer(json_object_get(f, "offset")) || off < 0 || off % 512 || bits <= 0 ||
            (uint64_t)off + (uint64_t)bits > s->nbits) {
            json_decref(root);
            bl_fieldset_clear(out);
            return bl_error_set(err, BL_EINPUT,
                                "%s: metadata $.fields[%zu]: needs a name, an offset that is a multiple "
                                "of 512 and bits inside the %u-bit record", name, i, s->nbits);
        }
        out->names[i] = strdup(fn);
        out->offset[i] = (uint32_t)off;
        out->bits[i] = (uint32_t)bits;
        out->nfields = i + 1;
        if (!out->names[i]) {
            json_decref(root);
            bl_fieldset_clear(out);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
    }
    json_decref(root);
    return BL_OK;
}

/* Value of metadata key `key` as canonical text ("" when absent). */
static char *meta_key(const bl_clkset *s, const char *key)
{
    json_t *root = s->meta ? json_loads(s->meta, 0, NULL) : NULL;
    json_t *v = json_object_get(root, key);
    char *txt = v ? json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY) : strdup("");
    json_decref(root);
    return txt;
}

bl_status bl_model_check_inputs(const bl_clkset *const *sets, const char *const *names,
                                size_t nsets, bl_error *err)
{
    /* the options before the fields: a hardening or normalisation that
     * differs also changes the fields' sizes, and is the difference to name */
    static const char *const keys[] = {"layout", "normalize", "harden", "shared_name_key",
                                       "fields"};
    for (size_t i = 0; i < nsets; i++) {
        bl_fieldset fs;
        bl_status st = bl_fieldset_from_clkset(sets[i], names[i], &fs, err);
        if (st != BL_OK) {
            if (i > 0)
                bl_error_prefix(err, "%s is field-level but ", names[0]);
            return st;
        }
        bl_fieldset_clear(&fs);
    }
    for (size_t i = 1; i < nsets; i++) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char *a = meta_key(sets[0], keys[k]), *b = meta_key(sets[i], keys[k]);
            int same = a && b && !strcmp(a, b);
            if (!same) {
                /* show both texts from a little before the first difference */
                size_t d = 0;
                while (a && b && a[d] && a[d] == b[d])
                    d++;
                d = d > 20 ? d - 20 : 0;
                const char *ta = a && *a ? a + (d < strlen(a) ? d : 0) : "absent";
                const char *tb = b && *b ? b + (d < strlen(b) ? d : 0) : "absent";
                bl_error_set(err, BL_EINPUT, "%s and %s differ in encoding metadata '%s' (%s%.100s vs %s%.100s)",
                             names[0], names[i], keys[k], d && *ta != 'a' ? "..." : "", ta,
                             d && *tb != 'a' ? "..." : "", tb);
                free(a);
                free(b);
                return BL_EINPUT;
            }
            free(a);
            free(b);
        }
        if (sets[0]->has_fingerprint != sets[i]->has_fingerprint ||
            (sets[0]->has_fingerprint &&
             memcmp(sets[0]->fingerprint, sets[i]->fingerprint, BL_FINGERPRINT_BYTES)))
            return bl_error_set(err, BL_EINPUT,
                                "%s and %s differ in schema fingerprint: they were encoded with different "
                                "schemas or options", names[0], names[i]);
        if (sets[0]->nbits != sets[i]->nbits)
            return bl_error_set(err, BL_EINPUT, "%s and %s differ in record length (%u vs %u bits)", names[0],
                                names[i], sets[0]->nbits, sets[i]->nbits);
    }
    return BL_OK;
}

static char *dupf(const char *fmt, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    return strdup(buf);
}

/* Labels and initial m/u of a field's levels. */
static int field_init(bl_field_model *f)
{
    f->nlevels = f->nbands + (f->swap_with >= 0) + 1;
    for (uint32_t l = 0; l < f->nlevels; l++) {
        free(f->label[l]);
        if (l == 0)
            f->label[l] = strdup("exact");
        else if (l < f->nbands)
            f->label[l] = dupf("dice >= %.2f", f->band[l]);
        else if ((int)l == bl_field_swap_level(f))
            f->label[l] = strdup("swapped");
        else
            f->label[l] = strdup("else");
        if (!f->label[l])
            return -1;
        /* EM starts from "matches mostly agree, non-matches mostly do not" */
        f->m[l] = l == f->nlevels - 1 ? 0.05 : (l == 0 ? 0.6 : 0.35 / (double)(f->nlevels - 2));
        f->u[l] = l == f->nlevels - 1 ? 0.9 : 0.1 / (double)(f->nlevels - 1);
        f->u_random[l] = f->u[l];
    }
    return 0;
}

static bl_model *model_alloc(void)
{
    bl_model *m = calloc(1, sizeof *m);
    if (m)
        m->prior = 0.01;
    return m;
}

bl_status bl_model_new_for(const bl_fieldset *fs, const bl_clkset *example, bl_model **out,
                           bl_error *err)
{
    bl_model *m = model_alloc();
    if (!m)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    m->nf = fs->nfields;
    int gi = -1, si = -1;
    for (size_t i = 0; i < fs->nfields; i++) {
        const int role = bli_name_role(fs->names[i]); /* as the encoder's shared name key */
        if (gi < 0 && (role & BLI_NAME_GIVEN))
            gi = (int)i;
        else if (si < 0 && (role & BLI_NAME_FAMILY))
            si = (int)i;
    }
    for (size_t i = 0; i < fs->nfields; i++) {
        bl_field_model *f = &m->f[i];
        f->name = strdup(fs->names[i]);
        f->offset = fs->offset[i];
        f->bits = fs->bits[i];
        f->nbands = NDEFAULT_BANDS;
        memcpy(f->band, default_bands, sizeof default_bands);
        f->swap_with = (gi >= 0 && si >= 0) ? ((int)i == gi ? si : (int)i == si ? gi : -1) : -1;
        f->tf = 1;
        if (!f->name || field_init(f) != 0) {
            bl_model_free(m);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
    }
    if (example && example->has_fingerprint) {
        m->has_fp = 1;
        memcpy(m->fingerprint, example->fingerprint, BL_FINGERPRINT_BYTES);
    }
    if (example) {
        char *norm = meta_key(example, "normalize");
        if (norm && *norm) {
            json_t *v = json_loads(norm, JSON_DECODE_ANY, NULL);
            m->normalize = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
            json_decref(v);
        }
        free(norm);
    }
    *out = m;
    return BL_OK;
}

void bl_model_free(bl_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nf; i++) {
        free(m->f[i].name);
        for (uint32_t l = 0; l < BL_MODEL_MAX_LEVELS; l++)
            free(m->f[i].label[l]);
    }
    free(m->normalize);
    free(m->u_source);
    free(m);
}

/* Dice of two slices with known popcounts. */
static inline double dice_of(uint32_t c, uint32_t pa, uint32_t pb)
{
    return pa + pb ? 2.0 * c / (double)(pa + pb) : 0.0;
}

/* First band whose minimum the AND-count reaches (exact = equal filters). */
static unsigned band_level(const bl_field_model *f, const bl_fieldpop *fp, size_t i, uint32_t c, uint32_t pa,
                           uint32_t pb)
{
    if (c == pa && c == pb)
        return 0;
    const uint32_t s = pa + pb;
    for (uint32_t l = 1; l < f->nbands; l++)
        if (c >= fp->cmin[i][l][s])
            return l;
    return f->nlevels - 1;
}

/* Given name and surname exchanged: both crosswise comparisons close. */
static int swapped(const bl_model *m, const bl_kernel *k, size_t g, size_t s, const uint8_t *a, const uint32_t *pa,
                   const uint8_t *b, const uint32_t *pb)
{
    const bl_field_model *fg = &m->f[g], *fs = &m->f[s];
    const size_t og = fg->offset / 8, os = fs->offset / 8, nb = (fg->bits + 7) / 8;
    if (!pa[s] || !pb[s] || !bli_dice_possible(pa[g], pb[s], BL_SWAP_MIN_DICE) ||
        !bli_dice_possible(pa[s], pb[g], BL_SWAP_MIN_DICE))
        return 0;
    if (dice_of(k->and_popcount(a + og, b + os, nb), pa[g], pb[s]) < BL_SWAP_MIN_DICE)
        return 0;
    return dice_of(k->and_popcount(a + os, b + og, nb), pa[s], pb[g]) >= BL_SWAP_MIN_DICE;
}

void bl_model_levels(const bl_model *m, const bl_fieldpop *fp, const uint8_t *a, const uint32_t *pa,
                     const uint8_t *b, const uint32_t *pb, uint8_t *lv, double *dice)
{
    double dl[BL_MODEL_MAX_FIELDS];
    uint32_t cnt[BL_MODEL_MAX_FIELDS];
    const bl_kernel *k = fp->k;
    bl_fieldpop_run(fp, a, b, cnt);
    for (size_t i = 0; i < m->nf; i++) {
        const bl_field_model *f = &m->f[i];
        dl[i] = NAN;
        if (!pa[i] || !pb[i]) {
            lv[i] = BL_LEVEL_MISSING;
            continue;
        }
        if (dice || f->swap_with >= 0)
            dl[i] = dice_of(cnt[i], pa[i], pb[i]);
        lv[i] = (uint8_t)band_level(f, fp, i, cnt[i], pa[i], pb[i]);
    }
    /* the swapped level: once per name pair, only when both disagree directly */
    for (size_t i = 0; i < m->nf; i++) {
        int j = m->f[i].swap_with;
        if (j <= (int)i || lv[i] == BL_LEVEL_MISSING || lv[j] == BL_LEVEL_MISSING ||
            m->f[j].swap_with != (int)i || m->f[j].bits != m->f[i].bits)
            continue;
        if (dl[i] < BL_SWAP_MIN_DICE && dl[j] < BL_SWAP_MIN_DICE && swapped(m, k, i, (size_t)j, a, pa, b, pb)) {
            lv[i] = (uint8_t)bl_field_swap_level(&m->f[i]);
            lv[j] = (uint8_t)bl_field_swap_level(&m->f[j]);
        }
    }
    if (dice)
        memcpy(dice, dl, m->nf * sizeof *dice);
}

static double raw_weight(double m, double u)
{
    return log2((m > BLI_MODEL_PMIN ? m : BLI_MODEL_PMIN) /
                (u > BLI_MODEL_PMIN ? u : BLI_MODEL_PMIN));
}

/* A swap is the two names agreeing crosswise: no stronger evidence than
 * the same names agreeing in place. Random pairs almost never look
 * swapped, so u of the swapped level is tiny and log2(m/u) came out above
 * exact agreement (+11.6 per name against +8.2: a swapped namesake with
 * another birth date scored p = 0.99996), hence the cap at the field's
 * exact-agreement weight. */
static double capped(const bl_field_model *f, unsigned l, double w, double exact)
{
    return (int)l == bl_field_swap_level(f) && w > exact ? exact : w;
}

double bl_model_level_weight(const bl_model *m, size_t f, unsigned l)
{
    if (l == BL_LEVEL_MISSING)
        return 0.0;
    const bl_field_model *fm = &m->f[f];
    return capped(fm, l, raw_weight(fm->m[l], fm->u[l]), raw_weight(fm->m[0], fm->u[0]));
}

double bl_model_level_weight_names(const bl_model *m, size_t f, unsigned l, int c)
{
    if (l == BL_LEVEL_MISSING || c < BL_NAMES_BOTH || c > BL_NAMES_ONE || !m->f[f].has_u_names[c - 1])
        return bl_model_level_weight(m, f, l);
    const bl_field_model *fm = &m->f[f];
    return capped(fm, l, raw_weight(fm->m[l], fm->u_names[c - 1][l]),
                  raw_weight(fm->m[0], fm->u_names[c - 1][0]));
}

double bl_model_prior_weight(const bl_model *m)
{
    double p = m->prior;
    if (p < BLI_MODEL_PMIN)
        p = BLI_MODEL_PMIN;
    if (p > 1 - BLI_MODEL_PMIN)
        p = 1 - BLI_MODEL_PMIN;
    return log2(p / (1 - p));
}

int bl_model_converged(const bl_model *m, uint32_t *iterations, double *prior)
{
    if (iterations)
        *iterations = m->iterations;
    if (prior)
        *prior = m->prior;
    return m->converged;
}

uint64_t bl_model_training_pairs(const bl_model *m) { return m->ncand; }
size_t bl_model_nfields(const bl_model *m) { return m->nf; }
const char *bl_model_field_name(const bl_model *m, size_t f) { return m->f[f].name; }
size_t bl_model_nlevels(const bl_model *m, size_t f) { return m->f[f].nlevels; }

void bl_model_level(const bl_model *m, size_t f, size_t l, const char **label, double *mp, double *up,
                    double *weight)
{
    if (label)
        *label = m->f[f].label[l];
    if (mp)
        *mp = m->f[f].m[l];
    if (up)
        *up = m->f[f].u[l];
    if (weight)
        *weight = bl_model_level_weight(m, f, (unsigned)l);
}

bl_status bl_model_check_set(const bl_model *m, const bl_clkset *s, const char *name, bl_error *err)
{
    bl_fieldset fs;
    bl_status st = bl_fieldset_from_clkset(s, name, &fs, err);
    if (st != BL_OK)
        return st;
    st = BL_OK;
    if (fs.nfields != m->nf)
        st = bl_error_set(err, BL_EINPUT, "%s has %zu fields but the model compares %zu: the model is for "
                                          "another schema", name, fs.nfields, m->nf);
    for (size_t i = 0; st == BL_OK && i < m->nf; i++)
        if (strcmp(fs.names[i], m->f[i].name) || fs.offset[i] != m->f[i].offset || fs.bits[i] != m->f[i].bits)
            st = bl_error_set(err, BL_EINPUT,
                              "%s: field %zu is '%s' (offset %u, %u bits) but the model's is '%s' (offset "
                              "%u, %u bits): the model is for another schema", name, i + 1, fs.names[i],
                              fs.offset[i], fs.bits[i], m->f[i].name, m->f[i].offset, m->f[i].bits);
    /* Fields alone do not tell schemas apart (another tokenisation or KDF
     * of the same columns has the same fields), so a model without the
     * fingerprint of fingerprinted inputs is refused as inputs are
     * (bl_model_check_inputs): train always writes the inputs' one. */
    if (st == BL_OK && !m->has_fp && s->has_fingerprint)
        st = bl_error_set(err, BL_EINPUT,
                          "%s has a schema fingerprint but the model has none ($.fingerprint), so it cannot "
                          "be checked against the file's schema: use a model from train (or match "
                          "--save-model), or add the file's fingerprint (blindlink describe --json %s)",
                          name, name);
    else if (st == BL_OK && m->has_fp && !s->has_fingerprint)
        st = bl_error_set(err, BL_EINPUT,
                          "%s has no schema fingerprint but the model was trained on encodings with one: "
                          "the model is for another schema or encoding options", name);
    else if (st == BL_OK && m->has_fp && memcmp(m->fingerprint, s->fingerprint, BL_FINGERPRINT_BYTES))
        st = bl_error_set(err, BL_EINPUT,
                          "%s: schema fingerprint differs from the model's: the model was trained on "
                          "encodings of another schema or encoding options", name);
    bl_fieldset_clear(&fs);
    return st;
}
