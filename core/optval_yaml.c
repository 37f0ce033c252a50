/*
 * optval_yaml.c: values as yaml.v3 writes them, and YAML nodes applied
 * to values as serpent applies them.
 *
 * Writing follows the emitter's rules for one scalar: analyse the text
 * (indicators, leading or trailing space, line breaks, unprintable
 * characters), then take the wanted style if the analysis allows it,
 * else single quotes, else double quotes.  Go strings want plain style
 * unless they would read back as another type (then double quotes) or
 * hold a newline (then a literal block); values with their own
 * MarshalYAML (Duration, URL, HostPort, Enum, Regexp) are untagged nodes
 * and so always want plain.  Lines are never folded: yaml.v3 sets no
 * width limit.  One deliberate difference: a string holding U+0085,
 * U+2028 or U+2029 is double-quoted, where yaml.v3 would write the raw
 * character inside single quotes.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "opt.h"
#include "optval_priv.h"
#include "banned.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

enum style {
    ST_PLAIN,
    ST_SINGLE,
    ST_DOUBLE,
    ST_LITERAL
};

/* The emitter's verdict on one scalar. */
struct verdict {
    bool multiline;
    bool plain;           /* block plain allowed */
    bool single;
    bool block;
};

/* The scanner's position flags while analysing. */
struct scan {
    bool flow_ind, block_ind, special, line_breaks, odd_break;
    bool lead_space, lead_break, trail_space, trail_break;
    bool space_break, break_space, prev_space, prev_break;
};

static size_t
width(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xe0)
        return 2;
    return c < 0xf0 ? 3 : 4;
}

static bool
is_break(const unsigned char *b)
{
    return b[0] == '\r' || b[0] == '\n' ||
           (b[0] == 0xc2 && b[1] == 0x85) ||
           (b[0] == 0xe2 && b[1] == 0x80 && (b[2] == 0xa8 || b[2] == 0xa9));
}

static bool
is_blank(const unsigned char *b)
{
    return b[0] == ' ' || b[0] == '\t';
}

static bool
is_blankz(const unsigned char *b)
{
    return is_blank(b) || is_break(b) || b[0] == '\0';
}

/* yaml.v3's is_printable, for valid UTF-8. */
static bool
is_printable(const unsigned char *b)
{
    return b[0] == 0x0a || (b[0] >= 0x20 && b[0] <= 0x7e) ||
           (b[0] == 0xc2 && b[1] >= 0xa0) || (b[0] > 0xc2 && b[0] < 0xed) ||
           (b[0] == 0xed && b[1] < 0xa0) || b[0] == 0xee ||
           (b[0] == 0xef && !(b[1] == 0xbb && b[2] == 0xbf) &&
            !(b[1] == 0xbf && (b[2] == 0xbe || b[2] == 0xbf)));
}

static void
scan_indicators(struct scan *sc, const unsigned char *b, bool first,
                bool followed, bool preceded)
{
    if (first && strchr("#,[]{}&*!|>'\"%@`", b[0]) != NULL) {
        sc->flow_ind = sc->block_ind = true;
    } else if (first && (b[0] == '?' || b[0] == ':')) {
        sc->flow_ind = true;
        sc->block_ind = sc->block_ind || followed;
    } else if (first && b[0] == '-' && followed) {
        sc->flow_ind = sc->block_ind = true;
    } else if (!first && strchr(",?[]{}", b[0]) != NULL) {
        sc->flow_ind = true;
    } else if (!first && b[0] == ':') {
        sc->flow_ind = true;
        sc->block_ind = sc->block_ind || followed;
    } else if (!first && b[0] == '#' && preceded) {
        sc->flow_ind = sc->block_ind = true;
    }
}

static void
scan_spacing(struct scan *sc, const unsigned char *b, bool first,
             bool last)
{
    if (b[0] == ' ') {
        sc->lead_space = sc->lead_space || first;
        sc->trail_space = sc->trail_space || last;
        sc->break_space = sc->break_space || sc->prev_break;
        sc->prev_space = true;
        sc->prev_break = false;
    } else if (is_break(b)) {
        sc->line_breaks = true;
        sc->odd_break = sc->odd_break || b[0] != '\n';
        sc->lead_break = sc->lead_break || first;
        sc->trail_break = sc->trail_break || last;
        sc->space_break = sc->space_break || sc->prev_space;
        sc->prev_break = true;
        sc->prev_space = false;
    } else {
        sc->prev_space = sc->prev_break = false;
    }
}

