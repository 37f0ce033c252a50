/*
 * deployment_config.c: the deployment option set and its "config" JSON.
 *
 * deployment_set_new fills in the four defaults that Coder computes when
 * it starts (docs URL, telemetry, update check, cache directory), so that
 * they show in "default", in help and in YAML exactly as a real server
 * shows them.
 *
 * deployment_config_json walks one static tree that mirrors the Go struct
 * DeploymentValues field by field (options-semantics.md section 9).  Go's
 * encoder writes fields in declaration order, which is neither the order
 * of the option table nor alphabetical, so the tree is the only place
 * that order lives.  Leaves name the json_path of the option that owns
 * them; the value itself always comes from the set.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "deployment.h"
#include "jsonx.h"
#include "util.h"
#include "banned.h"

/* --- dynamic defaults ---------------------------------------------------- */

/* The value of name in envp (first occurrence, as Go reads it), or NULL. */
static const char *
env_get(char *const *envp, const char *name)
{
    size_t len = strlen(name);

    for (; envp != NULL && *envp != NULL; envp++) {
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
            return *envp + len + 1;
    }
    return NULL;
}

static bool
is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/*
 * Writes path to out (which must be empty) cleaned the way Go's
 * filepath.Clean does: repeated slashes folded, "." dropped, ".."
 * removing the element before it (kept at the front of a relative path,
 * dropped at the root), no trailing slash, "." for nothing at all.
 */
static int
clean_path(const char *path, struct buf *out)
{
    bool rooted = path[0] == '/';
    size_t keep, seg;
    const char *p = path;
    int rc = rooted ? buf_addc(out, '/') : 0;

    keep = out->len;
    while (rc == 0 && *p != '\0') {
        seg = strcspn(p, "/");
        if (seg == 0 || (seg == 1 && p[0] == '.')) {
            /* An empty or "." element adds nothing. */
        } else if (seg == 2 && p[0] == '.' && p[1] == '.') {
            if (out->len > keep) {
                /* Drop the last element and its separator. */
                while (out->len > keep && out->data[out->len - 1] != '/')
                    out->len--;
                if (out->len > keep)
                    out->len--;
            } else if (!rooted) {
                rc = buf_adds(out, out->len > 0 ? "/.." : "..");
                keep = out->len;
            }
        } else {
            if (out->len > (rooted ? 1u : 0u))
                rc = buf_addc(out, '/');
            if (rc == 0)
                rc = buf_add(out, p, seg);
        }
        p += seg;
        p += *p == '/';
    }
    if (rc == 0 && out->len == 0)
        rc = buf_addc(out, '.');
    if (rc == 0 && out->data != NULL)
        out->data[out->len] = '\0';
    return rc;
}

/*
 * Go's os.UserCacheDir on Linux: $XDG_CACHE_HOME when it is an absolute
 * path, else $HOME/.cache; NULL when neither works.  The result points
 * into envp or into scratch.
 */
static const char *
user_cache_dir(char *const *envp, struct buf *scratch)
{
    const char *xdg = env_get(envp, "XDG_CACHE_HOME");
    const char *home = env_get(envp, "HOME");

    if (is_set(xdg))
        return xdg[0] == '/' ? xdg : NULL;
    if (!is_set(home))
        return NULL;
    if (buf_addf(scratch, "%s/.cache", home) != 0)
        return NULL;
    return buf_str(scratch);
}

/*
 * Coder's DefaultCacheDir: filepath.Join(BASE, "coder"), where BASE is
 * $CLIDOCGEN_CACHE_DIRECTORY, $CACHE_DIRECTORY (systemd), the user cache
 * directory or the temporary directory, the first that is set.
 */
static int
cache_dir(char *const *envp, struct buf *out)
{
    const char *base = env_get(envp, "CLIDOCGEN_CACHE_DIRECTORY");
    struct buf scratch, joined;
    int rc;

    buf_init(&scratch);
    buf_init(&joined);
    if (!is_set(base))
        base = env_get(envp, "CACHE_DIRECTORY");
    if (!is_set(base))
        base = user_cache_dir(envp, &scratch);
    if (!is_set(base))
        base = env_get(envp, "TMPDIR");
    if (!is_set(base))
        base = "/tmp";

    rc = buf_addf(&joined, "%s/coder", base);
    if (rc == 0)
        rc = clean_path(buf_str(&joined), out);
    buf_release(&joined);
    buf_release(&scratch);
    return rc;
}

/*
 * Coder's DefaultDocsURL: the version without anything after a "-" or a
 * "+"; v0.0.0 (a dev build) points at the unversioned docs.
 */
static int
docs_url(const char *version, struct buf *out)
{
    size_t n = strcspn(version, "-");

    n = strcspn(version, "+") < n ? strcspn(version, "+") : n;
    if (n == 6 && strncmp(version, "v0.0.0", 6) == 0)
        return buf_adds(out, "https://coder.com/docs");
    return buf_addf(out, "https://coder.com/docs/@%.*s", (int)n, version);
}

