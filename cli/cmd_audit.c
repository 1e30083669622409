/* cli/cmd_audit.c - `blindlink audit verify DIR`: check the service's
 * hash-chained audit log for edited, deleted, inserted or reordered entries. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#ifdef BL_HAVE_SERVER
#include <blindlink/server.h>
#endif

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: blindlink audit verify DATA_DIR\n\n"
                "Verify DATA_DIR/audit.log: every entry's SHA-256 must match its content, each\n"
                "entry must chain to the previous one with consecutive sequence numbers, and the\n"
                "log must reach the anchor kept in the store (so deleting the tail is caught).\n"
                "Exit 0 when intact, 2 when tampering is found, 1 when unreadable.\n");
}

int cmd_audit(int argc, char **argv)
{
#ifndef BL_HAVE_SERVER
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink audit: built without the server component\n");
    return CLI_EXIT_FAIL;
#else
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "verify"))
        return cli_usage_error("audit", "expected 'verify DATA_DIR'");
    bl_error err = {0};
    bl_audit_report rep;
    if (bl_audit_verify(argv[2], &rep, &err) != BL_OK) {
        fprintf(stderr, "blindlink audit: TAMPERED or unreadable: %s\n", err.msg);
        return err.status == BL_EINPUT ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    printf("audit log intact: %llu entries, head %s\n", (unsigned long long)rep.entries,
           rep.head_hash);
    return CLI_EXIT_OK;
#endif
}
