/* lib/synth/synth.c - the `blindlink synth` generator: options and the named
 * corruption levels, dataset layout (parties with overlap, or deduplication
 * sets), shuffling by keyed permutations, drawing base person records from
 * the frequency tables, and applying the per-record corruption model. Every record is a pure function of
 * (seed, dataset, slot), so generation streams in constant memory and can
 * be split across threads without changing a byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth/synth_internal.h"

/* Stream tags mixed into the seed so the draws of different purposes never
 * share a PRNG stream. */
enum {
    TAG_BASE = 1, TAG_COPY, TAG_PERM, TAG_ENTITY, TAG_DUPS, TAG_EMAIL, TAG_PHONE
};

/* Reference year for dates of birth (age 0 = born in REF_YEAR - 1). */
#define REF_YEAR 2020

/* A keyed bijection on [0, n): balanced Feistel network on the smallest
 * even bit width covering n, cycle-walking back into range. */
typedef struct perm {
    uint64_t n, mask;
    unsigned half;
    uint64_t key[4];
} perm;

static void perm_init(perm *p, uint64_t n, uint64_t key)
{
    unsigned bits = 2;
    while (bits < 64 && ((uint64_t)1 << bits) < n)
        bits++;
    if (bits & 1)
        bits++;
    p->n = n;
    p->half = bits / 2;
    p->mask = ((uint64_t)1 << p->half) - 1;
    uint64_t x = key;
    for (int i = 0; i < 4; i++)
        p->key[i] = bli_sx_splitmix(&x);
}

static uint64_t perm_apply(const perm *p, uint64_t v)
{
    if (p->n <= 1)
        return v;
    do {
        uint64_t l = v >> p->half, r = v & p->mask;
        for (int round = 0; round < 4; round++) {
            uint64_t x = r ^ p->key[round];
            uint64_t f = bli_sx_splitmix(&x) & p->mask;
            uint64_t nl = r;
            r = l ^ f;
            l = nl;
        }
        v = (l << p->half) | r;
    } while (v >= p->n);
    return v;
}

struct bl_synth {
    bl_synth_opts o;
    unsigned ndata;
    uint64_t common, unique; /* linkage layout */
    uint64_t entities;
    perm entity_perm;
    perm slot_perm[BL_SYNTH_MAX_PARTIES];
    uint64_t nslots[BL_SYNTH_MAX_PARTIES];
    uint64_t size[BL_SYNTH_MAX_PARTIES];
    uint32_t intl_cum[16];
    uint32_t dup_cum[BL_SYNTH_MAX_DUPS];
};

/* Which corruptions apply to which field (string-level kinds). */
static const uint32_t field_kinds[BL_SYNTH_NFIELDS] = {
#define K(x) (1u << BL_SYNTH_##x)
#define TYPOS (K(TYPO_INSERT) | K(TYPO_DELETE) | K(TYPO_SUBSTITUTE) | K(TYPO_TRANSPOSE))
    [BL_SYNTH_GIVEN_NAME] = TYPOS | K(OCR) | K(PHONETIC) | K(VARIANT) | K(ACCENT) | K(MISSING),
    [BL_SYNTH_SURNAME] = TYPOS | K(OCR) | K(PHONETIC) | K(VARIANT) | K(ACCENT) | K(MISSING),
    [BL_SYNTH_DOB] = K(MISSING),
    [BL_SYNTH_SEX] = K(MISSING),
    [BL_SYNTH_ADDRESS] = TYPOS | K(OCR) | K(PHONETIC) | K(MISSING),
    [BL_SYNTH_SUBURB] = TYPOS | K(OCR) | K(PHONETIC) | K(VARIANT) | K(MISSING),
    [BL_SYNTH_POSTCODE] = TYPOS | K(OCR) | K(MISSING),
    [BL_SYNTH_STATE] = K(MISSING),
    [BL_SYNTH_EMAIL] = TYPOS | K(MISSING),
    [BL_SYNTH_PHONE] = TYPOS | K(OCR) | K(MISSING),
#undef TYPOS
#undef K
};

/* Order in which string corruptions run on a field; missing is last. */
static const bl_synth_corruption field_order[] = {
    BL_SYNTH_VARIANT,        BL_SYNTH_PHONETIC,       BL_SYNTH_OCR,
    BL_SYNTH_TYPO_INSERT,    BL_SYNTH_TYPO_DELETE,    BL_SYNTH_TYPO_SUBSTITUTE,
    BL_SYNTH_TYPO_TRANSPOSE, BL_SYNTH_ACCENT,         BL_SYNTH_MISSING,
};

