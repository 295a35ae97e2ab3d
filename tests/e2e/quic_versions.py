#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-bind-client --quic-version 1 and 2 against masque-proxy: each time the tunnel comes
up and a peer's datagram is echoed through it, and a tap on the path between them sees every
long-header packet, both ways (the Retry, the Initials, the Handshake packets), in the version
asked for: 0x00000001 (RFC 9000 §17.2) or 0x6b3343cf (RFC 9369 §3.1). Then a server that
speaks v1 alone answers the v2 client with Version Negotiation: the client ends at once, with
status 1, and says why. masque-proxy's own Version Negotiation is checked in stateless.py.

usage: quic_versions.py BUILD_DIR    (loopback only; bounded deadlines)
"""
import os
import socket
import subprocess
import sys

from programs import UdpPath, report, start_proxy, stop_all, wait_for, work_with_pki

VERSIONS = {1: 0x00000001, 2: 0x6B3343CF}


class VersionTap(UdpPath):
    """Passes every packet on, and notes the version of each long-header one, per way."""

    def __init__(self, proxy_port):
        super().__init__(proxy_port)
        self.seen = {"up": set(), "down": set()}

    def forward(self, sock, data, to, way):
        if len(data) >= 5 and data[0] & 0x80:
            self.seen[way].add(int.from_bytes(data[1:5], "big"))
        sock.sendto(data, to)


def one_version(bindir, work, port, number, failures):
    """A tunnel in QUIC version `number` through a tap, and a datagram echoed through it."""
    tap = VersionTap(port)
    tap.start()
    out = f"{work}/v{number}.out"
    client = None
    try:
        with open(out, "w", encoding="utf-8") as o:
            client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                       tap.address(), "--authority", "localhost",
                                       "--ca", f"{work}/pki/ca.pem", "--h3", "--echo",
                                       "--quic-version", str(number), "--run-seconds", "30"],
                                      stdin=subprocess.DEVNULL, stdout=o,
                                      stderr=subprocess.STDOUT)
        line = wait_for(out, "public address:")
        if line is None or wait_for(out, "acknowledged") is None:
            failures.append(f"QUIC v{number}: no tunnel")
            return
        host, pport = line.split()[-1].rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.settimeout(10)
            peer.sendto(b"which version?", (host, int(pport)))
            try:
                data, _ = peer.recvfrom(2048)
            except socket.timeout:
                data = None
        if data != b"re: which version?":
            failures.append(f"QUIC v{number}: the echo was {data!r}")
        for way, seen in tap.seen.items():
            if seen != {VERSIONS[number]}:
                failures.append(f"QUIC v{number}: long headers {way} in versions "
                                f"{sorted(hex(v) for v in seen)}")
    finally:
        stop_all(client, tap)


def v1_only(bindir, work, failures):
    """A server of QUIC v1 alone answers the first packet of a --quic-version 2 client with
    Version Negotiation (RFC 9000 §6.1) listing v1: the client (--h3) must give up at once,
    with status 1 and a line that says why (§6.2), not wait for --connect-timeout-ms."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(20)
        client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                   "127.0.0.1:%d" % server.getsockname()[1], "--authority",
                                   "localhost", "--ca", f"{work}/pki/ca.pem", "--h3",
                                   "--quic-version", "2", "--connect-timeout-ms", "60000"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        try:
            first, source = server.recvfrom(2048)
            if int.from_bytes(first[1:5], "big") != VERSIONS[2]:
                failures.append(f"the client began in {first[1:5].hex()}, not QUIC v2")
            # §17.2.1: version 0, the client's Source Connection ID as the Destination one.
            dcid = first[6:6 + first[5]]
            scid = first[7 + first[5]:7 + first[5] + first[6 + first[5]]]
            server.sendto(bytes([0x80]) + bytes(4) + bytes([len(scid)]) + scid +
                          bytes([len(dcid)]) + dcid + VERSIONS[1].to_bytes(4, "big"), source)
            _, err = client.communicate(timeout=30)
            if client.returncode != 1 or "Version Negotiation" not in err:
                failures.append(f"after Version Negotiation the client ended with "
                                f"{client.returncode}: {err.strip()!r}")
        except (socket.timeout, subprocess.TimeoutExpired):
            failures.append("a v2 client and a v1 server: no Initial, or no end within 30 s")
        finally:
            stop_all(client)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("quic_versions")
    failures = []
    proxy = None
    try:
        proxy, port = start_proxy(bindir, work, ["--no-h2"])
        for number in (1, 2):
            one_version(bindir, work, port, number, failures)
        v1_only(bindir, work, failures)
    except RuntimeError as exc:
        failures.append(str(exc))
    finally:
        stop_all(proxy)
    return report("quic_versions", failures,
                  "a tunnel in QUIC v1 and in v2, every long header both ways in the version "
                  "asked for, a datagram echoed through each; a v2 client told by Version "
                  "Negotiation that a server speaks v1 alone ends at once and says so", work,
                  f"{work}/proxy.log")


if __name__ == "__main__":
    sys.exit(main())
