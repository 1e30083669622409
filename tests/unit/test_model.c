/* tests/unit/test_model.c - the Fellegi-Sunter model: EM recovers known m, u
 * and prior from a synthetic comparison table drawn from them; hand-fixed
 * m/u stay as written; the model file round-trips (and bad model files are
 * refused with their JSON path); field-level records encode each feature
 * exactly as the record CLK does (OR of the fields = the CLK, no folds);
 * input checks name the files and the differing key. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/encode.h>
#include <blindlink/model.h>

#include "model/model_internal.h"
#include "encode/nickname.h"

/* Three fields, 3 levels each (exact, dice >= 0.9 band, else). */
/* A model for n fields of `bits` bits each, laid out one after another. */
static bl_model *model_of(const char *const *names, size_t n, uint32_t bits)
{
    bl_fieldset fs = {0};
    fs.nfields = n;
    for (size_t i = 0; i < n; i++) {
        fs.names[i] = strdup(names[i]);
        fs.offset[i] = (uint32_t)(bits * i);
        fs.bits[i] = bits;
    }
    bl_model *m = NULL;
    bl_error e = {0};
    assert_int_equal(bl_model_new_for(&fs, NULL, &m, &e), BL_OK);
    bl_fieldset_clear(&fs);
    return m;
}

static bl_model *toy_model(void)
{
    const char *names[] = {"a", "b", "c"};
    bl_model *m = model_of(names, 3, 512);
    for (size_t i = 0; i < 3; i++) {
        bl_field_model *f = &m->f[i];
        f->nbands = 2;
        f->band[1] = 0.9;
        f->swap_with = -1;
        f->nlevels = 3;
        f->m[0] = 0.5, f->m[1] = 0.3, f->m[2] = 0.2;
        f->u[0] = 0.2, f->u[1] = 0.3, f->u[2] = 0.5;
    }
    m->prior = 0.3;
    return m;
}

static const double TRUE_M[3][3] = {{0.85, 0.10, 0.05}, {0.70, 0.20, 0.10}, {0.90, 0.05, 0.05}};
static const double TRUE_U[3][3] = {{0.02, 0.08, 0.90}, {0.05, 0.15, 0.80}, {0.10, 0.10, 0.80}};
static const double TRUE_PRIOR = 0.2;

/* Expected counts of every pattern under the true parameters (N pairs):
 * EM on the exact expectation must come back to the truth. */
static size_t table(uint8_t *lv, double *cnt, double N)
{
    size_t n = 0;
    for (int x = 0; x < 3; x++)
        for (int y = 0; y < 3; y++)
            for (int z = 0; z < 3; z++) {
                double pm = TRUE_PRIOR * TRUE_M[0][x] * TRUE_M[1][y] * TRUE_M[2][z];
                double pu = (1 - TRUE_PRIOR) * TRUE_U[0][x] * TRUE_U[1][y] * TRUE_U[2][z];
                lv[3 * n] = (uint8_t)x, lv[3 * n + 1] = (uint8_t)y, lv[3 * n + 2] = (uint8_t)z;
                cnt[n++] = N * (pm + pu);
            }
    return n;
}

static void test_em_known_answer(void **state)
{
    (void)state;
    bl_model *m = toy_model();
    uint8_t lv[27 * 3];
    double cnt[27];
    size_t n = table(lv, cnt, 1e6);
    bl_error e = {0};
    assert_int_equal(bl_model_em_table(m, lv, cnt, n, 5000, 1e-10, 1, &e), BL_OK);
    assert_true(m->converged);
    assert_true(fabs(m->prior - TRUE_PRIOR) < 1e-3);
    for (size_t f = 0; f < 3; f++)
        for (size_t l = 0; l < 3; l++) {
            assert_true(fabs(m->f[f].m[l] - TRUE_M[f][l]) < 2e-3);
            assert_true(fabs(m->f[f].u[l] - TRUE_U[f][l]) < 2e-3);
        }
    /* an iteration limit is reported as such */
    bl_model *m2 = toy_model();
    assert_int_equal(bl_model_em_table(m2, lv, cnt, n, 2, 1e-12, 1, &e), BL_OK);
    assert_false(m2->converged);
    assert_int_equal(m2->iterations, 2);
    char *js = NULL;
    assert_int_equal(bl_model_to_json(m2, &js, &e), BL_OK);
    assert_non_null(strstr(js, "\"hit the iteration limit\""));
    free(js);
    bl_model_free(m);
    bl_model_free(m2);
}

