/* blindlink/chat.h - end-to-end encrypted bank chat (docs/chat.md).
 *
 * Key agreement follows the X3DH specification (Signal, rev. 1) and message
 * protection the Double Ratchet specification (Signal, rev. 1), both built on
 * libsodium only: X25519, Ed25519 (bank identity, signed prekey), HMAC-SHA256
 * and HKDF-SHA256, XChaCha20-Poly1305; headers are encrypted (the spec's
 * header encryption variant). The bank's identity key is its
 * `blindlink keygen` key (Ed25519, converted to X25519 for the DH steps).
 *
 * Layers: this header covers the cryptographic session (pure, no I/O), the
 * message codec (a parser a fuzzer can drive), and the bank bot (link state,
 * lockout, expiry, answers from a core-system source). The relay and the
 * network clients live in blindlink/relay.h. */
#ifndef BLINDLINK_CHAT_H
#define BLINDLINK_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

BL_BEGIN_DECLS

/** Protocol version byte of every chat message. */
#define BL_CHAT_VERSION 1
/** Largest chat message (ciphertext and headers) a party accepts. */
#define BL_CHAT_MAX_MESSAGE 65536
/** Largest plaintext a party sends (before padding). */
#define BL_CHAT_MAX_PLAINTEXT 16384
/** Double Ratchet MAX_SKIP: message keys skipped in one chain, at most. */
#define BL_CHAT_MAX_SKIP 1000
/** Skipped message keys kept per session, at most (oldest dropped first). */
#define BL_CHAT_MAX_SKIPPED_KEPT 2000
/** Link lifetime without use: 90 days. */
#define BL_CHAT_LINK_TTL (90 * 86400)
/** Wrong link codes before the link attempt is locked. */
#define BL_CHAT_MAX_BAD_CODES 5
/** Lockout after too many wrong codes: 15 minutes. */
#define BL_CHAT_LOCKOUT_SECONDS (15 * 60)
/** Environment variable overriding the clock (Unix seconds), for tests. */
#define BL_CHAT_NOW_ENV "BL_CHAT_NOW"

/** Current time in Unix seconds, or BL_CHAT_NOW when set. */
int64_t bl_chat_now(void);

/** 1 when `s` is a valid bank name or pseudonym on the relay: 1-64 ASCII
 *  letters, digits, '-' or '_' (it is used in URLs and file names). */
int bl_chat_name_valid(const char *s);

/* ---- prekey bundle --------------------------------------------------------- */

/** What the bank publishes on the relay: identity key (Ed25519), signed
 *  prekey (X25519) with its id and the identity key's signature over
 *  "blindlink-chat-spk" || spk_id (4 bytes BE) || spk. */
typedef struct bl_chat_bundle {
    uint8_t ik[32];
    uint8_t spk[32];
    uint32_t spk_id;
    uint8_t sig[64];
} bl_chat_bundle;

/** Verify the signature and, if `pinned_ik` is non-NULL, that the identity
 *  key equals it (constant time). BL_EAUTH when either fails. */
bl_status bl_chat_bundle_verify(const bl_chat_bundle *b, const uint8_t pinned_ik[32],
                                bl_error *err) BL_WUR;

/** Base64 (URL-safe, no padding) JSON form {"ik","spk","spk_id","sig"}. */
char *bl_chat_bundle_to_json(const bl_chat_bundle *b);
bl_status bl_chat_bundle_from_json(const char *json, bl_chat_bundle *b, bl_error *err) BL_WUR;

/** The bank's keys: Ed25519 identity (from a keygen file) and the signed
 *  prekey, kept in guarded memory. */
typedef struct bl_chat_bankkeys bl_chat_bankkeys;

/** Load the identity from `keyfile` (blindlink keygen format) and the signed
 *  prekey from `spk_file`, creating it (mode 0600) when absent. */
bl_status bl_chat_bankkeys_load(const char *keyfile, const char *spk_file,
                                bl_chat_bankkeys **out, bl_error *err) BL_WUR;
void bl_chat_bankkeys_bundle(const bl_chat_bankkeys *k, bl_chat_bundle *out);
void bl_chat_bankkeys_free(bl_chat_bankkeys *k);

/* ---- session (X3DH + Double Ratchet) --------------------------------------- */

typedef struct bl_chat_session bl_chat_session;

/** Customer side: X3DH with a verified bundle, then the ratchet as Alice.
 *  The customer's X25519 identity is made fresh for each bank session, so
 *  two banks (or two links) cannot correlate it. Messages carry the X3DH
 *  prefix until the first answer is decrypted. */
bl_status bl_chat_session_initiate(const bl_chat_bundle *bundle, bl_chat_session **out,
                                   bl_error *err) BL_WUR;

/** Bank side: open a session from a prekey message, decrypting it. The
 *  caller rejects replays of old prekey messages with bl_chat_session_ek. */
bl_status bl_chat_session_accept(const bl_chat_bankkeys *keys, const uint8_t *msg, size_t len,
                                 bl_chat_session **out, uint8_t **pt, size_t *ptlen,
                                 bl_error *err) BL_WUR;

/** Encrypt a plaintext (padded inside to a multiple of 128 bytes). */
bl_status bl_chat_encrypt(bl_chat_session *s, const uint8_t *pt, size_t ptlen, uint8_t **msg,
                          size_t *mlen, bl_error *err) BL_WUR;

/** Decrypt a message; the state only changes when it authenticates, so a
 *  tampered, replayed or foreign message leaves the session as it was. */
