/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * HTTP/3 datagrams (RFC 9297 §2.1), UDP proxying payloads (RFC 9298 §5) and Bind payloads
 * (-10 §4, §5), with the zero-copy headroom encoders.
 */
#include "testutil.h"

#include "masque/capsule.h"
#include "masque/datagram.h"

#define PAYLOAD_HEX "456e63617073756c6174656420554450205061796c6f6164" /* appendix text */

static void test_h3_datagram_of_draft_10_appendix(void **state)
{
    uint8_t d[64];
    size_t n = hex_to_bytes("0b 02 04 c000022a 04d2" PAYLOAD_HEX, d, sizeof(d));
    masque_h3_datagram h3;
    masque_bind_datagram bd;
    (void)state;
    assert_int_equal(masque_h3_datagram_decode(&h3, d, n), (masque_ssize)n);
    assert_true(h3.quarter_stream_id == 11u); /* stream 44 */
    assert_ptr_equal(h3.payload, d + 1);
    assert_int_equal(masque_bind_uncompressed_decode(&bd, h3.payload, h3.payload_len),
                     (masque_ssize)h3.payload_len);
    assert_true(bd.context_id == 2u);
    assert_int_equal(bd.target.version, 4);
    assert_memory_equal(bd.target.bytes, "\xc0\x00\x02\x2a", 4);
    assert_int_equal(bd.target.port, 1234);
    assert_ptr_equal(bd.payload, d + 9);
    assert_int_equal(bd.payload_len, 24);
    assert_memory_equal(bd.payload, "Encapsulated UDP Payload", 24);
}

static void test_DG_3_quarter_stream_id_above_2_60_minus_1_is_an_error(void **state)
{
    uint8_t d[16];
    masque_h3_datagram h3;
    size_t n;
    (void)state;
    n = hex_to_bytes("cfffffffffffffff 00", d, sizeof(d)); /* 2^60-1: the largest legal */
    assert_int_equal(masque_h3_datagram_decode(&h3, d, n), (masque_ssize)n);
    assert_true(h3.quarter_stream_id == MASQUE_QUARTER_STREAM_ID_MAX);
    n = hex_to_bytes("d000000000000000 00", d, sizeof(d)); /* 2^60 */
    h3.quarter_stream_id = 5;
    assert_int_equal(masque_h3_datagram_decode(&h3, d, n), MASQUE_ERR_QUARTER_STREAM_ID);
    assert_true(h3.quarter_stream_id == 5u);
    n = hex_to_bytes("ffffffffffffffff", d, sizeof(d));
    assert_int_equal(masque_h3_datagram_decode(&h3, d, n), MASQUE_ERR_QUARTER_STREAM_ID);
    assert_int_equal(masque_h3_datagram_prepend(d + 8, 8, MASQUE_QUARTER_STREAM_ID_MAX + 1),
                     MASQUE_ERR_QUARTER_STREAM_ID);
}

static void test_DG_4_datagram_too_short_for_quarter_stream_id_is_an_error(void **state)
{
    uint8_t d[8];
    size_t n = hex_to_bytes("c000000000000001", d, sizeof(d));
    masque_h3_datagram h3;
    size_t cut;
    (void)state;
    for (cut = 0; cut < n; cut++) {
        assert_int_equal(masque_h3_datagram_decode(&h3, d, cut), MASQUE_ERR_DATAGRAM_TRUNCATED);
    }
    assert_int_equal(masque_h3_datagram_decode(&h3, NULL, 0), MASQUE_ERR_DATAGRAM_TRUNCATED);
    /* A Quarter Stream ID with nothing after it is a legal, empty HTTP datagram. */
    assert_int_equal(masque_h3_datagram_decode(&h3, d, n), 8);
    assert_int_equal(h3.payload_len, 0);
}