static void test_em_fixed(void **state)
{
    (void)state;
    bl_model *m = toy_model();
    m->f[1].m[0] = 0.5;
    m->f[1].fix_m[0] = 1;
    m->f[2].u[2] = 0.6;
    m->f[2].fix_u[2] = 1;
    uint8_t lv[27 * 3];
    double cnt[27];
    size_t n = table(lv, cnt, 1e5);
    bl_error e = {0};
    assert_int_equal(bl_model_em_table(m, lv, cnt, n, 2000, 1e-9, 1, &e), BL_OK);
    assert_true(m->f[1].m[0] == 0.5);
    assert_true(m->f[2].u[2] == 0.6);
    /* the free values fill the rest of each distribution */
    assert_true(fabs(m->f[1].m[0] + m->f[1].m[1] + m->f[1].m[2] - 1) < 1e-9);
    assert_true(fabs(m->f[2].u[0] + m->f[2].u[1] + m->f[2].u[2] - 1) < 1e-9);
    bl_model_free(m);
}

/* The 60 commonest level patterns (counts / 100) of the training pairs of
 * synth hard 1M x 1M (seed 1, examples/model-schema.json, the best 3 per
 * record; fields given_name, surname, date_of_birth, sex, postcode, email)
 * and that run's random-pair u. Many non-matching candidates there share
 * both names with their record (namesakes), and EM from the random-pair u
 * alone ends in a "same names" match class (prior ~0.86, birth date exact
 * in m 0.40); the second start, from the table's level frequencies, finds
 * the likelier fit of same persons (prior ~0.35, birth date exact in m
 * ~1). */
#define MS BL_LEVEL_MISSING
static const struct { uint8_t lv[6]; double n; } TRAP[] = {
    {{0, 0, 0, 0, 0, 0}, 671}, {{0, 0, 3, 0, 6, 3}, 266}, {{0, 0, 3, 0, 6, 2}, 208},
    {{0, 0, 4, 0, 6, 3}, 185}, {{0, 0, 4, 0, 6, 2}, 177}, {{0, 0, 4, 0, 5, 3}, 159},
    {{0, 0, 0, 0, 0, 1}, 158}, {{0, 0, 2, 0, 6, 3}, 155}, {{0, 0, 3, 0, 5, 3}, 134},
    {{0, 0, 4, 0, 6, 4}, 116}, {{3, 0, 0, 0, 0, 0}, 112}, {{0, 0, 3, 0, 6, 4}, 112},
    {{0, 3, 0, 0, 0, 0}, 111}, {{0, 0, 5, 0, 6, 3}, 97}, {{0, 0, 3, 0, 5, 4}, 95},
    {{0, 0, 4, 0, 5, 2}, 94}, {{7, 7, 0, 0, 6, 5}, 93}, {{0, 0, 2, 0, 6, 2}, 92},
    {{0, 7, 4, 0, 0, 5}, 90}, {{0, 0, 4, 0, 6, 1}, 87}, {{0, 0, 0, 0, 0, MS}, 87},
    {{MS, 0, 0, 0, 0, 0}, 85}, {{7, 7, 0, 0, 6, 4}, 83}, {{0, 0, 5, 0, 6, 4}, 83},
    {{0, 0, 2, 0, 6, 4}, 81}, {{0, MS, 0, 0, 0, 0}, 79}, {{0, 0, 0, 0, MS, 0}, 77},
    {{0, 0, 5, 0, 6, 2}, 76}, {{0, 0, 3, 0, 6, 1}, 75}, {{0, 7, 4, 0, 0, 4}, 70},
    {{0, 0, 0, 0, 3, 0}, 69}, {{0, 0, 4, 0, 6, 0}, 69}, {{0, 7, 3, 0, 0, 5}, 65},
    {{0, 7, 5, 0, 0, 5}, 65}, {{0, 0, MS, 0, 0, 0}, 64}, {{7, 7, 0, 0, 5, 5}, 63},
    {{4, 0, 0, 0, 0, 0}, 63}, {{0, 0, 4, 0, 6, 5}, 61}, {{0, 0, 0, 0, 5, 0}, 59},
    {{0, 0, 4, 0, 5, 4}, 59}, {{0, 0, 3, 0, 5, 2}, 59}, {{0, 0, 0, MS, 0, 0}, 58},
    {{7, 0, 0, 0, 0, 0}, 58}, {{0, 0, 5, 0, 5, 3}, 55}, {{0, 0, 0, 0, 6, 0}, 55},
    {{0, 0, 3, 0, MS, 3}, 54}, {{7, 7, 0, 0, 5, 6}, 53}, {{0, 2, 0, 0, 0, 0}, 53},
    {{0, 7, 5, 0, 0, 4}, 52}, {{0, 0, 5, 0, 5, 2}, 51}, {{0, 0, 3, 0, 6, 0}, 48},
    {{0, 0, 5, 0, 6, 5}, 47}, {{0, 0, 2, 0, 5, 4}, 47}, {{0, 7, 3, 0, 0, 4}, 47},
    {{7, 7, 0, 0, 6, 6}, 47}, {{0, 0, 3, 0, 6, 5}, 46}, {{0, 7, 4, 0, 0, 6}, 45},
    {{0, 4, 0, 0, 0, 0}, 45}, {{0, 0, 0, 0, 0, 5}, 44}, {{0, 0, 0, 0, 0, 4}, 42},
};
static const double TRAP_U[6][8] = {
    {0.00217306, 7.0642e-06, 0.000145088, 0.000567853, 0.000729787, 0.00238281, 5.434e-07, 0.993994},
    {0.00209164, 1.35997e-05, 0.000134365, 0.000464022, 0.000507541, 0.00161619, 5.43989e-07, 0.995172},
    {0.000109206, 0.00300291, 0.0297058, 0.134453, 0.296138, 0.328696, 0.207896},
    {0.500101, 5.4412e-07, 5.4412e-07, 5.4412e-07, 5.4412e-07, 5.4412e-07, 0.499896},
    {0.00121484, 5.43551e-07, 4.94631e-05, 0.00984425, 0.000551704, 0.0833856, 0.904954},
    {5.43482e-07, 9.2392e-06, 0.000361416, 0.00464949, 0.0498998, 0.179615, 0.765465},
};
#undef MS

