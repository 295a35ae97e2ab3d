/* SPDX-License-Identifier: GPL-3.0-only */
/* Who the TLS peer is (mutual TLS), the proxy's name, session resumption: see tls_identity.h. */
#include "tls_identity.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>

#include "internal/text.h"
#include "masque/address.h"

int masque_tls_certificate_name(const gnutls_datum_t *der, char *out, size_t cap)
{
    char name[MASQUE_TLS_NAME_MAX];
    size_t len = sizeof(name);
    gnutls_x509_crt_t crt;
    int ok;
    if (der == NULL || out == NULL || cap == 0) {
        return 0;
    }
    out[0] = '\0';
    if (gnutls_x509_crt_init(&crt) != 0) {
        return 0;
    }
    /* The name as RFC 4514 §2.4 writes it (GnuTLS escapes ',', '+', '\\', a leading '#', and
     * gives a value holding a NUL as '#' and its DER in hex): one name per subject. */
    ok = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) == 0 &&
         gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, name, &len) == 0;
    gnutls_x509_crt_deinit(crt);
    if (!ok) {
        return 0;
    }
    /* Other control bytes it lets through as they are (ESC and the rest of C0, DEL, and bytes
     * 0x80-0xff, so C1 controls such as CSI in UTF-8 too) must not reach a log as they are:
     * each becomes \xHH, which no name written by GnuTLS holds (it writes a backslash as two),
     * so two subjects still never share a name. */
    return masque_text_printable(out, cap, name, len) == 0;
}

int masque_tls_peer_identity(gnutls_session_t tls, char *out, size_t cap)
{
    unsigned status = 1;
    unsigned count = 0;
    const gnutls_datum_t *chain;
    if (tls == NULL || out == NULL || cap == 0) {
        return 0;
    }
    out[0] = '\0';
    chain = gnutls_certificate_get_peers(tls, &count);
    /* RFC 8446 §4.4.2.4: the chain the peer sent, checked against our trust list and time. */
    if (chain == NULL || count == 0 || gnutls_certificate_verify_peers2(tls, &status) != 0 ||
        status != 0) {
        return 0;
    }
    return masque_tls_certificate_name(&chain[0], out, cap);
}

/* The host of an authority: what the proxy's certificate must name. An IPv6 literal keeps no
 * brackets. */
static int authority_host(const char *authority, char *out, size_t cap)
{
    const char *end;
    size_t n;
    if (authority == NULL || authority[0] == '\0') {
        return -1;
    }
    if (authority[0] == '[') {
        end = strchr(authority, ']');
        if (end == NULL) {
            return -1;
        }
        authority++;
    } else {
        end = strrchr(authority, ':');
        if (end == NULL || strchr(authority, ':') != end) {
            end = authority + strlen(authority); /* no port (or a bare IPv6: kept whole) */
        }
    }
    n = (size_t)(end - authority);
    if (n == 0 || n >= cap) {
        return -1;
    }
    memcpy(out, authority, n);
    out[n] = '\0';
    return 0;
}

int masque_tls_client_name(gnutls_session_t tls, const char *authority, int insecure, char *host,
                           size_t cap)
{
    masque_address ip;
    if (authority_host(authority, host, cap) != 0) {
        return -1;
    }
    /* RFC 6066 §3: no IP literal in SNI. */
    if (masque_address_parse(&ip, host, strlen(host), 0) != MASQUE_OK &&
        gnutls_server_name_set(tls, GNUTLS_NAME_DNS, host, strlen(host)) != 0) {
        return -1;
    }
    if (!insecure) {
        gnutls_session_set_verify_cert(tls, host, 0);
    }
    return 0;
}

int masque_tls_load_pair(gnutls_certificate_credentials_t cred, const char *cert_file,
                         const char *key_file)
{
    if (cert_file == NULL || key_file == NULL ||
        gnutls_certificate_set_x509_key_file(cred, cert_file, key_file, GNUTLS_X509_FMT_PEM) != 0) {
        return -1;
    }
    return 0;
}

int masque_tls_load_trust(gnutls_certificate_credentials_t cred, const char *ca_file, int insecure)
{
    if (ca_file != NULL) {
        int n = gnutls_certificate_set_x509_trust_file(cred, ca_file, GNUTLS_X509_FMT_PEM);
        return n > 0 ? 0 : -1; /* a file without a CA would verify no proxy */
    }
    if (insecure) {
        return 0; /* nothing is verified */
    }
    return gnutls_certificate_set_x509_system_trust(cred) >= 0 ? 0 : -1;
}

