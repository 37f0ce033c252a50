/*
 * check_dump.c: `coder-cfg dump`, run as the real binary.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

#define SENTINEL "Sent1nel-%s%n-Secret"

/* One run of the binary: exit status, stdout and stderr. */
struct res {
    int status;
    char *out;
    char *err;
};

static void
dump(struct res *r, struct tu_env *env, const char *const *args)
{
    const char *argv[32] = { "dump" };
    size_t n = 1;

    while (args != NULL && args[n - 1] != NULL && n < 31) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    r->status = tu_run((char *const *)argv, env, &r->out, &r->err);
}

static void
res_release(struct res *r)
{
    free(r->out);
    free(r->err);
}

static json_t *
parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    ck_assert_msg(j != NULL, "bad json: %s", je.text);
    return j;
}

/* The options[] element called name; borrowed from doc. */
static json_t *
option(json_t *doc, const char *name)
{
    json_t *opts = json_object_get(doc, "options");
    size_t i;
    json_t *o;

    json_array_foreach(opts, i, o) {
        const char *n = json_string_value(json_object_get(o, "name"));

        if (n != NULL && strcmp(n, name) == 0)
            return o;
    }
    ck_abort_msg("no option \"%s\"", name);
    return NULL;
}

static const char *
field(json_t *doc, const char *name, const char *key)
{
    return json_string_value(json_object_get(option(doc, name), key));
}

static char *
value_text(json_t *doc, const char *name)
{
    return json_dumps(json_object_get(option(doc, name), "value"),
                      JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Writes text to dir/name; heap path. */
static char *
write_in(const char *dir, const char *name, const char *text)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);

    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/%s", dir, name);
    tu_write_file(path, text);
    return path;
}

static size_t
count_lines(const char *s, const char *prefix)
{
    size_t n = 0, plen = strlen(prefix);

    while (s != NULL && *s != '\0') {
        const char *nl = strchr(s, '\n');

        if (strncmp(s, prefix, plen) == 0)
            n++;
        s = nl != NULL ? nl + 1 : s + strlen(s);
    }
    return n;
}

START_TEST(env_beats_yaml_in_json)
{
    char *dir = tu_tmpdir();
    char *file = write_in(dir, "c.yaml", "networking: "
                          "{accessURL: https://file.example.test}\n");
    const char *args[] = { "--config", file, NULL };
    struct tu_env env;
    struct res r;
    json_t *doc;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_ACCESS_URL", "https://env.example.test");
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    doc = parse(r.out);
    ck_assert_str_eq(field(doc, "Access URL", "value"),
                     "https://env.example.test");
    ck_assert_str_eq(field(doc, "Access URL", "value_source"), "env");
    ck_assert_str_eq(field(doc, "Access URL", "origin"), "CODER_ACCESS_URL");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(doc, "config"), "access_url")),
        "https://env.example.test");
    json_decref(doc);
    res_release(&r);
    tu_env_release(&env);
    free(file);
    tu_rmtree(dir);
}
END_TEST

