/* SPDX-License-Identifier: GPL-3.0-only */
/* QUIC variable-length integers, RFC 9000 §16 (requirements QV-1..QV-3). */
#include "testutil.h"

#include "masque/varint.h"

typedef struct varint_vector {
    const char *hex;
    uint64_t value;
} varint_vector;

/* RFC 9000 Appendix A.1 sample encodings, plus the boundaries of each length. */
static const varint_vector vectors[] = {
    {"c2197c5eff14e88c", 151288809941952652ULL},
    {"9d7f3e7d", 494878333u},
    {"7bbd", 15293u},
    {"25", 37u},
    {"00", 0u},
    {"3f", 63u},
    {"4040", 64u},
    {"7fff", 16383u},
    {"80004000", 16384u},
    {"bfffffff", 1073741823u},
    {"c000000040000000", 1073741824u},
    {"ffffffffffffffff", 0x3FFFFFFFFFFFFFFFULL},
};

static void test_QV_1_decodes_all_four_lengths(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t buf[8];
        uint64_t v = 0;
        size_t n = hex_to_bytes(vectors[i].hex, buf, sizeof(buf));
        assert_int_equal(masque_varint_decode(&v, buf, n), (masque_ssize)n);
        assert_true(v == vectors[i].value);
        assert_int_equal(masque_varint_len_from_first(buf[0]), n);
    }
}

static void test_QV_1_every_truncation_needs_more_and_leaves_output(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t buf[8];
        size_t n = hex_to_bytes(vectors[i].hex, buf, sizeof(buf));
        size_t cut;
        for (cut = 0; cut < n; cut++) {
            uint64_t v = 0xABCDu;
            assert_int_equal(masque_varint_decode(&v, buf, cut), MASQUE_ERR_NEED_MORE);
            assert_true(v == 0xABCDu);
        }
    }
#if MASQUE_ENABLE_ARG_CHECKS /* config.h */
    assert_int_equal(masque_varint_decode(NULL, (const uint8_t *)"", 1),
                     MASQUE_ERR_INVALID_ARGUMENT);
#endif
}

static void test_QV_1_trailing_bytes_are_not_consumed(void **state)
{
    const uint8_t buf[] = {0x40, 0x25, 0xFF, 0xFF};
    uint64_t v;
    (void)state;
    assert_int_equal(masque_varint_decode(&v, buf, sizeof(buf)), 2);
    assert_true(v == 37u);
}

static void test_QV_2_accepts_non_minimal_encodings(void **state)
{
    static const char *const forms[] = {"25", "4025", "80000025", "c000000000000025"};
    size_t i;
    (void)state;
    for (i = 0; i < 4; i++) {
        uint8_t buf[8];
        uint64_t v = 0;
        size_t n = hex_to_bytes(forms[i], buf, sizeof(buf));
        assert_int_equal(masque_varint_decode(&v, buf, n), (masque_ssize)n);
        assert_true(v == 37u);
    }
}

static void test_QV_3_never_encodes_above_2_62_minus_1(void **state)
{
    uint8_t buf[9] = {0};
    (void)state;
    assert_int_equal(masque_varint_encode(buf, sizeof(buf), MASQUE_VARINT_MAX), 8);
    assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    memset(buf, 0x5A, sizeof(buf));
    assert_int_equal(masque_varint_encode(buf, sizeof(buf), MASQUE_VARINT_MAX + 1),
                     MASQUE_ERR_VARINT_RANGE);
    assert_int_equal(masque_varint_encode(buf, sizeof(buf), UINT64_MAX), MASQUE_ERR_VARINT_RANGE);
    assert_int_equal(buf[0], 0x5A);
    assert_int_equal(masque_varint_len(MASQUE_VARINT_MAX + 1), 0);
}

static void test_encodes_minimally_byte_for_byte(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t want[8];
        uint8_t got[8];
        size_t n = hex_to_bytes(vectors[i].hex, want, sizeof(want));
        assert_int_equal(masque_varint_len(vectors[i].value), n);
        assert_int_equal(masque_varint_encode(got, sizeof(got), vectors[i].value), (masque_ssize)n);
        assert_memory_equal(got, want, n);
    }
}

static void test_encode_reports_small_buffer_and_writes_nothing(void **state)
{
    uint8_t buf[8];
    size_t cap;
    (void)state;
    for (cap = 0; cap < 8; cap++) {
        memset(buf, 0x5A, sizeof(buf));
        assert_int_equal(masque_varint_encode(buf, cap, 1073741824u), MASQUE_ERR_BUFFER);
        assert_int_equal(buf[0], 0x5A);
    }
    assert_int_equal(masque_varint_encode(NULL, 0, 1), MASQUE_ERR_BUFFER);
#if MASQUE_ENABLE_ARG_CHECKS /* config.h */
    assert_int_equal(masque_varint_encode(NULL, 8, 1), MASQUE_ERR_INVALID_ARGUMENT);
#endif
}

static void test_round_trip_random_values_of_every_length(void **state)
{
    test_rng rng = {TEST_SEED};
    int i;
    (void)state;
    for (i = 0; i < 20000; i++) {
        uint8_t buf[8];
        uint64_t v = rng_varint(&rng);
        uint64_t back = 0;
        masque_ssize n = masque_varint_encode(buf, sizeof(buf), v);
        if (n <= 0 || masque_varint_decode(&back, buf, (size_t)n) != n || back != v) {
            fail_msg("seed %llx iteration %d value %llu", (unsigned long long)TEST_SEED, i,
                     (unsigned long long)v);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_QV_1_decodes_all_four_lengths),
        cmocka_unit_test(test_QV_1_every_truncation_needs_more_and_leaves_output),
        cmocka_unit_test(test_QV_1_trailing_bytes_are_not_consumed),
        cmocka_unit_test(test_QV_2_accepts_non_minimal_encodings),
        cmocka_unit_test(test_QV_3_never_encodes_above_2_62_minus_1),
        cmocka_unit_test(test_encodes_minimally_byte_for_byte),
        cmocka_unit_test(test_encode_reports_small_buffer_and_writes_nothing),
        cmocka_unit_test(test_round_trip_random_values_of_every_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
