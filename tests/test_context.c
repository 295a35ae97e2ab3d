/* SPDX-License-Identifier: GPL-3.0-only */
/* The context table: caller storage, O(1) indexes, the -10 §3/§4 registration rules. */
#include "testutil.h"

#include <stdlib.h>

#include "internal/context.h"

#define CAP 64

static uint64_t storage[4096];

static void make_table(masque_context_table *t, size_t capacity, uint64_t seed)
{
    size_t need = masque_context_table_storage_size(capacity);
    assert_true(need > 0 && need <= sizeof(storage));
    assert_int_equal(masque_context_table_init(t, storage, need, capacity, seed), MASQUE_OK);
}

static masque_address v4(uint8_t last, uint16_t port)
{
    masque_address a;
    const uint8_t ip[4] = {192, 0, 2, last};
    masque_address_set_v4(&a, ip, port);
    return a;
}

static void test_entry_is_40_bytes_and_storage_is_sized(void **state)
{
    masque_context_table t;
    (void)state;
    assert_true(sizeof(masque_context) <= 40);
    assert_int_equal(masque_context_table_storage_size(0), 0);
    assert_int_equal(masque_context_table_storage_size(MASQUE_CONTEXT_CAPACITY_MAX + 1), 0);
#if MASQUE_ENABLE_CONTEXT_INDEX
    /* 16 entries: 16 * 40 bytes plus two indexes of 32 four-byte slots. */
    assert_int_equal(masque_context_table_storage_size(16), 16 * sizeof(masque_context) + 256);
#else
    /* 16 entries of 40 bytes, no indexes (config.h). */
    assert_int_equal(masque_context_table_storage_size(16), 16 * sizeof(masque_context));
#endif
    assert_int_equal(masque_context_table_init(&t, storage, 10, 16, 0), MASQUE_ERR_BUFFER);
#if MASQUE_ENABLE_ARG_CHECKS /* config.h */
    assert_int_equal(
        masque_context_table_init(&t, (uint8_t *)storage + 1, sizeof(storage) - 1, 16, 0),
        MASQUE_ERR_INVALID_ARGUMENT);
#endif
    assert_int_equal(masque_context_table_init(&t, storage, sizeof(storage), 0, 0),
                     MASQUE_ERR_INVALID_ARGUMENT);
}

/* A constant expression, usable for static storage. */
static uint64_t static_storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(100) / 8];

static void test_storage_macro_is_exact_and_the_capacity_is_what_fits(void **state)
{
    masque_context_table t;
    size_t c;
    (void)state;
    /* 100 entries of 40 bytes and, with the indexes, two of 256 four-byte slots. */
    assert_int_equal(sizeof(static_storage),
                     100 * 40 + (MASQUE_ENABLE_CONTEXT_INDEX ? 2 * 256 * 4 : 0));
    assert_int_equal(masque_context_table_init(&t, static_storage, sizeof(static_storage), 100, 0),
                     MASQUE_OK);
    for (c = 1; c <= 5000; c++) {
        size_t need = masque_context_table_storage_size(c);
        assert_int_equal(need, MASQUE_CONTEXT_TABLE_STORAGE_SIZE(c));
        assert_true(MASQUE_CONTEXT_INDEX_SLOTS(c) >= 2 * c &&
                    MASQUE_CONTEXT_INDEX_SLOTS(c) < 4 * c + 2);
        assert_int_equal(MASQUE_CONTEXT_INDEX_SLOTS(c) & (MASQUE_CONTEXT_INDEX_SLOTS(c) - 1), 0);
        /* Exactly the storage of c entries holds c; a byte less holds fewer. */
        assert_true(masque_context_table_capacity_for(need) >= c);
        assert_true(masque_context_table_capacity_for(need - 1) < c);
        assert_true(masque_context_table_storage_size(masque_context_table_capacity_for(need)) <=
                    need);
    }
    assert_int_equal(MASQUE_CONTEXT_INDEX_SLOTS(MASQUE_CONTEXT_CAPACITY_MAX),
                     2 * MASQUE_CONTEXT_CAPACITY_MAX);
    assert_int_equal(MASQUE_CONTEXT_INDEX_SLOTS(MASQUE_CONTEXT_CAPACITY_MAX + 1), 0);
    assert_int_equal(masque_context_table_capacity_for(0), 0);
    /* One entry and, with the indexes, two slots in each. */
    assert_int_equal(masque_context_table_capacity_for(MASQUE_CONTEXT_TABLE_STORAGE_SIZE(1) - 1),
                     0);
    assert_int_equal(MASQUE_CONTEXT_TABLE_STORAGE_SIZE(1), MASQUE_ENABLE_CONTEXT_INDEX ? 56 : 40);
    assert_int_equal(masque_context_table_capacity_for(MASQUE_CONTEXT_TABLE_STORAGE_SIZE(1)), 1);
}

