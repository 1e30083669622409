/* lib/encode/encode_stream.c - CSV file -> CLK file, streamed and parallel.
 *
 * The calling thread reads the CSV and cuts it into batches (rows copied
 * into a per-batch arena); worker threads encode batches; the calling
 * thread writes finished batches strictly in input order. A fixed ring of
 * batch slots bounds memory (slots x batch size), independent of the input
 * size. The first bad row in file order decides the error message; the
 * output is written through bl_clkwriter, so a failed run leaves nothing. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <blindlink/csv.h>
#include <blindlink/encode.h>
#include <blindlink/io.h>

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
    if (bl_grow((void **)&b->arena, &b->acap, b->alen + bytes, 1, 256) != 0)
        return -1;
    size_t need = (b->nrows + 1) * nf;
    if (need > b->fcap) {
        size_t n = b->fcap ? b->fcap * 2 : 1024;
        while (n < need)
            n *= 2;
        size_t *a = realloc(b->foff, n * sizeof *a);
        if (!a)
            return -1;
        b->foff = a;
        size_t *l = realloc(b->flen, n * sizeof *l);
        if (!l)
            return -1;
        b->flen = l;
        b->fcap = n;
    }
    if (b->nrows + 1 > b->rcap) {
        size_t n = b->rcap ? b->rcap * 2 : 256;
        uint64_t *a = realloc(b->line, n * sizeof *a);
        if (!a)
            return -1;
        b->line = a;
        uint64_t *r = realloc(b->rowno, n * sizeof *r);
        if (!r)
            return -1;
        b->rowno = r;
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
    if (bl_grow((void **)&b->clks, &b->ccap, b->nrows * nbytes, 1, 256) != 0) {
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
                                "%s:%llu: header column %zu is '%.60s' but the schema expects '%s' "
                                "(--check-header false skips this check)",
                                name, (unsigned long long)row->line, i + 1, row->fields[i], want);
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

bl_status bl_encode_csv(const bl_encoder *e, const char *csv_path, const char *out_path,
                        const bl_encode_csv_opts *opts_in, uint64_t *nrecords, bl_error *err)
{
    bl_encode_csv_opts opts = {0};
    if (opts_in)
        opts = *opts_in;
    if (opts.format == BL_CLK_AUTO)
        opts.format = BL_CLK_JSON;
    if (opts.threads <= 0)
        opts.threads = bl_ncpus();
    if (opts.threads > 256)
        opts.threads = 256;
    if (opts.batch_rows == 0)
        opts.batch_rows = 4096;
    if (nrecords)
        *nrecords = 0;
    const bl_schema *sc = bl_encoder_schema(e);
    const size_t nf = bl_schema_nfeatures(sc);
    const size_t nbytes = bl_encoder_nbytes(e);
    uint64_t written = 0, rowno = 0;
    if (opts.id_column && opts.format != BL_CLK_BIN)
        return bl_error_set(err, BL_EINVAL, "record ids (--ids) need the binary format (--format bin)");
    if (opts.id_column && opts.header == BL_HEADER_NONE)
        return bl_error_set(err, BL_EINVAL, "--ids names a header column, so it cannot be used with --no-header");

    bl_csv_opts copts = {0}; /* UTF-8 is checked per cell by the encoder, naming the column */
    bl_csv_reader *rd = NULL;
    bl_status st = bl_csv_open(csv_path, &copts, &rd, err);
    if (st != BL_OK)
        return st;
    char name[256]; /* a copy: messages are formatted after the reader is freed too */
    snprintf(name, sizeof name, "%s", bl_csv_name(rd));
    bl_csv_row row;
    size_t id_idx = (size_t)-1;
    if (opts.header != BL_HEADER_NONE) {
        st = bl_csv_next(rd, &row, err);
        if (st == BL_EOF) {
            bl_csv_free(rd);
            return bl_error_set(err, BL_EINPUT, "%s: empty file: no header row", name);
        }
        if (st != BL_OK) {
            bl_csv_free(rd);
            return st;
        }
        if (opts.header == BL_HEADER_CHECK && (st = check_header(sc, &row, name, err)) != BL_OK) {
            bl_csv_free(rd);
            return st;
        }
        if (opts.id_column) {
            for (size_t i = 0; i < row.nfields; i++)
                if (!strcmp(row.fields[i], opts.id_column))
                    id_idx = i;
            if (id_idx == (size_t)-1) {
                bl_csv_free(rd);
                return bl_error_set(err, BL_EINVAL, "%s: no header column named '%s' (--ids)", name,
                                    opts.id_column);
            }
        }
    }
    uint8_t fp[32];
    bl_encoder_fingerprint(e, fp);
    bl_clkwriter *w = NULL;
    st = bl_clkwriter_open(out_path, opts.format, bl_encoder_nbits(e), fp, opts.id_column != NULL, &w, err);
    if (st != BL_OK) {
        bl_csv_free(rd);
        return st;
    }
    char *meta = NULL; /* normalisation and hardening recorded in binary files */
    if ((st = bl_encoder_meta(e, &meta, err)) == BL_OK && meta)
        st = bl_clkwriter_set_meta(w, meta, err);
    free(meta);
    if (st != BL_OK) {
        bl_clkwriter_abort(w);
        bl_csv_free(rd);
        return st;
    }

    pipeline p = {.enc = e, .nbytes = nbytes};
    int nthreads = opts.threads;
    p.nslots = nthreads > 1 ? (size_t)nthreads * 2 + 2 : 1;
    p.slots = calloc(p.nslots, sizeof *p.slots);
    p.queue = calloc(p.nslots, sizeof *p.queue);
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    int started = 0;
    bl_encode_scratch *s1 = NULL;
    const char **fields1 = NULL;
    if (!p.slots || !p.queue || !tids) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv_work, NULL);
    pthread_cond_init(&p.cv_done, NULL);
    if (nthreads > 1) {
        for (; started < nthreads; started++)
            if (pthread_create(&tids[started], NULL, worker, &p) != 0)
                break;
        if (started == 0) {
            st = bl_error_set(err, BL_EINTERNAL, "cannot start worker threads");
            goto done;
        }
    } else {
        s1 = bl_encode_scratch_new(e);
        fields1 = calloc(nf, sizeof *fields1);
        if (!s1 || !fields1) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            goto done;
        }
    }
    /* The progress bar starts after the first batch: its average row size
     * and the file size give an estimated total, hence an ETA. */
    bl_progress *prog = NULL;
    struct stat fst;
    uint64_t fsize = (strcmp(csv_path, "-") && stat(csv_path, &fst) == 0 && S_ISREG(fst.st_mode))
                         ? (uint64_t)fst.st_size : 0;
    rowno = 0;
    size_t next_fill = 0, next_write = 0, inflight = 0;
    int eof = 0;
    bl_status rst = BL_OK; /* reader error: reported after earlier rows are checked */
    bl_error rerr = {0};
    for (;;) {
        while (!eof && inflight < p.nslots) {
            batch *b = &p.slots[next_fill];
            b->nrows = 0;
            b->alen = 0;
            b->nfields = nf;
            while (b->nrows < opts.batch_rows && b->alen < BATCH_MAX_BYTES) {
                bl_status rs = bl_csv_next(rd, &row, &rerr);
                if (rs == BL_EOF) {
                    eof = 1;
                    break;
                }
                if (rs != BL_OK) {
                    rst = rs;
                    eof = 1;
                    break;
                }
                rowno++;
                if (row.nfields != nf) {
                    rst = bl_error_set(&rerr, BL_EINPUT, "%s:%llu: row %llu has %zu columns, the schema has %zu",
                                       name, (unsigned long long)row.line, (unsigned long long)rowno,
                                       row.nfields, nf);
                    eof = 1;
                    break;
                }
                if (batch_add(b, &row, rowno) != 0) {
                    rst = bl_error_set(&rerr, BL_ENOMEM, "out of memory");
                    eof = 1;
                    break;
                }
            }
            if (b->nrows == 0)
                break;
            if (opts.progress && !prog) {
                uint64_t est = fsize && b->alen ? (uint64_t)((double)fsize * (double)b->nrows / (double)b->alen) : 0;
                if (eof)
                    est = b->nrows;
                prog = bl_progress_new("encoding", est);
            }
            if (nthreads > 1) {
                pthread_mutex_lock(&p.mu);
                b->state = 1;
                p.queue[(p.qhead + p.qlen) % p.nslots] = next_fill;
                p.qlen++;
                pthread_cond_signal(&p.cv_work);
                pthread_mutex_unlock(&p.mu);
            } else {
                encode_batch(e, s1, b, nbytes, fields1, nf);
                b->state = 2;
            }
            next_fill = (next_fill + 1) % p.nslots;
            inflight++;
        }
        if (inflight == 0)
            break;
        /* write the oldest batch once it is encoded */
        batch *b = &p.slots[next_write];
        pthread_mutex_lock(&p.mu);
        while (b->state != 2)
            pthread_cond_wait(&p.cv_done, &p.mu);
        pthread_mutex_unlock(&p.mu);
        if (b->st != BL_OK) {
            st = row_error(b, name, err);
            break;
        }
        for (size_t r = 0; r < b->nrows && st == BL_OK; r++) {
            const char *id = id_idx != (size_t)-1 ? b->arena + b->foff[r * nf + id_idx] : NULL;
            if (id && b->flen[r * nf + id_idx] > BL_CLK_MAX_ID_BYTES)
                st = bl_error_set(err, BL_EINPUT, "%s:%llu: row %llu: record id longer than %u bytes", name,
                                  (unsigned long long)b->line[r], (unsigned long long)b->rowno[r],
                                  BL_CLK_MAX_ID_BYTES);
            else
                st = bl_clkwriter_put(w, b->clks + r * nbytes, id, err);
        }
        written += b->nrows;
        b->state = 0;
        next_write = (next_write + 1) % p.nslots;
        inflight--;
        bl_progress_update(prog, written);
        if (st != BL_OK)
            break;
    }
    bl_progress_finish(prog);
    if (st == BL_OK && rst != BL_OK) {
        st = rst;
        if (err)
            *err = rerr;
    }
    if (st == BL_OK && written == 0)
        st = bl_error_set(err, BL_EINPUT, "%s: no records to encode", name);
done:
    if (started > 0) {
        pthread_mutex_lock(&p.mu);
        p.stop = 1;
        pthread_cond_broadcast(&p.cv_work);
        pthread_mutex_unlock(&p.mu);
        for (int i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
    }
    if (p.slots) {
        pthread_mutex_destroy(&p.mu);
        pthread_cond_destroy(&p.cv_work);
        pthread_cond_destroy(&p.cv_done);
        for (size_t i = 0; i < p.nslots; i++)
            batch_free(&p.slots[i]);
    }
    free(p.slots);
    free(p.queue);
    free(tids);
    free(fields1);
    bl_encode_scratch_free(s1);
    bl_csv_free(rd);
    if (st == BL_OK) {
        st = bl_clkwriter_commit(w, err);
        if (st == BL_OK && nrecords)
            *nrecords = written;
    } else {
        bl_clkwriter_abort(w);
    }
    return st;
}
