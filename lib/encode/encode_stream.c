/* lib/encode/encode_stream.c - CSV file -> CLK file, streamed and parallel.
 *
 * The calling thread reads the CSV and cuts it into batches (rows copied
 * into a per-batch arena); worker threads encode batches; the calling
 * thread writes finished batches strictly in input order. A fixed ring of
 * batch slots bounds memory (slots x batch size), independent of the input
 * size. The first bad row in file order decides the error message; the
 * output is written through bl_clkwriter, so a failed run leaves nothing. */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <blindlink/csv.h>
#include <blindlink/encode.h>
#include <blindlink/io.h>

#include "core/utf8.h"
#include "core/internal.h"

#define BATCH_MAX_BYTES ((size_t)4 << 20)

typedef struct batch {
    /* input */
    size_t nrows;
    size_t nfields;           /* per row (checked equal to the schema) */
    char *arena;              /* field bytes, each NUL-terminated */
    size_t alen, acap;
    size_t *foff;             /* nrows * nfields offsets into arena */
    size_t *flen;
    size_t fcap;              /* capacity in fields */
    uint64_t *line;           /* physical line of each row */
    uint64_t *rowno;          /* data row number of each row */
    size_t rcap;
    /* output */
    uint8_t *clks;            /* nrows * nbytes */
    size_t ccap;
    int state;                /* 0 free, 1 queued, 2 done */
    bl_status st;
    size_t err_row;           /* index of the failing row */
    bl_error err;
} batch;

typedef struct pipeline {
    const bl_encoder *enc;
    size_t nbytes;
    batch *slots;
    size_t nslots;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    size_t *queue;            /* ring of slot indices to encode */
    size_t qhead, qlen;
    int stop;
} pipeline;

static void batch_free(batch *b)
{
    free(b->arena);
    free(b->foff);
    free(b->flen);
    free(b->line);
    free(b->rowno);
    free(b->clks);
}

/* Append one CSV row to a batch. */
static int batch_add(batch *b, const bl_csv_row *row, uint64_t rowno)
{
    const size_t nf = row->nfields;
    size_t bytes = 0;
    for (size_t i = 0; i < nf; i++)
        bytes += row->lens[i] + 1;
    if (bli_grow((void **)&b->arena, &b->acap, b->alen + bytes, 1, 256) != 0)
        return -1;
    size_t need = (b->nrows + 1) * nf;
    if (need > b->fcap) { /* foff and flen share one capacity */
        size_t n = bli_grow_cap(b->fcap, need, sizeof *b->foff, 1024);
        if (n == 0 || bli_resize((void **)&b->foff, n, sizeof *b->foff) != 0 ||
            bli_resize((void **)&b->flen, n, sizeof *b->flen) != 0)
            return -1;
        b->fcap = n;
    }
    if (b->nrows + 1 > b->rcap) { /* line and rowno too */
        size_t n = bli_grow_cap(b->rcap, b->nrows + 1, sizeof *b->line, 256);
        if (n == 0 || bli_resize((void **)&b->line, n, sizeof *b->line) != 0 ||
            bli_resize((void **)&b->rowno, n, sizeof *b->rowno) != 0)
            return -1;
        b->rcap = n;
    }
    size_t base = b->nrows * nf;
    for (size_t i = 0; i < nf; i++) {
        b->foff[base + i] = b->alen;
        b->flen[base + i] = row->lens[i];
        memcpy(b->arena + b->alen, row->fields[i], row->lens[i]);
        b->arena[b->alen + row->lens[i]] = '\0';
        b->alen += row->lens[i] + 1;
    }
    b->line[b->nrows] = row->line;
    b->rowno[b->nrows] = rowno;
    b->nrows++;
    return 0;
}

static void encode_batch(const bl_encoder *enc, bl_encode_scratch *s, batch *b, size_t nbytes,
                         const char **fields, size_t nf)
{
    b->st = BL_OK;
    if (bli_grow((void **)&b->clks, &b->ccap, b->nrows * nbytes, 1, 256) != 0) {
        b->st = bl_error_set(&b->err, BL_ENOMEM, "out of memory");
        b->err_row = 0;
        return;
    }
    for (size_t r = 0; r < b->nrows; r++) {
        for (size_t i = 0; i < nf; i++)
            fields[i] = b->arena + b->foff[r * nf + i];
        bl_status st = bl_encoder_encode(enc, s, fields, b->flen + r * nf, nf, b->clks + r * nbytes, NULL,
                                         &b->err);
        if (st != BL_OK) {
            b->st = st;
            b->err_row = r;
            return;
        }
    }
}

