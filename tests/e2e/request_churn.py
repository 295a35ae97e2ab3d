#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Requests opened and reset faster than masque-proxy takes a step must not hold the proxy's
request slots: a client (Python's h2 package, python3-h2) writes, in one TLS record, more
extended CONNECT requests each followed by its RST_STREAM than the proxy's --max-requests, and
then one request it keeps. The proxy reads them all in one step; the kept request must be
answered 200, not 503 (the reset requests ended: they hold no slot, whatever the step does
with their memory). Then the kept request works: a peer's datagram comes through it.

usage: request_churn.py BUILD_DIR   (an interpreter with the h2 package: tools/run.sh installs it)
"""
import os
import socket
import sys

from h2_interop import (ACK, ASSIGN, BIND_REQUEST, DATAGRAM, Failure, connect, start_proxy,
                        varint)
from programs import report, work_with_pki

import h2.errors  # (h2_interop says so and exits when the h2 package is missing)
import h2.events
import h2.settings

MAX_REQUESTS = 4
CHURN = 3 * MAX_REQUESTS


def churn(bindir, work):
    proxy, port = start_proxy(bindir, work, ["--max-requests", str(MAX_REQUESTS)])
    try:
        peer = connect(port, work)
        conn = peer.conn
        peer.wait_event(h2.events.RemoteSettingsChanged, "SETTINGS")
        for _ in range(CHURN):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, BIND_REQUEST)
            conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        peer.stream = conn.get_next_available_stream_id()
        conn.send_headers(peer.stream, BIND_REQUEST)
        peer.flush()  # one write: the proxy reads it all in one step
        response = dict(peer.wait_event(h2.events.ResponseReceived, "the response").headers)
        if response.get(":status") != "200":
            raise Failure(f"the request after {CHURN} opened and reset in the same write was "
                          f"answered {response.get(':status')!r}, not 200")
        # The kept request is a working tunnel: its uncompressed context, a peer's datagram.
        peer.send_capsule(ASSIGN, varint(2) + b"\x00")
        peer.expect_capsule(ACK, varint(2), "COMPRESSION_ACK of the uncompressed context")
        host, pport = response["proxy-public-address"].strip('"').rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            udp.sendto(b"churned", (host, int(pport)))
            ctype, value = peer.next_capsule("the peer's datagram")
        if ctype != DATAGRAM or not value.endswith(b"churned"):
            raise Failure(f"got capsule type {ctype:#x} value {value.hex()}, not the datagram")
        peer.sock.close()
    finally:
        proxy.kill()
        proxy.wait()


def main():
    work = work_with_pki("request_churn")
    failure = None
    try:
        churn(os.path.join(sys.argv[1], "examples"), work)
    except (Failure, OSError) as exc:
        failure = str(exc)
    return report("request_churn", [failure] if failure else [],
                  f"{CHURN} requests opened and reset in one step held none of the proxy's "
                  f"{MAX_REQUESTS} slots", work, f"{work}/proxy.log")


if __name__ == "__main__":
    sys.exit(main())
