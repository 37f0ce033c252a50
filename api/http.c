/*
 * http.c: the libmicrohttpd daemons, the life of a request, and replies.
 *
 * libmicrohttpd calls the access handler several times per request.  The
 * first call only sets up our request state: a response queued there
 * makes libmicrohttpd close the connection, so answers wait for the
 * second call (after the body, when there is one).  The exception is a
 * CSP report that announces a body over the limit: it is answered at once
 * with 413, so the body is never read.
 *
 * libmicrohttpd 0.9 cannot queue an answer while a body is still coming
 * in, so a body that does not announce its size (chunked) is read to its
 * end before the answer: a CSP report kept up to API_CSP_MAX bytes and
 * then only counted, any other body only counted.  A body that passes
 * API_BODY_MAX gets no answer: its connection is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>

#include "api/internal.h"
#include "api/log.h"
#include "api/metrics.h"
#include "api/tls.h"
#include "core/deployment.h"
#include "core/jsonx.h"
#include "core/banned.h"

#define CSP_PATH "/api/v2/csp/reports"
/* Idle keep-alive connections are closed after this many seconds. */
#define IDLE_TIMEOUT 120
#define LISTEN_BACKLOG 4096
/*
 * Each connection's memory pool: it holds the request line and headers
 * and our response headers (bodies are sent from their own buffers).
 * libmicrohttpd clears the whole pool between requests, so its size is
 * paid on every request.  32 KiB takes request headers of up to about
 * 23 KiB in all, enough for the large cookies that single sign-on
 * deployments carry; 16 KiB would save about 5% of CPU on the smallest
 * answers but refuse (431) requests over 7.5 KiB of headers, which Coder's
 * own server (1 MiB) accepts.
 */
#define CONN_MEMORY 32768

/* --- replies ------------------------------------------------------------- */

/*
 * Values go into the request's arena; one that does not fit gets a heap
 * copy of its own.  A header that cannot be kept at all marks the reply
 * broken: queue_reply then answers 500 instead of sending it short.
 */
void
api_header(struct api_request *rq, const char *name, const char *value)
{
    size_t len = strlen(value);
    size_t room = API_ARENA - rq->arena_used;
    char *dst = rq->arena + rq->arena_used;

    if (rq->nheaders >= API_HEADERS_MAX) {
        rq->header_lost = true;
        return;
    }
    if (len < room) {
        rq->arena_used += len + 1;
    } else {
        dst = malloc(len + 1);
        if (dst == NULL) {
            rq->header_lost = true;
            return;
        }
        rq->heap_headers |= 1u << rq->nheaders;
    }
    memcpy(dst, value, len + 1);
    rq->hname[rq->nheaders] = name;
    rq->hvalue[rq->nheaders] = dst;
    rq->nheaders++;
}

/* Frees the header values that live on the heap. */
static void
headers_release(struct api_request *rq)
{
    size_t i;

    for (i = 0; i < rq->nheaders; i++) {
        if (rq->heap_headers & (1u << i))
            free((char *)rq->hvalue[i]);
    }
    rq->heap_headers = 0;
    rq->nheaders = 0;
    rq->arena_used = 0;
}

/* Replaces a reply that lost a header with a 500, and says so. */
static void
reply_header_lost(struct api_request *rq)
{
    headers_release(rq);
    rq->header_lost = false;
    if (api_log_enabled(rq->srv->log, API_LOG_ERROR))
        api_log_write(rq->srv->log, API_LOG_ERROR, "api",
                      "response header does not fit", "path", rq->path,
                      "request_id", rq->request_id, (const char *)NULL);
    api_reply_internal(rq, "response header does not fit");
}

static void
reply_reset(struct api_request *rq)
{
    blob_unref(rq->blob);
    free(rq->heap);
    rq->blob = NULL;
    rq->heap = NULL;
    rq->heap_len = 0;
    rq->kind = API_BODY_NONE;
}

