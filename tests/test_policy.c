/* SPDX-License-Identifier: GPL-3.0-only */
/* Target policy (-10 §9, RFC 9298 §7) and address text parsing. */
#include "testutil.h"

#include "masque/policy.h"

#include <stdlib.h>

static masque_address parse(const char *text, uint16_t port)
{
    masque_address a;
    assert_int_equal(masque_address_parse(&a, text, strlen(text), 0), MASQUE_OK);
    a.port = port;
    return a;
}

static void test_default_policy_denies_special_purpose_ranges(void **state)
{
    static const char *const special[] = {
        "0.0.0.0",          "10.1.2.3",     "100.64.0.1",      "127.0.0.1",   "169.254.1.1",
        "172.16.0.1",       "172.31.255.1", "192.0.0.8",       "192.0.2.1",   "192.88.99.1",
        "192.168.1.1",      "198.18.0.1",   "198.51.100.1",    "203.0.113.1", "224.0.0.1",
        "239.1.1.1",        "240.0.0.1",    "255.255.255.255", "::",          "::1",
        "::ffff:127.0.0.1", "64:ff9b::1",   "100::1",          "2001:db8::1", "2002::1",
        "fc00::1",          "fd12::1",      "fe80::1",         "ff02::1",     "2001::1",
        "3fff::1",          "::10.0.0.1",
    };
    static const char *const public_[] = {"8.8.8.8",     "1.1.1.1",         "172.32.0.1",
                                          "100.128.0.1", "2606:4700::1111", "::ffff:8.8.4.4"};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        masque_address a = parse(special[i], 53);
        if (masque_policy_check(NULL, NULL, &a) != MASQUE_ERR_POLICY) {
            fail_msg("%s should be denied", special[i]);
        }
    }
    for (i = 0; i < sizeof(public_) / sizeof(public_[0]); i++) {
        masque_address a = parse(public_[i], 53);
        if (masque_policy_check(NULL, NULL, &a) != MASQUE_OK) {
            fail_msg("%s should be allowed", public_[i]);
        }
        a.port = 0;
        assert_int_equal(masque_policy_check(NULL, NULL, &a), MASQUE_ERR_POLICY);
    }
}

/* The special-purpose registries (RFC 6890 and its updates), written here again, apart from
 * the library's tables, so that a test can judge the library's answers by them. */
static const char *const registry_v4[] = {
    "0.0.0.0/8",     "10.0.0.0/8",      "100.64.0.0/10",  "127.0.0.0/8",    "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24",    "192.0.2.0/24",   "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",    "240.0.0.0/4",
};
#if MASQUE_ENABLE_IPV6
static const char *const registry_v6[] = {
    "::/96",     "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",  "2001::/23", "2001:db8::/32",
    "2002::/16", "3fff::/20",    "fc00::/7",       "fe80::/10", "fec0::/10", "ff00::/8",
};
#endif

static size_t ip_bytes(uint8_t version)
{
    return version == MASQUE_IP_V4 ? 4u : 16u;
}

/* Range `text` ("address/bits") as its first address and length. */
static masque_address registry_range(const char *text, unsigned *bits)
{
    const char *slash = strchr(text, '/');
    masque_address a;
    assert_non_null(slash);
    assert_int_equal(masque_address_parse(&a, text, (size_t)(slash - text), 0), MASQUE_OK);
    *bits = (unsigned)atoi(slash + 1);
    return a;
}

static int in_registry_range(const masque_address *a, const char *text)
{
    unsigned bits;
    masque_address r = registry_range(text, &bits);
    unsigned i;
    if (r.version != a->version) {
        return 0;
    }
    for (i = 0; i < bits; i++) {
        unsigned shift = 7u - i % 8u;
        unsigned mine = a->bytes[i / 8u];
        unsigned theirs = r.bytes[i / 8u];
        if (((mine >> shift) & 1u) != ((theirs >> shift) & 1u)) {
            return 0;
        }
    }
    return 1;
}

