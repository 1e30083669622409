/* mpi/blindlink_mpi.c - `mpirun -n N blindlink-mpi match [options] A.clk B.clk
 * [...]`: the `blindlink match` command (same option parsing, reading,
 * checks, solving and writing: cli/cmd_match.c is compiled in) whose
 * candidate step is split over the MPI ranks. Every rank reads the inputs
 * and computes its share (bl_match_candidates_part: equal cost slices of
 * the comparison matrix) with the usual kernels and threads; the shares go
 * to rank 0, which merges them (bl_match_candidates_merge: cap, anonlink
 * order, two-sided top-k), solves and writes, so the output is byte for
 * byte that of `blindlink match`. A failing rank makes every rank fail; a
 * rank that dies makes mpirun abort the job before anything is written
 * (output is written atomically, after the merge, by rank 0 only).
 * Open MPI is used rather than sockets of our own: it is how clusters
 * (Slurm, hostfiles) launch and connect jobs. */
/* the build renames cli/main.c's main to blindlink_cli_main for this
 * program (-Dmain=...); this file defines the real one */
#undef main
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <blindlink/io.h>
#include <blindlink/match.h>
#include "cli.h"

#define CHUNK_BYTES ((size_t)1 << 26) /* per message: well under INT_MAX */

static int g_rank, g_size;

/* --progress-file FILE (blindlink serve --mpi-launch): rank 0 keeps
 * "DONE TOTAL" of its share there, rewritten in place at most 5x/s, so
 * that the service can show the run's progress */
static int g_progress_fd = -1;
static pthread_mutex_t g_progress_mu = PTHREAD_MUTEX_INITIALIZER;
static double g_progress_last;

typedef struct progress_fwd {
    void (*cb)(void *, uint64_t, uint64_t);
    void *ctx;
} progress_fwd;

static void progress_file(void *ctx, uint64_t done, uint64_t total)
{
    progress_fwd *f = ctx;
    if (f->cb)
        f->cb(f->ctx, done, total);
    if (pthread_mutex_trylock(&g_progress_mu))
        return; /* another thread is writing: this update is not needed */
    double now = bl_clock_s();
    if (now - g_progress_last >= 0.2 || done == total) {
        char buf[48];
        int k = snprintf(buf, sizeof buf, "%20llu %20llu\n", (unsigned long long)done,
                         (unsigned long long)total);
        if (pwrite(g_progress_fd, buf, (size_t)k, 0) == k)
            g_progress_last = now;
    }
    pthread_mutex_unlock(&g_progress_mu);
}

/* fault injection for tests/cli/test_mpi.sh: that rank dies (SIGKILL)
 * after computing its share, before sending it */
static void maybe_die(void)
{
    const char *v = getenv("BL_MPI_TEST_KILL_RANK");
    if (v && *v && atoi(v) == g_rank)
        raise(SIGKILL);
}

static void send_share(const bl_candidate *c, size_t n)
{
    const char *p = (const char *)c;
    size_t bytes = n * sizeof *c;
    for (size_t off = 0; off < bytes; off += CHUNK_BYTES) {
        size_t m = bytes - off < CHUNK_BYTES ? bytes - off : CHUNK_BYTES;
        MPI_Send(p + off, (int)m, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
    }
}

static void recv_share(bl_candidate *c, size_t n, int from)
{
    char *p = (char *)c;
    size_t bytes = n * sizeof *c;
    for (size_t off = 0; off < bytes; off += CHUNK_BYTES) {
        size_t m = bytes - off < CHUNK_BYTES ? bytes - off : CHUNK_BYTES;
        MPI_Recv(p + off, (int)m, MPI_BYTE, from, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
}

static bl_status mpi_candidates(const bl_clkset *const *sets, size_t nsets,
                                const bl_match_opts *mo, bl_candidate **out, size_t *count,
                                int *writer, bl_error *err)
{
    bl_match_opts o = *mo;
    progress_fwd fwd = {mo->progress, mo->progress_ctx};
    if (g_rank != 0) {
        o.progress = NULL; /* progress on rank 0 only */
    } else if (g_progress_fd >= 0) {
        o.progress = progress_file;
        o.progress_ctx = &fwd;
    }
    bl_candidate *mine = NULL;
    size_t n = 0;
    bl_status st = bl_match_candidates_part(sets, nsets, &o, (size_t)g_rank, (size_t)g_size,
                                            &mine, &n, err);
    maybe_die();
    /* every rank learns whether any failed; the failing ones report why */
    int bad = st != BL_OK, anybad = 0;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (anybad) {
        free(mine);
        if (!st)
            st = bl_error_set(err, BL_EINTERNAL, "another MPI rank failed; nothing written");
        return st;
    }
    unsigned long long mycount = n, *counts = NULL;
    if (g_rank == 0 && !(counts = calloc((size_t)g_size, sizeof *counts)))
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Gather(&mycount, 1, MPI_UNSIGNED_LONG_LONG, counts, 1, MPI_UNSIGNED_LONG_LONG, 0,
               MPI_COMM_WORLD);
    if (g_rank != 0) {
        send_share(mine, n);
        free(mine);
        *writer = 0;
        *out = NULL;
        *count = 0;
        return BL_OK;
    }
    size_t tot = 0;
    for (int r = 0; r < g_size; r++)
        tot += (size_t)counts[r];
    bl_candidate *all = realloc(mine, (tot ? tot : 1) * sizeof *all);
    if (!all) {
        fprintf(stderr, "blindlink-mpi: out of memory merging %zu candidates\n", tot);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    size_t at = n;
    for (int r = 1; r < g_size; r++) {
        recv_share(all + at, (size_t)counts[r], r);
        at += (size_t)counts[r];
    }
    free(counts);
    st = bl_match_candidates_merge(sets, nsets, mo, all, &tot, err);
    if (st) {
        free(all);
        return st;
    }
    *writer = 1;
    *out = all;
    *count = tot;
    return BL_OK;
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (argc < 2 || strcmp(argv[1], "match") != 0) {
        if (g_rank == 0)
            fprintf(stderr, "Usage: mpirun -n N blindlink-mpi match [blindlink match options] "
                            "A.clk B.clk [...]\n(see blindlink match --help)\n");
        MPI_Finalize();
        return 2;
    }
    /* blindlink-mpi's own option, right after "match" */
    if (argc > 3 && strcmp(argv[2], "--progress-file") == 0) {
        if (g_rank == 0 && (g_progress_fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
            fprintf(stderr, "blindlink-mpi: cannot open progress file %s: %s (continuing)\n",
                    argv[3], strerror(errno));
        argv[3] = argv[1];
        argv += 2;
        argc -= 2;
    }
    cli_match_hook = mpi_candidates;
    int rc = cmd_match(argc - 1, argv + 1);
    if (g_progress_fd >= 0)
        close(g_progress_fd);
    MPI_Finalize();
    return rc;
}
