/* lib/psi/psi.c - the ECDH PSI protocol on ristretto255 (docs/psi.md).
 *
 * Each side hashes its identifiers to the group (SHA-512 over a
 * domain-separation tag per identifier type, then
 * crypto_core_ristretto255_from_hash), masks them with a fresh secret scalar,
 * and streams them to the peer in a random order, batch by batch. The peer
 * masks them again, hashes the doubly-masked point down to a 96-bit
 * comparison value and, depending on the mode, returns those values in the
 * sender's order (the sender learns its matched rows), in a fresh random
 * order (the sender learns only the count) or not at all. Records with
 * several identifier types carry one slot per type (empty slots hold random
 * dummy points) and are matched one-to-one on the first type, in priority
 * order, that hits. A pthread pool does the group arithmetic. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <blindlink/io.h>
#include <blindlink/psi.h>

#include "core/internal.h"
#include "psi/psi_int.h"
#include "psi/wire.h"

#define PT 32               /* ristretto255 encoding */
#define CMP BL_PSI_CMP_BYTES
#define QUEUE_LIMIT ((size_t)8 << 20)
#define MAX_PEER_RECORDS 200000000ull

static const char *const mode_names[] = {NULL, "both", "receive", "send", "count"};

bl_psi_mode bl_psi_mode_parse(const char *s)
{
    for (int m = BL_PSI_BOTH; m <= BL_PSI_COUNT; m++)
        if (!strcmp(s, mode_names[m]))
            return (bl_psi_mode)m;
    return (bl_psi_mode)0;
}

const char *bl_psi_mode_name(bl_psi_mode m)
{
    return m >= BL_PSI_BOTH && m <= BL_PSI_COUNT ? mode_names[m] : "?";
}

/* ---- worker pool: parallel-for over [0, n) in chunks ---------------------------- */

typedef void (*job_fn)(void *ctx, size_t i0, size_t i1);

typedef struct pool {
    int nthreads;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t cv, done;
    unsigned gen;
    int quit, busy;
    job_fn fn;
    void *ctx;
    size_t n, chunk;
    _Atomic size_t next;
} pool;

static void pool_work(pool *p)
{
    for (;;) {
        size_t i0 = atomic_fetch_add(&p->next, p->chunk);
        if (i0 >= p->n)
            break;
        size_t i1 = i0 + p->chunk < p->n ? i0 + p->chunk : p->n;
        p->fn(p->ctx, i0, i1);
    }
}

static void *pool_main(void *arg)
{
    pool *p = arg;
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        pool_work(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* nthreads total including the caller */
static pool *pool_new(int nthreads)
{
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done, NULL);
    p->th = calloc((size_t)nthreads, sizeof *p->th);
    if (!p->th) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < nthreads - 1; i++) {
        if (pthread_create(&p->th[i], NULL, pool_main, p) != 0)
            break;
        p->nthreads++;
    }
    return p;
}

static void pool_run(pool *p, job_fn fn, void *ctx, size_t n, size_t chunk)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk ? chunk : 1;
    atomic_store(&p->next, 0);
    p->busy = p->nthreads;
    p->gen++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pool_work(p);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void pool_free(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p);
}

/* ---- group arithmetic ------------------------------------------------------------ */

typedef struct session {
    const bl_psi_input *in;
    size_t k;
    uint8_t *scalar; /* guarded, 32 bytes, fresh per session */
    uint32_t *perm;  /* send position -> record */
    crypto_hash_sha512_state tag[BL_PSI_MAX_TYPES];
    uint8_t cmpkey[crypto_generichash_KEYBYTES];
} session;

typedef struct mask_job {
    const session *s;
    uint64_t start;
    uint8_t *out; /* cnt * k * 32 */
    _Atomic int fail;
} mask_job;

