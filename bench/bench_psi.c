/* bench/bench_psi.c - end-to-end PSI benchmark on loopback: two real
 * processes (fork), N x N email records with a given overlap (default
 * 1M x 1M, 50%), mode both. Reports per party wall and CPU seconds,
 * elements/s per CPU second, bytes sent per element, and the efficiency
 * against the raw libsodium floor measured in the same run on one core:
 * SHA-512 + crypto_core_ristretto255_from_hash + 2 x
 * crypto_scalarmult_ristretto255 per element (the unavoidable work of one
 * party per element).
 *
 * Usage: bench_psi [-n N] [-t THREADS_PER_PARTY] [-o OVERLAP] [-d DIR] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <blindlink/psi.h>
#include <blindlink/io.h>

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* one party's floor work per element, single thread; returns elements per
 * CPU second (CPU time, so that other load on a shared machine does not
 * count against the floor any more than against the parties) */
static double floor_rate(double seconds, double *mult_rate)
{
    uint8_t k[32], h[64], p[32], q[32], r[32];
    crypto_core_ristretto255_scalar_random(k);
    char buf[64];
    double t0 = cpu_s();
    long n = 0;
    while (cpu_s() - t0 < seconds) {
        for (int i = 0; i < 64; i++, n++) {
            int l = snprintf(buf, sizeof buf, "user%ld@example.com", n);
            crypto_hash_sha512(h, (const uint8_t *)buf, (unsigned long long)l);
            crypto_core_ristretto255_from_hash(p, h);
            if (crypto_scalarmult_ristretto255(q, k, p) != 0 ||
                crypto_scalarmult_ristretto255(r, k, q) != 0)
                abort();
        }
    }
    double rate = (double)n / (cpu_s() - t0);
    t0 = cpu_s();
    long m = 0;
    crypto_core_ristretto255_random(p);
    while (cpu_s() - t0 < seconds / 2) {
        for (int i = 0; i < 64; i++, m++) {
            if (crypto_scalarmult_ristretto255(q, k, p) != 0)
                abort();
            memcpy(p, q, 32);
        }
    }
    *mult_rate = (double)m / (cpu_s() - t0);
    return rate;
}

static int write_csv(const char *path, long from, long n)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fprintf(fp, "id,email\n");
    for (long i = from; i < from + n; i++)
        fprintf(fp, "r%ld,User.%ld@Example.com\n", i, i);
    return fclose(fp);
}

typedef struct report {
    int ok;
    double load_s, run_s;
    bl_psi_stats st;
    char msg[256];
} report;

static void on_listen(void *ctx, unsigned port)
{
    int fd = *(int *)ctx;
    if (write(fd, &port, sizeof port) != sizeof port)
        _exit(3);
}

static void party(const char *csv, const bl_psi_identity *me, const uint8_t *peer_pk, int listen,
                  int port_fd, int threads, int out_fd)
{
    report rep;
    memset(&rep, 0, sizeof rep);
    bl_error err = {0};
    bl_psi_input_opts io;
    memset(&io, 0, sizeof io);
    io.nidents = 1;
    io.idents[0].type = BL_IDENT_EMAIL;
    io.idents[0].ncolumns = 1;
    io.idents[0].columns[0] = "email";
    io.id_column = "id";
    bl_psi_input *in = NULL;
    bl_psi_result *res = NULL;
    double t0 = bl_clock_s();
    bl_status s = bl_psi_input_load(csv, &io, &in, &err);
    rep.load_s = bl_clock_s() - t0;
    char addr[64];
    bl_psi_opts po;
    memset(&po, 0, sizeof po);
    po.mode = BL_PSI_BOTH;
    po.threads = threads;
    po.timeout_s = 600;
    if (listen) {
        po.listen = "127.0.0.1:0";
        po.on_listen = on_listen;
        po.on_listen_ctx = &port_fd;
    } else {
        unsigned port = 0;
        if (read(port_fd, &port, sizeof port) != sizeof port)
            _exit(3);
        snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
        po.connect = addr;
    }
    t0 = bl_clock_s();
    if (s == BL_OK)
        s = bl_psi_run(in, me, peer_pk, &po, &res, &err);
    rep.run_s = bl_clock_s() - t0;
    if (s == BL_OK) {
        bl_psi_result_stats(res, &rep.st);
        rep.ok = 1;
    } else {
        snprintf(rep.msg, sizeof rep.msg, "%.200s", err.msg);
    }
    if (write(out_fd, &rep, sizeof rep) != sizeof rep)
        _exit(3);
    bl_psi_result_free(res);
    bl_psi_input_free(in);
    _exit(s == BL_OK ? 0 : 1);
}

