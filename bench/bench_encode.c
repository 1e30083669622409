/* bench/bench_encode.c - encoder throughput and memory.
 *
 * Generates deterministic synthetic people (unique names) into CSV files,
 * then encodes them with a schema shaped like the clkhash vectors'
 * schema1-blake.json (bigrams of names, positional unigrams of the birth
 * date, exact gender, bigrams of e-mail with bitsPerFeature, blakeHash):
 *   - token hashing alone: libsodium's keyed BLAKE2b per token (baseline)
 *     vs the precomputed key-block state used by the encoder;
 *   - whole pipeline (CSV -> clkhash JSON file) on 1 thread and on all
 *     threads, each run in a child process so its peak RSS (wait4) is its own;
 *   - the same with 4x the records, to show memory does not grow with input.
 *   - every encode run with the one-lane BLAKE2b kernel forced
 *     (BL_HASH_KERNEL=scalar) and with the automatic multi-buffer kernel,
 *     interleaved and repeated (--reps, best of), in records/s and records
 *     per CPU-second (the machine is shared: CPU seconds are the steadier);
 * Usage: bench_encode [--records N] [--flat-records M] [--reps R] [--dir DIR] [--keep] */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <blindlink/encode.h>
#include <blindlink/schema.h>
#include <blindlink/io.h>

#include "encode/encode_internal.h"

static const char *const given[] = {"james", "mary", "robert", "patricia", "john", "jennifer", "michael",
                                    "linda", "david", "elizabeth", "william", "barbara", "richard", "susan",
                                    "joseph", "jessica", "thomas", "sarah", "chloé", "josé", "zoë", "søren",
                                    "mohammed", "priya", "mei", "aroha", "łukasz", "anne-marie"};
static const char *const family[] = {"smith", "johnson", "williams", "brown", "jones", "garcia", "miller",
                                     "davis", "rodriguez", "martinez", "nguyen", "chen", "müller", "o'brien",
                                     "wiśniewski", "da silva", "te whata", "dubois-lefèvre", "kierkegaard"};

static const char *SCHEMA =
    "{\"version\": 3, \"clkConfig\": {\"l\": 1024, \"kdf\": {\"type\": \"HKDF\", \"hash\": \"SHA256\","
    " \"salt\": \"SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==\","
    " \"info\": \"c2NoZW1hX2V4YW1wbGU=\", \"keySize\": 64}}, \"features\": ["
    "{\"identifier\": \"id\", \"ignored\": true},"
    "{\"identifier\": \"given_name\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}, \"hash\": {\"type\": \"blakeHash\"}}},"
    "{\"identifier\": \"surname\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerToken\": 20}, \"hash\": {\"type\": \"blakeHash\"}}},"
    "{\"identifier\": \"dob\", \"format\": {\"type\": \"date\", \"format\": \"%Y-%m-%d\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 1, \"positional\": true}, \"strategy\": {\"bitsPerToken\": 10},"
    " \"hash\": {\"type\": \"blakeHash\"}, \"missingValue\": {\"sentinel\": \"\"}}},"
    "{\"identifier\": \"gender\", \"format\": {\"type\": \"enum\", \"values\": [\"F\", \"M\", \"X\"]},"
    " \"hashing\": {\"comparison\": {\"type\": \"exact\"}, \"strategy\": {\"bitsPerToken\": 30}, \"hash\": {\"type\": \"blakeHash\"},"
    " \"missingValue\": {\"sentinel\": \"\"}}},"
    "{\"identifier\": \"email\", \"format\": {\"type\": \"string\", \"encoding\": \"utf-8\"},"
    " \"hashing\": {\"comparison\": {\"type\": \"ngram\", \"n\": 2}, \"strategy\": {\"bitsPerFeature\": 150}}}]}";

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

/* Unique name suffix: base-26 of i (lower-case letters). */
static void suffix(uint64_t i, char *out)
{
    int n = 0;
    char tmp[16];
    do {
        tmp[n++] = (char)('a' + i % 26);
        i /= 26;
    } while (i);
    for (int k = 0; k < n; k++)
        out[k] = tmp[n - 1 - k];
    out[n] = '\0';
}

