#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# Builds masque-quic-peer, the QUIC endpoint of tests/e2e/h3_interop.py, offline from the crates
# Debian packages (cargo, rustc, librust-quinn-dev, librust-rustls-pemfile-dev; tools/run.sh
# test installs them): DIR/release/masque-quic-peer. Debian 12 has quinn 0.9 (Cargo.toml), Debian
# 13 quinn 0.11 (Cargo.quinn-0.11.toml); the manifest follows what is installed. Where neither
# set is there it says so and builds nothing, and the test fails saying the same; the library's
# build does not need them.
# usage: tests/e2e/quic_peer/build.sh DIR
set -eu
mkdir -p "$1"
out=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
registry=/usr/share/cargo/registry
have() { ls -d "$@" >/dev/null 2>&1; }
manifest=
if [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
    if have "$registry"/quinn-0.9.* "$registry"/rustls-pemfile-1.*; then
        manifest=Cargo.toml
    elif have "$registry"/quinn-0.11.* "$registry"/rustls-0.23.* "$registry"/rustls-pemfile-2.*; then
        manifest=Cargo.quinn-0.11.toml
    fi
fi
if [ -z "$manifest" ]; then
    echo "masque-quic-peer not built: it needs Debian's cargo, rustc, librust-quinn-dev and" \
        "librust-rustls-pemfile-dev (quinn 0.9 as in Debian 12 or 0.11 as in Debian 13;" \
        "tools/run.sh test installs them)"
    exit 0
fi
mkdir -p "$out/crate/src" "$out/crate/.cargo"
cp -p "$src/$manifest" "$out/crate/Cargo.toml"
cp -p "$src/src/main.rs" "$out/crate/src/"
cat >"$out/crate/.cargo/config.toml" <<CONFIG
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "$registry"
[net]
offline = true
CONFIG
cd "$out/crate"
# Debian's toolchain whatever else is on the PATH: the packaged crates are built for it.
if ! CARGO_HOME="$out/cargo-home" CARGO_TARGET_DIR="$out" RUSTC=/usr/bin/rustc \
    /usr/bin/cargo build --release --quiet; then
    echo "masque-quic-peer not built (see above): e2e_h3_interop will fail"
fi
