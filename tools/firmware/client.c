/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A Bind client as a device runs it, for tools/firmware.sh: linked with --gc-sections, it keeps
 * exactly the library code such a client calls, so the script can say what a client pays for.
 * The device's side (its HTTP/3 stack, its clock, its UDP service) is a handful of stubs here.
 * It is measured, never run.
 */
#include "masque/masque.h"

/* The C library functions the core needs, for a link without one (-nostdlib). Their size is
 * part of this file's, which the script subtracts. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void device_main(void);

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    while (n-- > 0) {
        *d++ = *s++;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
    while (n-- > 0) {
        *d++ = (uint8_t)c;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = (const uint8_t *)a;
    const uint8_t *y = (const uint8_t *)b;
    for (; n > 0; n--, x++, y++) {
        if (*x != *y) {
            return *x < *y ? -1 : 1;
        }
    }
    return 0;
}

/* What the device's stack hands over and takes; volatile so that nothing is folded away. */
static volatile size_t wire_len;
static volatile uint64_t clock_ms;
static uint8_t stream_in[1500];
static uint8_t datagram_in[1500];
static uint8_t out[1500];

static void device_send(const uint8_t *p, size_t n, int on_stream)
{
    wire_len = n + (size_t)on_stream;
    (void)p;
}

static void deliver(const masque_packet *pkt)
{
    wire_len = pkt->payload_len + pkt->peer.port;
}

void device_main(void)
{
    static masque_session session;
    static uint64_t storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(8) / sizeof(uint64_t) + 1];
    masque_session_config cfg;
    masque_packet pkt;
    masque_event ev;
    masque_address peer;
    masque_datagram_path path;
    uint64_t id;
    const uint8_t ip[4] = {192, 0, 2, 1};

    memset(&cfg, 0, sizeof(cfg));
    cfg.role = MASQUE_ROLE_CLIENT;
    cfg.quarter_stream_id = 0;
    if (masque_session_init(&session, &cfg, storage, sizeof(storage), clock_ms) != MASQUE_OK) {
        return;
    }
    (void)masque_session_open_uncompressed(&session, clock_ms, &id);
    masque_address_set_v4(&peer, ip, 443);
    (void)masque_session_open_context(&session, &peer, clock_ms, &id);
    for (;;) {
        size_t off = 0;
        size_t n = wire_len;
        masque_ssize w;
        while (off < n) {
            masque_ssize r =
                masque_session_read_stream(&session, stream_in + off, n - off, clock_ms, &pkt);
            if (r <= 0) {
                break;
            }
            off += (size_t)r;
            if (pkt.payload != NULL) {
                deliver(&pkt);
            }
        }
        if (masque_session_read_datagram(&session, datagram_in, wire_len, clock_ms, &pkt) == 1) {
            deliver(&pkt);
        }
        while (masque_session_poll_event(&session, &ev) == 1) {
            wire_len = (size_t)ev.context_id;
        }
        w = masque_session_write_stream(&session, out, sizeof(out));
        if (w > 0) {
            device_send(out, (size_t)w, 1);
        }
        w = masque_session_write_datagram(&session, &peer, out + MASQUE_BIND_HEADROOM,
                                          MASQUE_BIND_HEADROOM, 100, clock_ms, &path);
        if (w > 0) {
            device_send(out + MASQUE_BIND_HEADROOM - (size_t)w, (size_t)w + 100,
                        path == MASQUE_PATH_CAPSULE);
        }
        (void)masque_session_tick(&session, clock_ms);
        if (masque_session_error(&session) != 0) {
            return;
        }
    }
}
