/*
 * postgres.c: the PostgreSQL backend of the store (libpq).
 *
 * Every operation is one prepared statement on a pooled connection (see
 * postgres_conn.c), inside the caller's transaction or alone in autocommit
 * when the transaction is NULL.  Inserts that may meet a unique key use
 * ON CONFLICT DO NOTHING and read the row count, so an ERR_EXISTS inside a
 * transaction leaves the transaction usable, as it is in LMDB.
 *
 * Rows come from outside the process: every column is checked (lengths
 * against the record's fixed fields, numbers through util_parse_i64, enum
 * values against their range) and a bad one is ERR_CORRUPT naming the
 * table and column.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/postgres_int.h"
#include "core/util.h"
#include "core/banned.h"

#define DEFAULT_POOL 8
#define DEFAULT_CONNECT_TIMEOUT_NS (INT64_C(30) * UTIL_NS_PER_SEC)
#define DEPLOYMENT_KEY "deployment_id"

/*
 * The most agent stats rows one scan hands over: the engine's own cap
 * (ENGINE_STATS_ROWS_MAX).  The query asks for one row more, so that a
 * window past the cap is refused after at most that many rows reach
 * libpq, never after the whole window has.
 */
#define STAT_SCAN_MAX 10000000

#define T "coder_cfg."
/* Column lists; the _OF forms qualify each column for a join. */
#define USER_COLS_OF(q) q "id, " q "username, " q "email, " q "roles, " \
    q "status, " q "deleted, " q "created_at, " q "updated_at, " \
    q "last_seen_at"
#define USER_COLS USER_COLS_OF("")
#define KEY_COLS_OF(q) q "id, encode(" q "hashed_secret, 'hex'), " \
    q "user_id, " q "created_at, " q "updated_at, " q "expires_at, " \
    q "last_used, " q "lifetime_seconds, " q "login_type, " \
    q "token_name, " q "ip_address"
#define KEY_COLS KEY_COLS_OF("")
/* Where the user's columns start in a PG_KEY_GET_AUTH row. */
#define KEY_NCOLS 11
#define WS_COLS "id, owner_id, name, deleted, created_at, has_build, " \
    "transition, job_started_at, job_completed_at, job_canceled_at, " \
    "job_updated_at, job_error"
#define STAT_COLS "created_at, id, workspace_id, agent_id, rx_bytes, " \
    "tx_bytes, connection_median_latency_ms, session_count_vscode, " \
    "session_count_ssh, session_count_jetbrains, " \
    "session_count_reconnecting_pty"
/* ASCII-only lower case, as the username index and LMDB both use. */
#define LOWER(x) "lower(" x " COLLATE \"C\")"
#define REPLICA_COLS "id, hostname, version, started_at, heartbeat_at, gone"

