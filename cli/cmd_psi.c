/* cli/cmd_psi.c - `blindlink psi`: exact private set intersection with a peer
 * over TCP. Loads and normalises the input (exit 2 on bad input, before any
 * network traffic), runs the protocol (exit 1 on network, authentication or
 * protocol failures, leaving no output), then writes this side's matched row
 * ids atomically and a summary (sizes, intersection if learned, bytes per
 * record) on stdout. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <blindlink/io.h>
#include <blindlink/psi.h>

#include "cli.h"

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: blindlink psi (--listen HOST:PORT | --connect HOST:PORT)\n"
        "                     --peer-key KEY|FILE [--key FILE] IDENTIFIERS... [options] INPUT.csv\n\n"
        "Exact private set intersection (ECDH on ristretto255) with one peer. Neither\n"
        "side sees the other's identifiers; see docs/psi.md for what each mode reveals.\n\n"
        "Connection and keys:\n"
        "  --listen HOST:PORT    wait for the peer (PORT 0 picks a free port)\n"
        "  --connect HOST:PORT   connect to the peer (retried until --timeout)\n"
        "  --port-file FILE      with --listen: write the bound port to FILE\n"
        "  --key FILE            this side's private key (mode 0600, from 'blindlink keygen');\n"
        "                        default: environment variable " BL_PSI_KEY_ENV "\n"
        "  --peer-key KEY|FILE   the peer's public key (blpsi-pub:...), pinned: any other\n"
        "                        party is refused before data is exchanged\n"
        "  --timeout SECONDS     connect/accept limit and peer silence limit (default\n"
        "                        120; must exceed the time the peer needs to load its input)\n\n"
        "Identifiers (priority = order given; both sides must give the same types in the\n"
        "same order; a record matches on the first type that hits, one-to-one):\n"
        "  --email COL           email column\n"
        "  --phone COL           phone column (normalised to E.164)\n"
        "  --namedob COL,...,DOB  name column(s) then the date-of-birth column, one key\n\n"
        "Normalisation:\n"
        "  --email-rules LIST    none (default), gmail (gmail dots/+suffix), plus (drop\n"
        "                        +suffix everywhere), or gmail,plus; must match the peer\n"
        "  --phone-country CC    default country for national numbers (e.g. GB, US)\n"
        "  --dob-format FMT      date format with %%Y %%m %%d (default %%Y-%%m-%%d)\n"
        "  --name-rules LIST     none (default) or strip-marks (remove accents)\n"
        "  --strict              a value that does not normalise is an error (exit 2)\n"
        "  --rejects FILE        write every value that did not normalise (CSV)\n\n"
        "Mode and output:\n"
        "  --mode MODE           both (default): each side learns its matched rows;\n"
        "                        receive / send: only the receiving side learns (pair them);\n"
        "                        count: both learn only the intersection size\n"
        "  -o, --output FILE     matched rows of this side: id,matched_on (needed in\n"
        "                        modes both and receive; '-' = stdout); alias --out\n"
        "  --id-column COL       row id to write (default: 1-based data row number)\n"
        "  --delimiter C         CSV delimiter (default ,)\n"
        "  -j, --threads N       worker threads (default: all cores)\n"
        "  --batch N             records per frame (default 4096)\n"
        "  --json                the summary as a JSON object instead of key=value lines\n"
        "  -q, --quiet           no summary\n"
        "  -v, --verbose         also the input statistics line (default)\n"
        "  -V, --version         print the version\n"
        "  -h, --help            this help\n"
        "The summary goes to stdout, or to stderr when the rows go to stdout (-o -).\n");
}

typedef struct rejects {
    bl_ofile *f;
    uint64_t shown;
} rejects;

static void on_reject(void *ctx, uint64_t row, const char *msg)
{
    rejects *r = ctx;
    if (r->shown < 5)
        fprintf(stderr, "blindlink psi: warning: %s (record skipped for this identifier)\n", msg);
    r->shown++;
    if (r->f) {
        FILE *fp = bl_ofile_stream(r->f);
        fprintf(fp, "%llu,", (unsigned long long)row);
        bl_csv_write_field(fp, msg, strlen(msg));
        fputc('\n', fp);
    }
}

typedef struct portfile {
    const char *path;
    int written;
} portfile;

static void on_listen(void *ctx, unsigned port)
{
    portfile *pf = ctx;
    if (!pf->path) {
        fprintf(stderr, "blindlink psi: listening on port %u\n", port);
        return;
    }
    bl_ofile *f = NULL;
    bl_error e = {0};
    if (bl_ofile_open(pf->path, &f, &e) != BL_OK) {
        fprintf(stderr, "blindlink psi: %s\n", e.msg);
        return;
    }
    fprintf(bl_ofile_stream(f), "%u\n", port);
    if (bl_ofile_commit(f, &e) != BL_OK)
        fprintf(stderr, "blindlink psi: %s\n", e.msg);
    else
        pf->written = 1;
}

static int split_cols(bl_psi_ident_spec *sp, char *list)
{
    sp->ncolumns = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (sp->ncolumns >= BL_PSI_MAX_COLUMNS)
            return -1;
        sp->columns[sp->ncolumns++] = tok;
    }
    return sp->ncolumns > 0 ? 0 : -1;
}

static int parse_rules(const char *s, const char *const *names, const unsigned *bits, size_t n,
                       unsigned *out)
{
    *out = 0;
    if (!strcmp(s, "none"))
        return 0;
    char *dup = strdup(s);
    if (!dup)
        return -1;
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(dup, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < n && strcmp(tok, names[i]))
            i++;
        if (i == n) {
            rc = -1;
            break;
        }
        *out |= bits[i];
    }
    free(dup);
    return rc;
}

#define CMD "psi"

enum { O_LISTEN = CLI_OPT_FIRST_PRIVATE, O_CONNECT, O_PORTFILE, O_KEY, O_PEERKEY, O_TIMEOUT,
       O_EMAIL, O_PHONE, O_NAMEDOB, O_EMAILRULES, O_PHONECC, O_DOBFMT, O_NAMERULES, O_STRICT,
       O_REJECTS, O_MODE, O_OUT, O_IDCOL, O_DELIM, O_BATCH };

typedef struct psi_cli {
    cli_common co;
    bl_psi_input_opts io;
    bl_psi_opts po;
    portfile pf;
    const char *key, *peer_key, *rej_path, *input;
    char *colbufs[BL_PSI_MAX_TYPES];
} psi_cli;

static const struct option psi_longopts[] = {
    {"listen", required_argument, NULL, O_LISTEN},
    {"connect", required_argument, NULL, O_CONNECT},
    {"port-file", required_argument, NULL, O_PORTFILE},
    {"key", required_argument, NULL, O_KEY},
    {"peer-key", required_argument, NULL, O_PEERKEY},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"email", required_argument, NULL, O_EMAIL},
    {"phone", required_argument, NULL, O_PHONE},
    {"namedob", required_argument, NULL, O_NAMEDOB},
    {"email-rules", required_argument, NULL, O_EMAILRULES},
    {"phone-country", required_argument, NULL, O_PHONECC},
    {"dob-format", required_argument, NULL, O_DOBFMT},
    {"name-rules", required_argument, NULL, O_NAMERULES},
    {"strict", no_argument, NULL, O_STRICT},
    {"rejects", required_argument, NULL, O_REJECTS},
    {"mode", required_argument, NULL, O_MODE},
    {"out", required_argument, NULL, 'o'},
    {"id-column", required_argument, NULL, O_IDCOL},
    {"delimiter", required_argument, NULL, O_DELIM},
    {"batch", required_argument, NULL, O_BATCH},
    CLI_LONGOPT_OUTPUT, CLI_LONGOPT_THREADS, CLI_LONGOPT_JSON, CLI_LONGOPT_QUIET,
    CLI_LONGOPT_VERBOSE, CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
    {NULL, 0, NULL, 0}};

static int ident_option(int c, const char *arg, psi_cli *p)
{
    bl_psi_input_opts *io = &p->io;
    if (io->nidents >= BL_PSI_MAX_TYPES)
        return cli_usage_error(CMD, "at most %d identifiers", BL_PSI_MAX_TYPES);
    bl_psi_ident_spec *sp = &io->idents[io->nidents];
    sp->type = c == O_EMAIL ? BL_IDENT_EMAIL : c == O_PHONE ? BL_IDENT_PHONE : BL_IDENT_NAMEDOB;
    p->colbufs[io->nidents] = strdup(arg);
    if (!p->colbufs[io->nidents] || split_cols(sp, p->colbufs[io->nidents]) != 0)
        return cli_usage_error(CMD, "bad column list '%s'", arg);
    io->nidents++;
    return CLI_OPT_OK;
}

static int norm_option(int c, const char *arg, psi_cli *p)
{
    static const char *const email_names[] = {"gmail", "plus"};
    static const unsigned email_bits[] = {BL_EMAIL_GMAIL, BL_EMAIL_PLUS};
    static const char *const name_names[] = {"strip-marks"};
    static const unsigned name_bits[] = {BL_NAME_STRIP_MARKS};
    bl_ident_opts *n = &p->io.norm;
    switch (c) {
    case O_EMAILRULES:
        if (parse_rules(arg, email_names, email_bits, 2, &n->email_rules))
            return cli_usage_error(CMD, "--email-rules: expected none, gmail, plus or gmail,plus");
        return CLI_OPT_OK;
    case O_PHONECC:
        if (strlen(arg) != 2 || !bl_ident_calling_code(arg))
            return cli_usage_error(CMD, "--phone-country: unknown country code '%s'", arg);
        memcpy(n->phone_country, arg, 3);
        return CLI_OPT_OK;
    case O_DOBFMT: n->dob_format = arg; return CLI_OPT_OK;
    case O_NAMERULES:
        if (parse_rules(arg, name_names, name_bits, 1, &n->name_rules))
            return cli_usage_error(CMD, "--name-rules: expected none or strip-marks");
        return CLI_OPT_OK;
    default: return CLI_OPT_UNHANDLED;
    }
}

static int psi_option(int c, const char *arg, psi_cli *p)
{
    uint64_t u;
    switch (c) {
    case O_LISTEN: p->po.listen = arg; break;
    case O_CONNECT: p->po.connect = arg; break;
    case O_PORTFILE: p->pf.path = arg; break;
    case O_KEY: p->key = arg; break;
    case O_PEERKEY: p->peer_key = arg; break;
    case O_TIMEOUT:
        if (cli_parse_u64(arg, 1, 86400, &u))
            return cli_usage_error(CMD, "--timeout must be 1..86400 seconds, got '%s'", arg);
        p->po.timeout_s = (int)u;
        break;
    case O_EMAIL:
    case O_PHONE:
    case O_NAMEDOB: return ident_option(c, arg, p);
    case O_STRICT: p->io.strict = 1; break;
    case O_REJECTS: p->rej_path = arg; break;
    case O_MODE:
        if (!(p->po.mode = bl_psi_mode_parse(arg)))
            return cli_usage_error(CMD, "--mode: expected both, receive, send or count");
        break;
    case O_IDCOL: p->io.id_column = arg; break;
    case O_DELIM:
        if (strlen(arg) != 1)
            return cli_usage_error(CMD, "--delimiter must be one character");
        p->io.csv.delimiter = arg[0];
        break;
    case O_BATCH:
        if (cli_parse_u64(arg, 1, 65536, &u))
            return cli_usage_error(CMD, "--batch must be 1..65536, got '%s'", arg);
        p->po.batch = (uint32_t)u;
        break;
    default: {
        int rc = norm_option(c, arg, p);
        return rc == CLI_OPT_UNHANDLED ? cli_usage_error(CMD, "unknown option '%s'",
                                                         cli_current_arg())
                                       : rc;
    }
    }
    return CLI_OPT_OK;
}

static int psi_check(const psi_cli *p)
{
    if (!p->po.listen == !p->po.connect)
        return cli_usage_error(CMD, "give exactly one of --listen and --connect");
    if (p->pf.path && !p->po.listen)
        return cli_usage_error(CMD, "--port-file needs --listen");
    if (p->io.nidents == 0)
        return cli_usage_error(CMD, "give at least one identifier: --email, --phone or --namedob");
    for (size_t i = 0; i < p->io.nidents; i++)
        if (p->io.idents[i].type == BL_IDENT_NAMEDOB && p->io.idents[i].ncolumns < 2)
            return cli_usage_error(CMD, "--namedob needs name column(s) and a date column");
    if (!p->peer_key)
        return cli_usage_error(CMD, "--peer-key is required (the peer's public key is pinned)");
    int learns_rows = p->po.mode == BL_PSI_BOTH || p->po.mode == BL_PSI_RECEIVE;
    if (learns_rows && !p->co.output)
        return cli_usage_error(CMD, "-o/--out FILE is required in mode %s",
                               bl_psi_mode_name(p->po.mode));
    if (!learns_rows && p->co.output)
        return cli_usage_error(CMD, "mode %s learns no rows; drop -o/--out",
                               bl_psi_mode_name(p->po.mode));
    if (p->co.json && p->co.output && !strcmp(p->co.output, "-"))
        return cli_usage_error(CMD, "--json prints the summary on stdout: not with -o -");
    return CLI_OPT_OK;
}

static int psi_parse(int argc, char **argv, psi_cli *p)
{
    p->po.mode = BL_PSI_BOTH;
    p->co.output = NULL;
    int c;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":o:j:qvVh", psi_longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option(CMD, c, optarg, &p->co);
        if (rc == CLI_OPT_UNHANDLED)
            rc = psi_option(c, optarg, p);
        if (rc != CLI_OPT_OK)
            return rc;
    }
    p->po.threads = p->co.threads;
    if (optind + 1 != argc)
        return cli_usage_error(CMD, optind >= argc ? "missing INPUT.csv" : "more than one input "
                                                                           "file");
    p->input = argv[optind];
    const cli_path outs[] = {
        {"-o/--out", p->co.output}, {"--rejects", p->rej_path}, {"--port-file", p->pf.path}};
    const char *ins[] = {p->input, p->key, p->peer_key};
    const int prc = cli_check_outputs(CMD, outs, 3, ins, 3);
    return prc == CLI_EXIT_OK ? psi_check(p) : prc;
}

static void input_line(const bl_psi_input *in)
{
    bl_psi_input_stats ist;
    bl_psi_input_stats_get(in, &ist);
    fprintf(stderr, "blindlink psi: %llu rows, %llu records to match (%llu values rejected, "
                    "%llu missing, %llu duplicates)\n",
            (unsigned long long)ist.rows, (unsigned long long)ist.groups,
            (unsigned long long)ist.rejected, (unsigned long long)ist.missing,
            (unsigned long long)ist.duplicates);
}

static void summary_text(FILE *fp, const psi_cli *p, const bl_psi_stats *st)
{
    fprintf(fp, "mode=%s\nown_records=%llu\npeer_records=%llu\n", bl_psi_mode_name(p->po.mode),
            (unsigned long long)st->own_groups, (unsigned long long)st->peer_groups);
    if (st->learned) {
        fprintf(fp, "intersection=%llu\n", (unsigned long long)st->intersection);
        for (size_t t = 0; t < p->io.nidents; t++)
            fprintf(fp, "matched_on_%s=%llu\n", bl_ident_type_name(p->io.idents[t].type),
                    (unsigned long long)st->per_type[t]);
    } else {
        fprintf(fp, "intersection=not-learned\n");
    }
    fprintf(fp, "bytes_sent=%llu\nbytes_received=%llu\nbytes_sent_per_record=%.1f\nseconds=%.2f\n"
                "idle_seconds=%.2f\n",
            (unsigned long long)st->bytes_sent, (unsigned long long)st->bytes_received,
            st->own_groups ? (double)st->bytes_sent / (double)st->own_groups : 0.0, st->seconds,
            st->idle_seconds);
}

static void summary_json(const psi_cli *p, const bl_psi_stats *st)
{
    json_t *js = json_object();
    json_object_set_new(js, "mode", json_string(bl_psi_mode_name(p->po.mode)));
    json_object_set_new(js, "own_records", json_integer((json_int_t)st->own_groups));
    json_object_set_new(js, "peer_records", json_integer((json_int_t)st->peer_groups));
    if (st->learned) {
        json_t *per = json_object();
        json_object_set_new(js, "intersection", json_integer((json_int_t)st->intersection));
        for (size_t t = 0; t < p->io.nidents; t++)
            json_object_set_new(per, bl_ident_type_name(p->io.idents[t].type),
                                json_integer((json_int_t)st->per_type[t]));
        json_object_set_new(js, "matched_on", per);
    } else {
        json_object_set_new(js, "intersection", json_null());
    }
    json_object_set_new(js, "bytes_sent", json_integer((json_int_t)st->bytes_sent));
    json_object_set_new(js, "bytes_received", json_integer((json_int_t)st->bytes_received));
    cli_json_set_real(js, "bytes_sent_per_record",
                      st->own_groups ? (double)st->bytes_sent / (double)st->own_groups : NAN);
    cli_json_set_real(js, "seconds", st->seconds);
    cli_json_set_real(js, "idle_seconds", st->idle_seconds);
    bl_error err = {0};
    if (cli_json_write(js, "-", &err) != BL_OK)
        fprintf(stderr, "blindlink psi: %s\n", err.msg);
    json_decref(js);
}

/* load, run, write: exit 2 on bad input before any traffic, 1 on a failed run */
static int psi_execute(psi_cli *p)
{
    bl_error err = {0};
    uint8_t ppk[BL_PSI_PUBKEY_BYTES];
    bl_psi_identity *me = NULL;
    bl_psi_input *in = NULL;
    bl_psi_result *res = NULL;
    rejects rj = {0};
    int learns_rows = p->po.mode == BL_PSI_BOTH || p->po.mode == BL_PSI_RECEIVE;
    bl_status s = bl_psi_pubkey_load(p->peer_key, ppk, &err);
    if (s == BL_OK)
        s = bl_psi_identity_load(p->key, p->key ? NULL : BL_PSI_KEY_ENV, &me, &err);
    if (s == BL_OK && p->rej_path && (s = bl_ofile_open(p->rej_path, &rj.f, &err)) == BL_OK)
        fputs("row,problem\n", bl_ofile_stream(rj.f));
    if (s == BL_OK) {
        p->io.reject = on_reject;
        p->io.reject_ctx = &rj;
        s = bl_psi_input_load(p->input, &p->io, &in, &err);
    }
    if (s == BL_OK && !p->co.quiet && !p->co.json)
        input_line(in);
    if (s == BL_OK) {
        p->po.progress = !p->co.quiet;
        p->po.on_listen = on_listen;
        p->po.on_listen_ctx = &p->pf;
        s = bl_psi_run(in, me, ppk, &p->po, &res, &err);
    }
    bl_psi_identity_free(me);
    if (s == BL_OK && learns_rows)
        s = bl_psi_result_write(res, in, p->co.output, &err);
    if (s == BL_OK && rj.f) {
        s = bl_ofile_commit(rj.f, &err);
        rj.f = NULL;
    }
    int rc = CLI_EXIT_OK;
    if (s != BL_OK) {
        bl_ofile_abort(rj.f);
        if (p->pf.written)
            unlink(p->pf.path);
        rc = cli_fail(CMD, &err);
    } else {
        bl_psi_stats st;
        bl_psi_result_stats(res, &st);
        if (p->co.json)
            summary_json(p, &st);
        else if (!p->co.quiet)
            summary_text(p->co.output && !strcmp(p->co.output, "-") ? stderr : stdout, p, &st);
    }
    bl_psi_result_free(res);
    bl_psi_input_free(in);
    return rc;
}

int cmd_psi(int argc, char **argv)
{
    psi_cli p;
    memset(&p, 0, sizeof p);
    int rc = psi_parse(argc, argv, &p);
    if (rc == CLI_OPT_OK)
        rc = psi_execute(&p);
    else if (rc == CLI_OPT_EXIT)
        rc = CLI_EXIT_OK;
    for (size_t i = 0; i < BL_PSI_MAX_TYPES; i++)
        free(p.colbufs[i]);
    return rc;
}
