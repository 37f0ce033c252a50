/*
 * router.h: Coder's route tree for the endpoints we serve, chi-shaped.
 *
 * Routes live in groups.  A group owns a path prefix and the middleware
 * that chi would run before matching inside it (authentication, the
 * {user} parameter, the rate limit), so that an unknown path or a wrong
 * method inside an authenticated group is refused for a missing token
 * first, exactly as Coder's sub-routers do.  Matching is two steps:
 * router_group_find picks the group, the caller runs the group's
 * middleware, then router_route_find picks the route or says why none.
 *
 * Tables are static data; nothing here allocates or locks.
 */
#ifndef CODER_CFG_API_ROUTER_H
#define CODER_CFG_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

enum router_method {
    ROUTER_GET = 1 << 0,
    ROUTER_POST = 1 << 1,
    ROUTER_PUT = 1 << 2,
    ROUTER_PATCH = 1 << 3,
    ROUTER_DELETE = 1 << 4,
    ROUTER_HEAD = 1 << 5,
    ROUTER_OPTIONS = 1 << 6
};

/* What runs before matching inside a group. */
enum router_group_flags {
    ROUTER_LIMITED = 1 << 0,    /* the API rate limiter */
    ROUTER_AUTH = 1 << 1,       /* a valid session token */
    ROUTER_USER_PARAM = 1 << 2  /* resolve {user} with the caller's rights */
};

/* path is relative to the group's prefix ("" is the prefix itself). */
struct router_route {
    unsigned methods;
    const char *path;
    const void *handler;
};

/*
 * prefix is a full path such as "/api/v2/deployment"; one segment written
 * "{user}" matches any non-empty segment and is captured.  A group matches
 * the prefix itself and anything below it.
 */
struct router_group {
    const char *prefix;
    unsigned flags;
    const struct router_route *routes;
    size_t nroutes;
};

struct router_match {
    const struct router_group *group;
    const char *rest;           /* path below the prefix, "" or "/..." */
    const char *param;          /* start of the captured segment */
    size_t param_len;
};

/* The method bit for a method name; 0 for a method we do not route. */
unsigned router_method_bit(const char *method);

/*
 * Finds the first group in groups[0..n) that matches path.  Returns false
 * when none does (the caller answers 404).
 */
bool router_group_find(const struct router_group *groups, size_t n,
                       const char *path, struct router_match *m);

/*
 * Finds the route for m->rest and method in m's group.  Returns it, or
 * NULL: then *allow holds the method bits the path accepts (0 means the
 * path is unknown: 404; otherwise 405 with that Allow list).
 */
const struct router_route *router_route_find(const struct router_match *m,
                                             unsigned method,
                                             unsigned *allow);

/* Writes the Allow header value for bits ("GET, POST") into out. */
void router_allow_text(unsigned bits, char *out, size_t size);

/*
 * Collapses every run of '/' in path to one, in place, as Coder's
 * single-slash middleware does.
 */
void router_clean_path(char *path);

#endif
