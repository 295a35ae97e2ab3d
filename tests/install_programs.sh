#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# `cmake --install` puts what an operator deploys in place: the three programs (each answering
# --help) and the systemd units with their settings files.
# usage: install_programs.sh BUILD_DIR
set -eu
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$1" --prefix "$prefix" >/dev/null
for program in masque-proxy masque-bind-client masque-inspect; do
    "$prefix/bin/$program" --help >/dev/null
done
test -f "$prefix/share/masque/systemd/masque-proxy.service"
test -f "$prefix/share/masque/systemd/masque-proxy.env"
test -f "$prefix/share/masque/systemd/masque-expose.service"
test -f "$prefix/share/masque/systemd/masque-expose.env"
# The units as systemd reads them (a key it does not know is only a warning to it, so any word
# it says of them fails here), with their programs at this prefix; where systemd is there to ask.
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir "$prefix/units"
    for unit in masque-proxy masque-expose; do
        sed "s|/usr/local/bin|$prefix/bin|g" "$prefix/share/masque/systemd/$unit.service" \
            >"$prefix/units/$unit.service"
    done
    # What it says about the units themselves (not about the machine it runs on).
    said=$(systemd-analyze verify "$prefix/units/masque-proxy.service" \
        "$prefix/units/masque-expose.service" 2>&1 | grep -F "$prefix/units/") || true
    if [ -n "$said" ]; then
        echo "install_programs: FAIL: systemd-analyze verify: $said"
        exit 1
    fi
fi
echo "install_programs: PASS (programs, systemd units and their settings installed)"
