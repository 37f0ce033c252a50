/*
 * blob.h: reference-counted response bodies and a slot to swap them in.
 *
 * A blob is an immutable byte string built once and sent by many
 * responses at the same time; each response holds a reference until
 * libmicrohttpd has sent it.  A blob slot holds the current blob of an
 * answer that changes while the server runs (deployment stats, the update
 * check): readers take a reference under a short lock, a writer swaps in
 * a new blob and drops the slot's reference to the old one, which is
 * freed when its last response is done.
 */
#ifndef CODER_CFG_API_BLOB_H
#define CODER_CFG_API_BLOB_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct blob {
    atomic_long refs;
    size_t len;
    char data[];
};

/* A copy of data[0..len) with one reference; NULL when out of memory. */
struct blob *blob_new(const void *data, size_t len);

/*
 * A blob holding v written as Go's encoder would (jsonx_dump, with the
 * trailing newline).  Steals v, which may be NULL; NULL on failure.
 */
struct blob *blob_from_json(json_t *v);

/* Adds a reference and returns b (NULL stays NULL). */
struct blob *blob_ref(struct blob *b);

/* Drops a reference, freeing b with the last one; NULL is a no-op. */
void blob_unref(struct blob *b);

struct blob_slot {
    pthread_mutex_t mu;
    struct blob *cur;
};

void blob_slot_init(struct blob_slot *s);

/* Drops the slot's blob. */
void blob_slot_release(struct blob_slot *s);

/* A new reference to the current blob, or NULL when there is none. */
struct blob *blob_slot_get(struct blob_slot *s);

/* Makes b current, taking the caller's reference to it. */
void blob_slot_put(struct blob_slot *s, struct blob *b);

#endif
