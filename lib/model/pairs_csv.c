/* lib/model/pairs_csv.c - the pairs CSV of a model run, its rows formatted
 * on several threads.
 *
 * Why threads: each row holds the shortest round-trip text of its
 * probability (bl_format_double: two or three printf/strtod pairs) and a
 * %.4f weight; on one core that was the last second of a 1M x 1M run
 * (480K rows), with the other core idle. Chunks of rows are formatted
 * into memory streams (open_memstream, so bl_csv_write_field quotes ids as
 * in a file), a round of chunks at a time, and written in order: the
 * bytes are the same as one thread's. Calls lib/core (bli_par_run) and
 * the match layer's number and CSV formatting. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>
#include <blindlink/io.h>

#include "core/internal.h"
#include "model/model_internal.h"

/* rows per chunk, and chunks per round a thread (a round's text, some
 * 60-100 bytes a row without ids, is held at once) */
#define ROWS_CHUNK 8192
#define CHUNKS_PER_THREAD 4
#define MAX_THREADS 16

typedef struct {
    const bl_scored_pair *p;
    size_t n;
    const bl_clkset *const *sets;
    int multi, ids;
} pairs_fmt;

typedef struct {
    const pairs_fmt *f;
    size_t first, nchunks; /* the round: chunks first .. first + nchunks */
    atomic_size_t next;
    char **buf;
    size_t *len;
    atomic_int failed;
} pairs_round;

static void pairs_rows(FILE *fp, const pairs_fmt *f, size_t lo, size_t hi)
{
    char b1[32];
    for (size_t i = lo; i < hi; i++) {
        const bl_candidate *c = &f->p[i].c;
        if (f->multi)
            fprintf(fp, "%u,%u,%u,%u,", c->dset[0], c->rec[0], c->dset[1], c->rec[1]);
        else
            fprintf(fp, "%u,%u,", c->rec[0], c->rec[1]);
        bl_format_double(f->p[i].probability, b1); /* the score column is the probability */
        fprintf(fp, "%s,%.4f,%s", b1, f->p[i].weight, b1);
        if (f->ids) {
            const char *a = f->sets[c->dset[0]]->ids[c->rec[0]];
            const char *b = f->sets[c->dset[1]]->ids[c->rec[1]];
            fputc(',', fp);
            bl_csv_write_field(fp, a, strlen(a));
            fputc(',', fp);
            bl_csv_write_field(fp, b, strlen(b));
        }
        fputc('\n', fp);
    }
}

static void *pairs_worker(void *arg)
{
    pairs_round *r = *(pairs_round **)arg;
    for (size_t k; (k = atomic_fetch_add(&r->next, 1)) < r->nchunks;) {
        const size_t lo = (r->first + k) * ROWS_CHUNK;
        const size_t hi = lo + ROWS_CHUNK < r->f->n ? lo + ROWS_CHUNK : r->f->n;
        FILE *m = open_memstream(&r->buf[k], &r->len[k]);
        if (!m) {
            atomic_store(&r->failed, 1);
            continue;
        }
        pairs_rows(m, r->f, lo, hi);
        if (ferror(m))
            atomic_store(&r->failed, 1);
        if (fclose(m) != 0)
            atomic_store(&r->failed, 1);
    }
    return NULL;
}

/* The rows on nt threads into fp; 0, or -1 when out of memory. */
static int pairs_parallel(FILE *fp, const pairs_fmt *f, int nt)
{
    const size_t nchunks = (f->n + ROWS_CHUNK - 1) / ROWS_CHUNK;
    const size_t per_round = (size_t)nt * CHUNKS_PER_THREAD;
    char **buf = calloc(per_round, sizeof *buf);
    size_t *len = calloc(per_round, sizeof *len);
    int rc = buf && len ? 0 : -1;
    pairs_round r = {.f = f, .buf = buf, .len = len};
    pairs_round *jobs[MAX_THREADS]; /* every thread pulls from the one round */
    for (int t = 0; t < nt; t++)
        jobs[t] = &r;
    /* a failed write (ENOSPC) stops the rounds; the caller's ferror reports it */
    for (size_t c = 0; c < nchunks && rc == 0 && !ferror(fp); c += per_round) {
        r.first = c;
        r.nchunks = nchunks - c < per_round ? nchunks - c : per_round;
        atomic_init(&r.next, 0);
        atomic_init(&r.failed, 0);
        bli_par_run(pairs_worker, jobs, sizeof *jobs, nt);
        rc = atomic_load(&r.failed) ? -1 : 0;
        for (size_t k = 0; k < r.nchunks; k++) {
            if (rc == 0 && buf[k])
                fwrite(buf[k], 1, len[k], fp);
            free(buf[k]);
            buf[k] = NULL;
        }
    }
    free(buf);
    free(len);
    return rc;
}

bl_status bl_model_write_pairs(const char *path, const bl_scored_pair *p, size_t n,
                               const bl_clkset *const *sets, size_t nsets, int threads,
                               bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st != BL_OK)
        return st;
    FILE *fp = bl_ofile_stream(f);
    pairs_fmt fm = {.p = p, .n = n, .sets = sets, .multi = nsets > 2, .ids = sets != NULL};
    for (size_t d = 0; fm.ids && d < nsets; d++)
        fm.ids = sets[d]->ids != NULL;
    fputs(fm.multi ? "a_dataset,a_index,b_dataset,b_index" : "a_index,b_index", fp);
    fputs(",score,weight,probability", fp);
    fputs(fm.ids ? ",a_id,b_id\n" : "\n", fp);
    int nt = threads > 0 ? threads : bli_ncpus();
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    /* a thread a chunk at most; one chunk is written straight to the file */
    if ((size_t)nt > (n + ROWS_CHUNK - 1) / ROWS_CHUNK)
        nt = (int)((n + ROWS_CHUNK - 1) / ROWS_CHUNK);
    if (nt > 1 && pairs_parallel(fp, &fm, nt) != 0) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory formatting the pairs", path);
    }
    if (nt <= 1)
        pairs_rows(fp, &fm, 0, n);
    if (ferror(fp)) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}
