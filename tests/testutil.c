/*
 * testutil.c: real directories, processes and HTTP for the suites.
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char *
xstrdup(const char *s)
{
    char *p = strdup(s);

    ck_assert_msg(p != NULL, "out of memory");
    return p;
}

char *
tu_tmpdir(void)
{
    char tmpl[] = "/tmp/coder-cfg-test.XXXXXX";

    ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp: %s", strerror(errno));
    return xstrdup(tmpl);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
tu_rmtree(char *path)
{
    if (path == NULL)
        return;
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

char *
tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0;
    size_t cap = 0;
    size_t n;

    if (f == NULL)
        return NULL;
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            data = realloc(data, cap + 1);
            ck_assert_msg(data != NULL, "out of memory");
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    if (data == NULL)
        data = malloc(1);
    data[len] = '\0';
    return data;
}

void
tu_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t len = strlen(text);

    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_msg(write(fd, text, len) == (ssize_t)len, "write %s", path);
    close(fd);
}

void
tu_env_init(struct tu_env *env)
{
    const char *path = getenv("PATH");
    const char *home = getenv("HOME");

    env->v = calloc(1, sizeof(char *));
    env->n = 0;
    ck_assert_msg(env->v != NULL, "out of memory");
    tu_env_set(env, "PATH", path ? path : "/usr/bin:/bin");
    tu_env_set(env, "HOME", home ? home : "/tmp");
    /* Sanitizer settings must reach child processes too. */
    if (getenv("ASAN_OPTIONS") != NULL)
        tu_env_set(env, "ASAN_OPTIONS", getenv("ASAN_OPTIONS"));
    if (getenv("UBSAN_OPTIONS") != NULL)
        tu_env_set(env, "UBSAN_OPTIONS", getenv("UBSAN_OPTIONS"));
}

void
tu_env_set(struct tu_env *env, const char *name, const char *value)
{
    size_t nlen = strlen(name);
    size_t len = nlen + strlen(value) + 2;
    char *item = malloc(len);
    size_t i;

    ck_assert_msg(item != NULL, "out of memory");
    snprintf(item, len, "%s=%s", name, value);
    for (i = 0; i < env->n; i++) {
        if (strncmp(env->v[i], name, nlen) == 0 && env->v[i][nlen] == '=') {
            free(env->v[i]);
            env->v[i] = item;
            return;
        }
    }
    env->v = realloc(env->v, (env->n + 2) * sizeof(char *));
    ck_assert_msg(env->v != NULL, "out of memory");
    env->v[env->n++] = item;
    env->v[env->n] = NULL;
}

const char *
tu_env_get(const struct tu_env *env, const char *name)
{
    size_t nlen = strlen(name);
    size_t i;

    for (i = 0; i < env->n; i++) {
        if (strncmp(env->v[i], name, nlen) == 0 && env->v[i][nlen] == '=')
            return env->v[i] + nlen + 1;
    }
    return NULL;
}

void
tu_env_release(struct tu_env *env)
{
    size_t i;

    for (i = 0; i < env->n; i++)
        free(env->v[i]);
    free(env->v);
    env->v = NULL;
    env->n = 0;
}

static char *
temp_path(const char *tag)
{
    char tmpl[64];
    int fd;

    snprintf(tmpl, sizeof(tmpl), "/tmp/coder-cfg-%s.XXXXXX", tag);
    fd = mkstemp(tmpl);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    close(fd);
    return xstrdup(tmpl);
}

void
tu_proc_start(struct tu_proc *p, char *const argv[], char *const envp[])
{
    p->out_path = temp_path("out");
    p->err_path = temp_path("err");
    p->pid = fork();
    ck_assert_msg(p->pid >= 0, "fork: %s", strerror(errno));
    if (p->pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(p->out_path, O_WRONLY | O_TRUNC);
        int err = open(p->err_path, O_WRONLY | O_TRUNC);

        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execve(argv[0], argv, envp);
        _exit(127);
    }
}

static int
decode_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int
tu_proc_wait(struct tu_proc *p)
{
    int status;

    if (p->pid <= 0)
        return -1;
    while (waitpid(p->pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    p->pid = 0;
    return decode_status(status);
}

int
tu_proc_wait_ms(struct tu_proc *p, int ms)
{
    struct timespec step = { 0, 10 * 1000 * 1000 };
    int status;
    int waited;

    if (p->pid <= 0)
        return -1;
    for (waited = 0; waited <= ms; waited += 10) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid) {
            p->pid = 0;
            return decode_status(status);
        }
        nanosleep(&step, NULL);
    }
    return -1;
}

void
tu_proc_kill(struct tu_proc *p, int sig)
{
    if (p->pid > 0)
        kill(p->pid, sig);
}

void
tu_proc_release(struct tu_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        tu_proc_wait(p);
    }
    if (p->out_path != NULL)
        unlink(p->out_path);
    if (p->err_path != NULL)
        unlink(p->err_path);
    free(p->out_path);
    free(p->err_path);
    p->out_path = NULL;
    p->err_path = NULL;
}

