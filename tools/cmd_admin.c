/*
 * cmd_admin.c: `coder-cfg users ...` and `coder-cfg tokens ...`.
 *
 * The admin commands work on the same store as the server (LMDB under
 * --global-config / CODER_CONFIG_DIR, or PostgreSQL with --postgres-url /
 * CODER_PG_CONNECTION_URL), and may run while it serves.  They resolve
 * the deployment options too, so that token lifetimes are capped exactly
 * as the server's tokenconfig endpoint says.  Exit status as in cmd.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/values.h"
#include "core/deployment.h"
#include "core/engine.h"
#include "core/opt.h"
#include "core/util.h"
#include "tools/cmd.h"
#include "core/banned.h"

#define PATH_MAX_LEN 4096

static const struct opt_desc admin_options[] = {
    {
        .name = "Global Config",
        .description = "Path to the global coder config directory.",
        .flag = "global-config",
        .env = "CODER_CONFIG_DIR",
        .type = OPT_STRING,
    },
    {
        .name = "Admin Username",
        .description = "The user's name.",
        .flag = "username",
        .type = OPT_STRING,
    },
    {
        .name = "Admin Email",
        .description = "The new user's email address.",
        .flag = "email",
        .type = OPT_STRING,
    },
    {
        .name = "Admin Roles",
        .description = "Site roles, comma-separated (owner, auditor, "
                       "user-admin, template-admin); none means member.",
        .flag = "roles",
        .type = OPT_STRING,
    },
    {
        .name = "Admin Lifetime",
        .description = "The token's lifetime (default: "
                       "--default-token-lifetime).",
        .flag = "lifetime",
        .type = OPT_STRING,
    },
    {
        .name = "Admin Token Name",
        .description = "A name for the token.",
        .flag = "name",
        .type = OPT_STRING,
    },
};

static const char users_usage[] =
    "usage: coder-cfg users create --username U --email E "
    "[--roles owner,auditor]\n"
    "       coder-cfg users list\n";

static const char tokens_usage[] =
    "usage: coder-cfg tokens create --username U [--lifetime 24h] "
    "[--name N]\n"
    "       coder-cfg tokens list --username U\n"
    "       coder-cfg tokens delete ID\n";

struct admin {
    struct opt_set *set;
    struct engine *en;
    char *const *args;
    size_t nargs;
};

static int
fail(int status, const char *msg)
{
    fprintf(stderr, "coder-cfg: %s\n", msg);
    return status;
}

static int
resolve(struct admin *a, int argc, char **argv, char **envp)
{
    struct opt_diag diag;
    size_t i;
    int rc;

    a->set = deployment_set_new(envp);
    if (a->set == NULL ||
        opt_set_add_local(a->set, admin_options, sizeof(admin_options) /
                          sizeof(admin_options[0])) < 0)
        return fail(1, "out of memory");
    opt_diag_init(&diag);
    rc = opt_set_resolve(a->set, argc, argv, envp, &diag);
    for (i = 0; i < diag.nerrors; i++)
        fprintf(stderr, "coder-cfg: %s\n", diag.errors[i]);
    opt_diag_release(&diag);
    if (rc < 0)
        return 2;
    a->args = opt_set_args(a->set, &a->nargs);
    return 0;
}

static int
open_engine(struct admin *a, char **envp)
{
    struct engine_options o;
    char dir[PATH_MAX_LEN];
    const char *cfg = opt_set_str(a->set, "Global Config");
    struct err e;

    err_clear(&e);
    memset(&o, 0, sizeof(o));
    if (cfg[0] != '\0')
        snprintf(dir, sizeof(dir), "%s", cfg);
    else if (!values_default_config_dir(envp, dir, sizeof(dir)))
        return fail(2, "no config directory: set --global-config, "
                    "CODER_CONFIG_DIR or HOME");
    o.config_dir = dir;
    o.pg_url = opt_set_str(a->set, "Postgres Connection URL");
    o.no_events = true;         /* a short-lived command */
    if (engine_open(&a->en, &o, &e) < 0)
        return fail(1, e.msg);
    return 0;
}

