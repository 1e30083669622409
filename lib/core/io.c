/* lib/core/io.c - atomic output files, secret loading into guarded memory, the
 * terminal progress bar, and small-file reading. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <blindlink/clk.h>
#include <blindlink/io.h>
#include "core/internal.h"

/* ---- atomic output ------------------------------------------------------- */

struct bl_ofile {
    FILE *fp;
    int is_stdout;
    int direct; /* an existing device, FIFO or socket: written in place */
    char *path; /* final path */
    char *tmp;  /* temp path in the same directory */
    char *dir;
    int slot;   /* index in live_tmp, or -1 */
};

/* Temp files of open bl_ofiles, so that SIGINT/SIGTERM/SIGHUP remove them
 * before the process dies (a killed `encode` must not leave a hidden
 * .OUT.XXXXXX of many megabytes behind). The handler may only use
 * async-signal-safe calls, so the paths live in fixed static slots (no
 * malloc'd memory that a thread could free under it) and a slot's state is
 * an atomic: 0 free, 1 being filled or emptied, 2 live. More than
 * LIVE_SLOTS simultaneous outputs still work, without the signal cleanup. */
#define LIVE_SLOTS 32
static struct {
    atomic_int state;
    char path[PATH_MAX];
} live_tmp[LIVE_SLOTS];
static pthread_once_t live_once = PTHREAD_ONCE_INIT;
static const int live_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void live_on_signal(int sig)
{
    for (int i = 0; i < LIVE_SLOTS; i++)
        if (atomic_load(&live_tmp[i].state) == 2)
            unlink(live_tmp[i].path);
    /* SA_RESETHAND restored the default action: die of the same signal */
    raise(sig);
}

/* Install the handler only where the program left the default action: a
 * program with its own handler (the server's graceful shutdown) or an
 * ignored signal (nohup) keeps it, and cleans up through bl_ofile_abort. */
static void live_install(void)
{
    for (size_t i = 0; i < sizeof live_signals / sizeof live_signals[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(live_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = live_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        (void)sigaction(live_signals[i], &sa, NULL);
    }
}

static int live_add(const char *tmp)
{
    if (strlen(tmp) >= PATH_MAX)
        return -1;
    pthread_once(&live_once, live_install);
    for (int i = 0; i < LIVE_SLOTS; i++) {
        int z = 0;
        if (atomic_compare_exchange_strong(&live_tmp[i].state, &z, 1)) {
            strcpy(live_tmp[i].path, tmp);
            atomic_store(&live_tmp[i].state, 2);
            return i;
        }
    }
    return -1;
}

static void live_remove(int slot)
{
    if (slot < 0)
        return;
    assert(slot < LIVE_SLOTS && atomic_load(&live_tmp[slot].state) == 2);
    atomic_store(&live_tmp[slot].state, 1);
    live_tmp[slot].path[0] = 0;
    atomic_store(&live_tmp[slot].state, 0);
}

/* the slots of bl_tmpfile_create's files: by path, as the caller keeps
 * only the path */
static void live_remove_path(const char *path)
{
    for (int i = 0; i < LIVE_SLOTS; i++)
        if (atomic_load(&live_tmp[i].state) == 2 && !strcmp(live_tmp[i].path, path)) {
            live_remove(i);
            return;
        }
}

bl_status bl_tmpfile_create(char *path, size_t cap, int *fd, bl_error *err)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    if ((size_t)snprintf(path, cap, "%s/blindlink.XXXXXX", dir) >= cap) {
        path[0] = '\0';
        return bl_error_set(err, BL_EINVAL, "TMPDIR is too long a path");
    }
    /* created and registered with the cleanup signals held off, as an
     * output's temp file (bl_ofile_open) */
    sigset_t block, prev;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof live_signals / sizeof live_signals[0]; i++)
        sigaddset(&block, live_signals[i]);
    pthread_sigmask(SIG_BLOCK, &block, &prev);
    *fd = mkstemp(path);
    if (*fd >= 0)
        (void)live_add(path); /* past LIVE_SLOTS: removed at the end only */
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (*fd < 0) {
        int e = errno;
        path[0] = '\0';
        return bl_error_set(err, BL_EIO, "cannot create a temporary file in '%s': %s", dir,
                            strerror(e));
    }
    return BL_OK;
}

void bl_tmpfile_remove(const char *path)
{
    if (!path || !path[0])
        return;
    /* unlinked first: a signal in between finds the slot still live and
     * unlinks a path that is gone, harmless; the other order could leave
     * the file behind (as bl_ofile_abort) */
    unlink(path);
    live_remove_path(path);
}

