/* cli/cli.h - shared declarations of the blindlink command-line front end.
 * Every subcommand lives in its own file cli/<name>.c and exposes
 * `int cmd_<name>(int argc, char **argv)` where argv[0] is the subcommand
 * name; it returns the process exit code (0 ok, 1 runtime failure, 2 usage
 * or input error). The CLI uses only the public API in include/blindlink/. */
#ifndef BLINDLINK_CLI_H
#define BLINDLINK_CLI_H

#include <blindlink/common.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cmd_encode(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_psi(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_attack(int argc, char **argv);

/** Print "blindlink <cmd>: <message>" to stderr; returns exit code for `err`. */
int cli_fail(const char *cmd, const bl_error *err);

/** Print "blindlink <cmd>: <formatted>\nTry 'blindlink <cmd> --help'." and
 *  return CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) BL_PRINTF(2, 3);

/** Parse a thread count option ("0"/"auto" = all cores). Returns -1 on error. */
int cli_parse_threads(const char *s);

#endif