static const char *const stmt_sql[PG_STMT_COUNT] = {
    [PG_DEPLOY_INSERT] = "INSERT INTO " T "site_config (key, value)"
        " VALUES ('" DEPLOYMENT_KEY "', $1) ON CONFLICT DO NOTHING",
    [PG_SITE_GET] = "SELECT value FROM " T "site_config WHERE key = $1",
    [PG_SITE_PUT] = "INSERT INTO " T "site_config (key, value)"
        " VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    [PG_USER_INSERT] = "INSERT INTO " T "users (" USER_COLS ")"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT DO NOTHING",
    [PG_USER_UPDATE] = "UPDATE " T "users SET username = $2, email = $3,"
        " roles = $4, status = $5, deleted = $6, created_at = $7,"
        " updated_at = $8, last_seen_at = $9 WHERE id = $1"
        " AND ($6 OR NOT EXISTS (SELECT 1 FROM " T "users o"
        " WHERE " LOWER("o.username") " = " LOWER("$2")
        " AND NOT o.deleted"
        " AND o.id <> $1))",
    [PG_USER_EXISTS] = "SELECT 1 FROM " T "users WHERE id = $1",
    [PG_USER_GET] = "SELECT " USER_COLS " FROM " T "users WHERE id = $1",
    [PG_USER_GET_BY_NAME] = "SELECT " USER_COLS " FROM " T "users"
        " WHERE " LOWER("username") " = " LOWER("$1") " AND NOT deleted",
    [PG_USER_LIST] = "SELECT " USER_COLS " FROM " T "users ORDER BY id",
    [PG_KEY_INSERT] = "INSERT INTO " T "api_keys (id, hashed_secret,"
        " user_id, created_at, updated_at, expires_at, last_used,"
        " lifetime_seconds, login_type, token_name, ip_address)"
        " VALUES ($1, decode($2, 'hex'), $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11) ON CONFLICT DO NOTHING",
    [PG_KEY_GET] = "SELECT " KEY_COLS " FROM " T "api_keys WHERE id = $1",
    [PG_KEY_GET_AUTH] = "SELECT " KEY_COLS_OF("k.") ", "
        USER_COLS_OF("u.") " FROM " T "api_keys k"
        " LEFT JOIN " T "users u ON u.id = k.user_id WHERE k.id = $1",
    [PG_KEY_TOUCH] = "UPDATE " T "api_keys SET last_used = $2,"
        " expires_at = $3, ip_address = $4, updated_at = $5 WHERE id = $1",
    [PG_KEY_DELETE] = "DELETE FROM " T "api_keys WHERE id = $1",
    [PG_KEY_LIST_BY_USER] = "SELECT " KEY_COLS " FROM " T "api_keys"
        " WHERE user_id = $1 ORDER BY id",
    [PG_WORKSPACE_PUT] = "INSERT INTO " T "workspaces (" WS_COLS ")"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (id) DO UPDATE SET owner_id = EXCLUDED.owner_id,"
        " name = EXCLUDED.name, deleted = EXCLUDED.deleted,"
        " created_at = EXCLUDED.created_at,"
        " has_build = EXCLUDED.has_build,"
        " transition = EXCLUDED.transition,"
        " job_started_at = EXCLUDED.job_started_at,"
        " job_completed_at = EXCLUDED.job_completed_at,"
        " job_canceled_at = EXCLUDED.job_canceled_at,"
        " job_updated_at = EXCLUDED.job_updated_at,"
        " job_error = EXCLUDED.job_error",
    [PG_WORKSPACE_LIST] = "SELECT " WS_COLS " FROM " T "workspaces"
        " ORDER BY id",
    [PG_STAT_APPEND] = "INSERT INTO " T "agent_stats (" STAT_COLS ")"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING",
    [PG_STAT_SCAN_SINCE] = "SELECT " STAT_COLS " FROM " T "agent_stats"
        " WHERE created_at >= $1 ORDER BY created_at, id LIMIT $2",
    [PG_STAT_PRUNE] = "DELETE FROM " T "agent_stats WHERE created_at < $1",
    [PG_CSP_APPEND] = "INSERT INTO " T "csp_reports (received_at, body)"
        " VALUES ($1, $2) RETURNING id",
    [PG_CSP_SCAN] = "SELECT id, received_at, body FROM " T "csp_reports"
        " ORDER BY id",
    [PG_CSP_PRUNE] = "DELETE FROM " T "csp_reports WHERE id < coalesce("
        "(SELECT min(id) FROM (SELECT id, received_at,"
        " count(*) OVER (ORDER BY id DESC) AS left_after"
        " FROM " T "csp_reports) r"
        " WHERE left_after <= $1 AND received_at >= $2),"
        " 9223372036854775807)",
    [PG_SNAPSHOT_APPEND] = "INSERT INTO " T "config_snapshots"
        " (replica_id, taken_at, json) VALUES ($1, $2, $3)",
    [PG_SNAPSHOT_SCAN] = "SELECT replica_id, taken_at, json"
        " FROM " T "config_snapshots"
        " WHERE $1::text IS NULL OR replica_id = $1"
        " ORDER BY taken_at, seq",
    [PG_REPLICA_PUT] = "INSERT INTO " T "replicas (" REPLICA_COLS ")"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname,"
        " version = EXCLUDED.version, started_at = EXCLUDED.started_at,"
        " heartbeat_at = EXCLUDED.heartbeat_at, gone = EXCLUDED.gone",
    [PG_REPLICA_LIST] = "SELECT " REPLICA_COLS " FROM " T "replicas"
        " ORDER BY id",
};

static const char *const stmt_names[PG_STMT_COUNT] = {
    [PG_DEPLOY_INSERT] = "deployment_id",
    [PG_SITE_GET] = "site_get",
    [PG_SITE_PUT] = "site_put",
    [PG_USER_INSERT] = "user_insert",
    [PG_USER_UPDATE] = "user_update",
    [PG_USER_EXISTS] = "user_exists",
    [PG_USER_GET] = "user_get",
    [PG_USER_GET_BY_NAME] = "user_get_by_name",
    [PG_USER_LIST] = "user_list",
    [PG_KEY_INSERT] = "key_insert",
    [PG_KEY_GET] = "key_get",
    [PG_KEY_GET_AUTH] = "key_get_auth",
    [PG_KEY_TOUCH] = "key_touch",
    [PG_KEY_DELETE] = "key_delete",
    [PG_KEY_LIST_BY_USER] = "key_list_by_user",
    [PG_WORKSPACE_PUT] = "workspace_put",
    [PG_WORKSPACE_LIST] = "workspace_list",
    [PG_STAT_APPEND] = "stat_append",
    [PG_STAT_SCAN_SINCE] = "stat_scan_since",
    [PG_STAT_PRUNE] = "stat_prune",
    [PG_CSP_APPEND] = "csp_append",
    [PG_CSP_SCAN] = "csp_scan",
    [PG_CSP_PRUNE] = "csp_prune",
    [PG_SNAPSHOT_APPEND] = "snapshot_append",
    [PG_SNAPSHOT_SCAN] = "snapshot_scan",
    [PG_REPLICA_PUT] = "replica_put",
    [PG_REPLICA_LIST] = "replica_list",
};

const char *
pg_stmt_sql(enum pg_stmt id)
{
    return stmt_sql[id];
}

const char *
pg_stmt_name(enum pg_stmt id)
{
    return stmt_names[id];
}

/*
 * A cursor over the columns of one result row.  Each read takes the next
 * column; the first bad column is remembered in rc and e, and later reads
 * do nothing, so a decoder reads every field and checks once.
 */
struct row {
    const PGresult *res;
    int r;
    int c;
    const char *table;
    int rc;
    struct err *e;
};

static void
row_init(struct row *w, const PGresult *res, int r, const char *table,
         struct err *e)
{
    w->res = res;
    w->r = r;
    w->c = 0;
    w->table = table;
    w->rc = 0;
    w->e = e;
}

