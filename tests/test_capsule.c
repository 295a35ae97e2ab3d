/* SPDX-License-Identifier: GPL-3.0-only */
/* Capsule framing (RFC 9297 §3.2) and the Bind capsules (-10 §3.1-3.3), byte for byte. */
#include "testutil.h"

#include "masque/capsule.h"

static masque_compression_assign assign_v4(uint64_t id, const char *ip_hex, uint16_t port)
{
    masque_compression_assign a;
    uint8_t ip[4];
    memset(&a, 0, sizeof(a));
    assert_int_equal(hex_to_bytes(ip_hex, ip, sizeof(ip)), 4);
    a.context_id = id;
    a.ip_version = 4;
    masque_address_set_v4(&a.target, ip, port);
    return a;
}

static masque_compression_assign assign_v6(uint64_t id, const char *ip_hex, uint16_t port)
{
    masque_compression_assign a;
    uint8_t ip[16];
    memset(&a, 0, sizeof(a));
    assert_int_equal(hex_to_bytes(ip_hex, ip, sizeof(ip)), 16);
    a.context_id = id;
    a.ip_version = 6;
    masque_address_set_v6(&a.target, ip, port);
    return a;
}

/* Encodes `a` and checks the bytes; then decodes them back through the one-shot decoder. */
static void expect_assign_bytes(masque_profile profile, const masque_compression_assign *a,
                                const char *hex)
{
    uint8_t want[64];
    uint8_t got[64];
    size_t n = hex_to_bytes(hex, want, sizeof(want));
    masque_capsule cap;
    masque_compression_assign back;
    uint64_t type = 0;

    assert_int_equal(masque_compression_assign_encoded_len(profile, a), n);
    assert_int_equal(masque_compression_assign_encode(got, sizeof(got), profile, a),
                     (masque_ssize)n);
    assert_memory_equal(got, want, n);
    assert_int_equal(masque_capsule_decode(&cap, want, n), (masque_ssize)n);
    assert_int_equal(masque_capsule_type_of(profile, MASQUE_CAPSULE_COMPRESSION_ASSIGN, &type), 0);
    assert_true(cap.type == type);
    assert_int_equal(masque_capsule_kind_of(profile, cap.type), MASQUE_CAPSULE_COMPRESSION_ASSIGN);
    assert_int_equal(masque_compression_assign_decode(&back, cap.value, cap.length),
                     (masque_ssize)cap.length);
    assert_true(back.context_id == a->context_id);
    assert_int_equal(back.ip_version, a->ip_version);
    if (a->ip_version != 0) {
        assert_true(masque_address_equal(&back.target, &a->target));
    }
}

static void test_assign_matches_draft_10_appendix(void **state)
{
    masque_compression_assign a;
    (void)state;
    memset(&a, 0, sizeof(a));
    a.context_id = 2;
    a.ip_version = 0;
    /* "Register Context ID 2 to be used for uncompressed UDP payloads" */
    expect_assign_bytes(MASQUE_PROFILE_DRAFT10, &a, "11 02 02 00");
    /* "Register 203.0.113.11:4321 to compress it in the future" */
    a = assign_v4(4, "cb00710b", 4321);
    expect_assign_bytes(MASQUE_PROFILE_DRAFT10, &a, "11 08 04 04 cb00710b 10e1");
}

static void test_assign_ipv6_and_largest_context_id(void **state)
{
    masque_compression_assign a =
        assign_v6(MASQUE_VARINT_MAX - 1, "20010db8000000000000000000001234", 54321);
    (void)state;
    expect_assign_bytes(MASQUE_PROFILE_DRAFT10, &a,
                        "11 1b fffffffffffffffe 06 20010db8000000000000000000001234 d431");
}

