/*
 * opt.c: the option set and its resolver.
 *
 * A set keeps one entry per option (the table's rows, then any local
 * options) and one value per storage slot: rows with the same json_path
 * share a slot.  Resolution follows serpent: env in name order, then the
 * flags in argument order, then the YAML file, then defaults per slot.
 * Each entry remembers its own channel (what the operator typed for that
 * very name) and when it last wrote its slot, apart from the source shown
 * after defaults, which is that of the slot's last write, copied across
 * the slot; warnings use the former, outputs the latter.
 *
 * Every problem is collected, never only the first, so that an operator
 * fixes a bad configuration in one pass.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonx.h"
#include "core/opt.h"
#include "core/util.h"
#include "core/banned.h"

/* The largest YAML file we read and the deepest nesting we follow. */
#define YAML_FILE_MAX ((size_t)16 << 20)
#define YAML_DEPTH_MAX 64

/* Names longer than this are never an option's env or flag. */
#define NAME_MAX_LEN 256

struct entry {
    const struct opt_desc *d;
    size_t slot;
    long next;                  /* next entry sharing the slot, or -1 */
    bool local;
    enum opt_source own;        /* channel this very name came through */
    char *own_origin;
    unsigned long written;      /* when it last wrote the slot; 0 never */
    enum opt_source src;        /* after defaults: shared in the slot */
    const char *origin;         /* borrowed: own_origin of some entry */
    char *def;                  /* default set by opt_set_set_default */
    char *mark;                 /* origin given by opt_set_mark */
    char *path;                 /* full dotted YAML path, or NULL */
    const char *env_hit;        /* "NAME=value" in envp, or NULL */
    const char *brew_hit;       /* the HOMEBREW_ spelling, or NULL */
};

struct opt_set {
    struct entry *ent;
    size_t n;
    size_t ntable;
    struct opt_value *vals;
    long *heads;                /* first entry of each slot */
    size_t nvals;
    size_t *order;              /* entries by name, byte-wise */
    char **args;
    size_t nargs;
    unsigned long clock;        /* counts writes, for entry.written */
};

/*
 * CODER_ variables that coder-cfg or Coder reads outside the option
 * table; a trailing '*' makes a prefix.  They never draw a warning.
 */
static const char *const known_env[] = {
    "CODER_CFG_*",
    "CODER_CONFIG_DIR",
    "CODER_EXTERNAL_AUTH_*",
    "CODER_SESSION_TOKEN",
    "CODER_TLS_REDIRECT_HTTP",
    "CODER_URL",
    NULL
};

/* --- diagnostics ----------------------------------------------------- */

void
opt_diag_init(struct opt_diag *d)
{
    memset(d, 0, sizeof(*d));
}

static void
free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
opt_diag_release(struct opt_diag *d)
{
    if (d == NULL)
        return;
    free_lines(d->errors, d->nerrors);
    free_lines(d->warnings, d->nwarnings);
    opt_diag_init(d);
}

static int
push_line(char ***v, size_t *n, char *line)
{
    char **nv;

    nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL) {
        free(line);
        return ERR_NOMEM;
    }
    nv[(*n)++] = line;
    *v = nv;
    return 0;
}

static char *
vformat(const char *fmt, va_list ap)
{
    va_list cp;
    char *s;
    int len;

    va_copy(cp, ap);
    len = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (len < 0)
        return NULL;
    s = malloc((size_t)len + 1);
    if (s != NULL)
        vsnprintf(s, (size_t)len + 1, fmt, ap);
    return s;
}

static int
vdiag_add(struct opt_diag *dg, bool warn, const char *fmt, va_list ap)
{
    char *line = vformat(fmt, ap);

    if (line == NULL)
        return ERR_NOMEM;
    if (warn)
        return push_line(&dg->warnings, &dg->nwarnings, line);
    return push_line(&dg->errors, &dg->nerrors, line);
}

int
opt_diag_add(struct opt_diag *dg, bool warn, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vdiag_add(dg, warn, fmt, ap);
    va_end(ap);
    return rc;
}

/* The resolver's short name for opt_diag_add. */
static int diag_add(struct opt_diag *dg, bool warn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
diag_add(struct opt_diag *dg, bool warn, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vdiag_add(dg, warn, fmt, ap);
    va_end(ap);
    return rc;
}

/* --- building a set -------------------------------------------------- */

static char *
yaml_path_of(const struct opt_desc *d)
{
    const struct opt_group *chain[16];
    size_t depth = 0;
    struct buf b;
    char *s;

    if (d->yaml == NULL || d->json_path == NULL)
        return NULL;
    for (const struct opt_group *g = d->group; g != NULL; g = g->parent) {
        if (g->yaml != NULL && depth < 16)
            chain[depth++] = g;
    }

    buf_init(&b);
    while (depth > 0) {
        buf_adds(&b, chain[--depth]->yaml);
        buf_addc(&b, '.');
    }
    if (buf_adds(&b, d->yaml) != 0) {
        buf_release(&b);
        return NULL;
    }
    s = buf_take(&b, NULL);
    return s;
}

static int
by_name(const void *a, const void *b, void *arg)
{
    const struct entry *ent = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(ent[x].d->name, ent[y].d->name);

    /* Equal names keep table order, as Go's stable sort does. */
    if (c != 0)
        return c;
    return x < y ? -1 : x > y;
}

static int
sort_names(struct opt_set *set)
{
    size_t *o;

    o = realloc(set->order, set->n * sizeof(*o));
    if (o == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < set->n; i++)
        o[i] = i;
    set->order = o;
    qsort_r(o, set->n, sizeof(*o), by_name, set->ent);
    return 0;
}

static int
by_json_path(const void *a, const void *b, void *arg)
{
    const struct entry *ent = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(ent[x].d->json_path, ent[y].d->json_path);

    if (c != 0)
        return c;
    return x < y ? -1 : x > y;
}

/*
 * Chains the entries [from, set->n) that share a json_path, in table
 * order, and marks every entry after the first of a chain with slot
 * SIZE_MAX until assign_slots gives it its first's slot.
 */
static int
link_shared(struct opt_set *set, size_t from)
{
    size_t n = 0, *idx = malloc((set->n - from + 1) * sizeof(*idx));

    if (idx == NULL)
        return ERR_NOMEM;
    for (size_t i = from; i < set->n; i++) {
        if (set->ent[i].d->json_path != NULL)
            idx[n++] = i;
    }
    qsort_r(idx, n, sizeof(*idx), by_json_path, set->ent);
    for (size_t k = 1; k < n; k++) {
        struct entry *prev = &set->ent[idx[k - 1]];
        struct entry *e = &set->ent[idx[k]];

        if (strcmp(prev->d->json_path, e->d->json_path) != 0)
            continue;
        prev->next = (long)idx[k];
        e->slot = SIZE_MAX;
    }
    free(idx);
    return 0;
}

/* Gives each chain's first entry a new value; the rest share it. */
static int
assign_slots(struct opt_set *set, size_t from)
{
    for (size_t i = from; i < set->n; i++) {
        struct entry *e = &set->ent[i];
        size_t s = set->nvals;
        int rc;

        if (e->slot == SIZE_MAX)
            continue;
        rc = optval_init(&set->vals[s], e->d->type);
        if (rc != 0)
            return rc;
        set->heads[set->nvals++] = (long)i;
        e->slot = s;
    }
    for (size_t s = 0; s < set->nvals; s++) {
        for (long j = set->ent[set->heads[s]].next; j >= 0;
             j = set->ent[j].next)
            set->ent[j].slot = s;
    }
    return 0;
}

/* Grows the arrays for n more entries and as many slots. */
static int
grow(struct opt_set *set, size_t more)
{
    struct entry *e;
    struct opt_value *v;
    long *h;

    e = realloc(set->ent, (set->n + more) * sizeof(*e));
    if (e == NULL)
        return ERR_NOMEM;
    set->ent = e;
    v = realloc(set->vals, (set->nvals + more) * sizeof(*v));
    if (v == NULL)
        return ERR_NOMEM;
    set->vals = v;
    h = realloc(set->heads, (set->nvals + more) * sizeof(*h));
    if (h == NULL)
        return ERR_NOMEM;
    set->heads = h;
    return 0;
}

static int
add_entries(struct opt_set *set, const struct opt_desc *table, size_t n,
            bool local)
{
    size_t from = set->n;
    int rc = grow(set, n);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct entry *e = &set->ent[set->n++];

        memset(e, 0, sizeof(*e));
        e->d = &table[i];
        e->local = local;
        e->next = -1;
        e->origin = "";
        if (!local && table[i].yaml != NULL) {
            e->path = yaml_path_of(&table[i]);
            if (e->path == NULL)
                rc = ERR_NOMEM;
        }
    }
    if (rc == 0 && !local)
        rc = link_shared(set, from);
    if (rc == 0)
        rc = assign_slots(set, from);
    if (rc == 0)
        rc = sort_names(set);
    return rc;
}

