/*
 * keycache.h: a small, bounded cache of verified API keys.
 *
 * The engine keeps one per store that delivers cluster events.  An entry
 * is the key record and its user as read from the store, and it is
 * trusted for at most the cache's time to live.  Revocation is honoured
 * through invalidation: keycache_forget drops one key, keycache_clear
 * drops everything, and both advance a generation counter.  A reader
 * takes the generation before it asks the store and hands it back to
 * keycache_put, which stores nothing when any invalidation happened in
 * between; so a key read just before its deletion cannot come back after
 * the deletion's event was handled.
 *
 * The table has a fixed number of slots, each holding one key (a key
 * whose slot is taken replaces the older entry).  Every function is safe
 * to call from many threads at once.  Times are monotonic nanoseconds
 * (util_mono_ns), passed in so that tests can choose them.
 */
#ifndef CODER_CFG_KEYCACHE_H
#define CODER_CFG_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../backends/store.h"

/* Slots in the engine's cache and how long an entry is trusted. */
#define KEYCACHE_SLOTS 1024
#define KEYCACHE_TTL_NS INT64_C(1000000000)

struct keycache;

/* What one entry holds; user is meaningless when user_missing. */
struct keycache_entry {
    struct store_key key;
    struct store_user user;
    bool user_missing;
};

/*
 * Makes a cache of slots entries (rounded up to a power of two, at least
 * one) trusting each for ttl_ns.  Returns 0, or ERR_NOMEM.  Free it with
 * keycache_free (NULL is a no-op).
 */
int keycache_new(struct keycache **out, size_t slots, int64_t ttl_ns);
void keycache_free(struct keycache *kc);

/* The current generation; take it before reading the store. */
uint64_t keycache_generation(struct keycache *kc);

/*
 * Copies the entry for key id into *out when there is one younger than
 * the time to live at time now; returns whether it did.
 */
bool keycache_get(struct keycache *kc, const char *id, int64_t now,
                  struct keycache_entry *out);

/*
 * Stores a copy of *in (keyed by in->key.id), unless the generation has
 * moved past gen since the read began.  now is when the read began, so
 * that a slow read does not stretch the entry's life.
 */
void keycache_put(struct keycache *kc, uint64_t gen, int64_t now,
                  const struct keycache_entry *in);

/* Drops the entry for key id, if any, and advances the generation. */
void keycache_forget(struct keycache *kc, const char *id);

/* Drops every entry and advances the generation. */
void keycache_clear(struct keycache *kc);

#endif
