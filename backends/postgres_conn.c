/*
 * postgres_conn.c: connections, the pool and statement execution for the
 * PostgreSQL backend.
 *
 * An outage must surface as ERR_UNAVAILABLE quickly rather than as a hang,
 * so every connection carries a connect timeout, TCP keepalives, a TCP
 * user timeout and a statement timeout.  A connection found broken is
 * reconnected on its next checkout, but after a failed attempt nobody
 * tries again until a backoff (growing to PG_BACKOFF_MAX_NS) has passed:
 * while the database is down, calls fail at once instead of each waiting
 * for a connect.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/postgres_int.h"
#include "core/util.h"
#include "core/banned.h"

#define PG_BACKOFF_MIN_NS (INT64_C(50) * 1000 * 1000)
#define PG_BACKOFF_MAX_NS (INT64_C(1000) * 1000 * 1000)

/* How long a caller waits for a free pooled connection. */
#define PG_CHECKOUT_WAIT_S 10

/* Connection defaults, used where the URL does not say otherwise. */
static const char *const conn_defaults[][2] = {
    { "connect_timeout", "3" },
    { "keepalives", "1" },
    { "keepalives_idle", "10" },
    { "keepalives_interval", "3" },
    { "keepalives_count", "3" },
    { "tcp_user_timeout", "15000" },
    { "options", "-c statement_timeout=30000" },
    { "fallback_application_name", "coder-cfg" },
};
#define NDEFAULTS (sizeof(conn_defaults) / sizeof(conn_defaults[0]))

void
pg_sleep_ns(int64_t ns)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ns / UTIL_NS_PER_SEC);
    ts.tv_nsec = (long)(ns % UTIL_NS_PER_SEC);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

void
pg_params_init(struct pg_params *p)
{
    p->n = 0;
}

void
pg_param_text(struct pg_params *p, const char *s)
{
    if (p->n < PG_PARAMS_MAX)
        p->v[p->n++] = s;
}

