/*
 * check_dump_store.c: config snapshots and `coder-cfg dump --from-store`.
 *
 * The document and key tests call core/snapshot.c directly.  The others
 * start real servers (LMDB, then two replicas on one PostgreSQL from
 * $TEST_PG_URL), or record snapshots through the engine as a server
 * would, and read them back with the real binary.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/deployment.h"
#include "core/engine.h"
#include "core/snapshot.h"
#include "core/util.h"
#include "tests/pgutil.h"
#include "tests/testutil.h"

#define SECRET_A "Sent1nel-Alpha-Secret"
#define SECRET_B "Sent1nel-Bravo-Secret"
#define URL_A "https://a.example.com"
#define URL_B "https://b.example.com"

/* ------------------------------------------------------------------------
 * Helpers
 */

/* One run of the binary: exit status, stdout and stderr. */
struct res {
    int status;
    char *out;
    char *err;
};

static void
res_release(struct res *r)
{
    free(r->out);
    free(r->err);
}

/* Runs "dump --from-store" plus args (NULL-terminated) with env. */
static void
dump(struct res *r, struct tu_env *env, const char *const *args)
{
    const char *argv[16] = { "dump", "--from-store" };
    size_t n = 2;

    for (size_t i = 0; args != NULL && args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    r->status = tu_run((char *const *)argv, env, &r->out, &r->err);
}

/* dump --from-store --output json ... on env; the parsed document. */
static json_t *
dump_json(struct tu_env *env, const char *const *more)
{
    const char *args[12] = { "--output", "json" };
    size_t n = 2;
    json_error_t je;
    struct res r;
    json_t *doc;

    for (size_t i = 0; more != NULL && more[i] != NULL && n < 11; i++)
        args[n++] = more[i];
    args[n] = NULL;
    dump(&r, env, args);
    ck_assert_msg(r.status == 0, "dump failed (%d): %s", r.status, r.err);
    ck_assert_ptr_null(strstr(r.out, SECRET_A));
    ck_assert_ptr_null(strstr(r.out, SECRET_B));
    doc = json_loads(r.out, 0, &je);
    ck_assert_msg(doc != NULL, "not JSON: %s", je.text);
    res_release(&r);
    return doc;
}

/* The entry called name in an array of objects with "name". */
static json_t *
named(json_t *arr, const char *name)
{
    size_t i;
    json_t *o;

    json_array_foreach(arr, i, o) {
        const char *n = json_string_value(json_object_get(o, "name"));

        if (n != NULL && strcmp(n, name) == 0)
            return o;
    }
    return NULL;
}

static const char *
str_at(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    ck_assert_msg(s != NULL, "no string \"%s\"", key);
    return s;
}

/* The option name of the snapshot of replica id in doc. */
static json_t *
option_of(json_t *doc, const char *id, const char *name)
{
    size_t i;
    json_t *s;

    json_array_foreach(json_object_get(doc, "snapshots"), i, s) {
        if (strcmp(str_at(s, "replica_id"), id) == 0)
            return named(json_object_get(s, "options"), name);
    }
    ck_abort_msg("no snapshot of replica %s", id);
    return NULL;
}

/* The value a drift entry shows for replica id. */
static json_t *
drift_value(json_t *entry, const char *id)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(entry, "values"), i, v) {
        if (strcmp(str_at(v, "replica_id"), id) == 0)
            return v;
    }
    ck_abort_msg("drift entry has no value for %s", id);
    return NULL;
}

/* A deployment set resolved from env entries (NULL-terminated). */
static struct opt_set *
resolved(char *const *env, int argc, char *const *argv)
{
    struct opt_set *set = deployment_set_new(env);
    struct opt_diag dg;

    ck_assert_ptr_nonnull(set);
    opt_diag_init(&dg);
    ck_assert_int_eq(opt_set_resolve(set, argc, argv, env, &dg), 0);
    opt_diag_release(&dg);
    return set;
}

static json_t *
snapshot_of(char *const *env, const unsigned char *key)
{
    struct opt_set *set = resolved(env, 0, NULL);
    json_t *doc = deployment_snapshot_json(set, key, SNAPSHOT_KEY_LEN);

    ck_assert_ptr_nonnull(doc);
    opt_set_free(set);
    return doc;
}

