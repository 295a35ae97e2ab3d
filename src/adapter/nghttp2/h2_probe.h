/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Whether an HTTP/2 connection is still alive, for a proxy whose client identity's quota of
 * requests is used up (see src/adapter/ngtcp2/probe.h, the same for HTTP/3). Internal to the
 * bindings: h2.c sends the PING and says what it heard, proxy.c decides.
 */
#ifndef MASQUE_ADAPTER_NGHTTP2_H2_PROBE_H
#define MASQUE_ADAPTER_NGHTTP2_H2_PROBE_H

#include <stdint.h>

#include "masque/h2.h"

/* When bytes of the peer last came in (ns of CLOCK_MONOTONIC); the connection's start before
 * the first. */
uint64_t masque_h2_heard_ns(const masque_h2_conn *c);

/* Sends a PING (RFC 9113 §6.7), which a live peer answers with one of its own: its bytes are
 * heard. */
void masque_h2_probe(masque_h2_conn *c);

#endif /* MASQUE_ADAPTER_NGHTTP2_H2_PROBE_H */