void
pg_param_i64(struct pg_params *p, int64_t v)
{
    if (p->n >= PG_PARAMS_MAX)
        return;
    snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void
pg_param_f64(struct pg_params *p, double v)
{
    if (p->n >= PG_PARAMS_MAX)
        return;
    snprintf(p->num[p->n], sizeof(p->num[0]), "%.17g", v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void
pg_param_bool(struct pg_params *p, bool v)
{
    pg_param_text(p, v ? "t" : "f");
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           c == '\v' || c == '\f';
}

/* The length of out[0..n) without a UTF-8 sequence cut at its end. */
static size_t
utf8_whole(const char *out, size_t n)
{
    size_t i = n;

    while (i > 0 && ((unsigned char)out[i - 1] & 0xc0) == 0x80)
        i--;
    if (i > 0 && (unsigned char)out[i - 1] >= 0xc0) {
        unsigned char lead = (unsigned char)out[i - 1];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

        if (n - (i - 1) < want)
            return i - 1;
    }
    return n;
}

/*
 * Copies libpq's error text on one line: libpq breaks its messages with
 * newlines and indents hints with tabs, but our messages are one line.
 * Every run of white space becomes one space, none at either end; text
 * past size is cut at a character boundary.
 */
static void
copy_reason(char *out, size_t size, const char *msg)
{
    size_t n = 0;
    bool gap = false;

    for (const char *p = msg != NULL ? msg : ""; *p != '\0'; p++) {
        if (is_space(*p)) {
            gap = n > 0;
            continue;
        }
        if (n + (gap ? 2 : 1) >= size) {
            n = utf8_whole(out, n);
            break;
        }
        if (gap)
            out[n++] = ' ';
        out[n++] = *p;
        gap = false;
    }
    out[n] = '\0';
}

static bool
option_given(const PQconninfoOption *opts, const char *kw)
{
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, kw) == 0 && o->val != NULL)
            return true;
    return false;
}

static int
add_kw(struct store *s, size_t *n, const char *kw, const char *val)
{
    s->kw[*n] = strdup(kw);
    s->val[*n] = strdup(val);
    if (s->kw[*n] == NULL || s->val[*n] == NULL) {
        free((char *)s->kw[*n]);
        free((char *)s->val[*n]);
        s->kw[*n] = NULL;
        s->val[*n] = NULL;
        return ERR_NOMEM;
    }
    (*n)++;
    return 0;
}

static int
fill_conninfo(struct store *s, const PQconninfoOption *opts)
{
    size_t n = 0;
    size_t total = NDEFAULTS + 1;

    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
        total++;
    s->kw = calloc(total, sizeof(*s->kw));
    s->val = calloc(total, sizeof(*s->val));
    if (s->kw == NULL || s->val == NULL)
        return ERR_NOMEM;

    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (o->val != NULL && add_kw(s, &n, o->keyword, o->val) != 0)
            return ERR_NOMEM;
    for (size_t i = 0; i < NDEFAULTS; i++)
        if (!option_given(opts, conn_defaults[i][0]) &&
            add_kw(s, &n, conn_defaults[i][0], conn_defaults[i][1]) != 0)
            return ERR_NOMEM;
    return 0;
}

int
pg_conninfo_build(struct store *s, const char *url, struct err *e)
{
    PQconninfoOption *opts;
    char *msg = NULL;
    bool nomem;
    int rc;

    /*
     * libpq's reason quotes the text it refused, which may be the
     * password, so none of it (and none of the URL) reaches the message.
     */
    opts = PQconninfoParse(url, &msg);
    if (opts == NULL) {
        nomem = msg == NULL;
        PQfreemem(msg);
        if (nomem)
            return err_set(e, ERR_NOMEM, "postgres url: out of memory");
        return err_set(e, ERR_INVALID,
                       "invalid postgres url: cannot be parsed");
    }
    rc = fill_conninfo(s, opts);
    PQconninfoFree(opts);
    if (rc != 0)
        return err_set(e, rc, "postgres url: out of memory");
    return 0;
}

void
pg_conninfo_free(struct store *s)
{
    for (size_t i = 0; s->kw != NULL && s->kw[i] != NULL; i++) {
        free((char *)s->kw[i]);
        free((char *)s->val[i]);
    }
    free(s->kw);
    free(s->val);
    s->kw = NULL;
    s->val = NULL;
}

/*
 * libpq's connection errors name the host, port and user but not the
 * password; should one ever quote it, the whole reason is dropped.
 */
static void
hide_password(const struct store *s, char *reason, size_t size)
{
    for (size_t i = 0; s->kw != NULL && s->kw[i] != NULL; i++) {
        const char *pw = s->val[i];

        if (strcmp(s->kw[i], "password") != 0 || pw == NULL || *pw == '\0')
            continue;
        if (strstr(reason, pw) != NULL)
            snprintf(reason, size, "the server refused the connection");
    }
}

/* Server notices (such as "schema already exists") are not ours to print. */
static void
quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int
pg_connect(struct store *s, PGconn **out, struct err *e)
{
    PGconn *conn;
    char reason[512];

    *out = NULL;
    conn = PQconnectdbParams(s->kw, s->val, 0);
    if (conn == NULL)
        return err_set(e, ERR_NOMEM, "postgres connect: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        copy_reason(reason, sizeof(reason), PQerrorMessage(conn));
        hide_password(s, reason, sizeof(reason));
        PQfinish(conn);
        return err_set(e, ERR_UNAVAILABLE, "cannot connect to postgres: %s",
                       reason);
    }
    PQsetNoticeProcessor(conn, quiet_notice, NULL);
    *out = conn;
    return 0;
}

static int
code_of_sqlstate(const char *st)
{
    if (st == NULL || strlen(st) != 5)
        return ERR_IO;
    if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
        strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0 ||
        strcmp(st, "57014") == 0 || strcmp(st, "53300") == 0)
        return ERR_UNAVAILABLE;
    if (strcmp(st, "23505") == 0)
        return ERR_EXISTS;
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
        strcmp(st, "55P03") == 0)
        return ERR_BUSY;
    if (strcmp(st, "53100") == 0)
        return ERR_FULL;
    if (strcmp(st, "53200") == 0)
        return ERR_NOMEM;
    if (strncmp(st, "22", 2) == 0 || strcmp(st, "25006") == 0)
        return ERR_INVALID;
    return ERR_IO;
}

