# SPDX-License-Identifier: GPL-3.0-only
"""What the end-to-end scripts that run the programs share: where the tools are, a free port,
and a bounded wait for a line in a program's output file."""
import os
import socket
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
