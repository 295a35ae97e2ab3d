/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The bad-input catalogue: named hostile inputs for every decoder and for the session, each with
 * the exact error code it must produce (or "dropped, counted"), and, for the session, a check that
 * its state afterwards is the state before.
 */
#include <stdlib.h>

#include "builders.h"
#include "session_util.h"

#include "masque/masque.h"

/* ---- decoders ---- */

typedef enum decoder {
    DEC_VARINT,
    DEC_CAPSULE,      /* one-shot capsule */
    DEC_ASSIGN_VALUE, /* COMPRESSION_ASSIGN value */
    DEC_ID_VALUE,     /* COMPRESSION_ACK / CLOSE value */
    DEC_H3,           /* QUIC DATAGRAM payload */
    DEC_UNCOMPRESSED, /* Bind payload, uncompressed */
    DEC_COMPRESSED,   /* Bind payload, compressed */
    DEC_PARSER,       /* incremental parser, then finish */
    DEC_PPA,          /* Proxy-Public-Address */
    DEC_PATH          /* :path against the well-known template */
} decoder;

typedef struct codec_row {
    const char *name;
    decoder dec;
    const char *hex; /* for DEC_PPA and DEC_PATH: the text itself */
    int code;        /* expected result; 0 means success */
} codec_row;

#define V6 "20010db8000000000000000000001234"

