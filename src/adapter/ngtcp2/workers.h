/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Workers that serve one UDP port together (masque_quic_config.workers): each issues
 * connection IDs whose first byte names it (quic.c), and the port's socket group hands each
 * packet to the worker that byte names (masque_quic_steer_by_connection_id(), proxy.c).
 * Internal to the binding.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_WORKERS_H
#define MASQUE_ADAPTER_NGTCP2_WORKERS_H

#include "masque/quic.h"

/* Whether cfg's workers and worker are ones a proxy can serve with: 1, or 0. */
int masque_quic_workers_valid(const masque_quic_config *cfg);

#endif /* MASQUE_ADAPTER_NGTCP2_WORKERS_H */
