/*
 * testutil.h: helpers shared by the Check suites.
 *
 * Everything here uses real parts: temporary directories on disk, real
 * child processes of the coder-cfg binary named by $CODER_CFG_BIN, real
 * HTTP over loopback through libcurl.  Every function that allocates says
 * who frees.  Failures inside helpers abort the test with ck_abort_msg,
 * so callers need not check for them.
 */
#ifndef CODER_CFG_TESTUTIL_H
#define CODER_CFG_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A new empty directory under /tmp; heap path, free with tu_rmtree. */
char *tu_tmpdir(void);

/* Removes path and everything below it, then frees path. */
void tu_rmtree(char *path);

/* The whole file as a heap string (NUL-terminated), NULL if unreadable. */
char *tu_read_file(const char *path);

/* Writes text to path (created 0600 or truncated). */
void tu_write_file(const char *path, const char *text);

/* A growable environment, starting from PATH and HOME only. */
struct tu_env {
    char **v;
    size_t n;
};
void tu_env_init(struct tu_env *env);
/* Adds "NAME=value"; a later NAME replaces an earlier one. */
void tu_env_set(struct tu_env *env, const char *name, const char *value);
void tu_env_release(struct tu_env *env);

/* A child process with stdout and stderr going to files. */
struct tu_proc {
    pid_t pid;
    char *out_path;
    char *err_path;
};

/*
 * Starts argv (argv[0] a path; NULL-terminated) with envp.  stdin is
 * /dev/null.  Free with tu_proc_release after tu_proc_wait.
 */
void tu_proc_start(struct tu_proc *p, char *const argv[],
                   char *const envp[]);

/* Waits; returns the exit status, or 128 + signal number. */
int tu_proc_wait(struct tu_proc *p);

/* Waits at most ms milliseconds; -1 when still running. */
int tu_proc_wait_ms(struct tu_proc *p, int ms);

void tu_proc_kill(struct tu_proc *p, int sig);
void tu_proc_release(struct tu_proc *p);

/*
 * Runs the coder-cfg binary with args (NULL-terminated, without argv[0])
 * and env to completion.  *out and *err (each may be NULL) receive heap
 * copies of stdout and stderr.  Returns the exit status.
 */
int tu_run(char *const args[], struct tu_env *env, char **out, char **err);

/* The binary under test ($CODER_CFG_BIN, else ./coder-cfg). */
const char *tu_bin(void);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tu_free_port(void);

/* One HTTP exchange. */
struct tu_resp {
    long status;
    char *body;
    size_t len;
    char *headers;          /* raw header block of the final response */
};

/*
 * Sends method url with extra headers ("Name: value", NULL-terminated, may
 * be NULL) and an optional body.  Returns 0, or -1 when the connection
 * failed (then status is 0).  Release r with tu_resp_release.
 */
int tu_http(const char *method, const char *url, const char *const *headers,
            const char *body, size_t body_len, struct tu_resp *r);

/* A header value of r (case-insensitive name) as a heap string, or NULL. */
char *tu_header(const struct tu_resp *r, const char *name);

void tu_resp_release(struct tu_resp *r);

/* A coder-cfg server on a loopback port with its own store directory. */
struct tu_server {
    struct tu_proc proc;
    int port;
    char *dir;              /* config directory (LMDB store) */
    bool owns_dir;          /* remove dir on stop */
    char base[64];          /* "http://127.0.0.1:PORT" */
};

/*
 * Starts "coder-cfg server --http-address 127.0.0.1:PORT" with
 * CODER_CONFIG_DIR set to a fresh directory (or dir when not NULL, which
 * the server then does not own), plus extra args and env, and waits until
 * /healthz answers (10 s at most).  Unless env sets CODER_UPDATE_CHECK,
 * the update check is off, so that no test reaches outside the machine.
 * Returns 0, or -1 when the server exited or never answered (its stderr
 * is then in s->proc.err_path).
 */
int tu_server_start(struct tu_server *s, const char *dir,
                    char *const args[], struct tu_env *env);

/*
 * SIGTERM, wait, and remove the directory when the server owned it.
 * Returns the server's exit status (0 after a clean stop).
 */
int tu_server_stop(struct tu_server *s);

/*
 * Runs an admin command against the server's store; stdout as heap, with
 * trailing newlines removed.  Aborts the test when the command fails.
 */
char *tu_admin(const struct tu_server *s, char *const args[]);

/* The same, but returns the exit status; *out and *err may be NULL. */
int tu_admin_run(const struct tu_server *s, char *const args[], char **out,
                 char **err);

/*
 * Creates a user with roles ("owner", "" for member) and a token for it
 * (lifetime "" for the default); returns the token as heap.  *id (may be
 * NULL) receives the user's UUID as heap.
 */
char *tu_user_token(const struct tu_server *s, const char *username,
                    const char *roles, const char *lifetime, char **id);

/*
 * GET s->base + path, with a Coder-Session-Token header when token is
 * not NULL and extra headers (NULL-terminated, may be NULL).
 */
int tu_get(const struct tu_server *s, const char *path, const char *token,
           const char *const *headers, struct tu_resp *r);

/*
 * Opens n keep-alive connections to 127.0.0.1:port at once and sends
 * rounds requests for /api/v2/buildinfo over each, all in flight
 * together.  Returns 0 when every answer is a 200, -1 otherwise.
 */
int tu_many_connections(int port, int n, int rounds);

/*
 * A socket listening on a free loopback port that never accepts; *port
 * receives the port.  Returns the descriptor (close it when done).
 */
int tu_listen_silent(int *port);

/* The value of NAME in env, or NULL. */
const char *tu_env_get(const struct tu_env *env, const char *name);

#endif