static void *worker(void *arg)
{
    pipeline *p = arg;
    size_t nf = bl_schema_nfeatures(bl_encoder_schema(p->enc));
    bl_encode_scratch *s = bl_encode_scratch_new(p->enc);
    const char **fields = calloc(nf, sizeof *fields);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->qlen == 0)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->qlen == 0 && p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        size_t idx = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % p->nslots;
        p->qlen--;
        pthread_mutex_unlock(&p->mu);
        batch *b = &p->slots[idx];
        if (!s || !fields) {
            b->st = bl_error_set(&b->err, BL_ENOMEM, "out of memory");
            b->err_row = 0;
        } else {
            encode_batch(p->enc, s, b, p->nbytes, fields, nf);
        }
        pthread_mutex_lock(&p->mu);
        b->state = 2;
        pthread_cond_broadcast(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
    free(fields);
    bl_encode_scratch_free(s);
    return NULL;
}

/* Check the header row against the schema. */
static bl_status check_header(const bl_schema *sc, const bl_csv_row *row, const char *name, bl_error *err)
{
    size_t nf = bl_schema_nfeatures(sc);
    if (row->nfields != nf)
        return bl_error_set(err, BL_EINPUT,
                            "%s:%llu: the header has %zu columns but the schema has %zu features (is "
                            "there a header? see --no-header)",
                            name, (unsigned long long)row->line, row->nfields, nf);
    for (size_t i = 0; i < nf; i++) {
        const char *want = bl_schema_feature_id(sc, i);
        if (strlen(want) != row->lens[i] || memcmp(want, row->fields[i], row->lens[i]) != 0)
            return bl_error_set(err, BL_EINPUT,
                                "%s:%llu: header column %zu is '%s' but the schema expects '%s' "
                                "(--check-header false skips this check)",
                                name, (unsigned long long)row->line, i + 1,
                                BLI_SHOW(row->fields[i], row->lens[i]), want);
    }
    return BL_OK;
}

static bl_status row_error(const batch *b, const char *name, bl_error *err)
{
    /* b->err.msg is "column C (id): rule"; add file:line and row. */
    bl_error_set(err, b->st, "%s:%llu: row %llu, %s", name, (unsigned long long)b->line[b->err_row],
                 (unsigned long long)b->rowno[b->err_row], b->err.msg);
    return b->st;
}

/* One bl_encode_csv call: the reader, the writer, the batch pipeline and
 * the position in the input. */
/* The ids seen so far, by hash (note_id): open addressing, power-of-two
 * capacity, at most half full. */
typedef struct idseen {
    uint64_t *slot; /* hashes, 0 = empty */
    size_t cap, n;
} idseen;

static int idseen_grow(idseen *t)
{
    size_t cap = t->cap ? 2 * t->cap : 4096;
    idseen g = {calloc(cap, sizeof *g.slot), cap, t->n};
    if (!g.slot)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i])
            continue;
        size_t j = (size_t)t->slot[i] & (cap - 1);
        while (g.slot[j])
            j = (j + 1) & (cap - 1);
        g.slot[j] = t->slot[i];
    }
    free(t->slot);
    *t = g;
    return 0;
}

typedef struct encrun {
    const bl_encoder *e;
    bl_encode_csv_opts opts;
    size_t nf, nbytes;
    bl_csv_reader *rd;
    char name[256]; /* a copy: messages are formatted after the reader is freed too */
    size_t id_idx;  /* column of the record id, or (size_t)-1 */
    bl_clkwriter *w;
    pipeline p;
    pthread_t *tids;
    int started;              /* worker threads running */
    bl_encode_scratch *s1;    /* single-threaded: the caller's scratch */
    const char **fields1;
    uint64_t rowno, written;
    int eof;
    bl_status rst;            /* reader error: reported after earlier rows are checked */
    bl_error rerr;
    bl_progress *prog;
    uint64_t fsize;           /* input size for the progress estimate, 0 unknown */
    idseen seen;              /* --ids: every id so far, for the id report */
} encrun;

