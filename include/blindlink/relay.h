/* blindlink/relay.h - the chat relay (the messaging platform's side) and
 * the HTTP client the bank bot and the customer use to reach it
 * (docs/chat.md). The relay stores and forwards opaque encrypted envelopes
 * between pseudonymous mailboxes; it never holds a key that opens them. */
#ifndef BLINDLINK_RELAY_H
#define BLINDLINK_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "common.h"

BL_BEGIN_DECLS
/* Not in the library: the relay lives in the CLI (like server.h), so this
 * header is not installed and its symbols are not exported. */

typedef struct bl_relay_opts {
    const char *listen;      /**< "HOST:PORT" (IPv4 literal or localhost; port 0 = any) */
    const char *data_dir;    /**< SQLite database (WAL) and the relay's pseudonym key */
    const char *web_dir;     /**< static web client (index.html, app.js, chat.js,
                                  sodium.js); NULL = none served */
    const char *port_file;   /**< write the bound port here once listening */
    int64_t ttl_s;           /**< envelope lifetime (default 7 days) */
    size_t max_message;      /**< envelope body cap in bytes (default BL_CHAT_MAX_MESSAGE) */
    size_t queue_cap;        /**< envelopes waiting per mailbox, at most (default 1000) */
    int max_wait_s;          /**< long-poll cap (default 30) */
    int verbose;             /**< log one line per request: method, route, status */
    int quiet;               /**< no start/stop notes on stderr */
} bl_relay_opts;

/** Run the relay until SIGINT/SIGTERM. */
bl_status bl_relay_run(const bl_relay_opts *o, bl_error *err) BL_WUR;

/* ---- client ------------------------------------------------------------------- */

typedef struct bl_relay_client bl_relay_client;

bl_status bl_relay_client_new(const char *url, bl_relay_client **out, bl_error *err) BL_WUR;
void bl_relay_client_free(bl_relay_client *c);

/** Create an account; fills account id and bearer token. */
bl_status bl_relay_register(bl_relay_client *c, char account[80], char token[96],
                            bl_error *err) BL_WUR;
/** Publish (or replace) a bank's prekey bundle under `name`. */
bl_status bl_relay_put_bundle(bl_relay_client *c, const char *token, const char *name,
                              const bl_chat_bundle *b, bl_error *err) BL_WUR;
bl_status bl_relay_get_bundle(bl_relay_client *c, const char *name, bl_chat_bundle *b,
                              bl_error *err) BL_WUR;
/** Send one envelope to a bank name (customer) or pseudonym (bank). On
 *  success the relay has stored it durably. */
bl_status bl_relay_send(bl_relay_client *c, const char *token, const char *to,
                        const uint8_t *body, size_t len, bl_error *err) BL_WUR;

/** Called per received envelope; return non-zero to stop taking more from
 *  this batch (the cursor then stays before this one). */
typedef int (*bl_relay_on_message)(void *ctx, uint64_t seq, const char *from, const uint8_t *body,
                                   size_t len);
/** Long-poll for envelopes after `after` (which also acknowledges, and lets
 *  the relay delete, everything up to `after`), waiting up to wait_s. */
bl_status bl_relay_poll(bl_relay_client *c, const char *token, uint64_t after, int wait_s,
                        bl_relay_on_message fn, void *ctx, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
