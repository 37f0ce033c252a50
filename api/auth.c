/*
 * auth.c: token sources, refusal bodies and site roles.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/auth.h"
#include "core/util.h"
#include "core/banned.h"

static bool
present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* "Bearer <token>" with the prefix in any case; the token trimmed. */
static const char *
bearer_token(const char *value, char *tmp, size_t size)
{
    const char *p;
    size_t len;

    if (!present(value) || strncasecmp(value, "bearer ", 7) != 0)
        return NULL;
    p = value + 7;
    while (*p == ' ' || *p == '\t')
        p++;
    len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= size)
        return NULL;
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    return tmp;
}

const char *
auth_token_pick(const struct auth_sources *s, char *tmp, size_t size)
{
    const char *bearer;

    if (present(s->cookie))
        return s->cookie;
    if (present(s->query))
        return s->query;
    if (present(s->header))
        return s->header;
    bearer = bearer_token(s->authorization, tmp, size);
    if (bearer != NULL)
        return bearer;
    if (present(s->access_token))
        return s->access_token;
    return NULL;
}

static void
refusal_init(struct auth_refusal *r)
{
    memset(r, 0, sizeof(*r));
    r->status = 401;
    snprintf(r->message, sizeof(r->message), "%s", AUTH_SIGNED_OUT);
}

void
auth_refusal_missing(struct auth_refusal *r)
{
    refusal_init(r);
    snprintf(r->detail, sizeof(r->detail), "%s",
             "Cookie \"coder_session_token\" or query parameter must be "
             "provided.");
}

static void
format_detail(const struct engine_auth *a, struct auth_refusal *r)
{
    static const char bad_format[] = "Invalid API key format: ";
    char when[64];

    switch (a->result) {
    case ENGINE_AUTH_BAD_PARTS:
        snprintf(r->detail, sizeof(r->detail), "%sincorrect amount of API "
                 "key parts, expected 2 got %d", bad_format, a->count);
        break;
    case ENGINE_AUTH_BAD_ID_LEN:
        snprintf(r->detail, sizeof(r->detail), "%sinvalid API key ID "
                 "length, expected %d got %d", bad_format, STORE_KEY_ID_LEN,
                 a->count);
        break;
    case ENGINE_AUTH_BAD_SECRET_LEN:
        snprintf(r->detail, sizeof(r->detail), "%sinvalid API key secret "
                 "length, expected %d got %d", bad_format,
                 STORE_KEY_SECRET_LEN, a->count);
        break;
    case ENGINE_AUTH_BAD_SECRET:
        snprintf(r->detail, sizeof(r->detail), "API key secret is invalid.");
        break;
    case ENGINE_AUTH_EXPIRED:
        auth_go_time_string(a->key.expires_at, when);
        snprintf(r->detail, sizeof(r->detail), "API key expired at \"%s\".",
                 when);
        r->expired = true;
        break;
    default:
        snprintf(r->detail, sizeof(r->detail), "API key is invalid.");
        break;
    }
}

void
auth_refusal_from(const struct engine_auth *a, struct auth_refusal *r)
{
    refusal_init(r);
    if (a->result == ENGINE_AUTH_SUSPENDED) {
        snprintf(r->message, sizeof(r->message), "User is not active "
                 "(status = \"suspended\"). Contact an admin to reactivate "
                 "your account.");
        return;
    }
    format_detail(a, r);
}

void
auth_www_authenticate(const struct auth_refusal *r, const char *access_url,
                      char *out, size_t size)
{
    const char *what = r->expired ? "has expired" : "is invalid";
    size_t n;

    n = (size_t)snprintf(out, size, "Bearer realm=\"coder\", "
                         "error=\"invalid_token\", error_description=\"The "
                         "access token %s\"", what);
    if (present(access_url) && n < size) {
        size_t len = strlen(access_url);

        while (len > 0 && access_url[len - 1] == '/')
            len--;
        snprintf(out + n, size - n, ", resource_metadata=\"%.*s/"
                 ".well-known/oauth-protected-resource\"", (int)len,
                 access_url);
    }
}

void
auth_go_time_string(int64_t t, char out[64])
{
    time_t secs = (time_t)(t / UTIL_NS_PER_SEC);
    long frac = (long)(t % UTIL_NS_PER_SEC);
    struct tm tm;
    char digits[16];
    size_t n;
    int len = 9;

    if (frac < 0) {
        frac += UTIL_NS_PER_SEC;
        secs -= 1;
    }
    gmtime_r(&secs, &tm);
    n = strftime(out, 64, "%Y-%m-%d %H:%M:%S", &tm);
    if (frac > 0) {
        snprintf(digits, sizeof(digits), "%09ld", frac);
        while (len > 0 && digits[len - 1] == '0')
            len--;
        n += (size_t)snprintf(out + n, 64 - n, ".%.*s", len, digits);
    }
    snprintf(out + n, 64 - n, " +0000 UTC");
}

bool
auth_can_read_deployment(unsigned roles)
{
    return (roles & (STORE_ROLE_OWNER | STORE_ROLE_AUDITOR)) != 0;
}

bool
auth_can_read_user(const struct store_user *caller,
                   const struct store_user *target)
{
    unsigned readers = STORE_ROLE_OWNER | STORE_ROLE_AUDITOR |
                       STORE_ROLE_USER_ADMIN | STORE_ROLE_TEMPLATE_ADMIN;

    if (strcmp(caller->id, target->id) == 0)
        return true;
    return (caller->roles & readers) != 0;
}

bool
auth_parse_bool(const char *s)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true",
                                       "True" };
    size_t i;

    if (s == NULL)
        return false;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0)
            return true;
    }
    return false;
}
