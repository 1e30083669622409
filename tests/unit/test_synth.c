/* tests/unit/test_synth.c - the synthetic data generator: determinism (same
 * seed, same bytes, whatever the thread count), ground-truth consistency of
 * linkage and deduplication layouts, measured corruption rates against the
 * configured probabilities, UTF-8 safety of the corruption primitives and
 * rejection of invalid options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <utf8proc.h>

#include <blindlink/synth.h>
#include "synth/tables.h"
#include "fixture.h"

static bl_synth *make(const bl_synth_opts *o)
{
    bl_synth *g = NULL;
    bl_error err = {0};
    assert_int_equal(bl_synth_new(o, &g, &err), BL_OK);
    assert_non_null(g);
    return g;
}

static int same_record(const bl_synth_record *a, const bl_synth_record *b)
{
    if (strcmp(a->id, b->id))
        return 0;
    for (int f = 0; f < BL_SYNTH_NFIELDS; f++)
        if (strcmp(a->field[f], b->field[f]) || a->applied[f] != b->applied[f])
            return 0;
    return 1;
}

static void test_determinism(void **state)
{
    (void)state;
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    o.records = 3000;
    o.parties = 3;
    o.seed = 42;
    o.unicode_share = 0.3;
    assert_int_equal(bl_synth_set_level(&o, "high", NULL), BL_OK);
    bl_synth *a = make(&o), *b = make(&o);
    o.seed = 43;
    bl_synth *c = make(&o);
    bl_synth_record ra, rb, rc;
    int differ = 0;
    for (unsigned d = 0; d < 3; d++) {
        /* slots read in reverse order on b: records do not depend on order */
        for (uint64_t i = 0; i < 3000; i++) {
            assert_int_equal(bl_synth_get(a, d, i, &ra), 1);
            assert_int_equal(bl_synth_get(b, d, 2999 - i, &rb), 1);
            assert_int_equal(bl_synth_get(b, d, i, &rb), 1);
            assert_true(same_record(&ra, &rb));
            assert_int_equal(bl_synth_get(c, d, i, &rc), 1);
            differ += !same_record(&ra, &rc);
        }
    }
    assert_true(differ > 8900); /* another seed gives other data */
    bl_synth_free(a);
    bl_synth_free(b);
    bl_synth_free(c);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void test_threads_same_bytes(void **state)
{
    (void)state;
    assert_int_equal(fx_dir_setup("synth"), 0);
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    o.records = 5000;
    o.dedup = 1;
    o.max_dups = 4;
    o.explain = 1;
    bl_synth *g = make(&o);
    const char *p1 = fx_path("one.csv"), *p4 = fx_path("four.csv");
    const char *a[1] = {p1}, *b[1] = {p4};
    bl_error err = {0};
    assert_int_equal(bl_synth_write_all(g, a, 1, NULL, NULL, &err), BL_OK);
    assert_int_equal(bl_synth_write_all(g, b, 4, NULL, NULL, &err), BL_OK);
    size_t n1, n4;
    char *s1 = slurp(p1, &n1), *s4 = slurp(p4, &n4);
    assert_int_equal(n1, n4);
    assert_memory_equal(s1, s4, n1);
    /* header + one line per record */
    size_t lines = 0;
    for (size_t i = 0; i < n1; i++)
        lines += s1[i] == '\n';
    assert_int_equal(lines, bl_synth_size(g, 0) + 1);
    const char *hdr = "rec_id,given_name,surname,date_of_birth,sex,address,suburb,"
                      "postcode,state,email,phone,corruptions\n";
    assert_true(!strncmp(s1, hdr, strlen(hdr)));
    free(s1);
    free(s4);
    bl_synth_free(g);
    assert_int_equal(fx_dir_teardown(), 0);
}

