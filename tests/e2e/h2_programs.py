#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Bind over HTTP/2 with the programs: masque-proxy serves HTTP/3 on UDP and HTTP/2 on TCP at
one port; masque-bind-client --h2 gets a public address over HTTP/2 and a peer's datagram comes
back through it; with the proxy's UDP port closed (--no-h3), the client falls back from HTTP/3
to HTTP/2 on its own, says so on stderr, and the tunnel works. TLS verification stays on (a
throw-away CA); every wait is bounded.

usage: h2_programs.py BUILD_DIR
"""
import os
import subprocess
import sys

from programs import tunnel, work_with_pki


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("h2_programs")
    failures = []
    try:
        failure, _ = tunnel(bindir, work, "forced", [], ["--h2"])
        if failure:
            failures.append(failure)
        failure, err = tunnel(bindir, work, "fallback", ["--no-h3"], [])
        if failure:
            failures.append(failure)
        elif "trying HTTP/2" not in err:
            failures.append(f"fallback: nothing said on stderr ({err.strip()!r})")
        # One authentication step for both transports: the token file, over HTTP/2 too.
        with open(f"{work}/tokens", "w", encoding="utf-8") as f:
            f.write("# tokens\nh2-t0ken\n")
        with open(f"{work}/good", "w", encoding="utf-8") as f:
            f.write("h2-t0ken\n")
        with open(f"{work}/bad", "w", encoding="utf-8") as f:
            f.write("h2-t0kem\n")
        failure, _ = tunnel(bindir, work, "token", ["--token-file", f"{work}/tokens"],
                            ["--h2", "--token-file", f"{work}/good"])
        if failure:
            failures.append(failure)
        failure, err = tunnel(bindir, work, "bad_token", ["--token-file", f"{work}/tokens"],
                              ["--h2", "--token-file", f"{work}/bad"])
        if failure is None or "status 407" not in err:
            failures.append(f"a wrong token over HTTP/2 was not refused with 407 ({err.strip()!r})")
    finally:
        subprocess.run(["rm", "-rf", work], check=False)
    if failures:
        print("h2_programs: FAIL: " + "; ".join(failures))
        return 1
    print("h2_programs: PASS (Bind over HTTP/2, the fallback from HTTP/3, bearer tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
