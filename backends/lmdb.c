/*
 * lmdb.c: the embedded store, one LMDB environment in the config directory.
 *
 * Layout.  One named database per record kind, plus two indexes:
 *
 *   meta            "format" and sequence counters, 8-byte big-endian
 *   site            key text -> [v, value]
 *   users           id -> user record
 *   users_by_name   lower-cased username -> id (non-deleted users only)
 *   keys            key id -> key record
 *   keys_by_user    user id + key id -> empty
 *   workspaces      id -> workspace record
 *   stats           be64(created_at) + id -> agent stats record
 *   csp             be64(id) -> report
 *   snapshots       be64(taken_at) + be64(seq) -> snapshot
 *   replicas        id -> replica record
 *
 * Times in keys are flipped in their sign bit and stored big-endian, so
 * that byte order is time order and range scans walk forwards in time.
 *
 * Values are msgpack arrays whose first element is the record format
 * version.  A newer build may append fields and raise the version; this
 * build reads any version up to LM_FORMAT (missing trailing fields take
 * their zero value) and refuses a higher one with ERR_VERSION rather than
 * misread it.  A value that does not decode is ERR_CORRUPT.
 *
 * Concurrency.  The environment is opened with MDB_NOTLS, so that a read
 * transaction belongs to its handle rather than to a thread.  Growing the
 * map (mdb_env_set_mapsize) needs every transaction of this process to be
 * finished, so each transaction holds map_lock for reading and growth
 * takes it for writing.  Another process that grows the map shows up as
 * MDB_MAP_RESIZED when a transaction begins; we then adopt its size.
 *
 * Durability.  By default every commit is synced to disk (data and meta
 * page), so a commit that returned is on disk.  With durable false the
 * meta page is not synced (MDB_NOMETASYNC): a system crash may lose the
 * last commits but never corrupts the file; a process crash loses nothing
 * either way, as the pages are already in the kernel.
 */
#include <errno.h>
#include <lmdb.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "backends/store.h"
#include "core/util.h"
#include "core/banned.h"

/* The record format this build writes and the newest it reads. */
#define LM_FORMAT 1

#define LM_MAP_DEFAULT ((size_t)64 << 20)
#define LM_MAP_LIMIT ((size_t)1 << 40)
#define LM_MAX_READERS 1024
#define LM_GROW_TRIES 16
#define LM_PATH_MAX 4096

enum lm_db {
    DB_META,
    DB_SITE,
    DB_USERS,
    DB_USERS_BY_NAME,
    DB_KEYS,
    DB_KEYS_BY_USER,
    DB_WORKSPACES,
    DB_STATS,
    DB_CSP,
    DB_SNAPSHOTS,
    DB_REPLICAS,
    DB_COUNT
};

static const char *const db_names[DB_COUNT] = {
    "meta", "site", "users", "users_by_name", "keys", "keys_by_user",
    "workspaces", "stats", "csp", "snapshots", "replicas"
};

struct lm_store {
    struct store_base base;
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    pthread_rwlock_t map_lock;
    bool lock_ready;
    char *dir;
};

struct lm_txn {
    struct lm_store *s;
    MDB_txn *txn;
    bool write;
    bool map_full;           /* a put hit MDB_MAP_FULL: grow at the end */
    size_t map_seen;         /* the map size when the txn began */
};

static struct lm_store *
lm(struct store *s)
{
    return (struct lm_store *)(void *)s;
}

/* ------------------------------------------------------------------------
 * Errors
 */

static int
code_of(int rc)
{
    switch (rc) {
    case MDB_NOTFOUND:
        return ERR_NOT_FOUND;
    case MDB_KEYEXIST:
        return ERR_EXISTS;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return ERR_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_BAD_DBI:
    case MDB_INCOMPATIBLE:
        return ERR_CORRUPT;
    case MDB_VERSION_MISMATCH:
        return ERR_VERSION;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
        return ERR_BUSY;
    case ENOMEM:
        return ERR_NOMEM;
    case EACCES:
    case EPERM:
    case EROFS:
        return ERR_DENIED;
    default:
        return ERR_IO;
    }
}

/* Maps an LMDB result to our code and message; remembers a full map. */
static int
lm_fail(struct lm_txn *t, struct err *e, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL && t != NULL)
        t->map_full = true;
    return err_set(e, code_of(rc), "store: %s: %s", what, mdb_strerror(rc));
}

/* ------------------------------------------------------------------------
 * Byte helpers for keys
 */

static void
put_be64(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t
get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* A signed time as bytes whose order is the time order. */
static void
put_time(unsigned char *p, int64_t t)
{
    put_be64(p, (uint64_t)t ^ ((uint64_t)1 << 63));
}

static MDB_val
val_of(const void *p, size_t n)
{
    MDB_val v;

    v.mv_data = (void *)p;
    v.mv_size = n;
    return v;
}

static MDB_val
val_str(const char *s)
{
    return val_of(s, strlen(s));
}

/* ------------------------------------------------------------------------
 * Record encoding: a msgpack array led by the format version
 */

struct enc {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int bad;
};

static void
enc_init(struct enc *x, unsigned nfields)
{
    msgpack_sbuffer_init(&x->sb);
    msgpack_packer_init(&x->pk, &x->sb, msgpack_sbuffer_write);
    x->bad = msgpack_pack_array(&x->pk, nfields + 1);
    x->bad |= msgpack_pack_uint32(&x->pk, LM_FORMAT);
}

static void
enc_release(struct enc *x)
{
    msgpack_sbuffer_destroy(&x->sb);
}

static void
enc_str(struct enc *x, const char *s)
{
    size_t n = strlen(s);

    x->bad |= msgpack_pack_str(&x->pk, n);
    x->bad |= msgpack_pack_str_body(&x->pk, s, n);
}

static void
enc_i64(struct enc *x, int64_t v)
{
    x->bad |= msgpack_pack_int64(&x->pk, v);
}

static void
enc_bool(struct enc *x, bool v)
{
    x->bad |= v ? msgpack_pack_true(&x->pk) : msgpack_pack_false(&x->pk);
}

static void
enc_f64(struct enc *x, double v)
{
    x->bad |= msgpack_pack_double(&x->pk, v);
}

static void
enc_bin(struct enc *x, const void *p, size_t n)
{
    x->bad |= msgpack_pack_bin(&x->pk, n);
    x->bad |= msgpack_pack_bin_body(&x->pk, p, n);
}

/* The encoded bytes, or ERR_NOMEM when a pack step ran out of memory. */
static int
enc_val(struct enc *x, MDB_val *v, struct err *e)
{
    if (x->bad != 0)
        return err_set(e, ERR_NOMEM, "store: encoding a record: %s",
                       "out of memory");
    *v = val_of(x->sb.data, x->sb.size);
    return 0;
}

/* ------------------------------------------------------------------------
 * Record decoding; every getter checks type and size and marks the first
 * bad field, so that a decoder reads all fields and checks once.
 */

struct dec {
    msgpack_unpacked up;
    const msgpack_object *f;
    uint32_t n;
    int bad;                 /* first bad field index + 1, or 0 */
};

static int
dec_open(struct dec *d, const MDB_val *v, const char *what, struct err *e)
{
    size_t off = 0;
    msgpack_unpack_return ur;
    const msgpack_object *root;
    uint64_t ver;

    msgpack_unpacked_init(&d->up);
    d->bad = 0;
    ur = msgpack_unpack_next(&d->up, v->mv_data, v->mv_size, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        return err_set(e, ERR_NOMEM, "store: decoding %s: out of memory",
                       what);
    root = &d->up.data;
    if (ur != MSGPACK_UNPACK_SUCCESS || off != v->mv_size ||
        root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 1 ||
        root->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return err_set(e, ERR_CORRUPT,
                       "store: record %s does not decode", what);

    ver = root->via.array.ptr[0].via.u64;
    if (ver == 0)
        return err_set(e, ERR_CORRUPT,
                       "store: record %s has format version 0", what);
    if (ver > LM_FORMAT)
        return err_set(e, ERR_VERSION,
                       "store: record %s has format version %llu, newer "
                       "than this build reads (%d): upgrade coder-cfg",
                       what, (unsigned long long)ver, LM_FORMAT);
    d->f = root->via.array.ptr;
    d->n = root->via.array.size;
    return 0;
}

static void
dec_close(struct dec *d)
{
    msgpack_unpacked_destroy(&d->up);
}

static int
dec_check(const struct dec *d, const char *what, struct err *e)
{
    if (d->bad == 0)
        return 0;
    return err_set(e, ERR_CORRUPT,
                   "store: record %s does not decode: field %d is invalid",
                   what, d->bad - 1);
}

/* The field at i, or NULL when the record is older than the field. */
static const msgpack_object *
dec_field(struct dec *d, unsigned i)
{
    return i < d->n ? &d->f[i] : NULL;
}

static void
dec_mark(struct dec *d, unsigned i)
{
    if (d->bad == 0)
        d->bad = (int)i + 1;
}

static void
dec_str(struct dec *d, unsigned i, char *out, size_t cap)
{
    const msgpack_object *o = dec_field(d, i);

    out[0] = '\0';
    if (o == NULL)
        return;
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap ||
        memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL) {
        dec_mark(d, i);
        return;
    }
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
}

/* A heap copy of a string field; NULL with the field marked on failure. */
static char *
dec_strdup(struct dec *d, unsigned i, size_t max)
{
    const msgpack_object *o = dec_field(d, i);
    char *p;

    if (o == NULL)
        return calloc(1, 1);
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max) {
        dec_mark(d, i);
        return NULL;
    }
    p = malloc(o->via.str.size + 1);
    if (p == NULL) {
        dec_mark(d, i);
        return NULL;
    }
    memcpy(p, o->via.str.ptr, o->via.str.size);
    p[o->via.str.size] = '\0';
    return p;
}

static int64_t
dec_i64(struct dec *d, unsigned i)
{
    const msgpack_object *o = dec_field(d, i);

    if (o == NULL)
        return 0;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)INT64_MAX)
        return (int64_t)o->via.u64;
    dec_mark(d, i);
    return 0;
}

