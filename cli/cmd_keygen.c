/* cli/cmd_keygen.c - `blindlink keygen`: make a long-term PSI identity keypair.
 * The private key goes to a 0600 file, the public key to FILE.pub (or
 * --pub) and stdout, for the other party to pin. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <blindlink/psi.h>

#include "cli.h"

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: blindlink keygen --out FILE [--pub FILE] [--force]\n\n"
                "Make a long-term identity keypair for 'blindlink psi' or a bank's chat bot\n"
                "('blindlink bank --key FILE'; customers pin FILE.pub with --bank-key).\n\n"
                "  -o, --output FILE  private key file, created with mode 0600 (alias --out)\n"
                "  --pub FILE   public key file (default FILE.pub); the public key is also\n"
                "               printed on stdout. Give it to the other party: they pin it\n"
                "               with --peer-key.\n"
                "  --force      overwrite existing key files (the private key and --pub)\n"
                "  -q, --quiet  do not print the public key\n"
                "  -v, --verbose  accepted as by every command (nothing to add here)\n"
                "  -V, --version  print the version;  -h, --help  this help\n\n"
                "The private key may also be passed to 'blindlink psi' in the environment\n"
                "variable " BL_PSI_KEY_ENV " (the file's content).\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option lo[] = {{"out", required_argument, NULL, 'o'},
                                       {"pub", required_argument, NULL, 'p'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"force", no_argument, NULL, 'f'},
                                       CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE,
                                       CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
                                       {NULL, 0, NULL, 0}};
    const char *out = NULL, *pub = NULL;
    int force = 0, c;
    cli_common co = {0};
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":o:p:fqvVh", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'p': pub = optarg; break;
        case 'f': force = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: {
            int rc = cli_common_option("keygen", c, optarg, &co);
            if (rc == CLI_OPT_EXIT)
                return CLI_EXIT_OK;
            if (rc == CLI_OPT_UNHANDLED)
                rc = cli_usage_error("keygen", "unknown option '%s'", cli_current_arg());
            if (rc != CLI_OPT_OK)
                return rc;
        }
        }
    }
    if (optind < argc)
        return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    if (!out)
        return cli_usage_error("keygen", "--out FILE is required");
    if (!strcmp(out, "-"))
        return cli_usage_error("keygen", "the private key must go to a file, not stdout");
    struct stat st;
    if (!force && stat(out, &st) == 0)
        return cli_usage_error("keygen", "'%s' exists; refusing to overwrite a key (use --force)",
                               out);
    char *pubpath = NULL;
    if (!pub) {
        size_t n = strlen(out) + 5;
        pubpath = malloc(n);
        if (!pubpath)
            return CLI_EXIT_FAIL;
        snprintf(pubpath, n, "%s.pub", out);
        pub = pubpath;
    }
    /* the public key must not land on the private one, nor on any other
     * key file (a private key given as --pub was replaced, exit 0) */
    const cli_path outs[] = {{"--out", out}, {"--pub", pub}};
    int rc = cli_check_outputs("keygen", outs, 2, NULL, 0);
    if (rc == CLI_EXIT_OK && !force && stat(pub, &st) == 0)
        rc = cli_usage_error("keygen", "'%s' exists; refusing to overwrite it (use --force)", pub);
    if (rc != CLI_EXIT_OK) {
        free(pubpath);
        return rc;
    }
    bl_error err = {0};
    bl_psi_identity *id = NULL;
    bl_status s = bl_psi_identity_generate(&id, &err);
    if (s == BL_OK)
        s = bl_psi_identity_save(id, out, pub, &err);
    if (s != BL_OK) {
        bl_psi_identity_free(id);
        free(pubpath);
        return cli_fail("keygen", &err);
    }
    uint8_t pk[BL_PSI_PUBKEY_BYTES];
    char text[BL_PSI_PUBKEY_TEXT];
    bl_psi_identity_public(id, pk);
    bl_psi_pubkey_format(pk, text);
    bl_psi_identity_free(id);
    if (!co.quiet) {
        printf("%s\n", text);
        fprintf(stderr, "blindlink keygen: private key in %s (mode 0600), public key in %s\n",
                out, pub);
    }
    free(pubpath);
    return CLI_EXIT_OK;
}
