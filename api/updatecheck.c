/*
 * updatecheck.c: the update-check thread (api-behavior.md 2.9).
 *
 * Requests never wait for the feed: they answer from srv->update, which
 * holds the last known result (loaded from the store at start, then
 * refreshed here) or nothing, and then the handler gives the "disabled"
 * answer.  In a cluster one replica at a time fetches, under the store's
 * "updatecheck" lock; the others read the stored result.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/curl_lazy.h"
#include "api/internal.h"
#include "api/log.h"
#include "api/sleeper.h"
#include "api/semver.h"
#include "core/deployment.h"
#include "core/jsonx.h"
#include "core/banned.h"

/*
 * libcurl is loaded when the update check starts (api/curl_lazy.h); these
 * names call through its table.  curl.h wraps setopt and getinfo in
 * macros of its own (argument checks) that name the linked functions, so
 * those go first.
 */
#undef curl_easy_getinfo
#undef curl_easy_setopt
#define curl_easy_cleanup (curl_fn.easy_cleanup)
#define curl_easy_getinfo (curl_fn.easy_getinfo)
#define curl_easy_init (curl_fn.easy_init)
#define curl_easy_perform (curl_fn.easy_perform)
#define curl_easy_setopt (curl_fn.easy_setopt)
#define curl_easy_strerror (curl_fn.easy_strerror)
#define curl_global_cleanup (curl_fn.global_cleanup)
#define curl_global_init (curl_fn.global_init)
#define curl_slist_append (curl_fn.slist_append)
#define curl_slist_free_all (curl_fn.slist_free_all)

#define DAY_NS (INT64_C(24) * 3600 * UTIL_NS_PER_SEC)
#define RETRY_NS (INT64_C(3600) * UTIL_NS_PER_SEC)
#define FEED_MAX (1 << 20)
#define LOCK_NAME "updatecheck"

struct updatecheck {
    struct api_server *srv;
    char *url;
    pthread_t thread;
    struct sleeper sleep;
};

/* A release as the feed and the store describe it. */
struct release {
    char tag[STORE_VERSION_MAX + 1];
    char url[512];
    int64_t checked;
};

struct blob *
updatecheck_answer(const char *own, const char *tag, const char *url)
{
    json_t *v = json_object();

    json_object_set_new(v, "current",
                        json_boolean(semver_is_current(own, tag)));
    json_object_set_new(v, "version", jsonx_string(tag));
    json_object_set_new(v, "url", jsonx_string(url));
    return blob_from_json(v);
}

static void
publish(struct updatecheck *uc, const struct release *r)
{
    struct blob *b = updatecheck_answer(deployment_version(), r->tag,
                                        r->url);

    if (b != NULL)
        blob_slot_put(&uc->srv->update, b);
}

/* Reads "2025-11-20T10:15:00.123Z" (the fraction is ignored). */
static int64_t
parse_time(const char *s)
{
    struct tm tm;
    int y, mo, d, h, mi, sec;

    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h,
                            &mi, &sec) != 6)
        return 0;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm) * UTIL_NS_PER_SEC;
}

/* Fills r from JSON with the given key names; false when unusable. */
static bool
release_from(const char *text, size_t len, const char *tag_key,
             const char *url_key, struct release *r)
{
    json_t *v = json_loadb(text, len, 0, NULL);
    const char *tag = json_string_value(json_object_get(v, tag_key));
    const char *url = json_string_value(json_object_get(v, url_key));
    bool ok = tag != NULL && tag[0] != '\0' && url != NULL &&
              strlen(tag) < sizeof(r->tag) && strlen(url) < sizeof(r->url);

    if (ok) {
        snprintf(r->tag, sizeof(r->tag), "%s", tag);
        snprintf(r->url, sizeof(r->url), "%s", url);
        r->checked = parse_time(json_string_value(json_object_get(
            v, "checked")));
    }
    json_decref(v);
    return ok;
}

static bool
load_stored(struct updatecheck *uc, struct release *r)
{
    char *text = NULL;
    bool ok;

    if (engine_updatecheck_get(uc->srv->en, &text, NULL) < 0)
        return false;
    ok = release_from(text, strlen(text), "version", "url", r);
    free(text);
    return ok;
}

static int
store_result(struct updatecheck *uc, const struct release *r,
             struct err *e)
{
    char when[40];
    json_t *v;
    struct buf out;
    int rc;

    util_time_rfc3339(r->checked, when);
    v = json_pack("{s:s,s:s,s:s}", "checked", when, "version", r->tag,
                  "url", r->url);
    buf_init(&out);
    rc = v != NULL ? jsonx_dump(v, &out, false) : ERR_NOMEM;
    if (rc == 0)
        rc = engine_updatecheck_put(uc->srv->en, buf_str(&out), e);
    buf_release(&out);
    json_decref(v);
    return rc;
}

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    return buf_add(arg, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
            curl_off_t un)
{
    struct updatecheck *uc = arg;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return sleeper_stopping(&uc->sleep) ? 1 : 0;
}

