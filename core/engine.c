/*
 * engine.c: users, API keys, statistics and reports above the store.
 *
 * The engine keeps no state of its own beyond the store handle, the
 * deployment ID and, on a store that delivers cluster events, a cache of
 * verified keys.  Without events every answer comes from the store, so a
 * key deleted by any process is refused on the next request; with them
 * the cache trusts an entry for at most a second and drops it as soon as
 * the deletion's event arrives.  The store is safe to call from many
 * threads, and the cache has its own lock, which makes the engine so too.
 */
#include <math.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "keycache.h"
#include "util.h"
#include "banned.h"

#define HOUR_NS (INT64_C(3600) * UTIL_NS_PER_SEC)
#define MINUTE_NS (INT64_C(60) * UTIL_NS_PER_SEC)
#define USERNAME_LEN_MAX 32
#define SITE_UPDATE_CHECK "update_check"
#define WRITE_TRIES 4
#define USER_KEYS_MAX ((size_t)1 << 20)
#define REPLICAS_MAX ((size_t)4096)

struct engine {
    struct store *st;
    const struct store_ops *ops;
    char deployment_id[STORE_UUID_LEN + 1];
    struct keycache *cache;     /* NULL: the store has no events */
    atomic_uint csp_records;    /* CSP reports recorded since open */
    atomic_llong csp_pruned_at; /* monotonic time of the last prune */
};

/* ------------------------------------------------------------------------
 * Open and close
 */

static int
store_options_of(const struct engine_options *opt, struct store_options *so,
                 const struct store_ops **ops, struct err *e)
{
    memset(so, 0, sizeof(*so));
    so->durable = true;
    if (opt->pg_url != NULL && opt->pg_url[0] != '\0') {
        *ops = &store_postgres_ops;
        so->url = opt->pg_url;
        so->pool_size = opt->pool_size;
        so->connect_timeout_ns = opt->connect_timeout_ns;
        return 0;
    }
    if (opt->config_dir == NULL || opt->config_dir[0] == '\0')
        return err_set(e, ERR_INVALID, "no config directory for the store");
    *ops = &store_lmdb_ops;
    so->dir = opt->config_dir;
    return 0;
}

/*
 * Runs on the store's listener thread.  Any key event advances the
 * cache's generation, so a verification that read the store before the
 * event cannot put a stale copy back afterwards.
 */
static void
on_store_event(enum store_event ev, const char *subject, void *ctx)
{
    struct engine *en = ctx;

    switch (ev) {
    case STORE_EVENT_KEY_DELETED:
    case STORE_EVENT_KEY_CHANGED:
        keycache_forget(en->cache, subject);
        break;
    case STORE_EVENT_RECONNECTED:
        keycache_clear(en->cache);
        break;
    case STORE_EVENT_SNAPSHOT:
        break;
    }
}

/*
 * The key cache, only where deletions arrive as events, and only for a
 * caller that wants events: a short-lived command would pay a listening
 * connection for a cache it never uses.
 */
static int
cache_start(struct engine *en, bool no_events, struct err *e)
{
    int rc;

    if (en->ops->subscribe == NULL || no_events)
        return 0;
    rc = keycache_new(&en->cache, KEYCACHE_SLOTS, KEYCACHE_TTL_NS);
    if (rc < 0)
        return err_set(e, rc, "opening the engine: out of memory");
    rc = store_subscribe(en->st, on_store_event, en, e);
    if (rc < 0)
        err_prefix(e, "subscribing to key events");
    return rc;
}

int
engine_open(struct engine **out, const struct engine_options *opt,
            struct err *e)
{
    struct store_options so;
    const struct store_ops *ops = NULL;
    struct engine *en;
    int rc;

    *out = NULL;
    if (util_crypto_init() < 0)
        return err_set(e, ERR_INTERNAL, "initialising libsodium failed");
    en = calloc(1, sizeof(*en));
    if (en == NULL)
        return err_set(e, ERR_NOMEM, "opening the engine: out of memory");
    atomic_init(&en->csp_records, 0);
    atomic_init(&en->csp_pruned_at, 0);

    rc = store_options_of(opt, &so, &ops, e);
    if (rc == 0)
        rc = store_open(ops, &so, &en->st, e);
    if (rc == 0) {
        en->ops = store_ops_of(en->st);
        rc = en->ops->deployment_id(en->st, en->deployment_id, e);
    }
    if (rc == 0)
        rc = cache_start(en, opt->no_events, e);
    if (rc < 0) {
        engine_close(en);
        return rc;
    }
    *out = en;
    return 0;
}

void
engine_close(struct engine *en)
{
    if (en == NULL)
        return;

    /* The listener thread stops with the store; only then can the cache
     * it writes to go. */
    store_close(en->st);
    keycache_free(en->cache);
    free(en);
}

struct store *
engine_store(struct engine *en)
{
    return en->st;
}

const char *
engine_deployment_id(const struct engine *en)
{
    return en->deployment_id;
}

