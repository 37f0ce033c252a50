/*
 * mhd_lazy.c: loads libmicrohttpd on first use (see mhd_lazy.h for why).
 *
 * RTLD_NOW finds a missing symbol here, with a clear message, rather than
 * as a crash on the first request; RTLD_LOCAL keeps the symbols of
 * libmicrohttpd and of the libraries it pulls in out of the global
 * namespace.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "api/mhd_lazy.h"
#include "core/banned.h"

struct mhd_lazy_table mhd_fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_msg[ERR_MSG_MAX];

static void
fail(const char *what)
{
    const char *why = dlerror();

    snprintf(load_msg, sizeof(load_msg), "cannot load %s%s: %s; install "
             "the libmicrohttpd12 package", MHD_LAZY_SONAME, what,
             why != NULL ? why : "unknown reason");
    load_rc = ERR_UNSUPPORTED;
}

static void
load(void)
{
    struct mhd_lazy_table t;
    void *h = dlopen(MHD_LAZY_SONAME, RTLD_NOW | RTLD_LOCAL);
    void *sym;

    if (h == NULL) {
        fail("");
        return;
    }

    /* Fill a local copy so that a failure leaves mhd_fn all NULL. */
#define MHD_LAZY_SYM(name, fn)                                            \
    sym = dlsym(h, #fn);                                                  \
    if (sym == NULL) {                                                    \
        fail(" (" #fn ")");                                               \
        dlclose(h);                                                       \
        return;                                                           \
    }                                                                     \
    t.name = (__typeof__(t.name))sym;
    MHD_LAZY_FUNCS(MHD_LAZY_SYM)
#undef MHD_LAZY_SYM

    mhd_fn = t;
}

int
mhd_lazy_load(struct err *e)
{
    pthread_once(&once, load);
    if (load_rc != 0)
        return err_set(e, load_rc, "%s", load_msg);
    return 0;
}