const char *
tu_bin(void)
{
    const char *bin = getenv("CODER_CFG_BIN");

    return bin != NULL && bin[0] != '\0' ? bin : "./coder-cfg";
}

int
tu_run(char *const args[], struct tu_env *env, char **out, char **err)
{
    struct tu_proc p;
    char *argv[128];
    size_t i;
    int rc;

    argv[0] = (char *)tu_bin();
    for (i = 0; args[i] != NULL && i < 126; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;

    tu_proc_start(&p, argv, env->v);
    rc = tu_proc_wait(&p);
    if (out != NULL)
        *out = tu_read_file(p.out_path);
    if (err != NULL)
        *err = tu_read_file(p.err_path);
    tu_proc_release(&p);
    return rc;
}

int
tu_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

struct grow {
    char *data;
    size_t len;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct grow *g = arg;
    size_t n = size * nmemb;

    g->data = realloc(g->data, g->len + n + 1);
    if (g->data == NULL)
        return 0;
    memcpy(g->data + g->len, ptr, n);
    g->len += n;
    g->data[g->len] = '\0';
    return n;
}

/* Keeps only the headers of the last response (after redirects, 100s). */
static size_t
collect_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct grow *g = arg;

    if (size * nmemb > 5 && strncmp(ptr, "HTTP/", 5) == 0)
        g->len = 0;
    return collect(ptr, size, nmemb, arg);
}

int
tu_http(const char *method, const char *url, const char *const *headers,
        const char *body, size_t body_len, struct tu_resp *r)
{
    struct curl_slist *list = NULL;
    struct grow b = { NULL, 0 };
    struct grow h = { NULL, 0 };
    CURL *c = curl_easy_init();
    CURLcode cc;

    memset(r, 0, sizeof(*r));
    ck_assert_msg(c != NULL, "curl_easy_init failed");
    for (; headers != NULL && *headers != NULL; headers++)
        list = curl_slist_append(list, *headers);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    /* Test servers use throwaway self-signed certificates. */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)body_len);
    }
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);

    r->body = b.data != NULL ? b.data : xstrdup("");
    r->len = b.len;
    r->headers = h.data != NULL ? h.data : xstrdup("");
    return cc == CURLE_OK ? 0 : -1;
}

char *
tu_header(const struct tu_resp *r, const char *name)
{
    size_t nlen = strlen(name);
    const char *line = r->headers;

    while (line != NULL && *line != '\0') {
        const char *end = strstr(line, "\r\n");
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

        if (len > nlen && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;
            char *out;

            while (*v == ' ')
                v++;
            out = strndup(v, len - (size_t)(v - line));
            ck_assert_msg(out != NULL, "out of memory");
            return out;
        }
        line = end != NULL ? end + 2 : NULL;
    }
    return NULL;
}