int
pg_result_error(PGconn *conn, const PGresult *res, const char *what,
                struct err *e)
{
    const char *primary = NULL;
    char reason[512];
    int code;

    if (res != NULL)
        primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    copy_reason(reason, sizeof(reason),
                primary != NULL ? primary : PQerrorMessage(conn));
    if (PQstatus(conn) != CONNECTION_OK || res == NULL)
        code = ERR_UNAVAILABLE;
    else
        code = code_of_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
    if (code == ERR_UNAVAILABLE)
        return err_set(e, code, "%s: postgres unavailable: %s", what,
                       reason[0] != '\0' ? reason : "connection lost");
    return err_set(e, code, "%s: %s", what, reason);
}

int
pg_exec_simple(PGconn *conn, const char *sql, struct err *e)
{
    PGresult *res;
    int rc = 0;

    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = pg_result_error(conn, res, "postgres", e);
    PQclear(res);
    return rc;
}

int
pg_pool_open(struct store *s, size_t size, PGconn *first, struct err *e)
{
    s->pool = calloc(size, sizeof(*s->pool));
    if (s->pool == NULL)
        return err_set(e, ERR_NOMEM, "postgres pool: out of memory");
    s->npool = size;
    s->pool[0].pg = first;
    s->backoff_ns = PG_BACKOFF_MIN_NS;
    return 0;
}

void
pg_pool_close(struct store *s)
{
    for (size_t i = 0; i < s->npool; i++)
        if (s->pool[i].pg != NULL)
            PQfinish(s->pool[i].pg);
    free(s->pool);
    s->pool = NULL;
    s->npool = 0;
}

/* A free slot, preferring one already connected; NULL when all busy. */
static struct pg_conn *
free_slot(struct store *s)
{
    struct pg_conn *spare = NULL;

    for (size_t i = 0; i < s->npool; i++) {
        if (s->pool[i].busy)
            continue;
        if (s->pool[i].pg != NULL)
            return &s->pool[i];
        if (spare == NULL)
            spare = &s->pool[i];
    }
    return spare;
}

static int
take_slot(struct store *s, struct pg_conn **out, struct err *e)
{
    struct timespec until;
    struct pg_conn *c;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PG_CHECKOUT_WAIT_S;
    pthread_mutex_lock(&s->mu);
    while ((c = free_slot(s)) == NULL && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &until);
    if (c != NULL)
        c->busy = true;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    if (c == NULL)
        return err_set(e, ERR_BUSY, "postgres: all %zu pooled connections "
                       "stayed busy for %d s", s->npool, PG_CHECKOUT_WAIT_S);
    return 0;
}

/*
 * True when c's connection still looks alive.  A server that shut down
 * has written a message (or an end of file) to the idle socket, so a
 * readable idle socket is consumed before we trust the connection.
 */
static bool
conn_alive(struct pg_conn *c)
{
    struct pollfd pfd;

    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
        return false;
    pfd.fd = PQsocket(c->pg);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0)
        return false;
    if (poll(&pfd, 1, 0) > 0 && PQconsumeInput(c->pg) == 0)
        return false;
    return PQstatus(c->pg) == CONNECTION_OK;
}