/* What the registries say of address a (IPv4-mapped IPv6 judged as the IPv4 inside). */
static int special_by_registry(const masque_address *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    size_t i;
    if (a->version == MASQUE_IP_V4) {
        for (i = 0; i < sizeof(registry_v4) / sizeof(registry_v4[0]); i++) {
            if (in_registry_range(a, registry_v4[i])) {
                return 1;
            }
        }
        return 0;
    }
#if MASQUE_ENABLE_IPV6
    if (memcmp(a->bytes, mapped, sizeof(mapped)) == 0) {
        masque_address v4;
        masque_address_set_v4(&v4, a->bytes + 12, a->port);
        return special_by_registry(&v4);
    }
    for (i = 0; i < sizeof(registry_v6) / sizeof(registry_v6[0]); i++) {
        if (in_registry_range(a, registry_v6[i])) {
            return 1;
        }
    }
#else
    (void)mapped;
#endif
    return 0;
}

/* Adds one (+1) or takes one (-1) from address a as a number; 0 when that wraps around. */
static int address_step(masque_address *a, int delta)
{
    size_t n = ip_bytes(a->version);
    size_t i = n;
    uint8_t edge = delta > 0 ? 0xFF : 0x00;
    while (i > 0 && a->bytes[i - 1] == edge) {
        i--;
    }
    if (i == 0) {
        return 0;
    }
    a->bytes[i - 1] = (uint8_t)(a->bytes[i - 1] + (delta > 0 ? 1 : 0xFF));
    memset(a->bytes + i, delta > 0 ? 0x00 : 0xFF, n - i);
    return 1;
}

static void expect_registry_verdict(const masque_address *a)
{
    int want = special_by_registry(a);
    if (masque_address_is_special(a) != want) {
        char text[MASQUE_ADDRESS_TEXT_MAX];
        (void)masque_address_format(text, sizeof(text), a, 0);
        fail_msg("%s is %sspecial-purpose by the registries", text, want ? "" : "not ");
    }
}

/* Each range of the registries to its first and last address, the addresses just beside them,
 * and every first byte with assorted rest, IPv4 and IPv6 (and IPv4-mapped): the library's
 * answer is the registries' (RFC 9298 §7, -10 §9). */
static void check_registry(const char *const *ranges, size_t n, uint8_t version)
{
    size_t i;
    unsigned b;
    unsigned k;
    for (i = 0; i < n; i++) {
        unsigned bits;
        masque_address first = registry_range(ranges[i], &bits);
        masque_address last = first;
        masque_address beside;
        for (k = bits; k < (unsigned)ip_bytes(version) * 8u; k++) {
            last.bytes[k / 8u] |= (uint8_t)(0x80u >> (k % 8u));
        }
        assert_int_equal(masque_address_is_special(&first), 1);
        assert_int_equal(masque_address_is_special(&last), 1);
        beside = first;
        if (address_step(&beside, -1)) {
            expect_registry_verdict(&beside);
        }
        beside = last;
        if (address_step(&beside, 1)) {
            expect_registry_verdict(&beside);
        }
    }
    for (b = 0; b < 256; b++) {
        for (k = 0; k < 16; k++) {
            masque_address a;
            memset(&a, 0, sizeof(a));
            a.version = version;
            a.port = 53;
            for (i = 0; i < ip_bytes(version); i++) {
                a.bytes[i] = (uint8_t)((b * 131u + k * 29u + i * 97u + k * i * 7u) & 0xFFu);
            }
            a.bytes[0] = (uint8_t)b;
            if (k == 0) {
                memset(a.bytes + 1, 0, ip_bytes(version) - 1);
            } else if (k == 1) {
                memset(a.bytes + 1, 0xFF, ip_bytes(version) - 1);
            }
            expect_registry_verdict(&a);
        }
    }
}

static void test_BIND_29_special_purpose_ranges_are_the_registries_to_their_edges(void **state)
{
    (void)state;
    check_registry(registry_v4, sizeof(registry_v4) / sizeof(registry_v4[0]), MASQUE_IP_V4);
#if MASQUE_ENABLE_IPV6
    check_registry(registry_v6, sizeof(registry_v6) / sizeof(registry_v6[0]), MASQUE_IP_V6);
    {
        /* IPv4-mapped: every IPv4 first byte, judged as the IPv4 address inside. */
        unsigned b;
        for (b = 0; b < 256; b++) {
            masque_address a;
            memset(&a, 0, sizeof(a));
            a.version = MASQUE_IP_V6;
            a.bytes[10] = 0xFF;
            a.bytes[11] = 0xFF;
            a.bytes[12] = (uint8_t)b;
            a.bytes[13] = (uint8_t)(b * 7u);
            a.bytes[15] = 1;
            expect_registry_verdict(&a);
        }
    }
#endif
}

