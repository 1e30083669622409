/* mpi/blindlink_mpi.c - `mpirun -n N blindlink-mpi match [options] A.clk B.clk
 * [...]`: the `blindlink match` command (same option parsing, reading,
 * checks, solving and writing: cli/cmd_match.c is compiled in) whose
 * candidate step is split over the MPI ranks. Rank 0 reads the inputs
 * whole, the others only the rows their share compares (mpi_read); each
 * computes its share (bl_match_candidates_part: equal cost slices of
 * the comparison matrix, with keyed LSH equal ranges of the tables, with
 * --blocks sets of blocks of about equal cost)
 * with the usual kernels and threads; the shares go
 * to rank 0, which merges them (bl_match_candidates_merge: cap, anonlink
 * order, two-sided top-k), solves and writes, so the output is byte for
 * byte that of `blindlink match`. A failing rank makes every rank fail,
 * and the failure is reported once (see agree below); a
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <blindlink/io.h>
#include <blindlink/match.h>
#include "cli.h"

#define CHUNK_BYTES ((size_t)1 << 26) /* per message: well under INT_MAX */

static int g_rank, g_size;
static int g_allrows; /* --blocking lsh or --blocks: every share needs every row */
static int g_agreed;  /* the ranks agreed that the run failed, with exit status g_rc */
static int g_rc;
static int g_cands_done; /* every rank computed its share: rank 0 alone goes on */

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

/* and BL_MPI_TEST_FAIL_RANK: that rank's share fails as if out of memory */
static int test_fails(void)
{
    const char *v = getenv("BL_MPI_TEST_FAIL_RANK");
    return v && *v && atoi(v) == g_rank;
}

/* Waits for a request without holding a core. Open MPI's blocking calls
 * poll in a busy loop, so with local ranks (2 ranks on 2 cores) a rank
 * waiting for rank 0 took the core that rank 0's threads needed for the
 * LSH plan's sample: the 10M x 10M run took 1.12x the single process's
 * wall time. Polls a little, then sleeps 1 ms between polls. */
