/*
 * check_engine.c: the engine over the embedded store, including what
 * only real processes show: a shared deployment ID, a writer killed with
 * SIGKILL, and a reader beside a running writer.
 */
#include <check.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/keycache.h"
#include "core/util.h"
#include "tests/testutil.h"

#define SEC UTIL_NS_PER_SEC
#define MS (SEC / 1000)
#define HOUR (INT64_C(3600) * SEC)

struct ectx {
    char *dir;
    struct engine *en;
    const struct store_ops *ops;
    struct err e;
};

static struct engine *
open_at(const char *dir, struct err *e)
{
    struct engine_options opt;
    struct engine *en = NULL;
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.config_dir = dir;
    rc = engine_open(&en, &opt, e);
    ck_assert_msg(rc == 0, "engine_open: %s", e->msg);
    return en;
}

static void
ectx_open(struct ectx *c)
{
    memset(c, 0, sizeof(*c));
    c->dir = tu_tmpdir();
    c->en = open_at(c->dir, &c->e);
    c->ops = store_ops_of(engine_store(c->en));
}

static void
ectx_close(struct ectx *c)
{
    engine_close(c->en);
    tu_rmtree(c->dir);
}

#define OK(c, expr)                                                      \
    do {                                                                 \
        int rc_ = (expr);                                                \
        ck_assert_msg(rc_ == 0, "%s = %s: %s", #expr, err_name(rc_),     \
                      (c)->e.msg);                                       \
    } while (0)

#define FAILS(c, code, expr)                                             \
    do {                                                                 \
        int rc_ = (expr);                                                \
        ck_assert_msg(rc_ == (code), "%s = %s, want %s", #expr,          \
                      err_name(rc_), err_name(code));                    \
    } while (0)

/* Everything a pipe delivers until EOF, as a heap string. */
static char *
read_all(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;

    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            ck_assert_uint_lt(cap, (size_t)64 << 20);
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* Reads one line (without its newline) from fd; false at EOF. */
static bool
read_line(int fd, char *out, size_t cap)
{
    size_t n = 0;
    char ch;

    while (n + 1 < cap && read(fd, &ch, 1) == 1) {
        if (ch == '\n') {
            out[n] = '\0';
            return true;
        }
        out[n++] = ch;
    }
    out[n] = '\0';
    return false;
}

static void
write_line(int fd, const char *s)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "%s\n", s);

    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

/* ------------------------------------------------------------------------
 * Deployment ID across restarts and processes
 */

START_TEST(engine_deployment_id_is_shared_by_every_process)
{
    char *dir = tu_tmpdir();
    char want[STORE_UUID_LEN + 1], line[64], *all, *p;
    struct engine *en;
    struct err e;
    int fds[2], i, status, n = 0;
    pid_t pids[6];

    /* Six processes race to open a store that does not exist yet. */
    ck_assert_int_eq(pipe(fds), 0);
    for (i = 0; i < 6; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            struct engine_options opt = { .config_dir = dir };

            close(fds[0]);
            if (engine_open(&en, &opt, &e) != 0)
                _exit(2);
            write_line(fds[1], engine_deployment_id(en));
            engine_close(en);
            _exit(0);
        }
    }
    close(fds[1]);
    all = read_all(fds[0]);
    close(fds[0]);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    /* All agree with each other and with a later restart. */
    en = open_at(dir, &e);
    snprintf(want, sizeof(want), "%s", engine_deployment_id(en));
    ck_assert(util_uuid_valid(want));
    engine_close(en);
    for (p = all; sscanf(p, "%63s", line) == 1; p += strlen(line) + 1) {
        ck_assert_str_eq(line, want);
        n++;
    }
    ck_assert_int_eq(n, 6);
    en = open_at(dir, &e);
    ck_assert_str_eq(engine_deployment_id(en), want);
    engine_close(en);
    free(all);
    tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------------
 * Crash safety and concurrent readers
 */

/* Creates users forever, reporting each id once its commit returned. */
static void
writer_child(const char *dir, int fd)
{
    struct engine_options opt = { .config_dir = dir };
    struct store_user u;
    struct engine *en;
    struct err e;
    char name[32];
    int i;

    if (engine_open(&en, &opt, &e) != 0)
        _exit(2);
    for (i = 0;; i++) {
        snprintf(name, sizeof(name), "w%d", i);
        if (engine_user_create(en, name, NULL, 0, &u, &e) != 0)
            _exit(4);
        write_line(fd, u.id);
    }
}

static pid_t
start_writer(const char *dir, int *rfd)
{
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        writer_child(dir, fds[1]);
    }
    close(fds[1]);
    *rfd = fds[0];
    return pid;
}

START_TEST(engine_killed_writer_loses_no_acknowledged_write)
{
    char *dir = tu_tmpdir();
    char line[64], *rest, *p;
    struct store_user u;
    struct engine *en;
    struct err e;
    int fd, status, i, n = 0;
    pid_t pid;
    char (*ids)[STORE_UUID_LEN + 1] = calloc(100000, sizeof(*ids));

    ck_assert_ptr_nonnull(ids);
    pid = start_writer(dir, &fd);
    for (i = 0; i < 150 && read_line(fd, line, sizeof(line)); i++)
        snprintf(ids[n++], sizeof(ids[0]), "%s", line);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));

    /* What was in the pipe was acknowledged too. */
    rest = read_all(fd);
    close(fd);
    for (p = rest; p != NULL && n < 100000; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strlen(p) < STORE_UUID_LEN)
            break;
        snprintf(ids[n++], sizeof(ids[0]), "%.36s", p);
    }
    free(rest);
    ck_assert_int_ge(n, 150);

    en = open_at(dir, &e);
    for (i = 0; i < n; i++)
        ck_assert_msg(engine_user_find(en, ids[i], &u, &e) == 0,
                      "acknowledged user %s lost: %s", ids[i], e.msg);
    ck_assert_int_eq(engine_user_create(en, "after", NULL, 0, &u, &e), 0);
    engine_close(en);
    free(ids);
    tu_rmtree(dir);
}
END_TEST

static int
count_users(const struct store_user *u, void *ctx)
{
    (void)u;
    (*(int *)ctx)++;
    return 0;
}

