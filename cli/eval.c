/* cli/eval.c - placeholder until the 'eval' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink eval: not built yet\n");
    return CLI_EXIT_FAIL;
}