static const codec_row codec_rows[] = {
    {"varint_empty", DEC_VARINT, "", MASQUE_ERR_NEED_MORE},
    {"varint_2_truncated", DEC_VARINT, "40", MASQUE_ERR_NEED_MORE},
    {"varint_4_truncated", DEC_VARINT, "800001", MASQUE_ERR_NEED_MORE},
    {"varint_8_truncated", DEC_VARINT, "c0000000000001", MASQUE_ERR_NEED_MORE},
    {"varint_2_62_minus_1", DEC_VARINT, "ffffffffffffffff", 0},
    {"capsule_header_truncated", DEC_CAPSULE, "11", MASQUE_ERR_NEED_MORE},
    {"capsule_length_lies_long", DEC_CAPSULE, "11050200", MASQUE_ERR_NEED_MORE},
    {"capsule_length_2_62_minus_1", DEC_CAPSULE, "40 40 ffffffffffffffff 00", MASQUE_ERR_NEED_MORE},
    {"assign_missing_ip_version", DEC_ASSIGN_VALUE, "02", MASQUE_ERR_TRUNCATED},
    {"assign_trailing_byte", DEC_ASSIGN_VALUE, "020000", MASQUE_ERR_TRAILING_BYTES},
    {"assign_v4_address_cut", DEC_ASSIGN_VALUE, "0204c000", MASQUE_ERR_TRUNCATED},
    {"assign_v4_port_cut", DEC_ASSIGN_VALUE, "0204c000022a04", MASQUE_ERR_TRUNCATED},
    {"assign_v6_port_cut", DEC_ASSIGN_VALUE, "0206" V6 "d4", MASQUE_ERR_TRUNCATED},
    {"assign_v4_with_v6_length", DEC_ASSIGN_VALUE, "0204" V6 "d431", MASQUE_ERR_TRAILING_BYTES},
    {"assign_ip_version_5", DEC_ASSIGN_VALUE, "0205c000022a04d2", MASQUE_ERR_IP_VERSION},
    {"assign_ip_version_255", DEC_ASSIGN_VALUE, "02ff", MASQUE_ERR_IP_VERSION},
    {"assign_context_id_0", DEC_ASSIGN_VALUE, "0000", MASQUE_ERR_CONTEXT_ID_ZERO},
    {"assign_context_id_0_non_minimal", DEC_ASSIGN_VALUE, "c00000000000000000",
     MASQUE_ERR_CONTEXT_ID_ZERO},
    {"assign_context_id_2_62_minus_1", DEC_ASSIGN_VALUE, "ffffffffffffffff00", 0},
    {"close_context_id_0", DEC_ID_VALUE, "00", MASQUE_ERR_CONTEXT_ID_ZERO},
    {"close_empty", DEC_ID_VALUE, "", MASQUE_ERR_TRUNCATED},
    {"ack_trailing_byte", DEC_ID_VALUE, "0200", MASQUE_ERR_TRAILING_BYTES},
    {"ack_id_cut", DEC_ID_VALUE, "8000", MASQUE_ERR_TRUNCATED},
    {"h3_empty", DEC_H3, "", MASQUE_ERR_DATAGRAM_TRUNCATED},
    {"h3_quarter_stream_id_cut", DEC_H3, "c000", MASQUE_ERR_DATAGRAM_TRUNCATED},
    {"h3_quarter_stream_id_2_60", DEC_H3, "d000000000000000", MASQUE_ERR_QUARTER_STREAM_ID},
    {"h3_quarter_stream_id_2_62_minus_1", DEC_H3, "ffffffffffffffff02",
     MASQUE_ERR_QUARTER_STREAM_ID},
    {"bind_ip_version_0", DEC_UNCOMPRESSED, "0200", MASQUE_ERR_IP_VERSION},
    {"bind_ip_version_5", DEC_UNCOMPRESSED, "0205c000022a04d2", MASQUE_ERR_IP_VERSION},
    {"bind_context_id_cut", DEC_UNCOMPRESSED, "40", MASQUE_ERR_TRUNCATED},
    {"bind_port_cut", DEC_UNCOMPRESSED, "0204c000022a04", MASQUE_ERR_TRUNCATED},
    {"bind_v6_address_cut", DEC_UNCOMPRESSED, "0206200104", MASQUE_ERR_TRUNCATED},
    {"bind_compressed_empty", DEC_COMPRESSED, "", MASQUE_ERR_TRUNCATED},
    {"parser_assign_length_28", DEC_PARSER, "111c", MASQUE_ERR_CAPSULE_LENGTH},
    {"parser_assign_length_2_62_minus_1", DEC_PARSER, "11ffffffffffffffff",
     MASQUE_ERR_CAPSULE_LENGTH},
    {"parser_ack_length_0", DEC_PARSER, "1200", MASQUE_ERR_CAPSULE_LENGTH},
    {"parser_close_length_9", DEC_PARSER, "1309", MASQUE_ERR_CAPSULE_LENGTH},
    {"parser_datagram_above_maximum", DEC_PARSER, "0080010013", MASQUE_ERR_CAPSULE_LENGTH},
    {"parser_unknown_2_62_minus_1_never_ends", DEC_PARSER, "4040ffffffffffffffffaabbcc",
     MASQUE_ERR_STREAM_TRUNCATED},
    {"parser_stream_ends_in_value", DEC_PARSER, "110202", MASQUE_ERR_STREAM_TRUNCATED},
    {"parser_stream_ends_in_header", DEC_PARSER, "1140", MASQUE_ERR_STREAM_TRUNCATED},
#if MASQUE_ENABLE_HTTP
    {"ppa_bare_token", DEC_PPA, "192.0.2.45:54321", MASQUE_ERR_FIELD},
    {"ppa_no_port", DEC_PPA, "\"192.0.2.45\"", MASQUE_ERR_FIELD},
    {"ppa_unbracketed_v6", DEC_PPA, "\"2001:db8::1:443\"", MASQUE_ERR_FIELD},
    {"path_one_wildcard", DEC_PATH, "/.well-known/masque/udp/%2A/443/", MASQUE_ERR_BAD_REQUEST},
    {"path_port_0", DEC_PATH, "/.well-known/masque/udp/192.0.2.1/0/", MASQUE_ERR_BAD_REQUEST},
#endif
};

#if MASQUE_ENABLE_HTTP
static masque_ssize run_http_row(const codec_row *r)
{
    static const char tmpl[] =
        "https://example.org/.well-known/masque/udp/{target_host}/{target_port}/";
    masque_str text = {r->hex, strlen(r->hex)};
    if (r->dec == DEC_PPA) {
        masque_address a[2];
        size_t count;
        return masque_proxy_public_address_parse(text, a, 2, &count);
    } else {
        masque_request_target t;
        masque_str tv = {tmpl, sizeof(tmpl) - 1};
        return masque_uri_template_match(tv, text, &t);
    }
}
#endif

