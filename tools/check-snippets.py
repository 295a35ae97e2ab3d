#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-only
"""Compiles every C example of the README and the user guide against the public headers.

The examples are fragments: each becomes the body of a function, after a prelude that declares
what they leave to the host (its buffers, its clock, its stack's calls). A fragment that names a
function, field or constant the headers no longer have, or calls one with the wrong arguments,
fails the build, so the documents cannot drift from the API unseen.

usage: tools/check-snippets.py CC [SOURCE_DIR]
"""
import os
import re
import subprocess
import sys
import tempfile

DOCUMENTS = ["README.md", "docs/guide.md"]

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
    return 1 if failed or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
