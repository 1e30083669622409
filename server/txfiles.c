/* server/txfiles.c - file changes that follow the request's commit. A
 * request that changes an encodings file (an upload, a withdrawal or
 * erasure rewrite, a party leaving, a project purged) runs inside one SQLite
 * transaction with its audit entry; if that transaction rolls back (the
 * audit entry could not be written, the commit failed), the files must stay
 * as they were. So a new or rewritten file is written under its pending
 * name (".<org>.clk.pending" beside the final one) and renamed into place
 * only after COMMIT succeeded; a removal is deferred the same way; on
 * rollback the pending file is deleted and the old file is untouched.
 * finish_request (http.c) applies the list under enc_mu, so no run reads a
 * file between the commit and the rename. A crash between the two is
 * repaired at start (srv_files_recover): a pending file whose SHA-256 is
 * the committed one is renamed into place, any other pending file and any
 * encodings file the store no longer records are removed. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srv.h"

void srv_file_pending_path(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    snprintf(buf, cap, "%.*s.%s.pending", (int)dir, path, path + dir);
}

/* The directory of `path`, fsynced so that a rename in it is durable. */
static void sync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort, as for bl_ofile */
        close(fd);
    }
}

static void apply_one(srv_ctx *c, const srv_fileop *op, int committed)
{
    switch (op->kind) {
    case SRV_FOP_RENAME:
        if (!committed) {
            unlink(op->tmp);
        } else if (rename(op->tmp, op->path) != 0) {
            /* the store records the new file: srv_files_recover finishes it */
            fprintf(stderr, "blindlink serve: cannot rename %s into place (repaired at the next "
                            "start)\n",
                    op->tmp);
        } else {
            sync_dir_of(op->path);
        }
        break;
    case SRV_FOP_UNLINK:
        if (committed && unlink(op->path) == 0)
            sync_dir_of(op->path);
        break;
    case SRV_FOP_RMPROJECT:
        if (committed)
            srv_enc_remove_project(c->st, op->path);
        break;
    }
}

/* The pending operation on `path`, or NULL. */
static srv_fileop *find_op(srv_req *r, const char *path)
{
    for (int i = 0; r && i < r->nfops; i++)
        if (!strcmp(r->fops[i].path, path))
            return &r->fops[i];
    return NULL;
}

const char *srv_file_current(srv_req *r, const char *path, char *buf, size_t cap)
{
    srv_fileop *op = find_op(r, path);
    if (!op)
        return path;
    if (op->kind != SRV_FOP_RENAME)
        return NULL; /* removed in this transaction */
    snprintf(buf, cap, "%s", op->tmp);
    return buf;
}

bl_status srv_file_after_commit(srv_ctx *c, srv_req *r, int kind, const char *path,
                                bl_error *err)
{
    char tmp[4096];
    srv_file_pending_path(path, tmp, sizeof tmp);
    srv_fileop now = {.kind = kind};
    snprintf(now.path, sizeof now.path, "%s", path);
    snprintf(now.tmp, sizeof now.tmp, "%s", tmp);
    if (!r || !r->tx) { /* no request transaction: it is committed already */
        pthread_mutex_lock(&c->enc_mu);
        apply_one(c, &now, 1);
        pthread_mutex_unlock(&c->enc_mu);
        return BL_OK;
    }
    srv_fileop *op = find_op(r, path);
    if (op) { /* a later change to the same file replaces the earlier one */
        if (op->kind == SRV_FOP_RENAME && kind != SRV_FOP_RENAME)
            unlink(op->tmp);
        op->kind = kind;
        return BL_OK;
    }
    if (bli_grow((void **)&r->fops, &r->capfops, (size_t)r->nfops + 1, sizeof *r->fops, 4) != 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    r->fops[r->nfops++] = now;
    return BL_OK;
}

void srv_fileops_finish(srv_req *r, int committed)
{
    for (int i = 0; i < r->nfops; i++)
        apply_one(r->srv, &r->fops[i], committed);
    r->nfops = 0;
    free(r->fops);
    r->fops = NULL;
    r->capfops = 0;
}

/* The SHA-256 the store records for (pid, org)'s upload into sha; 0 if none. */
static int recorded_sha(sqlite3 *db, const char *pid, const char *org, char sha[65])
{
    sqlite3_stmt *s = srv_prep(db, "SELECT sha256 FROM uploads WHERE project_id=? AND org_id=?",
                               NULL);
    int found = 0;
    if (s) {
        sqlite3_bind_text(s, 1, pid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, org, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
            snprintf(sha, 65, "%s", (const char *)sqlite3_column_text(s, 0));
            found = 1;
        }
        sqlite3_finalize(s);
    }
    return found;
}

/* One file of a project directory; counts what was done. */
static void recover_file(sqlite3 *db, const char *dir, const char *pid, const char *name,
                         unsigned *renamed, unsigned *removed)
{
    char p[4800], org[256], sha[65], got[65];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t n = strlen(name);
    bl_error e = {0};
    if (name[0] == '.' && n > 13 && !strcmp(name + n - 12, ".clk.pending") && n - 13 < sizeof org) {
        /* ".<org>.clk.pending": committed (its hash is the recorded one) or not */
        snprintf(org, sizeof org, "%.*s", (int)(n - 13), name + 1);
        if (recorded_sha(db, pid, org, sha) && srv_file_sha256(p, got, &e) == BL_OK &&
            !strcmp(sha, got)) {
            char final[4800];
            snprintf(final, sizeof final, "%s/%s.clk", dir, org);
            *renamed += rename(p, final) == 0;
        } else {
            *removed += unlink(p) == 0;
        }
    } else if (name[0] == '.') { /* a temporary file of an interrupted write */
        *removed += unlink(p) == 0;
    } else if (n > 4 && !strcmp(name + n - 4, ".clk") && n - 4 < sizeof org) {
        /* an encodings file whose removal was committed but not done */
        snprintf(org, sizeof org, "%.*s", (int)(n - 4), name);
        if (!recorded_sha(db, pid, org, sha))
            *removed += unlink(p) == 0;
    }
}

void srv_files_recover(srv_ctx *c, unsigned *renamed, unsigned *removed)
{
    *renamed = *removed = 0;
    DIR *d = opendir(c->st->enc_dir);
    if (!d)
        return;
    sqlite3 *db = srv_db_acquire(c->st);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "spool-", 6))
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", c->st->enc_dir, de->d_name);
        DIR *pd = opendir(p);
        struct dirent *fe;
        while (pd && (fe = readdir(pd)))
            if (strcmp(fe->d_name, ".") && strcmp(fe->d_name, ".."))
                recover_file(db, p, de->d_name, fe->d_name, renamed, removed);
        if (pd)
            closedir(pd);
        rmdir(p); /* only if nothing is left */
    }
    srv_db_release(c->st, db);
    closedir(d);
}
