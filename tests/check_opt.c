/*
 * check_opt.c: the option set and resolver, against Coder's real table
 * and a small table of our own.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/deployment.h"
#include "core/jsonx.h"
#include "core/opt.h"
#include "tests/testutil.h"

static const struct opt_group g_net = {
    .name = "Net",
    .yaml = "net",
    .description = "Network things.",
};

static const struct opt_group g_net_tls = {
    .parent = &g_net,
    .name = "TLS",
    .yaml = "tls",
};

static const char *const use_new[] = { "New", NULL };

static const struct opt_desc small[] = {
    { .name = "Addr", .flag = "addr", .shorthand = "a", .env = "T_ADDR",
      .yaml = "addr", .def = "127.0.0.1:80", .type = OPT_HOSTPORT,
      .group = &g_net_tls, .json_path = "addr" },
    { .name = "Verbose", .flag = "verbose", .shorthand = "v",
      .env = "T_VERBOSE", .yaml = "verbose", .type = OPT_BOOL,
      .group = &g_net, .json_path = "verbose" },
    { .name = "Quiet", .flag = "quiet", .shorthand = "q", .type = OPT_BOOL,
      .json_path = "quiet" },
    { .name = "Config", .flag = "config", .shorthand = "c",
      .env = "T_CONFIG", .type = OPT_YAML_PATH, .json_path = "config" },
    { .name = "List", .flag = "list", .env = "T_LIST", .yaml = "list",
      .type = OPT_STRING_ARRAY, .json_path = "list" },
    { .name = "Wait", .flag = "wait", .env = "T_WAIT", .yaml = "wait",
      .def = "1m", .type = OPT_DURATION, .json_path = "wait" },
    { .name = "New", .flag = "new", .env = "T_NEW", .yaml = "new",
      .def = "n", .type = OPT_STRING, .json_path = "name" },
    { .name = "Old", .flag = "old", .env = "T_OLD", .yaml = "old",
      .type = OPT_STRING, .use_instead = use_new, .json_path = "name",
      .hidden = true },
    { .name = "Secret", .flag = "secret", .env = "T_SECRET",
      .type = OPT_STRING, .annotations = OPT_ANN_SECRET,
      .json_path = "secret" },
};

#define NSMALL (sizeof(small) / sizeof(small[0]))

/* One resolution: the set, its diagnostics and its return code. */
struct run {
    struct opt_set *set;
    struct opt_diag dg;
    int rc;
    char *dir;
};

static size_t
count(const char *const *v)
{
    size_t n = 0;

    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

static void
run_table(struct run *r, const struct opt_desc *t, size_t n,
          const char *const *argv, const char *const *envp)
{
    r->set = opt_set_new(t, n);
    ck_assert_ptr_nonnull(r->set);
    opt_diag_init(&r->dg);
    /* The resolver only reads them; the API spells them like main's. */
    r->rc = opt_set_resolve(r->set, (int)count(argv), (char *const *)argv,
                            (char *const *)envp, &r->dg);
}

static void
run_real(struct run *r, const char *const *argv,
         const char *const *envp)
{
    run_table(r, deployment_options, DEPLOYMENT_OPTION_COUNT, argv, envp);
}

static void
run_release(struct run *r)
{
    opt_set_free(r->set);
    opt_diag_release(&r->dg);
    if (r->dir != NULL)
        tu_rmtree(r->dir);
}

/* Writes text to a file in a fresh directory kept in r; heap path. */
static char *
yaml_file(struct run *r, const char *text)
{
    char *path;
    size_t len;

    r->dir = tu_tmpdir();
    len = strlen(r->dir) + 16;
    path = malloc(len);
    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/config.yaml", r->dir);
    tu_write_file(path, text);
    return path;
}

static int
idx(const struct run *r, const char *name)
{
    int i = opt_set_find(r->set, name);

    ck_assert_int_ge(i, 0);
    return i;
}

static const char *
src(const struct run *r, const char *name)
{
    return opt_source_name(opt_set_source(r->set, idx(r, name)));
}

static const char *
origin(const struct run *r, const char *name)
{
    return opt_set_origin(r->set, idx(r, name));
}

/* The compact JSON of an option's value, in a static buffer. */
static const char *
value_json(const struct run *r, const char *name)
{
    static char out[4096];
    int i = idx(r, name);
    json_t *j = optval_json(opt_set_value(r->set, i),
                            opt_set_desc(r->set, i));
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(jsonx_dump(j, &b, false), 0);
    snprintf(out, sizeof(out), "%s", buf_str(&b));
    buf_release(&b);
    json_decref(j);
    return out;
}

static bool
has_line(char **v, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], want) == 0)
            return true;
    }
    return false;
}

static bool
has_part(char **v, size_t n, const char *part)
{
    for (size_t i = 0; i < n; i++) {
        if (strstr(v[i], part) != NULL)
            return true;
    }
    return false;
}

/* --- precedence and sources (real table) ------------------------------ */

START_TEST(env_beats_yaml_and_names_the_variable)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "networking:\n"
                           "  accessURL: https://file.example.test\n");
    const char *argv[] = { "--config", file, NULL };
    const char *envp[] = { "CODER_ACCESS_URL=https://env.example.test", NULL };

    run_real(&r, argv, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Access URL"),
                     "https://env.example.test");
    ck_assert_str_eq(src(&r, "Access URL"), "env");
    ck_assert_str_eq(origin(&r, "Access URL"), "CODER_ACCESS_URL");
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(flag_beats_env_and_names_the_flag)
{
    struct run r = { 0 };
    const char *argv[] = { "--access-url", "https://flag.example.test", NULL };
    const char *envp[] = { "CODER_ACCESS_URL=https://env.example.test", NULL };

    run_real(&r, argv, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Access URL"),
                     "https://flag.example.test");
    ck_assert_str_eq(src(&r, "Access URL"), "flag");
    ck_assert_str_eq(origin(&r, "Access URL"), "--access-url");
    run_release(&r);
}
END_TEST

