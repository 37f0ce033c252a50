/*
 * check_api_parts.c: the pure pieces of api/ (router, rate limiter,
 * semver, Go decoder messages, token sources, addresses, SSH options and
 * experiments), linked without the store or the HTTP daemon.
 */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/gojson.h"
#include "api/metrics.h"
#include "api/netaddr.h"
#include "api/ratelimit.h"
#include "api/router.h"
#include "api/semver.h"
#include "api/values.h"
#include "core/jsonx.h"
#include "core/util.h"

#define SEC UTIL_NS_PER_SEC
#define MIN (60 * SEC)

/* --- router -------------------------------------------------------------- */

static const int h_a = 1, h_b = 2, h_c = 3;

static const struct router_route r_dep[] = {
    { ROUTER_GET, "/config", &h_a },
};
static const struct router_route r_user[] = {
    { ROUTER_GET, "/keys/tokens/tokenconfig", &h_b },
};
static const struct router_route r_api[] = {
    { ROUTER_GET, "", &h_c },
    { ROUTER_GET, "/", &h_c },
    { ROUTER_POST, "/csp/reports", &h_a },
};
static const struct router_group t_groups[] = {
    { "/api/v2/deployment", ROUTER_AUTH, r_dep, 1 },
    { "/api/v2/users/{user}", ROUTER_AUTH | ROUTER_USER_PARAM, r_user, 1 },
    { "/api/v2", ROUTER_LIMITED, r_api, 3 },
};

START_TEST(router_unknown_path_in_auth_group_finds_group_not_route)
{
    struct router_match m;
    unsigned allow;

    ck_assert(router_group_find(t_groups, 3, "/api/v2/deployment/nope", &m));
    ck_assert_uint_eq(m.group->flags, ROUTER_AUTH);
    ck_assert_ptr_null(router_route_find(&m, ROUTER_GET, &allow));
    ck_assert_uint_eq(allow, 0);
}
END_TEST

START_TEST(router_wrong_method_reports_allowed_methods)
{
    struct router_match m;
    unsigned allow;
    char text[32];

    ck_assert(router_group_find(t_groups, 3, "/api/v2/csp/reports", &m));
    ck_assert_ptr_null(router_route_find(&m, ROUTER_GET, &allow));
    router_allow_text(allow, text, sizeof(text));
    ck_assert_str_eq(text, "POST");
}
END_TEST

START_TEST(router_captures_user_segment)
{
    struct router_match m;
    unsigned allow;
    const struct router_route *r;

    ck_assert(router_group_find(t_groups, 3,
                                "/api/v2/users/Alice/keys/tokens/tokenconfig",
                                &m));
    ck_assert_int_eq((int)m.param_len, 5);
    ck_assert(strncmp(m.param, "Alice", 5) == 0);
    r = router_route_find(&m, ROUTER_GET, &allow);
    ck_assert_ptr_eq(r->handler, &h_b);
}
END_TEST

START_TEST(router_root_with_and_without_slash)
{
    struct router_match m;
    unsigned allow;

    ck_assert(router_group_find(t_groups, 3, "/api/v2", &m));
    ck_assert_ptr_nonnull(router_route_find(&m, ROUTER_GET, &allow));
    ck_assert(router_group_find(t_groups, 3, "/api/v2/", &m));
    ck_assert_ptr_nonnull(router_route_find(&m, ROUTER_GET, &allow));
    ck_assert(!router_group_find(t_groups, 3, "/api/v2x", &m));
}
END_TEST

START_TEST(router_clean_path_collapses_slashes)
{
    char p[] = "//api///v2//buildinfo";

    router_clean_path(p);
    ck_assert_str_eq(p, "/api/v2/buildinfo");
}
END_TEST

/* --- rate limiter -------------------------------------------------------- */

