/* fuzz/fuzz_csv.c - libFuzzer target for the streaming CSV reader. The first
 * input byte picks reader options (trim spaces, keep BOM, UTF-8 checks, a
 * small record cap, a ';' delimiter); the rest is the CSV text. Every row
 * returned must be consistent: NUL-terminated fields of the stated length,
 * increasing line and record numbers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    bl_csv_opts o = {0};
    o.trim_spaces = sel & 1;
    o.keep_bom = (sel >> 1) & 1;
    o.validate_utf8 = (sel >> 2) & 1;
    if (sel & 8)
        o.max_record_bytes = 64;
    if (sel & 16)
        o.max_fields = 4;
    if (sel & 32)
        o.delimiter = ';';
    FILE *fp = fmemopen(size ? (void *)data : (void *)"", size ? size : 1, "rb");
    if (!fp)
        return 0;
    if (!size)
        fgetc(fp); /* empty stream */
    bl_csv_reader *r = NULL;
    bl_error e = {0};
    if (bl_csv_open_stream(fp, "fuzz.csv", &o, &r, &e) != BL_OK) {
        fclose(fp);
        return 0;
    }
    bl_csv_row row;
    uint64_t last_line = 0, last_rec = 0;
    bl_status st;
    while ((st = bl_csv_next(r, &row, &e)) == BL_OK) {
        if (row.nfields == 0 || row.line < last_line || row.record <= last_rec)
            abort();
        if (o.max_fields && row.nfields > o.max_fields)
            abort();
        for (size_t i = 0; i < row.nfields; i++)
            if (row.fields[i][row.lens[i]] != '\0')
                abort();
        last_line = row.line;
        last_rec = row.record;
    }
    if (st != BL_EOF && e.msg[0] == '\0')
        abort(); /* every failure explains itself */
    bl_csv_free(r);
    fclose(fp);
    return 0;
}
