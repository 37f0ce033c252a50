/*
 * optval_yaml_resolve.c: what yaml.v3 reads an untagged plain scalar as.
 *
 * The writer needs this to know when a string must be double-quoted (it
 * would read back as a bool, a number, null or a timestamp), and the
 * decoder needs it for the tags in its error messages and for bools.
 * The rules follow yaml.v3's resolve(): a first-character hint, a table
 * of fixed spellings, then Go's integer and float syntax and a date form.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "optval_priv.h"
#include "banned.h"

struct spelling {
    const char *text;
    enum optval_yres res;
};

static const struct spelling fixed[] = {
    { "", OPTVAL_YRES_NULL }, { "~", OPTVAL_YRES_NULL },
    { "null", OPTVAL_YRES_NULL }, { "Null", OPTVAL_YRES_NULL },
    { "NULL", OPTVAL_YRES_NULL },
    { "true", OPTVAL_YRES_BOOL }, { "True", OPTVAL_YRES_BOOL },
    { "TRUE", OPTVAL_YRES_BOOL }, { "false", OPTVAL_YRES_BOOL },
    { "False", OPTVAL_YRES_BOOL }, { "FALSE", OPTVAL_YRES_BOOL },
    { ".nan", OPTVAL_YRES_FLOAT }, { ".NaN", OPTVAL_YRES_FLOAT },
    { ".NAN", OPTVAL_YRES_FLOAT }, { ".inf", OPTVAL_YRES_FLOAT },
    { ".Inf", OPTVAL_YRES_FLOAT }, { ".INF", OPTVAL_YRES_FLOAT },
    { "+.inf", OPTVAL_YRES_FLOAT }, { "+.Inf", OPTVAL_YRES_FLOAT },
    { "+.INF", OPTVAL_YRES_FLOAT }, { "-.inf", OPTVAL_YRES_FLOAT },
    { "-.Inf", OPTVAL_YRES_FLOAT }, { "-.INF", OPTVAL_YRES_FLOAT },
};

static bool
digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t
digits(const char *s)
{
    size_t n = 0;

    while (digit(s[n]))
        n++;
    return n;
}

static int
digit_value(char c)
{
    if (digit(c))
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return (c | 0x20) - 'a' + 10;
    return 99;
}

/* strconv.ParseInt(s, 0, 64) or ParseUint(s, 0, 64) succeeds. */
static bool
go_int(const char *s)
{
    bool neg = false, sign = false;
    uint64_t v = 0;
    int base = 10;

    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        sign = true;
        s++;
    }
    if (s[0] == '0' && (s[1] | 0x20) == 'x') {
        base = 16;
        s += 2;
    } else if (s[0] == '0' && (s[1] | 0x20) == 'o') {
        base = 8;
        s += 2;
    } else if (s[0] == '0' && (s[1] | 0x20) == 'b') {
        base = 2;
        s += 2;
    } else if (s[0] == '0' && s[1] != '\0') {
        base = 8;
        s++;
    }
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        int d = digit_value(*s);

        if (d >= base)
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (neg)
        return v <= (uint64_t)INT64_MAX + 1;
    return !sign || v <= (uint64_t)INT64_MAX;
}

