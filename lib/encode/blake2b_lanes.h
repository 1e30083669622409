/* lib/encode/blake2b_lanes.h - the BLAKE2b compression (RFC 7693 section
 * 3.2) written once over an abstract vector type, for the multi-buffer
 * kernels (blake2b_avx2.c, blake2b_avx512.c). Lane l of every vector belongs
 * to message l ("transposed" state), so one G step advances W messages.
 * The includer defines B2V (vector type), B2_ADD, B2_XOR, B2_ROR32/24/16/63,
 * B2_LOAD (aligned load of W words) and B2_STORE, B2_SET1. The tables are
 * static here so sigma[r][i] folds to a constant in the unrolled rounds. */
#ifndef BLINDLINK_BLAKE2B_LANES_H
#define BLINDLINK_BLAKE2B_LANES_H

#include <stdint.h>

static const uint64_t b2_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t b2_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

#ifdef B2V
#define B2_G(a, b, c, d, x, y)                                                                     \
    do {                                                                                           \
        a = B2_ADD(B2_ADD(a, b), x);                                                               \
        d = B2_ROR32(B2_XOR(d, a));                                                                \
        c = B2_ADD(c, d);                                                                          \
        b = B2_ROR24(B2_XOR(b, c));                                                                \
        a = B2_ADD(B2_ADD(a, b), y);                                                               \
        d = B2_ROR16(B2_XOR(d, a));                                                                \
        c = B2_ADD(c, d);                                                                          \
        b = B2_ROR63(B2_XOR(b, c));                                                                \
    } while (0)

#define B2_M(r, i) B2_LOAD(m + B2_W * b2_sigma[r][i])

#define B2_ROUND(r)                                                                                \
    do {                                                                                           \
        B2_G(v0, v4, v8, v12, B2_M(r, 0), B2_M(r, 1));                                             \
        B2_G(v1, v5, v9, v13, B2_M(r, 2), B2_M(r, 3));                                             \
        B2_G(v2, v6, v10, v14, B2_M(r, 4), B2_M(r, 5));                                            \
        B2_G(v3, v7, v11, v15, B2_M(r, 6), B2_M(r, 7));                                            \
        B2_G(v0, v5, v10, v15, B2_M(r, 8), B2_M(r, 9));                                            \
        B2_G(v1, v6, v11, v12, B2_M(r, 10), B2_M(r, 11));                                          \
        B2_G(v2, v7, v8, v13, B2_M(r, 12), B2_M(r, 13));                                           \
        B2_G(v3, v4, v9, v14, B2_M(r, 14), B2_M(r, 15));                                           \
    } while (0)

/* Body of a kernel: h[8 * W], m[16 * W] (word i of lane l at [i * W + l]),
 * t[W] the byte counters, f[W] the final-block flags (0 or all ones). */
#define B2_COMPRESS_BODY(h, m, t, f)                                                               \
    do {                                                                                           \
        B2V v0 = B2_LOAD(h), v1 = B2_LOAD(h + B2_W), v2 = B2_LOAD(h + 2 * B2_W);                   \
        B2V v3 = B2_LOAD(h + 3 * B2_W), v4 = B2_LOAD(h + 4 * B2_W), v5 = B2_LOAD(h + 5 * B2_W);   \
        B2V v6 = B2_LOAD(h + 6 * B2_W), v7 = B2_LOAD(h + 7 * B2_W);                               \
        B2V v8 = B2_SET1(b2_iv[0]), v9 = B2_SET1(b2_iv[1]), v10 = B2_SET1(b2_iv[2]);              \
        B2V v11 = B2_SET1(b2_iv[3]), v12 = B2_XOR(B2_SET1(b2_iv[4]), B2_LOAD(t));                 \
        B2V v13 = B2_SET1(b2_iv[5]), v14 = B2_XOR(B2_SET1(b2_iv[6]), B2_LOAD(f));                 \
        B2V v15 = B2_SET1(b2_iv[7]);                                                               \
        B2_ROUND(0);                                                                               \
        B2_ROUND(1);                                                                               \
        B2_ROUND(2);                                                                               \
        B2_ROUND(3);                                                                               \
        B2_ROUND(4);                                                                               \
        B2_ROUND(5);                                                                               \
        B2_ROUND(6);                                                                               \
        B2_ROUND(7);                                                                               \
        B2_ROUND(8);                                                                               \
        B2_ROUND(9);                                                                               \
        B2_ROUND(10);                                                                              \
        B2_ROUND(11);                                                                              \
        B2_STORE(h, B2_XOR(B2_LOAD(h), B2_XOR(v0, v8)));                                           \
        B2_STORE(h + B2_W, B2_XOR(B2_LOAD(h + B2_W), B2_XOR(v1, v9)));                             \
        B2_STORE(h + 2 * B2_W, B2_XOR(B2_LOAD(h + 2 * B2_W), B2_XOR(v2, v10)));                    \
        B2_STORE(h + 3 * B2_W, B2_XOR(B2_LOAD(h + 3 * B2_W), B2_XOR(v3, v11)));                    \
        B2_STORE(h + 4 * B2_W, B2_XOR(B2_LOAD(h + 4 * B2_W), B2_XOR(v4, v12)));                    \
        B2_STORE(h + 5 * B2_W, B2_XOR(B2_LOAD(h + 5 * B2_W), B2_XOR(v5, v13)));                    \
        B2_STORE(h + 6 * B2_W, B2_XOR(B2_LOAD(h + 6 * B2_W), B2_XOR(v6, v14)));                    \
        B2_STORE(h + 7 * B2_W, B2_XOR(B2_LOAD(h + 7 * B2_W), B2_XOR(v7, v15)));                    \
    } while (0)
#endif

#endif