static const char *const email_domains[] = {
    "example.com", "example.net", "example.org", "mail.example.com",
    "inbox.example.net", "post.example.org", "example.com.au", "webmail.example",
};

/* ---- options ----------------------------------------------------------------- */

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
    else if (!strcmp(level, "hard"))
        bl_synth_hard_level(o);
    else
        return bl_error_set(err, BL_EINVAL,
                            "corruption level '%s': must be none, low, medium, high or hard", level);
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

/* ---- the uncorrupted person ---------------------------------------------- */

typedef struct person {
    char given[BL_SYNTH_FIELD_MAX], surname[BL_SYNTH_FIELD_MAX];
    int year, month, day;
    char sex;
    char address[BL_SYNTH_FIELD_MAX];
    const bl_st_loc *loc;
    char email[BL_SYNTH_FIELD_MAX], phone[32];
} person;

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[(m - 1) % 12];
}

static const char *pick_freq(uint64_t rng[4], const bl_st_freq *t)
{
    return t->val[bli_sx_pick_cum(rng, t->cum, t->n)];
}

static const char *pick_list(uint64_t rng[4], const char *const *v, uint32_t n)
{
    return v[bli_sx_below(rng, n)];
}

/* Email from the person's names in one of several common patterns. */
static void make_email(const person *p, uint64_t rng[4], char *out, size_t cap)
{
    char g[48], s[48];
    bli_sx_ascii_fold(p->given, g, sizeof g);
    bli_sx_ascii_fold(p->surname, s, sizeof s);
    const char *dom = email_domains[bli_sx_below(rng, sizeof email_domains / sizeof *email_domains)];
    unsigned num = bli_sx_below(rng, 100);
    if (!g[0] || !s[0]) {
        /* a name with no ASCII form: providers hand out a handle */
        snprintf(out, cap, "user%06u@%s", bli_sx_below(rng, 1000000), dom);
        return;
    }
    int n;
    switch (bli_sx_below(rng, 6)) {
    case 0: n = snprintf(out, cap, "%s.%s@%s", g, s, dom); break;
    case 1: n = snprintf(out, cap, "%s_%s%02u@%s", g, s, num, dom); break;
    case 2: n = snprintf(out, cap, "%c%s@%s", g[0], s, dom); break;
    case 3: n = snprintf(out, cap, "%s%s%02u@%s", g, s, num, dom); break;
    case 4: n = snprintf(out, cap, "%s.%s@%s", s, g, dom); break;
    default: n = snprintf(out, cap, "%s%u@%s", g, 1900u + bli_sx_below(rng, 120), dom); break;
    }
    if (n < 0 || (size_t)n >= cap) /* cannot happen with 48-byte name parts */
        snprintf(out, cap, "user%06u@%s", bli_sx_below(rng, 1000000), dom);
}

static const char *area_code(const char *state)
{
    for (uint32_t i = 0; i < bl_st_areacode.n; i++)
        if (!strcmp(bl_st_areacode.val[i].a, state))
            return bl_st_areacode.val[i].b;
    return "02";
}

static void make_phone(const person *p, uint64_t rng[4], char *out, size_t cap)
{
    unsigned a = bli_sx_below(rng, 10000), b = bli_sx_below(rng, 10000);
    if (bli_sx_below(rng, 100) < 55)
        snprintf(out, cap, "04%02u %03u %03u", a % 100, (a / 100) * 10 + b / 1000, b % 1000);
    else
        snprintf(out, cap, "%s %04u %04u", area_code(p->loc->state), a, b);
}

