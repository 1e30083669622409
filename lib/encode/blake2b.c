/* lib/encode/blake2b.c - BLAKE2b (RFC 7693) with salt/personalisation and a
 * precomputed keyed state.
 *
 * clkhash hashes every token with a keyed BLAKE2b; a keyed hash of a short
 * message costs two compressions (key block + message block). The key block
 * is the same for every token of a feature, so bli_b2_keyed_init compresses
 * it once and bli_b2_keyed_hash starts from that state: one compression per
 * short token. Verified against libsodium's
 * crypto_generichash_blake2b_salt_personal in tests/unit/test_encode_stages.c.
 *
 * Multi-buffer hashing (bli_b2_hash_many): the messages of many tokens go
 * through a kernel that compresses W blocks at once (scalar W = 1, AVX2 4,
 * AVX-512 8; blake2b_avx2.c, blake2b_avx512.c), each lane taking the next
 * message as soon as its own is done, so messages of different lengths and
 * keyed states share a call. BL_HASH_KERNEL=scalar|avx2|avx512 forces one
 * (an unsupported request falls back to the automatic choice). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "encode/encode_internal.h"
#include "core/internal.h"
#include "encode/blake2b_lanes.h"

static inline uint64_t rotr(uint64_t x, int n)
{
    return (x >> n) | (x << (64 - n));
}

#define G(a, b, c, d, x, y)                                                                        \
    do {                                                                                           \
        a = a + b + (x);                                                                           \
        d = rotr(d ^ a, 32);                                                                       \
        c = c + d;                                                                                 \
        b = rotr(b ^ c, 24);                                                                       \
        a = a + b + (y);                                                                           \
        d = rotr(d ^ a, 16);                                                                       \
        c = c + d;                                                                                 \
        b = rotr(b ^ c, 63);                                                                       \
    } while (0)

/* One round with the message schedule of round r as compile-time constants
 * (the rounds are unrolled so every m[] index is a constant and the 16
 * message words stay in registers). */
#define ROUND(r)                                                                                   \
    do {                                                                                           \
        G(v0, v4, v8, v12, m[b2_sigma[r][0]], m[b2_sigma[r][1]]);                                        \
        G(v1, v5, v9, v13, m[b2_sigma[r][2]], m[b2_sigma[r][3]]);                                        \
        G(v2, v6, v10, v14, m[b2_sigma[r][4]], m[b2_sigma[r][5]]);                                       \
        G(v3, v7, v11, v15, m[b2_sigma[r][6]], m[b2_sigma[r][7]]);                                       \
        G(v0, v5, v10, v15, m[b2_sigma[r][8]], m[b2_sigma[r][9]]);                                       \
        G(v1, v6, v11, v12, m[b2_sigma[r][10]], m[b2_sigma[r][11]]);                                     \
        G(v2, v7, v8, v13, m[b2_sigma[r][12]], m[b2_sigma[r][13]]);                                      \
        G(v3, v4, v9, v14, m[b2_sigma[r][14]], m[b2_sigma[r][15]]);                                      \
    } while (0)

/* Compress one block of 16 message words; t = total bytes so far (incl.
 * this block). */
static void compress_words(uint64_t h[8], const uint64_t m[16], uint64_t t, int last)
{
    uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
    uint64_t v8 = b2_iv[0], v9 = b2_iv[1], v10 = b2_iv[2], v11 = b2_iv[3];
    uint64_t v12 = b2_iv[4] ^ t, v13 = b2_iv[5], v14 = last ? ~b2_iv[6] : b2_iv[6], v15 = b2_iv[7];
    ROUND(0);
    ROUND(1);
    ROUND(2);
    ROUND(3);
    ROUND(4);
    ROUND(5);
    ROUND(6);
    ROUND(7);
    ROUND(8);
    ROUND(9);
    ROUND(10);
    ROUND(11);
    h[0] ^= v0 ^ v8;
    h[1] ^= v1 ^ v9;
    h[2] ^= v2 ^ v10;
    h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12;
    h[5] ^= v5 ^ v13;
    h[6] ^= v6 ^ v14;
    h[7] ^= v7 ^ v15;
}

