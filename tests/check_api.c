/*
 * check_api.c: the General API of a real `coder-cfg server` process on a
 * loopback port with a real LMDB store (api-behavior.md section 6).
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/util.h"
#include "tests/testutil.h"

#define SENTINEL "s3ntinel-9f2c"
#define SIGNED_OUT "You are signed out or your session has expired. " \
    "Please sign in again to continue."

/* The shared server and its users, set up once per test case group. */
static struct tu_server S;
static char *tok_owner;
static char *tok_auditor;
static char *tok_member;
static char *tok_other;
static char *tok_suspended;
static char *tok_expired;
static char *id_member;
static char *id_other;

static const char *const secret_envs[] = {
    "CODER_OAUTH2_GITHUB_CLIENT_SECRET", "CODER_OIDC_CLIENT_SECRET",
    "CODER_TRACE_HONEYCOMB_API_KEY", "CODER_PROVISIONER_DAEMON_PSK",
    "CODER_SCIM_AUTH_HEADER", "CODER_EXTERNAL_TOKEN_ENCRYPTION_KEYS",
    "CODER_EMAIL_AUTH_PASSWORD", "CODER_NOTIFICATIONS_EMAIL_AUTH_PASSWORD",
    "CODER_AIBRIDGE_OPENAI_KEY", "CODER_AIBRIDGE_ANTHROPIC_KEY",
    "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY",
    "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET",
};

static void
suspend(const char *dir, const char *user_id)
{
    struct engine_options o;
    struct engine *en;
    struct err e;

    memset(&o, 0, sizeof(o));
    o.config_dir = dir;
    ck_assert_msg(engine_open(&en, &o, &e) == 0, "engine_open: %s", e.msg);
    ck_assert_int_eq(engine_user_set_status(en, user_id,
                                            STORE_USER_SUSPENDED, &e), 0);
    engine_close(en);
}

static void
shared_setup(void)
{
    struct tu_env env;
    char *id_suspended;
    size_t i;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_SSH_CONFIG_OPTIONS",
               "ForwardAgent yes,ConnectTimeout=10");
    tu_env_set(&env, "CODER_EXPERIMENTS", "Foo,*");
    tu_env_set(&env, "CODER_ACCESS_URL", "http://coder.example.test");
    for (i = 0; i < sizeof(secret_envs) / sizeof(secret_envs[0]); i++)
        tu_env_set(&env, secret_envs[i], SENTINEL);
    ck_assert_msg(tu_server_start(&S, NULL, NULL, &env) == 0,
                  "server did not start: %s",
                  tu_read_file(S.proc.err_path));
    tu_env_release(&env);

    tok_owner = tu_user_token(&S, "alice", "owner", "", NULL);
    tok_auditor = tu_user_token(&S, "audrey", "auditor", "", NULL);
    tok_member = tu_user_token(&S, "bob", "", "", &id_member);
    tok_other = tu_user_token(&S, "carol", "", "", &id_other);
    tok_suspended = tu_user_token(&S, "dave", "", "", &id_suspended);
    tok_expired = tu_user_token(&S, "erin", "", "1s", NULL);
    suspend(S.dir, id_suspended);
    free(id_suspended);
}

static void
shared_teardown(void)
{
    tu_server_stop(&S);
    free(tok_owner);
    free(tok_auditor);
    free(tok_member);
    free(tok_other);
    free(tok_suspended);
    free(tok_expired);
    free(id_member);
    free(id_other);
}

static json_t *
body_json(const struct tu_resp *r)
{
    json_error_t err;
    json_t *v = json_loadb(r->body, r->len, JSON_DECODE_ANY, &err);

    ck_assert_msg(v != NULL, "body is not JSON (%s): %s", err.text,
                  r->body);
    return v;
}

static void
assert_header(const struct tu_resp *r, const char *name, const char *want)
{
    char *v = tu_header(r, name);

    ck_assert_msg(v != NULL, "no %s header", name);
    ck_assert_str_eq(v, want);
    free(v);
}

/* status and {"message":message[,"detail":detail]} exactly. */
static void
assert_message(const struct tu_resp *r, long status, const char *message,
               const char *detail)
{
    json_t *v = body_json(r);

    ck_assert_int_eq(r->status, status);
    ck_assert_str_eq(json_string_value(json_object_get(v, "message")),
                     message);
    if (detail != NULL)
        ck_assert_str_eq(json_string_value(json_object_get(v, "detail")),
                         detail);
    json_decref(v);
}

static long
get_status_at(struct tu_server *s, const char *path)
{
    struct tu_resp r;
    long status;

    ck_assert_int_eq(tu_get(s, path, NULL, NULL, &r), 0);
    status = r.status;
    tu_resp_release(&r);
    return status;
}

static long
get_status(const char *path, const char *token)
{
    struct tu_resp r;
    long status;

    ck_assert_int_eq(tu_get(&S, path, token, NULL, &r), 0);
    status = r.status;
    tu_resp_release(&r);
    return status;
}

/* --- root, headers, routing ---------------------------------------------- */

