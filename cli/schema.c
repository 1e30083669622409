/* cli/schema.c - placeholder until the 'schema' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_schema(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink schema: not built yet\n");
    return CLI_EXIT_FAIL;
}
