/*
 * middleware.c: the steps a request passes before its handler, in
 * Coder's order: access-URL redirect, CORS, rate limit, authentication,
 * the {user} parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/auth.h"
#include "api/internal.h"
#include "core/opt.h"
#include "core/banned.h"

#define BYPASS_HEADER "X-Coder-Bypass-Ratelimit"
/* The client part of a rate-limit key: a flag and 16 address bytes. */
#define RATE_KEY_ADDR 17

static const char *
req_header(const struct api_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static bool
same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* --- client address ------------------------------------------------------ */

static bool
trusted_peer(const struct api_server *srv, const struct netaddr *peer)
{
    size_t i;

    for (i = 0; i < srv->norigins; i++) {
        if (netaddr_cidr_contains(&srv->origins[i], peer))
            return true;
    }
    return false;
}

void
api_client_address(struct api_request *rq)
{
    const struct api_server *srv = rq->srv;
    const union MHD_ConnectionInfo *ci;
    struct netaddr *peer = &rq->peer;
    size_t i;

    ci = MHD_get_connection_info(rq->conn,
                                 MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || !netaddr_from_sockaddr(ci->client_addr, peer))
        return;
    rq->peer_known = true;
    if (srv->norigins == 0 || !trusted_peer(srv, peer))
        return;
    for (i = 0; i < srv->ntrusted_headers; i++) {
        const char *name = srv->trusted_headers[i];

        if (netaddr_from_header(name, req_header(rq, name), peer))
            break;
    }
}

const char *
api_client_text(struct api_request *rq)
{
    if (rq->client_ready)
        return rq->client;
    if (rq->peer_known)
        netaddr_text(&rq->peer, rq->client);
    else
        snprintf(rq->client, sizeof(rq->client), "unknown");
    rq->client_ready = true;
    return rq->client;
}

/* --- redirect to the access URL (api-behavior.md 1.10) ------------------- */

bool
api_mw_redirect(struct api_request *rq)
{
    const struct api_server *srv = rq->srv;

    if (!srv->redirect)
        return true;
    if (strcmp(rq->path, "/healthz") == 0 ||
        strncmp(rq->path, "/derp/", 6) == 0)
        return true;
    if (!(srv->access_https && !rq->listener->tls) &&
        (same(req_header(rq, "Host"), srv->access_host) ||
         same(req_header(rq, "X-Forwarded-Host"), srv->access_host)))
        return true;
    api_header(rq, "Location", srv->access_url);
    api_reply_empty(rq, 307);
    return false;
}

/* --- CORS (api-behavior.md 1.8) ------------------------------------------ */

static bool
cors_method_ok(const char *m)
{
    static const char *const ok[] = { "HEAD", "GET", "POST", "PUT",
                                      "PATCH", "DELETE", "OPTIONS" };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (strcasecmp(m, ok[i]) == 0)
            return true;
    }
    return false;
}

/* Every requested header must be one Coder allows. */
static bool
cors_headers_ok(const char *list)
{
    static const char *const ok[] = { "accept", "content-type",
                                      "x-latency-check", "x-csrf-token",
                                      "origin" };
    const char *p = list != NULL ? list : "";

    while (*p != '\0') {
        size_t len;
        size_t i;
        bool found = false;

        p += strspn(p, " ,");
        len = strcspn(p, " ,");
        for (i = 0; len > 0 && i < sizeof(ok) / sizeof(ok[0]); i++) {
            if (strlen(ok[i]) == len && strncasecmp(p, ok[i], len) == 0)
                found = true;
        }
        if (len > 0 && !found)
            return false;
        p += len;
    }
    return true;
}

static void
cors_preflight(struct api_request *rq, const char *method)
{
    const char *hdrs = req_header(rq, "Access-Control-Request-Headers");
    char upper[32];
    size_t i;

    api_header(rq, "Vary", "Origin, Access-Control-Request-Method, "
               "Access-Control-Request-Headers");
    if (rq->srv->allow_cors && cors_method_ok(method) &&
        cors_headers_ok(hdrs)) {
        for (i = 0; i + 1 < sizeof(upper) && method[i] != '\0'; i++)
            upper[i] = (char)(method[i] >= 'a' && method[i] <= 'z'
                                  ? method[i] - 'a' + 'A' : method[i]);
        upper[i] = '\0';
        api_header(rq, "Access-Control-Allow-Origin", "*");
        api_header(rq, "Access-Control-Allow-Methods", upper);
        if (hdrs != NULL && hdrs[0] != '\0')
            api_header(rq, "Access-Control-Allow-Headers", hdrs);
    }
    api_reply_empty(rq, 200);
}

