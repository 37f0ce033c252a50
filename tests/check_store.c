/*
 * check_store.c: the store contract, run unchanged against every backend.
 *
 * Each test is written once against struct store_ops and runs once per
 * entry of the fixture table below: main() makes one TCase per backend
 * and adds every test to it with the fixture's index as the loop value
 * (_i), so a new backend is one table row plus its setup and teardown.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/store.h"
#include "core/util.h"
#include "tests/pgutil.h"
#include "tests/testutil.h"

#define SEC UTIL_NS_PER_SEC
#define T0 (INT64_C(1700000000) * SEC)

/* ------------------------------------------------------------------------
 * Backend fixtures
 */

struct fixture {
    const char *name;
    const struct store_ops *ops;
    /* False when the backend cannot run here (then it is skipped). */
    bool (*available)(void);
    /* Fills opt for a fresh, empty store; *state goes to teardown. */
    void (*setup)(struct store_options *opt, void **state);
    void (*teardown)(void *state);
};

static bool
lmdb_available(void)
{
    return true;
}

static void
lmdb_setup(struct store_options *opt, void **state)
{
    char *dir = tu_tmpdir();

    opt->dir = dir;
    opt->durable = true;
    /* Small, so that the contract's bulk tests make the map grow. */
    opt->map_size = (size_t)256 << 10;
    *state = dir;
}

static void
lmdb_teardown(void *state)
{
    tu_rmtree(state);
}

/* Runs wherever TEST_PG_URL is set (run.sh sets it even when PostgreSQL
 * failed to start, so that the suite fails rather than skips). */
static bool
postgres_available(void)
{
    return getenv("TEST_PG_URL") != NULL;
}

/* A fresh database in the shared test server for each test. */
static void
postgres_setup(struct store_options *opt, void **state)
{
    char *url = tu_pg_new_database();

    opt->url = url;
    opt->pool_size = 4;
    *state = url;
}

static void
postgres_teardown(void *state)
{
    tu_pg_drop_database(state);
}

/* ===== The fixture table: one row per backend. ========================= */
static const struct fixture fixtures[] = {
    { "lmdb", &store_lmdb_ops, lmdb_available, lmdb_setup, lmdb_teardown },
    { "postgres", &store_postgres_ops, postgres_available, postgres_setup,
      postgres_teardown },
};
/* ======================================================================= */

#define FIXTURE_COUNT (sizeof(fixtures) / sizeof(fixtures[0]))

/* What each test works with. */
struct tctx {
    const struct fixture *fx;
    const struct store_ops *ops;
    struct store_options opt;
    void *state;
    struct store *s;
    struct err e;
};

static void
ctx_open(struct tctx *c, int i)
{
    int rc;

    memset(c, 0, sizeof(*c));
    c->fx = &fixtures[i];
    c->ops = c->fx->ops;
    c->fx->setup(&c->opt, &c->state);
    rc = store_open(c->ops, &c->opt, &c->s, &c->e);
    ck_assert_msg(rc == 0, "%s: open: %s", c->fx->name, c->e.msg);
    ck_assert_ptr_eq(store_ops_of(c->s), c->ops);
}

static void
ctx_reopen(struct tctx *c)
{
    int rc;

    store_close(c->s);
    c->s = NULL;
    rc = store_open(c->ops, &c->opt, &c->s, &c->e);
    ck_assert_msg(rc == 0, "%s: reopen: %s", c->fx->name, c->e.msg);
}

static void
ctx_close(struct tctx *c)
{
    store_close(c->s);
    c->fx->teardown(c->state);
}

static void
set_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

static struct store_user
new_user(const char *name)
{
    struct store_user u;

    memset(&u, 0, sizeof(u));
    util_uuid_new(u.id);
    set_text(u.username, sizeof(u.username), name);
    set_text(u.email, sizeof(u.email), "someone@example.com");
    u.roles = STORE_ROLE_AUDITOR;
    u.status = STORE_USER_ACTIVE;
    u.created_at = T0;
    u.updated_at = T0 + 1;
    u.last_seen_at = T0 + 2;
    return u;
}

static struct store_key
new_key(const char *id, const char *user_id, int64_t expires_at)
{
    struct store_key k;
    int i;

    memset(&k, 0, sizeof(k));
    set_text(k.id, sizeof(k.id), id);
    for (i = 0; i < 32; i++)
        k.hashed_secret[i] = (unsigned char)(i * 7 + 1);
    set_text(k.user_id, sizeof(k.user_id), user_id);
    k.created_at = T0;
    k.updated_at = T0;
    k.expires_at = expires_at;
    k.lifetime_seconds = 3600;
    k.login_type = STORE_LOGIN_TOKEN;
    set_text(k.token_name, sizeof(k.token_name), "ci");
    set_text(k.ip_address, sizeof(k.ip_address), "10.0.0.1");
    return k;
}

#define OK(c, expr)                                                      \
    do {                                                                 \
        int rc_ = (expr);                                                \
        ck_assert_msg(rc_ == 0, "%s: %s = %s: %s", (c)->fx->name, #expr, \
                      err_name(rc_), (c)->e.msg);                        \
    } while (0)

#define FAILS(c, code, expr)                                             \
    do {                                                                 \
        int rc_ = (expr);                                                \
        ck_assert_msg(rc_ == (code), "%s: %s = %s, want %s",             \
                      (c)->fx->name, #expr, err_name(rc_),               \
                      err_name(code));                                   \
    } while (0)

