/* cli/cmd_serve.c - `blindlink serve`: run the linkage service (HTTP JSON API on
 * libmicrohttpd, SQLite store, in-process run workers). */
#include <getopt.h>
#include <stdint.h>
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
            "  -j, --threads N       matching threads per run (default: all cores)\n"
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
            "  --rotate-audit-key    the --audit-key is a new key on purpose: the log records\n"
            "                        the change and signs on with it (without this flag a key\n"
            "                        other than the store's is refused)\n"
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
            "  -q, --quiet           no banner on stderr\n"
            "  -v, --verbose         print the settings in effect on stderr before starting\n"
            "  -V, --version         print the version;  -h, --help  this help\n");
}

#ifdef BL_HAVE_SERVER
enum {
    OPT_DATA_DIR = CLI_OPT_FIRST_PRIVATE,
    OPT_LISTEN,
    OPT_PORT_FILE,
    OPT_HTTP_THREADS,
    OPT_WORKERS,
    OPT_MAX_BODY,
    OPT_MAX_UPLOAD,
    OPT_MAX_RECORDS,
    OPT_MAX_CAND,
    OPT_RATE,
    OPT_TIMEOUT,
    OPT_JANITOR,
    OPT_CLOCK,
    OPT_IP_RATE,
    OPT_BODY_TIMEOUT,
    OPT_AUDIT_INTERVAL,
    OPT_SHARED_DIR,
    OPT_AUDIT_KEY,
    OPT_AUDIT_UNSIGNED,
    OPT_AUDIT_ROTATE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_INSECURE,
    OPT_MPI_LAUNCH,
    OPT_MPI_PROGRAM,
    OPT_MPI_MIN_PAIRS
};

/* unsigned option value in [lo, hi], or a usage error naming the option */
static int opt_u64(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (cli_parse_u64(s, lo, hi, out))
        return cli_usage_error("serve", "--%s: %llu..%llu, got '%s'", name, (unsigned long long)lo,
                               (unsigned long long)hi, s);
    return CLI_OPT_OK;
}

static int opt_rate(const char *name, const char *s, double *out)
{
    if (cli_parse_real(s, 0.0, 1e9, 1, out))
        return cli_usage_error("serve", "--%s: positive number, got '%s'", name, s);
    return CLI_OPT_OK;
}

static int opt_count(const char *name, const char *s, int max, int *out)
{
    *out = cli_parse_threads(s);
    if (*out < 0 || *out > max)
        return cli_usage_error("serve", "--%s: bad count '%s'", name, s);
    return CLI_OPT_OK;
}

/* One private option (not a common one) into `o`. */
static int serve_option(int c, const char *arg, bl_server_opts *o, const char **offset)
{
    uint64_t v = 0;
    int rc = CLI_OPT_OK;
    switch (c) {
    case OPT_DATA_DIR: o->data_dir = arg; break;
    case OPT_LISTEN: o->listen = arg; break;
    case OPT_PORT_FILE: o->port_file = arg; break;
    case OPT_HTTP_THREADS: return opt_count("http-threads", arg, 1024, &o->http_threads);
    case OPT_WORKERS: return opt_count("workers", arg, 64, &o->run_workers);
    case OPT_MAX_BODY:
        if ((rc = opt_u64("max-body", arg, 1024, 1ULL << 30, &v)) == CLI_OPT_OK)
            o->max_body = (size_t)v;
        break;
    case OPT_MAX_UPLOAD:
        if ((rc = opt_u64("max-upload", arg, 1024, UINT64_MAX, &v)) == CLI_OPT_OK)
            o->max_upload = v;
        break;
    case OPT_MAX_RECORDS:
        if ((rc = opt_u64("max-records", arg, 1, SIZE_MAX, &v)) == CLI_OPT_OK)
            o->max_records = (size_t)v;
        break;
    case OPT_MAX_CAND:
        if ((rc = opt_u64("max-candidates", arg, 1, SIZE_MAX, &v)) == CLI_OPT_OK)
            o->max_candidates = (size_t)v;
        break;
    case OPT_RATE: return opt_rate("rate-limit", arg, &o->rate_limit);
    case OPT_IP_RATE: return opt_rate("ip-rate-limit", arg, &o->ip_rate_limit);
    case OPT_TIMEOUT:
        if ((rc = opt_u64("timeout", arg, 1, 86400, &v)) == CLI_OPT_OK)
            o->conn_timeout_s = (unsigned)v;
        break;
    case OPT_JANITOR:
        if ((rc = opt_u64("janitor", arg, 1, 86400, &v)) == CLI_OPT_OK)
            o->janitor_s = (unsigned)v;
        break;
    case OPT_BODY_TIMEOUT:
        if ((rc = opt_u64("body-timeout", arg, 1, 604800, &v)) == CLI_OPT_OK)
            o->body_timeout_s = (unsigned)v;
        break;
    case OPT_AUDIT_INTERVAL:
        if ((rc = opt_u64("audit-interval", arg, 1, 86400, &v)) == CLI_OPT_OK)
            o->audit_interval_s = (unsigned)v;
        break;
    case OPT_SHARED_DIR: o->allow_shared_dir = 1; break;
    case OPT_CLOCK: *offset = arg; break;
    case OPT_AUDIT_KEY: o->audit_key = arg; break;
    case OPT_AUDIT_UNSIGNED: o->audit_unsigned = 1; break;
    case OPT_AUDIT_ROTATE: o->audit_rotate = 1; break;
    case OPT_TLS_CERT: o->tls_cert = arg; break;
    case OPT_TLS_KEY: o->tls_key = arg; break;
    case OPT_INSECURE: o->insecure_http = 1; break;
    case OPT_MPI_LAUNCH: o->mpi_launch = arg; break; /* issue 15, server/mpirun.c */
    case OPT_MPI_PROGRAM: o->mpi_program = arg; break;
    case OPT_MPI_MIN_PAIRS:
        if ((rc = opt_u64("mpi-min-pairs", arg, 0, UINT64_MAX, &v)) == CLI_OPT_OK)
            o->mpi_min_pairs = v;
        break;
    default: return CLI_OPT_UNHANDLED;
    }
    return rc;
}

