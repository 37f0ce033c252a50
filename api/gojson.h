/*
 * gojson.h: what Go's json.Decoder says about a request body.
 *
 * Coder's CSP endpoint decodes its body with json.NewDecoder(r.Body) and
 * puts the decoder's error text in the 400 detail, so clients see Go's
 * words: "EOF", "unexpected EOF", "invalid character 'o' in literal null
 * (expecting 'u')".  gojson_first_value runs the same state machine as
 * Go's scanner over the first value only (trailing bytes are never looked
 * at, as with a Decoder) and reports where that value ends, so the caller
 * can hand exactly those bytes to jansson.
 */
#ifndef CODER_CFG_API_GOJSON_H
#define CODER_CFG_API_GOJSON_H

#include <jansson.h>
#include <stddef.h>

/* Go's maxNestingDepth. */
#define GOJSON_MAX_DEPTH 10000

/*
 * Scans the first JSON value in data[0..len).  Returns 0 with *end the
 * offset just past it, or ERR_INVALID with Go's error text in msg.
 */
int gojson_first_value(const char *data, size_t len, size_t *end,
                       char *msg, size_t size);

/* The word Go uses for v's kind in an UnmarshalTypeError ("array"...). */
const char *gojson_kind(const json_t *v);

#endif
