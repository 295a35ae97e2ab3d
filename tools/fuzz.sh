#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# Runs every libFuzzer target (clang, ASan + UBSan) for a bounded time and writes a summary.
#   tools/fuzz.sh [SECONDS_PER_TARGET] [SUMMARY_FILE]      default 30 s, build/fuzz/summary.txt
# CI runs it with the default; for a long run: tools/fuzz.sh 3600 docs-run.txt
# The checked-in corpora seed each run; new inputs go to build/fuzz/corpus/<target>, findings to
# build/fuzz/findings/. Exit status 1 when any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
summary=${2:-build/fuzz/summary.txt}
CC=clang cmake -S . -B build/fuzz -DMASQUE_BUILD_FUZZ=ON -DMASQUE_BUILD_TESTS=OFF \
    -DMASQUE_BUILD_EXAMPLES=OFF -DMASQUE_BUILD_SHARED=OFF >/dev/null
cmake --build build/fuzz -j "$(nproc)" >/dev/null
mkdir -p build/fuzz/findings "$(dirname "$summary")"
printf 'target\tseconds\texecutions\tcoverage\tfeatures\tcorpus\tfindings\n' >"$summary"
failed=0
for t in varint capsule parser datagram http session adapter exchange h2 h2_pair quic quic_packets; do
    [ -x build/fuzz/fuzz/fuzz_$t ] || { echo "fuzz_$t: not built (its libraries are missing)" >&2; failed=1; continue; }
    corpus=build/fuzz/corpus/$t
    mkdir -p "$corpus"
    cp -n fuzz/corpus/$t/* "$corpus"/ 2>/dev/null || true
    dict=()
    case $t in
    capsule | parser | datagram) dict=(-dict=fuzz/dict/capsule.dict) ;;
    http | exchange | h2) dict=(-dict=fuzz/dict/http.dict) ;;
    esac
    log=build/fuzz/$t.log
    rc=0
    build/fuzz/fuzz/fuzz_$t "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix=build/fuzz/findings/$t- "$corpus" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    findings=$(find build/fuzz/findings -name "$t-*" | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seconds" "${execs:-0}" "${cov:-0}" "${ft:-0}" \
        "${corp:-0}" "$findings" >>"$summary"
    if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
        failed=1
        echo "fuzz_$t FAILED; see $log and build/fuzz/findings/" >&2
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2 || true
    fi
done
column -t -s $'\t' "$summary" 2>/dev/null || cat "$summary"
exit "$failed"
