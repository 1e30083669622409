/* lib/psi/input.c - loading a party's PSI input: read the CSV with bl_csv,
 * normalise every identifier column (lib/ident*.c), report values that do
 * not normalise, deduplicate per identifier type (a value is kept on the
 * first row carrying it), and keep the normalised values in an arena with,
 * per record, one slot per identifier type (empty slots are later sent as
 * random dummy points). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <blindlink/csv.h>
#include <blindlink/psi.h>

#include "core/internal.h"
#include "psi/psi_int.h"

#define ARENA_CAP ((size_t)16 << 30)
#define DEFAULT_MAX_RECORDS 100000000ull

/* ---- dedupe set of 16-byte digests ------------------------------------------ */

typedef struct dset {
    uint8_t *e; /* cap * 16 bytes, all-zero = empty */
    size_t cap, n;
    uint8_t key[crypto_generichash_KEYBYTES];
} dset;

static int dset_grow(dset *d)
{
    size_t nc = d->cap ? d->cap * 2 : 1 << 16;
    uint8_t *ne = calloc(nc, 16);
    if (!ne)
        return -1;
    for (size_t i = 0; i < d->cap; i++) {
        const uint8_t *x = d->e + i * 16;
        uint64_t h = bli_load_le64(x);
        if (!h && !bli_load_le64(x + 8))
            continue;
        size_t j = h & (nc - 1);
        while (bli_load_le64(ne + j * 16) || bli_load_le64(ne + j * 16 + 8))
            j = (j + 1) & (nc - 1);
        memcpy(ne + j * 16, x, 16);
    }
    free(d->e);
    d->e = ne;
    d->cap = nc;
    return 0;
}

/* 1 if newly inserted, 0 if present, -1 on OOM */
static int dset_insert(dset *d, unsigned type, const char *v, size_t n)
{
    if ((d->n + 1) * 2 > d->cap && dset_grow(d) != 0)
        return -1;
    uint8_t x[16];
    crypto_generichash_state st;
    uint8_t t = (uint8_t)type;
    crypto_generichash_init(&st, d->key, sizeof d->key, sizeof x);
    crypto_generichash_update(&st, &t, 1);
    crypto_generichash_update(&st, (const uint8_t *)v, n);
    crypto_generichash_final(&st, x, sizeof x);
    x[15] |= 1; /* never all-zero */
    size_t j = bli_load_le64(x) & (d->cap - 1);
    for (;;) {
        uint8_t *slot = d->e + j * 16;
        if (!bli_load_le64(slot) && !bli_load_le64(slot + 8)) {
            memcpy(slot, x, 16);
            d->n++;
            return 1;
        }
        if (!memcmp(slot, x, 16))
            return 0;
        j = (j + 1) & (d->cap - 1);
    }
}

/* ---- loading ----------------------------------------------------------------- */

static int find_col(const bl_csv_row *hdr, const char *name)
{
    for (size_t i = 0; i < hdr->nfields; i++)
        if (!strcmp(hdr->fields[i], name))
            return (int)i;
    return -1;
}

static bl_status arena_add(bl_psi_input *in, const char *v, size_t n, uint64_t *off, bl_error *err)
{
    size_t need = in->alen + 2 + n;
    if (need > in->acap) {
        size_t nc = bli_grow_cap(in->acap, need, 1, 1 << 20);
        if (nc == 0 || nc > ARENA_CAP)
            return bl_error_set(err, BL_ELIMIT, "normalised identifiers exceed %zu GiB",
                                ARENA_CAP >> 30);
        if (bli_resize((void **)&in->arena, nc, 1) != 0)
            return bl_error_set(err, BL_ENOMEM, "out of memory for identifiers");
        in->acap = nc;
    }
    *off = in->alen;
    in->arena[in->alen] = (char)(n & 0xff);
    in->arena[in->alen + 1] = (char)(n >> 8);
    memcpy(in->arena + in->alen + 2, v, n);
    in->alen = need;
    return BL_OK;
}

