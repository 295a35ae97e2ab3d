/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/http.h"
#include "internal/args.h"

#include <string.h>

#include "internal/text.h"
#include "masque/session.h"

#if MASQUE_ENABLE_HTTP /* config.h */

/* ---- character classes ---- */

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3986 unreserved: the only characters simple expansion leaves alone (RFC 6570 §3.2.2). */
static int is_unreserved(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* What a decoded target host may contain: a DNS name, or an IPv4/IPv6 literal. */
static int is_host_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == ':';
}

/* strlen, kept here so that firmware builds need nothing from libc but mem* (config.h). */
static size_t text_len(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

static int has_char(const char *s, size_t n, char c)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == c) {
            return 1;
        }
    }
    return 0;
}

/* A concrete target host as RFC 9298 §3 allows it: a DNS name or an IPv4 literal (host
 * characters only), or an IPv6 literal (with its colons). The one rule for the host a client
 * expands into a request and the host a proxy reads out of one. */
static int target_host_valid(const char *host, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        if (!is_host_char(host[i])) {
            return 0;
        }
    }
    if (has_char(host, len, ':')) {
        masque_address a;
        return masque_address_parse(&a, host, len, 0) == MASQUE_OK && a.version == MASQUE_IP_V6;
    }
    return 1;
}

static int str_is(masque_str s, const char *lit)
{
    size_t n = text_len(lit);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* ---- an append-only writer over the caller's buffer ---- */

typedef struct writer {
    char *dst;
    size_t cap;
    size_t len;
    int overflow;
} writer;

static void put(writer *w, char c)
{
    if (w->len + 1 < w->cap) {
        w->dst[w->len] = c;
    } else {
        w->overflow = 1;
    }
    w->len++;
}

static void put_n(writer *w, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        put(w, s[i]);
    }
}

static masque_ssize finish(writer *w)
{
    if (w->overflow || w->cap == 0) {
        return MASQUE_ERR_BUFFER;
    }
    w->dst[w->len] = '\0';
    return (masque_ssize)w->len;
}

/* ---- URI templates (RFC 6570, as RFC 9298 §2 constrains them) ---- */

enum { VAR_OTHER = 0, VAR_HOST = 1, VAR_PORT = 2 };

/* One expression of a template: its operator and variables. */
typedef struct expression {
    char op; /* 0, '?' or '&' */
    const char *vars;
    size_t vars_len;
    size_t end; /* index after '}' */
} expression;

static int var_kind(const char *name, size_t n)
{
    if (n == 11 && memcmp(name, "target_host", 11) == 0) {
        return VAR_HOST;
    }
    if (n == 11 && memcmp(name, "target_port", 11) == 0) {
        return VAR_PORT;
    }
    return VAR_OTHER;
}

/* Parses the expression starting at t[i] == '{'; 0 on success. */
static int parse_expression(masque_str t, size_t i, expression *e)
{
    size_t j = i + 1;
    size_t k;
    e->op = 0;
    if (j < t.len && (t.ptr[j] == '?' || t.ptr[j] == '&')) {
        e->op = t.ptr[j++];
    } else if (j < t.len && !is_alpha(t.ptr[j]) && !is_digit(t.ptr[j]) && t.ptr[j] != '_') {
        return -1; /* '+', '#' and the other operators are not supported (RFC 9298 §2) */
    }
    e->vars = t.ptr + j;
    for (k = j; k < t.len && t.ptr[k] != '}'; k++) {
        char c = t.ptr[k];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != ',') {
            return -1; /* no prefix or explode modifiers (level 4) */
        }
    }
    if (k == t.len || k == j) {
        return -1;
    }
    e->vars_len = k - j;
    e->end = k + 1;
    return 0;
}

/* Calls back for each variable name of an expression. */
typedef struct var_iter {
    const char *p;
    size_t left;
} var_iter;

static int next_var(var_iter *it, const char **name, size_t *n)
{
    size_t k = 0;
    if (it->left == 0) {
        return 0;
    }
    while (k < it->left && it->p[k] != ',') {
        k++;
    }
    *name = it->p;
    *n = k;
    it->p += k;
    it->left -= k;
    if (it->left > 0) {
        it->p++;
        it->left--;
    }
    return 1;
}

/* Whether expression e names target_host or target_port: the variables that have values. */
static int expression_names_target(const expression *e)
{
    var_iter it;
    const char *name;
    size_t n;
    it.p = e->vars;
    it.left = e->vars_len;
    while (next_var(&it, &name, &n)) {
        if (var_kind(name, n) != VAR_OTHER) {
            return 1;
        }
    }
    return 0;
}

/*
 * Whether a proxy can tell where expression e's expansion ends in a request's path, so that
 * every path the template expands to matches it again with the same target. A simple
 * expression's values (percent-encoded: unreserved characters and %XX) run to the template's
 * next literal, which must therefore be none of those, nor a comma after several variables,
 * nor the start of another simple expression; a form-style query runs to the end of the path, or to
 * a "{&...}" expression that continues it (a second "{?...}" would put a second '?' inside the
 * first one's value).
 */