void
api_reply_blob(struct api_request *rq, int status, const char *ctype,
               struct blob *b)
{
    reply_reset(rq);
    rq->status = status;
    rq->ctype = ctype;
    rq->kind = API_BODY_BLOB;
    rq->blob = blob_ref(b);
}

static void
reply_heap(struct api_request *rq, int status, const char *ctype,
           char *data, size_t len)
{
    reply_reset(rq);
    rq->status = status;
    rq->ctype = ctype;
    rq->kind = API_BODY_HEAP;
    rq->heap = data;
    rq->heap_len = len;
}

void
api_reply_json(struct api_request *rq, int status, json_t *v)
{
    struct buf b;
    char *data;
    size_t len;

    buf_init(&b);
    if (v == NULL || jsonx_dump(v, &b, true) < 0) {
        json_decref(v);
        buf_release(&b);
        api_reply_text(rq, 500, "out of memory\n");
        return;
    }
    json_decref(v);
    data = buf_take(&b, &len);
    if (data == NULL) {
        api_reply_text(rq, 500, "out of memory\n");
        return;
    }
    reply_heap(rq, status, API_JSON, data, len);
}

void
api_reply_message(struct api_request *rq, int status, const char *message,
                  const char *detail)
{
    json_t *o = json_object();

    if (o != NULL) {
        json_object_set_new(o, "message", jsonx_string(message));
        if (detail != NULL && detail[0] != '\0')
            json_object_set_new(o, "detail", jsonx_string(detail));
    }
    api_reply_json(rq, status, o);
}

void
api_reply_empty(struct api_request *rq, int status)
{
    reply_reset(rq);
    rq->status = status;
    rq->ctype = NULL;
}

void
api_reply_text(struct api_request *rq, int status, const char *text)
{
    char *copy = strdup(text);

    if (copy == NULL) {
        api_reply_empty(rq, 500);
        return;
    }
    reply_heap(rq, status, API_TEXT, copy, strlen(copy));
}

void
api_reply_internal(struct api_request *rq, const char *detail)
{
    api_reply_message(rq, 500, "An internal server error occurred.",
                      detail);
}

static void
blob_done(void *cls)
{
    blob_unref(cls);
}

static struct MHD_Response *
make_response(struct api_request *rq)
{
    struct blob *b = rq->blob;
    char *heap = rq->heap;

    switch (rq->kind) {
    case API_BODY_BLOB:
        rq->blob = NULL;        /* the response holds the reference now */
        return MHD_create_response_from_buffer_with_free_callback_cls(
            b->len, b->data, blob_done, b);
    case API_BODY_HEAP:
        rq->heap = NULL;        /* and so does this */
        return MHD_create_response_from_buffer(rq->heap_len, heap,
                                               MHD_RESPMEM_MUST_FREE);
    default:
        return MHD_create_response_from_buffer(0, (void *)"",
                                               MHD_RESPMEM_PERSISTENT);
    }
}