static void test_linkage_truth(void **state)
{
    (void)state;
    enum { N = 4000, P = 3 };
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    o.records = N;
    o.parties = P;
    o.overlap = 0.3;
    bl_synth *g = make(&o);
    assert_int_equal(bl_synth_ndatasets(g), P);
    uint64_t common = (uint64_t)(0.3 * N + 0.5);
    uint64_t entities = common + (N - common) * P;
    unsigned char *seen = calloc(entities * P, 1);
    assert_non_null(seen);
    bl_synth_record r;
    for (unsigned d = 0; d < P; d++) {
        assert_int_equal(bl_synth_size(g, d), N);
        for (uint64_t i = 0; i < N; i++) {
            assert_int_equal(bl_synth_get(g, d, i, &r), 1);
            assert_true(r.entity < entities);
            assert_int_equal(r.dup, (int)d - 1);
            char want[48];
            if (d == 0)
                snprintf(want, sizeof want, "rec-%llu-org", (unsigned long long)r.entity);
            else
                snprintf(want, sizeof want, "rec-%llu-dup-%u", (unsigned long long)r.entity,
                         d - 1);
            assert_string_equal(r.id, want);
            assert_int_equal(seen[r.entity * P + d], 0); /* one record per person */
            seen[r.entity * P + d] = 1;
        }
    }
    uint64_t in_all = 0, in_one = 0;
    for (uint64_t e = 0; e < entities; e++) {
        int k = seen[e * P] + seen[e * P + 1] + seen[e * P + 2];
        assert_true(k == 1 || k == P);
        in_all += k == P;
        in_one += k == 1;
    }
    assert_int_equal(in_all, common);
    assert_int_equal(in_one, (N - common) * P);
    free(seen);
    bl_synth_free(g);
}

static void test_dedup_truth(void **state)
{
    (void)state;
    enum { N = 20000, MAXD = 5 };
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    o.records = N;
    o.dedup = 1;
    o.dup_share = 0.4;
    o.max_dups = MAXD;
    o.dup_dist = BL_SYNTH_DUPS_ZIPF;
    bl_synth *g = make(&o);
    assert_int_equal(bl_synth_ndatasets(g), 1);
    unsigned char *org = calloc(N, 1);
    unsigned short *dupmask = calloc(N, sizeof *dupmask);
    assert_non_null(org);
    assert_non_null(dupmask);
    uint64_t count = 0;
    bl_synth_record r;
    for (uint64_t s = 0; s < bl_synth_slots(g, 0); s++) {
        if (!bl_synth_get(g, 0, s, &r))
            continue;
        count++;
        assert_true(r.entity < N);
        if (r.dup < 0) {
            assert_int_equal(org[r.entity], 0);
            org[r.entity] = 1;
        } else {
            assert_true(r.dup < MAXD);
            assert_int_equal(dupmask[r.entity] & (1u << r.dup), 0);
            dupmask[r.entity] |= (unsigned short)(1u << r.dup);
        }
    }
    assert_int_equal(count, bl_synth_size(g, 0));
    uint64_t with = 0, ones = 0, twos = 0;
    for (int e = 0; e < N; e++) {
        assert_int_equal(org[e], 1); /* every person has its original */
        unsigned m = dupmask[e];
        assert_int_equal(m & (m + 1), 0); /* dup-0..dup-(k-1), no gaps */
        if (m) {
            with++;
            ones += m == 1;
            twos += m == 3;
        }
    }
    /* 40% have duplicates; zipf: P(1)/P(2) = 2 */
    assert_true(with > N * 0.38 && with < N * 0.42);
    double ratio = (double)ones / (double)twos;
    assert_true(ratio > 1.8 && ratio < 2.2);
    free(org);
    free(dupmask);
    bl_synth_free(g);
}

/* ---- corruption rates --------------------------------------------------------- */

static size_t cp_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A generator with every probability 0 except `kind`, 2 parties, full
 * overlap: party 2 holds one corrupted copy of each party-1 original. */
static bl_synth *rate_gen(bl_synth_corruption kind, double p, double unicode, uint64_t n)
{
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    assert_int_equal(bl_synth_set_level(&o, "none", NULL), BL_OK);
    o.records = n;
    o.overlap = 1.0;
    o.unicode_share = unicode;
    o.prob[kind] = p;
    o.seed = 7 + (uint64_t)kind;
    return make(&o);
}

typedef int (*check_fn)(bl_synth_field f, const char *org, const char *dup);

static int chk_insert(bl_synth_field f, const char *a, const char *b)
{
    (void)f;
    return cp_len(b) == cp_len(a) + 1;
}
static int chk_delete(bl_synth_field f, const char *a, const char *b)
{
    (void)f;
    return cp_len(b) + 1 == cp_len(a);
}
static int chk_same_len(bl_synth_field f, const char *a, const char *b)
{
    (void)f;
    return strlen(a) == strlen(b) && strcmp(a, b);
}
static int chk_changed(bl_synth_field f, const char *a, const char *b)
{
    (void)f;
    return strcmp(a, b) != 0;
}