START_TEST(yaml_sets_what_nothing_else_did_with_its_position)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "networking:\n"
                           "  accessURL: https://file.example.test\n");
    const char *envp[] = { NULL, NULL };
    char want[4200];
    char cfg[4200];

    snprintf(cfg, sizeof(cfg), "CODER_CONFIG_PATH=%s", file);
    envp[0] = cfg;
    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Access URL"),
                     "https://file.example.test");
    ck_assert_str_eq(src(&r, "Access URL"), "yaml");
    snprintf(want, sizeof(want), "%s:2:3", file);
    ck_assert_str_eq(origin(&r, "Access URL"), want);
    ck_assert_str_eq(src(&r, "Config Path"), "env");
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(env_equal_to_the_default_is_still_env)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_HTTP_ADDRESS=127.0.0.1:3000", NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "HTTP Address"), "127.0.0.1:3000");
    ck_assert_str_eq(src(&r, "HTTP Address"), "env");
    ck_assert_str_eq(src(&r, "TLS Address"), "default");
    ck_assert_str_eq(origin(&r, "TLS Address"), "default");
    run_release(&r);
}
END_TEST

START_TEST(scopes_read_the_same_from_env_flag_and_yaml)
{
    const char *want = "[\"openid\",\"profile\",\"email\"]";
    struct run a = { 0 }, b = { 0 }, c = { 0 };
    char *file = yaml_file(&c, "oidc:\n  scopes: openid,profile,email\n");
    const char *envp[] = { "CODER_OIDC_SCOPES=openid,profile,email", NULL };
    const char *argv[] = { "--oidc-scopes", "openid,profile,email", NULL };
    const char *cargv[] = { "-c", file, NULL };

    run_real(&a, NULL, envp);
    run_real(&b, argv, NULL);
    run_real(&c, cargv, NULL);
    ck_assert_int_eq(a.rc + b.rc + c.rc, 0);
    ck_assert_str_eq(value_json(&a, "OIDC Scopes"), want);
    ck_assert_str_eq(value_json(&b, "OIDC Scopes"), want);
    ck_assert_str_eq(value_json(&c, "OIDC Scopes"), want);
    ck_assert_str_eq(src(&c, "OIDC Scopes"), "yaml");
    run_release(&a);
    run_release(&b);
    run_release(&c);
    free(file);
}
END_TEST

START_TEST(yaml_empty_scopes_is_an_empty_list)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "oidc: {scopes: []}\n");
    const char *argv[] = { "--config", file, NULL };

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(src(&r, "OIDC Scopes"), "yaml");
    ck_assert_str_eq(value_json(&r, "OIDC Scopes"), "[]");
    run_release(&r);
    free(file);
}
END_TEST

/* --- alias pairs: the origin of the value in force ------------------- */

START_TEST(two_env_names_of_a_pair_show_the_later_one)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_EMAIL_FROM=new@example.test",
                           "CODER_NOTIFICATIONS_EMAIL_FROM=old@example.test",
                           NULL };
    const char *n = "Notifications: Email: From Address";

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Email: From Address"),
                     "old@example.test");
    ck_assert_str_eq(origin(&r, "Email: From Address"),
                     "CODER_NOTIFICATIONS_EMAIL_FROM");
    ck_assert_str_eq(origin(&r, n), "CODER_NOTIFICATIONS_EMAIL_FROM");
    ck_assert(has_line(r.dg.warnings, r.dg.nwarnings,
                       "\"CODER_EMAIL_FROM\" and "
                       "\"CODER_NOTIFICATIONS_EMAIL_FROM\" both set "
                       "\"Email: From Address\"; using "
                       "\"CODER_NOTIFICATIONS_EMAIL_FROM\""));
    run_release(&r);
}
END_TEST

START_TEST(two_flags_of_a_pair_show_the_last_typed)
{
    struct run a = { 0 }, b = { 0 };
    const char *fwd[] = { "--email-from", "new@example.test",
                          "--notifications-email-from", "old@example.test",
                          NULL };
    const char *rev[] = { "--notifications-email-from", "old@example.test",
                          "--email-from", "new@example.test", NULL };

    run_real(&a, fwd, NULL);
    run_real(&b, rev, NULL);
    ck_assert_int_eq(a.rc + b.rc, 0);
    ck_assert_str_eq(opt_set_str(a.set, "Email: From Address"),
                     "old@example.test");
    ck_assert_str_eq(origin(&a, "Email: From Address"),
                     "--notifications-email-from");
    ck_assert_str_eq(opt_set_str(b.set, "Email: From Address"),
                     "new@example.test");
    ck_assert_str_eq(origin(&b, "Notifications: Email: From Address"),
                     "--email-from");
    run_release(&a);
    run_release(&b);
}
END_TEST

START_TEST(telemetry_flags_show_the_last_typed)
{
    struct run r = { 0 };
    const char *argv[] = { "--telemetry=false", "--telemetry-enable=true",
                           NULL };

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(opt_set_bool(r.set, "Telemetry Enable"));
    ck_assert_str_eq(origin(&r, "Telemetry Enable"), "--telemetry-enable");
    run_release(&r);
}
END_TEST

START_TEST(two_yaml_paths_of_a_pair_show_the_later_name)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "email:\n  from: new@example.test\n"
                           "notifications:\n  email:\n"
                           "    from: old@example.test\n");
    const char *argv[] = { "-c", file, NULL };
    char want[4200];

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Email: From Address"),
                     "old@example.test");
    snprintf(want, sizeof(want), "%s:5:5", file);
    ck_assert_str_eq(origin(&r, "Email: From Address"), want);
    ck_assert_str_eq(origin(&r, "Notifications: Email: From Address"), want);
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(yaml_over_env_on_the_twin_points_at_the_yaml_and_warns)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "email:\n  from: y@example.test\n");
    const char *argv[] = { "-c", file, NULL };
    const char *envp[] = { "CODER_NOTIFICATIONS_EMAIL_FROM=old@example.test",
                           NULL };
    char want[4200];

    run_real(&r, argv, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Email: From Address"),
                     "y@example.test");
    snprintf(want, sizeof(want), "%s:2:3", file);
    ck_assert_str_eq(origin(&r, "Email: From Address"), want);
    ck_assert_str_eq(origin(&r, "Notifications: Email: From Address"), want);
    ck_assert_str_eq(src(&r, "Notifications: Email: From Address"), "yaml");
    ck_assert(has_line(r.dg.warnings, r.dg.nwarnings,
                       "\"CODER_NOTIFICATIONS_EMAIL_FROM\" and "
                       "\"email.from\" both set \"Email: From Address\"; "
                       "using \"email.from\""));
    run_release(&r);
    free(file);
}
END_TEST