static int ends_unambiguously(masque_str t, const expression *e)
{
    size_t k = e->end;
    char next_op = '\0';
    if (k + 1 < t.len && t.ptr[k] == '{') {
        next_op = t.ptr[k + 1];
    }
    if (k == t.len || next_op == '&') {
        return 1;
    }
    if (e->op != 0) {
        return 0;
    }
    if (t.ptr[k] == ',' && has_char(e->vars, e->vars_len, ',')) {
        return 0; /* RFC 6570 §3.2.2: the values of several variables are comma-separated */
    }
    return next_op == '?' || (t.ptr[k] != '{' && t.ptr[k] != '%' && !is_unreserved(t.ptr[k]));
}

/* Finds where the path starts; checks the whole template. Returns the index, or -1. */
static long template_path_start(masque_str t, masque_str *authority)
{
    size_t i = 0;
    size_t auth_start;
    size_t path;
    int host = 0;
    int port = 0;

    if (t.ptr == NULL || t.len == 0) {
        return -1;
    }
    for (i = 0; i < t.len; i++) {
        if ((unsigned char)t.ptr[i] <= 0x20 || (unsigned char)t.ptr[i] >= 0x7F) {
            return -1; /* ASCII only, no spaces (RFC 9298 §2) */
        }
    }
    /* scheme "://" authority: non-empty and free of expressions */
    if (!is_alpha(t.ptr[0])) {
        return -1;
    }
    for (i = 1; i < t.len && (is_alpha(t.ptr[i]) || is_digit(t.ptr[i]) || t.ptr[i] == '+' ||
                              t.ptr[i] == '-' || t.ptr[i] == '.');
         i++) {
    }
    if (t.len - i < 3 || memcmp(t.ptr + i, "://", 3) != 0) {
        return -1;
    }
    auth_start = i + 3;
    for (path = auth_start; path < t.len && t.ptr[path] != '/'; path++) {
        if (t.ptr[path] == '{' || t.ptr[path] == '?' || t.ptr[path] == '#') {
            return -1; /* variables only in path or query */
        }
    }
    if (path == auth_start || path == t.len) {
        return -1; /* empty authority, or no path starting with "/" */
    }
    for (i = path; i < t.len; i++) {
        expression e;
        var_iter it;
        const char *name;
        size_t n;
        if (t.ptr[i] == '}' || t.ptr[i] == '#') {
            return -1;
        }
        if (t.ptr[i] != '{') {
            continue;
        }
        if (parse_expression(t, i, &e) != 0) {
            return -1;
        }
        it.p = e.vars;
        it.left = e.vars_len;
        while (next_var(&it, &name, &n)) {
            int kind = var_kind(name, n);
            if (n == 0) {
                return -1;
            }
            host += kind == VAR_HOST;
            port += kind == VAR_PORT;
        }
        if (!ends_unambiguously(t, &e)) {
            return -1;
        }
        i = e.end - 1;
    }
    if (host != 1 || port != 1) {
        return -1; /* RFC 9298 §2: both variables, once */
    }
    if (authority != NULL) {
        authority->ptr = t.ptr + auth_start;
        authority->len = path - auth_start;
    }
    return (long)path;
}

int masque_uri_template_check(masque_str tmpl, masque_str *authority)
{
    return template_path_start(tmpl, authority) < 0 ? MASQUE_ERR_TEMPLATE : MASQUE_OK;
}

static void put_encoded(writer *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved((char)c)) {
            put(w, (char)c);
        } else {
            /* '*' becomes %2A (-10 §2) and IPv6 colons %3A (RFC 9298 §3). */
            put(w, '%');
            put(w, hex[c >> 4]);
            put(w, hex[c & 0xFu]);
        }
    }
}

masque_ssize masque_uri_template_expand(char *dst, size_t cap, masque_str tmpl, const char *host,
                                        uint16_t port)
{
    writer w;
    char port_text[6];
    size_t port_len = 0;
    const char *host_value = host != NULL ? host : "*";
    size_t host_len = text_len(host_value);
    long start = template_path_start(tmpl, NULL);
    size_t i;

    if (start < 0) {
        return MASQUE_ERR_TEMPLATE;
    }
    if (dst == NULL || (host == NULL) != (port == 0) || host_len == 0 ||
        host_len > MASQUE_TARGET_HOST_MAX) {
        return MASQUE_ERR_INVALID_ARGUMENT; /* RFC 9298 §3; -13 §2: both `*` or neither */
    }
    if (host != NULL) {
        if (!target_host_valid(host, host_len)) {
            return MASQUE_ERR_INVALID_ARGUMENT; /* a request the proxy would call malformed */
        }
        {
            unsigned v = port;
            char rev[5];
            size_t n = 0;
            do {
                rev[n++] = (char)('0' + v % 10u);
                v /= 10u;
            } while (v != 0);
            while (n > 0) {
                port_text[port_len++] = rev[--n];
            }
        }
    } else {
        port_text[0] = '*';
        port_len = 1;
    }
    w.dst = dst;
    w.cap = cap;
    w.len = 0;
    w.overflow = 0;
    for (i = (size_t)start; i < tmpl.len; i++) {
        expression e;
        var_iter it;
        const char *name;
        size_t n;
        int first = 1;
        if (tmpl.ptr[i] != '{') {
            put(&w, tmpl.ptr[i]);
            continue;
        }
        if (parse_expression(tmpl, i, &e) != 0) {
            return MASQUE_ERR_TEMPLATE; /* cannot happen: the template was checked */
        }
        it.p = e.vars;
        it.left = e.vars_len;
        while (next_var(&it, &name, &n)) {
            int kind = var_kind(name, n);
            if (kind == VAR_OTHER) {
                continue; /* undefined variables expand to nothing (RFC 6570 §3.2.1) */
            }
            if (e.op != 0) {
                if (first) {
                    put(&w, e.op);
                } else {
                    put(&w, '&');
                }
                put_n(&w, name, n);
                put(&w, '=');
            } else if (!first) {
                put(&w, ','); /* RFC 6570 §3.2.2: "{x,y}" expands to "1024,768" */
            }
            first = 0;
            if (kind == VAR_HOST) {
                put_encoded(&w, host_value, host_len);
            } else {
                put_encoded(&w, port_text, port_len);
            }
        }
        i = e.end - 1;
    }
    return finish(&w);
}

