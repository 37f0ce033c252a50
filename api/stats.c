/*
 * stats.c: the deployment stats answer and the thread that refreshes it.
 *
 * The first answer is computed before the listeners open, so a client
 * never sees "still processing".  The same thread refreshes this
 * replica's heartbeat.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/log.h"
#include "api/sleeper.h"
#include "core/jsonx.h"
#include "core/opt.h"
#include "core/banned.h"

#define HEARTBEAT_NS (INT64_C(30) * UTIL_NS_PER_SEC)
#define DEFAULT_INTERVAL_NS (INT64_C(300) * UTIL_NS_PER_SEC)
/* After a failed refresh, try again this soon (doubling up to interval). */
#define RETRY_NS (INT64_C(1) * UTIL_NS_PER_SEC)

/*
 * Agent stats older than STATS_KEEP_NS are deleted, once at start and
 * then every PRUNE_EVERY_NS.  The statistics read only the last 15
 * minutes; thirty days keep a month of history for whoever reads the
 * store directly, and bound its growth.
 */
#define STATS_KEEP_NS (INT64_C(30) * 24 * 3600 * UTIL_NS_PER_SEC)
#define PRUNE_EVERY_NS (INT64_C(3600) * UTIL_NS_PER_SEC)

struct api_stats {
    struct api_server *srv;
    pthread_t thread;
    struct sleeper sleep;
    int64_t interval;
    struct store_replica replica;
    bool has_replica;
    bool can_prune;             /* false once the store said it cannot */
};

static json_t *
time_json(int64_t t)
{
    char text[40];

    util_time_rfc3339(t, text);
    return json_string(text);
}

static json_t *
stats_json(const struct engine_stats *s)
{
    json_t *latency = json_object();
    json_t *ws = json_object();
    json_t *sessions = json_object();
    json_t *o = json_object();

    json_object_set_new(latency, "p50", jsonx_real(s->latency_p50_ms));
    json_object_set_new(latency, "p95", jsonx_real(s->latency_p95_ms));
    json_object_set_new(ws, "pending", json_integer(s->pending));
    json_object_set_new(ws, "building", json_integer(s->building));
    json_object_set_new(ws, "running", json_integer(s->running));
    json_object_set_new(ws, "failed", json_integer(s->failed));
    json_object_set_new(ws, "stopped", json_integer(s->stopped));
    json_object_set_new(ws, "connection_latency_ms", latency);
    json_object_set_new(ws, "rx_bytes", json_integer(s->rx_bytes));
    json_object_set_new(ws, "tx_bytes", json_integer(s->tx_bytes));
    json_object_set_new(sessions, "vscode", json_integer(s->session_vscode));
    json_object_set_new(sessions, "ssh", json_integer(s->session_ssh));
    json_object_set_new(sessions, "jetbrains",
                        json_integer(s->session_jetbrains));
    json_object_set_new(sessions, "reconnecting_pty",
                        json_integer(s->session_reconnecting_pty));
    json_object_set_new(o, "aggregated_from", time_json(s->aggregated_from));
    json_object_set_new(o, "collected_at", time_json(s->collected_at));
    json_object_set_new(o, "next_update_at", time_json(s->next_update_at));
    json_object_set_new(o, "workspaces", ws);
    json_object_set_new(o, "session_count", sessions);
    return o;
}

/* Computes the stats now and swaps the new answer in. */
static int
refresh(struct api_server *srv, int64_t interval, struct err *e)
{
    struct engine_stats s;
    struct blob *b;
    int rc;

    /* Coder's collected_at is rounded to microseconds. */
    rc = engine_stats_compute(srv->en, util_now_ns() / 1000 * 1000,
                              interval, &s, e);
    if (rc < 0)
        return rc;
    b = blob_from_json(stats_json(&s));
    if (b == NULL)
        return err_set(e, ERR_NOMEM, "cannot build the stats: out of "
                       "memory");
    blob_slot_put(&srv->stats, b);
    return 0;
}

