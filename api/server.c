/*
 * server.c: putting the API server together and taking it apart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/auth.h"
#include "api/internal.h"
#include "api/log.h"
#include "core/banned.h"

#define RATE_WINDOW_NS (INT64_C(60) * UTIL_NS_PER_SEC)

/* host[:port] and scheme of the access URL (empty when unset). */
static int
read_access_url(struct api_server *srv, struct err *e)
{
    const char *url = opt_set_str(srv->set, "Access URL");
    const char *host = strstr(url, "://");
    size_t len;

    srv->access_url = strdup(url);
    if (srv->access_url == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    srv->access_https = strncasecmp(url, "https://", 8) == 0;
    host = host != NULL ? host + 3 : url;
    len = strcspn(host, "/?#");
    srv->access_host = strndup(host, len);
    return srv->access_host != NULL ? 0 : err_set(e, ERR_NOMEM, "out of "
                                                  "memory");
}

/*
 * The two WWW-Authenticate values of a 401, built once in buffers sized
 * from the access URL so that a long one is never cut.
 */
static int
build_www(struct api_server *srv, struct err *e)
{
    struct auth_refusal ref;
    size_t size = strlen(srv->access_url) + 192;

    memset(&ref, 0, sizeof(ref));
    srv->www_invalid = malloc(size);
    srv->www_expired = malloc(size);
    if (srv->www_invalid == NULL || srv->www_expired == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    auth_www_authenticate(&ref, srv->access_url, srv->www_invalid, size);
    ref.expired = true;
    auth_www_authenticate(&ref, srv->access_url, srv->www_expired, size);
    return 0;
}

/* Strict-Transport-Security, as Coder writes it from its two options. */
static int
read_hsts(struct api_server *srv, struct err *e)
{
    int64_t age = opt_set_int(srv->set, "Strict-Transport-Security");
    const struct opt_value *opts =
        opt_set_get(srv->set, "Strict-Transport-Security Options");
    struct buf b;
    size_t i;
    int rc = 0;

    if (age <= 0)
        return 0;
    buf_init(&b);
    rc = buf_addf(&b, "max-age=%lld", (long long)age);
    for (i = 0; rc == 0 && i < opts->n; i++) {
        if (strcasecmp(opts->list[i], "includeSubDomains") == 0)
            rc = buf_adds(&b, "; includeSubDomains");
        else if (strcasecmp(opts->list[i], "preload") == 0)
            rc = buf_adds(&b, "; preload");
        else
            rc = err_set(e, ERR_INVALID, "invalid strict-transport-security "
                         "option \"%s\": want includeSubDomains or preload",
                         opts->list[i]);
    }
    if (rc == 0)
        srv->hsts = buf_take(&b, NULL);
    buf_release(&b);
    return rc;
}

static int
read_proxies(struct api_server *srv, struct err *e)
{
    const struct opt_value *hdrs =
        opt_set_get(srv->set, "Proxy Trusted Headers");
    const struct opt_value *origins =
        opt_set_get(srv->set, "Proxy Trusted Origins");
    size_t i;

    srv->trusted_headers = hdrs->list;
    srv->ntrusted_headers = hdrs->n;
    if (origins->n == 0)
        return 0;
    srv->origins = calloc(origins->n, sizeof(*srv->origins));
    if (srv->origins == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; i < origins->n; i++) {
        int rc = netaddr_cidr_parse(origins->list[i], &srv->origins[i], e);

        if (rc < 0)
            return err_prefix(e, "--proxy-trusted-origins");
    }
    srv->norigins = origins->n;
    return 0;
}

static int
read_settings(struct api_server *srv, struct err *e)
{
    const struct opt_set *set = srv->set;
    int rc;

    srv->rate_limit = opt_set_bool(set, "Disable All Rate Limits")
                          ? -1 : opt_set_int(set, "API Rate Limit");
    if (srv->rate_limit > 0) {
        srv->rl = ratelimit_new(srv->rate_limit, RATE_WINDOW_NS, 0);
        if (srv->rl == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    srv->allow_cors = opt_set_bool(set, "DANGEROUS: Allow all CORS requests");
    srv->redirect = opt_set_bool(set, "Redirect to Access URL");
    srv->disable_expiry_refresh =
        opt_set_bool(set, "Disable Session Expiry Refresh");
    srv->max_token_ns = opt_set_int(set, "Max Token Lifetime");
    srv->max_admin_token_ns = opt_set_int(set, "Maximum Admin Token Lifetime");

    rc = read_access_url(srv, e);
    if (rc == 0 && srv->redirect && srv->access_url[0] == '\0')
        rc = err_set(e, ERR_INVALID,
                     "--redirect-to-access-url needs --access-url");
    if (rc == 0)
        rc = build_www(srv, e);
    if (rc == 0)
        rc = read_hsts(srv, e);
    if (rc == 0)
        rc = read_proxies(srv, e);
    return rc;
}

static int
start(struct api_server *srv, const struct api_server_options *o,
      struct err *e)
{
    int rc = read_settings(srv, e);

    if (rc == 0)
        rc = api_answers_build(srv, e);
    if (rc == 0)
        rc = api_stats_start(srv, o->replica, e);
    if (rc == 0)
        rc = api_http_open(srv, o->threads, e);

    /* Nothing goes out to the network before the listeners are open. */
    if (rc == 0 && opt_set_bool(srv->set, "Update Check"))
        rc = updatecheck_start(srv, o->update_check_url, e);
    return rc;
}

int
api_server_open(struct api_server **out, const struct api_server_options *o,
                struct err *e)
{
    struct api_server *srv = calloc(1, sizeof(*srv));
    int rc;

    *out = NULL;
    if (srv == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    srv->set = o->set;
    srv->en = o->engine;
    srv->log = o->log;
    atomic_init(&srv->inflight, 0);
    blob_slot_init(&srv->stats);
    blob_slot_init(&srv->update);

    rc = start(srv, o, e);
    if (rc < 0) {
        api_server_close(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

void
api_server_close(struct api_server *srv)
{
    if (srv == NULL)
        return;
    api_http_close(srv);
    updatecheck_stop(srv);
    api_stats_stop(srv);
    api_answers_release(srv);
    blob_slot_release(&srv->stats);
    blob_slot_release(&srv->update);
    ratelimit_free(srv->rl);
    free(srv->access_url);
    free(srv->access_host);
    free(srv->www_invalid);
    free(srv->www_expired);
    free(srv->hsts);
    free(srv->origins);
    free(srv);
}
