/*
 * jsonx.h: JSON text exactly as Go's encoding/json writes it.
 *
 * We build documents with jansson, whose objects keep insertion order, and
 * write them through jsonx_dump, which produces what Go's json.Encoder
 * with SetEscapeHTML(true) would: compact, "<" ">" "&" and U+2028/U+2029
 * escaped as \u003c \u003e \u0026 \u2028 \u2029, non-ASCII left as UTF-8,
 * "/" not escaped, and a trailing newline when asked for.
 *
 * jsonx_dump walks the jansson tree itself rather than calling jansson's
 * encoder, so that strings and reals come out as Go writes them: reals in
 * the shortest form that reads back to the same double (-1, 12.5, 1e-7),
 * and invalid UTF-8 written as \ufffd.
 */
#ifndef CODER_CFG_JSONX_H
#define CODER_CFG_JSONX_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"

/*
 * A jansson string for s, which need not be valid UTF-8 (jansson's own
 * json_string refuses such text); jsonx_dump writes each invalid byte as
 * \ufffd, as Go's encoder does.  NULL only when memory runs out.
 */
json_t *jsonx_string(const char *s);

/* jsonx_string for (s, len), which may hold NUL bytes. */
json_t *jsonx_stringn(const char *s, size_t len);

/*
 * A number as Go would write a float64 holding v: an integral value is
 * stored as a jansson integer, any other as a real.  Either way jsonx_dump
 * prints Go's text.
 */
json_t *jsonx_real(double v);

/*
 * A new object with the members of obj in byte-wise key order, as Go
 * writes a map (the values are shared, not copied).  NULL when out of
 * memory.
 */
json_t *jsonx_sorted_copy(json_t *obj);

/*
 * Appends v to out in Go's form; with newline, a "\n" follows.  Returns 0,
 * ERR_NOMEM or ERR_TOO_LARGE.  v may be any JSON value.
 */
int jsonx_dump(const json_t *v, struct buf *out, bool newline);

/*
 * Formats a finite d the way Go's encoding/json does: shortest round-trip
 * digits, exponent form only below 1e-6 or from 1e21 up ("1e-7", "1e+21").
 * out must hold 32 bytes.
 */
void jsonx_format_double(double d, char out[32]);

#endif
