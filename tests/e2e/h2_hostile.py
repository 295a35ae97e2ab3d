#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""The programs against a hostile HTTP/2 peer that plays at random: HTTP/2 frames (RFC 9113)
written and read here, byte by byte, with Python's ssl and the hpack package only, so that the
peer may write what no HTTP/2 library would. The moves of a round (one TLS connection) are drawn
from a seeded generator.

1. A hostile client against masque-proxy over TLS/TCP (MASQUE_HOSTILE_H2_ROUNDS, 24): a
   connection preface and SETTINGS whole, with odd or invalid values, mutated or absent;
   requests whose fields are changed, cut into CONTINUATION frames, padded, prioritised, sent
   with END_STREAM, or whose HPACK block is mutated; capsules valid and mutated, cut at random
   into DATA frames, some padded; PING, PRIORITY, WINDOW_UPDATE (zero, or beyond 2^31-1),
   SETTINGS, GOAWAY, PUSH_PROMISE, CONTINUATION without HEADERS, frames of unknown types and
   frames on streams they may not be on; END_STREAM and RST_STREAM with any code; windows of a
   few bytes, and no WINDOW_UPDATE at all while UDP from outside floods the public addresses the
   proxy hands out. Each round ends with a well-formed request, which must be answered (or the
   connection ended) in time, or, in some of the rounds that break connection rules, with half
   a frame and a TCP reset.
2. A hostile proxy against masque-bind-client --h2 --echo (some with --compress-after 2), or
   --expose with a local echo service (MASQUE_HOSTILE_H2_CLIENT_ROUNDS, 12): SETTINGS without
   ENABLE_CONNECT_PROTOCOL or with bad values; interim responses, and responses with a status,
   fields or a public address that are wrong; capsules and frames of any type; PING, GOAWAY,
   WINDOW_UPDATE, RST_STREAM and END_STREAM. Then the proxy sends GOAWAY and closes the TCP
   connection, or, in some rounds that break connection rules, resets it.
Half the rounds of each part break only rules whose breach costs a request, not the connection,
so that tunnels are up and carry traffic; those rounds of part 2 end with a datagram that the
client must echo, unless it ended the request or itself, or the proxy's SETTINGS gave the
stream a window of a few bytes and the client says it dropped a datagram for want of room
(behind capsules held back longer than a datagram may wait, it drops: RFC 9298 §6).

What must hold, whatever the moves (RFC 9113 §4-§6, §8; RFC 7541; RFC 8441; RFC 9297 §3.3):
- the proxy stays up, and every few rounds, on a connection of its own, a well-behaved client
  still gets a Bind request answered and datagrams relayed both ways; the client ends with
  status 0 or 1 once the connection is closed, never on a signal and never hanging;
- all either program sends parses as HTTP/2 for its role: frames no longer than the largest
  this end allowed, on the streams they belong to, a header block not interleaved with other
  frames, HPACK that decodes, HEADERS first on a stream (":status" from the proxy, ":method"
  from the client), nothing after END_STREAM, no PUSH_PROMISE, PING and SETTINGS ACKs of the
  right length, no WINDOW_UPDATE of zero; and no more DATA than the windows this end gave;
- every RST_STREAM and GOAWAY carries an HTTP/2 error code (RFC 9113 §7);
- the proxy ends on SIGTERM with exit status 0; no sanitizer report from either, in sanitizer
  builds.