static void
add_headers(struct api_request *rq, struct MHD_Response *r)
{
    struct api_server *srv = rq->srv;
    size_t i;

    if (rq->ctype != NULL)
        MHD_add_response_header(r, "Content-Type", rq->ctype);
    MHD_add_response_header(r, "X-Coder-Build-Version",
                            deployment_version());
    MHD_add_response_header(r, "X-Coder-Request-Id", rq->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Vary", "Cookie");
    if (rq->listener->tls && srv->hsts != NULL)
        MHD_add_response_header(r, "Strict-Transport-Security", srv->hsts);
    for (i = 0; i < rq->nheaders; i++)
        MHD_add_response_header(r, rq->hname[i], rq->hvalue[i]);
}

static enum MHD_Result
queue_reply(struct api_request *rq)
{
    struct MHD_Response *r;
    enum MHD_Result ok;

    if (rq->status == 0)
        api_reply_internal(rq, "no handler answered");
    if (rq->header_lost)
        reply_header_lost(rq);
    r = make_response(rq);
    if (r == NULL)
        return MHD_NO;
    add_headers(rq, r);
    ok = MHD_queue_response(rq->conn, (unsigned)rq->status, r);
    MHD_destroy_response(r);
    rq->queued = true;
    return ok;
}

/* --- request ids and numbers ------------------------------------------- */

#define ID_POOL 4096

struct id_pool {
    unsigned char bytes[ID_POOL];
    size_t used;
};

static _Thread_local struct id_pool pool = { { 0 }, ID_POOL };

void
api_request_id(char out[UTIL_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char *b;
    size_t i;
    size_t w = 0;

    if (pool.used + 16 > ID_POOL) {
        util_crypto_init();
        randombytes_buf(pool.bytes, ID_POOL);
        pool.used = 0;
    }
    b = pool.bytes + pool.used;
    pool.used += 16;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[w++] = '-';
        out[w++] = hex[b[i] >> 4];
        out[w++] = hex[b[i] & 0x0f];
    }
    out[w] = '\0';
    /* Used bytes are not kept around. */
    sodium_memzero(b, 16);
}

size_t
api_itoa(int64_t v, char out[24])
{
    char tmp[24];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    size_t w = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        out[w++] = '-';
    while (n > 0)
        out[w++] = tmp[--n];
    out[w] = '\0';
    return w;
}

/* --- the request pipeline ------------------------------------------------ */

static void
route(struct api_request *rq)
{
    const struct router_route *rt;
    unsigned flags;
    unsigned allow;
    size_t ngroups;
    const struct router_group *groups = api_routes(&ngroups);

    if (!router_group_find(groups, ngroups, rq->path, &rq->match)) {
        api_reply_blob(rq, 404, API_JSON, rq->srv->not_found);
        return;
    }
    flags = rq->match.group->flags;
    if ((flags & ROUTER_LIMITED) && !api_mw_ratelimit(rq))
        return;
    if ((flags & ROUTER_AUTH) && !api_mw_auth(rq))
        return;
    if ((flags & ROUTER_USER_PARAM) && !api_mw_user_param(rq))
        return;

    rt = router_route_find(&rq->match, rq->method_bit, &allow);
    if (rt == NULL && allow == 0) {
        api_reply_blob(rq, 404, API_JSON, rq->srv->not_found);
    } else if (rt == NULL) {
        char text[64];

        router_allow_text(allow, text, sizeof(text));
        api_header(rq, "Allow", text);
        api_reply_empty(rq, 405);
    } else {
        rq->route = rt;
        ((const struct api_handler *)rt->handler)->fn(rq);
    }
}

static void
pipeline(struct api_request *rq)
{
    if (!api_mw_redirect(rq))
        return;
    if (!api_mw_cors(rq))
        return;
    route(rq);
}

/*
 * A request's state is a few kilobytes, past the sizes malloc serves from
 * its per-thread caches.  Each worker thread keeps one spare instead, with
 * room for a path of SPARE_PATH bytes; a longer path gets its own block.
 */
#define SPARE_PATH 480

static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static bool spare_ok;

static void
spare_key_make(void)
{
    /* The thread's spare is freed when the thread ends. */
    spare_ok = pthread_key_create(&spare_key, free) == 0;
}

static struct api_request *
request_alloc(size_t len)
{
    struct api_request *rq;

    pthread_once(&spare_once, spare_key_make);
    if (!spare_ok || len > SPARE_PATH)
        return malloc(sizeof(*rq) + len + 1);
    rq = pthread_getspecific(spare_key);
    if (rq != NULL)
        pthread_setspecific(spare_key, NULL);
    else
        rq = malloc(sizeof(*rq) + SPARE_PATH + 1);
    return rq;
}

static void
request_free(struct api_request *rq)
{
    if (rq->spare_size && pthread_getspecific(spare_key) == NULL &&
        pthread_setspecific(spare_key, rq) == 0)
        return;
    free(rq);
}

static struct api_request *
request_new(struct api_listener *l, struct MHD_Connection *conn,
            const char *url, const char *method)
{
    size_t len = strlen(url);
    struct api_request *rq = request_alloc(len);

    if (rq == NULL)
        return NULL;
    memset(rq, 0, API_REQUEST_CLEARED);
    rq->spare_size = spare_ok && len <= SPARE_PATH;
    rq->srv = l->srv;
    rq->listener = l;
    rq->conn = conn;
    rq->method = method;
    rq->method_bit = router_method_bit(method);
    rq->started = util_mono_ns();
    memcpy(rq->path, url, len + 1);
    router_clean_path(rq->path);
    api_request_id(rq->request_id);
    buf_init_limit(&rq->body, API_CSP_MAX);
    api_client_address(rq);
    atomic_fetch_add(&l->srv->inflight, 1);
    return rq;
}

static bool
is_csp(const struct api_request *rq)
{
    return rq->method_bit == ROUTER_POST && strcmp(rq->path, CSP_PATH) == 0;
}

/* A declared Content-Length over the limit, for a CSP report. */
static bool
declared_too_large(const struct api_request *rq)
{
    const char *cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                 "Content-Length");
    uint64_t n;

    if (cl == NULL || util_parse_u64(cl, strlen(cl), &n) < 0)
        return false;
    return n > API_CSP_MAX;
}

