#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-bind-client --reconnect keeps a local service reachable across a proxy restart: the
proxy stops (and tells its clients), starts again on the same port, and the client asks for a
new tunnel by itself, prints the new public address, rewrites --public-address-file, and a
peer reaches the service through it. Without --reconnect the client ends when the proxy does
(status 0: the proxy ended the tunnel cleanly). A refusal a new request would meet again (407,
a token the proxy does not know) ends the client at once, with status 1, even with
--reconnect; a run that ends with its tunnel up ends with 0, and so does one stopped with
SIGTERM, which frees its request at the proxy at once. A proxy killed without a word (SIGKILL)
and started again answers the client's next packet with a Stateless Reset (RFC 9000 §10.3),
whose token it derives from its TLS key as before, and the client is back within seconds
(stateless.py checks the resets on the wire). A client that reconnects to the restarted proxy
offers the session ticket it kept, and resumes its TLS session (the proxy's tickets come from
its key, which the restart keeps). A client killed without a word, whose request
holds its identity's quota (--quota-requests 1), does not keep the same client, started again,
out until the proxy's idle timeout: the proxy probes the connection that holds the request when
the new one is refused, finds no answer, closes it, and the new client's next ask succeeds; a
live holder answers the probe and keeps its tunnel. TLS verification stays on (a throw-away CA);
every wait is bounded.

usage: reconnect.py BUILD_DIR
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

from programs import Echo, free_port, report, wait_for, work_with_pki


def start_proxy(bindir, work, port, log, extra=(), transports=("--no-h2",)):
    """masque-proxy on 127.0.0.1:port (HTTP/3 only unless transports says), once it says it
    listens."""
    with open(log, "w", encoding="utf-8") as plog:
        proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                  f"127.0.0.1:{port}", "--allow", "127.0.0.0/8",
                                  "--cert", f"{work}/pki/localhost.pem",
                                  "--key", f"{work}/pki/localhost.key",
                                  "--run-seconds", "90"] + list(transports) + list(extra),
                                 stderr=plog)
    if wait_for(log, "listening on") is None:
        proxy.kill()
        proxy.wait()
        raise RuntimeError("the proxy did not start")
    return proxy


def stop(proc):
    """SIGTERM (a proxy then tells its clients), and the process is gone within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError("a program did not end within 20 s of SIGTERM")


def public_address(out, path, n, seconds):
    """The address in --public-address-file once the client has set up its n-th tunnel (it
    writes the file before it prints "exposing"), or None."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if count(out, "exposing ") >= n:
            host, port = open(path, encoding="utf-8").read().split("\n", 1)[0].rsplit(":", 1)
            return host, int(port)
        time.sleep(0.05)
    return None


def gone(path, seconds=30):
    """Whether the file at path is gone within seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def reaches(public, text):
    """A peer's datagram to the public address comes back from the service; a few tries, since
    the client may still be setting up its uncompressed context."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(2)
        for _ in range(10):
            peer.sendto(text.encode(), public)
            try:
                data, _ = peer.recvfrom(2048)
                return data == b"echo: " + text.encode()
            except socket.timeout:
                continue
    return False


def count(path, text):
    with open(path, encoding="utf-8") as f:
        return sum(text in line for line in f)


def run_to_end(args, what, failures):
    """Runs a client to its end (30 s at most); its status and output, or None when it did not
    end (said in failures)."""
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        failures.append(f"{what}: still running after 30 s")
        return None


def client_args(bindir, work, port, extra, transport="--h3"):
    return [os.path.join(bindir, "masque-bind-client"), "--proxy", f"127.0.0.1:{port}",
            "--authority", "localhost", "--ca", f"{work}/pki/ca.pem", transport] + extra