START_TEST(engine_reader_sees_commits_while_writer_runs)
{
    char *dir = tu_tmpdir();
    char line[64];
    struct engine *en = NULL;
    struct store_user u;
    struct err e;
    int fd, status, round, acked = 0, seen;
    pid_t pid;

    pid = start_writer(dir, &fd);
    for (round = 0; round < 5; round++) {
        int i;

        for (i = 0; i < 20 && read_line(fd, line, sizeof(line)); i++)
            acked++;
        if (en == NULL)
            en = open_at(dir, &e);

        /* The last acknowledged user is visible, the writer still up. */
        ck_assert_int_eq(engine_user_find(en, line, &u, &e), 0);
        seen = 0;
        ck_assert_int_eq(engine_user_list(en, count_users, &seen, &e), 0);
        ck_assert_int_ge(seen, acked);
        ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(fd);
    engine_close(en);
    tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------------
 * Users
 */

START_TEST(engine_usernames_follow_coders_rules)
{
    static const char *const bad[] = {
        "", "-a", "a-", "a--b", "a_b", "new", "create",
        "abcdefghijklmnopqrstuvwxyz0123456", "a b"
    };
    struct ectx c;
    struct store_user u, got;
    size_t i;

    ectx_open(&c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(engine_user_create(c.en, bad[i], NULL, 0, &u, &c.e)
                      == ERR_INVALID, "accepted \"%s\"", bad[i]);
    OK(&c, engine_user_create(c.en, "Ann-Lee2", "ann@example.com",
                              STORE_ROLE_OWNER, &u, &c.e));
    FAILS(&c, ERR_EXISTS, engine_user_create(c.en, "ann-lee2", NULL, 0,
                                             NULL, &c.e));
    ck_assert_str_eq(c.e.msg, "username \"ann-lee2\" is already taken");

    OK(&c, engine_user_find(c.en, "ANN-LEE2", &got, &c.e));
    ck_assert_str_eq(got.id, u.id);
    for (i = 0; i < STORE_UUID_LEN; i++)
        u.id[i] = (char)(u.id[i] >= 'a' && u.id[i] <= 'f'
                         ? u.id[i] - 'a' + 'A' : u.id[i]);
    OK(&c, engine_user_find(c.en, u.id, &got, &c.e));
    ck_assert_str_eq(got.username, "Ann-Lee2");
    ck_assert_uint_eq(got.roles, STORE_ROLE_OWNER);
    FAILS(&c, ERR_NOT_FOUND, engine_user_find(c.en, "nobody", &got, &c.e));
    ectx_close(&c);
}
END_TEST

START_TEST(engine_email_must_be_a_plain_address)
{
    static const struct {
        const char *email;
        const char *msg;
    } bad[] = {
        { "notanemail", "invalid email \"notanemail\": missing \"@\"" },
        { "a@b@c", "invalid email \"a@b@c\": more than one \"@\"" },
        { "@example.com", "invalid email \"@example.com\": nothing "
          "before \"@\"" },
        { "ann@", "invalid email \"ann@\": nothing after \"@\"" },
        { "ann lee@example.com", "invalid email \"ann lee@example.com\": "
          "contains a space or control character" },
        { "ann\n@example.com", "invalid email \"ann\\x0a@example.com\": "
          "contains a space or control character" },
        { "Ann <ann@example.com>", "invalid email \"Ann <ann@example.com>"
          "\": contains a space or control character" },
        { "<ann@example.com>", "invalid email \"<ann@example.com>\": the "
          "character '<' is not allowed" },
    };
    static const char *const good[] = {
        "a@b", "ann.lee+ci@example.com", "x@localhost", "", NULL
    };
    char name[16], longest[STORE_EMAIL_MAX + 2];
    struct ectx c;
    struct store_user u;
    size_t i;

    ectx_open(&c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FAILS(&c, ERR_INVALID, engine_user_create(c.en, "ann", bad[i].email,
                                                  0, NULL, &c.e));
        ck_assert_str_eq(c.e.msg, bad[i].msg);
    }

    /* The longest address fits; one byte more is refused, cut short. */
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + STORE_EMAIL_MAX - 4, "@b.c", 5);
    OK(&c, engine_user_create(c.en, "long", longest, 0, &u, &c.e));
    ck_assert_str_eq(u.email, longest);
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + STORE_EMAIL_MAX - 3, "@b.c", 5);
    FAILS(&c, ERR_INVALID, engine_user_create(c.en, "longer", longest, 0,
                                              NULL, &c.e));
    ck_assert_msg(strstr(c.e.msg, "...\": longer than 320 bytes") != NULL,
                  "%s", c.e.msg);
    ck_assert_uint_lt(strlen(c.e.msg), 120);

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(name, sizeof(name), "good%zu", i);
        OK(&c, engine_user_create(c.en, name, good[i], 0, &u, &c.e));
        ck_assert_str_eq(u.email, good[i] != NULL ? good[i] : "");
    }
    ectx_close(&c);
}
END_TEST

START_TEST(engine_deleted_user_is_gone_with_its_tokens)
{
    struct ectx c;
    struct store_user u, got;
    struct store_key k;
    struct engine_auth au;
    char tok[ENGINE_TOKEN_LEN + 1];
    int n = 0;

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "zed", NULL, 0, &u, &c.e));
    OK(&c, engine_token_create(c.en, u.id, HOUR, "t", tok, &k, &c.e));
    OK(&c, engine_user_delete(c.en, u.id, &c.e));
    FAILS(&c, ERR_NOT_FOUND, engine_user_find(c.en, "zed", &got, &c.e));
    FAILS(&c, ERR_NOT_FOUND, engine_user_find(c.en, u.id, &got, &c.e));
    FAILS(&c, ERR_NOT_FOUND, engine_user_delete(c.en, u.id, &c.e));
    OK(&c, engine_user_list(c.en, count_users, &n, &c.e));
    ck_assert_int_eq(n, 0);
    OK(&c, engine_token_verify(c.en, tok, NULL, &au, &c.e));
    ck_assert_int_eq(au.result, ENGINE_AUTH_UNKNOWN_ID);

    /* The name is free again. */
    OK(&c, engine_user_create(c.en, "ZED", NULL, 0, &u, &c.e));
    ectx_close(&c);
}
END_TEST

