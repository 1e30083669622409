/* blindlink/io.h - atomic output files, secret loading, progress display.
 *
 * Every output file the toolkit produces goes through bl_ofile: data is
 * written to a temporary file in the destination directory, flushed, fsynced
 * and renamed over the target only on success, so a failed run never leaves a
 * half-written output behind. */
#ifndef BLINDLINK_IO_H
#define BLINDLINK_IO_H

#include <stdint.h>
#include <stdio.h>
#include "common.h"

BL_BEGIN_DECLS

typedef struct bl_ofile bl_ofile;

/** Start writing `path` atomically ("-" writes to stdout directly). Fails
 *  early with BL_EIO if the directory is not writable. While the file is
 *  open, SIGINT, SIGTERM and SIGHUP remove its temp file before the process
 *  dies of the signal (where the program left those signals at their
 *  default action; a program with its own handler aborts its files). */
bl_status bl_ofile_open(const char *path, bl_ofile **out, bl_error *err) BL_WUR;

/** The stdio stream to write to (buffered). */
FILE *bl_ofile_stream(bl_ofile *f);

/** Flush, fsync, rename into place, fsync the directory, and free `f`.
 *  On failure the temp file is removed and `f` freed all the same. */
bl_status bl_ofile_commit(bl_ofile *f, bl_error *err) BL_WUR;

/** Discard: remove the temp file and free. NULL is a no-op. */
void bl_ofile_abort(bl_ofile *f);

/** A private temporary file (mode 0600) in $TMPDIR or /tmp, for a copy of
 *  stdin that must be read twice: its path (at most cap bytes) in `path`,
 *  its descriptor in *fd, open for reading and writing. Until
 *  bl_tmpfile_remove, SIGINT, SIGTERM and SIGHUP remove it as they remove
 *  bl_ofile's temp files: a killed run leaves no copy of its input behind. */
bl_status bl_tmpfile_create(char *path, size_t cap, int *fd, bl_error *err) BL_WUR;

/** Remove a file made by bl_tmpfile_create (the descriptor is the
 *  caller's to close). */
void bl_tmpfile_remove(const char *path);

/** A secret held in libsodium guarded memory (mlocked, wiped on free). */
typedef struct bl_secret {
    unsigned char *bytes; /**< sodium_malloc'd, `len` bytes, not NUL-terminated */
    size_t len;
} bl_secret;

/** Load a secret. Sources in order: `file` if non-NULL (one trailing newline
 *  is dropped, so `echo secret > f` works), else environment variable
 *  `env_name` if non-NULL and set. Fails with BL_EINVAL if neither yields a
 *  non-empty secret. The secret is never echoed in messages. */
bl_status bl_secret_load(const char *file, const char *env_name, bl_secret *out,
                         bl_error *err) BL_WUR;

/** Copy bytes into a new guarded secret (for the explicit --secret-argv
 *  path); the caller should wipe its own copy. */
bl_status bl_secret_from_bytes(const void *buf, size_t len, bl_secret *out,
                               bl_error *err) BL_WUR;

/** Wipe and free. Safe on a zeroed struct. */
void bl_secret_free(bl_secret *s);

typedef struct bl_progress bl_progress;

/** Progress bar on stderr, shown only when stderr is a terminal (and
 *  BL_NO_PROGRESS is unset); otherwise every call is a cheap no-op.
 *  `total` 0 means unknown (shows count and rate only). Never returns NULL
 *  for a valid label; thread-safe updates. */
bl_progress *bl_progress_new(const char *label, uint64_t total);

/** Report `done` units finished so far (monotonic). Redraws at most ~10x/s. */
void bl_progress_update(bl_progress *p, uint64_t done);

/** Final redraw, newline, free. NULL is a no-op. */
void bl_progress_finish(bl_progress *p);

/** Monotonic clock in nanoseconds (CLOCK_MONOTONIC; an arbitrary origin,
 *  for measuring intervals only). */
uint64_t bl_clock_ns(void);

/** The same clock in seconds, for elapsed-time arithmetic and figures. */
double bl_clock_s(void);

/** Read a whole (small) file into a NUL-terminated malloc'd buffer, refusing
 *  files larger than `max_bytes`. */
bl_status bl_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                       bl_error *err) BL_WUR;

/** Write `len` bytes to `path` atomically (bl_ofile: temp file, fsync,
 *  rename): the old file or the whole new one, never a mix. */
bl_status bl_write_file(const char *path, const void *buf, size_t len, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
