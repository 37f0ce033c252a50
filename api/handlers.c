/*
 * handlers.c: the route table, the answers built once, and the handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/gojson.h"
#include "api/internal.h"
#include "api/values.h"
#include "core/deployment.h"
#include "core/jsonx.h"
#include "core/banned.h"

#define FORBIDDEN_DETAIL "You don't have permission to view this " \
    "content. If you believe this is a mistake, please contact your " \
    "administrator or try signing in with different credentials."

/* --- answers built once -------------------------------------------------- */

static json_t *
message_json(const char *message, const char *detail)
{
    json_t *o = json_object();

    json_object_set_new(o, "message", jsonx_string(message));
    if (detail != NULL)
        json_object_set_new(o, "detail", jsonx_string(detail));
    return o;
}

/* The external URL of this build: the commit page, or the repository. */
static void
external_url(char *out, size_t size)
{
    const char *commit = deployment_commit();

    if (commit[0] == '\0')
        snprintf(out, size, "https://github.com/coder/coder");
    else
        snprintf(out, size, "https://github.com/coder/coder/commit/%s",
                 commit);
}

static json_t *
buildinfo_json(const struct api_server *srv)
{
    const struct opt_set *set = srv->set;
    json_t *o = json_object();
    char ext[160];

    external_url(ext, sizeof(ext));
    json_object_set_new(o, "external_url", jsonx_string(ext));
    json_object_set_new(o, "version", jsonx_string(deployment_version()));
    json_object_set_new(o, "dashboard_url", jsonx_string(srv->access_url));
    json_object_set_new(o, "telemetry",
                        json_boolean(opt_set_bool(set, "Telemetry Enable")));
    json_object_set_new(o, "workspace_proxy", json_false());
    json_object_set_new(o, "agent_api_version", json_string("1.0"));
    json_object_set_new(o, "provisioner_api_version", json_string("1.11"));
    json_object_set_new(o, "upgrade_message",
                        jsonx_string(opt_set_str(set, "CLI Upgrade Message")));
    json_object_set_new(o, "deployment_id",
                        jsonx_string(engine_deployment_id(srv->en)));
    json_object_set_new(o, "webpush_public_key", json_string(""));
    return o;
}

static json_t *
config_json(const struct api_server *srv)
{
    json_t *config = deployment_config_json(srv->set);
    json_t *options = opt_set_options_json(srv->set, 0);

    if (config == NULL || options == NULL) {
        json_decref(config);
        json_decref(options);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "config", config, "options", options);
}

static json_t *
ssh_json(const struct api_server *srv)
{
    const struct opt_value *opts = opt_set_get(srv->set,
                                               "SSH Config Options");
    const char *prefix = opt_set_str(srv->set, "SSH Host Prefix");
    json_t *map = values_ssh_options(opts->list, opts->n);
    json_t *o;

    if (map == NULL)
        return NULL;
    o = json_object();
    json_object_set_new(o, "hostname_prefix",
                        jsonx_string(prefix[0] != '\0' ? prefix : "coder."));
    json_object_set_new(o, "hostname_suffix",
                        jsonx_string(opt_set_str(srv->set,
                                                 "Workspace Hostname Suffix")));
    json_object_set_new(o, "ssh_config_options", map);
    return o;
}

static json_t *
update_off_json(void)
{
    char ext[160];

    external_url(ext, sizeof(ext));
    return json_pack("{s:b,s:s,s:s}", "current", 1, "version",
                     deployment_version(), "url", ext);
}

int
api_answers_build(struct api_server *srv, struct err *e)
{
    const struct opt_value *exp = opt_set_get(srv->set, "Experiments");

    srv->root = blob_from_json(message_json("\xf0\x9f\x91\x8b", NULL));
    srv->buildinfo = blob_from_json(buildinfo_json(srv));
    srv->config = blob_from_json(config_json(srv));
    srv->ssh = blob_from_json(ssh_json(srv));
    srv->experiments = blob_from_json(values_experiments(exp->list, exp->n));
    srv->available = blob_from_json(values_experiments_available());
    srv->update_off = blob_from_json(update_off_json());
    srv->not_found = blob_from_json(message_json("Route not found.", NULL));
    srv->forbidden = blob_from_json(message_json("Forbidden.",
                                            FORBIDDEN_DETAIL));
    srv->healthz = blob_new("OK", 2);
    srv->ok = blob_from_json(json_string("ok"));
    if (srv->root == NULL || srv->buildinfo == NULL ||
        srv->config == NULL || srv->ssh == NULL ||
        srv->experiments == NULL || srv->available == NULL ||
        srv->update_off == NULL || srv->not_found == NULL ||
        srv->forbidden == NULL || srv->healthz == NULL || srv->ok == NULL)
        return err_set(e, ERR_NOMEM, "cannot build the API answers: out "
                       "of memory");
    return 0;
}

