/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The count of requests that the workers of one port share (src/adapter/ngtcp2/quota_share.h):
 * each identity's requests counted up to its quota, as many identities as the share has room
 * for, every identity still found after others left (backward-shift deletion, across the end of
 * the table too), and one count for processes forked after the share was made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter/ngtcp2/open_table.h"
#include "adapter/ngtcp2/quota_share.h"

#define SEED 0x5EED5EED5EED5EEDu
#define T0   1000000000000u       /* ns: a clock reading; the tests move it on from here */
#define MS   ((uint64_t)1000000u) /* ns */

static void test_a_share_is_made_for_1_to_a_million_identities(void **state)
{
    (void)state;
    assert_null(masque_quota_share_new_seeded(0, SEED));
    assert_null(masque_quic_quota_share_new(MASQUE_QUOTA_SHARE_IDENTITIES_MAX + 1));
    masque_quic_quota_share_free(NULL);
}

static void test_a_share_counts_an_identitys_requests_up_to_its_quota(void **state)
{
    masque_quic_quota_share *s = masque_quic_quota_share_new(1);
    (void)state;
    assert_non_null(s);
    assert_int_equal(masque_quota_share_take(s, "token alice", 0, T0), 0); /* a quota of none */
    assert_int_equal(masque_quota_share_held(s, "token alice"), 0);
    assert_int_equal(masque_quota_share_take(s, "token alice", 2, T0), 1);
    assert_int_equal(masque_quota_share_take(s, "token alice", 2, T0), 1);
    assert_int_equal(masque_quota_share_take(s, "token alice", 2, T0), 0);
    assert_int_equal(masque_quota_share_held(s, "token alice"), 2);
    masque_quota_share_give(s, "token alice", T0);
    assert_int_equal(masque_quota_share_held(s, "token alice"), 1);
    assert_int_equal(masque_quota_share_take(s, "token alice", 2, T0), 1);
    masque_quota_share_give(s, "token alice", T0);
    masque_quota_share_give(s, "token alice", T0);
    masque_quota_share_give(s, "token alice", T0); /* one more than it held: nothing */
    assert_int_equal(masque_quota_share_held(s, "token alice"), 0);
    masque_quic_quota_share_free(s);
}

/* 3 asked for: 8 slots, at most 4 used. */
static void test_a_share_holds_as_many_identities_as_it_has_room_for(void **state)
{
    static const char *const names[] = {"a", "b", "c", "d", "e"};
    masque_quic_quota_share *s = masque_quota_share_new_seeded(3, SEED);
    size_t k;
    (void)state;
    assert_non_null(s);
    for (k = 0; k < 4; k++) {
        assert_int_equal(masque_quota_share_take(s, names[k], 1, T0), 1);
    }
    assert_int_equal(masque_quota_share_take(s, names[4], 1, T0), -1); /* no room */
    assert_int_equal(masque_quota_share_take(s, names[4], 0, T0), 0);  /* no quota first */
    assert_int_equal(masque_quota_share_held(s, names[4]), 0);
    masque_quota_share_give(s, names[1], T0);
    assert_int_equal(masque_quota_share_take(s, names[4], 1, T0), 1);
    for (k = 0; k < 5; k++) {
        assert_int_equal(masque_quota_share_held(s, names[k]), k == 1 ? 0 : 1);
    }
    masque_quic_quota_share_free(s);
}

/* A name whose home slot is `home` in a table of `slots` under SEED, written into `name`. */
static void name_at(char *name, size_t size, size_t home, size_t slots, unsigned *next)
{
    do {
        (void)snprintf(name, size, "203.0.113.%u", (*next)++);
    } while ((masque_name_hash(SEED, name) & (slots - 1)) != home);
}

/* Three names homed at the last of 8 slots and one homed at the first: they sit at 7, 0, 1
 * and 2. Each removal must move the rest of the cluster back across the end of the table, but
 * no entry before its home, or the ones after it are lost (a second request of theirs would be
 * counted as a first). */
