/*
 * check_server.c: `coder-cfg server` start-up and shutdown, and the admin
 * commands' exit codes, each against the real binary.
 *
 * No case needs PostgreSQL: the one that waits for it points the server
 * at a loopback port nobody listens on.
 */
#include <check.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/util.h"
#include "tests/testutil.h"

static void
sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

/* Waits up to ms for needle to appear in path; the file text (heap). */
static char *
wait_for_text(const char *path, const char *needle, int ms)
{
    char *text = NULL;
    int waited;

    for (waited = 0; waited <= ms; waited += 50) {
        free(text);
        text = tu_read_file(path);
        if (text != NULL && strstr(text, needle) != NULL)
            return text;
        sleep_ms(50);
    }
    return text;
}

/* The line of text that contains needle, as heap, or NULL. */
static char *
line_with(const char *text, const char *needle)
{
    const char *hit = text != NULL ? strstr(text, needle) : NULL;
    const char *start;
    size_t len;

    if (hit == NULL)
        return NULL;
    for (start = hit; start > text && start[-1] != '\n'; start--)
        continue;
    len = strcspn(start, "\n");
    return strndup(start, len);
}

/* --- warnings ------------------------------------------------------------ */

START_TEST(resolution_warnings_are_warn_log_lines)
{
    struct tu_server s;
    struct tu_env env;
    char *err;
    char *line;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_NOT_AN_OPTION_AT_ALL", "1");
    ck_assert_int_eq(tu_server_start(&s, NULL, NULL, &env), 0);
    err = tu_read_file(s.proc.err_path);
    line = line_with(err, "CODER_NOT_AN_OPTION_AT_ALL");
    ck_assert_msg(line != NULL && strstr(line, "[warn] config: unknown "
                                         "environment variable") != NULL,
                  "stderr: %s", err);
    ck_assert_ptr_null(strstr(err, "coder-cfg: unknown"));
    free(line);
    free(err);
    ck_assert_int_eq(tu_server_stop(&s), 0);
    tu_env_release(&env);
}
END_TEST

START_TEST(deprecated_flag_warning_is_a_warn_log_line)
{
    char addr[32];
    char *argv[] = { (char *)tu_bin(), (char *)"server", (char *)"--address",
                     addr, NULL };
    struct tu_proc p;
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *err;
    char *line;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", tu_free_port());
    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    tu_proc_start(&p, argv, env.v);
    tu_env_release(&env);
    err = wait_for_text(p.err_path, "started HTTP listener", 10000);
    line = line_with(err, "\"--address\"");
    ck_assert_msg(line != NULL && strstr(line, "[warn] config: deprecated "
                                         "option \"--address\"") != NULL,
                  "stderr: %s", err);
    free(line);
    free(err);
    tu_proc_kill(&p, SIGTERM);
    ck_assert_int_eq(tu_proc_wait_ms(&p, 10000), 0);
    tu_proc_release(&p);
    tu_rmtree(dir);
}
END_TEST

START_TEST(resolution_warnings_are_json_with_log_json)
{
    struct tu_server s;
    struct tu_env env;
    char path[512];
    char *args[] = { (char *)"--log-json", path, NULL };
    char *dir = tu_tmpdir();
    char *text;
    char *line;
    json_t *v;

    snprintf(path, sizeof(path), "%s/log.json", dir);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_NOT_AN_OPTION_AT_ALL", "1");
    ck_assert_int_eq(tu_server_start(&s, NULL, args, &env), 0);
    ck_assert_int_eq(tu_server_stop(&s), 0);
    tu_env_release(&env);

    text = tu_read_file(path);
    line = line_with(text, "CODER_NOT_AN_OPTION_AT_ALL");
    ck_assert_msg(line != NULL, "log: %s", text);
    v = json_loads(line, 0, NULL);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "level")),
                     "WARN");
    ck_assert_str_eq(json_string_value(json_array_get(
        json_object_get(v, "logger_names"), 0)), "config");
    json_decref(v);
    free(line);
    free(text);
    tu_rmtree(dir);
}
END_TEST