/*
 * Takes a piece of the body.  A CSP report is kept up to its cap; past
 * it, and for every other route (none reads a body), the bytes are only
 * counted.  Returns false once a body passes API_BODY_MAX: the caller
 * then drops the connection, so no body is read to an unbounded end.
 */
static bool
body_add(struct api_request *rq, const char *data, size_t len)
{
    rq->body_seen += len;
    if (rq->body_seen > API_BODY_MAX)
        return false;
    if (is_csp(rq) && !rq->body_too_large &&
        buf_add(&rq->body, data, len) < 0)
        rq->body_too_large = true;
    return true;
}

static enum MHD_Result
body_drop(struct api_request *rq)
{
    if (api_log_enabled(rq->srv->log, API_LOG_DEBUG))
        api_log_write(rq->srv->log, API_LOG_DEBUG, "api",
                      "request body too large, closing connection",
                      "method", rq->method, "path", rq->path, "request_id",
                      rq->request_id, (const char *)NULL);
    return MHD_NO;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **state)
{
    struct api_listener *l = cls;
    struct api_request *rq = *state;

    (void)version;
    if (rq == NULL) {
        rq = request_new(l, conn, url, method);
        if (rq == NULL)
            return MHD_NO;
        *state = rq;
        if (!is_csp(rq) || !declared_too_large(rq))
            return MHD_YES;
        rq->body_too_large = true;
        pipeline(rq);
        return queue_reply(rq);
    }
    if (rq->queued) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!body_add(rq, upload, *upload_size))
            return body_drop(rq);
        *upload_size = 0;
        return MHD_YES;
    }
    pipeline(rq);
    return queue_reply(rq);
}

static void
log_request(struct api_request *rq, int64_t took)
{
    enum api_log_level level = rq->status >= 500 ? API_LOG_WARN
                                                 : API_LOG_DEBUG;
    char status[16];
    char latency[32];

    if (!api_log_enabled(rq->srv->log, level))
        return;
    snprintf(status, sizeof(status), "%d", rq->status);
    snprintf(latency, sizeof(latency), "%.3fms", (double)took / 1e6);
    api_log_write(rq->srv->log, level, "api", "request",
                  "method", rq->method, "path", rq->path,
                  "status", status, "latency", latency,
                  "request_id", rq->request_id, "remote_addr",
                  api_client_text(rq),
                  "user", rq->authed ? rq->auth.user.username : NULL,
                  (const char *)NULL);
}

