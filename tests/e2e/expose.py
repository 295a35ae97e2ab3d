#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Expose mode: masque-bind-client --expose makes a local UDP service reachable at the proxy's
public address. Three remote peers talk to one local echo service at once; each gets only its
own replies, and the service sees three distinct sources (one local socket per peer). A peer
outside --allow is refused. The service goes away and comes back: the client says once that it
refuses datagrams, does not spin meanwhile (a connected UDP socket holds the ICMP error, and
poll() reports it until it is read), and carries the next datagram once the service is back.
A second exposing client whose stdout (its log) lost its reader goes on relaying; a third, out
of descriptors, refuses a new peer and says why.
TLS verification stays on (a throw-away CA); every wait is bounded.

usage: expose.py BUILD_DIR
"""
import os
import resource
import socket
import subprocess
import sys
import time

from programs import Echo, free_port, report, wait_for, work_with_pki


def cpu_seconds(pid):
    """User and system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_restart(work, client, echo, peer, public):
    """The local service stops (ICMP port unreachable for what the client forwards), then
    listens again at its port."""
    failures = []
    service_port = echo.sock.getsockname()[1]
    echo.stop = True
    echo.join()
    echo.sock.close()
    peer.sendto(b"anyone there?", public)
    if wait_for(f"{work}/client.out", "the local service refused", 10) is None:
        return ["the client did not say the local service refused"]
    # A measurement, not a wait: a client that spins on the socket's error spends this whole
    # window on the CPU; one that waits, next to nothing.
    before = cpu_seconds(client.pid)
    time.sleep(2)
    spent = cpu_seconds(client.pid) - before
    if spent > 0.5:
        failures.append(f"the client spent {spent:.2f} s of CPU in 2 s while the service was down")
    said = open(f"{work}/client.out", encoding="utf-8").read().count("the local service refused")
    if said != 1:
        failures.append(f"the client said {said} times that the service refused, not once")
    service = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    service.bind(("127.0.0.1", service_port))
    service.settimeout(10)
    try:
        peer.sendto(b"back?", public)
        data, src = service.recvfrom(2048)
        service.sendto(b"echo: " + data, src)
        data, _ = peer.recvfrom(2048)
        if data != b"echo: back?":
            failures.append(f"after the service came back the peer got {data!r}")
    except socket.timeout:
        failures.append("nothing went through once the service was back")
    finally:
        service.close()
    return failures


def exposing_client(bindir, work, port, echo):
    """A client exposing the echo service for 30 s at most, its stdout (its log) a pipe."""
    return subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                             f"127.0.0.1:{port}", "--authority", "localhost",
                             "--ca", f"{work}/pki/ca.pem",
                             "--expose", f"127.0.0.1:{echo.sock.getsockname()[1]}",
                             "--run-seconds", "30"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def public_address_of(client):
    """The public address an exposing client prints, once its uncompressed context is
    acknowledged; None when it ends first (bounded: it ends after 30 s at most)."""
    public = None
    for line in client.stdout:
        if line.startswith("public address: "):
            host, pport = line.split()[2].rsplit(":", 1)
            public = (host, int(pport))
        if "acknowledged" in line:
            return public
    return None


def log_reader_gone(bindir, work, port, echo):
    """An exposing client is a service; its stdout is a log. With that a pipe whose reader went
    away, its next line (a new peer) fails with EPIPE: the client must go on relaying, not end
    of SIGPIPE."""
    client = exposing_client(bindir, work, port, echo)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(10)
    try:
        public = public_address_of(client)
        if public is None:
            return ["log reader gone: the client did not come up"]
        client.stdout.close()
        for text in (b"first", b"second"):  # the first draws a line to the closed pipe
            peer.sendto(text, public)
            data, _ = peer.recvfrom(2048)
            if data != b"echo: " + text:
                return [f"log reader gone: the peer got {data!r}"]
        if client.poll() is not None:
            return [f"log reader gone: the client ended with status {client.returncode}"]
        return []
    except socket.timeout:
        return [f"log reader gone: no echo (the client's status: {client.poll()})"]
    finally:
        peer.close()
        client.kill()
        client.wait()