static void make_person(const bl_synth *g, uint64_t entity, person *p)
{
    uint64_t rng[4];
    bl_synth_rng_seed(rng, bli_sx_hash(g->o.seed, TAG_BASE, entity));
    p->sex = bli_sx_below(rng, 2) ? 'm' : 'f';
    if (bli_sx_chance(rng, g->o.unicode_share)) {
        const bl_sx_intl *gr =
            &bl_sx_intl_groups[bli_sx_pick_cum(rng, g->intl_cum, bl_sx_intl_ngroups)];
        bli_sx_copy(p->given, sizeof p->given,
                   p->sex == 'f' ? pick_list(rng, gr->given_f, gr->n_f)
                                 : pick_list(rng, gr->given_m, gr->n_m));
        bli_sx_copy(p->surname, sizeof p->surname, pick_list(rng, gr->surname, gr->n_s));
    } else {
        bli_sx_copy(p->given, sizeof p->given,
                   pick_freq(rng, p->sex == 'f' ? &bl_st_given_f : &bl_st_given_m));
        bli_sx_copy(p->surname, sizeof p->surname, pick_freq(rng, &bl_st_surname));
    }
    int age = bl_st_age.years[bli_sx_pick_cum(rng, bl_st_age.cum, bl_st_age.n)];
    p->year = REF_YEAR - 1 - age;
    p->month = 1 + (int)bli_sx_below(rng, 12);
    p->day = 1 + (int)bli_sx_below(rng, (uint32_t)days_in_month(p->year, p->month));
    snprintf(p->address, sizeof p->address, "%s %s", pick_freq(rng, &bl_st_streetnum),
             pick_freq(rng, &bl_st_street));
    p->loc = &bl_st_locality.val[bli_sx_pick_cum(rng, bl_st_locality.cum, bl_st_locality.n)];
    make_email(p, rng, p->email, sizeof p->email);
    make_phone(p, rng, p->phone, sizeof p->phone);
}

static void format_date(const bl_synth *g, int y, int m, int d, char *out, size_t cap)
{
    switch (g->o.date_format) {
    case BL_SYNTH_DATE_FEBRL: snprintf(out, cap, "%04d%02d%02d", y, m, d); break;
    case BL_SYNTH_DATE_DMY: snprintf(out, cap, "%02d-%02d-%04d", d, m, y); break;
    default: snprintf(out, cap, "%04d-%02d-%02d", y, m, d); break;
    }
}

static void person_to_record(const bl_synth *g, const person *p, bl_synth_record *r)
{
    bli_sx_copy(r->field[BL_SYNTH_GIVEN_NAME], BL_SYNTH_FIELD_MAX, p->given);
    bli_sx_copy(r->field[BL_SYNTH_SURNAME], BL_SYNTH_FIELD_MAX, p->surname);
    format_date(g, p->year, p->month, p->day, r->field[BL_SYNTH_DOB], BL_SYNTH_FIELD_MAX);
    r->field[BL_SYNTH_SEX][0] = p->sex;
    r->field[BL_SYNTH_SEX][1] = '\0';
    bli_sx_copy(r->field[BL_SYNTH_ADDRESS], BL_SYNTH_FIELD_MAX, p->address);
    bli_sx_copy(r->field[BL_SYNTH_SUBURB], BL_SYNTH_FIELD_MAX, p->loc->suburb);
    bli_sx_copy(r->field[BL_SYNTH_POSTCODE], BL_SYNTH_FIELD_MAX, p->loc->postcode);
    bli_sx_copy(r->field[BL_SYNTH_STATE], BL_SYNTH_FIELD_MAX, p->loc->state);
    bli_sx_copy(r->field[BL_SYNTH_EMAIL], BL_SYNTH_FIELD_MAX, p->email);
    bli_sx_copy(r->field[BL_SYNTH_PHONE], BL_SYNTH_FIELD_MAX, p->phone);
}

/* ---- the corruption model -------------------------------------------------- */

static void year_typo(int *year, uint64_t rng[4])
{
    int y = *year, tens = (y / 10) % 10, ones = y % 10;
    for (int tries = 0; tries < 8; tries++) {
        int ny = y;
        switch (bli_sx_below(rng, 3)) {
        case 0: ny = y - ones + (ones == 0 ? 1 : ones == 9 ? 8 : ones + (bli_sx_below(rng, 2) ? 1 : -1)); break;
        case 1: ny = y - 10 * tens + 10 * (tens == 0 ? 1 : tens == 9 ? 8 : tens + (bli_sx_below(rng, 2) ? 1 : -1)); break;
        default: ny = y - 10 * tens - ones + 10 * ones + tens; break;
        }
        if (ny != y) {
            *year = ny;
            return;
        }
    }
    *year = y + 1;
}