static bl_status groups_reserve(bl_psi_input *in, uint64_t want, bl_error *err)
{
    if (want <= in->gcap)
        return BL_OK;
    /* row (one per record) and slot (k per record) share one capacity */
    size_t nc = bli_grow_cap((size_t)in->gcap, (size_t)want, sizeof *in->row, 1 << 14);
    if (nc == 0 || bli_resize((void **)&in->row, nc, sizeof *in->row) != 0 ||
        bli_resize((void **)&in->slot, nc, in->k * sizeof *in->slot) != 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory for records");
    in->gcap = nc;
    return BL_OK;
}

/* normalise slot t of `row`; *len 0 = missing */
static bl_status normalise(const bl_psi_input_opts *o, const bl_psi_ident_spec *sp,
                           const int *cols, const bl_csv_row *row, char *out, size_t *len,
                           bl_error *err)
{
    switch (sp->type) {
    case BL_IDENT_EMAIL:
        return bl_ident_email(row->fields[cols[0]], row->lens[cols[0]], o->norm.email_rules, out,
                              BL_IDENT_MAX + 1, len, err);
    case BL_IDENT_PHONE:
        return bl_ident_phone(row->fields[cols[0]], row->lens[cols[0]], o->norm.phone_country, out,
                              BL_IDENT_MAX + 1, len, err);
    case BL_IDENT_NAMEDOB: {
        const char *parts[BL_PSI_MAX_COLUMNS];
        size_t lens[BL_PSI_MAX_COLUMNS];
        size_t np = sp->ncolumns - 1;
        for (size_t i = 0; i < np; i++) {
            parts[i] = row->fields[cols[i]];
            lens[i] = row->lens[cols[i]];
        }
        return bl_ident_namedob(parts, lens, np, row->fields[cols[np]], row->lens[cols[np]],
                                &o->norm, out, BL_IDENT_MAX + 1, len, err);
    }
    }
    return bl_error_set(err, BL_EINVAL, "unknown identifier type");
}

static bl_status check_opts(const bl_psi_input_opts *o, bl_error *err)
{
    if (o->nidents < 1 || o->nidents > BL_PSI_MAX_TYPES)
        return bl_error_set(err, BL_EINVAL, "need 1 to %d identifiers, got %zu", BL_PSI_MAX_TYPES,
                            o->nidents);
    for (size_t i = 0; i < o->nidents; i++) {
        const bl_psi_ident_spec *sp = &o->idents[i];
        if (sp->type < BL_IDENT_EMAIL || sp->type > BL_IDENT_NAMEDOB)
            return bl_error_set(err, BL_EINVAL, "identifier %zu has an unknown type", i + 1);
        for (size_t j = 0; j < i; j++)
            if (o->idents[j].type == sp->type)
                return bl_error_set(err, BL_EINVAL, "identifier type %s given twice",
                                    bl_ident_type_name(sp->type));
        size_t want_min = sp->type == BL_IDENT_NAMEDOB ? 2 : 1;
        size_t want_max = sp->type == BL_IDENT_NAMEDOB ? BL_PSI_MAX_COLUMNS : 1;
        if (sp->ncolumns < want_min || sp->ncolumns > want_max)
            return bl_error_set(err, BL_EINVAL,
                                "identifier %s needs %s column(s), got %zu",
                                bl_ident_type_name(sp->type),
                                sp->type == BL_IDENT_NAMEDOB ? "name columns and a date" : "one",
                                sp->ncolumns);
    }
    return BL_OK;
}

/* One bl_psi_input_load call: options, the input being built, the
 * deduplication set, and the header's identifier columns. */
typedef struct loadctx {
    const bl_psi_input_opts *o;
    bl_psi_input *in;
    const char *path;
    dset ds;
    char *val; /* BL_IDENT_MAX + 1 bytes: one normalised value */
    size_t nhdr;
    uint64_t max_records;
    int cols[BL_PSI_MAX_TYPES][BL_PSI_MAX_COLUMNS];
    char colname[BL_PSI_MAX_TYPES][BL_PSI_MAX_COLUMNS][128];
} loadctx;

/* Find every identifier column and the id column in the header row. */
static bl_status find_columns(loadctx *c, const bl_csv_row *row, bl_error *err)
{
    const bl_psi_input_opts *o = c->o;
    c->nhdr = row->nfields;
    for (size_t t = 0; t < c->in->k; t++)
        for (size_t k = 0; k < o->idents[t].ncolumns; k++) {
            const char *name = o->idents[t].columns[k];
            c->cols[t][k] = find_col(row, name);
            snprintf(c->colname[t][k], sizeof c->colname[t][k], "%s", name);
            if (c->cols[t][k] < 0)
                return bl_error_set(err, BL_EINPUT,
                                    "%s:%llu: missing identifier column '%s' (%s) in the header",
                                    c->path, (unsigned long long)row->line, name,
                                    bl_ident_type_name(o->idents[t].type));
        }
    c->in->id_col = -1;
    if (o->id_column) {
        c->in->id_col = find_col(row, o->id_column);
        if (c->in->id_col < 0)
            return bl_error_set(err, BL_EINPUT, "%s:%llu: missing id column '%s' in the header",
                                c->path, (unsigned long long)row->line, o->id_column);
    }
    return BL_OK;
}

/* Identifier t of a row: normalised, deduplicated, stored. *slot is its
 * arena offset, or PSI_NO_SLOT when it is missing, a duplicate or (not
 * strict) rejected. */
static bl_status load_ident(loadctx *c, size_t t, const bl_csv_row *row, uint64_t rowidx,
                            uint64_t *slot, bl_error *err)
{
    const bl_psi_input_opts *o = c->o;
    bl_psi_input *in = c->in;
    *slot = PSI_NO_SLOT;
    size_t len = 0;
    bl_error e = {0};
    bl_status ns = normalise(o, &o->idents[t], c->cols[t], row, c->val, &len, &e);
    if (ns == BL_EINVAL || ns == BL_ENOMEM)
        return bl_error_set(err, ns, "%s", e.msg);
    if (ns != BL_OK) {
        bl_error_set(err, BL_EINPUT, "%s:%llu:%d (%s): %s", c->path, (unsigned long long)row->line,
                     c->cols[t][0] + 1, c->colname[t][0], e.msg);
        in->st.rejected++;
        if (o->strict)
            return BL_EINPUT;
        if (o->reject)
            o->reject(o->reject_ctx, rowidx + 1, err ? err->msg : e.msg);
        return BL_OK;
    }
    if (len == 0) {
        in->st.missing++;
        return BL_OK;
    }
    int ins = dset_insert(&c->ds, in->types[t], c->val, len);
    if (ins < 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory deduplicating identifiers");
    if (ins == 0) {
        in->st.duplicates++;
        return BL_OK;
    }
    bl_status s = arena_add(in, c->val, len, slot, err);
    if (s == BL_OK)
        in->st.per_type[t]++;
    return s;
}

/* One data row: check it, load its identifiers, keep it if any is usable. */
static bl_status load_row(loadctx *c, const bl_csv_row *row, bl_error *err)
{
    bl_psi_input *in = c->in;
    if (row->nfields != c->nhdr)
        return bl_error_set(err, BL_EINPUT,
                            "%s:%llu:%zu: record has %zu fields, the header has %zu", c->path,
                            (unsigned long long)row->line,
                            (row->nfields < c->nhdr ? row->nfields : c->nhdr) + 1, row->nfields,
                            c->nhdr);
    if (in->st.rows >= c->max_records)
        return bl_error_set(err, BL_ELIMIT, "%s:%llu: more than %llu records (cap)", c->path,
                            (unsigned long long)row->line, (unsigned long long)c->max_records);
    uint64_t rowidx = in->st.rows++;
    uint64_t slots[BL_PSI_MAX_TYPES];
    int any = 0;
    for (size_t t = 0; t < in->k; t++) {
        bl_status s = load_ident(c, t, row, rowidx, &slots[t], err);
        if (s != BL_OK)
            return s;
        any |= slots[t] != PSI_NO_SLOT;
    }
    if (!any)
        return BL_OK;
    bl_status s = groups_reserve(in, in->n + 1, err);
    if (s != BL_OK)
        return s;
    in->row[in->n] = rowidx;
    memcpy(in->slot + in->n * in->k, slots, in->k * sizeof slots[0]);
    in->n++;
    return BL_OK;
}

bl_status bl_psi_input_load(const char *path, const bl_psi_input_opts *o, bl_psi_input **out,
                            bl_error *err)
{
    *out = NULL;
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    bl_status s = check_opts(o, err);
    if (s != BL_OK)
        return s;
    if (!strcmp(path, "-"))
        return bl_error_set(err, BL_EINVAL,
                            "psi input must be a file, not stdin (it is read again to write "
                            "the matched row ids)");
    bl_psi_input *in = calloc(1, sizeof *in);
    loadctx *c = calloc(1, sizeof *c); /* about 16 KiB of column names: not on the stack */
    if (!in || !c) {
        free(in);
        free(c);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    in->path = strdup(path);
    in->id_column = o->id_column ? strdup(o->id_column) : NULL;
    in->csv = o->csv;
    in->k = o->nidents;
    in->email_rules = o->norm.email_rules;
    for (size_t i = 0; i < in->k; i++)
        in->types[i] = o->idents[i].type;
    c->o = o;
    c->in = in;
    c->path = path;
    c->max_records = o->max_records ? o->max_records : DEFAULT_MAX_RECORDS;
    randombytes_buf(c->ds.key, sizeof c->ds.key);
    c->val = malloc(BL_IDENT_MAX + 1);
    bl_csv_reader *r = NULL;
    bl_csv_row row;
    if (!in->path || (o->id_column && !in->id_column) || !c->val)
        s = bl_error_set(err, BL_ENOMEM, "out of memory");
    else
        s = bl_csv_open(path, &o->csv, &r, err);
    if (s == BL_OK) {
        s = bl_csv_next(r, &row, err);
        if (s == BL_EOF)
            s = bl_error_set(err, BL_EINPUT, "%s: empty file (expected a header row)", path);
    }
    if (s == BL_OK)
        s = find_columns(c, &row, err);
    while (s == BL_OK && (s = bl_csv_next(r, &row, err)) == BL_OK)
        s = load_row(c, &row, err);
    bl_csv_free(r);
    free(c->ds.e);
    free(c->val);
    free(c);
    if (s != BL_EOF) {
        bl_psi_input_free(in);
        return s;
    }
    in->st.groups = in->n;
    if (err)
        err->msg[0] = '\0';
    *out = in;
    return BL_OK;
}

void bl_psi_input_stats_get(const bl_psi_input *in, bl_psi_input_stats *st)
{
    *st = in->st;
}

void bl_psi_input_free(bl_psi_input *in)
{
    if (!in)
        return;
    if (in->arena)
        sodium_memzero(in->arena, in->alen);
    free(in->arena);
    free(in->row);
    free(in->slot);
    free(in->path);
    free(in->id_column);
    free(in);
}