static masque_policy_verdict callback(void *cb_user, void *session_user, const masque_address *t)
{
    int *calls = (int *)cb_user;
    (*calls)++;
    assert_ptr_equal(session_user, cb_user); /* the host sees which session asks */
    if (t->port == 1) {
        return MASQUE_POLICY_ALLOW;
    }
    if (t->port == 2) {
        return MASQUE_POLICY_DENY;
    }
    return MASQUE_POLICY_NO_OPINION;
}

static void test_rules_first_then_callback_then_defaults(void **state)
{
    masque_policy_rule rules[2];
    masque_policy p;
    masque_address a;
    int calls = 0;
    (void)state;
    assert_int_equal(masque_policy_rule_parse(&rules[0], "127.0.0.0/8:4433", 16, 1), MASQUE_OK);
    assert_int_equal(masque_policy_rule_parse(&rules[1], "8.8.8.0/24:53", 13, 0), MASQUE_OK);
    memset(&p, 0, sizeof(p));
    p.rules = rules;
    p.rule_count = 2;
    p.callback = callback;
    p.callback_user = &calls;
    a = parse("127.0.0.1", 4433);
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_OK);
    a.port = 4434; /* outside the rule: the callback has no opinion, defaults deny */
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_ERR_POLICY);
    a.port = 1;
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_OK); /* callback allows */
    a = parse("8.8.8.8", 53);
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_ERR_POLICY); /* deny rule */
    a.port = 2;
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_ERR_POLICY); /* callback */
    a.port = 3;
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_OK);
    assert_int_equal(calls, 4);
    p.callback = NULL;
    p.allow_special_purpose = 1;
    a = parse("10.0.0.1", 9);
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_OK);
    a.version = 9;
    assert_int_equal(masque_policy_check(&p, &calls, &a), MASQUE_ERR_ADDRESS);
}

/* Whether a rule denies `text` at port 443, with nothing else in the way (public addresses,
 * no callback): MASQUE_ERR_POLICY when it does, MASQUE_OK when the target passes it by. */
static int verdict(const masque_policy *p, const char *text)
{
    masque_address a = parse(text, 443);
    return masque_policy_check(p, NULL, &a);
}

/* A host's rules match a prefix to the bit (-10 §9: the proxy decides which targets it serves):
 * prefixes that end inside a byte cover exactly their range, edges included. */
static void test_BIND_29_rules_match_prefixes_that_end_inside_a_byte(void **state)
{
    static const char *const rule_texts[] = {"8.8.0.0/14", "9.9.9.8/31", "2606:4700:8000::/33",
                                             "1.1.1.1/32"};
    static const struct {
        const char *target;
        int result;
    } cases[] = {
        {"8.8.0.0", MASQUE_ERR_POLICY},
        {"8.11.255.255", MASQUE_ERR_POLICY},
        {"8.12.0.0", MASQUE_OK},
        {"8.7.255.255", MASQUE_OK},
        {"9.9.9.8", MASQUE_ERR_POLICY},
        {"9.9.9.9", MASQUE_ERR_POLICY},
        {"9.9.9.10", MASQUE_OK},
        {"9.9.9.7", MASQUE_OK},
        {"2606:4700:8000::", MASQUE_ERR_POLICY},
        {"2606:4700:ffff:ffff:ffff:ffff:ffff:ffff", MASQUE_ERR_POLICY},
        {"2606:4700:7fff:ffff:ffff:ffff:ffff:ffff", MASQUE_OK},
        {"2606:4701::", MASQUE_OK},
        {"1.1.1.1", MASQUE_ERR_POLICY},
        {"1.1.1.0", MASQUE_OK},
    };
    masque_policy_rule rules[4];
    masque_policy p;
    size_t i;
    (void)state;
    for (i = 0; i < 4; i++) {
        assert_int_equal(
            masque_policy_rule_parse(&rules[i], rule_texts[i], strlen(rule_texts[i]), 0),
            MASQUE_OK);
    }
    memset(&p, 0, sizeof(p));
    p.rules = rules;
    p.rule_count = 4;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (verdict(&p, cases[i].target) != cases[i].result) {
            fail_msg("%s: %d, want %d", cases[i].target, verdict(&p, cases[i].target),
                     cases[i].result);
        }
    }
    /* /0 covers every address of its version, and only those. */
    assert_int_equal(masque_policy_rule_parse(&rules[0], "0.0.0.0/0", 9, 0), MASQUE_OK);
    p.rule_count = 1;
    assert_int_equal(verdict(&p, "8.12.0.0"), MASQUE_ERR_POLICY);
    assert_int_equal(verdict(&p, "2606:4701::"), MASQUE_OK);
}

