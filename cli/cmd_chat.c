/* cli/cmd_chat.c - `blindlink chat`: the customer's client. Keeps per-bank
 * state in STATE/BANK (bl_chat_client), pins the bank's identity key, opts
 * in with --link (customer id and one-time code travel only inside the
 * encrypted session), sends one message and prints the bank's answer, or
 * unlinks (both sides delete the session keys). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include <blindlink/psi.h>
#include <blindlink/chat.h>
#include <blindlink/relay.h>

#include "cli.h"

#ifdef BL_HAVE_CHAT

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink chat --relay URL --state DIR --bank BANK [--bank-key PUB]\n"
            "                      (--link CUSTOMER_ID --code CODE | --send TEXT | --unlink)\n"
            "                      [--timeout SECONDS]\n\n"
            "Chat with your bank, end-to-end encrypted through a relay (docs/chat.md).\n"
            "Without --link, --send or --unlink, reads messages line by line from stdin.\n\n"
            "  --relay URL        relay base URL\n"
            "  --state DIR        your chat state (keys, link); one subfolder per bank\n"
            "  --bank BANK        the bank's name on the relay\n"
            "  --bank-key PUB     the bank's public key (blpsi-pub:HEX or a file holding it),\n"
            "                     required on first contact and pinned afterwards\n"
            "  --link ID          opt in: link this chat to customer ID ...\n"
            "  --code CODE        ... with the one-time link code from your bank\n"
            "                     (or set BL_CHAT_CODE instead of --code)\n"
            "  --send TEXT        send TEXT, print the answer on stdout\n"
            "  --unlink           end the link; both sides delete the session keys\n"
            "  --timeout SECONDS  how long to wait for an answer (default 10)\n"
            "  -q, --quiet        no warnings about envelopes ignored (undecryptable)\n"
            "  -v, --verbose      trace each envelope read (as BL_CHAT_DEBUG=1)\n"
            "  -V, --version      print the version;  -h, --help  this help\n\n"
            "Exit codes: 0 answered, 1 refused/timeout/network, 2 usage error.\n");
}

/* -q 0, default 1, -v 2 (or BL_CHAT_DEBUG): how much on_msg says on stderr */
static int chat_noise = 1;

typedef struct waitctx {
    bl_chat_client *cl;
    const char *bank;
    json_int_t want;
    json_t *answer;
} waitctx;

static int on_msg(void *ctx, uint64_t seq, const char *from, const uint8_t *body, size_t len)
{
    waitctx *w = ctx;
    w->cl->cursor = seq;
    if (strcmp(from, w->bank) != 0 || !w->cl->session)
        return 0;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    bl_error e = {0};
    if (bl_chat_decrypt(w->cl->session, body, len, &pt, &ptlen, &e) != BL_OK) {
        if (chat_noise)
            fprintf(stderr, "blindlink chat: ignored an envelope: %s\n", e.msg);
        return 0;
    }
    json_t *o = json_loadb((const char *)pt, ptlen, 0, NULL);
    sodium_memzero(pt, ptlen);
    free(pt);
    if (json_integer_value(json_object_get(o, "re")) == w->want && !w->answer) {
        w->answer = o; /* keep reading the batch: later envelopes move the cursor too */
        return 0;
    }
    if (chat_noise > 1)
        fprintf(stderr, "debug: envelope %llu re=%lld want=%lld\n", (unsigned long long)seq,
                (long long)json_integer_value(json_object_get(o, "re")), (long long)w->want);
    json_decref(o);
    return 0;
}

/* Session with the bank: existing, or X3DH from the relay's bundle checked
 * against the pinned key. */
