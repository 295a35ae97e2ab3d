#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# masque-inspect's public interface: the appendix exchange decodes to the checked-in JSON, and
# malformed input and bad usage give the documented exit codes and error objects.
# usage: MASQUE_INSPECT=path test_inspect.sh VECTORS_DIR
set -u
inspect=${MASQUE_INSPECT:?}
vectors=$1
here=$(dirname "$0")
failures=0
passes=0

check() { # name, expected output, expected status, args...
    name=$1 want=$2 want_rc=$3
    shift 3
    got=$("$inspect" "$@" 2>/dev/null)
    rc=$?
    if [ "$got" = "$want" ] && [ "$rc" -eq "$want_rc" ]; then
        passes=$((passes + 1))
    else
        failures=$((failures + 1))
        printf 'FAIL %s\n  want (%s) %s\n  got  (%s) %s\n' "$name" "$want_rc" "$want" "$rc" "$got"
    fi
}

if "$here/../tools/appendix-demo.sh" "$inspect" "$vectors/appendix-10.txt" |
    diff -u "$vectors/appendix-10.expected" -; then
    passes=$((passes + 1))
else
    failures=$((failures + 1))
    echo "FAIL appendix exchange differs from tests/vectors/appendix-10.expected"
fi

check BIND_8_assign_context_id_0 "$(printf '%s\n%s' \
    '{"type":"COMPRESSION_ASSIGN","type_code":17,"length":2,"context_id":2,"ip_version":0}' \
    '{"error":"context ID 0 not allowed","code":-8,"offset":4}')" 1 \
    capsules "11020200 1103000401"
check BIND_5_ip_version_5 '{"error":"invalid IP version","code":-9,"offset":0}' 1 \
    capsules "1103020500"
check DG_14_truncated_stream "$(printf '%s\n%s' \
    '{"type":"COMPRESSION_ACK","type_code":18,"length":1,"context_id":2}' \
    '{"error":"stream ended inside a capsule","code":-10,"offset":3}')" 1 \
    capsules "120102 1108"
check DG_12_trailing_bytes '{"error":"trailing bytes after the last field","code":-6,"offset":0}' 1 \
    capsules "12020200"
check DG_3_quarter_stream_id '{"error":"quarter stream ID above 2^60-1","code":-11,"offset":0}' 1 \
    h3-datagram "d00000000000000002"
check DG_4_empty_datagram '{"error":"HTTP/3 datagram too short for its quarter stream ID","code":-39,"offset":0}' 1 h3-datagram ""
check BIND_21_ip_version_5 '{"error":"invalid IP version","code":-9,"offset":1}' 1 \
    bind-payload "020500"
check ipv6_rfc5952 '{"context_id":2,"ip_version":6,"ip":"2001:db8::1:0:0:1","port":443,"payload_hex":""}' 0 \
    bind-payload "02 06 20010db8000000000001000000000001 01bb"
check draft04_assign '{"type":"COMPRESSION_ASSIGN","type_code":470803235,"length":2,"context_id":2,"ip_version":0}' 0 \
    --draft04 capsules "9c0fe323 02 0200"
check draft04_unknown_ack '{"type":"UNKNOWN","type_code":18,"length":1}' 0 --draft04 capsules "120102"
check unknown_capsule '{"type":"UNKNOWN","type_code":64,"length":2}' 0 capsules "4040 02 abcd"
check datagram_capsule '{"type":"DATAGRAM","type_code":0,"length":2,"payload_hex":"0400"}' 0 \
    capsules "00020400"
check stdin_input '{"type":"COMPRESSION_ACK","type_code":18,"length":1,"context_id":2}' 0 \
    capsules "12 01 02"
check bad_usage '' 2 frobnicate 00
check odd_hex '' 2 capsules 123
check flag_of_another_command '' 2 --compressed capsules 120102
check draft04_not_for_datagrams '' 2 --draft04 h3-datagram 0400
printf '%s\n' "12 01
 02" | "$inspect" capsules - >/dev/null || { failures=$((failures + 1)); echo "FAIL stdin"; }

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
