/* lib/model/model_io.c - the model file (JSON, docs/model.md): written with
 * jansson in a fixed key order, read back strictly with JSON paths in every
 * message. Weights in the file are informational: they are recomputed from
 * m and u on load, so editing m or u by hand (and marking it "fixed") is how
 * a user overrides the training. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <blindlink/io.h>

#include "core/internal.h"
#include "model/model_internal.h"

#define MODEL_FORMAT 1
#define MAX_MODEL_BYTES (16u << 20)

static json_t *level_json(const bl_model *m, size_t fi, uint32_t l)
{
    const bl_field_model *f = &m->f[fi];
    json_t *o = json_object();
    json_object_set_new(o, "label", json_string(f->label[l]));
    if (l < f->nbands)
        json_object_set_new(o, "min_dice", json_real(f->band[l]));
    if ((int)l == bl_field_swap_level(f))
        json_object_set_new(o, "swapped", json_true());
    json_object_set_new(o, "m", json_real(f->m[l]));
    json_object_set_new(o, "u", json_real(f->u[l]));
    json_object_set_new(o, "u_random", json_real(f->u_random[l]));
    json_object_set_new(o, "u_candidates", json_real(f->u_cand[l]));
    json_object_set_new(o, "weight", json_real(bl_model_level_weight(m, fi, l)));
    static const char *const uk[2] = {"u_names_exact", "u_one_name_exact"};
    static const char *const wk[2] = {"weight_names_exact", "weight_one_name_exact"};
    for (int c = 0; c < 2; c++)
        if (f->has_u_names[c]) { /* u and weight for pairs whose names agree (docs/model.md) */
            json_object_set_new(o, uk[c], json_real(f->u_names[c][l]));
            json_object_set_new(o, wk[c], json_real(bl_model_level_weight_names(m, fi, l, c + 1)));
        }
    if (f->fix_m[l] || f->fix_u[l]) {
        json_t *fx = json_array();
        if (f->fix_m[l])
            json_array_append_new(fx, json_string("m"));
        if (f->fix_u[l])
            json_array_append_new(fx, json_string("u"));
        json_object_set_new(o, "fixed", fx);
    }
    return o;
}

bl_status bl_model_to_json(const bl_model *m, char **out, bl_error *err)
{
    json_t *root = json_object();
    json_object_set_new(root, "blindlink_model", json_integer(MODEL_FORMAT));
    if (m->has_fp) {
        char hex[2 * BL_FINGERPRINT_BYTES + 1];
        for (size_t i = 0; i < BL_FINGERPRINT_BYTES; i++)
            snprintf(hex + 2 * i, 3, "%02x", m->fingerprint[i]);
        json_object_set_new(root, "fingerprint", json_string(hex));
    }
    if (m->normalize)
        json_object_set_new(root, "normalize", json_string(m->normalize));
    json_object_set_new(root, "prior", json_real(m->prior));
    json_object_set_new(root, "prior_candidates", json_real(m->prior_cand));
    if (m->fix_prior)
        json_object_set_new(root, "fix_prior", json_true());
    json_object_set_new(root, "prior_weight", json_real(bl_model_prior_weight(m)));
    json_object_set_new(root, "u_source", json_string(m->u_source ? m->u_source : "random"));
    json_t *tr = json_object();
    json_object_set_new(tr, "status", json_string(!m->trained ? "not trained"
                                                  : m->converged ? "converged" : "hit the iteration limit"));
    json_object_set_new(tr, "iterations", json_integer(m->iterations));
    json_object_set_new(tr, "max_change", json_real(m->max_change));
    json_object_set_new(tr, "candidate_pairs", json_integer((json_int_t)m->ncand));
    json_object_set_new(tr, "random_pairs", json_integer((json_int_t)m->nrandom));
    json_object_set_new(tr, "patterns", json_integer((json_int_t)m->npatterns));
    json_object_set_new(tr, "namesake_pairs", json_integer((json_int_t)m->nnamesakes));
    json_object_set_new(tr, "em_seconds", json_real(m->em_seconds));
    if (m->em_start) { /* EM's two starts (train.c): which fit was kept, and both fits' log-likelihood */
        json_object_set_new(tr, "em_start", json_string(m->em_start == 2 ? "candidate u" : "random-pair u"));
        json_t *ll = json_array();
        json_array_append_new(ll, json_real(m->em_loglik[0]));
        json_array_append_new(ll, json_real(m->em_loglik[1]));
        json_object_set_new(tr, "log_likelihood", ll);
    }
    json_object_set_new(root, "training", tr);
    json_t *fields = json_array();
    for (size_t i = 0; i < m->nf; i++) {
        const bl_field_model *f = &m->f[i];
        json_t *fo = json_object();
        json_object_set_new(fo, "name", json_string(f->name));
        json_object_set_new(fo, "offset", json_integer(f->offset));
        json_object_set_new(fo, "bits", json_integer(f->bits));
        json_object_set_new(fo, "tf_adjust", json_boolean(f->tf));
        json_object_set_new(fo, "swap_with", f->swap_with >= 0 ? json_string(m->f[f->swap_with].name) : json_null());
        json_t *lv = json_array();
        for (uint32_t l = 0; l < f->nlevels; l++)
            json_array_append_new(lv, level_json(m, i, l));
        json_object_set_new(fo, "levels", lv);
        json_array_append_new(fields, fo);
    }
    json_object_set_new(root, "fields", fields);
    *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!*out)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    return BL_OK;
}