struct opt_set *
deployment_set_new(char *const *envp)
{
    const char *version = deployment_version();
    struct opt_set *set;
    struct buf docs, cache;
    int rc;

    set = opt_set_new(deployment_options, DEPLOYMENT_OPTION_COUNT);
    if (set == NULL)
        return NULL;
    buf_init(&docs);
    buf_init(&cache);

    rc = docs_url(version, &docs);
    if (rc == 0)
        rc = opt_set_set_default(set, "Docs URL", buf_str(&docs));
    if (rc == 0)
        rc = opt_set_set_default(set, "Telemetry Enable", "true");
    if (rc == 0)
        rc = opt_set_set_default(set, "Update Check",
                                 strstr(version, "-devel") ? "false" :
                                 "true");
    if (rc == 0)
        rc = cache_dir(envp, &cache);
    if (rc == 0)
        rc = opt_set_set_default(set, "Cache Directory", buf_str(&cache));

    buf_release(&docs);
    buf_release(&cache);
    if (rc != 0) {
        opt_set_free(set);
        return NULL;
    }
    return set;
}

/* --- the config tree ----------------------------------------------------- */

enum node_flags {
    OMIT_ZERO = 1 << 0,     /* Go's omitempty on a plain field */
    ALWAYS_FALSE = 1 << 1   /* a bool that no option sets */
};

/*
 * One field of DeploymentValues.  A leaf has path (the json_path of its
 * option); an object has kids, a list ended by a node with key NULL.
 */
struct node {
    const char *key;
    const char *path;
    const struct node *kids;
    unsigned flags;
};

#define LEAF(k, p) { k, p, NULL, 0 }
#define OMIT(k, p) { k, p, NULL, OMIT_ZERO }
#define OBJ(k, kids) { k, NULL, kids, 0 }
#define END { NULL, NULL, NULL, 0 }

static const struct node derp_server[] = {
    LEAF("enable", "derp.server.enable"),
    LEAF("region_id", "derp.server.region_id"),
    LEAF("region_code", "derp.server.region_code"),
    LEAF("region_name", "derp.server.region_name"),
    LEAF("stun_addresses", "derp.server.stun_addresses"),
    LEAF("relay_url", "derp.server.relay_url"),
    END
};

static const struct node derp_config[] = {
    LEAF("block_direct", "derp.config.block_direct"),
    LEAF("force_websockets", "derp.config.force_websockets"),
    LEAF("url", "derp.config.url"),
    LEAF("path", "derp.config.path"),
    END
};

static const struct node derp[] = {
    OBJ("server", derp_server),
    OBJ("config", derp_config),
    END
};

static const struct node prometheus[] = {
    LEAF("enable", "prometheus.enable"),
    LEAF("address", "prometheus.address"),
    LEAF("collect_agent_stats", "prometheus.collect_agent_stats"),
    LEAF("collect_db_metrics", "prometheus.collect_db_metrics"),
    LEAF("aggregate_agent_stats_by", "prometheus.aggregate_agent_stats_by"),
    END
};

static const struct node pprof[] = {
    LEAF("enable", "pprof.enable"),
    LEAF("address", "pprof.address"),
    END
};

static const struct node oauth2_github[] = {
    LEAF("client_id", "oauth2.github.client_id"),
    LEAF("client_secret", "oauth2.github.client_secret"),
    LEAF("device_flow", "oauth2.github.device_flow"),
    LEAF("default_provider_enable", "oauth2.github.default_provider_enable"),
    LEAF("allowed_orgs", "oauth2.github.allowed_orgs"),
    LEAF("allowed_teams", "oauth2.github.allowed_teams"),
    LEAF("allow_signups", "oauth2.github.allow_signups"),
    LEAF("allow_everyone", "oauth2.github.allow_everyone"),
    LEAF("enterprise_base_url", "oauth2.github.enterprise_base_url"),
    END
};

static const struct node oauth2[] = {
    OBJ("github", oauth2_github),
    END
};

static const struct node oidc[] = {
    LEAF("allow_signups", "oidc.allow_signups"),
    LEAF("client_id", "oidc.client_id"),
    LEAF("client_secret", "oidc.client_secret"),
    LEAF("client_key_file", "oidc.client_key_file"),
    LEAF("client_cert_file", "oidc.client_cert_file"),
    LEAF("email_domain", "oidc.email_domain"),
    LEAF("issuer_url", "oidc.issuer_url"),
    LEAF("scopes", "oidc.scopes"),
    LEAF("ignore_email_verified", "oidc.ignore_email_verified"),
    LEAF("username_field", "oidc.username_field"),
    LEAF("name_field", "oidc.name_field"),
    LEAF("email_field", "oidc.email_field"),
    LEAF("auth_url_params", "oidc.auth_url_params"),
    LEAF("ignore_user_info", "oidc.ignore_user_info"),
    LEAF("source_user_info_from_access_token",
         "oidc.source_user_info_from_access_token"),
    LEAF("organization_field", "oidc.organization_field"),
    LEAF("organization_mapping", "oidc.organization_mapping"),
    LEAF("organization_assign_default", "oidc.organization_assign_default"),
    LEAF("group_auto_create", "oidc.group_auto_create"),
    LEAF("group_regex_filter", "oidc.group_regex_filter"),
    LEAF("group_allow_list", "oidc.group_allow_list"),
    LEAF("groups_field", "oidc.groups_field"),
    LEAF("group_mapping", "oidc.group_mapping"),
    LEAF("user_role_field", "oidc.user_role_field"),
    LEAF("user_role_mapping", "oidc.user_role_mapping"),
    LEAF("user_roles_default", "oidc.user_roles_default"),
    LEAF("sign_in_text", "oidc.sign_in_text"),
    LEAF("icon_url", "oidc.icon_url"),
    LEAF("signups_disabled_text", "oidc.signups_disabled_text"),
    LEAF("skip_issuer_checks", "oidc.skip_issuer_checks"),
    END
};