static bl_model *trap_model(void)
{
    const char *names[] = {"given_name", "surname", "date_of_birth", "sex", "postcode", "email"};
    bl_model *m = model_of(names, 6, 1024);
    for (size_t f = 0; f < 6; f++) {
        assert_int_equal(m->f[f].nlevels, f < 2 ? 8 : 7);
        for (uint32_t l = 0; l < m->f[f].nlevels; l++)
            m->f[f].u[l] = m->f[f].u_random[l] = TRAP_U[f][l]; /* as train's u_from_random */
    }
    return m;
}

static void test_em_two_starts(void **state)
{
    (void)state;
    const size_t n = sizeof TRAP / sizeof TRAP[0];
    uint8_t lv[sizeof TRAP / sizeof TRAP[0] * 6];
    double cnt[sizeof TRAP / sizeof TRAP[0]];
    for (size_t i = 0; i < n; i++) {
        memcpy(lv + 6 * i, TRAP[i].lv, 6);
        cnt[i] = TRAP[i].n;
    }
    bl_error e = {0};
    /* the random-pair start alone: the namesake class */
    bl_model *m1 = trap_model();
    assert_int_equal(bl_model_em_table(m1, lv, cnt, n, 300, 1e-6, 1, &e), BL_OK);
    assert_true(m1->prior > 0.7);
    assert_true(m1->f[2].m[0] < 0.5);
    /* both starts: the second one's fit is likelier and kept */
    bl_model *m2 = trap_model();
    assert_int_equal(bl_model_em_table_starts(m2, lv, cnt, n, 300, 1e-6, &e), BL_OK);
    assert_int_equal(m2->em_start, 2);
    assert_true(m2->em_loglik[1] > m2->em_loglik[0] + 1000);
    assert_true(m2->prior > 0.25 && m2->prior < 0.45);
    assert_true(m2->f[2].m[0] > 0.9);
    /* the model file records the start and both fits */
    char *js = NULL;
    assert_int_equal(bl_model_to_json(m2, &js, &e), BL_OK);
    assert_non_null(strstr(js, "\"em_start\": \"candidate u\""));
    bl_model *back = NULL;
    assert_int_equal(bl_model_from_json(js, strlen(js), "t", &back, &e), BL_OK);
    assert_int_equal(back->em_start, 2);
    assert_true(back->em_loglik[0] == m2->em_loglik[0] && back->em_loglik[1] == m2->em_loglik[1]);
    free(js);
    bl_model_free(back);
    /* where both starts reach the same fit, start 1's numbers are kept exactly */
    bl_model *a = toy_model(), *b = toy_model();
    uint8_t tlv[27 * 3];
    double tcnt[27];
    size_t tn = table(tlv, tcnt, 1e6);
    assert_int_equal(bl_model_em_table(a, tlv, tcnt, tn, 5000, 1e-10, 1, &e), BL_OK);
    assert_int_equal(bl_model_em_table_starts(b, tlv, tcnt, tn, 5000, 1e-10, &e), BL_OK);
    assert_int_equal(b->em_start, 1);
    assert_true(a->prior == b->prior && a->iterations == b->iterations);
    for (size_t f = 0; f < 3; f++)
        assert_memory_equal(a->f[f].m, b->f[f].m, sizeof a->f[f].m);
    bl_model_free(a);
    bl_model_free(b);
    bl_model_free(m1);
    bl_model_free(m2);
}

