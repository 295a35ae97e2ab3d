# SPDX-License-Identifier: GPL-3.0-only
"""What the end-to-end scripts that run the programs share: where the tools are, a work folder
with a throw-away CA, a free port,
a bounded wait for a line in a program's output file, a proxy started, a tunnel through the
programs with a datagram there and back, a local UDP echo service, a UDP path between a client
and a proxy that a script can spoil, and the verdict."""
import errno
import os
import random
import select
import socket
import subprocess
import threading
import time

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")


def work_with_pki(name):
    """A work folder for a script's run, /tmp/NAME.PID, with a throw-away CA and a certificate
    for localhost it signs in its pki/ (TLS verification stays on in every test)."""
    work = f"/tmp/{name}.{os.getpid()}"
    subprocess.run(["sh", os.path.join(TOOLS, "test-ca.sh"), f"{work}/pki"], check=True,
                   stdout=subprocess.DEVNULL)
    return work


def below_ephemeral_ports():
    """The ports below the kernel's ephemeral range (ip_local_port_range), from 10000: no
    socket bound to port 0 or connected without a bind is given one of them, so a port found
    free there stays free until the program that was told it binds it, while other tests run
    beside (a port the kernel chose could be handed to another test's socket meanwhile)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="utf-8") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return range(10000, low) if low - 10000 >= 1000 else None


def free_port(listen="127.0.0.1"):
    """A port free for both UDP and TCP (masque-proxy serves HTTP/3 and HTTP/2 on it) at
    `listen`, an IP literal (IPv6 in brackets), taken at random below the ephemeral ports where
    there is room. "[::]" is checked as the proxy binds it, dual stack: a port some other
    process holds on any address of either version (::1 say, as a client's ephemeral port) is
    not free there, however free it is on 127.0.0.1."""
    host = listen.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ports = below_ephemeral_ports()
    rng = random.SystemRandom()
    for _ in range(200):  # a port taken for TCP or UDP: another
        with socket.socket(family, socket.SOCK_STREAM) as t, \
                socket.socket(family, socket.SOCK_DGRAM) as u:
            if family == socket.AF_INET6:
                for s in (t, u):
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            try:
                t.bind((host, rng.choice(ports) if ports else 0))
                port = t.getsockname()[1]
                u.bind((host, port))
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
            return port
    raise RuntimeError(f"no port at {listen} is free for both UDP and TCP")


def wait_for(path, text, seconds=20):
    """The first line of the file at path that contains text, within seconds; None if none."""
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


def start_proxy(bindir, work, args=(), listen="127.0.0.1", log=None, port=None,
                new_session=False):
    """masque-proxy at `listen` (an IP literal, IPv6 in brackets) on a free port (or on `port`),
    with the throw-away CA's certificate, loopback targets allowed, its log in `log`
    (work/proxy.log by default), and waits until it listens: (process, port). A proxy that exits
    before it listens (the port was taken between free_port() and its bind: the tests run side
    by side) is started again on another port, up to five times, unless `port` was given.
    RuntimeError if it does not start. new_session: in a session of its own, for a test that
    stops it (SIGSTOP): else, should the shell that started the test exit meanwhile, its process
    group would be orphaned with a stopped member, and the kernel would send the group SIGHUP and
    SIGCONT (POSIX _exit())."""
    log = log or f"{work}/proxy.log"
    fixed = port
    for _ in range(5 if fixed is None else 1):
        port = fixed or free_port(listen)
        with open(log, "w", encoding="utf-8") as plog:
            proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                      f"{listen}:{port}", "--allow", "127.0.0.0/8",
                                      "--cert", f"{work}/pki/localhost.pem",
                                      "--key", f"{work}/pki/localhost.key",
                                      "--run-seconds", "90"] + list(args), stderr=plog,
                                     start_new_session=new_session)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if wait_for(log, "listening on", 0.2) is not None:
                return proxy, port
            if proxy.poll() is not None:
                break  # it could not bind: another port
        if proxy.poll() is None:  # alive but silent for 20 s: another port would not help
            proxy.kill()
            proxy.wait()
            break
    with open(log, encoding="utf-8") as f:
        raise RuntimeError(f"the proxy did not start: {f.read().strip()}")


class UdpPath(threading.Thread):
    """A UDP path for one client in front of a proxy's port (the client is given the address
    of `front`): each packet goes through forward(data, way), way "up" toward the proxy or
    "down" toward the client, which passes it on; a script's subclass spoils it."""

    def __init__(self, proxy_port):
        super().__init__(daemon=True)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.proxy = ("127.0.0.1", proxy_port)
        self.client = None
        self.stop = False

    def address(self):
        return f"127.0.0.1:{self.front.getsockname()[1]}"

    def forward(self, sock, data, to, way):  # pylint: disable=unused-argument
        sock.sendto(data, to)

    def run(self):
        while not self.stop:
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            if self.front in ready:
                data, self.client = self.front.recvfrom(65536)
                self.forward(self.back, data, self.proxy, "up")
            if self.back in ready:
                data, _ = self.back.recvfrom(65536)
                if self.client is not None:
                    self.forward(self.front, data, self.client, "down")


