/* lib/chat/bank.c - the bank bot: one encrypted session and one link record
 * per relay pseudonym, opt-in linking by one-time link code with lockout,
 * 90-day expiry, and the answers (balance, recent transactions, card freeze
 * request, hand-over to a human agent queue).
 *
 * State directory (mode 0700, files 0600, each written atomically):
 *   p/<pseudonym>.sess   ratchet state     p/<pseudonym>.link  link record JSON
 *   c/<hash>.lock        per-customer wrong-code counter (hash of the id)
 *   used-codes, seen-ek  one hex hash per line (append + fsync)
 *   agent-queue.jsonl, freeze-requests.jsonl   queues the bank's staff read */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include <blindlink/io.h>

#include "chat/chat_core.h"
#include "chat/chat_internal.h"

struct bl_chat_bank {
    pthread_mutex_t mu;    /* shared files: used codes, lock counters */
    pthread_mutex_t ek_mu; /* seen ephemerals: check, accept, record as one step */
    char *dir;
    char *queue_path;
    const bl_chat_bankkeys *keys;
    bl_chat_core *core;
};

typedef struct link_rec {
    char customer[128]; /* "" = not linked */
    int64_t last_use;
    int64_t bad;
    int64_t locked_until;
} link_rec;

int chat_mkdir_private(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static char *concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

static char *path_join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", a, b, c);
    return p;
}

static bl_status append_line(const char *path, const char *line, bl_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    int bad = !buf;
    if (buf) { /* one write: concurrent appenders do not interleave */
        memcpy(buf, line, n);
        buf[n] = '\n';
        bad = write(fd, buf, n + 1) != (ssize_t)(n + 1) || fsync(fd) != 0;
        free(buf);
    }
    close(fd);
    return bad ? bl_error_set(err, BL_EIO, "%s: append failed", path) : BL_OK;
}

static int file_has_line(const char *path, const char *line)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char buf[256];
    int found = 0;
    while (!found && fgets(buf, sizeof buf, fp)) {
        buf[strcspn(buf, "\n")] = 0;
        found = strcmp(buf, line) == 0;
    }
    fclose(fp);
    return found;
}

static void hash_hex(const char *a, const char *b, char out[65])
{
    uint8_t h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, (const uint8_t *)"blindlink-chat-bank", 19, 32);
    crypto_generichash_update(&st, (const uint8_t *)a, strlen(a) + 1);
    if (b)
        crypto_generichash_update(&st, (const uint8_t *)b, strlen(b));
    crypto_generichash_final(&st, h, 32);
    sodium_bin2hex(out, 65, h, 32);
}

/* ---- link records ------------------------------------------------------------- */

static void rec_load(const char *path, link_rec *r)
{
    memset(r, 0, sizeof *r);
    json_t *o = json_load_file(path, 0, NULL);
    if (!o)
        return;
    const char *c = json_string_value(json_object_get(o, "customer"));
    if (c)
        snprintf(r->customer, sizeof r->customer, "%s", c);
    r->last_use = json_integer_value(json_object_get(o, "last_use"));
    r->bad = json_integer_value(json_object_get(o, "bad"));
    r->locked_until = json_integer_value(json_object_get(o, "locked_until"));
    json_decref(o);
}

static bl_status rec_save(const char *path, const link_rec *r, bl_error *err)
{
    json_t *o = json_pack("{s:s,s:I,s:I,s:I}", "customer", r->customer, "last_use",
                          (json_int_t)r->last_use, "bad", (json_int_t)r->bad, "locked_until",
                          (json_int_t)r->locked_until);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    bl_status st = bl_write_file(path, s, strlen(s), err);
    free(s);
    return st;
}

bl_status bl_chat_bank_open(const char *state_dir, const bl_chat_bankkeys *keys, bl_chat_core *core,
                            bl_chat_bank **out, bl_error *err)
{
    *out = NULL;
    bl_chat_bank *b = calloc(1, sizeof *b);
    char *p = path_join(state_dir, "p", ""), *c = path_join(state_dir, "c", "");
    if (!b || !p || !c) {
        free(b), free(p), free(c);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    int bad = chat_mkdir_private(state_dir) || chat_mkdir_private(p) || chat_mkdir_private(c);
    free(p), free(c);
    if (bad) {
        free(b);
        return bl_error_set(err, BL_EIO, "%s: cannot create state directory: %s", state_dir,
                            strerror(errno));
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->ek_mu, NULL);
    b->dir = strdup(state_dir);
    b->queue_path = path_join(state_dir, "agent-queue.jsonl", "");
    b->keys = keys;
    b->core = core;
    *out = b;
    return BL_OK;
}

void bl_chat_bank_free(bl_chat_bank *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->ek_mu);
    free(b->dir);
    free(b->queue_path);
    free(b);
}