static int
fetch(struct updatecheck *uc, struct release *r, struct err *e)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char agent[96];
    struct buf body;
    long status = 0;
    CURLcode cc;
    int rc = ERR_IO;

    if (c == NULL)
        return err_set(e, ERR_NOMEM, "cannot start a transfer");
    buf_init_limit(&body, FEED_MAX);
    snprintf(agent, sizeof(agent), "coder-cfg/%s", deployment_version());
    hdrs = curl_slist_append(hdrs, "Accept: application/vnd.github+json");
    curl_easy_setopt(c, CURLOPT_URL, uc->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    /* A feed is http(s); a redirect must not lead to file:// or others. */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, uc);

    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        err_set(e, ERR_IO, "fetch \"%s\": %s", uc->url,
                curl_easy_strerror(cc));
    else if (status != 200)
        err_set(e, ERR_IO, "fetch \"%s\": status %ld", uc->url, status);
    else if (!release_from(body.data, body.len, "tag_name", "html_url", r))
        err_set(e, ERR_INVALID, "fetch \"%s\": no tag_name and html_url",
                uc->url);
    else
        rc = 0;
    r->checked = util_now_ns();
    buf_release(&body);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

static void
warn(struct updatecheck *uc, const char *msg, const struct err *e)
{
    if (api_log_enabled(uc->srv->log, API_LOG_WARN))
        api_log_write(uc->srv->log, API_LOG_WARN, "updatecheck", msg,
                      "error", e->msg, (const char *)NULL);
}

/* One round: fetch under the cluster lock, or read what another did. */
static int64_t
check_once(struct updatecheck *uc)
{
    struct store *st = engine_store(uc->srv->en);
    const struct store_ops *ops = store_ops_of(st);
    struct release r;
    struct err e;
    bool got = true;
    int64_t next = RETRY_NS;

    err_clear(&e);
    if (ops->lock_try != NULL && ops->lock_try(st, LOCK_NAME, &got, &e) < 0)
        got = false;
    if (!got) {
        if (load_stored(uc, &r))
            publish(uc, &r);
        return next;
    }
    if (fetch(uc, &r, &e) < 0) {
        warn(uc, "update check failed", &e);
    } else {
        publish(uc, &r);
        if (store_result(uc, &r, &e) < 0)
            warn(uc, "cannot store the update check", &e);
        next = DAY_NS;
    }
    if (ops->unlock != NULL)
        ops->unlock(st, LOCK_NAME, NULL);
    return next;
}

static void *
check_loop(void *arg)
{
    struct updatecheck *uc = arg;
    struct release r;
    int64_t wait = 0;

    /* A result younger than a day is reused, as after a restart. */
    if (load_stored(uc, &r)) {
        int64_t age = util_now_ns() - r.checked;

        publish(uc, &r);
        if (age >= 0 && age < DAY_NS)
            wait = DAY_NS - age;
    }
    while (!sleeper_wait(&uc->sleep, wait))
        wait = check_once(uc);
    return NULL;
}

static void
uc_free(struct updatecheck *uc)
{
    sleeper_release(&uc->sleep);
    free(uc->url);
    free(uc);
}

/*
 * Loads and initialises libcurl for the update-check thread.  Without it
 * the server still runs with the check off (requests get the "disabled"
 * answer) and logs one warning.
 */
static bool
curl_ready(struct api_server *srv)
{
    struct err le;

    err_clear(&le);
    if (curl_lazy_load(&le) == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return true;
    }
    if (api_log_enabled(srv->log, API_LOG_WARN))
        api_log_write(srv->log, API_LOG_WARN, "updatecheck",
                      "update check disabled", "error", le.msg,
                      (const char *)NULL);
    return false;
}

int
updatecheck_start(struct api_server *srv, const char *url, struct err *e)
{
    struct updatecheck *uc;

    if (!curl_ready(srv))
        return 0;
    uc = calloc(1, sizeof(*uc));
    if (uc == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    uc->srv = srv;
    uc->url = strdup(url != NULL && url[0] != '\0' ? url
                                                   : API_UPDATE_CHECK_URL);
    sleeper_init(&uc->sleep);
    if (uc->url == NULL ||
        pthread_create(&uc->thread, NULL, check_loop, uc) != 0) {
        uc_free(uc);
        return err_set(e, ERR_INTERNAL, "cannot start the update check");
    }
    srv->uc = uc;
    return 0;
}

void
updatecheck_stop(struct api_server *srv)
{
    struct updatecheck *uc = srv->uc;

    if (uc == NULL)
        return;
    sleeper_stop(&uc->sleep);
    pthread_join(uc->thread, NULL);
    uc_free(uc);
    srv->uc = NULL;
    curl_global_cleanup();
}
