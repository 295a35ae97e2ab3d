#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""masque-proxy under systemd's notification protocol (sd_notify(3): Type=notify, WatchdogSec=),
with a socket of this script's own standing in for the manager ($NOTIFY_SOCKET):

1. One process: READY=1, with a STATUS= line naming the address, once it listens; WATCHDOG=1
   at least every half of $WATCHDOG_USEC while its loop turns; none while the process is
   stopped (SIGSTOP: a loop that hangs), so that the manager would restart it, and pings
   again after SIGCONT; STOPPING=1 on SIGTERM, and status 0.
2. --workers 2: the parent says READY=1 for the group and pings only while the loops of both
   workers turn: a stopped worker stops the pings (a hung worker restarts the group), which
   come back after SIGCONT; STOPPING=1 on SIGTERM, and status 0.
3. masque-bind-client --reconnect says its public address (STATUS=, which `systemctl status`
   shows), and when the tunnel is down why and when it asks again; this manager's socket is
   an abstract one ($NOTIFY_SOCKET beginning with @), as systemd may give in a container.

usage: notify.py BUILD_DIR    (loopback only; bounded deadlines)
"""
import os
import signal
import socket
import subprocess
import sys
import time

from programs import report, start_proxy, stop_all, work_with_pki

WATCHDOG_US = 600000  # pings at least every 0.3 s, the loop turning at least every 50 ms


class Manager:
    """The manager's side of $NOTIFY_SOCKET: the messages in the order they came."""

    def __init__(self, name):
        """At a path, or at an abstract name when name begins with @ (what $NOTIFY_SOCKET
        says)."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + name[1:] if name.startswith("@") else name)

    def next(self, seconds):
        """The next message within seconds, or None."""
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            return None

    def wait(self, text, seconds=20):
        """The first message holding text within seconds (others skipped), or None."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            msg = self.next(max(0.01, end - time.monotonic()))
            if msg is not None and text in msg:
                return msg
        return None

    def pings(self, seconds):
        """WATCHDOG=1 messages within seconds."""
        n = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            msg = self.next(max(0.01, end - time.monotonic()))
            n += msg is not None and "WATCHDOG=1" in msg
        return n

    def drain(self):
        while self.next(0.01) is not None:
            pass

    def quiet(self, seconds, limit):
        """Reads messages until none came for `seconds`: True, or False when they still came
        after `limit` seconds."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.next(seconds) is None:
                return True
        return False


def children(pid):
    """The processes whose parent is pid."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry))
    return found


def is_stopped(pid, seconds):
    """Whether process pid is stopped (state T in /proc) within seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
        if stat[stat.rindex(")") + 2] == "T":
            return True
        time.sleep(0.01)
    return False


def hang_and_resume(manager, stopped, what, failures):
    """The loop of `stopped` hangs (SIGSTOP): the pings stop; it turns again (SIGCONT): they
    come back."""
    if manager.pings(3) < 2:
        failures.append(f"{what}: fewer than 2 watchdog pings in 3 s")
    os.kill(stopped, signal.SIGSTOP)
    if not is_stopped(stopped, 20):
        failures.append(f"{what}: not stopped 20 s after SIGSTOP")
    # Pings on their way, and for the workers' parent the beats it has yet to read (a beat
    # counts from when it is read) and half an interval after them: then a quiet second.
    if not manager.quiet(1.0, 20):
        failures.append(f"{what}: watchdog pings went on for 20 s after a loop stopped")
    late = manager.pings(1.5)
    os.kill(stopped, signal.SIGCONT)
    if late != 0:
        failures.append(f"{what}: {late} watchdog pings while a loop was stopped")
    if manager.wait("WATCHDOG=1", 10) is None:
        failures.append(f"{what}: no watchdog ping after the loop turned again")


def stopping(manager, proxy, what, failures):
    proxy.send_signal(signal.SIGTERM)
    if manager.wait("STOPPING=1") is None:
        failures.append(f"{what}: no STOPPING=1 after SIGTERM")
    try:
        if proxy.wait(timeout=20) != 0:
            failures.append(f"{what}: exit {proxy.returncode} after SIGTERM")
    except subprocess.TimeoutExpired:
        failures.append(f"{what}: still running 20 s after SIGTERM")


def main():
    bindir = os.path.join(sys.argv[1], "examples")
    work = work_with_pki("notify")
    failures = []
    proxy = None
    client = None
    manager = Manager(f"{work}/notify")
    os.environ["NOTIFY_SOCKET"] = f"{work}/notify"
    os.environ["WATCHDOG_USEC"] = str(WATCHDOG_US)
    try:
        proxy, port = start_proxy(bindir, work, ["--no-h2"], new_session=True)
        ready = manager.wait("READY=1")
        if ready is None or f"STATUS=listening on 127.0.0.1:{port}" not in ready:
            failures.append(f"one process: READY=1 with its address expected, got {ready!r}")
        hang_and_resume(manager, proxy.pid, "one process", failures)
        stopping(manager, proxy, "one process", failures)
        manager.drain()
        proxy, port = start_proxy(bindir, work, ["--workers", "2", "--no-h2"],
                                  log=f"{work}/workers.log", new_session=True)
        ready = manager.wait("READY=1")
        if ready is None or "(2 workers)" not in ready:
            failures.append(f"--workers 2: READY=1 for the group expected, got {ready!r}")
        workers = children(proxy.pid)
        if len(workers) != 2:
            failures.append(f"--workers 2: {len(workers)} workers found")
        else:
            hang_and_resume(manager, workers[1], "--workers 2", failures)
        stopping(manager, proxy, "--workers 2", failures)
        manager.drain()
        del os.environ["WATCHDOG_USEC"]  # the client pings nothing
        abstract = f"@libmasque-notify-{os.getpid()}"
        manager = Manager(abstract)
        os.environ["NOTIFY_SOCKET"] = abstract
        proxy, port = start_proxy(bindir, work, ["--no-h2"], log=f"{work}/proxy3.log")
        with open(f"{work}/client.out", "w", encoding="utf-8") as out:
            client = subprocess.Popen(
                [os.path.join(bindir, "masque-bind-client"), "--proxy", f"127.0.0.1:{port}",
                 "--authority", "localhost", "--ca", f"{work}/pki/ca.pem", "--h3",
                 "--reconnect", "--run-seconds", "60"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        status = manager.wait("STATUS=public address 127.0.0.1:")
        if status is None:
            failures.append("the client said no STATUS=public address")
        stopping(manager, proxy, "the client's proxy", failures)
        status = manager.wait("; asking again in")
        if status is None or not status.startswith("STATUS=the tunnel ended"):
            failures.append(f"the client's tunnel went down: STATUS= expected, got {status!r}")
        stop_all(client)
    except RuntimeError as exc:
        failures.append(str(exc))
    finally:
        del os.environ["NOTIFY_SOCKET"]
        os.environ.pop("WATCHDOG_USEC", None)
        stop_all(proxy, client)
    return report("notify", failures,
                  "masque-proxy says READY=1 once it listens and STOPPING=1 on SIGTERM, and pings "
                  "the watchdog while its loop turns and not while it hangs; with --workers, the "
                  "parent pings only while every worker's loop turns; masque-bind-client says its "
                  "public address, and why and when it asks again", work)


if __name__ == "__main__":
    sys.exit(main())
