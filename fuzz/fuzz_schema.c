/* fuzz/fuzz_schema.c - libFuzzer target for the linkage schema parser. Any
 * input must either fail with a message or give a schema whose v3
 * serialisation parses again to the same fingerprint; small accepted
 * schemas also encode one record (exercising formatting and hashing). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/encode.h>
#include <blindlink/schema.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bl_schema *s = NULL;
    bl_error e = {0};
    if (bl_schema_parse((const char *)data, size, "fuzz.json", &s, &e) != BL_OK) {
        if (e.msg[0] == '\0')
            abort();
        return 0;
    }
    char *json = NULL;
    if (bl_schema_to_v3_json(s, &json, &e) != BL_OK)
        abort();
    bl_schema *s2 = NULL;
    if (bl_schema_parse(json, strlen(json), "v3.json", &s2, &e) != BL_OK)
        abort(); /* our own conversion must be valid v3 */
    uint8_t a[32], b[32];
    bl_schema_fingerprint(s, NULL, a);
    bl_schema_fingerprint(s2, NULL, b);
    if (memcmp(a, b, 32) != 0)
        abort();
    double eb = bl_schema_expected_bits(s, 8);
    if (!(eb >= 0) || eb > bl_schema_filter_bits(s) + 1e-6)
        abort();
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        if (bl_schema_describe(s, null, 8, &e) != BL_OK)
            abort();
        fclose(null);
    }
    size_t nf = bl_schema_nfeatures(s);
    if (nf <= 16 && ((uint64_t)bl_schema_filter_bits(s) << bl_schema_xor_folds(s)) <= 4096) {
        bl_encoder *enc = NULL;
        if (bl_encoder_new(s, (const uint8_t *)"fuzz", 4, NULL, &enc, &e) == BL_OK) {
            bl_encode_scratch *sc = bl_encode_scratch_new(enc);
            const char *vals[16];
            size_t lens[16];
            for (size_t i = 0; i < nf; i++) {
                vals[i] = (i % 3 == 0) ? "12" : (i % 3 == 1) ? "Jos\xc3\xa9" : "";
                lens[i] = strlen(vals[i]);
            }
            uint8_t out[512];
            if (sc) {
                bl_status est = bl_encoder_encode(enc, sc, vals, lens, nf, out, NULL, &e);
                (void)est;
            }
            bl_encode_scratch_free(sc);
            bl_encoder_free(enc);
        }
    }
    free(json);
    bl_schema_free(s);
    bl_schema_free(s2);
    return 0;
}
