/* cli/psi.c - placeholder until the 'psi' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_psi(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink psi: not built yet\n");
    return CLI_EXIT_FAIL;
}