static int generate(const char *path, uint64_t n)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    rng_state = 42;
    fprintf(fp, "id,given_name,surname,dob,gender,email\n");
    for (uint64_t i = 0; i < n; i++) {
        const char *g = given[rnd() % (sizeof given / sizeof *given)];
        const char *f = family[rnd() % (sizeof family / sizeof *family)];
        char suf[16];
        suffix(i, suf);
        int y = 1930 + (int)(rnd() % 90), m = 1 + (int)(rnd() % 12), d = 1 + (int)(rnd() % 28);
        const char *sex = (rnd() % 2) ? "F" : "M";
        fprintf(fp, "r%llu,%s,%s%s,%04d-%02d-%02d,%s,%s.%s@example.org\n", (unsigned long long)i, g, f, suf, y, m,
                d, sex, g, suf);
    }
    return fclose(fp);
}

/* Encode in a child process; returns wall seconds and peak RSS in KiB. */
static double last_cpu; /* user+sys seconds of the last child */

static int run_child(const char *csv, const char *schema_path, const char *out, int threads, double *secs,
                     long *maxrss_kb, uint64_t *nrec)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    double t0 = bl_clock_s();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(pfd[0]);
        /* the parent chose a BLAKE2b kernel already (bench_hash_many):
         * choose again from this child's BL_HASH_KERNEL */
        bli_b2_kernel_force(NULL);
        bl_schema *s = NULL;
        bl_encoder *e = NULL;
        bl_error err = {0};
        uint64_t n = 0;
        if (bl_schema_load(schema_path, &s, &err) != BL_OK ||
            bl_encoder_new(s, (const uint8_t *)"correct horse battery staple", 28, NULL, &e, &err) != BL_OK) {
            fprintf(stderr, "bench: %s\n", err.msg);
            _exit(1);
        }
        bl_encode_csv_opts o = {.format = BL_CLK_JSON, .threads = threads};
        if (bl_encode_csv(e, csv, out, &o, &n, &err) != BL_OK) {
            fprintf(stderr, "bench: %s\n", err.msg);
            _exit(1);
        }
        if (write(pfd[1], &n, sizeof n) != (ssize_t)sizeof n)
            _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        close(pfd[0]);
        return -1;
    }
    *secs = bl_clock_s() - t0;
    *maxrss_kb = ru.ru_maxrss;
    last_cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
    if (read(pfd[0], nrec, sizeof *nrec) != (ssize_t)sizeof *nrec)
        *nrec = 0;
    close(pfd[0]);
    return 0;
}

/* Best (least) wall and CPU seconds of a configuration over repeats. */
typedef struct enc_res {
    double wall, cpu;
    long rss;
    uint64_t n;
} enc_res;

static int run_cfg(const char *csv, const char *schema, const char *out, int threads, const char *kernel,
                   int nocache, enc_res *r)
{
    double secs;
    long rss;
    uint64_t n;
    setenv("BL_HASH_KERNEL", kernel, 1);
    if (nocache)
        setenv("BL_NO_TOKEN_CACHE", "1", 1);
    int rc = run_child(csv, schema, out, threads, &secs, &rss, &n);
    unsetenv("BL_NO_TOKEN_CACHE");
    unsetenv("BL_HASH_KERNEL");
    if (rc != 0)
        return -1;
    if (!r->n || secs < r->wall)
        r->wall = secs;
    if (!r->n || last_cpu < r->cpu)
        r->cpu = last_cpu;
    if (rss > r->rss)
        r->rss = rss;
    r->n = n;
    return 0;
}

/* Multi-buffer hashing: batches of 64 two-byte tokens through each kernel
 * (bli_b2_hash_many), interleaved runs so load changes hit all alike. */