START_TEST(ratelimit_refuses_the_request_over_the_limit)
{
    struct ratelimit *rl = ratelimit_new(3, MIN, 0);
    struct ratelimit_verdict v;
    int64_t t = 1000 * MIN;
    int i;

    for (i = 0; i < 3; i++) {
        ratelimit_take(rl, "ip:/a", 5, t + i, &v);
        ck_assert(v.allowed);
        ck_assert_int_eq(v.remaining, 2 - i);
    }
    ratelimit_take(rl, "ip:/a", 5, t + 10, &v);
    ck_assert(!v.allowed);
    ck_assert_int_eq(v.remaining, 0);
    ck_assert_int_eq(v.retry_after, 60);
    ck_assert_int_eq(v.reset_unix, (t + MIN) / SEC);

    /* Another path has its own bucket. */
    ratelimit_take(rl, "ip:/b", 5, t + 11, &v);
    ck_assert(v.allowed);
    ratelimit_free(rl);
}
END_TEST

START_TEST(ratelimit_previous_window_weighs_by_time_left)
{
    struct ratelimit *rl = ratelimit_new(10, MIN, 0);
    struct ratelimit_verdict v;
    int64_t t = 1000 * MIN;
    int i;

    for (i = 0; i < 10; i++)
        ratelimit_take(rl, "k", 1, t + i, &v);
    /* A quarter into the next window: 10 * 0.75 = 7.5 -> 8 used. */
    ratelimit_take(rl, "k", 1, t + MIN + MIN / 4, &v);
    ck_assert(v.allowed);
    ck_assert_int_eq(v.remaining, 1);
    ratelimit_take(rl, "k", 1, t + MIN + MIN / 4, &v);
    ck_assert(v.allowed);       /* round(8.5) = 9 */
    ratelimit_take(rl, "k", 1, t + MIN + MIN / 4, &v);
    ck_assert(!v.allowed);      /* round(9.5) = 10 */
    /* Two windows on, everything is forgotten. */
    ratelimit_take(rl, "k", 1, t + 3 * MIN, &v);
    ck_assert(v.allowed);
    ck_assert_int_eq(v.remaining, 9);
    ratelimit_free(rl);
}
END_TEST

START_TEST(ratelimit_memory_stays_bounded_with_many_keys)
{
    struct ratelimit *rl = ratelimit_new(5, MIN, 0);
    struct ratelimit_verdict v;
    char key[32];
    int i;

    for (i = 0; i < 2000000; i++) {
        int n = snprintf(key, sizeof(key), "10.%d:/x", i);

        ratelimit_take(rl, key, (size_t)n, (int64_t)i * SEC / 100, &v);
    }
    ck_assert_uint_le(ratelimit_size(rl), ratelimit_budget(rl));
    ck_assert_uint_le(ratelimit_budget(rl), RATELIMIT_KEYS_DEFAULT + 64);
    ratelimit_free(rl);
}
END_TEST

/*
 * A flood of new keys stays within the budget, and a key in use during
 * the flood keeps its count: only the least recently used are evicted.
 */
START_TEST(ratelimit_flood_evicts_oldest_not_live_counts)
{
    struct ratelimit *rl = ratelimit_new(100000, MIN, 1024);
    struct ratelimit_verdict v;
    int64_t t = 1000 * MIN;
    int64_t left = 100000;
    char key[32];
    int i;

    for (i = 0; i < 200000; i++) {
        int n = snprintf(key, sizeof(key), "flood:%d", i);

        ratelimit_take(rl, key, (size_t)n, t + i, &v);
        ck_assert_uint_le(ratelimit_size(rl), ratelimit_budget(rl));
        if (i % 10 != 0)
            continue;
        ratelimit_take(rl, "victim", 6, t + i, &v);
        ck_assert(v.allowed);
        ck_assert_int_eq(v.remaining, --left);
    }
    ck_assert_uint_le(ratelimit_budget(rl), 1024);
    ratelimit_free(rl);
}
END_TEST