/* The next column's text, or NULL (and a corrupt-row error). */
static const char *
row_next(struct row *w)
{
    int c = w->c++;

    if (w->rc != 0)
        return NULL;
    if (c >= PQnfields(w->res) || PQgetisnull(w->res, w->r, c)) {
        w->rc = err_set(w->e, ERR_CORRUPT, "corrupt row in coder_cfg.%s: "
                        "column %d is missing or null", w->table, c + 1);
        return NULL;
    }
    return PQgetvalue(w->res, w->r, c);
}

static void
row_bad(struct row *w, const char *why)
{
    w->rc = err_set(w->e, ERR_CORRUPT, "corrupt row in coder_cfg.%s: "
                    "column \"%s\" %s", w->table,
                    PQfname(w->res, w->c - 1), why);
}

static void
row_text(struct row *w, char *out, size_t size)
{
    const char *v = row_next(w);

    if (v == NULL)
        return;
    if (strlen(v) >= size) {
        row_bad(w, "is too long");
        return;
    }
    memcpy(out, v, strlen(v) + 1);
}

static void
row_i64(struct row *w, int64_t *out)
{
    const char *v = row_next(w);

    if (v != NULL && util_parse_i64(v, strlen(v), out) != 0)
        row_bad(w, "is not an integer");
}

/* An integer in [0, max]. */
static void
row_range(struct row *w, int64_t max, int64_t *out)
{
    row_i64(w, out);
    if (w->rc == 0 && (*out < 0 || *out > max))
        row_bad(w, "is out of range");
}

static void
row_bool(struct row *w, bool *out)
{
    const char *v = row_next(w);

    if (v == NULL)
        return;
    if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0) {
        row_bad(w, "is not a boolean");
        return;
    }
    *out = v[0] == 't';
}

static void
row_f64(struct row *w, double *out)
{
    const char *v = row_next(w);
    char *end;

    if (v == NULL)
        return;
    errno = 0;
    *out = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || errno != 0)
        row_bad(w, "is not a number");
}