static void bench_hash_many(const bl_b2_keyed *st, const char *const *toks, size_t N)
{
    enum { B = 64 };
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    static uint64_t out[B][8];
    bl_b2_job jobs[B];
    for (size_t i = 0; i < B; i++)
        jobs[i] = (bl_b2_job){st, (const uint8_t *)toks[i & 7], 2, out[i]};
    double best[3] = {0, 0, 0};
    for (int rep = 0; rep < 3; rep++)
        for (int k = 0; k < 3; k++) {
            const bl_b2_kernel *kern = bli_b2_kernel_by_name(names[k]);
            if (!kern)
                continue;
            double t0 = bl_clock_s();
            for (size_t i = 0; i < N; i += B)
                bli_b2_hash_many(kern, jobs, B);
            double r = N / (bl_clock_s() - t0) / 1e6;
            if (r > best[k])
                best[k] = r;
        }
    printf("multi-buffer token hash (batches of %d, best of 3): scalar %.2f M/s, avx2 %.2f M/s (%.2fx), "
           "avx512 %.2f M/s (%.2fx); active kernel %s\n",
           B, best[0], best[1], best[1] / best[0], best[2], best[2] / best[0], bli_b2_kernel_active()->name);
}

/* Token hashing alone: libsodium keyed BLAKE2b vs precomputed key state. */
static void bench_token_hash(void)
{
    uint8_t key[64], salt[16], pers[16] = {0}, out[64];
    memset(key, 7, sizeof key);
    bli_blake_salt(0, salt);
    bl_b2_keyed st;
    bli_b2_keyed_init(&st, key, 64, salt, NULL, 64);
    const char *toks[] = {" j", "jo", "os", "se", "e ", "19", "ab", "le"};
    const size_t N = 1000000;
    uint64_t sink = 0;
    double t0 = bl_clock_s();
    for (size_t i = 0; i < N; i++) {
        crypto_generichash_blake2b_salt_personal(out, 64, (const uint8_t *)toks[i & 7], 2, key, 64, salt, pers);
        sink += out[i & 63];
    }
    double base = bl_clock_s() - t0;
    t0 = bl_clock_s();
    for (size_t i = 0; i < N; i++) {
        uint64_t h[8];
        bli_b2_keyed_hash(&st, (const uint8_t *)toks[i & 7], 2, h);
        sink += h[i & 7];
    }
    double ours = bl_clock_s() - t0;
    printf("token hash (keyed BLAKE2b-512, 2-byte token): libsodium %.2f M/s, precomputed key state %.2f "
           "M/s, ratio %.2fx (sink %llu)\n",
           N / base / 1e6, N / ours / 1e6, base / ours, (unsigned long long)(sink & 1));
    bench_hash_many(&st, toks, N);
}

