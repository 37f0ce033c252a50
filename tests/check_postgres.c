/*
 * check_postgres.c: what only the PostgreSQL backend does: migrations
 * under concurrency, schema versions, outages, cluster events and locks.
 * The behaviour every backend shares is in check_store.c.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/store.h"
#include "core/err.h"
#include "core/util.h"
#include "pgutil.h"
#include "testutil.h"

#define OPS (&store_postgres_ops)
#define MS (INT64_C(1000) * 1000)

static struct store *
open_url(const char *url)
{
    struct store_options opt;
    struct store *s = NULL;
    struct err e;
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.url = url;
    opt.pool_size = 4;
    opt.connect_timeout_ns = 5 * UTIL_NS_PER_SEC;
    rc = OPS->open(&s, &opt, &e);
    ck_assert_msg(rc == 0, "open: %s", e.msg);
    return s;
}

static void
make_user(struct store_user *u, const char *name)
{
    memset(u, 0, sizeof(*u));
    util_uuid_new(u->id);
    snprintf(u->username, sizeof(u->username), "%s", name);
    snprintf(u->email, sizeof(u->email), "%s@example.com", name);
    u->created_at = util_now_ns();
    u->updated_at = u->created_at;
}

static void
make_key(struct store_key *k, const char *user_id)
{
    memset(k, 0, sizeof(*k));
    util_random_alnum(k->id, STORE_KEY_ID_LEN);
    memset(k->hashed_secret, 0xab, sizeof(k->hashed_secret));
    snprintf(k->user_id, sizeof(k->user_id), "%s", user_id);
    k->created_at = util_now_ns();
    k->updated_at = k->created_at;
    k->expires_at = k->created_at + 3600 * UTIL_NS_PER_SEC;
    k->lifetime_seconds = 3600;
    k->login_type = STORE_LOGIN_TOKEN;
    snprintf(k->token_name, sizeof(k->token_name), "t-%s", k->id);
}

/* ---- racing opens ---- */

struct opener {
    const char *url;
    char id[STORE_UUID_LEN + 1];
    int rc;
};

static void *
open_and_read_id(void *arg)
{
    struct opener *o = arg;
    struct store_options opt;
    struct store *s = NULL;

    memset(&opt, 0, sizeof(opt));
    opt.url = o->url;
    o->rc = OPS->open(&s, &opt, NULL);
    if (o->rc == 0)
        o->rc = OPS->deployment_id(s, o->id, NULL);
    OPS->close(s);
    return NULL;
}

START_TEST(racing_opens_migrate_once_and_share_one_deployment_id)
{
    char *url = tu_pg_new_database();
    struct opener o[3];
    pthread_t th[3];
    char *n;

    for (int i = 0; i < 3; i++) {
        memset(&o[i], 0, sizeof(o[i]));
        o[i].url = url;
        ck_assert_int_eq(pthread_create(&th[i], NULL, open_and_read_id,
                                        &o[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(o[i].rc, 0);
        ck_assert(util_uuid_valid(o[i].id));
        ck_assert_str_eq(o[i].id, o[0].id);
    }
    n = tu_pg_query(url, "SELECT count(*) FROM coder_cfg.schema_migrations");
    ck_assert_str_eq(n, "1");
    free(n);
    n = tu_pg_query(url, "SELECT count(*) FROM coder_cfg.site_config"
                    " WHERE key = 'deployment_id'");
    ck_assert_str_eq(n, "1");
    free(n);
    tu_pg_drop_database(url);
}
END_TEST

START_TEST(newer_schema_version_is_refused)
{
    char *url = tu_pg_new_database();
    struct store_options opt;
    struct store *s;
    struct err e;

    OPS->close(open_url(url));
    free(tu_pg_query(url, "INSERT INTO coder_cfg.schema_migrations"
                     " VALUES (99, 0)"));
    memset(&opt, 0, sizeof(opt));
    opt.url = url;
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_VERSION);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(e.msg, "database schema version 99 is newer than "
                         "this coder-cfg supports (1)") != NULL,
                  "message: %s", e.msg);
    tu_pg_drop_database(url);
}
END_TEST

START_TEST(malformed_url_is_invalid)
{
    struct store_options opt;
    struct store *s;
    struct err e;

    memset(&opt, 0, sizeof(opt));
    opt.url = "postgresql://127.0.0.1:5432/db?nosuchoption=1";
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "invalid postgres url") != NULL, "%s",
                  e.msg);
    opt.url = "";
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_INVALID);
}
END_TEST

