/* server/mpirun.c - `blindlink serve --mpi-launch "mpirun -n 8 --hostfile H"`
 * (issue 15): the candidate step of a large run executed by blindlink-mpi
 * under the site's MPI launcher, so that a run can use more than one
 * machine. The run's consented encodings (without ids: the ranks need only
 * the filters) are written to DATA_DIR/mpi/RUN/, the launcher is started
 * with posix_spawnp on words split without a shell, its exit is polled
 * together with the run's cancel flag (a cancel or a service stop kills
 * the launcher's process group: mpirun then tears the job down on every
 * node; local ranks that outlive it, in process groups of their own, are
 * killed by pid), and the candidates come back in anonlink's binary format, whose
 * scores are the exact doubles. The launcher's stdout/stderr go to a log in
 * that directory; a failure quotes the line that explains it. The work
 * directory is removed when the run ends, and at the next start after a
 * crash. With a hostfile, DATA_DIR and blindlink-mpi must be reachable at
 * the same paths on every node (a shared file system). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <blindlink/clk.h>
#include "srv_mpi.h"

extern char **environ;

void srv_mpi_words_free(char **w)
{
    for (size_t i = 0; w && w[i]; i++)
        free(w[i]);
    free(w);
}

static int push_word(char ***w, size_t *n, const char *buf, size_t len)
{
    char **nw = realloc(*w, (*n + 2) * sizeof *nw);
    if (!nw)
        return -1;
    *w = nw;
    if (!(nw[*n] = strndup(buf, len)))
        return -1;
    nw[++*n] = NULL;
    return 0;
}

/* one word starting at s[*i] (not a blank) into buf */
static bl_status scan_word(const char *s, size_t *i, char *buf, size_t *len, bl_error *err)
{
    char q = 0;
    *len = 0;
    for (; s[*i]; ++*i) {
        char ch = s[*i];
        if (!q && (ch == ' ' || ch == '\t' || ch == '\n'))
            break;
        if (!q && (ch == '\'' || ch == '"')) {
            q = ch;
        } else if (q && ch == q) {
            q = 0;
        } else if (ch == '\\' && q != '\'') {
            char nx = s[*i + 1];
            if (!nx || (q == '"' && nx != '"' && nx != '\\')) {
                if (!nx)
                    return bl_error_set(err, BL_EINPUT, "--mpi-launch: trailing backslash");
                buf[(*len)++] = ch; /* "\x" inside double quotes keeps the backslash */
                continue;
            }
            buf[(*len)++] = nx;
            ++*i;
        } else if (!q && strchr("|;&<>`$()", ch)) {
            return bl_error_set(err, BL_EINPUT,
                                "--mpi-launch: '%c' is shell syntax, but no shell runs the "
                                "launcher (quote it to pass it literally)",
                                ch);
        } else {
            buf[(*len)++] = ch;
        }
    }
    if (q)
        return bl_error_set(err, BL_EINPUT, "--mpi-launch: unterminated %c quote", q);
    return BL_OK;
}

bl_status srv_mpi_split(const char *s, char ***out, size_t *n, bl_error *err)
{
    *out = NULL;
    *n = 0;
    char *buf = malloc(strlen(s) + 1);
    char **w = calloc(1, sizeof *w);
    if (!buf || !w) {
        free(buf);
        free(w);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    size_t i = 0, nw = 0, len;
    while (s[i]) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
            i++;
            continue;
        }
        bl_status st = scan_word(s, &i, buf, &len, err);
        if (!st && push_word(&w, &nw, buf, len))
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
        if (st) {
            free(buf);
            srv_mpi_words_free(w);
            return st;
        }
    }
    free(buf);
    if (nw == 0) {
        srv_mpi_words_free(w);
        return bl_error_set(err, BL_EINPUT, "--mpi-launch: empty launcher command");
    }
    *out = w;
    *n = nw;
    return BL_OK;
}

static void rm_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

