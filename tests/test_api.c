/* SPDX-License-Identifier: GPL-3.0-only */
/* The API's edges: error strings, version, bad arguments, and the session's back-pressure. */
#include "builders.h"
#include "session_util.h"

#include "masque/masque.h"

#if MASQUE_ENABLE_ERROR_TEXT
static void test_every_error_code_has_its_own_text(void **state)
{
    const char *seen[64];
    int code;
    (void)state;
    for (code = 0; code >= MASQUE_ERR_UNAUTHORIZED; code--) {
        const char *text = masque_strerror(code);
        int i;
        assert_non_null(text);
        assert_string_not_equal(text, "unknown error");
        for (i = 0; i < -code; i++) {
            assert_string_not_equal(text, seen[i]);
        }
        seen[-code] = text;
    }
    assert_string_equal(masque_strerror(MASQUE_ERR_UNAUTHORIZED - 1), "unknown error");
    assert_string_equal(masque_strerror(1), "unknown error");
}
#endif

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(masque_version(), MASQUE_VERSION_STRING);
    assert_int_equal(MASQUE_VERSION_NUMBER, MASQUE_VERSION_MAJOR * 10000 +
                                                MASQUE_VERSION_MINOR * 100 + MASQUE_VERSION_PATCH);
}

static void test_bad_arguments_are_refused_not_crashed_on(void **state)
{
    uint8_t buf[64] = {0};
    uint64_t v;
    masque_capsule cap;
    masque_compression_assign a;
    masque_h3_datagram h3;
    masque_context_payload cp;
    masque_bind_datagram bd;
    masque_bind_frame f;
    masque_address addr;
    const uint8_t *payload;
    size_t plen;
    char text[8];
    (void)state;
    MASQUE_REQUIRE(MASQUE_ENABLE_ARG_CHECKS);
    memset(&a, 0, sizeof(a));
    memset(&f, 0, sizeof(f));
    assert_int_equal(masque_varint_decode(&v, NULL, 4), MASQUE_ERR_NEED_MORE);
    assert_int_equal(masque_capsule_decode(NULL, buf, 4), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_header_encode(NULL, 8, 0, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_header_prepend(NULL, 8, 0, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_encode(NULL, 8, 0, NULL, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_encode(buf, 8, 0, NULL, 2), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_encode(buf, 8, UINT64_MAX, NULL, 0), MASQUE_ERR_VARINT_RANGE);
    assert_int_equal(masque_compression_assign_decode(NULL, buf, 2), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_compression_assign_encode(buf, 64, MASQUE_PROFILE_DRAFT10, NULL),
                     MASQUE_ERR_INVALID_ARGUMENT);
    a.context_id = 2;
    assert_int_equal(masque_compression_assign_encode(NULL, 64, MASQUE_PROFILE_DRAFT10, &a),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_compression_assign_encode(buf, 64, (masque_profile)9, &a),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_compression_assign_encoded_len(MASQUE_PROFILE_DRAFT10, NULL), 0);
    a.context_id = MASQUE_VARINT_MAX + 1;
    assert_int_equal(masque_compression_assign_encode(buf, 64, MASQUE_PROFILE_DRAFT10, &a),
                     MASQUE_ERR_VARINT_RANGE);
    assert_int_equal(masque_compression_id_decode(NULL, buf, 1), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_compression_id_encode(NULL, 8, MASQUE_PROFILE_DRAFT10,
                                                  MASQUE_CAPSULE_COMPRESSION_ACK, 2),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_compression_id_encoded_len(MASQUE_PROFILE_DRAFT10,
                                                       MASQUE_CAPSULE_COMPRESSION_ACK, 0),
                     0);
    assert_int_equal(masque_capsule_kind_of((masque_profile)9, 0x11), MASQUE_CAPSULE_UNKNOWN);
    assert_int_equal(masque_capsule_type_of(MASQUE_PROFILE_DRAFT10, MASQUE_CAPSULE_DATAGRAM, NULL),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_h3_datagram_decode(NULL, buf, 1), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_h3_datagram_prepend(NULL, 8, 1), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_quarter_stream_id_of(4, NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_context_payload_decode(NULL, buf, 1), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_context_payload_decode(&cp, buf, (size_t)PTRDIFF_MAX + 1u),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_bind_uncompressed_decode(NULL, buf, 8), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_bind_compressed_decode(NULL, buf, 8), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_bind_uncompressed_decode(&bd, NULL, 0), MASQUE_ERR_TRUNCATED);
    assert_int_equal(masque_bind_tuple_decode(NULL, &payload, &plen, buf, 8),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_bind_frame_prepend(buf + 32, 32, 0, NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_bind_frame_prepend(NULL, 32, 0, &f), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_bind_frame_encode(NULL, 32, &f, NULL, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_bind_frame_encode(buf, 32, &f, NULL, 1), MASQUE_ERR_INVALID_ARGUMENT);
    f.quarter_stream_id = MASQUE_QUARTER_STREAM_ID_MAX + 1;
    assert_int_equal(masque_bind_frame_header_len(&f, 0), 0);
    assert_int_equal(masque_address_format(NULL, 8, &addr, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_address_parse(NULL, "1.2.3.4", 7, 0), MASQUE_ERR_INVALID_ARGUMENT);
#if MASQUE_ENABLE_POLICY
    assert_int_equal(masque_policy_check(NULL, NULL, NULL), MASQUE_ERR_ADDRESS);
    assert_int_equal(masque_policy_rule_parse(NULL, "::", 2, 1), MASQUE_ERR_INVALID_ARGUMENT);
#endif
#if MASQUE_ENABLE_HTTP
    assert_int_equal(masque_proxy_status_format(text, sizeof(text), (masque_str){NULL, 0}, "x",
                                                (masque_str){NULL, 0}),
                     MASQUE_ERR_INVALID_ARGUMENT);
#else
    (void)text;
#endif
    (void)h3;
    (void)cap;
}

static void test_table_and_session_bad_arguments(void **state)
{
    static endpoint e;
    masque_session s;
    masque_event ev;
    masque_packet pkt;
    masque_datagram_path path;
    masque_address bad;
    masque_address v4;
    masque_session_stats st;
    uint8_t frame[64] = {0};
    static const uint8_t ip[4] = {192, 0, 2, 1};
    (void)state;
    MASQUE_REQUIRE(MASQUE_ENABLE_ARG_CHECKS);
    memset(&bad, 0, sizeof(bad));
    masque_address_set_v4(&v4, ip, 443);
    assert_null(masque_context_find(NULL, 2));
    assert_null(masque_context_find_tuple(NULL, &bad));
    /* masque_context_uncompressed() is inline and reads the table the session hands it. */
    assert_null(masque_context_at(NULL, 0));
    assert_int_equal(masque_context_open_count(NULL), 0);
    assert_int_equal(masque_context_table_capacity(NULL), 0);
    assert_int_equal(masque_context_insert(NULL, 2, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_ERR_INVALID_ARGUMENT);
    masque_context_close(NULL, NULL);
    assert_int_equal(masque_session_init(NULL, NULL, NULL, 0, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_init(&s, NULL, NULL, 0, 0), MASQUE_ERR_INVALID_ARGUMENT);
    /* Storage for not even one context; then misaligned storage. */
    assert_int_equal(
        masque_session_init(&s, NULL, e.storage, MASQUE_CONTEXT_TABLE_STORAGE_SIZE(1) - 1, 0),
        MASQUE_ERR_BUFFER);
    assert_int_equal(masque_session_init(&s, NULL, (uint8_t *)e.storage + 1,
                                         MASQUE_CONTEXT_TABLE_STORAGE_SIZE(2), 0),
                     MASQUE_ERR_INVALID_ARGUMENT);
    /* A header that does not match the library (another size of the session). */
    assert_int_equal(masque_session_init_checked(&s, NULL, e.storage, sizeof(e.storage), 0,
                                                 sizeof(masque_session) + 8,
                                                 sizeof(masque_session_config)),
                     MASQUE_ERR_ABI);
    assert_int_equal(masque_session_init_checked(&s, NULL, e.storage, sizeof(e.storage), 0,
                                                 sizeof(masque_session),
                                                 sizeof(masque_session_config) - 8),
                     MASQUE_ERR_ABI);
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(NULL, 0, NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_open_context(&e.s, NULL, 0, NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_open_context(&e.s, &bad, 0, NULL), MASQUE_ERR_ADDRESS);
    assert_int_equal(masque_session_close_context(NULL, 2, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_write_datagram(&e.s, NULL, frame + 32, 32, 0, 0, &path),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_write_datagram(&e.s, &v4, NULL, 32, 0, 0, &path),
                     MASQUE_ERR_INVALID_ARGUMENT); /* no payload to frame in front of */
    assert_int_equal(masque_session_write_datagram(&e.s, &bad, frame + 32, 32, 0, 0, &path),
                     MASQUE_ERR_ADDRESS);
    assert_int_equal(masque_session_read_datagram(&e.s, NULL, 0, 0, NULL),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_read_stream(&e.s, NULL, 1, 0, &pkt),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_read_fin(NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_set_capsule_datagrams(NULL, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_write_stream(&e.s, NULL, 4), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_poll_event(&e.s, NULL), 0);
    assert_int_equal(masque_session_poll_event(NULL, &ev), 0);
    assert_int_equal(masque_session_tick(NULL, 0), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_error(NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_session_queued_capsules(NULL), 0);
    assert_true(masque_session_next_timeout(&e.s) == UINT64_MAX);
    masque_session_get_stats(NULL, &st);
}

static void test_local_queue_fills_and_drains(void **state)
{
    static endpoint e;
    uint8_t buf[MASQUE_SESSION_WRITE_MIN];
    uint8_t small[4];
    masque_address t = addr4(192, 0, 2, 1, 1);
    int i;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    /* Local capsules may use the queue minus the room kept for responses (-10 §9). */
    for (i = 0; i < MASQUE_SESSION_QUEUE_LEN - MASQUE_SESSION_DEFAULT_MAX_PENDING; i++) {
        t.port = (uint16_t)(i + 1);
        assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    }
    t.port = 999;
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_ERR_QUEUE_FULL);
    assert_int_equal(masque_session_close_context(&e.s, 2, 0), MASQUE_ERR_QUEUE_FULL);
    /* Writes go out whole capsules at a time; too small a buffer says so. */
    assert_int_equal(masque_session_write_stream(&e.s, small, sizeof(small)), MASQUE_ERR_BUFFER);
    assert_int_equal(masque_session_write_stream(&e.s, buf, sizeof(buf)), 40); /* 4 of 10 bytes */
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
}

static void test_context_ids_run_out(void **state)
{
    static endpoint e;
    uint64_t id = 0;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    e.s.next_local_id = MASQUE_VARINT_MAX - 1; /* the last even ID (private field, for the test) */
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, &id), MASQUE_OK);
    assert_true(id == MASQUE_VARINT_MAX - 1);
    assert_int_equal(masque_session_close_context(&e.s, id, 0), MASQUE_OK);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, &id),
                     MASQUE_ERR_CONTEXT_ID_EXHAUSTED);
}

static void test_stream_input_waits_for_the_host_to_poll_events(void **state)
{
    static endpoint e;
    static uint8_t stream[32 * MASQUE_SESSION_EVENT_LEN];
    masque_packet pkt;
    masque_event ev;
    size_t n = 0;
    size_t off = 0;
    masque_ssize used;
    int i;
    int events = 0;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    for (i = 0; i < MASQUE_SESSION_EVENT_LEN; i++) { /* one event each: more than is kept free */
        wire w = assign_port(2u * (uint64_t)i + 2u, (uint16_t)(i + 1));
        memcpy(stream + n, w.b, w.n);
        n += w.n;
    }
    used = masque_session_read_stream(&e.s, stream, n, 0, &pkt);
    assert_true(used > 0 && (size_t)used < n); /* stopped with the queue nearly full */
    off = (size_t)used;
    while (masque_session_poll_event(&e.s, &ev)) {
        events++;
    }
    used = masque_session_read_stream(&e.s, stream + off, n - off, 0, &pkt);
    assert_int_equal((size_t)used, n - off);
    while (masque_session_poll_event(&e.s, &ev)) {
        events++;
    }
    assert_int_equal(events, MASQUE_SESSION_EVENT_LEN);
}

static void test_DG_11_DG_3_DG_4_errors_map_to_the_h3_code_of_whoever_broke_the_rule(void **state)
{
    /* Malformed HTTP/3 datagrams (RFC 9297 §2.1) and oversized UDP payloads (RFC 9298 §5). */
    static const int datagram[] = {MASQUE_ERR_QUARTER_STREAM_ID, MASQUE_ERR_DATAGRAM_TRUNCATED,
                                   MASQUE_ERR_PAYLOAD_TOO_LARGE};
    /* Errors processing the capsule stream (RFC 9297 §3.3, -10 §3). */
    static const int message[] = {MASQUE_ERR_TRUNCATED,
                                  MASQUE_ERR_TRAILING_BYTES,
                                  MASQUE_ERR_CAPSULE_LENGTH,
                                  MASQUE_ERR_CONTEXT_ID_ZERO,
                                  MASQUE_ERR_IP_VERSION,
                                  MASQUE_ERR_STREAM_TRUNCATED,
                                  MASQUE_ERR_PARSER_FAILED,
                                  MASQUE_ERR_DUPLICATE_CONTEXT_ID,
                                  MASQUE_ERR_DUPLICATE_TUPLE,
                                  MASQUE_ERR_CONTEXT_PARITY,
                                  MASQUE_ERR_UNCOMPRESSED_FROM_PROXY,
                                  MASQUE_ERR_SECOND_UNCOMPRESSED,
                                  MASQUE_ERR_UNKNOWN_ACK};
    int code;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(datagram) / sizeof(datagram[0]); i++) {
        assert_true(masque_h3_error_for(datagram[i]) == MASQUE_H3_DATAGRAM_ERROR);
    }
    for (i = 0; i < sizeof(message) / sizeof(message[0]); i++) {
        assert_true(masque_h3_error_for(message[i]) == MASQUE_H3_MESSAGE_ERROR);
    }
    assert_true(masque_h3_error_for(MASQUE_ERR_PENDING_LIMIT) == MASQUE_H3_EXCESSIVE_LOAD);
    assert_true(masque_h3_error_for(MASQUE_ERR_H3_SETTINGS) == MASQUE_H3_SETTINGS_ERROR);
    /* Everything else is ours, or unknown: never the peer's fault. */
    for (code = 1; code >= MASQUE_ERR_H3_SETTINGS - 5; code--) {
        uint64_t h3 = masque_h3_error_for(code);
        int listed = code == MASQUE_ERR_PENDING_LIMIT || code == MASQUE_ERR_H3_SETTINGS;
        for (i = 0; i < sizeof(datagram) / sizeof(datagram[0]); i++) {
            listed |= code == datagram[i];
        }
        for (i = 0; i < sizeof(message) / sizeof(message[0]); i++) {
            listed |= code == message[i];
        }
        if (!listed) {
            assert_true(h3 == MASQUE_H3_INTERNAL_ERROR);
        }
    }
    assert_true(masque_h3_error_for(-1000) == MASQUE_H3_INTERNAL_ERROR);
    /* The codepoints themselves (RFC 9114 §8.1, RFC 9297 §5). */
    assert_true(MASQUE_H3_DATAGRAM_ERROR == 0x33u && MASQUE_H3_MESSAGE_ERROR == 0x10eu &&
                MASQUE_H3_INTERNAL_ERROR == 0x102u && MASQUE_H3_EXCESSIVE_LOAD == 0x107u);
}

static void test_DG_11_error_classes_say_who_must_act(void **state)
{
    int code;
    (void)state;
    assert_int_equal(masque_error_class_of(MASQUE_OK), MASQUE_ERROR_CLASS_NONE);
    assert_int_equal(masque_error_class_of(1), MASQUE_ERROR_CLASS_NONE);
    /* The peer broke a rule: abort (RFC 9297 §3.3) or close the connection (§2.1). */
    assert_int_equal(masque_error_class_of(MASQUE_ERR_DUPLICATE_CONTEXT_ID),
                     MASQUE_ERROR_CLASS_PEER);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_QUARTER_STREAM_ID), MASQUE_ERROR_CLASS_PEER);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_PENDING_LIMIT), MASQUE_ERROR_CLASS_PEER);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_BAD_RESPONSE), MASQUE_ERROR_CLASS_PEER);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_UNAUTHORIZED), MASQUE_ERROR_CLASS_PEER);
    /* Retry once the condition is gone. */
    assert_int_equal(masque_error_class_of(MASQUE_ERR_NEED_MORE), MASQUE_ERROR_CLASS_TRANSIENT);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_BUFFER), MASQUE_ERROR_CLASS_TRANSIENT);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_QUEUE_FULL), MASQUE_ERROR_CLASS_TRANSIENT);
    /* Local: the call cannot be done as asked. */
    assert_int_equal(masque_error_class_of(MASQUE_ERR_INVALID_ARGUMENT), MASQUE_ERROR_CLASS_LOCAL);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_UNREACHABLE), MASQUE_ERROR_CLASS_LOCAL);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_ABI), MASQUE_ERROR_CLASS_LOCAL);
    assert_int_equal(masque_error_class_of(-1000), MASQUE_ERROR_CLASS_LOCAL);
    /* Dead objects. */
    assert_int_equal(masque_error_class_of(MASQUE_ERR_SESSION_FAILED), MASQUE_ERROR_CLASS_FATAL);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_PARSER_FAILED), MASQUE_ERROR_CLASS_FATAL);
    /* Every code whose HTTP/3 mapping blames the peer is of the peer's class, and no other. */
    for (code = -1; code >= MASQUE_ERR_UNAUTHORIZED; code--) {
        int blames_peer = masque_h3_error_for(code) != MASQUE_H3_INTERNAL_ERROR &&
                          code != MASQUE_ERR_PARSER_FAILED;
        if (blames_peer) {
            assert_int_equal(masque_error_class_of(code), MASQUE_ERROR_CLASS_PEER);
        }
        if (masque_error_class_of(code) == MASQUE_ERROR_CLASS_PEER && !blames_peer) {
            assert_true(code == MASQUE_ERR_BAD_REQUEST || code == MASQUE_ERR_BAD_RESPONSE ||
                        code == MASQUE_ERR_FIELD ||
                        code == MASQUE_ERR_UNAUTHORIZED); /* a status, not a reset */
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_DG_11_error_classes_say_who_must_act),
        cmocka_unit_test(test_DG_11_DG_3_DG_4_errors_map_to_the_h3_code_of_whoever_broke_the_rule),
#if MASQUE_ENABLE_ERROR_TEXT
        cmocka_unit_test(test_every_error_code_has_its_own_text),
#endif
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_bad_arguments_are_refused_not_crashed_on),
        cmocka_unit_test(test_table_and_session_bad_arguments),
        cmocka_unit_test(test_local_queue_fills_and_drains),
        cmocka_unit_test(test_context_ids_run_out),
        cmocka_unit_test(test_stream_input_waits_for_the_host_to_poll_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
