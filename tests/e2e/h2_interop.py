#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Bind over HTTP/2 against an HTTP/2 stack libmasque does not share code with: Python's ssl and
the h2 package (python3-h2), with the capsules and Bind payloads written here from the figures of
RFC 9297 §3.2, RFC 9298 §4-5 and draft-ietf-masque-connect-udp-listen-10 §3-§5, never from
libmasque. Every byte each program sends is compared with what the drafts say it must be.

1. An independent client against masque-proxy: it waits for SETTINGS_ENABLE_CONNECT_PROTOCOL
   (RFC 8441 §3), sends the extended CONNECT with `*` targets (-10 §2), registers the
   uncompressed context and then a compressed one, exchanges datagrams with a UDP peer on both,
   sends a capsule as a peer may legally write it (after an unknown capsule, eight-byte
   varints, one byte per padded DATA frame), takes 1280 bytes through a 16-byte stream window
   (and registers its first context before the response came), closes the uncompressed context (after which an
   unknown peer is dropped, -10 §4.1), and ends the stream, after which the public address is
   closed (RFC 9298 §3.1).
2. An independent proxy against masque-bind-client --h2 --echo: it checks the request, answers
   103 and then 200 with six public addresses, of which the client keeps the first four it
   has room for (and a Capsule-Protocol parameter to ignore),
   acknowledges the client's uncompressed context, relays datagrams in (one of them written
   the unusual way above) and checks the echoes, registers a compressed context of its own (an
   odd ID) and checks the client's ACK and its echo on that context, all through a 16-byte
   stream window, then ends the stream: the client must end cleanly (exit status 0).