static void test_ack_and_close_match_draft_10(void **state)
{
    uint8_t buf[16];
    uint64_t id = 0;
    masque_capsule cap;
    (void)state;
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10,
                                                  MASQUE_CAPSULE_COMPRESSION_ACK, 2),
                     3);
    assert_memory_equal(buf, "\x12\x01\x02", 3);
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10,
                                                  MASQUE_CAPSULE_COMPRESSION_CLOSE, 2),
                     3);
    assert_memory_equal(buf, "\x13\x01\x02", 3);
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10,
                                                  MASQUE_CAPSULE_COMPRESSION_CLOSE, 16384),
                     6);
    assert_memory_equal(buf, "\x13\x04\x80\x00\x40\x00", 6);
    assert_int_equal(masque_compression_id_encoded_len(MASQUE_PROFILE_DRAFT10,
                                                       MASQUE_CAPSULE_COMPRESSION_CLOSE, 16384),
                     6);
    assert_int_equal(masque_capsule_decode(&cap, buf, 6), 6);
    assert_int_equal(masque_compression_id_decode(&id, cap.value, cap.length), 4);
    assert_true(id == 16384u);
}

/* The draft-10 codepoints (-10 §3.1-§3.3, §11.2: ASSIGN 0x11, ACK 0x12, CLOSE 0x13, DATAGRAM 0x00
 * from RFC 9297 §3.5) both ways, and every Type next to them unknown (RFC 9297 §3.2: skipped). */
static void test_draft_10_codepoints_and_their_neighbours(void **state)
{
    static const uint64_t unknown[] = {0x01,       0x0F, 0x10, 0x14, 0x111, 0x3FFFFFFFFFFFFFFFu,
                                       0x1C0FE324u};
    static const masque_capsule_kind kinds[] = {
        MASQUE_CAPSULE_DATAGRAM, MASQUE_CAPSULE_COMPRESSION_ASSIGN, MASQUE_CAPSULE_COMPRESSION_ACK,
        MASQUE_CAPSULE_COMPRESSION_CLOSE};
    static const uint64_t types[] = {0x00, 0x11, 0x12, 0x13};
    uint64_t type = 0;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        assert_int_equal(masque_capsule_type_of(MASQUE_PROFILE_DRAFT10, kinds[i], &type),
                         MASQUE_OK);
        assert_true(type == types[i]);
        assert_int_equal(masque_capsule_kind_of(MASQUE_PROFILE_DRAFT10, types[i]), kinds[i]);
    }
    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(masque_capsule_kind_of(MASQUE_PROFILE_DRAFT10, unknown[i]),
                         MASQUE_CAPSULE_UNKNOWN);
    }
    /* An unknown kind has no Type, whatever the profile. */
    assert_int_equal(masque_capsule_type_of(MASQUE_PROFILE_DRAFT10, (masque_capsule_kind)5, &type),
                     MASQUE_ERR_INVALID_ARGUMENT);
}

static void test_BIND_5_assign_ip_version_other_than_0_4_6_is_malformed(void **state)
{
    static const uint8_t versions[] = {1, 2, 3, 5, 7, 41, 255};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(versions); i++) {
        /* Context ID 2, bad version, then enough bytes for an IPv6 tuple. */
        uint8_t value[21] = {0x02};
        masque_compression_assign a;
        value[1] = versions[i];
        assert_int_equal(masque_compression_assign_decode(&a, value, 2), MASQUE_ERR_IP_VERSION);
        assert_int_equal(masque_compression_assign_decode(&a, value, 8), MASQUE_ERR_IP_VERSION);
        assert_int_equal(masque_compression_assign_decode(&a, value, 20), MASQUE_ERR_IP_VERSION);
    }
}

static void test_BIND_5_encoder_refuses_bad_ip_version(void **state)
{
    masque_compression_assign a = assign_v4(2, "c000022a", 1);
    uint8_t buf[64];
    (void)state;
    a.ip_version = 5;
    assert_int_equal(masque_compression_assign_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10, &a),
                     MASQUE_ERR_IP_VERSION);
    a.ip_version = 6; /* disagrees with the target's family */
    assert_int_equal(masque_compression_assign_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10, &a),
                     MASQUE_ERR_IP_VERSION);
    assert_int_equal(masque_compression_assign_encoded_len(MASQUE_PROFILE_DRAFT10, &a), 0);
}

