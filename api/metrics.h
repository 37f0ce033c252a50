/*
 * metrics.h: Prometheus metrics for the API (--prometheus-enable).
 *
 * Every answered request is counted by route pattern, method and status
 * code (coderd_api_requests_processed_total), and its latency goes into a
 * histogram by route pattern and method
 * (coderd_api_request_latencies_seconds).  The path label is always a
 * pattern from the route table, such as
 * "/api/v2/users/{user}/keys/tokens/tokenconfig", never the path a client
 * sent: labels stay few, and no user input (a name, a token in a query)
 * ever reaches them.  A request that no route matches is counted under its
 * group's prefix followed by a slash and a star ("/api/v2/" then "*"), or
 * under a slash and a star alone; a method the router does not know is
 * counted as "OTHER".
 *
 * Counting takes no lock and no shared cache line: each thread gets its
 * own shard of counters the first time it counts (one short lock then),
 * writes only to that shard, and a scrape adds the shards up.  The
 * scrape also reports the requests in flight (a counter the caller owns)
 * and a few process figures read from /proc.
 *
 * The metrics are served by their own libmicrohttpd daemon, one thread,
 * on a listening socket the caller opens: GET /metrics answers in
 * Prometheus's text format (version 0.0.4), any other path 404.
 */
#ifndef CODER_CFG_API_METRICS_H
#define CODER_CFG_API_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "router.h"

struct api_metrics;

/*
 * Metrics for the routes in groups[0..n), which must outlive them;
 * inflight is read at each scrape and must outlive them too.  NULL when
 * out of memory.
 */
struct api_metrics *api_metrics_new(const struct router_group *groups,
                                    size_t n, const atomic_long *inflight);

/* Stops the daemon if it runs and frees m; NULL is a no-op. */
void api_metrics_free(struct api_metrics *m);

/*
 * Counts one answered request.  group and route are what the router
 * found for its path (either may be NULL), method its method bit (0 for
 * an unknown method), status the code sent, took_ns its latency.  Safe
 * from any number of threads at once.
 */
void api_metrics_count(struct api_metrics *m,
                       const struct router_group *group,
                       const struct router_route *route, unsigned method,
                       int status, int64_t took_ns);

/* Appends every metric in text format to out; ERR_NOMEM when it fails. */
int api_metrics_render(struct api_metrics *m, struct buf *out);

/*
 * Serves GET /metrics on fd, a listening socket that m then owns (it is
 * closed by api_metrics_stop, or here on failure).  ERR_IO when the
 * daemon cannot start.
 */
int api_metrics_start(struct api_metrics *m, int fd, struct err *e);

/* Stops serving and closes the socket; a no-op when not serving. */
void api_metrics_stop(struct api_metrics *m);

#endif