static const char *
fingerprint_in(json_t *doc, const char *name)
{
    json_t *o = named(json_object_get(doc, "options"), name);

    ck_assert_ptr_nonnull(o);
    return json_string_value(json_object_get(json_object_get(o, "secret"),
                                             "fingerprint"));
}

static struct engine *
engine_on(const char *dir, const char *url)
{
    struct engine_options o;
    struct engine *en = NULL;
    struct err e;

    memset(&o, 0, sizeof(o));
    o.config_dir = dir;
    o.pg_url = url;
    err_clear(&e);
    ck_assert_msg(engine_open(&en, &o, &e) == 0, "engine_open: %s", e.msg);
    return en;
}

/*
 * Records a replica and its snapshot as a starting server does, with the
 * options resolved from env; id receives the replica's ID.
 */
static void
fake_replica(struct engine *en, char *const *env, const char *host,
             char id[STORE_UUID_LEN + 1])
{
    struct opt_set *set = resolved(env, 0, NULL);
    struct store_replica r;
    struct err e;

    memset(&r, 0, sizeof(r));
    util_uuid_new(r.id);
    snprintf(r.hostname, sizeof(r.hostname), "%s", host);
    snprintf(r.version, sizeof(r.version), "%s", deployment_version());
    r.started_at = util_now_ns();
    err_clear(&e);
    ck_assert_msg(engine_replica_heartbeat(en, &r, &e) == 0, "%s", e.msg);
    ck_assert_msg(snapshot_record(en, set, &r, &e) == 0, "%s", e.msg);
    memcpy(id, r.id, sizeof(r.id));
    opt_set_free(set);
}

/* ------------------------------------------------------------------------
 * The snapshot document and its key
 */

START_TEST(snapshot_has_values_sources_origins_and_no_secret)
{
    char *env[] = { (char *)"CODER_OIDC_CLIENT_SECRET=" SECRET_A,
                    (char *)"CODER_ACCESS_URL=" URL_A, NULL };
    char *argv[] = { (char *)"--provisioner-daemons", (char *)"9", NULL };
    unsigned char key[SNAPSHOT_KEY_LEN] = { 1 };
    struct opt_set *set = resolved(env, 2, argv);
    json_t *doc = deployment_snapshot_json(set, key, sizeof(key));
    json_t *opts = json_object_get(doc, "options");
    json_t *pd = named(opts, "Provisioner Daemons");
    json_t *au = named(opts, "Access URL");
    json_t *oidc = named(opts, "OIDC Client Secret");
    json_t *gh = named(opts, "OAuth2 GitHub Client Secret");
    char *text = json_dumps(doc, 0);

    ck_assert_int_eq(json_integer_value(json_object_get(doc, "format")),
                     SNAPSHOT_FORMAT);
    ck_assert_uint_eq(json_array_size(opts), opt_set_count(set));
    ck_assert_int_eq(json_integer_value(json_object_get(pd, "value")), 9);
    ck_assert_str_eq(str_at(pd, "value_source"), "flag");
    ck_assert_str_eq(str_at(pd, "origin"), "--provisioner-daemons");
    ck_assert_str_eq(str_at(au, "value"), URL_A);
    ck_assert_str_eq(str_at(au, "origin"), "CODER_ACCESS_URL");

    /* Secrets: set or not, a fingerprint when set, never the value. */
    ck_assert_ptr_null(json_object_get(oidc, "value"));
    ck_assert(json_is_true(json_object_get(json_object_get(oidc, "secret"),
                                           "set")));
    ck_assert_uint_eq(strlen(fingerprint_in(doc, "OIDC Client Secret")), 64);
    ck_assert(json_is_false(json_object_get(json_object_get(gh, "secret"),
                                            "set")));
    ck_assert_ptr_null(fingerprint_in(doc, "OAuth2 GitHub Client Secret"));
    ck_assert_ptr_null(strstr(text, SECRET_A));

    free(text);
    json_decref(doc);
    opt_set_free(set);
}
END_TEST

