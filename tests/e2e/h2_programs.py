#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Bind over HTTP/2 with the programs: masque-proxy serves HTTP/3 on UDP and HTTP/2 on TCP at
one port; masque-bind-client --h2 gets a public address over HTTP/2 and a peer's datagram comes
back through it; with the proxy's UDP port closed (--no-h3), the client falls back from HTTP/3
to HTTP/2 on its own, says so on stderr, and the tunnel works. A proxy that stops reading makes
the client drop datagrams, and the client says how many as its tunnel ends. TLS verification
stays on (a throw-away CA); every wait is bounded.

usage: h2_programs.py BUILD_DIR
"""
import os
import signal
import socket
import subprocess
import sys
import time

from programs import start_proxy, stop_all, tunnel, wait_for, work_with_pki


def stalled_proxy(bindir, work):
    """A proxy that stops reading (SIGSTOP) while the client sends: TCP's windows close, the
    request's buffer takes what follows, and a DATAGRAM capsule that would wait there longer
    than 100 ms is dropped. The client says that it cannot send the first ten lines, then every
    1000th, and as its tunnel ends, how many it dropped."""
    proxy, port = start_proxy(bindir, work, ["--no-h3"], log=f"{work}/stalled.proxy",
                              new_session=True)
    out = f"{work}/stalled.out"
    client = None
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    try:
        with open(out, "w", encoding="utf-8") as o:
            client = subprocess.Popen([os.path.join(bindir, "masque-bind-client"), "--proxy",
                                       f"127.0.0.1:{port}", "--authority", "localhost",
                                       "--ca", f"{work}/pki/ca.pem", "--h2",
                                       "--run-seconds", "60"],
                                      stdin=subprocess.PIPE, stdout=o, stderr=subprocess.STDOUT)
        if wait_for(out, "acknowledged") is None:
            return "stalled proxy: the tunnel did not come up"
        line = f"127.0.0.1:{peer.getsockname()[1]} {'s' * 1000}\n".encode()
        proxy.send_signal(signal.SIGSTOP)
        try:
            # Far more than the proxy's TCP receive window and the client's unsent bytes take;
            # then what the request's buffer holds waits past the bound, and more comes.
            client.stdin.write(line * 1000)
            client.stdin.flush()
            time.sleep(0.5)
            client.stdin.write(line * 200)
            client.stdin.flush()
            time.sleep(0.3)
        finally:
            proxy.send_signal(signal.SIGCONT)
        client.stdin.close()
        client.terminate()
        client.wait(timeout=30)
        said = wait_for(out, "datagrams toward the proxy were dropped (0 larger", 5)
        if said is None:
            return "stalled proxy: the client did not say what it dropped"
        dropped, sent = int(said.split()[0]), int(said.split()[2])
        if not 0 < dropped < sent or sent < 1000:
            return f"stalled proxy: {said!r}"
        # Each line it could not send is said for the first ten, then every 1000th: a stall
        # does not flood the output.
        lines = open(out, encoding="utf-8").read().count("cannot send: no room to send")
        if not 1 <= lines <= 10 + dropped // 1000:
            return f"stalled proxy: {dropped} lines not sent, said {lines} times"
        return None
    finally:
        peer.close()
        stop_all(client, proxy)


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
        failure = stalled_proxy(bindir, work)
        if failure:
            failures.append(failure)
    finally:
        subprocess.run(["rm", "-rf", work], check=False)
    if failures:
        print("h2_programs: FAIL: " + "; ".join(failures))
        return 1
    print("h2_programs: PASS (Bind over HTTP/2, the fallback from HTTP/3, bearer tokens, what a "
          "client dropped while its proxy stalled, counted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
