/* SPDX-License-Identifier: GPL-3.0-only */
/* Fuzz target: varint decode, and the encode/decode round trip of what was decoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "masque/varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t v = 0;
    uint64_t back = 0;
    uint8_t buf[8];
    masque_ssize n = masque_varint_decode(&v, data, size);
    masque_ssize m;
    if (n < 0) {
        if (n != MASQUE_ERR_NEED_MORE || (size > 0 && (size_t)1 << (data[0] >> 6) <= size)) {
            abort();
        }
        return 0;
    }
    if ((size_t)n != masque_varint_len_from_first(data[0]) || v > MASQUE_VARINT_MAX) {
        abort();
    }
    /* Non-minimal encodings decode to the same value as the minimal one. */
    m = masque_varint_encode(buf, sizeof(buf), v);
    if (m <= 0 || m > n || masque_varint_decode(&back, buf, (size_t)m) != m || back != v) {
        abort();
    }
    if (m == n && memcmp(buf, data, (size_t)n) != 0) {
        abort();
    }
    return 0;
}
