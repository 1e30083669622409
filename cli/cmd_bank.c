/* cli/cmd_bank.c - `blindlink bank`: the bank's chat bot. Registers with the
 * relay, publishes its prekey bundle, then long-polls for envelopes and
 * answers each through bl_chat_bank_handle. Each envelope is handled and its
 * state saved before the relay is told (by the next poll's cursor) that it
 * may delete it, so a crash loses nothing the relay acknowledged. */
#include <getopt.h>
#include <pthread.h>
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

#ifdef BL_HAVE_CHAT

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
            "  --max-seconds N      stop after N seconds (default: run until killed)\n"
            "  -j, --threads N      handle envelopes of different customers on N threads\n"
            "                       (default 4; one customer's envelopes stay in order;\n"
            "                       alias --workers)\n"
            "  -q, --quiet          no start, stop and expiry notes on stderr\n"
            "  -v, --verbose        note each envelope handled (sequence number only)\n"
            "  -V, --version        print the version;  -h, --help  this help\n\n"
            "Hand-over requests are appended to DIR/agent-queue.jsonl, card freeze\n"
            "requests to DIR/freeze-requests.jsonl.\n");
}

#define BANK_MAX_WORKERS 16

typedef struct envelope {
    uint64_t seq;
    char from[72];
    uint8_t *body;
    size_t len;
    unsigned worker;
} envelope;

typedef struct bank_ctx {
    bl_chat_bank *bank;
    bl_relay_client *rc[BANK_MAX_WORKERS];
    unsigned workers;
    const char *token;
    uint64_t cursor;
    const char *cursor_path;
    envelope batch[128]; /* the relay answers at most 100 per poll */
    size_t nbatch;
    unsigned long handled, rejected;
    int verbose;
} bank_ctx;

typedef struct worker_arg {
    bank_ctx *b;
    unsigned id;
    unsigned long handled, rejected;
    pthread_t th;
} worker_arg;

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

