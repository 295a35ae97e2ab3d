#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-bind-client over HTTP/3 gives the proxy's answer to the Bind request
--connect-timeout-ms after the QUIC handshake, and with --reconnect asks again. Between the
client and masque-proxy, a UDP relay passes the handshake (long-header packets, RFC 9000
§17.2) and drops every 1-RTT packet of the client (short header, §17.3): the handshake
completes at both ends, the request never arrives, no answer ever comes, while the proxy's
packets still reach the client (as a proxy whose application hangs behind a live QUIC stack
would). The client must leave, say why, and ask again on a new connection.

usage: unanswered.py BUILD_DIR    (loopback only; bounded deadlines)
"""
import os
import select
import socket
import subprocess
import sys
import threading
import time

from programs import free_port, report, wait_for, work_with_pki

LIMIT_MS = 3000


class HandshakeOnly(threading.Thread):
    """A UDP relay for one client: everything from the proxy passes, and from the client only
    long-header packets (Initial, Handshake), never a short-header (1-RTT) one."""

    def __init__(self, proxy_port):
        super().__init__(daemon=True)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.proxy = ("127.0.0.1", proxy_port)
        self.client = None
        self.dropped = 0
        self.stop = False

    def run(self):
        while not self.stop:
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            if self.front in ready:
                data, self.client = self.front.recvfrom(65536)
                if data and data[0] & 0x80:
                    self.back.sendto(data, self.proxy)
                else:
                    self.dropped += 1
            if self.back in ready:
                data, _ = self.back.recvfrom(65536)
                if self.client is not None:
                    self.front.sendto(data, self.client)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("unanswered")
    failures = []
    port = free_port()
    log = f"{work}/proxy.log"
    with open(log, "w", encoding="utf-8") as plog:
        proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                  f"127.0.0.1:{port}", "--no-h2", "--no-address-validation",
                                  "--cert", f"{work}/pki/localhost.pem",
                                  "--key", f"{work}/pki/localhost.key", "--run-seconds", "60"],
                                 stderr=plog)
    relay = HandshakeOnly(port)
    relay.start()
    client = None
    err = f"{work}/client.err"
    try:
        if wait_for(log, "listening on") is None:
            failures.append("the proxy did not start")
        else:
            with open(err, "w", encoding="utf-8") as e:
                client = subprocess.Popen(
                    [os.path.join(bindir, "masque-bind-client"), "--proxy",
                     f"127.0.0.1:{relay.front.getsockname()[1]}", "--authority", "localhost",
                     "--ca", f"{work}/pki/ca.pem", "--h3", "--reconnect",
                     "--connect-timeout-ms", str(LIMIT_MS), "--run-seconds", "60"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e)
            said = wait_for(err, f"did not answer the Bind request within {LIMIT_MS} ms", 30)
            if said is None:
                failures.append("the client did not give up on the answer within 30 s")
            elif wait_for(err, "asking again in", 10) is None:
                failures.append("the client did not ask again after giving up")
            elif relay.dropped == 0:
                failures.append("no 1-RTT packet of the client was seen (nothing was tested)")
    finally:
        if client is not None:
            client.kill()
            client.wait()
        relay.stop = True
        proxy.kill()
        proxy.wait()
    return report("unanswered", failures,
                  "a Bind request left unanswered after the QUIC handshake is given up after "
                  "--connect-timeout-ms and asked again", work, err)


if __name__ == "__main__":
    sys.exit(main())