/*
 * Counts an answered request under its route pattern.  A request answered
 * before the router got to its route (a refusal, a redirect, a 404) is
 * matched by path alone here, off the common path.
 */
static void
count_request(struct api_request *rq, int64_t took)
{
    struct router_match *m = &rq->match;
    const struct router_route *rt = rq->route;
    unsigned allow;
    size_t ngroups;

    if (rt == NULL && m->group == NULL) {
        const struct router_group *groups = api_routes(&ngroups);

        router_group_find(groups, ngroups, rq->path, m);
    }
    if (rt == NULL && m->group != NULL)
        rt = router_route_find(m, ~0u, &allow);
    api_metrics_count(rq->srv->metrics, m->group, rt, rq->method_bit,
                      rq->status, took);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **state,
             enum MHD_RequestTerminationCode toe)
{
    struct api_request *rq = *state;
    int64_t took;

    (void)cls;
    (void)conn;
    (void)toe;
    if (rq == NULL)
        return;
    *state = NULL;
    if (rq->queued) {
        took = util_mono_ns() - rq->started;
        log_request(rq, took);
        if (rq->srv->metrics != NULL)
            count_request(rq, took);
    }
    atomic_fetch_sub(&rq->srv->inflight, 1);
    reply_reset(rq);
    headers_release(rq);
    buf_release(&rq->body);
    request_free(rq);
}

/* --- listeners ----------------------------------------------------------- */

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct api_server *srv = cls;
    char line[512];
    size_t n;

    if (!api_log_enabled(srv->log, API_LOG_DEBUG))
        return;
    /* fmt is libmicrohttpd's own literal, never outside text. */
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    api_log_write(srv->log, API_LOG_DEBUG, "httpd", line,
                  (const char *)NULL);
}

/* Splits "host:port" (host may be "[v6]" or empty) into its parts. */
static int
split_hostport(const char *addr, char *host, size_t hsize, char *port,
               size_t psize, struct err *e)
{
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t hlen;

    if (colon == NULL || colon[1] == '\0')
        return err_set(e, ERR_INVALID, "invalid listen address \"%s\": "
                       "missing port", addr);
    hlen = (size_t)(colon - addr);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= hsize || strlen(colon + 1) >= psize)
        return err_set(e, ERR_INVALID, "invalid listen address \"%s\"",
                       addr);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, psize, "%s", colon + 1);
    return 0;
}

static int
bind_one(const struct addrinfo *ai, int *fd_out)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        listen(fd, LISTEN_BACKLOG) < 0) {
        int saved = errno;

        close(fd);
        return -saved;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    *fd_out = fd;
    return 0;
}

/*
 * A numeric port must fit in 16 bits (getaddrinfo would quietly wrap
 * 99999); a service name such as "http" is left to getaddrinfo.
 */
static int
check_port(const char *addr, const char *port, struct err *e)
{
    uint64_t n;
    int rc = util_parse_u64(port, strlen(port), &n);

    if (rc == ERR_INVALID && port[0] != '\0' &&
        (port[0] < '0' || port[0] > '9'))
        return 0;
    if (rc < 0 || n > 65535)
        return err_set(e, ERR_INVALID, "listen on %s: invalid port \"%s\"",
                       addr, port);
    return 0;
}

static int
open_socket(const char *addr, int *fd_out, struct err *e)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char host[256];
    char port[32];
    int rc;
    int sys = -EADDRNOTAVAIL;
    const struct addrinfo *ai;

    rc = split_hostport(addr, host, sizeof(host), port, sizeof(port), e);
    if (rc < 0)
        return rc;
    rc = check_port(addr, port, e);
    if (rc < 0)
        return rc;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return err_set(e, ERR_INVALID, "listen on %s: %s", addr,
                       gai_strerror(rc));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        sys = bind_one(ai, fd_out);
        if (sys == 0)
            break;
    }
    freeaddrinfo(res);
    if (sys < 0) {
        char why[128];

        /* Messages are lower case: "address already in use". */
        snprintf(why, sizeof(why), "%s", strerror(-sys));
        if (why[0] >= 'A' && why[0] <= 'Z')
            why[0] = (char)(why[0] - 'A' + 'a');
        return err_set(e, ERR_IO, "listen on %s: %s", addr, why);
    }
    return 0;
}

