/* SPDX-License-Identifier: GPL-3.0-only */
/* Header and URI helpers: RFC 9298 §2-§3, RFC 9297 §3.2/§3.4, -10 §2/§6/§7, RFC 9209. */
#include "testutil.h"

#include "masque/http.h"
#include "masque/session.h"

static int str_eq(masque_str s, const char *lit)
{
    return s.ptr != NULL && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static masque_str S(const char *s)
{
    masque_str r;
    r.ptr = s;
    r.len = s == NULL ? 0 : strlen(s);
    return r;
}

#define WELL_KNOWN "https://example.org/.well-known/masque/udp/{target_host}/{target_port}/"
#define QUERY_FORM "https://proxy.example.org:4443/masque{?target_host,target_port}"
#define QUERY_LIT  "https://proxy.example.org:4443/masque?h={target_host}&p={target_port}"

static void test_UDP_1_valid_templates_are_accepted(void **state)
{
    masque_str authority;
    (void)state;
    assert_int_equal(masque_uri_template_check(S(WELL_KNOWN), &authority), MASQUE_OK);
    assert_int_equal(authority.len, 11);
    assert_memory_equal(authority.ptr, "example.org", 11);
    assert_int_equal(masque_uri_template_check(S(QUERY_FORM), NULL), MASQUE_OK);
    assert_int_equal(masque_uri_template_check(S(QUERY_LIT), NULL), MASQUE_OK);
    /* More forms, each followed through expansion and matching:
     * test_UDP_1_every_accepted_template_matches_its_own_expansions. */
}

static void test_UDP_1_invalid_templates_are_rejected(void **state)
{
    static const char *const bad[] = {
        "https://example.org/masque/{target_host}/",                 /* no target_port */
        "https://example.org/masque/{+target_host}/{target_port}/",  /* reserved expansion */
        "https://example.org/masque/{#target_host}/{target_port}/",  /* fragment expansion */
        "https://{target_host}/{target_port}/",                      /* variable in authority */
        "/masque/{target_host}/{target_port}/",                      /* not absolute */
        "https://example.org",                                       /* no path */
        "https:///{target_host}/{target_port}/",                     /* empty authority */
        "https://example.org/m asque/{target_host}/{target_port}/",  /* space */
        "https://example.org/{target_host:3}/{target_port}/",        /* level 4 prefix */
        "https://example.org/{target_host}/{target_port",            /* unclosed */
        "https://example.org/{target_host}/{target_port}/}",         /* stray brace */
        "https://example.org/\xc3\xa9/{target_host}/{target_port}/", /* non-ASCII */
        "https://example.org/{target_host}/{target_host}/{target_port}/", /* twice */
        "",
        /* A proxy could not tell where a value ends in the paths these expand to. */
        "https://example.org/{target_host}{target_port}/",
        "https://example.org/{target_host}.{target_port}/",
        "https://example.org/{target_host}-{target_port}/",
        "https://example.org/{target_host}%2F{target_port}/",
        "https://example.org/{target_host,target_port},x",
        "https://example.org/m{?target_host,target_port}x",
        "https://example.org/m{?target_host,target_port}/",
        "https://example.org/m{?target_host}{?target_port}",
    };
    size_t i;
    char out[128];
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(masque_uri_template_check(S(bad[i]), NULL), MASQUE_ERR_TEMPLATE);
        assert_int_equal(masque_uri_template_expand(out, sizeof(out), S(bad[i]), "a", 1),
                         MASQUE_ERR_TEMPLATE);
    }
}

static void test_BIND_1_wildcard_is_percent_encoded(void **state)
{
    char out[128];
    masque_ssize n;
    (void)state;
    n = masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), NULL, 0);
    assert_int_equal(n, (masque_ssize)strlen("/.well-known/masque/udp/%2A/%2A/"));
    assert_string_equal(out, "/.well-known/masque/udp/%2A/%2A/"); /* -10 appendix :path */
    n = masque_uri_template_expand(out, sizeof(out), S(QUERY_FORM), NULL, 0);
    assert_true(n > 0);
    assert_string_equal(out, "/masque?target_host=%2A&target_port=%2A");
}

static void test_UDP_2_targets_expand_with_ipv6_colons_encoded(void **state)
{
    char out[128];
    (void)state;
    assert_true(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), "192.0.2.42", 443) > 0);
    assert_string_equal(out, "/.well-known/masque/udp/192.0.2.42/443/");
    assert_true(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), "2001:db8::42", 443) >
                0);
    assert_string_equal(out, "/.well-known/masque/udp/2001%3Adb8%3A%3A42/443/");
    assert_true(masque_uri_template_expand(out, sizeof(out), S(QUERY_FORM), "192.0.2.42", 443) > 0);
    assert_string_equal(out, "/masque?target_host=192.0.2.42&target_port=443");
    assert_true(masque_uri_template_expand(out, sizeof(out), S(QUERY_LIT), "example.com", 65535) >
                0);
    assert_string_equal(out, "/masque?h=example.com&p=65535");
    /* Errors: one `*` only, empty or odd host, small buffer. */
    assert_int_equal(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), NULL, 443),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), "a", 0),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), "", 1),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), "a/b", 1),
                     MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_uri_template_expand(out, 20, S(WELL_KNOWN), NULL, 0),
                     MASQUE_ERR_BUFFER);
}

/* RFC 9298 §3: a target host is a DNS name or an IP literal; colons belong to IPv6 literals
 * only. What the client's expansion builds, the proxy's match reads back unchanged, and a host
 * the match would refuse as malformed is not expanded at all. */
