/*
 * check_options_table.c: the deployment option table against the facts.
 *
 * Every row of shared/reference/coder-options.tsv is compared with the
 * row at the same position in deployment_options: name, flag, shorthand,
 * environment variable, full YAML path, default, value type, group path,
 * annotations, hidden, required, use_instead and json_path.  The reference
 * lives beside the repository (CI clones the repository next to shared/),
 * so the test looks for it in a few places and fails loudly when it is in
 * none of them.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/deployment.h"

#define TSV_REL "reference/coder-options.tsv"
#define NCOLS 13

/* The columns of the reference, in order. */
enum col {
    C_JSON_PATH,
    C_NAME,
    C_FLAG,
    C_SHORTHAND,
    C_ENV,
    C_YAML_PATH,
    C_DEFAULT,
    C_VALUE_TYPE,
    C_GROUP_PATH,
    C_ANNOTATIONS,
    C_HIDDEN,
    C_REQUIRED,
    C_USE_INSTEAD
};

static const char *const col_names[NCOLS] = {
    "json_path", "name", "flag", "flag_shorthand", "env", "yaml_path",
    "default", "value_type", "group_path", "annotations", "hidden",
    "required", "use_instead"
};

/* The reference as loaded by main, before the forked tests run. */
static char *tsv_text;
static char *tsv_header[NCOLS];
static char *tsv_rows[DEPLOYMENT_OPTION_COUNT + 1][NCOLS];
static size_t tsv_nrows;
static char tsv_tried[2048];

/* --- finding and reading the reference ----------------------------------- */

static void
note_tried(const char *path)
{
    size_t len = strlen(tsv_tried);

    snprintf(tsv_tried + len, sizeof(tsv_tried) - len, "\n  %s", path);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[4096];
    size_t n;

    note_tried(path);
    if (f == NULL)
        return NULL;
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_add(&b, chunk, n) != 0)
            break;
    }
    fclose(f);
    return buf_take(&b, NULL);
}

/*
 * The top of the repository: the nearest directory above the test binary
 * that holds core/deployment.h, else what git says.  Returns 0 or -1.
 */
