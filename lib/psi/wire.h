/* lib/psi/wire.h - internal: the PSI wire format (hello, frames, messages)
 * and the encrypted channel that carries it (lib/psi/channel.c), shared by the
 * protocol (lib/psi/psi.c), unit tests and the frame fuzzer. */
#ifndef BLINDLINK_PSI_WIRE_H
#define BLINDLINK_PSI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include <blindlink/psi.h>

struct bl_psi_identity {
    uint8_t seed[32];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
};

/* ---- hello (cleartext, first bytes each side sends) ---------------------- */
#define PSI_HELLO_MAGIC "BLPSI\0\r\n"
#define PSI_HELLO_BYTES 44 /* magic 8, version u16, role u8, reserved u8, kx pk 32 */
#define PSI_ROLE_CLIENT 0
#define PSI_ROLE_SERVER 1

typedef struct psi_hello {
    unsigned version;
    unsigned role;
    uint8_t kx_pk[crypto_kx_PUBLICKEYBYTES];
} psi_hello;

void psi_hello_encode(const psi_hello *h, uint8_t out[PSI_HELLO_BYTES]);
/** BL_EPROTO on a bad magic or a version other than ours (clear message). */
bl_status psi_hello_decode(const uint8_t *in, size_t len, psi_hello *h, bl_error *err);

/* ---- frames ----------------------------------------------------------------
 * header: "BLF" | version u8 | ciphertext length u32 LE; the header is the
 * AEAD's associated data; nonce = per-direction frame counter (u64 LE, 4
 * zero bytes); ciphertext = ChaCha20-Poly1305-IETF(type u8 | payload). */
#define PSI_FRAME_HDR 8
#define PSI_FRAME_TAG crypto_aead_chacha20poly1305_ietf_ABYTES
#define PSI_FRAME_MAX (32u << 20) /* ciphertext cap */

/** Parse a header: BL_EPROTO on bad magic/version/length; *ct_len = length. */
bl_status psi_frame_header_parse(const uint8_t hdr[PSI_FRAME_HDR], uint32_t *ct_len, bl_error *err);

/* message types (first plaintext byte) */
enum {
    PSI_MSG_AUTH = 1,
    PSI_MSG_SETUP = 2,
    PSI_MSG_POINTS = 3, /* singly-masked records of the sender */
    PSI_MSG_RETURN = 4, /* the receiver's records, doubly masked and truncated */
    PSI_MSG_PING = 5,
    PSI_MSG_FIN = 6,
    PSI_MSG_ERROR = 7,
};

typedef struct psi_setup {
    unsigned mode;                         /* sender's bl_psi_mode */
    unsigned ntypes;
    unsigned types[BL_PSI_MAX_TYPES];
    unsigned cmp_bytes;
    uint32_t email_rules;
    uint64_t ngroups;
    uint32_t batch;
} psi_setup;

#define PSI_SETUP_BYTES (1 + 1 + BL_PSI_MAX_TYPES + 1 + 4 + 8 + 4)
void psi_setup_encode(const psi_setup *s, uint8_t out[PSI_SETUP_BYTES]);
bl_status psi_setup_decode(const uint8_t *p, size_t n, psi_setup *s, bl_error *err);

/** Batch header of POINTS/RETURN: start u64, count u32, then count*elem bytes. */
#define PSI_BATCH_HDR 12
/** Validate a batch payload: exact length, count <= max_count. */
bl_status psi_batch_decode(const uint8_t *p, size_t n, size_t elem_bytes, uint32_t max_count,
                           uint64_t *start, uint32_t *count, const uint8_t **data, bl_error *err);

/* ---- channel -------------------------------------------------------------- */
typedef struct psi_chan psi_chan;

/** Listen on "HOST:PORT" (PORT may be 0); *port receives the bound port. */
bl_status psi_listen(const char *addr, int *lfd, unsigned *port, bl_error *err);
/** Accept one connection within timeout_ms. */
bl_status psi_accept(int lfd, int timeout_ms, int *fd, bl_error *err);
/** Connect to "HOST:PORT", retrying refused connections until timeout_ms. */
bl_status psi_connect(const char *addr, int timeout_ms, int *fd, bl_error *err);

/** Run the authenticated key exchange on a connected socket (takes
 *  ownership of fd): hellos with ephemeral crypto_kx keys, then each side
 *  signs the transcript with its identity key; the peer's identity must equal
 *  `pinned`. */
bl_status psi_chan_open(int fd, int role, const bl_psi_identity *me,
                        const uint8_t pinned[BL_PSI_PUBKEY_BYTES], int timeout_ms,
                        psi_chan **out, bl_error *err);

/** Send one message synchronously (before the writer thread starts). */
bl_status psi_chan_send(psi_chan *c, unsigned type, const uint8_t *p, size_t n, bl_error *err);

/** Start the background writer (queue + heartbeat PINGs every ping_ms). */
bl_status psi_chan_start_writer(psi_chan *c, int ping_ms, bl_error *err);

/** Queue a message (copied) for the writer; never blocks on the network. */
bl_status psi_chan_queue(psi_chan *c, unsigned type, const uint8_t *p, size_t n, bl_error *err);

/** Bytes queued but not yet written. */
size_t psi_chan_pending(psi_chan *c);

/** Receive one message. Waits up to wait_ms for its first byte and returns
 *  BL_OK with *type 0 if none came (the caller tracks peer silence); once a
 *  frame has started, the rest must arrive within the channel timeout.
 *  *payload points into the channel's buffer until the next call. PING
 *  frames are returned like any other. A peer ERROR message becomes
 *  BL_EPROTO "peer aborted: ...". */
bl_status psi_chan_recv(psi_chan *c, int wait_ms, unsigned *type, const uint8_t **payload,
                        size_t *n, bl_error *err);

/** Receive the next non-PING message, failing with BL_ENET after the
 *  channel timeout of silence. */
bl_status psi_chan_recv_wait(psi_chan *c, unsigned *type, const uint8_t **payload, size_t *n,
                             bl_error *err);

/** The channel's silence timeout. */
int psi_chan_timeout_ms(const psi_chan *c);

/** Wait until the writer has flushed everything queued (or failed). */
bl_status psi_chan_flush(psi_chan *c, int timeout_ms, bl_error *err);

/** Best effort: tell the peer why we abort (ERROR message), synchronously. */
void psi_chan_abort(psi_chan *c, const char *why);

/** Byte counters (framing included). */
void psi_chan_counters(const psi_chan *c, uint64_t *sent, uint64_t *received);

/** Stop the writer, close the socket, wipe keys, free. NULL is a no-op. */
void psi_chan_free(psi_chan *c);

/** For tests/fuzzing: decrypt one frame (header + ciphertext) with `key`
 *  and counter `ctr` into `out` (capacity >= ct_len). */
bl_status psi_frame_open(const uint8_t key[32], uint64_t ctr, const uint8_t *frame, size_t n,
                         uint8_t *out, size_t *out_len, bl_error *err);
/** Seal one frame (header + ciphertext) into `out` (capacity n + HDR + TAG). */
size_t psi_frame_seal(const uint8_t key[32], uint64_t ctr, const uint8_t *pt, size_t n,
                      uint8_t *out);

#endif
