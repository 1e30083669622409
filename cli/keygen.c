/* cli/keygen.c - placeholder until the 'keygen' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_keygen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink keygen: not built yet\n");
    return CLI_EXIT_FAIL;
}
