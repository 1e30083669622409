/* lib/core/csv.c - streaming RFC 4180 CSV reader on top of libcsv, with physical
 * line tracking, caps, BOM handling and UTF-8 validation; plus a field writer.
 *
 * Why we feed libcsv one line at a time: libcsv's callbacks do not say where
 * in the input they fire. Splitting the input at every CR/LF and feeding each
 * piece separately means (a) at most one record completes per csv_parse call,
 * so records can be handed out one by one without a queue, and (b) we always
 * know the physical line being parsed, which goes into error messages. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include <blindlink/csv.h>
#include <blindlink/clk.h>
#include "core/internal.h"
#include "core/utf8.h"

#define CSV_CHUNK (64 * 1024)

struct bl_csv_reader {
    FILE *fp;
    int own_fp;
    char *name;
    bl_csv_opts opts;
    struct csv_parser parser;

    unsigned char *buf; /* input chunk */
    size_t buf_len, buf_pos;
    int at_start, eof;

    uint64_t line;            /* physical line currently being fed (1-based) */
    uint64_t rec_start_line;  /* line where the pending record began, 0 if none */
    uint64_t records;         /* completed records */

    /* pending record: field bytes packed with NULs, offsets into `arena` */
    char *arena;
    size_t arena_len, arena_cap;
    size_t *offs;
    size_t nfields, fields_cap;
    int row_ready;
    int overflow; /* 1: record too big, 2: too many fields */

    /* handed-out row */
    char **fields;
    size_t *lens;
    size_t out_cap;
};

static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