START_TEST(snapshot_fingerprints_follow_secret_and_key)
{
    char *env_a[] = { (char *)"CODER_OIDC_CLIENT_SECRET=" SECRET_A, NULL };
    char *env_b[] = { (char *)"CODER_OIDC_CLIENT_SECRET=" SECRET_B, NULL };
    unsigned char k1[SNAPSHOT_KEY_LEN] = { 1 }, k2[SNAPSHOT_KEY_LEN] = { 2 };
    json_t *a1 = snapshot_of(env_a, k1), *a1again = snapshot_of(env_a, k1);
    json_t *b1 = snapshot_of(env_b, k1), *a2 = snapshot_of(env_a, k2);
    const char *n = "OIDC Client Secret";

    ck_assert_str_eq(fingerprint_in(a1, n), fingerprint_in(a1again, n));
    ck_assert_str_ne(fingerprint_in(a1, n), fingerprint_in(b1, n));
    ck_assert_str_ne(fingerprint_in(a1, n), fingerprint_in(a2, n));

    json_decref(a1);
    json_decref(a1again);
    json_decref(b1);
    json_decref(a2);
}
END_TEST

START_TEST(snapshot_key_is_created_once_and_kept)
{
    char *dir = tu_tmpdir();
    struct engine *en = engine_on(dir, NULL);
    unsigned char k1[SNAPSHOT_KEY_LEN], k2[SNAPSHOT_KEY_LEN];
    unsigned char zero[SNAPSHOT_KEY_LEN] = { 0 };
    struct store *st = engine_store(en);
    char *hex = NULL;
    struct err e;

    err_clear(&e);
    ck_assert_int_eq(snapshot_key_load(st, k1, &e), 0);
    ck_assert_int_eq(snapshot_key_load(st, k2, &e), 0);
    ck_assert_mem_eq(k1, k2, sizeof(k1));
    ck_assert_int_ne(memcmp(k1, zero, sizeof(k1)), 0);
    ck_assert_int_eq(store_ops_of(st)->site_get(st, NULL, SNAPSHOT_KEY_SITE,
                                                &hex, &e), 0);
    ck_assert_uint_eq(strlen(hex), 2 * SNAPSHOT_KEY_LEN);
    free(hex);

    /* A damaged key is an error, not a new key. */
    ck_assert_int_eq(store_ops_of(st)->site_put(st, NULL, SNAPSHOT_KEY_SITE,
                                                "zz", &e), 0);
    ck_assert_int_eq(snapshot_key_load(st, k1, &e), ERR_CORRUPT);
    engine_close(en);
    tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------------
 * dump --from-store on LMDB, with real servers
 */

START_TEST(dump_store_shows_what_the_server_resolved)
{
    char *args[] = { (char *)"--provisioner-daemons", (char *)"9", NULL };
    const char *table[] = { "--output", "table", NULL };
    struct tu_server s;
    struct tu_env env;
    struct res r;
    char id[STORE_UUID_LEN + 1];
    json_t *doc, *pd, *oidc, *reps;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_OIDC_CLIENT_SECRET", SECRET_A);
    ck_assert_int_eq(tu_server_start(&s, NULL, args, &env), 0);
    tu_env_release(&env);

    /* The shell's own CODER_ variables neither count nor warn. */
    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", s.dir);
    tu_env_set(&env, "CODER_PROVISIONER_DAEMONS", "4");
    doc = dump_json(&env, NULL);
    reps = json_object_get(doc, "replicas");
    ck_assert_uint_eq(json_array_size(reps), 1);
    ck_assert_str_eq(str_at(json_array_get(reps, 0), "state"), "live");
    snprintf(id, sizeof(id), "%s", str_at(json_array_get(reps, 0), "id"));
    pd = option_of(doc, id, "Provisioner Daemons");
    ck_assert_int_eq(json_integer_value(json_object_get(pd, "value")), 9);
    ck_assert_str_eq(str_at(pd, "value_source"), "flag");
    ck_assert_str_eq(str_at(pd, "origin"), "--provisioner-daemons");
    oidc = option_of(doc, id, "OIDC Client Secret");
    ck_assert_ptr_null(json_object_get(oidc, "value"));
    ck_assert(json_is_true(json_object_get(json_object_get(oidc, "secret"),
                                           "set")));
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "drift")), 0);
    json_decref(doc);

    /* The table says the same for a person. */
    dump(&r, &env, table);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_str_eq(r.err, "");
    ck_assert_ptr_nonnull(strstr(r.out, "REPLICAS\n"));
    ck_assert_ptr_nonnull(strstr(r.out, id));
    ck_assert_msg(strstr(r.out, "9") != NULL &&
                  strstr(r.out, "  flag     --provisioner-daemons\n") != NULL,
                  "%s", r.out);
    ck_assert_ptr_nonnull(strstr(r.out, "(set)"));
    ck_assert_ptr_null(strstr(r.out, SECRET_A));
    ck_assert_ptr_null(strstr(r.out, "DRIFT"));
    res_release(&r);

    tu_env_release(&env);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(dump_store_changed_keeps_only_set_options)
{
    char *args[] = { (char *)"--provisioner-daemons", (char *)"9", NULL };
    const char *changed[] = { "--changed", NULL };
    struct tu_server s;
    struct tu_env env;
    json_t *doc, *opts, *o;
    size_t i;

    ck_assert_int_eq(tu_server_start(&s, NULL, args, NULL), 0);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", s.dir);
    doc = dump_json(&env, changed);
    opts = json_object_get(json_array_get(json_object_get(doc, "snapshots"),
                                          0), "options");
    ck_assert_ptr_nonnull(named(opts, "Provisioner Daemons"));
    ck_assert_ptr_null(named(opts, "Access URL"));
    json_array_foreach(opts, i, o)
        ck_assert_str_ne(str_at(o, "value_source"), "default");
    json_decref(doc);
    tu_env_release(&env);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

/*
 * Two servers in turn on one directory with different access URLs.  The
 * first one stopped a moment ago: by its heartbeat it may still count as
 * live, and then the drift names the access URL; once gone, only the
 * history shows its snapshot.  Either way the history has both.
 */
START_TEST(dump_store_sequential_servers_keep_both_snapshots)
{
    const char *history[] = { "--history", NULL };
    const char *table[] = { "--output", "table", NULL };
    char *dir = tu_tmpdir();
    struct tu_server a, b;
    struct tu_env env;
    json_t *doc, *snaps, *au, *reps;
    const char *ida, *idb;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_ACCESS_URL", URL_A);
    ck_assert_int_eq(tu_server_start(&a, dir, NULL, &env), 0);
    ck_assert_int_eq(tu_server_stop(&a), 0);
    tu_env_set(&env, "CODER_ACCESS_URL", URL_B);
    ck_assert_int_eq(tu_server_start(&b, dir, NULL, &env), 0);
    tu_env_release(&env);

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    doc = dump_json(&env, history);
    snaps = json_object_get(doc, "snapshots");
    ck_assert_uint_eq(json_array_size(snaps), 2);
    ck_assert_ptr_null(json_object_get(doc, "drift"));
    ida = str_at(json_array_get(snaps, 0), "replica_id");
    idb = str_at(json_array_get(snaps, 1), "replica_id");
    ck_assert_str_ne(ida, idb);
    ck_assert_str_eq(str_at(option_of(doc, ida, "Access URL"), "value"),
                     URL_A);
    ck_assert_str_eq(str_at(option_of(doc, idb, "Access URL"), "value"),
                     URL_B);
    json_decref(doc);

    doc = dump_json(&env, NULL);
    reps = json_object_get(doc, "replicas");
    ck_assert_uint_eq(json_array_size(reps), 2);
    au = named(json_object_get(doc, "drift"), "Access URL");
    if (strcmp(str_at(json_array_get(reps, 0), "state"), "live") == 0) {
        ck_assert_ptr_nonnull(au);
        ck_assert_uint_eq(json_array_size(json_object_get(au, "values")), 2);
        dump(&r, &env, table);
        ck_assert_msg(strstr(r.out, "\nDRIFT\n") != NULL &&
                      strstr(r.out, URL_A) != NULL &&
                      strstr(r.out, URL_B) != NULL, "%s", r.out);
        res_release(&r);
    } else {
        ck_assert_ptr_null(au);
    }
    json_decref(doc);

    tu_env_release(&env);
    ck_assert_int_eq(tu_server_stop(&b), 0);
    tu_rmtree(dir);
}
END_TEST

START_TEST(dump_store_without_a_store_says_so)
{
    char *dir = tu_tmpdir();
    char want[512], mdb[512];
    struct tu_env env;
    struct stat sb;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    dump(&r, &env, NULL);
    ck_assert_int_eq(r.status, 1);
    snprintf(want, sizeof(want), "coder-cfg: dump: no coder-cfg store at %s "
             "(has a server run there?)\n", dir);
    ck_assert_str_eq(r.err, want);
    ck_assert_str_eq(r.out, "");
    snprintf(mdb, sizeof(mdb), "%s/data.mdb", dir);
    ck_assert_int_ne(stat(mdb, &sb), 0);
    res_release(&r);
    tu_env_release(&env);
    tu_rmtree(dir);
}
END_TEST

START_TEST(dump_store_bad_input_exits_2)
{
    const char *yaml[] = { "--output", "yaml", NULL };
    const char *server_flag[] = { "--access-url", URL_A, NULL };
    const char *who[] = { "--replica", "no-such-replica", NULL };
    struct tu_server s;
    struct tu_env env;
    struct res r;

    ck_assert_int_eq(tu_server_start(&s, NULL, NULL, NULL), 0);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", s.dir);
    dump(&r, &env, yaml);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "yaml"));
    res_release(&r);
    dump(&r, &env, server_flag);
    ck_assert_int_eq(r.status, 2);
    res_release(&r);
    dump(&r, &env, who);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "coder-cfg: dump: no replica \"no-such-replica\" "
                     "in the store\n");
    res_release(&r);
    tu_env_release(&env);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * Clusters on PostgreSQL
 */

