/* server/audit_key.c - the audit log's Ed25519 signing key (libsodium).
 *
 * Every audit entry and the store's anchor are signed with a key the service
 * holds apart from its data directory, so someone who can write the files
 * cannot extend, rewrite or cut the log unnoticed; an external auditor checks
 * it with the public key alone (`blindlink audit verify --public-key`).
 *
 * Key files are two text lines, a header then 64 hex digits:
 *   secret: "blindlink audit signing key v1" / Ed25519 seed (32 bytes)
 *   public: "blindlink audit public key v1"  / Ed25519 public key
 * The secret key file must be a regular file of mode 0600 (or stricter)
 * outside the data directory; its path comes from --audit-key or the
 * environment variable BLINDLINK_AUDIT_KEY, never its content on argv. The
 * key lives in sodium guarded memory (read-only, wiped on free).
 *
 * The store's meta row 'audit_pub' records the public key in use: a process
 * without the key may not append to a signed log, and a different key is a
 * rotation, written to the log as an "audit.key" entry. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "srv.h"

#define SK_HEADER "blindlink audit signing key v1"
#define PK_HEADER "blindlink audit public key v1"
#define KEYFILE_MAX 512

struct srv_audit_key {
    unsigned char *sk; /* sodium_malloc'd, crypto_sign_SECRETKEYBYTES, read-only */
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char kid[17];
};

void srv_audit_kid(const unsigned char pk[32], char kid[17])
{
    unsigned char d[32];
    crypto_hash_sha256(d, pk, 32);
    srv_hex(d, 8, kid);
}

/* Read "HEADER\n<64 hex>\n" from path into out[32]. The text is read into
 * guarded memory because for a secret key it holds the seed. */
