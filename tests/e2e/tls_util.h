/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A throw-away certificate authority for the end-to-end tests, made at run time with GnuTLS:
 * a CA, and a certificate for "localhost" it signs, written as PEM files in a fresh
 * directory. TLS verification stays on in every test; nothing here is ever reused.
 */
#ifndef MASQUE_TEST_TLS_UTIL_H
#define MASQUE_TEST_TLS_UTIL_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct test_pki {
    char dir[64];
    char ca_file[96];   /* the CA's certificate */
    char cert_file[96]; /* "localhost", signed by the CA */
    char key_file[96];
    char other_ca_file[96];    /* a CA that signed nothing the proxy presents */
    char client_cert_file[96]; /* "client-1", a client certificate signed by the CA */
    char client_key_file[96];
    char other_client_cert_file[96]; /* "client-2", signed by the other CA */
    char other_client_key_file[96];
} test_pki;

static int pki_write(const char *path, const gnutls_datum_t *d)
{
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && fwrite(d->data, 1, d->size, f) == d->size;
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    return ok ? 0 : -1;
}

static int pki_key(gnutls_x509_privkey_t *key)
{
    return gnutls_x509_privkey_init(key) == 0 &&
                   gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                                GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                0) == 0
               ? 0
               : -1;
}

static int pki_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *dn, int ca,
                    unsigned serial)
{
    unsigned char s[4] = {0x01, (unsigned char)(serial >> 8), (unsigned char)serial, 0x01};
    time_t now = time(NULL);
    return gnutls_x509_crt_set_version(crt, 3) == 0 &&
                   gnutls_x509_crt_set_serial(crt, s, sizeof(s)) == 0 &&
                   gnutls_x509_crt_set_activation_time(crt, now - 3600) == 0 &&
                   gnutls_x509_crt_set_expiration_time(crt, now + 86400) == 0 &&
                   gnutls_x509_crt_set_dn(crt, dn, NULL) == 0 &&
                   gnutls_x509_crt_set_key(crt, key) == 0 &&
                   gnutls_x509_crt_set_basic_constraints(crt, (unsigned)ca, -1) == 0 &&
                   gnutls_x509_crt_set_key_usage(crt,
                                                 ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                                                    : GNUTLS_KEY_DIGITAL_SIGNATURE) == 0
               ? 0
               : -1;
}

/* A leaf signed by `ca`: a server's for "localhost", or a client's with this DN. */
static int pki_leaf(gnutls_x509_crt_t ca, gnutls_x509_privkey_t ca_key, const char *dn, int client,
                    const char *cert_path, const char *key_path, unsigned serial)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t d = {NULL, 0};
    int rv = -1;
    if (pki_key(&key) == 0 && gnutls_x509_crt_init(&crt) == 0 &&
        pki_cert(crt, key, dn, 0, serial) == 0 &&
        (client || gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                                        GNUTLS_FSAN_SET) == 0) &&
        gnutls_x509_crt_set_key_purpose_oid(
            crt, client ? GNUTLS_KP_TLS_WWW_CLIENT : GNUTLS_KP_TLS_WWW_SERVER, 0) == 0 &&
        gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0) == 0 &&
        gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) == 0 &&
        pki_write(cert_path, &d) == 0) {
        gnutls_free(d.data);
        d.data = NULL;
        if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) == 0 &&
            pki_write(key_path, &d) == 0) {
            rv = 0;
        }
    }
    gnutls_free(d.data);
    if (crt != NULL) {
        gnutls_x509_crt_deinit(crt);
    }
    if (key != NULL) {
        gnutls_x509_privkey_deinit(key);
    }
    return rv;
}

/* A CA (written to ca_path) that signs nothing, or, with leaf paths, a "localhost" leaf; with
 * client paths also a client certificate with client_dn. */