struct opt_set *
opt_set_new(const struct opt_desc *table, size_t n)
{
    struct opt_set *set = calloc(1, sizeof(*set));

    if (set == NULL)
        return NULL;
    if (add_entries(set, table, n, false) != 0) {
        opt_set_free(set);
        return NULL;
    }
    set->ntable = set->n;
    return set;
}

void
opt_set_free(struct opt_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->ent[i].own_origin);
        free(set->ent[i].def);
        free(set->ent[i].mark);
        free(set->ent[i].path);
    }
    for (size_t s = 0; s < set->nvals; s++)
        optval_release(&set->vals[s]);
    for (size_t i = 0; i < set->nargs; i++)
        free(set->args[i]);
    free(set->args);
    free(set->ent);
    free(set->vals);
    free(set->heads);
    free(set->order);
    free(set);
}

int
opt_set_add_local(struct opt_set *set, const struct opt_desc *table,
                  size_t n)
{
    return add_entries(set, table, n, true);
}

int
opt_set_set_default(struct opt_set *set, const char *name,
                    const char *text)
{
    int i = opt_set_find(set, name);
    char *copy;

    if (i < 0)
        return ERR_NOT_FOUND;
    copy = strdup(text);
    if (copy == NULL)
        return ERR_NOMEM;
    free(set->ent[i].def);
    set->ent[i].def = copy;
    return 0;
}

/* --- small helpers --------------------------------------------------- */

static const char *
default_of(const struct entry *e)
{
    const char *def = e->def != NULL ? e->def : e->d->def;

    return def != NULL && def[0] != '\0' ? def : NULL;
}

static struct opt_value *
value_of(struct opt_set *set, const struct entry *e)
{
    return &set->vals[e->slot];
}

/*
 * Records that e is about to write its slot through channel src, as the
 * operator spelled it.  The stamp orders every write of the resolution,
 * so that the slot's value can later be traced to the write that made it.
 */
static int
set_own(struct opt_set *set, struct entry *e, enum opt_source src,
        const char *origin, size_t len)
{
    char *copy = strndup(origin, len);

    if (copy == NULL)
        return ERR_NOMEM;
    free(e->own_origin);
    e->own_origin = copy;
    e->own = src;
    e->written = ++set->clock;
    return 0;
}

/* A word for "invalid <word> ..." messages. */
static const char *
type_word(const struct opt_desc *d)
{
    switch (d->type) {
    case OPT_BOOL:
        return "bool";
    case OPT_INT64:
        return "integer";
    case OPT_FLOAT64:
        return "number";
    case OPT_STRING_ARRAY:
    case OPT_ENUM_ARRAY:
        return "list";
    case OPT_DURATION:
        return "duration";
    case OPT_URL:
        return "url";
    case OPT_HOSTPORT:
        return "host:port";
    case OPT_ENUM:
        return "choice";
    case OPT_REGEXP:
        return "regexp";
    default:
        return "value";
    }
}

/*
 * Levenshtein distance between a[0..la) and b[0..lb), ignoring ASCII
 * case, or SIZE_MAX for strings too long to be a name.
 */
static size_t
distance_n(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[NAME_MAX_LEN + 1];

    if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            int ca = a[i - 1], cb = b[j - 1];
            size_t cost;

            if (ca >= 'A' && ca <= 'Z')
                ca += 'a' - 'A';
            if (cb >= 'A' && cb <= 'Z')
                cb += 'a' - 'A';
            cost = diag + (ca != cb);
            if (row[j] + 1 < cost)
                cost = row[j] + 1;
            if (row[j - 1] + 1 < cost)
                cost = row[j - 1] + 1;
            row[j] = cost;
            diag = up;
        }
    }
    return row[lb];
}

static size_t
distance(const char *a, const char *b)
{
    return distance_n(a, strlen(a), b, strlen(b));
}

/* Keeps cand in *best when it is closer than anything so far. */
static void
consider(const char *word, const char *cand, const char **best,
         size_t *best_d)
{
    size_t d;

    if (cand == NULL)
        return;
    d = distance(word, cand);
    if (d < *best_d) {
        *best = cand;
        *best_d = d;
    }
}

/*
 * A suggestion is worth making only when it is close: a third of the
 * word may differ, and any number of letters only in case (distance 0,
 * since an exact match would not have been unknown).
 */
static bool
close_enough(const char *word, size_t d)
{
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;

    return d <= limit;
}

/* --- environment ----------------------------------------------------- */

static bool
env_eq(const char *name, size_t len, const char *want)
{
    size_t wl = strlen(want);

    if (len != wl)
        return false;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)name[i];

        if (c >= 'a' && c <= 'z')
            c -= 'a' - 'A';
        if (c != (unsigned char)want[i])
            return false;
    }
    return true;
}

/* True for the names in known_env; options' own names never get here. */
static bool
env_known(const char *name, size_t len)
{
    for (size_t i = 0; known_env[i] != NULL; i++) {
        const char *k = known_env[i];
        size_t kl = strlen(k);
        bool prefix = k[kl - 1] == '*';
        size_t cmp = prefix ? kl - 1 : len;
        char want[NAME_MAX_LEN + 1];

        if ((prefix ? len < cmp : len != kl) || cmp > NAME_MAX_LEN)
            continue;
        memcpy(want, k, cmp);
        want[cmp] = '\0';
        if (env_eq(name, cmp, want))
            return true;
    }
    return false;
}

/* Matches one "NAME=value" against every option's env name. */
static bool
env_match(struct opt_set *set, const char *kv, size_t len)
{
    bool brew = len > 9 && env_eq(kv, 9, "HOMEBREW_");
    bool hit = false;

    for (size_t i = 0; i < set->n; i++) {
        struct entry *e = &set->ent[i];

        if (e->d->env == NULL)
            continue;
        if (env_eq(kv, len, e->d->env)) {
            e->env_hit = kv;
            hit = true;
        } else if (brew && env_eq(kv + 9, len - 9, e->d->env)) {
            e->brew_hit = kv;
            hit = true;
        }
    }
    return hit;
}

static int
warn_unknown_env(struct opt_set *set, const char *kv, size_t len,
                 struct opt_diag *dg)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    char name[NAME_MAX_LEN + 1];

    if (len < 6 || !env_eq(kv, 6, "CODER_") || env_known(kv, len))
        return 0;
    if (len > NAME_MAX_LEN)
        return diag_add(dg, true, "unknown environment variable \"%.*s\"",
                        (int)len, kv);
    memcpy(name, kv, len);
    name[len] = '\0';
    for (size_t i = 0; i < set->n; i++)
        consider(name, set->ent[i].d->env, &best, &best_d);
    if (best != NULL && close_enough(name, best_d))
        return diag_add(dg, true, "unknown environment variable \"%s\" "
                        "(did you mean \"%s\"?)", name, best);
    return diag_add(dg, true, "unknown environment variable \"%s\"", name);
}