static int run_codec_row(const codec_row *r, uint8_t *buf, size_t cap)
{
    size_t n = (r->dec == DEC_PPA || r->dec == DEC_PATH) ? 0 : hex_to_bytes(r->hex, buf, cap);
    masque_ssize rc = 0;
    switch (r->dec) {
    case DEC_VARINT: {
        uint64_t v;
        rc = masque_varint_decode(&v, buf, n);
        break;
    }
    case DEC_CAPSULE: {
        masque_capsule c;
        rc = masque_capsule_decode(&c, buf, n);
        break;
    }
    case DEC_ASSIGN_VALUE: {
        masque_compression_assign a;
        rc = masque_compression_assign_decode(&a, buf, n);
        break;
    }
    case DEC_ID_VALUE: {
        uint64_t id;
        rc = masque_compression_id_decode(&id, buf, n);
        break;
    }
    case DEC_H3: {
        masque_h3_datagram d;
        rc = masque_h3_datagram_decode(&d, buf, n);
        break;
    }
    case DEC_UNCOMPRESSED:
    case DEC_COMPRESSED: {
        masque_bind_datagram d;
        rc = r->dec == DEC_UNCOMPRESSED ? masque_bind_uncompressed_decode(&d, buf, n)
                                        : masque_bind_compressed_decode(&d, buf, n);
        break;
    }
    case DEC_PARSER: {
        masque_capsule_parser p;
        masque_capsule_event ev;
        size_t off = 0;
        masque_capsule_parser_init(&p, NULL);
        while (off < n && rc >= 0) {
            rc = masque_capsule_parser_feed(&p, buf + off, n - off, &ev);
            off += rc > 0 ? (size_t)rc : 0;
        }
        if (rc >= 0) {
            rc = masque_capsule_parser_finish(&p);
        }
        break;
    }
    case DEC_PPA:
    case DEC_PATH:
#if MASQUE_ENABLE_HTTP
        rc = run_http_row(r);
#endif
        break;
    }
    return rc > 0 ? 0 : (int)rc;
}
static void test_codec_catalogue(void **state)
{
    static uint8_t buf[128];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(codec_rows) / sizeof(codec_rows[0]); i++) {
        int got = run_codec_row(&codec_rows[i], buf, sizeof(buf));
        if (got != codec_rows[i].code) {
            fail_msg("%s: got %d (%s), want %d (%s)", codec_rows[i].name, got, masque_strerror(got),
                     codec_rows[i].code, masque_strerror(codec_rows[i].code));
        }
    }
}

