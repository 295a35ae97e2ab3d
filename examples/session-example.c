/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A complete example of use 1 (a QUIC application): a client session and a proxy session wired
 * together in memory, as a host would wire them to its HTTP/3 stream and QUIC DATAGRAM frames.
 * The client registers the uncompressed context, a target answers through the proxy, the client
 * compresses that target and closes the uncompressed context (firewall mode).
 */
#include <stdio.h>
#include <string.h>

#include "masque/masque.h"

typedef struct endpoint {
    const char *name;
    masque_session session;
    uint64_t storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(16) / 8]; /* room for 16 contexts */
} endpoint;

/* 0, or -1 after saying why the session could not start (a build without the proxy role, a
 * header that does not match the library). */
static int start(endpoint *e, const char *name, masque_role role, const masque_policy *policy)
{
    masque_session_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.role = role;
    cfg.quarter_stream_id = 0; /* the request is on stream 0 */
    cfg.policy = policy;
    cfg.hash_seed = 0x5eed; /* a real host uses a random seed */
    e->name = name;
    if (masque_session_init(&e->session, &cfg, e->storage, sizeof(e->storage), 0) != 0) {
        fprintf(stderr, "cannot start %s\n", name);
        return -1;
    }
    return 0;
}

/* What an event says, in words (masque_event_kind). */
static const char *event_name(masque_event_kind kind)
{
    switch (kind) {
    case MASQUE_EVENT_CONTEXT_ACKNOWLEDGED:
        return "our registration acknowledged";
    case MASQUE_EVENT_CONTEXT_REJECTED:
        return "our registration rejected";
    case MASQUE_EVENT_CONTEXT_CLOSED:
        return "context closed";
    case MASQUE_EVENT_PEER_CONTEXT_OPENED:
        return "the peer's registration accepted";
    case MASQUE_EVENT_PEER_CONTEXT_REFUSED:
        return "the peer's registration refused";
    case MASQUE_EVENT_CONTEXT_OPENED:
        return "registered on our own";
    }
    return "?";
}

/* What a host does with the request stream: write what the session queued, feed what arrived. */
static void stream(endpoint *from, endpoint *to)
{
    uint8_t bytes[512];
    masque_ssize n = masque_session_write_stream(&from->session, bytes, sizeof(bytes));
    size_t off = 0;
    masque_event ev;
    while (n > 0 && off < (size_t)n) {
        masque_packet pkt;
        masque_ssize used =
            masque_session_read_stream(&to->session, bytes + off, (size_t)n - off, 0, &pkt);
        if (used < 0) {
            printf("%s: stream error %s: abort the stream\n", to->name, masque_strerror((int)used));
            return;
        }
        off += (size_t)used;
    }
    while (masque_session_poll_event(&to->session, &ev)) {
        char text[MASQUE_ADDRESS_TEXT_MAX] = "uncompressed";
        if (ev.target.version != 0) {
            (void)masque_address_format(text, sizeof(text), &ev.target, 1);
        }
        printf("%s: %s, context %llu (%s)\n", to->name, event_name(ev.kind),
               (unsigned long long)ev.context_id, text);
    }
}

/* What a host does with a UDP payload: frame it in place and hand it to QUIC. */
static void datagram(endpoint *from, endpoint *to, const masque_address *peer, const char *text)
{
    uint8_t buf[MASQUE_BIND_HEADROOM + 64];
    uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
    size_t len = strlen(text);
    masque_datagram_path path;
    masque_h3_datagram dg;
    masque_packet pkt;
    char where[MASQUE_ADDRESS_TEXT_MAX];
    masque_ssize h;
    memcpy(payload, text, len);
    h = masque_session_write_datagram(&from->session, peer, payload, MASQUE_BIND_HEADROOM, len, 0,
                                      &path);
    if (h < 0) {
        printf("%s: cannot send to that peer: %s\n", from->name, masque_strerror((int)h));
        return;
    }
    /* payload - h is the QUIC DATAGRAM frame payload: Quarter Stream ID, Context ID, ... */
    (void)masque_h3_datagram_decode(&dg, payload - h, (size_t)h + len);
    if (masque_session_read_datagram(&to->session, dg.payload, dg.payload_len, 0, &pkt) == 1) {
        (void)masque_address_format(where, sizeof(where), &pkt.peer, 1);
        printf("%s -> %s: \"%.*s\" (%zu bytes of framing, context %llu, peer %s)\n", from->name,
               to->name, (int)pkt.payload_len, (const char *)pkt.payload, (size_t)h,
               (unsigned long long)pkt.context_id, where);
    }
}

int main(void)
{
    static endpoint client;
    static endpoint proxy;
    masque_policy allow_documentation_ranges;
    masque_policy_rule rule;
    masque_address target;
    masque_session_stats st;
    uint64_t uncompressed = 0;

    (void)masque_policy_rule_parse(&rule, "203.0.113.0/24", 14, 1);
    memset(&allow_documentation_ranges, 0, sizeof(allow_documentation_ranges));
    allow_documentation_ranges.rules = &rule;
    allow_documentation_ranges.rule_count = 1;
    if (start(&client, "client", MASQUE_ROLE_CLIENT, NULL) != 0 ||
        start(&proxy, "proxy", MASQUE_ROLE_PROXY, &allow_documentation_ranges) != 0) {
        return 1;
    }
    (void)masque_address_parse(&target, "203.0.113.11:4321", 17, 1);

    (void)masque_session_open_uncompressed(&client.session, 0, &uncompressed);
    stream(&client, &proxy); /* COMPRESSION_ASSIGN (IP Version 0) */
    stream(&proxy, &client); /* COMPRESSION_ACK */
    datagram(&proxy, &client, &target, "hello from the target");
    datagram(&client, &proxy, &target, "hello back");

    (void)masque_session_open_context(&client.session, &target, 0, NULL);
    stream(&client, &proxy);
    stream(&proxy, &client);
    datagram(&client, &proxy, &target, "now compressed");

    (void)masque_session_close_context(&client.session, uncompressed, 0);
    stream(&client, &proxy);
    {
        masque_address stranger;
        (void)masque_address_parse(&stranger, "203.0.113.99:53", 15, 1);
        datagram(&proxy, &client, &stranger, "unknown sender"); /* dropped at the proxy */
    }
    masque_session_get_stats(&proxy.session, &st);
    printf("proxy dropped %llu packet(s) from unregistered senders\n",
           (unsigned long long)st.dropped_unreachable);
    return st.dropped_unreachable == 1 ? 0 : 1;
}