A failing round is named with its seed; MASQUE_HOSTILE_SEED and the round counts replay it or
run longer (each round's moves are logged in the work folder, kept when a round fails, and kept
always with MASQUE_HOSTILE_KEEP set).
usage: h2_hostile.py BUILD_DIR   (an interpreter with the h2 package: tools/run.sh installs it)
"""
import os
import random
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time

try:
    import h2.events
    import h2.settings
    import hpack
except ImportError:
    print("h2_hostile: FAIL: this interpreter has no h2 package (apt-get install python3-h2; "
          "tools/run.sh test installs it)")
    sys.exit(1)

from h2_interop import (ACK, ASSIGN, BIND_REQUEST, DATAGRAM, DEADLINE, Failure,
                        bind_response_public, capsule, connect, header_map, read_varint,
                        start_proxy, tuple_bytes, udp_peer, varint)
from hostile import (GOOD_RESPONSE, KEEP, SEED, client_ended, client_mode, client_rounds,
                     close_sink, mutate, print_failure, proxy_rounds, random_capsule,
                     random_fields, random_response, reserved_type, some_varint,
                     stop_client_round, stop_proxy)
from programs import work_with_pki

ROUNDS = int(os.environ.get("MASQUE_HOSTILE_H2_ROUNDS", "24"))
CLIENT_ROUNDS = int(os.environ.get("MASQUE_HOSTILE_H2_CLIENT_ROUNDS", "12"))
MAX_STREAMS = 10  # requests a round opens at most

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
(DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE,
 CONTINUATION) = range(10)  # RFC 9113 §6
END_STREAM, FLAG_ACK, END_HEADERS, PADDED, FLAG_PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, \
    MAX_HEADER_LIST_SIZE, ENABLE_CONNECT_PROTOCOL = 1, 2, 3, 4, 5, 6, 8  # RFC 9113 §6.5.2, 8441
H2_CODES = set(range(0x0, 0xE))  # RFC 9113 §7: NO_ERROR .. HTTP_1_1_REQUIRED
WINDOW_MAX = (1 << 31) - 1  # RFC 9113 §6.9.1


def h2frame(ftype, flags, sid, payload):
    """RFC 9113 §4.1: Length (24), Type (8), Flags (8), R (1), Stream Identifier (31)."""
    return (len(payload).to_bytes(3, "big") + bytes([ftype & 0xFF, flags & 0xFF]) +
            (sid & 0x7FFFFFFF).to_bytes(4, "big") + payload)


def settings_payload(values):
    """RFC 9113 §6.5.1: Identifier (16), Value (32) each."""
    return b"".join(k.to_bytes(2, "big") + (v & 0xFFFFFFFF).to_bytes(4, "big")
                    for k, v in values)


def padded(rng, payload):
    """The PADDED form of a DATA or HEADERS payload (RFC 9113 §6.1): its flag and the payload."""
    pad = rng.randrange(0, 20)
    return PADDED, bytes([pad]) + payload + bytes(pad)


class H2End:
    """This end of an HTTP/2 connection over TLS, single-threaded: it writes frames as told and
    reads the other end's, checking each (the module's oracle) and keeping what came."""

    def __init__(self, sock, log, client):
        self.sock, self.log, self.client = sock, log, client
        self.buf = b""
        self.decoder = hpack.Decoder()
        self.encoder = hpack.Encoder()
        self.streams = {}  # the other end's per stream: headers (a list of field lists), data...
        self.goaway = None  # (last stream ID, code) of the other end's GOAWAY
        self.closed = False  # the TCP connection ended (or broke)
        self.peer_settings = {}
        self.preface_seen = client  # a server first reads the client's connection preface
        self.block = None  # (stream, bytes) of a header block awaiting CONTINUATION frames
        self.max_frame = 16384  # the largest frame this end ever allowed (RFC 9113 §4.2)
        # RFC 9113 §6.9: what the other end may still send; per stream only while this end has
        # not changed SETTINGS_INITIAL_WINDOW_SIZE after its first SETTINGS.
        self.conn_window = 65535
        self.initial_window = 65535
        self.stream_windows_exact = True
        self.started = False  # this end's first SETTINGS went out (or never will)
        self.replenish = True  # WINDOW_UPDATE for what arrives (off: a peer that stops reading)
        self.touched = set()  # streams with DATA in what was just read
        self.broken = False  # the other end's bytes no longer parse: the rest is ignored
        self.pings = []  # payloads of the PING ACKs received
        self.violations = []

    def note(self, text):
        self.log.write(text + "\n")
        self.log.flush()

    def violation(self, text):
        self.note(f"VIOLATION: {text}")
        self.violations.append(text)

    def send(self, data, what=None):
        """Writes data, reading (not handling) what comes meanwhile: the other end may wait
        for its own writes before it reads more, and both would wait forever."""
        if what is not None:
            self.note(f"{what}: {data[:48].hex()}{'...' if len(data) > 48 else ''}")
        view = memoryview(data)
        until = time.monotonic() + DEADLINE
        while view and not self.closed:
            if time.monotonic() > until:
                self.violation(f"the other end read nothing for {DEADLINE} s")
                self.closed = True
                return
            try:
                readable, writable, _ = select.select([self.sock], [self.sock], [], 0.1)
                if readable or self.sock.pending():
                    self.receive()
                if writable:
                    view = view[self.sock.send(view[:16384]):]
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, socket.timeout):
                continue
            except (OSError, ssl.SSLError, ValueError):
                self.closed = True

    def frame(self, ftype, flags, sid, payload, what=None):
        if ftype == WINDOW_UPDATE and len(payload) == 4:  # what the other end may send more
            increment = int.from_bytes(payload, "big") & 0x7FFFFFFF
            if sid == 0:
                self.conn_window += increment
            else:
                self.stream(sid)["window"] += increment
        self.send(h2frame(ftype, flags, sid, payload), what or f"frame {ftype:#x} on {sid}")

    def settings(self, values, what="SETTINGS"):
        """A SETTINGS frame with these (identifier, value) pairs, and what it allows the other
        end from then on (it may use a larger value before it acknowledges the frame)."""
        for k, v in values:
            if k == MAX_FRAME_SIZE and 16384 <= v <= (1 << 24) - 1:
                self.max_frame = max(self.max_frame, v)
            if k == INITIAL_WINDOW_SIZE and v <= WINDOW_MAX:
                if self.started:  # open streams' windows move by the difference (§6.9.2)
                    self.stream_windows_exact = False
                    self.initial_window = max(self.initial_window, v)
                elif self.client:  # the proxy reads them before any request
                    self.initial_window = v
                else:  # a client may open its stream before it reads them
                    self.initial_window = max(v, 65535)
            if k == HEADER_TABLE_SIZE:
                self.decoder.max_allowed_table_size = max(self.decoder.max_allowed_table_size,
                                                          v)
        self.frame(SETTINGS, 0, 0, settings_payload(values), what)

    def stream(self, sid):
        return self.streams.setdefault(sid, {"headers": [], "data": bytearray(), "ended": False,
                                             "reset": None, "window": self.initial_window})

    def receive(self):
        """What the socket holds, into the buffer (not handled yet)."""
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, socket.timeout):
            return
        except (OSError, ssl.SSLError, ValueError):
            self.closed = True
            return
        if not data:
            self.closed = True
        self.buf += data

    def pump(self, timeout=0.0):
        """Reads what has come (waiting up to timeout for the first bytes) and handles it."""
        if not self.closed:
            try:
                ready = self.sock.pending() or select.select([self.sock], [], [], timeout)[0]
            except (OSError, ValueError):
                ready, self.closed = False, True
            if ready:
                self.receive()
        self.parse()

    def parse(self):
        if self.broken:
            return
        if not self.preface_seen:
            if len(self.buf) < len(PREFACE):
                return
            if self.buf[:len(PREFACE)] != PREFACE:
                self.violation("the client's connection preface is wrong (RFC 9113 §3.4)")
            self.buf = self.buf[len(PREFACE):]
            self.preface_seen = True
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if length > self.max_frame:
                self.violation(f"a frame of {length} bytes, over the {self.max_frame} allowed "
                               "(RFC 9113 §4.2)")
                self.broken = True
                return
            if len(self.buf) < 9 + length:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            self.handle(ftype, flags, sid, payload)
        if self.replenish:
            for sid in self.touched:
                self.give_back(sid)
        self.touched.clear()

    def stream_frame(self, ftype, sid):
        """Whether a frame that belongs to a stream is on one the other end may use."""
        if sid == 0:
            self.violation(f"frame {ftype:#x} on stream 0 (RFC 9113 §6)")
            return False
        if sid % 2 == 0:
            self.violation(f"frame {ftype:#x} on even stream {sid}: no stream was pushed")
            return False
        return True

    def handle(self, ftype, flags, sid, payload):
        if self.block is not None and (ftype != CONTINUATION or sid != self.block[0]):
            self.violation(f"frame {ftype:#x} inside the header block of stream {self.block[0]}"
                           " (RFC 9113 §6.10)")
            self.block = None
        if ftype == DATA:
            self.data(flags, sid, payload)
        elif ftype == HEADERS:
            if not self.stream_frame(ftype, sid):
                return
            pos = 0
            if flags & PADDED:
                pos = 1
                if not payload or payload[0] >= len(payload):
                    self.violation(f"HEADERS on {sid} with bad padding")
                    return
                payload = payload[:len(payload) - payload[0]]
            if flags & FLAG_PRIORITY:
                pos += 5
            st = self.stream(sid)
            if st["ended"]:
                self.violation(f"HEADERS on stream {sid} after its END_STREAM (RFC 9113 §5.1)")
            st["ended"] = st["ended"] or bool(flags & END_STREAM)
            self.block = (sid, payload[pos:])
            if flags & END_HEADERS:
                self.header_block()
        elif ftype == CONTINUATION:
            if self.block is None:
                self.violation(f"CONTINUATION on {sid} without a header block (RFC 9113 §6.10)")
                return
            self.block = (sid, self.block[1] + payload)
            if flags & END_HEADERS:
                self.header_block()
        elif ftype == PRIORITY:
            if self.stream_frame(ftype, sid) and len(payload) != 5:
                self.violation(f"PRIORITY of {len(payload)} bytes (RFC 9113 §6.3)")
        elif ftype == RST_STREAM:
            if not self.stream_frame(ftype, sid):
                return
            if len(payload) != 4:
                self.violation(f"RST_STREAM of {len(payload)} bytes (RFC 9113 §6.4)")
                return
            code = int.from_bytes(payload, "big")
            if code not in H2_CODES:
                self.violation(f"RST_STREAM on {sid} with {code:#x}, not an HTTP/2 error code")
            self.stream(sid)["reset"] = code
            self.note(f"<- RST_STREAM {sid} {code:#x}")
        elif ftype == SETTINGS:
            self.settings_frame(flags, sid, payload)
        elif ftype == PUSH_PROMISE:
            self.violation("PUSH_PROMISE: this end's SETTINGS_ENABLE_PUSH is 0, or it is the "
                           "server (RFC 9113 §8.4)")
        elif ftype == PING:
            if sid != 0 or len(payload) != 8:
                self.violation(f"PING on stream {sid} of {len(payload)} bytes (RFC 9113 §6.7)")
            elif flags & FLAG_ACK:
                self.pings.append(payload)
            else:
                self.frame(PING, FLAG_ACK, 0, payload, "PING ACK")
        elif ftype == GOAWAY:
            if sid != 0 or len(payload) < 8:
                self.violation(f"GOAWAY on stream {sid} of {len(payload)} bytes (RFC 9113 §6.8)")
                return
            last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            code = int.from_bytes(payload[4:8], "big")
            if code not in H2_CODES:
                self.violation(f"GOAWAY with {code:#x}, not an HTTP/2 error code")
            self.goaway = (last, code)
            self.note(f"<- GOAWAY last {last} code {code:#x} {payload[8:80]!r}")
        elif ftype == WINDOW_UPDATE:
            if len(payload) != 4:
                self.violation(f"WINDOW_UPDATE of {len(payload)} bytes (RFC 9113 §6.9)")
            elif int.from_bytes(payload, "big") & 0x7FFFFFFF == 0:
                self.violation(f"WINDOW_UPDATE of 0 on stream {sid} (RFC 9113 §6.9)")
        # Frames of other types: extensions, to be ignored (RFC 9113 §5.5).

    def data(self, flags, sid, payload):
        if not self.stream_frame(DATA, sid):
            return
        st = self.stream(sid)
        if not st["headers"]:
            self.violation(f"DATA on stream {sid} before HEADERS (RFC 9113 §8.1)")
        if st["ended"]:
            self.violation(f"DATA on stream {sid} after its END_STREAM (RFC 9113 §5.1)")
        # RFC 9113 §6.9.1: the whole payload counts, padding included.
        self.conn_window -= len(payload)
        st["window"] -= len(payload)
        if self.conn_window < 0:
            self.violation(f"DATA beyond the connection's window ({self.conn_window})")
        if st["window"] < 0 and self.stream_windows_exact:
            self.violation(f"DATA beyond stream {sid}'s window ({st['window']})")
        if flags & PADDED:
            if not payload or payload[0] >= len(payload):
                self.violation(f"DATA on {sid} with bad padding")
                return
            payload = payload[1:len(payload) - payload[0]]
        st["data"] += payload
        st["ended"] = st["ended"] or bool(flags & END_STREAM)
        self.touched.add(sid)  # its window is given back once what was read is handled

    def give_back(self, sid):
        """WINDOW_UPDATE for what the other end used of the windows (RFC 9113 §6.9)."""
        used = 65535 - self.conn_window
        if used > 0:
            self.frame(WINDOW_UPDATE, 0, 0, used.to_bytes(4, "big"))
        st = self.streams.get(sid)
        if st is not None and not st["ended"] and st["reset"] is None:
            used = self.initial_window - st["window"]
            if used > 0:
                self.frame(WINDOW_UPDATE, 0, sid, used.to_bytes(4, "big"))

    def header_block(self):
        sid, block = self.block
        self.block = None
        try:
            fields = self.decoder.decode(block)
        except Exception as exc:  # pylint: disable=broad-except
            self.violation(f"a header block on {sid} that does not decode: {exc!r}")
            return
        st = self.stream(sid)
        first = ":method" if self.client is False else ":status"
        names = [name for name, _ in fields]
        if not st["headers"] and first not in names:
            self.violation(f"the first HEADERS on stream {sid} without {first}: {fields}")
        st["headers"].append(fields)
        self.note(f"<- HEADERS {sid}: {fields}")

    def settings_frame(self, flags, sid, payload):
        if sid != 0:
            self.violation(f"SETTINGS on stream {sid} (RFC 9113 §6.5)")
        elif flags & FLAG_ACK:
            if payload:
                self.violation("a SETTINGS ACK with a payload (RFC 9113 §6.5)")
        elif len(payload) % 6:
            self.violation(f"SETTINGS of {len(payload)} bytes (RFC 9113 §6.5)")
        else:
            for i in range(0, len(payload), 6):
                self.peer_settings[int.from_bytes(payload[i:i + 2], "big")] = \
                    int.from_bytes(payload[i + 2:i + 6], "big")
            table = self.peer_settings.get(HEADER_TABLE_SIZE, 4096)
            self.encoder.header_table_size = min(table, 4096)
            self.frame(SETTINGS, FLAG_ACK, 0, b"", "SETTINGS ACK")

    def sync(self, seconds=DEADLINE):
        """A PING and its ACK: the other end has read everything before it. False when the
        connection ended first; a Failure when neither happens within seconds."""
        token = os.urandom(8)
        self.frame(PING, 0, 0, token, "PING")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if token in self.pings:
                return True
            if self.closed:
                return False
            self.pump(0.1)
        raise Failure(f"no PING ACK within {seconds} s, and the connection is still open")

    def headers(self, sid, fields, rng=None, flags=0, mild=True, what="HEADERS"):
        """A header block for fields on stream sid (RFC 9113 §6.2, §6.10): in one frame, or in
        wild rounds cut into CONTINUATION frames, padded, prioritised or mutated."""
        block = self.encoder.encode(fields)
        if rng is None or mild or rng.random() < 0.5:
            self.frame(HEADERS, flags | END_HEADERS, sid, block, f"{what} on {sid} {fields}")
            return
        r = rng.random()
        if r < 0.2:
            block = mutate(rng, block)
        if r < 0.5:
            pad_flag, payload = padded(rng, block)
            self.frame(HEADERS, flags | END_HEADERS | pad_flag, sid, payload, f"{what}, padded")
        elif r < 0.7:
            dep = rng.choice((0, sid, sid + 2, 1)).to_bytes(4, "big")  # itself: an error
            self.frame(HEADERS, flags | END_HEADERS | FLAG_PRIORITY, sid,
                       dep + bytes([rng.randrange(256)]) + block, f"{what}, priority")
        else:
            cut = sorted(rng.sample(range(len(block) + 1), min(2, len(block) + 1)))
            pieces = [block[:cut[0]], block[cut[0]:cut[-1]], block[cut[-1]:]]
            self.frame(HEADERS, flags, sid, pieces[0], f"{what}, in pieces")
            if rng.random() < 0.1:  # a frame inside the header block: a connection error
                self.frame(PING, 0, 0, bytes(8), "PING inside a header block")
            for i, piece in enumerate(pieces[1:]):
                self.frame(CONTINUATION, END_HEADERS if i == 1 else 0, sid, piece,
                           "CONTINUATION")


def in_data_frames(rng, end, sid, data, mild):
    """data in DATA frames on stream sid cut at random places, some padded, with empty ones
    between (RFC 9113 §6.1)."""
    pos = 0
    while pos < len(data):
        n = rng.randint(1, max(1, len(data) - pos)) if rng.random() < 0.7 else len(data) - pos
        flags, payload = 0, data[pos:pos + n]
        if rng.random() < 0.2:
            flags, payload = padded(rng, payload)
        end.frame(DATA, flags, sid, payload, f"capsule bytes on {sid}")
        pos += n
        if rng.random() < 0.1:
            end.frame(DATA, 0, sid, b"", "empty DATA")
    if not mild and rng.random() < 0.05:
        end.frame(DATA, PADDED, sid, bytes([200]) + b"x", "DATA whose padding runs past it")


class Round:
    """One connection of hostile client moves against masque-proxy."""

    def __init__(self, rng, end, sink):
        self.rng, self.end, self.sink = rng, end, sink
        self.mild = rng.random() < 0.5
        self.next_sid = 1
        self.sids = []
        self.ended = set()  # streams this end ended or reset: more DATA on them is an error
        self.publics = []
        self.answered = 0

    def alive(self):
        return not self.end.closed and self.end.goaway is None

    def move(self):
        rng, end = self.rng, self.end
        r = rng.random()
        if r < 0.2 and len(self.sids) < MAX_STREAMS:
            self.request()
        elif r < 0.42 and self.writable():
            sid = rng.choice(self.writable())
            in_data_frames(rng, end, sid, random_capsule(rng, self.sink.getsockname()[1]),
                           self.mild)
        elif r < 0.5:
            self.legal_frame()
        elif r < 0.57 and not self.mild:
            self.illegal_frame()
        elif r < 0.65 and self.writable():
            sid = rng.choice(self.writable())
            self.ended.add(sid)
            if rng.random() < 0.5:
                end.frame(DATA, END_STREAM, sid, b"", f"END_STREAM on {sid}")
            else:
                code = rng.choice((0x8, 0x0, 0x1, 0x2, rng.randrange(1 << 32)))
                end.frame(RST_STREAM, 0, sid, code.to_bytes(4, "big"), f"RST_STREAM {code:#x}")
        elif r < 0.75 and self.publics:
            public = rng.choice(self.publics)
            count = rng.choice((1, 1, 2, 50))  # a burst the window may not hold
            for _ in range(count):
                self.sink.sendto(rng.randbytes(rng.choice((0, 1, 100, 1200, 1400))), public)
            end.note(f"udp to {public}: {count} datagrams")
        elif r < 0.8:
            end.replenish = not end.replenish or self.mild
            end.note(f"WINDOW_UPDATEs {'on' if end.replenish else 'off'}")
        else:
            end.note("sync")
            try:
                end.sync(5)
            except Failure:
                pass  # a window this end keeps shut may hold the PING ACK back: not a failure
        end.pump()

    def writable(self):
        """The streams DATA may go on: in mild rounds, none this end ended (RFC 9113 §5.1 makes
        DATA after END_STREAM a connection error) or the proxy reset."""
        if not self.mild:
            return self.sids
        return [s for s in self.sids if s not in self.ended and
                self.end.streams.get(s, {}).get("reset") is None]

    def request(self):
        rng, end = self.rng, self.end
        sid = self.next_sid
        self.next_sid += 2
        if not self.mild and rng.random() < 0.1:
            sid = rng.choice((sid + 1, self.sids[0] if self.sids else 1, 0))  # not a new stream
        self.sids.append(sid)
        fields = list(BIND_REQUEST) if self.mild else random_fields(rng)
        flags = END_STREAM if not self.mild and rng.random() < 0.05 else 0  # a CONNECT ended
        end.headers(sid, fields, rng, flags, self.mild, "request")
        if rng.random() < 0.5 or self.mild:  # the uncompressed context at once (RFC 9298 §5)
            in_data_frames(rng, end, sid, capsule(ASSIGN, varint(2) + b"\x00"), self.mild)
        if fields == BIND_REQUEST and (rng.random() < 0.5 or self.mild):
            self.response(sid)

    def response(self, sid):
        """The response to a request, if one comes soon: a 2xx's public address, kept as a
        target for UDP from outside. The wait is only to find it; no answer is no failure."""
        end = time.monotonic() + 2
        while time.monotonic() < end and self.alive():
            st = self.end.streams.get(sid)
            if st is not None and (st["headers"] or st["reset"] is not None):
                break
            self.end.pump(0.05)
        st = self.end.streams.get(sid)
        if st is not None and st["headers"]:
            fields = header_map(st["headers"][0])
            if fields.get(":status", "").startswith("2"):
                try:
                    self.publics.append(bind_response_public(fields))
                except Failure:
                    pass

    def legal_frame(self):
        rng, end = self.rng, self.end
        r = rng.random()
        if r < 0.2:
            end.frame(PING, 0, 0, rng.randbytes(8), "PING")
        elif r < 0.35:
            sid = rng.choice(self.sids + [self.next_sid + 40])  # also an idle stream's
            end.frame(PRIORITY, 0, sid, rng.randrange(1 << 31).to_bytes(4, "big") +
                      bytes([rng.randrange(256)]), f"PRIORITY on {sid}")
        elif r < 0.55:
            sid = rng.choice(self.sids + [0]) if self.sids else 0
            end.frame(WINDOW_UPDATE, 0, sid, rng.randrange(1, 1 << 16).to_bytes(4, "big"),
                      f"WINDOW_UPDATE on {sid}")
        elif r < 0.75:
            end.settings([(rng.choice((HEADER_TABLE_SIZE, MAX_HEADER_LIST_SIZE, 0x7A7A,
                                       MAX_CONCURRENT_STREAMS)), rng.randrange(0, 1 << 16))],
                         "SETTINGS, legal")
        else:
            ftype = rng.choice((0xA, 0xC, 0x10, rng.randrange(0xA, 0x100)))
            end.frame(ftype, rng.randrange(256), rng.choice((0, 1, 3)),
                      rng.randbytes(rng.randrange(0, 30)), f"unknown frame type {ftype:#x}")

    def illegal_frame(self):
        rng, end = self.rng, self.end
        sid = rng.choice(self.sids) if self.sids else 1
        r = rng.random()
        if r < 0.1:
            end.frame(DATA, 0, rng.choice((0, self.next_sid + 20)), b"data", "DATA off-stream")
        elif r < 0.2:
            end.frame(rng.choice((RST_STREAM, WINDOW_UPDATE, PRIORITY)), 0,
                      rng.choice((0, sid)), rng.randbytes(rng.choice((0, 3, 5, 6))),
                      "a frame of the wrong length")
        elif r < 0.3:
            end.frame(WINDOW_UPDATE, 0, rng.choice((0, sid)),
                      rng.choice((0, WINDOW_MAX)).to_bytes(4, "big"),
                      "WINDOW_UPDATE of 0, or past 2^31-1")
        elif r < 0.4:
            end.frame(PING, rng.choice((0, FLAG_ACK)), rng.choice((0, sid)),
                      rng.randbytes(rng.choice((7, 8, 9))), "PING, odd")
        elif r < 0.5:
            values = [(rng.choice((ENABLE_PUSH, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE,
                                   ENABLE_CONNECT_PROTOCOL)),
                       rng.choice((2, 0, 100, 1 << 31, 16383, 1 << 24)))]
            if rng.random() < 0.7:
                end.settings(values, "SETTINGS, bad values")
            else:
                end.frame(SETTINGS, rng.choice((0, FLAG_ACK)), rng.choice((0, sid)),
                          rng.randbytes(rng.choice((1, 6, 7))), "SETTINGS, malformed")
        elif r < 0.6:
            end.frame(PUSH_PROMISE, END_HEADERS, sid, (sid + 1).to_bytes(4, "big") +
                      end.encoder.encode([(":method", "GET")]), "PUSH_PROMISE from a client")
        elif r < 0.7:
            end.frame(CONTINUATION, END_HEADERS, sid, b"\x82", "CONTINUATION alone")
        elif r < 0.8:
            end.frame(GOAWAY, 0, 0, rng.randrange(1 << 31).to_bytes(4, "big") +
                      rng.randrange(1 << 32).to_bytes(4, "big"), "GOAWAY from the client")
        elif r < 0.9:
            end.frame(DATA, 0, sid, rng.randbytes(end.peer_settings.get(MAX_FRAME_SIZE, 16384)
                                                  + 1), "DATA over the frame size")
        else:
            end.send(mutate(rng, h2frame(rng.randrange(10), rng.randrange(256), sid,
                                         rng.randbytes(rng.randrange(12)))), "mutated frame")

    def vanish(self):
        """The end of the round without a word: half a frame, then a TCP reset (no GOAWAY, no
        TLS close_notify), as a client whose host crashes mid-write. The proxy must free the
        connection and go on serving (the next probe)."""
        end = self.end
        sid = self.sids[-1] if self.sids else 1
        end.send(h2frame(DATA, 0, sid, self.rng.randbytes(100))[:60], "half a frame")
        end.note("TCP reset")
        try:
            end.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        end.closed = True

    def last_word(self):
        """A well-formed Bind request on a new stream, if the connection is still up: it must
        be answered (a response or RST_STREAM) or the connection ended, within the deadline."""
        end = self.end
        if not self.alive():
            return
        end.replenish = True
        sid = self.next_sid
        end.headers(sid, BIND_REQUEST, what="last request")
        until = time.monotonic() + DEADLINE
        while time.monotonic() < until:
            st = end.streams.get(sid)
            if (st is not None and (st["headers"] or st["reset"] is not None)) or \
                    not self.alive():
                return
            end.pump(0.1)
            for s in list(end.streams):  # a window this end shut may hold the answer back
                end.give_back(s)
        raise Failure(f"no answer to the well-formed request on stream {sid} within "
                      f"{DEADLINE} s, and the connection is still open")


def tls_client(port, work):
    ctx = ssl.create_default_context(cafile=f"{work}/pki/ca.pem")
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE),
                           server_hostname="localhost")
    if sock.selected_alpn_protocol() != "h2":
        raise Failure(f"ALPN chose {sock.selected_alpn_protocol()!r}, not h2")
    return sock


def check_round(end, tally):
    """The oracle of one round, over what end received; tally counts what the program did."""
    if end.violations:
        raise Failure("; ".join(end.violations[:3]))
    for st in end.streams.values():
        if st["headers"]:
            status = header_map(st["headers"][0]).get(":status", "")
            tally["answered"] += status.startswith("2")
        tally["resets"] += st["reset"] is not None
        tally["capsule_bytes"] += len(st["data"])
    if end.goaway is not None:
        tally["goaway"] += 1
        tally["codes"][end.goaway[1]] = tally["codes"].get(end.goaway[1], 0) + 1


def one_round(port, work, seed, tally):
    """A connection of the moves the seed draws, logged in work/round-SEED.log, and the oracle
    over what the proxy sent."""
    rng = random.Random(seed)
    log = open(f"{work}/round-{seed}.log", "w",  # pylint: disable=consider-using-with
               encoding="utf-8")
    sock = tls_client(port, work)
    sink = udp_peer()
    sink.setblocking(False)
    try:
        end = H2End(sock, log, client=True)
        game = Round(rng, end, sink)
        end.note(f"mild: {game.mild}")
        preface = PREFACE if game.mild or rng.random() < 0.9 else mutate(rng, PREFACE)
        end.send(preface, "preface")
        values = [(ENABLE_PUSH, 0)]
        if rng.random() < 0.5:  # a stream window of a few bytes: capsules cut to fit it
            values.append((INITIAL_WINDOW_SIZE, rng.choice((1, 16, 100, 65535, 1 << 20))))
        if rng.random() < 0.2:
            values.append((MAX_FRAME_SIZE, rng.choice((16384, 20000, (1 << 24) - 1))))
        if rng.random() < 0.2:
            values.append((0x7A7A, rng.randrange(1 << 32)))  # unknown: ignored (§6.5.2)
        if game.mild or rng.random() < 0.9:
            end.settings(values, f"SETTINGS {values}")
        end.started = True
        for _ in range(rng.randint(4, 30)):
            if not game.alive():
                break
            game.move()
        if not game.mild and rng.random() < 0.15:
            game.vanish()
        else:
            game.last_word()
        end.note(f"goaway: {end.goaway}; closed: {end.closed}")
        check_round(end, tally)
    finally:
        close_sink(sink)
        sock.close()
        log.close()


def probe(port, work):
    """A well-behaved client (the h2 package) on a connection of its own: a Bind request
    answered, the uncompressed context acknowledged, a datagram each way between it and a UDP
    peer (RFC 9298 §5, -10 §4)."""
    peer = connect(port, work)
    sock = udp_peer()
    try:
        peer.wait_event(h2.events.RemoteSettingsChanged, "SETTINGS")
        peer.stream = peer.conn.get_next_available_stream_id()
        peer.conn.send_headers(peer.stream, BIND_REQUEST)
        peer.send_capsule(ASSIGN, varint(2) + b"\x00")
        public = bind_response_public(
            header_map(peer.wait_event(h2.events.ResponseReceived, "response").headers))
        peer.expect_capsule(ACK, varint(2), "COMPRESSION_ACK of the uncompressed context")
        here = sock.getsockname()
        sock.sendto(b"still there?", public)
        peer.expect_capsule(DATAGRAM, varint(2) + tuple_bytes(*here) + b"still there?",
                            "a datagram from outside after hostile rounds")
        peer.send_capsule(DATAGRAM, varint(2) + tuple_bytes(*here) + b"yes")
        data, src = sock.recvfrom(2048)
        if (data, src) != (b"yes", public):
            raise Failure(f"the UDP peer got {data!r} from {src}, not 'yes' from {public}")
    except (OSError, ssl.SSLError) as exc:
        raise Failure(f"a well-behaved client: {exc!r}") from exc
    finally:
        sock.close()
        peer.sock.close()


def random_settings(rng, mild):
    """A proxy's SETTINGS: extended CONNECT on (RFC 8441 §3), and in wild rounds absent, or
    with values that are bad."""
    values = [(ENABLE_CONNECT_PROTOCOL, 1), (MAX_CONCURRENT_STREAMS, 100)]
    if rng.random() < 0.5:
        values.append((INITIAL_WINDOW_SIZE, rng.choice((1, 16, 65535, 1 << 20))))
    if mild:
        return values
    r = rng.random()
    if r < 0.15:
        del values[0]
    elif r < 0.3:
        values[0] = (ENABLE_CONNECT_PROTOCOL, rng.choice((0, 2)))
    elif r < 0.45:
        values.append((rng.choice((ENABLE_PUSH, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE)),
                       rng.choice((1, 2, 1 << 31, 100))))
    return values


class ServerRound:
    """One connection of a hostile proxy's moves against masque-bind-client --h2."""

    def __init__(self, rng, end, client, answer):
        self.rng, self.end, self.client, self.answer = rng, end, client, answer
        self.mild = rng.random() < 0.5
        self.sid = None
        self.context = None
        self.echoed = False
        self.consumed = 0  # capsule bytes of the client's stream already read
        # Set by the round: the client's stdout, and whether SETTINGS gave its stream a window
        # so small that its capsules trickle out a few bytes a round trip.
        self.out = None
        self.small_window = False

    def alive(self):
        return not self.end.closed and self.client.poll() is None

    def wait(self, ready, what):
        """ready()'s first true value, or None once the connection or the client is gone; a
        Failure after DEADLINE."""
        until = time.monotonic() + DEADLINE
        while time.monotonic() < until:
            got = ready()
            if got:
                return got
            if not self.alive():
                return None
            self.end.pump(0.1)
        raise Failure(f"no {what} within {DEADLINE} s, and the client did not end")

    def next_capsule(self):
        """The next whole capsule the client sent, (type, value), or None."""
        st = self.end.streams.get(self.sid)
        data = bytes(st["data"][self.consumed:]) if st else b""
        t = read_varint(data, 0)
        n = t and read_varint(data, t[1])
        if n and len(data) >= n[1] + n[0]:
            self.consumed += n[1] + n[0]
            return t[0], data[n[1]:n[1] + n[0]]
        return None

    def tunnel(self):
        """The client's request answered; in mild rounds its uncompressed context
        acknowledged. False when the round has nothing to play with."""
        rng, end = self.rng, self.end
        got = self.wait(lambda: next((s for s, st in end.streams.items() if st["headers"]),
                                     None), "Bind request")
        if got is None:
            return False
        self.sid = got
        request = header_map(end.streams[got]["headers"][0])
        for name, value in BIND_REQUEST:
            if name != ":authority" and request.get(name) != value:
                raise Failure(f"request {name}: {request.get(name)!r}, not {value!r}")
        if rng.random() < 0.2:  # an interim response first (RFC 9110 §15.2)
            end.headers(got, [(":status", rng.choice(("100", "103"))), ("link", "</x>")],
                        what="interim")
        fields = GOOD_RESPONSE if self.mild or rng.random() < 0.4 else random_response(rng)
        end.headers(got, fields, rng, 0, self.mild, "response")
        if not self.mild:
            return True
        got = self.wait(self.next_capsule, "the client's COMPRESSION_ASSIGN")
        if got is None:
            return False
        ctype, value = got
        parsed = read_varint(value, 0)
        if ctype == ASSIGN and parsed is not None and value[parsed[1]:] == b"\x00":
            self.context = parsed[0]
            end.frame(DATA, 0, self.sid, capsule(ACK, varint(self.context)), "ACK")
        return True

    def move(self):
        rng, end, sid = self.rng, self.end, self.sid
        r = rng.random()
        if r < 0.35:
            value = random_capsule(rng, 4444)
            if self.mild:  # no registrations: the client's context stays as it is
                value = capsule(rng.choice((DATAGRAM, reserved_type(rng))),
                                some_varint(rng, rng.choice((1, 3, self.context or 2))) +
                                tuple_bytes("192.0.2.7", 7) + rng.randbytes(rng.randrange(40)))
            in_data_frames(rng, end, sid, value, self.mild)
        elif r < 0.5:
            c = rng.random()
            if c < 0.4:
                end.frame(PING, 0, 0, rng.randbytes(8), "PING")
            elif c < 0.7:
                end.frame(WINDOW_UPDATE, 0, rng.choice((0, sid)),
                          rng.randrange(1, 1 << 16).to_bytes(4, "big"), "WINDOW_UPDATE")
            else:
                ftype = rng.randrange(0xA, 0x100)
                end.frame(ftype, rng.randrange(256), rng.choice((0, sid)),
                          rng.randbytes(rng.randrange(20)), f"unknown frame type {ftype:#x}")
        elif r < 0.62 and not self.mild:
            c = rng.random()
            if c < 0.25:
                end.headers(sid, random_response(rng), rng, 0, False, "HEADERS again")
            elif c < 0.45:
                end.frame(PUSH_PROMISE, END_HEADERS, sid, (2).to_bytes(4, "big") +
                          end.encoder.encode([(":method", "GET"), (":path", "/")]),
                          "PUSH_PROMISE (push is off)")
            elif c < 0.6:
                end.frame(GOAWAY, 0, 0, rng.choice((0, sid, 1 << 20)).to_bytes(4, "big") +
                          rng.randrange(14).to_bytes(4, "big"), "GOAWAY")
            elif c < 0.8:
                end.settings([(rng.choice((INITIAL_WINDOW_SIZE, ENABLE_CONNECT_PROTOCOL,
                                           MAX_FRAME_SIZE, HEADER_TABLE_SIZE)),
                               rng.choice((0, 1, 2, 1 << 31, 17000)))], "SETTINGS again")
            else:
                end.send(mutate(rng, h2frame(rng.randrange(10), rng.randrange(256), sid,
                                             rng.randbytes(rng.randrange(12)))),
                         "mutated frame")
        elif r < 0.7 and (not self.mild or rng.random() < 0.2):
            if rng.random() < 0.5:
                end.frame(DATA, END_STREAM, sid, b"", "END_STREAM")
            else:
                code = rng.choice((0x8, 0x0, 0x2, rng.randrange(1 << 32)))
                end.frame(RST_STREAM, 0, sid, code.to_bytes(4, "big"), f"RST_STREAM {code:#x}")
        else:
            end.note("sync")
            try:
                end.sync(5)
            except Failure:
                pass
        end.pump()

    def echo(self, n):
        """Mild rounds end with a DATAGRAM capsule on the client's context: it must come back
        unless the client ended the request or itself, within the deadline."""
        st = self.end.streams.get(self.sid)
        if self.context is None or st is None or st["reset"] is not None or st["ended"] or \
                not self.alive():
            return
        payload = f"ping {n}".encode()
        self.end.frame(DATA, 0, self.sid, capsule(DATAGRAM, varint(self.context) +
                                                  tuple_bytes("192.0.2.9", 9) + payload), "ping")
        answer = self.answer + payload
        got = self.wait(lambda: (answer in bytes(st["data"]) and "echo") or
                        (self.small_window and self.dropped() and "dropped") or
                        st["reset"] is not None or st["ended"], "the echo of a datagram")
        self.echoed = got == "echo"

    def dropped(self):
        """Whether the client said it dropped a datagram for want of room: behind capsules
        that a tiny window holds back longer than a datagram may wait (100 ms), the echo is
        dropped, not queued (RFC 9298 §6: no added latency)."""
        with open(self.out, encoding="utf-8", errors="replace") as f:
            return "cannot send: no room to send" in f.read()


