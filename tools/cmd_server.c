/*
 * cmd_server.c: `coder-cfg server`.
 *
 * Resolves the options exactly as Coder's server does, applies Coder's
 * start-up adjustments and checks (api-behavior.md 1.12,
 * options-semantics.md 7), opens the store, records this replica, and
 * serves until SIGINT or SIGTERM.  Exit status: 0 after a clean stop or
 * --help / --write-config, 2 for bad input, 1 for anything that failed
 * at run time (port in use, certificate unreadable, store cannot open).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/log.h"
#include "api/server.h"
#include "api/values.h"
#include "core/deployment.h"
#include "core/engine.h"
#include "core/opt.h"
#include "core/snapshot.h"
#include "core/util.h"
#include "tools/cmd.h"
#include "tools/sigwatch.h"
#include "core/banned.h"

#define PATH_MAX_LEN 4096

/* server's own flags; none of them is one of Coder's 216 options. */
static const struct opt_desc server_options[] = {
    {
        .name = "Global Config",
        .description = "Path to the global coder config directory (the "
                       "LMDB store lives here).",
        .flag = "global-config",
        .env = "CODER_CONFIG_DIR",
        .type = OPT_STRING,
    },
    {
        .name = "Update Check URL",
        .description = "Where the update check reads the latest release "
                       "(a GitHub \"latest release\" JSON document).",
        .flag = "update-check-url",
        .env = "CODER_CFG_UPDATE_CHECK_URL",
        .def = API_UPDATE_CHECK_URL,
        .type = OPT_STRING,
    },
    {
        .name = "Postgres Connect Timeout",
        .description = "How long start-up keeps retrying PostgreSQL "
                       "before it gives up.",
        .flag = "postgres-connect-timeout",
        .env = "CODER_CFG_POSTGRES_CONNECT_TIMEOUT",
        .def = "30s",
        .type = OPT_DURATION,
    },
    {
        .name = "Server Help",
        .description = "Show this help.",
        .flag = "help",
        .shorthand = "h",
        .type = OPT_BOOL,
    },
};

static const char usage[] = "usage: coder-cfg server [flags]\n";

#define NLOCAL (sizeof(server_options) / sizeof(server_options[0]))

/* Everything the command holds, released in one place. */
struct server {
    struct opt_set *set;
    struct api_log *log;
    struct engine *en;
    struct api_server *api;
    struct sigwatch *sig;
    struct store_replica replica;
    bool recorded;              /* replica is in the store */
    struct opt_diag warnings;   /* kept until the log can take them */
};

static int
fail(int status, const char *msg)
{
    fprintf(stderr, "coder-cfg: %s\n", msg);
    return status;
}

/*
 * Warnings wait in s->warnings until the log is open, so that they come
 * out in the log's form (and as JSON with --log-json).  When start-up
 * stops before that, they go to stderr as plain lines.
 */
static void
flush_warnings(struct server *s)
{
    size_t i;

    for (i = 0; i < s->warnings.nwarnings; i++) {
        const char *line = s->warnings.warnings[i];

        if (s->log == NULL)
            fprintf(stderr, "coder-cfg: warning: %s\n", line);
        else if (api_log_enabled(s->log, API_LOG_WARN))
            api_log_write(s->log, API_LOG_WARN, "config", line,
                          (const char *)NULL);
    }
    opt_diag_release(&s->warnings);
}

/* Keeps d's warnings for later; prints its errors, warnings first. */
static void
take_diag(struct server *s, struct opt_diag *d)
{
    size_t i;

    for (i = 0; i < d->nwarnings; i++)
        opt_diag_add(&s->warnings, true, "%s", d->warnings[i]);
    if (d->nerrors > 0)
        flush_warnings(s);
    for (i = 0; i < d->nerrors; i++)
        fprintf(stderr, "coder-cfg: %s\n", d->errors[i]);
    opt_diag_release(d);
}

/* Parses flags and env; 0, or the exit status to return. */
static int
resolve(struct server *s, int argc, char **argv, char **envp)
{
    struct opt_diag diag;
    size_t nargs;
    char *const *args;
    int rc;

    s->set = deployment_set_new(envp);
    if (s->set == NULL ||
        opt_set_add_local(s->set, server_options, NLOCAL) < 0)
        return fail(1, "out of memory");
    opt_diag_init(&diag);
    rc = opt_set_resolve(s->set, argc, argv, envp, &diag);
    take_diag(s, &diag);
    if (rc == ERR_NOMEM)
        return fail(1, "out of memory");
    if (rc < 0)
        return 2;
    args = opt_set_args(s->set, &nargs);
    if (nargs > 0) {
        fprintf(stderr, "coder-cfg: server takes no arguments, got \"%s\"\n",
                args[0]);
        return 2;
    }
    return 0;
}