static void idle_wait(MPI_Request *rq)
{
    int done = 0;
    for (int spins = 0;; spins++) {
        MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        if (spins >= 100) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static void bcast_idle(void *buf, int count, MPI_Datatype type)
{
    MPI_Request rq;
    MPI_Ibcast(buf, count, type, 0, MPI_COMM_WORLD, &rq);
    idle_wait(&rq);
}

/* ---- one report per failure ----
 * Every rank runs the same match code on the same inputs, so a failure
 * (options, a missing file, a check of the inputs, the blocking key or
 * blocks files, the candidate cap, memory) usually comes on every rank at
 * once, and each would print the same line. So the ranks agree at fixed
 * points (agree: the entry and end of each hook, the end of main), before
 * any other collective: every rank says whether it failed and learns the
 * lowest failing rank, which alone reports, naming its rank when not every
 * rank failed (else rank 0 reports); every rank exits with its status and
 * none is left waiting in a collective, so all end with MPI_Finalize.
 * Failures inside a hook are in a bl_error, printed by cli_fail at the end
 * of match (cli_fail_silent on the others). What match prints between the
 * hooks (option errors, the input checks, blocking set-up) is written on
 * every rank before the next agreement point: there each rank's stderr is
 * captured (cap_begin), and at the agreement the lowest failing rank's
 * text (rank 0's when none failed) is written out, the others' dropped
 * (the same lines: warnings such as the exhaustive fallback came once per
 * rank too). */
static int g_capfd = -1, g_errfd = -1, g_capturing;

static void cap_begin(void)
{
    if (g_capfd < 0 || g_capturing)
        return;
    fflush(stderr);
    if (dup2(g_capfd, STDERR_FILENO) >= 0)
        g_capturing = 1;
}

static void cap_pause(void)
{
    if (!g_capturing)
        return;
    fflush(stderr);
    dup2(g_errfd, STDERR_FILENO);
    g_capturing = 0;
}

/* writes out what was captured (each line naming this rank if name_rank),
 * or drops it */
static void cap_flush(int emit, int name_rank)
{
    if (g_capfd < 0)
        return;
    off_t end = lseek(g_capfd, 0, SEEK_CUR);
    char *buf = emit && end > 0 ? malloc((size_t)end + 1) : NULL;
    if (buf && pread(g_capfd, buf, (size_t)end, 0) == (ssize_t)end) {
        static const char cmd[] = "blindlink match: ";
        const size_t cl = sizeof cmd - 1;
        buf[end] = '\0';
        for (char *line = buf; *line;) {
            char *nl = strchr(line, '\n');
            int len = (int)(nl ? nl - line + 1 : (ptrdiff_t)strlen(line));
            if (!name_rank)
                fprintf(stderr, "%.*s", len, line);
            else if (strncmp(line, cmd, cl) == 0)
                fprintf(stderr, "%sMPI rank %d of %d: %.*s", cmd, g_rank, g_size, len - (int)cl,
                        line + cl);
            else
                fprintf(stderr, "blindlink-mpi: MPI rank %d of %d: %.*s", g_rank, g_size, len,
                        line);
            line += len;
        }
    }
    free(buf);
    if (ftruncate(g_capfd, 0) || lseek(g_capfd, 0, SEEK_SET) < 0) {
        close(g_capfd); /* cannot reuse it: capture no more */
        g_capfd = -1;
    }
}

typedef struct verdict {
    int nbad; /* ranks that failed */
    int low;  /* the lowest of them, which reports */
    int rc;   /* its exit status: every rank's */
} verdict;

/* every rank says whether it failed (rc: its exit status, 0 = ok) and all
 * learn the verdict; the captured stderr of the reporting rank (of rank 0
 * when none failed) is written out, the others' dropped */
static verdict agree(int rc)
{
    cap_pause();
    verdict v = {0, g_size, 0};
    int *all = malloc((size_t)g_size * sizeof *all);
    if (!all)
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Request rq;
    MPI_Iallgather(&rc, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD, &rq);
    idle_wait(&rq);
    for (int r = g_size - 1; r >= 0; r--)
        if (all[r]) {
            v.nbad++;
            v.low = r;
            v.rc = all[r];
        }
    free(all);
    cap_flush(g_rank == (v.nbad ? v.low : 0), v.nbad && v.nbad < g_size);
    if (v.nbad) {
        g_agreed = 1;
        g_rc = v.rc;
        cli_fail_silent = g_rank != v.low;
    }
    return v;
}

/* agree inside a hook, on `st`: the reporting rank's error names it when
 * not every rank failed; the others fail silently */
static bl_status agree_status(bl_status st, bl_error *err)
{
    int rc = st ? bl_status_exit_code(st) : 0;
    verdict v = agree(st && !rc ? 1 : rc);
    if (!v.nbad)
        return BL_OK;
    if (g_rank == v.low && v.nbad < g_size)
        bl_error_prefix(err, "MPI rank %d of %d: ", g_rank, g_size);
    if (!st)
        st = bl_error_set(err, BL_EINTERNAL, "MPI rank %d failed; nothing written", v.low);
    return st;
}

/* a hook entered after the ranks agreed on a failure (or agreeing now that
 * one failed outside the hooks) fails at once: no rank is waiting */
static int failed_before(void)
{
    return g_agreed || agree(0).nbad;
}

/* ---- per-rank phase times (BL_MPI_TIMES=1, docs/scale.md) ----
 * Wall and CPU seconds of each rank's phases, printed by every rank at
 * the end: what a projection to more nodes is made from. */
enum { PH_READ, PH_PLAN, PH_SHARE, PH_MERGE, PH_N };
static const char *const ph_name[PH_N] = {"read", "plan", "share", "merge"};
static double g_ph_wall[PH_N], g_ph_cpu[PH_N], g_ph_t0, g_ph_c0;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void phase_start(void)
{
    g_ph_t0 = clock_s(CLOCK_MONOTONIC);
    g_ph_c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void phase_end(int ph)
{
    g_ph_wall[ph] += clock_s(CLOCK_MONOTONIC) - g_ph_t0;
    g_ph_cpu[ph] += clock_s(CLOCK_PROCESS_CPUTIME_ID) - g_ph_c0;
}

static void phase_report(void)
{
    const char *v = getenv("BL_MPI_TIMES");
    if (!v || strcmp(v, "1"))
        return;
    char line[512];
    int k = snprintf(line, sizeof line, "blindlink-mpi: rank %d of %d:", g_rank, g_size);
    for (int ph = 0; ph < PH_N && k > 0 && (size_t)k < sizeof line; ph++)
        k += snprintf(line + k, sizeof line - (size_t)k, " %s %.2f s (%.2f CPU s)%s", ph_name[ph],
                      g_ph_wall[ph], g_ph_cpu[ph], ph + 1 < PH_N ? "," : "");
    fprintf(stderr, "%s\n", line);
}

static void send_share(const bl_candidate *c, size_t n)
{
    const char *p = (const char *)c;
    size_t bytes = n * sizeof *c;
    for (size_t off = 0; off < bytes; off += CHUNK_BYTES) {
        size_t m = bytes - off < CHUNK_BYTES ? bytes - off : CHUNK_BYTES;
        /* blocking: over TCP a large send only advances inside MPI calls,
         * so the sleeps of idle_wait would throttle it (and rank 0 is
         * receiving by now: nothing needs this core) */
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

/* Inputs: rank 0 reads every file whole (it verifies the checksums,
 * samples the data for the LSH plan, and writes ids and statistics); the
 * other ranks learn the record counts from it and read only the rows
 * their share compares (bl_match_part_rows, bl_clkset_read_rows): for two
 * parties and exhaustive matching, their slice of the first and all of the
 * second; with LSH (a share is a range of tables) or external blocks (a
 * set of blocks) all rows, but no ids.
 * Every rank then learns whether any failed, so all fail together. */
static bl_status mpi_read_files(const char *const *paths, size_t n, bl_clkset **sets,
                                bl_error *err);

static bl_status mpi_read(const char *const *paths, size_t n, bl_clkset **sets, bl_error *err)
{
    phase_start();
    bl_status st = mpi_read_files(paths, n, sets, err);
    phase_end(PH_READ);
    return st;
}

static bl_status mpi_read_files(const char *const *paths, size_t n, bl_clkset **sets,
                                bl_error *err)
{
    /* a rank that failed before reading (say, on its options) */
    if (failed_before())
        return bl_error_set(err, BL_EINTERNAL, "another MPI rank failed; nothing written");
    bl_status st = BL_OK;
    size_t got = 0;
    size_t *counts = calloc(3 * n + 1, sizeof *counts), *first = counts + n, *last = first + n;
    if (!counts)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (size_t i = 0; i < n && !st; i++)
        if (strcmp(paths[i], "-") == 0)
            st = bl_error_set(err, BL_EINVAL,
                              "every MPI rank opens the inputs: read a file, "
                              "not '-' (stdin)");
    /* every table or block needs every row: then the other ranks read
     * theirs while rank 0 reads the files whole (and checks them); their
     * counts are compared with rank 0's below */
    for (; g_rank != 0 && g_allrows && !st && got < n; got++)
        st = bl_clkset_read_rows(paths[got], 0, SIZE_MAX, &sets[got], err);
    for (; g_rank == 0 && !st && got < n; got++) {
        st = bl_clkset_read(paths[got], BL_CLK_AUTO, 0, &sets[got], err);
        if (st)
            break;
        counts[got] = sets[got]->count;
    }
    int st0 = (int)st;
    bcast_idle(&st0, 1, MPI_INT);
    bcast_idle(counts, (int)(n * sizeof *counts), MPI_BYTE);
    /* rank 0 failed (with LSH the others may have failed on the same
     * missing file): the others fail with it, so rank 0 reports, naming
     * no rank, as for a failure of every rank */
    if (g_rank != 0 && st0 && !st)
        st = bl_error_set(err, (bl_status)st0, "MPI rank 0 could not read the inputs");
    if (g_rank != 0 && !st && !g_allrows)
        bl_match_part_rows(counts, n, (size_t)g_rank, (size_t)g_size, first, last);
    for (; g_rank != 0 && !st && got < n; got++)
        st = bl_clkset_read_rows(paths[got], first[got], last[got], &sets[got], err);
    for (size_t i = 0; g_rank != 0 && !st && i < got; i++)
        if (sets[i]->count != counts[i]) /* the file changed under us */
            st = bl_error_set(err, BL_EINPUT, "%s: %zu records on rank %d but %zu on rank 0",
                              paths[i], sets[i]->count, g_rank, counts[i]);
    free(counts);
    /* an input that cannot be read exits 2, as in match in one process */
    st = cli_input_status(st, err);
    /* the lowest failing rank says why, the others fail silently */
    st = agree_status(st, err);
    if (st)
        for (size_t i = 0; i < got; i++)
            bl_clkset_free(sets[i]);
    else
        cap_begin(); /* match checks the inputs and sets up blocking */
    return st;
}

/* the LSH plan samples rows anywhere in the inputs: rank 0 (which holds
 * them all) computes it, the others receive it */
static int mpi_plan(const bl_clkset *const *sets, size_t nsets, double threshold, double recall,
                    bl_lsh_keep keep, uint32_t *tables, uint32_t *bits, double *share)
{
    /* a rank that failed since reading (a check of the inputs, the
     * blocking key): no plan; the candidate step fails at once */
    if (failed_before()) {
        cap_begin(); /* what match prints until then is dropped */
        *tables = *bits = 0;
        if (share)
            *share = 1;
        return 0;
    }
    phase_start();
    double v[4] = {0, 0, 0, 0};
    if (g_rank == 0) {
        uint32_t t = 0, b = 0;
        double sh = 0;
        v[0] = bl_blocking_lsh_plan_keep(sets, nsets, threshold, recall, keep, &t, &b, &sh);
        v[1] = t;
        v[2] = b;
        v[3] = sh;
    }
    bcast_idle(v, 4, MPI_DOUBLE);
    phase_end(PH_PLAN);
    cap_begin(); /* match sets up the blocking */
    *tables = (uint32_t)v[1];
    *bits = (uint32_t)v[2];
    if (share)
        *share = v[3];
    return (int)v[0];
}

static bl_status mpi_candidates(const bl_clkset *const *sets, size_t nsets, const bl_match_opts *mo,
                                bl_candidate **out, size_t *count, int *writer, bl_error *err)
{
    /* a rank that failed since reading (a check of the inputs, the
     * blocking key or files) */
    if (failed_before())
        return bl_error_set(err, BL_EINTERNAL, "another MPI rank failed; nothing written");
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
    phase_start();
    bl_status st =
        bl_match_candidates_part(sets, nsets, &o, (size_t)g_rank, (size_t)g_size, &mine, &n, err);
    phase_end(PH_SHARE);
    if (!st && test_fails())
        st = bl_error_set(err, BL_ENOMEM, "out of memory (BL_MPI_TEST_FAIL_RANK)");
    maybe_die();
    /* every rank learns whether any failed; the lowest failing one says why
     * (the cap, memory): once, not once per rank */
    st = agree_status(st, err);
    if (st) {
        free(mine);
        return st;
    }
    /* rank 0 merges, solves and writes alone; the others wait for its
     * exit status at the end of main */
    g_cands_done = 1;
    unsigned long long mycount = n, *counts = NULL;
    if (g_rank == 0 && !(counts = calloc((size_t)g_size, sizeof *counts)))
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Request rq;
    MPI_Igather(&mycount, 1, MPI_UNSIGNED_LONG_LONG, counts, 1, MPI_UNSIGNED_LONG_LONG, 0,
                MPI_COMM_WORLD, &rq);
    idle_wait(&rq);
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
    phase_start();
    st = bl_match_candidates_merge(sets, nsets, mo, all, &tot, err);
    phase_end(PH_MERGE);
    if (st) {
        free(all);
        return st;
    }
    *writer = 1;
    *out = all;
    *count = tot;
    return BL_OK;
}

/* --model (or an abbreviation getopt would take for it) in argv: the
 * Fellegi-Sunter path of match has no distributed candidate step */
static int wants_model(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--"); i++) {
        size_t n = strcspn(argv[i], "=");
        if (n >= 4 && n <= 7 && strncmp(argv[i], "--model", n) == 0)
            return 1;
    }
    return 0;
}

/* --blocking lsh / --blocking=lsh, or --blocks F / --blocks=F (getopt
 * takes no shorter spelling: "--block" is ambiguous with --blocks,
 * --blocking-report, ...): the shares need every row */
static int wants_all_rows(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--blocking=lsh") || !strcmp(argv[i], "--blocks") ||
            !strncmp(argv[i], "--blocks=", 9) ||
            (!strcmp(argv[i], "--blocking") && i + 1 < argc && !strcmp(argv[i + 1], "lsh")))
            return 1;
    return 0;
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
    g_allrows = wants_all_rows(argc, argv);
    if (wants_model(argc, argv)) {
        if (g_rank == 0)
            fprintf(stderr, "blindlink-mpi: --model runs in one process: use blindlink match "
                            "--model (the threshold matcher is the distributed one)\n");
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
    cli_match_read_hook = mpi_read;
    cli_match_plan_hook = mpi_plan;
    /* stderr is captured on every rank until the first agreement point */
    g_errfd = dup(STDERR_FILENO);
    g_capfd = g_errfd < 0 ? -1 : memfd_create("blindlink-mpi-stderr", MFD_CLOEXEC);
    cap_begin();
    int rc = cmd_match(argc - 1, argv + 1);
    cap_pause();
    if (g_cands_done) {
        /* rank 0 merged, solved and wrote (and reported any failure):
         * every rank exits with its status */
        int rc0 = rc;
        bcast_idle(&rc0, 1, MPI_INT);
        if (g_rank != 0)
            rc = rc0;
    } else if (!g_agreed) {
        /* a failure outside the hooks (options, input checks, blocking
         * key or files), or none (--help): the others wait at their next
         * agreement point, or are here too */
        verdict v = agree(rc);
        if (v.nbad)
            rc = v.rc;
    } else {
        rc = g_rc;
    }
    cap_flush(0, 0);
    if (g_capfd >= 0)
        close(g_capfd);
    if (g_errfd >= 0)
        close(g_errfd);
    if (g_progress_fd >= 0)
        close(g_progress_fd);
    phase_report();
    MPI_Finalize();
    return rc;
}
