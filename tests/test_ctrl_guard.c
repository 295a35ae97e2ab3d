/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The guard on the peer's unidirectional streams (src/adapter/ngtcp2/ctrl_guard.h): whatever
 * way a control stream is cut, nghttp3 is never handed a read that ends right after a
 * PRIORITY_UPDATE's Prioritized Element ID with the Priority Field Value to come (RFC 9218
 * §7.1; nghttp3 1.8 aborts there), and it gets every byte, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "adapter/ngtcp2/ctrl_guard.h"

#define STREAM_MAX 128

/* A control stream (RFC 9114 §6.2.1) and the offsets a read must not end at. */
typedef struct control_stream {
    uint8_t bytes[STREAM_MAX];
    size_t len;
    size_t unsafe[8];
    size_t nunsafe;
} control_stream;

static void put(control_stream *s, const uint8_t *b, size_t n)
{
    assert_true(s->len + n <= STREAM_MAX);
    memcpy(s->bytes + s->len, b, n);
    s->len += n;
}

/* A PRIORITY_UPDATE (type 0xF0700 in four bytes): its element ID as `id` (a whole varint),
 * then `value`; the offset after the ID is unsafe when a value follows. */
static void priority_update(control_stream *s, const uint8_t *id, size_t idlen, const char *value)
{
    static const uint8_t type[] = {0x80, 0x0F, 0x07, 0x00};
    size_t vlen = strlen(value);
    uint8_t length = (uint8_t)(idlen + vlen);
    put(s, type, sizeof(type));
    put(s, &length, 1);
    put(s, id, idlen);
    if (vlen > 0) {
        s->unsafe[s->nunsafe++] = s->len;
    }
    put(s, (const uint8_t *)value, vlen);
}

/* Type 0x00 written in eight bytes, SETTINGS, PRIORITY_UPDATEs with IDs of one, two and eight
 * bytes and one without a value, a reserved frame whose payload looks like one, GOAWAY. */