/*
 * Runs fn in one write transaction and commits.  A full map is grown by
 * the store when the transaction ends, so ERR_FULL is worth a retry.
 */
typedef int (*write_fn)(struct engine *en, struct store_txn *t, void *arg,
                        struct err *e);

static int
in_write(struct engine *en, write_fn fn, void *arg, struct err *e)
{
    struct store_txn *t;
    int rc = ERR_FULL;
    int tries;

    for (tries = 0; tries < WRITE_TRIES && rc == ERR_FULL; tries++) {
        rc = en->ops->begin(en->st, true, &t, e);
        if (rc < 0)
            return rc;
        rc = fn(en, t, arg, e);
        if (rc < 0) {
            en->ops->abort(t);
            continue;
        }
        rc = en->ops->commit(t, e);
    }
    return rc;
}

/*
 * A change to a user made here takes effect here at once: cached copies
 * of the user go with every cached key.  Other replicas see it when their
 * entries age out (or, for deleted keys, when the event arrives).
 */
static int
cache_drop_all(struct engine *en, int rc)
{
    if (en->cache != NULL)
        keycache_clear(en->cache);
    return rc;
}

/* ------------------------------------------------------------------------
 * Users
 */

static bool
is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

/*
 * Makes outside text fit to quote in a one-line message: control
 * characters, quotes and backslashes are escaped, and text past SHOW_MAX
 * bytes is cut at a character boundary and marked with "...".
 */
#define SHOW_MAX 64
#define SHOW_CAP (SHOW_MAX * 4 + 4)

static const char *
show(const char *in, char out[SHOW_CAP])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, i;

    for (i = 0; in[i] != '\0' && i < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c < 0x20 || c == 0x7f) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
            continue;
        }
        if (c == '"' || c == '\\')
            out[n++] = '\\';
        out[n++] = (char)c;
    }

    /* Bytes of a cut character were copied as they were: drop them. */
    while (in[i] != '\0' && i > 0 &&
           ((unsigned char)in[i] & 0xc0) == 0x80) {
        i--;
        n--;
    }
    if (in[i] != '\0')
        for (int d = 0; d < 3; d++)
            out[n++] = '.';
    out[n] = '\0';
    return out;
}

static int
username_check(const char *name, struct err *e)
{
    size_t n = strlen(name), i;
    char shown[SHOW_CAP];

    show(name, shown);
    if (n == 0 || n > USERNAME_LEN_MAX)
        return err_set(e, ERR_INVALID, "invalid username \"%s\": must be "
                       "1 to %d characters", shown, USERNAME_LEN_MAX);
    if (strcmp(name, "new") == 0 || strcmp(name, "create") == 0)
        return err_set(e, ERR_INVALID, "invalid username \"%s\": the "
                       "name is reserved", shown);
    for (i = 0; i < n; i++) {
        bool dash_ok = i > 0 && i + 1 < n && name[i - 1] != '-';

        if (!is_alnum(name[i]) && !(name[i] == '-' && dash_ok))
            return err_set(e, ERR_INVALID, "invalid username \"%s\": use "
                           "letters, digits and single inner hyphens",
                           shown);
    }
    return 0;
}

/* Why an address is not plain local@domain, or NULL when it is. */
static const char *
email_fault(const char *email, char why[48])
{
    const char *at = strchr(email, '@');

    for (const char *p = email; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "contains a space or control character";
        if (strchr("()<>[],;:\\\"", *p) != NULL) {
            snprintf(why, 48, "the character '%c' is not allowed", *p);
            return why;
        }
    }
    if (at == NULL)
        return "missing \"@\"";
    if (strchr(at + 1, '@') != NULL)
        return "more than one \"@\"";
    if (at == email)
        return "nothing before \"@\"";
    if (at[1] == '\0')
        return "nothing after \"@\"";
    return NULL;
}

/*
 * Coder takes what Go's net/mail parses; stored here is the plain form
 * only, so a display name or angle brackets are refused rather than kept
 * as part of the address.  NULL and "" mean no email.
 */
static int
email_check(const char *email, struct err *e)
{
    char shown[SHOW_CAP];
    char buf[48];
    const char *why;

    if (email == NULL || email[0] == '\0')
        return 0;
    show(email, shown);
    if (strlen(email) > STORE_EMAIL_MAX)
        return err_set(e, ERR_INVALID, "invalid email \"%s\": longer than "
                       "%d bytes", shown, STORE_EMAIL_MAX);
    why = email_fault(email, buf);
    if (why != NULL)
        return err_set(e, ERR_INVALID, "invalid email \"%s\": %s", shown,
                       why);
    return 0;
}

static int
copy_text(char *dst, size_t cap, const char *src, const char *what,
          struct err *e)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= cap)
        return err_set(e, ERR_INVALID, "%s is too long (at most %zu "
                       "bytes)", what, cap - 1);
    memcpy(dst, n > 0 ? src : "", n);
    dst[n] = '\0';
    return 0;
}