static void mask_range(void *ctx, size_t i0, size_t i1)
{
    mask_job *j = ctx;
    const session *s = j->s;
    const bl_psi_input *in = s->in;
    uint8_t h[crypto_hash_sha512_BYTES], pt[PT];
    for (size_t i = i0; i < i1; i++) {
        uint64_t g = s->perm[j->start + i];
        for (size_t t = 0; t < s->k; t++) {
            uint8_t *o = j->out + (i * s->k + t) * PT;
            uint64_t off = in->slot[g * s->k + t];
            if (off == PSI_NO_SLOT) {
                crypto_core_ristretto255_random(o); /* dummy: indistinguishable */
                continue;
            }
            size_t len = (size_t)(uint8_t)in->arena[off] | (size_t)(uint8_t)in->arena[off + 1] << 8;
            crypto_hash_sha512_state st = s->tag[t];
            crypto_hash_sha512_update(&st, (const uint8_t *)in->arena + off + 2, len);
            crypto_hash_sha512_final(&st, h);
            crypto_core_ristretto255_from_hash(pt, h);
            if (crypto_scalarmult_ristretto255(o, s->scalar, pt) != 0)
                atomic_store(&j->fail, 1);
        }
    }
    sodium_memzero(h, sizeof h);
}

typedef struct remask_job {
    const session *s;
    const uint8_t *in; /* elements of 32 bytes */
    uint8_t *out;      /* elements of CMP bytes */
    _Atomic int fail;
} remask_job;

static void remask_range(void *ctx, size_t i0, size_t i1)
{
    remask_job *j = ctx;
    uint8_t q[PT], h[16];
    for (size_t i = i0; i < i1; i++) {
        /* rejects invalid encodings and an identity result */
        if (crypto_scalarmult_ristretto255(q, j->s->scalar, j->in + i * PT) != 0) {
            atomic_store(&j->fail, 1);
            memset(j->out + i * CMP, 0, CMP);
            continue;
        }
        crypto_generichash(h, sizeof h, q, PT, j->s->cmpkey, sizeof j->s->cmpkey);
        memcpy(j->out + i * CMP, h, CMP);
    }
}

/* ---- result ------------------------------------------------------------------------ */

struct bl_psi_result {
    bl_psi_stats st;
    uint64_t n;
    uint8_t *match; /* per own record: 0, or 1 + slot that matched */
};

void bl_psi_result_stats(const bl_psi_result *r, bl_psi_stats *st)
{
    *st = r->st;
}

void bl_psi_result_free(bl_psi_result *r)
{
    if (!r)
        return;
    free(r->match);
    free(r);
}

/* Greedy one-to-one matching by slot priority. Within one slot the values
 * are unique on each side (deduplicated), so the pairs of a slot form a
 * matching; a record already matched on an earlier slot is skipped. Both
 * sides holding the same equality pattern compute the same pairs. */
static bl_status compute_matches(bl_psi_result *res, const uint8_t *own, uint64_t n,
                                 const uint8_t *peer, uint64_t m, size_t k,
                                 const bl_psi_input *in, int know_dummies, bl_error *err)
{
    uint64_t cap = 16;
    while (cap < 2 * m)
        cap <<= 1;
    uint32_t *tab = malloc(cap * sizeof *tab);
    uint8_t *pm = calloc(m ? m : 1, 1);
    if (!tab || !pm) {
        free(tab);
        free(pm);
        return bl_error_set(err, BL_ENOMEM, "out of memory for the match table");
    }
    for (size_t t = 0; t < k; t++) {
        memset(tab, 0, cap * sizeof *tab);
        for (uint64_t jx = 0; jx < m; jx++) {
            if (pm[jx])
                continue;
            uint64_t h = bli_load_le64(peer + (jx * k + t) * CMP) & (cap - 1);
            while (tab[h])
                h = (h + 1) & (cap - 1);
            tab[h] = (uint32_t)(jx + 1);
        }
        for (uint64_t i = 0; i < n; i++) {
            if (res->match[i])
                continue;
            if (know_dummies && in->slot[i * k + t] == PSI_NO_SLOT)
                continue;
            const uint8_t *v = own + (i * k + t) * CMP;
            uint64_t h = bli_load_le64(v) & (cap - 1);
            while (tab[h]) {
                uint64_t jx = tab[h] - 1;
                if (!pm[jx] && !memcmp(peer + (jx * k + t) * CMP, v, CMP)) {
                    pm[jx] = 1;
                    res->match[i] = (uint8_t)(t + 1);
                    res->st.intersection++;
                    res->st.per_type[t]++;
                    break;
                }
                h = (h + 1) & (cap - 1);
            }
        }
    }
    free(tab);
    free(pm);
    return BL_OK;
}

