/*
 * gojson.c: a byte-at-a-time JSON scanner with Go's error messages.
 *
 * The states and their error contexts mirror encoding/json's scanner; the
 * container stack is a byte array so that depth costs no C stack.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/gojson.h"
#include "core/err.h"
#include "core/banned.h"

enum st {
    ST_VALUE, ST_VALUE_OR_CLOSE, ST_KEY, ST_KEY_OR_CLOSE, ST_END,
    ST_STR, ST_ESC, ST_U1, ST_U2, ST_U3, ST_U4,
    ST_NEG, ST_ZERO, ST_INT, ST_DOT, ST_FRAC, ST_E, ST_ESIGN, ST_EXP,
    ST_T, ST_TR, ST_TRU, ST_F, ST_FA, ST_FAL, ST_FALS, ST_N, ST_NU, ST_NUL
};

enum ctx { IN_KEY, IN_OBJ_VALUE, IN_ARRAY };

enum step { STEP_MORE, STEP_DONE, STEP_ERROR };

struct scan {
    enum st st;
    unsigned char *stack;
    size_t depth;
    char *msg;
    size_t size;
};

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Go's quoteChar: the byte as a rune inside single quotes. */
static void
quote_char(unsigned char c, char out[16])
{
    static const char esc[] = "abtnvfr";

    if (c == '\'')
        snprintf(out, 16, "'\\''");
    else if (c == '\\')
        snprintf(out, 16, "'\\\\'");
    else if (c >= 7 && c <= 13)
        snprintf(out, 16, "'\\%c'", esc[c - 7]);
    else if (c < 0x20 || c == 0x7f)
        snprintf(out, 16, "'\\x%02x'", c);
    else if (c < 0x80)
        snprintf(out, 16, "'%c'", c);
    else if (c < 0xa1 || c == 0xad)
        snprintf(out, 16, "'\\u%04x'", c);
    else
        snprintf(out, 16, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
}

static enum step
fail(struct scan *s, unsigned char c, const char *context)
{
    char q[16];

    quote_char(c, q);
    snprintf(s->msg, s->size, "invalid character %s %s", q, context);
    return STEP_ERROR;
}

static enum step
push(struct scan *s, enum ctx c, enum st next)
{
    if (s->depth >= GOJSON_MAX_DEPTH) {
        snprintf(s->msg, s->size, "exceeded max depth");
        return STEP_ERROR;
    }
    s->stack[s->depth++] = (unsigned char)c;
    s->st = next;
    return STEP_MORE;
}

static enum step
pop(struct scan *s)
{
    s->depth--;
    s->st = ST_END;
    return s->depth == 0 ? STEP_DONE : STEP_MORE;
}

static enum step
begin_value(struct scan *s, unsigned char c)
{
    static const char lit[] = "tfn";
    static const enum st lit_st[] = { ST_T, ST_F, ST_N };
    const char *p = c != '\0' ? strchr(lit, c) : NULL;

    if (is_space(c))
        return STEP_MORE;
    if (c == '{')
        return push(s, IN_KEY, ST_KEY_OR_CLOSE);
    if (c == '[')
        return push(s, IN_ARRAY, ST_VALUE_OR_CLOSE);
    if (c == '"')
        s->st = ST_STR;
    else if (c == '-')
        s->st = ST_NEG;
    else if (c == '0')
        s->st = ST_ZERO;
    else if (c >= '1' && c <= '9')
        s->st = ST_INT;
    else if (p != NULL)
        s->st = lit_st[p - lit];
    else
        return fail(s, c, "looking for beginning of value");
    return STEP_MORE;
}

/* After a complete value: what its container expects next. */
static enum step
end_value(struct scan *s, unsigned char c)
{
    if (s->depth == 0)
        return STEP_DONE;
    if (is_space(c)) {
        s->st = ST_END;
        return STEP_MORE;
    }
    switch (s->stack[s->depth - 1]) {
    case IN_KEY:
        if (c != ':')
            return fail(s, c, "after object key");
        s->stack[s->depth - 1] = IN_OBJ_VALUE;
        s->st = ST_VALUE;
        return STEP_MORE;
    case IN_OBJ_VALUE:
        if (c == '}')
            return pop(s);
        if (c != ',')
            return fail(s, c, "after object key:value pair");
        s->stack[s->depth - 1] = IN_KEY;
        s->st = ST_KEY;
        return STEP_MORE;
    default:
        if (c == ']')
            return pop(s);
        if (c != ',')
            return fail(s, c, "after array element");
        s->st = ST_VALUE;
        return STEP_MORE;
    }
}

static enum step
step_string(struct scan *s, unsigned char c)
{
    switch (s->st) {
    case ST_STR:
        if (c == '"')
            s->st = ST_END;
        else if (c == '\\')
            s->st = ST_ESC;
        else if (c < 0x20)
            return fail(s, c, "in string literal");
        return STEP_MORE;
    case ST_ESC:
        if (c == 'u')
            s->st = ST_U1;
        else if (c != '\0' && strchr("bfnrt\\/\"", c) != NULL)
            s->st = ST_STR;
        else
            return fail(s, c, "in string escape code");
        return STEP_MORE;
    default:
        if (!is_hex(c))
            return fail(s, c, "in \\u hexadecimal character escape");
        s->st = s->st == ST_U4 ? ST_STR : (enum st)(s->st + 1);
        return STEP_MORE;
    }
}

static enum step
step_number(struct scan *s, unsigned char c)
{
    switch (s->st) {
    case ST_NEG:
        if (!is_digit(c))
            return fail(s, c, "in numeric literal");
        s->st = c == '0' ? ST_ZERO : ST_INT;
        return STEP_MORE;
    case ST_INT:
        /* After the digits, the rest is as after a zero. */
        if (is_digit(c))
            return STEP_MORE;
        /* fall through */
    case ST_ZERO:
        if (c == '.')
            s->st = ST_DOT;
        else if (c == 'e' || c == 'E')
            s->st = ST_E;
        else
            return end_value(s, c);
        return STEP_MORE;
    case ST_DOT:
        if (!is_digit(c))
            return fail(s, c, "after decimal point in numeric literal");
        s->st = ST_FRAC;
        return STEP_MORE;
    case ST_FRAC:
        if (is_digit(c))
            return STEP_MORE;
        if (c != 'e' && c != 'E')
            return end_value(s, c);
        s->st = ST_E;
        return STEP_MORE;
    case ST_E:
        if (c == '+' || c == '-') {
            s->st = ST_ESIGN;
            return STEP_MORE;
        }
        /* fall through */
    case ST_ESIGN:
        if (!is_digit(c))
            return fail(s, c, "in exponent of numeric literal");
        s->st = ST_EXP;
        return STEP_MORE;
    default:
        return is_digit(c) ? STEP_MORE : end_value(s, c);
    }
}

static enum step
step_literal(struct scan *s, unsigned char c)
{
    static const struct {
        enum st st;
        char want;
        const char *context;
    } lits[] = {
        { ST_T, 'r', "in literal true (expecting 'r')" },
        { ST_TR, 'u', "in literal true (expecting 'u')" },
        { ST_TRU, 'e', "in literal true (expecting 'e')" },
        { ST_F, 'a', "in literal false (expecting 'a')" },
        { ST_FA, 'l', "in literal false (expecting 'l')" },
        { ST_FAL, 's', "in literal false (expecting 's')" },
        { ST_FALS, 'e', "in literal false (expecting 'e')" },
        { ST_N, 'u', "in literal null (expecting 'u')" },
        { ST_NU, 'l', "in literal null (expecting 'l')" },
        { ST_NUL, 'l', "in literal null (expecting 'l')" },
    };
    size_t i;

    for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        if (lits[i].st != s->st)
            continue;
        if (c != (unsigned char)lits[i].want)
            return fail(s, c, lits[i].context);
        s->st = (s->st == ST_TRU || s->st == ST_FALS || s->st == ST_NUL)
                    ? ST_END : (enum st)(s->st + 1);
        return STEP_MORE;
    }
    return fail(s, c, "looking for beginning of value");
}

