/*
 * jsonx.c: Go-compatible JSON text on top of jansson.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonx.h"
#include "util.h"
#include "banned.h"

json_t *
jsonx_stringn(const char *s, size_t len)
{
    /* Kept as bytes: jsonx_dump writes invalid UTF-8 as \ufffd. */
    return json_stringn_nocheck(s, len);
}

json_t *
jsonx_string(const char *s)
{
    return jsonx_stringn(s, strlen(s));
}

json_t *
jsonx_real(double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/*
 * Shortest decimal digits of d that read back to d: fills digits (no dot,
 * no sign) and returns the decimal exponent of the first digit.
 */
static int
shortest_digits(double d, char digits[24])
{
    char text[40];
    int prec;
    int exp10 = 0;
    size_t n = 0;
    char *p;

    for (prec = 0; prec <= 16; prec++) {
        snprintf(text, sizeof(text), "%.*e", prec, d);
        if (strtod(text, NULL) == d)
            break;
    }
    for (p = text; *p != '\0' && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    }
    digits[n] = '\0';
    if (*p == 'e')
        exp10 = (int)strtol(p + 1, NULL, 10);
    while (n > 1 && digits[n - 1] == '0')
        digits[--n] = '\0';
    return exp10;
}

void
jsonx_format_double(double d, char out[32])
{
    char digits[24];
    double a = fabs(d);
    size_t n;
    size_t o = 0;
    int exp10;
    int i;

    if (d == 0) {
        snprintf(out, 32, signbit(d) ? "-0" : "0");
        return;
    }
    exp10 = shortest_digits(a, digits);
    n = strlen(digits);
    if (d < 0)
        out[o++] = '-';

    /* Go's encoding/json switches to exponent form outside [1e-6, 1e21). */
    if (a < 1e-6 || a >= 1e21) {
        out[o++] = digits[0];
        if (n > 1) {
            out[o++] = '.';
            for (i = 1; i < (int)n; i++)
                out[o++] = digits[i];
        }
        snprintf(out + o, 32 - o, "e%c%02d", exp10 < 0 ? '-' : '+',
                 exp10 < 0 ? -exp10 : exp10);
        /* Go trims "e-07" to "e-7" but keeps "e+21". */
        if (exp10 < 0 && exp10 > -10)
            snprintf(out + o, 32 - o, "e-%d", -exp10);
        return;
    }
    if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (i = -1; i > exp10; i--)
            out[o++] = '0';
        for (i = 0; i < (int)n; i++)
            out[o++] = digits[i];
    } else {
        for (i = 0; i <= exp10 || i < (int)n; i++) {
            if (i == exp10 + 1)
                out[o++] = '.';
            out[o++] = i < (int)n ? digits[i] : '0';
        }
    }
    out[o] = '\0';
}

/* Length of the run of ASCII bytes at u that need no escaping. */
static size_t
plain_run(const unsigned char *u, size_t left)
{
    size_t n = 0;

    while (n < left && u[n] >= 0x20 && u[n] < 0x80 && u[n] != '"' &&
           u[n] != '\\' && u[n] != '<' && u[n] != '>' && u[n] != '&')
        n++;
    return n;
}

/* Appends s as a JSON string literal the way Go's encoder writes it. */
static int
dump_string(struct buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    int rc = buf_addc(out, '"');
    size_t i = 0;

    while (rc == 0 && i < len) {
        unsigned char c = u[i];
        size_t n;

        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            rc = buf_add(out, esc, 2);
        } else if (c == '\n') {
            rc = buf_adds(out, "\\n");
        } else if (c == '\r') {
            rc = buf_adds(out, "\\r");
        } else if (c == '\t') {
            rc = buf_adds(out, "\\t");
        } else if (c == '\b') {
            rc = buf_adds(out, "\\b");
        } else if (c == '\f') {
            rc = buf_adds(out, "\\f");
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            rc = buf_add(out, esc, 6);
        } else if (c < 0x80) {
            size_t run = plain_run(u + i, len - i);

            rc = buf_add(out, s + i, run);
            i += run;
            continue;
        } else {
            n = util_utf8_len(u + i, len - i);
            if (n == 0) {
                rc = buf_adds(out, "\\ufffd");
                i++;
                continue;
            }
            if (n == 3 && c == 0xe2 && u[i + 1] == 0x80 &&
                (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
                rc = buf_adds(out, u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
            else
                rc = buf_add(out, s + i, n);
            i += n;
            continue;
        }
        i++;
    }
    return rc < 0 ? rc : buf_addc(out, '"');
}

/* Deepest nesting we write; our documents stay far below it. */
#define DUMP_DEPTH_MAX 64

static int
dump_value(const json_t *v, struct buf *out, int depth)
{
    char num[32];
    int rc = 0;

    if (depth > DUMP_DEPTH_MAX)
        return ERR_TOO_LARGE;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        bool first = true;

        rc = buf_addc(out, '{');
        json_object_foreach((json_t *)v, key, item) {
            if (rc == 0 && !first)
                rc = buf_addc(out, ',');
            first = false;
            if (rc == 0)
                rc = dump_string(out, key, strlen(key));
            if (rc == 0)
                rc = buf_addc(out, ':');
            if (rc == 0)
                rc = dump_value(item, out, depth + 1);
        }
        return rc < 0 ? rc : buf_addc(out, '}');
    }
    case JSON_ARRAY: {
        size_t i;

        rc = buf_addc(out, '[');
        for (i = 0; rc == 0 && i < json_array_size(v); i++) {
            if (i > 0)
                rc = buf_addc(out, ',');
            if (rc == 0)
                rc = dump_value(json_array_get(v, i), out, depth + 1);
        }
        return rc < 0 ? rc : buf_addc(out, ']');
    }
    case JSON_STRING:
        return dump_string(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return buf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        jsonx_format_double(json_real_value(v), num);
        return buf_adds(out, num);
    case JSON_TRUE:
        return buf_adds(out, "true");
    case JSON_FALSE:
        return buf_adds(out, "false");
    case JSON_NULL:
        return buf_adds(out, "null");
    }
    return ERR_INVALID;
}

int
jsonx_dump(const json_t *v, struct buf *out, bool newline)
{
    size_t mark = out->len;
    int rc = dump_value(v, out, 0);

    if (rc == 0 && newline)
        rc = buf_addc(out, '\n');
    if (rc < 0) {
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
    }
    return rc;
}

static int
key_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *
jsonx_sorted_copy(json_t *obj)
{
    const char **keys;
    const char *key;
    json_t *val, *out = json_object();
    size_t n = 0, i;

    keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
    if (keys == NULL || out == NULL) {
        free(keys);
        json_decref(out);
        return NULL;
    }
    json_object_foreach(obj, key, val)
        keys[n++] = key;
    qsort(keys, n, sizeof(*keys), key_order);
    for (i = 0; out != NULL && i < n; i++) {
        if (json_object_set_nocheck(out, keys[i],
                                    json_object_get(obj, keys[i])) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    free(keys);
    return out;
}
