#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""What the hostile peers of h3_hostile.py and h2_hostile.py share: the moves of Bind that do
not depend on the transport (capsules, tuples, request and response fields, mutations), and
how a campaign of rounds runs and is judged (the proxy stopped and checked, sanitizer reports,
work files kept or removed, a failure printed with the program output that tells more).
Imported, not run.
"""
import os
import signal
import subprocess

from h2_interop import (ACK, ASSIGN, BIND_REQUEST, CLOSE, DATAGRAM, DEADLINE, Failure, capsule,
                        tuple_bytes, varint, varint8)
from programs import Echo, wait_for

SEED = int(os.environ.get("MASQUE_HOSTILE_SEED", "9298"))
KEEP = "MASQUE_HOSTILE_KEEP" in os.environ  # every round's log kept, not only a failing one's
PROBE_EVERY = 4  # rounds between two checks that a well-behaved client is still served
SANITIZER_TEXTS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def reserved_type(rng):
    """RFC 9114 §6.2.3, §7.2.8, §7.2.4.1: 0x1f * N + 0x21, to be ignored."""
    return 0x1F * rng.randrange(0, 1 << 20) + 0x21


def mutate(rng, data):
    """data with a few random changes: bytes flipped, cut short, grown, or a slice repeated."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(5)
        if kind == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif kind == 1 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2 and b:
            del b[rng.randrange(len(b)):]
        elif kind == 3:
            b[rng.randrange(len(b) + 1):0] = rng.randbytes(rng.randint(1, 8))
        elif b:
            i = rng.randrange(len(b))
            b[i:i] = b[i:i + rng.randint(1, 16)]
    return bytes(b)


def some_varint(rng, value):
    """value in its shortest encoding, or longer than it needs (legal, RFC 9000 §16)."""
    return varint8(value) if rng.random() < 0.2 and value < 1 << 62 else varint(value)


def random_tuple(rng, sink_port):
    """-10 §5: a target, mostly the round's UDP sink, sometimes a closed port, IPv6, an IP
    Version that does not exist or a tuple cut short."""
    r = rng.random()
    if r < 0.5:
        return tuple_bytes("127.0.0.1", sink_port)
    if r < 0.7:
        return tuple_bytes("127.0.0.1", rng.randrange(1, 65536))
    if r < 0.8:
        return b"\x06" + bytes(15) + b"\x01" + rng.randrange(65536).to_bytes(2, "big")
    if r < 0.9:
        return bytes([rng.choice((0, 5, 7, 255))]) + rng.randbytes(rng.randrange(0, 20))
    return tuple_bytes("127.0.0.1", sink_port)[:rng.randrange(0, 7)]


def random_capsule(rng, sink_port):
    """A capsule (RFC 9297 §3.2) of the kinds Bind knows, or of no known kind, well formed or
    not."""
    kind = rng.randrange(8)
    cid = rng.choice((0, 1, 2, 3, 4, 6, rng.randrange(1 << 30)))
    if kind == 0:
        value = some_varint(rng, cid) + random_tuple(rng, sink_port)
        data = capsule(ASSIGN, value)
    elif kind == 1:
        data = capsule(ASSIGN, some_varint(rng, cid) + b"\x00")  # the uncompressed context
    elif kind == 2:
        data = capsule(rng.choice((ACK, CLOSE)), some_varint(rng, cid))
    elif kind in (3, 4):
        payload = rng.randbytes(rng.choice((0, 1, 30, 1200)))
        if cid % 2 == 0 and rng.random() < 0.5:
            payload = random_tuple(rng, sink_port) + payload
        data = capsule(DATAGRAM, some_varint(rng, cid) + payload)
    elif kind == 5:
        data = capsule(reserved_type(rng), rng.randbytes(rng.randrange(0, 40)))
    elif kind == 6:  # a Length that runs far past what will ever come
        data = varint(rng.choice((DATAGRAM, ASSIGN))) + varint8(rng.randrange(1 << 62))
    else:
        data = rng.randbytes(rng.randrange(1, 30))
    return mutate(rng, data) if rng.random() < 0.3 else data


