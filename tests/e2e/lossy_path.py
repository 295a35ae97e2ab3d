#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""A Bind tunnel over a bad path: between masque-bind-client and masque-proxy (HTTP/3), a UDP
relay drops 15 % of the packets each way, sends 5 % twice and holds 5 % back behind the next
one (a fixed seed: the same run each time). QUIC recovers the request stream, so the Bind
request, the uncompressed context's ASSIGN/ACK and a compressed context registered mid-way
(--compress-after) all complete; HTTP Datagrams are not retransmitted (RFC 9297 §2: they may be
lost), so a share of a peer's datagrams goes unanswered, none twice; and afterwards the tunnel
still works: a datagram sent until it is answered comes back.

usage: lossy_path.py BUILD_DIR    (loopback only; bounded deadlines)
"""
import os
import random
import select
import socket
import subprocess
import sys
import time

from programs import UdpPath, report, start_proxy, stop_all, wait_for, work_with_pki

DROP, DUPLICATE, HOLD = 0.15, 0.05, 0.05
SENT = 200


class BadPath(UdpPath):
    """Loss, duplicates and reordering both ways."""

    def __init__(self, proxy_port, seed):
        super().__init__(proxy_port)
        self.rnd = random.Random(seed)
        self.held = {}  # the packet held back per direction, sent after the next one

    def forward(self, sock, data, to, way):
        r = self.rnd.random()
        if r < DROP:
            return
        if r < DROP + HOLD and way not in self.held:
            self.held[way] = data
            return
        sock.sendto(data, to)
        if r < DROP + HOLD + DUPLICATE:
            sock.sendto(data, to)
        if way in self.held:
            sock.sendto(self.held.pop(way), to)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("lossy_path")
    failures = []
    proxy = None
    path = None
    client = None
    out = f"{work}/client.out"
    try:
        proxy, port = start_proxy(bindir, work, ["--no-h2"])
        path = BadPath(port, 9298)
        path.start()
        with open(out, "w", encoding="utf-8") as o:
            client = subprocess.Popen(
                [os.path.join(bindir, "masque-bind-client"), "--proxy", path.address(),
                 "--authority", "localhost",
                 "--ca", f"{work}/pki/ca.pem", "--h3", "--echo", "--compress-after", "3",
                 "--connect-timeout-ms", "30000", "--run-seconds", "80"],
                stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.STDOUT)
        if wait_for(out, "uncompressed context 2 acknowledged", 40) is None:
            raise RuntimeError("no tunnel with an acknowledged uncompressed context in 40 s")
        public = wait_for(out, "public address:", 1).split()[-1]
        host, pport = public.rsplit(":", 1)
        target = (host, int(pport))
        answers = {}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            for i in range(SENT):
                peer.sendto(b"n%d" % i, target)
                time.sleep(0.005)  # paced, as a real peer: a loss test, not a flood
                while select.select([peer], [], [], 0)[0]:
                    data = peer.recv(2048)
                    answers[data] = answers.get(data, 0) + 1
            end = time.monotonic() + 5
            while time.monotonic() < end:  # the last answers, bounded
                if select.select([peer], [], [], 0.2)[0]:
                    data = peer.recv(2048)
                    answers[data] = answers.get(data, 0) + 1
            # -10 §3: the ASSIGN and its ACK travel on the request stream, which QUIC repairs.
            if wait_for(out, "compressed context 4 acknowledged", 20) is None:
                failures.append("the compressed context was not acknowledged over the bad path")
            twice = [k for k, v in answers.items() if v > 1]
            if twice:
                failures.append(f"{len(twice)} answers came twice (e.g. {twice[0]!r})")
            if len(answers) < SENT * 0.4:
                failures.append(f"only {len(answers)} of {SENT} datagrams were answered")
            # The tunnel survived: a datagram sent until it is answered comes back.
            peer.settimeout(0.5)
            answered = False
            end = time.monotonic() + 30
            while not answered and time.monotonic() < end:
                peer.sendto(b"still there?", target)
                try:
                    answered = peer.recv(2048) == b"re: still there?"
                except socket.timeout:
                    pass
            if not answered:
                failures.append("the tunnel did not answer after the lossy run")
        if client.poll() is not None:
            failures.append(f"the client exited ({client.returncode}) on the bad path")
        print(f"lossy_path: {len(answers)} of {SENT} datagrams answered")
    except (RuntimeError, OSError, AttributeError) as exc:
        failures.append(str(exc))
    finally:
        stop_all(client, path, proxy)
    return report("lossy_path", failures,
                  "a tunnel over a path with loss, duplicates and reordering sets up, registers "
                  "a context, loses datagrams but never doubles them, and keeps working", work,
                  out)


if __name__ == "__main__":
    sys.exit(main())
