#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-bind-client --quic-version 1 and 2 against masque-proxy: each time the tunnel comes
up and a peer's datagram is echoed through it, and a tap on the path between them sees every
long-header packet, both ways (the Retry, the Initials, the Handshake packets), in the version
asked for: 0x00000001 (RFC 9000 §17.2) or 0x6b3343cf (RFC 9369 §3.1). Then a server that
speaks v1 alone answers the v2 client with Version Negotiation: the client begins again in v1
(RFC 9368 §2.1); told of no version it speaks, it ends at once, with status 1, and says why.
And a forged Version Negotiation between the v2 client and masque-proxy is found out (RFC 9368
§4): the client ends rather than go on in v1. masque-proxy's own Version Negotiation is checked
in stateless.py.

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


def version_negotiation(initial, versions):
    """The Version Negotiation that answers a client's Initial (RFC 9000 §17.2.1): version 0,
    the client's Source Connection ID as the Destination one and the other way round."""
    dcid = initial[6:6 + initial[5]]
    scid = initial[7 + initial[5]:7 + initial[5] + initial[6 + initial[5]]]
    return (bytes([0x80]) + bytes(4) + bytes([len(scid)]) + scid + bytes([len(dcid)]) + dcid +
            b"".join(v.to_bytes(4, "big") for v in versions))


def negotiated(bindir, work, versions, failures):
    """A --quic-version 2 client (--h3) against a fake server that answers its first Initial
    with Version Negotiation listing `versions`; returns the client's process (still running or
    not) and the first packet it sent after that answer, or None within 5 s."""
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
        except socket.timeout:
            failures.append("a v2 client sent no Initial within 20 s")
            return client, None, None
        if int.from_bytes(first[1:5], "big") != VERSIONS[2]:
            failures.append(f"the client began in {first[1:5].hex()}, not QUIC v2")
        server.sendto(version_negotiation(first, versions), source)
        server.settimeout(5)
        try:
            after, _ = server.recvfrom(2048)
            while int.from_bytes(after[1:5], "big") == VERSIONS[2]:  # v2 resent, late
                after, _ = server.recvfrom(2048)
        except socket.timeout:
            after = None
        return client, first, after


def v1_only(bindir, work, failures):
    """A server of QUIC v1 alone answers the first packet of a --quic-version 2 client with
    Version Negotiation (RFC 9000 §6.1) listing v1: the client begins again in v1 (RFC 9368
    §2.1), with a new Initial and new connection IDs (e2e_h3_interop's v1-only quinn gives the
    whole handshake after it). A Version Negotiation that lists only versions the client does
    not speak (here a reserved one, §6.3) ends it at once, with status 1 and a line that says
    why (§6.2), not after --connect-timeout-ms."""
    client, first, after = negotiated(bindir, work, [VERSIONS[1]], failures)
    try:
        if first is not None and (after is None or after[0] & 0x80 == 0 or
                                  int.from_bytes(after[1:5], "big") != VERSIONS[1]):
            failures.append("after Version Negotiation listing v1 the client sent "
                            f"{after[:5].hex() if after else 'nothing'}, not a v1 Initial")
        elif first is not None and after[6:6 + after[5]] == first[6:6 + first[5]]:
            failures.append("the new attempt kept the first one's connection ID")
    finally:
        stop_all(client)
    client, first, after = negotiated(bindir, work, [0x1A2A3A4A], failures)
    try:
        _, err = client.communicate(timeout=30)
        if client.returncode != 1 or "does not speak this QUIC version" not in err:
            failures.append(f"after Version Negotiation listing no version it speaks the client "
                            f"ended with {client.returncode}: {err.strip()!r}")
    except subprocess.TimeoutExpired:
        failures.append("a v2 client told by Version Negotiation of no version it speaks did "
                        "not end within 30 s")
    finally:
        stop_all(client)


class ForgedNegotiation(UdpPath):
    """An attacker on the path: it answers the client's first Initial itself with a Version
    Negotiation that lists v1 alone, and passes everything else on."""

    def __init__(self, proxy_port):
        super().__init__(proxy_port)
        self.forged = False

    def forward(self, sock, data, to, way):
        if way == "up" and not self.forged and len(data) >= 1200 and data[0] & 0x80:
            self.forged = True  # run() noted the client's address before this call
            self.front.sendto(version_negotiation(data, [VERSIONS[1]]), self.client)
            return
        sock.sendto(data, to)


def forged_downgrade(bindir, work, port, failures):
    """RFC 9368 §4: a --quic-version 2 client of masque-proxy (which speaks v2) that meets a
    forged Version Negotiation listing v1 alone begins again in v1, with v2 as its Original
    Version; masque-proxy's version_information lists v2 among its versions, so the client sees
    it would have stayed in v2 and ends with VERSION_NEGOTIATION_ERROR instead of going on in
    a version it did not choose: no tunnel, status 1, and a line that says why."""
    tap = ForgedNegotiation(port)
    tap.start()
    client = None
    try:
        client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                   tap.address(), "--authority", "localhost", "--ca",
                                   f"{work}/pki/ca.pem", "--h3", "--quic-version", "2",
                                   "--connect-timeout-ms", "60000"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        out, err = client.communicate(timeout=30)
        if not tap.forged:
            failures.append("the forgery never went out")
        if client.returncode != 1 or "public address" in out or "a downgrade" not in err:
            failures.append(f"a forged Version Negotiation: the client ended with "
                            f"{client.returncode}, output {out.strip()!r}, {err.strip()!r}")
    except subprocess.TimeoutExpired:
        failures.append("a forged Version Negotiation: the client did not end within 30 s")
    finally:
        stop_all(client, tap)


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
        forged_downgrade(bindir, work, port, failures)
    except RuntimeError as exc:
        failures.append(str(exc))
    finally:
        stop_all(proxy)
    return report("quic_versions", failures,
                  "a tunnel in QUIC v1 and in v2, every long header both ways in the version "
                  "asked for, a datagram echoed through each; a v2 client told by Version "
                  "Negotiation that a server speaks v1 alone begins again in v1, and one told "
                  "of no version it speaks ends at once and says so; a forged Version "
                  "Negotiation is found out and refused", work,
                  f"{work}/proxy.log")


if __name__ == "__main__":
    sys.exit(main())