def changed_fields(rng, fields, values, names, extras):
    """fields changed one to three times the way a hostile peer would: a field gone, its value
    replaced by one of values or its name by one of names, one of extras added, a field
    doubled, or all reordered."""
    fields = list(fields)
    for _ in range(rng.randint(1, 3)):
        if not fields:
            break
        kind = rng.randrange(6)
        i = rng.randrange(len(fields))
        name, value = fields[i]
        if kind == 0:
            del fields[i]
        elif kind == 1:
            fields[i] = (name, rng.choice(values))
        elif kind == 2:
            fields[i] = (rng.choice(names), value)
        elif kind == 3:
            fields.append(rng.choice(extras))
        elif kind == 4:
            fields.insert(rng.randrange(len(fields) + 1), fields[i])
        else:
            rng.shuffle(fields)
    return fields


def random_fields(rng):
    """The fields of a request: the Bind request, or one changed the way a hostile client would
    (a method, protocol or path that is not Bind's, names that are not allowed, fields a
    request may not carry)."""
    if rng.random() < 0.4:
        return list(BIND_REQUEST)
    return changed_fields(
        rng, BIND_REQUEST,
        ("", "?0", "?1", "GET", "connect-ip", "/", "*", "x" * rng.randrange(1, 300),
         rng.randbytes(8).decode("latin-1")),
        (":Method", "te", "connection", ":status", "x", ""),
        ((":path", "/"), ("proxy-public-address", "1.2.3.4:5"), ("authorization", "Bearer x"),
         ("capsule-protocol", "?1"), ("content-length", "3"), ("x-" + "a" * 100, "b")))


# The independent proxy's answer to a Bind request (RFC 9298 §3.5, -10 §6-§7), and what a
# hostile one makes of it.
GOOD_RESPONSE = [(":status", "200"), ("capsule-protocol", "?1"), ("connect-udp-bind", "?1"),
                 ("proxy-public-address", '"192.0.2.44:4444"')]


def random_response(rng):
    """A response changed the way a hostile proxy would (RFC 9114 §4.3, RFC 9298 §3.5, -10
    §7): a field gone or replaced, a status that is not 2xx or not a status, fields a CONNECT
    response may not carry, an address that does not parse, fields doubled or reordered."""
    return changed_fields(
        rng, GOOD_RESPONSE,
        ("", "?0", "200", "2000", "20", "abc", "204", "407", "101", '"[::1]:1"',
         '"192.0.2.1:0"', '"192.0.2.1"', '"a:b"', '"192.0.2.1:1", "[2001:db8::1]:2"', "x" * 300,
         rng.randbytes(6).decode("latin-1")),
        (":Status", "content-length", "connection", ":method", ""),
        ((":status", "200"), ("content-length", "0"), ("proxy-public-address", '"192.0.2.2:2"'),
         ("transfer-encoding", "chunked"), ("content-type", "text/plain")))


def client_mode(rng):
    """How a client round runs masque-bind-client: --echo (answers start with "re: "), with
    --compress-after 2 (a compressed context for each peer after its second packet), or
    --expose with a local echo service (each peer through a socket of its own; answers start
    with "echo: "). (the service or None, the options, the answers' prefix)."""
    if rng.random() < 0.3:
        return None, ["--echo", "--compress-after", "2"], b"re: "
    if rng.random() < 0.4:
        echo = Echo()
        echo.start()
        return echo, ["--expose", "%s:%d" % echo.sock.getsockname(), "--max-peers", "8"], \
            b"echo: "
    return None, ["--echo"], b"re: "


def client_ended(client):
    """After the proxy closed the connection, the client ends within DEADLINE, with status 0
    or 1 (never on a signal); a Failure otherwise."""
    try:
        status = client.wait(DEADLINE)
    except subprocess.TimeoutExpired as exc:
        raise Failure("the client did not end within the deadline after the proxy closed the "
                      "connection") from exc
    if status not in (0, 1):
        raise Failure(f"the client ended with status {status}")


