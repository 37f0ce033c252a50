/*
 * ratelimit.c: sharded hash table of sliding-window counters.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/ratelimit.h"
#include "core/util.h"
#include "core/banned.h"

#define RL_SHARDS 64
#define RL_BUCKETS 1024
/* Past this many keys a shard sweeps out idle keys... */
#define RL_SWEEP_AT 4096
/* ...and past this many after a sweep it starts over. */
#define RL_SHARD_MAX 16384

struct rl_entry {
    struct rl_entry *next;
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
    size_t count;
    size_t sweep_at;
};

struct ratelimit {
    int64_t limit;
    int64_t window_ns;
    struct rl_shard shards[RL_SHARDS];
};

/* FNV-1a: keys are short, and a shard's mutex guards any unevenness. */
static uint64_t
hash_key(const char *key, size_t len)
{
    uint64_t h = UINT64_C(14695981039346656037);
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

struct ratelimit *
ratelimit_new(int64_t limit, int64_t window_ns)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    size_t i;

    if (rl == NULL)
        return NULL;
    rl->limit = limit;
    rl->window_ns = window_ns;
    for (i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].mu, NULL);
        rl->shards[i].sweep_at = RL_SWEEP_AT;
    }
    return rl;
}

static void
shard_clear(struct rl_shard *s)
{
    size_t i;

    for (i = 0; i < RL_BUCKETS; i++) {
        struct rl_entry *e = s->buckets[i];

        while (e != NULL) {
            struct rl_entry *next = e->next;

            free(e);
            e = next;
        }
        s->buckets[i] = NULL;
    }
    s->count = 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
    size_t i;

    if (rl == NULL)
        return;
    for (i = 0; i < RL_SHARDS; i++) {
        shard_clear(&rl->shards[i]);
        pthread_mutex_destroy(&rl->shards[i].mu);
    }
    free(rl);
}

/* Drops keys whose last count is two or more windows old. */
static void
shard_sweep(struct rl_shard *s, int64_t window, int64_t window_ns)
{
    size_t i;

    for (i = 0; i < RL_BUCKETS; i++) {
        struct rl_entry **pp = &s->buckets[i];

        while (*pp != NULL) {
            struct rl_entry *e = *pp;

            if (e->window < window - window_ns) {
                *pp = e->next;
                free(e);
                s->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    if (s->count > RL_SHARD_MAX)
        shard_clear(s);
    /* Sweep again only after as many new keys as survived. */
    s->sweep_at = s->count + RL_SWEEP_AT;
}

static struct rl_entry *
shard_get(struct rl_shard *s, const char *key, size_t len, uint64_t h)
{
    struct rl_entry **head = &s->buckets[(h >> 6) % RL_BUCKETS];
    struct rl_entry *e;

    for (e = *head; e != NULL; e = e->next) {
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
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

void
ratelimit_take(struct ratelimit *rl, const char *key, size_t key_len,
               int64_t now_ns, struct ratelimit_verdict *v)
{
    int64_t window = now_ns - now_ns % rl->window_ns;
    uint64_t h = hash_key(key, key_len);
    struct rl_shard *s = &rl->shards[h % RL_SHARDS];
    struct rl_entry *e;
    double elapsed = (double)(now_ns - window);
    double span = (double)rl->window_ns;
    int64_t rate = 0;

    v->limit = rl->limit;
    v->reset_unix = (window + rl->window_ns) / UTIL_NS_PER_SEC;
    v->retry_after = rl->window_ns / UTIL_NS_PER_SEC;

    pthread_mutex_lock(&s->mu);
    if (s->count >= s->sweep_at)
        shard_sweep(s, window, rl->window_ns);
    e = shard_get(s, key, key_len, h);
    if (e != NULL) {
        entry_roll(e, window, rl->window_ns);
        rate = (int64_t)llround((double)e->prev * (span - elapsed) / span +
                                (double)e->cur);
    }
    v->allowed = rate + 1 <= rl->limit;
    if (v->allowed && e != NULL)
        e->cur++;
    pthread_mutex_unlock(&s->mu);

    v->remaining = rl->limit - rate - (v->allowed ? 1 : 0);
    if (v->remaining < 0)
        v->remaining = 0;
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
