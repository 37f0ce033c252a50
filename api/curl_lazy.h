/*
 * curl_lazy.h: libcurl, loaded on first use instead of at start-up.
 *
 * Only the server's update-check thread talks HTTP as a client, yet
 * linking libcurl would load it, and the TLS and authentication libraries
 * behind it, into every run of every command.  The thread therefore opens
 * libcurl.so.4 with dlopen before its first transfer and calls libcurl
 * through the table curl_fn, whose pointers carry curl.h's own
 * prototypes.
 *
 * Invariant: no member of curl_fn may be called before curl_lazy_load has
 * returned 0.  Once it has, the table never changes and the library stays
 * loaded until the process exits.
 */
#ifndef CODER_CFG_CURL_LAZY_H
#define CODER_CFG_CURL_LAZY_H

#include <curl/curl.h>

#include "core/err.h"

/* The soname we load; the libcurl4 package provides it. */
#define CURL_LAZY_SONAME "libcurl.so.4"

/* Every libcurl function coder-cfg calls: member name, libcurl name. */
#define CURL_LAZY_FUNCS(X)                                                \
    X(easy_cleanup, curl_easy_cleanup)                                    \
    X(easy_getinfo, curl_easy_getinfo)                                    \
    X(easy_init, curl_easy_init)                                          \
    X(easy_perform, curl_easy_perform)                                    \
    X(easy_setopt, curl_easy_setopt)                                      \
    X(easy_strerror, curl_easy_strerror)                                  \
    X(global_cleanup, curl_global_cleanup)                                \
    X(global_init, curl_global_init)                                      \
    X(slist_append, curl_slist_append)                                    \
    X(slist_free_all, curl_slist_free_all)

/* One pointer per function, typed from curl.h's prototype. */
struct curl_lazy_table {
#define CURL_LAZY_MEMBER(name, sym) __typeof__(sym) *name;
    CURL_LAZY_FUNCS(CURL_LAZY_MEMBER)
#undef CURL_LAZY_MEMBER
};

/* Filled by curl_lazy_load; read only after it returned 0. */
extern struct curl_lazy_table curl_fn;

/*
 * Loads libcurl and fills curl_fn, once per process; later calls (from
 * any thread) return the first call's result at once.  Returns 0, or
 * ERR_UNSUPPORTED when the library or one of its functions is missing,
 * with dlerror's reason and the package to install in e.  It does not
 * call curl_global_init: that stays with the caller.
 */
int curl_lazy_load(struct err *e);

#endif
