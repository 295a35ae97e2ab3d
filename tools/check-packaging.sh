#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# Builds a tiny consumer of libmasque four ways and checks what the shared library exports:
#   1. find_package(masque CONFIG) from an installed prefix   2. add_subdirectory of the tree
#   3. pkg-config (libmasque.pc)                              4. the amalgamation, no build system
set -euo pipefail
cd "$(dirname "$0")/.."
work=build/packaging
rm -rf "$work"
mkdir -p "$work"
prefix=$PWD/$work/prefix

echo "-- install"
cmake -S . -B "$work/lib" -DCMAKE_BUILD_TYPE=Release -DMASQUE_BUILD_TESTS=OFF \
    -DMASQUE_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
cmake --build "$work/lib" -j "$(nproc)" >/dev/null
cmake --install "$work/lib" >/dev/null
ls "$prefix/lib/libmasque.so.0" "$prefix/lib/libmasque.a" "$prefix/lib/pkgconfig/libmasque.pc" \
    "$prefix/lib/cmake/masque/masque-config.cmake" "$prefix/include/masque/masque.h" >/dev/null

echo "-- exported symbols (nm -D): only the public API"
leaked=$(nm -D --defined-only --extern-only "$prefix/lib/libmasque.so" | awk '{print $3}' |
    grep -v '^masque_' || true)
if [ -n "$leaked" ]; then
    echo "symbols outside the public API are exported:" >&2
    echo "$leaked" >&2
    exit 1
fi
exported=$(nm -D --defined-only --extern-only "$prefix/lib/libmasque.so" | wc -l)
# adapter.h, quic.h and h2.h belong to the separate masque_adapter, masque_quic and masque_h2 libraries.
declared=$(grep -ho 'MASQUE_API [^(]*masque_[a-z0-9_]*(' $(ls include/masque/*.h | grep -v 'adapter.h\|quic.h\|h2.h') |
    wc -l)
echo "   $exported exported, $declared declared MASQUE_API"
[ "$exported" -eq "$declared" ]

echo "-- 1. find_package from the installed prefix"
cmake -S tests/consumer -B "$work/c1" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/c1" >/dev/null
"$work/c1/consumer"

echo "-- 2. add_subdirectory of the source tree"
cmake -S tests/consumer -B "$work/c2" -DMASQUE_CONSUMER_MODE=subdirectory \
    -DMASQUE_SOURCE_DIR="$PWD" >/dev/null
cmake --build "$work/c2" >/dev/null
"$work/c2/consumer"

echo "-- 3. pkg-config"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -std=c99 tests/consumer/consumer.c \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs libmasque) \
    -o "$work/c3"
LD_LIBRARY_PATH="$prefix/lib" "$work/c3"

echo "-- 4. amalgamation, compiled with nothing but cc"
python3 tools/amalgamate.py "$work/dist" >/dev/null
mkdir -p "$work/c4/masque"
# The consumer includes <masque/masque.h>; the amalgamated header stands in for it.
cp "$work/dist/masque.h" "$work/c4/masque/masque.h"
cc -std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror -I"$work/c4" -I"$work/dist" \
    "$work/dist/masque.c" tests/consumer/consumer.c -o "$work/c4/consumer"
"$work/c4/consumer"
echo "packaging: all four ways work"
