/*
 * netaddr.h: client addresses, trusted proxies and CIDR lists.
 *
 * Addresses are kept as 16 bytes, IPv4 mapped into ::ffff:0:0/96, so one
 * comparison serves both families.  A request's client address is its
 * peer's, unless the peer is inside --proxy-trusted-origins: then the
 * first --proxy-trusted-headers header that holds a valid address gives it
 * (for X-Forwarded-For, the leftmost element).
 */
#ifndef CODER_CFG_API_NETADDR_H
#define CODER_CFG_API_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "../core/err.h"

#define NETADDR_TEXT_MAX 64

struct netaddr {
    unsigned char b[16];
};

struct netaddr_cidr {
    struct netaddr net;
    unsigned bits;              /* prefix length over the 16 bytes */
};

/* From a socket address; false for a family other than IPv4 and IPv6. */
bool netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out);

/* Parses "1.2.3.4" or "2001:db8::1"; false when it is neither. */
bool netaddr_parse(const char *text, struct netaddr *out);

/* IPv4 in dotted form, IPv6 in RFC 5952 form. */
void netaddr_text(const struct netaddr *a, char out[NETADDR_TEXT_MAX]);

/* The rate-limit form: IPv6 cut to its /64, as httprate groups it. */
void netaddr_rate_text(const struct netaddr *a, char out[NETADDR_TEXT_MAX]);

/*
 * The same grouping as 16 bytes, for a rate-limit key: two addresses
 * share a key exactly when their rate-limit texts are equal.
 */
void netaddr_rate_key(const struct netaddr *a, unsigned char out[16]);

/*
 * Parses "10.0.0.0/8" or "fd00::/8" (Go's net.ParseCIDR).  ERR_INVALID
 * with the text quoted in e otherwise.
 */
int netaddr_cidr_parse(const char *text, struct netaddr_cidr *out,
                       struct err *e);

bool netaddr_cidr_contains(const struct netaddr_cidr *c,
                           const struct netaddr *a);

/*
 * The address a trusted header names: value is the header's text, name
 * its name (X-Forwarded-For is a list).  False when it holds none.
 */
bool netaddr_from_header(const char *name, const char *value,
                         struct netaddr *out);

#endif
