/* lib/chat/chat_core.h - the core-system boundary the bank bot uses: look up
 * an account by customer id and its most recent transactions, through a
 * small table of functions so the source can change without touching the bot. */
#ifndef BLINDLINK_CHAT_CORE_H
#define BLINDLINK_CHAT_CORE_H

#include <blindlink/chat.h>

typedef struct chat_account {
    char *customer_id, *display_name, *link_code, *balance, *currency;
} chat_account;

typedef struct chat_txn {
    char *customer_id, *date, *merchant, *amount, *currency;
} chat_txn;

/* A core-system source: the CSV file source (core.c) now; an HTTP hook to
 * the bank's core system would fill the same three entries. */
typedef struct chat_core_ops {
    const char *name;
    const chat_account *(*account)(void *impl, const char *id);
    /* up to `max` transactions of `id`, newest first */
    size_t (*recent)(void *impl, const char *id, const chat_txn **out, size_t max);
    void (*free)(void *impl);
} chat_core_ops;

struct bl_chat_core {
    const chat_core_ops *ops;
    void *impl;
};

static inline const chat_account *chat_core_account(const bl_chat_core *c, const char *id)
{
    return c->ops->account(c->impl, id);
}

static inline size_t chat_core_recent(const bl_chat_core *c, const char *id, const chat_txn **out,
                                      size_t max)
{
    return c->ops->recent(c->impl, id, out, max);
}

#endif
