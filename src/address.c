/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/address.h"
#include "internal/args.h"

#include <string.h>

#include "internal/text.h"
#include "internal/wire.h"

void masque_address_set_v4(masque_address *out, const uint8_t ip[4], uint16_t port)
{
    memset(out, 0, sizeof(*out));
    out->version = MASQUE_IP_V4;
    memcpy(out->bytes, ip, 4);
    out->port = port;
}

void masque_address_set_v6(masque_address *out, const uint8_t ip[16], uint16_t port)
{
    memset(out, 0, sizeof(*out));
    out->version = MASQUE_IP_V6;
    memcpy(out->bytes, ip, 16);
    out->port = port;
}

size_t masque_address_ip_len(uint8_t version)
{
    return masque_ip_len(version);
}

int masque_address_equal(const masque_address *a, const masque_address *b)
{
    size_t n = masque_ip_len(a->version);
    return n != 0 && a->version == b->version && a->port == b->port &&
           memcmp(a->bytes, b->bytes, n) == 0;
}

int masque_address_is_unspecified(const masque_address *a)
{
    static const uint8_t zero[16];
    size_t n = masque_ip_len(a->version);
    return n != 0 && memcmp(a->bytes, zero, n) == 0;
}

/* A tiny append-only text buffer; `room` bytes are free, one is kept for the NUL. */
typedef struct text_out {
    char buf[MASQUE_ADDRESS_TEXT_MAX];
    size_t len;
} text_out;

static void put_char(text_out *t, char c)
{
    if (t->len + 1 < sizeof(t->buf)) {
        t->buf[t->len++] = c;
    }
}

static void put_decimal(text_out *t, unsigned v)
{
    char digits[5];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && n < sizeof(digits));
    while (n > 0) {
        put_char(t, digits[--n]);
    }
}

static void put_v4(text_out *t, const uint8_t *b)
{
    int i;
    for (i = 0; i < 4; i++) {
        if (i > 0) {
            put_char(t, '.');
        }
        put_decimal(t, b[i]);
    }
}

#if MASQUE_ENABLE_IPV6
static void put_hex16(text_out *t, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    int shift;
    int started = 0;
    /* RFC 5952 §4.1: leading zeros suppressed; §4.3: lower case. */
    for (shift = 12; shift >= 0; shift -= 4) {
        unsigned nibble = (v >> (unsigned)shift) & 0xFu;
        if (nibble != 0 || started || shift == 0) {
            put_char(t, hex[nibble]);
            started = 1;
        }
    }
}

static void put_v6(text_out *t, const uint8_t *b)
{
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    unsigned groups[8];
    int best_start = -1;
    int best_len = 0;
    int i;

    if (memcmp(b, mapped_prefix, sizeof(mapped_prefix)) == 0) {
        /* RFC 5952 §5: IPv4-mapped addresses keep the dotted quad. */
        put_char(t, ':');
        put_char(t, ':');
        put_hex16(t, 0xFFFFu);
        put_char(t, ':');
        put_v4(t, b + 12);
        return;
    }
    for (i = 0; i < 8; i++) {
        size_t at = (size_t)i * 2u;
        groups[i] = (unsigned)b[at] << 8 | (unsigned)b[at + 1];
    }
    /* RFC 5952 §4.2: compress the longest run of at least two zero groups, the first on ties. */
    for (i = 0; i < 8;) {
        int j = i;
        while (j < 8 && groups[j] == 0) {
            j++;
        }
        if (j - i > best_len && j - i >= 2) {
            best_start = i;
            best_len = j - i;
        }
        i = (j == i) ? i + 1 : j;
    }
    for (i = 0; i < 8; i++) {
        if (i == best_start) {
            put_char(t, ':');
            put_char(t, ':');
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best_start + best_len) {
            put_char(t, ':');
        }
        put_hex16(t, groups[i]);
    }
}

#endif