void
api_answers_release(struct api_server *srv)
{
    struct blob **all[] = {
        &srv->root, &srv->buildinfo, &srv->config, &srv->ssh,
        &srv->experiments, &srv->available, &srv->update_off,
        &srv->not_found, &srv->forbidden, &srv->healthz, &srv->ok,
    };
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        blob_unref(*all[i]);
        *all[i] = NULL;
    }
}

/* --- handlers ------------------------------------------------------------ */

static void
reply_static(struct api_request *rq, struct blob *b)
{
    api_reply_blob(rq, 200, API_JSON, b);
}

static void
h_root(struct api_request *rq)
{
    reply_static(rq, rq->srv->root);
}

static void
h_buildinfo(struct api_request *rq)
{
    reply_static(rq, rq->srv->buildinfo);
}

static void
h_healthz(struct api_request *rq)
{
    api_reply_blob(rq, 200, API_TEXT, rq->srv->healthz);
}

static bool
may_read_deployment(struct api_request *rq)
{
    if (auth_can_read_deployment(rq->auth.user.roles))
        return true;
    api_reply_blob(rq, 403, API_JSON, rq->srv->forbidden);
    return false;
}

static void
h_config(struct api_request *rq)
{
    if (may_read_deployment(rq))
        reply_static(rq, rq->srv->config);
}

static void
h_stats(struct api_request *rq)
{
    struct blob *b;

    if (!may_read_deployment(rq))
        return;
    b = blob_slot_get(&rq->srv->stats);
    if (b == NULL) {
        api_reply_message(rq, 400, "Deployment stats are still "
                          "processing!", NULL);
        return;
    }
    reply_static(rq, b);
    blob_unref(b);
}

static void
h_ssh(struct api_request *rq)
{
    reply_static(rq, rq->srv->ssh);
}

static void
h_experiments(struct api_request *rq)
{
    reply_static(rq, rq->srv->experiments);
}

static void
h_available(struct api_request *rq)
{
    reply_static(rq, rq->srv->available);
}

static void
h_updatecheck(struct api_request *rq)
{
    struct blob *b = blob_slot_get(&rq->srv->update);

    /* Before any result, or with the check off: the "disabled" answer. */
    reply_static(rq, b != NULL ? b : rq->srv->update_off);
    blob_unref(b);
}

static void
h_tokenconfig(struct api_request *rq)
{
    const struct api_server *srv = rq->srv;
    int64_t max = (rq->target.roles & STORE_ROLE_OWNER)
                      ? srv->max_admin_token_ns : srv->max_token_ns;

    api_reply_json(rq, 200, json_pack("{s:I}", "max_token_lifetime",
                                      (json_int_t)max));
}

/* --- CSP reports (api-behavior.md 2.3) ----------------------------------- */

/*
 * Go decodes the body into struct { Report map[string]any
 * `json:"csp-report"` }: a top-level null is fine, another non-object is a
 * type error, and so is a csp-report that is neither an object nor null.
 */
static int
csp_decode(const struct api_request *rq, json_t **report, char *msg,
           size_t size)
{
    size_t end;
    json_t *v;
    const char *key;
    json_t *val;
    int rc;

    *report = NULL;
    rc = gojson_first_value(rq->body.data != NULL ? rq->body.data : "",
                            rq->body.len, &end, msg, size);
    if (rc < 0)
        return rc;
    v = json_loadb(rq->body.data, end, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                   NULL);
    if (v == NULL || json_is_null(v)) {
        json_decref(v);
        return 0;               /* valid for Go; nothing we can keep */
    }
    if (!json_is_object(v)) {
        snprintf(msg, size, "json: cannot unmarshal %s into Go value of "
                 "type coderd.cspViolation", gojson_kind(v));
        json_decref(v);
        return ERR_INVALID;
    }
    json_object_foreach(v, key, val) {
        if (!util_ascii_ieq(key, "csp-report") || json_is_null(val))
            continue;
        if (!json_is_object(val)) {
            snprintf(msg, size, "json: cannot unmarshal %s into Go struct "
                     "field cspViolation.csp-report of type "
                     "map[string]interface {}", gojson_kind(val));
            json_decref(*report);
            json_decref(v);
            return ERR_INVALID;
        }
        json_decref(*report);
        *report = json_incref(val);
    }
    json_decref(v);
    return 0;
}