int
engine_user_create(struct engine *en, const char *username,
                   const char *email, unsigned roles,
                   struct store_user *out, struct err *e)
{
    struct store_user u;
    int rc;

    memset(&u, 0, sizeof(u));
    rc = username_check(username, e);
    if (rc == 0)
        rc = email_check(email, e);
    if (rc == 0)
        rc = copy_text(u.email, sizeof(u.email), email, "email", e);
    if (rc < 0)
        return rc;

    util_uuid_new(u.id);
    memcpy(u.username, username, strlen(username) + 1);
    u.roles = roles;
    u.status = STORE_USER_ACTIVE;
    u.created_at = u.updated_at = util_now_ns();
    rc = en->ops->user_insert(en->st, NULL, &u, e);
    if (rc == ERR_EXISTS)
        return err_set(e, ERR_EXISTS, "username \"%s\" is already taken",
                       username);
    if (rc == 0 && out != NULL)
        *out = u;
    return rc;
}

static int
user_not_found(const char *ref, struct err *e)
{
    return err_set(e, ERR_NOT_FOUND, "user \"%s\" not found", ref);
}

int
engine_user_find(struct engine *en, const char *ref,
                 struct store_user *out, struct err *e)
{
    char id[STORE_UUID_LEN + 1];
    size_t i;
    int rc;

    if (util_uuid_valid(ref)) {
        for (i = 0; i < STORE_UUID_LEN; i++)
            id[i] = (char)(ref[i] >= 'A' && ref[i] <= 'F'
                           ? ref[i] - 'A' + 'a' : ref[i]);
        id[STORE_UUID_LEN] = '\0';
        rc = en->ops->user_get(en->st, NULL, id, out, e);
    } else {
        rc = en->ops->user_get_by_name(en->st, NULL, ref, out, e);
    }
    if (rc == 0 && out->deleted)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return user_not_found(ref, e);
    return rc;
}

struct status_arg {
    const char *id;
    enum store_user_status status;
};

static int
set_status_fn(struct engine *en, struct store_txn *t, void *arg,
              struct err *e)
{
    struct status_arg *a = arg;
    struct store_user u;
    int rc;

    rc = en->ops->user_get(en->st, t, a->id, &u, e);
    if (rc == 0 && u.deleted)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return user_not_found(a->id, e);
    if (rc < 0)
        return rc;
    u.status = a->status;
    u.updated_at = util_now_ns();
    return en->ops->user_update(en->st, t, &u, e);
}

int
engine_user_set_status(struct engine *en, const char *id,
                       enum store_user_status status, struct err *e)
{
    struct status_arg a = { id, status };

    if (status > STORE_USER_DORMANT)
        return err_set(e, ERR_INVALID, "invalid user status %d",
                       (int)status);
    return cache_drop_all(en, in_write(en, set_status_fn, &a, e));
}

/*
 * Makes room for element n of the array *p (capacity *cap, elements of
 * elem bytes): the first allocation holds first elements, each later one
 * doubles, and none grows past max elements (ERR_TOO_LARGE).
 */
static int
grow_array(void **p, size_t *cap, size_t n, size_t elem, size_t first,
           size_t max)
{
    size_t want;
    void *q;

    if (n < *cap)
        return 0;
    want = *cap == 0 ? first : *cap * 2;
    if (want > max)
        want = max;
    if (n >= want)
        return ERR_TOO_LARGE;
    q = realloc(*p, want * elem);
    if (q == NULL)
        return ERR_NOMEM;
    *p = q;
    *cap = want;
    return 0;
}

/* Key ids of one user, gathered before they are deleted. */
struct key_ids {
    char (*ids)[STORE_KEY_ID_LEN + 1];
    size_t n, cap;
};

static int
collect_key(const struct store_key *k, void *ctx)
{
    struct key_ids *ki = ctx;
    int rc = grow_array((void **)&ki->ids, &ki->cap, ki->n,
                        sizeof(*ki->ids), 16, USER_KEYS_MAX);

    if (rc < 0)
        return rc;
    memcpy(ki->ids[ki->n++], k->id, STORE_KEY_ID_LEN + 1);
    return 0;
}

static int
user_delete_fn(struct engine *en, struct store_txn *t, void *arg,
               struct err *e)
{
    struct key_ids ki = { NULL, 0, 0 };
    struct status_arg *a = arg;
    struct store_user u;
    size_t i;
    int rc;

    rc = en->ops->user_get(en->st, t, a->id, &u, e);
    if (rc == 0 && u.deleted)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return user_not_found(a->id, e);
    if (rc < 0)
        return rc;

    u.deleted = true;
    u.updated_at = util_now_ns();
    rc = en->ops->user_update(en->st, t, &u, e);
    if (rc == 0)
        rc = en->ops->key_list_by_user(en->st, t, u.id, collect_key, &ki,
                                       e);
    if (rc == ERR_TOO_LARGE || rc == ERR_NOMEM)
        err_set(e, rc, "deleting the keys of user \"%s\": %s", u.id,
                err_str(rc));
    for (i = 0; rc == 0 && i < ki.n; i++)
        rc = en->ops->key_delete(en->st, t, ki.ids[i], e);
    free(ki.ids);
    return rc;
}

