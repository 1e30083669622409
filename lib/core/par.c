/* lib/core/par.c - the one fork-join helper the layers share: nt jobs on
 * nt threads, the caller's thread among them. pthreads directly: the jobs
 * are a handful of coarse slices per call, where a pool would add a
 * dependency and nothing measurable. Calls nothing in the library. */
#include <assert.h>
#include <pthread.h>
#include <stddef.h>

#include "core/internal.h"

#define MAX_THREADS 64

void bli_par_run(void *(*fn)(void *), void *jobs, size_t size, int nt)
{
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    char *j = jobs;
    assert(nt >= 1 && nt <= MAX_THREADS);
    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&th[t], NULL, fn, j + (size_t)t * size) == 0;
    fn(j);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            fn(j + (size_t)t * size); /* a thread that did not start: run here */
    }
}
