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
import ssl
import subprocess
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
except ImportError:
    print("request_churn: FAIL: this interpreter has no h2 package (apt-get install python3-h2; "
          "tools/run.sh test installs it)")
    sys.exit(1)

from programs import free_port, report, wait_for, work_with_pki

DEADLINE = 20
MAX_REQUESTS = 4
CHURN = 3 * MAX_REQUESTS
BIND_REQUEST = [(":method", "CONNECT"), (":protocol", "connect-udp"), (":scheme", "https"),
                (":authority", "localhost"), (":path", "/.well-known/masque/udp/%2A/%2A/"),
                ("capsule-protocol", "?1"), ("connect-udp-bind", "?1")]


def churn(bindir, work):
    port = free_port()
    log = f"{work}/proxy.log"
    with open(log, "w", encoding="utf-8") as plog:
        proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                  f"127.0.0.1:{port}", "--allow", "127.0.0.0/8",
                                  "--max-requests", str(MAX_REQUESTS),
                                  "--cert", f"{work}/pki/localhost.pem",
                                  "--key", f"{work}/pki/localhost.key", "--run-seconds", "60"],
                                 stderr=plog)
    try:
        if wait_for(log, "listening on") is None:
            return "the proxy did not start"
        ctx = ssl.create_default_context(cafile=f"{work}/pki/ca.pem")
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE),
                               server_hostname="localhost")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                    header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        events = []
        end = time.monotonic() + DEADLINE
        while not any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events):
            if time.monotonic() > end:
                return "no SETTINGS from the proxy"
            events += conn.receive_data(sock.recv(65536))
        sock.sendall(conn.data_to_send())
        for _ in range(CHURN):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, BIND_REQUEST)
            conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        kept = conn.get_next_available_stream_id()
        conn.send_headers(kept, BIND_REQUEST)
        sock.sendall(conn.data_to_send())  # one write: the proxy reads it in one step
        status = None
        public = None
        end = time.monotonic() + DEADLINE
        while status is None and time.monotonic() < end:
            for e in conn.receive_data(sock.recv(65536)):
                if isinstance(e, h2.events.ResponseReceived) and e.stream_id == kept:
                    fields = dict(e.headers)
                    status = fields.get(":status")
                    public = fields.get("proxy-public-address")
            sock.sendall(conn.data_to_send())
        if status != "200":
            return (f"the request after {CHURN} opened and reset in the same write was answered "
                    f"{status!r}, not 200")
        # The kept request is a working tunnel: the uncompressed context, then a peer's datagram.
        conn.send_data(kept, b"\x11\x02\x02\x00")  # COMPRESSION_ASSIGN(2, IP Version 0)
        sock.sendall(conn.data_to_send())
        host, pport = public.strip('"').rsplit(":", 1)
        got = b""
        sent = False
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            sock.settimeout(0.2)
            end = time.monotonic() + DEADLINE
            while b"churned" not in got and time.monotonic() < end:
                try:
                    for e in conn.receive_data(sock.recv(65536)):
                        if isinstance(e, h2.events.DataReceived) and e.stream_id == kept:
                            got += e.data
                            conn.acknowledge_received_data(e.flow_controlled_length, kept)
                            if got.startswith(b"\x12\x01\x02") and not sent:
                                peer.sendto(b"churned", (host, int(pport)))  # ACK came
                                sent = True
                except socket.timeout:
                    pass
                sock.sendall(conn.data_to_send())
        if b"churned" not in got:
            return "a peer's datagram did not come through the kept request"
        sock.close()
        return None
    finally:
        proxy.kill()
        proxy.wait()


def main():
    work = work_with_pki("request_churn")
    failure = None
    try:
        failure = churn(os.path.join(sys.argv[1], "examples"), work)
    except OSError as exc:
        failure = str(exc)
    return report("request_churn", [failure] if failure else [],
                  f"{CHURN} requests opened and reset in one step held none of the proxy's "
                  f"{MAX_REQUESTS} slots", work, f"{work}/proxy.log")


if __name__ == "__main__":
    sys.exit(main())