int
engine_user_delete(struct engine *en, const char *id, struct err *e)
{
    struct status_arg a = { id, STORE_USER_ACTIVE };

    return cache_drop_all(en, in_write(en, user_delete_fn, &a, e));
}

struct live_arg {
    store_user_fn fn;
    void *ctx;
};

static int
live_user(const struct store_user *u, void *ctx)
{
    struct live_arg *a = ctx;

    return u->deleted ? 0 : a->fn(u, a->ctx);
}

int
engine_user_list(struct engine *en, store_user_fn fn, void *ctx,
                 struct err *e)
{
    struct live_arg a = { fn, ctx };

    return en->ops->user_list(en->st, NULL, live_user, &a, e);
}

static const struct {
    enum store_role role;
    const char *name;
} role_names[] = {
    { STORE_ROLE_OWNER, "owner" },
    { STORE_ROLE_AUDITOR, "auditor" },
    { STORE_ROLE_USER_ADMIN, "user-admin" },
    { STORE_ROLE_TEMPLATE_ADMIN, "template-admin" },
};

#define ROLE_COUNT (sizeof(role_names) / sizeof(role_names[0]))

const char *
engine_role_name(enum store_role role)
{
    size_t i;

    for (i = 0; i < ROLE_COUNT; i++)
        if (role_names[i].role == role)
            return role_names[i].name;
    return NULL;
}

/* The bits of the role named by s[0..n), or -1 for an unknown name. */
static int
role_bits(const char *s, size_t n)
{
    size_t i;

    if (n == 6 && memcmp(s, "member", 6) == 0)
        return 0;
    for (i = 0; i < ROLE_COUNT; i++)
        if (strlen(role_names[i].name) == n &&
            memcmp(role_names[i].name, s, n) == 0)
            return (int)role_names[i].role;
    return -1;
}

int
engine_roles_parse(const char *text, unsigned *roles, struct err *e)
{
    const char *p = text != NULL ? text : "";

    *roles = 0;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        int bits;

        /* Trim spaces around each name. */
        while (n > 0 && *q == ' ') {
            q++;
            n--;
        }
        while (n > 0 && q[n - 1] == ' ')
            n--;
        bits = role_bits(q, n);
        if (bits < 0)
            return err_set(e, ERR_INVALID, "unknown role \"%.*s\" (want "
                           "owner, auditor, user-admin, template-admin or "
                           "member)", (int)n, q);
        *roles |= (unsigned)bits;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * API keys
 */

static void
hash_secret(const char *secret, unsigned char out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)secret,
                       STORE_KEY_SECRET_LEN);
}

static int
token_key_init(struct store_key *k, const struct store_user *u,
               int64_t lifetime_ns, const char *name, struct err *e)
{
    int64_t now = util_now_ns();

    memset(k, 0, sizeof(*k));
    if (lifetime_ns < UTIL_NS_PER_SEC)
        return err_set(e, ERR_INVALID, "token lifetime must be at least "
                       "one second");
    if (copy_text(k->token_name, sizeof(k->token_name), name,
                  "token name", e) < 0)
        return ERR_INVALID;
    memcpy(k->user_id, u->id, sizeof(k->user_id));
    k->created_at = k->updated_at = now;
    k->expires_at = lifetime_ns > INT64_MAX - now ? INT64_MAX
                    : now + lifetime_ns;
    k->lifetime_seconds = lifetime_ns / UTIL_NS_PER_SEC;
    k->login_type = STORE_LOGIN_TOKEN;
    return 0;
}

int
engine_token_create(struct engine *en, const char *user_id,
                    int64_t lifetime_ns, const char *name,
                    char token_out[ENGINE_TOKEN_LEN + 1],
                    struct store_key *key_out, struct err *e)
{
    char secret[STORE_KEY_SECRET_LEN + 1];
    struct store_user u;
    struct store_key k;
    int rc, tries;

    token_out[0] = '\0';
    rc = en->ops->user_get(en->st, NULL, user_id, &u, e);
    if (rc == 0 && u.deleted)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return user_not_found(user_id, e);
    if (rc == 0)
        rc = token_key_init(&k, &u, lifetime_ns, name, e);
    if (rc < 0)
        return rc;

    /* A clash of 62^10 ids is unlikely; a fresh id settles one anyway. */
    rc = ERR_EXISTS;
    for (tries = 0; tries < 3 && rc == ERR_EXISTS; tries++) {
        util_random_alnum(k.id, STORE_KEY_ID_LEN);
        util_random_alnum(secret, STORE_KEY_SECRET_LEN);
        secret[STORE_KEY_SECRET_LEN] = '\0';
        hash_secret(secret, k.hashed_secret);
        rc = en->ops->key_insert(en->st, NULL, &k, e);
    }
    if (rc == 0) {
        memcpy(token_out, k.id, STORE_KEY_ID_LEN);
        token_out[STORE_KEY_ID_LEN] = '-';
        memcpy(token_out + STORE_KEY_ID_LEN + 1, secret,
               STORE_KEY_SECRET_LEN + 1);
        if (key_out != NULL)
            *key_out = k;
    }
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

int
engine_token_delete(struct engine *en, const char *key_id, struct err *e)
{
    int rc = en->ops->key_delete(en->st, NULL, key_id, e);

    if (en->cache != NULL)
        keycache_forget(en->cache, key_id);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "token \"%s\" not found", key_id);
    return rc;
}

