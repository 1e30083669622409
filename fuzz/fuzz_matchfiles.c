/* fuzz/fuzz_matchfiles.c - libFuzzer target for the matching engine's
 * parsers: anonlink binary candidate files, blocklib/CSV block files and the
 * pairs/candidates CSV read by `blindlink eval`. The first input byte picks
 * the parser; the rest is written to a private temp file (they read paths). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <blindlink/eval.h>
#include <blindlink/match.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 4;
    char path[64];
    snprintf(path, sizeof path, "/tmp/bl_fuzz_match_XXXXXX%s", which == 2 ? ".csv" : "");
    int fd = which == 2 ? mkstemps(path, 4) : mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    bl_error e = {0};
    if (which == 0) {
        bl_candidate *c = NULL;
        size_t n = 0;
        if (bl_candidates_read_anonlink(path, 1u << 16, &c, &n, &e) == BL_OK) {
            if ((4 + n * 24) != (size_t)(size - 1))
                abort(); /* every accepted byte belongs to a whole entry */
            free(c);
        }
    } else if (which == 1 || which == 2) {
        const char *paths[2] = {path, path};
        size_t nrecs[2] = {50, 50};
        bl_blocking *b = NULL;
        if (bl_blocking_read_files(paths, 2, nrecs, &b, &e) == BL_OK)
            bl_blocking_free(b);
    } else {
        bl_matches m;
        if (bl_matches_read(path, 1u << 16, &m, &e) == BL_OK) {
            for (size_t i = 0; i < m.n; i++)
                if (m.pairs[i].dset[0] >= m.nsets || m.pairs[i].dset[1] >= m.nsets)
                    abort();
            bl_matches_free(&m);
        }
    }
    unlink(path);
    return 0;
}
