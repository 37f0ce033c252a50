/*
 * mhd_lazy.c: loads libmicrohttpd on first use (see mhd_lazy.h for why).
 */
#include "api/mhd_lazy.h"
#include "core/lazylib.h"
#include "core/banned.h"

struct mhd_lazy_table mhd_fn;

/* Fills a local copy, so that a failure leaves mhd_fn all NULL. */
static int
bind_symbols(void *h, const char **missing)
{
    struct mhd_lazy_table t;

#define MHD_LAZY_SYM(name, fn) LAZYLIB_BIND(h, t.name, #fn, missing);
    MHD_LAZY_FUNCS(MHD_LAZY_SYM)
#undef MHD_LAZY_SYM
    mhd_fn = t;
    return 0;
}

static struct lazylib lib = LAZYLIB_INIT(MHD_LAZY_SONAME, "libmicrohttpd12",
                                       bind_symbols);

int
mhd_lazy_load(struct err *e)
{
    return lazylib_load(&lib, e);
}