/* A required local flag, or NULL after saying which is missing. */
static const char *
need(const struct admin *a, const char *name, const char *flag)
{
    const char *v = opt_set_str(a->set, name);

    if (v[0] != '\0')
        return v;
    fprintf(stderr, "coder-cfg: missing --%s\n", flag);
    return NULL;
}

static int
status_of(int rc)
{
    return rc == ERR_INVALID || rc == ERR_NOT_FOUND ? 2 : 1;
}

/* --- users --------------------------------------------------------------- */

static int
users_create(struct admin *a)
{
    const char *name = need(a, "Admin Username", "username");
    const char *email = name != NULL ? need(a, "Admin Email", "email")
                                     : NULL;
    struct store_user u;
    unsigned roles = 0;
    struct err e;
    int rc;

    if (email == NULL)
        return 2;
    err_clear(&e);
    rc = engine_roles_parse(opt_set_str(a->set, "Admin Roles"), &roles, &e);
    if (rc == 0)
        rc = engine_user_create(a->en, name, email, roles, &u, &e);

    /* The engine's words for a bad address; the operator typed --email. */
    if (rc == ERR_INVALID && strncmp(e.msg, "invalid email", 13) == 0) {
        fprintf(stderr, "coder-cfg: invalid --email%s\n", e.msg + 13);
        return 2;
    }
    if (rc < 0)
        return fail(status_of(rc), e.msg);
    printf("%s\n", u.id);
    return 0;
}

static void
roles_text(unsigned roles, char *out, size_t size)
{
    size_t used = 0;
    unsigned bit;

    snprintf(out, size, "member");
    for (bit = 1; bit <= STORE_ROLE_TEMPLATE_ADMIN; bit <<= 1) {
        int n;

        if (!(roles & bit))
            continue;
        n = snprintf(out + used, size - used, "%s%s", used ? "," : "",
                     engine_role_name((enum store_role)bit));
        if (n > 0 && (size_t)n < size - used)
            used += (size_t)n;
    }
}

static int
print_user(const struct store_user *u, void *ctx)
{
    static const char *const status[] = { "active", "suspended",
                                          "dormant" };
    char roles[128];

    (void)ctx;
    if (u->deleted)
        return 0;
    roles_text(u->roles, roles, sizeof(roles));
    printf("%s  %-20s  %-30s  %-24s  %s\n", u->id, u->username, u->email,
           roles, status[u->status <= STORE_USER_DORMANT ? u->status : 0]);
    return 0;
}

static int
users_list(struct admin *a)
{
    struct err e;

    err_clear(&e);
    printf("%-36s  %-20s  %-30s  %-24s  %s\n", "ID", "USERNAME", "EMAIL",
           "ROLES", "STATUS");
    if (engine_user_list(a->en, print_user, NULL, &e) < 0)
        return fail(1, e.msg);
    return 0;
}

/* --- tokens -------------------------------------------------------------- */

static int
find_user(struct admin *a, struct store_user *u)
{
    const char *name = need(a, "Admin Username", "username");
    struct err e;
    int rc;

    if (name == NULL)
        return 2;
    err_clear(&e);
    rc = engine_user_find(a->en, name, u, &e);
    if (rc == ERR_NOT_FOUND)
        return fail(2, e.msg[0] != '\0' ? e.msg : "user not found");
    return rc < 0 ? fail(1, e.msg) : 0;
}

/* The lifetime asked for, checked against the cap tokenconfig reports. */
static int
token_lifetime(const struct admin *a, const struct store_user *u,
               int64_t *ns)
{
    const char *text = opt_set_str(a->set, "Admin Lifetime");
    bool owner = (u->roles & STORE_ROLE_OWNER) != 0;
    const char *cap_name = owner ? "Maximum Admin Token Lifetime"
                                 : "Max Token Lifetime";
    int64_t cap = opt_set_int(a->set, cap_name);
    char want[40];
    char max[40];
    struct err e;

    err_clear(&e);
    *ns = opt_set_int(a->set, "Default Token Lifetime");
    if (text[0] != '\0' && opt_duration_parse(text, ns, &e) < 0) {
        fprintf(stderr, "coder-cfg: invalid --lifetime \"%s\": %s\n", text,
                e.msg);
        return 2;
    }
    if (*ns <= 0)
        return fail(2, "token lifetime must be positive");
    if (*ns <= cap)
        return 0;
    opt_duration_format(*ns, want);
    opt_duration_format(cap, max);
    fprintf(stderr, "coder-cfg: token lifetime %s is over the cap: "
            "lifetime must be less than %s (%s, %s)\n", want, max,
            owner ? "--max-admin-token-lifetime" : "--max-token-lifetime",
            owner ? "CODER_MAX_ADMIN_TOKEN_LIFETIME"
                  : "CODER_MAX_TOKEN_LIFETIME");
    return 2;
}

