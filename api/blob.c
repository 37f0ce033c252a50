/*
 * blob.c: shared bodies.
 */
#include <stdlib.h>
#include <string.h>

#include "api/blob.h"
#include "core/buf.h"
#include "core/jsonx.h"
#include "core/banned.h"

struct blob *
blob_new(const void *data, size_t len)
{
    struct blob *b = malloc(sizeof(*b) + len + 1);

    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    return b;
}

struct blob *
blob_ref(struct blob *b)
{
    if (b != NULL)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void
blob_unref(struct blob *b)
{
    if (b == NULL)
        return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

void
blob_slot_init(struct blob_slot *s)
{
    pthread_mutex_init(&s->mu, NULL);
    s->cur = NULL;
}

void
blob_slot_release(struct blob_slot *s)
{
    blob_unref(s->cur);
    s->cur = NULL;
    pthread_mutex_destroy(&s->mu);
}

struct blob *
blob_slot_get(struct blob_slot *s)
{
    struct blob *b;

    pthread_mutex_lock(&s->mu);
    b = blob_ref(s->cur);
    pthread_mutex_unlock(&s->mu);
    return b;
}

void
blob_slot_put(struct blob_slot *s, struct blob *b)
{
    struct blob *old;

    pthread_mutex_lock(&s->mu);
    old = s->cur;
    s->cur = b;
    pthread_mutex_unlock(&s->mu);
    blob_unref(old);
}

struct blob *
blob_from_json(json_t *v)
{
    struct blob *b = NULL;
    struct buf out;

    buf_init(&out);
    if (v != NULL && jsonx_dump(v, &out, true) == 0)
        b = blob_new(out.data, out.len);
    buf_release(&out);
    json_decref(v);
    return b;
}
