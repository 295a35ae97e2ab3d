/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The HTTP side of a Bind request that both bindings share (src/adapter/common/exchange.c):
 * the field lines a client sends and a proxy answers with, and how received fields are judged.
 */
#include "testutil.h"

#include "adapter/common/exchange.h"
#include "masque/session.h"

#define TEMPLATE "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/"

static int field_is(const masque_field *f, const char *name, const char *value)
{
    return f->name.len == strlen(name) && memcmp(f->name.ptr, name, f->name.len) == 0 &&
           f->value.len == strlen(value) && memcmp(f->value.ptr, value, f->value.len) == 0;
}

/* How many of the n fields are named `name`, and whether each of them has `value`. */
static size_t count_named(const masque_field *f, size_t n, const char *name, const char *value)
{
    size_t i;
    size_t found = 0;
    for (i = 0; i < n; i++) {
        if (f[i].name.len == strlen(name) && memcmp(f[i].name.ptr, name, f[i].name.len) == 0) {
            assert_true(field_is(&f[i], name, value));
            found++;
        }
    }
    return found;
}

static void put(masque_exchange *x, const char *name, const char *value)
{
    masque_exchange_field(x, (const uint8_t *)name, strlen(name), (const uint8_t *)value,
                          strlen(value));
}

/* The received fields of the client's Bind request, with `capsule_protocol` (NULL: none). */
static masque_exchange bind_request(const char *capsule_protocol)
{
    masque_exchange x;
    memset(&x, 0, sizeof(x));
    put(&x, ":method", "CONNECT");
    put(&x, ":protocol", "connect-udp");
    put(&x, ":scheme", "https");
    put(&x, ":authority", "localhost");
    put(&x, ":path", "/.well-known/masque/udp/%2A/%2A/");
    put(&x, "connect-udp-bind", "?1");
    if (capsule_protocol != NULL) {
        put(&x, "capsule-protocol", capsule_protocol);
    }
    return x;
}

/* The received fields of a proxy's 200 with `capsule_protocol` (NULL: none) and the
 * Proxy-Public-Address value `ppa` as it came (`ppa_len` bytes). */
static masque_exchange response_with(const char *capsule_protocol, const char *ppa, size_t ppa_len)
{
    masque_exchange x;
    memset(&x, 0, sizeof(x));
    put(&x, ":status", "200");
    put(&x, "connect-udp-bind", "?1");
    masque_exchange_field(&x, (const uint8_t *)"proxy-public-address", 20, (const uint8_t *)ppa,
                          ppa_len);
    if (capsule_protocol != NULL) {
        put(&x, "capsule-protocol", capsule_protocol);
    }
    return x;
}

static masque_exchange bind_response(const char *capsule_protocol)
{
    static const char ppa[] = "\"192.0.2.45:54321\"";
    return response_with(capsule_protocol, ppa, sizeof(ppa) - 1);
}

/* RFC 9297 §3.4: an endpoint that uses the Capsule Protocol says so with a true value, in the
 * client's request and in the proxy's 2xx, exactly once. */
static void test_DG_22_requests_and_2xx_responses_send_capsule_protocol_true(void **state)
{
    masque_field fields[MASQUE_BIND_RESPONSE_FIELDS_MAX > MASQUE_EXCHANGE_REQUEST_FIELDS
                            ? MASQUE_BIND_RESPONSE_FIELDS_MAX
                            : MASQUE_EXCHANGE_REQUEST_FIELDS];
    char path[256];
    char auth[64];
    char buf[512];
    char status_text[128];
    masque_address pub;
    masque_ssize n;
    (void)state;
    n = masque_exchange_request(fields, path, sizeof(path), "localhost", TEMPLATE, NULL, 0, NULL,
                                auth, sizeof(auth));
    assert_true(n > 0);
    assert_int_equal(count_named(fields, (size_t)n, "capsule-protocol", "?1"), 1);
    n = masque_exchange_request(fields, path, sizeof(path), "localhost", TEMPLATE, "192.0.2.1", 443,
                                "token", auth, sizeof(auth));
    assert_true(n > 0);
    assert_int_equal(count_named(fields, (size_t)n, "capsule-protocol", "?1"), 1);
    assert_int_equal(masque_address_parse(&pub, "192.0.2.45:54321", 16, 1), MASQUE_OK);
    n = masque_exchange_response(fields, buf, sizeof(buf), 200, &pub, 1, NULL, NULL, status_text,
                                 sizeof(status_text));
    assert_true(n > 0);
    assert_int_equal(count_named(fields, (size_t)n, "capsule-protocol", "?1"), 1);
}

