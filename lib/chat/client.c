/* lib/chat/client.c - the customer's per-bank state on disk: state.json
 * (relay account and token, pinned bank key, link status, last use, relay
 * cursor, next request id) and session.bin (the ratchet), both mode 0600
 * and written atomically, in a 0700 directory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include <blindlink/io.h>

#include "chat/chat_internal.h"

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

bl_status bl_chat_client_load(const char *dir, bl_chat_client *c, bl_error *err)
{
    memset(c, 0, sizeof *c);
    c->next_id = 1;
    if (chat_mkdir_private(dir) != 0)
        return bl_error_set(err, BL_EIO, "%s: cannot create state directory: %s", dir,
                            strerror(errno));
    c->dir = strdup(dir);
    char *sp = join(dir, "state.json"), *bp = join(dir, "session.bin");
    if (!c->dir || !sp || !bp) {
        free(sp), free(bp);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_status st = BL_OK;
    json_error_t je;
    json_t *o = access(sp, F_OK) == 0 ? json_load_file(sp, 0, &je) : NULL;
    if (access(sp, F_OK) == 0 && !json_is_object(o)) {
        st = bl_error_set(err, BL_EINPUT, "%s:%d:%d: %s", sp, je.line, je.column, je.text);
    } else if (o) {
        const char *a = json_string_value(json_object_get(o, "account"));
        const char *t = json_string_value(json_object_get(o, "token"));
        const char *k = json_string_value(json_object_get(o, "bank_ik"));
        snprintf(c->account, sizeof c->account, "%s", a ? a : "");
        snprintf(c->token, sizeof c->token, "%s", t ? t : "");
        size_t got = 0;
        if (k && sodium_hex2bin(c->bank_ik, 32, k, strlen(k), NULL, &got, NULL) == 0 && got == 32)
            c->have_bank_ik = 1;
        c->linked = json_is_true(json_object_get(o, "linked"));
        c->last_use = json_integer_value(json_object_get(o, "last_use"));
        c->cursor = (uint64_t)json_integer_value(json_object_get(o, "cursor"));
        c->next_id = json_integer_value(json_object_get(o, "next_id"));
        if (c->next_id < 1)
            c->next_id = 1;
    }
    json_decref(o);
    char *buf = NULL;
    size_t len = 0;
    if (st == BL_OK && access(bp, F_OK) == 0) {
        st = bl_read_file(bp, 1 << 20, &buf, &len, err);
        if (st == BL_OK)
            st = bl_chat_session_load((uint8_t *)buf, len, &c->session, err);
        if (buf) {
            sodium_memzero(buf, len);
            free(buf);
        }
    }
    free(sp), free(bp);
    return st;
}

bl_status bl_chat_client_save(const bl_chat_client *c, bl_error *err)
{
    char hex[65] = "";
    if (c->have_bank_ik)
        sodium_bin2hex(hex, sizeof hex, c->bank_ik, 32);
    json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:I}", "account", c->account, "token", c->token,
                          "bank_ik", hex, "linked", c->linked, "last_use", (json_int_t)c->last_use,
                          "cursor", (json_int_t)c->cursor, "next_id", (json_int_t)c->next_id);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char *sp = join(c->dir, "state.json"), *bp = join(c->dir, "session.bin");
    bl_status st = (!s || !sp || !bp) ? bl_error_set(err, BL_ENOMEM, "out of memory") : BL_OK;
    if (st == BL_OK && c->session) {
        uint8_t *b = NULL;
        size_t n = 0;
        st = bl_chat_session_save(c->session, &b, &n, err);
        if (st == BL_OK)
            st = bl_write_file(bp, b, n, err);
        if (b)
            sodium_free(b);
    } else if (st == BL_OK) {
        unlink(bp);
    }
    if (st == BL_OK)
        st = bl_write_file(sp, s, strlen(s), err);
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
    free(sp), free(bp);
    return st;
}

void bl_chat_client_forget(bl_chat_client *c)
{
    bl_chat_session_free(c->session);
    c->session = NULL;
    c->linked = 0;
    char *bp = join(c->dir, "session.bin");
    if (bp)
        unlink(bp);
    free(bp);
}

void bl_chat_client_close(bl_chat_client *c)
{
    bl_chat_session_free(c->session);
    free(c->dir);
    sodium_memzero(c->token, sizeof c->token);
    memset(c, 0, sizeof *c);
}