void
tu_resp_release(struct tu_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

static bool
server_ready(struct tu_server *s)
{
    char url[96];
    struct tu_resp r;
    bool ok;

    snprintf(url, sizeof(url), "%s/healthz", s->base);
    ok = tu_http("GET", url, NULL, NULL, 0, &r) == 0 && r.status == 200;
    tu_resp_release(&r);
    return ok;
}

int
tu_server_start(struct tu_server *s, const char *dir, char *const args[],
                struct tu_env *env)
{
    struct tu_env own;
    struct tu_env *use = env;
    char addr[32];
    char *argv[128];
    size_t n = 0;
    int i;

    memset(s, 0, sizeof(*s));
    s->owns_dir = dir == NULL;
    s->dir = dir != NULL ? xstrdup(dir) : tu_tmpdir();
    s->port = tu_free_port();
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s->port);
    if (use == NULL) {
        tu_env_init(&own);
        use = &own;
    }
    tu_env_set(use, "CODER_CONFIG_DIR", s->dir);
    if (tu_env_get(use, "CODER_UPDATE_CHECK") == NULL)
        tu_env_set(use, "CODER_UPDATE_CHECK", "false");

    argv[n++] = (char *)tu_bin();
    argv[n++] = (char *)"server";
    argv[n++] = (char *)"--http-address";
    argv[n++] = addr;
    for (i = 0; args != NULL && args[i] != NULL && n < 126; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    tu_proc_start(&s->proc, argv, use->v);
    if (use == &own)
        tu_env_release(&own);

    for (i = 0; i < 1000; i++) {
        struct timespec step = { 0, 10 * 1000 * 1000 };

        if (server_ready(s))
            return 0;
        if (tu_proc_wait_ms(&s->proc, 0) >= 0)
            return -1;
        nanosleep(&step, NULL);
    }
    return -1;
}

int
tu_server_stop(struct tu_server *s)
{
    int rc;

    tu_proc_kill(&s->proc, SIGTERM);
    rc = tu_proc_wait_ms(&s->proc, 10000);
    if (rc < 0)
        tu_proc_kill(&s->proc, SIGKILL);
    tu_proc_release(&s->proc);
    if (s->owns_dir)
        tu_rmtree(s->dir);
    else
        free(s->dir);
    s->dir = NULL;
    return rc;
}

int
tu_admin_run(const struct tu_server *s, char *const args[], char **out,
             char **err)
{
    struct tu_env env;
    int rc;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CONFIG_DIR", s->dir);
    rc = tu_run(args, &env, out, err);
    tu_env_release(&env);
    if (out != NULL && *out != NULL) {
        size_t len = strlen(*out);

        while (len > 0 && (*out)[len - 1] == '\n')
            (*out)[--len] = '\0';
    }
    return rc;
}

char *
tu_admin(const struct tu_server *s, char *const args[])
{
    char *out = NULL;
    char *err = NULL;
    int rc = tu_admin_run(s, args, &out, &err);

    ck_assert_msg(rc == 0, "admin command failed (%d): %s", rc,
                  err ? err : "");
    free(err);
    return out;
}

char *
tu_user_token(const struct tu_server *s, const char *username,
              const char *roles, const char *lifetime, char **id)
{
    char email[128];
    char *create[] = { (char *)"users", (char *)"create",
                       (char *)"--username", (char *)username,
                       (char *)"--email", email, (char *)"--roles",
                       (char *)roles, NULL };
    char *token[] = { (char *)"tokens", (char *)"create",
                      (char *)"--username", (char *)username,
                      (char *)"--lifetime", (char *)lifetime, NULL };
    char *uid;

    snprintf(email, sizeof(email), "%s@example.com", username);
    uid = tu_admin(s, create);
    if (id != NULL)
        *id = uid;
    else
        free(uid);
    if (lifetime == NULL || lifetime[0] == '\0')
        token[4] = NULL;
    return tu_admin(s, token);
}

int
tu_get(const struct tu_server *s, const char *path, const char *token,
       const char *const *headers, struct tu_resp *r)
{
    const char *all[16];
    char auth[128];
    char url[512];
    size_t n = 0;

    snprintf(url, sizeof(url), "%s%s", s->base, path);
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Coder-Session-Token: %s", token);
        all[n++] = auth;
    }
    for (; headers != NULL && *headers != NULL && n < 15; headers++)
        all[n++] = *headers;
    all[n] = NULL;
    return tu_http("GET", url, all, NULL, 0, r);
}

int
tu_listen_silent(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ck_assert(listen(fd, 16) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

struct conn {
    int fd;
    char buf[2048];
    size_t len;
};

static int
connect_loopback(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* True once c->buf holds one whole response (headers and body). */
static bool
response_done(const struct conn *c)
{
    const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    const char *cl;
    size_t body;

    if (end == NULL)
        return false;
    cl = memmem(c->buf, (size_t)(end - c->buf), "Content-Length: ", 16);
    body = cl != NULL ? strtoul(cl + 16, NULL, 10) : 0;
    return c->len >= (size_t)(end + 4 - c->buf) + body;
}

/* Reads until every connection has its response; -1 on any failure. */
static int
read_all(struct conn *cs, struct pollfd *pf, int n)
{
    int left = n;
    int i;

    while (left > 0) {
        if (poll(pf, (nfds_t)n, 10000) <= 0)
            return -1;
        for (i = 0; i < n; i++) {
            ssize_t got;

            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            got = read(cs[i].fd, cs[i].buf + cs[i].len,
                       sizeof(cs[i].buf) - 1 - cs[i].len);
            if (got <= 0)
                return -1;
            cs[i].len += (size_t)got;
            if (response_done(&cs[i])) {
                if (strncmp(cs[i].buf, "HTTP/1.1 200", 12) != 0)
                    return -1;
                pf[i].events = 0;
                left--;
            }
        }
    }
    return 0;
}

int
tu_many_connections(int port, int n, int rounds)
{
    static const char req[] = "GET /api/v2/buildinfo HTTP/1.1\r\n"
                              "Host: test\r\n\r\n";
    struct conn *cs = calloc((size_t)n, sizeof(*cs));
    struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
    struct rlimit rl;
    int rc = -1;
    int i, r;

    ck_assert(cs != NULL && pf != NULL);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    for (i = 0; i < n; i++) {
        cs[i].fd = connect_loopback(port);
        if (cs[i].fd < 0)
            goto out;
    }
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < n; i++) {
            cs[i].len = 0;
            pf[i].fd = cs[i].fd;
            pf[i].events = POLLIN;
            if (write(cs[i].fd, req, sizeof(req) - 1) !=
                (ssize_t)(sizeof(req) - 1))
                goto out;
        }
        if (read_all(cs, pf, n) < 0)
            goto out;
    }
    rc = 0;
out:
    for (i = 0; i < n; i++) {
        if (cs[i].fd > 0)
            close(cs[i].fd);
    }
    free(cs);
    free(pf);
    return rc;
}
