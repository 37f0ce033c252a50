/*
 * optval_csv.c: one CSV record, read and written as Go's encoding/csv
 * does with its defaults (comma, strict quotes, no trimming, no comment).
 *
 * The reader mirrors csv.Reader.Read: blank lines before the record are
 * skipped, "\r\n" counts as "\n", a quoted field may run over several
 * lines, and whatever follows the first record is ignored.  Error texts
 * and positions are Go's ("parse error on line 1, column 2: bare \" in
 * non-quoted-field").
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "opt.h"
#include "optval_priv.h"
#include "banned.h"

static const char bare_quote[] = "bare \" in non-quoted-field";
static const char bad_quote[] = "extraneous or missing \" in quoted-field";

/* The reader's state: the input left, the current line and its number. */
struct csv {
    const char *rest;
    char *line;           /* current line, "\r\n" folded to "\n" */
    size_t len;
    int lineno;
    bool eof;             /* no line could be read */
    struct buf field;
    char **items;
    size_t n;
};

/* Go's readLine: the next line with its "\n", or eof. */
static int
next_line(struct csv *c)
{
    const char *nl;
    size_t len;

    free(c->line);
    c->line = NULL;
    c->len = 0;
    if (*c->rest == '\0') {
        c->eof = true;
        return 0;
    }
    nl = strchr(c->rest, '\n');
    len = nl != NULL ? (size_t)(nl - c->rest) + 1 : strlen(c->rest);
    c->line = malloc(len + 1);
    if (c->line == NULL)
        return ERR_NOMEM;
    memcpy(c->line, c->rest, len);
    c->line[len] = '\0';
    c->rest += len;
    c->lineno++;

    if (nl == NULL && len > 0 && c->line[len - 1] == '\r')
        len--;
    if (len >= 2 && c->line[len - 2] == '\r' && c->line[len - 1] == '\n') {
        c->line[len - 2] = '\n';
        len--;
    }
    c->line[len] = '\0';
    c->len = len;
    return 0;
}

static size_t
nl_len(const char *s, size_t len)
{
    return len > 0 && s[len - 1] == '\n' ? 1 : 0;
}

static int
push_field(struct csv *c)
{
    int rc = optval_list_push(&c->items, &c->n, buf_str(&c->field));

    buf_reset(&c->field);
    return rc;
}

static int
parse_error(struct csv *c, int startline, int col, const char *why,
            struct err *e)
{
    if (startline != c->lineno)
        return err_set(e, ERR_INVALID,
                       "record on line %d; parse error on line %d, "
                       "column %d: %s", startline, c->lineno, col, why);
    return err_set(e, ERR_INVALID, "parse error on line %d, column %d: %s",
                   c->lineno, col, why);
}

/*
 * An unquoted field at *pos of the line.  Sets *more when a comma
 * follows.
 */
static int
plain_field(struct csv *c, size_t *pos, int *col, bool *more,
            struct err *e)
{
    const char *s = c->line + *pos;
    size_t left = c->len - *pos;
    const char *comma = memchr(s, ',', left);
    size_t flen = comma != NULL ? (size_t)(comma - s)
                                : left - nl_len(s, left);
    const char *quote = memchr(s, '"', flen);
    int rc;

    if (quote != NULL)
        return parse_error(c, c->lineno, *col + (int)(quote - s),
                           bare_quote, e);
    rc = buf_add(&c->field, s, flen);
    if (rc == 0)
        rc = push_field(c);
    *more = comma != NULL;
    *pos += flen + (*more ? 1 : 0);
    *col += (int)flen + 1;
    return rc;
}

/* After a closing quote: '""', '",', the end of the line, or an error. */
static int
after_quote(struct csv *c, size_t *pos, int *col, int *state,
            struct err *e)
{
    const char *s = c->line + *pos;
    size_t left = c->len - *pos;

    if (left > 0 && s[0] == '"') {
        (*pos)++;
        (*col)++;
        *state = 0;
        return buf_addc(&c->field, '"');
    }
    if (left > 0 && s[0] == ',') {
        (*pos)++;
        (*col)++;
        *state = 1;
        return push_field(c);
    }
    if (nl_len(s, left) == left) {
        *state = 2;
        return push_field(c);
    }
    return parse_error(c, c->lineno, *col - 1, bad_quote, e);
}

