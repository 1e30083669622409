/* lib/core/error.c - status strings, error context, exit codes, library init. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "core/internal.h"

static const char *const status_text[BL_STATUS_COUNT_] = {
    [BL_OK] = "success",
    [BL_EOF] = "end of input",
    [BL_EINVAL] = "invalid argument",
    [BL_EINPUT] = "invalid input data",
    [BL_ESCHEMA] = "invalid linkage schema",
    [BL_EIO] = "input/output error",
    [BL_ENOMEM] = "out of memory",
    [BL_ELIMIT] = "limit exceeded",
    [BL_ECRYPTO] = "cryptographic failure",
    [BL_ENET] = "network failure",
    [BL_EPROTO] = "protocol violation",
    [BL_EAUTH] = "not authorised",
    [BL_ESTATE] = "invalid state",
    [BL_ENOTFOUND] = "not found",
    [BL_EINTERNAL] = "internal error",
};

const char *bl_strerror(bl_status s)
{
    if ((unsigned)s < BL_STATUS_COUNT_ && status_text[s])
        return status_text[s];
    return "unknown status";
}

bl_status bl_error_set(bl_error *err, bl_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = s;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return s;
}

void bl_error_prefix(bl_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[BL_ERROR_MSG_MAX], old[BL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* concatenate with explicit truncation (snprintf "%s%s" trips
     * -Wformat-truncation under -Werror) */
    size_t pl = strnlen(prefix, sizeof prefix), ol = strnlen(old, sizeof old);
    if (pl > sizeof err->msg - 1)
        pl = sizeof err->msg - 1;
    if (ol > sizeof err->msg - 1 - pl)
        ol = sizeof err->msg - 1 - pl;
    memcpy(err->msg, prefix, pl);
    memcpy(err->msg + pl, old, ol);
    err->msg[pl + ol] = '\0';
}

int bl_status_exit_code(bl_status s)
{
    switch (s) {
    case BL_OK:
    case BL_EOF:
        return 0;
    case BL_EINVAL:
    case BL_EINPUT:
    case BL_ESCHEMA:
    case BL_ELIMIT:
        return 2;
    default:
        return 1;
    }
}

const char *bl_version(void)
{
    return BL_VERSION_STRING;
}

bl_status bl_init(void)
{
    /* sodium_init is itself idempotent and thread-safe. */
    return sodium_init() < 0 ? BL_ECRYPTO : BL_OK;
}

/* Big buffers (filter sets, scored pairs) are read at random record by
 * record: with 4 KB pages nearly every such read of a set of a million
 * 768-byte records also misses the TLB. Transparent huge pages are often
 * "madvise" only (Debian's default), so ask for them: 2 MB alignment and
 * MADV_HUGEPAGE. A refusal (no THP, another OS) only costs the hint. */
#define BIG_ALLOC ((size_t)8 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

static void *big_hint(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    if (p && size >= BIG_ALLOC && ((uintptr_t)p & (HUGE_PAGE - 1)) == 0)
        (void)madvise(p, (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#else
    (void)size;
#endif
    return p;
}

void *bli_aligned_alloc(size_t size)
{
    void *p = NULL;
    if (size == 0)
        size = 64;
    size = (size + 63) & ~(size_t)63;
    if (posix_memalign(&p, size >= BIG_ALLOC ? HUGE_PAGE : 64, size) != 0)
        return NULL;
    return big_hint(p, size);
}

void bli_aligned_free(void *p)
{
    free(p);
}

int bli_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
