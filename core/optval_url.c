/*
 * optval_url.c: Go's url.Parse and url.URL.String, as serpent.URL uses
 * them.
 *
 * We never need the decoded parts, only the text String() would give, so
 * each part is checked the way Parse checks it and then written the way
 * String() writes it.  Covered: scheme (lower-cased), opaque text,
 * userinfo, host with [IPv6] literals and a numeric port, path, raw query
 * (kept as typed, as Go does), a forced empty query ("x?"), and fragment.
 * Go's checks: control characters, a missing scheme before ':', bad %
 * escapes (in the host only %25 or escapes of non-ASCII bytes), a
 * non-numeric port, an unclosed '[', characters a host may not hold, and
 * a colon in the first segment of a relative path.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "optval_priv.h"
#include "banned.h"

enum mode {
    M_PATH,
    M_HOST,
    M_ZONE,
    M_USER,
    M_FRAGMENT
};

/* The parts of a parsed URL, as slices of one working copy. */
struct url {
    char *scheme;
    char *opaque;
    char *user;           /* raw userinfo or NULL */
    char *host;           /* raw authority host or NULL */
    char *path;
    char *query;          /* NULL when there is no '?' */
    char *fragment;       /* NULL when there is no '#' */
    bool force_query;
    bool omit_host;
};

static bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static int
unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

static bool
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Go's shouldEscape for the modes we use. */
static bool
should_escape(unsigned char c, enum mode m)
{
    if (is_alnum(c))
        return false;
    if ((m == M_HOST || m == M_ZONE) && strchr("!$&'()*+,;=:[]<>\"", c) &&
        c != '\0')
        return false;
    if (c != '\0' && strchr("-_.~", c))
        return false;
    if (c != '\0' && strchr("$&+,/:;=?@", c)) {
        if (m == M_PATH)
            return c == '?';
        if (m == M_USER)
            return c == '@' || c == '/' || c == '?' || c == ':';
        if (m == M_FRAGMENT)
            return false;
    }
    if (m == M_FRAGMENT && c != '\0' && strchr("!()*", c))
        return false;
    return true;
}

static int
escape_error(struct err *e, const char *at)
{
    size_t n = strnlen(at, 3);

    return err_set(e, ERR_INVALID, "invalid URL escape \"%.*s\"", (int)n,
                   at);
}

/* Go's unescape, checking only; *out gets the decoded text when asked. */
static int
unescape(const char *s, enum mode m, struct buf *out, struct err *e)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int v;

            if (!is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return escape_error(e, s + i);
            v = unhex(s[i + 1]) << 4 | unhex(s[i + 2]);
            if (m == M_HOST && unhex(s[i + 1]) < 8 &&
                strncmp(s + i, "%25", 3) != 0)
                return escape_error(e, s + i);
            if (m == M_ZONE && strncmp(s + i, "%25", 3) != 0 && v != ' ' &&
                should_escape((unsigned char)v, M_HOST))
                return escape_error(e, s + i);
            if (out != NULL)
                rc = buf_addc(out, (char)v);
            i += 2;
            continue;
        }
        if ((m == M_HOST || m == M_ZONE) && c < 0x80 &&
            should_escape(c, m))
            return err_set(e, ERR_INVALID, "invalid character \"%c\" in "
                           "host name", c);
        if (out != NULL)
            rc = buf_addc(out, (char)c);
    }
    return rc;
}

static int
escape(const char *s, enum mode m, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (; rc == 0 && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (should_escape(c, m))
            rc = buf_addf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
        else
            rc = buf_addc(out, (char)c);
    }
    return rc;
}

/* Go's validEncoded: may the raw text be written back as it is? */
static bool
valid_encoded(const char *s, enum mode m)
{
    for (; *s != '\0'; s++) {
        if (strchr("!$&'()*+,;=:@[]%", *s) != NULL)
            continue;
        if (should_escape((unsigned char)*s, m))
            return false;
    }
    return true;
}

static bool
valid_port(const char *p)
{
    if (*p == '\0')
        return true;
    if (*p != ':')
        return false;
    return strspn(p + 1, "0123456789") == strlen(p + 1);
}

static int
port_error(struct err *e, const char *p)
{
    struct buf q;
    int rc;

    buf_init(&q);
    optval_quote(&q, p);
    rc = err_set(e, ERR_INVALID, "invalid port %s after host", buf_str(&q));
    buf_release(&q);
    return rc;
}

