#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# Makes a throw-away certificate authority and a certificate for "localhost" it signs, for the
# demo and the tests: TLS verification stays on everywhere. Needs certtool (gnutls-bin).
# usage: tools/test-ca.sh DIR   -> DIR/ca.pem DIR/localhost.pem DIR/localhost.key
set -eu
dir=$1
mkdir -p "$dir"
cat >"$dir/ca.tmpl" <<'T'
cn = "libmasque throw-away test CA"
ca
cert_signing_key
expiration_days = 1
T
cat >"$dir/localhost.tmpl" <<'T'
cn = "localhost"
dns_name = "localhost"
tls_www_server
signing_key
expiration_days = 1
T
certtool --generate-privkey --key-type=ecdsa --outfile "$dir/ca.key" 2>/dev/null
certtool --generate-self-signed --load-privkey "$dir/ca.key" --template "$dir/ca.tmpl" \
    --outfile "$dir/ca.pem" 2>/dev/null
certtool --generate-privkey --key-type=ecdsa --outfile "$dir/localhost.key" 2>/dev/null
certtool --generate-certificate --load-privkey "$dir/localhost.key" \
    --load-ca-certificate "$dir/ca.pem" --load-ca-privkey "$dir/ca.key" \
    --template "$dir/localhost.tmpl" --outfile "$dir/localhost.pem" 2>/dev/null