/* ------------------------------------------------------------------------
 * Site config and deployment ID
 */

START_TEST(store_deployment_id_is_created_once_and_kept)
{
    struct tctx c;
    char a[STORE_UUID_LEN + 1], b[STORE_UUID_LEN + 1];

    ctx_open(&c, _i);
    OK(&c, c.ops->deployment_id(c.s, a, &c.e));
    ck_assert(util_uuid_valid(a));
    OK(&c, c.ops->deployment_id(c.s, b, &c.e));
    ck_assert_str_eq(a, b);
    ctx_reopen(&c);
    OK(&c, c.ops->deployment_id(c.s, b, &c.e));
    ck_assert_str_eq(a, b);
    ctx_close(&c);
}
END_TEST

START_TEST(store_site_get_missing_is_not_found)
{
    struct tctx c;
    char *v = (char *)"unchanged";

    ctx_open(&c, _i);
    FAILS(&c, ERR_NOT_FOUND, c.ops->site_get(c.s, NULL, "nope", &v, &c.e));
    ck_assert_ptr_null(v);
    ctx_close(&c);
}
END_TEST

START_TEST(store_site_put_overwrites_and_survives_reopen)
{
    struct tctx c;
    char *v = NULL;

    ctx_open(&c, _i);
    OK(&c, c.ops->site_put(c.s, NULL, "update_check", "{\"a\":1}", &c.e));
    OK(&c, c.ops->site_put(c.s, NULL, "update_check", "{\"a\":2}", &c.e));
    ctx_reopen(&c);
    OK(&c, c.ops->site_get(c.s, NULL, "update_check", &v, &c.e));
    ck_assert_str_eq(v, "{\"a\":2}");
    free(v);
    ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Users
 */

START_TEST(store_user_round_trips_every_field)
{
    struct tctx c;
    struct store_user u = new_user("Alice"), got;

    ctx_open(&c, _i);
    u.status = STORE_USER_DORMANT;
    u.roles = STORE_ROLE_OWNER | STORE_ROLE_TEMPLATE_ADMIN;
    OK(&c, c.ops->user_insert(c.s, NULL, &u, &c.e));
    ctx_reopen(&c);
    OK(&c, c.ops->user_get(c.s, NULL, u.id, &got, &c.e));
    ck_assert_str_eq(got.id, u.id);
    ck_assert_str_eq(got.username, "Alice");
    ck_assert_str_eq(got.email, u.email);
    ck_assert_uint_eq(got.roles, u.roles);
    ck_assert_int_eq(got.status, STORE_USER_DORMANT);
    ck_assert(!got.deleted);
    ck_assert_int_eq(got.created_at, T0);
    ck_assert_int_eq(got.updated_at, T0 + 1);
    ck_assert_int_eq(got.last_seen_at, T0 + 2);
    ctx_close(&c);
}
END_TEST

START_TEST(store_user_get_missing_is_not_found)
{
    struct tctx c;
    struct store_user got;
    char id[STORE_UUID_LEN + 1];

    ctx_open(&c, _i);
    util_uuid_new(id);
    FAILS(&c, ERR_NOT_FOUND, c.ops->user_get(c.s, NULL, id, &got, &c.e));
    FAILS(&c, ERR_NOT_FOUND,
          c.ops->user_get_by_name(c.s, NULL, "ghost", &got, &c.e));
    ctx_close(&c);
}
END_TEST

START_TEST(store_user_name_is_unique_ignoring_case)
{
    struct tctx c;
    struct store_user a = new_user("alice"), b = new_user("ALICE"), got;

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &a, &c.e));
    FAILS(&c, ERR_EXISTS, c.ops->user_insert(c.s, NULL, &b, &c.e));

    /* The refused insert left nothing behind. */
    FAILS(&c, ERR_NOT_FOUND, c.ops->user_get(c.s, NULL, b.id, &got, &c.e));
    OK(&c, c.ops->user_get_by_name(c.s, NULL, "aLiCe", &got, &c.e));
    ck_assert_str_eq(got.id, a.id);
    ctx_close(&c);
}
END_TEST

START_TEST(store_user_duplicate_id_is_exists)
{
    struct tctx c;
    struct store_user a = new_user("alice"), b = new_user("bob");

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &a, &c.e));
    memcpy(b.id, a.id, sizeof(b.id));
    FAILS(&c, ERR_EXISTS, c.ops->user_insert(c.s, NULL, &b, &c.e));
    ctx_close(&c);
}
END_TEST

START_TEST(store_deleted_user_frees_its_name)
{
    struct tctx c;
    struct store_user a = new_user("carol"), b = new_user("Carol"), got;

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &a, &c.e));
    a.deleted = true;
    OK(&c, c.ops->user_update(c.s, NULL, &a, &c.e));
    FAILS(&c, ERR_NOT_FOUND,
          c.ops->user_get_by_name(c.s, NULL, "carol", &got, &c.e));

    /* By id the deleted user is still there, marked. */
    OK(&c, c.ops->user_get(c.s, NULL, a.id, &got, &c.e));
    ck_assert(got.deleted);
    OK(&c, c.ops->user_insert(c.s, NULL, &b, &c.e));
    OK(&c, c.ops->user_get_by_name(c.s, NULL, "CAROL", &got, &c.e));
    ck_assert_str_eq(got.id, b.id);
    ctx_close(&c);
}
END_TEST

