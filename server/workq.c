/* server/workq.c - the run workers' wake-up: a counter with a condition
 * variable. Whoever makes a run claimable (an upload stored, a run queued)
 * signals; the workers in runs.c wait on it between claims. Neither the
 * upload nor the run handlers own it, so neither calls into the other. */
#include <time.h>

#include "srv.h"

void srv_workq_init(srv_workq *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->gen = 0;
}

void srv_workq_destroy(srv_workq *q)
{
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

void srv_work_signal(srv_workq *q)
{
    pthread_mutex_lock(&q->mu);
    q->gen++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

uint64_t srv_work_gen(srv_workq *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t g = q->gen;
    pthread_mutex_unlock(&q->mu);
    return g;
}

void srv_work_wait(srv_workq *q, uint64_t seen, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    while (q->gen == seen)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&q->mu);
}