static void corrupt(const bl_synth *g, person *p, uint64_t entity, uint64_t copykey,
                    bl_synth_record *r)
{
    const double *pr = g->o.prob;
    uint64_t rng[4];
    bl_synth_rng_seed(rng, bli_sx_hash(g->o.seed ^ 0x5EEDC0FFEEull, entity, copykey));
    uint32_t rec_applied[BL_SYNTH_NFIELDS] = {0};

    if (bli_sx_chance(rng, pr[BL_SYNTH_SWAP_NAMES]) && strcmp(p->given, p->surname)) {
        char tmp[BL_SYNTH_FIELD_MAX];
        memcpy(tmp, p->given, sizeof tmp);
        memcpy(p->given, p->surname, sizeof tmp);
        memcpy(p->surname, tmp, sizeof tmp);
        rec_applied[BL_SYNTH_GIVEN_NAME] |= 1u << BL_SYNTH_SWAP_NAMES;
        rec_applied[BL_SYNTH_SURNAME] |= 1u << BL_SYNTH_SWAP_NAMES;
    }
    /* day/month swap only where it still gives a valid, different date */
    if (bli_sx_chance(rng, pr[BL_SYNTH_DATE_SWAP]) && p->day <= 12 && p->day != p->month) {
        int t = p->day;
        p->day = p->month;
        p->month = t;
        rec_applied[BL_SYNTH_DOB] |= 1u << BL_SYNTH_DATE_SWAP;
    }
    if (bli_sx_chance(rng, pr[BL_SYNTH_DATE_YEAR])) {
        year_typo(&p->year, rng);
        if (p->month == 2 && p->day == 29)
            p->day = days_in_month(p->year, 2);
        rec_applied[BL_SYNTH_DOB] |= 1u << BL_SYNTH_DATE_YEAR;
    }
    if (bli_sx_chance(rng, pr[BL_SYNTH_EMAIL_CHANGE])) {
        uint64_t er[4];
        bl_synth_rng_seed(er, bli_sx_hash(g->o.seed, TAG_EMAIL, entity ^ (copykey << 40)));
        char old[BL_SYNTH_FIELD_MAX];
        memcpy(old, p->email, sizeof old);
        for (int tries = 0; tries < 8 && !strcmp(old, p->email); tries++)
            make_email(p, er, p->email, sizeof p->email);
        if (strcmp(old, p->email))
            rec_applied[BL_SYNTH_EMAIL] |= 1u << BL_SYNTH_EMAIL_CHANGE;
    }
    if (bli_sx_chance(rng, pr[BL_SYNTH_PHONE_CHANGE])) {
        uint64_t pr2[4];
        bl_synth_rng_seed(pr2, bli_sx_hash(g->o.seed, TAG_PHONE, entity ^ (copykey << 40)));
        char old[32];
        memcpy(old, p->phone, sizeof old);
        for (int tries = 0; tries < 8 && !strcmp(old, p->phone); tries++)
            make_phone(p, pr2, p->phone, sizeof p->phone);
        if (strcmp(old, p->phone))
            rec_applied[BL_SYNTH_PHONE] |= 1u << BL_SYNTH_PHONE_CHANGE;
    }

    person_to_record(g, p, r);
    for (int f = 0; f < BL_SYNTH_NFIELDS; f++) {
        r->applied[f] = rec_applied[f];
        for (size_t k = 0; k < sizeof field_order / sizeof *field_order; k++) {
            bl_synth_corruption kind = field_order[k];
            if (!(field_kinds[f] & (1u << kind)))
                continue;
            /* draw for every applicable pair, even with p = 0, so that one
             * knob does not shift the random stream of the others */
            double u = bli_sx_unit(rng);
            if (u >= pr[kind])
                continue;
            if (bl_synth_corrupt_value(kind, (bl_synth_field)f, r->field[f],
                                       BL_SYNTH_FIELD_MAX, rng)) {
                if (kind == BL_SYNTH_MISSING)
                    r->applied[f] = 0;
                r->applied[f] |= 1u << kind;
            }
        }
    }
    if (g->o.forms > 0) /* hard level only: draws nothing otherwise, streams unchanged */
        bl_synth_apply_forms(r, rng, g->o.forms);
}

/* ---- layout ------------------------------------------------------------------- */

static unsigned dups_of(const bl_synth *g, uint64_t e)
{
    uint64_t rng[4];
    bl_synth_rng_seed(rng, bli_sx_hash(g->o.seed, TAG_DUPS, e));
    if (!bli_sx_chance(rng, g->o.dup_share))
        return 0;
    return 1 + bli_sx_pick_cum(rng, g->dup_cum, g->o.max_dups);
}