START_TEST(store_user_update_renames_and_refuses_taken_names)
{
    struct tctx c;
    struct store_user a = new_user("dave"), b = new_user("erin"), got;

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &a, &c.e));
    OK(&c, c.ops->user_insert(c.s, NULL, &b, &c.e));
    set_text(a.username, sizeof(a.username), "David");
    OK(&c, c.ops->user_update(c.s, NULL, &a, &c.e));
    FAILS(&c, ERR_NOT_FOUND,
          c.ops->user_get_by_name(c.s, NULL, "dave", &got, &c.e));
    OK(&c, c.ops->user_get_by_name(c.s, NULL, "david", &got, &c.e));
    ck_assert_str_eq(got.username, "David");

    set_text(a.username, sizeof(a.username), "ERIN");
    FAILS(&c, ERR_EXISTS, c.ops->user_update(c.s, NULL, &a, &c.e));
    OK(&c, c.ops->user_get(c.s, NULL, a.id, &got, &c.e));
    ck_assert_str_eq(got.username, "David");
    ctx_close(&c);
}
END_TEST

START_TEST(store_user_update_missing_is_not_found)
{
    struct tctx c;
    struct store_user a = new_user("frank");

    ctx_open(&c, _i);
    FAILS(&c, ERR_NOT_FOUND, c.ops->user_update(c.s, NULL, &a, &c.e));
    ctx_close(&c);
}
END_TEST

static int
count_user(const struct store_user *u, void *ctx)
{
    (void)u;
    (*(int *)ctx)++;
    return 0;
}

START_TEST(store_user_list_sees_every_user)
{
    struct tctx c;
    char name[16];
    int i, n = 0;

    ctx_open(&c, _i);
    for (i = 0; i < 25; i++) {
        struct store_user u;

        snprintf(name, sizeof(name), "user%d", i);
        u = new_user(name);
        OK(&c, c.ops->user_insert(c.s, NULL, &u, &c.e));
    }
    OK(&c, c.ops->user_list(c.s, NULL, count_user, &n, &c.e));
    ck_assert_int_eq(n, 25);
    ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * API keys
 */

START_TEST(store_key_round_trips_every_field)
{
    struct tctx c;
    struct store_user u = new_user("gina");
    struct store_key k, got;

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &u, &c.e));
    k = new_key("abcdEFGH12", u.id, T0 + 3600 * SEC);
    k.last_used = 0;
    OK(&c, c.ops->key_insert(c.s, NULL, &k, &c.e));
    ctx_reopen(&c);
    OK(&c, c.ops->key_get(c.s, NULL, "abcdEFGH12", &got, &c.e));
    ck_assert_str_eq(got.id, k.id);
    ck_assert_mem_eq(got.hashed_secret, k.hashed_secret, 32);
    ck_assert_str_eq(got.user_id, u.id);
    ck_assert_int_eq(got.created_at, T0);
    ck_assert_int_eq(got.expires_at, T0 + 3600 * SEC);
    ck_assert_int_eq(got.last_used, 0);
    ck_assert_int_eq(got.lifetime_seconds, 3600);
    ck_assert_int_eq(got.login_type, STORE_LOGIN_TOKEN);
    ck_assert_str_eq(got.token_name, "ci");
    ck_assert_str_eq(got.ip_address, "10.0.0.1");
    ctx_close(&c);
}
END_TEST

START_TEST(store_key_get_missing_is_not_found)
{
    struct tctx c;
    struct store_key got;

    ctx_open(&c, _i);
    FAILS(&c, ERR_NOT_FOUND,
          c.ops->key_get(c.s, NULL, "0000000000", &got, &c.e));
    FAILS(&c, ERR_NOT_FOUND, c.ops->key_get(c.s, NULL, "short", &got,
                                            &c.e));
    FAILS(&c, ERR_NOT_FOUND, c.ops->key_delete(c.s, NULL, "0000000000",
                                               &c.e));
    ctx_close(&c);
}
END_TEST

START_TEST(store_key_duplicate_id_is_exists)
{
    struct tctx c;
    struct store_user u = new_user("hank");
    struct store_key k, got;

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &u, &c.e));
    k = new_key("dupdupdup1", u.id, T0 + SEC);
    OK(&c, c.ops->key_insert(c.s, NULL, &k, &c.e));
    k.expires_at = T0 + 99 * SEC;
    FAILS(&c, ERR_EXISTS, c.ops->key_insert(c.s, NULL, &k, &c.e));
    OK(&c, c.ops->key_get(c.s, NULL, "dupdupdup1", &got, &c.e));
    ck_assert_int_eq(got.expires_at, T0 + SEC);
    ctx_close(&c);
}
END_TEST