def tunnelled_client(args, out, procs, failures, what, stdin=subprocess.DEVNULL):
    """Starts a client (its output to out) and waits for its tunnel: the process, or None (said
    in failures) when none came. In a session of its own, as a process a test stops must be
    (programs.start_proxy())."""
    with open(out, "w", encoding="utf-8") as f:
        proc = subprocess.Popen(args, stdin=stdin, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    procs.append(proc)
    if wait_for(out, "public address:") is None:
        failures.append(f"no tunnel for {what}")
        return None
    return proc


def crash(bindir, work, port, proxy, procs, failures):
    """A proxy that dies without a word (SIGKILL) and comes back on the same port with the same
    key: the client's next packet meets a Stateless Reset (RFC 9000 §10.3), and with --reconnect
    it has a new tunnel within seconds, not after its idle timeout (two minutes)."""
    out = f"{work}/crashed.out"
    client = tunnelled_client(client_args(bindir, work, port,
                                          ["--token-file", f"{work}/tokens", "--reconnect",
                                           "--run-seconds", "100"]),
                              out, procs, failures, "the client whose proxy is killed",
                              stdin=subprocess.PIPE)
    if client is None:
        return proxy
    proxy.kill()
    proxy.wait()
    proxy = start_proxy(bindir, work, port, f"{work}/proxy4.log",
                        ["--token-file", f"{work}/tokens", "--quota-requests", "1"])
    procs.append(proxy)
    client.stdin.write(b"127.0.0.1:9 after the crash\n")  # a packet, at once
    client.stdin.flush()
    end = time.monotonic() + 45  # its keep-alive (15 s) would do, too; its idle timeout: 120 s
    while time.monotonic() < end and count(out, "public address:") < 2:
        time.sleep(0.05)
    if count(out, "public address:") < 2:
        failures.append("after the proxy was killed and restarted: no new tunnel within 45 s")
    if count(out, "Stateless Reset") < 1:
        failures.append("the client did not say that a Stateless Reset ended its connection")
    stop(client)
    return proxy


def client_killed(bindir, work, port, proxy, echo, procs, failures):
    """A client killed without a word (SIGKILL) leaves its request at the proxy, which counts
    it against the identity's quota (--quota-requests 1): the same client started again meets
    429 and asks again. The proxy probes the connection that holds the request, hears nothing,
    closes it (after 3 s on loopback), and the new client has its tunnel within 45 s, where the
    proxy's idle timeout is 120 s. Then a third client of the identity meets 429 again and
    again while the second one's tunnel keeps working: a live holder answers the probe. The
    proxy counts them on SIGUSR1: probes, and exactly one connection closed for no answer."""
    tokens = ["--token-file", f"{work}/tokens", "--reconnect", "--run-seconds", "100"]
    killed = tunnelled_client(client_args(bindir, work, port, tokens), f"{work}/killed.out",
                              procs, failures, "the client to be killed")
    if killed is None:
        return
    killed.kill()
    killed.wait()
    again_out = f"{work}/again.out"
    with open(again_out, "w", encoding="utf-8") as f:
        again = subprocess.Popen(
            client_args(bindir, work, port,
                        tokens + ["--expose", f"127.0.0.1:{echo.sock.getsockname()[1]}",
                                  "--public-address-file", f"{work}/public-again"]),
            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    procs.append(again)
    public = public_address(again_out, f"{work}/public-again", 1, 45)
    if public is None:
        failures.append("a killed client's identity: no tunnel for it again within 45 s "
                        f"({count(again_out, 'status 429')} refusals with 429)")
        return
    if count(again_out, "status 429") < 1:
        failures.append("the killed client's request did not hold the quota (no 429 met)")
    third_out = f"{work}/third.out"
    with open(third_out, "w", encoding="utf-8") as f:
        third = subprocess.Popen(client_args(bindir, work, port, tokens),
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    procs.append(third)
    end = time.monotonic() + 30  # three refusals: asked again after 1 s and 2 s (and jitter)
    while time.monotonic() < end and count(third_out, "status 429") < 3:
        time.sleep(0.05)
    if count(third_out, "status 429") < 3 or count(third_out, "public address:") > 0:
        failures.append(f"a third client of the identity: {count(third_out, 'status 429')} "
                        f"refusals, {count(third_out, 'public address:')} tunnels (3 and 0 "
                        "expected while the second one holds the quota)")
    if not reaches(public, "still here") or count(again_out, "public address:") != 1:
        failures.append("the live holder of the quota lost its tunnel to probes")
    stop(third)
    stop(again)
    proxy.send_signal(signal.SIGUSR1)
    line = wait_for(f"{work}/proxy4.log", "probed for a used-up quota") or ""
    found = re.search(r"(\d+) connections probed for a used-up quota, (\d+) of them closed", line)
    if found is None or int(found.group(1)) < 2 or int(found.group(2)) != 1:
        failures.append(f"SIGUSR1 after the quota's probes: {line.strip()!r} (2 probed at least, "
                        "1 closed expected)")


def client_hung(bindir, work, procs, failures):
    """The same over HTTP/2, with a client that hangs (SIGSTOP: its kernel still acknowledges
    TCP, but nothing answers the proxy's HTTP/2 PING) rather than dies (a killed client's TCP
    connection would close at once): the second client of the identity has its tunnel within
    45 s, where the proxy's idle timeout is 120 s."""
    port = free_port()
    procs.append(start_proxy(bindir, work, port, f"{work}/proxy5.log",
                             ["--token-file", f"{work}/tokens", "--quota-requests", "1"],
                             transports=("--no-h3",)))
    tokens = ["--token-file", f"{work}/tokens", "--reconnect", "--run-seconds", "100"]
    outs = [f"{work}/hung.out", f"{work}/after-hung.out"]
    hung = tunnelled_client(client_args(bindir, work, port, tokens, "--h2"), outs[0], procs,
                            failures, "the HTTP/2 client to be stopped")
    if hung is None:
        return
    hung.send_signal(signal.SIGSTOP)
    try:
        with open(outs[1], "w", encoding="utf-8") as f:
            after = subprocess.Popen(client_args(bindir, work, port, tokens, "--h2"),
                                     stdin=subprocess.DEVNULL, stdout=f,
                                     stderr=subprocess.STDOUT)
        procs.append(after)
        if wait_for(outs[1], "public address:", 45) is None:
            failures.append("HTTP/2: a hung client's identity: no tunnel for another of its "
                            f"clients within 45 s ({count(outs[1], 'status 429')} refusals)")
        elif count(outs[1], "status 429") < 1:
            failures.append("HTTP/2: the hung client's request did not hold the quota")
        stop(after)
    finally:
        hung.send_signal(signal.SIGCONT)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("reconnect")
    echo = Echo()
    echo.start()
    port = free_port()
    failures = []
    procs = []
    try:
        proxy = start_proxy(bindir, work, port, f"{work}/proxy1.log")
        procs.append(proxy)
        out = f"{work}/client.out"
        with open(out, "w", encoding="utf-8") as f:
            client = subprocess.Popen(
                client_args(bindir, work, port,
                            ["--expose", f"127.0.0.1:{echo.sock.getsockname()[1]}",
                             "--public-address-file", f"{work}/public", "--reconnect",
                             "--run-seconds", "80"]),
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        procs.append(client)
        with open(f"{work}/plain.out", "w", encoding="utf-8") as f:
            plain = subprocess.Popen(client_args(bindir, work, port, ["--run-seconds", "80"]),
                                     stdin=subprocess.DEVNULL, stdout=f,
                                     stderr=subprocess.STDOUT)
        procs.append(plain)
        first = public_address(out, f"{work}/public", 1, 30)
        if first is None or not reaches(first, "before"):
            raise RuntimeError(f"no working tunnel before the restart ({first})")
        if wait_for(f"{work}/plain.out", "public address:") is None:
            raise RuntimeError("the client without --reconnect set up no tunnel")
        stop(proxy)
        # The address went with the tunnel: --public-address-file names none while it is down.
        if not gone(f"{work}/public"):
            failures.append("--public-address-file still names an address after the tunnel ended")
        # Without --reconnect, the client ends with the tunnel (cleanly: status 0).
        try:
            if plain.wait(timeout=30) != 0:
                failures.append(f"without --reconnect: exit {plain.returncode}")
        except subprocess.TimeoutExpired:
            failures.append("without --reconnect: still running 30 s after the proxy stopped")
        proxy = start_proxy(bindir, work, port, f"{work}/proxy2.log")
        procs.append(proxy)
        # With it, a new tunnel comes by itself: a second public address, written to the file,
        # and the service is reachable through it.
        second = public_address(out, f"{work}/public", 2, 60)
        if second is None:
            failures.append("no new public address within 60 s of the proxy's restart")
        elif not reaches(second, "after"):
            failures.append(f"the service is not reachable at the new address {second}")
        if count(out, "public address:") < 2:
            failures.append("the client did not print its new public address")
        if count(out, "asking again in") < 1:
            failures.append("the client did not say it was asking again")
        if client.poll() is not None:
            failures.append(f"the client ended (exit {client.returncode})")
        # The restarted proxy has the same key, so its session tickets are the same: the
        # client offered the one it kept and resumed its TLS session (RFC 8446 §2.2).
        proxy.send_signal(signal.SIGUSR1)
        line = wait_for(f"{work}/proxy2.log", "TLS handshakes") or ""
        found = re.search(r"(\d+) TLS handshakes, (\d+) of them resumed", line)
        if found is None or int(found.group(2)) < 1:
            failures.append(f"after the restart, no resumed TLS session: {line.strip()!r}")
        stop(client)
        # A refusal that a new request would meet again ends the client, --reconnect or not.
        stop(proxy)
        with open(f"{work}/tokens", "w", encoding="utf-8") as f:
            f.write("the-right-one\n")
        with open(f"{work}/wrong", "w", encoding="utf-8") as f:
            f.write("a-wrong-one\n")
        proxy = start_proxy(bindir, work, port, f"{work}/proxy3.log",
                            ["--token-file", f"{work}/tokens", "--quota-requests", "1"])
        procs.append(proxy)
        what = "a 407 with --reconnect"
        r = run_to_end(client_args(bindir, work, port, ["--token-file", f"{work}/wrong",
                                                        "--reconnect", "--run-seconds", "60"]),
                       what, failures)
        if r is not None and (r[0] != 1 or "status 407" not in r[1] or "asking again" in r[1]):
            failures.append(f"{what}: exit {r[0]}, output {r[1].strip()!r}")
        # A client stopped (SIGTERM, as systemctl stop does) closes its tunnel in order: status 0,
        # and the proxy frees its request at once, not at its idle timeout (two minutes): with
        # one request allowed per client identity, the next client of the same identity binds.
        stopped_out = f"{work}/stopped.out"
        with open(stopped_out, "w", encoding="utf-8") as f:
            stopped = subprocess.Popen(client_args(bindir, work, port,
                                                   ["--token-file", f"{work}/tokens",
                                                    "--reconnect", "--run-seconds", "60"]),
                                       stdin=subprocess.DEVNULL, stdout=f,
                                       stderr=subprocess.STDOUT)
        procs.append(stopped)
        if wait_for(stopped_out, "public address:") is None:
            failures.append("no tunnel for the client to be stopped")
        stopped.terminate()
        try:
            if stopped.wait(timeout=20) != 0:
                failures.append(f"a client stopped with SIGTERM: exit {stopped.returncode}")
        except subprocess.TimeoutExpired:
            failures.append("a client stopped with SIGTERM still runs after 20 s")
        # A run that ends with its tunnel up (--run-seconds) worked: status 0.
        what = "a run that ended with its tunnel up"
        r = run_to_end(client_args(bindir, work, port, ["--token-file", f"{work}/tokens",
                                                        "--reconnect", "--run-seconds", "3"]),
                       what, failures)
        if r is not None and (r[0] != 0 or "public address:" not in r[1]):
            failures.append(f"{what}: exit {r[0]}, output {r[1].strip()!r}")
        proxy = crash(bindir, work, port, proxy, procs, failures)
        client_killed(bindir, work, port, proxy, echo, procs, failures)
        client_hung(bindir, work, procs, failures)
    except RuntimeError as e:
        failures.append(str(e))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        echo.stop = True
    return report("reconnect", failures,
                  "a new tunnel and address after a proxy restart, the service reachable through "
                  "it; no retry after a 407; status 0 for a run ended with its tunnel up or by "
                  "SIGTERM, which frees the request at once; a killed proxy's client back within "
                  "seconds; a killed (HTTP/3) or hung (HTTP/2) client's request freed for another "
                  "of its identity within seconds, a live one's kept", work,
                  f"{work}/client.out")


if __name__ == "__main__":
    sys.exit(main())
