#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-bind-client fails loudly: a proxy whose certificate it cannot verify, or no proxy at
all, ends with a non-zero exit status and a line on stderr; a working tunnel ends with 0. A
proxy that vanishes mid-tunnel (killed: no CONNECTION_CLOSE, no GOAWAY) is a failure too, told
apart from a proxy that stops in order: over HTTP/3 at the client's idle timeout, over HTTP/2
when TCP ends without GOAWAY. A proxy given by name is found at whichever of the name's
addresses it listens, within bounded handshake times, a first address into a black hole too. Both programs refuse an option value they cannot take at once
(exit status 2 and a line naming the option), never a silent default or a number cut short.
masque-proxy raises its soft limit of open files to what its limits may use, or says at start
that the hard limit is too low; given port 0, it finds one free for UDP and TCP alike (the
kernel's pick for UDP may be taken for TCP) and says which; it outlives the reader of its log. A client started with stdin closed keeps its sockets off descriptor 0.

usage: client_exit.py BUILD_DIR    (loopback only; bounded deadlines)
"""
import fcntl
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

from programs import TOOLS, free_port, wait_for


def run_client(bindir, port, ca, seconds, extra=()):
    return subprocess.run([os.path.join(bindir, "masque-bind-client"), "--proxy",
                           f"127.0.0.1:{port}", "--authority", "localhost", "--ca", ca,
                           "--run-seconds", str(seconds)] + list(extra),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def vanishing_proxy(bindir, work, transport, says):
    """A tunnel up, then the proxy killed: the client must end with 1 and say `says`."""
    port = free_port()
    log = f"{work}/vanishing{transport}.log"
    with open(log, "w", encoding="utf-8") as plog:
        proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                  f"127.0.0.1:{port}", "--cert", f"{work}/pki/localhost.pem",
                                  "--key", f"{work}/pki/localhost.key", "--run-seconds", "60"],
                                 stderr=plog)
    out = f"{work}/vanishing{transport}.out"
    client = None
    try:
        if wait_for(log, "listening on", 15) is None:
            return f"{transport}: the proxy did not start"
        with open(out, "w", encoding="utf-8") as f:
            client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                       f"127.0.0.1:{port}", "--authority", "localhost", "--ca",
                                       f"{work}/pki/ca.pem", transport, "--idle-timeout-ms",
                                       "2000", "--run-seconds", "50"],
                                      stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        if wait_for(out, "public address:", 15) is None:
            return f"{transport}: no tunnel"
        proxy.kill()  # SIGKILL: not a word to the client
        proxy.wait()
        try:
            rc = client.wait(timeout=30)
        except subprocess.TimeoutExpired:
            return f"{transport}: the client still runs 30 s after its proxy vanished"
        text = open(out, encoding="utf-8").read()
        if rc != 1 or says not in text:
            return f"{transport}: a vanished proxy: exit {rc}, output {text.strip()!r}"
        return None
    finally:
        for p in (proxy, client):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def every_address_tried(bindir, work):
    """--proxy NAME:PORT where the name's first addresses have no proxy: in a network namespace
    whose hosts file (ip-netns(8): /etc/netns/NS/hosts) gives proxy.test 2001:db8::1 and
    2001:db8::3, black holes (a route into a veth whose other end is down: not a word back, as
    from an IPv6 that does not work), 127.0.0.1, where nothing listens, and 127.0.0.2, where
    the proxy does. The client must try them with the families taking turns (::1, 127.0.0.1,
    ::3, 127.0.0.2: RFC 8305 §4) and reach the proxy within its handshake limits, never
    waiting in a black hole for the kernel's or the idle timeout's minutes. The attempts
    overlap (RFC 8305 §5: each starts 250 ms after the one before, not after it failed, and
    at once after a refusal), QUIC handshakes over HTTP/3 and TCP connections over HTTP/2
    alone: with limits of 5 s the proxy answers long before the first attempt's limit, so no
    attempt may be given up, and 127.0.0.1's refusal starts ::3 at once. Returns a failure,
    None on success, or "skipped" where the machine does not allow it (not root, no ip(8),
    no veth)."""
    if os.geteuid() != 0 or subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        return "skipped"
    ns = f"mqname{os.getpid() % 100000}"
    etc = f"/etc/netns/{ns}"
    proxy = None
    try:
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
            return "skipped"
        os.makedirs(etc, exist_ok=True)
        with open(f"{etc}/hosts", "w", encoding="utf-8") as f:
            f.write("2001:db8::1 proxy.test\n2001:db8::3 proxy.test\n127.0.0.1 proxy.test\n"
                    "127.0.0.2 proxy.test\n")
        inside = ["ip", "netns", "exec", ns]
        subprocess.run(inside + ["ip", "link", "set", "lo", "up"], check=True)
        if subprocess.run(inside + ["ip", "link", "add", "v0", "type", "veth", "peer", "name",
                                    "v1"], capture_output=True).returncode != 0:
            return "skipped"
        # The source 2001:db8::ff00 shares as long a prefix with ::1 as with ::3, so that the
        # resolver keeps the hosts file's order of the two (RFC 6724 rule 9).
        for cmd in (["ip", "link", "set", "v0", "up"],
                    ["ip", "addr", "add", "2001:db8::ff00/64", "dev", "v0", "nodad"],
                    ["ip", "-6", "neigh", "add", "2001:db8::1", "lladdr", "02:00:00:00:00:01",
                     "dev", "v0", "nud", "permanent"],
                    ["ip", "-6", "neigh", "add", "2001:db8::3", "lladdr", "02:00:00:00:00:03",
                     "dev", "v0", "nud", "permanent"]):
            subprocess.run(inside + cmd, check=True)
        port = 4433
        log = f"{work}/named.log"
        with open(log, "w", encoding="utf-8") as plog:
            proxy = subprocess.Popen(inside + [os.path.join(bindir, "masque-proxy"), "--listen",
                                               f"127.0.0.2:{port}", "--cert",
                                               f"{work}/pki/localhost.pem", "--key",
                                               f"{work}/pki/localhost.key", "--run-seconds",
                                               "90"], stderr=plog)
        if wait_for(log, "listening on", 15) is None:
            return "every address: the proxy did not start in the namespace"
        quic = "no QUIC handshake with "
        tls = "no TLS (TCP) handshake with "
        refused = "Connection refused"
        trying = "trying QUIC with "
        tcp = "trying TCP with "
        for transport, tried in ((["--fallback-ms", "5000"],
                                  [trying + "[2001:db8::1]:4433", trying + "127.0.0.1:4433",
                                   trying + "[2001:db8::3]:4433", trying + "127.0.0.2:4433"]),
                                 (["--h2", "--connect-timeout-ms", "5000"],
                                  [tcp + "[2001:db8::1]:4433", tcp + "127.0.0.1:4433",
                                   "TCP with 127.0.0.1:4433: " + refused,
                                   tcp + "[2001:db8::3]:4433", tcp + "127.0.0.2:4433"])):
            # A tunnel at 127.0.0.2 after three addresses' limits: 20 s are far more than that,
            # far less than a SYN's or an idle timeout's minutes in the black hole. Then
            # SIGTERM: a run that ends with its tunnel up exits 0.
            out = f"{work}/named{len(transport)}.out"
            with open(out, "w", encoding="utf-8") as f:
                client = subprocess.Popen(inside + [os.path.join(bindir, "masque-bind-client"),
                                                    "--proxy", f"proxy.test:{port}",
                                                    "--authority", "localhost", "--ca",
                                                    f"{work}/pki/ca.pem", "--run-seconds", "60"]
                                          + transport, stdin=subprocess.DEVNULL, stdout=f,
                                          stderr=f)
            try:
                up = wait_for(out, "public address:", 20) is not None
                client.terminate()
                rc = client.wait(timeout=30)
            finally:
                if client.poll() is None:
                    client.kill()
                    client.wait()
            text = open(out, encoding="utf-8").read()
            said = [line.split("masque-bind-client: ", 1)[1] for line in text.splitlines()
                    if line.startswith("masque-bind-client: ") and
                    (quic in line or tls in line or refused in line or trying in line or
                     tcp in line)]
            if not up or rc != 0 or said != tried:
                return (f"--proxy proxy.test {' '.join(transport)} (black holes ::1 and ::3, "
                        f"127.0.0.1 without a proxy, 127.0.0.2 with one): exit {rc}, tried "
                        f"{said}, not {tried}: {text.strip()!r}")
        return None
    finally:
        if proxy is not None:
            proxy.kill()
            proxy.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", etc], check=False)
        if os.path.isdir("/etc/netns") and not os.listdir("/etc/netns"):
            os.rmdir("/etc/netns")


def usage_errors(bindir, work):
    """Each case must end at once with exit status 2 and a line on stderr that says `says`."""
    long_token = f"{work}/long-token"
    with open(long_token, "w", encoding="utf-8") as f:
        f.write("x" * 300 + "\n")
    bad_token = f"{work}/bad-token"  # no proxy could take it (RFC 6750 §2.1: a token68)
    with open(bad_token, "w", encoding="utf-8") as f:
        f.write("my token\n")
    cases = [
        ("masque-proxy", ["--max-clients", "10k"], "--max-clients"),
        ("masque-proxy", ["--quota-datagrams", "-1"], "--quota-datagrams"),
        ("masque-proxy", ["--max-requests-per-conn", "17"], "--max-requests-per-conn"),
        ("masque-proxy", ["--max-streams-per-conn", "17"], "--max-streams-per-conn"),
        ("masque-proxy", ["--run-seconds", "nan"], "--run-seconds"),
        ("masque-proxy", ["--max-identities", "0"], "--max-identities"),
        ("masque-bind-client", ["--max-peers", "1000"], "--max-peers"),
        ("masque-bind-client", ["--fallback-ms", "1500ms"], "--fallback-ms"),
        ("masque-bind-client", ["--expose", "127.0.0.1:9"] + ["--allow", "10.0.0.0/8"] * 17,
         "--allow"),
        ("masque-bind-client", ["--token-file", long_token], "longer than 256"),
        ("masque-bind-client", ["--token-file", bad_token], "not a bearer token"),
        ("masque-bind-client", ["--token-file", f"{work}/no-such-file"],
         "cannot read --token-file"),
        ("masque-bind-client", ["--proxy", "no-port-here"], "--proxy"),
        ("masque-bind-client", ["--proxy", "2001:db8::1:443"], "--proxy"),
        # A template whose paths no proxy could take apart again (RFC 9298 §2).
        ("masque-proxy", ["--template", "https://localhost/{target_host}.{target_port}/"],
         "--template"),
        ("masque-bind-client", ["--template", "https://localhost/{target_host}{target_port}"],
         "--template"),
        # A certificate without its key (GnuTLS was handed a NULL path: a crash), a key without
        # its certificate (ignored for a self-signed one), and a key of another certificate.
        ("masque-proxy", ["--cert", f"{work}/pki/localhost.pem"], "--cert and --key go together"),
        ("masque-proxy", ["--key", f"{work}/pki/localhost.key"], "--cert and --key go together"),
        ("masque-bind-client", ["--cert", f"{work}/pki/localhost.pem"],
         "--cert and --key go together"),
        ("masque-bind-client", ["--key", f"{work}/pki/localhost.key"],
         "--cert and --key go together"),
        ("masque-bind-client", ["--cert", f"{work}/pki/localhost.pem", "--key",
                                f"{work}/pki/ca.key"], "could not be loaded"),
        # An option neither knows is named (the proxy printed its whole --help, naming none).
        ("masque-proxy", ["--bogus", "1"], "unknown option --bogus"),
        ("masque-bind-client", ["--bogus", "1"], "unknown option --bogus"),
        # Options that the others given make meaningless: refused, never silently ignored.
        ("masque-proxy", ["--allow-anonymous", "--client-ca", f"{work}/pki/ca.pem"],
         "--allow-anonymous does not go with"),
        ("masque-bind-client", ["--allow", "10.0.0.0/8"], "are for --expose"),
        ("masque-bind-client", ["--peer-idle-ms", "5000"], "are for --expose"),
        ("masque-bind-client", ["--expose", "127.0.0.1:9", "--echo"], "do not go with --expose"),
        ("masque-bind-client", ["--expose", "127.0.0.1:9", "--compress-after", "2"],
         "do not go with --expose"),
    ]
    failures = []
    for program, args, says in cases:
        # What the program would do with the value taken: run a second and end.
        extra = [] if "--run-seconds" in args else ["--run-seconds", "1"]
        if program == "masque-proxy":
            extra += ["--listen", f"127.0.0.1:{free_port()}"]
        else:
            # Verification on, against the throw-away CA: only the refused value may end it.
            extra += ["--ca", f"{work}/pki/ca.pem"]
            if "--proxy" not in args:
                extra += ["--proxy", f"127.0.0.1:{free_port()}"]
        try:
            r = subprocess.run([os.path.join(bindir, program)] + args + extra,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=30)
        except subprocess.TimeoutExpired:
            failures.append(f"{program} {' '.join(args[:2])}: still running after 30 s")
            continue
        if r.returncode != 2 or says not in r.stderr:
            failures.append(f"{program} {' '.join(args[:2])}: exit {r.returncode}, stderr "
                            f"{r.stderr.strip()!r}")
    # The proxy names the files it could not load (its module loads them, and again on SIGHUP).
    r = subprocess.run([os.path.join(bindir, "masque-proxy"), "--listen",
                        f"127.0.0.1:{free_port()}", "--cert", f"{work}/pki/localhost.pem",
                        "--key", f"{work}/pki/ca.key", "--run-seconds", "1"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if r.returncode != 1 or f"the key {work}/pki/ca.key could not be loaded" not in r.stderr:
        failures.append(f"masque-proxy with a key of another certificate: exit {r.returncode}, "
                        f"stderr {r.stderr.strip()!r}")
    return failures


def open_files(bindir, work):
    """At the defaults (256 clients, 1024 requests) masque-proxy may use 1344 descriptors, more
    than a shell's soft limit of 1024: it raises the soft limit as far as the hard one allows,
    and says so at start when the hard one is lower."""
    failures = []
    _, had = resource.getrlimit(resource.RLIMIT_NOFILE)
    cases = [(1024, 1200, "the limit of open files, 1200, is below the 1344")]
    if had == resource.RLIM_INFINITY or had >= 4096:
        cases.append((1024, 4096, None))
    for soft, hard, says in cases:
        log = f"{work}/open-files-{hard}.log"
        with open(log, "w", encoding="utf-8") as plog:
            proxy = subprocess.Popen(
                [os.path.join(bindir, "masque-proxy"), "--listen", f"127.0.0.1:{free_port()}",
                 "--run-seconds", "30"], stderr=plog,
                preexec_fn=lambda s=soft, h=hard: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                     (s, h)))
        try:
            if wait_for(log, "listening on", 15) is None:
                failures.append(f"open files (hard {hard}): the proxy did not start")
                continue
            with open(f"/proc/{proxy.pid}/limits", encoding="utf-8") as f:
                line = [l for l in f if l.startswith("Max open files")][0]
            now = int(line.split()[3])
            text = open(log, encoding="utf-8").read()
            want = min(hard, 1344)
            if now != want or (says is None) != ("limit of open files" not in text) or \
                    (says is not None and says not in text):
                failures.append(f"open files (soft {soft}, hard {hard}): soft limit {now} "
                                f"(want {want}), stderr {text.strip()!r}")
        finally:
            proxy.kill()
            proxy.wait()
    return failures


def proxy_at_port_zero(bindir, work, stderr, extra=()):
    """masque-proxy at 127.0.0.1:0 (the kernel picks the port) for 30 s at most."""
    return subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen", "127.0.0.1:0",
                             "--cert", f"{work}/pki/localhost.pem",
                             "--key", f"{work}/pki/localhost.key", "--run-seconds", "30"] +
                            list(extra), stderr=stderr, text=True)


# TLS 1.3 with one key-exchange group each: no group in common.
ONLY_X25519 = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519"
ONLY_P256 = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP256R1"


def tls_refusals(bindir, work):
    """The proxy's --priority holds over HTTP/2 as over HTTP/3 (its HTTP/2 side ignored it),
    and a handshake it refuses is named at the client with the TLS alert over both (over
    HTTP/3 the proxy sent PROTOCOL_VIOLATION, not CRYPTO_ERROR with the alert, RFC 9001 §4.8,
    and the client said nothing). A priority string GnuTLS does not take is named at start by
    the proxy, and by the client when it connects. Failures, as a list."""
    failures = []
    proxy = proxy_at_port_zero(bindir, work, subprocess.PIPE, ("--priority", ONLY_X25519))
    try:
        port = port_named(proxy.stderr.readline())  # bounded: the proxy ends after 30 s
        if not port:
            return ["--priority: the proxy did not start"]
        for transport in ("--h3", "--h2"):
            r = run_client(bindir, port, f"{work}/pki/ca.pem", 3,
                           (transport, "--priority", ONLY_P256, "--connect-timeout-ms", "5000"))
            if r.returncode != 1 or \
                    "the peer ended it with the alert Handshake failed" not in r.stderr:
                failures.append(f"no common group {transport}: exit {r.returncode}, stderr "
                                f"{r.stderr.strip()!r}")
        failure = no_tunnel(bindir, work, port, "--h2")  # the client's default groups: taken
        if failure is not None:
            failures.append(f"--priority: {failure}")
    finally:
        proxy.kill()
        proxy.wait()
    r = subprocess.run([os.path.join(bindir, "masque-proxy"), "--listen", "127.0.0.1:0",
                        "--priority", "NORMAL:+BOGUS", "--run-seconds", "1"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if r.returncode != 1 or 'priority string "NORMAL:+BOGUS" is not valid' not in r.stderr:
        failures.append(f"a bad --priority at the proxy: exit {r.returncode}, "
                        f"stderr {r.stderr.strip()!r}")
    r = run_client(bindir, free_port(), f"{work}/pki/ca.pem", 3,
                   ("--h3", "--priority", "NORMAL:+BOGUS"))
    if r.returncode != 1 or 'priority string "NORMAL:+BOGUS" is not valid' not in r.stderr:
        failures.append(f"a bad --priority at the client: exit {r.returncode}, "
                        f"stderr {r.stderr.strip()!r}")
    return failures


def port_named(line):
    """The port a "listening on 127.0.0.1:PORT" line names, or None."""
    if line is None or "listening on 127.0.0.1:" not in line:
        return None
    return int(line.split("listening on 127.0.0.1:")[1].split()[0])


def no_tunnel(bindir, work, port, transport):
    """None when a tunnel comes up through the proxy at `port`, else what went wrong."""
    r = run_client(bindir, port, f"{work}/pki/ca.pem", 3, (transport,))
    if r.returncode != 0 or "public address:" not in r.stdout:
        return f"no tunnel {transport} at port {port}: exit {r.returncode}"
    return None


def port_zero(bindir, work):
    """--listen 127.0.0.1:0: the kernel picks the port, and the "listening on" line names it, so
    that a script can point a client at it: a tunnel through that port must come up."""
    log = f"{work}/port-zero.log"
    with open(log, "w", encoding="utf-8") as plog:
        proxy = proxy_at_port_zero(bindir, work, plog)
    try:
        line = wait_for(log, "listening on", 15)
        port = port_named(line)
        if not port:
            return f"port 0: the proxy did not start, or named no port: {line!r}"
        for transport in ("--h3", "--h2"):
            failure = no_tunnel(bindir, work, port, transport)
            if failure is not None:
                return f"port 0: {failure}"
        return None
    finally:
        proxy.kill()
        proxy.wait()


def tcp_taken_in_netns(bindir, work):
    """Run inside a network namespace of its own (`unshare -n`): the ephemeral ports cut to
    two, 40000 and 40001, and 40000 taken for TCP. A proxy at 127.0.0.1:0 gets either for UDP;
    given 40000, it must pick again (TCP needs the same number), not exit. Eight starts: all
    pass with the retry, and all pass without it once in 256."""
    fd = os.open("/proc/sys/net/ipv4/ip_local_port_range", os.O_WRONLY)
    os.write(fd, b"40000 40001")
    os.close(fd)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # loopback is down: up
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 40000))
    holder.listen(1)
    for start in range(8):
        proxy = proxy_at_port_zero(bindir, work, subprocess.PIPE)
        try:
            line = proxy.stderr.readline()  # bounded: the proxy ends after 30 s at most
            if port_named(line) != 40001:
                return f"start {start}: {line.strip()!r}, not listening on 127.0.0.1:40001"
        finally:
            proxy.kill()
            proxy.wait()
            proxy.stderr.close()
    return None


def port_zero_tcp_taken(bindir, work):
    """--listen 127.0.0.1:0 when the port the kernel picks for UDP is taken for TCP: the proxy
    picks again. Needs a network namespace (root, as the suite runs); said when there is none."""
    if subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode:
        print("port 0, TCP taken: SKIPPED, no network namespace here (needs root)")
        return None
    r = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), "--in-netns",
                        bindir, work], capture_output=True, text=True, timeout=300, check=False)
    if r.returncode != 0:
        return f"port 0, TCP taken: {r.stdout.strip()} {r.stderr.strip()}"
    return None


def log_reader_gone(bindir, work):
    """stderr a pipe whose reader went away (`masque-proxy 2>&1 | tee log`, tee ended): a line
    to it (SIGUSR1's counters) fails with EPIPE; the proxy must go on serving, not end of
    SIGPIPE with every tunnel."""
    proxy = proxy_at_port_zero(bindir, work, subprocess.PIPE)
    try:
        line = proxy.stderr.readline()  # bounded: the proxy ends after 30 s at most
        port = port_named(line)
        if not port:
            return f"log reader gone: the proxy did not start: {line!r}"
        proxy.stderr.close()
        proxy.send_signal(signal.SIGUSR1)  # its counters go to the pipe no one reads
        failure = no_tunnel(bindir, work, port, "--h3")
        if proxy.poll() is not None:
            return f"log reader gone: the proxy ended with status {proxy.returncode}"
        return None if failure is None else f"log reader gone: {failure}"
    finally:
        proxy.kill()
        proxy.wait()


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = f"/tmp/client_exit.{os.getpid()}"
    for name in ("pki", "other"):
        subprocess.run(["sh", os.path.join(TOOLS, "test-ca.sh"), f"{work}/{name}"], check=True)
    port = free_port()
    log = f"{work}/proxy.log"
    with open(log, "w", encoding="utf-8") as plog:
        proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                  f"127.0.0.1:{port}", "--no-h2",
                                  "--cert", f"{work}/pki/localhost.pem",
                                  "--key", f"{work}/pki/localhost.key", "--run-seconds", "60"],
                                 stderr=plog)
    failures = usage_errors(bindir, work)
    failures += open_files(bindir, work)
    failures += tls_refusals(bindir, work)
    for check in (port_zero, port_zero_tcp_taken, log_reader_gone):
        failure = check(bindir, work)
        if failure is not None:
            failures.append(failure)
    try:
        end = time.monotonic() + 15  # the clients must not race the proxy's start
        while time.monotonic() < end and "listening on" not in open(log, encoding="utf-8").read():
            time.sleep(0.05)
        good = run_client(bindir, port, f"{work}/pki/ca.pem", 6)
        # A --public-address-file that cannot be written: the tunnel works, and the client
        # says why the file is not there (it said nothing).
        unwritten = run_client(bindir, port, f"{work}/pki/ca.pem", 3,
                               ("--public-address-file", f"{work}/no-such-dir/public"))
        if unwritten.returncode != 0 or "public address:" not in unwritten.stdout or \
                "cannot write --public-address-file" not in unwritten.stderr:
            failures.append(f"an unwritable --public-address-file: exit {unwritten.returncode}, "
                            f"stderr {unwritten.stderr.strip()!r}")
        if good.returncode != 0 or "public address:" not in good.stdout:
            failures.append(f"a working tunnel exited {good.returncode}: {good.stderr.strip()}")
        # stdin closed (`<&-`): the client's first socket took descriptor 0, and the client read
        # its own QUIC packets as lines of input ("bad peer ..."), and never ended.
        try:
            closed = subprocess.run([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                     f"127.0.0.1:{port}", "--authority", "localhost", "--ca",
                                     f"{work}/pki/ca.pem", "--run-seconds", "3"],
                                    preexec_fn=lambda: os.close(0), capture_output=True,
                                    text=True, timeout=30, errors="replace")
            if closed.returncode != 0 or "public address:" not in closed.stdout or \
                    "bad peer" in closed.stdout + closed.stderr:
                failures.append(f"stdin closed: exit {closed.returncode}, output "
                                f"{(closed.stdout + closed.stderr).strip()[:200]!r}")
        except subprocess.TimeoutExpired:
            failures.append("stdin closed: the client still ran 30 s after a 3 s run")
        bad = run_client(bindir, port, f"{work}/other/ca.pem", 5)
        if bad.returncode == 0 or "the proxy's certificate does not verify" not in bad.stderr:
            failures.append(f"an unverifiable proxy: exit {bad.returncode}, stderr "
                            f"{bad.stderr.strip()!r}")
        # No --ca: verification stays on, against the system's trusted CAs, which did not sign
        # the throw-away CA's certificate (the client once refused to start without a CA file).
        system = subprocess.run([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                 f"127.0.0.1:{port}", "--authority", "localhost", "--h3",
                                 "--run-seconds", "5"], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=60)
        if system.returncode != 1 or "The certificate issuer is unknown" not in system.stderr:
            failures.append(f"no --ca, the system's CAs: exit {system.returncode}, stderr "
                            f"{system.stderr.strip()!r}")
        for transport, says in (("--h3", "went silent"), ("--h2", "broke")):
            failure = vanishing_proxy(bindir, work, transport, says)
            if failure is not None:
                failures.append(failure)
        # The proxy by name: resolved (every address of localhost tried in the resolver's
        # order, where ::1 may come before the proxy's 127.0.0.1), and the name is the
        # authority TLS verifies. The port has leading zeros (8 digits), which the client once
        # cut to 7, and then asked port 0 or a tenth of the port.
        named = subprocess.run([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                f"localhost:{port:08d}", "--ca", f"{work}/pki/ca.pem",
                                "--run-seconds", "8"], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=60)
        if named.returncode != 0 or "public address:" not in named.stdout:
            failures.append(f"--proxy localhost:0..0PORT: exit {named.returncode}, "
                            f"{(named.stdout + named.stderr).strip()!r}")
        failure = every_address_tried(bindir, work)
        if failure not in (None, "skipped"):
            failures.append(failure)
        # No proxy: over HTTP/2 (after HTTP/3's time) the refused TCP connection is named as
        # such, not as a TLS failure; over HTTP/3 alone the run ends before any answer.
        for extra, says in (((), ": Connection refused"), (("--h3",), "masque-bind-client:")):
            nobody = run_client(bindir, free_port(), f"{work}/pki/ca.pem", 3, extra)
            if nobody.returncode == 0 or says not in nobody.stderr:
                failures.append(f"no proxy {' '.join(extra)}: exit {nobody.returncode}, stderr "
                                f"{nobody.stderr.strip()!r}")
    finally:
        proxy.kill()
        proxy.wait()
        subprocess.run(["rm", "-rf", work], check=False)
    if failures:
        print("client_exit: FAIL: " + "; ".join(failures))
        return 1
    print("client_exit: PASS (0 with a tunnel, 1 and a line on stderr without or when the proxy "
          "vanished, 2 and a line for an option value neither program can take)")
    return 0


def in_netns():
    """The part of port_zero_tcp_taken() run inside its network namespace."""
    failure = tcp_taken_in_netns(sys.argv[2], sys.argv[3])
    if failure is not None:
        print(failure)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(in_netns() if sys.argv[1:2] == ["--in-netns"] else main())