3. The same proxy against masque-bind-client --h2 --expose with a local UDP echo service: a
   remote peer's datagram reaches the service, the client registers a compressed context for
   the peer (an even ID, the peer's tuple) and the service's answers come back, on that
   context once it is acknowledged.
4. The same proxy breaking one rule at a time (Context ID 0 with `*` targets, an ACK of an ID
   never assigned, an ASSIGN of the client's parity or reusing its ID, a capsule with trailing
   bytes): the client resets the stream with PROTOCOL_ERROR and exits 1.
5. The independent client breaking one rule at a time, each on a request of its own on one
   connection (Context ID 0, a stray ACK, the proxy's parity, a reused ID, a second
   uncompressed context, trailing bytes): masque-proxy resets that stream with PROTOCOL_ERROR
   and a last request on the same connection works.
6. An independent proxy that never answers the Bind request: masque-bind-client --reconnect
   gives up after --connect-timeout-ms, says why, and asks again on a new connection.
7. An independent proxy whose first SETTINGS allow no stream: masque-bind-client sends its
   request only once a later SETTINGS raises SETTINGS_MAX_CONCURRENT_STREAMS.

Every wait is bounded; TLS is verified with a throw-away CA.
usage: h2_interop.py BUILD_DIR   (an interpreter with the h2 package: tools/run.sh installs it)
"""
import os
import socket
import ssl
import subprocess
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.exceptions
    import h2.events
    import h2.settings
except ImportError:
    print("h2_interop: FAIL: this interpreter has no h2 package (apt-get install python3-h2; "
          "tools/run.sh test installs it)")
    sys.exit(1)

import programs
from programs import Echo, report, wait_for, work_with_pki

DEADLINE = 20  # seconds for any one awaited event: generous for valgrind and a loaded machine
BIND_PATH = "/.well-known/masque/udp/%2A/%2A/"  # the default template, `*` percent-encoded
DATAGRAM, ASSIGN, ACK, CLOSE = 0x00, 0x11, 0x12, 0x13  # RFC 9297 §3.5; -10 §3
BIND_REQUEST = [(":method", "CONNECT"), (":protocol", "connect-udp"), (":scheme", "https"),
                (":authority", "localhost"), (":path", BIND_PATH), ("capsule-protocol", "?1"),
                ("connect-udp-bind", "?1")]  # RFC 9298 §3.4 over HTTP/2, -10 §2


class Failure(Exception):
    """A step went otherwise than the specs say."""


def varint(v):
    """RFC 9000 §16, the shortest encoding."""
    for prefix, size in ((0x00, 1), (0x40, 2), (0x80, 4), (0xC0, 8)):
        if v < 1 << (8 * size - 2):
            return (v | prefix << (8 * size - 8)).to_bytes(size, "big")
    raise ValueError(v)


def read_varint(b, pos):
    """(value, next position) or None when b ends inside the varint."""
    if pos >= len(b):
        return None
    size = 1 << (b[pos] >> 6)
    if pos + size > len(b):
        return None
    value = int.from_bytes(b[pos:pos + size], "big") & ((1 << (8 * size - 2)) - 1)
    return value, pos + size


def varint8(v):
    """RFC 9000 §16 in eight bytes: legal for any value, not minimal (RFC 9297 §1.1)."""
    return (v | 0xC0 << 56).to_bytes(8, "big")


def capsule(ctype, value):
    """RFC 9297 §3.2: Type (i), Length (i), Value."""
    return varint(ctype) + varint(len(value)) + value


def unusual_capsules(context_id, value):
    """A DATAGRAM capsule (Context ID context_id, then value) written as a peer may legally
    write it: after a capsule of a type nobody registered (skipped, RFC 9297 §3.2), with every
    varint in eight bytes (RFC 9297 §1.1)."""
    grease = varint(0x29 * 0x1F + 0x17)  # an unknown type, of the reserved 0x1f * N + 0x21 form
    payload = varint8(context_id) + value
    return (grease + varint(5) + b"skip!" + varint8(DATAGRAM) + varint8(len(payload)) + payload)


def tuple_bytes(host, port):
    """-10 §5: IP Version (8), IP Address (32), UDP Port (16)."""
    return b"\x04" + socket.inet_aton(host) + port.to_bytes(2, "big")


class Peer:
    """One end of HTTP/2 over TLS, with its capsule stream on one request stream."""

    def __init__(self, sock, conn):
        self.sock = sock
        self.conn = conn
        self.stream = None
        self.events = []
        self.capsule_bytes = b""
        self.ended = False
        self.expect_reset = False  # a StreamReset is then recorded, not a failure
        self.reset_code = None
        self.sock.settimeout(0.2)
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Reads what came (at most 0.2 s of waiting) into self.events and the capsule bytes."""
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        if not data:
            raise Failure("the connection was closed")
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if ev.stream_id == self.stream:
                    self.capsule_bytes += ev.data
            if isinstance(ev, h2.events.StreamEnded) and ev.stream_id == self.stream:
                self.ended = True
            if (isinstance(ev, h2.events.StreamReset) and self.expect_reset and
                    ev.stream_id == self.stream):
                self.reset_code = ev.error_code
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                raise Failure(f"{type(ev).__name__}: {ev}")
            self.events.append(ev)
        self.flush()

    def wait_event(self, kind, what):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            for i, ev in enumerate(self.events):
                if isinstance(ev, kind):
                    return self.events.pop(i)
            self.pump()
        raise Failure(f"no {what} within {DEADLINE} s")

    def next_capsule(self, what):
        """The next whole capsule on the stream: (type, value)."""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            t = read_varint(self.capsule_bytes, 0)
            n = t and read_varint(self.capsule_bytes, t[1])
            if n and len(self.capsule_bytes) >= n[1] + n[0]:
                value = self.capsule_bytes[n[1]:n[1] + n[0]]
                self.capsule_bytes = self.capsule_bytes[n[1] + n[0]:]
                return t[0], value
            self.pump()
        raise Failure(f"no {what} within {DEADLINE} s")

    def expect_capsule(self, ctype, value, what):
        got = self.next_capsule(what)
        if got != (ctype, value):
            raise Failure(f"{what}: expected type {ctype:#x} value {value.hex()}, "
                          f"got type {got[0]:#x} value {got[1].hex()}")

    def send_capsule(self, ctype, value):
        self.conn.send_data(self.stream, capsule(ctype, value))
        self.flush()

    def send_bytes_one_by_one(self, data):
        """Each byte of the capsule stream in a DATA frame of its own, padded: the other end
        must take a capsule cut anywhere (RFC 9297 §3.2; RFC 9113 §6.1 padding)."""
        for i in range(len(data)):
            self.conn.send_data(self.stream, data[i:i + 1], pad_length=3)
            self.flush()

    def wait_reset(self, who):
        """The other end resets the stream with PROTOCOL_ERROR (RFC 9297 §3.3: malformed, which
        HTTP/2 answers with a stream error PROTOCOL_ERROR, RFC 9113 §8.1.1)."""
        end = time.monotonic() + DEADLINE
        while self.reset_code is None and time.monotonic() < end:
            self.pump()
        if self.reset_code != h2.errors.ErrorCodes.PROTOCOL_ERROR:
            raise Failure(f"{who} reset the stream with {self.reset_code!r}, not PROTOCOL_ERROR")

    def round_trip(self):
        """An HTTP/2 PING and its ACK: the other end has processed everything sent before it."""
        self.conn.ping(b"in order")
        self.flush()
        self.wait_event(h2.events.PingAckReceived, "PING ACK")


def listener():
    """A TCP socket listening on a free loopback port, for masque-bind-client: (socket, port)."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(2)
    lsock.settimeout(DEADLINE)
    return lsock, lsock.getsockname()[1]


def accept(lsock, work, settings, what="the client did not connect"):
    """An HTTP/2 server connection for the next client on lsock, over TLS with the throw-away
    CA's certificate for localhost, offering extended CONNECT and these other SETTINGS."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(f"{work}/pki/localhost.pem", f"{work}/pki/localhost.key")
    ctx.set_alpn_protocols(["h2"])
    try:
        raw, _ = lsock.accept()
    except socket.timeout as exc:
        raise Failure(what) from exc
    raw.settimeout(DEADLINE)
    sock = ctx.wrap_socket(raw, server_side=True)
    if sock.selected_alpn_protocol() != "h2":
        raise Failure(f"ALPN chose {sock.selected_alpn_protocol()!r}, not h2")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                header_encoding="utf-8"))
    conn.local_settings = h2.settings.Settings(
        client=False,
        initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1, **settings})
    conn.initiate_connection()
    return Peer(sock, conn)


