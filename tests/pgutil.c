/*
 * pgutil.c: throwaway databases and servers for the PostgreSQL tests.
 */
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgutil.h"
#include "testutil.h"

/* The shared server, or an aborted test when there is none. */
static const char *
server_url(void)
{
    const char *url = getenv("TEST_PG_URL");

    ck_assert_msg(url != NULL && url[0] != '\0',
                  "TEST_PG_URL is not set: run through tests/run.sh");
    return url;
}

/* Where url's database name starts and ends (before any "?"). */
static void
dbname_span(const char *url, size_t *start, size_t *end)
{
    const char *scheme = strstr(url, "://");
    const char *slash;
    const char *query;

    ck_assert_msg(scheme != NULL, "not a postgres url: %s", url);
    slash = strchr(scheme + 3, '/');
    ck_assert_msg(slash != NULL, "no database in url: %s", url);
    query = strchr(slash, '?');
    *start = (size_t)(slash + 1 - url);
    *end = query != NULL ? (size_t)(query - url) : strlen(url);
}

/* url with its database name replaced by name; heap. */
static char *
with_dbname(const char *url, const char *name)
{
    size_t start, end, len;
    char *out;

    dbname_span(url, &start, &end);
    len = start + strlen(name) + strlen(url + end) + 1;
    out = malloc(len);
    ck_assert_msg(out != NULL, "out of memory");
    snprintf(out, len, "%.*s%s%s", (int)start, url, name, url + end);
    return out;
}

static PGresult *
exec_on(const char *url, const char *sql)
{
    PGconn *conn = PQconnectdb(url);
    PGresult *res;
    ExecStatusType st;

    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect %s: %s", url,
                  PQerrorMessage(conn));
    res = PQexec(conn, sql);
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];

        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        PQclear(res);
        PQfinish(conn);
        ck_abort_msg("%s: %s", sql, msg);
    }
    PQfinish(conn);
    return res;
}

char *
tu_pg_new_database(void)
{
    static unsigned counter;
    struct timespec ts;
    char name[64];
    char sql[128];

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name, sizeof(name), "cfgtest_%ld_%u_%ld", (long)getpid(),
             counter++, (long)(ts.tv_nsec % 1000000));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    PQclear(exec_on(server_url(), sql));
    return with_dbname(server_url(), name);
}

void
tu_pg_drop_database(char *url)
{
    size_t start, end;
    char sql[160];

    if (url == NULL)
        return;
    dbname_span(url, &start, &end);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
             (int)(end - start), url + start);
    PQclear(exec_on(server_url(), sql));
    free(url);
}

char *
tu_pg_query(const char *url, const char *sql)
{
    PGresult *res = exec_on(url, sql);
    const char *v = "";
    char *out;

    if (PQntuples(res) > 0 && PQnfields(res) > 0)
        v = PQgetvalue(res, 0, 0);
    out = strdup(v);
    PQclear(res);
    ck_assert_msg(out != NULL, "out of memory");
    return out;
}

/* Runs tests/pg.sh cmd dir; its stdout (trimmed) as heap. */
static char *
pg_sh(const char *cmd, const char *dir)
{
    const char *sh = getenv("TEST_PG_SH");
    char *argv[4];
    char buf[512];
    size_t len = 0;
    ssize_t n;
    int fds[2];
    int status;
    pid_t pid;

    argv[0] = (char *)(sh != NULL && sh[0] != '\0' ? sh : "tests/pg.sh");
    argv[1] = (char *)cmd;
    argv[2] = (char *)dir;
    argv[3] = NULL;
    ck_assert_msg(pipe(fds) == 0, "pipe: %s", strerror(errno));
    pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    while (len < sizeof(buf) - 1 &&
           (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    buf[len] = '\0';
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        continue;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s %s %s failed", argv[0], cmd, dir);
    return strdup(buf);
}

char *
tu_pg_server_start(char **dir)
{
    char *url;

    *dir = tu_tmpdir();
    url = pg_sh("start", *dir);
    ck_assert_msg(url != NULL && strncmp(url, "postgresql://", 13) == 0,
                  "pg.sh start printed no url");
    return url;
}

void
tu_pg_server_ctl(const char *cmd, const char *dir)
{
    free(pg_sh(cmd, dir));
}
