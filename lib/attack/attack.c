/* lib/attack/attack.c - the attack layer: re-identification attacks against
 * blindlink's own encodings (docs/attacks.md). This file loads what the
 * attacker knows (schema, encoding options from the file's metadata, a
 * plaintext CSV), encodes that plaintext with a key of the attacker's own in
 * the attacked file's layout, runs a method (graph.c, frequency.c,
 * pattern.c) and scores the guesses by record id.
 * Calls down only: core (CSV, CLK sets), encode (schema, encoder). */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindlink/csv.h>

#include "attack/attack_internal.h"

int bl_attack_method_parse(const char *name)
{
    if (!strcmp(name, "graph"))
        return BL_ATTACK_GRAPH;
    if (!strcmp(name, "frequency"))
        return BL_ATTACK_FREQUENCY;
    if (!strcmp(name, "pattern"))
        return BL_ATTACK_PATTERN;
    return -1;
}

const char *bl_attack_method_name(bl_attack_method m)
{
    return m == BL_ATTACK_GRAPH ? "graph" : m == BL_ATTACK_FREQUENCY ? "frequency" : "pattern";
}

/* ---- shared helpers ---- */

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) static uint32_t popcount_hw(const uint64_t *a, size_t w)
{
    uint32_t c = 0;
    for (size_t i = 0; i < w; i++)
        c += (uint32_t)__builtin_popcountll(a[i]);
    return c;
}
__attribute__((target("popcnt"))) static uint32_t andcount_hw(const uint64_t *a, const uint64_t *b, size_t w)
{
    uint32_t c = 0;
    for (size_t i = 0; i < w; i++)
        c += (uint32_t)__builtin_popcountll(a[i] & b[i]);
    return c;
}
#define HAVE_HW 1
#endif

static uint32_t andcount_sw(const uint64_t *a, const uint64_t *b, size_t w)
{
    uint32_t c = 0;
    for (size_t i = 0; i < w; i++)
        c += (uint32_t)__builtin_popcountll(a[i] & b[i]);
    return c;
}

static int hw_popcnt(void)
{
#ifdef HAVE_HW
    static int v = -1;
    if (v < 0)
        v = __builtin_cpu_supports("popcnt") ? 1 : 0;
    return v;
#else
    return 0;
#endif
}

uint32_t atk_popcount(const uint64_t *a, size_t words)
{
#ifdef HAVE_HW
    if (hw_popcnt())
        return popcount_hw(a, words);
#endif
    return andcount_sw(a, a, words);
}

double atk_dice_words(const uint64_t *a, const uint64_t *b, size_t words, uint32_t pa, uint32_t pb)
{
    if (pa + pb == 0)
        return 0.0;
    uint32_t c;
#ifdef HAVE_HW
    if (hw_popcnt())
        c = andcount_hw(a, b, words);
    else
#endif
        c = andcount_sw(a, b, words);
    return 2.0 * c / (double)(pa + pb);
}

static int cmp_score_desc(const void *x, const void *y)
{
    const bl_attack_guess *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->enc != b->enc)
        return a->enc < b->enc ? -1 : 1;
    return a->plain < b->plain ? -1 : a->plain > b->plain;
}

size_t atk_greedy(bl_attack_guess *pairs, size_t n, size_t nenc, size_t nplain, bl_attack_guess *out)
{
    qsort(pairs, n, sizeof *pairs, cmp_score_desc);
    uint8_t *te = calloc(nenc ? nenc : 1, 1), *tp = calloc(nplain ? nplain : 1, 1);
    size_t k = 0;
    if (!te || !tp) {
        free(te);
        free(tp);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (te[pairs[i].enc] || tp[pairs[i].plain])
            continue;
        te[pairs[i].enc] = tp[pairs[i].plain] = 1;
        out[k++] = pairs[i];
    }
    free(te);
    free(tp);
    return k;
}

typedef struct par_job {
    void (*fn)(void *, size_t, size_t);
    void *ctx;
    size_t lo, hi;
} par_job;

static void *par_run(void *p)
{
    par_job *j = p;
    j->fn(j->ctx, j->lo, j->hi);
    return NULL;
}