/* ---- the run --------------------------------------------------------------------------- */

static int modes_compatible(bl_psi_mode a, bl_psi_mode b)
{
    if (a == BL_PSI_RECEIVE)
        return b == BL_PSI_SEND;
    if (a == BL_PSI_SEND)
        return b == BL_PSI_RECEIVE;
    return a == b;
}

static void types_text(const unsigned *t, size_t k, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        strncat(buf, bl_ident_type_name((bl_ident_type)t[i]), cap - strlen(buf) - 1);
        if (i + 1 < k)
            strncat(buf, ",", cap - strlen(buf) - 1);
    }
}

static bl_status check_setup(const psi_setup *mine, const psi_setup *peer, bl_error *err)
{
    if (!modes_compatible((bl_psi_mode)mine->mode, (bl_psi_mode)peer->mode))
        return bl_error_set(err, BL_EPROTO,
                            "mode mismatch: this side runs --mode %s, the peer runs --mode %s "
                            "(valid pairs: both/both, count/count, receive/send)",
                            mode_names[mine->mode], mode_names[peer->mode]);
    int same = peer->ntypes == mine->ntypes;
    for (unsigned i = 0; same && i < mine->ntypes; i++)
        same = peer->types[i] == mine->types[i];
    if (!same) {
        char a[64], b[64];
        types_text(mine->types, mine->ntypes, a, sizeof a);
        types_text(peer->types, peer->ntypes, b, sizeof b);
        return bl_error_set(err, BL_EPROTO,
                            "identifier mismatch: this side matches on %s, the peer on %s (same "
                            "types in the same priority order are required)",
                            a, b);
    }
    if (peer->cmp_bytes != mine->cmp_bytes)
        return bl_error_set(err, BL_EPROTO, "peer uses %u-byte comparison values, we use %u",
                            peer->cmp_bytes, mine->cmp_bytes);
    if (peer->email_rules != mine->email_rules)
        return bl_error_set(err, BL_EPROTO,
                            "email normalisation rules differ between the parties "
                            "(--email-rules must be the same on both sides)");
    return BL_OK;
}

typedef struct run_state {
    session s;
    pool *pool;
    psi_chan *ch;
    psi_setup mine, peer;
    int i_learn, peer_learns, count;
    uint64_t n, m;
    uint8_t *own_cmp, *peer_cmp, *hold, *buf;
    size_t bufcap;
    uint64_t own_next, peer_next, ret_next;
    int fin_rx;
    bl_progress *prog;
    uint64_t done_units;
    double idle;
    int test_identity;
} run_state;

static bl_status grow_buf(run_state *r, size_t need, bl_error *err)
{
    if (need <= r->bufcap)
        return BL_OK;
    if (bli_resize((void **)&r->buf, need, 1) != 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory for a batch");
    r->bufcap = need;
    return BL_OK;
}

static bl_status produce_batch(run_state *r, bl_error *err)
{
    size_t k = r->s.k;
    uint64_t cnt = r->n - r->own_next;
    if (cnt > r->mine.batch)
        cnt = r->mine.batch;
    bl_status st = grow_buf(r, PSI_BATCH_HDR + cnt * k * PT, err);
    if (st != BL_OK)
        return st;
    bli_store_le64(r->buf, r->own_next);
    bli_store_le32(r->buf + 8, (uint32_t)cnt);
    mask_job j = {.s = &r->s, .start = r->own_next, .out = r->buf + PSI_BATCH_HDR};
    atomic_init(&j.fail, 0);
    pool_run(r->pool, mask_range, &j, cnt, 64);
    if (atomic_load(&j.fail))
        return bl_error_set(err, BL_ECRYPTO, "masking produced the identity element");
    if (r->test_identity) /* test hook: behave like a malicious peer (docs/psi.md) */
        memset(r->buf + PSI_BATCH_HDR, 0, PT);
    st = psi_chan_queue(r->ch, PSI_MSG_POINTS, r->buf, PSI_BATCH_HDR + cnt * k * PT, err);
    r->own_next += cnt;
    r->done_units += cnt;
    return st;
}

static void shuffle_groups(uint8_t *a, uint64_t n, size_t gsz)
{
    uint8_t tmp[BL_PSI_MAX_TYPES * CMP];
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = i <= UINT32_MAX ? randombytes_uniform((uint32_t)i)
                                     : (((uint64_t)randombytes_random() << 32) |
                                        randombytes_random()) % i;
        if (j == i - 1)
            continue;
        memcpy(tmp, a + (i - 1) * gsz, gsz);
        memcpy(a + (i - 1) * gsz, a + j * gsz, gsz);
        memcpy(a + j * gsz, tmp, gsz);
    }
}