/* Open the CSV, read and check the header, find the id column. */
static bl_status open_input(encrun *r, const char *csv_path, bl_error *err)
{
    bl_csv_opts copts = {0}; /* UTF-8 is checked per cell by the encoder, naming the column */
    bl_status st = bl_csv_open(csv_path, &copts, &r->rd, err);
    if (st != BL_OK)
        return st;
    snprintf(r->name, sizeof r->name, "%s", bl_csv_name(r->rd));
    r->id_idx = (size_t)-1;
    struct stat fst;
    if (strcmp(csv_path, "-") && stat(csv_path, &fst) == 0 && S_ISREG(fst.st_mode))
        r->fsize = (uint64_t)fst.st_size;
    if (r->opts.header == BL_HEADER_NONE)
        return BL_OK;
    bl_csv_row row;
    st = bl_csv_next(r->rd, &row, err);
    if (st == BL_EOF)
        return bl_error_set(err, BL_EINPUT, "%s: empty file: no header row", r->name);
    if (st != BL_OK)
        return st;
    const bl_schema *sc = bl_encoder_schema(r->e);
    if (r->opts.header == BL_HEADER_CHECK && (st = check_header(sc, &row, r->name, err)) != BL_OK)
        return st;
    if (r->opts.id_column) {
        for (size_t i = 0; i < row.nfields; i++)
            if (!strcmp(row.fields[i], r->opts.id_column))
                r->id_idx = i;
        if (r->id_idx == (size_t)-1)
            return bl_error_set(err, BL_EINVAL, "%s: no header column named '%s' (--ids)", r->name,
                                r->opts.id_column);
    }
    return BL_OK;
}

/* Allocate the slot ring and start the workers (or the caller's scratch). */
static bl_status pipeline_start(encrun *r, bl_error *err)
{
    pipeline *p = &r->p;
    int nthreads = r->opts.threads;
    p->enc = r->e;
    p->nbytes = r->nbytes;
    p->nslots = nthreads > 1 ? (size_t)nthreads * 2 + 2 : 1;
    p->slots = calloc(p->nslots, sizeof *p->slots);
    p->queue = calloc(p->nslots, sizeof *p->queue);
    r->tids = calloc((size_t)nthreads, sizeof *r->tids);
    if (!p->slots || !p->queue || !r->tids)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    if (nthreads > 1) {
        for (; r->started < nthreads; r->started++)
            if (pthread_create(&r->tids[r->started], NULL, worker, p) != 0)
                break;
        if (r->started == 0)
            return bl_error_set(err, BL_EINTERNAL, "cannot start worker threads");
        return BL_OK;
    }
    r->s1 = bl_encode_scratch_new(r->e);
    r->fields1 = calloc(r->nf, sizeof *r->fields1);
    if (!r->s1 || !r->fields1)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    return BL_OK;
}

/* Stop and join the workers, free the pipeline, the reader and the scratch. */
static void pipeline_stop(encrun *r)
{
    pipeline *p = &r->p;
    if (r->started > 0) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < r->started; i++)
            pthread_join(r->tids[i], NULL);
    }
    if (p->slots) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv_work);
        pthread_cond_destroy(&p->cv_done);
        for (size_t i = 0; i < p->nslots; i++)
            batch_free(&p->slots[i]);
    }
    free(p->slots);
    free(p->queue);
    free(r->tids);
    free(r->fields1);
    bl_encode_scratch_free(r->s1);
    bl_csv_free(r->rd);
    r->rd = NULL;
    free(r->seen.slot);
    memset(&r->seen, 0, sizeof r->seen);
}

/* Read up to one batch of rows into `b`; sets r->eof at the end of the input
 * or at a reader error (kept in r->rst, reported after earlier rows). */
