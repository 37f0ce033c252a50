/*
 * metrics.c: request counters in per-thread shards, their Prometheus
 * text, and the daemon that serves it.
 *
 * A slot is one distinct path label.  Each shard is one flat array of
 * counters: per slot and method, a count per status code, a count per
 * latency bucket and a latency sum in nanoseconds.  Only the owning thread
 * writes a shard (a relaxed load and store, no locked instruction); the
 * scrape reads with relaxed loads, so it may see a request counted in one
 * array and not yet in another, which Prometheus tolerates.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/metrics.h"
#include "api/mhd_lazy.h"
#include "core/util.h"
#include "core/banned.h"

/* The router's seven methods in bit order, then every other method. */
#define NMETHODS 8
#define OTHER_METHOD 7

static const char *const method_names[NMETHODS] = {
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER"
};

/* Codes with their own label; any other is counted as "other". */
static const int codes[] = {
    200, 201, 202, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405,
    409, 410, 413, 415, 428, 429, 431, 500, 501, 502, 503, 504
};

#define NKNOWN (sizeof(codes) / sizeof(codes[0]))
#define NCODES (NKNOWN + 1)

/* Latency bucket bounds; the last bucket is +Inf. */
static const int64_t bounds_ns[] = {
    1000000, 5000000, 10000000, 25000000, 50000000, 100000000, 500000000,
    INT64_C(1000000000), INT64_C(5000000000), INT64_C(10000000000),
    INT64_C(30000000000)
};

static const char *const bound_text[] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.5", "1", "5", "10",
    "30", "+Inf"
};

#define NBOUNDS (sizeof(bounds_ns) / sizeof(bounds_ns[0]))
#define NBUCKETS (NBOUNDS + 1)

/* Counters per slot and method: codes, buckets, then the sum. */
#define PER_METHOD (NCODES + NBUCKETS + 1)

struct shard {
    struct shard *next;
    pthread_t owner;
    atomic_ullong v[];
};

struct api_metrics {
    uint64_t gen;                   /* tells the thread caches apart */
    const struct router_group *groups;
    size_t ngroups;
    const atomic_long *inflight;

    size_t *route_base;             /* per group: its routes' first index */
    unsigned *route_slot;           /* per route, all groups in a row */
    unsigned *wild_slot;            /* per group: its prefix, "/", "*" */
    unsigned any_slot;              /* "/" and "*" alone */
    char **pattern;                 /* per slot */
    size_t nslots;
    size_t nvalues;                 /* counters in a shard */

    pthread_mutex_t mu;             /* guards the shard list */
    struct shard *shards;

    double start_time;              /* process start, Unix seconds */
    struct MHD_Daemon *daemon;
    int fd;
};

static atomic_ullong next_gen = 1;
static _Thread_local uint64_t my_gen;
static _Thread_local struct shard *my_shard;

/* --- the label table ----------------------------------------------------- */

/* The slot for text, a new one unless an earlier slot has it; -1: no mem. */
static long
slot_for(struct api_metrics *m, const char *prefix, const char *rest)
{
    size_t len = strlen(prefix) + strlen(rest) + 1;
    char *text = malloc(len);
    size_t i;

    if (text == NULL)
        return -1;
    snprintf(text, len, "%s%s", prefix, rest);
    for (i = 0; i < m->nslots; i++) {
        if (strcmp(m->pattern[i], text) == 0) {
            free(text);
            return (long)i;
        }
    }
    m->pattern[m->nslots] = text;
    return (long)m->nslots++;
}

static size_t
count_routes(const struct router_group *groups, size_t n)
{
    size_t total = 0;
    size_t i;

    for (i = 0; i < n; i++)
        total += groups[i].nroutes;
    return total;
}