/* --- problems and warnings (real table) ------------------------------- */

START_TEST(unknown_yaml_key_names_place_and_suggests)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "networking:\n  accesURL: x\n");
    const char *argv[] = { "--config", file, NULL };
    char want[4400];

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    snprintf(want, sizeof(want), "%s:2:3: unknown option "
             "\"networking.accesURL\" (did you mean "
             "\"networking.accessURL\"?)", file);
    ck_assert_uint_eq(r.dg.nerrors, 1);
    ck_assert_str_eq(r.dg.errors[0], want);
    run_release(&r);
    free(file);
}
END_TEST

/* The one error of resolving a file holding text; a static copy. */
static const char *
yaml_error(const char *text)
{
    static char out[4096];
    struct run r = { 0 };
    char *file = yaml_file(&r, text);
    const char *argv[] = { "--config", file, NULL };
    const char *colon;

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 1);
    colon = strstr(r.dg.errors[0], "config.yaml:");
    ck_assert_ptr_nonnull(colon);
    snprintf(out, sizeof(out), "%s", colon);
    run_release(&r);
    free(file);
    return out;
}

START_TEST(unknown_yaml_key_suggests_across_case_level_and_group)
{
    ck_assert_str_eq(yaml_error("networking:\n  accessUrl: x\n"),
                     "config.yaml:2:3: unknown option "
                     "\"networking.accessUrl\" (did you mean "
                     "\"networking.accessURL\"?)");
    ck_assert_str_eq(yaml_error("networking:\n  accessurl: x\n"),
                     "config.yaml:2:3: unknown option "
                     "\"networking.accessurl\" (did you mean "
                     "\"networking.accessURL\"?)");
    ck_assert_str_eq(yaml_error("sessionDuration: 1h\n"),
                     "config.yaml:1:1: unknown option \"sessionDuration\" "
                     "(did you mean \"networking.http.sessionDuration\"?)");
    ck_assert_str_eq(yaml_error("provisoning:\n  daemons: 3\n"),
                     "config.yaml:1:1: unknown option \"provisoning\" "
                     "(did you mean \"provisioning\"?)");
}
END_TEST

START_TEST(unknown_yaml_key_without_a_clear_match_gets_no_guess)
{
    ck_assert_str_eq(yaml_error("enabled: true\n"),
                     "config.yaml:1:1: unknown option \"enabled\"");
    ck_assert_str_eq(yaml_error("zzzzzzzzzzzz: 1\n"),
                     "config.yaml:1:1: unknown option \"zzzzzzzzzzzz\"");
}
END_TEST

START_TEST(unknown_flag_differing_in_case_gets_a_suggestion)
{
    struct run r = { 0 };
    const char *argv[] = { "--Access-URL", "x", NULL };

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_str_eq(r.dg.errors[0], "unknown flag \"--Access-URL\" "
                     "(did you mean \"--access-url\"?)");
    run_release(&r);
}
END_TEST

START_TEST(unknown_top_key_is_reported_once)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "nope:\n  deeper: 1\n  other: 2\n");
    const char *argv[] = { "--config", file, NULL };

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 1);
    ck_assert_ptr_nonnull(strstr(r.dg.errors[0],
                                 ":1:1: unknown option \"nope\""));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(every_problem_is_reported_together)
{
    struct run r = { 0 };
    const char *argv[] = { "--no-such-flag", "--http-address", NULL };
    const char *envp[] = { "CODER_SESSION_DURATION=90",
                           "CODER_PG_AUTH=kerberos", NULL };

    run_real(&r, argv, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 4);
    ck_assert(has_line(r.dg.errors, r.dg.nerrors,
                       "invalid duration \"90\" for "
                       "CODER_SESSION_DURATION: missing unit"));
    ck_assert(has_part(r.dg.errors, r.dg.nerrors,
                       "\"kerberos\" for CODER_PG_AUTH: "));
    ck_assert(has_part(r.dg.errors, r.dg.nerrors,
                       "unknown flag \"--no-such-flag\""));
    ck_assert(has_line(r.dg.errors, r.dg.nerrors,
                       "flag \"--http-address\" needs an argument"));
    run_release(&r);
}
END_TEST

START_TEST(empty_env_for_a_duration_is_an_error_naming_it)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_SESSION_DURATION=", NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 1);
    ck_assert_str_eq(r.dg.errors[0], "CODER_SESSION_DURATION is set but "
                     "empty: a duration is required (unset it to use the "
                     "default 24h0m0s)");
    run_release(&r);
}
END_TEST

START_TEST(empty_env_for_a_choice_or_number_says_so_plainly)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_PG_AUTH=", "CODER_PROVISIONER_DAEMONS=",
                           NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 2);
    ck_assert(has_line(r.dg.errors, r.dg.nerrors,
                       "CODER_PG_AUTH is set but empty: one of password, "
                       "awsiamrds is required (unset it to use the default "
                       "password)"));
    ck_assert(has_line(r.dg.errors, r.dg.nerrors,
                       "CODER_PROVISIONER_DAEMONS is set but empty: an "
                       "integer is required (unset it to use the default "
                       "3)"));
    run_release(&r);
}
END_TEST

START_TEST(bad_text_appears_once_in_a_message)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_PROVISIONER_DAEMONS=abc",
                           "CODER_PG_AUTH=kerberos",
                           "CODER_PROMETHEUS_ENABLE=maybe",
                           "CODER_DERP_SERVER_REGION_ID=99999999999999999999",
                           "CODER_TLS_ADDRESS=nope", NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert(has_line(r.dg.errors, r.dg.nerrors, "invalid integer \"abc\" "
                       "for CODER_PROVISIONER_DAEMONS"));
    ck_assert(has_line(r.dg.errors, r.dg.nerrors, "invalid choice "
                       "\"kerberos\" for CODER_PG_AUTH: should be one of "
                       "[password awsiamrds]"));
    ck_assert(has_line(r.dg.errors, r.dg.nerrors, "invalid bool \"maybe\" "
                       "for CODER_PROMETHEUS_ENABLE: want true or false"));
    ck_assert(has_line(r.dg.errors, r.dg.nerrors, "invalid integer "
                       "\"99999999999999999999\" for "
                       "CODER_DERP_SERVER_REGION_ID: out of range"));
    ck_assert(has_line(r.dg.errors, r.dg.nerrors, "invalid host:port "
                       "\"nope\" for CODER_TLS_ADDRESS: missing port in "
                       "address"));
    run_release(&r);
}
END_TEST

