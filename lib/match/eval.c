/* lib/match/eval.c - linkage evaluation: ground truth from ids (FEBRL convention
 * or shared ids) or from explicit true pairs, precision/recall/F1, reading
 * the matches CSVs written by `blindlink match`, and histograms of true vs
 * false candidate scores as text or SVG. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>
#include <blindlink/eval.h>
#include <blindlink/io.h>
#include "core/utf8.h"
#include "match/match_internal.h"
#include "core/strmap.h"

struct bl_eval_truth {
    int by_pairs;
    /* ids: entity number per record (UINT32_MAX = unknown) */
    size_t nsets;
    size_t *counts;
    uint32_t **ent;
    /* pairs: sorted unique keys */
    bl_candidate *pairs;
    size_t npairs;
    uint64_t ntrue;
};

/* FEBRL: rec-<N>-org or rec-<N>-dup-<K>; returns the span of N */
static int febrl_entity(const char *id, const char **s, size_t *n)
{
    if (strncmp(id, "rec-", 4) != 0)
        return -1;
    const char *p = id + 4, *q = p;
    while (*q >= '0' && *q <= '9')
        q++;
    if (q == p || *q != '-')
        return -1;
    if (strcmp(q, "-org") != 0 && strncmp(q, "-dup-", 5) != 0)
        return -1;
    *s = p;
    *n = (size_t)(q - p);
    return 0;
}

void bl_eval_truth_free(bl_eval_truth *t)
{
    if (!t)
        return;
    for (size_t d = 0; d < t->nsets; d++)
        free(t->ent ? t->ent[d] : NULL);
    free(t->ent);
    free(t->counts);
    free(t->pairs);
    free(t);
}

bl_status bl_eval_truth_from_ids(const char *const *const *ids, const size_t *counts,
                                 size_t nsets, bl_eval_idmode mode, bl_eval_truth **out,
                                 bl_error *err)
{
    if (!out || !ids || !counts || nsets < 2)
        return bl_error_set(err, BL_EINVAL, "truth needs ids of at least two datasets");
    *out = NULL;
    bl_eval_truth *t = calloc(1, sizeof *t);
    bl_strmap m = {0};
    if (!t)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    t->nsets = nsets;
    t->counts = calloc(nsets, sizeof *t->counts);
    t->ent = calloc(nsets, sizeof *t->ent);
    bl_status st = (!t->counts || !t->ent) ? bl_error_set(err, BL_ENOMEM, "out of memory") : BL_OK;
    for (size_t d = 0; !st && d < nsets; d++) {
        t->counts[d] = counts[d];
        t->ent[d] = malloc((counts[d] ? counts[d] : 1) * sizeof **t->ent);
        if (!t->ent[d]) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
        }
        for (size_t r = 0; r < counts[d]; r++) {
            const char *id = ids[d] ? ids[d][r] : NULL;
            t->ent[d][r] = UINT32_MAX;
            if (!id || !*id)
                continue;
            const char *s = id;
            size_t n = strlen(id);
            if (mode == BL_EVAL_FEBRL && febrl_entity(id, &s, &n) != 0) {
                st = bl_error_set(err, BL_EINPUT,
                                  "dataset %zu: id '%s' does not follow FEBRL's "
                                  "rec-N-org / rec-N-dup-K convention (--truth id compares "
                                  "ids as they are)",
                                  d, BLI_SHOW(id, strlen(id)));
                break;
            }
            if (bli_strmap_intern(&m, s, n, &t->ent[d][r])) {
                st = bl_error_set(err, BL_ENOMEM, "out of memory");
                break;
            }
        }
    }
    if (!st) {
        /* true pairs = sum over entities and dataset pairs of count products */
        uint32_t *cnt = calloc((m.n ? m.n : 1) * nsets, sizeof *cnt);
        if (!cnt) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
        } else {
            for (size_t d = 0; d < nsets; d++)
                for (size_t r = 0; r < counts[d]; r++)
                    if (t->ent[d][r] != UINT32_MAX)
                        cnt[(size_t)t->ent[d][r] * nsets + d]++;
            for (size_t e = 0; e < m.n; e++)
                for (size_t x = 0; x < nsets; x++)
                    for (size_t y = x + 1; y < nsets; y++)
                        t->ntrue += (uint64_t)cnt[e * nsets + x] * cnt[e * nsets + y];
            free(cnt);
        }
    }
    bli_strmap_free(&m);
    if (st) {
        bl_eval_truth_free(t);
        return st;
    }
    *out = t;
    return BL_OK;
}

