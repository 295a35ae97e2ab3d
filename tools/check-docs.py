#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Checks that the documents still describe the code.

1. Every C example of the README and the user guide compiles against the public headers. The
   examples are fragments: each becomes the body of a function, after a prelude that declares
   what they leave to the host (its buffers, its clock, its stack's calls). A fragment that
   names a function, field or constant the headers no longer have, or calls one with the wrong
   arguments, fails.
2. Every function the documents name as `name()` is defined or called somewhere in the sources
   (a renamed or removed function leaves its old name behind in prose otherwise). CHANGELOG.md
   is left out: it names what was renamed.

usage: tools/check-docs.py CC [SOURCE_DIR]
"""
import os
import re
import subprocess
import sys
import tempfile

DOCUMENTS = ["README.md", "docs/guide.md"]
SOURCE_DIRS = ["include", "src", "examples", "tests", "bench", "fuzz", "tools"]

# What the examples leave to the host. Each example is compiled on its own, below these.
PRELUDE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TEMPLATE "https://proxy.example/.well-known/masque/udp/{target_host}/{target_port}/"
#define H3_DATAGRAM_ERROR MASQUE_H3_DATAGRAM_ERROR

extern uint8_t buf[MASQUE_BIND_HEADROOM + 1500];
extern const uint8_t *data, *frame;
extern const uint8_t ip[4];
extern size_t len, frame_len;
extern uint64_t now, stream_id, random_seed;
extern int h3_datagrams_negotiated;
extern masque_ssize n;
extern masque_session session;
extern masque_capsule_parser parser;
extern masque_response_fields rsp;
extern masque_address target;
extern uint8_t *payload;
extern masque_packet pkt;
extern masque_h3_datagram dg;
extern masque_event ev;

uint64_t now_ms(void);
void fail(void);
void abort_request(void);
void abort_stream(uint64_t h3_error);
void connection_error(uint64_t h3_error);
void send_quic_datagram(const uint8_t *bytes, size_t count);
void transmit(const uint8_t *bytes, size_t count, masque_datagram_path path);
void use(masque_address from, const uint8_t *bytes, size_t count);
void handle(const masque_capsule_piece *piece);
"""

FLAGS = ["-std=c99", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
         "-Wno-unused-but-set-variable", "-Wno-unused-function", "-Wno-unused-parameter",
         "-Wno-missing-field-initializers"]


def examples(text):
    """(line, code) of each ```c block."""
    for m in re.finditer(r"^```c\n(.*?)^```", text, re.S | re.M):
        yield text.count("\n", 0, m.start()) + 1, m.group(1)


def translation_unit(code):
    includes = [l for l in code.splitlines() if l.startswith("#include")]
    body = [l for l in code.splitlines() if not l.startswith("#include")]
    # "{ ... }" stands for the host's own handling.
    body = [l.replace("{ ... }", "{ }") for l in body]
    head = "\n".join(includes or ["#include <masque/masque.h>"])
    if "#include <masque/masque.h>" not in head:
        head = "#include <masque/masque.h>\n" + head
    return head + "\n" + PRELUDE + "\nvoid example(void);\nvoid example(void)\n{\n" + \
        "\n".join(body) + "\n}\n"


def named_functions(root):
    """(document, name) of each function a document names as `name()`."""
    names = sorted(os.listdir(os.path.join(root, "docs")))
    docs = ["README.md"] + [os.path.join("docs", f) for f in names if f.endswith(".md")]
    for doc in docs:
        with open(os.path.join(root, doc), encoding="utf-8") as f:
            for name in sorted(set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)\(\)`", f.read()))):
                yield doc, name


def source_text(root):
    parts = []
    for top in SOURCE_DIRS:
        for base, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".c", ".h", ".py", ".sh")):
                    with open(os.path.join(base, f), encoding="utf-8", errors="replace") as src:
                        parts.append(src.read())
    return "\n".join(parts)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cc = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..")
    failed = 0
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for doc in DOCUMENTS:
            with open(os.path.join(root, doc), encoding="utf-8") as f:
                text = f.read()
            for line, code in examples(text):
                count += 1
                path = os.path.join(tmp, "example.c")
                with open(path, "w", encoding="utf-8") as out:
                    out.write(translation_unit(code))
                r = subprocess.run([cc] + FLAGS + ["-I", os.path.join(root, "include"), path],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    failed += 1
                    print(f"{doc}:{line}: the example does not compile:\n{r.stderr}",
                          file=sys.stderr)
    print(f"{count} examples, {failed} that do not compile")
    sources = source_text(root)
    missing = 0
    for doc, name in named_functions(root):
        if not re.search(r"\b" + re.escape(name) + r"\s*\(", sources):
            missing += 1
            print(f"{doc}: names {name}(), which no source defines or calls", file=sys.stderr)
    print(f"{missing} functions named in the documents that the sources do not have")
    return 1 if failed or missing or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