static void
analyse(const char *text, struct verdict *v)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text), i, w;
    struct scan sc;
    bool preceded = true;

    memset(&sc, 0, sizeof(sc));
    if (len == 0) {
        v->multiline = v->block = false;
        v->plain = v->single = true;
        return;
    }
    if (len >= 3 && (strncmp(text, "---", 3) == 0 ||
                     strncmp(text, "...", 3) == 0))
        sc.flow_ind = sc.block_ind = true;
    for (i = 0; i < len; i += w) {
        bool followed;

        w = width(s[i]);
        followed = i + w >= len || is_blank(s + i + w);
        scan_indicators(&sc, s + i, i == 0, followed, preceded);
        if (!is_printable(s + i))
            sc.special = true;
        scan_spacing(&sc, s + i, i == 0, i + w >= len);
        preceded = is_blankz(s + i);
    }

    v->multiline = sc.line_breaks;
    v->plain = !(sc.lead_space || sc.lead_break || sc.trail_space ||
                 sc.trail_break || sc.break_space || sc.line_breaks ||
                 sc.block_ind);
    v->single = !sc.break_space;
    v->block = !sc.trail_space;
    if (sc.space_break || sc.special || sc.odd_break)
        v->plain = v->single = v->block = false;
}

static enum style
choose(enum style want, const struct verdict *v, bool key, size_t len)
{
    if (key && v->multiline)
        want = ST_DOUBLE;
    if (want == ST_PLAIN && (!v->plain || (key && len == 0)))
        want = ST_SINGLE;
    if (want == ST_SINGLE && !v->single)
        want = ST_DOUBLE;
    if (want == ST_LITERAL && (!v->block || key))
        want = ST_DOUBLE;
    return want;
}

static int
write_single(const char *s, struct buf *out)
{
    int rc = buf_addc(out, '\'');

    for (; rc == 0 && *s != '\0'; s++)
        rc = *s == '\'' ? buf_adds(out, "''") : buf_addc(out, *s);
    return rc == 0 ? buf_addc(out, '\'') : rc;
}

static uint32_t
decode(const unsigned char *b, size_t w)
{
    static const unsigned char mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
    uint32_t cp = b[0] & mask[w];
    size_t i;

    for (i = 1; i < w; i++)
        cp = (cp << 6) | (b[i] & 0x3f);
    return cp;
}

static int
write_escape(uint32_t cp, struct buf *out)
{
    static const char from[] = "\0\a\b\t\n\v\f\r\x1b\"\\";
    static const char to[] = "0abtnvfre\"\\";
    const char *hit = cp < 0x80 ? memchr(from, (int)cp, sizeof(from) - 1)
                                : NULL;

    if (hit != NULL)
        return buf_addf(out, "\\%c", to[hit - from]);
    if (cp == 0x85)
        return buf_adds(out, "\\N");
    if (cp == 0xa0)
        return buf_adds(out, "\\_");
    if (cp == 0x2028)
        return buf_adds(out, "\\L");
    if (cp == 0x2029)
        return buf_adds(out, "\\P");
    if (cp <= 0xff)
        return buf_addf(out, "\\x%02" PRIX32, cp);
    if (cp <= 0xffff)
        return buf_addf(out, "\\u%04" PRIX32, cp);
    return buf_addf(out, "\\U%08" PRIX32, cp);
}

static int
write_double(const char *text, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)text;
    int rc = buf_addc(out, '"');

    while (rc == 0 && *s != '\0') {
        size_t w = width(*s);
        bool bom = s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf;

        if (!is_printable(s) || bom || is_break(s) || *s == '"' ||
            *s == '\\')
            rc = write_escape(decode(s, w), out);
        else
            rc = buf_add(out, s, w);
        s += w;
    }
    return rc == 0 ? buf_addc(out, '"') : rc;
}

static int
indent_to(struct buf *out, int n)
{
    int rc = 0;

    while (rc == 0 && n-- > 0)
        rc = buf_addc(out, ' ');
    return rc;
}

/* The "|" header: an indent hint for leading space, then chomping. */
static int
literal_header(const char *s, size_t len, struct buf *out)
{
    int rc = buf_addc(out, '|');

    if (rc == 0 && (s[0] == ' ' || s[0] == '\n'))
        rc = buf_addc(out, '2');
    if (rc == 0 && s[len - 1] != '\n')
        rc = buf_addc(out, '-');
    else if (rc == 0 && (len == 1 || s[len - 2] == '\n'))
        rc = buf_addc(out, '+');
    return rc;
}

