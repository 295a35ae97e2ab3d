/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file http.h
 * @brief Values of the HTTP request and response of a CONNECT-UDP Bind tunnel.
 *
 * libmasque has no HTTP stack: the host's HTTP/3 (or HTTP/2) layer sends and receives the
 * header fields. These helpers build and check their values: URI template expansion and
 * matching (RFC 9298 §2-§3, -10 §2), the Structured Field Booleans of Capsule-Protocol and
 * Connect-UDP-Bind (RFC 9297 §3.4, -10 §6), Proxy-Public-Address (-10 §7) and Proxy-Status
 * (RFC 9209). Strings are (pointer, length) views; nothing is allocated.
 */
#ifndef MASQUE_HTTP_H
#define MASQUE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "masque/address.h"
#include "masque/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** :method of the request (RFC 9298 §3.4). */
#define MASQUE_HTTP_METHOD               "CONNECT"
/** :protocol of the request (RFC 9298 §3.4, extended CONNECT RFC 9220). */
#define MASQUE_HTTP_PROTOCOL             "connect-udp"
/** Field name and value announcing the Capsule Protocol (RFC 9297 §3.4). */
#define MASQUE_HTTP_CAPSULE_PROTOCOL     "capsule-protocol"
/** Field name of the Bind extension (-10 §6). */
#define MASQUE_HTTP_CONNECT_UDP_BIND     "connect-udp-bind"
/** Field name of the proxy's public addresses (-10 §7). */
#define MASQUE_HTTP_PROXY_PUBLIC_ADDRESS "proxy-public-address"
/** Field name of Proxy-Status (RFC 9209). */
#define MASQUE_HTTP_PROXY_STATUS         "proxy-status"
/** Field name of the client's credentials for the proxy (RFC 9110 §11.7.2). */
#define MASQUE_HTTP_PROXY_AUTHORIZATION  "proxy-authorization"
/** Field name of the proxy's challenge in a 407 response (RFC 9110 §11.7.1). */
#define MASQUE_HTTP_PROXY_AUTHENTICATE   "proxy-authenticate"
/** The Structured Field Boolean true, value of capsule-protocol and connect-udp-bind. */
#define MASQUE_HTTP_TRUE                 "?1"

/** Proxy-Status error type for a target the policy refuses (RFC 9209 §2.3.7). */
#define MASQUE_PROXY_STATUS_DESTINATION_IP_PROHIBITED "destination_ip_prohibited"
/** Proxy-Status error type for a target that cannot be reached (RFC 9209 §2.3.8). */
#define MASQUE_PROXY_STATUS_DESTINATION_IP_UNROUTABLE "destination_ip_unroutable"
/** Proxy-Status error type for a malformed request (RFC 9209 §2.3.16). */
#define MASQUE_PROXY_STATUS_HTTP_REQUEST_ERROR        "http_request_error"
/** Proxy-Status error type when the proxy is out of resources (RFC 9209 §2.3.4 analogue). */
#define MASQUE_PROXY_STATUS_CONNECTION_LIMIT_REACHED  "connection_limit_reached"
/** Proxy-Status error type: the proxy refuses the request (RFC 9209 §2.3.13), e.g. no valid
 *  credentials. */
#define MASQUE_PROXY_STATUS_HTTP_REQUEST_DENIED       "http_request_denied"
/** Proxy-Status error type: the proxy's configuration does not let it serve the request
 *  (RFC 9209 §2.3), e.g. no public address to advertise. */
#define MASQUE_PROXY_STATUS_PROXY_CONFIGURATION_ERROR "proxy_configuration_error"

/** @brief A string view; ptr NULL means "absent". */
typedef struct masque_str {
    const char *ptr; /**< First character, or NULL when the field is absent. */
    size_t len;      /**< Characters at ptr. */
} masque_str;

/** Longest target host masque_request_target holds (a DNS name is at most 253 characters). */
#define MASQUE_TARGET_HOST_MAX 255

