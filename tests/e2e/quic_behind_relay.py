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
import time

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u.bind(("127.0.0.1", port))
        return port


def wait_for(path, text, seconds=20):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if text in line:
                        return line.strip()
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return None


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = f"/tmp/quic_behind_relay.{os.getpid()}"
    subprocess.run(["sh", os.path.join(TOOLS, "test-ca.sh"), f"{work}/pki"], check=True,
                   stdout=subprocess.DEVNULL)
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
        public = open(f"{work}/public", encoding="utf-8").read().strip()
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
    print("quic_behind_relay: PASS (a QUIC handshake and an HTTP/3 request to a server behind "
          "the relay, through the public address)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