int
opt_escape(struct buf *out, const char *s, bool quote)
{
    int rc = 0;

    for (; rc == 0 && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((quote && c == '"') || c == '\\')
            rc = buf_addf(out, "\\%c", c);
        else if (c == '\n')
            rc = buf_adds(out, "\\n");
        else if (c == '\t')
            rc = buf_adds(out, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = buf_addf(out, "\\x%02x", c);
        else
            rc = buf_addc(out, (char)c);
    }
    return rc;
}

/* Appends s in double quotes, escaped so that a message is one line. */
static int
add_quoted(struct buf *b, const char *s)
{
    int rc = buf_addc(b, '"');

    if (rc == 0)
        rc = opt_escape(b, s, true);
    return rc == 0 ? buf_addc(b, '"') : rc;
}

/* True when the word that ends at end names a value type, as Go says it. */
static bool
type_named(const char *cause, const char *end)
{
    static const char *const words[] = {
        "duration", "integer", "boolean", "bool", "number", "float",
        "choice", "value", NULL
    };
    const char *w = end;

    while (w > cause && w[-1] != ' ')
        w--;
    for (size_t i = 0; words[i] != NULL; i++) {
        if ((size_t)(end - w) == strlen(words[i]) &&
            memcmp(w, words[i], (size_t)(end - w)) == 0)
            return true;
    }
    return false;
}

/* Removes cause[at, at + len), keeping the rest of the string. */
static void
cut(char *cause, size_t at, size_t len)
{
    memmove(cause + at, cause + at + len, strlen(cause + at + len) + 1);
}

/*
 * The value layer's cause, in place, without the bad text it repeats:
 * the message around it quotes that text already.  Go's causes name it
 * as "parse "x": ...", "invalid boolean "x": ...", "invalid choice: x,
 * ...", "integer "x" out of range", "missing unit in duration "x"" or
 * "...: `x`"; each is cut to what is left to say, which may be nothing.
 */
static void
tidy_cause(char *cause, const char *text)
{
    char q[NAME_MAX_LEN + 3];
    size_t tl = strlen(text), ql = tl + 2, cl;
    char *at, *sp;

    if (tl > NAME_MAX_LEN)
        return;
    if (strncmp(cause, "invalid choice: ", 16) == 0 &&
        strncmp(cause + 16, text, tl) == 0 && cause[16 + tl] == ',')
        cut(cause, 0, 16 + tl + 1 + (cause[17 + tl] == ' '));
    if (strncmp(cause, "address ", 8) == 0 &&
        strncmp(cause + 8, text, tl) == 0 && cause[8 + tl] == ':')
        cut(cause, 0, 8 + tl + 1 + (cause[9 + tl] == ' '));
    snprintf(q, sizeof(q), "\"%s\"", text);
    while ((at = strstr(cause, q)) != NULL && strncmp(at + ql, ": ", 2) == 0)
        cut(cause, 0, (size_t)(at - cause) + ql + 2);

    /* The quoted text, with a type word before it: "integer "x" ...". */
    at = strstr(cause, q);
    if (at != NULL) {
        sp = at;
        if (sp > cause + 1 && sp[-1] == ' ' && type_named(cause, sp - 1))
            for (sp--; sp > cause && sp[-1] != ' ';)
                sp--;
        cut(cause, (size_t)(sp - cause), (size_t)(at - sp) + ql +
            (at[ql] == ' '));
    }
    cl = strlen(cause);
    if (cl > tl + 4 && memcmp(cause + cl - tl - 4, ": `", 3) == 0 &&
        memcmp(cause + cl - tl - 1, text, tl) == 0 && cause[cl - 1] == '`')
        cause[cl - tl - 4] = '\0';
    cl = strlen(cause);
    while (cl > 0 && cause[cl - 1] == ' ')
        cause[--cl] = '\0';
    if (cl >= 3 && strcmp(cause + cl - 3, " in") == 0)
        cause[cl - 3] = '\0';
    if (strcmp(cause, "invalid") == 0 || (strncmp(cause, "invalid ", 8) == 0
                                          && strchr(cause + 8, ' ') == NULL))
        cause[0] = '\0';
}

bool
opt_desc_is_secret(const struct opt_desc *d)
{
    return d != NULL && (d->annotations & OPT_ANN_SECRET) != 0;
}

/*
 * The refused text as a message shows it, and the value layer's cause
 * made fit to follow it.  A secret is shown by its length only, and its
 * cause is replaced as a whole: causes quote the input (a CSV error, a
 * URL parse error) in ways that cannot all be cut out.
 */
static int
add_refused(struct buf *q, const struct opt_desc *d, const char *text,
            char *cause)
{
    if (opt_desc_is_secret(d)) {
        snprintf(cause, ERR_MSG_MAX, "the secret value cannot be parsed");
        return buf_addf(q, "(secret, %zu bytes)", strlen(text));
    }
    tidy_cause(cause, text);
    return add_quoted(q, text);
}

static int
apply_text(struct opt_set *set, struct entry *e, const char *text,
           const char *where, size_t wlen, struct opt_diag *dg)
{
    struct err err;
    struct buf q;
    int rc;

    err_clear(&err);
    if (optval_set(value_of(set, e), e->d, text, &err) == 0)
        return 0;
    if (err.code == ERR_NOMEM)
        return ERR_NOMEM;
    buf_init(&q);
    rc = add_refused(&q, e->d, text, err.msg);
    if (rc == 0)
        rc = diag_add(dg, false, "invalid %s %s for %.*s%s%s",
                      type_word(e->d), buf_str(&q), (int)wlen, where,
                      err.msg[0] != '\0' ? ": " : "", err.msg);
    buf_release(&q);
    return rc;
}

/* What an option that cannot be empty needs, for the message below. */
static int
needed(const struct opt_desc *d, struct buf *b)
{
    switch (d->type) {
    case OPT_INT64:
        return buf_adds(b, "an integer");
    case OPT_FLOAT64:
        return buf_adds(b, "a number");
    case OPT_DURATION:
        return buf_adds(b, "a duration");
    case OPT_HOSTPORT:
        return buf_adds(b, "a host:port");
    default:
        break;
    }
    for (size_t i = 0; d->choices != NULL && d->choices[i] != NULL; i++) {
        int rc = buf_addf(b, "%s%s", i == 0 ? "one of " : ", ",
                          d->choices[i]);

        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * A variable present but empty, for a type whose Set refuses "": said
 * plainly, with the way back to the default, in its Go text form.
 */
static int
empty_env(const struct entry *e, const char *name, size_t len,
          struct opt_diag *dg)
{
    const char *def = default_of(e);
    struct opt_value v;
    struct buf need, dtext;
    struct err err;
    int rc;

    buf_init(&need);
    buf_init(&dtext);
    rc = needed(e->d, &need);
    if (rc == 0 && def != NULL && optval_init(&v, e->d->type) == 0) {
        if (optval_set(&v, e->d, def, &err) == 0)
            rc = optval_text(&v, e->d, &dtext);
        optval_release(&v);
    }
    if (rc == 0)
        rc = diag_add(dg, false, "%.*s is set but empty: %s is required "
                      "(unset it to %s%s)", (int)len, name, buf_str(&need),
                      dtext.len > 0 ? "use the default " :
                      "leave the option unset", buf_str(&dtext));
    buf_release(&need);
    buf_release(&dtext);
    return rc;
}

/* Types whose Set refuses the empty text. */
static bool
needs_text(const struct opt_desc *d)
{
    return d->type == OPT_INT64 || d->type == OPT_FLOAT64 ||
        d->type == OPT_DURATION || d->type == OPT_HOSTPORT ||
        d->type == OPT_ENUM;
}

static int
resolve_env(struct opt_set *set, char *const *envp, struct opt_diag *dg)
{
    int rc = 0;

    for (size_t i = 0; envp != NULL && envp[i] != NULL && rc == 0; i++) {
        const char *eq = strchr(envp[i], '=');
        size_t len = eq != NULL ? (size_t)(eq - envp[i]) : 0;

        if (len == 0)
            continue;
        if (!env_match(set, envp[i], len))
            rc = warn_unknown_env(set, envp[i], len, dg);
    }

    /* In name order, so that the later of two aliases wins. */
    for (size_t k = 0; k < set->n && rc == 0; k++) {
        struct entry *e = &set->ent[set->order[k]];
        const char *kv = e->env_hit != NULL ? e->env_hit : e->brew_hit;
        size_t len;

        if (kv == NULL)
            continue;
        len = (size_t)(strchr(kv, '=') - kv);
        rc = set_own(set, e, OPT_SRC_ENV, kv, len);
        if (rc == 0 && kv[len + 1] == '\0' && needs_text(e->d))
            rc = empty_env(e, kv, len, dg);
        else if (rc == 0)
            rc = apply_text(set, e, kv + len + 1, kv, len, dg);
    }
    return rc;
}

/* --- flags ----------------------------------------------------------- */

static struct entry *
find_flag(struct opt_set *set, const char *name, size_t len)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *f = set->ent[i].d->flag;

        if (f != NULL && strlen(f) == len && memcmp(f, name, len) == 0)
            return &set->ent[i];
    }
    return NULL;
}

static struct entry *
find_short(struct opt_set *set, char c)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *s = set->ent[i].d->shorthand;

        if (s != NULL && s[0] == c && s[1] == '\0')
            return &set->ent[i];
    }
    return NULL;
}

