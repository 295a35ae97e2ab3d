#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Bind over HTTP/3 against a QUIC stack libmasque does not share code with: quinn and rustls
(tests/e2e/quic_peer, built from Debian's librust-*-dev packages), with HTTP/3 framing (RFC 9114
§7), QPACK (RFC 9204, static table and literals; Huffman strings decoded by python3-hpack),
HTTP/3 datagrams (RFC 9297 §2), capsules and Bind payloads written here from the RFCs and
draft-ietf-masque-connect-udp-listen-10, never from libmasque, ngtcp2 or nghttp3. Every byte
each program sends is compared with what the specs say it must be.

1. An independent client against masque-proxy, in QUIC DATAGRAM frames: it waits for the
   proxy's SETTINGS (ENABLE_CONNECT_PROTOCOL and H3_DATAGRAM, RFC 9220 §3, RFC 9297 §2.1.1),
   sends the extended CONNECT with `*` targets and its uncompressed context before the
   response, exchanges datagrams with a UDP peer on it and on a compressed context (each
   datagram's Quarter Stream ID and Context ID checked), writes a capsule one byte per DATA
   frame with reserved frames between (RFC 9114 §7.2.8), opens a second Bind request on the
   same connection (its own public address; datagrams routed by Quarter Stream ID), ends the
   first one cleanly (its public address closes, RFC 9298 §3.1, and the second still relays),
   and sends datagrams for a stream not yet open and for the ended one (dropped, RFC 9297
   §2.1); a third request cancelled with RESET_STREAM alone and a fourth with STOP_SENDING
   alone end whole (their public addresses close) while the second relays on, through a key
   update too, until the client closes the connection (its address closes). Along the
   way, what a peer may legally do that libmasque never does: SETTINGS of 700
   bytes (reserved identifiers, eight-byte varints), a stream of a reserved type, HEADERS and
   a capsule cut into one-byte pieces between reserved and empty frames, eight-byte varints
   in a DATAGRAM frame, a PRIORITY_UPDATE frame and a Priority field (RFC 9218).
2. The same client without the max_datagram_frame_size transport parameter (and a stream
   window of 64 bytes), and then without SETTINGS_H3_DATAGRAM: HTTP/3 datagrams are not
   negotiated, so the proxy must carry them in DATAGRAM capsules (RFC 9297 §3.5), a burst of
   1200-byte ones whole and in order, and take the client's.
3. The independent client breaking one rule per request (a FIN inside a capsule, Context ID 0,
   a stray ACK, the proxy's parity): masque-proxy resets that stream with H3_MESSAGE_ERROR
   (RFC 9297 §3.3), and so does a malformed request (MALFORMED_REQUESTS, RFC 9114 §4.1.2);
   100 requests cancelled at once, half before their HEADERS, give their stream credit back;
   and a last request on the connection works; then eight connection errors
   (CONNECTION_ERRORS), each on a connection of its own, whose CONNECTION_CLOSE must carry
   the HTTP/3 code (RFC 9114 §8, RFC 9297 §2.1), and the log a reason; and one whose
   CONNECTION_CLOSE is lost on the way: the client's next packet gets it again (RFC 9000
   §10.2.1). Then masque-proxy killed and started again on its port: the client's next packet
   meets a Stateless Reset that quinn accepts (RFC 9000 §10.3).
4. An independent proxy against masque-bind-client --echo: it offers extended CONNECT and
   HTTP/3 datagrams, checks the request (sent only after the proxy's SETTINGS), answers 200,
   acknowledges the client's uncompressed context, checks the echoes of datagrams sent in
   DATAGRAM frames and on a context of its own (an odd ID), and ends the stream: the client
   ends cleanly (exit status 0). Then the same without the max_datagram_frame_size transport
   parameter: the client must use DATAGRAM capsules (through a 64-byte stream window).
   And with its control stream written unusually (see part 1), the response's HEADERS and the
   capsules cut into one-byte pieces: the client must still find ENABLE_CONNECT_PROTOCOL, the
   response and the capsules. Then masque-bind-client --expose a local echo service, in
   DATAGRAM frames: the peer's compressed context (an even ID, the peer's tuple), answers on
   it once acknowledged, one local source for the peer.
5. The independent proxy breaking one rule at a time once the tunnel is up (h2_interop.py's
   list): the client resets the request with H3_MESSAGE_ERROR and exits 1 at once, whether
   or not the proxy answers its STOP_SENDING; and a proxy that cancels the tunnel with
   RESET_STREAM alone: the client resets its side too and exits 1 at once; and malformed
   responses (MALFORMED_RESPONSES): the client resets with H3_MESSAGE_ERROR, says why, exits 1.
6. An independent proxy without SETTINGS_ENABLE_CONNECT_PROTOCOL: masque-bind-client sends no
   request, says why, and exits 1.

Every wait is bounded; TLS is verified with a throw-away CA.
usage: h3_interop.py BUILD_DIR QUIC_PEER   (an interpreter with python3-hpack, which python3-h2
brings; tools/run.sh installs both, and the packages quic_peer is built from)
"""
import os
import subprocess
import sys
import threading
import time

try:
    from hpack.huffman_table import decode_huffman
except ImportError:
    print("h3_interop: FAIL: this interpreter has no hpack package (apt-get install python3-h2; "
          "tools/run.sh test installs it)")
    sys.exit(1)

from h2_interop import (ACK, ASSIGN, DATAGRAM, DEADLINE, BIND_REQUEST, PROXY_BROKEN_RULES,
                        Failure, bind_response_public, capsule, expect_closed, read_varint,
                        start_proxy, tuple_bytes, udp_peer, varint, varint8)
import programs
from programs import Echo, UdpPath, report, stop_all, wait_for, work_with_pki

# RFC 9114 §7.2 frame types, §6.2 stream types, §7.2.4.1 and RFC 9204 §5 settings, RFC 9220 §3,
# RFC 9297 §2.1.1; §8.1 error codes; RFC 9297 §5.2.
DATA, HEADERS, SETTINGS = 0x00, 0x01, 0x04
CONTROL_STREAM = 0x00
QPACK_MAX_TABLE_CAPACITY, QPACK_BLOCKED_STREAMS = 0x01, 0x07
ENABLE_CONNECT_PROTOCOL, H3_DATAGRAM = 0x08, 0x33
H3_STREAM_CREATION_ERROR, H3_CLOSED_CRITICAL_STREAM, H3_FRAME_UNEXPECTED = 0x103, 0x104, 0x105
H3_REQUEST_CANCELLED, H3_EXCESSIVE_LOAD, H3_INTERNAL_ERROR = 0x10C, 0x107, 0x102
GOAWAY = 0x07
H3_ID_ERROR, H3_SETTINGS_ERROR, H3_MESSAGE_ERROR, H3_DATAGRAM_ERROR = 0x108, 0x109, 0x10E, 0x33
RESERVED_FRAME = 0x1F * 3 + 0x21  # RFC 9114 §7.2.8: to be ignored wherever frames may go
RESERVED_CODE = 0x1F * 5 + 0x21  # RFC 9114 §8.1: an error code of no meaning, to be greased

# RFC 9204 Appendix A: the static table, index by index.
STATIC_TABLE = [
    (":authority", ""), (":path", "/"), ("age", "0"), ("content-disposition", ""),
    ("content-length", "0"), ("cookie", ""), ("date", ""), ("etag", ""),
    ("if-modified-since", ""), ("if-none-match", ""), ("last-modified", ""), ("link", ""),
    ("location", ""), ("referer", ""), ("set-cookie", ""), (":method", "CONNECT"),
    (":method", "DELETE"), (":method", "GET"), (":method", "HEAD"), (":method", "OPTIONS"),
    (":method", "POST"), (":method", "PUT"), (":scheme", "http"), (":scheme", "https"),
    (":status", "103"), (":status", "200"), (":status", "304"), (":status", "404"),
    (":status", "503"), ("accept", "*/*"), ("accept", "application/dns-message"),
    ("accept-encoding", "gzip, deflate, br"), ("accept-ranges", "bytes"),
    ("access-control-allow-headers", "cache-control"),
    ("access-control-allow-headers", "content-type"), ("access-control-allow-origin", "*"),
    ("cache-control", "max-age=0"), ("cache-control", "max-age=2592000"),
    ("cache-control", "max-age=604800"), ("cache-control", "no-cache"),
    ("cache-control", "no-store"), ("cache-control", "public, max-age=31536000"),
    ("content-encoding", "br"), ("content-encoding", "gzip"),
    ("content-type", "application/dns-message"), ("content-type", "application/javascript"),
    ("content-type", "application/json"), ("content-type", "application/x-www-form-urlencoded"),
    ("content-type", "image/gif"), ("content-type", "image/jpeg"), ("content-type", "image/png"),
    ("content-type", "text/css"), ("content-type", "text/html; charset=utf-8"),
    ("content-type", "text/plain"), ("content-type", "text/plain;charset=utf-8"),
    ("range", "bytes=0-"), ("strict-transport-security", "max-age=31536000"),
    ("strict-transport-security", "max-age=31536000; includesubdomains"),
    ("strict-transport-security", "max-age=31536000; includesubdomains; preload"),
    ("vary", "accept-encoding"), ("vary", "origin"), ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "1; mode=block"), (":status", "100"), (":status", "204"),
    (":status", "206"), (":status", "302"), (":status", "400"), (":status", "403"),
    (":status", "421"), (":status", "425"), (":status", "500"), ("accept-language", ""),
    ("access-control-allow-credentials", "FALSE"), ("access-control-allow-credentials", "TRUE"),
    ("access-control-allow-headers", "*"), ("access-control-allow-methods", "get"),
    ("access-control-allow-methods", "get, post, options"),
    ("access-control-allow-methods", "options"),
    ("access-control-expose-headers", "content-length"),
    ("access-control-request-headers", "content-type"),
    ("access-control-request-method", "get"), ("access-control-request-method", "post"),
    ("alt-svc", "clear"), ("authorization", ""),
    ("content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"),
    ("early-data", "1"), ("expect-ct", ""), ("forwarded", ""), ("if-range", ""),
    ("origin", ""), ("purpose", "prefetch"), ("server", ""), ("timing-allow-origin", "*"),
    ("upgrade-insecure-requests", "1"), ("user-agent", ""), ("x-forwarded-for", ""),
    ("x-frame-options", "deny"), ("x-frame-options", "sameorigin"),
]


def prefix_int(first, bits, value):
    """RFC 7541 §5.1 (RFC 9204 §4.1.1): value in an N-bit prefix of a byte whose other bits are
    first."""
    top = (1 << bits) - 1
    if value < top:
        return bytes([first | value])
    out = [first | top]
    value -= top
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + [value])


def read_prefix_int(b, pos, bits):
    """(value, next position) of an N-bit prefix integer at b[pos]."""
    top = (1 << bits) - 1
    value = b[pos] & top
    pos += 1
    if value < top:
        return value, pos
    shift = 0
    while True:
        byte = b[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def read_string(b, pos, bits):
    """A string literal whose length has an N-bit prefix and whose H flag is the bit above it
    (RFC 9204 §4.1.2): (text, next position)."""
    huffman = b[pos] & (1 << bits)
    length, pos = read_prefix_int(b, pos, bits)
    raw = bytes(b[pos:pos + length])
    if len(raw) != length:
        raise Failure("a QPACK string runs past its field section")
    return (decode_huffman(raw) if huffman else raw).decode("latin-1"), pos + length


def qpack_encode(fields):
    """A field section with no dynamic table (RFC 9204 §4.5): Required Insert Count 0, Base 0,
    then each line indexed, with a static name reference, or with a literal name."""
    out = b"\x00\x00"
    names = {name: i for i, (name, _) in reversed(list(enumerate(STATIC_TABLE)))}
    for name, value in fields:
        v = value.encode()
        if (name, value) in STATIC_TABLE:
            out += prefix_int(0xC0, 6, STATIC_TABLE.index((name, value)))  # §4.5.2, T=1
        elif name in names:
            out += prefix_int(0x50, 4, names[name]) + prefix_int(0x00, 7, len(v)) + v  # §4.5.4
        else:
            n = name.encode()
            out += prefix_int(0x20, 3, len(n)) + n + prefix_int(0x00, 7, len(v)) + v  # §4.5.6
    return out


def qpack_decode(block):
    """The fields of a field section that uses no dynamic table (this end allowed none:
    SETTINGS_QPACK_MAX_TABLE_CAPACITY 0, RFC 9204 §3.2.3); a reference into it is a Failure."""
    if block[:2] != b"\x00\x00":
        raise Failure(f"a field section with a dynamic-table prefix {block[:2].hex()}")
    fields, pos = [], 2
    while pos < len(block):
        b = block[pos]
        if b & 0x80:  # §4.5.2 indexed field line
            if not b & 0x40:
                raise Failure("an indexed field line into the dynamic table")
            index, pos = read_prefix_int(block, pos, 6)
            fields.append(STATIC_TABLE[index])
        elif b & 0x40:  # §4.5.4 literal with name reference
            if not b & 0x10:
                raise Failure("a name reference into the dynamic table")
            index, pos = read_prefix_int(block, pos, 4)
            value, pos = read_string(block, pos, 7)
            fields.append((STATIC_TABLE[index][0], value))
        elif b & 0x20:  # §4.5.6 literal with literal name
            name, pos = read_string(block, pos, 3)
            value, pos = read_string(block, pos, 7)
            fields.append((name, value))
        else:
            raise Failure(f"a post-base field line ({b:#04x}) without a dynamic table")
    return fields


def frame(ftype, payload):
    """RFC 9114 §7.1: Type (i), Length (i), Frame Payload."""
    return varint(ftype) + varint(len(payload)) + payload


def settings_frame(values):
    return frame(SETTINGS, b"".join(varint(k) + varint(v) for k, v in values.items()))


def unusual_control_stream(values):
    """A control stream written as a peer may legally write it: the stream type and every
    setting in eight-byte varints (RFC 9000 §16), behind 40 settings of reserved identifiers
    (RFC 9114 §7.2.4.1: ignored), so that the SETTINGS frame runs to 700 bytes."""
    entries = [(0x1F * n + 0x21, n) for n in range(40)] + list(values.items())
    payload = b"".join(varint8(k) + varint8(v) for k, v in entries)
    return varint8(CONTROL_STREAM) + varint(SETTINGS) + varint(len(payload)) + payload


class QuicPeer:
    """masque-quic-peer, a QUIC endpoint on quinn, driven line by line: what it reports is kept
    per stream (bytes, FIN, reset code), datagrams in order, and how the connection ended."""

    def __init__(self, binary, args, log):
        self.proc = subprocess.Popen([binary] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        self.cond = threading.Condition()
        self.data, self.fins, self.resets = {}, set(), {}
        self.peer_streams, self.datagrams, self.lines = [], [], []
        self.closed = None
        threading.Thread(target=self.read_events, daemon=True).start()

    def read_events(self):
        for line in self.proc.stdout:
            words = line.split()
            with self.cond:
                if words[0] == "data":
                    self.data.setdefault(int(words[1]), bytearray()).extend(
                        bytes.fromhex(words[2]))
                elif words[0] == "fin":
                    self.fins.add(int(words[1]))
                elif words[0] == "reset":
                    self.resets[int(words[1])] = int(words[2])
                elif words[0] == "stream":
                    self.peer_streams.append((int(words[1]), words[2]))
                elif words[0] == "datagram":
                    self.datagrams.append(bytes.fromhex(words[1]))
                elif words[0] == "closed":
                    self.closed = (words[1], int(words[2]) if words[2].isdigit() else words[2])
                else:
                    self.lines.append(words)
                self.cond.notify_all()
        with self.cond:
            self.closed = self.closed or ("exited", 0)
            self.cond.notify_all()

    def wait(self, ready, what, seconds=DEADLINE):
        """ready()'s first true value, called under the lock, within seconds."""
        end = time.monotonic() + seconds
        with self.cond:
            while True:
                value = ready()
                if value:
                    return value
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure(f"no {what} within {seconds} s")
                self.cond.wait(left)

    def line(self, first, what):
        """The next reported line that starts with first (removed), as its words."""
        def found():
            for i, words in enumerate(self.lines):
                if words[0] == "error":
                    raise Failure(f"the QUIC peer: {' '.join(words[1:])}")
                if words[0] == first:
                    return self.lines.pop(i)
            return None
        return self.wait(found, what)

    def command(self, *words):
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()

    def sync(self):
        """Every command before this one was carried out (written into quinn's buffers)."""
        self.command("sync")
        self.line("synced", "answer to sync")

    def open(self, kind):
        self.command(f"open_{kind}")
        return int(self.line("opened", "new stream (the other end gives credit: MAX_STREAMS)")[1])

    def write(self, sid, data):
        self.command("write", sid, data.hex())

    def datagram(self, data):
        self.command("datagram", data.hex())

    def next_datagram(self, what):
        return self.wait(lambda: self.datagrams and self.datagrams.pop(0), what)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(DEADLINE)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class H3:
    """HTTP/3 on a QuicPeer: its control stream with these SETTINGS, the other end's SETTINGS,
    and each request stream's frames and capsules."""

    def __init__(self, quic, settings, unusual=False):
        """settings None: no control stream yet (send_settings() opens it later)."""
        self.quic = quic
        self.control = None
        if settings is not None:
            self.send_settings(settings, unusual)
        self.taken = {}  # request stream -> bytes of it already taken as frames
        self.capsule_bytes = {}  # request stream -> DATA frames' bytes not yet capsules

    def send_settings(self, settings, unusual=False):
        """Opens the control stream with these SETTINGS (RFC 9114 §6.2.1)."""
        self.control = self.quic.open("uni")
        if unusual:
            for byte in unusual_control_stream(settings):
                self.quic.write(self.control, bytes([byte]))
                self.quic.sync()  # each byte in a STREAM frame of its own, as far as quinn lets
        else:
            self.quic.write(self.control, varint(CONTROL_STREAM) + settings_frame(settings))

    def peer_settings(self):
        """The other end's SETTINGS: the first frame on its control stream (RFC 9114 §6.2.1)."""
        def parsed():
            for sid, kind in self.quic.peer_streams:
                b = bytes(self.quic.data.get(sid, b""))
                t = read_varint(b, 0)
                if kind != "uni" or t is None or t[0] != CONTROL_STREAM:
                    continue
                ftype = read_varint(b, t[1])
                flen = ftype and read_varint(b, ftype[1])
                if flen is None or len(b) < flen[1] + flen[0]:
                    return None
                if ftype[0] != SETTINGS:
                    raise Failure(f"the control stream begins with frame {ftype[0]:#x}")
                values, pos = {}, flen[1]
                while pos < flen[1] + flen[0]:
                    k, pos = read_varint(b, pos)
                    v, pos = read_varint(b, pos)
                    values[k] = v
                return values
            return None
        return self.quic.wait(parsed, "SETTINGS on a control stream")

    def next_frame(self, sid, what):
        """The next frame on a request stream other than a reserved one: (type, payload);
        ("fin", b"") when the stream ended cleanly; ("reset", code) when it was reset."""
        def ready():
            b = bytes(self.quic.data.get(sid, b""))
            pos = self.taken.get(sid, 0)
            while True:
                t = read_varint(b, pos)
                n = t and read_varint(b, t[1])
                if n is None or len(b) < n[1] + n[0]:
                    break
                self.taken[sid] = pos = n[1] + n[0]
                if t[0] in (DATA, HEADERS):
                    return t[0], b[n[1]:pos]
                if t[0] in (0x03, SETTINGS, 0x07, 0x0D, 0x05):
                    raise Failure(f"frame {t[0]:#x} on a request stream (RFC 9114 §7.2)")
            if sid in self.quic.resets:
                return "reset", self.quic.resets[sid]
            if sid in self.quic.fins:
                if pos != len(b):
                    raise Failure(f"the stream ended inside a frame ({len(b) - pos} bytes)")
                return "fin", b""
            return None
        return self.quic.wait(ready, what)

    def headers(self, sid, what):
        ftype, payload = self.next_frame(sid, what)
        if ftype != HEADERS:
            raise Failure(f"{what}: frame {ftype!r} {payload!r}, not HEADERS")
        return dict(qpack_decode(payload))

    def send_headers(self, sid, fields):
        self.quic.write(sid, frame(HEADERS, qpack_encode(fields)))

    def send_capsule(self, sid, ctype, value, cut=False):
        """A capsule in a DATA frame; cut: written as a peer may legally write it, every varint
        in eight bytes (RFC 9297 §1.1), one byte per DATA frame, a reserved frame and an empty
        DATA frame after each (RFC 9114 §7.2.1, §7.2.8)."""
        if not cut:
            self.quic.write(sid, frame(DATA, capsule(ctype, value)))
            return
        data = varint8(ctype) + varint8(len(value)) + value
        self.quic.write(sid, b"".join(frame(DATA, data[i:i + 1]) + frame(RESERVED_FRAME, b"?") +
                                      frame(DATA, b"") for i in range(len(data))))

    def send_headers_cut(self, sid, fields):
        """A HEADERS frame one byte at a time, each in a STREAM frame of its own as far as
        quinn lets."""
        for byte in frame(HEADERS, qpack_encode(fields)):
            self.quic.write(sid, bytes([byte]))
            self.quic.sync()

    def next_capsule(self, sid, what):
        """The next whole capsule in the stream's DATA frames: (type, value)."""
        buf = self.capsule_bytes.setdefault(sid, b"")
        while True:
            t = read_varint(buf, 0)
            n = t and read_varint(buf, t[1])
            if n and len(buf) >= n[1] + n[0]:
                self.capsule_bytes[sid] = buf[n[1] + n[0]:]
                return t[0], buf[n[1]:n[1] + n[0]]
            ftype, payload = self.next_frame(sid, what)
            if ftype != DATA:
                raise Failure(f"{what}: {ftype!r} {payload!r} instead")
            buf += payload
            self.capsule_bytes[sid] = buf

    def expect_capsule(self, sid, ctype, value, what):
        got = self.next_capsule(sid, what)
        if got != (ctype, value):
            raise Failure(f"{what}: expected type {ctype:#x} value {value.hex()}, "
                          f"got type {got[0]:#x} value {got[1].hex()}")

    def expect_datagram(self, sid, payload, what, ignore=()):
        """An HTTP/3 datagram (RFC 9297 §2.1): Quarter Stream ID, then the payload; datagrams
        of the requests in ignore (ended ones, whose last datagrams may still come) skipped."""
        got = self.quic.next_datagram(what)
        while any(got.startswith(varint(other // 4)) for other in ignore):
            got = self.quic.next_datagram(what)
        if got != varint(sid // 4) + payload:
            raise Failure(f"{what}: expected {(varint(sid // 4) + payload).hex()}, "
                          f"got {got.hex()}")


def client_settings(datagrams=True):
    values = {QPACK_MAX_TABLE_CAPACITY: 0, QPACK_BLOCKED_STREAMS: 0}
    if datagrams:
        values[H3_DATAGRAM] = 1
    return values


def connect_client(peer_bin, port, work, name, args=(), datagrams=True, unusual=False,
                   settings_later=False):
    """An independent HTTP/3 client connected to the proxy on port: (QuicPeer, H3), the
    proxy's SETTINGS checked (RFC 9220 §3; RFC 9297 §2.1.1). settings_later: the client's own
    control stream is left for the caller to open (H3.send_settings())."""
    log = open(f"{work}/{name}.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    quic = QuicPeer(peer_bin, ["client", f"127.0.0.1:{port}", "localhost",
                               f"{work}/pki/ca.pem"] + list(args), log)
    quic.line("connected", "QUIC handshake with the proxy")
    h3 = H3(quic, None if settings_later else client_settings(datagrams), unusual)
    theirs = h3.peer_settings()
    if theirs.get(ENABLE_CONNECT_PROTOCOL) != 1 or theirs.get(H3_DATAGRAM) != 1:
        raise Failure(f"the proxy's SETTINGS {theirs}: no ENABLE_CONNECT_PROTOCOL=1 and "
                      "H3_DATAGRAM=1")
    return quic, h3


def bind_request(h3, assign=True, cut=False, extra=()):
    """A Bind request on a new stream, with the uncompressed context (Context ID 2) sent behind
    it before any answer (RFC 9298 §5): (stream, public (host, port)). cut: the HEADERS frame
    one byte at a time, each in a STREAM frame of its own as far as quinn lets; extra: more
    fields."""
    sid = h3.quic.open("bi")
    if cut:
        h3.send_headers_cut(sid, BIND_REQUEST + list(extra))
    else:
        h3.send_headers(sid, BIND_REQUEST + list(extra))
    if assign:
        h3.send_capsule(sid, ASSIGN, varint(2) + b"\x00")
    public = bind_response_public(h3.headers(sid, "response to the Bind request"))
    if assign:
        h3.expect_capsule(sid, ACK, varint(2), "COMPRESSION_ACK of the uncompressed context")
    return sid, public


def expect_udp(sock, data, source, what):
    got, src = sock.recvfrom(2048)
    if (got, src) != (data, source):
        raise Failure(f"{what}: got {got!r} from {src}, not {data!r} from {source}")


def in_datagram_frames(bindir, peer_bin, work):
    """Part 1: two Bind requests on one connection, in QUIC DATAGRAM frames.
    Proves: QV-2, DG-5, DG-6, DG-8, UDP-7, UDP-15, BIND-6, BIND-20, BIND-25."""
    proxy, port = start_proxy(bindir, work)
    quic = None
    try:
        # Legal but unusual from the start: SETTINGS of 700 bytes with reserved identifiers and
        # eight-byte varints, a stream of a reserved type (RFC 9114 §6.2.3: ignored), and the
        # request's HEADERS cut into one-byte pieces.
        quic, h3 = connect_client(peer_bin, port, work, "client1", unusual=True)
        reserved = quic.open("uni")
        quic.write(reserved, varint(0x1F * 5 + 0x21) + b"nothing to see")
        first, public1 = bind_request(h3, cut=True)
        a = udp_peer()
        a_tuple = a.getsockname()
        a.sendto(b"from peer A", public1)
        h3.expect_datagram(first, varint(2) + tuple_bytes(*a_tuple) + b"from peer A",
                           "peer A's datagram in a DATAGRAM frame")
        quic.datagram(varint(first // 4) + varint(2) + tuple_bytes(*a_tuple) + b"to peer A")
        expect_udp(a, b"to peer A", public1, "peer A")

        # -10 §5: a compressed context for peer A; the proxy then sends it the payload only.
        h3.send_capsule(first, ASSIGN, varint(4) + tuple_bytes(*a_tuple))
        h3.expect_capsule(first, ACK, varint(4), "COMPRESSION_ACK of the compressed context")
        big = bytes(range(256)) * 4 + bytes(176)  # 1200 bytes
        a.sendto(big, public1)
        h3.expect_datagram(first, varint(4) + big, "1200 bytes on the compressed context")
        quic.datagram(varint(first // 4) + varint(4) + b"via context 4")
        expect_udp(a, b"via context 4", public1, "peer A on context 4")
        quic.datagram(varint8(first // 4) + varint8(4) + b"long varints")  # RFC 9000 §16
        expect_udp(a, b"long varints", public1, "peer A, Quarter Stream ID in eight bytes")

        # Legal but unusual: a capsule cut into one-byte DATA frames (H3.send_capsule).
        h3.send_capsule(first, DATAGRAM, varint8(4) + b"cut anywhere", cut=True)
        expect_udp(a, b"cut anywhere", public1, "peer A, from a capsule cut byte by byte")

        # A second Bind request on the same connection: a public address of its own, and
        # datagrams routed by Quarter Stream ID (RFC 9297 §2.1).
        # RFC 9218 as browsers speak it: a PRIORITY_UPDATE frame for the first request on the
        # control stream (§7.1), which the proxy may act on or not, but must take.
        # Cut right after its Prioritized Element ID, which QUIC may do (RFC 9000 §2.2): the
        # nghttp3 1.8 masque-proxy runs on aborted on a read that ends there.
        priority_update = frame(0xF0700, varint(first) + b"u=2, i")
        quic.write(h3.control, priority_update[:-6])
        quic.sync()
        quic.write(h3.control, priority_update[-6:])
        second, public2 = bind_request(h3)
        if public2 == public1:
            raise Failure("the second request got the first one's public address")
        b = udp_peer()
        b_tuple = b.getsockname()
        b.sendto(b"to the second", public2)
        h3.expect_datagram(second, varint(2) + tuple_bytes(*b_tuple) + b"to the second",
                           "peer B's datagram on the second request")
        quic.datagram(varint(second // 4) + varint(2) + tuple_bytes(*b_tuple) + b"from 2nd")
        expect_udp(b, b"from 2nd", public2, "peer B through the second request")
        # A datagram for a request stream not yet opened is dropped (RFC 9297 §2.1), and
        # HTTP/3 datagrams must not be sent for it: the connection carries on.
        quic.datagram(varint(second // 4 + 1) + varint(2) + tuple_bytes(*b_tuple) + b"early")

        # RFC 9298 §3.1: ending the first request closes its socket; the second carries on.
        quic.command("fin", first)
        if h3.next_frame(first, "the proxy's end of the first request") != ("fin", b""):
            raise Failure("the proxy did not end its side of the first request cleanly")
        expect_closed(a, public1)
        # A datagram for the request that ended is dropped silently (RFC 9297 §2.1).
        quic.datagram(varint(first // 4) + varint(4) + b"too late")
        b.sendto(b"still here", public2)
        h3.expect_datagram(second, varint(2) + tuple_bytes(*b_tuple) + b"still here",
                           "the second request after the first ended", ignore=(first,))
        # A client cancels with RESET_STREAM alone (RFC 9114 §4.1.1): the request ends whole,
        # the proxy resets its side too, and the relay socket closes (RFC 9298 §3.1). The
        # client's code is a reserved one (RFC 9114 §8.1); the proxy's is its own, not that one
        # sent back.
        third, public3 = bind_request(h3, extra=[("priority", "u=3")])  # RFC 9218 §5
        quic.command("reset", third, RESERVED_CODE)
        expect_closed(udp_peer(), public3)
        code = quic.wait(lambda: quic.resets.get(third), "the proxy's reset of its side")
        if code != H3_REQUEST_CANCELLED:
            raise Failure(f"the proxy reset a cancelled request with {code:#x}")
        # STOP_SENDING alone: once the proxy has something to answer, the request is over too.
        fourth, public4 = bind_request(h3)
        quic.command("stop", fourth, H3_REQUEST_CANCELLED)
        h3.send_capsule(fourth, ASSIGN, varint(4) + tuple_bytes(*b_tuple))
        expect_closed(udp_peer(), public4)
        b.sendto(b"and still", public2)
        h3.expect_datagram(second, varint(2) + tuple_bytes(*b_tuple) + b"and still",
                           "the second request after two others were cancelled",
                           ignore=(third, fourth))  # what reached them before they closed
        if quic.closed is not None:
            raise Failure(f"the connection ended: {quic.closed}")
        # New 1-RTT keys (RFC 9001 §6): the tunnel carries on under them, both ways.
        quic.command("key_update")
        quic.datagram(varint(second // 4) + varint(2) + tuple_bytes(*b_tuple) + b"new keys")
        expect_udp(b, b"new keys", public2, "peer B after a key update")
        b.sendto(b"new keys too", public2)
        h3.expect_datagram(second, varint(2) + tuple_bytes(*b_tuple) + b"new keys too",
                           "the second request after a key update", ignore=(third, fourth))
        # A NAT rebinding (RFC 9000 §9.3): the client's packets come from another port, with
        # the same connection IDs; the proxy follows them there, and the tunnel with it.
        quic.command("rebind")
        quic.line("rebound", "the client's new UDP socket")
        quic.datagram(varint(second // 4) + varint(2) + tuple_bytes(*b_tuple) + b"new port")
        expect_udp(b, b"new port", public2, "peer B after the client's address changed")
        b.sendto(b"to the new port", public2)
        h3.expect_datagram(second, varint(2) + tuple_bytes(*b_tuple) + b"to the new port",
                           "the second request after the client's address changed",
                           ignore=(third, fourth))
        # The client closes the connection: its last request ends with it, relay socket and all.
        quic.command("close", 0x100)  # H3_NO_ERROR
        expect_closed(b, public2)
    finally:
        if quic is not None:
            quic.close()
        proxy.kill()
        proxy.wait()


def in_capsules(bindir, peer_bin, work):
    """Part 2: HTTP/3 datagrams not negotiated, one way and the other: DATAGRAM capsules.
    Proves: DG-8."""
    proxy, port = start_proxy(bindir, work)
    try:
        # The first client also reads its streams through a 64-byte window (RFC 9000 §4.1): the
        # proxy's capsules must wait for MAX_STREAM_DATA, whole and in order.
        for name, args, datagrams in (("no-transport-parameter",
                                       ["--no-datagrams", "--stream-window", "64"], True),
                                      ("no-h3-datagram-setting", [], False)):
            quic, h3 = connect_client(peer_bin, port, work, name, args, datagrams)
            try:
                sid, public = bind_request(h3)
                a = udp_peer()
                a_tuple = a.getsockname()
                a.sendto(b"in a capsule", public)
                h3.expect_capsule(sid, DATAGRAM, varint(2) + tuple_bytes(*a_tuple) +
                                  b"in a capsule", f"a DATAGRAM capsule ({name})")
                h3.send_capsule(sid, DATAGRAM, varint(2) + tuple_bytes(*a_tuple) + b"back")
                expect_udp(a, b"back", public, f"peer A ({name})")
                burst = [bytes([i]) * 1200 for i in range(8)]  # 8 capsules of 1200 bytes
                for payload in burst:
                    a.sendto(payload, public)
                for payload in burst:
                    h3.expect_capsule(sid, DATAGRAM, varint(2) + tuple_bytes(*a_tuple) + payload,
                                      f"1200 bytes in a DATAGRAM capsule ({name})")
                if quic.datagrams:
                    raise Failure(f"{name}: the proxy sent DATAGRAM frames: {quic.datagrams}")
            finally:
                quic.close()
    finally:
        proxy.kill()
        proxy.wait()


def settings_after_request(bindir, peer_bin, work):
    """Part 2b: the client's SETTINGS come after its request, which a proxy may read first (the
    control stream is another stream, and QUIC does not order streams). Until SETTINGS_H3_
    DATAGRAM=1 arrives the proxy must not send HTTP/3 datagrams (RFC 9297 §2.1.1), so the
    request's datagrams go in DATAGRAM capsules; from then on in DATAGRAM frames, on the same
    request, with the same contexts (RFC 9297 §3.5: either carries the same payload).
    Proves: DG-8."""
    proxy, port = start_proxy(bindir, work)
    quic = None
    try:
        quic, h3 = connect_client(peer_bin, port, work, "settings-later", settings_later=True)
        sid, public = bind_request(h3)
        a = udp_peer()
        a_tuple = a.getsockname()
        a.sendto(b"before SETTINGS", public)
        h3.expect_capsule(sid, DATAGRAM, varint(2) + tuple_bytes(*a_tuple) + b"before SETTINGS",
                          "a DATAGRAM capsule before the client's SETTINGS")
        if quic.datagrams:
            raise Failure(f"DATAGRAM frames before the client's SETTINGS: {quic.datagrams}")
        h3.send_settings(client_settings())
        quic.sync()
        # The proxy has read the SETTINGS once it answers what the client sent after them.
        h3.send_capsule(sid, ASSIGN, varint(4) + tuple_bytes(*a_tuple))
        h3.expect_capsule(sid, ACK, varint(4), "COMPRESSION_ACK after the client's SETTINGS")
        a.sendto(b"after SETTINGS", public)
        h3.expect_datagram(sid, varint(4) + b"after SETTINGS",
                           "peer A's datagram in a DATAGRAM frame once SETTINGS came")
        quic.datagram(varint(sid // 4) + varint(4) + b"frame")
        expect_udp(a, b"frame", public, "peer A, from a DATAGRAM frame")
        h3.send_capsule(sid, DATAGRAM, varint(4) + b"capsule")
        expect_udp(a, b"capsule", public, "peer A, from a DATAGRAM capsule after SETTINGS")
    finally:
        if quic is not None:
            quic.close()
        proxy.kill()
        proxy.wait()


BROKEN_REQUESTS = [
    ("a FIN inside a capsule (RFC 9297 §3.3)", "fin", frame(DATA, b"\x00\x10\x02")),
    ("Context ID 0 with `*` targets (-10 §3)", "", frame(DATA, capsule(DATAGRAM, b"\x00x"))),
    ("an ACK of an ID never assigned (-10 §3)", "", frame(DATA, capsule(ACK, varint(8)))),
    ("an ASSIGN of the proxy's parity (-10 §3)", "",
     frame(DATA, capsule(ASSIGN, varint(3) + tuple_bytes("127.0.0.1", 9)))),
]


# Requests that are malformed HTTP (RFC 9114 §4.1.2, §4.2, §4.3): reset with H3_MESSAGE_ERROR.
MALFORMED_REQUESTS = [
    ("an uppercase field name (RFC 9114 §4.2)",
     [(n.title() if n == "capsule-protocol" else n, v) for n, v in BIND_REQUEST]),
    ("a connection-specific field (RFC 9114 §4.2)", BIND_REQUEST + [("connection", "close")]),
    ("a pseudo-header after a regular field (RFC 9114 §4.3)",
     [f for f in BIND_REQUEST if f[0] != ":path"] + [(":path", dict(BIND_REQUEST)[":path"])]),
]
# Responses that are malformed HTTP, which the client must answer the same way.
MALFORMED_RESPONSES = [
    ("an uppercase field name", [(":status", "200"), ("Capsule-Protocol", "?1"),
                                 ("connect-udp-bind", "?1"),
                                 ("proxy-public-address", '"192.0.2.1:1"')]),
    ("no :status", [("capsule-protocol", "?1"), ("connect-udp-bind", "?1")]),
    ("a connection-specific field", [(":status", "200"), ("capsule-protocol", "?1"),
                                     ("connect-udp-bind", "?1"), ("connection", "close"),
                                     ("proxy-public-address", '"192.0.2.1:1"')]),
]


def second_control_stream(quic, h3, _):
    quic.write(quic.open("uni"), varint(CONTROL_STREAM) + settings_frame(client_settings()))
    h3.quic.sync()


# Connection errors (RFC 9114 §8.1, RFC 9297 §2.1): what the client does on a connection that
# has a request open, and the code masque-proxy's CONNECTION_CLOSE must carry.
def oversized_headers(size):
    """The start of a HEADERS frame whose one field line (a literal name, RFC 9204 §4.5.6)
    announces a value of `size` bytes; the proxy must give up on it at once, without buffering
    what would follow."""
    line = prefix_int(0x20, 3, 5) + b"x-big" + prefix_int(0x00, 7, size)
    return varint(HEADERS) + varint(2 + len(line) + size) + b"\x00\x00" + line + b"a" * 1000


CONNECTION_ERRORS = [
    ("SETTINGS_H3_DATAGRAM=2 (RFC 9297 §2.1.1)", None, H3_SETTINGS_ERROR),
    ("a second SETTINGS frame (RFC 9114 §7.2.4)",
     lambda quic, h3, sid: quic.write(h3.control, settings_frame({})), H3_FRAME_UNEXPECTED),
    ("an HTTP/2 frame type on the control stream (RFC 9114 §7.2.8)",
     lambda quic, h3, sid: quic.write(h3.control, frame(0x06, bytes(8))), H3_FRAME_UNEXPECTED),
    ("the control stream ended (RFC 9114 §6.2.1)",
     lambda quic, h3, sid: quic.command("fin", h3.control), H3_CLOSED_CRITICAL_STREAM),
    ("a second control stream (RFC 9114 §6.2.1)", second_control_stream,
     H3_STREAM_CREATION_ERROR),
    ("DATA before HEADERS on a request stream (RFC 9114 §4.1)",
     lambda quic, h3, sid: quic.write(quic.open("bi"), frame(DATA, b"x")), H3_FRAME_UNEXPECTED),
    ("a DATAGRAM frame too short for a Quarter Stream ID (RFC 9297 §2.1)",
     lambda quic, h3, sid: quic.datagram(b"\x40"), H3_DATAGRAM_ERROR),
    ("a DATAGRAM frame beyond the client's stream limit (RFC 9297 §2.1)",
     lambda quic, h3, sid: quic.datagram(varint(1 << 40) + b"x"), H3_ID_ERROR),
    ("a field line of 40 MB (RFC 9114 §4.2.2; the proxy decodes no such thing)",
     lambda quic, h3, sid: quic.write(quic.open("bi"), oversized_headers(40 << 20)),
     H3_EXCESSIVE_LOAD),
]


def broken_rules(bindir, peer_bin, work):
    """Part 3: requests that break a rule, one each on one connection, then connection errors.
    Proves: DG-4, DG-7, DG-11, DG-14, DG-19, BIND-3, BIND-9, BIND-16."""
    proxy, port = start_proxy(bindir, work)
    quic = None
    try:
        quic, h3 = connect_client(peer_bin, port, work, "broken")
        for rule, end, data in BROKEN_REQUESTS:
            sid, _ = bind_request(h3)
            quic.write(sid, data)
            if end:
                quic.command(end, sid)
            got = h3.quic.wait(lambda s=sid: s in quic.resets and quic.resets[s],
                               f"reset of the request with {rule}")
            if got != H3_MESSAGE_ERROR:
                raise Failure(f"{rule}: reset with {got:#x}, not H3_MESSAGE_ERROR")
        for rule, fields in MALFORMED_REQUESTS:
            sid = quic.open("bi")
            h3.send_headers(sid, fields)
            got = h3.quic.wait(lambda s=sid: quic.resets.get(s), f"reset of {rule}")
            if got != H3_MESSAGE_ERROR:
                raise Failure(f"{rule}: reset with {got:#x}, not H3_MESSAGE_ERROR")
        # 100 requests cancelled at once (RESET_STREAM and STOP_SENDING), half of them before
        # their HEADERS: each closed stream must give the client its stream credit back (the
        # proxy allows 16 at a time), whether or not HTTP/3 saw the stream.
        for i in range(100):
            sid = quic.open("bi")
            if i % 2:
                h3.send_headers(sid, BIND_REQUEST)
            quic.command("reset", sid, H3_REQUEST_CANCELLED)
            quic.command("stop", sid, H3_REQUEST_CANCELLED)
        bind_request(h3)  # the connection still serves
        for rule, action, code in CONNECTION_ERRORS:
            quic.close()  # a connection of its own for each: the error ends it
            if action is None:  # the SETTINGS are the error: no request, the proxy may not wait
                log = open(f"{work}/broken-settings.log", "w",  # pylint: disable=consider-using-with
                           encoding="utf-8")
                quic = QuicPeer(peer_bin, ["client", f"127.0.0.1:{port}", "localhost",
                                           f"{work}/pki/ca.pem"], log)
                quic.line("connected", "QUIC handshake with the proxy")
                H3(quic, {**client_settings(), H3_DATAGRAM: 2})
            else:
                quic, h3 = connect_client(peer_bin, port, work, "broken-connection")
                sid, _ = bind_request(h3)
                action(quic, h3, sid)
            closed = quic.wait(lambda: quic.closed, f"the connection's end after {rule}")
            if closed != ("application", code):
                raise Failure(f"{rule}: the connection ended with {closed}, not "
                              f"application error {code:#x}")
        # The operator learns why each connection ended, not that a callback failed.
        if wait_for(f"{work}/proxy.log", "ERR_CALLBACK_FAILURE", 0.1) is not None:
            raise Failure("the proxy's log gives no reason for a connection error")
    finally:
        if quic is not None:
            quic.close()
        proxy.kill()
        proxy.wait()


class Blackout(UdpPath):
    """A path whose way down, toward the client, can be cut: every packet dropped."""

    def __init__(self, proxy_port):
        super().__init__(proxy_port)
        self.cut = False

    def forward(self, sock, data, to, way):
        if not (way == "down" and self.cut):
            sock.sendto(data, to)


def lost_connection_close(bindir, peer_bin, work):
    """Part 3, last: a connection error whose CONNECTION_CLOSE is lost on the way (the path
    drops what the proxy sends until the proxy has closed): the client's next packet, a
    retransmission, must be answered with the CONNECTION_CLOSE again (RFC 9000 §10.2.1), so
    that the client learns the HTTP/3 code within a second or so, not at its idle timeout (60
    s here)."""
    proxy, port = start_proxy(bindir, work)
    path = Blackout(port)
    path.start()
    quic = None
    try:
        quic, h3 = connect_client(peer_bin, path.front.getsockname()[1], work, "lost-close")
        bind_request(h3)
        path.cut = True
        quic.write(h3.control, settings_frame({}))  # a second SETTINGS: H3_FRAME_UNEXPECTED
        if wait_for(f"{work}/proxy.log", "FRAME_UNEXPECTED", DEADLINE) is None:
            raise Failure("the proxy did not close the connection after a second SETTINGS")
        path.cut = False
        closed = quic.wait(lambda: quic.closed, "the connection's end, its first "
                           "CONNECTION_CLOSE lost")
        if closed != ("application", H3_FRAME_UNEXPECTED):
            raise Failure(f"the connection ended with {closed}, not application error "
                          f"{H3_FRAME_UNEXPECTED:#x}")
    finally:
        if quic is not None:
            quic.close()
        stop_all(proxy, path)


def restarted_proxy(bindir, peer_bin, work):
    """Part 3, after it: masque-proxy killed (SIGKILL: it tells no one) and started again on
    its port with the same key. The independent client's next packet must meet a Stateless
    Reset that quinn accepts (RFC 9000 §10.3: the token of the connection ID, which the new
    process derives as the old one did), so that the connection ends at once, not at its idle
    timeout (60 s here)."""
    proxy = again = quic = None
    try:
        proxy, port = programs.start_proxy(bindir, work, log=f"{work}/restart1.log")
        quic, h3 = connect_client(peer_bin, port, work, "restarted")
        sid, _ = bind_request(h3)  # the handshake confirmed, the tunnel up
        proxy.kill()
        proxy.wait()
        again, _ = programs.start_proxy(bindir, work, log=f"{work}/restart2.log", port=port)
        quic.write(sid, frame(DATA, capsule(DATAGRAM, varint(2) +
                                            tuple_bytes("127.0.0.1", 9) + b"anyone?")))
        closed = quic.wait(lambda: quic.closed, "the connection's end by a Stateless Reset")
        if closed[0] != "reset":
            raise Failure(f"after the proxy's restart the connection ended with {closed}, not "
                          "a Stateless Reset")
    except RuntimeError as exc:  # a proxy did not start
        raise Failure(str(exc)) from exc
    finally:
        if quic is not None:
            quic.close()
        stop_all(proxy, again)


def serve_bind_client(bindir, peer_bin, work, name, peer_args=(), connect_protocol=True,
                      unusual=False, mode=("--echo",)):
    """Parts 4 to 6: an independent proxy for masque-bind-client in mode (--echo, or --expose
    and a service); returns the client's process, the QuicPeer and the H3 once SETTINGS were
    exchanged."""
    log = open(f"{work}/{name}.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    quic = QuicPeer(peer_bin, ["server", f"{work}/pki/localhost.pem", f"{work}/pki/localhost.key"]
                    + list(peer_args), log)
    port = int(quic.line("listening", "the QUIC peer's port")[1])
    err = open(f"{work}/{name}.err", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                               f"127.0.0.1:{port}", "--authority", "localhost", "--ca",
                               f"{work}/pki/ca.pem", "--run-seconds", "60"] + list(mode),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    quic.line("accepted", "the client's QUIC connection")
    settings = {QPACK_MAX_TABLE_CAPACITY: 0, QPACK_BLOCKED_STREAMS: 0, H3_DATAGRAM: 1}
    if connect_protocol:
        settings[ENABLE_CONNECT_PROTOCOL] = 1
    h3 = H3(quic, settings, unusual)
    theirs = h3.peer_settings()
    if theirs.get(H3_DATAGRAM) != 1:
        raise Failure(f"the client's SETTINGS {theirs} lack H3_DATAGRAM=1")
    return client, quic, h3


def request_stream(quic):
    """The first request stream the client opened (waiting for it)."""
    return quic.wait(lambda: next(([s] for s, k in quic.peer_streams if k == "bi"), None),
                     "the Bind request's stream")[0]  # [0]: stream 0 is a true answer


def expect_client_end(client, what, status, quic=None, sid=None, reset=None):
    """The client resets request stream sid with the code reset (when one is given) and exits
    with status, each within DEADLINE."""
    if reset is not None:
        code = quic.wait(lambda: quic.resets.get(sid), f"the client's reset ({what})")
        if code != reset:
            raise Failure(f"{what}: the client reset the request with {code:#x}, not "
                          f"{reset:#x}")
    try:
        got = client.wait(DEADLINE)
    except subprocess.TimeoutExpired as exc:
        raise Failure(f"{what}: the client did not exit") from exc
    if got != status:
        raise Failure(f"{what}: the client exited with {got}, not {status}")


def stop_client(client, quic):
    if client.poll() is None:
        client.kill()
    client.wait()
    quic.close()


def answer_bind_request(quic, h3, cut=False):
    """The independent proxy's side of a tunnel's start: the client's request checked, answered
    200, the client's uncompressed context (an even ID, -10 §4) acknowledged: (stream, ID).
    cut: the response and the ACK in one-byte pieces (H3.send_headers_cut, H3.send_capsule)."""
    sid = request_stream(quic)
    request = h3.headers(sid, "the Bind request")
    for field, value in BIND_REQUEST:
        if request.get(field) != value:
            raise Failure(f"request {field}: {request.get(field)!r}, not {value!r}")
    response = [(":status", "200"), ("capsule-protocol", "?1"), ("connect-udp-bind", "?1"),
                ("proxy-public-address", '"192.0.2.44:4444"')]
    if cut:
        h3.send_headers_cut(sid, response)
    else:
        h3.send_headers(sid, response)
    ctype, value = h3.next_capsule(sid, "the client's COMPRESSION_ASSIGN")
    parsed = read_varint(value, 0)
    if ctype != ASSIGN or parsed is None or value[parsed[1]:] != b"\x00":
        raise Failure(f"expected an uncompressed COMPRESSION_ASSIGN, got type {ctype:#x} "
                      f"value {value.hex()}")
    cid = parsed[0]
    if cid == 0 or cid % 2:
        raise Failure(f"the client assigned Context ID {cid}: not even and non-zero")
    h3.send_capsule(sid, ACK, varint(cid), cut)
    return sid, cid


def against_the_client(bindir, peer_bin, work):
    """Part 4, in DATAGRAM frames and then, without the transport parameter, in capsules.
    Proves: DG-8, UDP-3, BIND-1, BIND-6, BIND-9, BIND-20."""
    for name, peer_args, unusual in (("frames", [], False),
                                     ("capsules", ["--no-datagrams", "--stream-window", "64"],
                                      False),
                                     ("frames, SETTINGS written unusually", [], True)):
        in_frames = name.startswith("frames")
        client, quic, h3 = serve_bind_client(bindir, peer_bin, work,
                                             f"server-{name.split(',')[0]}{'-u' if unusual else ''}",
                                             peer_args, unusual=unusual)
        try:
            sid, cid = answer_bind_request(quic, h3, cut=unusual)
            target = tuple_bytes("198.51.100.7", 5353)
            text = b"0123456789abcdef" * 70  # 1120 bytes: with "re: " and framing, in a frame

            def send(payload):
                if in_frames:
                    quic.datagram(varint(sid // 4) + payload)
                else:
                    h3.send_capsule(sid, DATAGRAM, payload)

            def expect(payload, what):
                if in_frames:
                    h3.expect_datagram(sid, payload, what)
                else:
                    h3.expect_capsule(sid, DATAGRAM, payload, what)

            for body in (b"hello, independently", text):
                send(varint(cid) + target + body)
                expect(varint(cid) + target + b"re: " + body,
                       f"the client's echo of {len(body)} bytes ({name})")
            # A context the proxy registers (an odd ID): acknowledged, then answered on it.
            h3.send_capsule(sid, ASSIGN, varint(1) + target, cut=unusual)
            h3.expect_capsule(sid, ACK, varint(1), "the client's COMPRESSION_ACK of ID 1")
            send(varint(1) + b"on context 1")
            expect(varint(1) + b"re: on context 1", f"the echo on context 1 ({name})")
            if in_frames:
                # A proxy may send some datagrams in capsules though frames are negotiated (a
                # request read before the client's SETTINGS, say: RFC 9297 §3.5 lets either
                # carry them); the client takes both, and answers on its own path.
                h3.send_capsule(sid, DATAGRAM, varint(1) + b"in a capsule")
                expect(varint(1) + b"re: in a capsule", f"the echo of a capsule ({name})")
            if not in_frames and quic.datagrams:
                raise Failure(f"the client sent DATAGRAM frames unasked: {quic.datagrams}")
            # The proxy ends the request in order: the client ends too, with status 0.
            quic.command("fin", sid)
            expect_client_end(client, f"after the proxy ended the request ({name})", 0)
        finally:
            stop_client(client, quic)


def against_expose_mode(bindir, peer_bin, work):
    """Part 4, last: masque-bind-client --expose with a local UDP echo service, in DATAGRAM
    frames. A remote peer's datagram reaches the service from a local socket of the peer's own;
    the client registers a compressed context for the peer (an even ID, the peer's tuple: -10
    §3, §5) and the answers come back, on that context once it is acknowledged.
    Proves: BIND-9."""
    echo = Echo()
    echo.start()
    host, port = echo.sock.getsockname()
    client, quic, h3 = serve_bind_client(bindir, peer_bin, work, "server-expose",
                                         mode=("--expose", f"{host}:{port}"))
    try:
        sid, cid = answer_bind_request(quic, h3)
        target = tuple_bytes("203.0.113.9", 40000)
        quic.datagram(varint(sid // 4) + varint(cid) + target + b"to the service")
        ctype, value = h3.next_capsule(sid, "the client's registration of the peer")
        parsed = read_varint(value, 0)
        if ctype != ASSIGN or parsed is None or value[parsed[1]:] != target:
            raise Failure(f"expected the peer's COMPRESSION_ASSIGN, got type {ctype:#x} value "
                          f"{value.hex()}")
        compressed = parsed[0]
        if compressed % 2 or compressed in (0, cid):
            raise Failure(f"expose registered Context ID {compressed} for the peer")
        h3.send_capsule(sid, ACK, varint(compressed))
        # The first answer may come before the ACK did: on either context.
        first = quic.next_datagram("the service's answer")
        if first not in (varint(sid // 4) + varint(cid) + target + b"echo: to the service",
                         varint(sid // 4) + varint(compressed) + b"echo: to the service"):
            raise Failure(f"the service's answer: {first.hex()}")
        quic.datagram(varint(sid // 4) + varint(compressed) + b"again")
        h3.expect_datagram(sid, varint(compressed) + b"echo: again",
                           "the service's answer on the peer's compressed context")
        if len(echo.sources) != 1:
            raise Failure(f"the service saw {len(echo.sources)} sources for one remote peer")
        quic.command("fin", sid)
        expect_client_end(client, "expose mode, after the proxy ended the request", 0)
    finally:
        echo.stop = True
        stop_client(client, quic)


def a_proxy_breaking_rules(bindir, peer_bin, work):
    """Part 5: the independent proxy breaks one rule at a time after the tunnel is up (the
    rules of h2_interop.py's part 4): the client resets the request with H3_MESSAGE_ERROR (RFC
    9297 §3.3) and exits 1.
    Proves: DG-11, DG-12, BIND-3, BIND-9, BIND-10, BIND-16."""
    for rule, capsules in PROXY_BROKEN_RULES:
        client, quic, h3 = serve_bind_client(bindir, peer_bin, work, "server-broken")
        try:
            sid, cid = answer_bind_request(quic, h3)
            for ctype, value in capsules(cid):
                h3.send_capsule(sid, ctype, value)
            expect_client_end(client, rule, 1, quic, sid, H3_MESSAGE_ERROR)
        finally:
            stop_client(client, quic)


def malformed_responses(bindir, peer_bin, work):
    """Part 5 too: a malformed response (RFC 9114 §4.1.2): the client resets the request with
    H3_MESSAGE_ERROR, says so, and exits 1 at once (not when its wait for an answer runs out).
    Proves: UDP-4."""
    for rule, fields in MALFORMED_RESPONSES:
        client, quic, h3 = serve_bind_client(bindir, peer_bin, work, "server-malformed")
        try:
            sid = request_stream(quic)
            h3.headers(sid, "the Bind request")
            h3.send_headers(sid, fields)
            expect_client_end(client, rule, 1, quic, sid, H3_MESSAGE_ERROR)
            if wait_for(f"{work}/server-malformed.err", "a malformed response", 1) is None:
                raise Failure(f"{rule}: the client did not say the response was malformed")
        finally:
            stop_client(client, quic)
    # A response whose field line is longer than the client decodes: the connection ends
    # with H3_EXCESSIVE_LOAD (RFC 9114 §8.1) and the client says why.
    client, quic, h3 = serve_bind_client(bindir, peer_bin, work, "server-oversized")
    try:
        sid = request_stream(quic)
        h3.headers(sid, "the Bind request")
        quic.write(sid, oversized_headers(40 << 20))
        closed = quic.wait(lambda: quic.closed, "the client's end after a 40 MB field line")
        if closed != ("application", H3_EXCESSIVE_LOAD):
            raise Failure(f"a 40 MB field line: the client closed with {closed}")
        expect_client_end(client, "a 40 MB field line", 1)
        if wait_for(f"{work}/server-oversized.err", "ERR_QPACK_HEADER_TOO_LARGE", 1) is None:
            raise Failure("after a 40 MB field line the client did not say why it closed")
    finally:
        stop_client(client, quic)


def a_proxy_cancelling(bindir, peer_bin, work):
    """Part 5, last: the independent proxy cancels the tunnel with RESET_STREAM alone (its send
    side, with H3_INTERNAL_ERROR): the client ends the request whole, resets its side with
    H3_REQUEST_CANCELLED (its own code, not the proxy's sent back) and exits 1 at once, though
    no STOP_SENDING came."""
    client, quic, h3 = serve_bind_client(bindir, peer_bin, work, "server-cancel")
    try:
        sid, _ = answer_bind_request(quic, h3)
        quic.command("reset", sid, H3_INTERNAL_ERROR)
        expect_client_end(client, "a proxy that reset the request", 1, quic, sid,
                          H3_REQUEST_CANCELLED)
    finally:
        stop_client(client, quic)


def a_proxy_going_away(bindir, peer_bin, work):
    """Part 5 too: the independent proxy's GOAWAY (RFC 9114 §5.2). Above the tunnel's request
    ID, the tunnel goes on. At the ID of a request it has not answered, that request was not
    processed and will not be: the client ends it at once (a reset with H3_REQUEST_CANCELLED),
    says why, and exits 1, rather than waiting out its answer timer."""
    target = tuple_bytes("198.51.100.7", 5353)
    client, quic, h3 = serve_bind_client(bindir, peer_bin, work, "server-goaway")
    try:
        sid, cid = answer_bind_request(quic, h3)
        # Twice, the ID lowered (RFC 9114 §5.2 lets it): the client logs the first only.
        quic.write(h3.control, frame(GOAWAY, varint(sid + 8)) + frame(GOAWAY, varint(sid + 4)))
        quic.sync()
        quic.datagram(varint(sid // 4) + varint(cid) + target + b"after GOAWAY")
        h3.expect_datagram(sid, varint(cid) + target + b"re: after GOAWAY",
                           "the tunnel's echo after a GOAWAY above its request")
    finally:
        stop_client(client, quic)
    with open(f"{work}/server-goaway.err", encoding="utf-8") as f:
        lines = f.read().count("going away")
    if lines != 1:
        raise Failure(f"two GOAWAYs above the tunnel's request: {lines} lines in the log, not 1")
    client, quic, h3 = serve_bind_client(bindir, peer_bin, work, "server-goaway-early")
    try:
        sid = request_stream(quic)
        h3.headers(sid, "the Bind request")
        quic.write(h3.control, frame(GOAWAY, varint(sid)))
        expect_client_end(client, "a GOAWAY at the request's ID", 1, quic, sid,
                          H3_REQUEST_CANCELLED)
        if wait_for(f"{work}/server-goaway-early.err", "GOAWAY", 1) is None:
            raise Failure("after a GOAWAY at its request's ID the client did not say why it ended")
    finally:
        stop_client(client, quic)


def without_extended_connect(bindir, peer_bin, work):
    """Part 6: the client must not send its request, and must say why (RFC 9220 §3)."""
    client, quic, _ = serve_bind_client(bindir, peer_bin, work, "server-no-connect",
                                        connect_protocol=False)
    try:
        expect_client_end(client, "a proxy without extended CONNECT", 1)
        if any(k == "bi" for _, k in quic.peer_streams):
            raise Failure("the client sent a request anyway")
        if wait_for(f"{work}/server-no-connect.err", "does not offer extended CONNECT", 1) is None:
            raise Failure("the client did not say why it gave up")
    finally:
        stop_client(client, quic)


def a_v2_client_and_a_v1_server(bindir, peer_bin, work):
    """Part 7: quinn speaks QUIC v1 alone (no v2, RFC 9369) and answers the first Initial of a
    --quic-version 2 client with Version Negotiation; the client begins again in v1 (RFC 9368
    §2.1), and ngtcp2's check of quinn's transport parameters for a downgrade (§4, with v2 as
    the Original Version) lets the handshake through: HTTP/3 comes up."""
    client, quic, _ = serve_bind_client(bindir, peer_bin, work, "server-v1-only",
                                        mode=("--echo", "--quic-version", "2"))
    try:
        if wait_for(f"{work}/server-v1-only.err", "beginning again in QUIC v1", 1) is None:
            raise Failure("the client did not say it began again in v1")
    finally:
        stop_client(client, quic)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    peer_bin = sys.argv[2]
    if not os.access(peer_bin, os.X_OK):
        print(f"h3_interop: FAIL: no {peer_bin}: tests/e2e/quic_peer/build.sh builds it from "
              "Debian's cargo, rustc, librust-quinn-dev and librust-rustls-pemfile-dev "
              "(quinn 0.9 in Debian 12, 0.11 in Debian 13; tools/run.sh test installs them)")
        return 1
    work = work_with_pki("h3_interop")
    failures = []
    for name, part in (("in DATAGRAM frames, two requests", in_datagram_frames),
                       ("in DATAGRAM capsules", in_capsules),
                       ("the client's SETTINGS after its request", settings_after_request),
                       ("masque-proxy against broken requests", broken_rules),
                       ("masque-proxy's CONNECTION_CLOSE lost", lost_connection_close),
                       ("masque-proxy killed and restarted", restarted_proxy),
                       ("against masque-bind-client", against_the_client),
                       ("against masque-bind-client --expose", against_expose_mode),
                       ("masque-bind-client against a proxy breaking rules",
                        a_proxy_breaking_rules),
                       ("masque-bind-client against a proxy cancelling", a_proxy_cancelling),
                       ("masque-bind-client against a proxy going away", a_proxy_going_away),
                       ("masque-bind-client against malformed responses", malformed_responses),
                       ("a proxy without extended CONNECT", without_extended_connect),
                       ("a QUIC v2 client and a v1 server", a_v2_client_and_a_v1_server)):
        try:
            part(bindir, peer_bin, work)
        except (Failure, OSError) as exc:
            failures.append(f"{name}: {exc}")
    return report("h3_interop", failures,
                  "an independent QUIC stack (quinn, rustls) with HTTP/3, QPACK and capsules "
                  "written from the RFCs agrees with masque-proxy and masque-bind-client byte for "
                  "byte", work, f"{work}/proxy.log")


if __name__ == "__main__":
    sys.exit(main())