static const struct node telemetry[] = {
    LEAF("enable", "telemetry.enable"),
    { "trace", NULL, NULL, ALWAYS_FALSE },
    LEAF("url", "telemetry.url"),
    END
};

static const struct node tls[] = {
    LEAF("enable", "tls.enable"),
    LEAF("address", "tls.address"),
    LEAF("redirect_http", "tls.redirect_http"),
    LEAF("cert_file", "tls.cert_file"),
    LEAF("client_auth", "tls.client_auth"),
    LEAF("client_ca_file", "tls.client_ca_file"),
    LEAF("key_file", "tls.key_file"),
    LEAF("min_version", "tls.min_version"),
    LEAF("client_cert_file", "tls.client_cert_file"),
    LEAF("client_key_file", "tls.client_key_file"),
    LEAF("supported_ciphers", "tls.supported_ciphers"),
    LEAF("allow_insecure_ciphers", "tls.allow_insecure_ciphers"),
    END
};

static const struct node trace[] = {
    LEAF("enable", "trace.enable"),
    LEAF("honeycomb_api_key", "trace.honeycomb_api_key"),
    LEAF("capture_logs", "trace.capture_logs"),
    LEAF("data_dog", "trace.data_dog"),
    END
};

static const struct node http_cookies[] = {
    OMIT("secure_auth_cookie", "http_cookies.secure_auth_cookie"),
    OMIT("same_site", "http_cookies.same_site"),
    END
};

static const struct node provisioner[] = {
    LEAF("daemons", "provisioner.daemons"),
    LEAF("daemon_types", "provisioner.daemon_types"),
    LEAF("daemon_poll_interval", "provisioner.daemon_poll_interval"),
    LEAF("daemon_poll_jitter", "provisioner.daemon_poll_jitter"),
    LEAF("force_cancel_interval", "provisioner.force_cancel_interval"),
    LEAF("daemon_psk", "provisioner.daemon_psk"),
    END
};

static const struct node rate_limit[] = {
    LEAF("disable_all", "rate_limit.disable_all"),
    LEAF("api", "rate_limit.api"),
    END
};

static const struct node swagger[] = {
    LEAF("enable", "swagger.enable"),
    END
};

static const struct node logging[] = {
    LEAF("log_filter", "logging.log_filter"),
    LEAF("human", "logging.human"),
    LEAF("json", "logging.json"),
    LEAF("stackdriver", "logging.stackdriver"),
    END
};

static const struct node dangerous[] = {
    LEAF("allow_path_app_sharing", "dangerous.allow_path_app_sharing"),
    LEAF("allow_path_app_site_owner_access",
         "dangerous.allow_path_app_site_owner_access"),
    LEAF("allow_all_cors", "dangerous.allow_all_cors"),
    END
};

static const struct node session_lifetime[] = {
    OMIT("disable_expiry_refresh", "session_lifetime.disable_expiry_refresh"),
    LEAF("default_duration", "session_lifetime.default_duration"),
    OMIT("refresh_default_duration",
         "session_lifetime.refresh_default_duration"),
    OMIT("default_token_lifetime", "session_lifetime.default_token_lifetime"),
    OMIT("max_token_lifetime", "session_lifetime.max_token_lifetime"),
    OMIT("max_admin_token_lifetime",
         "session_lifetime.max_admin_token_lifetime"),
    END
};

static const struct node support[] = {
    LEAF("links", "support.links"),
    END
};

static const struct node config_ssh[] = {
    LEAF("DeploymentName", "config_ssh.DeploymentName"),
    LEAF("SSHConfigOptions", "config_ssh.SSHConfigOptions"),
    END
};

static const struct node quiet_hours[] = {
    LEAF("default_schedule", "user_quiet_hours_schedule.default_schedule"),
    LEAF("allow_user_custom", "user_quiet_hours_schedule.allow_user_custom"),
    END
};

static const struct node healthcheck[] = {
    LEAF("refresh", "healthcheck.refresh"),
    LEAF("threshold_database", "healthcheck.threshold_database"),
    END
};

static const struct node retention[] = {
    LEAF("audit_logs", "retention.audit_logs"),
    LEAF("connection_logs", "retention.connection_logs"),
    LEAF("api_keys", "retention.api_keys"),
    LEAF("workspace_agent_logs", "retention.workspace_agent_logs"),
    END
};

static const struct node email_auth[] = {
    LEAF("identity", "notifications.email.auth.identity"),
    LEAF("username", "notifications.email.auth.username"),
    LEAF("password", "notifications.email.auth.password"),
    LEAF("password_file", "notifications.email.auth.password_file"),
    END
};

static const struct node email_tls[] = {
    LEAF("start_tls", "notifications.email.tls.start_tls"),
    LEAF("server_name", "notifications.email.tls.server_name"),
    LEAF("insecure_skip_verify",
         "notifications.email.tls.insecure_skip_verify"),
    LEAF("ca_file", "notifications.email.tls.ca_file"),
    LEAF("cert_file", "notifications.email.tls.cert_file"),
    LEAF("key_file", "notifications.email.tls.key_file"),
    END
};