static int
tokens_create(struct admin *a)
{
    char token[ENGINE_TOKEN_LEN + 1];
    struct store_user u;
    int64_t lifetime;
    struct err e;
    int status = find_user(a, &u);

    if (status == 0)
        status = token_lifetime(a, &u, &lifetime);
    if (status != 0)
        return status;
    err_clear(&e);
    if (engine_token_create(a->en, u.id, lifetime,
                            opt_set_str(a->set, "Admin Token Name"), token,
                            NULL, &e) < 0)
        return fail(1, e.msg);
    printf("%s\n", token);
    return 0;
}

static int
print_key(const struct store_key *k, void *ctx)
{
    char expires[40];
    char used[40];

    (void)ctx;
    util_time_rfc3339(k->expires_at, expires);
    if (k->last_used > 0)
        util_time_rfc3339(k->last_used, used);
    else
        snprintf(used, sizeof(used), "never");
    printf("%-10s  %-20s  %-30s  %s\n", k->id,
           k->token_name[0] != '\0' ? k->token_name : "-", expires, used);
    return 0;
}

static int
tokens_list(struct admin *a)
{
    struct store_user u;
    struct err e;
    int status = find_user(a, &u);

    if (status != 0)
        return status;
    err_clear(&e);
    printf("%-10s  %-20s  %-30s  %s\n", "ID", "NAME", "EXPIRES", "LAST USED");
    if (engine_token_list(a->en, u.id, print_key, NULL, &e) < 0)
        return fail(1, e.msg);
    return 0;
}

static int
tokens_delete(struct admin *a)
{
    struct err e;
    int rc;

    if (a->nargs != 1)
        return fail(2, "tokens delete takes one token ID");
    err_clear(&e);
    rc = engine_token_delete(a->en, a->args[0], &e);
    if (rc < 0)
        return fail(status_of(rc), e.msg);
    return 0;
}

/* --- dispatch ------------------------------------------------------------ */

static bool
is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
           strcmp(arg, "help") == 0;
}

struct verb {
    const char *name;
    int (*fn)(struct admin *a);
    bool takes_args;
};

static int
run(const struct verb *verbs, size_t n, const char *usage, int argc,
    char **argv, char **envp)
{
    const struct verb *v = NULL;
    struct admin a;
    size_t i;
    int status;

    if (argc > 0 && is_help(argv[0])) {
        fputs(usage, stdout);
        return 0;
    }
    for (i = 0; argc > 0 && i < n; i++) {
        if (strcmp(argv[0], verbs[i].name) == 0)
            v = &verbs[i];
    }
    if (v == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    memset(&a, 0, sizeof(a));
    status = resolve(&a, argc - 1, argv + 1, envp);
    if (status == 0 && a.nargs > 0 && !v->takes_args)
        status = fail(2, "unexpected argument");
    if (status == 0)
        status = open_engine(&a, envp);
    if (status == 0)
        status = v->fn(&a);
    engine_close(a.en);
    opt_set_free(a.set);
    return status;
}

int
cmd_users(int argc, char **argv, char **envp)
{
    static const struct verb verbs[] = {
        { "create", users_create, false },
        { "list", users_list, false },
    };

    return run(verbs, 2, users_usage, argc, argv, envp);
}

int
cmd_tokens(int argc, char **argv, char **envp)
{
    static const struct verb verbs[] = {
        { "create", tokens_create, false },
        { "list", tokens_list, false },
        { "delete", tokens_delete, true },
    };

    return run(verbs, 3, tokens_usage, argc, argv, envp);
}
