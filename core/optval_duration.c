/*
 * optval_duration.c: Go durations in and out.
 *
 * serpent first tries str2duration, whose grammar is Go's with the extra
 * units d and w, and falls back to time.ParseDuration, whose error is the
 * one reported.  The two differ in their limits: str2duration (written
 * against an older Go) stops at INT64_MAX in every sum, while Go today
 * also accepts a magnitude of exactly 2^63 when the sign is negative.
 * parse_pass runs either grammar; opt_duration_parse runs both in turn.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "opt.h"
#include "optval_priv.h"
#include "banned.h"

#define MAG_LIMIT ((uint64_t)1 << 63)

struct unit {
    const char *name;
    uint64_t ns;
    bool extended;        /* only str2duration knows it */
};

static const struct unit units[] = {
    { "ns", 1, false },
    { "us", 1000, false },
    { "\xc2\xb5s", 1000, false },      /* U+00B5 MICRO SIGN */
    { "\xce\xbcs", 1000, false },      /* U+03BC GREEK SMALL LETTER MU */
    { "ms", 1000000, false },
    { "s", UINT64_C(1000000000), false },
    { "m", UINT64_C(60000000000), false },
    { "h", UINT64_C(3600000000000), false },
    { "d", UINT64_C(86400000000000), true },
    { "w", UINT64_C(604800000000000), true },
};

enum dur_fail {
    DUR_OK,
    DUR_INVALID,
    DUR_NO_UNIT,
    DUR_BAD_UNIT
};

/* One grammar: which units it knows and how large a sum may grow. */
struct grammar {
    bool extended;
    uint64_t limit;
};

/* Where parse_pass stopped when it met an unknown unit. */
struct bad_unit {
    const char *at;
    size_t len;
};

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
leading_int(const char **p, uint64_t limit, uint64_t *out)
{
    const char *s = *p;
    uint64_t x = 0;

    for (; is_digit(*s); s++) {
        if (x > limit / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
        if (x > limit)
            return -1;
    }
    *p = s;
    *out = x;
    return 0;
}

/* Digits after the point; those that no longer fit are skipped. */
static void
leading_fraction(const char **p, uint64_t limit, uint64_t *out,
                 double *scale)
{
    const char *s = *p;
    bool full = false;
    uint64_t x = 0;

    *scale = 1;
    for (; is_digit(*s); s++) {
        if (full)
            continue;
        if (x > limit / 10 || x * 10 + (uint64_t)(*s - '0') > limit) {
            full = true;
            continue;
        }
        x = x * 10 + (uint64_t)(*s - '0');
        *scale *= 10;
    }
    *p = s;
    *out = x;
}

static const struct unit *
find_unit(const char *name, size_t len, bool extended)
{
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (units[i].extended && !extended)
            continue;
        if (strlen(units[i].name) == len &&
            memcmp(units[i].name, name, len) == 0)
            return &units[i];
    }
    return NULL;
}

/* One "<number><unit>" piece, in nanoseconds. */
static enum dur_fail
parse_piece(const char **p, const struct grammar *g, uint64_t *out,
            struct bad_unit *bad)
{
    const char *s = *p;
    const char *start;
    const struct unit *u;
    uint64_t v, f = 0;
    double scale = 1;
    bool pre, post = false;

    if (!(*s == '.' || is_digit(*s)))
        return DUR_INVALID;
    start = s;
    if (leading_int(&s, g->limit, &v) < 0)
        return DUR_INVALID;
    pre = s != start;
    if (*s == '.') {
        start = ++s;
        leading_fraction(&s, g->limit, &f, &scale);
        post = s != start;
    }
    if (!pre && !post)
        return DUR_INVALID;

    start = s;
    while (*s != '\0' && *s != '.' && !is_digit(*s))
        s++;
    if (s == start)
        return DUR_NO_UNIT;
    u = find_unit(start, (size_t)(s - start), g->extended);
    if (u == NULL) {
        bad->at = start;
        bad->len = (size_t)(s - start);
        return DUR_BAD_UNIT;
    }

    if (v > g->limit / u->ns)
        return DUR_INVALID;
    v *= u->ns;
    if (f > 0) {
        /* Through float64, as Go does: 1.5h is exactly 5400s. */
        v += (uint64_t)((double)f * ((double)u->ns / scale));
        if (v > g->limit)
            return DUR_INVALID;
    }
    *p = s;
    *out = v;
    return DUR_OK;
}

