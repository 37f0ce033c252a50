/*
 * opt_yaml.c: the YAML document of --write-config, and help text.
 *
 * The YAML follows what serpent builds with yaml.v3 (options-semantics.md
 * section 6).  Options are taken in name order; each lands under a chain
 * of group mappings that is created the first time any option needs it,
 * so the document is built as a tree first and written afterwards.  A
 * group key created by an option carries the description of that
 * option's own group, even when the key belongs to an ancestor: serpent
 * does the same, and it is why some parent keys have no comment.
 *
 * Comments are wrapped the way go-wordwrap wraps them, which the golden
 * files show: greedy, at 80 characters, with a word longer than the line
 * left whole on a line of its own.
 *
 * Defaults come from opt_set_default, so the four of Coder's that are
 * computed at start-up show as they are in force.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "opt.h"
#include "banned.h"

#define WRAP_WIDTH 80
#define GROUP_DEPTH_MAX 16
#define HELP_INDENT 10

/* --- word wrapping ------------------------------------------------------- */

/* A space that may break a line; "\n" is handled apart. */
static bool
is_break_space(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * Wraps s to lim characters per line and appends it to out.  Pending
 * spaces (sp bytes, all one byte wide) and the current word are held
 * back until the next space shows where the word ends; a line is broken
 * (dropping the pending spaces) as soon as a word shorter than lim no
 * longer fits.
 */
static int
wrap_text(const char *s, size_t lim, struct buf *out)
{
    size_t col = 0, sp = 0, word = 0, word_w = 0;
    const char *sp_at = s, *word_at = s;
    int rc = 0;

    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        if (*p == '\n' || is_break_space(*p)) {
            if (*p == '\n' && word == 0 && col + sp > lim)
                sp = 0;
            if (*p == '\n' || word > 0 || sp == 0) {
                col += sp + word_w;
                rc = buf_add(out, sp_at, sp);
                if (rc == 0)
                    rc = buf_add(out, word_at, word);
                sp = word = word_w = 0;
            }
            if (*p == '\n') {
                rc = rc == 0 ? buf_addc(out, '\n') : rc;
                col = 0;
                continue;
            }
            if (sp == 0)
                sp_at = p;
            sp++;
            continue;
        }

        /* Width counts characters: UTF-8 continuation bytes add none. */
        if (word == 0)
            word_at = p;
        word++;
        word_w += ((unsigned char)*p & 0xc0) != 0x80;
        if (col + sp + word_w > lim && word_w < lim) {
            rc = buf_addc(out, '\n');
            col = 0;
            sp = 0;
        }
    }

    if (rc == 0 && (word > 0 || col + sp <= lim))
        rc = buf_add(out, sp_at, sp);
    if (rc == 0)
        rc = buf_add(out, word_at, word);
    return rc;
}

/* Writes text as "# " comment lines at column indent. */
static int
write_comment(const char *text, int indent, struct buf *out)
{
    struct buf w;
    const char *line, *nl;
    int rc;

    buf_init(&w);
    rc = wrap_text(text, WRAP_WIDTH, &w);
    for (line = buf_str(&w); rc == 0; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL)
            nl = line + strlen(line);
        rc = buf_addf(out, "%*s#%s%.*s\n", indent, "",
                      nl > line ? " " : "", (int)(nl - line), line);
        if (*nl == '\0')
            break;
    }
    buf_release(&w);
    return rc;
}

/* --- defaults and order -------------------------------------------------- */

/* The default text of d in set, or NULL when it has none. */
static const char *
default_text(const struct opt_set *set, const struct opt_desc *d)
{
    return opt_set_default(set, opt_set_find(set, d->name));
}

struct named {
    const char *name;
    int i;
};

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct named *)a)->name,
                  ((const struct named *)b)->name);
}

/*
 * The set's options in name order, locals too when asked (for help);
 * free the result.
 */
static struct named *
name_order(const struct opt_set *set, bool locals, size_t *n)
{
    struct named *v;

    *n = locals ? opt_set_count_all(set) : opt_set_count(set);
    v = calloc(*n > 0 ? *n : 1, sizeof(*v));
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        v[i].name = opt_set_desc(set, (int)i)->name;
        v[i].i = (int)i;
    }
    qsort(v, *n, sizeof(*v), by_name);
    return v;
}

/* --- the YAML tree ------------------------------------------------------- */

/*
 * One mapping key.  Node 0 is the document root, so 0 also means "none"
 * in the child and sibling links.  opt is the option of a leaf, or -1 for
 * a group mapping.
 */
struct ynode {
    const char *key;
    const char *comment;
    int opt;
    size_t first;
    size_t last;
    size_t next;
};

struct ytree {
    struct ynode *v;
    size_t n;
};