static void test_UDP_2_what_expands_matches_and_nothing_malformed_expands(void **state)
{
    static const char *const good[] = {"192.0.2.42",  "2001:db8::42",  "::1",
                                       "example.com", "a-b_c.example", "::ffff:192.0.2.1"};
    static const char *const bad[] = {
        "a:", ":", "192.0.2.42:443", "2001:db8::42::1", "example.com:443", "1:2:3:4:5:6:7:8:9"};
    char out[128];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        masque_request_target t;
        masque_str path;
        assert_true(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), good[i], 4433) > 0);
        path.ptr = out;
        path.len = strlen(out);
        assert_int_equal(masque_uri_template_match(S(WELL_KNOWN), path, &t), MASQUE_OK);
        assert_int_equal(t.host_len, strlen(good[i]));
        assert_memory_equal(t.host, good[i], t.host_len);
        assert_int_equal(t.port, 4433);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(masque_uri_template_expand(out, sizeof(out), S(WELL_KNOWN), bad[i], 4433),
                         MASQUE_ERR_INVALID_ARGUMENT);
    }
}

/* Every template masque_uri_template_check() accepts matches what it expands to, with the same
 * target (fuzz_http checks the same of every template it makes). */
static void test_UDP_1_every_accepted_template_matches_its_own_expansions(void **state)
{
    static const char *const templates[] = {
        WELL_KNOWN,
        QUERY_FORM,
        QUERY_LIT,
        "https://p.example/{target_host},{target_port}",
        "https://p.example/{target_host}{?target_port}",
        "https://p.example/{target_host}{&target_port}",
        "https://p.example/m{?target_host}{&target_port,v}",
        "https://p.example/m{?x}{&target_host,target_port}",
        "https://p.example/{x,target_host,y,target_port}/{z}/",
    };
    static const char *const hosts[] = {"192.0.2.6", "2001:db8::6", "proxy.example", NULL};
    size_t i;
    size_t k;
    (void)state;
    for (i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
        for (k = 0; k < sizeof(hosts) / sizeof(hosts[0]); k++) {
            char out[160];
            masque_request_target t;
            uint16_t port = hosts[k] == NULL ? 0 : 4433;
            masque_ssize n =
                masque_uri_template_expand(out, sizeof(out), S(templates[i]), hosts[k], port);
            assert_true(n > 0);
            if (masque_uri_template_match(S(templates[i]), S(out), &t) != MASQUE_OK) {
                fail_msg("%s does not match %s", out, templates[i]);
            }
            assert_int_equal(t.wildcard, hosts[k] == NULL);
            assert_string_equal(t.host, hosts[k] == NULL ? "*" : hosts[k]);
            assert_int_equal(t.port, port);
        }
    }
}

static void test_BIND_2_exactly_one_wildcard_is_a_bad_request(void **state)
{
    masque_request_target t;
    (void)state;
    assert_int_equal(
        masque_uri_template_match(S(WELL_KNOWN), S("/.well-known/masque/udp/%2A/443/"), &t),
        MASQUE_ERR_BAD_REQUEST);
    assert_int_equal(
        masque_uri_template_match(S(WELL_KNOWN), S("/.well-known/masque/udp/192.0.2.1/%2A/"), &t),
        MASQUE_ERR_BAD_REQUEST);
    assert_int_equal(
        masque_uri_template_match(S(WELL_KNOWN), S("/.well-known/masque/udp/%2A/%2A/"), &t),
        MASQUE_OK);
    assert_true(t.wildcard);
    assert_int_equal(
        masque_uri_template_match(S(WELL_KNOWN), S("/.well-known/masque/udp/*/*/"), &t),
        MASQUE_OK); /* a literal `*` is accepted too */
    assert_true(t.wildcard);
}

static void test_UDP_2_proxy_decodes_and_checks_targets(void **state)
{
    static const char *const bad[] = {
        "/.well-known/masque/udp/192.0.2.1/0/",    "/.well-known/masque/udp/192.0.2.1/65536/",
        "/.well-known/masque/udp/192.0.2.1//",     "/.well-known/masque/udp//443/",
        "/.well-known/masque/udp/192.0.2.1/44a/",  "/.well-known/masque/udp/192.0.2.1/443",
        "/.well-known/masque/UDP/192.0.2.1/443/",  "/.well-known/masque/udp/a%2Fb/443/",
        "/.well-known/masque/udp/2001%3Azz/443/",  "/.well-known/masque/udp/a%2/443/",
        "/.well-known/masque/udp/192.0.2.1/443/x", "/.well-known/masque/udp/192.0.2.1/0443/",
    };
    static const char *const bad_query[] = {
        "/masque?target_host&target_port=443",
        "/masque?target_host=%zz&target_port=443",
        "/masque?target_host=a%2&target_port=443",
        "/masque?target_host=a&target_port=4%3",
        "/masque?target_port=443",
        "/masque?target_host=a",
    };
    static char long_host[36 + MASQUE_TARGET_HOST_MAX + 2];
    masque_request_target t;
    size_t i;
    (void)state;
    assert_int_equal(
        masque_uri_template_match(S(WELL_KNOWN), S("/.well-known/masque/udp/192.0.2.1/443/"), &t),
        MASQUE_OK);
    assert_false(t.wildcard);
    assert_string_equal(t.host, "192.0.2.1");
    assert_int_equal(t.port, 443);
    assert_int_equal(masque_uri_template_match(
                         S(WELL_KNOWN), S("/.well-known/masque/udp/2001%3adb8%3A%3A42/53/"), &t),
                     MASQUE_OK);
    assert_string_equal(t.host, "2001:db8::42");
    assert_int_equal(masque_uri_template_match(
                         S(QUERY_FORM), S("/masque?target_port=443&target_host=example.com"), &t),
                     MASQUE_OK);
    assert_string_equal(t.host, "example.com");
    assert_int_equal(t.port, 443);
    assert_int_equal(masque_uri_template_match(S(QUERY_LIT), S("/masque?h=%2A&p=%2A"), &t),
                     MASQUE_OK);
    assert_true(t.wildcard);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(masque_uri_template_match(S(WELL_KNOWN), S(bad[i]), &t),
                         MASQUE_ERR_BAD_REQUEST);
    }
    /* The same of a query: a key without a value, a cut or bad escape, a host longer than
     * any (MASQUE_TARGET_HOST_MAX), a variable missing. */
    for (i = 0; i < sizeof(bad_query) / sizeof(bad_query[0]); i++) {
        assert_int_equal(masque_uri_template_match(S(QUERY_FORM), S(bad_query[i]), &t),
                         MASQUE_ERR_BAD_REQUEST);
    }
    memcpy(long_host, "/masque?target_port=443&target_host=", 36);
    memset(long_host + 36, 'a', MASQUE_TARGET_HOST_MAX + 1);
    long_host[36 + MASQUE_TARGET_HOST_MAX + 1] = '\0';
    assert_int_equal(masque_uri_template_match(S(QUERY_FORM), S(long_host), &t),
                     MASQUE_ERR_BAD_REQUEST);
    long_host[36 + MASQUE_TARGET_HOST_MAX] = '\0'; /* the longest that fits */
    assert_int_equal(masque_uri_template_match(S(QUERY_FORM), S(long_host), &t), MASQUE_OK);
    assert_int_equal(t.host_len, MASQUE_TARGET_HOST_MAX);
}

