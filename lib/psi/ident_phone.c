/* lib/psi/ident_phone.c - phone numbers to E.164 with a default country.
 *
 * A compact table maps ISO 3166 alpha-2 countries to their ITU-T E.164
 * calling code and national trunk prefix. International input ("+", "00",
 * "011" in NANP) is split into calling code and national significant number
 * by the prefix-free property of calling codes; national input has its trunk
 * prefix removed and the default country's code prepended. */
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include <blindlink/ident.h>

#include "core/internal.h"

typedef struct country {
    char iso[3];
    unsigned short code;
    char trunk[3]; /* national trunk prefix, "" when none */
} country;

/* The first entry of each calling code is its primary country (its trunk
 * prefix decides whether a "(0)" after the code is dropped). */
static const country countries[] = {
    {"US", 1, "1"},   {"CA", 1, "1"},   {"PR", 1, "1"},   {"VI", 1, "1"},   {"GU", 1, "1"},
    {"AS", 1, "1"},   {"MP", 1, "1"},   {"BS", 1, "1"},   {"BB", 1, "1"},   {"AG", 1, "1"},
    {"AI", 1, "1"},   {"BM", 1, "1"},   {"VG", 1, "1"},   {"KY", 1, "1"},   {"DM", 1, "1"},
    {"DO", 1, "1"},   {"GD", 1, "1"},   {"JM", 1, "1"},   {"MS", 1, "1"},   {"KN", 1, "1"},
    {"LC", 1, "1"},   {"VC", 1, "1"},   {"TT", 1, "1"},   {"TC", 1, "1"},   {"SX", 1, "1"},
    {"RU", 7, "8"},   {"KZ", 7, "8"},   {"EG", 20, "0"},  {"ZA", 27, "0"},  {"GR", 30, ""},
    {"NL", 31, "0"},  {"BE", 32, "0"},  {"FR", 33, "0"},  {"ES", 34, ""},   {"HU", 36, "06"},
    {"IT", 39, ""},   {"VA", 39, ""},   {"RO", 40, "0"},  {"CH", 41, "0"},  {"AT", 43, "0"},
    {"GB", 44, "0"},  {"GG", 44, "0"},  {"JE", 44, "0"},  {"IM", 44, "0"},  {"DK", 45, ""},
    {"SE", 46, "0"},  {"NO", 47, ""},   {"SJ", 47, ""},   {"PL", 48, ""},   {"DE", 49, "0"},
    {"PE", 51, "0"},  {"MX", 52, ""},   {"CU", 53, "0"},  {"AR", 54, "0"},  {"BR", 55, "0"},
    {"CL", 56, ""},   {"CO", 57, "0"},  {"VE", 58, "0"},  {"MY", 60, "0"},  {"AU", 61, "0"},
    {"CX", 61, "0"},  {"CC", 61, "0"},  {"ID", 62, "0"},  {"PH", 63, "0"},  {"NZ", 64, "0"},
    {"SG", 65, ""},   {"TH", 66, "0"},  {"JP", 81, "0"},  {"KR", 82, "0"},  {"VN", 84, "0"},
    {"CN", 86, "0"},  {"TR", 90, "0"},  {"IN", 91, "0"},  {"PK", 92, "0"},  {"AF", 93, "0"},
    {"LK", 94, "0"},  {"MM", 95, "0"},  {"IR", 98, "0"},  {"SS", 211, "0"}, {"MA", 212, "0"},
    {"EH", 212, "0"}, {"DZ", 213, "0"}, {"TN", 216, ""},  {"LY", 218, "0"}, {"GM", 220, ""},
    {"SN", 221, ""},  {"MR", 222, ""},  {"ML", 223, ""},  {"GN", 224, ""},  {"CI", 225, ""},
    {"BF", 226, ""},  {"NE", 227, ""},  {"TG", 228, ""},  {"BJ", 229, ""},  {"MU", 230, ""},
    {"LR", 231, "0"}, {"SL", 232, "0"}, {"GH", 233, "0"}, {"NG", 234, "0"}, {"TD", 235, ""},
    {"CF", 236, ""},  {"CM", 237, ""},  {"CV", 238, ""},  {"ST", 239, ""},  {"GQ", 240, ""},
    {"GA", 241, ""},  {"CG", 242, ""},  {"CD", 243, "0"}, {"AO", 244, ""},  {"GW", 245, ""},
    {"IO", 246, ""},  {"SC", 248, ""},  {"SD", 249, "0"}, {"RW", 250, ""},  {"ET", 251, "0"},
    {"SO", 252, ""},  {"DJ", 253, ""},  {"KE", 254, "0"}, {"TZ", 255, "0"}, {"UG", 256, "0"},
    {"BI", 257, ""},  {"MZ", 258, ""},  {"ZM", 260, "0"}, {"MG", 261, "0"}, {"RE", 262, "0"},
    {"YT", 262, "0"}, {"ZW", 263, "0"}, {"NA", 264, "0"}, {"MW", 265, "0"}, {"LS", 266, ""},
    {"BW", 267, ""},  {"SZ", 268, ""},  {"KM", 269, ""},  {"SH", 290, ""},  {"ER", 291, "0"},
    {"AW", 297, ""},  {"FO", 298, ""},  {"GL", 299, ""},  {"GI", 350, ""},  {"PT", 351, ""},
    {"LU", 352, ""},  {"IE", 353, "0"}, {"IS", 354, ""},  {"AL", 355, "0"}, {"MT", 356, ""},
    {"CY", 357, ""},  {"FI", 358, "0"}, {"AX", 358, "0"}, {"BG", 359, "0"}, {"LT", 370, "8"},
    {"LV", 371, ""},  {"EE", 372, ""},  {"MD", 373, "0"}, {"AM", 374, "0"}, {"BY", 375, "8"},
    {"AD", 376, ""},  {"MC", 377, ""},  {"SM", 378, ""},  {"UA", 380, "0"}, {"RS", 381, "0"},
    {"ME", 382, "0"}, {"XK", 383, "0"}, {"HR", 385, "0"}, {"SI", 386, "0"}, {"BA", 387, "0"},
    {"MK", 389, "0"}, {"CZ", 420, ""},  {"SK", 421, "0"}, {"LI", 423, ""},  {"FK", 500, ""},
    {"BZ", 501, ""},  {"GT", 502, ""},  {"SV", 503, ""},  {"HN", 504, ""},  {"NI", 505, ""},
    {"CR", 506, ""},  {"PA", 507, ""},  {"PM", 508, ""},  {"HT", 509, ""},  {"GP", 590, ""},
    {"BL", 590, ""},  {"MF", 590, ""},  {"BO", 591, "0"}, {"GY", 592, ""},  {"EC", 593, "0"},
    {"GF", 594, ""},  {"PY", 595, "0"}, {"MQ", 596, ""},  {"SR", 597, ""},  {"UY", 598, "0"},
    {"CW", 599, ""},  {"BQ", 599, ""},  {"TL", 670, ""},  {"NF", 672, ""},  {"AQ", 672, ""},
    {"BN", 673, ""},  {"NR", 674, ""},  {"PG", 675, ""},  {"TO", 676, ""},  {"SB", 677, ""},
    {"VU", 678, ""},  {"FJ", 679, ""},  {"PW", 680, ""},  {"WF", 681, ""},  {"CK", 682, ""},
    {"NU", 683, ""},  {"WS", 685, ""},  {"KI", 686, ""},  {"NC", 687, ""},  {"TV", 688, ""},
    {"PF", 689, ""},  {"TK", 690, ""},  {"FM", 691, ""},  {"MH", 692, ""},  {"KP", 850, ""},
    {"HK", 852, ""},  {"MO", 853, ""},  {"KH", 855, "0"}, {"LA", 856, "0"}, {"BD", 880, "0"},
    {"TW", 886, "0"}, {"MV", 960, ""},  {"LB", 961, "0"}, {"JO", 962, "0"}, {"SY", 963, "0"},
    {"IQ", 964, "0"}, {"KW", 965, ""},  {"SA", 966, "0"}, {"YE", 967, "0"}, {"OM", 968, ""},
    {"PS", 970, "0"}, {"AE", 971, "0"}, {"IL", 972, "0"}, {"BH", 973, ""},  {"QA", 974, ""},
    {"BT", 975, ""},  {"MN", 976, "0"}, {"NP", 977, "0"}, {"TJ", 992, ""},  {"TM", 993, "8"},
    {"AZ", 994, "0"}, {"GE", 995, "0"}, {"KG", 996, "0"}, {"UZ", 998, ""},
};

