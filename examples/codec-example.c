/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A complete example of use 2 (encode and decode only): build the -10 appendix's capsules and a
 * datagram, then take a received QUIC DATAGRAM frame apart, all in caller buffers.
 */
#include <stdio.h>
#include <string.h>

#include "masque/masque.h"

/* Counts what an encoder wrote: 0, or -1 after saying why it wrote nothing (an encoder returns
 * a negative error code, never a part of a capsule). */
static int wrote(masque_ssize n, size_t *len)
{
    if (n < 0) {
        printf("cannot encode: %s\n", masque_strerror((int)n));
        return -1;
    }
    *len += (size_t)n;
    return 0;
}

int main(void)
{
    uint8_t stream[64];
    size_t len = 0;
    masque_compression_assign a;
    masque_capsule_parser parser;
    masque_capsule_event ev;
    uint8_t frame[MASQUE_BIND_HEADROOM + 16];
    uint8_t *payload = frame + MASQUE_BIND_HEADROOM;
    masque_bind_frame f;
    masque_h3_datagram dg;
    masque_bind_datagram bd;
    masque_ssize n;
    size_t off = 0;

    /* Encode: ASSIGN(2, uncompressed), ASSIGN(4, 203.0.113.11:4321), CLOSE(2). */
    memset(&a, 0, sizeof(a));
    a.context_id = 2;
    if (wrote(masque_compression_assign_encode(stream + len, sizeof(stream) - len,
                                               MASQUE_PROFILE_DRAFT10, &a),
              &len) != 0) {
        return 1;
    }
    a.context_id = 4;
    a.ip_version = MASQUE_IP_V4;
    if (masque_address_parse(&a.target, "203.0.113.11:4321", 17, 1) != MASQUE_OK ||
        wrote(masque_compression_assign_encode(stream + len, sizeof(stream) - len,
                                               MASQUE_PROFILE_DRAFT10, &a),
              &len) != 0 ||
        wrote(masque_compression_id_encode(stream + len, sizeof(stream) - len,
                                           MASQUE_PROFILE_DRAFT10, MASQUE_CAPSULE_COMPRESSION_CLOSE,
                                           2),
              &len) != 0) {
        return 1;
    }

    /* Decode the same stream incrementally, three bytes at a time. */
    masque_capsule_parser_init(&parser, NULL);
    while (off < len) {
        size_t chunk = len - off < 3 ? len - off : 3;
        size_t used = 0;
        while (used < chunk) {
            n = masque_capsule_parser_feed(&parser, stream + off + used, chunk - used, &ev);
            if (n < 0) {
                printf("malformed: %s\n", masque_strerror((int)n));
                return 1;
            }
            used += (size_t)n;
            if (ev.event == MASQUE_CAPSULE_EVENT_CONTROL &&
                ev.kind == MASQUE_CAPSULE_COMPRESSION_ASSIGN &&
                masque_compression_assign_decode(&a, ev.data, ev.data_len) >= 0) {
                printf("ASSIGN context %llu, IP version %u\n", (unsigned long long)a.context_id,
                       (unsigned)a.ip_version);
            } else if (ev.event == MASQUE_CAPSULE_EVENT_CONTROL) {
                printf("capsule type 0x%llx, %zu value bytes\n", (unsigned long long)ev.type,
                       ev.data_len);
            }
        }
        off += chunk;
    }

    /* A compressed datagram on context 4, framed in place before its payload. */
    memcpy(payload, "ping", 4);
    memset(&f, 0, sizeof(f));
    f.path = MASQUE_PATH_H3_DATAGRAM;
    f.quarter_stream_id = 11;
    f.context_id = 4;
    n = masque_bind_frame_prepend(payload, MASQUE_BIND_HEADROOM, 4, &f);
    if (n < 0 || masque_h3_datagram_decode(&dg, payload - n, (size_t)n + 4) < 0 ||
        masque_bind_compressed_decode(&bd, dg.payload, dg.payload_len) < 0) {
        return 1;
    }
    printf("datagram: stream %llu, context %llu, payload \"%.*s\" (not copied: %s)\n",
           (unsigned long long)(dg.quarter_stream_id * 4), (unsigned long long)bd.context_id,
           (int)bd.payload_len, (const char *)bd.payload, bd.payload == payload ? "yes" : "no");
    return 0;
}