/*
 * A literal block whose lines sit at indent + 2.  The break that ends
 * the text is left for the caller's own newline.
 */
static int
write_literal(const char *s, int indent, struct buf *out)
{
    size_t len = strlen(s), i;
    bool line_start = true;
    int rc = literal_header(s, len, out);

    if (rc == 0)
        rc = buf_addc(out, '\n');
    for (i = 0; rc == 0 && i < len; i++) {
        if (s[i] == '\n') {
            if (i + 1 < len)
                rc = buf_addc(out, '\n');
            line_start = true;
            continue;
        }
        if (line_start)
            rc = indent_to(out, indent + 2);
        if (rc == 0)
            rc = buf_addc(out, s[i]);
        line_start = false;
    }
    return rc;
}

static int
write_styled(const char *s, enum style st, int indent, struct buf *out)
{
    switch (st) {
    case ST_PLAIN:
        return buf_adds(out, s);
    case ST_SINGLE:
        return write_single(s, out);
    case ST_DOUBLE:
        return write_double(s, out);
    case ST_LITERAL:
        return write_literal(s, indent, out);
    }
    return ERR_INTERNAL;
}

/* yaml.v3 writes text that is not UTF-8 as a base64 !!binary scalar. */
static int
write_binary(const char *s, int indent, struct buf *out)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i, enc = (len + 2) / 3 * 4, col = 0;
    struct buf text;
    int rc = 0;

    buf_init(&text);
    for (i = 0; rc == 0 && i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 |
                     (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        char q[4] = { b64[v >> 18], b64[(v >> 12) & 63],
                      i + 1 < len ? b64[(v >> 6) & 63] : '=',
                      i + 2 < len ? b64[v & 63] : '=' };
        size_t k;

        for (k = 0; rc == 0 && k < 4; k++) {
            rc = buf_addc(&text, q[k]);
            if (rc == 0 && enc >= 70 && (++col % 70 == 0 || col == enc))
                rc = buf_addc(&text, '\n');
        }
    }
    if (rc == 0)
        rc = buf_adds(out, "!!binary ");
    if (rc == 0)
        rc = write_styled(buf_str(&text), enc >= 70 ? ST_LITERAL : ST_PLAIN,
                          indent, out);
    buf_release(&text);
    return rc;
}