static int
build_slots(struct api_metrics *m)
{
    size_t nroutes = count_routes(m->groups, m->ngroups);
    size_t at = 0;
    size_t g;
    size_t r;
    long s;

    m->route_base = calloc(m->ngroups + 1, sizeof(*m->route_base));
    m->route_slot = calloc(nroutes + 1, sizeof(*m->route_slot));
    m->wild_slot = calloc(m->ngroups + 1, sizeof(*m->wild_slot));
    m->pattern = calloc(nroutes + m->ngroups + 1, sizeof(*m->pattern));
    if (m->route_base == NULL || m->route_slot == NULL ||
        m->wild_slot == NULL || m->pattern == NULL)
        return ERR_NOMEM;

    for (g = 0; g < m->ngroups; g++) {
        const struct router_group *grp = &m->groups[g];

        m->route_base[g] = at;
        for (r = 0; r < grp->nroutes; r++) {
            s = slot_for(m, grp->prefix, grp->routes[r].path);
            if (s < 0)
                return ERR_NOMEM;
            m->route_slot[at++] = (unsigned)s;
        }
        s = slot_for(m, grp->prefix, "/*");
        if (s < 0)
            return ERR_NOMEM;
        m->wild_slot[g] = (unsigned)s;
    }
    s = slot_for(m, "/*", "");
    if (s < 0)
        return ERR_NOMEM;
    m->any_slot = (unsigned)s;
    return 0;
}

/* --- process figures ----------------------------------------------------- */

/* Seconds since the epoch at which this process started; 0 if unknown. */
static double
process_start(void)
{
    char line[1024];
    unsigned long long ticks = 0;
    unsigned long long boot = 0;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/self/stat", "r");
    const char *p;

    if (f == NULL)
        return 0;
    p = fgets(line, sizeof(line), f) != NULL ? strrchr(line, ')') : NULL;
    fclose(f);
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u "
                            "%*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                            &ticks) != 1)
        return 0;

    f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "btime %llu", &boot) == 1)
            break;
    }
    fclose(f);
    if (boot == 0 || hz <= 0)
        return 0;
    return (double)boot + (double)ticks / (double)hz;
}

/* User and system CPU seconds so far. */
static double
process_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Virtual and resident size in bytes, from /proc/self/statm. */
static void
process_memory(double *virt, double *res)
{
    unsigned long long pages = 0;
    unsigned long long resident = 0;
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");

    *virt = 0;
    *res = 0;
    if (f == NULL)
        return;
    if (fscanf(f, "%llu %llu", &pages, &resident) == 2 && page > 0) {
        *virt = (double)pages * (double)page;
        *res = (double)resident * (double)page;
    }
    fclose(f);
}

static long
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    const struct dirent *ent;
    long n = 0;

    if (d == NULL)
        return 0;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n > 0 ? n - 1 : 0;      /* not the one opendir holds */
}

/* --- life ---------------------------------------------------------------- */

struct api_metrics *
api_metrics_new(const struct router_group *groups, size_t n,
                const atomic_long *inflight)
{
    struct api_metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->gen = atomic_fetch_add(&next_gen, 1);
    m->groups = groups;
    m->ngroups = n;
    m->inflight = inflight;
    m->fd = -1;
    pthread_mutex_init(&m->mu, NULL);
    if (build_slots(m) < 0) {
        api_metrics_free(m);
        return NULL;
    }
    m->nvalues = m->nslots * NMETHODS * PER_METHOD;
    m->start_time = process_start();
    return m;
}

void
api_metrics_free(struct api_metrics *m)
{
    size_t i;

    if (m == NULL)
        return;
    api_metrics_stop(m);
    while (m->shards != NULL) {
        struct shard *next = m->shards->next;

        free(m->shards);
        m->shards = next;
    }
    for (i = 0; m->pattern != NULL && i < m->nslots; i++)
        free(m->pattern[i]);
    free(m->pattern);
    free(m->route_base);
    free(m->route_slot);
    free(m->wild_slot);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* --- counting ------------------------------------------------------------ */

/* This thread's shard of m, made on first use; NULL when out of memory. */
static struct shard *
shard_mine(struct api_metrics *m)
{
    pthread_t self = pthread_self();
    struct shard *s;

    if (my_gen == m->gen)
        return my_shard;
    pthread_mutex_lock(&m->mu);
    for (s = m->shards; s != NULL; s = s->next) {
        if (pthread_equal(s->owner, self))
            break;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s) + m->nvalues * sizeof(s->v[0]));
        if (s != NULL) {
            s->owner = self;
            s->next = m->shards;
            m->shards = s;
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (s != NULL) {
        my_gen = m->gen;
        my_shard = s;
    }
    return s;
}

/* Adds n to a counter only this thread writes. */
static void
bump(atomic_ullong *c, unsigned long long n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) +
                          n, memory_order_relaxed);
}

