/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Whether a client's connection is still alive, asked when it matters: a proxy whose client
 * identity's quota of requests is used up (a 429) asks each connection that holds one of them.
 * A client that crashed, or whose host lost its network, sends nothing more, and without this
 * its requests would hold the quota until the idle timeout (two minutes by default), so that
 * the same client, restarted, would be refused that long. Internal to the binding: quic.c
 * sends the PINGs and says what it heard, proxy.c decides.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_PROBE_H
#define MASQUE_ADAPTER_NGTCP2_PROBE_H

#include <stdint.h>

#include "masque/quic.h"

/* When a packet from the peer was last read without error (ns of masque_quic_now_ns()); the
 * connection's start before the first. ngtcp2 drops a packet it cannot decrypt without an
 * error, so one forged from the peer's address counts too: a forger who knows that address can
 * keep a probe from closing the connection, which then lasts until its idle timeout, as before
 * there were probes, and no longer. */
uint64_t masque_quic_heard_ns(const masque_quic_conn *c);

/* Starts probing connection c (`on` 1): a PING (RFC 9000 §19.2, ack-eliciting) goes out at its
 * next write and again when the peer answers, while ngtcp2's loss recovery repeats it when it
 * does not; `on` 0 ends the probe (the configured keep-alive again). */
void masque_quic_probe(masque_quic_conn *c, int on);

/* The connection's Probe Timeout (RFC 9002 §6.2), in ns. */
uint64_t masque_quic_pto_ns(const masque_quic_conn *c);

#endif /* MASQUE_ADAPTER_NGTCP2_PROBE_H */
