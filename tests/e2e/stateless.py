#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-proxy's answers that keep no state, checked on the wire with packets written here
from RFC 9000, byte by byte:

1. Stateless Reset (§10.3): a short-header packet for a connection ID the proxy does not know
   is answered with one, shorter than the packet (§10.3.3), 21 bytes at least, with the fixed
   bit set (§17.3.1), and whose token (its last 16 bytes) depends on the connection ID alone
   (§10.3.2); a packet with no room for a shorter reset, and a long header, get none. After a
   restart with the same TLS key the proxy gives each connection ID the same token as before,
   so that it can reset the connections of the process it replaced. A burst of BURST such
   packets, each for another connection ID, read by the proxy in one step, gets BURST resets:
   every packet from an unknown address is looked up (in the proxy's index of the connection
   IDs it issued), not only the first few of a step.
2. Version Negotiation (§6.1, §17.2.1): a client's first packet in a version the proxy does not
   speak, in a datagram of 1200 bytes, is answered with one (version 0, the connection IDs
   swapped, a list of versions that holds QUIC v1 and none the client asked for); the same
   packet one byte shorter (§14.1), a Version Negotiation packet itself, and a short header
   get none.
3. The proxy counts what it answered so (printed on SIGUSR1), and the counts are those sent.
4. The limit on such answers (--stateless-rate, LIMIT a second here): a burst of BURST packets
   for unknown connection IDs, read in one step, gets LIMIT resets, and the proxy counts the
   others as held back; a packet sent once the second is over is answered again.

