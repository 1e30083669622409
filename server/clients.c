/* server/clients.c - what the front end keeps per client address, before
 * any authentication: a token bucket (a flood of bad keys from one address
 * is answered 429 without touching the key store; a failed authentication
 * costs SRV_AUTH_FAIL_COST requests), and the count of refused
 * unauthenticated requests, so that a flood writes one audit entry per
 * client per interval (the first SRV_REFUSALS_LOGGED of an interval are
 * logged one by one, the rest as a count). The table is bounded; when it is
 * full the longest-idle address is forgotten (after its counts are logged). */
#include <stdlib.h>
#include <string.h>

#include "srv.h"

#define SRV_CLIENTS_MAX 4096
#define SRV_AUTH_FAIL_COST 10.0
#define SRV_REFUSALS_LOGGED 10

struct srv_client {
    char addr[64];
    double tokens, last;      /* bucket */
    double window;            /* start of the refusal interval */
    unsigned logged;          /* refusals logged one by one in this interval */
    unsigned counted[3];      /* further refusals: 401, 429, other */
};

/* An entry to append once rl_mu is released (appending may wait for the
 * store's write lock; nobody's rate check should wait with it). */
typedef struct pending {
    char why[256], res[96];
} pending;

static void log_pending(srv_ctx *c, pending *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        srv_audit_system(c, "refusals", p[i].res, "-", 0, p[i].why);
}

/* Move the address's counts into *p (1 if there were any); rl_mu held. */
static int take_counts(srv_ctx *c, struct srv_client *k, pending *p)
{
    unsigned n = k->counted[0] + k->counted[1] + k->counted[2];
    if (!n)
        return 0;
    char *why = p->why, *res = p->res;
    snprintf(why, sizeof p->why,
             "%u refusal(s) of unauthenticated requests from client %s within %u s not logged "
             "one by one (401: %u, 429: %u, other: %u)",
             n, k->addr, c->opts.audit_interval_s, k->counted[0], k->counted[1], k->counted[2]);
    snprintf(res, sizeof p->res, "client/%s", k->addr);
    memset(k->counted, 0, sizeof k->counted);
    return 1;
}

/* The entry of `addr`, created if needed; rl_mu held. */
static struct srv_client *find(srv_ctx *c, const char *addr, double now, pending *p, int *np)
{
    size_t idle = 0;
    for (size_t i = 0; i < c->nclients; i++) {
        if (!strcmp(c->clients[i].addr, addr))
            return &c->clients[i];
        if (c->clients[i].last < c->clients[idle].last)
            idle = i;
    }
    struct srv_client *k;
    if (c->nclients >= SRV_CLIENTS_MAX ||
        bli_grow((void **)&c->clients, &c->capclients, c->nclients + 1, sizeof *c->clients, 64)) {
        if (!c->nclients)
            return NULL;
        k = &c->clients[idle];
        *np += take_counts(c, k, p);
    } else {
        k = &c->clients[c->nclients++];
    }
    memset(k, 0, sizeof *k);
    snprintf(k->addr, sizeof k->addr, "%s", addr);
    k->tokens = 4 * c->opts.ip_rate_limit;
    k->last = k->window = now;
    return k;
}

int srv_client_allow(srv_ctx *c, const char *addr, double cost, unsigned *retry_after)
{
    double rate = c->opts.ip_rate_limit, burst = 4 * rate, now = srv_mono_s();
    int ok = 1, np = 0;
    pending p;
    pthread_mutex_lock(&c->rl_mu);
    struct srv_client *k = find(c, addr, now, &p, &np);
    if (k) {
        k->tokens += (now - k->last) * rate;
        if (k->tokens > burst)
            k->tokens = burst;
        k->last = now;
        if (k->tokens >= 1.0 || cost > 1.0)
            k->tokens -= cost; /* a failure may drive it below zero: a longer wait */
        else
            ok = 0;
        if (!ok && retry_after) {
            double wait = (1.0 - k->tokens) / rate;
            *retry_after = wait < 1 ? 1 : (unsigned)(wait + 0.999);
        }
    }
    pthread_mutex_unlock(&c->rl_mu);
    log_pending(c, &p, (size_t)np);
    return ok;
}

void srv_client_auth_failed(srv_ctx *c, const char *addr)
{
    srv_client_allow(c, addr, SRV_AUTH_FAIL_COST, NULL);
}

int srv_client_refusal(srv_ctx *c, const char *addr, int status)
{
    double now = srv_mono_s();
    int log_it = 1, np = 0;
    pending p[2];
    pthread_mutex_lock(&c->rl_mu);
    struct srv_client *k = find(c, addr, now, &p[0], &np);
    if (k) {
        if (now - k->window >= c->opts.audit_interval_s) {
            np += take_counts(c, k, &p[np]);
            k->window = now;
            k->logged = 0;
        }
        if (k->logged < SRV_REFUSALS_LOGGED) {
            k->logged++;
        } else {
            k->counted[status == 401 ? 0 : status == 429 ? 1 : 2]++;
            log_it = 0;
        }
    }
    pthread_mutex_unlock(&c->rl_mu);
    log_pending(c, p, (size_t)np);
    return log_it;
}

void srv_clients_flush(srv_ctx *c, int all)
{
    double now = srv_mono_s();
    pending p[16];
    size_t np;
    do { /* at most 16 entries per pass, appended outside the lock */
        np = 0;
        pthread_mutex_lock(&c->rl_mu);
        for (size_t i = 0; i < c->nclients && np < 16; i++) {
            struct srv_client *k = &c->clients[i];
            if (all || now - k->window >= c->opts.audit_interval_s) {
                np += (size_t)take_counts(c, k, &p[np]);
                k->window = now;
                k->logged = 0;
            }
        }
        pthread_mutex_unlock(&c->rl_mu);
        log_pending(c, p, np);
    } while (np == 16);
}
