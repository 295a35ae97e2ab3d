/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: HTTP/3 datagrams and Bind payloads. Whatever decodes is framed again with the
 * headroom encoder and must decode to the same fields, with the payload never moved.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "masque/capsule.h"
#include "masque/datagram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[MASQUE_BIND_HEADROOM + 70000];

static void round_trip(const masque_bind_datagram *d, int compressed, uint64_t qsid)
{
    masque_bind_frame f;
    masque_h3_datagram h3;
    masque_bind_datagram back;
    uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
    masque_ssize h;
    memcpy(payload, d->payload, d->payload_len);
    memset(&f, 0, sizeof(f));
    f.path = MASQUE_PATH_H3_DATAGRAM;
    f.quarter_stream_id = qsid;
    f.context_id = d->context_id;
    f.target = compressed ? NULL : &d->target;
    h = masque_bind_frame_prepend(payload, MASQUE_BIND_HEADROOM, d->payload_len, &f);
    if (h <= 0 || (size_t)h != masque_bind_frame_header_len(&f, d->payload_len) ||
        masque_h3_datagram_decode(&h3, payload - h, (size_t)h + d->payload_len) < 0 ||
        h3.quarter_stream_id != qsid) {
        abort();
    }
    if ((compressed ? masque_bind_compressed_decode(&back, h3.payload, h3.payload_len)
                    : masque_bind_uncompressed_decode(&back, h3.payload, h3.payload_len)) < 0 ||
        back.context_id != d->context_id || back.payload != payload ||
        back.payload_len != d->payload_len ||
        (!compressed && !masque_address_equal(&back.target, &d->target))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    masque_h3_datagram h3;
    masque_bind_datagram d;
    masque_capsule cap;
    if (masque_h3_datagram_decode(&h3, data, size) >= 0) {
        if (h3.quarter_stream_id > MASQUE_QUARTER_STREAM_ID_MAX || h3.payload < data ||
            h3.payload + h3.payload_len != data + size) {
            abort();
        }
        if (masque_bind_uncompressed_decode(&d, h3.payload, h3.payload_len) >= 0) {
            if (d.payload + d.payload_len != data + size) {
                abort();
            }
            round_trip(&d, 0, h3.quarter_stream_id);
        }
        if (masque_bind_compressed_decode(&d, h3.payload, h3.payload_len) >= 0) {
            round_trip(&d, 1, h3.quarter_stream_id);
        }
    }
    /* The same bytes as a DATAGRAM capsule value. */
    if (masque_capsule_decode(&cap, data, size) >= 0 && cap.type == MASQUE_CAPSULE_TYPE_DATAGRAM &&
        masque_bind_uncompressed_decode(&d, cap.value, cap.length) >= 0) {
        round_trip(&d, 0, 0);
    }
    return 0;
}