/* The number reads through strconv.ParseFloat without leaving range. */
static bool
finite_float(const char *s)
{
    double v;

    errno = 0;
    v = strtod(s, NULL);
    return !(errno == ERANGE && isinf(v));
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool
yaml_float(const char *s)
{
    const char *p = s;
    size_t n;

    if (*p == '+' || *p == '-')
        p++;
    if (*p == '.') {
        n = digits(p + 1);
        if (n == 0)
            return false;
        p += 1 + n;
    } else {
        n = digits(p);
        if (n == 0)
            return false;
        p += n;
        if (*p == '.')
            p += 1 + digits(p + 1);
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        n = digits(p);
        if (n == 0)
            return false;
        p += n;
    }
    return *p == '\0' && finite_float(s);
}

/* Reads 1 or 2 digits into *v; returns how many. */
static size_t
num12(const char *s, int *v)
{
    size_t n = digit(s[0]) ? (digit(s[1]) ? 2 : 1) : 0;

    *v = n == 0 ? -1 : (n == 1 ? s[0] - '0' : (s[0] - '0') * 10 +
                        s[1] - '0');
    return n;
}

static bool
valid_date(int y, int m, int d)
{
    static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (m < 1 || m > 12 || d < 1 || d > days[m - 1])
        return false;
    return !(m == 2 && d == 29 && !leap);
}

/* "15:4:5" with an optional fraction; returns the length or 0. */
static size_t
clock_part(const char *s)
{
    const char *p = s;
    int h, mi, sec;
    size_t n;

    if ((n = num12(p, &h)) == 0 || h > 23 || p[n] != ':')
        return 0;
    p += n + 1;
    if ((n = num12(p, &mi)) == 0 || mi > 59 || p[n] != ':')
        return 0;
    p += n + 1;
    if ((n = num12(p, &sec)) == 0 || sec > 59)
        return 0;
    p += n;
    if ((*p == '.' || *p == ',') && digit(p[1]))
        p += 1 + digits(p + 1);
    return (size_t)(p - s);
}

static bool
zone_part(const char *z)
{
    if (strcmp(z, "Z") == 0)
        return true;
    return (z[0] == '+' || z[0] == '-') && digit(z[1]) && digit(z[2]) &&
           z[3] == ':' && digit(z[4]) && digit(z[5]) && z[6] == '\0';
}

/*
 * yaml.v3's timestamp forms: 2006-1-2, then optionally "T" or "t" and a
 * clock with a zone, or a space and a clock with none.
 */
static bool
timestamp(const char *s)
{
    int m, d;
    size_t n, c;

    if (digits(s) != 4 || s[4] != '-')
        return false;
    n = 5;
    c = num12(s + n, &m);
    if (c == 0 || s[n + c] != '-')
        return false;
    n += c + 1;
    c = num12(s + n, &d);
    if (c == 0 || !valid_date((int)strtol(s, NULL, 10), m, d))
        return false;
    n += c;
    if (s[n] == '\0')
        return true;
    if (s[n] != 'T' && s[n] != 't' && s[n] != ' ')
        return false;
    c = clock_part(s + n + 1);
    if (c == 0)
        return false;
    if (s[n] == ' ')
        return s[n + 1 + c] == '\0';
    return zone_part(s + n + 1 + c);
}

static enum optval_yres
numeric(const char *s)
{
    char plain[128];
    size_t i, n = 0;

    if (timestamp(s))
        return OPTVAL_YRES_TIMESTAMP;
    for (i = 0; s[i] != '\0' && n + 1 < sizeof(plain); i++) {
        if (s[i] != '_')
            plain[n++] = s[i];
    }
    if (s[i] != '\0')
        return OPTVAL_YRES_STR;
    plain[n] = '\0';
    if (go_int(plain))
        return OPTVAL_YRES_INT;
    if (yaml_float(plain))
        return OPTVAL_YRES_FLOAT;
    return OPTVAL_YRES_STR;
}

enum optval_yres
optval_yaml_resolve(const char *s)
{
    size_t i;
    char c = s[0];

    if (c != '\0' && strchr("+-0123456789.yYnNtTfFoO~", c) == NULL)
        return OPTVAL_YRES_STR;
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strcmp(s, fixed[i].text) == 0)
            return fixed[i].res;
    }
    if (c == '.') {
        size_t n = digits(s + 1);
        const char *p = s + 1 + n;

        if (n > 0 && (*p == 'e' || *p == 'E')) {
            p++;
            if (*p == '+' || *p == '-')
                p++;
            if (digits(p) == 0)
                return OPTVAL_YRES_STR;
            p += digits(p);
        }
        return n > 0 && *p == '\0' && finite_float(s) ? OPTVAL_YRES_FLOAT
                                                      : OPTVAL_YRES_STR;
    }
    if (c == '+' || c == '-' || digit(c))
        return numeric(s);
    return OPTVAL_YRES_STR;
}
