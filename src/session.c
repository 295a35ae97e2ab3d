/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * What both roles of a session do: set-up, our own registrations, the datagram and stream
 * paths, the validate step every peer ASSIGN passes before its role answers it
 * (session_client.c, session_proxy.c), the queues, timers and queries.
 */
#include "internal/session.h"
#include "internal/args.h"
#include "internal/frame.h"
#include "internal/wire.h"

#include <string.h>

#include "masque/varint.h"

#if MASQUE_ENABLE_SESSION /* config.h */

/* ---- small helpers ---- */

#if MASQUE_OPTIMIZE_SIZE
void masque_sess_count(uint64_t *counter)
{
    (*counter)++;
}
#endif

int masque_sess_fail(masque_session *s, int code)
{
    s->failed = code;
    return code;
}

/* RFC 9298 §4: clients allocate even Context IDs, proxies odd ones. */
static uint64_t own_parity(const masque_session *s)
{
    return MASQUE_SESS_IS_CLIENT(s) ? 0u : 1u;
}

static int is_own_id(const masque_session *s, uint64_t id)
{
    return (id & 1u) == own_parity(s);
}

/* An ID of our parity below next_local_id was assigned by us at some point. */
static int was_assigned_by_us(const masque_session *s, uint64_t id)
{
    return is_own_id(s, id) && id < s->next_local_id;
}

static int is_open(const masque_context *c)
{
    return c != NULL && (c->state == MASQUE_CONTEXT_PENDING || c->state == MASQUE_CONTEXT_ACTIVE);
}

/* Whether we may send on a context now (-10 §3.1: pending use is a MAY). */
static int is_usable(const masque_session *s, const masque_context *c)
{
    return c != NULL && (c->state == MASQUE_CONTEXT_ACTIVE ||
                         (c->state == MASQUE_CONTEXT_PENDING && !s->cfg.wait_for_ack));
}

/* Room for n more events. Every producer asks first, so no event is ever lost: a capsule
 * waits in read_stream, an idle close in tick and an auto-registration for the next
 * datagram until the host has polled. */
static int event_room(const masque_session *s, size_t n)
{
    return MASQUE_SESSION_EVENT_LEN - s->event_count >= n;
}

/* The next event, zeroed, with its kind, ID and reason; NULL if there were no room (never:
 * every caller checked event_room()). */
static MASQUE_SIZE_NOINLINE masque_event *event_add(masque_session *s, masque_event_kind kind,
                                                    uint64_t id, int reason)
{
    masque_event *ev;
    if (!event_room(s, 1)) {
        return NULL;
    }
    ev = &s->events[(s->event_head + s->event_count) % MASQUE_SESSION_EVENT_LEN];
    s->event_count++;
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->context_id = id;
    ev->reason = reason;
    return ev;
}

static void event_push_id(masque_session *s, masque_event_kind kind, uint64_t id,
                          const masque_address *target, int reason)
{
    masque_event *ev = event_add(s, kind, id, reason);
    if (ev != NULL && target != NULL) {
        ev->target = *target;
    }
}

static void event_push(masque_session *s, masque_event_kind kind, const masque_context *c,
                       int reason)
{
    masque_event *ev = event_add(s, kind, c->id, reason);
    if (ev != NULL) {
        masque_context_target(c, &ev->target);
    }
}

/* Queues a control capsule; callers checked the room (responses: the -10 §9 bound, which is
 * below the queue length; local capsules: local_queue_room()). Returns 0 if it were full. */
static int queue_push(masque_session *s, masque_capsule_kind kind, const masque_context *c,
                      uint64_t id, int response)
{
    masque_queued_capsule *q;
    if (s->queue_count >= MASQUE_SESSION_QUEUE_LEN) {
        return 0;
    }
    q = &s->queue[(s->queue_head + s->queue_count) % MASQUE_SESSION_QUEUE_LEN];
    memset(q, 0, sizeof(*q));
    q->context_id = id;
    q->kind = (uint8_t)kind;
    q->response = (uint8_t)(response != 0);
    if (c != NULL && kind == MASQUE_CAPSULE_COMPRESSION_ASSIGN) {
        masque_context_target(c, &q->target); /* version 0: the uncompressed context */
    }
    s->queue_count++;
    if (response) {
        s->responses++;
    }
    return 1;
}

/* Local capsules may use the queue minus the room kept for responses (-10 §9 bound). */
static int local_queue_room(const masque_session *s)
{
    size_t local = s->queue_count - s->responses;
    return local < MASQUE_SESSION_QUEUE_LEN - s->cfg.max_pending_responses;
}

static void close_entry(masque_session *s, masque_context *c)
{
    if ((c->flags & MASQUE_CONTEXT_FLAG_PEER) != 0 && s->peer_open > 0) {
        s->peer_open--;
    }
    masque_context_close(&s->table, c);
}

/* ---- set-up ---- */