static void test_UDP_11_payload_of_65528_bytes_is_refused_everywhere(void **state)
{
    uint8_t *d = calloc(1, 8 + 65528);
    masque_bind_datagram bd;
    (void)state;
    assert_non_null(d);
    d[0] = 0x02;
    d[1] = 4;
    assert_int_equal(masque_bind_uncompressed_decode(&bd, d, 8 + 65528),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
    assert_int_equal(masque_bind_compressed_decode(&bd, d, 1 + 65528),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
    free(d);
}

/* ---- the session ---- */

typedef enum expect_kind {
    ABORT,  /* the call fails with `code`; the session is dead; state as before */
    DROPPED /* nothing fails; `counter` grows by one; state as before */
} expect_kind;

typedef struct session_row {
    const char *name;
    masque_role role;
    const char *setup; /* stream bytes fed first */
    int datagram;      /* 1: input is an HTTP Datagram Payload; 0: stream bytes */
    const char *input;
    expect_kind expect;
    int code;
    size_t counter; /* offset of the counter in masque_session_stats */
} session_row;

#define STAT(f) offsetof(masque_session_stats, f)
#define UNC     "11020200"              /* client: ASSIGN 2, uncompressed */
#define A4      "110804 04c000022a04d2" /* ASSIGN 4, 192.0.2.42:1234 */

static const session_row session_rows[] = {
    {"assign_context_id_0", MASQUE_ROLE_PROXY, "", 0, "11020000", ABORT, MASQUE_ERR_CONTEXT_ID_ZERO,
     0},
    {"assign_wrong_parity", MASQUE_ROLE_PROXY, "", 0, "11020300", ABORT, MASQUE_ERR_CONTEXT_PARITY,
     0},
    {"assign_duplicate_open_id", MASQUE_ROLE_PROXY, UNC, 0, "110802 04c000022a04d2", ABORT,
     MASQUE_ERR_DUPLICATE_CONTEXT_ID, 0},
    {"assign_reuses_closed_id", MASQUE_ROLE_PROXY, UNC A4 "130104", 0, "110804 04c000022b04d2",
     ABORT, MASQUE_ERR_DUPLICATE_CONTEXT_ID, 0},
    {"assign_duplicate_tuple", MASQUE_ROLE_PROXY, UNC A4, 0, "110806 04c000022a04d2", ABORT,
     MASQUE_ERR_DUPLICATE_TUPLE, 0},
    {"second_uncompressed", MASQUE_ROLE_PROXY, UNC, 0, "11020400", ABORT,
     MASQUE_ERR_SECOND_UNCOMPRESSED, 0},
    {"uncompressed_from_proxy", MASQUE_ROLE_CLIENT, "", 0, "11020100", ABORT,
     MASQUE_ERR_UNCOMPRESSED_FROM_PROXY, 0},
    {"ack_for_unknown_id", MASQUE_ROLE_PROXY, UNC, 0, "120105", ABORT, MASQUE_ERR_UNKNOWN_ACK, 0},
    {"assign_ip_version_5", MASQUE_ROLE_PROXY, "", 0, "110802 05c000022a04d2", ABORT,
     MASQUE_ERR_IP_VERSION, 0},
    {"assign_trailing_byte", MASQUE_ROLE_PROXY, "", 0, "1103020000", ABORT,
     MASQUE_ERR_TRAILING_BYTES, 0},
    {"oversized_datagram_capsule_context_id_0", MASQUE_ROLE_PROXY, UNC, 0, "0080010013 00", ABORT,
     MASQUE_ERR_CONTEXT_ID_ZERO, 0},
    {"oversized_datagram_capsule_open_context", MASQUE_ROLE_PROXY, UNC, 0, "0080010013 02", ABORT,
     MASQUE_ERR_PAYLOAD_TOO_LARGE, 0},
    {"oversized_datagram_capsule_unknown_id", MASQUE_ROLE_PROXY, UNC, 0, "0080010013 09", DROPPED,
     0, STAT(dropped_unknown_context)},
    {"close_for_unknown_id", MASQUE_ROLE_PROXY, UNC, 0, "130106", DROPPED, 0, STAT(unknown_closes)},
    {"unknown_capsule_skipped", MASQUE_ROLE_PROXY, UNC, 0, "4040 03 aabbcc", DROPPED, 0,
     STAT(discarded_capsules)},
    {"datagram_before_any_assign", MASQUE_ROLE_PROXY, "", 1, "02 04c000022a04d2 aa", DROPPED, 0,
     STAT(dropped_unknown_context)},
    {"datagram_context_id_0", MASQUE_ROLE_PROXY, UNC, 1, "00 aa", ABORT, MASQUE_ERR_CONTEXT_ID_ZERO,
     0},
    {"datagram_on_closed_id", MASQUE_ROLE_PROXY, UNC A4 "130104", 1, "04 aa", DROPPED, 0,
     STAT(dropped_unknown_context)},
    {"datagram_ip_version_5", MASQUE_ROLE_PROXY, UNC, 1, "02 05c000022a04d2 aa", DROPPED, 0,
     STAT(dropped_malformed)},
    {"datagram_context_id_cut", MASQUE_ROLE_PROXY, UNC, 1, "80", DROPPED, 0,
     STAT(dropped_malformed)},
#if MASQUE_ENABLE_POLICY
    {"datagram_to_loopback_refused", MASQUE_ROLE_PROXY, UNC, 1, "02 047f00000104d2 aa", DROPPED, 0,
     STAT(dropped_policy)},
#endif
    {"datagram_on_unknown_odd_id", MASQUE_ROLE_CLIENT, "", 1, "05 aa", DROPPED, 0,
     STAT(dropped_unknown_context)},
};

static uint64_t counter(const endpoint *e, size_t offset)
{
    masque_session_stats st;
    uint64_t v;
    masque_session_get_stats(&e->s, &st);
    memcpy(&v, (const uint8_t *)&st + offset, sizeof(v));
    return v;
}

static void test_session_catalogue(void **state)
{
    static endpoint e;
    static snapshot before;
    static snapshot after;
    masque_policy policy;
    masque_policy_rule doc_range;
    size_t i;
    (void)state;
    /* The default policy, plus the documentation range the rows use as targets. */
    memset(&policy, 0, sizeof(policy));
#if MASQUE_ENABLE_POLICY
    assert_int_equal(masque_policy_rule_parse(&doc_range, "192.0.2.0/24", 12, 1), MASQUE_OK);
    policy.rules = &doc_range;
    policy.rule_count = 1;
#else
    (void)doc_range;
#endif
    for (i = 0; i < sizeof(session_rows) / sizeof(session_rows[0]); i++) {
        const session_row *r = &session_rows[i];
        masque_session_config cfg;
        uint8_t in[64];
        size_t n;
        int rc;
        uint64_t count_before = 0;
        masque_event ev;
        memset(&cfg, 0, sizeof(cfg));
        cfg.policy = &policy;
        endpoint_init(&e, r->role, &cfg, TABLE_CAP);
        if (r->role == MASQUE_ROLE_CLIENT) {
            assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
        }
        if (r->setup[0] != '\0') {
            assert_true(feed_hex(&e, r->setup, 0) > 0);
        }
        while (masque_session_poll_event(&e.s, &ev)) {
            /* the setup's events; a small ring (config) must not hold the row back */
        }
        take(&e, &before);
        if (r->expect == DROPPED) {
            count_before = counter(&e, r->counter);
        }
        n = hex_to_bytes(r->input, in, sizeof(in));
        if (r->datagram) {
            masque_packet pkt;
            rc = masque_session_read_datagram(&e.s, in, n, 1, &pkt);
        } else {
            masque_packet pkt;
            masque_ssize m = masque_session_read_stream(&e.s, in, n, 1, &pkt);
            rc = m < 0 ? (int)m : 0;
        }
        take(&e, &after);
        if (memcmp(&before, &after, sizeof(before)) != 0) {
            fail_msg("%s: the session's state changed", r->name);
        }
        if (r->expect == ABORT) {
            if (rc != r->code || masque_session_error(&e.s) != r->code) {
                fail_msg("%s: got %d (%s), want %d (%s)", r->name, rc, masque_strerror(rc), r->code,
                         masque_strerror(r->code));
            }
        } else if (rc != 0 || masque_session_error(&e.s) != 0 ||
                   counter(&e, r->counter) != count_before + 1) {
            fail_msg("%s: not dropped and counted (rc %d)", r->name, rc);
        }
    }
}

static void test_BIND_30_flood_reaches_the_pending_bound_and_aborts(void **state)
{
    static endpoint e;
    static snapshot before;
    static snapshot after;
    uint16_t i;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    for (i = 0; i < MASQUE_SESSION_DEFAULT_MAX_PENDING; i++) {
        masque_event ev;
        assert_int_equal(read_wire(&e.s, assign_port(2u * i + 2u, (uint16_t)(i + 1)), 0), 10);
        assert_int_equal(masque_session_poll_event(&e.s, &ev), 1); /* the host keeps up... */
    }
    /* ...but never writes the responses out (-10 §9: the stream is aborted). */
    take(&e, &before);
    assert_int_equal(read_wire(&e.s, assign_port(2u * i + 2u, (uint16_t)(i + 1)), 0),
                     MASQUE_ERR_PENDING_LIMIT);
    take(&e, &after);
    assert_memory_equal(&before, &after, sizeof(before));
}

static void test_DG_5_datagrams_after_fin_are_dropped(void **state)
{
    static endpoint e;
    masque_packet pkt;
    masque_session_stats st;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, UNC, 0), 4);
    assert_int_equal(masque_session_read_fin(&e.s), MASQUE_OK);
    assert_int_equal(masque_session_read_datagram(
                         &e.s, (const uint8_t *)"\x02\x04\xc0\x00\x02\x2a\x04\xd2", 8, 0, &pkt),
                     0);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_after_fin == 1u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_catalogue),
        cmocka_unit_test(test_UDP_11_payload_of_65528_bytes_is_refused_everywhere),
        cmocka_unit_test(test_session_catalogue),
        cmocka_unit_test(test_BIND_30_flood_reaches_the_pending_bound_and_aborts),
        cmocka_unit_test(test_DG_5_datagrams_after_fin_are_dropped),
    };
    printf("catalogue: %zu codec rows, %zu session rows\n",
           sizeof(codec_rows) / sizeof(codec_rows[0]),
           sizeof(session_rows) / sizeof(session_rows[0]));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