START_TEST(engine_roles_parse_and_name)
{
    struct ectx c;
    unsigned roles = 99;

    ectx_open(&c);
    OK(&c, engine_roles_parse("member", &roles, &c.e));
    ck_assert_uint_eq(roles, 0);
    OK(&c, engine_roles_parse("", &roles, &c.e));
    ck_assert_uint_eq(roles, 0);
    OK(&c, engine_roles_parse("owner, auditor,user-admin", &roles, &c.e));
    ck_assert_uint_eq(roles, STORE_ROLE_OWNER | STORE_ROLE_AUDITOR |
                      STORE_ROLE_USER_ADMIN);
    FAILS(&c, ERR_INVALID, engine_roles_parse("owner,root", &roles, &c.e));
    ck_assert_str_eq(c.e.msg, "unknown role \"root\" (want owner, auditor, "
                     "user-admin, template-admin or member)");
    ck_assert_str_eq(engine_role_name(STORE_ROLE_TEMPLATE_ADMIN),
                     "template-admin");
    ck_assert_ptr_null(engine_role_name((enum store_role)0));
    ectx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Token verification
 */

static enum engine_auth_result
verdict(struct ectx *c, const char *tok, int64_t now, int *count)
{
    struct engine_auth_options o = { .now = now, .ip = "198.51.100.4" };
    struct engine_auth au;

    OK(c, engine_token_verify(c->en, tok, &o, &au, &c->e));
    if (count != NULL)
        *count = au.count;
    return au.result;
}

START_TEST(engine_token_shape_is_checked_in_order)
{
    struct ectx c;
    int n;

    ectx_open(&c);
    ck_assert_int_eq(verdict(&c, "", 0, &n), ENGINE_AUTH_BAD_PARTS);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(verdict(&c, "a-b-c", 0, &n), ENGINE_AUTH_BAD_PARTS);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(verdict(&c, "abc-0123456789012345678901", 0, &n),
                     ENGINE_AUTH_BAD_ID_LEN);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(verdict(&c, "abcdefghij-short", 0, &n),
                     ENGINE_AUTH_BAD_SECRET_LEN);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(verdict(&c, "abcdefghij-0123456789012345678901", 0,
                             NULL), ENGINE_AUTH_UNKNOWN_ID);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_token_verdicts_follow_the_key_and_user)
{
    struct ectx c;
    struct store_user u;
    struct store_key k;
    char tok[ENGINE_TOKEN_LEN + 1], bad[ENGINE_TOKEN_LEN + 1];
    int64_t t0;

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "vera", NULL, 0, &u, &c.e));
    OK(&c, engine_token_create(c.en, u.id, 24 * HOUR, NULL, tok, &k, &c.e));
    t0 = k.created_at;
    ck_assert_int_eq(strlen(tok), 33);
    ck_assert_int_eq(tok[10], '-');
    ck_assert_int_eq(verdict(&c, tok, t0 + 1, NULL), ENGINE_AUTH_OK);

    /* A wrong secret of the right length. */
    memcpy(bad, tok, sizeof(bad));
    bad[20] = bad[20] == 'a' ? 'b' : 'a';
    ck_assert_int_eq(verdict(&c, bad, t0 + 1, NULL),
                     ENGINE_AUTH_BAD_SECRET);

    /* Expired: the secret is checked first, then the time. */
    ck_assert_int_eq(verdict(&c, bad, t0 + 25 * HOUR, NULL),
                     ENGINE_AUTH_BAD_SECRET);
    ck_assert_int_eq(verdict(&c, tok, k.expires_at, NULL),
                     ENGINE_AUTH_EXPIRED);

    /* Suspended, then dormant (which a good use turns active). */
    OK(&c, engine_user_set_status(c.en, u.id, STORE_USER_SUSPENDED, &c.e));
    ck_assert_int_eq(verdict(&c, tok, t0 + 2, NULL), ENGINE_AUTH_SUSPENDED);
    OK(&c, engine_user_set_status(c.en, u.id, STORE_USER_DORMANT, &c.e));
    ck_assert_int_eq(verdict(&c, tok, t0 + 3, NULL), ENGINE_AUTH_OK);
    OK(&c, engine_user_find(c.en, u.id, &u, &c.e));
    ck_assert_int_eq(u.status, STORE_USER_ACTIVE);

    /* A user deleted under the key (store level, keys kept). */
    u.deleted = true;
    OK(&c, c.ops->user_update(engine_store(c.en), NULL, &u, &c.e));
    ck_assert_int_eq(verdict(&c, tok, t0 + 4, NULL), ENGINE_AUTH_USER_GONE);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_token_last_used_is_written_hourly_with_the_ip)
{
    struct ectx c;
    struct store_user u;
    struct store_key k, got;
    char tok[ENGINE_TOKEN_LEN + 1];
    int64_t t0;

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "walt", NULL, 0, &u, &c.e));
    OK(&c, engine_token_create(c.en, u.id, 24 * HOUR, "ci", tok, &k, &c.e));
    ck_assert_int_eq(k.last_used, 0);
    t0 = k.created_at;

    ck_assert_int_eq(verdict(&c, tok, t0 + SEC, NULL), ENGINE_AUTH_OK);
    OK(&c, c.ops->key_get(engine_store(c.en), NULL, k.id, &got, &c.e));
    ck_assert_int_eq(got.last_used, t0 + SEC);
    ck_assert_str_eq(got.ip_address, "198.51.100.4");
    OK(&c, engine_user_find(c.en, u.id, &u, &c.e));
    ck_assert_int_eq(u.last_seen_at, t0 + SEC);

    /* Within the hour nothing is written. */
    ck_assert_int_eq(verdict(&c, tok, t0 + 30 * 60 * SEC, NULL),
                     ENGINE_AUTH_OK);
    OK(&c, c.ops->key_get(engine_store(c.en), NULL, k.id, &got, &c.e));
    ck_assert_int_eq(got.last_used, t0 + SEC);

    ck_assert_int_eq(verdict(&c, tok, t0 + 2 * SEC + HOUR, NULL),
                     ENGINE_AUTH_OK);
    OK(&c, c.ops->key_get(engine_store(c.en), NULL, k.id, &got, &c.e));
    ck_assert_int_eq(got.last_used, t0 + 2 * SEC + HOUR);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_token_expiry_slides_after_an_hour_unless_disabled)
{
    struct ectx c;
    struct store_user u;
    struct store_key k, got;
    struct engine_auth au;
    struct engine_auth_options o;
    char tok[ENGINE_TOKEN_LEN + 1];
    int64_t t0;

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "xena", NULL, 0, &u, &c.e));
    OK(&c, engine_token_create(c.en, u.id, 24 * HOUR, "", tok, &k, &c.e));
    t0 = k.created_at;

    /* Half an hour in: the key keeps its expiry. */
    ck_assert_int_eq(verdict(&c, tok, t0 + HOUR / 2, NULL), ENGINE_AUTH_OK);
    OK(&c, c.ops->key_get(engine_store(c.en), NULL, k.id, &got, &c.e));
    ck_assert_int_eq(got.expires_at, k.expires_at);

    /* Disabled: two hours in, still unchanged. */
    memset(&o, 0, sizeof(o));
    o.now = t0 + 2 * HOUR;
    o.disable_expiry_refresh = true;
    OK(&c, engine_token_verify(c.en, tok, &o, &au, &c.e));
    ck_assert_int_eq(au.result, ENGINE_AUTH_OK);
    OK(&c, c.ops->key_get(engine_store(c.en), NULL, k.id, &got, &c.e));
    ck_assert_int_eq(got.expires_at, k.expires_at);

    /* Enabled: it slides to now + lifetime. */
    ck_assert_int_eq(verdict(&c, tok, t0 + 2 * HOUR, NULL), ENGINE_AUTH_OK);
    OK(&c, c.ops->key_get(engine_store(c.en), NULL, k.id, &got, &c.e));
    ck_assert_int_eq(got.expires_at, t0 + 26 * HOUR);
    ectx_close(&c);
}
END_TEST