/* Measure, over the string fields where `kind` applies, how often the copy
 * differs from the original in the expected way; returns the rate among
 * fields where the corruption is possible (tested on a scratch copy). */
static double measure(bl_synth_corruption kind, double p, double unicode, uint32_t fields,
                      check_fn ok)
{
    enum { N = 20000 };
    bl_synth *g = rate_gen(kind, p, unicode, N);
    bl_synth_record org, dup;
    uint64_t applicable = 0, hit = 0, flagged = 0;
    uint64_t scratch[4];
    bl_synth_rng_seed(scratch, 99);
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(bl_synth_get(g, 1, i, &dup), 1);
        bl_synth_entity(g, dup.entity, &org);
        for (int f = 0; f < BL_SYNTH_NFIELDS; f++) {
            if (!(fields & (1u << f)))
                continue;
            char tmp[BL_SYNTH_FIELD_MAX];
            memcpy(tmp, org.field[f], sizeof tmp);
            if (!bl_synth_corrupt_value(kind, (bl_synth_field)f, tmp, sizeof tmp, scratch))
                continue;
            applicable++;
            int changed = strcmp(org.field[f], dup.field[f]) != 0;
            if (changed) {
                assert_true(ok((bl_synth_field)f, org.field[f], dup.field[f]));
                hit++;
            }
            if (dup.applied[f] & (1u << kind))
                flagged++;
        }
        for (int f = 0; f < BL_SYNTH_NFIELDS; f++)
            if (!(fields & (1u << f)))
                assert_string_equal(org.field[f], dup.field[f]);
    }
    bl_synth_free(g);
    assert_true(applicable > 1000);
    /* the explain flags agree with what changed (a corruption may rarely
     * reproduce the original value, e.g. a variant pair a->b->a) */
    assert_true(flagged >= hit && flagged - hit <= applicable / 100 + 5);
    return (double)hit / (double)applicable;
}

#define F(x) (1u << BL_SYNTH_##x)
#define TYPO_FIELDS                                                                        \
    (F(GIVEN_NAME) | F(SURNAME) | F(ADDRESS) | F(SUBURB) | F(POSTCODE) | F(EMAIL) | F(PHONE))

static void near(double got, double want, double tol, const char *what)
{
    if (got < want - tol || got > want + tol)
        fail_msg("%s: measured rate %.4f, configured %.4f (tolerance %.3f)", what, got, want,
                 tol);
}

static void test_rates_typos(void **state)
{
    (void)state;
    near(measure(BL_SYNTH_TYPO_INSERT, 0.2, 0.1, TYPO_FIELDS, chk_insert), 0.2, 0.01, "insert");
    near(measure(BL_SYNTH_TYPO_DELETE, 0.1, 0.1, TYPO_FIELDS, chk_delete), 0.1, 0.01, "delete");
    near(measure(BL_SYNTH_TYPO_SUBSTITUTE, 0.3, 0.1, TYPO_FIELDS, chk_changed), 0.3, 0.015,
         "substitute");
    near(measure(BL_SYNTH_TYPO_TRANSPOSE, 0.15, 0.1, TYPO_FIELDS, chk_same_len), 0.15, 0.01,
         "transpose");
}

static void test_rates_tables(void **state)
{
    (void)state;
    uint32_t names = F(GIVEN_NAME) | F(SURNAME);
    near(measure(BL_SYNTH_OCR, 0.25, 0.0, names | F(ADDRESS) | F(SUBURB) | F(POSTCODE) | F(PHONE),
                 chk_changed),
         0.25, 0.015, "ocr");
    near(measure(BL_SYNTH_PHONETIC, 0.25, 0.0, names | F(ADDRESS) | F(SUBURB), chk_changed), 0.25,
         0.015, "phonetic");
    near(measure(BL_SYNTH_VARIANT, 0.4, 0.0, names | F(SUBURB), chk_changed), 0.4, 0.02,
         "variant");
}