/* Percent-decodes src into dst (cap bytes, NUL-terminated); returns length or -1. */
static long pct_decode(const char *src, size_t n, char *dst, size_t cap)
{
    size_t i;
    size_t o = 0;
    for (i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            int hi;
            int lo;
            if (n - i < 3) {
                return -1;
            }
            hi = masque_hex_value(src[i + 1]);
            lo = masque_hex_value(src[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (o + 1 >= cap) {
            return -1;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return (long)o;
}

/* Stores one matched variable value. */
static int store_var(int kind, const char *v, size_t n, masque_request_target *out, int *seen_host,
                     int *seen_port, char *port_buf, size_t *port_len)
{
    long len;
    if (kind == VAR_HOST) {
        len = pct_decode(v, n, out->host, sizeof(out->host));
        if (len <= 0) {
            return -1;
        }
        out->host_len = (size_t)len;
        *seen_host = 1;
    } else if (kind == VAR_PORT) {
        len = pct_decode(v, n, port_buf, 8);
        if (len <= 0) {
            return -1;
        }
        *port_len = (size_t)len;
        *seen_port = 1;
    }
    return 0;
}

int masque_uri_template_match(masque_str tmpl, masque_str path, masque_request_target *out)
{
    long start = template_path_start(tmpl, NULL);
    size_t ti;
    size_t pi = 0;
    int seen_host = 0;
    int seen_port = 0;
    char port_buf[8];
    size_t port_len = 0;
    masque_request_target r;

    if (start < 0) {
        return MASQUE_ERR_TEMPLATE;
    }
    if (MASQUE_BAD_ARGS(out == NULL || path.ptr == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    memset(&r, 0, sizeof(r));
    for (ti = (size_t)start; ti < tmpl.len;) {
        expression e;
        var_iter it;
        const char *name = NULL;
        size_t n = 0;
        if (tmpl.ptr[ti] != '{') {
            if (pi >= path.len || path.ptr[pi] != tmpl.ptr[ti]) {
                return MASQUE_ERR_BAD_REQUEST;
            }
            pi++;
            ti++;
            continue;
        }
        if (parse_expression(tmpl, ti, &e) != 0) {
            return MASQUE_ERR_TEMPLATE; /* cannot happen: the template was checked */
        }
        it.p = e.vars;
        it.left = e.vars_len;
        if (e.op == 0) {
            /* A simple expression runs to the next literal of the template, or to a query
             * expression's '?' or '&' (values carry neither unencoded). */
            char stop = '\0';
            size_t v = pi;
            if (e.end < tmpl.len) {
                stop = tmpl.ptr[e.end];
            }
            while (pi < path.len && path.ptr[pi] != stop && path.ptr[pi] != '?' &&
                   path.ptr[pi] != '&') {
                pi++;
            }
            /* RFC 6570 §3.2.2: the values of the defined variables, comma-separated (a comma
             * inside a value is percent-encoded); we define only target_host and target_port. */
            while (next_var(&it, &name, &n)) {
                int kind = var_kind(name, n);
                size_t end = v;
                if (kind == VAR_OTHER) {
                    continue;
                }
                while (end < pi && path.ptr[end] != ',') {
                    end++;
                }
                if (store_var(kind, path.ptr + v, end - v, &r, &seen_host, &seen_port, port_buf,
                              &port_len) != 0) {
                    return MASQUE_ERR_BAD_REQUEST;
                }
                v = end < pi ? end + 1 : end;
                if (end == pi) {
                    break;
                }
            }
            if (v != pi) {
                return MASQUE_ERR_BAD_REQUEST; /* more values than variables */
            }
        } else {
            /* Form-style query: "?k=v&k=v" (or "&k=v..."), in any order. Absent, it is an
             * expression whose variables are all undefined (RFC 6570 §3.2.1: it expands to
             * nothing); whether the target's were there is checked at the end. */
            if (pi < path.len && (path.ptr[pi] == '?' || path.ptr[pi] == '&') &&
                path.ptr[pi] != e.op) {
                if (expression_names_target(&e)) {
                    return MASQUE_ERR_BAD_REQUEST;
                }
                ti = e.end; /* undefined: expanded to nothing, the next expression goes on */
                continue;
            }
            while (pi < path.len && (path.ptr[pi] == '?' || path.ptr[pi] == '&')) {
                size_t k = ++pi;
                size_t eq;
                while (pi < path.len && path.ptr[pi] != '=' && path.ptr[pi] != '&') {
                    pi++;
                }
                if (pi >= path.len || path.ptr[pi] != '=') {
                    return MASQUE_ERR_BAD_REQUEST;
                }
                eq = pi++;
                while (pi < path.len && path.ptr[pi] != '&') {
                    pi++;
                }
                if (store_var(var_kind(path.ptr + k, eq - k), path.ptr + eq + 1, pi - eq - 1, &r,
                              &seen_host, &seen_port, port_buf, &port_len) != 0) {
                    return MASQUE_ERR_BAD_REQUEST;
                }
            }
        }
        ti = e.end;
    }
    if (pi != path.len || !seen_host || !seen_port) {
        return MASQUE_ERR_BAD_REQUEST;
    }
    {
        int host_star = r.host_len == 1 && r.host[0] == '*';
        int port_star = port_len == 1 && port_buf[0] == '*';
        if (host_star != port_star) {
            return MASQUE_ERR_BAD_REQUEST; /* -13 §2: exactly one `*` is malformed */
        }
        if (host_star) {
            r.wildcard = 1;
            *out = r;
            return MASQUE_OK;
        }
    }
    if (!target_host_valid(r.host, r.host_len)) {
        return MASQUE_ERR_BAD_REQUEST; /* RFC 9298 §3: a DNS name or an IP literal */
    }
    {
        unsigned long v = 0;
        size_t i;
        if (port_len > 5 || (port_len > 1 && port_buf[0] == '0')) {
            return MASQUE_ERR_BAD_REQUEST;
        }
        for (i = 0; i < port_len; i++) {
            if (!is_digit(port_buf[i])) {
                return MASQUE_ERR_BAD_REQUEST;
            }
            v = v * 10u + (unsigned long)(port_buf[i] - '0');
        }
        if (v == 0 || v > 65535u) {
            return MASQUE_ERR_BAD_REQUEST; /* RFC 9298 §3: 1-65535 */
        }
        r.port = (uint16_t)v;
    }
    *out = r;
    return MASQUE_OK;
}

/* ---- Structured Fields (RFC 9651), the parts these headers use ---- */

typedef struct sf_cursor {
    const char *p;
    size_t len;
    size_t pos;
} sf_cursor;

static void sf_skip_sp(sf_cursor *c)
{
    while (c->pos < c->len && c->p[c->pos] == ' ') {
        c->pos++;
    }
}

static void sf_skip_ows(sf_cursor *c)
{
    while (c->pos < c->len && (c->p[c->pos] == ' ' || c->p[c->pos] == '\t')) {
        c->pos++;
    }
}

/* sf-string; stores its content's span (escapes left in place). 0 on success. */
static int sf_string(sf_cursor *c, size_t *start, size_t *end)
{
    if (c->pos >= c->len || c->p[c->pos] != '"') {
        return -1;
    }
    *start = ++c->pos;
    while (c->pos < c->len) {
        char ch = c->p[c->pos];
        if (ch == '\\') {
            if (c->pos + 1 >= c->len || (c->p[c->pos + 1] != '"' && c->p[c->pos + 1] != '\\')) {
                return -1;
            }
            c->pos += 2;
            continue;
        }
        if (ch == '"') {
            *end = c->pos++;
            return 0;
        }
        if ((unsigned char)ch < 0x20 || (unsigned char)ch > 0x7E) {
            return -1;
        }
        c->pos++;
    }
    return -1;
}

/* sf-integer or sf-decimal (RFC 9651 §3.3.1-§3.3.2): "-"? up to 15 digits, or up to 12
 * digits "." 1 to 3 digits. */
static int sf_number(sf_cursor *c)
{
    size_t digits = 0;
    if (c->p[c->pos] == '-') {
        c->pos++;
    }
    while (c->pos < c->len && is_digit(c->p[c->pos])) {
        c->pos++;
        digits++;
    }
    if (digits == 0) {
        return -1;
    }
    if (c->pos < c->len && c->p[c->pos] == '.') {
        size_t fraction = 0;
        c->pos++;
        while (c->pos < c->len && is_digit(c->p[c->pos])) {
            c->pos++;
            fraction++;
        }
        return (digits <= 12 && fraction >= 1 && fraction <= 3) ? 0 : -1;
    }
    return digits <= 15 ? 0 : -1;
}

static int is_tchar(char ch)
{
    return is_alpha(ch) || is_digit(ch) || has_char("!#$%&'*+-.^_`|~", 15, ch);
}

/* sf-token (RFC 9651 §3.3.4): ( ALPHA / "*" ) *( tchar / ":" / "/" ). */
static int sf_token(sf_cursor *c)
{
    c->pos++;
    while (c->pos < c->len &&
           (is_tchar(c->p[c->pos]) || c->p[c->pos] == ':' || c->p[c->pos] == '/')) {
        c->pos++;
    }
    return 0;
}

/* sf-binary (RFC 9651 §3.3.5): ":" *base64 ":". */
static int sf_binary(sf_cursor *c)
{
    c->pos++;
    while (c->pos < c->len && c->p[c->pos] != ':') {
        char ch = c->p[c->pos];
        if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '/' && ch != '=') {
            return -1;
        }
        c->pos++;
    }
    if (c->pos >= c->len) {
        return -1;
    }
    c->pos++;
    return 0;
}

/* Whether a byte continues a UTF-8 sequence: after lead byte `lead`, `need` more to come. */
static int utf8_step(unsigned *need, unsigned *lead, unsigned char b)
{
    if (*need == 0) {
        *lead = b;
        if (b < 0x80) {
            return 0;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            *need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            *need = 2;
        } else if (b >= 0xF0 && b <= 0xF4) {
            *need = 3;
        } else {
            return -1;
        }
        return 0;
    }
    if ((b & 0xC0) != 0x80) {
        return -1;
    }
    /* The second byte excludes overlong forms, surrogates and code points above U+10FFFF. */
    if ((*lead == 0xE0 && b < 0xA0) || (*lead == 0xED && b > 0x9F) || (*lead == 0xF0 && b < 0x90) ||
        (*lead == 0xF4 && b > 0x8F)) {
        return -1;
    }
    *lead = 0x80; /* only the second byte is special */
    (*need)--;
    return 0;
}

/* sf-displaystring (RFC 9651 §3.3.8): %" then printable ASCII and %xx (lowercase hex) that
 * decode to UTF-8, then ". */
static int sf_display_string(sf_cursor *c)
{
    unsigned need = 0;
    unsigned lead = 0;
    if (c->len - c->pos < 2 || c->p[c->pos + 1] != '"') {
        return -1;
    }
    c->pos += 2;
    while (c->pos < c->len) {
        char ch = c->p[c->pos];
        unsigned char byte;
        if (ch == '"' && need == 0) {
            c->pos++;
            return 0;
        }
        if ((unsigned char)ch < 0x20 || (unsigned char)ch > 0x7E || ch == '"') {
            return -1;
        }
        byte = (unsigned char)ch;
        if (ch == '%') {
            int hi;
            int lo;
            if (c->len - c->pos < 3 || (c->p[c->pos + 1] >= 'A' && c->p[c->pos + 1] <= 'F') ||
                (c->p[c->pos + 2] >= 'A' && c->p[c->pos + 2] <= 'F')) {
                return -1; /* lowercase hex only */
            }
            hi = masque_hex_value(c->p[c->pos + 1]);
            lo = masque_hex_value(c->p[c->pos + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            byte = (unsigned char)(hi << 4 | lo);
            c->pos += 2;
        }
        if (utf8_step(&need, &lead, byte) != 0) {
            return -1;
        }
        c->pos++;
    }
    return -1;
}

/* A bare item (RFC 9651 §3.3): integer, decimal, string, token, byte sequence, boolean, date,
 * display string. Returns 0 when one parses, -1 otherwise. */
static int sf_bare_item(sf_cursor *c)
{
    size_t a;
    size_t b;
    char ch;
    if (c->pos >= c->len) {
        return -1;
    }
    ch = c->p[c->pos];
    if (ch == '?') {
        if (c->pos + 1 < c->len && (c->p[c->pos + 1] == '0' || c->p[c->pos + 1] == '1')) {
            c->pos += 2;
            return 0;
        }
        return -1;
    }
    if (ch == '"') {
        return sf_string(c, &a, &b);
    }
    if (ch == ':') {
        return sf_binary(c);
    }
    if (ch == '-' || is_digit(ch)) {
        return sf_number(c);
    }
    if (ch == '@') {
        a = ++c->pos; /* sf-date (§3.3.7): an integer, not a decimal */
        if (a >= c->len || (c->p[a] != '-' && !is_digit(c->p[a]))) {
            return -1;
        }
        return (sf_number(c) == 0 && !has_char(c->p + a, c->pos - a, '.')) ? 0 : -1;
    }
    if (ch == '%') {
        return sf_display_string(c);
    }
    if (is_alpha(ch) || ch == '*') {
        return sf_token(c);
    }
    return -1;
}

/* Parameters: *( ";" *SP key [ "=" bare-item ] ). Unknown ones are ignored, but must parse. */
static int sf_params(sf_cursor *c)
{
    while (c->pos < c->len && c->p[c->pos] == ';') {
        char ch;
        c->pos++;
        sf_skip_sp(c);
        if (c->pos >= c->len) {
            return -1;
        }
        ch = c->p[c->pos];
        if (!((ch >= 'a' && ch <= 'z') || ch == '*')) {
            return -1;
        }
        while (c->pos < c->len) {
            ch = c->p[c->pos];
            if (!((ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '_' || ch == '-' || ch == '.' ||
                  ch == '*')) {
                break;
            }
            c->pos++;
        }
        if (c->pos < c->len && c->p[c->pos] == '=') {
            c->pos++;
            if (sf_bare_item(c) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

int masque_sf_is_true(masque_str value)
{
    sf_cursor c;
    if (value.ptr == NULL) {
        return 0;
    }
    c.p = value.ptr;
    c.len = value.len;
    c.pos = 0;
    sf_skip_sp(&c);
    if (c.len - c.pos < 2 || c.p[c.pos] != '?' || c.p[c.pos + 1] != '1') {
        return 0;
    }
    c.pos += 2;
    if (sf_params(&c) != 0) {
        return 0;
    }
    sf_skip_sp(&c);
    return c.pos == c.len; /* anything else, a list for one, is not a Boolean item */
}

masque_ssize masque_proxy_public_address_format(char *dst, size_t cap, const masque_address *addrs,
                                                size_t count)
{
    writer w;
    size_t i;
    if (MASQUE_BAD_ARGS(dst == NULL || (addrs == NULL && count != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    w.dst = dst;
    w.cap = cap;
    w.len = 0;
    w.overflow = 0;
    for (i = 0; i < count; i++) {
        char text[MASQUE_ADDRESS_TEXT_MAX];
        masque_ssize n;
        if (addrs[i].port == 0) {
            return MASQUE_ERR_ADDRESS; /* -10 §7: an open port, never 0 */
        }
        n = masque_address_format(text, sizeof(text), &addrs[i], 1);
        if (n < 0) {
            return n;
        }
        if (i > 0) {
            put_n(&w, ", ", 2);
        }
        put(&w, '"');
        put_n(&w, text, (size_t)n);
        put(&w, '"');
    }
    return finish(&w);
}

int masque_proxy_public_address_parse(masque_str value, masque_address *out, size_t cap,
                                      size_t *count)
{
    sf_cursor c;
    size_t n = 0;
    int more = 0; /* members beyond cap: checked, not kept */
    if (MASQUE_BAD_ARGS(value.ptr == NULL || count == NULL || (out == NULL && cap != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    c.p = value.ptr;
    c.len = value.len;
    c.pos = 0;
    sf_skip_sp(&c);
    while (c.pos < c.len) {
        size_t start;
        size_t end;
        masque_address a;
        if (sf_string(&c, &start, &end) != 0 || sf_params(&c) != 0) {
            return MASQUE_ERR_FIELD;
        }
        /* -10 §7: each member is an ip-port tuple, with the open port the proxy selected. */
        if (masque_address_parse(&a, c.p + start, end - start, 1) != MASQUE_OK || a.port == 0) {
            return MASQUE_ERR_FIELD;
        }
        if (n < cap) {
            out[n++] = a;
        } else {
            more = 1;
        }
        sf_skip_ows(&c);
        if (c.pos == c.len) {
            break;
        }
        if (c.p[c.pos] != ',') {
            return MASQUE_ERR_FIELD;
        }
        c.pos++;
        sf_skip_ows(&c);
        if (c.pos == c.len) {
            return MASQUE_ERR_FIELD; /* trailing comma */
        }
    }
    if (n == 0 && !more) {
        return MASQUE_ERR_FIELD;
    }
    *count = n;
    return more ? MASQUE_ERR_BUFFER : MASQUE_OK;
}

unsigned masque_address_families(const masque_address *addrs, size_t count)
{
    unsigned bits = 0;
    size_t i;
    for (i = 0; addrs != NULL && i < count; i++) {
        if (addrs[i].version == MASQUE_IP_V4) {
            bits |= MASQUE_FAMILY_V4;
        } else if (addrs[i].version == MASQUE_IP_V6) {
            bits |= MASQUE_FAMILY_V6;
        }
    }
    return bits;
}

int masque_bind_request_check(masque_str tmpl, const masque_request_fields *req,
                              masque_request_target *target)
{
    int rc;
    if (MASQUE_BAD_ARGS(req == NULL || target == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (masque_uri_template_check(tmpl, NULL) != MASQUE_OK) {
        return MASQUE_ERR_TEMPLATE;
    }
    /* RFC 9298 §3.4 (HTTP/2 and HTTP/3): extended CONNECT for connect-udp. */
    if (!str_is(req->method, MASQUE_HTTP_METHOD) || !str_is(req->protocol, MASQUE_HTTP_PROTOCOL) ||
        req->scheme.ptr == NULL || req->scheme.len == 0 || req->authority.ptr == NULL ||
        req->authority.len == 0 || req->path.ptr == NULL || req->path.len == 0) {
        return MASQUE_ERR_BAD_REQUEST;
    }
    /* RFC 9297 §3.2: no Capsule Protocol on messages with content fields. */
    if (req->has_content_length || req->has_content_type || req->has_transfer_encoding) {
        return MASQUE_ERR_BAD_REQUEST;
    }
    rc = masque_uri_template_match(tmpl, req->path, target);
    if (rc != MASQUE_OK) {
        return rc;
    }
    target->bind = masque_sf_is_true(req->connect_udp_bind); /* -10 §6 */
    if (target->wildcard && !target->bind) {
        return MASQUE_ERR_BAD_REQUEST; /* `*` only means something with Bind */
    }
    return MASQUE_OK;
}

int masque_bind_response_check(const masque_response_fields *rsp, masque_address *addrs, size_t cap,
                               size_t *count, unsigned *families)
{
    size_t n = 0;
    int rc;
    if (MASQUE_BAD_ARGS(rsp == NULL || count == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (rsp->status < 200 || rsp->status > 299) {
        return MASQUE_ERR_BAD_RESPONSE; /* RFC 9298 §3.5 */
    }
    if (rsp->status == 204 || rsp->status == 205 || rsp->status == 206) {
        return MASQUE_ERR_BAD_RESPONSE; /* RFC 9297 §3.2: no Capsule Protocol on these */
    }
    if (rsp->has_content_length || rsp->has_content_type || rsp->has_transfer_encoding) {
        return MASQUE_ERR_BAD_RESPONSE; /* RFC 9297 §3.2 */
    }
    if (!masque_sf_is_true(rsp->connect_udp_bind)) {
        if (rsp->allow_fallback) {
            *count = 0;
            if (families != NULL) {
                *families = 0;
            }
            return MASQUE_BIND_FALLBACK; /* -10 §2, §6: plain RFC 9298 to the target */
        }
        return MASQUE_ERR_BAD_RESPONSE; /* -10 §6: the extension is off */
    }
    if (rsp->proxy_public_address.ptr == NULL) {
        return MASQUE_ERR_BAD_RESPONSE; /* -10 §7: at least one public address */
    }
    rc = masque_proxy_public_address_parse(rsp->proxy_public_address, addrs, cap, &n);
    if (rc != MASQUE_OK && !(rc == MASQUE_ERR_BUFFER && n > 0)) {
        return MASQUE_ERR_BAD_RESPONSE; /* -10 §7; more than cap: the first cap are kept */
    }
    *count = n;
    if (families != NULL) {
        *families = masque_address_families(addrs, n);
    }
    return MASQUE_OK;
}

static int is_token(masque_str s)
{
    size_t i;
    if (s.len == 0 || (!is_alpha(s.ptr[0]) && s.ptr[0] != '*')) {
        return 0;
    }
    for (i = 1; i < s.len; i++) {
        char c = s.ptr[i];
        if (!is_alpha(c) && !is_digit(c) && !has_char("!#$%&'*+-.^_`|~:/", 17, c)) {
            return 0;
        }
    }
    return 1;
}

static int put_sf_string(writer *w, masque_str s)
{
    size_t i;
    put(w, '"');
    for (i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7E) {
            return -1;
        }
        if (c == '"' || c == '\\') {
            put(w, '\\');
        }
        put(w, c);
    }
    put(w, '"');
    return 0;
}

masque_ssize masque_proxy_status_format(char *dst, size_t cap, masque_str proxy_name,
                                        const char *error_type, masque_str details)
{
    writer w;
    if (MASQUE_BAD_ARGS(dst == NULL || proxy_name.ptr == NULL || error_type == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    w.dst = dst;
    w.cap = cap;
    w.len = 0;
    w.overflow = 0;
    if (is_token(proxy_name)) {
        put_n(&w, proxy_name.ptr, proxy_name.len);
    } else if (put_sf_string(&w, proxy_name) != 0) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    put_n(&w, "; error=", 8);
    put_n(&w, error_type, text_len(error_type));
    if (details.ptr != NULL) {
        put_n(&w, "; details=", 10);
        if (put_sf_string(&w, details) != 0) {
            return MASQUE_ERR_INVALID_ARGUMENT;
        }
    }
    return finish(&w);
}

masque_ssize masque_field_append(char *dst, size_t cap, size_t len, masque_str line)
{
    size_t sep = len > 0 ? 2u : 0u;
    size_t room;
    if (MASQUE_BAD_ARGS(dst == NULL || (line.ptr == NULL && line.len != 0) || len >= cap)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    room = cap - 1 - len; /* one byte stays for the NUL */
    if (sep > room || line.len > room - sep) {
        return MASQUE_ERR_BUFFER; /* nothing written: the host refuses the message */
    }
    if (sep != 0) {
        dst[len++] = ',';
        dst[len++] = ' ';
    }
    if (line.len > 0) {
        memcpy(dst + len, line.ptr, line.len);
    }
    len += line.len;
    dst[len] = '\0';
    return (masque_ssize)len;
}

masque_ssize masque_bind_response_fields(masque_field *out, size_t out_cap, char *buf,
                                         size_t buf_cap, const masque_bind_response *rsp)
{
    size_t n = 0;
    size_t used = 0;
    int ok;
    if (out == NULL || buf == NULL || rsp == NULL || rsp->status < 200 || rsp->status > 599 ||
        rsp->status == 204 || rsp->status == 205 || rsp->status == 206) {
        return MASQUE_ERR_INVALID_ARGUMENT; /* RFC 9297 §3.2: no capsules on 204-206 */
    }
    ok = rsp->status <= 299; /* 200 and up, checked above */
    if (ok && rsp->bind && (rsp->public_addresses == NULL || rsp->public_address_count == 0)) {
        return MASQUE_ERR_INVALID_ARGUMENT; /* -10 §7: at least one public address */
    }
    if (out_cap < 1u + (ok ? 1u + (rsp->bind ? 2u : 0u)
                           : (size_t)(rsp->proxy_status.ptr != NULL) +
                                 (size_t)(rsp->proxy_authenticate.ptr != NULL)) ||
        buf_cap < 4) {
        return MASQUE_ERR_BUFFER;
    }
    /* :status, three digits */
    buf[0] = (char)('0' + rsp->status / 100);
    buf[1] = (char)('0' + rsp->status / 10 % 10);
    buf[2] = (char)('0' + rsp->status % 10);
    buf[3] = '\0';
    used = 4;
    out[n].name.ptr = ":status";
    out[n].name.len = 7;
    out[n].value.ptr = buf;
    out[n++].value.len = 3;
    if (!ok) {
        /* RFC 9297 §3.4: Capsule-Protocol only on 2xx (or 101) responses (DG-16). */
        if (rsp->proxy_status.ptr != NULL) {
            out[n].name.ptr = MASQUE_HTTP_PROXY_STATUS;
            out[n].name.len = sizeof(MASQUE_HTTP_PROXY_STATUS) - 1;
            out[n++].value = rsp->proxy_status;
        }
        if (rsp->proxy_authenticate.ptr != NULL) {
            out[n].name.ptr = MASQUE_HTTP_PROXY_AUTHENTICATE;
            out[n].name.len = sizeof(MASQUE_HTTP_PROXY_AUTHENTICATE) - 1;
            out[n++].value = rsp->proxy_authenticate;
        }
        return (masque_ssize)n;
    }
    out[n].name.ptr = MASQUE_HTTP_CAPSULE_PROTOCOL;
    out[n].name.len = sizeof(MASQUE_HTTP_CAPSULE_PROTOCOL) - 1;
    out[n].value.ptr = MASQUE_HTTP_TRUE;
    out[n++].value.len = 2;
    if (rsp->bind) {
        masque_ssize len = masque_proxy_public_address_format(
            buf + used, buf_cap - used, rsp->public_addresses, rsp->public_address_count);
        if (len < 0) {
            return len;
        }
        out[n].name.ptr = MASQUE_HTTP_CONNECT_UDP_BIND;
        out[n].name.len = sizeof(MASQUE_HTTP_CONNECT_UDP_BIND) - 1;
        out[n].value.ptr = MASQUE_HTTP_TRUE;
        out[n++].value.len = 2;
        out[n].name.ptr = MASQUE_HTTP_PROXY_PUBLIC_ADDRESS;
        out[n].name.len = sizeof(MASQUE_HTTP_PROXY_PUBLIC_ADDRESS) - 1;
        out[n].value.ptr = buf + used;
        out[n++].value.len = (size_t)len;
    }
    return (masque_ssize)n;
}

/* RFC 9110 §11.2: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int token68_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* The length of the token68 that `p` begins with (0: none). */
static size_t token68_len(const char *p, size_t len)
{
    size_t n;
    for (n = 0; n < len && token68_char(p[n]); n++) {
    }
    if (n == 0) {
        return 0;
    }
    while (n < len && p[n] == '=') {
        n++;
    }
    return n;
}

int masque_bearer_token_valid(masque_str token)
{
    return token.ptr != NULL && token.len > 0 && token68_len(token.ptr, token.len) == token.len;
}

/* Equal in time that depends on the lengths only, never on where the bytes differ. */
static int equal_in_constant_time(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned diff = alen == blen ? 0u : 1u;
    size_t i;
    for (i = 0; i < blen; i++) {
        diff |= (unsigned)(unsigned char)(i < alen ? a[i] : 0) ^ (unsigned)(unsigned char)b[i];
    }
    return diff == 0;
}

int masque_bearer_token_match(masque_str field, const masque_str *tokens, size_t count)
{
    static const char scheme[] = "bearer";
    const char *p = field.ptr;
    size_t len = field.len;
    size_t i;
    size_t n;
    int found = MASQUE_ERR_UNAUTHORIZED;
    if (p == NULL || (tokens == NULL && count > 0)) {
        return MASQUE_ERR_UNAUTHORIZED;
    }
    while (len > 0 && (*p == ' ' || *p == '\t')) { /* OWS */
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
        len--;
    }
    if (len < sizeof(scheme) + 1) {
        return MASQUE_ERR_UNAUTHORIZED;
    }
    for (i = 0; i < sizeof(scheme) - 1; i++) {
        unsigned c = (unsigned char)p[i];
        if (c >= 'A' && c <= 'Z') {
            c += 'a' - 'A';
        }
        if (c != (unsigned char)scheme[i]) {
            return MASQUE_ERR_UNAUTHORIZED; /* another scheme (RFC 9110 §11.1: case-insensitive) */
        }
    }
    p += sizeof(scheme) - 1;
    len -= sizeof(scheme) - 1;
    if (*p != ' ') {
        return MASQUE_ERR_UNAUTHORIZED;
    }
    while (len > 0 && *p == ' ') { /* 1*SP */
        p++;
        len--;
    }
    n = token68_len(p, len);
    if (n == 0 || n != len) {
        return MASQUE_ERR_UNAUTHORIZED; /* not a token68 */
    }
    for (i = 0; i < count; i++) { /* every token, whatever matched first */
        if (tokens[i].ptr != NULL && tokens[i].len > 0 &&
            equal_in_constant_time(p, len, tokens[i].ptr, tokens[i].len) &&
            found == MASQUE_ERR_UNAUTHORIZED) {
            found = (int)i;
        }
    }
    return found;
}

int masque_h3_datagram_setting_check(uint64_t value, uint64_t remembered)
{
    if (value > 1u || value < remembered) {
        return MASQUE_ERR_H3_SETTINGS; /* RFC 9297 §2.1.1 */
    }
    return (int)value;
}

#endif /* MASQUE_ENABLE_HTTP */
