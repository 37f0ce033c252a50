/*
 * log.c: one line per event, human or JSON, level checked first.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/log.h"
#include "core/buf.h"
#include "core/jsonx.h"
#include "core/util.h"
#include "core/banned.h"

/* Lines longer than this are cut; a log line is never a document. */
#define LOG_LINE_MAX (64 * 1024)
#define LOG_FIELDS_MAX 32

struct api_log {
    int human_fd;               /* -1 when off */
    int json_fd;
    bool close_human;
    bool close_json;
    bool debug;
    pcre2_code *filter;
};

static const char *const level_names[] = { "debug", "info", "warn",
                                           "error" };
static const char *const level_upper[] = { "DEBUG", "INFO", "WARN",
                                           "ERROR" };

static int
open_dest(const char *path, int *fd, bool *owned, struct err *e)
{
    *fd = -1;
    *owned = false;
    if (path == NULL || path[0] == '\0')
        return 0;
    if (strcmp(path, "/dev/stderr") == 0) {
        *fd = STDERR_FILENO;
        return 0;
    }
    if (strcmp(path, "/dev/stdout") == 0) {
        *fd = STDOUT_FILENO;
        return 0;
    }
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return err_set(e, ERR_IO, "cannot open log file \"%s\": %s", path,
                       strerror(errno));
    *owned = true;
    return 0;
}

/* The filters become one alternation, as Coder joins them. */
static int
compile_filter(struct api_log *log, const struct api_log_options *o,
               struct err *e)
{
    struct buf pat;
    int code;
    PCRE2_SIZE off;
    size_t i;
    int rc = ERR_NOMEM;

    buf_init(&pat);
    for (i = 0; i < o->nfilters; i++) {
        if (buf_adds(&pat, i > 0 ? "|(?:" : "(?:") < 0 ||
            buf_adds(&pat, o->filters[i]) < 0 || buf_addc(&pat, ')') < 0)
            goto out;
    }
    log->filter = pcre2_compile((PCRE2_SPTR)buf_str(&pat),
                                PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                                &off, NULL);
    if (log->filter == NULL) {
        rc = err_set(e, ERR_INVALID, "invalid log filter \"%s\"",
                     buf_str(&pat));
        goto out;
    }
    rc = 0;
out:
    buf_release(&pat);
    return rc;
}

int
api_log_open(struct api_log **out, const struct api_log_options *o,
             struct err *e)
{
    struct api_log *log = calloc(1, sizeof(*log));
    int rc = ERR_NOMEM;

    *out = NULL;
    if (log == NULL)
        return err_set(e, rc, "out of memory");
    log->human_fd = -1;
    log->json_fd = -1;
    log->debug = o->verbose || o->nfilters > 0;

    rc = open_dest(o->human, &log->human_fd, &log->close_human, e);
    if (rc == 0)
        rc = open_dest(o->json, &log->json_fd, &log->close_json, e);
    if (rc == 0 && o->nfilters > 0)
        rc = compile_filter(log, o, e);
    if (rc < 0) {
        api_log_close(log);
        return rc;
    }
    *out = log;
    return 0;
}

void
api_log_close(struct api_log *log)
{
    if (log == NULL)
        return;
    if (log->close_human)
        close(log->human_fd);
    if (log->close_json)
        close(log->json_fd);
    pcre2_code_free(log->filter);
    free(log);
}

bool
api_log_enabled(const struct api_log *log, enum api_log_level level)
{
    if (log == NULL || (log->human_fd < 0 && log->json_fd < 0))
        return false;
    return level != API_LOG_DEBUG || log->debug;
}

