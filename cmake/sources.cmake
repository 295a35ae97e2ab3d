# SPDX-License-Identifier: GPL-3.0-only
# The one list of the core's sources, in the order the amalgamation concatenates them. CMake
# includes this file; tools/amalgamate.py and tools/firmware.sh read the lines between
# "set(MASQUE_CORE_SOURCES" and ")" (one path per line), so keep that shape.
set(MASQUE_CORE_SOURCES
  src/error.c
  src/varint.c
  src/address.c
  src/capsule.c
  src/datagram.c
  src/context.c
  src/policy.c
  src/session.c
  src/session_client.c
  src/session_proxy.c
  src/http.c
  src/version.c
)

# Private headers shared by several sources (the amalgamation inlines them, in this order).
set(MASQUE_INTERNAL_HEADERS
  src/internal/args.h
  src/internal/wire.h
  src/internal/frame.h
  src/internal/text.h
  src/internal/context.h
  src/internal/session.h
)

# The HTTP/3 binding (quic.h): built as masque_quic, and again by the tests with a client that
# can send malformed requests.
set(MASQUE_QUIC_SOURCES
  src/adapter/ngtcp2/ctrl_guard.c
  src/adapter/ngtcp2/quic.c
  src/adapter/ngtcp2/proxy.c
  src/adapter/ngtcp2/quota_share.c
  src/adapter/ngtcp2/udp_in.c
  src/adapter/ngtcp2/udp_out.c
)