/* The connection limit: what the descriptor limit allows, raised first. */
static unsigned
connection_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1000;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536)
        return 65000;
    return rl.rlim_cur > 256 ? (unsigned)(rl.rlim_cur - 128) : 128;
}

static const char *
tls_priorities(const struct opt_set *set)
{
    const char *v = opt_set_str(set, "TLS Minimum Version");

    if (strcmp(v, "tls13") == 0)
        return "NORMAL:-VERS-ALL:+VERS-TLS1.3";
    if (strcmp(v, "tls11") == 0)
        return "NORMAL:-VERS-TLS1.0";
    if (strcmp(v, "tls10") == 0)
        return "NORMAL";
    return "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1";
}

static int
start_daemon(struct api_listener *l, unsigned threads, struct err *e)
{
    struct api_server *srv = l->srv;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_KEY, 0, l->key },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, l->cert },
        { MHD_OPTION_HTTPS_PRIORITIES, 0,
          (void *)tls_priorities(srv->set) },
        { MHD_OPTION_END, 0, NULL },
    };

    if (l->tls)
        flags |= MHD_USE_TLS;
    else
        tls[0].option = MHD_OPTION_END;
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, l,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_LISTEN_SOCKET, l->fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    if (l->daemon == NULL) {
        close(l->fd);
        l->fd = -1;
        return err_set(e, ERR_IO, "cannot start the %s listener",
                       l->tls ? "TLS" : "HTTP");
    }
    return 0;
}

static int
read_pem(const char *path, char **out, struct err *e)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[4096];
    size_t n;
    int rc = 0;

    *out = NULL;
    if (f == NULL)
        return err_set(e, ERR_IO, "cannot read TLS file \"%s\": %s", path,
                       strerror(errno));
    buf_init_limit(&b, 1 << 20);
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_add(&b, chunk, n);
    fclose(f);
    if (rc == 0 && b.len == 0)
        rc = ERR_INVALID;
    if (rc == 0)
        *out = buf_take(&b, NULL);
    buf_release(&b);
    if (rc < 0 || *out == NULL)
        return err_set(e, rc < 0 ? rc : ERR_NOMEM, "cannot read TLS file "
                       "\"%s\": %s", path, rc < 0 ? err_str(rc) : "");
    return 0;
}

/*
 * No certificate files: one is made for the access URL's host (or
 * "localhost"), and the operator is told that clients will not trust it.
 */
static int
self_signed(struct api_listener *l, struct err *e)
{
    char host[API_TLS_HOST_MAX];
    int rc;

    api_tls_host(l->srv->access_host, host, sizeof(host));
    rc = api_tls_self_signed(host, &l->cert, &l->key, e);
    if (rc < 0)
        return rc;
    api_log_write(l->srv->log, API_LOG_WARN, "server", "serving a "
                  "self-signed certificate: clients will not trust it",
                  "host", host, NULL);
    return 0;
}

static int
load_tls(struct api_listener *l, const struct opt_set *set, struct err *e)
{
    const struct opt_value *certs = opt_set_get(set, "TLS Certificate Files");
    const struct opt_value *keys = opt_set_get(set, "TLS Key Files");
    int rc;

    if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
        return err_set(e, ERR_UNSUPPORTED, "TLS is not available: "
                       "libmicrohttpd was built without it");
    if (certs->n == 0 && keys->n == 0)
        return self_signed(l, e);
    if (certs->n == 0 || keys->n == 0)
        return err_set(e, ERR_INVALID, "--tls-cert-file and --tls-key-file "
                       "must be set together");
    rc = read_pem(certs->list[0], &l->cert, e);
    if (rc == 0)
        rc = read_pem(keys->list[0], &l->key, e);
    return rc;
}

