/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: one-shot capsule decoding of a stream and of every ASSIGN/ACK/CLOSE value, under
 * both codepoint profiles, with the re-encode round trip of every value that decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "masque/capsule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(masque_profile profile, masque_capsule_kind kind, const uint8_t *value,
                        size_t len)
{
    uint8_t out[64];
    masque_capsule cap;
    if (kind == MASQUE_CAPSULE_COMPRESSION_ASSIGN) {
        masque_compression_assign a;
        masque_compression_assign b;
        masque_ssize n = masque_compression_assign_decode(&a, value, len);
        masque_ssize m;
        if (n < 0) {
            return;
        }
        if ((size_t)n != len || a.context_id == 0 ||
            (a.ip_version != 0 && a.ip_version != 4 && a.ip_version != 6)) {
            abort();
        }
        m = masque_compression_assign_encode(out, sizeof(out), profile, &a);
        if (m <= 0 || (size_t)m != masque_compression_assign_encoded_len(profile, &a) ||
            masque_capsule_decode(&cap, out, (size_t)m) != m ||
            masque_compression_assign_decode(&b, cap.value, cap.length) < 0 ||
            b.context_id != a.context_id || b.ip_version != a.ip_version ||
            (a.ip_version != 0 && !masque_address_equal(&a.target, &b.target))) {
            abort();
        }
    } else if (kind == MASQUE_CAPSULE_COMPRESSION_ACK || kind == MASQUE_CAPSULE_COMPRESSION_CLOSE) {
        uint64_t id = 0;
        uint64_t back = 0;
        masque_ssize n = masque_compression_id_decode(&id, value, len);
        masque_ssize m;
        if (n < 0) {
            return;
        }
        if ((size_t)n != len || id == 0) {
            abort();
        }
        m = masque_compression_id_encode(out, sizeof(out), profile, kind, id);
        if (m <= 0 || masque_capsule_decode(&cap, out, (size_t)m) != m ||
            masque_compression_id_decode(&back, cap.value, cap.length) < 0 || back != id) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int p;
    for (p = 0; p < 2; p++) {
        masque_profile profile = p == 0 ? MASQUE_PROFILE_DRAFT10 : MASQUE_PROFILE_DRAFT04;
        size_t off = 0;
        while (off < size) {
            masque_capsule cap;
            masque_ssize n = masque_capsule_decode(&cap, data + off, size - off);
            if (n < 0) {
                if (n != MASQUE_ERR_NEED_MORE) {
                    abort();
                }
                break;
            }
            if (cap.value < data + off || cap.value + cap.length > data + size) {
                abort(); /* the view must stay inside the input */
            }
            check_value(profile, masque_capsule_kind_of(profile, cap.type), cap.value, cap.length);
            off += (size_t)n;
        }
    }
    /* Every input is also tried as a bare value. */
    check_value(MASQUE_PROFILE_DRAFT10, MASQUE_CAPSULE_COMPRESSION_ASSIGN, data, size);
    check_value(MASQUE_PROFILE_DRAFT10, MASQUE_CAPSULE_COMPRESSION_CLOSE, data, size);
    return 0;
}