static void test_DG_15_BIND_24_only_a_boolean_true_counts(void **state)
{
    static const char *const yes[] = {"?1",         " ?1 ", "?1;a=1", "?1;foo", "?1;a=\"x,y\";b=?0",
                                      "?1; key=tok"};
    static const char *const no[] = {"?0",     "1", "?1, ?1", "\"?1\"", "?1;",
                                     "?1;A=1", "",  "?",      "?1 x",   "true"};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_int_equal(masque_sf_is_true(S(yes[i])), 1);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_int_equal(masque_sf_is_true(S(no[i])), 0);
    }
    assert_int_equal(masque_sf_is_true(S(NULL)), 0);
}

static void test_BIND_25_proxy_public_address_format_and_parse(void **state)
{
    static const char *const appendix = "\"192.0.2.45:54321\", \"[2001:db8::1234]:54321\"";
    masque_address addrs[4];
    char out[128];
    size_t n = 0;
    (void)state;
    assert_int_equal(masque_proxy_public_address_parse(S(appendix), addrs, 4, &n), MASQUE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(addrs[0].version, 4);
    assert_int_equal(addrs[0].port, 54321);
    assert_int_equal(addrs[1].version, 6);
    assert_int_equal(masque_address_families(addrs, n), MASQUE_FAMILY_V4 | MASQUE_FAMILY_V6);
    assert_int_equal(masque_proxy_public_address_format(out, sizeof(out), addrs, n),
                     (masque_ssize)strlen(appendix));
    assert_string_equal(out, appendix);
    /* Tolerant of white space and parameters. */
    assert_int_equal(masque_proxy_public_address_parse(S("  \"192.0.2.45:1\";x=1 ,\t\"[::1]:2\"  "),
                                                       addrs, 4, &n),
                     MASQUE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(addrs[1].port, 2);
    assert_int_equal(masque_proxy_public_address_format(out, 10, addrs, n), MASQUE_ERR_BUFFER);
}

static void test_BIND_25_malformed_proxy_public_address_is_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "192.0.2.45:54321",
        "\"192.0.2.45\"",
        "\"2001:db8::1:443\"",
        "\"192.0.2.45:54321\",",
        "\"192.0.2.45:54321\" \"192.0.2.46:1\"",
        "\"192.0.2.45:65536\"",
        "\"192.0.2.45:1",
        "\"[2001:db8::1234]\"",
    };
    masque_address addrs[2];
    size_t n;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(masque_proxy_public_address_parse(S(bad[i]), addrs, 2, &n),
                         MASQUE_ERR_FIELD);
    }
    assert_int_equal(masque_proxy_public_address_parse(
                         S("\"1.1.1.1:1\", \"1.1.1.2:1\", \"1.1.1.3:1\""), addrs, 2, &n),
                     MASQUE_ERR_BUFFER);
    /* Beyond the room, members are still checked. */
    assert_int_equal(masque_proxy_public_address_parse(
                         S("\"1.1.1.1:1\", \"1.1.1.2:1\", \"1.1.1.3:0\""), addrs, 2, &n),
                     MASQUE_ERR_FIELD);
    assert_int_equal(masque_proxy_public_address_parse(
                         S("\"1.1.1.1:1\", \"1.1.1.2:1\", \"1.1.1.3:1\", x"), addrs, 2, &n),
                     MASQUE_ERR_FIELD);
}

static masque_response_fields good_response(void)
{
    masque_response_fields r;
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.capsule_protocol = S("?1");
    r.connect_udp_bind = S("?1");
    r.proxy_public_address = S("\"192.0.2.45:54321\", \"[2001:db8::1234]:54321\"");
    return r;
}

/* -10 §7: a proxy may bind several public addresses. A client with room for fewer keeps the
 * first ones (the tunnel works whichever of them its peers are told) rather than refusing the
 * tunnel; every member is still checked. */