int main(int argc, char **argv)
{
    long n = 1000000;
    int threads = 0;
    double overlap = 0.5;
    const char *dir = "/tmp";
    int c;
    while ((c = getopt(argc, argv, "n:t:o:d:")) != -1) {
        switch (c) {
        case 'n': n = atol(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'o': overlap = atof(optarg); break;
        case 'd': dir = optarg; break;
        default:
            fprintf(stderr, "usage: bench_psi [-n N] [-t THREADS] [-o OVERLAP] [-d DIR]\n");
            return 2;
        }
    }
    if (n < 1 || overlap < 0 || overlap > 1 || bl_init() != BL_OK)
        return 2;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0)
        threads = (int)ncpu;
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/bench_psi_a.%d.csv", dir, (int)getpid());
    snprintf(pb, sizeof pb, "%s/bench_psi_b.%d.csv", dir, (int)getpid());
    long shift = (long)((double)n * (1.0 - overlap));
    if (write_csv(pa, 0, n) || write_csv(pb, shift, n)) {
        fprintf(stderr, "bench_psi: cannot write inputs in %s\n", dir);
        return 1;
    }
    double mult1 = 0, mult2 = 0;
    double floor1 = floor_rate(2.0, &mult1);

    bl_psi_identity *ia = NULL, *ib = NULL;
    bl_error err = {0};
    if (bl_psi_identity_generate(&ia, &err) || bl_psi_identity_generate(&ib, &err))
        return 1;
    uint8_t pka[32], pkb[32];
    bl_psi_identity_public(ia, pka);
    bl_psi_identity_public(ib, pkb);
    int portp[2], ra[2], rb[2];
    if (pipe(portp) || pipe(ra) || pipe(rb))
        return 1;
    double t0 = bl_clock_s();
    pid_t a = fork();
    if (a == 0)
        party(pa, ia, pkb, 1, portp[1], threads, ra[1]);
    pid_t b = fork();
    if (b == 0)
        party(pb, ib, pka, 0, portp[0], threads, rb[1]);
    struct rusage ua, ub;
    int sa = 0, sb = 0;
    wait4(a, &sa, 0, &ua);
    double ta = bl_clock_s() - t0;
    wait4(b, &sb, 0, &ub);
    double tb = bl_clock_s() - t0;
    double pair = ta > tb ? ta : tb;
    report rpa, rpb;
    memset(&rpa, 0, sizeof rpa);
    memset(&rpb, 0, sizeof rpb);
    if (read(ra[0], &rpa, sizeof rpa) != sizeof rpa || read(rb[0], &rpb, sizeof rpb) != sizeof rpb ||
        !rpa.ok || !rpb.ok) {
        fprintf(stderr, "bench_psi: a party failed: A: %s B: %s\n", rpa.msg, rpb.msg);
        unlink(pa);
        unlink(pb);
        return 1;
    }
    double floor2 = floor_rate(2.0, &mult2);
    double floor = (floor1 + floor2) / 2, mult = (mult1 + mult2) / 2;
    unlink(pa);
    unlink(pb);
    bl_psi_identity_free(ia);
    bl_psi_identity_free(ib);

    printf("bench_psi: %ld x %ld records, %.0f%% overlap, mode both, loopback, %d threads per "
           "party, %ld cores (shared by both parties)\n",
           n, n, overlap * 100, threads, ncpu);
    printf("floor (1 core, same run, per cpu-second): scalarmult_ristretto255 %.0f/s; "
           "hash+from_hash+2 mults %.0f elements/s (before %.0f, after %.0f)\n",
           mult, floor, floor1, floor2);
    const char *name[2] = {"A (listen)", "B (connect)"};
    report *rp[2] = {&rpa, &rpb};
    struct rusage *ru[2] = {&ua, &ub};
    double walls[2] = {ta, tb};
    for (int i = 0; i < 2; i++) {
        double cpu = (double)ru[i]->ru_utime.tv_sec + ru[i]->ru_utime.tv_usec / 1e6 +
                     (double)ru[i]->ru_stime.tv_sec + ru[i]->ru_stime.tv_usec / 1e6;
        double per_cpu = (double)n / cpu;
        printf("party %-11s wall %.1f s (load %.1f s, protocol %.1f s, idle waiting for the "
               "peer %.1f s), cpu %.1f s, "
               "%.0f elements/s per cpu-second, intersection %llu, sent %.1f B/element, "
               "efficiency vs floor %.0f%%\n",
               name[i], walls[i], rp[i]->load_s, rp[i]->run_s, rp[i]->st.idle_seconds, cpu, per_cpu,
               (unsigned long long)rp[i]->st.intersection,
               (double)rp[i]->st.bytes_sent / (double)n, 100.0 * per_cpu / floor);
    }
    printf("pair wall %.1f s; projected per party alone on %ld cores: %.1f s (cpu / cores)\n",
           pair, ncpu,
           ((double)ua.ru_utime.tv_sec + ua.ru_utime.tv_usec / 1e6 + (double)ua.ru_stime.tv_sec +
            ua.ru_stime.tv_usec / 1e6) / (double)ncpu);
    printf("ratio: pair wall / floor-ideal pair wall (2n elements at %.0f/s/core on %ld cores) = "
           "%.2f\n",
           floor, ncpu, pair / (2.0 * (double)n / (floor * (double)ncpu)));
    return 0;
}
