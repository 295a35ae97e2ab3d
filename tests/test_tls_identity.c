/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Who a client certificate names (src/adapter/common/tls_identity.c): the name both bindings
 * give masque_quic_peer_identity() / masque_h2_peer_identity(), which the proxy accounts quotas
 * to and writes to its log. The certificates are made here, one per name, with GnuTLS.
 */
#include "testutil.h"

#include <gnutls/x509.h>

#include "adapter/common/tls_identity.h"

/* A self-signed certificate whose subject's common name is the n bytes at `cn` (n == 0: a
 * subject without one), in DER; gnutls_free(der->data) after use. */
static void certificate_for(const char *cn, size_t n, gnutls_datum_t *der)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    if (n != 0) {
        assert_int_equal(
            gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)n), 0);
    } else {
        assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
                                                       "libmasque", 9),
                         0);
    }
    assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(crt, "\x01", 1), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(crt, 0), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, 2000000000), 0);
    assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
    assert_int_equal(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der), 0);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
}

/* The name masque_tls_certificate_name() gives a certificate naming `cn` (n bytes), with cap
 * bytes of room; its answer in *found. */
static void name_of(const char *cn, size_t n, size_t cap, char *out, int *found)
{
    gnutls_datum_t der;
    certificate_for(cn, n, &der);
    memset(out, 'x', cap);
    *found = masque_tls_certificate_name(&der, out, cap);
    gnutls_free(der.data);
}

static int printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static void test_a_certificate_names_its_common_name(void **state)
{
    char out[MASQUE_TLS_NAME_MAX];
    int found;
    (void)state;
    name_of("alice", 5, sizeof(out), out, &found);
    assert_int_equal(found, 1);
    assert_string_equal(out, "alice");
    /* RFC 4514 §2.4's escapes stay: "a,b" and "a\,b" are one subject's name, not two. */
    name_of("a,b", 3, sizeof(out), out, &found);
    assert_int_equal(found, 1);
    assert_string_equal(out, "a\\,b");
}

static void test_a_name_holds_printable_ascii_only(void **state)
{
    /* What GnuTLS leaves as it is outside printable ASCII: ESC (a terminal escape sequence),
     * DEL, a lone C1 byte (0x9b is CSI to a terminal that reads 8-bit controls), U+009B in
     * UTF-8. Each reaches the log as \xHH. */
    static const struct {
        const char *cn;
        size_t n;
        const char *name;
    } cases[] = {
        {"a\x1b[31m", 6, "a\\x1b[31m"},
        {"a\x7f", 2, "a\\x7f"},
        {"a\x9b"
         "31mb",
         6, "a\\x9b31mb"},
        {"\xc2\x9b", 2, "\\xc2\\x9b"},
    };
    char out[MASQUE_TLS_NAME_MAX];
    size_t i;
    int found;
    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        name_of(cases[i].cn, cases[i].n, sizeof(out), out, &found);
        assert_int_equal(found, 1);
        assert_string_equal(out, cases[i].name);
    }
    /* A value holding a NUL GnuTLS writes as '#' and its DER in hex (RFC 4514 §2.4), never cut
     * at the NUL: "a" it is not. */
    name_of("a\0b", 3, sizeof(out), out, &found);
    assert_int_equal(found, 1);
    assert_true(printable(out));
    assert_int_equal(out[0], '#');
}

static void test_a_name_that_does_not_fit_is_no_name(void **state)
{
    char out[16];
    int found;
    (void)state;
    name_of("alice", 5, 6, out, &found);
    assert_int_equal(found, 1);
    assert_string_equal(out, "alice");
    name_of("alice", 5, 5, out, &found);
    assert_int_equal(found, 0); /* never "alic" */
    assert_string_equal(out, "");
    /* The room counts the escapes: "a" and \x9b are five characters. */
    name_of("a\x9b", 2, 6, out, &found);
    assert_int_equal(found, 1);
    assert_string_equal(out, "a\\x9b");
    name_of("a\x9b", 2, 5, out, &found);
    assert_int_equal(found, 0);
    assert_string_equal(out, "");
}

static void test_no_common_name_or_no_certificate_is_no_name(void **state)
{
    static const unsigned char not_der[] = {0x30, 0x03, 0x02, 0x01};
    gnutls_datum_t der = {(unsigned char *)not_der, sizeof(not_der)};
    char out[MASQUE_TLS_NAME_MAX];
    int found;
    (void)state;
    name_of("", 0, sizeof(out), out, &found);
    assert_int_equal(found, 0);
    assert_string_equal(out, "");
    memset(out, 'x', sizeof(out));
    assert_int_equal(masque_tls_certificate_name(&der, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(masque_tls_certificate_name(NULL, out, sizeof(out)), 0);
    assert_int_equal(masque_tls_certificate_name(&der, out, 0), 0);
}

/* The host masque_tls_client_name() takes from `authority` (NULL: it refuses it). */
static void expect_client_name(const char *authority, const char *host)
{
    gnutls_session_t tls;
    char got[64];
    int rv;
    assert_int_equal(gnutls_init(&tls, GNUTLS_CLIENT), 0);
    memset(got, 'x', sizeof(got));
    rv = masque_tls_client_name(tls, authority, 0, got, sizeof(got));
    if (host == NULL) {
        assert_int_equal(rv, -1);
    } else {
        assert_int_equal(rv, 0);
        assert_string_equal(got, host);
    }
    gnutls_deinit(tls);
}

static void test_the_proxy_is_named_by_the_host_of_the_authority(void **state)
{
    char longest[80];
    (void)state;
    expect_client_name("proxy.example:4433", "proxy.example");
    expect_client_name("proxy.example", "proxy.example");
    expect_client_name("192.0.2.1:443", "192.0.2.1");
    expect_client_name("[2001:db8::1]:4433", "2001:db8::1");
    expect_client_name("[::1]", "::1");
    expect_client_name("2001:db8::1", "2001:db8::1"); /* no brackets: no port either */
    expect_client_name("[::1", NULL);
    expect_client_name("[]:443", NULL);
    expect_client_name(":443", NULL);
    expect_client_name("", NULL);
    expect_client_name(NULL, NULL);
    /* A host of 64 bytes has no room for its terminator here: refused, not cut; 63 fit. */
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + 64, ":443", 5);
    expect_client_name(longest, NULL);
    memcpy(longest + 63, ":443", 5);
    expect_client_name(longest, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_certificate_names_its_common_name),
        cmocka_unit_test(test_a_name_holds_printable_ascii_only),
        cmocka_unit_test(test_a_name_that_does_not_fit_is_no_name),
        cmocka_unit_test(test_no_common_name_or_no_certificate_is_no_name),
        cmocka_unit_test(test_the_proxy_is_named_by_the_host_of_the_authority),
    };
    int failed;
    (void)gnutls_global_init();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    gnutls_global_deinit();
    return failed;
}