def out_of_descriptors(bindir, work, port, echo):
    """A client that has no descriptor left for a new peer's socket refuses that peer and says
    why (it said nothing, and tried again at each of the peer's datagrams), and goes on serving
    the peers it has."""
    client = exposing_client(bindir, work, port, echo)
    peers = []
    try:
        public = public_address_of(client)
        if public is None:
            return ["out of descriptors: the client did not come up"]
        # Room for one more descriptor: the first peer's socket.
        used = len(os.listdir(f"/proc/{client.pid}/fd"))
        resource.prlimit(client.pid, resource.RLIMIT_NOFILE, (used + 1, used + 1))
        for k in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.settimeout(10)
            peers.append(s)
            s.sendto(f"peer {k}".encode(), public)
        data, _ = peers[0].recvfrom(2048)
        if data != b"echo: peer 0":
            return [f"out of descriptors: the first peer got {data!r}"]
        for line in client.stdout:
            if "refused (Too many open files" in line:
                break
        else:
            return ["out of descriptors: the client did not say why it refused the second peer"]
        peers[0].sendto(b"again", public)
        data, _ = peers[0].recvfrom(2048)
        if data != b"echo: again":
            return [f"out of descriptors: the first peer then got {data!r}"]
        return []
    except socket.timeout:
        return [f"out of descriptors: no echo (the client's status: {client.poll()})"]
    finally:
        for s in peers:
            s.close()
        client.kill()
        client.wait()


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("expose")
    echo = Echo()
    echo.start()
    port = free_port()
    failures = []
    with open(f"{work}/proxy.log", "w", encoding="utf-8") as plog:
        proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                  f"127.0.0.1:{port}", "--allow", "127.0.0.0/8",
                                  "--cert", f"{work}/pki/localhost.pem",
                                  "--key", f"{work}/pki/localhost.key", "--run-seconds", "60"],
                                 stderr=plog)
    client = None
    peers = []
    try:
        if wait_for(f"{work}/proxy.log", "listening on") is None:
            raise RuntimeError("the proxy did not start")
        refused_peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        refused_peer.bind(("127.0.0.2", 0))  # not in --allow 127.0.0.1/32
        with open(f"{work}/client.out", "w", encoding="utf-8") as out:
            client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                       f"127.0.0.1:{port}", "--authority", "localhost",
                                       "--ca", f"{work}/pki/ca.pem",
                                       "--expose", f"127.0.0.1:{echo.sock.getsockname()[1]}",
                                       "--allow", "127.0.0.1/32",
                                       "--public-address-file", f"{work}/public",
                                       "--run-seconds", "40"],
                                      stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT)
        if wait_for(f"{work}/public", ":") is None:
            raise RuntimeError("no public address written")
        first = open(f"{work}/public", encoding="utf-8").read().split("\n", 1)[0]
        host, pport = first.rsplit(":", 1)
        public = (host, int(pport))
        if wait_for(f"{work}/client.out", "acknowledged") is None:
            raise RuntimeError("the uncompressed context was not acknowledged")
        for k in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.settimeout(10)
            peers.append(s)
        # All three at once, twice each: every peer must get exactly its own replies back.
        for rnd in range(2):
            for k, s in enumerate(peers):
                s.sendto(f"peer {k} round {rnd}".encode(), public)
            for k, s in enumerate(peers):
                data, src = s.recvfrom(2048)
                if data != f"echo: peer {k} round {rnd}".encode() or src != public:
                    failures.append(f"peer {k} got {data!r} from {src}")
        if len(echo.sources) != 3:
            failures.append(f"the service saw {len(echo.sources)} sources, not 3")
        # A peer outside --allow gets nothing, and the client says so.
        refused_peer.settimeout(1.5)
        refused_peer.sendto(b"let me in", public)
        try:
            data, _ = refused_peer.recvfrom(2048)
            failures.append(f"a peer outside --allow got {data!r}")
        except socket.timeout:
            pass
        if wait_for(f"{work}/client.out", "refused (--allow", 5) is None:
            failures.append("the client did not say it refused the peer outside --allow")
        failures += log_reader_gone(bindir, work, port, echo)
        failures += out_of_descriptors(bindir, work, port, echo)
        failures += service_restart(work, client, echo, peers[0], public)
    except (RuntimeError, socket.timeout) as e:
        failures.append(str(e))
    finally:
        for s in peers:
            s.close()
        if client is not None:
            client.kill()
            client.wait()
        proxy.kill()
        proxy.wait()
        echo.stop = True
    return report("expose", failures,
                  "3 peers at once, each with its own replies, through one local service; the "
                  "service stopped and back without a busy client; a client that lost its log reader "
                  "goes on; one out of descriptors names why it refuses a peer", work,
                  f"{work}/client.out")


if __name__ == "__main__":
    sys.exit(main())
