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
import subprocess
import sys

from programs import UdpPath, report, start_proxy, stop_all, wait_for, work_with_pki

LIMIT_MS = 3000


class HandshakeOnly(UdpPath):
    """Everything from the proxy passes, and from the client only long-header packets (Initial,
    Handshake), never a short-header (1-RTT) one."""

    def __init__(self, proxy_port):
        super().__init__(proxy_port)
        self.dropped = 0

    def forward(self, sock, data, to, way):
        if way == "up" and not (data and data[0] & 0x80):
            self.dropped += 1
            return
        sock.sendto(data, to)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("unanswered")
    failures = []
    proxy = None
    relay = None
    client = None
    err = f"{work}/client.err"
    try:
        proxy, port = start_proxy(bindir, work, ["--no-h2", "--no-address-validation"])
        relay = HandshakeOnly(port)
        relay.start()
        with open(err, "w", encoding="utf-8") as e:
            client = subprocess.Popen(
                [os.path.join(bindir, "masque-bind-client"), "--proxy", relay.address(),
                 "--authority", "localhost", "--ca", f"{work}/pki/ca.pem", "--h3",
                 "--reconnect", "--connect-timeout-ms", str(LIMIT_MS), "--run-seconds", "60"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e)
        said = wait_for(err, f"did not answer the Bind request within {LIMIT_MS} ms", 30)
        if said is None:
            failures.append("the client did not give up on the answer within 30 s")
        elif wait_for(err, "asking again in", 10) is None:
            failures.append("the client did not ask again after giving up")
        elif relay.dropped == 0:
            failures.append("no 1-RTT packet of the client was seen (nothing was tested)")
    except (RuntimeError, OSError) as exc:
        failures.append(str(exc))
    finally:
        stop_all(client, relay, proxy)
    return report("unanswered", failures,
                  "a Bind request left unanswered after the QUIC handshake is given up after "
                  "--connect-timeout-ms and asked again", work, err)


if __name__ == "__main__":
    sys.exit(main())
