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
echo "install_programs: PASS (programs, systemd units and their settings installed)"
