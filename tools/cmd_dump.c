/*
 * cmd_dump.c: `coder-cfg dump`, the resolved configuration and where each
 * value came from.
 *
 * dump resolves exactly as `server` does (the same option set, flags,
 * environment and --config file), then writes the result instead of
 * serving it.  Secret values never leave unless --show-secrets is given:
 * the JSON leaves them out, the table says "(set)" or "(not set)", the env
 * output writes a comment in their place, and YAML has no secret keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/deployment.h"
#include "core/jsonx.h"
#include "core/opt.h"
#include "core/util.h"
#include "tools/cmd.h"
#include "tools/dump_store.h"
#include "core/banned.h"

static const char *const output_choices[] = {
    "json", "yaml", "table", "env", NULL
};

/* Help lists dump's own flags in a section of their own. */
static const struct opt_group dump_group = {
    .name = "Dump",
    .description = "What dump prints, and in which format.",
};

/* dump's own flags, plus the root --global-config it must accept. */
static const struct opt_desc dump_options[] = {
    {
        .name = "Dump Output",
        .group = &dump_group,
        .description = "The format: json (the options and the config "
            "object, with each value's origin), yaml (a config file that "
            "reads back to the same values), table (one row per option) "
            "or env (CODER_ variables, quoted for a shell).",
        .flag = "output",
        .shorthand = "o",
        .def = "json",
        .type = OPT_ENUM,
        .choices = output_choices,
    },
    {
        .name = "Dump Changed",
        .group = &dump_group,
        .description = "Only the options set by a flag, the environment or "
            "the config file. With json this filters options[]; the config "
            "object stays whole. Not available with yaml, which is always "
            "a whole config file.",
        .flag = "changed",
        .type = OPT_BOOL,
    },
    {
        .name = "Dump Show Secrets",
        .group = &dump_group,
        .description = "Print secret values too; without it they show only "
            "as set or not set.",
        .flag = "show-secrets",
        .type = OPT_BOOL,
    },
    {
        .name = "Dump Global Config",
        .description = "The configuration directory.",
        .flag = "global-config",
        .env = "CODER_CONFIG_DIR",
        .type = OPT_STRING,
    },
    {
        .name = "Dump Help",
        .description = "Show this help.",
        .flag = "help",
        .shorthand = "h",
        .type = OPT_BOOL,
    },
};

static const char usage[] =
    "coder-cfg dump [--output json|yaml|table|env] [--changed]\n"
    "               [--show-secrets] [server flags]\n";

/* What the writers need besides the set. */
struct dump {
    struct opt_set *set;
    bool changed;
    bool secrets;
    struct buf out;
};

static bool
is_changed(const struct opt_set *set, int i)
{
    enum opt_source src = opt_set_source(set, i);

    return src == OPT_SRC_FLAG || src == OPT_SRC_ENV || src == OPT_SRC_YAML;
}

static bool
has_value(const struct opt_value *v)
{
    if (v->list != NULL)
        return v->n > 0;
    return v->s != NULL && v->s[0] != '\0';
}

/* --- json -------------------------------------------------------------- */

/* Drops the options at their default from the array a. */
static void
keep_changed(json_t *a)
{
    size_t i = 0;

    while (i < json_array_size(a)) {
        const char *src = json_string_value(
            json_object_get(json_array_get(a, i), "value_source"));

        if (src == NULL || strcmp(src, "default") == 0)
            json_array_remove(a, i);
        else
            i++;
    }
}

static int
write_json(struct dump *dp)
{
    unsigned flags = OPT_JSON_ORIGIN |
        (dp->secrets ? OPT_JSON_SHOW_SECRETS : 0);
    json_t *doc = json_object();
    json_t *opts = opt_set_options_json(dp->set, flags);
    int rc = doc != NULL && opts != NULL ? 0 : ERR_NOMEM;

    if (rc == 0 && dp->changed)
        keep_changed(opts);
    if (rc == 0 && json_object_set_new(doc, "config",
                                       deployment_config_json(dp->set)))
        rc = ERR_NOMEM;
    if (rc == 0 && json_object_set(doc, "options", opts) != 0)
        rc = ERR_NOMEM;
    if (rc == 0)
        rc = jsonx_dump(doc, &dp->out, true);
    json_decref(opts);
    json_decref(doc);
    return rc;
}

/* --- table and env ----------------------------------------------------- */