bl_status bl_model_write(const bl_model *m, const char *path, bl_error *err)
{
    char *txt = NULL;
    bl_status st = bl_model_to_json(m, &txt, err);
    if (st != BL_OK)
        return st;
    bl_ofile *f = NULL;
    if ((st = bl_ofile_open(path, &f, err)) != BL_OK) {
        free(txt);
        return st;
    }
    FILE *fp = bl_ofile_stream(f);
    int ok = fputs(txt, fp) >= 0 && fputc('\n', fp) != EOF;
    free(txt);
    if (!ok) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct rd {
    const char *name;
    bl_error *err;
} rd;

static bl_status bad(rd *r, const char *path, const char *what)
{
    return bl_error_set(r->err, BL_EINPUT, "%s: %s: %s", r->name, path, what);
}

/* bad() for a message about key `key`: "'KEY' REST" */
static bl_status badk(rd *r, const char *path, const char *key, const char *rest)
{
    char what[160];
    snprintf(what, sizeof what, "'%s' %s", key, rest);
    return bad(r, path, what);
}

/* The keys an object may hold (NULL-terminated). A hand-edited model
 * with a misspelt key ("fixd" for "fixed") would otherwise be read as if
 * the key were absent and the edit silently lost, so unknown keys are
 * refused with their path. */
static bl_status check_keys(rd *r, json_t *o, const char *path, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key))
            i++;
        if (!known[i]) {
            char msg[512];
            size_t n = (size_t)snprintf(msg, sizeof msg, "unknown key '%s' (known:", key);
            for (i = 0; known[i] && n < sizeof msg; i++)
                n += (size_t)snprintf(msg + n, sizeof msg - n, " %s", known[i]);
            if (n < sizeof msg)
                snprintf(msg + n, sizeof msg - n, ")");
            return bad(r, path, msg);
        }
    }
    return BL_OK;
}

/* Optional members of a given type: absent is fine, anything else but
 * that type is refused (a string "yes" is not a boolean). */
static bl_status check_type(rd *r, json_t *o, const char *path, const char *key, json_type t,
                            const char *what)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v)) ||
        (t == JSON_REAL && json_is_number(v)))
        return BL_OK;
    return badk(r, path, key, what);
}

static const char *const ROOT_KEYS[] = {"blindlink_model", "fingerprint", "normalize", "prior",
                                        "prior_candidates", "fix_prior", "prior_weight", "u_source",
                                        "training", "fields", NULL};
