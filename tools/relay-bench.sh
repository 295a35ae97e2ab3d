#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# Relay benchmark: datagrams/s, MB/s, round trips and the proxy's CPU time per relayed
# datagram through a real Bind relay (proxy and client over QUIC on loopback) against direct
# UDP, on both datagram paths of HTTP/3 (QUIC DATAGRAM frames, DATAGRAM capsules) and over
# HTTP/2 (capsules on TLS/TCP), first in one thread, then with each part in a process of its
# own, each mode after a reference (a plain UDP forwarder of the relay's shape, no protocol);
# then one active tunnel among 500 idle clients (--idle-clients); then, per path, the share of instructions spent inside libmasque (core and adapter, src/
# without the bindings; the binding's own share beside it) in a short relayed run, counted by
# valgrind --tool=callgrind over the whole run and while datagrams are relayed. Not a test.
# usage: tools/relay-bench.sh
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMASQUE_BUILD_BENCH=ON \
    -DMASQUE_BUILD_TESTS=OFF -DMASQUE_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench -j "$(nproc)" >/dev/null
build/bench/bench/relay-bench
# The same paths with the proxy, the client and the echo service in processes of their own
# (each one's CPU time from the scheduler), as a relay is deployed and as h2o was measured.
build/bench/bench/relay-bench --processes
# One active tunnel among 500 idle ones (a proxy's usual crowd): what they cost it per step.
build/bench/bench/relay-bench --h3-datagrams --idle-clients 500
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Two counts per path: over the whole run (the TLS handshakes and the throw-away CA included, as
# the share was first measured), and while datagrams are relayed (callgrind collects inside the
# relay's steps of the measured runs only: --toggle-collect=wait_relay), which is the share a
# relayed datagram pays.
for path in h3-datagrams capsules h2; do
    for scope in run relaying; do
        toggle=()
        [ "$scope" = relaying ] && toggle=(--toggle-collect=wait_relay)
        valgrind --tool=callgrind --callgrind-out-file="$out/cg.$path.$scope" "${toggle[@]}" \
            build/bench/bench/relay-bench --quick "--$path" >/dev/null 2>&1
        callgrind_annotate --inclusive=no --threshold=100 --auto=no "$out/cg.$path.$scope" \
            2>/dev/null >"$out/annotated.$path.$scope"
        awk -v path="$path" -v scope="$scope" '
            /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
            # one line per function: "Ir (share)  file:function [object]"
            /^ *[0-9,]+ +\( *[0-9.]+%\) +src\/adapter\/(ngtcp2|nghttp2|common)\// { gsub(",", "", $1); binding += $1; next }
            /^ *[0-9,]+ +\( *[0-9.]+%\) +src\// { gsub(",", "", $1); mine += $1 }
            END {
                what = scope == "run" ? "whole run, set-up included" : "while relaying"
                printf "instructions (%s, %s): total %d, inside libmasque %d (%.2f %%; goal under 2 %%), " \
                       "the HTTP/3 or HTTP/2 binding %d (%.2f %%)\n", path, what, total, mine,
                       total ? 100.0 * mine / total : 0, binding, total ? 100.0 * binding / total : 0
            }' "$out/annotated.$path.$scope"
    done
done