START_TEST(root_answers_wave_with_common_headers)
{
    static const char *const paths[] = { "/api/v2/", "/api/v2" };
    size_t i;

    for (i = 0; i < 2; i++) {
        struct tu_resp r;
        char *id;
        char *ver;

        ck_assert_int_eq(tu_get(&S, paths[i], NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "{\"message\":\"\xf0\x9f\x91\x8b\"}\n");
        assert_header(&r, "Content-Type", "application/json; charset=utf-8");
        assert_header(&r, "X-Content-Type-Options", "nosniff");
        assert_header(&r, "Vary", "Cookie");
        assert_header(&r, "X-RateLimit-Limit", "512");
        id = tu_header(&r, "X-Coder-Request-Id");
        ck_assert(id != NULL && util_uuid_valid(id) && id[14] == '4');
        ver = tu_header(&r, "X-Coder-Build-Version");
        ck_assert(ver != NULL && ver[0] == 'v');
        free(id);
        free(ver);
        id = tu_header(&r, "X-RateLimit-Remaining");
        ck_assert_ptr_nonnull(id);
        free(id);
        tu_resp_release(&r);
    }
}
END_TEST

START_TEST(unknown_route_is_404_and_wrong_method_405)
{
    struct tu_resp r;
    char url[128];

    ck_assert_int_eq(tu_get(&S, "/api/v2/nope", NULL, NULL, &r), 0);
    ck_assert_str_eq(r.body, "{\"message\":\"Route not found.\"}\n");
    ck_assert_int_eq(r.status, 404);
    tu_resp_release(&r);
    ck_assert_int_eq(get_status("/api/v2/buildinfo/", NULL), 404);

    snprintf(url, sizeof(url), "%s/api/v2/buildinfo", S.base);
    ck_assert_int_eq(tu_http("POST", url, NULL, "", 0, &r), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_uint_eq(r.len, 0);
    assert_header(&r, "Allow", "GET");
    tu_resp_release(&r);
}
END_TEST

START_TEST(auth_runs_before_matching_in_deployment_group)
{
    struct tu_resp r;
    char url[128];

    ck_assert_int_eq(get_status("/api/v2/deployment/nonexistent", NULL),
                     401);
    snprintf(url, sizeof(url), "%s/api/v2/deployment/config", S.base);
    ck_assert_int_eq(tu_http("POST", url, NULL, "", 0, &r), 0);
    ck_assert_int_eq(r.status, 401);
    tu_resp_release(&r);
    ck_assert_int_eq(get_status("/api/v2/deployment/nonexistent",
                                tok_owner), 404);
}
END_TEST

START_TEST(healthz_is_plain_ok)
{
    struct tu_resp r;

    ck_assert_int_eq(tu_get(&S, "/healthz", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "OK");
    assert_header(&r, "Content-Type", "text/plain; charset=utf-8");
    tu_resp_release(&r);
}
END_TEST

START_TEST(buildinfo_answers_anonymous)
{
    struct tu_resp r;
    json_t *v;

    ck_assert_int_eq(tu_get(&S, "/api/v2/buildinfo", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    v = body_json(&r);
    ck_assert(json_string_value(json_object_get(v, "version"))[0] == 'v');
    ck_assert_str_eq(json_string_value(json_object_get(
        v, "agent_api_version")), "1.0");
    ck_assert(json_is_false(json_object_get(v, "workspace_proxy")));
    ck_assert_str_eq(json_string_value(json_object_get(v, "dashboard_url")),
                     "http://coder.example.test");
    ck_assert(util_uuid_valid(json_string_value(json_object_get(
        v, "deployment_id"))));
    json_decref(v);
    tu_resp_release(&r);
}
END_TEST

START_TEST(anonymous_only_reaches_public_endpoints)
{
    static const char *const closed[] = {
        "/api/v2/deployment/config", "/api/v2/deployment/stats",
        "/api/v2/deployment/ssh", "/api/v2/experiments",
        "/api/v2/experiments/available",
        "/api/v2/users/me/keys/tokens/tokenconfig",
    };
    size_t i;

    ck_assert_int_eq(get_status("/api/v2/buildinfo", NULL), 200);
    ck_assert_int_eq(get_status("/api/v2/updatecheck", NULL), 200);
    ck_assert_int_eq(get_status("/api/v2/", NULL), 200);
    for (i = 0; i < sizeof(closed) / sizeof(closed[0]); i++)
        ck_assert_int_eq(get_status(closed[i], NULL), 401);
}
END_TEST

/* --- authentication ------------------------------------------------------ */

START_TEST(every_token_source_works)
{
    char h1[96], h2[96], h3[96], path[160];
    const char *hdr[2] = { NULL, NULL };
    struct tu_resp r;

    snprintf(h1, sizeof(h1), "Cookie: coder_session_token=%s", tok_member);
    snprintf(h2, sizeof(h2), "Coder-Session-Token: %s", tok_member);
    snprintf(h3, sizeof(h3), "Authorization: bearer %s", tok_member);
    hdr[0] = h1;
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", NULL, hdr, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    hdr[0] = h2;
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", NULL, hdr, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    hdr[0] = h3;
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", NULL, hdr, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    snprintf(path, sizeof(path),
             "/api/v2/experiments?coder_session_token=%s", tok_member);
    ck_assert_int_eq(get_status(path, NULL), 200);
    snprintf(path, sizeof(path), "/api/v2/experiments?access_token=%s",
             tok_member);
    ck_assert_int_eq(get_status(path, NULL), 200);
}
END_TEST

START_TEST(cookie_wins_over_header)
{
    char cookie[96];
    const char *hdr[] = { cookie, NULL };
    struct tu_resp r;

    snprintf(cookie, sizeof(cookie), "Cookie: coder_session_token=%s",
             tok_member);
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", "bad-token", hdr,
                            &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    snprintf(cookie, sizeof(cookie), "Cookie: coder_session_token=x-y");
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", tok_member, hdr,
                            &r), 0);
    ck_assert_int_eq(r.status, 401);
    tu_resp_release(&r);
}
END_TEST

static void
assert_refused(const char *token, const char *detail)
{
    struct tu_resp r;
    char *www;

    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", token, NULL, &r), 0);
    assert_message(&r, 401, SIGNED_OUT, detail);
    www = tu_header(&r, "WWW-Authenticate");
    ck_assert(www != NULL && strncmp(www, "Bearer realm=\"coder\"", 20) == 0);
    free(www);
    tu_resp_release(&r);
}

START_TEST(bad_tokens_get_coder_401_details)
{
    char wrong[64];

    assert_refused(NULL, "Cookie \"coder_session_token\" or query parameter "
                   "must be provided.");
    assert_refused("test-wow-hello", "Invalid API key format: incorrect "
                   "amount of API key parts, expected 2 got 3");
    assert_refused("test-wow", "Invalid API key format: invalid API key ID "
                   "length, expected 10 got 4");
    assert_refused("testtestid-wow", "Invalid API key format: invalid API "
                   "key secret length, expected 22 got 3");
    assert_refused("AAAAAAAAAA-0123456789abcdefABCDEF", "API key is "
                   "invalid.");
    snprintf(wrong, sizeof(wrong), "%.11s0123456789abcdefABCDEF",
             tok_member);
    assert_refused(wrong, "API key secret is invalid.");
}
END_TEST

/* A Bearer token of any length is checked, not taken for a missing one. */
START_TEST(long_bearer_token_gets_format_details)
{
    char *token = malloc(700);
    char *auth = malloc(800);
    const char *hdrs[] = { auth, NULL };
    struct tu_resp r;

    memset(token, 'A', 699);
    token[699] = '\0';
    snprintf(auth, 800, "Authorization: Bearer %s", token);
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", NULL, hdrs, &r), 0);
    assert_message(&r, 401, SIGNED_OUT, "Invalid API key format: incorrect "
                   "amount of API key parts, expected 2 got 1");
    tu_resp_release(&r);

    token[10] = '-';
    snprintf(auth, 800, "Authorization: Bearer %s", token);
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", NULL, hdrs, &r), 0);
    assert_message(&r, 401, SIGNED_OUT, "Invalid API key format: invalid "
                   "API key secret length, expected 22 got 688");
    tu_resp_release(&r);
    free(token);
    free(auth);
}
END_TEST

START_TEST(expired_token_is_refused_with_its_time)
{
    struct tu_resp r;
    json_t *v;
    struct timespec wait = { 1, 200 * 1000 * 1000 };

    nanosleep(&wait, NULL);
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", tok_expired, NULL,
                            &r), 0);
    ck_assert_int_eq(r.status, 401);
    v = body_json(&r);
    ck_assert(strncmp(json_string_value(json_object_get(v, "detail")),
                      "API key expired at \"", 20) == 0);
    ck_assert_ptr_nonnull(strstr(r.headers, "has expired"));
    json_decref(v);
    tu_resp_release(&r);
}
END_TEST

START_TEST(suspended_user_is_not_active)
{
    struct tu_resp r;

    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", tok_suspended, NULL,
                            &r), 0);
    assert_message(&r, 401, "User is not active (status = \"suspended\"). "
                   "Contact an admin to reactivate your account.", NULL);
    tu_resp_release(&r);
}
END_TEST

/* --- deployment ---------------------------------------------------------- */