/* Keys idle for two windows go without any new key pushing them out. */
START_TEST(ratelimit_idle_keys_are_swept)
{
    struct ratelimit *rl = ratelimit_new(5, MIN, 0);
    struct ratelimit_verdict v;
    int64_t t = 1000 * MIN;
    char key[32];
    int i;

    for (i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof(key), "old:%d", i);

        ratelimit_take(rl, key, (size_t)n, t, &v);
    }
    ck_assert_uint_eq(ratelimit_size(rl), 1000);
    for (i = 0; i < 2000; i++)
        ratelimit_take(rl, "k", 1, t + 3 * MIN, &v);
    ck_assert_uint_lt(ratelimit_size(rl), 1000);
    ratelimit_free(rl);
}
END_TEST

/* --- semver -------------------------------------------------------------- */

START_TEST(semver_compares_like_go)
{
    ck_assert_int_eq(semver_compare("v2.28.0", "v2.27.3"), 1);
    ck_assert_int_eq(semver_compare("v2.27.3", "v2.27.3"), 0);
    ck_assert_int_eq(semver_compare("v2.27", "v2.27.0"), 0);
    ck_assert_int_eq(semver_compare("v2.28.0-rc.1", "v2.28.0"), -1);
    ck_assert_int_eq(semver_compare("v2.28.0-rc.2", "v2.28.0-rc.10"), -1);
    ck_assert_int_eq(semver_compare("v2.28.0-alpha", "v2.28.0-1"), 1);
    ck_assert_int_eq(semver_compare("bogus", "v0.0.1"), -1);
    ck_assert_int_eq(semver_compare("bogus", "junk"), 0);
    ck_assert(!semver_valid("v2.27-rc1"));
    ck_assert(!semver_valid("v02.1.1"));
}
END_TEST

START_TEST(semver_current_ignores_suffixes_of_own_version)
{
    ck_assert(!semver_is_current("v2.27.3+abc1234", "v2.28.0"));
    ck_assert(semver_is_current("v2.28.0+abc1234", "v2.28.0"));
    ck_assert(semver_is_current("v2.28.0-devel+abc", "v2.28.0"));
    ck_assert(!semver_is_current("v2.29.0", "v99.999.999"));
    ck_assert(semver_is_current("v2.29.0", "v2.29.0-rc.1"));
}
END_TEST

/* --- Go decoder messages ------------------------------------------------- */

static void
assert_decode_error(const char *body, const char *want)
{
    char msg[256];
    size_t end;

    ck_assert_int_eq(gojson_first_value(body, strlen(body), &end, msg,
                                        sizeof(msg)), ERR_INVALID);
    ck_assert_str_eq(msg, want);
}

START_TEST(gojson_errors_read_as_go_writes_them)
{
    assert_decode_error("", "EOF");
    assert_decode_error("  \n", "EOF");
    assert_decode_error("{\"a\":", "unexpected EOF");
    assert_decode_error("not json",
                        "invalid character 'o' in literal null "
                        "(expecting 'u')");
    assert_decode_error("x", "invalid character 'x' looking for beginning "
                        "of value");
    assert_decode_error("{1}", "invalid character '1' looking for "
                        "beginning of object key string");
    assert_decode_error("{\"a\" 1}", "invalid character '1' after object "
                        "key");
    assert_decode_error("{\"a\":1 2}", "invalid character '2' after object "
                        "key:value pair");
    assert_decode_error("[1 2]", "invalid character '2' after array "
                        "element");
    assert_decode_error("\"a\nb\"", "invalid character '\\n' in string "
                        "literal");
    assert_decode_error("-x", "invalid character 'x' in numeric literal");
    assert_decode_error("1.x", "invalid character 'x' after decimal point "
                        "in numeric literal");
    assert_decode_error("\"\\q\"", "invalid character 'q' in string escape "
                        "code");
}
END_TEST

START_TEST(gojson_reads_only_the_first_value)
{
    char msg[64];
    size_t end;

    ck_assert_int_eq(gojson_first_value("{} trailing", 11, &end, msg,
                                        sizeof(msg)), 0);
    ck_assert_uint_eq(end, 2);
    ck_assert_int_eq(gojson_first_value("12x", 3, &end, msg, sizeof(msg)),
                     0);
    ck_assert_uint_eq(end, 2);
    ck_assert_int_eq(gojson_first_value("null", 4, &end, msg, sizeof(msg)),
                     0);
    ck_assert_uint_eq(end, 4);
}
END_TEST