static void fill_batch(encrun *r, batch *b)
{
    b->nrows = 0;
    b->alen = 0;
    b->nfields = r->nf;
    bl_csv_row row;
    while (b->nrows < r->opts.batch_rows && b->alen < BATCH_MAX_BYTES) {
        bl_status rs = bl_csv_next(r->rd, &row, &r->rerr);
        if (rs != BL_OK) {
            if (rs != BL_EOF)
                r->rst = rs;
            r->eof = 1;
            return;
        }
        r->rowno++;
        if (row.nfields != r->nf) {
            r->rst = bl_error_set(&r->rerr, BL_EINPUT,
                                  "%s:%llu: row %llu has %zu columns, the schema has %zu", r->name,
                                  (unsigned long long)row.line, (unsigned long long)r->rowno,
                                  row.nfields, r->nf);
            r->eof = 1;
            return;
        }
        if (batch_add(b, &row, r->rowno) != 0) {
            r->rst = bl_error_set(&r->rerr, BL_ENOMEM, "out of memory");
            r->eof = 1;
            return;
        }
    }
}

/* Hand a filled batch to the workers, or encode it here. */
static void submit_batch(encrun *r, size_t slot)
{
    pipeline *p = &r->p;
    batch *b = &p->slots[slot];
    if (r->started > 0) {
        pthread_mutex_lock(&p->mu);
        b->state = 1;
        p->queue[(p->qhead + p->qlen) % p->nslots] = slot;
        p->qlen++;
        pthread_cond_signal(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    } else {
        encode_batch(r->e, r->s1, b, r->nbytes, r->fields1, r->nf);
        b->state = 2;
    }
}

/* Wait for batch `b` to be encoded and write its CLKs in input order. */
/* 64-bit hash of an id (two multiply-fold lanes over 8-byte words) */
static uint64_t id_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h | 1; /* 0 marks an empty slot */
}

/* One record's id into the report: empty, or already another record's.
 * Why hashes, not the ids: a set of the ids themselves (a string map) made
 * 1M-record encodes 20-40% slower on the writer thread, and 63 MB bigger;
 * 8 bytes per id take 16-24 MB at a million.
 * Equal 64-bit hashes count as one id: a false report has a probability of
 * about n^2 / 2^65 (3e-8 at a million ids), and it is only a warning. */
static bl_status note_id(encrun *r, const char *id, size_t len, uint64_t row, bl_error *err)
{
    bl_encode_id_report *rep = r->opts.id_report;
    idseen *t = &r->seen;
    if (!len) {
        rep->empty++;
        return BL_OK;
    }
    if (2 * (t->n + 1) > t->cap && idseen_grow(t) != 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    const uint64_t h = id_hash(id, len);
    size_t i = (size_t)h & (t->cap - 1);
    while (t->slot[i] && t->slot[i] != h)
        i = (i + 1) & (t->cap - 1);
    if (!t->slot[i]) {
        t->slot[i] = h;
        t->n++;
    } else if (!rep->repeated++) {
        rep->first_repeat = row;
    }
    return BL_OK;
}

static bl_status write_batch(encrun *r, batch *b, bl_error *err)
{
    pthread_mutex_lock(&r->p.mu);
    while (b->state != 2)
        pthread_cond_wait(&r->p.cv_done, &r->p.mu);
    pthread_mutex_unlock(&r->p.mu);
    if (b->st != BL_OK)
        return row_error(b, r->name, err);
    const size_t nf = r->nf, id_idx = r->id_idx;
    bl_status st = BL_OK;
    for (size_t i = 0; i < b->nrows && st == BL_OK; i++) {
        const char *id = id_idx != (size_t)-1 ? b->arena + b->foff[i * nf + id_idx] : NULL;
        if (id && b->flen[i * nf + id_idx] > BL_CLK_MAX_ID_BYTES)
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: row %llu: record id longer than %u bytes",
                              r->name, (unsigned long long)b->line[i],
                              (unsigned long long)b->rowno[i], BL_CLK_MAX_ID_BYTES);
        else
            st = bl_clkwriter_put(r->w, b->clks + i * r->nbytes, id, err);
        if (st == BL_OK && id && r->opts.id_report)
            st = note_id(r, id, b->flen[i * nf + id_idx], b->rowno[i], err);
    }
    r->written += b->nrows;
    b->state = 0;
    return st;
}

