#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-bind-client fails loudly: a proxy whose certificate it cannot verify, or no proxy at
all, ends with a non-zero exit status and a line on stderr; a working tunnel ends with 0.

usage: client_exit.py BUILD_DIR    (loopback only; bounded deadlines)
"""
import os
import subprocess
import sys
import time

from programs import TOOLS, free_port


def run_client(bindir, port, ca, seconds):
    return subprocess.run([os.path.join(bindir, "masque-bind-client"), "--proxy",
                           f"127.0.0.1:{port}", "--authority", "localhost", "--ca", ca,
                           "--run-seconds", str(seconds)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = f"/tmp/client_exit.{os.getpid()}"
    for name in ("pki", "other"):
        subprocess.run(["sh", os.path.join(TOOLS, "test-ca.sh"), f"{work}/{name}"], check=True)
    port = free_port()
    log = f"{work}/proxy.log"
    with open(log, "w", encoding="utf-8") as plog:
        proxy = subprocess.Popen([os.path.join(bindir, "masque-proxy"), "--listen",
                                  f"127.0.0.1:{port}", "--no-h2",
                                  "--cert", f"{work}/pki/localhost.pem",
                                  "--key", f"{work}/pki/localhost.key", "--run-seconds", "60"],
                                 stderr=plog)
    failures = []
    try:
        end = time.monotonic() + 15  # the clients must not race the proxy's start
        while time.monotonic() < end and "listening on" not in open(log, encoding="utf-8").read():
            time.sleep(0.05)
        good = run_client(bindir, port, f"{work}/pki/ca.pem", 6)
        if good.returncode != 0 or "public address:" not in good.stdout:
            failures.append(f"a working tunnel exited {good.returncode}: {good.stderr.strip()}")
        bad = run_client(bindir, port, f"{work}/other/ca.pem", 5)
        if bad.returncode == 0 or not bad.stderr.strip():
            failures.append(f"an unverifiable proxy: exit {bad.returncode}, stderr "
                            f"{bad.stderr.strip()!r}")
        nobody = run_client(bindir, free_port(), f"{work}/pki/ca.pem", 3)
        if nobody.returncode == 0 or not nobody.stderr.strip():
            failures.append(f"no proxy: exit {nobody.returncode}, stderr "
                            f"{nobody.stderr.strip()!r}")
    finally:
        proxy.kill()
        proxy.wait()
        subprocess.run(["rm", "-rf", work], check=False)
    if failures:
        print("client_exit: FAIL: " + "; ".join(failures))
        return 1
    print("client_exit: PASS (0 with a tunnel, 1 and a line on stderr without)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
