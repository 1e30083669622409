/* cli/cmd_relay.c - `blindlink relay`: run the chat relay (relay/server.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/relay.h>

#include "cli.h"

#ifdef BL_HAVE_CHAT

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink relay --listen HOST:PORT --data-dir DIR [options]\n\n"
            "Run the bank-chat relay: accounts by pseudonym, bank prekey bundles and a\n"
            "store-and-forward queue of end-to-end encrypted envelopes (docs/chat.md).\n"
            "It cannot read the messages and stores no customer number, code or balance.\n\n"
            "  --listen HOST:PORT  address to listen on (IPv4; port 0 picks one)\n"
            "  --data-dir DIR      SQLite store (WAL) and the relay's pseudonym key\n"
            "  --web DIR           serve the web client from DIR (the repo's web/, after\n"
            "                      'npm ci' there)\n"
            "  --port-file FILE    write the bound port to FILE once listening\n"
            "  --ttl SECONDS       envelope lifetime (default 604800 = 7 days)\n"
            "  --max-message BYTES  envelope size cap (default 65536)\n"
            "  --queue-cap N       envelopes waiting per mailbox, at most (default 1000)\n"
            "  -v, --verbose       log method, route and status per request (no names)\n"
            "  -q, --quiet         no start/stop notes on stderr\n"
            "  -V, --version       print the version;  -h, --help  this help\n");
}

static long num(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v >= lo && v <= hi) ? v : -1;
}

int cmd_relay(int argc, char **argv)
{
    static const struct option lo[] = {
        {"listen", required_argument, 0, 'l'},   {"data-dir", required_argument, 0, 'd'},
        {"web", required_argument, 0, 'w'},      {"port-file", required_argument, 0, 'P'},
        {"ttl", required_argument, 0, 't'},      {"max-message", required_argument, 0, 'm'},
        {"queue-cap", required_argument, 0, 'Q'}, CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE,
        CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,   {0, 0, 0, 0}};
    bl_relay_opts o = {0};
    cli_common co = {0};
    int c;
    long v;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":l:d:w:P:t:m:Q:qvVh", lo, NULL)) != -1) {
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 'd': o.data_dir = optarg; break;
        case 'w': o.web_dir = optarg; break;
        case 'P': o.port_file = optarg; break;
        case 't':
            if ((v = num(optarg, 1, 365L * 86400)) < 0)
                return cli_usage_error("relay", "--ttl '%s': 1..31536000 seconds", optarg);
            o.ttl_s = v;
            break;
        case 'm':
            if ((v = num(optarg, 256, BL_CHAT_MAX_MESSAGE)) < 0)
                return cli_usage_error("relay", "--max-message '%s': 256..%d", optarg,
                                       BL_CHAT_MAX_MESSAGE);
            o.max_message = (size_t)v;
            break;
        case 'Q':
            if ((v = num(optarg, 1, 1000000)) < 0)
                return cli_usage_error("relay", "--queue-cap '%s': 1..1000000", optarg);
            o.queue_cap = (size_t)v;
            break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: {
            int rc = cli_common_option("relay", c, optarg, &co);
            if (rc == CLI_OPT_EXIT)
                return CLI_EXIT_OK;
            if (rc == CLI_OPT_UNHANDLED)
                rc = cli_usage_error("relay", "unknown option '%s'", cli_current_arg());
            if (rc != CLI_OPT_OK)
                return rc;
        }
        }
    }
    o.verbose = co.verbose;
    o.quiet = co.quiet;
    if (optind < argc)
        return cli_usage_error("relay", "unexpected argument '%s'", argv[optind]);
    if (!o.listen || !o.data_dir)
        return cli_usage_error("relay", "--listen and --data-dir are required");
    bl_error err = {0};
    if (bl_relay_run(&o, &err) != BL_OK)
        return cli_fail("relay", &err);
    return CLI_EXIT_OK;
}

#else /* built without libmicrohttpd, SQLite or libcurl */
int cmd_relay(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink relay: built without the bank chat (needs libmicrohttpd, sqlite3 "
                    "and libcurl; scripts/deps.sh)\n");
    return CLI_EXIT_FAIL;
}
#endif
