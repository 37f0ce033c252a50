/*
 * pgutil.h: PostgreSQL helpers for the Check suites.
 *
 * The suites share one throwaway server, named by $TEST_PG_URL (run.sh
 * starts it with tests/pg.sh); each test makes a database of its own in
 * it, so tests never see each other's rows.  Tests that need to stop a
 * server start one of their own with tu_pg_server_start.  Like testutil.h,
 * every helper aborts the test (ck_abort_msg) when it fails.
 */
#ifndef CODER_CFG_PGUTIL_H
#define CODER_CFG_PGUTIL_H

/*
 * Creates a new, empty database in the $TEST_PG_URL server and returns
 * its connection URL (heap; pass it to tu_pg_drop_database).
 */
char *tu_pg_new_database(void);

/* Drops the database of url (closing its sessions), then frees url. */
void tu_pg_drop_database(char *url);

/*
 * Runs sql on url and returns the first column of the first row as a heap
 * string ("" when there is none); the caller frees it.
 */
char *tu_pg_query(const char *url, const char *sql);

/*
 * A private server: initdb and start one in a new temporary directory,
 * returning its URL (heap) and the directory (heap) in *dir.
 */
char *tu_pg_server_start(char **dir);

/* "pause" (stop, keep the data), "resume" or "stop" (and remove dir). */
void tu_pg_server_ctl(const char *cmd, const char *dir);

#endif
