/*
 * pq_lazy.c: loads libpq on first use (see pq_lazy.h for why).
 *
 * RTLD_NOW finds a missing symbol here, with a clear message, rather than
 * as a crash in the middle of a query; RTLD_LOCAL keeps libpq's symbols
 * and those of the libraries it pulls in out of the global namespace.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "backends/pq_lazy.h"
#include "core/banned.h"

struct pq_lazy_table pq_fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_msg[ERR_MSG_MAX];

static void
fail(const char *what)
{
    const char *why = dlerror();

    snprintf(load_msg, sizeof(load_msg), "cannot load %s%s: %s; install "
             "the libpq5 package", PQ_LAZY_SONAME, what,
             why != NULL ? why : "unknown reason");
    load_rc = ERR_UNSUPPORTED;
}

static void
load(void)
{
    struct pq_lazy_table t;
    void *h = dlopen(PQ_LAZY_SONAME, RTLD_NOW | RTLD_LOCAL);
    void *sym;

    if (h == NULL) {
        fail("");
        return;
    }

    /* Fill a local copy so that a failure leaves pq_fn all NULL. */
#define PQ_LAZY_SYM(name, fn)                                             \
    sym = dlsym(h, #fn);                                                  \
    if (sym == NULL) {                                                    \
        fail(" (" #fn ")");                                               \
        dlclose(h);                                                       \
        return;                                                           \
    }                                                                     \
    t.name = (__typeof__(t.name))sym;
    PQ_LAZY_FUNCS(PQ_LAZY_SYM)
#undef PQ_LAZY_SYM

    pq_fn = t;
}

int
pq_lazy_load(struct err *e)
{
    pthread_once(&once, load);
    if (load_rc != 0)
        return err_set(e, load_rc, "%s", load_msg);
    return 0;
}
