/* cli/audit.c - placeholder until the 'audit' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_audit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink audit: not built yet\n");
    return CLI_EXIT_FAIL;
}