/* An enum field: an integer in [0, max]. */
static int
dec_enum(struct dec *d, unsigned i, int max)
{
    int64_t v = dec_i64(d, i);

    if (v < 0 || v > max) {
        dec_mark(d, i);
        return 0;
    }
    return (int)v;
}

static bool
dec_bool(struct dec *d, unsigned i)
{
    const msgpack_object *o = dec_field(d, i);

    if (o == NULL)
        return false;
    if (o->type != MSGPACK_OBJECT_BOOLEAN) {
        dec_mark(d, i);
        return false;
    }
    return o->via.boolean;
}

static double
dec_f64(struct dec *d, unsigned i)
{
    const msgpack_object *o = dec_field(d, i);

    if (o == NULL)
        return 0;
    if (o->type == MSGPACK_OBJECT_FLOAT32 ||
        o->type == MSGPACK_OBJECT_FLOAT64)
        return o->via.f64;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
        o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return (double)dec_i64(d, i);
    dec_mark(d, i);
    return 0;
}

static void
dec_bin(struct dec *d, unsigned i, unsigned char *out, size_t n)
{
    const msgpack_object *o = dec_field(d, i);

    memset(out, 0, n);
    if (o == NULL)
        return;
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != n) {
        dec_mark(d, i);
        return;
    }
    memcpy(out, o->via.bin.ptr, n);
}

/* ------------------------------------------------------------------------
 * Records.  Field order is the on-disk format: append only, and raise
 * LM_FORMAT when a field is added.
 */

static void
user_enc(struct enc *x, const struct store_user *u)
{
    enc_init(x, 9);
    enc_str(x, u->id);
    enc_str(x, u->username);
    enc_str(x, u->email);
    enc_i64(x, u->roles);
    enc_i64(x, u->status);
    enc_bool(x, u->deleted);
    enc_i64(x, u->created_at);
    enc_i64(x, u->updated_at);
    enc_i64(x, u->last_seen_at);
}

static int
user_dec(const MDB_val *v, struct store_user *u, struct err *e)
{
    struct dec d;
    int rc;

    memset(u, 0, sizeof(*u));
    rc = dec_open(&d, v, "in \"users\"", e);
    if (rc < 0)
        goto out;
    dec_str(&d, 1, u->id, sizeof(u->id));
    dec_str(&d, 2, u->username, sizeof(u->username));
    dec_str(&d, 3, u->email, sizeof(u->email));
    u->roles = (unsigned)dec_enum(&d, 4, 0xffff);
    u->status = dec_enum(&d, 5, STORE_USER_DORMANT);
    u->deleted = dec_bool(&d, 6);
    u->created_at = dec_i64(&d, 7);
    u->updated_at = dec_i64(&d, 8);
    u->last_seen_at = dec_i64(&d, 9);
    rc = dec_check(&d, "in \"users\"", e);
out:
    dec_close(&d);
    return rc;
}

static void
key_enc(struct enc *x, const struct store_key *k)
{
    enc_init(x, 11);
    enc_str(x, k->id);
    enc_bin(x, k->hashed_secret, sizeof(k->hashed_secret));
    enc_str(x, k->user_id);
    enc_i64(x, k->created_at);
    enc_i64(x, k->updated_at);
    enc_i64(x, k->expires_at);
    enc_i64(x, k->last_used);
    enc_i64(x, k->lifetime_seconds);
    enc_i64(x, k->login_type);
    enc_str(x, k->token_name);
    enc_str(x, k->ip_address);
}

static int
key_dec(const MDB_val *v, struct store_key *k, struct err *e)
{
    struct dec d;
    int rc;

    memset(k, 0, sizeof(*k));
    rc = dec_open(&d, v, "in \"keys\"", e);
    if (rc < 0)
        goto out;
    dec_str(&d, 1, k->id, sizeof(k->id));
    dec_bin(&d, 2, k->hashed_secret, sizeof(k->hashed_secret));
    dec_str(&d, 3, k->user_id, sizeof(k->user_id));
    k->created_at = dec_i64(&d, 4);
    k->updated_at = dec_i64(&d, 5);
    k->expires_at = dec_i64(&d, 6);
    k->last_used = dec_i64(&d, 7);
    k->lifetime_seconds = dec_i64(&d, 8);
    k->login_type = dec_enum(&d, 9, STORE_LOGIN_NONE);
    dec_str(&d, 10, k->token_name, sizeof(k->token_name));
    dec_str(&d, 11, k->ip_address, sizeof(k->ip_address));
    rc = dec_check(&d, "in \"keys\"", e);
out:
    dec_close(&d);
    return rc;
}

static void
ws_enc(struct enc *x, const struct store_workspace *w)
{
    enc_init(x, 12);
    enc_str(x, w->id);
    enc_str(x, w->owner_id);
    enc_str(x, w->name);
    enc_bool(x, w->deleted);
    enc_i64(x, w->created_at);
    enc_bool(x, w->has_build);
    enc_i64(x, w->transition);
    enc_i64(x, w->job_started_at);
    enc_i64(x, w->job_completed_at);
    enc_i64(x, w->job_canceled_at);
    enc_i64(x, w->job_updated_at);
    enc_bool(x, w->job_error);
}

static int
ws_dec(const MDB_val *v, struct store_workspace *w, struct err *e)
{
    struct dec d;
    int rc;

    memset(w, 0, sizeof(*w));
    rc = dec_open(&d, v, "in \"workspaces\"", e);
    if (rc < 0)
        goto out;
    dec_str(&d, 1, w->id, sizeof(w->id));
    dec_str(&d, 2, w->owner_id, sizeof(w->owner_id));
    dec_str(&d, 3, w->name, sizeof(w->name));
    w->deleted = dec_bool(&d, 4);
    w->created_at = dec_i64(&d, 5);
    w->has_build = dec_bool(&d, 6);
    w->transition = dec_enum(&d, 7, STORE_TRANSITION_DELETE);
    w->job_started_at = dec_i64(&d, 8);
    w->job_completed_at = dec_i64(&d, 9);
    w->job_canceled_at = dec_i64(&d, 10);
    w->job_updated_at = dec_i64(&d, 11);
    w->job_error = dec_bool(&d, 12);
    rc = dec_check(&d, "in \"workspaces\"", e);
out:
    dec_close(&d);
    return rc;
}

