#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# Instructions per operation of the main benchmark cases, counted by callgrind: repeatable on a
# noisy machine, so a regression shows even where timings wobble.
# usage: tools/bench-callgrind.sh [path/to/masque-bench]   (builds it when no path is given)
set -eu
cd "$(dirname "$0")/.."
bench=${1:-}
if [ -z "$bench" ]; then
    cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DMASQUE_BUILD_BENCH=ON \
        -DMASQUE_BUILD_TESTS=OFF -DMASQUE_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build build/bench -j "$(nproc)" >/dev/null
    bench=build/bench/bench/masque-bench
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
iters=100000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf 'case\tparam\tinstructions_per_op\n'
while read -r name param; do
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" --collect-atstart=no \
        --toggle-collect=measured_loop "$bench" --count "$name" "$param" "$iters" \
        >/dev/null 2>&1
    total=$(sed -n 's/^summary: *//p' "$out/cg" | head -n 1)
    # one line per case: total instructions inside measured_loop / iterations
    awk -v n="$name" -v p="$param" -v t="${total:-0}" -v i="$iters" \
        'BEGIN { printf "%s\t%s\t%.1f\n", n, p, t / i }'
done <<'CASES'
memcpy 1200
varint_decode 8
capsule_header_decode 3
assign_decode 4
assign_encode 4
decode_uncompressed_v4 1200
decode_uncompressed_v6 1200
decode_compressed 1200
encode_uncompressed_v4 1200
encode_compressed 1200
encode_uncompressed_v4_copy 1200
parse_datagram_capsule 1200
parse_datagram_capsule_batch 1200
parse_datagram_capsule_floor 1200
parse_control_capsules 16
policy_check_public 4
policy_check_public 6
policy_check_public_scanned 4
policy_check_public_scanned 6
lookup_tuple_hit 16
lookup_tuple_hit 65536
lookup_tuple_miss 65536
lookup_id 65536
session_send_compressed 1200
session_receive_uncompressed 1200
CASES