static int serve_parse(int argc, char **argv, bl_server_opts *o, cli_common *co,
                       const char **offset)
{
    static const struct option lo[] = {{"data-dir", required_argument, 0, OPT_DATA_DIR},
                                       {"listen", required_argument, 0, OPT_LISTEN},
                                       {"port-file", required_argument, 0, OPT_PORT_FILE},
                                       {"http-threads", required_argument, 0, OPT_HTTP_THREADS},
                                       {"workers", required_argument, 0, OPT_WORKERS},
                                       {"max-body", required_argument, 0, OPT_MAX_BODY},
                                       {"max-upload", required_argument, 0, OPT_MAX_UPLOAD},
                                       {"max-records", required_argument, 0, OPT_MAX_RECORDS},
                                       {"max-candidates", required_argument, 0, OPT_MAX_CAND},
                                       {"rate-limit", required_argument, 0, OPT_RATE},
                                       {"timeout", required_argument, 0, OPT_TIMEOUT},
                                       {"janitor", required_argument, 0, OPT_JANITOR},
                                       {"clock-offset", required_argument, 0, OPT_CLOCK},
                                       {"ip-rate-limit", required_argument, 0, OPT_IP_RATE},
                                       {"body-timeout", required_argument, 0, OPT_BODY_TIMEOUT},
                                       {"audit-interval", required_argument, 0, OPT_AUDIT_INTERVAL},
                                       {"allow-shared-dir", no_argument, 0, OPT_SHARED_DIR},
                                       {"audit-key", required_argument, 0, OPT_AUDIT_KEY},
                                       {"audit-unsigned", no_argument, 0, OPT_AUDIT_UNSIGNED},
                                       {"rotate-audit-key", no_argument, 0, OPT_AUDIT_ROTATE},
                                       {"tls-cert", required_argument, 0, OPT_TLS_CERT},
                                       {"tls-key", required_argument, 0, OPT_TLS_KEY},
                                       {"insecure-http", no_argument, 0, OPT_INSECURE},
                                       {"mpi-launch", required_argument, 0, OPT_MPI_LAUNCH},
                                       {"mpi-program", required_argument, 0, OPT_MPI_PROGRAM},
                                       {"mpi-min-pairs", required_argument, 0, OPT_MPI_MIN_PAIRS},
                                       CLI_LONGOPT_THREADS,
                                       CLI_LONGOPT_QUIET,
                                       CLI_LONGOPT_VERBOSE,
                                       CLI_LONGOPT_VERSION,
                                       CLI_LONGOPT_HELP,
                                       {0, 0, 0, 0}};
    int c;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":j:qvVh", lo, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = serve_option(c, optarg, o, offset);
        if (rc == CLI_OPT_UNHANDLED)
            rc = cli_common_option("serve", c, optarg, co);
        if (rc == CLI_OPT_UNHANDLED)
            rc = cli_usage_error("serve", "unknown option '%s'", cli_current_arg());
        if (rc != CLI_OPT_OK)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!o->data_dir)
        return cli_usage_error("serve", "--data-dir is required");
    o->match_threads = co->threads;
    o->quiet = co->quiet;
    return CLI_OPT_OK;
}

/* -v: the settings in effect (0 = the server's documented default) */
static void print_settings(const bl_server_opts *o)
{
    fprintf(stderr,
            "blindlink serve: data dir %s, listen %s, http threads %d, workers %d, "
            "match threads %d, max body %zu, max upload %llu, max records %zu, "
            "max candidates %zu, rate limit %g/s, ip rate limit %g/s, timeout %u s, "
            "body timeout %u s, janitor %u s, audit %s, %s (0 = default)\n",
            o->data_dir, o->listen, o->http_threads, o->run_workers, o->match_threads, o->max_body,
            (unsigned long long)o->max_upload, o->max_records, o->max_candidates, o->rate_limit,
            o->ip_rate_limit, o->conn_timeout_s, o->body_timeout_s, o->janitor_s,
            o->audit_unsigned ? "unsigned" : "signed", o->tls_cert ? "TLS" : "plain HTTP");
}
#endif

int cmd_serve(int argc, char **argv)
{
#ifndef BL_HAVE_SERVER
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink serve: built without the server component\n");
    return CLI_EXIT_FAIL;
#else
    bl_server_opts o;
    memset(&o, 0, sizeof o);
    o.listen = "127.0.0.1:8080";
    const char *offset = getenv("BLINDLINK_CLOCK_OFFSET");
    cli_common co = {0};
    int rc = serve_parse(argc, argv, &o, &co, &offset);
    if (rc == CLI_OPT_EXIT)
        return CLI_EXIT_OK;
    if (rc != CLI_OPT_OK)
        return rc;
    bl_error err = {0};
    if (offset) {
        int64_t secs;
        if (bl_srv_parse_duration(offset, &secs, &err) != BL_OK)
            return cli_usage_error("serve", "clock offset: %s", err.msg);
        bl_srv_clock_set_offset(secs);
        if (!o.quiet)
            fprintf(stderr, "blindlink serve: clock offset %lld s (testing)\n", (long long)secs);
    }
    if (co.verbose)
        print_settings(&o);
    if (bl_server_run(&o, &err) != BL_OK)
        return cli_fail("serve", &err);
    return CLI_EXIT_OK;
#endif
}
