/*
 * curl_lazy.c: loads libcurl on first use (see curl_lazy.h for why).
 */
#include "api/curl_lazy.h"
#include "core/lazylib.h"
#include "core/banned.h"

struct curl_lazy_table curl_fn;

/* Fills a local copy, so that a failure leaves curl_fn all NULL. */
static int
bind_symbols(void *h, const char **missing)
{
    struct curl_lazy_table t;

#define CURL_LAZY_SYM(name, fn) LAZYLIB_BIND(h, t.name, #fn, missing);
    CURL_LAZY_FUNCS(CURL_LAZY_SYM)
#undef CURL_LAZY_SYM
    curl_fn = t;
    return 0;
}

static struct lazylib lib = LAZYLIB_INIT(CURL_LAZY_SONAME, "libcurl4",
                                       bind_symbols);

int
curl_lazy_load(struct err *e)
{
    return lazylib_load(&lib, e);
}
