/* fuzz/fuzz_model.c - libFuzzer target for the model file parser
 * (bl_model_from_json). Any input must either fail with a message or give a
 * model whose JSON parses again to the same JSON (round trip), with every
 * level weight finite. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/model.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bl_model *m = NULL;
    bl_error e = {0};
    if (bl_model_from_json((const char *)data, size, "fuzz.json", &m, &e) != BL_OK) {
        if (e.msg[0] == '\0')
            abort();
        return 0;
    }
    for (size_t f = 0; f < bl_model_nfields(m); f++)
        for (size_t l = 0; l < bl_model_nlevels(m, f); l++) {
            double w;
            bl_model_level(m, f, l, NULL, NULL, NULL, &w);
            if (!isfinite(w))
                abort();
        }
    char *j1 = NULL, *j2 = NULL;
    if (bl_model_to_json(m, &j1, &e) != BL_OK)
        abort();
    bl_model *m2 = NULL;
    if (bl_model_from_json(j1, strlen(j1), "again.json", &m2, &e) != BL_OK)
        abort();
    if (bl_model_to_json(m2, &j2, &e) != BL_OK || strcmp(j1, j2))
        abort();
    free(j1);
    free(j2);
    bl_model_free(m);
    bl_model_free(m2);
    return 0;
}
