/* cli/cmd_serve.c - `blindlink serve`: run the linkage service (HTTP JSON API on
 * libmicrohttpd, SQLite store, in-process run workers). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#ifdef BL_HAVE_SERVER
#include <blindlink/server.h>
#endif

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink serve --data-dir DIR [options]\n\n"
            "Run the linkage service: an HTTP JSON API (docs/api.yaml) enforcing consent,\n"
            "purpose, minimisation, 90-day inactivity expiry, retention and a hash-chained,\n"
            "signed audit log. Bootstrap principals first with 'blindlink admin'.\n\n"
            "Options:\n"
            "  --data-dir DIR        state directory (SQLite store, encodings, audit.log)\n"
            "  --listen HOST:PORT    address to bind (default 127.0.0.1:8080; IPv6 as [::1]:8080;\n"
            "                        port 0 = any free)\n"
            "  --port-file FILE      write the bound port to FILE once listening\n"
            "  --http-threads N      HTTP thread pool size (default: cores, at least 4)\n"
            "  --workers N           concurrent linkage runs (default 1)\n"
            "  --threads N           matching threads per run (default: all cores)\n"
            "  --max-body BYTES      cap on JSON request bodies, JSON uploads included\n"
            "                        (default 1048576)\n"
            "  --max-upload BYTES    cap on one streamed encodings upload (default 4 GiB)\n"
            "  --max-records N       cap on encodings per upload (default 10000000)\n"
            "  --max-candidates N    server-wide cap on candidate pairs per run (default 1e8)\n"
            "  --rate-limit R        requests/s per API key (default 50; burst 4x)\n"
            "  --ip-rate-limit R     requests/s per client address, before authentication\n"
            "                        (default max(200, 4 x rate limit); a bad key costs 10)\n"
            "  --timeout SECONDS     idle connection timeout (default 30)\n"
            "  --body-timeout SECONDS  a request body must arrive within this (default 600)\n"
            "  --audit-interval SECONDS  unauthenticated refusals past the first 10 per client\n"
            "                        and interval are logged as one count (default 60)\n"
            "  --allow-shared-dir    start although others can read the data directory\n"
            "  --janitor SECONDS     retention sweep interval (default 60)\n"
            "  --clock-offset D      shift the service clock (e.g. 91d, -2h; tests);\n"
            "                        also env BLINDLINK_CLOCK_OFFSET\n"
            "  --audit-key FILE      audit signing key (blindlink audit keygen); keep it outside\n"
            "                        the data directory, mode 0600; also env BLINDLINK_AUDIT_KEY.\n"
            "                        Required unless --audit-unsigned\n"
            "  --audit-unsigned      run without a signing key (the log is then not\n"
            "                        tamper-evident against whoever can write the files)\n"
            "  --tls-cert FILE       serve HTTPS (TLS 1.2/1.3) with this PEM certificate chain\n"
            "  --tls-key FILE        ... and this PEM private key (mode 0600)\n"
            "  --insecure-http       allow plain HTTP on a non-loopback address (behind a TLS\n"
            "                        proxy); without TLS only loopback is served\n"
            "  --mpi-launch CMD      run the candidate step of large runs with blindlink-mpi\n"
            "                        under this MPI launcher, e.g. \"mpirun -n 8 --hostfile H\"\n"
            "                        (split into words, no shell; docs/scale.md)\n"
            "  --mpi-min-pairs N     with --mpi-launch: only runs of at least N cross-party\n"
            "                        pairs (default 0: every run)\n"
            "  --mpi-program PATH    blindlink-mpi to launch (default: next to blindlink)\n"
            "  --quiet               no banner on stderr\n");
}

static int parse_size(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end)
        return -1;
    *out = v;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
#ifndef BL_HAVE_SERVER
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink serve: built without the server component\n");
    return CLI_EXIT_FAIL;
#else
    static const struct option longopts[] = {
        {"data-dir", required_argument, 0, 'd'},     {"listen", required_argument, 0, 'l'},
        {"port-file", required_argument, 0, 'P'},    {"http-threads", required_argument, 0, 'H'},
        {"workers", required_argument, 0, 'w'},      {"threads", required_argument, 0, 't'},
        {"max-body", required_argument, 0, 'b'},     {"max-upload", required_argument, 0, 'u'},
        {"max-records", required_argument, 0, 'r'},  {"max-candidates", required_argument, 0, 'c'},
        {"rate-limit", required_argument, 0, 'R'},   {"timeout", required_argument, 0, 'T'},
        {"janitor", required_argument, 0, 'j'},      {"clock-offset", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},              {"help", no_argument, 0, 'h'},
        {"ip-rate-limit", required_argument, 0, 'I'}, {"body-timeout", required_argument, 0, 'B'},
        {"audit-interval", required_argument, 0, 'A'}, {"allow-shared-dir", no_argument, 0, 'S'},
        {"audit-key", required_argument, 0, 'K'},    {"audit-unsigned", no_argument, 0, 'U'},
        {"tls-cert", required_argument, 0, 'C'},     {"tls-key", required_argument, 0, 'Y'},
        {"insecure-http", no_argument, 0, 'X'},
        {"mpi-launch", required_argument, 0, 'M'},   {"mpi-program", required_argument, 0, 'Z'},
        {"mpi-min-pairs", required_argument, 0, 'N'},
        {0, 0, 0, 0}};
    bl_server_opts o;
    memset(&o, 0, sizeof o);
    o.listen = "127.0.0.1:8080";
    const char *offset = getenv("BLINDLINK_CLOCK_OFFSET");
    int c;
    unsigned long long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o.data_dir = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'P': o.port_file = optarg; break;
        case 'H':
            if ((o.http_threads = cli_parse_threads(optarg)) < 0)
                return cli_usage_error("serve", "--http-threads: bad count '%s'", optarg);
            break;
        case 'w':
            if ((o.run_workers = cli_parse_threads(optarg)) < 0 || o.run_workers > 64)
                return cli_usage_error("serve", "--workers: bad count '%s'", optarg);
            break;
        case 't':
            if ((o.match_threads = cli_parse_threads(optarg)) < 0)
                return cli_usage_error("serve", "--threads: bad count '%s'", optarg);
            break;
        case 'b':
            if (parse_size(optarg, &v) || v < 1024 || v > (1ULL << 30))
                return cli_usage_error("serve", "--max-body: 1024..1073741824 bytes, got '%s'", optarg);
            o.max_body = (size_t)v;
            break;
        case 'u':
            if (parse_size(optarg, &v) || v < 1024)
                return cli_usage_error("serve", "--max-upload: at least 1024 bytes, got '%s'", optarg);
            o.max_upload = v;
            break;
        case 'r':
            if (parse_size(optarg, &v) || v < 1)
                return cli_usage_error("serve", "--max-records: bad count '%s'", optarg);
            o.max_records = (size_t)v;
            break;
        case 'c':
            if (parse_size(optarg, &v) || v < 1)
                return cli_usage_error("serve", "--max-candidates: bad count '%s'", optarg);
            o.max_candidates = (size_t)v;
            break;
        case 'R': {
            char *end;
            o.rate_limit = strtod(optarg, &end);
            if (*end || !(o.rate_limit > 0) || o.rate_limit > 1e9)
                return cli_usage_error("serve", "--rate-limit: positive number, got '%s'", optarg);
            break;
        }
        case 'T':
            if (parse_size(optarg, &v) || v < 1 || v > 86400)
                return cli_usage_error("serve", "--timeout: 1..86400 seconds, got '%s'", optarg);
            o.conn_timeout_s = (unsigned)v;
            break;
        case 'j':
            if (parse_size(optarg, &v) || v < 1 || v > 86400)
                return cli_usage_error("serve", "--janitor: 1..86400 seconds, got '%s'", optarg);
            o.janitor_s = (unsigned)v;
            break;
        case 'I': {
            char *end;
            o.ip_rate_limit = strtod(optarg, &end);
            if (*end || !(o.ip_rate_limit > 0) || o.ip_rate_limit > 1e9)
                return cli_usage_error("serve", "--ip-rate-limit: positive number, got '%s'", optarg);
            break;
        }
        case 'B':
            if (parse_size(optarg, &v) || v < 1 || v > 604800)
                return cli_usage_error("serve", "--body-timeout: 1..604800 seconds, got '%s'", optarg);
            o.body_timeout_s = (unsigned)v;
            break;
        case 'A':
            if (parse_size(optarg, &v) || v < 1 || v > 86400)
                return cli_usage_error("serve", "--audit-interval: 1..86400 seconds, got '%s'", optarg);
            o.audit_interval_s = (unsigned)v;
            break;
        case 'S': o.allow_shared_dir = 1; break;
        case 'o': offset = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'K': o.audit_key = optarg; break;
        case 'U': o.audit_unsigned = 1; break;
        case 'C': o.tls_cert = optarg; break;
        case 'Y': o.tls_key = optarg; break;
        case 'X': o.insecure_http = 1; break;
        case 'M': o.mpi_launch = optarg; break; /* --mpi-launch (issue 15, server/mpirun.c) */
        case 'Z': o.mpi_program = optarg; break;
        case 'N':
            if (parse_size(optarg, &v))
                return cli_usage_error("serve", "--mpi-min-pairs: bad count '%s'", optarg);
            o.mpi_min_pairs = v;
            break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: return cli_usage_error("serve", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!o.data_dir)
        return cli_usage_error("serve", "--data-dir is required");
    bl_error err = {0};
    if (offset) {
        int64_t secs;
        if (bl_srv_parse_duration(offset, &secs, &err) != BL_OK)
            return cli_usage_error("serve", "clock offset: %s", err.msg);
        bl_srv_clock_set_offset(secs);
        if (!o.quiet)
            fprintf(stderr, "blindlink serve: clock offset %lld s (testing)\n", (long long)secs);
    }
    if (bl_server_run(&o, &err) != BL_OK)
        return cli_fail("serve", &err);
    return CLI_EXIT_OK;
#endif
}