/* Starts a replica on url with its own access URL and OIDC secret. */
static void
pg_replica(struct tu_server *s, const char *url, const char *access,
           const char *secret)
{
    struct tu_env env;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_PG_CONNECTION_URL", url);
    tu_env_set(&env, "CODER_ACCESS_URL", access);
    tu_env_set(&env, "CODER_OIDC_CLIENT_SECRET", secret);
    ck_assert_int_eq(tu_server_start(s, NULL, NULL, &env), 0);
    tu_env_release(&env);
}

START_TEST(dump_store_names_drift_between_live_replicas)
{
    const char *table[] = { "--output", "table", NULL };
    char *url = tu_pg_new_database();
    struct tu_server a, b;
    struct tu_env env;
    json_t *doc, *au, *reps;
    const char *ida, *idb;
    struct res r;

    pg_replica(&a, url, URL_A, SECRET_A);
    pg_replica(&b, url, URL_B, SECRET_A);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_PG_CONNECTION_URL", url);
    doc = dump_json(&env, NULL);
    reps = json_object_get(doc, "replicas");
    ck_assert_uint_eq(json_array_size(reps), 2);
    ida = str_at(json_array_get(reps, 0), "id");
    idb = str_at(json_array_get(reps, 1), "id");

    /* The access URLs differ; the same database URL and secret do not. */
    au = named(json_object_get(doc, "drift"), "Access URL");
    ck_assert_ptr_nonnull(au);
    ck_assert_str_eq(str_at(drift_value(au, ida), "value"), URL_A);
    ck_assert_str_eq(str_at(drift_value(au, idb), "value"), URL_B);
    ck_assert_ptr_null(named(json_object_get(doc, "drift"),
                             "Postgres Connection URL"));
    ck_assert_ptr_null(named(json_object_get(doc, "drift"),
                             "OIDC Client Secret"));
    json_decref(doc);

    dump(&r, &env, table);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "\nDRIFT\n") != NULL &&
                  strstr(r.out, "\nAccess URL  ") != NULL &&
                  strstr(r.out, URL_A) != NULL &&
                  strstr(r.out, URL_B) != NULL, "%s", r.out);
    ck_assert_ptr_null(strstr(r.out, url));
    ck_assert_ptr_null(strstr(r.out, SECRET_A));
    res_release(&r);

    tu_env_release(&env);
    ck_assert_int_eq(tu_server_stop(&a), 0);
    ck_assert_int_eq(tu_server_stop(&b), 0);
    tu_pg_drop_database(url);
}
END_TEST