static bl_status ensure_session(bl_chat_client *cl, bl_relay_client *rc, const char *bank,
                                const char *bank_key, bl_error *err)
{
    if (bank_key) {
        uint8_t pk[32];
        bl_status s = bl_psi_pubkey_load(bank_key, pk, err);
        if (s != BL_OK)
            return s;
        if (cl->have_bank_ik && sodium_memcmp(pk, cl->bank_ik, 32) != 0)
            return bl_error_set(err, BL_EAUTH, "--bank-key differs from the key pinned in the state "
                                               "for %s: refusing",
                                bank);
        memcpy(cl->bank_ik, pk, 32);
        cl->have_bank_ik = 1;
    }
    if (cl->session)
        return BL_OK;
    if (!cl->have_bank_ik)
        return bl_error_set(err, BL_EINVAL,
                            "first contact with %s needs --bank-key (the public key your bank "
                            "gave you), so a relay cannot substitute its own",
                            bank);
    bl_chat_bundle b;
    bl_status s = bl_relay_get_bundle(rc, bank, &b, err);
    if (s == BL_OK)
        s = bl_chat_bundle_verify(&b, cl->bank_ik, err);
    if (s == BL_OK)
        s = bl_chat_session_initiate(&b, &cl->session, err);
    return s;
}

/* Encrypt and send one request, then wait for its answer. */
static bl_status exchange(bl_chat_client *cl, bl_relay_client *rc, const char *bank, json_t *req,
                          int timeout, json_t **answer, bl_error *err)
{
    *answer = NULL;
    json_int_t id = cl->next_id++;
    json_object_set_new(req, "id", json_integer(id));
    char *js = json_dumps(req, JSON_COMPACT);
    if (!js)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    uint8_t *msg = NULL;
    size_t mlen = 0;
    bl_status s = bl_chat_encrypt(cl->session, (uint8_t *)js, strlen(js), &msg, &mlen, err);
    sodium_memzero(js, strlen(js));
    free(js);
    /* the advanced sending chain is saved before anything leaves */
    if (s == BL_OK)
        s = bl_chat_client_save(cl, err);
    if (s == BL_OK)
        s = bl_relay_send(rc, cl->token, bank, msg, mlen, err);
    free(msg);
    if (s != BL_OK)
        return s;
    waitctx w = {cl, bank, id, NULL};
    time_t deadline = time(NULL) + timeout;
    while (!w.answer && time(NULL) < deadline) { /* bounded by the deadline */
        int left = (int)(deadline - time(NULL));
        s = bl_relay_poll(rc, cl->token, cl->cursor, left > 0 ? left : 0, on_msg, &w, err);
        if (s != BL_OK)
            break;
        bl_error e2 = {0};
        if (bl_chat_client_save(cl, &e2) != BL_OK)
            fprintf(stderr, "blindlink chat: %s\n", e2.msg);
    }
    if (s == BL_OK && !w.answer)
        s = bl_error_set(err, BL_ENET, "no answer from %s within %d s", bank, timeout);
    *answer = w.answer;
    return s;
}

typedef struct chat_args {
    const char *relay, *state, *bank, *bank_key, *link, *code, *send;
    int unlink, timeout;
} chat_args;

/* One request/answer; prints the answer. Returns the exit code. */
static int one(bl_chat_client *cl, bl_relay_client *rc, const chat_args *a, json_t *req)
{
    bl_error err = {0};
    json_t *ans = NULL;
    bl_status s = ensure_session(cl, rc, a->bank, a->bank_key, &err);
    if (s == BL_OK)
        s = exchange(cl, rc, a->bank, req, a->timeout, &ans, &err);
    json_decref(req);
    if (s != BL_OK) {
        bl_error e2 = {0};
        if (cl->session)
            if (bl_chat_client_save(cl, &e2) != BL_OK)
            fprintf(stderr, "blindlink chat: cannot save state\n");
        return cli_fail("chat", &err);
    }
    const char *text = json_string_value(json_object_get(ans, "text"));
    const char *ecode = json_string_value(json_object_get(ans, "error"));
    printf("%s\n", text ? text : "");
    fflush(stdout);
    cl->linked = json_is_true(json_object_get(ans, "linked"));
    if (cl->linked)
        cl->last_use = bl_chat_now();
    if (ecode && !strcmp(ecode, "expired"))
        bl_chat_client_forget(cl);
    int rc_exit = ecode ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    if (ecode)
        fprintf(stderr, "blindlink chat: the bank refused: %s\n", ecode);
    json_decref(ans);
    if (bl_chat_client_save(cl, &err) != BL_OK)
        return cli_fail("chat", &err);
    return rc_exit;
}

