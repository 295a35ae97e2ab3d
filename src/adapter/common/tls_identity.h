/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * TLS names for both bindings: who the TLS peer is (its certificate, verified against the trust
 * the credentials carry: the client CA a proxy was given for mutual TLS), and the name a client
 * verifies the proxy against. Internal, in no public header.
 */
#ifndef MASQUE_ADAPTER_TLS_IDENTITY_H
#define MASQUE_ADAPTER_TLS_IDENTITY_H

#include <gnutls/gnutls.h>
#include <stddef.h>

/** The longest common name GnuTLS's text of it may be, in bytes: a longer one names nobody. */
#define MASQUE_TLS_NAME_MAX 256

/**
 * 1 with the common name of the certificate `der` (DER) in `out` (cap bytes, NUL-terminated),
 * in printable ASCII only: as GnuTLS writes it per RFC 4514, and each byte it leaves outside
 * 0x20-0x7e as the four characters \xHH. 0, with `out` empty, when the certificate does not
 * parse, has no common name, or its name does not fit. Does not verify: the caller has.
 */
int masque_tls_certificate_name(const gnutls_datum_t *der, char *out, size_t cap);

/**
 * 1 with the subject's common name in `out` (cap bytes, NUL-terminated) when the peer presented
 * a certificate that verifies against the credentials' trust list and is valid now (the name as
 * masque_tls_certificate_name() gives it); 0 when it presented none, or one that does not
 * verify, or whose name does not fit.
 */
int masque_tls_peer_identity(gnutls_session_t tls, char *out, size_t cap);

/**
 * Client: names the proxy for TLS from the request's authority ("host", "host:port",
 * "[v6]:port"; RFC 9110 §4.3.4): SNI with its host unless that is an IP literal (RFC 6066 §3),
 * and certificate verification against that host unless `insecure`. The host is kept in `host`
 * (cap bytes, which must outlive the session). 0, or -1 when the authority has no host.
 */
int masque_tls_client_name(gnutls_session_t tls, const char *authority, int insecure, char *host,
                           size_t cap);

#endif /* MASQUE_ADAPTER_TLS_IDENTITY_H */
