/* SPDX-License-Identifier: GPL-3.0-only */
/* masque_address and its text form (RFC 5952 for IPv6, -10 §7 ip-port tuples). */
#include "testutil.h"

#include "masque/address.h"
#include "masque/posix.h"

static void v6(masque_address *a, const char *hex, uint16_t port)
{
    uint8_t ip[16];
    assert_int_equal(hex_to_bytes(hex, ip, sizeof(ip)), 16);
    masque_address_set_v6(a, ip, port);
}

static void expect_text(const masque_address *a, int with_port, const char *want)
{
    char text[MASQUE_ADDRESS_TEXT_MAX];
    masque_ssize n = masque_address_format(text, sizeof(text), a, with_port);
    assert_int_equal(n, (masque_ssize)strlen(want));
    assert_string_equal(text, want);
}

static void test_formats_ipv4_and_ipv4_tuple(void **state)
{
    static const uint8_t ip[4] = {203, 0, 113, 11};
    static const uint8_t zero[4] = {0, 0, 0, 0};
    masque_address a;
    (void)state;
    masque_address_set_v4(&a, ip, 4321);
    expect_text(&a, 0, "203.0.113.11");
    expect_text(&a, 1, "203.0.113.11:4321");
    masque_address_set_v4(&a, zero, 0);
    expect_text(&a, 1, "0.0.0.0:0");
}

#if MASQUE_ENABLE_IPV6
static void test_formats_ipv6_in_rfc5952_form(void **state)
{
    static const struct {
        const char *hex;
        const char *text;
    } cases[] = {
        {"20010db8000000000000000000001234", "2001:db8::1234"},
        {"00000000000000000000000000000000", "::"},
        {"00000000000000000000000000000001", "::1"},
        {"20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"}, /* one 0 group stays */
        {"20010000000000010000000000000001", "2001:0:0:1::1"},        /* longest run */
        {"20010db8000000000001000000000001", "2001:db8::1:0:0:1"},    /* first on a tie */
        {"20010db8000000000000000000000000", "2001:db8::"},
        {"fe80000000000000abcdef0123456789", "fe80::abcd:ef01:2345:6789"},
        {"00000000000000000000ffffc0000201", "::ffff:192.0.2.1"}, /* §5: mapped */
        {"ffffffffffffffffffffffffffffffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        masque_address a;
        v6(&a, cases[i].hex, 1);
        expect_text(&a, 0, cases[i].text);
    }
}
#endif

#if MASQUE_ENABLE_IPV6
static void test_formats_ipv6_tuple_with_brackets(void **state)
{
    masque_address a;
    char small[8];
    (void)state;
    v6(&a, "20010db8000000000000000000001234", 54321);
    expect_text(&a, 1, "[2001:db8::1234]:54321");
    v6(&a, "00000000000000000000ffffffffffff", 65535);
    expect_text(&a, 1, "[::ffff:255.255.255.255]:65535");
    assert_int_equal(masque_address_format(small, sizeof(small), &a, 1), MASQUE_ERR_BUFFER);
    a.version = 5;
    assert_int_equal(masque_address_format(small, sizeof(small), &a, 1), MASQUE_ERR_ADDRESS);
}
#endif

/* A wildcard (RFC 4291 §2.5.2; 0.0.0.0) is what a proxy must never advertise. */
static void test_is_unspecified_knows_each_familys_wildcard(void **state)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    static const uint8_t one[4] = {0, 0, 0, 1};
    masque_address a;
    (void)state;
    masque_address_set_v4(&a, zero, 443);
    assert_true(masque_address_is_unspecified(&a));
    masque_address_set_v4(&a, one, 0);
    assert_false(masque_address_is_unspecified(&a));
    v6(&a, "00000000000000000000000000000000", 443);
    assert_true(masque_address_is_unspecified(&a));
    v6(&a, "00000000000000000000000000000001", 443); /* ::1 */
    assert_false(masque_address_is_unspecified(&a));
    v6(&a, "80000000000000000000000000000000", 443); /* only the first byte set */
    assert_false(masque_address_is_unspecified(&a));
    memset(&a, 0, sizeof(a)); /* no version: not an address at all */
    assert_false(masque_address_is_unspecified(&a));
}

static void test_equal_compares_the_whole_tuple(void **state)
{
    static const uint8_t ip[4] = {192, 0, 2, 42};
    masque_address a;
    masque_address b;
    (void)state;
    masque_address_set_v4(&a, ip, 1234);
    masque_address_set_v4(&b, ip, 1234);
    assert_true(masque_address_equal(&a, &b));
    b.port = 1235;
    assert_false(masque_address_equal(&a, &b));
    b.port = 1234;
    b.bytes[3] = 43;
    assert_false(masque_address_equal(&a, &b));
    v6(&b, "c000022a000000000000000000000000", 1234); /* same first bytes, other family */
    assert_false(masque_address_equal(&a, &b));
    a.version = 0;
    b = a;
    assert_false(masque_address_equal(&a, &b));
    assert_int_equal(masque_address_ip_len(4), 4);
    assert_int_equal(masque_address_ip_len(6), 16);
    assert_int_equal(masque_address_ip_len(0), 0);
}

static void test_posix_sockaddr_round_trip(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    masque_address a;
    masque_address back;
    (void)state;
    v6(&a, "20010db8000000000000000000001234", 54321);
    assert_int_equal(masque_address_to_sockaddr(&a, &ss, &len), MASQUE_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, len, &back), MASQUE_OK);
    assert_true(masque_address_equal(&a, &back));
    masque_address_set_v4(&a, (const uint8_t *)"\x7f\x00\x00\x01", 443);
    assert_int_equal(masque_address_to_sockaddr(&a, &ss, &len), MASQUE_OK);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 443);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, len, &back), MASQUE_OK);
    assert_true(masque_address_equal(&a, &back));
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, 4, &back),
                     MASQUE_ERR_ADDRESS);
    a.version = 0;
    assert_int_equal(masque_address_to_sockaddr(&a, &ss, &len), MASQUE_ERR_ADDRESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_ipv4_and_ipv4_tuple),
#if MASQUE_ENABLE_IPV6
        cmocka_unit_test(test_formats_ipv6_in_rfc5952_form),
#endif
#if MASQUE_ENABLE_IPV6
        cmocka_unit_test(test_formats_ipv6_tuple_with_brackets),
#endif
        cmocka_unit_test(test_equal_compares_the_whole_tuple),
        cmocka_unit_test(test_is_unspecified_knows_each_familys_wildcard),
        cmocka_unit_test(test_posix_sockaddr_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