static void test_quarter_stream_id_only_for_client_bidirectional_streams(void **state)
{
    uint64_t q = 0;
    (void)state;
    assert_int_equal(masque_quarter_stream_id_of(44, &q), MASQUE_OK);
    assert_true(q == 11u);
    assert_int_equal(masque_quarter_stream_id_of(0, &q), MASQUE_OK);
    assert_true(q == 0u);
    assert_int_equal(masque_quarter_stream_id_of(45, &q), MASQUE_ERR_STREAM_ID); /* server bidi */
    assert_int_equal(masque_quarter_stream_id_of(46, &q), MASQUE_ERR_STREAM_ID); /* client uni */
    assert_int_equal(masque_quarter_stream_id_of(47, &q), MASQUE_ERR_STREAM_ID); /* server uni */
    assert_int_equal(masque_quarter_stream_id_of(MASQUE_VARINT_MAX - 3, &q), MASQUE_OK);
    assert_true(q == MASQUE_QUARTER_STREAM_ID_MAX);
    assert_int_equal(masque_quarter_stream_id_of(MASQUE_VARINT_MAX + 1, &q), MASQUE_ERR_STREAM_ID);
}

static void test_uncompressed_ipv6_and_compressed_payloads(void **state)
{
    uint8_t d[64];
    size_t n = hex_to_bytes("4002 06 20010db8000000000000000000001234 d431 abcd", d, sizeof(d));
    masque_bind_datagram bd;
    (void)state;
    assert_int_equal(masque_bind_uncompressed_decode(&bd, d, n), (masque_ssize)n);
    assert_true(bd.context_id == 2u); /* non-minimal Context ID accepted */
    assert_int_equal(bd.target.version, 6);
    assert_int_equal(bd.target.port, 54321);
    assert_int_equal(bd.payload_len, 2);
    assert_ptr_equal(bd.payload, d + n - 2);
    n = hex_to_bytes("04" PAYLOAD_HEX, d, sizeof(d));
    assert_int_equal(masque_bind_compressed_decode(&bd, d, n), (masque_ssize)n);
    assert_true(bd.context_id == 4u);
    assert_int_equal(bd.target.version, 0);
    assert_ptr_equal(bd.payload, d + 1);
    assert_int_equal(bd.payload_len, 24);
    n = hex_to_bytes("04", d, sizeof(d)); /* an empty UDP payload is legal */
    assert_int_equal(masque_bind_compressed_decode(&bd, d, n), 1);
    assert_int_equal(bd.payload_len, 0);
}

static void test_BIND_21_uncompressed_ip_version_other_than_4_6_is_malformed(void **state)
{
    static const uint8_t versions[] = {0, 1, 5, 7, 255};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(versions); i++) {
        uint8_t d[32] = {0x02};
        masque_bind_datagram bd;
        d[1] = versions[i];
        bd.context_id = 99;
        assert_int_equal(masque_bind_uncompressed_decode(&bd, d, sizeof(d)), MASQUE_ERR_IP_VERSION);
        assert_true(bd.context_id == 99u);
    }
}

static void test_every_truncation_of_an_uncompressed_header_is_malformed(void **state)
{
    uint8_t d[40];
    size_t n = hex_to_bytes("80000002 06 20010db8000000000000000000001234 d431", d, sizeof(d));
    size_t cut;
    masque_bind_datagram bd;
    (void)state;
    for (cut = 0; cut < n; cut++) {
        assert_int_equal(masque_bind_uncompressed_decode(&bd, d, cut), MASQUE_ERR_TRUNCATED);
    }
    assert_int_equal(masque_bind_uncompressed_decode(&bd, d, n), (masque_ssize)n);
    assert_int_equal(masque_bind_compressed_decode(&bd, d, 3), MASQUE_ERR_TRUNCATED);
}

