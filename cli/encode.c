/* cli/encode.c - placeholder until the 'encode' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_encode(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink encode: not built yet\n");
    return CLI_EXIT_FAIL;
}