START_TEST(unparsable_url_message_quotes_none_of_it)
{
    struct store_options opt;
    struct store *s;
    struct err e;

    memset(&opt, 0, sizeof(opt));
    opt.url = "postgres://user:hunter%zz2@127.0.0.1/db";
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_INVALID);
    ck_assert_str_eq(e.msg, "invalid postgres url: cannot be parsed");
    opt.url = "host=127.0.0.1 password='hunter2";
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_INVALID);
    ck_assert_str_eq(e.msg, "invalid postgres url: cannot be parsed");
}
END_TEST

START_TEST(refused_connection_message_omits_the_password)
{
    struct store_options opt;
    struct store *s;
    struct err e;
    char url[128];

    snprintf(url, sizeof(url), "postgresql://pguser:Sent1nelPw@127.0.0.1:"
             "%d/x?connect_timeout=1", tu_free_port());
    memset(&opt, 0, sizeof(opt));
    opt.url = url;
    opt.connect_timeout_ns = 1 * UTIL_NS_PER_SEC;
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_UNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "Sent1nel") == NULL, "message: %s", e.msg);
    ck_assert_msg(strstr(e.msg, "cannot connect to postgres: ") != NULL,
                  "message: %s", e.msg);
}
END_TEST

START_TEST(unreachable_server_gives_up_after_connect_timeout)
{
    struct store_options opt;
    struct store *s;
    struct err e;
    char url[96];
    int64_t t0, took;

    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/x",
             tu_free_port());
    memset(&opt, 0, sizeof(opt));
    opt.url = url;
    opt.connect_timeout_ns = 1 * UTIL_NS_PER_SEC;
    t0 = util_mono_ns();
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_UNAVAILABLE);
    took = util_mono_ns() - t0;
    ck_assert_msg(took >= 500 * MS && took < 4 * UTIL_NS_PER_SEC,
                  "gave up after %lld ms", (long long)(took / MS));
    ck_assert_msg(strstr(e.msg, "gave up after 1 s") != NULL, "%s", e.msg);
}
END_TEST

/* A message on one line: no newline or tab, no doubled or edge space. */
static void
assert_one_line(const char *msg)
{
    size_t n = strlen(msg);

    ck_assert_msg(strpbrk(msg, "\n\t\r") == NULL, "message: %s", msg);
    ck_assert_msg(strstr(msg, "  ") == NULL, "message: %s", msg);
    ck_assert_msg(n > 0 && msg[0] != ' ' && msg[n - 1] != ' ',
                  "message: \"%s\"", msg);
}

/*
 * libpq's own texts run over lines (a tab-indented hint under a refused
 * connection); what reaches struct err is flattened.
 */
START_TEST(libpq_messages_arrive_on_one_line)
{
    struct store_options opt;
    struct store *s;
    struct err e;

    memset(&opt, 0, sizeof(opt));
    opt.url = "postgresql://postgres@127.0.0.1:1/x?connect_timeout=1";
    opt.connect_timeout_ns = 1 * UTIL_NS_PER_SEC;
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_UNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "cannot connect to postgres: ") != NULL &&
                  strstr(e.msg, "Connection refused Is the server "
                         "running") != NULL, "message: %s", e.msg);
    assert_one_line(e.msg);

    opt.url = "postgresql://127.0.0.1:5432/db?nosuchoption=1";
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_INVALID);
    assert_one_line(e.msg);
    opt.url = "host='unterminated";
    ck_assert_int_eq(OPS->open(&s, &opt, &e), ERR_INVALID);
    assert_one_line(e.msg);
}
END_TEST

/*
 * A connection lost under a transaction: libpq's text for it runs over
 * three lines, with tabs.
 */