static const struct opt_desc secret_list[] = {
    { .name = "Keys", .flag = "keys", .env = "T_KEYS", .yaml = "keys",
      .type = OPT_STRING_ARRAY, .annotations = OPT_ANN_SECRET,
      .json_path = "keys" },
    { .name = "Config", .flag = "config", .type = OPT_YAML_PATH,
      .json_path = "config" },
};

START_TEST(secret_is_known_by_its_annotation)
{
    ck_assert(opt_desc_is_secret(&secret_list[0]));
    ck_assert(opt_desc_is_secret(&small[NSMALL - 1]));
    ck_assert(!opt_desc_is_secret(&small[0]));
    ck_assert(!opt_desc_is_secret(NULL));
}
END_TEST

START_TEST(refused_secret_shows_only_its_length)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "keys: '\"Sent1nel,x'\n");
    const char *argv[] = { "--config", file, "--keys", "\"Sent1nel", NULL };
    const char *envp[] = { "T_KEYS=\"Sent1nel,y", NULL };

    run_table(&r, secret_list, 2, argv, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert(has_line(r.dg.errors, r.dg.nerrors, "invalid list "
                       "(secret, 11 bytes) for T_KEYS: the secret value "
                       "cannot be parsed"));
    ck_assert(has_line(r.dg.errors, r.dg.nerrors, "invalid list "
                       "(secret, 9 bytes) for --keys: the secret value "
                       "cannot be parsed"));
    ck_assert(has_part(r.dg.errors, r.dg.nerrors, "config.yaml:1:7: "
                       "invalid list (secret, 11 bytes) for keys: the "
                       "secret value cannot be parsed"));
    for (size_t i = 0; i < r.dg.nerrors; i++)
        ck_assert_ptr_null(strstr(r.dg.errors[i], "Sent1nel"));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(assigning_a_refused_secret_gives_a_generic_cause)
{
    struct run r = { 0 };
    struct err e;

    run_table(&r, secret_list, 2, NULL, NULL);
    ck_assert_int_eq(opt_set_assign(r.set, "Keys", "\"Sent1nel", &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.msg, "the secret value cannot be parsed");
    run_release(&r);
}
END_TEST

START_TEST(empty_env_for_a_string_counts_as_env)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_TLS_MIN_VERSION=", NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(src(&r, "TLS Minimum Version"), "env");
    ck_assert_str_eq(opt_set_str(r.set, "TLS Minimum Version"), "");
    run_release(&r);
}
END_TEST

START_TEST(deprecated_env_warns_in_env_spelling)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_ADDRESS=127.0.0.1:4000", NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.dg.nwarnings, 1);
    ck_assert_str_eq(r.dg.warnings[0],
                     "deprecated option \"CODER_ADDRESS\": use "
                     "\"CODER_HTTP_ADDRESS\" and \"CODER_TLS_ADDRESS\" "
                     "instead");
    run_release(&r);
}
END_TEST

START_TEST(deprecated_flag_warns_as_typed)
{
    struct run r = { 0 };
    const char *argv[] = { "-a", "127.0.0.1:4000", NULL };

    run_real(&r, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.dg.nwarnings, 1);
    ck_assert_str_eq(r.dg.warnings[0],
                     "deprecated option \"-a\": use \"--http-address\" "
                     "and \"--tls-address\" instead");
    run_release(&r);
}
END_TEST

START_TEST(new_name_of_an_alias_pair_draws_no_warning)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_EMAIL_FROM=ops@example.test", NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.dg.nwarnings, 0);
    ck_assert_str_eq(src(&r, "Notifications: Email: From Address"), "env");
    ck_assert_str_eq(opt_set_str(r.set,
                                 "Notifications: Email: From Address"),
                     "ops@example.test");
    run_release(&r);
}
END_TEST

START_TEST(old_name_of_an_alias_pair_warns_once)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_NOTIFICATIONS_EMAIL_FROM=a@example.test",
                           NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.dg.nwarnings, 1);
    ck_assert_str_eq(r.dg.warnings[0],
                     "deprecated option \"CODER_NOTIFICATIONS_EMAIL_FROM\""
                     ": use \"CODER_EMAIL_FROM\" instead");
    ck_assert_str_eq(opt_set_str(r.set, "Email: From Address"),
                     "a@example.test");
    run_release(&r);
}
END_TEST

START_TEST(unknown_coder_env_warns_with_a_suggestion)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_ACCES_URL=x", "CODER_CONFIG_DIR=/tmp",
                           "CODER_ZZZZZZZZZZZZZZZZZZZ=1", "OTHER_THING=1",
                           NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.dg.nwarnings, 2);
    ck_assert_str_eq(r.dg.warnings[0],
                     "unknown environment variable \"CODER_ACCES_URL\" "
                     "(did you mean \"CODER_ACCESS_URL\"?)");
    ck_assert_str_eq(r.dg.warnings[1], "unknown environment variable "
                     "\"CODER_ZZZZZZZZZZZZZZZZZZZ\"");
    run_release(&r);
}
END_TEST