START_TEST(store_expired_key_is_kept_and_touch_revives_it)
{
    struct tctx c;
    struct store_user u = new_user("iris");
    struct store_key k, got;

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &u, &c.e));

    /* The store does not judge expiry: the engine does. */
    k = new_key("expired001", u.id, T0 - 10 * SEC);
    OK(&c, c.ops->key_insert(c.s, NULL, &k, &c.e));
    OK(&c, c.ops->key_get(c.s, NULL, "expired001", &got, &c.e));
    ck_assert_int_eq(got.expires_at, T0 - 10 * SEC);

    k.expires_at = T0 + 50 * SEC;
    k.last_used = T0 + 5;
    k.updated_at = T0 + 6;
    set_text(k.ip_address, sizeof(k.ip_address), "192.0.2.7");
    set_text(k.token_name, sizeof(k.token_name), "not-written");
    k.lifetime_seconds = 1;
    OK(&c, c.ops->key_touch(c.s, NULL, &k, &c.e));
    OK(&c, c.ops->key_get(c.s, NULL, "expired001", &got, &c.e));
    ck_assert_int_eq(got.expires_at, T0 + 50 * SEC);
    ck_assert_int_eq(got.last_used, T0 + 5);
    ck_assert_int_eq(got.updated_at, T0 + 6);
    ck_assert_str_eq(got.ip_address, "192.0.2.7");

    /* Touch writes those four fields and nothing else. */
    ck_assert_str_eq(got.token_name, "ci");
    ck_assert_int_eq(got.lifetime_seconds, 3600);
    ctx_close(&c);
}
END_TEST

START_TEST(store_key_touch_missing_is_not_found)
{
    struct tctx c;
    struct store_key k = new_key("nokey00000", "x", T0);

    ctx_open(&c, _i);
    util_uuid_new(k.user_id);
    FAILS(&c, ERR_NOT_FOUND, c.ops->key_touch(c.s, NULL, &k, &c.e));
    ctx_close(&c);
}
END_TEST

struct key_seen {
    char ids[8][STORE_KEY_ID_LEN + 1];
    int n;
};

static int
collect_key(const struct store_key *k, void *ctx)
{
    struct key_seen *ks = ctx;

    if (ks->n < 8)
        memcpy(ks->ids[ks->n], k->id, sizeof(ks->ids[0]));
    ks->n++;
    return 0;
}

START_TEST(store_key_delete_is_immediate_and_list_is_per_user)
{
    struct tctx c;
    struct store_user a = new_user("jane"), b = new_user("kurt");
    struct store_key k;
    struct key_seen ks;

    ctx_open(&c, _i);
    OK(&c, c.ops->user_insert(c.s, NULL, &a, &c.e));
    OK(&c, c.ops->user_insert(c.s, NULL, &b, &c.e));
    k = new_key("aaaaaaaaa2", a.id, T0);
    OK(&c, c.ops->key_insert(c.s, NULL, &k, &c.e));
    k = new_key("aaaaaaaaa1", a.id, T0);
    OK(&c, c.ops->key_insert(c.s, NULL, &k, &c.e));
    k = new_key("bbbbbbbbbb", b.id, T0);
    OK(&c, c.ops->key_insert(c.s, NULL, &k, &c.e));

    memset(&ks, 0, sizeof(ks));
    OK(&c, c.ops->key_list_by_user(c.s, NULL, a.id, collect_key, &ks,
                                   &c.e));
    ck_assert_int_eq(ks.n, 2);

    OK(&c, c.ops->key_delete(c.s, NULL, "aaaaaaaaa1", &c.e));
    FAILS(&c, ERR_NOT_FOUND, c.ops->key_get(c.s, NULL, "aaaaaaaaa1", &k,
                                            &c.e));
    memset(&ks, 0, sizeof(ks));
    OK(&c, c.ops->key_list_by_user(c.s, NULL, a.id, collect_key, &ks,
                                   &c.e));
    ck_assert_int_eq(ks.n, 1);
    ck_assert_str_eq(ks.ids[0], "aaaaaaaaa2");
    ctx_close(&c);
}
END_TEST

/* Checks store_key_get_auth on c's store: found, orphaned, missing. */
static void
check_key_get_auth(struct tctx *c, struct store_txn *t)
{
    struct store_user u = new_user("lena"), got_u;
    struct store_key k = new_key("authkey001", u.id, T0 + SEC), got_k;
    struct store_key orphan = new_key("orphan0001", "", T0 + SEC);
    bool found = false;

    util_uuid_new(orphan.user_id);
    OK(c, c->ops->user_insert(c->s, t, &u, &c->e));
    OK(c, c->ops->key_insert(c->s, t, &k, &c->e));
    OK(c, c->ops->key_insert(c->s, t, &orphan, &c->e));

    OK(c, store_key_get_auth(c->s, t, "authkey001", &got_k, &got_u,
                             &found, &c->e));
    ck_assert(found);
    ck_assert_str_eq(got_k.id, "authkey001");
    ck_assert_mem_eq(got_k.hashed_secret, k.hashed_secret, 32);
    ck_assert_int_eq(got_k.expires_at, T0 + SEC);
    ck_assert_str_eq(got_u.id, u.id);
    ck_assert_str_eq(got_u.username, "lena");
    ck_assert_int_eq(got_u.roles, STORE_ROLE_AUDITOR);
    ck_assert_int_eq(got_u.last_seen_at, T0 + 2);

    /* A key whose user row is gone is found; the user is not. */
    found = true;
    OK(c, store_key_get_auth(c->s, t, "orphan0001", &got_k, &got_u,
                             &found, &c->e));
    ck_assert(!found);
    ck_assert_str_eq(got_k.user_id, orphan.user_id);
    ck_assert_str_eq(got_u.id, "");

    FAILS(c, ERR_NOT_FOUND, store_key_get_auth(c->s, t, "0000000000",
                                               &got_k, &got_u, &found,
                                               &c->e));
    FAILS(c, ERR_NOT_FOUND, store_key_get_auth(c->s, t, "short", &got_k,
                                               &got_u, &found, &c->e));

    /* A deleted user is still the key's user: the engine judges it. */
    u.deleted = true;
    OK(c, c->ops->user_update(c->s, t, &u, &c->e));
    OK(c, store_key_get_auth(c->s, t, "authkey001", &got_k, &got_u,
                             &found, &c->e));
    ck_assert(found);
    ck_assert(got_u.deleted);
}