bl_status srv_mpi_check(const bl_server_opts *o, bl_error *err)
{
    if (!o->mpi_launch)
        return BL_OK;
    char **w;
    size_t n;
    bl_status st = srv_mpi_split(o->mpi_launch, &w, &n, err);
    if (st)
        return st;
    srv_mpi_words_free(w);
    /* work directories of runs interrupted by a crash: the runs resume
     * and write theirs afresh */
    char top[4096], p[4096 + 300];
    snprintf(top, sizeof top, "%s/mpi", o->data_dir);
    DIR *d = opendir(top);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", top, e->d_name);
            rm_flat_dir(p);
        }
    if (d)
        closedir(d);
    return BL_OK;
}

int srv_mpi_wanted(const bl_server_opts *o, uint64_t comparisons)
{
    return o->mpi_launch && comparisons >= o->mpi_min_pairs;
}

/* the blindlink-mpi to launch: as configured, else next to this program */
static void program_path(const bl_server_opts *o, char *buf, size_t cap)
{
    if (o->mpi_program) {
        snprintf(buf, cap, "%s", o->mpi_program);
        return;
    }
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k > 0) {
        self[k] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            int w = snprintf(buf, cap, "%s/blindlink-mpi", self);
            if (w > 0 && (size_t)w < cap && access(buf, X_OK) == 0)
                return;
        }
    }
    snprintf(buf, cap, "blindlink-mpi");
}

/* The service's environment minus what looks like a secret (the audit
 * key's environment variable, tokens): the launcher and the ranks need
 * none of it. */
static char **child_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(nl < 255 ? nl : 255), environ[i]);
        if (strstr(name, "KEY") || strstr(name, "SECRET") || strstr(name, "TOKEN") ||
            strstr(name, "PASSWORD"))
            continue;
        env[k++] = environ[i];
    }
    return env;
}

/* the line of the launcher's log that says why it failed: our own
 * ("blindlink match: ...", "blindlink-mpi: ..."), else the last with a
 * letter (mpirun's "... exited on signal 9 (Killed)." comes before a rule) */
static void log_reason(const char *log, char *out, size_t cap)
{
    snprintf(out, cap, "no output");
    FILE *fp = fopen(log, "r");
    if (!fp)
        return;
    char line[512];
    int ours = 0;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\r\n")] = 0;
        int mine = strncmp(line, "blindlink", 9) == 0;
        int letter = 0;
        for (const char *p = line; *p && !letter; p++)
            letter = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
        if ((mine && !ours) || (letter && !ours && !mine))
            if (snprintf(out, cap, "%s", line) >= (int)cap)
                out[cap - 1] = 0; /* a long line is cut */
        ours |= mine;
    }
    fclose(fp);
}

typedef struct mpi_job {
    char dir[4096];
    char path[4096 + 64];
    char **argv;
    size_t argc, cap;
} mpi_job;

static int arg_add(mpi_job *m, const char *s)
{
    if (m->argc + 2 > m->cap) {
        size_t nc = m->cap ? 2 * m->cap : 32;
        char **v = realloc(m->argv, nc * sizeof *v);
        if (!v)
            return -1;
        m->argv = v;
        m->cap = nc;
    }
    if (!(m->argv[m->argc] = strdup(s)))
        return -1;
    m->argv[++m->argc] = NULL;
    return 0;
}

static const char *job_file(mpi_job *m, const char *name)
{
    snprintf(m->path, sizeof m->path, "%s/%s", m->dir, name);
    return m->path;
}

