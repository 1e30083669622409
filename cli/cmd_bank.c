/* cli/cmd_bank.c - `blindlink bank`: the bank's chat bot. Registers with the
 * relay, publishes its prekey bundle, then long-polls for envelopes and
 * answers each through bl_chat_bank_handle. Each envelope is handled and its
 * state saved before the relay is told (by the next poll's cursor) that it
 * may delete it, so a crash loses nothing the relay acknowledged. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <blindlink/io.h>
#include <blindlink/psi.h>
#include <blindlink/relay.h>

#include "cli.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink bank --relay URL --name BANK --key KEYFILE --accounts FILE\n"
            "                      --transactions FILE [--state DIR] [--max-seconds N]\n\n"
            "Run the bank's chat bot: answers linked customers (balance, recent\n"
            "transactions, card freeze request, hand-over to a human agent) over\n"
            "end-to-end encrypted sessions through the relay (docs/chat.md).\n\n"
            "  --relay URL          relay base URL, e.g. http://127.0.0.1:8700\n"
            "  --name BANK          the bank's name on the relay ([A-Za-z0-9_-], 1-64)\n"
            "  --key KEYFILE        identity key from 'blindlink keygen --out KEYFILE';\n"
            "                       give KEYFILE.pub to customers (chat --bank-key)\n"
            "  --accounts FILE      customer_id,display_name,link_code,balance,currency\n"
            "  --transactions FILE  customer_id,date,merchant,amount,currency\n"
            "  --state DIR          sessions, links, queues (default KEYFILE.state)\n"
            "  --max-seconds N      stop after N seconds (default: run until killed)\n\n"
            "Hand-over requests are appended to DIR/agent-queue.jsonl, card freeze\n"
            "requests to DIR/freeze-requests.jsonl.\n");
}

typedef struct bank_ctx {
    bl_chat_bank *bank;
    bl_relay_client *rc;
    const char *token;
    uint64_t cursor;
    const char *cursor_path;
    unsigned long handled, rejected;
} bank_ctx;

static void save_cursor(const bank_ctx *b)
{
    bl_error e = {0};
    bl_ofile *f = NULL;
    if (bl_ofile_open(b->cursor_path, &f, &e) == BL_OK) {
        fprintf(bl_ofile_stream(f), "%llu\n", (unsigned long long)b->cursor);
        if (bl_ofile_commit(f, &e) != BL_OK)
            fprintf(stderr, "blindlink bank: %s\n", e.msg);
    }
}

static int on_msg(void *ctx, uint64_t seq, const char *from, const uint8_t *body, size_t len)
{
    bank_ctx *b = ctx;
    uint8_t *reply = NULL;
    size_t rlen = 0;
    bl_error e = {0};
    bl_status s = bl_chat_bank_handle(b->bank, from, body, len, &reply, &rlen, &e);
    if (s != BL_OK) {
        /* no answer to rejected input: a forger learns nothing */
        fprintf(stderr, "blindlink bank: rejected envelope %llu: %s\n", (unsigned long long)seq,
                e.msg);
        b->rejected++;
    } else {
        b->handled++;
        if (reply && bl_relay_send(b->rc, b->token, from, reply, rlen, &e) != BL_OK)
            fprintf(stderr, "blindlink bank: answer not delivered: %s\n", e.msg);
    }
    free(reply);
    /* the cursor is saved once per batch: a crash before that redelivers the
     * batch, and the ratchet refuses what was already handled (replay) */
    b->cursor = seq;
    return 0;
}

/* Relay account of the bank, kept in DIR/relay.json (mode 0600). */
static bl_status relay_account(bl_relay_client *rc, const char *dir, char acct[80], char tok[96],
                               bl_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/relay.json", dir) >= (int)sizeof path)
        return bl_error_set(err, BL_EINVAL, "state path too long");
    json_t *o = json_load_file(path, 0, NULL);
    const char *a = json_string_value(json_object_get(o, "account"));
    const char *t = json_string_value(json_object_get(o, "token"));
    if (a && t && strlen(a) < 80 && strlen(t) < 96) {
        snprintf(acct, 80, "%s", a);
        snprintf(tok, 96, "%s", t);
        json_decref(o);
        return BL_OK;
    }
    json_decref(o);
    bl_status s = bl_relay_register(rc, acct, tok, err);
    if (s != BL_OK)
        return s;
    o = json_pack("{s:s,s:s}", "account", acct, "token", tok);
    char *js = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    bl_ofile *f = NULL;
    s = bl_ofile_open(path, &f, err);
    if (s == BL_OK) {
        fputs(js, bl_ofile_stream(f));
        s = bl_ofile_commit(f, err);
    }
    free(js);
    return s;
}

typedef struct bank_args {
    const char *relay, *name, *key, *accounts, *txns, *state;
    long max_seconds;
} bank_args;