bool
api_mw_cors(struct api_request *rq)
{
    bool preflight = rq->method_bit == ROUTER_OPTIONS;
    const char *origin = NULL;
    const char *want = NULL;

    /* Most requests need neither header: skip the look-ups then. */
    if (preflight || rq->srv->allow_cors)
        origin = req_header(rq, "Origin");
    if (preflight && origin != NULL)
        want = req_header(rq, "Access-Control-Request-Method");

    if (want != NULL) {
        cors_preflight(rq, want);
        return false;
    }
    if (rq->srv->allow_cors) {
        api_header(rq, "Vary", "Origin");
        if (origin != NULL && origin[0] != '\0')
            api_header(rq, "Access-Control-Allow-Origin", "*");
    }
    return true;
}

/* --- authentication (api-behavior.md 1.4) -------------------------------- */

static const char *
query(const struct api_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

static void
token_sources(const struct api_request *rq, struct auth_sources *src)
{
    src->cookie = MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND,
                                              "coder_session_token");
    src->query = query(rq, "coder_session_token");
    src->header = req_header(rq, "Coder-Session-Token");
    src->authorization = req_header(rq, "Authorization");
    src->access_token = query(rq, "access_token");
}

/* Picks the token (tmp holds a Bearer token) and verifies it. */
static int
check_token(struct api_request *rq, const struct auth_sources *src,
            char *tmp, size_t size, struct auth_refusal *ref, struct err *e)
{
    struct engine_auth_options opt;
    const char *token = auth_token_pick(src, tmp, size);
    int rc;

    if (token == NULL) {
        auth_refusal_missing(ref);
        return 0;
    }

    memset(&opt, 0, sizeof(opt));
    opt.ip = api_client_text(rq);
    opt.disable_expiry_refresh = rq->srv->disable_expiry_refresh;
    rc = engine_token_verify(rq->srv->en, token, &opt, &rq->auth, e);
    if (rc < 0)
        return rc;
    if (rq->auth.result != ENGINE_AUTH_OK) {
        auth_refusal_from(&rq->auth, ref);
        return 0;
    }
    rq->authed = true;
    return 1;
}

/*
 * Verifies the request's token once.  Returns 1 when it is good, 0 when
 * refused (ref says why), or a negative code (e says why).  A Bearer
 * token of any length is checked whole, so that an oversized one gets
 * Coder's format refusal rather than the one for a missing token.
 */