def udp_peer():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(DEADLINE)
    return s


def bind_response_public(response):
    """masque-proxy's answer to a Bind request (RFC 9298 §3.5, -10 §6-§7), its fields a dict,
    checked: its one public address, (host, port)."""
    for name, value in ((":status", "200"), ("capsule-protocol", "?1"),
                        ("connect-udp-bind", "?1")):
        if response.get(name) != value:
            raise Failure(f"response {name}: {response.get(name)!r}, not {value!r}")
    public = response.get("proxy-public-address", "")
    if not (public.startswith('"127.0.0.1:') and public.endswith('"')):
        raise Failure(f"Proxy-Public-Address {public!r}: not one quoted IPv4 tuple")
    return "127.0.0.1", int(public.strip('"').rsplit(":", 1)[1])


def expect_closed(sock, public):
    """The public address answers ICMP port unreachable within DEADLINE: its relay socket is
    closed, as RFC 9298 §3.1 has it when the request ends."""
    sock.connect(public)
    sock.settimeout(0.1)
    end = time.monotonic() + DEADLINE
    while True:
        sock.send(b"anyone there?")
        try:
            sock.recv(2048)
            raise Failure("the public address still answers after the request ended")
        except ConnectionRefusedError:
            return
        except socket.timeout:
            if time.monotonic() > end:
                raise Failure("the public address stayed open after the request ended")


def header_map(headers):
    return {k: v for k, v in headers}


def check_windows(peer, settings, who):
    """Flow control (RFC 9113 §6.9): the program's SETTINGS (the event `settings`) let its
    peer send 4 MiB on a stream, and its first WINDOW_UPDATE raises the connection's window
    from 65535 to 16 MiB, ahead of any data: HTTP/2's default 64 KiB would hold a tunnel to
    64 KiB a round trip (about 10 Mbit/s at 50 ms)."""
    window = settings.changed_settings.get(h2.settings.SettingCodes.INITIAL_WINDOW_SIZE)
    if window is None or window.new_value != 4 << 20:
        raise Failure(f"{who}'s SETTINGS_INITIAL_WINDOW_SIZE is "
                      f"{window and window.new_value}, not 4 MiB")
    update = peer.wait_event(h2.events.WindowUpdated, f"{who}'s WINDOW_UPDATE")
    if (update.stream_id, update.delta) != (0, (16 << 20) - 65535):
        raise Failure(f"{who}'s first WINDOW_UPDATE: stream {update.stream_id}, increment "
                      f"{update.delta}, not the connection's window raised to 16 MiB")


def start_proxy(bindir, work, args=()):
    """programs.start_proxy(), its failure a Failure."""
    try:
        return programs.start_proxy(bindir, work, args)
    except RuntimeError as exc:
        raise Failure(str(exc)) from exc


def connect(port, work, settings=None):
    """An HTTP/2 client connection to the proxy at port, over TLS verified against the
    throw-away CA, with these local SETTINGS: its Peer, the proxy's SETTINGS not yet read."""
    ctx = ssl.create_default_context(cafile=f"{work}/pki/ca.pem")
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE),
                           server_hostname="localhost")
    if sock.selected_alpn_protocol() != "h2":
        raise Failure(f"ALPN chose {sock.selected_alpn_protocol()!r}, not h2")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    if settings:
        conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
    conn.initiate_connection()
    return Peer(sock, conn)


