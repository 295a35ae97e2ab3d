#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# The unit tests on a 32-bit target (i386, gcc -m32) and on a big-endian one (s390x, cross
# compiled and run under qemu-user). tools/run.sh test installs what they need.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "-- i386 (32-bit, i686 cross compiler; gcc-multilib would conflict with the s390x one)"
rm -rf build/i386
cmake -S . -B build/i386 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-i386.cmake -DMASQUE_WERROR=ON \
    -DMASQUE_BUILD_SHARED=OFF >/dev/null
cmake --build build/i386 -j "$jobs" >/dev/null
file build/i386/tests/test_varint | grep -Eq '32-bit.*(80386|i386)' # file 5.44: 80386, 5.46: i386
ctest --test-dir build/i386 --output-on-failure -j "$jobs" | tail -n 3

echo "-- s390x (64-bit big-endian, qemu-user)"
rm -rf build/s390x
cmake -S . -B build/s390x -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-s390x.cmake -DMASQUE_WERROR=ON \
    -DMASQUE_BUILD_SHARED=OFF >/dev/null
cmake --build build/s390x -j "$jobs" >/dev/null
file build/s390x/tests/test_varint | grep -q 'MSB.*S/390'
# inspect_cli starts the binary from sh, which needs binfmt_misc; posix reads socket options
# back, which qemu-user does not translate (IP_MTU_DISCOVER); everything else runs under qemu.
QEMU_LD_PREFIX=/ ctest --test-dir build/s390x --output-on-failure -j "$jobs" -E 'inspect_cli|posix' |
    tail -n 3
