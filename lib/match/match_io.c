/* lib/match/match_io.c - on-disk formats of the matching engine: candidate and
 * pair CSVs, anonlink's binary candidate file, find-similarity groups JSON,
 * and Python-repr formatting of doubles so scores compare byte for byte
 * with anonlink's outputs. All writers go through bl_ofile (atomic). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <blindlink/io.h>
#include <blindlink/csv.h>
#include "match/match_internal.h"

/* does %.{p}e of v (into e) read back as v? */
static int fmt_roundtrips(double v, int p, char *e, size_t n)
{
    snprintf(e, n, "%.*e", p, v);
    return strtod(e, NULL) == v;
}

char *bl_format_double(double v, char *buf)
{
    if (isnan(v)) {
        strcpy(buf, "NaN");
        return buf;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "Infinity" : "-Infinity");
        return buf;
    }
    if (v == 0.0) {
        strcpy(buf, signbit(v) ? "-0.0" : "0.0");
        return buf;
    }
    /* shortest %.{p}e that reads back exactly; round-tripping is monotone
     * in p (p = 16, 17 digits, always does). Computed scores need 16 or 17
     * digits nearly always, so p = 15 and 14 are tried first (2 or 3
     * printf/strtod pairs a number instead of 5), then a binary search
     * below 14: the same p as a search over [0, 16]. */
    char e[40];
    int lo = 0, hi = 16;
    if (!fmt_roundtrips(v, 15, e, sizeof e))
        lo = 16;
    else if (!fmt_roundtrips(v, 14, e, sizeof e))
        lo = hi = 15;
    else
        hi = 14;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (fmt_roundtrips(v, mid, e, sizeof e))
            hi = mid;
        else
            lo = mid + 1;
    }
    snprintf(e, sizeof e, "%.*e", lo, v);
    /* split into sign, digits and exponent */
    const char *s = e;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    char digits[24];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digits[nd++] = *s;
    digits[nd] = 0;
    int exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (exp10 >= -5 && exp10 < 16) {
        /* Python repr: fixed notation for 1e-4 <= |v| < 1e16 */
        if (exp10 < -4)
            goto sci;
        if (exp10 < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                *o++ = '0';
            memcpy(o, digits, (size_t)nd);
            o += nd;
        } else {
            for (int i = 0; i <= exp10; i++)
                *o++ = i < nd ? digits[i] : '0';
            *o++ = '.';
            if (nd > exp10 + 1) {
                memcpy(o, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
                o += nd - exp10 - 1;
            } else {
                *o++ = '0';
            }
        }
        *o = 0;
        return buf;
    }
sci:
    *o++ = digits[0];
    if (nd > 1) {
        *o++ = '.';
        memcpy(o, digits + 1, (size_t)(nd - 1));
        o += nd - 1;
    }
    sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    return buf;
}

static int has_ids(const bl_clkset *const *sets, size_t nsets)
{
    if (!sets)
        return 0;
    for (size_t i = 0; i < nsets; i++)
        if (!sets[i] || !sets[i]->ids)
            return 0;
    return 1;
}

static const char *rec_id(const bl_clkset *const *sets, size_t nsets, uint32_t d, uint32_t r)
{
    if (d >= nsets || r >= sets[d]->count)
        return "";
    return sets[d]->ids[r];
}

static void write_header(FILE *fp, int multi, int ids)
{
    fputs(multi ? "a_dataset,a_index,b_dataset,b_index,score" : "a_index,b_index,score", fp);
    if (ids)
        fputs(",a_id,b_id", fp);
    fputc('\n', fp);
}

/* Scores are ratios 2c/(pa+pb), so few distinct values repeat a lot:
 * a small direct-mapped cache of formatted scores. */
typedef struct fmtcache {
    uint64_t key[1024];
    char txt[1024][32];
} fmtcache;

static const char *fmt_cached(double v, char *sb)
{
    static _Thread_local fmtcache *fc;
    if (!fc) {
        fc = calloc(1, sizeof *fc);
        if (!fc)
            return bl_format_double(v, sb);
        for (size_t i = 0; i < 1024; i++)
            fc->key[i] = UINT64_MAX;
    }
    uint64_t b;
    memcpy(&b, &v, 8);
    size_t slot = (size_t)((b * 0x9E3779B97F4A7C15ULL) >> 54);
    if (fc->key[slot] != b) {
        bl_format_double(v, fc->txt[slot]);
        fc->key[slot] = b;
    }
    return fc->txt[slot];
}