static void test_BIND_8_assign_with_context_id_0_is_malformed(void **state)
{
    uint8_t value[16];
    size_t n = hex_to_bytes("00 04 cb00710b 10e1", value, sizeof(value));
    masque_compression_assign a;
    masque_compression_assign zero;
    (void)state;
    a.context_id = 77;
    assert_int_equal(masque_compression_assign_decode(&a, value, n), MASQUE_ERR_CONTEXT_ID_ZERO);
    assert_true(a.context_id == 77u);                  /* untouched */
    n = hex_to_bytes("4000 00", value, sizeof(value)); /* a non-minimal zero too */
    assert_int_equal(masque_compression_assign_decode(&a, value, n), MASQUE_ERR_CONTEXT_ID_ZERO);
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(
        masque_compression_assign_encode(value, sizeof(value), MASQUE_PROFILE_DRAFT10, &zero),
        MASQUE_ERR_CONTEXT_ID_ZERO);
}

static void test_BIND_18_close_with_context_id_0_is_malformed(void **state)
{
    uint64_t id = 9;
    uint8_t buf[8];
    (void)state;
    assert_int_equal(masque_compression_id_decode(&id, (const uint8_t *)"\x00", 1),
                     MASQUE_ERR_CONTEXT_ID_ZERO);
    assert_int_equal(masque_compression_id_decode(&id, (const uint8_t *)"\x40\x00", 2),
                     MASQUE_ERR_CONTEXT_ID_ZERO);
    assert_true(id == 9u);
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10,
                                                  MASQUE_CAPSULE_COMPRESSION_CLOSE, 0),
                     MASQUE_ERR_CONTEXT_ID_ZERO);
}

static void test_BIND_16_ack_for_context_id_0_is_malformed(void **state)
{
    uint64_t id = 9;
    (void)state;
    /* 0 can never have been registered (-10 §3.1), so an ACK for it is malformed (§3.2). */
    assert_int_equal(masque_compression_id_decode(&id, (const uint8_t *)"\x00", 1),
                     MASQUE_ERR_CONTEXT_ID_ZERO);
}

static void test_DG_12_value_with_missing_or_trailing_bytes_is_malformed(void **state)
{
    static const char *const valid[] = {"02 00", "04 04 cb00710b 10e1",
                                        "8000 0001 06 20010db8000000000000000000001234 d431"};
    size_t i;
    (void)state;
    for (i = 0; i < 3; i++) {
        uint8_t value[40];
        size_t n = hex_to_bytes(valid[i], value, sizeof(value));
        size_t cut;
        masque_compression_assign a;
        assert_int_equal(masque_compression_assign_decode(&a, value, n), (masque_ssize)n);
        for (cut = 0; cut < n; cut++) {
            memset(&a, 0x5A, sizeof(a));
            assert_int_equal(masque_compression_assign_decode(&a, value, cut),
                             MASQUE_ERR_TRUNCATED);
            assert_int_equal(a.ip_version, 0x5A);
        }
        value[n] = 0;
        assert_int_equal(masque_compression_assign_decode(&a, value, n + 1),
                         MASQUE_ERR_TRAILING_BYTES);
    }
}

static void test_DG_12_ack_close_with_missing_or_trailing_bytes_is_malformed(void **state)
{
    uint64_t id = 0;
    (void)state;
    assert_int_equal(masque_compression_id_decode(&id, NULL, 0), MASQUE_ERR_TRUNCATED);
    assert_int_equal(masque_compression_id_decode(&id, (const uint8_t *)"\x40", 1),
                     MASQUE_ERR_TRUNCATED);
    assert_int_equal(masque_compression_id_decode(&id, (const uint8_t *)"\x02\x00", 2),
                     MASQUE_ERR_TRAILING_BYTES);
    assert_int_equal(masque_compression_id_decode(&id, (const uint8_t *)"\x80\x00\x00\x02\x01", 5),
                     MASQUE_ERR_TRAILING_BYTES);
}

