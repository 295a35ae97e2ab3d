/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/capsule.h"
#include "internal/args.h"

#include <stdint.h>
#include <string.h>

#include "internal/wire.h"
#include "masque/varint.h"

/* Parser states. */
enum {
    PARSE_HEADER = 0,  /* reading Type and Length */
    PARSE_CONTROL = 1, /* gathering a control value (<= 27 bytes) */
    PARSE_DATAGRAM = 2,
    PARSE_SKIP = 3 /* unknown or discarded: value consumed without being kept */
};

/* -10 §3.1-§3.3, §11.2: ASSIGN, ACK and CLOSE have consecutive codepoints, in the order of their
 * kinds, so that a kind and its draft-10 Type are one subtraction apart. */
typedef char masque_codepoints_are_consecutive
    [MASQUE_CAPSULE_TYPE_COMPRESSION_ACK == MASQUE_CAPSULE_TYPE_COMPRESSION_ASSIGN + 1 &&
             MASQUE_CAPSULE_TYPE_COMPRESSION_CLOSE == MASQUE_CAPSULE_TYPE_COMPRESSION_ASSIGN + 2 &&
             MASQUE_CAPSULE_COMPRESSION_ACK == MASQUE_CAPSULE_COMPRESSION_ASSIGN + 1 &&
             MASQUE_CAPSULE_COMPRESSION_CLOSE == MASQUE_CAPSULE_COMPRESSION_ASSIGN + 2
         ? 1
         : -1];

masque_capsule_kind masque_capsule_kind_of(masque_profile profile, uint64_t type)
{
    uint64_t control = type - MASQUE_CAPSULE_TYPE_COMPRESSION_ASSIGN; /* wraps below ASSIGN */

    if (type == MASQUE_CAPSULE_TYPE_DATAGRAM) {
        return MASQUE_CAPSULE_DATAGRAM;
    }
    if (profile == MASQUE_PROFILE_DRAFT10) {
        return control <= 2u ? (masque_capsule_kind)(MASQUE_CAPSULE_COMPRESSION_ASSIGN + control)
                             : MASQUE_CAPSULE_UNKNOWN;
    }
#if MASQUE_ENABLE_DRAFT04
    if (profile == MASQUE_PROFILE_DRAFT04) {
        if (type == MASQUE_CAPSULE_TYPE_DRAFT04_COMPRESSION_ASSIGN) {
            return MASQUE_CAPSULE_COMPRESSION_ASSIGN;
        }
        if (type == MASQUE_CAPSULE_TYPE_DRAFT04_COMPRESSION_CLOSE) {
            return MASQUE_CAPSULE_COMPRESSION_CLOSE;
        }
    }
#endif
    return MASQUE_CAPSULE_UNKNOWN;
}