static void test_roundtrip(void **state)
{
    (void)state;
    bl_model *m = toy_model();
    m->f[0].swap_with = 1; /* needs a swapped level: rebuild labels */
    m->f[1].swap_with = 0;
    for (int i = 0; i < 2; i++) {
        bl_field_model *f = &m->f[i];
        f->nlevels = 4;
        free(f->label[2]);
        f->label[2] = strdup("swapped");
        free(f->label[3]);
        f->label[3] = strdup("else");
        f->m[2] = 0.1, f->m[3] = 0.1, f->m[1] = 0.3;
        f->u[2] = 0.01, f->u[3] = 0.49;
    }
    m->f[2].fix_m[1] = 1;
    m->f[2].tf = 0;
    char *j1 = NULL, *j2 = NULL;
    bl_error e = {0};
    assert_int_equal(bl_model_to_json(m, &j1, &e), BL_OK);
    bl_model *r = NULL;
    assert_int_equal(bl_model_from_json(j1, strlen(j1), "m.json", &r, &e), BL_OK);
    assert_int_equal(bl_model_to_json(r, &j2, &e), BL_OK);
    assert_string_equal(j1, j2);
    assert_int_equal(r->f[0].swap_with, 1);
    assert_int_equal(r->f[2].fix_m[1], 1);
    assert_int_equal(r->f[2].tf, 0);
    /* the swapped level never outweighs exact agreement on the field */
    r->f[0].u[2] = 1e-9;
    assert_true(bl_model_level_weight(r, 0, 2) == bl_model_level_weight(r, 0, 0));
    r->f[0].u[2] = 0.5; /* below the cap: log2(m/u) as before */
    assert_true(fabs(bl_model_level_weight(r, 0, 2) - log2(r->f[0].m[2] / 0.5)) < 1e-12);
    /* a hand edit of m is refused while the field's m no longer sum to 1,
     * and marked "fixed" it changes the weight that scoring uses */
    char *edit = strdup(j1), *p = strstr(edit, "\"m\": 0.5");
    assert_non_null(p);
    memcpy(p, "\"m\": 0.9", 8);
    bl_model *h = NULL;
    assert_int_equal(bl_model_from_json(edit, strlen(edit), "m.json", &h, &e), BL_EINPUT);
    assert_null(h);
    assert_non_null(strstr(e.msg, "m.json: $.fields[0]: field 'a': m of its levels sum to 1.4, not 1"));
    const size_t pos = (size_t)(p - edit);
    char *fixed = malloc(strlen(edit) + 32);
    memcpy(fixed, edit, pos);
    strcpy(fixed + pos, "\"fixed\": [\"m\"], ");
    strcat(fixed, edit + pos);
    assert_int_equal(bl_model_from_json(fixed, strlen(fixed), "m.json", &h, &e), BL_OK);
    free(fixed);
    assert_true(fabs(bl_model_level_weight(h, 0, 0) - log2(0.9 / 0.2)) < 1e-12);
    /* bad files name the JSON path */
    const char *bad = "{\"blindlink_model\": 1, \"prior\": 2, \"fields\": []}";
    bl_model *h3 = NULL;
    assert_int_equal(bl_model_from_json(bad, strlen(bad), "x.json", &h3, &e), BL_EINPUT);
    assert_null(h3);
    assert_non_null(strstr(e.msg, "x.json: $.prior"));
    char *neg = strdup(j1);
    p = strstr(neg, "\"u\": 0.2");
    memcpy(p, "\"u\": 7.2", 8);
    bl_model *h2 = NULL;
    assert_int_equal(bl_model_from_json(neg, strlen(neg), "y.json", &h2, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "$.fields[0].levels[0]"));
    /* misspelt keys and wrong types are refused, not read as absent (a
     * "fixd" list would let training move an m the user fixed) */
    static const struct {
        const char *from, *to, *where;
    } typos[] = {
        {"\"fixed\": [", "\"fixd\": [", "$.fields[2].levels[1]: unknown key 'fixd'"},
        {"\"tf_adjust\": false", "\"tf_ajdust\": false", "$.fields[2]: unknown key 'tf_ajdust'"},
        {"\"label\": \"exact\"", "\"lable\": \"exact\"", "$.fields[0].levels[0]: unknown key 'lable'"},
        {"\"prior\":", "\"fix_prior\": \"yes\", \"prior\":", "$: 'fix_prior' must be true or false"},
        {"\"tf_adjust\": false", "\"tf_adjust\": 0", "$.fields[2]: 'tf_adjust' must be true or false"},
        {"\"status\":", "\"stauts\": 1, \"status\":", "$.training: unknown key 'stauts'"},
        {"\"u_random\": 0.0166", "\"u_random\": -0.0166", "$.fields[0].levels[0]: 'u_random' must be"},
    };
    for (size_t t = 0; t < sizeof typos / sizeof typos[0]; t++) {
        const char *at = strstr(j1, typos[t].from);
        if (!at)
            fail_msg("typo %zu: '%s' not in %s", t, typos[t].from, j1);
        const size_t pre = (size_t)(at - j1), nf = strlen(typos[t].from), nt = strlen(typos[t].to);
        char *ty = malloc(strlen(j1) + nt + 1);
        memcpy(ty, j1, pre);
        memcpy(ty + pre, typos[t].to, nt);
        strcpy(ty + pre + nt, at + nf);
        bl_model *ht = NULL;
        assert_int_equal(bl_model_from_json(ty, strlen(ty), "t.json", &ht, &e), BL_EINPUT);
        assert_null(ht);
        if (!strstr(e.msg, typos[t].where))
            fail_msg("typo %zu: got '%s', want '%s'", t, e.msg, typos[t].where);
        free(ty);
    }
    free(neg);
    free(edit);
    free(j1);
    free(j2);
    bl_model_free(h);
    bl_model_free(r);
    bl_model_free(m);
}

