/* lib/encode/encode_batch.c - bl_encoder_encode_batch: encode records held
 * in memory on several threads (include/blindlink/batch.h). Each thread
 * takes a contiguous slice of the records with its own scratch; output
 * positions are fixed by record index, so the result does not depend on the
 * thread count. The error reported is the one of the lowest failing record,
 * whichever thread saw it. Uses only the encoder's public API. */
#include <pthread.h>
#include <stdlib.h>

#include <blindlink/batch.h>
#include <blindlink/encode.h>
#include "core/internal.h"

typedef struct batch_job {
    const bl_encoder *e;
    const char *const *cells;
    const size_t *lens;
    size_t nfields, lo, hi;
    uint8_t *out;
    size_t out_stride;
    uint32_t *popcounts;
    int joinable;       /* a thread was started for this slice */
    bl_status st;       /* first failure in this slice */
    size_t bad;         /* its record index */
    bl_error err;
} batch_job;

static void *batch_run(void *arg)
{
    batch_job *j = arg;
    bl_encode_scratch *s = bl_encode_scratch_new(j->e);
    if (!s) {
        j->bad = j->lo;
        j->st = bl_error_set(&j->err, BL_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t r = j->lo; r < j->hi; r++) {
        const size_t off = r * j->nfields;
        bl_status st = bl_encoder_encode(j->e, s, j->cells + off, j->lens + off, j->nfields,
                                         j->out + r * j->out_stride,
                                         j->popcounts ? &j->popcounts[r] : NULL, &j->err);
        if (st != BL_OK) {
            j->st = st;
            j->bad = r;
            break;
        }
    }
    bl_encode_scratch_free(s);
    return NULL;
}

/* The failure of the lowest record over all slices, or BL_OK. */
static bl_status batch_join(batch_job *jobs, size_t nt, size_t *bad_record, bl_error *err)
{
    batch_job *worst = NULL;
    for (size_t t = 0; t < nt; t++)
        if (jobs[t].st != BL_OK && (!worst || jobs[t].bad < worst->bad))
            worst = &jobs[t];
    if (!worst)
        return BL_OK;
    if (bad_record)
        *bad_record = worst->bad;
    bl_error_set(err, worst->st, "%s", worst->err.msg);
    bl_error_prefix(err, "record %zu: ", worst->bad);
    return worst->st;
}

bl_status bl_encoder_encode_batch(const bl_encoder *e, const char *const *cells,
                                  const size_t *lens, size_t nfields, size_t nrows, int threads,
                                  uint8_t *out, size_t out_stride, uint32_t *popcounts,
                                  size_t *bad_record, bl_error *err)
{
    if (!e || (nrows && (!cells || !lens || !out)))
        return bl_error_set(err, BL_EINVAL, "bl_encoder_encode_batch: NULL argument");
    if (nrows && out_stride < bl_encoder_nbytes(e))
        return bl_error_set(err, BL_EINVAL, "bl_encoder_encode_batch: out_stride %zu < %zu bytes",
                            out_stride, bl_encoder_nbytes(e));
    size_t nt = threads > 0 ? (size_t)threads : (size_t)bli_ncpus();
    /* below ~1024 records per thread the thread start costs more than it saves */
    if (nt > nrows / 1024 + 1)
        nt = nrows / 1024 + 1;
    batch_job *jobs = calloc(nt, sizeof *jobs);
    pthread_t *tid = calloc(nt, sizeof *tid);
    if (!jobs || !tid) {
        free(jobs);
        free(tid);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    for (size_t t = 0; t < nt; t++) {
        jobs[t] = (batch_job){e, cells, lens, nfields, nrows * t / nt, nrows * (t + 1) / nt,
                              out, out_stride, popcounts, 0, BL_OK, 0, {0}};
        if (t == 0)
            continue; /* slice 0 runs on the calling thread */
        if (pthread_create(&tid[t], NULL, batch_run, &jobs[t]) == 0) {
            jobs[t].joinable = 1;
        } else {
            jobs[t].st = bl_error_set(&jobs[t].err, BL_EINTERNAL, "cannot start a thread");
            jobs[t].bad = jobs[t].lo;
        }
    }
    batch_run(&jobs[0]);
    for (size_t t = 1; t < nt; t++)
        if (jobs[t].joinable)
            pthread_join(tid[t], NULL);
    bl_status st = batch_join(jobs, nt, bad_record, err);
    free(jobs);
    free(tid);
    return st;
}