static int chk_accent(bl_synth_field f, const char *a, const char *b)
{
    (void)f;
    return cp_len(a) == cp_len(b) && strcmp(a, b) && strlen(b) <= strlen(a);
}

static int chk_missing(bl_synth_field f, const char *a, const char *b)
{
    (void)f;
    return a[0] && !b[0];
}

static void test_rates_values(void **state)
{
    (void)state;
    near(measure(BL_SYNTH_ACCENT, 0.5, 1.0, F(GIVEN_NAME) | F(SURNAME), chk_accent), 0.5, 0.025,
         "accent");
    near(measure(BL_SYNTH_MISSING, 0.1, 0.05, (1u << BL_SYNTH_NFIELDS) - 1, chk_missing), 0.1,
         0.006, "missing");
}

/* Per-record kinds, measured directly on the records. */
static void test_rates_records(void **state)
{
    (void)state;
    enum { N = 20000 };
    bl_synth_record org, dup;

    bl_synth *g = rate_gen(BL_SYNTH_SWAP_NAMES, 0.1, 0.05, N);
    uint64_t hit = 0;
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(bl_synth_get(g, 1, i, &dup), 1);
        bl_synth_entity(g, dup.entity, &org);
        if (strcmp(org.field[BL_SYNTH_GIVEN_NAME], dup.field[BL_SYNTH_GIVEN_NAME])) {
            assert_string_equal(org.field[BL_SYNTH_GIVEN_NAME], dup.field[BL_SYNTH_SURNAME]);
            assert_string_equal(org.field[BL_SYNTH_SURNAME], dup.field[BL_SYNTH_GIVEN_NAME]);
            hit++;
        }
    }
    bl_synth_free(g);
    near((double)hit / N, 0.1, 0.01, "swap-names");

    g = rate_gen(BL_SYNTH_DATE_SWAP, 0.5, 0.05, N);
    uint64_t appl = 0;
    hit = 0;
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(bl_synth_get(g, 1, i, &dup), 1);
        bl_synth_entity(g, dup.entity, &org);
        int y, m, d, y2, m2, d2;
        assert_int_equal(sscanf(org.field[BL_SYNTH_DOB], "%d-%d-%d", &y, &m, &d), 3);
        assert_int_equal(sscanf(dup.field[BL_SYNTH_DOB], "%d-%d-%d", &y2, &m2, &d2), 3);
        if (d <= 12 && d != m) {
            appl++;
            if (m2 != m) {
                assert_int_equal(m2, d);
                assert_int_equal(d2, m);
                assert_int_equal(y2, y);
                hit++;
            }
        } else {
            assert_string_equal(org.field[BL_SYNTH_DOB], dup.field[BL_SYNTH_DOB]);
        }
    }
    bl_synth_free(g);
    near((double)hit / (double)appl, 0.5, 0.03, "date-swap");

    g = rate_gen(BL_SYNTH_DATE_YEAR, 0.3, 0.05, N);
    hit = 0;
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(bl_synth_get(g, 1, i, &dup), 1);
        bl_synth_entity(g, dup.entity, &org);
        if (strcmp(org.field[BL_SYNTH_DOB], dup.field[BL_SYNTH_DOB])) {
            /* only the year changed (29 Feb may become 28 Feb) */
            assert_memory_not_equal(org.field[BL_SYNTH_DOB], dup.field[BL_SYNTH_DOB], 4);
            assert_memory_equal(org.field[BL_SYNTH_DOB] + 4, dup.field[BL_SYNTH_DOB] + 4, 3);
            hit++;
        }
    }
    bl_synth_free(g);
    near((double)hit / N, 0.3, 0.015, "date-year");

    bl_synth_corruption kinds[2] = {BL_SYNTH_EMAIL_CHANGE, BL_SYNTH_PHONE_CHANGE};
    bl_synth_field fields[2] = {BL_SYNTH_EMAIL, BL_SYNTH_PHONE};
    for (int k = 0; k < 2; k++) {
        g = rate_gen(kinds[k], 0.25, 0.05, N);
        hit = 0;
        for (uint64_t i = 0; i < N; i++) {
            assert_int_equal(bl_synth_get(g, 1, i, &dup), 1);
            bl_synth_entity(g, dup.entity, &org);
            hit += strcmp(org.field[fields[k]], dup.field[fields[k]]) != 0;
        }
        bl_synth_free(g);
        near((double)hit / N, 0.25, 0.015, bl_synth_corruption_name(kinds[k]));
    }
}

