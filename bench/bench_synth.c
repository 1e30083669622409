/* bench/bench_synth.c - throughput of `blindlink synth`: records per second
 * on one core (generate + corrupt + format), against a baseline measured in
 * the same run: plain CSV writing (bl_csv_write_field) of already generated
 * records. Also the multi-threaded rate of bl_synth_write_all to a file.
 * Usage: bench_synth [records-per-party] (default 500000, two parties). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <blindlink/csv.h>
#include <blindlink/synth.h>
#include <blindlink/io.h>

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 500000;
    if (n < 1)
        n = 1;
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    o.records = n;
    o.seed = 2024;
    bl_synth *g = NULL;
    bl_error err = {0};
    if (bl_synth_new(&o, &g, &err) != BL_OK) {
        fprintf(stderr, "bench_synth: %s\n", err.msg);
        return 1;
    }
    FILE *null = fopen("/dev/null", "w");
    if (!null)
        return 1;
    static bl_synth_record r;
    uint64_t total = 2 * n;

    /* synth, one core: generate, corrupt, format, write */
    double t0 = bl_clock_s();
    for (unsigned d = 0; d < 2; d++)
        for (uint64_t i = 0; i < n; i++)
            if (bl_synth_get(g, d, i, &r))
                bl_synth_write_record(g, &r, null);
    fflush(null);
    double t_synth = bl_clock_s() - t0;

    /* baseline: plain CSV writing of the same kind of records, pre-generated */
    enum { POOL = 4096 };
    bl_synth_record *pool = malloc(sizeof *pool * POOL);
    if (!pool)
        return 1;
    for (uint64_t i = 0; i < POOL; i++)
        bl_synth_get(g, 1, i % n, &pool[i]);
    t0 = bl_clock_s();
    for (uint64_t i = 0; i < total; i++) {
        const bl_synth_record *p = &pool[i % POOL];
        bl_csv_write_field(null, p->id, strlen(p->id));
        for (int f = 0; f < BL_SYNTH_NFIELDS; f++) {
            fputc(',', null);
            bl_csv_write_field(null, p->field[f], strlen(p->field[f]));
        }
        fputc('\n', null);
    }
    fflush(null);
    double t_base = bl_clock_s() - t0;
    fclose(null);
    free(pool);

    /* all cores, through the atomic writer into a temp directory */
    char dir[] = "/tmp/bench_synth_XXXXXX";
    double t_mt = -1;
    if (mkdtemp(dir)) {
        char p1[64], p2[64];
        snprintf(p1, sizeof p1, "%s/a.csv", dir);
        snprintf(p2, sizeof p2, "%s/b.csv", dir);
        const char *paths[2] = {p1, p2};
        t0 = bl_clock_s();
        if (bl_synth_write_all(g, paths, 0, NULL, NULL, &err) == BL_OK)
            t_mt = bl_clock_s() - t0;
        unlink(p1);
        unlink(p2);
        rmdir(dir);
    }

    double rs = (double)total / t_synth, rb = (double)total / t_base;
    printf("synth (1 core, medium corruption): %llu records in %.2f s = %.0f records/s "
           "(%.1f M records/min; target >= 1 M/min: %s)\n",
           (unsigned long long)total, t_synth, rs, rs * 60 / 1e6, rs * 60 >= 1e6 ? "yes" : "NO");
    printf("baseline plain CSV write of generated records: %.0f records/s\n", rb);
    printf("ratio synth/baseline throughput: %.3f (synth costs %.1fx plain writing)\n", rs / rb,
           rb / rs);
    if (t_mt > 0)
        printf("synth write_all, all cores, atomic files: %.0f records/s (%.2fx one core)\n",
               (double)total / t_mt, ((double)total / t_mt) / rs);
    bl_synth_free(g);
    return 0;
}