static void test_insert_and_find_by_id_and_tuple(void **state)
{
    masque_context_table t;
    masque_context *c = NULL;
    masque_address a = v4(1, 443);
    masque_address b = v4(1, 444);
    masque_address got;
    (void)state;
    make_table(&t, CAP, 7);
    assert_int_equal(masque_context_insert(&t, 2, NULL, MASQUE_CONTEXT_PENDING, 0, 5, &c),
                     MASQUE_OK);
    assert_ptr_equal(masque_context_uncompressed(&t), c);
    assert_int_equal(masque_context_insert(&t, 4, &a, MASQUE_CONTEXT_ACTIVE, 0, 5, &c), MASQUE_OK);
    assert_ptr_equal(masque_context_find(&t, 4), c);
    assert_ptr_equal(masque_context_find_tuple(&t, &a), c);
    assert_null(masque_context_find_tuple(&t, &b)); /* same address, other port */
    assert_null(masque_context_find(&t, 6));
    masque_context_target(c, &got);
    assert_true(masque_address_equal(&got, &a));
    assert_true(c->last_active == 5u);
    assert_int_equal(masque_context_open_count(&t), 2);
}

/* The session asks whether any compressed context is open (the uncompressed one does not count)
 * before it looks a tuple up: the answer must agree with the lookup's, as contexts of both kinds
 * open and close around each other. A closed context is never found (BIND-17). */
static void test_BIND_17_BIND_22_compressed_contexts_beside_the_uncompressed_one(void **state)
{
    masque_context_table t;
    masque_context *u = NULL;
    masque_context *c = NULL;
    masque_context *d = NULL;
    masque_address a = v4(1, 443);
    masque_address b = v4(2, 443);
    (void)state;
    make_table(&t, CAP, 7);
    assert_false(masque_context_any_compressed(&t)); /* empty */
    assert_int_equal(masque_context_insert(&t, 2, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, &u),
                     MASQUE_OK);
    assert_false(masque_context_any_compressed(&t)); /* only the uncompressed context */
    assert_int_equal(masque_context_insert(&t, 4, &a, MASQUE_CONTEXT_PENDING, 0, 0, &c), MASQUE_OK);
    assert_true(masque_context_any_compressed(&t)); /* pending is open */
    assert_ptr_equal(masque_context_find_tuple(&t, &a), c);
    assert_null(masque_context_find_tuple(&t, &b));
    masque_context_close(&t, u);
    assert_null(masque_context_uncompressed(&t));
    assert_true(masque_context_any_compressed(&t)); /* alone, without the other */
    assert_ptr_equal(masque_context_find_tuple(&t, &a), c);
    assert_int_equal(masque_context_insert(&t, 6, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, &u),
                     MASQUE_OK); /* BIND-22: re-opened with a new ID */
    assert_true(masque_context_any_compressed(&t));
    masque_context_close(&t, c);
    assert_false(masque_context_any_compressed(&t));
    assert_null(masque_context_find_tuple(&t, &a)); /* BIND-17 */
    assert_int_equal(masque_context_insert(&t, 8, &b, MASQUE_CONTEXT_ACTIVE, 0, 0, &d), MASQUE_OK);
    assert_true(masque_context_any_compressed(&t));
    assert_ptr_equal(masque_context_find_tuple(&t, &b), d);
    assert_null(masque_context_find_tuple(&t, &a));
    assert_ptr_equal(masque_context_uncompressed(&t), u);
}