void atk_parallel(int threads, size_t n, void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx)
{
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    if ((size_t)threads > n)
        threads = n ? (int)n : 1;
    par_job jobs[64];
    pthread_t tid[64];
    int started[64] = {0};
    for (int t = 0; t < threads; t++) {
        jobs[t] = (par_job){fn, ctx, n * (size_t)t / (size_t)threads, n * (size_t)(t + 1) / (size_t)threads};
        started[t] = t > 0 && pthread_create(&tid[t], NULL, par_run, &jobs[t]) == 0;
        if (t > 0 && !started[t])
            fn(ctx, jobs[t].lo, jobs[t].hi);
    }
    fn(ctx, jobs[0].lo, jobs[0].hi);
    for (int t = 1; t < threads; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
}

/* ---- schemas and encoders for one segment ---- */

bl_status atk_subschema(const bl_schema *s, const size_t *feat, size_t nfeat, uint32_t l, bl_schema **out,
                        bl_error *err)
{
    char *txt = NULL;
    bl_status st = bl_schema_to_v3_json(s, &txt, err);
    if (st != BL_OK)
        return st;
    json_error_t je;
    json_t *root = json_loads(txt, 0, &je);
    free(txt);
    json_t *fs = root ? json_object_get(root, "features") : NULL;
    json_t *cc = root ? json_object_get(root, "clkConfig") : NULL;
    if (!json_is_array(fs) || !json_is_object(cc)) {
        json_decref(root);
        return bl_error_set(err, BL_EINTERNAL, "schema conversion failed");
    }
    json_object_set_new(cc, "l", json_integer(l));
    for (size_t i = 0; i < json_array_size(fs); i++) {
        int keep = 0;
        for (size_t k = 0; k < nfeat; k++)
            keep |= feat[k] == i;
        if (!keep)
            json_array_set_new(fs, i, json_pack("{s:O,s:b}", "identifier",
                                                json_object_get(json_array_get(fs, i), "identifier"), "ignored", 1));
    }
    char *t2 = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!t2)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    st = bl_schema_parse(t2, strlen(t2), "field schema", out, err);
    free(t2);
    return st;
}

bl_status atk_seg_encoder(const bl_schema *sub, const uint8_t *secret, size_t len, const bl_encode_opts *eo,
                          uint32_t bits, bl_encoder **out, bl_error *err)
{
    bl_status st = bl_encoder_new(sub, secret, len, eo, out, err);
    if (st != BL_OK || bl_encoder_nbits(*out) == bits)
        return st;
    uint32_t got = bl_encoder_nbits(*out);
    bl_encoder_free(*out);
    *out = NULL;
    return bl_error_set(err, BL_EINPUT, "a field of %u bits cannot come from this schema and hardening (gives %u)",
                        bits, got);
}

/* ---- plaintext ---- */

