/* cli/cli_common.c - helpers every subcommand shares: number parsers (one
 * parse_u64 and one real-number parser for the whole CLI), the common options
 * (-j/--threads, -q/--quiet, -v/--verbose, -V/--version, --json), '-' as
 * stdin/stdout for files the library can only read or write by path
 * (spooled through a temporary file), and JSON output through jansson. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <blindlink/io.h>
#include "cli.h"

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    /* strtoull accepts leading blanks, signs and "-1" (wrapping): refuse them */
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ' || *s == '\t')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_real(const char *s, double lo, double hi, int lo_open, double *out)
{
    if (!s || !*s || *s == ' ' || *s == '\t')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v > hi || v < lo || (lo_open && v == lo))
        return -1;
    *out = v;
    return 0;
}

int cli_parse_threads(const char *s)
{
    if (!strcmp(s, "auto") || !strcmp(s, "0")) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
    uint64_t v;
    if (cli_parse_u64(s, 1, 1024, &v))
        return -1;
    return (int)v;
}

int cli_parse_threshold(const char *cmd, const char *s, double *out)
{
    if (cli_parse_real(s, 0.0, 1.0, 1, out))
        return cli_usage_error(cmd, "--threshold must be a number in (0, 1], got '%s'", s);
    return 0;
}

int cli_common_option(const char *cmd, int c, const char *arg, cli_common *co)
{
    switch (c) {
    case 'q': co->quiet = 1; co->verbose = 0; return CLI_OPT_OK;
    case 'v': co->verbose = 1; co->quiet = 0; return CLI_OPT_OK;
    case CLI_OPT_JSON: co->json = 1; return CLI_OPT_OK;
    case 'o': co->output = arg; return CLI_OPT_OK;
    case 'j':
        co->threads = cli_parse_threads(arg);
        if (co->threads < 0)
            return cli_usage_error(cmd, "--threads must be 1..1024 or 'auto', got '%s'", arg);
        return CLI_OPT_OK;
    case 'V': cli_print_version(); return CLI_OPT_EXIT;
    case ':':
        return cli_usage_error(cmd, "option '%s' needs a value", cli_current_arg());
    case '?':
        return cli_usage_error(cmd, "unknown option '%s'", cli_current_arg());
    default: return CLI_OPT_UNHANDLED;
    }
}

void cli_print_version(void)
{
    printf("blindlink %s\n", bl_version());
}

/* getopt leaves the offending word at argv[optind - 1] (or the option
 * character in optopt for a bundled short option) */
static char **g_argv;
static int g_argc;

void cli_getopt_begin(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    optind = 1;
    opterr = 0;
    optopt = 0;
}

const char *cli_current_arg(void)
{
    static char shortopt[3] = "-?";
    /* a long option sets optopt to its short equivalent ('o' for --output):
     * name the word as written; unless getopt is still inside a bundle of
     * short options ("-xq"), which it has not stepped past yet */
    int in_bundle = optind < g_argc && g_argv[optind][0] == '-' && g_argv[optind][1] != '-' &&
                    optopt && strchr(g_argv[optind] + 1, optopt);
    if (!in_bundle && optind > 0 && optind <= g_argc && !strncmp(g_argv[optind - 1], "--", 2))
        return g_argv[optind - 1];
    if (optopt && optopt < 128) {
        shortopt[1] = (char)optopt;
        return shortopt;
    }
    if (optind > 0 && optind <= g_argc)
        return g_argv[optind - 1];
    return "?";
}

/* ---- '-' for stdin / stdout ---- */

static int copy_fd(int in, int out)
{
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -1;
            off += w;
        }
    }
}

/* `-` gets a temporary file in sp->tmp (its descriptor in *fd), which a
 * killing signal removes too (bl_tmpfile_create); any other path is used as
 * it is (*fd = -1). */
static bl_status spool_temp(const char *path, const char *what, cli_spool *sp, int *fd,
                            bl_error *err)
{
    sp->tmp[0] = '\0';
    sp->path = path;
    *fd = -1;
    if (strcmp(path, "-") != 0)
        return BL_OK;
    bl_status st = bl_tmpfile_create(sp->tmp, sizeof sp->tmp, fd, err);
    if (st != BL_OK)
        bl_error_prefix(err, "%s: ", what);
    return st;
}

bl_status cli_spool_stdin(const char *path, cli_spool *sp, bl_error *err)
{
    /* the CLK reader needs a file it can read twice (format detection) */
    int fd;
    bl_status st = spool_temp(path, "stdin", sp, &fd, err);
    if (st != BL_OK || fd < 0)
        return st;
    int rc = copy_fd(STDIN_FILENO, fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        bl_tmpfile_remove(sp->tmp);
        sp->tmp[0] = '\0';
        return bl_error_set(err, BL_EIO, "reading stdin: %s", strerror(e));
    }
    sp->path = sp->tmp;
    return BL_OK;
}

bl_status cli_spool_stdout_begin(const char *path, cli_spool *sp, bl_error *err)
{
    /* formats with a header that is written last (binary CLKs) need a file */
    int fd;
    bl_status st = spool_temp(path, "stdout", sp, &fd, err);
    if (st != BL_OK || fd < 0)
        return st;
    close(fd);
    sp->path = sp->tmp;
    return BL_OK;
}

