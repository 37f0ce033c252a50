/*
 * check_config.c: the deployment set's dynamic defaults, the "config"
 * JSON tree, the YAML writer and the help text.
 *
 * Everything runs on a real deployment set resolved from a chosen
 * environment, so each test sees what a user of GET /deployment/config,
 * --write-config or --help would see.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/deployment.h"
#include "core/jsonx.h"
#include "core/opt.h"
#include "tests/testutil.h"

/* --- helpers ------------------------------------------------------------- */

/* A heap copy of a NULL-terminated list of literals; free with free_list. */
static char **
copy_list(const char *const *list)
{
    size_t n = 0;
    char **v;

    while (list[n] != NULL)
        n++;
    v = calloc(n + 1, sizeof(*v));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = strdup(list[i]);
        ck_assert_ptr_nonnull(v[i]);
    }
    return v;
}

static void
free_list(char **v)
{
    for (size_t i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* A deployment set resolved from env and the arguments argv. */
static struct opt_set *
resolve_args(const char *const *env, const char *const *argv)
{
    static const char *const none[] = { NULL };
    char **envp = copy_list(env);
    char **args = copy_list(argv != NULL ? argv : none);
    struct opt_set *set = deployment_set_new(envp);
    struct opt_diag dg;
    int argc = 0, rc;

    ck_assert_ptr_nonnull(set);
    while (args[argc] != NULL)
        argc++;
    opt_diag_init(&dg);
    rc = opt_set_resolve(set, argc, args, envp, &dg);
    ck_assert_msg(rc == 0, "resolve failed: %s",
                  dg.nerrors > 0 ? dg.errors[0] : "(no message)");
    opt_diag_release(&dg);
    free_list(envp);
    free_list(args);
    return set;
}

static struct opt_set *
resolve_env(const char *const *env)
{
    return resolve_args(env, NULL);
}

/* The config JSON of set as Go would write it. */
static char *
config_text(const struct opt_set *set)
{
    json_t *cfg = deployment_config_json(set);
    struct buf b;
    char *text;

    ck_assert_ptr_nonnull(cfg);
    buf_init(&b);
    ck_assert_int_eq(jsonx_dump(cfg, &b, false), 0);
    json_decref(cfg);
    text = buf_take(&b, NULL);
    ck_assert_ptr_nonnull(text);
    return text;
}

/*
 * Appends the dotted path of every key of v, depth first, one a line.
 * Objects that are the value of an option (maps) are leaves.
 */
static void
key_paths(const struct opt_set *set, const json_t *v, const char *prefix,
          struct buf *out)
{
    const char *key;
    json_t *child;
    char path[512];

    json_object_foreach((json_t *)v, key, child) {
        snprintf(path, sizeof(path), "%s%s%s", prefix,
                 prefix[0] != '\0' ? "." : "", key);
        buf_addf(out, "%s\n", path);
        if (json_is_object(child) && opt_set_find_path(set, path) < 0)
            key_paths(set, child, path, out);
    }
}

/* Fails at the first line where got and want differ. */
static void
assert_same_lines(const char *got, const char *want)
{
    size_t line = 1;

    while (*got != '\0' && *got == *want) {
        line += *got == '\n';
        got++;
        want++;
    }
    if (*got == '\0' && *want == '\0')
        return;
    ck_abort_msg("line %zu differs: got \"%.60s\", want \"%.60s\"", line,
                 got, want);
}

static json_t *
config_get(json_t *cfg, const char *dotted)
{
    char key[128];
    const char *dot;

    while ((dot = strchr(dotted, '.')) != NULL && cfg != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - dotted), dotted);
        cfg = json_object_get(cfg, key);
        dotted = dot + 1;
    }
    return cfg != NULL ? json_object_get(cfg, dotted) : NULL;
}

static char *
yaml_text(const struct opt_set *set)
{
    struct buf b;
    char *text;

    buf_init(&b);
    ck_assert_int_eq(opt_set_write_yaml(set, &b), 0);
    text = buf_take(&b, NULL);
    ck_assert_ptr_nonnull(text);
    return text;
}

static char *
help_text(const struct opt_set *set)
{
    struct buf b;
    char *text;

    buf_init(&b);
    ck_assert_int_eq(opt_set_write_help(set, "coder-cfg server [flags]",
                                        &b), 0);
    text = buf_take(&b, NULL);
    ck_assert_ptr_nonnull(text);
    return text;
}

#define ASSERT_HAS(hay, needle)                                         \
    ck_assert_msg(strstr((hay), (needle)) != NULL,                      \
                  "missing \"%s\"", (needle))
#define ASSERT_LACKS(hay, needle)                                       \
    ck_assert_msg(strstr((hay), (needle)) == NULL,                      \
                  "unexpected \"%s\"", (needle))

static const char *const no_env[] = { NULL };

/* --- dynamic defaults ---------------------------------------------------- */