static bool
old_bool(const char *s)
{
    static const char *const words[] = {
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "off", "Off", "OFF", NULL
    };
    size_t i;

    for (i = 0; words[i] != NULL; i++) {
        if (strcmp(s, words[i]) == 0)
            return true;
    }
    return false;
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static bool
base60_float(const char *s)
{
    bool group = false;

    if (*s == '+' || *s == '-')
        s++;
    if (!(*s >= '0' && *s <= '9'))
        return false;
    s += strspn(s, "0123456789_");
    while (*s == ':') {
        size_t n = strspn(s + 1, "0123456789");

        if (n == 0 || n > 2 || (n == 2 && s[1] > '5'))
            return false;
        s += 1 + n;
        group = true;
    }
    if (group && *s == '.')
        s += 1 + strspn(s + 1, "0123456789_");
    return group && *s == '\0';
}

static int
emit(const char *s, bool go_string, bool key, int indent, struct buf *out)
{
    struct verdict v;
    enum style want = ST_PLAIN;

    if (!optval_utf8_valid(s, strlen(s)))
        return write_binary(s, indent, out);
    if (strchr(s, '\n') != NULL)
        want = ST_LITERAL;
    else if (go_string && (optval_yaml_resolve(s) != OPTVAL_YRES_STR ||
                           base60_float(s) || old_bool(s)))
        want = ST_DOUBLE;
    analyse(s, &v);
    return write_styled(s, choose(want, &v, key, strlen(s)), indent, out);
}

int
opt_yaml_string(const char *s, int indent, struct buf *out)
{
    return emit(s, true, false, indent, out);
}

int
optval_yaml_key(const char *s, struct buf *out)
{
    int rc = emit(s, true, true, 0, out);

    return rc == 0 ? buf_addc(out, ':') : rc;
}

/* An untagged node from a MarshalYAML: " text", or nothing when empty. */
static int
node_scalar(const char *s, int indent, struct buf *out)
{
    int rc;

    if (s[0] == '\0')
        return 0;
    rc = buf_addc(out, ' ');
    return rc == 0 ? emit(s, false, false, indent, out) : rc;
}

static int
list_yaml(char *const *list, size_t n, int indent, struct buf *out)
{
    size_t i;
    int rc = 0;

    /*
     * yaml.v3 writes a nil list as "[]", which reads back as an empty
     * list rather than an unset one.  We write nothing after the colon
     * instead, which reads back as nil, so that the file round-trips.
     */
    if (list == NULL)
        return 0;
    if (n == 0)
        return buf_adds(out, " []");
    for (i = 0; rc == 0 && i < n; i++) {
        rc = buf_addc(out, '\n');
        if (rc == 0)
            rc = indent_to(out, indent + 2);
        if (rc == 0)
            rc = buf_adds(out, "- ");
        if (rc == 0)
            rc = opt_yaml_string(list[i], indent + 2, out);
    }
    return rc;
}

static int
text_node(const struct opt_value *v, const struct opt_desc *d, int indent,
          struct buf *out)
{
    struct buf text;
    int rc;

    buf_init(&text);
    rc = optval_text(v, d, &text);
    if (rc == 0)
        rc = node_scalar(buf_str(&text), indent, out);
    buf_release(&text);
    return rc;
}

int
optval_yaml(const struct opt_value *v, const struct opt_desc *d, int indent,
            struct buf *out)
{
    int rc;

    switch (d->type) {
    case OPT_BOOL:
        return buf_adds(out, v->b ? " true" : " false");
    case OPT_INT64:
        return buf_addf(out, " %" PRId64, v->i);
    case OPT_FLOAT64:
        rc = buf_addc(out, ' ');
        return rc == 0 ? optval_format_float(v->f, 'g', out) : rc;
    case OPT_STRING:
    case OPT_YAML_PATH:
        rc = buf_addc(out, ' ');
        return rc == 0 ? opt_yaml_string(v->s, indent, out) : rc;
    case OPT_STRING_ARRAY:
    case OPT_ENUM_ARRAY:
        return list_yaml(v->list, v->n, indent, out);
    case OPT_DURATION:
    case OPT_HOSTPORT:
        return text_node(v, d, indent, out);
    case OPT_URL:
    case OPT_ENUM:
    case OPT_REGEXP:
        return node_scalar(v->s, indent, out);
    case OPT_STRUCT:
        return optval_struct_yaml(v, d->skind, indent, out);
    }
    return ERR_INTERNAL;
}

/* --- reading nodes ------------------------------------------------------ */

const char *
optval_yaml_text(const yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE)
        return "";
    return (const char *)n->data.scalar.value;
}

static bool
has_tag(const yaml_node_t *n, const char *name)
{
    const char *tag = (const char *)n->tag;

    return tag != NULL && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0
           && strcmp(tag + strlen(TAG_PREFIX), name) == 0;
}

/* libyaml gives untagged scalars !!str; only plain ones are resolved. */
static enum optval_yres
node_resolve(const yaml_node_t *n)
{
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
        !has_tag(n, "str"))
        return OPTVAL_YRES_STR;
    return optval_yaml_resolve(optval_yaml_text(n));
}

bool
optval_yaml_is_null(const yaml_node_t *n)
{
    if (n == NULL)
        return true;
    if (n->type != YAML_SCALAR_NODE)
        return false;
    return has_tag(n, "null") || node_resolve(n) == OPTVAL_YRES_NULL;
}

static const char *
short_tag(const yaml_node_t *n, char *tmp, size_t len)
{
    static const char *const names[] = { "!!str", "!!null", "!!bool",
                                         "!!int", "!!float",
                                         "!!timestamp" };
    const char *tag = (const char *)n->tag;

    if (n->type == YAML_SEQUENCE_NODE)
        return "!!seq";
    if (n->type == YAML_MAPPING_NODE)
        return "!!map";
    if (tag != NULL && !has_tag(n, "str") &&
        strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
        snprintf(tmp, len, "!!%s", tag + strlen(TAG_PREFIX));
        return tmp;
    }
    if (tag != NULL && !has_tag(n, "str"))
        return tag;
    return names[node_resolve(n)];
}