static bl_status handle_points(run_state *r, const uint8_t *p, size_t n, bl_error *err)
{
    size_t k = r->s.k;
    uint64_t start;
    uint32_t cnt;
    const uint8_t *data;
    bl_status st = psi_batch_decode(p, n, k * PT, r->peer.batch, &start, &cnt, &data, err);
    if (st != BL_OK)
        return st;
    if (start != r->peer_next || start + cnt > r->m)
        return bl_error_set(err, BL_EPROTO, "peer sent records %llu..%llu out of order",
                            (unsigned long long)start, (unsigned long long)(start + cnt));
    st = grow_buf(r, PSI_BATCH_HDR + (size_t)cnt * k * CMP, err);
    if (st != BL_OK)
        return st;
    uint8_t *out = r->buf + PSI_BATCH_HDR;
    remask_job j = {.s = &r->s, .in = data, .out = out};
    atomic_init(&j.fail, 0);
    pool_run(r->pool, remask_range, &j, (size_t)cnt * k, 64);
    if (atomic_load(&j.fail))
        return bl_error_set(err, BL_EPROTO,
                            "peer sent an invalid or identity group element (records %llu..%llu)",
                            (unsigned long long)start, (unsigned long long)(start + cnt));
    size_t bytes = (size_t)cnt * k * CMP;
    if (r->i_learn)
        memcpy(r->peer_cmp + start * k * CMP, out, bytes);
    if (r->peer_learns && r->count) {
        memcpy(r->hold + start * k * CMP, out, bytes);
    } else if (r->peer_learns) {
        bli_store_le64(r->buf, start);
        bli_store_le32(r->buf + 8, cnt);
        st = psi_chan_queue(r->ch, PSI_MSG_RETURN, r->buf, PSI_BATCH_HDR + bytes, err);
        if (st != BL_OK)
            return st;
    }
    r->peer_next += cnt;
    r->done_units += cnt;
    if (r->peer_learns && r->count && r->peer_next == r->m) {
        /* PSI-CA: the peer gets its values back in a fresh random order */
        shuffle_groups(r->hold, r->m, k * CMP);
        for (uint64_t s0 = 0; s0 < r->m; s0 += r->peer.batch) {
            uint64_t c = r->m - s0 < r->peer.batch ? r->m - s0 : r->peer.batch;
            st = grow_buf(r, PSI_BATCH_HDR + c * k * CMP, err);
            if (st != BL_OK)
                return st;
            bli_store_le64(r->buf, s0);
            bli_store_le32(r->buf + 8, (uint32_t)c);
            memcpy(r->buf + PSI_BATCH_HDR, r->hold + s0 * k * CMP, c * k * CMP);
            st = psi_chan_queue(r->ch, PSI_MSG_RETURN, r->buf, PSI_BATCH_HDR + c * k * CMP, err);
            if (st != BL_OK)
                return st;
        }
        free(r->hold);
        r->hold = NULL;
    }
    return BL_OK;
}