START_TEST(deployment_config_and_stats_need_owner_or_auditor)
{
    struct tu_resp r;

    ck_assert_int_eq(tu_get(&S, "/api/v2/deployment/config", tok_member,
                            NULL, &r), 0);
    assert_message(&r, 403, "Forbidden.", "You don't have permission to "
                   "view this content. If you believe this is a mistake, "
                   "please contact your administrator or try signing in "
                   "with different credentials.");
    tu_resp_release(&r);
    ck_assert_int_eq(get_status("/api/v2/deployment/stats", tok_member),
                     403);
    ck_assert_int_eq(get_status("/api/v2/deployment/config", tok_owner),
                     200);
    ck_assert_int_eq(get_status("/api/v2/deployment/config", tok_auditor),
                     200);
    ck_assert_int_eq(get_status("/api/v2/deployment/stats", tok_owner), 200);
    ck_assert_int_eq(get_status("/api/v2/deployment/stats", tok_auditor),
                     200);
    ck_assert_int_eq(get_status("/api/v2/deployment/ssh", tok_member), 200);
}
END_TEST

START_TEST(deployment_config_hides_every_secret)
{
    struct tu_resp r;
    json_t *v;
    json_t *opts;
    json_t *o;
    size_t i;

    ck_assert_int_eq(tu_get(&S, "/api/v2/deployment/config", tok_owner,
                            NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(strstr(r.body, SENTINEL));
    v = body_json(&r);
    opts = json_object_get(v, "options");
    ck_assert_uint_eq(json_array_size(opts), 216);
    ck_assert(json_is_object(json_object_get(v, "config")));
    json_array_foreach(opts, i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));

        if (strcmp(name, "OIDC Client Secret") == 0) {
            ck_assert_ptr_null(json_object_get(o, "value"));
            ck_assert_str_eq(json_string_value(json_object_get(
                o, "value_source")), "env");
        }
    }
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
        json_object_get(v, "config"), "session_lifetime"),
        "default_duration")), INT64_C(86400000000000));
    json_decref(v);
    tu_resp_release(&r);
}
END_TEST

/* "2025-11-20T10:15:00.123Z" in nanoseconds. */
static int64_t
parse_time(const char *s)
{
    struct tm tm;
    double frac = 0;
    int y, mo, d, h, mi, sec;

    memset(&tm, 0, sizeof(tm));
    ck_assert_int_eq(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h,
                            &mi, &sec), 6);
    if (s[19] == '.')
        frac = strtod(s + 19, NULL);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm) * UTIL_NS_PER_SEC +
           (int64_t)(frac * 1e9 + 0.5);
}

START_TEST(deployment_stats_are_ready_at_once)
{
    struct tu_resp r;
    json_t *v;
    int64_t from, at, next;

    ck_assert_int_eq(tu_get(&S, "/api/v2/deployment/stats", tok_owner, NULL,
                            &r), 0);
    ck_assert_int_eq(r.status, 200);
    v = body_json(&r);
    from = parse_time(json_string_value(json_object_get(v,
                                                        "aggregated_from")));
    at = parse_time(json_string_value(json_object_get(v, "collected_at")));
    next = parse_time(json_string_value(json_object_get(v,
                                                        "next_update_at")));
    ck_assert(at < next);
    ck_assert(at - from == INT64_C(15) * 60 * UTIL_NS_PER_SEC);
    ck_assert_ptr_nonnull(strstr(r.body, "\"connection_latency_ms\":"
                                 "{\"p50\":-1,\"p95\":-1}"));
    json_decref(v);
    tu_resp_release(&r);
}
END_TEST

START_TEST(ssh_config_parses_both_separators)
{
    struct tu_resp r;
    json_t *v;
    json_t *opts;

    ck_assert_int_eq(tu_get(&S, "/api/v2/deployment/ssh", tok_member, NULL,
                            &r), 0);
    v = body_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(v,
                                                       "hostname_prefix")),
                     "coder.");
    ck_assert_str_eq(json_string_value(json_object_get(v,
                                                       "hostname_suffix")),
                     "coder");
    opts = json_object_get(v, "ssh_config_options");
    ck_assert_uint_eq(json_object_size(opts), 2);
    ck_assert_str_eq(json_string_value(json_object_get(opts,
                                                       "ForwardAgent")),
                     "yes");
    ck_assert_str_eq(json_string_value(json_object_get(opts,
                                                       "ConnectTimeout")),
                     "10");
    json_decref(v);
    tu_resp_release(&r);
}
END_TEST

START_TEST(experiments_lowercase_and_star_adds_nothing)
{
    struct tu_resp r;

    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments", tok_member, NULL,
                            &r), 0);
    ck_assert_str_eq(r.body, "[\"foo\"]\n");
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments/", tok_member, NULL,
                            &r), 0);
    ck_assert_str_eq(r.body, "[\"foo\"]\n");
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&S, "/api/v2/experiments/available", tok_member,
                            NULL, &r), 0);
    ck_assert_str_eq(r.body, "{\"safe\":[]}\n");
    tu_resp_release(&r);
}
END_TEST

/* --- tokenconfig --------------------------------------------------------- */

