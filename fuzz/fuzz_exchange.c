/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the HTTP side of a Bind request as both bindings run it (src/adapter/common/
 * exchange.c): hostile field lines, in any order and repeated, become a request the proxy
 * judges (templates, credentials, limits) and a response the client judges; then the messages
 * the programs build from values of the script's choosing. Checked: a value is kept exactly as
 * it came or the message is refused, never cut (a NUL is part of what came); what is
 * accepted had every field whole; a status is three digits; a bearer token matches exactly or
 * not at all; what a client builds, a proxy of the same template reads as built, and what a
 * proxy answers, its client reads as answered; the refusal line a client logs is printable
 * ASCII; every string written is terminated inside its buffer and every count stays within
 * its array.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/common/exchange.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {":method",
                                    ":protocol",
                                    ":scheme",
                                    ":authority",
                                    ":path",
                                    ":status",
                                    "capsule-protocol",
                                    "connect-udp-bind",
                                    "proxy-public-address",
                                    "proxy-status",
                                    "proxy-authorization",
                                    "x-other"};
#define NAME_COUNT (sizeof(names) / sizeof(names[0]))

/* Three templates a proxy may serve: query form, path form, and the well-known path with a
 * port in the authority. */
#define TEMPLATE_WELL_KNOWN                                                                        \
    "https://proxy.example:4433/.well-known/masque/udp/{target_host}/{target_port}/"
static const char *const templates[] = {"https://proxy.example/masque{?target_host,target_port}",
                                        "https://proxy.example/bind/{target_host}/{target_port}/",
                                        TEMPLATE_WELL_KNOWN};

/* A string of the script's: up to 63 bytes, terminated at the first NUL it holds. */
static const char *take_string(char *dst, const uint8_t *data, size_t size, size_t *i)
{
    size_t n = *i < size ? data[(*i)++] % 64u : 0;
    if (n > size - *i) {
        n = size - *i;
    }
    memcpy(dst, data + *i, n);
    dst[n] = '\0';
    *i += n;
    return dst;
}

/* Whether @p v, without OWS around it, is "Bearer" (any case), spaces, then exactly @p token. */
static int is_bearer(masque_str v, const char *token)
{
    static const char scheme[] = "bearer";
    size_t n = strlen(token);
    size_t i;
    while (v.len > 0 && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) {
        v.ptr++;
        v.len--;
    }
    while (v.len > 0 && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t')) {
        v.len--;
    }
    if (v.len < 7 + n || v.ptr[6] != ' ' || memcmp(v.ptr + v.len - n, token, n) != 0) {
        return 0;
    }
    for (i = 0; i < 6; i++) {
        if ((v.ptr[i] | 0x20) != scheme[i]) {
            return 0;
        }
    }
    for (i = 6; i < v.len - n; i++) {
        if (v.ptr[i] != ' ') {
            return 0;
        }
    }
    return 1;
}

/* RFC 9110 §11.2 token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
static int is_token68(const char *t)
{
    size_t n = 0;
    while ((t[n] >= 'a' && t[n] <= 'z') || (t[n] >= 'A' && t[n] <= 'Z') ||
           (t[n] >= '0' && t[n] <= '9') || (t[n] != '\0' && strchr("-._~+/", t[n]) != NULL)) {
        n++;
    }
    if (n == 0) {
        return 0;
    }
    while (t[n] == '=') {
        n++;
    }
    return t[n] == '\0';
}

/* The field lines a peer sent, as the other side's binding receives them. */
static void receive(masque_exchange *x, const masque_field *fields, size_t n)
{
    size_t k;
    memset(x, 0, sizeof(*x));
    for (k = 0; k < n; k++) {
        masque_exchange_field(x, (const uint8_t *)fields[k].name.ptr, fields[k].name.len,
                              (const uint8_t *)fields[k].value.ptr, fields[k].value.len);
    }
}

/* What a client builds, a proxy of the same template reads as built: a Bind request (no
 * target) is accepted, one with a target is refused only as a target it does not serve (501),
 * never as malformed; a token68 token is recognised. */
