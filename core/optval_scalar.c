/*
 * optval_scalar.c: the small parsers behind Set for Bool, Int64,
 * Float64, HostPort, Enum and Regexp, and helpers the other optval files
 * share (quoting a subject, string lists, UTF-8 checks).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "err.h"
#include "util.h"
#include "optval_priv.h"
#include "banned.h"

int
optval_quote(struct buf *out, const char *s)
{
    int rc = buf_addc(out, '"');

    for (; rc == 0 && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            rc = buf_addf(out, "\\%c", c);
        else if (c == '\n')
            rc = buf_adds(out, "\\n");
        else if (c == '\t')
            rc = buf_adds(out, "\\t");
        else if (c == '\r')
            rc = buf_adds(out, "\\r");
        else if (c < 0x20 || c == 0x7f)
            rc = buf_addf(out, "\\x%02x", c);
        else
            rc = buf_addc(out, (char)c);
    }
    return rc == 0 ? buf_addc(out, '"') : rc;
}

void
optval_list_free(char **list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

int
optval_list_push(char ***list, size_t *n, const char *s)
{
    char **grown;
    char *copy = strdup(s);

    if (copy == NULL)
        return ERR_NOMEM;
    grown = realloc(*list, (*n + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(copy);
        return ERR_NOMEM;
    }
    grown[(*n)++] = copy;
    *list = grown;
    return 0;
}

bool
optval_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t n = util_utf8_len((const unsigned char *)s + i, len - i);

        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

int
optval_parse_bool(const char *s, bool *b, struct err *e)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true",
                                       "True", NULL };
    static const char *const no[] = { "0", "f", "F", "FALSE", "false",
                                      "False", "", NULL };
    size_t i;

    *b = false;
    for (i = 0; yes[i] != NULL; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *b = true;
            return 0;
        }
    }
    for (i = 0; no[i] != NULL; i++) {
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return err_set(e, ERR_INVALID, "invalid boolean \"%s\": want true or "
                   "false", s);
}

int
optval_parse_int(const char *s, int64_t *i, struct err *e)
{
    int rc = util_parse_i64(s, strlen(s), i);

    if (rc == ERR_INVALID)
        return err_set(e, rc, "invalid integer \"%s\"", s);
    if (rc < 0)
        return err_set(e, ERR_INVALID, "integer \"%s\" out of range", s);
    return 0;
}

/* The syntax strconv.ParseFloat accepts, which strtod does not check. */
static bool
float_syntax_ok(const char *s)
{
    const char *p = s;

    if (*p == '+' || *p == '-')
        p++;
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 ||
        strcasecmp(p, "nan") == 0)
        return true;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return strpbrk(p, "pP") != NULL;
    return *p == '.' || (*p >= '0' && *p <= '9');
}

int
optval_parse_float(const char *s, double *f, struct err *e)
{
    char *end = NULL;
    double v;

    *f = 0;
    if (!float_syntax_ok(s))
        return err_set(e, ERR_INVALID, "invalid number \"%s\"", s);
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0')
        return err_set(e, ERR_INVALID, "invalid number \"%s\"", s);
    *f = v;
    if (errno == ERANGE && isinf(v))
        return err_set(e, ERR_INVALID, "number \"%s\" out of range", s);
    return 0;
}

/* The shortest digits that read back as d (d finite, not zero). */
static void
shortest(double d, char digits[24], int *dp)
{
    char tmp[40];
    int prec;
    size_t n = 0, i;

    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, fabs(d));
        if (strtod(tmp, NULL) == fabs(d))
            break;
    }
    for (i = 0; tmp[i] != 'e'; i++) {
        if (tmp[i] != '.')
            digits[n++] = tmp[i];
    }
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *dp = (int)strtol(tmp + i + 1, NULL, 10) + 1;
}

static int
fixed_form(const char *digits, int dp, struct buf *out)
{
    int nd = (int)strlen(digits);
    int i, rc = 0;

    if (dp <= 0) {
        rc = buf_adds(out, "0.");
        for (i = 0; rc == 0 && i < -dp; i++)
            rc = buf_addc(out, '0');
        return rc == 0 ? buf_adds(out, digits) : rc;
    }
    for (i = 0; rc == 0 && i < dp; i++)
        rc = buf_addc(out, i < nd ? digits[i] : '0');
    if (rc == 0 && nd > dp)
        rc = buf_addf(out, ".%s", digits + dp);
    return rc;
}

int
optval_format_float(double f, char fmt, struct buf *out)
{
    char digits[24];
    int dp, rc = 0;

    if (isnan(f))
        return buf_adds(out, fmt == 'g' ? ".nan" : "NaN");
    if (isinf(f) && fmt == 'g')
        return buf_adds(out, f < 0 ? "-.inf" : ".inf");
    if (isinf(f))
        return buf_adds(out, f < 0 ? "-Inf" : "+Inf");
    if (signbit(f))
        rc = buf_addc(out, '-');
    if (f == 0)
        return rc == 0 ? buf_addc(out, '0') : rc;
    shortest(f, digits, &dp);
    if (rc == 0 && fmt == 'g' && (dp - 1 < -4 || dp - 1 >= 6)) {
        rc = buf_addc(out, digits[0]);
        if (rc == 0 && digits[1] != '\0')
            rc = buf_addf(out, ".%s", digits + 1);
        return rc == 0 ? buf_addf(out, "e%c%02d", dp - 1 < 0 ? '-' : '+',
                                  abs(dp - 1)) : rc;
    }
    return rc == 0 ? fixed_form(digits, dp, out) : rc;
}