static void test_BIND_25_a_client_keeps_the_addresses_it_has_room_for(void **state)
{
    masque_address addrs[2];
    masque_response_fields r;
    unsigned fam = 0;
    size_t n = 0;
    (void)state;
    r = good_response();
    r.proxy_public_address = S("\"192.0.2.1:1\", \"[2001:db8::1]:2\", \"192.0.2.3:3\"");
    assert_int_equal(masque_proxy_public_address_parse(r.proxy_public_address, addrs, 2, &n),
                     MASQUE_ERR_BUFFER);
    assert_int_equal(n, 2);
    assert_int_equal(masque_bind_response_check(&r, addrs, 2, &n, &fam), MASQUE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(addrs[0].version, MASQUE_IP_V4);
    assert_int_equal(addrs[0].port, 1);
    assert_int_equal(addrs[1].version, MASQUE_IP_V6);
    assert_int_equal(addrs[1].port, 2);
    assert_int_equal(fam, MASQUE_FAMILY_V4 | MASQUE_FAMILY_V6);
    r.proxy_public_address = S("\"192.0.2.1:1\", \"[2001:db8::1]:2\", \"192.0.2.3:0\"");
    assert_int_equal(masque_bind_response_check(&r, addrs, 2, &n, &fam), MASQUE_ERR_BAD_RESPONSE);
}

static void test_UDP_4_DG_10_client_refuses_responses_that_do_not_enable_bind(void **state)
{
    masque_response_fields r = good_response();
    masque_address addrs[4];
    size_t n = 0;
    unsigned fam = 0;
    (void)state;
    assert_int_equal(masque_bind_response_check(&r, addrs, 4, &n, &fam), MASQUE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(fam, MASQUE_FAMILY_V4 | MASQUE_FAMILY_V6);
    r.status = 404;
    assert_int_equal(masque_bind_response_check(&r, addrs, 4, &n, &fam), MASQUE_ERR_BAD_RESPONSE);
    r = good_response();
    r.connect_udp_bind = S(NULL); /* BIND-24: the proxy did not enable Bind */
    assert_int_equal(masque_bind_response_check(&r, addrs, 4, &n, &fam), MASQUE_ERR_BAD_RESPONSE);
    r.connect_udp_bind = S("?1, ?1");
    assert_int_equal(masque_bind_response_check(&r, addrs, 4, &n, &fam), MASQUE_ERR_BAD_RESPONSE);
    r = good_response();
    r.proxy_public_address = S(NULL);
    assert_int_equal(masque_bind_response_check(&r, addrs, 4, &n, &fam), MASQUE_ERR_BAD_RESPONSE);
    r = good_response();
    r.has_content_length = 1; /* DG-10 */
    assert_int_equal(masque_bind_response_check(&r, addrs, 4, &n, &fam), MASQUE_ERR_BAD_RESPONSE);
}

static masque_request_fields appendix_request(void)
{
    masque_request_fields q;
    memset(&q, 0, sizeof(q));
    q.method = S("CONNECT");
    q.protocol = S("connect-udp");
    q.scheme = S("https");
    q.authority = S("proxy.example.org");
    q.path = S("/.well-known/masque/udp/%2A/%2A/");
    q.capsule_protocol = S("?1");
    q.connect_udp_bind = S("?1");
    return q;
}

static void test_UDP_3_DG_10_proxy_checks_the_extended_connect_request(void **state)
{
    masque_request_fields q = appendix_request();
    masque_request_target t;
    (void)state;
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_OK);
    assert_true(t.wildcard && t.bind);
    q.method = S("GET");
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_ERR_BAD_REQUEST);
    q = appendix_request();
    q.protocol = S("connect-ip");
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_ERR_BAD_REQUEST);
    q = appendix_request();
    q.authority = S(NULL);
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_ERR_BAD_REQUEST);
    q = appendix_request();
    q.connect_udp_bind = S("?0"); /* `*` without Bind means nothing */
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_ERR_BAD_REQUEST);
    q.path = S("/.well-known/masque/udp/192.0.2.1/443/"); /* plain RFC 9298 is fine */
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_OK);
    assert_false(t.bind);
    q = appendix_request();
    q.has_content_type = 1; /* DG-10 */
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_ERR_BAD_REQUEST);
    assert_int_equal(masque_bind_request_check(S("bad"), &q, &t), MASQUE_ERR_TEMPLATE);
}

static void test_UDP_5_proxy_status_values(void **state)
{
    char out[128];
    masque_str none = {NULL, 0};
    (void)state;
    assert_true(masque_proxy_status_format(out, sizeof(out), S("proxy.example.org"),
                                           MASQUE_PROXY_STATUS_DESTINATION_IP_PROHIBITED,
                                           none) > 0);
    assert_string_equal(out, "proxy.example.org; error=destination_ip_prohibited");
    assert_true(masque_proxy_status_format(out, sizeof(out), S("my proxy"),
                                           MASQUE_PROXY_STATUS_HTTP_REQUEST_ERROR,
                                           S("say \"hi\"")) > 0);
    assert_string_equal(out, "\"my proxy\"; error=http_request_error; details=\"say \\\"hi\\\"\"");
    assert_int_equal(masque_proxy_status_format(out, 10, S("proxy.example.org"), "x", none),
                     MASQUE_ERR_BUFFER);
    assert_int_equal(masque_proxy_status_format(out, sizeof(out), S("a\nb"), "x", none),
                     MASQUE_ERR_INVALID_ARGUMENT);
}

static void test_UDP_1_multi_variable_expressions_expand_and_match(void **state)
{
    static const char tmpl[] = "https://proxy.example/udp/{target_host,target_port}/";
    char out[128];
    masque_request_target t;
    (void)state;
    assert_int_equal(masque_uri_template_check(S(tmpl), NULL), MASQUE_OK);
    /* RFC 6570 §3.2.2: "{x,y}" expands to "1024,768". */
    assert_int_equal(masque_uri_template_expand(out, sizeof(out), S(tmpl), "192.0.2.6", 443), 19);
    assert_string_equal(out, "/udp/192.0.2.6,443/");
    assert_int_equal(masque_uri_template_match(S(tmpl), S(out), &t), MASQUE_OK);
    assert_string_equal(t.host, "192.0.2.6");
    assert_int_equal(t.port, 443);
    assert_false(t.wildcard);
    assert_true(masque_uri_template_expand(out, sizeof(out), S(tmpl), "2001:db8::1", 53) > 0);
    assert_string_equal(out, "/udp/2001%3Adb8%3A%3A1,53/");
    assert_int_equal(masque_uri_template_match(S(tmpl), S(out), &t), MASQUE_OK);
    assert_string_equal(t.host, "2001:db8::1");
    assert_true(masque_uri_template_expand(out, sizeof(out), S(tmpl), NULL, 0) > 0);
    assert_string_equal(out, "/udp/%2A,%2A/");
    assert_int_equal(masque_uri_template_match(S(tmpl), S(out), &t), MASQUE_OK);
    assert_true(t.wildcard);
    /* Too few or too many values. */
    assert_int_equal(masque_uri_template_match(S(tmpl), S("/udp/192.0.2.6/"), &t),
                     MASQUE_ERR_BAD_REQUEST);
    assert_int_equal(masque_uri_template_match(S(tmpl), S("/udp/192.0.2.6,443,1/"), &t),
                     MASQUE_ERR_BAD_REQUEST);
    assert_int_equal(masque_uri_template_match(S(tmpl), S("/udp/192.0.2.6,/"), &t),
                     MASQUE_ERR_BAD_REQUEST);
}

