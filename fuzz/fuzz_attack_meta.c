/* fuzz/fuzz_attack_meta.c - libFuzzer target for the two parsers of the
 * attack/hardening work: --harden profiles (first line of the input) and
 * the "layout"/"fields" metadata reader (the rest, a JSON object). Every
 * input must parse or fail with a message; an accepted profile must be
 * canonical (parsing its canonical form gives itself); an accepted layout
 * must have increasing 512-aligned fields inside the record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/attack.h>
#include <blindlink/encode.h>
#include <blindlink/schema.h>

static const char *SCHEMA =
    "{\"version\": 3, \"clkConfig\": {\"l\": 1024, \"kdf\": {\"type\": \"HKDF\", \"keySize\": 32}}, \"features\": ["
    "{\"identifier\": \"id\", \"ignored\": true},"
    "{\"identifier\": \"name\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}}},"
    "{\"identifier\": \"town\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}}}]}";

static void profile(const bl_schema *s, const char *p)
{
    char c1[200], c2[200];
    bl_error e = {0};
    if (bl_harden_canonical(p, s, c1, sizeof c1, &e) != BL_OK) {
        if (e.msg[0] == '\0')
            abort();
        return;
    }
    if (bl_harden_canonical(c1, s, c2, sizeof c2, &e) != BL_OK || strcmp(c1, c2) != 0)
        abort();
}

static void layout(const bl_schema *s, const char *json)
{
    bl_clkset *set = NULL;
    bl_error e = {0};
    if (bl_clkset_new(4096, 1, &set, &e) != BL_OK)
        abort();
    if (bl_clkset_set_meta(set, json, &e) == BL_OK) {
        bl_attack_layout lay;
        if (bl_attack_layout_parse(set, "fuzz.clk", s, &lay, &e) == BL_OK) {
            uint32_t end = 0;
            for (size_t i = 0; i < lay.nfields; i++) {
                if (lay.f[i].offset % 512 || lay.f[i].offset < end || lay.f[i].offset + lay.f[i].bits > 4096)
                    abort();
                end = lay.f[i].offset + lay.f[i].bits;
            }
            bl_attack_layout_free(&lay);
        } else if (e.msg[0] == '\0') {
            abort();
        }
        bl_clkset *other = NULL;
        if (bl_clkset_new(4096, 1, &other, &e) != BL_OK)
            abort();
        if (bl_clk_meta_check(set, "a", other, "b", &e) != BL_OK && e.msg[0] == '\0')
            abort();
        bl_clkset_free(other);
    }
    bl_clkset_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bl_schema *s;
    bl_error e = {0};
    if (!s && bl_schema_parse(SCHEMA, strlen(SCHEMA), "fuzz-schema.json", &s, &e) != BL_OK)
        abort();
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = memchr(buf, '\n', size);
    if (nl)
        *nl = '\0';
    profile(s, buf);
    if (nl)
        layout(s, nl + 1);
    free(buf);
    return 0;
}