/* RFC 9297 §3.4: a false Capsule-Protocol means the same as none; libmasque requires neither of
 * its peer (the request's semantics imply the Capsule Protocol, RFC 9298 §3.5), so the three
 * forms get one verdict, on both sides. */
static void test_DG_22_a_false_capsule_protocol_is_like_none(void **state)
{
    static const char *const forms[] = {NULL, "?0", "?1"};
    masque_exchange_refusal refusal;
    masque_address addrs[2];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        masque_exchange req = bind_request(forms[i]);
        masque_exchange rsp = bind_response(forms[i]);
        size_t count = 0;
        unsigned families = 0;
        memset(&refusal, 0, sizeof(refusal));
        assert_int_equal(masque_exchange_check_request(&req, TEMPLATE, &refusal), 0);
        assert_int_equal(refusal.status, 0);
        assert_int_equal(masque_exchange_check_response(&rsp, addrs, 2, &count, &families),
                         MASQUE_OK);
        assert_int_equal(count, 1);
        assert_int_equal(families, MASQUE_FAMILY_V4);
    }
}

/* -10 §7: a proxy may bind several public addresses; all of them go into
 * Proxy-Public-Address, in the order given, and a client takes every one. */
static void test_BIND_25_every_public_address_is_advertised_in_order(void **state)
{
    masque_field fields[MASQUE_BIND_RESPONSE_FIELDS_MAX];
    char buf[MASQUE_EXCHANGE_RESPONSE_BUF];
    char status_text[128];
    masque_address pub[MASQUE_PUBLIC_ADDRESSES_MAX];
    masque_address got[MASQUE_PUBLIC_ADDRESSES_MAX];
    static const char *const text[MASQUE_PUBLIC_ADDRESSES_MAX] = {
        "192.0.2.45:54321", "[2001:db8:ffff:ffff:ffff:ffff:ffff:fffe]:65535", "198.51.100.7:1",
        "[2001:db8::1]:443"};
    masque_ssize n;
    size_t count = 0;
    unsigned families = 0;
    size_t i;
    (void)state;
    for (i = 0; i < MASQUE_PUBLIC_ADDRESSES_MAX; i++) {
        assert_int_equal(masque_address_parse(&pub[i], text[i], strlen(text[i]), 1), MASQUE_OK);
    }
    n = masque_exchange_response(fields, buf, sizeof(buf), 200, pub, MASQUE_PUBLIC_ADDRESSES_MAX,
                                 NULL, NULL, status_text, sizeof(status_text));
    assert_true(n > 0);
    assert_int_equal(count_named(fields, (size_t)n, "proxy-public-address",
                                 "\"192.0.2.45:54321\", "
                                 "\"[2001:db8:ffff:ffff:ffff:ffff:ffff:fffe]:65535\", "
                                 "\"198.51.100.7:1\", \"[2001:db8::1]:443\""),
                     1);
    {
        /* what a client receives: the response's fields (:status first) as sent */
        masque_exchange rsp;
        memset(&rsp, 0, sizeof(rsp));
        for (i = 0; i < (size_t)n; i++) {
            masque_exchange_field(&rsp, (const uint8_t *)fields[i].name.ptr, fields[i].name.len,
                                  (const uint8_t *)fields[i].value.ptr, fields[i].value.len);
        }
        assert_int_equal(masque_exchange_check_response(&rsp, got, MASQUE_PUBLIC_ADDRESSES_MAX,
                                                        &count, &families),
                         MASQUE_OK);
    }
    assert_int_equal(count, MASQUE_PUBLIC_ADDRESSES_MAX);
    assert_int_equal(families, MASQUE_FAMILY_V4 | MASQUE_FAMILY_V6);
    for (i = 0; i < count; i++) {
        assert_true(masque_address_equal(&got[i], &pub[i]));
    }
}

