/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * What the scripted fuzz targets (fuzz_session, fuzz_adapter) share: a session's settings
 * from the script's first byte, and a target tuple from one of its bytes.
 */
#ifndef MASQUE_FUZZ_SCRIPT_H
#define MASQUE_FUZZ_SCRIPT_H

#include <stdint.h>
#include <string.h>

#include "masque/session.h"

/* The request's Quarter Stream ID: client-initiated bidirectional stream 44. */
#define FUZZ_QUARTER_STREAM_ID 11u

static const masque_policy fuzz_allow_all = {NULL, 0, NULL, NULL, 1};

/* Settings from the script's flags: bit 0 DATAGRAM capsules, 1 auto-compression, 2 an idle
 * timeout, 3 the draft-04 codepoints (where compiled in); the rest is the target's. */
static inline void fuzz_session_config(masque_session_config *cfg, masque_role role, uint8_t flags)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->role = role;
    cfg->policy = &fuzz_allow_all;
    cfg->quarter_stream_id = FUZZ_QUARTER_STREAM_ID;
    cfg->capsule_datagrams = flags & 1u;
    cfg->auto_compress_after = (flags & 2u) ? 2 : 0;
    cfg->idle_timeout_ms = (flags & 4u) ? 1000 : 0;
    cfg->profile =
        ((flags & 8u) && MASQUE_ENABLE_DRAFT04) ? MASQUE_PROFILE_DRAFT04 : MASQUE_PROFILE_DRAFT10;
}

/* One of 16 tuples: four addresses in each family (192.0.2.0-3, 2001::0-3), two ports. */
static inline masque_address fuzz_target_of(uint8_t b)
{
    masque_address t;
    uint8_t ip[16] = {192, 0, 2, 0};
    ip[3] = (uint8_t)(b & 3u);
    if (b & 4u) {
        ip[0] = 0x20;
        ip[1] = 0x01;
        masque_address_set_v6(&t, ip, (uint16_t)(443 + (b >> 3 & 1u)));
    } else {
        masque_address_set_v4(&t, ip, (uint16_t)(443 + (b >> 3 & 1u)));
    }
    return t;
}

#endif /* MASQUE_FUZZ_SCRIPT_H */