/* --help and --write-config print and stop; returns -1 to go on. */
static int
print_and_stop(const struct server *s)
{
    struct buf out;
    int rc;

    if (!opt_set_bool(s->set, "Server Help") &&
        !opt_set_bool(s->set, "Write Config"))
        return -1;
    buf_init(&out);
    if (opt_set_bool(s->set, "Server Help"))
        rc = opt_set_write_help(s->set, usage, &out);
    else
        rc = opt_set_write_yaml(s->set, &out);
    if (rc == 0)
        fwrite(out.data, 1, out.len, stdout);
    buf_release(&out);
    return rc == 0 ? 0 : fail(1, "cannot write the output");
}

/*
 * Coder's in-place adjustments after parsing: external auth providers from
 * CODER_EXTERNAL_AUTH_<n>_* and the start-up rules (deprecated --address
 * and redirect flags, --dangerous-disable-rate-limits, ...).  They run
 * after --write-config, as in Coder, so that providers given by env, and
 * their client secrets, are never written into a config file.
 */
static int
adjust(struct server *s, char **envp)
{
    struct opt_diag diag;
    int rc;

    opt_diag_init(&diag);
    rc = deployment_read_external_auth(s->set, envp, &diag);
    if (rc == 0)
        rc = deployment_apply_server_rules(s->set, envp, &diag);
    take_diag(s, &diag);
    return rc;
}

/* Where the SSH option list came from, in the operator's spelling. */
static const char *
origin_of(const struct opt_set *set, const char *name)
{
    const char *o = opt_set_origin(set, opt_set_find(set, name));

    return o != NULL && o[0] != '\0' ? o : "--ssh-config-options";
}

static int
check_ssh(const struct opt_set *set, struct err *e)
{
    const struct opt_value *v = opt_set_get(set, "SSH Config Options");
    size_t i;

    for (i = 0; i < v->n; i++) {
        const char *value;
        size_t klen;

        if (!values_ssh_split(v->list[i], &klen, &value))
            return err_set(e, ERR_INVALID, "invalid config-ssh option "
                           "\"%s\" in %s: want \"key value\" or "
                           "\"key=value\"", v->list[i],
                           origin_of(set, "SSH Config Options"));
    }
    return 0;
}

static bool
one_of(const char *v, const char *const *words)
{
    for (; *words != NULL; words++) {
        if (strcmp(v, *words) == 0)
            return true;
    }
    return false;
}

/*
 * The TLS settings beyond the files.  Client certificates are not asked
 * for: any --tls-client-auth but "none" is refused rather than ignored.
 */
static int
check_tls(const struct opt_set *set, struct err *e)
{
    static const char *const versions[] = { "tls10", "tls11", "tls12",
                                            "tls13", NULL };
    static const char *const modes[] = { "none", "request", "require-any",
                                         "verify-if-given",
                                         "require-and-verify", NULL };
    const char *min = opt_set_str(set, "TLS Minimum Version");
    const char *auth = opt_set_str(set, "TLS Client Auth");

    if (!one_of(min, versions))
        return err_set(e, ERR_INVALID, "invalid --tls-min-version \"%s\": "
                       "want tls10, tls11, tls12 or tls13", min);
    if (!one_of(auth, modes))
        return err_set(e, ERR_INVALID, "invalid --tls-client-auth \"%s\": "
                       "want none, request, require-any, verify-if-given "
                       "or require-and-verify", auth);
    if (strcmp(auth, "none") != 0)
        return err_set(e, ERR_UNSUPPORTED, "--tls-client-auth \"%s\" is "
                       "not supported: client certificates cannot be "
                       "checked; use \"none\"", auth);
    return 0;
}

static int
check_listeners(const struct opt_set *set, struct err *e)
{
    const struct opt_value *tls = opt_set_get(set, "TLS Address");
    const struct opt_value *certs = opt_set_get(set, "TLS Certificate Files");
    const struct opt_value *keys = opt_set_get(set, "TLS Key Files");
    bool http = opt_set_str(set, "HTTP Address")[0] != '\0';

    if (opt_set_bool(set, "TLS Enable")) {
        if (tls->host[0] == '\0' && tls->port[0] == '\0')
            return err_set(e, ERR_INVALID, "TLS address must be set if "
                           "TLS is enabled");
        if (certs->n != keys->n)
            return err_set(e, ERR_INVALID, "--tls-cert-file and "
                           "--tls-key-file must be used the same amount of "
                           "times");
        return check_tls(set, e);
    }
    if (!http)
        return err_set(e, ERR_INVALID, "TLS is disabled. Enable with "
                       "--tls-enable or specify a HTTP address");
    return 0;
}