static void write_row(FILE *fp, int multi, int ids, const bl_clkset *const *sets, size_t nsets,
                      uint32_t d0, uint32_t r0, uint32_t d1, uint32_t r1, const double *score)
{
    char sb[32];
    if (multi)
        fprintf(fp, "%u,%u,%u,%u,", d0, r0, d1, r1);
    else
        fprintf(fp, "%u,%u,", r0, r1);
    if (score)
        fputs(fmt_cached(*score, sb), fp);
    if (ids) {
        const char *a = rec_id(sets, nsets, d0, r0), *b = rec_id(sets, nsets, d1, r1);
        fputc(',', fp);
        bl_csv_write_field(fp, a, strlen(a));
        fputc(',', fp);
        bl_csv_write_field(fp, b, strlen(b));
    }
    fputc('\n', fp);
}

static bl_status finish(bl_ofile *f, const char *path, bl_error *err)
{
    FILE *fp = bl_ofile_stream(f);
    if (ferror(fp)) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}

static int is_multi(const bl_candidate *c, size_t n, size_t nsets)
{
    if (nsets > 2)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (c[i].dset[0] != 0 || c[i].dset[1] != 1)
            return 1;
    return 0;
}

bl_status bl_candidates_write_csv(const char *path, const bl_candidate *c, size_t n,
                                  const bl_clkset *const *sets, size_t nsets, bl_error *err)
{
    bl_ofile *f;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st)
        return st;
    FILE *fp = bl_ofile_stream(f);
    int multi = is_multi(c, n, nsets), ids = has_ids(sets, nsets);
    write_header(fp, multi, ids);
    for (size_t i = 0; i < n; i++)
        write_row(fp, multi, ids, sets, nsets, c[i].dset[0], c[i].rec[0], c[i].dset[1],
                  c[i].rec[1], &c[i].score);
    return finish(f, path, err);
}

bl_status bl_candidates_write_anonlink(const char *path, const bl_candidate *c, size_t n,
                                       bl_error *err)
{
    bl_ofile *f;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st)
        return st;
    FILE *fp = bl_ofile_stream(f);
    const uint8_t hdr[4] = {1, 8, 4, 4};
    fwrite(hdr, 1, 4, fp);
    for (size_t i = 0; i < n; i++) {
        uint8_t e[24];
        uint64_t bits;
        memcpy(&bits, &c[i].score, 8);
        bli_store_le64(e, bits);
        bli_store_le32(e + 8, c[i].dset[0]);
        bli_store_le32(e + 12, c[i].dset[1]);
        bli_store_le32(e + 16, c[i].rec[0]);
        bli_store_le32(e + 20, c[i].rec[1]);
        fwrite(e, 1, 24, fp);
    }
    return finish(f, path, err);
}

bl_status bl_candidates_read_anonlink(const char *path, size_t max, bl_candidate **out,
                                      size_t *count, bl_error *err)
{
    if (!out || !count)
        return bl_error_set(err, BL_EINVAL, "NULL output");
    *out = NULL;
    *count = 0;
    if (!max)
        max = 1000000000;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return bl_error_set(err, BL_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t hdr[4];
    if (fread(hdr, 1, 4, fp) != 4) {
        fclose(fp);
        return bl_error_set(err, BL_EINPUT, "%s: truncated header (4 bytes expected)", path);
    }
    if (hdr[0] != 1 || hdr[1] != 8 || hdr[2] != 4 || hdr[3] != 4) {
        fclose(fp);
        return bl_error_set(err, BL_EINPUT,
                            "%s: unsupported candidate file header (version %u, sizes %u/%u/%u; "
                            "expected 1, 8/4/4)",
                            path, hdr[0], hdr[1], hdr[2], hdr[3]);
    }
    size_t cap = 0, n = 0;
    bl_candidate *v = NULL;
    uint8_t e[24];
    size_t got;
    bl_status st = BL_OK;
    while ((got = fread(e, 1, 24, fp)) == 24) {
        if (n == max) {
            st = bl_error_set(err, BL_ELIMIT, "%s: more than %zu candidates", path, max);
            break;
        }
        if (bli_grow((void **)&v, &cap, n + 1, sizeof *v, 1024) != 0) {
            st = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
            break;
        }
        uint64_t bits = bli_load_le64(e);
        memcpy(&v[n].score, &bits, 8);
        v[n].dset[0] = bli_load_le32(e + 8);
        v[n].dset[1] = bli_load_le32(e + 12);
        v[n].rec[0] = bli_load_le32(e + 16);
        v[n].rec[1] = bli_load_le32(e + 20);
        /* a similarity, as the CSV reader asks of its score column: NaN,
         * infinities and negatives were counted as predictions */
        if (!(v[n].score >= 0.0 && v[n].score <= 1.0)) {
            st = bl_error_set(err, BL_EINPUT,
                              "%s: entry %zu (byte %zu): score %g is not a "
                              "similarity in [0, 1]",
                              path, n, 4 + n * 24, v[n].score);
            break;
        }
        n++;
    }
    if (!st && got != 0)
        st = bl_error_set(err, BL_EINPUT, "%s: truncated entry at byte %zu (entries are 24 bytes)",
                          path, 4 + n * 24);
    if (!st && ferror(fp))
        st = bl_error_set(err, BL_EIO, "%s: read error", path);
    fclose(fp);
    if (st) {
        free(v);
        return st;
    }
    *out = v;
    *count = n;
    return BL_OK;
}

bl_status bl_groups_write_json(const char *path, const bl_groups *g, bl_error *err)
{
    bl_ofile *f;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st)
        return st;
    FILE *fp = bl_ofile_stream(f);
    size_t n = bl_groups_count(g);
    /* byte layout of Python json.dump(groups, f, indent=4) */
    if (n == 0) {
        fputs("[]", fp);
    } else {
        fputs("[\n", fp);
        for (size_t i = 0; i < n; i++) {
            const uint32_t *d, *r;
            size_t m = bl_groups_get(g, i, &d, &r);
            fputs("    [\n", fp);
            for (size_t j = 0; j < m; j++)
                fprintf(fp, "        [\n            %u,\n            %u\n        ]%s\n", d[j], r[j],
                        j + 1 < m ? "," : "");
            fprintf(fp, "    ]%s\n", i + 1 < n ? "," : "");
        }
        fputs("]", fp);
    }
    return finish(f, path, err);
}

