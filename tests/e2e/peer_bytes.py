#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""What any peer on the Internet sends to the public address reaches masque-bind-client's
output as one line of printable ASCII and its echo as it was sent: a NUL neither cuts the line
nor the echo, a newline does not start a line "from" another peer, an escape sequence does not
reach the terminal. A backslash is written as two and every other byte outside printable ASCII
as \\xHH, so the bytes can be read back. Over HTTP/3, and HTTP/2 where the build has it.

usage: peer_bytes.py BUILD_DIR    (loopback only; every wait has a generous bounded deadline)
"""
import os
import socket
import subprocess
import sys
import time

from programs import report, start_proxy, stop_all, wait_for, work_with_pki

# A NUL mid-packet, a forged second line, a terminal escape, DEL, a C1 byte, a backslash.
HOSTILE = b"abc\x00def\nfrom 192.0.2.1:1: forged\x1b[31mred\x7f\x9b\\end"


def escaped(data):
    """The packet as the client must print it (an oracle of our own, not the program's)."""
    out = []
    for byte in data:
        if byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def one_transport(bindir, work, transport):
    name = transport.strip("-")
    try:
        proxy, port = start_proxy(bindir, work, log=f"{work}/{name}.proxy")
    except RuntimeError as e:
        return f"{name}: {e}"
    out = f"{work}/{name}.out"
    client = None
    try:
        with open(out, "w", encoding="utf-8") as o:
            client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                       f"127.0.0.1:{port}", "--authority", "localhost", "--ca",
                                       f"{work}/pki/ca.pem", transport, "--echo",
                                       "--run-seconds", "60"],
                                      stdin=subprocess.DEVNULL, stdout=o,
                                      stderr=subprocess.DEVNULL)
        line = wait_for(out, "public address:")
        if line is None or wait_for(out, "acknowledged") is None:
            return f"{name}: no tunnel"
        host, pport = line.split()[-1].rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.settimeout(1.0)
            echo = None
            for _ in range(20):  # UDP on a loaded machine: send again until the echo comes
                peer.sendto(HOSTILE, (host, int(pport)))
                try:
                    echo = peer.recv(4096)
                    break
                except socket.timeout:
                    continue
            me = f"127.0.0.1:{peer.getsockname()[1]}"
        if echo != b"re: " + HOSTILE:
            return f"{name}: the echo was {echo!r}, not the packet whole"
        expected = f"from {me}: {escaped(HOSTILE)}"
        text = b""
        end = time.monotonic() + 20
        while expected.encode() + b"\n" not in text and time.monotonic() < end:
            time.sleep(0.05)
            with open(out, "rb") as f:  # bytes: the output may hold anything when it is wrong
                text = f.read()
        if any(not (0x20 <= b < 0x7F or b == 0x0A) for b in text):
            return f"{name}: a byte outside printable ASCII in the output: {text!r}"
        lines = text.decode("ascii").splitlines()
        if any(ln.startswith("from 192.0.2.1") for ln in lines):
            return f"{name}: a peer forged a line: {text!r}"
        if expected not in lines or any(ln.startswith("from ") and ln != expected for ln in lines):
            return f"{name}: a packet's line is not {expected!r}: {text!r}"
        return None
    finally:
        stop_all(client, proxy)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("peer_bytes")
    transports = ["--h3"] + (["--h2"] if os.environ.get("MASQUE_E2E_H2") == "1" else [])
    failures = [f for f in (one_transport(bindir, work, t) for t in transports) if f]
    return report("peer_bytes", failures,
                  f"one printable line and a whole echo per packet over {', '.join(transports)}",
                  work)


if __name__ == "__main__":
    sys.exit(main())
