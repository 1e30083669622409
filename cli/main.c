/* cli/main.c - the `blindlink` entry point: dispatches to subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
};

static const struct command commands[] = {
    {"encode", cmd_encode, "encode a CSV of personal data into CLKs (clkhash-compatible)"},
    {"schema", cmd_schema, "validate, convert (v1/v2 -> v3) or describe a linkage schema"},
    {"convert", cmd_convert, "convert CLK files between clkhash JSON and blindlink binary"},
    {"synth", cmd_synth, "generate synthetic person records with known ground truth"},
    {"describe", cmd_describe, "describe a CLK file: count, length, popcount statistics"},
    {"match", cmd_match, "compare encodings and solve 1:1 or multi-party matches"},
    {"train", cmd_train, "fit a Fellegi-Sunter model (EM) on field-level encodings"},
    {"explain", cmd_explain, "show each field's comparison level and weight for one pair"},
    {"eval", cmd_eval, "measure precision, recall and F1 of matches against ground truth"},
    {"psi", cmd_psi, "exact private set intersection over TCP (ECDH, ristretto255)"},
    {"keygen", cmd_keygen, "make a long-term identity keypair (psi, bank chat)"},
    {"serve", cmd_serve, "run the linkage service (HTTP API)"},
    {"admin", cmd_admin, "bootstrap administrators, organisations and API keys"},
    {"audit", cmd_audit, "verify the service's hash-chained audit log"},
    {"relay", cmd_relay, "run the bank-chat relay (end-to-end encrypted store and forward)"},
    {"bank", cmd_bank, "run a bank's chat bot against a relay"},
    {"chat", cmd_chat, "chat with your bank, end-to-end encrypted through a relay"},
    {"attack", cmd_attack, "measure re-identification risk: attack your own encodings"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: blindlink <command> [options] [args]\n\n"
                "Privacy-preserving record linkage toolkit.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\nRun 'blindlink help <command>' or 'blindlink <command> --help' for a "
                "command's options.\n"
                "Options every command takes: -h/--help, -V/--version, -q/--quiet,\n"
                "-v/--verbose; where they apply: -o/--output FILE, -j/--threads N,\n"
                "-t/--threshold T, --json; '-' for stdin or stdout.\n"
                "Outputs are checked before any work: an output that is one of the\n"
                "inputs or another output, or whose folder is missing, is refused;\n"
                "so is an input that is a folder, or one file given twice to match\n"
                "or train.\n"
                "Exit codes: 0 ok, 1 runtime failure, 2 usage or input error.\n");
}

int cli_fail_silent;

int cli_fail(const char *cmd, const bl_error *err)
{
    if (cli_fail_silent)
        return bl_status_exit_code(err ? err->status : BL_EINTERNAL);
    bl_status s = err ? err->status : BL_EINTERNAL;
    const char *msg = (err && err->msg[0]) ? err->msg : bl_strerror(s);
    fprintf(stderr, "blindlink %s: %s\n", cmd, msg);
    return bl_status_exit_code(s);
}

bl_status cli_input_status(bl_status st, bl_error *err)
{
    if (st == BL_EIO)
        st = err->status = BL_EINVAL;
    return st;
}

int cli_fail_input(const char *cmd, bl_error *err)
{
    (void)cli_input_status(err->status, err);
    return cli_fail(cmd, err);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "blindlink %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'blindlink %s --help'.\n", cmd);
    return CLI_EXIT_USAGE;
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return &commands[i];
    return NULL;
}

/* `blindlink help [CMD]` = `blindlink CMD --help` */
static int help(int argc, char **argv)
{
    if (argc < 3) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    const struct command *c = find(argv[2]);
    if (!c) {
        fprintf(stderr, "blindlink: unknown command '%s'\n", argv[2]);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    char *hargv[] = {argv[2], (char *)"--help", NULL};
    return c->fn(2, hargv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        return help(1, argv);
    if (!strcmp(name, "help"))
        return help(argc, argv);
    if (!strcmp(name, "--version") || !strcmp(name, "-V") || !strcmp(name, "version")) {
        cli_print_version();
        return CLI_EXIT_OK;
    }
    /* `blindlink CMD -V` for every command, including those whose own
     * parsers do not know the option */
    if (argc == 3 && (!strcmp(argv[2], "-V") || !strcmp(argv[2], "--version")) && find(name)) {
        cli_print_version();
        return CLI_EXIT_OK;
    }
    if (bl_init() != BL_OK) {
        fprintf(stderr, "blindlink: cannot initialise libsodium\n");
        return CLI_EXIT_FAIL;
    }
    const struct command *c = find(name);
    if (c)
        return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "blindlink: unknown command '%s'\n", name);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
