/* cli/cmd_audit.c - `blindlink audit verify|keygen`: check the service's
 * hash-chained, Ed25519-signed audit log for edited, deleted, inserted,
 * reordered, forged or cut entries; create the signing key pair. One
 * getopt pass over the whole command line (the shared parser of
 * cli_common.c), so the common options go before or after the action. */
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
            "Usage: blindlink audit verify [options] [--public-key FILE]... [--head SEQ:HASH] "
            "DATA_DIR\n"
            "       blindlink audit keygen --secret-key FILE --public-key FILE\n\n"
            "verify: check DATA_DIR/audit.log. Every entry's SHA-256 must match its content,\n"
            "each entry must chain to the previous one with consecutive sequence numbers, the\n"
            "store's anchor (blindlink.db) must be present, reached by the log and at most one\n"
            "entry behind it. With --public-key (an auditor's independent check; repeat it\n"
            "for the keys before and after a rotation) every entry and the anchor must carry\n"
            "a valid Ed25519 signature by one of the keys. Without it a signed log is checked\n"
            "against the key the store records, which whoever can write the files could\n"
            "replace: a self-check only. --head SEQ:HASH (the 'head:' line an earlier verify\n"
            "printed) also requires the log to still hold that entry, so rolling the whole\n"
            "directory back to an earlier state is caught.\n"
            "Exit 0 when intact, 2 when tampering is found, 1 when unreadable.\n\n"
            "keygen: create the service's audit signing key (mode 0600; keep it outside the\n"
            "data directory, give it to 'serve' and 'admin' with --audit-key FILE or\n"
            "BLINDLINK_AUDIT_KEY=FILE) and the public key an auditor verifies with.\n\n"
            "Options:\n"
            "  --public-key FILE  verify: an auditor's public key (up to 8); keygen: where\n"
            "                     to write the public key\n"
            "  --head SEQ:HASH    verify: the log must still hold this entry\n"
            "  --secret-key FILE  keygen: where to write the signing key (mode 0600)\n"
            "  --json             verify: print the report as JSON on stdout, also when\n"
            "                     tampering is found (intact, entries, head, pin,\n"
            "                     anchor_seq, signed_entries, independent, first_bad, error)\n"
            "  -o, --output FILE  verify: write the --json report to FILE instead\n"
            "  -q, --quiet        print nothing but errors; the exit status tells\n"
            "  -v, --verbose      verify: also print the signed-entry count and keys given\n"
            "  -V, --version      print the version;  -h, --help  this help\n");
}

#ifdef BL_HAVE_SERVER
typedef struct audit_args {
    cli_common co;
    const char *sk, *keys[8];
    size_t nkeys;
    bl_audit_verify_opts vo;
    char pin_hash[65];
} audit_args;

static int audit_keygen(const audit_args *a)
{
    if (!a->sk || a->nkeys != 1)
        return cli_usage_error("audit", "keygen needs --secret-key FILE and --public-key FILE");
    if (a->co.json || a->co.output || a->vo.pin_seq)
        return cli_usage_error("audit", "keygen takes no --json, --output or --head");
    bl_error err = {0};
    char kid[17];
    if (bl_audit_keygen(a->sk, a->keys[0], kid, &err) != BL_OK)
        return cli_fail("audit", &err);
    if (!a->co.quiet)
        printf("audit signing key %s written to %s (public key: %s)\n", kid, a->sk, a->keys[0]);
    return CLI_EXIT_OK;
}

static json_t *report_json(const bl_audit_report *rep, int ok, const bl_error *err)
{
    json_t *o = json_object();
    char pin[96];
    snprintf(pin, sizeof pin, "%llu:%s", (unsigned long long)rep->entries, rep->head_hash);
    json_object_set_new(o, "intact", json_boolean(ok));
    json_object_set_new(o, "entries", json_integer((json_int_t)rep->entries));
    json_object_set_new(o, "head", json_string(rep->head_hash));
    json_object_set_new(o, "pin", ok ? json_string(pin) : json_null());
    json_object_set_new(o, "anchor_seq", json_integer((json_int_t)rep->anchor_seq));
    json_object_set_new(o, "signed_entries", json_integer((json_int_t)rep->signed_entries));
    json_object_set_new(o, "independent", json_boolean(rep->independent));
    json_object_set_new(o, "first_bad",
                        rep->first_bad ? json_integer((json_int_t)rep->first_bad) : json_null());
    json_object_set_new(o, "error", ok ? json_null() : json_string(err->msg));
    return o;
}

static void print_report(const audit_args *a, const bl_audit_report *rep)
{
    if (a->co.quiet)
        return;
    printf("audit log intact: %llu entries, head %s, anchor at entry %llu\n",
           (unsigned long long)rep->entries, rep->head_hash, (unsigned long long)rep->anchor_seq);
    printf("head: %llu:%s\n", (unsigned long long)rep->entries, rep->head_hash);
    if (rep->signed_entries && rep->independent)
        printf("every entry and the anchor signed by the public key(s) given\n");
    else if (rep->signed_entries)
        printf("signed, checked against the key the store records (self-check; give "
               "--public-key for an independent check)\n");
    if (a->co.verbose) {
        printf("signed entries checked: %llu\n", (unsigned long long)rep->signed_entries);
        for (size_t i = 0; i < a->nkeys; i++)
            printf("public key: %s\n", a->keys[i]);
    }
}

