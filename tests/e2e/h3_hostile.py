#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""The programs against a hostile HTTP/3 peer that plays at random: the independent QUIC end
of h3_interop.py (quinn, tests/e2e/quic_peer) writes, in rounds of a connection each, HTTP/3
that no nghttp3 peer writes. The moves of a round are drawn from a seeded generator.

1. A hostile client against masque-proxy (MASQUE_HOSTILE_ROUNDS, 24): SETTINGS whole, mutated
   or repeated; frames of any type on the control stream and on request streams; QPACK field
   sections valid, mutated, cut short or naming a dynamic table that does not exist; QPACK
   encoder and decoder streams, push streams and reserved streams with random bytes; capsules
   valid, mutated and cut at random into DATA frames; DATAGRAM frames for open, ended and
   never-opened requests with any Context ID and tuple; FIN, RESET_STREAM and STOP_SENDING on
   any stream; NAT rebindings and a key update; UDP from outside to the public addresses the
   proxy hands out. Each round ends
   with a well-formed request, which must be answered (or the connection closed) in time.
2. A hostile proxy against masque-bind-client --echo (some with --compress-after 2), or
   --expose with a local echo service (MASQUE_HOSTILE_CLIENT_ROUNDS, 12):
   SETTINGS without ENABLE_CONNECT_PROTOCOL or H3_DATAGRAM, with bad values, mutated or
   doubled; interim responses, and responses with a status, fields or a public address that
   are wrong; capsules, DATAGRAM frames and frames of any type; GOAWAY, MAX_PUSH_ID,
   PRIORITY_UPDATE and junk on the control stream; streams of any type; FIN, RESET_STREAM,
   STOP_SENDING. Then the proxy closes the connection.
Half the rounds of each part break only rules whose breach costs a request, not the connection,
so that tunnels are up and carry traffic; those rounds of part 2 end with a datagram that the
client must echo, unless it ended the request or itself.

What must hold, whatever the moves (RFC 9114 §8, RFC 9204 §6, RFC 9297 §2.1 and §3.3):
- the proxy stays up, and every few rounds, on a connection of its own, a well-behaved client
  still gets a Bind request answered and datagrams relayed both ways; the client ends with
  status 0 or 1 once the connection is closed, never on a signal and never hanging;
- all either program sends parses: HTTP/3 frames on request streams (HEADERS first, whose
  field section decodes without a dynamic table, then DATA; nothing its role may not send
  there), a control stream that starts with SETTINGS, no stream of a type it may not open, a
  request stream that ends on a frame boundary;
- every RESET_STREAM and every CONNECTION_CLOSE either sends carries an HTTP/3 or QPACK error
  code, never a transport error: quinn breaks no QUIC rule, so they have none to report;
- the proxy ends on SIGTERM with exit status 0; no sanitizer report from either, in sanitizer
  builds.

