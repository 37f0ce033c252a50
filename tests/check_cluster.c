/*
 * check_cluster.c: several `coder-cfg server` replicas on one PostgreSQL.
 *
 * Every test runs real server processes against a database of its own
 * (tu_pg_new_database), or, for the outage, against a private PostgreSQL
 * server that the test stops and starts again.  The engine-level tests
 * open two engines on one database to watch the key cache and its events
 * from the inside.
 */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/util.h"
#include "tests/pgutil.h"
#include "tests/testutil.h"

#define SEC UTIL_NS_PER_SEC
#define MS (SEC / 1000)
#define HOUR (INT64_C(3600) * SEC)
#define REPLICAS 3
#define CONFIG_PATH "/api/v2/deployment/config"

/* ------------------------------------------------------------------------
 * Helpers
 */

static int64_t
mono_ms(void)
{
    return util_mono_ns() / MS;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* The environment of a replica or an admin command on url. */
static void
cluster_env(struct tu_env *env, const char *url)
{
    tu_env_init(env);
    tu_env_set(env, "CODER_PG_CONNECTION_URL", url);
    tu_env_set(env, "CODER_API_RATE_LIMIT", "-1");
}

/* Runs an admin command on url; its trimmed stdout (heap). */
static char *
admin(const char *url, char *const args[])
{
    struct tu_env env;
    char *out = NULL;
    char *err = NULL;
    size_t n;
    int rc;

    cluster_env(&env, url);
    rc = tu_run(args, &env, &out, &err);
    tu_env_release(&env);
    ck_assert_msg(rc == 0, "%s %s failed (%d): %s", args[0], args[1], rc,
                  err != NULL ? err : "");
    free(err);
    n = out != NULL ? strlen(out) : 0;
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    return out;
}

/* An owner and a token for it, made through the database; heap token. */
static char *
owner_token(const char *url, const char *name)
{
    char email[96];
    char *user[] = { (char *)"users", (char *)"create", (char *)"--username",
                     (char *)name, (char *)"--email", email,
                     (char *)"--roles", (char *)"owner", NULL };
    char *tok[] = { (char *)"tokens", (char *)"create",
                    (char *)"--username", (char *)name, NULL };
    char *token;

    snprintf(email, sizeof(email), "%s@example.com", name);
    free(admin(url, user));
    token = admin(url, tok);
    ck_assert_uint_eq(strlen(token), ENGINE_TOKEN_LEN);
    return token;
}

/*
 * Starts a replica on url without waiting for it; access_url may be NULL.
 * Together with replica_ready this lets several start at once.
 */
static void
replica_spawn(struct tu_server *s, const char *url, const char *access_url)
{
    char addr[32];
    char *argv[] = { (char *)tu_bin(), (char *)"server",
                     (char *)"--http-address", addr, NULL };
    struct tu_env env;

    memset(s, 0, sizeof(*s));
    s->owns_dir = true;
    s->dir = tu_tmpdir();
    s->port = tu_free_port();
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s->port);
    cluster_env(&env, url);
    tu_env_set(&env, "CODER_CONFIG_DIR", s->dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    if (access_url != NULL)
        tu_env_set(&env, "CODER_ACCESS_URL", access_url);
    tu_proc_start(&s->proc, argv, env.v);
    tu_env_release(&env);
}

/* Waits until the replica answers /healthz (20 s at most). */
static void
replica_ready(struct tu_server *s)
{
    int64_t deadline = mono_ms() + 20000;
    struct tu_resp r;
    char *log;
    long st;

    for (;;) {
        st = tu_get(s, "/healthz", NULL, NULL, &r) == 0 ? r.status : 0;
        tu_resp_release(&r);
        if (st == 200)
            return;
        if (tu_proc_wait_ms(&s->proc, 0) >= 0 || mono_ms() > deadline)
            break;
        sleep_ms(20);
    }
    log = tu_read_file(s->proc.err_path);
    ck_abort_msg("replica on port %d never became ready: %s", s->port,
                 log != NULL ? log : "");
}

/* The status of GET path on s with token (0 when no answer came). */
static long
status_of(struct tu_server *s, const char *path, const char *token)
{
    struct tu_resp r;
    long st;

    st = tu_get(s, path, token, NULL, &r) == 0 ? r.status : 0;
    tu_resp_release(&r);
    return st;
}

/* A JSON body, parsed; aborts the test when it is not JSON. */
static json_t *
body_json(const struct tu_resp *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body != NULL ? r->body : "", r->len, 0, &je);

    ck_assert_msg(j != NULL, "not JSON (%s): %.200s", je.text,
                  r->body != NULL ? r->body : "");
    return j;
}

