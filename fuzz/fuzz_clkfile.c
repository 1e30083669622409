/* fuzz/fuzz_clkfile.c - libFuzzer target for the CLK file readers (binary
 * header/records/ids/checksum and clkhash JSON). The reader works on paths,
 * so the input is written to a private temp file first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <blindlink/clk.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/bl_fuzz_clk_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    bl_clkset *s = NULL;
    bl_error e = {0};
    if (bl_clkset_read(path, BL_CLK_AUTO, 1u << 16, &s, &e) == BL_OK) {
        /* a successfully read set must be internally consistent */
        if (s->count == 0 || s->stride % 64 != 0 || s->nbytes * 8 < s->nbits)
            abort();
        bl_clkset_free(s);
    }
    unlink(path);
    return 0;
}