static enum step
step(struct scan *s, unsigned char c)
{
    switch (s->st) {
    case ST_VALUE:
        return begin_value(s, c);
    case ST_VALUE_OR_CLOSE:
        if (is_space(c))
            return STEP_MORE;
        return c == ']' ? end_value(s, c) : begin_value(s, c);
    case ST_KEY_OR_CLOSE:
        if (is_space(c))
            return STEP_MORE;
        if (c == '}') {
            s->stack[s->depth - 1] = IN_OBJ_VALUE;
            return end_value(s, c);
        }
        /* fall through */
    case ST_KEY:
        if (is_space(c))
            return STEP_MORE;
        if (c != '"')
            return fail(s, c, "looking for beginning of object key string");
        s->st = ST_STR;
        return STEP_MORE;
    case ST_END:
        return end_value(s, c);
    case ST_STR: case ST_ESC: case ST_U1: case ST_U2: case ST_U3:
    case ST_U4:
        return step_string(s, c);
    case ST_NEG: case ST_ZERO: case ST_INT: case ST_DOT: case ST_FRAC:
    case ST_E: case ST_ESIGN: case ST_EXP:
        return step_number(s, c);
    default:
        return step_literal(s, c);
    }
}

/* At the end of input Go steps a space: a value may end there. */
static int
at_eof(struct scan *s, const char *data, size_t len, size_t *end)
{
    bool complete = s->depth == 0 &&
                    (s->st == ST_END || s->st == ST_ZERO ||
                     s->st == ST_INT || s->st == ST_FRAC ||
                     s->st == ST_EXP);
    size_t i;

    if (complete) {
        *end = len;
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!is_space((unsigned char)data[i])) {
            snprintf(s->msg, s->size, "unexpected EOF");
            return ERR_INVALID;
        }
    }
    snprintf(s->msg, s->size, "EOF");
    return ERR_INVALID;
}

int
gojson_first_value(const char *data, size_t len, size_t *end, char *msg,
                   size_t size)
{
    struct scan s;
    size_t i;
    int rc = ERR_INVALID;

    memset(&s, 0, sizeof(s));
    s.msg = msg;
    s.size = size;
    s.st = ST_VALUE;
    s.stack = malloc(GOJSON_MAX_DEPTH);
    if (s.stack == NULL) {
        snprintf(msg, size, "out of memory");
        return ERR_NOMEM;
    }

    for (i = 0; i < len; i++) {
        bool top_scalar = s.depth == 0 && s.st != ST_VALUE;
        enum step r = step(&s, (unsigned char)data[i]);

        if (r == STEP_ERROR)
            goto out;
        if (r == STEP_DONE) {
            /* A container ends with its bracket; a scalar one byte on. */
            *end = top_scalar ? i : i + 1;
            rc = 0;
            goto out;
        }
    }
    rc = at_eof(&s, data, len, end);
out:
    free(s.stack);
    return rc;
}

const char *
gojson_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_NULL:
        return "null";
    default:
        return "number";
    }
}