/*
 * A key row with lifetimes and times at the ends of the int64 range:
 * verification saturates instead of overflowing (the SAN build checks).
 */
START_TEST(engine_token_with_extreme_times_verifies_without_overflow)
{
    static const int64_t life[] = { INT64_MAX, INT64_MIN, INT64_MAX };
    static const int64_t used[] = { 0, INT64_MIN, INT64_MAX };
    struct ectx c;
    struct store_user u;
    struct store_key k, got;
    char tok[ENGINE_TOKEN_LEN + 1];

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "zeno", NULL, 0, &u, &c.e));
    for (size_t i = 0; i < 3; i++) {
        OK(&c, engine_token_create(c.en, u.id, HOUR, "", tok, &k, &c.e));
        OK(&c, engine_token_delete(c.en, k.id, &c.e));
        k.lifetime_seconds = life[i];
        k.last_used = used[i];
        k.expires_at = INT64_MAX;
        OK(&c, c.ops->key_insert(engine_store(c.en), NULL, &k, &c.e));

        ck_assert_int_eq(verdict(&c, tok, k.created_at + 2 * HOUR, NULL),
                         ENGINE_AUTH_OK);
        OK(&c, c.ops->key_get(engine_store(c.en), NULL, k.id, &got, &c.e));
        ck_assert_int_eq(got.expires_at, INT64_MAX);
    }
    ectx_close(&c);
}
END_TEST

START_TEST(engine_deleted_token_is_refused_at_once)
{
    struct ectx c;
    struct store_user u;
    struct store_key k;
    char tok[ENGINE_TOKEN_LEN + 1];

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "yuri", NULL, 0, &u, &c.e));
    OK(&c, engine_token_create(c.en, u.id, HOUR, "x", tok, &k, &c.e));
    ck_assert_int_eq(verdict(&c, tok, 0, NULL), ENGINE_AUTH_OK);
    OK(&c, engine_token_delete(c.en, k.id, &c.e));
    ck_assert_int_eq(verdict(&c, tok, 0, NULL), ENGINE_AUTH_UNKNOWN_ID);
    FAILS(&c, ERR_NOT_FOUND, engine_token_delete(c.en, k.id, &c.e));
    FAILS(&c, ERR_NOT_FOUND, engine_token_create(c.en, "nobody", HOUR,
                                                 NULL, tok, NULL, &c.e));
    FAILS(&c, ERR_INVALID, engine_token_create(c.en, u.id, 10, NULL, tok,
                                               NULL, &c.e));
    ectx_close(&c);
}
END_TEST

/* Many threads verify while another creates and deletes tokens. */
struct hammer {
    struct engine *en;
    char tok[ENGINE_TOKEN_LEN + 1];
    int bad;
};

static void *
hammer_verify(void *arg)
{
    struct hammer *h = arg;
    struct engine_auth au;
    struct err e;
    int i;

    for (i = 0; i < 3000; i++)
        if (engine_token_verify(h->en, h->tok, NULL, &au, &e) != 0 ||
            au.result != ENGINE_AUTH_OK)
            h->bad++;
    return NULL;
}

START_TEST(engine_verify_is_safe_from_many_threads)
{
    struct ectx c;
    struct store_user u;
    struct store_key k;
    struct hammer h[4];
    pthread_t th[4];
    char tok[ENGINE_TOKEN_LEN + 1];
    int i;

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "tess", NULL, 0, &u, &c.e));
    OK(&c, engine_token_create(c.en, u.id, HOUR, NULL, tok, &k, &c.e));
    for (i = 0; i < 4; i++) {
        h[i].en = c.en;
        h[i].bad = 0;
        memcpy(h[i].tok, tok, sizeof(tok));
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer_verify, &h[i]),
                         0);
    }
    for (i = 0; i < 40; i++) {
        OK(&c, engine_token_create(c.en, u.id, HOUR, NULL, tok, &k, &c.e));
        OK(&c, engine_token_delete(c.en, k.id, &c.e));
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(h[i].bad, 0);
    }
    ectx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * The key cache
 */

static void
entry_for(struct keycache_entry *ent, const char *id, const char *user)
{
    memset(ent, 0, sizeof(*ent));
    snprintf(ent->key.id, sizeof(ent->key.id), "%s", id);
    snprintf(ent->user.id, sizeof(ent->user.id), "%s", user);
}

START_TEST(keycache_entry_lives_for_its_ttl_only)
{
    struct keycache_entry ent, got;
    struct keycache *kc;

    ck_assert_int_eq(keycache_new(&kc, 16, SEC), 0);
    entry_for(&ent, "aaaaaaaaaa", "u1");
    ck_assert(!keycache_get(kc, "aaaaaaaaaa", 0, &got));
    keycache_put(kc, keycache_generation(kc), 5 * SEC, &ent);
    ck_assert(keycache_get(kc, "aaaaaaaaaa", 5 * SEC, &got));
    ck_assert_str_eq(got.user.id, "u1");
    ck_assert(keycache_get(kc, "aaaaaaaaaa", 6 * SEC - 1, &got));
    ck_assert(!keycache_get(kc, "aaaaaaaaaa", 6 * SEC, &got));
    ck_assert(!keycache_get(kc, "bbbbbbbbbb", 5 * SEC, &got));
    keycache_free(kc);
}
END_TEST

START_TEST(keycache_forget_and_clear_drop_entries)
{
    struct keycache_entry ent, got;
    struct keycache *kc;

    ck_assert_int_eq(keycache_new(&kc, 64, SEC), 0);
    entry_for(&ent, "aaaaaaaaaa", "u1");
    keycache_put(kc, keycache_generation(kc), 0, &ent);
    entry_for(&ent, "bbbbbbbbbb", "u2");
    keycache_put(kc, keycache_generation(kc), 0, &ent);
    keycache_forget(kc, "aaaaaaaaaa");
    ck_assert(!keycache_get(kc, "aaaaaaaaaa", 1, &got));
    ck_assert(keycache_get(kc, "bbbbbbbbbb", 1, &got));
    keycache_clear(kc);
    ck_assert(!keycache_get(kc, "bbbbbbbbbb", 1, &got));
    keycache_free(kc);
}
END_TEST