static const char *
cache_dir_for(const char *const *envp, char *buf, size_t size)
{
    struct opt_set *set = resolve_env(envp);

    snprintf(buf, size, "%s", opt_set_str(set, "Cache Directory"));
    opt_set_free(set);
    return buf;
}

START_TEST(cache_directory_follows_coders_lookup_order)
{
    char got[256];
    const char *const clidoc[] = {
        "CACHE_DIRECTORY=/srv/cache", "CLIDOCGEN_CACHE_DIRECTORY=/gen/",
        "HOME=/home/u", NULL
    };
    const char *const systemd[] = {
        "CACHE_DIRECTORY=/srv/cache", "XDG_CACHE_HOME=/xdg", NULL
    };
    const char *const xdg[] = {
        "XDG_CACHE_HOME=/xdg//c", "HOME=/home/u", NULL
    };
    const char *const home[] = { "HOME=/home/u", NULL };
    const char *const relative[] = {
        "XDG_CACHE_HOME=rel", "HOME=/home/u", NULL
    };
    const char *const empty[] = {
        "CACHE_DIRECTORY=", "HOME=/home/u", NULL
    };
    const char *const dots[] = {
        "CACHE_DIRECTORY=/a/./b/../../../c/", NULL
    };
    const char *const updots[] = { "CACHE_DIRECTORY=a/../../x", NULL };

    ck_assert_str_eq(cache_dir_for(clidoc, got, sizeof(got)), "/gen/coder");
    ck_assert_str_eq(cache_dir_for(systemd, got, sizeof(got)),
                     "/srv/cache/coder");
    ck_assert_str_eq(cache_dir_for(xdg, got, sizeof(got)), "/xdg/c/coder");
    ck_assert_str_eq(cache_dir_for(home, got, sizeof(got)),
                     "/home/u/.cache/coder");
    ck_assert_str_eq(cache_dir_for(relative, got, sizeof(got)),
                     "/tmp/coder");
    ck_assert_str_eq(cache_dir_for(empty, got, sizeof(got)),
                     "/home/u/.cache/coder");
    ck_assert_str_eq(cache_dir_for(no_env, got, sizeof(got)), "/tmp/coder");

    /* The join cleans the path as Go's filepath.Join does. */
    ck_assert_str_eq(cache_dir_for(dots, got, sizeof(got)), "/c/coder");
    ck_assert_str_eq(cache_dir_for(updots, got, sizeof(got)), "../x/coder");
}
END_TEST

START_TEST(docs_url_telemetry_and_update_check_follow_the_build)
{
    struct opt_set *set = resolve_env(no_env);
    const char *version = deployment_version();
    char want[128];
    size_t n = strcspn(version, "-+");

    if (strncmp(version, "v0.0.0", 6) == 0 && n == 6)
        snprintf(want, sizeof(want), "https://coder.com/docs");
    else
        snprintf(want, sizeof(want), "https://coder.com/docs/@%.*s",
                 (int)n, version);
    ck_assert_str_eq(opt_set_str(set, "Docs URL"), want);
    ck_assert(opt_set_bool(set, "Telemetry Enable"));
    ck_assert(opt_set_bool(set, "Update Check") ==
              (strstr(version, "-devel") == NULL));
    ck_assert_int_eq(opt_set_source(set, opt_set_find(set, "Docs URL")),
                     OPT_SRC_DEFAULT);
    opt_set_free(set);
}
END_TEST

/* --- config JSON --------------------------------------------------------- */

/*
 * Every key a default deployment writes, in Go's declaration order; the
 * omitempty leaves whose defaults are zero are not there.
 */