static void
stat_enc(struct enc *x, const struct store_agent_stat *st)
{
    enc_init(x, 11);
    enc_i64(x, st->created_at);
    enc_str(x, st->id);
    enc_str(x, st->workspace_id);
    enc_str(x, st->agent_id);
    enc_i64(x, st->rx_bytes);
    enc_i64(x, st->tx_bytes);
    enc_f64(x, st->connection_median_latency_ms);
    enc_i64(x, st->session_count_vscode);
    enc_i64(x, st->session_count_ssh);
    enc_i64(x, st->session_count_jetbrains);
    enc_i64(x, st->session_count_reconnecting_pty);
}

static int
stat_dec(const MDB_val *v, struct store_agent_stat *st, struct err *e)
{
    struct dec d;
    int rc;

    memset(st, 0, sizeof(*st));
    rc = dec_open(&d, v, "in \"stats\"", e);
    if (rc < 0)
        goto out;
    st->created_at = dec_i64(&d, 1);
    dec_str(&d, 2, st->id, sizeof(st->id));
    dec_str(&d, 3, st->workspace_id, sizeof(st->workspace_id));
    dec_str(&d, 4, st->agent_id, sizeof(st->agent_id));
    st->rx_bytes = dec_i64(&d, 5);
    st->tx_bytes = dec_i64(&d, 6);
    st->connection_median_latency_ms = dec_f64(&d, 7);
    st->session_count_vscode = dec_i64(&d, 8);
    st->session_count_ssh = dec_i64(&d, 9);
    st->session_count_jetbrains = dec_i64(&d, 10);
    st->session_count_reconnecting_pty = dec_i64(&d, 11);
    rc = dec_check(&d, "in \"stats\"", e);
out:
    dec_close(&d);
    return rc;
}

static void
csp_enc(struct enc *x, const struct store_csp_report *r)
{
    enc_init(x, 3);
    enc_i64(x, r->id);
    enc_i64(x, r->received_at);
    enc_str(x, r->body);
}

/* Fills r with a heap body the caller frees (store_csp_free). */
static int
csp_dec(const MDB_val *v, struct store_csp_report *r, struct err *e)
{
    struct dec d;
    int rc;

    memset(r, 0, sizeof(*r));
    rc = dec_open(&d, v, "in \"csp\"", e);
    if (rc < 0)
        goto out;
    r->id = dec_i64(&d, 1);
    r->received_at = dec_i64(&d, 2);
    r->body = dec_strdup(&d, 3, STORE_CSP_BODY_MAX);
    rc = dec_check(&d, "in \"csp\"", e);
    if (rc < 0)
        store_csp_free(r);
out:
    dec_close(&d);
    return rc;
}

static void
snap_enc(struct enc *x, const struct store_snapshot *snap)
{
    enc_init(x, 3);
    enc_str(x, snap->replica_id);
    enc_i64(x, snap->taken_at);
    enc_str(x, snap->json);
}

static int
snap_dec(const MDB_val *v, struct store_snapshot *snap, struct err *e)
{
    struct dec d;
    int rc;

    memset(snap, 0, sizeof(*snap));
    rc = dec_open(&d, v, "in \"snapshots\"", e);
    if (rc < 0)
        goto out;
    dec_str(&d, 1, snap->replica_id, sizeof(snap->replica_id));
    snap->taken_at = dec_i64(&d, 2);
    snap->json = dec_strdup(&d, 3, STORE_SNAPSHOT_MAX);
    rc = dec_check(&d, "in \"snapshots\"", e);
    if (rc < 0)
        store_snapshot_free(snap);
out:
    dec_close(&d);
    return rc;
}

static void
replica_enc(struct enc *x, const struct store_replica *r)
{
    enc_init(x, 6);
    enc_str(x, r->id);
    enc_str(x, r->hostname);
    enc_str(x, r->version);
    enc_i64(x, r->started_at);
    enc_i64(x, r->heartbeat_at);
    enc_bool(x, r->gone);
}

static int
replica_dec(const MDB_val *v, struct store_replica *r, struct err *e)
{
    struct dec d;
    int rc;

    memset(r, 0, sizeof(*r));
    rc = dec_open(&d, v, "in \"replicas\"", e);
    if (rc < 0)
        goto out;
    dec_str(&d, 1, r->id, sizeof(r->id));
    dec_str(&d, 2, r->hostname, sizeof(r->hostname));
    dec_str(&d, 3, r->version, sizeof(r->version));
    r->started_at = dec_i64(&d, 4);
    r->heartbeat_at = dec_i64(&d, 5);
    r->gone = dec_bool(&d, 6);
    rc = dec_check(&d, "in \"replicas\"", e);
out:
    dec_close(&d);
    return rc;
}

/* ------------------------------------------------------------------------
 * Transactions and map growth
 */

static size_t
map_size(struct lm_store *s)
{
    MDB_envinfo info;

    mdb_env_info(s->env, &info);
    return info.me_mapsize;
}

/* Takes on the map size another process has grown the file to. */
static int
map_adopt(struct lm_store *s, struct err *e)
{
    int rc;

    pthread_rwlock_wrlock(&s->map_lock);
    rc = mdb_env_set_mapsize(s->env, 0);
    pthread_rwlock_unlock(&s->map_lock);
    return rc == 0 ? 0 : lm_fail(NULL, e, rc, "adopting the map size");
}

/*
 * Doubles the map unless another thread already grew it past seen.
 * Runs with no transaction of this process open.
 */
static int
map_grow(struct lm_store *s, size_t seen, struct err *e)
{
    size_t cur, next;
    int rc = 0;

    pthread_rwlock_wrlock(&s->map_lock);
    cur = map_size(s);
    if (cur <= seen) {
        next = cur * 2;
        if (cur >= LM_MAP_LIMIT)
            rc = MDB_MAP_FULL;
        else
            rc = mdb_env_set_mapsize(s->env, next);
    }
    pthread_rwlock_unlock(&s->map_lock);
    if (rc != 0)
        return lm_fail(NULL, e, rc, "growing the map");
    return 0;
}

static int
txn_start(struct lm_store *s, bool write, struct lm_txn *t, struct err *e)
{
    int rc = MDB_MAP_RESIZED;
    int tries;

    memset(t, 0, sizeof(*t));
    t->s = s;
    t->write = write;
    for (tries = 0; tries < 3 && rc == MDB_MAP_RESIZED; tries++) {
        pthread_rwlock_rdlock(&s->map_lock);
        t->map_seen = map_size(s);
        rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&s->map_lock);
        if (rc == MDB_MAP_RESIZED && map_adopt(s, e) < 0)
            return e != NULL ? e->code : ERR_IO;
    }
    return lm_fail(NULL, e, rc, "starting a transaction");
}

/*
 * LMDB reports a short write as EIO, which is also how a full disk or a
 * file size limit shows.  Tells those apart so that the caller gets
 * ERR_FULL and a message that says what to free.
 */
static int
commit_fail(struct lm_txn *t, int rc, struct err *e)
{
    struct lm_store *s = t->s;
    char path[LM_PATH_MAX];
    struct statvfs fs;
    struct rlimit rl;
    struct stat sb;

    if (rc != EIO)
        return lm_fail(t, e, rc, "committing");
    if (statvfs(s->dir, &fs) == 0 &&
        (uint64_t)fs.f_bavail * fs.f_frsize < ((uint64_t)1 << 20))
        return err_set(e, ERR_FULL, "store: committing: the disk holding "
                       "\"%s\" is full", s->dir);
    snprintf(path, sizeof(path), "%s/data.mdb", s->dir);
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        stat(path, &sb) == 0 &&
        (uint64_t)sb.st_size + ((uint64_t)1 << 20) > (uint64_t)rl.rlim_cur)
        return err_set(e, ERR_FULL, "store: committing: \"%s\" reached "
                       "the file size limit (%llu bytes)", path,
                       (unsigned long long)rl.rlim_cur);
    return lm_fail(t, e, rc, "committing");
}

/*
 * Ends t: commits when commit is set, else aborts.  A transaction that
 * filled the map grows it here, once nothing of ours is open.
 */
static int
txn_finish(struct lm_txn *t, bool commit, struct err *e)
{
    int rc = 0;

    if (commit && t->write && !t->map_full) {
        rc = mdb_txn_commit(t->txn);
        if (rc != 0)
            rc = commit_fail(t, rc, e);
    } else {
        mdb_txn_abort(t->txn);
    }
    t->txn = NULL;
    pthread_rwlock_unlock(&t->s->map_lock);

    if (t->map_full) {
        int grc = map_grow(t->s, t->map_seen, e);

        if (grc < 0)
            return grc;
        if (rc == 0)
            rc = err_set(e, ERR_FULL, "store: the map was full; it has "
                         "grown, retry the transaction");
    }
    return rc;
}