static unsigned
slot_of(const struct api_metrics *m, const struct router_group *g,
        const struct router_route *rt)
{
    size_t gi;

    if (g == NULL || g < m->groups || g >= m->groups + m->ngroups)
        return m->any_slot;
    gi = (size_t)(g - m->groups);
    if (rt == NULL || rt < g->routes || rt >= g->routes + g->nroutes)
        return m->wild_slot[gi];
    return m->route_slot[m->route_base[gi] + (size_t)(rt - g->routes)];
}

static size_t
method_index(unsigned bit)
{
    size_t i;

    for (i = 0; i < OTHER_METHOD; i++) {
        if (bit == 1u << i)
            return i;
    }
    return OTHER_METHOD;
}

static size_t
code_index(int status)
{
    size_t i;

    for (i = 0; i < NKNOWN; i++) {
        if (codes[i] == status)
            return i;
    }
    return NKNOWN;
}

static size_t
bucket_index(int64_t ns)
{
    size_t i;

    for (i = 0; i < NBOUNDS; i++) {
        if (ns <= bounds_ns[i])
            return i;
    }
    return NBOUNDS;
}

void
api_metrics_count(struct api_metrics *m, const struct router_group *group,
                  const struct router_route *route, unsigned method,
                  int status, int64_t took_ns)
{
    struct shard *s = shard_mine(m);
    atomic_ullong *v;

    if (s == NULL)
        return;
    if (took_ns < 0)
        took_ns = 0;
    v = s->v + (slot_of(m, group, route) * NMETHODS +
                method_index(method)) * PER_METHOD;
    bump(&v[code_index(status)], 1);
    bump(&v[NCODES + bucket_index(took_ns)], 1);
    bump(&v[NCODES + NBUCKETS], (unsigned long long)took_ns);
}

/* --- the text format ----------------------------------------------------- */

/* The counters of one slot and method, over all shards (lock held). */
static void
sum_shards(const struct api_metrics *m, size_t at,
           unsigned long long out[PER_METHOD])
{
    const struct shard *s;
    size_t i;

    memset(out, 0, PER_METHOD * sizeof(out[0]));
    for (s = m->shards; s != NULL; s = s->next) {
        for (i = 0; i < PER_METHOD; i++)
            out[i] += atomic_load_explicit(&s->v[at + i],
                                           memory_order_relaxed);
    }
}

static int
render_counts(struct buf *out, const char *path, const char *method,
              const unsigned long long *v)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < NCODES; i++) {
        char code[16];

        if (v[i] == 0)
            continue;
        if (i < NKNOWN)
            snprintf(code, sizeof(code), "%d", codes[i]);
        else
            snprintf(code, sizeof(code), "other");
        rc = buf_addf(out, "coderd_api_requests_processed_total{code=\"%s\","
                      "method=\"%s\",path=\"%s\"} %llu\n", code, method,
                      path, v[i]);
    }
    return rc;
}

static int
render_latency(struct buf *out, const char *path, const char *method,
               const unsigned long long *v)
{
    const char *name = "coderd_api_request_latencies_seconds";
    unsigned long long seen = 0;
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < NBUCKETS; i++) {
        seen += v[NCODES + i];
        rc = buf_addf(out, "%s_bucket{method=\"%s\",path=\"%s\",le=\"%s\"} "
                      "%llu\n", name, method, path, bound_text[i], seen);
    }
    if (rc == 0)
        rc = buf_addf(out, "%s_sum{method=\"%s\",path=\"%s\"} %.9f\n"
                      "%s_count{method=\"%s\",path=\"%s\"} %llu\n", name,
                      method, path, (double)v[NCODES + NBUCKETS] / 1e9,
                      name, method, path, seen);
    return rc;
}

static bool
any_request(const unsigned long long *v)
{
    size_t i;

    for (i = 0; i < NBUCKETS; i++) {
        if (v[NCODES + i] != 0)
            return true;
    }
    return false;
}

