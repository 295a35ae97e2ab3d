#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""What a tunnel carries on a path with a round trip, over HTTP/2 (where flow control
limits it) and HTTP/3 (QUIC DATAGRAM frames, where congestion control does): masque-proxy and
masque-bind-client --h2 or --h3, --expose, with a relay between them that holds every byte
(TCP) or datagram (UDP) for half the round trip each way (a path of that delay, no netem
needed; with --path-mbit, of that bandwidth too, a bottleneck), and UDP offered at a fixed rate
through the tunnel, each direction in turn:
  down: a peer sends to the public address; the exposed service counts what arrives;
  up:   the service sends to the peer (after the peer's first datagram); the peer counts.
Prints what arrived, in Mbit/s, and the datagrams' one-way delay. Not a test.

usage: tools/delay-bench.py BUILD_DIR [--transport h2,h3] [--rtt-ms 10,50,100]
                            [--rate-mbit 150] [--seconds 4] [--path-mbit M] [--size 1200]
(a round trip of -1: no relay, the client connects to the proxy itself)
"""
import argparse
import asyncio
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "e2e"))
from programs import start_proxy, wait_for, work_with_pki  # noqa: E402

SIZE = 1200  # bytes of UDP payload a datagram (--size)


class DelayRelay:
    """TCP at 127.0.0.1:port, carried to 127.0.0.1:target, every byte delayed by `delay` s each
    way, in order, and at most `bps` bits a second each way (0: no limit): what exceeds the
    rate waits in the sender's socket buffers, as at a bottleneck."""

    def __init__(self, target, delay, bps):
        self.target, self.delay, self.bps = target, delay, bps
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket()
        self.small_buffer(self.sock)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def small_buffer(self, sock):
        """With a rate: the bottleneck's own buffer, 64 KiB each way (the kernel doubles it)."""
        if self.bps:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)

    async def pump(self, reader, writer):
        queue = asyncio.Queue()

        async def send():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(send())
        free_at = self.loop.time()
        try:
            while True:
                if self.bps:
                    wait = free_at - self.loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    free_at = max(free_at, self.loop.time())
                data = await reader.read(16384 if self.bps else 1 << 16)
                if self.bps:
                    free_at += len(data) * 8 / self.bps
                await queue.put((self.loop.time() + self.delay, data or None))
                if not data:
                    break
        except ConnectionError:
            await queue.put((0, None))
        await sender

    async def serve(self, reader, writer):
        try:
            up = socket.socket()
            self.small_buffer(up)
            up.setblocking(False)
            await self.loop.sock_connect(up, ("127.0.0.1", self.target))
            up_r, up_w = await asyncio.open_connection(sock=up)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self.pump(reader, up_w), self.pump(up_r, writer),
                             return_exceptions=True)

    def run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self.serve, sock=self.sock))
        self.loop.run_until_complete(server.serve_forever())


class UdpDelayRelay:
    """UDP at 127.0.0.1:port, carried to 127.0.0.1:target for the first address that sends to
    it (a QUIC client; the proxy sees the relay's address, as behind a NAT), every datagram
    delayed by `delay` s each way, and at most `bps` bits a second each way (0: no limit),
    with 64 KiB of queue at that rate, beyond which datagrams are dropped, as at a bottleneck."""

    QUEUE = 1 << 16

    def __init__(self, target, delay, bps):
        self.target, self.delay, self.bps = target, delay, bps
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.connect(("127.0.0.1", target))
        for sk in (self.sock, self.up):
            sk.setblocking(False)
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.client = None
        self.free_at = {self.sock: 0.0, self.up: 0.0}  # when each way's link is free again

    def forward(self, from_sock, data, send):
        now = self.loop.time()
        leave = now
        if self.bps:
            start = max(now, self.free_at[from_sock])
            if (start - now) * self.bps / 8 > self.QUEUE:
                return  # the bottleneck's queue is full
            leave = self.free_at[from_sock] = start + len(data) * 8 / self.bps
        self.loop.call_at(leave + self.delay, send, data)

    def to_proxy(self, data):
        try:
            self.up.send(data)
        except OSError:
            pass

    def to_client(self, data):
        try:
            self.sock.sendto(data, self.client)
        except OSError:
            pass

    def from_client(self):
        while True:
            try:
                data, src = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            if self.client is None:
                self.client = src
            if src == self.client:
                self.forward(self.sock, data, self.to_proxy)

    def from_proxy(self):
        while True:
            try:
                data = self.up.recv(65536)
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                return
            if self.client is not None:
                self.forward(self.up, data, self.to_client)

    def run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.add_reader(self.sock, self.from_client)
        self.loop.add_reader(self.up, self.from_proxy)
        self.loop.run_forever()