START_TEST(flag_beats_env_in_json)
{
    const char *args[] = { "--access-url", "https://flag.example.test",
                           NULL };
    struct tu_env env;
    struct res r;
    json_t *doc;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_ACCESS_URL", "https://env.example.test");
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    doc = parse(r.out);
    ck_assert_str_eq(field(doc, "Access URL", "value"),
                     "https://flag.example.test");
    ck_assert_str_eq(field(doc, "Access URL", "value_source"), "flag");
    ck_assert_str_eq(field(doc, "Access URL", "origin"), "--access-url");
    json_decref(doc);
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(env_equal_to_default_shows_env)
{
    struct tu_env env;
    struct res r;
    json_t *doc;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_HTTP_ADDRESS", "127.0.0.1:3000");
    dump(&r, &env, NULL);
    ck_assert_int_eq(r.status, 0);
    doc = parse(r.out);
    ck_assert_str_eq(field(doc, "HTTP Address", "value_source"), "env");
    ck_assert_str_eq(field(doc, "TLS Address", "value_source"), "default");
    json_decref(doc);
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(scopes_same_from_every_channel)
{
    const char *want = "[\"openid\",\"profile\",\"email\"]";
    char *dir = tu_tmpdir();
    char *file = write_in(dir, "c.yaml",
                          "oidc:\n  scopes: openid,profile,email\n");
    const char *by_flag[] = { "--oidc-scopes", "openid,profile,email",
                              NULL };
    const char *by_yaml[] = { "-c", file, NULL };
    struct tu_env env, clean;
    struct res a, b, c;
    json_t *da, *db, *dc;
    char *va, *vb, *vc;

    tu_env_init(&env);
    tu_env_init(&clean);
    tu_env_set(&env, "CODER_OIDC_SCOPES", "openid,profile,email");
    dump(&a, &env, NULL);
    dump(&b, &clean, by_flag);
    dump(&c, &clean, by_yaml);
    ck_assert_int_eq(a.status + b.status + c.status, 0);
    da = parse(a.out);
    db = parse(b.out);
    dc = parse(c.out);
    va = value_text(da, "OIDC Scopes");
    vb = value_text(db, "OIDC Scopes");
    vc = value_text(dc, "OIDC Scopes");
    ck_assert_str_eq(va, want);
    ck_assert_str_eq(vb, want);
    ck_assert_str_eq(vc, want);
    ck_assert_str_eq(field(dc, "OIDC Scopes", "value_source"), "yaml");
    free(va);
    free(vb);
    free(vc);
    json_decref(da);
    json_decref(db);
    json_decref(dc);
    res_release(&a);
    res_release(&b);
    res_release(&c);
    tu_env_release(&env);
    tu_env_release(&clean);
    free(file);
    tu_rmtree(dir);
}
END_TEST

START_TEST(yaml_empty_scopes_is_an_empty_list)
{
    char *dir = tu_tmpdir();
    char *file = write_in(dir, "c.yaml", "oidc: {scopes: []}\n");
    const char *args[] = { "--config", file, NULL };
    struct tu_env env;
    struct res r;
    json_t *doc;
    char *v;

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    doc = parse(r.out);
    v = value_text(doc, "OIDC Scopes");
    ck_assert_str_eq(v, "[]");
    ck_assert_str_eq(field(doc, "OIDC Scopes", "value_source"), "yaml");
    ck_assert_ptr_nonnull(strstr(r.out, "\"scopes\":[]"));
    free(v);
    json_decref(doc);
    res_release(&r);
    tu_env_release(&env);
    free(file);
    tu_rmtree(dir);
}
END_TEST

START_TEST(unknown_yaml_key_fails_with_place_and_suggestion)
{
    char *dir = tu_tmpdir();
    char *file = write_in(dir, "config.yaml",
                          "networking:\n  accesURL: x\n");
    const char *args[] = { "--config", file, NULL };
    struct tu_env env;
    struct res r;
    char want[4200];

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 2);
    snprintf(want, sizeof(want), "coder-cfg: %s:2:3: unknown option "
             "\"networking.accesURL\" (did you mean "
             "\"networking.accessURL\"?)\n", file);
    ck_assert_str_eq(r.err, want);
    ck_assert_str_eq(r.out, "");
    res_release(&r);
    tu_env_release(&env);
    free(file);
    tu_rmtree(dir);
}
END_TEST

/* Sets every secret option's env to SENTINEL (names from the table). */
static void
set_every_secret(struct tu_env *env)
{
    static const char *const names[] = {
        "CODER_OAUTH2_GITHUB_CLIENT_SECRET", "CODER_OIDC_CLIENT_SECRET",
        "CODER_TRACE_HONEYCOMB_API_KEY", "CODER_PROVISIONER_DAEMON_PSK",
        "CODER_PG_CONNECTION_URL", "CODER_SCIM_AUTH_HEADER",
        "CODER_EXTERNAL_TOKEN_ENCRYPTION_KEYS",
        "CODER_EMAIL_AUTH_PASSWORD",
        "CODER_NOTIFICATIONS_EMAIL_AUTH_PASSWORD",
        "CODER_AIBRIDGE_OPENAI_KEY", "CODER_AIBRIDGE_ANTHROPIC_KEY",
        "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY",
        "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET", NULL
    };

    for (size_t i = 0; names[i] != NULL; i++)
        tu_env_set(env, names[i], SENTINEL);
}

START_TEST(secrets_never_print)
{
    static const char *const formats[] = { "json", "yaml", "table", "env" };
    struct tu_env env;

    tu_env_init(&env);
    set_every_secret(&env);
    for (size_t i = 0; i < 4; i++) {
        const char *args[] = { "--output", formats[i], NULL };
        struct res r;

        dump(&r, &env, args);
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(strstr(r.out, "Sent1nel") == NULL,
                      "secret in --output %s", formats[i]);
        ck_assert_msg(strstr(r.err, "Sent1nel") == NULL,
                      "secret on stderr with --output %s", formats[i]);
        res_release(&r);
    }
    tu_env_release(&env);
}
END_TEST

/* Every secret option by variable and flag; flags match the table. */
static const char *const secret_names[][2] = {
    { "CODER_OAUTH2_GITHUB_CLIENT_SECRET", "--oauth2-github-client-secret" },
    { "CODER_OIDC_CLIENT_SECRET", "--oidc-client-secret" },
    { "CODER_TRACE_HONEYCOMB_API_KEY", "--trace-honeycomb-api-key" },
    { "CODER_PROVISIONER_DAEMON_PSK", "--provisioner-daemon-psk" },
    { "CODER_PG_CONNECTION_URL", "--postgres-url" },
    { "CODER_SCIM_AUTH_HEADER", "--scim-auth-header" },
    { "CODER_EXTERNAL_TOKEN_ENCRYPTION_KEYS",
      "--external-token-encryption-keys" },
    { "CODER_EMAIL_AUTH_PASSWORD", "--email-auth-password" },
    { "CODER_NOTIFICATIONS_EMAIL_AUTH_PASSWORD",
      "--notifications-email-auth-password" },
    { "CODER_AIBRIDGE_OPENAI_KEY", "--aibridge-openai-key" },
    { "CODER_AIBRIDGE_ANTHROPIC_KEY", "--aibridge-anthropic-key" },
    { "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY", "--aibridge-bedrock-access-key" },
    { "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET",
      "--aibridge-bedrock-access-key-secret" }
};

/* A value no CSV reader accepts (an open quote), around the sentinel. */
#define MALFORMED "\"Sent1nel,x%zz"

static void
assert_no_sentinel(const struct res *r, const char *how, const char *name)
{
    ck_assert_msg(strstr(r->out, "Sent1nel") == NULL, "%s %s: stdout",
                  how, name);
    ck_assert_msg(strstr(r->err, "Sent1nel") == NULL, "%s %s: stderr: %s",
                  how, name, r->err);
}

START_TEST(malformed_secrets_never_print_in_errors)
{
    size_t n = sizeof(secret_names) / sizeof(secret_names[0]);

    for (size_t i = 0; i < n; i++) {
        const char *args[] = { secret_names[i][1], MALFORMED, NULL };
        struct tu_env env;
        struct res r;

        tu_env_init(&env);
        tu_env_set(&env, secret_names[i][0], MALFORMED);
        dump(&r, &env, NULL);
        assert_no_sentinel(&r, "env", secret_names[i][0]);
        res_release(&r);
        tu_env_release(&env);

        tu_env_init(&env);
        dump(&r, &env, args);
        assert_no_sentinel(&r, "flag", secret_names[i][1]);
        res_release(&r);
        tu_env_release(&env);
    }
}
END_TEST

START_TEST(malformed_secret_list_is_an_error_by_length)
{
    const char *args[] = { "--external-token-encryption-keys", MALFORMED,
                           NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "coder-cfg: invalid list "
                                 "(secret, 14 bytes) for "
                                 "--external-token-encryption-keys: the "
                                 "secret value cannot be parsed\n"));
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(secrets_show_as_set_in_the_table)
{
    const char *args[] = { "--output", "table", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_OIDC_CLIENT_SECRET", SENTINEL);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "(set)"));
    ck_assert_ptr_nonnull(strstr(r.out, "(not set)"));
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(show_secrets_prints_them_when_asked)
{
    const char *args[] = { "--show-secrets", NULL };
    struct tu_env env;
    struct res r;
    json_t *doc;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_OIDC_CLIENT_SECRET", SENTINEL);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    doc = parse(r.out);
    ck_assert_str_eq(field(doc, "OIDC Client Secret", "value"), SENTINEL);
    json_decref(doc);
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

/* The value of every option, as a JSON object name -> value; takes doc. */
static json_t *
values_of(json_t *doc)
{
    json_t *all = json_object();
    json_t *opts = json_object_get(doc, "options");
    size_t i;
    json_t *o;

    json_array_foreach(opts, i, o) {
        json_t *v = json_object_get(o, "value");

        json_object_set(all, json_string_value(json_object_get(o, "name")),
                        v != NULL ? v : json_null());
    }
    json_decref(doc);
    return all;
}

START_TEST(yaml_output_reads_back_to_the_same_values)
{
    char *dir = tu_tmpdir();
    const char *to_yaml[] = { "--output", "yaml", NULL };
    const char *to_json[] = { "--output", "json", NULL };
    struct tu_env env, clean;
    struct res y, j1, j2;
    const char *args[] = { "--config", NULL, "--output", "json", NULL };
    json_t *a, *b;
    char *file;

    tu_env_init(&env);
    tu_env_init(&clean);
    tu_env_set(&env, "CODER_ACCESS_URL", "https://env.example.test");
    tu_env_set(&env, "CODER_OIDC_SCOPES", "openid,\"a,b\",x y");
    tu_env_set(&env, "CODER_SESSION_DURATION", "36h");
    tu_env_set(&env, "CODER_WILDCARD_ACCESS_URL", "*.example.test");
    tu_env_set(&env, "CODER_CLI_UPGRADE_MESSAGE", "say %s%n \"hi\"");
    dump(&y, &env, to_yaml);
    dump(&j1, &env, to_json);
    ck_assert_int_eq(y.status + j1.status, 0);
    file = write_in(dir, "a.yaml", y.out);
    args[1] = file;
    dump(&j2, &clean, args);
    ck_assert_msg(j2.status == 0, "reading back failed: %s", j2.err);
    a = values_of(parse(j1.out));
    b = values_of(parse(j2.out));
    {
        const char *k;
        json_t *v;

        json_object_foreach(a, k, v) {
            char *x = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            char *z = json_dumps(json_object_get(b, k),
                                 JSON_ENCODE_ANY | JSON_COMPACT);

            if (strcmp(k, "Config Path") != 0)
                ck_assert_msg(strcmp(x, z) == 0, "%s: %s != %s", k, x, z);
            free(x);
            free(z);
        }
    }
    json_decref(a);
    json_decref(b);
    res_release(&y);
    res_release(&j1);
    res_release(&j2);
    tu_env_release(&env);
    tu_env_release(&clean);
    free(file);
    tu_rmtree(dir);
}
END_TEST

START_TEST(percent_text_prints_byte_for_byte)
{
    static const char *const formats[] = { "json", "table", "env", "yaml" };
    struct tu_env env;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CLI_UPGRADE_MESSAGE", "up %s%n %d");
    for (size_t i = 0; i < 4; i++) {
        const char *args[] = { "-o", formats[i], NULL };
        struct res r;

        dump(&r, &env, args);
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(strstr(r.out, "up %s%n %d") != NULL,
                      "not verbatim in --output %s", formats[i]);
        res_release(&r);
    }
    tu_env_release(&env);
}
END_TEST

START_TEST(percent_text_in_errors_prints_byte_for_byte)
{
    const char *args[] = { "--session-duration", "%s%n", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "coder-cfg: invalid duration "
                                 "\"%s%n\" for --session-duration\n"));
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(every_error_is_printed_and_exit_is_2)
{
    const char *args[] = { "--nope", "--http-address", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_SESSION_DURATION", "90");
    tu_env_set(&env, "CODER_PG_AUTH", "kerberos");
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_uint_eq(count_lines(r.err, "coder-cfg: "), 4);
    ck_assert_ptr_nonnull(strstr(r.err, "coder-cfg: invalid duration "
                                 "\"90\" for CODER_SESSION_DURATION: "));
    ck_assert_ptr_nonnull(strstr(r.err, "\"kerberos\" for CODER_PG_AUTH"));
    ck_assert_ptr_nonnull(strstr(r.err, "coder-cfg: unknown flag "
                                 "\"--nope\"\n"));
    ck_assert_ptr_nonnull(strstr(r.err, "coder-cfg: flag "
                                 "\"--http-address\" needs an argument"));
    ck_assert_str_eq(r.out, "");
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(empty_env_duration_is_an_error_naming_it)
{
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_SESSION_DURATION", "");
    dump(&r, &env, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "coder-cfg: CODER_SESSION_DURATION is set but "
                     "empty: a duration is required (unset it to use the "
                     "default 24h0m0s)\n");
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(deprecation_names_only_the_spelling_used)
{
    struct tu_env old, new;
    struct res a, b;

    tu_env_init(&old);
    tu_env_init(&new);
    tu_env_set(&old, "CODER_NOTIFICATIONS_EMAIL_FROM", "a@example.test");
    tu_env_set(&new, "CODER_EMAIL_FROM", "a@example.test");
    dump(&a, &old, NULL);
    dump(&b, &new, NULL);
    ck_assert_int_eq(a.status + b.status, 0);
    ck_assert_str_eq(a.err, "coder-cfg: warning: deprecated option "
                     "\"CODER_NOTIFICATIONS_EMAIL_FROM\": use "
                     "\"CODER_EMAIL_FROM\" instead\n");
    ck_assert_str_eq(b.err, "");
    res_release(&a);
    res_release(&b);
    tu_env_release(&old);
    tu_env_release(&new);
}
END_TEST

START_TEST(deprecated_flag_warns_in_flag_spelling)
{
    const char *args[] = { "--address", "127.0.0.1:4000", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "coder-cfg: warning: deprecated option "
                     "\"--address\": use \"--http-address\" and "
                     "\"--tls-address\" instead\n");
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(unknown_coder_variable_warns_with_suggestion)
{
    const char *args[] = { "--global-config", "/tmp", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_HTTP_ADRESS", "x");
    tu_env_set(&env, "CODER_CONFIG_DIR", "/tmp");
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "coder-cfg: warning: unknown environment "
                     "variable \"CODER_HTTP_ADRESS\" (did you mean "
                     "\"CODER_HTTP_ADDRESS\"?)\n");
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(bool_flag_leaves_false_as_an_extra_argument)
{
    const char *args[] = { "--redirect-to-access-url", "false", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "coder-cfg: unexpected argument \"false\"\n");
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(changed_keeps_only_what_was_set)
{
    const char *json[] = { "--changed", NULL };
    const char *env_out[] = { "--changed", "-o", "env", NULL };
    const char *table[] = { "--changed", "-o", "table", NULL };
    struct tu_env env;
    struct res a, b, c;
    json_t *doc;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_ACCESS_URL", "https://env.example.test");
    tu_env_set(&env, "CODER_OIDC_SCOPES", "a,\"b,c\"");
    dump(&a, &env, json);
    dump(&b, &env, env_out);
    dump(&c, &env, table);
    ck_assert_int_eq(a.status + b.status + c.status, 0);
    doc = parse(a.out);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "options")), 2);
    ck_assert_str_eq(b.out, "CODER_ACCESS_URL='https://env.example.test'\n"
                     "CODER_OIDC_SCOPES='a,\"b,c\"'\n");
    ck_assert_uint_eq(count_lines(c.out, ""), 3);
    json_decref(doc);
    res_release(&a);
    res_release(&b);
    res_release(&c);
    tu_env_release(&env);
}
END_TEST

START_TEST(env_output_quotes_for_the_shell)
{
    const char *args[] = { "-o", "env", "--changed", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CLI_UPGRADE_MESSAGE", "it's $HOME");
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "CODER_CLI_UPGRADE_MESSAGE='it'\\''s $HOME'\n");
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(bad_output_format_is_rejected)
{
    const char *args[] = { "--output", "xml", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "coder-cfg: invalid choice \"xml\" "
                                 "for --output: "));
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(deprecated_address_shows_where_the_server_listens)
{
    const char *args[] = { "--address", "127.0.0.1:4000", NULL };
    struct tu_env env;
    struct res r;
    json_t *doc, *cfg;

    tu_env_init(&env);
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    doc = parse(r.out);
    cfg = json_object_get(doc, "config");
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "http_address")),
                     "127.0.0.1:4000");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(cfg, "tls"), "address")), "");
    ck_assert_str_eq(field(doc, "HTTP Address", "origin"), "--address");
    json_decref(doc);
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(external_auth_env_shows_in_config_but_never_its_secret)
{
    /* The providers have no env spelling of their own, so no env form. */
    static const char *const formats[] = { "json", "table", "yaml" };
    struct tu_env env;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_ID", "github");
    tu_env_set(&env, "CODER_EXTERNAL_AUTH_0_CLIENT_SECRET", "Sent1nel");
    for (size_t i = 0; i < 3; i++) {
        const char *args[] = { "-o", formats[i], NULL };
        struct res r;

        dump(&r, &env, args);
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(strstr(r.out, "github") != NULL, "%s: no provider",
                      formats[i]);
        ck_assert_msg(strstr(r.out, "Sent1nel") == NULL, "%s: secret",
                      formats[i]);
        res_release(&r);
    }
    tu_env_release(&env);
}
END_TEST

/* The line of text that starts with prefix, as a static copy. */
static const char *
line_of(const char *text, const char *prefix)
{
    static char out[1024];
    const char *at = strstr(text, prefix);

    ck_assert_ptr_nonnull(at);
    snprintf(out, sizeof(out), "%.*s", (int)strcspn(at, "\n"), at);
    return out;
}

START_TEST(table_escapes_control_bytes_and_pads_by_characters)
{
    const char *args[] = { "-o", "table", "--changed", NULL };
    struct tu_env env;
    struct res r;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_CLI_UPGRADE_MESSAGE", "a\tb\nc\x1b[31m");
    tu_env_set(&env, "CODER_EMAIL_FROM", "\xc3\x9cn\xc3\xaf" "c@x");
    dump(&r, &env, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_lines(r.out, ""), 4);
    ck_assert_ptr_null(strchr(r.out, '\x1b'));
    ck_assert_str_eq(line_of(r.out, "CLI Upgrade Message"),
                     "CLI Upgrade Message                 "
                     "a\\tb\\nc\\x1b[31m                           "
                     "env      CODER_CLI_UPGRADE_MESSAGE");
    ck_assert_str_eq(line_of(r.out, "Email: From Address"),
                     "Email: From Address                 "
                     "\xc3\x9cn\xc3\xaf" "c@x"
                     "                                    "
                     "env      CODER_EMAIL_FROM");
    res_release(&r);
    tu_env_release(&env);
}
END_TEST

START_TEST(help_describes_dumps_own_flags_once)
{
    const char *help[] = { "--help", NULL };
    const char *yaml[] = { "--changed", "-o", "yaml", NULL };
    struct tu_env env;
    struct res a, b;

    tu_env_init(&env);
    dump(&a, &env, help);
    dump(&b, &env, yaml);
    ck_assert_int_eq(a.status, 0);
    ck_assert_msg(strncmp(a.out, "USAGE:\n  coder-cfg dump ", 24) == 0,
                  "starts %.40s", a.out);
    ck_assert_ptr_null(strstr(a.out, "usage:"));
    ck_assert_ptr_nonnull(strstr(a.out, "\nDUMP OPTIONS:\n"));
    ck_assert_ptr_nonnull(strstr(a.out, "\n  -o, --output "
                                 "json|yaml|table|env (default: json)\n"));
    ck_assert_ptr_nonnull(strstr(a.out, "\n      --show-secrets bool\n"));
    ck_assert_ptr_nonnull(strstr(a.out, "the config object stays whole"));
    ck_assert_int_eq(b.status, 2);
    ck_assert_str_eq(b.err, "coder-cfg: --changed cannot be used with "
                     "--output yaml: the YAML is always a whole config file "
                     "(use --output env or table to see only the changed "
                     "options)\n");
    res_release(&a);
    res_release(&b);
    tu_env_release(&env);
}
END_TEST

START_TEST(written_config_reads_back_without_deprecation_warnings)
{
    char *dir = tu_tmpdir();
    const char *to_yaml[] = { "-o", "yaml", NULL };
    const char *to_env[] = { "-o", "env", NULL };
    const char *args[] = { "--config", NULL, "-o", "table", NULL };
    struct tu_env env;
    struct res y, e, back;
    char *file;

    tu_env_init(&env);
    tu_env_set(&env, "CODER_EMAIL_FROM", "ops@example.test");
    dump(&y, &env, to_yaml);
    dump(&e, &env, to_env);
    ck_assert_int_eq(y.status + e.status, 0);
    ck_assert_ptr_null(strstr(y.out, "redirectHTTP:"));
    ck_assert_ptr_nonnull(strstr(e.out, "\nCODER_EMAIL_FROM='"));
    ck_assert_ptr_null(strstr(e.out, "CODER_NOTIFICATIONS_EMAIL_FROM"));
    ck_assert_ptr_null(strstr(e.out, "CODER_TLS_REDIRECT_HTTP_TO_HTTPS"));
    file = write_in(dir, "w.yaml", y.out);
    args[1] = file;
    tu_env_release(&env);
    tu_env_init(&env);
    dump(&back, &env, args);
    ck_assert_int_eq(back.status, 0);
    ck_assert_str_eq(back.err, "");
    ck_assert_ptr_nonnull(strstr(line_of(back.out, "Email: From Address"),
                                 "ops@example.test"));
    res_release(&y);
    res_release(&e);
    res_release(&back);
    tu_env_release(&env);
    free(file);
    tu_rmtree(dir);
}
END_TEST

static Suite *
dump_suite(void)
{
    Suite *s = suite_create("dump");
    TCase *tc = tcase_create("dump");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, env_beats_yaml_in_json);
    tcase_add_test(tc, flag_beats_env_in_json);
    tcase_add_test(tc, env_equal_to_default_shows_env);
    tcase_add_test(tc, scopes_same_from_every_channel);
    tcase_add_test(tc, yaml_empty_scopes_is_an_empty_list);
    tcase_add_test(tc, unknown_yaml_key_fails_with_place_and_suggestion);
    tcase_add_test(tc, secrets_never_print);
    tcase_add_test(tc, malformed_secrets_never_print_in_errors);
    tcase_add_test(tc, malformed_secret_list_is_an_error_by_length);
    tcase_add_test(tc, secrets_show_as_set_in_the_table);
    tcase_add_test(tc, show_secrets_prints_them_when_asked);
    tcase_add_test(tc, yaml_output_reads_back_to_the_same_values);
    tcase_add_test(tc, percent_text_prints_byte_for_byte);
    tcase_add_test(tc, percent_text_in_errors_prints_byte_for_byte);
    tcase_add_test(tc, every_error_is_printed_and_exit_is_2);
    tcase_add_test(tc, empty_env_duration_is_an_error_naming_it);
    tcase_add_test(tc, deprecation_names_only_the_spelling_used);
    tcase_add_test(tc, deprecated_flag_warns_in_flag_spelling);
    tcase_add_test(tc, unknown_coder_variable_warns_with_suggestion);
    tcase_add_test(tc, bool_flag_leaves_false_as_an_extra_argument);
    tcase_add_test(tc, changed_keeps_only_what_was_set);
    tcase_add_test(tc, env_output_quotes_for_the_shell);
    tcase_add_test(tc, bad_output_format_is_rejected);
    tcase_add_test(tc, table_escapes_control_bytes_and_pads_by_characters);
    tcase_add_test(tc, help_describes_dumps_own_flags_once);
    tcase_add_test(tc, written_config_reads_back_without_deprecation_warnings);
    tcase_add_test(tc, deprecated_address_shows_where_the_server_listens);
    tcase_add_test(tc,
                   external_auth_env_shows_in_config_but_never_its_secret);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(dump_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
