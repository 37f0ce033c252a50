/*
 * lazylib.h: a shared library loaded on first use.
 *
 * Some libraries are needed only by some commands (libpq for a PostgreSQL
 * store, libcurl for the update check, libmicrohttpd and GnuTLS for the
 * server) but cost milliseconds at every process start when linked,
 * through the libraries they pull in.  Each is described by one static
 * struct lazylib and loaded, once, by lazylib_load.
 *
 * The module that owns a library keeps a typed table of function pointers
 * and a bind function that fills it from the handle with LAZYLIB_BIND;
 * this file does the rest: dlopen with RTLD_NOW (a missing symbol is found
 * here, with a clear message, not as a crash later) and RTLD_LOCAL (the
 * library's symbols stay out of the global namespace), the message, and
 * the once-only guard.  Safe to call from any thread.
 */
#ifndef CODER_CFG_LAZYLIB_H
#define CODER_CFG_LAZYLIB_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#include "err.h"

struct lazylib {
    const char *soname;     /* "libpq.so.5" */
    const char *package;    /* the Debian package that provides it */
    /*
     * Fills the owner's table from handle.  On a missing symbol it sets
     * *missing to the symbol's name and returns -1, leaving the table as
     * it was; 0 when every symbol was found.
     */
    int (*bind)(void *handle, const char **missing);
    pthread_mutex_t lock;
    bool tried;
    int rc;
    char msg[ERR_MSG_MAX];
};

#define LAZYLIB_INIT(soname, package, bind)                              \
    { (soname), (package), (bind), PTHREAD_MUTEX_INITIALIZER, false, 0, \
      "" }

/*
 * For bind functions: stores the symbol called name (a string: stringize
 * it in the caller's own macro, before any mapping macro can expand it) in
 * the typed pointer dst, or returns -1 from the enclosing function with
 * *missing set to name.
 */
#define LAZYLIB_BIND(handle, dst, name, missing)                         \
    do {                                                                 \
        void *sym_ = dlsym((handle), (name));                            \
        if (sym_ == NULL) {                                              \
            *(missing) = (name);                                         \
            return -1;                                                   \
        }                                                                \
        (dst) = (__typeof__(dst))sym_;                                   \
    } while (0)

/*
 * Loads lib the first time it is asked for; later calls return the first
 * outcome.  Returns 0, or ERR_UNSUPPORTED with a message naming the
 * library, the missing symbol if any, and the package to install.
 */
int lazylib_load(struct lazylib *lib, struct err *e);

#endif
