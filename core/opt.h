/*
 * opt.h: the generic option engine.
 *
 * An option is described once by a struct opt_desc (static data in a
 * table such as core/deployment_options.c) and holds one struct opt_value
 * at run time.  A struct opt_set owns the values of one table, resolves
 * them from the environment, the command line, a YAML file and defaults
 * (in serpent's order, so that precedence is flag > env > YAML > default),
 * remembers for every option where its value came from, and writes the
 * results out as JSON, YAML or text.
 *
 * Invariants:
 * - Descriptors are never copied or freed; a set points into its table.
 * - Options whose descriptors have the same json_path share one value
 *   (a deprecated alias and its replacement).  The value is serpent's:
 *   when both names are given, the last write wins (env in name order,
 *   flags in argument order, YAML in name order, and YAML on one name
 *   even over env or a flag on the other).  Every option of the group
 *   then shows the source and origin of that last write, which is where
 *   the value in force came from, and a warning names both spellings.
 * - Nothing here prints.  Problems come back as lines in struct opt_diag.
 *
 * The value-type functions (optval_*) live in core/optval.c; the set and
 * resolver (opt_set_*) in core/opt.c; the YAML writer in core/opt_yaml.c.
 */
#ifndef CODER_CFG_OPT_H
#define CODER_CFG_OPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "buf.h"
#include "err.h"

/* Value types, options-semantics.md section 3. */
enum opt_type {
    OPT_BOOL,
    OPT_INT64,
    OPT_FLOAT64,
    OPT_STRING,
    OPT_STRING_ARRAY,
    OPT_DURATION,
    OPT_URL,
    OPT_HOSTPORT,
    OPT_STRUCT,
    OPT_ENUM,
    OPT_ENUM_ARRAY,
    OPT_REGEXP,
    OPT_YAML_PATH
};

/*
 * The check of a serpent.Validate(T) wrapper.  OPT_CHECK_NONE means the
 * type is not wrapped at all; any other value means Validate(T), which
 * changes YAML input and output (section 3.13).
 */
enum opt_check {
    OPT_CHECK_NONE,
    OPT_CHECK_PLAIN,          /* wrapped, but nothing to check */
    OPT_CHECK_WILDCARD,       /* the wildcard access URL pattern compiles */
    OPT_CHECK_AGG_LABELS,     /* agent_name, template_name, ... */
    OPT_CHECK_PROVISIONERS    /* terraform or echo */
};

/* What a Struct[T] holds. */
enum opt_struct_kind {
    OPT_STRUCT_NONE,
    OPT_STRUCT_LINKS,          /* []codersdk.LinkConfig */
    OPT_STRUCT_EXTERNAL_AUTH,  /* []codersdk.ExternalAuthConfig */
    OPT_STRUCT_MAP_STRING,     /* map[string]string */
    OPT_STRUCT_MAP_UUIDS,      /* map[string][]uuid.UUID */
    OPT_STRUCT_MAP_STRINGS     /* map[string][]string */
};

/* Annotations, written to JSON as {"name":"true"} in name order. */
enum opt_annotation {
    OPT_ANN_ENTERPRISE = 1 << 0,      /* "enterprise" */
    OPT_ANN_EXTERNAL_PROXIES = 1 << 1, /* "external_workspace_proxies" */
    OPT_ANN_FORMAT_DURATION = 1 << 2, /* "format_duration" */
    OPT_ANN_SECRET = 1 << 3           /* "secret" */
};

/* Where a value came from; the order is serpent's priority order. */
enum opt_source {
    OPT_SRC_NONE = 0,
    OPT_SRC_DEFAULT,
    OPT_SRC_YAML,
    OPT_SRC_ENV,
    OPT_SRC_FLAG
};

/*
 * An option group.  parent is NULL at the root; yaml is NULL for groups
 * with no YAML name (the "Config" group).
 */
struct opt_group {
    const struct opt_group *parent;
    const char *name;
    const char *yaml;
    const char *description;
};