/* Why checked here: json_pack refuses text that is not UTF-8 and the
 * failure surfaced as "out of memory". 0 fine; else the message printed. */
static int text_ok(const char *text, size_t line)
{
    json_t *t = json_string(text);
    /* the limit in the user's terms: the text as it goes out (JSON-escaped),
     * plus the request around it ({"t":"msg","text":...,"id":N}) */
    char *js = t ? json_dumps(t, JSON_ENCODE_ANY) : NULL;
    const size_t out = js ? strlen(js) : 0, room = BL_CHAT_MAX_PLAINTEXT - 48;
    free(js);
    json_decref(t);
    if (t && out > room) {
        char where[40] = "--send";
        if (line)
            snprintf(where, sizeof where, "line %zu of stdin", line);
        fprintf(stderr,
                "blindlink chat: %s: the message takes %zu bytes, one message holds %zu: "
                "not sent\n",
                where, out, room);
        return -1;
    }
    if (t)
        return 0;
    if (line)
        fprintf(stderr, "blindlink chat: line %zu of stdin is not valid UTF-8: not sent\n", line);
    else
        fprintf(stderr, "blindlink chat: --send: the message is not valid UTF-8\n");
    return -1;
}

static int run(const chat_args *a)
{
    bl_error err = {0};
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/%s", a->state, a->bank) >= (int)sizeof dir)
        return cli_usage_error("chat", "--state: path too long");
    if (mkdir(a->state, 0700) != 0 && access(a->state, W_OK) != 0)
        return cli_usage_error("chat", "--state %s: cannot create or write", a->state);
    bl_chat_client cl;
    bl_relay_client *rc = NULL;
    bl_status s = bl_chat_client_load(dir, &cl, &err);
    if (s == BL_OK)
        s = bl_relay_client_new(a->relay, &rc, &err);
    if (s == BL_OK && !cl.account[0]) {
        s = bl_relay_register(rc, cl.account, cl.token, &err);
        if (s == BL_OK)
            s = bl_chat_client_save(&cl, &err);
    }
    int code = CLI_EXIT_OK;
    if (s != BL_OK) {
        code = cli_fail("chat", &err);
        goto out;
    }
    /* 90 days without use: the link and its keys end on this side too */
    if (cl.linked && bl_chat_now() - cl.last_use > BL_CHAT_LINK_TTL) {
        bl_chat_client_forget(&cl);
        if (bl_chat_client_save(&cl, &err) != BL_OK)
            fprintf(stderr, "blindlink chat: cannot save state\n");
        if (!a->link) {
            fprintf(stderr, "blindlink chat: the link with %s expired after 90 days without "
                            "use; link again with a new code from your bank\n",
                    a->bank);
            code = CLI_EXIT_FAIL;
            goto out;
        }
    }
    if (a->link) {
        const char *c = a->code ? a->code : getenv("BL_CHAT_CODE");
        if (cl.linked && cl.session)
            bl_chat_client_forget(&cl); /* re-link: a fresh session */
        code = one(&cl, rc, a, json_pack("{s:s,s:s,s:s}", "t", "link", "customer", a->link,
                                         "code", c));
    } else if (a->unlink) {
        code = one(&cl, rc, a, json_pack("{s:s}", "t", "unlink"));
        bl_chat_client_forget(&cl);
        if (bl_chat_client_save(&cl, &err) != BL_OK)
            fprintf(stderr, "blindlink chat: cannot save state\n");
    } else if (a->send) {
        code = one(&cl, rc, a, json_pack("{s:s,s:s}", "t", "msg", "text", a->send));
    } else {
        char line[4096];
        int bad = 0; /* a line not sent: the exit status says so at the end */
        for (size_t no = 1; fgets(line, sizeof line, stdin); no++) {
            const size_t n = strlen(line);
            if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(stdin)) {
                fprintf(stderr,
                        "blindlink chat: line %zu of stdin is longer than %zu bytes: not "
                        "sent\n",
                        no, sizeof line - 2);
                int ch;
                while ((ch = getchar()) != EOF && ch != '\n')
                    ; /* the rest of that line */
                bad = 1;
                continue;
            }
            line[strcspn(line, "\r\n")] = 0;
            if (!line[0])
                continue;
            if (text_ok(line, no) != 0) {
                bad = 1;
                continue;
            }
            code = one(&cl, rc, a, json_pack("{s:s,s:s}", "t", "msg", "text", line));
        }
        if (bad && code == CLI_EXIT_OK)
            code = CLI_EXIT_USAGE;
    }