int
engine_token_list(struct engine *en, const char *user_id, store_key_fn fn,
                  void *ctx, struct err *e)
{
    return en->ops->key_list_by_user(en->st, NULL, user_id, fn, ctx, e);
}

/* ------------------------------------------------------------------------
 * Token verification, in the order of Coder's API key middleware
 */

/* Checks the token's shape; false with out->result set when it is bad. */
static bool
token_shape_ok(const char *token, struct engine_auth *out)
{
    const char *dash = strchr(token, '-');
    size_t n = strlen(token);
    int parts = 1;
    const char *p;

    for (p = dash; p != NULL; p = strchr(p + 1, '-'))
        parts++;
    if (parts != 2) {
        out->result = ENGINE_AUTH_BAD_PARTS;
        out->count = parts;
        return false;
    }
    if ((size_t)(dash - token) != STORE_KEY_ID_LEN) {
        out->result = ENGINE_AUTH_BAD_ID_LEN;
        out->count = (int)(dash - token);
        return false;
    }
    if (n - STORE_KEY_ID_LEN - 1 != STORE_KEY_SECRET_LEN) {
        out->result = ENGINE_AUTH_BAD_SECRET_LEN;
        out->count = (int)(n - STORE_KEY_ID_LEN - 1);
        return false;
    }
    return true;
}

/*
 * Reads the key and its user as one consistent pair: one statement on
 * PostgreSQL, one read transaction on LMDB.  Sets *user_missing when the
 * key exists but its user does not.
 */
static int
auth_lookup(struct engine *en, const char *id, struct engine_auth *out,
            bool *user_missing, struct err *e)
{
    bool found = false;
    int rc;

    rc = store_key_get_auth(en->st, NULL, id, &out->key, &out->user,
                            &found, e);
    *user_missing = !found;
    return rc;
}

/* The key and its user, from the cache when a fresh copy is there. */
static int
auth_load(struct engine *en, const char *id, struct engine_auth *out,
          bool *user_missing, struct err *e)
{
    struct keycache_entry ent;
    int64_t now;
    uint64_t gen;
    int rc;

    if (en->cache == NULL)
        return auth_lookup(en, id, out, user_missing, e);
    now = util_mono_ns();
    if (keycache_get(en->cache, id, now, &ent)) {
        out->key = ent.key;
        out->user = ent.user;
        *user_missing = ent.user_missing;
        return 0;
    }

    gen = keycache_generation(en->cache);
    rc = auth_lookup(en, id, out, user_missing, e);
    if (rc == 0) {
        ent.key = out->key;
        ent.user = out->user;
        ent.user_missing = *user_missing;
        keycache_put(en->cache, gen, now, &ent);
    }
    return rc;
}

/* The verdict on a key that was found, before any side effect. */
static enum engine_auth_result
auth_verdict(const struct engine_auth *out, const char *secret,
             bool user_missing, int64_t now)
{
    unsigned char h[32];

    hash_secret(secret, h);
    if (sodium_memcmp(h, out->key.hashed_secret, sizeof(h)) != 0)
        return ENGINE_AUTH_BAD_SECRET;
    if (out->key.expires_at <= now)
        return ENGINE_AUTH_EXPIRED;
    if (user_missing || out->user.deleted)
        return ENGINE_AUTH_USER_GONE;
    if (out->user.status == STORE_USER_SUSPENDED)
        return ENGINE_AUTH_SUSPENDED;
    return ENGINE_AUTH_OK;
}

struct touch_arg {
    struct engine_auth *out;
    bool key_changed;
    bool seen;                  /* last_used moved: user was seen */
    int64_t now;
};

static int
touch_fn(struct engine *en, struct store_txn *t, void *arg, struct err *e)
{
    struct touch_arg *a = arg;
    struct store_user u;
    int rc = 0;

    if (a->key_changed)
        rc = en->ops->key_touch(en->st, t, &a->out->key, e);
    if (rc < 0)
        return rc;

    /* Re-read the user inside the write so no other change is lost. */
    rc = en->ops->user_get(en->st, t, a->out->user.id, &u, e);
    if (rc < 0)
        return rc;
    if (u.status == STORE_USER_DORMANT)
        u.status = STORE_USER_ACTIVE;
    if (a->seen)
        u.last_seen_at = a->now;
    if (u.status == a->out->user.status && !a->seen) {
        a->out->user = u;
        return 0;
    }
    u.updated_at = a->now;
    rc = en->ops->user_update(en->st, t, &u, e);
    if (rc == 0)
        a->out->user = u;
    return rc;
}