static bl_status read_keyfile(const char *path, const char *header, unsigned char out[32],
                              bl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_error_set(err, BL_EINVAL, "audit key %s: %s", path, strerror(errno));
    char *buf = sodium_malloc(KEYFILE_MAX + 1);
    if (!buf) {
        close(fd);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    ssize_t n = read(fd, buf, KEYFILE_MAX);
    close(fd);
    bl_status rc = BL_OK;
    size_t hl = strlen(header), bin = 0;
    const char *hex_end = NULL;
    if (n < 0 || (size_t)n < hl + 65 || memcmp(buf, header, hl) || buf[hl] != '\n')
        rc = bl_error_set(err, BL_EINVAL, "audit key %s: not a '%s' file (blindlink audit keygen)",
                          path, header);
    else if (sodium_hex2bin(out, 32, buf + hl + 1, 64, NULL, &bin, &hex_end) != 0 || bin != 32)
        rc = bl_error_set(err, BL_EINVAL, "audit key %s: line 2 must be 64 hex digits", path);
    sodium_free(buf);
    return rc;
}

/* The secret key file may not be readable by others nor live in the data
 * directory (whoever can write the data directory must not hold the key). */
static bl_status check_key_place(const char *path, const char *data_dir, bl_error *err)
{
    struct stat sb; /* symlinks followed (secret mounts use them); placement is
                     * judged on the resolved path below */
    if (stat(path, &sb) != 0)
        return bl_error_set(err, BL_EINVAL, "audit key %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return bl_error_set(err, BL_EINVAL, "audit key %s: not a regular file", path);
    if (sb.st_mode & 077)
        return bl_error_set(err, BL_EINVAL,
                            "audit key %s is readable by others (mode %03o): chmod 600 it", path,
                            (unsigned)(sb.st_mode & 0777));
    char kreal[PATH_MAX], dreal[PATH_MAX];
    if (!realpath(path, kreal) || !realpath(data_dir, dreal))
        return bl_error_set(err, BL_EINVAL, "audit key %s: %s", path, strerror(errno));
    size_t dl = strlen(dreal);
    if (!strncmp(kreal, dreal, dl) && (kreal[dl] == '/' || dl == 1))
        return bl_error_set(err, BL_EINVAL,
                            "audit key %s must live outside the data directory %s", path, data_dir);
    return BL_OK;
}

static bl_status meta_get(sqlite3 *db, const char *k, char *out, size_t cap)
{
    out[0] = '\0';
    sqlite3_stmt *s = srv_prep(db, "SELECT v FROM meta WHERE k=?", NULL);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return BL_OK;
}

static bl_status meta_put(sqlite3 *db, const char *k, const char *v, bl_error *err)
{
    sqlite3_stmt *s = srv_prep(db, "INSERT OR REPLACE INTO meta(k,v) VALUES(?,?)", err);
    if (!s)
        return BL_EIO;
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? BL_OK : bl_error_set(err, BL_EIO, "store: %s", sqlite3_errmsg(db));
}

static bl_status load_secret(const char *path, srv_audit_key **out, bl_error *err)
{
    srv_audit_key *k = calloc(1, sizeof *k);
    unsigned char *seed = sodium_malloc(32);
    if (k)
        k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!k || !seed || !k->sk) {
        sodium_free(seed);
        srv_audit_key_free(k);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_status rc = read_keyfile(path, SK_HEADER, seed, err);
    if (rc == BL_OK) {
        crypto_sign_seed_keypair(k->pk, k->sk, seed);
        sodium_mprotect_readonly(k->sk);
        srv_audit_kid(k->pk, k->kid);
    }
    sodium_free(seed);
    if (rc != BL_OK) {
        srv_audit_key_free(k);
        return rc;
    }
    *out = k;
    return BL_OK;
}

bl_status srv_audit_key_attach(bl_store *st, const char *path, int required, int rotate,
                               bl_error *err)
{
    char pub[65];
    if (meta_get(st->conns[0], "audit_pub", pub, sizeof pub) != BL_OK)
        return bl_error_set(err, BL_EIO, "store: cannot read the audit key record");
    snprintf(st->audit_pub, sizeof st->audit_pub, "%s", pub);
    if (!path || !*path) {
        if (pub[0] || required)
            return bl_error_set(err, BL_EINVAL,
                                "%s: no audit signing key: give its file with --audit-key FILE or "
                                "BLINDLINK_AUDIT_KEY=FILE (create one with 'blindlink audit keygen')",
                                pub[0] ? "this store's audit log is signed" : "refusing to start");
        return BL_OK; /* an unsigned log (library use, legacy stores) */
    }
    bl_status rc = check_key_place(path, st->dir, err);
    if (rc == BL_OK)
        rc = load_secret(path, &st->audit_key, err);
    if (rc != BL_OK)
        return rc;
    char hex[65];
    srv_hex(st->audit_key->pk, 32, hex);
    if (!strcmp(pub, hex))
        return BL_OK;
    char old_kid[17] = "";
    unsigned char old_pk[32];
    if (pub[0] && sodium_hex2bin(old_pk, 32, pub, strlen(pub), NULL, NULL, NULL) == 0)
        srv_audit_kid(old_pk, old_kid);
    /* Why a rotation is asked for, not inferred: an `admin` run with a
     * mistyped key path next to the running service flipped the key twice
     * and the auditor's verify reported the log as tampered. */
    if (pub[0] && !rotate) {
        char kid[17];
        snprintf(kid, sizeof kid, "%s", st->audit_key->kid);
        srv_audit_key_free(st->audit_key);
        st->audit_key = NULL;
        return bl_error_set(err, BL_EINVAL,
                            "%s (key id %s) is not this store's audit signing key (key id %s): "
                            "give that key, or start a new key period on purpose with "
                            "--rotate-audit-key",
                            path, kid, old_kid[0] ? old_kid : "?");
    }
    rc = meta_put(st->conns[0], "audit_pub", hex, err);
    if (rc != BL_OK)
        return rc;
    snprintf(st->audit_pub, sizeof st->audit_pub, "%s", hex);
    char why[160];
    if (old_kid[0])
        snprintf(why, sizeof why, "audit signing key changed from key id %s to key id %s",
                 old_kid, st->audit_key->kid);
    else
        snprintf(why, sizeof why, "audit entries signed from here on with key id %s",
                 st->audit_key->kid);
    srv_audit a = {.org = "-", .key = "-", .role = "system", .action = "audit.key",
                   .resource = "audit", .purpose = "-", .allowed = 1, .reason = why};
    return srv_audit_append(st, &a, err);
}

void srv_audit_key_free(srv_audit_key *k)
{
    if (!k)
        return;
    sodium_free(k->sk); /* wipes */
    free(k);
}

const char *srv_audit_key_id(const srv_audit_key *k)
{
    return k->kid;
}

void srv_audit_sign(const srv_audit_key *k, const char *msg, char sig_hex[129])
{
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), k->sk);
    srv_hex(sig, sizeof sig, sig_hex);
}