/* Expands tmpl for 192.0.2.6:443, checks the path is `want`, and that it matches again with
 * that target. */
static void expands_and_matches(const char *tmpl, const char *want)
{
    char out[128];
    masque_request_target t;
    assert_true(masque_uri_template_expand(out, sizeof(out), S(tmpl), "192.0.2.6", 443) > 0);
    assert_string_equal(out, want);
    assert_int_equal(masque_uri_template_match(S(tmpl), S(out), &t), MASQUE_OK);
    assert_string_equal(t.host, "192.0.2.6");
    assert_int_equal(t.port, 443);
}

/* A template may hold variables besides target_host and target_port; libmasque defines no
 * value for them, and RFC 6570 §3.2.1 expands an undefined variable to nothing (no separator,
 * no "name=", no operator when the whole expression is undefined). A path that gives one a
 * value matches no target. */
static void test_UDP_1_variables_other_than_the_target_expand_to_nothing(void **state)
{
    static const char path_form[] = "https://proxy.example/udp/{x}/{target_host}/{target_port}/";
    static const char query_form[] = "https://proxy.example/masque{?v,target_host,target_port,w}";
    static const char list_form[] = "https://proxy.example/udp/{x,target_host,target_port,y}{?z}";
    masque_request_target t;
    (void)state;
    expands_and_matches(path_form, "/udp//192.0.2.6/443/");
    assert_int_equal(masque_uri_template_match(S(path_form), S("/udp/a/192.0.2.6/443/"), &t),
                     MASQUE_ERR_BAD_REQUEST);
    expands_and_matches(query_form, "/masque?target_host=192.0.2.6&target_port=443");
    /* A query that does not begin as the expression says is no match. */
    assert_int_equal(masque_uri_template_match(
                         S(query_form), S("/masque&target_host=192.0.2.6&target_port=443"), &t),
                     MASQUE_ERR_BAD_REQUEST);
    assert_int_equal(masque_uri_template_match(S(query_form), S("/masque"), &t),
                     MASQUE_ERR_BAD_REQUEST);
    expands_and_matches(list_form, "/udp/192.0.2.6,443");
    assert_int_equal(masque_uri_template_match(S(list_form), S("/udp/192.0.2.6,443?z=1"), &t),
                     MASQUE_OK);
    assert_int_equal(masque_uri_template_match(S(list_form), S("/udp/192.0.2.6,443&z=1"), &t),
                     MASQUE_ERR_BAD_REQUEST);
}

static void test_BIND_25_proxy_public_address_never_names_port_0(void **state)
{
    masque_address a[2];
    masque_response_fields r;
    size_t n = 0;
    char out[64];
    (void)state;
    /* -10 §7: the proxy selects an open port for the client; 0 is none. */
    assert_int_equal(masque_proxy_public_address_parse(S("\"192.0.2.45:0\""), a, 2, &n),
                     MASQUE_ERR_FIELD);
    assert_int_equal(
        masque_proxy_public_address_parse(S("\"192.0.2.45:1\", \"[2001:db8::1]:0\""), a, 2, &n),
        MASQUE_ERR_FIELD);
    assert_int_equal(masque_address_parse(&a[0], "192.0.2.45:0", 12, 1), MASQUE_OK);
    assert_int_equal(masque_proxy_public_address_format(out, sizeof(out), a, 1),
                     MASQUE_ERR_ADDRESS);
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.connect_udp_bind = S("?1");
    r.proxy_public_address = S("\"192.0.2.45:0\"");
    assert_int_equal(masque_bind_response_check(&r, a, 2, &n, NULL), MASQUE_ERR_BAD_RESPONSE);
}

static void test_DG_10_responses_204_205_206_cannot_use_the_capsule_protocol(void **state)
{
    masque_response_fields r;
    masque_address a[2];
    size_t n = 0;
    int status;
    (void)state;
    memset(&r, 0, sizeof(r));
    r.capsule_protocol = S("?1");
    r.connect_udp_bind = S("?1");
    r.proxy_public_address = S("\"192.0.2.45:54321\"");
    for (status = 200; status <= 299; status++) {
        int want = (status >= 204 && status <= 206) ? MASQUE_ERR_BAD_RESPONSE : MASQUE_OK;
        r.status = status;
        assert_int_equal(masque_bind_response_check(&r, a, 2, &n, NULL), want);
    }
    r.allow_fallback = 1;
    r.connect_udp_bind = S(NULL);
    r.status = 204;
    assert_int_equal(masque_bind_response_check(&r, a, 2, &n, NULL), MASQUE_ERR_BAD_RESPONSE);
}