bl_status cli_spool_stdout_end(cli_spool *sp, int ok, bl_error *err)
{
    if (!sp->tmp[0])
        return BL_OK;
    bl_status st = BL_OK;
    if (ok) {
        int fd = open(sp->tmp, O_RDONLY);
        if (fd < 0 || copy_fd(fd, STDOUT_FILENO) != 0)
            st = bl_error_set(err, BL_EIO, "writing stdout: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    cli_spool_free(sp);
    return st;
}

void cli_spool_blame(const cli_spool *sp, bl_error *err)
{
    const size_t tl = strlen(sp->tmp);
    char *at;
    if (!tl || !err || !(at = strstr(err->msg, sp->tmp)))
        return;
    char buf[sizeof err->msg];
    snprintf(buf, sizeof buf, "%.*sstdin%s", (int)(at - err->msg), err->msg, at + tl);
    memcpy(err->msg, buf, sizeof buf);
}

void cli_spool_free(cli_spool *sp)
{
    bl_tmpfile_remove(sp->tmp);
    sp->tmp[0] = '\0';
}

/* ---- JSON summaries ---- */

int cli_json_set_real(json_t *obj, const char *key, double v)
{
    /* NaN (a figure that cannot be computed) is null, as JSON has no NaN */
    return json_object_set_new(obj, key, isnan(v) ? json_null() : json_real(v));
}

bl_status cli_json_write(json_t *obj, const char *path, bl_error *err)
{
    /* 15 significant digits: thresholds read back as written (0.85, not
     * 0.84999999999999998), figures keep more precision than anyone reads */
    char *s = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                        JSON_REAL_PRECISION(15)) : NULL;
    if (!s)
        return bl_error_set(err, BL_ENOMEM, "out of memory building JSON");
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st == BL_OK) {
        FILE *fp = bl_ofile_stream(f);
        fputs(s, fp);
        fputc('\n', fp);
        st = bl_ofile_commit(f, err);
    }
    free(s);
    return st;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static const bl_candidate *pair_at(const bl_candidate *c, size_t stride, size_t i)
{
    return (const bl_candidate *)((const char *)c + i * stride);
}

uint64_t *cli_pair_records(const bl_candidate *c, size_t n, size_t stride, size_t *nu)
{
    uint64_t *k = malloc((n ? 2 * n : 1) * sizeof *k);
    *nu = 0;
    if (!k)
        return NULL;
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < 2; s++)
            k[2 * i + s] =
                (uint64_t)pair_at(c, stride, i)->dset[s] << 32 | pair_at(c, stride, i)->rec[s];
    qsort(k, 2 * n, sizeof *k, cmp_u64);
    for (size_t i = 0; i < 2 * n; i++)
        if (!*nu || k[i] != k[*nu - 1])
            k[(*nu)++] = k[i];
    return k;
}

size_t cli_record_at(const uint64_t *keys, size_t nu, uint32_t dset, uint32_t rec)
{
    const uint64_t key = (uint64_t)dset << 32 | rec;
    const uint64_t *at = bsearch(&key, keys, nu, sizeof *keys, cmp_u64);
    assert(at);
    return (size_t)(at - keys);
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return (a > b) - (a < b);
}

json_t *cli_json_group_sizes(const size_t *size, size_t ng)
{
    json_t *o = json_object();
    size_t *s = malloc((ng ? ng : 1) * sizeof *s);
    if (!o || !s) {
        free(s);
        return o;
    }
    memcpy(s, size, ng * sizeof *s);
    qsort(s, ng, sizeof *s, cmp_size);
    for (size_t i = 0, j; i < ng; i = j) {
        for (j = i; j < ng && s[j] == s[i]; j++)
            ;
        char key[24];
        snprintf(key, sizeof key, "%zu", s[i]);
        json_object_set_new(o, key, json_integer((json_int_t)(j - i)));
    }
    free(s);
    return o;
}

void cli_warn_no_candidates(const char *cmd, const bl_candidate *c, size_t ncand,
                            const bl_clkset *const *sets, const char *const *names, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = 0; i < n; i++)
        if (sets[i]->count == 0)
            return; /* nothing to find: not a sign of a mix-up */
    if (!ncand) {
        fprintf(stderr,
                "blindlink %s: warning: 0 candidate pairs: were %s encoded with the "
                "same secret and schema?\n",
                cmd, n == 2 ? "both files" : "all the inputs");
        return;
    }
    /* more inputs: one made with another secret only drops out of the links */
    unsigned char *seen = n > 2 ? calloc(n, 1) : NULL;
    if (!seen)
        return;
    for (size_t i = 0; i < ncand; i++)
        for (int s = 0; s < 2; s++)
            if (c[i].dset[s] < n)
                seen[c[i].dset[s]] = 1;
    for (size_t i = 0; i < n; i++)
        if (!seen[i])
            fprintf(stderr,
                    "blindlink %s: warning: %s is in no candidate pair: was it encoded "
                    "with the same secret and schema as the other inputs?\n",
                    cmd, names[i] && strcmp(names[i], "-") ? names[i] : "stdin");
    free(seen);
}

/* A batch job (match, train) allocates and frees buffers of a few MB to a
 * few tens of MB per phase (rule indexes, record statistics, score
 * buffers). glibc's defaults hand each one back to the kernel on free and
 * get it again, zeroed, on the next malloc: the 1M x 1M model run took
 * ~560K page faults, and zeroing fresh pages was 16% of its CPU time.
 * Keeping the heap (no trim) and serving up to 32 MB (the most glibc
 * allows) from it halved the faults (~275K) and cut system time by a
 * third or more with the same peak memory. Long-running commands (serve,
 * relay) keep the defaults: there memory handed back matters. */
int cli_is_field_level(const bl_clkset *s)
{
    json_t *root = s->meta ? json_loads(s->meta, 0, NULL) : NULL;
    const char *layout = json_string_value(json_object_get(root, "layout"));
    const int yes = layout && !strcmp(layout, "fields");
    json_decref(root);
    return yes;
}

void cli_batch_memory(void)
{
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD) && defined(M_MMAP_THRESHOLD)
    (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
    (void)mallopt(M_TRIM_THRESHOLD, INT32_MAX);
#endif
}