static void check_round_trip(const masque_field *fields, size_t n, const char *tmpl, int concrete,
                             const char *token)
{
    static masque_exchange y;
    masque_exchange_refusal refusal;
    receive(&y, fields, n);
    if (masque_exchange_check_request(&y, tmpl, &refusal) != 0 &&
        (!concrete || refusal.status != 501)) {
        abort();
    }
    if (token != NULL && is_token68(token)) {
        masque_str t;
        t.ptr = token;
        t.len = strlen(token);
        if (masque_bearer_token_match(masque_exchange_credentials(&y), &t, 1) != 0) {
            abort();
        }
    }
}

/* What a proxy answers, its client reads as answered: a 2xx with public addresses is a Bind
 * response with exactly those addresses, in order; anything else is no Bind. */
static void check_response_round_trip(const masque_field *fields, size_t n, int status,
                                      const masque_address *sent, size_t count)
{
    static masque_exchange z;
    masque_address got[MASQUE_PUBLIC_ADDRESSES_MAX];
    size_t got_count = 0;
    unsigned families = 0;
    size_t k;
    int rc;
    receive(&z, fields, n);
    rc =
        masque_exchange_check_response(&z, got, MASQUE_PUBLIC_ADDRESSES_MAX, &got_count, &families);
    if (z.status != status) {
        abort();
    }
    if (status < 200 || status > 299 || count == 0) {
        if (rc == MASQUE_OK) {
            abort();
        }
        return;
    }
    if (rc != MASQUE_OK || got_count != count) {
        abort();
    }
    for (k = 0; k < count; k++) {
        if (!masque_address_equal(&got[k], &sent[k])) {
            abort();
        }
    }
}