static void test_UDP_11_payload_above_65527_bytes(void **state)
{
    static uint8_t d[1 + 7 + 65528];
    static uint8_t out[MASQUE_BIND_HEADROOM + 65528];
    masque_bind_datagram bd;
    masque_address a;
    masque_bind_frame f;
    (void)state;
    memset(d, 0, sizeof(d));
    d[0] = 0x02;
    d[1] = 4;
    assert_int_equal(masque_bind_uncompressed_decode(&bd, d, sizeof(d) - 1),
                     (masque_ssize)sizeof(d) - 1);
    assert_int_equal(bd.payload_len, 65527);
    assert_int_equal(masque_bind_uncompressed_decode(&bd, d, sizeof(d)),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
    assert_int_equal(masque_bind_compressed_decode(&bd, d, 1 + 65528),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
    assert_int_equal(masque_bind_compressed_decode(&bd, d, 1 + 65527), 1 + 65527);
    /* Never sent: the encoders refuse it. */
    masque_address_set_v4(&a, (const uint8_t *)"\xc0\x00\x02\x2a", 1234);
    memset(&f, 0, sizeof(f));
    f.context_id = 2;
    f.target = &a;
    assert_int_equal(
        masque_bind_frame_prepend(out + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM, 65528, &f),
        MASQUE_ERR_PAYLOAD_TOO_LARGE);
    assert_int_equal(masque_bind_frame_header_len(&f, 65528), 0);
    assert_int_equal(masque_bind_frame_encode(out, sizeof(out), &f, d, 65528),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
}

/* Prepends f before the appendix payload and compares the whole datagram with want_hex. */
static void expect_frame(const masque_bind_frame *f, const char *want_hex)
{
    uint8_t want[96];
    uint8_t buf[MASQUE_BIND_HEADROOM + 24];
    uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
    size_t n = hex_to_bytes(want_hex, want, sizeof(want));
    masque_ssize h;
    memcpy(payload, "Encapsulated UDP Payload", 24);
    h = masque_bind_frame_prepend(payload, MASQUE_BIND_HEADROOM, 24, f);
    assert_int_equal((size_t)h + 24, n);
    assert_int_equal(masque_bind_frame_header_len(f, 24), (size_t)h);
    assert_memory_equal(payload - h, want, n);
    assert_memory_equal(payload, "Encapsulated UDP Payload", 24); /* never moved */
}

static void test_headroom_encoders_reproduce_the_appendix(void **state)
{
    masque_address a;
    masque_bind_frame f;
    (void)state;
    masque_address_set_v4(&a, (const uint8_t *)"\xc0\x00\x02\x2a", 1234);
    memset(&f, 0, sizeof(f));
    f.path = MASQUE_PATH_H3_DATAGRAM;
    f.quarter_stream_id = 11;
    f.context_id = 2;
    f.target = &a;
    expect_frame(&f, "0b 02 04 c000022a 04d2" PAYLOAD_HEX);
    f.path = MASQUE_PATH_CAPSULE; /* the same datagram as a DATAGRAM capsule, RFC 9297 §3.5 */
    expect_frame(&f, "00 20 02 04 c000022a 04d2" PAYLOAD_HEX);
    f.path = MASQUE_PATH_PAYLOAD_ONLY;
    expect_frame(&f, "02 04 c000022a 04d2" PAYLOAD_HEX);
    f.path = MASQUE_PATH_H3_DATAGRAM;
    f.context_id = 4;
    f.target = NULL; /* compressed, -10 §5 */
    expect_frame(&f, "0b 04" PAYLOAD_HEX);
    f.path = MASQUE_PATH_CAPSULE;
    expect_frame(&f, "00 19 04" PAYLOAD_HEX);
}

static void test_headroom_constants_suffice_for_the_largest_header(void **state)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 65527];
    masque_address a;
    masque_bind_frame f;
    masque_ssize h;
    (void)state;
    masque_address_set_v6(&a, (const uint8_t *)"0123456789abcdef", 65535);
    memset(&f, 0, sizeof(f));
    f.context_id = MASQUE_VARINT_MAX;
    f.target = &a;
    f.quarter_stream_id = MASQUE_QUARTER_STREAM_ID_MAX;
    f.path = MASQUE_PATH_H3_DATAGRAM;
    h = masque_bind_frame_prepend(buf + MASQUE_BIND_H3_HEADROOM, MASQUE_BIND_H3_HEADROOM, 65527,
                                  &f);
    assert_int_equal(h, MASQUE_BIND_H3_HEADROOM);
    f.path = MASQUE_PATH_CAPSULE;
    h = masque_bind_frame_prepend(buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM, 65527, &f);
    assert_true(h > 0 && (size_t)h <= MASQUE_BIND_CAPSULE_HEADROOM);
    assert_true(MASQUE_BIND_H3_HEADROOM <= MASQUE_BIND_HEADROOM);
}

static void test_headroom_too_small_reports_and_writes_nothing(void **state)
{
    uint8_t buf[64];
    uint8_t *payload = buf + 32;
    masque_address a;
    masque_bind_frame f;
    size_t need;
    size_t room;
    (void)state;
    masque_address_set_v4(&a, (const uint8_t *)"\xc0\x00\x02\x2a", 1234);
    memset(&f, 0, sizeof(f));
    f.quarter_stream_id = 11;
    f.context_id = 2;
    f.target = &a;
    need = masque_bind_frame_header_len(&f, 5);
    assert_int_equal(need, 9);
    for (room = 0; room < need; room++) {
        memset(buf, 0x5A, sizeof(buf));
        assert_int_equal(masque_bind_frame_prepend(payload, room, 5, &f), MASQUE_ERR_BUFFER);
        assert_int_equal(buf[0] | buf[31], 0x5A);
    }
    a.version = 5;
    assert_int_equal(masque_bind_frame_prepend(payload, 32, 5, &f), MASQUE_ERR_ADDRESS);
    f.target = NULL;
    f.context_id = MASQUE_VARINT_MAX + 1;
    assert_int_equal(masque_bind_frame_prepend(payload, 32, 5, &f), MASQUE_ERR_VARINT_RANGE);
    f.context_id = 2;
    f.path = (masque_datagram_path)7;
    assert_int_equal(masque_bind_frame_prepend(payload, 32, 5, &f), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_h3_datagram_prepend(payload, 0, 11), MASQUE_ERR_BUFFER);
    assert_int_equal(masque_h3_datagram_prepend(payload, 1, 11), 1);
    assert_int_equal(payload[-1], 0x0b);
}

static void test_encode_copies_and_may_overlap(void **state)
{
    uint8_t buf[64];
    uint8_t want[64];
    masque_bind_frame f;
    size_t n = hex_to_bytes("0b 04 68656c6c6f", want, sizeof(want));
    (void)state;
    memset(&f, 0, sizeof(f));
    f.quarter_stream_id = 11;
    f.context_id = 4;
    memcpy(buf, "hello", 5); /* payload at the start of the output buffer */
    assert_int_equal(masque_bind_frame_encode(buf, sizeof(buf), &f, buf, 5), (masque_ssize)n);
    assert_memory_equal(buf, want, n);
    assert_int_equal(masque_bind_frame_encode(buf, n - 1, &f, want + 2, 5), MASQUE_ERR_BUFFER);
    assert_int_equal(masque_bind_frame_encode(buf, sizeof(buf), &f, NULL, 0), 2);
    /* From another buffer. */
    memset(buf, 0xEE, sizeof(buf));
    assert_int_equal(masque_bind_frame_encode(buf, sizeof(buf), &f, want + 2, 5), (masque_ssize)n);
    assert_memory_equal(buf, want, n);
    assert_int_equal(buf[n], 0xEE); /* nothing written past the datagram */
    /* From further on in the output buffer: the payload moves toward the start, and its first
     * bytes are written over its last ones' old places. */
    memcpy(buf + 4, "hello", 5);
    assert_int_equal(masque_bind_frame_encode(buf, sizeof(buf), &f, buf + 4, 5), (masque_ssize)n);
    assert_memory_equal(buf, want, n);
}

static void test_round_trip_random_bind_datagrams(void **state)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 65527];
    uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
    test_rng rng = {TEST_SEED};
    int i;
    (void)state;
    for (i = 0; i < 3000; i++) {
        static const size_t sizes[] = {0, 1, 64, 1200, 1500, 65527};
        masque_address a;
        masque_bind_frame f;
        masque_bind_datagram bd;
        masque_h3_datagram h3;
        masque_capsule cap;
        uint8_t ip[16];
        size_t len = (i % 7 == 6) ? rng_below(&rng, 65528) : sizes[rng_below(&rng, 6)];
        int compressed = (int)(rng_next(&rng) & 1u);
        const uint8_t *inner;
        size_t inner_len;
        masque_ssize h;
        size_t k;
        for (k = 0; k < 16; k++) {
            ip[k] = (uint8_t)rng_next(&rng);
        }
        if (rng_next(&rng) & 1u) {
            masque_address_set_v4(&a, ip, (uint16_t)rng_next(&rng));
        } else {
            masque_address_set_v6(&a, ip, (uint16_t)rng_next(&rng));
        }
        memset(&f, 0, sizeof(f));
        f.path = (rng_next(&rng) & 1u) ? MASQUE_PATH_CAPSULE : MASQUE_PATH_H3_DATAGRAM;
        f.quarter_stream_id = rng_varint(&rng) >> 2;
        f.context_id = rng_varint(&rng);
        f.target = compressed ? NULL : &a;
        if (len > 0) {
            payload[0] = (uint8_t)i;
            payload[len - 1] = (uint8_t)(i >> 8);
        }
        h = masque_bind_frame_prepend(payload, MASQUE_BIND_HEADROOM, len, &f);
        assert_true(h > 0);
        if (f.path == MASQUE_PATH_H3_DATAGRAM) {
            assert_int_equal(masque_h3_datagram_decode(&h3, payload - h, (size_t)h + len),
                             (masque_ssize)((size_t)h + len));
            assert_true(h3.quarter_stream_id == f.quarter_stream_id);
            inner = h3.payload;
            inner_len = h3.payload_len;
        } else {
            assert_int_equal(masque_capsule_decode(&cap, payload - h, (size_t)h + len),
                             (masque_ssize)((size_t)h + len));
            assert_true(cap.type == MASQUE_CAPSULE_TYPE_DATAGRAM);
            inner = cap.value;
            inner_len = cap.length;
        }
        if (compressed) {
            assert_true(masque_bind_compressed_decode(&bd, inner, inner_len) > 0);
        } else {
            assert_true(masque_bind_uncompressed_decode(&bd, inner, inner_len) > 0);
            assert_true(masque_address_equal(&bd.target, &a));
        }
        if (bd.context_id != f.context_id || bd.payload != payload || bd.payload_len != len) {
            fail_msg("seed %llx iteration %d", (unsigned long long)TEST_SEED, i);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h3_datagram_of_draft_10_appendix),
        cmocka_unit_test(test_DG_3_quarter_stream_id_above_2_60_minus_1_is_an_error),
        cmocka_unit_test(test_DG_4_datagram_too_short_for_quarter_stream_id_is_an_error),
        cmocka_unit_test(test_quarter_stream_id_only_for_client_bidirectional_streams),
        cmocka_unit_test(test_uncompressed_ipv6_and_compressed_payloads),
        cmocka_unit_test(test_BIND_21_uncompressed_ip_version_other_than_4_6_is_malformed),
        cmocka_unit_test(test_every_truncation_of_an_uncompressed_header_is_malformed),
        cmocka_unit_test(test_UDP_11_payload_above_65527_bytes),
        cmocka_unit_test(test_headroom_encoders_reproduce_the_appendix),
        cmocka_unit_test(test_headroom_constants_suffice_for_the_largest_header),
        cmocka_unit_test(test_headroom_too_small_reports_and_writes_nothing),
        cmocka_unit_test(test_encode_copies_and_may_overlap),
        cmocka_unit_test(test_round_trip_random_bind_datagrams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