static void compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last)
{
    uint64_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = bli_load_le64(block + 8 * i);
    compress_words(h, m, t, last);
}

void bli_b2_keyed_init(bl_b2_keyed *k, const uint8_t *key, size_t keylen, const uint8_t *salt,
                      const uint8_t *personal, size_t outlen)
{
    memset(k, 0, sizeof *k);
    for (int i = 0; i < 8; i++)
        k->h0[i] = b2_iv[i];
    k->h0[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ (uint64_t)outlen;
    if (salt) {
        k->h0[4] ^= bli_load_le64(salt);
        k->h0[5] ^= bli_load_le64(salt + 8);
    }
    if (personal) {
        k->h0[6] ^= bli_load_le64(personal);
        k->h0[7] ^= bli_load_le64(personal + 8);
    }
    k->keylen = keylen;
    k->outlen = outlen;
    memcpy(k->hk, k->h0, sizeof k->hk);
    if (keylen) {
        memcpy(k->keyblock, key, keylen);
        compress(k->hk, k->keyblock, 128, 0);
    }
}

void bli_b2_keyed_hash(const bl_b2_keyed *k, const uint8_t *msg, size_t len, uint64_t out[8])
{
    uint64_t h[8];
    uint64_t t;
    if (k->keylen) {
        if (len == 0) { /* the key block is the only, final block */
            memcpy(h, k->h0, sizeof h);
            compress(h, k->keyblock, 128, 1);
            memcpy(out, h, sizeof h);
            return;
        }
        memcpy(h, k->hk, sizeof h);
        t = 128;
    } else {
        memcpy(h, k->h0, sizeof h);
        t = 0;
    }
    while (len > 128) {
        t += 128;
        compress(h, msg, t, 0);
        msg += 128;
        len -= 128;
    }
    uint8_t block[128];
    memset(block, 0, sizeof block);
    memcpy(block, msg, len);
    t += len;
    compress(h, block, t, 1);
    memcpy(out, h, sizeof h);
}

void bli_blake2b(uint8_t *out, size_t outlen, const uint8_t *msg, size_t len, const uint8_t *key,
                size_t keylen, const uint8_t *salt, const uint8_t *personal)
{
    bl_b2_keyed k;
    uint64_t h[8];
    uint8_t full[64];
    bli_b2_keyed_init(&k, key, keylen, salt, personal, outlen);
    bli_b2_keyed_hash(&k, msg, len, h);
    for (int i = 0; i < 8; i++)
        bli_store_le64(full + 8 * i, h[i]);
    memcpy(out, full, outlen);
}

/* ---- multi-buffer hashing --------------------------------------------------- */

static void scalar_compress(uint64_t *h, const uint64_t *m, const uint64_t *t, const uint64_t *f)
{
    compress_words(h, m, t[0], f[0] != 0);
}

static const bl_b2_kernel k_scalar = {"scalar", 1, scalar_compress};

const bl_b2_kernel *bli_b2_kernel_scalar(void)
{
    return &k_scalar;
}

const bl_b2_kernel *bli_b2_kernel_by_name(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "scalar") == 0)
        return &k_scalar;
    if (strcmp(name, "avx2") == 0)
        return bli_b2_kernel_avx2_get();
    if (strcmp(name, "avx512") == 0)
        return bli_b2_kernel_avx512_get();
    return NULL;
}

static const bl_b2_kernel *g_b2_active;
static pthread_once_t g_b2_once = PTHREAD_ONCE_INIT;

static void b2_choose(void)
{
    const char *env = getenv("BL_HASH_KERNEL");
    const bl_b2_kernel *k = NULL;
    if (env && *env && strcmp(env, "auto") != 0)
        k = bli_b2_kernel_by_name(env);
    if (!k)
        k = bli_b2_kernel_avx512_get();
    if (!k)
        k = bli_b2_kernel_avx2_get();
    if (!k)
        k = &k_scalar;
    g_b2_active = k;
}