static bl_status handle_return(run_state *r, const uint8_t *p, size_t n, bl_error *err)
{
    size_t k = r->s.k;
    if (!r->i_learn)
        return bl_error_set(err, BL_EPROTO, "peer sent results although this side does not learn");
    uint64_t start;
    uint32_t cnt;
    const uint8_t *data;
    bl_status st = psi_batch_decode(p, n, k * CMP, r->mine.batch, &start, &cnt, &data, err);
    if (st != BL_OK)
        return st;
    if (start != r->ret_next || start + cnt > r->n)
        return bl_error_set(err, BL_EPROTO, "peer returned records %llu..%llu out of order",
                            (unsigned long long)start, (unsigned long long)(start + cnt));
    if (r->count) {
        memcpy(r->own_cmp + start * k * CMP, data, (size_t)cnt * k * CMP);
    } else {
        for (uint32_t i = 0; i < cnt; i++) /* undo our own shuffle */
            memcpy(r->own_cmp + (uint64_t)r->s.perm[start + i] * k * CMP, data + (size_t)i * k * CMP,
                   k * CMP);
    }
    r->ret_next += cnt;
    r->done_units += cnt;
    return BL_OK;
}

static bl_status handle_msg(run_state *r, unsigned type, const uint8_t *p, size_t n, bl_error *err)
{
    switch (type) {
    case PSI_MSG_PING:
        return BL_OK;
    case PSI_MSG_POINTS:
        if (r->fin_rx)
            break;
        return handle_points(r, p, n, err);
    case PSI_MSG_RETURN:
        if (r->fin_rx)
            break;
        return handle_return(r, p, n, err);
    case PSI_MSG_FIN:
        if (r->peer_next < r->m)
            return bl_error_set(err, BL_EPROTO,
                                "peer finished after sending %llu of its %llu records",
                                (unsigned long long)r->peer_next, (unsigned long long)r->m);
        if (r->i_learn && r->ret_next < r->n)
            return bl_error_set(err, BL_EPROTO,
                                "peer finished after returning %llu of our %llu records",
                                (unsigned long long)r->ret_next, (unsigned long long)r->n);
        r->fin_rx = 1;
        return BL_OK;
    default:
        break;
    }
    return bl_error_set(err, BL_EPROTO, "peer sent an unexpected message (type %u)", type);
}

static bl_status exchange(run_state *r, bl_error *err)
{
    int timeout_ms = psi_chan_timeout_ms(r->ch);
    double idle_since = bl_clock_s();
    for (;;) {
        int want_more = r->peer_next < r->m || (r->i_learn && r->ret_next < r->n);
        int can_produce = r->own_next < r->n && psi_chan_pending(r->ch) < QUEUE_LIMIT;
        if (!want_more && r->own_next == r->n)
            return BL_OK;
        if (can_produce) {
            bl_status st = produce_batch(r, err);
            if (st != BL_OK)
                return st;
            idle_since = bl_clock_s();
        }
        /* drain what has arrived; wait briefly when there is nothing to compute */
        for (int first = 1;; first = 0) {
            unsigned type = 0;
            const uint8_t *p = NULL;
            size_t n = 0;
            int wait = (first && !can_produce) ? 50 : 0;
            double w0 = wait ? bl_clock_s() : 0;
            bl_status st = psi_chan_recv(r->ch, wait, &type, &p, &n, err);
            if (wait && type != PSI_MSG_POINTS)
                r->idle += bl_clock_s() - w0; /* waited (or read only a cheap frame) */
            if (st != BL_OK)
                return st;
            if (type == 0)
                break;
            st = handle_msg(r, type, p, n, err);
            if (st != BL_OK)
                return st;
            idle_since = bl_clock_s();
            if (r->prog)
                bl_progress_update(r->prog, r->done_units);
            if (can_produce && type == PSI_MSG_POINTS)
                break; /* alternate: one batch of ours, one of theirs (returns are cheap) */
        }
        if (r->prog)
            bl_progress_update(r->prog, r->done_units);
        if (!can_produce && (bl_clock_s() - idle_since) * 1000 > timeout_ms)
            return bl_error_set(err, BL_ENET, "peer sent nothing for %d s (timeout)",
                                timeout_ms / 1000);
    }
}

