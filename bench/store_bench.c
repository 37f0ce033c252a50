/*
 * store_bench.c: the embedded store's hot paths, measured on one core.
 *
 *   store_bench verify DIR KEYS COUNT
 *       Loads KEYS API keys into a fresh store at DIR (sorted ids, big
 *       transactions), then times COUNT engine_token_verify calls on
 *       random keys: one read transaction, a B-tree look-up, SHA-256 and
 *       a constant-time compare, no write.  Prints microseconds per call.
 *
 *   store_bench append DIR KIND BATCH TOTAL
 *       Appends TOTAL records of KIND ("csp" or "stats") in durable
 *       commits of BATCH records each.  Prints records per second.
 *
 * Figures only: no timing here is a pass or a fail.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/util.h"
#include "core/banned.h"

#define DAY_NS (INT64_C(86400) * UTIL_NS_PER_SEC)
#define LOAD_BATCH 100000
#define SECRET "0123456789abcdefABCDEF"

typedef char key_id[STORE_KEY_ID_LEN + 1];

static void
die(const char *what, const struct err *e)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, e->msg);
    exit(1);
}

static int
cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* n random key ids, sorted, so that the load appends to the tree. */
static key_id *
make_ids(size_t n)
{
    key_id *ids = calloc(n, sizeof(*ids));
    size_t i;

    if (ids == NULL) {
        fprintf(stderr, "store_bench: out of memory\n");
        exit(1);
    }
    for (i = 0; i < n; i++)
        util_random_alnum(ids[i], STORE_KEY_ID_LEN);
    qsort(ids, n, sizeof(*ids), cmp_id);
    return ids;
}

static void
load_keys(struct engine *en, const char *user_id, key_id *ids, size_t n)
{
    struct store *s = engine_store(en);
    const struct store_ops *ops = store_ops_of(s);
    struct store_key k;
    struct store_txn *t;
    struct err e;
    size_t i = 0;
    int rc;

    memset(&k, 0, sizeof(k));
    crypto_hash_sha256(k.hashed_secret, (const unsigned char *)SECRET,
                       STORE_KEY_SECRET_LEN);
    memcpy(k.user_id, user_id, sizeof(k.user_id));
    k.created_at = k.updated_at = k.last_used = util_now_ns();
    k.expires_at = k.created_at + 100 * DAY_NS;
    k.lifetime_seconds = 100 * 86400;
    k.login_type = STORE_LOGIN_TOKEN;

    while (i < n) {
        size_t start = i;

        if (ops->begin(s, true, &t, &e) != 0)
            die("begin", &e);
        for (rc = 0; i < n && i - start < LOAD_BATCH && rc == 0; i++) {
            memcpy(k.id, ids[i], sizeof(k.id));
            rc = ops->key_insert(s, t, &k, &e);
            if (rc == ERR_EXISTS)
                rc = 0;
        }
        if (rc == 0)
            rc = ops->commit(t, &e);
        else
            ops->abort(t);
        if (rc == ERR_FULL)
            i = start;      /* the map has grown: load the batch again */
        else if (rc != 0)
            die("loading keys", &e);
    }
}

static uint64_t
next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int
bench_verify(const char *dir, size_t n, long count)
{
    struct engine_options opt = { .config_dir = dir };
    char tok[ENGINE_TOKEN_LEN + 1];
    struct engine_auth au;
    struct store_user u;
    struct engine *en;
    struct err e;
    uint64_t x = 88172645463325252ULL;
    int64_t t0, t1, load;
    key_id *ids;
    long i, bad = 0;

    if (engine_open(&en, &opt, &e) != 0)
        die("open", &e);
    if (engine_user_create(en, "bench", NULL, 0, &u, &e) != 0)
        die("user", &e);
    ids = make_ids(n);
    t0 = util_mono_ns();
    load_keys(en, u.id, ids, n);
    load = util_mono_ns() - t0;

    tok[STORE_KEY_ID_LEN] = '-';
    memcpy(tok + STORE_KEY_ID_LEN + 1, SECRET, STORE_KEY_SECRET_LEN + 1);
    t0 = util_mono_ns();
    for (i = 0; i < count; i++) {
        memcpy(tok, ids[next_rand(&x) % n], STORE_KEY_ID_LEN);
        if (engine_token_verify(en, tok, NULL, &au, &e) != 0 ||
            au.result != ENGINE_AUTH_OK)
            bad++;
    }
    t1 = util_mono_ns();

    printf("keys %8zu  load %6.2f s  verify %6.3f us/op  "
           "(%ld calls, %ld refused)\n", n, (double)load / 1e9,
           (double)(t1 - t0) / 1e3 / (double)count, count, bad);
    free(ids);
    engine_close(en);
    return bad == 0 ? 0 : 1;
}

static int
append_one(const struct store_ops *ops, struct store *s,
           struct store_txn *t, bool csp, long i, struct err *e)
{
    struct store_agent_stat st;
    static const char body[] = "{\"document-uri\":\"https://coder.example"
        "/\",\"violated-directive\":\"script-src\",\"blocked-uri\":"
        "\"inline\",\"status-code\":200}";

    if (csp)
        return ops->csp_append(s, t, util_now_ns(), body, NULL, e);
    memset(&st, 0, sizeof(st));
    st.created_at = util_now_ns();
    util_uuid_new(st.id);
    util_uuid_new(st.workspace_id);
    util_uuid_new(st.agent_id);
    st.rx_bytes = i;
    st.tx_bytes = i;
    st.connection_median_latency_ms = 12.5;
    st.session_count_ssh = 1;
    return ops->stat_append(s, t, &st, e);
}

static int
bench_append(const char *dir, const char *kind, long batch, long total)
{
    struct engine_options opt = { .config_dir = dir };
    bool csp = strcmp(kind, "csp") == 0;
    const struct store_ops *ops;
    struct store_txn *t;
    struct engine *en;
    struct store *s;
    struct err e;
    int64_t t0, t1;
    long done = 0;
    int rc;

    if (engine_open(&en, &opt, &e) != 0)
        die("open", &e);
    s = engine_store(en);
    ops = store_ops_of(s);
    t0 = util_mono_ns();
    while (done < total) {
        long i;

        if (ops->begin(s, true, &t, &e) != 0)
            die("begin", &e);
        for (i = 0, rc = 0; i < batch && done + i < total && rc == 0; i++)
            rc = append_one(ops, s, t, csp, done + i, &e);
        if (rc == 0)
            rc = ops->commit(t, &e);
        else
            ops->abort(t);
        if (rc == 0)
            done += i;
        else if (rc != ERR_FULL)
            die("append", &e);
    }
    t1 = util_mono_ns();
    printf("%-5s batch %5ld  %7ld records  %9.0f records/s  "
           "(durable commits)\n", kind, batch, total,
           (double)total * 1e9 / (double)(t1 - t0));
    engine_close(en);
    return 0;
}

static long
num(const char *s)
{
    int64_t v;

    if (util_parse_i64(s, strlen(s), &v) != 0 || v <= 0) {
        fprintf(stderr, "store_bench: invalid number \"%s\"\n", s);
        exit(2);
    }
    return (long)v;
}

int
main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "verify") == 0)
        return bench_verify(argv[2], (size_t)num(argv[3]), num(argv[4]));
    if (argc == 6 && strcmp(argv[1], "append") == 0)
        return bench_append(argv[2], argv[3], num(argv[4]), num(argv[5]));
    fprintf(stderr, "usage: store_bench verify DIR KEYS COUNT\n"
            "       store_bench append DIR csp|stats BATCH TOTAL\n");
    return 2;
}
