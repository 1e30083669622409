/* cli/cli_paths.c - the outputs of a command checked before it does any
 * work: each output's folder exists, no output is one of the inputs (an
 * `encode A.csv S.json A.csv` would replace the plaintext with its
 * encodings), and no two outputs are one file (`--save-model x -o x` would
 * keep only one of them). Why before: a 1M-record run that fails on its
 * last write has thrown its time away, and a command with two outputs that
 * failed on the second would leave the first behind. */
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Where an output lands: bl_ofile writes a temporary file and renames it
 * over the path, which replaces a link there rather than what it points
 * to, so the folder is resolved and the last component kept. 0, or -1
 * when the folder does not exist. */
static int out_name(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX], buf[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (!realpath(dir, buf))
        return -1;
    snprintf(out, cap, "%s/%s", strcmp(buf, "/") ? buf : "", slash ? slash + 1 : path);
    return 0;
}

/* The file an input is read from (links followed); -1 when it does not
 * exist (reading it reports that). */
static int in_name(const char *path, char *out, size_t cap)
{
    char buf[PATH_MAX];
    if (!realpath(path, buf))
        return -1;
    snprintf(out, cap, "%s", buf);
    return 0;
}

static int skip(const char *p)
{
    return !p || !*p || !strcmp(p, "-");
}

int cli_check_inputs(const char *cmd, const char *const *ins, size_t nins, int distinct)
{
    for (size_t i = 0; i < nins; i++) {
        struct stat si, sj;
        if (skip(ins[i]) || stat(ins[i], &si) != 0)
            continue;
        if (S_ISDIR(si.st_mode))
            return cli_usage_error(cmd, "'%s' is a folder, not a file", ins[i]);
        for (size_t j = 0; distinct && j < i; j++)
            if (!skip(ins[j]) && stat(ins[j], &sj) == 0 && si.st_dev == sj.st_dev &&
                si.st_ino == sj.st_ino)
                return cli_usage_error(cmd,
                                       "'%s' is given twice (inputs %zu and %zu): a file "
                                       "linked with itself finds each record's own copy; "
                                       "give the files of different parties",
                                       ins[i], j + 1, i + 1);
    }
    return CLI_EXIT_OK;
}

int cli_check_outputs(const char *cmd, const cli_path *outs, size_t nouts, const char *const *ins,
                      size_t nins)
{
    char co[PATH_MAX + NAME_MAX + 2], cx[PATH_MAX + NAME_MAX + 2];
    for (size_t i = 0; i < nouts; i++) {
        const char *p = outs[i].path;
        if (skip(p))
            continue;
        if (out_name(p, co, sizeof co) != 0)
            return cli_usage_error(cmd, "cannot write %s '%s': its folder does not exist",
                                   outs[i].opt, p);
        struct stat ps;
        const int exists = stat(p, &ps) == 0;
        if (exists && S_ISDIR(ps.st_mode))
            return cli_usage_error(cmd, "%s '%s' is a folder, not a file", outs[i].opt, p);
        /* an existing device or FIFO (/dev/null, /dev/stdout) is written in
         * place (bl_ofile) and replaces nothing: it must be writable itself */
        if (exists && !S_ISREG(ps.st_mode)) {
            if (access(p, W_OK) != 0)
                return cli_usage_error(cmd, "cannot write %s '%s': %s", outs[i].opt, p,
                                       strerror(errno));
            continue;
        }
        /* any other output is a new file renamed into its folder */
        char *slash = strrchr(co, '/');
        assert(slash); /* out_name always joins a folder and a name */
        *slash = '\0';
        const int writable = access(*co ? co : "/", W_OK | X_OK) == 0;
        const int e = errno;
        *slash = '/';
        if (!writable)
            return cli_usage_error(cmd, "cannot write %s '%s': %s", outs[i].opt, p, strerror(e));
        for (size_t k = 0; k < nins; k++)
            if (!skip(ins[k]) && in_name(ins[k], cx, sizeof cx) == 0 && !strcmp(co, cx))
                return cli_usage_error(cmd,
                                       "%s '%s' is also an input ('%s'): it would be "
                                       "overwritten; write the output elsewhere",
                                       outs[i].opt, p, ins[k]);
        for (size_t k = 0; k < i; k++)
            if (!skip(outs[k].path) && out_name(outs[k].path, cx, sizeof cx) == 0 &&
                !strcmp(co, cx))
                return cli_usage_error(cmd, "%s and %s name the same file '%s': give each its own",
                                       outs[k].opt, outs[i].opt, p);
    }
    return CLI_EXIT_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void cli_remove_tree(const char *cmd, const char *dir)
{
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "blindlink %s: could not remove %s\n", cmd, dir);
}
