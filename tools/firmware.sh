#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# Builds the core with Debian's arm-none-eabi-gcc for Cortex-M0+ and Cortex-M4 at -Os,
# freestanding, in each profile of config.h (full, minimal, client, codec); checks that nothing
# beyond memcpy/memset/memcmp (and libgcc's arithmetic helpers on cores without them) is
# needed; prints a size table, the text per file, and the size of the objects a device places.
set -euo pipefail
cd "$(dirname "$0")/.."
cc=arm-none-eabi-gcc
command -v "$cc" >/dev/null || { echo "$cc is not installed (apt-get install gcc-arm-none-eabi)" >&2; exit 1; }
out=build/firmware
rm -rf "$out"
mkdir -p "$out"
# The profiles of config.h (MASQUE_BUILD_PROFILE), each with its own defaults.
profiles=(full minimal client codec)
profile_flag() { echo "-DMASQUE_BUILD_PROFILE=MASQUE_BUILD_${1^^}"; }
# The one source list (cmake/sources.cmake).
mapfile -t core < <(sed -n '/^set(MASQUE_CORE_SOURCES$/,/^)$/{/^  /s/^ *//p}' cmake/sources.cmake)
warn=(-std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wmissing-prototypes -Werror)
status=0
printf '%-14s %-8s %7s %6s %6s\n' cpu profile text data bss
for cpu in cortex-m0plus cortex-m4; do
    for config in "${profiles[@]}"; do
        dir=$out/$cpu-$config
        mkdir -p "$dir"
        flags=(-mcpu=$cpu -mthumb -Os -ffreestanding -ffunction-sections -fdata-sections
               -Iinclude -Isrc "$(profile_flag "$config")")
        for f in "${core[@]}"; do
            "$cc" "${warn[@]}" "${flags[@]}" -c "$f" -o "$dir/$(basename "$f" .c).o"
        done
        read -r text data bss < <(arm-none-eabi-size -t "$dir"/*.o | tail -n 1 | awk '{print $1, $2, $3}')
        arm-none-eabi-size "$dir"/*.o | awk 'NR > 1 && $1 > 0 {printf "%s=%s ", $6, $1}' |
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
# What a Bind client device pays: tools/firmware/client.c (init, contexts, the stream, datagrams,
# events, timers) linked with --gc-sections keeps only the code it calls. Its own code and its
# stand-in memcpy/memset/memcmp are subtracted; libgcc's helpers on M0+ are counted. The last
# column links the core built with -flto (firmware builds often are: the compiler then inlines
# across the core's files); the device's own file stays outside LTO, so its stand-ins survive.
printf '%-14s %-8s %9s %9s\n' cpu profile linked "with LTO"
for cpu in cortex-m0plus cortex-m4; do
    for config in full minimal client; do
        dir=$out/$cpu-$config
        flags=(-mcpu=$cpu -mthumb -Os -ffreestanding -ffunction-sections -fdata-sections
               -Iinclude "$(profile_flag "$config")")
        "$cc" "${warn[@]}" "${flags[@]}" -c tools/firmware/client.c -o "$dir/device.o"
        mapfile -t objs < <(ls "$dir"/*.o | grep -v -e '/core\.o$' -e '/device\.o$')
        "$cc" "${flags[@]}" -nostdlib -Wl,--gc-sections -Wl,-e,device_main -o "$dir/device.elf" \
            "$dir/device.o" "${objs[@]}" -lgcc
        total=$(arm-none-eabi-size "$dir/device.elf" | awk 'NR == 2 {print $1}')
        own=$(arm-none-eabi-size "$dir/device.o" | awk 'NR == 2 {print $1}')
        mkdir -p "$dir/lto"
        lto=()
        for f in "${core[@]}"; do
            "$cc" "${warn[@]}" "${flags[@]}" -Isrc -flto -c "$f" -o "$dir/lto/$(basename "$f" .c).o"
            lto+=("$dir/lto/$(basename "$f" .c).o")
        done
        "$cc" "${flags[@]}" -flto -nostdlib -Wl,--gc-sections -Wl,-e,device_main \
            -o "$dir/device-lto.elf" "$dir/device.o" "${lto[@]}" -lgcc
        total_lto=$(arm-none-eabi-size "$dir/device-lto.elf" | awk 'NR == 2 {print $1}')
        printf '%-14s %-8s %9s %9s\n' "$cpu" "$config" "$((total - own))" "$((total_lto - own))"
        if [ "$cpu-$config" = cortex-m4-client ]; then
            goal_plain=$((total - own))
            goal_lto=$((total_lto - own))
        fi
    done
done
# Issue 16's goal for a client device, printed so that a change that breaks it shows.
verdict() { [ "$1" -le 6144 ] && echo met || echo missed; }
echo "goal: client profile on Cortex-M4 <= 6144 bytes: linked $goal_plain ($(verdict "$goal_plain")), with LTO $goal_lto ($(verdict "$goal_lto"))"
echo
for cpu in cortex-m0plus cortex-m4; do
    echo "undefined symbols, $cpu full: $(cat "$out/$cpu-full/undefined.txt")"
done
for config in "${profiles[@]}"; do
    echo "text per file, cortex-m4 $config: $(cat "$out/cortex-m4-$config/per-file.txt")"
done
# What a device holds in RAM, as the target compiler lays it out, per profile.
for config in "${profiles[@]}"; do
    {
        echo '#include "masque/masque.h"'
        echo 'char size_of_capsule_parser[sizeof(masque_capsule_parser)];'
        echo 'char size_of_capsule_event[sizeof(masque_capsule_event)];'
        echo 'char size_of_capsule_piece[sizeof(masque_capsule_piece)];'
        echo 'char size_of_address[sizeof(masque_address)];'
        echo '#if MASQUE_ENABLE_SESSION'
        echo 'char size_of_context_entry[sizeof(masque_context)];'
        echo 'char size_of_context_table[sizeof(masque_context_table)];'
        echo 'char size_of_session[sizeof(masque_session)];'
        echo 'char size_of_session_config[sizeof(masque_session_config)];'
        echo 'char table_storage_for_8[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(8)];'
        echo '#endif'
    } >"$out/probe-$config.c"
    "$cc" -mcpu=cortex-m4 -mthumb -Os -Iinclude "$(profile_flag "$config")" -fcommon \
        -c "$out/probe-$config.c" -o "$out/probe-$config.o"
    echo "RAM per object (Cortex-M4, $config): $(arm-none-eabi-nm -S "$out/probe-$config.o" |
        while read -r _ size _ name; do printf '%s=%d ' "${name#size_of_}" "$((16#$size))"; done)"
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