static int
lm_begin(struct store *s, bool write, struct store_txn **out,
         struct err *e)
{
    struct lm_txn *t = malloc(sizeof(*t));
    int rc;

    *out = NULL;
    if (t == NULL)
        return err_set(e, ERR_NOMEM, "store: starting a transaction: %s",
                       "out of memory");
    rc = txn_start(lm(s), write, t, e);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = (struct store_txn *)(void *)t;
    return 0;
}

static int
lm_commit(struct store_txn *st, struct err *e)
{
    struct lm_txn *t = (struct lm_txn *)(void *)st;
    int rc = txn_finish(t, true, e);

    free(t);
    return rc;
}

static void
lm_abort(struct store_txn *st)
{
    struct lm_txn *t = (struct lm_txn *)(void *)st;

    if (t == NULL)
        return;
    txn_finish(t, false, NULL);
    free(t);
}

/*
 * Runs fn in the caller's transaction, or in an implicit one that is
 * committed on success and retried after growing the map when it filled.
 */
typedef int (*lm_fn)(struct lm_txn *t, void *arg, struct err *e);

static int
run(struct store *s, struct store_txn *st, bool write, lm_fn fn, void *arg,
    struct err *e)
{
    struct lm_txn own;
    int rc = ERR_FULL;
    int tries;

    if (st != NULL) {
        struct lm_txn *t = (struct lm_txn *)(void *)st;

        if (write && !t->write)
            return err_set(e, ERR_INVALID,
                           "store: a write in a read transaction");
        return fn(t, arg, e);
    }

    for (tries = 0; tries < LM_GROW_TRIES; tries++) {
        int frc;

        rc = txn_start(lm(s), write, &own, e);
        if (rc < 0)
            return rc;
        rc = fn(&own, arg, e);
        frc = txn_finish(&own, rc == 0 && write, e);
        if (!own.map_full)
            return rc != 0 ? rc : frc;
        if (frc < 0 && frc != ERR_FULL)
            return frc;
        err_clear(e);
    }
    return err_set(e, ERR_FULL, "store: the map is still full after "
                   "growing %d times", LM_GROW_TRIES);
}

/* ------------------------------------------------------------------------
 * Small put/get helpers
 */

static MDB_dbi
dbi(struct lm_txn *t, enum lm_db db)
{
    return t->s->dbi[db];
}

static int
get(struct lm_txn *t, enum lm_db db, MDB_val k, MDB_val *v, struct err *e,
    const char *what)
{
    int rc = mdb_get(t->txn, dbi(t, db), &k, v);

    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_NOT_FOUND, "store: %s not found", what);
    if (rc != 0)
        return lm_fail(t, e, rc, what);
    return 0;
}

static int
put(struct lm_txn *t, enum lm_db db, MDB_val k, MDB_val v,
    unsigned flags, struct err *e, const char *what)
{
    int rc = mdb_put(t->txn, dbi(t, db), &k, &v, flags);

    if (rc == MDB_KEYEXIST)
        return err_set(e, ERR_EXISTS, "store: %s already exists", what);
    if (rc != 0)
        return lm_fail(t, e, rc, what);
    return 0;
}

static int
put_enc(struct lm_txn *t, enum lm_db db, MDB_val k, struct enc *x,
        unsigned flags, struct err *e, const char *what)
{
    MDB_val v;
    int rc = enc_val(x, &v, e);

    if (rc == 0)
        rc = put(t, db, k, v, flags, e, what);
    enc_release(x);
    return rc;
}

static int
del(struct lm_txn *t, enum lm_db db, MDB_val k, struct err *e,
    const char *what)
{
    int rc = mdb_del(t->txn, dbi(t, db), &k, NULL);

    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_NOT_FOUND, "store: %s not found", what);
    if (rc != 0)
        return lm_fail(t, e, rc, what);
    return 0;
}

/* Reads and bumps the counter name in meta; the first value is 1. */
static int
next_seq(struct lm_txn *t, const char *name, int64_t *out, struct err *e)
{
    unsigned char buf[8];
    MDB_val k = val_str(name), v;
    uint64_t n = 0;
    int rc;

    rc = mdb_get(t->txn, dbi(t, DB_META), &k, &v);
    if (rc == 0 && v.mv_size != 8)
        return err_set(e, ERR_CORRUPT, "store: counter \"%s\" is corrupt",
                       name);
    if (rc == 0)
        n = get_be64(v.mv_data);
    else if (rc != MDB_NOTFOUND)
        return lm_fail(t, e, rc, name);

    n++;
    put_be64(buf, n);
    *out = (int64_t)n;
    return put(t, DB_META, k, val_of(buf, 8), 0, e, name);
}

/* Generic cursor walk from key from (NULL: first) while prefix matches. */
typedef int (*lm_each)(struct lm_txn *t, MDB_val *k, MDB_val *v,
                       void *arg, struct err *e);

static int
walk(struct lm_txn *t, enum lm_db db, const MDB_val *from, size_t prefix,
     lm_each each, void *arg, struct err *e)
{
    MDB_cursor *c = NULL;
    MDB_val k = { 0, NULL }, v;
    MDB_cursor_op op = MDB_FIRST;
    int rc;

    rc = mdb_cursor_open(t->txn, dbi(t, db), &c);
    if (rc != 0)
        return lm_fail(t, e, rc, "opening a cursor");
    if (from != NULL) {
        k = *from;
        op = MDB_SET_RANGE;
    }
    for (;;) {
        rc = mdb_cursor_get(c, &k, &v, op);
        op = MDB_NEXT;
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = lm_fail(t, e, rc, "reading a cursor");
            break;
        }
        if (prefix > 0 && (k.mv_size < prefix ||
                           memcmp(k.mv_data, from->mv_data, prefix) != 0))
            break;
        rc = each(t, &k, &v, arg, e);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc;
}

/* ------------------------------------------------------------------------
 * Site config and the deployment ID
 */

#define SITE_DEPLOYMENT_ID "deployment_id"

struct site_arg {
    const char *key;
    const char *value;
    char **out;
};

static int
site_key_check(const char *key, struct err *e)
{
    size_t n = strlen(key);

    if (n == 0 || n > STORE_SITE_KEY_MAX)
        return err_set(e, ERR_INVALID, "store: invalid site key \"%s\"",
                       key);
    return 0;
}

static int
site_get_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct site_arg *a = arg;
    struct dec d;
    MDB_val v;
    int rc;

    rc = get(t, DB_SITE, val_str(a->key), &v, e, "site value");
    if (rc < 0)
        return rc;
    rc = dec_open(&d, &v, "in \"site\"", e);
    if (rc == 0) {
        *a->out = dec_strdup(&d, 1, STORE_SNAPSHOT_MAX);
        rc = dec_check(&d, "in \"site\"", e);
    }
    dec_close(&d);
    return rc;
}

static int
lm_site_get(struct store *s, struct store_txn *t, const char *key,
            char **value, struct err *e)
{
    struct site_arg a = { key, NULL, value };
    int rc;

    *value = NULL;
    rc = site_key_check(key, e);
    if (rc == 0)
        rc = run(s, t, false, site_get_fn, &a, e);
    if (rc < 0) {
        free(*value);
        *value = NULL;
    }
    return rc;
}

static int
site_put_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct site_arg *a = arg;
    struct enc x;

    enc_init(&x, 1);
    enc_str(&x, a->value);
    return put_enc(t, DB_SITE, val_str(a->key), &x, 0, e, "site value");
}

static int
lm_site_put(struct store *s, struct store_txn *t, const char *key,
            const char *value, struct err *e)
{
    struct site_arg a = { key, value, NULL };
    int rc = site_key_check(key, e);

    if (rc < 0)
        return rc;
    if (strlen(value) > STORE_SNAPSHOT_MAX)
        return err_set(e, ERR_TOO_LARGE, "store: site value for \"%s\" "
                       "is too large", key);
    return run(s, t, true, site_put_fn, &a, e);
}

