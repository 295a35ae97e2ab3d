/* SPDX-License-Identifier: GPL-3.0-only */
/* Who the TLS peer is (mutual TLS): see tls_identity.h. */
#include "tls_identity.h"

#include <gnutls/x509.h>

int masque_tls_peer_identity(gnutls_session_t tls, char *out, size_t cap)
{
    unsigned status = 1;
    unsigned count = 0;
    const gnutls_datum_t *chain;
    gnutls_x509_crt_t crt;
    size_t len = cap;
    int ok;
    if (tls == NULL || cap == 0) {
        return 0;
    }
    out[0] = '\0';
    chain = gnutls_certificate_get_peers(tls, &count);
    /* RFC 8446 §4.4.2.4: the chain the peer sent, checked against our trust list and time. */
    if (chain == NULL || count == 0 || gnutls_certificate_verify_peers2(tls, &status) != 0 ||
        status != 0 || gnutls_x509_crt_init(&crt) != 0) {
        return 0;
    }
    ok = gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0 &&
         gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, out, &len) == 0;
    gnutls_x509_crt_deinit(crt);
    if (!ok) {
        out[0] = '\0';
    }
    return ok;
}
