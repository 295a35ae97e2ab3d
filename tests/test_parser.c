/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The incremental capsule-stream parser (RFC 9297 §3). Every stream is fed whole, split at
 * every byte position, byte by byte and in random chunks; each way must give the same
 * transcript as one-shot decoding with masque_capsule_decode().
 */
#include "testutil.h"

#include "masque/capsule.h"

#define TRANSCRIPT_MAX 8192

/* What a stream decodes to: per capsule, type and length, then the value of known kinds. */
typedef struct transcript {
    uint8_t bytes[TRANSCRIPT_MAX];
    size_t len;
} transcript;

static void put_u64(transcript *t, uint64_t v)
{
    assert_true(t->len + 8 <= TRANSCRIPT_MAX);
    memcpy(t->bytes + t->len, &v, 8);
    t->len += 8;
}

static void put_bytes(transcript *t, const uint8_t *p, size_t n)
{
    assert_true(t->len + n <= TRANSCRIPT_MAX);
    if (n != 0) {
        memcpy(t->bytes + t->len, p, n);
    }
    t->len += n;
}

/* The reference: one-shot decoding of a complete stream. */
static void one_shot(masque_profile profile, const uint8_t *s, size_t n, transcript *t)
{
    size_t off = 0;
    t->len = 0;
    while (off < n) {
        masque_capsule cap;
        masque_ssize used = masque_capsule_decode(&cap, s + off, n - off);
        assert_true(used > 0);
        put_u64(t, cap.type);
        put_u64(t, cap.length);
        if (masque_capsule_kind_of(profile, cap.type) != MASQUE_CAPSULE_UNKNOWN) {
            put_bytes(t, cap.value, cap.length);
        }
        off += (size_t)used;
    }
}

/* A parser-side transcript being built, with DATAGRAM pieces reassembled. */
typedef struct sink {
    transcript t;
    uint8_t dgram[2048];
    size_t dgram_len;
} sink;

static void sink_event(sink *k, const masque_capsule_event *ev)
{
    switch (ev->event) {
    case MASQUE_CAPSULE_EVENT_NONE:
        return;
    case MASQUE_CAPSULE_EVENT_CONTROL:
        assert_int_equal(ev->data_len, ev->length);
        assert_true(ev->last);
        put_u64(&k->t, ev->type);
        put_u64(&k->t, ev->length);
        put_bytes(&k->t, ev->data, ev->data_len);
        return;
    case MASQUE_CAPSULE_EVENT_DATAGRAM:
        /* Pieces arrive in order, without gaps, and only the final one says last. */
        assert_true(ev->offset == k->dgram_len);
        assert_true(k->dgram_len + ev->data_len <= sizeof(k->dgram));
        if (ev->data_len != 0) {
            memcpy(k->dgram + k->dgram_len, ev->data, ev->data_len);
        }
        k->dgram_len += ev->data_len;
        assert_int_equal(ev->last != 0, k->dgram_len == ev->length);
        if (ev->last) {
            put_u64(&k->t, ev->type);
            put_u64(&k->t, ev->length);
            put_bytes(&k->t, k->dgram, k->dgram_len);
            k->dgram_len = 0;
        }
        return;
    case MASQUE_CAPSULE_EVENT_UNKNOWN:
    case MASQUE_CAPSULE_EVENT_DISCARDED:
        assert_null(ev->data);
        put_u64(&k->t, ev->type);
        put_u64(&k->t, ev->length);
        return;
    }
    fail_msg("unexpected event %d", (int)ev->event);
}

/* Feeds one chunk completely, recording every event. Returns the first error, or 0. */
static int feed_chunk(masque_capsule_parser *p, const uint8_t *c, size_t n, sink *k)
{
    size_t off = 0;
    do {
        masque_capsule_event ev;
        masque_ssize used = masque_capsule_parser_feed(p, c + off, n - off, &ev);
        if (used < 0) {
            return (int)used;
        }
        assert_true((size_t)used <= n - off);
        /* No progress is only allowed when an event came out. */
        assert_true(used > 0 || ev.event != MASQUE_CAPSULE_EVENT_NONE || n == off);
        off += (size_t)used;
        sink_event(k, &ev);
    } while (off < n);
    return 0;
}