START_TEST(env_names_ignore_case_and_the_last_wins)
{
    struct run r = { 0 };
    const char *envp[] = { "CODER_ACCESS_URL=https://a.test",
                           "coder_access_url=https://b.test", NULL };

    run_real(&r, NULL, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Access URL"), "https://b.test");
    ck_assert_str_eq(origin(&r, "Access URL"), "coder_access_url");
    run_release(&r);
}
END_TEST

START_TEST(homebrew_name_only_when_the_main_one_is_absent)
{
    struct run a = { 0 }, b = { 0 };
    const char *both[] = { "HOMEBREW_CODER_ACCESS_URL=https://brew.test",
                           "CODER_ACCESS_URL=", NULL };
    const char *brew[] = { "HOMEBREW_CODER_ACCESS_URL=https://brew.test",
                           NULL };

    run_real(&a, NULL, both);
    run_real(&b, NULL, brew);
    ck_assert_str_eq(opt_set_str(a.set, "Access URL"), "");
    ck_assert_str_eq(src(&a, "Access URL"), "env");
    ck_assert_str_eq(opt_set_str(b.set, "Access URL"), "https://brew.test");
    ck_assert_str_eq(origin(&b, "Access URL"),
                     "HOMEBREW_CODER_ACCESS_URL");
    run_release(&a);
    run_release(&b);
}
END_TEST

/* --- flag syntax (small table) ---------------------------------------- */

START_TEST(flag_forms_follow_pflag)
{
    struct run r = { 0 };
    const char *argv[] = { "--addr", "h:1", "-vq", "pos1", "-ah:2", "--wait=2m",
                           "--", "--addr", NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(value_json(&r, "Addr"), "\"h:2\"");
    ck_assert_str_eq(origin(&r, "Addr"), "-a");
    ck_assert(opt_set_bool(r.set, "Verbose"));
    ck_assert(opt_set_bool(r.set, "Quiet"));
    ck_assert_str_eq(origin(&r, "Wait"), "--wait");
    {
        size_t n;
        char *const *args = opt_set_args(r.set, &n);

        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(args[0], "pos1");
        ck_assert_str_eq(args[1], "--addr");
    }
    run_release(&r);
}
END_TEST

START_TEST(short_flag_with_equals_and_empty_long_value)
{
    struct run r = { 0 };
    const char *argv[] = { "-a=h:3", "--new=", NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(value_json(&r, "Addr"), "\"h:3\"");
    ck_assert_str_eq(opt_set_str(r.set, "New"), "");
    ck_assert_str_eq(src(&r, "New"), "flag");
    run_release(&r);
}
END_TEST

START_TEST(bool_flag_does_not_take_the_next_word)
{
    struct run r = { 0 };
    const char *argv[] = { "--verbose", "false", NULL };
    size_t n;
    char *const *args;

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(opt_set_bool(r.set, "Verbose"));
    args = opt_set_args(r.set, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(args[0], "false");
    run_release(&r);
}
END_TEST

START_TEST(bool_flag_with_equals_false)
{
    struct run r = { 0 };
    const char *argv[] = { "--verbose=false", NULL };
    const char *envp[] = { "T_VERBOSE=true", NULL };

    run_table(&r, small, NSMALL, argv, envp);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(!opt_set_bool(r.set, "Verbose"));
    ck_assert_str_eq(src(&r, "Verbose"), "flag");
    run_release(&r);
}
END_TEST

START_TEST(unknown_short_flag_is_an_error)
{
    struct run r = { 0 };
    const char *argv[] = { "-vx", NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_str_eq(r.dg.errors[0],
                     "unknown shorthand flag \"-x\" in \"-vx\"");
    run_release(&r);
}
END_TEST

START_TEST(unknown_long_flag_suggests_a_close_one)
{
    struct run r = { 0 };
    const char *argv[] = { "--verbos", NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_str_eq(r.dg.errors[0], "unknown flag \"--verbos\" "
                     "(did you mean \"--verbose\"?)");
    run_release(&r);
}
END_TEST

START_TEST(arrays_append_env_then_flags_and_empty_clears)
{
    struct run a = { 0 }, b = { 0 };
    const char *argv[] = { "--list", "b,c", "--list", "d", NULL };
    const char *clear[] = { "--list", "b", "--list=", NULL };
    const char *envp[] = { "T_LIST=a", NULL };

    run_table(&a, small, NSMALL, argv, envp);
    run_table(&b, small, NSMALL, clear, envp);
    ck_assert_str_eq(value_json(&a, "List"), "[\"a\",\"b\",\"c\",\"d\"]");
    ck_assert_str_eq(value_json(&b, "List"), "null");
    ck_assert_str_eq(src(&b, "List"), "flag");
    run_release(&a);
    run_release(&b);
}
END_TEST

START_TEST(last_scalar_flag_wins)
{
    struct run r = { 0 };
    const char *argv[] = { "--new", "x", "--new", "y", NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_str_eq(opt_set_str(r.set, "New"), "y");
    run_release(&r);
}
END_TEST

/* --- aliases and defaults (small table) ------------------------------- */

START_TEST(alias_shares_value_and_source_but_warns_alone)
{
    struct run r = { 0 };
    const char *argv[] = { "--old", "v", NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_str_eq(opt_set_str(r.set, "New"), "v");
    ck_assert_str_eq(src(&r, "New"), "flag");
    ck_assert_str_eq(src(&r, "Old"), "flag");
    ck_assert_str_eq(origin(&r, "New"), "--old");
    ck_assert_uint_eq(r.dg.nwarnings, 1);
    ck_assert_str_eq(r.dg.warnings[0],
                     "deprecated option \"--old\": use \"--new\" instead");
    run_release(&r);
}
END_TEST

START_TEST(default_fills_both_aliases)
{
    struct run r = { 0 };

    run_table(&r, small, NSMALL, NULL, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "Old"), "n");
    ck_assert_str_eq(src(&r, "Old"), "default");
    ck_assert_str_eq(src(&r, "Secret"), "");
    ck_assert_str_eq(origin(&r, "Secret"), "");
    ck_assert_uint_eq(r.dg.nwarnings, 0);
    run_release(&r);
}
END_TEST

START_TEST(overridden_default_is_used_and_shown)
{
    struct opt_set *set = opt_set_new(small, NSMALL);
    struct opt_diag dg;
    json_t *j;

    opt_diag_init(&dg);
    ck_assert_int_eq(opt_set_set_default(set, "Wait", "5m"), 0);
    ck_assert_int_eq(opt_set_resolve(set, 0, NULL, NULL, &dg), 0);
    ck_assert(opt_set_int(set, "Wait") == INT64_C(300000000000));
    j = opt_set_options_json(set, 0);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(j, 8), "default")), "5m");
    json_decref(j);
    opt_set_free(set);
    opt_diag_release(&dg);
}
END_TEST

START_TEST(assign_replaces_and_keeps_the_source)
{
    struct run r = { 0 };
    const char *envp[] = { "T_LIST=a,b", NULL };
    struct err e;

    run_table(&r, small, NSMALL, NULL, envp);
    ck_assert_int_eq(opt_set_assign(r.set, "List", "z", &e), 0);
    ck_assert_str_eq(value_json(&r, "List"), "[\"z\"]");
    ck_assert_str_eq(src(&r, "List"), "env");
    ck_assert_int_eq(opt_set_assign(r.set, "Nope", "z", &e), ERR_NOT_FOUND);
    run_release(&r);
}
END_TEST

START_TEST(assign_of_empty_text_clears_a_host_port)
{
    struct run r = { 0 };
    struct err e;

    run_table(&r, small, NSMALL, NULL, NULL);
    ck_assert_str_eq(value_json(&r, "Addr"), "\"127.0.0.1:80\"");
    ck_assert_int_eq(opt_set_assign(r.set, "Addr", "", &e), 0);
    ck_assert_str_eq(value_json(&r, "Addr"), "\"\"");
    ck_assert_int_eq(opt_set_assign(r.set, "Addr", "nope", &e),
                     ERR_INVALID);
    ck_assert_str_eq(value_json(&r, "Addr"), "\"\"");
    run_release(&r);
}
END_TEST

START_TEST(mark_labels_every_alias_of_a_value)
{
    struct run r = { 0 };

    run_table(&r, small, NSMALL, NULL, NULL);
    ck_assert_int_eq(opt_set_mark(r.set, "New", OPT_SRC_ENV, "T_OTHER"), 0);
    ck_assert_str_eq(src(&r, "Old"), "env");
    ck_assert_str_eq(origin(&r, "Old"), "T_OTHER");
    ck_assert_str_eq(origin(&r, "New"), "T_OTHER");
    ck_assert_int_eq(opt_set_mark(r.set, "Nope", OPT_SRC_ENV, "x"),
                     ERR_NOT_FOUND);
    run_release(&r);
}
END_TEST

START_TEST(local_options_parse_but_never_show)
{
    static const struct opt_desc local[] = {
        { .name = "Output", .flag = "output", .shorthand = "o",
          .env = "T_OUTPUT", .def = "json", .type = OPT_STRING },
    };
    struct opt_set *set = opt_set_new(small, NSMALL);
    const char *argv[] = { "-o", "yaml", NULL };
    struct opt_diag dg;
    json_t *j;

    opt_diag_init(&dg);
    ck_assert_int_eq(opt_set_add_local(set, local, 1), 0);
    ck_assert_int_eq(opt_set_resolve(set, 2, (char *const *)argv, NULL,
                                     &dg), 0);
    ck_assert_str_eq(opt_set_str(set, "Output"), "yaml");
    ck_assert_uint_eq(opt_set_count(set), NSMALL);
    ck_assert_int_eq(opt_set_find(set, "Output"), (int)NSMALL);
    j = opt_set_options_json(set, 0);
    ck_assert_uint_eq(json_array_size(j), NSMALL);
    json_decref(j);
    opt_set_free(set);
    opt_diag_release(&dg);
}
END_TEST

/* --- YAML file (small table) ------------------------------------------ */

START_TEST(empty_yaml_file_is_an_error)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "");
    const char *argv[] = { "-c", file, NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 1);
    ck_assert_ptr_nonnull(strstr(r.dg.errors[0], "expected mapping node"));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(yaml_root_must_be_a_mapping)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "- a\n- b\n");
    const char *argv[] = { "-c", file, NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(r.dg.errors[0],
                                 ":1:1: expected mapping node"));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(yaml_syntax_error_has_a_position)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "net:\n  tls: [\n");
    const char *argv[] = { "-c", file, NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 1);
    ck_assert_ptr_nonnull(strstr(r.dg.errors[0], "config.yaml:3:1: "));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(missing_yaml_file_is_an_error)
{
    struct run r = { 0 };
    const char *argv[] = { "-c", "/nonexistent/coder-cfg.yaml", NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_str_eq(r.dg.errors[0], "cannot read config file "
                     "\"/nonexistent/coder-cfg.yaml\": No such file or "
                     "directory");
    run_release(&r);
}
END_TEST

START_TEST(yaml_skips_options_set_elsewhere_and_later_key_wins)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "net:\n  verbose: true\n  tls:\n"
                           "    addr: a:1\n    addr: b:2\nnew: y\n");
    const char *argv[] = { "-c", file, "--new", "x", NULL };
    char want[4200];

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(opt_set_str(r.set, "New"), "x");
    ck_assert_str_eq(value_json(&r, "Addr"), "\"b:2\"");
    snprintf(want, sizeof(want), "%s:5:5", file);
    ck_assert_str_eq(origin(&r, "Addr"), want);
    ck_assert(opt_set_bool(r.set, "Verbose"));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(group_key_holding_a_scalar_is_ignored)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "net: 5\nwait: 3m\n");
    const char *argv[] = { "-c", file, NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(opt_set_int(r.set, "Wait") == INT64_C(180000000000));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(yaml_on_the_old_name_warns_with_paths)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "old: v\n");
    const char *argv[] = { "-c", file, NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.dg.nwarnings, 1);
    ck_assert_str_eq(r.dg.warnings[0],
                     "deprecated option \"old\": use \"new\" instead");
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(bad_yaml_value_is_reported_even_when_env_won)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "wait: 90\nnet:\n  tls:\n    addr: ok:1\n");
    const char *argv[] = { "-c", file, "--addr", "x:2", NULL };
    const char *envp[] = { "T_WAIT=2m", NULL };

    run_table(&r, small, NSMALL, argv, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 1);
    ck_assert(has_part(r.dg.errors, r.dg.nerrors,
                       "config.yaml:1:7: invalid duration \"90\" for "
                       "wait: "));
    ck_assert(opt_set_int(r.set, "Wait") == INT64_C(120000000000));
    ck_assert_str_eq(value_json(&r, "Addr"), "\"x:2\"");
    ck_assert_str_eq(origin(&r, "Wait"), "T_WAIT");
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(problems_come_env_then_flags_then_yaml_in_file_order)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "wait: 90\nzzz: 1\nnet:\n  tls:\n"
                           "    addr: nope\n");
    const char *argv[] = { "-c", file, "--nope", NULL };
    const char *envp[] = { "T_LIST=\"", NULL };

    run_table(&r, small, NSMALL, argv, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 5);
    ck_assert_ptr_nonnull(strstr(r.dg.errors[0], " for T_LIST"));
    ck_assert_str_eq(r.dg.errors[1], "unknown flag \"--nope\"");
    ck_assert_ptr_nonnull(strstr(r.dg.errors[2], "config.yaml:1:7: "));
    ck_assert_ptr_nonnull(strstr(r.dg.errors[3], "config.yaml:2:1: "));
    ck_assert_ptr_nonnull(strstr(r.dg.errors[4], "config.yaml:5:11: "));
    run_release(&r);
    free(file);
}
END_TEST

