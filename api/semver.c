/*
 * semver.c: parse into slices of the text, then compare part by part.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/semver.h"
#include "core/banned.h"

struct slice {
    const char *p;
    size_t n;
};

struct parsed {
    struct slice num[3];        /* missing parts read as "0" */
    struct slice pre;           /* without the '-'; n == 0 when none */
};

static size_t
digits(const char *p)
{
    size_t n = 0;

    while (p[n] >= '0' && p[n] <= '9')
        n++;
    return n;
}

/* A number without leading zeros (apart from "0" itself). */
static const char *
number(const char *p, struct slice *out)
{
    size_t n = digits(p);

    if (n == 0 || (n > 1 && p[0] == '0'))
        return NULL;
    out->p = p;
    out->n = n;
    return p + n;
}

static bool
ident_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '-';
}

/* Dot-separated identifiers; numeric ones without leading zeros. */
static const char *
idents(const char *p, bool numeric_rule)
{
    for (;;) {
        const char *start = p;

        while (ident_char(*p))
            p++;
        if (p == start)
            return NULL;
        if (numeric_rule && digits(start) == (size_t)(p - start) &&
            p - start > 1 && start[0] == '0')
            return NULL;
        if (*p != '.')
            return p;
        p++;
    }
}

static bool
parse(const char *v, struct parsed *out)
{
    static const char zero[] = "0";
    const char *p = v;
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < 3; i++) {
        out->num[i].p = zero;
        out->num[i].n = 1;
    }
    if (v == NULL || *p != 'v')
        return false;
    p = number(p + 1, &out->num[0]);
    for (i = 1; p != NULL && i < 3 && *p == '.'; i++)
        p = number(p + 1, &out->num[i]);
    if (p == NULL)
        return false;
    if (*p == '\0')
        return true;
    if (i < 3)
        return false;           /* short forms take nothing more */
    if (*p == '-') {
        out->pre.p = p + 1;
        p = idents(p + 1, true);
        if (p == NULL)
            return false;
        out->pre.n = (size_t)(p - out->pre.p);
    }
    if (*p == '+')
        p = idents(p + 1, false);
    return p != NULL && *p == '\0';
}

bool
semver_valid(const char *v)
{
    struct parsed x;

    return parse(v, &x);
}

static int
cmp_num(struct slice a, struct slice b)
{
    int c;

    if (a.n != b.n)
        return a.n < b.n ? -1 : 1;
    c = memcmp(a.p, b.p, a.n);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

static bool
all_digits(struct slice s)
{
    return s.n > 0 && digits(s.p) >= s.n;
}

/* One pre-release identifier against another. */
static int
cmp_ident(struct slice a, struct slice b)
{
    bool an = all_digits(a);
    bool bn = all_digits(b);
    size_t n = a.n < b.n ? a.n : b.n;
    int c;

    if (an && bn)
        return cmp_num(a, b);
    if (an != bn)
        return an ? -1 : 1;
    c = memcmp(a.p, b.p, n);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return a.n == b.n ? 0 : a.n < b.n ? -1 : 1;
}

static struct slice
next_ident(struct slice *rest)
{
    struct slice id = *rest;
    const char *dot = memchr(rest->p, '.', rest->n);

    if (dot == NULL) {
        rest->n = 0;
        return id;
    }
    id.n = (size_t)(dot - rest->p);
    rest->n -= id.n + 1;
    rest->p = dot + 1;
    return id;
}

static int
cmp_pre(struct slice a, struct slice b)
{
    if (a.n == 0 || b.n == 0)
        return a.n == b.n ? 0 : a.n == 0 ? 1 : -1;
    while (a.n > 0 && b.n > 0) {
        int c = cmp_ident(next_ident(&a), next_ident(&b));

        if (c != 0)
            return c;
    }
    return a.n == b.n ? 0 : a.n == 0 ? -1 : 1;
}

int
semver_compare(const char *a, const char *b)
{
    struct parsed x;
    struct parsed y;
    bool xv = parse(a, &x);
    bool yv = parse(b, &y);
    int i;

    if (!xv || !yv)
        return xv == yv ? 0 : xv ? 1 : -1;
    for (i = 0; i < 3; i++) {
        int c = cmp_num(x.num[i], y.num[i]);

        if (c != 0)
            return c;
    }
    return cmp_pre(x.pre, y.pre);
}

bool
semver_is_current(const char *own, const char *latest)
{
    char base[128];

    snprintf(base, sizeof(base), "%.*s", (int)strcspn(own, "-+"), own);
    return semver_compare(base, latest) >= 0;
}
