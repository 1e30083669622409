/* cli/cmd_admin.c - `blindlink admin`: bootstrap the first administrator, add
 * organisations, issue and revoke API keys, extend the purpose list, list
 * principals. Works on the data directory directly (also while the server
 * runs); every action is appended to the audit log. New keys are printed
 * once on stdout and never stored in clear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#ifdef BL_HAVE_SERVER
#include <blindlink/server.h>
#endif

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blindlink admin --data-dir DIR COMMAND [ARGS]\n\n"
            "Commands:\n"
            "  bootstrap ORG_NAME                       create the operator organisation and the\n"
            "                                           first admin key (only once)\n"
            "  org add NAME [--kind KIND]               add an organisation (hospital, bank, ...)\n"
            "  key add ORG ROLE [--expires-days N]      issue a key; ROLE is admin, data_owner,\n"
            "                                           analyst or auditor; printed once\n"
            "  key revoke KEY_ID                        revoke a key at once\n"
            "  purpose add NAME DESCRIPTION             extend the controlled purpose list\n"
            "  list                                     organisations, keys (no secrets), purposes\n\n"
            "Options:\n"
            "  --data-dir DIR   the service's data directory (or env BLINDLINK_DATA_DIR)\n"
            "  --clock-offset D shift the clock like 'serve' (tests; env BLINDLINK_CLOCK_OFFSET)\n"
            "Environment: BLINDLINK_AUDIT_KEY=FILE, the audit signing key (as for 'serve');\n"
            "required once the store's audit log is signed.\n"
            "Output: 'key add' and 'bootstrap' print the key on the first line of stdout\n"
            "and 'key_id=<id>' on the second; 'org add' prints the organisation id.\n");
}

int cmd_admin(int argc, char **argv)
{
#ifndef BL_HAVE_SERVER
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink admin: built without the server component\n");
    return CLI_EXIT_FAIL;
#else
    const char *dir = getenv("BLINDLINK_DATA_DIR");
    const char *offset = getenv("BLINDLINK_CLOCK_OFFSET");
    const char *kind = NULL, *expires = NULL;
    char *pos[8];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        const char **dst = !strcmp(a, "--data-dir")       ? &dir
                           : !strcmp(a, "--kind")         ? &kind
                           : !strcmp(a, "--expires-days") ? &expires
                           : !strcmp(a, "--clock-offset") ? &offset
                                                          : NULL;
        if (dst) {
            if (i + 1 >= argc)
                return cli_usage_error("admin", "%s needs a value", a);
            *dst = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1] == '-')
            return cli_usage_error("admin", "unknown option '%s'", a);
        if (npos == 8)
            return cli_usage_error("admin", "too many arguments");
        pos[npos++] = argv[i];
    }
    if (!dir)
        return cli_usage_error("admin", "--data-dir is required");
    if (npos == 0)
        return cli_usage_error("admin", "no command given");
    bl_error err = {0};
    if (offset) {
        int64_t secs;
        if (bl_srv_parse_duration(offset, &secs, &err) != BL_OK)
            return cli_usage_error("admin", "clock offset: %s", err.msg);
        bl_srv_clock_set_offset(secs);
    }
    int64_t exp_s = 0;
    if (expires) {
        char *end;
        long d = strtol(expires, &end, 10);
        if (*expires == '\0' || *end || d < 1 || d > 3650)
            return cli_usage_error("admin", "--expires-days: 1..3650, got '%s'", expires);
        exp_s = (int64_t)d * 86400;
    }
    const char *cmd = pos[0], *sub = npos > 1 ? pos[1] : "";
    int want = 0;
    if (!strcmp(cmd, "bootstrap"))
        want = 2;
    else if (!strcmp(cmd, "list"))
        want = 1;
    else if (!strcmp(cmd, "org") && !strcmp(sub, "add"))
        want = 3;
    else if (!strcmp(cmd, "key") && !strcmp(sub, "add"))
        want = 4;
    else if (!strcmp(cmd, "key") && !strcmp(sub, "revoke"))
        want = 3;
    else if (!strcmp(cmd, "purpose") && !strcmp(sub, "add"))
        want = 4;
    else
        return cli_usage_error("admin", "unknown command '%s%s%s'", cmd, npos > 1 ? " " : "",
                               npos > 1 ? sub : "");
    if (npos != want)
        return cli_usage_error("admin", "'%s' takes %d argument(s)", cmd, want - 1);
    bl_store *st = NULL;
    if (bl_store_open(dir, &st, &err) != BL_OK)
        return cli_fail("admin", &err);
    bl_status rc = BL_OK;
    char key[BL_SRV_KEY_MAX], kid[17], id[33];
    if (!strcmp(cmd, "bootstrap")) {
        rc = bl_admin_bootstrap(st, pos[1], key, kid, &err);
        if (rc == BL_OK) {
            printf("%s\nkey_id=%s\n", key, kid);
            fprintf(stderr, "blindlink admin: first admin key for '%s' printed above; it is not "
                            "stored and cannot be shown again\n", pos[1]);
        }
    } else if (!strcmp(cmd, "list")) {
        rc = bl_admin_list(st, stdout, &err);
    } else if (!strcmp(cmd, "org")) {
        rc = bl_admin_org_add(st, pos[2], kind, id, &err);
        if (rc == BL_OK)
            printf("%s\n", id);
    } else if (!strcmp(cmd, "key") && !strcmp(sub, "add")) {
        rc = bl_admin_key_add(st, pos[2], pos[3], exp_s, key, kid, &err);
        if (rc == BL_OK)
            printf("%s\nkey_id=%s\n", key, kid);
    } else if (!strcmp(cmd, "key")) {
        rc = bl_admin_key_revoke(st, pos[2], &err);
        if (rc == BL_OK)
            printf("revoked %s\n", pos[2]);
    } else {
        rc = bl_admin_purpose_add(st, pos[2], pos[3], &err);
        if (rc == BL_OK)
            printf("added purpose %s\n", pos[2]);
    }
    sodium_memzero(key, sizeof key);
    bl_store_close(st);
    if (rc != BL_OK)
        return cli_fail("admin", &err);
    return CLI_EXIT_OK;
#endif
}