START_TEST(start_up_error_stays_plain_after_its_warnings)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *args[] = { (char *)"server", (char *)"--http-address",
                     (char *)"127.0.0.1:0", NULL };
    char *err = NULL;
    char *warn;
    char *bad;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    tu_env_set(&env, "CODER_NOT_AN_OPTION_AT_ALL", "1");
    tu_env_set(&env, "CODER_SSH_CONFIG_OPTIONS", "Bad");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 2);
    warn = strstr(err, "coder-cfg: warning: unknown environment variable");
    bad = strstr(err, "coder-cfg: invalid config-ssh option \"Bad\"");
    ck_assert_msg(warn != NULL && bad != NULL && warn < bad, "stderr: %s",
                  err);
    free(err);
    tu_env_release(&env);
    tu_rmtree(dir);
}
END_TEST

/* --- shutdown ------------------------------------------------------------ */

/* The "state" of every replica dump --from-store lists, space-joined. */
static char *
replica_states(const char *dir)
{
    char *args[] = { (char *)"dump", (char *)"--from-store",
                     (char *)"--output", (char *)"json", NULL };
    struct tu_env env;
    char *out = NULL;
    char states[256] = "";
    json_t *v;
    json_t *r;
    size_t i;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    ck_assert_int_eq(tu_run(args, &env, &out, NULL), 0);
    tu_env_release(&env);
    v = json_loads(out, 0, NULL);
    ck_assert_msg(v != NULL, "dump: %s", out);
    json_array_foreach(json_object_get(v, "replicas"), i, r) {
        size_t used = strlen(states);

        snprintf(states + used, sizeof(states) - used, "%s%s",
                 used > 0 ? " " : "",
                 json_string_value(json_object_get(r, "state")));
    }
    json_decref(v);
    free(out);
    return strdup(states);
}

START_TEST(clean_stop_marks_the_replica_gone_at_once)
{
    struct tu_server s;
    char *dir = tu_tmpdir();
    char *states;

    ck_assert_int_eq(tu_server_start(&s, dir, NULL, NULL), 0);
    states = replica_states(dir);
    ck_assert_str_eq(states, "live");
    free(states);
    ck_assert_int_eq(tu_server_stop(&s), 0);

    states = replica_states(dir);
    ck_assert_str_eq(states, "gone");
    free(states);
    tu_rmtree(dir);
}
END_TEST

START_TEST(failed_listen_leaves_the_replica_gone)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char addr[32];
    char *args[] = { (char *)"server", (char *)"--http-address", addr, NULL };
    char *err = NULL;
    char *states;
    int port;
    int fd = tu_listen_silent(&port);

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 1);
    ck_assert_msg(strstr(err, "address already in use") != NULL, "%s", err);
    states = replica_states(dir);
    ck_assert_str_eq(states, "gone");
    free(states);
    free(err);
    tu_env_release(&env);
    close(fd);
    tu_rmtree(dir);
}
END_TEST

/* --- update check -------------------------------------------------------- */

START_TEST(failed_listen_makes_no_update_check)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char addr[32];
    char feed[64];
    char *args[] = { (char *)"server", (char *)"--http-address", addr,
                     (char *)"--update-check-url", feed, NULL };
    struct pollfd pfd;
    char *err = NULL;
    int busy_port;
    int feed_port;
    int busy = tu_listen_silent(&busy_port);
    int feed_fd = tu_listen_silent(&feed_port);

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", busy_port);
    snprintf(feed, sizeof(feed), "http://127.0.0.1:%d/latest", feed_port);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "true");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 1);
    ck_assert_msg(strstr(err, "address already in use") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "updatecheck") == NULL, "%s", err);

    /* Nobody ever connected to the feed. */
    pfd.fd = feed_fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    free(err);
    tu_env_release(&env);
    close(busy);
    close(feed_fd);
    tu_rmtree(dir);
}
END_TEST

/* --- postgres down ------------------------------------------------------- */

