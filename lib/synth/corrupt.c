/* lib/synth/corrupt.c - string-level corruptions of `blindlink synth`:
 * keyboard typos (insert, delete, substitute, transpose with QWERTY
 * neighbours), OCR confusions and phonetic variants from Febrl's rule
 * tables, name variants / nicknames, dropped accents and missing values.
 * All operations work on UTF-8 code points, never split a character and
 * never grow a value past its buffer. */
#include <string.h>
#include <utf8proc.h>

#include "synth/synth_internal.h"

#define MAXCP BL_SYNTH_FIELD_MAX

/* QWERTY neighbours of each lower-case letter and digit. */
static const char *const kb_letter[26] = {
    "qwsz",   /* a */ "ghvn",   /* b */ "dfxv",   /* c */ "erfsxc", /* d */
    "34wrsd", /* e */ "rtgdcv", /* f */ "tyhfvb", /* g */ "yujgbn", /* h */
    "89uojk", /* i */ "uikhnm", /* j */ "iojlm",  /* k */ "opk",    /* l */
    "jkn",    /* m */ "hjbm",   /* n */ "90ipkl", /* o */ "0ol",    /* p */
    "12wa",   /* q */ "45etdf", /* r */ "weadzx", /* s */ "56ryfg", /* t */
    "78yihj", /* u */ "fgcb",   /* v */ "23qeas", /* w */ "sdzc",   /* x */
    "67tugh", /* y */ "asx",    /* z */
};
static const char *const kb_digit[10] = {
    "9op", "2q", "13qw", "24we", "35er", "46rt", "57ty", "68yu", "79ui", "80io",
};

/* Split s into code points: off[i] is the byte offset of code point i,
 * off[n] = strlen(s). Returns n, or -1 for invalid UTF-8. */
static int cp_split(const char *s, int off[MAXCP + 1])
{
    int n = 0;
    size_t i = 0, len = strlen(s);
    while (i < len && n < MAXCP) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0)
            return -1;
        off[n++] = (int)i;
        i += (size_t)k;
    }
    if (i < len)
        return -1;
    off[n] = (int)len;
    return n;
}

/* Replace bytes [a, b) of s by rep (rlen bytes); 0 when it would not fit. */
static int splice(char *s, size_t cap, size_t a, size_t b, const char *rep, size_t rlen)
{
    size_t len = strlen(s);
    if (len - (b - a) + rlen + 1 > cap)
        return 0;
    memmove(s + a + rlen, s + b, len - b + 1);
    memcpy(s + a, rep, rlen);
    return 1;
}

/* A keyboard neighbour of ASCII character c, or 0 when c has none. */
static char kb_neighbour(char c, uint64_t rng[4])
{
    const char *nb = NULL;
    int upper = 0;
    if (c >= 'A' && c <= 'Z') {
        upper = 1;
        c = (char)(c + 32);
    }
    if (c >= 'a' && c <= 'z')
        nb = kb_letter[c - 'a'];
    else if (c >= '0' && c <= '9')
        nb = kb_digit[c - '0'];
    if (!nb)
        return 0;
    char r = nb[bli_sx_below(rng, (uint32_t)strlen(nb))];
    if (upper && r >= 'a' && r <= 'z')
        r = (char)(r - 32);
    return r;
}

static int typo_insert(char *s, size_t cap, uint64_t rng[4])
{
    int off[MAXCP + 1];
    int n = cp_split(s, off);
    if (n <= 0)
        return 0;
    /* insert before code point `at` (0..n); the key pressed is a neighbour
     * of the character next to it, or a copy of that character */
    int at = (int)bli_sx_below(rng, (uint32_t)n + 1);
    int ref = at < n ? at : n - 1;
    if (at > 0 && bli_sx_below(rng, 2))
        ref = at - 1;
    const char *rc = s + off[ref];
    int rlen = off[ref + 1] - off[ref];
    char k = rlen == 1 ? kb_neighbour(*rc, rng) : 0;
    char buf[8];
    if (k) {
        buf[0] = k;
        rlen = 1;
    } else {
        memcpy(buf, rc, (size_t)rlen);
    }
    return splice(s, cap, (size_t)off[at], (size_t)off[at], buf, (size_t)rlen);
}