def blast(sock, dest, rate_bps, seconds):
    """SIZE-byte datagrams to dest at rate_bps for seconds (paced each millisecond), each
    stamped with the time it was sent."""
    pad = b"x" * (SIZE - 8)
    per_s = rate_bps / 8 / SIZE
    start = time.monotonic()
    sent = 0
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            return sent
        due = int(now * per_s)
        while sent < due:
            try:
                sock.sendto(struct.pack("!d", time.monotonic()) + pad, dest)
            except BlockingIOError:
                pass
            sent += 1
        time.sleep(0.001)


def count(sock, until):
    """Bytes received on sock until the monotonic time `until`, and the one-way delay of each
    stamped datagram, in seconds."""
    got = 0
    delays = []
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        got += len(data)
        if len(data) == SIZE:
            delays.append(time.monotonic() - struct.unpack("!d", data[:8])[0])
    return got, sorted(delays)


def measure(bindir, work, port, transport, rtt_ms, path_mbit, rate_bps, seconds):
    relay = None
    relay_port = port
    if rtt_ms >= 0:  # in a process of its own, so that the interpreter's lock is its alone
        relay = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--relay",
                                  transport, str(port), str(rtt_ms), str(path_mbit)],
                                 stdout=subprocess.PIPE, text=True)
        relay_port = int(relay.stdout.readline())
    service = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    service.bind(("127.0.0.1", 0))
    service.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    log = f"{work}/client.{transport}.{rtt_ms}"
    public_file = f"{log}.public"
    out = open(log, "w", encoding="utf-8")
    client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), f"--{transport}",
                               "--proxy",
                               f"127.0.0.1:{relay_port}", "--authority", "localhost",
                               "--ca", f"{work}/pki/ca.pem",
                               "--expose", f"127.0.0.1:{service.getsockname()[1]}",
                               "--public-address-file", public_file,
                               "--run-seconds", str(int(4 * seconds + 30))],
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        if wait_for(log, "acknowledged", 30) is None:
            raise RuntimeError(f"the tunnel did not come up (see {log})")
        host, pport = open(public_file, encoding="utf-8").read().split("\n", 1)[0].rsplit(":", 1)
        public = (host, int(pport))
        # The first datagram sets up the peer's socket in the client: wait for it.
        peer.sendto(b"hello", public)
        service.settimeout(10)
        _, local = service.recvfrom(65536)
        # down: peer -> proxy -> (HTTP/2 DATA or QUIC to the client) -> service
        results = []
        for name, src, dst, sink in (("down", peer, public, service),
                                     ("up", service, local, peer)):
            counter = {}
            end = time.monotonic() + seconds + 1 + rtt_ms / 1000 * 4
            t = threading.Thread(target=lambda c=counter, s=sink, e=end: c.update(got=count(s, e)))
            t.start()
            sent = blast(src, dst, rate_bps, seconds)
            t.join()
            got, delays = counter["got"]
            results.append((name, sent * SIZE * 8 / seconds / 1e6, got * 8 / seconds / 1e6,
                            delays))
        return results
    finally:
        for p in (client, relay):
            if p is not None:
                p.kill()
                p.wait()
        out.close()
        service.close()
        peer.close()


def main():
    global SIZE
    if len(sys.argv) == 6 and sys.argv[1] == "--relay":  # the relay's own process
        kind = DelayRelay if sys.argv[2] == "h2" else UdpDelayRelay
        relay = kind(int(sys.argv[3]), int(sys.argv[4]) / 2000, float(sys.argv[5]) * 1e6)
        print(relay.port, flush=True)
        relay.run()
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rtt-ms", default="10,50,100")
    ap.add_argument("--rate-mbit", type=float, default=150)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--transport", default="h2,h3")
    ap.add_argument("--size", type=int, default=SIZE, help="bytes of UDP payload a datagram")
    ap.add_argument("--path-mbit", type=float, default=0,
                    help="the path's bandwidth each way (0: no limit but the machine's)")
    a = ap.parse_args()
    SIZE = max(a.size, 8)  # the send time stamp
    bindir = os.path.join(a.build, "examples")
    work = work_with_pki("delay-bench")
    proxy, port = start_proxy(bindir, work, ["--run-seconds", "3600"])
    names = {"h2": "HTTP/2", "h3": "HTTP/3"}
    try:
        for transport in a.transport.split(","):
            for rtt in (int(x) for x in a.rtt_ms.split(",")):
                for name, offered, got, delays in measure(bindir, work, port, transport, rtt,
                                                          a.path_mbit, a.rate_mbit * 1e6,
                                                          a.seconds):
                    p50 = delays[len(delays) // 2] * 1000 if delays else float("nan")
                    p90 = delays[len(delays) * 9 // 10] * 1000 if delays else float("nan")
                    print(f"{names[transport]}, round trip {rtt} ms, path "
                          f"{a.path_mbit or 'unlimited'} Mbit/s, {name}: offered "
                          f"{offered:.1f} Mbit/s, arrived {got:.1f} Mbit/s ({SIZE}-byte "
                          f"datagrams), one-way delay p50 {p50:.1f} ms, p90 {p90:.1f} ms",
                          flush=True)
    finally:
        proxy.kill()
        proxy.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