/* Decides under the lock whether a reconnect may be tried now. */
static bool
reconnect_allowed(struct store *s)
{
    bool ok;

    pthread_mutex_lock(&s->mu);
    ok = util_mono_ns() >= s->retry_at;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void
note_connect(struct store *s, bool ok)
{
    pthread_mutex_lock(&s->mu);
    if (ok) {
        s->backoff_ns = PG_BACKOFF_MIN_NS;
        s->retry_at = 0;
    } else {
        s->retry_at = util_mono_ns() + s->backoff_ns;
        s->backoff_ns *= 2;
        if (s->backoff_ns > PG_BACKOFF_MAX_NS)
            s->backoff_ns = PG_BACKOFF_MAX_NS;
    }
    pthread_mutex_unlock(&s->mu);
}

static int
reconnect(struct store *s, struct pg_conn *c, struct err *e)
{
    int rc;

    if (!reconnect_allowed(s))
        return err_set(e, ERR_UNAVAILABLE, "postgres unavailable: "
                       "reconnecting after an earlier failure");
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->prepared = 0;
    rc = pg_connect(s, &c->pg, e);
    note_connect(s, rc == 0);
    return rc;
}

int
pg_checkout(struct store *s, struct pg_conn **out, struct err *e)
{
    struct pg_conn *c;
    int rc;

    rc = take_slot(s, &c, e);
    if (rc != 0)
        return rc;
    if (!conn_alive(c)) {
        rc = reconnect(s, c, e);
        if (rc != 0) {
            pg_checkin(s, c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

/* Leaves a returned connection idle, or drops it when it is not. */
static void
settle(struct pg_conn *c)
{
    PGTransactionStatusType ts;

    if (c->pg == NULL)
        return;
    ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PQclear(PQexec(c->pg, "ROLLBACK"));
        ts = PQtransactionStatus(c->pg);
    }
    if (ts != PQTRANS_IDLE) {
        PQfinish(c->pg);
        c->pg = NULL;
        c->prepared = 0;
    }
}

void
pg_checkin(struct store *s, struct pg_conn *c)
{
    settle(c);
    pthread_mutex_lock(&s->mu);
    c->busy = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int
prepare(struct pg_conn *c, enum pg_stmt id, struct err *e)
{
    PGresult *res;
    int rc = 0;

    if (c->prepared & ((uint64_t)1 << id))
        return 0;
    res = PQprepare(c->pg, pg_stmt_name(id), pg_stmt_sql(id), 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_result_error(c->pg, res, pg_stmt_name(id), e);
    else
        c->prepared |= (uint64_t)1 << id;
    PQclear(res);
    return rc;
}

static int
run_on(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p,
       PGresult **res, struct err *e)
{
    ExecStatusType st;
    int rc;

    rc = prepare(c, id, e);
    if (rc != 0)
        return rc;
    *res = PQexecPrepared(c->pg, pg_stmt_name(id), p->n, p->v, NULL, NULL,
                          0);
    st = PQresultStatus(*res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    rc = pg_result_error(c->pg, *res, pg_stmt_name(id), e);
    PQclear(*res);
    *res = NULL;
    return rc;
}

int
pg_run(struct store *s, struct store_txn *t, enum pg_stmt id,
       const struct pg_params *p, PGresult **res, struct err *e)
{
    struct pg_conn *c;
    int rc;

    *res = NULL;
    if (t != NULL && t->failed != 0)
        return err_set(e, t->failed, "%s: the transaction already failed",
                       pg_stmt_name(id));
    if (t != NULL) {
        rc = run_on(t->c, id, p, res, e);
        if (rc != 0)
            t->failed = rc;
        return rc;
    }
    rc = pg_checkout(s, &c, e);
    if (rc != 0)
        return rc;
    rc = run_on(c, id, p, res, e);
    pg_checkin(s, c);
    return rc;
}

/*
 * host:port of a PostgreSQL URL or key=value string, for the waiting
 * line; the password and every other parameter stay out.  False when
 * libpq cannot be loaded or the text does not parse (engine_open then
 * says why).
 */
bool
store_postgres_address(const char *url, char *out, size_t size)
{
    PQconninfoOption *opts;
    const char *host = NULL;
    const char *port = NULL;
    PQconninfoOption *o;

    if (pq_lazy_load(NULL) < 0)
        return false;
    opts = pq_fn.conninfo_parse(url, NULL);
    if (opts == NULL)
        return false;
    for (o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
    }
    snprintf(out, size, "%s:%s", host != NULL && host[0] != '\0'
                                     ? host : "localhost",
             port != NULL && port[0] != '\0' ? port : "5432");
    pq_fn.conninfo_free(opts);
    return true;
}
