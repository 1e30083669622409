/* tests/unit/test_attack.c - hardening (reproducible bits, balance gives
 * popcount l, xor halves, keys matter, bad profiles; field-level hardening
 * through the encoder: reproducible, keyed, empty fields stay empty), the
 * metadata check of match, the layout reader, the attacker's model of the
 * hardening (known values) and its undoing of balancing (the pairwise
 * Hamming distances of the original filters come back exactly), and known
 * cases for the attacks: a table whose field values have distinct
 * frequencies must be re-identified by the frequency attack on field-level
 * filters, and not once hardened. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <blindlink/attack.h>
#include <blindlink/encode.h>
#include <blindlink/schema.h>

#include "attack/attack_internal.h"

static const char *SCHEMA =
    "{\"version\": 3, \"clkConfig\": {\"l\": 512, \"kdf\": {\"type\": \"HKDF\", \"keySize\": 32}}, \"features\": ["
    "{\"identifier\": \"id\", \"ignored\": true},"
    "{\"identifier\": \"name\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}}},"
    "{\"identifier\": \"town\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}}}]}";

static bl_schema *schema;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    bl_error e = {0};
    snprintf(dir, sizeof dir, "/tmp/bl-attack-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return bl_schema_parse(SCHEMA, strlen(SCHEMA), "t.json", &schema, &e) == BL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bl_schema_free(schema);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void enc1(const char *harden, const char *secret, const char *name, uint8_t *out, uint32_t *nbits)
{
    bl_encode_opts o = {.harden = harden};
    bl_encoder *e = NULL;
    bl_error err = {0};
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)secret, strlen(secret), &o, &e, &err), BL_OK);
    bl_encode_scratch *s = bl_encode_scratch_new(e);
    const char *f[3] = {"7", name, "springfield"};
    size_t l[3] = {1, strlen(name), 11};
    assert_int_equal(bl_encoder_encode(e, s, f, l, 3, out, NULL, &err), BL_OK);
    *nbits = bl_encoder_nbits(e);
    bl_encode_scratch_free(s);
    bl_encoder_free(e);
}

static unsigned popcount(const uint8_t *b, size_t n)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++)
        c += (unsigned)__builtin_popcount(b[i]);
    return c;
}

static void test_harden_bits(void **state)
{
    (void)state;
    uint8_t a[256], b[256], c[256], p[256];
    uint32_t na, nb, nc, np;
    enc1("blip=0.1,balance,diffuse=2,salt=town", "k1", "alice", a, &na);
    enc1("blip=0.1,balance,diffuse=2,salt=town", "k1", "alice", b, &nb);
    assert_int_equal(na, 1024);
    assert_memory_equal(a, b, na / 8); /* reproducible bit for bit */
    enc1("blip=0.1,balance,diffuse=2,salt=town", "k2", "alice", c, &nc);
    assert_memory_not_equal(a, c, na / 8); /* the secret keys every step */
    enc1("none", "k1", "alice", p, &np);
    assert_int_equal(np, 512);
    enc1("balance", "k1", "alice", b, &nb);
    assert_int_equal(nb, 1024);
    assert_int_equal(popcount(b, 128), 512); /* balanced: always l bits set */
    enc1("xor", "k1", "alice", b, &nb);
    assert_int_equal(nb, 256);
    enc1("blip=0.2", "k1", "alice", b, &nb);
    unsigned diff = 0;
    for (int i = 0; i < 64; i++)
        diff += (unsigned)__builtin_popcount(b[i] ^ p[i]);
    assert_true(diff > 40 && diff < 170); /* about 0.2 * 512 flips */
}

static void test_harden_profiles(void **state)
{
    (void)state;
    char buf[160];
    bl_error err = {0};
    assert_int_equal(bl_harden_canonical("recommended", schema, buf, sizeof buf, &err), BL_OK);
    assert_string_equal(buf, "xor,blip=0.05");
    assert_int_equal(bl_harden_canonical_layout("recommended", schema, BL_LAYOUT_FIELDS, buf, sizeof buf, &err), BL_OK);
    assert_string_equal(buf, "xor,blip=0.035,diffuse=2");
    assert_int_equal(bl_harden_canonical("diffuse=3,salt=name,xor", schema, buf, sizeof buf, &err), BL_OK);
    assert_string_equal(buf, "salt=name,xor,diffuse=3");
    assert_int_equal(bl_harden_canonical("none", schema, buf, sizeof buf, &err), BL_OK);
    assert_string_equal(buf, "");
    static const char *bad[] = {"blip=0.7", "salt=nosuch", "diffuse=0", "frob", "balance,", "blip"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bl_harden_canonical(bad[i], schema, buf, sizeof buf, &err), BL_EINVAL);
        assert_non_null(strstr(err.msg, "--harden"));
    }
}

