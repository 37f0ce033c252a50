/*
 * lazylib.c: loads a shared library once, on first use.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "lazylib.h"
#include "banned.h"

/* Opens and binds lib; records the outcome in lib.  Lock held. */
static void
open_once(struct lazylib *lib)
{
    const char *missing = NULL;
    const char *why;
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);

    lib->tried = true;
    if (h != NULL && lib->bind(h, &missing) == 0)
        return;

    why = dlerror();
    snprintf(lib->msg, sizeof(lib->msg), "cannot load %s%s%s%s: %s; "
             "install the %s package", lib->soname,
             missing != NULL ? " (" : "", missing != NULL ? missing : "",
             missing != NULL ? ")" : "",
             why != NULL ? why : "unknown reason", lib->package);
    lib->rc = ERR_UNSUPPORTED;
    if (h != NULL)
        dlclose(h);
}

int
lazylib_load(struct lazylib *lib, struct err *e)
{
    int rc;

    pthread_mutex_lock(&lib->lock);
    if (!lib->tried)
        open_once(lib);
    rc = lib->rc;
    pthread_mutex_unlock(&lib->lock);
    if (rc != 0)
        return err_set(e, rc, "%s", lib->msg);
    return 0;
}
