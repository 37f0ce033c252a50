/*
 * version.c: the Coder version this build presents.
 *
 * The Makefile passes CODER_CFG_VERSION ("v2.29.0+1a2b3c4") and
 * CODER_CFG_COMMIT (the full commit, or "") to this file alone.
 */
#include "deployment.h"
#include "banned.h"

#ifndef CODER_CFG_VERSION
#define CODER_CFG_VERSION "v0.0.0-devel"
#endif
#ifndef CODER_CFG_COMMIT
#define CODER_CFG_COMMIT ""
#endif

const char *
deployment_version(void)
{
    return CODER_CFG_VERSION;
}

const char *
deployment_commit(void)
{
    return CODER_CFG_COMMIT;
}
