/*
 * auth.h: Coder's API-key rules that need no store (coderd/httpmw).
 *
 * The HTTP layer gathers the five places a token may come from, picks one
 * with auth_token_pick, hands it to engine_token_verify, and turns the
 * verdict into Coder's exact 401 body with auth_refusal.  Role checks are
 * Coder's built-in site roles (api-behavior.md 1.5).  Everything here is
 * pure and thread-safe.
 */
#ifndef CODER_CFG_API_AUTH_H
#define CODER_CFG_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/engine.h"

/* Each may be NULL when the request does not carry it. */
struct auth_sources {
    const char *cookie;         /* cookie coder_session_token */
    const char *query;          /* query coder_session_token */
    const char *header;         /* Coder-Session-Token */
    const char *authorization;  /* Authorization, whole value */
    const char *access_token;   /* query access_token */
};

/*
 * The token Coder would use: the first non-empty source in the order of
 * struct auth_sources, a "Bearer " prefix (any case) taken off the
 * Authorization value and the rest trimmed of spaces.  The result points
 * into a source or into tmp (size bytes); NULL when there is none.
 */
const char *auth_token_pick(const struct auth_sources *s, char *tmp,
                            size_t size);

/* Coder's 401 message for every refusal but the suspended user. */
#define AUTH_SIGNED_OUT "You are signed out or your session has expired. " \
    "Please sign in again to continue."

/* A refusal, ready to be written as {"message":...,"detail":...}. */
struct auth_refusal {
    int status;
    char message[160];
    char detail[160];           /* "" when there is none */
    bool expired;               /* WWW-Authenticate says "has expired" */
};

/* The refusal for a missing token. */
void auth_refusal_missing(struct auth_refusal *r);

/*
 * The refusal for a verdict other than ENGINE_AUTH_OK.  Expiry times are
 * written as Go's time.Time.String() does, in UTC.
 */
void auth_refusal_from(const struct engine_auth *a, struct auth_refusal *r);

/*
 * The WWW-Authenticate value for a 401, with resource_metadata under
 * access_url when it is not empty.
 */
void auth_www_authenticate(const struct auth_refusal *r,
                           const char *access_url, char *out, size_t size);

/* Go's time.Time.String() for a UTC instant: "2006-01-02 15:04:05.5 +0000
 * UTC" (fraction without trailing zeros, left out when zero). */
void auth_go_time_string(int64_t t, char out[64]);

/* Site-role checks (api-behavior.md 1.5). */
bool auth_can_read_deployment(unsigned roles);
bool auth_can_read_user(const struct store_user *caller,
                        const struct store_user *target);

/* Go's strconv.ParseBool: true for 1 t T TRUE true True, else false. */
bool auth_parse_bool(const char *s);

#endif