static void test_identities_after_one_that_left_are_still_found_across_the_end(void **state)
{
    char names[4][32];
    unsigned next = 0;
    masque_quic_quota_share *s = masque_quota_share_new_seeded(4, SEED);
    size_t k;
    (void)state;
    assert_non_null(s);
    name_at(names[0], sizeof(names[0]), 7, 8, &next);
    name_at(names[1], sizeof(names[1]), 7, 8, &next);
    name_at(names[2], sizeof(names[2]), 0, 8, &next);
    name_at(names[3], sizeof(names[3]), 7, 8, &next);
    for (k = 0; k < 4; k++) {
        assert_int_equal(masque_quota_share_take(s, names[k], 1, T0), 1);
    }
    masque_quota_share_give(s, names[0], T0); /* names[1] back to 7, names[2] to 0, names[3] to 1 */
    assert_int_equal(masque_quota_share_take(s, names[1], 1, T0), 0);
    assert_int_equal(masque_quota_share_take(s, names[2], 1, T0), 0);
    assert_int_equal(masque_quota_share_take(s, names[3], 1, T0), 0);
    masque_quota_share_give(s, names[2], T0); /* names[3] to 0 */
    assert_int_equal(masque_quota_share_held(s, names[3]), 1);
    masque_quota_share_give(s, names[1], T0); /* names[3] to 7 */
    assert_int_equal(masque_quota_share_held(s, names[3]), 1);
    assert_int_equal(masque_quota_share_take(s, names[3], 1, T0), 0);
    masque_quota_share_give(s, names[3], T0);
    for (k = 0; k < 4; k++) {
        assert_int_equal(masque_quota_share_held(s, names[k]), 0);
    }
    /* One homed at the last slot, one at the first: the second is at home and stays there when
     * the first leaves. */
    assert_int_equal(masque_quota_share_take(s, names[0], 1, T0), 1);
    assert_int_equal(masque_quota_share_take(s, names[2], 1, T0), 1);
    masque_quota_share_give(s, names[0], T0);
    assert_int_equal(masque_quota_share_held(s, names[2]), 1);
    masque_quic_quota_share_free(s);
}

/* Identities that come and go at random, against a plain count of each: every count agrees
 * after every step (xorshift, fixed seed: the same run each time). */
static void test_a_share_agrees_with_a_plain_count_while_identities_come_and_go(void **state)
{
    enum { NAMES = 48, QUOTA = 3, STEPS = 20000 };
    size_t model[NAMES] = {0};
    size_t used = 0;
    uint32_t x = 2463534242u;
    masque_quic_quota_share *s = masque_quota_share_new_seeded(16, SEED); /* 32 slots */
    int step;
    (void)state;
    assert_non_null(s);
    for (step = 0; step < STEPS; step++) {
        char name[16];
        size_t k;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        k = x % NAMES;
        (void)snprintf(name, sizeof(name), "id-%zu", k);
        if ((x >> 8) % 2 == 0) {
            int expect = model[k] > 0 ? model[k] < QUOTA : (used < 16 ? 1 : -1);
            assert_int_equal(masque_quota_share_take(s, name, QUOTA, T0), expect);
            used += expect == 1 && model[k] == 0;
            model[k] += expect == 1;
        } else {
            masque_quota_share_give(s, name, T0);
            used -= model[k] == 1;
            model[k] -= model[k] > 0;
        }
        for (k = 0; k < NAMES; k++) {
            (void)snprintf(name, sizeof(name), "id-%zu", k);
            assert_int_equal(masque_quota_share_held(s, name), model[k]);
        }
    }
    masque_quic_quota_share_free(s);
}

/* What a lease of `want` datagrams and bytes of `name` at `now` gives (rates 100/s, 10 000 B/s). */
static void lease(masque_quic_quota_share *s, const char *name, uint64_t now, double want,
                  double *datagrams, double *bytes)
{
    static const masque_quota_rates rates = {100.0, 10000.0};
    *datagrams = 0.0;
    *bytes = 0.0;
    masque_quota_share_lease(s, name, now, &rates, want, want * 100, datagrams, bytes);
}

/* Both buckets start full (a second's worth), give what they hold at most, and refill at
 * their rate up to a second's worth. An identity that holds no request has none. */
static void test_shared_buckets_start_full_and_refill_at_their_rate(void **state)
{
    masque_quic_quota_share *s = masque_quota_share_new_seeded(2, SEED);
    double datagrams;
    double bytes;
    (void)state;
    assert_non_null(s);
    lease(s, "token carol", T0, 10, &datagrams, &bytes);
    assert_true(datagrams == 0.0 && bytes == 0.0); /* no request: no buckets */
    assert_int_equal(masque_quota_share_take(s, "token carol", 1, T0), 1);
    lease(s, "token carol", T0, 10, &datagrams, &bytes);
    assert_true(datagrams == 10.0 && bytes == 1000.0);
    lease(s, "token carol", T0, 1000, &datagrams, &bytes);
    assert_true(datagrams == 90.0 && bytes == 9000.0); /* the rest of a second's worth */
    lease(s, "token carol", T0 + 250 * MS, 1000, &datagrams, &bytes);
    assert_true(datagrams == 25.0 && bytes == 2500.0); /* a quarter second's refill */
    lease(s, "token carol", T0 + 5000 * MS, 1000, &datagrams, &bytes);
    assert_true(datagrams == 100.0 && bytes == 10000.0); /* full at most */
    /* A worker whose clock reading came before the last lease: nothing refilled, and the next
     * refill still counts from the later lease. */
    lease(s, "token carol", T0 + 4900 * MS, 1000, &datagrams, &bytes);
    assert_true(datagrams == 0.0 && bytes == 0.0);
    lease(s, "token carol", T0 + 5100 * MS, 1000, &datagrams, &bytes);
    assert_true(datagrams == 10.0 && bytes == 1000.0);
    masque_quic_quota_share_free(s);
}

