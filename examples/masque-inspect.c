/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * masque-inspect: decode MASQUE capsules, HTTP/3 datagrams and Bind payloads given in hex and
 * print one JSON object per line. The output shape is a public interface (see README).
 *
 *   masque-inspect [--draft04] capsules HEX
 *   masque-inspect h3-datagram HEX
 *   masque-inspect [--compressed] bind-payload HEX
 *
 * HEX comes from the argument, or from standard input when it is absent or "-"; white space
 * is ignored. Exit status: 0 decoded, 1 malformed input, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "masque/masque.h"

#define INPUT_MAX (1u << 20)

/* Every option, one line each (--help on stdout; after bad usage on stderr). */
static void usage(FILE *to)
{
    (void)fputs("usage: masque-inspect [OPTION]... capsules|h3-datagram|bind-payload [HEX|-]\n"
                "Decodes MASQUE capsules, HTTP/3 datagrams or Bind payloads given in hex (from\n"
                "the argument, or standard input when it is absent or -) and prints one JSON\n"
                "object per line.\n"
                "  --draft04      capsules: the draft-04 codepoints\n"
                "  --compressed   bind-payload: a compressed context's payload (no IP fields)\n"
                "  -h, --help     this text\n"
                "Exit status: 0 decoded, 1 malformed input, 2 bad usage.\n",
                to);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Appends hex text to buf; returns 0, or -1 on a non-hex character or overflow. */
static int add_hex(const char *text, size_t text_len, uint8_t *buf, size_t *len, int *half,
                   int *pending)
{
    size_t i;
    for (i = 0; i < text_len; i++) {
        int c = (unsigned char)text[i];
        int v;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        }
        v = hex_value(c);
        if (v < 0) {
            return -1;
        }
        if (*half) {
            if (*len >= INPUT_MAX) {
                return -1;
            }
            buf[(*len)++] = (uint8_t)(*pending << 4 | v);
            *half = 0;
        } else {
            *pending = v;
            *half = 1;
        }
    }
    return 0;
}

static int read_input(const char *arg, uint8_t *buf, size_t *len)
{
    int half = 0;
    int pending = 0;
    *len = 0;
    if (arg != NULL && strcmp(arg, "-") != 0) {
        if (add_hex(arg, strlen(arg), buf, len, &half, &pending) != 0) {
            return -1;
        }
    } else {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
            if (add_hex(chunk, n, buf, len, &half, &pending) != 0) {
                return -1;
            }
        }
    }
    return half ? -1 : 0;
}

static void print_hex(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
}

static void print_address(const masque_address *a)
{
    char text[MASQUE_ADDRESS_TEXT_MAX];
    if (masque_address_format(text, sizeof(text), a, 0) < 0) {
        text[0] = '\0';
    }
    printf("\"ip_version\":%u,\"ip\":\"%s\",\"port\":%u", (unsigned)a->version, text,
           (unsigned)a->port);
}

static int print_error(masque_ssize code, size_t offset)
{
    printf("{\"error\":\"%s\",\"code\":%d,\"offset\":%zu}\n", masque_strerror((int)code), (int)code,
           offset);
    return 1;
}

static const char *kind_name(masque_capsule_kind kind)
{
    switch (kind) {
    case MASQUE_CAPSULE_DATAGRAM:
        return "DATAGRAM";
    case MASQUE_CAPSULE_COMPRESSION_ASSIGN:
        return "COMPRESSION_ASSIGN";
    case MASQUE_CAPSULE_COMPRESSION_ACK:
        return "COMPRESSION_ACK";
    case MASQUE_CAPSULE_COMPRESSION_CLOSE:
        return "COMPRESSION_CLOSE";
    case MASQUE_CAPSULE_UNKNOWN:
        return "UNKNOWN";
    }
    return "UNKNOWN";
}