static bl_status finish(run_state *r, bl_error *err)
{
    double w0 = bl_clock_s();
    bl_status st = psi_chan_queue(r->ch, PSI_MSG_FIN, NULL, 0, err);
    if (st == BL_OK)
        st = psi_chan_flush(r->ch, psi_chan_timeout_ms(r->ch), err);
    while (st == BL_OK && !r->fin_rx) {
        unsigned type = 0;
        const uint8_t *p = NULL;
        size_t n = 0;
        st = psi_chan_recv_wait(r->ch, &type, &p, &n, err);
        if (st == BL_OK)
            st = handle_msg(r, type, p, n, err);
        if (st == BL_OK && type != PSI_MSG_FIN)
            st = bl_error_set(err, BL_EPROTO, "peer sent data after the end of the exchange");
    }
    r->idle += bl_clock_s() - w0;
    return st;
}

static bl_status open_channel(const bl_psi_opts *o, const bl_psi_identity *me,
                              const uint8_t *peer_pk, int timeout_ms, psi_chan **ch, bl_error *err)
{
    int fd = -1, role;
    bl_status st;
    if (o->listen) {
        int lfd = -1;
        unsigned port = 0;
        st = psi_listen(o->listen, &lfd, &port, err);
        if (st != BL_OK)
            return st;
        if (o->on_listen)
            o->on_listen(o->on_listen_ctx, port);
        st = psi_accept(lfd, timeout_ms, &fd, err);
        close(lfd);
        role = PSI_ROLE_SERVER;
    } else {
        st = psi_connect(o->connect, timeout_ms, &fd, err);
        role = PSI_ROLE_CLIENT;
    }
    if (st != BL_OK)
        return st;
    return psi_chan_open(fd, role, me, peer_pk, timeout_ms, ch, err);
}

/* This session's secrets: a fresh ristretto255 scalar (never reused), the
 * per-type hash-to-group tags, the comparison key, and a CSPRNG shuffle of
 * the order in which our records are sent. */
static void session_secrets(run_state *r, const bl_psi_input *in)
{
    crypto_core_ristretto255_scalar_random(r->s.scalar); /* fresh, never reused */
    for (size_t t = 0; t < in->k; t++) {
        char tag[64];
        int tl = snprintf(tag, sizeof tag, "blindlink-psi-v1/%s", bl_ident_type_name(in->types[t]));
        crypto_hash_sha512_init(&r->s.tag[t]);
        crypto_hash_sha512_update(&r->s.tag[t], (const uint8_t *)tag, (size_t)tl + 1);
    }
    memset(r->s.cmpkey, 0, sizeof r->s.cmpkey);
    memcpy(r->s.cmpkey, "blindlink-psi-v1 compare", 24);
    for (uint64_t i = 0; i < in->n; i++) /* Fisher-Yates, CSPRNG */
        r->s.perm[i] = (uint32_t)i;
    for (uint64_t i = in->n; i > 1; i--) {
        uint32_t j = randombytes_uniform((uint32_t)i);
        uint32_t tmp = r->s.perm[i - 1];
        r->s.perm[i - 1] = r->s.perm[j];
        r->s.perm[j] = tmp;
    }
}

/* Send our setup, receive the peer's, and check that they agree. */
static bl_status exchange_setup(run_state *r, const bl_psi_input *in, const bl_psi_opts *o,
                                uint32_t batch, bl_error *err)
{
    r->mine.mode = o->mode;
    r->mine.ntypes = (unsigned)in->k;
    for (size_t t = 0; t < in->k; t++)
        r->mine.types[t] = in->types[t];
    r->mine.cmp_bytes = CMP;
    r->mine.email_rules = in->email_rules;
    r->mine.ngroups = in->n;
    r->mine.batch = batch;
    uint8_t sb[PSI_SETUP_BYTES];
    psi_setup_encode(&r->mine, sb);
    bl_status st = psi_chan_send(r->ch, PSI_MSG_SETUP, sb, sizeof sb, err);
    unsigned type = 0;
    const uint8_t *p = NULL;
    size_t pn = 0;
    if (st == BL_OK)
        st = psi_chan_recv_wait(r->ch, &type, &p, &pn, err);
    if (st == BL_OK && type != PSI_MSG_SETUP)
        st = bl_error_set(err, BL_EPROTO, "peer sent message type %u instead of its setup", type);
    if (st == BL_OK)
        st = psi_setup_decode(p, pn, &r->peer, err);
    if (st == BL_OK)
        st = check_setup(&r->mine, &r->peer, err);
    if (st == BL_OK && r->peer.ngroups > MAX_PEER_RECORDS)
        st = bl_error_set(err, BL_EPROTO, "peer announced %llu records (limit %llu)",
                          (unsigned long long)r->peer.ngroups, MAX_PEER_RECORDS);
    return st;
}

