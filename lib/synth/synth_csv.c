/* lib/synth/synth_csv.c - CSV output of `blindlink synth`: one record per line
 * (RFC 4180 quoting where a value needs it), the optional `corruptions`
 * column, and bl_synth_write_all, which formats chunks of records on worker
 * threads and writes them in order through atomic output files. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/io.h>
#include "core/internal.h"
#include "synth/synth_internal.h"

/* Longest line: every field doubled by quoting plus the corruptions column. */
#define LINE_MAX_BYTES (BL_SYNTH_NFIELDS * (2 * BL_SYNTH_FIELD_MAX + 3) + 1024)
#define CHUNK_SLOTS 1024u

static size_t put_field(char *buf, size_t pos, const char *s)
{
    size_t n = strlen(s);
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            quote = 1;
    if (!quote) {
        memcpy(buf + pos, s, n);
        return pos + n;
    }
    buf[pos++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            buf[pos++] = '"';
        buf[pos++] = s[i];
    }
    buf[pos++] = '"';
    return pos;
}

/* Format `r` into buf (LINE_MAX_BYTES); returns the length incl. newline. */
static size_t format_record(const bl_synth_record *r, char *buf, int explain)
{
    size_t pos = put_field(buf, 0, r->id);
    for (int f = 0; f < BL_SYNTH_NFIELDS; f++) {
        buf[pos++] = ',';
        pos = put_field(buf, pos, r->field[f]);
    }
    if (explain) {
        /* field:kind+kind;field:kind - no CSV specials, never quoted */
        buf[pos++] = ',';
        int first = 1;
        for (int f = 0; f < BL_SYNTH_NFIELDS; f++) {
            if (!r->applied[f])
                continue;
            if (!first)
                buf[pos++] = ';';
            first = 0;
            const char *fn = bl_synth_field_name((bl_synth_field)f);
            memcpy(buf + pos, fn, strlen(fn));
            pos += strlen(fn);
            buf[pos++] = ':';
            int kfirst = 1;
            for (int k = 0; k < BL_SYNTH_NCORRUPTIONS; k++) {
                if (!(r->applied[f] & (1u << k)))
                    continue;
                if (!kfirst)
                    buf[pos++] = '+';
                kfirst = 0;
                const char *kn = bl_synth_corruption_name((bl_synth_corruption)k);
                memcpy(buf + pos, kn, strlen(kn));
                pos += strlen(kn);
            }
        }
    }
    buf[pos++] = '\n';
    return pos;
}

int bl_synth_write_header(const bl_synth *g, FILE *fp)
{
    if (fputs("rec_id", fp) < 0)
        return -1;
    for (int f = 0; f < BL_SYNTH_NFIELDS; f++)
        if (fprintf(fp, ",%s", bl_synth_field_name((bl_synth_field)f)) < 0)
            return -1;
    if (bli_sx_explain(g) && fputs(",corruptions", fp) < 0)
        return -1;
    return fputc('\n', fp) == EOF ? -1 : 0;
}

int bl_synth_write_record(const bl_synth *g, const bl_synth_record *r, FILE *fp)
{
    char buf[LINE_MAX_BYTES];
    size_t n = format_record(r, buf, bli_sx_explain(g));
    return fwrite(buf, 1, n, fp) == n ? 0 : -1;
}

/* ---- parallel writer ---------------------------------------------------------- */

typedef struct chunk_job {
    const bl_synth *g;
    unsigned d;
    uint64_t from, to; /* slots */
    char *buf;
    size_t len;
    uint64_t records;
} chunk_job;

static void run_chunk(chunk_job *j)
{
    bl_synth_record r;
    int explain = bli_sx_explain(j->g);
    j->len = 0;
    j->records = 0;
    for (uint64_t s = j->from; s < j->to; s++) {
        if (!bl_synth_get(j->g, j->d, s, &r))
            continue;
        j->len += format_record(&r, j->buf + j->len, explain);
        j->records++;
    }
}

static void *chunk_thread(void *arg)
{
    run_chunk(arg);
    return NULL;
}

static bl_status write_dataset(const bl_synth *g, unsigned d, FILE *fp, const char *path,
                               int threads, chunk_job *jobs,
                               void (*progress)(void *, uint64_t), void *ctx, uint64_t *done,
                               bl_error *err)
{
    if (bl_synth_write_header(g, fp) != 0)
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    uint64_t nslots = bl_synth_slots(g, d);
    for (uint64_t base = 0; base < nslots;) {
        int used = 0;
        for (; used < threads && base < nslots; used++) {
            jobs[used].g = g;
            jobs[used].d = d;
            jobs[used].from = base;
            jobs[used].to = BL_MIN(nslots, base + CHUNK_SLOTS);
            base = jobs[used].to;
        }
        if (used == 1) {
            run_chunk(&jobs[0]);
        } else {
            pthread_t tid[256];
            int started = 0;
            for (; started < used; started++)
                if (pthread_create(&tid[started], NULL, chunk_thread, &jobs[started]) != 0)
                    break;
            for (int i = started; i < used; i++) /* could not start: do it here */
                run_chunk(&jobs[i]);
            for (int i = 0; i < started; i++)
                pthread_join(tid[i], NULL);
        }
        for (int i = 0; i < used; i++) {
            if (fwrite(jobs[i].buf, 1, jobs[i].len, fp) != jobs[i].len)
                return bl_error_set(err, BL_EIO, "%s: write failed", path);
            *done += jobs[i].records;
        }
        if (progress)
            progress(ctx, *done);
    }
    return BL_OK;
}

bl_status bl_synth_write_all(const bl_synth *g, const char *const *paths, int threads,
                             void (*progress)(void *ctx, uint64_t done), void *ctx,
                             bl_error *err)
{
    if (threads <= 0)
        threads = bli_ncpus();
    if (threads > 256)
        threads = 256;
    unsigned nd = bl_synth_ndatasets(g);
    chunk_job *jobs = calloc((size_t)threads, sizeof *jobs);
    bl_ofile **of = calloc(nd, sizeof *of);
    bl_status st = BL_OK;
    if (!jobs || !of)
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    for (int i = 0; i < threads && st == BL_OK; i++) {
        jobs[i].buf = malloc((size_t)CHUNK_SLOTS * LINE_MAX_BYTES);
        if (!jobs[i].buf)
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    /* open every output first: a failure anywhere leaves none of them */
    for (unsigned d = 0; d < nd && st == BL_OK; d++)
        st = bl_ofile_open(paths[d], &of[d], err);
    uint64_t done = 0;
    for (unsigned d = 0; d < nd && st == BL_OK; d++)
        st = write_dataset(g, d, bl_ofile_stream(of[d]), paths[d], threads, jobs, progress,
                           ctx, &done, err);
    for (unsigned d = 0; d < nd && of; d++) {
        if (st == BL_OK)
            st = bl_ofile_commit(of[d], err);
        else
            bl_ofile_abort(of[d]);
    }
    if (jobs)
        for (int i = 0; i < threads; i++)
            free(jobs[i].buf);
    free(jobs);
    free(of);
    return st;
}