static int typo_delete(char *s, size_t cap, uint64_t rng[4])
{
    int off[MAXCP + 1];
    int n = cp_split(s, off);
    if (n < 2)
        return 0;
    int at = (int)bli_sx_below(rng, (uint32_t)n);
    return splice(s, cap, (size_t)off[at], (size_t)off[at + 1], "", 0);
}

static int typo_substitute(char *s, size_t cap, uint64_t rng[4])
{
    int off[MAXCP + 1];
    int n = cp_split(s, off);
    if (n <= 0)
        return 0;
    /* prefer a character with keyboard neighbours; otherwise substitute
     * another character of the same value (same script) */
    for (int tries = 0; tries < 8; tries++) {
        int at = (int)bli_sx_below(rng, (uint32_t)n);
        int clen = off[at + 1] - off[at];
        if (clen == 1) {
            char k = kb_neighbour(s[off[at]], rng);
            if (k && k != s[off[at]])
                return splice(s, cap, (size_t)off[at], (size_t)off[at + 1], &k, 1);
            continue;
        }
        int other = (int)bli_sx_below(rng, (uint32_t)n);
        int olen = off[other + 1] - off[other];
        if (olen == clen && !memcmp(s + off[other], s + off[at], (size_t)clen))
            continue;
        char buf[8];
        memcpy(buf, s + off[other], (size_t)olen);
        return splice(s, cap, (size_t)off[at], (size_t)off[at + 1], buf, (size_t)olen);
    }
    return 0;
}

static int typo_transpose(char *s, size_t cap, uint64_t rng[4])
{
    int off[MAXCP + 1];
    int n = cp_split(s, off);
    if (n < 2)
        return 0;
    for (int tries = 0; tries < 8; tries++) {
        int at = (int)bli_sx_below(rng, (uint32_t)n - 1);
        int a = off[at], b = off[at + 1], c = off[at + 2];
        if (b - a == c - b && !memcmp(s + a, s + b, (size_t)(b - a)))
            continue;
        char buf[16];
        memcpy(buf, s + b, (size_t)(c - b));
        memcpy(buf + (c - b), s + a, (size_t)(b - a));
        return splice(s, cap, (size_t)a, (size_t)c, buf, (size_t)(c - a));
    }
    return 0;
}

/* Pick one occurrence among all matches of all OCR rules. */
static int ocr_apply(char *s, size_t cap, uint64_t rng[4])
{
    size_t len = strlen(s);
    uint32_t count = 0, chosen_rule = 0;
    size_t chosen_at = 0;
    for (uint32_t r = 0; r < bl_st_ocr.n; r++) {
        const char *from = bl_st_ocr.val[r].a;
        size_t fl = strlen(from);
        for (size_t i = 0; i + fl <= len; i++) {
            if (s[i] != from[0] || memcmp(s + i, from, fl))
                continue;
            /* reservoir sampling keeps the choice uniform over matches */
            count++;
            if (bli_sx_below(rng, count) == 0) {
                chosen_rule = r;
                chosen_at = i;
            }
        }
    }
    if (!count)
        return 0;
    const bl_st_pair *p = &bl_st_ocr.val[chosen_rule];
    return splice(s, cap, chosen_at, chosen_at + strlen(p->a), p->b, strlen(p->b));
}

static int is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static int is_consonant(char c)
{
    return c >= 'a' && c <= 'z' && !is_vowel(c);
}

static int cond_ok(uint8_t cond, const char *s, size_t len, size_t at)
{
    if (cond == 0)
        return 1;
    if (at >= len || at == (size_t)-1)
        return 0;
    return cond == 1 ? is_vowel(s[at]) : is_consonant(s[at]);
}