/* The main loop: keep every slot busy, write the oldest batch when done. */
static bl_status run_batches(encrun *r, bl_error *err)
{
    pipeline *p = &r->p;
    size_t next_fill = 0, next_write = 0, inflight = 0;
    for (;;) {
        while (!r->eof && inflight < p->nslots) {
            batch *b = &p->slots[next_fill];
            fill_batch(r, b);
            if (b->nrows == 0)
                break;
            /* The progress bar starts after the first batch: its average row
             * size and the file size give an estimated total, hence an ETA. */
            if (r->opts.progress && !r->prog) {
                uint64_t est = r->fsize && b->alen
                                   ? (uint64_t)((double)r->fsize * (double)b->nrows / (double)b->alen)
                                   : 0;
                r->prog = bl_progress_new("encoding", r->eof ? b->nrows : est);
            }
            submit_batch(r, next_fill);
            next_fill = (next_fill + 1) % p->nslots;
            inflight++;
        }
        if (inflight == 0)
            return BL_OK;
        assert(p->slots[next_write].state != 0); /* the oldest batch in flight */
        bl_status st = write_batch(r, &p->slots[next_write], err);
        next_write = (next_write + 1) % p->nslots;
        inflight--;
        bl_progress_update(r->prog, r->written);
        if (st != BL_OK)
            return st;
    }
}

bl_status bl_encode_csv(const bl_encoder *e, const char *csv_path, const char *out_path,
                        const bl_encode_csv_opts *opts_in, uint64_t *nrecords, bl_error *err)
{
    encrun r;
    memset(&r, 0, sizeof r);
    r.e = e;
    if (opts_in)
        r.opts = *opts_in;
    if (r.opts.format == BL_CLK_AUTO)
        r.opts.format = BL_CLK_JSON;
    if (r.opts.threads <= 0)
        r.opts.threads = bli_ncpus();
    if (r.opts.threads > 256)
        r.opts.threads = 256;
    if (r.opts.batch_rows == 0)
        r.opts.batch_rows = 4096;
    if (nrecords)
        *nrecords = 0;
    if (r.opts.id_report)
        memset(r.opts.id_report, 0, sizeof *r.opts.id_report);
    r.nf = bl_schema_nfeatures(bl_encoder_schema(e));
    r.nbytes = bl_encoder_nbytes(e);
    if (r.opts.id_column && r.opts.format != BL_CLK_BIN)
        return bl_error_set(err, BL_EINVAL, "record ids (--ids) need the binary format (--format bin)");
    if (r.opts.id_column && r.opts.header == BL_HEADER_NONE)
        return bl_error_set(err, BL_EINVAL, "--ids names a header column, so it cannot be used with --no-header");

    bl_status st = open_input(&r, csv_path, err);
    if (st != BL_OK) {
        bl_csv_free(r.rd);
        return st;
    }
    uint8_t fp[32];
    bl_encoder_fingerprint(e, fp);
    st = bl_clkwriter_open(out_path, r.opts.format, bl_encoder_nbits(e), fp,
                           r.opts.id_column != NULL, &r.w, err);
    if (st != BL_OK) {
        bl_csv_free(r.rd);
        return st;
    }
    /* layout, normalisation and hardening recorded in binary files */
    char *meta = NULL;
    if (bl_encoder_layout_meta(e) && r.opts.format != BL_CLK_BIN)
        /* field-level records mean nothing without their layout */
        st = bl_error_set(err, BL_EINVAL, "--layout fields needs the binary format (--format bin): "
                                          "clkhash JSON cannot record the field layout");
    else if ((st = bl_encoder_meta(e, &meta, err)) == BL_OK && meta)
        st = bl_clkwriter_set_meta(r.w, meta, err);
    free(meta);
    if (st != BL_OK) {
        bl_clkwriter_abort(r.w);
        bl_csv_free(r.rd);
        return st;
    }
    st = pipeline_start(&r, err);
    if (st == BL_OK)
        st = run_batches(&r, err);
    bl_progress_finish(r.prog);
    if (st == BL_OK && r.rst != BL_OK) {
        st = r.rst;
        if (err)
            *err = r.rerr;
    }
    if (st == BL_OK && r.written == 0)
        st = bl_error_set(err, BL_EINPUT, "%s: no records to encode", r.name);
    pipeline_stop(&r);
    if (st != BL_OK) {
        bl_clkwriter_abort(r.w);
        return st;
    }
    st = bl_clkwriter_commit(r.w, err);
    if (st == BL_OK && nrecords)
        *nrecords = r.written;
    return st;
}
