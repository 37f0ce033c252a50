/*
 * log.h: the server's log, per Coder's logging options.
 *
 * A log writes each event as one line to up to two destinations: the
 * human form (--log-human, "2025-11-20 10:15:00.123 [info] api: message
 * key=value ...") and the JSON form (--log-json, one object per line).
 * Debug events appear only with --verbose or --log-filter; with a filter,
 * only debug events whose component or message matches it.
 *
 * Callers check api_log_enabled before they format anything for a line,
 * and never pass a secret as a field.  Field values are outside text as
 * often as not: the writer quotes and escapes them so that one event stays
 * one line.  Every function is safe to call from many threads; each line
 * is one write(2).
 */
#ifndef CODER_CFG_API_LOG_H
#define CODER_CFG_API_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

enum api_log_level {
    API_LOG_DEBUG,
    API_LOG_INFO,
    API_LOG_WARN,
    API_LOG_ERROR
};

struct api_log_options {
    const char *human;          /* path, "/dev/stderr", or "" for none */
    const char *json;           /* path, "/dev/stdout", or "" for none */
    bool verbose;               /* show debug events */
    char *const *filters;       /* regular expressions (PCRE2), or NULL */
    size_t nfilters;
};

struct api_log;

/*
 * Opens the destinations (files are created 0644 and appended to).
 * Errors: ERR_INVALID for a filter that does not compile, ERR_IO for a
 * destination that cannot be opened; e names which.
 */
int api_log_open(struct api_log **out, const struct api_log_options *o,
                 struct err *e);

/* Closes files the log opened; NULL is a no-op. */
void api_log_close(struct api_log *log);

/* True when an event at level would be written anywhere (NULL: false). */
bool api_log_enabled(const struct api_log *log, enum api_log_level level);

/*
 * Writes one event: component ("api", "server"), a fixed message, then
 * pairs of key and value strings ending with NULL.  A NULL value leaves
 * its pair out.  log may be NULL.
 */
void api_log_write(struct api_log *log, enum api_log_level level,
                   const char *component, const char *msg, ...);

#endif
