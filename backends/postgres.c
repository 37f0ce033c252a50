/*
 * postgres.c: placeholder until the PostgreSQL backend is written; every
 * call refuses with ERR_UNSUPPORTED.
 */
#include "backends/store.h"
#include "core/banned.h"

static int
pg_open(struct store **out, const struct store_options *opt, struct err *e)
{
    (void)opt;
    *out = NULL;
    return err_set(e, ERR_UNSUPPORTED, "postgres backend not built yet");
}

const struct store_ops store_postgres_ops = {
    .name = "postgres",
    .open = pg_open,
};