bl_status bl_ofile_open(const char *path, bl_ofile **out, bl_error *err)
{
    *out = NULL;
    bl_ofile *f = calloc(1, sizeof *f);
    if (!f)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    f->slot = -1;
    if (!strcmp(path, "-")) {
        f->fp = stdout;
        f->is_stdout = 1;
        *out = f;
        return BL_OK;
    }
    char *d1 = strdup(path), *b1 = strdup(path);
    f->path = strdup(path);
    if (!d1 || !b1 || !f->path) {
        free(d1);
        free(b1);
        free(f->path);
        free(f);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    f->dir = strdup(dirname(d1));
    const char *base = basename(b1);
    size_t n = strlen(f->dir) + strlen(base) + 16;
    f->tmp = malloc(n);
    if (!f->dir || !f->tmp) {
        free(d1);
        free(b1);
        bl_ofile_abort(f);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    snprintf(f->tmp, n, "%s/.%s.XXXXXX", f->dir, base);
    free(d1);
    free(b1);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        bl_error_set(err, BL_EIO, "%s: is a directory", path);
        free(f->tmp);
        f->tmp = NULL;
        bl_ofile_abort(f);
        return BL_EIO;
    }
    /* A device or FIFO (-o /dev/null, -o /dev/stdout, a named pipe) is written
     * in place: a temp file renamed over it would replace the node itself. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        free(f->tmp);
        f->tmp = NULL;
        f->direct = 1;
        f->fp = fopen(path, "wb");
        if (!f->fp) {
            int e = errno;
            bl_ofile_abort(f);
            return bl_error_set(err, BL_EIO, "%s: cannot open for writing: %s", path,
                                strerror(e));
        }
        *out = f;
        return BL_OK;
    }
    /* mkstemp creates the file 0600: outputs derived from personal data stay
     * private to the user unless they choose otherwise. The signals that
     * would remove the temp file are held off between its creation and its
     * registration, so no interrupt leaves it behind. */
    sigset_t block, prev;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof live_signals / sizeof live_signals[0]; i++)
        sigaddset(&block, live_signals[i]);
    pthread_sigmask(SIG_BLOCK, &block, &prev);
    int fd = mkstemp(f->tmp);
    if (fd >= 0)
        f->slot = live_add(f->tmp);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (fd < 0) {
        int e = errno;
        bl_error_set(err, BL_EIO, "%s: cannot create output file in '%s': %s", path, f->dir,
                     strerror(e));
        free(f->tmp);
        f->tmp = NULL;
        bl_ofile_abort(f);
        return BL_EIO;
    }
    f->fp = fdopen(fd, "w+b");
    if (!f->fp) {
        close(fd);
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    }
    *out = f;
    return BL_OK;
}

FILE *bl_ofile_stream(bl_ofile *f)
{
    return f->fp;
}

bl_status bl_ofile_commit(bl_ofile *f, bl_error *err)
{
    bl_status s = BL_OK;
    if (f->is_stdout) {
        if (fflush(stdout) != 0 || ferror(stdout))
            s = bl_error_set(err, BL_EIO, "<stdout>: write error: %s", strerror(errno));
        free(f);
        return s;
    }
    if (fflush(f->fp) != 0 || ferror(f->fp))
        s = bl_error_set(err, BL_EIO, "%s: write error: %s", f->path, strerror(errno));
    else if (f->direct)
        ; /* nothing to sync or rename */
    else if (fsync(fileno(f->fp)) != 0)
        s = bl_error_set(err, BL_EIO, "%s: fsync failed: %s", f->path, strerror(errno));
    if (fclose(f->fp) != 0 && s == BL_OK)
        s = bl_error_set(err, BL_EIO, "%s: close failed: %s", f->path, strerror(errno));
    f->fp = NULL;
    if (s == BL_OK && !f->direct && rename(f->tmp, f->path) != 0)
        s = bl_error_set(err, BL_EIO, "%s: cannot rename into place: %s", f->path,
                         strerror(errno));
    if (s == BL_OK && !f->direct) {
        live_remove(f->slot); /* after the rename: a signal now unlinks nothing */
        f->slot = -1;
        free(f->tmp);
        f->tmp = NULL;
        int dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd); /* best effort: some filesystems refuse dir fsync */
            close(dfd);
        }
    }
    bl_ofile_abort(f);
    return s;
}

void bl_ofile_abort(bl_ofile *f)
{
    if (!f)
        return;
    if (f->fp && !f->is_stdout)
        fclose(f->fp);
    if (f->tmp)
        unlink(f->tmp);
    live_remove(f->slot);
    free(f->tmp);
    free(f->path);
    free(f->dir);
    free(f);
}

