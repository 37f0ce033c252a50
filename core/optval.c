/*
 * optval.c: serpent's value types: lifecycle, Set, String, Type, JSON.
 *
 * The parsers live next door (optval_scalar.c, optval_duration.c,
 * optval_csv.c, optval_url.c, optval_struct.c) and the YAML side in
 * optval_yaml.c; this file dispatches on the option's type and runs the
 * Validate(T) checks after a successful Set, as serpent's wrapper does.
 * A failed check leaves the new value in place, as Go does.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "jsonx.h"
#include "opt.h"
#include "optval_priv.h"
#include "banned.h"

/* serpent's StringArray.String never flushes its 4 KiB csv buffer. */
#define CSV_FLUSH_SIZE 4096

int
optval_init(struct opt_value *v, enum opt_type t)
{
    memset(v, 0, sizeof(*v));
    v->type = t;
    v->s = strdup("");
    v->host = strdup("");
    v->port = strdup("");
    if (v->s == NULL || v->host == NULL || v->port == NULL) {
        optval_release(v);
        return ERR_NOMEM;
    }
    return 0;
}

void
optval_release(struct opt_value *v)
{
    free(v->s);
    optval_list_free(v->list, v->n);
    free(v->host);
    free(v->port);
    json_decref(v->js);
    optval_regexp_free(v->re);
    memset(v, 0, sizeof(*v));
}

static int
copy_list(struct opt_value *dst, const struct opt_value *src)
{
    size_t i;

    if (src->list == NULL)
        return 0;
    /* An empty non-nil list stays non-nil. */
    dst->list = calloc(src->n + 1, sizeof(*dst->list));
    if (dst->list == NULL)
        return ERR_NOMEM;
    for (i = 0; i < src->n; i++) {
        dst->list[i] = strdup(src->list[i]);
        if (dst->list[i] == NULL)
            return ERR_NOMEM;
        dst->n++;
    }
    return 0;
}

int
optval_copy(struct opt_value *dst, const struct opt_value *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->type = src->type;
    dst->b = src->b;
    dst->i = src->i;
    dst->f = src->f;
    dst->s = strdup(src->s);
    dst->host = strdup(src->host);
    dst->port = strdup(src->port);
    if (src->js != NULL)
        dst->js = json_deep_copy(src->js);
    if (src->re != NULL)
        dst->re = optval_regexp_copy(src->re);
    if (dst->s == NULL || dst->host == NULL || dst->port == NULL ||
        (src->js != NULL && dst->js == NULL) ||
        (src->re != NULL && dst->re == NULL) || copy_list(dst, src) < 0) {
        optval_release(dst);
        return ERR_NOMEM;
    }
    return 0;
}