static void
assert_max(const char *path, const char *token, const char *want)
{
    struct tu_resp r;
    char body[96];

    ck_assert_int_eq(tu_get(&S, path, token, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    snprintf(body, sizeof(body), "{\"max_token_lifetime\":%s}\n", want);
    ck_assert_str_eq(r.body, body);
    tu_resp_release(&r);
}

START_TEST(tokenconfig_resolves_me_name_and_uuid)
{
    char path[160];

    assert_max("/api/v2/users/me/keys/tokens/tokenconfig", tok_owner,
               "604800000000000");
    assert_max("/api/v2/users/me/keys/tokens/tokenconfig", tok_member,
               "3155760000000000000");
    assert_max("/api/v2/users/BoB/keys/tokens/tokenconfig", tok_member,
               "3155760000000000000");
    snprintf(path, sizeof(path), "/api/v2/users/%s/keys/tokens/tokenconfig",
             id_member);
    assert_max(path, tok_member, "3155760000000000000");
    assert_max("/api/v2/users/bob/keys/tokens/tokenconfig", tok_owner,
               "3155760000000000000");
}
END_TEST

static void
assert_bad_user(const char *user, const char *token)
{
    struct tu_resp r;
    char path[160];
    char detail[96];

    snprintf(path, sizeof(path), "/api/v2/users/%s/keys/tokens/tokenconfig",
             user);
    snprintf(detail, sizeof(detail), "queried user=\"%s\"", user);
    ck_assert_int_eq(tu_get(&S, path, token, NULL, &r), 0);
    assert_message(&r, 400, "\"user\" must be an existing uuid or "
                   "username.", detail);
    tu_resp_release(&r);
}

START_TEST(tokenconfig_member_cannot_see_others)
{
    assert_bad_user("carol", tok_member);
    assert_bad_user(id_other, tok_member);
    assert_bad_user("nobody-here", tok_owner);
}
END_TEST

/* The echo of {user} is Go's %q: short escapes, \x, \u and \U. */
START_TEST(bad_user_is_quoted_as_go_does)
{
    static const char path[] = "/api/v2/users/a%0Ab%09%07%08%0C%0B%0D%01"
        "%7F%22%5C%C2%A0%C2%AD%E2%80%8B%F0%9F%98%80%F3%A0%80%81%FF%C0%80"
        "%ED%A0%80%C3%A9%E2%82/keys/tokens/tokenconfig";
    static const char want[] = "queried user=\"a\\nb\\t\\a\\b\\f\\v\\r"
        "\\x01\\x7f\\\"\\\\\\u00a0\\u00ad\\u200b\xF0\x9F\x98\x80"
        "\\U000e0001\\xff\\xc0\\x80\\xed\\xa0\\x80\xC3\xA9\\xe2\\x82\"";
    char longpath[2048];
    char *longwant;
    struct tu_resp r;
    size_t n = 0;
    int i;

    ck_assert_int_eq(tu_get(&S, path, tok_owner, NULL, &r), 0);
    assert_message(&r, 400, "\"user\" must be an existing uuid or "
                   "username.", want);
    tu_resp_release(&r);

    /* A long value is echoed whole. */
    longwant = malloc(2048);
    n = (size_t)snprintf(longwant, 2048, "queried user=\"");
    for (i = 0; i < 120; i++)
        n += (size_t)snprintf(longwant + n, 2048 - n, "\\xff");
    snprintf(longwant + n, 2048 - n, "\"");
    n = (size_t)snprintf(longpath, sizeof(longpath), "/api/v2/users/");
    for (i = 0; i < 120; i++)
        n += (size_t)snprintf(longpath + n, sizeof(longpath) - n, "%%FF");
    snprintf(longpath + n, sizeof(longpath) - n, "/keys/tokens/tokenconfig");
    ck_assert_int_eq(tu_get(&S, longpath, tok_owner, NULL, &r), 0);
    assert_message(&r, 400, "\"user\" must be an existing uuid or "
                   "username.", longwant);
    tu_resp_release(&r);
    free(longwant);
}
END_TEST

/* --- CSP ----------------------------------------------------------------- */

static void
post_csp(const char *body, size_t len, struct tu_resp *r)
{
    char url[128];

    snprintf(url, sizeof(url), "%s/api/v2/csp/reports", S.base);
    ck_assert_int_eq(tu_http("POST", url, NULL, body, len, r), 0);
}

START_TEST(csp_reports_accept_valid_and_refuse_bad_json)
{
    static const char good[] = "{\"csp-report\":{\"blocked-uri\":\"x\"}}";
    struct tu_resp r;

    post_csp(good, strlen(good), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "\"ok\"\n");
    tu_resp_release(&r);
    post_csp("", 0, &r);
    assert_message(&r, 400, "Failed to read body, invalid json.", "EOF");
    tu_resp_release(&r);
    post_csp("not json", 8, &r);
    assert_message(&r, 400, "Failed to read body, invalid json.",
                   "invalid character 'o' in literal null (expecting 'u')");
    tu_resp_release(&r);
    post_csp("[]", 2, &r);
    assert_message(&r, 400, "Failed to read body, invalid json.",
                   "json: cannot unmarshal array into Go value of type "
                   "coderd.cspViolation");
    tu_resp_release(&r);
}
END_TEST

START_TEST(csp_report_over_64k_is_413)
{
    static const size_t sizes[] = { 128 * 1024, 5 * 1024 * 1024 };
    size_t i;

    for (i = 0; i < 2; i++) {
        char *big = malloc(sizes[i]);
        struct tu_resp r;

        memset(big, ' ', sizes[i]);
        post_csp(big, sizes[i], &r);
        assert_message(&r, 413, "Request body too large.", "Maximum CSP "
                       "report size is 65536 bytes.");
        tu_resp_release(&r);
        free(big);
    }
}
END_TEST

/* A chunked body of n spaces, counted as libcurl takes it, and the
 * start of the answer. */
struct chunked {
    size_t left;
    size_t sent;
    char got[512];
    size_t got_len;
};

static size_t
chunked_read(char *buf, size_t size, size_t nmemb, void *cls)
{
    struct chunked *c = cls;
    size_t n = size * nmemb;

    if (n > c->left)
        n = c->left;
    memset(buf, ' ', n);
    c->left -= n;
    c->sent += n;
    return n;
}

static size_t
chunked_write(char *data, size_t size, size_t nmemb, void *cls)
{
    struct chunked *c = cls;
    size_t n = size * nmemb;
    size_t room = sizeof(c->got) - 1 - c->got_len;

    memcpy(c->got + c->got_len, data, n < room ? n : room);
    c->got_len += n < room ? n : room;
    c->got[c->got_len] = '\0';
    return n;
}

/*
 * POSTs n bytes chunked to path; returns the status, *sent the bytes
 * sent, and the start of the answer's body in got (512 bytes).
 */
static long
post_chunked(const char *path, size_t n, size_t *sent, char *got)
{
    struct curl_slist *h = curl_slist_append(NULL,
                                             "Transfer-Encoding: chunked");
    struct chunked c;
    CURL *curl = curl_easy_init();
    char url[160];
    long status = 0;

    memset(&c, 0, sizeof(c));
    c.left = n;
    snprintf(url, sizeof(url), "%s%s", S.base, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, chunked_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &c);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, chunked_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
    curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(h);
    *sent = c.sent;
    memcpy(got, c.got, sizeof(c.got));
    return status;
}

/*
 * A chunked CSP report over the cap is answered 413 when it ends; one so
 * large that it passes the read cap has its connection dropped early, and
 * so has a large body sent to a route that reads none.
 */
START_TEST(chunked_bodies_are_cut_off_at_the_cap)
{
    int64_t t0 = util_mono_ns();
    size_t sent;
    char got[512];

    ck_assert_int_eq(post_chunked("/api/v2/csp/reports", 200u << 10, &sent,
                                  got), 413);
    ck_assert_str_eq(got, "{\"message\":\"Request body too large.\","
                     "\"detail\":\"Maximum CSP report size is 65536 "
                     "bytes.\"}\n");
    ck_assert_int_eq(post_chunked("/api/v2/buildinfo", 200u << 10, &sent,
                                  got), 405);
    ck_assert_int_ne(post_chunked("/api/v2/csp/reports", 5u << 20, &sent,
                                  got), 200);
    ck_assert_int_lt(util_mono_ns() - t0, 5 * UTIL_NS_PER_SEC);

    /* A body past the read cap is not read to its end. */
    post_chunked("/api/v2/csp/reports", 256u << 20, &sent, got);
    ck_assert_uint_lt(sent, 64u << 20);
    post_chunked("/api/v2/buildinfo", 256u << 20, &sent, got);
    ck_assert_uint_lt(sent, 64u << 20);
    ck_assert_int_eq(get_status("/healthz", NULL), 200);
}
END_TEST

/* --- servers of their own ------------------------------------------------ */

static void
start_with(struct tu_server *s, char *const args[], struct tu_env *env)
{
    ck_assert_msg(tu_server_start(s, NULL, args, env) == 0,
                  "server did not start: %s",
                  tu_read_file(s->proc.err_path));
}

START_TEST(rate_limit_refuses_request_over_limit)
{
    char *args[] = { (char *)"--api-rate-limit", (char *)"5", NULL };
    const char *bypass[] = { "X-Coder-Bypass-Ratelimit: true", NULL };
    struct tu_server s;
    struct tu_resp r;
    char *owner, *member;
    int i;

    start_with(&s, args, NULL);
    owner = tu_user_token(&s, "olive", "owner", "", NULL);
    member = tu_user_token(&s, "mike", "", "", NULL);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_resp_release(&r);
    }
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
    assert_message(&r, 429, "You've been rate limited for sending more than "
                   "5 requests in 1m0s.", NULL);
    assert_header(&r, "Retry-After", "60");
    assert_header(&r, "X-RateLimit-Remaining", "0");
    tu_resp_release(&r);

    ck_assert_int_eq(tu_get(&s, "/api/v2/", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", owner, bypass, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", member, bypass, &r), 0);
    ck_assert_int_eq(r.status, 428);
    ck_assert_str_eq(r.body, "\"X-Coder-Bypass-Ratelimit\" provided but "
                     "user is not owner\n");
    tu_resp_release(&r);
    free(owner);
    free(member);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

static long
remaining(struct tu_server *s, const char *path)
{
    struct tu_resp r;
    char *v;
    long n;

    ck_assert_int_eq(tu_get(s, path, NULL, NULL, &r), 0);
    v = tu_header(&r, "X-RateLimit-Remaining");
    ck_assert_ptr_nonnull(v);
    n = strtol(v, NULL, 10);
    free(v);
    tu_resp_release(&r);
    return n;
}

/*
 * Made-up paths from one client share one bucket: they neither make new
 * keys nor touch the counter of a real route.
 */
START_TEST(rate_limit_unknown_paths_share_one_bucket)
{
    char *args[] = { (char *)"--api-rate-limit", (char *)"100000", NULL };
    struct tu_server s;
    char path[64];
    long known, before, after;
    int i;

    start_with(&s, args, NULL);
    known = remaining(&s, "/api/v2/buildinfo");
    before = remaining(&s, "/api/v2/nope-start");
    for (i = 0; i < 300; i++) {
        snprintf(path, sizeof(path), "/api/v2/nope-%d/x%d", i, i * 7);
        ck_assert_int_eq(get_status_at(&s, path), 404);
    }
    after = remaining(&s, "/api/v2/another-unknown");
    ck_assert_int_eq(after, before - 301);
    ck_assert_int_eq(remaining(&s, "/api/v2/buildinfo"), known - 1);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

/*
 * A bypass request counts under its key like any other; past the limit a
 * non-owner gets a limit's worth of 428s (each checks the token) and then
 * 429s without a check.  An owner is let through past the limit, until
 * its address has used up its failed checks too.
 */
START_TEST(rate_limit_bypass_counts_and_is_bounded)
{
    char *args[] = { (char *)"--api-rate-limit", (char *)"3", NULL };
    const char *bypass[] = { "X-Coder-Bypass-Ratelimit: true", NULL };
    struct tu_server s;
    struct tu_resp r;
    char *owner, *member;
    long want[] = { 428, 428, 428, 428, 428, 428, 429, 429 };
    size_t i;

    start_with(&s, args, NULL);
    owner = tu_user_token(&s, "olive", "owner", "", NULL);
    member = tu_user_token(&s, "mike", "", "", NULL);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", member, bypass,
                                &r), 0);
        ck_assert_int_eq(r.status, want[i]);
        tu_resp_release(&r);
        if (i == 2)
            ck_assert_int_eq(get_status_at(&s, "/api/v2/buildinfo"), 429);
        if (i != 4)
            continue;
        ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", owner, bypass,
                                &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_resp_release(&r);
    }
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", owner, bypass, &r), 0);
    ck_assert_int_eq(r.status, 429);
    tu_resp_release(&r);
    free(owner);
    free(member);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(rate_limit_off_sends_no_headers)
{
    char *args[] = { (char *)"--dangerous-disable-rate-limits", NULL };
    struct tu_server s;
    struct tu_resp r;

    start_with(&s, args, NULL);
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(tu_header(&r, "X-RateLimit-Limit"));
    tu_resp_release(&r);
    tu_server_stop(&s);
}
END_TEST

START_TEST(redirect_to_access_url_spares_healthz)
{
    char *args[] = { (char *)"--redirect-to-access-url", (char *)
                     "--access-url", (char *)"http://coder.example.test",
                     NULL };
    const char *host[] = { "Host: coder.example.test", NULL };
    struct tu_server s;
    struct tu_resp r;

    start_with(&s, args, NULL);
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 307);
    assert_header(&r, "Location", "http://coder.example.test");
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, host, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    tu_server_stop(&s);
}
END_TEST

