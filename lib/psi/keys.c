/* lib/psi/keys.c - long-term PSI identity keys: generation, the private key
 * file (mode 0600, "blpsi-sec:<hex seed>"), the public key text form
 * ("blpsi-pub:<hex>"), loading from a file or an environment variable into
 * guarded memory, and parsing of pinned peer keys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include <blindlink/io.h>
#include <blindlink/psi.h>

#include "core/internal.h"
#include "psi/wire.h"

#define SEC_PREFIX "blpsi-sec:"
#define PUB_PREFIX "blpsi-pub:"

bl_status bl_psi_identity_generate(bl_psi_identity **out, bl_error *err)
{
    *out = NULL;
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    bl_psi_identity *id = sodium_malloc(sizeof *id);
    if (!id)
        return bl_error_set(err, BL_ENOMEM, "cannot allocate guarded memory for the key");
    randombytes_buf(id->seed, sizeof id->seed);
    crypto_sign_seed_keypair(id->pk, id->sk, id->seed);
    *out = id;
    return BL_OK;
}

void bl_psi_identity_free(bl_psi_identity *id)
{
    if (id)
        sodium_free(id); /* sodium_free wipes */
}

void bl_psi_identity_public(const bl_psi_identity *id, uint8_t pk[BL_PSI_PUBKEY_BYTES])
{
    memcpy(pk, id->pk, BL_PSI_PUBKEY_BYTES);
}

void bl_psi_pubkey_format(const uint8_t pk[BL_PSI_PUBKEY_BYTES], char out[BL_PSI_PUBKEY_TEXT])
{
    memcpy(out, PUB_PREFIX, 10);
    sodium_bin2hex(out + 10, 65, pk, BL_PSI_PUBKEY_BYTES);
}

/* Parse "<prefix>HEX" or bare HEX (surrounding whitespace ignored) of
 * exactly `n` bytes. */
static int parse_hex_key(const char *s, size_t len, const char *prefix, uint8_t *outb, size_t n)
{
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    size_t pl = strlen(prefix);
    if (len >= pl && !memcmp(s, prefix, pl)) {
        s += pl;
        len -= pl;
    }
    if (len != 2 * n)
        return -1;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_hex2bin(outb, n, s, len, NULL, &got, &end) != 0 || got != n || end != s + len)
        return -1;
    return 0;
}

bl_status bl_psi_identity_load(const char *file, const char *env_name, bl_psi_identity **out,
                               bl_error *err)
{
    *out = NULL;
    if (file) {
        struct stat st;
        if (stat(file, &st) != 0)
            return bl_error_set(err, BL_EINVAL, "private key file '%s': %s", file,
                                strerror(errno));
        if (st.st_mode & 077)
            return bl_error_set(err, BL_EINVAL,
                                "private key file '%s' is accessible by group or others "
                                "(mode %04o); run chmod 600 on it",
                                file, (unsigned)(st.st_mode & 07777));
    }
    bl_secret sec = {0};
    bl_status s = bl_secret_load(file, env_name, &sec, err);
    if (s != BL_OK)
        return s;
    bl_psi_identity *id = sodium_malloc(sizeof *id);
    if (!id) {
        bl_secret_free(&sec);
        return bl_error_set(err, BL_ENOMEM, "cannot allocate guarded memory for the key");
    }
    if (parse_hex_key((const char *)sec.bytes, sec.len, SEC_PREFIX, id->seed, sizeof id->seed)) {
        bl_secret_free(&sec);
        sodium_free(id);
        return bl_error_set(err, BL_EINVAL,
                            "private key from %s%s is not a blindlink psi key "
                            "(expected '" SEC_PREFIX "' and 64 hex digits, as written by "
                            "'blindlink keygen')",
                            file ? "file " : "environment variable ", file ? file : env_name);
    }
    bl_secret_free(&sec);
    crypto_sign_seed_keypair(id->pk, id->sk, id->seed);
    *out = id;
    return BL_OK;
}

static bl_status write_text(const char *path, const char *text, bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status s = bl_ofile_open(path, &f, err);
    if (s != BL_OK)
        return s;
    if (fputs(text, bl_ofile_stream(f)) == EOF) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}

bl_status bl_psi_identity_save(const bl_psi_identity *id, const char *secret_path,
                               const char *public_path, bl_error *err)
{
    /* the text form lives in guarded memory too */
    char *sec = sodium_malloc(10 + 65 + 1);
    if (!sec)
        return bl_error_set(err, BL_ENOMEM, "cannot allocate guarded memory");
    memcpy(sec, SEC_PREFIX, 10);
    sodium_bin2hex(sec + 10, 65, id->seed, sizeof id->seed);
    sec[74] = '\n';
    sec[75] = '\0';
    /* bl_ofile creates its temp file with mode 0600 and renames it */
    bl_status s = write_text(secret_path, sec, err);
    sodium_free(sec);
    if (s != BL_OK || !public_path)
        return s;
    char pub[BL_PSI_PUBKEY_TEXT + 1];
    bl_psi_pubkey_format(id->pk, pub);
    strcat(pub, "\n");
    s = write_text(public_path, pub, err);
    if (s == BL_OK && strcmp(public_path, "-") != 0)
        chmod(public_path, 0644); /* public: readable is fine, best effort */
    return s;
}

bl_status bl_psi_pubkey_load(const char *spec, uint8_t pk[BL_PSI_PUBKEY_BYTES], bl_error *err)
{
    if (!spec || !*spec)
        return bl_error_set(err, BL_EINVAL, "no peer public key given");
    if (parse_hex_key(spec, strlen(spec), PUB_PREFIX, pk, BL_PSI_PUBKEY_BYTES) == 0)
        return BL_OK;
    char *buf = NULL;
    size_t len = 0;
    bl_error e2 = {0};
    if (bl_read_file(spec, 4096, &buf, &len, &e2) != BL_OK)
        return bl_error_set(err, BL_EINVAL,
                            "peer key '%s' is neither a public key (blpsi-pub:<64 hex>) nor a "
                            "readable key file (%s)",
                            spec, e2.msg);
    char *nl = memchr(buf, '\n', len);
    size_t l1 = nl ? (size_t)(nl - buf) : len;
    int bad = parse_hex_key(buf, l1, PUB_PREFIX, pk, BL_PSI_PUBKEY_BYTES);
    free(buf);
    if (bad)
        return bl_error_set(err, BL_EINVAL,
                            "%s: not a public key file (expected 'blpsi-pub:' and 64 hex digits)",
                            spec);
    return BL_OK;
}
