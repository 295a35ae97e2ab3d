/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the text parsers. The first byte picks one: :path matching against the RFC 9298
 * templates, Proxy-Public-Address (with the format round trip), the Structured Field Boolean,
 * address text (with the format round trip), policy rules, and URI templates themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "masque/http.h"
#include "masque/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const templates[] = {
    "https://example.org/.well-known/masque/udp/{target_host}/{target_port}/",
    "https://proxy.example.org:4443/masque{?target_host,target_port}",
    "https://proxy.example.org:4443/masque?h={target_host}&p={target_port}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    masque_str in;
    if (size < 1) {
        return 0;
    }
    in.ptr = (const char *)data + 1;
    in.len = size - 1;
    switch (data[0] % 6u) {
    case 0: {
        masque_request_target t;
        size_t i;
        for (i = 0; i < 3; i++) {
            masque_str tmpl = {templates[i], strlen(templates[i])};
            if (masque_uri_template_match(tmpl, in, &t) == MASQUE_OK) {
                char path[1024];
                if (t.host_len != strlen(t.host) || (!t.wildcard && t.port == 0)) {
                    abort();
                }
                /* What matched expands back to a path that matches the same target. */
                if (masque_uri_template_expand(path, sizeof(path), tmpl, t.wildcard ? NULL : t.host,
                                               t.port) > 0) {
                    masque_request_target u;
                    masque_str pv = {path, strlen(path)};
                    if (masque_uri_template_match(tmpl, pv, &u) != MASQUE_OK ||
                        strcmp(u.host, t.host) != 0 || u.port != t.port) {
                        abort();
                    }
                }
            }
        }
        break;
    }
    case 1: {
        masque_address a[8];
        masque_address b[8];
        size_t n = 0;
        size_t m = 0;
        if (masque_proxy_public_address_parse(in, a, 8, &n) == MASQUE_OK) {
            char text[8 * (MASQUE_ADDRESS_TEXT_MAX + 4)];
            masque_ssize k = masque_proxy_public_address_format(text, sizeof(text), a, n);
            masque_str tv;
            size_t i;
            if (n == 0 || k <= 0) {
                abort();
            }
            tv.ptr = text;
            tv.len = (size_t)k;
            if (masque_proxy_public_address_parse(tv, b, 8, &m) != MASQUE_OK || m != n) {
                abort();
            }
            for (i = 0; i < n; i++) {
                if (!masque_address_equal(&a[i], &b[i])) {
                    abort();
                }
            }
        }
        break;
    }
    case 2:
        (void)masque_sf_is_true(in);
        break;
    case 3: {
        masque_address a;
        masque_address b;
        int with_port;
        for (with_port = 0; with_port < 2; with_port++) {
            if (masque_address_parse(&a, in.ptr, in.len, with_port) == MASQUE_OK) {
                char text[MASQUE_ADDRESS_TEXT_MAX];
                masque_ssize k = masque_address_format(text, sizeof(text), &a, with_port);
                if (k <= 0 || masque_address_parse(&b, text, (size_t)k, with_port) != MASQUE_OK ||
                    (with_port && !masque_address_equal(&a, &b)) ||
                    memcmp(a.bytes, b.bytes, 16) != 0) {
                    abort();
                }
            }
        }
        break;
    }
    case 4: {
        masque_policy_rule r;
        if (masque_policy_rule_parse(&r, in.ptr, in.len, 1) == MASQUE_OK) {
            masque_policy p;
            masque_address t = r.prefix;
            memset(&p, 0, sizeof(p));
            p.rules = &r;
            p.rule_count = 1;
            t.port = r.port_min == 0 ? 1 : r.port_min;
            if (r.prefix_len > masque_address_ip_len(r.prefix.version) * 8u ||
                masque_policy_check(&p, NULL, &t) != MASQUE_OK) {
                abort(); /* the rule's own prefix and first port are allowed */
            }
        }
        break;
    }
    default: {
        static const char *const hosts[] = {"2001:db8::1", "192.0.2.1", "proxy.example", NULL};
        char out[2048];
        size_t i;
        int valid = masque_uri_template_check(in, NULL) == MASQUE_OK;
        for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
            uint16_t port = hosts[i] == NULL ? 0 : 443;
            masque_ssize n = masque_uri_template_expand(out, sizeof(out), in, hosts[i], port);
            masque_request_target t;
            masque_str path = {out, n > 0 ? (size_t)n : 0};
            if (n <= 0 || !valid) {
                continue;
            }
            /* What a valid template expands to, it matches, with the same target. */
            if (masque_uri_template_match(in, path, &t) != MASQUE_OK ||
                (hosts[i] == NULL
                     ? !t.wildcard
                     : t.wildcard || strcmp(t.host, hosts[i]) != 0 || t.port != port)) {
                abort();
            }
        }
        break;
    }
    }
    return 0;
}