START_TEST(bad_yaml_value_names_file_place_and_path)
{
    struct run r = { 0 };
    char *file = yaml_file(&r, "wait: 90\nnet:\n  tls:\n    addr: nope\n");
    const char *argv[] = { "-c", file, NULL };

    run_table(&r, small, NSMALL, argv, NULL);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_uint_eq(r.dg.nerrors, 2);
    ck_assert(has_part(r.dg.errors, r.dg.nerrors,
                       "config.yaml:1:7: invalid duration \"90\" for "
                       "wait: "));
    ck_assert(has_part(r.dg.errors, r.dg.nerrors,
                       "config.yaml:4:11: invalid host:port \"nope\" for "
                       "net.tls.addr: "));
    run_release(&r);
    free(file);
}
END_TEST

/* --- options JSON ----------------------------------------------------- */

static char *
dump_json(const json_t *j)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(jsonx_dump(j, &b, false), 0);
    return buf_take(&b, NULL);
}

START_TEST(options_json_sorted_with_keys_in_order)
{
    struct run r = { 0 };
    const char *argv[] = { "--secret", "hunter2", "--old", "v", NULL };
    json_t *j;
    char *s;

    run_table(&r, small, NSMALL, argv, NULL);
    j = opt_set_options_json(r.set, OPT_JSON_ORIGIN);
    ck_assert_uint_eq(json_array_size(j), NSMALL);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(j, 0), "name")), "Addr");
    s = dump_json(json_array_get(j, 0));
    ck_assert_str_eq(s, "{\"name\":\"Addr\",\"flag\":\"addr\","
                     "\"flag_shorthand\":\"a\",\"env\":\"T_ADDR\","
                     "\"yaml\":\"addr\",\"default\":\"127.0.0.1:80\","
                     "\"value\":\"127.0.0.1:80\",\"group\":{\"parent\":"
                     "{\"name\":\"Net\",\"yaml\":\"net\",\"description\":"
                     "\"Network things.\"},\"name\":\"TLS\",\"yaml\":"
                     "\"tls\"},\"value_source\":\"default\",\"origin\":"
                     "\"default\"}");
    free(s);
    s = dump_json(json_array_get(j, 4));
    ck_assert_str_eq(s, "{\"name\":\"Old\",\"flag\":\"old\",\"env\":"
                     "\"T_OLD\",\"yaml\":\"old\",\"value\":\"v\","
                     "\"use_instead\":[{\"name\":\"New\",\"flag\":\"new\","
                     "\"env\":\"T_NEW\",\"yaml\":\"new\",\"default\":\"n\","
                     "\"value\":\"v\"}],\"hidden\":true,\"value_source\":"
                     "\"flag\",\"origin\":\"--old\"}");
    free(s);
    s = dump_json(j);
    ck_assert_ptr_null(strstr(s, "hunter2"));
    ck_assert_ptr_nonnull(strstr(s, "{\"name\":\"Secret\",\"flag\":"
                                 "\"secret\",\"env\":\"T_SECRET\","
                                 "\"annotations\":{\"secret\":\"true\"},"
                                 "\"value_source\":\"flag\""));
    free(s);
    json_decref(j);
    run_release(&r);
}
END_TEST

