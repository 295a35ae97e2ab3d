/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Who the TLS peer is: its certificate, verified against the trust the credentials carry (the
 * client CA a proxy was given for mutual TLS). For both bindings; internal, in no public header.
 */
#ifndef MASQUE_ADAPTER_TLS_IDENTITY_H
#define MASQUE_ADAPTER_TLS_IDENTITY_H

#include <gnutls/gnutls.h>
#include <stddef.h>

/**
 * 1 with the subject's common name in `out` (cap bytes, NUL-terminated) when the peer presented
 * a certificate that verifies against the credentials' trust list and is valid now; 0 when it
 * presented none, or one that does not verify.
 */
int masque_tls_peer_identity(gnutls_session_t tls, char *out, size_t cap);

#endif /* MASQUE_ADAPTER_TLS_IDENTITY_H */
