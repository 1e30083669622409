/* server/tls.c - native TLS for the service (libmicrohttpd over GnuTLS) and
 * the listening policy: plain HTTP only on a loopback address unless the
 * operator says --insecure-http (health and bank linkage crosses networks
 * between organisations; a key or a consent decision must not travel in the
 * clear). The certificate and key are PEM files handed to libmicrohttpd in
 * memory; the private key is held in sodium guarded memory and wiped when
 * the daemon has stopped. Protocols: TLS 1.2 and 1.3 only (GnuTLS priority
 * string), nothing older. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "srv.h"

#define TLS_PEM_MAX (1u << 20)

/* GnuTLS priorities: its secure defaults, minus every protocol version but
 * TLS 1.3 and 1.2 (SSL 3, TLS 1.0/1.1 refused at the handshake). */
const char srv_tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    }
    return 0;
}

bl_status srv_listen_policy(const bl_server_opts *o, const struct sockaddr *sa, bl_error *err)
{
    if ((o->tls_cert != NULL) != (o->tls_key != NULL))
        return bl_error_set(err, BL_EINVAL, "--tls-cert and --tls-key go together");
    if (o->tls_cert || is_loopback(sa) || o->insecure_http)
        return BL_OK;
    return bl_error_set(err, BL_EINVAL,
                        "refusing plain HTTP on %s, which is not a loopback address: give "
                        "--tls-cert FILE --tls-key FILE (or put a TLS proxy in front and say "
                        "--insecure-http)",
                        o->listen);
}

/* Read a PEM file into guarded memory (NUL-terminated). */
static bl_status read_pem(const char *path, int secret, char **out, bl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_error_set(err, BL_EINVAL, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        (unsigned long long)sb.st_size > TLS_PEM_MAX) {
        close(fd);
        return bl_error_set(err, BL_EINVAL, "%s: not a PEM file of at most %u bytes", path,
                            TLS_PEM_MAX);
    }
    if (secret && (sb.st_mode & 077)) {
        close(fd);
        return bl_error_set(err, BL_EINVAL, "TLS key %s is readable by others (mode %03o): chmod 600 it",
                            path, (unsigned)(sb.st_mode & 0777));
    }
    char *buf = sodium_malloc((size_t)sb.st_size + 1);
    if (!buf) {
        close(fd);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (got != (size_t)sb.st_size || !strstr(buf, "-----BEGIN ")) {
        sodium_free(buf);
        return bl_error_set(err, BL_EINVAL, "%s: not a PEM file", path);
    }
    *out = buf;
    return BL_OK;
}

bl_status srv_tls_load(const bl_server_opts *o, srv_tls *t, bl_error *err)
{
    memset(t, 0, sizeof *t);
    if (!o->tls_cert)
        return BL_OK;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return bl_error_set(err, BL_EINVAL,
                            "this libmicrohttpd was built without HTTPS support (GnuTLS)");
    bl_status rc = read_pem(o->tls_cert, 0, &t->cert, err);
    if (rc == BL_OK)
        rc = read_pem(o->tls_key, 1, &t->key, err);
    if (rc != BL_OK)
        srv_tls_free(t);
    return rc;
}

void srv_tls_free(srv_tls *t)
{
    sodium_free(t->cert);
    sodium_free(t->key);
    t->cert = t->key = NULL;
}
