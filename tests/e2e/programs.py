# SPDX-License-Identifier: GPL-3.0-only
"""What the end-to-end scripts that run the programs share: where the tools are, a free port,
a bounded wait for a line in a program's output file, a local UDP echo service, and the
verdict."""
import os
import socket
import subprocess
import threading
import time

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")


def free_port():
    """A loopback port free for both UDP and TCP (masque-proxy serves HTTP/3 and HTTP/2 on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u.bind(("127.0.0.1", port))
        return port


def wait_for(path, text, seconds=20):
    """The first line of the file at path that contains text, within seconds; None if none."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if text in line:
                        return line.strip()
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return None


class Echo(threading.Thread):
    """A local UDP service: answers every datagram with "echo: " and its text, and notes the
    sources it saw."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.sources = set()
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                data, src = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            self.sources.add(src)
            self.sock.sendto(b"echo: " + data, src)


def report(name, failures, proved, work, output=None):
    """Removes the work folder and says how the script went: PASS and what it proved, or FAIL,
    why, and the program output that tells more. Returns the exit status."""
    text = ""
    if output is not None and os.path.exists(output):
        with open(output, encoding="utf-8") as f:
            text = f.read()
    subprocess.run(["rm", "-rf", work], check=False)
    if failures:
        print(f"{name}: FAIL: " + "; ".join(failures))
        print(text)
        return 1
    print(f"{name}: PASS ({proved})")
    return 0
