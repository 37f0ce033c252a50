/*
 * gnutls_lazy.h: GnuTLS, loaded when a self-signed certificate is made.
 *
 * Only a TLS listener without a certificate file needs GnuTLS directly
 * (libmicrohttpd serves TLS through its own link to it), yet linking it
 * would load GnuTLS, nettle, p11-kit and the rest into every run of every
 * command.  api/tls.c therefore opens libgnutls.so.30 with dlopen before
 * it makes a key and calls GnuTLS through the table gnutls_fn, whose
 * pointers carry the prototypes of GnuTLS's own headers.
 *
 * Invariant: no member of gnutls_fn may be used before gnutls_lazy_load
 * has returned 0.  Once it has, the table never changes and the library
 * stays loaded until the process exits.
 *
 * api/tls.c includes this header instead of the GnuTLS headers: the
 * gnutls names at its end go through the table, so the code reads as
 * usual.  gnutls_free is a variable in GnuTLS, a pointer to its
 * deallocator, so its member points at that variable.
 */
#ifndef CODER_CFG_GNUTLS_LAZY_H
#define CODER_CFG_GNUTLS_LAZY_H

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "core/err.h"

/* The soname we load; the libgnutls30 package provides it. */
#define GNUTLS_LAZY_SONAME "libgnutls.so.30"

/* Every GnuTLS symbol coder-cfg uses: member name, GnuTLS name. */
#define GNUTLS_LAZY_FUNCS(X)                                              \
    X(free_var, gnutls_free)                                              \
    X(rnd, gnutls_rnd)                                                    \
    X(strerror, gnutls_strerror)                                          \
    X(crt_deinit, gnutls_x509_crt_deinit)                                 \
    X(crt_export2, gnutls_x509_crt_export2)                               \
    X(crt_init, gnutls_x509_crt_init)                                     \
    X(crt_set_activation_time, gnutls_x509_crt_set_activation_time)       \
    X(crt_set_basic_constraints, gnutls_x509_crt_set_basic_constraints)   \
    X(crt_set_dn_by_oid, gnutls_x509_crt_set_dn_by_oid)                   \
    X(crt_set_expiration_time, gnutls_x509_crt_set_expiration_time)       \
    X(crt_set_key, gnutls_x509_crt_set_key)                               \
    X(crt_set_key_purpose_oid, gnutls_x509_crt_set_key_purpose_oid)       \
    X(crt_set_key_usage, gnutls_x509_crt_set_key_usage)                   \
    X(crt_set_serial, gnutls_x509_crt_set_serial)                         \
    X(crt_set_subject_alt_name, gnutls_x509_crt_set_subject_alt_name)     \
    X(crt_set_version, gnutls_x509_crt_set_version)                       \
    X(crt_sign2, gnutls_x509_crt_sign2)                                   \
    X(privkey_deinit, gnutls_x509_privkey_deinit)                         \
    X(privkey_export2, gnutls_x509_privkey_export2)                       \
    X(privkey_generate, gnutls_x509_privkey_generate)                     \
    X(privkey_init, gnutls_x509_privkey_init)

/* One pointer per symbol, typed from the GnuTLS declaration. */
struct gnutls_lazy_table {
#define GNUTLS_LAZY_MEMBER(name, sym) __typeof__(sym) *name;
    GNUTLS_LAZY_FUNCS(GNUTLS_LAZY_MEMBER)
#undef GNUTLS_LAZY_MEMBER
};

/* Filled by gnutls_lazy_load; read only after it returned 0. */
extern struct gnutls_lazy_table gnutls_fn;

/*
 * Loads GnuTLS and fills gnutls_fn, once per process; later calls (from
 * any thread) return the first call's result at once.  Returns 0, or
 * ERR_UNSUPPORTED when the library or one of its symbols is missing,
 * with dlerror's reason and the package to install in e.  GnuTLS
 * initialises itself when it is loaded.
 */
int gnutls_lazy_load(struct err *e);

/* The usual names, through the table (see the invariant above). */
#undef gnutls_free
#define gnutls_free(p) ((*gnutls_fn.free_var)((void *)(p)), (p) = NULL)
#define gnutls_rnd (gnutls_fn.rnd)
#define gnutls_strerror (gnutls_fn.strerror)
#define gnutls_x509_crt_deinit (gnutls_fn.crt_deinit)
#define gnutls_x509_crt_export2 (gnutls_fn.crt_export2)
#define gnutls_x509_crt_init (gnutls_fn.crt_init)
#define gnutls_x509_crt_set_activation_time \
    (gnutls_fn.crt_set_activation_time)
#define gnutls_x509_crt_set_basic_constraints \
    (gnutls_fn.crt_set_basic_constraints)
#define gnutls_x509_crt_set_dn_by_oid (gnutls_fn.crt_set_dn_by_oid)
#define gnutls_x509_crt_set_expiration_time \
    (gnutls_fn.crt_set_expiration_time)
#define gnutls_x509_crt_set_key (gnutls_fn.crt_set_key)
#define gnutls_x509_crt_set_key_purpose_oid \
    (gnutls_fn.crt_set_key_purpose_oid)
#define gnutls_x509_crt_set_key_usage (gnutls_fn.crt_set_key_usage)
#define gnutls_x509_crt_set_serial (gnutls_fn.crt_set_serial)
#define gnutls_x509_crt_set_subject_alt_name \
    (gnutls_fn.crt_set_subject_alt_name)
#define gnutls_x509_crt_set_version (gnutls_fn.crt_set_version)
#define gnutls_x509_crt_sign2 (gnutls_fn.crt_sign2)
#define gnutls_x509_privkey_deinit (gnutls_fn.privkey_deinit)
#define gnutls_x509_privkey_export2 (gnutls_fn.privkey_export2)
#define gnutls_x509_privkey_generate (gnutls_fn.privkey_generate)
#define gnutls_x509_privkey_init (gnutls_fn.privkey_init)

#endif