/* the work directory with the inputs (no ids) and the command line */
static int job_prepare(mpi_job *m, const bl_server_opts *o, const char *rid,
                       const bl_clkset *const *sets, size_t nsets, const bl_match_opts *mo,
                       char *msg, size_t msgcap)
{
    char top[4096], num[64], abs[PATH_MAX];
    /* absolute paths: remote ranks do not share the service's cwd */
    const char *dd = realpath(o->data_dir, abs) ? abs : o->data_dir;
    if (snprintf(top, sizeof top, "%s/mpi", dd) >= (int)sizeof top ||
        snprintf(m->dir, sizeof m->dir, "%s/%s", top, rid) >= (int)sizeof m->dir) {
        snprintf(msg, msgcap, "MPI matching: data directory path too long");
        return -1;
    }
    rm_flat_dir(m->dir);
    if ((mkdir(top, 0700) && errno != EEXIST) || mkdir(m->dir, 0700)) {
        snprintf(msg, msgcap, "MPI matching: cannot create %s: %s", m->dir, strerror(errno));
        return -1;
    }
    char **w;
    size_t nw;
    bl_error e = {0};
    if (srv_mpi_split(o->mpi_launch, &w, &nw, &e)) {
        snprintf(msg, msgcap, "%s", e.msg);
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < nw; i++)
        bad |= arg_add(m, w[i]);
    srv_mpi_words_free(w);
    char prog[4096];
    program_path(o, prog, sizeof prog);
    bad |= arg_add(m, prog) | arg_add(m, "match") | arg_add(m, "--progress-file") |
           arg_add(m, job_file(m, "progress")) | arg_add(m, "-q") | arg_add(m, "-s") |
           arg_add(m, "none") | arg_add(m, "-f") | arg_add(m, "anonlink") | arg_add(m, "-t") |
           arg_add(m, bl_format_double(mo->threshold, num));
    if (mo->top_k) {
        snprintf(num, sizeof num, "%u", mo->top_k);
        bad |= arg_add(m, "-k") | arg_add(m, num);
    }
    snprintf(num, sizeof num, "%zu",
             mo->max_candidates ? mo->max_candidates : BL_MATCH_DEFAULT_MAX_CANDIDATES);
    bad |= arg_add(m, "--max-candidates") | arg_add(m, num);
    if (mo->threads > 0) {
        snprintf(num, sizeof num, "%d", mo->threads);
        bad |= arg_add(m, "--threads") | arg_add(m, num);
    }
    bad |= arg_add(m, "-o") | arg_add(m, job_file(m, "candidates.bin"));
    for (size_t i = 0; i < nsets && !bad; i++) {
        char name[32];
        snprintf(name, sizeof name, "party-%zu.clk", i);
        bad |= arg_add(m, job_file(m, name));
        if (bl_clkset_write(sets[i], m->path, BL_CLK_BIN, 0, &e)) {
            snprintf(msg, msgcap, "MPI matching: cannot write the inputs: %s", e.msg);
            return -1;
        }
    }
    if (bad)
        snprintf(msg, msgcap, "MPI matching: out of memory");
    return bad ? -1 : 0;
}

static int job_spawn(mpi_job *m, pid_t *pid, char *msg, size_t msgcap)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, job_file(m, "launcher.log"),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* its own process group (so a cancel reaches mpirun and its local
     * daemons), default signal dispositions and an empty mask: the
     * service ignores SIGPIPE and blocks SIGTERM in its threads */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    char **env = child_env();
    int rc = env ? posix_spawnp(pid, m->argv[0], &fa, &at, m->argv, env) : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc)
        snprintf(msg, msgcap, "MPI matching: cannot start the launcher '%s': %s", m->argv[0],
                 strerror(rc));
    return rc ? -1 : 0;
}

static void job_progress(mpi_job *m, const bl_match_opts *mo, uint64_t comparisons)
{
    char buf[96] = {0};
    int fd = open(job_file(m, "progress"), O_RDONLY);
    if (fd < 0)
        return;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    unsigned long long done, total;
    if (k > 0 && sscanf(buf, "%llu %llu", &done, &total) == 2 && total && done <= total &&
        mo->progress)
        mo->progress(mo->progress_ctx, (uint64_t)((double)comparisons * done / total), comparisons);
}