START_TEST(sigterm_while_waiting_for_postgres_exits_at_once)
{
    char url[128];
    char addr[32];
    char *argv[] = { (char *)tu_bin(), (char *)"server",
                     (char *)"--http-address", addr, NULL };
    struct tu_proc p;
    struct tu_env env;
    char *dir = tu_tmpdir();
    char want[64];
    char *err;
    char *line;
    int64_t t;
    int pg_port = tu_free_port();

    snprintf(url, sizeof(url), "postgres://coder:hunter2secret@127.0.0.1:%d"
             "/coder?sslmode=disable", pg_port);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", tu_free_port());
    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    tu_env_set(&env, "CODER_PG_CONNECTION_URL", url);
    tu_env_set(&env, "CODER_CFG_POSTGRES_CONNECT_TIMEOUT", "5m");
    tu_proc_start(&p, argv, env.v);
    tu_env_release(&env);

    /* One info line once the wait is real, with the address only. */
    snprintf(want, sizeof(want), "address=127.0.0.1:%d", pg_port);
    err = wait_for_text(p.err_path, "waiting for postgres", 5000);
    line = line_with(err, "waiting for postgres");
    ck_assert_msg(line != NULL && strstr(line, "[info] server:") != NULL &&
                  strstr(line, want) != NULL &&
                  strstr(line, "timeout=5m0s") != NULL, "stderr: %s", err);
    free(line);
    free(err);

    t = util_mono_ns();
    tu_proc_kill(&p, SIGTERM);
    ck_assert_int_eq(tu_proc_wait_ms(&p, 3000), 1);
    ck_assert_int_lt(util_mono_ns() - t, INT64_C(2000000000));
    err = tu_read_file(p.err_path);
    ck_assert_msg(strstr(err, "coder-cfg: stopped by SIGTERM while waiting "
                         "for postgres") != NULL, "stderr: %s", err);
    ck_assert_ptr_null(strstr(err, "hunter2secret"));
    free(err);
    tu_proc_release(&p);
    tu_rmtree(dir);
}
END_TEST

START_TEST(connect_timeout_must_be_a_positive_duration)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *args[] = { (char *)"server", (char *)"--http-address",
                     (char *)"127.0.0.1:0", (char *)"--postgres-connect-"
                     "timeout", (char *)"0s", NULL };
    char *err = NULL;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 2);
    ck_assert_str_eq(err, "coder-cfg: --postgres-connect-timeout must be "
                     "positive\n");
    free(err);
    err = NULL;
    tu_env_set(&env, "CODER_CFG_POSTGRES_CONNECT_TIMEOUT", "soon");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 2);
    ck_assert_msg(strstr(err, "CODER_CFG_POSTGRES_CONNECT_TIMEOUT") != NULL,
                  "stderr: %s", err);
    free(err);
    tu_env_release(&env);
    tu_rmtree(dir);
}
END_TEST

/* --- external auth ------------------------------------------------------- */

START_TEST(external_auth_providers_come_from_env)
{
    struct tu_server s;
    struct tu_env env;
    struct tu_resp r;
    char *token;
    json_t *v;
    json_t *ea;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_ID", "primary-gh");
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_TYPE", "github");
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_CLIENT_ID", "client-abc");
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_CLIENT_SECRET", "s3cr3t-value");
    ck_assert_int_eq(tu_server_start(&s, NULL, NULL, &env), 0);
    tu_env_release(&env);
    token = tu_user_token(&s, "olga", "owner", "", NULL);
    ck_assert_int_eq(tu_get(&s, "/api/v2/deployment/config", token, NULL,
                            &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(strstr(r.body, "s3cr3t-value"));
    v = json_loads(r.body, 0, NULL);
    ea = json_object_get(json_object_get(v, "config"), "external_auth");
    ck_assert_msg(json_array_size(ea) == 1, "body: %s", r.body);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(ea, 0), "id")), "primary-gh");
    json_decref(v);
    tu_resp_release(&r);
    free(token);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(external_auth_gap_exits_2_naming_the_variable)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *args[] = { (char *)"server", (char *)"--http-address",
                     (char *)"127.0.0.1:0", NULL };
    char *err = NULL;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_1_ID", "x");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 2);
    ck_assert_msg(strncmp(err, "coder-cfg: ", 11) == 0 &&
                  strstr(err, "CODER_EXTERNAL_AUTH_1_ID") != NULL,
                  "stderr: %s", err);
    free(err);
    tu_env_release(&env);
    tu_rmtree(dir);
}
END_TEST