static int
replace_str(char **slot, const char *s, struct err *e)
{
    char *copy = strdup(s);

    if (copy == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return 0;
}

static void
clear_list(struct opt_value *v)
{
    optval_list_free(v->list, v->n);
    v->list = NULL;
    v->n = 0;
}

/* EnumArray.Set: every item must be a choice before any is appended. */
static int
set_enum_array(struct opt_value *v, const struct opt_desc *d,
               const char *text, struct err *e)
{
    char **items = NULL;
    size_t n = 0, i;
    int rc;

    if (text[0] == '\0') {
        clear_list(v);
        return 0;
    }
    rc = opt_csv_split(text, &items, &n, e);
    for (i = 0; rc == 0 && i < n; i++)
        rc = optval_enum_check(d->choices, items[i], e);
    for (i = 0; rc == 0 && i < n; i++)
        rc = optval_list_push(&v->list, &v->n, items[i]);
    optval_list_free(items, n);
    return rc;
}

static int
set_regexp(struct opt_value *v, const char *text, struct err *e)
{
    void *re = NULL;
    int rc = optval_regexp_compile(text, &re, e);

    if (rc == 0)
        rc = replace_str(&v->s, text, e);
    if (rc < 0) {
        optval_regexp_free(re);
        return rc;
    }
    optval_regexp_free(v->re);
    v->re = re;
    return 0;
}

static int
set_url(struct opt_value *v, const char *text, struct err *e)
{
    char *norm = NULL;
    int rc = optval_url_normalise(text, &norm, e);

    if (rc < 0)
        return rc;
    free(v->s);
    v->s = norm;
    return 0;
}

static int
set_value(struct opt_value *v, const struct opt_desc *d, const char *text,
          struct err *e)
{
    switch (d->type) {
    case OPT_BOOL:
        return optval_parse_bool(text, &v->b, e);
    case OPT_INT64:
        return optval_parse_int(text, &v->i, e);
    case OPT_FLOAT64:
        return optval_parse_float(text, &v->f, e);
    case OPT_STRING:
    case OPT_YAML_PATH:
        return replace_str(&v->s, text, e);
    case OPT_STRING_ARRAY:
        if (text[0] == '\0') {
            clear_list(v);
            return 0;
        }
        return opt_csv_split(text, &v->list, &v->n, e);
    case OPT_DURATION:
        return opt_duration_parse(text, &v->i, e);
    case OPT_URL:
        return set_url(v, text, e);
    case OPT_HOSTPORT:
        return optval_hostport_set(v, text, e);
    case OPT_STRUCT:
        return optval_struct_set(v, d->skind, text, e);
    case OPT_ENUM:
        if (optval_enum_check(d->choices, text, e) < 0)
            return ERR_INVALID;
        return replace_str(&v->s, text, e);
    case OPT_ENUM_ARRAY:
        return set_enum_array(v, d, text, e);
    case OPT_REGEXP:
        return set_regexp(v, text, e);
    }
    return err_set(e, ERR_INTERNAL, "unknown value type %d", (int)d->type);
}

/* A DNS label, with '*' standing for a letter where it may appear. */
static bool
label_ok(const char *s, size_t len, bool star)
{
    size_t i;

    if (len == 0 || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || (star && c == '*')))
            return false;
    }
    return true;
}

/*
 * Coder compiles the wildcard access URL into a hostname pattern.  We
 * check the same shape: an optional ":port" aside, the lower-cased text
 * has no scheme, at least two dot-separated labels, none empty, and
 * exactly one '*', which sits in the first label; every label is letters,
 * digits and inner hyphens.
 */
static const char *
wildcard_problem(const char *s)
{
    const char *colon = strchr(s, ':');
    size_t len = colon != NULL ? (size_t)(colon - s) : strlen(s);
    const char *dot = memchr(s, '.', len);
    const char *star = memchr(s, '*', len);
    size_t i, start = 0;

    if (strstr(s, "://") != NULL)
        return "must not contain a scheme";
    if (colon != NULL && (colon[1] == '\0' ||
                          strspn(colon + 1, "0123456789") !=
                          strlen(colon + 1)))
        return "has an invalid port";
    if (dot == NULL)
        return "must contain at least two labels";
    if (star == NULL || memchr(star + 1, '*', len - (size_t)(star - s) - 1))
        return "must contain exactly one asterisk";
    if (star > dot)
        return "must only contain an asterisk in the first label";
    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (!label_ok(s + start, i - start, start == 0))
            return "contains an invalid label";
        start = i + 1;
    }
    return NULL;
}

static int
check_wildcard(const char *s, struct err *e)
{
    char *low = strdup(s);
    const char *why;
    size_t i;

    if (low == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; low[i] != '\0'; i++) {
        if (low[i] >= 'A' && low[i] <= 'Z')
            low[i] = (char)(low[i] + 32);
    }
    why = low[0] == '\0' ? NULL : wildcard_problem(low);
    free(low);
    if (why != NULL)
        return err_set(e, ERR_INVALID, "invalid wildcard access URL "
                       "\"%s\": hostname pattern %s", s, why);
    return 0;
}

static bool
in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; list++) {
        if (strcmp(s, *list) == 0)
            return true;
    }
    return false;
}

static int
check_items(const struct opt_value *v, enum opt_check check,
            struct err *e)
{
    static const char *const labels[] = { "agent_name", "template_name",
                                          "username", "workspace_name",
                                          NULL };
    static const char *const provisioners[] = { "echo", "terraform", NULL };
    size_t i;