/* Go's parseHost: checks only, since String() re-escapes the decoded. */
static int
check_host(char *host, struct buf *decoded, struct err *e)
{
    char *close, *zone, *colon;
    int rc;

    if (host[0] != '[') {
        colon = strrchr(host, ':');
        if (colon != NULL && !valid_port(colon))
            return port_error(e, colon);
        return unescape(host, M_HOST, decoded, e);
    }
    close = strrchr(host, ']');
    if (close == NULL)
        return err_set(e, ERR_INVALID, "missing ']' in host");
    if (!valid_port(close + 1))
        return port_error(e, close + 1);
    *close = '\0';
    zone = strstr(host, "%25");
    if (zone != NULL)
        *zone = '\0';
    rc = unescape(host, M_HOST, decoded, e);
    if (rc == 0 && zone != NULL) {
        *zone = '%';
        rc = unescape(zone, M_ZONE, decoded, e);
    }
    *close = ']';
    if (rc == 0)
        rc = unescape(close, M_HOST, decoded, e);
    return rc;
}

static bool
valid_userinfo(const char *s)
{
    for (; *s != '\0'; s++) {
        if (!is_alnum((unsigned char)*s) &&
            strchr("-._:~!$&'()*+,;=%@", *s) == NULL)
            return false;
    }
    return true;
}

/* Go's getScheme: sets u->scheme and returns the rest, or NULL. */
static char *
split_scheme(struct url *u, char *s, struct err *e)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            continue;
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (i == 0)
                return s;
            continue;
        }
        if (c == ':') {
            if (i == 0) {
                err_set(e, ERR_INVALID, "missing protocol scheme");
                return NULL;
            }
            s[i] = '\0';
            u->scheme = s;
            for (; *s != '\0'; s++) {
                if (*s >= 'A' && *s <= 'Z')
                    *s = (char)(*s + 32);
            }
            return s + 1;
        }
        return s;
    }
    return s;
}

static void
split_query(struct url *u, char *rest)
{
    char *q = strchr(rest, '?');

    u->query = NULL;
    if (q == NULL)
        return;
    *q = '\0';
    if (q[1] == '\0')
        u->force_query = true;
    else
        u->query = q + 1;
}

static int
split_authority(struct url *u, char *rest, struct err *e)
{
    char *auth = rest + 2, *slash = strchr(auth, '/'), *at;
    static char empty[] = "";

    /* The path keeps its '/', so shift the authority left by one. */
    if (slash != NULL) {
        memmove(rest, auth, (size_t)(slash - auth));
        rest[slash - auth] = '\0';
        auth = rest;
        u->path = slash;
    } else {
        u->path = empty;
    }
    at = strrchr(auth, '@');
    u->host = at != NULL ? at + 1 : auth;
    if (at != NULL) {
        *at = '\0';
        u->user = auth;
        if (!valid_userinfo(u->user))
            return err_set(e, ERR_INVALID, "net/url: invalid userinfo");
    }
    return 0;
}

/* Go's parse(rawURL, false) without the fragment. */
static int
parse(struct url *u, char *s, struct err *e)
{
    static char empty[] = "";
    char *rest, *slash;

    u->scheme = empty;
    u->path = empty;
    for (rest = s; *rest != '\0'; rest++) {
        if ((unsigned char)*rest < 0x20 || *rest == 0x7f)
            return err_set(e, ERR_INVALID, "net/url: invalid control "
                           "character in URL");
    }
    if (strcmp(s, "*") == 0) {
        u->path = s;
        return 0;
    }
    rest = split_scheme(u, s, e);
    if (rest == NULL)
        return ERR_INVALID;
    split_query(u, rest);
    if (rest[0] != '/') {
        if (u->scheme[0] != '\0') {
            u->opaque = rest;
            return 0;
        }
        slash = strchr(rest, '/');
        if (memchr(rest, ':', slash != NULL ? (size_t)(slash - rest)
                                            : strlen(rest)) != NULL)
            return err_set(e, ERR_INVALID, "first path segment in URL "
                           "cannot contain colon");
    }
    u->path = rest;
    if ((u->scheme[0] != '\0' || strncmp(rest, "///", 3) != 0) &&
        strncmp(rest, "//", 2) == 0)
        return split_authority(u, rest, e);
    u->omit_host = u->scheme[0] != '\0' && rest[0] == '/';
    return 0;
}

/*
 * EscapedPath and EscapedFragment: the raw text when it is valid as it
 * is, else the decoded text escaped again.  Bad escapes are refused
 * first, as setPath and setFragment refuse them.
 */
static int
write_part(const char *raw, enum mode m, struct buf *out, struct err *e)
{
    struct buf dec;
    int rc;

    buf_init(&dec);
    rc = unescape(raw, m, &dec, e);
    if (rc == 0 && valid_encoded(raw, m))
        rc = buf_adds(out, raw);
    else if (rc == 0)
        rc = escape(buf_str(&dec), m, out);
    buf_release(&dec);
    return rc;
}