static int
repo_top(char *out, size_t size)
{
    char exe[PATH_MAX], probe[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    FILE *p;

    if (n > 0) {
        exe[n] = '\0';
        while ((slash = strrchr(exe, '/')) != NULL && slash != exe) {
            *slash = '\0';
            snprintf(probe, sizeof(probe), "%s/core/deployment.h", exe);
            if (access(probe, R_OK) == 0) {
                snprintf(out, size, "%s", exe);
                return 0;
            }
        }
    }

    p = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
    if (p == NULL)
        return -1;
    if (fgets(out, (int)size, p) == NULL) {
        pclose(p);
        return -1;
    }
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return out[0] != '\0' ? 0 : -1;
}

static char *
find_and_read_tsv(void)
{
    char path[PATH_MAX + 64], top[PATH_MAX];
    const char *shared = getenv("SHARED_DIR");
    char *text;

    if (shared != NULL && shared[0] != '\0') {
        snprintf(path, sizeof(path), "%s/%s", shared, TSV_REL);
        if ((text = slurp(path)) != NULL)
            return text;
    }
    if ((text = slurp("../shared/" TSV_REL)) != NULL)
        return text;
    if (repo_top(top, sizeof(top)) == 0) {
        snprintf(path, sizeof(path), "%s/../shared/%s", top, TSV_REL);
        if ((text = slurp(path)) != NULL)
            return text;
    }
    return NULL;
}

/* Splits one line into NCOLS fields in place; -1 when the count is off. */
static int
split_line(char *line, char *fields[NCOLS])
{
    size_t i = 0;
    char *tab;

    for (;;) {
        if (i == NCOLS)
            return -1;
        fields[i++] = line;
        tab = strchr(line, '\t');
        if (tab == NULL)
            break;
        *tab = '\0';
        line = tab + 1;
    }
    return i == NCOLS ? 0 : -1;
}

/* Loads the reference into tsv_*; returns 0 or -1 (the reason printed). */
static int
load_tsv(void)
{
    char *line, *next;
    int first = 1;

    tsv_text = find_and_read_tsv();
    if (tsv_text == NULL)
        return -1;

    for (line = tsv_text; *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        else
            next = line + strlen(line);
        if (*line == '\0')
            continue;
        if (first) {
            if (split_line(line, tsv_header) != 0)
                return -1;
            first = 0;
            continue;
        }
        if (tsv_nrows > DEPLOYMENT_OPTION_COUNT)
            return -1;
        if (split_line(line, tsv_rows[tsv_nrows++]) != 0)
            return -1;
    }
    return 0;
}

static void
need_tsv(void)
{
    if (tsv_text == NULL)
        ck_abort_msg("cannot read shared/%s; tried:%s\nset SHARED_DIR to "
                     "the directory that holds reference/", TSV_REL,
                     tsv_tried);
}

/* --- rebuilding the reference's text from a descriptor ------------------- */

static const char *
or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static void
yaml_path(const struct opt_desc *d, struct buf *out)
{
    const struct opt_group *chain[16];
    const struct opt_group *g;
    size_t n = 0;

    if (d->yaml == NULL)
        return;
    for (g = d->group; g != NULL && n < 16; g = g->parent)
        chain[n++] = g;
    while (n-- > 0)
        buf_addf(out, "%s.", chain[n]->yaml ? chain[n]->yaml : "<no yaml>");
    buf_adds(out, d->yaml);
}

static void
group_path(const struct opt_group *g, struct buf *out)
{
    if (g == NULL)
        return;
    if (g->parent != NULL) {
        group_path(g->parent, out);
        buf_adds(out, " / ");
    }
    buf_adds(out, g->name);
}

static const char *
struct_type(enum opt_struct_kind k)
{
    switch (k) {
    case OPT_STRUCT_LINKS:
        return "[]codersdk.LinkConfig";
    case OPT_STRUCT_EXTERNAL_AUTH:
        return "[]codersdk.ExternalAuthConfig";
    case OPT_STRUCT_MAP_STRING:
        return "map[string]string";
    case OPT_STRUCT_MAP_UUIDS:
        return "map[string][]uuid.UUID";
    case OPT_STRUCT_MAP_STRINGS:
        return "map[string][]string";
    case OPT_STRUCT_NONE:
        break;
    }
    return "?";
}

static void
bare_type(const struct opt_desc *d, struct buf *out)
{
    static const char *const plain[] = {
        [OPT_BOOL] = "Bool", [OPT_INT64] = "Int64",
        [OPT_FLOAT64] = "Float64", [OPT_STRING] = "String",
        [OPT_STRING_ARRAY] = "StringArray", [OPT_DURATION] = "Duration",
        [OPT_URL] = "URL", [OPT_HOSTPORT] = "HostPort",
        [OPT_REGEXP] = "Regexp", [OPT_YAML_PATH] = "YAMLConfigPath"
    };
    size_t i;

    if (d->type == OPT_STRUCT) {
        buf_addf(out, "Struct[%s]", struct_type(d->skind));
        return;
    }
    if (d->type == OPT_ENUM || d->type == OPT_ENUM_ARRAY) {
        buf_adds(out, d->type == OPT_ENUM ? "Enum(" : "EnumArray(");
        for (i = 0; d->choices != NULL && d->choices[i] != NULL; i++)
            buf_addf(out, "%s%s", i > 0 ? "|" : "", d->choices[i]);
        buf_addc(out, ')');
        return;
    }
    buf_adds(out, plain[d->type] != NULL ? plain[d->type] : "?");
}

static void
value_type(const struct opt_desc *d, struct buf *out)
{
    if (d->check == OPT_CHECK_NONE) {
        bare_type(d, out);
        return;
    }
    buf_adds(out, "Validate(");
    bare_type(d, out);
    buf_addc(out, ')');
}

static void
annotations(unsigned bits, struct buf *out)
{
    static const char *const names[] = {
        "enterprise", "external_workspace_proxies", "format_duration",
        "secret"
    };
    size_t i;

    for (i = 0; i < 4; i++) {
        if (bits & (1u << i))
            buf_addf(out, "%s%s=true", out->len > 0 ? ";" : "", names[i]);
    }
}

static void
use_instead(const struct opt_desc *d, struct buf *out)
{
    size_t i;

    for (i = 0; d->use_instead != NULL && d->use_instead[i] != NULL; i++)
        buf_addf(out, "%s%s", i > 0 ? ";" : "", d->use_instead[i]);
}

static int
find_option(const char *name)
{
    int i;

    for (i = 0; i < DEPLOYMENT_OPTION_COUNT; i++) {
        if (strcmp(deployment_options[i].name, name) == 0)
            return i;
    }
    return -1;
}

static bool
is_dynamic(const char *def)
{
    return strncmp(def, "<dynamic:", 9) == 0;
}

/* --- tests --------------------------------------------------------------- */

START_TEST(reference_has_the_expected_columns_and_216_rows)
{
    size_t i;

    need_tsv();
    for (i = 0; i < NCOLS; i++)
        ck_assert_str_eq(tsv_header[i], col_names[i]);
    ck_assert_uint_eq(tsv_nrows, 216);
    ck_assert_uint_eq(DEPLOYMENT_OPTION_COUNT, 216);
    ck_assert_uint_eq(sizeof(deployment_options) /
                      sizeof(deployment_options[0]), 216);
}
END_TEST

/* Compares one text field, naming the row and column on failure. */
#define FIELD_EQ(col, got)                                              \
    ck_assert_msg(strcmp((got), row[col]) == 0,                         \
                  "row %d \"%s\": %s is \"%s\", reference says \"%s\"", \
                  _i + 1, row[C_NAME], col_names[col], (got), row[col])

START_TEST(row_matches_the_reference)
{
    char **row;
    const struct opt_desc *d = &deployment_options[_i];
    struct buf b;

    need_tsv();
    ck_assert_uint_eq(tsv_nrows, DEPLOYMENT_OPTION_COUNT);
    row = tsv_rows[_i];
    buf_init(&b);

    FIELD_EQ(C_NAME, or_empty(d->name));
    FIELD_EQ(C_JSON_PATH, or_empty(d->json_path));
    FIELD_EQ(C_FLAG, or_empty(d->flag));
    FIELD_EQ(C_SHORTHAND, or_empty(d->shorthand));
    FIELD_EQ(C_ENV, or_empty(d->env));
    FIELD_EQ(C_HIDDEN, d->hidden ? "true" : "false");
    FIELD_EQ(C_REQUIRED, "false");

    yaml_path(d, &b);
    FIELD_EQ(C_YAML_PATH, buf_str(&b));
    buf_reset(&b);
    value_type(d, &b);
    FIELD_EQ(C_VALUE_TYPE, buf_str(&b));
    buf_reset(&b);
    group_path(d->group, &b);
    FIELD_EQ(C_GROUP_PATH, buf_str(&b));
    buf_reset(&b);
    annotations(d->annotations, &b);
    FIELD_EQ(C_ANNOTATIONS, buf_str(&b));
    buf_reset(&b);
    use_instead(d, &b);
    FIELD_EQ(C_USE_INSTEAD, buf_str(&b));

    /* A dynamic default is filled in at run time, so the table has none. */
    if (is_dynamic(row[C_DEFAULT]))
        ck_assert_msg(d->def == NULL, "row %d \"%s\": dynamic default "
                      "must be NULL in the table", _i + 1, d->name);
    else
        FIELD_EQ(C_DEFAULT, or_empty(d->def));
    buf_release(&b);
}
END_TEST

START_TEST(absent_text_is_null_never_empty)
{
    const struct opt_desc *d = &deployment_options[_i];
    const char *const fields[] = {
        d->name, d->description, d->flag, d->shorthand, d->env, d->yaml,
        d->def, d->json_path
    };
    size_t i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        ck_assert_msg(fields[i] == NULL || fields[i][0] != '\0',
                      "\"%s\": field %zu is \"\" instead of NULL", d->name,
                      i);
    ck_assert_ptr_nonnull(d->name);
    ck_assert_ptr_nonnull(d->json_path);
}
END_TEST

START_TEST(only_the_backwards_compatible_telemetry_has_no_description)
{
    const struct opt_desc *d = &deployment_options[_i];

    if (strcmp(d->name, "Telemetry (backwards compatibility)") == 0) {
        ck_assert_ptr_null(d->description);
        return;
    }
    ck_assert_msg(d->description != NULL, "\"%s\" has no description",
                  d->name);
    ck_assert_msg(strpbrk(d->description, "\t\n") == NULL,
                  "\"%s\": description has a tab or newline", d->name);
}
END_TEST

START_TEST(names_flags_and_env_are_unique)
{
    int i, j;
    const struct opt_desc *a, *b;

    for (i = 0; i < DEPLOYMENT_OPTION_COUNT; i++) {
        a = &deployment_options[i];
        for (j = i + 1; j < DEPLOYMENT_OPTION_COUNT; j++) {
            b = &deployment_options[j];
            ck_assert_msg(strcmp(a->name, b->name) != 0, "name \"%s\" "
                          "twice", a->name);
            ck_assert_msg(!a->flag || !b->flag || strcmp(a->flag, b->flag),
                          "flag \"%s\" twice", a->flag);
            ck_assert_msg(!a->env || !b->env || strcmp(a->env, b->env),
                          "env \"%s\" twice", a->env);
        }
    }
}
END_TEST

/*
 * Exactly 15 pairs share storage, the deprecated member of each names the
 * other in use_instead, and both have the same type.
 */
START_TEST(fifteen_alias_pairs_share_storage)
{
    int i, j, pairs = 0;
    const struct opt_desc *a, *b, *old, *repl;

    for (i = 0; i < DEPLOYMENT_OPTION_COUNT; i++) {
        for (j = i + 1; j < DEPLOYMENT_OPTION_COUNT; j++) {
            a = &deployment_options[i];
            b = &deployment_options[j];
            if (strcmp(a->json_path, b->json_path) != 0)
                continue;
            pairs++;
            ck_assert_msg((a->use_instead == NULL) !=
                          (b->use_instead == NULL), "\"%s\" and \"%s\": "
                          "exactly one is the alias", a->name, b->name);
            old = a->use_instead != NULL ? a : b;
            repl = old == a ? b : a;
            ck_assert_str_eq(old->use_instead[0], repl->name);
            ck_assert_ptr_null(old->use_instead[1]);
            ck_assert_int_eq(old->type, repl->type);
        }
    }
    ck_assert_int_eq(pairs, 15);
}
END_TEST

START_TEST(use_instead_names_existing_options)
{
    const struct opt_desc *d = &deployment_options[_i];
    size_t k;

    for (k = 0; d->use_instead != NULL && d->use_instead[k] != NULL; k++)
        ck_assert_msg(find_option(d->use_instead[k]) >= 0,
                      "\"%s\": use_instead names unknown \"%s\"", d->name,
                      d->use_instead[k]);
}
END_TEST

START_TEST(dynamic_defaults_are_the_four_known_ones)
{
    static const char *const names[] = {
        "Docs URL", "Telemetry Enable", "Update Check", "Cache Directory"
    };
    size_t i;
    int at;

    for (i = 0; i < 4; i++) {
        at = find_option(names[i]);
        ck_assert_int_ge(at, 0);
        ck_assert_ptr_null(deployment_options[at].def);
        need_tsv();
        ck_assert(is_dynamic(tsv_rows[at][C_DEFAULT]));
    }
}
END_TEST

START_TEST(groups_with_one_path_are_one_object)
{
    const struct opt_desc *a = &deployment_options[_i], *b;
    int j;

    for (j = 0; j < DEPLOYMENT_OPTION_COUNT; j++) {
        b = &deployment_options[j];
        if (a->group == NULL || b->group == NULL || a->group == b->group)
            continue;
        ck_assert_msg(strcmp(a->group->name, b->group->name) != 0 ||
                      a->group->parent != b->group->parent,
                      "\"%s\" and \"%s\" use two copies of group \"%s\"",
                      a->name, b->name, a->group->name);
    }
    if (a->group != NULL && strcmp(a->group->name, "Config") == 0)
        ck_assert_ptr_null(a->group->yaml);
    else if (a->group != NULL)
        ck_assert_ptr_nonnull(a->group->yaml);
}
END_TEST

START_TEST(validate_wrappers_carry_their_checks)
{
    ck_assert_int_eq(deployment_options[find_option("Wildcard Access URL")]
                     .check, OPT_CHECK_WILDCARD);
    ck_assert_int_eq(deployment_options[
                     find_option("Prometheus Aggregate Agent Stats By")]
                     .check, OPT_CHECK_AGG_LABELS);
    ck_assert_int_eq(deployment_options[
                     find_option("Provisioner Daemon Types")].check,
                     OPT_CHECK_PROVISIONERS);
}
END_TEST

static Suite *
options_table_suite(void)
{
    Suite *s = suite_create("check_options_table");
    TCase *tc = tcase_create("table");
    int n = DEPLOYMENT_OPTION_COUNT;

    tcase_add_test(tc, reference_has_the_expected_columns_and_216_rows);
    tcase_add_loop_test(tc, row_matches_the_reference, 0, n);
    tcase_add_loop_test(tc, absent_text_is_null_never_empty, 0, n);
    tcase_add_loop_test(tc,
        only_the_backwards_compatible_telemetry_has_no_description, 0, n);
    tcase_add_test(tc, names_flags_and_env_are_unique);
    tcase_add_test(tc, fifteen_alias_pairs_share_storage);
    tcase_add_loop_test(tc, use_instead_names_existing_options, 0, n);
    tcase_add_test(tc, dynamic_defaults_are_the_four_known_ones);
    tcase_add_loop_test(tc, groups_with_one_path_are_one_object, 0, n);
    tcase_add_test(tc, validate_wrappers_carry_their_checks);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr;
    int failed;

    if (load_tsv() != 0)
        fprintf(stderr, "check_options_table: cannot load the reference "
                "table; tried:%s\n", tsv_tried);

    sr = srunner_create(options_table_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(tsv_text);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
