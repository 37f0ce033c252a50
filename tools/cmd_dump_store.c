/*
 * cmd_dump_store.c: `coder-cfg dump --from-store`.
 *
 * Plain dump answers "what would a server started from this shell run
 * with"; this answers "what do the servers that did start run with", from
 * the config snapshots they recorded in the store.  It resolves only its
 * own few flags, from a filtered environment, so that a shell full of
 * CODER_ variables (the very thing being checked) neither warns nor
 * fails here.
 *
 * Snapshots come in two forms: the first servers wrote the options array
 * of GET /deployment/config with origins (secrets without a value), the
 * current ones write core/snapshot.h's form (secrets with a keyed
 * fingerprint).  Both are read into one shape, so output and drift do not
 * depend on which replica wrote what; a secret of the older form has no
 * fingerprint, and then only "set" is compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "api/values.h"
#include "core/deployment.h"
#include "core/engine.h"
#include "core/jsonx.h"
#include "core/opt.h"
#include "core/util.h"
#include "tools/dump_store.h"
#include "core/banned.h"

#define PATH_MAX_LEN 4096
/* Caps on what is read, so that a damaged store cannot exhaust memory. */
#define REPLICAS_MAX 4096
#define SNAPSHOTS_MAX 4096
/* How long to keep trying an unreachable PostgreSQL. */
#define CONNECT_TIMEOUT_NS (10 * UTIL_NS_PER_SEC)
/* Hex digits of a fingerprint shown in the table. */
#define FP_SHORT 12

static const char *const output_choices[] = { "json", "table", NULL };

static const struct opt_desc store_options[] = {
    {
        .name = "From Store",
        .description = "Show what the running deployment uses, from its "
                       "store.",
        .flag = "from-store",
        .type = OPT_BOOL,
    },
    {
        .name = "Store Replica",
        .description = "Only this replica (its ID, or a unique prefix).",
        .flag = "replica",
        .type = OPT_STRING,
    },
    {
        .name = "Store Output",
        .description = "The format: json or table.",
        .flag = "output",
        .shorthand = "o",
        .def = "json",
        .type = OPT_ENUM,
        .choices = output_choices,
    },
    {
        .name = "Store Changed",
        .description = "Only the options that are not at their default.",
        .flag = "changed",
        .type = OPT_BOOL,
    },
    {
        .name = "Store History",
        .description = "Every snapshot over time, oldest first.",
        .flag = "history",
        .type = OPT_BOOL,
    },
    {
        .name = "Store Global Config",
        .description = "The configuration directory (the LMDB store).",
        .flag = "global-config",
        .env = "CODER_CONFIG_DIR",
        .type = OPT_STRING,
    },
    {
        .name = "Store Postgres URL",
        .description = "The PostgreSQL store of a cluster.",
        .flag = "postgres-url",
        .env = "CODER_PG_CONNECTION_URL",
        .type = OPT_STRING,
    },
    {
        .name = "Store Help",
        .description = "Show this help.",
        .flag = "help",
        .shorthand = "h",
        .type = OPT_BOOL,
    },
};

#define NOPTIONS (sizeof(store_options) / sizeof(store_options[0]))

static const char help[] =
    "usage: coder-cfg dump --from-store [--replica ID] "
    "[--output json|table]\n"
    "                      [--changed] [--history]\n"
    "\n"
    "Shows what the running deployment uses, from the config snapshots its\n"
    "servers recorded in the store: the replicas, the latest snapshot of\n"
    "each live one, and the options whose values differ between them.\n"
    "Secrets show only as set or not set, with a keyed fingerprint.\n"
    "\n"
    "  --replica ID            only this replica (its ID or a unique "
    "prefix)\n"
    "  -o, --output FORMAT     json (the default) or table\n"
    "  --changed               only options not at their default\n"
    "  --history               every snapshot over time, oldest first\n"
    "  --global-config DIR     the LMDB store ($CODER_CONFIG_DIR)\n"
    "  --postgres-url URL      the PostgreSQL store "
    "($CODER_PG_CONNECTION_URL)\n";

