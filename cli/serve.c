/* cli/serve.c - placeholder until the 'serve' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink serve: not built yet\n");
    return CLI_EXIT_FAIL;
}
