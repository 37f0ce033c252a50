/*
 * gnutls_lazy.c: loads GnuTLS on first use (see gnutls_lazy.h for why).
 */
#include "api/gnutls_lazy.h"
#include "core/lazylib.h"
#include "core/banned.h"

struct gnutls_lazy_table gnutls_fn;

/* Fills a local copy, so that a failure leaves gnutls_fn all NULL. */
static int
bind_symbols(void *h, const char **missing)
{
    struct gnutls_lazy_table t;

#define GNUTLS_LAZY_SYM(name, fn) LAZYLIB_BIND(h, t.name, #fn, missing);
    GNUTLS_LAZY_FUNCS(GNUTLS_LAZY_SYM)
#undef GNUTLS_LAZY_SYM
    gnutls_fn = t;
    return 0;
}

static struct lazylib lib = LAZYLIB_INIT(GNUTLS_LAZY_SONAME, "libgnutls30",
                                       bind_symbols);

int
gnutls_lazy_load(struct err *e)
{
    return lazylib_load(&lib, e);
}
