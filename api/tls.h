/*
 * tls.h: a throw-away certificate for a TLS listener that was given none.
 *
 * `coder-cfg server --tls-enable` without --tls-cert-file still serves
 * HTTPS, as Coder does: a key pair and a certificate signed by that same
 * key are made in memory at start-up and forgotten at exit.  Clients do
 * not trust such a certificate unless told to skip the check, so the
 * caller warns when it uses one.
 */
#ifndef CODER_CFG_API_TLS_H
#define CODER_CFG_API_TLS_H

#include <stddef.h>

#include "../core/err.h"

/* Longest host name the certificate carries (a DNS name is 253 at most). */
#define API_TLS_HOST_MAX 256

/*
 * Writes the bare host of hostport ("example.com:8443", "[::1]:3000",
 * "example.com") into out: the port and IPv6 brackets are dropped.  An
 * empty hostport, or a host that does not fit in size bytes, gives
 * "localhost".
 */
void api_tls_host(const char *hostport, char *out, size_t size);

/*
 * Makes an ECDSA P-256 key and a self-signed X.509 v3 certificate for
 * host (CN and DNS name, plus "localhost", 127.0.0.1 and ::1), valid from
 * an hour ago for a year, for TLS server use only.  On success *cert_pem
 * and *key_pem are heap PEM strings the caller owns; wipe *key_pem before
 * freeing it (api_tls_free_key).  On failure both are NULL and the code
 * is ERR_NOMEM, ERR_UNSUPPORTED when libgnutls.so.30 cannot be loaded,
 * or ERR_INTERNAL when GnuTLS refuses a step (the step and GnuTLS's
 * reason are in e).
 */
int api_tls_self_signed(const char *host, char **cert_pem, char **key_pem,
                        struct err *e);

/* Wipes and frees a private key PEM string; NULL is a no-op. */
void api_tls_free_key(char *key_pem);

#endif