/*
 * Replicas that record core/snapshot.h's form: equal secrets give equal
 * fingerprints (no drift), different ones differ, and dump shows only
 * the fingerprints.
 */
START_TEST(dump_store_compares_secret_fingerprints)
{
    char *same_a[] = { (char *)"CODER_OIDC_CLIENT_SECRET=" SECRET_A,
                       (char *)"CODER_SCIM_AUTH_HEADER=" SECRET_B, NULL };
    char *same_b[] = { (char *)"CODER_OIDC_CLIENT_SECRET=" SECRET_A,
                       (char *)"CODER_SCIM_AUTH_HEADER=" SECRET_A, NULL };
    const char *table[] = { "--output", "table", NULL };
    char ida[STORE_UUID_LEN + 1], idb[STORE_UUID_LEN + 1];
    char *url = tu_pg_new_database();
    struct engine *ea = engine_on(NULL, url), *eb = engine_on(NULL, url);
    const char *fa, *fb;
    struct tu_env env;
    json_t *doc, *scim;
    struct res r;

    fake_replica(ea, same_a, "host-a", ida);
    fake_replica(eb, same_b, "host-b", idb);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_PG_CONNECTION_URL", url);
    doc = dump_json(&env, NULL);

    ck_assert_ptr_null(named(json_object_get(doc, "drift"),
                             "OIDC Client Secret"));
    fa = str_at(json_object_get(option_of(doc, ida, "OIDC Client Secret"),
                                "secret"), "fingerprint");
    fb = str_at(json_object_get(option_of(doc, idb, "OIDC Client Secret"),
                                "secret"), "fingerprint");
    ck_assert_str_eq(fa, fb);
    scim = named(json_object_get(doc, "drift"), "SCIM API Key");
    ck_assert_ptr_nonnull(scim);
    fa = str_at(json_object_get(drift_value(scim, ida), "secret"),
                "fingerprint");
    fb = str_at(json_object_get(drift_value(scim, idb), "secret"),
                "fingerprint");
    ck_assert_str_ne(fa, fb);
    json_decref(doc);

    dump(&r, &env, table);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "\nSCIM API Key  "));
    ck_assert_ptr_nonnull(strstr(r.out, "(set, fingerprint "));
    ck_assert_ptr_null(strstr(r.out, SECRET_A));
    ck_assert_ptr_null(strstr(r.out, SECRET_B));
    res_release(&r);

    tu_env_release(&env);
    engine_close(ea);
    engine_close(eb);
    tu_pg_drop_database(url);
}
END_TEST

