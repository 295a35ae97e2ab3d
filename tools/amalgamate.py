#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Writes the single-file form of the core for vendoring: masque.h (every public header but the
optional POSIX one) and masque.c (every core source), generated from the real sources.

usage: tools/amalgamate.py OUTDIR      (CMake: cmake --build BUILD --target amalgamation)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEADERS = ["config", "error", "varint", "address", "capsule", "datagram", "context", "policy", "session",
           "http", "masque"]


def cmake_list(name):
    """The paths of a set() in cmake/sources.cmake, the one source list."""
    text = (ROOT / "cmake" / "sources.cmake").read_text(encoding="utf-8")
    block = re.search(r"set\(" + name + r"\n(.*?)\n\)", text, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip()]


LOCAL_INCLUDE = re.compile(r'^#include "(masque|internal)/[a-z_]+\.h"\n', re.M)
SPDX = "/* SPDX-License-Identifier: GPL-3.0-only */\n"


def body(path):
    text = path.read_text(encoding="utf-8")
    text = text.replace(SPDX, "", 1)
    return LOCAL_INCLUDE.sub("", text)


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "dist")
    out.mkdir(parents=True, exist_ok=True)
    version = re.search(r'#define MASQUE_VERSION_STRING "([^"]+)"',
                        (ROOT / "include/masque/masque.h").read_text()).group(1)
    banner = (SPDX + f"/* libmasque {version}, amalgamated by tools/amalgamate.py from the "
              "sources in include/ and src/. Do not edit: regenerate. */\n")
    h = [banner, "#ifndef MASQUE_AMALGAMATED_H\n#define MASQUE_AMALGAMATED_H\n"]
    for name in HEADERS:
        h.append(f"\n/* ---- include/masque/{name}.h ---- */\n")
        h.append(body(ROOT / "include" / "masque" / f"{name}.h"))
    h.append("\n#endif /* MASQUE_AMALGAMATED_H */\n")
    c = [banner, '#include "masque.h"\n']
    for path in cmake_list("MASQUE_INTERNAL_HEADERS") + cmake_list("MASQUE_CORE_SOURCES"):
        c.append(f"\n/* ---- {path} ---- */\n")
        c.append(body(ROOT / path))
    (out / "masque.h").write_text("".join(h), encoding="utf-8")
    (out / "masque.c").write_text("".join(c), encoding="utf-8")
    print(f"amalgamation: {out / 'masque.h'}, {out / 'masque.c'}")


if __name__ == "__main__":
    main()
