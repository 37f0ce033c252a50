/*
 * buf.c: growable byte buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "banned.h"

void
buf_init(struct buf *b)
{
    buf_init_limit(b, BUF_DEFAULT_LIMIT);
}

void
buf_init_limit(struct buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap_limit = limit;
}

void
buf_release(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

/* Makes room for extra more bytes plus the terminating NUL. */
static int
grow(struct buf *b, size_t extra)
{
    size_t need;
    size_t next;
    char *p;

    if (extra > b->cap_limit - b->len)
        return ERR_TOO_LARGE;
    need = b->len + extra + 1;
    if (need <= b->alloc)
        return 0;

    next = b->alloc < 64 ? 64 : b->alloc;
    while (next < need)
        next *= 2;
    if (next > b->cap_limit + 1)
        next = b->cap_limit + 1;
    p = realloc(b->data, next);
    if (p == NULL)
        return ERR_NOMEM;
    b->data = p;
    b->alloc = next;
    return 0;
}

int
buf_add(struct buf *b, const void *data, size_t len)
{
    int rc = grow(b, len);

    if (rc < 0)
        return rc;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    int rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ERR_INVALID;

    rc = grow(b, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *
buf_take(struct buf *b, size_t *len)
{
    char *p;

    if (b->data == NULL && grow(b, 0) < 0)
        return NULL;
    p = b->data;
    p[b->len] = '\0';
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

const char *
buf_str(const struct buf *b)
{
    return b->data != NULL ? b->data : "";
}
