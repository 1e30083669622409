/* lib/match/blocks_write.c - write the blocks a blocking puts each record in
 * as a blocklib / anonlink-client block file: {"meta": {...}, "blocks":
 * {"<record>": ["<block key>", ...]}}, which bl_blocking_read_files reads
 * back (docs/match.md). Streamed with stdio rather than built with jansson:
 * a million records times a few hundred tables would not fit a DOM, and
 * every key is a decimal number or hex digits, so nothing needs escaping.
 * Keyed LSH keys are "T:HEX" (table T, sampled bits as hex); they reveal
 * nothing about the filter without the blocking key, like the blocks. */
#include <stdio.h>
#include <string.h>

#include <blindlink/io.h>
#include <blindlink/match.h>
#include "match/match_internal.h"

static void lsh_record(FILE *fp, const bl_blocking *b, const uint8_t *f)
{
    unsigned hexw = (b->bits + 3) / 4;
    for (uint32_t t = 0; t < b->tables; t++)
        fprintf(fp, "%s\"%u:%0*llx\"", t ? ", " : "", t, (int)hexw,
                (unsigned long long)bli_lsh_key(b, t, f));
}

static void file_record(FILE *fp, const bl_blocking *b, size_t d, size_t r)
{
    for (size_t q = b->off[d][r]; q < b->off[d][r + 1]; q++)
        fprintf(fp, "%s\"b%u\"", q > b->off[d][r] ? ", " : "", b->ids[d][q]);
}

bl_status bl_blocking_write_blocklib(const bl_blocking *b, const bl_clkset *set, size_t dataset,
                                     const char *path, bl_error *err)
{
    if (!b || !set || !path)
        return bl_error_set(err, BL_EINVAL, "block file: NULL argument");
    if (b->kind == 1 && b->nbits != set->nbits)
        return bl_error_set(err, BL_EINVAL, "LSH blocking built for %u bits, filters have %u",
                            b->nbits, set->nbits);
    if (b->kind == 2 && (dataset >= b->ndsets || b->nrecs[dataset] != set->count))
        return bl_error_set(err, BL_EINVAL, "block file: dataset %zu does not fit the blocks",
                            dataset);
    bl_ofile *f;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st)
        return st;
    FILE *fp = bl_ofile_stream(f);
    fprintf(fp, "{\"meta\": {\"source\": {\"clk_count\": [%zu], \"dataset\": %zu}, \"config\": ",
            set->count, dataset);
    if (b->kind == 1)
        fprintf(fp, "{\"type\": \"blindlink-keyed-lsh\", \"tables\": %u, \"bits\": %u}",
                b->tables, b->bits);
    else
        fputs("{\"type\": \"external\"}", fp);
    fputs("},\n\"blocks\": {", fp);
    for (size_t r = 0; r < set->count; r++) {
        fprintf(fp, "%s\n\"%zu\": [", r ? "," : "", r);
        if (b->kind == 1)
            lsh_record(fp, b, bl_clkset_get(set, r));
        else
            file_record(fp, b, dataset, r);
        fputc(']', fp);
    }
    fputs("\n}}\n", fp);
    if (ferror(fp)) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}