    for (i = 0; i < v->n; i++) {
        if (check == OPT_CHECK_AGG_LABELS && !in_list(v->list[i], labels))
            return err_set(e, ERR_INVALID, "\"%s\" is not a valid "
                           "aggregation label; only one or more of "
                           "[\"agent_name\" \"template_name\" \"username\" "
                           "\"workspace_name\"] are acceptable",
                           v->list[i]);
        if (check == OPT_CHECK_PROVISIONERS &&
            !in_list(v->list[i], provisioners))
            return err_set(e, ERR_INVALID, "provisioner type '%s' is not "
                           "supported", v->list[i]);
    }
    return 0;
}

static int
run_check(const struct opt_value *v, const struct opt_desc *d,
          struct err *e)
{
    switch (d->check) {
    case OPT_CHECK_NONE:
    case OPT_CHECK_PLAIN:
        return 0;
    case OPT_CHECK_WILDCARD:
        return check_wildcard(v->s, e);
    case OPT_CHECK_AGG_LABELS:
    case OPT_CHECK_PROVISIONERS:
        return check_items(v, d->check, e);
    }
    return 0;
}

int
optval_set(struct opt_value *v, const struct opt_desc *d, const char *text,
           struct err *e)
{
    int rc;

    if (v->type != d->type)
        return err_set(e, ERR_INTERNAL, "value of type %d used for an "
                       "option of type %d", (int)v->type, (int)d->type);
    if (strlen(text) > OPTVAL_TEXT_MAX)
        return err_set(e, ERR_TOO_LARGE, "value is too large");
    rc = set_value(v, d, text, e);
    if (rc == 0)
        rc = run_check(v, d, e);
    return rc;
}

/* StringArray.String: the unflushed csv.Writer keeps whole 4 KiB blocks. */
static int
list_text(const struct opt_value *v, struct buf *out)
{
    struct buf csv;
    int rc;

    buf_init(&csv);
    rc = optval_csv_join(v->list, v->n, &csv);
    if (rc == 0)
        rc = buf_add(out, csv.data, csv.len / CSV_FLUSH_SIZE *
                     CSV_FLUSH_SIZE);
    buf_release(&csv);
    return rc;
}

int
optval_text(const struct opt_value *v, const struct opt_desc *d,
            struct buf *out)
{
    char dur[40];

    switch (d->type) {
    case OPT_BOOL:
        return buf_adds(out, v->b ? "true" : "false");
    case OPT_INT64:
        return buf_addf(out, "%" PRId64, v->i);
    case OPT_FLOAT64:
        return optval_format_float(v->f, 'f', out);
    case OPT_STRING_ARRAY:
    case OPT_ENUM_ARRAY:
        return list_text(v, out);
    case OPT_DURATION:
        opt_duration_format(v->i, dur);
        return buf_adds(out, dur);
    case OPT_HOSTPORT:
        return optval_hostport_text(v, out);
    case OPT_STRUCT:
        return optval_struct_text(v, d->skind, out);
    case OPT_STRING:
    case OPT_URL:
    case OPT_ENUM:
    case OPT_REGEXP:
    case OPT_YAML_PATH:
        return buf_adds(out, v->s);
    }
    return ERR_INTERNAL;
}

static int
choices_name(const char *head, const char *const *choices, struct buf *out)
{
    size_t i;
    int rc = buf_addf(out, "%s[", head);

    for (i = 0; rc == 0 && choices != NULL && choices[i] != NULL; i++)
        rc = buf_addf(out, "%s%s", i > 0 ? "\\|" : "", choices[i]);
    return rc == 0 ? buf_addc(out, ']') : rc;
}

int
optval_type_name(const struct opt_desc *d, struct buf *out)
{
    static const char *const names[] = {
        [OPT_BOOL] = "bool",
        [OPT_INT64] = "int",
        [OPT_FLOAT64] = "float64",
        [OPT_STRING] = "string",
        [OPT_STRING_ARRAY] = "string-array",
        [OPT_DURATION] = "duration",
        [OPT_URL] = "url",
        [OPT_HOSTPORT] = "host:port",
        [OPT_REGEXP] = "regexp",
        [OPT_YAML_PATH] = "yaml-config-path",
    };

    if (d->type == OPT_ENUM)
        return choices_name("enum", d->choices, out);
    if (d->type == OPT_ENUM_ARRAY)
        return choices_name("enum-array", d->choices, out);
    if (d->type == OPT_STRUCT)
        return buf_addf(out, "struct[%s]", optval_struct_go_type(d->skind));
    if ((size_t)d->type >= sizeof(names) / sizeof(names[0]) ||
        names[d->type] == NULL)
        return ERR_INTERNAL;
    return buf_adds(out, names[d->type]);
}