START_TEST(options_json_shows_secrets_only_when_asked)
{
    struct run r = { 0 };
    const char *envp[] = { "T_SECRET=hunter2", NULL };
    json_t *j;
    char *s;

    run_table(&r, small, NSMALL, NULL, envp);
    j = opt_set_options_json(r.set, OPT_JSON_SHOW_SECRETS);
    s = dump_json(j);
    ck_assert_ptr_nonnull(strstr(s, "\"value\":\"hunter2\""));
    ck_assert_ptr_null(strstr(s, "\"origin\""));
    free(s);
    json_decref(j);
    run_release(&r);
}
END_TEST

START_TEST(real_options_json_hides_every_secret)
{
    struct opt_set *set = opt_set_new(deployment_options,
                                      DEPLOYMENT_OPTION_COUNT);
    const char *sentinel = "s3ntinel-Value-42";
    char **envp = calloc(DEPLOYMENT_OPTION_COUNT + 1, sizeof(*envp));
    struct opt_diag dg;
    size_t ne = 0;
    json_t *j;
    char *s;

    for (size_t i = 0; i < DEPLOYMENT_OPTION_COUNT; i++) {
        const struct opt_desc *d = &deployment_options[i];
        size_t len;

        if (!(d->annotations & OPT_ANN_SECRET) || d->env == NULL)
            continue;
        len = strlen(d->env) + strlen(sentinel) + 2;
        envp[ne] = malloc(len);
        snprintf(envp[ne++], len, "%s=%s", d->env, sentinel);
    }
    ck_assert_uint_eq(ne, 13);
    opt_diag_init(&dg);
    ck_assert_int_eq(opt_set_resolve(set, 0, NULL, envp, &dg), 0);
    j = opt_set_options_json(set, OPT_JSON_ORIGIN);
    s = dump_json(j);
    ck_assert_ptr_null(strstr(s, sentinel));
    ck_assert_uint_eq(json_array_size(j), DEPLOYMENT_OPTION_COUNT);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(j, 0), "name")), "AI Bridge Anthropic Base URL");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(j, DEPLOYMENT_OPTION_COUNT - 1), "name")),
        "pprof Enable");
    free(s);
    json_decref(j);
    for (size_t i = 0; i < ne; i++)
        free(envp[i]);
    free(envp);
    opt_diag_release(&dg);
    opt_set_free(set);
}
END_TEST