/* In one write transaction: keep the stored ID, or store a new one. */
static int
depid_fn(struct lm_txn *t, void *arg, struct err *e)
{
    char *out = arg;
    char *have = NULL;
    struct site_arg a = { SITE_DEPLOYMENT_ID, NULL, &have };
    int rc;

    rc = site_get_fn(t, &a, e);
    if (rc == 0) {
        if (!util_uuid_valid(have))
            rc = err_set(e, ERR_CORRUPT,
                         "store: stored deployment id is not a uuid");
        else
            memcpy(out, have, STORE_UUID_LEN + 1);
        free(have);
        return rc;
    }
    if (rc != ERR_NOT_FOUND)
        return rc;

    util_uuid_new(out);
    a.value = out;
    return site_put_fn(t, &a, e);
}

static int
lm_deployment_id(struct store *s, char out[STORE_UUID_LEN + 1],
                 struct err *e)
{
    char *have = NULL;
    int rc;

    /* Most opens find it with a read; only the first needs the writer. */
    rc = lm_site_get(s, NULL, SITE_DEPLOYMENT_ID, &have, e);
    if (rc == 0 && util_uuid_valid(have)) {
        memcpy(out, have, STORE_UUID_LEN + 1);
        free(have);
        return 0;
    }
    free(have);
    if (rc < 0 && rc != ERR_NOT_FOUND)
        return rc;
    err_clear(e);
    return run(s, NULL, true, depid_fn, out, e);
}

/* ------------------------------------------------------------------------
 * Users
 */

static void
lower_name(const char *name, char out[STORE_USERNAME_MAX + 1])
{
    size_t i;

    for (i = 0; name[i] != '\0' && i < STORE_USERNAME_MAX; i++) {
        char c = name[i];

        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
}

static int
user_check(const struct store_user *u, struct err *e)
{
    if (strlen(u->id) != STORE_UUID_LEN || u->username[0] == '\0')
        return err_set(e, ERR_INVALID, "store: user needs an id and a "
                       "username");
    return 0;
}

/* ERR_EXISTS when name belongs to a live user other than id. */
static int
name_free(struct lm_txn *t, const char *name, const char *id,
          struct err *e)
{
    char low[STORE_USERNAME_MAX + 1];
    MDB_val v;
    int rc;

    lower_name(name, low);
    rc = get(t, DB_USERS_BY_NAME, val_str(low), &v, e, "username");
    if (rc == ERR_NOT_FOUND) {
        err_clear(e);
        return 0;
    }
    if (rc < 0)
        return rc;
    if (v.mv_size == STORE_UUID_LEN && memcmp(v.mv_data, id,
                                              STORE_UUID_LEN) == 0)
        return 0;
    return err_set(e, ERR_EXISTS, "store: username \"%s\" is taken", name);
}

static int
name_put(struct lm_txn *t, const struct store_user *u, struct err *e)
{
    char low[STORE_USERNAME_MAX + 1];

    lower_name(u->username, low);
    return put(t, DB_USERS_BY_NAME, val_str(low),
               val_of(u->id, STORE_UUID_LEN), 0, e, "username");
}

static int
user_put(struct lm_txn *t, const struct store_user *u, struct err *e)
{
    struct enc x;

    user_enc(&x, u);
    return put_enc(t, DB_USERS, val_of(u->id, STORE_UUID_LEN), &x, 0, e,
                   "user");
}

static int
user_read(struct lm_txn *t, const char *id, struct store_user *out,
          struct err *e)
{
    MDB_val v;
    int rc;

    if (strlen(id) != STORE_UUID_LEN)
        return err_set(e, ERR_NOT_FOUND, "store: user \"%s\" not found",
                       id);
    rc = get(t, DB_USERS, val_of(id, STORE_UUID_LEN), &v, e, "user");
    if (rc < 0)
        return rc;
    return user_dec(&v, out, e);
}

static int
user_insert_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const struct store_user *u = arg;
    MDB_val v;
    int rc;

    rc = get(t, DB_USERS, val_of(u->id, STORE_UUID_LEN), &v, NULL, "user");
    if (rc == 0)
        return err_set(e, ERR_EXISTS, "store: user \"%s\" already exists",
                       u->id);
    if (!u->deleted) {
        rc = name_free(t, u->username, u->id, e);
        if (rc < 0)
            return rc;
        rc = name_put(t, u, e);
        if (rc < 0)
            return rc;
    }
    return user_put(t, u, e);
}

static int
lm_user_insert(struct store *s, struct store_txn *t,
               const struct store_user *u, struct err *e)
{
    int rc = user_check(u, e);

    if (rc < 0)
        return rc;
    return run(s, t, true, user_insert_fn, (void *)u, e);
}

static int
user_update_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const struct store_user *u = arg;
    struct store_user old;
    char low[STORE_USERNAME_MAX + 1];
    int rc;

    rc = user_read(t, u->id, &old, e);
    if (rc < 0)
        return rc;
    if (!u->deleted) {
        rc = name_free(t, u->username, u->id, e);
        if (rc < 0)
            return rc;
    }

    /* Drop the old index entry, then add the new one for a live user. */
    if (!old.deleted) {
        lower_name(old.username, low);
        rc = del(t, DB_USERS_BY_NAME, val_str(low), e, "username");
        if (rc < 0 && rc != ERR_NOT_FOUND)
            return rc;
    }
    if (!u->deleted) {
        rc = name_put(t, u, e);
        if (rc < 0)
            return rc;
    }
    return user_put(t, u, e);
}

static int
lm_user_update(struct store *s, struct store_txn *t,
               const struct store_user *u, struct err *e)
{
    int rc = user_check(u, e);

    if (rc < 0)
        return rc;
    return run(s, t, true, user_update_fn, (void *)u, e);
}

struct user_arg {
    const char *ref;
    struct store_user *out;
};

static int
user_get_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct user_arg *a = arg;

    return user_read(t, a->ref, a->out, e);
}

static int
lm_user_get(struct store *s, struct store_txn *t, const char *id,
            struct store_user *out, struct err *e)
{
    struct user_arg a = { id, out };

    return run(s, t, false, user_get_fn, &a, e);
}

static int
user_by_name_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct user_arg *a = arg;
    char low[STORE_USERNAME_MAX + 1];
    char id[STORE_UUID_LEN + 1];
    MDB_val v;
    int rc;

    if (strlen(a->ref) > STORE_USERNAME_MAX)
        return err_set(e, ERR_NOT_FOUND, "store: username not found");
    lower_name(a->ref, low);
    rc = get(t, DB_USERS_BY_NAME, val_str(low), &v, e, "username");
    if (rc < 0)
        return rc;
    if (v.mv_size != STORE_UUID_LEN)
        return err_set(e, ERR_CORRUPT, "store: username index entry for "
                       "\"%s\" is corrupt", low);
    memcpy(id, v.mv_data, STORE_UUID_LEN);
    id[STORE_UUID_LEN] = '\0';
    return user_read(t, id, a->out, e);
}

static int
lm_user_get_by_name(struct store *s, struct store_txn *t,
                    const char *username, struct store_user *out,
                    struct err *e)
{
    struct user_arg a = { username, out };

    return run(s, t, false, user_by_name_fn, &a, e);
}

/* A whole-table scan's callback, typed per record kind, and its context. */
struct list_arg {
    union {
        store_user_fn user;
        store_workspace_fn workspace;
        store_replica_fn replica;
    } fn;
    void *ctx;
};

static int
user_each(struct lm_txn *t, MDB_val *k, MDB_val *v, void *arg,
          struct err *e)
{
    struct list_arg *a = arg;
    struct store_user u;
    int rc;

    (void)t;
    (void)k;
    rc = user_dec(v, &u, e);
    if (rc < 0)
        return rc;
    return a->fn.user(&u, a->ctx);
}

static int
user_list_fn(struct lm_txn *t, void *arg, struct err *e)
{
    return walk(t, DB_USERS, NULL, 0, user_each, arg, e);
}

static int
lm_user_list(struct store *s, struct store_txn *t, store_user_fn fn,
             void *ctx, struct err *e)
{
    struct list_arg a = { { .user = fn }, ctx };

    return run(s, t, false, user_list_fn, &a, e);
}

/* ------------------------------------------------------------------------
 * API keys
 */

static int
key_read(struct lm_txn *t, const char *id, struct store_key *out,
         struct err *e)
{
    MDB_val v;
    int rc;

    if (strlen(id) != STORE_KEY_ID_LEN)
        return err_set(e, ERR_NOT_FOUND, "store: key not found");
    rc = get(t, DB_KEYS, val_of(id, STORE_KEY_ID_LEN), &v, e, "key");
    if (rc < 0)
        return rc;
    return key_dec(&v, out, e);
}

