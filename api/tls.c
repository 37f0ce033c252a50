/*
 * tls.c: the self-signed certificate of a TLS listener without files.
 *
 * Everything goes through GnuTLS, which libmicrohttpd already serves TLS
 * with.  The key never leaves memory: its PEM text is wiped before it is
 * freed, here and by the listener that takes it.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/gnutls_lazy.h"
#include "api/tls.h"
#include "core/banned.h"

#define VALID_BEFORE (60 * 60)
#define VALID_FOR (365 * 24 * 60 * 60)
#define SERIAL_LEN 16

void
api_tls_host(const char *hostport, char *out, size_t size)
{
    const char *start = hostport;
    const char *colon = strchr(hostport, ':');
    size_t len = strlen(hostport);

    /* "[v6]:port" keeps what is inside the brackets; "host:port" its
     * host; a bare IPv6 address (more than one colon) stays whole. */
    if (hostport[0] == '[') {
        start = hostport + 1;
        len = strcspn(start, "]");
    } else if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        len = (size_t)(colon - hostport);
    }
    if (len == 0 || len >= size) {
        start = "localhost";
        len = strlen(start);
    }
    memcpy(out, start, len);
    out[len] = '\0';
}

/* Turns a GnuTLS failure into our error, naming the step. */
static int
gnutls_check(int ret, const char *step, struct err *e)
{
    if (ret >= 0)
        return 0;
    if (ret == GNUTLS_E_MEMORY_ERROR)
        return err_set(e, ERR_NOMEM, "out of memory");
    return err_set(e, ERR_INTERNAL, "cannot make a self-signed "
                   "certificate: %s: %s", step, gnutls_strerror(ret));
}

/* Adds name as an IP address when it is one, else as a DNS name. */
static int
add_name(gnutls_x509_crt_t crt, const char *name, struct err *e)
{
    unsigned char ip[16];
    int ret;

    if (inet_pton(AF_INET, name, ip) == 1)
        ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS,
                                                   ip, 4, GNUTLS_FSAN_APPEND);
    else if (inet_pton(AF_INET6, name, ip) == 1)
        ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS,
                                                   ip, 16,
                                                   GNUTLS_FSAN_APPEND);
    else
        ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME,
                                                   name,
                                                   (unsigned)strlen(name),
                                                   GNUTLS_FSAN_APPEND);
    return gnutls_check(ret, "subject alternative name", e);
}

/* The subject and the names a client may reach us by, each once. */
static int
set_names(gnutls_x509_crt_t crt, const char *host, struct err *e)
{
    static const char *const always[] = { "localhost", "127.0.0.1", "::1" };
    size_t i;
    int rc;

    rc = gnutls_check(gnutls_x509_crt_set_dn_by_oid(
                          crt, GNUTLS_OID_X520_COMMON_NAME, 0, host,
                          (unsigned)strlen(host)),
                      "common name", e);
    if (rc == 0)
        rc = add_name(crt, host, e);
    for (i = 0; rc == 0 && i < sizeof(always) / sizeof(always[0]); i++) {
        if (strcmp(host, always[i]) != 0)
            rc = add_name(crt, always[i], e);
    }
    return rc;
}

/* Version, a random positive serial and the validity window. */
static int
set_identity(gnutls_x509_crt_t crt, struct err *e)
{
    unsigned char serial[SERIAL_LEN];
    time_t now = time(NULL);
    int rc;

    rc = gnutls_check(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)),
                      "serial", e);
    if (rc < 0)
        return rc;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x01);

    rc = gnutls_check(gnutls_x509_crt_set_version(crt, 3), "version", e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_set_serial(crt, serial,
                                                     sizeof(serial)),
                          "serial", e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_set_activation_time(
                              crt, now - VALID_BEFORE), "not before", e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_set_expiration_time(
                              crt, now + VALID_FOR), "not after", e);
    return rc;
}

/* An end-entity certificate for TLS servers only. */
static int
set_usage(gnutls_x509_crt_t crt, struct err *e)
{
    int rc;

    rc = gnutls_check(gnutls_x509_crt_set_basic_constraints(crt, 0, -1),
                      "basic constraints", e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_set_key_usage(
                              crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                   GNUTLS_KEY_KEY_ENCIPHERMENT),
                          "key usage", e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_set_key_purpose_oid(
                              crt, GNUTLS_KP_TLS_WWW_SERVER, 0),
                          "extended key usage", e);
    return rc;
}

/*
 * Copies a GnuTLS datum into a NUL-terminated heap string, then wipes
 * (the key) and frees the datum.
 */
static int
take_datum(gnutls_datum_t *d, char **out, struct err *e)
{
    *out = malloc((size_t)d->size + 1);
    if (*out != NULL) {
        memcpy(*out, d->data, d->size);
        (*out)[d->size] = '\0';
    }
    sodium_memzero(d->data, d->size);
    gnutls_free(d->data);
    d->data = NULL;
    return *out != NULL ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int
export_pem(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
           char **cert_pem, char **key_pem, struct err *e)
{
    gnutls_datum_t d = { NULL, 0 };
    int rc;

    rc = gnutls_check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d),
                      "export", e);
    if (rc == 0)
        rc = take_datum(&d, cert_pem, e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_privkey_export2(
                              key, GNUTLS_X509_FMT_PEM, &d), "export", e);
    if (rc == 0)
        rc = take_datum(&d, key_pem, e);
    return rc;
}

int
api_tls_self_signed(const char *host, char **cert_pem, char **key_pem,
                    struct err *e)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    unsigned bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
    int rc;

    *cert_pem = NULL;
    *key_pem = NULL;

    rc = gnutls_lazy_load(e);
    if (rc < 0)
        return rc;
    rc = gnutls_check(gnutls_x509_privkey_init(&key), "key", e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_privkey_generate(
                              key, GNUTLS_PK_ECDSA, bits, 0), "key", e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_init(&crt), "certificate", e);
    if (rc == 0)
        rc = set_identity(crt, e);
    if (rc == 0)
        rc = set_names(crt, host, e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_set_key(crt, key), "public key",
                          e);
    if (rc == 0)
        rc = set_usage(crt, e);
    if (rc == 0)
        rc = gnutls_check(gnutls_x509_crt_sign2(crt, crt, key,
                                                GNUTLS_DIG_SHA256, 0),
                          "signature", e);
    if (rc == 0)
        rc = export_pem(crt, key, cert_pem, key_pem, e);

    if (rc < 0) {
        free(*cert_pem);
        api_tls_free_key(*key_pem);
        *cert_pem = NULL;
        *key_pem = NULL;
    }
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    return rc;
}

void
api_tls_free_key(char *key_pem)
{
    if (key_pem == NULL)
        return;
    sodium_memzero(key_pem, strlen(key_pem));
    free(key_pem);
}