static int
unknown_flag(struct opt_set *set, const char *name, size_t len,
             struct opt_diag *dg)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    char word[NAME_MAX_LEN + 1];

    if (len <= NAME_MAX_LEN) {
        memcpy(word, name, len);
        word[len] = '\0';
        for (size_t i = 0; i < set->n; i++)
            consider(word, set->ent[i].d->flag, &best, &best_d);
    }
    if (best != NULL && close_enough(word, best_d))
        return diag_add(dg, false, "unknown flag \"--%.*s\" "
                        "(did you mean \"--%s\"?)", (int)len, name, best);
    return diag_add(dg, false, "unknown flag \"--%.*s\"", (int)len, name);
}

/* One flag occurrence: records the channel, then sets the value. */
static int
flag_set(struct opt_set *set, struct entry *e, const char *typed,
         size_t tlen, const char *text, struct opt_diag *dg)
{
    int rc = set_own(set, e, OPT_SRC_FLAG, typed, tlen);

    if (rc == 0)
        rc = apply_text(set, e, text, typed, tlen, dg);
    return rc;
}

/* "--name", "--name=value" or "--name value"; returns args consumed. */
static int
long_flag(struct opt_set *set, int argc, char *const *argv, int i,
          struct opt_diag *dg, int *rc)
{
    const char *arg = argv[i];
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    struct entry *e = find_flag(set, name, len);

    if (e == NULL) {
        *rc = unknown_flag(set, name, len, dg);
        return 1;
    }
    if (eq != NULL) {
        *rc = flag_set(set, e, arg, len + 2, eq + 1, dg);
        return 1;
    }
    if (e->d->type == OPT_BOOL) {
        *rc = flag_set(set, e, arg, len + 2, "true", dg);
        return 1;
    }
    if (i + 1 >= argc) {
        *rc = diag_add(dg, false, "flag \"%s\" needs an argument", arg);
        return 1;
    }
    *rc = flag_set(set, e, arg, len + 2, argv[i + 1], dg);
    return 2;
}

/* "-abc", "-cvalue", "-c=value", "-c value"; returns args consumed. */
static int
short_flags(struct opt_set *set, int argc, char *const *argv, int i,
            struct opt_diag *dg, int *rc)
{
    const char *arg = argv[i];

    *rc = 0;
    for (size_t k = 1; arg[k] != '\0' && *rc == 0; k++) {
        struct entry *e = find_short(set, arg[k]);
        char typed[3] = { '-', arg[k], '\0' };

        if (e == NULL) {
            *rc = diag_add(dg, false, "unknown shorthand flag \"-%c\" "
                           "in \"%s\"", arg[k], arg);
            return 1;
        }
        if (arg[k + 1] == '=') {
            *rc = flag_set(set, e, typed, 2, arg + k + 2, dg);
            return 1;
        }
        if (e->d->type == OPT_BOOL) {
            *rc = flag_set(set, e, typed, 2, "true", dg);
            continue;
        }
        if (arg[k + 1] != '\0') {
            *rc = flag_set(set, e, typed, 2, arg + k + 1, dg);
            return 1;
        }
        if (i + 1 >= argc) {
            *rc = diag_add(dg, false, "flag \"%s\" needs an argument",
                           typed);
            return 1;
        }
        *rc = flag_set(set, e, typed, 2, argv[i + 1], dg);
        return 2;
    }
    return 1;
}

static int
add_arg(struct opt_set *set, const char *arg)
{
    char *copy = strdup(arg);

    if (copy == NULL)
        return ERR_NOMEM;
    return push_line(&set->args, &set->nargs, copy);
}

static int
resolve_flags(struct opt_set *set, int argc, char *const *argv,
              struct opt_diag *dg)
{
    bool flags_done = false;
    int rc = 0;

    for (int i = 0; i < argc && rc == 0;) {
        const char *arg = argv[i];

        if (flags_done || arg[0] != '-' || arg[1] == '\0') {
            rc = add_arg(set, arg);
            i++;
        } else if (strcmp(arg, "--") == 0) {
            flags_done = true;
            i++;
        } else if (arg[1] == '-') {
            i += long_flag(set, argc, argv, i, dg, &rc);
        } else {
            i += short_flags(set, argc, argv, i, dg, &rc);
        }
    }
    return rc;
}

/* --- YAML file ------------------------------------------------------- */

/* One flattened key: its dotted path and where it sits. */
struct ykey {
    char *path;
    size_t plen;                /* length of the parent's path, 0 at top */
    size_t seq;                 /* order of appearance */
    yaml_node_t *key;
    yaml_node_t *val;
    bool gone;                  /* an ancestor group's path */
    bool matched;               /* an option's path, or under one */
};

struct ytab {
    struct ykey *k;
    size_t n;
    const char *file;
    yaml_document_t doc;
    size_t *epos;               /* file offset of each error so far */
    size_t nepos;
};