typedef struct prow {
    double score;
    int has;
    uint32_t d0, r0, d1, r1;
} prow;

static int cmp_prow(const void *x, const void *y)
{
    const prow *a = x, *b = y;
    if (a->has != b->has)
        return a->has ? -1 : 1;
    if (a->has && a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->d0 != b->d0)
        return a->d0 < b->d0 ? -1 : 1;
    if (a->d1 != b->d1)
        return a->d1 < b->d1 ? -1 : 1;
    if (a->r0 != b->r0)
        return a->r0 < b->r0 ? -1 : 1;
    return a->r1 < b->r1 ? -1 : (a->r1 > b->r1);
}

bl_status bl_groups_write_pairs_csv(const char *path, const bl_groups *g, const bl_candidate *c,
                                    size_t n, const bl_clkset *const *sets, size_t nsets,
                                    bl_error *err)
{
    /* candidates sorted by key for score lookup */
    bl_candidate *byk = malloc((n ? n : 1) * sizeof *byk);
    if (!byk)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    if (n)
        memcpy(byk, c, n * sizeof *byk);
    qsort(byk, n, sizeof *byk, bli_candidate_key_cmp);
    size_t np = 0, cap = 0;
    prow *rows = NULL;
    int multi = nsets > 2;
    for (size_t i = 0; i < bl_groups_count(g); i++) {
        const uint32_t *d, *r;
        size_t m = bl_groups_get(g, i, &d, &r);
        for (size_t x = 0; x < m; x++)
            for (size_t y = x + 1; y < m; y++) {
                if (d[x] == d[y])
                    continue;
                if (bli_grow((void **)&rows, &cap, np + 1, sizeof *rows, 1024) != 0) {
                    free(rows);
                    free(byk);
                    return bl_error_set(err, BL_ENOMEM, "out of memory");
                }
                prow *p = &rows[np++];
                /* members are sorted, so d[x] < d[y] here */
                p->d0 = d[x];
                p->r0 = r[x];
                p->d1 = d[y];
                p->r1 = r[y];
                bl_candidate key = {0, {p->d0, p->d1}, {p->r0, p->r1}};
                const bl_candidate *hit = bsearch(&key, byk, n, sizeof *byk, bli_candidate_key_cmp);
                p->has = hit != NULL;
                p->score = hit ? hit->score : 0.0;
                if (p->d0 != 0 || p->d1 != 1)
                    multi = 1;
            }
    }
    free(byk);
    if (np) /* rows is NULL when there are no pairs */
        qsort(rows, np, sizeof *rows, cmp_prow);
    bl_ofile *f;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st) {
        free(rows);
        return st;
    }
    FILE *fp = bl_ofile_stream(f);
    int ids = has_ids(sets, nsets);
    write_header(fp, multi, ids);
    for (size_t i = 0; i < np; i++)
        write_row(fp, multi, ids, sets, nsets, rows[i].d0, rows[i].r0, rows[i].d1, rows[i].r1,
                  rows[i].has ? &rows[i].score : NULL);
    free(rows);
    return finish(f, path, err);
}