/** @brief The target of a request, decoded from its :path. */
typedef struct masque_request_target {
    int wildcard;                          /**< Both variables were `*` (-10 §2). */
    char host[MASQUE_TARGET_HOST_MAX + 1]; /**< Decoded host, NUL-terminated; "*" if wildcard. */
    size_t host_len;                       /**< Characters in host. */
    uint16_t port;                         /**< Port; 0 when wildcard. */
    int bind;                              /**< The request carried connect-udp-bind: ?1. */
} masque_request_target;

/**
 * @brief Check a UDP proxying URI template (RFC 9298 §2).
 *
 * Accepted: an absolute "https://authority/path" template, ASCII only, with target_host and
 * target_port as simple expressions ({target_host}) in the path or as a form-style query
 * ({?target_host,target_port} or {&...}); at most RFC 6570 level 3, and no reserved (`+`) or
 * fragment (`#`) expansion of the target variables. Refused too: a template whose expansions a
 * proxy could not take apart again, where a simple expression is followed by another one, by
 * an unreserved character or `%` (which values contain), or, when it lists several variables,
 * by a comma; or a form-style query by anything but the end or a `{&...}` expression. Every
 * template it accepts matches each path it expands to, with the same target.
 *
 * @param tmpl The template.
 * @param[out] authority Receives a view of its authority (may be NULL).
 * @return MASQUE_OK or MASQUE_ERR_TEMPLATE.
 */
MASQUE_API int masque_uri_template_check(masque_str tmpl, masque_str *authority);

/**
 * @brief Expand the template into the request's :path (client, RFC 9298 §3, -10 §2).
 * @param dst Output, NUL-terminated on success.
 * @param cap Bytes at @p dst.
 * @param tmpl The template.
 * @param host Target host (name, IPv4, or IPv6 without brackets), or NULL for `*`.
 * @param port Target port 1-65535, or 0 for `*` (both or neither must be `*`).
 * @return Characters written (without the NUL); MASQUE_ERR_TEMPLATE; MASQUE_ERR_BUFFER;
 *         MASQUE_ERR_INVALID_ARGUMENT when exactly one of host and port is `*` or the host
 *         is empty, has characters a host cannot have, or has a colon without being an IPv6
 *         literal: what masque_bind_request_check() would refuse as malformed is not built.
 */
MASQUE_API masque_ssize masque_uri_template_expand(char *dst, size_t cap, masque_str tmpl,
                                                   const char *host, uint16_t port);

/**
 * @brief Match a request's :path against the template (proxy).
 * @param tmpl The proxy's template.
 * @param path The :path received.
 * @param[out] out Receives the target (bind is left 0).
 * @return MASQUE_OK; MASQUE_ERR_BAD_REQUEST (answer 400) when the path does not fit, a
 *         variable is empty, the port is not 1-65535, or exactly one variable is `*`
 *         (-13 §2); MASQUE_ERR_TEMPLATE for a bad template.
 */
MASQUE_API int masque_uri_template_match(masque_str tmpl, masque_str path,
                                         masque_request_target *out);

/**
 * @brief Whether a field value is the Structured Field Boolean true (RFC 9651 §3.3.6).
 *
 * Leading and trailing spaces are ignored, and so are parameters ("?1;foo=bar"), as long as
 * they parse: a parameter whose value is not a valid bare item ("?1;a=b@c", "?1;n=1.2345")
 * makes the whole field invalid (RFC 9651 §4.2). Any other value or type (a list "?1, ?1",
 * which is what a field given on two lines becomes, "?0", "1", a string) counts as absent
 * (RFC 9297 §3.4, -10 §6).
 *
 * @return 1 for true, 0 otherwise (also for an absent field).
 */
MASQUE_API int masque_sf_is_true(masque_str value);

/**
 * @brief Format Proxy-Public-Address: "\"192.0.2.45:54321\", \"[2001:db8::1234]:54321\"".
 * @return Characters written (NUL-terminated); MASQUE_ERR_BUFFER; MASQUE_ERR_ADDRESS (also for
 *         port 0).
 */
