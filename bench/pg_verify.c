/*
 * pg_verify.c: store-level API token verification, PostgreSQL against
 * LMDB in one run.
 *
 *   pg_verify BACKEND TARGET THREADS COUNT
 *
 * BACKEND is "lmdb" (TARGET a directory) or "postgres" (TARGET a URL).
 * Inserts a user with 1000 keys, then has THREADS threads verify COUNT
 * tokens each the way the engine does on a cache miss: the key and its
 * user in one read (store_key_get_auth), SHA-256 of the secret,
 * constant-time compare.  Prints one line: verifications per second.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/store.h"
#include "core/util.h"
#include "core/banned.h"

#define NKEYS 1000

struct job {
    struct store *s;
    long count;
    int seed;
    long bad;
};

static char ids[NKEYS][STORE_KEY_ID_LEN + 1];
static char secrets[NKEYS][STORE_KEY_SECRET_LEN + 1];

static int
seed_keys(struct store *s)
{
    struct store_key k;
    struct store_user u;
    char uid[STORE_UUID_LEN + 1];

    util_uuid_new(uid);
    memset(&u, 0, sizeof(u));
    memcpy(u.id, uid, sizeof(u.id));
    memcpy(u.username, uid, sizeof(uid));
    if (store_ops_of(s)->user_insert(s, NULL, &u, NULL) != 0)
        return -1;
    for (int i = 0; i < NKEYS; i++) {
        memset(&k, 0, sizeof(k));
        util_random_alnum(ids[i], STORE_KEY_ID_LEN);
        util_random_alnum(secrets[i], STORE_KEY_SECRET_LEN);
        memcpy(k.id, ids[i], sizeof(k.id));
        memcpy(k.user_id, uid, sizeof(k.user_id));
        crypto_hash_sha256(k.hashed_secret, (unsigned char *)secrets[i],
                           STORE_KEY_SECRET_LEN);
        k.created_at = util_now_ns();
        k.expires_at = k.created_at + 3600 * UTIL_NS_PER_SEC;
        if (store_ops_of(s)->key_insert(s, NULL, &k, NULL) != 0)
            return -1;
    }
    return 0;
}

static void *
verify_loop(void *arg)
{
    struct job *j = arg;
    unsigned char h[32];
    struct store_key k;
    struct store_user u;
    bool found;

    for (long n = 0; n < j->count; n++) {
        int i = (int)((n * 7919 + j->seed) % NKEYS);

        if (store_key_get_auth(j->s, NULL, ids[i], &k, &u, &found,
                               NULL) != 0 || !found)
            j->bad++;
        crypto_hash_sha256(h, (unsigned char *)secrets[i],
                           STORE_KEY_SECRET_LEN);
        if (sodium_memcmp(h, k.hashed_secret, 32) != 0)
            j->bad++;
    }
    return NULL;
}

static int
run(struct store *s, int threads, long count)
{
    pthread_t th[64];
    struct job jobs[64];
    int64_t t0, ns;
    long bad = 0;

    t0 = util_mono_ns();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){ s, count, i * 131, 0 };
        pthread_create(&th[i], NULL, verify_loop, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    ns = util_mono_ns() - t0;
    printf("%.0f verifications/s (%d threads, %ld each, %ld failed)\n",
           (double)count * threads * 1e9 / (double)ns, threads, count, bad);
    return bad == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct store_options opt;
    struct store *s;
    struct err e;
    int64_t threads, count;
    int rc;

    if (argc != 5 || sodium_init() < 0 ||
        util_parse_i64(argv[3], strlen(argv[3]), &threads) != 0 ||
        util_parse_i64(argv[4], strlen(argv[4]), &count) != 0 ||
        threads < 1 || threads > 64 || count < 1) {
        fprintf(stderr, "usage: pg_verify lmdb|postgres TARGET THREADS "
                "COUNT\n");
        return 2;
    }
    memset(&opt, 0, sizeof(opt));
    opt.durable = true;
    opt.pool_size = (size_t)threads;
    if (strcmp(argv[1], "lmdb") == 0)
        opt.dir = argv[2];
    else
        opt.url = argv[2];
    rc = store_open(strcmp(argv[1], "lmdb") == 0 ? &store_lmdb_ops
                                                 : &store_postgres_ops,
                    &opt, &s, &e);
    if (rc != 0) {
        fprintf(stderr, "pg_verify: %s\n", e.msg);
        return 1;
    }
    rc = seed_keys(s) != 0 ? 1 : run(s, (int)threads, (long)count);
    store_close(s);
    return rc;
}
