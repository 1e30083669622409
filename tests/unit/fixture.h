/* tests/unit/fixture.h - the temp-dir fixture of the unit tests (one copy
 * instead of one per test file). A test program makes one private directory
 * under $TMPDIR (default /tmp) in its group setup, names files in it with
 * fx_path, and removes it with everything in it in its group teardown. */
#ifndef BL_TEST_FIXTURE_H
#define BL_TEST_FIXTURE_H

#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fx_dir[256];

/* Create the directory TMPDIR/bl_NAME_XXXXXX (0700). 0 or -1, for cmocka. */
static inline int fx_dir_setup(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(fx_dir, sizeof fx_dir, "%s/bl_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    return mkdtemp(fx_dir) ? 0 : -1;
}

static inline int fx_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove the directory and everything in it. 0 or -1, for cmocka. */
static inline int fx_dir_teardown(void)
{
    if (!fx_dir[0])
        return 0;
    int rc = nftw(fx_dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    fx_dir[0] = 0;
    return rc == 0 ? 0 : -1;
}

/* fx_dir/NAME; the last 8 results stay valid. */
static inline const char *fx_path(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", fx_dir, name);
    return p[k];
}

#endif
