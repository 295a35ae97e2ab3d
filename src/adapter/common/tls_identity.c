/* SPDX-License-Identifier: GPL-3.0-only */
/* Who the TLS peer is (mutual TLS): see tls_identity.h. */
#include "tls_identity.h"

#include <gnutls/x509.h>
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