def stop_client_round(echo, client):
    """Ends what a client round started: its local service, and the client if it still runs."""
    if echo is not None:
        echo.stop = True
    if client is not None and client.poll() is None:
        client.kill()
        client.wait()


def close_sink(sink):
    """Closes a round's UDP sink (non-blocking) once what the proxy relayed to it is read."""
    while True:
        try:
            sink.recv(2048)
        except OSError:
            break
    sink.close()


def sanitizer_report(path):
    """The first sanitizer text in the file at path, or None."""
    for text in SANITIZER_TEXTS:
        if wait_for(path, text, 0.1) is not None:
            return text
    return None


def proxy_rounds(proxy, rounds, play, probe, work, failures):
    """Rounds SEED, SEED + 1, ... of play(seed) against a running proxy, a well-behaved
    probe(seed) every PROBE_EVERY rounds and after the last; stops at the first failure or
    when the proxy exits. Each round's log, work/round-SEED.log, is removed once it passed."""
    for i in range(rounds):
        seed = SEED + i
        try:
            play(seed)
        except Exception as exc:  # pylint: disable=broad-except
            failures.append(f"round with seed {seed}: {exc!r}")
        if proxy.poll() is not None:
            failures.append(f"the proxy exited ({proxy.returncode}) in the round with seed {seed}")
            break
        if not failures and not KEEP:
            os.remove(f"{work}/round-{seed}.log")
        if (i + 1) % PROBE_EVERY == 0 or i + 1 == rounds:
            try:
                probe(seed)
            except Exception as exc:  # pylint: disable=broad-except
                failures.append(f"after the round with seed {seed}, a well-behaved client: {exc}")
        if failures:
            break


def stop_proxy(proxy, work, failures):
    """SIGTERM: the proxy must end, with status 0, and its log hold no sanitizer report."""
    if proxy.poll() is None:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(DEADLINE * 3)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()
            failures.append("the proxy did not end on SIGTERM")
    if proxy.returncode not in (0, None) and not any("exited" in f for f in failures):
        failures.append(f"the proxy ended with status {proxy.returncode} on SIGTERM")
    text = sanitizer_report(f"{work}/proxy.log")
    if text is not None:
        failures.append(f"the proxy's log has a sanitizer report ({text})")


def client_rounds(rounds, play, work, failures):
    """Rounds SEED, SEED + 1, ... of play(seed) against masque-bind-client, to the first
    failure; a passed round's files (work/server-SEED.log, work/client-SEED.err) are removed,
    after a check that the client printed no sanitizer report."""
    for i in range(rounds):
        seed = SEED + i
        try:
            play(seed)
            text = sanitizer_report(f"{work}/client-{seed}.err")
            if text is not None:
                raise RuntimeError(f"the client's output has a sanitizer report ({text})")
        except Exception as exc:  # pylint: disable=broad-except
            failures.append(f"client round with seed {seed}: {exc!r}")
            break
        if not KEEP:
            os.remove(f"{work}/server-{seed}.log")
            os.remove(f"{work}/client-{seed}.err")


def print_failure(name, failures, work, clients_ran, replay):
    """The FAIL line (with how to replay a round), and the output of the program that failed:
    the client's of its last round when the client rounds ran, else the proxy's."""
    print(f"{name}: FAIL: {'; '.join(failures)} (work folder {work} kept; replay: {replay})")
    client_errs = sorted((f for f in os.listdir(work) if f.startswith("client-")),
                         key=lambda f: os.path.getmtime(os.path.join(work, f)))
    output = os.path.join(work, client_errs[-1]) if clients_ran and client_errs else \
        f"{work}/proxy.log"
    with open(output, encoding="utf-8", errors="replace") as f:
        print(f"{output}:\n{f.read()[-6000:]}")
