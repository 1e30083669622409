/* cli/admin.c - placeholder until the 'admin' subcommand lands (replace this file). */
#include <stdio.h>
#include "cli.h"

int cmd_admin(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink admin: not built yet\n");
    return CLI_EXIT_FAIL;
}