static int yaml_error(struct ytab *t, struct opt_diag *dg,
                      const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Adds "file:line:col: <message>" for the place m and remembers where it
 * is, so that yaml_errors_in_order can put the file's errors in order.
 */
static int
yaml_error(struct ytab *t, struct opt_diag *dg, const yaml_mark_t *m,
           const char *fmt, ...)
{
    size_t *pos = realloc(t->epos, (t->nepos + 1) * sizeof(*pos));
    va_list ap;
    char *msg;
    int rc;

    if (pos == NULL)
        return ERR_NOMEM;
    t->epos = pos;
    va_start(ap, fmt);
    msg = vformat(fmt, ap);
    va_end(ap);
    if (msg == NULL)
        return ERR_NOMEM;
    rc = diag_add(dg, false, "%s:%zu:%zu: %s", t->file, m->line + 1,
                  m->column + 1, msg);
    free(msg);
    if (rc == 0)
        t->epos[t->nepos++] = m->index;
    return rc;
}

/*
 * The file's errors are found option by option, then key by key; this
 * puts errors[from..] (one per epos) in the order of the file.
 */
static void
yaml_errors_in_order(struct ytab *t, struct opt_diag *dg, size_t from)
{
    char **e = dg->errors + from;

    if (dg->nerrors - from != t->nepos)
        return;
    for (size_t i = 1; i < t->nepos; i++) {
        size_t p = t->epos[i], j = i;
        char *line = e[i];

        for (; j > 0 && t->epos[j - 1] > p; j--) {
            t->epos[j] = t->epos[j - 1];
            e[j] = e[j - 1];
        }
        t->epos[j] = p;
        e[j] = line;
    }
}

static int
ytab_add(struct ytab *t, const char *parent, size_t plen,
         yaml_node_t *key, yaml_node_t *val)
{
    const char *name = (const char *)key->data.scalar.value;
    size_t nlen = key->data.scalar.length;
    struct ykey *nk;
    char *path;

    path = malloc(plen + 1 + nlen + 1);
    if (path == NULL)
        return ERR_NOMEM;
    if (plen > 0) {
        memcpy(path, parent, plen);
        path[plen++] = '.';
    }
    memcpy(path + plen, name, nlen);
    path[plen + nlen] = '\0';
    plen = plen > 0 ? plen - 1 : 0;

    nk = realloc(t->k, (t->n + 1) * sizeof(*nk));
    if (nk == NULL) {
        free(path);
        return ERR_NOMEM;
    }
    t->k = nk;
    nk[t->n] = (struct ykey){ .path = path, .plen = plen, .seq = t->n,
                              .key = key, .val = val };
    t->n++;
    return 0;
}

static int
flatten(struct ytab *t, yaml_node_t *map, const char *parent, size_t plen,
        int depth, struct opt_diag *dg)
{
    yaml_node_pair_t *p;
    int rc = 0;

    if (depth > YAML_DEPTH_MAX)
        return yaml_error(t, dg, &map->start_mark,
                          "mappings nested too deep");
    for (p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top && rc == 0; p++) {
        yaml_node_t *k = yaml_document_get_node(&t->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&t->doc, p->value);

        if (k == NULL || v == NULL)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            rc = yaml_error(t, dg, &k->start_mark,
                            "mapping keys must be scalars");
            continue;
        }
        rc = ytab_add(t, parent, plen, k, v);
        if (rc == 0 && v->type == YAML_MAPPING_NODE) {
            char *path = t->k[t->n - 1].path;

            rc = flatten(t, v, path, strlen(path), depth + 1, dg);
        }
    }
    return rc;
}