static void test_DG_13_address_length_must_agree_with_capsule_length(void **state)
{
    uint8_t value[32];
    masque_compression_assign a;
    size_t n;
    (void)state;
    /* IP Version 4 but an IPv6-sized value: the redundant lengths disagree. */
    n = hex_to_bytes("04 04 20010db8000000000000000000001234 d431", value, sizeof(value));
    assert_int_equal(masque_compression_assign_decode(&a, value, n), MASQUE_ERR_TRAILING_BYTES);
    /* IP Version 6 but an IPv4-sized value. */
    n = hex_to_bytes("04 06 cb00710b 10e1", value, sizeof(value));
    assert_int_equal(masque_compression_assign_decode(&a, value, n), MASQUE_ERR_TRUNCATED);
    /* IP Version 0 followed by an address. */
    n = hex_to_bytes("02 00 cb00710b 10e1", value, sizeof(value));
    assert_int_equal(masque_compression_assign_decode(&a, value, n), MASQUE_ERR_TRAILING_BYTES);
}

static void test_capsule_framing_byte_for_byte(void **state)
{
    uint8_t buf[32];
    masque_capsule cap;
    (void)state;
    assert_int_equal(masque_capsule_header_len(0, 5), 2);
    assert_int_equal(masque_capsule_header_len(0x1C0FE323u, 16384), 8);
    assert_int_equal(masque_capsule_header_len(MASQUE_VARINT_MAX + 1, 0), 0);
    assert_int_equal(masque_capsule_header_encode(buf, sizeof(buf), 0x1C0FE323u, 16384), 8);
    assert_memory_equal(buf, "\x9c\x0f\xe3\x23\x80\x00\x40\x00", 8);
    assert_int_equal(masque_capsule_header_encode(buf, 7, 0x1C0FE323u, 16384), MASQUE_ERR_BUFFER);
    assert_int_equal(masque_capsule_header_encode(buf, sizeof(buf), 0, MASQUE_VARINT_MAX + 1),
                     MASQUE_ERR_VARINT_RANGE);
    assert_int_equal(masque_capsule_encode(buf, sizeof(buf), 64, (const uint8_t *)"abc", 3), 6);
    assert_memory_equal(buf,
                        "\x40\x40\x03"
                        "abc",
                        6);
    assert_int_equal(masque_capsule_encode(buf, 5, 64, (const uint8_t *)"abc", 3),
                     MASQUE_ERR_BUFFER);
    assert_int_equal(masque_capsule_decode(&cap, buf, 6), 6);
    assert_true(cap.type == 64u);
    assert_int_equal(cap.length, 3);
    assert_ptr_equal(cap.value, buf + 3); /* a view, not a copy */
    assert_int_equal(masque_capsule_encode(buf, sizeof(buf), 7, NULL, 0), 2);
    assert_memory_equal(buf, "\x07\x00", 2);
}

static void test_capsule_decode_needs_more_at_every_truncation(void **state)
{
    uint8_t buf[40];
    size_t n = hex_to_bytes("11 1b fffffffffffffffe 06 20010db8000000000000000000001234 d431 ff",
                            buf, sizeof(buf));
    masque_capsule cap;
    size_t cut;
    (void)state;
    for (cut = 0; cut < n - 1; cut++) {
        cap.type = 99;
        assert_int_equal(masque_capsule_decode(&cap, buf, cut), MASQUE_ERR_NEED_MORE);
        assert_true(cap.type == 99u);
    }
    /* The byte after the capsule is not part of it. */
    assert_int_equal(masque_capsule_decode(&cap, buf, n), (masque_ssize)(n - 1));
}