struct ds {
    struct opt_set *set;
    char **env;                 /* the filtered environment (pointers) */
    struct engine *en;
    struct store_replica *reps; /* sorted by started_at */
    size_t nreps;
    int64_t now;
    json_t *snaps;              /* snapshots to show, read into one shape */
    json_t *drift;              /* NULL with --history */
    bool changed;
    bool history;
    bool table;
    const char *note;           /* a line said before the table */
    struct buf out;
    struct err e;
};

static int
fail(int status, const char *what, const char *msg)
{
    fprintf(stderr, "coder-cfg: dump: %s%s%s\n", what,
            what[0] != '\0' && msg[0] != '\0' ? ": " : "", msg);
    return status;
}

bool
dump_store_wanted(int argc, char *const *argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--from-store") == 0 ||
            strncmp(argv[i], "--from-store=", 13) == 0)
            return true;
    }
    return false;
}

/* --- options ------------------------------------------------------------ */

/* True for a CODER_ variable that is none of ours. */
static bool
foreign(const char *kv)
{
    size_t len = strcspn(kv, "=");

    if (len < 6 || strncasecmp(kv, "CODER_", 6) != 0)
        return false;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *env = store_options[i].env;

        if (env != NULL && strlen(env) == len &&
            strncasecmp(kv, env, len) == 0)
            return false;
    }
    return true;
}

static int
filter_env(struct ds *ds, char **envp)
{
    size_t n = 0, k = 0;

    while (envp != NULL && envp[n] != NULL)
        n++;
    ds->env = calloc(n + 1, sizeof(*ds->env));
    if (ds->env == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!foreign(envp[i]))
            ds->env[k++] = envp[i];
    }
    return 0;
}

static int
print_diag(const struct opt_diag *dg)
{
    for (size_t i = 0; i < dg->nwarnings; i++)
        fprintf(stderr, "coder-cfg: warning: %s\n", dg->warnings[i]);
    for (size_t i = 0; i < dg->nerrors; i++)
        fprintf(stderr, "coder-cfg: %s\n", dg->errors[i]);
    return 0;
}

/* Resolves the flags; 0, or an exit status after saying why. */
static int
resolve(struct ds *ds, int argc, char **argv, char **envp)
{
    struct opt_diag dg;
    char *const *args;
    size_t nargs;
    int rc;

    ds->set = opt_set_new(NULL, 0);
    if (ds->set == NULL || filter_env(ds, envp) != 0 ||
        opt_set_add_local(ds->set, store_options, NOPTIONS) != 0)
        return fail(1, "out of memory", "");
    opt_diag_init(&dg);
    rc = opt_set_resolve(ds->set, argc, argv, ds->env, &dg);
    print_diag(&dg);
    opt_diag_release(&dg);
    if (rc != 0)
        return rc == ERR_INVALID ? 2 : fail(1, err_str(rc), "");

    args = opt_set_args(ds->set, &nargs);
    for (size_t i = 0; i < nargs; i++)
        fprintf(stderr, "coder-cfg: unexpected argument \"%s\"\n", args[i]);
    if (nargs > 0)
        return 2;
    if (!opt_set_bool(ds->set, "From Store"))
        return fail(2, "--from-store=false is not supported", "leave the "
                    "flag out to resolve from this shell");
    return 0;
}

/* --- the store ---------------------------------------------------------- */

/* The LMDB directory; 0, or an exit status after saying why. */
static int
config_dir(struct ds *ds, char **envp, char *dir, size_t size)
{
    const char *cfg = opt_set_str(ds->set, "Store Global Config");
    char path[PATH_MAX_LEN + 16];
    struct stat sb;

    if (cfg[0] != '\0')
        snprintf(dir, size, "%s", cfg);
    else if (!values_default_config_dir(envp, dir, size))
        return fail(2, "no config directory", "set --global-config, "
                    "CODER_CONFIG_DIR or HOME");

    /* Opening would create an empty store; say what is wrong instead. */
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "coder-cfg: dump: no coder-cfg store at %s (has a "
                "server run there?)\n", dir);
        return 1;
    }
    return 0;
}