static const char *const stream_hex =
    "11 02 02 00"                                                     /* ASSIGN uncompressed */
    "11 1b fffffffffffffffe 06 20010db8000000000000000000001234 d431" /* ASSIGN IPv6 */
    "12 01 02"                                                        /* ACK */
    "13 04 80000004"                                                  /* CLOSE, 4-byte ID */
    "40 40 03 aabbcc"                                                 /* unknown type 64 */
    "00 00"                                                           /* empty DATAGRAM */
    "7fff 4000"                          /* unknown, non-minimal zero length */
    "4000 80000002 04aa"                 /* DATAGRAM with non-minimal header */
    "11 08 04 04 cb00710b 10e1"          /* ASSIGN IPv4 */
    "00 0c 04 48656c6c6f2c20776f726c64"; /* DATAGRAM: ctx 4, "Hello, world" */

/* The stream above followed by a 1200-byte DATAGRAM capsule. */
static size_t make_stream(uint8_t *s, size_t cap)
{
    size_t n = hex_to_bytes(stream_hex, s, cap);
    size_t i;
    assert_true(n + 3 + 1200 <= cap);
    s[n++] = 0x00;
    s[n++] = 0x44; /* 1200 = 0x4b0, two-byte varint */
    s[n++] = 0xb0;
    for (i = 0; i < 1200; i++) {
        s[n++] = (uint8_t)(i * 7u);
    }
    return n;
}

static void expect_same_as_one_shot_for_chunking(const uint8_t *s, size_t n, const size_t *cuts,
                                                 size_t ncuts, const transcript *want)
{
    masque_capsule_parser p;
    static sink k;
    size_t prev = 0;
    size_t i;
    memset(&k, 0, sizeof(k));
    masque_capsule_parser_init(&p, NULL);
    for (i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        assert_int_equal(feed_chunk(&p, s + prev, end - prev, &k), 0);
        prev = end;
    }
    assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_OK);
    assert_int_equal(k.t.len, want->len);
    assert_memory_equal(k.t.bytes, want->bytes, want->len);
}

static void test_split_at_every_byte_matches_one_shot(void **state)
{
    static uint8_t s[2048];
    static transcript want;
    size_t n = make_stream(s, sizeof(s));
    size_t cut;
    (void)state;
    one_shot(MASQUE_PROFILE_DRAFT10, s, n, &want);
    expect_same_as_one_shot_for_chunking(s, n, NULL, 0, &want);
    for (cut = 0; cut <= n; cut++) {
        expect_same_as_one_shot_for_chunking(s, n, &cut, 1, &want);
    }
}

static void test_byte_by_byte_matches_one_shot(void **state)
{
    static uint8_t s[2048];
    static transcript want;
    static size_t cuts[2048];
    size_t n = make_stream(s, sizeof(s));
    size_t i;
    (void)state;
    one_shot(MASQUE_PROFILE_DRAFT10, s, n, &want);
    for (i = 0; i + 1 < n; i++) {
        cuts[i] = i + 1;
    }
    expect_same_as_one_shot_for_chunking(s, n, cuts, n - 1, &want);
}

static void test_random_chunks_match_one_shot(void **state)
{
    static uint8_t s[2048];
    static transcript want;
    size_t n = make_stream(s, sizeof(s));
    test_rng rng = {TEST_SEED};
    int round;
    (void)state;
    one_shot(MASQUE_PROFILE_DRAFT10, s, n, &want);
    for (round = 0; round < 300; round++) {
        size_t cuts[64];
        size_t ncuts = 0;
        size_t at = 0;
        while (ncuts < 64) {
            at += 1 + rng_below(&rng, 60);
            if (at >= n) {
                break;
            }
            cuts[ncuts++] = at;
        }
        expect_same_as_one_shot_for_chunking(s, n, cuts, ncuts, &want);
    }
}

static void test_contiguous_capsules_are_views_into_the_chunk(void **state)
{
    uint8_t s[64];
    size_t n = hex_to_bytes("11 02 02 00  00 03 04 aabb", s, sizeof(s));
    masque_capsule_parser p;
    masque_capsule_event ev;
    (void)state;
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(&p, s, n, &ev), 4);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_CONTROL);
    assert_int_equal(ev.kind, MASQUE_CAPSULE_COMPRESSION_ASSIGN);
    assert_ptr_equal(ev.data, s + 2);
    assert_int_equal(masque_capsule_parser_feed(&p, s + 4, n - 4, &ev), 5);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_DATAGRAM);
    assert_ptr_equal(ev.data, s + 6);
    assert_int_equal(ev.data_len, 3);
    assert_true(ev.last);
    assert_int_equal(masque_capsule_parser_feed(&p, NULL, 0, &ev), 0);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_NONE);
}