/* ---- secrets --------------------------------------------------------------- */

#define SECRET_MAX (64 * 1024)

bl_status bl_secret_from_bytes(const void *buf, size_t len, bl_secret *out, bl_error *err)
{
    out->bytes = NULL;
    out->len = 0;
    if (len == 0)
        return bl_error_set(err, BL_EINVAL, "the secret is empty");
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    out->bytes = sodium_malloc(len);
    if (!out->bytes)
        return bl_error_set(err, BL_ENOMEM, "cannot allocate guarded memory for the secret");
    memcpy(out->bytes, buf, len);
    out->len = len;
    return BL_OK;
}

bl_status bl_secret_load(const char *file, const char *env_name, bl_secret *out,
                         bl_error *err)
{
    out->bytes = NULL;
    out->len = 0;
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    if (file) {
        int fd = open(file, O_RDONLY);
        if (fd < 0)
            return bl_error_set(err, BL_EINVAL, "secret file '%s': %s", file, strerror(errno));
        unsigned char *buf = sodium_malloc(SECRET_MAX + 1);
        if (!buf) {
            close(fd);
            return bl_error_set(err, BL_ENOMEM, "cannot allocate guarded memory for the secret");
        }
        size_t n = 0;
        for (;;) {
            ssize_t r = read(fd, buf + n, SECRET_MAX + 1 - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                int e = errno;
                close(fd);
                sodium_free(buf);
                return bl_error_set(err, BL_EIO, "secret file '%s': %s", file, strerror(e));
            }
            if (r == 0)
                break;
            n += (size_t)r;
            if (n > SECRET_MAX) {
                close(fd);
                sodium_free(buf);
                return bl_error_set(err, BL_EINVAL, "secret file '%s' is larger than %d bytes",
                                    file, SECRET_MAX);
            }
        }
        close(fd);
        /* one trailing newline is an artefact of `echo`, not part of the secret */
        if (n > 0 && buf[n - 1] == '\n')
            n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
        if (n == 0) {
            sodium_free(buf);
            return bl_error_set(err, BL_EINVAL, "secret file '%s' is empty", file);
        }
        bl_status s = bl_secret_from_bytes(buf, n, out, err);
        sodium_free(buf); /* sodium_free wipes */
        return s;
    }
    if (env_name) {
        char *v = getenv(env_name);
        if (v && *v) {
            bl_status s = bl_secret_from_bytes(v, strlen(v), out, err);
            /* wipe our process's copy so it does not linger in memory dumps */
            sodium_memzero(v, strlen(v));
            unsetenv(env_name);
            return s;
        }
        return bl_error_set(err, BL_EINVAL,
                            "no secret given: use --secret-file FILE or set %s", env_name);
    }
    return bl_error_set(err, BL_EINVAL, "no secret given: use --secret-file FILE");
}

void bl_secret_free(bl_secret *s)
{
    if (!s)
        return;
    if (s->bytes)
        sodium_free(s->bytes);
    s->bytes = NULL;
    s->len = 0;
}

/* ---- progress -------------------------------------------------------------- */

struct bl_progress {
    int active;
    char label[48];
    uint64_t total, done;
    double start, last_draw;
    pthread_mutex_t mu;
};

/* the one monotonic clock of the toolkit (library, CLI, benchmarks, tests) */
uint64_t bl_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bl_clock_s(void)
{
    return (double)bl_clock_ns() / 1e9;
}