static const char *const TRAINING_KEYS[] = {"status", "iterations", "max_change", "candidate_pairs",
                                            "random_pairs", "patterns", "namesake_pairs", "em_seconds",
                                            "em_start", "log_likelihood", NULL};
static const char *const FIELD_KEYS[] = {"name", "offset", "bits", "tf_adjust", "swap_with", "levels", NULL};
static const char *const LEVEL_KEYS[] = {"label", "min_dice", "swapped", "m", "u", "u_random", "u_candidates",
                                         "weight", "u_names_exact", "weight_names_exact", "u_one_name_exact",
                                         "weight_one_name_exact", "fixed", NULL};

static int get_prob(json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (!(d >= 0.0 && d <= 1.0))
        return -1;
    *out = d;
    return 0;
}

static bl_status read_level(rd *r, bl_field_model *f, json_t *lo, uint32_t l, uint32_t nl, const char *fp)
{
    char p[128];
    snprintf(p, sizeof p, "%s.levels[%u]", fp, l);
    if (!json_is_object(lo))
        return bad(r, p, "must be an object");
    bl_status cst;
    if ((cst = check_keys(r, lo, p, LEVEL_KEYS)) != BL_OK ||
        (cst = check_type(r, lo, p, "label", JSON_STRING, "must be a string")) != BL_OK ||
        (cst = check_type(r, lo, p, "swapped", JSON_TRUE, "must be true or false")) != BL_OK ||
        (cst = check_type(r, lo, p, "weight", JSON_REAL, "must be a number (it is recomputed from m and u)")) !=
            BL_OK)
        return cst;
    for (size_t k = 0; k < 2; k++)
        if ((cst = check_type(r, lo, p, k ? "u_random" : "u_candidates", JSON_REAL, "must be a number in [0, 1]")) !=
            BL_OK)
            return cst;
    const char *label = json_string_value(json_object_get(lo, "label"));
    f->label[l] = strdup(label ? label : "");
    if (!f->label[l])
        return bl_error_set(r->err, BL_ENOMEM, "out of memory");
    if (get_prob(lo, "m", &f->m[l]) || get_prob(lo, "u", &f->u[l]))
        return bad(r, p, "needs 'm' and 'u', numbers in [0, 1]");
    if (json_object_get(lo, "u_random") ? get_prob(lo, "u_random", &f->u_random[l]) != 0
                                          : (f->u_random[l] = f->u[l], 0))
        return badk(r, p, "u_random", "must be a number in [0, 1]");
    if (json_object_get(lo, "u_candidates") ? get_prob(lo, "u_candidates", &f->u_cand[l]) != 0
                                              : (f->u_cand[l] = f->u[l], 0))
        return badk(r, p, "u_candidates", "must be a number in [0, 1]");
    static const char *const uk[2] = {"u_names_exact", "u_one_name_exact"};
    for (int c = 0; c < 2; c++) {
        json_t *un = json_object_get(lo, uk[c]);
        if (un && get_prob(lo, uk[c], &f->u_names[c][l]))
            return badk(r, p, uk[c], "must be a number in [0, 1]");
        if (l == 0)
            f->has_u_names[c] = un != NULL;
        else if (f->has_u_names[c] != (un != NULL))
            return badk(r, p, uk[c], "must be on every level of the field or on none");
    }
    json_t *md = json_object_get(lo, "min_dice");
    int swapped = json_is_true(json_object_get(lo, "swapped"));
    if (md) {
        double d = json_number_value(md);
        if (!json_is_number(md) || !(d >= 0.0 && d <= 1.0) || swapped || l + 1 == nl)
            return bad(r, p, "'min_dice' must be a number in [0, 1] on a band level (not the last or "
                             "the swapped level)");
        if (l != f->nbands)
            return bad(r, p, "the levels with 'min_dice' must come first");
        if (l == 0 && d != 1.0)
            return bad(r, p, "the first level must be exact agreement ('min_dice': 1)");
        if (l > 0 && !(d < f->band[l - 1]))
            return bad(r, p, "'min_dice' must decrease from level to level");
        f->band[l] = d;
        f->nbands++;
    } else if (swapped) {
        if (l != f->nbands || l + 2 != nl)
            return bad(r, p, "the swapped level comes right after the band levels, before the last");
        f->swap_with = -2; /* resolved by name later */
    } else if (l + 1 != nl) {
        return bad(r, p, "only the last level may have no 'min_dice'");
    }
    json_t *fx = json_object_get(lo, "fixed");
    if (fx && !json_is_array(fx))
        return bad(r, p, "'fixed' must be an array of \"m\" and/or \"u\"");
    for (size_t i = 0; i < json_array_size(fx); i++) {
        const char *s = json_string_value(json_array_get(fx, i));
        if (s && !strcmp(s, "m"))
            f->fix_m[l] = 1;
        else if (s && !strcmp(s, "u"))
            f->fix_u[l] = 1;
        else
            return bad(r, p, "'fixed' may list only \"m\" and \"u\"");
    }
    /* the weights log2(m/u) are computed with m and u of at least 1e-12
     * (finite weights): a fixed value below would not be used as written */
    if ((f->fix_m[l] && f->m[l] < BLI_MODEL_PMIN) || (f->fix_u[l] && f->u[l] < BLI_MODEL_PMIN))
        return badk(r, p, f->fix_m[l] && f->m[l] < BLI_MODEL_PMIN ? "m" : "u",
                    "is fixed below 1e-12, the least probability the model computes with "
                    "(weights stay finite): write 1e-12 for 'never'");
    return BL_OK;
}

