/*
 * server.h: Coder's General API over libmicrohttpd.
 *
 * api_server_open reads everything it needs from a resolved option set
 * (already adjusted and checked by the caller, as `coder-cfg server`
 * does), builds the answers that never change while running (root,
 * buildinfo, deployment config, SSH config, experiments), computes the
 * first deployment stats, starts the stats refresh and replica heartbeat
 * thread, opens the listeners (plain HTTP on --http-address and, with
 * --tls-enable, HTTPS on --tls-address, with a self-signed certificate
 * made at start-up when no --tls-cert-file is given) and only then, when
 * enabled, starts the update check, so that a server that cannot listen
 * never reaches out to the network.
 *
 * Requests are served by libmicrohttpd's internal epoll thread pool; the
 * handlers only read shared state, or swap it under short locks.
 */
#ifndef CODER_CFG_API_SERVER_H
#define CODER_CFG_API_SERVER_H

#include "../backends/store.h"
#include "../core/engine.h"
#include "../core/err.h"
#include "../core/opt.h"
#include "log.h"

/* Where Coder's update check looks unless told otherwise. */
#define API_UPDATE_CHECK_URL \
    "https://api.github.com/repos/coder/coder/releases/latest"

struct api_server_options {
    const struct opt_set *set;      /* outlives the server */
    struct engine *engine;          /* outlives the server */
    struct api_log *log;            /* may be NULL */
    const char *update_check_url;   /* NULL or "": API_UPDATE_CHECK_URL */
    const struct store_replica *replica; /* heartbeat; NULL: none */
    unsigned threads;               /* worker threads; 0: one per CPU */
};

struct api_server;

/*
 * Starts serving.  Errors, each with one line in e: ERR_IO when a
 * listener cannot be opened ("listen on 127.0.0.1:3000: address already
 * in use") or a certificate cannot be read, ERR_INVALID for an address
 * that does not parse, ERR_UNSUPPORTED when TLS is asked for and
 * libmicrohttpd lacks it, or the store's code when the first stats cannot
 * be computed.
 */
int api_server_open(struct api_server **out,
                    const struct api_server_options *o, struct err *e);

/*
 * Stops accepting, lets requests already running finish (a second at
 * most), stops the threads and frees everything; NULL is a no-op.  The
 * engine stays open: the caller closes it.
 */
void api_server_close(struct api_server *srv);

#endif
