/* lib/core/clk_batch.c - bl_clkset_append_packed: many filters from one
 * buffer in one call (include/blindlink/batch.h), for bindings. */
#include <blindlink/batch.h>
#include <blindlink/clk.h>

bl_status bl_clkset_append_packed(bl_clkset *s, const uint8_t *bytes, size_t n, size_t step,
                                  bl_error *err)
{
    if (!s || (n && !bytes))
        return bl_error_set(err, BL_EINVAL, "bl_clkset_append_packed: NULL argument");
    if (n && step < s->nbytes)
        return bl_error_set(err, BL_EINVAL,
                            "bl_clkset_append_packed: step %zu is less than the %u bytes of a filter",
                            step, s->nbytes);
    for (size_t i = 0; i < n; i++) {
        bl_status st = bl_clkset_append(s, bytes + i * step, NULL, err);
        if (st != BL_OK)
            return st;
    }
    return BL_OK;
}
