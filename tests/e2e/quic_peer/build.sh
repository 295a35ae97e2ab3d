#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# Builds masque-quic-peer, the QUIC endpoint of tests/e2e/h3_interop.py, offline from the crates
# Debian 12 packages (cargo, rustc, librust-quinn-dev, librust-rustls-pemfile-dev; tools/run.sh
# test installs them): DIR/release/masque-quic-peer. Where they are missing it says so and
# builds nothing, and the test fails saying the same; the library's build does not need them.
# usage: tests/e2e/quic_peer/build.sh DIR
set -eu
mkdir -p "$1"
out=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
registry=/usr/share/cargo/registry
if [ ! -x /usr/bin/cargo ] || [ ! -x /usr/bin/rustc ] || ! ls -d "$registry"/quinn-0.9.* \
    "$registry"/rustls-pemfile-1.* >/dev/null 2>&1; then
    echo "masque-quic-peer not built: it needs Debian 12's cargo, rustc, librust-quinn-dev and" \
        "librust-rustls-pemfile-dev (tools/run.sh test installs them)"
    exit 0
fi
mkdir -p "$out/crate/src" "$out/crate/.cargo"
cp -p "$src/Cargo.toml" "$out/crate/"
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
