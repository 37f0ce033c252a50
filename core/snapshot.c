/*
 * snapshot.c: the config snapshot document and its fingerprint key.
 *
 * A fingerprint is keyed so that a store reader who sees only snapshots
 * (dump output pasted into a ticket, a copied table) cannot test guesses
 * of a short secret against it; the key lives in the site config, next
 * to the deployment ID, and never leaves the store.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jsonx.h"
#include "core/snapshot.h"
#include "core/util.h"
#include "core/banned.h"

/* How long snapshot_key_load waits for another replica's creation. */
#define LOCK_WAIT_MS 10000
#define LOCK_POLL_MS 20

/* Whether a secret holds a value at all (an empty one does not). */
static bool
holds_value(const struct opt_value *v, const struct opt_desc *d)
{
    switch (d->type) {
    case OPT_STRING_ARRAY:
    case OPT_ENUM_ARRAY:
        return v->n > 0;
    case OPT_STRUCT:
        return v->js != NULL && (json_object_size(v->js) > 0 ||
                                 json_array_size(v->js) > 0);
    case OPT_HOSTPORT:
        return v->host[0] != '\0' || v->port[0] != '\0';
    case OPT_STRING:
    case OPT_URL:
    case OPT_ENUM:
    case OPT_REGEXP:
    case OPT_YAML_PATH:
        return v->s[0] != '\0';
    default:
        return !optval_is_default(v, d);
    }
}

/* Hex HMAC-SHA256 of the value's JSON text; NULL on no memory. */
static json_t *
fingerprint(const struct opt_value *v, const struct opt_desc *d,
            const unsigned char *key, size_t keylen)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * sizeof(mac) + 1];
    json_t *j = optval_json(v, d);
    struct buf text;
    int rc;

    buf_init(&text);
    rc = j != NULL ? jsonx_dump(j, &text, false) : ERR_NOMEM;
    json_decref(j);
    if (rc == 0) {
        crypto_auth_hmacsha256_init(&st, key, keylen);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)text.data,
                                      text.len);
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    }
    if (text.data != NULL)
        sodium_memzero(text.data, text.len);
    buf_release(&text);
    sodium_memzero(&st, sizeof(st));
    return rc == 0 ? json_string(hex) : NULL;
}