/* --replica takes a unique prefix and shows that replica alone. */
START_TEST(dump_store_shows_one_replica_by_prefix)
{
    char *env_a[] = { (char *)"CODER_ACCESS_URL=" URL_A, NULL };
    char *env_b[] = { (char *)"CODER_ACCESS_URL=" URL_B, NULL };
    char ida[STORE_UUID_LEN + 1], idb[STORE_UUID_LEN + 1], prefix[9];
    const char *args[] = { "--replica", prefix, NULL };
    char *url = tu_pg_new_database();
    struct engine *en = engine_on(NULL, url);
    struct tu_env env;
    json_t *doc, *snaps;

    fake_replica(en, env_a, "host-a", ida);
    fake_replica(en, env_b, "host-b", idb);
    snprintf(prefix, sizeof(prefix), "%s", idb);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_PG_CONNECTION_URL", url);
    doc = dump_json(&env, args);
    snaps = json_object_get(doc, "snapshots");
    ck_assert_uint_eq(json_array_size(snaps), 1);
    ck_assert_str_eq(str_at(json_array_get(snaps, 0), "replica_id"), idb);
    ck_assert_str_eq(str_at(option_of(doc, idb, "Access URL"), "value"),
                     URL_B);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "drift")), 0);
    json_decref(doc);
    tu_env_release(&env);
    engine_close(en);
    tu_pg_drop_database(url);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("check_dump_store");
    TCase *doc = tcase_create("document");
    TCase *lmdb = tcase_create("lmdb");
    TCase *pg = tcase_create("postgres");
    SRunner *sr;
    int failed;

    tcase_add_test(doc, snapshot_has_values_sources_origins_and_no_secret);
    tcase_add_test(doc, snapshot_fingerprints_follow_secret_and_key);
    tcase_add_test(doc, snapshot_key_is_created_once_and_kept);
    tcase_set_timeout(lmdb, 60);
    tcase_add_test(lmdb, dump_store_shows_what_the_server_resolved);
    tcase_add_test(lmdb, dump_store_changed_keeps_only_set_options);
    tcase_add_test(lmdb, dump_store_sequential_servers_keep_both_snapshots);
    tcase_add_test(lmdb, dump_store_without_a_store_says_so);
    tcase_add_test(lmdb, dump_store_bad_input_exits_2);
    tcase_set_timeout(pg, 90);
    tcase_add_test(pg, dump_store_names_drift_between_live_replicas);
    tcase_add_test(pg, dump_store_compares_secret_fingerprints);
    tcase_add_test(pg, dump_store_shows_one_replica_by_prefix);
    suite_add_tcase(s, doc);
    suite_add_tcase(s, lmdb);
    suite_add_tcase(s, pg);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