int
optval_yaml_type_error(struct err *e, const yaml_node_t *n,
                       const char *gotype)
{
    const char *text = optval_yaml_text(n);
    char tag[128];

    if (n->type != YAML_SCALAR_NODE)
        return err_set(e, ERR_INVALID, "cannot unmarshal %s into %s",
                       short_tag(n, tag, sizeof(tag)), gotype);
    if (strlen(text) > 10)
        return err_set(e, ERR_INVALID, "cannot unmarshal %s `%.7s...` "
                       "into %s", short_tag(n, tag, sizeof(tag)), text,
                       gotype);
    return err_set(e, ERR_INVALID, "cannot unmarshal %s `%s` into %s",
                   short_tag(n, tag, sizeof(tag)), text, gotype);
}

yaml_node_t *
optval_yaml_item(yaml_document_t *doc, const yaml_node_t *n, size_t i)
{
    const yaml_node_item_t *start = n->data.sequence.items.start;

    if (n->type != YAML_SEQUENCE_NODE ||
        start + i >= n->data.sequence.items.top)
        return NULL;
    return yaml_document_get_node(doc, start[i]);
}

int
optval_yaml_bool(const yaml_node_t *n, bool *b, struct err *e)
{
    const char *s = optval_yaml_text(n);
    enum optval_yres r;

    if (optval_yaml_is_null(n))
        return 0;
    r = n->type == YAML_SCALAR_NODE ? node_resolve(n) : OPTVAL_YRES_STR;
    if (n->type == YAML_SCALAR_NODE &&
        (r == OPTVAL_YRES_BOOL || (r == OPTVAL_YRES_STR && old_bool(s)))) {
        *b = strchr("tTyYoO", s[0]) != NULL && strcmp(s, "off") != 0 &&
             strcmp(s, "Off") != 0 && strcmp(s, "OFF") != 0;
        return 0;
    }
    return optval_yaml_type_error(e, n, "bool");
}

/*
 * The items of a sequence decoded into []string: null items are
 * dropped, as yaml.v3 drops them; anything but a scalar is an error.
 */
static int
decode_strings(yaml_document_t *doc, const yaml_node_t *seq,
               char ***list, size_t *n, struct err *e)
{
    yaml_node_t *item;
    size_t i;
    int rc = 0;

    *list = calloc(1, sizeof(**list));
    *n = 0;
    if (*list == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; rc == 0 && (item = optval_yaml_item(doc, seq, i)); i++) {
        if (item->type != YAML_SCALAR_NODE)
            rc = optval_yaml_type_error(e, item, "string");
        else if (!optval_yaml_is_null(item))
            rc = optval_list_push(list, n, optval_yaml_text(item));
    }
    return rc;
}

static int
replace_list(struct opt_value *v, yaml_document_t *doc,
             const yaml_node_t *seq, struct err *e)
{
    char **list;
    size_t n;
    int rc = decode_strings(doc, seq, &list, &n, e);

    if (rc < 0) {
        optval_list_free(list, n);
        return rc;
    }
    optval_list_free(v->list, v->n);
    v->list = list;
    v->n = n;
    return 0;
}

/* The Go type a yaml.v3 error names for a value without a decoder. */
static const char *
go_type(enum opt_type t)
{
    switch (t) {
    case OPT_BOOL:
        return "serpent.Bool";
    case OPT_INT64:
        return "serpent.Int64";
    case OPT_FLOAT64:
        return "serpent.Float64";
    case OPT_STRING_ARRAY:
        return "serpent.StringArray";
    case OPT_ENUM_ARRAY:
        return "serpent.EnumArray";
    case OPT_YAML_PATH:
        return "serpent.YAMLConfigPath";
    default:
        return "serpent.String";
    }
}