static int audit_verify(audit_args *a, const char *dir)
{
    if (a->sk)
        return cli_usage_error("audit", "verify takes no --secret-key");
    if (a->co.output && !a->co.json)
        return cli_usage_error("audit", "--output FILE is for the --json report");
    a->vo.pubkey_files = a->keys;
    a->vo.npub = a->nkeys;
    bl_error err = {0};
    bl_audit_report rep;
    memset(&rep, 0, sizeof rep);
    bl_status st = bl_audit_verify_ex(dir, &a->vo, &rep, &err);
    if (st != BL_OK && err.status == BL_EINVAL)
        return cli_fail("audit", &err);
    if (a->co.json) {
        /* the report is written even when tampering is found: that is its use */
        json_t *o = report_json(&rep, st == BL_OK, &err);
        bl_error werr = {0};
        bl_status ws = cli_json_write(o, a->co.output ? a->co.output : "-", &werr);
        json_decref(o);
        if (ws != BL_OK)
            return cli_fail("audit", &werr);
    }
    if (st != BL_OK) {
        /* a key the auditor did not give is not tampering: say which it is */
        const int unknown_key = strstr(err.msg, "which is not among the public keys given") != NULL;
        fprintf(stderr, "blindlink audit: %s: %s\n",
                unknown_key ? "NOT VERIFIED (signed by a key not given; after a rotation give "
                              "every public key of the log's life with --public-key)"
                            : "TAMPERED or unreadable",
                err.msg);
        return err.status == BL_EINPUT ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    if (!a->co.json)
        print_report(a, &rep);
    if (!rep.signed_entries && !a->co.quiet)
        fprintf(stderr, "blindlink audit: warning: the log is not signed: not tamper-evident "
                        "against whoever can write the data directory\n");
    return CLI_EXIT_OK;
}

/* --head SEQ:HASH as printed by an earlier verify */
static int parse_head(audit_args *a, const char *s)
{
    char *end;
    unsigned long long q = strtoull(s, &end, 10);
    if (*s < '1' || *s > '9' || q == 0 || *end != ':' || strlen(end + 1) != 64)
        return cli_usage_error("audit", "--head: expected SEQ:HASH (64 hex), got '%s'", s);
    a->vo.pin_seq = q;
    memcpy(a->pin_hash, end + 1, 65);
    a->vo.pin_hash = a->pin_hash;
    return CLI_OPT_OK;
}
#endif

int cmd_audit(int argc, char **argv)
{
#ifndef BL_HAVE_SERVER
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink audit: built without the server component\n");
    return CLI_EXIT_FAIL;
#else
    static const struct option lo[] = {{"public-key", required_argument, 0, 'p'},
                                       {"head", required_argument, 0, 'H'},
                                       {"secret-key", required_argument, 0, 's'},
                                       CLI_LONGOPT_JSON,
                                       CLI_LONGOPT_OUTPUT,
                                       CLI_LONGOPT_QUIET,
                                       CLI_LONGOPT_VERBOSE,
                                       CLI_LONGOPT_VERSION,
                                       CLI_LONGOPT_HELP,
                                       {0, 0, 0, 0}};
    audit_args a;
    memset(&a, 0, sizeof a);
    int c, rc;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":o:qvVh", lo, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (a.nkeys == 8)
                return cli_usage_error("audit", "at most 8 --public-key files");
            a.keys[a.nkeys++] = optarg;
            break;
        case 's': a.sk = optarg; break;
        case 'H':
            if ((rc = parse_head(&a, optarg)) != CLI_OPT_OK)
                return rc;
            break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default:
            rc = cli_common_option("audit", c, optarg, &a.co);
            if (rc == CLI_OPT_EXIT)
                return CLI_EXIT_OK;
            if (rc == CLI_OPT_UNHANDLED)
                rc = cli_usage_error("audit", "unknown option '%s'", cli_current_arg());
            if (rc != CLI_OPT_OK)
                return rc;
        }
    }
    const char *action = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    if (!strcmp(action, "verify")) {
        if (nargs != 1)
            return cli_usage_error("audit", "expected 'verify [--public-key FILE]... DATA_DIR'");
        return audit_verify(&a, argv[optind + 1]);
    }
    if (!strcmp(action, "keygen")) {
        if (nargs != 0)
            return cli_usage_error("audit", "keygen: unexpected argument '%s'", argv[optind + 1]);
        return audit_keygen(&a);
    }
    return cli_usage_error("audit", "expected 'verify [--public-key FILE]... DATA_DIR' or "
                                    "'keygen --secret-key FILE --public-key FILE'");
#endif
}