static bool
filter_matches(const struct api_log *log, const char *text)
{
    pcre2_match_data *md;
    int rc;

    md = pcre2_match_data_create_from_pattern(log->filter, NULL);
    if (md == NULL)
        return false;
    rc = pcre2_match(log->filter, (PCRE2_SPTR)text, strlen(text), 0, 0, md,
                     NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* A value that needs no quotes: printable ASCII without ' ', '"', '='. */
static bool
plain_value(const char *v)
{
    const unsigned char *p = (const unsigned char *)v;

    if (*p == '\0')
        return false;
    for (; *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '=')
            return false;
    }
    return true;
}

/* v with control characters escaped (and quotes too when quoted). */
static int
add_escaped(struct buf *b, const char *v, bool quoted)
{
    const unsigned char *p = (const unsigned char *)v;
    int rc = 0;

    for (; rc == 0 && *p != '\0'; p++) {
        if (quoted && (*p == '"' || *p == '\\'))
            rc = buf_addf(b, "\\%c", *p);
        else if (*p == '\n')
            rc = buf_adds(b, "\\n");
        else if (*p < ' ' || *p == 0x7f)
            rc = buf_addf(b, "\\x%02x", *p);
        else
            rc = buf_addc(b, (char)*p);
    }
    return rc;
}

static int
add_quoted(struct buf *b, const char *v)
{
    int rc = buf_addc(b, '"');

    if (rc == 0)
        rc = add_escaped(b, v, true);
    return rc == 0 ? buf_addc(b, '"') : rc;
}

static void
human_time(char out[32])
{
    int64_t now = util_now_ns();
    time_t secs = (time_t)(now / UTIL_NS_PER_SEC);
    struct tm tm;
    size_t n;

    gmtime_r(&secs, &tm);
    n = strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03d",
             (int)(now % UTIL_NS_PER_SEC / 1000000));
}

static void
write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void
write_human(const struct api_log *log, enum api_log_level level,
            const char *component, const char *msg,
            const char *const *kv, size_t nkv)
{
    struct buf b;
    char ts[32];
    size_t i;
    int rc;

    buf_init_limit(&b, LOG_LINE_MAX);
    human_time(ts);
    /* A message may quote outside text: it still takes one line. */
    rc = buf_addf(&b, "%s [%s] %s: ", ts, level_names[level], component);
    if (rc == 0)
        rc = add_escaped(&b, msg, false);
    for (i = 0; rc == 0 && i + 1 < nkv; i += 2) {
        rc = buf_addf(&b, " %s=", kv[i]);
        if (rc == 0)
            rc = plain_value(kv[i + 1]) ? buf_adds(&b, kv[i + 1])
                                        : add_quoted(&b, kv[i + 1]);
    }
    buf_addc(&b, '\n');
    write_all(log->human_fd, b.data, b.len);
    buf_release(&b);
}

static json_t *
json_event(enum api_log_level level, const char *component, const char *msg,
           const char *const *kv, size_t nkv)
{
    json_t *o = json_object();
    json_t *fields = json_object();
    char ts[40];
    size_t i;

    if (o == NULL || fields == NULL) {
        json_decref(o);
        json_decref(fields);
        return NULL;
    }
    util_time_rfc3339(util_now_ns(), ts);
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_upper[level]));
    json_object_set_new(o, "msg", jsonx_string(msg));
    json_object_set_new(o, "logger_names",
                        json_pack("[s]", component));
    for (i = 0; i + 1 < nkv; i += 2)
        json_object_set_new(fields, kv[i], jsonx_string(kv[i + 1]));
    json_object_set_new(o, "fields", fields);
    return o;
}

static void
write_json(const struct api_log *log, enum api_log_level level,
           const char *component, const char *msg,
           const char *const *kv, size_t nkv)
{
    json_t *o = json_event(level, component, msg, kv, nkv);
    struct buf b;

    if (o == NULL)
        return;
    buf_init_limit(&b, LOG_LINE_MAX);
    if (jsonx_dump(o, &b, true) == 0)
        write_all(log->json_fd, b.data, b.len);
    buf_release(&b);
    json_decref(o);
}

void
api_log_write(struct api_log *log, enum api_log_level level,
              const char *component, const char *msg, ...)
{
    const char *kv[LOG_FIELDS_MAX * 2];
    size_t nkv = 0;
    const char *key;
    va_list ap;

    if (!api_log_enabled(log, level))
        return;
    if (level == API_LOG_DEBUG && log->filter != NULL &&
        !filter_matches(log, component) && !filter_matches(log, msg))
        return;

    /* Pairs with a NULL value are left out. */
    va_start(ap, msg);
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);

        if (value != NULL && nkv < LOG_FIELDS_MAX * 2) {
            kv[nkv++] = key;
            kv[nkv++] = value;
        }
    }
    va_end(ap);

    if (log->human_fd >= 0)
        write_human(log, level, component, msg, kv, nkv);
    if (log->json_fd >= 0)
        write_json(log, level, component, msg, kv, nkv);
}