/* A tree holding only the root mapping. */
static int
tree_init(struct ytree *t)
{
    t->v = calloc(1, sizeof(*t->v));
    t->n = t->v != NULL ? 1 : 0;
    if (t->v == NULL)
        return ERR_NOMEM;
    t->v[0].opt = -1;
    return 0;
}

/* Appends a child of parent; returns its index, or 0 when out of memory. */
static size_t
tree_add(struct ytree *t, size_t parent, const char *key,
         const char *comment, int opt)
{
    struct ynode *v = realloc(t->v, (t->n + 1) * sizeof(*v));
    size_t at = t->n;

    if (v == NULL)
        return 0;
    t->v = v;
    t->n++;
    v[at] = (struct ynode){ key, comment, opt, 0, 0, 0 };
    if (v[parent].last != 0)
        v[v[parent].last].next = at;
    else
        v[parent].first = at;
    v[parent].last = at;
    return at;
}

static size_t
tree_find_group(const struct ytree *t, size_t parent, const char *key)
{
    for (size_t c = t->v[parent].first; c != 0; c = t->v[c].next) {
        if (t->v[c].opt < 0 && strcmp(t->v[c].key, key) == 0)
            return c;
    }
    return 0;
}

/*
 * Places option i under its groups, creating the missing group keys with
 * the description of the option's own group.  ERR_INVALID when a group
 * on the way has no YAML name, as serpent refuses that too.
 */
static int
tree_place(struct ytree *t, const struct opt_desc *d, int i)
{
    const struct opt_group *chain[GROUP_DEPTH_MAX];
    const char *comment = d->group != NULL ? d->group->description : NULL;
    size_t depth = 0, at = 0, found;

    for (const struct opt_group *g = d->group; g != NULL; g = g->parent) {
        if (depth == GROUP_DEPTH_MAX || g->yaml == NULL)
            return ERR_INVALID;
        chain[depth++] = g;
    }
    while (depth-- > 0) {
        found = tree_find_group(t, at, chain[depth]->yaml);
        if (found == 0)
            found = tree_add(t, at, chain[depth]->yaml, comment, -1);
        if (found == 0)
            return ERR_NOMEM;
        at = found;
    }
    return tree_add(t, at, d->yaml, NULL, i) != 0 ? 0 : ERR_NOMEM;
}

/* The head comment of an option: description, then default and type. */
static int
option_comment(const struct opt_desc *d, const char *def, struct buf *out)
{
    int rc = 0;

    if (d->description != NULL)
        rc = buf_adds(out, d->description);
    if (rc == 0)
        rc = buf_addf(out, "\n(default: %s, type: ",
                      def != NULL ? def : "<unset>");
    if (rc == 0)
        rc = optval_type_name(d, out);
    if (rc == 0)
        rc = buf_addc(out, ')');
    return rc;
}

static int
write_leaf(const struct opt_set *set, const struct ynode *node,
           int indent, struct buf *out)
{
    const struct opt_desc *d = opt_set_desc(set, node->opt);
    struct buf comment;
    int rc;

    buf_init(&comment);
    rc = option_comment(d, default_text(set, d), &comment);
    if (rc == 0)
        rc = write_comment(buf_str(&comment), indent, out);
    if (rc == 0)
        rc = buf_addf(out, "%*s%s:", indent, "", node->key);
    if (rc == 0)
        rc = optval_yaml(opt_set_value(set, node->opt), d, indent, out);
    if (rc == 0)
        rc = buf_addc(out, '\n');
    buf_release(&comment);
    return rc;
}

static int
write_mapping(const struct opt_set *set, const struct ytree *t,
              size_t parent, int indent, struct buf *out)
{
    const struct ynode *node;
    int rc = 0;

    for (size_t c = t->v[parent].first; rc == 0 && c != 0; c = node->next) {
        node = &t->v[c];
        if (node->opt >= 0) {
            rc = write_leaf(set, node, indent, out);
            continue;
        }
        if (node->comment != NULL && node->comment[0] != '\0')
            rc = write_comment(node->comment, indent, out);
        if (rc == 0)
            rc = buf_addf(out, "%*s%s:\n", indent, "", node->key);
        if (rc == 0)
            rc = write_mapping(set, t, c, indent + 2, out);
    }
    return rc;
}

/*
 * A deprecated option left out of the YAML: one that shares its value
 * with a replacement (which writes it), or one at its default (which
 * reading back gives anyway).  Either way the file reads back to the
 * same values, without deprecation warnings for what the operator never
 * wrote.  serpent writes them all; this is the one place we differ.
 */
