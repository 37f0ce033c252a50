/*
 * pq_lazy.c: loads libpq on first use (see pq_lazy.h for why).
 */
#include "backends/pq_lazy.h"
#include "core/lazylib.h"
#include "core/banned.h"

struct pq_lazy_table pq_fn;

/* Fills a local copy, so that a failure leaves pq_fn all NULL. */
static int
bind_symbols(void *h, const char **missing)
{
    struct pq_lazy_table t;

#define PQ_LAZY_SYM(name, fn) LAZYLIB_BIND(h, t.name, #fn, missing);
    PQ_LAZY_FUNCS(PQ_LAZY_SYM)
#undef PQ_LAZY_SYM
    pq_fn = t;
    return 0;
}

static struct lazylib lib = LAZYLIB_INIT(PQ_LAZY_SONAME, "libpq5",
                                       bind_symbols);

int
pq_lazy_load(struct err *e)
{
    return lazylib_load(&lib, e);
}