static int
verify(struct api_request *rq, struct auth_refusal *ref, struct err *e)
{
    struct auth_sources src;
    char small[512];
    char *tmp = small;
    size_t size = sizeof(small);
    int rc;

    if (rq->authed)
        return 1;
    token_sources(rq, &src);
    if (src.authorization != NULL && strlen(src.authorization) >= size) {
        size = strlen(src.authorization) + 1;
        tmp = malloc(size);
        if (tmp == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = check_token(rq, &src, tmp, size, ref, e);
    if (tmp != small)
        free(tmp);
    return rc;
}

static void
reply_refusal(struct api_request *rq, const struct auth_refusal *ref)
{
    api_header(rq, "WWW-Authenticate", ref->expired ? rq->srv->www_expired
                                                    : rq->srv->www_invalid);
    api_reply_message(rq, ref->status, ref->message, ref->detail);
}

static void
reply_store_error(struct api_request *rq, int rc, const struct err *e)
{
    char detail[ERR_MSG_MAX + 64];

    snprintf(detail, sizeof(detail),
             "Internal error fetching API key by id. %s",
             e->msg[0] != '\0' ? e->msg : err_str(rc));
    api_reply_message(rq, rc == ERR_UNAVAILABLE ? 503 : 500,
                      "An internal error occurred. Please try again or "
                      "contact the system administrator.", detail);
    if (api_log_enabled(rq->srv->log, API_LOG_ERROR))
        api_log_write(rq->srv->log, API_LOG_ERROR, "api",
                      "api key look-up failed", "request_id",
                      rq->request_id, "error", detail, (const char *)NULL);
}

bool
api_mw_auth(struct api_request *rq)
{
    struct auth_refusal ref;
    struct err e;
    int rc;

    err_clear(&e);
    rc = verify(rq, &ref, &e);
    if (rc == 1)
        return true;
    if (rc == 0)
        reply_refusal(rq, &ref);
    else
        reply_store_error(rq, rc, &e);
    return false;
}

/* --- rate limit (api-behavior.md 1.6) ------------------------------------ */

static void
limit_headers(struct api_request *rq, const struct ratelimit_verdict *v)
{
    char n[24];

    api_itoa(v->limit, n);
    api_header(rq, "X-RateLimit-Limit", n);
    api_itoa(v->remaining, n);
    api_header(rq, "X-RateLimit-Remaining", n);
    api_itoa(v->reset_unix, n);
    api_header(rq, "X-RateLimit-Reset", n);
}

/*
 * The limiter's key: a known/unknown byte, the address as
 * netaddr_rate_key groups it, then the pattern of the route the path
 * matches ("/api/v2/users/{user}/keys/tokens/tokenconfig"), or one
 * marker shared by every path that matches no route.  Returns the key's
 * length.
 *
 * Coder keys by "<ip>:<path>" with the raw path.  Keying by pattern
 * instead means every unknown path of a client shares one bucket, and
 * so do the {user} values of one route, so a client cannot make the
 * table grow with made-up paths.
 */
static size_t
rate_key(const struct api_request *rq, char *key, size_t size)
{
    const struct router_route *rt = NULL;
    const char *prefix = "";
    const char *path = "";
    unsigned allow;
    int n;

    memset(key, 0, RATE_KEY_ADDR);
    key[0] = rq->peer_known ? 1 : 0;
    if (rq->peer_known)
        netaddr_rate_key(&rq->peer, (unsigned char *)key + 1);
    if (rq->match.group != NULL)
        rt = router_route_find(&rq->match, ~0u, &allow);
    if (rt != NULL) {
        prefix = rq->match.group->prefix;
        path = rt->path;
    }
    n = snprintf(key + RATE_KEY_ADDR, size - RATE_KEY_ADDR, "%c%s%s",
                 rt != NULL ? 'r' : 'u', prefix, path);
    if (n < 0 || (size_t)n >= size - RATE_KEY_ADDR)
        n = (int)(size - RATE_KEY_ADDR - 1);
    return RATE_KEY_ADDR + (size_t)n;
}

static void
reply_limited(struct api_request *rq, const struct ratelimit_verdict *v)
{
    char window[40];
    char msg[160];

    limit_headers(rq, v);
    snprintf(msg, sizeof(msg), "%lld", (long long)v->retry_after);
    api_header(rq, "Retry-After", msg);
    opt_duration_format(v->retry_after * UTIL_NS_PER_SEC, window);
    snprintf(msg, sizeof(msg), "You've been rate limited for sending more "
             "than %lld requests in %s.", (long long)v->limit, window);
    api_reply_message(rq, 429, msg, NULL);
}

/* Headers as for a fresh, unshared key, which an owner's bypass gets. */
static void
owner_headers(struct api_request *rq)
{
    struct ratelimit_verdict v;
    int64_t now = util_now_ns();
    int64_t window = INT64_C(60) * UTIL_NS_PER_SEC;

    v.limit = rq->srv->rate_limit;
    v.remaining = v.limit - 1;
    v.reset_unix = (now - now % window + window) / UTIL_NS_PER_SEC;
    limit_headers(rq, &v);
}

/*
 * A request asking to bypass the limiter, already counted under its key
 * (verdict v).  Only an owner's is let through whatever v says.  Each
 * check of the token may read the store, so once v refuses, a client
 * gets only a limit's worth of failed checks per window (counted under
 * a key of their own); past that it gets the 429 unchecked.
 */
static bool
bypass(struct api_request *rq, char *key, const struct ratelimit_verdict *v)
{
    struct ratelimit_verdict fails;
    struct auth_refusal ref;
    struct err e;
    int64_t now = util_now_ns();

    key[RATE_KEY_ADDR] = 'b';
    if (!v->allowed) {
        ratelimit_peek(rq->srv->rl, key, RATE_KEY_ADDR + 1, now, &fails);
        if (!fails.allowed) {
            reply_limited(rq, v);
            return false;
        }
    }

    err_clear(&e);
    if (verify(rq, &ref, &e) == 1 &&
        (rq->auth.user.roles & STORE_ROLE_OWNER)) {
        owner_headers(rq);
        return true;
    }
    if (!v->allowed)
        ratelimit_take(rq->srv->rl, key, RATE_KEY_ADDR + 1, now, &fails);
    api_reply_text(rq, 428, "\"" BYPASS_HEADER "\" provided but user "
                   "is not owner\n");
    return false;
}

bool
api_mw_ratelimit(struct api_request *rq)
{
    struct ratelimit_verdict v;
    char key[RATE_KEY_ADDR + 160];
    size_t len;

    if (rq->srv->rl == NULL)
        return true;

    /* Every request counts, one asking for a bypass too. */
    len = rate_key(rq, key, sizeof(key));
    ratelimit_take(rq->srv->rl, key, len, util_now_ns(), &v);
    if (auth_parse_bool(req_header(rq, BYPASS_HEADER)))
        return bypass(rq, key, &v);
    if (!v.allowed) {
        reply_limited(rq, &v);
        return false;
    }
    limit_headers(rq, &v);
    return true;
}

/* --- the {user} parameter (api-behavior.md 2.10) ------------------------- */

/*
 * One rune of UTF-8 as Go's decoder reads it: returns its width, or 0
 * for a byte that starts no valid sequence (overlong forms, surrogates
 * and values past U+10FFFF are invalid too).
 */
static size_t
utf8_rune(const unsigned char *s, size_t len, uint32_t *r)
{
    static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
    uint32_t v = n == 1 ? s[0] : s[0] & (0x7f >> n);
    size_t i;

    if (n == 1 && s[0] >= 0x80)
        return 0;
    if (n == 1) {
        *r = v;
        return 1;
    }
    if (s[0] >= 0xf8 || n > len)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < least[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *r = v;
    return n;
}

/*
 * Whether Go's strconv.IsPrint holds for r >= 0x80: not a control, a
 * space other than U+0020, a format character, private use or a
 * noncharacter.  Unassigned code points are not told apart.
 */
static bool
go_printable(uint32_t r)
{
    static const uint32_t no[][2] = {
        { 0x80, 0xa0 }, { 0xad, 0xad }, { 0x600, 0x605 },
        { 0x61c, 0x61c }, { 0x6dd, 0x6dd }, { 0x70f, 0x70f },
        { 0x890, 0x891 }, { 0x8e2, 0x8e2 }, { 0x1680, 0x1680 },
        { 0x180e, 0x180e }, { 0x2000, 0x200f }, { 0x2028, 0x202f },
        { 0x205f, 0x2064 }, { 0x2066, 0x206f }, { 0x3000, 0x3000 },
        { 0xe000, 0xf8ff }, { 0xfdd0, 0xfdef }, { 0xfeff, 0xfeff },
        { 0xfff9, 0xfffb }, { 0x110bd, 0x110bd }, { 0x110cd, 0x110cd },
        { 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a }, { 0xe0001, 0xe0001 },
        { 0xe0020, 0xe007f }, { 0xf0000, 0x10ffff },
    };
    size_t i;

    if ((r & 0xfffe) == 0xfffe)
        return false;
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (r >= no[i][0] && r <= no[i][1])
            return false;
    }
    return true;
}

/* Appends one ASCII byte as Go's %q writes it inside quotes. */
static int
quote_ascii(struct buf *out, unsigned char c)
{
    static const char esc[] = "abtnvfr";

    if (c == '"' || c == '\\')
        return buf_addf(out, "\\%c", c);
    if (c >= 7 && c <= 13)
        return buf_addf(out, "\\%c", esc[c - 7]);
    if (c < 0x20 || c == 0x7f)
        return buf_addf(out, "\\x%02x", c);
    return buf_addc(out, (char)c);
}

/* Go's %q of s[0..len): a double-quoted string with Go's escapes. */
static int
go_quote(const char *s, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = buf_addc(out, '"');
    size_t i = 0;

    while (rc == 0 && i < len) {
        uint32_t r = 0;
        size_t n = utf8_rune(p + i, len - i, &r);

        if (n == 0)
            rc = buf_addf(out, "\\x%02x", p[i]);
        else if (r < 0x80)
            rc = quote_ascii(out, p[i]);
        else if (go_printable(r))
            rc = buf_add(out, p + i, n);
        else if (r < 0x10000)
            rc = buf_addf(out, "\\u%04x", (unsigned)r);
        else
            rc = buf_addf(out, "\\U%08x", (unsigned)r);
        i += n != 0 ? n : 1;
    }
    return rc == 0 ? buf_addc(out, '"') : rc;
}

static void
reply_bad_user(struct api_request *rq, const char *param, size_t len)
{
    struct buf detail;

    buf_init_limit(&detail, 64 + 4 * len);
    if (buf_adds(&detail, "queried user=") < 0 ||
        go_quote(param, len, &detail) < 0) {
        api_reply_internal(rq, "cannot quote the user parameter");
    } else {
        api_reply_message(rq, 400, "\"user\" must be an existing uuid or "
                          "username.", buf_str(&detail));
    }
    buf_release(&detail);
}

bool
api_mw_user_param(struct api_request *rq)
{
    const char *param = rq->match.param;
    size_t len = rq->match.param_len;
    char ref[STORE_USERNAME_MAX + STORE_UUID_LEN + 2];
    bool found = false;
    struct err e;

    if (len == 2 && strncmp(param, "me", 2) == 0) {
        rq->target = rq->auth.user;
        return true;
    }

    /* Not found, not allowed and a failed look-up all read the same. */
    err_clear(&e);
    if (len < sizeof(ref)) {
        snprintf(ref, sizeof(ref), "%.*s", (int)len, param);
        found = engine_user_find(rq->srv->en, ref, &rq->target, &e) == 0;
    }
    if (!found || !auth_can_read_user(&rq->auth.user, &rq->target)) {
        reply_bad_user(rq, param, len);
        return false;
    }
    return true;
}