const char *bl_chat_bank_agent_queue(const bl_chat_bank *b)
{
    return b->queue_path;
}

/* ---- answers ------------------------------------------------------------------------ */

typedef struct reply {
    int ok, linked;
    const char *error;
    char text[2048];
} reply;

static void answer_linked(bl_chat_bank *b, const char *pseud, const link_rec *r, const char *text,
                          reply *out)
{
    const chat_account *a = chat_core_account(b->core, r->customer);
    out->ok = 1;
    if (!a) {
        snprintf(out->text, sizeof out->text, "Your account is no longer available in chat.");
        return;
    }
    char lower[256];
    size_t n = 0;
    for (; text[n] && n < sizeof lower - 1; n++)
        lower[n] = (char)((text[n] >= 'A' && text[n] <= 'Z') ? text[n] + 32 : text[n]);
    lower[n] = 0;
    if (strstr(lower, "balance")) {
        snprintf(out->text, sizeof out->text, "Your balance is %s %s.", a->balance, a->currency);
    } else if (strstr(lower, "transaction") || strstr(lower, "recent")) {
        const chat_txn *t[5];
        size_t k = chat_core_recent(b->core, a->customer_id, t, 5);
        int off = snprintf(out->text, sizeof out->text, "Recent transactions:");
        for (size_t i = 0; i < k && off < (int)sizeof out->text; i++)
            off += snprintf(out->text + off, sizeof out->text - (size_t)off, "\n%s %s %s %s",
                            t[i]->date, t[i]->merchant, t[i]->amount, t[i]->currency);
        if (k == 0)
            snprintf(out->text + off, sizeof out->text - (size_t)off, " none.");
    } else if (strstr(lower, "freeze")) {
        json_t *o = json_pack("{s:I,s:s,s:s}", "time", (json_int_t)bl_chat_now(), "pseudonym",
                              pseud, "customer_id", a->customer_id);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        char *path = path_join(b->dir, "freeze-requests.jsonl", "");
        bl_error e = {0};
        int okw = line && path && append_line(path, line, &e) == BL_OK;
        free(line), free(path), json_decref(o);
        snprintf(out->text, sizeof out->text,
                 okw ? "Card freeze requested. Your card is blocked for payments until you "
                       "or an agent lift it."
                     : "Sorry, the freeze request could not be recorded; please call us.");
        out->ok = okw;
    } else if (strstr(lower, "agent") || strstr(lower, "human")) {
        json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "time", (json_int_t)bl_chat_now(), "pseudonym",
                              pseud, "customer_id", a->customer_id, "text", text);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        bl_error e = {0};
        int okw = line && append_line(b->queue_path, line, &e) == BL_OK;
        free(line), json_decref(o);
        snprintf(out->text, sizeof out->text,
                 okw ? "A human agent will take over this conversation here."
                     : "Sorry, the agent queue is not available; please call us.");
        out->ok = okw;
    } else {
        snprintf(out->text, sizeof out->text,
                 "Hello %s. Ask for your balance, recent transactions, to freeze your card, or "
                 "for an agent.",
                 a->display_name);
    }
}

static void do_link(bl_chat_bank *b, link_rec *r, const char *cid, const char *code, reply *out)
{
    int64_t now = bl_chat_now();
    char lockname[80], h[65];
    hash_hex(cid, NULL, h);
    snprintf(lockname, sizeof lockname, "c/%s.lock", h);
    char *lockpath = path_join(b->dir, lockname, "");
    link_rec cl;
    rec_load(lockpath, &cl);
    bl_error e = {0};
    out->error = NULL;
    if (r->locked_until > now || cl.locked_until > now) {
        out->error = "locked";
        snprintf(out->text, sizeof out->text,
                 "Too many wrong link codes. Linking is locked; try again later.");
        free(lockpath);
        return;
    }
    const chat_account *a = chat_core_account(b->core, cid);
    /* compare hashes so the comparison is constant time whatever the lengths */
    char want[65], got[65];
    hash_hex(cid, a ? a->link_code : "\x01no-account", want);
    hash_hex(cid, code, got);
    int match = a && sodium_memcmp(want, got, 64) == 0;
    char *used = path_join(b->dir, "used-codes", "");
    if (match && file_has_line(used, got)) {
        out->error = "code_used";
        snprintf(out->text, sizeof out->text,
                 "This link code was already used. Ask your bank for a new one.");
    } else if (!match) {
        r->bad++;
        cl.bad++;
        if (r->bad >= BL_CHAT_MAX_BAD_CODES || cl.bad >= BL_CHAT_MAX_BAD_CODES) {
            r->locked_until = cl.locked_until = now + BL_CHAT_LOCKOUT_SECONDS;
            r->bad = cl.bad = 0;
        }
        if (a)
            (void)rec_save(lockpath, &cl, &e);
        out->error = r->locked_until > now ? "locked" : "bad_code";
        snprintf(out->text, sizeof out->text, "The customer number or link code is not right.");
    } else if (append_line(used, got, &e) == BL_OK) {
        snprintf(r->customer, sizeof r->customer, "%s", cid);
        r->last_use = now;
        r->bad = 0;
        out->ok = out->linked = 1;
        snprintf(out->text, sizeof out->text, "Linked. Hello %s!", a->display_name);
        unlink(lockpath);
    } else {
        out->error = "internal";
        snprintf(out->text, sizeof out->text, "Linking failed; try again.");
    }
    free(used);
    free(lockpath);
}