A failing round is named with its seed; MASQUE_HOSTILE_SEED and the round counts replay it or
run longer (each round's moves are logged in the work folder, kept when a round fails, and
kept always with MASQUE_HOSTILE_KEEP set).
usage: h3_hostile.py BUILD_DIR QUIC_PEER
"""
import os
import random
import shutil
import subprocess
import sys
import time

from h2_interop import (ACK, ASSIGN, BIND_REQUEST, DATAGRAM, DEADLINE, Failure,
                        bind_response_public, capsule, read_varint, start_proxy, tuple_bytes,
                        udp_peer, varint)
from h3_interop import (CONTROL_STREAM, DATA, ENABLE_CONNECT_PROTOCOL, H3, H3_DATAGRAM, HEADERS,
                        QPACK_BLOCKED_STREAMS, QPACK_MAX_TABLE_CAPACITY, SETTINGS, QuicPeer,
                        bind_request, client_settings, connect_client, expect_udp, frame,
                        prefix_int, qpack_decode, qpack_encode, settings_frame)
from hostile import (GOOD_RESPONSE, KEEP, SEED, client_ended, client_mode, client_rounds,
                     close_sink, mutate, print_failure, proxy_rounds, random_capsule,
                     random_fields, random_response, random_tuple, reserved_type, some_varint,
                     stop_client_round, stop_proxy)
from programs import work_with_pki

ROUNDS = int(os.environ.get("MASQUE_HOSTILE_ROUNDS", "24"))
CLIENT_ROUNDS = int(os.environ.get("MASQUE_HOSTILE_CLIENT_ROUNDS", "12"))
MAX_BIDI = 8  # request streams a round opens at most (the proxy allows 16 at a time)
MAX_UNI = 6  # unidirectional streams a round opens at most (the proxy allows 16)

# RFC 9114 §8.1 (0x100-0x110), RFC 9297 §2.1 H3_DATAGRAM_ERROR, RFC 9204 §6 (0x200-0x202).
APPLICATION_CODES = set(range(0x100, 0x111)) | {0x33, 0x200, 0x201, 0x202}
# RFC 9114 §7.2: frames a server never sends on a request stream (CANCEL_PUSH, SETTINGS,
# PUSH_PROMISE is only for server push, which no client here allowed, GOAWAY, MAX_PUSH_ID, and
# the reserved HTTP/2 types).
NOT_ON_REQUEST_STREAMS = {0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0D}
QPACK_ENCODER_STREAM, QPACK_DECODER_STREAM, PUSH_STREAM = 0x02, 0x03, 0x01


def in_data_frames(rng, data):
    """data in DATA frames cut at random places, with empty and reserved frames between
    (RFC 9114 §7.2.1, §7.2.8)."""
    out, pos = b"", 0
    while pos < len(data):
        n = rng.randint(1, max(1, len(data) - pos)) if rng.random() < 0.7 else len(data) - pos
        out += frame(DATA, data[pos:pos + n])
        pos += n
        if rng.random() < 0.2:
            out += rng.choice((frame(DATA, b""), frame(reserved_type(rng), b"x")))
    return out


def field_section(rng):
    """A QPACK field section (RFC 9204 §4.5): with no dynamic table as the client said, or
    naming one that does not exist (a Required Insert Count, a dynamic reference), mutated."""
    fields = random_fields(rng)
    block = qpack_encode(fields)
    r = rng.random()
    if r < 0.1:
        block = prefix_int(0x00, 8, rng.randrange(1, 10)) + block[1:]  # Required Insert Count
    elif r < 0.2:
        block += prefix_int(0x80, 6, rng.randrange(0, 10))  # an indexed line, dynamic table
    elif r < 0.35:
        block = mutate(rng, block)
    return block


class Round:
    """One connection of hostile moves, and what the proxy did with it."""

    def __init__(self, rng, quic, h3, sink, log, datagrams):
        self.rng, self.quic, self.h3, self.sink, self.log = rng, quic, h3, sink, log
        self.datagrams = datagrams  # whether this end allowed DATAGRAM frames (RFC 9221 §3)
        # Half the rounds break only rules whose breach costs a request, not the connection
        # (RFC 9114 §8: stream errors), so that they reach tunnels that carry traffic.
        self.mild = rng.random() < 0.5
        self.bidi, self.uni, self.ended = [], [], set()
        self.publics = []
        self.key_updated = False

    def note(self, text):
        self.log.write(text + "\n")
        self.log.flush()

    def alive(self):
        return self.quic.closed is None

    def confirmed(self):
        """Whether the proxy has said something on a request stream: it completed the
        handshake before it could read the request (RFC 9001 §4.1.2)."""
        return any(sid % 4 == 0 for sid in self.quic.data) or bool(self.quic.resets)

    def open(self, kind):
        """A new stream, or None when the connection is gone or gives no credit in time."""
        self.quic.lines = [w for w in self.quic.lines if w[0] != "error"]
        self.quic.command(f"open_{kind}")

        def ready():
            for i, words in enumerate(self.quic.lines):
                if words[0] in ("opened", "error"):
                    return self.quic.lines.pop(i)
            return ["closed"] if self.quic.closed else None
        try:
            words = self.quic.wait(ready, "a new stream", 5)
        except Failure:
            return None
        return int(words[1]) if words[0] == "opened" else None

    def sync(self):
        """Every command so far carried out, or the connection gone; errors of commands (a
        write on a stream the proxy stopped) are expected here and skipped."""
        self.quic.command("sync")

        def done():
            for i, words in enumerate(self.quic.lines):
                if words[0] == "synced":
                    return self.quic.lines.pop(i)
            return not self.alive()
        try:
            self.quic.wait(done, "the moves carried out")
        except Failure:
            pass

    def write(self, sid, data, what):
        self.note(f"{what} on {sid}: {data[:64].hex()}{'...' if len(data) > 64 else ''}")
        self.quic.write(sid, data)

    def move(self):
        rng = self.rng
        r = rng.random()
        if r < 0.22 and len(self.bidi) < MAX_BIDI:
            self.request()
        elif r < 0.42 and self.bidi:
            sid = rng.choice(self.bidi)
            self.write(sid, in_data_frames(rng, random_capsule(rng, self.sink.getsockname()[1])),
                       "capsule")
        elif r < 0.55 and self.bidi and self.datagrams:
            self.datagram(rng.choice(self.bidi))
        elif r < 0.6 and self.datagrams and not self.mild:
            self.datagram(rng.choice((0, 4, 400, 1 << 20)))
        elif r < 0.67 and self.bidi and not self.mild:
            sid = rng.choice(self.bidi)
            ftype = rng.choice((HEADERS, SETTINGS, 0x03, 0x05, 0x07, 0x0D, 0x02, 0x06,
                                reserved_type(rng), rng.randrange(1 << 16)))
            payload = field_section(rng) if ftype == HEADERS else rng.randbytes(rng.randrange(9))
            self.write(sid, frame(ftype, payload), f"frame {ftype:#x}")
        elif r < 0.74 and self.h3.control is not None:
            self.control_frame()
        elif r < 0.8 and len(self.uni) < MAX_UNI and not self.mild:
            self.uni_stream()
        elif r < 0.88:
            self.end_stream()
        elif r < 0.94 and self.publics:
            public = rng.choice(self.publics)
            data = rng.randbytes(rng.choice((0, 1, 100, 1200, 1400)))
            self.note(f"udp to {public}: {len(data)} bytes")
            self.sink.sendto(data, public)
        elif r < 0.96 and self.confirmed():
            # Legal, and where a connection's state moves (RFC 9000 §9, RFC 9001 §6), once the
            # proxy has answered a request: it then has the client's Finished, and the handshake
            # is confirmed. Before that it drops packets from a new address (RFC 9000 §9), and
            # a rebinding during the handshake is one no QUIC connection survives. One key
            # update a round: quinn would start a second before the first is acknowledged,
            # which RFC 9001 §6.1 forbids, and the proxy could then decrypt nothing more.
            what = "rebind"
            if not self.key_updated:
                what = rng.choice(("rebind", "key_update"))
                self.key_updated = what == "key_update"
            self.note(what)
            self.quic.command(what)
        else:
            self.note("sync")
            self.sync()

    def request(self):
        rng = self.rng
        sid = self.open("bi")
        if sid is None:
            return
        self.bidi.append(sid)
        section = qpack_encode(BIND_REQUEST) if self.mild else field_section(rng)
        data = frame(HEADERS, section)
        if rng.random() < 0.15 and not self.mild:
            data = data[:rng.randrange(len(data))]  # a HEADERS frame cut short
        if rng.random() < 0.5 or self.mild:  # the uncompressed context at once (RFC 9298 §5)
            data += in_data_frames(rng, capsule(ASSIGN, varint(2) + b"\x00"))
        self.write(sid, data, "request")
        if section[:2] == b"\x00\x00" and (rng.random() < 0.5 or self.mild):
            self.response(sid)

    def response(self, sid):
        """The response to a request, if one comes soon: a 2xx's public address, kept as a
        target for UDP from outside. The wait is only to find it; no answer is no failure."""
        def first_frame():
            b = bytes(self.quic.data.get(sid, b""))
            t = read_varint(b, 0)
            n = t and read_varint(b, t[1])
            if n and len(b) >= n[1] + n[0]:
                return (t[0], b[n[1]:n[1] + n[0]])
            return sid in self.quic.resets or sid in self.quic.fins or not self.alive()
        try:
            got = self.quic.wait(first_frame, "a response", 2)
        except Failure:
            return
        if isinstance(got, tuple) and got[0] == HEADERS:
            fields = dict(qpack_decode(got[1]))
            if fields.get(":status", "").startswith("2"):
                try:
                    self.publics.append(bind_response_public(fields))
                except Failure:
                    pass

    def last_word(self):
        """A well-formed Bind request on a new stream, if the connection is still up: it must
        be answered (a response or a reset) or the connection closed, within the deadline. The
        proxy reads a connection's streams in order, so what the moves made it say has mostly
        come too."""
        sid = self.open("bi") if self.alive() else None
        if sid is None:
            return
        self.write(sid, frame(HEADERS, qpack_encode(BIND_REQUEST)), "last request")
        self.quic.wait(lambda: (any(sid == s for s in self.quic.data) or
                                sid in self.quic.resets or not self.alive()),
                       f"an answer to the well-formed request on stream {sid}")

    def datagram(self, sid):
        rng = self.rng
        cid = rng.choice((2, 2, 2, 0, 1, 4, rng.randrange(1 << 20)))
        body = some_varint(rng, sid // 4) + some_varint(rng, cid)
        if cid % 2 == 0:
            body += random_tuple(rng, self.sink.getsockname()[1])
        body += rng.randbytes(rng.choice((0, 5, 300, 1100)))
        if rng.random() < 0.1:
            body = body[:rng.randrange(len(body) + 1)]
        self.note(f"datagram: {body[:32].hex()}")
        self.quic.datagram(body)

    def control_frame(self):
        rng = self.rng
        r = 0.5 + 0.3 * rng.random() if self.mild else rng.random()  # mild: the legal ones
        if r < 0.3:
            data = frame(0x07, some_varint(rng, rng.choice((0, 4, 1 << 20))))  # GOAWAY
        elif r < 0.4:
            data = frame(0x0D, varint(rng.randrange(100)))  # MAX_PUSH_ID
        elif r < 0.5:
            data = frame(0x03, varint(rng.randrange(100)))  # CANCEL_PUSH
        elif r < 0.7:
            target = rng.choice(self.bidi) if self.bidi else 0
            # RFC 9218 §7.1; a value that does not parse may cost the connection (§7.1).
            value = rng.choice((b"u=2, i", b"u=7", b"i")) if self.mild else \
                rng.choice((b"u=2, i", b"u=9", b"\x00\xff"))
            data = frame(0xF0700, varint(target) + value)
            if rng.random() < 0.5:  # in two STREAM frames, cut after the element ID (legal)
                self.write(self.h3.control, data[:-len(value)], "control, cut")
                self.sync()
                data = data[-len(value):]
        elif r < 0.8:
            data = frame(reserved_type(rng), rng.randbytes(rng.randrange(20)))
        else:
            data = mutate(rng, frame(rng.choice((SETTINGS, DATA, HEADERS, 0x07)),
                                     rng.randbytes(rng.randrange(12))))
        self.write(self.h3.control, data, "control")

    def uni_stream(self):
        rng = self.rng
        sid = self.open("uni")
        if sid is None:
            return
        self.uni.append(sid)
        kind = rng.choice((QPACK_ENCODER_STREAM, QPACK_DECODER_STREAM, PUSH_STREAM,
                           CONTROL_STREAM, reserved_type(rng), rng.randrange(1 << 14)))
        body = rng.randbytes(rng.randrange(0, 24))
        if kind == CONTROL_STREAM:
            body = settings_frame(client_settings())  # a second control stream
        self.write(sid, some_varint(rng, kind) + body, f"uni stream type {kind:#x}")

    def end_stream(self):
        rng = self.rng
        streams = self.bidi + self.uni + ([self.h3.control] if rng.random() < 0.1 and
                                          self.h3.control is not None and not self.mild else [])
        if not streams:
            return
        sid = rng.choice(streams)
        how = rng.choice(("fin", "reset", "stop"))
        self.note(f"{how} {sid}")
        if how == "fin":
            self.quic.command("fin", sid)
        else:
            self.quic.command(how, sid, rng.choice((0x10C, 0x100, 0, rng.randrange(1 << 30))))
        self.ended.add(sid)


def check_request_stream(sid, data, finished, first_field=":status"):
    """What a program sent on a request stream: HTTP/3 frames its role may send there, the
    first a HEADERS frame with first_field (":status" from the proxy, ":method" from the
    client). Returns 1 when it holds a 2xx response."""
    pos, first, success = 0, True, 0
    while pos < len(data):
        t = read_varint(data, pos)
        n = t and read_varint(data, t[1])
        if n is None or len(data) < n[1] + n[0]:
            if finished:
                raise Failure(f"stream {sid} ended inside a frame")
            return success
        ftype, payload = t[0], data[n[1]:n[1] + n[0]]
        pos = n[1] + n[0]
        if ftype in NOT_ON_REQUEST_STREAMS:
            raise Failure(f"frame {ftype:#x} on request stream {sid} (RFC 9114 §7.2)")
        if ftype == HEADERS:
            fields = dict(qpack_decode(payload))
            if first and first_field not in fields:
                raise Failure(f"HEADERS without {first_field} on stream {sid}: {fields}")
            success |= first and fields.get(":status", "").startswith("2")
        elif ftype == DATA and first:
            raise Failure(f"DATA before HEADERS on stream {sid} (RFC 9114 §4.1)")
        first = False
    return success


def check_uni_stream(sid, data):
    """A stream the program opened: its control stream (SETTINGS first) or a QPACK stream."""
    t = read_varint(data, 0)
    if t is None:
        return
    if t[0] not in (CONTROL_STREAM, QPACK_ENCODER_STREAM, QPACK_DECODER_STREAM):
        raise Failure(f"the program opened a stream of type {t[0]:#x}")
    f = read_varint(data, t[1])
    if t[0] == CONTROL_STREAM and f is not None and f[0] != SETTINGS:
        raise Failure(f"the program's control stream starts with frame {f[0]:#x}")


def check_round(quic, tally, client=False):
    """The oracle of one round: see the module's docstring. tally counts what the program (the
    proxy, or the client when client is true) did."""
    with quic.cond:
        streams = {sid: bytes(b) for sid, b in quic.data.items()}
        fins, resets, closed = set(quic.fins), dict(quic.resets), quic.closed
    for sid, data in streams.items():
        if sid % 4 == 0:
            tally["answered"] += check_request_stream(sid, data, sid in fins,
                                                      ":method" if client else ":status")
        elif sid % 4 == (2 if client else 3):
            check_uni_stream(sid, data)
    tally["resets"] += len(resets)
    tally["datagrams"] += len(quic.datagrams)
    for sid, code in resets.items():
        if code not in APPLICATION_CODES:
            raise Failure(f"stream {sid} reset with {code:#x}, not an HTTP/3 error code")
    if closed is not None and closed[0] in ("application", "transport"):  # the other end's
        kind, code = closed
        tally["closed"] += 1
        tally["codes"][code] = tally["codes"].get(code, 0) + 1
        if kind == "transport" or (kind == "application" and code not in APPLICATION_CODES):
            raise Failure(f"the connection closed with {kind} error {code}, not an HTTP/3 one")


def probe(peer_bin, port, work, name):
    """A well-behaved client on a connection of its own: a Bind request answered, a datagram
    each way between it and a UDP peer (RFC 9298 §5, -10 §4)."""
    quic = None
    sock = udp_peer()
    try:
        quic, h3 = connect_client(peer_bin, port, work, name)
        sid, public = bind_request(h3)
        here = sock.getsockname()
        sock.sendto(b"still there?", public)
        h3.expect_datagram(sid, varint(2) + tuple_bytes(*here) + b"still there?",
                           "a datagram from outside after hostile rounds")
        quic.datagram(varint(sid // 4) + varint(2) + tuple_bytes(*here) + b"yes")
        expect_udp(sock, b"yes", public, "a datagram to outside after hostile rounds")
    finally:
        sock.close()
        if quic is not None:
            quic.close()


def one_round(peer_bin, port, work, seed, tally):
    """A connection of the moves the seed draws, its moves logged in work/round-SEED.log, and
    the oracle over what the proxy did."""
    rng = random.Random(seed)
    datagrams = rng.random() >= 0.2
    args = [] if datagrams else ["--no-datagrams"]
    log = open(f"{work}/round-{seed}.log", "w",  # pylint: disable=consider-using-with
               encoding="utf-8")
    quic = QuicPeer(peer_bin, ["client", f"127.0.0.1:{port}", "localhost",
                               f"{work}/pki/ca.pem"] + args, log)
    sink = udp_peer()
    sink.setblocking(False)
    try:
        quic.line("connected", "QUIC handshake with the proxy")
        settings = client_settings(rng.random() < 0.8)
        h3 = H3(quic, None)
        game = Round(rng, quic, h3, sink, log, datagrams)
        r = rng.random() * (0.7 if game.mild else 1.0)
        if r < 0.85:  # else no control stream at all
            h3.control = game.open("uni")
        if h3.control is not None:
            data = settings_frame(settings)
            if r >= 0.7:  # a mutated or doubled SETTINGS frame
                data = mutate(rng, data) if rng.random() < 0.5 else data + data
            game.write(h3.control, varint(CONTROL_STREAM) + data, f"SETTINGS {settings}")
        for _ in range(rng.randint(4, 30)):
            if not game.alive():
                break
            game.move()
        game.sync()
        game.last_word()
        game.note(f"mild: {game.mild}; closed: {quic.closed}; resets: {quic.resets}; "
                  f"fins: {sorted(quic.fins)}")
        check_round(quic, tally)
    finally:
        close_sink(sink)
        quic.close()
        log.close()


class ServerRound(Round):
    """One connection of a hostile proxy's moves against masque-bind-client."""

    def __init__(self, rng, quic, h3, log, client, datagrams, answer):
        super().__init__(rng, quic, h3, None, log, datagrams)
        self.client = client
        self.answer = answer  # what the client (--echo) or its service (--expose) puts first
        self.sid = None  # the client's Bind request
        self.context = None  # the Context ID the client assigned for its uncompressed context
        self.echoed = False

    def alive(self):
        return self.quic.closed is None and self.client.poll() is None

    def wait_for(self, ready, what):
        """ready()'s first true value, or None once the connection or the client is gone; a
        Failure after DEADLINE. Waits in slices, as the client's exit wakes nobody."""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                return self.quic.wait(lambda: ready() or (not self.alive() and "gone"), what,
                                      0.2)
            except Failure:
                continue
        raise Failure(f"no {what} within {DEADLINE} s, and the client did not end")

    def tunnel(self):
        """The client's request answered; in mild rounds its uncompressed context
        acknowledged. False when the round has nothing to play with."""
        rng = self.rng
        got = self.wait_for(lambda: next(([s] for s, k in self.quic.peer_streams
                                          if k == "bi"), None), "Bind request")
        if got == "gone":
            return False
        self.sid = got[0]
        self.bidi.append(self.sid)
        def whole_frame():
            b = bytes(self.quic.data.get(self.sid, b""))
            t = read_varint(b, 0)
            n = t and read_varint(b, t[1])
            return n is not None and len(b) >= n[1] + n[0]
        if self.wait_for(whole_frame, "Bind request's HEADERS") == "gone":
            return False
        self.h3.headers(self.sid, "the Bind request")  # taken, so that capsules come next
        data = b""
        if rng.random() < 0.2:  # an interim response first (RFC 9114 §4.1)
            data += frame(HEADERS, qpack_encode([(":status", rng.choice(("100", "103"))),
                                                 ("link", "</x>")]))
        fields = GOOD_RESPONSE if self.mild or rng.random() < 0.4 else random_response(rng)
        section = qpack_encode(fields)
        if not self.mild and rng.random() < 0.2:
            section = mutate(rng, section)
        self.write(self.sid, data + frame(HEADERS, section), f"response {fields}")
        if not self.mild:
            return True
        try:
            ctype, value = self.h3.next_capsule(self.sid, "the client's COMPRESSION_ASSIGN")
        except Failure:
            return self.alive()
        parsed = read_varint(value, 0)
        if ctype == ASSIGN and parsed is not None and value[parsed[1]:] == b"\x00":
            self.context = parsed[0]
            self.write(self.sid, frame(DATA, capsule(ACK, varint(self.context))), "ACK")
        return True

    def move(self):
        rng = self.rng
        r = rng.random()
        sid = self.sid
        if r < 0.25:
            value = random_capsule(rng, 4444)
            if self.mild:  # no registrations: the client's context stays as it is
                value = capsule(rng.choice((DATAGRAM, reserved_type(rng))),
                                some_varint(rng, rng.choice((1, 3, self.context or 2))) +
                                tuple_bytes("192.0.2.7", 7) + rng.randbytes(rng.randrange(40)))
            self.write(sid, in_data_frames(rng, value), "capsule")
        elif r < 0.45 and self.datagrams:
            cid = self.context if self.context is not None and rng.random() < 0.6 else \
                rng.choice((0, 1, 3, 5, rng.randrange(1 << 20)))
            qsid = sid // 4 if self.mild or rng.random() < 0.8 else rng.randrange(1 << 20)
            body = some_varint(rng, qsid) + some_varint(rng, cid)
            if cid % 2 == 0 or rng.random() < 0.3:
                body += random_tuple(rng, 4444)
            body += rng.randbytes(rng.choice((0, 5, 300, 1100)))
            self.note(f"datagram: {body[:32].hex()}")
            self.quic.datagram(body)
        elif r < 0.55 and not self.mild:
            ftype = rng.choice((HEADERS, SETTINGS, 0x03, 0x05, 0x07, 0x0D, 0x02,
                                reserved_type(rng), rng.randrange(1 << 16)))
            payload = qpack_encode(random_response(rng)) if ftype == HEADERS else \
                rng.randbytes(rng.randrange(9))
            self.write(sid, frame(ftype, payload), f"frame {ftype:#x}")
        elif r < 0.65 and self.h3.control is not None:
            c = rng.random()
            if self.mild or c < 0.3:  # reserved frames, a GOAWAY that spares the tunnel
                data = frame(reserved_type(rng), rng.randbytes(rng.randrange(20))) if \
                    rng.random() < 0.5 else frame(0x07, varint(sid + 4 * rng.randint(1, 50)))
            elif c < 0.5:
                data = frame(0x07, some_varint(rng, rng.choice((0, 1, 2, sid, 1 << 20))))
            elif c < 0.7:
                data = frame(rng.choice((0x0D, 0x03, 0xF0700)), varint(rng.randrange(100)))
            else:
                data = mutate(rng, frame(rng.choice((SETTINGS, DATA, HEADERS, 0x07)),
                                         rng.randbytes(rng.randrange(12))))
            self.write(self.h3.control, data, "control")
        elif r < 0.72 and not self.mild and len(self.uni) < MAX_UNI:
            self.uni_stream()
        elif r < 0.8 and (not self.mild or rng.random() < 0.2):
            self.end_stream()
        else:
            self.note("sync")
            self.sync()

    def echo(self, n):
        """Mild rounds end with a datagram on the client's context: it must come back (--echo)
        unless the client ended the request or itself, within the deadline."""
        if self.context is None or self.sid in self.quic.resets or not self.alive():
            return
        payload = f"ping {n}".encode()
        value = varint(self.context) + tuple_bytes("192.0.2.9", 9) + payload
        if self.datagrams:  # in a DATAGRAM frame, else a DATAGRAM capsule (RFC 9297 §3.5)
            self.quic.datagram(varint(self.sid // 4) + value)
        else:
            self.write(self.sid, frame(DATA, capsule(DATAGRAM, value)), "ping")
        answer = self.answer + payload  # in either form

        def echoed():
            return ((any(answer in d for d in self.quic.datagrams) or
                     answer in bytes(self.quic.data.get(self.sid, b""))) and "echo")
        got = self.wait_for(lambda: echoed() or self.sid in self.quic.resets,
                            "the echo of a datagram")
        self.echoed = got == "echo"


def client_round(bindir, peer_bin, work, seed, tally):
    """masque-bind-client (--echo, or --expose with a local echo service) against a hostile
    proxy whose moves the seed draws (logged in work/server-SEED.log), then CONNECTION_CLOSE:
    the client must end with status 0 or 1 and no sanitizer report, and what it sent must
    parse."""
    rng = random.Random(seed)
    datagrams = rng.random() >= 0.2
    echo, mode, answer = client_mode(rng)
    log = open(f"{work}/server-{seed}.log", "w",  # pylint: disable=consider-using-with
               encoding="utf-8")
    quic = QuicPeer(peer_bin, ["server", f"{work}/pki/localhost.pem", f"{work}/pki/localhost.key"]
                    + ([] if datagrams else ["--no-datagrams"]), log)
    client = None
    try:
        port = int(quic.line("listening", "the QUIC peer's port")[1])
        err = open(f"{work}/client-{seed}.err", "w",  # pylint: disable=consider-using-with
                   encoding="utf-8")
        client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                   f"127.0.0.1:{port}", "--authority", "localhost", "--ca",
                                   f"{work}/pki/ca.pem", "--run-seconds", "120"] + mode,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=err)
        err.close()
        quic.line("accepted", "the client's QUIC connection")
        h3 = H3(quic, None)
        game = ServerRound(rng, quic, h3, log, client, datagrams, answer)
        game.note(f"client: {' '.join(mode)}")
        settings = {QPACK_MAX_TABLE_CAPACITY: 0, QPACK_BLOCKED_STREAMS: 0, H3_DATAGRAM: 1,
                    ENABLE_CONNECT_PROTOCOL: 1}
        r = 0.0 if game.mild else rng.random()
        if 0.7 <= r < 0.8:
            del settings[rng.choice((ENABLE_CONNECT_PROTOCOL, H3_DATAGRAM))]
        elif r >= 0.8:
            settings[H3_DATAGRAM] = rng.choice((2, 1 << 20))
        h3.control = game.open("uni")
        if h3.control is not None:
            data = settings_frame(settings)
            if r >= 0.9:
                data = mutate(rng, data) if rng.random() < 0.5 else data + data
            game.write(h3.control, varint(CONTROL_STREAM) + data, f"SETTINGS {settings}")
        if game.tunnel():
            for _ in range(rng.randint(4, 25)):
                if not game.alive():
                    break
                game.move()
            game.sync()
            if game.mild:
                game.echo(seed)
        game.note(f"mild: {game.mild}; closed: {quic.closed}; resets: {quic.resets}; "
                  f"fins: {sorted(quic.fins)}; client: {client.poll()}")
        quic.command("close", 0x100)  # H3_NO_ERROR: the proxy goes away
        client_ended(client)
        check_round(quic, tally, client=True)
        tally["tunnels"] += game.context is not None
        tally["echoes"] += game.echoed
    finally:
        stop_client_round(echo, client)
        quic.close()
        log.close()