/* A read that began before an invalidation must not be cached after it. */
START_TEST(keycache_put_after_an_event_is_dropped)
{
    struct keycache_entry ent, got;
    struct keycache *kc;
    uint64_t gen;

    ck_assert_int_eq(keycache_new(&kc, 16, SEC), 0);
    entry_for(&ent, "aaaaaaaaaa", "u1");
    gen = keycache_generation(kc);
    keycache_forget(kc, "aaaaaaaaaa");
    keycache_put(kc, gen, 0, &ent);
    ck_assert(!keycache_get(kc, "aaaaaaaaaa", 1, &got));

    gen = keycache_generation(kc);
    keycache_clear(kc);
    keycache_put(kc, gen, 0, &ent);
    ck_assert(!keycache_get(kc, "aaaaaaaaaa", 1, &got));
    keycache_free(kc);
}
END_TEST

/* The table never grows: many keys share few slots and the newest wins. */
START_TEST(keycache_is_bounded_and_keeps_the_newest)
{
    struct keycache_entry ent, got;
    struct keycache *kc;
    char id[16];
    int i, hits = 0;

    ck_assert_int_eq(keycache_new(&kc, 3, SEC), 0);
    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "k%09d", i);
        entry_for(&ent, id, "u");
        keycache_put(kc, keycache_generation(kc), 0, &ent);
        ck_assert(keycache_get(kc, id, 0, &got));
        ck_assert_str_eq(got.key.id, id);
    }
    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "k%09d", i);
        hits += keycache_get(kc, id, 0, &got);
    }
    ck_assert_int_le(hits, 4);
    ck_assert_int_ge(hits, 1);
    keycache_free(kc);
}
END_TEST

/* On LMDB (no events) nothing is cached: a store-level delete counts. */
START_TEST(engine_without_events_reads_the_store_every_time)
{
    struct ectx c;
    struct store_user u;
    struct store_key k;
    char tok[ENGINE_TOKEN_LEN + 1];

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "vera", NULL, 0, &u, &c.e));
    OK(&c, engine_token_create(c.en, u.id, HOUR, NULL, tok, &k, &c.e));
    ck_assert_int_eq(verdict(&c, tok, 0, NULL), ENGINE_AUTH_OK);
    OK(&c, c.ops->key_delete(engine_store(c.en), NULL, k.id, &c.e));
    ck_assert_int_eq(verdict(&c, tok, 0, NULL), ENGINE_AUTH_UNKNOWN_ID);
    ectx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Deployment stats
 */

static void
put_ws(struct ectx *c, bool deleted, bool completed, bool error,
       enum store_transition tr)
{
    struct store_workspace w;

    memset(&w, 0, sizeof(w));
    util_uuid_new(w.id);
    util_uuid_new(w.owner_id);
    snprintf(w.name, sizeof(w.name), "ws");
    w.deleted = deleted;
    w.has_build = true;
    w.transition = tr;
    w.job_started_at = 1000 * SEC;
    w.job_updated_at = 1000 * SEC;
    w.job_completed_at = completed ? 1001 * SEC : 0;
    w.job_error = error;
    OK(c, c->ops->workspace_put(engine_store(c->en), NULL, &w, &c->e));
}

static void
put_stat(struct ectx *c, int64_t at, const char *agent, double latency,
         int64_t ssh)
{
    struct store_agent_stat st;

    memset(&st, 0, sizeof(st));
    st.created_at = at;
    util_uuid_new(st.id);
    util_uuid_new(st.workspace_id);
    snprintf(st.agent_id, sizeof(st.agent_id), "%s", agent);
    st.rx_bytes = 10;
    st.tx_bytes = 7;
    st.connection_median_latency_ms = latency;
    st.session_count_ssh = ssh;
    st.session_count_vscode = 1;
    OK(c, c->ops->stat_append(engine_store(c->en), NULL, &st, &c->e));
}

