#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-only
# Decodes the -10 draft's Appendix A exchange with masque-inspect and prints it.
# usage: tools/appendix-demo.sh PATH/TO/masque-inspect [vectors-file]
set -eu
inspect=$1
vectors=${2:-$(dirname "$0")/../tests/vectors/appendix-10.txt}
tab=$(printf '\t')
echo "draft-ietf-masque-connect-udp-listen-10, Appendix A, decoded by masque-inspect"
grep -v '^#' "$vectors" | while IFS="$tab" read -r sender args hex note; do
    [ -n "$sender" ] || continue
    if [ "$sender" = client ]; then arrow="client -> proxy"; else arrow="proxy -> client"; fi
    printf '\n%s: %s\n  hex  %s\n' "$arrow" "$note" "$hex"
    # shellcheck disable=SC2086 # args holds the inspector's words
    "$inspect" $args "$hex" | sed 's/^/  json /'
done
