/*
 * ratelimit.h: go-chi/httprate's sliding-window counter, per key.
 *
 * Each key (Coder uses "<client ip>:<path>") has a count for the current
 * fixed window and the one before it.  A request at time t in the window
 * starting at w is refused when
 *
 *     round(prev * (window - (t - w)) / window + cur) + 1 > limit
 *
 * and counted otherwise.  The table is split into shards, each behind its
 * own mutex, so threads rarely wait for each other.  Memory is bounded:
 * a shard that grows past a threshold drops keys idle for two windows,
 * and one that is still too large afterwards starts over (its keys lose
 * their counts, which errs towards letting requests through).
 */
#ifndef CODER_CFG_API_RATELIMIT_H
#define CODER_CFG_API_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* What to tell the client; the X-RateLimit-* headers carry these. */
struct ratelimit_verdict {
    bool allowed;
    int64_t limit;
    int64_t remaining;
    int64_t reset_unix;         /* end of the current window, seconds */
    int64_t retry_after;        /* seconds, for the 429 */
};

/*
 * A limiter allowing limit requests per window_ns (limit >= 1, window at
 * least one second).  NULL when out of memory.
 */
struct ratelimit *ratelimit_new(int64_t limit, int64_t window_ns);

/* NULL is a no-op. */
void ratelimit_free(struct ratelimit *rl);

/* Counts one request for key at now_ns (wall clock) and decides. */
void ratelimit_take(struct ratelimit *rl, const char *key, size_t key_len,
                    int64_t now_ns, struct ratelimit_verdict *v);

/* Keys held right now, over all shards (for tests and memory checks). */
size_t ratelimit_size(struct ratelimit *rl);

#endif