static void test_meta_check(void **state)
{
    (void)state;
    bl_clkset *a = NULL, *b = NULL;
    bl_error err = {0};
    assert_int_equal(bl_clkset_new(64, 1, &a, &err), BL_OK);
    assert_int_equal(bl_clkset_new(64, 1, &b, &err), BL_OK);
    assert_int_equal(bl_clk_meta_check(a, "a.clk", b, "b.clk", &err), BL_OK);
    assert_int_equal(bl_clkset_set_meta(b, "{\"harden\":\"none\",\"normalize\":\"none\"}", &err), BL_OK);
    assert_int_equal(bl_clk_meta_check(a, "a.clk", b, "b.clk", &err), BL_OK); /* defaults = absent */
    assert_int_equal(bl_clkset_set_meta(b, "{\"harden\":\"blip=0.05,balance\"}", &err), BL_OK);
    assert_int_equal(bl_clk_meta_check(a, "a.clk", b, "b.clk", &err), BL_EINPUT);
    assert_non_null(strstr(err.msg, "a.clk"));
    assert_non_null(strstr(err.msg, "b.clk"));
    assert_non_null(strstr(err.msg, "\"harden\""));
    /* a hardening that also changes the fields is named as the hardening */
    assert_int_equal(bl_clkset_set_meta(a, "{\"fields\":[{\"name\":\"x\",\"bits\":1024}]}", &err),
                     BL_OK);
    assert_int_equal(bl_clkset_set_meta(b,
                                        "{\"fields\":[{\"name\":\"x\",\"bits\":512}],"
                                        "\"harden\":\"xor\"}",
                                        &err),
                     BL_OK);
    assert_int_equal(bl_clk_meta_check(a, "a.clk", b, "b.clk", &err), BL_EINPUT);
    assert_non_null(strstr(err.msg, "\"harden\""));
    /* fields alone: the first field and member that differ, not the whole text */
    assert_int_equal(bl_clkset_set_meta(b, "{\"fields\":[{\"name\":\"x\",\"bits\":512}]}", &err),
                     BL_OK);
    assert_int_equal(bl_clk_meta_check(a, "a.clk", b, "b.clk", &err), BL_EINPUT);
    assert_non_null(
        strstr(err.msg, "\"fields\"[0] (\"x\") \"bits\" is 1024 in a.clk but 512 in b.clk"));
    assert_int_equal(bl_clkset_set_meta(
                         b, "{\"fields\":[{\"name\":\"x\",\"bits\":1024},{\"name\":\"y\"}]}", &err),
                     BL_OK);
    assert_int_equal(bl_clk_meta_check(a, "a.clk", b, "b.clk", &err), BL_EINPUT);
    assert_non_null(strstr(err.msg, "(the number of fields) is 1 in a.clk but 2 in b.clk"));
    bl_clkset_free(a);
    bl_clkset_free(b);
}

