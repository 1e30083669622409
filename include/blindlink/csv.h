/* blindlink/csv.h - streaming RFC 4180 CSV reader (libcsv underneath) and a
 * small CSV field writer.
 *
 * The reader never holds more than one record in memory, so memory is
 * constant in the input size. It knows the physical line of every record so
 * errors can say "file:line:column". */
#ifndef BLINDLINK_CSV_H
#define BLINDLINK_CSV_H

#include <stdio.h>
#include "common.h"

BL_BEGIN_DECLS

/** Reader options; zero-initialise then set what you need. */
typedef struct bl_csv_opts {
    char delimiter;          /**< field separator; 0 means ',' */
    int trim_spaces;         /**< 1: strip spaces/tabs around unquoted fields
                                  (FEBRL's ", " separators); 0: keep them (clkhash) */
    int keep_bom;            /**< 1: keep a leading UTF-8 BOM as data (clkhash does);
                                  0 (default): drop it */
    int validate_utf8;       /**< 1: reject fields that are not valid UTF-8 */
    size_t max_record_bytes; /**< cap on one record's size; 0 means 16 MiB */
    size_t max_fields;       /**< cap on fields per record; 0 means 4096 */
} bl_csv_opts;

/** One parsed record. Pointers stay valid until the next bl_csv_next() or
 *  bl_csv_free(). Fields are NUL-terminated and also carry their length
 *  (a field may contain NUL bytes only if the input does). */
typedef struct bl_csv_row {
    size_t nfields;
    char **fields;
    size_t *lens;
    uint64_t line;   /**< physical line (1-based) where the record starts */
    uint64_t record; /**< record number (1-based), the header being record 1 */
} bl_csv_row;

typedef struct bl_csv_reader bl_csv_reader;

/** Open `path` ("-" for stdin) for reading. `opts` may be NULL (defaults).
 *  On failure returns BL_EIO/BL_ENOMEM and sets err. `*out` owned by caller. */
bl_status bl_csv_open(const char *path, const bl_csv_opts *opts, bl_csv_reader **out,
                      bl_error *err) BL_WUR;

/** Wrap an already open stream (not closed by bl_csv_free). `name` is used in
 *  messages. */
bl_status bl_csv_open_stream(FILE *fp, const char *name, const bl_csv_opts *opts,
                             bl_csv_reader **out, bl_error *err) BL_WUR;

/** Read the next record into `*row`. Returns BL_OK, BL_EOF at the end, or
 *  BL_EINPUT (malformed CSV, invalid UTF-8, cap exceeded) / BL_EIO with a
 *  message naming file, line and column. Blank lines are skipped. */
bl_status bl_csv_next(bl_csv_reader *r, bl_csv_row *row, bl_error *err) BL_WUR;

/** Name given at open (the path), for messages. */
const char *bl_csv_name(const bl_csv_reader *r);

/** Close and free. NULL is a no-op. */
void bl_csv_free(bl_csv_reader *r);

/** Write one field to `fp`, quoting it per RFC 4180 when it contains the
 *  delimiter, a quote, CR or LF (or leading/trailing space). Returns 0 or -1. */
int bl_csv_write_field(FILE *fp, const char *s, size_t len);

BL_END_DECLS
#endif
