/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Guard pages, as picohttpparser's tests place their input: every decoder is given input that
 * ends exactly where an unreadable page starts (and input that starts right after one), at every
 * length from empty to whole, so that a read past the end or before the start faults even
 * without sanitizers; every encoder that writes backwards into headroom (*_prepend) is given
 * exactly the headroom it needs, and one byte less, with an unwritable page right before it.
 */
#define _DEFAULT_SOURCE
#include "builders.h"
#include "session_util.h"

#include <sys/mman.h>
#include <unistd.h>

#include "masque/masque.h"

static uint8_t *page; /* one read-write page between two PROT_NONE pages */
static size_t page_size;

static int setup(void **state)
{
    uint8_t *map;
    (void)state;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    map = mmap(NULL, 3 * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        return -1;
    }
    if (mprotect(map, page_size, PROT_NONE) != 0 ||
        mprotect(map + 2 * page_size, page_size, PROT_NONE) != 0) {
        return -1;
    }
    page = map + page_size;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return munmap(page - page_size, 3 * page_size);
}

/* Copies n bytes so that they end at the guard after the page. */
static const uint8_t *at_end(const uint8_t *src, size_t n)
{
    uint8_t *p = page + page_size - n;
    if (n > 0) {
        memcpy(p, src, n);
    }
    return p;
}

/* Copies n bytes right after the guard before the page. */
static const uint8_t *at_start(const uint8_t *src, size_t n)
{
    if (n > 0) {
        memcpy(page, src, n);
    }
    return page;
}

typedef masque_ssize (*decoder)(const uint8_t *src, size_t len);

static masque_ssize dec_varint(const uint8_t *src, size_t len)
{
    uint64_t v;
    return masque_varint_decode(&v, src, len);
}

static masque_ssize dec_capsule(const uint8_t *src, size_t len)
{
    masque_capsule c;
    return masque_capsule_decode(&c, src, len);
}

static masque_ssize dec_assign(const uint8_t *src, size_t len)
{
    masque_compression_assign a;
    return masque_compression_assign_decode(&a, src, len);
}

static masque_ssize dec_id(const uint8_t *src, size_t len)
{
    uint64_t id;
    return masque_compression_id_decode(&id, src, len);
}

static masque_ssize dec_h3(const uint8_t *src, size_t len)
{
    masque_h3_datagram d;
    return masque_h3_datagram_decode(&d, src, len);
}

static masque_ssize dec_context(const uint8_t *src, size_t len)
{
    masque_context_payload p;
    return masque_context_payload_decode(&p, src, len);
}

static masque_ssize dec_tuple(const uint8_t *src, size_t len)
{
    masque_address a;
    const uint8_t *payload;
    size_t n;
    return masque_bind_tuple_decode(&a, &payload, &n, src, len);
}

static masque_ssize dec_uncompressed(const uint8_t *src, size_t len)
{
    masque_bind_datagram d;
    return masque_bind_uncompressed_decode(&d, src, len);
}

static masque_ssize dec_compressed(const uint8_t *src, size_t len)
{
    masque_bind_datagram d;
    return masque_bind_compressed_decode(&d, src, len);
}

static masque_ssize dec_parser(const uint8_t *src, size_t len)
{
    masque_capsule_parser p;
    masque_capsule_event ev;
    size_t off = 0;
    masque_capsule_parser_init(&p, NULL);
    while (off < len) {
        masque_ssize n = masque_capsule_parser_feed(&p, src + off, len - off, &ev);
        if (n <= 0) {
            return n;
        }
        off += (size_t)n;
    }
    return masque_capsule_parser_finish(&p);
}

static masque_ssize dec_address_text(const uint8_t *src, size_t len)
{
    masque_address a;
    return masque_address_parse(&a, (const char *)src, len, 1);
}

/* Runs a decoder over every prefix of a sample, against both guards. */
static void guard_every_prefix(decoder d, const uint8_t *sample, size_t n)
{
    size_t cut;
    for (cut = 0; cut <= n; cut++) {
        masque_ssize a = d(at_end(sample, cut), cut);
        masque_ssize b = d(at_start(sample, cut), cut);
        assert_int_equal(a, b); /* the same answer wherever the bytes are */
        assert_true(a <= (masque_ssize)cut);
    }
}