START_TEST(write_config_leaves_out_env_external_auth_secrets)
{
    struct tu_env env;
    char *args[] = { (char *)"server", (char *)"--write-config", NULL };
    char *out = NULL;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_ID", "gh");
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_TYPE", "github");
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_CLIENT_SECRET", "s3ntinel-x");
    ck_assert_int_eq(tu_run(args, &env, &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "externalAuthProviders:"));
    ck_assert_msg(strstr(out, "s3ntinel-x") == NULL,
                  "--write-config printed an env client secret");
    free(out);
    tu_env_release(&env);
}
END_TEST

START_TEST(port_past_16_bits_is_refused)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *args[] = { (char *)"server", (char *)"--http-address",
                     (char *)"127.0.0.1:99999", NULL };
    char *err = NULL;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 2);
    ck_assert_msg(strstr(err, "invalid port \"99999\"") != NULL,
                  "stderr: %s", err);
    free(err);
    tu_env_release(&env);
    tu_rmtree(dir);
}
END_TEST

/* --- admin commands ------------------------------------------------------ */

START_TEST(admin_help_and_version_exit_0)
{
    char *users[] = { (char *)"users", (char *)"--help", NULL };
    char *tokens[] = { (char *)"tokens", (char *)"-h", NULL };
    char *dashed[] = { (char *)"--version", NULL };
    char *plain[] = { (char *)"version", NULL };
    char *out = NULL;
    char *out2 = NULL;
    struct tu_env env;

    tu_env_init(&env);
    ck_assert_int_eq(tu_run(users, &env, &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: coder-cfg users create"));
    free(out);
    ck_assert_int_eq(tu_run(tokens, &env, &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: coder-cfg tokens create"));
    free(out);
    ck_assert_int_eq(tu_run(dashed, &env, &out, NULL), 0);
    ck_assert_int_eq(tu_run(plain, &env, &out2, NULL), 0);
    ck_assert_str_eq(out, out2);
    ck_assert_int_eq(out[0], 'v');
    free(out);
    free(out2);
    tu_env_release(&env);
}
END_TEST

START_TEST(users_create_bad_email_exits_2_naming_email)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *args[] = { (char *)"users", (char *)"create", (char *)"--username",
                     (char *)"bob", (char *)"--email",
                     (char *)"Bob <bob@example.com>", NULL };
    const char want[] = "coder-cfg: invalid --email \"Bob <bob@example"
                        ".com>\": ";
    char *err = NULL;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), 2);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "stderr: %s", err);
    free(err);
    tu_env_release(&env);
    tu_rmtree(dir);
}
END_TEST

/* --- TLS settings -------------------------------------------------------- */

/* Starts a TLS server with extra flags that must fail; stderr (heap). */
static char *
tls_start_fails(const char *flag, const char *value, int want)
{
    struct tu_env env;
    char *dir = tu_tmpdir();
    char *args[] = { (char *)"server", (char *)"--tls-enable",
                     (char *)"--tls-address", (char *)"127.0.0.1:0",
                     (char *)"--tls-cert-file", (char *)"/nonexistent.pem",
                     (char *)"--tls-key-file", (char *)"/nonexistent.key",
                     (char *)flag, (char *)value, NULL };
    char *err = NULL;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", dir);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "false");
    ck_assert_int_eq(tu_run(args, &env, NULL, &err), want);
    tu_env_release(&env);
    tu_rmtree(dir);
    return err;
}

START_TEST(tls_client_auth_other_than_none_is_refused)
{
    char *err = tls_start_fails("--tls-client-auth", "require-and-verify",
                                1);

    ck_assert_str_eq(err, "coder-cfg: --tls-client-auth \"require-and-"
                     "verify\" is not supported: client certificates "
                     "cannot be checked; use \"none\"\n");
    free(err);
    err = tls_start_fails("--tls-client-auth", "sometimes", 2);
    ck_assert_ptr_nonnull(strstr(err, "invalid --tls-client-auth "
                                 "\"sometimes\""));
    free(err);
}
END_TEST

