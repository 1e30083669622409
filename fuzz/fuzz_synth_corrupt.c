/* fuzz/fuzz_synth_corrupt.c - libFuzzer target for the synth corruption
 * primitives: any bytes as a field value, any kind and field, a small or
 * large buffer. Must never write past the buffer, must keep the result
 * NUL-terminated within it, and valid UTF-8 in must give valid UTF-8 out.
 * Input layout: byte 0 kind, byte 1 field, byte 2 capacity, byte 3 seed,
 * then the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include <blindlink/synth.h>

static int valid_utf8(const char *s, size_t len)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)len;
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
        if (k <= 0)
            return 0;
        p += k;
        left -= k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    bl_synth_corruption kind = (bl_synth_corruption)(data[0] % BL_SYNTH_NCORRUPTIONS);
    bl_synth_field field = (bl_synth_field)(data[1] % BL_SYNTH_NFIELDS);
    size_t cap = 1 + data[2] % BL_SYNTH_FIELD_MAX;
    uint64_t rng[4];
    bl_synth_rng_seed(rng, data[3]);
    const char *val = (const char *)data + 4;
    size_t vlen = strnlen(val, size - 4);
    if (vlen >= cap)
        vlen = cap - 1;
    /* heap buffer of exactly `cap` bytes so ASan sees any overflow */
    char *buf = malloc(cap);
    if (!buf)
        return 0;
    memcpy(buf, val, vlen);
    buf[vlen] = '\0';
    int was_valid = valid_utf8(buf, vlen);
    for (int round = 0; round < 4; round++) {
        bl_synth_corrupt_value(kind, field, buf, cap, rng);
        size_t n = strnlen(buf, cap);
        if (n >= cap)
            abort();
        if (was_valid && !valid_utf8(buf, n))
            abort();
    }
    free(buf);
    return 0;
}