def against_the_proxy(bindir, work):
    """Part 1: an independent client, masque-proxy serving it.
    Proves: QV-2, DG-9, UDP-6, UDP-7, BIND-6, BIND-20, BIND-25, BIND-28."""
    proxy, port = start_proxy(bindir, work)
    try:
        # A stream window of 16 bytes (RFC 9113 §6.9.2): the proxy must cut its capsules into
        # DATA frames that fit and wait for each WINDOW_UPDATE.
        peer = connect(port, work, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
        conn = peer.conn
        # RFC 8441 §3: no extended CONNECT before the server said it takes one.
        ev = peer.wait_event(h2.events.RemoteSettingsChanged, "SETTINGS")
        enable = ev.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
        if enable is None or enable.new_value != 1:
            raise Failure("the proxy's SETTINGS lack ENABLE_CONNECT_PROTOCOL=1")
        check_windows(peer, ev, "the proxy")
        peer.stream = conn.get_next_available_stream_id()
        conn.send_headers(peer.stream, BIND_REQUEST)
        # -10 §4: the uncompressed context (an even ID: ours), sent at once behind the request,
        # before the response (as RFC 9298 §5 lets datagrams go optimistically).
        peer.send_capsule(ASSIGN, varint(2) + b"\x00")
        public_tuple = bind_response_public(
            header_map(peer.wait_event(h2.events.ResponseReceived, "response").headers))

        peer.expect_capsule(ACK, varint(2), "COMPRESSION_ACK of the uncompressed context")
        a = udp_peer()
        a_host, a_port = a.getsockname()
        a.sendto(b"from peer A", public_tuple)
        peer.expect_capsule(DATAGRAM, varint(2) + tuple_bytes(a_host, a_port) + b"from peer A",
                            "peer A's datagram on the uncompressed context")
        peer.send_capsule(DATAGRAM, varint(2) + tuple_bytes(a_host, a_port) + b"to peer A")
        data, src = a.recvfrom(2048)
        if (data, src) != (b"to peer A", public_tuple):
            raise Failure(f"peer A got {data!r} from {src}, not 'to peer A' from {public_tuple}")

        # -10 §5: a compressed context for peer A; the proxy then uses it (not the tuple).
        peer.send_capsule(ASSIGN, varint(4) + tuple_bytes(a_host, a_port))
        peer.expect_capsule(ACK, varint(4), "COMPRESSION_ACK of the compressed context")
        a.sendto(b"compressed", public_tuple)
        peer.expect_capsule(DATAGRAM, varint(4) + b"compressed",
                            "peer A's datagram on its compressed context")
        peer.send_capsule(DATAGRAM, varint(4) + b"via context 4")
        data, src = a.recvfrom(2048)
        if (data, src) != (b"via context 4", public_tuple):
            raise Failure(f"peer A got {data!r} from {src} on context 4")
        big = bytes(range(256)) * 5  # 1280 bytes: a capsule of 80 windows of 16 bytes
        a.sendto(big, public_tuple)
        peer.expect_capsule(DATAGRAM, varint(4) + big, "1280 bytes through a 16-byte window")

        # Legal but unusual: an unknown capsule, eight-byte varints, one byte per DATA frame.
        peer.send_bytes_one_by_one(unusual_capsules(4, b"cut anywhere"))
        data, src = a.recvfrom(2048)
        if (data, src) != (b"cut anywhere", public_tuple):
            raise Failure(f"peer A got {data!r} from {src} from a capsule cut byte by byte")

        # -10 §4.1: without the uncompressed context, an unknown peer is dropped. B's datagram
        # reaches the relay socket before A's, so had it been forwarded it would come first.
        peer.send_capsule(CLOSE, varint(2))
        peer.round_trip()
        b = udp_peer()
        b.sendto(b"from unknown peer B", public_tuple)
        a.sendto(b"after B", public_tuple)
        peer.expect_capsule(DATAGRAM, varint(4) + b"after B",
                            "peer A's next datagram (and nothing of peer B's)")

        # RFC 9298 §3.1: ending the request stream closes its UDP socket.
        conn.end_stream(peer.stream)
        peer.flush()
        end = time.monotonic() + DEADLINE
        while not peer.ended and time.monotonic() < end:
            peer.pump()
        if not peer.ended:
            raise Failure("the proxy did not end its side of the stream")
        expect_closed(a, public_tuple)
        peer.sock.close()
    finally:
        proxy.kill()
        proxy.wait()


CLIENT_BROKEN_RULES = [
    ("-13 §3: Context ID 0 with `*` targets (BIND-3)",
     [(DATAGRAM, varint(0) + b"no such context")]),
    ("-10 §3.2: an ACK of an ID the proxy never assigned", [(ACK, varint(1))]),
    ("RFC 9298 §4, -10 §3.1: an ASSIGN with the proxy's parity",
     [(ASSIGN, varint(1) + b"\x00")]),
    ("-10 §3.1: an ASSIGN reusing an ID", [(ASSIGN, varint(4) + tuple_bytes("127.0.0.1", 9)),
                                          (ASSIGN, varint(4) + tuple_bytes("127.0.0.1", 10))]),
    ("-10 §4: a second uncompressed context", [(ASSIGN, varint(6) + b"\x00")]),
    ("RFC 9297 §3.3: a COMPRESSION_ACK with bytes after its field",
     [(ACK, varint(3) + b"\x00")]),
]


def against_the_proxy_rules(bindir, work):
    """Part 5: an independent client breaking one rule at a time, each on a request of its own
    on one connection: masque-proxy resets that stream with PROTOCOL_ERROR (RFC 9297 §3.3,
    RFC 9113 §8.1.1), and the connection goes on: a last request works. Then a field longer
    than nghttp2 decodes (200 KB): the proxy ends that connection with a GOAWAY carrying an
    error, and its log (-v) says so and counts the end as its own, not as a broken connection;
    and a bad preface, which the log names.
    Proves: DG-11, DG-12, BIND-3, BIND-9, BIND-10, BIND-16, BIND-22."""
    proxy, port = start_proxy(bindir, work, ["-v"])
    try:
        peer = connect(port, work)
        conn = peer.conn
        peer.wait_event(h2.events.RemoteSettingsChanged, "SETTINGS")
        for rule, capsules in CLIENT_BROKEN_RULES + [(None, [])]:
            peer.stream = conn.get_next_available_stream_id()
            peer.capsule_bytes = b""
            peer.expect_reset = rule is not None
            peer.reset_code = None
            conn.send_headers(peer.stream, BIND_REQUEST)
            peer.flush()
            status = header_map(peer.wait_event(h2.events.ResponseReceived,
                                                "a response").headers).get(":status")
            if status != "200":
                raise Failure(f"request for {rule or 'the last one'} answered {status}")
            peer.send_capsule(ASSIGN, varint(2) + b"\x00")
            peer.expect_capsule(ACK, varint(2), "COMPRESSION_ACK of the uncompressed context")
            for ctype, value in capsules:
                peer.send_capsule(ctype, value)
            if rule is None:
                break  # the connection survived every broken request: this one works
            peer.wait_reset(f"{rule}: the proxy")
        peer.sock.close()

        # The proxy closes the socket with the rest of the field unread: the kernel may then
        # answer with a reset that takes the GOAWAY with it, so the log tells what was sent.
        peer = connect(port, work)
        peer.wait_event(h2.events.RemoteSettingsChanged, "SETTINGS")
        answered = None
        try:
            peer.conn.send_headers(peer.conn.get_next_available_stream_id(),
                                   BIND_REQUEST + [("x-big", "a" * 200000)])
            peer.flush()
            answered = peer.wait_event(h2.events.ResponseReceived, "the end of the connection")
        except Failure as exc:
            if "error_code:0," in str(exc):
                raise Failure(f"a 200 KB field: {exc}, not a GOAWAY with an error") from exc
        except OSError:
            pass
        peer.sock.close()
        if answered is not None:
            raise Failure("a 200 KB field was answered")
        if wait_for(f"{work}/proxy.log", "sent GOAWAY: ") is None or \
                wait_for(f"{work}/proxy.log", "(closed by the proxy)") is None:
            raise Failure("after a 200 KB field the proxy's log has no GOAWAY of its own")

        # HTTP/1.1 where the HTTP/2 preface belongs (RFC 9113 §3.4): the proxy closes, and
        # its log says what nghttp2 found.
        ctx = ssl.create_default_context(cafile=f"{work}/pki/ca.pem")
        ctx.set_alpn_protocols(["h2"])
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE),
                             server_hostname="localhost") as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" + bytes(64))
            try:
                while raw.recv(4096):
                    pass  # the proxy's SETTINGS and GOAWAY, then its end of the connection
            except OSError:
                pass
        if wait_for(f"{work}/proxy.log", "read: HTTP/2: Received bad client magic") is None:
            raise Failure("after a bad HTTP/2 preface the proxy's log does not say why")
    finally:
        proxy.kill()
        proxy.wait()