bl_progress *bl_progress_new(const char *label, uint64_t total)
{
    bl_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->active = isatty(STDERR_FILENO) && !getenv("BL_NO_PROGRESS");
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    p->start = bl_clock_s();
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

static void fmt_count(char *buf, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(buf, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, n, "%.1fK", v / 1e3);
    else
        snprintf(buf, n, "%.0f", v);
}

static void draw(bl_progress *p, double t)
{
    double el = t - p->start;
    double rate = el > 0 ? (double)p->done / el : 0;
    char d[16], tot[16], r[16];
    fmt_count(d, sizeof d, (double)p->done);
    fmt_count(r, sizeof r, rate);
    if (p->total) {
        fmt_count(tot, sizeof tot, (double)p->total);
        double frac = (double)p->done / (double)p->total;
        if (frac > 1)
            frac = 1;
        int width = 24, fill = (int)(frac * width);
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        double eta = rate > 0 ? (double)(p->total - (p->done < p->total ? p->done : p->total)) / rate : 0;
        fprintf(stderr, "\r%s [%s] %5.1f%% %s/%s %s/s ETA %02d:%02d ", p->label, bar, frac * 100,
                d, tot, r, (int)(eta / 60), (int)eta % 60);
    } else {
        fprintf(stderr, "\r%s %s done, %s/s, %02d:%02d elapsed ", p->label, d, r, (int)(el / 60),
                (int)el % 60);
    }
    fflush(stderr);
}

void bl_progress_update(bl_progress *p, uint64_t done)
{
    if (!p || !p->active)
        return;
    pthread_mutex_lock(&p->mu);
    if (done > p->done)
        p->done = done;
    double t = bl_clock_s();
    if (t - p->last_draw >= 0.1) {
        p->last_draw = t;
        draw(p, t);
    }
    pthread_mutex_unlock(&p->mu);
}

void bl_progress_finish(bl_progress *p)
{
    if (!p)
        return;
    if (p->active) {
        draw(p, bl_clock_s());
        fputc('\n', stderr);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---- small files ------------------------------------------------------------ */

bl_status bl_write_file(const char *path, const void *buf, size_t len, bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st != BL_OK)
        return st;
    if (len && fwrite(buf, 1, len, bl_ofile_stream(f)) != len) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}

bl_status bl_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                       bl_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return bl_error_set(err, BL_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > max_bytes + 1) {
                free(buf);
                fclose(fp);
                return bl_error_set(err, BL_ELIMIT, "%s: larger than %zu bytes", path, max_bytes);
            }
            if (bli_grow((void **)&buf, &cap, cap + 1, 1, 4096) != 0) {
                free(buf);
                buf = NULL;
                break;
            }
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, fp);
        n += r;
        if (r == 0)
            break;
    }
    if (!buf) {
        fclose(fp);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    }
    if (ferror(fp)) {
        free(buf);
        fclose(fp);
        return bl_error_set(err, BL_EIO, "%s: read error", path);
    }
    fclose(fp);
    if (n > max_bytes) {
        free(buf);
        return bl_error_set(err, BL_ELIMIT, "%s: larger than %zu bytes", path, max_bytes);
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return BL_OK;
}

/* ---- what a file is, when it is not what was expected ---- */

/* Which of the project's JSON files an object is, by a key only that kind
 * has near its start (a hint for a message, not a parse): the model's
 * "blindlink_model", anonlink's "groups", clkhash's "clks", a schema's
 * "features". */
static const char *json_kind(const unsigned char *p, size_t n)
{
    static const struct {
        const char *key, *kind;
    } kinds[] = {
        {"\"blindlink_model\"", BLI_KIND_MODEL},
        {"\"groups\"", "groups JSON (match -f groups)"},
        {"\"clks\"", BLI_KIND_CLKS},
        {"\"features\"", BLI_KIND_SCHEMA},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (memmem(p, n, kinds[k].key, strlen(kinds[k].key)))
            return kinds[k].kind;
    return "";
}

const char *bli_kind_hint(const void *head, size_t n)
{
    const unsigned char *p = head;
    if (n >= 8 && !memcmp(p, BL_CLKBIN_MAGIC, 8))
        return "a binary CLK file (encode --format bin)";
    /* JSON behind a UTF-8 byte order mark is JSON, not CSV */
    const size_t bom = bli_bom_len(p, n);
    size_t i = bom;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (bom && i < n && (p[i] == '{' || p[i] == '['))
        return "JSON behind a UTF-8 byte order mark (remove the first three bytes)";
    if (i < n && p[i] == '{')
        return json_kind(p + i, n - i);
    /* [[[d, r], ...], ...]: the groups match -f groups writes */
    int depth = 0;
    for (size_t j = i; j < n && depth < 3; j++)
        if (p[j] == '[')
            depth++;
        else if (p[j] != ' ' && p[j] != '\t' && p[j] != '\r' && p[j] != '\n')
            break;
    if (depth == 3)
        return "groups JSON (match -f groups)";
    if (i == n || p[i] == '[')
        return "";
    /* a first line of printable text with a separator in it */
    int sep = 0;
    for (; i < n && p[i] != '\n'; i++) {
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r')
            return "";
        sep |= p[i] == ',' || p[i] == '\t' || p[i] == ';';
    }
    return sep ? BLI_KIND_CSV : "";
}

const char *bli_kind_other(const void *head, size_t n, const char *own)
{
    const char *k = bli_kind_hint(head, n);
    return strcmp(k, own) ? k : "";
}

const char *bli_kind_other_file(const char *path, const char *own)
{
    const char *k = bli_kind_hint_file(path);
    return strcmp(k, own) ? k : "";
}

const char *bli_kind_hint_file(const char *path)
{
    unsigned char head[512];
    FILE *fp = path ? fopen(path, "rb") : NULL;
    if (!fp)
        return "";
    const size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    return bli_kind_hint(head, n);
}