static void test_BIND_10_UDP_9_BIND_31_repeated_context_id_is_refused_even_after_close(void **state)
{
    masque_context_table t;
    masque_context *c = NULL;
    masque_address a = v4(1, 443);
    masque_address b = v4(2, 443);
    (void)state;
    make_table(&t, CAP, 7);
    assert_int_equal(masque_context_insert(&t, 3, &a, MASQUE_CONTEXT_ACTIVE, 1, 0, &c), MASQUE_OK);
    assert_int_equal(masque_context_insert(&t, 3, &b, MASQUE_CONTEXT_ACTIVE, 1, 0, NULL),
                     MASQUE_ERR_DUPLICATE_CONTEXT_ID);
    masque_context_close(&t, c);
    assert_int_equal(c->state, MASQUE_CONTEXT_CLOSED);
    assert_null(masque_context_find_tuple(&t, &a)); /* the tuple is free again */
    /* UDP-9 / BIND-31: the closed ID itself is never accepted again. */
    assert_int_equal(masque_context_insert(&t, 3, &b, MASQUE_CONTEXT_ACTIVE, 1, 0, NULL),
                     MASQUE_ERR_DUPLICATE_CONTEXT_ID);
    assert_int_equal(masque_context_insert(&t, 5, &a, MASQUE_CONTEXT_ACTIVE, 1, 0, NULL),
                     MASQUE_OK);
}

static void test_BIND_14_second_context_for_an_open_tuple_is_refused(void **state)
{
    masque_context_table t;
    masque_address a = v4(1, 443);
    (void)state;
    make_table(&t, CAP, 7);
    assert_int_equal(masque_context_insert(&t, 3, &a, MASQUE_CONTEXT_ACTIVE, 1, 0, NULL),
                     MASQUE_OK);
    assert_int_equal(masque_context_insert(&t, 4, &a, MASQUE_CONTEXT_PENDING, 0, 0, NULL),
                     MASQUE_ERR_DUPLICATE_TUPLE);
    assert_null(masque_context_find(&t, 4)); /* unchanged */
    assert_int_equal(masque_context_open_count(&t), 1);
}