int main(int argc, char **argv)
{
    uint64_t nrec = 1000000, nflat = 4000000;
    const char *dir = "/tmp";
    int keep = 0, reps = 1;
    static const struct option lo[] = {{"records", required_argument, NULL, 'n'},
                                       {"flat-records", required_argument, NULL, 'f'},
                                       {"dir", required_argument, NULL, 'd'},
                                       {"keep", no_argument, NULL, 'k'},
                                       {"reps", required_argument, NULL, 'r'},
                                       {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'n')
            nrec = strtoull(optarg, NULL, 10);
        else if (c == 'f')
            nflat = strtoull(optarg, NULL, 10);
        else if (c == 'd')
            dir = optarg;
        else if (c == 'k')
            keep = 1;
        else if (c == 'r')
            reps = atoi(optarg) > 0 ? atoi(optarg) : 1;
        else
            return 2;
    }
    if (sodium_init() < 0)
        return 1;
    char csv[512], big[512], schema[512], out[512];
    snprintf(csv, sizeof csv, "%s/bl-bench-%d-a.csv", dir, (int)getpid());
    snprintf(big, sizeof big, "%s/bl-bench-%d-b.csv", dir, (int)getpid());
    snprintf(schema, sizeof schema, "%s/bl-bench-%d-schema.json", dir, (int)getpid());
    snprintf(out, sizeof out, "%s/bl-bench-%d-out.json", dir, (int)getpid());
    FILE *sf = fopen(schema, "w");
    if (!sf || fputs(SCHEMA, sf) < 0 || fclose(sf) != 0)
        return 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_encode: %ld online CPUs (machine may be shared: compare ratios, not absolutes)\n", ncpu);
    bench_token_hash();
    double t0 = bl_clock_s();
    if (generate(csv, nrec) != 0)
        return 1;
    printf("generated %llu records in %.1f s\n", (unsigned long long)nrec, bl_clock_s() - t0);

    /* every configuration with the one-lane kernel forced and with the
     * automatic (widest) kernel, runs interleaved, best of --reps */
    const char *simd = bli_b2_kernel_active()->name;
    const char *kern[2] = {"scalar", simd};
    enc_res cache_off[2], one[2], all[2];
    for (int k = 0; k < 2; k++)
        cache_off[k] = one[k] = all[k] = (enc_res){0};
    for (int rep = 0; rep < reps; rep++)
        for (int k = 0; k < 2; k++)
            if (run_cfg(csv, schema, out, 1, kern[k], 1, &cache_off[k]) != 0 ||
                run_cfg(csv, schema, out, 1, kern[k], 0, &one[k]) != 0 ||
                run_cfg(csv, schema, out, (int)ncpu, kern[k], 0, &all[k]) != 0) {
                fprintf(stderr, "bench_encode: encoding failed\n");
                return 1;
            }
    for (int k = 0; k < 2; k++) {
        printf("kernel %-6s token cache off, 1 thread: %7.0f records/s, %7.0f records per CPU-second\n", kern[k],
               cache_off[k].n / cache_off[k].wall, cache_off[k].n / cache_off[k].cpu);
        printf("kernel %-6s 1 thread:                  %7.0f records/s, %7.0f records per CPU-second, peak RSS %.1f MiB\n",
               kern[k], one[k].n / one[k].wall, one[k].n / one[k].cpu, one[k].rss / 1024.0);
        printf("kernel %-6s %ld threads:                 %7.0f records/s, %7.0f records per CPU-second, peak RSS %.1f MiB\n",
               kern[k], ncpu, all[k].n / all[k].wall, all[k].n / all[k].cpu, all[k].rss / 1024.0);
    }
    printf("%s vs scalar (same run, best of %d): cache off %.2fx per CPU-second; 1 thread %.2fx; %ld threads "
           "%.2fx wall, %.2fx per CPU-second\n",
           simd, reps, cache_off[0].cpu / cache_off[1].cpu, one[0].cpu / one[1].cpu, ncpu,
           all[0].wall / all[1].wall, all[0].cpu / all[1].cpu);
    printf("token cache (%s): %.2fx per CPU-second on 1 thread over the cache-off run\n", simd,
           cache_off[1].cpu / one[1].cpu);
    const long rn = all[1].rss;
    if (nflat > 0) {
        t0 = bl_clock_s();
        if (generate(big, nflat) != 0)
            return 1;
        printf("generated %llu records in %.1f s\n", (unsigned long long)nflat, bl_clock_s() - t0);
        double sb;
        long rb;
        uint64_t nb;
        if (run_child(big, schema, out, (int)ncpu, &sb, &rb, &nb) != 0) {
            fprintf(stderr, "bench_encode: encoding failed\n");
            return 1;
        }
        printf("encode %llu records, %ld threads: %.2f s, %.0f records/s, peak RSS %.1f MiB (%.2fx the RSS "
               "for %.0fx the records)\n",
               (unsigned long long)nb, ncpu, sb, nb / sb, rb / 1024.0, (double)rb / (double)rn,
               (double)nflat / (double)nrec);
        if (!keep)
            unlink(big);
    }
    if (!keep) {
        unlink(csv);
        unlink(schema);
        unlink(out);
    }
    return 0;
}