START_TEST(store_key_get_auth_reads_the_key_with_its_user)
{
    struct tctx c;
    struct store_txn *t;

    ctx_open(&c, _i);
    ck_assert_ptr_nonnull(c.ops->key_get_auth);
    check_key_get_auth(&c, NULL);
    ctx_close(&c);

    /* The same inside an explicit write transaction. */
    ctx_open(&c, _i);
    OK(&c, c.ops->begin(c.s, true, &t, &c.e));
    check_key_get_auth(&c, t);
    OK(&c, c.ops->commit(t, &c.e));
    ctx_close(&c);
}
END_TEST

/* The wrapper answers the same for a backend without the op. */
START_TEST(store_key_get_auth_without_the_op_reads_twice)
{
    struct tctx c;
    struct store_ops plain;

    ctx_open(&c, _i);
    store_close(c.s);
    plain = *c.ops;
    plain.key_get_auth = NULL;
    c.ops = &plain;
    OK(&c, store_open(&plain, &c.opt, &c.s, &c.e));
    check_key_get_auth(&c, NULL);
    ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Workspaces and agent stats
 */

static int
find_ws(const struct store_workspace *w, void *ctx)
{
    struct store_workspace *want = ctx;

    if (strcmp(w->id, want->id) != 0)
        return 0;
    *want = *w;
    return 1;
}

START_TEST(store_workspace_put_is_an_upsert)
{
    struct tctx c;
    struct store_workspace w, got;

    ctx_open(&c, _i);
    memset(&w, 0, sizeof(w));
    util_uuid_new(w.id);
    util_uuid_new(w.owner_id);
    set_text(w.name, sizeof(w.name), "dev");
    w.has_build = true;
    w.transition = STORE_TRANSITION_STOP;
    w.job_started_at = T0;
    OK(&c, c.ops->workspace_put(c.s, NULL, &w, &c.e));
    w.job_completed_at = T0 + SEC;
    w.job_error = true;
    OK(&c, c.ops->workspace_put(c.s, NULL, &w, &c.e));

    memset(&got, 0, sizeof(got));
    memcpy(got.id, w.id, sizeof(got.id));
    ck_assert_int_eq(c.ops->workspace_list(c.s, NULL, find_ws, &got,
                                           &c.e), 1);
    ck_assert_str_eq(got.name, "dev");
    ck_assert(got.has_build);
    ck_assert_int_eq(got.transition, STORE_TRANSITION_STOP);
    ck_assert_int_eq(got.job_completed_at, T0 + SEC);
    ck_assert(got.job_error);
    ctx_close(&c);
}
END_TEST

struct stat_seen {
    int64_t at[16];
    int n;
};

static int
collect_stat(const struct store_agent_stat *st, void *ctx)
{
    struct stat_seen *ss = ctx;

    if (ss->n < 16)
        ss->at[ss->n] = st->created_at;
    ss->n++;
    return 0;
}

static struct store_agent_stat
new_stat(int64_t at, double latency)
{
    struct store_agent_stat st;

    memset(&st, 0, sizeof(st));
    st.created_at = at;
    util_uuid_new(st.id);
    util_uuid_new(st.workspace_id);
    util_uuid_new(st.agent_id);
    st.rx_bytes = 100;
    st.tx_bytes = 200;
    st.connection_median_latency_ms = latency;
    st.session_count_ssh = 2;
    return st;
}

START_TEST(store_stat_scan_since_walks_in_time_order)
{
    struct tctx c;
    static const int64_t order[] = { 30, 10, 50, 20, 40, -5 };
    struct store_agent_stat st;
    struct stat_seen ss;
    size_t i;

    ctx_open(&c, _i);
    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        st = new_stat(T0 + order[i] * SEC, 12.5);
        OK(&c, c.ops->stat_append(c.s, NULL, &st, &c.e));
    }
    FAILS(&c, ERR_EXISTS, c.ops->stat_append(c.s, NULL, &st, &c.e));

    memset(&ss, 0, sizeof(ss));
    OK(&c, c.ops->stat_scan_since(c.s, NULL, T0 + 20 * SEC, collect_stat,
                                  &ss, &c.e));
    ck_assert_int_eq(ss.n, 4);
    ck_assert_int_eq(ss.at[0], T0 + 20 * SEC);
    ck_assert_int_eq(ss.at[1], T0 + 30 * SEC);
    ck_assert_int_eq(ss.at[2], T0 + 40 * SEC);
    ck_assert_int_eq(ss.at[3], T0 + 50 * SEC);

    memset(&ss, 0, sizeof(ss));
    OK(&c, c.ops->stat_scan_since(c.s, NULL, 0, collect_stat, &ss, &c.e));
    ck_assert_int_eq(ss.n, 6);
    ck_assert_int_eq(ss.at[0], T0 - 5 * SEC);
    ctx_close(&c);
}
END_TEST

