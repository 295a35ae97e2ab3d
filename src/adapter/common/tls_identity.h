/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * TLS for both bindings: who the TLS peer is (its certificate, verified against the trust the
 * credentials carry: the client CA a proxy was given for mutual TLS), the name a client verifies
 * the proxy against, and session resumption (RFC 8446 §2.2: the proxy's session tickets, kept
 * by the client for its next connection). Internal, in no public header.
 */
#ifndef MASQUE_ADAPTER_TLS_IDENTITY_H
#define MASQUE_ADAPTER_TLS_IDENTITY_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>

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

/**
 * Loads the PEM certificate chain in `cert_file` and its private key from `key_file` into `cred`.
 * 0, or -1 when either file is missing (a certificate without its key cannot be presented: GnuTLS
 * would read a NULL path), cannot be read or parsed, or the key does not match.
 */
int masque_tls_load_pair(gnutls_certificate_credentials_t cred, const char *cert_file,
                         const char *key_file);

/**
 * Client: what `cred` verifies the proxy against: the CAs in `ca_file` (PEM), or without one
 * the system's trusted CAs, as any TLS client would; nothing when `insecure`. 0, or -1 when
 * the file cannot be read or holds no CA, or the system's store cannot be read.
 */
int masque_tls_load_trust(gnutls_certificate_credentials_t cred, const char *ca_file, int insecure);

/**
 * Client, after a failed handshake: 1 with why the proxy's certificate did not verify in `out`
 * (cap bytes, NUL-terminated; GnuTLS's words, e.g. "The certificate issuer is unknown"), 0 when
 * verification was not what failed.
 */
int masque_tls_verify_failure(gnutls_session_t tls, char *out, size_t cap);

/**
 * 0 when GnuTLS takes the priority string `priority` (NULL: the binding's default, always
 * taken); else -1, with a line in `out` (cap bytes, NUL-terminated) that says where the string
 * stops making sense, so that an operator's typo is named once rather than failing every
 * handshake without a word.
 */
int masque_tls_priority_check(const char *priority, char *out, size_t cap);

/** The size of a session ticket key, as GnuTLS takes it (gnutls_session_ticket_enable_server). */
#define MASQUE_TLS_TICKET_KEY_LEN 64

/**
 * Proxy: the key of the session tickets it issues, in `key` (MASQUE_TLS_TICKET_KEY_LEN bytes).
 * Derived from the private key in `key_file` and the contents of `client_ca_file` (when given),
 * so that every process serving them (workers, a restart) resumes the sessions of the others,
 * and a new client CA ends the sessions the old one let in: a resumed session is not verified
 * again against the CA. Random without a key file to read. 0, or -1 when a file cannot be read.
 */
int masque_tls_ticket_key_derive(const char *key_file, const char *client_ca_file, uint8_t *key);

/**
 * Client: takes what resumes `tls` (its newest session ticket and state) into `store`, in place
 * of what it held. Called when a NewSessionTicket came (a handshake hook).
 */
void masque_tls_keep_ticket(gnutls_session_t tls, gnutls_datum_t *store);

/** Client: `store` holds a copy of the `len` bytes at `ticket` (to offer). 0, or -1 (memory). */
int masque_tls_offer_copy(gnutls_datum_t *store, const uint8_t *ticket, size_t len);

/** Frees what `store` holds, zeroed first (it holds the session's resumption secret). */
void masque_tls_drop_ticket(gnutls_datum_t *store);

/**
 * Copies what `store` holds into `out` when it fits in `cap` bytes; returns its size (0: none).
 */
size_t masque_tls_copy_ticket(const gnutls_datum_t *store, uint8_t *out, size_t cap);

#endif /* MASQUE_ADAPTER_TLS_IDENTITY_H */