static const struct node email[] = {
    LEAF("from", "notifications.email.from"),
    LEAF("smarthost", "notifications.email.smarthost"),
    LEAF("hello", "notifications.email.hello"),
    OBJ("auth", email_auth),
    OBJ("tls", email_tls),
    LEAF("force_tls", "notifications.email.force_tls"),
    END
};

static const struct node webhook[] = {
    LEAF("endpoint", "notifications.webhook.endpoint"),
    END
};

static const struct node inbox[] = {
    LEAF("enabled", "notifications.inbox.enabled"),
    END
};

static const struct node notifications[] = {
    LEAF("max_send_attempts", "notifications.max_send_attempts"),
    LEAF("retry_interval", "notifications.retry_interval"),
    LEAF("sync_interval", "notifications.sync_interval"),
    LEAF("sync_buffer_size", "notifications.sync_buffer_size"),
    LEAF("lease_period", "notifications.lease_period"),
    LEAF("lease_count", "notifications.lease_count"),
    LEAF("fetch_interval", "notifications.fetch_interval"),
    LEAF("method", "notifications.method"),
    LEAF("dispatch_timeout", "notifications.dispatch_timeout"),
    OBJ("email", email),
    OBJ("webhook", webhook),
    OBJ("inbox", inbox),
    END
};

static const struct node prebuilds[] = {
    LEAF("reconciliation_interval",
         "workspace_prebuilds.reconciliation_interval"),
    LEAF("reconciliation_backoff_interval",
         "workspace_prebuilds.reconciliation_backoff_interval"),
    LEAF("reconciliation_backoff_lookback",
         "workspace_prebuilds.reconciliation_backoff_lookback"),
    LEAF("failure_hard_limit", "workspace_prebuilds.failure_hard_limit"),
    END
};

static const struct node bridge_openai[] = {
    LEAF("base_url", "ai.bridge.openai.base_url"),
    LEAF("key", "ai.bridge.openai.key"),
    END
};

static const struct node bridge_anthropic[] = {
    LEAF("base_url", "ai.bridge.anthropic.base_url"),
    LEAF("key", "ai.bridge.anthropic.key"),
    END
};

static const struct node bridge_bedrock[] = {
    LEAF("region", "ai.bridge.bedrock.region"),
    LEAF("access_key", "ai.bridge.bedrock.access_key"),
    LEAF("access_key_secret", "ai.bridge.bedrock.access_key_secret"),
    LEAF("model", "ai.bridge.bedrock.model"),
    LEAF("small_fast_model", "ai.bridge.bedrock.small_fast_model"),
    END
};

static const struct node bridge[] = {
    LEAF("enabled", "ai.bridge.enabled"),
    OBJ("openai", bridge_openai),
    OBJ("anthropic", bridge_anthropic),
    OBJ("bedrock", bridge_bedrock),
    LEAF("inject_coder_mcp_tools", "ai.bridge.inject_coder_mcp_tools"),
    LEAF("retention", "ai.bridge.retention"),
    LEAF("max_concurrency", "ai.bridge.max_concurrency"),
    LEAF("rate_limit", "ai.bridge.rate_limit"),
    END
};

static const struct node bridge_proxy[] = {
    LEAF("enabled", "ai.aibridge_proxy.enabled"),
    LEAF("listen_addr", "ai.aibridge_proxy.listen_addr"),
    LEAF("cert_file", "ai.aibridge_proxy.cert_file"),
    LEAF("key_file", "ai.aibridge_proxy.key_file"),
    END
};

static const struct node ai[] = {
    OBJ("bridge", bridge),
    OBJ("aibridge_proxy", bridge_proxy),
    END
};

static const struct node template_insights[] = {
    LEAF("enable", "template_insights.enable"),
    END
};

