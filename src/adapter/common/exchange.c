/* SPDX-License-Identifier: GPL-3.0-only */
/* The HTTP side of one Bind request, for both bindings: see exchange.h. */
#include "exchange.h"

#include <stdio.h>
#include <string.h>

#include "internal/text.h"

static int name_is(const uint8_t *name, size_t len, const char *what)
{
    size_t n = strlen(what);
    return len == n && memcmp(name, what, n) == 0;
}

/* Values are kept as C strings: one holding a NUL would be read shorter than it came, so it is
 * refused with the message as one that does not fit is (RFC 9114 §4.1.2 and RFC 9113 §8.2.1
 * make such a field malformed; the stacks check, and this does not rely on them). */
static int keepable(const uint8_t *v, size_t len)
{
    return len == 0 || memchr(v, '\0', len) == NULL;
}

static void copy_value(masque_exchange *x, char *dst, size_t cap, const uint8_t *v, size_t len)
{
    if (len >= cap || !keepable(v, len)) {
        x->field_refused = 1;
        dst[0] = '\0';
        return;
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* A field that may come on several lines: combined as HTTP does (RFC 9110 §5.3), so that a
 * repeated Boolean reads as a List and counts as absent (RFC 9651 §4.2). */
static void append_value(masque_exchange *x, char *dst, size_t cap, size_t *len, int *present,
                         const uint8_t *v, size_t vlen)
{
    masque_str line;
    masque_ssize n;
    if (!keepable(v, vlen)) {
        x->field_refused = 1;
        return;
    }
    line.ptr = (const char *)v;
    line.len = vlen;
    n = masque_field_append(dst, cap, *present ? *len : 0, line);
    if (n < 0) {
        x->field_refused = 1;
        return;
    }
    *len = (size_t)n;
    *present = 1;
}

void masque_exchange_field(masque_exchange *x, const uint8_t *name, size_t namelen,
                           const uint8_t *value, size_t valuelen)
{
    if (name_is(name, namelen, ":method")) {
        copy_value(x, x->method, sizeof(x->method), value, valuelen);
    } else if (name_is(name, namelen, ":protocol")) {
        copy_value(x, x->protocol, sizeof(x->protocol), value, valuelen);
    } else if (name_is(name, namelen, ":scheme")) {
        copy_value(x, x->scheme, sizeof(x->scheme), value, valuelen);
    } else if (name_is(name, namelen, ":authority")) {
        copy_value(x, x->authority, sizeof(x->authority), value, valuelen);
    } else if (name_is(name, namelen, ":path")) {
        copy_value(x, x->path, sizeof(x->path), value, valuelen);
    } else if (name_is(name, namelen, ":status")) {
        /* RFC 9110 §15: three digits, nothing around them (no sign, no space); else absent. */
        unsigned long status;
        x->status = valuelen == 3 && value[0] != '0' &&
                            masque_parse_decimal((const char *)value, 3, 999, &status) == 0
                        ? (int)status
                        : 0;
    } else if (name_is(name, namelen, "capsule-protocol")) {
        append_value(x, x->capsule_protocol, sizeof(x->capsule_protocol), &x->cp_len, &x->has_cp,
                     value, valuelen);
    } else if (name_is(name, namelen, "connect-udp-bind")) {
        append_value(x, x->connect_udp_bind, sizeof(x->connect_udp_bind), &x->cub_len, &x->has_cub,
                     value, valuelen);
    } else if (name_is(name, namelen, "proxy-public-address")) {
        append_value(x, x->ppa, sizeof(x->ppa), &x->ppa_len, &x->has_ppa, value, valuelen);
    } else if (name_is(name, namelen, MASQUE_HTTP_PROXY_STATUS)) {
        append_value(x, x->proxy_status, sizeof(x->proxy_status), &x->pstatus_len, &x->has_pstatus,
                     value, valuelen);
    } else if (name_is(name, namelen, MASQUE_HTTP_PROXY_AUTHORIZATION)) {
        append_value(x, x->proxy_authorization, sizeof(x->proxy_authorization), &x->pauth_len,
                     &x->has_pauth, value, valuelen);
    }
}

static masque_str str_of(const char *s, int present)
{
    masque_str r;
    r.ptr = present ? s : NULL;
    r.len = present && s != NULL ? strlen(s) : 0;
    return r;
}

int masque_exchange_template_usable(const char *uri_template)
{
    return uri_template != NULL &&
           masque_uri_template_check(str_of(uri_template, 1), NULL) == MASQUE_OK;
}

void masque_exchange_refusal_line(const masque_exchange *x, char *out, size_t cap)
{
    if (x->has_pstatus) {
        /* Field values may hold control bytes: HTTP/2 makes only NUL, CR and LF malformed
         * (RFC 9113 §8.2.1), HTTP/3 the same, and the stacks check no more. Room for each
         * byte as \xHH: it always fits. */
        char reason[4 * sizeof(x->proxy_status)];
        (void)masque_text_printable(reason, sizeof(reason), x->proxy_status,
                                    strlen(x->proxy_status));
        (void)snprintf(out, cap, "the proxy did not enable Bind (status %d; Proxy-Status: %s)",
                       x->status, reason);
    } else {
        (void)snprintf(out, cap, "the proxy did not enable Bind (status %d)", x->status);
    }
}

masque_str masque_exchange_credentials(const masque_exchange *x)
{
    return str_of(x->proxy_authorization, x->has_pauth);
}

int masque_exchange_check_request(const masque_exchange *x, const char *uri_template,
                                  masque_exchange_refusal *refusal)
{
    masque_request_fields req;
    masque_request_target target;
    int rc;
    memset(&req, 0, sizeof(req));
    req.method = str_of(x->method, x->method[0] != '\0');
    req.protocol = str_of(x->protocol, x->protocol[0] != '\0');
    req.scheme = str_of(x->scheme, x->scheme[0] != '\0');
    req.authority = str_of(x->authority, x->authority[0] != '\0');
    req.path = str_of(x->path, x->path[0] != '\0');
    req.capsule_protocol = str_of(x->capsule_protocol, x->has_cp);
    req.connect_udp_bind = str_of(x->connect_udp_bind, x->has_cub);
    rc = x->field_refused ? MASQUE_ERR_BAD_REQUEST
                          : masque_bind_request_check(str_of(uri_template, 1), &req, &target);
    refusal->error_type = MASQUE_PROXY_STATUS_HTTP_REQUEST_ERROR;
    refusal->details = NULL;
    if (rc != MASQUE_OK) {
        refusal->status = 400;
        refusal->why = masque_strerror(rc);
        return -1;
    }
    if (!target.wildcard) {
        /* A concrete target (plain RFC 9298, or Bind with a target, -10 §3) is not served:
         * 501, said plainly, rather than 200 with the target ignored. */
        refusal->status = 501;
        refusal->details = "concrete targets are not served";
        refusal->why = "a concrete target (only Bind to * is served)";
        return -1;
    }
    return 0;
}

int masque_exchange_admit(const masque_exchange *x, const char *uri_template, int authorized,
                          size_t open_requests, size_t max_requests,
                          masque_exchange_refusal *refusal)
{
    if (!authorized) {
        refusal->status = 407;
        refusal->error_type = MASQUE_PROXY_STATUS_HTTP_REQUEST_DENIED;
        refusal->details = NULL;
        refusal->why = NULL; /* the host's decision (on_authorize): the host's to log */
        return -1;
    }
    if (masque_exchange_check_request(x, uri_template, refusal) != 0) {
        return -1;
    }
    if (open_requests >= max_requests) {
        refusal->status = 429;
        refusal->error_type = MASQUE_PROXY_STATUS_CONNECTION_LIMIT_REACHED;
        refusal->details = "too many Bind requests on this connection";
        refusal->why = "too many Bind requests on one connection";
        return -1;
    }
    return 0;
}

void masque_exchange_host_refusal(int refused, masque_exchange_refusal *refusal)
{
    /* A status of the host's choosing (429: a quota), else 503. */
    refusal->status = refused >= 400 && refused <= 599 ? refused : 503;
    refusal->error_type = MASQUE_PROXY_STATUS_CONNECTION_LIMIT_REACHED;
    refusal->details = NULL;
    refusal->why = NULL; /* the host's decision: the host's to log, with its reason */
}

int masque_exchange_check_response(const masque_exchange *x, masque_address *addrs, size_t cap,
                                   size_t *count, unsigned *families)
{
    masque_response_fields rsp;
    if (x->field_refused) {
        return MASQUE_ERR_BAD_RESPONSE;
    }
    memset(&rsp, 0, sizeof(rsp));
    rsp.status = x->status;
    rsp.capsule_protocol = str_of(x->capsule_protocol, x->has_cp);
    rsp.connect_udp_bind = str_of(x->connect_udp_bind, x->has_cub);
    rsp.proxy_public_address = str_of(x->ppa, x->has_ppa);
    return masque_bind_response_check(&rsp, addrs, cap, count, families);
}

int masque_exchange_public_families(const masque_address *addrs, size_t count, unsigned *families,
                                    masque_exchange_refusal *refusal)
{
    size_t i;
    int valid = count != 0 && count <= MASQUE_PUBLIC_ADDRESSES_MAX;
    for (i = 0; valid && i < count; i++) {
        /* -10 §7: an address and an open port peers can send to */
        valid = addrs[i].port != 0 && masque_address_ip_len(addrs[i].version) != 0 &&
                !masque_address_is_unspecified(&addrs[i]);
    }
    *families = valid ? masque_address_families(addrs, count) : 0;
    if (!valid) {
        refusal->status = 503;
        refusal->error_type = MASQUE_PROXY_STATUS_PROXY_CONFIGURATION_ERROR;
        refusal->details = NULL;
        refusal->why = "on_request left no valid public address";
        return -1;
    }
    return 0;
}

masque_ssize masque_exchange_response(masque_field *fields, char *buf, size_t cap, int status,
                                      const masque_address *public_addresses, size_t count,
                                      const char *error_type, const char *details,
                                      char *status_text, size_t status_cap)
{
    masque_bind_response rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.status = status;
    if (count != 0) {
        rsp.bind = 1;
        rsp.public_addresses = public_addresses;
        rsp.public_address_count = count;
    }
    if (error_type != NULL) {
        masque_str name = {"masque-proxy", 12};
        masque_str d = {details, details != NULL ? strlen(details) : 0};
        if (masque_proxy_status_format(status_text, status_cap, name, error_type, d) > 0) {
            rsp.proxy_status.ptr = status_text;
            rsp.proxy_status.len = strlen(status_text);
        }
    }
    if (status == 407) { /* RFC 9110 §11.7.1: the challenge comes with the status */
        rsp.proxy_authenticate.ptr = "Bearer";
        rsp.proxy_authenticate.len = 6;
    }
    return masque_bind_response_fields(fields, MASQUE_BIND_RESPONSE_FIELDS_MAX, buf, cap, &rsp);
}

static masque_field field_of(const char *name, const char *value)
{
    masque_field f;
    f.name.ptr = name;
    f.name.len = strlen(name);
    f.value.ptr = value;
    f.value.len = strlen(value);
    return f;
}

masque_ssize masque_exchange_request(masque_field *fields, char *path, size_t cap,
                                     const char *authority, const char *uri_template,
                                     const char *target_host, uint16_t target_port,
                                     const char *token, char *auth, size_t auth_cap)
{
    size_t tlen = token != NULL ? strlen(token) : 0;
    if (masque_uri_template_expand(path, cap, str_of(uri_template, 1), target_host,
                                   target_host != NULL ? target_port : 0) < 0) {
        return -1;
    }
    fields[0] = field_of(":method", MASQUE_HTTP_METHOD);
    fields[1] = field_of(":protocol", MASQUE_HTTP_PROTOCOL);
    fields[2] = field_of(":scheme", "https");
    fields[3] = field_of(":authority", authority);
    fields[4] = field_of(":path", path);
    fields[5] = field_of(MASQUE_HTTP_CAPSULE_PROTOCOL, MASQUE_HTTP_TRUE);
    fields[6] = field_of(MASQUE_HTTP_CONNECT_UDP_BIND, MASQUE_HTTP_TRUE);
    if (token == NULL) {
        return MASQUE_EXCHANGE_REQUEST_FIELDS - 1;
    }
    if (tlen == 0 || tlen + 8 > auth_cap || !masque_bearer_token_valid(str_of(token, 1))) {
        return -1; /* a token that does not fit, or no proxy could take, is refused, never cut */
    }
    (void)snprintf(auth, auth_cap, "Bearer %s", token); /* RFC 6750 §2.1 */
    fields[7] = field_of(MASQUE_HTTP_PROXY_AUTHORIZATION, auth);
    return MASQUE_EXCHANGE_REQUEST_FIELDS;
}
