/*
 * sleeper.c: a stoppable wait on the monotonic clock.
 */
#include <errno.h>
#include <time.h>

#include "api/sleeper.h"
#include "core/util.h"
#include "core/banned.h"

void
sleeper_init(struct sleeper *s)
{
    pthread_condattr_t ca;

    atomic_init(&s->stop, false);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
}

void
sleeper_release(struct sleeper *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
}

bool
sleeper_wait_until(struct sleeper *s, int64_t deadline)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(deadline / UTIL_NS_PER_SEC);
    ts.tv_nsec = (long)(deadline % UTIL_NS_PER_SEC);
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stop)) {
        if (pthread_cond_timedwait(&s->cond, &s->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    return atomic_load(&s->stop);
}

bool
sleeper_wait(struct sleeper *s, int64_t ns)
{
    return sleeper_wait_until(s, util_mono_ns() + ns);
}

void
sleeper_stop(struct sleeper *s)
{
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, true);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

bool
sleeper_stopping(struct sleeper *s)
{
    return atomic_load(&s->stop);
}
