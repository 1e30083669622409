/* lib/synth/hard.c - the "hard" corruption level: everything the model has to
 * survive at once (docs/synth.md): high typo rates, nicknames, swapped names,
 * day/month swaps, year typos, missing and changed fields, dropped accents,
 * 30% of people named from the small international lists (so different
 * people share names), and changes of Unicode form and letter case of names
 * (NFD instead of NFC, UPPER, Title), done with utf8proc. */
#include <string.h>
#include <utf8proc.h>

#include "synth/synth_internal.h"

static const double level_hard[BL_SYNTH_NCORRUPTIONS] = {
    /* typo insert, delete, substitute, transpose, ocr, phonetic, variant */
    0.06, 0.06, 0.06, 0.06, 0.02, 0.06, 0.20,
    /* swap names, missing, date swap, date year, email change, phone change, accent */
    0.05, 0.08, 0.08, 0.06, 0.15, 0.15, 0.60,
};

void bl_synth_hard_level(bl_synth_opts *o)
{
    memcpy(o->prob, level_hard, sizeof o->prob);
    o->unicode_share = 0.3;
    o->forms = 0.3;
}

/* Rewrite s (capacity cap) by code point: mode 0 NFD, 1 upper, 2 title. */
static void reform(char *s, size_t cap, int mode)
{
    utf8proc_uint8_t *m = NULL;
    if (mode == 0) {
        if (utf8proc_map((const utf8proc_uint8_t *)s, 0, &m, UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE) < 0)
            return;
        if (strlen((char *)m) < cap)
            strcpy(s, (char *)m);
        free(m);
        return;
    }
    char out[BL_SYNTH_FIELD_MAX * 2];
    size_t o = 0, len = strlen(s);
    int start = 1;
    for (utf8proc_ssize_t i = 0; i < (utf8proc_ssize_t)len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t w = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)len - i, &c);
        if (w <= 0)
            return;
        utf8proc_int32_t d = (mode == 1 || start) ? utf8proc_toupper(c) : c;
        start = c == ' ' || c == '-';
        if (o + 4 >= sizeof out)
            return;
        o += (size_t)utf8proc_encode_char(d, (utf8proc_uint8_t *)out + o);
        i += w;
    }
    out[o] = '\0';
    if (o < cap)
        memcpy(s, out, o + 1);
}

int bl_synth_apply_forms(bl_synth_record *r, uint64_t rng[4], double p)
{
    static const bl_synth_field fields[] = {BL_SYNTH_GIVEN_NAME, BL_SYNTH_SURNAME, BL_SYNTH_SUBURB};
    int changed = 0;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        double u = bli_sx_unit(rng);
        int mode = (int)(bli_sx_unit(rng) * 3);
        if (u >= p || !r->field[fields[i]][0])
            continue;
        reform(r->field[fields[i]], BL_SYNTH_FIELD_MAX, mode > 2 ? 2 : mode);
        changed = 1;
    }
    return changed;
}