static void test_DG_9_unknown_capsule_of_length_2_62_minus_1_is_skipped_unbuffered(void **state)
{
    static uint8_t chunk[65536];
    masque_capsule_parser p;
    masque_capsule_parser before;
    masque_capsule_event ev;
    uint8_t header[10];
    size_t n = hex_to_bytes("4040 ffffffffffffffff", header, sizeof(header));
    int i;
    (void)state;
    memset(chunk, 0xAA, sizeof(chunk));
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(&p, header, n, &ev), (masque_ssize)n);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_UNKNOWN);
    assert_true(ev.type == 64u);
    assert_true(ev.length == MASQUE_VARINT_MAX);
    for (i = 0; i < 64; i++) { /* 4 MiB of value: all consumed, nothing reported */
        assert_int_equal(masque_capsule_parser_feed(&p, chunk, sizeof(chunk), &ev),
                         (masque_ssize)sizeof(chunk));
        assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_NONE);
    }
    before = p;
    assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_ERR_STREAM_TRUNCATED);
    assert_memory_equal(&before, &p, sizeof(p)); /* finish only looks */
}

/* Feeds only a header and expects a length error before any of the value arrives. */
static void expect_header_error(masque_profile profile, const char *hex)
{
    masque_capsule_parser_config cfg;
    masque_capsule_parser p;
    masque_capsule_event ev;
    uint8_t header[16];
    size_t n = hex_to_bytes(hex, header, sizeof(header));
    memset(&cfg, 0, sizeof(cfg));
    cfg.profile = profile;
    masque_capsule_parser_init(&p, &cfg);
    assert_int_equal(masque_capsule_parser_feed(&p, header, n, &ev), MASQUE_ERR_CAPSULE_LENGTH);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_NONE);
    /* The stream is dead: malformed (RFC 9297 §3.3), and it stays so. */
    assert_int_equal(masque_capsule_parser_feed(&p, header, n, &ev), MASQUE_ERR_PARSER_FAILED);
    assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_ERR_CAPSULE_LENGTH);
}

static void test_DG_12_length_bounds_are_checked_when_the_length_is_read(void **state)
{
    (void)state;
    expect_header_error(MASQUE_PROFILE_DRAFT10, "11 1c");       /* ASSIGN above 27 */
    expect_header_error(MASQUE_PROFILE_DRAFT10, "11 01");       /* ASSIGN below 2 */
    expect_header_error(MASQUE_PROFILE_DRAFT10, "11 00");       /* empty ASSIGN */
    expect_header_error(MASQUE_PROFILE_DRAFT10, "11 bfffffff"); /* length that lies */
    expect_header_error(MASQUE_PROFILE_DRAFT10, "12 00");       /* empty ACK */
    expect_header_error(MASQUE_PROFILE_DRAFT10, "12 09");       /* ACK above 8 */
    expect_header_error(MASQUE_PROFILE_DRAFT10, "13 00");       /* empty CLOSE */
    expect_header_error(MASQUE_PROFILE_DRAFT10, "13 4009");     /* CLOSE above 8 */
#if MASQUE_ENABLE_DRAFT04
    expect_header_error(MASQUE_PROFILE_DRAFT04, "9c0fe323 1c"); /* draft-04 ASSIGN too */
    expect_header_error(MASQUE_PROFILE_DRAFT04, "9c0fe324 09");
#endif
}

static void test_DG_12_largest_legal_control_lengths_are_accepted(void **state)
{
    masque_capsule_parser p;
    masque_capsule_event ev;
    (void)state;
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(&p, (const uint8_t *)"\x11\x1b", 2, &ev), 2);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_NONE);
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(&p, (const uint8_t *)"\x12\x08", 2, &ev), 2);
    assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_ERR_STREAM_TRUNCATED);
}