static int
open_store(struct ds *ds, char **envp)
{
    struct engine_options o;
    char dir[PATH_MAX_LEN];
    int status;

    memset(&o, 0, sizeof(o));
    o.pg_url = opt_set_str(ds->set, "Store Postgres URL");
    o.pool_size = 1;
    o.no_events = true;
    o.connect_timeout_ns = CONNECT_TIMEOUT_NS;
    if (o.pg_url[0] == '\0') {
        status = config_dir(ds, envp, dir, sizeof(dir));
        if (status != 0)
            return status;
        o.config_dir = dir;
    }
    if (engine_open(&ds->en, &o, &ds->e) != 0)
        return fail(1, "opening the store", ds->e.msg);
    return 0;
}

static int
keep_replica(const struct store_replica *r, void *ctx)
{
    struct ds *ds = ctx;
    struct store_replica *grown;

    if (ds->nreps == REPLICAS_MAX)
        return err_set(&ds->e, ERR_TOO_LARGE, "more than %d replicas",
                       REPLICAS_MAX);
    grown = realloc(ds->reps, (ds->nreps + 1) * sizeof(*grown));
    if (grown == NULL)
        return err_set(&ds->e, ERR_NOMEM, "out of memory");
    ds->reps = grown;
    ds->reps[ds->nreps++] = *r;
    return 0;
}

static int
by_start(const void *a, const void *b)
{
    const struct store_replica *x = a, *y = b;

    if (x->started_at != y->started_at)
        return x->started_at < y->started_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int
load_replicas(struct ds *ds)
{
    struct store *st = engine_store(ds->en);
    int rc;

    rc = store_ops_of(st)->replica_list(st, NULL, keep_replica, ds, &ds->e);
    if (rc != 0)
        return fail(1, "listing replicas", ds->e.msg);
    if (ds->nreps > 0)
        qsort(ds->reps, ds->nreps, sizeof(*ds->reps), by_start);
    return 0;
}

/* Live: not marked gone and heard from within the gone interval. */
static bool
is_live(const struct ds *ds, const struct store_replica *r)
{
    return !r->gone && ds->now - r->heartbeat_at <= ENGINE_REPLICA_GONE_NS;
}

/* --- reading snapshots into one shape ------------------------------------ */

static const struct opt_desc *
desc_named(const char *name)
{
    for (size_t i = 0; i < DEPLOYMENT_OPTION_COUNT; i++) {
        if (strcmp(deployment_options[i].name, name) == 0)
            return &deployment_options[i];
    }
    return NULL;
}

/* Whether a stored entry is a secret, whoever wrote it. */
static bool
entry_secret(json_t *in, const char *name)
{
    const struct opt_desc *d = desc_named(name);
    json_t *ann = json_object_get(in, "annotations");

    if (json_is_object(json_object_get(in, "secret")))
        return true;
    if (opt_desc_is_secret(d))
        return true;
    return json_is_string(json_object_get(ann, "secret")) &&
        strcmp(json_string_value(json_object_get(ann, "secret")),
               "true") == 0;
}

static const char *
str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? s : "";
}

/*
 * {"set":..., "fingerprint":...}: the stored object when there is one,
 * else "set" read from the source, as the older form allows.
 */