/*
 * One option.  String fields are NULL when absent (never "").
 * use_instead names the replacement options by name, NULL-terminated,
 * or is NULL.  choices is the NULL-terminated list of an Enum or
 * EnumArray.  json_path is the dotted path of the value in the config
 * JSON (options-semantics.md section 9); options sharing it share storage.
 * Local options (flags of one command, such as dump's --output) use
 * json_path NULL and never appear in any output.
 */
struct opt_desc {
    const char *name;
    const char *description;
    const char *flag;
    const char *shorthand;
    const char *env;
    const char *yaml;
    const char *def;
    enum opt_type type;
    enum opt_check check;
    enum opt_struct_kind skind;
    const char *const *choices;
    const struct opt_group *group;
    unsigned annotations;
    bool hidden;
    const char *const *use_instead;
    const char *json_path;
};

/*
 * True when d carries OPT_ANN_SECRET (false for NULL).  A secret's value
 * never leaves the process: messages about a refused secret give its
 * length and a generic cause, never the text or the value layer's cause.
 */
bool opt_desc_is_secret(const struct opt_desc *d);

/*
 * A value.  Which members mean something depends on the type:
 *   Bool: b.  Int64: i.  Duration: i (nanoseconds).  Float64: f.
 *   String, URL (normalised text), Enum (as typed), Regexp (source),
 *   YAMLConfigPath: s, never NULL after optval_init.
 *   StringArray, EnumArray: list/n; nil is list == NULL, while an empty
 *   non-nil list has list != NULL and n == 0 (JSON [] rather than null).
 *   HostPort: host and port, never NULL after optval_init.
 *   Struct: js, a jansson value in the canonical JSON shape of T, or NULL
 *   for a nil slice or map (JSON null).
 *   Regexp: re is the compiled pcre2_code (opaque here), or NULL.
 * The value owns every pointer in it.
 */
struct opt_value {
    enum opt_type type;
    bool b;
    int64_t i;
    double f;
    char *s;
    char **list;
    size_t n;
    char *host;
    char *port;
    json_t *js;
    void *re;
};

/* --- value types (core/optval.c) ---------------------------------------- */

/* An empty value of type t (false, 0, "", nil list, empty host:port). */
int optval_init(struct opt_value *v, enum opt_type t);

/* Frees everything v owns; v must be re-initialised before reuse. */
void optval_release(struct opt_value *v);

/* Deep copy; dst must not be initialised. */
int optval_copy(struct opt_value *dst, const struct opt_value *src);

/*
 * serpent's Value.Set(text) for d's type, including the Validate check:
 * arrays append (or clear on ""), maps merge, enums match ignoring case.
 * On error v keeps a state Go would leave (documented per type in
 * options-semantics.md) and e holds the cause without the option's name,
 * e.g. "missing unit in duration \"90\"" or
 * "invalid choice: x, should be one of [a b]".
 */
int optval_set(struct opt_value *v, const struct opt_desc *d,
               const char *text, struct err *e);

/*
 * Applies one YAML node (options-semantics.md section 5, "How a node is
 * applied"), using the raw scalar text where serpent does.  doc and node
 * come from libyaml's document API.
 */
int optval_set_yaml(struct opt_value *v, const struct opt_desc *d,
                    yaml_document_t *doc, yaml_node_t *node, struct err *e);

/* serpent's String(): Go's duration text, the URL text, and so on. */
int optval_text(const struct opt_value *v, const struct opt_desc *d,
                struct buf *out);

/* Type(): "bool", "duration", "enum[password\|awsiamrds]", ... */
int optval_type_name(const struct opt_desc *d, struct buf *out);

/*
 * The value as it appears at options[].value (section 1 and 3): Enum as
 * {"Choices":[...],"Value":"..."}, durations as integer nanoseconds,
 * nil lists as null.  Returns a new reference, NULL when out of memory.
 */
json_t *optval_json(const struct opt_value *v, const struct opt_desc *d);