def client_round(bindir, work, seed, tally):
    """masque-bind-client --h2 (--echo, or --expose with a local echo service) against a
    hostile proxy whose moves the seed draws (logged in work/server-SEED.log), then GOAWAY and
    the end of the TCP connection: the client must end with status 0 or 1 and no sanitizer
    report, and what it sent must parse."""
    rng = random.Random(seed)
    echo, mode, answer = client_mode(rng)
    log = open(f"{work}/server-{seed}.log", "w",  # pylint: disable=consider-using-with
               encoding="utf-8")
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(DEADLINE)
    client = sock = None
    try:
        err = open(f"{work}/client-{seed}.err", "w",  # pylint: disable=consider-using-with
                   encoding="utf-8")
        out = open(f"{work}/client-{seed}.out", "w",  # pylint: disable=consider-using-with
                   encoding="utf-8")
        client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                   f"127.0.0.1:{lsock.getsockname()[1]}", "--authority",
                                   "localhost", "--ca", f"{work}/pki/ca.pem", "--h2",
                                   "--run-seconds", "120"] + mode,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        err.close()
        out.close()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(f"{work}/pki/localhost.pem", f"{work}/pki/localhost.key")
        ctx.set_alpn_protocols(["h2"])
        try:
            raw, _ = lsock.accept()
        except socket.timeout as exc:
            raise Failure("the client did not connect") from exc
        raw.settimeout(DEADLINE)
        sock = ctx.wrap_socket(raw, server_side=True)
        end = H2End(sock, log, client=False)
        game = ServerRound(rng, end, client, answer)
        game.out = f"{work}/client-{seed}.out"
        end.note(f"client: {' '.join(mode)}; mild: {game.mild}")
        settings = random_settings(rng, game.mild)
        game.small_window = any(k == INITIAL_WINDOW_SIZE and v < 1024 for k, v in settings)
        end.settings(settings)
        end.started = True
        if game.tunnel():
            for _ in range(rng.randint(4, 25)):
                if not game.alive():
                    break
                game.move()
            if game.mild:
                game.echo(seed)
        end.note(f"goaway: {end.goaway}; closed: {end.closed}; client: {client.poll()}")
        if not game.mild and rng.random() < 0.2:  # a proxy that crashes: a TCP reset
            end.note("TCP reset")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        else:
            end.frame(GOAWAY, 0, 0, bytes(8), "GOAWAY NO_ERROR")  # the proxy goes away
            end.pump(0.05)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        client_ended(client)
        check_round(end, tally)
        tally["tunnels"] += game.context is not None
        tally["echoes"] += game.echoed
    finally:
        stop_client_round(echo, client)
        if sock is not None:
            sock.close()
        lsock.close()
        log.close()


