/* cli/cmd_admin.c - `blindlink admin`: bootstrap the first administrator, add
 * organisations, issue and revoke API keys, extend the purpose list, list
 * principals. Works on the data directory directly (also while the server
 * runs); every action is appended to the audit log. New keys are printed
 * once (stdout or -o FILE, created 0600) and never stored in clear. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <blindlink/io.h>
#include "cli.h"
#ifdef BL_HAVE_SERVER
#include <blindlink/server.h>
#endif

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: blindlink admin --data-dir DIR [options] COMMAND [ARGS]\n\n"
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
        "  --data-dir DIR     the service's data directory (or env BLINDLINK_DATA_DIR)\n"
        "  --kind KIND        org add: the organisation's kind\n"
        "  --expires-days N   key add: the key expires after N days (1..3650)\n"
        "  --clock-offset D   shift the clock like 'serve' (tests; env BLINDLINK_CLOCK_OFFSET)\n"
        "  --audit-key FILE   the audit signing key (as for 'serve'; also env\n"
        "                     BLINDLINK_AUDIT_KEY); required once the store's log is signed\n"
        "  --rotate-audit-key the --audit-key is a new key on purpose (else a key other\n"
        "                     than the store's is refused)\n"
        "  --json             print the result as one JSON object: bootstrap and key add\n"
        "                     {key, key_id, org, role}, org add {id, name, kind}, key revoke\n"
        "                     {revoked}, purpose add {purpose}, list {organisations, keys,\n"
        "                     purposes}\n"
        "  -o, --output FILE  write the result (a new key included) to FILE instead of\n"
        "                     stdout, atomically and with mode 0600\n"
        "  -q, --quiet        no notes on stderr\n"
        "  -v, --verbose      say on stderr which data directory and action were used\n"
        "  -V, --version      print the version;  -h, --help  this help\n\n"
        "Output: 'key add' and 'bootstrap' print the key on the first line of stdout\n"
        "and 'key_id=<id>' on the second; 'org add' prints the organisation id.\n");
}

#ifdef BL_HAVE_SERVER
typedef struct admin_args {
    cli_common co;
    const char *dir, *offset, *kind, *expires, *audit_key;
    char *pos[8];
    int npos, rotate;
    int64_t exp_s;
} admin_args;

enum {
    OPT_DATA_DIR = CLI_OPT_FIRST_PRIVATE,
    OPT_KIND,
    OPT_EXPIRES,
    OPT_CLOCK,
    OPT_AUDIT_KEY,
    OPT_ROTATE
};

/* Number of positional words (the command included) `cmd sub` takes, 0 if unknown. */
static int admin_arity(const char *cmd, const char *sub)
{
    if (!strcmp(cmd, "bootstrap"))
        return 2;
    if (!strcmp(cmd, "list"))
        return 1;
    if (!strcmp(cmd, "org") && !strcmp(sub, "add"))
        return 3;
    if (!strcmp(cmd, "key") && !strcmp(sub, "add"))
        return 4;
    if (!strcmp(cmd, "key") && !strcmp(sub, "revoke"))
        return 3;
    if (!strcmp(cmd, "purpose") && !strcmp(sub, "add"))
        return 4;
    return 0;
}

static int admin_parse(int argc, char **argv, admin_args *a)
{
    static const struct option lo[] = {{"data-dir", required_argument, 0, OPT_DATA_DIR},
                                       {"kind", required_argument, 0, OPT_KIND},
                                       {"expires-days", required_argument, 0, OPT_EXPIRES},
                                       {"clock-offset", required_argument, 0, OPT_CLOCK},
                                       {"audit-key", required_argument, 0, OPT_AUDIT_KEY},
                                       {"rotate-audit-key", no_argument, 0, OPT_ROTATE},
                                       CLI_LONGOPT_JSON,
                                       CLI_LONGOPT_OUTPUT,
                                       CLI_LONGOPT_QUIET,
                                       CLI_LONGOPT_VERBOSE,
                                       CLI_LONGOPT_VERSION,
                                       CLI_LONGOPT_HELP,
                                       {0, 0, 0, 0}};
    int c;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":o:qvVh", lo, NULL)) != -1) {
        switch (c) {
        case OPT_DATA_DIR: a->dir = optarg; break;
        case OPT_KIND: a->kind = optarg; break;
        case OPT_EXPIRES: a->expires = optarg; break;
        case OPT_CLOCK: a->offset = optarg; break;
        case OPT_AUDIT_KEY: a->audit_key = optarg; break;
        case OPT_ROTATE: a->rotate = 1; break;
        case 'h': usage(stdout); return CLI_OPT_EXIT;
        default: {
            int rc = cli_common_option("admin", c, optarg, &a->co);
            if (rc == CLI_OPT_UNHANDLED)
                rc = cli_usage_error("admin", "unknown option '%s'", cli_current_arg());
            if (rc != CLI_OPT_OK)
                return rc;
        }
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->npos == 8)
            return cli_usage_error("admin", "too many arguments");
        a->pos[a->npos++] = argv[i];
    }
    if (!a->dir)
        return cli_usage_error("admin", "--data-dir is required");
    if (a->npos == 0)
        return cli_usage_error("admin", "no command given");
    const char *cmd = a->pos[0], *sub = a->npos > 1 ? a->pos[1] : "";
    int want = admin_arity(cmd, sub);
    if (!want)
        return cli_usage_error("admin", "unknown command '%s%s%s'", cmd, a->npos > 1 ? " " : "",
                               sub);
    if (a->npos != want)
        return cli_usage_error("admin", "'%s' takes %d argument(s)", cmd, want - 1);
    if (a->expires) {
        uint64_t d;
        if (cli_parse_u64(a->expires, 1, 3650, &d))
            return cli_usage_error("admin", "--expires-days: 1..3650, got '%s'", a->expires);
        a->exp_s = (int64_t)d * 86400;
    }
    return CLI_OPT_OK;
}