static void
key_index(const struct store_key *k, char buf[STORE_UUID_LEN +
                                              STORE_KEY_ID_LEN])
{
    memcpy(buf, k->user_id, STORE_UUID_LEN);
    memcpy(buf + STORE_UUID_LEN, k->id, STORE_KEY_ID_LEN);
}

static int
key_put(struct lm_txn *t, const struct store_key *k, unsigned flags,
        struct err *e)
{
    struct enc x;

    key_enc(&x, k);
    return put_enc(t, DB_KEYS, val_of(k->id, STORE_KEY_ID_LEN), &x, flags,
                   e, "key");
}

static int
key_insert_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const struct store_key *k = arg;
    char ix[STORE_UUID_LEN + STORE_KEY_ID_LEN];
    int rc;

    rc = key_put(t, k, MDB_NOOVERWRITE, e);
    if (rc < 0)
        return rc;
    key_index(k, ix);
    return put(t, DB_KEYS_BY_USER, val_of(ix, sizeof(ix)), val_of("", 0),
               0, e, "key index");
}

static int
lm_key_insert(struct store *s, struct store_txn *t,
              const struct store_key *k, struct err *e)
{
    if (strlen(k->id) != STORE_KEY_ID_LEN ||
        strlen(k->user_id) != STORE_UUID_LEN)
        return err_set(e, ERR_INVALID, "store: key needs a %d-character "
                       "id and a user id", STORE_KEY_ID_LEN);
    return run(s, t, true, key_insert_fn, (void *)k, e);
}

struct key_arg {
    const char *id;
    struct store_key *out;
    const struct store_key *in;
};

static int
key_get_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct key_arg *a = arg;

    return key_read(t, a->id, a->out, e);
}

static int
lm_key_get(struct store *s, struct store_txn *t, const char *id,
           struct store_key *out, struct err *e)
{
    struct key_arg a = { id, out, NULL };

    return run(s, t, false, key_get_fn, &a, e);
}

struct key_auth_arg {
    const char *id;
    struct store_key *key;
    struct store_user *user;
    bool *user_found;
};

static int
key_auth_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct key_auth_arg *a = arg;
    int rc;

    rc = key_read(t, a->id, a->key, e);
    if (rc < 0)
        return rc;
    rc = user_read(t, a->key->user_id, a->user, e);
    if (rc == ERR_NOT_FOUND) {
        err_clear(e);
        memset(a->user, 0, sizeof(*a->user));
        return 0;
    }
    *a->user_found = rc == 0;
    return rc;
}

/* Both reads in one read transaction: one consistent pair. */
static int
lm_key_get_auth(struct store *s, struct store_txn *t, const char *id,
                struct store_key *key, struct store_user *user,
                bool *user_found, struct err *e)
{
    struct key_auth_arg a = { id, key, user, user_found };

    *user_found = false;
    return run(s, t, false, key_auth_fn, &a, e);
}

static int
key_touch_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const struct store_key *in = arg;
    struct store_key k;
    int rc;

    rc = key_read(t, in->id, &k, e);
    if (rc < 0)
        return rc;
    k.last_used = in->last_used;
    k.expires_at = in->expires_at;
    k.updated_at = in->updated_at;
    memcpy(k.ip_address, in->ip_address, sizeof(k.ip_address));
    k.ip_address[STORE_IP_MAX] = '\0';
    return key_put(t, &k, 0, e);
}

static int
lm_key_touch(struct store *s, struct store_txn *t,
             const struct store_key *k, struct err *e)
{
    return run(s, t, true, key_touch_fn, (void *)k, e);
}

static int
key_delete_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const char *id = arg;
    struct store_key k;
    char ix[STORE_UUID_LEN + STORE_KEY_ID_LEN];
    int rc;

    rc = key_read(t, id, &k, e);
    if (rc < 0)
        return rc;
    rc = del(t, DB_KEYS, val_of(id, STORE_KEY_ID_LEN), e, "key");
    if (rc < 0)
        return rc;
    key_index(&k, ix);
    rc = del(t, DB_KEYS_BY_USER, val_of(ix, sizeof(ix)), e, "key index");
    return rc == ERR_NOT_FOUND ? 0 : rc;
}

static int
lm_key_delete(struct store *s, struct store_txn *t, const char *id,
              struct err *e)
{
    return run(s, t, true, key_delete_fn, (void *)id, e);
}

struct key_list_arg {
    const char *user_id;
    store_key_fn fn;
    void *ctx;
};

static int
key_each(struct lm_txn *t, MDB_val *k, MDB_val *v, void *arg,
         struct err *e)
{
    struct key_list_arg *a = arg;
    char id[STORE_KEY_ID_LEN + 1];
    struct store_key key;
    int rc;

    (void)v;
    if (k->mv_size != STORE_UUID_LEN + STORE_KEY_ID_LEN)
        return err_set(e, ERR_CORRUPT, "store: key index entry is corrupt");
    memcpy(id, (char *)k->mv_data + STORE_UUID_LEN, STORE_KEY_ID_LEN);
    id[STORE_KEY_ID_LEN] = '\0';
    rc = key_read(t, id, &key, e);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_CORRUPT, "store: key index names missing "
                       "key \"%s\"", id);
    if (rc < 0)
        return rc;
    return a->fn(&key, a->ctx);
}

static int
key_list_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct key_list_arg *a = arg;
    MDB_val from;

    if (strlen(a->user_id) != STORE_UUID_LEN)
        return 0;
    from = val_of(a->user_id, STORE_UUID_LEN);
    return walk(t, DB_KEYS_BY_USER, &from, STORE_UUID_LEN, key_each, a, e);
}

static int
lm_key_list_by_user(struct store *s, struct store_txn *t,
                    const char *user_id, store_key_fn fn, void *ctx,
                    struct err *e)
{
    struct key_list_arg a = { user_id, fn, ctx };

    return run(s, t, false, key_list_fn, &a, e);
}

/* ------------------------------------------------------------------------
 * Workspaces and agent stats
 */

static int
ws_put_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const struct store_workspace *w = arg;
    struct enc x;

    ws_enc(&x, w);
    return put_enc(t, DB_WORKSPACES, val_of(w->id, strlen(w->id)), &x, 0,
                   e, "workspace");
}

static int
lm_workspace_put(struct store *s, struct store_txn *t,
                 const struct store_workspace *w, struct err *e)
{
    if (w->id[0] == '\0')
        return err_set(e, ERR_INVALID, "store: workspace needs an id");
    return run(s, t, true, ws_put_fn, (void *)w, e);
}

static int
ws_each(struct lm_txn *t, MDB_val *k, MDB_val *v, void *arg,
        struct err *e)
{
    struct list_arg *a = arg;
    struct store_workspace w;
    int rc;

    (void)t;
    (void)k;
    rc = ws_dec(v, &w, e);
    if (rc < 0)
        return rc;
    return a->fn.workspace(&w, a->ctx);
}

static int
ws_list_fn(struct lm_txn *t, void *arg, struct err *e)
{
    return walk(t, DB_WORKSPACES, NULL, 0, ws_each, arg, e);
}

static int
lm_workspace_list(struct store *s, struct store_txn *t,
                  store_workspace_fn fn, void *ctx, struct err *e)
{
    struct list_arg a = { { .workspace = fn }, ctx };

    return run(s, t, false, ws_list_fn, &a, e);
}

#define STAT_KEY_LEN (8 + STORE_UUID_LEN)