static void test_UDP_11_datagram_capsule_above_the_limit_aborts_by_default(void **state)
{
    masque_capsule_parser p;
    masque_capsule_event ev;
    uint8_t header[8];
    size_t n;
    (void)state;
    /* 8 + 19 + 65527 = 65554 is the largest Bind datagram: accepted. */
    n = hex_to_bytes("00 80010012", header, sizeof(header));
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(&p, header, n, &ev), (masque_ssize)n);
    /* One more byte: it cannot carry a legal UDP payload (RFC 9298 §5). */
    n = hex_to_bytes("00 80010013", header, sizeof(header));
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(&p, header, n, &ev), MASQUE_ERR_CAPSULE_LENGTH);
}

static void
test_DG_18_UDP_12_oversized_datagram_capsule_is_discarded_without_buffering(void **state)
{
    masque_capsule_parser_config cfg;
    masque_capsule_parser p;
    masque_capsule_event ev;
    uint8_t s[256];
    size_t n;
    masque_ssize used;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_datagram_len = 100;
    cfg.oversize = MASQUE_OVERSIZE_DISCARD;
    masque_capsule_parser_init(&p, &cfg);
    memset(s, 0xEE, sizeof(s));
    s[0] = 0x00;
    s[1] = 0x40; /* length 101 */
    s[2] = 0x65;
    memcpy(s + 3 + 101, "\x12\x01\x06", 3);
    n = 3 + 101 + 3;
    used = masque_capsule_parser_feed(&p, s, n, &ev);
    assert_int_equal(used, 3);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_DISCARDED);
    assert_true(ev.length == 101u);
    used = masque_capsule_parser_feed(&p, s + 3, n - 3, &ev);
    assert_int_equal(used, 104); /* the value was skipped, the ACK after it parsed */
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_CONTROL);
    assert_memory_equal(ev.data, "\x06", 1);
    /* UDP-12: the same with the default policy is an abort. */
    cfg.oversize = MASQUE_OVERSIZE_ABORT;
    masque_capsule_parser_init(&p, &cfg);
    assert_int_equal(masque_capsule_parser_feed(&p, s, n, &ev), MASQUE_ERR_CAPSULE_LENGTH);
    /* At the limit it is delivered. */
    s[2] = 0x64;
    masque_capsule_parser_init(&p, &cfg);
    assert_int_equal(masque_capsule_parser_feed(&p, s, n, &ev), 103);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_DATAGRAM);
    assert_int_equal(ev.data_len, 100);
}

/*
 * RFC 9297 §3.2 (DG-21): a DATAGRAM capsule's value is handed out as its bytes arrive, never
 * held until it is whole: a receiver that waited for the rest could exhaust flow control and
 * deadlock. Both interfaces give the first 100 of 1000 bytes at once, as a view.
 */
static void test_DG_21_a_datagram_value_is_handed_out_before_it_is_whole(void **state)
{
    static uint8_t s[3 + 1000];
    masque_capsule_parser p;
    masque_capsule_event ev;
    masque_capsule_piece pieces[4];
    size_t count = 0;
    (void)state;
    s[0] = 0x00; /* DATAGRAM */
    s[1] = 0x43; /* Length 1000 in two bytes */
    s[2] = 0xE8;
    memset(s + 3, 0xAB, 1000);
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(&p, s, 103, &ev), 103);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_DATAGRAM);
    assert_ptr_equal(ev.data, s + 3);
    assert_int_equal(ev.data_len, 100);
    assert_true(ev.offset == 0 && ev.length == 1000u && !ev.last);
    assert_int_equal(masque_capsule_parser_feed(&p, s + 103, 900, &ev), 900);
    assert_true(ev.offset == 100u && ev.data_len == 900 && ev.last);
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed_batch(&p, s, 103, pieces, 4, &count), 103);
    assert_int_equal(count, 1);
    assert_ptr_equal(pieces[0].data, s + 3);
    assert_true(pieces[0].len == 100u && pieces[0].first && !pieces[0].last);
    assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_ERR_STREAM_TRUNCATED);
}