static int
write_user(const char *user, struct buf *out, struct err *e)
{
    const char *colon = strchr(user, ':');
    struct buf dec;
    char *name;
    int rc;

    buf_init(&dec);
    name = strndup(user, colon != NULL ? (size_t)(colon - user)
                                       : strlen(user));
    rc = name == NULL ? ERR_NOMEM : unescape(name, M_USER, &dec, e);
    if (rc == 0)
        rc = escape(buf_str(&dec), M_USER, out);
    if (rc == 0 && colon != NULL) {
        buf_reset(&dec);
        rc = unescape(colon + 1, M_USER, &dec, e);
        if (rc == 0)
            rc = buf_addc(out, ':');
        if (rc == 0)
            rc = escape(buf_str(&dec), M_USER, out);
    }
    free(name);
    buf_release(&dec);
    return rc == 0 ? buf_addc(out, '@') : rc;
}

static int
write_authority(struct url *u, struct buf *out, struct err *e)
{
    struct buf host;
    int rc = 0;

    buf_init(&host);
    if (u->host != NULL)
        rc = check_host(u->host, &host, e);
    if (rc == 0 && (host.len > 0 || u->path[0] != '\0' || u->user != NULL))
        rc = buf_adds(out, "//");
    if (rc == 0 && u->user != NULL)
        rc = write_user(u->user, out, e);
    if (rc == 0)
        rc = escape(buf_str(&host), M_HOST, out);
    if (rc == 0 && host.len > 0 && u->path[0] != '\0' && u->path[0] != '/')
        rc = buf_addc(out, '/');
    buf_release(&host);
    return rc;
}

static int
write_path(struct url *u, struct buf *out, struct err *e)
{
    struct buf path;
    const char *p, *slash;
    int rc = 0;

    if (u->scheme[0] != '\0' || u->host != NULL || u->user != NULL) {
        if (!(u->omit_host && u->host == NULL && u->user == NULL))
            rc = write_authority(u, out, e);
    }
    buf_init(&path);
    if (rc == 0)
        rc = write_part(u->path, M_PATH, &path, e);
    p = buf_str(&path);
    slash = strchr(p, '/');
    /* A colon in the first segment would read as a scheme: add "./". */
    if (rc == 0 && out->len == 0 &&
        memchr(p, ':', slash != NULL ? (size_t)(slash - p) : strlen(p)))
        rc = buf_adds(out, "./");
    if (rc == 0)
        rc = buf_adds(out, p);
    buf_release(&path);
    return rc;
}

static int
write_url(struct url *u, struct buf *out, struct err *e)
{
    int rc = 0;

    if (u->scheme[0] != '\0')
        rc = buf_addf(out, "%s:", u->scheme);
    if (rc == 0 && u->opaque != NULL && u->opaque[0] != '\0')
        rc = buf_adds(out, u->opaque);
    else if (rc == 0)
        rc = write_path(u, out, e);
    if (rc == 0 && (u->force_query || u->query != NULL))
        rc = buf_addf(out, "?%s", u->query != NULL ? u->query : "");
    return rc;
}

static int
write_fragment(const char *frag, struct buf *out, struct err *e)
{
    struct buf dec;
    int rc;

    buf_init(&dec);
    rc = unescape(frag, M_FRAGMENT, &dec, e);
    if (rc == 0 && dec.len > 0)
        rc = buf_addc(out, '#');
    if (rc == 0 && dec.len > 0)
        rc = write_part(frag, M_FRAGMENT, out, e);
    buf_release(&dec);
    return rc;
}

int
optval_url_normalise(const char *s, char **text, struct err *e)
{
    struct url u;
    struct buf out;
    char *work = strdup(s), *hash;
    int rc = ERR_NOMEM;

    buf_init(&out);
    memset(&u, 0, sizeof(u));
    if (work == NULL)
        goto out;
    hash = strchr(work, '#');
    if (hash != NULL)
        *hash = '\0';
    rc = parse(&u, work, e);
    if (rc == 0)
        rc = write_url(&u, &out, e);
    if (rc == 0 && hash != NULL)
        rc = write_fragment(hash + 1, &out, e);
    if (rc == 0) {
        *text = buf_take(&out, NULL);
        rc = *text != NULL ? 0 : ERR_NOMEM;
    }
    if (rc == ERR_INVALID)
        err_prefix(e, "parse \"%s\"", s);
out:
    if (rc == ERR_NOMEM || rc == ERR_TOO_LARGE)
        err_set(e, rc, "out of memory");
    buf_release(&out);
    free(work);
    return rc;
}