bl_status bl_chat_decrypt(bl_chat_session *s, const uint8_t *msg, size_t len, uint8_t **pt,
                          size_t *ptlen, bl_error *err) BL_WUR;

/** The X3DH ephemeral key of the session (bank side: from the prekey
 *  message; customer side: its own). */
void bl_chat_session_ek(const bl_chat_session *s, uint8_t ek[32]);
/** Skipped message keys currently stored. */
size_t bl_chat_session_skipped(const bl_chat_session *s);

/** Serialise (binary, contains secrets: store with mode 0600) and restore. */
bl_status bl_chat_session_save(const bl_chat_session *s, uint8_t **buf, size_t *len,
                               bl_error *err) BL_WUR;
bl_status bl_chat_session_load(const uint8_t *buf, size_t len, bl_chat_session **out,
                               bl_error *err) BL_WUR;
void bl_chat_session_free(bl_chat_session *s);

/* ---- message codec --------------------------------------------------------- */

enum { BL_CHAT_MSG_PREKEY = 1, BL_CHAT_MSG_NORMAL = 2 };

/** A parsed chat message; pointers point into the input buffer. */
typedef struct bl_chat_msg {
    int type;
    const uint8_t *ik;  /**< prekey only: customer's X25519 identity */
    const uint8_t *ek;  /**< prekey only: X3DH ephemeral */
    uint32_t spk_id;    /**< prekey only */
    const uint8_t *eh;  /**< encrypted ratchet header: nonce (24) and AEAD of
                             DH key, PN, N (40 + 16); opens with a header key */
    size_t header_len;  /**< bytes authenticated as associated data */
    const uint8_t *ct;  /**< AEAD ciphertext with tag */
    size_t ct_len;
} bl_chat_msg;

/** Parse untrusted bytes; BL_EPROTO with the offending field on error. */
bl_status bl_chat_msg_parse(const uint8_t *buf, size_t len, bl_chat_msg *out,
                            bl_error *err) BL_WUR;

/* ---- bank bot ---------------------------------------------------------------- */

/** The bank's core-system boundary: what the bot may ask about a customer.
 *  A file source (CSV) implements it now; an HTTP hook could later. */
typedef struct bl_chat_core bl_chat_core;

/** Load accounts.csv (customer_id,display_name,link_code,balance,currency)
 *  and transactions.csv (customer_id,date,merchant,amount,currency). */
bl_status bl_chat_core_open_csv(const char *accounts, const char *transactions,
                                bl_chat_core **out, bl_error *err) BL_WUR;
void bl_chat_core_free(bl_chat_core *c);

/** The bank bot: sessions and links by relay pseudonym, persisted in a
 *  state directory (mode 0700). */
typedef struct bl_chat_bank bl_chat_bank;

bl_status bl_chat_bank_open(const char *state_dir, const bl_chat_bankkeys *keys,
                            bl_chat_core *core, bl_chat_bank **out, bl_error *err) BL_WUR;
void bl_chat_bank_free(bl_chat_bank *b);

/** Handle one envelope body from pseudonym `from`. On success *reply (may
 *  be NULL when nothing is to be answered) is the encrypted answer to send
 *  back. Rejected input (tampered, replayed, malformed) returns an error
 *  and changes no state. */
bl_status bl_chat_bank_handle(bl_chat_bank *b, const char *from, const uint8_t *msg, size_t len,
                              uint8_t **reply, size_t *rlen, bl_error *err) BL_WUR;

/** Append-only hand-over queue the bank's agents read: one JSON line per
 *  request {"time","pseudonym","customer_id","text"} in state_dir/agent-queue.jsonl. */
const char *bl_chat_bank_agent_queue(const bl_chat_bank *b);

/** Expire links unused for BL_CHAT_LINK_TTL: delete their session keys and
 *  link records. Returns the number expired. */
size_t bl_chat_bank_expire(bl_chat_bank *b);

/* ---- customer client state ----------------------------------------------- */

/** The customer's per-bank state, in a directory (mode 0700): relay
 *  account and token, the pinned bank key, the link status and last use,
 *  the relay cursor, and the session (ratchet) file. */
typedef struct bl_chat_client {
    char *dir;
    char account[80], token[96];
    uint8_t bank_ik[32];
    int have_bank_ik;
    int linked;
    int64_t last_use;
    uint64_t cursor;
    int64_t next_id;
    bl_chat_session *session; /**< NULL when none */
} bl_chat_client;

/** Load (a missing directory or file gives an empty state; the directory
 *  is created). */
bl_status bl_chat_client_load(const char *dir, bl_chat_client *c, bl_error *err) BL_WUR;
/** Save state and session atomically (files mode 0600). */
bl_status bl_chat_client_save(const bl_chat_client *c, bl_error *err) BL_WUR;
/** Delete the session keys (memory and file) and the link. */
void bl_chat_client_forget(bl_chat_client *c);
void bl_chat_client_close(bl_chat_client *c);

/** Application messages (JSON inside the encrypted channel, docs/chat.md):
 *  {"t":"link","id":N,"customer":ID,"code":CODE}, {"t":"msg","id":N,"text":T},
 *  {"t":"unlink","id":N}; answers {"t":"reply","re":N,"ok":BOOL,"text":T,
 *  "linked":BOOL[,"error":CODE]}. */

/** Base64 helpers used by the relay protocol (URL-safe, no padding). */
char *bl_chat_b64(const uint8_t *buf, size_t len);
bl_status bl_chat_unb64(const char *s, uint8_t **out, size_t *len, size_t max,
                        bl_error *err) BL_WUR;

BL_END_DECLS
#endif