static void test_layout(void **state)
{
    (void)state;
    bl_clkset *s = NULL;
    bl_error err = {0};
    bl_attack_layout lay;
    assert_int_equal(bl_clkset_new(1536, 1, &s, &err), BL_OK);
    assert_int_equal(bl_attack_layout_parse(s, "f.clk", schema, &lay, &err), BL_OK);
    assert_int_equal(lay.fields, 0);
    assert_int_equal(bl_clkset_set_meta(s, "{\"layout\":\"fields\",\"fields\":[{\"name\":\"n\",\"features\":[\"name\"],"
                                           "\"offset\":0,\"bits\":512},{\"name\":\"t\",\"features\":[\"town\"],"
                                           "\"offset\":1024,\"bits\":512}]}", &err), BL_OK);
    assert_int_equal(bl_attack_layout_parse(s, "f.clk", schema, &lay, &err), BL_OK);
    assert_int_equal(lay.nfields, 2);
    assert_int_equal(lay.f[1].offset, 1024);
    assert_string_equal(lay.f[1].features[0], "town");
    bl_attack_layout_free(&lay);
    static const char *bad[] = {
        "{\"layout\":\"fields\",\"fields\":[{\"name\":\"n\",\"features\":[\"name\"],\"offset\":100,\"bits\":512}]}",
        "{\"layout\":\"fields\",\"fields\":[{\"name\":\"n\",\"features\":[\"nosuch\"],\"offset\":0,\"bits\":512}]}",
        "{\"layout\":\"fields\",\"fields\":[{\"name\":\"n\",\"features\":[\"name\"],\"offset\":1024,\"bits\":1024}]}",
        "{\"layout\":\"fields\"}", "{\"layout\":\"rows\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bl_clkset_set_meta(s, bad[i], &err), BL_OK);
        assert_int_equal(bl_attack_layout_parse(s, "f.clk", schema, &lay, &err), BL_EINPUT);
        assert_non_null(strstr(err.msg, "f.clk"));
    }
    bl_clkset_free(s);
}

/* Names and towns with frequencies 4, 3, 2, 1 each, every (name, town)
 * pair distinct: 8 of the 10 records are singled out by their two
 * frequency-aligned values (the other two share their only aligned value). */
static const char *TABLE[][2] = {{"anna", "xanten"}, {"anna", "york"},   {"anna", "zug"},    {"anna", "wells"},
                                 {"bernd", "xanten"}, {"bernd", "york"}, {"bernd", "zug"},   {"clara", "xanten"},
                                 {"clara", "york"},   {"dora", "xanten"}};

static void write_table(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "id,name,town\n");
    for (int i = 0; i < 10; i++)
        fprintf(fp, "r%d,%s,%s\n", i, TABLE[i][0], TABLE[i][1]);
    fclose(fp);
}

static void run_freq(const char *harden, size_t *correct, size_t *guesses, char *layout)
{
    char csv[128], clk[128];
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    snprintf(clk, sizeof clk, "%s/t.clk", dir);
    write_table(csv);
    bl_error err = {0};
    bl_encode_opts eo = {.harden = harden};
    assert_int_equal(bl_attack_encode_fields(schema, csv, &eo, (const uint8_t *)"s3cret", 6, 512, "id", clk, &err),
                     BL_OK);
    bl_clkset *enc = NULL;
    assert_int_equal(bl_clkset_read(clk, BL_CLK_AUTO, 0, &enc, &err), BL_OK);
    bl_attack_opts o = {.method = BL_ATTACK_FREQUENCY, .ids_column = "id", .truth_ids = 1, .seed = 5, .threads = 1};
    bl_attack_result r;
    assert_int_equal(bl_attack_run(schema, csv, enc, &o, &r, NULL, NULL, &err), BL_OK);
    assert_int_equal(r.encoded, 10);
    assert_int_equal(r.segments, 2);
    strcpy(layout, r.layout);
    *correct = r.correct;
    *guesses = r.guesses;
    bl_clkset_free(enc);
}

static void test_frequency_known(void **state)
{
    (void)state;
    size_t correct, guesses;
    char layout[16];
    run_freq(NULL, &correct, &guesses, layout);
    assert_string_equal(layout, "fields");
    assert_int_equal(guesses, 8);
    assert_int_equal(correct, 8);
    run_freq("recommended", &correct, &guesses, layout);
    assert_int_equal(correct, 0);
}