/* Collect the batch; it is handled after the poll returns. */
static int on_msg(void *ctx, uint64_t seq, const char *from, const uint8_t *body, size_t len)
{
    bank_ctx *b = ctx;
    if (b->nbatch == sizeof b->batch / sizeof b->batch[0])
        return 1; /* the rest comes with the next poll */
    envelope *e = &b->batch[b->nbatch];
    e->body = len ? malloc(len) : NULL;
    if (len && !e->body)
        return 1;
    if (len)
        memcpy(e->body, body, len);
    e->len = len;
    e->seq = seq;
    snprintf(e->from, sizeof e->from, "%s", from);
    /* one pseudonym always goes to the same worker, so its envelopes stay in order */
    unsigned h = 2166136261u;
    for (const char *c = from; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    e->worker = h % b->workers;
    b->nbatch++;
    return 0;
}

static void *worker_main(void *arg)
{
    worker_arg *w = arg;
    bank_ctx *b = w->b;
    for (size_t i = 0; i < b->nbatch; i++) {
        envelope *env = &b->batch[i];
        if (env->worker != w->id)
            continue;
        uint8_t *reply = NULL;
        size_t rlen = 0;
        bl_error e = {0};
        if (bl_chat_bank_handle(b->bank, env->from, env->body, env->len, &reply, &rlen, &e) !=
            BL_OK) {
            /* no answer to rejected input: a forger learns nothing */
            fprintf(stderr, "blindlink bank: rejected envelope %llu: %s\n",
                    (unsigned long long)env->seq, e.msg);
            w->rejected++;
        } else {
            w->handled++;
            if (b->verbose)
                fprintf(stderr, "blindlink bank: handled envelope %llu\n",
                        (unsigned long long)env->seq);
            if (reply && bl_relay_send(b->rc[w->id], b->token, env->from, reply, rlen, &e) != BL_OK)
                fprintf(stderr, "blindlink bank: answer not delivered: %s\n", e.msg);
        }
        free(reply);
    }
    return NULL;
}

/* Handle a collected batch on the workers (different pseudonyms in
 * parallel), then save the cursor once: a crash before that redelivers the
 * batch, and the ratchet refuses what was already handled (replay). */
static void handle_batch(bank_ctx *b)
{
    worker_arg w[BANK_MAX_WORKERS];
    unsigned started = 0;
    for (unsigned i = 0; i < b->workers; i++) {
        w[i] = (worker_arg){b, i, 0, 0, 0};
        if (b->workers == 1 || pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
            worker_main(&w[i]);
        else
            started |= 1u << i;
    }
    for (unsigned i = 0; i < b->workers; i++) {
        if (started & (1u << i))
            pthread_join(w[i].th, NULL);
        b->handled += w[i].handled;
        b->rejected += w[i].rejected;
    }
    for (size_t i = 0; i < b->nbatch; i++) {
        b->cursor = b->batch[i].seq;
        free(b->batch[i].body);
    }
    if (b->nbatch)
        save_cursor(b);
    b->nbatch = 0;
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
    unsigned workers;
    int quiet, verbose;
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
    int made = 0; /* the state directory is this run's: removed again if it never goes online */
    if (s == BL_OK && !(made = mkdir(a->state, 0700) == 0) && access(a->state, W_OK) != 0)
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
        if (!a->quiet)
            fprintf(stderr, "blindlink bank: %s online at %s, identity %s\n", a->name, a->relay,
                    pub);
        static bank_ctx ctx; /* large batch buffer: not on the stack */
        memset(&ctx, 0, sizeof ctx);
        ctx.bank = bank;
        ctx.token = tok;
        ctx.cursor_path = cur_path;
        ctx.workers = a->workers;
        ctx.verbose = a->verbose;
        ctx.rc[0] = rc;
        for (unsigned i = 1; i < ctx.workers; i++)
            if (bl_relay_client_new(a->relay, &ctx.rc[i], &err) != BL_OK) {
                ctx.workers = i; /* fewer workers, still correct */
                break;
            }
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
                if (n && !a->quiet)
                    fprintf(stderr, "blindlink bank: %zu link(s) expired after 90 days unused\n", n);
                last_expire = now;
            }
            int wait = 20;
            if (a->max_seconds > 0 && a->max_seconds - (now - start) < wait)
                wait = (int)(a->max_seconds - (now - start));
            bl_error pe = {0};
            bl_status ps = bl_relay_poll(rc, tok, ctx.cursor, wait, on_msg, &ctx, &pe);
            handle_batch(&ctx);
            if (ps != BL_OK) {
                fprintf(stderr, "blindlink bank: %s (retrying)\n", pe.msg);
                sleep(1);
            }
        }
        if (!a->quiet)
            fprintf(stderr, "blindlink bank: handled %lu, rejected %lu\n", ctx.handled,
                    ctx.rejected);
        for (unsigned i = 1; i < ctx.workers; i++)
            bl_relay_client_free(ctx.rc[i]);
    } else {
        rcode = cli_fail("bank", &err);
        if (made)
            cli_remove_tree("bank", a->state);
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
        {"max-seconds", required_argument, 0, 'M'},  {"workers", required_argument, 0, 'w'},
        CLI_LONGOPT_THREADS,                         CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE, CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
        {0, 0, 0, 0}};
    bank_args a = {0};
    a.workers = 4;
    int c;
    cli_common co = {0};
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":r:n:k:a:t:s:M:w:j:qvVh", lo, NULL)) != -1) {
        switch (c) {
        case 'r': a.relay = optarg; break;
        case 'n': a.name = optarg; break;
        case 'k': a.key = optarg; break;
        case 'a': a.accounts = optarg; break;
        case 't': a.txns = optarg; break;
        case 's': a.state = optarg; break;
        case 'M': a.max_seconds = strtol(optarg, NULL, 10); break;
        case 'w': {
            uint64_t n;
            if (cli_parse_u64(optarg, 1, BANK_MAX_WORKERS, &n))
                return cli_usage_error("bank", "--workers '%s': 1..%d", optarg, BANK_MAX_WORKERS);
            a.workers = (unsigned)n;
            break;
        }
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: {
            int rc = cli_common_option("bank", c, optarg, &co);
            if (rc == CLI_OPT_EXIT)
                return CLI_EXIT_OK;
            if (rc == CLI_OPT_UNHANDLED)
                rc = cli_usage_error("bank", "unknown option '%s'", cli_current_arg());
            if (rc != CLI_OPT_OK)
                return rc;
        }
        }
    }
    if (optind < argc)
        return cli_usage_error("bank", "unexpected argument '%s'", argv[optind]);
    if (co.threads > BANK_MAX_WORKERS)
        return cli_usage_error("bank", "--threads: at most %d", BANK_MAX_WORKERS);
    if (co.threads)
        a.workers = (unsigned)co.threads;
    a.quiet = co.quiet;
    a.verbose = co.verbose;
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

#else /* built without libmicrohttpd, SQLite or libcurl */
int cmd_bank(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink bank: built without the bank chat (needs libmicrohttpd, sqlite3 "
                    "and libcurl; scripts/deps.sh)\n");
    return CLI_EXIT_FAIL;
}
#endif
