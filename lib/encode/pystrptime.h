/* lib/encode/pystrptime.h - Python-compatible date parsing (datetime.strptime) for
 * clkhash `date` features, and Python int()/float() text parsing helpers.
 * Internal to the library; tests include it directly. */
#ifndef BLINDLINK_PYSTRPTIME_H
#define BLINDLINK_PYSTRPTIME_H

#include <stddef.h>
#include <stdint.h>

typedef struct bl_pydate_fmt bl_pydate_fmt;

/** Compile a strptime format the way Python's _strptime does (directives
 *  become regular expressions, whitespace runs match \s+, case-insensitive).
 *  Supported directives: %Y %y %m %d %b %B %a %A %H %I %p %M %S %f %j %U %W
 *  %w %u %%. Returns NULL and fills `msg` on a bad or unsupported one. */
bl_pydate_fmt *bli_pydate_compile(const char *fmt, char *msg, size_t msgcap);

void bli_pydate_free(bl_pydate_fmt *f);

/** Per-thread match workspace (pcre2 match data); NULL on ENOMEM. */
void *bli_pydate_workspace_new(void);
void bli_pydate_workspace_free(void *ws);

/** Parse `s` (UTF-8, `len` bytes) and write the date as strftime('%Y%m%d')
 *  (glibc: year not zero-padded) into `out` (cap >= 16). Returns the output
 *  length, or -1 with a Python-like reason in `msg` ("does not match",
 *  "unconverted data remains: x", "day is out of range for month"). */
int bli_pydate_format(const bl_pydate_fmt *f, void *ws, const char *s, size_t len, char *out,
                     size_t cap, char *msg, size_t msgcap);

/** Decimal value of a Unicode code point with general category Nd, else -1. */
int bli_uc_decimal(int32_t cp);

/** Python str.isspace() for one code point. */
int bli_uc_isspace(int32_t cp);

/** Python int(s, 10): writes the canonical decimal (str(int(s))) into
 *  `out` (cap bytes, NUL-terminated). Returns its length, -1 if `s` is not
 *  a valid integer, -2 if it does not fit in `cap`. */
int bli_pyint_canonical(const char *s, size_t len, char *out, size_t cap);

/** Python float(s): returns 0 and sets *v, or -1 if not a valid float. */
int bli_pyfloat_parse(const char *s, size_t len, double *v);

#endif