/* The value as one line of text: arrays and structs as compact JSON. */
static int
value_text(const struct opt_set *set, int i, struct buf *out)
{
    const struct opt_desc *d = opt_set_desc(set, i);
    const struct opt_value *v = opt_set_value(set, i);
    json_t *j;
    int rc;

    if (d->type != OPT_STRING_ARRAY && d->type != OPT_ENUM_ARRAY &&
        d->type != OPT_STRUCT)
        return optval_text(v, d, out);
    j = optval_config_json(v, d);
    if (j == NULL)
        return ERR_NOMEM;
    rc = jsonx_dump(j, out, false);
    json_decref(j);
    return rc;
}

static int
by_name(const void *a, const void *b, void *arg)
{
    const struct opt_set *set = arg;

    return strcmp(opt_set_desc(set, *(const int *)a)->name,
                  opt_set_desc(set, *(const int *)b)->name);
}

/* The options to print, by name; NULL when out of memory. */
static int *
rows(const struct dump *dp, size_t *n)
{
    size_t count = opt_set_count(dp->set);
    int *idx = calloc(count + 1, sizeof(*idx));

    *n = 0;
    if (idx == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (!dp->changed || is_changed(dp->set, (int)i))
            idx[(*n)++] = (int)i;
    }
    qsort_r(idx, *n, sizeof(*idx), by_name, dp->set);
    return idx;
}

static int
cell(const struct dump *dp, int i, struct buf *out)
{
    const struct opt_desc *d = opt_set_desc(dp->set, i);

    if (opt_desc_is_secret(d) && !dp->secrets)
        return buf_adds(out, has_value(opt_set_value(dp->set, i)) ?
                        "(set)" : "(not set)");
    return value_text(dp->set, i, out);
}