static int
by_path(const void *a, const void *b)
{
    const struct ykey *x = a, *y = b;
    int c = strcmp(x->path, y->path);

    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts by path and keeps the last of duplicate keys, as Go's map does. */
static void
ytab_sort(struct ytab *t)
{
    size_t w = 0;

    qsort(t->k, t->n, sizeof(*t->k), by_path);
    for (size_t r = 0; r < t->n; r++) {
        if (r + 1 < t->n && strcmp(t->k[r].path, t->k[r + 1].path) == 0) {
            free(t->k[r].path);
            continue;
        }
        t->k[w++] = t->k[r];
    }
    t->n = w;
}

/* Index of the first key whose path is >= (s, len), by bisection. */
static size_t
ytab_lower(const struct ytab *t, const char *s, size_t len)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(t->k[mid].path, s, len);

        if (c < 0 || (c == 0 && strlen(t->k[mid].path) < len))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct ykey *
ytab_find(const struct ytab *t, const char *s, size_t len)
{
    size_t i = ytab_lower(t, s, len);

    if (i < t->n && strlen(t->k[i].path) == len &&
        memcmp(t->k[i].path, s, len) == 0)
        return &t->k[i];
    return NULL;
}

/* Marks path and every key below it as matched. */
static void
ytab_match(struct ytab *t, const char *path)
{
    size_t len = strlen(path);

    for (size_t i = ytab_lower(t, path, len); i < t->n; i++) {
        const char *p = t->k[i].path;

        if (strncmp(p, path, len) != 0)
            break;
        if (p[len] == '\0' || p[len] == '.')
            t->k[i].matched = true;
    }
}

/* "file:line:col: invalid duration "90" for a.b: missing unit". */
static int
yaml_invalid(struct ytab *t, yaml_node_t *val, const struct entry *e,
             struct err *err, struct opt_diag *dg)
{
    const char *text = (const char *)val->data.scalar.value;
    bool scalar = val->type == YAML_SCALAR_NODE;
    struct buf q;
    int rc = 0;

    buf_init(&q);
    if (scalar)
        rc = add_refused(&q, e->d, text, err->msg);
    else if (opt_desc_is_secret(e->d))
        snprintf(err->msg, sizeof(err->msg),
                 "the secret value cannot be parsed");
    if (rc == 0)
        rc = yaml_error(t, dg, &val->start_mark, "invalid %s%s%s for %s%s%s",
                        type_word(e->d), scalar ? " " : "", buf_str(&q),
                        e->path, err->msg[0] != '\0' ? ": " : "", err->msg);
    buf_release(&q);
    return rc;
}

/* Records "file:line:col" of the key as e's own origin. */
static int
yaml_origin(struct opt_set *set, struct entry *e, const char *file,
            const yaml_node_t *key)
{
    struct buf b;
    int rc;

    buf_init(&b);
    rc = buf_addf(&b, "%s:%zu:%zu", file, key->start_mark.line + 1,
                  key->start_mark.column + 1);
    if (rc == 0)
        rc = set_own(set, e, OPT_SRC_YAML, buf_str(&b), b.len);
    buf_release(&b);
    return rc;
}

/*
 * A key for an option that env or a flag already set is not applied
 * (serpent skips it), but a broken file is still a broken file: the node
 * is read into a scratch value only to report what is wrong with it.
 */
static int
yaml_check_only(struct ytab *t, const struct ykey *k,
                const struct entry *e, struct opt_diag *dg)
{
    struct opt_value scratch;
    struct err err;
    int rc;

    rc = optval_init(&scratch, e->d->type);
    if (rc != 0)
        return rc;
    err_clear(&err);
    rc = optval_set_yaml(&scratch, e->d, &t->doc, k->val, &err);
    optval_release(&scratch);
    if (rc == 0)
        return 0;
    if (err.code == ERR_NOMEM)
        return ERR_NOMEM;
    return yaml_invalid(t, k->val, e, &err, dg);
}

static int
yaml_apply_one(struct opt_set *set, struct ytab *t, struct entry *e,
               struct opt_diag *dg)
{
    const char *path = e->path;
    struct ykey *k;
    struct err err;
    int rc;

    /* Ancestor groups are not options, whatever they hold. */
    for (const char *dot = strchr(path, '.'); dot != NULL;
         dot = strchr(dot + 1, '.')) {
        k = ytab_find(t, path, (size_t)(dot - path));
        if (k != NULL)
            k->gone = true;
    }
    k = ytab_find(t, path, strlen(path));
    if (k == NULL)
        return 0;
    ytab_match(t, path);
    if (e->own != OPT_SRC_NONE)
        return yaml_check_only(t, k, e, dg);

    rc = yaml_origin(set, e, t->file, k->key);
    if (rc != 0)
        return rc;

    err_clear(&err);
    if (optval_set_yaml(value_of(set, e), e->d, &t->doc, k->val, &err) == 0)
        return 0;
    if (err.code == ERR_NOMEM)
        return ERR_NOMEM;
    return yaml_invalid(t, k->val, e, &err, dg);
}

static int
by_mark(const void *a, const void *b)
{
    const struct ykey *x = *(struct ykey *const *)a;
    const struct ykey *y = *(struct ykey *const *)b;

    if (x->key->start_mark.index != y->key->start_mark.index)
        return x->key->start_mark.index < y->key->start_mark.index ? -1 : 1;
    return 0;
}

/* The last dotted segment of path. */
static const char *
last_segment(const char *path)
{
    const char *dot = strrchr(path, '.');

    return dot != NULL ? dot + 1 : path;
}

/* A suggested path: the first len bytes of s, at distance d. */
struct hint {
    const char *s;
    size_t len;
    size_t d;
};

/*
 * The closest option path, or group path (a prefix of one), to the whole
 * of path: catches a typo in any segment, and any difference in case.
 */
static struct hint
suggest_whole(const struct opt_set *set, const char *path)
{
    struct hint h = { NULL, 0, SIZE_MAX };
    size_t pl = strlen(path);

    for (size_t i = 0; i < set->n; i++) {
        const char *p = set->ent[i].path;

        for (size_t end = 0; p != NULL; end++) {
            size_t d;

            if (p[end] != '.' && p[end] != '\0')
                continue;
            d = distance_n(path, pl, p, end);
            if (d < h.d)
                h = (struct hint){ p, end, d };
            if (p[end] == '\0')
                break;
        }
    }
    return h;
}

/*
 * The one option whose last segment is closest to path's last segment,
 * for a key put at the wrong level.  Nothing when none is close, or when
 * two options tie, as a guess between them would mislead.
 */
static struct hint
suggest_leaf(const struct opt_set *set, const char *path)
{
    const char *leaf = last_segment(path);
    struct hint h = { NULL, 0, SIZE_MAX }, none = h;
    size_t limit = strlen(leaf) / 4;
    bool tie = false;

    for (size_t i = 0; i < set->n; i++) {
        const char *p = set->ent[i].path;
        size_t d;

        if (p == NULL)
            continue;
        d = distance(leaf, last_segment(p));
        if (d < h.d) {
            h = (struct hint){ p, strlen(p), d };
            tie = false;
        } else if (d == h.d && strcmp(p, h.s) != 0) {
            tie = true;
        }
    }
    return !tie && h.d <= (limit > 1 ? limit : 1) ? h : none;
}

static int
report_unknown_key(const struct opt_set *set, struct ytab *t,
                   const struct ykey *k, struct opt_diag *dg)
{
    struct hint h = suggest_whole(set, k->path);

    if (h.s != NULL && !close_enough(k->path, h.d))
        h = suggest_leaf(set, k->path);
    if (h.s != NULL)
        return yaml_error(t, dg, &k->key->start_mark, "unknown option "
                          "\"%s\" (did you mean \"%.*s\"?)", k->path,
                          (int)h.len, h.s);
    return yaml_error(t, dg, &k->key->start_mark, "unknown option \"%s\"",
                      k->path);
}

/* Reports leftover keys in file order, each only below a known parent. */
static int
report_unknown(const struct opt_set *set, struct ytab *t,
               struct opt_diag *dg)
{
    struct ykey **left = calloc(t->n + 1, sizeof(*left));
    size_t nleft = 0;
    int rc = 0;

    if (left == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < t->n; i++) {
        struct ykey *k = &t->k[i], *parent;

        if (k->gone || k->matched)
            continue;
        parent = k->plen > 0 ? ytab_find(t, k->path, k->plen) : NULL;
        if (parent != NULL && !parent->gone && !parent->matched)
            continue;
        left[nleft++] = k;
    }
    qsort(left, nleft, sizeof(*left), by_mark);
    for (size_t i = 0; i < nleft && rc == 0; i++)
        rc = report_unknown_key(set, t, left[i], dg);
    free(left);
    return rc;
}

static int
read_file(const char *file, struct buf *b, struct opt_diag *dg)
{
    FILE *f = fopen(file, "rb");
    char chunk[8192];
    size_t got;
    int rc = 0;

    if (f == NULL)
        return diag_add(dg, false, "cannot read config file \"%s\": %s",
                        file, strerror(errno));
    while (rc == 0 && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_add(b, chunk, got);
    if (rc == 0 && ferror(f))
        rc = diag_add(dg, false, "cannot read config file \"%s\": %s",
                      file, strerror(errno));
    else if (rc == ERR_TOO_LARGE)
        rc = diag_add(dg, false, "config file \"%s\" is too large "
                      "(over %zu bytes)", file, YAML_FILE_MAX);
    fclose(f);
    return rc;
}

/* Parses the file into t->doc; 1 when a problem went to dg instead. */
static int
yaml_load(struct ytab *t, struct buf *text, struct opt_diag *dg)
{
    yaml_parser_t parser;
    yaml_node_t *root;
    int rc = 0;

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)
                                 buf_str(text), text->len);
    if (!yaml_parser_load(&parser, &t->doc)) {
        rc = diag_add(dg, false, "%s:%zu:%zu: %s%s%s", t->file,
                      parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1,
                      parser.problem != NULL ? parser.problem : "bad yaml",
                      parser.context != NULL ? " " : "",
                      parser.context != NULL ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc != 0 ? rc : 1;
    }
    yaml_parser_delete(&parser);

    root = yaml_document_get_root_node(&t->doc);
    if (root == NULL)
        rc = diag_add(dg, false, "%s: expected mapping node, found an "
                      "empty document", t->file);
    else if (root->type != YAML_MAPPING_NODE)
        rc = diag_add(dg, false, "%s:%zu:%zu: expected mapping node at the "
                      "top of the file", t->file,
                      root->start_mark.line + 1,
                      root->start_mark.column + 1);
    else
        return 0;
    yaml_document_delete(&t->doc);
    return rc != 0 ? rc : 1;
}

static int
resolve_yaml_file(struct opt_set *set, const char *file,
                  struct opt_diag *dg)
{
    struct ytab t = { .file = file };
    struct buf text;
    size_t nerr = dg->nerrors;
    int rc;

    buf_init_limit(&text, YAML_FILE_MAX);
    rc = read_file(file, &text, dg);
    if (rc != 0 || dg->nerrors > nerr)
        goto out_text;
    rc = yaml_load(&t, &text, dg);
    if (rc != 0)
        goto out_text;

    rc = flatten(&t, yaml_document_get_root_node(&t.doc), "", 0, 0, dg);
    ytab_sort(&t);
    for (size_t k = 0; k < set->n && rc == 0; k++) {
        struct entry *e = &set->ent[set->order[k]];

        if (e->path != NULL)
            rc = yaml_apply_one(set, &t, e, dg);
    }
    if (rc == 0)
        rc = report_unknown(set, &t, dg);
    if (rc == 0)
        yaml_errors_in_order(&t, dg, nerr);

    for (size_t i = 0; i < t.n; i++)
        free(t.k[i].path);
    free(t.k);
    free(t.epos);
    yaml_document_delete(&t.doc);
out_text:
    buf_release(&text);
    return rc > 0 ? 0 : rc;
}

static int
resolve_yaml(struct opt_set *set, struct opt_diag *dg)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct opt_value *v = value_of(set, &set->ent[i]);

        if (set->ent[i].d->type == OPT_YAML_PATH && v->s != NULL &&
            v->s[0] != '\0')
            return resolve_yaml_file(set, v->s, dg);
    }
    return 0;
}

/* --- defaults and warnings ------------------------------------------- */

/*
 * The entry whose write is in force in slot s, or NULL when nothing was
 * written.  serpent applies env in name order, then flags in argument
 * order, then YAML in name order, and each write replaces the value
 * before it (arrays append), so the last write is the one that counts.
 */
static const struct entry *
last_writer(const struct opt_set *set, size_t s)
{
    const struct entry *w = NULL;

    for (long i = set->heads[s]; i >= 0; i = set->ent[i].next) {
        const struct entry *e = &set->ent[i];

        if (e->written > 0 && (w == NULL || e->written > w->written))
            w = e;
    }
    return w;
}

