/* fuzz/fuzz_ident.c - libFuzzer target for the identifier normalisers
 * (email with every rule set, phone with several default countries, names,
 * dates, the composite name + date-of-birth key). Checks the invariants
 * every result must hold: NUL-terminated, the reported length, within
 * BL_IDENT_MAX, and idempotence (normalising a normalised value is a no-op). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/ident.h>

static char out[BL_IDENT_MAX + 1], again[BL_IDENT_MAX + 1];

static void check(bl_status s, size_t n)
{
    if (s == BL_OK && (n > BL_IDENT_MAX || strlen(out) != n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, n = 0, m = 0;
    bl_error e = {0};
    bl_status s;
    static const char *const cc[] = {"", "GB", "US", "IT", "RU", "HU", "DE", "FR"};
    switch (data[0] % 5) {
    case 0: {
        unsigned rules = (data[0] >> 3) & 3;
        s = bl_ident_email(in, len, rules, out, sizeof out, &n, &e);
        check(s, n);
        if (s == BL_OK && n > 0) {
            if (bl_ident_email(out, n, rules, again, sizeof again, &m, &e) != BL_OK ||
                m != n || memcmp(out, again, n))
                abort();
        }
        break;
    }
    case 1: {
        s = bl_ident_phone(in, len, cc[(data[0] >> 3) & 7], out, sizeof out, &n, &e);
        check(s, n);
        if (s == BL_OK && n > 0) {
            if (bl_ident_phone(out, n, "", again, sizeof again, &m, &e) != BL_OK || m != n ||
                memcmp(out, again, n))
                abort();
        }
        break;
    }
    case 2: {
        unsigned rules = (data[0] >> 3) & 1;
        s = bl_ident_name(in, len, rules, out, sizeof out, &n, &e);
        check(s, n);
        if (s == BL_OK && n > 0) {
            if (bl_ident_name(out, n, rules, again, sizeof again, &m, &e) != BL_OK || m != n ||
                memcmp(out, again, n))
                abort();
        }
        break;
    }
    case 3: {
        static const char *const fmts[] = {NULL, "%d/%m/%Y", "%Y%m%d", "%m.%d.%Y %%"};
        s = bl_ident_date(in, len, fmts[(data[0] >> 3) & 3], out, sizeof out, &n, &e);
        check(s, n);
        break;
    }
    default: {
        /* split on '|' into name parts and a date */
        const char *parts[8];
        size_t lens[8], np = 0;
        const char *p = in, *end = in + len;
        while (np < 8) {
            const char *bar = memchr(p, '|', (size_t)(end - p));
            parts[np] = p;
            lens[np] = bar ? (size_t)(bar - p) : (size_t)(end - p);
            np++;
            if (!bar)
                break;
            p = bar + 1;
        }
        if (np < 2)
            return 0;
        bl_ident_opts o = {0};
        s = bl_ident_namedob(parts, lens, np - 1, parts[np - 1], lens[np - 1], &o, out,
                             sizeof out, &n, &e);
        if (s == BL_OK && n > BL_IDENT_MAX)
            abort();
        break;
    }
    }
    return 0;
}