static bool
alias_adds_nothing(const struct opt_set *set, int i)
{
    const struct opt_desc *d = opt_set_desc(set, i);

    if (d->use_instead == NULL || d->use_instead[0] == NULL)
        return false;
    for (size_t k = 0; d->use_instead[k] != NULL; k++) {
        int r = opt_set_find(set, d->use_instead[k]);
        const char *p = r >= 0 ? opt_set_desc(set, r)->json_path : NULL;

        if (p != NULL && strcmp(p, d->json_path) == 0)
            return true;
    }
    return optval_is_default(opt_set_value(set, i), d);
}

int
opt_set_write_yaml(const struct opt_set *set, struct buf *out)
{
    struct ytree t = { NULL, 0 };
    struct named *order;
    const struct opt_desc *d;
    size_t n = 0;
    int rc = ERR_NOMEM;

    order = name_order(set, false, &n);
    if (order == NULL || tree_init(&t) != 0)
        goto out;

    rc = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        d = opt_set_desc(set, order[k].i);
        if (d->yaml != NULL && d->json_path != NULL &&
            !alias_adds_nothing(set, order[k].i))
            rc = tree_place(&t, d, order[k].i);
    }
    if (rc == 0)
        rc = write_mapping(set, &t, 0, 0, out);

out:
    free(t.v);
    free(order);
    return rc;
}

/* --- help ---------------------------------------------------------------- */

/* The full group name, "Networking / TLS", for headers and sorting. */
static int
group_name(const struct opt_group *g, struct buf *out)
{
    int rc = 0;

    if (g == NULL)
        return 0;
    if (g->parent != NULL) {
        rc = group_name(g->parent, out);
        if (rc == 0)
            rc = buf_adds(out, " / ");
    }
    return rc == 0 ? buf_adds(out, g->name) : rc;
}

/* The section an option is listed in; "" for the plain "OPTIONS:". */
static int
section_of(const struct opt_desc *d, struct buf *out)
{
    if (d->annotations & OPT_ANN_ENTERPRISE)
        return buf_adds(out, "Enterprise");
    return group_name(d->group, out);
}

/* Help's type: the choices of an enum, Type() for everything else. */
static int
help_type(const struct opt_desc *d, struct buf *out)
{
    int rc = 0;

    if (d->type != OPT_ENUM && d->type != OPT_ENUM_ARRAY)
        return optval_type_name(d, out);
    if (d->type == OPT_ENUM_ARRAY)
        rc = buf_addc(out, '[');
    for (size_t i = 0; rc == 0 && d->choices[i] != NULL; i++)
        rc = buf_addf(out, "%s%s", i > 0 ? "|" : "", d->choices[i]);
    if (rc == 0 && d->type == OPT_ENUM_ARRAY)
        rc = buf_addc(out, ']');
    return rc;
}

/* Writes text wrapped to the help width, every line at column indent. */
static int
help_paragraph(const char *text, int indent, struct buf *out)
{
    struct buf w;
    const char *line, *nl;
    int rc;

    buf_init(&w);
    rc = wrap_text(text, (size_t)(WRAP_WIDTH - indent), &w);
    for (line = buf_str(&w); rc == 0; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL)
            nl = line + strlen(line);
        rc = buf_addf(out, "%*s%.*s\n", nl > line ? indent : 0, "",
                      (int)(nl - line), line);
        if (*nl == '\0')
            break;
    }
    buf_release(&w);
    return rc;
}

/* How help names a replacement: --flag, else -x, else $ENV, else name. */
static int
help_name(const struct opt_set *set, const char *name, struct buf *out)
{
    int i = opt_set_find(set, name);
    const struct opt_desc *d = i >= 0 ? opt_set_desc(set, i) : NULL;

    if (d != NULL && d->flag != NULL)
        return buf_addf(out, "--%s", d->flag);
    if (d != NULL && d->shorthand != NULL)
        return buf_addf(out, "-%s", d->shorthand);
    if (d != NULL && d->env != NULL)
        return buf_addf(out, "$%s", d->env);
    return buf_adds(out, name);
}

static int
deprecation(const struct opt_set *set, const struct opt_desc *d,
            struct buf *out)
{
    int rc = buf_adds(out, "DEPRECATED: Use ");

    for (size_t k = 0; rc == 0 && d->use_instead[k] != NULL; k++) {
        if (k > 0)
            rc = buf_adds(out, " and ");
        if (rc == 0)
            rc = help_name(set, d->use_instead[k], out);
    }
    return rc == 0 ? buf_adds(out, " instead.") : rc;
}

/* One option: its flag line, then description and deprecation. */
static int
help_option(const struct opt_set *set, const struct opt_desc *d,
            struct buf *out)
{
    const char *def = default_text(set, d);
    struct buf text;
    int rc;

