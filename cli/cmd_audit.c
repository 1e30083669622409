/* cli/cmd_audit.c - `blindlink audit verify|keygen`: check the service's
 * hash-chained, Ed25519-signed audit log for edited, deleted, inserted,
 * reordered, forged or cut entries; create the signing key pair. */
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
            "Usage: blindlink audit verify [--public-key FILE]... [--head SEQ:HASH] DATA_DIR\n"
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
            "BLINDLINK_AUDIT_KEY=FILE) and the public key an auditor verifies with.\n");
}

#ifdef BL_HAVE_SERVER
static int audit_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {{"secret-key", required_argument, 0, 's'},
                                             {"public-key", required_argument, 0, 'p'},
                                             {0, 0, 0, 0}};
    const char *sk = NULL, *pk = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's')
            sk = optarg;
        else if (c == 'p')
            pk = optarg;
        else
            return cli_usage_error("audit", "keygen: unknown option");
    }
    if (!sk || !pk || optind < argc)
        return cli_usage_error("audit", "keygen needs --secret-key FILE and --public-key FILE");
    bl_error err = {0};
    char kid[17];
    if (bl_audit_keygen(sk, pk, kid, &err) != BL_OK)
        return cli_fail("audit", &err);
    printf("audit signing key %s written to %s (public key: %s)\n", kid, sk, pk);
    return CLI_EXIT_OK;
}

static int audit_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"public-key", required_argument, 0, 'p'},
                                             {"head", required_argument, 0, 'H'},
                                             {0, 0, 0, 0}};
    const char *keys[8];
    char pin_hash[65] = "";
    bl_audit_verify_opts vo = {.pubkey_files = keys};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'H') {
            /* SEQ:HASH as printed by an earlier verify */
            char *end;
            unsigned long long q = strtoull(optarg, &end, 10);
            if (q == 0 || *end != ':' || strlen(end + 1) != 64)
                return cli_usage_error("audit", "--head: expected SEQ:HASH (64 hex), got '%s'",
                                       optarg);
            vo.pin_seq = q;
            memcpy(pin_hash, end + 1, 65);
            vo.pin_hash = pin_hash;
            continue;
        }
        if (c != 'p')
            return cli_usage_error("audit", "verify: unknown option");
        if (vo.npub == 8)
            return cli_usage_error("audit", "verify: at most 8 --public-key files");
        keys[vo.npub++] = optarg;
    }
    if (optind != argc - 1)
        return cli_usage_error("audit", "expected 'verify [--public-key FILE]... DATA_DIR'");
    bl_error err = {0};
    bl_audit_report rep;
    if (bl_audit_verify_ex(argv[optind], &vo, &rep, &err) != BL_OK) {
        if (err.status == BL_EINVAL)
            return cli_fail("audit", &err);
        fprintf(stderr, "blindlink audit: TAMPERED or unreadable: %s\n", err.msg);
        return err.status == BL_EINPUT ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    printf("audit log intact: %llu entries, head %s, anchor at entry %llu\n",
           (unsigned long long)rep.entries, rep.head_hash, (unsigned long long)rep.anchor_seq);
    printf("head: %llu:%s\n", (unsigned long long)rep.entries, rep.head_hash);
    if (rep.signed_entries && rep.independent)
        printf("every entry and the anchor signed by the public key(s) given\n");
    else if (rep.signed_entries)
        printf("signed, checked against the key the store records (self-check; give "
               "--public-key for an independent check)\n");
    else
        fprintf(stderr, "blindlink audit: warning: the log is not signed: not tamper-evident "
                        "against whoever can write the data directory\n");
    return CLI_EXIT_OK;
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
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "verify"))
        return audit_verify(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "keygen"))
        return audit_keygen(argc - 1, argv + 1);
    return cli_usage_error("audit", "expected 'verify [--public-key FILE]... DATA_DIR' or "
                                    "'keygen --secret-key FILE --public-key FILE'");
#endif
}
