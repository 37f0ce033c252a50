/*
 * store.h: the one storage interface of coder-cfg.
 *
 * A backend is a const struct store_ops (a table of function pointers, as
 * git's refs backends are); each backend exports exactly one instance:
 * store_lmdb_ops (backends/lmdb.c) and store_postgres_ops
 * (backends/postgres.c).  Callers open a handle with store_open and call
 * through store_ops_of(handle); they never ask which backend they have.
 *
 * Records are plain structs with fixed-size text fields, so that a record
 * read from the store is a value the caller owns outright: nothing points
 * into backend memory after the call returns (LMDB pages are copied before
 * the read transaction ends).  Variable-length payloads (CSP report
 * bodies, config snapshots, site values) are returned as heap strings that
 * the caller frees.
 *
 * Transactions: every operation takes a struct store_txn *, which may be
 * NULL for a single operation in its own implicit transaction.  A write
 * transaction is needed for writes; read transactions never block writers.
 * After commit or abort the transaction handle is gone.  A thread holds at
 * most one transaction at a time (LMDB's rule), and keeps read
 * transactions short: a long reader pins old pages and holds up map
 * growth.  When an operation inside an explicit transaction fails, the
 * caller aborts the transaction; an implicit one is aborted for it.
 *
 * Errors: 0 on success, or ERR_NOT_FOUND, ERR_EXISTS (unique key taken),
 * ERR_CORRUPT (a record that does not decode), ERR_VERSION (written by a
 * newer coder-cfg), ERR_FULL (disk or map full, after growing failed),
 * ERR_IO, ERR_UNAVAILABLE (database unreachable), ERR_NOMEM, ERR_INVALID.
 * Detail goes to the optional struct err.  A failed write changes nothing.
 *
 * Times are int64 nanoseconds since the Unix epoch (UTC).
 */
#ifndef CODER_CFG_STORE_H
#define CODER_CFG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define STORE_UUID_LEN 36
#define STORE_USERNAME_MAX 64
#define STORE_EMAIL_MAX 320
#define STORE_KEY_ID_LEN 10
#define STORE_KEY_SECRET_LEN 22
#define STORE_TOKEN_NAME_MAX 128
#define STORE_IP_MAX 64
#define STORE_HOSTNAME_MAX 256
#define STORE_VERSION_MAX 64

/* The largest CSP report body and config snapshot a store accepts;
 * longer ones fail with ERR_TOO_LARGE. */
#define STORE_CSP_BODY_MAX ((size_t)1 << 20)
#define STORE_SNAPSHOT_MAX ((size_t)16 << 20)
/* The longest site config key (values are capped like snapshots). */
#define STORE_SITE_KEY_MAX 128

/* Site roles; a user with none is a member. */
enum store_role {
    STORE_ROLE_OWNER = 1 << 0,
    STORE_ROLE_AUDITOR = 1 << 1,
    STORE_ROLE_USER_ADMIN = 1 << 2,
    STORE_ROLE_TEMPLATE_ADMIN = 1 << 3
};

enum store_user_status {
    STORE_USER_ACTIVE,
    STORE_USER_SUSPENDED,
    STORE_USER_DORMANT
};

enum store_login_type {
    STORE_LOGIN_PASSWORD,
    STORE_LOGIN_GITHUB,
    STORE_LOGIN_OIDC,
    STORE_LOGIN_TOKEN,
    STORE_LOGIN_NONE
};

enum store_transition {
    STORE_TRANSITION_START,
    STORE_TRANSITION_STOP,
    STORE_TRANSITION_DELETE
};

struct store_user {
    char id[STORE_UUID_LEN + 1];
    char username[STORE_USERNAME_MAX + 1];
    char email[STORE_EMAIL_MAX + 1];
    unsigned roles;                 /* enum store_role bits */
    enum store_user_status status;
    bool deleted;
    int64_t created_at;
    int64_t updated_at;
    int64_t last_seen_at;
};

