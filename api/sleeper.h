/*
 * sleeper.h: how a background thread waits between rounds of work and is
 * told to stop (the stats refresh and the update check).
 *
 * The caller embeds struct sleeper: sleeper_init before the thread starts,
 * sleeper_wait in the thread, sleeper_stop from another thread (wakes the
 * sleeper at once), then join the thread and sleeper_release.  Deadlines
 * are on the monotonic clock (util_mono_ns), so wall-clock jumps do not
 * cut a wait short or stretch it.
 */
#ifndef CODER_CFG_API_SLEEPER_H
#define CODER_CFG_API_SLEEPER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct sleeper {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    atomic_bool stop;
};

void sleeper_init(struct sleeper *s);
void sleeper_release(struct sleeper *s);

/*
 * Sleeps until the monotonic time deadline (nanoseconds) or until
 * stopped; true when stopping.
 */
bool sleeper_wait_until(struct sleeper *s, int64_t deadline);

/* The same for a span of ns nanoseconds from now. */
bool sleeper_wait(struct sleeper *s, int64_t ns);

/* Asks the sleeping thread to stop and wakes it. */
void sleeper_stop(struct sleeper *s);

/* True once sleeper_stop was called; cheap, for progress callbacks. */
bool sleeper_stopping(struct sleeper *s);

#endif