/* deployment_id from /api/v2/buildinfo (heap). */
static char *
deployment_id_of(struct tu_server *s)
{
    struct tu_resp r;
    json_t *j;
    char *id;

    ck_assert_int_eq(tu_get(s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    j = body_json(&r);
    id = strdup(json_string_value(json_object_get(j, "deployment_id")));
    ck_assert_ptr_nonnull(id);
    json_decref(j);
    tu_resp_release(&r);
    return id;
}

/*
 * Polls every replica until each answers want for path with token, or
 * ms pass; returns the milliseconds it took, or -1.
 */
static int64_t
all_answer(struct tu_server *s, size_t n, const char *token, long want,
           int64_t ms)
{
    int64_t start = mono_ms();
    bool done[REPLICAS] = { false };
    size_t left = n, i;

    while (left > 0 && mono_ms() - start <= ms) {
        for (i = 0; i < n; i++) {
            if (!done[i] && status_of(&s[i], CONFIG_PATH, token) == want) {
                done[i] = true;
                left--;
            }
        }
        if (left > 0)
            sleep_ms(5);
    }
    return left == 0 ? mono_ms() - start : -1;
}

/* ------------------------------------------------------------------------
 * Three replicas, one deployment, one set of tokens
 */

START_TEST(cluster_replicas_share_id_and_tokens)
{
    char *del[] = { (char *)"tokens", (char *)"delete", NULL, NULL };
    struct tu_server s[REPLICAS];
    char key_id[STORE_KEY_ID_LEN + 1];
    char *url = tu_pg_new_database();
    char *ids[REPLICAS];
    char *token;
    int64_t took;
    size_t i;

    /* Started together, they race to create the deployment ID. */
    for (i = 0; i < REPLICAS; i++)
        replica_spawn(&s[i], url, NULL);
    for (i = 0; i < REPLICAS; i++) {
        replica_ready(&s[i]);
        ids[i] = deployment_id_of(&s[i]);
        ck_assert(util_uuid_valid(ids[i]));
        ck_assert_str_eq(ids[i], ids[0]);
    }

    /* Made through the database, the token works everywhere at once. */
    token = owner_token(url, "alice");
    for (i = 0; i < REPLICAS; i++)
        ck_assert_int_eq(status_of(&s[i], CONFIG_PATH, token), 200);

    /* Each replica has just cached it; a delete still wins in 1 s. */
    for (i = 0; i < REPLICAS; i++)
        ck_assert_int_eq(status_of(&s[i], CONFIG_PATH, token), 200);
    memcpy(key_id, token, STORE_KEY_ID_LEN);
    key_id[STORE_KEY_ID_LEN] = '\0';
    del[2] = key_id;
    free(admin(url, del));
    took = all_answer(s, REPLICAS, token, 401, 1000);
    ck_assert_msg(took >= 0, "a deleted token still works after 1 s");

    for (i = 0; i < REPLICAS; i++) {
        ck_assert_int_eq(tu_server_stop(&s[i]), 0);
        free(ids[i]);
    }
    free(token);
    tu_pg_drop_database(url);
}
END_TEST

/* ------------------------------------------------------------------------
 * Replica drift: every replica's config is on record
 */

struct drift {
    char ids[4][STORE_UUID_LEN + 1];
    int has_a[4], has_b[4];
    int n;
};

static int
note_snapshot(const struct store_snapshot *snap, void *ctx)
{
    struct drift *d = ctx;

    ck_assert_int_lt(d->n, 4);
    memcpy(d->ids[d->n], snap->replica_id, sizeof(d->ids[0]));
    d->has_a[d->n] = strstr(snap->json, "https://a.example.com") != NULL;
    d->has_b[d->n] = strstr(snap->json, "https://b.example.com") != NULL;
    d->n++;
    return 0;
}

static int
count_live(const struct store_replica *r, void *ctx)
{
    int *n = ctx;

    *n += !r->gone && r->heartbeat_at > 0 && r->hostname[0] != '\0';
    return 0;
}

/* Opens the cluster's store in the test, as `dump` would. */
static struct store *
store_at(const char *url)
{
    struct store_options so;
    struct store *st = NULL;
    struct err e;

    memset(&so, 0, sizeof(so));
    so.url = url;
    so.durable = true;
    so.pool_size = 2;
    err_clear(&e);
    ck_assert_msg(store_open(&store_postgres_ops, &so, &st, &e) == 0,
                  "store_open: %s", e.msg);
    return st;
}

START_TEST(cluster_drifting_replicas_are_both_recorded)
{
    char *url = tu_pg_new_database();
    struct drift d;
    struct tu_server a, b;
    struct store *st;
    struct err e;
    int live = 0;

    replica_spawn(&a, url, "https://a.example.com");
    replica_spawn(&b, url, "https://b.example.com");
    replica_ready(&a);
    replica_ready(&b);

    memset(&d, 0, sizeof(d));
    err_clear(&e);
    st = store_at(url);
    ck_assert_int_eq(store_ops_of(st)->snapshot_scan(st, NULL, NULL,
                                                     note_snapshot, &d, &e),
                     0);
    ck_assert_int_eq(store_ops_of(st)->replica_list(st, NULL, count_live,
                                                    &live, &e), 0);
    store_close(st);

    /* Two replicas, two snapshots, each with its own access URL only. */
    ck_assert_int_eq(live, 2);
    ck_assert_int_eq(d.n, 2);
    ck_assert_str_ne(d.ids[0], d.ids[1]);
    ck_assert_int_eq(d.has_a[0] + d.has_a[1], 1);
    ck_assert_int_eq(d.has_b[0] + d.has_b[1], 1);
    ck_assert_int_ne(d.has_a[0], d.has_b[0]);

    ck_assert_int_eq(tu_server_stop(&a), 0);
    ck_assert_int_eq(tu_server_stop(&b), 0);
    tu_pg_drop_database(url);
}
END_TEST

/* ------------------------------------------------------------------------
 * deployment/stats is the same everywhere
 */

static void
seed_stats(const char *url)
{
    struct store_agent_stat as;
    struct store_workspace w;
    struct store *st = store_at(url);
    struct err e;
    int i;

    err_clear(&e);
    for (i = 0; i < 3; i++) {
        memset(&w, 0, sizeof(w));
        util_uuid_new(w.id);
        util_uuid_new(w.owner_id);
        snprintf(w.name, sizeof(w.name), "ws%d", i);
        w.created_at = util_now_ns() - HOUR;
        w.has_build = i > 0;
        w.transition = STORE_TRANSITION_START;
        w.job_started_at = w.job_completed_at = w.created_at;
        ck_assert_int_eq(store_ops_of(st)->workspace_put(st, NULL, &w, &e),
                         0);

        memset(&as, 0, sizeof(as));
        as.created_at = util_now_ns() - 60 * SEC;
        util_uuid_new(as.id);
        memcpy(as.workspace_id, w.id, sizeof(as.workspace_id));
        util_uuid_new(as.agent_id);
        as.rx_bytes = 1000 * (i + 1);
        as.tx_bytes = 10 * (i + 1);
        as.connection_median_latency_ms = 5.0 * (i + 1);
        as.session_count_ssh = i;
        ck_assert_int_eq(store_ops_of(st)->stat_append(st, NULL, &as, &e),
                         0);
    }
    store_close(st);
}

/* The stats body without its three timestamps (heap JSON text). */
static char *
stats_counts(struct tu_server *s, const char *token)
{
    struct tu_resp r;
    json_t *j;
    char *text;

    ck_assert_int_eq(tu_get(s, "/api/v2/deployment/stats", token, NULL, &r),
                     0);
    ck_assert_msg(r.status == 200, "stats: %ld %s", r.status, r.body);
    j = body_json(&r);
    json_object_del(j, "aggregated_from");
    json_object_del(j, "collected_at");
    json_object_del(j, "next_update_at");
    text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    tu_resp_release(&r);
    return text;
}

START_TEST(cluster_stats_are_the_same_on_every_replica)
{
    char *url = tu_pg_new_database();
    struct tu_server a, b;
    char *token, *sa, *sb;

    seed_stats(url);
    token = owner_token(url, "stella");
    replica_spawn(&a, url, NULL);
    replica_spawn(&b, url, NULL);
    replica_ready(&a);
    replica_ready(&b);

    sa = stats_counts(&a, token);
    sb = stats_counts(&b, token);
    ck_assert_str_eq(sa, sb);
    ck_assert_msg(strstr(sa, "\"rx_bytes\":6000") != NULL, "%s", sa);
    ck_assert_msg(strstr(sa, "\"running\":2") != NULL, "%s", sa);

    free(sa);
    free(sb);
    free(token);
    ck_assert_int_eq(tu_server_stop(&a), 0);
    ck_assert_int_eq(tu_server_stop(&b), 0);
    tu_pg_drop_database(url);
}
END_TEST

/* ------------------------------------------------------------------------
 * Outages
 */

/* Authenticated requests in a loop, counting what comes back. */
struct load {
    struct tu_server *s;
    const char *token;
    volatile int stop;
    int ok, unavailable, other, none;
    int64_t slowest_ms;
    long other_status;
};

static void *
load_main(void *arg)
{
    struct load *l = arg;
    int64_t t;
    long st;

    while (!l->stop) {
        t = mono_ms();
        st = status_of(l->s, CONFIG_PATH, l->token);
        t = mono_ms() - t;
        l->slowest_ms = t > l->slowest_ms ? t : l->slowest_ms;
        if (st == 200)
            l->ok++;
        else if (st == 503)
            l->unavailable++;
        else if (st == 0)
            l->none++;
        else {
            l->other++;
            l->other_status = st;
        }
    }
    return NULL;
}

/* Polls GET path until it answers want (ms at most); true if it did. */
static bool
wait_status(struct tu_server *s, const char *path, const char *token,
            long want, int64_t ms)
{
    int64_t deadline = mono_ms() + ms;

    while (mono_ms() <= deadline) {
        if (status_of(s, path, token) == want)
            return true;
        sleep_ms(20);
    }
    return false;
}

/* The 503 itself: quick, JSON, with a message. */
static void
check_unavailable_reply(struct tu_server *s, const char *token)
{
    struct tu_resp r;
    int64_t t = mono_ms();
    json_t *j;

    ck_assert_int_eq(tu_get(s, CONFIG_PATH, token, NULL, &r), 0);
    ck_assert_int_lt(mono_ms() - t, 5000);
    ck_assert_int_eq(r.status, 503);
    j = body_json(&r);
    ck_assert(json_is_string(json_object_get(j, "message")));
    json_decref(j);
    tu_resp_release(&r);
}

START_TEST(cluster_replica_survives_a_database_outage)
{
    pthread_t th;
    struct tu_server s;
    struct load l;
    char *dir = NULL;
    char *url = tu_pg_server_start(&dir);
    char *tok1 = owner_token(url, "olga");
    char *tok2;

    replica_spawn(&s, url, NULL);
    replica_ready(&s);
    tok2 = owner_token(url, "oscar");
    ck_assert_int_eq(status_of(&s, CONFIG_PATH, tok1), 200);
    memset(&l, 0, sizeof(l));
    l.s = &s;
    l.token = tok1;
    ck_assert_int_eq(pthread_create(&th, NULL, load_main, &l), 0);
    sleep_ms(300);

    /* Down: 503 (after at most a second of cached keys), no crash. */
    tu_pg_server_ctl("pause", dir);
    ck_assert_msg(wait_status(&s, CONFIG_PATH, tok1, 503, 5000),
                  "no 503 within 5 s of the database going away");
    check_unavailable_reply(&s, tok2);
    ck_assert_int_eq(status_of(&s, "/api/v2/buildinfo", NULL), 200);
    ck_assert_int_eq(status_of(&s, "/healthz", NULL), 200);
    sleep_ms(1500);
    ck_assert_int_eq(tu_proc_wait_ms(&s.proc, 0), -1);

    /* Back: the same process serves again, and nothing was lost. */
    tu_pg_server_ctl("resume", dir);
    ck_assert_msg(wait_status(&s, CONFIG_PATH, tok1, 200, 15000),
                  "no 200 within 15 s of the database coming back");
    ck_assert_int_eq(status_of(&s, CONFIG_PATH, tok2), 200);
    sleep_ms(200);
    l.stop = 1;
    pthread_join(th, NULL);
    ck_assert_int_gt(l.ok, 0);
    ck_assert_int_gt(l.unavailable, 0);
    ck_assert_msg(l.none == 0 && l.other == 0, "%d without an answer, %d "
                  "other (last %ld)", l.none, l.other, l.other_status);
    ck_assert_int_lt(l.slowest_ms, 5000);

    ck_assert_int_eq(tu_server_stop(&s), 0);
    tu_pg_server_ctl("stop", dir);
    free(dir);
    free(url);
    free(tok1);
    free(tok2);
}
END_TEST

START_TEST(cluster_start_with_database_down_gives_up_clearly)
{
    char pgurl[96];
    char addr[32];
    char *argv[] = { (char *)tu_bin(), (char *)"server",
                     (char *)"--http-address", addr, NULL };
    struct tu_proc p;
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *err;
    int64_t t = mono_ms();
    int rc;

    /* A port nobody listens on: every attempt is refused at once. */
    snprintf(pgurl, sizeof(pgurl), "postgresql://postgres@127.0.0.1:%d/x",
             tu_free_port());
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", tu_free_port());
    cluster_env(&env, pgurl);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    tu_env_set(&env, "CODER_CFG_POSTGRES_CONNECT_TIMEOUT", "3s");
    tu_proc_start(&p, argv, env.v);
    tu_env_release(&env);
    rc = tu_proc_wait_ms(&p, 20000);
    if (rc < 0)
        tu_proc_kill(&p, SIGKILL);

    /* Retried within the 3 s asked for (not the default 30 s), then a
     * clear exit. */
    ck_assert_int_eq(rc, 1);
    ck_assert_int_ge(mono_ms() - t, 1000);
    ck_assert_int_lt(mono_ms() - t, 10000);
    err = tu_read_file(p.err_path);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "gave up after") != NULL &&
                  strstr(err, "postgres") != NULL, "stderr: %s", err);
    free(err);
    tu_proc_release(&p);
    tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------------
 * The key cache, seen from two engines on one database
 */

static struct engine *
engine_at(const char *url)
{
    struct engine_options o;
    struct engine *en = NULL;
    struct err e;

    memset(&o, 0, sizeof(o));
    o.pg_url = url;
    o.pool_size = 4;
    err_clear(&e);
    ck_assert_msg(engine_open(&en, &o, &e) == 0, "engine_open: %s", e.msg);
    return en;
}

static enum engine_auth_result
verdict(struct engine *en, const char *token)
{
    struct engine_auth au;
    struct err e;

    err_clear(&e);
    ck_assert_msg(engine_token_verify(en, token, NULL, &au, &e) == 0,
                  "verify: %s", e.msg);
    return au.result;
}

/* Milliseconds until en refuses token (up to ms), or -1. */
static int64_t
refused_after(struct engine *en, const char *token, int64_t ms)
{
    int64_t start = mono_ms();

    while (mono_ms() - start <= ms) {
        if (verdict(en, token) != ENGINE_AUTH_OK)
            return mono_ms() - start;
        sleep_ms(2);
    }
    return -1;
}

/* A fresh owner token in en (heap copy into tok). */
static void
make_token(struct engine *en, const char *name, char *tok,
           struct store_key *k)
{
    struct store_user u;
    struct err e;

    err_clear(&e);
    ck_assert_int_eq(engine_user_create(en, name, NULL, STORE_ROLE_OWNER,
                                        &u, &e), 0);
    ck_assert_int_eq(engine_token_create(en, u.id, HOUR, NULL, tok, k, &e),
                     0);
}

/*
 * A key deleted behind the notify trigger's back stays trusted for at
 * most the cache's second (so the cache is really used); deleted the
 * ordinary way, the event ends it well within that second.
 */
START_TEST(cluster_cache_honours_events_and_its_ttl)
{
    char tok1[ENGINE_TOKEN_LEN + 1], tok2[ENGINE_TOKEN_LEN + 1];
    char *url = tu_pg_new_database();
    struct engine *a = engine_at(url);
    struct engine *b = engine_at(url);
    struct store_key k1, k2;
    char sql[256];
    int64_t ms;
    struct err e;

    make_token(b, "carl", tok1, &k1);
    make_token(b, "cleo", tok2, &k2);

    /* The first use writes last_used (an event); the second caches. */
    ck_assert_int_eq(verdict(a, tok1), ENGINE_AUTH_OK);
    ck_assert_int_eq(verdict(a, tok2), ENGINE_AUTH_OK);
    sleep_ms(200);
    ck_assert_int_eq(verdict(a, tok1), ENGINE_AUTH_OK);
    snprintf(sql, sizeof(sql), "ALTER TABLE coder_cfg.api_keys DISABLE "
             "TRIGGER USER; DELETE FROM coder_cfg.api_keys WHERE id = '%s';"
             " ALTER TABLE coder_cfg.api_keys ENABLE TRIGGER USER", k1.id);
    free(tu_pg_query(url, sql));
    ck_assert_int_eq(verdict(a, tok1), ENGINE_AUTH_OK);
    ms = refused_after(a, tok1, 1500);
    ck_assert_int_ge(ms, 0);
    ck_assert_int_le(ms, 1000);
    ck_assert_int_eq(verdict(a, tok1), ENGINE_AUTH_UNKNOWN_ID);

    ck_assert_int_eq(verdict(a, tok2), ENGINE_AUTH_OK);
    ck_assert_int_eq(verdict(b, tok2), ENGINE_AUTH_OK);
    err_clear(&e);
    ck_assert_int_eq(engine_token_delete(b, k2.id, &e), 0);
    ms = refused_after(a, tok2, 1000);
    ck_assert_int_ge(ms, 0);
    ck_assert_int_lt(ms, 300);
    ck_assert_int_eq(verdict(b, tok2), ENGINE_AUTH_UNKNOWN_ID);

    engine_close(a);
    engine_close(b);
    tu_pg_drop_database(url);
}
END_TEST

/* A user suspended here is refused here at once, cache or not. */
START_TEST(cluster_cache_drops_users_changed_here)
{
    char tok[ENGINE_TOKEN_LEN + 1];
    char *url = tu_pg_new_database();
    struct engine *a = engine_at(url);
    struct store_key k;
    struct err e;

    make_token(a, "sue", tok, &k);
    ck_assert_int_eq(verdict(a, tok), ENGINE_AUTH_OK);
    err_clear(&e);
    ck_assert_int_eq(engine_user_set_status(a, k.user_id,
                                            STORE_USER_SUSPENDED, &e), 0);
    ck_assert_int_eq(verdict(a, tok), ENGINE_AUTH_SUSPENDED);
    engine_close(a);
    tu_pg_drop_database(url);
}
END_TEST

/* Sessions of url's database that LISTEN for cluster events. */
static int
listeners(const char *url)
{
    char *n = tu_pg_query(url, "SELECT count(*) FROM pg_stat_activity"
                          " WHERE datname = current_database()"
                          " AND query ILIKE 'LISTEN %'");
    long v = strtol(n, NULL, 10);

    free(n);
    return (int)v;
}

/*
 * A short-lived command opens its engine with no_events: no listening
 * session, and so no cache either, which a key deleted behind the
 * trigger's back shows by being refused at once.
 */
START_TEST(cluster_engine_without_events_listens_and_caches_nothing)
{
    char tok[ENGINE_TOKEN_LEN + 1];
    char *url = tu_pg_new_database();
    struct engine_options o;
    struct engine *en = NULL;
    struct engine *server;
    struct store_key k;
    char sql[256];
    struct err e;

    memset(&o, 0, sizeof(o));
    o.pg_url = url;
    o.no_events = true;
    err_clear(&e);
    ck_assert_msg(engine_open(&en, &o, &e) == 0, "engine_open: %s", e.msg);
    ck_assert_int_eq(listeners(url), 0);
    server = engine_at(url);
    ck_assert_int_eq(listeners(url), 1);
    engine_close(server);

    make_token(en, "nell", tok, &k);
    ck_assert_int_eq(verdict(en, tok), ENGINE_AUTH_OK);
    ck_assert_int_eq(verdict(en, tok), ENGINE_AUTH_OK);
    snprintf(sql, sizeof(sql), "ALTER TABLE coder_cfg.api_keys DISABLE "
             "TRIGGER USER; DELETE FROM coder_cfg.api_keys WHERE id = '%s';"
             " ALTER TABLE coder_cfg.api_keys ENABLE TRIGGER USER", k.id);
    free(tu_pg_query(url, sql));
    ck_assert_int_eq(verdict(en, tok), ENGINE_AUTH_UNKNOWN_ID);
    engine_close(en);
    tu_pg_drop_database(url);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("check_cluster");
    TCase *servers = tcase_create("servers");
    TCase *outage = tcase_create("outage");
    TCase *cache = tcase_create("cache");
    SRunner *sr;
    int failed;

    tcase_set_timeout(servers, 90);
    tcase_add_test(servers, cluster_replicas_share_id_and_tokens);
    tcase_add_test(servers, cluster_drifting_replicas_are_both_recorded);
    tcase_add_test(servers, cluster_stats_are_the_same_on_every_replica);
    tcase_set_timeout(outage, 120);
    tcase_add_test(outage, cluster_replica_survives_a_database_outage);
    tcase_add_test(outage, cluster_start_with_database_down_gives_up_clearly);
    tcase_set_timeout(cache, 60);
    tcase_add_test(cache, cluster_cache_honours_events_and_its_ttl);
    tcase_add_test(cache, cluster_cache_drops_users_changed_here);
    tcase_add_test(cache,
                   cluster_engine_without_events_listens_and_caches_nothing);
    suite_add_tcase(s, servers);
    suite_add_tcase(s, outage);
    suite_add_tcase(s, cache);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