struct store_key {
    char id[STORE_KEY_ID_LEN + 1];
    unsigned char hashed_secret[32]; /* SHA-256 of the 22-char secret */
    char user_id[STORE_UUID_LEN + 1];
    int64_t created_at;
    int64_t updated_at;
    int64_t expires_at;
    int64_t last_used;               /* 0 (the epoch) until first use */
    int64_t lifetime_seconds;
    enum store_login_type login_type;
    char token_name[STORE_TOKEN_NAME_MAX + 1];
    char ip_address[STORE_IP_MAX + 1];
};

/*
 * A workspace with the provisioner job of its latest build.  has_build is
 * false for a workspace that never built.  A job time of 0 means "not
 * yet" (not started, not completed, not canceled).
 */
struct store_workspace {
    char id[STORE_UUID_LEN + 1];
    char owner_id[STORE_UUID_LEN + 1];
    char name[STORE_USERNAME_MAX + 1];
    bool deleted;
    int64_t created_at;
    bool has_build;
    enum store_transition transition;
    int64_t job_started_at;
    int64_t job_completed_at;
    int64_t job_canceled_at;
    int64_t job_updated_at;
    bool job_error;
};

/* One agent stats report; latency <= 0 means "no sample". */
struct store_agent_stat {
    int64_t created_at;
    char id[STORE_UUID_LEN + 1];
    char workspace_id[STORE_UUID_LEN + 1];
    char agent_id[STORE_UUID_LEN + 1];
    int64_t rx_bytes;
    int64_t tx_bytes;
    double connection_median_latency_ms;
    int64_t session_count_vscode;
    int64_t session_count_ssh;
    int64_t session_count_jetbrains;
    int64_t session_count_reconnecting_pty;
};

/* One stored CSP report; body is the JSON text of the "csp-report". */
struct store_csp_report {
    int64_t id;                      /* assigned by the store, increasing */
    int64_t received_at;
    char *body;                      /* heap; freed by store_csp_free */
};

/*
 * A config snapshot: the resolved options of one replica when it started.
 * json is the snapshot document (values, sources, origins; secrets only as
 * set/not set plus a keyed fingerprint); heap, freed by the caller.
 */
struct store_snapshot {
    char replica_id[STORE_UUID_LEN + 1];
    int64_t taken_at;
    char *json;
};

struct store_replica {
    char id[STORE_UUID_LEN + 1];
    char hostname[STORE_HOSTNAME_MAX + 1];
    char version[STORE_VERSION_MAX + 1];
    int64_t started_at;
    int64_t heartbeat_at;
    bool gone;
};

/* What store_open needs; unused fields are ignored by a backend. */
struct store_options {
    const char *dir;            /* LMDB: the config directory */
    const char *url;            /* PostgreSQL: the connection URL */
    size_t pool_size;           /* PostgreSQL: connections (0: default) */
    bool durable;               /* fsync every commit (default true) */
    int64_t connect_timeout_ns; /* PostgreSQL start-up retries (0: 30s) */
    size_t map_size;            /* LMDB: first map size (0: 64 MiB) */
};

struct store;
struct store_txn;

/*
 * Callbacks for scans: return 0 to go on, anything else stops the scan
 * and becomes the scan's return value.  The record handed to a callback,
 * heap members (body, json) included, belongs to the scan and is freed
 * when the callback returns: a callback that keeps one copies it.
 * Scans that run in their own implicit transaction hold it open while
 * callbacks run, so callbacks should be quick and must not start another
 * transaction on the same thread.
 */
typedef int (*store_user_fn)(const struct store_user *u, void *ctx);
typedef int (*store_key_fn)(const struct store_key *k, void *ctx);
typedef int (*store_workspace_fn)(const struct store_workspace *w,
                                  void *ctx);
typedef int (*store_stat_fn)(const struct store_agent_stat *s, void *ctx);
typedef int (*store_csp_fn)(const struct store_csp_report *r, void *ctx);
typedef int (*store_snapshot_fn)(const struct store_snapshot *s, void *ctx);
typedef int (*store_replica_fn)(const struct store_replica *r, void *ctx);