static int
stat_append_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const struct store_agent_stat *st = arg;
    unsigned char key[STAT_KEY_LEN] = { 0 };
    struct enc x;
    MDB_val k, v;
    int rc;

    put_time(key, st->created_at);
    memcpy(key + 8, st->id, strlen(st->id));
    k = val_of(key, sizeof(key));
    stat_enc(&x, st);
    rc = enc_val(&x, &v, e);
    if (rc < 0)
        goto out;

    /* Reports arrive in time order: appending skips the tree search. */
    rc = mdb_put(t->txn, dbi(t, DB_STATS), &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(t->txn, dbi(t, DB_STATS), &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        rc = err_set(e, ERR_EXISTS, "store: agent stat \"%s\" already "
                     "exists", st->id);
    else if (rc != 0)
        rc = lm_fail(t, e, rc, "writing an agent stat");
out:
    enc_release(&x);
    return rc;
}

static int
lm_stat_append(struct store *s, struct store_txn *t,
               const struct store_agent_stat *st, struct err *e)
{
    if (strlen(st->id) != STORE_UUID_LEN)
        return err_set(e, ERR_INVALID, "store: agent stat needs an id");
    return run(s, t, true, stat_append_fn, (void *)st, e);
}

struct stat_scan_arg {
    int64_t since;
    store_stat_fn fn;
    void *ctx;
};

static int
stat_each(struct lm_txn *t, MDB_val *k, MDB_val *v, void *arg,
          struct err *e)
{
    struct stat_scan_arg *a = arg;
    struct store_agent_stat st;
    int rc;

    (void)t;
    (void)k;
    rc = stat_dec(v, &st, e);
    if (rc < 0)
        return rc;
    return a->fn(&st, a->ctx);
}

static int
stat_scan_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct stat_scan_arg *a = arg;
    unsigned char key[8];
    MDB_val from;

    put_time(key, a->since);
    from = val_of(key, sizeof(key));
    return walk(t, DB_STATS, &from, 0, stat_each, a, e);
}

static int
lm_stat_scan_since(struct store *s, struct store_txn *t, int64_t since,
                   store_stat_fn fn, void *ctx, struct err *e)
{
    struct stat_scan_arg a = { since, fn, ctx };

    return run(s, t, false, stat_scan_fn, &a, e);
}

/*
 * Deletes from the oldest end up to the first stat at or after the
 * bound.  Keys start with the time in byte order, so comparing the
 * first 8 bytes is comparing times and nothing needs decoding.
 */
static int
stat_prune_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const int64_t *older_than = arg;
    unsigned char bound[8];
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;

    put_time(bound, *older_than);
    rc = mdb_cursor_open(t->txn, dbi(t, DB_STATS), &c);
    if (rc != 0)
        return lm_fail(t, e, rc, "pruning agent stats");

    for (;;) {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc != 0)
            break;
        if (k.mv_size != STAT_KEY_LEN) {
            rc = err_set(e, ERR_CORRUPT, "store: an agent stat key of "
                         "%zu bytes in \"stats\"", k.mv_size);
            goto out;
        }
        if (memcmp(k.mv_data, bound, sizeof(bound)) >= 0)
            break;
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        rc = lm_fail(t, e, rc, "pruning agent stats");
    else
        rc = 0;
out:
    mdb_cursor_close(c);
    return rc;
}

static int
lm_stat_prune(struct store *s, struct store_txn *t, int64_t older_than,
              struct err *e)
{
    return run(s, t, true, stat_prune_fn, &older_than, e);
}

/* ------------------------------------------------------------------------
 * CSP reports
 */

struct csp_arg {
    struct store_csp_report r;
    int64_t *id_out;
    size_t keep_max;
    int64_t older_than;
    store_csp_fn fn;
    void *ctx;
};

static int
csp_append_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct csp_arg *a = arg;
    unsigned char key[8];
    struct enc x;
    int rc;

    rc = next_seq(t, "csp_seq", &a->r.id, e);
    if (rc < 0)
        return rc;
    put_be64(key, (uint64_t)a->r.id);
    csp_enc(&x, &a->r);
    rc = put_enc(t, DB_CSP, val_of(key, 8), &x, MDB_APPEND, e,
                 "csp report");
    if (rc == 0 && a->id_out != NULL)
        *a->id_out = a->r.id;
    return rc;
}

static int
lm_csp_append(struct store *s, struct store_txn *t, int64_t received_at,
              const char *body, int64_t *id_out, struct err *e)
{
    struct csp_arg a;

    memset(&a, 0, sizeof(a));
    if (strlen(body) > STORE_CSP_BODY_MAX)
        return err_set(e, ERR_TOO_LARGE, "store: csp report is too large");
    a.r.received_at = received_at;
    a.r.body = (char *)body;
    a.id_out = id_out;
    return run(s, t, true, csp_append_fn, &a, e);
}

static int
csp_each(struct lm_txn *t, MDB_val *k, MDB_val *v, void *arg,
         struct err *e)
{
    struct csp_arg *a = arg;
    struct store_csp_report r;
    int rc;

    (void)t;
    (void)k;
    rc = csp_dec(v, &r, e);
    if (rc < 0)
        return rc;
    rc = a->fn(&r, a->ctx);
    store_csp_free(&r);
    return rc;
}

static int
csp_scan_fn(struct lm_txn *t, void *arg, struct err *e)
{
    return walk(t, DB_CSP, NULL, 0, csp_each, arg, e);
}

static int
lm_csp_scan(struct store *s, struct store_txn *t, store_csp_fn fn,
            void *ctx, struct err *e)
{
    struct csp_arg a;

    memset(&a, 0, sizeof(a));
    a.fn = fn;
    a.ctx = ctx;
    return run(s, t, false, csp_scan_fn, &a, e);
}

/* The received_at of a stored report without copying its body. */
static int
csp_time(const MDB_val *v, int64_t *at, struct err *e)
{
    struct dec d;
    int rc;

    rc = dec_open(&d, v, "in \"csp\"", e);
    if (rc == 0) {
        *at = dec_i64(&d, 2);
        rc = dec_check(&d, "in \"csp\"", e);
    }
    dec_close(&d);
    return rc;
}

/*
 * Deletes from the oldest end while there are too many reports or the
 * oldest is too old.  Ids grow with time, so this stops at the first
 * report worth keeping and costs one step per deleted report.
 */
static int
csp_prune_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct csp_arg *a = arg;
    MDB_cursor *c = NULL;
    MDB_stat st;
    MDB_val k, v;
    size_t count;
    int rc;

    rc = mdb_stat(t->txn, dbi(t, DB_CSP), &st);
    if (rc == 0)
        rc = mdb_cursor_open(t->txn, dbi(t, DB_CSP), &c);
    if (rc != 0)
        return lm_fail(t, e, rc, "pruning csp reports");
    count = st.ms_entries;

    for (;;) {
        int64_t at = 0;

        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc != 0)
            break;
        rc = csp_time(&v, &at, e);
        if (rc < 0)
            goto out;
        if (count <= a->keep_max && at >= a->older_than)
            break;
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
        count--;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        rc = lm_fail(t, e, rc, "pruning csp reports");
    else
        rc = 0;
out:
    mdb_cursor_close(c);
    return rc;
}

static int
lm_csp_prune(struct store *s, struct store_txn *t, size_t keep_max,
             int64_t older_than, struct err *e)
{
    struct csp_arg a;

    memset(&a, 0, sizeof(a));
    a.keep_max = keep_max;
    a.older_than = older_than;
    return run(s, t, true, csp_prune_fn, &a, e);
}

/* ------------------------------------------------------------------------
 * Config snapshots and replicas
 */

struct snap_arg {
    const struct store_snapshot *in;
    const char *replica_id;
    store_snapshot_fn fn;
    void *ctx;
};

static int
snap_append_fn(struct lm_txn *t, void *arg, struct err *e)
{
    struct snap_arg *a = arg;
    unsigned char key[16];
    struct enc x;
    int64_t seq;
    int rc;

    rc = next_seq(t, "snapshot_seq", &seq, e);
    if (rc < 0)
        return rc;
    put_time(key, a->in->taken_at);
    put_be64(key + 8, (uint64_t)seq);
    snap_enc(&x, a->in);
    return put_enc(t, DB_SNAPSHOTS, val_of(key, 16), &x, 0, e, "snapshot");
}

static int
lm_snapshot_append(struct store *s, struct store_txn *t,
                   const struct store_snapshot *snap, struct err *e)
{
    struct snap_arg a = { snap, NULL, NULL, NULL };

    if (snap->json == NULL || strlen(snap->json) > STORE_SNAPSHOT_MAX)
        return err_set(e, snap->json == NULL ? ERR_INVALID : ERR_TOO_LARGE,
                       "store: snapshot needs json of at most %zu bytes",
                       STORE_SNAPSHOT_MAX);
    return run(s, t, true, snap_append_fn, &a, e);
}

static int
snap_each(struct lm_txn *t, MDB_val *k, MDB_val *v, void *arg,
          struct err *e)
{
    struct snap_arg *a = arg;
    struct store_snapshot snap;
    int rc;

