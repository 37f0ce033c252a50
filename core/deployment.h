/*
 * deployment.h: Coder's deployment options on top of the option engine.
 *
 * deployment_options is the table of all 216 options of Coder's server,
 * in the order of DeploymentValues.Options() (the order of
 * shared/reference/coder-options.tsv).  deployment_set_new builds an
 * option set over it with the defaults that depend on the build and the
 * environment filled in; deployment_config_json writes the "config" tree
 * of GET /api/v2/deployment/config.
 */
#ifndef CODER_CFG_DEPLOYMENT_H
#define CODER_CFG_DEPLOYMENT_H

#include <jansson.h>

#include "opt.h"

#define DEPLOYMENT_OPTION_COUNT 216

extern const struct opt_desc deployment_options[DEPLOYMENT_OPTION_COUNT];

/*
 * The Coder version we present (buildinfo, X-Coder-Build-Version), e.g.
 * "v2.29.0+1a2b3c4", and the commit behind it ("" when unknown).  Both
 * come from the build (see the Makefile's CODER_VERSION).
 */
const char *deployment_version(void);
const char *deployment_commit(void);

/*
 * A new option set over deployment_options with the four dynamic defaults
 * set for this build and envp: docs URL, telemetry, update check and cache
 * directory.  Returns NULL when out of memory.
 */
struct opt_set *deployment_set_new(char *const *envp);

/*
 * The "config" object (options-semantics.md sections 7 and 9): fields in
 * Go declaration order, omitempty where Go leaves fields out, secrets
 * blanked or left out.  New reference, NULL when out of memory.
 */
json_t *deployment_config_json(const struct opt_set *set);

/*
 * Coder's server start-up rules that change values after resolution
 * (options-semantics.md section 7), applied in place to a resolved set
 * so that the server runs with, and dump shows, the same values:
 * - the deprecated Address, when given, becomes the TLS address (TLS on)
 *   or the HTTP address (TLS off), and the other one is cleared;
 * - Disable All Rate Limits sets the API rate limit to -1;
 * - an empty OIDC group field becomes "groups" when the OIDC scopes
 *   contain "groups";
 * - Redirect to Access URL takes the value of the deprecated Redirect
 *   HTTP to HTTPS when that was given as a flag, or when envp has
 *   CODER_TLS_REDIRECT_HTTP_TO_HTTPS or CODER_TLS_REDIRECT_HTTP set to
 *   a true word of Go's ParseBool (a YAML key does not count).
 * Each changed option is labelled with the source and origin of the
 * option (or variable) that caused the change.  Returns 0, ERR_INVALID
 * with lines in diag->errors, or ERR_NOMEM.  Call it once.
 */
int deployment_apply_server_rules(struct opt_set *set, char *const *envp,
                                  struct opt_diag *diag);

/*
 * Reads external auth providers from CODER_EXTERNAL_AUTH_<n>_<FIELD>
 * variables of envp (names matched ignoring case) and appends them, in
 * index order, to the "External Auth Providers" value of a resolved set,
 * as Coder's server does at start-up (options-semantics.md 3.9 and 7).
 * FIELD is one of ID, TYPE, CLIENT_ID, CLIENT_SECRET, AUTH_URL,
 * TOKEN_URL, VALIDATE_URL, REVOKE_URL, APP_INSTALL_URL,
 * APP_INSTALLATIONS_URL, NO_REFRESH, SCOPES, EXTRA_TOKEN_KEYS,
 * DEVICE_FLOW, DEVICE_CODE_URL, MCP_URL, MCP_TOOL_ALLOW_REGEX,
 * MCP_TOOL_DENY_REGEX, REGEX, DISPLAY_NAME, DISPLAY_ICON and
 * CODE_CHALLENGE_METHODS_SUPPORTED.  NO_REFRESH and DEVICE_FLOW take Go's
 * bool words; SCOPES, EXTRA_TOKEN_KEYS and CODE_CHALLENGE_METHODS_SUPPORTED
 * are space-separated lists (empty words dropped); URLs and regexps must
 * parse.  CLIENT_SECRET is kept in the value but, like every
 * ExternalAuthConfig secret, never written to JSON.
 *
 * Unlike Coder, which sorts the variables as text (so that provider 10
 * comes before provider 2) and ignores unknown fields, indices here are
 * numbers that must run from 0 without gaps, and an unknown field, a
 * bad index or a bad value is an error naming the variable.  When any
 * providers were read and the option was not set by a flag or YAML, it
 * is labelled env, "CODER_EXTERNAL_AUTH_*".
 *
 * Returns 0, ERR_INVALID with lines in diag->errors (nothing appended),
 * or ERR_NOMEM.  Call it once, after opt_set_resolve.
 */
int deployment_read_external_auth(struct opt_set *set, char *const *envp,
                                  struct opt_diag *diag);

#endif
