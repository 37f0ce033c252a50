/*
 * postgres_cluster.c: what replicas of one PostgreSQL database share
 * beyond rows: named advisory locks and LISTEN/NOTIFY events.
 *
 * Locks are session advisory locks, so they live exactly as long as the
 * session that took them.  That session is a connection of its own (a
 * pooled connection goes back to the pool and could be closed at any
 * time).  If it drops, every lock it held is gone; the next lock_try
 * notices, forgets them and asks again, so a leader learns it lost its
 * lead at its next renewal.
 *
 * Events arrive on another dedicated connection, read by one thread.  The
 * NOTIFYs come from triggers in the schema (see postgres_schema.c), so a
 * key deleted by any means reaches every replica, and only once the
 * deletion commits.  Notifications sent while the listener was
 * disconnected are lost, so after a reconnect subscribers get
 * STORE_EVENT_RECONNECTED and should drop everything they cached.
 */
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/postgres_int.h"
#include "core/util.h"
#include "core/banned.h"

#define LISTEN_SQL "LISTEN " PG_CHANNEL
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000

struct pg_sub {
    store_event_fn fn;
    void *ctx;
};

struct pg_listener {
    struct store *s;
    pthread_t thread;
    pthread_mutex_t mu;             /* guards subs and nsubs */
    struct pg_sub subs[PG_SUBS_MAX];
    size_t nsubs;
    int wake[2];                    /* a byte on wake[1] stops the thread */
    PGconn *conn;                   /* owned by the thread once started */
};

/* ---- advisory locks ---- */

static int
lock_query(struct store *s, const char *sql, const char *name, bool *yes,
           struct err *e)
{
    const char *params[2];
    char cls[16];
    PGresult *res;
    const char *v;
    int rc = 0;

    snprintf(cls, sizeof(cls), "%d", PG_LOCK_CLASS);
    params[0] = cls;
    params[1] = name;
    res = PQexecParams(s->lock_pg, sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pg_result_error(s->lock_pg, res, "cluster lock", e);
        goto out;
    }
    v = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
    if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0) {
        rc = err_set(e, ERR_CORRUPT, "cluster lock \"%s\": unexpected "
                     "answer from postgres", name);
        goto out;
    }
    *yes = v[0] == 't';
out:
    PQclear(res);
    return rc;
}

/* Drops the lock session (and with it every lock). */
static void
lock_session_drop(struct store *s)
{
    if (s->lock_pg != NULL)
        PQfinish(s->lock_pg);
    s->lock_pg = NULL;
    s->nheld = 0;
}

/* A live lock session: checked with a round trip, reconnected if dead. */
static int
lock_session(struct store *s, struct err *e)
{
    PGresult *res;
    bool ok;

    if (s->lock_pg != NULL) {
        res = PQexec(s->lock_pg, "SELECT 1");
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (ok)
            return 0;
        lock_session_drop(s);
    }
    return pg_connect(s, &s->lock_pg, e);
}

static int
held_index(const struct store *s, const char *name)
{
    for (size_t i = 0; i < s->nheld; i++)
        if (strcmp(s->held[i], name) == 0)
            return (int)i;
    return -1;
}

static int
lock_try_locked(struct store *s, const char *name, bool *got,
                struct err *e)
{
    int rc;

    rc = lock_session(s, e);
    if (rc != 0)
        return rc;
    if (held_index(s, name) >= 0) {
        *got = true;
        return 0;
    }
    if (s->nheld == PG_LOCKS_MAX)
        return err_set(e, ERR_FULL, "cluster lock \"%s\": %d locks held "
                       "already", name, PG_LOCKS_MAX);
    rc = lock_query(s, "SELECT pg_try_advisory_lock($1::int, "
                    "hashtext($2))", name, got, e);
    if (rc == ERR_UNAVAILABLE)
        lock_session_drop(s);
    if (rc == 0 && *got)
        memcpy(s->held[s->nheld++], name, strlen(name) + 1);
    return rc;
}

int
pg_lock_try(struct store *s, const char *name, bool *got, struct err *e)
{
    int rc;

    *got = false;
    if (name == NULL || name[0] == '\0' || strlen(name) > PG_LOCK_NAME_MAX)
        return err_set(e, ERR_INVALID, "invalid cluster lock name");
    pthread_mutex_lock(&s->lock_mu);
    rc = lock_try_locked(s, name, got, e);
    pthread_mutex_unlock(&s->lock_mu);
    return rc;
}

int
pg_unlock(struct store *s, const char *name, struct err *e)
{
    bool released = false;
    int i;
    int rc = 0;

    if (name == NULL)
        return err_set(e, ERR_INVALID, "invalid cluster lock name");
    pthread_mutex_lock(&s->lock_mu);
    i = held_index(s, name);
    if (i < 0) {
        rc = err_set(e, ERR_NOT_FOUND, "cluster lock \"%s\" is not held",
                     name);
        goto out;
    }
    s->nheld--;
    memmove(s->held[i], s->held[s->nheld], sizeof(s->held[0]));

    /* A lost session already released the lock on the server. */
    if (lock_query(s, "SELECT pg_advisory_unlock($1::int, hashtext($2))",
                   name, &released, NULL) != 0)
        lock_session_drop(s);
out:
    pthread_mutex_unlock(&s->lock_mu);
    return rc;
}

/* ---- events ---- */