static void
csp_keep(struct api_request *rq, json_t *report)
{
    struct api_server *srv = rq->srv;
    struct buf text;
    struct err e;

    buf_init(&text);
    err_clear(&e);
    if (jsonx_dump(report, &text, false) == 0 &&
        engine_csp_record(srv->en, buf_str(&text), &e) < 0 &&
        api_log_enabled(srv->log, API_LOG_WARN))
        api_log_write(srv->log, API_LOG_WARN, "api",
                      "cannot record csp report", "request_id",
                      rq->request_id, "error", e.msg, (const char *)NULL);
    buf_release(&text);

    if (api_log_enabled(srv->log, API_LOG_DEBUG)) {
        json_t *blocked = json_object_get(report, "blocked-uri");
        json_t *directive = json_object_get(report, "violated-directive");

        api_log_write(srv->log, API_LOG_DEBUG, "api", "csp violation",
                      "request_id", rq->request_id,
                      "blocked_uri", json_string_value(blocked),
                      "violated_directive", json_string_value(directive),
                      (const char *)NULL);
    }
}

static void
h_csp(struct api_request *rq)
{
    char msg[256];
    json_t *report = NULL;

    if (rq->body_too_large) {
        api_reply_message(rq, 413, "Request body too large.",
                          "Maximum CSP report size is 65536 bytes.");
        return;
    }
    if (csp_decode(rq, &report, msg, sizeof(msg)) < 0) {
        if (api_log_enabled(rq->srv->log, API_LOG_WARN))
            api_log_write(rq->srv->log, API_LOG_WARN, "api",
                          "csp report: invalid json", "request_id",
                          rq->request_id, "error", msg, (const char *)NULL);
        api_reply_message(rq, 400, "Failed to read body, invalid json.",
                          msg);
        return;
    }
    if (report != NULL)
        csp_keep(rq, report);
    json_decref(report);
    reply_static(rq, rq->srv->ok);
}

/* --- routes -------------------------------------------------------------- */

#define HANDLER(name) \
    static const struct api_handler name##_handler = { name }

HANDLER(h_root);
HANDLER(h_buildinfo);
HANDLER(h_healthz);
HANDLER(h_config);
HANDLER(h_stats);
HANDLER(h_ssh);
HANDLER(h_experiments);
HANDLER(h_available);
HANDLER(h_updatecheck);
HANDLER(h_tokenconfig);
HANDLER(h_csp);

static const struct router_route deployment_routes[] = {
    { ROUTER_GET, "/config", &h_config_handler },
    { ROUTER_GET, "/stats", &h_stats_handler },
    { ROUTER_GET, "/ssh", &h_ssh_handler },
};

static const struct router_route experiment_routes[] = {
    { ROUTER_GET, "", &h_experiments_handler },
    { ROUTER_GET, "/", &h_experiments_handler },
    { ROUTER_GET, "/available", &h_available_handler },
};

static const struct router_route user_routes[] = {
    { ROUTER_GET, "/keys/tokens/tokenconfig", &h_tokenconfig_handler },
};

static const struct router_route api_routes_v2[] = {
    { ROUTER_GET, "", &h_root_handler },
    { ROUTER_GET, "/", &h_root_handler },
    { ROUTER_GET, "/buildinfo", &h_buildinfo_handler },
    { ROUTER_POST, "/csp/reports", &h_csp_handler },
    { ROUTER_GET, "/updatecheck", &h_updatecheck_handler },
};

static const struct router_route site_routes[] = {
    { ROUTER_GET, "/healthz", &h_healthz_handler },
};

#define ROUTES(a) a, sizeof(a) / sizeof(a[0])

static const struct router_group groups[] = {
    { "/api/v2/deployment", ROUTER_LIMITED | ROUTER_AUTH,
      ROUTES(deployment_routes) },
    { "/api/v2/experiments", ROUTER_LIMITED | ROUTER_AUTH,
      ROUTES(experiment_routes) },
    { "/api/v2/users/{user}",
      ROUTER_LIMITED | ROUTER_AUTH | ROUTER_USER_PARAM,
      ROUTES(user_routes) },
    { "/api/v2/users", ROUTER_LIMITED | ROUTER_AUTH, NULL, 0 },
    { "/api/v2", ROUTER_LIMITED, ROUTES(api_routes_v2) },
    { "", 0, ROUTES(site_routes) },
};

const struct router_group *
api_routes(size_t *n)
{
    *n = sizeof(groups) / sizeof(groups[0]);
    return groups;
}