/* DeploymentValues itself. */
static const struct node root[] = {
    OMIT("verbose", "verbose"),
    LEAF("access_url", "access_url"),
    OMIT("wildcard_access_url", "wildcard_access_url"),
    LEAF("docs_url", "docs_url"),
    OMIT("redirect_to_access_url", "redirect_to_access_url"),
    OMIT("http_address", "http_address"),
    OMIT("autobuild_poll_interval", "autobuild_poll_interval"),
    OMIT("job_hang_detector_interval", "job_hang_detector_interval"),
    OBJ("derp", derp),
    OBJ("prometheus", prometheus),
    OBJ("pprof", pprof),
    OMIT("proxy_trusted_headers", "proxy_trusted_headers"),
    OMIT("proxy_trusted_origins", "proxy_trusted_origins"),
    OMIT("cache_directory", "cache_directory"),
    OMIT("ephemeral_deployment", "ephemeral_deployment"),
    OMIT("pg_connection_url", "pg_connection_url"),
    OMIT("pg_auth", "pg_auth"),
    OBJ("oauth2", oauth2),
    OBJ("oidc", oidc),
    OBJ("telemetry", telemetry),
    OBJ("tls", tls),
    OBJ("trace", trace),
    OBJ("http_cookies", http_cookies),
    OMIT("strict_transport_security", "strict_transport_security"),
    OMIT("strict_transport_security_options",
         "strict_transport_security_options"),
    OMIT("ssh_keygen_algorithm", "ssh_keygen_algorithm"),
    OMIT("metrics_cache_refresh_interval", "metrics_cache_refresh_interval"),
    OMIT("agent_stat_refresh_interval", "agent_stat_refresh_interval"),
    LEAF("agent_fallback_troubleshooting_url",
         "agent_fallback_troubleshooting_url"),
    OMIT("browser_only", "browser_only"),
    OMIT("scim_api_key", "scim_api_key"),
    OMIT("external_token_encryption_keys", "external_token_encryption_keys"),
    OBJ("provisioner", provisioner),
    OBJ("rate_limit", rate_limit),
    OMIT("experiments", "experiments"),
    OMIT("update_check", "update_check"),
    OBJ("swagger", swagger),
    OBJ("logging", logging),
    OBJ("dangerous", dangerous),
    OMIT("disable_path_apps", "disable_path_apps"),
    OBJ("session_lifetime", session_lifetime),
    OMIT("disable_password_auth", "disable_password_auth"),
    OBJ("support", support),
    OMIT("enable_authz_recording", "enable_authz_recording"),
    LEAF("external_auth", "external_auth"),
    OBJ("config_ssh", config_ssh),
    OMIT("wgtunnel_host", "wgtunnel_host"),
    OMIT("disable_owner_workspace_exec", "disable_owner_workspace_exec"),
    OMIT("disable_workspace_sharing", "disable_workspace_sharing"),
    OMIT("proxy_health_status_interval", "proxy_health_status_interval"),
    OMIT("enable_terraform_debug_mode", "enable_terraform_debug_mode"),
    OBJ("user_quiet_hours_schedule", quiet_hours),
    OMIT("web_terminal_renderer", "web_terminal_renderer"),
    OMIT("allow_workspace_renames", "allow_workspace_renames"),
    OBJ("healthcheck", healthcheck),
    OBJ("retention", retention),
    OMIT("cli_upgrade_message", "cli_upgrade_message"),
    OMIT("terms_of_service_url", "terms_of_service_url"),
    OBJ("notifications", notifications),
    OMIT("additional_csp_policy", "additional_csp_policy"),
    OMIT("workspace_hostname_suffix", "workspace_hostname_suffix"),
    OBJ("workspace_prebuilds", prebuilds),
    OMIT("hide_ai_tasks", "hide_ai_tasks"),
    OBJ("ai", ai),
    OBJ("template_insights", template_insights),
    OMIT("config", "config"),
    OMIT("write_config", "write_config"),
    LEAF("address", "address"),
    END
};

/* What Go's omitempty counts as empty: false, 0, "", null, []. */
static bool
is_zero(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_FALSE:
    case JSON_NULL:
        return true;
    case JSON_STRING:
        return json_string_length(v) == 0;
    case JSON_INTEGER:
        return json_integer_value(v) == 0;
    case JSON_REAL:
        return json_real_value(v) == 0.0;
    case JSON_ARRAY:
        return json_array_size(v) == 0;
    default:
        return false;
    }
}

/*
 * The JSON of one leaf, or NULL with *skip set when the field is left
 * out.  Secrets are blanked the way WithoutSecrets does (Set("") on a
 * copy): an omitempty field then disappears, any other becomes "".
 */
static json_t *
leaf_json(const struct opt_set *set, const struct node *n, bool *skip)
{
    const struct opt_desc *d;
    json_t *v;
    int i;

    *skip = false;
    if (n->flags & ALWAYS_FALSE)
        return json_false();

    i = opt_set_find_path(set, n->path);
    assert(i >= 0);
    d = opt_set_desc(set, i);
    if (opt_desc_is_secret(d)) {
        *skip = (n->flags & OMIT_ZERO) != 0;
        return *skip ? NULL : json_string("");
    }

    v = optval_config_json(opt_set_value(set, i), d);
    if (v != NULL && (n->flags & OMIT_ZERO) && is_zero(v)) {
        json_decref(v);
        *skip = true;
        return NULL;
    }
    return v;
}