/* Long header values (a long access URL, a long CORS echo) go out whole. */
START_TEST(long_header_values_are_never_cut)
{
    char *url = malloc(2100);
    char *args[] = { (char *)"--dangerous-allow-cors-requests",
                     (char *)"--redirect-to-access-url", (char *)"--access-url",
                     url, NULL };
    char *want = malloc(2200);
    char *list = malloc(3000);
    const char *pre[] = { "Origin: https://elsewhere.test",
                          "Access-Control-Request-Method: GET", list,
                          "Host: coder.example.test", NULL };
    const char *host[] = { "Host: coder.example.test", NULL };
    struct tu_server s;
    struct tu_resp r;
    char *v;
    size_t n;
    int i;

    n = (size_t)snprintf(url, 2100, "http://coder.example.test/");
    memset(url + n, 'p', 2000);
    url[n + 2000] = '\0';
    n = (size_t)snprintf(list, 3000, "Access-Control-Request-Headers: ");
    for (i = 0; i < 300; i++)
        n += (size_t)snprintf(list + n, 3000 - n, "accept, ");
    list[n - 2] = '\0';
    start_with(&s, args, NULL);

    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 307);
    assert_header(&r, "Location", url);
    tu_resp_release(&r);

    ck_assert_int_eq(tu_get(&s, "/api/v2/experiments", NULL, host, &r), 0);
    snprintf(want, 2200, "Bearer realm=\"coder\", error=\"invalid_token\", "
             "error_description=\"The access token is invalid\", "
             "resource_metadata=\"%s/.well-known/oauth-protected-resource"
             "\"", url);
    assert_header(&r, "WWW-Authenticate", want);
    tu_resp_release(&r);

    snprintf(want, 2200, "%s/api/v2/buildinfo", s.base);
    ck_assert_int_eq(tu_http("OPTIONS", want, pre, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    v = tu_header(&r, "Access-Control-Allow-Headers");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, list + strlen("Access-Control-Request-Headers: "));
    free(v);
    tu_resp_release(&r);
    tu_server_stop(&s);
    free(url);
    free(want);
    free(list);
}
END_TEST

START_TEST(cors_allows_all_when_asked)
{
    char *args[] = { (char *)"--dangerous-allow-cors-requests", NULL };
    const char *origin[] = { "Origin: https://elsewhere.test", NULL };
    const char *pre[] = { "Origin: https://elsewhere.test",
                          "Access-Control-Request-Method: GET", NULL };
    struct tu_server s;
    struct tu_resp r;
    char url[128];

    start_with(&s, args, NULL);
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, origin, &r), 0);
    assert_header(&r, "Access-Control-Allow-Origin", "*");
    tu_resp_release(&r);
    snprintf(url, sizeof(url), "%s/api/v2/buildinfo", s.base);
    ck_assert_int_eq(tu_http("OPTIONS", url, pre, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    assert_header(&r, "Access-Control-Allow-Methods", "GET");
    tu_resp_release(&r);
    tu_server_stop(&s);
}
END_TEST

START_TEST(experiments_default_to_empty_list)
{
    struct tu_server s;
    struct tu_resp r;
    char *tok;

    start_with(&s, NULL, NULL);
    tok = tu_user_token(&s, "frank", "", "", NULL);
    ck_assert_int_eq(tu_get(&s, "/api/v2/experiments", tok, NULL, &r), 0);
    ck_assert_str_eq(r.body, "[]\n");
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&s, "/api/v2/deployment/ssh", tok, NULL, &r),
                     0);
    ck_assert_str_eq(r.body, "{\"hostname_prefix\":\"coder.\","
                     "\"hostname_suffix\":\"coder\","
                     "\"ssh_config_options\":{}}\n");
    tu_resp_release(&r);
    free(tok);
    tu_server_stop(&s);
}
END_TEST