static void test_DG_14_stream_ending_inside_a_capsule_is_malformed(void **state)
{
    static const char *const prefixes[] = {"11",       "40",       "11 02",
                                           "11 02 02", "00 05 04", "7fff 02 aa"};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        masque_capsule_parser p;
        masque_capsule_event ev;
        uint8_t s[16];
        size_t n = hex_to_bytes(prefixes[i], s, sizeof(s));
        size_t off = 0;
        masque_capsule_parser_init(&p, NULL);
        while (off < n) {
            masque_ssize used = masque_capsule_parser_feed(&p, s + off, n - off, &ev);
            assert_true(used >= 0);
            off += (size_t)used;
        }
        assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_ERR_STREAM_TRUNCATED);
    }
}

/* One event or piece, with its value copied out, for comparing the two feeding styles. */
typedef struct piece_log {
    masque_capsule_piece piece[512];
    uint8_t bytes[8192];
    size_t bytes_len;
    size_t n;
    int error;
} piece_log;

static void log_piece(piece_log *g, const masque_capsule_piece *pc)
{
    assert_true(g->n < sizeof(g->piece) / sizeof(g->piece[0]));
    assert_true(g->bytes_len + pc->len <= sizeof(g->bytes));
    g->piece[g->n++] = *pc;
    if (pc->len != 0) {
        memcpy(g->bytes + g->bytes_len, pc->data, pc->len);
    }
    g->bytes_len += pc->len;
}

/* The reference: masque_capsule_parser_feed() until each chunk is consumed. */
static void log_single_steps(const masque_capsule_parser_config *cfg, const uint8_t *s, size_t n,
                             const size_t *cuts, size_t ncuts, piece_log *g)
{
    masque_capsule_parser p;
    size_t prev = 0;
    size_t i;
    masque_capsule_parser_init(&p, cfg);
    for (i = 0; i <= ncuts && g->error == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        size_t off = prev;
        while (off < end || off == prev) {
            masque_capsule_event ev;
            masque_ssize used = masque_capsule_parser_feed(&p, s + off, end - off, &ev);
            if (used < 0) {
                g->error = (int)used;
                break;
            }
            off += (size_t)used;
            if (ev.event != MASQUE_CAPSULE_EVENT_NONE) {
                masque_capsule_piece pc;
                pc.data = ev.data;
                pc.len = (uint32_t)ev.data_len;
                pc.event = (uint8_t)ev.event;
                pc.kind = (uint8_t)ev.kind;
                pc.first = (uint8_t)(ev.offset == 0);
                pc.last = (uint8_t)(ev.last != 0);
                pc.length = ev.length;
                log_piece(g, &pc);
            } else if (off == end) {
                break;
            }
        }
        prev = end;
    }
}

/* Whether p is inside [s, s + n), compared as integers: the pointers may be unrelated. */
static int points_into(const uint8_t *p, const uint8_t *s, size_t n)
{
    uintptr_t at = (uintptr_t)p;
    return at >= (uintptr_t)s && at - (uintptr_t)s < n;
}

/* The same chunks through masque_capsule_parser_feed_batch() with room for `room` pieces. */
static void log_batches(const masque_capsule_parser_config *cfg, const uint8_t *s, size_t n,
                        const size_t *cuts, size_t ncuts, size_t room, piece_log *g)
{
    masque_capsule_parser p;
    size_t prev = 0;
    size_t i;
    masque_capsule_parser_init(&p, cfg);
    for (i = 0; i <= ncuts && g->error == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        size_t off = prev;
        do {
            masque_capsule_piece out[8];
            size_t count = 99;
            size_t k;
            masque_ssize used =
                masque_capsule_parser_feed_batch(&p, s + off, end - off, out, room, &count);
            assert_true(count <= room);
            for (k = 0; k < count; k++) {
                log_piece(g, &out[k]);
            }
            if (used < 0) {
                g->error = (int)used;
                break;
            }
            /* Everything is consumed unless the room filled up or a gathered value ended it. */
            assert_true((size_t)used == end - off || count == room ||
                        (count > 0 && out[count - 1].event == MASQUE_CAPSULE_EVENT_CONTROL &&
                         !points_into(out[count - 1].data, s, n)));
            off += (size_t)used;
        } while (off < end);
        prev = end;
    }
}