static void test_BIND_36_concrete_target_without_bind_falls_back_to_rfc9298(void **state)
{
    masque_response_fields r;
    masque_address a[2];
    size_t n = 7;
    unsigned fam = 7;
    (void)state;
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.capsule_protocol = S("?1");
    r.allow_fallback = 1; /* the request named 192.0.2.6:443 */
    assert_int_equal(masque_bind_response_check(&r, a, 2, &n, &fam), MASQUE_BIND_FALLBACK);
    assert_int_equal(n, 0);
    assert_int_equal(fam, 0);
    r.connect_udp_bind = S("?0");
    assert_int_equal(masque_bind_response_check(&r, a, 2, &n, &fam), MASQUE_BIND_FALLBACK);
    /* With Bind on, the same response shape is Bind, addresses and all. */
    r.connect_udp_bind = S("?1");
    r.proxy_public_address = S("\"192.0.2.45:54321\"");
    assert_int_equal(masque_bind_response_check(&r, a, 2, &n, &fam), MASQUE_OK);
    assert_int_equal(n, 1);
    /* A `*` request has no fallback: no Bind is a failure (UDP-4). */
    r.allow_fallback = 0;
    r.connect_udp_bind = S(NULL);
    assert_int_equal(masque_bind_response_check(&r, a, 2, &n, &fam), MASQUE_ERR_BAD_RESPONSE);
}

static void test_DG_15_BIND_24_repeated_field_lines_count_as_absent(void **state)
{
    char v[16];
    masque_ssize n;
    masque_request_fields q;
    masque_request_target t;
    (void)state;
    /* Two "connect-udp-bind: ?1" lines combine into a List (RFC 9110 §5.3): not a Boolean. */
    n = masque_field_append(v, sizeof(v), 0, S("?1"));
    assert_int_equal(n, 2);
    n = masque_field_append(v, sizeof(v), (size_t)n, S("?1"));
    assert_int_equal(n, 6);
    assert_string_equal(v, "?1, ?1");
    assert_int_equal(masque_sf_is_true(S(v)), 0);
    memset(&q, 0, sizeof(q));
    q.method = S("CONNECT");
    q.protocol = S("connect-udp");
    q.scheme = S("https");
    q.authority = S("example.org");
    q.path = S("/.well-known/masque/udp/%2A/%2A/");
    q.capsule_protocol = S("?1");
    q.connect_udp_bind = S(v);
    assert_int_equal(masque_bind_request_check(S(WELL_KNOWN), &q, &t), MASQUE_ERR_BAD_REQUEST);
    /* A List field's members add up. */
    n = masque_field_append(v, sizeof(v), 0, S("\"a\""));
    n = masque_field_append(v, sizeof(v), (size_t)n, S("\"b\""));
    assert_string_equal(v, "\"a\", \"b\"");
    /* A line that does not fit is refused, and nothing is cut or written. */
    assert_int_equal(masque_field_append(v, sizeof(v), (size_t)n, S("\"cdefgh\"")),
                     MASQUE_ERR_BUFFER);
    assert_string_equal(v, "\"a\", \"b\"");
    assert_int_equal(masque_field_append(v, 4, 0, S("?1;a")), MASQUE_ERR_BUFFER);
    assert_int_equal(masque_field_append(v, sizeof(v), sizeof(v), S("?1")),
                     MASQUE_ERR_INVALID_ARGUMENT);
}

static void test_DG_15_BIND_24_parameters_with_invalid_values_make_the_field_invalid(void **state)
{
    static const char *const valid[] = {
        "?1;a",
        "?1;a=1",
        "?1;a=-12.345",
        "?1;a=123456789012345",
        "?1;a=\"x\\\"y\"",
        "?1;a=tok/en:x*",
        "?1;a=:aGVsbG8=:",
        "?1;a=?0",
        "?1;a=@1659578233",
        "?1;a=%\"caf%c3%a9\"",
        /* RFC 9651 §4.2.10: the decoded bytes are UTF-8, each length at its edges. */
        "?1;a=%\"%e0%a0%80 %ed%9f%bf %e2%82%ac %ef%bf%bf\"",
        "?1;a=%\"%f0%90%80%80 %f0%9f%98%80 %f4%8f%bf%bf\"",
        "?1;a=%\"%25%22%41\"",
        "?1; a=1;b;c=*x",
        "?1;a=1;a=2",
    };
    static const char *const invalid[] = {
        "?1;a=b@c",
        "?1;a=1.2345",
        "?1;a=1234567890123456",
        "?1;a=1234567890123.1",
        "?1;a=-",
        "?1;a=1.",
        "?1;a=:a!:",
        "?1;a=:abc",
        "?1;a=\"x",
        "?1;a=@1.5",
        "?1;a=@",
        "?1;a=%\"%ff\"",
        "?1;a=%\"%C3%A9\"",
        "?1;a=%\"%c3\"",
        "?1;a=%\"%c0%af\"", /* overlong forms */
        "?1;a=%\"%e0%9f%bf\"",
        "?1;a=%\"%f0%8f%bf%bf\"",
        "?1;a=%\"%ed%a0%80\"",    /* a surrogate */
        "?1;a=%\"%f4%90%80%80\"", /* above U+10FFFF */
        "?1;a=%\"%f5%80%80%80\"",
        "?1;a=%\"%80\"",    /* a continuation without a lead */
        "?1;a=%\"%e2%82\"", /* cut short */
        "?1;a=%\"%f0%9f%98\"",
        "?1;a=%\"%e2%28%a1\"", /* not a continuation */
        "?1;a=%\"%e2%82%ac%\"",
        "?1;a=%\"%e2%82%a\"",
        "?1;a=%\"x",
        "?1;A=1",
        "?1;a=",
        "?1;=1",
        "?1;a=?2",
        "?1;a=\"\x01\"",
    };
    masque_address a[2];
    size_t n = 0;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        if (masque_sf_is_true(S(valid[i])) != 1) {
            fail_msg("valid parameters refused: %s", valid[i]);
        }
    }
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (masque_sf_is_true(S(invalid[i])) != 0) {
            fail_msg("invalid parameters accepted: %s", invalid[i]);
        }
    }
    /* The same rule for the members of Proxy-Public-Address. */
    assert_int_equal(masque_proxy_public_address_parse(S("\"192.0.2.45:1\";x=b@c"), a, 2, &n),
                     MASQUE_ERR_FIELD);
    assert_int_equal(masque_proxy_public_address_parse(S("\"192.0.2.45:1\";x=@17"), a, 2, &n),
                     MASQUE_OK);
}