MASQUE_API masque_ssize masque_proxy_public_address_format(char *dst, size_t cap,
                                                           const masque_address *addrs,
                                                           size_t count);

/**
 * @brief Parse Proxy-Public-Address, an SF List of Strings of ip-port tuples (-10 §7).
 *        White space around members is tolerated; member parameters are ignored but must be
 *        valid (RFC 9651); a port of 0 is refused (the proxy selects an open port).
 * @param value The field value.
 * @param[out] out Receives the addresses.
 * @param cap Room at @p out.
 * @param[out] count Receives how many were parsed.
 * @return MASQUE_OK; MASQUE_ERR_FIELD when the value is not such a list (or is empty), any
 *         member counted; MASQUE_ERR_BUFFER when it is one with more than @p cap members: the
 *         first @p cap are then in @p out and *count is @p cap, for a caller that keeps what it
 *         has room for.
 */
MASQUE_API int masque_proxy_public_address_parse(masque_str value, masque_address *out, size_t cap,
                                                 size_t *count);

/**
 * @brief The MASQUE_FAMILY_* bits of a set of addresses (for the session's
 *        advertised_families, -10 §7).
 */
MASQUE_API unsigned masque_address_families(const masque_address *addrs, size_t count);

/**
 * @brief Add one field line to a field's combined value, as HTTP combines a field that arrives
 *        on several lines (RFC 9110 §5.3): "first, second".
 *
 * Hosts collect every field they pass in masque_request_fields / masque_response_fields this
 * way, never keeping only the last line: a Boolean field (Capsule-Protocol, Connect-UDP-Bind)
 * given twice then reads "?1, ?1", a List, and counts as absent (RFC 9651 §4.2), while the
 * members of a List field (Proxy-Public-Address) add up.
 *
 * @param dst The combined value so far; NUL-terminated on success.
 * @param cap Bytes at @p dst.
 * @param len Characters already in @p dst (0 for the first line).
 * @param line The new line's value.
 * @return The new length; MASQUE_ERR_BUFFER when it does not fit (@p dst is unchanged; refuse
 *         the message rather than cut the value); MASQUE_ERR_INVALID_ARGUMENT.
 */
MASQUE_API masque_ssize masque_field_append(char *dst, size_t cap, size_t len, masque_str line);

/** @brief The request fields a proxy checks. */
typedef struct masque_request_fields {
    masque_str method;           /**< :method. */
    masque_str protocol;         /**< :protocol. */
    masque_str scheme;           /**< :scheme. */
    masque_str authority;        /**< :authority. */
    masque_str path;             /**< :path. */
    masque_str capsule_protocol; /**< capsule-protocol value, or absent. */
    masque_str connect_udp_bind; /**< connect-udp-bind value, or absent. */
    int has_content_length;      /**< A Content-Length field was present. */
    int has_content_type;        /**< A Content-Type field was present. */
    int has_transfer_encoding;   /**< A Transfer-Encoding field was present. */
} masque_request_fields;

/**
 * @brief Check a CONNECT-UDP (Bind) request (proxy).
 * @param tmpl The proxy's URI template.
 * @param req The request's fields.
 * @param[out] target Receives the target and whether Bind was requested.
 * @return MASQUE_OK; MASQUE_ERR_BAD_REQUEST (answer 400) when the pseudo-headers are not an
 *         extended CONNECT for connect-udp (RFC 9298 §3.4), the message has content fields
 *         (RFC 9297 §3.2), the path does not match, or the target is `*` without Bind;
 *         MASQUE_ERR_TEMPLATE.
 */
MASQUE_API int masque_bind_request_check(masque_str tmpl, const masque_request_fields *req,
                                         masque_request_target *target);

/** masque_bind_response_check(): a 2xx without Bind, a plain RFC 9298 tunnel (BIND-36). */
#define MASQUE_BIND_FALLBACK 1