static void trim_name(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Map header columns to schema features; `idcol` receives the id column. */
static bl_status map_header(const bl_schema *sc, const bl_csv_row *h, const char *name, const char *ids_column,
                            size_t *col, size_t *idcol, bl_error *err)
{
    size_t nf = bl_schema_nfeatures(sc);
    *idcol = (size_t)-1;
    for (size_t i = 0; i < nf; i++)
        col[i] = (size_t)-1;
    for (size_t j = 0; j < h->nfields; j++) {
        const char *v = h->fields[j];
        size_t n = h->lens[j];
        trim_name(&v, &n);
        for (size_t i = 0; i < nf; i++)
            if (col[i] == (size_t)-1 && strlen(bl_schema_feature_id(sc, i)) == n &&
                !memcmp(v, bl_schema_feature_id(sc, i), n))
                col[i] = j;
        if (ids_column && strlen(ids_column) == n && !memcmp(v, ids_column, n))
            *idcol = j;
    }
    for (size_t i = 0; i < nf; i++)
        if (col[i] == (size_t)-1 && !bl_schema_feature_ignored(sc, i))
            return bl_error_set(err, BL_EINPUT,
                                "%s: no column '%s' (schema feature %zu): the plaintext must carry every hashed "
                                "field of the schema",
                                name, bl_schema_feature_id(sc, i), i + 1);
    if (ids_column && *idcol == (size_t)-1)
        return bl_error_set(err, BL_EINPUT, "%s: no column '%s' (--ids)", name, ids_column);
    return BL_OK;
}

typedef struct plain_acc {
    char **cells, **ids;
    size_t m, cap;
} plain_acc;

static int acc_add(plain_acc *a, const bl_csv_row *row, const size_t *col, size_t nf, size_t idcol)
{
    if (a->m == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 1024;
        char **c2 = realloc(a->cells, nc * nf * sizeof *c2);
        if (!c2)
            return -1;
        a->cells = c2;
        char **i2 = realloc(a->ids, nc * sizeof *i2);
        if (!i2)
            return -1;
        a->ids = i2;
        a->cap = nc;
    }
    for (size_t i = 0; i < nf; i++) {
        const char *v = col[i] != (size_t)-1 && col[i] < row->nfields ? row->fields[col[i]] : "";
        if (!(a->cells[a->m * nf + i] = strdup(v)))
            return -1;
    }
    a->ids[a->m] = idcol != (size_t)-1 && idcol < row->nfields ? strdup(row->fields[idcol]) : NULL;
    a->m++;
    return 0;
}

/* Encode one plaintext row with the attacker's segment encoders into `rec`. */
static bl_status encode_row(atk_ctx *c, bl_encode_scratch **scr, char *const *cells, uint8_t *rec, bl_error *err)
{
    const char *f[BL_SCHEMA_MAX_FEATURES];
    size_t lens[BL_SCHEMA_MAX_FEATURES];
    for (size_t i = 0; i < c->nf; i++) {
        f[i] = cells[i];
        lens[i] = strlen(cells[i]);
    }
    memset(rec, 0, c->own->nbytes);
    for (size_t s = 0; s < c->nseg; s++) {
        bl_status st = bl_encoder_encode(c->seg[s].own, scr[s], f, lens, c->nf, rec + c->seg[s].offset / 8, NULL, err);
        if (st != BL_OK)
            return st;
    }
    if (c->wide_enc) {
        uint8_t *w = rec + c->own->stride; /* the caller's buffer holds both */
        bl_status st = bl_encoder_encode(c->wide_enc, scr[c->nseg], f, lens, c->nf, w, NULL, err);
        if (st == BL_OK)
            st = bl_clkset_append(c->wide, w, NULL, err);
        return st;
    }
    return BL_OK;
}

static bl_status load_plain(atk_ctx *c, const char *path, const bl_attack_opts *o, size_t *skipped, bl_error *err)
{
    bl_csv_reader *rd = NULL;
    bl_csv_row row;
    size_t *col = calloc(c->nf, sizeof *col), idcol;
    plain_acc a = {0};
    bl_encode_scratch **scr = calloc(c->nseg + 1, sizeof *scr);
    uint8_t *rec = calloc(1, c->own->stride + (size_t)c->narrow_bits * ATK_WIDE_FACTOR / 8 + 64);
    bl_status st = (!col || !scr || !rec) ? bl_error_set(err, BL_ENOMEM, "out of memory")
                                          : bl_csv_open(path, NULL, &rd, err);
    for (size_t s = 0; st == BL_OK && s < c->nseg; s++)
        if (!(scr[s] = bl_encode_scratch_new(c->seg[s].own)))
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
    if (st == BL_OK && c->wide_enc && !(scr[c->nseg] = bl_encode_scratch_new(c->wide_enc)))
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    if (st == BL_OK && (st = bl_csv_next(rd, &row, err)) == BL_EOF)
        st = bl_error_set(err, BL_EINPUT, "%s: empty file: no header row", path);
    if (st == BL_OK)
        st = map_header(c->schema, &row, path, o->ids_column, col, &idcol, err);
    *skipped = 0;
    const size_t ncols = st == BL_OK ? row.nfields : 0;
    while (st == BL_OK && (st = bl_csv_next(rd, &row, err)) == BL_OK) {
        /* a row with another number of columns than the header is broken
         * CSV (encode refuses it too), not a record with empty fields */
        if (row.nfields != ncols) {
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: row has %zu columns, the header %zu", path,
                              (unsigned long long)row.line, row.nfields, ncols);
            break;
        }
        if (acc_add(&a, &row, col, c->nf, idcol) != 0) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
        }
        bl_error e2 = {0};
        if (encode_row(c, scr, a.cells + (a.m - 1) * c->nf, rec, &e2) != BL_OK ||
            bl_clkset_append(c->own, rec, NULL, &e2) != BL_OK) {
            for (size_t i = 0; i < c->nf; i++) /* a row the schema rejects: the parties could not encode it */
                free(a.cells[(a.m - 1) * c->nf + i]);
            free(a.ids[a.m - 1]);
            a.m--;
            (*skipped)++;
        }
    }
    if (st == BL_EOF)
        st = a.m ? BL_OK : bl_error_set(err, BL_EINPUT, "%s: no usable plaintext records", path);
    c->cells = a.cells;
    c->ids = a.ids;
    c->m = a.m;
    for (size_t s = 0; s <= c->nseg && scr; s++)
        bl_encode_scratch_free(scr[s]);
    free(scr);
    free(rec);
    free(col);
    bl_csv_free(rd);
    return st;
}