    buf_init(&text);
    if (d->shorthand != NULL)
        rc = buf_addf(out, "\n  -%s, ", d->shorthand);
    else
        rc = buf_adds(out, "\n      ");
    if (rc == 0 && d->flag != NULL)
        rc = buf_addf(out, "--%s ", d->flag);
    if (rc == 0)
        rc = help_type(d, out);
    if (rc == 0 && d->env != NULL)
        rc = buf_addf(out, ", $%s", d->env);
    if (rc == 0 && def != NULL)
        rc = buf_addf(out, " (default: %s)", def);
    if (rc == 0)
        rc = buf_addc(out, '\n');

    if (rc == 0 && d->description != NULL)
        rc = buf_adds(&text, d->description);
    if (rc == 0 && d->use_instead != NULL && d->use_instead[0] != NULL) {
        rc = text.len > 0 ? buf_addc(&text, ' ') : 0;
        if (rc == 0)
            rc = deprecation(set, d, &text);
    }
    if (rc == 0 && text.len > 0)
        rc = help_paragraph(buf_str(&text), HELP_INDENT, out);
    buf_release(&text);
    return rc;
}

/* A section header, upper-cased as Coder's help prints it. */
static int
help_header(const char *section, const struct opt_desc *first,
            struct buf *out)
{
    const char *desc = NULL;
    int rc = buf_addc(out, '\n');

    for (const char *p = section; rc == 0 && *p != '\0'; p++)
        rc = buf_addc(out, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    if (rc == 0)
        rc = buf_adds(out, section[0] != '\0' ? " OPTIONS:\n" : "OPTIONS:\n");
    if (!(first->annotations & OPT_ANN_ENTERPRISE) && first->group != NULL)
        desc = first->group->description;
    if (rc == 0 && desc != NULL)
        rc = help_paragraph(desc, 0, out);
    return rc;
}

/* The visible options of one section, in name order. */
static int
help_section(const struct opt_set *set, const struct named *order,
             size_t n, const char *section, struct buf *out)
{
    const struct opt_desc *d;
    struct buf name;
    bool header = false;
    int rc = 0;

    buf_init(&name);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        d = opt_set_desc(set, order[k].i);
        buf_reset(&name);
        rc = section_of(d, &name);
        if (rc != 0 || d->hidden || strcmp(buf_str(&name), section) != 0)
            continue;
        if (!header)
            rc = help_header(section, d, out);
        header = true;
        if (rc == 0)
            rc = help_option(set, d, out);
    }
    buf_release(&name);
    return rc;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every section in name order, which puts "" (options with no group)
 * first; enterprise options come last in a section of their own.
 */
static int
help_sections(const struct opt_set *set, const struct named *order,
              size_t n, struct buf *out)
{
    char **names = calloc(n + 1, sizeof(*names));
    size_t count = 0;
    struct buf name;
    int rc = names != NULL ? 0 : ERR_NOMEM;

    buf_init(&name);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        buf_reset(&name);
        rc = section_of(opt_set_desc(set, order[k].i), &name);
        if (rc == 0 && strcmp(buf_str(&name), "Enterprise") != 0)
            names[count] = strdup(buf_str(&name));
        if (rc == 0 && strcmp(buf_str(&name), "Enterprise") != 0)
            rc = names[count++] != NULL ? 0 : ERR_NOMEM;
    }
    if (rc == 0)
        qsort(names, count, sizeof(*names), cmp_str);

    for (size_t k = 0; rc == 0 && k < count; k++) {
        if (k == 0 || strcmp(names[k], names[k - 1]) != 0)
            rc = help_section(set, order, n, names[k], out);
    }
    if (rc == 0)
        rc = help_section(set, order, n, "Enterprise", out);

    for (size_t k = 0; names != NULL && k < count; k++)
        free(names[k]);
    free(names);
    buf_release(&name);
    return rc;
}

/*
 * "USAGE:" and the usage lines indented by two.  A usage text that says
 * "usage: " itself loses that word, and its later lines as many spaces,
 * so that the header is not said twice and the columns stay aligned.
 */
static int
help_usage(const char *usage, struct buf *out)
{
    size_t skip = strncmp(usage, "usage: ", 7) == 0 ? 7 : 0;
    const char *line = usage + skip;
    int rc = buf_adds(out, "USAGE:\n");

    while (rc == 0 && *line != '\0') {
        size_t len = strcspn(line, "\n");

        rc = buf_addf(out, "  %.*s\n", (int)len, line);
        line += len + (line[len] == '\n');
        for (size_t k = 0; k < skip && *line == ' '; k++)
            line++;
    }
    return rc;
}

int
opt_set_write_help(const struct opt_set *set, const char *usage,
                   struct buf *out)
{
    struct named *order;
    size_t n = 0;
    int rc = ERR_NOMEM;

    order = name_order(set, true, &n);
    if (order == NULL)
        goto out;

    rc = help_usage(usage != NULL ? usage : "", out);
    if (rc == 0)
        rc = help_sections(set, order, n, out);

out:
    free(order);
    return rc;
}
