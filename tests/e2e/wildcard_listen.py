#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-proxy --listen 0.0.0.0:PORT or [::]:PORT (every address of the host, as an operator
starts it): each Bind request is advertised in Proxy-Public-Address with an address peers can
send to, the one the client reached the proxy at (-10 §7), never the wildcard the relay socket
is bound to; a peer's datagram to it comes back through the tunnel. A client that reaches the
host at another of its addresses than the one the kernel would answer from (127.0.0.2 on
loopback, as a secondary address of a multihomed host) gets its QUIC packets from that address
(IP_PKTINFO), or it would drop them and never complete a handshake. Over HTTP/3, and over HTTP/2
where the build has it (MASQUE_E2E_H2=1); clients over IPv4 and over IPv6 to the [::] listener
(a dual-stack socket). TLS verification stays on; every wait is bounded.

usage: wildcard_listen.py BUILD_DIR
"""
import os
import socket
import sys

from programs import report, tunnel, work_with_pki


def ipv6_loopback():
    """Whether ::1 can be bound here (a container may have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("wildcard_listen")
    transports = [["--h3"]] + ([["--h2"]] if os.environ.get("MASQUE_E2E_H2") == "1" else [])
    cases = [("0.0.0.0", "127.0.0.1"), ("0.0.0.0", "127.0.0.2"), ("[::]", "127.0.0.1"),
             ("[::]", "127.0.0.2")]
    if ipv6_loopback():
        cases.append(("[::]", "[::1]"))
    failures = []
    for listen, connect in cases:
        for transport in transports:
            name = f"{listen}{transport[0]}from{connect}".replace(":", "_")
            failure, _ = tunnel(bindir, work, name, ["--allow", "::1/128"], transport,
                                listen=listen, connect=connect)
            if failure is None:
                with open(f"{work}/{name}.out", encoding="utf-8") as f:
                    public = [line.split()[-1] for line in f if line.startswith("public address:")]
                with open(f"{work}/{name}.proxy", encoding="utf-8") as f:
                    text = f.read()  # the proxy's log names the address it gave
                logged = bool(public) and f") at {public[0]}\n" in text
                if not public or public[0].rsplit(":", 1)[0] != connect:
                    failure = f"advertised {public}, not the address the client reached"
                elif not logged:
                    failure = f"the proxy's log does not name the address {public[0]}: {text!r}"
            if failure:
                failures.append(f"--listen {listen}:PORT, a client {transport[0]} to {connect}: "
                                f"{failure}")
    return report("wildcard_listen", failures,
                  "a wildcard listener answers each client from, and advertises, the address it "
                  f"reached, and peers reach the tunnel there ({len(cases)} cases x "
                  f"{len(transports)} transports)", work)


if __name__ == "__main__":
    sys.exit(main())
