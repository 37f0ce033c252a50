/*
 * optval_struct.c: serpent.Struct[T] for the five T that Coder uses.
 *
 * The value is kept as jansson in the canonical JSON shape of T, with two
 * additions that JSON output removes again: ExternalAuthConfig keeps its
 * "client_secret" and "extra_token_keys" (json:"-" in Go, but written to
 * YAML) in their YAML places.  Structs hold every field in Go's field
 * order (LinkConfig's "location" only when not empty, as omitempty does);
 * maps keep their keys sorted byte-wise, as Go's JSON writes them.
 *
 * Decoding follows yaml.v3 into these Go types: a null leaves strings as
 * they were and makes slices and maps nil, null items of a slice are
 * dropped, unknown struct fields are ignored, maps merge into what is
 * there, and a value of the wrong shape is a "cannot unmarshal" error.
 * On an error the value is left as it was before the call.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "err.h"
#include "jsonx.h"
#include "opt.h"
#include "optval_priv.h"
#include "banned.h"

enum field_kind {
    F_STR,
    F_BOOL,
    F_LIST
};

struct field {
    const char *name;
    enum field_kind kind;
    bool yaml_only;       /* json:"-" */
    bool omitempty;
};

static const struct field link_fields[] = {
    { "name", F_STR, false, false },
    { "target", F_STR, false, false },
    { "icon", F_STR, false, false },
    { "location", F_STR, false, true },
};

static const struct field auth_fields[] = {
    { "type", F_STR, false, false },
    { "client_id", F_STR, false, false },
    { "client_secret", F_STR, true, false },
    { "id", F_STR, false, false },
    { "auth_url", F_STR, false, false },
    { "token_url", F_STR, false, false },
    { "validate_url", F_STR, false, false },
    { "revoke_url", F_STR, false, false },
    { "app_install_url", F_STR, false, false },
    { "app_installations_url", F_STR, false, false },
    { "no_refresh", F_BOOL, false, false },
    { "scopes", F_LIST, false, false },
    { "extra_token_keys", F_LIST, true, false },
    { "device_flow", F_BOOL, false, false },
    { "device_code_url", F_STR, false, false },
    { "mcp_url", F_STR, false, false },
    { "mcp_tool_allow_regex", F_STR, false, false },
    { "mcp_tool_deny_regex", F_STR, false, false },
    { "regex", F_STR, false, false },
    { "display_name", F_STR, false, false },
    { "display_icon", F_STR, false, false },
    { "code_challenge_methods_supported", F_LIST, false, false },
};

/* What one struct element type looks like. */
struct shape {
    const struct field *fields;
    size_t n;
    const char *elem;     /* the Go element type, for errors */
};

static const struct shape links = {
    link_fields, sizeof(link_fields) / sizeof(link_fields[0]),
    "codersdk.LinkConfig"
};

static const struct shape auths = {
    auth_fields, sizeof(auth_fields) / sizeof(auth_fields[0]),
    "codersdk.ExternalAuthConfig"
};

const char *
optval_struct_go_type(enum opt_struct_kind k)
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
    return "interface {}";
}

static bool
is_slice(enum opt_struct_kind k)
{
    return k == OPT_STRUCT_LINKS || k == OPT_STRUCT_EXTERNAL_AUTH;
}

static int
nomem(struct err *e)
{
    return err_set(e, ERR_NOMEM, "out of memory");
}

/* --- decoding ----------------------------------------------------------- */

