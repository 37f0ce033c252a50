/*
 * internal.h: what the files of api/ share with each other (not a public
 * header: tools/ uses server.h, log.h and values.h only).
 *
 * One struct api_server holds the settings read once from the option set,
 * the prebuilt answers and the background threads.  One struct
 * api_request lives from libmicrohttpd's first call for a request to its
 * completion callback; the middleware steps and the handlers fill in its
 * reply, and http.c turns that into a response with the common headers.
 */
#ifndef CODER_CFG_API_INTERNAL_H
#define CODER_CFG_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/engine.h"
#include "../core/util.h"
#include "blob.h"
#include "mhd_lazy.h"
#include "netaddr.h"
#include "ratelimit.h"
#include "router.h"
#include "server.h"

/* CSP reports larger than this get 413 before the body is read whole. */
#define API_CSP_MAX 65536

/*
 * The most bytes of a body read for any request (beyond API_CSP_MAX they
 * are only counted); past this the connection is dropped unanswered.
 */
#define API_BODY_MAX (1024 * 1024)

#define API_JSON "application/json; charset=utf-8"
#define API_TEXT "text/plain; charset=utf-8"

struct api_listener {
    struct api_server *srv;
    struct MHD_Daemon *daemon;
    bool tls;
    int fd;
    char *cert;
    char *key;
};

struct api_metrics;
struct api_stats;
struct updatecheck;

struct api_server {
    const struct opt_set *set;
    struct engine *en;
    struct api_log *log;

    /* Settings read once at start-up. */
    struct ratelimit *rl;           /* NULL: no limit */
    int64_t rate_limit;
    bool allow_cors;
    bool redirect;
    char *access_url;               /* "" when unset */
    char *access_host;              /* host[:port] of the access URL */
    char *www_invalid;              /* WWW-Authenticate of a 401 */
    char *www_expired;              /* the same for an expired key */
    bool access_https;
    char *hsts;                     /* Strict-Transport-Security, or NULL */
    char **trusted_headers;
    size_t ntrusted_headers;
    struct netaddr_cidr *origins;
    size_t norigins;
    bool disable_expiry_refresh;
    int64_t max_token_ns;
    int64_t max_admin_token_ns;

    /* Answers built once. */
    struct blob *root;
    struct blob *buildinfo;
    struct blob *config;
    struct blob *ssh;
    struct blob *experiments;
    struct blob *available;
    struct blob *update_off;        /* the update check when disabled */
    struct blob *not_found;
    struct blob *forbidden;
    struct blob *healthz;
    struct blob *ok;

    /* Answers rebuilt in the background. */
    struct blob_slot stats;
    struct blob_slot update;
    struct api_stats *stats_thread;
    struct updatecheck *uc;

    struct api_listener listeners[2];
    size_t nlisteners;
    atomic_long inflight;
    struct api_metrics *metrics;    /* NULL: Prometheus is off */
};

/* Extra response headers collected while a request is handled. */
#define API_HEADERS_MAX 12
#define API_ARENA 1536

enum api_body_kind {
    API_BODY_NONE,
    API_BODY_BLOB,                  /* a reference to a blob */
    API_BODY_HEAP                   /* malloc'd bytes */
};

struct api_request {
    struct api_server *srv;
    struct api_listener *listener;
    struct MHD_Connection *conn;
    const char *method;
    unsigned method_bit;
    int64_t started;
    char request_id[UTIL_UUID_LEN + 1];
    struct netaddr peer;            /* after trusted-proxy processing */
    bool peer_known;                /* false: the address is "unknown" */
    bool client_ready;              /* client below holds peer's text */
    bool spare_size;                /* a thread's spare may keep it */

    /* The request body (CSP reports only). */
    struct buf body;
    size_t body_seen;               /* bytes received, kept or not */
    bool body_too_large;

    /* Authentication state; auth and target mean something once set. */
    bool authed;
    struct router_match match;
    const struct router_route *route;   /* once the router found it */

    /* The reply. */
    bool queued;
    int status;
    const char *ctype;              /* NULL: no Content-Type */
    enum api_body_kind kind;
    struct blob *blob;
    char *heap;
    size_t heap_len;
    const char *hname[API_HEADERS_MAX];
    const char *hvalue[API_HEADERS_MAX];
    size_t nheaders;
    size_t arena_used;
    unsigned heap_headers;          /* bit i: hvalue[i] is malloc'd */
    bool header_lost;               /* a header could not be kept */