int srv_mpi_parse_stat(const char *buf, pid_t pid, srv_mpi_proc *e)
{
    const char *p = strrchr(buf, ')'); /* the name may hold blanks and parentheses */
    int ppid;
    char state;
    unsigned long long start;
    /* after the name: state ppid, then 17 fields up to starttime (field 22) */
    if (!p || sscanf(p + 1, " %c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                            "%*s %*s %llu",
                     &state, &ppid, &start) != 3)
        return -1;
    e->pid = pid;
    e->ppid = ppid;
    e->start = start;
    e->state = state;
    return 0;
}

/* pid's parent, start time and state from /proc/PID/stat; 0 on success */
static int proc_stat(pid_t pid, srv_mpi_proc *e)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    size_t k = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[k] = 0;
    return srv_mpi_parse_stat(buf, pid, e);
}

static int same_proc(const srv_mpi_proc *a, const srv_mpi_proc *b)
{
    return a->pid == b->pid && a->start == b->start;
}

static int has_proc(const srv_mpi_proc *v, size_t n, const srv_mpi_proc *p)
{
    for (size_t i = 0; i < n; i++)
        if (same_proc(&v[i], p))
            return 1;
    return 0;
}

static int proc_pid_cmp(const void *x, const void *y)
{
    const srv_mpi_proc *a = x, *b = y;
    return (a->pid > b->pid) - (a->pid < b->pid);
}

void srv_mpi_descendants(const srv_mpi_proc *root, srv_mpi_proc *all, size_t na, srv_mpi_proc *v,
                         size_t *n, size_t cap)
{
    char *mark = calloc(na ? na : 1, 1);
    if (!mark)
        return;
    qsort(all, na, sizeof *all, proc_pid_cmp);
    /* marked: the root and what is recorded, each still the same process
     * (pid and start time) in this listing; a pid reused by another
     * process is unmarked, and so are its children */
    for (size_t i = 0; i < na; i++)
        mark[i] = same_proc(&all[i], root) || has_proc(v, *n, &all[i]);
    /* closure over parent links: a pass per generation */
    for (int grew = 1; grew;) {
        grew = 0;
        for (size_t i = 0; i < na && *n < cap; i++) {
            if (mark[i])
                continue;
            srv_mpi_proc key = {.pid = all[i].ppid};
            const srv_mpi_proc *par = bsearch(&key, all, na, sizeof *all, proc_pid_cmp);
            if (par && mark[par - all]) {
                mark[i] = 1;
                v[(*n)++] = all[i];
                grew = 1;
            }
        }
    }
    free(mark);
}

/* adds to v (at most cap) the live descendants of root not yet in it */
static void add_descendants(const srv_mpi_proc *root, srv_mpi_proc *v, size_t *n, size_t cap)
{
    size_t na = 0, nmax = 8192;
    srv_mpi_proc *all = malloc(nmax * sizeof *all);
    DIR *d = all ? opendir("/proc") : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) && na < nmax) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (!*end && pid > 0 && proc_stat((pid_t)pid, &all[na]) == 0)
            na++;
    }
    if (d)
        closedir(d);
    srv_mpi_descendants(root, all, na, v, n, cap);
    free(all);
}

/* SIGKILL to every recorded descendant still alive (and the group it
 * leads), then a short wait until they are gone (a zombie counts as gone) */
static void kill_descendants(const srv_mpi_proc *v, size_t n)
{
    struct timespec tick = {0, 20 * 1000 * 1000};
    for (int round = 0; round < 50; round++) {
        int alive = 0;
        for (size_t i = 0; i < n; i++) {
            srv_mpi_proc now; /* the recorded process, not one that took its pid */
            if (proc_stat(v[i].pid, &now) || !same_proc(&now, &v[i]) || now.state == 'Z')
                continue;
            alive = 1;
            if (round == 0) {
                if (getpgid(v[i].pid) == v[i].pid)
                    kill(-v[i].pid, SIGKILL);
                kill(v[i].pid, SIGKILL);
            }
        }
        if (!alive)
            return;
        nanosleep(&tick, NULL);
    }
}

