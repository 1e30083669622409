/* lib/match/blockfile.c - external block files: blocklib JSON
 * ({"blocks": {key: [rec, ...]}}) or CSV (rec,key), one per dataset, read
 * into the per-record block lists of a bl_blocking (kind 2). Block keys are
 * interned across datasets with core/strmap; record numbers are checked
 * against each dataset's size. Wraps jansson and lib/core's CSV reader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <blindlink/io.h>
#include <blindlink/csv.h>
#include "match/match_internal.h"
#include "core/strmap.h"

typedef struct pairv {
    uint64_t *v; /* rec << 32 | block */
    size_t n, cap;
} pairv;

static int pairv_push(pairv *p, uint32_t rec, uint32_t blk)
{
    if (p->n >= ((size_t)1 << 31) ||
        bli_grow((void **)&p->v, &p->cap, p->n + 1, sizeof *p->v, 1024) != 0)
        return -1;
    p->v[p->n++] = (uint64_t)rec << 32 | blk;
    return 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : (a > b);
}

static bl_status parse_rec(const char *path, const char *s, size_t nrec, uint32_t *rec,
                           bl_error *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-' || errno)
        return bl_error_set(err, BL_EINPUT, "%s: record '%s' is not a record index", path, s);
    if (v >= nrec)
        return bl_error_set(err, BL_EINPUT, "%s: record %llu out of range (dataset has %zu)",
                            path, v, nrec);
    *rec = (uint32_t)v;
    return BL_OK;
}

static bl_status read_json_blocks(const char *path, size_t nrec, bl_strmap *m, pairv *pv,
                                  bl_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bl_error_set(err, BL_EINPUT, "%s:%d:%d: invalid JSON: %s", path, je.line,
                            je.column, je.text);
    json_t *blocks = json_object_get(root, "blocks");
    if (!json_is_object(blocks)) {
        json_decref(root);
        return bl_error_set(err, BL_EINPUT, "%s: no \"blocks\" object (blocklib format expected)",
                            path);
    }
    const char *rk;
    json_t *list;
    json_object_foreach(blocks, rk, list)
    {
        uint32_t rec;
        bl_status st = parse_rec(path, rk, nrec, &rec, err);
        if (st) {
            json_decref(root);
            return st;
        }
        if (!json_is_array(list)) {
            json_decref(root);
            return bl_error_set(err, BL_EINPUT, "%s: blocks of record %s: not a list", path, rk);
        }
        size_t i;
        json_t *bk;
        json_array_foreach(list, i, bk)
        {
            char buf[64];
            const char *s;
            size_t n;
            if (json_is_string(bk)) {
                s = json_string_value(bk);
                n = json_string_length(bk);
            } else if (json_is_integer(bk)) {
                n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(bk));
                s = buf;
            } else {
                json_decref(root);
                return bl_error_set(err, BL_EINPUT, "%s: record %s: block %zu is not a string",
                                    path, rk, i);
            }
            uint32_t id;
            if (bli_strmap_intern(m, s, n, &id) || pairv_push(pv, rec, id)) {
                json_decref(root);
                return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
            }
        }
    }
    json_decref(root);
    return BL_OK;
}

static bl_status read_csv_blocks(const char *path, size_t nrec, bl_strmap *m, pairv *pv,
                                 bl_error *err)
{
    bl_csv_reader *r;
    bl_status st = bl_csv_open(path, NULL, &r, err);
    if (st)
        return st;
    bl_csv_row row;
    while ((st = bl_csv_next(r, &row, err)) == BL_OK) {
        if (row.nfields != 2) {
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: expected 2 fields (record,block), got %zu",
                              path, (unsigned long long)row.line, row.nfields);
            break;
        }
        if (row.record == 1 && (row.fields[0][0] < '0' || row.fields[0][0] > '9'))
            continue; /* header */
        uint32_t rec, id;
        st = parse_rec(path, row.fields[0], nrec, &rec, err);
        if (st) {
            bl_error_prefix(err, "line %llu: ", (unsigned long long)row.line);
            break;
        }
        if (bli_strmap_intern(m, row.fields[1], row.lens[1], &id) || pairv_push(pv, rec, id)) {
            st = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    bl_csv_free(r);
    return st == BL_EOF ? BL_OK : st;
}

bl_status bl_blocking_read_files(const char *const *paths, size_t n, const size_t *nrecs,
                                 bl_blocking **out, bl_error *err)
{
    if (!out || !paths || !nrecs || n < 2)
        return bl_error_set(err, BL_EINVAL, "need one block file per dataset (at least 2)");
    *out = NULL;
    bl_blocking *b = calloc(1, sizeof *b);
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    b->kind = 2;
    b->ndsets = n;
    b->nrecs = calloc(n, sizeof *b->nrecs);
    b->off = calloc(n, sizeof *b->off);
    b->ids = calloc(n, sizeof *b->ids);
    bl_strmap m;
    memset(&m, 0, sizeof m);
    bl_status st = (!b->nrecs || !b->off || !b->ids) ? bl_error_set(err, BL_ENOMEM, "out of memory")
                                                     : BL_OK;
    for (size_t d = 0; !st && d < n; d++) {
        pairv pv = {0};
        b->nrecs[d] = nrecs[d];
        size_t pl = strlen(paths[d]);
        int is_csv = pl > 4 && strcmp(paths[d] + pl - 4, ".csv") == 0;
        st = is_csv ? read_csv_blocks(paths[d], nrecs[d], &m, &pv, err)
                    : read_json_blocks(paths[d], nrecs[d], &m, &pv, err);
        if (!st) {
            if (pv.n) /* qsort(NULL, 0) is undefined */
                qsort(pv.v, pv.n, sizeof *pv.v, cmp_u64);
            b->off[d] = calloc(nrecs[d] + 1, sizeof **b->off);
            b->ids[d] = malloc((pv.n ? pv.n : 1) * sizeof **b->ids);
            if (!b->off[d] || !b->ids[d])
                st = bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        if (!st) {
            size_t o = 0;
            for (size_t i = 0; i < pv.n; i++) {
                if (i > 0 && pv.v[i] == pv.v[i - 1])
                    continue; /* duplicate key for a record */
                uint32_t rec = (uint32_t)(pv.v[i] >> 32);
                b->ids[d][o++] = (uint32_t)pv.v[i];
                b->off[d][rec + 1]++;
            }
            for (size_t r = 0; r < nrecs[d]; r++)
                b->off[d][r + 1] += b->off[d][r];
        }
        free(pv.v);
    }
    b->nblocks = (uint32_t)m.n;
    bli_strmap_free(&m);
    if (st) {
        bl_blocking_free(b);
        return st;
    }
    *out = b;
    return BL_OK;
}
