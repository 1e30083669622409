/* lib/attack/fields.c - a field-level encoder in the layout of CONTRACTS
 * ("layout": "fields"), used by the attack tests and bench/attacks.sh to
 * build field-level files until the model helper's `encode --layout fields`
 * lands: one field per hashed feature, each field its own filter (the
 * schema's hashing with l replaced, keys derived as for the whole schema, so
 * a feature's tokens set the same positions as in a record-level CLK of
 * that length), 512-bit aligned, zero between fields. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>

#include "attack/attack_internal.h"

typedef struct fenc {
    size_t nseg;
    atk_seg *seg;
    bl_encode_scratch **scr;
    uint32_t nbits;
} fenc;

static void fenc_free(fenc *f)
{
    for (size_t s = 0; s < f->nseg; s++) {
        bl_encode_scratch_free(f->scr ? f->scr[s] : NULL);
        bl_encoder_free(f->seg[s].own);
        bl_schema_free(f->seg[s].sub);
        free(f->seg[s].feat);
    }
    free(f->scr);
    free(f->seg);
}

static bl_status fenc_new(fenc *f, const bl_schema *sc, const bl_encode_opts *eo, const uint8_t *secret, size_t len,
                          uint32_t field_bits, char **meta, bl_error *err)
{
    size_t nf = bl_schema_nfeatures(sc);
    f->seg = calloc(nf, sizeof *f->seg);
    f->scr = calloc(nf, sizeof *f->scr);
    json_t *arr = json_array();
    if (!f->seg || !f->scr || !arr) {
        json_decref(arr);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    uint32_t off = 0;
    bl_status st = BL_OK;
    for (size_t j = 0; j < nf && st == BL_OK; j++) {
        if (bl_schema_feature_ignored(sc, j))
            continue;
        atk_seg *g = &f->seg[f->nseg++];
        g->nfeat = 1;
        g->feat = malloc(sizeof *g->feat);
        if (!g->feat) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
        }
        g->feat[0] = j;
        if ((st = atk_subschema(sc, g->feat, 1, field_bits, &g->sub, err)) != BL_OK ||
            (st = bl_encoder_new(g->sub, secret, len, eo, &g->own, err)) != BL_OK)
            break;
        g->offset = off;
        g->bits = bl_encoder_nbits(g->own);
        if (!(f->scr[f->nseg - 1] = bl_encode_scratch_new(g->own)))
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
        off += (g->bits + 511) / 512 * 512;
        json_array_append_new(arr, json_pack("{s:s,s:[s],s:i,s:i}", "name", bl_schema_feature_id(sc, j), "features",
                                             bl_schema_feature_id(sc, j), "offset", (json_int_t)g->offset, "bits",
                                             (json_int_t)g->bits));
    }
    if (st == BL_OK && f->nseg == 0)
        st = bl_error_set(err, BL_EINPUT, "the schema hashes no feature");
    f->nbits = f->nseg ? f->seg[f->nseg - 1].offset + f->seg[f->nseg - 1].bits : 0;
    json_t *m = json_pack("{s:s,s:o}", "layout", "fields", "fields", arr);
    const char *h = st == BL_OK ? bl_encoder_harden(f->seg[0].own) : "";
    if (m && *h)
        json_object_set_new(m, "harden", json_string(h));
    if (m && eo->normalize != BL_NORMALIZE_NONE)
        json_object_set_new(m, "normalize", json_string(bl_normalize_profile_name(eo->normalize)));
    *meta = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(m);
    if (st == BL_OK && !*meta)
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    return st;
}

static bl_status put_row(fenc *f, bl_clkwriter *w, const bl_csv_row *row, size_t nf, size_t idcol, uint8_t *rec,
                         const char *path, bl_error *err)
{
    if (row->nfields != nf)
        return bl_error_set(err, BL_EINPUT, "%s:%llu: row has %zu columns, the schema has %zu", path,
                            (unsigned long long)row->line, row->nfields, nf);
    memset(rec, 0, (f->nbits + 7) / 8);
    for (size_t s = 0; s < f->nseg; s++) {
        bl_status st = bl_encoder_encode(f->seg[s].own, f->scr[s], (const char *const *)row->fields, row->lens, nf,
                                         rec + f->seg[s].offset / 8, NULL, err);
        if (st != BL_OK) {
            bl_error_prefix(err, "%s:%llu: ", path, (unsigned long long)row->line);
            return st;
        }
    }
    return bl_clkwriter_put(w, rec, idcol != (size_t)-1 ? row->fields[idcol] : NULL, err);
}

bl_status bl_attack_encode_fields(const bl_schema *schema, const char *csv, const bl_encode_opts *eo,
                                  const uint8_t *secret, size_t secret_len, uint32_t field_bits,
                                  const char *ids_column, const char *out_path, bl_error *err)
{
    if (field_bits == 0 || field_bits % 512)
        return bl_error_set(err, BL_EINVAL, "field bits must be a positive multiple of 512, not %u", field_bits);
    bl_encode_opts o0 = {0};
    fenc f = {0};
    char *meta = NULL;
    bl_status st = fenc_new(&f, schema, eo ? eo : &o0, secret, secret_len, field_bits, &meta, err);
    bl_csv_reader *rd = NULL;
    bl_clkwriter *w = NULL;
    bl_csv_row row;
    size_t nf = bl_schema_nfeatures(schema), idcol = (size_t)-1;
    uint8_t *rec = NULL;
    if (st == BL_OK)
        st = bl_csv_open(csv, NULL, &rd, err);
    if (st == BL_OK && (st = bl_csv_next(rd, &row, err)) == BL_EOF)
        st = bl_error_set(err, BL_EINPUT, "%s: empty file", csv);
    for (size_t j = 0; st == BL_OK && ids_column && j < row.nfields; j++)
        if (!strcmp(row.fields[j], ids_column))
            idcol = j;
    if (st == BL_OK && ids_column && idcol == (size_t)-1)
        st = bl_error_set(err, BL_EINVAL, "%s: no header column named '%s' (--ids)", csv, ids_column);
    if (st == BL_OK && !(rec = calloc(1, (f.nbits + 7) / 8 + 64)))
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    if (st == BL_OK)
        st = bl_clkwriter_open(out_path, BL_CLK_BIN, f.nbits, NULL, ids_column != NULL, &w, err);
    if (st == BL_OK)
        st = bl_clkwriter_set_meta(w, meta, err);
    while (st == BL_OK && (st = bl_csv_next(rd, &row, err)) == BL_OK)
        st = put_row(&f, w, &row, nf, idcol, rec, csv, err);
    if (st == BL_EOF)
        st = bl_clkwriter_commit(w, err);
    else
        bl_clkwriter_abort(w);
    bl_csv_free(rd);
    free(rec);
    free(meta);
    fenc_free(&f);
    return st;
}
