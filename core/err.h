/*
 * err.h: the one error model of coder-cfg.
 *
 * Every fallible function returns int: 0 on success, or one of the negative
 * codes below.  The codes come from one list, ERR_LIST, which makes both the
 * enum and the strings; only ever append to it, so that codes stay stable.
 *
 * Human detail travels in an optional struct err that the caller owns and
 * passes down.  Functions that fail fill it with one message in the house
 * style (lower case, no trailing period, what failed first, the subject in
 * quotes, then the cause); a NULL struct err means the caller does not want
 * the detail.  Nothing below api/ and tools/ ever prints.
 */
#ifndef CODER_CFG_ERR_H
#define CODER_CFG_ERR_H

#include <stddef.h>

#define ERR_LIST(X)                                                     \
    X(ERR_NOMEM, -1, "out of memory")                                   \
    X(ERR_INVALID, -2, "invalid input")                                 \
    X(ERR_NOT_FOUND, -3, "not found")                                   \
    X(ERR_EXISTS, -4, "already exists")                                 \
    X(ERR_EXPIRED, -5, "expired")                                       \
    X(ERR_IO, -6, "input/output error")                                 \
    X(ERR_CORRUPT, -7, "corrupt data")                                  \
    X(ERR_VERSION, -8, "written by a newer version")                    \
    X(ERR_TOO_LARGE, -9, "too large")                                   \
    X(ERR_FULL, -10, "storage full")                                    \
    X(ERR_UNAVAILABLE, -11, "service unavailable")                      \
    X(ERR_DENIED, -12, "permission denied")                             \
    X(ERR_BUSY, -13, "busy")                                            \
    X(ERR_UNSUPPORTED, -14, "not supported")                            \
    X(ERR_INTERNAL, -15, "internal error")                              \
    X(ERR_MISMATCH, -16, "does not match")                              \
    X(ERR_SUSPENDED, -17, "account suspended")

enum err_code {
    ERR_OK = 0,
#define ERR_ENUM_ITEM(name, value, text) name = value,
    ERR_LIST(ERR_ENUM_ITEM)
#undef ERR_ENUM_ITEM
};

/* The longest message kept; longer ones are cut at a character boundary. */
#define ERR_MSG_MAX 1024

struct err {
    int code;
    char msg[ERR_MSG_MAX];
};

/* Clears e (code 0, empty message).  e may be NULL. */
void err_clear(struct err *e);

/*
 * Records code and a printf-style message in e, unless e is NULL, and
 * returns code so that callers can write "return err_set(e, ...)".
 * fmt must be a literal: outside text is passed only as an argument.
 */
int err_set(struct err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Puts "prefix: " in front of the message already in e.  Used by callers
 * that add where a lower layer's failure happened.  Returns e->code, or
 * ERR_INTERNAL when e is NULL.
 */
int err_prefix(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The fixed text of a code ("not found"); "unknown error" for others. */
const char *err_str(int code);

/* The enum name of a code ("ERR_NOT_FOUND"), for logs and tests. */
const char *err_name(int code);

#endif
