/*
 * ratelimit.h: go-chi/httprate's sliding-window counter, per key.
 *
 * Each key (the middleware builds it from the client address and the
 * matched route) has a count for the current fixed window and the one
 * before it.  A request at time t in the window starting at w is refused
 * when
 *
 *     round(prev * (window - (t - w)) / window + cur) + 1 > limit
 *
 * and counted otherwise.  The table is split into shards, each behind its
 * own mutex, so threads rarely wait for each other.  Keys are hashed with
 * SipHash under a random key drawn when the limiter is made, so clients
 * cannot choose keys that collide or crowd one shard.
 *
 * Memory is bounded by a budget of keys, split evenly over the shards.
 * Every call first drops a few keys idle for two windows (the least
 * recently used come first, so this costs nothing when none are idle).
 * A new key in a full shard evicts that shard's least recently used key:
 * one count is forgotten, never a whole table of them.
 */
#ifndef CODER_CFG_API_RATELIMIT_H
#define CODER_CFG_API_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* The budget of keys ratelimit_new uses when given 0. */
#define RATELIMIT_KEYS_DEFAULT 65536

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
 * least one second) that holds at most max_keys keys (0: the default;
 * rounded up to a multiple of the shard count).  NULL when out of memory
 * or when libsodium cannot start.
 */
struct ratelimit *ratelimit_new(int64_t limit, int64_t window_ns,
                                size_t max_keys);

/* NULL is a no-op. */
void ratelimit_free(struct ratelimit *rl);

/*
 * Counts one request for key at now_ns (wall clock) and decides.  When
 * memory for a new key runs out the request is let through uncounted.
 */
void ratelimit_take(struct ratelimit *rl, const char *key, size_t key_len,
                    int64_t now_ns, struct ratelimit_verdict *v);

/* Decides as ratelimit_take would, without counting the request. */
void ratelimit_peek(struct ratelimit *rl, const char *key, size_t key_len,
                    int64_t now_ns, struct ratelimit_verdict *v);

/* Keys held right now, over all shards (for tests and memory checks). */
size_t ratelimit_size(struct ratelimit *rl);

/* The most keys rl will ever hold. */
size_t ratelimit_budget(const struct ratelimit *rl);

#endif