static void test_capsule_header_prepend_writes_before_the_value(void **state)
{
    uint8_t buf[24];
    uint8_t *value = buf + 16;
    masque_capsule cap;
    masque_ssize n;
    (void)state;
    memcpy(value, "\x02\x00", 2);
    n = masque_capsule_header_prepend(value, 16, MASQUE_CAPSULE_TYPE_COMPRESSION_ASSIGN, 2);
    assert_int_equal(n, 2);
    assert_memory_equal(value - 2, "\x11\x02\x02\x00", 4);
    assert_int_equal(masque_capsule_decode(&cap, value - n, 4), 4);
    assert_ptr_equal(cap.value, value);
    assert_int_equal(masque_capsule_header_prepend(value, 1, 0, 2), MASQUE_ERR_BUFFER);
    assert_int_equal(masque_capsule_header_prepend(value, 16, 0, UINT64_MAX),
                     MASQUE_ERR_VARINT_RANGE);
}

#if MASQUE_ENABLE_DRAFT04
static void test_draft04_profile_codepoints(void **state)
{
    masque_compression_assign a;
    uint8_t buf[32];
    uint64_t type = 0;
    (void)state;
    memset(&a, 0, sizeof(a));
    a.context_id = 2;
    expect_assign_bytes(MASQUE_PROFILE_DRAFT04, &a, "9c0fe323 02 02 00");
    a = assign_v4(4, "cb00710b", 4321);
    expect_assign_bytes(MASQUE_PROFILE_DRAFT04, &a, "9c0fe323 08 04 04 cb00710b 10e1");
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT04,
                                                  MASQUE_CAPSULE_COMPRESSION_CLOSE, 4),
                     6);
    assert_memory_equal(buf, "\x9c\x0f\xe3\x24\x01\x04", 6);
    /* draft-04 has no ACK: the ASSIGN is echoed instead. */
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT04,
                                                  MASQUE_CAPSULE_COMPRESSION_ACK, 4),
                     MASQUE_ERR_UNSUPPORTED);
    assert_int_equal(
        masque_capsule_type_of(MASQUE_PROFILE_DRAFT04, MASQUE_CAPSULE_COMPRESSION_ACK, &type),
        MASQUE_ERR_UNSUPPORTED);
    assert_int_equal(masque_capsule_kind_of(MASQUE_PROFILE_DRAFT04, 0x12), MASQUE_CAPSULE_UNKNOWN);
    assert_int_equal(masque_capsule_kind_of(MASQUE_PROFILE_DRAFT04, 0x11), MASQUE_CAPSULE_UNKNOWN);
    assert_int_equal(masque_capsule_kind_of(MASQUE_PROFILE_DRAFT10, 0x1C0FE323u),
                     MASQUE_CAPSULE_UNKNOWN);
    assert_int_equal(masque_capsule_kind_of(MASQUE_PROFILE_DRAFT04, 0), MASQUE_CAPSULE_DATAGRAM);
    assert_int_equal(masque_capsule_kind_of(MASQUE_PROFILE_DRAFT10, 0x13),
                     MASQUE_CAPSULE_COMPRESSION_CLOSE);
    assert_int_equal(masque_capsule_type_of(MASQUE_PROFILE_DRAFT10, MASQUE_CAPSULE_UNKNOWN, &type),
                     MASQUE_ERR_INVALID_ARGUMENT);
}
#endif

static void test_encoders_report_small_buffers_and_write_nothing(void **state)
{
    masque_compression_assign a = assign_v6(3, "20010db8000000000000000000001234", 1);
    uint8_t buf[40];
    size_t need = masque_compression_assign_encoded_len(MASQUE_PROFILE_DRAFT10, &a);
    size_t cap;
    (void)state;
    assert_int_equal(need, 2 + 20);
    for (cap = 0; cap < need; cap++) {
        memset(buf, 0x5A, sizeof(buf));
        assert_int_equal(masque_compression_assign_encode(buf, cap, MASQUE_PROFILE_DRAFT10, &a),
                         MASQUE_ERR_BUFFER);
        assert_int_equal(buf[0], 0x5A);
    }
    for (cap = 0; cap < 3; cap++) {
        assert_int_equal(masque_compression_id_encode(buf, cap, MASQUE_PROFILE_DRAFT10,
                                                      MASQUE_CAPSULE_COMPRESSION_ACK, 3),
                         MASQUE_ERR_BUFFER);
    }
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10,
                                                  MASQUE_CAPSULE_COMPRESSION_ACK,
                                                  MASQUE_VARINT_MAX + 1),
                     MASQUE_ERR_VARINT_RANGE);
