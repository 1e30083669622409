/* bench/bench_service.c - data generator and in-process baselines for the
 * service benchmark (bench/service.sh drives the real server):
 *   bench_service gen OUT N SEED [NOISY_FROM]   write N random 1024-bit
 *       encodings with ids s0000001.. (binary CLK); with NOISY_FROM, the
 *       first N/2 are noisy copies (about 3% of bits flipped) of that file's
 *       first N/2 records, so they are true matches; the header carries
 *       the schema fingerprint given as 64 hex digits in BENCH_SCHEMA_FP (a
 *       project accepts only uploads made with its registered schema)
 *   bench_service read FILE        time reading FILE (upload baseline)
 *   bench_service match A B T      time candidates + greedy solve in-process
 * Without arguments it prints how to run the service benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindlink/clk.h>
#include <blindlink/match.h>
#include <blindlink/io.h>

static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int gen(const char *out, size_t n, uint64_t seed, const char *noisy_from)
{
    bl_error e = {0};
    bl_clkset *src = NULL;
    if (noisy_from && bl_clkset_read(noisy_from, BL_CLK_BIN, 0, &src, &e) != BL_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    rng_state = seed;
    uint8_t fp[32];
    const char *hex = getenv("BENCH_SCHEMA_FP");
    int has_fp = hex && strlen(hex) == 64;
    for (int i = 0; has_fp && i < 32; i++) {
        unsigned v;
        has_fp = sscanf(hex + 2 * i, "%2x", &v) == 1;
        fp[i] = (uint8_t)v;
    }
    bl_clkwriter *w = NULL;
    if (bl_clkwriter_open(out, BL_CLK_BIN, 1024, has_fp ? fp : NULL, 1, &w, &e) != BL_OK) {
        fprintf(stderr, "%s\n", e.msg);
        bl_clkset_free(src);
        return 1;
    }
    uint8_t buf[128];
    char id[32];
    for (size_t i = 0; i < n; i++) {
        if (src && i < src->count && i < n / 2) {
            memcpy(buf, bl_clkset_get(src, i), 128);
            for (int k = 0; k < 31; k++) { /* ~3% of 1024 bits */
                unsigned bit = (unsigned)(rng() % 1024);
                buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
        } else {
            for (int k = 0; k < 16; k++) {
                uint64_t v = rng();
                memcpy(buf + 8 * k, &v, 8);
            }
        }
        snprintf(id, sizeof id, "s%07zu", i + 1);
        if (bl_clkwriter_put(w, buf, id, &e) != BL_OK) {
            fprintf(stderr, "%s\n", e.msg);
            bl_clkwriter_abort(w);
            bl_clkset_free(src);
            return 1;
        }
    }
    bl_clkset_free(src);
    if (bl_clkwriter_commit(w, &e) != BL_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "gen"))
        return gen(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4 < argc ? 4 : 3], NULL, 10),
                   argc > 5 ? argv[5] : NULL);
    bl_error e = {0};
    if (argc == 3 && !strcmp(argv[1], "read")) {
        double t0 = bl_clock_s();
        bl_clkset *s = NULL;
        if (bl_clkset_read(argv[2], BL_CLK_BIN, 0, &s, &e) != BL_OK) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double dt = bl_clock_s() - t0;
        printf("read %zu encodings in %.3f s: %.0f encodings/s\n", s->count, dt,
               (double)s->count / dt);
        bl_clkset_free(s);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "match")) {
        double t0 = bl_clock_s();
        bl_clkset *a = NULL, *b = NULL;
        if (bl_clkset_read(argv[2], BL_CLK_BIN, 0, &a, &e) != BL_OK ||
            bl_clkset_read(argv[3], BL_CLK_BIN, 0, &b, &e) != BL_OK) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        const bl_clkset *sets[2] = {a, b};
        bl_match_opts o;
        memset(&o, 0, sizeof o);
        o.threshold = strtod(argv[4], NULL);
        bl_candidate *c = NULL;
        size_t n = 0;
        bl_groups *g = NULL;
        if (bl_match_candidates(sets, 2, &o, &c, &n, &e) != BL_OK ||
            bl_match_solve_greedy(c, n, &g, &e) != BL_OK) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double dt = bl_clock_s() - t0;
        printf("in-process match %zu x %zu: %zu candidates, %zu groups in %.3f s (%.3g comparisons/s)\n",
               a->count, b->count, n, bl_groups_count(g), dt,
               (double)a->count * (double)b->count / dt);
        bl_groups_free(g);
        free(c);
        bl_clkset_free(a);
        bl_clkset_free(b);
        return 0;
    }
    if (argc == 1) {
        printf("bench_service: the service benchmark runs a real server; use\n"
               "  bash bench/service.sh BUILD_DIR\n");
        return 0;
    }
    fprintf(stderr, "usage: bench_service gen OUT N SEED [NOISY_FROM] | read FILE | match A B T\n");
    return 2;
}
