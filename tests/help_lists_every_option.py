#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Each program's --help lists every option its source accepts (an operator must not have to
read the code to find one), and exits 0.

usage: help_lists_every_option.py SOURCE_DIR BUILD_DIR
"""
import os
import re
import subprocess
import sys


def main():
    src, build = sys.argv[1], sys.argv[2]
    failures = []
    for program in ("masque-proxy", "masque-bind-client", "masque-inspect"):
        binary = os.path.join(build, "examples", program)
        if not os.path.exists(binary):
            continue  # built without the binding
        with open(os.path.join(src, "examples", program + ".c"), encoding="utf-8") as f:
            options = set(re.findall(r'strcmp\((?:a|argv\[i\]), "(-[-a-z0-9]+)"\)', f.read()))
        run = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
        text = run.stdout
        if run.returncode != 0:
            failures.append(f"{program} --help exited {run.returncode}")
        missing = sorted(o for o in options if o not in text)
        if missing:
            failures.append(f"{program} --help does not list {', '.join(missing)}")
    if failures:
        print("help: FAIL: " + "; ".join(failures))
        return 1
    print("help: PASS (every option of every program is in its --help)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