static void expect_same_logs(const piece_log *a, const piece_log *b)
{
    size_t i;
    assert_int_equal(a->error, b->error);
    assert_int_equal(a->n, b->n);
    for (i = 0; i < a->n; i++) {
        const masque_capsule_piece *x = &a->piece[i];
        const masque_capsule_piece *y = &b->piece[i];
        assert_int_equal(x->event, y->event);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->first, y->first);
        assert_int_equal(x->last, y->last);
        assert_true(x->length == y->length);
        assert_int_equal(x->len, y->len);
        if (x->event == MASQUE_CAPSULE_EVENT_DATAGRAM) {
            assert_ptr_equal(x->data, y->data); /* both views into the same stream bytes */
        }
    }
    assert_int_equal(a->bytes_len, b->bytes_len);
    assert_memory_equal(a->bytes, b->bytes, a->bytes_len);
}

static void expect_batch_matches_single_steps(const masque_capsule_parser_config *cfg,
                                              const uint8_t *s, size_t n, test_rng *rng)
{
    static piece_log ref;
    static piece_log got;
    int round;
    for (round = 0; round < 200; round++) {
        size_t cuts[64];
        size_t ncuts = 0;
        size_t at = 0;
        size_t room = 1 + rng_below(rng, 8);
        size_t widest = round < 100 ? 8 : 400;
        while (ncuts < 64 && round > 0) {
            at += 1 + rng_below(rng, widest);
            if (at >= n) {
                break;
            }
            cuts[ncuts++] = at;
        }
        memset(&ref, 0, sizeof(ref));
        memset(&got, 0, sizeof(got));
        log_single_steps(cfg, s, n, cuts, ncuts, &ref);
        log_batches(cfg, s, n, cuts, ncuts, room, &got);
        expect_same_logs(&ref, &got);
    }
}

static void test_batch_feeding_gives_the_pieces_of_single_steps(void **state)
{
    static uint8_t s[2048];
    size_t n = make_stream(s, sizeof(s));
    test_rng rng = {TEST_SEED};
    masque_capsule_parser_config cfg;
    (void)state;
    expect_batch_matches_single_steps(NULL, s, n, &rng);
    /* A limit below the 1200-byte capsule: discarded in both styles. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_datagram_len = 100;
    cfg.oversize = MASQUE_OVERSIZE_DISCARD;
    expect_batch_matches_single_steps(&cfg, s, n, &rng);
    /* The same limit by default is an abort, with the pieces before it delivered. */
    cfg.oversize = MASQUE_OVERSIZE_ABORT;
    expect_batch_matches_single_steps(&cfg, s, n, &rng);
}

static void test_batch_feeding_reports_malformed_streams_like_single_steps(void **state)
{
    static const char *const streams[] = {
        "00 02 04aa  11 01 02  00 01 04",    /* DG-12: ASSIGN too short */
        "00 00  00 03 04aabb  13 09 aa",     /* DG-12: CLOSE ID field too long */
        "00 03 04aabb 00 00 00 02 04 aa 12", /* DATAGRAMs then a cut header */
    };
    test_rng rng = {TEST_SEED};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        uint8_t s[64];
        size_t n = hex_to_bytes(streams[i], s, sizeof(s));
        expect_batch_matches_single_steps(NULL, s, n, &rng);
    }
}

static void test_batch_pieces_are_views_and_stop_when_room_runs_out(void **state)
{
    uint8_t s[64];
    size_t n = hex_to_bytes("00 03 04aabb  11 02 02 00  00 02 06 cc  00 00", s, sizeof(s));
    masque_capsule_parser p;
    masque_capsule_piece out[4];
    size_t count = 0;
    (void)state;
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed_batch(&p, s, n, out, 2, &count), 9);
    assert_int_equal(count, 2);
    assert_ptr_equal(out[0].data, s + 2);
    assert_int_equal(out[0].len, 3);
    assert_int_equal(out[0].event, MASQUE_CAPSULE_EVENT_DATAGRAM);
    assert_true(out[0].first && out[0].last);
    assert_int_equal(out[1].event, MASQUE_CAPSULE_EVENT_CONTROL);
    assert_int_equal(out[1].kind, MASQUE_CAPSULE_COMPRESSION_ASSIGN);
    assert_ptr_equal(out[1].data, s + 7);
    assert_int_equal(masque_capsule_parser_feed_batch(&p, s + 9, n - 9, out, 4, &count), 6);
    assert_int_equal(count, 2);
    assert_ptr_equal(out[0].data, s + 11);
    assert_int_equal(out[0].len, 2);
    assert_int_equal(out[1].len, 0); /* an empty DATAGRAM is still a piece */
    assert_true(out[1].first && out[1].last);
    assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_OK);
    /* Bad arguments, and a failed parser stays failed. */