START_TEST(engine_stats_fixture_matches_coder)
{
    struct ectx c;
    struct engine_stats s;
    int64_t now = INT64_C(1763632800) * SEC + 123456789;
    int i;

    ectx_open(&c);
    for (i = 0; i < 4; i++)
        put_ws(&c, false, true, false, STORE_TRANSITION_START);
    put_ws(&c, false, true, true, STORE_TRANSITION_START);
    put_ws(&c, true, true, false, STORE_TRANSITION_START);

    put_stat(&c, now - 60 * SEC, "agent-a", 0, 5);
    put_stat(&c, now - 50 * SEC, "agent-b", 0, 2);
    put_stat(&c, now - 40 * SEC, "agent-a", 20, 1);
    put_stat(&c, now - 30 * SEC, "agent-c", 40, 0);
    put_stat(&c, now - 20 * 60 * SEC, "agent-d", 1000, 9);

    OK(&c, engine_stats_compute(c.en, now, 30 * SEC, &s, &c.e));
    ck_assert_int_eq(s.running, 4);
    ck_assert_int_eq(s.failed, 1);
    ck_assert_int_eq(s.pending + s.building + s.stopped, 0);
    ck_assert_double_eq(s.latency_p50_ms, 30);
    ck_assert_double_eq_tol(s.latency_p95_ms, 39, 1e-9);
    ck_assert_int_eq(s.rx_bytes, 40);
    ck_assert_int_eq(s.tx_bytes, 28);
    ck_assert_int_eq(s.session_ssh, 1 + 2 + 0);
    ck_assert_int_eq(s.session_vscode, 3);
    ck_assert_int_eq(s.collected_at, INT64_C(1763632800) * SEC + 123457000);
    ck_assert_int_eq(s.aggregated_from, s.collected_at - 15 * 60 * SEC);
    ck_assert_int_eq(s.next_update_at, s.collected_at + 30 * SEC);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_stats_prune_keeps_the_window)
{
    int64_t now = INT64_C(1700000000) * SEC;
    struct engine_stats st;
    struct ectx c;

    /* Seen from ten minutes ago, the window holds both rows. */
    ectx_open(&c);
    put_stat(&c, now - 20 * 60 * SEC, "old", 7.0, 1);
    put_stat(&c, now - 5 * 60 * SEC, "new", 3.0, 1);
    OK(&c, engine_stats_compute(c.en, now - 10 * 60 * SEC, SEC, &st,
                                &c.e));
    ck_assert_int_eq(st.rx_bytes, 20);

    OK(&c, engine_stats_prune(c.en, now - 15 * 60 * SEC, &c.e));
    OK(&c, engine_stats_compute(c.en, now - 10 * 60 * SEC, SEC, &st,
                                &c.e));
    ck_assert_int_eq(st.rx_bytes, 10);
    ck_assert_double_eq(st.latency_p50_ms, 3.0);
    OK(&c, engine_stats_compute(c.en, now, SEC, &st, &c.e));
    ck_assert_int_eq(st.rx_bytes, 10);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_stats_without_samples_are_minus_one)
{
    struct ectx c;
    struct engine_stats s;

    ectx_open(&c);
    OK(&c, engine_stats_compute(c.en, 5000 * SEC, SEC, &s, &c.e));
    ck_assert_double_eq(s.latency_p50_ms, -1);
    ck_assert_double_eq(s.latency_p95_ms, -1);
    ck_assert_int_eq(s.running + s.failed + s.pending + s.building +
                     s.stopped + s.rx_bytes + s.session_ssh, 0);

    /* Rows with latency unset count for bytes but not percentiles. */
    put_stat(&c, 5000 * SEC - SEC, "agent-a", 0, 0);
    OK(&c, engine_stats_compute(c.en, 5000 * SEC, SEC, &s, &c.e));
    ck_assert_double_eq(s.latency_p50_ms, -1);
    ck_assert_int_eq(s.rx_bytes, 10);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_stats_sums_saturate)
{
    int64_t now = 2000 * SEC;
    struct store_agent_stat st;
    struct engine_stats s;
    struct ectx c;

    ectx_open(&c);
    memset(&st, 0, sizeof(st));
    snprintf(st.agent_id, sizeof(st.agent_id), "agent");
    for (int i = 0; i < 2; i++) {
        util_uuid_new(st.id);
        util_uuid_new(st.workspace_id);
        st.created_at = now - (2 - i) * SEC;
        st.rx_bytes = INT64_MAX;
        st.tx_bytes = INT64_MIN;
        OK(&c, c.ops->stat_append(engine_store(c.en), NULL, &st, &c.e));
    }
    OK(&c, engine_stats_compute(c.en, now, SEC, &s, &c.e));
    ck_assert_int_eq(s.rx_bytes, INT64_MAX);
    ck_assert_int_eq(s.tx_bytes, INT64_MIN);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_stats_classify_pending_building_stopped)
{
    struct ectx c;
    struct engine_stats s;
    struct store_workspace w;
    int64_t now = 2000 * SEC;

    ectx_open(&c);
    memset(&w, 0, sizeof(w));
    util_uuid_new(w.id);
    OK(&c, c.ops->workspace_put(engine_store(c.en), NULL, &w, &c.e));

    /* Building: started, unfinished, updated 10 s ago. */
    util_uuid_new(w.id);
    w.has_build = true;
    w.job_started_at = now - 60 * SEC;
    w.job_updated_at = now - 10 * SEC;
    OK(&c, c.ops->workspace_put(engine_store(c.en), NULL, &w, &c.e));

    /* Stale: updated 40 s ago, so counted nowhere. */
    util_uuid_new(w.id);
    w.job_updated_at = now - 40 * SEC;
    OK(&c, c.ops->workspace_put(engine_store(c.en), NULL, &w, &c.e));

    util_uuid_new(w.id);
    w.job_completed_at = now - 5 * SEC;
    w.transition = STORE_TRANSITION_STOP;
    OK(&c, c.ops->workspace_put(engine_store(c.en), NULL, &w, &c.e));

    /* Deleted by a build: counted nowhere; canceled: failed. */
    util_uuid_new(w.id);
    w.transition = STORE_TRANSITION_DELETE;
    OK(&c, c.ops->workspace_put(engine_store(c.en), NULL, &w, &c.e));
    util_uuid_new(w.id);
    w.job_canceled_at = now - SEC;
    OK(&c, c.ops->workspace_put(engine_store(c.en), NULL, &w, &c.e));

    OK(&c, engine_stats_compute(c.en, now, SEC, &s, &c.e));
    ck_assert_int_eq(s.pending, 1);
    ck_assert_int_eq(s.building, 1);
    ck_assert_int_eq(s.stopped, 1);
    ck_assert_int_eq(s.failed, 1);
    ck_assert_int_eq(s.running, 0);
    ectx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Bad records on disk
 */

/* Puts raw bytes under key in the named database of the store at dir. */
static void
poke(const char *dir, const char *db, const char *key, const void *val,
     size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k, v;

    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
    k.mv_data = (void *)key;
    k.mv_size = strlen(key);
    v.mv_data = (void *)val;
    v.mv_size = len;
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

START_TEST(engine_corrupt_record_is_err_corrupt)
{
    struct ectx c;
    struct store_user u, got;
    char *json = NULL;
    static const unsigned char junk[] = { 0xc1, 0xff, 0x00, 0x13 };
    /* [1, 7, ...]: the right version but a number for the user id. */
    static const unsigned char wrong[] = { 0x92, 0x01, 0x07 };

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "olga", NULL, 0, &u, &c.e));
    engine_close(c.en);
    poke(c.dir, "users", u.id, junk, sizeof(junk));
    poke(c.dir, "site", "update_check", wrong, sizeof(wrong));
    c.en = open_at(c.dir, &c.e);

    FAILS(&c, ERR_CORRUPT, engine_user_find(c.en, u.id, &got, &c.e));
    ck_assert_str_eq(c.e.msg, "store: record in \"users\" does not decode");
    FAILS(&c, ERR_CORRUPT, engine_updatecheck_get(c.en, &json, &c.e));
    ck_assert_ptr_null(json);
    ck_assert_str_eq(c.e.msg, "store: record in \"site\" does not decode: "
                     "field 1 is invalid");

    /* The rest of the store keeps working. */
    OK(&c, engine_updatecheck_put(c.en, "{\"version\":\"v2\"}", &c.e));
    OK(&c, engine_updatecheck_get(c.en, &json, &c.e));
    ck_assert_str_eq(json, "{\"version\":\"v2\"}");
    free(json);
    ectx_close(&c);
}
END_TEST