static int phonetic_apply(char *s, size_t cap, uint64_t rng[4])
{
    size_t len = strlen(s);
    uint32_t count = 0, chosen_rule = 0;
    size_t chosen_at = 0;
    for (uint32_t r = 0; r < bl_st_phonetic.n; r++) {
        const bl_st_rule *ru = &bl_st_phonetic.val[r];
        size_t fl = strlen(ru->from);
        for (size_t i = 0; i + fl <= len; i++) {
            if (s[i] != ru->from[0] || memcmp(s + i, ru->from, fl))
                continue;
            int start = i == 0, end = i + fl == len;
            if ((ru->pos == 1 && !start) || (ru->pos == 3 && !end) ||
                (ru->pos == 2 && (start || end)))
                continue;
            if (!cond_ok(ru->pre, s, len, i - 1) || !cond_ok(ru->post, s, len, i + fl))
                continue;
            count++;
            if (bli_sx_below(rng, count) == 0) {
                chosen_rule = r;
                chosen_at = i;
            }
        }
    }
    if (!count)
        return 0;
    const bl_st_rule *ru = &bl_st_phonetic.val[chosen_rule];
    return splice(s, cap, chosen_at, chosen_at + strlen(ru->from), ru->to, strlen(ru->to));
}

static int variant_apply(const bl_st_pairs *t, char *s, size_t cap, uint64_t rng[4])
{
    /* first row whose key is >= s */
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->val[mid].a, s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t end = lo;
    while (end < t->n && !strcmp(t->val[end].a, s))
        end++;
    if (end == lo)
        return 0;
    const char *v = t->val[lo + bli_sx_below(rng, end - lo)].b;
    if (strlen(v) + 1 > cap)
        return 0;
    memmove(s, v, strlen(v) + 1);
    return 1;
}

/* Drop combining marks from every decomposable character (é -> e, й -> и);
 * characters whose decomposition is not base + marks (Hangul) stay. */
static int accent_strip(char *s, size_t cap)
{
    char out[BL_SYNTH_FIELD_MAX * 2];
    size_t n = 0, len = strlen(s), i = 0;
    int changed = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0)
            return 0;
        utf8proc_int32_t keep = cp;
        if (cp >= 0x80) {
            utf8proc_int32_t dec[8];
            int last = 0;
            utf8proc_ssize_t m =
                utf8proc_decompose_char(cp, dec, 8, UTF8PROC_DECOMPOSE, &last);
            if (m >= 2 && m <= 8) {
                int marks = 1;
                for (utf8proc_ssize_t j = 1; j < m; j++)
                    if (utf8proc_category(dec[j]) != UTF8PROC_CATEGORY_MN)
                        marks = 0;
                if (marks && utf8proc_category(dec[0]) != UTF8PROC_CATEGORY_MN) {
                    keep = dec[0];
                    changed = 1;
                }
            }
        }
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t el = utf8proc_encode_char(keep, enc);
        if (n + (size_t)el >= sizeof out)
            return 0;
        memcpy(out + n, enc, (size_t)el);
        n += (size_t)el;
        i += (size_t)k;
    }
    if (!changed || n + 1 > cap)
        return 0;
    memcpy(s, out, n);
    s[n] = '\0';
    return 1;
}

int bl_synth_corrupt_value(bl_synth_corruption kind, bl_synth_field f, char *s, size_t cap,
                           uint64_t rng_state[4])
{
    if (!s || cap == 0 || !s[0])
        return 0;
    switch (kind) {
    case BL_SYNTH_TYPO_INSERT: return typo_insert(s, cap, rng_state);
    case BL_SYNTH_TYPO_DELETE: return typo_delete(s, cap, rng_state);
    case BL_SYNTH_TYPO_SUBSTITUTE: return typo_substitute(s, cap, rng_state);
    case BL_SYNTH_TYPO_TRANSPOSE: return typo_transpose(s, cap, rng_state);
    case BL_SYNTH_OCR: return ocr_apply(s, cap, rng_state);
    case BL_SYNTH_PHONETIC: return phonetic_apply(s, cap, rng_state);
    case BL_SYNTH_VARIANT:
        if (f == BL_SYNTH_GIVEN_NAME)
            return variant_apply(&bl_st_given_var, s, cap, rng_state);
        if (f == BL_SYNTH_SURNAME)
            return variant_apply(&bl_st_surname_var, s, cap, rng_state);
        if (f == BL_SYNTH_SUBURB)
            return variant_apply(&bl_st_suburb_var, s, cap, rng_state);
        return 0;
    case BL_SYNTH_MISSING:
        s[0] = '\0';
        return 1;
    case BL_SYNTH_ACCENT: return accent_strip(s, cap);
    default: return 0;
    }
}

void bl_synth_rng_seed(uint64_t rng_state[4], uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng_state[i] = bli_sx_splitmix(&x);
}