static json_t *
secret_of(json_t *in)
{
    json_t *sec = json_object_get(in, "secret");
    const char *src = str_of(in, "value_source");
    json_t *fp = json_object_get(sec, "fingerprint");
    bool set;
    json_t *out;

    if (json_is_object(sec))
        set = json_is_true(json_object_get(sec, "set"));
    else
        set = src[0] != '\0' && strcmp(src, "default") != 0;
    out = json_pack("{s:b}", "set", set);
    if (out != NULL && set && json_is_string(fp) &&
        json_object_set(out, "fingerprint", fp) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* One option in the shape we show; NULL when it has no name. */
static json_t *
read_option(json_t *in)
{
    const char *name = json_string_value(json_object_get(in, "name"));
    json_t *value = json_object_get(in, "value");
    json_t *out;
    int rc;

    if (name == NULL)
        return NULL;
    out = json_pack("{s:s}", "name", name);
    rc = out != NULL ? 0 : -1;
    if (rc == 0 && !entry_secret(in, name) && value != NULL)
        rc = json_object_set(out, "value", value);
    if (rc == 0)
        rc = json_object_set_new(out, "value_source",
                                 json_string(str_of(in, "value_source")));
    if (rc == 0)
        rc = json_object_set_new(out, "origin",
                                 json_string(str_of(in, "origin")));
    if (rc == 0 && entry_secret(in, name))
        rc = json_object_set_new(out, "secret", secret_of(in));
    if (rc != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *
read_options(json_t *doc)
{
    json_t *in = json_object_get(doc, "options");
    json_t *out = json_array();
    size_t i;
    json_t *o;

    if (!json_is_array(in) || out == NULL) {
        json_decref(out);
        return NULL;
    }
    json_array_foreach(in, i, o) {
        if (json_array_append_new(out, read_option(o)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *
read_snapshot(const struct store_snapshot *snap, struct err *e)
{
    char when[40];
    json_error_t je;
    json_t *doc = json_loads(snap->json, 0, &je);
    json_t *opts = doc != NULL ? read_options(doc) : NULL;
    json_t *format = json_object_get(doc, "format");
    json_t *out = NULL;

    util_time_rfc3339(snap->taken_at, when);
    if (opts != NULL)
        out = json_pack("{s:s,s:s,s:s,s:I,s:o}", "replica_id",
                        snap->replica_id, "version", str_of(doc, "version"),
                        "taken_at", when, "format", json_is_integer(format) ?
                        json_integer_value(format) : (json_int_t)1,
                        "options", opts);
    else
        json_decref(opts);
    if (out == NULL)
        err_set(e, ERR_CORRUPT, "snapshot of replica \"%s\" taken at %s "
                "does not read", snap->replica_id, when);
    json_decref(doc);
    return out;
}

struct scan {
    struct ds *ds;
    json_t *last;               /* keep-last mode: the newest so far */
};

static int
add_snapshot(const struct store_snapshot *snap, void *ctx)
{
    struct scan *sc = ctx;
    json_t *j = read_snapshot(snap, &sc->ds->e);

    if (j == NULL)
        return ERR_CORRUPT;
    if (!sc->ds->history) {
        json_decref(sc->last);
        sc->last = j;
        return 0;
    }
    if (json_array_size(sc->ds->snaps) == SNAPSHOTS_MAX) {
        json_decref(j);
        return err_set(&sc->ds->e, ERR_TOO_LARGE, "more than %d snapshots; "
                       "choose one with --replica", SNAPSHOTS_MAX);
    }
    return json_array_append_new(sc->ds->snaps, j) == 0 ? 0 : ERR_NOMEM;
}

/* Scans the snapshots of id (NULL: all) into ds->snaps. */
static int
scan_snapshots(struct ds *ds, const char *id)
{
    struct store *st = engine_store(ds->en);
    struct scan sc = { ds, NULL };
    int rc;

    rc = store_ops_of(st)->snapshot_scan(st, NULL, id, add_snapshot, &sc,
                                         &ds->e);
    if (rc == 0 && sc.last != NULL &&
        json_array_append(ds->snaps, sc.last) != 0)
        rc = err_set(&ds->e, ERR_NOMEM, "out of memory");
    json_decref(sc.last);
    return rc;
}

/* --- choosing replicas --------------------------------------------------- */

/* The replica --replica names; NULL after saying why. */
static const struct store_replica *
named_replica(const struct ds *ds, const char *ref)
{
    const struct store_replica *hit = NULL;
    size_t len = strlen(ref);

    for (size_t i = 0; i < ds->nreps; i++) {
        if (strcmp(ds->reps[i].id, ref) == 0)
            return &ds->reps[i];
        if (strncmp(ds->reps[i].id, ref, len) != 0)
            continue;
        if (hit != NULL) {
            fprintf(stderr, "coder-cfg: dump: replica \"%s\" is ambiguous "
                    "(\"%s\", \"%s\", ...)\n", ref, hit->id, ds->reps[i].id);
            return NULL;
        }
        hit = &ds->reps[i];
    }
    if (hit == NULL)
        fprintf(stderr, "coder-cfg: dump: no replica \"%s\" in the store\n",
                ref);
    return hit;
}

static int
load_chosen(struct ds *ds, const struct store_replica *only)
{
    size_t live = 0;
    int rc = 0;

    if (only != NULL)
        return scan_snapshots(ds, only->id);
    for (size_t i = 0; rc == 0 && i < ds->nreps; i++) {
        if (is_live(ds, &ds->reps[i])) {
            live++;
            rc = scan_snapshots(ds, ds->reps[i].id);
        }
    }
    if (rc == 0 && live == 0 && ds->nreps > 0) {
        ds->note = "no live replica: showing the one started last";
        rc = scan_snapshots(ds, ds->reps[ds->nreps - 1].id);
    }
    return rc;
}

/* Loads what to show; 0, or an exit status after saying why. */
static int
load_snapshots(struct ds *ds)
{
    const char *ref = opt_set_str(ds->set, "Store Replica");
    const struct store_replica *only = NULL;
    int rc;

    if (ref[0] != '\0') {
        only = named_replica(ds, ref);
        if (only == NULL)
            return 2;
    }
    ds->snaps = json_array();
    if (ds->snaps == NULL)
        return fail(1, "out of memory", "");
    if (ds->history)
        rc = scan_snapshots(ds, only != NULL ? only->id : NULL);
    else
        rc = load_chosen(ds, only);
    if (rc != 0)
        return fail(1, "reading snapshots", ds->e.msg);
    if (json_array_size(ds->snaps) == 0)
        return fail(1, "no config snapshot in the store", "has a server "
                    "run there?");
    return 0;
}

/* --- drift --------------------------------------------------------------- */

/* Whether two entries (json null: the option is missing) differ. */
static bool
differs(json_t *a, json_t *b)
{
    json_t *sa = json_object_get(a, "secret");
    json_t *sb = json_object_get(b, "secret");
    json_t *fa = json_object_get(sa, "fingerprint");
    json_t *fb = json_object_get(sb, "fingerprint");

    if (json_is_null(a) || json_is_null(b))
        return json_is_null(a) != json_is_null(b);
    if ((sa != NULL) != (sb != NULL))
        return true;
    if (sa != NULL && json_is_true(json_object_get(sa, "set")) !=
        json_is_true(json_object_get(sb, "set")))
        return true;
    if (sa != NULL)
        return fa != NULL && fb != NULL && !json_equal(fa, fb);
    a = json_object_get(a, "value");
    b = json_object_get(b, "value");
    return a == NULL || b == NULL ? a != b : !json_equal(a, b);
}

/* name -> [entry of snapshot 0, entry of snapshot 1, ...]. */
static json_t *
by_option(json_t *snaps)
{
    size_t n = json_array_size(snaps), k, i;
    json_t *map = json_object();
    json_t *snap, *o;

    json_array_foreach(snaps, k, snap) {
        json_array_foreach(json_object_get(snap, "options"), i, o) {
            const char *name = json_string_value(json_object_get(o, "name"));
            json_t *row = json_object_get(map, name);

            if (row == NULL) {
                row = json_array();
                for (size_t j = 0; row != NULL && j < n; j++)
                    json_array_append_new(row, json_null());
                if (json_object_set_new(map, name, row) != 0)
                    row = NULL;
            }
            if (row == NULL || json_array_set(row, k, o) != 0) {
                json_decref(map);
                return NULL;
            }
        }
    }
    return map;
}

static json_t *
drift_entry(json_t *snaps, const char *name, json_t *row)
{
    json_t *values = json_array();
    json_t *e, *v;
    size_t k;

    json_array_foreach(row, k, e) {
        const char *id = str_of(json_array_get(snaps, k), "replica_id");

        if (json_is_null(e))
            v = json_pack("{s:s,s:b}", "replica_id", id, "missing", 1);
        else if (json_object_get(e, "secret") != NULL)
            v = json_pack("{s:s,s:O}", "replica_id", id, "secret",
                          json_object_get(e, "secret"));
        else
            v = json_pack("{s:s,s:O*}", "replica_id", id, "value",
                          json_object_get(e, "value"));
        if (json_array_append_new(values, v) != 0) {
            json_decref(values);
            return NULL;
        }
    }
    return json_pack("{s:s,s:o}", "name", name, "values", values);
}

static int
by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
row_differs(json_t *row)
{
    for (size_t i = 1; i < json_array_size(row); i++) {
        for (size_t j = 0; j < i; j++) {
            if (differs(json_array_get(row, j), json_array_get(row, i)))
                return true;
        }
    }
    return false;
}

static int
find_drift(struct ds *ds)
{
    json_t *map = by_option(ds->snaps);
    size_t n = json_object_size(map), k = 0;
    const char **names = calloc(n + 1, sizeof(*names));
    const char *name;
    json_t *row;
    int rc = map != NULL && names != NULL ? 0 : ERR_NOMEM;

    ds->drift = json_array();
    if (ds->drift == NULL)
        rc = ERR_NOMEM;
    json_object_foreach(map, name, row) {
        if (names != NULL)
            names[k++] = name;
    }
    if (rc == 0)
        qsort(names, n, sizeof(*names), by_str);
    for (k = 0; rc == 0 && k < n; k++) {
        row = json_object_get(map, names[k]);
        if (row_differs(row))
            rc = json_array_append_new(ds->drift, drift_entry(
                                           ds->snaps, names[k], row));
    }
    free(names);
    json_decref(map);
    return rc == 0 ? 0 : ERR_NOMEM;
}

/* --- json output --------------------------------------------------------- */

static json_t *
replica_json(const struct ds *ds, const struct store_replica *r)
{
    char started[40], beat[40];

    util_time_rfc3339(r->started_at, started);
    util_time_rfc3339(r->heartbeat_at, beat);
    return json_pack("{s:s,s:o,s:o,s:s,s:s,s:s}", "id", r->id, "hostname",
                     jsonx_string(r->hostname), "version",
                     jsonx_string(r->version), "started_at", started,
                     "last_heartbeat_at", beat, "state",
                     is_live(ds, r) ? "live" : "gone");
}

static bool
at_default(json_t *o)
{
    const char *src = str_of(o, "value_source");

    return src[0] == '\0' || strcmp(src, "default") == 0;
}

/* With --changed, drops the options at their default from every snapshot. */
static void
keep_changed(struct ds *ds)
{
    size_t k;
    json_t *snap;

    json_array_foreach(ds->snaps, k, snap) {
        json_t *opts = json_object_get(snap, "options");
        size_t i = 0;

        while (i < json_array_size(opts)) {
            if (at_default(json_array_get(opts, i)))
                json_array_remove(opts, i);
            else
                i++;
        }
    }
}

static int
write_json(struct ds *ds)
{
    json_t *reps = json_array();
    json_t *doc = json_pack("{s:o,s:O}", "replicas", reps, "snapshots",
                            ds->snaps);
    int rc = reps != NULL && doc != NULL ? 0 : ERR_NOMEM;

    for (size_t i = 0; rc == 0 && i < ds->nreps; i++)
        rc = json_array_append_new(reps, replica_json(ds, &ds->reps[i]));
    if (rc == 0 && ds->drift != NULL)
        rc = json_object_set(doc, "drift", ds->drift);
    if (rc == 0)
        rc = jsonx_dump(doc, &ds->out, true);
    json_decref(doc);
    return rc;
}

/* --- table output -------------------------------------------------------- */

/* A shown value as one line of text. */
static int
value_text(const char *name, json_t *v, struct buf *out)
{
    const struct opt_desc *d = desc_named(name);
    char dur[40];

    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return buf_adds(out, json_string_value(v));
    if (d != NULL && d->type == OPT_DURATION && json_is_integer(v)) {
        opt_duration_format(json_integer_value(v), dur);
        return buf_adds(out, dur);
    }
    if (json_is_string(json_object_get(v, "Value")))
        return buf_adds(out, json_string_value(json_object_get(v, "Value")));
    return jsonx_dump(v, out, false);
}

/* A secret as "(set)", "(not set)" or, with fp, its short fingerprint. */
static int
secret_text(json_t *sec, bool fp, struct buf *out)
{
    const char *hex = json_string_value(json_object_get(sec, "fingerprint"));

    if (!json_is_true(json_object_get(sec, "set")))
        return buf_adds(out, "(not set)");
    if (!fp || hex == NULL)
        return buf_adds(out, "(set)");
    return buf_addf(out, "(set, fingerprint %.*s)", FP_SHORT, hex);
}

static int
cell(json_t *o, bool fp, struct buf *out)
{
    json_t *sec = json_object_get(o, "secret");

    if (json_is_null(o))
        return buf_adds(out, "(missing)");
    if (sec != NULL)
        return secret_text(sec, fp, out);
    return value_text(str_of(o, "name"), json_object_get(o, "value"), out);
}

static int
write_replicas(struct ds *ds)
{
    char started[40], beat[40];
    int rc = buf_addf(&ds->out, "REPLICAS\n%-36s  %-5s  %-20s  %-20s  "
                      "%-30s  %s\n", "ID", "STATE", "HOSTNAME", "VERSION",
                      "STARTED", "LAST HEARTBEAT");

    for (size_t i = 0; rc == 0 && i < ds->nreps; i++) {
        const struct store_replica *r = &ds->reps[i];

        util_time_rfc3339(r->started_at, started);
        util_time_rfc3339(r->heartbeat_at, beat);
        rc = buf_addf(&ds->out, "%-36s  %-5s  %-20s  %-20s  %-30s  %s\n",
                      r->id, is_live(ds, r) ? "live" : "gone", r->hostname,
                      r->version, started, beat);
    }
    return rc;
}

static int
name_width(json_t *opts)
{
    size_t i, w = 4;
    json_t *o;

    json_array_foreach(opts, i, o) {
        size_t len = strlen(str_of(o, "name"));

        w = len > w ? len : w;
    }
    return (int)w;
}

static int
write_options(struct ds *ds, json_t *snap, struct buf *val)
{
    json_t *opts = json_object_get(snap, "options");
    int w = name_width(opts);
    int rc = buf_addf(&ds->out, "\nSNAPSHOT of replica %s, taken %s "
                      "(%s)\n%-*s  %-40s  %-7s  %s\n",
                      str_of(snap, "replica_id"), str_of(snap, "taken_at"),
                      str_of(snap, "version"), w, "NAME", "VALUE", "SOURCE",
                      "ORIGIN");
    size_t i;
    json_t *o;

    json_array_foreach(opts, i, o) {
        buf_reset(val);
        if (rc == 0)
            rc = cell(o, false, val);
        if (rc == 0)
            rc = buf_addf(&ds->out, "%-*s  %-40s  %-7s  %s\n", w,
                          str_of(o, "name"), buf_str(val),
                          str_of(o, "value_source"), str_of(o, "origin"));
    }
    return rc;
}

static int
write_drift_row(struct ds *ds, json_t *d, int w, struct buf *val)
{
    json_t *row = json_object_get(d, "values");
    int rc = 0;
    size_t k;
    json_t *v;

    json_array_foreach(row, k, v) {
        json_t *shown = json_object_get(v, "missing") != NULL ?
            json_null() : v;

        buf_reset(val);
        if (rc == 0)
            rc = cell(shown, true, val);
        if (rc == 0)
            rc = buf_addf(&ds->out, "%-*s  %-36s  %s\n", w,
                          k == 0 ? str_of(d, "name") : "",
                          str_of(v, "replica_id"), buf_str(val));
    }
    return rc;
}

static int
write_drift(struct ds *ds, struct buf *val)
{
    int w = name_width(ds->drift);
    int rc;
    size_t i;
    json_t *d;

    if (json_array_size(ds->drift) == 0)
        return buf_addf(&ds->out, "\nDRIFT\nnone: the %zu replicas shown "
                        "run with the same values\n",
                        json_array_size(ds->snaps));
    rc = buf_addf(&ds->out, "\nDRIFT\n%-*s  %-36s  %s\n", w, "NAME",
                  "REPLICA", "VALUE");
    json_array_foreach(ds->drift, i, d) {
        if (rc == 0)
            rc = write_drift_row(ds, d, w, val);
    }
    return rc;
}

static int
write_table(struct ds *ds)
{
    struct buf val;
    int rc = write_replicas(ds);
    size_t k;
    json_t *snap;

    buf_init(&val);
    if (rc == 0 && ds->note != NULL)
        rc = buf_addf(&ds->out, "\n%s\n", ds->note);
    json_array_foreach(ds->snaps, k, snap) {
        if (rc == 0)
            rc = write_options(ds, snap, &val);
    }
    if (rc == 0 && ds->drift != NULL && json_array_size(ds->snaps) > 1)
        rc = write_drift(ds, &val);
    buf_release(&val);
    return rc;
}

/* --- the command --------------------------------------------------------- */

static int
flush(struct buf *b)
{
    if (fwrite(buf_str(b), 1, b->len, stdout) != b->len ||
        fflush(stdout) != 0)
        return fail(1, "cannot write the output", "");
    return 0;
}

static int
show(struct ds *ds)
{
    int rc = 0;

    if (!ds->history)
        rc = find_drift(ds);
    if (rc == 0 && ds->changed)
        keep_changed(ds);
    if (rc == 0)
        rc = ds->table ? write_table(ds) : write_json(ds);
    if (rc != 0)
        return fail(1, "writing the output", err_str(rc));
    return flush(&ds->out);
}

static int
run(struct ds *ds, int argc, char **argv, char **envp)
{
    int status = resolve(ds, argc, argv, envp);

    if (status != 0)
        return status;
    if (opt_set_bool(ds->set, "Store Help"))
        return fputs(help, stdout) < 0 ? 1 : 0;
    ds->changed = opt_set_bool(ds->set, "Store Changed");
    ds->history = opt_set_bool(ds->set, "Store History");
    ds->table = util_ascii_ieq(opt_set_str(ds->set, "Store Output"),
                               "table");

    status = open_store(ds, envp);
    if (status == 0)
        status = load_replicas(ds);
    ds->now = util_now_ns();
    if (status == 0)
        status = load_snapshots(ds);
    return status == 0 ? show(ds) : status;
}

int
cmd_dump_store(int argc, char **argv, char **envp)
{
    struct ds ds;
    int status;

    memset(&ds, 0, sizeof(ds));
    buf_init(&ds.out);
    err_clear(&ds.e);
    status = run(&ds, argc, argv, envp);
    json_decref(ds.drift);
    json_decref(ds.snaps);
    free(ds.reps);
    engine_close(ds.en);
    free(ds.env);
    opt_set_free(ds.set);
    buf_release(&ds.out);
    return status;
}
