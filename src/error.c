/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/error.h"

const char *masque_strerror(int code)
{
#if !MASQUE_ENABLE_ERROR_TEXT
    (void)code;
    return "masque error"; /* texts compiled out (config.h) */
#else
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
    case MASQUE_ERR_TABLE_FULL:
        return "context table full";
    case MASQUE_ERR_DUPLICATE_CONTEXT_ID:
        return "context ID already registered";
    case MASQUE_ERR_DUPLICATE_TUPLE:
        return "tuple already registered by the peer";
    case MASQUE_ERR_CONTEXT_PARITY:
        return "context ID parity wrong for the peer's role";
    case MASQUE_ERR_UNCOMPRESSED_FROM_PROXY:
        return "uncompressed context assigned by the proxy";
    case MASQUE_ERR_SECOND_UNCOMPRESSED:
        return "second uncompressed context";
    case MASQUE_ERR_UNKNOWN_ACK:
        return "acknowledgement for a context ID never assigned";
    case MASQUE_ERR_CONTEXT_ID_EXHAUSTED:
        return "context IDs exhausted";
    case MASQUE_ERR_QUEUE_FULL:
        return "no room to send";
    case MASQUE_ERR_PENDING_LIMIT:
        return "too many compression responses pending";
    case MASQUE_ERR_UNREACHABLE:
        return "no context reaches the target";
    case MASQUE_ERR_STATE:
        return "not valid in this role or state";
    case MASQUE_ERR_SESSION_FAILED:
        return "session failed";
    case MASQUE_ERR_POLICY:
        return "target refused by policy";
    case MASQUE_ERR_UNKNOWN_CONTEXT:
        return "unknown context ID";
    case MASQUE_ERR_TEMPLATE:
        return "invalid URI template";
    case MASQUE_ERR_BAD_REQUEST:
        return "malformed request";
    case MASQUE_ERR_BAD_RESPONSE:
        return "response does not enable bind";
    case MASQUE_ERR_FIELD:
        return "invalid structured field";
    case MASQUE_ERR_FAMILY_NOT_ADVERTISED:
        return "address family not advertised by the proxy";
    case MASQUE_ERR_RATE_LIMITED:
        return "rate limited";
    case MASQUE_ERR_CONTEXT_ID_RETIRED:
        return "context ID may have been used before";
    case MASQUE_ERR_DATAGRAM_TRUNCATED:
        return "HTTP/3 datagram too short for its quarter stream ID";
    case MASQUE_ERR_H3_SETTINGS:
        return "invalid SETTINGS_H3_DATAGRAM";
    case MASQUE_ERR_ABI:
        return "header and library do not match";
    case MASQUE_ERR_UNAUTHORIZED:
        return "no valid credentials for the proxy";
    default:
        return "unknown error";
    }
#endif
}

uint64_t masque_h3_error_for(int code)
{
    switch (code) {
    case MASQUE_ERR_QUARTER_STREAM_ID:
    case MASQUE_ERR_DATAGRAM_TRUNCATED:
    case MASQUE_ERR_PAYLOAD_TOO_LARGE:
        return MASQUE_H3_DATAGRAM_ERROR; /* RFC 9297 §2.1; RFC 9298 §5 */
    case MASQUE_ERR_TRUNCATED:
    case MASQUE_ERR_TRAILING_BYTES:
    case MASQUE_ERR_CAPSULE_LENGTH:
    case MASQUE_ERR_CONTEXT_ID_ZERO:
    case MASQUE_ERR_IP_VERSION:
    case MASQUE_ERR_STREAM_TRUNCATED:
    case MASQUE_ERR_PARSER_FAILED:
    case MASQUE_ERR_DUPLICATE_CONTEXT_ID:
    case MASQUE_ERR_DUPLICATE_TUPLE:
    case MASQUE_ERR_CONTEXT_PARITY:
    case MASQUE_ERR_UNCOMPRESSED_FROM_PROXY:
    case MASQUE_ERR_SECOND_UNCOMPRESSED:
    case MASQUE_ERR_UNKNOWN_ACK:
        return MASQUE_H3_MESSAGE_ERROR; /* RFC 9297 §3.3: malformed capsule stream */
    case MASQUE_ERR_PENDING_LIMIT:
        return MASQUE_H3_EXCESSIVE_LOAD; /* -10 §9: the peer does not read our responses */
    case MASQUE_ERR_H3_SETTINGS:
        return MASQUE_H3_SETTINGS_ERROR; /* RFC 9297 §2.1.1 */
    default:
        return MASQUE_H3_INTERNAL_ERROR; /* local, or not ours: never blame the peer */
    }
}

masque_error_class masque_error_class_of(int code)
{
    if (code >= 0) {
        return MASQUE_ERROR_CLASS_NONE;
    }
    if (masque_h3_error_for(code) != MASQUE_H3_INTERNAL_ERROR || code == MASQUE_ERR_BAD_REQUEST ||
        code == MASQUE_ERR_BAD_RESPONSE || code == MASQUE_ERR_FIELD ||
        code == MASQUE_ERR_UNAUTHORIZED) {
        /* Everything with a wire code of its own is the peer's, and so are bad messages. */
        return code == MASQUE_ERR_PARSER_FAILED ? MASQUE_ERROR_CLASS_FATAL
                                                : MASQUE_ERROR_CLASS_PEER;
    }
    switch (code) {
    case MASQUE_ERR_NEED_MORE:
    case MASQUE_ERR_BUFFER:
    case MASQUE_ERR_QUEUE_FULL:
    case MASQUE_ERR_RATE_LIMITED:
        return MASQUE_ERROR_CLASS_TRANSIENT;
    case MASQUE_ERR_SESSION_FAILED:
        return MASQUE_ERROR_CLASS_FATAL;
    default:
        return MASQUE_ERROR_CLASS_LOCAL;
    }
}