/* non-geographic codes (freephone, satellite, global services) */
static const unsigned short global_codes[] = {800, 808, 870, 878, 881, 882, 883, 888, 979};

#define NCOUNTRIES (sizeof countries / sizeof countries[0])

static const country *by_iso(const char *iso)
{
    if (!iso || strlen(iso) != 2)
        return NULL;
    char up[3] = {(char)toupper((unsigned char)iso[0]), (char)toupper((unsigned char)iso[1]), 0};
    for (size_t i = 0; i < NCOUNTRIES; i++)
        if (!strcmp(countries[i].iso, up))
            return &countries[i];
    return NULL;
}

static const country *by_code(unsigned code)
{
    for (size_t i = 0; i < NCOUNTRIES; i++)
        if (countries[i].code == code)
            return &countries[i];
    return NULL;
}

static int is_global(unsigned code)
{
    for (size_t i = 0; i < sizeof global_codes / sizeof global_codes[0]; i++)
        if (global_codes[i] == code)
            return 1;
    return 0;
}

unsigned bl_ident_calling_code(const char *iso)
{
    const country *c = by_iso(iso);
    return c ? c->code : 0;
}

/* NANP: NXX-NXX-XXXX with N in 2..9 */
static int nanp_ok(const char *d, size_t n)
{
    return n == 10 && d[0] >= '2' && d[3] >= '2';
}

