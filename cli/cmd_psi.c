/* cli/cmd_psi.c - `blindlink psi`: exact private set intersection with a peer
 * over TCP. Loads and normalises the input (exit 2 on bad input, before any
 * network traffic), runs the protocol (exit 1 on network, authentication or
 * protocol failures, leaving no output), then writes this side's matched row
 * ids atomically and a summary (sizes, intersection if learned, bytes per
 * record) on stdout. */
#include <getopt.h>
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
        "  --namedob COL,...,DOB name column(s) then the date-of-birth column, one key\n\n"
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
        "  --out FILE            matched rows of this side: id,matched_on (needed in\n"
        "                        modes both and receive)\n"
        "  --id-column COL       row id to write (default: 1-based data row number)\n"
        "  --delimiter C         CSV delimiter (default ,)\n"
        "  --threads N           worker threads (default: all cores)\n"
        "  --batch N             records per frame (default 4096)\n"
        "  -q, --quiet           no summary on stdout\n");
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

int cmd_psi(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_CONNECT, O_PORTFILE, O_KEY, O_PEERKEY, O_TIMEOUT, O_EMAIL, O_PHONE,
           O_NAMEDOB, O_EMAILRULES, O_PHONECC, O_DOBFMT, O_NAMERULES, O_STRICT, O_REJECTS, O_MODE,
           O_OUT, O_IDCOL, O_DELIM, O_THREADS, O_BATCH };
    static const struct option lo[] = {
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
        {"out", required_argument, NULL, O_OUT},
        {"id-column", required_argument, NULL, O_IDCOL},
        {"delimiter", required_argument, NULL, O_DELIM},
        {"threads", required_argument, NULL, O_THREADS},
        {"batch", required_argument, NULL, O_BATCH},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const char *const email_names[] = {"gmail", "plus"};
    static const unsigned email_bits[] = {BL_EMAIL_GMAIL, BL_EMAIL_PLUS};
    static const char *const name_names[] = {"strip-marks"};
    static const unsigned name_bits[] = {BL_NAME_STRIP_MARKS};

    bl_psi_input_opts io;
    memset(&io, 0, sizeof io);
    bl_psi_opts po;
    memset(&po, 0, sizeof po);
    po.mode = BL_PSI_BOTH;
    portfile pf = {0};
    const char *key = NULL, *peer_key = NULL, *rej_path = NULL, *out = NULL;
    int quiet = 0, c;
    char *colbufs[BL_PSI_MAX_TYPES] = {0};
    int rc = CLI_EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        switch (c) {
        case O_LISTEN: po.listen = optarg; break;
        case O_CONNECT: po.connect = optarg; break;
        case O_PORTFILE: pf.path = optarg; break;
        case O_KEY: key = optarg; break;
        case O_PEERKEY: peer_key = optarg; break;
        case O_TIMEOUT:
            po.timeout_s = atoi(optarg);
            if (po.timeout_s < 1 || po.timeout_s > 86400) {
                cli_usage_error("psi", "--timeout must be 1..86400 seconds");
                goto out;
            }
            break;
        case O_EMAIL:
        case O_PHONE:
        case O_NAMEDOB: {
            if (io.nidents >= BL_PSI_MAX_TYPES) {
                cli_usage_error("psi", "at most %d identifiers", BL_PSI_MAX_TYPES);
                goto out;
            }
            bl_psi_ident_spec *sp = &io.idents[io.nidents];
            sp->type = c == O_EMAIL ? BL_IDENT_EMAIL : c == O_PHONE ? BL_IDENT_PHONE : BL_IDENT_NAMEDOB;
            colbufs[io.nidents] = strdup(optarg);
            if (!colbufs[io.nidents] || split_cols(sp, colbufs[io.nidents]) != 0) {
                cli_usage_error("psi", "bad column list '%s'", optarg);
                goto out;
            }
            io.nidents++;
            break;
        }
        case O_EMAILRULES:
            if (parse_rules(optarg, email_names, email_bits, 2, &io.norm.email_rules)) {
                cli_usage_error("psi", "--email-rules: expected none, gmail, plus or gmail,plus");
                goto out;
            }
            break;
        case O_PHONECC:
            if (strlen(optarg) != 2 || !bl_ident_calling_code(optarg)) {
                cli_usage_error("psi", "--phone-country: unknown country code '%s'", optarg);
                goto out;
            }
            memcpy(io.norm.phone_country, optarg, 3);
            break;
        case O_DOBFMT: io.norm.dob_format = optarg; break;
        case O_NAMERULES:
            if (parse_rules(optarg, name_names, name_bits, 1, &io.norm.name_rules)) {
                cli_usage_error("psi", "--name-rules: expected none or strip-marks");
                goto out;
            }
            break;
        case O_STRICT: io.strict = 1; break;
        case O_REJECTS: rej_path = optarg; break;
        case O_MODE:
            po.mode = bl_psi_mode_parse(optarg);
            if (!po.mode) {
                cli_usage_error("psi", "--mode: expected both, receive, send or count");
                goto out;
            }
            break;
        case O_OUT: out = optarg; break;
        case O_IDCOL: io.id_column = optarg; break;
        case O_DELIM:
            if (strlen(optarg) != 1) {
                cli_usage_error("psi", "--delimiter must be one character");
                goto out;
            }
            io.csv.delimiter = optarg[0];
            break;
        case O_THREADS:
            po.threads = cli_parse_threads(optarg);
            if (po.threads < 0) {
                cli_usage_error("psi", "--threads: expected a number or auto");
                goto out;
            }
            break;
        case O_BATCH: {
            long b = atol(optarg);
            if (b < 1 || b > 65536) {
                cli_usage_error("psi", "--batch must be 1..65536");
                goto out;
            }
            po.batch = (uint32_t)b;
            break;
        }
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); rc = CLI_EXIT_OK; goto out;
        default: cli_usage_error("psi", "invalid option"); goto out;
        }
    }
    if (optind + 1 != argc) {
        cli_usage_error("psi", optind >= argc ? "missing INPUT.csv" : "more than one input file");
        goto out;
    }
    const char *input = argv[optind];
    if (!po.listen == !po.connect) {
        cli_usage_error("psi", "give exactly one of --listen and --connect");
        goto out;
    }
    if (pf.path && !po.listen) {
        cli_usage_error("psi", "--port-file needs --listen");
        goto out;
    }
    if (io.nidents == 0) {
        cli_usage_error("psi", "give at least one identifier: --email, --phone or --namedob");
        goto out;
    }
    for (size_t i = 0; i < io.nidents; i++)
        if (io.idents[i].type == BL_IDENT_NAMEDOB && io.idents[i].ncolumns < 2) {
            cli_usage_error("psi", "--namedob needs name column(s) and a date column");
            goto out;
        }
    if (!peer_key) {
        cli_usage_error("psi", "--peer-key is required (the peer's public key is pinned)");
        goto out;
    }
    int learns_rows = po.mode == BL_PSI_BOTH || po.mode == BL_PSI_RECEIVE;
    if (learns_rows && !out) {
        cli_usage_error("psi", "--out FILE is required in mode %s", bl_psi_mode_name(po.mode));
        goto out;
    }
    if (!learns_rows && out) {
        cli_usage_error("psi", "mode %s learns no rows; drop --out", bl_psi_mode_name(po.mode));
        goto out;
    }

    bl_error err = {0};
    uint8_t ppk[BL_PSI_PUBKEY_BYTES];
    bl_psi_identity *me = NULL;
    bl_psi_input *in = NULL;
    bl_psi_result *res = NULL;
    rejects rj = {0};
    bl_status s = bl_psi_pubkey_load(peer_key, ppk, &err);
    if (s == BL_OK)
        s = bl_psi_identity_load(key, key ? NULL : BL_PSI_KEY_ENV, &me, &err);
    if (s == BL_OK && rej_path) {
        s = bl_ofile_open(rej_path, &rj.f, &err);
        if (s == BL_OK)
            fputs("row,problem\n", bl_ofile_stream(rj.f));
    }
    if (s == BL_OK) {
        io.reject = on_reject;
        io.reject_ctx = &rj;
        s = bl_psi_input_load(input, &io, &in, &err);
    }
    if (s == BL_OK && !quiet) {
        bl_psi_input_stats ist;
        bl_psi_input_stats_get(in, &ist);
        fprintf(stderr,
                "blindlink psi: %llu rows, %llu records to match (%llu values rejected, %llu "
                "missing, %llu duplicates)\n",
                (unsigned long long)ist.rows, (unsigned long long)ist.groups,
                (unsigned long long)ist.rejected, (unsigned long long)ist.missing,
                (unsigned long long)ist.duplicates);
    }
    if (s == BL_OK) {
        po.progress = 1;
        po.on_listen = on_listen;
        po.on_listen_ctx = &pf;
        s = bl_psi_run(in, me, ppk, &po, &res, &err);
    }
    bl_psi_identity_free(me);
    me = NULL;
    if (s == BL_OK && learns_rows)
        s = bl_psi_result_write(res, in, out, &err);
    if (s == BL_OK && rj.f) {
        s = bl_ofile_commit(rj.f, &err);
        rj.f = NULL;
    }
    if (s != BL_OK) {
        bl_ofile_abort(rj.f);
        if (pf.written)
            unlink(pf.path);
        rc = cli_fail("psi", &err);
        bl_psi_result_free(res);
        bl_psi_input_free(in);
        goto out;
    }
    bl_psi_stats st;
    bl_psi_result_stats(res, &st);
    if (!quiet) {
        FILE *fp = (out && !strcmp(out, "-")) ? stderr : stdout;
        fprintf(fp, "mode=%s\nown_records=%llu\npeer_records=%llu\n", bl_psi_mode_name(po.mode),
                (unsigned long long)st.own_groups, (unsigned long long)st.peer_groups);
        if (st.learned) {
            fprintf(fp, "intersection=%llu\n", (unsigned long long)st.intersection);
            for (size_t t = 0; t < io.nidents; t++)
                fprintf(fp, "matched_on_%s=%llu\n", bl_ident_type_name(io.idents[t].type),
                        (unsigned long long)st.per_type[t]);
        } else {
            fprintf(fp, "intersection=not-learned\n");
        }
        fprintf(fp, "bytes_sent=%llu\nbytes_received=%llu\nbytes_sent_per_record=%.1f\nseconds=%.2f\nidle_seconds=%.2f\n",
                (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
                st.own_groups ? (double)st.bytes_sent / (double)st.own_groups : 0.0, st.seconds,
                st.idle_seconds);
    }
    bl_psi_result_free(res);
    bl_psi_input_free(in);
    rc = CLI_EXIT_OK;
out:
    for (size_t i = 0; i < BL_PSI_MAX_TYPES; i++)
        free(colbufs[i]);
    return rc;
}
