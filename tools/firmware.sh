#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# Builds the core with Debian's arm-none-eabi-gcc for Cortex-M0+ and Cortex-M4 at -Os,
# freestanding, in the full and the minimal configuration (config.h); checks that nothing
# beyond memcpy/memset/memcmp (and libgcc's arithmetic helpers on cores without them) is
# needed; prints a size table and the size of the objects a device places.
set -euo pipefail
cd "$(dirname "$0")/.."
cc=arm-none-eabi-gcc
command -v "$cc" >/dev/null || { echo "$cc is not installed (apt-get install gcc-arm-none-eabi)" >&2; exit 1; }
out=build/firmware
rm -rf "$out"
mkdir -p "$out"
minimal=(-DMASQUE_ENABLE_DRAFT04=0 -DMASQUE_ENABLE_POLICY=0 -DMASQUE_ENABLE_AUTO_COMPRESS=0
         -DMASQUE_ENABLE_HTTP=0 -DMASQUE_ENABLE_IPV6=0 -DMASQUE_ENABLE_ERROR_TEXT=0
         -DMASQUE_SESSION_QUEUE_LEN=8
         -DMASQUE_SESSION_EVENT_LEN=4)
# The one source list (cmake/sources.cmake).
mapfile -t core < <(sed -n '/^set(MASQUE_CORE_SOURCES$/,/^)$/{/^  /s/^ *//p}' cmake/sources.cmake)
warn=(-std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wmissing-prototypes -Werror)
status=0
printf '%-14s %-8s %7s %6s %6s\n' cpu config text data bss
for cpu in cortex-m0plus cortex-m4; do
    for config in full minimal; do
        dir=$out/$cpu-$config
        mkdir -p "$dir"
        flags=(-mcpu=$cpu -mthumb -Os -ffreestanding -ffunction-sections -fdata-sections
               -Iinclude -Isrc)
        [ "$config" = minimal ] && flags+=("${minimal[@]}")
        for f in "${core[@]}"; do
            "$cc" "${warn[@]}" "${flags[@]}" -c "$f" -o "$dir/$(basename "$f" .c).o"
        done
        read -r text data bss < <(arm-none-eabi-size -t "$dir"/*.o | tail -n 1 | awk '{print $1, $2, $3}')
        arm-none-eabi-size "$dir"/*.o | awk 'NR > 1 {printf "%s=%s ", $6, $1}' |
            sed "s|$dir/||g; s|\.o=|=|g" >"$dir/per-file.txt"
        printf '%-14s %-8s %7s %6s %6s\n' "$cpu" "$config" "$text" "$data" "$bss"
        # What the objects need from outside: the C library's memcpy/memset/memcmp, and
        # libgcc's helpers for 64-bit arithmetic where the core has no instruction for it.
        objs=("$dir"/*.o)
        arm-none-eabi-ld -r -o "$dir/core.o" "${objs[@]}"
        undefined=$(arm-none-eabi-nm -u "$dir/core.o" | awk '{print $NF}' | sort -u)
        others=$(grep -vE '^(memcpy|memset|memcmp|__aeabi_[a-z0-9]+|__gnu_thumb1_[a-z_]+)$' \
            <<<"$undefined" || true)
        echo "$undefined" | tr '\n' ' ' >"$dir/undefined.txt"
        if [ -n "$others" ]; then
            echo "  unexpected undefined symbols: $others" >&2
            status=1
        fi
    done
done
echo
for cpu in cortex-m0plus cortex-m4; do
    echo "undefined symbols, $cpu full: $(cat "$out/$cpu-full/undefined.txt")"
done
echo "text per file, cortex-m4 full: $(cat "$out/cortex-m4-full/per-file.txt")"
echo "text per file, cortex-m4 minimal: $(cat "$out/cortex-m4-minimal/per-file.txt")"
codec=0
for f in varint address capsule datagram error; do
    codec=$((codec + $(arm-none-eabi-size "$out/cortex-m4-minimal/$f.o" | awk 'NR == 2 {print $1}')))
done
echo "codec only (varint, capsule, datagram, address, error), cortex-m4 minimal: $codec bytes of text"
# Sizes of what a device allocates, as the target compiler lays them out.
cat >"$out/probe.c" <<'PROBE'
#include "masque/masque.h"
char size_of_context_entry[sizeof(masque_context)];
char size_of_context_table[sizeof(masque_context_table)];
char size_of_capsule_parser[sizeof(masque_capsule_parser)];
char size_of_session[sizeof(masque_session)];
char table_bytes_per_context_at_1024[masque_context_table_storage_size_probe];
PROBE
sed -i '/storage_size_probe/d' "$out/probe.c"
for config in full minimal; do
    flags=(-mcpu=cortex-m4 -mthumb -Os -Iinclude)
    [ "$config" = minimal ] && flags+=("${minimal[@]}")
    "$cc" "${flags[@]}" -fcommon -c "$out/probe.c" -o "$out/probe-$config.o"
    echo "object sizes (Cortex-M4, $config):"
    arm-none-eabi-nm -S "$out/probe-$config.o" | while read -r _ size _ name; do
        printf '  %-26s %6d bytes\n' "$name" "$((16#$size))"
    done
done
# The amalgamation alone, no build system, for Cortex-M4 (the host build is in check-packaging.sh).
python3 tools/amalgamate.py "$out/dist" >/dev/null
mkdir -p "$out/dist/masque"
cp "$out/dist/masque.h" "$out/dist/masque/masque.h"
"$cc" "${warn[@]}" -mcpu=cortex-m4 -mthumb -Os -ffreestanding -I"$out/dist" \
    -c "$out/dist/masque.c" -o "$out/dist/masque.o"
"$cc" "${warn[@]}" -mcpu=cortex-m4 -mthumb -Os -I"$out/dist" \
    -c tests/consumer/consumer.c -o "$out/dist/consumer.o"
echo "amalgamation: dist/masque.c and a consumer compile for Cortex-M4"
exit "$status"