/* Columns taken by s: one per character, none for UTF-8 continuations. */
static size_t
columns(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Appends s padded with spaces to width columns, then two more. */
static int
add_cell(struct buf *out, const char *s, size_t width)
{
    size_t w = columns(s);
    int rc = buf_adds(out, s);

    for (; rc == 0 && w < width; w++)
        rc = buf_addc(out, ' ');
    return rc == 0 ? buf_adds(out, "  ") : rc;
}

static int
table_row(struct dump *dp, size_t name_w, const char *name,
          const char *value, const char *src, const char *origin)
{
    int rc = add_cell(&dp->out, name, name_w);

    if (rc == 0)
        rc = add_cell(&dp->out, value, 40);
    if (rc == 0)
        rc = add_cell(&dp->out, src, 7);
    if (rc == 0)
        rc = buf_addf(&dp->out, "%s\n", origin);
    return rc;
}

/*
 * One option's row.  Value and origin are outside text: control bytes
 * (and backslashes, so that the escapes read back unambiguously) are
 * escaped as in error messages, so that no value can split a row or
 * send the terminal an escape sequence.
 */
static int
table_option(struct dump *dp, size_t name_w, int i, struct buf *val,
             struct buf *esc)
{
    struct buf origin;
    int rc;

    buf_init(&origin);
    buf_reset(val);
    buf_reset(esc);
    rc = cell(dp, i, val);
    if (rc == 0)
        rc = opt_escape(esc, buf_str(val), false);
    if (rc == 0)
        rc = opt_escape(&origin, opt_set_origin(dp->set, i), false);
    if (rc == 0)
        rc = table_row(dp, name_w, opt_set_desc(dp->set, i)->name,
                       buf_str(esc),
                       opt_source_name(opt_set_source(dp->set, i)),
                       buf_str(&origin));
    buf_release(&origin);
    return rc;
}

static int
write_table(struct dump *dp)
{
    size_t n, name_w = 4;
    int *idx = rows(dp, &n);
    int rc = idx != NULL ? 0 : ERR_NOMEM;
    struct buf val, esc;

    for (size_t k = 0; rc == 0 && k < n; k++) {
        size_t w = columns(opt_set_desc(dp->set, idx[k])->name);

        name_w = w > name_w ? w : name_w;
    }
    if (rc == 0)
        rc = table_row(dp, name_w, "NAME", "VALUE", "SOURCE", "ORIGIN");
    buf_init(&val);
    buf_init(&esc);
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = table_option(dp, name_w, idx[k], &val, &esc);
    buf_release(&val);
    buf_release(&esc);
    free(idx);
    return rc;
}

/* One CSV field as Go's encoding/csv reads it back. */
static int
csv_field(const char *s, bool alone, struct buf *out)
{
    int rc;

    if (s[strcspn(s, ",\"\r\n")] == '\0' && !(alone && s[0] == '\0'))
        return buf_adds(out, s);
    rc = buf_addc(out, '"');
    for (; rc == 0 && *s != '\0'; s++)
        rc = *s == '"' ? buf_adds(out, "\"\"") : buf_addc(out, *s);
    return rc == 0 ? buf_addc(out, '"') : rc;
}

/* The value as text that Set reads back to the same value. */
static int
env_text(const struct opt_set *set, int i, struct buf *out)
{
    const struct opt_desc *d = opt_set_desc(set, i);
    const struct opt_value *v = opt_set_value(set, i);
    int rc = 0;

    if (d->type == OPT_STRUCT && v->js == NULL)
        return 0;
    if (d->type != OPT_STRING_ARRAY && d->type != OPT_ENUM_ARRAY)
        return value_text(set, i, out);
    for (size_t k = 0; rc == 0 && k < v->n; k++) {
        if (k > 0)
            rc = buf_addc(out, ',');
        if (rc == 0)
            rc = csv_field(v->list[k], v->n == 1, out);
    }
    return rc;
}

/* Appends s in single quotes, each quote written as '\''. */
static int
shell_quote(const char *s, struct buf *out)
{
    int rc = buf_addc(out, '\'');

    for (; rc == 0 && *s != '\0'; s++)
        rc = *s == '\'' ? buf_adds(out, "'\\''") : buf_addc(out, *s);
    return rc == 0 ? buf_addc(out, '\'') : rc;
}

/*
 * A deprecated option that env output leaves out: one at its default
 * (setting it would only draw a warning, and for the redirect option
 * change what the server does), or one whose value a replacement
 * already carries.  Its replacement's line says everything.
 */
static bool
is_redundant_alias(const struct opt_set *set, int i, struct buf *a,
                   struct buf *b)
{
    const struct opt_desc *d = opt_set_desc(set, i);
    bool same = false;

    if (d->use_instead == NULL || d->use_instead[0] == NULL)
        return false;
    if (!is_changed(set, i))
        return true;
    buf_reset(a);
    if (env_text(set, i, a) != 0)
        return false;
    for (size_t k = 0; !same && d->use_instead[k] != NULL; k++) {
        int r = opt_set_find(set, d->use_instead[k]);

        buf_reset(b);
        same = r >= 0 && env_text(set, r, b) == 0 &&
            strcmp(buf_str(a), buf_str(b)) == 0;
    }
    return same;
}

static int
env_line(struct dump *dp, int i, struct buf *val)
{
    const struct opt_desc *d = opt_set_desc(dp->set, i);
    int rc;

    if (opt_desc_is_secret(d) && !dp->secrets)
        return buf_addf(&dp->out, "# %s is secret (%s)\n", d->env,
                        has_value(opt_set_value(dp->set, i)) ?
                        "set" : "not set");
    if (d->type == OPT_HOSTPORT && opt_set_value(dp->set, i)->host[0] ==
        '\0' && opt_set_value(dp->set, i)->port[0] == '\0')
        return buf_addf(&dp->out, "# %s is empty; the environment "
                        "cannot set an empty host:port\n", d->env);
    buf_reset(val);
    rc = env_text(dp->set, i, val);
    if (rc == 0)
        rc = buf_addf(&dp->out, "%s=", d->env);
    if (rc == 0)
        rc = shell_quote(buf_str(val), &dp->out);
    return rc == 0 ? buf_addc(&dp->out, '\n') : rc;
}

static int
write_env(struct dump *dp)
{
    size_t n;
    int *idx = rows(dp, &n);
    int rc = idx != NULL ? 0 : ERR_NOMEM;
    struct buf val, other;

    buf_init(&val);
    buf_init(&other);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const struct opt_desc *d = opt_set_desc(dp->set, idx[k]);

        if (d->env == NULL ||
            opt_set_source(dp->set, idx[k]) == OPT_SRC_NONE ||
            is_redundant_alias(dp->set, idx[k], &val, &other))
            continue;
        rc = env_line(dp, idx[k], &val);
    }
    buf_release(&val);
    buf_release(&other);
    free(idx);
    return rc;
}

/* --- the command ------------------------------------------------------- */

static void
print_diag(const struct opt_diag *dg)
{
    for (size_t i = 0; i < dg->nwarnings; i++)
        fprintf(stderr, "coder-cfg: warning: %s\n", dg->warnings[i]);
    for (size_t i = 0; i < dg->nerrors; i++)
        fprintf(stderr, "coder-cfg: %s\n", dg->errors[i]);
}