/* A field's m, and its u, are distributions over its levels: m = 0.9 on
 * every level is a slip, not a model, and its weights log2(m/u) would be
 * off by the missing normalisation. A value marked "fixed" is used as
 * written (docs/model.md, "Editing a model by hand"), so a field with a
 * fixed m (u) keeps whatever sum the edit left. */
#define LEVEL_SUM_TOL 1e-6

static bl_status check_sums(rd *r, const bl_field_model *f, const char *p)
{
    for (int k = 0; k < 2; k++) {
        const double *v = k ? f->u : f->m;
        const int *fx = k ? f->fix_u : f->fix_m;
        double sum = 0;
        int fixed = 0;
        for (uint32_t l = 0; l < f->nlevels; l++) {
            sum += v[l];
            fixed |= fx[l];
        }
        if (!fixed && !(fabs(sum - 1.0) <= LEVEL_SUM_TOL)) {
            const char *w = k ? "u" : "m";
            char what[256];
            snprintf(what, sizeof what, "field '%s': %s of its levels sum to %.9g, not 1 (a value edited by "
                     "hand is kept as written when its level says \"fixed\": [\"%s\"])", f->name, w, sum, w);
            return bad(r, p, what);
        }
    }
    return BL_OK;
}

static bl_status read_field(rd *r, bl_model *m, size_t i, json_t *fo, const char **swap_names)
{
    char p[64];
    snprintf(p, sizeof p, "$.fields[%zu]", i);
    bl_field_model *f = &m->f[i];
    f->swap_with = -1;
    const char *name = json_string_value(json_object_get(fo, "name"));
    json_t *off = json_object_get(fo, "offset"), *bits = json_object_get(fo, "bits");
    json_t *lv = json_object_get(fo, "levels");
    if (!json_is_object(fo) || !name || !json_is_integer(off) || !json_is_integer(bits) || !json_is_array(lv))
        return bad(r, p, "needs 'name', 'offset', 'bits' and 'levels'");
    bl_status cst;
    if ((cst = check_keys(r, fo, p, FIELD_KEYS)) != BL_OK ||
        (cst = check_type(r, fo, p, "tf_adjust", JSON_TRUE, "must be true or false")) != BL_OK)
        return cst;
    json_t *sw = json_object_get(fo, "swap_with");
    if (sw && !json_is_string(sw) && !json_is_null(sw))
        return badk(r, p, "swap_with", "must be a field name or null");
    if (json_integer_value(off) < 0 || json_integer_value(off) % 512 || json_integer_value(bits) <= 0 ||
        json_integer_value(off) + json_integer_value(bits) > (json_int_t)BL_CLK_MAX_BITS)
        return bad(r, p, "'offset' must be a multiple of 512 and 'bits' positive");
    f->name = strdup(name);
    if (!f->name)
        return bl_error_set(r->err, BL_ENOMEM, "out of memory");
    f->offset = (uint32_t)json_integer_value(off);
    f->bits = (uint32_t)json_integer_value(bits);
    json_t *tf = json_object_get(fo, "tf_adjust");
    f->tf = tf ? json_is_true(tf) : 1;
    size_t nl = json_array_size(lv);
    if (nl < 2 || nl > BL_MODEL_MAX_LEVELS)
        return bad(r, p, "'levels' must have 2 to 12 entries");
    f->nlevels = (uint32_t)nl;
    for (uint32_t l = 0; l < nl; l++) {
        bl_status st = read_level(r, f, json_array_get(lv, l), l, (uint32_t)nl, p);
        if (st != BL_OK)
            return st;
    }
    if (f->nbands == 0)
        return bad(r, p, "the first level must be exact agreement ('min_dice': 1)");
    if ((cst = check_sums(r, f, p)) != BL_OK)
        return cst;
    swap_names[i] = json_string_value(json_object_get(fo, "swap_with"));
    if ((f->swap_with == -2) != (swap_names[i] != NULL))
        return bad(r, p, "'swap_with' names the other name field exactly when there is a swapped level");
    return BL_OK;
}

