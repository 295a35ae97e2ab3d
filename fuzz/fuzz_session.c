/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: a script drives a client and a proxy session wired together in memory: host
 * calls, capsules between them, datagrams both ways, time steps, and injected garbage. After
 * every step the invariants of -10 §3-§4 are checked on both sides, and neither side may judge
 * what the other sent malformed (honest_error()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_script.h"
#include "internal/context.h" /* white-box: the invariants are checked on the table */
#include "masque/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAPACITY 16

typedef struct side {
    int ended;   /* the script ended its stream (masque_session_read_fin()) */
    int garbled; /* the script gave it garbage, on its stream or as a datagram */
    masque_session s;
    uint64_t storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(CAPACITY) / 8];
} side;

static side client;
static side proxy;
/* Set once garbage was injected into a stream: the two tables may then disagree legitimately
 * (a forged ASSIGN), so delivered datagrams are no longer compared with what was sent. */
static int tainted;

static void start(side *x, masque_role role, uint8_t flags)
{
    masque_session_config cfg;
    memset(x, 0, sizeof(*x));
    fuzz_session_config(&cfg, role, flags);
    cfg.max_peer_contexts = (flags & 16u) ? 4 : 0;
    cfg.assign_rate = (flags & 32u) ? 2 : 0;
    cfg.hash_seed = flags;
    if (masque_session_init(&x->s, &cfg, x->storage, sizeof(x->storage), 0) != 0) {
        abort();
    }
}

static void check(const side *x, masque_role role)
{
    size_t i;
    size_t open = 0;
    size_t uncompressed = 0;
    for (i = 0; i < CAPACITY; i++) {
        const masque_context *c = masque_context_at(&x->s.table, i);
        size_t j;
        int peer;
        if (c->state != MASQUE_CONTEXT_PENDING && c->state != MASQUE_CONTEXT_ACTIVE) {
            continue;
        }
        open++;
        peer = (c->flags & MASQUE_CONTEXT_FLAG_PEER) != 0;
        /* Parity: clients even, proxies odd; the peer's IDs have the other parity. */
        if (c->id == 0 || (int)(c->id & 1u) != (role == MASQUE_ROLE_CLIENT ? peer : !peer)) {
            abort();
        }
        if (c->ip_version == 0) {
            uncompressed++;
            continue;
        }
        for (j = i + 1; j < CAPACITY; j++) {
            const masque_context *d = masque_context_at(&x->s.table, j);
            if ((d->state == MASQUE_CONTEXT_PENDING || d->state == MASQUE_CONTEXT_ACTIVE) &&
                d->ip_version == c->ip_version && d->port == c->port &&
                memcmp(d->ip, c->ip, 16) == 0) {
                abort(); /* one context per tuple */
            }
        }
    }
    if (uncompressed > 1 || open != masque_context_open_count(&x->s.table) || open > CAPACITY ||
        x->s.responses > x->s.cfg.max_pending_responses) {
        abort();
    }
}

/* Between two libmasque sessions, nothing either sends is malformed: a stream error is the
 * bound on responses (-10 §9: a peer that registers faster than this end writes), or follows
 * garbage on either stream (a forged capsule makes the tables disagree), a garbage datagram or
 * an end of stream the script gave that side. */
static void honest_error(const side *to)
{
    int error = masque_session_error(&to->s); /* the first: later calls say SESSION_FAILED */
    if (!tainted && !to->garbled && !to->ended && error != MASQUE_ERR_PENDING_LIMIT) {
        fprintf(stderr, "an honest stream judged malformed: %d\n", error);
        abort();
    }
}

static void pump(side *from, side *to, uint64_t now)
{
    uint8_t buf[2048];
    masque_ssize w = masque_session_write_stream(&from->s, buf, sizeof(buf));
    size_t off = 0;
    if (w < 0) {
        abort();
    }
    while (off < (size_t)w) {
        masque_packet pkt;
        masque_ssize n = masque_session_read_stream(&to->s, buf + off, (size_t)w - off, now, &pkt);
        masque_event ev;
        if (n < 0) {
            honest_error(to);
            return; /* a stream error: the script goes on with a dead session */
        }
        off += (size_t)n;
        while (masque_session_poll_event(&to->s, &ev)) {
        }
    }
}