static int
check_values(const struct opt_set *set, struct err *e)
{
    const char *url = opt_set_str(set, "Access URL");
    int64_t refresh = opt_set_int(set, "Default OAuth Refresh Lifetime");
    int64_t session = opt_set_int(set, "Session Duration");
    char a[40];
    char b[40];
    int rc = check_listeners(set, e);

    if (rc == 0 && url[0] != '\0' && strncmp(url, "http://", 7) != 0 &&
        strncmp(url, "https://", 8) != 0)
        rc = err_set(e, ERR_INVALID, "invalid access URL \"%s\": the "
                     "scheme must be http or https", url);
    if (rc == 0 && refresh <= session) {
        opt_duration_format(refresh, a);
        opt_duration_format(session, b);
        rc = err_set(e, ERR_INVALID, "default-oauth-refresh-lifetime (%s) "
                     "must be greater than session-duration (%s)", a, b);
    }
    if (rc == 0)
        rc = check_ssh(set, e);
    if (rc == 0 && opt_set_int(set, "Postgres Connect Timeout") <= 0)
        rc = err_set(e, ERR_INVALID, "--postgres-connect-timeout must be "
                     "positive");
    if (rc == 0 && strcmp(opt_set_str(set, "Postgres Auth"),
                          "awsiamrds") == 0)
        rc = err_set(e, ERR_UNSUPPORTED, "--postgres-auth awsiamrds is not "
                     "supported: put a password in --postgres-url");
    return rc;
}

static int
open_log(struct server *s, struct err *e)
{
    const struct opt_value *filters = opt_set_get(s->set, "Log Filter");
    struct api_log_options o;

    memset(&o, 0, sizeof(o));
    o.human = opt_set_str(s->set, "Human Log Location");
    o.json = opt_set_str(s->set, "JSON Log Location");
    o.verbose = opt_set_bool(s->set, "Verbose");
    o.filters = filters->list;
    o.nfilters = filters->n;
    return api_log_open(&s->log, &o, e);
}

static void
log_experiments(const struct server *s)
{
    static const char *const known[] = {
        "example", "auto-fill-parameters", "notifications",
        "workspace-usage", "web-push", "oauth2", "mcp-server-http",
        "workspace-sharing", "terraform-directory-reuse",
    };
    const struct opt_value *v = opt_set_get(s->set, "Experiments");
    size_t i;
    size_t k;

    for (i = 0; i < v->n; i++) {
        bool found = false;

        if (strcmp(v->list[i], "*") == 0)
            continue;
        for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            found = found || util_ascii_ieq(v->list[i], known[k]);
        api_log_write(s->log, API_LOG_WARN, "server",
                      found ? "experiment enabled: here be dragons"
                            : "ignoring unknown experiment",
                      "experiment", v->list[i], (const char *)NULL);
    }
}

static int
open_engine(struct server *s, char **envp, struct err *e)
{
    struct engine_options o;
    char dir[PATH_MAX_LEN];
    const char *cfg = opt_set_str(s->set, "Global Config");

    memset(&o, 0, sizeof(o));
    if (cfg[0] != '\0')
        snprintf(dir, sizeof(dir), "%s", cfg);
    else if (!values_default_config_dir(envp, dir, sizeof(dir)))
        return err_set(e, ERR_INVALID, "no config directory: set "
                       "--global-config, CODER_CONFIG_DIR or HOME");
    o.config_dir = dir;
    o.pg_url = opt_set_str(s->set, "Postgres Connection URL");
    o.connect_timeout_ns = opt_set_int(s->set, "Postgres Connect Timeout");
    return engine_open(&s->en, &o, e);
}

/* This replica's heartbeat and its config snapshot. */
static int
record_replica(struct server *s, struct err *e)
{
    struct store_replica *r = &s->replica;
    int rc;

    util_uuid_new(r->id);
    if (gethostname(r->hostname, sizeof(r->hostname) - 1) != 0)
        snprintf(r->hostname, sizeof(r->hostname), "unknown");
    snprintf(r->version, sizeof(r->version), "%s", deployment_version());
    r->started_at = util_now_ns();
    r->heartbeat_at = r->started_at;
    rc = engine_replica_heartbeat(s->en, r, e);
    if (rc < 0)
        return rc;
    return snapshot_record(s->en, s->set, r, e);
}