#define MAX_TRACKED 1024

/* Stops the launcher: SIGTERM to its group (mpirun forwards it to the job
 * on every node), SIGKILL after 3 s; then SIGKILL to whatever local
 * descendant outlived it. The descendants are recorded while the launcher
 * lives, since they are reparented when it exits. */
static void job_kill(pid_t pid, int *ws)
{
    struct timespec tick = {0, 100 * 1000 * 1000};
    srv_mpi_proc *kids = malloc(MAX_TRACKED * sizeof *kids), root = {.pid = pid};
    size_t nk = 0, cap = kids ? MAX_TRACKED : 0;
    /* the launcher is our unreaped child: its pid stays its own meanwhile */
    if (proc_stat(pid, &root))
        cap = 0;
    add_descendants(&root, kids, &nk, cap);
    kill(-pid, SIGTERM);
    int gone = 0;
    for (int i = 0; i < 30 && !gone; i++) {
        add_descendants(&root, kids, &nk, cap); /* ranks started late */
        if (!(gone = waitpid(pid, ws, WNOHANG) == pid))
            nanosleep(&tick, NULL);
    }
    if (!gone) {
        kill(pid, SIGSTOP); /* no more children while the list is completed */
        add_descendants(&root, kids, &nk, cap);
        kill(-pid, SIGKILL);
        waitpid(pid, ws, 0);
    }
    kill_descendants(kids, nk);
    free(kids);
}

/* wait for the launcher, polling stop(); 0 exited (status in *ws), 1 stopped */
static int job_wait(mpi_job *m, pid_t pid, int *ws, const bl_match_opts *mo, uint64_t comparisons,
                    int (*stop)(void *), void *ctx)
{
    struct timespec tick = {0, 100 * 1000 * 1000};
    for (;;) {
        pid_t r = waitpid(pid, ws, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return 0;
        if (stop(ctx))
            break;
        job_progress(m, mo, comparisons);
        nanosleep(&tick, NULL);
    }
    job_kill(pid, ws);
    return 1;
}

int srv_mpi_candidates(const bl_server_opts *o, const char *rid, const bl_clkset *const *sets,
                       size_t nsets, const bl_match_opts *mo, uint64_t comparisons,
                       int (*stop)(void *), void *ctx, bl_candidate **out, size_t *count, char *msg,
                       size_t msgcap)
{
    mpi_job m;
    memset(&m, 0, sizeof m);
    *out = NULL;
    *count = 0;
    pid_t pid;
    int ws = 0, rc = SRV_MPI_FAILED;
    if (job_prepare(&m, o, rid, sets, nsets, mo, msg, msgcap) || job_spawn(&m, &pid, msg, msgcap))
        goto done;
    if (job_wait(&m, pid, &ws, mo, comparisons, stop, ctx)) {
        rc = SRV_MPI_STOPPED;
        goto done;
    }
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        char why[400], how[64];
        log_reason(job_file(&m, "launcher.log"), why, sizeof why);
        if (WIFSIGNALED(ws))
            snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(ws));
        else
            snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(ws));
        snprintf(msg, msgcap, "MPI matching failed: %s %s: %s", m.argv[0], how, why);
        goto done;
    }
    bl_error e = {0};
    size_t cap = mo->max_candidates ? mo->max_candidates : BL_MATCH_DEFAULT_MAX_CANDIDATES;
    if (bl_candidates_read_anonlink(job_file(&m, "candidates.bin"), cap, out, count, &e)) {
        snprintf(msg, msgcap, "MPI matching: cannot read the candidates back: %s", e.msg);
        goto done;
    }
    rc = SRV_MPI_OK;
done:
    if (m.dir[0])
        rm_flat_dir(m.dir);
    for (size_t i = 0; i < m.argc; i++)
        free(m.argv[i]);
    free(m.argv);
    return rc;
}
