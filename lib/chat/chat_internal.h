/* lib/chat/chat_internal.h - the chat layer's internals, shared by its files
 * and the unit tests: session state, the deterministic RNG hook for
 * known-answer tests, byte helpers. */
#ifndef BLINDLINK_CHAT_INTERNAL_H
#define BLINDLINK_CHAT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <blindlink/chat.h>

#define CHAT_PREKEY_PREFIX 68 /* ik 32 + ek 32 + spk_id 4 */
#define CHAT_HEADER 40        /* dh 32 + pn 4 + n 4, encrypted: */
#define CHAT_ENC_HEADER 80    /* nonce 24 + header 40 + tag 16 */
#define CHAT_TAG 16
#define CHAT_PAD_BLOCK 128

typedef struct chat_skipped {
    uint8_t hk[32]; /* header key of the chain (header encryption variant) */
    uint32_t n;
    uint8_t mk[32];
} chat_skipped;

/* Double Ratchet state with header encryption (spec sections 3.2, 4) plus
 * the X3DH values needed to keep sending prekey messages until the first
 * answer arrives. */
struct bl_chat_session {
    uint8_t role;     /* 0 customer (Alice), 1 bank (Bob) */
    uint8_t ad[64];   /* X3DH associated data: IK_A (X25519) || IK_B (Ed25519) */
    uint8_t rk[32];
    uint8_t dhs_sk[32], dhs_pk[32];
    uint8_t dhr[32];
    uint8_t cks[32], ckr[32];
    uint8_t hks[32], hkr[32], nhks[32], nhkr[32];
    uint8_t have_dhr, have_cks, have_ckr, have_hks, have_hkr;
    uint32_t ns, nr, pn;
    uint8_t pending_prekey; /* customer: prefix messages with the X3DH data */
    uint8_t ik_pk[32];      /* customer X25519 identity public key */
    uint8_t ek_pk[32];      /* X3DH ephemeral public key */
    uint32_t spk_id;
    uint32_t nskipped;
    chat_skipped skipped[BL_CHAT_MAX_SKIPPED_KEPT];
};

struct bl_chat_bankkeys {
    uint8_t ed_pk[32], ed_sk[64];
    uint8_t x_sk[32], x_pk[32]; /* identity converted to X25519 */
    uint8_t spk_sk[32], spk_pk[32];
    uint32_t spk_id;
    uint8_t sig[64];
};

/* Randomness for keys: libsodium by default; tests install a deterministic
 * stream (ChaCha20 keyed by a seed) to derive known-answer vectors. */
void chat_random(uint8_t *buf, size_t n);
void chat_test_set_seed(const uint8_t seed[32]); /* NULL restores randombytes */

/* X3DH: SK and the two initial header keys (shared HKA, shared NHKB) from
 * the three DH outputs (no one-time prekey, docs/chat.md): out = SK||HKA||NHKB. */
int chat_x3dh_kdf(const uint8_t dh1[32], const uint8_t dh2[32], const uint8_t dh3[32],
                  uint8_t out[96]);
/* KDF_RK_HE and KDF_CK of the Double Ratchet. */
void chat_kdf_rk(const uint8_t rk[32], const uint8_t dh[32], uint8_t rk_out[32],
                 uint8_t ck_out[32], uint8_t nhk_out[32]);
void chat_kdf_ck(uint8_t ck[32], uint8_t mk[32]);

static inline void chat_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}
static inline uint32_t chat_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bank keys from fixed secrets (known-answer tests, JS interop vectors). */
bl_status chat_bankkeys_from_seed(const uint8_t seed[32], const uint8_t spk_sk[32], uint32_t spk_id,
                                  bl_chat_bankkeys **out);
void chat_bankkeys_sign_spk(bl_chat_bankkeys *k);

/* bank.c helpers shared with the bot's storage */
int chat_mkdir_private(const char *dir);

#endif