#if MASQUE_ENABLE_ARG_CHECKS /* config.h */
    assert_int_equal(masque_compression_id_encode(buf, sizeof(buf), MASQUE_PROFILE_DRAFT10,
                                                  MASQUE_CAPSULE_DATAGRAM, 3),
                     MASQUE_ERR_INVALID_ARGUMENT);
#endif
}

static void test_round_trip_random_assigns(void **state)
{
    test_rng rng = {TEST_SEED};
    int i;
    (void)state;
    for (i = 0; i < 5000; i++) {
        masque_compression_assign a;
        masque_compression_assign back;
        masque_capsule cap;
        uint8_t ip[16];
        uint8_t buf[64];
        masque_profile profile = ((rng_next(&rng) & 1u) && MASQUE_ENABLE_DRAFT04)
                                     ? MASQUE_PROFILE_DRAFT04
                                     : MASQUE_PROFILE_DRAFT10;
        masque_ssize n;
        size_t k;
        for (k = 0; k < 16; k++) {
            ip[k] = (uint8_t)rng_next(&rng);
        }
        memset(&a, 0, sizeof(a));
        a.context_id = rng_varint(&rng) | 1u; /* never 0 */
        switch (rng_next(&rng) % 3u) {
        case 0:
            break;
        case 1:
            a.ip_version = 4;
            masque_address_set_v4(&a.target, ip, (uint16_t)rng_next(&rng));
            break;
        default:
            a.ip_version = 6;
            masque_address_set_v6(&a.target, ip, (uint16_t)rng_next(&rng));
            break;
        }
        n = masque_compression_assign_encode(buf, sizeof(buf), profile, &a);
        if (n <= 0 || masque_capsule_decode(&cap, buf, (size_t)n) != n ||
            masque_capsule_kind_of(profile, cap.type) != MASQUE_CAPSULE_COMPRESSION_ASSIGN ||
            masque_compression_assign_decode(&back, cap.value, cap.length) !=
                (masque_ssize)cap.length ||
            back.context_id != a.context_id || back.ip_version != a.ip_version ||
            (a.ip_version != 0 && !masque_address_equal(&a.target, &back.target))) {
            fail_msg("seed %llx iteration %d", (unsigned long long)TEST_SEED, i);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_matches_draft_10_appendix),
        cmocka_unit_test(test_assign_ipv6_and_largest_context_id),
        cmocka_unit_test(test_ack_and_close_match_draft_10),
        cmocka_unit_test(test_draft_10_codepoints_and_their_neighbours),
        cmocka_unit_test(test_BIND_5_assign_ip_version_other_than_0_4_6_is_malformed),
        cmocka_unit_test(test_BIND_5_encoder_refuses_bad_ip_version),
        cmocka_unit_test(test_BIND_8_assign_with_context_id_0_is_malformed),
        cmocka_unit_test(test_BIND_18_close_with_context_id_0_is_malformed),
        cmocka_unit_test(test_BIND_16_ack_for_context_id_0_is_malformed),
        cmocka_unit_test(test_DG_12_value_with_missing_or_trailing_bytes_is_malformed),
        cmocka_unit_test(test_DG_12_ack_close_with_missing_or_trailing_bytes_is_malformed),
        cmocka_unit_test(test_DG_13_address_length_must_agree_with_capsule_length),
        cmocka_unit_test(test_capsule_framing_byte_for_byte),
        cmocka_unit_test(test_capsule_decode_needs_more_at_every_truncation),
        cmocka_unit_test(test_capsule_header_prepend_writes_before_the_value),
#if MASQUE_ENABLE_DRAFT04
        cmocka_unit_test(test_draft04_profile_codepoints),
#endif
        cmocka_unit_test(test_encoders_report_small_buffers_and_write_nothing),
        cmocka_unit_test(test_round_trip_random_assigns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