static int
slot_default(struct opt_set *set, size_t s, struct opt_diag *dg)
{
    const struct entry *def = NULL;
    struct err err;

    for (long i = set->heads[s]; i >= 0; i = set->ent[i].next) {
        const struct entry *e = &set->ent[i];

        if (default_of(e) == NULL)
            continue;
        if (def != NULL && strcmp(default_of(def), default_of(e)) != 0)
            return diag_add(dg, false, "options \"%s\" and \"%s\" share "
                            "a value but have different defaults",
                            def->d->name, e->d->name);
        def = e;
    }
    if (def == NULL)
        return 0;

    err_clear(&err);
    if (optval_set(&set->vals[s], def->d, default_of(def), &err) != 0)
        return err.code == ERR_NOMEM ? ERR_NOMEM :
            diag_add(dg, false, "invalid default \"%s\" for option \"%s\": "
                     "%s", default_of(def), def->d->name, err.msg);
    for (long i = set->heads[s]; i >= 0; i = set->ent[i].next) {
        set->ent[i].src = OPT_SRC_DEFAULT;
        set->ent[i].origin = "default";
    }
    return 0;
}

/*
 * Labels every member of a slot with the channel and spelling of the
 * write in force.  serpent labels them with the highest-ranking channel
 * any member saw instead, which names the wrong place when two names of
 * one value were both set: YAML on one name overwrites env or a flag on
 * its twin, and of two env names the later by name wins.  The value
 * stays serpent's; only the label follows it.
 */
static int
resolve_defaults(struct opt_set *set, struct opt_diag *dg)
{
    int rc = 0;

    for (size_t s = 0; s < set->nvals && rc == 0; s++) {
        const struct entry *w = last_writer(set, s);

        if (w == NULL) {
            rc = slot_default(set, s, dg);
            continue;
        }
        for (long i = set->heads[s]; i >= 0; i = set->ent[i].next) {
            set->ent[i].src = w->own;
            set->ent[i].origin = w->own_origin;
        }
    }
    return rc;
}

/* The name as the operator gave it: CODER_X, --x as typed, or a.b.c. */
static const char *
typed_name(const struct entry *e)
{
    return e->own == OPT_SRC_YAML ? e->path : e->own_origin;
}

/*
 * Warns when two names of one value were both given, naming each as it
 * was typed, the value (by its current name) and the spelling in force.
 */
static int
warn_conflict(const struct opt_set *set, size_t s, struct opt_diag *dg)
{
    const struct entry *w = last_writer(set, s), *named = NULL;
    struct buf b;
    size_t nset = 0;
    int rc = 0;

    for (long i = set->heads[s]; i >= 0; i = set->ent[i].next) {
        const struct entry *e = &set->ent[i];

        nset += e->written > 0;
        if (named == NULL && e->d->use_instead == NULL)
            named = e;
    }
    if (nset < 2)
        return 0;

    buf_init(&b);
    for (long i = set->heads[s]; i >= 0 && rc == 0; i = set->ent[i].next) {
        if (set->ent[i].written > 0 && &set->ent[i] != w)
            rc = buf_addf(&b, "\"%s\" and ", typed_name(&set->ent[i]));
    }
    if (rc == 0)
        rc = diag_add(dg, true, "%s\"%s\" both set \"%s\"; using \"%s\"",
                      buf_str(&b), typed_name(w),
                      (named != NULL ? named : w)->d->name, typed_name(w));
    buf_release(&b);
    return rc;
}

static int
warn_conflicts(const struct opt_set *set, struct opt_diag *dg)
{
    int rc = 0;

    for (size_t s = 0; s < set->nvals && rc == 0; s++)
        rc = warn_conflict(set, s, dg);
    return rc;
}

static const struct entry *
find_entry(const struct opt_set *set, const char *name)
{
    int i = opt_set_find(set, name);

    return i < 0 ? NULL : &set->ent[i];
}

/* The name of e in the spelling of channel src, into b. */
static int
spell(const struct entry *e, enum opt_source src, struct buf *b)
{
    const struct opt_desc *d = e->d;

    if (src == OPT_SRC_ENV && d->env != NULL)
        return buf_adds(b, d->env);
    if (src == OPT_SRC_YAML && e->path != NULL)
        return buf_adds(b, e->path);
    if (d->flag != NULL)
        return buf_addf(b, "--%s", d->flag);
    if (d->env != NULL)
        return buf_adds(b, d->env);
    return buf_adds(b, d->name);
}

static int
warn_deprecated(const struct opt_set *set, const struct entry *e,
                struct opt_diag *dg)
{
    const char *used = e->own_origin;
    struct buf b;
    int rc = 0;

    /* A flag keeps its typed form; YAML names the path, not the file. */
    buf_init(&b);
    if (e->own == OPT_SRC_YAML)
        rc = buf_addf(&b, "deprecated option \"%s\"", e->path);
    else
        rc = buf_addf(&b, "deprecated option \"%s\"", used);
    for (size_t i = 0; rc == 0 && e->d->use_instead[i] != NULL; i++) {
        const struct entry *r = find_entry(set, e->d->use_instead[i]);

        rc = buf_adds(&b, i == 0 ? ": use \"" : "\" and \"");
        if (rc == 0)
            rc = r != NULL ? spell(r, e->own, &b) :
                buf_adds(&b, e->d->use_instead[i]);
    }
    if (rc == 0)
        rc = buf_adds(&b, "\" instead");
    if (rc == 0)
        rc = diag_add(dg, true, "%s", buf_str(&b));
    buf_release(&b);
    return rc;
}

static int
warn_all_deprecated(const struct opt_set *set, struct opt_diag *dg)
{
    int rc = 0;

    for (size_t k = 0; k < set->n && rc == 0; k++) {
        const struct entry *e = &set->ent[set->order[k]];

        if (e->d->use_instead != NULL && e->d->use_instead[0] != NULL &&
            e->own != OPT_SRC_NONE && e->own != OPT_SRC_DEFAULT)
            rc = warn_deprecated(set, e, dg);
    }
    return rc;
}

int
opt_set_resolve(struct opt_set *set, int argc, char *const *argv,
                char *const *envp, struct opt_diag *diag)
{
    size_t nerr = diag->nerrors;
    int rc;

    rc = resolve_env(set, envp, diag);
    if (rc == 0)
        rc = resolve_flags(set, argc, argv, diag);
    if (rc == 0)
        rc = resolve_yaml(set, diag);
    if (rc == 0)
        rc = resolve_defaults(set, diag);
    if (rc == 0)
        rc = warn_all_deprecated(set, diag);
    if (rc == 0)
        rc = warn_conflicts(set, diag);
    if (rc == 0 && diag->nerrors > nerr)
        rc = ERR_INVALID;
    return rc;
}

/* --- accessors ------------------------------------------------------- */

char *const *
opt_set_args(const struct opt_set *set, size_t *n)
{
    *n = set->nargs;
    return set->args;
}

size_t
opt_set_count(const struct opt_set *set)
{
    return set->ntable;
}

size_t
opt_set_count_all(const struct opt_set *set)
{
    return set->n;
}

int
opt_set_find(const struct opt_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->ent[i].d->name, name) == 0)
            return (int)i;
    }
    return -1;
}

int
opt_set_find_path(const struct opt_set *set, const char *path)
{
    for (size_t i = 0; i < set->ntable; i++) {
        const char *p = set->ent[i].d->json_path;

        if (p != NULL && strcmp(p, path) == 0)
            return (int)i;
    }
    return -1;
}

const struct opt_desc *
opt_set_desc(const struct opt_set *set, int i)
{
    return set->ent[i].d;
}

const struct opt_value *
opt_set_value(const struct opt_set *set, int i)
{
    return &set->vals[set->ent[i].slot];
}

enum opt_source
opt_set_source(const struct opt_set *set, int i)
{
    return set->ent[i].src;
}

const char *
opt_set_default(const struct opt_set *set, int i)
{
    if (i < 0 || (size_t)i >= set->n)
        return NULL;
    return default_of(&set->ent[i]);
}

const char *
opt_set_origin(const struct opt_set *set, int i)
{
    return set->ent[i].origin;
}

/* Look-ups by name are for names the program itself spells. */
static int
must_find(const struct opt_set *set, const char *name)
{
    int i = opt_set_find(set, name);

    if (i < 0)
        abort();
    return i;
}

