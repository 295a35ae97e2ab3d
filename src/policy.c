/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/policy.h"
#include "internal/args.h"
#include "internal/wire.h"

#include <string.h>

#include "internal/text.h"

#if MASQUE_ENABLE_POLICY /* config.h */

/*
 * The special-purpose registries (RFC 6890 and its updates), each range as a value and a mask
 * over the address read as a big-endian number: a range is compared in one step, whatever its
 * length, so that judging a public target costs a few instructions a range (-10 §9 judges every
 * datagram on the uncompressed context).
 */
typedef struct special_v4_range {
    uint32_t value;
    uint32_t mask;
} special_v4_range;

static const special_v4_range special_v4[] = {
    {0x00000000u, 0xFF000000u}, /* 0.0.0.0/8: "this network", RFC 791 */
    {0x0A000000u, 0xFF000000u}, /* 10.0.0.0/8: private, RFC 1918 */
    {0x64400000u, 0xFFC00000u}, /* 100.64.0.0/10: shared address space, RFC 6598 */
    {0x7F000000u, 0xFF000000u}, /* 127.0.0.0/8: loopback */
    {0xA9FE0000u, 0xFFFF0000u}, /* 169.254.0.0/16: link-local */
    {0xAC100000u, 0xFFF00000u}, /* 172.16.0.0/12: private */
    {0xC0000000u, 0xFFFFFF00u}, /* 192.0.0.0/24: IETF protocol assignments */
    {0xC0000200u, 0xFFFFFF00u}, /* 192.0.2.0/24: TEST-NET-1 */
    {0xC0586300u, 0xFFFFFF00u}, /* 192.88.99.0/24: 6to4 relay anycast */
    {0xC0A80000u, 0xFFFF0000u}, /* 192.168.0.0/16: private */
    {0xC6120000u, 0xFFFE0000u}, /* 198.18.0.0/15: benchmarking */
    {0xC6336400u, 0xFFFFFF00u}, /* 198.51.100.0/24: TEST-NET-2 */
    {0xCB007100u, 0xFFFFFF00u}, /* 203.0.113.0/24: TEST-NET-3 */
    {0xE0000000u, 0xF0000000u}, /* 224.0.0.0/4: multicast */
    {0xF0000000u, 0xF0000000u}, /* 240.0.0.0/4: reserved, and 255.255.255.255 broadcast */
};

#if MASQUE_ENABLE_IPV6
/* An IPv6 range as its high 64 bits and its length. Every range is at most 96 bits long, and
 * the two longer than 64 have zeros in bits 64-95: the low half is compared with zero. */
typedef struct special_v6_range {
    uint64_t hi;
    uint8_t bits;
} special_v6_range;

static const special_v6_range special_v6[] = {
    {0, 96},                   /* ::/96: ::, ::1 and the deprecated IPv4-compatible block */
    {0x0064FF9B00000000u, 96}, /* 64:ff9b::/96: NAT64 well-known prefix */
    {0x0064FF9B00010000u, 48}, /* 64:ff9b:1::/48: local-use NAT64 */
    {0x0100000000000000u, 64}, /* 100::/64: discard-only */
    {0x2001000000000000u, 23}, /* 2001::/23: IETF protocol assignments */
    {0x20010DB800000000u, 32}, /* 2001:db8::/32: documentation */
    {0x2002000000000000u, 16}, /* 2002::/16: 6to4 */
    {0x3FFF000000000000u, 20}, /* 3fff::/20: documentation, RFC 9637 */
    {0xFC00000000000000u, 7},  /* fc00::/7: unique local */
    {0xFE80000000000000u, 10}, /* fe80::/10: link-local */
    {0xFEC0000000000000u, 10}, /* fec0::/10: site-local (deprecated) */
    {0xFF00000000000000u, 8},  /* ff00::/8: multicast */
};

static int in_special_v6(uint64_t hi, uint64_t lo, const special_v6_range *r)
{
    uint64_t mask = r->bits >= 64u ? UINT64_MAX : ~(UINT64_MAX >> r->bits);
    return (hi & mask) == r->hi && (r->bits <= 64u || lo >> (128u - r->bits) == 0);
}
#endif

/*
 * The first bytes a special-purpose address may start with, as 256 bits (bit b of word b / 32):
 * most public addresses start with none of them and are judged without a scan. Derived from
 * the tables above (every range is at least 4 bits long, so it fixes bits of the first byte);
 * tests/test_policy.c checks every first byte and each range's edges against the registries.
 */