/** @brief The response fields a client checks. */
typedef struct masque_response_fields {
    int status; /**< :status. */
    /**
     * Set when the request named a concrete target (not `*`): a 2xx response without
     * Connect-UDP-Bind: ?1 is then a fallback to plain RFC 9298 to that target (-10 §2, §6),
     * not a failure. Leave it 0 for a `*` request, which has no fallback.
     */
    int allow_fallback;
    masque_str capsule_protocol;     /**< capsule-protocol value, or absent. */
    masque_str connect_udp_bind;     /**< connect-udp-bind value, or absent. */
    masque_str proxy_public_address; /**< proxy-public-address value, or absent. */
    int has_content_length;          /**< A Content-Length field was present. */
    int has_content_type;            /**< A Content-Type field was present. */
    int has_transfer_encoding;       /**< A Transfer-Encoding field was present. */
} masque_response_fields;

/**
 * @brief Check that a response enables Bind (client, RFC 9298 §3.5, -10 §6-§7).
 * @param rsp The response's fields.
 * @param[out] addrs Receives the public addresses: the first @p cap when the proxy lists more
 *        (-10 §7 lets it bind several; the tunnel works whichever of them a client tells its
 *        peers), each member still checked.
 * @param cap Room at @p addrs.
 * @param[out] count Receives their number.
 * @param[out] families Receives their MASQUE_FAMILY_* bits (may be NULL).
 * @return MASQUE_OK (Bind is on); MASQUE_BIND_FALLBACK when allow_fallback is set and the
 *         2xx response does not enable Bind: the tunnel carries plain RFC 9298 payloads on
 *         Context ID 0 to the request's target, *count is 0 (BIND-36);
 *         MASQUE_ERR_BAD_RESPONSE when the status is not 2xx or is 204, 205 or 206 (no Capsule
 *         Protocol there, RFC 9297 §3.2), content fields are present (RFC 9297 §3.2),
 *         connect-udp-bind is not true (without allow_fallback), or Proxy-Public-Address is
 *         missing, malformed, empty or names port 0; the client must then abort the request
 *         (UDP-4).
 */
MASQUE_API int masque_bind_response_check(const masque_response_fields *rsp, masque_address *addrs,
                                          size_t cap, size_t *count, unsigned *families);

/**
 * @brief Format a Proxy-Status value: `name; error=TYPE` and, when given, `; details="..."`.
 * @param dst Output (NUL-terminated on success).
 * @param cap Bytes at @p dst.
 * @param proxy_name The proxy's name (written as an sf-token when it is one, else quoted).
 * @param error_type One of the MASQUE_PROXY_STATUS_* types.
 * @param details Free text (printable ASCII), or an absent string.
 * @return Characters written; MASQUE_ERR_BUFFER; MASQUE_ERR_INVALID_ARGUMENT for characters
 *         an sf-string cannot hold.
 */
MASQUE_API masque_ssize masque_proxy_status_format(char *dst, size_t cap, masque_str proxy_name,
                                                   const char *error_type, masque_str details);

/** Identifier of the HTTP/3 setting SETTINGS_H3_DATAGRAM (RFC 9297 §2.1.1). */
#define MASQUE_H3_SETTING_H3_DATAGRAM 0x33u

/**
 * @brief Check the SETTINGS_H3_DATAGRAM value the peer sent (RFC 9297 §2.1.1), for hosts whose
 *        HTTP/3 layer hands settings over raw.
 *
 * HTTP/3 datagrams may be used only when both ends sent 1 (the host tracks its own value).
 *
 * @param value The value received; 0 when the setting was absent.
 * @param remembered A client resuming with 0-RTT: the value stored with the session ticket,
 *        which the new value must not be below; otherwise 0.
 * @return 1 when the peer enabled HTTP/3 datagrams, 0 when it did not; MASQUE_ERR_H3_SETTINGS
 *         for a value other than 0 and 1, or below @p remembered: close the connection with
 *         H3_SETTINGS_ERROR (masque_h3_error_for()).
 */
MASQUE_API int masque_h3_datagram_setting_check(uint64_t value, uint64_t remembered);