static int run(const bank_args *a)
{
    bl_error err = {0};
    char spk_path[4096], cur_path[4096], acct[80], tok[96];
    bl_chat_bankkeys *keys = NULL;
    bl_chat_core *core = NULL;
    bl_chat_bank *bank = NULL;
    bl_relay_client *rc = NULL;
    if (snprintf(spk_path, sizeof spk_path, "%s/spk.key", a->state) >= (int)sizeof spk_path ||
        snprintf(cur_path, sizeof cur_path, "%s/cursor", a->state) >= (int)sizeof cur_path)
        return cli_usage_error("bank", "--state: path too long");
    bl_status s = bl_chat_core_open_csv(a->accounts, a->txns, &core, &err);
    if (s == BL_OK && mkdir(a->state, 0700) != 0 && access(a->state, W_OK) != 0)
        s = bl_error_set(&err, BL_EIO, "%s: cannot create the state directory", a->state);
    if (s == BL_OK)
        s = bl_chat_bankkeys_load(a->key, spk_path, &keys, &err);
    if (s == BL_OK)
        s = bl_chat_bank_open(a->state, keys, core, &bank, &err);
    if (s == BL_OK)
        s = bl_relay_client_new(a->relay, &rc, &err);
    if (s == BL_OK)
        s = relay_account(rc, a->state, acct, tok, &err);
    bl_chat_bundle bundle;
    if (s == BL_OK) {
        bl_chat_bankkeys_bundle(keys, &bundle);
        s = bl_relay_put_bundle(rc, tok, a->name, &bundle, &err);
    }
    int rcode = CLI_EXIT_OK;
    if (s == BL_OK) {
        char pub[BL_PSI_PUBKEY_TEXT];
        bl_psi_pubkey_format(bundle.ik, pub);
        fprintf(stderr, "blindlink bank: %s online at %s, identity %s\n", a->name, a->relay, pub);
        bank_ctx ctx = {bank, rc, tok, 0, cur_path, 0, 0};
        char *cur = NULL;
        size_t cl = 0;
        bl_error e2 = {0};
        if (bl_read_file(cur_path, 64, &cur, &cl, &e2) == BL_OK)
            ctx.cursor = strtoull(cur, NULL, 10);
        free(cur);
        int64_t start = bl_chat_now(), last_expire = 0;
        for (;;) { /* until killed, or --max-seconds */
            int64_t now = bl_chat_now();
            if (a->max_seconds > 0 && now - start >= a->max_seconds)
                break;
            if (now - last_expire >= 3600) {
                size_t n = bl_chat_bank_expire(bank);
                if (n)
                    fprintf(stderr, "blindlink bank: %zu link(s) expired after 90 days unused\n", n);
                last_expire = now;
            }
            int wait = 20;
            if (a->max_seconds > 0 && a->max_seconds - (now - start) < wait)
                wait = (int)(a->max_seconds - (now - start));
            bl_error pe = {0};
            uint64_t before = ctx.cursor;
            bl_status ps = bl_relay_poll(rc, tok, ctx.cursor, wait, on_msg, &ctx, &pe);
            if (ctx.cursor != before)
                save_cursor(&ctx);
            if (ps != BL_OK) {
                fprintf(stderr, "blindlink bank: %s (retrying)\n", pe.msg);
                sleep(1);
            }
        }
        fprintf(stderr, "blindlink bank: handled %lu, rejected %lu\n", ctx.handled, ctx.rejected);
    } else {
        rcode = cli_fail("bank", &err);
    }
    sodium_memzero(tok, sizeof tok);
    bl_relay_client_free(rc);
    bl_chat_bank_free(bank);
    bl_chat_bankkeys_free(keys);
    bl_chat_core_free(core);
    return rcode;
}

int cmd_bank(int argc, char **argv)
{
    static const struct option lo[] = {
        {"relay", required_argument, 0, 'r'},        {"name", required_argument, 0, 'n'},
        {"key", required_argument, 0, 'k'},          {"accounts", required_argument, 0, 'a'},
        {"transactions", required_argument, 0, 't'}, {"state", required_argument, 0, 's'},
        {"max-seconds", required_argument, 0, 'M'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    bank_args a = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:n:k:a:t:s:M:h", lo, NULL)) != -1) {
        switch (c) {
        case 'r': a.relay = optarg; break;
        case 'n': a.name = optarg; break;
        case 'k': a.key = optarg; break;
        case 'a': a.accounts = optarg; break;
        case 't': a.txns = optarg; break;
        case 's': a.state = optarg; break;
        case 'M': a.max_seconds = strtol(optarg, NULL, 10); break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: return cli_usage_error("bank", "invalid option");
        }
    }
    if (optind < argc)
        return cli_usage_error("bank", "unexpected argument '%s'", argv[optind]);
    if (!a.relay || !a.name || !a.key || !a.accounts || !a.txns)
        return cli_usage_error("bank",
                               "--relay, --name, --key, --accounts and --transactions are required");
    char defstate[4096];
    if (!a.state) {
        snprintf(defstate, sizeof defstate, "%s.state", a.key);
        a.state = defstate;
    }
    return run(&a);
}
