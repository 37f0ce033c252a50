/*
 * postgres_int.h: what the files of the PostgreSQL backend share.
 *
 * The backend is split by concern: postgres.c holds the record operations
 * and the ops table, postgres_conn.c the connection pool and statement
 * execution, postgres_schema.c the versioned migrations and
 * postgres_cluster.c advisory locks and LISTEN/NOTIFY.  Nothing here is
 * visible outside backends/postgres*.c.
 *
 * Every table lives in the schema "coder_cfg", so that the store can share
 * a database with other software (Coder's own tables included).
 *
 * Threads: the pool hands each connection to one thread at a time; a
 * transaction keeps its connection until commit or abort.  The lock
 * session and the listener each have a connection of their own.
 */
#ifndef CODER_CFG_POSTGRES_INT_H
#define CODER_CFG_POSTGRES_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/store.h"

/*
 * libpq is loaded at run time (backends/pq_lazy.h): the PQ names below
 * call through its table, and pg_open loads it before any of them runs.
 */
#include "backends/pq_lazy.h"

#define PQclear (pq_fn.clear)
#define PQcmdTuples (pq_fn.cmd_tuples)
#define PQconnectdbParams (pq_fn.connectdb_params)
#define PQconninfoFree (pq_fn.conninfo_free)
#define PQconninfoParse (pq_fn.conninfo_parse)
#define PQconsumeInput (pq_fn.consume_input)
#define PQerrorMessage (pq_fn.error_message)
#define PQexec (pq_fn.exec)
#define PQexecParams (pq_fn.exec_params)
#define PQexecPrepared (pq_fn.exec_prepared)
#define PQfinish (pq_fn.finish)
#define PQfname (pq_fn.fname)
#define PQfreemem (pq_fn.freemem)
#define PQgetisnull (pq_fn.getisnull)
#define PQgetlength (pq_fn.getlength)
#define PQgetvalue (pq_fn.getvalue)
#define PQnfields (pq_fn.nfields)
#define PQnotifies (pq_fn.notifies)
#define PQntuples (pq_fn.ntuples)
#define PQprepare (pq_fn.prepare)
#define PQresultErrorField (pq_fn.result_error_field)
#define PQresultStatus (pq_fn.result_status)
#define PQsetNoticeProcessor (pq_fn.set_notice_processor)
#define PQsocket (pq_fn.socket)
#define PQstatus (pq_fn.status)
#define PQtransactionStatus (pq_fn.transaction_status)

/* The schema version this build writes; a newer one is refused. */
#define PG_SCHEMA_VERSION 1

/* The NOTIFY channel for cluster events. */
#define PG_CHANNEL "coder_cfg_events"

/* Advisory lock class of coder-cfg; the object is a hash of the name. */
#define PG_LOCK_CLASS 0x43464721

/* Largest text value (site value, CSP body, snapshot) read back. */
#define PG_TEXT_MAX STORE_SNAPSHOT_MAX

/* Most statement parameters any operation passes. */
#define PG_PARAMS_MAX 16

/* Most named cluster locks one handle holds at once. */
#define PG_LOCKS_MAX 16
#define PG_LOCK_NAME_MAX 64

/* Most subscribers of one handle. */
#define PG_SUBS_MAX 8

/* The prepared statements, one per operation. */
enum pg_stmt {
    PG_DEPLOY_INSERT,
    PG_SITE_GET,
    PG_SITE_PUT,
    PG_USER_INSERT,
    PG_USER_UPDATE,
    PG_USER_EXISTS,
    PG_USER_GET,
    PG_USER_GET_BY_NAME,
    PG_USER_LIST,
    PG_KEY_INSERT,
    PG_KEY_GET,
    PG_KEY_GET_AUTH,
    PG_KEY_TOUCH,
    PG_KEY_DELETE,
    PG_KEY_LIST_BY_USER,
    PG_WORKSPACE_PUT,
    PG_WORKSPACE_LIST,
    PG_STAT_APPEND,
    PG_STAT_SCAN_SINCE,
    PG_STAT_PRUNE,
    PG_CSP_APPEND,
    PG_CSP_SCAN,
    PG_CSP_PRUNE,
    PG_SNAPSHOT_APPEND,
    PG_SNAPSHOT_SCAN,
    PG_REPLICA_PUT,
    PG_REPLICA_LIST,
    PG_STMT_COUNT
};

