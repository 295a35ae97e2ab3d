#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Conformance matrix: reads the requirements checklist, finds the tests that name each ID
(test_BIND_13_... proves BIND-13; a part of an end-to-end script against an independent
stack ends its docstring with "Proves: BIND-13, DG-8."), writes docs/CONFORMANCE.md, and
exits 1 when a MUST, MUST NOT or SHALL has neither a test nor a reason in REASONS below, or
when fewer than MIN_TESTED of them are named by tests.

usage: tools/conformance.py [REQUIREMENTS.md]   (default: ../shared/specs/REQUIREMENTS.md)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Requirements without a test, each with the reason a reader can check (every mandatory one
# without a test must have one here). Everything else that is mandatory has a test, the
# binding's end-to-end tests included.
REASONS = {
    "UDP-17": "HTTP/1.1 is out of scope: libmasque speaks HTTP/2 and HTTP/3 only (see the "
              "checklist's introduction); no HTTP/1.1 request ever reaches a session",
    "UDP-18": "congestion control belongs to the QUIC stack: the binding never disables "
              "ngtcp2's (CUBIC by default) and never marks ECN on the QUIC connection; "
              "nothing in libmasque can switch it off",
    "UDP-20": "a Bind relay socket is unconnected and serves every peer of the tunnel, so an "
              "ICMP error about one peer says nothing about the tunnel and does not close it "
              "(IP_RECVERR stays off); the socket and the request close together (UDP-7, "
              "tested end to end)",
    "UDP-8": "the proxy never closes a relay socket for inactivity of its own: the socket lives "
             "exactly as long as its request (UDP-7, tested end to end), and the connection "
             "closes on its idle timeout, 120 s over HTTP/3 (max_idle_timeout) and by default "
             "over HTTP/2 (masque_h2_config.conn_idle_timeout_ms, which an operator may lower)",
    "BIND-35": "masque-proxy advertises one tuple per IP version its relay socket serves, all at "
               "that one socket's port for the request's lifetime, and what goes to a peer of "
               "each version leaves from that version's advertised address (IP_PKTINFO); "
               "tested end to end by e2e_wildcard_listen (a [::] listener on a host with global "
               "addresses of both versions, peers of each); a single tuple is BIND-26's case",
}

# At least this share of the mandatory rows must be named by tests.
MIN_TESTED = 0.95

MANDATORY = {"MUST", "MUST NOT", "SHALL", "SHALL NOT"}


def requirements(path):
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*([A-Z]+-\d+)\s*\|", line)
        if not m:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6:
            continue
        rid, sec, kw = cells[0], cells[1], cells[2]
        side, layer = cells[-2], cells[-1]
        text = " | ".join(cells[3:-2])
        rows.append((rid, sec, kw, text, side, layer))
    return rows


def tests():
    """Maps requirement ID -> list of test names, and requirement ID -> parts of the scripts
    against independent stacks."""
    found = {}
    independent = {}
    names = []
    for f in sorted((ROOT / "tests").rglob("test_*.c")):
        for m in re.finditer(r"static void\s+(test_\w+)\s*\(\s*void \*\*state\s*\)", f.read_text()):
            names.append((f.name, m.group(1), m.group(1)[len("test_"):]))
    for f in sorted((ROOT / "tests").glob("test_*.sh")):
        for m in re.finditer(r"^check (\w+) ", f.read_text(), re.M):
            names.append((f.name, m.group(1), m.group(1)))
    for fname, name, rest in names:
        if rest.startswith("e2e_"):
            rest = rest[len("e2e_"):]  # end-to-end tests: test_e2e_UDP_7_...
        while True:
            m = re.match(r"([A-Z]+)_(\d+)_", rest)
            if not m:
                break
            found.setdefault(f"{m.group(1)}-{m.group(2)}", []).append(f"{fname}:{name}")
            rest = rest[m.end():]
    # The end-to-end scripts against independent stacks (python3-h2, quinn): a part's
    # docstring ends with "Proves: DG-8, UDP-7." for the rules it checks.
    for f in sorted((ROOT / "tests" / "e2e").glob("*.py")):
        for m in re.finditer(r'^def (\w+)\([^)]*\):\n\s+"""(.*?)"""', f.read_text(), re.M | re.S):
            proves = re.search(r"Proves: ([A-Z]+-\d+(?:, [A-Z]+-\d+)*)\.", m.group(2))
            for rid in proves.group(1).split(", ") if proves else []:
                independent.setdefault(rid, []).append(f"{f.name}:{m.group(1)}")
    return found, independent


def main():
    default = ROOT.parent / "shared" / "specs" / "REQUIREMENTS.md"
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    if not path.exists():
        print(f"conformance: {path} not found; matrix not regenerated")
        return 0
    rows = requirements(path)
    found, independent = tests()
    missing = []
    out = ["# Conformance matrix", "",
           "Generated by `tools/conformance.py` from the requirements checklist and the test "
           "names (a test named `test_BIND_13_...` proves BIND-13). Status: **tested**; **reason** "
           "(without a test, for the reason given); **not tested** (a SHOULD, MAY "
           "or note without a test). The column *independent stacks* names the parts of the "
           "end-to-end scripts that check the rule against an HTTP/2 or HTTP/3 stack libmasque "
           "shares no code with (python3-h2; quinn and rustls), the bytes written a second time "
           "from the RFCs.", "",
           "| ID | § | keyword | requirement | layer | tests | independent stacks | status |",
           "|---|---|---|---|---|---|---|---|"]
    counts = {"tested": 0, "reason": 0, "not tested": 0, "MISSING": 0}
    mandatory = 0
    for rid, sec, kw, text, side, layer in rows:
        t = found.get(rid, [])
        ind = independent.get(rid, [])
        mandatory += kw in MANDATORY
        if t or ind:
            status = "tested"
        elif rid in REASONS:
            status = "reason"
        elif kw in MANDATORY:
            status = "MISSING"
            missing.append(rid)
        else:
            status = "not tested"
        counts[status] += 1
        cell = "<br>".join(f"`{x.split(':')[1]}`" for x in t[:4])
        if len(t) > 4:
            cell += f"<br>(+{len(t) - 4} more)"
        if status == "reason":
            cell = REASONS[rid]
        parts = "<br>".join(f"`{x}`" for x in ind)
        out.append(f"| {rid} | {sec} | {kw} | {text} | {layer} | {cell} | {parts} | {status} |")
    tested_mandatory = sum(1 for r in rows
                           if r[2] in MANDATORY and (found.get(r[0]) or independent.get(r[0])))
    share = tested_mandatory / mandatory if mandatory else 1.0
    out += ["", f"{len(rows)} requirements: " +
            ", ".join(f"{v} {k}" for k, v in counts.items()) + ".",
            "", f"Mandatory rows (MUST, MUST NOT, SHALL, SHALL NOT): {mandatory}, of which "
            f"{tested_mandatory} are named by tests ({100 * share:.1f} %)."]
    (ROOT / "docs" / "CONFORMANCE.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"conformance: {len(rows)} requirements, " +
          ", ".join(f"{v} {k}" for k, v in counts.items()))
    print(f"conformance: {tested_mandatory} of {mandatory} mandatory requirements tested "
          f"({100 * share:.1f} %, at least {100 * MIN_TESTED:.0f} % required)")
    if missing:
        print("conformance: mandatory requirements without a test or a reason: " +
              " ".join(missing))
        return 1
    if share < MIN_TESTED:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
