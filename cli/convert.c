/* cli/convert.c - placeholder until the 'convert' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_convert(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink convert: not built yet\n");
    return CLI_EXIT_FAIL;
}
