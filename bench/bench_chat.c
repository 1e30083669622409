/* bench/bench_chat.c - bounded load test of the chat relay on loopback:
 * K concurrent customers, each doing M request/answer round trips.
 *
 *   --mode e2e    against a running `blindlink bank` bot: full X3DH +
 *                 Double Ratchet per customer, the bot decrypts, answers
 *                 and persists its state (unlinked customers: the bot's
 *                 "not linked" answer, same crypto and storage path)
 *   --mode relay  baseline in the same process: an echo thread stands in
 *                 for the bank and bounces opaque envelopes (relay only)
 *
 * Prints round trips/s, envelopes/s (two per round trip) and p50/p99
 * latency of a round trip; --json for scripts. Exit 1 if any round trip
 * failed. Figures depend on the machine; bench/chat_load.sh runs both modes. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include <blindlink/psi.h>
#include <blindlink/relay.h>

#include "chat/chat_internal.h"

#ifdef BL_HAVE_CHAT

typedef struct cfg {
    const char *url, *bank, *bank_key;
    int customers, messages, relay_mode;
    uint8_t pin[32];
} cfg;

typedef struct worker {
    const cfg *c;
    double *lat;
    int done, failed;
    pthread_t th;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct pollctx {
    bl_chat_session *s;
    uint64_t cursor;
    json_int_t want;
    int got;
    int relay_mode;
    const uint8_t *expect;
    size_t expect_len;
} pollctx;

static int on_msg(void *ctx, uint64_t seq, const char *from, const uint8_t *body, size_t len)
{
    (void)from;
    pollctx *p = ctx;
    p->cursor = seq;
    if (p->relay_mode) {
        if (len == p->expect_len && memcmp(body, p->expect, len) == 0)
            p->got = 1;
        return 0;
    }
    uint8_t *pt = NULL;
    size_t n = 0;
    bl_error e = {0};
    if (bl_chat_decrypt(p->s, body, len, &pt, &n, &e) == BL_OK) {
        json_t *o = json_loadb((char *)pt, n, 0, NULL);
        if (json_integer_value(json_object_get(o, "re")) == p->want)
            p->got = 1;
        json_decref(o);
    }
    free(pt);
    return 0;
}

static void *run_customer(void *arg)
{
    worker *w = arg;
    const cfg *c = w->c;
    bl_error e = {0};
    bl_relay_client *rc = NULL;
    char acct[80], tok[96];
    pollctx p = {0};
    p.relay_mode = c->relay_mode;
    bl_chat_bundle b;
    if (bl_relay_client_new(c->url, &rc, &e) != BL_OK || bl_relay_register(rc, acct, tok, &e) ||
        bl_relay_get_bundle(rc, c->bank, &b, &e) ||
        (!c->relay_mode && (bl_chat_bundle_verify(&b, c->pin, &e) ||
                            bl_chat_session_initiate(&b, &p.s, &e)))) {
        fprintf(stderr, "bench_chat: customer setup: %s\n", e.msg);
        w->failed = c->messages;
        bl_relay_client_free(rc);
        return NULL;
    }
    for (int i = 0; i < c->messages; i++) {
        double t0 = now_s();
        uint8_t *msg = NULL, opaque[256];
        size_t mlen = 0;
        p.got = 0;
        p.want = i + 1;
        if (c->relay_mode) {
            randombytes_buf(opaque, sizeof opaque);
            msg = opaque, mlen = sizeof opaque;
            p.expect = opaque, p.expect_len = sizeof opaque;
        } else {
            char js[96];
            snprintf(js, sizeof js, "{\"t\":\"msg\",\"id\":%d,\"text\":\"balance\"}", i + 1);
            if (bl_chat_encrypt(p.s, (uint8_t *)js, strlen(js), &msg, &mlen, &e) != BL_OK) {
                w->failed++;
                continue;
            }
        }
        bl_status st = bl_relay_send(rc, tok, c->bank, msg, mlen, &e);
        if (!c->relay_mode)
            free(msg);
        for (int tries = 0; st == BL_OK && !p.got && tries < 30; tries++) /* bounded */
            st = bl_relay_poll(rc, tok, p.cursor, 10, on_msg, &p, &e);
        if (st == BL_OK && p.got)
            w->lat[w->done++] = now_s() - t0;
        else
            w->failed++;
    }
    bl_chat_session_free(p.s);
    bl_relay_client_free(rc);
    return NULL;
}

/* Relay-only baseline: stands in for the bank and echoes every envelope. */
typedef struct echo {
    const char *url;
    char name[40], tok[96];
    volatile int stop;
    pthread_t th;
    bl_relay_client *rc;
} echo;

static int echo_msg(void *ctx, uint64_t seq, const char *from, const uint8_t *body, size_t len)
{
    echo *x = ctx;
    (void)seq;
    bl_error e = {0};
    if (bl_relay_send(x->rc, x->tok, from, body, len, &e) != BL_OK)
        fprintf(stderr, "bench_chat: echo: %s\n", e.msg);
    return 0;
}

static uint64_t echo_cursor; /* one echo thread */
static int echo_cursor_cb(void *ctx, uint64_t seq, const char *from, const uint8_t *body, size_t len)
{
    echo_cursor = seq;
    return echo_msg(ctx, seq, from, body, len);
}