static const char *const default_keys[] = {
    "access_url", "docs_url", "http_address", "autobuild_poll_interval",
    "job_hang_detector_interval",
    "derp", "derp.server", "derp.server.enable", "derp.server.region_id",
    "derp.server.region_code", "derp.server.region_name",
    "derp.server.stun_addresses", "derp.server.relay_url", "derp.config",
    "derp.config.block_direct", "derp.config.force_websockets",
    "derp.config.url", "derp.config.path",
    "prometheus", "prometheus.enable", "prometheus.address",
    "prometheus.collect_agent_stats", "prometheus.collect_db_metrics",
    "prometheus.aggregate_agent_stats_by",
    "pprof", "pprof.enable", "pprof.address",
    "cache_directory", "pg_auth",
    "oauth2", "oauth2.github", "oauth2.github.client_id",
    "oauth2.github.client_secret", "oauth2.github.device_flow",
    "oauth2.github.default_provider_enable", "oauth2.github.allowed_orgs",
    "oauth2.github.allowed_teams", "oauth2.github.allow_signups",
    "oauth2.github.allow_everyone", "oauth2.github.enterprise_base_url",
    "oidc", "oidc.allow_signups", "oidc.client_id", "oidc.client_secret",
    "oidc.client_key_file", "oidc.client_cert_file", "oidc.email_domain",
    "oidc.issuer_url", "oidc.scopes", "oidc.ignore_email_verified",
    "oidc.username_field", "oidc.name_field", "oidc.email_field",
    "oidc.auth_url_params", "oidc.ignore_user_info",
    "oidc.source_user_info_from_access_token", "oidc.organization_field",
    "oidc.organization_mapping", "oidc.organization_assign_default",
    "oidc.group_auto_create", "oidc.group_regex_filter",
    "oidc.group_allow_list", "oidc.groups_field", "oidc.group_mapping",
    "oidc.user_role_field", "oidc.user_role_mapping",
    "oidc.user_roles_default", "oidc.sign_in_text", "oidc.icon_url",
    "oidc.signups_disabled_text", "oidc.skip_issuer_checks",
    "telemetry", "telemetry.enable", "telemetry.trace", "telemetry.url",
    "tls", "tls.enable", "tls.address", "tls.redirect_http",
    "tls.cert_file", "tls.client_auth", "tls.client_ca_file",
    "tls.key_file", "tls.min_version", "tls.client_cert_file",
    "tls.client_key_file", "tls.supported_ciphers",
    "tls.allow_insecure_ciphers",
    "trace", "trace.enable", "trace.honeycomb_api_key",
    "trace.capture_logs", "trace.data_dog",
    "http_cookies", "http_cookies.same_site",
    "ssh_keygen_algorithm", "metrics_cache_refresh_interval",
    "agent_stat_refresh_interval", "agent_fallback_troubleshooting_url",
    "provisioner", "provisioner.daemons", "provisioner.daemon_types",
    "provisioner.daemon_poll_interval", "provisioner.daemon_poll_jitter",
    "provisioner.force_cancel_interval", "provisioner.daemon_psk",
    "rate_limit", "rate_limit.disable_all", "rate_limit.api",
    "update_check",
    "swagger", "swagger.enable",
    "logging", "logging.log_filter", "logging.human", "logging.json",
    "logging.stackdriver",
    "dangerous", "dangerous.allow_path_app_sharing",
    "dangerous.allow_path_app_site_owner_access", "dangerous.allow_all_cors",
    "session_lifetime", "session_lifetime.default_duration",
    "session_lifetime.refresh_default_duration",
    "session_lifetime.default_token_lifetime",
    "session_lifetime.max_token_lifetime",
    "session_lifetime.max_admin_token_lifetime",
    "support", "support.links",
    "external_auth",
    "config_ssh", "config_ssh.DeploymentName", "config_ssh.SSHConfigOptions",
    "proxy_health_status_interval",
    "user_quiet_hours_schedule",
    "user_quiet_hours_schedule.default_schedule",
    "user_quiet_hours_schedule.allow_user_custom",
    "web_terminal_renderer",
    "healthcheck", "healthcheck.refresh", "healthcheck.threshold_database",
    "retention", "retention.audit_logs", "retention.connection_logs",
    "retention.api_keys", "retention.workspace_agent_logs",
    "notifications", "notifications.max_send_attempts",
    "notifications.retry_interval", "notifications.sync_interval",
    "notifications.sync_buffer_size", "notifications.lease_period",
    "notifications.lease_count", "notifications.fetch_interval",
    "notifications.method", "notifications.dispatch_timeout",
    "notifications.email", "notifications.email.from",
    "notifications.email.smarthost", "notifications.email.hello",
    "notifications.email.auth", "notifications.email.auth.identity",
    "notifications.email.auth.username", "notifications.email.auth.password",
    "notifications.email.auth.password_file", "notifications.email.tls",
    "notifications.email.tls.start_tls",
    "notifications.email.tls.server_name",
    "notifications.email.tls.insecure_skip_verify",
    "notifications.email.tls.ca_file", "notifications.email.tls.cert_file",
    "notifications.email.tls.key_file", "notifications.email.force_tls",
    "notifications.webhook", "notifications.webhook.endpoint",
    "notifications.inbox", "notifications.inbox.enabled",
    "workspace_hostname_suffix",
    "workspace_prebuilds", "workspace_prebuilds.reconciliation_interval",
    "workspace_prebuilds.reconciliation_backoff_interval",
    "workspace_prebuilds.reconciliation_backoff_lookback",
    "workspace_prebuilds.failure_hard_limit",
    "ai", "ai.bridge", "ai.bridge.enabled", "ai.bridge.openai",
    "ai.bridge.openai.base_url", "ai.bridge.openai.key",
    "ai.bridge.anthropic", "ai.bridge.anthropic.base_url",
    "ai.bridge.anthropic.key", "ai.bridge.bedrock",
    "ai.bridge.bedrock.region", "ai.bridge.bedrock.access_key",
    "ai.bridge.bedrock.access_key_secret", "ai.bridge.bedrock.model",
    "ai.bridge.bedrock.small_fast_model", "ai.bridge.inject_coder_mcp_tools",
    "ai.bridge.retention", "ai.bridge.max_concurrency",
    "ai.bridge.rate_limit", "ai.aibridge_proxy", "ai.aibridge_proxy.enabled",
    "ai.aibridge_proxy.listen_addr", "ai.aibridge_proxy.cert_file",
    "ai.aibridge_proxy.key_file",
    "template_insights", "template_insights.enable",
    "address",
    NULL
};