static json_t *
list_json(char *const *list, size_t n)
{
    json_t *a;
    size_t i;

    if (list == NULL)
        return json_null();
    a = json_array();
    for (i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, jsonx_string(list[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* serpent's Enum and EnumArray have no JSON methods: {Choices, Value}. */
static json_t *
enum_json(const struct opt_desc *d, json_t *value)
{
    size_t n = 0;
    json_t *o;

    while (d->choices != NULL && d->choices[n] != NULL)
        n++;
    o = json_object();
    if (o == NULL || value == NULL ||
        json_object_set_new(o, "Choices",
                            list_json((char *const *)d->choices, n)) < 0 ||
        json_object_set(o, "Value", value) < 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(value);
    return o;
}

static json_t *
value_json(const struct opt_value *v, const struct opt_desc *d,
           bool options)
{
    struct buf hp;
    json_t *j;

    switch (d->type) {
    case OPT_BOOL:
        return json_boolean(v->b);
    case OPT_INT64:
    case OPT_DURATION:
        return json_integer(v->i);
    case OPT_FLOAT64:
        return jsonx_real(v->f);
    case OPT_STRING_ARRAY:
        return list_json(v->list, v->n);
    case OPT_HOSTPORT:
        buf_init(&hp);
        j = optval_hostport_text(v, &hp) == 0 ? jsonx_string(buf_str(&hp))
                                              : NULL;
        buf_release(&hp);
        return j;
    case OPT_STRUCT:
        return optval_struct_json(v, d->skind);
    case OPT_ENUM:
        j = jsonx_string(v->s);
        return options ? enum_json(d, j) : j;
    case OPT_ENUM_ARRAY:
        j = list_json(v->list, v->n);
        return options ? enum_json(d, j) : j;
    case OPT_STRING:
    case OPT_URL:
    case OPT_REGEXP:
    case OPT_YAML_PATH:
        return jsonx_string(v->s);
    }
    return NULL;
}

json_t *
optval_json(const struct opt_value *v, const struct opt_desc *d)
{
    return value_json(v, d, true);
}

json_t *
optval_config_json(const struct opt_value *v, const struct opt_desc *d)
{
    return value_json(v, d, false);
}

static bool
lists_equal(const struct opt_value *a, const struct opt_value *b)
{
    size_t i;

    if (a->n != b->n)
        return false;
    for (i = 0; i < a->n; i++) {
        if (strcmp(a->list[i], b->list[i]) != 0)
            return false;
    }
    return true;
}

static bool
values_equal(const struct opt_value *a, const struct opt_value *b,
             enum opt_type t)
{
    switch (t) {
    case OPT_BOOL:
        return a->b == b->b;
    case OPT_INT64:
    case OPT_DURATION:
        return a->i == b->i;
    case OPT_FLOAT64:
        return a->f == b->f;
    case OPT_STRING_ARRAY:
    case OPT_ENUM_ARRAY:
        return lists_equal(a, b);
    case OPT_HOSTPORT:
        return strcmp(a->host, b->host) == 0 &&
               strcmp(a->port, b->port) == 0;
    case OPT_STRUCT:
        return (a->js == NULL && b->js == NULL) ||
               (a->js != NULL && b->js != NULL && json_equal(a->js, b->js));
    case OPT_STRING:
    case OPT_URL:
    case OPT_ENUM:
    case OPT_REGEXP:
    case OPT_YAML_PATH:
        return strcmp(a->s, b->s) == 0;
    }
    return false;
}

/*
 * Lists compare by their items, so a nil list and an empty one are both
 * "the default" of an option with no default.
 */
bool
optval_is_default(const struct opt_value *v, const struct opt_desc *d)
{
    struct opt_value def;
    bool same;

    if (optval_init(&def, d->type) < 0)
        return false;
    if (d->def != NULL && optval_set(&def, d, d->def, NULL) < 0) {
        optval_release(&def);
        return false;
    }
    same = values_equal(v, &def, d->type);
    optval_release(&def);
    return same;
}