/* With every probability 0 the copies equal the originals. */
static void test_level_none_is_clean(void **state)
{
    (void)state;
    bl_synth *g = rate_gen(BL_SYNTH_MISSING, 0.0, 0.2, 2000);
    bl_synth_record org, dup;
    for (uint64_t i = 0; i < 2000; i++) {
        assert_int_equal(bl_synth_get(g, 1, i, &dup), 1);
        bl_synth_entity(g, dup.entity, &org);
        for (int f = 0; f < BL_SYNTH_NFIELDS; f++)
            assert_string_equal(org.field[f], dup.field[f]);
    }
    bl_synth_free(g);
}

static int valid_utf8(const char *s)
{
    utf8proc_ssize_t len = (utf8proc_ssize_t)strlen(s);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (len > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, len, &cp);
        if (k <= 0)
            return 0;
        p += k;
        len -= k;
    }
    return 1;
}

static void test_utf8_safety(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "josé", "мария", "王", "佐藤", "ştefan", "a", "ab", "x5m", "소연", "प्रिया",
        "o'brien", "smith", "\xc3\xa9\xc3\xa9\xc3\xa9", "μαρία", "שרה",
    };
    uint64_t rng[4];
    bl_synth_rng_seed(rng, 1234);
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
            for (int k = 0; k < BL_SYNTH_NCORRUPTIONS; k++) {
                char buf[BL_SYNTH_FIELD_MAX];
                /* tight capacity: growth must be refused, never overflow */
                size_t cap = round % 2 ? strlen(inputs[i]) + 1 : sizeof buf;
                strcpy(buf, inputs[i]);
                bl_synth_corrupt_value((bl_synth_corruption)k, BL_SYNTH_SURNAME, buf, cap, rng);
                assert_true(strlen(buf) < cap);
                assert_true(valid_utf8(buf));
            }
        }
    }
    /* repeated corruption never grows past the buffer */
    char buf[16] = "abc";
    for (int i = 0; i < 1000; i++) {
        bl_synth_corrupt_value(BL_SYNTH_TYPO_INSERT, BL_SYNTH_SURNAME, buf, sizeof buf, rng);
        assert_true(strlen(buf) < sizeof buf);
    }
    assert_int_equal(strlen(buf), 15);
}

static void test_corrupt_examples(void **state)
{
    (void)state;
    uint64_t rng[4];
    bl_synth_rng_seed(rng, 5);
    char b[BL_SYNTH_FIELD_MAX];
    strcpy(b, "josé");
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_ACCENT, BL_SYNTH_GIVEN_NAME, b, sizeof b, rng), 1);
    assert_string_equal(b, "jose");
    strcpy(b, "김");
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_ACCENT, BL_SYNTH_SURNAME, b, sizeof b, rng), 0);
    assert_string_equal(b, "김");
    strcpy(b, "smith");
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_MISSING, BL_SYNTH_SURNAME, b, sizeof b, rng), 1);
    assert_string_equal(b, "");
    strcpy(b, "a");
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_TYPO_DELETE, BL_SYNTH_SURNAME, b, sizeof b, rng), 0);
    /* substitution uses a QWERTY neighbour */
    for (int i = 0; i < 50; i++) {
        strcpy(b, "g");
        assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_TYPO_SUBSTITUTE, BL_SYNTH_SURNAME, b, sizeof b, rng), 1);
        assert_non_null(strchr("tyhfvb", b[0]));
    }
    strcpy(b, "ab");
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_TYPO_TRANSPOSE, BL_SYNTH_SURNAME, b, sizeof b, rng), 1);
    assert_string_equal(b, "ba");
    /* a nickname from Febrl's table, both ways */
    int seen_liz = 0;
    for (int i = 0; i < 200; i++) {
        strcpy(b, "elizabeth");
        assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_VARIANT, BL_SYNTH_GIVEN_NAME, b, sizeof b, rng), 1);
        seen_liz |= !strcmp(b, "liz");
    }
    assert_true(seen_liz);
    strcpy(b, "liz");
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_VARIANT, BL_SYNTH_GIVEN_NAME, b, sizeof b, rng), 1);
    strcpy(b, "zzzzqqq");
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_VARIANT, BL_SYNTH_GIVEN_NAME, b, sizeof b, rng), 0);
    /* date and per-record kinds are not string operations */
    assert_int_equal(bl_synth_corrupt_value(BL_SYNTH_SWAP_NAMES, BL_SYNTH_SURNAME, b, sizeof b, rng), 0);
}

