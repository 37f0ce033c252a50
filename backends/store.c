/*
 * store.c: the backend-neutral part of the store interface.
 *
 * Every backend's handle begins with struct store_base, which is how the
 * wrappers here find the ops without knowing which backend they hold.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/store.h"
#include "core/banned.h"

static const struct store_base *
base_of(const struct store *s)
{
    return (const struct store_base *)(const void *)s;
}

int
store_open(const struct store_ops *ops, const struct store_options *opt,
           struct store **out, struct err *e)
{
    struct store *s = NULL;
    int rc;

    *out = NULL;
    if (ops == NULL || ops->open == NULL)
        return err_set(e, ERR_UNSUPPORTED, "store backend not available");

    rc = ops->open(&s, opt, e);
    if (rc < 0)
        return rc;

    /* A backend fills the header itself; make sure of it regardless. */
    ((struct store_base *)(void *)s)->ops = ops;
    *out = s;
    return 0;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    base_of(s)->ops->close(s);
}

const struct store_ops *
store_ops_of(const struct store *s)
{
    return base_of(s)->ops;
}

void
store_csp_free(struct store_csp_report *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
}

void
store_snapshot_free(struct store_snapshot *snap)
{
    if (snap == NULL)
        return;
    free(snap->json);
    snap->json = NULL;
}

int
store_lock_try(struct store *s, const char *name, bool *got, struct err *e)
{
    const struct store_ops *ops = store_ops_of(s);

    if (ops->lock_try == NULL) {
        *got = true;
        return 0;
    }
    return ops->lock_try(s, name, got, e);
}

int
store_unlock(struct store *s, const char *name, struct err *e)
{
    const struct store_ops *ops = store_ops_of(s);

    if (ops->unlock == NULL)
        return 0;
    return ops->unlock(s, name, e);
}

int
store_subscribe(struct store *s, store_event_fn fn, void *ctx,
                struct err *e)
{
    const struct store_ops *ops = store_ops_of(s);

    if (ops->subscribe == NULL)
        return 0;
    return ops->subscribe(s, fn, ctx, e);
}

int
store_ping(struct store *s, struct err *e)
{
    const struct store_ops *ops = store_ops_of(s);

    if (ops->ping == NULL)
        return 0;
    return ops->ping(s, e);
}

/* The fallback of store_key_get_auth: two reads in the caller's txn. */
static int
key_then_user(struct store *s, struct store_txn *t, const char *id,
              struct store_key *key, struct store_user *user,
              bool *user_found, struct err *e)
{
    const struct store_ops *ops = store_ops_of(s);
    int rc;

    rc = ops->key_get(s, t, id, key, e);
    if (rc < 0)
        return rc;
    rc = ops->user_get(s, t, key->user_id, user, e);
    if (rc == ERR_NOT_FOUND) {
        err_clear(e);
        memset(user, 0, sizeof(*user));
        return 0;
    }
    *user_found = rc == 0;
    return rc;
}

int
store_key_get_auth(struct store *s, struct store_txn *t, const char *id,
                   struct store_key *key, struct store_user *user,
                   bool *user_found, struct err *e)
{
    const struct store_ops *ops = store_ops_of(s);
    struct store_txn *own = NULL;
    int rc;

    *user_found = false;
    if (ops->key_get_auth != NULL)
        return ops->key_get_auth(s, t, id, key, user, user_found, e);

    /* Without the op, a transaction of our own keeps the pair whole. */
    if (t == NULL) {
        rc = ops->begin(s, false, &own, e);
        if (rc < 0)
            return rc;
        t = own;
    }
    rc = key_then_user(s, t, id, key, user, user_found, e);
    if (own != NULL)
        ops->abort(own);
    return rc;
}

int
store_stat_prune(struct store *s, struct store_txn *t, int64_t older_than,
                 struct err *e)
{
    const struct store_ops *ops = store_ops_of(s);

    if (ops->stat_prune == NULL)
        return err_set(e, ERR_UNSUPPORTED, "the %s store cannot prune "
                       "agent stats", ops->name);
    return ops->stat_prune(s, t, older_than, e);
}