START_TEST(gojson_refuses_nesting_past_go_limit)
{
    size_t n = GOJSON_MAX_DEPTH + 1;
    char *deep = malloc(n + 1);
    char msg[64];
    size_t end;

    memset(deep, '[', n);
    deep[n] = '\0';
    ck_assert_int_eq(gojson_first_value(deep, n, &end, msg, sizeof(msg)),
                     ERR_INVALID);
    ck_assert_str_eq(msg, "exceeded max depth");
    free(deep);
}
END_TEST

/* --- token sources and refusals ------------------------------------------ */

START_TEST(auth_token_sources_in_coder_order)
{
    struct auth_sources s;
    char tmp[64];

    memset(&s, 0, sizeof(s));
    ck_assert_ptr_null(auth_token_pick(&s, tmp, sizeof(tmp)));
    s.access_token = "e";
    ck_assert_str_eq(auth_token_pick(&s, tmp, sizeof(tmp)), "e");
    s.authorization = "bEaReR  d  ";
    ck_assert_str_eq(auth_token_pick(&s, tmp, sizeof(tmp)), "d");
    s.header = "c";
    ck_assert_str_eq(auth_token_pick(&s, tmp, sizeof(tmp)), "c");
    s.query = "b";
    ck_assert_str_eq(auth_token_pick(&s, tmp, sizeof(tmp)), "b");
    s.cookie = "";
    ck_assert_str_eq(auth_token_pick(&s, tmp, sizeof(tmp)), "b");
    s.cookie = "a";
    ck_assert_str_eq(auth_token_pick(&s, tmp, sizeof(tmp)), "a");
}
END_TEST

START_TEST(auth_refusal_details_match_coder)
{
    struct engine_auth a;
    struct auth_refusal r;
    char www[256];

    memset(&a, 0, sizeof(a));
    a.result = ENGINE_AUTH_BAD_PARTS;
    a.count = 3;
    auth_refusal_from(&a, &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert_str_eq(r.message, AUTH_SIGNED_OUT);
    ck_assert_str_eq(r.detail, "Invalid API key format: incorrect amount "
                     "of API key parts, expected 2 got 3");
    a.result = ENGINE_AUTH_EXPIRED;
    a.key.expires_at = INT64_C(1700000000) * SEC + 500000000;
    auth_refusal_from(&a, &r);
    ck_assert_str_eq(r.detail, "API key expired at \"2023-11-14 "
                     "22:13:20.5 +0000 UTC\".");
    auth_www_authenticate(&r, "https://c.example.com/", www, sizeof(www));
    ck_assert_str_eq(www, "Bearer realm=\"coder\", error=\"invalid_token\", "
                     "error_description=\"The access token has expired\", "
                     "resource_metadata=\"https://c.example.com/.well-known/"
                     "oauth-protected-resource\"");
    a.result = ENGINE_AUTH_SUSPENDED;
    auth_refusal_from(&a, &r);
    ck_assert_str_eq(r.message, "User is not active (status = "
                     "\"suspended\"). Contact an admin to reactivate your "
                     "account.");
}
END_TEST

START_TEST(auth_parse_bool_is_go_parsebool)
{
    ck_assert(auth_parse_bool("1"));
    ck_assert(auth_parse_bool("True"));
    ck_assert(!auth_parse_bool("yes"));
    ck_assert(!auth_parse_bool(NULL));
}
END_TEST

/* --- addresses ----------------------------------------------------------- */

START_TEST(netaddr_cidr_matching_both_families)
{
    struct netaddr_cidr c;
    struct netaddr a;
    char text[NETADDR_TEXT_MAX];

    ck_assert_int_eq(netaddr_cidr_parse("10.0.0.0/8", &c, NULL), 0);
    ck_assert(netaddr_parse("10.1.2.3", &a));
    ck_assert(netaddr_cidr_contains(&c, &a));
    ck_assert(netaddr_parse("11.1.2.3", &a));
    ck_assert(!netaddr_cidr_contains(&c, &a));
    ck_assert_int_eq(netaddr_cidr_parse("fd00::/8", &c, NULL), 0);
    ck_assert(netaddr_parse("fd12::1", &a));
    ck_assert(netaddr_cidr_contains(&c, &a));
    ck_assert_int_eq(netaddr_cidr_parse("10.0.0.1", &c, NULL), ERR_INVALID);
    ck_assert(netaddr_from_header("X-Forwarded-For", " 1.2.3.4 , 5.6.7.8",
                                  &a));
    netaddr_text(&a, text);
    ck_assert_str_eq(text, "1.2.3.4");
    ck_assert(netaddr_parse("2001:db8:1:2:3:4:5:6", &a));
    netaddr_rate_text(&a, text);
    ck_assert_str_eq(text, "2001:db8:1:2::");
}
END_TEST

START_TEST(netaddr_v4_text_and_rate_keys)
{
    static const char *const v4[] = { "0.0.0.0", "9.10.99.100",
                                      "255.255.255.255", "127.0.0.1" };
    unsigned char k1[16], k2[16];
    struct netaddr a, b;
    char text[NETADDR_TEXT_MAX];
    size_t i;

    for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
        ck_assert(netaddr_parse(v4[i], &a));
        netaddr_text(&a, text);
        ck_assert_str_eq(text, v4[i]);
    }

    /* One /64 shares a key; another /64 or a v4 neighbour does not. */
    ck_assert(netaddr_parse("2001:db8:1:2::1", &a));
    ck_assert(netaddr_parse("2001:db8:1:2:ffff::9", &b));
    netaddr_rate_key(&a, k1);
    netaddr_rate_key(&b, k2);
    ck_assert_mem_eq(k1, k2, 16);
    ck_assert(netaddr_parse("2001:db8:1:3::1", &b));
    netaddr_rate_key(&b, k2);
    ck_assert(memcmp(k1, k2, 16) != 0);
    ck_assert(netaddr_parse("10.0.0.1", &a));
    ck_assert(netaddr_parse("10.0.0.2", &b));
    netaddr_rate_key(&a, k1);
    netaddr_rate_key(&b, k2);
    ck_assert(memcmp(k1, k2, 16) != 0);
}
END_TEST

