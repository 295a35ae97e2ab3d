#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# The project's two jobs, for a fresh Debian 12 machine (run as root; sudo is used otherwise).
#   tools/run.sh main  - install what is missing, build, run the main job
#   tools/run.sh test  - install what is missing, build, run every test and check
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-}
jobs=$(nproc 2>/dev/null || echo 2)

main_packages=(cmake make gcc libc6-dev pkg-config libgnutls28-dev gnutls-bin python3 libnghttp2-dev
               ca-certificates) # the client's default trust (no --ca): the system's CAs
# ngtcp2 and nghttp3 1.x: Debian 13 ships them; Debian 12 in bookworm-backports (install_quic).
quic_packages=(libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev)
test_packages=("${main_packages[@]}" libcmocka-dev clang libclang-rt-dev clang-format
               clang-tidy cppcheck valgrind python3 gcovr gcc-arm-none-eabi
               libnewlib-arm-none-eabi doxygen gcc-i686-linux-gnu libc6-dev-i386-cross libcmocka-dev:i386
               gcc-s390x-linux-gnu libc6-dev-s390x-cross libcmocka-dev:s390x qemu-user file
               tshark iproute2 python3-h2
               cargo rustc rustfmt librust-quinn-dev librust-rustls-pemfile-dev)


sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

# A step's heading, with the seconds since the job began: where CI's 30 minutes go.
say() {
    echo "== $* [${SECONDS} s]"
}

install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq || echo "apt-get update reported errors; installing with the lists it has"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
}

# Installs ngtcp2 >= 1 and nghttp3 >= 1 unless they are there: on Debian 12 from
# bookworm-backports, enabled in a file of our own under /etc/apt/sources.list.d/; elsewhere
# (Debian 13) from the main archive.
install_quic() {
    local p v missing=0 target=()
    for p in "${quic_packages[@]}"; do
        v=$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null || true)
        case "$v" in "install ok installed "[1-9]*) ;; *) missing=1 ;; esac
    done
    [ "$missing" -eq 0 ] && return 0
    local codename=""
    [ -r /etc/os-release ] && codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [ "$codename" = bookworm ]; then
        if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
            say "enabling bookworm-backports for ngtcp2/nghttp3 1.x"
            printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" \
                "Suites: bookworm-backports" "Components: main" \
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
                "${sudo[@]}" tee /etc/apt/sources.list.d/libmasque-bookworm-backports.sources \
                    >/dev/null
        fi
        target=(-t bookworm-backports)
    fi
    say "installing ngtcp2/nghttp3 1.x: ${quic_packages[*]}"
    "${sudo[@]}" apt-get update -qq || echo "apt-get update reported errors; installing with the lists it has"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${target[@]}" "${quic_packages[@]}"
}

build() { # dir, compiler, build type, extra cmake args...
    local dir=$1 cc=$2 type=$3
    shift 3
    say "build $dir ($cc, $type $*)"
    CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DMASQUE_WERROR=ON \
        -DMASQUE_QUIC_PEER="$PWD/build/quic_peer/release/masque-quic-peer" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

run_ctest() {
    say "ctest $1"
    ctest --test-dir "$1" --output-on-failure -j "$jobs"
}

c_files() {
    git ls-files '*.c' '*.h' 2>/dev/null || find include src tests examples -name '*.[ch]'
}

case "$job" in
main)
    install_missing "${main_packages[@]}"
    install_quic
    CC=cc cmake -S . -B build/main -DCMAKE_BUILD_TYPE=Release -DMASQUE_BUILD_TESTS=OFF >/dev/null
    cmake --build build/main -j "$jobs"
    say "1. the -10 draft's Appendix A exchange, decoded by masque-inspect"
    tools/appendix-demo.sh build/main/examples/masque-inspect
    echo
    say "2. a live CONNECT-UDP Bind over HTTP/3 on loopback"
    tools/demo.sh build/main
    ;;