static void build(control_stream *s)
{
    static const uint8_t type[] = {0xC0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t settings[] = {0x04, 0x04, 0x01, 0x00, 0x07, 0x00};
    static const uint8_t id1[] = {0x04};
    static const uint8_t id2[] = {0x40, 0x08};
    static const uint8_t id8[] = {0xC0, 0, 0, 0, 0, 0, 0, 0x0C};
    static const uint8_t reserved[] = {0x21, 0x06, 0x80, 0x0F, 0x07, 0x00, 0x01, 0x04};
    static const uint8_t goaway[] = {0x07, 0x01, 0x00};
    memset(s, 0, sizeof(*s));
    put(s, type, sizeof(type));
    put(s, settings, sizeof(settings));
    priority_update(s, id1, sizeof(id1), "u=2, i");
    priority_update(s, id2, sizeof(id2), "u=7");
    put(s, reserved, sizeof(reserved));
    priority_update(s, id8, sizeof(id8), "i");
    priority_update(s, id1, sizeof(id1), "");
    put(s, goaway, sizeof(goaway));
}

/* What nghttp3 was handed, call by call. */
typedef struct handed {
    uint8_t bytes[STREAM_MAX];
    size_t len;
    size_t ends[3 * STREAM_MAX];
    size_t nends;
} handed;

static void deliver(masque_ctrl_guard *g, handed *h, const uint8_t *data, size_t len, int fin)
{
    masque_ctrl_pieces out;
    size_t i;
    masque_ctrl_guard_split(g, data, len, fin, &out);
    for (i = 0; i < out.count; i++) {
        assert_true(out.len[i] > 0);
        memcpy(h->bytes + h->len, out.data[i], out.len[i]);
        h->len += out.len[i];
        h->ends[h->nends++] = h->len;
    }
}

static void assert_safe(const control_stream *s, const handed *h)
{
    size_t i;
    size_t k;
    for (i = 0; i < h->nends; i++) {
        for (k = 0; k < s->nunsafe; k++) {
            assert_int_not_equal(h->ends[i], s->unsafe[k]);
        }
    }
}

/* Every cut into two and into three pieces: all bytes in order, no read ending unsafely. */
static void test_ctrl_guard_every_cut(void **state)
{
    control_stream s;
    size_t a;
    size_t b;
    (void)state;
    build(&s);
    assert_int_equal(s.nunsafe, 3);
    for (a = 0; a <= s.len; a++) {
        for (b = a; b <= s.len; b++) {
            masque_ctrl_guard g;
            handed h;
            memset(&g, 0, sizeof(g));
            memset(&h, 0, sizeof(h));
            deliver(&g, &h, s.bytes, a, 0);
            deliver(&g, &h, s.bytes + a, b - a, 0);
            deliver(&g, &h, s.bytes + b, s.len - b, 0);
            assert_int_equal(h.len, s.len);
            assert_memory_equal(h.bytes, s.bytes, s.len);
            assert_int_equal(g.has_held, 0);
            assert_safe(&s, &h);
        }
    }
}

/* One byte at a time: each held byte goes over with the next one. */
static void test_ctrl_guard_byte_by_byte(void **state)
{
    control_stream s;
    masque_ctrl_guard g;
    handed h;
    size_t i;
    (void)state;
    build(&s);
    memset(&g, 0, sizeof(g));
    memset(&h, 0, sizeof(h));
    for (i = 0; i < s.len; i++) {
        deliver(&g, &h, s.bytes + i, 1, 0);
    }
    assert_int_equal(h.len, s.len);
    assert_memory_equal(h.bytes, s.bytes, s.len);
    assert_safe(&s, &h);
}

/* RFC 9114 §6.2.1: a control stream that ends fails the connection; one that ends right
 * after an element ID loses that byte rather than reach nghttp3 there. */
static void test_ctrl_guard_fin_after_element_id(void **state)
{
    control_stream s;
    masque_ctrl_guard g;
    handed h;
    (void)state;
    build(&s);
    memset(&g, 0, sizeof(g));
    memset(&h, 0, sizeof(h));
    deliver(&g, &h, s.bytes, s.unsafe[0], 1);
    assert_int_equal(h.len, s.unsafe[0] - 1);
    assert_memory_equal(h.bytes, s.bytes, h.len);
    assert_int_equal(g.has_held, 0);
    assert_safe(&s, &h);
    /* Held first, then the end of the stream alone: nothing is handed but the FIN. */
    memset(&g, 0, sizeof(g));
    memset(&h, 0, sizeof(h));
    deliver(&g, &h, s.bytes, s.unsafe[0], 0);
    assert_int_equal(g.has_held, 1);
    deliver(&g, &h, s.bytes, 0, 1);
    assert_int_equal(h.len, s.unsafe[0] - 1);
    assert_int_equal(g.has_held, 0);
}

/* Any other stream type (a QPACK stream, 0x02) goes through as it comes. */
static void test_ctrl_guard_other_streams_untouched(void **state)
{
    static const uint8_t qpack[] = {0x02, 0x80, 0x0F, 0x07, 0x00, 0x04, 0x04};
    masque_ctrl_guard g;
    masque_ctrl_pieces out;
    size_t i;
    (void)state;
    memset(&g, 0, sizeof(g));
    for (i = 0; i < sizeof(qpack); i++) {
        masque_ctrl_guard_split(&g, qpack + i, 1, 0, &out);
        assert_int_equal(out.count, 1);
        assert_ptr_equal(out.data[0], qpack + i);
        assert_int_equal(out.len[0], 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl_guard_every_cut),
        cmocka_unit_test(test_ctrl_guard_byte_by_byte),
        cmocka_unit_test(test_ctrl_guard_fin_after_element_id),
        cmocka_unit_test(test_ctrl_guard_other_streams_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