const bl_b2_kernel *bli_b2_kernel_active(void)
{
    pthread_once(&g_b2_once, b2_choose);
    return g_b2_active;
}

void bli_b2_kernel_force(const bl_b2_kernel *k)
{
    pthread_once(&g_b2_once, b2_choose);
    if (k)
        g_b2_active = k;
    else
        b2_choose();
}

/* One lane's message in flight: the bytes still to compress and the counter. */
typedef struct b2_lane {
    const bl_b2_job *job; /* NULL: idle */
    const uint8_t *p;
    size_t rem;
    uint64_t t;
    int keyonly; /* keyed empty message: the key block is the final block */
} b2_lane;

/* Start job j in lane l: its initial state into column l of h. */
static void lane_start(b2_lane *ln, const bl_b2_job *j, uint64_t *h, unsigned W, unsigned l)
{
    const bl_b2_keyed *k = j->k;
    ln->job = j;
    ln->p = j->msg;
    ln->rem = j->len;
    ln->keyonly = k->keylen && j->len == 0;
    ln->t = k->keylen ? 128 : 0;
    const uint64_t *h0 = k->keylen && !ln->keyonly ? k->hk : k->h0;
    for (int i = 0; i < 8; i++)
        h[i * W + l] = h0[i];
}

/* The lane's next block into column l of m; returns 1 if it is the final one. */
static int lane_block(b2_lane *ln, uint64_t *m, uint64_t *t, unsigned W, unsigned l)
{
    const uint8_t *src = ln->p;
    size_t n = 128; /* bytes of the block taken from src; the rest is zero */
    int last = 1;
    if (ln->keyonly) {
        src = ln->job->k->keyblock;
    } else if (ln->rem > 128) {
        ln->t += 128;
        ln->p += 128;
        ln->rem -= 128;
        last = 0;
    } else {
        n = ln->rem;
        ln->t += n;
    }
    /* whole words straight from the message, then the partial word, then
     * zeros: no padded copy of the block (most tokens are a few bytes) */
    size_t i = 0;
    for (; 8 * i + 8 <= n; i++)
        m[i * W + l] = bli_load_le64(src + 8 * i);
    if (8 * i < n) {
        uint64_t w = 0;
        for (size_t b = 8 * i; b < n; b++)
            w |= (uint64_t)src[b] << (8 * (b - 8 * i));
        m[i++ * W + l] = w;
    }
    for (; i < 16; i++)
        m[i * W + l] = 0;
    t[l] = ln->t;
    return last;
}

void bli_b2_hash_many(const bl_b2_kernel *kern, const bl_b2_job *jobs, size_t n)
{
    if (!kern)
        kern = bli_b2_kernel_active();
    const unsigned W = kern->lanes;
    _Alignas(64) uint64_t h[8 * BL_B2_MAXLANES], m[16 * BL_B2_MAXLANES];
    _Alignas(64) uint64_t t[BL_B2_MAXLANES], f[BL_B2_MAXLANES];
    b2_lane ln[BL_B2_MAXLANES];
    memset(ln, 0, sizeof ln);
    memset(t, 0, sizeof t);
    if (n < W) { /* lanes that never get a message still go through the kernel */
        memset(h, 0, sizeof h);
        memset(m, 0, sizeof m);
    }
    size_t next = 0;
    for (;;) {
        unsigned busy = 0;
        for (unsigned l = 0; l < W; l++) {
            if (!ln[l].job && next < n)
                lane_start(&ln[l], &jobs[next++], h, W, l);
            /* an idle lane compresses whatever it holds; its result is dropped */
            f[l] = ln[l].job && lane_block(&ln[l], m, t, W, l) ? ~0ULL : 0;
            busy += ln[l].job != NULL;
        }
        if (!busy)
            return;
        kern->compress(h, m, t, f);
        for (unsigned l = 0; l < W; l++) {
            if (!ln[l].job || !f[l])
                continue;
            for (int i = 0; i < 8; i++)
                ln[l].job->out[i] = h[i * W + l];
            ln[l].job = NULL;
        }
    }
}