static void test_QV_1_DG_12_decoders_never_read_outside_their_input(void **state)
{
    wire w;
    uint8_t v6[] = {0x02, 0x06, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,    0,   0,
                    0,    0,    0,    0,    0,    0,    1, 0x01, 0xbb, 'h', 'i'};
    (void)state;
    guard_every_prefix(dec_varint, (const uint8_t *)"\xc2\x19\x7c\x5e\xff\x14\xe8\x8c", 8);
    w = cat(assign(4, "192.0.2.42:1234"), cat(ack(4), close_capsule(4)));
    guard_every_prefix(dec_capsule, w.b, w.n);
    guard_every_prefix(dec_parser, w.b, w.n);
    guard_every_prefix(dec_assign, w.b + 2, 8); /* the ASSIGN's value */
    guard_every_prefix(dec_id, (const uint8_t *)"\x80\x00\x00\x04", 4);
    guard_every_prefix(dec_h3, (const uint8_t *)"\x4b\x00\x02\x04", 4);
    guard_every_prefix(dec_context, v6, sizeof(v6));
    guard_every_prefix(dec_tuple, v6 + 1, sizeof(v6) - 1);
    guard_every_prefix(dec_uncompressed, v6, sizeof(v6));
    guard_every_prefix(dec_compressed, (const uint8_t *)"\x04payload", 8);
    w = dgram_capsule(4, "a UDP payload");
    guard_every_prefix(dec_parser, w.b, w.n);
    guard_every_prefix(dec_address_text, (const uint8_t *)"192.0.2.45:54321", 16);
#if MASQUE_ENABLE_IPV6
    guard_every_prefix(dec_address_text, (const uint8_t *)"[2001:db8::1234]:54321", 22);
#endif
}

#if MASQUE_ENABLE_HTTP
static masque_ssize dec_ppa(const uint8_t *src, size_t len)
{
    masque_address a[2];
    size_t n;
    masque_str v;
    v.ptr = (const char *)src;
    v.len = len;
    return masque_proxy_public_address_parse(v, a, 2, &n);
}

static masque_ssize dec_sf(const uint8_t *src, size_t len)
{
    masque_str v;
    v.ptr = (const char *)src;
    v.len = len;
    return masque_sf_is_true(v);
}

static masque_ssize dec_path(const uint8_t *src, size_t len)
{
    static const char tmpl[] = "https://example.org/udp/{target_host}/{target_port}/";
    masque_request_target t;
    masque_str tv = {tmpl, sizeof(tmpl) - 1};
    masque_str pv;
    pv.ptr = (const char *)src;
    pv.len = len;
    return masque_uri_template_match(tv, pv, &t);
}

static masque_ssize dec_template(const uint8_t *src, size_t len)
{
    masque_str t;
    t.ptr = (const char *)src;
    t.len = len;
    return masque_uri_template_check(t, NULL);
}

static void test_DG_15_UDP_1_text_parsers_never_read_outside_their_input(void **state)
{
    static const char ppa[] = "\"192.0.2.45:54321\";a=%\"caf%c3%a9\", \"192.0.2.46:1\";b=:aGk=:";
    static const char sf[] = "?1;a=\"x\\\"y\";b=-1.5;c=@17;d=tok/en";
    static const char path[] = "/udp/2001%3Adb8%3A%3A1/443/";
    static const char tmpl[] = "https://example.org/udp{?target_host,target_port}";
    (void)state;
    guard_every_prefix(dec_ppa, (const uint8_t *)ppa, sizeof(ppa) - 1);
    guard_every_prefix(dec_sf, (const uint8_t *)sf, sizeof(sf) - 1);
    guard_every_prefix(dec_path, (const uint8_t *)path, sizeof(path) - 1);
    guard_every_prefix(dec_template, (const uint8_t *)tmpl, sizeof(tmpl) - 1);
}
#endif