static void test_DG_16_capsule_protocol_only_on_2xx_responses(void **state)
{
    masque_field f[MASQUE_BIND_RESPONSE_FIELDS_MAX];
    masque_bind_response r;
    masque_address pub;
    char buf[128];
    char ps[64];
    masque_ssize n;
    masque_ssize i;
    int status;
    (void)state;
    assert_int_equal(masque_address_parse(&pub, "192.0.2.45:54321", 16, 1), MASQUE_OK);
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.bind = 1;
    r.public_addresses = &pub;
    r.public_address_count = 1;
    n = masque_bind_response_fields(f, MASQUE_BIND_RESPONSE_FIELDS_MAX, buf, sizeof(buf), &r);
    assert_int_equal(n, 4);
    assert_true(str_eq(f[0].name, ":status") && str_eq(f[0].value, "200"));
    assert_true(str_eq(f[1].name, "capsule-protocol") && str_eq(f[1].value, "?1"));
    assert_true(str_eq(f[2].name, "connect-udp-bind") && str_eq(f[2].value, "?1"));
    assert_true(str_eq(f[3].name, "proxy-public-address") &&
                str_eq(f[3].value, "\"192.0.2.45:54321\""));
    /* Refusals never carry Capsule-Protocol (RFC 9297 §3.4); Proxy-Status says why. */
    assert_true(masque_proxy_status_format(ps, sizeof(ps), S("proxy"),
                                           MASQUE_PROXY_STATUS_DESTINATION_IP_PROHIBITED,
                                           S(NULL)) > 0);
    r.proxy_status = S(ps);
    for (status = 300; status <= 599; status += 7) {
        r.status = status;
        n = masque_bind_response_fields(f, MASQUE_BIND_RESPONSE_FIELDS_MAX, buf, sizeof(buf), &r);
        assert_int_equal(n, 2);
        for (i = 0; i < n; i++) {
            assert_false(str_eq(f[i].name, "capsule-protocol"));
        }
        assert_true(str_eq(f[1].name, "proxy-status") && str_eq(f[1].value, ps));
    }
    /* 204-206 cannot carry capsules at all; 1xx is not a final answer to a Bind request. */
    for (status = 204; status <= 206; status++) {
        r.status = status;
        assert_int_equal(
            masque_bind_response_fields(f, MASQUE_BIND_RESPONSE_FIELDS_MAX, buf, sizeof(buf), &r),
            MASQUE_ERR_INVALID_ARGUMENT);
    }
    r.status = 101;
    assert_int_equal(
        masque_bind_response_fields(f, MASQUE_BIND_RESPONSE_FIELDS_MAX, buf, sizeof(buf), &r),
        MASQUE_ERR_INVALID_ARGUMENT);
    r.status = 200;
    assert_int_equal(masque_bind_response_fields(f, 3, buf, sizeof(buf), &r), MASQUE_ERR_BUFFER);
    assert_int_equal(masque_bind_response_fields(f, 4, buf, 10, &r), MASQUE_ERR_BUFFER);
    pub.port = 0;
    assert_int_equal(masque_bind_response_fields(f, 4, buf, sizeof(buf), &r), MASQUE_ERR_ADDRESS);
}

static void test_DG_7_DG_20_h3_datagram_setting_is_0_or_1_and_never_lowered(void **state)
{
    (void)state;
    assert_int_equal(masque_h3_datagram_setting_check(0, 0), 0);
    assert_int_equal(masque_h3_datagram_setting_check(1, 0), 1);
    /* DG-7: any other value is H3_SETTINGS_ERROR. */
    assert_int_equal(masque_h3_datagram_setting_check(2, 0), MASQUE_ERR_H3_SETTINGS);
    assert_int_equal(masque_h3_datagram_setting_check(MASQUE_VARINT_MAX, 0),
                     MASQUE_ERR_H3_SETTINGS);
    assert_true(masque_h3_error_for(MASQUE_ERR_H3_SETTINGS) == MASQUE_H3_SETTINGS_ERROR);
    assert_true(MASQUE_H3_SETTINGS_ERROR == 0x109u);
    /* DG-20: with 0-RTT, the value may not go below the remembered one. */
    assert_int_equal(masque_h3_datagram_setting_check(1, 1), 1);
    assert_int_equal(masque_h3_datagram_setting_check(0, 1), MASQUE_ERR_H3_SETTINGS);
}

static masque_str text(const char *t)
{
    masque_str s;
    s.ptr = t;
    s.len = t != NULL ? strlen(t) : 0;
    return s;
}

/* RFC 9110 §11.7.2, RFC 6750 §2.1: "Bearer" SP token68, the scheme case-insensitive. */
static void test_bearer_tokens_match_exactly_and_only_in_the_bearer_scheme(void **state)
{
    const masque_str tokens[] = {{"alpha-token", 11}, {"b3ta+/~._", 9}, {"pad==", 5}};
    (void)state;
    assert_int_equal(masque_bearer_token_match(text("Bearer alpha-token"), tokens, 3), 0);
    assert_int_equal(masque_bearer_token_match(text("bEaReR   b3ta+/~._  "), tokens, 3), 1);
    assert_int_equal(masque_bearer_token_match(text(" Bearer pad=="), tokens, 3), 2);
    /* Absent, another scheme, malformed, a prefix, a longer one, or another token: refused. */
    assert_int_equal(masque_bearer_token_match(text(NULL), tokens, 3), MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Basic alpha-token"), tokens, 3),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer"), tokens, 3), MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Beareralpha-token"), tokens, 3),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer alpha token"), tokens, 3),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer =pad"), tokens, 3),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer alpha-toke"), tokens, 3),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer alpha-tokens"), tokens, 3),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer gamma"), tokens, 3),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer alpha-token"), tokens, 0),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_bearer_token_match(text("Bearer alpha-token"), NULL, 1),
                     MASQUE_ERR_UNAUTHORIZED);
    assert_int_equal(masque_error_class_of(MASQUE_ERR_UNAUTHORIZED), MASQUE_ERROR_CLASS_PEER);
}