static void test_attack_errors(void **state)
{
    (void)state;
    char csv[128], bad[128];
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    snprintf(bad, sizeof bad, "%s/bad.csv", dir);
    write_table(csv);
    FILE *fp = fopen(bad, "w");
    assert_non_null(fp);
    fprintf(fp, "id,name\nr1,anna\n");
    fclose(fp);
    bl_clkset *enc = NULL;
    bl_error err = {0};
    assert_int_equal(bl_clkset_new(512, 1, &enc, &err), BL_OK);
    uint8_t z[64] = {1};
    assert_int_equal(bl_clkset_append(enc, z, NULL, &err), BL_OK);
    bl_attack_opts o = {.method = BL_ATTACK_GRAPH, .ids_column = "id", .truth_ids = 1};
    bl_attack_result r;
    assert_int_equal(bl_attack_run(schema, csv, enc, &o, &r, NULL, NULL, &err), BL_EINPUT);
    assert_non_null(strstr(err.msg, "no record ids"));
    o.truth_ids = 0;
    assert_int_equal(bl_attack_run(schema, bad, enc, &o, &r, NULL, NULL, &err), BL_EINPUT);
    assert_non_null(strstr(err.msg, "no column 'town'"));
    bl_clkset_free(enc);
}

/* Encode (name, town) with the field layout and `harden` into out. */
static uint32_t enc_fields(const char *harden, const char *secret, const char *name, const char *town, uint8_t *out,
                           char **meta)
{
    bl_encode_opts o = {.harden = harden, .layout = BL_LAYOUT_FIELDS};
    bl_encoder *e = NULL;
    bl_error err = {0};
    assert_int_equal(bl_encoder_new(schema, (const uint8_t *)secret, strlen(secret), &o, &e, &err), BL_OK);
    bl_encode_scratch *s = bl_encode_scratch_new(e);
    const char *f[3] = {"7", name, town};
    size_t l[3] = {1, strlen(name), strlen(town)};
    assert_int_equal(bl_encoder_encode(e, s, f, l, 3, out, NULL, &err), BL_OK);
    uint32_t nb = bl_encoder_nbits(e);
    if (meta)
        assert_int_equal(bl_encoder_meta(e, meta, &err), BL_OK);
    bl_encode_scratch_free(s);
    bl_encoder_free(e);
    return nb;
}

static void test_harden_fields(void **state)
{
    (void)state;
    uint8_t a[512], b[512], c[512];
    char *meta = NULL;
    uint32_t n = enc_fields("blip=0.1,balance", "k1", "alice", "springfield", a, &meta);
    assert_int_equal(n, 2048); /* two fields of 2 x 512 bits, 1024-bit stride */
    assert_non_null(strstr(meta, "\"bits\":1024"));
    assert_non_null(strstr(meta, "\"offset\":1024"));
    assert_non_null(strstr(meta, "\"harden\":\"blip=0.1,balance\""));
    free(meta);
    assert_int_equal(popcount(a, 128), 512); /* each field balanced on its own */
    assert_int_equal(popcount(a + 128, 128), 512);
    enc_fields("blip=0.1,balance", "k1", "alice", "springfield", b, NULL);
    assert_memory_equal(a, b, n / 8); /* bit for bit */
    enc_fields("blip=0.1,balance", "k2", "alice", "springfield", c, NULL);
    assert_memory_not_equal(a, c, n / 8);
    /* an empty field stays empty (the model's "missing"), the other is
     * hardened (BLIP's flips depend on the whole record, so they differ) */
    enc_fields("blip=0.1,balance", "k1", "alice", "", b, NULL);
    assert_int_equal(popcount(b, 128), 512);
    assert_memory_not_equal(a, b, 128);
    assert_int_equal(popcount(b + 128, 128), 0);
    /* with xor the fields halve: 512-bit strides of 256 bits */
    assert_int_equal(enc_fields("xor", "k1", "alice", "springfield", b, NULL), 512 + 256);
    /* unhardened fields are the plain per-field filters */
    assert_int_equal(enc_fields(NULL, "k1", "alice", "springfield", b, NULL), 1024);
}