static json_t *
object_json(const struct opt_set *set, const struct node *kids)
{
    json_t *obj = json_object(), *v;
    const struct node *n;
    bool skip;

    for (n = kids; obj != NULL && n->key != NULL; n++) {
        skip = false;
        if (n->kids != NULL)
            v = object_json(set, n->kids);
        else
            v = leaf_json(set, n, &skip);
        if (v == NULL && skip)
            continue;
        if (v == NULL || json_object_set_new(obj, n->key, v) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

json_t *
deployment_config_json(const struct opt_set *set)
{
    return object_json(set, root);
}

/* --- server start-up rules ----------------------------------------------- */

static bool
set_by_operator(const struct opt_set *set, const char *name)
{
    enum opt_source src = opt_set_source(set, opt_set_find(set, name));

    return src == OPT_SRC_FLAG || src == OPT_SRC_ENV || src == OPT_SRC_YAML;
}

/*
 * Sets the option called name to text and labels it (and its aliases)
 * with src and origin, the place the value in force came from.
 */
static int
assign_marked(struct opt_set *set, const char *name, const char *text,
              enum opt_source src, const char *origin, struct opt_diag *dg)
{
    struct err e;
    int rc;

    err_clear(&e);
    rc = opt_set_assign(set, name, text, &e);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != 0)
        return opt_diag_add(dg, false, "cannot apply %s to \"%s\": %s",
                            origin, name, e.msg);
    return opt_set_mark(set, name, src, origin);
}

/* The same on behalf of the option called from. */
static int
assign_for(struct opt_set *set, const char *name, const char *text,
           const char *from, struct opt_diag *dg)
{
    int i = opt_set_find(set, from);

    return assign_marked(set, name, text, opt_set_source(set, i),
                         opt_set_origin(set, i), dg);
}

/*
 * The deprecated --address becomes the TLS address when TLS is on, else
 * the HTTP address; the other listener's address is cleared.
 */
static int
rule_address(struct opt_set *set, struct opt_diag *dg)
{
    bool tls_on = opt_set_bool(set, "TLS Enable");
    int i = opt_set_find(set, "Address");
    struct buf text;
    int rc;

    if (!set_by_operator(set, "Address"))
        return 0;
    buf_init(&text);
    rc = optval_text(opt_set_value(set, i), opt_set_desc(set, i), &text);
    if (rc == 0)
        rc = assign_for(set, tls_on ? "TLS Address" : "HTTP Address",
                        buf_str(&text), "Address", dg);
    if (rc == 0)
        rc = assign_for(set, tls_on ? "HTTP Address" : "TLS Address", "",
                        "Address", dg);
    buf_release(&text);
    return rc;
}

/* OIDC asks for the "groups" claim when the scopes include it. */
static int
rule_groups_field(struct opt_set *set, struct opt_diag *dg)
{
    const struct opt_value *scopes = opt_set_get(set, "OIDC Scopes");

    if (opt_set_str(set, "OIDC Group Field")[0] != '\0')
        return 0;
    for (size_t k = 0; k < scopes->n; k++) {
        if (strcmp(scopes->list[k], "groups") == 0)
            return assign_for(set, "OIDC Group Field", "groups",
                              "OIDC Scopes", dg);
    }
    return 0;
}

/* Go's strconv.ParseBool saying true; anything it refuses is false. */
static bool
truthy(const char *s)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };

    for (size_t i = 0; s != NULL && i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0)
            return true;
    }
    return false;
}

/*
 * The deprecated redirect option hands its value to Redirect to Access
 * URL when it was given as a flag, or when CODER_TLS_REDIRECT_HTTP_TO_HTTPS
 * or the still older CODER_TLS_REDIRECT_HTTP says true.  A YAML key does
 * not count, so reading back a --write-config file changes nothing.
 */
static int
rule_redirect(struct opt_set *set, char *const *envp, struct opt_diag *dg)
{
    const char *from = "Redirect HTTP to HTTPS";
    const char *old = "CODER_TLS_REDIRECT_HTTP";
    int i = opt_set_find(set, from);
    bool on = opt_set_bool(set, from);

    if (truthy(env_get(envp, old)))
        return assign_marked(set, "Redirect to Access URL",
                             on ? "true" : "false", OPT_SRC_ENV, old, dg);
    if (opt_set_source(set, i) == OPT_SRC_FLAG ||
        truthy(env_get(envp, "CODER_TLS_REDIRECT_HTTP_TO_HTTPS")))
        return assign_for(set, "Redirect to Access URL",
                          on ? "true" : "false", from, dg);
    return 0;
}

int
deployment_apply_server_rules(struct opt_set *set, char *const *envp,
                              struct opt_diag *diag)
{
    size_t nerr = diag->nerrors;
    int rc = rule_address(set, diag);

    if (rc == 0 && opt_set_bool(set, "Disable All Rate Limits"))
        rc = assign_for(set, "API Rate Limit", "-1",
                        "Disable All Rate Limits", diag);
    if (rc == 0)
        rc = rule_groups_field(set, diag);
    if (rc == 0)
        rc = rule_redirect(set, envp, diag);
    if (rc == 0 && diag->nerrors > nerr)
        rc = ERR_INVALID;
    return rc;
}

/* --- external auth providers from the environment ------------------------ */

#define AUTH_PREFIX "CODER_EXTERNAL_AUTH_"
#define AUTH_MAX 1000

enum auth_kind {
    AUTH_STR,
    AUTH_BOOL,
    AUTH_LIST,
    AUTH_URL,
    AUTH_REGEX
};

/* One CODER_EXTERNAL_AUTH_<n>_<FIELD>; the JSON key is FIELD lower-cased. */
static const struct auth_field {
    const char *env;
    enum auth_kind kind;
} auth_fields[] = {
    { "ID", AUTH_STR },
    { "TYPE", AUTH_STR },
    { "CLIENT_ID", AUTH_STR },
    { "CLIENT_SECRET", AUTH_STR },
    { "AUTH_URL", AUTH_URL },
    { "TOKEN_URL", AUTH_URL },
    { "VALIDATE_URL", AUTH_URL },
    { "REVOKE_URL", AUTH_URL },
    { "APP_INSTALL_URL", AUTH_URL },
    { "APP_INSTALLATIONS_URL", AUTH_URL },
    { "NO_REFRESH", AUTH_BOOL },
    { "SCOPES", AUTH_LIST },
    { "EXTRA_TOKEN_KEYS", AUTH_LIST },
    { "DEVICE_FLOW", AUTH_BOOL },
    { "DEVICE_CODE_URL", AUTH_URL },
    { "MCP_URL", AUTH_URL },
    { "MCP_TOOL_ALLOW_REGEX", AUTH_REGEX },
    { "MCP_TOOL_DENY_REGEX", AUTH_REGEX },
    { "REGEX", AUTH_REGEX },
    { "DISPLAY_NAME", AUTH_STR },
    { "DISPLAY_ICON", AUTH_STR },
    { "CODE_CHALLENGE_METHODS_SUPPORTED", AUTH_LIST },
};