/* RFC 6750 §2.1: a bearer token is a token68; anything else could never match. */
static void test_a_bearer_token_is_a_token68(void **state)
{
    (void)state;
    assert_int_equal(masque_bearer_token_valid(text("alpha-token")), 1);
    assert_int_equal(masque_bearer_token_valid(text("AZaz09-._~+/")), 1);
    assert_int_equal(masque_bearer_token_valid(text("pad==")), 1);
    assert_int_equal(masque_bearer_token_valid(text("x")), 1);
    assert_int_equal(masque_bearer_token_valid(text(NULL)), 0);
    assert_int_equal(masque_bearer_token_valid(text("")), 0);
    assert_int_equal(masque_bearer_token_valid(text("=pad")), 0);   /* padding first */
    assert_int_equal(masque_bearer_token_valid(text("pad=x")), 0);  /* padding not last */
    assert_int_equal(masque_bearer_token_valid(text("alpha ")), 0); /* a space at the end */
    assert_int_equal(masque_bearer_token_valid(text(" alpha")), 0); /* or the start */
    assert_int_equal(masque_bearer_token_valid(text("al pha")), 0); /* or inside */
    assert_int_equal(masque_bearer_token_valid(text("al\tpha")), 0);
    assert_int_equal(masque_bearer_token_valid(text("caf\xc3\xa9")), 0); /* not ASCII */
    assert_int_equal(masque_bearer_token_valid(text("a,b")), 0);
    assert_int_equal(masque_bearer_token_valid(text("a\"b")), 0);
}

/* A 407 carries the challenge (RFC 9110 §11.7.1) and Proxy-Status, never Capsule-Protocol. */
static void test_DG_16_a_407_carries_proxy_authenticate(void **state)
{
    masque_field f[MASQUE_BIND_RESPONSE_FIELDS_MAX];
    char buf[64];
    masque_bind_response rsp;
    masque_ssize n;
    (void)state;
    memset(&rsp, 0, sizeof(rsp));
    rsp.status = 407;
    rsp.proxy_status = text("masque-proxy; error=http_request_denied");
    rsp.proxy_authenticate = text("Bearer");
    n = masque_bind_response_fields(f, MASQUE_BIND_RESPONSE_FIELDS_MAX, buf, sizeof(buf), &rsp);
    assert_int_equal(n, 3);
    assert_memory_equal(f[0].value.ptr, "407", 3);
    assert_int_equal(f[1].name.len, strlen(MASQUE_HTTP_PROXY_STATUS));
    assert_memory_equal(f[2].name.ptr, "proxy-authenticate", 18);
    assert_memory_equal(f[2].value.ptr, "Bearer", 6);
    assert_int_equal(masque_bind_response_fields(f, 2, buf, sizeof(buf), &rsp), MASQUE_ERR_BUFFER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer_tokens_match_exactly_and_only_in_the_bearer_scheme),
        cmocka_unit_test(test_a_bearer_token_is_a_token68),
        cmocka_unit_test(test_DG_16_a_407_carries_proxy_authenticate),
        cmocka_unit_test(test_UDP_1_valid_templates_are_accepted),
        cmocka_unit_test(test_UDP_1_invalid_templates_are_rejected),
        cmocka_unit_test(test_BIND_1_wildcard_is_percent_encoded),
        cmocka_unit_test(test_UDP_2_targets_expand_with_ipv6_colons_encoded),
        cmocka_unit_test(test_UDP_2_what_expands_matches_and_nothing_malformed_expands),
        cmocka_unit_test(test_BIND_2_exactly_one_wildcard_is_a_bad_request),
        cmocka_unit_test(test_UDP_2_proxy_decodes_and_checks_targets),
        cmocka_unit_test(test_DG_15_BIND_24_only_a_boolean_true_counts),
        cmocka_unit_test(test_BIND_25_proxy_public_address_format_and_parse),
        cmocka_unit_test(test_BIND_25_malformed_proxy_public_address_is_refused),
        cmocka_unit_test(test_BIND_25_a_client_keeps_the_addresses_it_has_room_for),
        cmocka_unit_test(test_UDP_4_DG_10_client_refuses_responses_that_do_not_enable_bind),
        cmocka_unit_test(test_UDP_3_DG_10_proxy_checks_the_extended_connect_request),
        cmocka_unit_test(test_UDP_5_proxy_status_values),
        cmocka_unit_test(test_UDP_1_multi_variable_expressions_expand_and_match),
        cmocka_unit_test(test_UDP_1_variables_other_than_the_target_expand_to_nothing),
        cmocka_unit_test(test_UDP_1_every_accepted_template_matches_its_own_expansions),
        cmocka_unit_test(test_BIND_25_proxy_public_address_never_names_port_0),
        cmocka_unit_test(test_DG_10_responses_204_205_206_cannot_use_the_capsule_protocol),
        cmocka_unit_test(test_BIND_36_concrete_target_without_bind_falls_back_to_rfc9298),
        cmocka_unit_test(test_DG_15_BIND_24_repeated_field_lines_count_as_absent),
        cmocka_unit_test(test_DG_15_BIND_24_parameters_with_invalid_values_make_the_field_invalid),
        cmocka_unit_test(test_DG_16_capsule_protocol_only_on_2xx_responses),
        cmocka_unit_test(test_DG_7_DG_20_h3_datagram_setting_is_0_or_1_and_never_lowered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