static const char *SCHEMA =
    "{\"version\": 3, \"clkConfig\": {\"l\": 1024, \"kdf\": {\"type\": \"HKDF\"}},"
    " \"features\": ["
    "  {\"identifier\": \"given\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"comparison\": {\"type\": "
    "\"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}, \"hash\": {\"type\": \"blakeHash\"}}},"
    "  {\"identifier\": \"surname\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"comparison\": {\"type\": "
    "\"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}, \"hash\": {\"type\": \"blakeHash\"}}},"
    "  {\"identifier\": \"sex\", \"format\": {\"type\": \"string\"}, \"hashing\": {\"comparison\": {\"type\": "
    "\"exact\"}, \"strategy\": {\"bitsPerToken\": 30}, \"hash\": {\"type\": \"blakeHash\"}}}]%s}";

static void test_field_layout(void **state)
{
    (void)state;
    char txt[4096];
    snprintf(txt, sizeof txt, SCHEMA, "");
    bl_schema *s = NULL;
    bl_error e = {0};
    assert_int_equal(bl_schema_parse(txt, strlen(txt), "s.json", &s, &e), BL_OK);
    bl_encoder *rec = NULL, *fld = NULL;
    bl_encode_opts o = {0};
    assert_int_equal(bl_encoder_new(s, (const uint8_t *)"k", 1, &o, &rec, &e), BL_OK);
    o.layout = BL_LAYOUT_FIELDS;
    assert_int_equal(bl_encoder_new(s, (const uint8_t *)"k", 1, &o, &fld, &e), BL_OK);
    assert_int_equal(bl_encoder_nbits(fld), 3 * 1024);
    assert_null(bl_encoder_layout_meta(rec));
    assert_non_null(strstr(bl_encoder_layout_meta(fld), "\"offset\":2048"));
    uint8_t fp1[32], fp2[32];
    bl_encoder_fingerprint(rec, fp1);
    bl_encoder_fingerprint(fld, fp2);
    assert_memory_not_equal(fp1, fp2, 32);
    const char *cells[] = {"robert", "smith", "m"};
    size_t lens[] = {6, 5, 1};
    uint8_t r[128], f[384];
    bl_encode_scratch *sr = bl_encode_scratch_new(rec), *sf = bl_encode_scratch_new(fld);
    assert_int_equal(bl_encoder_encode(rec, sr, cells, lens, 3, r, NULL, &e), BL_OK);
    assert_int_equal(bl_encoder_encode(fld, sf, cells, lens, 3, f, NULL, &e), BL_OK);
    /* given name and sex as in the record CLK; the surname shares the given
     * name's key (fields.c), so it is not, but "smith" as a given name sets
     * exactly its bits: a swap shows crosswise */
    for (size_t i = 0; i < 128; i++)
        assert_int_equal(r[i] & (f[i] | f[256 + i]), f[i] | f[256 + i]);
    assert_non_null(strstr(bl_encoder_layout_meta(fld), "\"shared_name_key\":[\"given\",\"surname\"]"));
    uint8_t f2[384];
    const char *swapped[] = {"smith", "robert", "m"};
    size_t slens[] = {5, 6, 1};
    assert_int_equal(bl_encoder_encode(fld, sf, swapped, slens, 3, f2, NULL, &e), BL_OK);
    assert_memory_equal(f2, f + 128, 128);
    assert_memory_equal(f2 + 128, f, 128);
    /* an empty value leaves its field empty (missing for the model) */
    cells[2] = "";
    lens[2] = 0;
    assert_int_equal(bl_encoder_encode(fld, sf, cells, lens, 3, f, NULL, &e), BL_OK);
    for (size_t i = 256; i < 384; i++)
        assert_int_equal(f[i], 0);
    bl_encode_scratch_free(sr);
    bl_encode_scratch_free(sf);
    bl_encoder_free(rec);
    bl_encoder_free(fld);
    bl_schema_free(s);
    /* field groups: the schema extension puts given and surname in one filter */
    snprintf(txt, sizeof txt, SCHEMA,
             ", \"blindlink\": {\"fieldGroups\": [{\"name\": \"name\", \"features\": [\"given\", \"surname\"]}]}");
    assert_int_equal(bl_schema_parse(txt, strlen(txt), "s.json", &s, &e), BL_OK);
    assert_int_equal(bl_encoder_new(s, (const uint8_t *)"k", 1, &o, &fld, &e), BL_OK);
    assert_int_equal(bl_encoder_nbits(fld), 2 * 1024);
    assert_non_null(strstr(bl_encoder_layout_meta(fld), "\"features\":[\"given\",\"surname\"]"));
    assert_null(strstr(bl_encoder_layout_meta(fld), "shared_name_key")); /* grouped: clkhash's keys */
    bl_encoder_free(fld);
    bl_schema_free(s);
    snprintf(txt, sizeof txt, SCHEMA, ", \"blindlink\": {\"fieldGroups\": [{\"name\": \"n\", \"features\": [\"nope\"]}]}");
    assert_int_equal(bl_schema_parse(txt, strlen(txt), "s.json", &s, &e), BL_ESCHEMA);
    assert_non_null(strstr(e.msg, "$.blindlink.fieldGroups[0].features[0]"));
}

