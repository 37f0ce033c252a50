/*
 * ratelimit.c: sharded hash table of sliding-window counters, each shard
 * with its keys on a list from most to least recently used.
 */
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/ratelimit.h"
#include "core/util.h"
#include "core/banned.h"

#define RL_SHARDS 64
#define RL_BUCKETS 1024
/* Idle keys dropped at most per call, to keep each call's cost flat. */
#define RL_SWEEP_STEP 4

struct rl_entry {
    struct rl_entry *next;      /* in the bucket */
    struct rl_entry *newer;     /* on the shard's use list */
    struct rl_entry *older;
    uint64_t hash;
    int64_t window;             /* start of the window cur counts */
    int64_t cur;
    int64_t prev;
    size_t len;
    char key[];
};

struct rl_shard {
    pthread_mutex_t mu;
    struct rl_entry *buckets[RL_BUCKETS];
    struct rl_entry *newest;
    struct rl_entry *oldest;
    size_t count;
};

struct ratelimit {
    int64_t limit;
    int64_t window_ns;
    size_t shard_max;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    struct rl_shard shards[RL_SHARDS];
};

static uint64_t
hash_key(const struct ratelimit *rl, const char *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, (const unsigned char *)key, len, rl->hash_key);
    memcpy(&h, out, sizeof(h));
    return h;
}

struct ratelimit *
ratelimit_new(int64_t limit, int64_t window_ns, size_t max_keys)
{
    struct ratelimit *rl;
    size_t i;

    if (util_crypto_init() < 0)
        return NULL;
    rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    if (max_keys == 0)
        max_keys = RATELIMIT_KEYS_DEFAULT;
    rl->limit = limit;
    rl->window_ns = window_ns;
    rl->shard_max = (max_keys + RL_SHARDS - 1) / RL_SHARDS;
    randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
    for (i = 0; i < RL_SHARDS; i++)
        pthread_mutex_init(&rl->shards[i].mu, NULL);
    return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
    size_t i;

    if (rl == NULL)
        return;
    for (i = 0; i < RL_SHARDS; i++) {
        struct rl_entry *e = rl->shards[i].newest;

        while (e != NULL) {
            struct rl_entry *older = e->older;

            free(e);
            e = older;
        }
        pthread_mutex_destroy(&rl->shards[i].mu);
    }
    sodium_memzero(rl->hash_key, sizeof(rl->hash_key));
    free(rl);
}

static void
list_unlink(struct rl_shard *s, struct rl_entry *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    e->newer = NULL;
    e->older = NULL;
}

static void
list_push(struct rl_shard *s, struct rl_entry *e)
{
    e->older = s->newest;
    if (s->newest != NULL)
        s->newest->newer = e;
    s->newest = e;
    if (s->oldest == NULL)
        s->oldest = e;
}

/* Takes e out of its bucket and the use list, and frees it. */
static void
shard_drop(struct rl_shard *s, struct rl_entry *e)
{
    struct rl_entry **pp = &s->buckets[(e->hash >> 6) % RL_BUCKETS];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    list_unlink(s, e);
    free(e);
    s->count--;
}

/* Drops a few of the least recently used keys idle for two windows. */
static void
shard_sweep(struct rl_shard *s, int64_t window, int64_t window_ns)
{
    int i;

    for (i = 0; i < RL_SWEEP_STEP && s->oldest != NULL; i++) {
        if (s->oldest->window >= window - window_ns)
            return;
        shard_drop(s, s->oldest);
    }
}

static struct rl_entry *
shard_find(struct rl_shard *s, const char *key, size_t len, uint64_t h)
{
    struct rl_entry *e = s->buckets[(h >> 6) % RL_BUCKETS];

    for (; e != NULL; e = e->next) {
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
    return NULL;
}

/* A new key; a full shard first gives up its least recently used. */
static struct rl_entry *
shard_add(struct rl_shard *s, size_t max, const char *key, size_t len,
          uint64_t h)
{
    struct rl_entry **head = &s->buckets[(h >> 6) % RL_BUCKETS];
    struct rl_entry *e;

    if (s->count >= max && s->oldest != NULL)
        shard_drop(s, s->oldest);
    e = calloc(1, sizeof(*e) + len);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->len = len;
    memcpy(e->key, key, len);
    e->next = *head;
    *head = e;
    s->count++;
    return e;
}

/* Moves e's counts forward to the window starting at window. */
static void
entry_roll(struct rl_entry *e, int64_t window, int64_t window_ns)
{
    if (e->window == window)
        return;
    e->prev = e->window == window - window_ns ? e->cur : 0;
    e->cur = 0;
    e->window = window;
}

/* Finds or makes key's entry, marks it most recently used, rolls it. */
static struct rl_entry *
shard_touch(struct ratelimit *rl, struct rl_shard *s, const char *key,
            size_t len, uint64_t h, int64_t window)
{
    struct rl_entry *e;

    shard_sweep(s, window, rl->window_ns);
    e = shard_find(s, key, len, h);
    if (e == NULL)
        e = shard_add(s, rl->shard_max, key, len, h);
    else
        list_unlink(s, e);
    if (e == NULL)
        return NULL;
    list_push(s, e);
    entry_roll(e, window, rl->window_ns);
    return e;
}

static void
decide(struct ratelimit *rl, const char *key, size_t key_len,
       int64_t now_ns, bool count, struct ratelimit_verdict *v)
{
    int64_t window = now_ns - now_ns % rl->window_ns;
    uint64_t h = hash_key(rl, key, key_len);
    struct rl_shard *s = &rl->shards[h % RL_SHARDS];
    struct rl_entry *e;
    double elapsed = (double)(now_ns - window);
    double span = (double)rl->window_ns;
    int64_t rate = 0;

    v->limit = rl->limit;
    v->reset_unix = (window + rl->window_ns) / UTIL_NS_PER_SEC;
    v->retry_after = rl->window_ns / UTIL_NS_PER_SEC;

    pthread_mutex_lock(&s->mu);
    e = shard_touch(rl, s, key, key_len, h, window);
    if (e != NULL)
        rate = (int64_t)llround((double)e->prev * (span - elapsed) / span +
                                (double)e->cur);
    v->allowed = rate + 1 <= rl->limit;
    if (count && v->allowed && e != NULL)
        e->cur++;
    pthread_mutex_unlock(&s->mu);

    v->remaining = rl->limit - rate - (count && v->allowed ? 1 : 0);
    if (v->remaining < 0)
        v->remaining = 0;
}

void
ratelimit_take(struct ratelimit *rl, const char *key, size_t key_len,
               int64_t now_ns, struct ratelimit_verdict *v)
{
    decide(rl, key, key_len, now_ns, true, v);
}

void
ratelimit_peek(struct ratelimit *rl, const char *key, size_t key_len,
               int64_t now_ns, struct ratelimit_verdict *v)
{
    decide(rl, key, key_len, now_ns, false, v);
}

size_t
ratelimit_size(struct ratelimit *rl)
{
    size_t total = 0;
    size_t i;

    for (i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].mu);
        total += rl->shards[i].count;
        pthread_mutex_unlock(&rl->shards[i].mu);
    }
    return total;
}

size_t
ratelimit_budget(const struct ratelimit *rl)
{
    return rl->shard_max * RL_SHARDS;
}
