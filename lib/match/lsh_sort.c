/* lib/match/lsh_sort.c - one LSH table's sort and bucket list on all
 * threads: the entries (key << 32 | record index) of every record are
 * radix-sorted by key, and the buckets of two or more records are cut into
 * work units. Both steps were serial between the parallel key and bucket
 * steps; at 10M x 10M (20M entries per table) they took 11% of the run's
 * CPU while the other cores waited. Written here rather than taken from a
 * library: the sort is a few dozen lines over a fixed entry layout, and the
 * units are blindlink's own. Called by blocking.c; calls nothing above. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "match/match_internal.h"

/* Below this many entries one thread sorts: thread start-up would cost
 * more than it saves. */
#define PAR_MIN 65536
#define MAX_THREADS 64

typedef struct sortjob {
    const uint64_t *src;
    uint64_t *dst;
    size_t i0, i1;  /* this thread's slice of the entries */
    size_t *cnt;    /* nd counters: counts, then the slice's write offsets */
    uint32_t shift;
    size_t mask;
} sortjob;

static void *sort_count(void *arg)
{
    sortjob *j = arg;
    memset(j->cnt, 0, (j->mask + 1) * sizeof *j->cnt);
    for (size_t i = j->i0; i < j->i1; i++)
        j->cnt[(j->src[i] >> j->shift) & j->mask]++;
    return NULL;
}

static void *sort_scatter(void *arg)
{
    sortjob *j = arg;
    for (size_t i = j->i0; i < j->i1; i++)
        j->dst[j->cnt[(j->src[i] >> j->shift) & j->mask]++] = j->src[i];
    return NULL;
}

int bli_keys_sort(uint64_t *v, uint64_t *tmp, size_t n, uint32_t keybits, int nt)
{
    /* as few passes of at most 12-bit digits as the key needs (a 23-bit
     * key: 2 passes; 4,096 counters per thread stay in L1) */
    uint32_t passes = (keybits + 11) / 12, digit = passes ? (keybits + passes - 1) / passes : 1;
    size_t nd = (size_t)1 << digit;
    if (n < PAR_MIN || nt < 1)
        nt = 1;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    size_t *cnt = malloc((size_t)nt * nd * sizeof *cnt);
    if (!cnt)
        return -1;
    sortjob jobs[MAX_THREADS];
    uint64_t *src = v, *dst = tmp;
    for (uint32_t shift = 32; shift < 32 + keybits; shift += digit) {
        for (int t = 0; t < nt; t++)
            jobs[t] = (sortjob){src, dst, n * (size_t)t / (size_t)nt, n * (size_t)(t + 1) / (size_t)nt,
                                cnt + (size_t)t * nd, shift, nd - 1};
        bli_par_run(sort_count, jobs, sizeof *jobs, nt);
        /* digit-major, then slice order: each slice writes its entries of a
         * digit after those of the slices before it, so the sort is stable
         * (the result is ordered by key, then record index) */
        size_t base = 0;
        for (size_t d = 0; d < nd; d++)
            for (int t = 0; t < nt; t++) {
                size_t c = jobs[t].cnt[d];
                jobs[t].cnt[d] = base;
                base += c;
            }
        assert(base == n);
        bli_par_run(sort_scatter, jobs, sizeof *jobs, nt);
        uint64_t *sw = src;
        src = dst;
        dst = sw;
    }
    free(cnt);
    if (src != v)
        memcpy(v, src, n * sizeof *v);
    return 0;
}

typedef struct unitjob {
    const uint64_t *e;
    size_t n, s0, s1;  /* buckets that start in [s0, s1) */
    size_t unit_a;
    size_t *units;     /* (bucket start, bucket end, a-range start) triples */
    size_t nunits, cap;
    int fail;
} unitjob;

static void *units_worker(void *arg)
{
    unitjob *j = arg;
    const uint64_t *e = j->e;
    for (size_t s = j->s0; s < j->s1;) {
        size_t x = s + 1;
        while (x < j->n && (e[x] >> 32) == (e[s] >> 32))
            x++;
        for (size_t a = s; x - s >= 2 && a < x - 1; a += j->unit_a) {
            /* units are triples: grow in whole triples */
            if (bli_grow((void **)&j->units, &j->cap, j->nunits + 1, 3 * sizeof *j->units, 1024)) {
                j->fail = 1;
                return NULL;
            }
            j->units[3 * j->nunits] = s;
            j->units[3 * j->nunits + 1] = x;
            j->units[3 * j->nunits + 2] = a;
            j->nunits++;
        }
        s = x;
    }
    return NULL;
}

int bli_keys_units(const uint64_t *e, size_t n, size_t unit_a, size_t **units, size_t *nunits,
                   int nt)
{
    if (n < PAR_MIN || nt < 1)
        nt = 1;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    unitjob jobs[MAX_THREADS];
    size_t prev = 0;
    for (int t = 0; t < nt; t++) {
        /* slices start at bucket starts, so every bucket has one owner */
        size_t s = t + 1 < nt ? n * (size_t)(t + 1) / (size_t)nt : n;
        while (s < n && s > 0 && (e[s] >> 32) == (e[s - 1] >> 32))
            s++;
        jobs[t] = (unitjob){e, n, prev, s < prev ? prev : s, unit_a, NULL, 0, 0, 0};
        prev = jobs[t].s1;
    }
    bli_par_run(units_worker, jobs, sizeof *jobs, nt);
    /* the slices' units in slice order: the list a single pass makes */
    size_t tot = 0;
    int fail = 0;
    for (int t = 0; t < nt; t++) {
        tot += jobs[t].nunits;
        fail |= jobs[t].fail;
    }
    size_t *u = NULL;
    if (!fail && nt == 1 && jobs[0].units) {
        u = jobs[0].units; /* one slice: its list is the answer */
        jobs[0].units = NULL;
    } else if (!fail) {
        u = malloc((tot ? tot : 1) * 3 * sizeof *u);
        size_t at = 0;
        for (int t = 0; u && t < nt; t++) {
            if (jobs[t].nunits)
                memcpy(u + 3 * at, jobs[t].units, jobs[t].nunits * 3 * sizeof *u);
            at += jobs[t].nunits;
        }
    }
    for (int t = 0; t < nt; t++)
        free(jobs[t].units);
    if (!u)
        return -1;
    *units = u;
    *nunits = tot;
    return 0;
}