def against_the_proxy(bindir, work, failures):
    """Part 1: masque-proxy against a hostile HTTP/2 client, ROUNDS connections."""
    tally = {"answered": 0, "resets": 0, "goaway": 0, "capsule_bytes": 0, "codes": {}}
    proxy, port = start_proxy(bindir, work, ["--run-seconds", "3600"])
    try:
        proxy_rounds(proxy, ROUNDS, lambda seed: one_round(port, work, seed, tally),
                     lambda seed: probe(port, work), work, failures)
    finally:
        stop_proxy(proxy, work, failures)
    return tally


def against_the_client(bindir, work, failures):
    """Part 2: masque-bind-client --h2 against a hostile proxy, CLIENT_ROUNDS connections."""
    tally = {"answered": 0, "resets": 0, "goaway": 0, "capsule_bytes": 0, "codes": {},
             "tunnels": 0, "echoes": 0}
    client_rounds(CLIENT_ROUNDS, lambda seed: client_round(bindir, work, seed, tally), work,
                  failures)
    return tally


def described(tally):
    codes = ", ".join(f"{c:#x} x{n}" for c, n in sorted(tally["codes"].items()))
    return f"{tally['resets']} RST_STREAM and {tally['goaway']} GOAWAY ({codes or 'none'})"


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("h2_hostile")
    failures = []
    proxy_tally = against_the_proxy(bindir, work, failures)
    client_tally = against_the_client(bindir, work, failures) if not failures else None
    if failures:
        print_failure("h2_hostile", failures, work, client_tally is not None,
                      "MASQUE_HOSTILE_SEED=N with MASQUE_HOSTILE_H2_ROUNDS=1 "
                      "MASQUE_HOSTILE_H2_CLIENT_ROUNDS=0 for a proxy round, "
                      "MASQUE_HOSTILE_H2_ROUNDS=0 MASQUE_HOSTILE_H2_CLIENT_ROUNDS=1 for a client "
                      "round")
        return 1
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)
    print(f"h2_hostile: PASS (from seed {SEED}, {ROUNDS} rounds of a random hostile HTTP/2 "
          f"client against masque-proxy and {CLIENT_ROUNDS} of a hostile proxy against "
          "masque-bind-client --h2: the proxy stayed up and kept serving, the client always "
          "ended with status 0 or 1 once the connection closed, both sent only well-formed "
          "HTTP/2 within the windows given, with HTTP/2 error codes, with no sanitizer report; "
          f"the proxy accepted {proxy_tally['answered']} requests, sent "
          f"{proxy_tally['capsule_bytes']} bytes of capsules, {described(proxy_tally)}; the "
          f"client registered {client_tally['tunnels']} contexts, echoed "
          f"{client_tally['echoes']} datagrams, sent {described(client_tally)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