START_TEST(default_config_has_every_key_in_go_order)
{
    const char *const env[] = { "HOME=/home/u", NULL };
    struct opt_set *set = resolve_env(env);
    json_t *cfg = deployment_config_json(set);
    struct buf got, want;

    ck_assert_ptr_nonnull(cfg);
    buf_init(&got);
    buf_init(&want);
    key_paths(set, cfg, "", &got);
    for (size_t i = 0; default_keys[i] != NULL; i++) {
        /* Update Check is off on development builds, and then omitted. */
        if (strcmp(default_keys[i], "update_check") == 0 &&
            strstr(deployment_version(), "-devel") != NULL)
            continue;
        buf_addf(&want, "%s\n", default_keys[i]);
    }
    assert_same_lines(buf_str(&got), buf_str(&want));

    buf_release(&got);
    buf_release(&want);
    json_decref(cfg);
    opt_set_free(set);
}
END_TEST

START_TEST(default_config_values_are_encoded_like_go)
{
    const char *const env[] = { "HOME=/home/u", NULL };
    struct opt_set *set = resolve_env(env);
    json_t *cfg = deployment_config_json(set);

    ck_assert_str_eq(json_string_value(config_get(cfg, "access_url")), "");
    ck_assert_str_eq(json_string_value(config_get(cfg, "address")), "");
    ck_assert_str_eq(json_string_value(config_get(cfg, "cache_directory")),
                     "/home/u/.cache/coder");
    ck_assert(json_integer_value(config_get(cfg,
              "session_lifetime.default_duration")) == 86400000000000LL);
    ck_assert(json_integer_value(config_get(cfg,
              "session_lifetime.max_token_lifetime")) ==
              3155760000000000000LL);
    ck_assert(json_integer_value(config_get(cfg, "rate_limit.api")) == 512);
    ck_assert_str_eq(json_string_value(config_get(cfg, "pg_auth")),
                     "password");
    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "http_cookies.same_site")), "lax");
    ck_assert(json_is_false(config_get(cfg, "telemetry.trace")));
    ck_assert(json_is_true(config_get(cfg, "telemetry.enable")));
    ck_assert(json_is_null(config_get(cfg, "external_auth")));
    ck_assert(json_is_null(config_get(cfg, "support.links")));
    ck_assert(json_is_null(config_get(cfg, "tls.cert_file")));
    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "oidc.group_regex_filter")), ".*");
    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "oidc.auth_url_params.access_type")), "offline");
    ck_assert_uint_eq(json_array_size(config_get(cfg, "oidc.scopes")), 3);
    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "config_ssh.DeploymentName")), "coder.");

    json_decref(cfg);
    opt_set_free(set);
}
END_TEST

START_TEST(secrets_never_reach_the_config)
{
    const char *const env[] = {
        "CODER_PG_CONNECTION_URL=postgres://u:pgsecret@db/coder",
        "CODER_OIDC_CLIENT_SECRET=oidcsecret",
        "CODER_SCIM_AUTH_HEADER=scimsecret",
        "CODER_EXTERNAL_TOKEN_ENCRYPTION_KEYS=keysecret1,keysecret2",
        "CODER_EMAIL_AUTH_PASSWORD=mailsecret",
        "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET=awssecret",
        NULL
    };
    struct opt_set *set = resolve_env(env);
    char *text = config_text(set);
    json_t *cfg = deployment_config_json(set);

    ASSERT_LACKS(text, "secret1");
    ASSERT_LACKS(text, "pgsecret");
    ASSERT_LACKS(text, "oidcsecret");
    ASSERT_LACKS(text, "scimsecret");
    ASSERT_LACKS(text, "mailsecret");
    ASSERT_LACKS(text, "awssecret");
    ck_assert_ptr_null(config_get(cfg, "pg_connection_url"));
    ck_assert_ptr_null(config_get(cfg, "scim_api_key"));
    ck_assert_ptr_null(config_get(cfg, "external_token_encryption_keys"));
    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "oidc.client_secret")), "");
    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "notifications.email.auth.password")), "");
    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "ai.bridge.bedrock.access_key_secret")), "");

    json_decref(cfg);
    free(text);
    opt_set_free(set);
}
END_TEST