/* Checks what resolution cannot; 0, or 2 after printing why. */
static int
check_args(struct dump *dp, const char *output)
{
    size_t nargs;
    char *const *args = opt_set_args(dp->set, &nargs);

    for (size_t i = 0; i < nargs; i++)
        fprintf(stderr, "coder-cfg: unexpected argument \"%s\"\n",
                args[i]);
    if (nargs > 0)
        return 2;
    if (dp->changed && util_ascii_ieq(output, "yaml")) {
        fputs("coder-cfg: --changed cannot be used with --output yaml: "
              "the YAML is always a whole config file (use --output env "
              "or table to see only the changed options)\n", stderr);
        return 2;
    }
    return 0;
}

/*
 * An external auth provider's client secret sits inside a value that
 * YAML writes whole, so without --show-secrets it is dropped first.
 */
static int
drop_auth_secrets(struct dump *dp)
{
    const char *name = "External Auth Providers";
    const struct opt_value *v = opt_set_get(dp->set, name);
    json_t *copy, *p;
    struct buf text;
    struct err e;
    size_t i;
    int rc;

    if (v->js == NULL || dp->secrets)
        return 0;
    copy = json_deep_copy(v->js);
    if (copy == NULL)
        return ERR_NOMEM;
    json_array_foreach(copy, i, p)
        json_object_del(p, "client_secret");

    buf_init(&text);
    rc = jsonx_dump(copy, &text, false);
    if (rc == 0)
        rc = opt_set_assign(dp->set, name, buf_str(&text), &e);
    buf_release(&text);
    json_decref(copy);
    return rc;
}

static int
write_output(struct dump *dp, const char *output)
{
    int rc;

    if (util_ascii_ieq(output, "yaml")) {
        rc = drop_auth_secrets(dp);
        return rc == 0 ? opt_set_write_yaml(dp->set, &dp->out) : rc;
    }
    if (util_ascii_ieq(output, "table"))
        return write_table(dp);
    if (util_ascii_ieq(output, "env"))
        return write_env(dp);
    return write_json(dp);
}

static int
flush(struct buf *b)
{
    if (fwrite(buf_str(b), 1, b->len, stdout) != b->len ||
        fflush(stdout) != 0) {
        fputs("coder-cfg: cannot write the output\n", stderr);
        return 1;
    }
    return 0;
}

/* Applies what the server changes at start-up, so dump shows it too. */
static int
server_rules(struct dump *dp, char **envp)
{
    struct opt_diag dg;
    int rc;

    opt_diag_init(&dg);
    rc = deployment_read_external_auth(dp->set, envp, &dg);
    if (rc == 0)
        rc = deployment_apply_server_rules(dp->set, envp, &dg);
    print_diag(&dg);
    opt_diag_release(&dg);
    return rc;
}

static int
run(struct dump *dp, int argc, char **argv, char **envp)
{
    struct opt_diag dg;
    const char *output;
    int rc;

    opt_diag_init(&dg);
    rc = opt_set_resolve(dp->set, argc, argv, envp, &dg);
    print_diag(&dg);
    opt_diag_release(&dg);
    if (rc == ERR_INVALID)
        return 2;
    if (rc != 0)
        goto fail;
    if (opt_set_bool(dp->set, "Dump Help")) {
        rc = opt_set_write_help(dp->set, usage, &dp->out);
        return rc == 0 ? flush(&dp->out) : 1;
    }

    rc = server_rules(dp, envp);
    if (rc == ERR_INVALID)
        return 2;
    if (rc != 0)
        goto fail;

    output = opt_set_str(dp->set, "Dump Output");
    dp->changed = opt_set_bool(dp->set, "Dump Changed");
    dp->secrets = opt_set_bool(dp->set, "Dump Show Secrets");
    rc = check_args(dp, output);
    if (rc != 0)
        return rc;
    rc = write_output(dp, output);
    if (rc == 0)
        return flush(&dp->out);
fail:
    fprintf(stderr, "coder-cfg: dump: %s\n", err_str(rc));
    return 1;
}

int
cmd_dump(int argc, char **argv, char **envp)
{
    struct dump dp = { 0 };
    int status = 1;

    if (dump_store_wanted(argc, argv))
        return cmd_dump_store(argc, argv, envp);
    buf_init(&dp.out);
    dp.set = deployment_set_new(envp);
    if (dp.set == NULL ||
        opt_set_add_local(dp.set, dump_options,
                          sizeof(dump_options) / sizeof(dump_options[0])))
        fputs("coder-cfg: dump: out of memory\n", stderr);
    else
        status = run(&dp, argc, argv, envp);
    opt_set_free(dp.set);
    buf_release(&dp.out);
    return status;
}