def serve_bind_client(bindir, work, args, scenario):
    """An independent proxy for masque-bind-client --h2 ARGS: it checks the request, answers
    103 and then 200, acknowledges the client's uncompressed context, runs scenario(peer, id
    of that context), and ends the stream: the client must end cleanly (exit status 0)."""
    lsock, port = listener()
    out = f"{work}/client.out"
    with open(out, "w", encoding="utf-8") as o, open(f"{work}/client.err", "w",
                                                      encoding="utf-8") as e:
        client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                   f"127.0.0.1:{port}", "--authority", "localhost",
                                   "--ca", f"{work}/pki/ca.pem", "--h2",
                                   "--run-seconds", "60"] + args,
                                  stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    try:
        peer = accept(lsock, work, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
        conn = peer.conn
        request = peer.wait_event(h2.events.RequestReceived, "the Bind request")
        peer.stream = request.stream_id
        check_windows(peer, peer.wait_event(h2.events.RemoteSettingsChanged, "SETTINGS"),
                      "the client")
        headers = header_map(request.headers)
        for name, value in BIND_REQUEST:
            if headers.get(name) != value:
                raise Failure(f"request {name}: {headers.get(name)!r}, not {value!r}")
        # An interim response first (RFC 9110 §15.2), whose fields are not the final one's
        # (its Proxy-Public-Address must not join the 200's), and a parameter the client must
        # ignore (RFC 9297 §3.4, RFC 9651 §3.1.2).
        conn.send_headers(peer.stream, [(":status", "103"), ("link", "</hint>; rel=preload"),
                                        ("proxy-public-address", '"192.0.2.99:1"')])
        # Six public addresses (-10 §7 lets a proxy bind several): the client keeps the four it
        # has room for (MASQUE_PUBLIC_ADDRESSES_MAX), in order, rather than refusing.
        public = [f"192.0.2.{44 + i}:{4444 + i}" for i in range(6)]
        conn.send_headers(peer.stream, [(":status", "200"), ("capsule-protocol", "?1;x=1"),
                                        ("connect-udp-bind", "?1"),
                                        ("proxy-public-address",
                                         ", ".join(f'"{t}"' for t in public))])
        peer.flush()
        # The client's capsules come next; the lines are printed before them (flushed).
        ctype, value = peer.next_capsule("the client's COMPRESSION_ASSIGN")
        wait_for(out, "public address:", 1)
        with open(out, encoding="utf-8") as f:
            printed = [l.split()[-1] for l in f if l.startswith("public address:")]
        if printed != public[:4]:
            raise Failure(f"the client printed {printed} for the Proxy-Public-Address")

        # The client's uncompressed context: an even ID, IP Version 0 (-10 §4).
        parsed = read_varint(value, 0)
        if ctype != ASSIGN or parsed is None or value[parsed[1]:] != b"\x00":
            raise Failure(f"expected an uncompressed COMPRESSION_ASSIGN, got type {ctype:#x} "
                          f"value {value.hex()}")
        cid = parsed[0]
        if cid == 0 or cid % 2 != 0:
            raise Failure(f"the client assigned Context ID {cid}: not even and non-zero")
        peer.send_capsule(ACK, varint(cid))
        if scenario(peer, cid) == "reset":
            # A broken rule: the client aborts the request and fails.
            peer.wait_reset("the client")
            if client.wait(DEADLINE) != 1:
                raise Failure(f"the client exited with {client.returncode}, not 1")
            peer.sock.close()
            return

        # The proxy ends the tunnel in order: the client ends too, and says all went well.
        conn.end_stream(peer.stream)
        peer.flush()
        end = time.monotonic() + DEADLINE
        while client.poll() is None and time.monotonic() < end:
            try:
                peer.pump()
            except Failure:
                time.sleep(0.05)  # the client closed the connection: its exit is next
        if client.poll() is None:
            raise Failure("the client did not end after the proxy ended the stream")
        if client.returncode != 0:
            raise Failure(f"the client exited with {client.returncode} after a clean end")
        peer.sock.close()
    finally:
        if client.poll() is None:
            client.kill()
        client.wait()
        lsock.close()


def echo_scenario(peer, cid):
    """Part 2, masque-bind-client --echo: datagrams in, the echoes checked byte for byte."""
    target = tuple_bytes("198.51.100.7", 5353)
    peer.send_capsule(DATAGRAM, varint(cid) + target + b"hello, independently")
    peer.expect_capsule(DATAGRAM, varint(cid) + target + b"re: hello, independently",
                        "the client's echo on its uncompressed context")
    text = b"0123456789abcdef" * 75  # 1200 bytes, whose echo crosses 76 windows of 16
    peer.send_capsule(DATAGRAM, varint(cid) + target + text)
    peer.expect_capsule(DATAGRAM, varint(cid) + target + b"re: " + text,
                        "the client's echo of 1200 bytes through a 16-byte window")
    peer.send_bytes_one_by_one(unusual_capsules(cid, target + b"cut anywhere"))
    peer.expect_capsule(DATAGRAM, varint(cid) + target + b"re: cut anywhere",
                        "the client's echo of a capsule cut byte by byte")

    # A context the proxy registers (an odd ID, -10 §3): the client acknowledges it and then
    # answers that peer on it, payload only (-10 §5).
    peer.send_capsule(ASSIGN, varint(1) + target)
    peer.expect_capsule(ACK, varint(1), "the client's COMPRESSION_ACK of Context ID 1")
    peer.send_capsule(DATAGRAM, varint(1) + b"on context 1")
    peer.expect_capsule(DATAGRAM, varint(1) + b"re: on context 1",
                        "the client's echo on the proxy's compressed context")


def expose_scenario(echo):
    """Part 3, masque-bind-client --expose: a remote peer's datagrams reach the local service
    from a local socket of the peer's own, the client registers a compressed context for the
    peer (an even ID, its tuple: -10 §3, §5), and the service's answers come back, on that
    context once it is acknowledged."""

    def scenario(peer, cid):
        target = tuple_bytes("203.0.113.9", 40000)
        peer.send_capsule(DATAGRAM, varint(cid) + target + b"to the service")
        compressed = None
        answered = False
        while compressed is None or not answered:
            ctype, value = peer.next_capsule("the client's answer and its registration")
            parsed = read_varint(value, 0)
            if ctype == ASSIGN and parsed and value[parsed[1]:] == target:
                if parsed[0] % 2 != 0 or parsed[0] == cid:
                    raise Failure(f"expose registered Context ID {parsed[0]} for the peer")
                compressed = parsed[0]
                peer.send_capsule(ACK, varint(compressed))
            elif ctype == DATAGRAM and (
                    value == varint(cid) + target + b"echo: to the service" or
                    (compressed is not None and
                     value == varint(compressed) + b"echo: to the service")):
                answered = True
            else:
                raise Failure(f"unexpected capsule type {ctype:#x} value {value.hex()}")
        peer.round_trip()  # the client has the ACK: it answers on the compressed context now
        peer.send_capsule(DATAGRAM, varint(compressed) + b"again")
        peer.expect_capsule(DATAGRAM, varint(compressed) + b"echo: again",
                            "the service's answer on the peer's compressed context")
        if len(echo.sources) != 1:
            raise Failure(f"the service saw {len(echo.sources)} sources for one remote peer")

    return scenario


def breaking(rule, capsules):
    """A scenario in which the proxy breaks `rule` by sending `capsules`: the client must
    abort the request."""

    def scenario(peer, cid):
        peer.expect_reset = True
        for ctype, value in capsules(cid):
            peer.send_capsule(ctype, value)
        return "reset"

    scenario.rule = rule
    return scenario


# Rules a proxy can break after the client's uncompressed context (Context ID cid) is
# acknowledged, and the capsules that break each (h3_interop.py sends them too).
PROXY_BROKEN_RULES = [
    ("-13 §3: Context ID 0 with `*` targets (BIND-3)",
     lambda cid: [(DATAGRAM, varint(0) + b"no such context")]),
    ("-10 §3.2: an ACK of an ID the client never assigned", lambda cid: [(ACK, varint(cid + 2))]),
    ("RFC 9298 §4, -10 §3.1: an ASSIGN with the client's parity",
     lambda cid: [(ASSIGN, varint(cid + 2) + tuple_bytes("198.51.100.7", 1))]),
    ("-10 §3.1: an ASSIGN reusing the client's ID",
     lambda cid: [(ASSIGN, varint(cid) + tuple_bytes("198.51.100.7", 1))]),
    ("RFC 9297 §3.3: a COMPRESSION_CLOSE with bytes after its field",
     lambda cid: [(CLOSE, varint(cid) + b"\x00")]),
]
BROKEN_RULES = [breaking(rule, capsules) for rule, capsules in PROXY_BROKEN_RULES]


def against_the_client(bindir, work):
    """Part 2: an independent proxy, masque-bind-client --h2 --echo its client.
    Proves: DG-9, DG-15, UDP-3, BIND-1, BIND-6, BIND-9, BIND-20."""
    serve_bind_client(bindir, work, ["--echo"], echo_scenario)


def against_expose_mode(bindir, work):
    """Part 3: an independent proxy, masque-bind-client --h2 --expose a local service.
    Proves: BIND-9."""
    echo = Echo()
    echo.start()
    try:
        host, port = echo.sock.getsockname()
        serve_bind_client(bindir, work, ["--expose", f"{host}:{port}"], expose_scenario(echo))
    finally:
        echo.stop = True


def against_a_silent_proxy(bindir, work):
    """Part 6: an independent proxy that completes the handshakes, takes the Bind request and
    never answers it (an application that hangs behind a live HTTP/2 stack). masque-bind-client
    --reconnect gives the answer --connect-timeout-ms, says so, and asks again on a new
    connection."""
    lsock, port = listener()
    err = f"{work}/silent.err"
    with open(err, "w", encoding="utf-8") as e:
        client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                   f"127.0.0.1:{port}", "--authority", "localhost",
                                   "--ca", f"{work}/pki/ca.pem", "--h2", "--reconnect",
                                   "--connect-timeout-ms", "3000", "--run-seconds", "60"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e)
    try:
        for attempt in (1, 2):
            peer = accept(lsock, work, {},
                          f"no connection attempt {attempt} within {DEADLINE} s")
            peer.wait_event(h2.events.RequestReceived, "the Bind request")
            if attempt == 1:
                # Never answered: the client must leave the connection (GOAWAY, then EOF).
                end = time.monotonic() + DEADLINE
                try:
                    while time.monotonic() < end:
                        peer.pump()
                except Failure:
                    pass  # the client closed the connection
                else:
                    raise Failure(f"the client still waited for the answer after {DEADLINE} s")
            peer.sock.close()
        if wait_for(err, "did not answer the Bind request within 3000 ms", 1) is None:
            raise Failure("the client did not say why it gave up")
    finally:
        client.kill()
        client.wait()
        lsock.close()