/* A new key: two text lines, or {key, key_id, org, role} with --json. */
static void print_key(FILE *fp, const admin_args *a, const char *key, const char *kid,
                      const char *org, const char *role)
{
    if (!a->co.json) {
        fprintf(fp, "%s\nkey_id=%s\n", key, kid);
        return;
    }
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s}", "key", key, "key_id", kid, "org", org, "role", role);
    json_dumpf(o, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', fp);
    /* jansson copied the key: wipe its copy before freeing */
    char *k = (char *)json_string_value(json_object_get(o, "key"));
    if (k)
        sodium_memzero(k, strlen(k));
    json_decref(o);
}

/* One line of text, or {jkey: value} with --json. */
static void print_one(FILE *fp, const admin_args *a, const char *jkey, const char *value,
                      const char *text)
{
    if (!a->co.json) {
        fprintf(fp, "%s %s\n", text, value);
        return;
    }
    json_t *o = json_pack("{s:s}", jkey, value);
    json_dumpf(o, fp, JSON_INDENT(2));
    fputc('\n', fp);
    json_decref(o);
}

static bl_status admin_do(bl_store *st, const admin_args *a, FILE *fp, bl_error *err)
{
    char *const *pos = a->pos;
    char key[BL_SRV_KEY_MAX] = "", kid[17], id[33];
    bl_status rc;
    if (!strcmp(pos[0], "bootstrap")) {
        rc = bl_admin_bootstrap(st, pos[1], key, kid, err);
        if (rc == BL_OK)
            print_key(fp, a, key, kid, pos[1], "admin");
        if (rc == BL_OK && !a->co.quiet)
            fprintf(stderr,
                    "blindlink admin: first admin key for '%s' %s; it is not stored and "
                    "cannot be shown again\n",
                    pos[1], a->co.output ? "written to the output file" : "printed above");
    } else if (!strcmp(pos[0], "list")) {
        rc = a->co.json ? bl_admin_list_json(st, fp, err) : bl_admin_list(st, fp, err);
    } else if (!strcmp(pos[0], "org")) {
        rc = bl_admin_org_add(st, pos[2], a->kind, id, err);
        if (rc == BL_OK && a->co.json) {
            json_t *o = json_pack("{s:s, s:s, s:s?}", "id", id, "name", pos[2], "kind", a->kind);
            json_dumpf(o, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', fp);
            json_decref(o);
        } else if (rc == BL_OK) {
            fprintf(fp, "%s\n", id);
        }
    } else if (!strcmp(pos[0], "key") && !strcmp(pos[1], "add")) {
        rc = bl_admin_key_add(st, pos[2], pos[3], a->exp_s, key, kid, err);
        if (rc == BL_OK)
            print_key(fp, a, key, kid, pos[2], pos[3]);
    } else if (!strcmp(pos[0], "key")) {
        rc = bl_admin_key_revoke(st, pos[2], err);
        if (rc == BL_OK)
            print_one(fp, a, "revoked", pos[2], "revoked");
    } else {
        rc = bl_admin_purpose_add(st, pos[2], pos[3], err);
        if (rc == BL_OK)
            print_one(fp, a, "purpose", pos[2], "added purpose");
    }
    sodium_memzero(key, sizeof key);
    return rc;
}
#endif

int cmd_admin(int argc, char **argv)
{
#ifndef BL_HAVE_SERVER
    (void)argc;
    (void)argv;
    fprintf(stderr, "blindlink admin: built without the server component\n");
    return CLI_EXIT_FAIL;
#else
    admin_args a;
    memset(&a, 0, sizeof a);
    a.dir = getenv("BLINDLINK_DATA_DIR");
    a.offset = getenv("BLINDLINK_CLOCK_OFFSET");
    int rc = admin_parse(argc, argv, &a);
    if (rc == CLI_OPT_EXIT)
        return CLI_EXIT_OK;
    if (rc != CLI_OPT_OK)
        return rc;
    bl_error err = {0};
    if (a.offset) {
        int64_t secs;
        if (bl_srv_parse_duration(a.offset, &secs, &err) != BL_OK)
            return cli_usage_error("admin", "clock offset: %s", err.msg);
        bl_srv_clock_set_offset(secs);
    }
    if (a.co.verbose)
        fprintf(stderr, "blindlink admin: %s%s%s on %s\n", a.pos[0], a.npos > 1 ? " " : "",
                a.npos > 1 ? a.pos[1] : "", a.dir);
    bl_store *st = NULL;
    if (bl_store_open_keyed(a.dir, a.audit_key, a.rotate, &st, &err) != BL_OK)
        return cli_fail("admin", &err);
    /* through bl_ofile: a file gets the whole result or nothing, mode 0600 */
    bl_ofile *of = NULL;
    bl_status s = bl_ofile_open(a.co.output ? a.co.output : "-", &of, &err);
    if (s == BL_OK) {
        s = admin_do(st, &a, bl_ofile_stream(of), &err);
        if (s == BL_OK)
            s = bl_ofile_commit(of, &err);
        else
            bl_ofile_abort(of);
    }
    bl_store_close(st);
    if (s != BL_OK)
        return cli_fail("admin", &err);
    return CLI_EXIT_OK;
#endif
}