/* -10 §7: what on_request leaves is checked before it is advertised (a tuple peers can send
 * to), and its IP versions are the ones the request's session holds to (BIND-27). */
static void test_BIND_27_the_advertised_families_are_those_of_the_public_addresses(void **state)
{
    masque_address a[MASQUE_PUBLIC_ADDRESSES_MAX + 1];
    masque_exchange_refusal no;
    unsigned families = 99;
    (void)state;
    memset(&no, 0, sizeof(no));
    memset(a, 0, sizeof(a));
    assert_int_equal(masque_address_parse(&a[0], "192.0.2.1:4000", 14, 1), MASQUE_OK);
    assert_int_equal(masque_address_parse(&a[1], "[2001:db8::1]:4000", 18, 1), MASQUE_OK);
    assert_int_equal(masque_exchange_public_families(a, 1, &families, &no), 0);
    assert_int_equal(families, MASQUE_FAMILY_V4);
    assert_int_equal(masque_exchange_public_families(&a[1], 1, &families, &no), 0);
    assert_int_equal(families, MASQUE_FAMILY_V6);
    assert_int_equal(masque_exchange_public_families(a, 2, &families, &no), 0);
    assert_int_equal(families, MASQUE_FAMILY_V4 | MASQUE_FAMILY_V6);
    /* none, too many, port 0, an unspecified address, no address at all */
    assert_int_equal(masque_exchange_public_families(a, 0, &families, &no), -1);
    a[2] = a[0];
    a[3] = a[1];
    a[4] = a[0];
    assert_int_equal(
        masque_exchange_public_families(a, MASQUE_PUBLIC_ADDRESSES_MAX, &families, &no), 0);
    assert_int_equal(
        masque_exchange_public_families(a, MASQUE_PUBLIC_ADDRESSES_MAX + 1, &families, &no), -1);
    a[1].port = 0;
    assert_int_equal(masque_exchange_public_families(a, 2, &families, &no), -1);
    assert_int_equal(masque_address_parse(&a[1], "0.0.0.0:4000", 12, 1), MASQUE_OK);
    assert_int_equal(masque_exchange_public_families(a, 2, &families, &no), -1);
    assert_int_equal(masque_address_parse(&a[1], "[::]:4000", 9, 1), MASQUE_OK);
    assert_int_equal(masque_exchange_public_families(a, 2, &families, &no), -1);
    memset(&a[1], 0, sizeof(a[1]));
    a[1].port = 4000;
    assert_int_equal(masque_exchange_public_families(a, 2, &families, &no), -1);
    assert_int_equal(no.status, 503);
    assert_string_equal(no.error_type, MASQUE_PROXY_STATUS_PROXY_CONFIGURATION_ERROR);
    assert_non_null(no.why); /* the binding's decision: it logs it */
}

/* Received values are kept whole or the message is refused (a value that does not fit is
 * never cut). A NUL inside a value would cut it where the exchange reads it as a string:
 * "/.well-known/.../%2A/%2A/<NUL>anything" must not pass as the request before the NUL. Such a
 * field is malformed (RFC 9114 §4.1.2, RFC 9113 §8.2.1); the refusal does not rely on the
 * stack having checked. */
