/*
 * gnutls_lazy.c: loads GnuTLS on first use (see gnutls_lazy.h for why).
 *
 * RTLD_NOW finds a missing symbol here, with a clear message, rather than
 * halfway through making a certificate; RTLD_LOCAL keeps the symbols of
 * GnuTLS and of the libraries it pulls in out of the global namespace.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "api/gnutls_lazy.h"
#include "core/banned.h"

struct gnutls_lazy_table gnutls_fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_msg[ERR_MSG_MAX];

static void
fail(const char *what)
{
    const char *why = dlerror();

    snprintf(load_msg, sizeof(load_msg), "cannot load %s%s: %s; install "
             "the libgnutls30 package", GNUTLS_LAZY_SONAME, what,
             why != NULL ? why : "unknown reason");
    load_rc = ERR_UNSUPPORTED;
}

static void
load(void)
{
    struct gnutls_lazy_table t;
    void *h = dlopen(GNUTLS_LAZY_SONAME, RTLD_NOW | RTLD_LOCAL);
    void *sym;

    if (h == NULL) {
        fail("");
        return;
    }

    /* Fill a local copy so that a failure leaves gnutls_fn all NULL. */
#define GNUTLS_LAZY_SYM(name, fn)                                            \
    sym = dlsym(h, #fn);                                                  \
    if (sym == NULL) {                                                    \
        fail(" (" #fn ")");                                               \
        dlclose(h);                                                       \
        return;                                                           \
    }                                                                     \
    t.name = (__typeof__(t.name))sym;
    GNUTLS_LAZY_FUNCS(GNUTLS_LAZY_SYM)
#undef GNUTLS_LAZY_SYM

    gnutls_fn = t;
}

int
gnutls_lazy_load(struct err *e)
{
    pthread_once(&once, load);
    if (load_rc != 0)
        return err_set(e, load_rc, "%s", load_msg);
    return 0;
}