/*
 * The value as it appears in the config tree (section 7): like
 * optval_json except that an Enum is its plain string.
 */
json_t *optval_config_json(const struct opt_value *v,
                           const struct opt_desc *d);

/*
 * Appends the YAML form of the value for "key:<here>" in a block mapping
 * whose key sits at column indent: either " scalar", nothing at all for an
 * empty plain value, or a newline and an indented block (sequences at
 * indent + 2, as yaml.v3 writes them).  No trailing newline.
 */
int optval_yaml(const struct opt_value *v, const struct opt_desc *d,
                int indent, struct buf *out);

/* True when v equals the value that parsing d->def would give. */
bool optval_is_default(const struct opt_value *v, const struct opt_desc *d);

/* Go duration helpers, shared with anything that prints durations. */
int opt_duration_parse(const char *s, int64_t *ns, struct err *e);
void opt_duration_format(int64_t ns, char out[40]);

/*
 * Splits s as one CSV record with Go's encoding/csv defaults, appending
 * the fields to (*items, *n).  Nothing is appended on error.
 */
int opt_csv_split(const char *s, char ***items, size_t *n, struct err *e);

/*
 * Appends s with every byte that could break a line or drive a terminal
 * escaped: backslash as \\, newline \n, tab \t, other control bytes
 * (and DEL) as \xNN; with quote, '"' as \" too.  Other bytes, UTF-8
 * included, are copied.  Returns 0 or ERR_NOMEM / ERR_TOO_LARGE.
 */
int opt_escape(struct buf *out, const char *s, bool quote);

/* Writes a YAML scalar the way yaml.v3 would for a Go string. */
int opt_yaml_string(const char *s, int indent, struct buf *out);

/* --- the option set and resolver (core/opt.c) --------------------------- */

struct opt_set;

/* One problem or warning, already formatted in the house style. */
struct opt_diag {
    char **errors;
    size_t nerrors;
    char **warnings;
    size_t nwarnings;
};

void opt_diag_init(struct opt_diag *d);
void opt_diag_release(struct opt_diag *d);

/*
 * Appends one line, formatted from fmt, to d's warnings (warn) or errors.
 * Outside text goes in as an argument, never as fmt.  Returns 0 or
 * ERR_NOMEM.
 */