static int
start_api(struct server *s, struct err *e)
{
    struct api_server_options o;

    memset(&o, 0, sizeof(o));
    o.set = s->set;
    o.engine = s->en;
    o.log = s->log;
    o.update_check_url = opt_set_str(s->set, "Update Check URL");
    o.replica = &s->replica;
    return api_server_open(&s->api, &o, e);
}

static void
log_listening(const struct server *s)
{
    const struct opt_value *tls = opt_set_get(s->set, "TLS Address");
    const char *http = opt_set_str(s->set, "HTTP Address");

    if (!api_log_enabled(s->log, API_LOG_INFO))
        return;
    if (http[0] != '\0')
        api_log_write(s->log, API_LOG_INFO, "server", "started HTTP "
                      "listener", "address", http, (const char *)NULL);
    if (opt_set_bool(s->set, "TLS Enable"))
        api_log_write(s->log, API_LOG_INFO, "server", "started TLS "
                      "listener", "host", tls->host, "port", tls->port,
                      (const char *)NULL);
}

/* This replica as gone, once its heartbeat has stopped for good. */
static void
record_gone(struct server *s)
{
    struct err e;

    if (!s->recorded)
        return;
    err_clear(&e);
    if (engine_replica_leave(s->en, &s->replica, &e) < 0 &&
        api_log_enabled(s->log, API_LOG_WARN))
        api_log_write(s->log, API_LOG_WARN, "server", "cannot record this "
                      "replica as gone", "error", e.msg, (const char *)NULL);
}

/* Exit status for a failed step: bad input 2, anything else 1. */
static int
status_of(int rc)
{
    return rc == ERR_INVALID ? 2 : 1;
}

/* Starts the signal thread; it reports a long wait for PostgreSQL. */
static int
watch_signals(struct server *s, struct err *e)
{
    const char *url = opt_set_str(s->set, "Postgres Connection URL");
    struct sigwatch_options o;
    char address[300];
    char timeout[40];

    memset(&o, 0, sizeof(o));
    o.log = s->log;
    if (url[0] != '\0' && engine_pg_address(url, address, sizeof(address))) {
        opt_duration_format(opt_set_int(s->set, "Postgres Connect Timeout"),
                            timeout);
        o.address = address;
        o.timeout = timeout;
    }
    return sigwatch_start(&s->sig, &o, e);
}

/* Checks the options and opens the log; 0 or the exit status. */
static int
prepare(struct server *s, char **envp)
{
    struct err e;
    int rc;

    err_clear(&e);
    rc = adjust(s, envp);
    if (rc < 0)
        return rc == ERR_NOMEM ? fail(1, "out of memory") : 2;
    rc = check_values(s->set, &e);
    if (rc == 0)
        rc = open_log(s, &e);
    if (rc < 0) {
        flush_warnings(s);
        return fail(rc == ERR_UNSUPPORTED ? 1 : 2, e.msg);
    }
    flush_warnings(s);
    log_experiments(s);
    return 0;
}

/* Opens the store, records this replica and starts serving. */
static int
start(struct server *s, char **envp, struct err *e)
{
    int rc = watch_signals(s, e);

    if (rc == 0)
        rc = open_engine(s, envp, e);
    if (rc < 0)
        return rc;
    sigwatch_opened(s->sig);
    rc = record_replica(s, e);
    s->recorded = rc == 0;
    if (rc == 0)
        rc = start_api(s, e);
    return rc;
}

static int
serve(struct server *s, char **envp)
{
    struct err e;
    int status;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    status = prepare(s, envp);
    if (status != 0)
        return status;
    err_clear(&e);
    rc = start(s, envp, &e);
    if (rc < 0) {
        record_gone(s);
        return fail(status_of(rc), e.msg);
    }
    log_listening(s);

    sigwatch_wait(s->sig);
    api_log_write(s->log, API_LOG_INFO, "server", "shutting down",
                  (const char *)NULL);
    api_server_close(s->api);
    s->api = NULL;
    record_gone(s);
    return 0;
}

int
cmd_server(int argc, char **argv, char **envp)
{
    struct server s;
    int status;

    memset(&s, 0, sizeof(s));
    opt_diag_init(&s.warnings);
    status = resolve(&s, argc, argv, envp);
    if (status == 0) {
        status = print_and_stop(&s);
        if (status < 0)
            status = serve(&s, envp);
    }
    flush_warnings(&s);
    sigwatch_stop(s.sig);
    api_server_close(s.api);
    engine_close(s.en);
    api_log_close(s.log);
    opt_set_free(s.set);
    return status;
}