START_TEST(bad_text_is_quoted_on_one_line)
{
    struct run r = { 0 };
    const char *envp[] = { "T_WAIT=1\n\"x", NULL };

    run_table(&r, small, NSMALL, NULL, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(r.dg.errors[0],
                                 "invalid duration \"1\\n\\\"x\" for "
                                 "T_WAIT: "));
    ck_assert_ptr_null(strchr(r.dg.errors[0], '\n'));
    run_release(&r);
}
END_TEST

START_TEST(percent_text_is_kept_verbatim)
{
    struct run r = { 0 };
    const char *argv[] = { "--nope%s%n", NULL };
    const char *envp[] = { "T_WAIT=%s%n", "T_NEW=%s%n", NULL };

    run_table(&r, small, NSMALL, argv, envp);
    ck_assert_int_eq(r.rc, ERR_INVALID);
    ck_assert_str_eq(opt_set_str(r.set, "New"), "%s%n");
    ck_assert(has_part(r.dg.errors, r.dg.nerrors,
                       "invalid duration \"%s%n\" for T_WAIT"));
    ck_assert(has_part(r.dg.errors, r.dg.nerrors,
                       "unknown flag \"--nope%s%n\""));
    run_release(&r);
}
END_TEST

static Suite *
opt_suite(void)
{
    Suite *s = suite_create("opt");
    TCase *real = tcase_create("real");
    TCase *flags = tcase_create("flags");
    TCase *yaml = tcase_create("yaml");
    TCase *json = tcase_create("json");

    tcase_add_test(real, env_beats_yaml_and_names_the_variable);
    tcase_add_test(real, flag_beats_env_and_names_the_flag);
    tcase_add_test(real, yaml_sets_what_nothing_else_did_with_its_position);
    tcase_add_test(real, env_equal_to_the_default_is_still_env);
    tcase_add_test(real, scopes_read_the_same_from_env_flag_and_yaml);
    tcase_add_test(real, yaml_empty_scopes_is_an_empty_list);
    tcase_add_test(real, unknown_yaml_key_names_place_and_suggests);
    tcase_add_test(real, unknown_top_key_is_reported_once);
    tcase_add_test(real,
                   unknown_yaml_key_suggests_across_case_level_and_group);
    tcase_add_test(real,
                   unknown_yaml_key_without_a_clear_match_gets_no_guess);
    tcase_add_test(real, unknown_flag_differing_in_case_gets_a_suggestion);
    tcase_add_test(real, every_problem_is_reported_together);
    tcase_add_test(real, empty_env_for_a_duration_is_an_error_naming_it);
    tcase_add_test(real, empty_env_for_a_choice_or_number_says_so_plainly);
    tcase_add_test(real, bad_text_appears_once_in_a_message);
    tcase_add_test(real, secret_is_known_by_its_annotation);
    tcase_add_test(real, refused_secret_shows_only_its_length);
    tcase_add_test(real, assigning_a_refused_secret_gives_a_generic_cause);
    tcase_add_test(real, empty_env_for_a_string_counts_as_env);
    tcase_add_test(real, deprecated_env_warns_in_env_spelling);
    tcase_add_test(real, deprecated_flag_warns_as_typed);
    tcase_add_test(real, new_name_of_an_alias_pair_draws_no_warning);
    tcase_add_test(real, old_name_of_an_alias_pair_warns_once);
    tcase_add_test(real, unknown_coder_env_warns_with_a_suggestion);
    tcase_add_test(real, env_names_ignore_case_and_the_last_wins);
    tcase_add_test(real, homebrew_name_only_when_the_main_one_is_absent);
    tcase_add_test(real, two_env_names_of_a_pair_show_the_later_one);
    tcase_add_test(real, two_flags_of_a_pair_show_the_last_typed);
    tcase_add_test(real, telemetry_flags_show_the_last_typed);
    tcase_add_test(real, two_yaml_paths_of_a_pair_show_the_later_name);
    tcase_add_test(real,
                   yaml_over_env_on_the_twin_points_at_the_yaml_and_warns);
    suite_add_tcase(s, real);

    tcase_add_test(flags, flag_forms_follow_pflag);
    tcase_add_test(flags, short_flag_with_equals_and_empty_long_value);
    tcase_add_test(flags, bool_flag_does_not_take_the_next_word);
    tcase_add_test(flags, bool_flag_with_equals_false);
    tcase_add_test(flags, unknown_short_flag_is_an_error);
    tcase_add_test(flags, unknown_long_flag_suggests_a_close_one);
    tcase_add_test(flags, arrays_append_env_then_flags_and_empty_clears);
    tcase_add_test(flags, last_scalar_flag_wins);
    tcase_add_test(flags, alias_shares_value_and_source_but_warns_alone);
    tcase_add_test(flags, default_fills_both_aliases);
    tcase_add_test(flags, overridden_default_is_used_and_shown);
    tcase_add_test(flags, assign_replaces_and_keeps_the_source);
    tcase_add_test(flags, assign_of_empty_text_clears_a_host_port);
    tcase_add_test(flags, mark_labels_every_alias_of_a_value);
    tcase_add_test(flags, local_options_parse_but_never_show);
    tcase_add_test(flags, percent_text_is_kept_verbatim);
    tcase_add_test(flags, bad_text_is_quoted_on_one_line);
    suite_add_tcase(s, flags);

    tcase_add_test(yaml, empty_yaml_file_is_an_error);
    tcase_add_test(yaml, yaml_root_must_be_a_mapping);
    tcase_add_test(yaml, yaml_syntax_error_has_a_position);
    tcase_add_test(yaml, missing_yaml_file_is_an_error);
    tcase_add_test(yaml, yaml_skips_options_set_elsewhere_and_later_key_wins);
    tcase_add_test(yaml, group_key_holding_a_scalar_is_ignored);
    tcase_add_test(yaml, yaml_on_the_old_name_warns_with_paths);
    tcase_add_test(yaml, bad_yaml_value_names_file_place_and_path);
    tcase_add_test(yaml, bad_yaml_value_is_reported_even_when_env_won);
    tcase_add_test(yaml,
                   problems_come_env_then_flags_then_yaml_in_file_order);
    suite_add_tcase(s, yaml);

    tcase_add_test(json, options_json_sorted_with_keys_in_order);
    tcase_add_test(json, options_json_shows_secrets_only_when_asked);
    tcase_add_test(json, real_options_json_hides_every_secret);
    suite_add_tcase(s, json);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(opt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