/* Buffers for the comparison values this side needs for its mode. */
static bl_status alloc_comparisons(run_state *r, bl_psi_result *res, size_t k, bl_error *err)
{
    if (r->i_learn) {
        r->own_cmp = calloc(r->n ? r->n * k : 1, CMP);
        r->peer_cmp = calloc(r->m ? r->m * k : 1, CMP);
        res->match = calloc(r->n ? r->n : 1, 1);
        if (!r->own_cmp || !r->peer_cmp || !res->match)
            return bl_error_set(err, BL_ENOMEM, "out of memory for comparison values");
    }
    if (r->peer_learns && r->count && r->m) {
        r->hold = malloc(r->m * k * CMP);
        if (!r->hold)
            return bl_error_set(err, BL_ENOMEM, "out of memory for comparison values");
    }
    return BL_OK;
}

/* After a complete exchange: counters, statistics and (if we learn) the
 * matches. */
static bl_status fill_result(run_state *r, bl_psi_result *res, bl_psi_input *in, bl_error *err)
{
    psi_chan_counters(r->ch, &res->st.bytes_sent, &res->st.bytes_received);
    psi_chan_free(r->ch);
    r->ch = NULL;
    res->n = r->n;
    res->st.own_groups = r->n;
    res->st.peer_groups = r->m;
    res->st.learned = r->i_learn;
    res->st.learned_rows = r->i_learn && !r->count;
    bl_status st = BL_OK;
    if (r->i_learn) {
        st = compute_matches(res, r->own_cmp, r->n, r->peer_cmp, r->m, in->k, in, !r->count, err);
        if (r->count) {
            free(res->match);
            res->match = NULL;
        }
    }
    res->st.idle_seconds = r->idle;
    return st;
}

bl_status bl_psi_run(bl_psi_input *in, const bl_psi_identity *me,
                     const uint8_t peer_pk[BL_PSI_PUBKEY_BYTES], const bl_psi_opts *o,
                     bl_psi_result **out, bl_error *err)
{
    *out = NULL;
    if (!o || (!o->listen == !o->connect))
        return bl_error_set(err, BL_EINVAL, "give exactly one of listen and connect");
    if (o->mode < BL_PSI_BOTH || o->mode > BL_PSI_COUNT)
        return bl_error_set(err, BL_EINVAL, "unknown mode");
    if (in->used)
        return bl_error_set(err, BL_ESTATE,
                            "this input was already used in a session; load it again (a fresh "
                            "secret is drawn per session, never reused)");
    if (in->n > UINT32_MAX - 1)
        return bl_error_set(err, BL_ELIMIT, "more than 2^32-2 records");
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    in->used = 1;
    int timeout_ms = (o->timeout_s > 0 ? o->timeout_s : 120) * 1000;
    uint32_t batch = o->batch ? o->batch : 4096;
    if (batch > 65536)
        batch = 65536;
    double t0 = bl_clock_s();
    run_state r;
    memset(&r, 0, sizeof r);
    r.s.in = in;
    r.s.k = in->k;
    r.test_identity = getenv("BL_PSI_TEST_IDENTITY") != NULL;
    r.n = in->n;
    bl_psi_result *res = calloc(1, sizeof *res);
    r.s.scalar = sodium_malloc(crypto_core_ristretto255_SCALARBYTES);
    r.s.perm = malloc((in->n ? in->n : 1) * sizeof *r.s.perm);
    int nth = o->threads > 0 ? o->threads : bli_ncpus();
    r.pool = pool_new(nth);
    bl_status st = BL_OK;
    if (!res || !r.s.scalar || !r.s.perm || !r.pool) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto done;
    }
    session_secrets(&r, in);
    st = open_channel(o, me, peer_pk, timeout_ms, &r.ch, err);
    if (st != BL_OK)
        goto done;
    st = exchange_setup(&r, in, o, batch, err);
    if (st != BL_OK)
        goto abort;
    r.m = r.peer.ngroups;
    r.i_learn = o->mode != BL_PSI_SEND;
    r.peer_learns = o->mode != BL_PSI_RECEIVE;
    r.count = o->mode == BL_PSI_COUNT;
    st = alloc_comparisons(&r, res, in->k, err);
    if (st != BL_OK)
        goto abort;
    int ping = timeout_ms / 4;
    st = psi_chan_start_writer(r.ch, ping < 200 ? 200 : ping > 5000 ? 5000 : ping, err);
    if (st != BL_OK)
        goto abort;
    if (o->progress)
        r.prog = bl_progress_new("psi", r.n + r.m + (r.i_learn ? r.n : 0));
    st = exchange(&r, err);
    if (st == BL_OK)
        st = finish(&r, err);
    bl_progress_finish(r.prog);
    r.prog = NULL;
    if (st != BL_OK)
        goto abort;
    st = fill_result(&r, res, in, err);
    res->st.seconds = bl_clock_s() - t0;
    goto done;