START_TEST(engine_record_from_a_newer_version_is_err_version)
{
    struct ectx c;
    struct store_user u, got;
    /* [99, "x"]: a record format this build has never heard of. */
    static const unsigned char newer[] = { 0x92, 0x63, 0xa1, 'x' };

    ectx_open(&c);
    OK(&c, engine_user_create(c.en, "petra", NULL, 0, &u, &c.e));
    engine_close(c.en);
    poke(c.dir, "users", u.id, newer, sizeof(newer));
    c.en = open_at(c.dir, &c.e);

    FAILS(&c, ERR_VERSION, engine_user_find(c.en, "petra", &got, &c.e));
    ck_assert_str_eq(c.e.msg, "store: record in \"users\" has format "
                     "version 99, newer than this build reads (1): "
                     "upgrade coder-cfg");
    ectx_close(&c);
}
END_TEST

START_TEST(engine_store_from_a_newer_version_refuses_to_open)
{
    char *dir = tu_tmpdir();
    static const unsigned char fmt[8] = { 0, 0, 0, 0, 0, 0, 0, 9 };
    struct engine_options opt = { .config_dir = dir };
    struct engine *en;
    struct err e;

    en = open_at(dir, &e);
    engine_close(en);
    poke(dir, "meta", "format", fmt, sizeof(fmt));
    ck_assert_int_eq(engine_open(&en, &opt, &e), ERR_VERSION);
    ck_assert_ptr_null(en);
    ck_assert_str_eq(e.msg, "store: the store was written by a newer "
                     "coder-cfg (format 9, this build reads 1)");
    tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------------
 * CSP reports, snapshots, replicas, update check
 */

static int
count_csp(const struct store_csp_report *r, void *ctx)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

START_TEST(engine_csp_record_prunes_reports_past_the_age_limit)
{
    struct ectx c;
    int64_t now = util_now_ns();
    int n = 0;

    ectx_open(&c);
    OK(&c, c.ops->csp_append(engine_store(c.en), NULL,
                             now - ENGINE_CSP_KEEP_NS - HOUR, "{\"old\":1}",
                             NULL, &c.e));
    OK(&c, engine_csp_record(c.en, "{\"a\":1}", &c.e));
    OK(&c, engine_csp_record(c.en, "{\"b\":2}", &c.e));
    OK(&c, c.ops->csp_scan(engine_store(c.en), NULL, count_csp, &n, &c.e));
    ck_assert_int_eq(n, 2);
    ectx_close(&c);
}
END_TEST

static int
csp_count(struct ectx *c)
{
    int n = 0;

    OK(c, c->ops->csp_scan(engine_store(c->en), NULL, count_csp, &n,
                           &c->e));
    return n;
}

/* Past the first report, a prune waits for a batch (or for a minute). */
START_TEST(engine_csp_record_prunes_once_per_batch)
{
    int64_t old = util_now_ns() - ENGINE_CSP_KEEP_NS - HOUR;
    struct ectx c;
    int i;

    /* The first report prunes; then the aged one is the oldest id. */
    ectx_open(&c);
    OK(&c, engine_csp_record(c.en, "{\"first\":1}", &c.e));
    OK(&c, c.ops->csp_prune(engine_store(c.en), NULL, 0, 0, &c.e));
    OK(&c, c.ops->csp_append(engine_store(c.en), NULL, old, "{\"old\":1}",
                             NULL, &c.e));
    for (i = 1; i < ENGINE_CSP_PRUNE_EVERY; i++)
        OK(&c, engine_csp_record(c.en, "{}", &c.e));
    ck_assert_int_eq(csp_count(&c), ENGINE_CSP_PRUNE_EVERY);

    /* The batch's next report prunes the aged one. */
    OK(&c, engine_csp_record(c.en, "{}", &c.e));
    ck_assert_int_eq(csp_count(&c), ENGINE_CSP_PRUNE_EVERY);
    ectx_close(&c);
}
END_TEST

static int
count_snap(const struct store_snapshot *s, void *ctx)
{
    (void)s;
    (*(int *)ctx)++;
    return 0;
}

static int
keep_replica(const struct store_replica *r, void *ctx)
{
    *(struct store_replica *)ctx = *r;
    return 0;
}

START_TEST(engine_snapshots_replicas_and_update_check_round_trip)
{
    struct ectx c;
    struct store_replica r, got;
    char *json = NULL;
    int n = 0;

    ectx_open(&c);
    FAILS(&c, ERR_NOT_FOUND, engine_updatecheck_get(c.en, &json, &c.e));
    OK(&c, engine_updatecheck_put(c.en, "{\"checked\":true}", &c.e));
    OK(&c, engine_updatecheck_get(c.en, &json, &c.e));
    ck_assert_str_eq(json, "{\"checked\":true}");
    free(json);

    memset(&r, 0, sizeof(r));
    util_uuid_new(r.id);
    snprintf(r.hostname, sizeof(r.hostname), "host-1");
    OK(&c, engine_replica_heartbeat(c.en, &r, &c.e));
    OK(&c, engine_snapshot_record(c.en, r.id, "{\"v\":1}", &c.e));
    OK(&c, engine_snapshot_record(c.en, r.id, "{\"v\":2}", &c.e));
    OK(&c, c.ops->snapshot_scan(engine_store(c.en), NULL, r.id, count_snap,
                                &n, &c.e));
    ck_assert_int_eq(n, 2);
    OK(&c, c.ops->replica_list(engine_store(c.en), NULL, keep_replica, &got,
                               &c.e));
    ck_assert_str_eq(got.hostname, "host-1");
    ck_assert_int_gt(got.heartbeat_at, 0);
    ck_assert_int_eq(got.started_at, got.heartbeat_at);
    ectx_close(&c);
}
END_TEST

/* Records gone-ness by hostname: "old" and "new". */
struct gone_seen {
    int old_gone, new_gone, n;
};

static int
note_gone(const struct store_replica *r, void *ctx)
{
    struct gone_seen *g = ctx;

    g->n++;
    if (strcmp(r->hostname, "old") == 0)
        g->old_gone = r->gone;
    else
        g->new_gone = r->gone;
    return 0;
}

/* A replica silent past the threshold is marked gone by a live one's
 * heartbeat, and comes back when it beats again. */
START_TEST(engine_silent_replica_is_marked_gone)
{
    struct store_replica old, fresh;
    struct gone_seen g = { -1, -1, 0 };
    struct ectx c;
    size_t marked = 9;

    ectx_open(&c);
    memset(&old, 0, sizeof(old));
    util_uuid_new(old.id);
    snprintf(old.hostname, sizeof(old.hostname), "old");
    old.started_at = old.heartbeat_at = util_now_ns() -
                                        ENGINE_REPLICA_GONE_NS - SEC;
    OK(&c, c.ops->replica_put(engine_store(c.en), NULL, &old, &c.e));
    memset(&fresh, 0, sizeof(fresh));
    util_uuid_new(fresh.id);
    snprintf(fresh.hostname, sizeof(fresh.hostname), "new");
    OK(&c, engine_replica_heartbeat(c.en, &fresh, &c.e));
    OK(&c, c.ops->replica_list(engine_store(c.en), NULL, note_gone, &g,
                               &c.e));
    ck_assert_int_eq(g.n, 2);
    ck_assert_int_eq(g.old_gone, 1);
    ck_assert_int_eq(g.new_gone, 0);

    /* Nothing left to mark; a beat from the old one revives it. */
    OK(&c, engine_replica_mark_gone(c.en, util_now_ns() - SEC, &marked,
                                    &c.e));
    ck_assert_uint_eq(marked, 0);
    OK(&c, engine_replica_heartbeat(c.en, &old, &c.e));
    OK(&c, c.ops->replica_list(engine_store(c.en), NULL, note_gone, &g,
                               &c.e));
    ck_assert_int_eq(g.old_gone, 0);
    ectx_close(&c);
}
END_TEST

/*
 * A child whose files may not grow (RLIMIT_FSIZE, the way a full disk
 * looks to write(2)) writes reports until the store refuses: the refusal
 * is ERR_FULL, and everything committed before it is still there.
 */
static void
full_disk_child(const char *dir, int fd)
{
    struct engine_options opt = { .config_dir = dir };
    static char body[60000];
    struct engine *en;
    struct rlimit rl;
    struct stat sb;
    struct err e;
    char path[512], line[64];
    int i, rc = 0;

    signal(SIGXFSZ, SIG_IGN);
    if (engine_open(&en, &opt, &e) != 0)
        _exit(2);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &sb) != 0)
        _exit(3);
    rl.rlim_cur = rl.rlim_max = (rlim_t)sb.st_size + (1 << 20);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        _exit(4);
    memset(body, 'x', sizeof(body) - 1);
    for (i = 0; i < 1000 && rc == 0; i++) {
        rc = engine_csp_record(en, body, &e);
        if (rc == 0)
            write_line(fd, "ok");
    }
    snprintf(line, sizeof(line), "%s", err_name(rc));
    write_line(fd, line);
    write_line(fd, e.msg);
    engine_close(en);
    _exit(0);
}