/* A heap copy of the next column, capped at PG_TEXT_MAX. */
static char *
row_strdup(struct row *w)
{
    const char *v = row_next(w);
    char *copy;

    if (v == NULL)
        return NULL;
    if ((size_t)PQgetlength(w->res, w->r, w->c - 1) > PG_TEXT_MAX) {
        row_bad(w, "is too large");
        return NULL;
    }
    copy = strdup(v);
    if (copy == NULL)
        w->rc = err_set(w->e, ERR_NOMEM, "reading coder_cfg.%s: out of "
                        "memory", w->table);
    return copy;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void
row_hex32(struct row *w, unsigned char out[32])
{
    const char *v = row_next(w);

    if (v == NULL)
        return;
    if (strlen(v) != 64) {
        row_bad(w, "is not 32 bytes");
        return;
    }
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(v[2 * i]);
        int lo = hex_digit(v[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            row_bad(w, "is not hex");
            return;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
}

static void
hex_encode(const unsigned char in[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[64] = '\0';
}

/* Rows changed by a command, from its tag. */
static int64_t
affected(const PGresult *res)
{
    const char *v = PQcmdTuples((PGresult *)res);
    int64_t n;

    if (util_parse_i64(v, strlen(v), &n) != 0)
        return 0;
    return n;
}

/* Runs a write that must touch one row; none is not_found. */
static int
run_one(struct store *s, struct store_txn *t, enum pg_stmt id,
        const struct pg_params *p, int none, const char *subject,
        struct err *e)
{
    PGresult *res;
    int rc;

    rc = pg_run(s, t, id, p, &res, e);
    if (rc != 0)
        return rc;
    if (affected(res) == 0)
        rc = none == ERR_EXISTS
            ? err_set(e, none, "%s: \"%s\" already exists",
                      pg_stmt_name(id), subject)
            : err_set(e, none, "%s: \"%s\" not found", pg_stmt_name(id),
                      subject);
    PQclear(res);
    return rc;
}

/* Runs a query for one row; no row is ERR_NOT_FOUND. */
static int
run_get(struct store *s, struct store_txn *t, enum pg_stmt id,
        const struct pg_params *p, const char *subject, PGresult **res,
        struct err *e)
{
    int rc;

    rc = pg_run(s, t, id, p, res, e);
    if (rc != 0)
        return rc;
    if (PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        return err_set(e, ERR_NOT_FOUND, "%s: \"%s\" not found",
                       pg_stmt_name(id), subject);
    }
    return 0;
}

/* ---- site config ---- */

static int
site_key_check(const char *key, struct err *e)
{
    size_t n = strlen(key);

    if (n == 0 || n > STORE_SITE_KEY_MAX)
        return err_set(e, ERR_INVALID, "site: invalid key \"%.140s\"",
                       key);
    return 0;
}

static int
pg_site_get(struct store *s, struct store_txn *t, const char *key,
            char **value, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    struct row w;
    int rc;

    *value = NULL;
    rc = site_key_check(key, e);
    if (rc != 0)
        return rc;
    pg_params_init(&p);
    pg_param_text(&p, key);
    rc = run_get(s, t, PG_SITE_GET, &p, key, &res, e);
    if (rc != 0)
        return rc;
    row_init(&w, res, 0, "site_config", e);
    *value = row_strdup(&w);
    PQclear(res);
    return w.rc;
}

static int
pg_site_put(struct store *s, struct store_txn *t, const char *key,
            const char *value, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    rc = site_key_check(key, e);
    if (rc != 0)
        return rc;
    if (strlen(value) > STORE_SNAPSHOT_MAX)
        return err_set(e, ERR_TOO_LARGE, "site: value for \"%s\" is too "
                       "large", key);
    pg_params_init(&p);
    pg_param_text(&p, key);
    pg_param_text(&p, value);
    rc = pg_run(s, t, PG_SITE_PUT, &p, &res, e);
    PQclear(res);
    return rc;
}

/*
 * The first replica to ask creates the ID; ON CONFLICT DO NOTHING makes
 * racing creators agree, and the read afterwards returns the winner's.
 */
static int
pg_deployment_id(struct store *s, char out[STORE_UUID_LEN + 1],
                 struct err *e)
{
    char fresh[UTIL_UUID_LEN + 1];
    struct pg_params p;
    PGresult *res;
    char *value = NULL;
    int rc;

    util_uuid_new(fresh);
    pg_params_init(&p);
    pg_param_text(&p, fresh);
    rc = pg_run(s, NULL, PG_DEPLOY_INSERT, &p, &res, e);
    PQclear(res);
    if (rc == 0)
        rc = pg_site_get(s, NULL, DEPLOYMENT_KEY, &value, e);
    if (rc == 0 && !util_uuid_valid(value))
        rc = err_set(e, ERR_CORRUPT, "invalid deployment id \"%.40s\" in "
                     "coder_cfg.site_config", value);
    if (rc == 0)
        memcpy(out, value, STORE_UUID_LEN + 1);
    free(value);
    return rc;
}

/* ---- users ---- */

static void
user_params(struct pg_params *p, const struct store_user *u)
{
    pg_params_init(p);
    pg_param_text(p, u->id);
    pg_param_text(p, u->username);
    pg_param_text(p, u->email);
    pg_param_i64(p, (int64_t)u->roles);
    pg_param_i64(p, (int64_t)u->status);
    pg_param_bool(p, u->deleted);
    pg_param_i64(p, u->created_at);
    pg_param_i64(p, u->updated_at);
    pg_param_i64(p, u->last_seen_at);
}

/* Reads a user from w's next columns. */
static void
user_columns(struct row *w, struct store_user *u)
{
    int64_t roles = 0;
    int64_t status = 0;

    memset(u, 0, sizeof(*u));
    row_text(w, u->id, sizeof(u->id));
    row_text(w, u->username, sizeof(u->username));
    row_text(w, u->email, sizeof(u->email));
    row_range(w, 15, &roles);
    row_range(w, STORE_USER_DORMANT, &status);
    row_bool(w, &u->deleted);
    row_i64(w, &u->created_at);
    row_i64(w, &u->updated_at);
    row_i64(w, &u->last_seen_at);
    u->roles = (unsigned)roles;
    u->status = (enum store_user_status)status;
}

static int
user_decode(const PGresult *res, int r, struct store_user *u, struct err *e)
{
    struct row w;

    row_init(&w, res, r, "users", e);
    user_columns(&w, u);
    return w.rc;
}

static int
user_check(const struct store_user *u, struct err *e)
{
    if (strlen(u->id) != STORE_UUID_LEN || u->username[0] == '\0')
        return err_set(e, ERR_INVALID, "user: needs an id and a username");
    return 0;
}

static int
pg_user_insert(struct store *s, struct store_txn *t,
               const struct store_user *u, struct err *e)
{
    struct pg_params p;

    if (user_check(u, e) != 0)
        return ERR_INVALID;
    user_params(&p, u);
    return run_one(s, t, PG_USER_INSERT, &p, ERR_EXISTS, u->username, e);
}

/* Tells a missing user from a username taken by another. */
static int
update_refused(struct store *s, struct store_txn *t,
               const struct store_user *u, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_text(&p, u->id);
    rc = run_get(s, t, PG_USER_EXISTS, &p, u->id, &res, e);
    if (rc != 0)
        return rc;
    PQclear(res);
    return err_set(e, ERR_EXISTS, "user_update: username \"%s\" is taken",
                   u->username);
}

static int
pg_user_update(struct store *s, struct store_txn *t,
               const struct store_user *u, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    if (user_check(u, e) != 0)
        return ERR_INVALID;
    user_params(&p, u);
    rc = pg_run(s, t, PG_USER_UPDATE, &p, &res, e);
    if (rc != 0)
        return rc;
    if (affected(res) == 0)
        rc = update_refused(s, t, u, e);
    PQclear(res);
    return rc;
}

static int
user_get_by(struct store *s, struct store_txn *t, enum pg_stmt id,
            const char *arg, struct store_user *out, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_text(&p, arg);
    rc = run_get(s, t, id, &p, arg, &res, e);
    if (rc != 0)
        return rc;
    rc = user_decode(res, 0, out, e);
    PQclear(res);
    return rc;
}

static int
pg_user_get(struct store *s, struct store_txn *t, const char *id,
            struct store_user *out, struct err *e)
{
    return user_get_by(s, t, PG_USER_GET, id, out, e);
}

static int
pg_user_get_by_name(struct store *s, struct store_txn *t,
                    const char *username, struct store_user *out,
                    struct err *e)
{
    return user_get_by(s, t, PG_USER_GET_BY_NAME, username, out, e);
}

static int
pg_user_list(struct store *s, struct store_txn *t, store_user_fn fn,
             void *ctx, struct err *e)
{
    struct store_user u;
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    rc = pg_run(s, t, PG_USER_LIST, &p, &res, e);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        rc = user_decode(res, r, &u, e);
        if (rc == 0)
            rc = fn(&u, ctx);
    }
    PQclear(res);
    return rc;
}

/* ---- API keys ---- */

/* Reads a key from w's next columns. */
static void
key_columns(struct row *w, struct store_key *k)
{
    int64_t login = 0;

    memset(k, 0, sizeof(*k));
    row_text(w, k->id, sizeof(k->id));
    row_hex32(w, k->hashed_secret);
    row_text(w, k->user_id, sizeof(k->user_id));
    row_i64(w, &k->created_at);
    row_i64(w, &k->updated_at);
    row_i64(w, &k->expires_at);
    row_i64(w, &k->last_used);
    row_i64(w, &k->lifetime_seconds);
    row_range(w, STORE_LOGIN_NONE, &login);
    row_text(w, k->token_name, sizeof(k->token_name));
    row_text(w, k->ip_address, sizeof(k->ip_address));
    k->login_type = (enum store_login_type)login;
}

static int
key_decode(const PGresult *res, int r, struct store_key *k, struct err *e)
{
    struct row w;

    row_init(&w, res, r, "api_keys", e);
    key_columns(&w, k);
    return w.rc;
}

static int
pg_key_insert(struct store *s, struct store_txn *t,
              const struct store_key *k, struct err *e)
{
    struct pg_params p;
    char hex[65];

    if (strlen(k->id) != STORE_KEY_ID_LEN ||
        strlen(k->user_id) != STORE_UUID_LEN)
        return err_set(e, ERR_INVALID, "key: needs a %d-character id and "
                       "a user id", STORE_KEY_ID_LEN);
    hex_encode(k->hashed_secret, hex);
    pg_params_init(&p);
    pg_param_text(&p, k->id);
    pg_param_text(&p, hex);
    pg_param_text(&p, k->user_id);
    pg_param_i64(&p, k->created_at);
    pg_param_i64(&p, k->updated_at);
    pg_param_i64(&p, k->expires_at);
    pg_param_i64(&p, k->last_used);
    pg_param_i64(&p, k->lifetime_seconds);
    pg_param_i64(&p, (int64_t)k->login_type);
    pg_param_text(&p, k->token_name);
    pg_param_text(&p, k->ip_address);
    return run_one(s, t, PG_KEY_INSERT, &p, ERR_EXISTS, k->id, e);
}

static int
pg_key_get(struct store *s, struct store_txn *t, const char *id,
           struct store_key *out, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_text(&p, id);
    rc = run_get(s, t, PG_KEY_GET, &p, id, &res, e);
    if (rc != 0)
        return rc;
    rc = key_decode(res, 0, out, e);
    PQclear(res);
    return rc;
}

/*
 * The key and its user from one joined row.  The user's columns are all
 * null when the key's user row is missing; its id tells.  A user row
 * that is there must belong to the key, as any other row is checked.
 */
static int
key_auth_decode(const PGresult *res, struct store_key *k,
                struct store_user *u, bool *user_found, struct err *e)
{
    struct row w;

    row_init(&w, res, 0, "api_keys", e);
    key_columns(&w, k);
    memset(u, 0, sizeof(*u));
    if (w.rc != 0 || PQgetisnull(res, 0, KEY_NCOLS))
        return w.rc;

    w.table = "users";
    user_columns(&w, u);
    if (w.rc == 0 && strcmp(u->id, k->user_id) != 0)
        return err_set(e, ERR_CORRUPT, "corrupt row in coder_cfg.users: "
                       "user \"%s\" is not the key's", u->id);
    *user_found = w.rc == 0;
    return w.rc;
}

static int
pg_key_get_auth(struct store *s, struct store_txn *t, const char *id,
                struct store_key *key, struct store_user *user,
                bool *user_found, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    *user_found = false;
    pg_params_init(&p);
    pg_param_text(&p, id);
    rc = run_get(s, t, PG_KEY_GET_AUTH, &p, id, &res, e);
    if (rc != 0)
        return rc;
    rc = key_auth_decode(res, key, user, user_found, e);
    PQclear(res);
    return rc;
}

static int
pg_key_touch(struct store *s, struct store_txn *t,
             const struct store_key *k, struct err *e)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, k->id);
    pg_param_i64(&p, k->last_used);
    pg_param_i64(&p, k->expires_at);
    pg_param_text(&p, k->ip_address);
    pg_param_i64(&p, k->updated_at);
    return run_one(s, t, PG_KEY_TOUCH, &p, ERR_NOT_FOUND, k->id, e);
}

/* The api_keys trigger sends the NOTIFY that other replicas act on. */
static int
pg_key_delete(struct store *s, struct store_txn *t, const char *id,
              struct err *e)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, id);
    return run_one(s, t, PG_KEY_DELETE, &p, ERR_NOT_FOUND, id, e);
}

