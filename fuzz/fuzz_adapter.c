/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the adapter (adapter.h) between a client and a proxy session, behind a host
 * whose stack misbehaves as the script says: a stream without room, callbacks that fail,
 * frames routed to streams in every state (RFC 9297 §2.1), garbage on the stream and as
 * datagrams, FINs in and between capsules, time. Checked after every call: what each side
 * writes on its stream is whole, well-formed capsules of the kinds a session sends (RFC 9297
 * §3.2, -10 §4); each QUIC DATAGRAM frame names the side's request; a stream is aborted at
 * most once, with an HTTP/3 error code, and nothing is written on it afterwards; the
 * adapter's answers agree with what it did to the stream; every payload a host receives is one
 * the other host sent, whole, with one of its tuples (until garbage was fed); and until garbage
 * was fed or a host misbehaved, no stream is aborted but for -10 §9's bound on responses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_script.h"
#include "masque/adapter.h"
#include "masque/capsule.h"
#include "masque/datagram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAPACITY     8
#define OUT_MAX      4096u
#define FRAMES       8u
#define FRAME_MAX    (MASQUE_BIND_HEADROOM + 64u)
#define PAYLOAD_BYTE 0x42u

typedef struct end {
    masque_session s;
    uint64_t storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(CAPACITY) / 8];
    masque_adapter a;
    /* The stream as written, and how far the other side has read it. */
    uint8_t out[OUT_MAX];
    size_t out_len;
    size_t delivered;
    masque_capsule_parser written; /* parses out[] as it is written: must never fail */
    /* QUIC DATAGRAM frames written, not yet delivered to the other side. */
    uint8_t frames[FRAMES][FRAME_MAX];
    size_t frame_len[FRAMES];
    size_t frame_count;
    /* The host's stack, as the script sets it. */
    int no_room;
    int fail_stream;
    int fail_datagram;
    masque_stream_state lookup_state;
    /* What the host saw. */
    unsigned aborts;
} end;

static end client;
static end proxy;
/* Set once garbage was fed to either side: what comes out is then no longer what was sent. */
static int tainted;
/* Set once the script had a host misbehave (no room, failing writes, a frame routed to a stream
 * in another state) or end a stream: until then, neither side has cause to abort. */
static int host_odd;

/* One whole capsule value of a kind a session writes, decoded as its peer will. */
static void check_capsule(const masque_capsule_event *ev)
{
    switch (ev->event) {
    case MASQUE_CAPSULE_EVENT_NONE:
    case MASQUE_CAPSULE_EVENT_DATAGRAM:
        return;
    case MASQUE_CAPSULE_EVENT_CONTROL:
        if (ev->kind == MASQUE_CAPSULE_COMPRESSION_ASSIGN) {
            masque_compression_assign assign;
            if (masque_compression_assign_decode(&assign, ev->data, ev->data_len) < 0) {
                abort();
            }
        } else {
            uint64_t id;
            if (masque_compression_id_decode(&id, ev->data, ev->data_len) < 0) {
                abort();
            }
        }
        return;
    default:
        abort(); /* a session writes no unknown capsule and no oversized DATAGRAM */
    }
}

static int host_write_stream(void *host, const uint8_t *bytes, size_t len)
{
    end *e = host;
    size_t off = 0;
    if (e->aborts != 0 || len == 0) {
        abort(); /* nothing after the abort, and no empty writes */
    }
    if (e->fail_stream) {
        return -1;
    }
    if (e->no_room || len > OUT_MAX - e->out_len) {
        return MASQUE_HOST_NO_ROOM;
    }
    memcpy(e->out + e->out_len, bytes, len);
    e->out_len += len;
    while (off < len) {
        masque_capsule_event ev;
        masque_ssize n = masque_capsule_parser_feed(&e->written, bytes + off, len - off, &ev);
        if (n < 0 || (n == 0 && ev.event == MASQUE_CAPSULE_EVENT_NONE)) {
            abort();
        }
        check_capsule(&ev);
        off += (size_t)n;
    }
    if (masque_capsule_parser_finish(&e->written) != MASQUE_OK) {
        abort(); /* every write holds whole capsules: another write may never come */
    }
    return 0;
}

static int host_write_datagram(void *host, const uint8_t *frame, size_t len)
{
    end *e = host;
    masque_h3_datagram d;
    if (e->aborts != 0) {
        abort();
    }
    if (masque_h3_datagram_decode(&d, frame, len) < 0 ||
        d.quarter_stream_id != FUZZ_QUARTER_STREAM_ID) {
        abort(); /* RFC 9297 §2.1: the frame names this request */
    }
    if (e->fail_datagram) {
        return -1;
    }
    if (e->frame_count < FRAMES && len <= FRAME_MAX) { /* else lost, as QUIC may lose it */
        memcpy(e->frames[e->frame_count], frame, len);
        e->frame_len[e->frame_count++] = len;
    }
    return 0;
}