def against_the_proxy(bindir, peer_bin, work, failures):
    """Part 1: masque-proxy against a hostile client, ROUNDS connections; returns the tally."""
    tally = {"answered": 0, "resets": 0, "closed": 0, "datagrams": 0, "codes": {}}
    proxy, port = start_proxy(bindir, work, ["--run-seconds", "3600"])
    try:
        proxy_rounds(proxy, ROUNDS, lambda seed: one_round(peer_bin, port, work, seed, tally),
                     lambda seed: probe(peer_bin, port, work, f"probe-{seed}"), work, failures)
    finally:
        stop_proxy(proxy, work, failures)
    return tally


def against_the_client(bindir, peer_bin, work, failures):
    """Part 2: masque-bind-client against a hostile proxy, CLIENT_ROUNDS connections."""
    tally = {"answered": 0, "resets": 0, "closed": 0, "datagrams": 0, "codes": {},
             "tunnels": 0, "echoes": 0}
    client_rounds(CLIENT_ROUNDS,
                  lambda seed: client_round(bindir, peer_bin, work, seed, tally), work, failures)
    return tally


def described(tally):
    """What a part's program did, in figures: proof that the rounds reached it."""
    codes = ", ".join(f"{c:#x} x{n}" for c, n in sorted(tally["codes"].items()))
    return (f"{tally['resets']} resets and {tally['closed']} CONNECTION_CLOSE "
            f"({codes or 'none'})")


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    peer_bin = sys.argv[2]
    if not os.access(peer_bin, os.X_OK):
        print(f"h3_hostile: FAIL: no {peer_bin} (tests/e2e/quic_peer/build.sh)")
        return 1
    work = work_with_pki("h3_hostile")
    failures = []
    proxy_tally = against_the_proxy(bindir, peer_bin, work, failures)
    client_tally = against_the_client(bindir, peer_bin, work, failures) if not failures else None
    if failures:
        print_failure("h3_hostile", failures, work, client_tally is not None,
                      "MASQUE_HOSTILE_SEED=N with MASQUE_HOSTILE_ROUNDS=1 "
                      "MASQUE_HOSTILE_CLIENT_ROUNDS=0 for a proxy round, MASQUE_HOSTILE_ROUNDS=0 "
                      "MASQUE_HOSTILE_CLIENT_ROUNDS=1 for a client round")
        return 1
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)
    print(f"h3_hostile: PASS (from seed {SEED}, {ROUNDS} rounds of a random hostile HTTP/3 "
          f"client against masque-proxy and {CLIENT_ROUNDS} of a hostile proxy against "
          "masque-bind-client: the proxy stayed up and kept serving, the client always ended "
          "with status 0 or 1 once the connection closed, both sent only well-formed HTTP/3 "
          "with HTTP/3 and QPACK error codes, with no sanitizer report; "
          f"the proxy accepted {proxy_tally['answered']} requests, sent "
          f"{proxy_tally['datagrams']} datagrams, {described(proxy_tally)}; the client "
          f"registered {client_tally['tunnels']} contexts, echoed {client_tally['echoes']} "
          f"datagrams, sent {described(client_tally)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