static int
pg_key_list_by_user(struct store *s, struct store_txn *t,
                    const char *user_id, store_key_fn fn, void *ctx,
                    struct err *e)
{
    struct store_key k;
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_text(&p, user_id);
    rc = pg_run(s, t, PG_KEY_LIST_BY_USER, &p, &res, e);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        rc = key_decode(res, r, &k, e);
        if (rc == 0)
            rc = fn(&k, ctx);
    }
    PQclear(res);
    return rc;
}

/* ---- workspaces and agent stats ---- */

static int
pg_workspace_put(struct store *s, struct store_txn *t,
                 const struct store_workspace *w, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    if (w->id[0] == '\0')
        return err_set(e, ERR_INVALID, "workspace: needs an id");
    pg_params_init(&p);
    pg_param_text(&p, w->id);
    pg_param_text(&p, w->owner_id);
    pg_param_text(&p, w->name);
    pg_param_bool(&p, w->deleted);
    pg_param_i64(&p, w->created_at);
    pg_param_bool(&p, w->has_build);
    pg_param_i64(&p, (int64_t)w->transition);
    pg_param_i64(&p, w->job_started_at);
    pg_param_i64(&p, w->job_completed_at);
    pg_param_i64(&p, w->job_canceled_at);
    pg_param_i64(&p, w->job_updated_at);
    pg_param_bool(&p, w->job_error);
    rc = pg_run(s, t, PG_WORKSPACE_PUT, &p, &res, e);
    PQclear(res);
    return rc;
}