/* The top level's and the training record's keys and types. */
static bl_status check_root(rd *r, json_t *root, json_t *tr)
{
    bl_status st;
    if ((st = check_keys(r, root, "$", ROOT_KEYS)) != BL_OK ||
        (st = check_type(r, root, "$", "fix_prior", JSON_TRUE, "must be true or false")) != BL_OK ||
        (st = check_type(r, root, "$", "fingerprint", JSON_STRING, "must be 64 hex digits")) != BL_OK ||
        (st = check_type(r, root, "$", "normalize", JSON_STRING, "must be a string")) != BL_OK ||
        (st = check_type(r, root, "$", "u_source", JSON_STRING, "must be a string")) != BL_OK ||
        (st = check_type(r, root, "$", "prior_candidates", JSON_REAL, "must be a number in [0, 1]")) != BL_OK ||
        (st = check_type(r, root, "$", "prior_weight", JSON_REAL, "must be a number")) != BL_OK ||
        (st = check_type(r, root, "$", "training", JSON_OBJECT, "must be an object")) != BL_OK)
        return st;
    if (!tr)
        return BL_OK;
    if ((st = check_keys(r, tr, "$.training", TRAINING_KEYS)) != BL_OK ||
        (st = check_type(r, tr, "$.training", "status", JSON_STRING, "must be a string")) != BL_OK)
        return st;
    static const char *const nums[] = {"iterations", "candidate_pairs", "random_pairs", "patterns",
                                       "namesake_pairs"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if ((st = check_type(r, tr, "$.training", nums[i], JSON_INTEGER, "must be a whole number")) != BL_OK)
            return st;
        if (json_integer_value(json_object_get(tr, nums[i])) < 0)
            return badk(r, "$.training", nums[i], "must be a whole number, not negative");
    }
    if ((st = check_type(r, tr, "$.training", "max_change", JSON_REAL, "must be a number")) != BL_OK ||
        (st = check_type(r, tr, "$.training", "em_start", JSON_STRING, "must be a string")) != BL_OK)
        return st;
    const char *es = json_string_value(json_object_get(tr, "em_start"));
    if (es && strcmp(es, "random-pair u") && strcmp(es, "candidate u"))
        return badk(r, "$.training", "em_start", "must be \"random-pair u\" or \"candidate u\"");
    json_t *ll = json_object_get(tr, "log_likelihood");
    if (ll && (json_array_size(ll) != 2 || !json_is_number(json_array_get(ll, 0)) ||
               !json_is_number(json_array_get(ll, 1))))
        return badk(r, "$.training", "log_likelihood", "must be an array of two numbers");
    return check_type(r, tr, "$.training", "em_seconds", JSON_REAL, "must be a number");
}

