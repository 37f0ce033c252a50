/*
 * netaddr.c: parsing and matching client addresses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/netaddr.h"
#include "core/util.h"
#include "core/banned.h"

static const unsigned char v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                             0xff, 0xff };

static bool
is_v4(const struct netaddr *a)
{
    return memcmp(a->b, v4_prefix, sizeof(v4_prefix)) == 0;
}

static void
set_v4(struct netaddr *out, const void *four)
{
    memcpy(out->b, v4_prefix, sizeof(v4_prefix));
    memcpy(out->b + 12, four, 4);
}

bool
netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out)
{
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        set_v4(out, &in->sin_addr);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        memcpy(out->b, &in6->sin6_addr, 16);
        return true;
    }
    return false;
}

bool
netaddr_parse(const char *text, struct netaddr *out)
{
    unsigned char four[4];

    if (inet_pton(AF_INET, text, four) == 1) {
        set_v4(out, four);
        return true;
    }
    return inet_pton(AF_INET6, text, out->b) == 1;
}

/* Dotted IPv4 by hand: inet_ntop formats it through sprintf. */
static void
v4_text(const unsigned char four[4], char *out)
{
    size_t w = 0;
    size_t i;

    for (i = 0; i < 4; i++) {
        unsigned v = four[i];

        if (i > 0)
            out[w++] = '.';
        if (v >= 100)
            out[w++] = (char)('0' + v / 100);
        if (v >= 10)
            out[w++] = (char)('0' + v / 10 % 10);
        out[w++] = (char)('0' + v % 10);
    }
    out[w] = '\0';
}

void
netaddr_text(const struct netaddr *a, char out[NETADDR_TEXT_MAX])
{
    if (is_v4(a))
        v4_text(a->b + 12, out);
    else
        inet_ntop(AF_INET6, a->b, out, NETADDR_TEXT_MAX);
}

void
netaddr_rate_text(const struct netaddr *a, char out[NETADDR_TEXT_MAX])
{
    struct netaddr cut = *a;

    if (!is_v4(a))
        memset(cut.b + 8, 0, 8);
    netaddr_text(&cut, out);
}

void
netaddr_rate_key(const struct netaddr *a, unsigned char out[16])
{
    memcpy(out, a->b, 16);
    if (!is_v4(a))
        memset(out + 8, 0, 8);
}

int
netaddr_cidr_parse(const char *text, struct netaddr_cidr *out,
                   struct err *e)
{
    const char *slash = strchr(text, '/');
    char host[NETADDR_TEXT_MAX];
    size_t hlen = slash != NULL ? (size_t)(slash - text) : 0;
    int64_t bits;

    if (slash == NULL || hlen == 0 || hlen >= sizeof(host) ||
        util_parse_i64(slash + 1, strlen(slash + 1), &bits) < 0 ||
        slash[1] == '+' || slash[1] == '-')
        goto bad;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (!netaddr_parse(host, &out->net))
        goto bad;
    if (strchr(host, ':') == NULL) {
        if (bits > 32)
            goto bad;
        bits += 96;
    } else if (bits > 128) {
        goto bad;
    }
    out->bits = (unsigned)bits;
    return 0;
bad:
    return err_set(e, ERR_INVALID, "invalid CIDR address \"%s\"", text);
}

bool
netaddr_cidr_contains(const struct netaddr_cidr *c, const struct netaddr *a)
{
    unsigned full = c->bits / 8;
    unsigned rest = c->bits % 8;
    unsigned char mask;

    if (memcmp(c->net.b, a->b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    mask = (unsigned char)(0xff << (8 - rest));
    return (c->net.b[full] & mask) == (a->b[full] & mask);
}

/* Copies value[0..len) trimmed of spaces into out and parses it. */
static bool
parse_trimmed(const char *value, size_t len, struct netaddr *out)
{
    char tmp[NETADDR_TEXT_MAX];

    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, value, len);
    tmp[len] = '\0';
    return netaddr_parse(tmp, out);
}

bool
netaddr_from_header(const char *name, const char *value,
                    struct netaddr *out)
{
    if (value == NULL)
        return false;
    if (strcasecmp(name, "X-Forwarded-For") == 0)
        return parse_trimmed(value, strcspn(value, ","), out);
    return parse_trimmed(value, strlen(value), out);
}