START_TEST(tls_bad_min_version_and_file_counts_exit_2)
{
    char *err = tls_start_fails("--tls-min-version", "tls14", 2);

    ck_assert_str_eq(err, "coder-cfg: invalid --tls-min-version \"tls14\": "
                     "want tls10, tls11, tls12 or tls13\n");
    free(err);
    err = tls_start_fails("--tls-cert-file", "/second.pem", 2);
    ck_assert_msg(strstr(err, "--tls-cert-file") != NULL &&
                  strstr(err, "--tls-key-file") != NULL, "stderr: %s", err);
    free(err);
}
END_TEST

/* --- agent stats retention ----------------------------------------------- */

static void
add_stat(struct engine *en, int64_t created_at)
{
    struct store *st = engine_store(en);
    struct store_agent_stat a;
    struct err e;

    memset(&a, 0, sizeof(a));
    a.created_at = created_at;
    util_uuid_new(a.id);
    util_uuid_new(a.workspace_id);
    util_uuid_new(a.agent_id);
    err_clear(&e);
    ck_assert_msg(store_ops_of(st)->stat_append(st, NULL, &a, &e) == 0,
                  "%s", e.msg);
}

static int
count_stat(const struct store_agent_stat *a, void *ctx)
{
    (void)a;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t
stats_in(const char *dir)
{
    struct engine_options o;
    struct engine *en = NULL;
    struct err e;
    size_t n = 0;

    memset(&o, 0, sizeof(o));
    o.config_dir = dir;
    err_clear(&e);
    ck_assert_int_eq(engine_open(&en, &o, &e), 0);
    ck_assert_int_eq(store_ops_of(engine_store(en))->stat_scan_since(
        engine_store(en), NULL, 0, count_stat, &n, &e), 0);
    engine_close(en);
    return n;
}

START_TEST(server_prunes_agent_stats_past_thirty_days)
{
    struct engine_options o;
    struct engine *en = NULL;
    struct tu_server s;
    struct err e;
    char *dir = tu_tmpdir();
    int64_t now = util_now_ns();
    int64_t day = INT64_C(24) * 3600 * 1000000000;

    memset(&o, 0, sizeof(o));
    o.config_dir = dir;
    err_clear(&e);
    ck_assert_int_eq(engine_open(&en, &o, &e), 0);
    add_stat(en, now - 31 * day);
    add_stat(en, now - 29 * day);
    add_stat(en, now - 60 * 1000000000LL);
    engine_close(en);
    ck_assert_uint_eq(stats_in(dir), 3);

    ck_assert_int_eq(tu_server_start(&s, dir, NULL, NULL), 0);
    sleep_ms(500);
    ck_assert_int_eq(tu_server_stop(&s), 0);
    ck_assert_uint_eq(stats_in(dir), 2);
    tu_rmtree(dir);
}
END_TEST

static Suite *
server_suite(void)
{
    Suite *s = suite_create("check_server");
    TCase *tc = tcase_create("server");

    tcase_add_test(tc, resolution_warnings_are_warn_log_lines);
    tcase_add_test(tc, deprecated_flag_warning_is_a_warn_log_line);
    tcase_add_test(tc, resolution_warnings_are_json_with_log_json);
    tcase_add_test(tc, start_up_error_stays_plain_after_its_warnings);
    tcase_add_test(tc, clean_stop_marks_the_replica_gone_at_once);
    tcase_add_test(tc, failed_listen_leaves_the_replica_gone);
    tcase_add_test(tc, failed_listen_makes_no_update_check);
    tcase_add_test(tc, sigterm_while_waiting_for_postgres_exits_at_once);
    tcase_add_test(tc, connect_timeout_must_be_a_positive_duration);
    tcase_add_test(tc, external_auth_providers_come_from_env);
    tcase_add_test(tc, external_auth_gap_exits_2_naming_the_variable);
    tcase_add_test(tc, write_config_leaves_out_env_external_auth_secrets);
    tcase_add_test(tc, port_past_16_bits_is_refused);
    tcase_add_test(tc, admin_help_and_version_exit_0);
    tcase_add_test(tc, users_create_bad_email_exits_2_naming_email);
    tcase_add_test(tc, server_prunes_agent_stats_past_thirty_days);
    tcase_add_test(tc, tls_client_auth_other_than_none_is_refused);
    tcase_add_test(tc, tls_bad_min_version_and_file_counts_exit_2);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(server_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