START_TEST(omitempty_leaves_appear_once_set)
{
    const char *const env[] = {
        "CODER_VERBOSE=true", "CODER_EXPERIMENTS=a,b",
        "CODER_WILDCARD_ACCESS_URL=*.example.com",
        "CODER_SECURE_AUTH_COOKIE=true", NULL
    };
    const char *const args[] = { "--samesite-auth-cookie=none",
                           "--postgres-auth=awsiamrds", NULL };
    const char *head = "{\"verbose\":true,\"access_url\":\"\","
        "\"wildcard_access_url\":\"*.example.com\",";
    struct opt_set *set = resolve_args(env, args);
    char *text = config_text(set);

    ck_assert_msg(strncmp(text, head, strlen(head)) == 0,
                  "config starts %.80s", text);
    ASSERT_HAS(text, "\"experiments\":[\"a\",\"b\"]");
    ASSERT_HAS(text, "\"pg_auth\":\"awsiamrds\"");
    ASSERT_HAS(text, "\"http_cookies\":{\"secure_auth_cookie\":true,"
               "\"same_site\":\"none\"}");
    free(text);
    opt_set_free(set);
}
END_TEST

START_TEST(aliases_write_one_leaf_from_either_name)
{
    const char *const env[] = {
        "CODER_NOTIFICATIONS_EMAIL_FROM=old@example.com",
        "CODER_TELEMETRY=false", NULL
    };
    struct opt_set *set = resolve_env(env);
    json_t *cfg = deployment_config_json(set);

    ck_assert_str_eq(json_string_value(config_get(cfg,
                     "notifications.email.from")), "old@example.com");
    ck_assert(json_is_false(config_get(cfg, "telemetry.enable")));
    json_decref(cfg);
    opt_set_free(set);
}
END_TEST

/* --- YAML ---------------------------------------------------------------- */

START_TEST(yaml_starts_with_the_first_option_by_name)
{
    struct opt_set *set = resolve_env(no_env);
    char *text = yaml_text(set);

    /* "AI Bridge Anthropic Base URL" sorts first and creates aibridge. */
    ck_assert_msg(strncmp(text, "# ", 2) == 0, "starts %.40s", text);
    ASSERT_HAS(text, "\naibridge:\n  # The base URL of the Anthropic API.\n"
               "  # (default: https://api.anthropic.com/, type: string)\n"
               "  anthropic_base_url: https://api.anthropic.com/\n");
    free(text);
    opt_set_free(set);
}
END_TEST

START_TEST(yaml_comments_show_default_and_type)
{
    struct opt_set *set = resolve_env(no_env);
    char *text = yaml_text(set);

    ASSERT_HAS(text, "  # (default: <unset>, type: url)\n  accessURL:\n");
    ASSERT_HAS(text, "# (default: password, type: "
               "enum[password\\|awsiamrds])\npgAuth: password\n");
    ASSERT_HAS(text, "    # (default: 24h0m0s, type: duration)\n"
               "    sessionDuration: 24h0m0s\n");
    ASSERT_HAS(text, "    # (default: 127.0.0.1:3443, type: host:port)\n"
               "    address: 127.0.0.1:3443\n");
    ASSERT_HAS(text, "  # (default: {\"access_type\": \"offline\"}, type: "
               "struct[map[string]string])\n  authURLParams:\n"
               "    access_type: offline\n");
    free(text);
    opt_set_free(set);
}
END_TEST

START_TEST(yaml_wraps_comments_at_80_and_keeps_long_words_whole)
{
    struct opt_set *set = resolve_env(no_env);
    char *text = yaml_text(set);
    const char *line = text, *nl, *hash;

    /* The STUN default is one word longer than a line. */
    ASSERT_HAS(text, "    # (default:\n    # stun.l.google.com:19302,"
               "stun1.l.google.com:19302,stun2.l.google.com:19302,"
               "stun3.l.google.com:19302,stun4.l.google.com:19302,\n"
               "    # type: string-array)\n    stunAddresses:\n"
               "      - stun.l.google.com:19302\n");

    for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        hash = line + strspn(line, " ");
        if (*hash != '#' || memchr(hash + 2, ' ', (size_t)(nl - hash - 2))
            == NULL)
            continue;
        ck_assert_msg(nl - hash - 2 <= 80, "comment too wide: %.*s",
                      (int)(nl - line), line);
    }
    ck_assert_msg(*line == '\0', "no final newline");
    free(text);
    opt_set_free(set);
}
END_TEST

START_TEST(yaml_leaves_out_options_without_a_yaml_key)
{
    const char *const env[] = { "CODER_OIDC_CLIENT_SECRET=oidcsecret", NULL };
    struct opt_set *set = resolve_env(env);
    char *text = yaml_text(set);

    ASSERT_LACKS(text, "oidcsecret");
    ASSERT_LACKS(text, "clientSecret");
    ASSERT_LACKS(text, "\naddress:");
    ASSERT_LACKS(text, "writeConfig");
    ASSERT_LACKS(text, "(backwards");
    ASSERT_LACKS(text, ": \n");
    free(text);
    opt_set_free(set);
}
END_TEST

/*
 * Writing the YAML and reading it back through --config gives every
 * option the same value, now from the file.
 */