static int
workspace_decode(const PGresult *res, int r, struct store_workspace *ws,
                 struct err *e)
{
    struct row w;
    int64_t tr = 0;

    memset(ws, 0, sizeof(*ws));
    row_init(&w, res, r, "workspaces", e);
    row_text(&w, ws->id, sizeof(ws->id));
    row_text(&w, ws->owner_id, sizeof(ws->owner_id));
    row_text(&w, ws->name, sizeof(ws->name));
    row_bool(&w, &ws->deleted);
    row_i64(&w, &ws->created_at);
    row_bool(&w, &ws->has_build);
    row_range(&w, STORE_TRANSITION_DELETE, &tr);
    row_i64(&w, &ws->job_started_at);
    row_i64(&w, &ws->job_completed_at);
    row_i64(&w, &ws->job_canceled_at);
    row_i64(&w, &ws->job_updated_at);
    row_bool(&w, &ws->job_error);
    ws->transition = (enum store_transition)tr;
    return w.rc;
}

static int
pg_workspace_list(struct store *s, struct store_txn *t,
                  store_workspace_fn fn, void *ctx, struct err *e)
{
    struct store_workspace ws;
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    rc = pg_run(s, t, PG_WORKSPACE_LIST, &p, &res, e);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        rc = workspace_decode(res, r, &ws, e);
        if (rc == 0)
            rc = fn(&ws, ctx);
    }
    PQclear(res);
    return rc;
}

static int
pg_stat_append(struct store *s, struct store_txn *t,
               const struct store_agent_stat *st, struct err *e)
{
    struct pg_params p;

    if (strlen(st->id) != STORE_UUID_LEN)
        return err_set(e, ERR_INVALID, "agent stat: needs an id");
    pg_params_init(&p);
    pg_param_i64(&p, st->created_at);
    pg_param_text(&p, st->id);
    pg_param_text(&p, st->workspace_id);
    pg_param_text(&p, st->agent_id);
    pg_param_i64(&p, st->rx_bytes);
    pg_param_i64(&p, st->tx_bytes);
    pg_param_f64(&p, st->connection_median_latency_ms);
    pg_param_i64(&p, st->session_count_vscode);
    pg_param_i64(&p, st->session_count_ssh);
    pg_param_i64(&p, st->session_count_jetbrains);
    pg_param_i64(&p, st->session_count_reconnecting_pty);
    return run_one(s, t, PG_STAT_APPEND, &p, ERR_EXISTS, st->id, e);
}

static int
stat_decode(const PGresult *res, int r, struct store_agent_stat *st,
            struct err *e)
{
    struct row w;

    memset(st, 0, sizeof(*st));
    row_init(&w, res, r, "agent_stats", e);
    row_i64(&w, &st->created_at);
    row_text(&w, st->id, sizeof(st->id));
    row_text(&w, st->workspace_id, sizeof(st->workspace_id));
    row_text(&w, st->agent_id, sizeof(st->agent_id));
    row_i64(&w, &st->rx_bytes);
    row_i64(&w, &st->tx_bytes);
    row_f64(&w, &st->connection_median_latency_ms);
    row_i64(&w, &st->session_count_vscode);
    row_i64(&w, &st->session_count_ssh);
    row_i64(&w, &st->session_count_jetbrains);
    row_i64(&w, &st->session_count_reconnecting_pty);
    return w.rc;
}

static int
pg_stat_scan_since(struct store *s, struct store_txn *t, int64_t since,
                   store_stat_fn fn, void *ctx, struct err *e)
{
    struct store_agent_stat st;
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_i64(&p, since);
    pg_param_i64(&p, STAT_SCAN_MAX + 1);
    rc = pg_run(s, t, PG_STAT_SCAN_SINCE, &p, &res, e);
    if (rc == 0 && PQntuples(res) > STAT_SCAN_MAX)
        rc = err_set(e, ERR_TOO_LARGE, "agent stats: more than %d rows "
                     "since the given time", STAT_SCAN_MAX);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        rc = stat_decode(res, r, &st, e);
        if (rc == 0)
            rc = fn(&st, ctx);
    }
    PQclear(res);
    return rc;
}

static int
pg_stat_prune(struct store *s, struct store_txn *t, int64_t older_than,
              struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_i64(&p, older_than);
    rc = pg_run(s, t, PG_STAT_PRUNE, &p, &res, e);
    PQclear(res);
    return rc;
}

/* ---- CSP reports ---- */