static int
open_listener(struct api_server *srv, const char *addr, bool tls,
              unsigned threads, struct err *e)
{
    struct api_listener *l = &srv->listeners[srv->nlisteners];
    int rc;

    memset(l, 0, sizeof(*l));
    l->srv = srv;
    l->tls = tls;
    l->fd = -1;
    srv->nlisteners++;
    if (tls) {
        rc = load_tls(l, srv->set, e);
        if (rc < 0)
            return rc;
    }
    rc = open_socket(addr, &l->fd, e);
    if (rc < 0)
        return rc;
    return start_daemon(l, threads, e);
}

/* A HostPort value as Go's net.JoinHostPort writes it. */
static void
hostport_text(const struct opt_value *v, char *out, size_t size)
{
    bool v6 = strchr(v->host, ':') != NULL;

    snprintf(out, size, "%s%s%s:%s", v6 ? "[" : "", v->host, v6 ? "]" : "",
             v->port);
}

/*
 * With --prometheus-enable: the counters, then their own listener.  The
 * counters exist before any API listener starts, so no request misses
 * them.
 */
static int
open_metrics(struct api_server *srv, struct err *e)
{
    const struct router_group *groups;
    char addr[320];
    size_t ngroups;
    int fd = -1;
    int rc;

    if (!opt_set_bool(srv->set, "Prometheus Enable"))
        return 0;
    groups = api_routes(&ngroups);
    srv->metrics = api_metrics_new(groups, ngroups, &srv->inflight);
    if (srv->metrics == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    hostport_text(opt_set_get(srv->set, "Prometheus Address"), addr,
                  sizeof(addr));
    rc = open_socket(addr, &fd, e);
    if (rc == 0)
        rc = api_metrics_start(srv->metrics, fd, e);
    return rc;
}

int
api_http_open(struct api_server *srv, unsigned threads, struct err *e)
{
    const char *http = opt_set_str(srv->set, "HTTP Address");
    char tls[320];
    int rc = mhd_lazy_load(e);

    if (rc == 0)
        rc = open_metrics(srv, e);
    if (rc < 0)
        return rc;
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        threads = cpus > 0 ? (unsigned)cpus : 2;
    }
    /*
     * TLS first: loading or making its certificate is the slow, fallible
     * step, and the plain listener starts answering (/healthz included)
     * the moment it opens, so it opens only when every listener is ready.
     */
    if (opt_set_bool(srv->set, "TLS Enable")) {
        hostport_text(opt_set_get(srv->set, "TLS Address"), tls,
                      sizeof(tls));
        rc = open_listener(srv, tls, true, threads, e);
    }
    if (rc == 0 && http[0] != '\0')
        rc = open_listener(srv, http, false, threads, e);
    return rc;
}

void
api_http_close(struct api_server *srv)
{
    struct timespec step = { 0, 10 * 1000 * 1000 };
    size_t i;
    int waited;

    /* A quiesced daemon leaves its listening socket to us. */
    for (i = 0; i < srv->nlisteners; i++) {
        struct api_listener *l = &srv->listeners[i];

        if (l->daemon != NULL)
            l->fd = MHD_quiesce_daemon(l->daemon);
    }
    for (waited = 0; waited < 100 && atomic_load(&srv->inflight) > 0;
         waited++)
        nanosleep(&step, NULL);
    for (i = 0; i < srv->nlisteners; i++) {
        struct api_listener *l = &srv->listeners[i];

        if (l->daemon != NULL)
            MHD_stop_daemon(l->daemon);
        if (l->fd >= 0)
            close(l->fd);
        free(l->cert);
        api_tls_free_key(l->key);
        memset(l, 0, sizeof(*l));
    }
    srv->nlisteners = 0;

    /* No request can be counted any more. */
    api_metrics_free(srv->metrics);
    srv->metrics = NULL;
}