static bl_status emit(unsigned code, const char *nsn, size_t n, char *out, size_t cap,
                      size_t *outlen, bl_error *err)
{
    char cc[8];
    int cl = snprintf(cc, sizeof cc, "%u", code);
    if (n < 4)
        return bl_error_set(err, BL_EINPUT, "phone number too short after calling code +%u", code);
    if ((size_t)cl + n > 15)
        return bl_error_set(err, BL_EINPUT, "phone number has %zu digits, E.164 allows at most 15",
                            (size_t)cl + n);
    if (code == 1 && !nanp_ok(nsn, n))
        return bl_error_set(err, BL_EINPUT,
                            "phone number is not a valid NANP number (+1 NXX NXX XXXX)");
    if ((size_t)cl + n + 2 > cap)
        return bl_error_set(err, BL_EINVAL, "output buffer too small");
    out[0] = '+';
    memcpy(out + 1, cc, (size_t)cl);
    memcpy(out + 1 + cl, nsn, n);
    *outlen = 1 + (size_t)cl + n;
    out[*outlen] = '\0';
    return BL_OK;
}

bl_status bl_ident_phone(const char *in, size_t len, const char *default_country, char *out,
                         size_t cap, size_t *outlen, bl_error *err)
{
    *outlen = 0;
    if (cap < 17)
        return bl_error_set(err, BL_EINVAL, "output buffer too small");
    out[0] = '\0';
    size_t b = 0, e = len;
    while (b < e && (in[b] == ' ' || in[b] == '\t'))
        b++;
    while (e > b && (in[e - 1] == ' ' || in[e - 1] == '\t' || in[e - 1] == '\r' || in[e - 1] == '\n'))
        e--;
    if (b == e)
        return BL_OK;
    if (e - b >= 4 && !strncasecmp(in + b, "tel:", 4))
        b += 4;
    char d[64];
    size_t n = 0;
    int plus = 0;
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= '0' && c <= '9') {
            if (n >= sizeof d - 1)
                return bl_error_set(err, BL_EINPUT, "phone number has too many digits");
            d[n++] = (char)c;
        } else if (c == '+' && n == 0 && !plus) {
            plus = 1;
        } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/') {
            continue;
        } else {
            if (c > 0x20 && c < 0x7f)
                return bl_error_set(err, BL_EINPUT, "phone number contains '%c'", c);
            return bl_error_set(err, BL_EINPUT, "phone number contains a non-ASCII or control byte");
        }
    }
    if (n == 0)
        return bl_error_set(err, BL_EINPUT, "phone number has no digits");
    const country *def = default_country && default_country[0] ? by_iso(default_country) : NULL;
    if (default_country && default_country[0] && !def)
        return bl_error_set(err, BL_EINVAL, "unknown default country '%s'", default_country);
    const char *intl = NULL;
    size_t il = 0;
    if (plus) {
        intl = d;
        il = n;
    } else if (def && def->code == 1 && n > 3 && !memcmp(d, "011", 3)) {
        intl = d + 3;
        il = n - 3;
    } else if (n > 2 && !memcmp(d, "00", 2) && !(def && def->code == 1)) {
        intl = d + 2;
        il = n - 2;
    }
    if (intl) {
        for (size_t k = 1; k <= 3 && k < il; k++) {
            unsigned code = 0;
            for (size_t i = 0; i < k; i++)
                code = code * 10 + (unsigned)(intl[i] - '0');
            const country *c = by_code(code);
            if (!c && !is_global(code))
                continue;
            const char *nsn = intl + k;
            size_t nl = il - k;
            /* "+44 (0)20 ..." : a trunk 0 written after the code */
            if (c && !strcmp(c->trunk, "0") && nl > 0 && nsn[0] == '0') {
                nsn++;
                nl--;
                if (nl > 0 && nsn[0] == '0')
                    return bl_error_set(err, BL_EINPUT,
                                        "phone number: national number after +%u starts with 0",
                                        code);
            }
            return emit(code, nsn, nl, out, cap, outlen, err);
        }
        return bl_error_set(err, BL_EINPUT, "phone number has no valid calling code");
    }
    if (!def)
        return bl_error_set(err, BL_EINPUT,
                            "phone number is national but no default country is set");
    const char *nsn = d;
    size_t nl = n;
    size_t tl = strlen(def->trunk);
    if (def->code == 1) {
        if (nl == 11 && d[0] == '1') {
            nsn++;
            nl--;
        }
    } else if (tl > 0 && nl > tl && !memcmp(nsn, def->trunk, tl)) {
        nsn += tl;
        nl -= tl;
    }
    return emit(def->code, nsn, nl, out, cap, outlen, err);
}