    (void)t;
    (void)k;
    rc = snap_dec(v, &snap, e);
    if (rc < 0)
        return rc;
    if (a->replica_id == NULL || strcmp(a->replica_id,
                                        snap.replica_id) == 0)
        rc = a->fn(&snap, a->ctx);
    store_snapshot_free(&snap);
    return rc;
}

static int
snap_scan_fn(struct lm_txn *t, void *arg, struct err *e)
{
    return walk(t, DB_SNAPSHOTS, NULL, 0, snap_each, arg, e);
}

static int
lm_snapshot_scan(struct store *s, struct store_txn *t,
                 const char *replica_id, store_snapshot_fn fn, void *ctx,
                 struct err *e)
{
    struct snap_arg a = { NULL, replica_id, fn, ctx };

    return run(s, t, false, snap_scan_fn, &a, e);
}

static int
replica_put_fn(struct lm_txn *t, void *arg, struct err *e)
{
    const struct store_replica *r = arg;
    struct enc x;

    replica_enc(&x, r);
    return put_enc(t, DB_REPLICAS, val_str(r->id), &x, 0, e, "replica");
}

static int
lm_replica_put(struct store *s, struct store_txn *t,
               const struct store_replica *r, struct err *e)
{
    if (r->id[0] == '\0')
        return err_set(e, ERR_INVALID, "store: replica needs an id");
    return run(s, t, true, replica_put_fn, (void *)r, e);
}

static int
replica_each(struct lm_txn *t, MDB_val *k, MDB_val *v, void *arg,
             struct err *e)
{
    struct list_arg *a = arg;
    struct store_replica r;
    int rc;

    (void)t;
    (void)k;
    rc = replica_dec(v, &r, e);
    if (rc < 0)
        return rc;
    return a->fn.replica(&r, a->ctx);
}

static int
replica_list_fn(struct lm_txn *t, void *arg, struct err *e)
{
    return walk(t, DB_REPLICAS, NULL, 0, replica_each, arg, e);
}

static int
lm_replica_list(struct store *s, struct store_txn *t, store_replica_fn fn,
                void *ctx, struct err *e)
{
    struct list_arg a = { { .replica = fn }, ctx };

    return run(s, t, false, replica_list_fn, &a, e);
}

/* ------------------------------------------------------------------------
 * Open and close
 */

/* Creates dir and its missing parents, each mode 0700. */
static int
make_dirs(const char *dir, struct err *e)
{
    char path[LM_PATH_MAX];
    size_t n = strlen(dir), i;
    struct stat sb;

    if (n == 0 || n >= sizeof(path))
        return err_set(e, ERR_INVALID, "store: invalid directory \"%s\"",
                       dir);
    memcpy(path, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return err_set(e, errno == EACCES ? ERR_DENIED : ERR_IO,
                           "store: creating directory \"%s\": %s", path,
                           strerror(errno));
        path[i] = dir[i];
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return err_set(e, ERR_IO, "store: \"%s\" is not a directory", dir);
    return 0;
}

/* Opens every database and checks the store's format, in one txn. */
static int
open_dbs(struct lm_store *s, struct err *e)
{
    struct lm_txn t;
    unsigned char buf[8];
    MDB_val v;
    int rc, i;

    rc = txn_start(s, true, &t, e);
    if (rc < 0)
        return rc;
    for (i = 0; i < DB_COUNT && rc == 0; i++) {
        rc = mdb_dbi_open(t.txn, db_names[i], MDB_CREATE, &s->dbi[i]);
        if (rc != 0)
            rc = lm_fail(&t, e, rc, "opening the databases");
    }
    if (rc == 0)
        rc = get(&t, DB_META, val_str("format"), &v, e, "format");
    if (rc == 0 && (v.mv_size != 8 || get_be64(v.mv_data) > LM_FORMAT))
        rc = err_set(e, ERR_VERSION, "store: the store was written by a "
                     "newer coder-cfg (format %llu, this build reads %d)",
                     v.mv_size == 8 ? (unsigned long long)
                     get_be64(v.mv_data) : 0ULL, LM_FORMAT);
    if (rc == ERR_NOT_FOUND) {
        put_be64(buf, LM_FORMAT);
        rc = put(&t, DB_META, val_str("format"), val_of(buf, 8), 0, e,
                 "format");
    }
    i = txn_finish(&t, rc == 0, e);
    return rc < 0 ? rc : i;
}

static int
env_open(struct lm_store *s, const struct store_options *opt,
         struct err *e)
{
    unsigned flags = MDB_NOTLS;
    int dead;
    int rc;

    rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, DB_COUNT);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, LM_MAX_READERS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, opt->map_size > 0 ? opt->map_size
                                 : LM_MAP_DEFAULT);
    if (rc != 0)
        return lm_fail(NULL, e, rc, "creating the environment");

    if (!opt->durable)
        flags |= MDB_NOMETASYNC;
    rc = mdb_env_open(s->env, opt->dir, flags, 0600);
    if (rc != 0) {
        err_set(e, code_of(rc), "store: opening \"%s\": %s", opt->dir,
                mdb_strerror(rc));
        return code_of(rc);
    }

    /* Free reader slots left by processes that died. */
    mdb_reader_check(s->env, &dead);
    return 0;
}

static void
lm_close(struct store *st)
{
    struct lm_store *s = lm(st);

    if (s == NULL)
        return;
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (s->lock_ready)
        pthread_rwlock_destroy(&s->map_lock);
    free(s->dir);
    free(s);
}

static int
lock_init(struct lm_store *s)
{
    pthread_rwlockattr_t attr;
    int rc;

    /* Writer preference, so that map growth is not starved by readers. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&s->map_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    s->lock_ready = rc == 0;
    return rc;
}

static int
lm_open(struct store **out, const struct store_options *opt,
        struct err *e)
{
    struct lm_store *s;
    int rc = ERR_NOMEM;

    *out = NULL;
    if (opt == NULL || opt->dir == NULL || opt->dir[0] == '\0')
        return err_set(e, ERR_INVALID, "store: no config directory given");
    s = calloc(1, sizeof(*s));
    if (s == NULL || lock_init(s) != 0) {
        err_set(e, ERR_NOMEM, "store: opening: out of memory");
        goto out;
    }
    s->base.ops = &store_lmdb_ops;
    s->dir = strdup(opt->dir);
    if (s->dir == NULL) {
        err_set(e, ERR_NOMEM, "store: opening: out of memory");
        goto out;
    }

    rc = make_dirs(opt->dir, e);
    if (rc == 0)
        rc = env_open(s, opt, e);
    if (rc == 0)
        rc = open_dbs(s, e);
out:
    if (rc < 0) {
        lm_close((struct store *)(void *)s);
        return rc;
    }
    *out = (struct store *)(void *)s;
    return 0;
}

static int
lm_ping(struct store *s, struct err *e)
{
    struct lm_txn t;
    int rc = txn_start(lm(s), false, &t, e);

    if (rc < 0)
        return rc;
    return txn_finish(&t, false, e);
}

const struct store_ops store_lmdb_ops = {
    .name = "lmdb",
    .open = lm_open,
    .close = lm_close,
    .begin = lm_begin,
    .commit = lm_commit,
    .abort = lm_abort,
    .deployment_id = lm_deployment_id,
    .site_get = lm_site_get,
    .site_put = lm_site_put,
    .user_insert = lm_user_insert,
    .user_update = lm_user_update,
    .user_get = lm_user_get,
    .user_get_by_name = lm_user_get_by_name,
    .user_list = lm_user_list,
    .key_insert = lm_key_insert,
    .key_get = lm_key_get,
    .key_touch = lm_key_touch,
    .key_delete = lm_key_delete,
    .key_list_by_user = lm_key_list_by_user,
    .workspace_put = lm_workspace_put,
    .workspace_list = lm_workspace_list,
    .stat_append = lm_stat_append,
    .stat_scan_since = lm_stat_scan_since,
    .csp_append = lm_csp_append,
    .csp_scan = lm_csp_scan,
    .csp_prune = lm_csp_prune,
    .snapshot_append = lm_snapshot_append,
    .snapshot_scan = lm_snapshot_scan,
    .replica_put = lm_replica_put,
    .replica_list = lm_replica_list,
    .ping = lm_ping,
    .key_get_auth = lm_key_get_auth,
    .stat_prune = lm_stat_prune,
};