/* One metric family over every slot and method with requests. */
static int
render_family(struct api_metrics *m, struct buf *out, bool latency)
{
    unsigned long long v[PER_METHOD];
    size_t slot;
    size_t mi;
    int rc = 0;

    pthread_mutex_lock(&m->mu);
    for (slot = 0; rc == 0 && slot < m->nslots; slot++) {
        for (mi = 0; rc == 0 && mi < NMETHODS; mi++) {
            sum_shards(m, (slot * NMETHODS + mi) * PER_METHOD, v);
            if (latency && !any_request(v))
                continue;
            if (latency)
                rc = render_latency(out, m->pattern[slot],
                                    method_names[mi], v);
            else
                rc = render_counts(out, m->pattern[slot], method_names[mi],
                                   v);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int
render_process(struct api_metrics *m, struct buf *out)
{
    struct rlimit rl;
    double virt;
    double res;
    double max_fds = 0;

    process_memory(&virt, &res);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        max_fds = (double)rl.rlim_cur;
    return buf_addf(out,
        "# HELP process_cpu_seconds_total User and system CPU time used, "
        "in seconds.\n# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total %.3f\n"
        "# HELP process_open_fds File descriptors open now.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n"
        "# HELP process_max_fds The open file descriptor limit.\n"
        "# TYPE process_max_fds gauge\nprocess_max_fds %.0f\n"
        "# HELP process_resident_memory_bytes Resident memory, in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes %.0f\n"
        "# HELP process_virtual_memory_bytes Virtual memory, in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\n"
        "process_virtual_memory_bytes %.0f\n"
        "# HELP process_start_time_seconds When the process started, in "
        "seconds since the Unix epoch.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds %.2f\n",
        process_cpu(), open_fds(), max_fds, res, virt, m->start_time);
}

int
api_metrics_render(struct api_metrics *m, struct buf *out)
{
    int rc = buf_addf(out,
        "# HELP coderd_api_concurrent_requests API requests being served "
        "right now.\n# TYPE coderd_api_concurrent_requests gauge\n"
        "coderd_api_concurrent_requests %ld\n",
        atomic_load(m->inflight));

    if (rc == 0)
        rc = buf_adds(out, "# HELP coderd_api_requests_processed_total "
                      "API requests answered, by route pattern, method "
                      "and status code.\n"
                      "# TYPE coderd_api_requests_processed_total "
                      "counter\n");
    if (rc == 0)
        rc = render_family(m, out, false);
    if (rc == 0)
        rc = buf_adds(out, "# HELP coderd_api_request_latencies_seconds "
                      "Time to answer an API request, by route pattern "
                      "and method.\n"
                      "# TYPE coderd_api_request_latencies_seconds "
                      "histogram\n");
    if (rc == 0)
        rc = render_family(m, out, true);
    if (rc == 0)
        rc = render_process(m, out);
    return rc < 0 ? ERR_NOMEM : 0;
}

/* --- the daemon ---------------------------------------------------------- */

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result
send_text(struct MHD_Connection *conn, unsigned status, const char *ctype,
          char *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data,
                                                             mode);
    enum MHD_Result ok;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
on_scrape(void *cls, struct MHD_Connection *conn, const char *url,
          const char *method, const char *version, const char *upload,
          size_t *upload_size, void **state)
{
    struct api_metrics *m = cls;
    struct buf b;
    char *text;
    size_t len;

    (void)method;
    (void)version;
    (void)upload;

    /* Answer on the second call, so that keep-alive works. */
    if (*state == NULL) {
        *state = m;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return send_text(conn, 404, "text/plain; charset=utf-8",
                         (char *)"404 page not found\n", 19,
                         MHD_RESPMEM_PERSISTENT);

    buf_init(&b);
    if (api_metrics_render(m, &b) < 0) {
        buf_release(&b);
        return MHD_NO;
    }
    text = buf_take(&b, &len);
    buf_release(&b);
    if (text == NULL)
        return MHD_NO;
    return send_text(conn, 200, METRICS_TYPE, text, len,
                     MHD_RESPMEM_MUST_FREE);
}

int
api_metrics_start(struct api_metrics *m, int fd, struct err *e)
{
    int rc = mhd_lazy_load(e);

    if (rc < 0) {
        close(fd);
        m->fd = -1;
        return rc;
    }

    m->fd = fd;
    m->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC,
        0, NULL, NULL, on_scrape, m,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_END);
    if (m->daemon == NULL) {
        close(fd);
        m->fd = -1;
        return err_set(e, ERR_IO, "cannot start the Prometheus listener");
    }
    return 0;
}

void
api_metrics_stop(struct api_metrics *m)
{
    if (m->daemon != NULL) {
        /* A quiesced daemon hands its listening socket back. */
        int fd = MHD_quiesce_daemon(m->daemon);

        if (fd >= 0)
            m->fd = fd;
        else
            m->fd = -1;     /* the daemon keeps it and closes it */
        MHD_stop_daemon(m->daemon);
        m->daemon = NULL;
    }
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}