static const uint32_t special_v4_first[8] = {
    0x00000401u, /* 0-31: 0, 10 */
    0,           /* 32-63 */
    0,           /* 64-95 */
    0x80000010u, /* 96-127: 100, 127 */
    0,           /* 128-159 */
    0x00001200u, /* 160-191: 169, 172 */
    0x00000841u, /* 192-223: 192, 198, 203 */
    0xFFFFFFFFu, /* 224-255: multicast, reserved, broadcast */
};
#if MASQUE_ENABLE_IPV6
static const uint32_t special_v6_first[8] = {
    0x00000003u, /* 0x00 (::ffff:0:0/96 and 64:ff9b::/96 too), 0x01 */
    0x80000001u, /* 0x20, 0x3f */
    0,           /* 0x40-0x5f */
    0,           /* 0x60-0x7f */
    0,           /* 0x80-0x9f */
    0,           /* 0xa0-0xbf */
    0,           /* 0xc0-0xdf */
    0xF0000000u, /* 0xfc-0xff */
};
#endif

static int may_be_special(const uint32_t *first, uint8_t b)
{
    return (int)((first[b >> 5] >> (b & 31u)) & 1u);
}

/* Whether addr starts with the first `bits` bits of prefix (a host's rule). Byte by byte, not
 * memcmp(): most prefixes are a few bytes long, most misses differ in the first, and every
 * datagram on the uncompressed context is judged against the rules (-10 §9). */
