/*
 * sigwatch.c: the thread that takes SIGINT and SIGTERM (see sigwatch.h).
 *
 * A signal during the opening phase ends the process with _exit: the
 * main thread may be inside libpq's connect or sleeping between retries,
 * and neither can be interrupted from outside, while nothing it holds
 * needs an orderly release yet.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/sigwatch.h"
#include "core/banned.h"

/* How long opening may take before the waiting line is logged. */
#define QUIET_SEC 1

struct sigwatch {
    pthread_t thread;
    sigset_t set;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool opened;
    bool stopping;
    int sig;
    struct api_log *log;
    char *address;
    char *timeout;
};

static const char *
sig_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

/* One line on stderr, then the process ends; see the file comment. */
static void
exit_while_opening(const struct sigwatch *w, int sig)
{
    char line[512];
    int n;

    if (w->address != NULL)
        n = snprintf(line, sizeof(line), "coder-cfg: stopped by %s while "
                     "waiting for postgres at %s\n", sig_name(sig),
                     w->address);
    else
        n = snprintf(line, sizeof(line), "coder-cfg: stopped by %s while "
                     "opening the store\n", sig_name(sig));
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
        n = 0;
    _exit(1);
}

static void
log_waiting(struct sigwatch *w)
{
    bool opening;

    pthread_mutex_lock(&w->mu);
    opening = !w->opened && !w->stopping;
    pthread_mutex_unlock(&w->mu);
    if (opening && api_log_enabled(w->log, API_LOG_INFO))
        api_log_write(w->log, API_LOG_INFO, "server", "waiting for postgres",
                      "address", w->address, "timeout", w->timeout,
                      (const char *)NULL);
}

/* Waits QUIET_SEC for a signal; 0 when none came. */
static int
wait_quietly(struct sigwatch *w)
{
    struct timespec quiet = { QUIET_SEC, 0 };
    int sig;

    do
        sig = sigtimedwait(&w->set, NULL, &quiet);
    while (sig < 0 && errno == EINTR);
    return sig > 0 ? sig : 0;
}

static void *
watch(void *arg)
{
    struct sigwatch *w = arg;
    int sig = 0;

    if (w->address != NULL) {
        sig = wait_quietly(w);
        if (sig == 0)
            log_waiting(w);
    }
    while (sig == 0) {
        if (sigwait(&w->set, &sig) != 0)
            sig = 0;
    }

    pthread_mutex_lock(&w->mu);
    if (!w->opened && !w->stopping)
        exit_while_opening(w, sig);
    w->sig = sig;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void
watch_free(struct sigwatch *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w->address);
    free(w->timeout);
    free(w);
}

static int
copy_opt(char **out, const char *text)
{
    *out = NULL;
    if (text == NULL)
        return 0;
    *out = strdup(text);
    return *out != NULL ? 0 : ERR_NOMEM;
}

int
sigwatch_start(struct sigwatch **out, const struct sigwatch_options *o,
               struct err *e)
{
    struct sigwatch *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->log = o->log;
    if (copy_opt(&w->address, o->address) < 0 ||
        copy_opt(&w->timeout, o->timeout != NULL ? o->timeout : "") < 0) {
        watch_free(w);
        return err_set(e, ERR_NOMEM, "out of memory");
    }

    sigemptyset(&w->set);
    sigaddset(&w->set, SIGINT);
    sigaddset(&w->set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &w->set, NULL);
    if (pthread_create(&w->thread, NULL, watch, w) != 0) {
        watch_free(w);
        return err_set(e, ERR_INTERNAL, "cannot start the signal thread");
    }
    *out = w;
    return 0;
}

void
sigwatch_opened(struct sigwatch *w)
{
    pthread_mutex_lock(&w->mu);
    w->opened = true;
    pthread_mutex_unlock(&w->mu);
}

int
sigwatch_wait(struct sigwatch *w)
{
    int sig;

    pthread_mutex_lock(&w->mu);
    while (w->sig == 0)
        pthread_cond_wait(&w->cond, &w->mu);
    sig = w->sig;
    pthread_mutex_unlock(&w->mu);
    return sig;
}

void
sigwatch_stop(struct sigwatch *w)
{
    bool running;

    if (w == NULL)
        return;

    /* A signal aimed at the watcher ends its wait without exiting. */
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    running = w->sig == 0;
    pthread_mutex_unlock(&w->mu);
    if (running)
        pthread_kill(w->thread, SIGTERM);
    pthread_join(w->thread, NULL);
    watch_free(w);
}