const struct opt_value *
opt_set_get(const struct opt_set *set, const char *name)
{
    return opt_set_value(set, must_find(set, name));
}

bool
opt_set_bool(const struct opt_set *set, const char *name)
{
    return opt_set_get(set, name)->b;
}

int64_t
opt_set_int(const struct opt_set *set, const char *name)
{
    return opt_set_get(set, name)->i;
}

const char *
opt_set_str(const struct opt_set *set, const char *name)
{
    const char *s = opt_set_get(set, name)->s;

    return s != NULL ? s : "";
}

int
opt_set_assign(struct opt_set *set, const char *name, const char *text,
               struct err *e)
{
    int i = opt_set_find(set, name);
    struct opt_value fresh;
    struct opt_value *v;
    int rc;

    if (i < 0)
        return err_set(e, ERR_NOT_FOUND, "unknown option \"%s\"", name);
    v = &set->vals[set->ent[i].slot];

    /*
     * Replace rather than append: build the new value on the side.  An
     * empty host:port is the cleared value, as Go's JSON input "" is,
     * although Set refuses "" for operators.
     */
    rc = optval_init(&fresh, v->type);
    if (rc != 0)
        return err_set(e, rc, "out of memory");
    if (v->type != OPT_HOSTPORT || text[0] != '\0')
        rc = optval_set(&fresh, set->ent[i].d, text, e);
    if (rc != 0) {
        if (rc != ERR_NOMEM && opt_desc_is_secret(set->ent[i].d))
            err_set(e, rc, "the secret value cannot be parsed");
        optval_release(&fresh);
        return rc;
    }
    optval_release(v);
    *v = fresh;
    return 0;
}

int
opt_set_mark(struct opt_set *set, const char *name, enum opt_source src,
             const char *origin)
{
    int i = opt_set_find(set, name);
    struct entry *head;
    char *copy;

    if (i < 0)
        return ERR_NOT_FOUND;
    copy = strdup(origin);
    if (copy == NULL)
        return ERR_NOMEM;

    /* The slot's first entry keeps the text; every member points at it. */
    head = &set->ent[set->heads[set->ent[i].slot]];
    free(head->mark);
    head->mark = copy;
    for (long j = set->heads[set->ent[i].slot]; j >= 0;
         j = set->ent[j].next) {
        set->ent[j].src = src;
        set->ent[j].origin = copy;
    }
    return 0;
}

const char *
opt_source_name(enum opt_source src)
{
    switch (src) {
    case OPT_SRC_DEFAULT:
        return "default";
    case OPT_SRC_YAML:
        return "yaml";
    case OPT_SRC_ENV:
        return "env";
    case OPT_SRC_FLAG:
        return "flag";
    default:
        return "";
    }
}

/* --- options JSON ---------------------------------------------------- */

/* Adds key: val, taking val; a NULL val means memory ran out. */
static int
put(json_t *obj, const char *key, json_t *val)
{
    if (val == NULL || json_object_set_new(obj, key, val) != 0)
        return ERR_NOMEM;
    return 0;
}

static int
put_str(json_t *obj, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    return put(obj, key, jsonx_string(s));
}

static json_t *
group_json(const struct opt_group *g, int depth)
{
    json_t *o = json_object();
    int rc = o != NULL ? 0 : ERR_NOMEM;

    if (rc == 0 && g->parent != NULL && depth < 16)
        rc = put(o, "parent", group_json(g->parent, depth + 1));
    if (rc == 0)
        rc = put_str(o, "name", g->name);
    if (rc == 0)
        rc = put_str(o, "yaml", g->yaml);
    if (rc == 0)
        rc = put_str(o, "description", g->description);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
annotations_json(unsigned ann)
{
    static const char *const names[] = {
        "enterprise", "external_workspace_proxies", "format_duration",
        "secret"
    };
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && i < 4; i++) {
        if ((ann & (1u << i)) && put(o, names[i], json_string("true"))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/*
 * One options[] build: the caller's flags, and the group objects made so
 * far.  Every option of a group shares one group object by reference
 * (nothing changes them once built), which saves rebuilding the parent
 * chain for each of the 216 options and their use_instead copies.
 */
#define GROUP_MEMO_MAX 64

struct json_ctx {
    unsigned flags;
    size_t ngroups;
    const struct opt_group *group[GROUP_MEMO_MAX];
    json_t *group_json[GROUP_MEMO_MAX];
};

/* A new reference to g's object, built on first use. */
static json_t *
group_shared(struct json_ctx *c, const struct opt_group *g)
{
    json_t *j;

    for (size_t i = 0; i < c->ngroups; i++) {
        if (c->group[i] == g)
            return json_incref(c->group_json[i]);
    }
    j = group_json(g, 0);
    if (j != NULL && c->ngroups < GROUP_MEMO_MAX) {
        c->group[c->ngroups] = g;
        c->group_json[c->ngroups++] = json_incref(j);
    }
    return j;
}

static json_t *option_json(const struct opt_set *set, const struct entry *e,
                           struct json_ctx *c, int depth);

static json_t *
use_instead_json(const struct opt_set *set, const struct entry *e,
                 struct json_ctx *c, int depth)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && e->d->use_instead[i] != NULL; i++) {
        const struct entry *r = find_entry(set, e->d->use_instead[i]);

        if (r == NULL || r->local)
            continue;
        if (json_array_append_new(a, option_json(set, r, c,
                                                 depth + 1)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int
option_head(json_t *o, const struct entry *e)
{
    const struct opt_desc *d = e->d;
    int rc;

    rc = put_str(o, "name", d->name);
    if (rc == 0)
        rc = put_str(o, "description", d->description);
    if (rc == 0)
        rc = put_str(o, "flag", d->flag);
    if (rc == 0)
        rc = put_str(o, "flag_shorthand", d->shorthand);
    if (rc == 0)
        rc = put_str(o, "env", d->env);
    if (rc == 0)
        rc = put_str(o, "yaml", d->yaml);
    if (rc == 0)
        rc = put_str(o, "default", default_of(e));
    return rc;
}

/* One options[] element; depth > 0 makes a use_instead copy. */
static json_t *
option_json(const struct opt_set *set, const struct entry *e,
            struct json_ctx *c, int depth)
{
    unsigned flags = c->flags;
    const struct opt_desc *d = e->d;
    bool secret = opt_desc_is_secret(d);
    json_t *o = json_object();
    int rc = o != NULL ? option_head(o, e) : ERR_NOMEM;

    if (rc == 0 && (!secret || (flags & OPT_JSON_SHOW_SECRETS)))
        rc = put(o, "value", optval_json(&set->vals[e->slot], d));
    if (rc == 0 && d->annotations != 0)
        rc = put(o, "annotations", annotations_json(d->annotations));
    if (rc == 0 && d->group != NULL)
        rc = put(o, "group", group_shared(c, d->group));
    if (rc == 0 && d->use_instead != NULL && d->use_instead[0] != NULL &&
        depth < 4)
        rc = put(o, "use_instead", use_instead_json(set, e, c, depth));
    if (rc == 0 && d->hidden)
        rc = put(o, "hidden", json_true());
    if (rc == 0 && depth == 0)
        rc = put_str(o, "value_source", opt_source_name(e->src));
    if (rc == 0 && depth == 0 && (flags & OPT_JSON_ORIGIN))
        rc = put_str(o, "origin", e->origin);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
opt_set_options_json(const struct opt_set *set, unsigned flags)
{
    struct json_ctx c = { .flags = flags };
    json_t *a = json_array();

    for (size_t k = 0; a != NULL && k < set->n; k++) {
        const struct entry *e = &set->ent[set->order[k]];

        if (e->local)
            continue;
        if (json_array_append_new(a, option_json(set, e, &c, 0)) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    for (size_t i = 0; i < c.ngroups; i++)
        json_decref(c.group_json[i]);
    return a;
}