/*
 * Cluster events a backend may deliver (PostgreSQL LISTEN/NOTIFY).
 * subject is a key id for STORE_EVENT_KEY_DELETED, a replica id for
 * STORE_EVENT_SNAPSHOT.
 */
enum store_event {
    STORE_EVENT_KEY_DELETED,
    STORE_EVENT_KEY_CHANGED,
    STORE_EVENT_SNAPSHOT,
    STORE_EVENT_RECONNECTED
};
typedef void (*store_event_fn)(enum store_event ev, const char *subject,
                               void *ctx);

struct store_ops {
    const char *name;

    int (*open)(struct store **out, const struct store_options *opt,
                struct err *e);
    void (*close)(struct store *s);

    int (*begin)(struct store *s, bool write, struct store_txn **out,
                 struct err *e);
    int (*commit)(struct store_txn *t, struct err *e);
    void (*abort)(struct store_txn *t);

    /* Site config: the deployment ID is created once, race-free. */
    int (*deployment_id)(struct store *s, char out[STORE_UUID_LEN + 1],
                         struct err *e);
    int (*site_get)(struct store *s, struct store_txn *t, const char *key,
                    char **value, struct err *e);
    int (*site_put)(struct store *s, struct store_txn *t, const char *key,
                    const char *value, struct err *e);

    /* Users: username unique ignoring case among non-deleted users. */
    int (*user_insert)(struct store *s, struct store_txn *t,
                       const struct store_user *u, struct err *e);
    int (*user_update)(struct store *s, struct store_txn *t,
                       const struct store_user *u, struct err *e);
    int (*user_get)(struct store *s, struct store_txn *t, const char *id,
                    struct store_user *out, struct err *e);
    int (*user_get_by_name)(struct store *s, struct store_txn *t,
                            const char *username, struct store_user *out,
                            struct err *e);
    int (*user_list)(struct store *s, struct store_txn *t, store_user_fn fn,
                     void *ctx, struct err *e);

    /* API keys. */
    int (*key_insert)(struct store *s, struct store_txn *t,
                      const struct store_key *k, struct err *e);
    int (*key_get)(struct store *s, struct store_txn *t, const char *id,
                   struct store_key *out, struct err *e);
    /* Writes last_used, expires_at, ip_address and updated_at of k->id. */
    int (*key_touch)(struct store *s, struct store_txn *t,
                     const struct store_key *k, struct err *e);
    int (*key_delete)(struct store *s, struct store_txn *t, const char *id,
                      struct err *e);
    int (*key_list_by_user)(struct store *s, struct store_txn *t,
                            const char *user_id, store_key_fn fn, void *ctx,
                            struct err *e);

    /* Workspaces (upsert by id) and agent stats (append, scan by time). */
    int (*workspace_put)(struct store *s, struct store_txn *t,
                         const struct store_workspace *w, struct err *e);
    int (*workspace_list)(struct store *s, struct store_txn *t,
                          store_workspace_fn fn, void *ctx, struct err *e);
    int (*stat_append)(struct store *s, struct store_txn *t,
                       const struct store_agent_stat *st, struct err *e);
    int (*stat_scan_since)(struct store *s, struct store_txn *t,
                           int64_t since, store_stat_fn fn, void *ctx,
                           struct err *e);

    /* CSP reports: append, scan oldest first, prune by count and age. */
    int (*csp_append)(struct store *s, struct store_txn *t,
                      int64_t received_at, const char *body,
                      int64_t *id_out, struct err *e);
    int (*csp_scan)(struct store *s, struct store_txn *t, store_csp_fn fn,
                    void *ctx, struct err *e);
    int (*csp_prune)(struct store *s, struct store_txn *t,
                     size_t keep_max, int64_t older_than, struct err *e);

    /* Config snapshots (history kept) and replicas (upsert by id). */
    int (*snapshot_append)(struct store *s, struct store_txn *t,
                           const struct store_snapshot *snap,
                           struct err *e);
    /* replica_id NULL: all replicas.  Oldest first. */
    int (*snapshot_scan)(struct store *s, struct store_txn *t,
                         const char *replica_id, store_snapshot_fn fn,
                         void *ctx, struct err *e);
    int (*replica_put)(struct store *s, struct store_txn *t,
                       const struct store_replica *r, struct err *e);
    int (*replica_list)(struct store *s, struct store_txn *t,
                        store_replica_fn fn, void *ctx, struct err *e);