static void test_hardening_model(void **state)
{
    (void)state;
    atk_hmodel hm;
    atk_hmodel_parse("salt=town,xor,blip=0.05,balance,diffuse=3", &hm);
    assert_int_equal(hm.xor_fold, 1);
    assert_true(hm.blip == 0.05);
    assert_int_equal(hm.balance, 1);
    assert_int_equal(hm.diffuse, 3);
    double dens = 0;
    atk_hmodel_parse("", &hm);
    assert_true(fabs(atk_hardened_dice(&hm, 0.2, 0.1, 0.1, &dens) - 2 * 0.2 / 0.6) < 1e-12);
    assert_true(fabs(dens - 0.3) < 1e-12);
    atk_hmodel_parse("balance", &hm); /* balanced Dice = 1 - Hamming */
    assert_true(fabs(atk_hardened_dice(&hm, 0.2, 0.1, 0.1, &dens) - 0.8) < 1e-12);
    assert_true(fabs(dens - 0.5) < 1e-12);
    atk_hmodel_parse("diffuse=1", &hm); /* one tap: the identity */
    assert_true(fabs(atk_hardened_dice(&hm, 0.2, 0.1, 0.1, NULL) - 2 * 0.2 / 0.6) < 1e-12);
    /* XOR of 2 bits of density 0.3 from independent positions: 2 * 0.3 * 0.7 */
    atk_hmodel_parse("xor", &hm);
    atk_hardened_dice(&hm, 0.3, 0, 0, &dens);
    assert_true(fabs(dens - 0.42) < 1e-12);
    /* BLIP on identical filters: they differ where exactly one flipped */
    atk_hmodel_parse("blip=0.1", &hm);
    double d = atk_hardened_dice(&hm, 0.5, 0, 0, &dens);
    assert_true(fabs(dens - 0.5) < 1e-12);
    assert_true(fabs(d - 2 * (0.5 * 0.81 + 0.5 * 0.01) / 1.0) < 1e-12);
}

/* Hamming distance of filters i and j of a set. */
static unsigned hamming(const bl_clkset *s, size_t i, size_t j)
{
    unsigned h = 0;
    for (size_t b = 0; b < s->nbytes; b++)
        h += (unsigned)__builtin_popcount(s->data[i * s->stride + b] ^ s->data[j * s->stride + b]);
    return h;
}

static void test_debalance_known(void **state)
{
    (void)state;
    static const char *names[] = {"anna", "bernd", "clara", "dora", "emil", "frieda", "gustav", "hanna",
                                  "ida", "jonas", "karl", "lena", "max", "nora", "otto", "paula"};
    const size_t n = sizeof names / sizeof names[0];
    bl_clkset *plain = NULL, *bal = NULL, *undone = NULL;
    bl_error err = {0};
    assert_int_equal(bl_clkset_new(512, n, &plain, &err), BL_OK);
    assert_int_equal(bl_clkset_new(1024, n, &bal, &err), BL_OK);
    uint8_t f[256];
    uint32_t nb;
    for (size_t i = 0; i < n; i++) {
        enc1("blip=0.05", "k1", names[i], f, &nb);
        assert_int_equal(bl_clkset_append(plain, f, NULL, &err), BL_OK);
        enc1("blip=0.05,balance", "k1", names[i], f, &nb);
        assert_int_equal(bl_clkset_append(bal, f, NULL, &err), BL_OK);
    }
    bl_attack_layout lay = {0};
    assert_int_equal(atk_debalance(bal, &lay, &undone, &err), BL_OK);
    assert_non_null(undone);
    assert_int_equal(undone->nbits, 512);
    /* the filters before balancing, up to a permutation and the orientation
     * of each position: every pairwise Hamming distance is back */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_int_equal(hamming(undone, i, j), hamming(plain, i, j));
    bl_clkset_free(undone);
    /* diffusion after balancing mixes the pairs: nothing to undo */
    bl_clkset_free(bal);
    assert_int_equal(bl_clkset_new(1024, n, &bal, &err), BL_OK);
    for (size_t i = 0; i < n; i++) {
        enc1("balance,diffuse=3", "k1", names[i], f, &nb);
        assert_int_equal(bl_clkset_append(bal, f, NULL, &err), BL_OK);
    }
    undone = NULL;
    assert_int_equal(atk_debalance(bal, &lay, &undone, &err), BL_OK);
    assert_null(undone);
    bl_clkset_free(bal);
    bl_clkset_free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harden_bits),  cmocka_unit_test(test_harden_profiles),
        cmocka_unit_test(test_meta_check),   cmocka_unit_test(test_layout),
        cmocka_unit_test(test_frequency_known), cmocka_unit_test(test_attack_errors),
        cmocka_unit_test(test_harden_fields), cmocka_unit_test(test_hardening_model),
        cmocka_unit_test(test_debalance_known),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