int masque_tls_priority_check(const char *priority, char *out, size_t cap)
{
    gnutls_priority_t taken;
    const char *stop = NULL;
    if (priority == NULL) {
        return 0;
    }
    if (gnutls_priority_init(&taken, priority, &stop) == 0) {
        gnutls_priority_deinit(taken);
        return 0;
    }
    (void)snprintf(out, cap, "the GnuTLS priority string \"%s\" is not valid from \"%s\"", priority,
                   stop != NULL ? stop : "");
    return -1;
}

int masque_tls_verify_failure(gnutls_session_t tls, char *out, size_t cap)
{
    gnutls_datum_t text = {NULL, 0};
    unsigned status = gnutls_session_get_verify_cert_status(tls);
    size_t n;
    if (cap == 0 || status == 0 || status == (unsigned)-1) {
        return 0; /* verified, or not yet verified: something else failed */
    }
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) != 0) {
        return 0;
    }
    (void)snprintf(out, cap, "%s", (const char *)text.data);
    gnutls_free(text.data);
    n = strlen(out);
    while (n > 0 && out[n - 1] == ' ') {
        out[--n] = '\0'; /* GnuTLS ends each sentence with a space */
    }
    return 1;
}

int masque_tls_ticket_key_derive(const char *key_file, const char *client_ca_file, uint8_t *key)
{
    static const char label[] = "libmasque TLS session ticket key 1";
    gnutls_datum_t secret = {NULL, 0};
    gnutls_datum_t ca = {NULL, 0};
    uint8_t half;
    int rv = 0;
    if (key_file == NULL || gnutls_load_file(key_file, &secret) != 0) {
        /* No file to read (a PKCS #11 URL, say): tickets of this process alone. */
        return gnutls_rnd(GNUTLS_RND_KEY, key, MASQUE_TLS_TICKET_KEY_LEN) == 0 ? 0 : -1;
    }
    if (client_ca_file != NULL && gnutls_load_file(client_ca_file, &ca) != 0) {
        rv = -1;
    }
    /* Two HMAC-SHA-256 outputs (32 bytes each), told apart by one byte after the label. */
    for (half = 0; rv == 0 && half < 2; half++) {
        gnutls_hmac_hd_t h;
        if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, secret.data, secret.size) != 0) {
            rv = -1;
            break;
        }
        if (gnutls_hmac(h, label, sizeof(label) - 1) != 0 || gnutls_hmac(h, &half, 1) != 0 ||
            (ca.data != NULL && gnutls_hmac(h, ca.data, ca.size) != 0)) {
            rv = -1;
        }
        gnutls_hmac_deinit(h, key + (size_t)32 * half);
    }
    gnutls_memset(secret.data, 0, secret.size); /* the private key does not stay in freed memory */
    gnutls_free(secret.data);
    gnutls_free(ca.data);
    return rv;
}

void masque_tls_drop_ticket(gnutls_datum_t *store)
{
    if (store->data != NULL) {
        gnutls_memset(store->data, 0, store->size);
        gnutls_free(store->data);
    }
    store->data = NULL;
    store->size = 0;
}

int masque_tls_offer_copy(gnutls_datum_t *store, const uint8_t *ticket, size_t len)
{
    if (len > UINT32_MAX) {
        return -1; /* no ticket is that long: a gnutls_datum_t could not hold it */
    }
    masque_tls_drop_ticket(store);
    store->data = gnutls_malloc(len);
    if (store->data == NULL) {
        return -1;
    }
    memcpy(store->data, ticket, len);
    store->size = (unsigned)len;
    return 0;
}

void masque_tls_keep_ticket(gnutls_session_t tls, gnutls_datum_t *store)
{
    gnutls_datum_t fresh = {NULL, 0};
    if (gnutls_session_get_data2(tls, &fresh) != 0) {
        return; /* the one held stays */
    }
    masque_tls_drop_ticket(store);
    *store = fresh;
}

size_t masque_tls_copy_ticket(const gnutls_datum_t *store, uint8_t *out, size_t cap)
{
    if (store->data == NULL) {
        return 0;
    }
    if (out != NULL && store->size <= cap) {
        memcpy(out, store->data, store->size);
    }
    return store->size;
}