masque_ssize masque_address_format(char *dst, size_t cap, const masque_address *addr, int with_port)
{
    text_out t;
    t.len = 0;

    if (MASQUE_BAD_ARGS(dst == NULL || addr == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (addr->version == MASQUE_IP_V4) {
        put_v4(&t, addr->bytes);
#if MASQUE_ENABLE_IPV6
    } else if (addr->version == MASQUE_IP_V6) {
        if (with_port) {
            put_char(&t, '[');
        }
        put_v6(&t, addr->bytes);
        if (with_port) {
            put_char(&t, ']');
        }
#endif
    } else {
        return MASQUE_ERR_ADDRESS;
    }
    if (with_port) {
        put_char(&t, ':');
        put_decimal(&t, addr->port);
    }
    if (cap < t.len + 1) {
        return MASQUE_ERR_BUFFER;
    }
    memcpy(dst, t.buf, t.len);
    dst[t.len] = '\0';
    return (masque_ssize)t.len;
}

/* Parses a dotted quad in text[0..len); 0 on success. */
static int parse_v4(const char *text, size_t len, uint8_t out[4])
{
    size_t pos = 0;
    int octet;
    for (octet = 0; octet < 4; octet++) {
        unsigned v = 0;
        size_t digits = 0;
        if (octet > 0) {
            if (pos >= len || text[pos] != '.') {
                return -1;
            }
            pos++;
        }
        while (pos < len && text[pos] >= '0' && text[pos] <= '9' && digits < 4) {
            v = v * 10u + (unsigned)(text[pos] - '0');
            pos++;
            digits++;
        }
        /* RFC 3986 dec-octet: 1 to 3 digits, no leading zero, at most 255. */
        if (digits == 0 || digits > 3 || v > 255u || (digits > 1 && text[pos - digits] == '0')) {
            return -1;
        }
        out[octet] = (uint8_t)v;
    }
    return pos == len ? 0 : -1;
}

#if MASQUE_ENABLE_IPV6
/* Parses an RFC 4291 §2.2 IPv6 address in text[0..len); 0 on success. */
static int parse_v6(const char *text, size_t len, uint8_t out[16])
{
    uint8_t bytes[16];
    size_t n = 0; /* bytes filled */
    size_t pos = 0;
    int gap = -1; /* byte position of "::" */
    memset(bytes, 0, sizeof(bytes));
    if (len >= 2 && text[0] == ':' && text[1] == ':') {
        gap = 0;
        pos = 2;
    } else if (len >= 1 && text[0] == ':') {
        return -1;
    }
    while (pos < len) {
        unsigned v = 0;
        size_t digits = 0;
        size_t start = pos;
        int d;
        while (pos < len && digits < 5 && (d = masque_hex_value(text[pos])) >= 0) {
            v = v << 4 | (unsigned)d;
            pos++;
            digits++;
        }
        if (pos < len && text[pos] == '.') {
            /* Trailing dotted quad: the last 32 bits (RFC 4291 §2.2 form 3). */
            if (n + 4 > 16 || parse_v4(text + start, len - start, bytes + n) != 0) {
                return -1;
            }
            n += 4;
            break;
        }
        if (digits == 0 || digits > 4 || n + 2 > 16) {
            return -1;
        }
        bytes[n++] = (uint8_t)(v >> 8);
        bytes[n++] = (uint8_t)(v & 0xFFu);
        if (pos == len) {
            break;
        }
        if (text[pos] != ':') {
            return -1;
        }
        pos++;
        if (pos < len && text[pos] == ':') {
            if (gap >= 0) {
                return -1; /* a second "::" */
            }
            gap = (int)n;
            pos++;
        } else if (pos == len) {
            return -1; /* trailing single ':' */
        }
    }
    if (gap >= 0) {
        size_t tail = n - (size_t)gap;
        if (n == 16) {
            return -1; /* "::" must stand for at least one group */
        }
        uint8_t spread[16];
        memset(spread, 0, sizeof(spread));
        memcpy(spread, bytes, (size_t)gap);
        memcpy(spread + 16 - tail, bytes + gap, tail); /* "::" becomes the zeros between */
        memcpy(bytes, spread, sizeof(bytes));
    } else if (n != 16) {
        return -1;
    }
    memcpy(out, bytes, 16);
    return 0;
}

#endif

static int parse_port(const char *text, size_t len, uint16_t *port)
{
    unsigned long v;
    if (masque_parse_decimal(text, len, 65535u, &v) != 0) {
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

#if MASQUE_ENABLE_IPV6
/* The IPv6 forms: "[v6]" before a port (RFC 3986 IP-literal), bare "v6" without one. */
static int parse_v6_text(const char *text, size_t len, int bracketed, int with_port, uint8_t *out)
{
    if (bracketed) {
        return parse_v6(text + 1, len - 2, out);
    }
    return with_port ? -1 : parse_v6(text, len, out);
}
#endif

int masque_address_parse(masque_address *out, const char *text, size_t len, int with_port)
{
    masque_address a;
    size_t host_len = len;
    uint16_t port = 0;
    int bracketed = 0;

    if (MASQUE_BAD_ARGS(out == NULL || text == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    memset(&a, 0, sizeof(a));
    if (with_port) {
        size_t colon = len;
        while (colon > 0 && text[colon - 1] != ':') {
            colon--;
        }
        if (colon == 0 || parse_port(text + colon, len - colon, &port) != 0) {
            return MASQUE_ERR_ADDRESS;
        }
        host_len = colon - 1;
        if (host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']') {
            bracketed = 1;
        }
    }
    if (!bracketed && parse_v4(text, host_len, a.bytes) == 0) {
        a.version = MASQUE_IP_V4;
#if MASQUE_ENABLE_IPV6 /* config.h: without it, IPv6 text is no address */
    } else if (parse_v6_text(text, host_len, bracketed, with_port, a.bytes) == 0) {
        a.version = MASQUE_IP_V6;
#endif
    } else {
        return MASQUE_ERR_ADDRESS;
    }
    a.port = port;
    *out = a;
    return MASQUE_OK;
}