static void host_on_packet(void *host, const masque_address *peer, const uint8_t *bytes, size_t len)
{
    const end *e = host;
    size_t i;
    if (e->aborts != 0 || (bytes == NULL && len != 0) ||
        (peer->version != MASQUE_IP_V4 && peer->version != MASQUE_IP_V6)) {
        abort();
    }
    if (tainted) {
        return; /* garbage may be well-formed and deliver anything */
    }
    /* What the other side's host sent: one of the script's tuples, its payload bytes whole and
     * nothing of the framing around them. */
    for (i = 0; i < 16; i++) {
        masque_address t = fuzz_target_of((uint8_t)i);
        if (masque_address_equal(&t, peer)) {
            break;
        }
    }
    if (i == 16 || len > 64) {
        abort();
    }
    for (i = 0; i < len; i++) {
        if (bytes[i] != PAYLOAD_BYTE) {
            abort();
        }
    }
}

static void host_abort_stream(void *host, uint64_t h3_error)
{
    end *e = host;
    if (h3_error == 0) {
        abort(); /* RFC 9114 §8.1: a reset carries an error code */
    }
    /* Between two honest adapters behind honest hosts, the one cause is -10 §9: responses to
     * a peer that registers faster than this end writes (H3_EXCESSIVE_LOAD). */
    if (!tainted && !host_odd && h3_error != MASQUE_H3_EXCESSIVE_LOAD) {
        abort();
    }
    e->aborts++;
}

static masque_stream_state lookup(void *host, uint64_t stream_id, masque_adapter **adapter)
{
    end *e = host;
    if (e->lookup_state == MASQUE_STREAM_DATAGRAMS) {
        if (stream_id != FUZZ_QUARTER_STREAM_ID * 4u) {
            return MASQUE_STREAM_NOT_OPEN; /* no other request is open */
        }
        *adapter = &e->a;
    }
    return e->lookup_state;
}

static void start(end *e, masque_role role, uint8_t flags)
{
    static const masque_host_ops ops = {host_write_stream, host_write_datagram, host_on_packet,
                                        host_abort_stream, NULL};
    masque_session_config cfg;
    masque_capsule_parser_config pcfg;
    memset(e, 0, sizeof(*e));
    fuzz_session_config(&cfg, role, flags);
    cfg.max_pending_responses = (flags & 16u) ? 2 : 0;
    if (masque_session_init(&e->s, &cfg, e->storage, sizeof(e->storage), 0) != 0 ||
        masque_adapter_init(&e->a, &e->s, &ops, e) != 0) {
        abort();
    }
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.profile = cfg.profile;
    masque_capsule_parser_init(&e->written, &pcfg);
    e->lookup_state = MASQUE_STREAM_DATAGRAMS;
}

/* A stream is aborted at most once, with a code, and the adapter knows it. */
static void check_aborts(const end *e)
{
    if (e->aborts > 1 || (e->aborts != 0 && e->a.aborted_with == 0)) {
        abort();
    }
}

/* An adapter's answer for a call that reports only errors that end the stream
 * (read_stream, read_fin, flush, tick): a negative one comes with the abort. */
static void check_ended(const end *e, int rc)
{
    if (rc > 0 || (rc < 0 && e->aborts == 0)) {
        abort();
    }
    check_aborts(e);
}