#define NAUTH_FIELDS (sizeof(auth_fields) / sizeof(auth_fields[0]))

/* The providers read so far: objects by index, NULL where none yet. */
struct auth_read {
    json_t *by_index[AUTH_MAX];
    size_t n;                       /* one past the highest index seen */
    const char *first[AUTH_MAX];    /* a variable naming each index */
    struct opt_diag *dg;
};

static bool
ascii_ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x >= 'a' && x <= 'z')
            x -= 'a' - 'A';
        if (y >= 'a' && y <= 'z')
            y -= 'a' - 'A';
        if (x != y)
            return false;
    }
    return true;
}

static const struct auth_field *
auth_field_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NAUTH_FIELDS; i++) {
        if (strlen(auth_fields[i].env) == len &&
            ascii_ieq_n(name, auth_fields[i].env, len))
            return &auth_fields[i];
    }
    return NULL;
}

/* Appends the bad text quoted and escaped, for one-line messages. */
static int
auth_bad(struct auth_read *ar, const char *what, const char *text,
         const char *var, size_t vlen, const char *cause)
{
    struct buf q;
    int rc;

    buf_init(&q);
    rc = opt_escape(&q, text, true);
    if (rc == 0)
        rc = opt_diag_add(ar->dg, false, "invalid %s \"%s\" for %.*s: %s",
                          what, buf_str(&q), (int)vlen, var, cause);
    buf_release(&q);
    return rc;
}

/* A URL or regexp is checked with the option engine's own parser. */
static int
auth_check(struct auth_read *ar, enum auth_kind kind, const char *text,
           const char *var, size_t vlen)
{
    struct opt_desc d = { .name = "external auth" };
    struct opt_value v;
    struct err e;
    int rc;

    d.type = kind == AUTH_URL ? OPT_URL : OPT_REGEXP;
    rc = optval_init(&v, d.type);
    if (rc != 0)
        return rc;
    err_clear(&e);
    rc = optval_set(&v, &d, text, &e);
    optval_release(&v);
    if (rc == ERR_NOMEM || rc == 0)
        return rc;
    return auth_bad(ar, kind == AUTH_URL ? "url" : "regexp", text, var,
                    vlen, e.msg);
}

/* Space-separated words as a JSON list, runs of spaces counting as one. */
static json_t *
auth_words(const char *text)
{
    json_t *a = json_array();

    while (a != NULL && *text != '\0') {
        size_t len = strcspn(text, " ");

        if (len > 0 && json_array_append_new(a, jsonx_stringn(text, len)))
            break;
        text += len;
        text += strspn(text, " ");
    }
    return a;
}

/* The JSON value of one field; *out stays NULL after a problem. */
static int
auth_value(struct auth_read *ar, const struct auth_field *f,
           const char *text, const char *var, size_t vlen, json_t **out)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true",
                                       "True", NULL };
    static const char *const no[] = { "0", "f", "F", "FALSE", "false",
                                      "False", NULL };
    size_t before = ar->dg->nerrors;
    int rc = 0;

    *out = NULL;
    if (f->kind == AUTH_BOOL) {
        for (size_t i = 0; *out == NULL && yes[i] != NULL; i++) {
            if (strcmp(text, yes[i]) == 0)
                *out = json_true();
            else if (strcmp(text, no[i]) == 0)
                *out = json_false();
        }
        return *out != NULL ? 0 : auth_bad(ar, "bool", text, var, vlen,
                                           "want true or false");
    }
    if (f->kind == AUTH_URL || f->kind == AUTH_REGEX)
        rc = auth_check(ar, f->kind, text, var, vlen);
    if (rc != 0 || ar->dg->nerrors > before)
        return rc;
    *out = f->kind == AUTH_LIST ? auth_words(text) : jsonx_string(text);
    return *out != NULL ? 0 : ERR_NOMEM;
}

/*
 * Splits "<n>_<FIELD>" (what follows the prefix) into an index and a
 * known field; 1 after a problem went to dg.
 */
static int
auth_name(struct auth_read *ar, const char *var, size_t vlen,
          size_t *index, const struct auth_field **f)
{
    const char *rest = var + strlen(AUTH_PREFIX);
    size_t digits = strspn(rest, "0123456789");
    const char *field = rest + digits + 1;
    size_t flen = vlen - (size_t)(field - var);
    uint64_t n = 0;

    if (digits == 0 || digits > 3 || rest[digits] != '_' ||
        field > var + vlen ||
        util_parse_u64(rest, digits, &n) != 0 || n >= AUTH_MAX) {
        int rc = opt_diag_add(ar->dg, false, "invalid external auth "
                              "variable \"%.*s\": want %s<n>_<FIELD> "
                              "with n from 0 to %d", (int)vlen, var,
                              AUTH_PREFIX, AUTH_MAX - 1);
        return rc != 0 ? rc : 1;
    }
    *index = (size_t)n;
    *f = auth_field_find(field, flen);
    if (*f == NULL) {
        int rc = opt_diag_add(ar->dg, false, "unknown external auth field "
                              "\"%.*s\" in %.*s", (int)flen, field,
                              (int)vlen, var);
        return rc != 0 ? rc : 1;
    }
    return 0;
}