static void test_rule_text_forms(void **state)
{
    static const char *const bad[] = {"1.2.3.4/33", "::1/129",  "1.2.3.4:5-3", "[::1",
                                      "abc",        "1.2.3.4:", "1.2.3.4/",    "1.2.3.4:70000",
                                      "[::1]x",     "01.2.3.4"};
    masque_policy_rule r;
    size_t i;
    (void)state;
    assert_int_equal(masque_policy_rule_parse(&r, "10.0.0.0/8:1000-2000", 20, 1), MASQUE_OK);
    assert_int_equal(r.prefix_len, 8);
    assert_int_equal(r.port_min, 1000);
    assert_int_equal(r.port_max, 2000);
    assert_int_equal(r.allow, 1);
    assert_int_equal(masque_policy_rule_parse(&r, "[::1]/128:4433", 14, 0), MASQUE_OK);
    assert_int_equal(r.prefix.version, 6);
    assert_int_equal(r.prefix_len, 128);
    assert_int_equal(r.port_min, 4433);
    assert_int_equal(r.port_max, 4433);
    assert_int_equal(masque_policy_rule_parse(&r, "fe80::/10", 9, 1), MASQUE_OK);
    assert_int_equal(r.prefix_len, 10);
    assert_int_equal(r.port_min, 1);
    assert_int_equal(r.port_max, 65535);
    assert_int_equal(masque_policy_rule_parse(&r, "203.0.113.7", 11, 1), MASQUE_OK);
    assert_int_equal(r.prefix_len, 32);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (masque_policy_rule_parse(&r, bad[i], strlen(bad[i]), 1) != MASQUE_ERR_ADDRESS) {
            fail_msg("rule '%s' should be refused", bad[i]);
        }
    }
}

