/*
 * keycache.c: a direct-mapped table of recently verified keys.
 *
 * Direct mapping keeps the size fixed and every operation constant-time:
 * a key id hashes to one slot, and a newer key simply takes the slot.
 * One mutex guards the table; it is held only for a hash and a copy of
 * about a kilobyte, far less than any store read it saves.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keycache.h"
#include "banned.h"

struct slot {
    bool used;
    int64_t stored_at;
    struct keycache_entry entry;
};

struct keycache {
    pthread_mutex_t mu;
    uint64_t gen;
    int64_t ttl_ns;
    size_t mask;
    struct slot *slots;
};

int
keycache_new(struct keycache **out, size_t slots, int64_t ttl_ns)
{
    struct keycache *kc;
    size_t n = 1;

    *out = NULL;
    while (n < slots && n < ((size_t)1 << 20))
        n <<= 1;
    kc = calloc(1, sizeof(*kc));
    if (kc == NULL)
        return ERR_NOMEM;
    kc->slots = calloc(n, sizeof(*kc->slots));
    if (kc->slots == NULL) {
        free(kc);
        return ERR_NOMEM;
    }
    pthread_mutex_init(&kc->mu, NULL);
    kc->mask = n - 1;
    kc->ttl_ns = ttl_ns;
    *out = kc;
    return 0;
}

void
keycache_free(struct keycache *kc)
{
    if (kc == NULL)
        return;
    pthread_mutex_destroy(&kc->mu);
    free(kc->slots);
    free(kc);
}

/* FNV-1a over the id; ids are random, so any fair mix will do. */
static struct slot *
slot_of(struct keycache *kc, const char *id)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < STORE_KEY_ID_LEN && id[i] != '\0'; i++) {
        h ^= (unsigned char)id[i];
        h *= 16777619u;
    }
    return &kc->slots[h & kc->mask];
}

static bool
slot_holds(const struct slot *sl, const char *id)
{
    return sl->used && strcmp(sl->entry.key.id, id) == 0;
}

uint64_t
keycache_generation(struct keycache *kc)
{
    uint64_t gen;

    pthread_mutex_lock(&kc->mu);
    gen = kc->gen;
    pthread_mutex_unlock(&kc->mu);
    return gen;
}

bool
keycache_get(struct keycache *kc, const char *id, int64_t now,
             struct keycache_entry *out)
{
    struct slot *sl;
    bool hit;

    pthread_mutex_lock(&kc->mu);
    sl = slot_of(kc, id);
    hit = slot_holds(sl, id) && now - sl->stored_at < kc->ttl_ns &&
          now >= sl->stored_at;
    if (hit)
        *out = sl->entry;
    pthread_mutex_unlock(&kc->mu);
    return hit;
}

void
keycache_put(struct keycache *kc, uint64_t gen, int64_t now,
             const struct keycache_entry *in)
{
    struct slot *sl;

    pthread_mutex_lock(&kc->mu);
    if (kc->gen == gen) {
        sl = slot_of(kc, in->key.id);
        sl->used = true;
        sl->stored_at = now;
        sl->entry = *in;
    }
    pthread_mutex_unlock(&kc->mu);
}

void
keycache_forget(struct keycache *kc, const char *id)
{
    struct slot *sl;

    pthread_mutex_lock(&kc->mu);
    kc->gen++;
    sl = slot_of(kc, id);
    if (slot_holds(sl, id))
        sl->used = false;
    pthread_mutex_unlock(&kc->mu);
}

void
keycache_clear(struct keycache *kc)
{
    size_t i;

    pthread_mutex_lock(&kc->mu);
    kc->gen++;
    for (i = 0; i <= kc->mask; i++)
        kc->slots[i].used = false;
    pthread_mutex_unlock(&kc->mu);
}