/* ---- layout metadata (CONTRACTS: "layout", "fields") ---- */

void bl_attack_layout_free(bl_attack_layout *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nfields; i++) {
        for (size_t k = 0; k < l->f[i].nfeatures; k++)
            free(l->f[i].features[k]);
        free(l->f[i].features);
    }
    free(l->f);
    memset(l, 0, sizeof *l);
}

static bl_status parse_field(json_t *fo, size_t i, const char *name, const bl_schema *sc, uint32_t prev_end,
                             uint32_t nbits, bl_attack_layout_field *f, bl_error *err)
{
    json_t *nm = json_object_get(fo, "name"), *ft = json_object_get(fo, "features");
    json_t *off = json_object_get(fo, "offset"), *bits = json_object_get(fo, "bits");
    if (!json_is_string(nm) || !json_is_array(ft) || !json_is_integer(off) || !json_is_integer(bits))
        return bl_error_set(err, BL_EINPUT,
                            "%s: metadata $.fields[%zu]: needs name (string), features (array), offset and bits "
                            "(integers)",
                            name, i);
    json_int_t o = json_integer_value(off), b = json_integer_value(bits);
    if (o < 0 || b <= 0 || o % 512 || (uint64_t)o < prev_end || (uint64_t)(o + b) > nbits)
        return bl_error_set(err, BL_EINPUT,
                            "%s: metadata $.fields[%zu]: offset %lld / bits %lld: fields must start at "
                            "increasing multiples of 512 and end inside the %u-bit record",
                            name, i, (long long)o, (long long)b, nbits);
    snprintf(f->name, sizeof f->name, "%s", json_string_value(nm));
    f->offset = (uint32_t)o;
    f->bits = (uint32_t)b;
    f->nfeatures = json_array_size(ft);
    f->features = calloc(f->nfeatures ? f->nfeatures : 1, sizeof *f->features);
    if (!f->features)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t k = 0; k < f->nfeatures; k++) {
        json_t *v = json_array_get(ft, k);
        int known = 0;
        for (size_t j = 0; json_is_string(v) && j < bl_schema_nfeatures(sc); j++)
            known |= !strcmp(bl_schema_feature_id(sc, j), json_string_value(v));
        if (!known)
            return bl_error_set(err, BL_EINPUT, "%s: metadata $.fields[%zu].features[%zu]: not a feature of the schema",
                                name, i, k);
        if (!(f->features[k] = strdup(json_string_value(v))))
            return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    return BL_OK;
}