static int
pg_csp_append(struct store *s, struct store_txn *t, int64_t received_at,
              const char *body, int64_t *id_out, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    struct row w;
    int64_t id = 0;
    int rc;

    if (strlen(body) > STORE_CSP_BODY_MAX)
        return err_set(e, ERR_TOO_LARGE, "csp report: body is too large");
    pg_params_init(&p);
    pg_param_i64(&p, received_at);
    pg_param_text(&p, body);
    rc = run_get(s, t, PG_CSP_APPEND, &p, "csp report", &res, e);
    if (rc != 0)
        return rc;
    row_init(&w, res, 0, "csp_reports", e);
    row_i64(&w, &id);
    PQclear(res);
    if (w.rc == 0 && id_out != NULL)
        *id_out = id;
    return w.rc;
}

static int
csp_decode(const PGresult *res, int r, struct store_csp_report *c,
           struct err *e)
{
    struct row w;

    row_init(&w, res, r, "csp_reports", e);
    row_i64(&w, &c->id);
    row_i64(&w, &c->received_at);
    c->body = row_strdup(&w);
    return w.rc;
}

static int
pg_csp_scan(struct store *s, struct store_txn *t, store_csp_fn fn,
            void *ctx, struct err *e)
{
    struct store_csp_report c;
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    rc = pg_run(s, t, PG_CSP_SCAN, &p, &res, e);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        memset(&c, 0, sizeof(c));
        rc = csp_decode(res, r, &c, e);
        if (rc == 0)
            rc = fn(&c, ctx);
        free(c.body);
    }
    PQclear(res);
    return rc;
}

static int
pg_csp_prune(struct store *s, struct store_txn *t, size_t keep_max,
             int64_t older_than, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_i64(&p, keep_max > INT64_MAX ? INT64_MAX : (int64_t)keep_max);
    pg_param_i64(&p, older_than);
    rc = pg_run(s, t, PG_CSP_PRUNE, &p, &res, e);
    PQclear(res);
    return rc;
}

/* ---- config snapshots and replicas ---- */

/* The config_snapshots trigger notifies the other replicas. */
static int
pg_snapshot_append(struct store *s, struct store_txn *t,
                   const struct store_snapshot *snap, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    if (snap->json == NULL || strlen(snap->json) > STORE_SNAPSHOT_MAX)
        return err_set(e, snap->json == NULL ? ERR_INVALID : ERR_TOO_LARGE,
                       "snapshot: needs json of at most %zu bytes",
                       STORE_SNAPSHOT_MAX);
    pg_params_init(&p);
    pg_param_text(&p, snap->replica_id);
    pg_param_i64(&p, snap->taken_at);
    pg_param_text(&p, snap->json);
    rc = pg_run(s, t, PG_SNAPSHOT_APPEND, &p, &res, e);
    PQclear(res);
    return rc;
}

static int
snapshot_decode(const PGresult *res, int r, struct store_snapshot *snap,
                struct err *e)
{
    struct row w;

    row_init(&w, res, r, "config_snapshots", e);
    row_text(&w, snap->replica_id, sizeof(snap->replica_id));
    row_i64(&w, &snap->taken_at);
    snap->json = row_strdup(&w);
    return w.rc;
}

static int
pg_snapshot_scan(struct store *s, struct store_txn *t,
                 const char *replica_id, store_snapshot_fn fn, void *ctx,
                 struct err *e)
{
    struct store_snapshot snap;
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    pg_param_text(&p, replica_id);
    rc = pg_run(s, t, PG_SNAPSHOT_SCAN, &p, &res, e);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        memset(&snap, 0, sizeof(snap));
        rc = snapshot_decode(res, r, &snap, e);
        if (rc == 0)
            rc = fn(&snap, ctx);
        free(snap.json);
    }
    PQclear(res);
    return rc;
}

static int
pg_replica_put(struct store *s, struct store_txn *t,
               const struct store_replica *r, struct err *e)
{
    struct pg_params p;
    PGresult *res;
    int rc;

    if (r->id[0] == '\0')
        return err_set(e, ERR_INVALID, "replica: needs an id");
    pg_params_init(&p);
    pg_param_text(&p, r->id);
    pg_param_text(&p, r->hostname);
    pg_param_text(&p, r->version);
    pg_param_i64(&p, r->started_at);
    pg_param_i64(&p, r->heartbeat_at);
    pg_param_bool(&p, r->gone);
    rc = pg_run(s, t, PG_REPLICA_PUT, &p, &res, e);
    PQclear(res);
    return rc;
}

static int
replica_decode(const PGresult *res, int r, struct store_replica *rep,
               struct err *e)
{
    struct row w;

    memset(rep, 0, sizeof(*rep));
    row_init(&w, res, r, "replicas", e);
    row_text(&w, rep->id, sizeof(rep->id));
    row_text(&w, rep->hostname, sizeof(rep->hostname));
    row_text(&w, rep->version, sizeof(rep->version));
    row_i64(&w, &rep->started_at);
    row_i64(&w, &rep->heartbeat_at);
    row_bool(&w, &rep->gone);
    return w.rc;
}

static int
pg_replica_list(struct store *s, struct store_txn *t, store_replica_fn fn,
                void *ctx, struct err *e)
{
    struct store_replica rep;
    struct pg_params p;
    PGresult *res;
    int rc;

    pg_params_init(&p);
    rc = pg_run(s, t, PG_REPLICA_LIST, &p, &res, e);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        rc = replica_decode(res, r, &rep, e);
        if (rc == 0)
            rc = fn(&rep, ctx);
    }
    PQclear(res);
    return rc;
}

/* ---- transactions ---- */

static int
pg_begin(struct store *s, bool write, struct store_txn **out,
         struct err *e)
{
    struct store_txn *t;
    int rc;