/*
 * Saturating arithmetic for values read from the database, which may
 * hold anything an int64 can: a result past the range sticks at its end.
 */
static int64_t
sat_add(int64_t a, int64_t b)
{
    int64_t r;

    if (!__builtin_add_overflow(a, b, &r))
        return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

static int64_t
sat_sub(int64_t a, int64_t b)
{
    int64_t r;

    if (!__builtin_sub_overflow(a, b, &r))
        return r;
    return b < 0 ? INT64_MAX : INT64_MIN;
}

static int64_t
sat_mul(int64_t a, int64_t b)
{
    int64_t r;

    if (!__builtin_mul_overflow(a, b, &r))
        return r;
    return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
}

/* Coder's side effects of a good key: hourly last use, sliding expiry. */
static int
auth_touch(struct engine *en, const struct engine_auth_options *opt,
           int64_t now, struct engine_auth *out, struct err *e)
{
    struct touch_arg a = { out, false, false, now };
    struct store_key *k = &out->key;
    int64_t life = sat_mul(k->lifetime_seconds, UTIL_NS_PER_SEC);
    int rc;

    if (sat_sub(now, k->last_used) > HOUR_NS) {
        k->last_used = now;
        copy_text(k->ip_address, sizeof(k->ip_address),
                  opt != NULL && opt->ip != NULL ? opt->ip : "", "ip",
                  NULL);
        a.key_changed = a.seen = true;
    }
    if ((opt == NULL || !opt->disable_expiry_refresh) &&
        sat_sub(k->expires_at, now) <= sat_sub(life, HOUR_NS)) {
        k->expires_at = sat_add(now, life);
        a.key_changed = true;
    }
    if (!a.key_changed && out->user.status != STORE_USER_DORMANT)
        return 0;

    k->updated_at = a.key_changed ? now : k->updated_at;
    rc = in_write(en, touch_fn, &a, e);

    /* The cached copy predates the write: read the new one next time. */
    if (en->cache != NULL)
        keycache_forget(en->cache, k->id);
    if (rc == ERR_NOT_FOUND) {
        /* Deleted between the read and the write: refuse it. */
        err_clear(e);
        out->result = ENGINE_AUTH_UNKNOWN_ID;
        return 0;
    }
    return rc;
}

int
engine_token_verify(struct engine *en, const char *token,
                    const struct engine_auth_options *opt,
                    struct engine_auth *out, struct err *e)
{
    int64_t now = opt != NULL && opt->now != 0 ? opt->now : util_now_ns();
    char id[STORE_KEY_ID_LEN + 1];
    bool user_missing;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!token_shape_ok(token, out))
        return 0;
    memcpy(id, token, STORE_KEY_ID_LEN);
    id[STORE_KEY_ID_LEN] = '\0';

    rc = auth_load(en, id, out, &user_missing, e);
    if (rc == ERR_NOT_FOUND) {
        err_clear(e);
        out->result = ENGINE_AUTH_UNKNOWN_ID;
        return 0;
    }
    if (rc < 0)
        return rc;

    out->result = auth_verdict(out, token + STORE_KEY_ID_LEN + 1,
                               user_missing, now);
    if (out->result != ENGINE_AUTH_OK)
        return 0;
    return auth_touch(en, opt, now, out, e);
}

/* ------------------------------------------------------------------------
 * Deployment statistics (coderd/metricscache)
 */

struct ws_count {
    int64_t now;
    struct engine_stats *out;
};

static int
count_workspace(const struct store_workspace *w, void *ctx)
{
    struct ws_count *c = ctx;
    struct engine_stats *o = c->out;
    bool started = w->has_build && w->job_started_at != 0;
    bool completed = w->has_build && w->job_completed_at != 0;
    bool canceled = w->has_build && w->job_canceled_at != 0;
    bool failed = w->has_build && w->job_error;

    if (w->deleted)
        return 0;

    /* Each class is its own filter, as in Coder's query. */
    if (!started)
        o->pending++;
    if (started && !canceled && !completed &&
        w->job_updated_at > c->now - 30 * UTIL_NS_PER_SEC)
        o->building++;
    if (completed && !canceled && !failed &&
        w->transition == STORE_TRANSITION_START)
        o->running++;
    if (canceled || failed)
        o->failed++;
    if (completed && !canceled && !failed &&
        w->transition == STORE_TRANSITION_STOP)
        o->stopped++;
    return 0;
}

/* One agent stats row as the aggregate needs it. */
struct stat_row {
    char agent_id[STORE_UUID_LEN + 1];
    size_t seq;
    int64_t vscode, ssh, jetbrains, rpty;
};

struct stat_acc {
    int64_t from;
    double *lat;
    size_t nlat, latcap;
    struct stat_row *rows;
    size_t nrows, rowcap;
    int64_t rx, tx;
};

