/* SPDX-License-Identifier: GPL-3.0-only */
/* Header and URI helpers: RFC 9298 §2-§3, RFC 9297 §3.2/§3.4, -10 §2/§6/§7, RFC 9209. */
#include "testutil.h"

#include "masque/http.h"
#include "masque/session.h"

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

static void test_BIND_2_exactly_one_wildcard_is_a_bad_request(void **state)
{
    masque_bind_target t;
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
    masque_bind_target t;
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
    masque_bind_target t;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_UDP_1_valid_templates_are_accepted),
        cmocka_unit_test(test_UDP_1_invalid_templates_are_rejected),
        cmocka_unit_test(test_BIND_1_wildcard_is_percent_encoded),
        cmocka_unit_test(test_UDP_2_targets_expand_with_ipv6_colons_encoded),
        cmocka_unit_test(test_BIND_2_exactly_one_wildcard_is_a_bad_request),
        cmocka_unit_test(test_UDP_2_proxy_decodes_and_checks_targets),
        cmocka_unit_test(test_DG_15_BIND_24_only_a_boolean_true_counts),
        cmocka_unit_test(test_BIND_25_proxy_public_address_format_and_parse),
        cmocka_unit_test(test_BIND_25_malformed_proxy_public_address_is_refused),
        cmocka_unit_test(test_UDP_4_DG_10_client_refuses_responses_that_do_not_enable_bind),
        cmocka_unit_test(test_UDP_3_DG_10_proxy_checks_the_extended_connect_request),
        cmocka_unit_test(test_UDP_5_proxy_status_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