A packet is known to have had no answer when the answer to one sent after it comes first (the
proxy reads and answers in order). Every wait is bounded.
usage: stateless.py BUILD_DIR
"""
import os
import re
import signal
import socket
import sys

import programs
from programs import report, stop_all, wait_for, work_with_pki

PROXY_CID_LEN = 18  # masque-proxy's connection IDs
PROBE_LEN = 40  # a probe's reset is 39 bytes long, and no other answer here is
BURST = 100  # packets for unknown connection IDs, queued while the proxy is stopped
LIMIT = 20  # stateless answers a second, for part 4


def short_header(dcid, length):
    """A 1-RTT packet as a client would send it to connection ID dcid, length bytes long."""
    return bytes([0x40 | (os.urandom(1)[0] & 0x3F)]) + dcid + os.urandom(length - 1 - len(dcid))


def long_header(version, dcid, scid, length):
    """A long-header packet of that version (first byte: an Initial of QUIC v1's layout),
    length bytes long, its payload random."""
    head = bytes([0xC0]) + version.to_bytes(4, "big") + bytes([len(dcid)]) + dcid + \
        bytes([len(scid)]) + scid
    return head + os.urandom(length - len(head))


def answers(port, packets, stopped=None):
    """Sends the packets to the proxy in order, then a probe, and collects what comes back
    until the probe's answer: the answers to the packets, or None when the probe is not
    answered within 10 s (a few tries). With `stopped` (the proxy's process), the packets are
    sent while it is stopped, so that it finds them all queued when it goes on."""
    probe = short_header(os.urandom(PROXY_CID_LEN), PROBE_LEN)
    got = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2)
        if stopped is not None:
            stopped.send_signal(signal.SIGSTOP)
        try:
            for pkt in packets:
                sock.sendto(pkt, ("127.0.0.1", port))
        finally:
            if stopped is not None:
                stopped.send_signal(signal.SIGCONT)
        for _ in range(5):
            sock.sendto(probe, ("127.0.0.1", port))
            try:
                while True:
                    data, _ = sock.recvfrom(2048)
                    if len(data) == PROBE_LEN - 1 and data[0] & 0x80 == 0:
                        return got
                    got.append(data)
            except socket.timeout:
                continue
    return None


def check_resets(port, cid, failures):
    """Part 1 on the proxy at port; returns the token of connection ID cid, or None."""
    other = os.urandom(PROXY_CID_LEN)
    # A long header (a Handshake packet of QUIC v1): not answered (nor is it a client's first).
    handshake = bytes([0xE0, 0, 0, 0, 1, PROXY_CID_LEN]) + cid + bytes([0]) + os.urandom(75)
    got = answers(port, [short_header(cid, 1200), short_header(cid, 60), short_header(other, 60),
                         short_header(cid, 22), short_header(cid, 21), handshake])
    if got is None:
        failures.append("no Stateless Reset came back")
        return None
    if len(got) != 4:
        failures.append(f"Stateless Resets: {len(got)} answers to 4 packets that call for one "
                        f"and 2 that do not (sizes {[len(g) for g in got]})")
        return None
    first, short, another, least = got
    if not (len(first) < 1200 and len(short) < 60 and len(least) == 21):
        failures.append(f"Stateless Resets of {len(first)}, {len(short)} and {len(least)} bytes "
                        "answer packets of 1200, 60 and 22 bytes")
    if any(g[0] & 0xC0 != 0x40 for g in got):
        failures.append("a Stateless Reset without the short header's first bits (0b01)")
    if not first[-16:] == short[-16:] == least[-16:] != another[-16:]:
        failures.append("the Stateless Reset token is not one per connection ID")
    return first[-16:]


def check_burst(proxy, port, failures):
    """Part 1's burst: BURST packets for as many unknown connection IDs, all read in one step of
    the proxy (it reads up to 256 a step), and a reset for each."""
    burst = [short_header(os.urandom(PROXY_CID_LEN), 60) for _ in range(BURST)]
    got = answers(port, burst, stopped=proxy)
    if got is None or len(got) != BURST or len({g[-16:] for g in got}) != BURST:
        failures.append(f"a burst of {BURST} packets for unknown connection IDs, read in one "
                        f"step: {None if got is None else len(got)} Stateless Resets (one each "
                        "with a token of its own expected)")


def check_version_negotiation(port, failures):
    """Part 2 on the proxy at port."""
    asked = 0x1A2A3A4A  # a reserved version (RFC 9000 §15): no server speaks it
    dcid, scid = os.urandom(20), os.urandom(9)
    got = answers(port, [long_header(asked, dcid, scid, 1200),
                         long_header(asked, dcid, scid, 1199),
                         long_header(0, dcid, scid, 1200),  # Version Negotiation itself
                         short_header(os.urandom(PROXY_CID_LEN), 21)])  # too short to reset
    if got is None or len(got) != 1:
        failures.append(f"Version Negotiation: {None if got is None else len(got)} answers to "
                        "4 packets of which only the first calls for one")
        return
    vn = got[0]
    # §17.2.1: Header Form 1, Unused (7), Version 0, DCID Len, DCID, SCID Len, SCID, versions.
    pos = 6 + vn[5] if len(vn) > 5 else len(vn)
    if len(vn) < 7 or vn[0] & 0x80 == 0 or vn[1:5] != bytes(4) or vn[6:pos] != scid or \
            pos >= len(vn) or vn[pos + 1:pos + 1 + vn[pos]] != dcid:
        failures.append(f"Version Negotiation {vn.hex()}: not version 0 with the connection IDs "
                        "swapped")
        return
    rest = vn[pos + 1 + vn[pos]:]
    versions = [int.from_bytes(rest[i:i + 4], "big") for i in range(0, len(rest), 4)]
    if len(rest) % 4 or 1 not in versions or asked in versions or 0 in versions:
        failures.append(f"Version Negotiation lists {[hex(v) for v in versions]}: not QUIC v1 "
                        "without the version asked for")


def check_counts(proxy, log, failures):
    """SIGUSR1: the proxy's counters of what it answered, which must be what was sent here: a
    Version Negotiation packet, and a reset for each of the 4 + BURST packets that call for one
    and each probe (one per check at least, five at most)."""
    proxy.send_signal(signal.SIGUSR1)
    line = wait_for(log, "Version Negotiation packets sent")
    found = re.search(r"(\d+) Stateless Resets and (\d+) Version Negotiation packets sent to "
                      r"packets of no connection, (\d+) held back", line or "")
    if found is None:
        failures.append(f"SIGUSR1: no count of the answers without a connection ({line!r})")
        return
    resets, negotiations, held = (int(g) for g in found.groups())
    least, most = 4 + BURST + 3, 4 + BURST + 15
    if not (least <= resets <= most and negotiations == 1 and held == 0):
        failures.append(f"SIGUSR1 counts {resets} resets, {negotiations} Version Negotiation "
                        f"packets and {held} held back: not {least} to {most}, 1 and 0")


def check_limit(bindir, work, failures):
    """Part 4, on a proxy of its own that sends at most LIMIT answers a second."""
    proxy = None
    log = f"{work}/limited.log"
    try:
        proxy, port = programs.start_proxy(bindir, work, ["--no-h2", "--stateless-rate",
                                                          str(LIMIT)], log=log,
                                           new_session=True)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            proxy.send_signal(signal.SIGSTOP)
            try:
                for _ in range(BURST):
                    sock.sendto(short_header(os.urandom(PROXY_CID_LEN), 60), ("127.0.0.1", port))
            finally:
                proxy.send_signal(signal.SIGCONT)
            got = 0
            sock.settimeout(10)
            try:
                while got < LIMIT:
                    sock.recvfrom(2048)
                    got += 1
            except socket.timeout:
                pass
            # The counts are printed between steps, so after the one that read the burst.
            proxy.send_signal(signal.SIGUSR1)
            line = wait_for(log, "Version Negotiation packets sent")
            found = re.search(r"(\d+) Stateless Resets and \d+ Version Negotiation packets sent "
                              r"to packets of no connection, (\d+) held back", line or "")
            sock.setblocking(False)
            try:
                while True:
                    sock.recvfrom(2048)
                    got += 1
            except BlockingIOError:
                pass
            if found is None or (int(found.group(1)), int(found.group(2))) != \
                    (LIMIT, BURST - LIMIT) or got != LIMIT:
                failures.append(f"a burst of {BURST} packets for unknown connection IDs under a "
                                f"limit of {LIMIT} answers a second: {got} resets came back, "
                                f"SIGUSR1 says {line!r}; {LIMIT} sent and {BURST - LIMIT} held "
                                "back expected")
                return
            # A second later the limit lets answers go again (bounded: 10 s of tries).
            sock.settimeout(0.2)
            for _ in range(50):
                sock.sendto(short_header(os.urandom(PROXY_CID_LEN), 60), ("127.0.0.1", port))
                try:
                    sock.recvfrom(2048)
                    return
                except socket.timeout:
                    continue
            failures.append(f"after a burst that used up the limit of {LIMIT} answers a second, "
                            "no Stateless Reset for 10 s")
    except RuntimeError as exc:
        failures.append(str(exc))
    finally:
        stop_all(proxy)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("stateless")
    failures = []
    proxy = again = None
    try:
        proxy, port = programs.start_proxy(bindir, work, ["--no-h2"], new_session=True)
        cid = os.urandom(PROXY_CID_LEN)
        token = check_resets(port, cid, failures)
        check_burst(proxy, port, failures)
        check_version_negotiation(port, failures)
        check_counts(proxy, f"{work}/proxy.log", failures)
        proxy.kill()  # no word to anyone: the next process has to reset what this one had
        proxy.wait()
        again, _ = programs.start_proxy(bindir, work, ["--no-h2"], log=f"{work}/proxy2.log",
                                        port=port)
        if token is not None and check_resets(port, cid, failures) != token:
            failures.append("after a restart with the same key, another Stateless Reset token")
        stop_all(again)
        again = None
        check_limit(bindir, work, failures)
    except RuntimeError as exc:
        failures.append(str(exc))
    finally:
        stop_all(proxy, again)
    return report("stateless", failures,
                  "Stateless Resets shorter than the packet, one token per connection ID and the "
                  f"same after a restart, none for a long header or a 21-byte packet, {BURST} for "
                  f"a burst of {BURST} read in one step; Version "
                  "Negotiation for a 1200-byte packet of an unknown version (v1 listed, IDs "
                  "swapped), none for 1199 bytes or a Version Negotiation packet; SIGUSR1 counts "
                  f"them; under a limit of {LIMIT} a second, {LIMIT} resets for a burst of "
                  f"{BURST} and the rest held back, and answers again a second later", work,
                  f"{work}/proxy.log")


if __name__ == "__main__":
    sys.exit(main())