static void test_options_refused(void **state)
{
    (void)state;
    bl_synth_opts o;
    bl_error err = {0};
    bl_synth *g = NULL;
#define BAD(stmt, needle)                                                                  \
    do {                                                                                   \
        bl_synth_opts_init(&o);                                                            \
        stmt;                                                                              \
        memset(&err, 0, sizeof err);                                                       \
        assert_int_equal(bl_synth_opts_check(&o, &err), BL_EINVAL);                        \
        assert_non_null(strstr(err.msg, needle));                                          \
        assert_int_equal(bl_synth_new(&o, &g, &err), BL_EINVAL);                           \
        assert_null(g);                                                                    \
    } while (0)
    BAD(o.records = 0, "--records");
    BAD(o.records = BL_SYNTH_MAX_RECORDS + 1, "--records");
    BAD(o.parties = 1, "--parties");
    BAD(o.parties = 65, "--parties");
    BAD(o.overlap = 1.5, "--overlap");
    BAD(o.overlap = -0.1, "--overlap");
    BAD(o.dup_share = 2, "--dup-share");
    BAD(o.max_dups = 0, "--max-dups");
    BAD(o.max_dups = 10, "--max-dups");
    BAD(o.unicode_share = -1, "--unicode-share");
    BAD(o.prob[BL_SYNTH_OCR] = 1.01, "--ocr");
    BAD(o.prob[BL_SYNTH_TYPO_TRANSPOSE] = -0.5, "--typo-transpose");
    BAD(o.prob[BL_SYNTH_MISSING] = 0.0 / 0.0, "--missing");
#undef BAD
    bl_synth_opts_init(&o);
    assert_int_equal(bl_synth_set_level(&o, "extreme", &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "extreme"));
    assert_int_equal(bl_synth_opts_check(&o, &err), BL_OK);
    assert_null(bl_synth_corruption_name(BL_SYNTH_NCORRUPTIONS));
    assert_string_equal(bl_synth_corruption_name(BL_SYNTH_PHONE_CHANGE), "phone-change");
    assert_string_equal(bl_synth_field_name(BL_SYNTH_EMAIL), "email");
    bl_synth_free(NULL);
}

static void test_unicode_share(void **state)
{
    (void)state;
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    o.records = 20000;
    o.unicode_share = 0.25;
    bl_synth *g = make(&o);
    bl_synth_record r;
    uint64_t non_ascii = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        assert_int_equal(bl_synth_get(g, 0, i, &r), 1);
        int na = 0;
        for (const char *p = r.field[BL_SYNTH_SURNAME]; *p; p++)
            na |= (unsigned char)*p >= 0x80;
        for (const char *p = r.field[BL_SYNTH_GIVEN_NAME]; *p; p++)
            na |= (unsigned char)*p >= 0x80;
        non_ascii += na;
        assert_true(valid_utf8(r.field[BL_SYNTH_GIVEN_NAME]));
        /* email stays ASCII */
        for (const char *p = r.field[BL_SYNTH_EMAIL]; *p; p++)
            assert_true((unsigned char)*p < 0x80);
    }
    /* a few accented-Latin pairs have an ASCII given name and surname */
    near((double)non_ascii / 20000, 0.25, 0.02, "unicode-share");
    bl_synth_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_threads_same_bytes),
        cmocka_unit_test(test_linkage_truth),
        cmocka_unit_test(test_dedup_truth),
        cmocka_unit_test(test_rates_typos),
        cmocka_unit_test(test_rates_tables),
        cmocka_unit_test(test_rates_values),
        cmocka_unit_test(test_rates_records),
        cmocka_unit_test(test_level_none_is_clean),
        cmocka_unit_test(test_utf8_safety),
        cmocka_unit_test(test_corrupt_examples),
        cmocka_unit_test(test_options_refused),
        cmocka_unit_test(test_unicode_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