static int prefix_match(const uint8_t *addr, const uint8_t *prefix, unsigned bits)
{
    size_t whole = bits / 8u;
    unsigned rest = bits % 8u;
    size_t i;
    for (i = 0; i < whole; i++) {
        if (addr[i] != prefix[i]) {
            return 0;
        }
    }
    if (rest != 0) {
        uint8_t mask = (uint8_t)(0xFFu << (8u - rest));
        return (addr[whole] & mask) == (prefix[whole] & mask);
    }
    return 1;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int special_ipv4(const uint8_t *addr)
{
    uint32_t a;
    size_t i;
    if (!may_be_special(special_v4_first, addr[0])) {
        return 0;
    }
    a = load_be32(addr);
    for (i = 0; i < sizeof(special_v4) / sizeof(special_v4[0]); i++) {
        if ((a & special_v4[i].mask) == special_v4[i].value) {
            return 1;
        }
    }
    return 0;
}

int masque_address_is_special(const masque_address *a)
{
    if (a->version == MASQUE_IP_V4) {
        return special_ipv4(a->bytes);
    }
#if MASQUE_ENABLE_IPV6
    if (a->version == MASQUE_IP_V6) {
        uint64_t hi;
        uint64_t lo;
        size_t i;
        if (!may_be_special(special_v6_first, a->bytes[0])) {
            return 0;
        }
        hi = (uint64_t)load_be32(a->bytes) << 32 | load_be32(a->bytes + 4);
        lo = (uint64_t)load_be32(a->bytes + 8) << 32 | load_be32(a->bytes + 12);
        if (hi == 0 && lo >> 32 == 0xFFFFu) {
            /* ::ffff:0:0/96 reaches the IPv4 address inside it: judge that one. */
            return special_ipv4(a->bytes + 12);
        }
        for (i = 0; i < sizeof(special_v6) / sizeof(special_v6[0]); i++) {
            if (in_special_v6(hi, lo, &special_v6[i])) {
                return 1;
            }
        }
        return 0;
    }
#endif
    return 1;
}

/*
 * IPv6 addresses that reach an IPv4 host: IPv4-mapped (::ffff:0:0/96, RFC 4291 §2.5.5.2),
 * IPv4-compatible (::/96 but :: and ::1, deprecated, §2.5.5.1) and the NAT64 well-known prefix
 * (64:ff9b::/96, RFC 6052). They are judged as the IPv4 address they carry, so that IPv4 rules
 * and defaults cannot be bypassed by writing the target another way.
 */
static int embedded_v4(const masque_address *t, masque_address *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t zero[12] = {0};
    if (t->version != MASQUE_IP_V6 || t->bytes[0] != 0) {
        return 0; /* all three start with a zero byte */
    }
    if (memcmp(t->bytes, mapped, 12) != 0 && memcmp(t->bytes, nat64, 12) != 0 &&
        (memcmp(t->bytes, zero, 12) != 0 ||
         (t->bytes[12] == 0 && t->bytes[13] == 0 && t->bytes[14] == 0 && t->bytes[15] <= 1))) {
        return 0;
    }
    masque_address_set_v4(out, t->bytes + 12, t->port);
    return 1;
}

static int rule_matches(const masque_policy_rule *r, const masque_address *t)
{
    unsigned max_bits = (unsigned)masque_ip_len(t->version) * 8u;
    uint16_t port_max = r->port_max == 0 ? 65535u : r->port_max;
    return r->prefix.version == t->version && r->prefix_len <= max_bits &&
           prefix_match(t->bytes, r->prefix.bytes, r->prefix_len) && t->port >= r->port_min &&
           t->port <= port_max;
}

int masque_policy_check(const masque_policy *policy, void *session_user,
                        const masque_address *target)
{
    masque_address v4;
    const masque_address *judged = target;
    if (target == NULL || masque_ip_len(target->version) == 0) {
        return MASQUE_ERR_ADDRESS;
    }
    if (embedded_v4(target, &v4)) {
        judged = &v4; /* the IPv4 host it reaches decides the defaults and the callback */
    }
    if (target->port == 0) {
        return MASQUE_ERR_POLICY; /* no UDP service listens on port 0 */
    }
    if (policy != NULL) {
        size_t i;
        for (i = 0; i < policy->rule_count && policy->rules != NULL; i++) {
            /* A rule matches the address as written or, for one carrying IPv4, that IPv4
             * address: IPv4 rules cannot be bypassed by writing the target in IPv6. */
            const masque_policy_rule *r = &policy->rules[i];
            if (rule_matches(r, target) || (judged != target && rule_matches(r, judged))) {
                return r->allow ? MASQUE_OK : MASQUE_ERR_POLICY;
            }
        }
        if (policy->callback != NULL) {
            masque_policy_verdict v = policy->callback(policy->callback_user, session_user, judged);
            if (v == MASQUE_POLICY_ALLOW) {
                return MASQUE_OK;
            }
            if (v == MASQUE_POLICY_DENY) {
                return MASQUE_ERR_POLICY;
            }
        }
        if (policy->allow_special_purpose) {
            return MASQUE_OK;
        }
    }
    /* RFC 9298 §7: proxies should not reach internal or special-purpose destinations. */
    return masque_address_is_special(judged) ? MASQUE_ERR_POLICY : MASQUE_OK;
}

static const char *find_char(const char *s, size_t len, char c)
{
    size_t i;
    for (i = 0; i < len; i++) {
        if (s[i] == c) {
            return s + i;
        }
    }
    return NULL;
}

int masque_policy_rule_parse(masque_policy_rule *rule, const char *text, size_t len, int allow)
{
    masque_policy_rule r;
    const char *addr = text;
    size_t addr_len;
    const char *rest;
    size_t rest_len;
    unsigned long bits;
    unsigned long lo = 1;
    unsigned long hi = 65535;

    if (MASQUE_BAD_ARGS(rule == NULL || text == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    memset(&r, 0, sizeof(r));
    if (len > 0 && text[0] == '[') {
        const char *close = find_char(text, len, ']');
        if (close == NULL) {
            return MASQUE_ERR_ADDRESS;
        }
        addr = text + 1;
        addr_len = (size_t)(close - addr);
        rest = close + 1;
    } else {
        /* Without brackets the address runs to '/' or, for IPv4 only, ':'. */
        const char *slash = find_char(text, len, '/');
        const char *end = slash != NULL ? slash : text + len;
        const char *colon = find_char(text, (size_t)(end - text), ':');
        if (colon != NULL && find_char(colon + 1, (size_t)(end - colon - 1), ':') == NULL &&
            find_char(text, (size_t)(colon - text), '.') != NULL) {
            end = colon; /* "a.b.c.d:ports" */
        }
        addr_len = (size_t)(end - text);
        rest = end;
    }
    rest_len = len - (size_t)(rest - text);
    if (masque_address_parse(&r.prefix, addr, addr_len, 0) != MASQUE_OK) {
        return MASQUE_ERR_ADDRESS;
    }
    bits = (unsigned long)masque_ip_len(r.prefix.version) * 8u;
    if (rest_len > 0 && rest[0] == '/') {
        const char *colon = find_char(rest, rest_len, ':');
        size_t n = colon != NULL ? (size_t)(colon - rest - 1) : rest_len - 1;
        if (masque_parse_decimal(rest + 1, n, bits, &bits) != 0) {
            return MASQUE_ERR_ADDRESS;
        }
        rest += n + 1;
        rest_len -= n + 1;
    }
    if (rest_len > 0) {
        const char *dash;
        if (rest[0] != ':') {
            return MASQUE_ERR_ADDRESS;
        }
        rest++;
        rest_len--;
        dash = find_char(rest, rest_len, '-');
        if (dash == NULL) {
            if (masque_parse_decimal(rest, rest_len, 65535, &lo) != 0) {
                return MASQUE_ERR_ADDRESS;
            }
            hi = lo;
        } else if (masque_parse_decimal(rest, (size_t)(dash - rest), 65535, &lo) != 0 ||
                   masque_parse_decimal(dash + 1, rest_len - (size_t)(dash - rest) - 1, 65535,
                                        &hi) != 0 ||
                   lo > hi) {
            return MASQUE_ERR_ADDRESS;
        }
    }
    r.prefix_len = (uint8_t)bits;
    r.port_min = (uint16_t)lo;
    r.port_max = (uint16_t)hi;
    r.allow = allow ? 1u : 0u;
    *rule = r;
    return MASQUE_OK;
}

#endif /* MASQUE_ENABLE_POLICY */