bl_status bl_attack_layout_parse(const bl_clkset *s, const char *name, const bl_schema *schema, bl_attack_layout *out,
                          bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s->meta)
        return BL_OK;
    json_error_t je;
    json_t *root = json_loads(s->meta, 0, &je);
    json_t *lay = root ? json_object_get(root, "layout") : NULL;
    bl_status st = BL_OK;
    if (!root) {
        st = bl_error_set(err, BL_EINPUT, "%s: unreadable encoding metadata", name);
    } else if (lay && (!json_is_string(lay) ||
                       (strcmp(json_string_value(lay), "record") && strcmp(json_string_value(lay), "fields")))) {
        st = bl_error_set(err, BL_EINPUT, "%s: metadata $.layout must be \"record\" or \"fields\"", name);
    } else if (lay && !strcmp(json_string_value(lay), "fields")) {
        json_t *fs = json_object_get(root, "fields");
        if (!json_is_array(fs) || json_array_size(fs) == 0) {
            st = bl_error_set(err, BL_EINPUT, "%s: metadata $.fields: a non-empty array is required with layout \"fields\"",
                              name);
        } else {
            out->fields = 1;
            out->f = calloc(json_array_size(fs), sizeof *out->f);
            if (!out->f)
                st = bl_error_set(err, BL_ENOMEM, "out of memory");
            uint32_t end = 0;
            for (size_t i = 0; st == BL_OK && i < json_array_size(fs); i++) {
                out->nfields = i + 1;
                st = parse_field(json_array_get(fs, i), i, name, schema, end, s->nbits, &out->f[i], err);
                end = out->f[i].offset + out->f[i].bits;
            }
        }
    }
    json_decref(root);
    if (st != BL_OK)
        bl_attack_layout_free(out);
    return st;
}

/* ---- context: segments, the attacker's encoders ---- */

static const char *meta_string(const char *meta, const char *key, char *buf, size_t cap)
{
    buf[0] = '\0';
    json_error_t je;
    json_t *root = meta ? json_loads(meta, 0, &je) : NULL;
    json_t *v = root ? json_object_get(root, key) : NULL;
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    json_decref(root);
    return buf;
}

static size_t feature_index(const bl_schema *sc, const char *id)
{
    for (size_t j = 0; j < bl_schema_nfeatures(sc); j++)
        if (!strcmp(bl_schema_feature_id(sc, j), id))
            return j;
    return (size_t)-1;
}

static bl_status setup_segments(atk_ctx *c, const bl_attack_layout *lay, const bl_encode_opts *eo, const uint8_t *key,
                                bl_error *err)
{
    c->nseg = lay->fields ? lay->nfields : 1;
    c->seg = calloc(c->nseg, sizeof *c->seg);
    if (!c->seg)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t s = 0; s < c->nseg; s++) {
        atk_seg *g = &c->seg[s];
        if (!lay->fields) {
            g->bits = c->enc->nbits;
            g->nfeat = 0;
            for (size_t j = 0; j < c->nf; j++)
                g->nfeat += !bl_schema_feature_ignored(c->schema, j);
            g->feat = calloc(g->nfeat ? g->nfeat : 1, sizeof *g->feat);
            if (!g->feat)
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            for (size_t j = 0, k = 0; j < c->nf; j++)
                if (!bl_schema_feature_ignored(c->schema, j))
                    g->feat[k++] = j;
            bl_status st = atk_seg_encoder(c->schema, key, 32, eo, g->bits, &g->own, err);
            if (st != BL_OK)
                return st;
            continue;
        }
        g->offset = lay->f[s].offset;
        g->bits = lay->f[s].bits;
        g->nfeat = lay->f[s].nfeatures;
        g->feat = calloc(g->nfeat ? g->nfeat : 1, sizeof *g->feat);
        if (!g->feat)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        for (size_t k = 0; k < g->nfeat; k++)
            g->feat[k] = feature_index(c->schema, lay->f[s].features[k]);
        /* the field's hashed length: hardening may double (balance) or halve (xor) it */
        {
            uint32_t l = g->bits;
            for (int attempt = 0; attempt < 3; attempt++) {
                bl_schema_free(g->sub);
                g->sub = NULL;
                bl_status st = atk_subschema(c->schema, g->feat, g->nfeat, l, &g->sub, err);
                if (st != BL_OK)
                    return st;
                bl_encoder *e = NULL;
                if ((st = bl_encoder_new(g->sub, key, 32, eo, &e, err)) != BL_OK)
                    return st;
                uint32_t got = bl_encoder_nbits(e);
                if (got == g->bits) {
                    g->own = e;
                    break;
                }
                bl_encoder_free(e);
                l = (uint32_t)((uint64_t)l * g->bits / got);
            }
            if (!g->own)
                return bl_error_set(err, BL_EINPUT, "field '%s' (%u bits) cannot be reproduced with this schema and "
                                    "hardening", lay->f[s].name, g->bits);
        }
    }
    return BL_OK;
}

