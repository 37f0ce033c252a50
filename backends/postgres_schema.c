/*
 * postgres_schema.c: versioned schema migrations of the PostgreSQL
 * backend.
 *
 * Replicas that start together must migrate once.  Every opener takes one
 * session advisory lock before it looks at the schema, so the first one
 * migrates while the others wait and then find the work done.  Each
 * migration and the row that records it commit in one transaction: a
 * crash halfway leaves the previous version, never half of the next.
 *
 * Migrations are only ever appended; a database whose recorded version is
 * newer than PG_SCHEMA_VERSION was written by a newer coder-cfg and is
 * refused rather than used with a schema we do not know.
 */
#include <stdio.h>
#include <string.h>

#include "backends/postgres_int.h"
#include "core/util.h"
#include "core/banned.h"

/* The migration lock: our class plus one, object 0. */
#define LOCK_SQL "SELECT pg_advisory_lock(1128679202, 0)"
#define UNLOCK_SQL "SELECT pg_advisory_unlock(1128679202, 0)"

static const char schema_v0[] =
    "CREATE SCHEMA IF NOT EXISTS coder_cfg;"
    "CREATE TABLE IF NOT EXISTS coder_cfg.schema_migrations ("
    " version integer PRIMARY KEY,"
    " applied_at bigint NOT NULL)";

/* Version 1: every record kind, and the triggers that notify replicas. */
static const char schema_v1[] =
    "CREATE TABLE coder_cfg.site_config ("
    " key text COLLATE \"C\" PRIMARY KEY,"
    " value text NOT NULL);"
    "CREATE TABLE coder_cfg.users ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " username text NOT NULL,"
    " email text NOT NULL,"
    " roles integer NOT NULL,"
    " status smallint NOT NULL,"
    " deleted boolean NOT NULL,"
    " created_at bigint NOT NULL,"
    " updated_at bigint NOT NULL,"
    " last_seen_at bigint NOT NULL);"
    "CREATE UNIQUE INDEX users_username_live"
    " ON coder_cfg.users (lower(username COLLATE \"C\")) WHERE NOT deleted;"
    "CREATE TABLE coder_cfg.api_keys ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " hashed_secret bytea NOT NULL,"
    " user_id text COLLATE \"C\" NOT NULL,"
    " created_at bigint NOT NULL,"
    " updated_at bigint NOT NULL,"
    " expires_at bigint NOT NULL,"
    " last_used bigint NOT NULL,"
    " lifetime_seconds bigint NOT NULL,"
    " login_type smallint NOT NULL,"
    " token_name text NOT NULL,"
    " ip_address text NOT NULL);"
    "CREATE INDEX api_keys_user ON coder_cfg.api_keys (user_id, id);"
    "CREATE TABLE coder_cfg.workspaces ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " owner_id text NOT NULL,"
    " name text NOT NULL,"
    " deleted boolean NOT NULL,"
    " created_at bigint NOT NULL,"
    " has_build boolean NOT NULL,"
    " transition smallint NOT NULL,"
    " job_started_at bigint NOT NULL,"
    " job_completed_at bigint NOT NULL,"
    " job_canceled_at bigint NOT NULL,"
    " job_updated_at bigint NOT NULL,"
    " job_error boolean NOT NULL);"
    "CREATE TABLE coder_cfg.agent_stats ("
    " created_at bigint NOT NULL,"
    " id text COLLATE \"C\" NOT NULL,"
    " workspace_id text NOT NULL,"
    " agent_id text NOT NULL,"
    " rx_bytes bigint NOT NULL,"
    " tx_bytes bigint NOT NULL,"
    " connection_median_latency_ms double precision NOT NULL,"
    " session_count_vscode bigint NOT NULL,"
    " session_count_ssh bigint NOT NULL,"
    " session_count_jetbrains bigint NOT NULL,"
    " session_count_reconnecting_pty bigint NOT NULL,"
    " PRIMARY KEY (created_at, id));"
    "CREATE TABLE coder_cfg.csp_reports ("
    " id bigserial PRIMARY KEY,"
    " received_at bigint NOT NULL,"
    " body text NOT NULL);"
    "CREATE INDEX csp_reports_received"
    " ON coder_cfg.csp_reports (received_at);"
    "CREATE TABLE coder_cfg.config_snapshots ("
    " seq bigserial PRIMARY KEY,"
    " replica_id text COLLATE \"C\" NOT NULL,"
    " taken_at bigint NOT NULL,"
    " json text NOT NULL);"
    "CREATE INDEX config_snapshots_taken"
    " ON coder_cfg.config_snapshots (taken_at, seq);"
    "CREATE TABLE coder_cfg.replicas ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " hostname text NOT NULL,"
    " version text NOT NULL,"
    " started_at bigint NOT NULL,"
    " heartbeat_at bigint NOT NULL,"
    " gone boolean NOT NULL);"
    "CREATE FUNCTION coder_cfg.notify_key() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP = 'DELETE' THEN"
    "  PERFORM pg_notify('" PG_CHANNEL "', 'kd:' || OLD.id);"
    " ELSE"
    "  PERFORM pg_notify('" PG_CHANNEL "', 'kc:' || NEW.id);"
    " END IF;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER api_keys_deleted AFTER DELETE ON coder_cfg.api_keys"
    " FOR EACH ROW EXECUTE FUNCTION coder_cfg.notify_key();"
    "CREATE TRIGGER api_keys_changed AFTER UPDATE ON coder_cfg.api_keys"
    " FOR EACH ROW WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at"
    " OR OLD.hashed_secret IS DISTINCT FROM NEW.hashed_secret"
    " OR OLD.user_id IS DISTINCT FROM NEW.user_id)"
    " EXECUTE FUNCTION coder_cfg.notify_key();"
    "CREATE FUNCTION coder_cfg.notify_snapshot() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " PERFORM pg_notify('" PG_CHANNEL "', 'sn:' || NEW.replica_id);"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER config_snapshots_added"
    " AFTER INSERT ON coder_cfg.config_snapshots"
    " FOR EACH ROW EXECUTE FUNCTION coder_cfg.notify_snapshot();";