static void
heartbeat(struct api_stats *st)
{
    struct api_server *srv = st->srv;
    struct err e;

    err_clear(&e);
    st->replica.heartbeat_at = util_now_ns();
    if (engine_replica_heartbeat(srv->en, &st->replica, &e) < 0 &&
        api_log_enabled(srv->log, API_LOG_WARN))
        api_log_write(srv->log, API_LOG_WARN, "server",
                      "replica heartbeat failed", "error", e.msg,
                      (const char *)NULL);
}

/* Deletes agent stats past the retention window. */
static void
prune(struct api_stats *st)
{
    struct api_server *srv = st->srv;
    struct err e;
    int rc;

    err_clear(&e);
    rc = engine_stats_prune(srv->en, util_now_ns() - STATS_KEEP_NS, &e);
    if (rc == ERR_UNSUPPORTED)
        st->can_prune = false;
    else if (rc < 0 && api_log_enabled(srv->log, API_LOG_WARN))
        api_log_write(srv->log, API_LOG_WARN, "server",
                      "agent stats prune failed", "error", e.msg,
                      (const char *)NULL);
}

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void *
stats_loop(void *arg)
{
    struct api_stats *st = arg;
    int64_t now = util_mono_ns();
    int64_t next_stats = now + st->interval;
    int64_t next_beat = st->has_replica ? now + HEARTBEAT_NS : INT64_MAX;
    int64_t next_prune = now + PRUNE_EVERY_NS;
    int64_t retry = RETRY_NS;

    prune(st);
    while (!sleeper_wait_until(&st->sleep,
                               min64(min64(next_stats, next_prune),
                                     next_beat))) {
        struct err e;

        now = util_mono_ns();
        if (now >= next_beat) {
            heartbeat(st);
            next_beat = now + HEARTBEAT_NS;
        }
        if (now >= next_prune) {
            if (st->can_prune)
                prune(st);
            next_prune = st->can_prune ? now + PRUNE_EVERY_NS : INT64_MAX;
        }
        if (now < next_stats)
            continue;
        err_clear(&e);
        if (refresh(st->srv, st->interval, &e) == 0) {
            next_stats = now + st->interval;
            retry = RETRY_NS;
            continue;
        }
        if (api_log_enabled(st->srv->log, API_LOG_WARN))
            api_log_write(st->srv->log, API_LOG_WARN, "server",
                          "deployment stats refresh failed", "error", e.msg,
                          (const char *)NULL);
        next_stats = now + retry;
        retry = min64(retry * 2, st->interval);
    }
    return NULL;
}

static int64_t
refresh_interval(const struct opt_set *set)
{
    int64_t ns = opt_set_int(set, "Agent Stat Refresh Interval");

    return ns > 0 ? ns : DEFAULT_INTERVAL_NS;
}

int
api_stats_start(struct api_server *srv, const struct store_replica *replica,
                struct err *e)
{
    struct api_stats *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    st->srv = srv;
    st->interval = refresh_interval(srv->set);
    st->can_prune = true;
    if (replica != NULL) {
        st->replica = *replica;
        st->has_replica = true;
    }
    rc = refresh(srv, st->interval, e);
    if (rc < 0) {
        free(st);
        err_prefix(e, "compute deployment stats");
        return rc;
    }

    sleeper_init(&st->sleep);
    if (pthread_create(&st->thread, NULL, stats_loop, st) != 0) {
        sleeper_release(&st->sleep);
        free(st);
        return err_set(e, ERR_INTERNAL, "cannot start the stats thread");
    }
    srv->stats_thread = st;
    return 0;
}

void
api_stats_stop(struct api_server *srv)
{
    struct api_stats *st = srv->stats_thread;

    if (st == NULL)
        return;
    sleeper_stop(&st->sleep);
    pthread_join(st->thread, NULL);
    sleeper_release(&st->sleep);
    free(st);
    srv->stats_thread = NULL;
}