    /*
     * Cluster support; NULL in single-node backends, and the wrappers
     * then answer as a single node would (the lock is always granted,
     * there are no events).
     */
    int (*lock_try)(struct store *s, const char *name, bool *got,
                    struct err *e);
    int (*unlock)(struct store *s, const char *name, struct err *e);
    int (*subscribe)(struct store *s, store_event_fn fn, void *ctx,
                     struct err *e);
    /* Cheap liveness probe: 0 when the backend can serve requests. */
    int (*ping)(struct store *s, struct err *e);

    /*
     * Optional ops, each answered by a wrapper below when NULL.
     *
     * key_get_auth reads key id and the user it belongs to as of one
     * moment, in one round trip where the backend has round trips; it is
     * what token verification asks on every request the cache misses.
     * stat_prune deletes the agent stats created before older_than.
     */
    int (*key_get_auth)(struct store *s, struct store_txn *t,
                        const char *id, struct store_key *key,
                        struct store_user *user, bool *user_found,
                        struct err *e);
    int (*stat_prune)(struct store *s, struct store_txn *t,
                      int64_t older_than, struct err *e);
};

extern const struct store_ops store_lmdb_ops;
extern const struct store_ops store_postgres_ops;

/*
 * Writes "host:port" of a PostgreSQL URL or key=value string into out,
 * for log lines: the password and every other parameter stay out.  False
 * when libpq cannot be loaded or the text does not parse.
 */
bool store_postgres_address(const char *url, char *out, size_t size);

/*
 * Opens the backend ops with opt.  On success *out is a handle that
 * remembers its ops; close it with store_close.
 */
int store_open(const struct store_ops *ops, const struct store_options *opt,
               struct store **out, struct err *e);
void store_close(struct store *s);

/* The ops behind a handle, for the wrappers and tests. */
const struct store_ops *store_ops_of(const struct store *s);

/*
 * Every backend's struct store begins with this header, so that the
 * wrappers can find the ops without knowing the backend.
 */
struct store_base {
    const struct store_ops *ops;
};

/*
 * Free the heap members of a record the caller owns (a deep copy kept
 * from a scan, or one a backend built) and set them to NULL.  The struct
 * itself is not freed; NULL is a no-op.
 */
void store_csp_free(struct store_csp_report *r);
void store_snapshot_free(struct store_snapshot *snap);

/*
 * Cluster wrappers that answer as a single node when the backend leaves
 * the op NULL: store_lock_try always grants (*got = true), store_unlock
 * and store_subscribe succeed and do nothing, store_ping returns 0.
 */
int store_lock_try(struct store *s, const char *name, bool *got,
                   struct err *e);
int store_unlock(struct store *s, const char *name, struct err *e);
int store_subscribe(struct store *s, store_event_fn fn, void *ctx,
                    struct err *e);
int store_ping(struct store *s, struct err *e);

/*
 * Reads key id into *key and its user into *user.  ERR_NOT_FOUND when
 * there is no such key; a key whose user row is missing is found, with
 * *user_found false and *user zeroed.  A deleted user is found (its
 * deleted flag says so).  In t, or with t NULL in one implicit read: when
 * the backend leaves the op NULL, the wrapper reads key_get then user_get,
 * inside a read transaction of its own when t is NULL, so the pair is
 * consistent either way.
 */
int store_key_get_auth(struct store *s, struct store_txn *t, const char *id,
                       struct store_key *key, struct store_user *user,
                       bool *user_found, struct err *e);

/*
 * Deletes every agent stat whose created_at is before older_than (one at
 * exactly older_than is kept), as Coder's retention does.  Needs a write
 * transaction, or t NULL.  ERR_UNSUPPORTED when the backend cannot prune.
 */
int store_stat_prune(struct store *s, struct store_txn *t,
                     int64_t older_than, struct err *e);

#endif
