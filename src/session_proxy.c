/* SPDX-License-Identifier: GPL-3.0-only */
/* What only a proxy does (-10 §3-§4, §9): how it answers the client's registrations (policy,
 * limits, a rate), and which targets of uncompressed datagrams it lets through. The checks both
 * roles share are in session.c. */
#include "internal/session.h"

#if MASQUE_ENABLE_PROXY /* config.h */

int masque_sess_proxy_allows(const masque_session *s, const masque_address *t)
{
    if (MASQUE_SESS_FAMILY_COMPILED_OUT(t) || !masque_sess_family_advertised(s, t)) {
        return 0; /* not in this build, or no public address of that family (-10 §7) */
    }
#if MASQUE_ENABLE_POLICY
    return masque_policy_check(s->cfg.policy, s->cfg.user, t) == MASQUE_OK;
#else
    return 1; /* compiled out: the host filters targets itself (config.h) */
#endif
}

/* The token bucket on the client's ASSIGNs; 1 when one may be accepted now. */
static int take_assign_token(masque_session *s, uint64_t now)
{
    uint64_t cap = (uint64_t)s->cfg.assign_burst * 1000u;
    uint64_t rate = s->cfg.assign_rate; /* tokens per second = millitokens per ms */
    uint64_t elapsed = now > s->bucket_time ? now - s->bucket_time : 0;
    uint64_t added;

    if (rate == 0) {
        return 1;
    }
    /* Both factors below 2^32, so the product fits; no 64-bit division (firmware). */
    if (elapsed > 0xFFFFFFFFu) {
        elapsed = 0xFFFFFFFFu;
    }
    added = elapsed * rate;
    if (added >= cap - s->bucket_millitokens) {
        s->bucket_millitokens = cap;
    } else {
        s->bucket_millitokens += added;
    }
    s->bucket_time = now;
    if (s->bucket_millitokens < 1000u) {
        return 0;
    }
    s->bucket_millitokens -= 1000u;
    return 1;
}

/* Why a valid ASSIGN is refused (0: accept). Reads state, changes nothing. */
static int refusal_reason(const masque_session *s, uint64_t id, const masque_address *target)
{
    size_t limit = s->cfg.max_peer_contexts != 0 ? s->cfg.max_peer_contexts
                                                 : masque_context_table_capacity(&s->table);
    if (masque_context_id_retired(&s->table, id)) {
        return MASQUE_ERR_CONTEXT_ID_RETIRED; /* -13 §3.3: it may be a reuse */
    }
    if (target != NULL && !masque_sess_family_advertised(s, target)) {
        return MASQUE_ERR_FAMILY_NOT_ADVERTISED; /* -10 §7: no public address of it */
    }
    if (target != NULL && !masque_sess_proxy_allows(s, target)) {
        return MASQUE_ERR_POLICY; /* -10 §9, -13 §9 */
    }
    if (s->peer_open >= limit) {
        return MASQUE_ERR_TABLE_FULL; /* -13 §9: a limit on open contexts */
    }
    return 0;
}

int masque_sess_proxy_on_assign(masque_session *s, uint64_t id, const masque_address *target,
                                masque_context *ours, uint64_t now)
{
    int reason;
    if (target == NULL && masque_context_uncompressed(&s->table) != NULL) {
        return MASQUE_ERR_SECOND_UNCOMPRESSED; /* -10 §4 */
    }
    reason = refusal_reason(s, id, target);
    /* -10 §9: accepting over our own registration takes two responses (CLOSE and ACK). */
    if (!masque_sess_responses_fit(s, (reason == 0 && ours != NULL) ? 2u : 1u)) {
        return MASQUE_ERR_PENDING_LIMIT;
    }
    if (reason == 0 && !take_assign_token(s, now)) {
        reason = MASQUE_ERR_RATE_LIMITED;
    }
    if (reason != 0) {
        return masque_sess_refuse(s, id, target, reason);
    }
    if (ours != NULL) {
        masque_sess_close_ours(s, ours);
    }
    return masque_sess_accept(s, id, target, now);
}

#endif /* MASQUE_ENABLE_PROXY */