def against_a_proxy_with_no_stream_yet(bindir, work):
    """Part 7: an independent proxy whose first SETTINGS allow no stream
    (SETTINGS_MAX_CONCURRENT_STREAMS 0, RFC 9113 §5.1.2; it has ENABLE_CONNECT_PROTOCOL).
    masque-bind-client keeps its request, unsent, until a later SETTINGS raises the limit
    (§6.5.3: a change applies when received), then sends it."""
    lsock, port = listener()
    client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                               f"127.0.0.1:{port}", "--authority", "localhost",
                               "--ca", f"{work}/pki/ca.pem", "--h2", "--run-seconds", "60"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        peer = accept(lsock, work, {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 0})
        # The client has taken the SETTINGS (its ACK), and everything before a PING: a request
        # it sent anyway would have come by now.
        peer.wait_event(h2.events.SettingsAcknowledged, "the client's SETTINGS ACK")
        peer.round_trip()
        if any(isinstance(ev, h2.events.RequestReceived) for ev in peer.events):
            raise Failure("the client sent its request while SETTINGS_MAX_CONCURRENT_STREAMS "
                          "was 0")
        peer.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        peer.flush()
        request = peer.wait_event(h2.events.RequestReceived,
                                  "the Bind request once the limit was raised")
        headers = header_map(request.headers)
        if headers.get(":protocol") != "connect-udp":
            raise Failure(f"the request after the raise: {headers!r}")
    except h2.exceptions.ProtocolError as exc:
        raise Failure(f"the client broke HTTP/2: {exc!r}") from exc
    finally:
        client.kill()
        client.wait()
        lsock.close()


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("h2_interop")
    failures = []
    for name, part in (("against masque-proxy", against_the_proxy),
                       ("against masque-bind-client", against_the_client),
                       ("against masque-bind-client --expose", against_expose_mode),
                       ("masque-proxy against broken requests", against_the_proxy_rules),
                       ("masque-bind-client against a silent proxy", against_a_silent_proxy),
                       ("masque-bind-client against a proxy with no stream yet",
                        against_a_proxy_with_no_stream_yet)):
        try:
            part(bindir, work)
        except (Failure, OSError) as exc:
            failures.append(f"{name}: {exc}")
    for scenario in BROKEN_RULES:
        try:
            serve_bind_client(bindir, work, ["--echo"], scenario)
        except (Failure, OSError) as exc:
            failures.append(f"a proxy that breaks {scenario.rule}: {exc}")
    return report("h2_interop", failures,
                  "an independent HTTP/2 client and proxy (python3-h2) agree with masque-proxy "
                  "and masque-bind-client byte for byte", work, f"{work}/proxy.log")


if __name__ == "__main__":
    sys.exit(main())