static int pki_make(const char *ca_path, const char *cert_path, const char *key_path,
                    const char *client_dn, const char *client_cert, const char *client_key,
                    unsigned serial)
{
    gnutls_x509_privkey_t ca_key = NULL;
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t ca = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t d = {NULL, 0};
    int rv = -1;
    if (pki_key(&ca_key) != 0 || gnutls_x509_crt_init(&ca) != 0 ||
        pki_cert(ca, ca_key, "CN=libmasque throw-away test CA", 1, serial) != 0 ||
        gnutls_x509_crt_sign2(ca, ca, ca_key, GNUTLS_DIG_SHA256, 0) != 0 ||
        gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &d) != 0 || pki_write(ca_path, &d) != 0) {
        goto out;
    }
    gnutls_free(d.data);
    d.data = NULL;
    if (client_cert != NULL &&
        pki_leaf(ca, ca_key, client_dn, 1, client_cert, client_key, serial + 2) != 0) {
        goto out;
    }
    if (cert_path == NULL) {
        rv = 0;
        goto out;
    }
    if (pki_key(&key) != 0 || gnutls_x509_crt_init(&crt) != 0 ||
        pki_cert(crt, key, "CN=localhost", 0, serial + 1) != 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                             GNUTLS_FSAN_SET) != 0 ||
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) != 0 ||
        gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0) != 0 ||
        gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) != 0 ||
        pki_write(cert_path, &d) != 0) {
        goto out;
    }
    gnutls_free(d.data);
    d.data = NULL;
    if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) != 0 ||
        pki_write(key_path, &d) != 0) {
        goto out;
    }
    rv = 0;
out:
    gnutls_free(d.data);
    if (crt != NULL) {
        gnutls_x509_crt_deinit(crt);
    }
    if (ca != NULL) {
        gnutls_x509_crt_deinit(ca);
    }
    if (key != NULL) {
        gnutls_x509_privkey_deinit(key);
    }
    if (ca_key != NULL) {
        gnutls_x509_privkey_deinit(ca_key);
    }
    return rv;
}

/* Makes the throw-away PKI in a new directory; 0 on success. */
static int test_pki_make(test_pki *p)
{
    memset(p, 0, sizeof(*p));
    (void)snprintf(p->dir, sizeof(p->dir), "/tmp/masque-pki-XXXXXX");
    if (mkdtemp(p->dir) == NULL) {
        return -1;
    }
    (void)snprintf(p->ca_file, sizeof(p->ca_file), "%s/ca.pem", p->dir);
    (void)snprintf(p->cert_file, sizeof(p->cert_file), "%s/localhost.pem", p->dir);
    (void)snprintf(p->key_file, sizeof(p->key_file), "%s/localhost.key", p->dir);
    (void)snprintf(p->other_ca_file, sizeof(p->other_ca_file), "%s/other-ca.pem", p->dir);
    (void)snprintf(p->client_cert_file, sizeof(p->client_cert_file), "%s/client.pem", p->dir);
    (void)snprintf(p->client_key_file, sizeof(p->client_key_file), "%s/client.key", p->dir);
    (void)snprintf(p->other_client_cert_file, sizeof(p->other_client_cert_file),
                   "%s/other-client.pem", p->dir);
    (void)snprintf(p->other_client_key_file, sizeof(p->other_client_key_file),
                   "%s/other-client.key", p->dir);
    return pki_make(p->ca_file, p->cert_file, p->key_file, "CN=client-1", p->client_cert_file,
                    p->client_key_file, 0x100) == 0 &&
                   pki_make(p->other_ca_file, NULL, NULL, "CN=client-2", p->other_client_cert_file,
                            p->other_client_key_file, 0x200) == 0
               ? 0
               : -1;
}

static void test_pki_remove(const test_pki *p)
{
    (void)remove(p->ca_file);
    (void)remove(p->cert_file);
    (void)remove(p->key_file);
    (void)remove(p->other_ca_file);
    (void)remove(p->client_cert_file);
    (void)remove(p->client_key_file);
    (void)remove(p->other_client_cert_file);
    (void)remove(p->other_client_key_file);
    (void)remove(p->dir);
}

/* The suite's throw-away PKI, made by its group setup and removed by its group teardown. */
static test_pki pki;

static inline int make_pki(void **state)
{
    (void)state;
    return test_pki_make(&pki);
}

static inline int remove_pki(void **state)
{
    (void)state;
    test_pki_remove(&pki);
    return 0;
}

#endif /* MASQUE_TEST_TLS_UTIL_H */