/* Apply one decrypted request; fills the reply and the record. Returns 1 when
 * the session is to be deleted after answering (unlink, expiry). */
static int apply(bl_chat_bank *b, const char *pseud, link_rec *r, const uint8_t *pt, size_t len,
                 reply *out, json_int_t *re)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)pt, len, 0, &je);
    const char *t = json_string_value(json_object_get(o, "t"));
    *re = json_integer_value(json_object_get(o, "id"));
    int64_t now = bl_chat_now();
    int drop = 0;
    if (r->customer[0] && now - r->last_use > BL_CHAT_LINK_TTL) {
        r->customer[0] = 0; /* expired: unlinked on this side too */
        out->error = "expired";
        snprintf(out->text, sizeof out->text,
                 "Your link expired after 90 days without use. Link again with a new code.");
        drop = 1;
    } else if (!t) {
        out->error = "bad_request";
        snprintf(out->text, sizeof out->text, "Malformed request.");
    } else if (!strcmp(t, "link")) {
        const char *cid = json_string_value(json_object_get(o, "customer"));
        const char *code = json_string_value(json_object_get(o, "code"));
        if (!cid || !code || strlen(cid) >= sizeof r->customer) {
            out->error = "bad_request";
            snprintf(out->text, sizeof out->text, "A link request needs a customer and a code.");
        } else if (r->customer[0]) {
            out->ok = out->linked = 1;
            snprintf(out->text, sizeof out->text, "Already linked.");
        } else {
            pthread_mutex_lock(&b->mu);
            do_link(b, r, cid, code, out);
            pthread_mutex_unlock(&b->mu);
        }
    } else if (!strcmp(t, "unlink")) {
        r->customer[0] = 0;
        out->ok = 1;
        snprintf(out->text, sizeof out->text, "Unlinked. The bank deleted this chat's keys.");
        drop = 1;
    } else if (!strcmp(t, "msg") && r->customer[0]) {
        r->last_use = now;
        const char *text = json_string_value(json_object_get(o, "text"));
        answer_linked(b, pseud, r, text ? text : "", out);
    } else if (!strcmp(t, "msg")) {
        out->error = "not_linked";
        snprintf(out->text, sizeof out->text,
                 "This chat is not linked to an account. Link it with the code your bank gave "
                 "you; until then the bank answers nothing about any account.");
    } else {
        out->error = "bad_request";
        snprintf(out->text, sizeof out->text, "Unknown request.");
    }
    out->linked = r->customer[0] != 0;
    json_decref(o);
    return drop;
}

static char *reply_json(const reply *rp, json_int_t re)
{
    json_t *o = json_pack("{s:s,s:I,s:b,s:b,s:s}", "t", "reply", "re", re, "ok", rp->ok, "linked",
                          rp->linked, "text", rp->text);
    if (o && rp->error)
        json_object_set_new(o, "error", json_string(rp->error));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static bl_status open_session(bl_chat_bank *b, const char *sess_path, const uint8_t *msg,
                              size_t len, bl_chat_session **sess, uint8_t **pt, size_t *ptlen,
                              int *fresh, bl_error *err)
{
    bl_chat_msg m;
    bl_status st = bl_chat_msg_parse(msg, len, &m, err);
    if (st != BL_OK)
        return st;
    char *buf = NULL;
    size_t blen = 0;
    bl_error e2 = {0};
    *sess = NULL;
    *fresh = 0;
    if (bl_read_file(sess_path, 1 << 20, &buf, &blen, &e2) == BL_OK) {
        st = bl_chat_session_load((const uint8_t *)buf, blen, sess, err);
        sodium_memzero(buf, blen);
        free(buf);
        if (st != BL_OK)
            return st;
    }
    uint8_t ek[32];
    if (*sess)
        bl_chat_session_ek(*sess, ek);
    if (m.type == BL_CHAT_MSG_PREKEY && (!*sess || sodium_memcmp(ek, m.ek, 32) != 0)) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, m.ek, 32);
        char *seen = path_join(b->dir, "seen-ek", "");
        pthread_mutex_lock(&b->ek_mu); /* released by the caller once the ephemeral is recorded */
        int replay = file_has_line(seen, hex);
        free(seen);
        if (replay) {
            pthread_mutex_unlock(&b->ek_mu);
            return bl_error_set(err, BL_ECRYPTO, "message rejected: replayed prekey message");
        }
        bl_chat_session *ns = NULL;
        st = bl_chat_session_accept(b->keys, msg, len, &ns, pt, ptlen, err);
        if (st != BL_OK) {
            pthread_mutex_unlock(&b->ek_mu);
            return st;
        }
        bl_chat_session_free(*sess);
        *sess = ns;
        *fresh = 1;
        return BL_OK;
    }
    if (!*sess)
        return bl_error_set(err, BL_ESTATE, "message rejected: no session with this pseudonym");
    return bl_chat_decrypt(*sess, msg, len, pt, ptlen, err);
}