START_TEST(yaml_round_trips_through_the_resolver)
{
    const char *const env[] = {
        "CODER_ACCESS_URL=https://coder.example.com",
        "CODER_EXPERIMENTS=a,\"b,c\"",
        "CODER_OIDC_GROUP_MAPPING={\"admins\": \"Admins\"}",
        "CODER_SUPPORT_LINKS=[{\"name\":\"Docs\",\"target\":\"https://x\","
        "\"icon\":\"docs\"}]",
        "CODER_SESSION_DURATION=36h",
        "CODER_OIDC_SIGN_IN_TEXT=yes",
        "CODER_DERP_SERVER_REGION_NAME=: colon # hash",
        NULL
    };
    struct opt_set *a = resolve_env(env), *b;
    char *dir = tu_tmpdir(), *text = yaml_text(a), path[512];
    const char *const args[] = { "--config", path, NULL };
    const struct opt_desc *d;
    json_t *va, *vb;

    snprintf(path, sizeof(path), "%s/coder.yaml", dir);
    tu_write_file(path, text);
    b = resolve_args(no_env, args);

    for (size_t i = 0; i < opt_set_count(a); i++) {
        d = opt_set_desc(a, (int)i);
        if (d->yaml == NULL)
            continue;
        va = optval_json(opt_set_value(a, (int)i), d);
        vb = optval_json(opt_set_value(b, (int)i), d);
        ck_assert_msg(json_equal(va, vb), "\"%s\" changed", d->name);

        /* A deprecated option at its default is left out of the file. */
        if (d->use_instead == NULL ||
            !optval_is_default(opt_set_value(a, (int)i), d))
            ck_assert_msg(opt_set_source(b, (int)i) == OPT_SRC_YAML,
                          "\"%s\" not from yaml", d->name);
        json_decref(va);
        json_decref(vb);
    }
    free(text);
    tu_rmtree(dir);
    opt_set_free(a);
    opt_set_free(b);
}
END_TEST

/* --- help ---------------------------------------------------------------- */

START_TEST(help_lists_visible_options_by_group)
{
    struct opt_set *set = resolve_env(no_env);
    char *text = help_text(set);
    const char *plain = strstr(text, "\nOPTIONS:\n");
    const char *net = strstr(text, "\nNETWORKING OPTIONS:\n");
    const char *ent = strstr(text, "\nENTERPRISE OPTIONS:\n");

    ck_assert_msg(strncmp(text, "USAGE:\n  coder-cfg server [flags]\n", 32)
                  == 0, "starts %.40s", text);
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_nonnull(net);
    ck_assert_ptr_nonnull(ent);
    ck_assert(plain < net && net < ent);
    ASSERT_HAS(net, "\n      --access-url url, $CODER_ACCESS_URL\n"
               "          The external URL");
    ASSERT_HAS(text, "\n      --postgres-auth password|awsiamrds, "
               "$CODER_PG_AUTH (default: password)\n");
    ASSERT_HAS(ent, "\n      --browser-only bool, $CODER_BROWSER_ONLY\n");
    ASSERT_HAS(text, "DEPRECATED: Use --email-from instead.");
    ASSERT_HAS(text, "\n  -c, --config yaml-config-path, "
               "$CODER_CONFIG_PATH\n");
    ASSERT_LACKS(text, "--address ");
    ASSERT_LACKS(text, "--telemetry-enable");
    free(text);
    opt_set_free(set);
}
END_TEST

/* --- server start-up rules ----------------------------------------------- */

/* Applies the server rules to set with envp; returns their result. */
static int
apply_rules(struct opt_set *set, const char *const *env)
{
    char **envp = copy_list(env);
    struct opt_diag dg;
    int rc;

    opt_diag_init(&dg);
    rc = deployment_apply_server_rules(set, envp, &dg);
    ck_assert_uint_eq(dg.nerrors, 0);
    opt_diag_release(&dg);
    free_list(envp);
    return rc;
}

static const char *
origin_of(const struct opt_set *set, const char *name)
{
    return opt_set_origin(set, opt_set_find(set, name));
}

START_TEST(address_becomes_the_http_address_and_clears_tls)
{
    const char *const argv[] = { "--address", "127.0.0.1:4000", NULL };
    struct opt_set *set = resolve_args(no_env, argv);
    json_t *cfg;

    ck_assert_int_eq(apply_rules(set, no_env), 0);
    cfg = deployment_config_json(set);
    ck_assert_str_eq(json_string_value(config_get(cfg, "http_address")),
                     "127.0.0.1:4000");
    ck_assert_str_eq(json_string_value(config_get(cfg, "tls.address")), "");
    ck_assert_str_eq(origin_of(set, "HTTP Address"), "--address");
    ck_assert_str_eq(origin_of(set, "TLS Address"), "--address");
    json_decref(cfg);
    opt_set_free(set);
}
END_TEST

