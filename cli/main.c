/* cli/main.c - the `blindlink` entry point: dispatches to subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    {"match", cmd_match, "compare encodings and solve 1:1 or multi-party matches"},
    {"eval", cmd_eval, "measure precision, recall and F1 of matches against ground truth"},
    {"psi", cmd_psi, "exact private set intersection over TCP (ECDH, ristretto255)"},
    {"keygen", cmd_keygen, "make a long-term identity keypair for psi"},
    {"serve", cmd_serve, "run the linkage service (HTTP API)"},
    {"admin", cmd_admin, "bootstrap administrators, organisations and API keys"},
    {"audit", cmd_audit, "verify the service's hash-chained audit log"},
    {"attack", cmd_attack, "measure re-identification risk: attack your own encodings"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: blindlink <command> [options] [args]\n\n"
                "Privacy-preserving record linkage toolkit.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\nRun 'blindlink <command> --help' for a command's options.\n"
                "Exit codes: 0 ok, 1 runtime failure, 2 usage or input error.\n");
}

int cli_fail(const char *cmd, const bl_error *err)
{
    bl_status s = err ? err->status : BL_EINTERNAL;
    const char *msg = (err && err->msg[0]) ? err->msg : bl_strerror(s);
    fprintf(stderr, "blindlink %s: %s\n", cmd, msg);
    return bl_status_exit_code(s);
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

int cli_parse_threads(const char *s)
{
    if (!strcmp(s, "auto") || !strcmp(s, "0")) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 1024)
        return -1;
    return (int)v;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("blindlink %s\n", bl_version());
        return CLI_EXIT_OK;
    }
    if (bl_init() != BL_OK) {
        fprintf(stderr, "blindlink: cannot initialise libsodium\n");
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "blindlink: unknown command '%s'\n", name);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