static int
decode_list(yaml_document_t *doc, yaml_node_t *n, const char *gotype,
            json_t **out, struct err *e)
{
    yaml_node_t *item;
    size_t i;

    if (optval_yaml_is_null(n)) {
        *out = json_null();
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return optval_yaml_type_error(e, n, gotype);
    *out = json_array();
    if (*out == NULL)
        return nomem(e);
    for (i = 0; (item = optval_yaml_item(doc, n, i)) != NULL; i++) {
        if (item->type != YAML_SCALAR_NODE)
            return optval_yaml_type_error(e, item, "string");
        if (optval_yaml_is_null(item))
            continue;
        if (json_array_append_new(*out,
                                  jsonx_string(optval_yaml_text(item))) < 0)
            return nomem(e);
    }
    return 0;
}

static int
decode_field(yaml_document_t *doc, yaml_node_t *n, const struct field *f,
             json_t *obj, struct err *e)
{
    json_t *val = NULL;
    bool b = false;
    int rc;

    switch (f->kind) {
    case F_STR:
        if (optval_yaml_is_null(n))
            return 0;
        if (n->type != YAML_SCALAR_NODE)
            return optval_yaml_type_error(e, n, "string");
        val = jsonx_string(optval_yaml_text(n));
        break;
    case F_BOOL:
        b = json_is_true(json_object_get(obj, f->name));
        rc = optval_yaml_bool(n, &b, e);
        if (rc < 0)
            return rc;
        val = json_boolean(b);
        break;
    case F_LIST:
        rc = decode_list(doc, n, "[]string", &val, e);
        if (rc < 0) {
            json_decref(val);
            return rc;
        }
        break;
    }
    if (val == NULL || json_object_set_new(obj, f->name, val) < 0)
        return nomem(e);
    return 0;
}

static json_t *
empty_struct(const struct shape *sh)
{
    json_t *obj = json_object();
    size_t i;

    for (i = 0; obj != NULL && i < sh->n; i++) {
        const struct field *f = &sh->fields[i];
        json_t *zero = f->kind == F_STR ? json_string("") :
                       f->kind == F_BOOL ? json_false() : json_null();

        if (json_object_set_new(obj, f->name, zero) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static const struct field *
find_field(const struct shape *sh, const char *name)
{
    size_t i;

    for (i = 0; i < sh->n; i++) {
        if (strcmp(sh->fields[i].name, name) == 0)
            return &sh->fields[i];
    }
    return NULL;
}

/* Drops omitempty fields left empty. */
static void
drop_empty(const struct shape *sh, json_t *obj)
{
    size_t i;

    for (i = 0; i < sh->n; i++) {
        const char *s = json_string_value(json_object_get(obj,
                                                          sh->fields[i].name));

        if (sh->fields[i].omitempty && s != NULL && s[0] == '\0')
            json_object_del(obj, sh->fields[i].name);
    }
}

static int
decode_struct(yaml_document_t *doc, yaml_node_t *n, const struct shape *sh,
              json_t **out, struct err *e)
{
    yaml_node_pair_t *p;
    int rc = 0;

    if (n->type != YAML_MAPPING_NODE)
        return optval_yaml_type_error(e, n, sh->elem);
    *out = empty_struct(sh);
    if (*out == NULL)
        return nomem(e);
    for (p = n->data.mapping.pairs.start;
         rc == 0 && p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const struct field *f = find_field(sh, optval_yaml_text(k));

        if (k->type == YAML_SCALAR_NODE && f != NULL)
            rc = decode_field(doc, v, f, *out, e);
    }
    drop_empty(sh, *out);
    return rc;
}

static int
decode_slice(yaml_document_t *doc, yaml_node_t *n, const struct shape *sh,
             const char *gotype, json_t **out, struct err *e)
{
    yaml_node_t *item;
    size_t i;
    int rc = 0;

    *out = NULL;
    if (optval_yaml_is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return optval_yaml_type_error(e, n, gotype);
    *out = json_array();
    if (*out == NULL)
        return nomem(e);
    for (i = 0; rc == 0 && (item = optval_yaml_item(doc, n, i)); i++) {
        json_t *obj = NULL;

        if (optval_yaml_is_null(item))
            continue;
        rc = decode_struct(doc, item, sh, &obj, e);
        if (rc == 0 && json_array_append_new(*out, obj) < 0)
            rc = nomem(e);
        else if (rc < 0)
            json_decref(obj);
    }
    return rc;
}

static int
xval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/*
 * uuid.Parse's accepted forms (36 characters with dashes, the same
 * with "urn:uuid:" or inside braces, or 32 bare hex digits), written
 * back in the canonical lower-case form.
 */
static int
parse_uuid(const char *s, char out[37], struct err *e)
{
    static const int at[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26,
                                28, 30, 32, 34 };
    size_t len = strlen(s), i;
    bool bare = len == 32;

    if (len == 45 && strncasecmp(s, "urn:uuid:", 9) != 0)
        return err_set(e, ERR_INVALID, "invalid urn prefix: \"%.9s\"", s);
    if (len != 32 && len != 36 && len != 38 && len != 45)
        return err_set(e, ERR_INVALID, "invalid UUID length: %zu", len);
    s += len == 45 ? 9 : len == 38 ? 1 : 0;
    if (!bare && (s[8] != '-' || s[13] != '-' || s[18] != '-' ||
                  s[23] != '-'))
        return err_set(e, ERR_INVALID, "invalid UUID format");
    for (i = 0; i < 16; i++) {
        const char *h = s + (bare ? (int)i * 2 : at[i]);

        if (xval(h[0]) < 0 || xval(h[1]) < 0)
            return err_set(e, ERR_INVALID, "invalid UUID format");
    }
    for (i = 0; i < 16; i++) {
        const char *h = s + (bare ? (int)i * 2 : at[i]);
        char *o = out + at[i];

        o[0] = (char)(h[0] | (h[0] >= 'A' ? 0x20 : 0));
        o[1] = (char)(h[1] | (h[1] >= 'A' ? 0x20 : 0));
    }
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
    return 0;
}

static int
decode_uuids(yaml_document_t *doc, yaml_node_t *n, json_t **out,
             struct err *e)
{
    yaml_node_t *item;
    char id[37];
    size_t i;
    int rc;

    if (optval_yaml_is_null(n)) {
        *out = json_null();
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return optval_yaml_type_error(e, n, "[]uuid.UUID");
    *out = json_array();
    if (*out == NULL)
        return nomem(e);
    for (i = 0; (item = optval_yaml_item(doc, n, i)) != NULL; i++) {
        if (item->type != YAML_SCALAR_NODE)
            return optval_yaml_type_error(e, item, "uuid.UUID");
        if (optval_yaml_is_null(item))
            continue;
        rc = parse_uuid(optval_yaml_text(item), id, e);
        if (rc < 0)
            return rc;
        if (json_array_append_new(*out, json_string(id)) < 0)
            return nomem(e);
    }
    return 0;
}

static int
decode_map_value(yaml_document_t *doc, yaml_node_t *n,
                 enum opt_struct_kind k, json_t **out, struct err *e)
{
    *out = NULL;
    if (k == OPT_STRUCT_MAP_UUIDS)
        return decode_uuids(doc, n, out, e);
    if (k == OPT_STRUCT_MAP_STRINGS)
        return decode_list(doc, n, "[]string", out, e);
    if (optval_yaml_is_null(n)) {
        *out = json_string("");
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE)
        return optval_yaml_type_error(e, n, "string");
    *out = jsonx_string(optval_yaml_text(n));
    return 0;
}

/*
 * One key: value of a map.  A null value only creates a missing key
 * (yaml.v3 never overwrites an existing entry with a null).
 */
static int
decode_pair(yaml_document_t *doc, yaml_node_pair_t *p,
            enum opt_struct_kind k, json_t *map, bool fresh, struct err *e)
{
    yaml_node_t *kn = yaml_document_get_node(doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(doc, p->value);
    const char *key = optval_yaml_text(kn);
    json_t *val = NULL;
    int rc;

    if (kn->type != YAML_SCALAR_NODE)
        return optval_yaml_type_error(e, kn, "string");
    if (optval_yaml_is_null(kn))
        return 0;
    rc = decode_map_value(doc, vn, k, &val, e);
    if (rc < 0) {
        json_decref(val);
        return rc;
    }
    if (optval_yaml_is_null(vn) && !fresh &&
        json_object_get(map, key) != NULL) {
        json_decref(val);
        return 0;
    }
    if (val == NULL || json_object_set_new_nocheck(map, key, val) < 0)
        return nomem(e);
    return 0;
}

/*
 * Decodes a mapping node into a copy of *js (NULL for a nil map); on
 * success *js is replaced by the merged map, keys sorted.
 */
static int
decode_map(yaml_document_t *doc, yaml_node_t *n, enum opt_struct_kind k,
           json_t **js, struct err *e)
{
    yaml_node_pair_t *p;
    json_t *work, *sorted;
    bool fresh = *js == NULL;
    int rc = 0;

    if (optval_yaml_is_null(n)) {
        json_decref(*js);
        *js = NULL;
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE)
        return optval_yaml_type_error(e, n, optval_struct_go_type(k));
    work = fresh ? json_object() : json_deep_copy(*js);
    if (work == NULL)
        return nomem(e);
    for (p = n->data.mapping.pairs.start;
         rc == 0 && p < n->data.mapping.pairs.top; p++)
        rc = decode_pair(doc, p, k, work, fresh, e);
    sorted = rc == 0 ? jsonx_sorted_copy(work) : NULL;
    json_decref(work);
    if (rc == 0 && sorted == NULL)
        rc = nomem(e);
    if (rc < 0)
        return rc;
    json_decref(*js);
    *js = sorted;
    return 0;
}

/* Decodes node into v as yaml.v3 decodes into T. */
static int
decode_value(struct opt_value *v, enum opt_struct_kind k,
             yaml_document_t *doc, yaml_node_t *node, struct err *e)
{
    json_t *slice = NULL;
    int rc;

    if (!is_slice(k))
        return decode_map(doc, node, k, &v->js, e);
    rc = decode_slice(doc, node, k == OPT_STRUCT_LINKS ? &links : &auths,
                      optval_struct_go_type(k), &slice, e);
    if (rc < 0) {
        json_decref(slice);
        return rc;
    }
    json_decref(v->js);
    v->js = slice;
    return 0;
}

/* yaml.v3's parse error text, with its choice of line number. */
static int
load_error(yaml_parser_t *p, struct err *e)
{
    size_t line = p->context_mark.line != 0 ? p->context_mark.line
                                            : p->problem_mark.line;
    const char *msg = p->problem != NULL ? p->problem
                                         : "unknown problem parsing YAML "
                                           "content";

    if (p->error == YAML_MEMORY_ERROR)
        return nomem(e);
    if (line != 0 && p->error == YAML_SCANNER_ERROR)
        line++;
    if (line == 0)
        return err_set(e, ERR_INVALID, "yaml: %s", msg);
    return err_set(e, ERR_INVALID, "yaml: line %zu: %s", line, msg);
}

int
optval_struct_set(struct opt_value *v, enum opt_struct_kind k,
                  const char *text, struct err *e)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    int rc;

    if (!yaml_parser_initialize(&parser))
        return nomem(e);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text,
                                 strlen(text));
    if (!yaml_parser_load(&parser, &doc)) {
        rc = load_error(&parser, e);
        yaml_parser_delete(&parser);
        return rc;
    }
    root = yaml_document_get_root_node(&doc);
    rc = root == NULL ? 0 : decode_value(v, k, &doc, root, e);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int
optval_struct_set_node(struct opt_value *v, enum opt_struct_kind k,
                       yaml_document_t *doc, yaml_node_t *node,
                       struct err *e)
{
    bool childless = node->type == YAML_SCALAR_NODE ||
                     (node->type == YAML_SEQUENCE_NODE &&
                      optval_yaml_item(doc, node, 0) == NULL) ||
                     (node->type == YAML_MAPPING_NODE &&
                      node->data.mapping.pairs.start ==
                      node->data.mapping.pairs.top);

    /* serpent's HACK: a slice given a node without children is nil. */
    if (is_slice(k) && childless) {
        json_decref(v->js);
        v->js = NULL;
        return 0;
    }
    return decode_value(v, k, doc, node, e);
}

/* --- output ------------------------------------------------------------- */

static json_t *
without_yaml_only(json_t *obj)
{
    json_t *out = json_deep_copy(obj);
    size_t i;

    for (i = 0; out != NULL && i < auths.n; i++) {
        if (auths.fields[i].yaml_only)
            json_object_del(out, auths.fields[i].name);
    }
    return out;
}

json_t *
optval_struct_json(const struct opt_value *v, enum opt_struct_kind k)
{
    json_t *out, *item;
    size_t i;

    if (v->js == NULL)
        return json_null();
    if (k != OPT_STRUCT_EXTERNAL_AUTH)
        return json_deep_copy(v->js);
    out = json_array();
    json_array_foreach(v->js, i, item) {
        if (out != NULL &&
            json_array_append_new(out, without_yaml_only(item)) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

static int
newline_at(struct buf *out, int col)
{
    int rc = buf_addc(out, '\n');

    while (rc == 0 && col-- > 0)
        rc = buf_addc(out, ' ');
    return rc;
}

/* A []string as the value of a key at column col. */
static int
list_yaml(const json_t *list, int col, struct buf *out)
{
    const json_t *item;
    size_t i;
    int rc = 0;

    if (json_array_size(list) == 0)
        return buf_adds(out, " []");
    json_array_foreach(list, i, item) {
        if (rc == 0)
            rc = newline_at(out, col + 2);
        if (rc == 0)
            rc = buf_adds(out, "- ");
        if (rc == 0)
            rc = opt_yaml_string(json_string_value(item), col + 2, out);
    }
    return rc;
}

/* Any value of our shapes after "key:" at column col. */
static int
value_yaml(const json_t *v, int col, struct buf *out)
{
    int rc;

    if (json_is_boolean(v))
        return buf_adds(out, json_is_true(v) ? " true" : " false");
    if (json_is_string(v)) {
        rc = buf_addc(out, ' ');
        return rc == 0 ? opt_yaml_string(json_string_value(v), col, out)
                       : rc;
    }
    return list_yaml(v, col, out);
}

/* A struct whose keys sit at column col, the first after "- ". */
static int
struct_yaml(const json_t *obj, int col, struct buf *out)
{
    const char *key;
    json_t *val;
    bool first = true;
    int rc = 0;

    json_object_foreach((json_t *)obj, key, val) {
        if (rc == 0 && !first)
            rc = newline_at(out, col);
        if (rc == 0)
            rc = buf_addf(out, "%s:", key);
        if (rc == 0)
            rc = value_yaml(val, col, out);
        first = false;
    }
    return rc;
}

static int
slice_yaml(const json_t *js, int indent, struct buf *out)
{
    const json_t *item;
    size_t i;
    int rc = 0;

    if (json_array_size(js) == 0)
        return buf_adds(out, " []");
    json_array_foreach(js, i, item) {
        if (rc == 0)
            rc = newline_at(out, indent + 2);
        if (rc == 0)
            rc = buf_adds(out, "- ");
        if (rc == 0)
            rc = struct_yaml(item, indent + 4, out);
    }
    return rc;
}

static int
key_cmp(const void *a, const void *b)
{
    return optval_yaml_key_cmp(*(const char *const *)a,
                               *(const char *const *)b);
}

/* A map in yaml.v3's key order, its keys at column indent + 2. */
static int
map_yaml(json_t *js, int indent, struct buf *out)
{
    size_t n = json_object_size(js), i = 0;
    const char **keys;
    const char *key;
    json_t *val;
    int rc = 0;

    if (n == 0)
        return buf_adds(out, " {}");
    keys = calloc(n, sizeof(*keys));
    if (keys == NULL)
        return ERR_NOMEM;
    json_object_foreach(js, key, val)
        keys[i++] = key;
    qsort(keys, n, sizeof(*keys), key_cmp);
    for (i = 0; rc == 0 && i < n; i++) {
        rc = newline_at(out, indent + 2);
        if (rc == 0)
            rc = optval_yaml_key(keys[i], out);
        if (rc == 0)
            rc = value_yaml(json_object_get(js, keys[i]), indent + 2, out);
    }
    free(keys);
    return rc;
}

int
optval_struct_yaml(const struct opt_value *v, enum opt_struct_kind k,
                   int indent, struct buf *out)
{
    if (is_slice(k))
        return slice_yaml(v->js, indent, out);
    if (v->js == NULL)
        return buf_adds(out, " {}");
    return map_yaml(v->js, indent, out);
}

/*
 * Struct.String() is yaml.Marshal's text.  We write the same block at
 * the left margin (yaml.Marshal indents nested blocks by 4, we by 2).
 */
int
optval_struct_text(const struct opt_value *v, enum opt_struct_kind k,
                   struct buf *out)
{
    struct buf tmp;
    int rc;

    buf_init(&tmp);
    rc = optval_struct_yaml(v, k, -2, &tmp);
    if (rc == 0)
        rc = buf_adds(out, buf_str(&tmp) + (tmp.len > 0 ? 1 : 0));
    if (rc == 0)
        rc = buf_addc(out, '\n');
    buf_release(&tmp);
    return rc;
}
