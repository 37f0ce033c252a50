/*
 * router.c: prefix groups, then exact paths inside a group.
 */
#include <stdio.h>
#include <string.h>

#include "api/router.h"
#include "core/banned.h"

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    { "GET", ROUTER_GET },
    { "HEAD", ROUTER_HEAD },
    { "POST", ROUTER_POST },
    { "PUT", ROUTER_PUT },
    { "PATCH", ROUTER_PATCH },
    { "DELETE", ROUTER_DELETE },
    { "OPTIONS", ROUTER_OPTIONS },
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

unsigned
router_method_bit(const char *method)
{
    size_t i;

    for (i = 0; i < NMETHODS; i++) {
        if (strcmp(method, methods[i].name) == 0)
            return methods[i].bit;
    }
    return 0;
}

/*
 * Matches prefix against the start of path; a "{...}" segment takes one
 * non-empty path segment.  On success returns the rest of path, which is
 * "" or starts with '/'.
 */
static const char *
match_prefix(const char *prefix, const char *path, struct router_match *m)
{
    while (*prefix != '\0') {
        if (*prefix == '{') {
            size_t seg = strcspn(path, "/");

            if (seg == 0)
                return NULL;
            m->param = path;
            m->param_len = seg;
            path += seg;
            prefix = strchr(prefix, '}');
            if (prefix == NULL)
                return NULL;
            prefix++;
            continue;
        }
        if (*prefix != *path)
            return NULL;
        prefix++;
        path++;
    }
    return *path == '\0' || *path == '/' ? path : NULL;
}

bool
router_group_find(const struct router_group *groups, size_t n,
                  const char *path, struct router_match *m)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *rest;

        memset(m, 0, sizeof(*m));
        rest = match_prefix(groups[i].prefix, path, m);
        if (rest != NULL) {
            m->group = &groups[i];
            m->rest = rest;
            return true;
        }
    }
    memset(m, 0, sizeof(*m));
    return false;
}

const struct router_route *
router_route_find(const struct router_match *m, unsigned method,
                  unsigned *allow)
{
    const struct router_group *g = m->group;
    size_t i;

    *allow = 0;
    for (i = 0; i < g->nroutes; i++) {
        if (strcmp(g->routes[i].path, m->rest) != 0)
            continue;
        if (g->routes[i].methods & method)
            return &g->routes[i];
        *allow |= g->routes[i].methods;
    }
    return NULL;
}

void
router_allow_text(unsigned bits, char *out, size_t size)
{
    size_t used = 0;
    size_t i;

    if (size == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < NMETHODS; i++) {
        int n;

        if (!(bits & methods[i].bit))
            continue;
        n = snprintf(out + used, size - used, "%s%s", used ? ", " : "",
                     methods[i].name);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

void
router_clean_path(char *path)
{
    char *w = path;
    const char *r = path;

    for (; *r != '\0'; r++) {
        if (*r == '/' && w > path && w[-1] == '/')
            continue;
        *w++ = *r;
    }
    *w = '\0';
}