static void send_one(side *from, side *to, const masque_address *peer, uint64_t now)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 64];
    masque_datagram_path path;
    masque_packet pkt;
    masque_ssize h;
    memset(buf + MASQUE_BIND_HEADROOM, 0x42, 16);
    h = masque_session_write_datagram(&from->s, peer, buf + MASQUE_BIND_HEADROOM,
                                      MASQUE_BIND_HEADROOM, 16, now, &path);
    if (h < 0) {
        return;
    }
    if (path == MASQUE_PATH_H3_DATAGRAM) {
        masque_h3_datagram d;
        if (masque_h3_datagram_decode(&d, buf + MASQUE_BIND_HEADROOM - h, (size_t)h + 16) < 0) {
            abort();
        }
        if (masque_session_read_datagram(&to->s, d.payload, d.payload_len, now, &pkt) == 1 &&
            !tainted && (pkt.payload_len != 16 || !masque_address_equal(&pkt.peer, peer))) {
            abort(); /* delivered, so it must be what was sent, to or from the same tuple */
        }
    } else {
        masque_ssize n = masque_session_read_stream(&to->s, buf + MASQUE_BIND_HEADROOM - h,
                                                    (size_t)h + 16, now, &pkt);
        if (n < 0) {
            honest_error(to);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i = 0;
    uint64_t now = 0;
    uint8_t flags = size > 0 ? data[i++] : 0;
    tainted = 0;
    start(&client, MASQUE_ROLE_CLIENT, flags);
    start(&proxy, MASQUE_ROLE_PROXY, flags);
    while (i < size) {
        uint8_t op = data[i++];
        uint8_t arg = i < size ? data[i] : 0;
        masque_address t = fuzz_target_of(arg);
        masque_packet pkt;
        side *garbled;
        switch (op % 14u) {
        case 0:
            (void)masque_session_open_uncompressed(&client.s, now, NULL);
            break;
        case 1:
            (void)masque_session_open_context(&client.s, &t, now, NULL);
            i++;
            break;
        case 2:
            (void)masque_session_open_context(&proxy.s, &t, now, NULL);
            i++;
            break;
        case 3:
            (void)masque_session_close_context(&client.s, arg, now);
            i++;
            break;
        case 4:
            (void)masque_session_close_context(&proxy.s, arg, now);
            i++;
            break;
        case 5:
            pump(&client, &proxy, now);
            break;
        case 6:
            pump(&proxy, &client, now);
            break;
        case 7:
            send_one(&client, &proxy, &t, now);
            i++;
            break;
        case 8:
            send_one(&proxy, &client, &t, now);
            i++;
            break;
        case 9: { /* garbage on a stream */
            size_t n = arg % 16u;
            i++;
            tainted = 1;
            if (n > size - i) {
                n = size - i;
            }
            garbled = ((op >> 4) & 1u) ? &client : &proxy;
            garbled->garbled = 1;
            (void)masque_session_read_stream(&garbled->s, data + i, n, now, &pkt);
            i += n;
            break;
        }
        case 10: { /* garbage as a datagram */
            size_t n = arg % 32u;
            i++;
            if (n > size - i) {
                n = size - i;
            }
            garbled = ((op >> 4) & 1u) ? &client : &proxy;
            garbled->garbled = 1;
            (void)masque_session_read_datagram(&garbled->s, data + i, n, now, &pkt);
            i += n;
            break;
        }
        case 11:
            now += (uint64_t)arg * 16u;
            (void)masque_session_tick(&client.s, now);
            (void)masque_session_tick(&proxy.s, now);
            i++;
            break;
        case 12:
            if (op & 0x20u) { /* the peer's SETTINGS came late: switch the datagram path */
                (void)masque_session_set_capsule_datagrams(((op >> 4) & 1u) ? &client.s : &proxy.s,
                                                           (int)((op >> 6) & 1u));
            } else {
                side *x = ((op >> 4) & 1u) ? &client : &proxy;
                x->ended = 1;
                (void)masque_session_read_fin(&x->s);
            }
            break;
        default: {
            masque_event ev;
            while (masque_session_poll_event(&client.s, &ev) ||
                   masque_session_poll_event(&proxy.s, &ev)) {
            }
            break;
        }
        }
        check(&client, MASQUE_ROLE_CLIENT);
        check(&proxy, MASQUE_ROLE_PROXY);
    }
    return 0;
}