static int print_capsules(const uint8_t *buf, size_t len, masque_profile profile)
{
    size_t off = 0;
    while (off < len) {
        masque_capsule cap;
        masque_capsule_kind kind;
        masque_ssize n = masque_capsule_decode(&cap, buf + off, len - off);
        masque_ssize rc = 0;
        if (n < 0) {
            /* A complete input that ends inside a capsule is a truncated stream. */
            return print_error(n == MASQUE_ERR_NEED_MORE ? MASQUE_ERR_STREAM_TRUNCATED : n, off);
        }
        kind = masque_capsule_kind_of(profile, cap.type);
        if (kind == MASQUE_CAPSULE_COMPRESSION_ASSIGN) {
            masque_compression_assign a;
            rc = masque_compression_assign_decode(&a, cap.value, cap.length);
            if (rc >= 0) {
                printf("{\"type\":\"%s\",\"type_code\":%llu,\"length\":%zu,\"context_id\":%llu,",
                       kind_name(kind), (unsigned long long)cap.type, cap.length,
                       (unsigned long long)a.context_id);
                if (a.ip_version != 0) {
                    print_address(&a.target);
                } else {
                    printf("\"ip_version\":0");
                }
                printf("}\n");
            }
        } else if (kind == MASQUE_CAPSULE_COMPRESSION_ACK ||
                   kind == MASQUE_CAPSULE_COMPRESSION_CLOSE) {
            uint64_t id;
            rc = masque_compression_id_decode(&id, cap.value, cap.length);
            if (rc >= 0) {
                printf("{\"type\":\"%s\",\"type_code\":%llu,\"length\":%zu,\"context_id\":%llu}\n",
                       kind_name(kind), (unsigned long long)cap.type, cap.length,
                       (unsigned long long)id);
            }
        } else if (kind == MASQUE_CAPSULE_DATAGRAM) {
            printf("{\"type\":\"DATAGRAM\",\"type_code\":0,\"length\":%zu,\"payload_hex\":\"",
                   cap.length);
            print_hex(cap.value, cap.length);
            printf("\"}\n");
        } else {
            printf("{\"type\":\"UNKNOWN\",\"type_code\":%llu,\"length\":%zu}\n",
                   (unsigned long long)cap.type, cap.length);
        }
        if (rc < 0) {
            return print_error(rc, off);
        }
        off += (size_t)n;
    }
    return 0;
}

static int print_h3_datagram(const uint8_t *buf, size_t len)
{
    masque_h3_datagram dg;
    masque_context_payload cp;
    masque_ssize rc = masque_h3_datagram_decode(&dg, buf, len);
    if (rc < 0) {
        return print_error(rc, 0);
    }
    rc = masque_context_payload_decode(&cp, dg.payload, dg.payload_len);
    if (rc < 0) {
        return print_error(rc, len - dg.payload_len);
    }
    printf("{\"quarter_stream_id\":%llu,\"stream_id\":%llu,\"context_id\":%llu,\"payload_hex\":\"",
           (unsigned long long)dg.quarter_stream_id,
           (unsigned long long)(dg.quarter_stream_id * 4u), (unsigned long long)cp.context_id);
    print_hex(cp.payload, cp.payload_len);
    printf("\"}\n");
    return 0;
}

static int print_bind_payload(const uint8_t *buf, size_t len, int compressed)
{
    masque_bind_datagram bd;
    masque_ssize rc = compressed ? masque_bind_compressed_decode(&bd, buf, len)
                                 : masque_bind_uncompressed_decode(&bd, buf, len);
    if (rc < 0) {
        masque_context_payload cp;
        size_t offset = 0;
        if (masque_context_payload_decode(&cp, buf, len) >= 0) {
            offset = len - cp.payload_len; /* the error is in the part after the Context ID */
        }
        return print_error(rc, offset);
    }
    printf("{\"context_id\":%llu,", (unsigned long long)bd.context_id);
    if (!compressed) {
        print_address(&bd.target);
        printf(",");
    }
    printf("\"payload_hex\":\"");
    print_hex(bd.payload, bd.payload_len);
    printf("\"}\n");
    return 0;
}

int main(int argc, char **argv)
{
    masque_profile profile = MASQUE_PROFILE_DRAFT10;
    int compressed = 0;
    const char *command = NULL;
    const char *hex = NULL;
    uint8_t *buf;
    size_t len = 0;
    int i;
    int rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--draft04") == 0) {
            profile = MASQUE_PROFILE_DRAFT04;
        } else if (strcmp(argv[i], "--compressed") == 0) {
            compressed = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (command == NULL) {
            command = argv[i];
        } else if (hex == NULL) {
            hex = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (command == NULL ||
        (strcmp(command, "capsules") != 0 && strcmp(command, "h3-datagram") != 0 &&
         strcmp(command, "bind-payload") != 0)) {
        usage(stderr);
        return 2;
    }
    if ((profile == MASQUE_PROFILE_DRAFT04 && strcmp(command, "capsules") != 0) ||
        (compressed && strcmp(command, "bind-payload") != 0)) {
        /* Each flag belongs to one command: given to another, it would be ignored. */
        fprintf(stderr, "masque-inspect: --draft04 is for capsules, --compressed for "
                        "bind-payload\n");
        return 2;
    }
    buf = malloc(INPUT_MAX);
    if (buf == NULL) {
        fprintf(stderr, "masque-inspect: out of memory\n");
        return 2;
    }
    if (read_input(hex, buf, &len) != 0) {
        fprintf(stderr, "masque-inspect: input is not an even number of hex digits "
                        "(at most 1 MiB)\n");
        free(buf);
        return 2;
    }
    if (strcmp(command, "capsules") == 0) {
        rc = print_capsules(buf, len, profile);
    } else if (strcmp(command, "h3-datagram") == 0) {
        rc = print_h3_datagram(buf, len);
    } else {
        rc = print_bind_payload(buf, len, compressed);
    }
    free(buf);
    return rc;
}
