/*
 * mhd_lazy.h: libmicrohttpd, loaded when a server starts listening.
 *
 * Only `coder-cfg server` serves HTTP, yet linking libmicrohttpd would
 * load it, and GnuTLS with its own dependencies, into every run of every
 * command: more than a millisecond of start-up for `coder-cfg dump`.  The
 * server therefore opens libmicrohttpd.so.12 with dlopen before it starts
 * its first daemon and calls the library through the table mhd_fn, whose
 * pointers carry microhttpd.h's own prototypes.
 *
 * Invariant: no member of mhd_fn may be called before mhd_lazy_load has
 * returned 0.  Once it has, the table never changes and the library stays
 * loaded until the process exits, so the daemons' threads may use it.
 *
 * Files of api/ include this header instead of <microhttpd.h>: the MHD
 * names at its end call through the table, so the code reads as usual.
 */
#ifndef CODER_CFG_MHD_LAZY_H
#define CODER_CFG_MHD_LAZY_H

#include <microhttpd.h>

#include "core/err.h"

/* The soname we load; the libmicrohttpd12 package provides it. */
#define MHD_LAZY_SONAME "libmicrohttpd.so.12"

/* Every libmicrohttpd function coder-cfg calls: member name, MHD name. */
#define MHD_LAZY_FUNCS(X)                                                 \
    X(add_response_header, MHD_add_response_header)                       \
    X(create_response_from_buffer, MHD_create_response_from_buffer)       \
    X(create_response_from_buffer_with_free_callback_cls,                 \
      MHD_create_response_from_buffer_with_free_callback_cls)             \
    X(destroy_response, MHD_destroy_response)                             \
    X(get_connection_info, MHD_get_connection_info)                       \
    X(is_feature_supported, MHD_is_feature_supported)                     \
    X(lookup_connection_value, MHD_lookup_connection_value)               \
    X(queue_response, MHD_queue_response)                                 \
    X(quiesce_daemon, MHD_quiesce_daemon)                                 \
    X(start_daemon, MHD_start_daemon)                                     \
    X(stop_daemon, MHD_stop_daemon)

/* One pointer per function, typed from microhttpd.h's prototype. */
struct mhd_lazy_table {
#define MHD_LAZY_MEMBER(name, sym) __typeof__(sym) *name;
    MHD_LAZY_FUNCS(MHD_LAZY_MEMBER)
#undef MHD_LAZY_MEMBER
};

/* Filled by mhd_lazy_load; read only after it returned 0. */
extern struct mhd_lazy_table mhd_fn;

/*
 * Loads libmicrohttpd and fills mhd_fn, once per process; later calls
 * (from any thread) return the first call's result at once.  Returns 0,
 * or ERR_UNSUPPORTED when the library or one of its functions is missing,
 * with dlerror's reason and the package to install in e.
 */
int mhd_lazy_load(struct err *e);

/* The usual names, calling through the table (see the invariant above). */
#define MHD_add_response_header (mhd_fn.add_response_header)
#define MHD_create_response_from_buffer (mhd_fn.create_response_from_buffer)
#define MHD_create_response_from_buffer_with_free_callback_cls \
    (mhd_fn.create_response_from_buffer_with_free_callback_cls)
#define MHD_destroy_response (mhd_fn.destroy_response)
#define MHD_get_connection_info (mhd_fn.get_connection_info)
#define MHD_is_feature_supported (mhd_fn.is_feature_supported)
#define MHD_lookup_connection_value (mhd_fn.lookup_connection_value)
#define MHD_queue_response (mhd_fn.queue_response)
#define MHD_quiesce_daemon (mhd_fn.quiesce_daemon)
#define MHD_start_daemon (mhd_fn.start_daemon)
#define MHD_stop_daemon (mhd_fn.stop_daemon)

#endif
