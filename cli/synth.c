/* cli/synth.c - placeholder until the 'synth' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_synth(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink synth: not built yet\n");
    return CLI_EXIT_FAIL;
}
