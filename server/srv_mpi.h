/* server/srv_mpi.h - `blindlink serve --mpi-launch` (issue 15): a run's
 * candidate step executed by blindlink-mpi under an MPI launcher
 * (server/mpirun.c). Internal to the service. */
#ifndef BLINDLINK_SRV_MPI_H
#define BLINDLINK_SRV_MPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <blindlink/match.h>
#include <blindlink/server.h>

/** Split a launch string into words (the rule is documented in
 *  docs/service.md): blanks separate words; '...' is literal; "..." keeps
 *  blanks, with \" and \\ as escapes; outside quotes a backslash takes the
 *  next character literally; unquoted | ; & < > ` $ ( ) are refused (no
 *  shell runs). On success `*out` is a NULL-terminated malloc'd array of
 *  malloc'd words (srv_mpi_words_free). */
bl_status srv_mpi_split(const char *s, char ***out, size_t *n, bl_error *err) BL_WUR;
void srv_mpi_words_free(char **w);

/** At service start: check the launch string and clear work directories
 *  left by a crash (DATA_DIR/mpi/). BL_OK when no launcher is configured. */
bl_status srv_mpi_check(const bl_server_opts *o, bl_error *err) BL_WUR;

/** 1 when a run of `comparisons` pairs goes through the launcher. */
int srv_mpi_wanted(const bl_server_opts *o, uint64_t comparisons);

/** A local process under the launcher (from /proc/PID/stat). Open MPI's
 *  mpirun puts every local rank in a process group of its own, so a signal
 *  to the launcher's group misses the ranks, and a launcher killed with
 *  SIGKILL leaves them running (reparented, out of reach of its group).
 *  They are tracked by pid and start time (field 22, clock ticks after
 *  boot): a pid reused later is not the same process. */
typedef struct srv_mpi_proc {
    pid_t pid, ppid;
    unsigned long long start;
    char state;
} srv_mpi_proc;

/** Parse the text of /proc/PID/stat into `*e` (pid given); 0 on success. */
int srv_mpi_parse_stat(const char *buf, pid_t pid, srv_mpi_proc *e);

/** Add to `v` (`*n` of at most `cap`) the processes of the listing `all`
 *  (`na`, one per pid; sorted by pid in place) descended from `root` and not
 *  in it yet. Parent links are followed only through the root and the
 *  recorded processes that the listing shows with the same start time: a
 *  recorded process whose pid was reused by another does not widen the set. */
void srv_mpi_descendants(const srv_mpi_proc *root, srv_mpi_proc *all, size_t na, srv_mpi_proc *v,
                         size_t *n, size_t cap);

/** What srv_mpi_candidates returns. */
enum { SRV_MPI_OK = 0, SRV_MPI_FAILED = 1, SRV_MPI_STOPPED = 2 };

/** Write the (consented) sets without ids into DATA_DIR/mpi/RID/, launch
 *  `LAUNCHER... PROGRAM match ... -f anonlink -o OUT INPUTS` and read the
 *  candidates back (the same result as bl_match_candidates with `mo`).
 *  `stop(ctx)` is polled while it runs: non-zero kills the launcher's
 *  process group and returns SRV_MPI_STOPPED. Progress (rank 0's share,
 *  scaled to `comparisons`) goes to mo->progress. On failure `msg` says why
 *  (the launcher's exit status and the line of its output that explains it). */
int srv_mpi_candidates(const bl_server_opts *o, const char *rid, const bl_clkset *const *sets,
                       size_t nsets, const bl_match_opts *mo, uint64_t comparisons,
                       int (*stop)(void *), void *ctx, bl_candidate **out, size_t *count, char *msg,
                       size_t msgcap);

#endif
