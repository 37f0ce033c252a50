/*
 * buf.h: a growable byte buffer with a hard cap.
 *
 * Invariants: data is NUL-terminated whenever len > 0 or after any append,
 * so it can be used as a C string; len never exceeds cap_limit.  The caller
 * embeds struct buf and owns it: buf_init, appends, then buf_release (or
 * buf_take to keep the bytes).  Every append fails with ERR_TOO_LARGE,
 * leaving the buffer as it was, rather than grow past cap_limit, and with
 * ERR_NOMEM when memory runs out.
 */
#ifndef CODER_CFG_BUF_H
#define CODER_CFG_BUF_H

#include <stddef.h>

/* The cap used by buf_init: 64 MiB, far above any document we write. */
#define BUF_DEFAULT_LIMIT ((size_t)64 << 20)

struct buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap_limit;
};

/* Empty buffer with the default cap.  Allocates nothing. */
void buf_init(struct buf *b);

/* Empty buffer that refuses to grow past limit bytes. */
void buf_init_limit(struct buf *b, size_t limit);

/* Frees the bytes; the buffer is empty and usable again. */
void buf_release(struct buf *b);

/* Sets len to 0 and keeps the allocation. */
void buf_reset(struct buf *b);

int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);

/* printf-style append; fmt must be a literal. */
int buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Hands the bytes to the caller (NUL-terminated, never NULL on success:
 * an empty buffer gives a one-byte "" allocation) and leaves b empty.
 * Returns NULL only when memory runs out.
 */
char *buf_take(struct buf *b, size_t *len);

/* The contents as a C string; "" for an empty buffer. */
const char *buf_str(const struct buf *b);

#endif