static bl_candidate norm(const bl_candidate *c)
{
    bl_candidate k = *c;
    k.score = 0;
    if (k.dset[0] > k.dset[1] || (k.dset[0] == k.dset[1] && k.rec[0] > k.rec[1])) {
        k.dset[0] = c->dset[1];
        k.dset[1] = c->dset[0];
        k.rec[0] = c->rec[1];
        k.rec[1] = c->rec[0];
    }
    return k;
}

bl_status bl_eval_truth_from_pairs(const bl_candidate *pairs, size_t n, bl_eval_truth **out,
                                   bl_error *err)
{
    if (!out)
        return bl_error_set(err, BL_EINVAL, "NULL output");
    bl_eval_truth *t = calloc(1, sizeof *t);
    if (!t || !(t->pairs = malloc((n ? n : 1) * sizeof *t->pairs))) {
        free(t);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    t->by_pairs = 1;
    for (size_t i = 0; i < n; i++)
        t->pairs[i] = norm(&pairs[i]);
    qsort(t->pairs, n, sizeof *t->pairs, bli_candidate_key_cmp);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (o == 0 || bli_candidate_key_cmp(&t->pairs[o - 1], &t->pairs[i]) != 0)
            t->pairs[o++] = t->pairs[i];
    t->npairs = o;
    t->ntrue = o;
    *out = t;
    return BL_OK;
}

uint64_t bl_eval_truth_pairs(const bl_eval_truth *t)
{
    return t ? t->ntrue : 0;
}

int bl_eval_is_true(const bl_eval_truth *t, const bl_candidate *c)
{
    if (t->by_pairs) {
        bl_candidate k = norm(c);
        return bsearch(&k, t->pairs, t->npairs, sizeof k, bli_candidate_key_cmp) != NULL;
    }
    if (c->dset[0] >= t->nsets || c->dset[1] >= t->nsets || c->rec[0] >= t->counts[c->dset[0]] ||
        c->rec[1] >= t->counts[c->dset[1]])
        return 0;
    uint32_t a = t->ent[c->dset[0]][c->rec[0]], b = t->ent[c->dset[1]][c->rec[1]];
    return a != UINT32_MAX && a == b;
}

bl_eval_result bl_eval_score(const bl_eval_truth *t, const bl_candidate *pairs, size_t n,
                             uint64_t true_pairs)
{
    bl_eval_result r;
    memset(&r, 0, sizeof r);
    bl_candidate *k = malloc((n ? n : 1) * sizeof *k);
    size_t m = 0;
    if (k) {
        for (size_t i = 0; i < n; i++)
            k[i] = norm(&pairs[i]);
        qsort(k, n, sizeof *k, bli_candidate_key_cmp);
        for (size_t i = 0; i < n; i++) {
            if (m && bli_candidate_key_cmp(&k[m - 1], &k[i]) == 0)
                continue;
            k[m++] = k[i];
            if (bl_eval_is_true(t, &k[i]))
                r.true_positives++;
        }
        free(k);
    }
    r.predicted = m;
    r.true_pairs = true_pairs ? true_pairs : bl_eval_truth_pairs(t);
    r.precision = r.predicted ? (double)r.true_positives / (double)r.predicted : NAN;
    r.recall = r.true_pairs ? (double)r.true_positives / (double)r.true_pairs : NAN;
    r.f1 = (r.precision + r.recall > 0) ? 2 * r.precision * r.recall / (r.precision + r.recall)
                                        : (isnan(r.precision) || isnan(r.recall) ? NAN : 0.0);
    return r;
}

/* ---- matches CSV ---- */

void bl_matches_free(bl_matches *m)
{
    if (!m)
        return;
    if (m->ids)
        for (size_t i = 0; i < 2 * m->n; i++)
            free(m->ids[i]);
    free(m->ids);
    free(m->pairs);
    memset(m, 0, sizeof *m);
}

static int parse_idx(const char *s, uint32_t *v)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

/* columns of a matches file */
enum { MC_AD, MC_AI, MC_BD, MC_BI, MC_SC, MC_AID, MC_BID, MC_NCOL };
static const char *const match_col_names[MC_NCOL] = {"a_dataset", "a_index", "b_dataset", "b_index",
                                                     "score",     "a_id",    "b_id"};

/* One row of a matches file into c: indices, datasets (default 0 and 1),
 * the score if there is one (else NaN). */
static bl_status parse_match_row(const char *path, const bl_csv_row *row, const int *col,
                                 bl_candidate *c, bl_error *err)
{
    c->dset[0] = 0;
    c->dset[1] = 1;
    c->score = NAN;
    for (int i = 0; i < MC_NCOL; i++) {
        if (col[i] < 0)
            continue;
        if ((size_t)col[i] >= row->nfields)
            return bl_error_set(err, BL_EINPUT, "%s:%llu: missing field '%s'", path,
                                (unsigned long long)row->line, match_col_names[i]);
        const char *s = row->fields[col[i]];
        uint32_t v = 0;
        if (i <= MC_BI && parse_idx(s, &v))
            return bl_error_set(err, BL_EINPUT, "%s:%llu:%d (%s): '%s' is not an index", path,
                                (unsigned long long)row->line, col[i] + 1, match_col_names[i],
                                BLI_SHOW(s, strlen(s)));
        if (i == MC_AD)
            c->dset[0] = v;
        else if (i == MC_AI)
            c->rec[0] = v;
        else if (i == MC_BD)
            c->dset[1] = v;
        else if (i == MC_BI)
            c->rec[1] = v;
        else if (i == MC_SC && *s) {
            char *end;
            double d = strtod(s, &end);
            if (*end || !(d >= 0.0 && d <= 1.0))
                return bl_error_set(err, BL_EINPUT,
                                    "%s:%llu:%d (score): '%s' is not a "
                                    "similarity in [0, 1]",
                                    path, (unsigned long long)row->line, col[i] + 1,
                                    BLI_SHOW(s, strlen(s)));
            c->score = d;
        }
    }
    if (c->dset[0] >= 4096 || c->dset[1] >= 4096)
        return bl_error_set(err, BL_EINPUT, "%s:%llu: dataset index out of range", path,
                            (unsigned long long)row->line);
    return BL_OK;
}

bl_status bl_matches_read(const char *path, size_t max_rows, bl_matches *out, bl_error *err)
{
    if (!out)
        return bl_error_set(err, BL_EINVAL, "NULL output");
    memset(out, 0, sizeof *out);
    if (!max_rows)
        max_rows = 100000000;
    bl_csv_reader *r;
    bl_status st = bl_csv_open(path, NULL, &r, err);
    if (st)
        return st;
    bl_csv_row row;
    st = bl_csv_next(r, &row, err);
    if (st == BL_EOF) {
        bl_csv_free(r);
        return bl_error_set(err, BL_EINPUT, "%s: empty file (a header line is expected)", path);
    }
    if (st) {
        bl_csv_free(r);
        return st;
    }
    int col[MC_NCOL];
    for (int i = 0; i < MC_NCOL; i++)
        col[i] = -1;
    for (size_t f = 0; f < row.nfields; f++)
        for (int i = 0; i < MC_NCOL; i++)
            if (strcmp(row.fields[f], match_col_names[i]) == 0)
                col[i] = (int)f;
    if (col[MC_AI] < 0 || col[MC_BI] < 0) {
        bl_csv_free(r);
        const char *kind = bli_kind_other_file(path, BLI_KIND_CSV); /* a model, groups? */
        if (*kind)
            return bl_error_set(err, BL_EINPUT,
                                "%s is %s, not a pairs CSV (match -f pairs or "
                                "candidates)",
                                path, kind);
        return bl_error_set(err, BL_EINPUT, "%s:%llu: header lacks a_index and b_index columns",
                            path, (unsigned long long)row.line);
    }
    out->has_score = col[MC_SC] >= 0;
    int with_ids = col[MC_AID] >= 0 && col[MC_BID] >= 0;
    size_t cap = 0;
    out->nsets = 2;
    while ((st = bl_csv_next(r, &row, err)) == BL_OK) {
        if (out->n == max_rows) {
            st = bl_error_set(err, BL_ELIMIT, "%s: more than %zu rows", path, max_rows);
            break;
        }
        if (out->n == cap) { /* pairs and (two per pair) ids share one capacity */
            size_t nc = bli_grow_cap(cap, out->n + 1, 2 * sizeof *out->ids, 1024);
            if (nc == 0 || bli_resize((void **)&out->pairs, nc, sizeof *out->pairs) != 0 ||
                (with_ids && bli_resize((void **)&out->ids, nc, 2 * sizeof *out->ids) != 0)) {
                st = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
                break;
            }
            cap = nc;
        }
        bl_candidate *c = &out->pairs[out->n];
        if ((st = parse_match_row(path, &row, col, c, err)) != BL_OK)
            break;
        if (c->dset[0] + 1 > out->nsets)
            out->nsets = c->dset[0] + 1;
        if (c->dset[1] + 1 > out->nsets)
            out->nsets = c->dset[1] + 1;
        if (with_ids) {
            out->ids[2 * out->n] = strdup(row.fields[col[MC_AID]]);
            out->ids[2 * out->n + 1] = strdup(row.fields[col[MC_BID]]);
        }
        out->n++;
    }
    bl_csv_free(r);
    if (st != BL_EOF) {
        bl_matches_free(out);
        return st;
    }
    return BL_OK;
}

/* ---- truth files: index-based or id-based ---- */

/* id -> record of one dataset; ambiguous ids (several records) are marked */
typedef struct idindex {
    bl_strmap m;
    uint32_t *rec;  /* by strmap id */
    uint8_t *dup;   /* by strmap id: id names several records */
    size_t cap;
    uint32_t next;  /* next fresh record index for ids never seen */
} idindex;

static int idindex_add(idindex *x, const char *id, uint32_t rec)
{
    uint32_t v;
    size_t before = x->m.n;
    if (bli_strmap_intern(&x->m, id, strlen(id), &v))
        return -1;
    if (x->m.n == before) {
        x->dup[v] = 1;
        return 0;
    }
    if (v >= x->cap) { /* rec and dup share one capacity */
        size_t nc = bli_grow_cap(x->cap, (size_t)v + 1, sizeof *x->rec, 1024);
        if (nc == 0 || bli_resize((void **)&x->rec, nc, sizeof *x->rec) != 0 ||
            bli_resize((void **)&x->dup, nc, 1) != 0)
            return -1;
        x->cap = nc;
    }
    x->rec[v] = rec;
    x->dup[v] = 0;
    return 0;
}

/* columns of a truth file */
enum { TC_AD, TC_AI, TC_BD, TC_BI, TC_AID, TC_BID, TC_NCOL };
static const char *const truth_col_names[TC_NCOL] = {"a_dataset", "a_index", "b_dataset",
                                                     "b_index",   "a_id",    "b_id"};

/* An id-based truth file being read: where, its columns and the id index
 * of every dataset. */
typedef struct truthctx {
    const char *path;
    int col[TC_NCOL];
    size_t nsets;
    int ids_complete;
    idindex *ix;
} truthctx;

/* One side (0 = a, 1 = b) of a truth row: its dataset and, from its id,
 * its record. An id no record carries is an error when the ids are complete,
 * else a fresh record index (a true pair the matches missed). */
static bl_status truth_side(truthctx *t, const bl_csv_row *row, int side, bl_candidate *c,
                            bl_error *err)
{
    int dc = side ? t->col[TC_BD] : t->col[TC_AD], ic = side ? t->col[TC_BID] : t->col[TC_AID];
    const char *dname = truth_col_names[side ? TC_BD : TC_AD];
    const char *iname = truth_col_names[side ? TC_BID : TC_AID];
    unsigned long long line = (unsigned long long)row->line;
    if (dc >= 0) {
        const char *ds = (size_t)dc < row->nfields ? row->fields[dc] : "";
        if (parse_idx(ds, &c->dset[side]) || c->dset[side] >= t->nsets)
            return bl_error_set(err, BL_EINPUT,
                                "%s:%llu:%d (%s): '%s' is not a dataset "
                                "index below %zu",
                                t->path, line, dc + 1, dname, BLI_SHOW(ds, strlen(ds)), t->nsets);
    }
    if ((size_t)ic >= row->nfields || !*row->fields[ic])
        return bl_error_set(err, BL_EINPUT, "%s:%llu:%d (%s): missing id", t->path, line, ic + 1,
                            iname);
    const char *id = row->fields[ic];
    idindex *x = &t->ix[c->dset[side]];
    uint32_t v;
    if (bli_strmap_find(&x->m, id, strlen(id), &v)) { /* an id no record carries */
        if (t->ids_complete)
            return bl_error_set(err, BL_EINPUT,
                                "%s:%llu:%d (%s): unknown id '%s' "
                                "(no record of dataset %u has it)",
                                t->path, line, ic + 1, iname, BLI_SHOW(id, strlen(id)),
                                c->dset[side]);
        /* ids known only from the matches: a true pair that was not
         * matched; a fresh index counts it as missed */
        if (x->next == UINT32_MAX || idindex_add(x, id, x->next) ||
            bli_strmap_find(&x->m, id, strlen(id), &v))
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        x->next++;
    } else if (x->dup[v]) {
        return bl_error_set(err, BL_EINPUT,
                            "%s:%llu:%d (%s): id '%s' names several "
                            "records of dataset %u",
                            t->path, line, ic + 1, iname, BLI_SHOW(id, strlen(id)), c->dset[side]);
    }
    c->rec[side] = x->rec[v];
    return BL_OK;
}

/* The pairs of an id-based truth file, after its header; BL_EOF at the end. */
static bl_status truth_read_ids(truthctx *t, bl_csv_reader *r, bl_candidate **pairs, size_t *n,
                                bl_error *err)
{
    size_t cap = 0;
    bl_csv_row row;
    bl_status st;
    while ((st = bl_csv_next(r, &row, err)) == BL_OK) {
        if (*n == 100000000)
            return bl_error_set(err, BL_ELIMIT, "%s: more than 100000000 truth pairs", t->path);
        if (bli_grow((void **)pairs, &cap, *n + 1, sizeof **pairs, 1024) != 0)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        bl_candidate *c = &(*pairs)[*n];
        c->score = 1.0;
        c->dset[0] = 0;
        c->dset[1] = 1;
        for (int side = 0; side < 2; side++)
            if ((st = truth_side(t, &row, side, c, err)) != BL_OK)
                return st;
        if (c->dset[0] == c->dset[1])
            return bl_error_set(err, BL_EINPUT, "%s:%llu: both records are in dataset %u", t->path,
                                (unsigned long long)row.line, c->dset[0]);
        (*n)++;
    }
    return st;
}

/* Index the ids of every dataset; NULL on allocation failure. */
static idindex *truth_index_ids(const char *const *const *ids, const size_t *counts, size_t nsets)
{
    idindex *ix = calloc(nsets, sizeof *ix);
    int bad = !ix;
    for (size_t d = 0; !bad && d < nsets; d++) {
        ix[d].next = (uint32_t)counts[d];
        for (size_t i = 0; i < counts[d] && !bad; i++)
            if (ids[d] && ids[d][i] && *ids[d][i] && idindex_add(&ix[d], ids[d][i], (uint32_t)i))
                bad = 1;
    }
    if (bad && ix) {
        for (size_t d = 0; d < nsets; d++) {
            bli_strmap_free(&ix[d].m);
            free(ix[d].rec);
            free(ix[d].dup);
        }
        free(ix);
        ix = NULL;
    }
    return ix;
}

/* An index-based truth file against the record counts of the data: a
 * dataset or record it names must exist (else it counted as a true pair no
 * match could find), and a pair joins two datasets. The reader keeps no
 * line numbers, so the message counts pairs (blank lines and quoted line
 * breaks would shift a line number made up from the count). */
static bl_status truth_check_indices(const char *path, const bl_matches *tm, const size_t *counts,
                                     size_t nsets, bl_error *err)
{
    for (size_t i = 0; i < tm->n; i++) {
        const bl_candidate *c = &tm->pairs[i];
        if (c->dset[0] == c->dset[1])
            return bl_error_set(err, BL_EINPUT,
                                "%s: truth pair %zu: both records are in dataset %u", path, i + 1,
                                c->dset[0]);
        for (int s = 0; s < 2; s++) {
            if (c->dset[s] >= nsets)
                return bl_error_set(err, BL_EINPUT,
                                    "%s: truth pair %zu: dataset %u, but there are %zu "
                                    "datasets (numbered from 0)",
                                    path, i + 1, c->dset[s], nsets);
            if (c->rec[s] >= counts[c->dset[s]])
                return bl_error_set(err, BL_EINPUT,
                                    "%s: truth pair %zu: record %u of dataset %u is "
                                    "beyond its %zu records",
                                    path, i + 1, c->rec[s], c->dset[s], counts[c->dset[s]]);
        }
    }
    return BL_OK;
}

bl_status bl_eval_truth_read(const char *path, const char *const *const *ids,
                             const size_t *counts, size_t nsets, int ids_complete,
                             bl_eval_truth **out, bl_error *err)
{
    if (!path || !out)
        return bl_error_set(err, BL_EINVAL, "NULL argument");
    *out = NULL;
    bl_csv_reader *r;
    bl_status st = bl_csv_open(path, NULL, &r, err);
    if (st)
        return st;
    bl_csv_row row;
    st = bl_csv_next(r, &row, err);
    if (st == BL_EOF) {
        bl_csv_free(r);
        return bl_error_set(err, BL_EINPUT, "%s: empty truth file (a header line is expected)",
                            path);
    }
    if (st) {
        bl_csv_free(r);
        return st;
    }
    truthctx t = {.path = path, .nsets = nsets, .ids_complete = ids_complete};
    for (int i = 0; i < TC_NCOL; i++)
        t.col[i] = -1;
    for (size_t f = 0; f < row.nfields; f++)
        for (int i = 0; i < TC_NCOL; i++)
            if (strcmp(row.fields[f], truth_col_names[i]) == 0)
                t.col[i] = (int)f;
    if (t.col[TC_AI] >= 0 && t.col[TC_BI] >= 0) { /* index-based: the matches reader */
        bl_csv_free(r);
        bl_matches tm;
        st = bl_matches_read(path, 0, &tm, err);
        if (st)
            return st;
        if (ids_complete && counts)
            st = truth_check_indices(path, &tm, counts, nsets, err);
        if (st == BL_OK)
            st = bl_eval_truth_from_pairs(tm.pairs, tm.n, out, err);
        bl_matches_free(&tm);
        return st;
    }
    if (t.col[TC_AID] < 0 || t.col[TC_BID] < 0) {
        bl_csv_free(r);
        return bl_error_set(err, BL_EINPUT, "%s:%llu: a truth file needs a_index,b_index or "
                            "a_id,b_id columns (optionally a_dataset,b_dataset)", path,
                            (unsigned long long)row.line);
    }
    if (!ids || nsets < 2) {
        bl_csv_free(r);
        return bl_error_set(err, BL_EINPUT, "%s: an id-based truth file (a_id,b_id) needs record "
                            "ids: give --data files, or a matches file with a_id,b_id columns",
                            path);
    }
    t.ix = truth_index_ids(ids, counts, nsets);
    if (!t.ix) {
        bl_csv_free(r);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_candidate *pairs = NULL;
    size_t n = 0;
    st = truth_read_ids(&t, r, &pairs, &n, err);
    bl_csv_free(r);
    for (size_t d = 0; d < nsets; d++) {
        bli_strmap_free(&t.ix[d].m);
        free(t.ix[d].rec);
        free(t.ix[d].dup);
    }
    free(t.ix);
    if (st == BL_EOF)
        st = bl_eval_truth_from_pairs(pairs, n, out, err);
    free(pairs);
    return st;
}

/* ---- histograms ---- */

bl_status bl_histogram_build(const bl_eval_truth *t, const bl_candidate *c, size_t n, double lo,
                             uint32_t bins, bl_histogram *out, bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (bins == 0 || bins > 1000 || !(lo >= 0.0 && lo < 1.0))
        return bl_error_set(err, BL_EINVAL, "histogram: bins in 1..1000 and low edge in [0, 1)");
    out->lo = lo;
    out->bins = bins;
    out->true_counts = calloc(bins, sizeof *out->true_counts);
    out->false_counts = calloc(bins, sizeof *out->false_counts);
    if (!out->true_counts || !out->false_counts) {
        bl_histogram_free(out);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        double s = c[i].score;
        if (isnan(s) || s < lo)
            continue;
        uint32_t b = (uint32_t)((s - lo) / (1.0 - lo) * bins);
        if (b >= bins)
            b = bins - 1;
        if (bl_eval_is_true(t, &c[i]))
            out->true_counts[b]++;
        else
            out->false_counts[b]++;
    }
    return BL_OK;
}

void bl_histogram_free(bl_histogram *h)
{
    if (!h)
        return;
    free(h->true_counts);
    free(h->false_counts);
    h->true_counts = h->false_counts = NULL;
}

void bl_histogram_print(const bl_histogram *h, FILE *fp)
{
    /* each class scaled to its own maximum so both stay readable */
    uint64_t mt = 1, mf = 1;
    for (uint32_t b = 0; b < h->bins; b++) {
        if (h->true_counts[b] > mt)
            mt = h->true_counts[b];
        if (h->false_counts[b] > mf)
            mf = h->false_counts[b];
    }
    const int width = 30;
    fprintf(fp, "similarity     %-*s %s\n", width + 8, "true pairs (#)",
            "false pairs (.)   [bars: square root, each class to its own maximum]");
    for (uint32_t b = 0; b < h->bins; b++) {
        double a = h->lo + (1.0 - h->lo) * b / h->bins, z = h->lo + (1.0 - h->lo) * (b + 1) / h->bins;
        /* square-root scale keeps small counts visible next to large ones */
        int tl = (int)(sqrt((double)h->true_counts[b] / (double)mt) * width + 0.5);
        int fl = (int)(sqrt((double)h->false_counts[b] / (double)mf) * width + 0.5);
        if (h->true_counts[b] && !tl)
            tl = 1;
        if (h->false_counts[b] && !fl)
            fl = 1;
        fprintf(fp, "%.3f-%.3f  %7llu ", a, z, (unsigned long long)h->true_counts[b]);
        for (int i = 0; i < width; i++)
            fputc(i < tl ? '#' : ' ', fp);
        fprintf(fp, " %7llu ", (unsigned long long)h->false_counts[b]);
        for (int i = 0; i < fl; i++)
            fputc('.', fp);
        fputc('\n', fp);
    }
}

bl_status bl_histogram_write_svg(const bl_histogram *h, const char *path, bl_error *err)
{
    bl_ofile *f;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st)
        return st;
    FILE *fp = bl_ofile_stream(f);
    const int W = 800, H = 420, L = 70, R = 20, T = 40, B = 60;
    double pw = W - L - R, ph = H - T - B;
    double mx = 1;
    for (uint32_t b = 0; b < h->bins; b++) {
        if (h->true_counts[b] > mx)
            mx = (double)h->true_counts[b];
        if (h->false_counts[b] > mx)
            mx = (double)h->false_counts[b];
    }
    double lmx = log10(mx + 1);
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(fp, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(fp, "<text x=\"%d\" y=\"22\" font-size=\"15\">Similarity of candidate pairs: true "
                "(green) vs false (red), log scale</text>\n", L);
    double bw = pw / h->bins;
    for (uint32_t b = 0; b < h->bins; b++) {
        double x = L + b * bw;
        double ht = ph * log10((double)h->true_counts[b] + 1) / lmx;
        double hf = ph * log10((double)h->false_counts[b] + 1) / lmx;
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2a9d4b\" "
                    "fill-opacity=\"0.7\"><title>%llu true</title></rect>\n",
                x + 1, T + ph - ht, bw / 2 - 1, ht, (unsigned long long)h->true_counts[b]);
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d1495b\" "
                    "fill-opacity=\"0.7\"><title>%llu false</title></rect>\n",
                x + bw / 2, T + ph - hf, bw / 2 - 1, hf, (unsigned long long)h->false_counts[b]);
    }
    fprintf(fp, "<line x1=\"%d\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L,
            T + ph, L + pw, T + ph);
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.0f\" stroke=\"black\"/>\n", L, T, L,
            T + ph);
    for (int i = 0; i <= 10; i++) {
        double v = h->lo + (1.0 - h->lo) * i / 10.0;
        double x = L + pw * i / 10.0;
        fprintf(fp, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.3f</text>\n", x,
                T + ph + 18, v);
    }
    for (int p = 0; pow(10, p) <= mx; p++) {
        double y = T + ph - ph * log10(pow(10, p) + 1) / lmx;
        fprintf(fp, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", L - 6, y + 4,
                pow(10, p));
    }
    fprintf(fp, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">Dice similarity</text>\n",
            L + pw / 2, H - 15);
    fprintf(fp, "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
                "text-anchor=\"middle\">pairs</text>\n", T + ph / 2, T + ph / 2);
    fputs("</svg>\n", fp);
    if (ferror(fp)) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}