/** @brief One header field: name and value views. */
typedef struct masque_field {
    masque_str name;  /**< Lower-case field name, or a pseudo-header such as ":status". */
    masque_str value; /**< Its value. */
} masque_field;

/**
 * @brief Proxy: whether a Proxy-Authorization field value carries one of the proxy's bearer
 *        tokens (RFC 9110 §11.7.2 and §11.4, RFC 6750 §2.1: the scheme "Bearer", case-insensitive,
 *        then the token68). Every token is compared, each in time independent of where it
 *        differs, so that the answer's timing does not leak a token.
 * @param field The field value (absent: ptr NULL).
 * @param tokens The accepted tokens.
 * @param count How many.
 * @return The index of the matching token, or MASQUE_ERR_UNAUTHORIZED (absent, another scheme,
 *         malformed, or no token matches).
 */
MASQUE_API int masque_bearer_token_match(masque_str field, const masque_str *tokens, size_t count);

/**
 * @brief Whether @p token can be a bearer token at all: a token68 (RFC 6750 §2.1, RFC 9110
 *        §11.2: letters, digits, "-", ".", "_", "~", "+", "/", then any "=" padding), not
 *        empty. Any other one could never be presented in Proxy-Authorization, nor match: a
 *        proxy refuses such a line of its token file, a client such a token.
 * @param token The token (absent: ptr NULL).
 * @return 1 when it is one, else 0.
 */
MASQUE_API int masque_bearer_token_valid(masque_str token);

/** Most fields masque_bind_response_fields() writes. */
#define MASQUE_BIND_RESPONSE_FIELDS_MAX 4

/** Most tuples the HTTP/3 and HTTP/2 bindings put in a Proxy-Public-Address field, or keep
 *  from one they receive (-10 §7 allows several; one per IP version is the usual case). */
#define MASQUE_PUBLIC_ADDRESSES_MAX 4

/** @brief What a proxy answers to a CONNECT-UDP (Bind) request. */
typedef struct masque_bind_response {
    int status; /**< 2xx to accept (not 204-206); 4xx or 5xx to refuse. */
    int bind;   /**< 2xx: the request asked for Bind and the proxy grants it (-10 §6). */
    const masque_address *public_addresses; /**< With bind: Proxy-Public-Address (-10 §7). */
    size_t public_address_count;            /**< How many, at least 1 with bind. */
    masque_str proxy_status; /**< Refusals: a masque_proxy_status_format() value, or absent. */
    /** 407: the Proxy-Authenticate challenge, e.g. "Bearer" (RFC 9110 §11.7.1), or absent. */
    masque_str proxy_authenticate;
} masque_bind_response;

/**
 * @brief The header fields of a proxy's response to a CONNECT-UDP (Bind) request.
 *
 * A 2xx gets ":status", "capsule-protocol: ?1" (RFC 9297 §3.4) and, with bind,
 * "connect-udp-bind: ?1" and "proxy-public-address" (-10 §6-§7). Any other status gets
 * ":status" and, when given, "proxy-status" (RFC 9209), never Capsule-Protocol (RFC 9297 §3.4:
 * only on 2xx and 101 responses).
 *
 * @param[out] out Receives the fields, in that order: views into @p buf and static strings.
 * @param out_cap Room at @p out; MASQUE_BIND_RESPONSE_FIELDS_MAX always suffices.
 * @param buf Storage for the formatted values (status text, addresses).
 * @param buf_cap Bytes at @p buf.
 * @param rsp The response.
 * @return The number of fields; MASQUE_ERR_BUFFER when @p out or @p buf is too small;
 *         MASQUE_ERR_INVALID_ARGUMENT for a status outside 200-599, 204-206 (they cannot carry
 *         the Capsule Protocol, RFC 9297 §3.2), or bind without an address; MASQUE_ERR_ADDRESS
 *         for an address with port 0 or no family.
 */
MASQUE_API masque_ssize masque_bind_response_fields(masque_field *out, size_t out_cap, char *buf,
                                                    size_t buf_cap,
                                                    const masque_bind_response *rsp);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_HTTP_H */