bl_status bl_synth_new(const bl_synth_opts *o, bl_synth **out, bl_error *err)
{
    *out = NULL;
    bl_status st = bl_synth_opts_check(o, err);
    if (st != BL_OK)
        return st;
    bl_synth *g = calloc(1, sizeof *g);
    if (!g)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    g->o = *o;
    uint32_t tot = 0;
    for (uint32_t i = 0; i < bl_sx_intl_ngroups && i < 16; i++)
        g->intl_cum[i] = tot += bl_sx_intl_groups[i].weight;

    /* duplicate-count distribution over 1..max_dups (weights x 1e6) */
    static const double poisson1[BL_SYNTH_MAX_DUPS] = {
        0.367879, 0.367879, 0.183940, 0.061313, 0.015328,
        0.003066, 0.000511, 0.000073, 0.000009};
    tot = 0;
    for (unsigned k = 0; k < o->max_dups; k++) {
        double w = o->dup_dist == BL_SYNTH_DUPS_POISSON ? poisson1[k]
                   : o->dup_dist == BL_SYNTH_DUPS_ZIPF  ? 1.0 / (k + 1)
                                                        : 1.0;
        uint32_t wi = (uint32_t)(w * 1e6);
        g->dup_cum[k] = tot += wi ? wi : 1;
    }

    if (o->dedup) {
        g->ndata = 1;
        g->entities = o->records;
        g->nslots[0] = o->records * (o->max_dups + 1);
        uint64_t n = 0;
        for (uint64_t e = 0; e < o->records; e++)
            n += 1 + dups_of(g, e);
        g->size[0] = n;
    } else {
        g->ndata = o->parties;
        g->common = (uint64_t)(o->overlap * (double)o->records + 0.5);
        if (g->common > o->records)
            g->common = o->records;
        g->unique = o->records - g->common;
        g->entities = g->common + g->unique * o->parties;
        for (unsigned d = 0; d < o->parties; d++)
            g->nslots[d] = g->size[d] = o->records;
    }
    perm_init(&g->entity_perm, g->entities, bli_sx_hash(o->seed, TAG_ENTITY, 0));
    for (unsigned d = 0; d < g->ndata; d++)
        perm_init(&g->slot_perm[d], g->nslots[d], bli_sx_hash(o->seed, TAG_PERM, d));
    *out = g;
    return BL_OK;
}

void bl_synth_free(bl_synth *g)
{
    free(g);
}

unsigned bl_synth_ndatasets(const bl_synth *g)
{
    return g->ndata;
}

uint64_t bl_synth_size(const bl_synth *g, unsigned d)
{
    return d < g->ndata ? g->size[d] : 0;
}

uint64_t bl_synth_slots(const bl_synth *g, unsigned d)
{
    return d < g->ndata ? g->nslots[d] : 0;
}

static void emit(const bl_synth *g, uint64_t entity, int dup, uint64_t copykey, int clean,
                 bl_synth_record *r)
{
    person p;
    make_person(g, entity, &p);
    if (clean) {
        person_to_record(g, &p, r);
        memset(r->applied, 0, sizeof r->applied);
    } else {
        corrupt(g, &p, entity, copykey, r);
    }
    r->entity = entity;
    r->dup = dup;
    if (dup < 0)
        snprintf(r->id, sizeof r->id, "rec-%llu-org", (unsigned long long)entity);
    else
        snprintf(r->id, sizeof r->id, "rec-%llu-dup-%d", (unsigned long long)entity, dup);
}

int bl_synth_get(const bl_synth *g, unsigned d, uint64_t slot, bl_synth_record *r)
{
    if (d >= g->ndata || slot >= g->nslots[d])
        return 0;
    uint64_t j = perm_apply(&g->slot_perm[d], slot);
    if (g->o.dedup) {
        uint64_t e = j / (g->o.max_dups + 1);
        unsigned k = (unsigned)(j % (g->o.max_dups + 1));
        if (k > 0 && k > dups_of(g, e))
            return 0;
        uint64_t n = perm_apply(&g->entity_perm, e);
        if (k == 0)
            emit(g, n, -1, 0, !g->o.corrupt_originals, r);
        else
            emit(g, n, (int)k - 1, k, 0, r);
        return 1;
    }
    uint64_t e = j < g->common ? j : g->common + g->unique * d + (j - g->common);
    uint64_t n = perm_apply(&g->entity_perm, e);
    if (d == 0)
        emit(g, n, -1, 0, !g->o.corrupt_originals, r);
    else
        emit(g, n, (int)d - 1, (uint64_t)d << 8, 0, r);
    return 1;
}

void bl_synth_entity(const bl_synth *g, uint64_t entity, bl_synth_record *r)
{
    emit(g, entity, -1, 0, 1, r);
}

int bli_sx_explain(const bl_synth *g)
{
    return g->o.explain;
}
