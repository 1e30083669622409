/* lib/chat/core.c - the bank bot's core-system boundary, file source: the
 * accounts and transactions CSV files (read with lib/core/csv.c), held in
 * memory and looked up by customer id. An HTTP hook to a real core system
 * would fill the same table of functions (chat_core_ops, chat_core.h). */
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>

#include "chat/chat_core.h"

typedef struct csv_source {
    chat_account *acc;
    size_t nacc;
    chat_txn *txn;
    size_t ntxn;
} csv_source;

static int cmp_acc(const void *a, const void *b)
{
    return strcmp(((const chat_account *)a)->customer_id, ((const chat_account *)b)->customer_id);
}

static int cmp_txn(const void *a, const void *b)
{
    const chat_txn *x = a, *y = b;
    int c = strcmp(x->customer_id, y->customer_id);
    return c ? c : -strcmp(x->date, y->date); /* newest first */
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Read a CSV whose header must be exactly `cols`; calls `row` per record. */
static bl_status read_csv(const char *path, const char *const *cols, size_t ncols,
                          bl_status (*row)(csv_source *, char **, uint64_t, bl_error *),
                          csv_source *c, bl_error *err)
{
    bl_csv_opts o = {0};
    o.validate_utf8 = 1;
    bl_csv_reader *r = NULL;
    bl_status s = bl_csv_open(path, &o, &r, err);
    if (s != BL_OK)
        return s;
    bl_csv_row rw;
    int header = 1;
    while ((s = bl_csv_next(r, &rw, err)) == BL_OK) {
        if (rw.nfields != ncols) {
            s = bl_error_set(err, BL_EINPUT, "%s:%llu: %zu fields, expected %zu (%s...)", path,
                             (unsigned long long)rw.line, rw.nfields, ncols, cols[0]);
            break;
        }
        if (header) {
            for (size_t i = 0; i < ncols && s == BL_OK; i++)
                if (strcmp(rw.fields[i], cols[i]) != 0)
                    s = bl_error_set(err, BL_EINPUT, "%s:1:%zu: header '%s', expected '%s'", path,
                                     i + 1, rw.fields[i], cols[i]);
            header = 0;
            if (s != BL_OK)
                break;
            continue;
        }
        char *f[8];
        for (size_t i = 0; i < ncols; i++)
            f[i] = rw.fields[i];
        if ((s = row(c, f, rw.line, err)) != BL_OK)
            break;
    }
    bl_csv_free(r);
    if (s == BL_EOF && header)
        return bl_error_set(err, BL_EINPUT, "%s: empty file, expected a header", path);
    return s == BL_EOF ? BL_OK : s;
}

static bl_status add_account(csv_source *c, char **f, uint64_t line, bl_error *err)
{
    if (!f[0][0] || !f[2][0])
        return bl_error_set(err, BL_EINPUT, "accounts line %llu: empty customer_id or link_code",
                            (unsigned long long)line);
    chat_account *n = realloc(c->acc, (c->nacc + 1) * sizeof *n);
    if (!n)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    c->acc = n;
    chat_account *a = &c->acc[c->nacc++];
    a->customer_id = dupn(f[0], strlen(f[0]));
    a->display_name = dupn(f[1], strlen(f[1]));
    a->link_code = dupn(f[2], strlen(f[2]));
    a->balance = dupn(f[3], strlen(f[3]));
    a->currency = dupn(f[4], strlen(f[4]));
    return BL_OK;
}

static bl_status add_txn(csv_source *c, char **f, uint64_t line, bl_error *err)
{
    (void)line;
    chat_txn *n = realloc(c->txn, (c->ntxn + 1) * sizeof *n);
    if (!n)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    c->txn = n;
    chat_txn *t = &c->txn[c->ntxn++];
    t->customer_id = dupn(f[0], strlen(f[0]));
    t->date = dupn(f[1], strlen(f[1]));
    t->merchant = dupn(f[2], strlen(f[2]));
    t->amount = dupn(f[3], strlen(f[3]));
    t->currency = dupn(f[4], strlen(f[4]));
    return BL_OK;
}

static void csv_free(void *impl);
static const chat_account *csv_account(void *impl, const char *id);
static size_t csv_recent(void *impl, const char *id, const chat_txn **out, size_t max);
static const chat_core_ops csv_ops = {"csv", csv_account, csv_recent, csv_free};

bl_status bl_chat_core_open_csv(const char *accounts, const char *transactions, bl_chat_core **out,
                                bl_error *err)
{
    static const char *const acols[] = {"customer_id", "display_name", "link_code", "balance",
                                        "currency"};
    static const char *const tcols[] = {"customer_id", "date", "merchant", "amount", "currency"};
    *out = NULL;
    csv_source *c = calloc(1, sizeof *c);
    bl_chat_core *core = calloc(1, sizeof *core);
    if (!c || !core) {
        free(c), free(core);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_status s = read_csv(accounts, acols, 5, add_account, c, err);
    if (s == BL_OK && transactions)
        s = read_csv(transactions, tcols, 5, add_txn, c, err);
    if (s != BL_OK) {
        csv_free(c);
        free(core);
        return s;
    }
    qsort(c->acc, c->nacc, sizeof *c->acc, cmp_acc);
    for (size_t i = 1; i < c->nacc; i++)
        if (!strcmp(c->acc[i].customer_id, c->acc[i - 1].customer_id)) {
            csv_free(c);
            free(core);
            return bl_error_set(err, BL_EINPUT, "%s: customer_id appears twice", accounts);
        }
    qsort(c->txn, c->ntxn, sizeof *c->txn, cmp_txn);
    core->ops = &csv_ops;
    core->impl = c;
    *out = core;
    return BL_OK;
}

void bl_chat_core_free(bl_chat_core *core)
{
    if (!core)
        return;
    core->ops->free(core->impl);
    free(core);
}

static void csv_free(void *impl)
{
    csv_source *c = impl;
    if (!c)
        return;
    for (size_t i = 0; i < c->nacc; i++) {
        chat_account *a = &c->acc[i];
        free(a->customer_id), free(a->display_name), free(a->balance), free(a->currency);
        if (a->link_code) {
            memset(a->link_code, 0, strlen(a->link_code));
            free(a->link_code);
        }
    }
    for (size_t i = 0; i < c->ntxn; i++) {
        chat_txn *t = &c->txn[i];
        free(t->customer_id), free(t->date), free(t->merchant), free(t->amount), free(t->currency);
    }
    free(c->acc);
    free(c->txn);
    free(c);
}

static const chat_account *csv_account(void *impl, const char *id)
{
    const csv_source *c = impl;
    chat_account key = {0};
    key.customer_id = (char *)id;
    return bsearch(&key, c->acc, c->nacc, sizeof *c->acc, cmp_acc);
}

static size_t csv_recent(void *impl, const char *id, const chat_txn **out, size_t max)
{
    const csv_source *c = impl;
    size_t n = 0;
    for (size_t i = 0; i < c->ntxn && n < max; i++) /* sorted: id, newest first */
        if (!strcmp(c->txn[i].customer_id, id))
            out[n++] = &c->txn[i];
    return n;
}
