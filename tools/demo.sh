#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# The main job: a real CONNECT-UDP Bind over HTTP/3 on loopback. A proxy, a bind client and two
# plain UDP peers: peer A talks to the client's public address and gets answers through the
# proxy; the client compresses A, then closes the uncompressed context; A still gets through,
# and an unknown peer B is dropped at the proxy. Then one Bind over HTTP/2 (TLS/TCP, the same
# proxy and port), as a client behind a network that blocks UDP would make it. Last, expose
# mode: a local UDP echo service made reachable at a public address, for two remote peers.
# usage: tools/demo.sh BUILD_DIR
set -eu
bin=$1/examples
work=$(mktemp -d)
port=$((40000 + $$ % 20000))
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# A throw-away CA: the client verifies the proxy's certificate, as it always should.
sh "$(dirname "$0")/test-ca.sh" "$work/pki"
echo "== masque-proxy on 127.0.0.1:$port (loopback targets allowed for the demo)"
"$bin/masque-proxy" --listen "127.0.0.1:$port" --allow 127.0.0.0/8 --run-seconds 30 -v \
    --cert "$work/pki/localhost.pem" --key "$work/pki/localhost.key" 2>"$work/proxy.log" &
pids="$pids $!"
# Waits (bounded: generous for a loaded machine or valgrind) until FILE has a line matching RE.
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 150 ]; then
            echo "no '$2' in $1 within 15 s:" >&2
            cat "$1" "$work/client.log" "$work/proxy.log" >&2 2>/dev/null
            exit 1
        fi
        sleep 0.1
    done
}
wait_for "$work/proxy.log" 'listening on'
echo "== masque-bind-client: Bind, echo, compress a peer after 2 packets, firewall after 3"
"$bin/masque-bind-client" --proxy "127.0.0.1:$port" --authority localhost \
    --ca "$work/pki/ca.pem" --echo --compress-after 2 \
    --close-uncompressed-after 3 --run-seconds 25 </dev/null >"$work/client.log" 2>&1 &
pids="$pids $!"
wait_for "$work/client.log" '^public address:'
public=$(sed -n 's/^public address: //p' "$work/client.log" | head -n 1)
# -10 §4: peers are heard once the proxy acknowledged the uncompressed context.
wait_for "$work/client.log" '^uncompressed context [0-9]* acknowledged'
echo "== peer A sends 4 datagrams to the client's public address $public"
"$bin/udp-peer" "$public" --count 4 --text "hello from peer A" --answers 4 >"$work/peer-a.log"
a=$?
# The client closed the uncompressed context at A's third datagram, before it answered the
# fourth: A's fourth answer came after the proxy had the COMPRESSION_CLOSE.
grep -q '^uncompressed context closed' "$work/client.log" || a=1
echo "== peer B, unknown to the client, sends 1 datagram after the firewall closed"
"$bin/udp-peer" "$public" --text "hello from peer B" --expect-silence --wait-ms 1500 \
    >"$work/peer-b.log" || true
b=0
grep -q 'as expected' "$work/peer-b.log" || b=1
h2=0
if grep -q 'HTTP/2 on TCP' "$work/proxy.log"; then
    echo "== masque-bind-client --h2: Bind over HTTP/2 (TLS/TCP), to the same proxy and port"
    "$bin/masque-bind-client" --proxy "127.0.0.1:$port" --authority localhost \
        --ca "$work/pki/ca.pem" --h2 --echo --run-seconds 20 </dev/null >"$work/client-h2.log" 2>&1 &
    pids="$pids $!"
    wait_for "$work/client-h2.log" '^uncompressed context [0-9]* acknowledged'
    public2=$(sed -n 's/^public address: //p' "$work/client-h2.log" | head -n 1)
    echo "== peer C sends 2 datagrams to the HTTP/2 client's public address $public2"
    "$bin/udp-peer" "$public2" --count 2 --text "hello over HTTP/2" --answers 2 \
        >"$work/peer-c.log" || h2=1
else
    echo "(built without HTTP/2: no Bind over HTTP/2)" >"$work/client-h2.log"
fi
echo "== expose mode: a local UDP service (an echo), reachable through the proxy"
"$bin/udp-peer" 127.0.0.1:0 --serve --wait-ms 15000 >"$work/service.log" 2>&1 &
pids="$pids $!"
wait_for "$work/service.log" 'echoing on'
service=$(sed -n 's/^service: echoing on //p' "$work/service.log" | head -n 1)
"$bin/masque-bind-client" --proxy "127.0.0.1:$port" --authority localhost \
    --ca "$work/pki/ca.pem" --expose "$service" --public-address-file "$work/public" \
    --run-seconds 20 </dev/null >"$work/client-expose.log" 2>&1 &
pids="$pids $!"
wait_for "$work/client-expose.log" '^uncompressed context [0-9]* acknowledged'
exposed=$(cat "$work/public")
x=0
for who in D E; do
    "$bin/udp-peer" "$exposed" --count 2 --text "hello from peer $who" --answers 2 \
        >"$work/peer-$who.log" || x=1
done
echo
echo "-- transcript: client"
sed 's/^/   /' "$work/client.log"
echo "-- transcript: peer A"
sed 's/^/   /' "$work/peer-a.log"
echo "-- transcript: peer B"
sed 's/^/   /' "$work/peer-b.log"
echo "-- transcript: client over HTTP/2"
sed 's/^/   /' "$work/client-h2.log"
[ -f "$work/peer-c.log" ] && sed 's/^/   /' "$work/peer-c.log"
echo "-- transcript: client in expose mode, its service, and peers D and E"
sed 's/^/   /' "$work/client-expose.log"
sed 's/^/   /' "$work/service.log"
sed 's/^/   /' "$work/peer-D.log" "$work/peer-E.log"
echo "-- transcript: proxy"
sed 's/^/   /' "$work/proxy.log"
if [ "$a" -eq 0 ] && [ "$b" -eq 0 ] && [ "$h2" -eq 0 ] && [ "$x" -eq 0 ]; then
    echo "demo: PASS (relayed both ways, compressed, unknown sender dropped; over HTTP/2;" \
        "a local service exposed)"
    exit 0
fi
echo "demo: FAIL"
exit 1