abort:
    if (r.ch && (st == BL_EPROTO || st == BL_ENOMEM || st == BL_ELIMIT || st == BL_ECRYPTO ||
                 st == BL_EINTERNAL))
        psi_chan_abort(r.ch, err ? err->msg : bl_strerror(st));
done:
    bl_progress_finish(r.prog);
    psi_chan_free(r.ch);
    pool_free(r.pool);
    if (r.s.scalar)
        sodium_free(r.s.scalar);
    free(r.s.perm);
    free(r.own_cmp);
    free(r.peer_cmp);
    free(r.hold);
    free(r.buf);
    if (st != BL_OK) {
        bl_psi_result_free(res);
        return st;
    }
    *out = res;
    return BL_OK;
}

/* ---- output ---------------------------------------------------------------------------------- */

bl_status bl_psi_result_write(const bl_psi_result *r, const bl_psi_input *in, const char *path,
                              bl_error *err)
{
    if (!r->st.learned_rows || !r->match)
        return bl_error_set(err, BL_ESTATE, "this side did not learn which rows matched");
    bl_csv_reader *rd = NULL;
    bl_status st = bl_csv_open(in->path, &in->csv, &rd, err);
    if (st != BL_OK)
        return st;
    bl_ofile *f = NULL;
    st = bl_ofile_open(path, &f, err);
    if (st != BL_OK) {
        bl_csv_free(rd);
        return st;
    }
    FILE *fp = bl_ofile_stream(f);
    bl_csv_row row;
    st = bl_csv_next(rd, &row, err); /* header */
    if (st != BL_OK)
        goto fail;
    const char *idname = in->id_column ? in->id_column : "row";
    bl_csv_write_field(fp, idname, strlen(idname));
    fputs(",matched_on\n", fp);
    uint64_t rowidx = 0, g = 0;
    for (;;) {
        st = bl_csv_next(rd, &row, err);
        if (st == BL_EOF)
            break;
        if (st != BL_OK)
            goto fail;
        while (g < r->n && in->row[g] < rowidx)
            g++;
        if (g < r->n && in->row[g] == rowidx && r->match[g]) {
            if (in->id_col >= 0) {
                if ((size_t)in->id_col >= row.nfields) {
                    st = bl_error_set(err, BL_EINPUT, "%s:%llu: input changed since loading",
                                      in->path, (unsigned long long)row.line);
                    goto fail;
                }
                bl_csv_write_field(fp, row.fields[in->id_col], row.lens[in->id_col]);
            } else {
                fprintf(fp, "%llu", (unsigned long long)(rowidx + 1));
            }
            fprintf(fp, ",%s\n", bl_ident_type_name(in->types[r->match[g] - 1]));
        }
        rowidx++;
    }
    if (rowidx != in->st.rows) {
        st = bl_error_set(err, BL_EINPUT, "%s: input changed since loading (%llu rows, was %llu)",
                          in->path, (unsigned long long)rowidx, (unsigned long long)in->st.rows);
        goto fail;
    }
    bl_csv_free(rd);
    return bl_ofile_commit(f, err);
fail:
    bl_csv_free(rd);
    bl_ofile_abort(f);
    return st;
}