static enum dur_fail
parse_pass(const char *text, const struct grammar *g, int64_t *ns,
           struct bad_unit *bad)
{
    const char *s = text;
    uint64_t sum = 0;
    bool neg = false;

    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return DUR_OK;
    }
    if (*s == '\0')
        return DUR_INVALID;

    while (*s != '\0') {
        uint64_t v;
        enum dur_fail f = parse_piece(&s, g, &v, bad);

        if (f != DUR_OK)
            return f;
        sum += v;
        if (sum > g->limit)
            return DUR_INVALID;
    }

    if (neg) {
        *ns = sum == MAG_LIMIT ? INT64_MIN : -(int64_t)sum;
        return DUR_OK;
    }
    if (sum > (uint64_t)INT64_MAX)
        return DUR_INVALID;
    *ns = (int64_t)sum;
    return DUR_OK;
}

static int
duration_error(struct err *e, enum dur_fail f, const char *text,
               const struct bad_unit *bad)
{
    struct buf q, u;
    int rc;

    buf_init(&q);
    buf_init(&u);
    if (optval_quote(&q, text) < 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (f == DUR_NO_UNIT) {
        rc = err_set(e, ERR_INVALID, "missing unit in duration %s",
                     buf_str(&q));
    } else if (f == DUR_BAD_UNIT) {
        char name[64];
        size_t n = bad->len < sizeof(name) ? bad->len : sizeof(name) - 1;

        memcpy(name, bad->at, n);
        name[n] = '\0';
        optval_quote(&u, name);
        rc = err_set(e, ERR_INVALID, "unknown unit %s in duration %s",
                     buf_str(&u), buf_str(&q));
    } else {
        rc = err_set(e, ERR_INVALID, "invalid duration %s", buf_str(&q));
    }
out:
    buf_release(&q);
    buf_release(&u);
    return rc;
}

int
opt_duration_parse(const char *s, int64_t *ns, struct err *e)
{
    static const struct grammar str2duration = { true, INT64_MAX };
    static const struct grammar go = { false, MAG_LIMIT };
    struct bad_unit bad = { NULL, 0 };
    enum dur_fail f;

    *ns = 0;
    if (parse_pass(s, &str2duration, ns, &bad) == DUR_OK)
        return 0;
    f = parse_pass(s, &go, ns, &bad);
    if (f == DUR_OK)
        return 0;
    *ns = 0;
    return duration_error(e, f, s, &bad);
}

/*
 * Writes v / 10^prec's fraction backwards before *w: the digits without
 * trailing zeros, and the point only when a digit was written.  Returns
 * v / 10^prec.
 */
static uint64_t
put_fraction(char *buf, int *w, uint64_t v, int prec)
{
    bool printed = false;
    int i;

    for (i = 0; i < prec; i++) {
        int digit = (int)(v % 10);

        printed = printed || digit != 0;
        if (printed)
            buf[--*w] = (char)('0' + digit);
        v /= 10;
    }
    if (printed)
        buf[--*w] = '.';
    return v;
}

static void
put_int(char *buf, int *w, uint64_t v)
{
    do {
        buf[--*w] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
}

/* Below one second: a single unit, ns, µs or ms. */
static void
put_small(char *buf, int *w, uint64_t u)
{
    int prec;

    buf[--*w] = 's';
    if (u < 1000) {
        prec = 0;
        buf[--*w] = 'n';
    } else if (u < 1000000) {
        prec = 3;
        buf[--*w] = '\xb5';
        buf[--*w] = '\xc2';
    } else {
        prec = 6;
        buf[--*w] = 'm';
    }
    u = put_fraction(buf, w, u, prec);
    put_int(buf, w, u);
}

void
opt_duration_format(int64_t ns, char out[40])
{
    char buf[40];
    int w = (int)sizeof(buf);
    uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;

    if (ns == 0) {
        memcpy(out, "0s", 3);
        return;
    }
    if (u < UINT64_C(1000000000)) {
        put_small(buf, &w, u);
    } else {
        buf[--w] = 's';
        u = put_fraction(buf, &w, u, 9);
        put_int(buf, &w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            put_int(buf, &w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                put_int(buf, &w, u);
            }
        }
    }
    if (ns < 0)
        buf[--w] = '-';
    memcpy(out, buf + w, sizeof(buf) - (size_t)w);
    out[sizeof(buf) - (size_t)w] = '\0';
}