static void test_a_value_holding_a_nul_refuses_the_message(void **state)
{
    static const char path[] = "/.well-known/masque/udp/%2A/%2A/\0/evil";
    static const char ppa[] = "\"192.0.2.45:54321\"\0, \"198.51.100.1:1\"";
    static const char whole[] = "\"192.0.2.45:54321\", \"198.51.100.1:1\"";
    masque_exchange_refusal refusal;
    masque_exchange x = bind_request("?1");
    masque_address addrs[2];
    size_t count = 0;
    unsigned families = 0;
    (void)state;
    /* A pseudo-header (kept as it came): the request is refused with 400. */
    masque_exchange_field(&x, (const uint8_t *)":path", 5, (const uint8_t *)path, sizeof(path) - 1);
    memset(&refusal, 0, sizeof(refusal));
    assert_int_equal(masque_exchange_check_request(&x, TEMPLATE, &refusal), -1);
    assert_int_equal(refusal.status, 400);
    /* A field that may come on several lines (combined as a list). */
    x = bind_request("?1");
    masque_exchange_field(&x, (const uint8_t *)"connect-udp-bind", 16, (const uint8_t *)"?1\0", 3);
    assert_int_equal(masque_exchange_check_request(&x, TEMPLATE, &refusal), -1);
    assert_int_equal(refusal.status, 400);
    /* The client's side: the response is refused, not read up to the NUL. */
    x = response_with("?1", ppa, sizeof(ppa) - 1);
    assert_int_equal(masque_exchange_check_response(&x, addrs, 2, &count, &families),
                     MASQUE_ERR_BAD_RESPONSE);
    /* Without the NUL the same value is kept whole (both addresses). */
    x = response_with("?1", whole, sizeof(whole) - 1);
    assert_int_equal(masque_exchange_check_response(&x, addrs, 2, &count, &families), MASQUE_OK);
    assert_int_equal(count, 2);
}

/* RFC 9110 §15: a status code is three digits; anything else around them (a sign, a space, a
 * fourth digit) is not a status, and the response is judged as one without a status. */
static void test_a_status_is_three_digits_and_nothing_else(void **state)
{
    static const char *const bad[] = {" 200", "+200", "200 ", "0200", "2000",
                                      "20",   "099",  "2a0",  ""};
    masque_address addrs[2];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        masque_exchange x = bind_response("?1");
        size_t count = 0;
        unsigned families = 0;
        put(&x, ":status", bad[i]);
        assert_int_equal(x.status, 0);
        assert_true(masque_exchange_check_response(&x, addrs, 2, &count, &families) < 0);
    }
    {
        masque_exchange x = bind_response("?1");
        put(&x, ":status", "999");
        assert_int_equal(x.status, 999);
        put(&x, ":status", "100");
        assert_int_equal(x.status, 100);
    }
}

/* The client logs why the proxy refused, Proxy-Status included: a hostile proxy's control bytes
 * (a terminal escape sequence) come out as \xHH, the rest as sent. */
static void test_a_refusal_line_holds_printable_ascii_only(void **state)
{
    masque_exchange x;
    char line[160];
    size_t i;
    (void)state;
    memset(&x, 0, sizeof(x));
    put(&x, ":status", "403");
    put(&x, "proxy-status", "masque-proxy; error=\x1b[2J\x7f\xc3\xa9");
    masque_exchange_refusal_line(&x, line, sizeof(line));
    assert_string_equal(line, "the proxy did not enable Bind (status 403; Proxy-Status: "
                              "masque-proxy; error=\\x1b[2J\\x7f\\xc3\\xa9)");
    for (i = 0; line[i] != '\0'; i++) {
        assert_true(line[i] >= 0x20 && line[i] < 0x7f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_DG_22_requests_and_2xx_responses_send_capsule_protocol_true),
        cmocka_unit_test(test_DG_22_a_false_capsule_protocol_is_like_none),
        cmocka_unit_test(test_BIND_25_every_public_address_is_advertised_in_order),
        cmocka_unit_test(test_BIND_27_the_advertised_families_are_those_of_the_public_addresses),
        cmocka_unit_test(test_a_value_holding_a_nul_refuses_the_message),
        cmocka_unit_test(test_a_status_is_three_digits_and_nothing_else),
        cmocka_unit_test(test_a_refusal_line_holds_printable_ascii_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