START_TEST(store_stat_prune_deletes_only_older_stats)
{
    struct tctx c;
    static const int64_t order[] = { 30, 10, 50, 20, 40, -5 };
    struct store_agent_stat st;
    struct stat_seen ss;
    struct store_txn *t;
    size_t i;

    ctx_open(&c, _i);
    ck_assert_ptr_nonnull(c.ops->stat_prune);
    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        st = new_stat(T0 + order[i] * SEC, 12.5);
        OK(&c, c.ops->stat_append(c.s, NULL, &st, &c.e));
    }

    /* A stat at exactly the bound stays. */
    OK(&c, store_stat_prune(c.s, NULL, T0 + 20 * SEC, &c.e));
    memset(&ss, 0, sizeof(ss));
    OK(&c, c.ops->stat_scan_since(c.s, NULL, INT64_MIN, collect_stat, &ss,
                                  &c.e));
    ck_assert_int_eq(ss.n, 4);
    ck_assert_int_eq(ss.at[0], T0 + 20 * SEC);
    ck_assert_int_eq(ss.at[3], T0 + 50 * SEC);

    /* Nothing older: nothing changes.  An aborted prune keeps all. */
    OK(&c, store_stat_prune(c.s, NULL, T0, &c.e));
    OK(&c, c.ops->begin(c.s, true, &t, &c.e));
    OK(&c, store_stat_prune(c.s, t, INT64_MAX, &c.e));
    c.ops->abort(t);
    memset(&ss, 0, sizeof(ss));
    OK(&c, c.ops->stat_scan_since(c.s, NULL, INT64_MIN, collect_stat, &ss,
                                  &c.e));
    ck_assert_int_eq(ss.n, 4);

    OK(&c, store_stat_prune(c.s, NULL, INT64_MAX, &c.e));
    memset(&ss, 0, sizeof(ss));
    OK(&c, c.ops->stat_scan_since(c.s, NULL, INT64_MIN, collect_stat, &ss,
                                  &c.e));
    ck_assert_int_eq(ss.n, 0);
    ctx_close(&c);
}
END_TEST

