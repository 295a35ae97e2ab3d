#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# Relay benchmark: datagrams/s, MB/s and round trips through a real Bind relay (proxy and
# client over QUIC on loopback) against direct UDP, then the share of instructions spent inside
# libmasque (core and adapter, src/ without the QUIC binding) in a short relayed run, counted
# by valgrind --tool=callgrind. Not a test.
# usage: tools/relay-bench.sh
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMASQUE_BUILD_BENCH=ON \
    -DMASQUE_BUILD_TESTS=OFF -DMASQUE_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench -j "$(nproc)" >/dev/null
build/bench/bench/relay-bench
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg" build/bench/bench/relay-bench --quick \
    >/dev/null 2>&1
callgrind_annotate --inclusive=no --threshold=100 "$out/cg" 2>/dev/null >"$out/annotated"
awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
    / src\// && !/src\/adapter\/ngtcp2\// { gsub(",", "", $1); mine += $1 }
    END {
        printf "instructions: total %d, inside libmasque %d (%.2f %%; goal under 2 %%)\n",
               total, mine, total ? 100.0 * mine / total : 0
    }' "$out/annotated"