START_TEST(engine_full_disk_is_err_full_and_keeps_commits)
{
    char *dir = tu_tmpdir();
    char line[ERR_MSG_MAX];
    struct engine *en;
    struct err e;
    int fds[2], status, acked = 0, n = 0;
    pid_t pid;

    en = open_at(dir, &e);
    engine_close(en);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        full_disk_child(dir, fds[1]);
    }
    close(fds[1]);
    while (read_line(fds[0], line, sizeof(line)) &&
           strcmp(line, "ok") == 0)
        acked++;
    {
        char msg[ERR_MSG_MAX];

        read_line(fds[0], msg, sizeof(msg));
        ck_assert_msg(strcmp(line, "ERR_FULL") == 0, "%s: %s", line, msg);
    }
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_gt(acked, 0);

    en = open_at(dir, &e);
    ck_assert_int_eq(store_ops_of(engine_store(en))->csp_scan(
        engine_store(en), NULL, count_csp, &n, &e), 0);
    ck_assert_int_eq(n, acked);
    engine_close(en);
    tu_rmtree(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("check_engine");
    TCase *proc = tcase_create("processes");
    TCase *users = tcase_create("users");
    TCase *tokens = tcase_create("tokens");
    TCase *stats = tcase_create("stats");
    TCase *disk = tcase_create("records");
    SRunner *sr;
    int failed;

    tcase_set_timeout(proc, 60);
    tcase_add_test(proc, engine_deployment_id_is_shared_by_every_process);
    tcase_add_test(proc, engine_killed_writer_loses_no_acknowledged_write);
    tcase_add_test(proc, engine_reader_sees_commits_while_writer_runs);
    tcase_add_test(users, engine_usernames_follow_coders_rules);
    tcase_add_test(users, engine_email_must_be_a_plain_address);
    tcase_add_test(users, engine_deleted_user_is_gone_with_its_tokens);
    tcase_add_test(users, engine_roles_parse_and_name);
    tcase_add_test(tokens, engine_token_shape_is_checked_in_order);
    tcase_add_test(tokens, engine_token_verdicts_follow_the_key_and_user);
    tcase_add_test(tokens,
                   engine_token_last_used_is_written_hourly_with_the_ip);
    tcase_add_test(tokens,
                   engine_token_expiry_slides_after_an_hour_unless_disabled);
    tcase_add_test(tokens, engine_deleted_token_is_refused_at_once);
    tcase_add_test(tokens,
                   engine_token_with_extreme_times_verifies_without_overflow);
    tcase_set_timeout(tokens, 60);
    tcase_add_test(tokens, engine_verify_is_safe_from_many_threads);
    tcase_add_test(tokens, keycache_entry_lives_for_its_ttl_only);
    tcase_add_test(tokens, keycache_forget_and_clear_drop_entries);
    tcase_add_test(tokens, keycache_put_after_an_event_is_dropped);
    tcase_add_test(tokens, keycache_is_bounded_and_keeps_the_newest);
    tcase_add_test(tokens, engine_without_events_reads_the_store_every_time);
    tcase_add_test(stats, engine_stats_fixture_matches_coder);
    tcase_add_test(stats, engine_stats_without_samples_are_minus_one);
    tcase_add_test(stats, engine_stats_sums_saturate);
    tcase_add_test(stats, engine_stats_prune_keeps_the_window);
    tcase_add_test(stats, engine_stats_classify_pending_building_stopped);
    tcase_add_test(disk, engine_corrupt_record_is_err_corrupt);
    tcase_add_test(disk, engine_record_from_a_newer_version_is_err_version);
    tcase_add_test(disk, engine_store_from_a_newer_version_refuses_to_open);
    tcase_add_test(disk,
                   engine_csp_record_prunes_reports_past_the_age_limit);
    tcase_add_test(disk, engine_csp_record_prunes_once_per_batch);
    tcase_add_test(disk,
                   engine_snapshots_replicas_and_update_check_round_trip);
    tcase_add_test(disk, engine_full_disk_is_err_full_and_keeps_commits);
    tcase_add_test(disk, engine_silent_replica_is_marked_gone);
    suite_add_tcase(s, proc);
    suite_add_tcase(s, users);
    suite_add_tcase(s, tokens);
    suite_add_tcase(s, stats);
    suite_add_tcase(s, disk);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
