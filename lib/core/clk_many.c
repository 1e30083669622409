/* lib/core/clk_many.c - reading several CLK files at once.
 *
 * Why: a linkage run reads two or more sets of up to a few GB before it
 * can start, and on one thread that was a quarter of a 1M x 1M model run
 * (the kernel zeroing fresh pages and the BLAKE2b checksum both run at a
 * fixed rate per core). Files are independent, so each worker takes the
 * next unread file; errors are reported for the first failing file in
 * input order, as a sequential loop would. Calls only bl_clkset_read and
 * bli_par_run. */
#include <stdatomic.h>
#include <stdlib.h>

#include <blindlink/clk.h>
#include "core/internal.h"

typedef struct {
    const char *const *paths;
    size_t n;
    atomic_size_t next;
    bl_clkset **out;
    bl_status *st;
    bl_error *errs;
} many_job;

static void *many_worker(void *arg)
{
    many_job *j = *(many_job **)arg;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
        j->st[i] = bl_clkset_read(j->paths[i], BL_CLK_AUTO, 0, &j->out[i], &j->errs[i]);
    return NULL;
}

/* the first failure in input order into err/failed; every set freed */
static bl_status many_result(many_job *j, bl_error *err, size_t *failed)
{
    size_t bad = j->n;
    for (size_t i = 0; i < j->n && bad == j->n; i++)
        if (j->st[i] != BL_OK)
            bad = i;
    if (bad == j->n)
        return BL_OK;
    if (err)
        *err = j->errs[bad];
    if (failed)
        *failed = bad;
    for (size_t i = 0; i < j->n; i++) {
        bl_clkset_free(j->out[i]);
        j->out[i] = NULL;
    }
    return j->st[bad];
}

bl_status bl_clkset_read_many(const char *const *paths, size_t n, int threads, bl_clkset **out,
                              size_t *failed, bl_error *err)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (n == 0)
        return BL_OK;
    if (bl_init() != BL_OK) /* once, before the workers */
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    int nt = threads > 0 ? threads : bli_ncpus();
    if ((size_t)nt > n)
        nt = (int)n;
    if (nt > 64)
        nt = 64;
    many_job j = {.paths = paths, .n = n, .out = out};
    atomic_init(&j.next, 0);
    j.st = calloc(n, sizeof *j.st);
    j.errs = calloc(n, sizeof *j.errs);
    bl_status st = BL_OK;
    if (j.st && j.errs) {
        many_job *jobs[64]; /* every thread pulls from the one job */
        for (int t = 0; t < nt; t++)
            jobs[t] = &j;
        bli_par_run(many_worker, jobs, sizeof *jobs, nt);
        st = many_result(&j, err, failed);
    } else
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    free(j.st);
    free(j.errs);
    return st;
}