int masque_capsule_type_of(masque_profile profile, masque_capsule_kind kind, uint64_t *type)
{
    if (MASQUE_BAD_ARGS(type == NULL ||
                        (profile != MASQUE_PROFILE_DRAFT10 && profile != MASQUE_PROFILE_DRAFT04))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
#if !MASQUE_ENABLE_DRAFT04
    if (profile == MASQUE_PROFILE_DRAFT04) {
        return MASQUE_ERR_UNSUPPORTED; /* compiled out (config.h) */
    }
#endif
    if (kind == MASQUE_CAPSULE_DATAGRAM) {
        *type = MASQUE_CAPSULE_TYPE_DATAGRAM;
        return MASQUE_OK;
    }
    if (kind < MASQUE_CAPSULE_COMPRESSION_ASSIGN || kind > MASQUE_CAPSULE_COMPRESSION_CLOSE) {
        return MASQUE_ERR_INVALID_ARGUMENT; /* UNKNOWN has no codepoint */
    }
#if MASQUE_ENABLE_DRAFT04
    if (profile == MASQUE_PROFILE_DRAFT04) {
        if (kind == MASQUE_CAPSULE_COMPRESSION_ACK) {
            return MASQUE_ERR_UNSUPPORTED; /* draft-04 echoes the ASSIGN instead */
        }
        *type = kind == MASQUE_CAPSULE_COMPRESSION_ASSIGN
                    ? MASQUE_CAPSULE_TYPE_DRAFT04_COMPRESSION_ASSIGN
                    : MASQUE_CAPSULE_TYPE_DRAFT04_COMPRESSION_CLOSE;
        return MASQUE_OK;
    }
#endif
    *type = MASQUE_CAPSULE_TYPE_COMPRESSION_ASSIGN +
            (uint64_t)(kind - MASQUE_CAPSULE_COMPRESSION_ASSIGN);
    return MASQUE_OK;
}

masque_ssize masque_capsule_decode(masque_capsule *out, const uint8_t *src, size_t len)
{
    masque_cursor c = masque_cursor_make(src, src == NULL ? 0 : len);
    uint64_t type;
    uint64_t length;
    const uint8_t *value;
    int rc;

    if (MASQUE_BAD_ARGS(out == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = masque_cursor_varint(&c, &type);
    if (rc == 0) {
        rc = masque_cursor_varint(&c, &length);
    }
    if (rc != 0) {
        return rc;
    }
    /* RFC 9297 §3.2: the value is Length bytes; until they are all here, ask for more. */
    if (length > masque_cursor_left(&c)) {
        return MASQUE_ERR_NEED_MORE;
    }
    rc = masque_cursor_view(&c, (size_t)length, &value);
    if (rc != 0) {
        return rc;
    }
    if (c.pos > (size_t)PTRDIFF_MAX) {
        return MASQUE_ERR_CAPSULE_LENGTH; /* cannot be reported as a byte count */
    }
    out->type = type;
    out->length = (size_t)length;
    out->value = value;
    return masque_ssize_of(c.pos);
}

size_t masque_capsule_header_len(uint64_t type, uint64_t length)
{
    size_t t = masque_varint_size(type);
    size_t l = masque_varint_size(length);
    return (t == 0 || l == 0) ? 0 : t + l;
}

masque_ssize masque_capsule_header_encode(uint8_t *dst, size_t cap, uint64_t type, uint64_t length)
{
    size_t t = masque_varint_size(type);
    size_t l = masque_varint_size(length);

    if (t == 0 || l == 0) {
        return MASQUE_ERR_VARINT_RANGE;
    }
    if (cap < t + l) {
        return MASQUE_ERR_BUFFER;
    }
    if (MASQUE_BAD_ARGS(dst == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    masque_store_varint(dst, t, type);
    masque_store_varint(dst + t, l, length);
    return masque_ssize_of(t + l);
}

masque_ssize masque_capsule_header_prepend(uint8_t *value, size_t headroom, uint64_t type,
                                           uint64_t length)
{
    size_t n = masque_capsule_header_len(type, length);

    if (n == 0) {
        return MASQUE_ERR_VARINT_RANGE;
    }
    if (headroom < n) {
        return MASQUE_ERR_BUFFER;
    }
    if (MASQUE_BAD_ARGS(value == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    return masque_capsule_header_encode(value - n, n, type, length);
}

masque_ssize masque_capsule_encode(uint8_t *dst, size_t cap, uint64_t type, const uint8_t *value,
                                   size_t length)
{
    size_t n = masque_capsule_header_len(type, (uint64_t)length);

    if (n == 0) {
        return MASQUE_ERR_VARINT_RANGE;
    }
    if (cap < n || cap - n < length) {
        return MASQUE_ERR_BUFFER;
    }
    if (MASQUE_BAD_ARGS(dst == NULL || (value == NULL && length != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    (void)masque_capsule_header_encode(dst, n, type, (uint64_t)length);
    if (length != 0) {
        memcpy(dst + n, value, length);
    }
    return masque_ssize_of(n + length);
}

masque_ssize masque_compression_assign_decode(masque_compression_assign *out, const uint8_t *value,
                                              size_t len)
{
    masque_cursor c = masque_cursor_make(value, value == NULL ? 0 : len);
    masque_compression_assign a;
    const uint8_t *ip = NULL;
    int rc;

    if (MASQUE_BAD_ARGS(out == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    memset(&a, 0, sizeof(a));
    rc = masque_cursor_varint(&c, &a.context_id);
    if (rc == 0) {
        rc = masque_cursor_u8(&c, &a.ip_version);
    }
    if (rc != 0) {
        return masque_truncated_if_short(rc);
    }
    if (a.context_id == 0) {
        return MASQUE_ERR_CONTEXT_ID_ZERO; /* -10 §3.1 */
    }
    if (a.ip_version != 0) {
        size_t ip_len = masque_ip_len(a.ip_version);
        if (ip_len == 0) {
            return MASQUE_ERR_IP_VERSION; /* -10 §3.1: MUST be 0, 4 or 6 */
        }
        rc = masque_cursor_view(&c, ip_len, &ip);
        if (rc == 0) {
            rc = masque_cursor_u16(&c, &a.target.port);
        }
        if (rc != 0) {
            return masque_truncated_if_short(rc);
        }
        a.target.version = a.ip_version;
        memcpy(a.target.bytes, ip, ip_len);
    }
    if (masque_cursor_left(&c) != 0) {
        return MASQUE_ERR_TRAILING_BYTES; /* RFC 9297 §3.3 */
    }
    *out = a;
    return masque_ssize_of(c.pos);
}

/* Value length of an ASSIGN, or 0 when a field is not encodable. */
static size_t assign_value_len(const masque_compression_assign *in, int *err)
{
    size_t id_len = masque_varint_size(in->context_id);
    size_t ip_len = masque_ip_len(in->ip_version);

    if (in->context_id == 0) {
        *err = MASQUE_ERR_CONTEXT_ID_ZERO;
        return 0;
    }
    if (id_len == 0) {
        *err = MASQUE_ERR_VARINT_RANGE;
        return 0;
    }
    if (in->ip_version == 0) {
        return id_len + 1;
    }
    if (ip_len == 0 || in->target.version != in->ip_version) {
        *err = MASQUE_ERR_IP_VERSION;
        return 0;
    }
    return id_len + 1 + ip_len + 2;
}

size_t masque_compression_assign_encoded_len(masque_profile profile,
                                             const masque_compression_assign *in)
{
    uint64_t type;
    int err = 0;
    size_t value_len;

    if (in == NULL || masque_capsule_type_of(profile, MASQUE_CAPSULE_COMPRESSION_ASSIGN, &type)) {
        return 0;
    }
    value_len = assign_value_len(in, &err);
    if (value_len == 0) {
        return 0;
    }
    return masque_capsule_header_len(type, value_len) + value_len;
}

/* masque_control_put() writes a control capsule's Length as one byte. */
typedef char masque_control_length_is_one_byte[MASQUE_COMPRESSION_ASSIGN_VALUE_MAX < 64 ? 1 : -1];

/*
 * Writes a control capsule: the Context ID, then, for an ASSIGN, its IP Version, address and
 * port (-10 §3.1-§3.3: ACK and CLOSE are the first field of an ASSIGN alone). One writer for
 * the three, so that they cannot drift apart; the session's queue writes through it too.
 */
masque_ssize masque_control_put(uint8_t *dst, size_t cap, uint64_t type, uint64_t context_id,
                                int assign, const masque_address *target)
{
    uint8_t ip_version = target != NULL ? target->version : 0u;
    size_t id_len = masque_varint_size(context_id);
    size_t ip_len = masque_ip_len(ip_version);
    size_t value_len = id_len + (assign ? 1u + (ip_len != 0 ? ip_len + 2u : 0u) : 0u);
    size_t type_len = masque_varint_size(type);
    /* A control value is at most 27 bytes (-10 §3.1): its Length is one byte (checked above). */
    size_t header_len = type_len + 1u;
    uint8_t *p;

    if (cap < header_len + value_len) {
        return MASQUE_ERR_BUFFER;
    }
    if (MASQUE_BAD_ARGS(dst == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    masque_store_varint(dst, type_len, type);
    dst[type_len] = (uint8_t)value_len;
    p = dst + header_len;
    masque_store_varint(p, id_len, context_id);
    if (assign) {
        p += id_len;
        *p++ = ip_version;
        if (ip_len != 0) {
            memcpy(p, target->bytes, ip_len);
            masque_store_u16(p + ip_len, target->port);
        }
    }
    return masque_ssize_of(header_len + value_len);
}

masque_ssize masque_compression_assign_encode(uint8_t *dst, size_t cap, masque_profile profile,
                                              const masque_compression_assign *in)
{
    uint64_t type;
    int err = MASQUE_ERR_INVALID_ARGUMENT;
    int rc;

    if (MASQUE_BAD_ARGS(in == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = masque_capsule_type_of(profile, MASQUE_CAPSULE_COMPRESSION_ASSIGN, &type);
    if (rc != 0) {
        return rc;
    }
    if (assign_value_len(in, &err) == 0) {
        return err;
    }
    return masque_control_put(dst, cap, type, in->context_id, 1,
                              in->ip_version != 0 ? &in->target : NULL);
}

masque_ssize masque_compression_id_decode(uint64_t *context_id, const uint8_t *value, size_t len)
{
    masque_cursor c = masque_cursor_make(value, value == NULL ? 0 : len);
    uint64_t id;
    int rc;

    if (MASQUE_BAD_ARGS(context_id == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = masque_cursor_varint(&c, &id);
    if (rc != 0) {
        return masque_truncated_if_short(rc);
    }
    if (masque_cursor_left(&c) != 0) {
        return MASQUE_ERR_TRAILING_BYTES; /* RFC 9297 §3.3 */
    }
    if (id == 0) {
        return MASQUE_ERR_CONTEXT_ID_ZERO; /* -10 §3.3 */
    }
    *context_id = id;
    return masque_ssize_of(c.pos);
}

/* The type of an ACK or CLOSE, or an error. */
static int id_capsule_type(masque_profile profile, masque_capsule_kind kind, uint64_t *type)
{
    if (MASQUE_BAD_ARGS(kind != MASQUE_CAPSULE_COMPRESSION_ACK &&
                        kind != MASQUE_CAPSULE_COMPRESSION_CLOSE)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    return masque_capsule_type_of(profile, kind, type);
}

size_t masque_compression_id_encoded_len(masque_profile profile, masque_capsule_kind kind,
                                         uint64_t context_id)
{
    uint64_t type;
    size_t id_len = masque_varint_size(context_id);

    if (context_id == 0 || id_len == 0 || id_capsule_type(profile, kind, &type) != 0) {
        return 0;
    }
    return masque_capsule_header_len(type, id_len) + id_len;
}

masque_ssize masque_compression_id_encode(uint8_t *dst, size_t cap, masque_profile profile,
                                          masque_capsule_kind kind, uint64_t context_id)
{
    uint64_t type;
    size_t id_len = masque_varint_size(context_id);
    int rc = id_capsule_type(profile, kind, &type);

    if (rc != 0) {
        return rc;
    }
    if (context_id == 0) {
        return MASQUE_ERR_CONTEXT_ID_ZERO;
    }
    if (id_len == 0) {
        return MASQUE_ERR_VARINT_RANGE;
    }
    return masque_control_put(dst, cap, type, context_id, 0, NULL);
}

/* ---- incremental parser ---- */

void masque_capsule_parser_init(masque_capsule_parser *p, const masque_capsule_parser_config *cfg)
{
    memset(p, 0, sizeof(*p));
    if (cfg != NULL) {
        p->cfg = *cfg;
    }
    if (p->cfg.max_datagram_len == 0) {
        p->cfg.max_datagram_len = MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX;
    }
    p->state = PARSE_HEADER;
}

static void event_reset(masque_capsule_event *ev)
{
    memset(ev, 0, sizeof(*ev));
}

static void event_header(const masque_capsule_parser *p, masque_capsule_event *ev,
                         masque_capsule_event_kind what)
{
    ev->event = what;
    ev->kind = (masque_capsule_kind)p->kind;
    ev->type = p->type;
    ev->length = p->length;
    ev->offset = 0;
    ev->data = NULL;
    ev->data_len = 0;
    ev->last = 0;
}

/*
 * A complete header was read. Checks the Length against the type's bounds at once, so a lying
 * Length is caught before any of its value is waited for (RFC 9297 §3.3). Returns 1 when an
 * event was produced, 0 when parsing simply goes on, or a negative error.
 */
static int begin_capsule(masque_capsule_parser *p, uint64_t type, uint64_t length,
                         masque_capsule_event *ev)
{
    masque_capsule_kind kind = masque_capsule_kind_of(p->cfg.profile, type);
    uint64_t min = 0;
    uint64_t max = 0;

    p->type = type;
    p->length = length;
    p->done = 0;
    p->kind = (uint8_t)kind;
    p->header_len = 0;
    switch (kind) {
    case MASQUE_CAPSULE_COMPRESSION_ASSIGN:
        min = MASQUE_COMPRESSION_ASSIGN_VALUE_MIN;
        max = MASQUE_COMPRESSION_ASSIGN_VALUE_MAX;
        break;
    case MASQUE_CAPSULE_COMPRESSION_ACK:
    case MASQUE_CAPSULE_COMPRESSION_CLOSE:
        min = 1;
        max = MASQUE_COMPRESSION_ID_VALUE_MAX;
        break;
    case MASQUE_CAPSULE_DATAGRAM:
        if (length > p->cfg.max_datagram_len) {
            if (p->cfg.oversize != MASQUE_OVERSIZE_DISCARD) {
                return MASQUE_ERR_CAPSULE_LENGTH;
            }
            p->state = PARSE_SKIP;
            event_header(p, ev, MASQUE_CAPSULE_EVENT_DISCARDED);
            return 1;
        }
        p->state = PARSE_DATAGRAM;
        if (length == 0) {
            event_header(p, ev, MASQUE_CAPSULE_EVENT_DATAGRAM);
            ev->last = 1;
            p->state = PARSE_HEADER;
            return 1;
        }
        return 0;
    case MASQUE_CAPSULE_UNKNOWN:
        /* RFC 9297 §3.2: unknown capsules are skipped, whatever their length. */
        p->state = length == 0 ? PARSE_HEADER : PARSE_SKIP;
        event_header(p, ev, MASQUE_CAPSULE_EVENT_UNKNOWN);
        return 1;
    }
    if (length < min || length > max) {
        return MASQUE_ERR_CAPSULE_LENGTH;
    }
    p->state = PARSE_CONTROL;
    return 0;
}

/*
 * Reads header bytes; returns bytes consumed, and sets *complete once Type and Length are in.
 * A header cut by a chunk boundary is gathered in p->header (16 bytes at most).
 */
static size_t read_header(masque_capsule_parser *p, const uint8_t *data, size_t len, uint64_t *type,
                          uint64_t *length, int *complete)
{
    size_t used = 0;

    *complete = 0;
    if (!MASQUE_OPTIMIZE_SIZE && p->header_len == 0) {
        /* Fast path: the whole header is in this chunk, nothing is copied (left out where
         * bytes of code count: the gathering below reads every header too). */
        size_t t = masque_varint_read(data, len, type);
        if (t > 0) {
            size_t l = masque_varint_read(data + t, len - t, length);
            if (l > 0) {
                *complete = 1;
                return t + l;
            }
        }
    }
    while (used < len) {
        size_t type_len;
        size_t total;
        p->header[p->header_len++] = data[used++];
        type_len = masque_varint_len_from_first(p->header[0]);
        if (p->header_len <= type_len) {
            continue;
        }
        total = type_len + masque_varint_len_from_first(p->header[type_len]);
        if (p->header_len == total) {
            (void)masque_varint_read(p->header, type_len, type);
            (void)masque_varint_read(p->header + type_len, total - type_len, length);
            *complete = 1;
            return used;
        }
    }
    return used;
}

/* Produces a CONTROL event whose value is at `value`. */
static void event_control(masque_capsule_parser *p, const uint8_t *value, masque_capsule_event *ev)
{
    event_header(p, ev, MASQUE_CAPSULE_EVENT_CONTROL);
    ev->data = value;
    ev->data_len = (size_t)p->length;
    ev->last = 1;
    p->state = PARSE_HEADER;
}

/*
 * The next piece of a DATAGRAM value (or of a skipped one), at most `left` bytes: returns its
 * size and where in the value it starts; the parser leaves the value (*last) when the piece
 * ends it. Shared by the single-step and the batch paths, so that both cut values the same way.
 */
static size_t value_advance(masque_capsule_parser *p, size_t left, uint64_t *offset, int *last)
{
    uint64_t remaining = p->length - p->done;
    size_t take = remaining < (uint64_t)left ? (size_t)remaining : left;
    *offset = p->done;
    p->done += take;
    *last = p->done == p->length;
    if (*last) {
        p->state = PARSE_HEADER;
    }
    return take;
}

/*
 * A DATAGRAM header (Type 0 in one byte, RFC 9297 §3.5) whole at the start of the input, with
 * a non-empty value within the limit: returns its size, with the parser in the value; or 0 to
 * leave the capsule to parser_step (other kinds, cut headers, empty values, the limits).
 */
static size_t datagram_header_fast(masque_capsule_parser *p, const uint8_t *q, size_t left)
{
    uint64_t length = 0;
    size_t ll;
    if (left < 2 || q[0] != (uint8_t)MASQUE_CAPSULE_TYPE_DATAGRAM) {
        return 0;
    }
    ll = masque_varint_read(q + 1, left - 1, &length);
    if (ll == 0 || length == 0 || length > p->cfg.max_datagram_len) {
        return 0;
    }
    p->type = MASQUE_CAPSULE_TYPE_DATAGRAM;
    p->kind = (uint8_t)MASQUE_CAPSULE_DATAGRAM;
    p->length = length;
    p->done = 0;
    p->state = PARSE_DATAGRAM;
    return 1 + ll;
}

/* One step of the parser, arguments already checked: up to the first event. */
static masque_ssize parser_step(masque_capsule_parser *p, const uint8_t *data, size_t len,
                                masque_capsule_event *ev)
{
    size_t pos = 0;
    ev->event = MASQUE_CAPSULE_EVENT_NONE;
#if !MASQUE_OPTIMIZE_SIZE
    if (p->state == PARSE_HEADER && p->header_len == 0) {
        /* The common capsule, a DATAGRAM with its header whole: straight into its value. */
        pos = datagram_header_fast(p, data, len);
    }
#endif
    while (pos < len) {
        size_t left = len - pos;
        switch (p->state) {
        case PARSE_HEADER: {
            uint64_t type = 0;
            uint64_t length = 0;
            int complete;
            int rc;
            pos += read_header(p, data + pos, left, &type, &length, &complete);
            if (!complete) {
                break;
            }
            rc = begin_capsule(p, type, length, ev);
            if (rc < 0) {
                p->error = rc;
                event_reset(ev);
                return rc;
            }
            if (rc > 0) {
                if (ev->event == MASQUE_CAPSULE_EVENT_DATAGRAM) {
                    ev->data = data + pos; /* an empty value: a valid, non-NULL view */
                }
                return masque_ssize_of(pos);
            }
            break;
        }
        case PARSE_CONTROL: {
            size_t want = (size_t)p->length - (size_t)p->done;
            if (p->done == 0 && left >= want) {
                event_control(p, data + pos, ev); /* contiguous: a view, no copy */
                return masque_ssize_of(pos + want);
            }
            if (want > left) {
                want = left;
            }
            memcpy(p->control + p->done, data + pos, want);
            p->done += want;
            pos += want;
            if (p->done == p->length) {
                event_control(p, p->control, ev);
                return masque_ssize_of(pos);
            }
            break;
        }
        default: { /* PARSE_DATAGRAM, PARSE_SKIP: one advance for both (one copy of it) */
            uint64_t offset;
            int last;
            int skip = p->state == PARSE_SKIP;
            size_t take = value_advance(p, left, &offset, &last);
            if (skip) {
                pos += take;
                break;
            }
            event_header(p, ev, MASQUE_CAPSULE_EVENT_DATAGRAM);
            ev->offset = offset;
            ev->last = last;
            ev->data = data + pos;
            ev->data_len = take;
            return masque_ssize_of(pos + take);
        }
        }
    }
    return masque_ssize_of(pos);
}

masque_ssize masque_capsule_parser_feed(masque_capsule_parser *p, const uint8_t *data, size_t len,
                                        masque_capsule_event *ev)
{
    if (MASQUE_BAD_ARGS(p == NULL || ev == NULL || (data == NULL && len != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    ev->event = MASQUE_CAPSULE_EVENT_NONE;
    if (p->error != 0) {
        return MASQUE_ERR_PARSER_FAILED;
    }
    if (len > (size_t)PTRDIFF_MAX) {
        len = (size_t)PTRDIFF_MAX; /* consume what we can report; the caller loops */
    }
    return parser_step(p, data, len, ev);
}

/* The next DATAGRAM piece, at most `left` bytes at `at`, as a batch piece. */
static void datagram_piece(masque_capsule_parser *p, const uint8_t *at, size_t left,
                           masque_capsule_piece *o)
{
    uint64_t offset;
    int last;
    o->data = at;
    o->len = (uint32_t)value_advance(p, left, &offset, &last);
    o->event = (uint8_t)MASQUE_CAPSULE_EVENT_DATAGRAM;
    o->kind = (uint8_t)MASQUE_CAPSULE_DATAGRAM;
    o->first = (uint8_t)(offset == 0);
    o->last = (uint8_t)last;
    o->length = p->length;
}

masque_ssize masque_capsule_parser_feed_batch(masque_capsule_parser *p, const uint8_t *data,
                                              size_t len, masque_capsule_piece *out, size_t cap,
                                              size_t *count)
{
    size_t pos = 0;
    size_t n = 0;
    if (MASQUE_BAD_ARGS(p == NULL || count == NULL || (data == NULL && len != 0) ||
                        (out == NULL && cap != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    *count = 0;
    if (p->error != 0) {
        return MASQUE_ERR_PARSER_FAILED;
    }
    if (len > (size_t)PTRDIFF_MAX) {
        len = (size_t)PTRDIFF_MAX;
    }
    while (pos < len && n < cap) {
        size_t left = len - pos;
        masque_capsule_event ev;
        masque_ssize r;
        if (left > UINT32_MAX) {
            left = UINT32_MAX; /* a piece's length is 32 bits */
        }
        if (p->state == PARSE_DATAGRAM) {
            /* The hot path: the value, or as much of it as this chunk holds, as a view. */
            datagram_piece(p, data + pos, left, &out[n]);
            pos += out[n++].len;
            continue;
        }
        if (p->state == PARSE_HEADER && p->header_len == 0) {
            size_t used = datagram_header_fast(p, data + pos, left);
            if (used > 0) {
                pos += used;
                continue;
            }
        }
        /* Everything else: control capsules, unknown ones, cut headers, the limits. */
        r = parser_step(p, data + pos, left, &ev);
        if (r < 0) {
            *count = n;
            return r;
        }
        pos += (size_t)r;
        if (ev.event != MASQUE_CAPSULE_EVENT_NONE) {
            masque_capsule_piece *o = &out[n++];
            o->data = ev.data;
            o->len = (uint32_t)ev.data_len;
            o->event = (uint8_t)ev.event;
            o->kind = (uint8_t)ev.kind;
            o->first = (uint8_t)(ev.offset == 0);
            o->last = (uint8_t)(ev.last != 0);
            o->length = ev.length;
            if (ev.data == p->control) {
                break; /* a gathered value lives in the parser: the next one would overwrite it */
            }
        }
    }
    *count = n;
    return masque_ssize_of(pos);
}

int masque_capsule_parser_finish(const masque_capsule_parser *p)
{
    if (MASQUE_BAD_ARGS(p == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (p->error != 0) {
        return p->error;
    }
    if (p->state != PARSE_HEADER || p->header_len != 0) {
        return MASQUE_ERR_STREAM_TRUNCATED; /* RFC 9297 §3.3 */
    }
    return MASQUE_OK;
}