/* Migration n (1-based) is migrations[n - 1]. */
static const char *const migrations[] = {
    schema_v1,
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

_Static_assert(NMIGRATIONS == PG_SCHEMA_VERSION,
               "one migration per schema version");

static int
current_version(PGconn *conn, int64_t *out, struct err *e)
{
    PGresult *res;
    const char *v;
    int rc = ERR_CORRUPT;

    res = PQexec(conn, "SELECT coalesce(max(version), 0)"
                 " FROM coder_cfg.schema_migrations");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pg_result_error(conn, res, "reading the schema version", e);
        goto out;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != 1) {
        err_set(e, rc, "reading the schema version: unexpected result");
        goto out;
    }
    v = PQgetvalue(res, 0, 0);
    if (util_parse_i64(v, strlen(v), out) != 0 || *out < 0) {
        err_set(e, rc, "invalid schema version \"%s\" in "
                "coder_cfg.schema_migrations", v);
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static int
apply(PGconn *conn, int version, struct err *e)
{
    char record[160];
    int rc;

    snprintf(record, sizeof(record), "INSERT INTO coder_cfg.schema_migrations"
             " (version, applied_at) VALUES (%d, %lld)", version,
             (long long)util_now_ns());
    rc = pg_exec_simple(conn, "BEGIN", e);
    if (rc == 0)
        rc = pg_exec_simple(conn, migrations[version - 1], e);
    if (rc == 0)
        rc = pg_exec_simple(conn, record, e);
    if (rc == 0)
        rc = pg_exec_simple(conn, "COMMIT", e);
    if (rc != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return err_prefix(e, "schema migration %d", version);
    }
    return 0;
}

static int
migrate_locked(PGconn *conn, struct err *e)
{
    int64_t have;
    int rc;

    rc = pg_exec_simple(conn, schema_v0, e);
    if (rc == 0)
        rc = current_version(conn, &have, e);
    if (rc != 0)
        return rc;
    if (have > PG_SCHEMA_VERSION)
        return err_set(e, ERR_VERSION, "database schema version %lld is "
                       "newer than this coder-cfg supports (%d): upgrade "
                       "coder-cfg", (long long)have, PG_SCHEMA_VERSION);
    for (int v = (int)have + 1; v <= PG_SCHEMA_VERSION && rc == 0; v++)
        rc = apply(conn, v, e);
    return rc;
}

int
pg_migrate(PGconn *conn, struct err *e)
{
    int rc;

    rc = pg_exec_simple(conn, LOCK_SQL, e);
    if (rc != 0)
        return err_prefix(e, "taking the migration lock");
    rc = migrate_locked(conn, e);
    PQclear(PQexec(conn, UNLOCK_SQL));
    return rc;
}