out:
    bl_relay_client_free(rc);
    bl_chat_client_close(&cl);
    return code;
}

int cmd_chat(int argc, char **argv)
{
    static const struct option lo[] = {
        {"relay", required_argument, 0, 'r'},    {"state", required_argument, 0, 's'},
        {"bank", required_argument, 0, 'b'},     {"bank-key", required_argument, 0, 'k'},
        {"link", required_argument, 0, 'l'},     {"code", required_argument, 0, 'c'},
        {"send", required_argument, 0, 'm'},     {"unlink", no_argument, 0, 'u'},
        {"timeout", required_argument, 0, 'T'}, CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE,
        CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
        {0, 0, 0, 0}};
    chat_args a = {0};
    a.timeout = 10;
    int c;
    cli_common co = {0};
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":r:s:b:k:l:c:m:uT:qvVh", lo, NULL)) != -1) {
        switch (c) {
        case 'r': a.relay = optarg; break;
        case 's': a.state = optarg; break;
        case 'b': a.bank = optarg; break;
        case 'k': a.bank_key = optarg; break;
        case 'l': a.link = optarg; break;
        case 'c': a.code = optarg; break;
        case 'm': a.send = optarg; break;
        case 'u': a.unlink = 1; break;
        case 'T':
            a.timeout = atoi(optarg);
            if (a.timeout < 1 || a.timeout > 3600)
                return cli_usage_error("chat", "--timeout '%s': 1..3600 seconds", optarg);
            break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: {
            int rc = cli_common_option("chat", c, optarg, &co);
            if (rc == CLI_OPT_EXIT)
                return CLI_EXIT_OK;
            if (rc == CLI_OPT_UNHANDLED)
                rc = cli_usage_error("chat", "unknown option '%s'", cli_current_arg());
            if (rc != CLI_OPT_OK)
                return rc;
        }
        }
    }
    if (optind < argc)
        return cli_usage_error("chat", "unexpected argument '%s'", argv[optind]);
    chat_noise = co.quiet ? 0 : co.verbose || getenv("BL_CHAT_DEBUG") ? 2 : 1;
    if (!a.relay || !a.state || !a.bank)
        return cli_usage_error("chat", "--relay, --state and --bank are required");
    if (!bl_chat_name_valid(a.bank))
        return cli_usage_error("chat", "--bank '%s': 1-64 of [A-Za-z0-9_-]", a.bank);
    if ((a.link != NULL) + (a.send != NULL) + a.unlink > 1)
        return cli_usage_error("chat", "give one of --link, --send, --unlink");
    if (a.link && !a.code && !getenv("BL_CHAT_CODE"))
        return cli_usage_error("chat", "--link needs --code CODE (or BL_CHAT_CODE)");
    if (a.send && text_ok(a.send, 0) != 0)
        return CLI_EXIT_USAGE;
    return run(&a);
}

#else /* built without libmicrohttpd, SQLite or libcurl */
int cmd_chat(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink chat: built without the bank chat (needs libmicrohttpd, sqlite3 "
                    "and libcurl; scripts/deps.sh)\n");
    return CLI_EXIT_FAIL;
}
#endif