/* Validate(T): real yaml.v3 decoding into T, without the check. */
static int
set_validated(struct opt_value *v, const struct opt_desc *d,
              yaml_document_t *doc, yaml_node_t *node, struct err *e)
{
    bool null = optval_yaml_is_null(node);

    if (d->type == OPT_STRING_ARRAY && null) {
        optval_list_free(v->list, v->n);
        v->list = NULL;
        v->n = 0;
        return 0;
    }
    if (d->type == OPT_STRING_ARRAY && node->type == YAML_SEQUENCE_NODE)
        return replace_list(v, doc, node, e);
    if (d->type == OPT_STRING && null)
        return 0;
    if (d->type == OPT_STRING && node->type == YAML_SCALAR_NODE) {
        char *copy = strdup(optval_yaml_text(node));

        if (copy == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        free(v->s);
        v->s = copy;
        return 0;
    }
    if (d->type != OPT_STRING && d->type != OPT_STRING_ARRAY)
        return optval_set(v, d, optval_yaml_text(node), e);
    return optval_yaml_type_error(e, node, go_type(d->type));
}

static int
set_by_kind(struct opt_value *v, const struct opt_desc *d,
            yaml_document_t *doc, yaml_node_t *node, struct err *e)
{
    bool empty;

    if (node->type == YAML_SCALAR_NODE)
        return optval_set(v, d, optval_yaml_text(node), e);
    if (node->type == YAML_MAPPING_NODE)
        return err_set(e, ERR_INVALID, "mapping nodes must implement "
                       "yaml.Unmarshaler");
    /*
     * serpent turns an empty sequence into Set(""), which makes a list
     * nil (JSON null).  We keep "key: []" as the empty list the operator
     * wrote (JSON []), so that an explicit empty list stays visible.
     */
    if (d->type == OPT_STRING_ARRAY || d->type == OPT_ENUM_ARRAY)
        return replace_list(v, doc, node, e);
    empty = optval_yaml_item(doc, node, 0) == NULL;
    if (empty)
        return optval_set(v, d, "", e);
    return optval_yaml_type_error(e, node, go_type(d->type));
}

int
optval_set_yaml(struct opt_value *v, const struct opt_desc *d,
                yaml_document_t *doc, yaml_node_t *node, struct err *e)
{
    if (v->type != d->type)
        return err_set(e, ERR_INTERNAL, "value of type %d used for an "
                       "option of type %d", (int)v->type, (int)d->type);
    if (d->type == OPT_STRUCT)
        return optval_struct_set_node(v, d->skind, doc, node, e);
    if (d->check != OPT_CHECK_NONE)
        return set_validated(v, d, doc, node, e);

    switch (d->type) {
    case OPT_DURATION:
    case OPT_URL:
    case OPT_HOSTPORT:
    case OPT_ENUM:
    case OPT_REGEXP:
        /* Their UnmarshalYAML calls Set on the node's text. */
        return optval_set(v, d, optval_yaml_text(node), e);
    default:
        return set_by_kind(v, d, doc, node, e);
    }
}

static size_t
utf8_rune(const char *s, uint32_t *cp)
{
    size_t w = width((unsigned char)*s);

    *cp = decode((const unsigned char *)s, w);
    return w;
}

static bool
is_letter(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool
is_num(uint32_t c)
{
    return c >= '0' && c <= '9';
}

/* Adds the leading digits of s to *v; returns how many there were. */
static size_t
number_at(const char *s, uint64_t *v)
{
    size_t n = 0;

    while (is_num((unsigned char)s[n])) {
        *v = *v * 10 + (uint64_t)(s[n] - '0');
        n++;
    }
    return n;
}

/*
 * yaml.v3's keyList order at the first differing runes ra and rb, found
 * at offset i of both a and b: letters by code point, letters before
 * other runes, and digit runs by their numeric value.
 */
static int
differ(const char *a, const char *b, size_t i, bool digits)
{
    uint32_t ra, rb;
    bool al, bl;
    uint64_t an = 0, bn = 0;
    size_t ai, bi, j;

    utf8_rune(a + i, &ra);
    utf8_rune(b + i, &rb);
    al = is_letter(ra);
    bl = is_letter(rb);
    if (al && bl)
        return ra < rb ? -1 : 1;
    if (al || bl) {
        if (digits)
            return al ? -1 : 1;
        return bl ? -1 : 1;
    }
    if (ra == '0' || rb == '0') {
        for (j = i; j > 0 && is_num((unsigned char)a[j - 1]); j--) {
            if (a[j - 1] != '0') {
                an = bn = 1;
                break;
            }
        }
    }
    ai = number_at(a + i, &an);
    bi = number_at(b + i, &bn);
    if (an != bn)
        return an < bn ? -1 : 1;
    if (ai != bi)
        return ai < bi ? -1 : 1;
    return ra < rb ? -1 : 1;
}

int
optval_yaml_key_cmp(const char *a, const char *b)
{
    bool digits = false;
    size_t i = 0;

    while (a[i] != '\0' && b[i] != '\0') {
        uint32_t ra, rb;
        size_t w = utf8_rune(a + i, &ra);

        utf8_rune(b + i, &rb);
        if (ra != rb)
            return differ(a, b, i, digits);
        digits = is_num(ra);
        i += w;
    }
    if (a[i] == '\0' && b[i] == '\0')
        return 0;
    return a[i] == '\0' ? -1 : 1;
}