static void ctx_free(atk_ctx *c)
{
    for (size_t s = 0; s < c->nseg; s++) {
        bl_encoder_free(c->seg[s].own);
        bl_schema_free(c->seg[s].sub);
        free(c->seg[s].feat);
    }
    free(c->seg);
    for (size_t i = 0; c->cells && i < c->m * c->nf; i++)
        free(c->cells[i]);
    for (size_t i = 0; c->ids && i < c->m; i++)
        free(c->ids[i]);
    free(c->cells);
    free(c->ids);
    bl_clkset_free(c->own);
    bl_clkset_free(c->debal);
    bl_encoder_free(c->wide_enc);
    bl_clkset_free(c->wide);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bl_status check_inputs(const bl_clkset *enc, const bl_attack_opts *o, bl_error *err)
{
    if (o->method < BL_ATTACK_GRAPH || o->method > BL_ATTACK_PATTERN)
        return bl_error_set(err, BL_EINVAL, "unknown attack method");
    if (enc->count == 0)
        return bl_error_set(err, BL_EINPUT, "the encoded file holds no records");
    if (o->truth_ids && !enc->ids)
        return bl_error_set(err, BL_EINPUT,
                            "--truth ids: the encoded file carries no record ids (encode it with --format bin "
                            "--ids COLUMN)");
    if (o->truth_ids && !o->ids_column)
        return bl_error_set(err, BL_EINVAL, "--truth ids needs --ids COLUMN naming the plaintext's id column");
    return BL_OK;
}

static bl_status wide_setup(atk_ctx *c, const bl_encode_opts *eo, bl_error *err)
{
    uint8_t key[32];
    crypto_generichash(key, sizeof key, (const uint8_t *)"wide", 4, NULL, 0);
    bl_schema *sub = NULL;
    c->narrow_bits = bl_schema_filter_bits(c->schema); /* the length before hardening */
    bl_status st = atk_subschema(c->schema, c->seg[0].feat, c->seg[0].nfeat, c->narrow_bits * ATK_WIDE_FACTOR, &sub,
                                 err);
    if (st == BL_OK)
        st = bl_encoder_new(sub, key, sizeof key, eo, &c->wide_enc, err);
    if (st == BL_OK)
        st = bl_clkset_new(bl_encoder_nbits(c->wide_enc), 1024, &c->wide, err);
    /* the encoder keeps a pointer to its schema: keep it alive with the context */
    c->seg[0].sub = sub;
    return st;
}

/* The attacker's view of the hardening `canon` (rewritten in place): a
 * balanced file is first de-balanced (debalance.c), after which it is
 * attacked as the same profile without `balance`; the graph attack models
 * the remaining steps (atk_hmodel). BL_ATTACK_NAIVE=1 (for the report:
 * the attacker before this model) skips both and models only balancing. */
static bl_status model_hardening(atk_ctx *c, bl_attack_layout *lay, char *canon, int graph, bl_error *err)
{
    atk_hmodel_parse(canon, &c->hm);
    const char *naive = getenv("BL_ATTACK_NAIVE");
    if (naive && *naive == '1') {
        int bal = c->hm.balance;
        memset(&c->hm, 0, sizeof c->hm);
        c->hm.balance = bal;
        return BL_OK;
    }
    /* the graph attack is better off without: on record-level CLKs (about
     * half full) which column of a pair is the original is a coin toss,
     * and balanced Dice is 1 - Hamming/l, modelled exactly; on balanced
     * field-level files it aligned 100% of 2,000 records as they are and
     * 2.8% once de-balanced (bench/attacks.sh). Pattern mining needs it. */
    if (!c->hm.balance || c->hm.diffuse || graph)
        return BL_OK;
    bl_status st = atk_debalance(c->enc, lay, &c->debal, err);
    if (st != BL_OK || !c->debal)
        return st;
    c->enc = c->debal;
    c->hm.balance = 0;
    /* the same profile without its balance step */
    char *b = strstr(canon, "balance");
    if (b) {
        size_t n = strlen("balance") + (b[7] == ',');
        if (b > canon && b[7] != ',')
            b--, n++; /* the comma before a last step */
        memmove(b, b + n, strlen(b + n) + 1);
    }
    return BL_OK;
}

/* Encodings that name their schema (binary header) must have been made
 * with this schema and these options: with another one every guess is
 * noise, and the attack would report a false all-clear (a file made with
 * one schema, attacked with another: 0.1% re-identified, against 99.6%).
 * The fingerprint does not depend on the key. */
static bl_status same_schema(const bl_schema *schema, const bl_encode_opts *eo, int fields,
                             const bl_clkset *enc, const uint8_t key[32], bl_error *err)
{
    if (!enc->has_fingerprint)
        return BL_OK;
    bl_encode_opts fo = *eo;
    fo.layout = fields ? BL_LAYOUT_FIELDS : BL_LAYOUT_RECORD;
    bl_encoder *e = NULL;
    bl_status st = bl_encoder_new(schema, key, 32, &fo, &e, err);
    if (st != BL_OK)
        return st;
    uint8_t fp[32];
    bl_encoder_fingerprint(e, fp);
    bl_encoder_free(e);
    if (!memcmp(fp, enc->fingerprint, 32))
        return BL_OK;
    return bl_error_set(
        err, BL_EINPUT,
        "encoded file: made with another schema or other options (its fingerprint "
        "%02x%02x%02x%02x..., this schema with these options gives "
        "%02x%02x%02x%02x...): attack with the schema and --normalize/--harden/--legacy-strip it "
        "was encoded with",
        enc->fingerprint[0], enc->fingerprint[1], enc->fingerprint[2], enc->fingerprint[3], fp[0],
        fp[1], fp[2], fp[3]);
}

static bl_status build_ctx(atk_ctx *c, const bl_schema *schema, const bl_clkset *enc, const bl_attack_opts *o,
                           bl_attack_result *r, bl_error *err)
{
    bl_attack_layout lay;
    bl_status st = bl_attack_layout_parse(enc, "encoded file", schema, &lay, err);
    if (st != BL_OK)
        return st;
    char hbuf[160], nbuf[32], canon[160];
    bl_encode_opts eo = {.no_validate = o->no_validate, .legacy_strip = o->legacy_strip};
    eo.harden = o->harden ? o->harden : meta_string(enc->meta, "harden", hbuf, sizeof hbuf);
    if ((st = bl_harden_canonical_layout(eo.harden, schema, lay.fields ? BL_LAYOUT_FIELDS : BL_LAYOUT_RECORD, canon,
                                         sizeof canon, err)) != BL_OK) {
        bl_attack_layout_free(&lay);
        return st;
    }
    snprintf(r->harden, sizeof r->harden, "%s", canon);
    eo.harden = canon;
    if (o->normalize_set) {
        eo.normalize = o->normalize;
    } else if (*meta_string(enc->meta, "normalize", nbuf, sizeof nbuf)) {
        int p = bl_normalize_profile_parse(nbuf);
        if (p < 0) {
            bl_attack_layout_free(&lay);
            return bl_error_set(err, BL_EINPUT, "encoded file: unknown normalisation '%s' in the metadata", nbuf);
        }
        eo.normalize = (bl_normalize_profile)p;
    }
    /* the attacker's own key: reproducible from the seed, unrelated to the secret */
    uint8_t key[32], sd[8];
    for (int i = 0; i < 8; i++)
        sd[i] = (uint8_t)(o->seed >> (8 * i));
    crypto_generichash(key, sizeof key, sd, sizeof sd, (const uint8_t *)"blindlink-attacker", 18);
    /* checked with the whole profile, before the balance step is modelled apart */
    st = same_schema(schema, &eo, lay.fields, enc, key, err);
    if (st == BL_OK)
        st = model_hardening(c, &lay, canon, o->method == BL_ATTACK_GRAPH, err);
    if (st == BL_OK)
        st = setup_segments(c, &lay, &eo, key, err);
    sodium_memzero(key, sizeof key);
    snprintf(r->layout, sizeof r->layout, "%s", lay.fields ? "fields" : "record");
    r->segments = c->nseg;
    int fields = lay.fields;
    bl_attack_layout_free(&lay);
    lay.fields = fields;
    if (st == BL_OK)
        st = bl_clkset_new(c->enc->nbits, 1024, &c->own, err);
    /* record level: the plaintext similarity before hardening from the wide
     * encodings, carried through the modelled hardening (graph.c) */
    if (st == BL_OK && o->method == BL_ATTACK_GRAPH && !lay.fields && bl_schema_xor_folds(schema) == 0) {
        bl_encode_opts wo = eo;
        char salt[96] = "";
        const char *sp = strstr(canon, "salt=");
        if (sp) { /* only salting changes which tokens are hashed */
            size_t n = strcspn(sp, ",");
            snprintf(salt, sizeof salt, "%.*s", (int)n, sp);
        }
        wo.harden = salt;
        st = wide_setup(c, &wo, err);
    }
    return st;
}

bl_status bl_attack_run(const bl_schema *schema, const char *plain_csv, const bl_clkset *enc, const bl_attack_opts *o,
                        bl_attack_result *r, bl_attack_guess **guesses, size_t *nguesses, bl_error *err)
{
    memset(r, 0, sizeof *r);
    if (guesses)
        *guesses = NULL;
    if (nguesses)
        *nguesses = 0;
    bl_status st = check_inputs(enc, o, err);
    if (st != BL_OK || (st = bl_init()) != BL_OK)
        return st;
    double t0 = now_s();
    atk_ctx c = {.schema = schema, .enc = enc, .nf = bl_schema_nfeatures(schema), .seed = o->seed};
    c.threads = o->threads > 0 ? o->threads : 2;
    st = build_ctx(&c, schema, enc, o, r, err);
    if (st == BL_OK)
        st = load_plain(&c, plain_csv, o, &r->skipped, err);
    bl_attack_guess *g = NULL;
    size_t ng = 0;
    if (st == BL_OK)
        st = o->method == BL_ATTACK_GRAPH       ? atk_graph(&c, &g, &ng, err)
             : o->method == BL_ATTACK_FREQUENCY ? atk_frequency(&c, &g, &ng, err)
                                                : atk_pattern(&c, &g, &ng, err);
    if (st == BL_OK) {
        r->encoded = enc->count;
        r->scored = o->truth_ids != 0;
        r->plain = c.m;
        r->guesses = ng;
        for (size_t i = 0; o->truth_ids && i < ng; i++)
            r->correct += c.ids[g[i].plain] && !strcmp(enc->ids[g[i].enc], c.ids[g[i].plain]);
        r->reidentified = (double)r->correct / (double)enc->count;
        r->precision = ng ? (double)r->correct / (double)ng : 0.0;
        r->seconds = now_s() - t0;
        if (guesses) {
            *guesses = g;
            g = NULL;
            if (nguesses)
                *nguesses = ng;
        }
    }
    free(g);
    ctx_free(&c);
    return st;
}

bl_status bl_attack_result_json(const bl_attack_result *r, bl_attack_method m, char **out, bl_error *err)
{
    json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:s,s:I,s:s}", "method", bl_attack_method_name(m),
                          "encoded", (json_int_t)r->encoded, "plain", (json_int_t)r->plain, "skipped",
                          (json_int_t)r->skipped, "guesses", (json_int_t)r->guesses, "correct",
                          (json_int_t)r->correct, "reidentified", r->reidentified, "precision", r->precision,
                          "seconds", r->seconds, "layout", r->layout, "segments", (json_int_t)r->segments, "harden",
                          r->harden[0] ? r->harden : "none");
    /* without a truth there is nothing to count: null, not a zero that reads as "safe" */
    if (o && !r->scored) {
        json_object_set_new(o, "correct", json_null());
        json_object_set_new(o, "reidentified", json_null());
        json_object_set_new(o, "precision", json_null());
    }
    *out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return *out ? BL_OK : bl_error_set(err, BL_ENOMEM, "out of memory");
}