static void test_DG_11_sessions_never_read_outside_their_input(void **state)
{
    static endpoint e;
    wire w = cat(cat(assign(2, NULL), assign(4, "192.0.2.42:1234")), dgram_capsule(4, "hello"));
    wire d = dgram(4, "hello");
    size_t cut;
    (void)state;
    for (cut = 0; cut <= w.n; cut++) {
        masque_packet pkt;
        endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
        assert_true(masque_session_read_stream(&e.s, at_end(w.b, cut), cut, 0, &pkt) >= 0);
    }
    for (cut = 0; cut <= d.n; cut++) {
        masque_packet pkt;
        assert_true(masque_session_read_datagram(&e.s, at_end(d.b, cut), cut, 0, &pkt) >= 0);
        assert_true(masque_session_read_datagram(&e.s, at_start(d.b, cut), cut, 0, &pkt) >= 0);
    }
}

/* The payload sits `headroom` bytes after the guard; returns where. */
static uint8_t *payload_after(size_t headroom, size_t payload_len)
{
    uint8_t *p = page + headroom;
    memset(page, 0xee, headroom + payload_len);
    return p;
}

static void test_prepends_never_write_before_their_headroom(void **state)
{
    static endpoint e;
    masque_address to = tuple("192.0.2.9:53");
    masque_bind_frame f;
    masque_datagram_path path;
    masque_ssize need;
    uint64_t qsid;
    (void)state;
    /* Capsule header, HTTP/3 datagram prefix, Bind frames: exact headroom, then one less. */
    for (qsid = 0; qsid < 5; qsid++) {
        uint64_t big = qsid == 0 ? 0 : ((uint64_t)1 << (qsid * 14)) - 1;
        need = (masque_ssize)masque_capsule_header_len(0x00, big);
        assert_int_equal(
            masque_capsule_header_prepend(payload_after((size_t)need, 0), (size_t)need, 0x00, big),
            need);
        assert_int_equal(masque_capsule_header_prepend(payload_after((size_t)need - 1, 0),
                                                       (size_t)need - 1, 0x00, big),
                         MASQUE_ERR_BUFFER);
        need = (masque_ssize)masque_varint_len(big);
        assert_int_equal(
            masque_h3_datagram_prepend(payload_after((size_t)need, 4), (size_t)need, big), need);
        assert_int_equal(
            masque_h3_datagram_prepend(payload_after((size_t)need - 1, 4), (size_t)need - 1, big),
            MASQUE_ERR_BUFFER);
    }
    memset(&f, 0, sizeof(f));
    for (f.path = MASQUE_PATH_H3_DATAGRAM; f.path <= MASQUE_PATH_CAPSULE;
         f.path = (masque_datagram_path)(f.path + 1)) {
        f.quarter_stream_id = 11;
        f.context_id = 2;
        f.target = &to;
        need = (masque_ssize)masque_bind_frame_header_len(&f, 24);
        assert_int_equal(
            masque_bind_frame_prepend(payload_after((size_t)need, 24), (size_t)need, 24, &f), need);
        assert_int_equal(masque_bind_frame_prepend(payload_after((size_t)need - 1, 24),
                                                   (size_t)need - 1, 24, &f),
                         MASQUE_ERR_BUFFER);
    }
    /* A session frames in place too. */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    need = masque_session_write_datagram(&e.s, &to, payload_after(MASQUE_BIND_HEADROOM, 24),
                                         MASQUE_BIND_HEADROOM, 24, 0, &path);
    assert_true(need > 0);
    assert_int_equal(masque_session_write_datagram(&e.s, &to, payload_after((size_t)need, 24),
                                                   (size_t)need, 24, 0, &path),
                     need);
    assert_int_equal(masque_session_write_datagram(&e.s, &to, payload_after((size_t)need - 1, 24),
                                                   (size_t)need - 1, 24, 0, &path),
                     MASQUE_ERR_BUFFER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_QV_1_DG_12_decoders_never_read_outside_their_input),
#if MASQUE_ENABLE_HTTP
        cmocka_unit_test(test_DG_15_UDP_1_text_parsers_never_read_outside_their_input),
#endif
        cmocka_unit_test(test_DG_11_sessions_never_read_outside_their_input),
        cmocka_unit_test(test_prepends_never_write_before_their_headroom),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