START_TEST(lost_connection_error_arrives_on_one_line)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    struct store_txn *t;
    struct store_user u;
    struct err e;

    ck_assert_int_eq(OPS->begin(s, false, &t, &e), 0);
    free(tu_pg_query(url, "SELECT pg_terminate_backend(pid)"
                     " FROM pg_stat_activity"
                     " WHERE datname = current_database()"
                     " AND pid <> pg_backend_pid()"));
    ck_assert_int_eq(OPS->user_get(s, t, "x", &u, &e), ERR_UNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "postgres unavailable: ") != NULL,
                  "message: %s", e.msg);
    assert_one_line(e.msg);
    OPS->abort(t);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

/* ---- events ---- */

struct events {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    enum store_event ev[64];
    char subject[64][STORE_UUID_LEN + 1];
};

static void
events_init(struct events *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void
on_event(enum store_event ev, const char *subject, void *ctx)
{
    struct events *r = ctx;

    pthread_mutex_lock(&r->mu);
    if (r->n < 64) {
        r->ev[r->n] = ev;
        snprintf(r->subject[r->n], sizeof(r->subject[0]), "%s", subject);
        r->n++;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static bool
seen(struct events *r, enum store_event ev, const char *subject)
{
    for (int i = 0; i < r->n; i++)
        if (r->ev[i] == ev && (subject == NULL ||
                               strcmp(r->subject[i], subject) == 0))
            return true;
    return false;
}

/* True when ev (with subject, unless NULL) arrives within ms. */
static bool
wait_event(struct events *r, enum store_event ev, const char *subject,
           int ms)
{
    int64_t until = util_mono_ns() + ms * MS;
    bool ok;

    pthread_mutex_lock(&r->mu);
    while (!(ok = seen(r, ev, subject)) && util_mono_ns() < until) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

START_TEST(key_deleted_on_one_replica_is_an_event_on_another)
{
    char *url = tu_pg_new_database();
    struct store *a = open_url(url);
    struct store *b = open_url(url);
    struct events r;
    struct store_key k;
    char uid[STORE_UUID_LEN + 1];

    events_init(&r);
    ck_assert_int_eq(OPS->subscribe(b, on_event, &r, NULL), 0);
    util_uuid_new(uid);
    make_key(&k, uid);
    ck_assert_int_eq(OPS->key_insert(a, NULL, &k, NULL), 0);
    ck_assert_int_eq(OPS->key_delete(a, NULL, k.id, NULL), 0);
    ck_assert_msg(wait_event(&r, STORE_EVENT_KEY_DELETED, k.id, 1000),
                  "no KEY_DELETED for %s within 1 s", k.id);
    ck_assert_int_eq(OPS->key_get(b, NULL, k.id, &k, NULL), ERR_NOT_FOUND);
    OPS->close(a);
    OPS->close(b);
    tu_pg_drop_database(url);
}
END_TEST

START_TEST(rolled_back_delete_sends_no_event)
{
    char *url = tu_pg_new_database();
    struct store *a = open_url(url);
    struct events r;
    struct store_txn *t;
    struct store_key k, k2;
    char uid[STORE_UUID_LEN + 1];

    events_init(&r);
    ck_assert_int_eq(OPS->subscribe(a, on_event, &r, NULL), 0);
    util_uuid_new(uid);
    make_key(&k, uid);
    make_key(&k2, uid);
    ck_assert_int_eq(OPS->key_insert(a, NULL, &k, NULL), 0);
    ck_assert_int_eq(OPS->key_insert(a, NULL, &k2, NULL), 0);
    ck_assert_int_eq(OPS->begin(a, true, &t, NULL), 0);
    ck_assert_int_eq(OPS->key_delete(a, t, k.id, NULL), 0);
    OPS->abort(t);
    ck_assert_int_eq(OPS->key_delete(a, NULL, k2.id, NULL), 0);
    ck_assert(wait_event(&r, STORE_EVENT_KEY_DELETED, k2.id, 1000));
    ck_assert(!seen(&r, STORE_EVENT_KEY_DELETED, k.id));
    ck_assert_int_eq(OPS->key_get(a, NULL, k.id, &k2, NULL), 0);
    OPS->close(a);
    tu_pg_drop_database(url);
}
END_TEST

START_TEST(snapshot_from_one_replica_is_an_event_on_another)
{
    char *url = tu_pg_new_database();
    struct store *a = open_url(url);
    struct store *b = open_url(url);
    struct store_snapshot snap;
    struct events r;

    events_init(&r);
    ck_assert_int_eq(OPS->subscribe(b, on_event, &r, NULL), 0);
    memset(&snap, 0, sizeof(snap));
    util_uuid_new(snap.replica_id);
    snap.taken_at = util_now_ns();
    snap.json = (char *)"{\"access_url\":\"https://a.example.com\"}";
    ck_assert_int_eq(OPS->snapshot_append(a, NULL, &snap, NULL), 0);
    ck_assert(wait_event(&r, STORE_EVENT_SNAPSHOT, snap.replica_id, 1000));
    OPS->close(a);
    OPS->close(b);
    tu_pg_drop_database(url);
}
END_TEST

/* ---- locks ---- */

/*
 * Whether s gets lock name within ms.  A closed session's locks go when
 * its server process ends, which is a moment after PQfinish returns.
 */
static bool
lock_within(struct store *s, const char *name, int ms)
{
    struct timespec pause = { 0, 20 * 1000 * 1000 };
    bool got = false;

    for (int waited = 0; waited <= ms; waited += 20) {
        ck_assert_int_eq(OPS->lock_try(s, name, &got, NULL), 0);
        if (got)
            return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

START_TEST(cluster_lock_goes_to_one_handle_at_a_time)
{
    char *url = tu_pg_new_database();
    struct store *a = open_url(url);
    struct store *b = open_url(url);
    bool got_a, got_b;

    ck_assert_int_eq(OPS->lock_try(a, "updatecheck", &got_a, NULL), 0);
    ck_assert_int_eq(OPS->lock_try(b, "updatecheck", &got_b, NULL), 0);
    ck_assert(got_a);
    ck_assert(!got_b);

    /* Renewing a held lock keeps it; other names are independent. */
    ck_assert_int_eq(OPS->lock_try(a, "updatecheck", &got_a, NULL), 0);
    ck_assert(got_a);
    ck_assert_int_eq(OPS->lock_try(b, "stats", &got_b, NULL), 0);
    ck_assert(got_b);

    ck_assert_int_eq(OPS->unlock(a, "updatecheck", NULL), 0);
    ck_assert_int_eq(OPS->unlock(a, "updatecheck", NULL), ERR_NOT_FOUND);
    ck_assert_int_eq(OPS->lock_try(b, "updatecheck", &got_b, NULL), 0);
    ck_assert(got_b);

    /* Closing a handle releases what it held. */
    OPS->close(b);
    ck_assert(lock_within(a, "updatecheck", 2000));
    OPS->close(a);
    tu_pg_drop_database(url);
}
END_TEST

/* ---- rows from the database are checked ---- */

START_TEST(bad_row_is_corrupt_not_trusted)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    struct store_user u, got;
    struct err e;

    make_user(&u, "alice");
    ck_assert_int_eq(OPS->user_insert(s, NULL, &u, NULL), 0);
    free(tu_pg_query(url, "UPDATE coder_cfg.users SET status = 7"));
    ck_assert_int_eq(OPS->user_get(s, NULL, u.id, &got, &e), ERR_CORRUPT);
    ck_assert_msg(strstr(e.msg, "\"status\"") != NULL, "%s", e.msg);
    free(tu_pg_query(url, "UPDATE coder_cfg.users SET status = 0,"
                     " username = repeat('x', 65)"));
    ck_assert_int_eq(OPS->user_get(s, NULL, u.id, &got, &e), ERR_CORRUPT);
    ck_assert_msg(strstr(e.msg, "too long") != NULL, "%s", e.msg);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

/* ---- every record kind round-trips (the contract suite goes further) ---- */

static int
count_user(const struct store_user *u, void *ctx)
{
    (void)u;
    (*(int *)ctx)++;
    return 0;
}

START_TEST(users_are_unique_by_name_ignoring_case_among_live_ones)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    struct store_user a, b, got;
    int n = 0;

    make_user(&a, "Alice");
    make_user(&b, "aLICE");
    ck_assert_int_eq(OPS->user_insert(s, NULL, &a, NULL), 0);
    ck_assert_int_eq(OPS->user_insert(s, NULL, &b, NULL), ERR_EXISTS);
    ck_assert_int_eq(OPS->user_insert(s, NULL, &a, NULL), ERR_EXISTS);
    ck_assert_int_eq(OPS->user_get_by_name(s, NULL, "ALICE", &got, NULL),
                     0);
    ck_assert_str_eq(got.id, a.id);
    ck_assert_str_eq(got.email, "Alice@example.com");
    ck_assert(got.created_at == a.created_at);

    /* Deleting frees the name; renaming onto a live name is refused. */
    a.deleted = true;
    ck_assert_int_eq(OPS->user_update(s, NULL, &a, NULL), 0);
    ck_assert_int_eq(OPS->user_insert(s, NULL, &b, NULL), 0);
    a.deleted = false;
    ck_assert_int_eq(OPS->user_update(s, NULL, &a, NULL), ERR_EXISTS);
    make_user(&got, "carol");
    ck_assert_int_eq(OPS->user_update(s, NULL, &got, NULL), ERR_NOT_FOUND);
    ck_assert_int_eq(OPS->user_list(s, NULL, count_user, &n, NULL), 0);
    ck_assert_int_eq(n, 2);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

static int
keep_key(const struct store_key *k, void *ctx)
{
    *(struct store_key *)ctx = *k;
    return 7;
}

START_TEST(keys_round_trip_touch_and_delete)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    struct store_key k, got;
    char uid[STORE_UUID_LEN + 1];

    util_uuid_new(uid);
    make_key(&k, uid);
    k.hashed_secret[0] = 0x01;
    k.hashed_secret[31] = 0xfe;
    snprintf(k.ip_address, sizeof(k.ip_address), "10.0.0.1");
    ck_assert_int_eq(OPS->key_insert(s, NULL, &k, NULL), 0);
    ck_assert_int_eq(OPS->key_insert(s, NULL, &k, NULL), ERR_EXISTS);
    ck_assert_int_eq(OPS->key_get(s, NULL, k.id, &got, NULL), 0);
    ck_assert_int_eq(memcmp(&got, &k, sizeof(k)), 0);

    k.last_used = k.created_at + 5;
    k.expires_at += 60;
    memset(k.ip_address, 0, sizeof(k.ip_address));
    snprintf(k.ip_address, sizeof(k.ip_address), "::1");
    ck_assert_int_eq(OPS->key_touch(s, NULL, &k, NULL), 0);
    ck_assert_int_eq(OPS->key_list_by_user(s, NULL, uid, keep_key, &got,
                                           NULL), 7);
    ck_assert_int_eq(memcmp(&got, &k, sizeof(k)), 0);
    ck_assert_int_eq(OPS->key_delete(s, NULL, k.id, NULL), 0);
    ck_assert_int_eq(OPS->key_delete(s, NULL, k.id, NULL), ERR_NOT_FOUND);
    ck_assert_int_eq(OPS->key_touch(s, NULL, &k, NULL), ERR_NOT_FOUND);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

static int
sum_csp(const struct store_csp_report *r, void *ctx)
{
    int64_t *ids = ctx;

    ids[ids[0] + 1] = r->id;
    ids[0]++;
    return strncmp(r->body, "{\"n\":", 5) == 0 ? 0 : ERR_MISMATCH;
}

START_TEST(csp_reports_prune_oldest_first)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    int64_t ids[8] = { 0 };
    int64_t id, first = 0;
    char body[32];

    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        ck_assert_int_eq(OPS->csp_append(s, NULL, 100 + i, body, &id,
                                         NULL), 0);
        ck_assert(i == 0 || id > first);
        if (i == 0)
            first = id;
    }
    ck_assert_int_eq(OPS->csp_prune(s, NULL, 3, 0, NULL), 0);
    ck_assert_int_eq(OPS->csp_scan(s, NULL, sum_csp, ids, NULL), 0);
    ck_assert_int_eq(ids[0], 3);
    ck_assert(ids[1] == first + 2);
    ck_assert_int_eq(OPS->csp_prune(s, NULL, 10, 104, NULL), 0);
    ids[0] = 0;
    ck_assert_int_eq(OPS->csp_scan(s, NULL, sum_csp, ids, NULL), 0);
    ck_assert_int_eq(ids[0], 1);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

static int
count_stat(const struct store_agent_stat *st, void *ctx)
{
    ck_assert(st->connection_median_latency_ms == 1.25);
    (*(int *)ctx)++;
    return 0;
}

START_TEST(stats_scan_from_a_time_and_duplicates_exist)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    struct store_agent_stat st;
    int n = 0;

    memset(&st, 0, sizeof(st));
    st.connection_median_latency_ms = 1.25;
    for (int i = 0; i < 4; i++) {
        st.created_at = 1000 + i;
        util_uuid_new(st.id);
        ck_assert_int_eq(OPS->stat_append(s, NULL, &st, NULL), 0);
    }
    ck_assert_int_eq(OPS->stat_append(s, NULL, &st, NULL), ERR_EXISTS);
    ck_assert_int_eq(OPS->stat_scan_since(s, NULL, 1002, count_stat, &n,
                                          NULL), 0);
    ck_assert_int_eq(n, 2);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

/*
 * The cap on a stats scan is the database's to enforce: a window past it
 * is refused after one row too many, not after all of it reached libpq.
 * A test cannot fill ten million rows, so it checks what the server ran.
 */
START_TEST(stats_scan_is_limited_by_the_database)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    char *ran;
    int n = 0;

    ck_assert_int_eq(OPS->stat_scan_since(s, NULL, 0, count_stat, &n,
                                          NULL), 0);
    ck_assert_int_eq(n, 0);
    ran = tu_pg_query(url, "SELECT count(*) FROM pg_stat_activity"
                      " WHERE datname = current_database()"
                      " AND pid <> pg_backend_pid()"
                      " AND query LIKE '%FROM coder_cfg.agent_stats"
                      " WHERE created_at >= $1 ORDER BY created_at, id"
                      " LIMIT $2'");
    ck_assert_str_eq(ran, "1");
    free(ran);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

START_TEST(transactions_commit_or_leave_nothing)
{
    char *url = tu_pg_new_database();
    struct store *s = open_url(url);
    struct store_txn *t;
    struct store_user a, b, got;
    char *v = NULL;

    make_user(&a, "dave");
    make_user(&b, "erin");
    ck_assert_int_eq(OPS->begin(s, true, &t, NULL), 0);
    ck_assert_int_eq(OPS->user_insert(s, t, &a, NULL), 0);
    ck_assert_int_eq(OPS->site_put(s, t, "k", "v1", NULL), 0);
    OPS->abort(t);
    ck_assert_int_eq(OPS->user_get(s, NULL, a.id, &got, NULL),
                     ERR_NOT_FOUND);
    ck_assert_int_eq(OPS->site_get(s, NULL, "k", &v, NULL), ERR_NOT_FOUND);

    /* A taken key inside a transaction leaves it usable. */
    ck_assert_int_eq(OPS->user_insert(s, NULL, &b, NULL), 0);
    ck_assert_int_eq(OPS->begin(s, true, &t, NULL), 0);
    ck_assert_int_eq(OPS->user_insert(s, t, &b, NULL), ERR_EXISTS);
    ck_assert_int_eq(OPS->user_insert(s, t, &a, NULL), 0);
    ck_assert_int_eq(OPS->commit(t, NULL), 0);
    ck_assert_int_eq(OPS->user_get(s, NULL, a.id, &got, NULL), 0);

    /* A read transaction refuses writes. */
    ck_assert_int_eq(OPS->begin(s, false, &t, NULL), 0);
    ck_assert_int_eq(OPS->site_put(s, t, "k", "v2", NULL), ERR_INVALID);
    OPS->abort(t);
    OPS->close(s);
    tu_pg_drop_database(url);
}
END_TEST

/* ---- outages ---- */

static int64_t
timed_get(struct store *s, const char *id, int *rc)
{
    struct store_key k;
    int64_t t0 = util_mono_ns();

    *rc = OPS->key_get(s, NULL, id, &k, NULL);
    return util_mono_ns() - t0;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000 * 1000 };

    nanosleep(&ts, NULL);
}

/* Polls ping until it answers 0; false after ms. */
static bool
wait_ping(struct store *s, int ms)
{
    int64_t until = util_mono_ns() + ms * MS;

    while (util_mono_ns() < until) {
        if (OPS->ping(s, NULL) == 0)
            return true;
        sleep_ms(100);
    }
    return false;
}

START_TEST(outage_fails_fast_and_the_same_handle_recovers)
{
    struct store_key keys[20];
    struct store_key extra, got;
    struct store_user u;
    struct store_txn *t;
    struct events r;
    struct store *s;
    struct err e;
    char *dir;
    char *url = tu_pg_server_start(&dir);
    int rc;

    s = open_url(url);
    events_init(&r);
    ck_assert_int_eq(OPS->subscribe(s, on_event, &r, NULL), 0);
    make_user(&u, "bob");
    ck_assert_int_eq(OPS->user_insert(s, NULL, &u, NULL), 0);
    for (int i = 0; i < 20; i++) {
        make_key(&keys[i], u.id);
        ck_assert_int_eq(OPS->key_insert(s, NULL, &keys[i], NULL), 0);
    }

    tu_pg_server_ctl("pause", dir);
    for (int i = 0; i < 5; i++) {
        int64_t took = timed_get(s, keys[i].id, &rc);

        ck_assert_int_eq(rc, ERR_UNAVAILABLE);
        ck_assert_msg(took < 3 * UTIL_NS_PER_SEC, "took %lld ms",
                      (long long)(took / MS));
    }
    make_key(&extra, u.id);
    ck_assert_int_eq(OPS->key_insert(s, NULL, &extra, &e), ERR_UNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "unavailable") != NULL, "%s", e.msg);
    ck_assert_int_eq(OPS->begin(s, true, &t, NULL), ERR_UNAVAILABLE);
    ck_assert_int_eq(OPS->ping(s, NULL), ERR_UNAVAILABLE);

    tu_pg_server_ctl("resume", dir);
    ck_assert_msg(wait_ping(s, 20000), "no recovery within 20 s");
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(OPS->key_get(s, NULL, keys[i].id, &got, NULL), 0);
    ck_assert_int_eq(OPS->key_insert(s, NULL, &extra, NULL), 0);
    ck_assert(wait_event(&r, STORE_EVENT_RECONNECTED, NULL, 10000));

    OPS->close(s);
    tu_pg_server_ctl("stop", dir);
    free(dir);
    free(url);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("check_postgres");
    TCase *tc = tcase_create("postgres");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, racing_opens_migrate_once_and_share_one_deployment_id);
    tcase_add_test(tc, newer_schema_version_is_refused);
    tcase_add_test(tc, malformed_url_is_invalid);
    tcase_add_test(tc, unparsable_url_message_quotes_none_of_it);
    tcase_add_test(tc, refused_connection_message_omits_the_password);
    tcase_add_test(tc, unreachable_server_gives_up_after_connect_timeout);
    tcase_add_test(tc, libpq_messages_arrive_on_one_line);
    tcase_add_test(tc, lost_connection_error_arrives_on_one_line);
    tcase_add_test(tc, key_deleted_on_one_replica_is_an_event_on_another);
    tcase_add_test(tc, rolled_back_delete_sends_no_event);
    tcase_add_test(tc, snapshot_from_one_replica_is_an_event_on_another);
    tcase_add_test(tc, cluster_lock_goes_to_one_handle_at_a_time);
    tcase_add_test(tc, bad_row_is_corrupt_not_trusted);
    tcase_add_test(tc, users_are_unique_by_name_ignoring_case_among_live_ones);
    tcase_add_test(tc, keys_round_trip_touch_and_delete);
    tcase_add_test(tc, csp_reports_prune_oldest_first);
    tcase_add_test(tc, stats_scan_from_a_time_and_duplicates_exist);
    tcase_add_test(tc, stats_scan_is_limited_by_the_database);
    tcase_add_test(tc, transactions_commit_or_leave_nothing);
    tcase_add_test(tc, outage_fails_fast_and_the_same_handle_recovers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
