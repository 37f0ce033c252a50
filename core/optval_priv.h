/*
 * optval_priv.h: what the optval_*.c files share with each other.
 *
 * Not a public header: everything outside core/optval*.c goes through the
 * value-type section of opt.h.  Functions here follow the same rules as
 * there: 0 or a negative ERR_ code, detail in an optional struct err.
 */
#ifndef CODER_CFG_OPTVAL_PRIV_H
#define CODER_CFG_OPTVAL_PRIV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "buf.h"
#include "err.h"
#include "opt.h"

/* The longest text any value parser accepts: 1 MiB. */
#define OPTVAL_TEXT_MAX ((size_t)1 << 20)

/*
 * Appends s in double quotes the way Go's %q does for printable text:
 * '"' and '\' escaped, control bytes as \n, \t, \r or \xNN.  Used to
 * quote the subject of a message.
 */
int optval_quote(struct buf *out, const char *s);

/* Frees a list of n strings and the array itself; NULL is a no-op. */
void optval_list_free(char **list, size_t n);

/* Appends a copy of s to (*list, *n). */
int optval_list_push(char ***list, size_t *n, const char *s);

/* True when s is valid UTF-8 the way Go's utf8.ValidString means it. */
bool optval_utf8_valid(const char *s, size_t len);

/*
 * Go's csv.Writer text for one record (the fields joined by ',', quoted
 * where Go quotes them, then "\n").
 */
int optval_csv_join(char *const *list, size_t n, struct buf *out);

/*
 * Parses s as Go's url.Parse does and puts url.URL.String() of the
 * result in *text (heap, the caller frees).  On error *text is untouched.
 */
int optval_url_normalise(const char *s, char **text, struct err *e);

/* --- scalar parsers (core/optval_scalar.c) --- */

/* strconv.ParseBool, with "" as false.  *b is false on error. */
int optval_parse_bool(const char *s, bool *b, struct err *e);

/* strconv.ParseInt base 10: 0 on bad syntax, the clamped limit past it. */
int optval_parse_int(const char *s, int64_t *i, struct err *e);

/* strconv.ParseFloat: 0 on bad syntax, an infinity past the range. */
int optval_parse_float(const char *s, double *f, struct err *e);

/*
 * strconv.FormatFloat(f, fmt, -1, 64) for fmt 'f' (Float64.String) or
 * 'g' (yaml.v3, with .inf, -.inf and .nan).
 */
int optval_format_float(double f, char fmt, struct buf *out);

/* HostPort.Set: "" is refused; a split error clears host and port. */
int optval_hostport_set(struct opt_value *v, const char *s, struct err *e);

/* HostPort.String: "" when both parts are empty, else JoinHostPort. */
int optval_hostport_text(const struct opt_value *v, struct buf *out);

/* 0 when s matches a choice ignoring case, else the "invalid choice". */
int optval_enum_check(const char *const *choices, const char *s,
                      struct err *e);

/* Compiles src as a Go regexp would be; *re is a pcre2_code. */
int optval_regexp_compile(const char *src, void **re, struct err *e);
void optval_regexp_free(void *re);
void *optval_regexp_copy(const void *re);

/* --- YAML helpers (core/optval_yaml.c) --- */

/* What a plain scalar resolves to in yaml.v3. */
enum optval_yres {
    OPTVAL_YRES_STR,
    OPTVAL_YRES_NULL,
    OPTVAL_YRES_BOOL,
    OPTVAL_YRES_INT,
    OPTVAL_YRES_FLOAT,
    OPTVAL_YRES_TIMESTAMP
};

enum optval_yres optval_yaml_resolve(const char *s);

/* True for a YAML null: a plain null spelling or an explicit !!null. */
bool optval_yaml_is_null(const yaml_node_t *n);

/* The scalar text of n ("" for other kinds). */
const char *optval_yaml_text(const yaml_node_t *n);

/*
 * Records yaml.v3's type error for n decoded into the Go type gotype:
 * "cannot unmarshal !!str `agent_n...` into []string".
 */
int optval_yaml_type_error(struct err *e, const yaml_node_t *n,
                           const char *gotype);

/* The i-th child of a sequence (NULL past the end). */
yaml_node_t *optval_yaml_item(yaml_document_t *doc, const yaml_node_t *n,
                              size_t i);

/* yaml.v3's decoding of a scalar into a Go bool, for struct fields. */
int optval_yaml_bool(const yaml_node_t *n, bool *b, struct err *e);

/* Writes a map key (a string in simple-key position), then ':'. */
int optval_yaml_key(const char *s, struct buf *out);

/* yaml.v3's comparison of two map keys (its "natural" sort). */
int optval_yaml_key_cmp(const char *a, const char *b);

/* --- Struct[T] (core/optval_struct.c) --- */

const char *optval_struct_go_type(enum opt_struct_kind k);

/* Struct.Set: YAML-decodes text into v->js (maps merge, slices replace). */
int optval_struct_set(struct opt_value *v, enum opt_struct_kind k,
                      const char *text, struct err *e);

/* Struct.UnmarshalYAML for one node of a config file. */
int optval_struct_set_node(struct opt_value *v, enum opt_struct_kind k,
                           yaml_document_t *doc, yaml_node_t *node,
                           struct err *e);

/* The JSON of T: a new reference, or NULL when out of memory. */
json_t *optval_struct_json(const struct opt_value *v,
                           enum opt_struct_kind k);

/* The YAML after "key:" for T (see optval_yaml); step is the indent. */
int optval_struct_yaml(const struct opt_value *v, enum opt_struct_kind k,
                       int indent, struct buf *out);

/* Struct.String(): YAML text of T with a trailing newline. */
int optval_struct_text(const struct opt_value *v, enum opt_struct_kind k,
                       struct buf *out);

#endif
