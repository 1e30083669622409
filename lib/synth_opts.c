/* lib/synth_opts.c - options of `blindlink synth`: defaults, the named
 * corruption levels, names of fields and corruption kinds, and validation. */
#include <math.h>
#include <string.h>

#include "synth_internal.h"

static const char *const corruption_names[BL_SYNTH_NCORRUPTIONS] = {
    "typo-insert", "typo-delete", "typo-substitute", "typo-transpose", "ocr",
    "phonetic", "variant", "swap-names", "missing", "date-swap", "date-year",
    "email-change", "phone-change", "accent",
};

static const char *const field_names[BL_SYNTH_NFIELDS] = {
    "given_name", "surname", "date_of_birth", "sex", "address",
    "suburb", "postcode", "state", "email", "phone",
};

/* Probabilities per level, in bl_synth_corruption order. */
static const double level_low[BL_SYNTH_NCORRUPTIONS] = {
    0.01, 0.01, 0.01, 0.01, 0.005, 0.01, 0.02, 0.005, 0.01, 0.01, 0.01, 0.02, 0.02, 0.05,
};
static const double level_medium[BL_SYNTH_NCORRUPTIONS] = {
    0.03, 0.03, 0.03, 0.03, 0.01, 0.03, 0.05, 0.01, 0.03, 0.03, 0.03, 0.05, 0.05, 0.2,
};
static const double level_high[BL_SYNTH_NCORRUPTIONS] = {
    0.08, 0.08, 0.08, 0.08, 0.03, 0.08, 0.12, 0.03, 0.08, 0.06, 0.06, 0.15, 0.15, 0.5,
};

const char *bl_synth_corruption_name(bl_synth_corruption c)
{
    return (unsigned)c < BL_SYNTH_NCORRUPTIONS ? corruption_names[c] : NULL;
}

const char *bl_synth_field_name(bl_synth_field f)
{
    return (unsigned)f < BL_SYNTH_NFIELDS ? field_names[f] : NULL;
}

void bl_synth_opts_init(bl_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->records = 1000;
    o->parties = 2;
    o->overlap = 0.5;
    o->dup_share = 0.5;
    o->max_dups = 3;
    o->dup_dist = BL_SYNTH_DUPS_UNIFORM;
    o->unicode_share = 0.05;
    o->date_format = BL_SYNTH_DATE_ISO;
    memcpy(o->prob, level_medium, sizeof o->prob);
}

bl_status bl_synth_set_level(bl_synth_opts *o, const char *level, bl_error *err)
{
    if (!level)
        return bl_error_set(err, BL_EINVAL, "corruption level: missing");
    if (!strcmp(level, "none"))
        memset(o->prob, 0, sizeof o->prob);
    else if (!strcmp(level, "low"))
        memcpy(o->prob, level_low, sizeof o->prob);
    else if (!strcmp(level, "medium"))
        memcpy(o->prob, level_medium, sizeof o->prob);
    else if (!strcmp(level, "high"))
        memcpy(o->prob, level_high, sizeof o->prob);
    else
        return bl_error_set(err, BL_EINVAL,
                            "corruption level '%s': must be none, low, medium or high", level);
    return BL_OK;
}

static int prob_ok(double p)
{
    return isfinite(p) && p >= 0.0 && p <= 1.0;
}

bl_status bl_synth_opts_check(const bl_synth_opts *o, bl_error *err)
{
    if (!o)
        return bl_error_set(err, BL_EINVAL, "no options");
    if (o->records < 1 || o->records > BL_SYNTH_MAX_RECORDS)
        return bl_error_set(err, BL_EINVAL, "--records %llu: must be 1..%llu",
                            (unsigned long long)o->records,
                            (unsigned long long)BL_SYNTH_MAX_RECORDS);
    if (!o->dedup && (o->parties < 2 || o->parties > BL_SYNTH_MAX_PARTIES))
        return bl_error_set(err, BL_EINVAL, "--parties %u: must be 2..%d", o->parties,
                            BL_SYNTH_MAX_PARTIES);
    if (!prob_ok(o->overlap))
        return bl_error_set(err, BL_EINVAL, "--overlap %g: must be within [0, 1]", o->overlap);
    if (!prob_ok(o->dup_share))
        return bl_error_set(err, BL_EINVAL, "--dup-share %g: must be within [0, 1]",
                            o->dup_share);
    if (o->max_dups < 1 || o->max_dups > BL_SYNTH_MAX_DUPS)
        return bl_error_set(err, BL_EINVAL, "--max-dups %u: must be 1..%d", o->max_dups,
                            BL_SYNTH_MAX_DUPS);
    if ((unsigned)o->dup_dist > BL_SYNTH_DUPS_ZIPF)
        return bl_error_set(err, BL_EINVAL, "--dup-dist: unknown distribution");
    if (!prob_ok(o->unicode_share))
        return bl_error_set(err, BL_EINVAL, "--unicode-share %g: must be within [0, 1]",
                            o->unicode_share);
    if ((unsigned)o->date_format > BL_SYNTH_DATE_DMY)
        return bl_error_set(err, BL_EINVAL, "--date-format: unknown format");
    if (o->dedup && o->records * (uint64_t)(o->max_dups + 1) > BL_SYNTH_MAX_RECORDS * 10)
        return bl_error_set(err, BL_EINVAL, "--records x --max-dups too large");
    if (!o->dedup && o->records * (uint64_t)o->parties > BL_SYNTH_MAX_RECORDS * 10)
        return bl_error_set(err, BL_EINVAL, "--records x --parties too large");
    for (int k = 0; k < BL_SYNTH_NCORRUPTIONS; k++)
        if (!prob_ok(o->prob[k]))
            return bl_error_set(err, BL_EINVAL, "--%s %g: probability must be within [0, 1]",
                                corruption_names[k], o->prob[k]);
    return BL_OK;
}