/* One pooled connection and the statements prepared on it. */
struct pg_conn {
    PGconn *pg;
    uint64_t prepared;          /* bit n: enum pg_stmt n is prepared */
    bool busy;
};

struct pg_listener;

struct store {
    struct store_base base;

    /* Connection parameters: keywords and values, NULL-terminated. */
    const char **kw;
    const char **val;
    char *url;

    /* The pool; mu guards everything below it up to the lock session. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pg_conn *pool;
    size_t npool;
    int64_t retry_at;           /* monotonic ns: no reconnect before */
    int64_t backoff_ns;

    /* The advisory lock session and the names it holds. */
    pthread_mutex_t lock_mu;
    PGconn *lock_pg;
    char held[PG_LOCKS_MAX][PG_LOCK_NAME_MAX + 1];
    size_t nheld;

    struct pg_listener *listener;
};

struct store_txn {
    struct store *s;
    struct pg_conn *c;
    bool write;
    int failed;                 /* first error inside the transaction */
};

/* Statement parameters in text form; numbers live in num[]. */
struct pg_params {
    const char *v[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][32];
    int n;
};

void pg_params_init(struct pg_params *p);
void pg_param_text(struct pg_params *p, const char *s);
void pg_param_i64(struct pg_params *p, int64_t v);
void pg_param_f64(struct pg_params *p, double v);
void pg_param_bool(struct pg_params *p, bool v);

/*
 * Builds the connection parameters of s from url: libpq's own parsing
 * plus our defaults for connect_timeout, keepalives, statement_timeout and
 * application_name where the URL does not set them.  ERR_INVALID for a URL
 * libpq cannot parse.
 */
int pg_conninfo_build(struct store *s, const char *url, struct err *e);
void pg_conninfo_free(struct store *s);

/*
 * A new connection with s's parameters.  Returns 0 and *out, or
 * ERR_UNAVAILABLE with libpq's reason in e.
 */
int pg_connect(struct store *s, PGconn **out, struct err *e);

/*
 * Maps a failed result (or a NULL one) on conn to an error code and a
 * message that starts with what: ERR_UNAVAILABLE for a lost connection,
 * ERR_EXISTS for a unique violation, ERR_BUSY for serialization failures,
 * ERR_FULL for a full disk, ERR_IO otherwise.
 */
int pg_result_error(PGconn *conn, const PGresult *res, const char *what,
                    struct err *e);

/* Runs one plain SQL command (no parameters, no rows wanted) on conn. */
int pg_exec_simple(PGconn *conn, const char *sql, struct err *e);

/* The pool: open with the first connection made, close frees it all. */
int pg_pool_open(struct store *s, size_t size, PGconn *first, struct err *e);
void pg_pool_close(struct store *s);

/*
 * Takes a healthy connection from the pool (reconnecting a broken one, but
 * no more often than the backoff allows).  ERR_UNAVAILABLE when the
 * database cannot be reached, ERR_BUSY when every connection stays taken.
 */
int pg_checkout(struct store *s, struct pg_conn **out, struct err *e);
void pg_checkin(struct store *s, struct pg_conn *c);

/*
 * Runs statement id with params in t (or alone when t is NULL) and returns
 * its result in *res for the caller to PQclear.  Inside a transaction the
 * first failure is remembered and later calls fail with it.
 */
int pg_run(struct store *s, struct store_txn *t, enum pg_stmt id,
           const struct pg_params *p, PGresult **res, struct err *e);

/* SQL text of a statement, for pg_run. */
const char *pg_stmt_sql(enum pg_stmt id);
const char *pg_stmt_name(enum pg_stmt id);

/* Schema migrations on conn, under an advisory lock (postgres_schema.c). */
int pg_migrate(PGconn *conn, struct err *e);

/* Cluster ops (postgres_cluster.c). */
int pg_lock_try(struct store *s, const char *name, bool *got,
                struct err *e);
int pg_unlock(struct store *s, const char *name, struct err *e);
int pg_subscribe(struct store *s, store_event_fn fn, void *ctx,
                 struct err *e);
void pg_cluster_close(struct store *s);

/* Sleeps ns nanoseconds (interrupted sleeps are resumed). */
void pg_sleep_ns(int64_t ns);

#endif