#if MASQUE_ENABLE_ARG_CHECKS
/* Whether the settings are ones a session can run with (NULL settings always are). */
static int config_in_range(const masque_session_config *c)
{
    return (c->role == MASQUE_ROLE_CLIENT || c->role == MASQUE_ROLE_PROXY) &&
           (c->profile == MASQUE_PROFILE_DRAFT10 ||
            (c->profile == MASQUE_PROFILE_DRAFT04 && MASQUE_ENABLE_DRAFT04)) &&
           c->quarter_stream_id <= MASQUE_QUARTER_STREAM_ID_MAX &&
           c->max_pending_responses < MASQUE_SESSION_QUEUE_LEN &&
           (c->advertised_families & ~(MASQUE_FAMILY_V4 | MASQUE_FAMILY_V6)) == 0 &&
           (!c->concrete_target || masque_ip_len(c->fixed_target.version) != 0);
}
#endif

int masque_session_init_checked(masque_session *s, const masque_session_config *cfg, void *storage,
                                size_t storage_len, uint64_t now, size_t session_size,
                                size_t config_size)
{
    masque_capsule_parser_config pcfg;
    size_t capacity = masque_context_table_capacity_for(storage_len);
    int rc;

    if (session_size != sizeof(masque_session) || config_size != sizeof(masque_session_config)) {
        return MASQUE_ERR_ABI; /* another header, other sizes or config.h switches */
    }
    if (MASQUE_BAD_ARGS(s == NULL || storage == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (capacity == 0) {
        return MASQUE_ERR_BUFFER;
    }
    if (cfg != NULL) { /* judged before anything is written: a refused call changes nothing */
        if (!MASQUE_ENABLE_PROXY && cfg->role == MASQUE_ROLE_PROXY) {
            return MASQUE_ERR_UNSUPPORTED; /* compiled out (config.h) */
        }
#if MASQUE_ENABLE_ARG_CHECKS /* settings are the caller's; trusted where checks are off */
        if (!config_in_range(cfg)) {
            return MASQUE_ERR_INVALID_ARGUMENT;
        }
#endif
    }
    memset(s, 0, sizeof(*s));
    if (cfg != NULL) {
        s->cfg = *cfg;
    }
    if (s->cfg.max_pending_responses == 0) {
        s->cfg.max_pending_responses = MASQUE_SESSION_DEFAULT_MAX_PENDING;
    }
    /* Defaults of what only some builds have (config.h): auto-compression, the proxy's bucket. */
    if (MASQUE_ENABLE_AUTO_COMPRESS && s->cfg.auto_compress_window_ms == 0) {
        s->cfg.auto_compress_window_ms = 1000;
    }
    if (MASQUE_ENABLE_PROXY && s->cfg.assign_burst == 0) {
        s->cfg.assign_burst = s->cfg.assign_rate;
    }
    if (s->cfg.reassembly == NULL) {
        s->cfg.reassembly_len = 0;
    }
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.profile = s->cfg.profile;
    if (s->cfg.max_datagram_capsule == 0) {
        s->cfg.max_datagram_capsule = MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX;
    }
    if (s->cfg.abort_on_oversized_capsule) {
        pcfg.max_datagram_len = s->cfg.max_datagram_capsule;
        pcfg.oversize = MASQUE_OVERSIZE_ABORT;
    } else {
        /* The session judges oversized capsules itself, by their Context ID. */
        pcfg.max_datagram_len = MASQUE_VARINT_MAX;
    }
    masque_capsule_parser_init(&s->parser, &pcfg);
    rc = masque_context_table_init(&s->table, storage, storage_len, capacity, s->cfg.hash_seed);
    if (rc != MASQUE_OK) {
        memset(s, 0, sizeof(*s));
        return rc;
    }
    s->next_local_id = MASQUE_SESS_IS_CLIENT(s) ? 2u : 1u;
    if (MASQUE_ENABLE_PROXY) {
        s->bucket_millitokens = (uint64_t)s->cfg.assign_burst * 1000u;
        s->bucket_time = now;
    }
    s->next_sweep = now;
    return MASQUE_OK;
}

/* ---- registering our own contexts ---- */

static int register_local(masque_session *s, const masque_address *target, uint64_t now,
                          uint64_t *context_id)
{
    masque_context *c = NULL;
    uint64_t id = s->next_local_id;
    int rc;

    if (id > MASQUE_VARINT_MAX) {
        return MASQUE_ERR_CONTEXT_ID_EXHAUSTED;
    }
    if (!local_queue_room(s)) {
        return MASQUE_ERR_QUEUE_FULL;
    }
    rc = masque_context_insert(&s->table, id, target, MASQUE_CONTEXT_PENDING, 0, now, &c);
    if (rc != MASQUE_OK) {
        return rc;
    }
    s->next_local_id = id + 2u; /* never reused, even after close (RFC 9298 §4) */
    queue_push(s, MASQUE_CAPSULE_COMPRESSION_ASSIGN, c, id, 0);
    if (context_id != NULL) {
        *context_id = id;
    }
    return MASQUE_OK;
}

int masque_session_open_uncompressed(masque_session *s, uint64_t now, uint64_t *context_id)
{
    if (MASQUE_BAD_ARGS(s == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    if (!MASQUE_SESS_IS_CLIENT(s)) {
        return MASQUE_ERR_STATE; /* -10 §4: only the client requests uncompressed contexts */
    }
    return register_local(s, NULL, now, context_id);
}

int masque_session_open_context(masque_session *s, const masque_address *target, uint64_t now,
                                uint64_t *context_id)
{
    if (MASQUE_BAD_ARGS(s == NULL || target == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    if (masque_ip_len(target->version) == 0 || MASQUE_SESS_FAMILY_COMPILED_OUT(target)) {
        return MASQUE_ERR_ADDRESS;
    }
    if (!masque_sess_family_advertised(s, target)) {
        return MASQUE_ERR_FAMILY_NOT_ADVERTISED;
    }
    if (!MASQUE_SESS_IS_CLIENT(s) && masque_context_uncompressed(&s->table) == NULL) {
        return MASQUE_ERR_STATE; /* -10 §3.1: no new compressed contexts without it */
    }
    return register_local(s, target, now, context_id);
}

int masque_session_close_context(masque_session *s, uint64_t context_id, uint64_t now)
{
    masque_context *c;
    (void)now;
    if (MASQUE_BAD_ARGS(s == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    c = masque_context_find(&s->table, context_id);
    if (!is_open(c)) {
        return MASQUE_ERR_UNKNOWN_CONTEXT;
    }
    if (!local_queue_room(s)) {
        return MASQUE_ERR_QUEUE_FULL;
    }
    queue_push(s, MASQUE_CAPSULE_COMPRESSION_CLOSE, c, context_id, 0);
    close_entry(s, c);
    return MASQUE_OK;
}

/* ---- auto-compression ---- */

#if MASQUE_ENABLE_AUTO_COMPRESS
static size_t auto_slot_of(const masque_address *a)
{
    uint32_t h = 2166136261u; /* FNV-1a over the tuple */
    size_t i;
    size_t n = masque_ip_len(a->version);
    for (i = 0; i < n; i++) {
        h = (h ^ a->bytes[i]) * 16777619u;
    }
    h = (h ^ a->port) * 16777619u;
    return (size_t)(h % MASQUE_SESSION_AUTO_SLOTS);
}
#endif

#if MASQUE_ENABLE_AUTO_COMPRESS
/* Counts a datagram to or from a target carried uncompressed; may register a context. Out of
 * line: only sessions with auto_compress_after set come here. */
static MASQUE_NOINLINE void count_uncompressed(masque_session *s, const masque_address *peer,
                                               uint64_t now)
{
    masque_auto_slot *slot = &s->auto_slots[auto_slot_of(peer)];
    uint64_t id;

    if (!masque_address_equal(&slot->target, peer) ||
        now - slot->window_start > s->cfg.auto_compress_window_ms) {
        slot->target = *peer;
        slot->window_start = now;
        slot->count = 0;
    }
    slot->count++;
    if (slot->count < s->cfg.auto_compress_after || !event_room(s, 1)) {
        return; /* not yet, or the host must poll first: the next datagram tries again */
    }
    memset(slot, 0, sizeof(*slot));
    if (masque_session_open_context(s, peer, now, &id) == MASQUE_OK) {
        event_push(s, MASQUE_EVENT_CONTEXT_OPENED, masque_context_find(&s->table, id), 0);
    }
}
#endif

/* Auto-compression's count of uncompressed traffic, when it is on: the check is inline, as
 * every datagram with a tuple asks it. */
static inline void note_uncompressed_traffic(masque_session *s, const masque_address *peer,
                                             uint64_t now)
{
#if MASQUE_ENABLE_AUTO_COMPRESS
    if (s->cfg.auto_compress_after != 0) {
        count_uncompressed(s, peer, now);
    }
#else
    (void)s;
    (void)peer;
    (void)now;
#endif
}

/* ---- sending ---- */

masque_ssize masque_session_write_datagram(masque_session *s, const masque_address *peer,
                                           uint8_t *payload, size_t headroom, size_t payload_len,
                                           uint64_t now, masque_datagram_path *path)
{
    masque_bind_frame f;
    masque_context *c;
    masque_context *used = NULL;
    masque_ssize n;

    if (MASQUE_BAD_ARGS(s == NULL || peer == NULL || path == NULL || payload == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    if (masque_ip_len(peer->version) == 0 || MASQUE_SESS_FAMILY_COMPILED_OUT(peer)) {
        return MASQUE_ERR_ADDRESS;
    }
    if (!masque_sess_family_advertised(s, peer)) {
        return MASQUE_ERR_FAMILY_NOT_ADVERTISED;
    }
    f.target = NULL;
    f.path = s->cfg.capsule_datagrams ? MASQUE_PATH_CAPSULE : MASQUE_PATH_H3_DATAGRAM;
    f.quarter_stream_id = s->cfg.quarter_stream_id;
    c = masque_context_any_compressed(&s->table) ? masque_context_find_tuple(&s->table, peer)
                                                 : NULL;
    if (is_usable(s, c)) {
        used = c; /* -10 §5: compressed */
        f.context_id = c->id;
    } else {
        c = masque_context_uncompressed(&s->table);
        if (is_usable(s, c)) {
            used = c; /* -10 §4: uncompressed, the tuple in every datagram */
            f.context_id = c->id;
            f.target = peer;
        } else if (s->cfg.concrete_target && masque_address_equal(peer, &s->cfg.fixed_target)) {
            f.context_id = 0; /* -10 §3: RFC 9298 semantics for the request's own target */
        } else {
            MASQUE_SESS_COUNT(s, dropped_unreachable); /* -10 §8: no registration for it */
            return MASQUE_ERR_UNREACHABLE;
        }
    }
    /* One copy where builds count bytes of code (config.h), else without a call. */
#if MASQUE_OPTIMIZE_SIZE
    n = masque_bind_frame_prepend(payload, headroom, payload_len, &f);
#else
    n = masque_frame_put(payload, headroom, payload_len, &f);
#endif
    if (n < 0) {
        return n;
    }
    *path = f.path;
    MASQUE_SESS_COUNT(s, datagrams_sent);
    if (used != NULL) {
        used->last_active = now;
    }
    if (f.target != NULL) {
        note_uncompressed_traffic(s, peer, now);
    }
    return n;
}

/* ---- receiving datagrams ---- */

/* The peer's address and UDP payload of a datagram on open context c: 1, 0 (dropped and
 * counted), or a stream error. */
static MASQUE_HOT_INLINE int resolve_peer(masque_session *s, const masque_context *c,
                                          const uint8_t *p, size_t n, masque_address *peer,
                                          const uint8_t **payload, size_t *payload_len)
{
    if (c->ip_version != 0) {
        if (n > MASQUE_UDP_PAYLOAD_MAX) {
            return masque_sess_fail(s, MASQUE_ERR_PAYLOAD_TOO_LARGE); /* RFC 9298 §5 */
        }
        masque_context_target(c, peer); /* -10 §5: the tuple is the context's */
        *payload = p;
        *payload_len = n;
        return 1;
    }
    {
        /* -10 §4: the tuple travels in every datagram. */
#if MASQUE_OPTIMIZE_SIZE
        masque_ssize rc = masque_bind_tuple_decode(peer, payload, payload_len, p, n);
#else
        masque_ssize rc = masque_tuple_read(peer, payload, payload_len, p, n); /* no call */
#endif
        if (rc == MASQUE_ERR_PAYLOAD_TOO_LARGE) {
            return masque_sess_fail(s, (int)rc);
        }
        if (rc < 0) {
            MASQUE_SESS_COUNT(s, dropped_malformed); /* -10 §4: bad IP Version, dropped */
            return 0;
        }
    }
    if (MASQUE_SESS_FAMILY_COMPILED_OUT(peer)) {
        MASQUE_SESS_COUNT(s, dropped_malformed); /* IPv6 compiled out (config.h) */
        return 0;
    }
    return 1;
}

/* A datagram's Context ID and what follows it: 1 when out holds a packet, 0 when it was
 * dropped and counted (out stays zeroed), or a stream error. The role decides about the
 * uncompressed context. The peer and payload are written straight into out. */
static MASQUE_HOT_INLINE int deliver_context_payload(masque_session *s, uint64_t id,
                                                     const uint8_t *p, size_t n, uint64_t now,
                                                     masque_packet *out)
{
    masque_context *c = NULL;

    if (id == 0) {
        if (s->cfg.concrete_target) {
            out->peer = s->cfg.fixed_target; /* -10 §3, BIND-4 */
        } else if (!s->cfg.drop_context_id_zero) {
            return masque_sess_fail(s, MASQUE_ERR_CONTEXT_ID_ZERO); /* -13 §3: abort */
        } else {
            MASQUE_SESS_COUNT(s, dropped_context_id_zero); /* -10 §3 only forbids sending it */
            return 0;
        }
        if (n > MASQUE_UDP_PAYLOAD_MAX) {
            memset(out, 0, sizeof(*out));
            return masque_sess_fail(s, MASQUE_ERR_PAYLOAD_TOO_LARGE); /* RFC 9298 §5 */
        }
        out->payload = p;
        out->payload_len = n;
    } else {
        int rc;
        c = masque_context_find(&s->table, id);
        if (!is_open(c)) {
            MASQUE_SESS_COUNT(s, dropped_unknown_context); /* RFC 9298 §5; -10 §3.3 after CLOSE */
            return 0;
        }
        rc = resolve_peer(s, c, p, n, &out->peer, &out->payload, &out->payload_len);
        if (rc == 1 && !MASQUE_SESS_IS_CLIENT(s) && c->ip_version == 0 &&
            !masque_sess_proxy_allows(s, &out->peer)) {
            MASQUE_SESS_COUNT(s, dropped_policy); /* -10 §9: every uncompressed target */
            rc = 0;
        }
        if (rc <= 0) {
            memset(out, 0, sizeof(*out)); /* nothing half-written reaches the host */
            return rc;
        }
        c->last_active = now;
    }
    out->context_id = id;
    MASQUE_SESS_COUNT(s, datagrams_received);
    if (c != NULL && c->ip_version == 0) {
        note_uncompressed_traffic(s, &out->peer, now);
    }
    return 1;
}

/* An HTTP Datagram Payload, from a QUIC DATAGRAM frame or a DATAGRAM capsule (RFC 9298 §5). */
static int read_http_datagram(masque_session *s, const uint8_t *data, size_t len, uint64_t now,
                              masque_packet *out)
{
    uint64_t id;
    const uint8_t *rest;
    size_t rest_len;
    if (data == NULL || !masque_split_varint(&id, &rest, &rest_len, data, len)) {
        MASQUE_SESS_COUNT(s, dropped_malformed); /* no complete Context ID: dropped */
        return 0;
    }
    return deliver_context_payload(s, id, rest, rest_len, now, out);
}

int masque_session_read_datagram(masque_session *s, const uint8_t *data, size_t len, uint64_t now,
                                 masque_packet *out)
{
    if (MASQUE_BAD_ARGS(s == NULL || out == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof(*out));
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    if (s->fin_received) {
        MASQUE_SESS_COUNT(s, dropped_after_fin); /* RFC 9297 §2.1: the receive side is closed */
        return 0;
    }
    return read_http_datagram(s, data, len, now, out);
}

/* ---- receiving capsules ---- */

static int handle_ack(masque_session *s, uint64_t id)
{
    masque_context *c = masque_context_find(&s->table, id);
    if (c == NULL) {
        /* Ours, already closed and forgotten: a late ACK is harmless. */
        return was_assigned_by_us(s, id) ? MASQUE_OK : MASQUE_ERR_UNKNOWN_ACK;
    }
    if ((c->flags & MASQUE_CONTEXT_FLAG_PEER) != 0) {
        return MASQUE_ERR_UNKNOWN_ACK; /* -10 §3.2: we never assigned it */
    }
    if (c->state == MASQUE_CONTEXT_PENDING) {
        c->state = MASQUE_CONTEXT_ACTIVE;
        event_push(s, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, c, 0);
    }
    return MASQUE_OK; /* a repeated ACK, or one for a context we closed meanwhile */
}

static int handle_close(masque_session *s, uint64_t id)
{
    masque_context *c = masque_context_find(&s->table, id);
    int ours_pending;
    if (c == NULL) {
        if (!was_assigned_by_us(s, id)) {
            MASQUE_SESS_COUNT(s, unknown_closes);
        }
        return MASQUE_OK;
    }
    if (!is_open(c)) {
        return MASQUE_OK; /* both ends closed it */
    }
    ours_pending = c->state == MASQUE_CONTEXT_PENDING && (c->flags & MASQUE_CONTEXT_FLAG_PEER) == 0;
    close_entry(s, c);
    /* -10 §3.1: CLOSE in answer to our ASSIGN is a rejection; otherwise a closure (§3.3). */
    event_push(s, ours_pending ? MASQUE_EVENT_CONTEXT_REJECTED : MASQUE_EVENT_CONTEXT_CLOSED, c, 0);
    return MASQUE_OK;
}

int masque_sess_responses_fit(const masque_session *s, size_t needed)
{
    return s->responses + needed <= s->cfg.max_pending_responses;
}

#if MASQUE_ENABLE_PROXY
void masque_sess_close_ours(masque_session *s, masque_context *ours)
{
    /* Both ends registered the tuple; ours, the proxy's, is closed (-10 §3.1). */
    queue_push(s, MASQUE_CAPSULE_COMPRESSION_CLOSE, ours, ours->id, 1);
    close_entry(s, ours);
    event_push(s, MASQUE_EVENT_CONTEXT_CLOSED, ours, MASQUE_ERR_DUPLICATE_TUPLE);
}
#endif

int masque_sess_accept(masque_session *s, uint64_t id, const masque_address *target, uint64_t now)
{
    masque_context *c = NULL;
    int rc = masque_context_insert(&s->table, id, target, MASQUE_CONTEXT_ACTIVE,
                                   MASQUE_CONTEXT_FLAG_PEER, now, &c);
    if (rc != MASQUE_OK) {
        return masque_sess_refuse(s, id, target, rc); /* the table is full */
    }
    /* -10 §3.1: the mapping is saved first, then acknowledged. */
    s->peer_open++;
    if (MASQUE_ENABLE_DRAFT04 && s->cfg.profile == MASQUE_PROFILE_DRAFT04) {
        queue_push(s, MASQUE_CAPSULE_COMPRESSION_ASSIGN, c, c->id, 1); /* its ACK: an echo */
    } else {
        queue_push(s, MASQUE_CAPSULE_COMPRESSION_ACK, c, c->id, 1);
    }
    event_push(s, MASQUE_EVENT_PEER_CONTEXT_OPENED, c, 0);
    return MASQUE_OK;
}

int masque_sess_refuse(masque_session *s, uint64_t id, const masque_address *target, int reason)
{
    /* -10 §3.1: COMPRESSION_CLOSE with the same ID; the ID is remembered so that it is never
     * accepted later (-13 §3.3). */
    masque_context_retire(&s->table, id);
    queue_push(s, MASQUE_CAPSULE_COMPRESSION_CLOSE, NULL, id, 1);
    MASQUE_SESS_COUNT(s, peer_assigns_refused);
    event_push_id(s, MASQUE_EVENT_PEER_CONTEXT_REFUSED, id, target, reason);
    return MASQUE_OK;
}

/*
 * The checks every ASSIGN from the peer passes, whichever role answers it: the peer's parity,
 * an ID never seen (-10 §3.1: even a closed one is malformed), and no tuple the peer already
 * holds (-13 §3.1). Sets *ours to our own open context for the tuple, if any.
 */
static int validate_assign(masque_session *s, const masque_compression_assign *a,
                           masque_context **ours)
{
    *ours = NULL;
    if (is_own_id(s, a->context_id)) {
        return MASQUE_ERR_CONTEXT_PARITY; /* RFC 9298 §4, -10 §3.1 */
    }
    if (masque_context_find(&s->table, a->context_id) != NULL) {
        return MASQUE_ERR_DUPLICATE_CONTEXT_ID; /* -10 §3.1, even when closed */
    }
    if (a->ip_version != 0) {
        masque_context *c = masque_context_find_tuple(&s->table, &a->target);
        if (c != NULL && (c->flags & MASQUE_CONTEXT_FLAG_PEER) != 0) {
            return MASQUE_ERR_DUPLICATE_TUPLE; /* -13 §3.1: a tuple the peer registered */
        }
        *ours = c;
    }
    return MASQUE_OK;
}

static int handle_assign(masque_session *s, const masque_compression_assign *a, uint64_t now)
{
    const masque_address *target = a->ip_version != 0 ? &a->target : NULL;
    masque_context *ours = NULL;
    int rc;

#if MASQUE_ENABLE_DRAFT04
    if (s->cfg.profile == MASQUE_PROFILE_DRAFT04 && is_own_id(s, a->context_id)) {
        /* draft-04 has no ACK: the peer echoes our ASSIGN. */
        return handle_ack(s, a->context_id);
    }
#endif
    rc = validate_assign(s, a, &ours);
    if (rc != MASQUE_OK) {
        return rc;
    }
    /* The role is chosen once: each answers the ASSIGN by its own rules (-10 §3.1, §4, §9). */
    return MASQUE_SESS_IS_CLIENT(s)
               ? masque_sess_client_on_assign(s, a->context_id, target, ours, now)
               : masque_sess_proxy_on_assign(s, a->context_id, target, ours, now);
}

static int handle_control(masque_session *s, const masque_capsule_event *ev, uint64_t now)
{
    masque_compression_assign a;
    uint64_t id;
    masque_ssize rc;

    switch (ev->kind) {
    case MASQUE_CAPSULE_COMPRESSION_ASSIGN:
        rc = masque_compression_assign_decode(&a, ev->data, ev->data_len);
        return rc < 0 ? (int)rc : handle_assign(s, &a, now);
    case MASQUE_CAPSULE_COMPRESSION_ACK:
    case MASQUE_CAPSULE_COMPRESSION_CLOSE:
        rc = masque_compression_id_decode(&id, ev->data, ev->data_len);
        if (rc < 0) {
            return (int)rc;
        }
        return ev->kind == MASQUE_CAPSULE_COMPRESSION_ACK ? handle_ack(s, id) : handle_close(s, id);
    case MASQUE_CAPSULE_DATAGRAM:
    case MASQUE_CAPSULE_UNKNOWN:
        break;
    }
    return MASQUE_OK;
}

/* The longest HTTP Datagram Payload after the Context ID that a context could carry: a UDP
 * payload (RFC 9298 §5), after the IP Version, address and port on the uncompressed one. */
static uint64_t payload_limit(const masque_context *c)
{
    return MASQUE_UDP_PAYLOAD_MAX + (c != NULL && c->ip_version == 0 ? 19u : 0u);
}

/*
 * Decides a DATAGRAM capsule above max_datagram_capsule by its Context ID, without buffering
 * its payload (RFC 9297 §3.5). Returns 0 (discarded and counted) or a stream error.
 */
static int judge_oversized(masque_session *s, uint64_t id, uint64_t payload_len)
{
    const masque_context *c = NULL;
    if (id == 0 && !s->cfg.concrete_target) {
        if (!s->cfg.drop_context_id_zero) {
            return masque_sess_fail(s, MASQUE_ERR_CONTEXT_ID_ZERO); /* -13 §3 */
        }
        MASQUE_SESS_COUNT(s, dropped_context_id_zero);
        return 0;
    }
    if (id != 0) {
        c = masque_context_find(&s->table, id);
        if (!is_open(c)) {
            /* RFC 9298 §5: dropped, here unbuffered. */
            MASQUE_SESS_COUNT(s, dropped_unknown_context);
            return 0;
        }
    }
    if (payload_len > payload_limit(c)) {
        return masque_sess_fail(s, MASQUE_ERR_PAYLOAD_TOO_LARGE); /* RFC 9298 §5 (UDP-11) */
    }
    MASQUE_SESS_COUNT(s, dropped_oversized); /* legal, but above our limit: DG-18 */
    return 0;
}

/* A piece of an oversized DATAGRAM capsule: gathers its Context ID (at most 8 bytes), then
 * skips the rest. */
static int oversized_piece(masque_session *s, const masque_capsule_event *ev)
{
    size_t i = 0;
    while (s->oversized == 1 && i < ev->data_len) {
        size_t need;
        s->oversized_id[s->oversized_id_len++] = ev->data[i++];
        need = masque_varint_len_from_first(s->oversized_id[0]);
        if (s->oversized_id_len == need) {
            uint64_t id = 0;
            (void)masque_varint_read(s->oversized_id, need, &id);
            s->oversized = 2;
            return judge_oversized(s, id, ev->length - need);
        }
    }
    if (ev->last && s->oversized == 1) {
        MASQUE_SESS_COUNT(s, dropped_malformed); /* ended inside its Context ID */
    }
    return 0;
}

/* A DATAGRAM capsule piece; returns 1 when out holds a packet, 0, or a stream error. */
static int handle_datagram_piece(masque_session *s, const masque_capsule_event *ev, uint64_t now,
                                 masque_packet *out)
{
    const uint8_t *value = ev->data; /* whole in one piece: a view */
    if (ev->offset == 0) {
        s->oversized = ev->length > s->cfg.max_datagram_capsule ? 1u : 0u;
        s->oversized_id_len = 0;
    }
    if (s->oversized != 0) {
        return oversized_piece(s, ev);
    }
    if (ev->offset != 0 || !ev->last) {
        /* In pieces: gathered where the host gave room for it, else dropped (RFC 9297 §3.5). */
        if (ev->offset == 0) {
            s->dropping_split = s->cfg.reassembly == NULL || ev->length > s->cfg.reassembly_len;
        }
        if (!s->dropping_split) {
            memcpy(s->cfg.reassembly + ev->offset, ev->data, ev->data_len);
        }
        if (!ev->last) {
            return 0;
        }
        if (s->dropping_split) {
            MASQUE_SESS_COUNT(s, dropped_split_capsule);
            return 0;
        }
        value = s->cfg.reassembly;
    }
    return read_http_datagram(s, value, (size_t)ev->length, now, out);
}

masque_ssize masque_session_read_stream(masque_session *s, const uint8_t *data, size_t len,
                                        uint64_t now, masque_packet *out)
{
    size_t pos = 0;

    if (MASQUE_BAD_ARGS(s == NULL || out == NULL || (data == NULL && len != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof(*out));
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    while (pos < len) {
        masque_capsule_event ev;
        masque_ssize n;
        int rc = 0;
        /* A capsule makes at most two events; stop while the host has not polled. */
        if (!event_room(s, 2)) {
            break;
        }
        n = masque_capsule_parser_feed(&s->parser, data + pos, len - pos, &ev);
        if (n < 0) {
            return masque_sess_fail(s, (int)n); /* RFC 9297 §3.3 */
        }
        pos += (size_t)n;
        switch (ev.event) {
        case MASQUE_CAPSULE_EVENT_NONE:
            break;
        case MASQUE_CAPSULE_EVENT_CONTROL:
            rc = handle_control(s, &ev, now);
            break;
        case MASQUE_CAPSULE_EVENT_DATAGRAM:
            rc = handle_datagram_piece(s, &ev, now, out);
            break;
        case MASQUE_CAPSULE_EVENT_UNKNOWN:
        case MASQUE_CAPSULE_EVENT_DISCARDED:
            MASQUE_SESS_COUNT(s, discarded_capsules); /* RFC 9297 §3.2 */
            break;
        }
        if (rc < 0) {
            return masque_sess_fail(s, rc);
        }
        if (rc > 0) {
            break; /* a packet for the host */
        }
    }
    return (masque_ssize)pos;
}

int masque_session_read_fin(masque_session *s)
{
    int rc;
    if (MASQUE_BAD_ARGS(s == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    rc = masque_capsule_parser_finish(&s->parser);
    if (rc != MASQUE_OK) {
        return masque_sess_fail(s, rc);
    }
    s->fin_received = 1;
    return MASQUE_OK;
}

/* ---- output ---- */

static masque_ssize encode_queued(const masque_session *s, const masque_queued_capsule *q,
                                  uint8_t *dst, size_t cap)
{
    uint64_t type = 0;
    /* The queue holds only capsules this profile has (draft-04 answers with an ASSIGN echo,
     * never an ACK) and valid fields: written without the public encoders' checks. */
    (void)masque_capsule_type_of(s->cfg.profile, (masque_capsule_kind)q->kind, &type);
    return masque_control_put(dst, cap, type, q->context_id,
                              q->kind == MASQUE_CAPSULE_COMPRESSION_ASSIGN, &q->target);
}

masque_ssize masque_session_write_stream(masque_session *s, uint8_t *dst, size_t cap)
{
    size_t written = 0;
    if (MASQUE_BAD_ARGS(s == NULL || (dst == NULL && cap != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (dst == NULL) {
        return s->queue_count > 0 ? MASQUE_ERR_BUFFER : 0; /* no room at all */
    }
    while (s->queue_count > 0) {
        const masque_queued_capsule *q = &s->queue[s->queue_head];
        masque_ssize n = encode_queued(s, q, dst + written, cap - written);
        if (n == MASQUE_ERR_BUFFER && written > 0) {
            break;
        }
        if (n < 0) {
            return n;
        }
        written += (size_t)n;
        masque_sess_stream_taken(s, 1);
    }
    return (masque_ssize)written;
}

masque_ssize masque_sess_stream_peek(masque_session *s, uint8_t *dst, size_t cap, size_t *count)
{
    /* Written as masque_session_write_stream() writes them, then the queue's place put back:
     * taking a capsule moves only these three (the ring keeps its entries). */
    size_t head = s->queue_head;
    size_t queued = s->queue_count;
    size_t responses = s->responses;
    masque_ssize n = masque_session_write_stream(s, dst, cap);
    *count = queued - s->queue_count;
    s->queue_head = head;
    s->queue_count = queued;
    s->responses = responses;
    return n;
}

void masque_sess_stream_taken(masque_session *s, size_t count)
{
    while (count-- > 0 && s->queue_count > 0) {
        if (s->queue[s->queue_head].response) {
            s->responses--;
        }
        s->queue_head = (s->queue_head + 1) % MASQUE_SESSION_QUEUE_LEN;
        s->queue_count--;
    }
}

size_t masque_session_queued_capsules(const masque_session *s)
{
    return s == NULL ? 0 : s->queue_count;
}

size_t masque_session_queued_events(const masque_session *s)
{
    return s == NULL ? 0 : s->event_count;
}

int masque_session_poll_event(masque_session *s, masque_event *ev)
{
    if (s == NULL || ev == NULL || s->event_count == 0) {
        return 0;
    }
    *ev = s->events[s->event_head];
    s->event_head = (s->event_head + 1) % MASQUE_SESSION_EVENT_LEN;
    s->event_count--;
    return 1;
}

int masque_session_tick(masque_session *s, uint64_t now)
{
    size_t i;
    size_t n;
    uint64_t idle;
    uint64_t earliest;

    if (MASQUE_BAD_ARGS(s == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (s->failed) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    idle = s->cfg.idle_timeout_ms;
    if (idle == 0 || now < s->next_sweep) {
        return MASQUE_OK;
    }
    earliest = now + idle;
    n = masque_context_table_capacity(&s->table);
    for (i = 0; i < n; i++) {
        masque_context *c = masque_context_at(&s->table, i);
        uint64_t expiry;
        /* -10 §3.3: an unused mapping may be closed; the uncompressed one is the host's. */
        if (c->state != MASQUE_CONTEXT_ACTIVE || c->ip_version == 0) {
            continue;
        }
        expiry = c->last_active + idle;
        if (expiry <= now && local_queue_room(s) && event_room(s, 1)) {
            queue_push(s, MASQUE_CAPSULE_COMPRESSION_CLOSE, c, c->id, 0);
            close_entry(s, c);
            event_push(s, MASQUE_EVENT_CONTEXT_CLOSED, c, 0);
        } else if (expiry < earliest) {
            /* Queue or events full: try again once the host has written and polled. */
            earliest = expiry <= now ? now + 1u : expiry;
        }
    }
    s->next_sweep = earliest;
    return MASQUE_OK;
}

uint64_t masque_session_next_timeout(const masque_session *s)
{
    if (s == NULL || s->failed || s->cfg.idle_timeout_ms == 0) {
        return UINT64_MAX;
    }
    return s->next_sweep;
}

void masque_session_get_stats(const masque_session *s, masque_session_stats *out)
{
    if (s != NULL && out != NULL) {
        *out = s->stats;
    }
}

int masque_session_error(const masque_session *s)
{
    return s == NULL ? MASQUE_ERR_INVALID_ARGUMENT : s->failed;
}

int masque_session_set_capsule_datagrams(masque_session *s, int capsule_datagrams)
{
    if (MASQUE_BAD_ARGS(s == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    s->cfg.capsule_datagrams = capsule_datagrams != 0;
    return MASQUE_OK;
}

uint64_t masque_session_quarter_stream_id(const masque_session *s)
{
    return s == NULL ? 0 : s->cfg.quarter_stream_id;
}

/* ---- what the host may read of the table: copies ---- */

size_t masque_session_context_count(const masque_session *s)
{
    return s == NULL ? 0 : masque_context_open_count(&s->table);
}

size_t masque_session_context_capacity(const masque_session *s)
{
    return s == NULL ? 0 : masque_context_table_capacity(&s->table);
}

int masque_session_context_get(const masque_session *s, uint64_t context_id,
                               masque_context_info *out)
{
    const masque_context *c;
    if (s == NULL || out == NULL) {
        return 0;
    }
    c = masque_context_find(&s->table, context_id);
    if (c == NULL) {
        return 0;
    }
    masque_context_describe(c, out);
    return 1;
}

int masque_session_context_find(const masque_session *s, const masque_address *target,
                                masque_context_info *out)
{
    const masque_context *c;
    if (s == NULL || out == NULL) {
        return 0;
    }
    c = target == NULL ? masque_context_uncompressed(&s->table)
                       : masque_context_find_tuple(&s->table, target);
    if (c == NULL) {
        return 0;
    }
    masque_context_describe(c, out);
    return 1;
}

int masque_session_context_next(const masque_session *s, size_t *cursor, masque_context_info *out)
{
    size_t n;
    if (s == NULL || cursor == NULL || out == NULL) {
        return 0;
    }
    n = masque_context_table_capacity(&s->table);
    while (*cursor < n) {
        const masque_context *c = masque_context_at(&s->table, (*cursor)++);
        if (is_open(c)) {
            masque_context_describe(c, out);
            return 1;
        }
    }
    return 0;
}

#endif /* MASQUE_ENABLE_SESSION */
