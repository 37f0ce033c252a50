/*
 * engine.h: the deployment's state, above the store interface.
 *
 * The engine is what api/ and tools/ use: users, API keys and their
 * verification, the deployment statistics, CSP reports and config
 * snapshots.  It talks only to backends/store.h, so it behaves the same on
 * LMDB and PostgreSQL.  It is safe to call from many threads at once.
 *
 * Tokens are Coder's: "<10-char id>-<22-char secret>", both from
 * [0-9A-Za-z]; only the SHA-256 of the secret is stored, and comparison is
 * constant-time (libsodium).
 */
#ifndef CODER_CFG_ENGINE_H
#define CODER_CFG_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "../backends/store.h"
#include "err.h"

#define ENGINE_TOKEN_LEN (STORE_KEY_ID_LEN + 1 + STORE_KEY_SECRET_LEN)

struct engine;

struct engine_options {
    const char *config_dir;     /* LMDB directory (used when no pg_url) */
    const char *pg_url;         /* PostgreSQL URL, or NULL / "" */
    size_t pool_size;           /* PostgreSQL connections (0: default) */
    int64_t connect_timeout_ns; /* PostgreSQL start-up retries (0: 30s) */
    /*
     * Skip cluster events: no listening connection and no key cache, so
     * every token verification reads the store.  For short-lived
     * commands (admin commands, dump); a server leaves it false.
     */
    bool no_events;
};

/*
 * "host:port" of a PostgreSQL URL for log lines, never the password;
 * false when it cannot be told (engine_open then says why).
 */
bool engine_pg_address(const char *url, char *out, size_t size);

/*
 * Opens the store the options select (PostgreSQL when pg_url is set,
 * else LMDB under config_dir, created mode 0700 when missing) and loads
 * or creates the deployment ID.
 */
int engine_open(struct engine **out, const struct engine_options *opt,
                struct err *e);
void engine_close(struct engine *en);

/* The store underneath, for callers that need a record the engine
 * does not wrap (tests, dump). */
struct store *engine_store(struct engine *en);

/* The deployment ID, stable for the life of the store. */
const char *engine_deployment_id(const struct engine *en);

/* --- users --------------------------------------------------------------- */

/*
 * Creates an active user.  username: 1-32 of [a-zA-Z0-9-], not starting or
 * ending with '-' and without "--", and not "new" or "create" (Coder's
 * rule); ERR_INVALID otherwise, ERR_EXISTS when taken (ignoring case).
 * email may be NULL or "" for none; otherwise it is a plain address:
 * one '@' between a non-empty local part and a non-empty domain, no
 * white space, control characters or any of ()<>[],;:\" (so no display
 * name), at most STORE_EMAIL_MAX bytes; ERR_INVALID with the text quoted
 * otherwise.  roles is a set of enum store_role bits.  out may be NULL.
 */
int engine_user_create(struct engine *en, const char *username,
                       const char *email, unsigned roles,
                       struct store_user *out, struct err *e);

/*
 * Finds a non-deleted user the way Coder's {user} path parameter does: a
 * UUID by id, anything else by username ignoring case.
 */
int engine_user_find(struct engine *en, const char *ref,
                     struct store_user *out, struct err *e);

/* Sets a non-deleted user's status; ERR_NOT_FOUND when there is none. */
int engine_user_set_status(struct engine *en, const char *id,
                           enum store_user_status status, struct err *e);

/*
 * Marks the user deleted (its username becomes free) and deletes its API
 * keys in the same transaction, as Coder's trigger does.
 */
int engine_user_delete(struct engine *en, const char *id, struct err *e);

/* Calls fn for every non-deleted user, in id order. */
int engine_user_list(struct engine *en, store_user_fn fn, void *ctx,
                     struct err *e);

/* Parses "owner,auditor" into role bits; "member" alone is 0. */
int engine_roles_parse(const char *text, unsigned *roles, struct err *e);

/* The name of one role bit ("owner", "user-admin"), or NULL. */
const char *engine_role_name(enum store_role role);

/* --- API keys ------------------------------------------------------------ */

/*
 * Creates a token for user_id with the given lifetime (nanoseconds) and
 * name (may be NULL or ""), login type "token".  token_out receives the
 * full token text, the only time it exists; key_out (may be NULL) the
 * stored record.
 */
int engine_token_create(struct engine *en, const char *user_id,
                        int64_t lifetime_ns, const char *name,
                        char token_out[ENGINE_TOKEN_LEN + 1],
                        struct store_key *key_out, struct err *e);

/*
 * Creation fails with ERR_NOT_FOUND when the user does not exist or is
 * deleted, ERR_INVALID for a lifetime under one second or a name over
 * STORE_TOKEN_NAME_MAX.  Deletion is ERR_NOT_FOUND for an unknown id.
 */
int engine_token_delete(struct engine *en, const char *key_id,
                        struct err *e);
int engine_token_list(struct engine *en, const char *user_id,
                      store_key_fn fn, void *ctx, struct err *e);

/* Why a presented token was refused; each maps to Coder's 401 detail. */
enum engine_auth_result {
    ENGINE_AUTH_OK,
    ENGINE_AUTH_BAD_PARTS,     /* detail needs the part count */
    ENGINE_AUTH_BAD_ID_LEN,    /* detail needs the id length */
    ENGINE_AUTH_BAD_SECRET_LEN,/* detail needs the secret length */
    ENGINE_AUTH_UNKNOWN_ID,
    ENGINE_AUTH_BAD_SECRET,
    ENGINE_AUTH_EXPIRED,       /* detail needs expires_at */
    ENGINE_AUTH_USER_GONE,     /* key's user deleted or missing */
    ENGINE_AUTH_SUSPENDED
};