static void test_BIND_22_only_one_uncompressed_context_open(void **state)
{
    masque_context_table t;
    masque_context *c = NULL;
    (void)state;
    make_table(&t, CAP, 7);
    assert_int_equal(masque_context_insert(&t, 2, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, &c),
                     MASQUE_OK);
    assert_int_equal(masque_context_insert(&t, 4, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_ERR_SECOND_UNCOMPRESSED);
    masque_context_close(&t, c);
    assert_null(masque_context_uncompressed(&t));
    /* Re-opening under a new ID after the close is allowed (-10 §4). */
    assert_int_equal(masque_context_insert(&t, 4, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_OK);
}

static void test_BIND_8_context_id_zero_is_never_registered(void **state)
{
    masque_context_table t;
    masque_address bad = v4(1, 1);
    (void)state;
    make_table(&t, CAP, 7);
    assert_int_equal(masque_context_insert(&t, 0, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_ERR_CONTEXT_ID_ZERO);
    bad.version = 5;
    assert_int_equal(masque_context_insert(&t, 2, &bad, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_ERR_ADDRESS);
#if MASQUE_ENABLE_ARG_CHECKS /* config.h: a state no caller may ask for */
    assert_int_equal(masque_context_insert(&t, 2, NULL, MASQUE_CONTEXT_CLOSED, 0, 0, NULL),
                     MASQUE_ERR_INVALID_ARGUMENT);
#endif
}

static void test_full_table_reports_and_recycles_oldest_closed_first(void **state)
{
    masque_context_table t;
    masque_context *c[4];
    masque_address a;
    size_t i;
    (void)state;
    make_table(&t, 4, 1);
    for (i = 0; i < 4; i++) {
        a = v4((uint8_t)i, 1);
        assert_int_equal(
            masque_context_insert(&t, 2 * i + 2, &a, MASQUE_CONTEXT_ACTIVE, 0, 0, &c[i]),
            MASQUE_OK);
    }
    a = v4(9, 1);
    assert_int_equal(masque_context_insert(&t, 10, &a, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_ERR_TABLE_FULL);
    assert_null(masque_context_find(&t, 10));
    masque_context_close(&t, c[2]); /* ID 6 */
    masque_context_close(&t, c[0]); /* ID 2 */
    assert_int_equal(masque_context_insert(&t, 10, &a, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_OK);
    assert_null(masque_context_find(&t, 6)); /* the oldest tombstone went */
    assert_non_null(masque_context_find(&t, 2));
    a = v4(10, 1);
    assert_int_equal(masque_context_insert(&t, 12, &a, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_OK);
    assert_null(masque_context_find(&t, 2));
    assert_int_equal(masque_context_open_count(&t), 4);
}

/* A plain model of the table to check the hash indexes against. */
typedef struct model_entry {
    uint64_t id;
    masque_address tuple;
    int open;
    int used;
} model_entry;

static void test_random_operations_agree_with_a_linear_model(void **state)
{
    static model_entry model[512];
    size_t nmodel = 0;
    masque_context_table t;
    test_rng rng = {TEST_SEED};
    int step;
    (void)state;
    make_table(&t, 48, 0); /* seed 0, small ports: many collisions */
    for (step = 0; step < 20000; step++) {
        uint64_t op = rng_next(&rng) % 3u;
        masque_address a = v4((uint8_t)(rng_next(&rng) % 4u), (uint16_t)(rng_next(&rng) % 16u));
        uint64_t id = 1u + rng_next(&rng) % 400u;
        size_t i;
        model_entry *hit_id = NULL;
        model_entry *hit_tuple = NULL;
        masque_context *c;
        for (i = 0; i < nmodel; i++) {
            if (model[i].used && model[i].id == id) {
                hit_id = &model[i];
            }
            if (model[i].used && model[i].open && masque_address_equal(&model[i].tuple, &a)) {
                hit_tuple = &model[i];
            }
        }
        c = masque_context_find(&t, id);
        if (hit_id != NULL && c != NULL) {
            assert_int_equal(c->state == MASQUE_CONTEXT_CLOSED, !hit_id->open);
        }
        if (hit_id != NULL && hit_id->open) {
            assert_non_null(c); /* open contexts are never forgotten */
        }
        if (hit_id == NULL) {
            assert_null(c);
        }
        c = masque_context_find_tuple(&t, &a);
        assert_int_equal(c != NULL, hit_tuple != NULL);
        if (c != NULL) {
            assert_true(c->id == hit_tuple->id);
        }
        if (op < 2u) {
            int rc = masque_context_insert(&t, id, &a, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL);
            if (rc == MASQUE_OK) {
                assert_null(hit_tuple);
                assert_true(nmodel < 512);
                /* Recycled tombstones disappear from the model when the table drops them. */
                model[nmodel].id = id;
                model[nmodel].tuple = a;
                model[nmodel].open = 1;
                model[nmodel].used = 1;
                nmodel++;
            } else {
                assert_true(rc == MASQUE_ERR_DUPLICATE_CONTEXT_ID ||
                            rc == MASQUE_ERR_DUPLICATE_TUPLE || rc == MASQUE_ERR_TABLE_FULL ||
                            rc == MASQUE_ERR_CONTEXT_ID_RETIRED);
            }
        } else if (hit_tuple != NULL) {
            masque_context_close(&t, masque_context_find(&t, hit_tuple->id));
            hit_tuple->open = 0;
        }
        /* Forget model tombstones that the table recycled. */
        for (i = 0; i < nmodel; i++) {
            if (model[i].used && !model[i].open && masque_context_find(&t, model[i].id) == NULL) {
                model[i].used = 0;
            }
        }
        if (nmodel == 512) {
            size_t j = 0;
            for (i = 0; i < nmodel; i++) {
                if (model[i].used) {
                    model[j++] = model[i];
                }
            }
            nmodel = j;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_is_40_bytes_and_storage_is_sized),
        cmocka_unit_test(test_storage_macro_is_exact_and_the_capacity_is_what_fits),
        cmocka_unit_test(test_insert_and_find_by_id_and_tuple),
        cmocka_unit_test(test_BIND_17_BIND_22_compressed_contexts_beside_the_uncompressed_one),
        cmocka_unit_test(
            test_BIND_10_UDP_9_BIND_31_repeated_context_id_is_refused_even_after_close),
        cmocka_unit_test(test_BIND_14_second_context_for_an_open_tuple_is_refused),
        cmocka_unit_test(test_BIND_22_only_one_uncompressed_context_open),
        cmocka_unit_test(test_BIND_8_context_id_zero_is_never_registered),
        cmocka_unit_test(test_full_table_reports_and_recycles_oldest_closed_first),
        cmocka_unit_test(test_random_operations_agree_with_a_linear_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
