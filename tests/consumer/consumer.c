/* SPDX-License-Identifier: GPL-3.0-only */
/* A tiny program that uses libmasque the way a packaged consumer would. */
#include <stdio.h>
#include <string.h>

#include <masque/masque.h>

int main(void)
{
    static const uint8_t appendix[] = {0x0b, 0x04, 'h', 'i'};
    masque_h3_datagram dg;
    masque_bind_datagram bd;
    uint8_t capsule[16];
    masque_ssize n;

    if (masque_h3_datagram_decode(&dg, appendix, sizeof(appendix)) < 0 ||
        masque_bind_compressed_decode(&bd, dg.payload, dg.payload_len) < 0 || bd.context_id != 4 ||
        bd.payload_len != 2 || memcmp(bd.payload, "hi", 2) != 0) {
        return 1;
    }
    n = masque_compression_id_encode(capsule, sizeof(capsule), MASQUE_PROFILE_DRAFT10,
                                     MASQUE_CAPSULE_COMPRESSION_ACK, 4);
    if (n != 3 || memcmp(capsule, "\x12\x01\x04", 3) != 0) {
        return 1;
    }
    printf("consumer: libmasque %s works\n", masque_version());
    return 0;
}