    /*
     * Not cleared when a request starts (they are large, and written
     * before they are read): the verified key and user, the {user}
     * parameter's user, and the header text arena.
     */
    struct engine_auth auth;
    struct store_user target;
    char client[NETADDR_TEXT_MAX];
    char arena[API_ARENA];

    char path[];                    /* cleaned request path */
};

/* Everything before this offset is zeroed for a new request. */
#define API_REQUEST_CLEARED offsetof(struct api_request, auth)

/* One handler; routes point at these. */
struct api_handler {
    void (*fn)(struct api_request *rq);
};

/* --- replies (http.c) ---------------------------------------------------- */

/*
 * Adds a response header; value is copied whole (onto the heap when the
 * arena is full).  When it cannot be kept (too many headers, no memory)
 * the request is answered 500 instead, with a log line.
 */
void api_header(struct api_request *rq, const char *name,
                const char *value);

/* Replies with a reference to b (the caller keeps its own). */
void api_reply_blob(struct api_request *rq, int status, const char *ctype,
                    struct blob *b);

/* Replies with v written as Go would (JSON with a newline); steals v. */
void api_reply_json(struct api_request *rq, int status, json_t *v);

/* {"message":...,"detail":...}; detail NULL or "" is left out. */
void api_reply_message(struct api_request *rq, int status,
                       const char *message, const char *detail);

/* A body-less reply. */
void api_reply_empty(struct api_request *rq, int status);

/* A plain-text reply (a copy of text). */
void api_reply_text(struct api_request *rq, int status, const char *text);

/* 500 with Coder's internal-error message and e's text as detail. */
void api_reply_internal(struct api_request *rq, const char *detail);

/* --- listeners (http.c) ------------------------------------------------ */

/*
 * Opens the HTTP and TLS listeners the options ask for, and with
 * --prometheus-enable the metrics and their listener (api/metrics.h).
 */
int api_http_open(struct api_server *srv, unsigned threads, struct err *e);

/*
 * Stops accepting, waits a second at most for running requests, stops;
 * then stops and frees the metrics.
 */
void api_http_close(struct api_server *srv);

/* A new random (version 4) UUID for a request id, from a per-thread pool
 * of random bytes (one system call per 256 ids). */
void api_request_id(char out[UTIL_UUID_LEN + 1]);

/* Writes v in decimal into out (24 bytes); returns the length. */
size_t api_itoa(int64_t v, char out[24]);

/* --- middleware steps (middleware.c) ------------------------------------ */

/*
 * Each returns true when the request goes on, false when it has been
 * answered.
 */
bool api_mw_redirect(struct api_request *rq);
bool api_mw_cors(struct api_request *rq);
bool api_mw_ratelimit(struct api_request *rq);
bool api_mw_auth(struct api_request *rq);
bool api_mw_user_param(struct api_request *rq);

/* Finds the client address (trusted proxies) for rq. */
void api_client_address(struct api_request *rq);

/* The client address as text ("unknown" when there is none), formatted
 * on first use. */
const char *api_client_text(struct api_request *rq);

/* --- answers (handlers.c) ------------------------------------------------ */

/* The route table, groups in matching order. */
const struct router_group *api_routes(size_t *n);

/* Builds the answers that never change; e says what failed. */
int api_answers_build(struct api_server *srv, struct err *e);
void api_answers_release(struct api_server *srv);

/* --- background work (stats.c, updatecheck.c) ---------------------------- */

/*
 * Computes the first stats synchronously, then refreshes them (and the
 * replica heartbeat) in a thread.
 */
int api_stats_start(struct api_server *srv,
                    const struct store_replica *replica, struct err *e);
void api_stats_stop(struct api_server *srv);

/* Starts the update-check thread that fills srv->update. */
int updatecheck_start(struct api_server *srv, const char *url,
                      struct err *e);
void updatecheck_stop(struct api_server *srv);

/* The answer for a stored or fetched release (tag and page URL). */
struct blob *updatecheck_answer(const char *own, const char *tag,
                                const char *url);

#endif