START_TEST(address_with_tls_becomes_the_tls_address)
{
    const char *const env[] = { "CODER_TLS_ENABLE=true",
                                "CODER_ADDRESS=[::1]:4443", NULL };
    struct opt_set *set = resolve_env(env);
    json_t *cfg;

    ck_assert_int_eq(apply_rules(set, env), 0);
    cfg = deployment_config_json(set);
    ck_assert_str_eq(json_string_value(config_get(cfg, "tls.address")),
                     "[::1]:4443");
    ck_assert_ptr_null(config_get(cfg, "http_address"));
    ck_assert_str_eq(opt_set_str(set, "HTTP Address"), "");
    ck_assert_str_eq(opt_source_name(opt_set_source(set, opt_set_find(
        set, "TLS Address"))), "env");
    json_decref(cfg);
    opt_set_free(set);
}
END_TEST

START_TEST(rate_limits_groups_and_redirect_follow_the_server)
{
    const char *const env[] = { "CODER_DANGEROUS_DISABLE_RATE_LIMITS=true",
                                "CODER_OIDC_SCOPES=openid,groups",
                                "CODER_TLS_REDIRECT_HTTP=1", NULL };
    struct opt_set *set = resolve_env(env);

    ck_assert_int_eq(apply_rules(set, env), 0);
    ck_assert(opt_set_int(set, "API Rate Limit") == -1);
    ck_assert_str_eq(origin_of(set, "API Rate Limit"),
                     "CODER_DANGEROUS_DISABLE_RATE_LIMITS");
    ck_assert_str_eq(opt_set_str(set, "OIDC Group Field"), "groups");
    ck_assert_str_eq(origin_of(set, "OIDC Group Field"), "CODER_OIDC_SCOPES");
    ck_assert(opt_set_bool(set, "Redirect to Access URL"));
    ck_assert_str_eq(origin_of(set, "Redirect to Access URL"),
                     "CODER_TLS_REDIRECT_HTTP");
    opt_set_free(set);
}
END_TEST

START_TEST(rules_leave_an_untouched_set_alone)
{
    const char *const env[] = { "CODER_OIDC_SCOPES=openid,groups",
                                "CODER_OIDC_GROUP_FIELD=teams", NULL };
    struct opt_set *set = resolve_env(env);

    ck_assert_int_eq(apply_rules(set, env), 0);
    ck_assert_str_eq(opt_set_str(set, "OIDC Group Field"), "teams");
    ck_assert(opt_set_int(set, "API Rate Limit") == 512);
    ck_assert_str_eq(opt_set_str(set, "HTTP Address"), "127.0.0.1:3000");
    ck_assert_str_eq(origin_of(set, "HTTP Address"), "default");
    ck_assert(!opt_set_bool(set, "Redirect to Access URL"));
    opt_set_free(set);
}
END_TEST

/* --- external auth providers from env ------------------------------------ */

/* Reads providers from env into a fresh set; diag kept for the caller. */
static struct opt_set *
read_auth(const char *const *env, struct opt_diag *dg, int *rc)
{
    struct opt_set *set = resolve_env(no_env);
    char **envp = copy_list(env);

    opt_diag_init(dg);
    *rc = deployment_read_external_auth(set, envp, dg);
    free_list(envp);
    return set;
}

START_TEST(external_auth_env_appends_providers_in_index_order)
{
    const char *const env[] = {
        "CODER_EXTERNAL_AUTH_1_ID=gitlab",
        "CODER_EXTERNAL_AUTH_0_ID=github",
        "CODER_EXTERNAL_AUTH_0_TYPE=github",
        "CODER_EXTERNAL_AUTH_0_CLIENT_SECRET=Sent1nel",
        "CODER_EXTERNAL_AUTH_0_SCOPES=repo read:org",
        "CODER_EXTERNAL_AUTH_0_DEVICE_FLOW=true",
        "coder_external_auth_1_no_refresh=1", NULL
    };
    struct opt_diag dg;
    int rc;
    struct opt_set *set = read_auth(env, &dg, &rc);
    const struct opt_value *v = opt_set_get(set, "External Auth Providers");
    char *text = config_text(set);

    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(json_array_size(v->js), 2);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(v->js, 0), "client_secret")), "Sent1nel");
    ASSERT_HAS(text, "\"id\":\"github\"");
    ASSERT_HAS(text, "\"scopes\":[\"repo\",\"read:org\"],"
               "\"device_flow\":true");
    ASSERT_HAS(text, "\"id\":\"gitlab\"");
    ASSERT_HAS(text, "\"no_refresh\":true");
    ASSERT_LACKS(text, "Sent1nel");
    ck_assert_str_eq(opt_set_origin(set, opt_set_find(
        set, "External Auth Providers")), "CODER_EXTERNAL_AUTH_*");
    free(text);
    opt_diag_release(&dg);
    opt_set_free(set);
}
END_TEST