static void check_terminated(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static masque_exchange x;
    /* The last value given for each pseudo-header, to compare with what was kept. */
    const uint8_t *last[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    size_t last_len[6] = {0, 0, 0, 0, 0, 0};
    char *kept[5] = {x.method, x.protocol, x.scheme, x.authority, x.path};
    masque_exchange_refusal refusal;
    masque_address addrs[MASQUE_PUBLIC_ADDRESSES_MAX];
    masque_field fields[MASQUE_BIND_RESPONSE_FIELDS_MAX + MASQUE_EXCHANGE_REQUEST_FIELDS];
    static char buf[MASQUE_EXCHANGE_RESPONSE_BUF];
    char status_text[128];
    char line[160];
    char host[64];
    char token[64];
    char auth[48];
    char path[96];
    size_t count = 0;
    unsigned families = 0;
    size_t i = 0;
    size_t k;
    uint8_t flags = size > 0 ? data[i++] : 0;
    const char *tmpl = templates[flags % 3u];
    int request_ok;
    int status;
    masque_ssize n;

    memset(&x, 0, sizeof(x));
    memset(status_text, 0, sizeof(status_text));
    /* Field lines: a name, a length, the value's bytes. Until the script says stop (0xff). */
    while (i + 1 < size && data[i] != 0xffu) {
        size_t name = data[i] % NAME_COUNT;
        size_t len = data[i + 1];
        i += 2;
        if (data[i - 2] & 0x80u) {
            len = len * 8u; /* values longer than any buffer */
        }
        if (len > size - i) {
            len = size - i;
        }
        masque_exchange_field(&x, (const uint8_t *)names[name], strlen(names[name]), data + i, len);
        if (name < 6) {
            last[name] = data + i;
            last_len[name] = len;
        }
        i += len;
    }
    i++;

    /* Kept exactly, or the message refused. */
    for (k = 0; k < 5 && !x.field_refused; k++) {
        if (last[k] != NULL &&
            (strlen(kept[k]) != last_len[k] || memcmp(kept[k], last[k], last_len[k]) != 0)) {
            abort();
        }
    }
    if (!x.field_refused && last[5] != NULL && x.status != 0 &&
        (last_len[5] != 3 || last[5][0] < '1' || last[5][0] > '9' || last[5][1] < '0' ||
         last[5][1] > '9' || last[5][2] < '0' || last[5][2] > '9')) {
        abort(); /* a status is three digits (RFC 9110 §15), nothing more */
    }

    /* The proxy's side. */
    request_ok = masque_exchange_check_request(&x, tmpl, &refusal) == 0;
    if (request_ok && x.field_refused) {
        abort();
    }
    if (!request_ok && (refusal.status < 400 || refusal.status > 599 || refusal.why == NULL)) {
        abort();
    }
    if (masque_exchange_admit(&x, tmpl, flags & 8u, flags >> 4, 4, &refusal) == 0 &&
        (!request_ok || !(flags & 8u) || (flags >> 4) >= 4)) {
        abort();
    }
    {
        /* The proxy's credentials check (RFC 6750 §2.1): a token matches exactly or not at all. */
        static const masque_str tokens[2] = {{"abc", 3}, {"s3cr3t-Token_~+/=", 17}};
        masque_str credentials = masque_exchange_credentials(&x);
        int who = masque_bearer_token_match(credentials, tokens, 2);
        if (who > 1 || (who >= 0 && !is_bearer(credentials, tokens[who].ptr)) ||
            (who < 0 && credentials.ptr != NULL &&
             (is_bearer(credentials, tokens[0].ptr) || is_bearer(credentials, tokens[1].ptr)))) {
            abort();
        }
    }

    /* The client's side. */
    if (masque_exchange_check_response(&x, addrs, MASQUE_PUBLIC_ADDRESSES_MAX, &count, &families) ==
        MASQUE_OK) {
        if (x.field_refused || count > MASQUE_PUBLIC_ADDRESSES_MAX) {
            abort();
        }
        (void)masque_exchange_public_families(addrs, count, &families, &refusal);
    }
    masque_exchange_refusal_line(&x, line, sizeof(line));
    check_terminated(line, sizeof(line));
    for (k = 0; line[k] != '\0'; k++) {
        if (line[k] < 0x20 || line[k] >= 0x7f) {
            abort(); /* it goes to a log: nothing a terminal would act on */
        }
    }

    /* The messages the programs build, from the script's values. */
    take_string(host, data, size, &i);
    take_string(token, data, size, &i);
    n = masque_exchange_request(fields, path, sizeof(path), "proxy.example", tmpl,
                                (flags & 4u) ? host : NULL, (uint16_t)(flags * 257u),
                                (flags & 2u) ? token : NULL, auth, sizeof(auth));
    if (n > MASQUE_EXCHANGE_REQUEST_FIELDS) {
        abort();
    }
    if (n > 0) {
        check_terminated(path, sizeof(path));
        if (n == MASQUE_EXCHANGE_REQUEST_FIELDS) {
            check_terminated(auth, sizeof(auth));
            if (strlen(auth) != 7 + strlen(token)) {
                abort(); /* a token is sent whole */
            }
        }
        check_round_trip(fields, (size_t)n, tmpl, (flags & 4u) != 0,
                         n == MASQUE_EXCHANGE_REQUEST_FIELDS ? token : NULL);
    }
    memset(addrs, 0, sizeof(addrs));
    for (k = 0; k < MASQUE_PUBLIC_ADDRESSES_MAX && i + 2 < size; k++, i += 3) {
        uint8_t ip[16] = {198, 51, 100, 0};
        ip[3] = data[i];
        if (data[i + 1] & 1u) {
            masque_address_set_v6(&addrs[k], ip, (uint16_t)(data[i + 2] * 251u));
        } else {
            masque_address_set_v4(&addrs[k], ip, (uint16_t)(data[i + 2] * 251u));
        }
    }
    status = (flags & 0x10u) ? 200 : 100 + (int)(flags * 2u);
    n = masque_exchange_response(fields, buf, sizeof(buf), status, addrs, k,
                                 (flags & 1u) ? MASQUE_PROXY_STATUS_HTTP_REQUEST_ERROR : NULL,
                                 (flags & 2u) ? host : NULL, status_text, sizeof(status_text));
    if (n > MASQUE_BIND_RESPONSE_FIELDS_MAX) {
        abort();
    }
    if (flags & 1u) {
        check_terminated(status_text, sizeof(status_text));
    }
    if (n > 0) {
        check_response_round_trip(fields, (size_t)n, status, addrs, k);
    }
    return 0;
}