static void test_check_inputs(void **state)
{
    (void)state;
    bl_clkset *a = NULL, *b = NULL;
    bl_error e = {0};
    assert_int_equal(bl_clkset_new(1024, 1, &a, &e), BL_OK);
    assert_int_equal(bl_clkset_new(1024, 1, &b, &e), BL_OK);
    assert_int_equal(bl_clkset_set_meta(a, "{\"layout\":\"fields\",\"fields\":[{\"name\":\"x\",\"features\":[\"x\"],"
                                           "\"offset\":0,\"bits\":1000}]}", &e), BL_OK);
    const bl_clkset *sets[] = {a, b};
    const char *names[] = {"a.clk", "b.clk"};
    assert_int_equal(bl_model_check_inputs(sets, names, 2, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "b.clk: record-level"));
    assert_int_equal(bl_clkset_set_meta(b, "{\"layout\":\"fields\",\"normalize\":\"names\",\"fields\":[{\"name\":\"x\","
                                           "\"features\":[\"x\"],\"offset\":0,\"bits\":1000}]}", &e), BL_OK);
    assert_int_equal(bl_model_check_inputs(sets, names, 2, &e), BL_EINPUT);
    assert_non_null(strstr(e.msg, "a.clk and b.clk differ in encoding metadata 'normalize'"));
    bl_clkset_free(a);
    bl_clkset_free(b);
}