/* swap_with names another field of the same size (read_field kept names) */
static bl_status resolve_swaps(rd *r, bl_model *m, const char *const *swap_names)
{
    for (size_t i = 0; i < m->nf; i++) {
        if (!swap_names[i])
            continue;
        m->f[i].swap_with = -1;
        for (size_t j = 0; j < m->nf; j++)
            if (j != i && !strcmp(m->f[j].name, swap_names[i]) && m->f[j].bits == m->f[i].bits)
                m->f[i].swap_with = (int)j;
        if (m->f[i].swap_with < 0) {
            char p[64];
            snprintf(p, sizeof p, "$.fields[%zu].swap_with", i);
            return bad(r, p, "names no other field of the same size");
        }
    }
    return BL_OK;
}

static bl_status read_fingerprint(rd *r, bl_model *m, const char *fp)
{
    if (!fp)
        return BL_OK;
    /* sscanf's %2x alone takes "+1", " 1" or "-1" as a byte */
    size_t k = 0;
    while (fp[k] && isxdigit((unsigned char)fp[k]))
        k++;
    if (k != 2 * BL_FINGERPRINT_BYTES || fp[k])
        return bad(r, "$.fingerprint", "must be 64 hex digits");
    for (size_t i = 0; i < BL_FINGERPRINT_BYTES; i++) {
        unsigned v;
        if (sscanf(fp + 2 * i, "%2x", &v) != 1)
            return bad(r, "$.fingerprint", "must be 64 hex digits");
        m->fingerprint[i] = (uint8_t)v;
    }
    m->has_fp = 1;
    return BL_OK;
}

/* the training record: informational, checked by check_root */
static void read_training(bl_model *m, const json_t *tr)
{
    const char *status = json_string_value(json_object_get(tr, "status"));
    m->trained = status && strcmp(status, "not trained");
    m->converged = status && !strcmp(status, "converged");
    m->iterations = (uint32_t)json_integer_value(json_object_get(tr, "iterations"));
    m->max_change = json_number_value(json_object_get(tr, "max_change"));
    m->ncand = (uint64_t)json_integer_value(json_object_get(tr, "candidate_pairs"));
    m->nrandom = (uint64_t)json_integer_value(json_object_get(tr, "random_pairs"));
    m->nnamesakes = (uint64_t)json_integer_value(json_object_get(tr, "namesake_pairs"));
    m->npatterns = (uint64_t)json_integer_value(json_object_get(tr, "patterns"));
    m->em_seconds = json_number_value(json_object_get(tr, "em_seconds"));
    const char *es = json_string_value(json_object_get(tr, "em_start"));
    m->em_start = !es ? 0 : !strcmp(es, "candidate u") ? 2 : 1;
    m->em_loglik[0] = json_number_value(json_array_get(json_object_get(tr, "log_likelihood"), 0));
    m->em_loglik[1] = json_number_value(json_array_get(json_object_get(tr, "log_likelihood"), 1));
}

