/* lib/encode/bloom.c - Bloom filter bit vectors as clkhash lays them out: bit i is
 * byte i/8, mask 0x80 >> (i%8) (bitarray "big" endianness); XOR folding
 * (first half XOR second half, repeated) and popcount. */
#include <string.h>

#include "encode/encode_internal.h"

static inline int bit_get(const uint8_t *b, uint32_t i)
{
    return (b[i >> 3] >> (7 - (i & 7))) & 1;
}

void bli_bloom_fold(uint8_t *bits, uint32_t L, uint32_t folds)
{
    for (uint32_t f = 0; f < folds && L >= 2; f++) {
        uint32_t half = L / 2;
        size_t lbytes = (L + 7) / 8;
        if (half % 8 == 0) {
            size_t hb = half / 8;
            for (size_t i = 0; i < hb; i++)
                bits[i] ^= bits[hb + i];
            memset(bits + hb, 0, lbytes - hb);
        } else {
            for (uint32_t i = 0; i < half; i++)
                if (bit_get(bits, half + i))
                    bits[i >> 3] ^= (uint8_t)(0x80u >> (i & 7));
            /* clear everything from bit `half` on */
            size_t hb = half / 8;
            bits[hb] &= (uint8_t)(0xff00u >> (half & 7));
            memset(bits + hb + 1, 0, lbytes - hb - 1);
        }
        L = half;
    }
}

uint32_t bli_popcount_bytes(const uint8_t *b, size_t n)
{
    uint32_t c = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        c += (uint32_t)__builtin_popcountll(w);
    }
    for (; i < n; i++)
        c += (uint32_t)__builtin_popcount(b[i]);
    return c;
}
