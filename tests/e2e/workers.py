#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-proxy --workers 2: two processes serve one port (SO_REUSEPORT), and the kernel hands
each QUIC packet to the worker whose connection it is, by the first byte of the Destination
Connection ID that worker issued (masque_quic_steer_by_connection_id()).

1. masque-bind-client tunnels over HTTP/3, each through a UDP path of its own, until both
   workers serve some (the first packet of a client goes where the kernel's hash puts it), and
   one over HTTP/2 where the build has it (MASQUE_E2E_H2=1; the TCP listeners share the port
   too): a datagram from a peer comes back through each.
2. Every HTTP/3 path is rebound (RFC 9000 §9.3: a NAT gave the client another port), REBINDS
   times: the client's next packets come from another address, which the kernel's hash would
   give to either worker; each tunnel still carries a datagram both ways after each, so each
   packet went to the worker that has the connection (without the steering, a packet at the
   other worker gets a Stateless Reset that ends the connection: of LEAST tunnels rebound
   twice, some would end).
3. SIGTERM to masque-proxy ends both workers and it, with status 0; masque-proxy killed
   (SIGKILL) takes its workers with it: the port is free again.
4. --quota-requests 1 with one token counts across the workers (masque_quic_quota_share):
   while one client of the token holds its request at one worker, the token's other clients
   are refused (429) by both, the other worker among them (without the share, that one would
   accept); once the holder has gone, the next client of the token binds. A rate quota is
   set too: the workers share it (masque-proxy refused it with --workers before). SIGUSR1 has
   masque-proxy say what the share holds: the token's one place.

usage: workers.py BUILD_DIR    (loopback only; bounded deadlines)
"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

from programs import UdpPath, report, start_proxy, stop_all, wait_for, work_with_pki

WORKERS = 2
LEAST = 8  # HTTP/3 tunnels at least
REBINDS = 2  # times each path is rebound
H2 = os.environ.get("MASQUE_E2E_H2") == "1"  # the build has the HTTP/2 binding
MOST = 16  # and at most, until both workers serve one


class RebindPath(UdpPath):
    """A path whose side toward the proxy can move to another port (a NAT rebinding); what
    the proxy still sends to the old port reaches the client too."""

    def __init__(self, proxy_port):
        super().__init__(proxy_port)
        self.olds = []
        self.moved = None  # a new socket, taken by the path's thread at its next turn

    def rebind(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        self.moved = sock

    def run(self):
        while not self.stop:
            if self.moved is not None:
                self.olds.append(self.back)
                self.back, self.moved = self.moved, None
            downs = [self.back] + self.olds
            ready, _, _ = select.select([self.front] + downs, [], [], 0.1)
            if self.front in ready:
                data, self.client = self.front.recvfrom(65536)
                self.back.sendto(data, self.proxy)
            for sock in downs:
                if sock in ready:
                    data, _ = sock.recvfrom(65536)
                    if self.client is not None:
                        self.front.sendto(data, self.client)


def start_client(bindir, work, name, port, extra=()):
    """masque-bind-client --echo toward port: (process, its output file)."""
    out = f"{work}/{name}.out"
    with open(out, "w", encoding="utf-8") as o, \
            open(f"{work}/{name}.err", "w", encoding="utf-8") as e:
        client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                   f"127.0.0.1:{port}", "--authority", "localhost", "--ca",
                                   f"{work}/pki/ca.pem", "--echo", "--run-seconds", "60"]
                                  + list(extra), stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    return client, out


def public_address(out):
    line = wait_for(out, "public address:", 20)
    if line is None or wait_for(out, "acknowledged", 20) is None:
        return None
    host, port = line.split()[-1].rsplit(":", 1)
    return host, int(port)


def echoed(public, text):
    """Whether a datagram sent to the public address comes back echoed: sent again each second
    for 15 s (one may be lost while a path is validated)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.settimeout(1)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            peer.sendto(text, public)
            try:
                while True:
                    data, _ = peer.recvfrom(2048)
                    if data == b"re: " + text:
                        return True
            except socket.timeout:
                continue
    return False


def served_by(log):
    """How many Bind requests each worker accepted, from its log lines."""
    counts = [0] * WORKERS
    with open(log, encoding="utf-8") as f:
        for line in f:
            found = re.match(r"masque-proxy worker (\d+): accepted a Bind request", line)
            if found:
                counts[int(found.group(1))] += 1
    return counts


def said(path, text):
    """Whether the file at path holds text now."""
    with open(path, encoding="utf-8") as f:
        return text in f.read()


def shared_quota(bindir, work, failures):
    """Part 4: one token, --quota-requests 1 (and a rate quota), two workers."""
    tokens = f"{work}/tokens"
    with open(tokens, "w", encoding="utf-8") as f:
        f.write("one-token\n")
    with open(f"{work}/token", "w", encoding="utf-8") as f:
        f.write("one-token\n")
    log = f"{work}/quota.log"
    token = ["--token-file", f"{work}/token"]
    proxy, port = start_proxy(bindir, work, ["--workers", str(WORKERS), "--token-file", tokens,
                                             "--quota-requests", "1",
                                             "--quota-datagrams", "1000"], log=log)
    clients = []
    try:
        if wait_for(log, "worker 1: listening on", 20) is None:
            raise RuntimeError("part 4: the workers did not start")
        holder, out = start_client(bindir, work, "holder", port, token)
        clients.append(holder)
        if public_address(out) is None:
            raise RuntimeError("part 4: no tunnel for the token's first client")
        held_by = served_by(log).index(1)
        proxy.send_signal(signal.SIGUSR1)  # the parent says what the share holds
        if wait_for(log, "quota share: 1 of 1024 places taken (0 by", 20) is None:
            failures.append("part 4: SIGUSR1 did not say the share holds the token's place")
        other_refused = False
        for i in range(16):  # each goes to a worker by the kernel's hash: one in two the other
            client, out = start_client(bindir, work, f"second{i}", port, token)
            clients.append(client)
            end = time.monotonic() + 30  # refused (it ends), or bound (it says so)
            while (client.poll() is None and not said(out, "public address:")
                   and time.monotonic() < end):
                select.select([], [], [], 0.05)
            if client.poll() is None and not said(out, "public address:"):
                failures.append(f"part 4: client {i} of the token neither bound nor ended "
                                "within 30 s")
                break
            if said(out, "public address:"):
                failures.append(f"part 4: a second client of the token bound (the quota was "
                                f"not shared): Bind requests per worker {served_by(log)}")
                break
            with open(log, encoding="utf-8") as f:
                other_refused = any(
                    re.match(rf"masque-proxy worker {1 - held_by}: refused .*\(429\)", line)
                    for line in f)
            if other_refused:
                break
        if not other_refused and not failures:
            failures.append("part 4: in 16 clients, none met the worker without the holder")
        holder.terminate()  # SIGTERM: it closes its tunnel in order, and its request ends
        try:
            holder.wait(timeout=20)
        except subprocess.TimeoutExpired:
            failures.append("part 4: the holder still runs 20 s after SIGTERM")
        again, out = start_client(bindir, work, "again", port, token)
        clients.append(again)
        if public_address(out) is None:
            failures.append("part 4: once the holder had gone, the token's next client did not "
                            "bind (its request was not given back)")
    finally:
        stop_all(*clients)
        stop_all(proxy)


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("workers")
    log = f"{work}/proxy.log"
    failures = []
    proxy = None
    paths = []
    clients = []
    counts = []
    try:
        proxy, port = start_proxy(bindir, work, ["--workers", str(WORKERS)])
        end = time.monotonic() + 20
        while time.monotonic() < end:
            with open(log, encoding="utf-8") as f:
                if sum("listening on" in line for line in f) == WORKERS:
                    break
            select.select([], [], [], 0.1)
        publics = []
        while len(paths) < MOST and (len(paths) < LEAST or 0 in served_by(log)):
            path = RebindPath(port)
            path.start()
            paths.append(path)
            client, out = start_client(bindir, work, f"client{len(paths)}",
                                       path.front.getsockname()[1])
            clients.append(client)
            public = public_address(out)
            if public is None:
                raise RuntimeError(f"client {len(paths)}: no tunnel")
            publics.append(public)
        counts = served_by(log)
        if 0 in counts:
            failures.append(f"{len(paths)} clients, and a worker served none: {counts}")
        if H2:
            h2_client, h2_out = start_client(bindir, work, "client-h2", port, ["--h2"])
            clients.append(h2_client)
            h2_public = public_address(h2_out)
            if h2_public is None or not echoed(h2_public, b"over HTTP/2"):
                failures.append("no tunnel over HTTP/2 through the workers' TCP listeners")
        for i, public in enumerate(publics):
            if not echoed(public, f"before {i}".encode()):
                failures.append(f"tunnel {i}: no echo before the rebinding")
        for n in range(REBINDS):
            for path in paths:
                path.rebind()
            for i, public in enumerate(publics):
                if not echoed(public, f"after {n} {i}".encode()):
                    failures.append(f"tunnel {i}: no echo after its path was rebound "
                                    f"({n + 1} times)")
        stop_all(*clients)
        proxy.send_signal(signal.SIGTERM)
        try:
            if proxy.wait(timeout=20) != 0:
                failures.append(f"masque-proxy ended with {proxy.returncode} after SIGTERM")
        except subprocess.TimeoutExpired:
            failures.append("masque-proxy did not end within 20 s of SIGTERM")
        proxy, port = start_proxy(bindir, work, ["--workers", str(WORKERS)],
                                  log=f"{work}/proxy2.log")
        if wait_for(f"{work}/proxy2.log", "worker 1: listening on", 20) is None:
            failures.append("the second masque-proxy --workers 2 did not start its workers")
        proxy.kill()
        proxy.wait()
        end = time.monotonic() + 20
        while not port_free(port) and time.monotonic() < end:
            select.select([], [], [], 0.1)
        if not port_free(port):
            failures.append("masque-proxy killed, its workers still hold the port after 20 s")
        shared_quota(bindir, work, failures)
    except RuntimeError as exc:
        failures.append(str(exc))
    finally:
        stop_all(*clients)
        stop_all(proxy, *paths)
    over_h2 = " and one over HTTP/2" if H2 else ""
    return report("workers", failures,
                  f"masque-proxy --workers {WORKERS}: {len(paths)} HTTP/3 tunnels served by "
                  f"both workers ({counts} Bind requests each){over_h2}, every one "
                  f"carrying datagrams before and after its client's path was rebound {REBINDS} "
                  "times; SIGTERM ends it with status 0, and killed it takes its "
                  "workers with it; one token's quota of requests holds across both workers",
                  work, log)


if __name__ == "__main__":
    sys.exit(main())