/* --- metrics ------------------------------------------------------------- */

static char *
render(struct api_metrics *m)
{
    struct buf b;
    char *text;

    buf_init(&b);
    ck_assert_int_eq(api_metrics_render(m, &b), 0);
    text = buf_take(&b, NULL);
    buf_release(&b);
    return text;
}

static void *
count_many(void *m)
{
    int i;

    for (i = 0; i < 1000; i++)
        api_metrics_count(m, &t_groups[1], &r_user[0], ROUTER_GET, 200,
                          2 * 1000 * 1000);
    return NULL;
}

START_TEST(metrics_add_up_threads_under_route_patterns)
{
    atomic_long inflight = 3;
    struct api_metrics *m = api_metrics_new(t_groups, 3, &inflight);
    pthread_t t[2];
    char *text;

    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(pthread_create(&t[0], NULL, count_many, m), 0);
    ck_assert_int_eq(pthread_create(&t[1], NULL, count_many, m), 0);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    api_metrics_count(m, &t_groups[2], NULL, ROUTER_GET, 404, 0);
    api_metrics_count(m, NULL, NULL, 0, 299, INT64_C(60000000000));

    text = render(m);
    ck_assert_ptr_nonnull(strstr(text, "coderd_api_requests_processed_total"
        "{code=\"200\",method=\"GET\",path=\"/api/v2/users/{user}/keys/"
        "tokens/tokenconfig\"} 2000\n"));
    ck_assert_ptr_nonnull(strstr(text, "coderd_api_request_latencies_seconds"
        "_bucket{method=\"GET\",path=\"/api/v2/users/{user}/keys/tokens/"
        "tokenconfig\",le=\"0.001\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "le=\"0.005\"} 2000\n"));
    ck_assert_ptr_nonnull(strstr(text, "_sum{method=\"GET\",path=\"/api/"
        "v2/users/{user}/keys/tokens/tokenconfig\"} 4.000000000\n"));
    ck_assert_ptr_nonnull(strstr(text, "{code=\"404\",method=\"GET\","
                                 "path=\"/api/v2/*\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "{code=\"other\",method=\"OTHER\","
                                 "path=\"/*\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "path=\"/*\",le=\"30\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "path=\"/*\",le=\"+Inf\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\ncoderd_api_concurrent_requests 3"
                                 "\n"));
    free(text);
    api_metrics_free(m);
}
END_TEST

/* --- values -------------------------------------------------------------- */

static char *
dump(json_t *v)
{
    struct buf b;
    char *out;

    buf_init(&b);
    ck_assert_int_eq(jsonx_dump(v, &b, false), 0);
    out = buf_take(&b, NULL);
    json_decref(v);
    return out;
}

START_TEST(values_ssh_options_split_on_space_or_equals)
{
    char *opts[] = { (char *)"ForwardAgent yes",
                     (char *)"ConnectTimeout=10",
                     (char *)"ForwardAgent=no" };
    char *bad[] = { (char *)"NoSeparator" };
    char *text = dump(values_ssh_options(opts, 3));

    ck_assert_str_eq(text, "{\"ConnectTimeout\":\"10\",\"ForwardAgent\":"
                     "\"no\"}");
    free(text);
    text = dump(values_ssh_options(NULL, 0));
    ck_assert_str_eq(text, "{}");
    free(text);
    ck_assert_ptr_null(values_ssh_options(bad, 1));
}
END_TEST

START_TEST(values_experiments_lowercase_and_star)
{
    char *items[] = { (char *)"Foo", (char *)"*", (char *)"BAR" };
    char *text = dump(values_experiments(items, 3));

    ck_assert_str_eq(text, "[\"foo\",\"bar\"]");
    free(text);
    text = dump(values_experiments(NULL, 0));
    ck_assert_str_eq(text, "[]");
    free(text);
    text = dump(values_experiments_available());
    ck_assert_str_eq(text, "{\"safe\":[]}");
    free(text);
}
END_TEST

static Suite *
parts_suite(void)
{
    Suite *s = suite_create("check_api_parts");
    TCase *tc = tcase_create("parts");

    tcase_add_test(tc, router_unknown_path_in_auth_group_finds_group_not_route);
    tcase_add_test(tc, router_wrong_method_reports_allowed_methods);
    tcase_add_test(tc, router_captures_user_segment);
    tcase_add_test(tc, router_root_with_and_without_slash);
    tcase_add_test(tc, router_clean_path_collapses_slashes);
    tcase_add_test(tc, ratelimit_refuses_the_request_over_the_limit);
    tcase_add_test(tc, ratelimit_previous_window_weighs_by_time_left);
    tcase_add_test(tc, ratelimit_memory_stays_bounded_with_many_keys);
    tcase_add_test(tc, ratelimit_flood_evicts_oldest_not_live_counts);
    tcase_add_test(tc, ratelimit_idle_keys_are_swept);
    tcase_add_test(tc, semver_compares_like_go);
    tcase_add_test(tc, semver_current_ignores_suffixes_of_own_version);
    tcase_add_test(tc, gojson_errors_read_as_go_writes_them);
    tcase_add_test(tc, gojson_reads_only_the_first_value);
    tcase_add_test(tc, gojson_refuses_nesting_past_go_limit);
    tcase_add_test(tc, auth_token_sources_in_coder_order);
    tcase_add_test(tc, auth_refusal_details_match_coder);
    tcase_add_test(tc, auth_parse_bool_is_go_parsebool);
    tcase_add_test(tc, netaddr_cidr_matching_both_families);
    tcase_add_test(tc, values_ssh_options_split_on_space_or_equals);
    tcase_add_test(tc, values_experiments_lowercase_and_star);
    tcase_add_test(tc, netaddr_v4_text_and_rate_keys);
    tcase_add_test(tc, metrics_add_up_threads_under_route_patterns);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(parts_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