int opt_diag_add(struct opt_diag *d, bool warn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A new set over table[0..n), every value initialised empty, no sources.
 * The table must outlive the set.  Returns NULL when out of memory.
 */
struct opt_set *opt_set_new(const struct opt_desc *table, size_t n);

/* Frees the set and its values; NULL is a no-op. */
void opt_set_free(struct opt_set *set);

/*
 * Adds a command's local options (json_path NULL), which take part in flag
 * and env parsing but in no output.  The table must outlive the set.
 */
int opt_set_add_local(struct opt_set *set, const struct opt_desc *table,
                      size_t n);

/*
 * Replaces the default text of the option called name, for defaults that
 * depend on the build or the environment.  text is copied.
 */
int opt_set_set_default(struct opt_set *set, const char *name,
                        const char *text);

/*
 * Resolves every option from envp (NULL-terminated "NAME=value"), the
 * arguments argv[0..argc) that follow the command name, the YAML file
 * named by the YAMLConfigPath option, and the defaults.
 *
 * Returns 0, or ERR_INVALID when anything was wrong; then diag->errors has
 * one line per problem, all of them, each naming the option, the channel
 * in its own spelling (CODER_X, --x, file:line:col), the bad text and what
 * was expected.  Warnings (deprecated names actually used, unknown CODER_
 * variables with a suggestion) go to diag->warnings either way.
 * Positional arguments are kept; see opt_set_args.
 */
int opt_set_resolve(struct opt_set *set, int argc, char *const *argv,
                    char *const *envp, struct opt_diag *diag);

/* Positional arguments left after flag parsing. */
char *const *opt_set_args(const struct opt_set *set, size_t *n);

/* Number of non-local options, in table order. */
size_t opt_set_count(const struct opt_set *set);

/*
 * Number of options with the local ones, which follow the table's: the
 * indices opt_set_count(set) .. opt_set_count_all(set) - 1 are locals.
 */
size_t opt_set_count_all(const struct opt_set *set);

/* Index of the option named name (locals included), or -1. */
int opt_set_find(const struct opt_set *set, const char *name);

/* Index of the first option whose json_path is path, or -1. */
int opt_set_find_path(const struct opt_set *set, const char *path);

const struct opt_desc *opt_set_desc(const struct opt_set *set, int i);
const struct opt_value *opt_set_value(const struct opt_set *set, int i);
enum opt_source opt_set_source(const struct opt_set *set, int i);

/*
 * Where the value came from exactly: the env var name as found, the flag
 * as typed ("--access-url", "-c"), "file:line:col", or "default"; ""
 * when unset.
 */
const char *opt_set_origin(const struct opt_set *set, int i);

/*
 * The default text in force for option i (the table's, or one set with
 * opt_set_set_default), or NULL when it has none.  i may be -1 (NULL).
 */
const char *opt_set_default(const struct opt_set *set, int i);

/* Convenience look-ups by option name; the name must exist. */
bool opt_set_bool(const struct opt_set *set, const char *name);
int64_t opt_set_int(const struct opt_set *set, const char *name);
const char *opt_set_str(const struct opt_set *set, const char *name);
const struct opt_value *opt_set_get(const struct opt_set *set,
                                    const char *name);

/*
 * Sets the option called name to text after resolution, the way Coder's
 * server adjusts values in place (the source stays as it was; see
 * opt_set_mark).  The value is replaced, never appended to.  For a
 * host:port, "" clears it to the empty value, as Go's JSON input ""
 * does, although an operator's "" is refused.  Errors: ERR_NOT_FOUND for
 * an unknown name, ERR_INVALID (cause in e) for text the type refuses,
 * ERR_NOMEM; the value is unchanged on error.
 */
int opt_set_assign(struct opt_set *set, const char *name, const char *text,
                   struct err *e);

/*
 * Gives the option called name, and every option sharing its value, the
 * source src and the origin text (copied), for a value set after
 * resolution on behalf of another option ("--address") or of a variable
 * outside the table.  Errors: ERR_NOT_FOUND, ERR_NOMEM.
 */
int opt_set_mark(struct opt_set *set, const char *name, enum opt_source src,
                 const char *origin);

/* The source's word in the API: "flag", "env", "yaml", "default" or "". */
const char *opt_source_name(enum opt_source src);

/* Flags for the JSON writers. */
enum opt_json_flags {
    OPT_JSON_ORIGIN = 1 << 0,       /* add "origin" to each option */
    OPT_JSON_SHOW_SECRETS = 1 << 1  /* keep secret values (dump only) */
};

/*
 * The options array of GET /deployment/config (section 1): sorted by name
 * byte-wise, keys in serpent's order, secret options without "value",
 * also inside use_instead copies.  New reference, NULL on no memory.
 */
json_t *opt_set_options_json(const struct opt_set *set, unsigned flags);

/*
 * The YAML document of --write-config and dump --output yaml (section 6):
 * options in name order, nested under their groups, each with its
 * description and "(default: ..., type: ...)" comment.  Reading it back
 * gives the same values.  Unlike serpent, a deprecated option is left
 * out when it shares its value with a replacement or is at its default,
 * so that reading the file back draws no deprecation warning for values
 * the operator never gave.
 */
int opt_set_write_yaml(const struct opt_set *set, struct buf *out);

/*
 * Help text for a command: "USAGE:" with usage (a leading "usage: " is
 * dropped), then every visible option by group, local options included,
 * with flag, shorthand, env, default, type and description.
 */
int opt_set_write_help(const struct opt_set *set, const char *usage,
                       struct buf *out);

#endif
