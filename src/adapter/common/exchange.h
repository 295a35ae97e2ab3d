/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The HTTP side of one Bind request, whatever carries it (HTTP/3 or HTTP/2): the fields of the
 * request (proxy) or of the response (client) as they arrive, combined as HTTP combines
 * repeated lines, and the decisions on them (http.h). Internal to the bindings: in no public
 * header.
 */
#ifndef MASQUE_ADAPTER_EXCHANGE_H
#define MASQUE_ADAPTER_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "masque/http.h"

/** The fields of one message, as received. */
typedef struct masque_exchange {
    size_t cp_len, cub_len, ppa_len;
    int has_cp, has_cub, has_ppa;
    int status;        /* :status (client), 0 when absent or not three digits */
    int field_refused; /* a value did not fit or held a NUL: the message is refused, never cut */
    char method[16], protocol[32], scheme[16], authority[256], path[1024];
    char capsule_protocol[64], connect_udp_bind[64], ppa[512];
    size_t pauth_len;
    int has_pauth;
    char proxy_authorization[512]; /* the client's credentials (RFC 9110 §11.7.2) */
    size_t pstatus_len;
    int has_pstatus;
    char proxy_status[256]; /* a refusal's reason (RFC 9209), for the client's log */
} masque_exchange;

/**
 * Client: the line that says why the proxy did not enable Bind: its status and, when it sent
 * one, its Proxy-Status (RFC 9209), into `out`; the proxy's bytes printable ASCII only (others
 * as \xHH), since the line goes to a log.
 */
void masque_exchange_refusal_line(const masque_exchange *x, char *out, size_t cap);

/** Whether a binding can serve or request with this URI template: given, and accepted by
 *  masque_uri_template_check() (a proxy with any other would answer every request 400). */
int masque_exchange_template_usable(const char *uri_template);

/** The Proxy-Authorization value received (ptr NULL when absent), for an authorization hook. */
masque_str masque_exchange_credentials(const masque_exchange *x);

/** One field line of the message (pseudo-header fields included, by name). */
void masque_exchange_field(masque_exchange *x, const uint8_t *name, size_t namelen,
                           const uint8_t *value, size_t valuelen);

/** A proxy's answer to a request: 0 with a 200 to give, or the refusal in the arguments. */
typedef struct masque_exchange_refusal {
    int status;             /* 400, 501 */
    const char *error_type; /* a MASQUE_PROXY_STATUS_* */
    const char *details;    /* or NULL */
    const char *why;        /* for the log; NULL when the host refused (it logs its own) */
} masque_exchange_refusal;

/**
 * Proxy: whether the request is a well-formed Bind request to `*` under the template (RFC 9298
 * §3.4, -10 §3); 0 when it is, -1 with the refusal filled in when not.
 */
int masque_exchange_check_request(const masque_exchange *x, const char *uri_template,
                                  masque_exchange_refusal *refusal);

/**
 * Proxy: the checks before the host is asked to bind a socket, in the order both bindings
 * answer them: credentials (407, before anything else of the request is judged), the request
 * itself (400, 501), the connection's limit on open requests (429). 0 when all pass, -1 with
 * the refusal filled in when one fails.
 */
int masque_exchange_admit(const masque_exchange *x, const char *uri_template, int authorized,
                          size_t open_requests, size_t max_requests,
                          masque_exchange_refusal *refusal);

/** Proxy: the response to a host's refusal (on_request's non-zero status; 429 a quota). */
void masque_exchange_host_refusal(int refused, masque_exchange_refusal *refusal);

/** Client: masque_bind_response_check() on the response received. */
int masque_exchange_check_response(const masque_exchange *x, masque_address *addrs, size_t cap,
                                   size_t *count, unsigned *families);

/**
 * Proxy: checks the public addresses on_request left (1 to MASQUE_PUBLIC_ADDRESSES_MAX, none
 * unspecified, none with port 0: -10 §7) and sets *families to their MASQUE_FAMILY_* bits,
 * which the request's session then holds to (BIND-27). Returns 0, or -1 with the 503 to answer
 * in *refusal.
 */
int masque_exchange_public_families(const masque_address *addrs, size_t count, unsigned *families,
                                    masque_exchange_refusal *refusal);

/** Room for the field values of a response: Proxy-Public-Address with its most tuples. */
#define MASQUE_EXCHANGE_RESPONSE_BUF (128u + MASQUE_PUBLIC_ADDRESSES_MAX * 56u)

/**
 * The response as field lines (RFC 9297 §3.4: Capsule-Protocol on 2xx only), into `fields`
 * (MASQUE_BIND_RESPONSE_FIELDS_MAX) over `buf` (MASQUE_EXCHANGE_RESPONSE_BUF); with the
 * `count` public addresses when that is not 0, and a Proxy-Status of `error_type` and
 * `details` when error_type is not NULL. Returns the count, or -1.
 */
masque_ssize masque_exchange_response(masque_field *fields, char *buf, size_t cap, int status,
                                      const masque_address *public_addresses, size_t count,
                                      const char *error_type, const char *details,
                                      char *status_text, size_t status_cap);

/** Fields of a client's Bind request (with Proxy-Authorization). */
#define MASQUE_EXCHANGE_REQUEST_FIELDS 8

/**
 * Client: the extended CONNECT of a Bind request (RFC 9298 §3.4 and §3.5, RFC 9220 / RFC 8441,
 * -10 §3) for `authority` under `uri_template`, to `*` or, with target_host, to that target;
 * the path is expanded into path (cap bytes). Returns the count, or -1.
 */
masque_ssize masque_exchange_request(masque_field *fields, char *path, size_t cap,
                                     const char *authority, const char *uri_template,
                                     const char *target_host, uint16_t target_port,
                                     const char *token, char *auth, size_t auth_cap);

#endif /* MASQUE_ADAPTER_EXCHANGE_H */
