/* lib/chat/chat_core.h - the core-system boundary the bank bot uses: look up
 * an account by customer id and its most recent transactions. */
#ifndef BLINDLINK_CHAT_CORE_H
#define BLINDLINK_CHAT_CORE_H

#include <blindlink/chat.h>

typedef struct chat_account {
    char *customer_id, *display_name, *link_code, *balance, *currency;
} chat_account;

typedef struct chat_txn {
    char *customer_id, *date, *merchant, *amount, *currency;
} chat_txn;

const chat_account *chat_core_account(const bl_chat_core *c, const char *id);
/* Up to `max` transactions of `id`, newest first. */
size_t chat_core_recent(const bl_chat_core *c, const char *id, const chat_txn **out, size_t max);

#endif