/* --- start-up ------------------------------------------------------------ */

/* Runs the server expecting it to fail; returns stderr (heap). */
static char *
start_fails(char *const args[], struct tu_env *env, int want)
{
    char *argv[32] = { (char *)"server" };
    char *dir = tu_tmpdir();
    char *err = NULL;
    size_t n = 1;
    int rc;

    for (; args != NULL && *args != NULL && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    tu_env_set(env, "CODER_CONFIG_DIR", dir);
    tu_env_set(env, "CODER_UPDATE_CHECK", "false");
    rc = tu_run(argv, env, NULL, &err);
    ck_assert_msg(rc == want, "exit %d, want %d: %s", rc, want, err);
    tu_rmtree(dir);
    return err;
}

START_TEST(bad_ssh_option_fails_start_naming_variable)
{
    struct tu_env env;
    char *err;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_SSH_CONFIG_OPTIONS", "ForwardAgent yes,Bad");
    err = start_fails(NULL, &env, 2);
    ck_assert_ptr_nonnull(strstr(err, "CODER_SSH_CONFIG_OPTIONS"));
    ck_assert_ptr_nonnull(strstr(err, "\"Bad\""));
    free(err);
    tu_env_release(&env);
}
END_TEST

/* Redirecting to an access URL that is not set would send "Location: ". */
START_TEST(redirect_without_access_url_fails_start)
{
    char *args[] = { (char *)"--redirect-to-access-url", NULL };
    struct tu_env env;
    char *err;

    tu_env_init(&env);
    err = start_fails(args, &env, 2);
    ck_assert_msg(strstr(err, "--redirect-to-access-url needs --access-url")
                  != NULL, "stderr: %s", err);
    free(err);
    tu_env_release(&env);
}
END_TEST

START_TEST(startup_problems_are_one_line)
{
    struct tu_server s;
    struct tu_env env;
    char addr[40];
    char *in_use[] = { (char *)"--http-address", addr, NULL };
    char *tls[] = { (char *)"--tls-enable", (char *)"--tls-cert-file",
                    (char *)"/nonexistent.pem", (char *)"--tls-key-file",
                    (char *)"/nonexistent.key", (char *)"--tls-address",
                    (char *)"127.0.0.1:0", NULL };
    char *extra[] = { (char *)"surplus", NULL };
    char *scheme[] = { (char *)"--access-url", (char *)"ftp://x", NULL };
    char *iam[] = { (char *)"--postgres-auth", (char *)"awsiamrds", NULL };
    char *err;

    start_with(&s, NULL, NULL);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
    tu_env_init(&env);
    err = start_fails(in_use, &env, 1);
    ck_assert_ptr_nonnull(strstr(err, "address already in use"));
    ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1);
    free(err);
    tu_server_stop(&s);
    err = start_fails(tls, &env, 1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent.pem"));
    free(err);
    free(start_fails(extra, &env, 2));
    free(start_fails(scheme, &env, 2));
    err = start_fails(iam, &env, 1);
    ck_assert_ptr_nonnull(strstr(err, "awsiamrds"));
    free(err);
    tu_env_release(&env);
}
END_TEST

START_TEST(help_and_write_config_print_and_exit)
{
    char *help[] = { (char *)"server", (char *)"--help", NULL };
    char *yaml[] = { (char *)"server", (char *)"--write-config", NULL };
    struct tu_env env;
    char *out = NULL;

    tu_env_init(&env);
    ck_assert_int_eq(tu_run(help, &env, &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "--http-address"));
    free(out);
    ck_assert_int_eq(tu_run(yaml, &env, &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "httpAddress"));
    free(out);
    tu_env_release(&env);
}
END_TEST

START_TEST(token_lifetime_over_cap_names_it)
{
    struct tu_server s;
    char *tok;
    char *args[] = { (char *)"tokens", (char *)"create", (char *)
                     "--username", (char *)"gina", (char *)"--lifetime",
                     (char *)"200h", NULL };
    char *err = NULL;

    start_with(&s, NULL, NULL);
    tok = tu_user_token(&s, "gina", "owner", "24h", NULL);
    ck_assert_uint_eq(strlen(tok), 33);
    ck_assert_int_eq(tu_admin_run(&s, args, NULL, &err), 2);
    ck_assert_ptr_nonnull(strstr(err, "--max-admin-token-lifetime"));
    ck_assert_ptr_nonnull(strstr(err, "lifetime must be less"));
    free(err);
    free(tok);
    tu_server_stop(&s);
}
END_TEST

START_TEST(request_log_never_holds_the_token)
{
    struct tu_server s;
    char log[256];
    char *args[] = { (char *)"--log-json", log, (char *)"--log-filter",
                     (char *)".*", NULL };
    char *dir = tu_tmpdir();
    struct tu_resp r;
    char *tok;
    char *text;

    snprintf(log, sizeof(log), "%s/log.json", dir);
    start_with(&s, args, NULL);
    tok = tu_user_token(&s, "hank", "owner", "", NULL);
    ck_assert_int_eq(tu_get(&s, "/api/v2/deployment/config", tok, NULL, &r),
                     0);
    tu_resp_release(&r);
    tu_server_stop(&s);
    text = tu_read_file(log);
    ck_assert_ptr_nonnull(strstr(text, "\"path\":\"/api/v2/deployment/"
                                 "config\""));
    ck_assert_ptr_nonnull(strstr(text, "\"user\":\"hank\""));
    ck_assert_ptr_null(strstr(text, tok + 11));
    free(text);
    free(tok);
    tu_rmtree(dir);
}
END_TEST

START_TEST(tls_listener_serves_with_hsts)
{
    char *dir = tu_tmpdir();
    char cert[256], key[256], addr[40], url[96];
    char *gen[] = { (char *)"/usr/bin/openssl", (char *)"req", (char *)
                    "-x509", (char *)"-newkey", (char *)"rsa:2048", (char *)
                    "-nodes", (char *)"-keyout", key, (char *)"-out", cert,
                    (char *)"-days", (char *)"1", (char *)"-subj", (char *)
                    "/CN=localhost", NULL };
    char *args[] = { (char *)"--tls-enable", (char *)"--tls-address", addr,
                     (char *)"--tls-cert-file", cert, (char *)
                     "--tls-key-file", key, (char *)
                     "--strict-transport-security", (char *)"3600", NULL };
    struct tu_server s;
    struct tu_proc p;
    struct tu_env env;
    struct tu_resp r;
    int port = tu_free_port();

    if (access(gen[0], X_OK) != 0) {
        tu_rmtree(dir);
        return;                 /* no openssl to make a certificate */
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    tu_env_init(&env);
    tu_proc_start(&p, gen, env.v);
    ck_assert_int_eq(tu_proc_wait(&p), 0);
    tu_proc_release(&p);
    start_with(&s, args, &env);
    snprintf(url, sizeof(url), "https://%s/api/v2/buildinfo", addr);
    ck_assert_int_eq(tu_http("GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    assert_header(&r, "Strict-Transport-Security", "max-age=3600");
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
    ck_assert_ptr_null(strstr(r.headers, "Strict-Transport-Security"));
    tu_resp_release(&r);
    tu_server_stop(&s);
    tu_env_release(&env);
    tu_rmtree(dir);
}
END_TEST

/* --- update check against a local stand-in feed -------------------------- */

static const char *feed_tag;

static enum MHD_Result
feed_answer(void *cls, struct MHD_Connection *c, const char *url,
            const char *method, const char *version, const char *body,
            size_t *size, void **state)
{
    static int seen;
    char text[256];
    struct MHD_Response *resp;
    enum MHD_Result rc;

    (void)cls; (void)url; (void)method; (void)version; (void)body;
    (void)size;
    if (*state == NULL) {
        *state = &seen;
        return MHD_YES;
    }
    snprintf(text, sizeof(text), "{\"tag_name\":\"%s\",\"html_url\":"
             "\"https://github.com/coder/coder/releases/tag/%s\"}",
             feed_tag, feed_tag);
    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_COPY);
    rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Polls updatecheck until version is want (5 s at most). */
static json_t *
wait_for_version(struct tu_server *s, const char *want)
{
    int i;

    /* 20 s: a sanitizer build on a busy machine starts slowly. */
    for (i = 0; i < 2000; i++) {
        struct timespec step = { 0, 10 * 1000 * 1000 };
        struct tu_resp r;
        json_t *v;

        ck_assert_int_eq(tu_get(s, "/api/v2/updatecheck", NULL, NULL, &r),
                         0);
        v = body_json(&r);
        tu_resp_release(&r);
        if (strcmp(json_string_value(json_object_get(v, "version")),
                   want) == 0)
            return v;
        json_decref(v);
        nanosleep(&step, NULL);
    }
    ck_abort_msg("updatecheck never reported %s", want);
    return NULL;
}

static void
check_feed(const char *tag, bool current)
{
    int port = tu_free_port();
    struct MHD_Daemon *d;
    struct tu_server s;
    struct tu_env env;
    char url[96];
    json_t *v;

    feed_tag = tag;
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port,
                         NULL, NULL, feed_answer, NULL,
                         MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(d);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/latest", port);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "true");
    tu_env_set(&env, "CODER_CFG_UPDATE_CHECK_URL", url);
    start_with(&s, NULL, &env);
    v = wait_for_version(&s, tag);
    ck_assert(json_boolean_value(json_object_get(v, "current")) == current);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(v, "url")),
                                 "/releases/tag/"));
    json_decref(v);
    tu_server_stop(&s);
    tu_env_release(&env);
    MHD_stop_daemon(d);
}

START_TEST(updatecheck_newer_release_is_not_current)
{
    check_feed("v99.999.999", false);
}
END_TEST

START_TEST(updatecheck_same_release_is_current)
{
    char *args[] = { (char *)"version", NULL };
    struct tu_env env;
    char *out = NULL;

    tu_env_init(&env);
    ck_assert_int_eq(tu_run(args, &env, &out, NULL), 0);
    out[strcspn(out, "+\n")] = '\0';
    check_feed(out, true);
    free(out);
    tu_env_release(&env);
}
END_TEST

START_TEST(updatecheck_feed_down_answers_current_without_delay)
{
    struct tu_server s;
    struct tu_env env;
    struct tu_resp r;
    char url[96];
    int64_t t0;
    json_t *v;
    int i;
    int port;
    /* A listener that never accepts: the check hangs until it times out. */
    int fd = tu_listen_silent(&port);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/latest", port);
    tu_env_init(&env);
    tu_env_set(&env, "CODER_UPDATE_CHECK", "true");
    tu_env_set(&env, "CODER_CFG_UPDATE_CHECK_URL", url);
    start_with(&s, NULL, &env);
    for (i = 0; i < 20; i++) {
        t0 = util_mono_ns();
        ck_assert_int_eq(tu_get(&s, "/api/v2/updatecheck", NULL, NULL, &r),
                         0);
        ck_assert(util_mono_ns() - t0 < 200 * 1000 * 1000);
        v = body_json(&r);
        ck_assert(json_is_true(json_object_get(v, "current")));
        json_decref(v);
        tu_resp_release(&r);
    }
    ck_assert_int_eq(tu_server_stop(&s), 0);
    tu_env_release(&env);
    close(fd);
}
END_TEST

/* --- many connections ---------------------------------------------------- */

START_TEST(thousand_keep_alive_connections_are_served)
{
    char *args[] = { (char *)"--api-rate-limit", (char *)"-1", NULL };
    struct tu_server s;

    start_with(&s, args, NULL);
    ck_assert_int_eq(tu_many_connections(s.port, 1000, 2), 0);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

/* --- Prometheus metrics -------------------------------------------------- */

/* The body of GET /metrics on port, which must answer 200 in text form. */
static char *
scrape(int port)
{
    char url[64];
    struct tu_resp r;
    char *text;
    char *ctype;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    ck_assert_int_eq(tu_http("GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ctype = tu_header(&r, "Content-Type");
    ck_assert_ptr_nonnull(ctype);
    ck_assert_ptr_nonnull(strstr(ctype, "text/plain; version=0.0.4"));
    free(ctype);
    text = strdup(r.body);
    ck_assert_ptr_nonnull(text);
    tu_resp_release(&r);
    return text;
}

static void
assert_line(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "no line \"%s\" in:\n%s",
                  line, text);
}

START_TEST(metrics_count_requests_by_route_pattern)
{
    int mport = tu_free_port();
    char addr[32];
    char *args[] = { (char *)"--prometheus-enable",
                     (char *)"--prometheus-address", addr, NULL };
    struct tu_server s;
    struct tu_resp r;
    char url[64];
    char path[128];
    char *token;
    char *text;
    int i;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", mport);
    start_with(&s, args, NULL);
    token = tu_user_token(&s, "olive", "owner", "", NULL);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(tu_get(&s, "/api/v2/buildinfo", NULL, NULL, &r), 0);
        tu_resp_release(&r);
    }
    ck_assert_int_eq(tu_get(&s, "/api/v2/users/olive/keys/tokens/"
                            "tokenconfig", token, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    snprintf(path, sizeof(path), "/api/v2/users/me/keys/tokens/tokenconfig"
             "?coder_session_token=%s", token);
    ck_assert_int_eq(tu_get(&s, path, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);
    ck_assert_int_eq(tu_get(&s, "/api/v2/deployment/config", NULL, NULL,
                            &r), 0);
    tu_resp_release(&r);

    /* Patterns, never the user's name or token. */
    text = scrape(mport);
    assert_line(text, "coderd_api_requests_processed_total{code=\"200\","
                "method=\"GET\",path=\"/api/v2/buildinfo\"} 3\n");
    assert_line(text, "coderd_api_requests_processed_total{code=\"200\","
                "method=\"GET\",path=\"/api/v2/users/{user}/keys/tokens/"
                "tokenconfig\"} 2\n");
    assert_line(text, "coderd_api_requests_processed_total{code=\"401\","
                "method=\"GET\",path=\"/api/v2/deployment/config\"} 1\n");
    assert_line(text, "coderd_api_request_latencies_seconds_count{"
                "method=\"GET\",path=\"/api/v2/buildinfo\"} 3\n");
    assert_line(text, "coderd_api_request_latencies_seconds_bucket{"
                "method=\"GET\",path=\"/api/v2/buildinfo\",le=\"+Inf\"} "
                "3\n");
    assert_line(text, "\ncoderd_api_concurrent_requests ");
    assert_line(text, "\nprocess_resident_memory_bytes ");
    assert_line(text, "\nprocess_start_time_seconds ");
    ck_assert_ptr_null(strstr(text, token));
    ck_assert_ptr_null(strstr(text, "olive"));
    ck_assert_ptr_null(strstr(text, "/users/me"));
    free(text);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/other", mport);
    ck_assert_int_eq(tu_http("GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 404);
    tu_resp_release(&r);
    free(token);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

/* --- TLS without certificate files --------------------------------------- */

/* The Subject line of the certificate served at url (heap), or NULL. */
static char *
served_subject(const char *url)
{
    struct curl_certinfo *info = NULL;
    struct curl_slist *item;
    CURL *c = curl_easy_init();
    char *subject = NULL;

    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_CERTINFO, &info);
    ck_assert_msg(info != NULL && info->num_of_certs == 1,
                  "want exactly one served certificate");
    for (item = info->certinfo[0]; item != NULL; item = item->next) {
        if (strncmp(item->data, "Subject:", 8) == 0)
            subject = strdup(item->data + 8);
    }
    curl_easy_cleanup(c);
    return subject;
}

/* The server's log once it holds text, waiting up to 10 s (heap). */
static char *
wait_for_log(const struct tu_server *s, const char *text)
{
    struct timespec step = { 0, 20 * 1000 * 1000 };
    char *log = tu_read_file(s->proc.err_path);

    for (int i = 0; i < 500 && strstr(log, text) == NULL; i++) {
        free(log);
        nanosleep(&step, NULL);
        log = tu_read_file(s->proc.err_path);
    }
    return log;
}

/* Serves TLS with no files and checks the certificate's name is cn. */
static void
assert_self_signed(const char *access_url, const char *cn)
{
    char addr[40], url[96], want[64];
    char *args[] = { (char *)"--tls-enable", (char *)"--tls-address", addr,
                     (char *)"--access-url", (char *)access_url, NULL };
    struct tu_server s;
    struct tu_resp r;
    char *subject, *log;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", tu_free_port());
    start_with(&s, args, NULL);
    snprintf(url, sizeof(url), "https://%s/api/v2/buildinfo", addr);
    ck_assert_int_eq(tu_http("GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_resp_release(&r);

    subject = served_subject(url);
    snprintf(want, sizeof(want), "CN = %s", cn);
    ck_assert_msg(subject != NULL && strstr(subject, want) != NULL,
                  "subject \"%s\", want %s", subject ? subject : "", want);
    free(subject);

    snprintf(want, sizeof(want), "host=%s", cn);
    log = wait_for_log(&s, want);
    ck_assert_msg(strstr(log, "self-signed certificate") != NULL &&
                  strstr(log, want) != NULL, "log: %s", log);
    ck_assert_ptr_null(strstr(log, "PRIVATE KEY"));
    free(log);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}

START_TEST(tls_without_files_serves_self_signed_certificate)
{
    assert_self_signed("", "localhost");
    assert_self_signed("https://coder.example.test:8443", "coder.example.test");
}
END_TEST

static Suite *
api_suite(void)
{
    Suite *s = suite_create("check_api");
    TCase *shared = tcase_create("shared");
    TCase *own = tcase_create("own");

    tcase_add_unchecked_fixture(shared, shared_setup, shared_teardown);
    tcase_add_test(shared, root_answers_wave_with_common_headers);
    tcase_add_test(shared, unknown_route_is_404_and_wrong_method_405);
    tcase_add_test(shared, auth_runs_before_matching_in_deployment_group);
    tcase_add_test(shared, healthz_is_plain_ok);
    tcase_add_test(shared, buildinfo_answers_anonymous);
    tcase_add_test(shared, anonymous_only_reaches_public_endpoints);
    tcase_add_test(shared, every_token_source_works);
    tcase_add_test(shared, cookie_wins_over_header);
    tcase_add_test(shared, bad_tokens_get_coder_401_details);
    tcase_add_test(shared, long_bearer_token_gets_format_details);
    tcase_add_test(shared, expired_token_is_refused_with_its_time);
    tcase_add_test(shared, suspended_user_is_not_active);
    tcase_add_test(shared, deployment_config_and_stats_need_owner_or_auditor);
    tcase_add_test(shared, deployment_config_hides_every_secret);
    tcase_add_test(shared, deployment_stats_are_ready_at_once);
    tcase_add_test(shared, ssh_config_parses_both_separators);
    tcase_add_test(shared, experiments_lowercase_and_star_adds_nothing);
    tcase_add_test(shared, tokenconfig_resolves_me_name_and_uuid);
    tcase_add_test(shared, tokenconfig_member_cannot_see_others);
    tcase_add_test(shared, bad_user_is_quoted_as_go_does);
    tcase_add_test(shared, csp_reports_accept_valid_and_refuse_bad_json);
    tcase_add_test(shared, csp_report_over_64k_is_413);
    tcase_add_test(shared, chunked_bodies_are_cut_off_at_the_cap);
    tcase_set_timeout(shared, 60);
    suite_add_tcase(s, shared);

    tcase_add_test(own, rate_limit_refuses_request_over_limit);
    tcase_add_test(own, rate_limit_unknown_paths_share_one_bucket);
    tcase_add_test(own, rate_limit_bypass_counts_and_is_bounded);
    tcase_add_test(own, rate_limit_off_sends_no_headers);
    tcase_add_test(own, redirect_to_access_url_spares_healthz);
    tcase_add_test(own, cors_allows_all_when_asked);
    tcase_add_test(own, long_header_values_are_never_cut);
    tcase_add_test(own, experiments_default_to_empty_list);
    tcase_add_test(own, bad_ssh_option_fails_start_naming_variable);
    tcase_add_test(own, redirect_without_access_url_fails_start);
    tcase_add_test(own, startup_problems_are_one_line);
    tcase_add_test(own, help_and_write_config_print_and_exit);
    tcase_add_test(own, token_lifetime_over_cap_names_it);
    tcase_add_test(own, request_log_never_holds_the_token);
    tcase_add_test(own, tls_listener_serves_with_hsts);
    tcase_add_test(own, updatecheck_newer_release_is_not_current);
    tcase_add_test(own, updatecheck_same_release_is_current);
    tcase_add_test(own, updatecheck_feed_down_answers_current_without_delay);
    tcase_add_test(own, thousand_keep_alive_connections_are_served);
    tcase_add_test(own, metrics_count_requests_by_route_pattern);
    tcase_add_test(own, tls_without_files_serves_self_signed_certificate);
    tcase_set_timeout(own, 120);
    suite_add_tcase(s, own);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(api_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