START_TEST(external_auth_env_problems_name_the_variable)
{
    const char *const env[] = {
        "CODER_EXTERNAL_AUTH_0_ID=github",
        "CODER_EXTERNAL_AUTH_0_COLOR=red",
        "CODER_EXTERNAL_AUTH_0_NO_REFRESH=maybe",
        "CODER_EXTERNAL_AUTH_0_REGEX=(", NULL
    };
    struct opt_diag dg;
    int rc;
    struct opt_set *set = read_auth(env, &dg, &rc);

    ck_assert_int_eq(rc, ERR_INVALID);
    ck_assert_uint_eq(dg.nerrors, 3);
    ck_assert_str_eq(dg.errors[0], "unknown external auth field \"COLOR\" "
                     "in CODER_EXTERNAL_AUTH_0_COLOR");
    ck_assert_str_eq(dg.errors[1], "invalid bool \"maybe\" for "
                     "CODER_EXTERNAL_AUTH_0_NO_REFRESH: want true or false");
    ck_assert_ptr_nonnull(strstr(dg.errors[2], "invalid regexp \"(\" for "
                                 "CODER_EXTERNAL_AUTH_0_REGEX: "));
    ck_assert_ptr_null(opt_set_get(set, "External Auth Providers")->js);
    opt_diag_release(&dg);
    opt_set_free(set);
}
END_TEST

START_TEST(external_auth_env_indices_must_not_skip)
{
    const char *const env[] = {
        "CODER_EXTERNAL_AUTH_0_ID=a", "CODER_EXTERNAL_AUTH_2_ID=c", NULL
    };
    struct opt_diag dg;
    int rc;
    struct opt_set *set = read_auth(env, &dg, &rc);

    ck_assert_int_eq(rc, ERR_INVALID);
    ck_assert_uint_eq(dg.nerrors, 1);
    ck_assert_ptr_nonnull(strstr(dg.errors[0],
                                 "external auth provider 1 is missing"));
    opt_diag_release(&dg);
    opt_set_free(set);
}
END_TEST

START_TEST(help_says_usage_once_and_lists_local_options)
{
    static const struct opt_desc local[] = {
        { .name = "Tool Output", .description = "Where it goes.",
          .flag = "tool-output", .shorthand = "o", .type = OPT_STRING },
    };
    struct opt_set *set = resolve_env(no_env);
    struct buf b;

    ck_assert_int_eq(opt_set_add_local(set, local, 1), 0);
    buf_init(&b);
    ck_assert_int_eq(opt_set_write_help(set, "usage: coder-cfg tool [a]\n"
                                        "                     [b]\n", &b), 0);
    ck_assert_msg(strncmp(buf_str(&b), "USAGE:\n  coder-cfg tool [a]\n"
                          "                [b]\n\n", 45) == 0,
                  "starts %.60s", buf_str(&b));
    ASSERT_LACKS(buf_str(&b), "usage:");
    ASSERT_HAS(buf_str(&b), "\n  -o, --tool-output string\n"
               "          Where it goes.\n");
    buf_release(&b);
    opt_set_free(set);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("check_config");
    TCase *defaults = tcase_create("defaults");
    TCase *json = tcase_create("config_json");
    TCase *yaml = tcase_create("yaml");
    TCase *help = tcase_create("help");
    TCase *rules = tcase_create("rules");

    tcase_add_test(defaults, cache_directory_follows_coders_lookup_order);
    tcase_add_test(defaults,
                   docs_url_telemetry_and_update_check_follow_the_build);
    tcase_add_test(json, default_config_has_every_key_in_go_order);
    tcase_add_test(json, default_config_values_are_encoded_like_go);
    tcase_add_test(json, secrets_never_reach_the_config);
    tcase_add_test(json, omitempty_leaves_appear_once_set);
    tcase_add_test(json, aliases_write_one_leaf_from_either_name);
    tcase_add_test(yaml, yaml_starts_with_the_first_option_by_name);
    tcase_add_test(yaml, yaml_comments_show_default_and_type);
    tcase_add_test(yaml,
                   yaml_wraps_comments_at_80_and_keeps_long_words_whole);
    tcase_add_test(yaml, yaml_leaves_out_options_without_a_yaml_key);
    tcase_add_test(yaml, yaml_round_trips_through_the_resolver);
    tcase_add_test(help, help_lists_visible_options_by_group);
    tcase_add_test(help, help_says_usage_once_and_lists_local_options);
    tcase_add_test(rules, address_becomes_the_http_address_and_clears_tls);
    tcase_add_test(rules, address_with_tls_becomes_the_tls_address);
    tcase_add_test(rules, rate_limits_groups_and_redirect_follow_the_server);
    tcase_add_test(rules, rules_leave_an_untouched_set_alone);
    tcase_add_test(rules, external_auth_env_appends_providers_in_index_order);
    tcase_add_test(rules, external_auth_env_problems_name_the_variable);
    tcase_add_test(rules, external_auth_env_indices_must_not_skip);
    suite_add_tcase(s, defaults);
    suite_add_tcase(s, json);
    suite_add_tcase(s, yaml);
    suite_add_tcase(s, help);
    suite_add_tcase(s, rules);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