    *out = NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return err_set(e, ERR_NOMEM, "begin: out of memory");
    rc = pg_checkout(s, &t->c, e);
    if (rc != 0) {
        free(t);
        return rc;
    }
    t->s = s;
    t->write = write;
    rc = pg_exec_simple(t->c->pg, write ? "BEGIN" : "BEGIN ISOLATION LEVEL"
                        " REPEATABLE READ READ ONLY", e);
    if (rc != 0) {
        pg_checkin(s, t->c);
        free(t);
        return err_prefix(e, "begin");
    }
    *out = t;
    return 0;
}

static void
txn_end(struct store_txn *t)
{
    pg_checkin(t->s, t->c);
    free(t);
}

static int
pg_commit(struct store_txn *t, struct err *e)
{
    int rc = t->failed;

    if (rc != 0)
        err_set(e, rc, "commit: the transaction failed earlier and was "
                "rolled back");
    else
        rc = pg_exec_simple(t->c->pg, "COMMIT", e);
    if (rc != 0 && t->failed == 0)
        err_prefix(e, "commit");
    txn_end(t);
    return rc;
}

static void
pg_abort(struct store_txn *t)
{
    if (t == NULL)
        return;
    if (PQstatus(t->c->pg) == CONNECTION_OK)
        PQclear(PQexec(t->c->pg, "ROLLBACK"));
    txn_end(t);
}

/* ---- open, close, ping ---- */

/* The first connection, retried with backoff until timeout_ns passes. */
static int
connect_first(struct store *s, int64_t timeout_ns, PGconn **out,
              struct err *e)
{
    int64_t deadline = util_mono_ns() + timeout_ns;
    int64_t wait = 100 * 1000 * 1000;
    int rc;

    for (;;) {
        rc = pg_connect(s, out, e);
        if (rc != ERR_UNAVAILABLE)
            return rc;
        if (util_mono_ns() + wait > deadline)
            break;
        pg_sleep_ns(wait);
        if (wait < 2 * UTIL_NS_PER_SEC)
            wait *= 2;
    }
    return err_prefix(e, "gave up after %lld s",
                      (long long)(timeout_ns / UTIL_NS_PER_SEC));
}

static void
pg_close(struct store *s)
{
    if (s == NULL)
        return;
    pg_cluster_close(s);
    pg_pool_close(s);
    pg_conninfo_free(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->lock_mu);
    free(s);
}

static struct store *
store_alloc(void)
{
    struct store *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->base.ops = &store_postgres_ops;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->lock_mu, NULL);
    return s;
}

static int
pg_open(struct store **out, const struct store_options *opt, struct err *e)
{
    struct store *s;
    PGconn *conn = NULL;
    int64_t timeout;
    int rc;

    *out = NULL;
    if (opt == NULL || opt->url == NULL || opt->url[0] == '\0')
        return err_set(e, ERR_INVALID, "postgres: no connection url");
    rc = pq_lazy_load(e);
    if (rc < 0) {
        err_prefix(e, "postgres");
        return rc;
    }
    s = store_alloc();
    if (s == NULL)
        return err_set(e, ERR_NOMEM, "postgres: out of memory");
    timeout = opt->connect_timeout_ns > 0 ? opt->connect_timeout_ns
                                          : DEFAULT_CONNECT_TIMEOUT_NS;
    rc = pg_conninfo_build(s, opt->url, e);
    if (rc == 0)
        rc = connect_first(s, timeout, &conn, e);
    if (rc == 0)
        rc = pg_migrate(conn, e);
    if (rc == 0)
        rc = pg_pool_open(s, opt->pool_size > 0 ? opt->pool_size
                                                : DEFAULT_POOL, conn, e);
    if (rc != 0) {
        if (conn != NULL)
            PQfinish(conn);
        pg_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int
pg_ping(struct store *s, struct err *e)
{
    struct pg_conn *c;
    int rc;

    rc = pg_checkout(s, &c, e);
    if (rc != 0)
        return rc;
    rc = pg_exec_simple(c->pg, "SELECT 1", e);
    pg_checkin(s, c);
    return rc != 0 ? err_prefix(e, "ping") : 0;
}

const struct store_ops store_postgres_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .abort = pg_abort,
    .deployment_id = pg_deployment_id,
    .site_get = pg_site_get,
    .site_put = pg_site_put,
    .user_insert = pg_user_insert,
    .user_update = pg_user_update,
    .user_get = pg_user_get,
    .user_get_by_name = pg_user_get_by_name,
    .user_list = pg_user_list,
    .key_insert = pg_key_insert,
    .key_get = pg_key_get,
    .key_touch = pg_key_touch,
    .key_delete = pg_key_delete,
    .key_list_by_user = pg_key_list_by_user,
    .workspace_put = pg_workspace_put,
    .workspace_list = pg_workspace_list,
    .stat_append = pg_stat_append,
    .stat_scan_since = pg_stat_scan_since,
    .csp_append = pg_csp_append,
    .csp_scan = pg_csp_scan,
    .csp_prune = pg_csp_prune,
    .snapshot_append = pg_snapshot_append,
    .snapshot_scan = pg_snapshot_scan,
    .replica_put = pg_replica_put,
    .replica_list = pg_replica_list,
    .lock_try = pg_lock_try,
    .unlock = pg_unlock,
    .subscribe = pg_subscribe,
    .ping = pg_ping,
    .key_get_auth = pg_key_get_auth,
    .stat_prune = pg_stat_prune,
};