#if MASQUE_ENABLE_ARG_CHECKS /* config.h */
    assert_int_equal(masque_capsule_parser_feed_batch(NULL, s, n, out, 4, &count),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_parser_feed_batch(&p, s, n, NULL, 4, &count),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_parser_feed_batch(&p, s, n, out, 4, NULL),
                     MASQUE_ERR_INVALID_ARGUMENT);
#endif
    assert_int_equal(
        masque_capsule_parser_feed_batch(&p, (const uint8_t *)"\x11\x01\x02", 3, out, 4, &count),
        MASQUE_ERR_CAPSULE_LENGTH);
    assert_int_equal(count, 0);
    assert_int_equal(masque_capsule_parser_feed_batch(&p, s, n, out, 4, &count),
                     MASQUE_ERR_PARSER_FAILED);
}

#if MASQUE_ENABLE_DRAFT04
static void test_draft04_parser_knows_its_codepoints(void **state)
{
    masque_capsule_parser_config cfg;
    masque_capsule_parser p;
    masque_capsule_event ev;
    uint8_t s[32];
    size_t n = hex_to_bytes("9c0fe323 02 0200  12 01 02", s, sizeof(s));
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.profile = MASQUE_PROFILE_DRAFT04;
    masque_capsule_parser_init(&p, &cfg);
    assert_int_equal(masque_capsule_parser_feed(&p, s, n, &ev), 7);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_CONTROL);
    assert_int_equal(ev.kind, MASQUE_CAPSULE_COMPRESSION_ASSIGN);
    assert_int_equal(masque_capsule_parser_feed(&p, s + 7, n - 7, &ev), 2);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_UNKNOWN); /* no ACK in draft-04 */
    assert_int_equal(masque_capsule_parser_feed(&p, s + 9, n - 9, &ev), 1);
    assert_int_equal(ev.event, MASQUE_CAPSULE_EVENT_NONE);
    assert_int_equal(masque_capsule_parser_finish(&p), MASQUE_OK);
}
#endif

static void test_parser_rejects_bad_arguments(void **state)
{
    masque_capsule_parser p;
    masque_capsule_event ev;
    (void)state;
    MASQUE_REQUIRE(MASQUE_ENABLE_ARG_CHECKS);
    masque_capsule_parser_init(&p, NULL);
    assert_int_equal(masque_capsule_parser_feed(NULL, NULL, 0, &ev), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_parser_feed(&p, NULL, 1, &ev), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_parser_feed(&p, NULL, 0, NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_capsule_parser_finish(NULL), MASQUE_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_at_every_byte_matches_one_shot),
        cmocka_unit_test(test_byte_by_byte_matches_one_shot),
        cmocka_unit_test(test_random_chunks_match_one_shot),
        cmocka_unit_test(test_contiguous_capsules_are_views_into_the_chunk),
        cmocka_unit_test(test_DG_9_unknown_capsule_of_length_2_62_minus_1_is_skipped_unbuffered),
        cmocka_unit_test(test_DG_12_length_bounds_are_checked_when_the_length_is_read),
        cmocka_unit_test(test_DG_12_largest_legal_control_lengths_are_accepted),
        cmocka_unit_test(test_UDP_11_datagram_capsule_above_the_limit_aborts_by_default),
        cmocka_unit_test(
            test_DG_18_UDP_12_oversized_datagram_capsule_is_discarded_without_buffering),
        cmocka_unit_test(test_DG_14_stream_ending_inside_a_capsule_is_malformed),
        cmocka_unit_test(test_DG_21_a_datagram_value_is_handed_out_before_it_is_whole),
        cmocka_unit_test(test_batch_feeding_gives_the_pieces_of_single_steps),
        cmocka_unit_test(test_batch_feeding_reports_malformed_streams_like_single_steps),
        cmocka_unit_test(test_batch_pieces_are_views_and_stop_when_room_runs_out),
#if MASQUE_ENABLE_DRAFT04
        cmocka_unit_test(test_draft04_parser_knows_its_codepoints),
#endif
        cmocka_unit_test(test_parser_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