static int
add_stat(const struct store_agent_stat *s, void *ctx)
{
    struct stat_acc *a = ctx;
    struct stat_row *r;
    int rc;

    if (s->created_at <= a->from)
        return 0;
    a->rx = sat_add(a->rx, s->rx_bytes);
    a->tx = sat_add(a->tx, s->tx_bytes);
    if (s->connection_median_latency_ms > 0) {
        rc = grow_array((void **)&a->lat, &a->latcap, a->nlat,
                        sizeof(*a->lat), 256, ENGINE_STATS_ROWS_MAX);
        if (rc < 0)
            return rc;
        a->lat[a->nlat++] = s->connection_median_latency_ms;
    }

    rc = grow_array((void **)&a->rows, &a->rowcap, a->nrows,
                    sizeof(*a->rows), 256, ENGINE_STATS_ROWS_MAX);
    if (rc < 0)
        return rc;
    r = &a->rows[a->nrows];
    memcpy(r->agent_id, s->agent_id, sizeof(r->agent_id));
    r->seq = a->nrows++;
    r->vscode = s->session_count_vscode;
    r->ssh = s->session_count_ssh;
    r->jetbrains = s->session_count_jetbrains;
    r->rpty = s->session_count_reconnecting_pty;
    return 0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Agent, then scan order (which is time order). */
static int
cmp_row(const void *a, const void *b)
{
    const struct stat_row *x = a, *y = b;
    int c = strcmp(x->agent_id, y->agent_id);

    if (c != 0)
        return c;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* PostgreSQL's percentile_cont over sorted v[0..n): linear interpolation. */
static double
percentile_cont(const double *v, size_t n, double p)
{
    double pos, frac;
    size_t lo;

    if (n == 0)
        return -1;
    pos = p * (double)(n - 1);
    lo = (size_t)floor(pos);
    frac = pos - (double)lo;
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

static void
stats_finish(struct stat_acc *a, struct engine_stats *o)
{
    size_t i;

    if (a->nlat > 0)
        qsort(a->lat, a->nlat, sizeof(*a->lat), cmp_double);
    o->latency_p50_ms = percentile_cont(a->lat, a->nlat, 0.5);
    o->latency_p95_ms = percentile_cont(a->lat, a->nlat, 0.95);
    o->rx_bytes = a->rx;
    o->tx_bytes = a->tx;

    /* Session counts come from the latest row of each agent. */
    if (a->nrows > 0)
        qsort(a->rows, a->nrows, sizeof(*a->rows), cmp_row);
    for (i = 0; i < a->nrows; i++) {
        const struct stat_row *r = &a->rows[i];

        if (i + 1 < a->nrows &&
            strcmp(r->agent_id, a->rows[i + 1].agent_id) == 0)
            continue;
        o->session_vscode = sat_add(o->session_vscode, r->vscode);
        o->session_ssh = sat_add(o->session_ssh, r->ssh);
        o->session_jetbrains = sat_add(o->session_jetbrains, r->jetbrains);
        o->session_reconnecting_pty = sat_add(o->session_reconnecting_pty,
                                              r->rpty);
    }
}

/* Go's Time.Round(time.Microsecond): halves away from zero. */
static int64_t
round_us(int64_t t)
{
    int64_t r = t % 1000;

    if (r < 0)
        r += 1000;
    return r >= 500 ? t - r + 1000 : t - r;
}

int
engine_stats_compute(struct engine *en, int64_t now, int64_t interval_ns,
                     struct engine_stats *out, struct err *e)
{
    struct stat_acc acc;
    struct ws_count wc;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&acc, 0, sizeof(acc));
    now = round_us(now);
    out->collected_at = now;
    out->aggregated_from = now - 15 * MINUTE_NS;
    out->next_update_at = now + interval_ns;
    wc.now = now;
    wc.out = out;
    acc.from = out->aggregated_from;

    rc = en->ops->workspace_list(en->st, NULL, count_workspace, &wc, e);
    if (rc < 0)
        goto out;
    rc = en->ops->stat_scan_since(en->st, NULL, acc.from, add_stat, &acc,
                                  e);
    if (rc == ERR_TOO_LARGE || rc == ERR_NOMEM)
        err_set(e, rc, "computing deployment stats: %s", rc == ERR_NOMEM
                ? "out of memory" : "too many agent stats rows");
    if (rc < 0)
        goto out;
    stats_finish(&acc, out);
out:
    free(acc.lat);
    free(acc.rows);
    return rc;
}

static int
stats_prune_fn(struct engine *en, struct store_txn *t, void *arg,
               struct err *e)
{
    return store_stat_prune(en->st, t, *(const int64_t *)arg, e);
}

int
engine_stats_prune(struct engine *en, int64_t older_than, struct err *e)
{
    return in_write(en, stats_prune_fn, &older_than, e);
}

/* ------------------------------------------------------------------------
 * CSP reports, snapshots, replicas, update check
 */

struct csp_arg {
    const char *body;
    bool prune;
};

static int
csp_fn(struct engine *en, struct store_txn *t, void *arg, struct err *e)
{
    const struct csp_arg *a = arg;
    int64_t now = util_now_ns();
    int rc;

    rc = en->ops->csp_append(en->st, t, now, a->body, NULL, e);
    if (rc == 0 && a->prune)
        rc = en->ops->csp_prune(en->st, t, ENGINE_CSP_KEEP_MAX,
                                now - ENGINE_CSP_KEEP_NS, e);
    return rc;
}

/*
 * Pruning reads up to ENGINE_CSP_KEEP_MAX rows, too much for every
 * report: it runs with the first report after open, every
 * ENGINE_CSP_PRUNE_EVERY-th one, and the first a minute after the last.
 */
static bool
csp_prune_due(struct engine *en, int64_t mono)
{
    unsigned n = atomic_fetch_add(&en->csp_records, 1);
    int64_t last = atomic_load(&en->csp_pruned_at);

    return n % ENGINE_CSP_PRUNE_EVERY == 0 || mono - last >= MINUTE_NS;
}

int
engine_csp_record(struct engine *en, const char *json_body, struct err *e)
{
    int64_t mono = util_mono_ns();
    struct csp_arg a = { json_body, false };
    int rc;

    if (strlen(json_body) > STORE_CSP_BODY_MAX)
        return err_set(e, ERR_TOO_LARGE, "csp report is too large");
    a.prune = csp_prune_due(en, mono);
    rc = in_write(en, csp_fn, &a, e);
    if (rc == 0 && a.prune)
        atomic_store(&en->csp_pruned_at, mono);
    return rc;
}

int
engine_snapshot_record(struct engine *en, const char *replica_id,
                       const char *json, struct err *e)
{
    struct store_snapshot snap;

    memset(&snap, 0, sizeof(snap));
    if (copy_text(snap.replica_id, sizeof(snap.replica_id), replica_id,
                  "replica id", e) < 0)
        return ERR_INVALID;
    snap.taken_at = util_now_ns();
    snap.json = (char *)json;
    return en->ops->snapshot_append(en->st, NULL, &snap, e);
}

/* Replicas past their last heartbeat, gathered before they are marked. */
struct stale_list {
    int64_t older_than;
    struct store_replica *v;
    size_t n, cap;
};

static int
collect_stale(const struct store_replica *r, void *ctx)
{
    struct stale_list *sl = ctx;
    int rc;

    if (r->gone || r->heartbeat_at >= sl->older_than)
        return 0;
    rc = grow_array((void **)&sl->v, &sl->cap, sl->n, sizeof(*sl->v), 8,
                    REPLICAS_MAX);
    if (rc < 0)
        return rc;
    sl->v[sl->n++] = *r;
    return 0;
}

int
engine_replica_mark_gone(struct engine *en, int64_t older_than,
                         size_t *marked, struct err *e)
{
    struct stale_list sl = { older_than, NULL, 0, 0 };
    size_t i;
    int rc;

    if (marked != NULL)
        *marked = 0;
    rc = en->ops->replica_list(en->st, NULL, collect_stale, &sl, e);
    if (rc == ERR_TOO_LARGE || rc == ERR_NOMEM)
        err_set(e, rc, "listing replicas: %s", err_str(rc));

    /* One upsert each: a replica that beats meanwhile clears it again. */
    for (i = 0; rc == 0 && i < sl.n; i++) {
        sl.v[i].gone = true;
        rc = en->ops->replica_put(en->st, NULL, &sl.v[i], e);
        if (rc == 0 && marked != NULL)
            (*marked)++;
    }
    free(sl.v);
    return rc;
}

int
engine_replica_heartbeat(struct engine *en, const struct store_replica *r,
                         struct err *e)
{
    struct store_replica copy = *r;
    int rc;

    copy.heartbeat_at = util_now_ns();
    copy.gone = false;
    if (copy.started_at == 0)
        copy.started_at = copy.heartbeat_at;
    rc = en->ops->replica_put(en->st, NULL, &copy, e);
    if (rc == 0)
        rc = engine_replica_mark_gone(en, copy.heartbeat_at -
                                      ENGINE_REPLICA_GONE_NS, NULL, e);
    return rc;
}

bool
engine_pg_address(const char *url, char *out, size_t size)
{
    return store_postgres_address(url, out, size);
}

int
engine_replica_leave(struct engine *en, const struct store_replica *r,
                     struct err *e)
{
    struct store_replica copy = *r;

    copy.heartbeat_at = util_now_ns();
    copy.gone = true;
    return en->ops->replica_put(en->st, NULL, &copy, e);
}

int
engine_updatecheck_get(struct engine *en, char **json, struct err *e)
{
    return en->ops->site_get(en->st, NULL, SITE_UPDATE_CHECK, json, e);
}

int
engine_updatecheck_put(struct engine *en, const char *json, struct err *e)
{
    return en->ops->site_put(en->st, NULL, SITE_UPDATE_CHECK, json, e);
}