struct engine_auth {
    enum engine_auth_result result;
    int count;                  /* parts or length, for the detail */
    struct store_key key;
    struct store_user user;
};

struct engine_auth_options {
    int64_t now;                     /* 0: the current time */
    const char *ip;                  /* client address for last-use */
    bool disable_expiry_refresh;     /* CODER_DISABLE_SESSION_EXPIRY_... */
};

/*
 * Verifies token (as presented, any length).  Returns 0 with out->result
 * telling the verdict, or a negative code when the store failed (the
 * caller answers 500 or 503).  On ENGINE_AUTH_OK, as Coder does: last_used
 * is written when over an hour old, expiry slides forward when at least an
 * hour into its lifetime (unless disabled), and a dormant user becomes
 * active.
 *
 * Reading: the key and its user are read together as one consistent
 * pair (store_key_get_auth): one statement on PostgreSQL, one read
 * transaction on LMDB.
 *
 * Caching: on a store with cluster events (PostgreSQL, unless opened with
 * no_events) a key and its user are kept for at most one second
 * (KEYCACHE_TTL_NS) after they were read, so a key seen within the last
 * second costs no store read and any other costs one.  A deleted key is
 * never honoured once the deletion's event has arrived, nor after this
 * engine deleted it; a lost event connection drops the whole cache.  A
 * user suspended through another replica may still pass for up to one
 * second.  On a store without events (LMDB) nothing is cached.
 */
int engine_token_verify(struct engine *en, const char *token,
                        const struct engine_auth_options *opt,
                        struct engine_auth *out, struct err *e);

/* --- deployment stats ---------------------------------------------------- */

struct engine_stats {
    int64_t aggregated_from;
    int64_t collected_at;
    int64_t next_update_at;
    int64_t pending, building, running, failed, stopped;
    double latency_p50_ms;      /* -1 with no samples */
    double latency_p95_ms;
    int64_t rx_bytes, tx_bytes;
    int64_t session_vscode, session_ssh, session_jetbrains,
        session_reconnecting_pty;
};

/*
 * Computes /deployment/stats as Coder's metrics cache does, at time now
 * with the given refresh interval (section 2.6 of api-behavior.md).  now
 * is rounded to microseconds first (Coder's dbtime.Now), so that
 * aggregated_from = now - 15 min and collected_at = now are both whole
 * microseconds.  Reading more than ENGINE_STATS_ROWS_MAX agent stats rows
 * in the window fails with ERR_TOO_LARGE.
 */
#define ENGINE_STATS_ROWS_MAX ((size_t)10000000)
int engine_stats_compute(struct engine *en, int64_t now,
                         int64_t interval_ns, struct engine_stats *out,
                         struct err *e);

/*
 * Deletes the agent stats created before older_than (Coder's retention;
 * the caller picks the window, which must cover the 15 minutes the
 * statistics read).  One write transaction.  ERR_UNSUPPORTED on a store
 * that cannot prune.
 */
int engine_stats_prune(struct engine *en, int64_t older_than,
                       struct err *e);

/* --- CSP reports, snapshots, replicas ------------------------------------ */

/*
 * Keeps at most this many reports, none older than the age limit, as of
 * the last prune.  An engine prunes with its first report after open,
 * with every ENGINE_CSP_PRUNE_EVERY-th report and with the first report
 * a minute or more after its last prune.  Between prunes the store may
 * hold up to ENGINE_CSP_PRUNE_EVERY - 1 reports per engine beyond
 * ENGINE_CSP_KEEP_MAX, and reports past the age limit until the next
 * report prunes them.
 */
#define ENGINE_CSP_KEEP_MAX 10000
#define ENGINE_CSP_KEEP_NS (INT64_C(7) * 24 * 3600 * 1000000000)
#define ENGINE_CSP_PRUNE_EVERY 100

/*
 * Stores a report received now, in one durable commit, and when a prune
 * is due (above) removes in the same commit the oldest reports beyond
 * the limits.  ERR_TOO_LARGE over STORE_CSP_BODY_MAX.
 */
int engine_csp_record(struct engine *en, const char *json_body,
                      struct err *e);

/* Records this replica's config snapshot (JSON text built by the caller). */
int engine_snapshot_record(struct engine *en, const char *replica_id,
                           const char *json, struct err *e);

/*
 * A replica whose heartbeat is older than this is gone: three missed
 * beats of the server's 30-second heartbeat.
 */
#define ENGINE_REPLICA_GONE_NS (INT64_C(90) * 1000000000)

/*
 * Registers or refreshes a replica's heartbeat: r is stored with
 * heartbeat_at set to now (and started_at too when it is 0) and gone
 * false.  Then every other replica silent for ENGINE_REPLICA_GONE_NS is
 * marked gone, as engine_replica_mark_gone does; an error from that step
 * is returned too, after r itself was stored.
 */
int engine_replica_heartbeat(struct engine *en,
                             const struct store_replica *r, struct err *e);

/*
 * Records that replica r stopped on purpose: stored with gone set and a
 * last heartbeat of now, so that tools stop listing it as live at once.
 */
int engine_replica_leave(struct engine *en, const struct store_replica *r,
                         struct err *e);

/*
 * Marks gone every replica not yet gone whose heartbeat_at is before
 * older_than; *marked (may be NULL) receives how many.  A replica that
 * beats again is no longer gone.  ERR_TOO_LARGE past 4096 stale replicas.
 */
int engine_replica_mark_gone(struct engine *en, int64_t older_than,
                             size_t *marked, struct err *e);

/* Stored update-check result (JSON text), or ERR_NOT_FOUND. */
int engine_updatecheck_get(struct engine *en, char **json, struct err *e);
int engine_updatecheck_put(struct engine *en, const char *json,
                           struct err *e);

#endif