bl_status bl_model_from_json(const char *json, size_t len, const char *name, bl_model **out, bl_error *err)
{
    *out = NULL;
    rd r = {name, err};
    json_error_t je;
    const size_t bom = bli_bom_len(json, len);
    json += bom;
    len -= bom;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    /* a schema, groups, CLKs where the model belongs (valid JSON or not) */
    const char *other = bli_kind_other(json, len, BLI_KIND_MODEL);
    if (!root && *other)
        return bl_error_set(err, BL_EINPUT,
                            "%s is %s, not a model (JSON from train or match "
                            "--save-model)",
                            name, other);
    if (!root)
        return bl_error_set(err, BL_EINPUT, "%s:%d:%d: not valid JSON: %s", name, je.line, je.column, je.text);
    bl_model *m = calloc(1, sizeof *m);
    bl_status st = BL_OK;
    const char *swap_names[BL_MODEL_MAX_FIELDS] = {0};
    if (!m) {
        json_decref(root);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    json_t *fields = json_object_get(root, "fields");
    json_t *tr = json_object_get(root, "training");
    if (!json_object_get(root, "blindlink_model") && *other)
        st = bl_error_set(err, BL_EINPUT,
                          "%s is %s, not a model (JSON from train or match "
                          "--save-model)",
                          name, other);
    else if (!json_is_object(root) ||
             json_integer_value(json_object_get(root, "blindlink_model")) != MODEL_FORMAT)
        st = bad(&r, "$.blindlink_model", "not a blindlink model file (format 1)");
    else
        st = check_root(&r, root, tr);
    if (st != BL_OK)
        ; /* reported */
    else if (get_prob(root, "prior", &m->prior) || m->prior <= 0 || m->prior >= 1)
        st = bad(&r, "$.prior", "must be a number in (0, 1)");
    else if (!json_is_array(fields) || json_array_size(fields) == 0 || json_array_size(fields) > BL_MODEL_MAX_FIELDS)
        st = bad(&r, "$.fields", "must be an array of 1 to 32 fields");
    m->fix_prior = json_is_true(json_object_get(root, "fix_prior"));
    if (st == BL_OK && m->fix_prior && (m->prior < BLI_MODEL_PMIN || m->prior > 1 - BLI_MODEL_PMIN))
        st = bad(&r, "$.prior",
                 "is fixed outside [1e-12, 1 - 1e-12], the range the posterior is "
                 "computed in");
    if (!json_object_get(root, "prior_candidates"))
        m->prior_cand = m->prior;
    else if (st == BL_OK && get_prob(root, "prior_candidates", &m->prior_cand))
        st = bad(&r, "$.prior_candidates", "must be a number in [0, 1]"); /* was replaced by 'prior' */
    for (size_t i = 0; st == BL_OK && i < json_array_size(fields); i++) {
        m->nf = i + 1;
        st = read_field(&r, m, i, json_array_get(fields, i), swap_names);
    }
    if (st == BL_OK)
        st = resolve_swaps(&r, m, swap_names);
    if (st == BL_OK)
        st = read_fingerprint(&r, m, json_string_value(json_object_get(root, "fingerprint")));
    const char *norm = json_string_value(json_object_get(root, "normalize"));
    if (st == BL_OK && norm && !(m->normalize = strdup(norm)))
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    const char *us = json_string_value(json_object_get(root, "u_source"));
    if (st == BL_OK && us && !(m->u_source = strdup(us)))
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    read_training(m, tr);
    json_decref(root);
    if (st != BL_OK) {
        bl_model_free(m);
        return st;
    }
    *out = m;
    return BL_OK;
}

bl_status bl_model_read(const char *path, bl_model **out, bl_error *err)
{
    /* '-' is standard input (explain --model - < model.json) */
    const int std_in = !strcmp(path, "-");
    FILE *fp = std_in ? stdin : fopen(path, "rb");
    if (!fp)
        return bl_error_set(err, BL_EINVAL, "cannot read model '%s': %s", path, strerror(errno));
    char *buf = malloc(MAX_MODEL_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_MODEL_BYTES + 1, fp) : 0;
    const int rerr = ferror(fp);
    if (!std_in)
        fclose(fp);
    if (buf && rerr) {
        free(buf);
        return bl_error_set(err, BL_EIO, "cannot read model '%s': read error", path);
    }
    if (!buf)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    if (n > MAX_MODEL_BYTES) {
        free(buf);
        return bl_error_set(err, BL_EINPUT, "%s: larger than %u bytes", path, MAX_MODEL_BYTES);
    }
    bl_status st = bl_model_from_json(buf, n, path, out, err);
    free(buf);
    return st;
}