static void test_nicknames(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(bl_nickname_map("bob", 3, out, sizeof out), 6);
    assert_string_equal(out, "robert");
    assert_int_not_equal(bl_nickname_map("liz ann", 7, out, sizeof out), (size_t)-1);
    assert_string_equal(out, "elizabeth ann");
    assert_int_not_equal(bl_nickname_map("zebedee", 7, out, sizeof out), (size_t)-1);
    assert_string_equal(out, "zebedee");
    assert_null(bl_nickname_canonical("bo", 2));
    assert_null(bl_nickname_canonical("robert", 6)); /* canonical names map to nothing */
    /* the table is sorted (binary search) and idempotent */
    for (size_t i = 0; i < bl_nickname_count; i++) {
        if (i)
            assert_true(strcmp(bl_nickname_table[i - 1].variant, bl_nickname_table[i].variant) < 0);
        const char *c = bl_nickname_table[i].canonical;
        assert_null(bl_nickname_canonical(c, strlen(c)));
    }
    /* in the encoder: given-name columns under "names", not surnames, not without a profile */
    char txt[4096];
    snprintf(txt, sizeof txt, SCHEMA, "");
    bl_schema *s = NULL;
    bl_error e = {0};
    assert_int_equal(bl_schema_parse(txt, strlen(txt), "s.json", &s, &e), BL_OK);
    bl_encode_opts o = {.normalize = BL_NORMALIZE_NAMES, .layout = BL_LAYOUT_FIELDS};
    bl_encoder *en = NULL, *plain = NULL;
    assert_int_equal(bl_encoder_new(s, (const uint8_t *)"k", 1, &o, &en, &e), BL_OK);
    bl_encode_opts o2 = {.layout = BL_LAYOUT_FIELDS};
    assert_int_equal(bl_encoder_new(s, (const uint8_t *)"k", 1, &o2, &plain, &e), BL_OK);
    bl_encode_scratch *sc = bl_encode_scratch_new(en), *sp = bl_encode_scratch_new(plain);
    uint8_t r1[384], r2[384];
    const char *c1[] = {"Bob", "Bob", "m"}, *c2[] = {"ROBERT", "Robert", "m"};
    size_t l1[] = {3, 3, 1}, l2[] = {6, 6, 1};
    assert_int_equal(bl_encoder_encode(en, sc, c1, l1, 3, r1, NULL, &e), BL_OK);
    assert_int_equal(bl_encoder_encode(en, sc, c2, l2, 3, r2, NULL, &e), BL_OK);
    assert_memory_equal(r1, r2, 128);            /* given name: same filter */
    assert_memory_not_equal(r1 + 128, r2 + 128, 128); /* surname: not mapped */
    assert_int_equal(bl_encoder_encode(plain, sp, c1, l1, 3, r1, NULL, &e), BL_OK);
    assert_int_equal(bl_encoder_encode(plain, sp, c2, l2, 3, r2, NULL, &e), BL_OK);
    assert_memory_not_equal(r1, r2, 128);
    bl_encode_scratch_free(sc);
    bl_encode_scratch_free(sp);
    bl_encoder_free(en);
    bl_encoder_free(plain);
    bl_schema_free(s);
}

/* Levels from the integer tables agree with the Dice bands computed in
 * double, on every kernel, for random field pairs of all densities. */
static void test_levels_exact(void **state)
{
    (void)state;
    bl_model *m = toy_model();
    for (size_t f = 0; f < 3; f++) {
        bl_field_model *fm = &m->f[f];
        fm->nbands = 4, fm->band[1] = 0.9, fm->band[2] = 0.75, fm->band[3] = 0.5, fm->nlevels = 5;
    }
    static const char *kernels[] = {"scalar", "avx2", "avx512"};
    _Alignas(64) uint8_t a[192], b[192];
    uint64_t x = 12345;
    for (size_t kn = 0; kn < 3; kn++) {
        const bl_kernel *k = bli_kernel_by_name(kernels[kn]);
        if (!k)
            continue;
        bl_fieldpop fp;
        assert_int_equal(bl_fieldpop_init(&fp, m, k), 0);
        for (int it = 0; it < 3000; it++) {
            int dens = it % 8;
            for (size_t i = 0; i < 192; i++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                a[i] = (uint8_t)(x >> 56);
                b[i] = (uint8_t)(it % 3 ? a[i] ^ ((x >> 40) & (x >> 20) & (x >> 8) & 0xff) : (x >> 32));
                if (dens < 3)
                    a[i] &= (uint8_t)(x >> 16), b[i] &= (uint8_t)(x >> 16);
            }
            uint32_t pa[3], pb[3];
            for (size_t f = 0; f < 3; f++) {
                pa[f] = k->popcount(a + 64 * f, 64);
                pb[f] = k->popcount(b + 64 * f, 64);
            }
            uint8_t lv[3];
            double d[3];
            bl_model_levels(m, &fp, a, pa, b, pb, lv, d);
            for (size_t f = 0; f < 3; f++) {
                uint32_t c = k->and_popcount(a + 64 * f, b + 64 * f, 64);
                double dd = pa[f] + pb[f] ? 2.0 * c / (double)(pa[f] + pb[f]) : 0;
                unsigned want = c == pa[f] && c == pb[f] ? 0 : dd >= 0.9 ? 1 : dd >= 0.75 ? 2 : dd >= 0.5 ? 3 : 4;
                if (!pa[f] || !pb[f])
                    want = BL_LEVEL_MISSING;
                assert_int_equal(lv[f], want);
                if (want != BL_LEVEL_MISSING)
                    assert_true(d[f] == dd);
            }
        }
        bl_fieldpop_free(&fp);
    }
    bl_model_free(m);
}

