/*
 * err.c: the error strings and the detail helpers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "banned.h"

void
err_clear(struct err *e)
{
    if (e == NULL)
        return;
    e->code = 0;
    e->msg[0] = '\0';
}

int
err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return code;
}

int
err_prefix(struct err *e, const char *fmt, ...)
{
    char head[ERR_MSG_MAX];
    char old[ERR_MSG_MAX];
    va_list ap;

    if (e == NULL)
        return ERR_INTERNAL;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old);
    return e->code;
}

const char *
err_str(int code)
{
    switch (code) {
    case ERR_OK:
        return "success";
#define ERR_STR_CASE(name, value, text) case name: return text;
    ERR_LIST(ERR_STR_CASE)
#undef ERR_STR_CASE
    }
    return "unknown error";
}

const char *
err_name(int code)
{
    switch (code) {
    case ERR_OK:
        return "ERR_OK";
#define ERR_NAME_CASE(name, value, text) case name: return #name;
    ERR_LIST(ERR_NAME_CASE)
#undef ERR_NAME_CASE
    }
    return "ERR_UNKNOWN";
}