/* Stores one field's key under the lower-case spelling of its name. */
static int
auth_put(json_t *obj, const struct auth_field *f, json_t *val)
{
    char key[64];
    size_t i;

    for (i = 0; f->env[i] != '\0' && i + 1 < sizeof(key); i++)
        key[i] = (char)(f->env[i] >= 'A' && f->env[i] <= 'Z' ?
                        f->env[i] - 'A' + 'a' : f->env[i]);
    key[i] = '\0';
    return json_object_set_new(obj, key, val) == 0 ? 0 : ERR_NOMEM;
}

/* One "CODER_EXTERNAL_AUTH_<n>_<FIELD>=value" of envp. */
static int
auth_var(struct auth_read *ar, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t vlen = (size_t)(eq - kv), index;
    const struct auth_field *f;
    json_t *val;
    int rc = auth_name(ar, kv, vlen, &index, &f);

    if (rc == 0)
        rc = auth_value(ar, f, eq + 1, kv, vlen, &val);
    if (rc != 0 || val == NULL)
        return rc > 0 ? 0 : rc;
    if (ar->by_index[index] == NULL) {
        ar->by_index[index] = json_object();
        ar->first[index] = kv;
    }
    if (ar->by_index[index] == NULL) {
        json_decref(val);
        return ERR_NOMEM;
    }
    if (index >= ar->n)
        ar->n = index + 1;
    return auth_put(ar->by_index[index], f, val);
}

/*
 * The providers as one JSON list after what the set already holds, in
 * index order; 1 after a gap in the indices went to dg.
 */
static int
auth_list(const struct opt_set *set, struct auth_read *ar, json_t **out)
{
    const struct opt_value *v = opt_set_get(set, "External Auth Providers");
    json_t *a = v->js != NULL ? json_deep_copy(v->js) : json_array();

    *out = NULL;
    if (a == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < ar->n; i++) {
        if (ar->by_index[i] == NULL) {
            const char *var = ar->first[ar->n - 1];
            int rc = opt_diag_add(ar->dg, false, "external auth provider "
                                  "%zu is missing: %s%zu_* variables must "
                                  "number providers from 0 without gaps "
                                  "(found %.*s)", i, AUTH_PREFIX, i,
                                  (int)strcspn(var, "="), var);

            json_decref(a);
            return rc != 0 ? rc : 1;
        }
        if (json_array_append(a, ar->by_index[i]) != 0) {
            json_decref(a);
            return ERR_NOMEM;
        }
    }
    *out = a;
    return 0;
}

/* Replaces the set's providers with list, labelled as from env. */
static int
auth_store(struct opt_set *set, json_t *list, struct opt_diag *dg)
{
    const char *name = "External Auth Providers";
    enum opt_source src = opt_set_source(set, opt_set_find(set, name));
    struct buf text;
    struct err e;
    int rc;

    buf_init(&text);
    err_clear(&e);
    rc = jsonx_dump(list, &text, false);
    if (rc == 0)
        rc = opt_set_assign(set, name, buf_str(&text), &e);
    if (rc != 0 && rc != ERR_NOMEM)
        rc = opt_diag_add(dg, false, "cannot add the external auth "
                          "providers from %s*: %s", AUTH_PREFIX, e.msg);
    if (rc == 0 && src != OPT_SRC_FLAG && src != OPT_SRC_YAML)
        rc = opt_set_mark(set, name, OPT_SRC_ENV, AUTH_PREFIX "*");
    buf_release(&text);
    return rc;
}

int
deployment_read_external_auth(struct opt_set *set, char *const *envp,
                              struct opt_diag *diag)
{
    struct auth_read *ar = calloc(1, sizeof(*ar));
    size_t nerr = diag->nerrors, plen = strlen(AUTH_PREFIX);
    json_t *list = NULL;
    int rc = ar != NULL ? 0 : ERR_NOMEM;

    if (ar != NULL)
        ar->dg = diag;
    for (size_t i = 0; rc == 0 && envp != NULL && envp[i] != NULL; i++) {
        if (strchr(envp[i], '=') != NULL && strlen(envp[i]) > plen &&
            ascii_ieq_n(envp[i], AUTH_PREFIX, plen))
            rc = auth_var(ar, envp[i]);
    }
    if (rc == 0 && diag->nerrors == nerr && ar->n > 0)
        rc = auth_list(set, ar, &list);
    if (rc == 0 && list != NULL)
        rc = auth_store(set, list, diag);

    json_decref(list);
    for (size_t i = 0; ar != NULL && i < ar->n; i++)
        json_decref(ar->by_index[i]);
    free(ar);
    if (rc == 0 && diag->nerrors > nerr)
        rc = ERR_INVALID;
    return rc > 0 ? ERR_INVALID : rc;
}
