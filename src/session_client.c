/* SPDX-License-Identifier: GPL-3.0-only */
/* What only a client does (-10 §3-§4): how it answers the proxy's registrations. The checks both
 * roles share are in session.c. */
#include "internal/session.h"

#if MASQUE_ENABLE_SESSION /* config.h */

int masque_sess_client_on_assign(masque_session *s, uint64_t id, const masque_address *target,
                                 const masque_context *ours, uint64_t now)
{
    int reason = 0;
    if (target == NULL) {
        return MASQUE_ERR_UNCOMPRESSED_FROM_PROXY; /* -10 §4: only clients request it */
    }
    if (!masque_sess_responses_fit(s, 1)) {
        return MASQUE_ERR_PENDING_LIMIT; /* -10 §9 */
    }
    if (masque_context_id_retired(&s->table, id)) {
        reason = MASQUE_ERR_CONTEXT_ID_RETIRED; /* -13 §3.3: it may be a reuse */
    } else if (ours != NULL) {
        reason = MASQUE_ERR_DUPLICATE_TUPLE; /* -10 §3.1: the proxy's registration goes */
    } else if (masque_context_uncompressed(&s->table) == NULL) {
        reason = MASQUE_ERR_STATE; /* firewall mode: -10 §3.1, §8.1 */
    } else if (MASQUE_SESS_FAMILY_COMPILED_OUT(target)) {
        reason = MASQUE_ERR_ADDRESS;
    }
    if (reason != 0) {
        return masque_sess_refuse(s, id, target, reason);
    }
    return masque_sess_accept(s, id, target, now);
}

#endif /* MASQUE_ENABLE_SESSION */
