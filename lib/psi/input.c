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
        uint64_t h = bl_load_le64(x);
        if (!h && !bl_load_le64(x + 8))
            continue;
        size_t j = h & (nc - 1);
        while (bl_load_le64(ne + j * 16) || bl_load_le64(ne + j * 16 + 8))
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
    size_t j = bl_load_le64(x) & (d->cap - 1);
    for (;;) {
        uint8_t *slot = d->e + j * 16;
        if (!bl_load_le64(slot) && !bl_load_le64(slot + 8)) {
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
        size_t nc = bl_grow_cap(in->acap, need, 1, 1 << 20);
        if (nc == 0 || nc > ARENA_CAP)
            return bl_error_set(err, BL_ELIMIT, "normalised identifiers exceed %zu GiB",
                                ARENA_CAP >> 30);
        if (bl_resize((void **)&in->arena, nc, 1) != 0)
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
    size_t nc = bl_grow_cap((size_t)in->gcap, (size_t)want, sizeof *in->row, 1 << 14);
    if (nc == 0 || bl_resize((void **)&in->row, nc, sizeof *in->row) != 0 ||
        bl_resize((void **)&in->slot, nc, in->k * sizeof *in->slot) != 0)
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
    if (!in)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    in->path = strdup(path);
    in->id_column = o->id_column ? strdup(o->id_column) : NULL;
    in->csv = o->csv;
    in->k = o->nidents;
    in->email_rules = o->norm.email_rules;
    for (size_t i = 0; i < in->k; i++)
        in->types[i] = o->idents[i].type;
    uint64_t max_records = o->max_records ? o->max_records : DEFAULT_MAX_RECORDS;
    dset ds = {0};
    randombytes_buf(ds.key, sizeof ds.key);
    bl_csv_reader *r = NULL;
    char *val = malloc(BL_IDENT_MAX + 1);
    if (!in->path || (o->id_column && !in->id_column) || !val) {
        s = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto fail;
    }
    s = bl_csv_open(path, &o->csv, &r, err);
    if (s != BL_OK)
        goto fail;
    bl_csv_row row;
    s = bl_csv_next(r, &row, err);
    if (s == BL_EOF) {
        s = bl_error_set(err, BL_EINPUT, "%s: empty file (expected a header row)", path);
        goto fail;
    }
    if (s != BL_OK)
        goto fail;
    size_t nhdr = row.nfields;
    int cols[BL_PSI_MAX_TYPES][BL_PSI_MAX_COLUMNS];
    char colname[BL_PSI_MAX_TYPES][BL_PSI_MAX_COLUMNS][128];
    for (size_t t = 0; t < in->k; t++)
        for (size_t c = 0; c < o->idents[t].ncolumns; c++) {
            const char *name = o->idents[t].columns[c];
            cols[t][c] = find_col(&row, name);
            snprintf(colname[t][c], sizeof colname[t][c], "%s", name);
            if (cols[t][c] < 0) {
                s = bl_error_set(err, BL_EINPUT,
                                 "%s:%llu: missing identifier column '%s' (%s) in the header",
                                 path, (unsigned long long)row.line, name,
                                 bl_ident_type_name(o->idents[t].type));
                goto fail;
            }
        }
    in->id_col = -1;
    if (o->id_column) {
        in->id_col = find_col(&row, o->id_column);
        if (in->id_col < 0) {
            s = bl_error_set(err, BL_EINPUT, "%s:%llu: missing id column '%s' in the header", path,
                             (unsigned long long)row.line, o->id_column);
            goto fail;
        }
    }
    for (;;) {
        s = bl_csv_next(r, &row, err);
        if (s == BL_EOF)
            break;
        if (s != BL_OK)
            goto fail;
        if (row.nfields != nhdr) {
            s = bl_error_set(err, BL_EINPUT,
                             "%s:%llu:%zu: record has %zu fields, the header has %zu", path,
                             (unsigned long long)row.line,
                             (row.nfields < nhdr ? row.nfields : nhdr) + 1, row.nfields, nhdr);
            goto fail;
        }
        if (in->st.rows >= max_records) {
            s = bl_error_set(err, BL_ELIMIT, "%s:%llu: more than %llu records (cap)", path,
                             (unsigned long long)row.line, (unsigned long long)max_records);
            goto fail;
        }
        uint64_t rowidx = in->st.rows++;
        uint64_t slots[BL_PSI_MAX_TYPES];
        int any = 0;
        for (size_t t = 0; t < in->k; t++) {
            slots[t] = PSI_NO_SLOT;
            size_t len = 0;
            bl_error e = {0};
            bl_status ns = normalise(o, &o->idents[t], cols[t], &row, val, &len, &e);
            if (ns == BL_EINVAL || ns == BL_ENOMEM) {
                s = bl_error_set(err, ns, "%s", e.msg);
                goto fail;
            }
            if (ns != BL_OK) {
                int c0 = cols[t][0];
                bl_error_set(err, BL_EINPUT, "%s:%llu:%d (%s): %s", path,
                             (unsigned long long)row.line, c0 + 1, colname[t][0], e.msg);
                in->st.rejected++;
                if (o->strict) {
                    s = BL_EINPUT;
                    goto fail;
                }
                if (o->reject)
                    o->reject(o->reject_ctx, rowidx + 1, err ? err->msg : e.msg);
                continue;
            }
            if (len == 0) {
                in->st.missing++;
                continue;
            }
            int ins = dset_insert(&ds, in->types[t], val, len);
            if (ins < 0) {
                s = bl_error_set(err, BL_ENOMEM, "out of memory deduplicating identifiers");
                goto fail;
            }
            if (ins == 0) {
                in->st.duplicates++;
                continue;
            }
            s = arena_add(in, val, len, &slots[t], err);
            if (s != BL_OK)
                goto fail;
            in->st.per_type[t]++;
            any = 1;
        }
        if (!any)
            continue;
        s = groups_reserve(in, in->n + 1, err);
        if (s != BL_OK)
            goto fail;
        in->row[in->n] = rowidx;
        memcpy(in->slot + in->n * in->k, slots, in->k * sizeof slots[0]);
        in->n++;
    }
    in->st.groups = in->n;
    if (err)
        err->msg[0] = '\0';
    bl_csv_free(r);
    free(ds.e);
    free(val);
    *out = in;
    return BL_OK;
fail:
    bl_csv_free(r);
    free(ds.e);
    free(val);
    bl_psi_input_free(in);
    return s;
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