/* Go's net.SplitHostPort; host and port are slices of s. */
static const char *
split(const char *s, size_t *hlen, const char **host, const char **port)
{
    const char *colon = strrchr(s, ':');
    const char *from_open = s, *from_close = s;

    if (colon == NULL)
        return "missing port in address";
    *host = s;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');

        if (end == NULL)
            return "missing ']' in address";
        if (end[1] == '\0')
            return "missing port in address";
        if (end + 1 != colon)
            return end[1] == ':' ? "too many colons in address"
                                 : "missing port in address";
        *host = s + 1;
        *hlen = (size_t)(end - s - 1);
        from_open = s + 1;
        from_close = end + 1;
    } else {
        *hlen = (size_t)(colon - s);
        if (memchr(s, ':', *hlen) != NULL)
            return "too many colons in address";
    }
    if (strchr(from_open, '[') != NULL)
        return "unexpected '[' in address";
    if (strchr(from_close, ']') != NULL)
        return "unexpected ']' in address";
    *port = colon + 1;
    return NULL;
}

int
optval_hostport_set(struct opt_value *v, const char *s, struct err *e)
{
    const char *host = NULL, *port = NULL, *why;
    char *h, *p;
    size_t hlen = 0;

    if (s[0] == '\0')
        return err_set(e, ERR_INVALID, "must not be empty");
    why = split(s, &hlen, &host, &port);
    h = strndup(why == NULL ? host : "", why == NULL ? hlen : 0);
    p = strdup(why == NULL ? port : "");
    if (h == NULL || p == NULL) {
        free(h);
        free(p);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    free(v->host);
    free(v->port);
    v->host = h;
    v->port = p;
    if (why != NULL)
        return err_set(e, ERR_INVALID, "address %s: %s", s, why);
    return 0;
}

int
optval_hostport_text(const struct opt_value *v, struct buf *out)
{
    if (v->host[0] == '\0' && v->port[0] == '\0')
        return 0;
    if (strchr(v->host, ':') != NULL)
        return buf_addf(out, "[%s]:%s", v->host, v->port);
    return buf_addf(out, "%s:%s", v->host, v->port);
}

/*
 * Go's strings.EqualFold against an ASCII choice: ASCII letters match
 * either case, and the two non-ASCII runes that fold to ASCII letters
 * (KELVIN SIGN to k, LATIN SMALL LETTER LONG S to s) match too.
 */
static bool
fold_equal(const char *s, const char *choice)
{
    for (; *choice != '\0'; choice++) {
        char c = (char)(*choice | (*choice >= 'A' && *choice <= 'Z'
                                   ? 0x20 : 0));

        if (c == 'k' && strncmp(s, "\xe2\x84\xaa", 3) == 0) {
            s += 3;
        } else if (c == 's' && strncmp(s, "\xc5\xbf", 2) == 0) {
            s += 2;
        } else {
            char t = (char)(*s | (*s >= 'A' && *s <= 'Z' ? 0x20 : 0));

            if (*s == '\0' || t != c)
                return false;
            s++;
        }
    }
    return *s == '\0';
}

int
optval_enum_check(const char *const *choices, const char *s,
                  struct err *e)
{
    struct buf list;
    size_t i;
    int rc;

    for (i = 0; choices != NULL && choices[i] != NULL; i++) {
        if (fold_equal(s, choices[i]))
            return 0;
    }
    buf_init(&list);
    rc = buf_addc(&list, '[');
    for (i = 0; rc == 0 && choices != NULL && choices[i] != NULL; i++)
        rc = buf_addf(&list, "%s%s", i > 0 ? " " : "", choices[i]);
    if (rc == 0)
        rc = buf_addc(&list, ']');
    if (rc == 0)
        rc = err_set(e, ERR_INVALID, "invalid choice: %s, should be one "
                     "of %s", s, buf_str(&list));
    else
        rc = err_set(e, rc, "out of memory");
    buf_release(&list);
    return rc;
}

/*
 * Perl constructs that RE2 (Go's regexp) refuses but PCRE2 accepts:
 * lookaround, atomic groups and single-digit backreferences.  Returns the
 * offending text or NULL.
 */
static const char *
re2_unsupported(const char *p, size_t *len)
{
    static const char *const groups[] = { "(?=", "(?!", "(?<=", "(?<!",
                                          "(?>", NULL };
    bool in_class = false;
    size_t i;

    for (; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            if (!in_class && p[1] >= '1' && p[1] <= '9' &&
                !(p[2] >= '0' && p[2] <= '7')) {
                *len = 2;
                return p;
            }
            p++;
            continue;
        }
        if (*p == '[' || *p == ']') {
            in_class = *p == '[';
            continue;
        }
        for (i = 0; !in_class && groups[i] != NULL; i++) {
            if (strncmp(p, groups[i], strlen(groups[i])) == 0) {
                *len = strlen(groups[i]);
                return p;
            }
        }
    }
    return NULL;
}

int
optval_regexp_compile(const char *src, void **re, struct err *e)
{
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE off = 0;
    const char *bad;
    pcre2_code *code;
    size_t blen = 0;
    int code_err = 0;

    bad = re2_unsupported(src, &blen);
    if (bad != NULL)
        return err_set(e, ERR_INVALID, "invalid regex expression: error "
                       "parsing regexp: invalid or unsupported Perl "
                       "syntax: `%.*s`", (int)blen, bad);
    code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                         &code_err, &off, NULL);
    if (code == NULL) {
        pcre2_get_error_message(code_err, msg, sizeof(msg));
        return err_set(e, ERR_INVALID, "invalid regex expression: error "
                       "parsing regexp: %s at offset %zu: `%s`",
                       (const char *)msg, (size_t)off, src);
    }
    *re = code;
    return 0;
}

void
optval_regexp_free(void *re)
{
    pcre2_code_free(re);
}

void *
optval_regexp_copy(const void *re)
{
    return re == NULL ? NULL : pcre2_code_copy(re);
}
