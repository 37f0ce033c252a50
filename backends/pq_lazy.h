/*
 * pq_lazy.h: libpq, loaded on first use instead of at start-up.
 *
 * Linking libpq brings OpenSSL, Kerberos, LDAP and SASL into every run of
 * the program, which costs several milliseconds of start-up even for
 * commands that never touch PostgreSQL.  The backend therefore opens
 * libpq.so.5 with dlopen when a PostgreSQL store is first opened and calls
 * libpq through the table pq_fn.  The headers still come from libpq-fe.h,
 * so every pointer has libpq's own prototype.
 *
 * Invariant: no member of pq_fn may be called before pq_lazy_load has
 * returned 0.  Once it has, the table never changes and the library stays
 * loaded until the process exits, so any thread may use it.
 *
 * backends/postgres_int.h maps the PQ names to the table, so the backend
 * calls PQexec and friends as usual.
 */
#ifndef CODER_CFG_PQ_LAZY_H
#define CODER_CFG_PQ_LAZY_H

#include <libpq-fe.h>

#include "core/err.h"

/* The soname we load; the libpq5 package provides it. */
#define PQ_LAZY_SONAME "libpq.so.5"

/* Every libpq function coder-cfg calls: member name, libpq name. */
#define PQ_LAZY_FUNCS(X)                                                  \
    X(clear, PQclear)                                                     \
    X(cmd_tuples, PQcmdTuples)                                            \
    X(connectdb_params, PQconnectdbParams)                                \
    X(conninfo_free, PQconninfoFree)                                      \
    X(conninfo_parse, PQconninfoParse)                                    \
    X(consume_input, PQconsumeInput)                                      \
    X(error_message, PQerrorMessage)                                      \
    X(exec, PQexec)                                                       \
    X(exec_params, PQexecParams)                                          \
    X(exec_prepared, PQexecPrepared)                                      \
    X(finish, PQfinish)                                                   \
    X(fname, PQfname)                                                     \
    X(freemem, PQfreemem)                                                 \
    X(getisnull, PQgetisnull)                                             \
    X(getlength, PQgetlength)                                             \
    X(getvalue, PQgetvalue)                                               \
    X(nfields, PQnfields)                                                 \
    X(notifies, PQnotifies)                                               \
    X(ntuples, PQntuples)                                                 \
    X(prepare, PQprepare)                                                 \
    X(result_error_field, PQresultErrorField)                             \
    X(result_status, PQresultStatus)                                      \
    X(set_notice_processor, PQsetNoticeProcessor)                         \
    X(socket, PQsocket)                                                   \
    X(status, PQstatus)                                                   \
    X(transaction_status, PQtransactionStatus)

/* One pointer per function, typed from libpq-fe.h's prototype. */
struct pq_lazy_table {
#define PQ_LAZY_MEMBER(name, sym) __typeof__(sym) *name;
    PQ_LAZY_FUNCS(PQ_LAZY_MEMBER)
#undef PQ_LAZY_MEMBER
};

/* Filled by pq_lazy_load; read only after it returned 0. */
extern struct pq_lazy_table pq_fn;

/*
 * Loads libpq and fills pq_fn, once per process; later calls (from any
 * thread) return the first call's result at once.  Returns 0, or
 * ERR_UNSUPPORTED when the library or one of its functions is missing,
 * with dlerror's reason and the package to install in e.
 */
int pq_lazy_load(struct err *e);

#endif