static json_t *
secret_json(const struct opt_value *v, const struct opt_desc *d,
            const unsigned char *key, size_t keylen)
{
    bool set = holds_value(v, d);
    json_t *o = json_pack("{s:b}", "set", set);

    if (o != NULL && set &&
        json_object_set_new(o, "fingerprint",
                            fingerprint(v, d, key, keylen)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* One option's entry; NULL when memory runs out. */
static json_t *
option_json(const struct opt_set *set, int i, const unsigned char *key,
            size_t keylen)
{
    const struct opt_desc *d = opt_set_desc(set, i);
    const struct opt_value *v = opt_set_value(set, i);
    json_t *o = json_pack("{s:s}", "name", d->name);
    int rc = o != NULL ? 0 : -1;

    if (rc == 0 && !opt_desc_is_secret(d))
        rc = json_object_set_new(o, "value", optval_json(v, d));
    if (rc == 0)
        rc = json_object_set_new(o, "value_source", json_string(
                                     opt_source_name(
                                         opt_set_source(set, i))));
    if (rc == 0)
        rc = json_object_set_new(o, "origin",
                                 jsonx_string(opt_set_origin(set, i)));
    if (rc == 0 && opt_desc_is_secret(d))
        rc = json_object_set_new(o, "secret",
                                 secret_json(v, d, key, keylen));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int
by_name(const void *a, const void *b, void *arg)
{
    const struct opt_set *set = arg;

    return strcmp(opt_set_desc(set, *(const int *)a)->name,
                  opt_set_desc(set, *(const int *)b)->name);
}

json_t *
deployment_snapshot_json(const struct opt_set *set,
                         const unsigned char *key, size_t keylen)
{
    size_t n = opt_set_count(set);
    int *idx = calloc(n + 1, sizeof(*idx));
    json_t *opts = json_array();
    json_t *doc = NULL;
    int rc = idx != NULL && opts != NULL ? util_crypto_init() : ERR_NOMEM;

    for (size_t i = 0; i < n && idx != NULL; i++)
        idx[i] = (int)i;
    if (rc == 0)
        qsort_r(idx, n, sizeof(*idx), by_name, (void *)set);
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = json_array_append_new(opts, option_json(set, idx[k], key,
                                                     keylen));
    if (rc == 0)
        doc = json_pack("{s:i,s:O}", "format", SNAPSHOT_FORMAT, "options",
                        opts);
    json_decref(opts);
    free(idx);
    return doc;
}

/* --- the fingerprint key ------------------------------------------------ */

static void
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Takes the creation lock, polling; *got says whether it is held. */
static int
lock_wait(struct store *st, bool *got, struct err *e)
{
    int rc = 0;

    for (long waited = 0; rc == 0; waited += LOCK_POLL_MS) {
        rc = store_lock_try(st, SNAPSHOT_KEY_SITE, got, e);
        if (rc != 0 || *got)
            break;
        if (waited >= LOCK_WAIT_MS)
            return err_set(e, ERR_BUSY, "snapshot key: lock \"%s\" still "
                           "taken after %d s", SNAPSHOT_KEY_SITE,
                           LOCK_WAIT_MS / 1000);
        sleep_ms(LOCK_POLL_MS);
    }
    return rc;
}

/* Stores a new random key unless one is there; one write transaction. */
static int
create_once(struct store *st, struct err *e)
{
    const struct store_ops *ops = store_ops_of(st);
    unsigned char raw[SNAPSHOT_KEY_LEN];
    char hex[2 * SNAPSHOT_KEY_LEN + 1];
    struct store_txn *t = NULL;
    char *have = NULL;
    int rc;

    rc = ops->begin(st, true, &t, e);
    if (rc != 0)
        return rc;
    rc = ops->site_get(st, t, SNAPSHOT_KEY_SITE, &have, e);
    if (rc == ERR_NOT_FOUND) {
        err_clear(e);
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
        rc = ops->site_put(st, t, SNAPSHOT_KEY_SITE, hex, e);
        sodium_memzero(raw, sizeof(raw));
        sodium_memzero(hex, sizeof(hex));
    }
    free(have);
    if (rc != 0) {
        ops->abort(t);
        return rc;
    }
    return ops->commit(t, e);
}

/* Reads the stored key back and decodes it. */
static int
read_key(struct store *st, unsigned char key[SNAPSHOT_KEY_LEN],
         struct err *e)
{
    char *hex = NULL;
    size_t len = 0;
    int rc;

    rc = store_ops_of(st)->site_get(st, NULL, SNAPSHOT_KEY_SITE, &hex, e);
    if (rc != 0)
        return rc;
    if (strlen(hex) != 2 * SNAPSHOT_KEY_LEN ||
        sodium_hex2bin(key, SNAPSHOT_KEY_LEN, hex, strlen(hex), NULL,
                       &len, NULL) != 0 || len != SNAPSHOT_KEY_LEN)
        rc = err_set(e, ERR_CORRUPT, "snapshot key: \"%s\" in the site "
                     "config is not %d hex digits", SNAPSHOT_KEY_SITE,
                     2 * SNAPSHOT_KEY_LEN);
    sodium_memzero(hex, strlen(hex));
    free(hex);
    return rc;
}

int
snapshot_key_load(struct store *st, unsigned char key[SNAPSHOT_KEY_LEN],
                  struct err *e)
{
    bool got = false;
    int rc;

    rc = util_crypto_init();
    if (rc != 0)
        return err_set(e, rc, "snapshot key: libsodium cannot start");

    rc = lock_wait(st, &got, e);
    if (rc == 0)
        rc = create_once(st, e);
    if (got)
        store_unlock(st, SNAPSHOT_KEY_SITE, NULL);

    /* The stored key is the one every replica uses, whoever made it. */
    if (rc == 0)
        rc = read_key(st, key, e);
    return rc;
}

/* --- recording ----------------------------------------------------------- */

static int
add_replica(json_t *doc, const struct store_replica *r)
{
    if (json_object_set_new(doc, "replica_id", json_string(r->id)) != 0 ||
        json_object_set_new(doc, "version", jsonx_string(r->version)) != 0 ||
        json_object_set_new(doc, "taken_at",
                            json_integer((json_int_t)r->started_at)) != 0)
        return ERR_NOMEM;
    return 0;
}

int
snapshot_record(struct engine *en, const struct opt_set *set,
                const struct store_replica *r, struct err *e)
{
    unsigned char key[SNAPSHOT_KEY_LEN];
    json_t *doc = NULL;
    struct buf text;
    int rc;

    buf_init(&text);
    rc = snapshot_key_load(engine_store(en), key, e);
    if (rc != 0)
        goto out;
    doc = deployment_snapshot_json(set, key, sizeof(key));
    rc = doc != NULL ? add_replica(doc, r) : ERR_NOMEM;
    if (rc == 0)
        rc = jsonx_dump(doc, &text, false);
    if (rc == 0)
        rc = engine_snapshot_record(en, r->id, buf_str(&text), e);
    else
        err_set(e, rc, "snapshot: building the document: %s", err_str(rc));

out:
    sodium_memzero(key, sizeof(key));
    json_decref(doc);
    buf_release(&text);
    return rc;
}