/* A frame through the connection's dispatch to @p to, as a binding routes one. */
static void dispatch(end *to, const uint8_t *frame, size_t len, uint64_t now)
{
    uint64_t stream_id = 7;
    uint64_t h3_error = 7;
    unsigned aborts = to->aborts;
    int action = masque_h3_datagram_dispatch(frame, len, now, lookup, to, &stream_id, &h3_error);
    switch (action) {
    case MASQUE_DATAGRAM_DELIVERED: /* to this request, the one open for datagrams */
        if (to->lookup_state != MASQUE_STREAM_DATAGRAMS ||
            stream_id != FUZZ_QUARTER_STREAM_ID * 4u) {
            abort();
        }
        /* fall through */
    case MASQUE_DATAGRAM_DROPPED:
        if (h3_error != 0 || to->aborts != aborts) {
            abort();
        }
        break;
    case MASQUE_DATAGRAM_ABORT_STREAM:
        /* A request without datagrams (RFC 9297 §2: the host aborts it), or this request,
         * which the adapter aborted because the datagram failed its session. */
        if (to->lookup_state == MASQUE_STREAM_NO_DATAGRAMS ? h3_error != MASQUE_H3_DATAGRAM_ERROR
                                                           : (h3_error == 0 || to->aborts == 0)) {
            abort();
        }
        break;
    case MASQUE_DATAGRAM_CLOSE_CONNECTION: /* malformed, or beyond the peer's stream limit */
        if (h3_error != MASQUE_H3_DATAGRAM_ERROR &&
            (h3_error != MASQUE_H3_ID_ERROR || to->lookup_state != MASQUE_STREAM_BEYOND_LIMIT)) {
            abort();
        }
        break;
    default:
        abort();
    }
    if (action != MASQUE_DATAGRAM_CLOSE_CONNECTION && stream_id % 4u != 0) {
        abort(); /* a client-initiated bidirectional stream */
    }
    check_aborts(to);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 64];
    size_t i = 0;
    uint64_t now = 0;
    uint8_t flags = size > 0 ? data[i++] : 0;
    tainted = 0;
    host_odd = 0;
    start(&client, MASQUE_ROLE_CLIENT, flags);
    start(&proxy, MASQUE_ROLE_PROXY, flags);
    while (i < size) {
        uint8_t op = data[i++];
        uint8_t arg = i < size ? data[i] : 0;
        end *e = (op & 0x80u) ? &proxy : &client;
        end *other = e == &client ? &proxy : &client;
        masque_address t = fuzz_target_of(arg);
        switch (op % 12u) {
        case 0:
            (void)masque_session_open_uncompressed(&client.s, now, NULL);
            check_ended(&client, masque_adapter_flush(&client.a));
            break;
        case 1:
            (void)masque_session_open_context(&e->s, &t, now, NULL);
            check_ended(e, masque_adapter_flush(&e->a));
            i++;
            break;
        case 2:
            (void)masque_session_close_context(&e->s, arg, now);
            check_ended(e, masque_adapter_flush(&e->a));
            i++;
            break;
        case 3: { /* stream bytes to the other side, cut anywhere */
            size_t n = e->out_len - e->delivered;
            if (n > (size_t)arg + 1u) {
                n = (size_t)arg + 1u;
            }
            i++;
            check_ended(other,
                        masque_adapter_read_stream(&other->a, e->out + e->delivered, n, now));
            e->delivered += n;
            break;
        }
        case 4: { /* the host sends a payload: dropped (a negative answer) or written */
            size_t len = arg % 65u;
            int rc;
            i++;
            memset(buf + MASQUE_BIND_HEADROOM, PAYLOAD_BYTE, len);
            rc = masque_adapter_write_datagram(&e->a, &t, buf + MASQUE_BIND_HEADROOM,
                                               MASQUE_BIND_HEADROOM, len, now);
            if (rc > 0 || rc == MASQUE_ERR_INVALID_ARGUMENT ||
                ((rc == MASQUE_ERR_STATE || rc == MASQUE_ERR_SESSION_FAILED) && e->aborts == 0)) {
                abort();
            }
            break;
        }
        case 5: /* the oldest frame across, to a stream in the state the script says */
            i++;
            if (e->frame_count > 0) {
                other->lookup_state = (masque_stream_state)(arg % 4u);
                host_odd |= other->lookup_state != MASQUE_STREAM_DATAGRAMS;
                dispatch(other, e->frames[0], e->frame_len[0], now);
                e->frame_count--;
                memmove(e->frames[0], e->frames[1], e->frame_count * FRAME_MAX);
                memmove(e->frame_len, e->frame_len + 1, e->frame_count * sizeof(size_t));
            }
            break;
        case 6:   /* garbage on the stream */
        case 7: { /* garbage as a frame, dispatched or handed to the adapter */
            size_t n = arg % 32u;
            i++;
            tainted = 1;
            if (n > size - i) {
                n = size - i;
            }
            if (op % 12u == 6) {
                check_ended(e, masque_adapter_read_stream(&e->a, data + i, n, now));
            } else if (op & 0x40u) {
                e->lookup_state = (masque_stream_state)((op >> 4) & 3u);
                dispatch(e, data + i, n, now);
            } else {
                int rc = masque_adapter_read_datagram(&e->a, data + i, n, now);
                /* The frame's fault is the connection's (H3_DATAGRAM_ERROR) or another
                 * request's; any other error ended this stream. */
                if (rc != MASQUE_ERR_DATAGRAM_TRUNCATED && rc != MASQUE_ERR_QUARTER_STREAM_ID &&
                    rc != MASQUE_ERR_STREAM_ID) {
                    check_ended(e, rc);
                }
            }
            i += n;
            break;
        }
        case 8:
            now += (uint64_t)arg * 16u;
            i++;
            check_ended(&client, masque_adapter_tick(&client.a, now));
            check_ended(&proxy, masque_adapter_tick(&proxy.a, now));
            break;
        case 9:
            host_odd = 1;
            check_ended(e, masque_adapter_read_fin(&e->a));
            break;
        case 10: /* the host's stack changes its mind */
            e->no_room = arg & 1u;
            e->fail_stream = (arg & 6u) == 6u;
            e->fail_datagram = (arg & 24u) == 24u;
            host_odd |= e->no_room || e->fail_stream || e->fail_datagram;
            i++;
            break;
        default: /* the peer's SETTINGS came late: switch the datagram path */
            (void)masque_session_set_capsule_datagrams(&e->s, (int)((op >> 4) & 1u));
            break;
        }
        check_aborts(&client);
        check_aborts(&proxy);
    }
    return 0;
}
