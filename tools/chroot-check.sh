#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-only
# Runs one of the README's jobs on another Debian release, in a chroot of it, from a clone of this
# checkout's HEAD: how the project checks that both commands keep working on Debian 13 while CI
# runs on Debian 12. Needs root and the network; debootstrap is installed if missing. The chroot
# stays (in MASQUE_CHROOT, default /var/lib/libmasque-chroot-SUITE) so that a second run does not
# download everything again; delete it by hand (after unmounting anything left mounted in it).
# Not part of tools/run.sh test.
# usage: tools/chroot-check.sh [SUITE [JOB]]    (default: trixie test)
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-trixie}
job=${2:-test}
root=${MASQUE_CHROOT:-/var/lib/libmasque-chroot-$suite}
if [ "$(id -u)" -ne 0 ]; then
    echo "chroot-check: run as root (debootstrap, mount, chroot)" >&2
    exit 2
fi
if [ ! -x "$root/bin/bash" ]; then
    command -v debootstrap >/dev/null ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
    echo "== debootstrap $suite into $root"
    debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian >/dev/null
fi

mounted=()
unmount_all() {
    local i
    # `ip netns add` (e2e_client_exit) mounts the chroot's /run/netns on itself, once or more.
    while mountpoint -q "$root/run/netns"; do
        umount -l "$root/run/netns" || break
    done
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true
    done
}
trap unmount_all EXIT
bind() { # what, where
    mount --bind "$1" "$2"
    mounted+=("$2")
}
# The root is a mount point of its own: `ip netns exec` (e2e_client_exit) makes / a slave mount.
bind "$root" "$root"
for d in proc sys dev dev/pts; do
    bind "/$d" "$root/$d"
done
mkdir -p "$root/run/netns"
cp /etc/resolv.conf "$root/etc/resolv.conf"

echo "== a clone of $(git rev-parse --short HEAD) in $root/root/libmasque"
rm -rf "$root/root/libmasque"
git clone -q "$PWD" "$root/root/libmasque"
chroot "$root" bash -c 'command -v git >/dev/null || { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git >/dev/null; }'
echo "== tools/run.sh $job on $suite"
chroot "$root" env CI=true bash -c "cd /root/libmasque && tools/run.sh $job"
echo "chroot-check: tools/run.sh $job passed on $suite"