/* An identity that ends its last request while its buckets are short keeps them until they are
 * full (a second after its last lease): a new request does not refill them early. Its slot
 * then counts against the room (masque_quic_quota_share_count() says so) until a later
 * newcomer's sweep frees it. */
static void test_ending_a_request_does_not_refill_the_buckets(void **state)
{
    static const char *const others[] = {"b", "c", "d", "e"};
    masque_quic_quota_share *s = masque_quota_share_new_seeded(3, SEED); /* room for 4 */
    double datagrams;
    double bytes;
    size_t taken;
    size_t keeping;
    size_t room;
    size_t k;
    (void)state;
    assert_non_null(s);
    assert_int_equal(masque_quota_share_take(s, "a", 1, T0), 1);
    lease(s, "a", T0, 1000, &datagrams, &bytes);
    assert_true(datagrams == 100.0);
    masque_quota_share_give(s, "a", T0 + 100 * MS);
    assert_int_equal(masque_quota_share_held(s, "a"), 0);
    assert_int_equal(masque_quota_share_take(s, "a", 1, T0 + 200 * MS), 1);
    lease(s, "a", T0 + 200 * MS, 1000, &datagrams, &bytes);
    assert_true(datagrams == 20.0 && bytes == 2000.0); /* only what 200 ms refilled */
    masque_quota_share_give(s, "a", T0 + 300 * MS);
    for (k = 0; k < 3; k++) {
        assert_int_equal(masque_quota_share_take(s, others[k], 1, T0 + 300 * MS), 1);
    }
    assert_int_equal(masque_quic_quota_share_count(s, &taken, &keeping, &room), 0);
    assert_true(taken == 4 && keeping == 1 && room == 4);
    assert_int_equal(masque_quic_quota_share_count(NULL, &taken, &keeping, &room), -1);
    /* "a" still takes room: its buckets are full only at T0 + 1200 ms. */
    assert_int_equal(masque_quota_share_take(s, others[3], 1, T0 + 1100 * MS), -1);
    assert_int_equal(masque_quota_share_take(s, others[3], 1, T0 + 1150 * MS), -1); /* swept */
    assert_int_equal(masque_quota_share_take(s, others[3], 1, T0 + 1200 * MS), 1);
    for (k = 0; k < 4; k++) {
        assert_int_equal(masque_quota_share_held(s, others[k]), 1);
    }
    assert_int_equal(masque_quic_quota_share_count(s, &taken, &keeping, &room), 0);
    assert_true(taken == 4 && keeping == 0);
    /* "a" was forgotten with full buckets, and starts full. */
    masque_quota_share_give(s, others[0], T0 + 1200 * MS); /* never leased: freed at once */
    assert_int_equal(masque_quota_share_take(s, "a", 1, T0 + 1200 * MS), 1);
    lease(s, "a", T0 + 1200 * MS, 1000, &datagrams, &bytes);
    assert_true(datagrams == 100.0);
    masque_quic_quota_share_free(s);
}

/* Workers are forked after the share is made: what one counts, the others see. */
static void test_processes_forked_after_the_share_count_together(void **state)
{
    masque_quic_quota_share *s = masque_quic_quota_share_new(2);
    int status = 0;
    pid_t child;
    (void)state;
    assert_non_null(s);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        _exit(masque_quota_share_take(s, "token bob", 1, T0) == 1 ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(masque_quota_share_held(s, "token bob"), 1);
    assert_int_equal(masque_quota_share_take(s, "token bob", 1, T0), 0);
    masque_quic_quota_share_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_share_is_made_for_1_to_a_million_identities),
        cmocka_unit_test(test_a_share_counts_an_identitys_requests_up_to_its_quota),
        cmocka_unit_test(test_a_share_holds_as_many_identities_as_it_has_room_for),
        cmocka_unit_test(test_identities_after_one_that_left_are_still_found_across_the_end),
        cmocka_unit_test(test_a_share_agrees_with_a_plain_count_while_identities_come_and_go),
        cmocka_unit_test(test_shared_buckets_start_full_and_refill_at_their_rate),
        cmocka_unit_test(test_ending_a_request_does_not_refill_the_buckets),
        cmocka_unit_test(test_processes_forked_after_the_share_count_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