bl_status bl_chat_bank_handle(bl_chat_bank *b, const char *from, const uint8_t *msg, size_t len,
                              uint8_t **out, size_t *olen, bl_error *err)
{
    *out = NULL;
    *olen = 0;
    if (!bl_chat_name_valid(from))
        return bl_error_set(err, BL_EPROTO, "envelope: sender pseudonym is not valid");
    char *sp = path_join(b->dir, "p/", from), *sess_path = sp ? concat(sp, ".sess") : NULL;
    char *link_path = sp ? concat(sp, ".link") : NULL;
    free(sp);
    if (!sess_path || !link_path) {
        free(sess_path), free(link_path);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_chat_session *sess = NULL;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    int fresh = 0;
    bl_status st = open_session(b, sess_path, msg, len, &sess, &pt, &ptlen, &fresh, err);
    if (st == BL_OK) {
        link_rec r;
        rec_load(link_path, &r);
        /* A link belongs to the session that proved the code, not to the
         * pseudonym: the relay can send under any pseudonym and start a new
         * X3DH session, so a new session starts unlinked (counters kept). */
        if (fresh)
            r.customer[0] = 0;
        reply rp = {0};
        json_int_t re = 0;
        int drop = apply(b, from, &r, pt, ptlen, &rp, &re);
        char *js = reply_json(&rp, re);
        st = js ? bl_chat_encrypt(sess, (const uint8_t *)js, strlen(js), out, olen, err)
                : bl_error_set(err, BL_ENOMEM, "out of memory");
        free(js);
        uint8_t *sb = NULL;
        size_t sl = 0;
        if (st == BL_OK && drop) {
            unlink(sess_path);
            unlink(link_path);
        } else if (st == BL_OK) {
            st = bl_chat_session_save(sess, &sb, &sl, err);
            if (st == BL_OK)
                st = bl_write_file(sess_path, sb, sl, err);
            if (sb)
                sodium_free(sb);
            if (st == BL_OK)
                st = rec_save(link_path, &r, err);
        }
        if (st == BL_OK && fresh) { /* a replay of this prekey message opens nothing */
            uint8_t ek[32];
            char hex[65];
            char *seen = path_join(b->dir, "seen-ek", "");
            bl_chat_session_ek(sess, ek);
            sodium_bin2hex(hex, sizeof hex, ek, 32);
            st = seen ? append_line(seen, hex, err) : bl_error_set(err, BL_ENOMEM, "out of memory");
            free(seen);
        }
        if (fresh)
            pthread_mutex_unlock(&b->ek_mu);
        if (st != BL_OK) {
            free(*out);
            *out = NULL;
            *olen = 0;
        }
    }
    if (pt) {
        sodium_memzero(pt, ptlen);
        free(pt);
    }
    bl_chat_session_free(sess);
    free(sess_path);
    free(link_path);
    return st;
}

size_t bl_chat_bank_expire(bl_chat_bank *b)
{
    char *pdir = path_join(b->dir, "p", "");
    DIR *d = pdir ? opendir(pdir) : NULL;
    size_t n = 0;
    int64_t now = bl_chat_now();
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".link") != 0)
            continue;
        char *lp = path_join(pdir, de->d_name, "");
        link_rec r;
        rec_load(lp, &r);
        if (r.customer[0] && now - r.last_use > BL_CHAT_LINK_TTL) {
            char *sp = strdup(lp);
            if (sp) {
                memcpy(sp + strlen(sp) - 5, ".sess", 5);
                unlink(sp);
                free(sp);
            }
            unlink(lp);
            n++;
        }
        free(lp);
    }
    if (d)
        closedir(d);
    free(pdir);
    return n;
}
