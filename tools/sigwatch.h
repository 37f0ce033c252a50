/*
 * sigwatch.h: SIGINT and SIGTERM for `coder-cfg server`.
 *
 * The server blocks both signals in every thread and lets one watcher
 * thread take them with sigwait, so that no handler ever runs inside the
 * store or the HTTP daemon.  The watcher has two phases:
 *
 * - opening: the server is still waiting for its store (PostgreSQL may
 *   be down and the engine retries for up to the connect timeout).  A
 *   signal now ends the process at once, exit status 1, with one line on
 *   stderr; nothing has been recorded yet, so nothing needs undoing.
 *   When the caller gave a store address and opening takes longer than a
 *   second, one info line "waiting for postgres" is logged.
 * - running: after sigwatch_opened a signal is only noted, and
 *   sigwatch_wait returns it, so that the server can stop in order.
 *
 * Call sigwatch_start before any other thread exists: the threads
 * created later inherit the blocked mask.
 */
#ifndef CODER_CFG_TOOLS_SIGWATCH_H
#define CODER_CFG_TOOLS_SIGWATCH_H

#include "api/log.h"
#include "core/err.h"

struct sigwatch_options {
    struct api_log *log;        /* may be NULL */
    const char *address;        /* the store's host:port, or NULL */
    const char *timeout;        /* how long the engine retries, as text */
};

struct sigwatch;

/*
 * Blocks SIGINT and SIGTERM in the calling thread and starts the watcher
 * in its opening phase.  The strings of o are copied.  ERR_NOMEM, or
 * ERR_INTERNAL when the thread cannot start.
 */
int sigwatch_start(struct sigwatch **out, const struct sigwatch_options *o,
                   struct err *e);

/* Ends the opening phase: from now on signals are only noted. */
void sigwatch_opened(struct sigwatch *w);

/* Blocks until SIGINT or SIGTERM has arrived; returns its number. */
int sigwatch_wait(struct sigwatch *w);

/* Stops the watcher and frees it; NULL is a no-op. */
void sigwatch_stop(struct sigwatch *w);

#endif