static int cmp_keyrec(const void *x, const void *y)
{
    const bl_keyrec *a = x, *b = y;
    return a->key != b->key ? (a->key < b->key ? -1 : 1) : (a->rec > b->rec) - (a->rec < b->rec);
}

/* bl_keyrec_sort (block keys, namesake keys) against qsort by (key,
 * record): keys from a small pool so runs are long, every 16-bit digit
 * used, records given in ascending order; sizes 0, 1 and odd. */
static void test_keyrec_sort(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 2, 17, 100003};
    uint64_t pool[64], x = 0x243F6A8885A308D3ULL;
    for (int i = 0; i < 64; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pool[i] = i < 4 ? (uint64_t)i << (16 * i) : x; /* a key per digit, then random ones */
    }
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        const size_t n = sizes[z];
        bl_keyrec *v = malloc((n ? n : 1) * sizeof *v), *ref = malloc((n ? n : 1) * sizeof *ref);
        assert_non_null(v);
        assert_non_null(ref);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[i] = (bl_keyrec){pool[x % 64], (uint32_t)i, 0};
        }
        memcpy(ref, v, n * sizeof *v);
        qsort(ref, n, sizeof *ref, cmp_keyrec);
        assert_int_equal(bl_keyrec_sort(v, n), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(v[i].key == ref[i].key);
            assert_int_equal(v[i].rec, ref[i].rec);
        }
        free(v);
        free(ref);
    }
}

/* a scored match between (da, ra) and (db, rb) */
static bl_scored_pair sp(uint32_t da, uint32_t ra, uint32_t db, uint32_t rb, double w)
{
    bl_scored_pair p;
    memset(&p, 0, sizeof p);
    p.c.dset[0] = da, p.c.rec[0] = ra, p.c.dset[1] = db, p.c.rec[1] = rb;
    p.weight = w;
    p.probability = p.c.score = 1.0 / (1.0 + exp2(-w));
    return p;
}

/* N inputs: one person's records in four inputs with four of their six
 * cross pairs matched. Asked for every cross pair (anonlink's
 * greedy_solve) the person splits in two groups; at half (the default)
 * the groups merge and every matched pair is kept. A pair below min_p
 * never joins, and two records of one input never share a group. */
static void test_resolve_groups(void **state)
{
    (void)state;
    const bl_scored_pair p[] = {
        sp(0, 7, 3, 2, 30), sp(1, 4, 2, 9, 29), /* two groups of two */
        sp(0, 7, 1, 4, 20), sp(3, 2, 2, 9, 19), /* two of their four cross pairs */
        sp(0, 8, 1, 5, -5),                     /* below 0.5: no match */
        sp(0, 9, 3, 2, 10),                     /* input 0 has its record in the group */
    };
    const size_t n = sizeof p / sizeof *p;
    bl_scored_pair *out = NULL;
    size_t nout = 0;
    bl_error err = {0};
    assert_int_equal(bl_model_resolve_merge(p, n, 4, 0.5, 1.0, &out, &nout, &err), BL_OK);
    assert_int_equal(nout, 2); /* the two pairs of two: no merge */
    assert_true(out[0].weight == 30 && out[1].weight == 29);
    free(out);
    assert_int_equal(bl_model_resolve(p, n, 4, 0.5, &out, &nout, &err), BL_OK);
    assert_int_equal(nout, 4); /* merged: the four matched pairs of one group */
    for (size_t i = 0; i < nout; i++)
        assert_true(out[i].weight >= 19 && (i == 0 || out[i].weight <= out[i - 1].weight));
    free(out);
    assert_int_equal(bl_model_resolve_merge(p, n, 4, 0.5, 0.0, &out, &nout, &err), BL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_em_known_answer), cmocka_unit_test(test_em_fixed),
        cmocka_unit_test(test_em_two_starts),   cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_field_layout),    cmocka_unit_test(test_check_inputs),
        cmocka_unit_test(test_nicknames),       cmocka_unit_test(test_levels_exact),
        cmocka_unit_test(test_keyrec_sort),     cmocka_unit_test(test_resolve_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