static int space_or_tab(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static void on_field(void *data, size_t len, void *ctx)
{
    bl_csv_reader *r = ctx;
    if (r->overflow)
        return;
    if (r->nfields >= r->opts.max_fields) {
        r->overflow = 2;
        return;
    }
    if (r->arena_len + len + 1 > r->opts.max_record_bytes) {
        r->overflow = 1;
        return;
    }
    if (bli_grow((void **)&r->arena, &r->arena_cap, r->arena_len + len + 1, 1, 1024) != 0) {
        r->overflow = 3;
        return;
    }
    if (r->nfields == r->fields_cap) { /* offs has one more entry: the end */
        size_t cap = bli_grow_cap(r->fields_cap, r->nfields + 1, sizeof *r->offs, 32);
        if (cap == 0 || bli_resize((void **)&r->offs, cap + 1, sizeof *r->offs) != 0) {
            r->overflow = 3;
            return;
        }
        r->fields_cap = cap;
    }
    r->offs[r->nfields++] = r->arena_len;
    if (len)
        memcpy(r->arena + r->arena_len, data, len);
    r->arena_len += len;
    r->arena[r->arena_len++] = '\0';
}

static void on_row(int c, void *ctx)
{
    (void)c;
    bl_csv_reader *r = ctx;
    r->row_ready = 1;
}

static bl_status reader_init(bl_csv_reader *r, const bl_csv_opts *opts, bl_error *err)
{
    if (opts)
        r->opts = *opts;
    if (!r->opts.delimiter)
        r->opts.delimiter = ',';
    if (!r->opts.max_record_bytes)
        r->opts.max_record_bytes = 16u << 20;
    if (!r->opts.max_fields)
        r->opts.max_fields = 4096;
    if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return bl_error_set(err, BL_ENOMEM, "%s: cannot initialise CSV parser", r->name);
    csv_set_delim(&r->parser, (unsigned char)r->opts.delimiter);
    csv_set_space_func(&r->parser, r->opts.trim_spaces ? space_or_tab : no_space);
    r->buf = malloc(CSV_CHUNK);
    if (!r->buf)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", r->name);
    r->at_start = 1;
    r->line = 1;
    return BL_OK;
}

bl_status bl_csv_open_stream(FILE *fp, const char *name, const bl_csv_opts *opts,
                             bl_csv_reader **out, bl_error *err)
{
    *out = NULL;
    bl_csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    r->fp = fp;
    r->name = strdup(name ? name : "<stream>");
    if (!r->name) {
        free(r);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_status s = reader_init(r, opts, err);
    if (s != BL_OK) {
        bl_csv_free(r);
        return s;
    }
    *out = r;
    return BL_OK;
}

bl_status bl_csv_open(const char *path, const bl_csv_opts *opts, bl_csv_reader **out,
                      bl_error *err)
{
    *out = NULL;
    int is_stdin = !strcmp(path, "-");
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp)
        return bl_error_set(err, BL_EIO, "%s: cannot open: %s", path, strerror(errno));
    bl_status s = bl_csv_open_stream(fp, is_stdin ? "<stdin>" : path, opts, out, err);
    if (s != BL_OK) {
        if (!is_stdin)
            fclose(fp);
        return s;
    }
    (*out)->own_fp = !is_stdin;
    return BL_OK;
}

const char *bl_csv_name(const bl_csv_reader *r)
{
    return r->name;
}

void bl_csv_free(bl_csv_reader *r)
{
    if (!r)
        return;
    csv_free(&r->parser);
    if (r->own_fp && r->fp)
        fclose(r->fp);
    free(r->name);
    free(r->buf);
    free(r->arena);
    free(r->offs);
    free(r->fields);
    free(r->lens);
    free(r);
}

/* Build the public row from the pending record and reset for the next one. */
static bl_status emit_row(bl_csv_reader *r, bl_csv_row *row, bl_error *err)
{
    uint64_t line = r->rec_start_line ? r->rec_start_line : r->line;
    r->rec_start_line = 0;
    r->row_ready = 0;
    if (r->overflow == 1)
        return bl_error_set(err, BL_EINPUT, "%s:%llu: record larger than %zu bytes", r->name,
                            (unsigned long long)line, r->opts.max_record_bytes);
    if (r->overflow == 2)
        return bl_error_set(err, BL_EINPUT, "%s:%llu: more than %zu fields in a record",
                            r->name, (unsigned long long)line, r->opts.max_fields);
    if (r->overflow == 3)
        return bl_error_set(err, BL_ENOMEM, "%s:%llu: out of memory", r->name,
                            (unsigned long long)line);
    if (r->nfields + 1 > r->out_cap) {
        size_t cap = r->fields_cap + 1; /* fields and lens share one capacity */
        if (bli_resize((void **)&r->fields, cap, sizeof *r->fields) != 0 ||
            bli_resize((void **)&r->lens, cap, sizeof *r->lens) != 0)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        r->out_cap = cap;
    }
    assert(r->nfields <= r->fields_cap && r->nfields + 1 <= r->out_cap); /* grown above */
    r->offs[r->nfields] = r->arena_len;
    for (size_t i = 0; i < r->nfields; i++) {
        r->fields[i] = r->arena + r->offs[i];
        r->lens[i] = r->offs[i + 1] - r->offs[i] - 1;
        if (r->opts.validate_utf8) {
            long bad = bli_utf8_invalid_at(r->fields[i], r->lens[i]);
            if (bad >= 0)
                return bl_error_set(err, BL_EINPUT,
                                    "%s:%llu: record %llu, column %zu: invalid UTF-8 at byte %ld",
                                    r->name, (unsigned long long)line,
                                    (unsigned long long)r->records + 1, i + 1, bad + 1);
        }
    }
    r->records++;
    row->nfields = r->nfields;
    row->fields = r->fields;
    row->lens = r->lens;
    row->line = line;
    row->record = r->records;
    return BL_OK;
}

static void reset_pending(bl_csv_reader *r)
{
    r->arena_len = 0;
    r->nfields = 0;
    r->overflow = 0;
}

bl_status bl_csv_next(bl_csv_reader *r, bl_csv_row *row, bl_error *err)
{
    reset_pending(r);
    for (;;) {
        if (r->buf_pos == r->buf_len) {
            if (r->eof)
                return BL_EOF;
            r->buf_len = fread(r->buf, 1, CSV_CHUNK, r->fp);
            r->buf_pos = 0;
            if (r->buf_len == 0) {
                if (ferror(r->fp))
                    return bl_error_set(err, BL_EIO, "%s: read error: %s", r->name,
                                        strerror(errno));
                r->eof = 1;
                if (csv_fini(&r->parser, on_field, on_row, r) != 0)
                    return bl_error_set(err, BL_EINPUT,
                                        "%s:%llu: malformed CSV: unterminated quoted field "
                                        "(started on line %llu)",
                                        r->name, (unsigned long long)r->line,
                                        (unsigned long long)(r->rec_start_line ? r->rec_start_line : r->line));
                if (r->row_ready)
                    return emit_row(r, row, err);
                return BL_EOF;
            }
            if (r->at_start) {
                r->at_start = 0;
                /* the usual mix-up (a .clk where the data belongs): say so */
                if (r->buf_len >= 8 && !memcmp(r->buf, BL_CLKBIN_MAGIC, 8))
                    return bl_error_set(err, BL_EINPUT, "%s is %s, not CSV", r->name,
                                        bli_kind_hint(r->buf, r->buf_len));
                if (!r->opts.keep_bom)
                    r->buf_pos = bli_bom_len(r->buf, r->buf_len);
            }
        }
        /* feed up to and including the next line terminator */
        size_t start = r->buf_pos, end = start;
        while (end < r->buf_len && r->buf[end] != '\n' && r->buf[end] != '\r')
            end++;
        int terminated = end < r->buf_len;
        if (terminated)
            end++;
        size_t len = end - start;
        int blank = (len == 1 && terminated);
        if (!r->rec_start_line && !blank)
            r->rec_start_line = r->line;
        size_t done = csv_parse(&r->parser, r->buf + start, len, on_field, on_row, r);
        if (done != len) {
            return bl_error_set(err, BL_EINPUT, "%s:%llu: malformed CSV near byte %zu of the line: %s",
                                r->name, (unsigned long long)r->line, done + 1,
                                csv_strerror(csv_error(&r->parser)));
        }
        r->buf_pos = end;
        if (terminated && r->buf[end - 1] == '\n')
            r->line++;
        if (r->row_ready)
            return emit_row(r, row, err);
    }
}

int bl_csv_write_field(FILE *fp, const char *s, size_t len)
{
    int quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            quote = 1;
    if (!quote)
        return fwrite(s, 1, len, fp) == len ? 0 : -1;
    if (fputc('"', fp) == EOF)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' && fputc('"', fp) == EOF)
            return -1;
        if (fputc(s[i], fp) == EOF)
            return -1;
    }
    return fputc('"', fp) == EOF ? -1 : 0;
}