/*
 * A quoted field starting at *pos (on the opening quote).  *more as for
 * plain_field; the field may continue over later lines.
 */
static int
quoted_field(struct csv *c, size_t *pos, int *col, bool *more,
             struct err *e)
{
    int startline = c->lineno;
    int rc, state;

    (*pos)++;
    (*col)++;
    for (;;) {
        const char *s = c->line != NULL ? c->line + *pos : "";
        size_t left = c->line != NULL ? c->len - *pos : 0;
        const char *q = memchr(s, '"', left);

        if (q != NULL) {
            size_t i = (size_t)(q - s);

            rc = buf_add(&c->field, s, i);
            *pos += i + 1;
            *col += (int)i + 1;
            if (rc == 0)
                rc = after_quote(c, pos, col, &state, e);
            if (rc < 0 || state == 0)
                goto check;
            *more = state == 1;
            return 0;
        }
        if (left == 0)
            return parse_error(c, startline, *col, bad_quote, e);

        /* The line ends inside the quotes: keep it and read on. */
        rc = buf_add(&c->field, s, left);
        *col += (int)left;
        if (rc == 0)
            rc = next_line(c);
        if (!c->eof) {
            *pos = 0;
            *col = 1;
        }
check:
        if (rc < 0)
            return rc;
    }
}

static int
read_record(struct csv *c, struct err *e)
{
    size_t pos = 0;
    int col = 1;
    bool more = true;
    int rc;

    /* Blank lines before the record are skipped. */
    do {
        rc = next_line(c);
        if (rc < 0)
            return rc;
    } while (!c->eof && c->len == nl_len(c->line, c->len));
    if (c->eof)
        return err_set(e, ERR_INVALID, "EOF");

    while (more) {
        more = false;
        if (pos < c->len && c->line[pos] == '"')
            rc = quoted_field(c, &pos, &col, &more, e);
        else
            rc = plain_field(c, &pos, &col, &more, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int
opt_csv_split(const char *s, char ***items, size_t *n, struct err *e)
{
    struct csv c;
    size_t i;
    int rc;

    memset(&c, 0, sizeof(c));
    c.rest = s;
    buf_init_limit(&c.field, OPTVAL_TEXT_MAX);
    rc = read_record(&c, e);
    if (rc == ERR_TOO_LARGE || rc == ERR_NOMEM)
        err_set(e, rc, "csv field %s", err_str(rc));
    for (i = 0; rc == 0 && i < c.n; i++)
        rc = optval_list_push(items, n, c.items[i]);
    if (rc < 0) {
        /* Undo a partial append: nothing is added on error. */
        while (i-- > 0 && *n > 0) {
            free((*items)[--*n]);
            (*items)[*n] = NULL;
        }
    }
    optval_list_free(c.items, c.n);
    free(c.line);
    buf_release(&c.field);
    return rc;
}

/* Go's fieldNeedsQuotes with a comma separator. */
static bool
needs_quotes(const char *f)
{
    if (f[0] == '\0')
        return false;
    if (strcmp(f, "\\.") == 0)
        return true;
    if (strpbrk(f, "\n\r\",") != NULL)
        return true;
    /* unicode.IsSpace of the first rune, for the ASCII and Latin-1 set. */
    return strchr(" \t\v\f", f[0]) != NULL ||
           ((unsigned char)f[0] == 0xc2 &&
            ((unsigned char)f[1] == 0x85 || (unsigned char)f[1] == 0xa0));
}

static int
join_field(const char *f, struct buf *out)
{
    int rc = 0;

    if (!needs_quotes(f))
        return buf_adds(out, f);
    rc = buf_addc(out, '"');
    for (; rc == 0 && *f != '\0'; f++) {
        if (*f == '"')
            rc = buf_adds(out, "\"\"");
        else
            rc = buf_addc(out, *f);
    }
    return rc == 0 ? buf_addc(out, '"') : rc;
}

int
optval_csv_join(char *const *list, size_t n, struct buf *out)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = buf_addc(out, ',');
        if (rc == 0)
            rc = join_field(list[i], out);
    }
    return rc == 0 ? buf_addc(out, '\n') : rc;
}
