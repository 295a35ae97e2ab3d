/* SPDX-License-Identifier: GPL-3.0-only */
#include "ctrl_guard.h"

#include "masque/varint.h"

/* Where in the stream the guard is (masque_ctrl_guard.state). */
enum {
    GUARD_STREAM_TYPE = 0, /* the stream type (RFC 9114 §6.2) */
    GUARD_FRAME_TYPE,      /* a frame's Type (RFC 9114 §7.1) */
    GUARD_FRAME_LENGTH,    /* its Length */
    GUARD_ELEMENT_ID,      /* a PRIORITY_UPDATE's Prioritized Element ID (RFC 9218 §7.1) */
    GUARD_PAYLOAD,         /* the rest of a frame's payload */
    GUARD_OFF              /* not the control stream, or not HTTP/3 any more: nothing to guard */
};

/* RFC 9218 §7.1: PRIORITY_UPDATE for a request stream, and for a push stream. */
#define PRIORITY_UPDATE_REQUEST 0xF0700u
#define PRIORITY_UPDATE_PUSH    0xF0701u

/* One byte of a varint (RFC 9000 §16): 1 when the varint is complete, in g->value. */
static int varint_byte(masque_ctrl_guard *g, uint8_t b)
{
    if (g->need == 0) {
        g->need = (uint8_t)masque_varint_len_from_first(b);
        g->value = b & 0x3Fu;
    } else {
        g->value = (g->value << 8) | b;
    }
    g->need--;
    return g->need == 0;
}

/* A complete varint, in the state it belongs to. */
static void varint_done(masque_ctrl_guard *g)
{
    switch (g->state) {
    case GUARD_STREAM_TYPE:
        g->state = g->value == 0 ? GUARD_FRAME_TYPE : GUARD_OFF; /* 0x00: control */
        break;
    case GUARD_FRAME_TYPE:
        g->frame_type = g->value;
        g->state = GUARD_FRAME_LENGTH;
        break;
    case GUARD_FRAME_LENGTH:
        g->left = g->value;
        if (g->left == 0) {
            g->state = GUARD_FRAME_TYPE;
        } else if (g->frame_type == PRIORITY_UPDATE_REQUEST ||
                   g->frame_type == PRIORITY_UPDATE_PUSH) {
            g->state = GUARD_ELEMENT_ID;
        } else {
            g->state = GUARD_PAYLOAD;
        }
        break;
    default: /* GUARD_ELEMENT_ID */
        g->after_id = g->left > 0;
        g->state = g->left > 0 ? GUARD_PAYLOAD : GUARD_FRAME_TYPE;
        break;
    }
}

/* Follows n bytes of the stream. */
static void follow(masque_ctrl_guard *g, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && g->state != GUARD_OFF) {
        if (g->state == GUARD_PAYLOAD) {
            size_t take = g->left < (uint64_t)(n - i) ? (size_t)g->left : n - i;
            i += take;
            g->left -= take;
            g->after_id = 0;
            if (g->left == 0) {
                g->state = GUARD_FRAME_TYPE;
            }
            continue;
        }
        g->after_id = 0;
        if (g->state == GUARD_ELEMENT_ID) {
            if (g->left == 0) {
                g->state = GUARD_OFF; /* an ID longer than its frame: nghttp3 refuses it */
                break;
            }
            g->left--;
        }
        if (varint_byte(g, p[i++])) {
            varint_done(g);
        }
    }
}

void masque_ctrl_guard_split(masque_ctrl_guard *g, const uint8_t *data, size_t len, int fin,
                             masque_ctrl_pieces *out)
{
    masque_ctrl_guard before;
    int had = g->has_held;
    uint8_t held = g->held;
    size_t total = len + (had ? 1u : 0u); /* the held byte, then the new data */
    size_t give = total;
    uint8_t last;

    out->count = 0;
    if (total == 0) {
        return;
    }
    last = len > 0 ? data[len - 1] : held;
    /* Everything but the last byte, then the last byte alone: should it end right after an
     * element ID, the state before it is kept and the byte held back. */
    if (had && len > 0) {
        follow(g, &held, 1);
    }
    follow(g, data, len > 0 ? len - 1 : 0);
    before = *g;
    follow(g, &last, 1);
    g->has_held = 0;
    if (g->after_id) {
        *g = before;
        give = total - 1;
        g->has_held = (uint8_t)(fin ? 0 : 1); /* with FIN: dropped, the connection fails anyway */
        g->held = last;
    }
    if (give == 0) {
        return;
    }
    if (had) {
        out->pair[0] = held;
        out->pair[1] = len > 0 ? data[0] : 0;
        out->data[0] = out->pair;
        out->len[0] = give >= 2 ? 2u : 1u;
        out->count = 1;
        if (give > 2) {
            out->data[1] = data + 1;
            out->len[1] = give - 2;
            out->count = 2;
        }
        return;
    }
    out->data[0] = data;
    out->len[0] = give;
    out->count = 1;
}