static int
stop_at_two(const struct store_agent_stat *st, void *ctx)
{
    (void)st;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

START_TEST(store_scan_stops_with_the_callback_value)
{
    struct tctx c;
    struct store_agent_stat st;
    int i, n = 0;

    ctx_open(&c, _i);
    for (i = 0; i < 5; i++) {
        st = new_stat(T0 + i, 1);
        OK(&c, c.ops->stat_append(c.s, NULL, &st, &c.e));
    }
    ck_assert_int_eq(c.ops->stat_scan_since(c.s, NULL, 0, stop_at_two, &n,
                                            &c.e), 42);
    ck_assert_int_eq(n, 2);
    ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * CSP reports
 */

struct csp_seen {
    int64_t ids[64];
    char first[64];
    int n;
};

static int
collect_csp(const struct store_csp_report *r, void *ctx)
{
    struct csp_seen *cs = ctx;

    if (cs->n == 0)
        snprintf(cs->first, sizeof(cs->first), "%s", r->body);
    if (cs->n < 64)
        cs->ids[cs->n] = r->id;
    cs->n++;
    return 0;
}

START_TEST(store_csp_append_scans_oldest_first)
{
    struct tctx c;
    struct csp_seen cs;
    int64_t id, last = 0;
    char body[32];
    int i;

    ctx_open(&c, _i);
    for (i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        OK(&c, c.ops->csp_append(c.s, NULL, T0 + i, body, &id, &c.e));
        ck_assert_int_gt(id, last);
        last = id;
    }
    memset(&cs, 0, sizeof(cs));
    OK(&c, c.ops->csp_scan(c.s, NULL, collect_csp, &cs, &c.e));
    ck_assert_int_eq(cs.n, 5);
    ck_assert_str_eq(cs.first, "{\"n\":0}");
    for (i = 1; i < 5; i++)
        ck_assert_int_gt(cs.ids[i], cs.ids[i - 1]);
    ctx_close(&c);
}
END_TEST

START_TEST(store_csp_prune_keeps_the_newest_within_age)
{
    struct tctx c;
    struct csp_seen cs;
    int i;

    ctx_open(&c, _i);
    for (i = 0; i < 10; i++)
        OK(&c, c.ops->csp_append(c.s, NULL, T0 + i * SEC, i < 9 ? "{}" :
                                 "{\"last\":true}", NULL, &c.e));

    /* By count: the 6 newest stay. */
    OK(&c, c.ops->csp_prune(c.s, NULL, 6, 0, &c.e));
    memset(&cs, 0, sizeof(cs));
    OK(&c, c.ops->csp_scan(c.s, NULL, collect_csp, &cs, &c.e));
    ck_assert_int_eq(cs.n, 6);

    /* By age: only reports received at or after T0 + 8 s stay. */
    OK(&c, c.ops->csp_prune(c.s, NULL, 100, T0 + 8 * SEC, &c.e));
    memset(&cs, 0, sizeof(cs));
    OK(&c, c.ops->csp_scan(c.s, NULL, collect_csp, &cs, &c.e));
    ck_assert_int_eq(cs.n, 2);
    ck_assert_str_eq(cs.first, "{}");

    /* Ids keep growing after a prune. */
    OK(&c, c.ops->csp_prune(c.s, NULL, 0, 0, &c.e));
    OK(&c, c.ops->csp_append(c.s, NULL, T0, "{}", NULL, &c.e));
    memset(&cs, 0, sizeof(cs));
    OK(&c, c.ops->csp_scan(c.s, NULL, collect_csp, &cs, &c.e));
    ck_assert_int_eq(cs.n, 1);
    ck_assert_int_gt(cs.ids[0], 10);
    ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Snapshots and replicas
 */

struct snap_seen {
    char json[8][32];
    int n;
};

static int
collect_snap(const struct store_snapshot *snap, void *ctx)
{
    struct snap_seen *ss = ctx;

    if (ss->n < 8)
        snprintf(ss->json[ss->n], sizeof(ss->json[0]), "%s", snap->json);
    ss->n++;
    return 0;
}

START_TEST(store_snapshot_history_is_kept_oldest_first)
{
    struct tctx c;
    struct store_snapshot snap;
    char r1[STORE_UUID_LEN + 1], r2[STORE_UUID_LEN + 1];
    struct snap_seen ss;

    ctx_open(&c, _i);
    util_uuid_new(r1);
    util_uuid_new(r2);
    memset(&snap, 0, sizeof(snap));
    memcpy(snap.replica_id, r1, sizeof(r1));
    snap.taken_at = T0 + 2;
    snap.json = (char *)"r1-second";
    OK(&c, c.ops->snapshot_append(c.s, NULL, &snap, &c.e));
    snap.taken_at = T0;
    snap.json = (char *)"r1-first";
    OK(&c, c.ops->snapshot_append(c.s, NULL, &snap, &c.e));
    memcpy(snap.replica_id, r2, sizeof(r2));
    snap.taken_at = T0 + 1;
    snap.json = (char *)"r2-only";
    OK(&c, c.ops->snapshot_append(c.s, NULL, &snap, &c.e));

    memset(&ss, 0, sizeof(ss));
    OK(&c, c.ops->snapshot_scan(c.s, NULL, NULL, collect_snap, &ss, &c.e));
    ck_assert_int_eq(ss.n, 3);
    ck_assert_str_eq(ss.json[0], "r1-first");
    ck_assert_str_eq(ss.json[1], "r2-only");
    ck_assert_str_eq(ss.json[2], "r1-second");

    memset(&ss, 0, sizeof(ss));
    OK(&c, c.ops->snapshot_scan(c.s, NULL, r1, collect_snap, &ss, &c.e));
    ck_assert_int_eq(ss.n, 2);
    ck_assert_str_eq(ss.json[0], "r1-first");
    ck_assert_str_eq(ss.json[1], "r1-second");
    ctx_close(&c);
}
END_TEST

struct rep_seen {
    struct store_replica last;
    int n;
};

static int
collect_replica(const struct store_replica *r, void *ctx)
{
    struct rep_seen *rs = ctx;

    rs->last = *r;
    rs->n++;
    return 0;
}

START_TEST(store_replica_put_is_an_upsert)
{
    struct tctx c;
    struct store_replica r;
    struct rep_seen rs;

    ctx_open(&c, _i);
    memset(&r, 0, sizeof(r));
    util_uuid_new(r.id);
    set_text(r.hostname, sizeof(r.hostname), "node-a");
    set_text(r.version, sizeof(r.version), "v2.29.0");
    r.started_at = T0;
    r.heartbeat_at = T0;
    OK(&c, c.ops->replica_put(c.s, NULL, &r, &c.e));
    r.heartbeat_at = T0 + 30 * SEC;
    r.gone = true;
    OK(&c, c.ops->replica_put(c.s, NULL, &r, &c.e));

    memset(&rs, 0, sizeof(rs));
    OK(&c, c.ops->replica_list(c.s, NULL, collect_replica, &rs, &c.e));
    ck_assert_int_eq(rs.n, 1);
    ck_assert_str_eq(rs.last.hostname, "node-a");
    ck_assert_str_eq(rs.last.version, "v2.29.0");
    ck_assert_int_eq(rs.last.started_at, T0);
    ck_assert_int_eq(rs.last.heartbeat_at, T0 + 30 * SEC);
    ck_assert(rs.last.gone);
    ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Transactions, growth, cluster wrappers
 */

START_TEST(store_txn_commit_shows_and_abort_hides)
{
    struct tctx c;
    struct store_txn *t;
    struct store_user a = new_user("lena"), b = new_user("mark"), got;

    ctx_open(&c, _i);
    OK(&c, c.ops->begin(c.s, true, &t, &c.e));
    OK(&c, c.ops->user_insert(c.s, t, &a, &c.e));
    OK(&c, c.ops->user_get(c.s, t, a.id, &got, &c.e));
    OK(&c, c.ops->commit(t, &c.e));

    OK(&c, c.ops->begin(c.s, true, &t, &c.e));
    OK(&c, c.ops->user_insert(c.s, t, &b, &c.e));
    c.ops->abort(t);

    OK(&c, c.ops->user_get(c.s, NULL, a.id, &got, &c.e));
    FAILS(&c, ERR_NOT_FOUND, c.ops->user_get(c.s, NULL, b.id, &got, &c.e));

    /* A read transaction refuses writes. */
    OK(&c, c.ops->begin(c.s, false, &t, &c.e));
    FAILS(&c, ERR_INVALID, c.ops->user_insert(c.s, t, &b, &c.e));
    c.ops->abort(t);
    ctx_close(&c);
}
END_TEST

START_TEST(store_keeps_accepting_writes_as_it_grows)
{
    struct tctx c;
    static char body[4096];
    struct store_txn *t = NULL;
    struct csp_seen cs;
    int i, rc = ERR_FULL, tries;

    ctx_open(&c, _i);
    memset(body, 'x', sizeof(body) - 1);

    /* Single writes: each grows the store as needed. */
    for (i = 0; i < 600; i++)
        OK(&c, c.ops->csp_append(c.s, NULL, T0 + i, body, NULL, &c.e));

    /* One big transaction: a full map may ask for one retry per step. */
    for (tries = 0; tries < 12 && rc == ERR_FULL; tries++) {
        OK(&c, c.ops->begin(c.s, true, &t, &c.e));
        for (i = 0, rc = 0; i < 600 && rc == 0; i++)
            rc = c.ops->csp_append(c.s, t, T0 + i, body, NULL, &c.e);
        if (rc == 0)
            rc = c.ops->commit(t, &c.e);
        else
            c.ops->abort(t);
    }
    ck_assert_msg(rc == 0, "%s: big txn: %s", c.fx->name, c.e.msg);

    memset(&cs, 0, sizeof(cs));
    OK(&c, c.ops->csp_scan(c.s, NULL, collect_csp, &cs, &c.e));
    ck_assert_int_eq(cs.n, 1200);
    ctx_close(&c);
}
END_TEST

START_TEST(store_single_node_wrappers_answer_sensibly)
{
    struct tctx c;
    bool got = false;

    ctx_open(&c, _i);
    OK(&c, store_ping(c.s, &c.e));
    OK(&c, store_lock_try(c.s, "updatecheck", &got, &c.e));
    ck_assert(got);
    OK(&c, store_unlock(c.s, "updatecheck", &c.e));
    ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* Adds every contract test to tc, to run against fixture f. */
static void
add_contract(TCase *tc, int f)
{
    tcase_add_loop_test(tc, store_deployment_id_is_created_once_and_kept,
                        f, f + 1);
    tcase_add_loop_test(tc, store_site_get_missing_is_not_found, f, f + 1);
    tcase_add_loop_test(tc, store_site_put_overwrites_and_survives_reopen,
                        f, f + 1);
    tcase_add_loop_test(tc, store_user_round_trips_every_field, f, f + 1);
    tcase_add_loop_test(tc, store_user_get_missing_is_not_found, f, f + 1);
    tcase_add_loop_test(tc, store_user_name_is_unique_ignoring_case, f, f + 1);
    tcase_add_loop_test(tc, store_user_duplicate_id_is_exists, f, f + 1);
    tcase_add_loop_test(tc, store_deleted_user_frees_its_name, f, f + 1);
    tcase_add_loop_test(tc, store_user_update_renames_and_refuses_taken_names,
                        f, f + 1);
    tcase_add_loop_test(tc, store_user_update_missing_is_not_found, f, f + 1);
    tcase_add_loop_test(tc, store_user_list_sees_every_user, f, f + 1);
    tcase_add_loop_test(tc, store_key_round_trips_every_field, f, f + 1);
    tcase_add_loop_test(tc, store_key_get_missing_is_not_found, f, f + 1);
    tcase_add_loop_test(tc, store_key_duplicate_id_is_exists, f, f + 1);
    tcase_add_loop_test(tc, store_expired_key_is_kept_and_touch_revives_it,
                        f, f + 1);
    tcase_add_loop_test(tc, store_key_touch_missing_is_not_found, f, f + 1);
    tcase_add_loop_test(tc, store_key_delete_is_immediate_and_list_is_per_user,
                        f, f + 1);
    tcase_add_loop_test(tc, store_key_get_auth_reads_the_key_with_its_user,
                        f, f + 1);
    tcase_add_loop_test(tc, store_key_get_auth_without_the_op_reads_twice,
                        f, f + 1);
    tcase_add_loop_test(tc, store_workspace_put_is_an_upsert, f, f + 1);
    tcase_add_loop_test(tc, store_stat_scan_since_walks_in_time_order,
                        f, f + 1);
    tcase_add_loop_test(tc, store_stat_prune_deletes_only_older_stats,
                        f, f + 1);
    tcase_add_loop_test(tc, store_scan_stops_with_the_callback_value,
                        f, f + 1);
    tcase_add_loop_test(tc, store_csp_append_scans_oldest_first, f, f + 1);
    tcase_add_loop_test(tc, store_csp_prune_keeps_the_newest_within_age,
                        f, f + 1);
    tcase_add_loop_test(tc, store_snapshot_history_is_kept_oldest_first,
                        f, f + 1);
    tcase_add_loop_test(tc, store_replica_put_is_an_upsert, f, f + 1);
    tcase_add_loop_test(tc, store_txn_commit_shows_and_abort_hides, f, f + 1);
    tcase_add_loop_test(tc, store_keeps_accepting_writes_as_it_grows,
                        f, f + 1);
    tcase_add_loop_test(tc, store_single_node_wrappers_answer_sensibly,
                        f, f + 1);
}

int
main(void)
{
    Suite *s = suite_create("check_store");
    SRunner *sr;
    size_t f;
    int failed;

    for (f = 0; f < FIXTURE_COUNT; f++) {
        TCase *tc;

        if (!fixtures[f].available())
            continue;
        tc = tcase_create(fixtures[f].name);
        tcase_set_timeout(tc, 60);
        add_contract(tc, (int)f);
        suite_add_tcase(s, tc);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