test)
    # 32-bit and big-endian test runs need i386 and s390x packages (Debian multiarch).
    for arch in i386 s390x; do
        dpkg --print-foreign-architectures | grep -qx "$arch" ||
            "${sudo[@]}" dpkg --add-architecture "$arch"
    done
    install_missing "${test_packages[@]}"
    install_quic
    say "clang-format (house style, .clang-format)"
    c_files | xargs clang-format --dry-run -Werror
    say "rustfmt (the test peer in tests/e2e/quic_peer, Debian's rustfmt)"
    /usr/bin/rustfmt --edition 2021 --check tests/e2e/quic_peer/src/main.rs
    say "cppcheck"
    # Once per profile of config.h (full, minimal, client, codec). cppcheck 2.11 and later
    # (Debian 13) limit their analysis of branches unless asked for all of it.
    thorough=()
    case "$(cppcheck --help 2>/dev/null)" in *--check-level*) thorough=(--check-level=exhaustive) ;; esac
    for profile in FULL MINIMAL CLIENT CODEC; do
        cppcheck --quiet --error-exitcode=1 "${thorough[@]}" \
            --enable=warning,style,performance,portability \
            --std=c99 --inline-suppr -I include -I src --suppress=missingIncludeSystem \
            -DMASQUE_BUILD_PROFILE=MASQUE_BUILD_$profile include src
    done
    say "masque-quic-peer (quinn), the independent QUIC end of e2e_h3_interop"
    sh tests/e2e/quic_peer/build.sh build/quic_peer
    # gcc optimised (its -Wmaybe-uninitialized needs the optimiser), clang unoptimised.
    build build/gcc gcc RelWithDebInfo -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DMASQUE_BUILD_BENCH=ON
    say "API reference (doxygen, warnings are errors)"
    cmake --build build/gcc --target docs
    say "clang-tidy (.clang-tidy)"
    clang-tidy --quiet -p build/gcc src/*.c src/adapter/*.c src/adapter/common/*.c src/adapter/ngtcp2/*.c src/adapter/nghttp2/*.c 2>&1 | { grep -E 'warning:|error:' && exit 1 || true; }
    # The reference (gcc) build's suite runs once, last (below): its summary is the runner's
    # last output. Running it here too cost 2.5 minutes of the CI's 30 for nothing new.
    say "a capture of the demo, decrypted: the relayed traffic is in QUIC DATAGRAM frames"
    sh tools/capture-check.sh build/gcc
    build build/clang clang Debug
    run_ctest build/clang
    for profile in minimal client codec; do
        say "the unit suite in the $profile profile of config.h (what firmware builds)"
        build "build/$profile" gcc Debug \
            "-DMASQUE_CONFIG_DEFINES=MASQUE_BUILD_PROFILE=MASQUE_BUILD_${profile^^}" \
            -DMASQUE_BUILD_EXAMPLES=OFF -DMASQUE_WITH_NGTCP2=OFF -DMASQUE_WITH_NGHTTP2=OFF \
            -DMASQUE_BUILD_SHARED=OFF
        run_ctest "build/$profile"
    done
    say "the HTTP/3 binding and the programs without the HTTP/2 binding (nghttp2 is optional)"
    build build/no-h2 gcc Release -DMASQUE_WITH_NGHTTP2=OFF -DMASQUE_BUILD_TESTS=OFF
    for cc in clang gcc; do
        build build/asan-$cc $cc Debug -DMASQUE_SANITIZE=address,undefined \
            -DMASQUE_BUILD_SHARED=OFF
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            run_ctest build/asan-$cc
    done
    say "coverage of src/ (gcc --coverage, gcovr)"
    build build/cov gcc Debug -DCMAKE_C_FLAGS=--coverage -DMASQUE_BUILD_SHARED=OFF
    find build/cov -name '*.gcda' -delete
    # CMake's compiler check was built with --coverage too; its notes name a source that is
    # gone, which gcovr 7 (Debian 13) counts as an error.
    find build/cov -path '*CompilerId*' -name '*.gcno' -delete
    ctest --test-dir build/cov -j "$jobs" >/dev/null
    echo "core (src/ without the QUIC binding):"
    gcovr -r . --filter 'src/' --exclude 'src/adapter/ngtcp2/' --object-directory build/cov \
        --print-summary --txt --branches 2>/dev/null | tail -n 3
    echo "QUIC binding (src/adapter/ngtcp2/, exercised by the end-to-end tests):"
    gcovr -r . --filter 'src/adapter/ngtcp2/' --object-directory build/cov --print-summary \
        --txt --branches 2>/dev/null | tail -n 3
    say "valgrind memcheck (gcc build)"
    for t in build/gcc/tests/test_*; do
        [ -x "$t" ] || continue
        valgrind -q --error-exitcode=1 --leak-check=full "$t" >/dev/null
    done
    echo "valgrind: no errors"
    say "fuzzing: every libFuzzer target for ${MASQUE_FUZZ_SECONDS:-30} s (ASan + UBSan)"
    tools/fuzz.sh "${MASQUE_FUZZ_SECONDS:-30}"
    say "firmware: Cortex-M0+ and Cortex-M4, every profile of config.h"
    tools/firmware.sh
    say "portability: i386 and s390x (big-endian) unit tests"
    tools/portability.sh
    say "packaging: install, exports, four ways to consume"
    tools/check-packaging.sh
    say "conformance matrix (docs/CONFORMANCE.md)"
    python3 tools/conformance.py
    # The committed matrix must be the one the tests give (it went stale once).
    if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- docs/CONFORMANCE.md; then
        echo "docs/CONFORMANCE.md differs from what tools/conformance.py writes: commit it" >&2
        git diff --stat -- docs/CONFORMANCE.md >&2
        exit 1
    fi
    say "heap calls in the core"
    if grep -nE '\b(malloc|calloc|realloc|free)\s*\(' src/*.c src/internal/*.h include/masque/*.h
    then
        echo "the core must not allocate" >&2
        exit 1
    fi
    # The last runner output is ctest's summary over the reference (gcc) build, its only run.
    run_ctest build/gcc
    ;;
*)
    echo "usage: $0 main|test" >&2
    exit 2
    ;;
esac