static bool
subject_ok(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > STORE_UUID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static void
deliver(struct pg_listener *l, enum store_event ev, const char *subject)
{
    struct pg_sub subs[PG_SUBS_MAX];
    size_t n;

    pthread_mutex_lock(&l->mu);
    n = l->nsubs;
    memcpy(subs, l->subs, n * sizeof(subs[0]));
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n; i++)
        subs[i].fn(ev, subject, subs[i].ctx);
}

/* A payload is "kd:ID", "kc:ID" or "sn:REPLICA"; anything else is ignored. */
static void
dispatch(struct pg_listener *l, const PGnotify *n)
{
    const char *p = n->extra;
    enum store_event ev;

    if (strcmp(n->relname, PG_CHANNEL) != 0 || p == NULL ||
        strlen(p) < 4 || p[2] != ':' || !subject_ok(p + 3))
        return;
    if (strncmp(p, "kd", 2) == 0)
        ev = STORE_EVENT_KEY_DELETED;
    else if (strncmp(p, "kc", 2) == 0)
        ev = STORE_EVENT_KEY_CHANGED;
    else if (strncmp(p, "sn", 2) == 0)
        ev = STORE_EVENT_SNAPSHOT;
    else
        return;
    deliver(l, ev, p + 3);
}

static int
listen_connect(struct store *s, PGconn **out, struct err *e)
{
    int rc;

    rc = pg_connect(s, out, e);
    if (rc != 0)
        return rc;
    rc = pg_exec_simple(*out, LISTEN_SQL, e);
    if (rc != 0) {
        PQfinish(*out);
        *out = NULL;
    }
    return rc;
}

/* Waits for the socket (or, with fd < 0, just ms); false when stopped. */
static bool
wait_input(struct pg_listener *l, int fd, int ms)
{
    struct pollfd pfd[2];
    int nfds = 1;

    pfd[0].fd = l->wake[0];
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    if (fd >= 0) {
        pfd[1].fd = fd;
        pfd[1].events = POLLIN;
        pfd[1].revents = 0;
        nfds = 2;
    }
    poll(pfd, (nfds_t)nfds, ms);
    return (pfd[0].revents & POLLIN) == 0;
}

/* Reads what arrived; false when the connection is lost. */
static bool
drain(struct pg_listener *l)
{
    PGnotify *n;

    if (PQconsumeInput(l->conn) == 0 || PQstatus(l->conn) != CONNECTION_OK)
        return false;
    while ((n = PQnotifies(l->conn)) != NULL) {
        dispatch(l, n);
        PQfreemem(n);
    }
    return true;
}

/* Reconnects with backoff; false when stopped meanwhile. */
static bool
relisten(struct pg_listener *l)
{
    int ms = RETRY_MIN_MS;

    while (listen_connect(l->s, &l->conn, NULL) != 0) {
        if (!wait_input(l, -1, ms))
            return false;
        ms = ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ms * 2;
    }
    deliver(l, STORE_EVENT_RECONNECTED, "");
    return true;
}

static void *
listener_main(void *arg)
{
    struct pg_listener *l = arg;

    for (;;) {
        if (l->conn == NULL && !relisten(l))
            break;
        if (!wait_input(l, PQsocket(l->conn), -1))
            break;
        if (!drain(l)) {
            PQfinish(l->conn);
            l->conn = NULL;
        }
    }
    return NULL;
}

static void
listener_free(struct pg_listener *l)
{
    if (l == NULL)
        return;
    if (l->wake[0] >= 0)
        close(l->wake[0]);
    if (l->wake[1] >= 0)
        close(l->wake[1]);
    if (l->conn != NULL)
        PQfinish(l->conn);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Connects and LISTENs before returning, so no later event is missed. */
static int
listener_start(struct store *s, struct err *e)
{
    struct pg_listener *l;
    int rc = ERR_NOMEM;

    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return err_set(e, rc, "subscribe: out of memory");
    l->s = s;
    l->wake[0] = l->wake[1] = -1;
    pthread_mutex_init(&l->mu, NULL);
    if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = err_set(e, ERR_IO, "subscribe: cannot create a pipe");
        goto out;
    }
    rc = listen_connect(s, &l->conn, e);
    if (rc != 0)
        goto out;
    if (pthread_create(&l->thread, NULL, listener_main, l) != 0) {
        rc = err_set(e, ERR_NOMEM, "subscribe: cannot start a thread");
        goto out;
    }
    s->listener = l;
    return 0;
out:
    listener_free(l);
    return rc;
}

int
pg_subscribe(struct store *s, store_event_fn fn, void *ctx, struct err *e)
{
    struct pg_listener *l;
    int rc = 0;

    if (fn == NULL)
        return err_set(e, ERR_INVALID, "subscribe: no callback");
    pthread_mutex_lock(&s->lock_mu);
    if (s->listener == NULL)
        rc = listener_start(s, e);
    l = s->listener;
    pthread_mutex_unlock(&s->lock_mu);
    if (rc != 0)
        return rc;

    pthread_mutex_lock(&l->mu);
    if (l->nsubs == PG_SUBS_MAX) {
        rc = err_set(e, ERR_FULL, "subscribe: %d subscribers already",
                     PG_SUBS_MAX);
    } else {
        l->subs[l->nsubs].fn = fn;
        l->subs[l->nsubs].ctx = ctx;
        l->nsubs++;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void
pg_cluster_close(struct store *s)
{
    struct pg_listener *l = s->listener;
    ssize_t n;

    if (l != NULL) {
        n = write(l->wake[1], "x", 1);
        (void)n;
        pthread_join(l->thread, NULL);
        listener_free(l);
        s->listener = NULL;
    }
    lock_session_drop(s);
}