def stop_all(*things):
    """Ends what a script started, whichever of it started (None: not): processes are killed
    and reaped, UDP paths stopped."""
    for thing in things:
        if isinstance(thing, subprocess.Popen):
            thing.kill()
            thing.wait()
        elif isinstance(thing, UdpPath):
            thing.stop = True


def tunnel(bindir, work, name, proxy_args, client_args, listen="127.0.0.1",
           connect="127.0.0.1", every_tuple=False):
    """Starts a proxy listening at `listen` and a client --echo connecting to it at `connect`
    (IP literals, an IPv6 one in brackets); a peer sends a datagram to the public address the
    client prints and must get the echo back from it. With every_tuple, a peer on the loopback
    of each tuple's IP version does so with every public address the client prints. Returns
    (failure or None, client stderr)."""
    try:  # the client must not race the proxy's start
        proxy, port = start_proxy(bindir, work, proxy_args, listen, f"{work}/{name}.proxy")
    except RuntimeError as e:
        return f"{name}: {e}", ""
    out = f"{work}/{name}.out"
    err = f"{work}/{name}.err"
    client = None
    line = ""
    try:
        with open(out, "w", encoding="utf-8") as o, open(err, "w", encoding="utf-8") as e:
            client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                       f"{connect}:{port}", "--authority", "localhost",
                                       "--ca", f"{work}/pki/ca.pem", "--echo",
                                       "--run-seconds", "30"] + client_args,
                                      stdin=subprocess.DEVNULL, stdout=o, stderr=e)
        line = wait_for(out, "public address:", 15 if "bad" not in name else 5)
        if line is None:
            return f"{name}: no public address", open(err, encoding="utf-8").read()
        if wait_for(out, "acknowledged") is None:
            return f"{name}: the uncompressed context was not acknowledged", ""
        tuples = [line.split()[-1]]
        if every_tuple:
            with open(out, encoding="utf-8") as f:
                tuples = [t.split()[-1] for t in f if t.startswith("public address:")]
        for tup in tuples:
            host, pport = tup.rsplit(":", 1)
            host = host.strip("[]")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as peer:
                if every_tuple:
                    peer.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
                peer.settimeout(10)
                peer.sendto(b"through the tunnel", (host, int(pport)))
                data, src = peer.recvfrom(2048)
            if data != b"re: through the tunnel" or src[:2] != (host, int(pport)):
                return f"{name}: got {data!r} from {src} (public address {tup})", ""
        return None, open(err, encoding="utf-8").read()
    except socket.timeout:
        return f"{name}: no answer through the tunnel", ""
    except OSError as e:
        return f"{name}: the public address ({line!r}) cannot be sent to: {e}", ""
    finally:
        if client is not None:
            client.kill()
            client.wait()
        proxy.kill()
        proxy.wait()


class Echo(threading.Thread):
    """A local UDP service: answers every datagram with "echo: " and its text, and notes the
    sources it saw."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.sources = set()
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                data, src = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            self.sources.add(src)
            self.sock.sendto(b"echo: " + data, src)


def report(name, failures, proved, work, output=None):
    """Removes the work folder and says how the script went: PASS and what it proved, or FAIL,
    why, and the program output that tells more. Returns the exit status."""
    text = ""
    if output is not None and os.path.exists(output):
        with open(output, encoding="utf-8") as f:
            text = f.read()
    subprocess.run(["rm", "-rf", work], check=False)
    if failures:
        print(f"{name}: FAIL: " + "; ".join(failures))
        print(text)
        return 1
    print(f"{name}: PASS ({proved})")
    return 0
