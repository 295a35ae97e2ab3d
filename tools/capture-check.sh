#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# Captures the demo on loopback with tshark, decrypts it with the TLS secrets GnuTLS writes to
# SSLKEYLOGFILE, and checks that the relayed traffic travels in QUIC DATAGRAM frames (RFC 9297
# §2.1): peer A's datagrams to the client and the client's answers, each as an HTTP/3 datagram
# whose payload is the UDP payload after the Quarter Stream ID and the Context ID.
# usage: tools/capture-check.sh BUILD_DIR    (root, for the capture; tshark installed)
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "capture-check: SKIPPED (capturing on lo needs root)"
    exit 0
fi
work=$(mktemp -d)
tpid=""
# The programs send with UDP GSO. A NIC cuts a GSO train into its datagrams before the wire,
# but loopback hands the capture the uncut train, and tshark cannot split it (a short-header
# QUIC packet runs to the end of its datagram): with at most one segment per packet on lo, the
# kernel cuts trains before the capture point, as a NIC would, and the capture sees the wire.
segs=$(ip -d link show lo | sed -n 's/.*gso_max_segs \([0-9]*\).*/\1/p')
cleanup() {
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null || true
    [ -n "$segs" ] && ip link set dev lo gso_max_segs "$segs" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ -n "$segs" ] && ! ip link set dev lo gso_max_segs 1 2>/dev/null; then
    echo "capture-check: note: cannot cut GSO trains on lo; tshark may miss packets in them"
    segs=""
fi
tshark -i lo -f udp -w "$work/demo.pcapng" >"$work/tshark.log" 2>&1 &
tpid=$!
i=0
while ! grep -q 'Capturing on' "$work/tshark.log" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 150 ]; then
        echo "capture-check: FAIL (tshark did not start capturing within 15 s)" >&2
        cat "$work/tshark.log" >&2
        exit 1
    fi
    sleep 0.1
done
SSLKEYLOGFILE="$work/keys" sh "$here/demo.sh" "$build" >"$work/demo.log" 2>&1 || {
    echo "capture-check: FAIL (the demo failed)" >&2
    cat "$work/demo.log" >&2
    exit 1
}
kill -INT "$tpid"
wait "$tpid" 2>/dev/null || true
tpid=""
tshark -r "$work/demo.pcapng" -o "tls.keylog_file:$work/keys" -Y quic.dg -T fields -e quic.dg \
    2>/dev/null >"$work/datagrams"
# "hello from peer A" and "re: hello from peer A", in hex, inside DATAGRAM frames.
to_client=$(grep -v '72653a20' "$work/datagrams" | grep -c '68656c6c6f2066726f6d2070656572204' ||
    true)
answers=$(grep -c '72653a2068656c6c6f2066726f6d2070656572204' "$work/datagrams" || true)
frames=$(wc -l <"$work/datagrams")
echo "capture-check: $frames QUIC DATAGRAM frames decrypted; $to_client carry peer A's" \
    "datagrams, $answers the client's answers"
if [ "$to_client" -ge 4 ] && [ "$answers" -ge 4 ]; then
    echo "capture-check: PASS"
    exit 0
fi
echo "capture-check: FAIL (the relayed traffic is not in DATAGRAM frames)" >&2
head -n 20 "$work/datagrams" >&2
exit 1
