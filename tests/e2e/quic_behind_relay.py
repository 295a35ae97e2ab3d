#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""A QUIC server behind the relay, reached through the public address: the point of Bind.

An inner server (the project's own HTTP/3 binding: a second masque-proxy, serving QUIC on a
local port nobody outside can reach) is exposed with `masque-bind-client --expose` through the
outer proxy. A QUIC client (masque-bind-client) then connects to the public address: a full
QUIC handshake, TLS verified, and an HTTP/3 request (its own extended CONNECT) answered by the
inner server, every packet through the Bind tunnel. The client then gets its own tunnel from
the inner server and a peer's datagram comes back through both. Bounded waits; loopback only.

usage: quic_behind_relay.py BUILD_DIR
"""
import os
import socket
import subprocess
import sys

from programs import free_port, wait_for, work_with_pki


def netns_variant(bindir, work):
    """The node in a network namespace of its own whose only route leads to the proxy host: it
    cannot be reached directly, and becomes reachable through the public address. Returns a
    failure, None on success, or "skipped" when the machine does not allow it (not root, no
    ip(8))."""
    if os.geteuid() != 0 or subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        return "skipped"
    tag = os.getpid() % 100000
    ns, host_if, node_if = f"mqnode{tag}", f"mqh{tag}", f"mqn{tag}"
    setup = [["ip", "netns", "add", ns],
             ["ip", "link", "add", host_if, "type", "veth", "peer", "name", node_if],
             ["ip", "link", "set", node_if, "netns", ns],
             ["ip", "addr", "add", "10.203.0.1/30", "dev", host_if],
             ["ip", "link", "set", host_if, "up"],
             ["ip", "netns", "exec", ns, "ip", "addr", "add", "10.203.0.2/30", "dev", node_if],
             ["ip", "netns", "exec", ns, "ip", "link", "set", node_if, "up"],
             ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    procs = []
    failure = None
    try:
        for cmd in setup:
            if subprocess.run(cmd, capture_output=True).returncode != 0:
                return "skipped"  # no network namespaces here (a container without them)
        with open(f"{work}/ns-tokens", "w", encoding="utf-8") as f:
            f.write("node-token\n")
        pki = ["--cert", f"{work}/pki/localhost.pem", "--key", f"{work}/pki/localhost.key"]
        outer, inner = free_port(), free_port()

        def start(name, args, in_ns=False):
            log = open(f"{work}/ns-{name}.log", "w", encoding="utf-8")
            prefix = ["ip", "netns", "exec", ns] if in_ns else []
            procs.append(subprocess.Popen(prefix + args, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT))
            return f"{work}/ns-{name}.log"

        olog = start("outer", [os.path.join(bindir, "masque-proxy"), "--listen",
                               f"10.203.0.1:{outer}", "--allow", "10.203.0.0/30", "--no-h2",
                               "--token-file", f"{work}/ns-tokens", "--run-seconds", "60"] + pki)
        ilog = start("inner", [os.path.join(bindir, "masque-proxy"), "--listen",
                               f"127.0.0.1:{inner}", "--allow", "127.0.0.0/8", "--no-h2",
                               "--run-seconds", "60"] + pki, in_ns=True)
        if wait_for(olog, "listening on") is None or wait_for(ilog, "listening on") is None:
            raise RuntimeError("netns: the proxies did not start")
        # Unreachable directly: the node's server listens on its own loopback only.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(1.0)
            probe.sendto(b"\xc0" + b"\x00" * 1199, ("10.203.0.2", inner))
            try:
                probe.recvfrom(2048)
                raise RuntimeError("netns: the node's server answered directly")
            except (socket.timeout, ConnectionRefusedError):
                pass
        with open(f"{work}/ns-token", "w", encoding="utf-8") as f:
            f.write("node-token\n")
        start("exposer", [os.path.join(bindir, "masque-bind-client"), "--proxy",
                          f"10.203.0.1:{outer}", "--ca", f"{work}/pki/ca.pem", "--h3",
                          "--token-file", f"{work}/ns-token",
                          "--expose", f"127.0.0.1:{inner}", "--public-address-file",
                          f"{work}/ns-public", "--run-seconds", "50"], in_ns=True)
        if wait_for(f"{work}/ns-public", ":") is None:
            raise RuntimeError("netns: the node's server was not exposed")
        public = open(f"{work}/ns-public", encoding="utf-8").read().split("\n", 1)[0]
        clog = start("client", [os.path.join(bindir, "masque-bind-client"), "--proxy", public,
                                "--authority", "localhost", "--ca", f"{work}/pki/ca.pem",
                                "--h3", "--run-seconds", "40"])
        if wait_for(clog, "public address:") is None:
            raise RuntimeError("netns: no QUIC handshake and HTTP/3 answer through the tunnel")
    except RuntimeError as e:
        failure = str(e)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
    return failure


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("quic_behind_relay")
    pki = ["--cert", f"{work}/pki/localhost.pem", "--key", f"{work}/pki/localhost.key"]
    outer, inner = free_port(), free_port()
    procs = []
    failure = None

    def start(name, args):
        log = open(f"{work}/{name}.log", "w", encoding="utf-8")
        procs.append(subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT))
        return f"{work}/{name}.log"

    try:
        olog = start("outer", [os.path.join(bindir, "masque-proxy"), "--listen",
                               f"127.0.0.1:{outer}", "--allow", "127.0.0.0/8", "--no-h2",
                               "--run-seconds", "60"] + pki)
        ilog = start("inner", [os.path.join(bindir, "masque-proxy"), "--listen",
                               f"127.0.0.1:{inner}", "--allow", "127.0.0.0/8", "--no-h2",
                               "--run-seconds", "60"] + pki)
        if wait_for(olog, "listening on") is None or wait_for(ilog, "listening on") is None:
            raise RuntimeError("the proxies did not start")
        start("exposer", [os.path.join(bindir, "masque-bind-client"), "--proxy",
                          f"127.0.0.1:{outer}", "--ca", f"{work}/pki/ca.pem", "--h3",
                          "--expose", f"127.0.0.1:{inner}", "--public-address-file",
                          f"{work}/public", "--run-seconds", "50"])
        if wait_for(f"{work}/public", ":") is None or \
                wait_for(f"{work}/exposer.log", "acknowledged") is None:
            raise RuntimeError("the inner server was not exposed")
        public = open(f"{work}/public", encoding="utf-8").read().split("\n", 1)[0]
        clog = start("client", [os.path.join(bindir, "masque-bind-client"), "--proxy", public,
                                "--authority", "localhost", "--ca", f"{work}/pki/ca.pem",
                                "--h3", "--echo", "--run-seconds", "40"])
        line = wait_for(clog, "public address:")
        if line is None:
            raise RuntimeError("no QUIC handshake and HTTP/3 answer through the tunnel")
        if wait_for(clog, "acknowledged") is None:
            raise RuntimeError("the inner tunnel's context was not acknowledged")
        host, port = line.split()[-1].rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.settimeout(10)
            peer.sendto(b"through two relays", (host, int(port)))
            data, _ = peer.recvfrom(2048)
        if data != b"re: through two relays":
            raise RuntimeError(f"the peer got {data!r}")
        if wait_for(f"{work}/exposer.log", "forwarded to the service", 1) is None:
            raise RuntimeError("the exposer did not forward the QUIC client")
    except (RuntimeError, socket.timeout) as e:
        failure = str(e)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        logs = ""
        for name in ("outer", "inner", "exposer", "client"):
            path = f"{work}/{name}.log"
            if os.path.exists(path):
                logs += f"--- {name}\n" + open(path, encoding="utf-8").read()
        subprocess.run(["rm", "-rf", work], check=False)
    if failure:
        print("quic_behind_relay: FAIL: " + failure)
        print(logs)
        return 1
    work = work_with_pki("quic_behind_relay.ns")
    try:
        ns = netns_variant(bindir, work)
    finally:
        logs = ""
        for name in ("outer", "inner", "exposer", "client"):
            path = f"{work}/ns-{name}.log"
            if os.path.exists(path):
                logs += f"--- {name}\n" + open(path, encoding="utf-8").read()
        subprocess.run(["rm", "-rf", work], check=False)
    if ns not in (None, "skipped"):
        print("quic_behind_relay: FAIL: " + ns)
        print(logs)
        return 1
    print("quic_behind_relay: PASS (a QUIC handshake and an HTTP/3 request to a server behind "
          "the relay, through the public address; on loopback, and "
          + ("in a network namespace whose only route is to the proxy)" if ns is None
             else "not in a network namespace: this machine does not allow one)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
