/* cli/match.c - placeholder until the 'match' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_match(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink match: not built yet\n");
    return CLI_EXIT_FAIL;
}