int srv_audit_sig_ok(const unsigned char pk[32], const char *msg, const char *sig_hex)
{
    unsigned char sig[crypto_sign_BYTES];
    size_t bin = 0;
    if (!sig_hex || strlen(sig_hex) != 2 * crypto_sign_BYTES ||
        sodium_hex2bin(sig, sizeof sig, sig_hex, strlen(sig_hex), NULL, &bin, NULL) != 0 ||
        bin != sizeof sig)
        return 0;
    return crypto_sign_verify_detached(sig, (const unsigned char *)msg, strlen(msg), pk) == 0;
}

bl_status srv_audit_pub_parse_hex(const char *hex, unsigned char pk[32])
{
    size_t bin = 0;
    if (!hex || strlen(hex) != 64 || sodium_hex2bin(pk, 32, hex, 64, NULL, &bin, NULL) != 0 ||
        bin != 32)
        return BL_EINPUT;
    return BL_OK;
}

bl_status bl_audit_pubkey_load(const char *path, unsigned char pk[32], bl_error *err)
{
    return read_keyfile(path, PK_HEADER, pk, err);
}

/* Write `text` to a new file of mode `mode`; refuses to overwrite. */
static bl_status write_new(const char *path, const char *text, mode_t mode, bl_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return bl_error_set(err, errno == EEXIST ? BL_EINVAL : BL_EIO, "%s: %s%s", path,
                            strerror(errno), errno == EEXIST ? " (not overwritten)" : "");
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int ok = w == (ssize_t)len && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok) {
        unlink(path);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return BL_OK;
}

bl_status bl_audit_keygen(const char *secret_path, const char *public_path, char kid[17],
                          bl_error *err)
{
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    unsigned char pk[32];
    unsigned char *seed = sodium_malloc(32), *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    char *text = sodium_malloc(KEYFILE_MAX);
    if (!seed || !sk || !text) {
        sodium_free(seed);
        sodium_free(sk);
        sodium_free(text);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    randombytes_buf(seed, 32);
    crypto_sign_seed_keypair(pk, sk, seed);
    char hex[65];
    memcpy(text, SK_HEADER "\n", sizeof SK_HEADER);
    sodium_bin2hex(text + sizeof SK_HEADER, 65, seed, 32);
    strcat(text, "\n");
    bl_status rc = write_new(secret_path, text, 0600, err);
    sodium_free(seed);
    sodium_free(sk);
    sodium_free(text);
    if (rc != BL_OK)
        return rc;
    srv_hex(pk, 32, hex);
    char pub[128];
    snprintf(pub, sizeof pub, "%s\n%s\n", PK_HEADER, hex);
    rc = write_new(public_path, pub, 0644, err);
    if (rc != BL_OK) {
        unlink(secret_path);
        return rc;
    }
    srv_audit_kid(pk, kid);
    return BL_OK;
}
