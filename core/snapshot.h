/*
 * snapshot.h: the config snapshot a server records when it starts.
 *
 * A snapshot is one JSON document per replica start, kept in the store
 * with its history (engine_snapshot_record).  It holds every option of
 * the deployment table, sorted by name byte-wise, each as
 *
 *   {"name":..., "value":..., "value_source":..., "origin":...}
 *
 * where value is the option's options[].value form (optval_json),
 * value_source is the API's word ("flag", "env", "yaml", "default" or "")
 * and origin the exact place ("--provisioner-daemons", "CODER_X",
 * "file:line:col").  A secret option has no "value"; in its place
 *
 *   "secret":{"set":true,"fingerprint":"<64 hex digits>"}
 *
 * says whether it holds a value and, when it does, gives the HMAC-SHA256
 * of the value's JSON text under the deployment's fingerprint key.  Two
 * replicas with equal fingerprints run with the same secret; nobody can
 * tell the secret from the fingerprint without the key.
 *
 * Invariants:
 * - A secret's value never enters a snapshot, in any form but the keyed
 *   fingerprint.
 * - Every replica of one store uses the same fingerprint key, so that
 *   fingerprints compare across replicas; snapshot_key_load creates it
 *   once, race-free.
 */
#ifndef CODER_CFG_SNAPSHOT_H
#define CODER_CFG_SNAPSHOT_H

#include <jansson.h>
#include <stddef.h>

#include "../backends/store.h"
#include "engine.h"
#include "err.h"
#include "opt.h"

/* The document's "format"; snapshots without one are the older form. */
#define SNAPSHOT_FORMAT 2

/* The fingerprint key: its length, and its name in the site config. */
#define SNAPSHOT_KEY_LEN 32
#define SNAPSHOT_KEY_SITE "snapshot_fingerprint_key"

/*
 * The replica-independent part of a snapshot of set (the resolved
 * deployment options; local options are left out):
 * {"format":2,"options":[...]}.  key (keylen bytes) keys the secret
 * fingerprints.  Returns a new reference, or NULL when memory runs out
 * or libsodium cannot start.
 */
json_t *deployment_snapshot_json(const struct opt_set *set,
                                 const unsigned char *key, size_t keylen);

/*
 * Loads the store's fingerprint key into key, creating a random one when
 * the store has none yet.  Creation runs under the cluster lock of the
 * same name and inside one write transaction, and the key is read back
 * afterwards, so that replicas starting together agree on one key.
 * Errors: the store's, ERR_CORRUPT when the stored key is not 64 hex
 * digits, ERR_BUSY when the lock stays taken for ten seconds.
 */
int snapshot_key_load(struct store *st, unsigned char key[SNAPSHOT_KEY_LEN],
                      struct err *e);

/*
 * Everything a starting server does for its snapshot: loads the key,
 * builds the document for set, adds r's "replica_id", "version" and
 * "taken_at" (r->started_at, nanoseconds), and records it for r->id.
 * The key is wiped before returning.
 */
int snapshot_record(struct engine *en, const struct opt_set *set,
                    const struct store_replica *r, struct err *e);

#endif
