/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/error.h"

const char *masque_strerror(int code)
{
    switch (code) {
    case MASQUE_OK:
        return "success";
    case MASQUE_ERR_NEED_MORE:
        return "need more input";
    case MASQUE_ERR_BUFFER:
        return "output buffer too small";
    case MASQUE_ERR_VARINT_RANGE:
        return "value above 2^62-1";
    case MASQUE_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    case MASQUE_ERR_TRUNCATED:
        return "truncated";
    case MASQUE_ERR_TRAILING_BYTES:
        return "trailing bytes after the last field";
    case MASQUE_ERR_CAPSULE_LENGTH:
        return "capsule length not allowed for its type";
    case MASQUE_ERR_CONTEXT_ID_ZERO:
        return "context ID 0 not allowed";
    case MASQUE_ERR_IP_VERSION:
        return "invalid IP version";
    case MASQUE_ERR_STREAM_TRUNCATED:
        return "stream ended inside a capsule";
    case MASQUE_ERR_QUARTER_STREAM_ID:
        return "quarter stream ID above 2^60-1";
    case MASQUE_ERR_STREAM_ID:
        return "not a client-initiated bidirectional stream";
    case MASQUE_ERR_PAYLOAD_TOO_LARGE:
        return "UDP payload above 65527 bytes";
    case MASQUE_ERR_UNSUPPORTED:
        return "not supported by the codepoint profile";
    case MASQUE_ERR_PARSER_FAILED:
        return "parser already failed";
    case MASQUE_ERR_ADDRESS:
        return "invalid address";
    default:
        return "unknown error";
    }
}