static void test_address_parse_accepts_rfc4291_forms_and_refuses_others(void **state)
{
    static const char *const good6[] = {"::",
                                        "::1",
                                        "1::",
                                        "1:2:3:4:5:6:7:8",
                                        "1::8",
                                        "2001:DB8::1",
                                        "::ffff:192.0.2.1",
                                        "1:2:3:4:5:6:1.2.3.4"};
    static const char *const bad[] = {"",
                                      ":",
                                      ":::",
                                      "1:2:3:4:5:6:7:8:9",
                                      "1::2::3",
                                      "12345::",
                                      "1:",
                                      ":1",
                                      "1.2.3",
                                      "1.2.3.4.5",
                                      "256.1.1.1",
                                      "1.2.3.04",
                                      "::1.2.3.4.5",
                                      "1:2:3:4:5:6:7:1.2.3.4",
                                      "g::1",
                                      "1::2:3:4:5:6:7:8"};
    masque_address a;
    size_t i;
    char text[MASQUE_ADDRESS_TEXT_MAX];
    (void)state;
    for (i = 0; i < sizeof(good6) / sizeof(good6[0]); i++) {
        if (masque_address_parse(&a, good6[i], strlen(good6[i]), 0) != MASQUE_OK ||
            a.version != 6) {
            fail_msg("'%s' should parse", good6[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (masque_address_parse(&a, bad[i], strlen(bad[i]), 0) != MASQUE_ERR_ADDRESS) {
            fail_msg("'%s' should be refused", bad[i]);
        }
    }
    assert_int_equal(masque_address_parse(&a, "[2001:db8::1234]:54321", 22, 1), MASQUE_OK);
    assert_int_equal(a.port, 54321);
    assert_true(masque_address_format(text, sizeof(text), &a, 1) > 0);
    assert_string_equal(text, "[2001:db8::1234]:54321");
    assert_int_equal(masque_address_parse(&a, "2001:db8::1:443", 15, 1), MASQUE_ERR_ADDRESS);
    assert_int_equal(masque_address_parse(&a, "192.0.2.1:", 10, 1), MASQUE_ERR_ADDRESS);
    assert_int_equal(masque_address_parse(&a, "192.0.2.1:99999", 15, 1), MASQUE_ERR_ADDRESS);
}

static void test_round_trip_format_parse_random_addresses(void **state)
{
    test_rng rng = {TEST_SEED};
    int i;
    (void)state;
    for (i = 0; i < 5000; i++) {
        masque_address a;
        masque_address b;
        uint8_t ip[16];
        char text[MASQUE_ADDRESS_TEXT_MAX];
        masque_ssize n;
        size_t k;
        for (k = 0; k < 16; k++) {
            /* Many zero bytes, so that "::" runs of every length appear. */
            ip[k] = (rng_next(&rng) & 1u) ? 0 : (uint8_t)rng_next(&rng);
        }
        if (i % 3 == 0) {
            masque_address_set_v4(&a, ip, (uint16_t)rng_next(&rng));
        } else {
            masque_address_set_v6(&a, ip, (uint16_t)rng_next(&rng));
        }
        n = masque_address_format(text, sizeof(text), &a, 1);
        if (n <= 0 || masque_address_parse(&b, text, (size_t)n, 1) != MASQUE_OK ||
            !masque_address_equal(&a, &b)) {
            fail_msg("seed %llx iteration %d text %s", (unsigned long long)TEST_SEED, i, text);
        }
    }
}

#if MASQUE_ENABLE_IPV6
static masque_address text_addr(const char *text)
{
    masque_address a;
    assert_int_equal(masque_address_parse(&a, text, strlen(text), 1), MASQUE_OK);
    return a;
}

static void test_BIND_29_ipv4_inside_ipv6_is_judged_by_the_ipv4_rules(void **state)
{
    masque_policy_rule deny;
    masque_policy policy;
    masque_address a;
    (void)state;
    assert_int_equal(masque_policy_rule_parse(&deny, "11.0.0.0/8", 10, 0), MASQUE_OK);
    memset(&policy, 0, sizeof(policy));
    policy.rules = &deny;
    policy.rule_count = 1;
    a = text_addr("11.0.0.1:53");
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_ERR_POLICY);
    /* The same host written as IPv4-mapped, NAT64 and IPv4-compatible IPv6 addresses. */
    a = text_addr("[::ffff:11.0.0.1]:53");
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_ERR_POLICY);
    a = text_addr("[64:ff9b::b00:1]:53");
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_ERR_POLICY);
    a = text_addr("[::b00:1]:53");
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_ERR_POLICY);
    /* The IPv4 defaults too: mapped loopback is loopback; a public host is fine. */
    a = text_addr("[::ffff:127.0.0.1]:53");
    assert_int_equal(masque_policy_check(NULL, NULL, &a), MASQUE_ERR_POLICY);
    a = text_addr("[::ffff:8.8.8.8]:53");
    assert_int_equal(masque_policy_check(NULL, NULL, &a), MASQUE_OK);
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_OK);
    /* An IPv4 allow rule opens the mapped form as well, and nothing else. */
    deny.allow = 1;
    a = text_addr("[::ffff:11.1.2.3]:53");
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_OK);
    a = text_addr("[::1]:53");
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_ERR_POLICY);
    /* A rule written for the IPv6 form still matches it as written. */
    assert_int_equal(masque_policy_rule_parse(&deny, "::ffff:0:0/96", 13, 1), MASQUE_OK);
    a = text_addr("[::ffff:0:1]:53");
    assert_int_equal(masque_policy_check(&policy, NULL, &a), MASQUE_OK);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy_denies_special_purpose_ranges),
        cmocka_unit_test(test_BIND_29_special_purpose_ranges_are_the_registries_to_their_edges),
        cmocka_unit_test(test_rules_first_then_callback_then_defaults),
        cmocka_unit_test(test_BIND_29_rules_match_prefixes_that_end_inside_a_byte),
        cmocka_unit_test(test_rule_text_forms),
        cmocka_unit_test(test_address_parse_accepts_rfc4291_forms_and_refuses_others),
        cmocka_unit_test(test_round_trip_format_parse_random_addresses),
#if MASQUE_ENABLE_IPV6
        cmocka_unit_test(test_BIND_29_ipv4_inside_ipv6_is_judged_by_the_ipv4_rules),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
