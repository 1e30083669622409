/* blindlink/common.h - status codes, error context and shared macros.
 *
 * Every fallible function in the public API returns a bl_status and takes an
 * optional `bl_error *` that receives a human-readable message with context
 * (file, line, column, field, rule). There is no global error state: each
 * caller owns its bl_error, so the API is safe to use from many threads. */
#ifndef BLINDLINK_COMMON_H
#define BLINDLINK_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* BL_BEGIN_DECLS / BL_END_DECLS wrap every public header's declarations:
 * C linkage for C++, and default symbol visibility, so that the library
 * (built with -fvisibility=hidden) exports exactly what the public headers
 * declare. A new public header must use them too (tests/install checks the
 * exported symbols against the headers). */
#if defined(__GNUC__) || defined(__clang__)
#define BL_VISIBILITY_PUSH_ _Pragma("GCC visibility push(default)")
#define BL_VISIBILITY_POP_ _Pragma("GCC visibility pop")
#else
#define BL_VISIBILITY_PUSH_
#define BL_VISIBILITY_POP_
#endif
#ifdef __cplusplus
#define BL_BEGIN_DECLS extern "C" { BL_VISIBILITY_PUSH_
#define BL_END_DECLS BL_VISIBILITY_POP_ }
#else
#define BL_BEGIN_DECLS BL_VISIBILITY_PUSH_
#define BL_END_DECLS BL_VISIBILITY_POP_
#endif

BL_BEGIN_DECLS

#if defined(__GNUC__) || defined(__clang__)
#define BL_WUR __attribute__((warn_unused_result))
#define BL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BL_WUR
#define BL_PRINTF(f, a)
#endif

/** Result of every fallible call. 0 is success; the rest are failures except
 *  BL_EOF, which marks the normal end of a stream. */
typedef enum bl_status {
    BL_OK = 0,
    BL_EOF,         /**< end of input (not an error) */
    BL_EINVAL,      /**< invalid argument from the caller (usage error) */
    BL_EINPUT,      /**< bad input data: CSV, JSON, value, base64, file format */
    BL_ESCHEMA,     /**< invalid linkage schema */
    BL_EIO,         /**< read/write/open/rename failed */
    BL_ENOMEM,      /**< allocation failed */
    BL_ELIMIT,      /**< a configured cap (size, count, candidates) exceeded */
    BL_ECRYPTO,     /**< a cryptographic primitive failed or rejected input */
    BL_ENET,        /**< network failure, timeout, peer gone */
    BL_EPROTO,      /**< protocol violation by a peer (bad frame, version) */
    BL_EAUTH,       /**< authentication or authorisation refused */
    BL_ESTATE,      /**< operation not valid in the current state */
    BL_ENOTFOUND,   /**< requested object does not exist */
    BL_EINTERNAL,   /**< bug or unexpected condition */
    BL_STATUS_COUNT_
} bl_status;

/** Size of the message buffer inside bl_error. */
#define BL_ERROR_MSG_MAX 512

/** Error context filled by failing calls. Zero-initialise it (`bl_error e = {0};`).
 *  `status` repeats the returned code; `msg` is a NUL-terminated sentence
 *  without trailing newline, e.g. "people.csv:1043:3 (dob): '1985-13-01' does
 *  not match %Y-%m-%d". Never contains secret material. */
typedef struct bl_error {
    bl_status status;
    char msg[BL_ERROR_MSG_MAX];
} bl_error;

/** Static English description of a status code. Never NULL. Thread-safe. */
const char *bl_strerror(bl_status s);

/** Set `err` (may be NULL) to `s` with a printf-style message; returns `s` so
 *  callers can write `return bl_error_set(err, BL_EINPUT, "...")`. */
bl_status bl_error_set(bl_error *err, bl_status s, const char *fmt, ...) BL_PRINTF(3, 4);

/** Prefix an existing message in `err` with more context ("file.csv: " ...).
 *  No-op when err is NULL. */
void bl_error_prefix(bl_error *err, const char *fmt, ...) BL_PRINTF(2, 3);

/** Map a status to the CLI exit code convention: 0 ok, 2 usage or input
 *  error (EINVAL, EINPUT, ESCHEMA, ELIMIT), 1 any runtime failure. */
int bl_status_exit_code(bl_status s);

/** Library version string, e.g. "0.1.0". */
const char *bl_version(void);

/** Initialise process-wide dependencies (libsodium). Idempotent and
 *  thread-safe; every entry point that needs crypto calls it, but programs
 *  may call it early. Returns BL_ECRYPTO if libsodium cannot start. */
bl_status bl_init(void) BL_WUR;

BL_END_DECLS
#endif
