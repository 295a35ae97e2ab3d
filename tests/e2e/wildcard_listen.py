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

Then, in a network namespace whose host has a global address of each IP version, a [::]
listener advertises a tuple of each version (-10 §7 allows several): the client's version first
(the address it reached), then this host's global address of the other; peers of both versions
reach the tunnel, each at its own tuple, and get their answers from it.

usage: wildcard_listen.py BUILD_DIR
"""
import os
import socket
import subprocess
import sys

from programs import report, tunnel, work_with_pki

# The namespace's global addresses: outside every special-purpose range (a special-purpose
# address, private or ULA say, is never advertised for the other version), and only there.
GLOBAL4 = "11.0.0.5"
GLOBAL6 = "2a00::e2e:5"


def ipv6_loopback():
    """Whether ::1 can be bound here (a container may have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def transports_built():
    """HTTP/3, and HTTP/2 where the build has it."""
    return [["--h3"]] + ([["--h2"]] if os.environ.get("MASQUE_E2E_H2") == "1" else [])


def each_version_advertised(bindir, work, connect, expected, transport):
    """Inside the namespace: a [::] proxy and a client --echo to it at `connect`; the client must
    be given exactly the `expected` tuples (IP literals, at one port), and a peer of each
    version, on loopback, gets its datagram echoed from the tuple it sent to. A failure, or
    None."""
    name = f"both{transport[0]}from{connect}".replace(":", "_")
    failure, _ = tunnel(bindir, work, name, ["--allow", "::1/128"], transport, listen="[::]",
                        connect=connect, every_tuple=True)
    if failure is not None:
        return failure
    with open(f"{work}/{name}.out", encoding="utf-8") as f:
        public = [line.split()[-1] for line in f if line.startswith("public address:")]
    pport = public[0].rsplit(":", 1)[1] if public else "?"
    if public != [f"{ip}:{pport}" for ip in expected]:
        return f"{name}: advertised {public}, not {expected} at one port"
    with open(f"{work}/{name}.proxy", encoding="utf-8") as f:
        logged = f") at {' and '.join(public)}\n" in f.read()
    if not logged:
        return f"{name}: the proxy's log does not name {public}"
    return None


def in_namespace(bindir, work):
    """The namespace's half of both_versions(): exits 0, or 1 with the failures printed."""
    failures = []
    for connect, expected in (("127.0.0.1", ["127.0.0.1", f"[{GLOBAL6}]"]),
                              ("[::1]", ["[::1]", GLOBAL4])):
        for transport in transports_built():
            failure = each_version_advertised(bindir, work, connect, expected, transport)
            if failure:
                failures.append(failure)
    print("\n".join(failures))
    return 1 if failures else 0


def both_versions(bindir, work):
    """A network namespace with the global addresses GLOBAL4 and GLOBAL6 on a veth and default
    routes through it (nothing leaves: every peer is on loopback), where in_namespace() runs.
    A failure, None, or "skipped" where the machine does not allow it (not root, no ip(8), no
    veth)."""
    if os.geteuid() != 0 or subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        return "skipped"
    ns = f"mqboth{os.getpid() % 100000}"
    try:
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
            return "skipped"
        inside = ["ip", "netns", "exec", ns]
        if subprocess.run(inside + ["ip", "link", "add", "v0", "type", "veth", "peer", "name",
                                    "v1"], capture_output=True).returncode != 0:
            return "skipped"
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "v1", "up"],
                    ["ip", "link", "set", "v0", "up"],
                    ["ip", "addr", "add", f"{GLOBAL4}/24", "dev", "v0"],
                    ["ip", "addr", "add", f"{GLOBAL6}/64", "dev", "v0", "nodad"],
                    ["ip", "route", "add", "default", "dev", "v0"],
                    ["ip", "-6", "route", "add", "default", "dev", "v0"]):
            subprocess.run(inside + cmd, check=True, capture_output=True)
        r = subprocess.run(inside + [sys.executable, os.path.abspath(__file__), "--in-namespace",
                                     bindir, work], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            return f"a [::] listener on a host with both versions: {(r.stdout + r.stderr).strip()}"
        return None
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def main():
    if sys.argv[1] == "--in-namespace":
        return in_namespace(sys.argv[2], sys.argv[3])
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("wildcard_listen")
    transports = transports_built()
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
                logged = bool(public) and f") at {' and '.join(public)}\n" in text
                if not public or public[0].rsplit(":", 1)[0] != connect:
                    failure = f"advertised {public}, not the address the client reached"
                elif not logged:
                    failure = f"the proxy's log does not name the address {public[0]}: {text!r}"
            if failure:
                failures.append(f"--listen {listen}:PORT, a client {transport[0]} to {connect}: "
                                f"{failure}")
    both = both_versions(bindir, work)
    if both not in (None, "skipped"):
        failures.append(both)
    return report("wildcard_listen", failures,
                  "a wildcard listener answers each client from, and advertises, the address it "
                  f"reached, and peers reach the tunnel there ({len(cases)} cases x "
                  f"{len(transports)} transports); a [::] listener on a host with global "
                  "addresses of both versions advertises one of each, and peers of both reach "
                  "the tunnel"
                  + (" (skipped: needs root, ip(8) and veth)" if both == "skipped" else ""), work)


if __name__ == "__main__":
    sys.exit(main())