static void *run_echo(void *arg)
{
    echo *x = arg;
    while (!x->stop) { /* ends when the bench is done */
        bl_error e = {0};
        if (bl_relay_poll(x->rc, x->tok, echo_cursor, 1, echo_cursor_cb, x, &e) != BL_OK)
            break;
    }
    return NULL;
}

static int start_echo(echo *x, bl_error *e)
{
    uint8_t seed[32], spk[32], rnd[6];
    randombytes_buf(seed, 32);
    randombytes_buf(spk, 32);
    randombytes_buf(rnd, sizeof rnd);
    char hex[13];
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(x->name, sizeof x->name, "echo-%s", hex);
    bl_chat_bankkeys *k = NULL;
    char acct[80];
    if (chat_bankkeys_from_seed(seed, spk, 1, &k) != BL_OK)
        return -1;
    bl_chat_bundle b;
    bl_chat_bankkeys_bundle(k, &b);
    bl_chat_bankkeys_free(k);
    if (bl_relay_client_new(x->url, &x->rc, e) || bl_relay_register(x->rc, acct, x->tok, e) ||
        bl_relay_put_bundle(x->rc, x->tok, x->name, &b, e))
        return -1;
    return pthread_create(&x->th, NULL, run_echo, x);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"relay", required_argument, 0, 'r'},     {"bank", required_argument, 0, 'b'},
        {"bank-key", required_argument, 0, 'k'},  {"customers", required_argument, 0, 'c'},
        {"messages", required_argument, 0, 'm'},  {"mode", required_argument, 0, 'M'},
        {"json", no_argument, 0, 'j'},            {0, 0, 0, 0}};
    cfg c = {0};
    c.customers = 50, c.messages = 10;
    int json = 0, o;
    while ((o = getopt_long(argc, argv, "r:b:k:c:m:M:j", lo, NULL)) != -1) {
        switch (o) {
        case 'r': c.url = optarg; break;
        case 'b': c.bank = optarg; break;
        case 'k': c.bank_key = optarg; break;
        case 'c': c.customers = atoi(optarg); break;
        case 'm': c.messages = atoi(optarg); break;
        case 'M': c.relay_mode = !strcmp(optarg, "relay"); break;
        case 'j': json = 1; break;
        default: return 2;
        }
    }
    if (!c.url || c.customers < 1 || c.customers > 2000 || c.messages < 1 || c.messages > 100000 ||
        (!c.relay_mode && (!c.bank || !c.bank_key))) {
        fprintf(stderr, "usage: bench_chat --relay URL (--mode relay | --bank NAME --bank-key PUB)"
                        " [--customers K] [--messages M] [--json]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    bl_error e = {0};
    bl_relay_client *probe = NULL; /* initialises libcurl before any thread */
    if (bl_relay_client_new(c.url, &probe, &e) != BL_OK)
        return 1;
    bl_relay_client_free(probe);
    if (!c.relay_mode && bl_psi_pubkey_load(c.bank_key, c.pin, &e) != BL_OK) {
        fprintf(stderr, "bench_chat: %s\n", e.msg);
        return 2;
    }
    echo x = {0};
    x.url = c.url;
    if (c.relay_mode) {
        if (start_echo(&x, &e) != 0) {
            fprintf(stderr, "bench_chat: echo bank: %s\n", e.msg);
            return 1;
        }
        c.bank = x.name;
    }
    worker *w = calloc((size_t)c.customers, sizeof *w);
    double *all = calloc((size_t)c.customers * (size_t)c.messages, sizeof *all);
    double t0 = now_s();
    for (int i = 0; i < c.customers; i++) {
        w[i].c = &c;
        w[i].lat = all + (size_t)i * (size_t)c.messages;
        pthread_create(&w[i].th, NULL, run_customer, &w[i]);
    }
    int done = 0, failed = 0;
    for (int i = 0; i < c.customers; i++) {
        pthread_join(w[i].th, NULL);
        failed += w[i].failed;
    }
    double el = now_s() - t0;
    if (c.relay_mode) {
        x.stop = 1;
        pthread_join(x.th, NULL);
        bl_relay_client_free(x.rc);
    }
    /* compact the latencies */
    for (int i = 0; i < c.customers; i++)
        for (int j = 0; j < w[i].done; j++)
            all[done++] = w[i].lat[j];
    qsort(all, (size_t)done, sizeof *all, cmp_d);
    double p50 = done ? all[(size_t)(done * 0.50)] : 0, p99 = done ? all[(size_t)((done - 1) * 0.99)] : 0;
    const char *mode = c.relay_mode ? "relay" : "e2e";
    if (json)
        printf("{\"mode\":\"%s\",\"customers\":%d,\"round_trips\":%d,\"failed\":%d,\"seconds\":%.3f,"
               "\"round_trips_per_s\":%.1f,\"envelopes_per_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
               mode, c.customers, done, failed, el, done / el, 2 * done / el, p50 * 1e3, p99 * 1e3);
    else
        printf("%-5s customers=%d round_trips=%d failed=%d in %.2f s: %.1f round trips/s, "
               "%.1f envelopes/s, p50 %.1f ms, p99 %.1f ms\n",
               mode, c.customers, done, failed, el, done / el, 2 * done / el, p50 * 1e3, p99 * 1e3);
    free(w);
    free(all);
    return failed ? 1 : 0;
}

#else /* built without the relay client */
int main(void)
{
    fprintf(stderr, "bench_chat: built without the bank chat (libmicrohttpd, sqlite3, libcurl)\n");
    return 77;
}
#endif
