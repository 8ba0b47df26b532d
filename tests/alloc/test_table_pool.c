/* test_table_pool.c — table slots: zero on acquire, limits, exhaustion. */
#include "alloc_test_util.h"

Test(table_pool, cleared_between_holders) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  cfg.table_keep_resident_bytes = 4 * KIB; /* exercise both memset and madvise */
  wp_pool *pool = test_pool(&cfg);
  for (int round = 0; round < 500; round++) {
    wp_table_slot t;
    cr_assert_eq(wp_table_acquire(pool, 16, 4096, &t), 0);
    cr_assert_eq(t.index, 0);
    cr_assert_eq(t.capacity, 4096);
    expect_contents(t.elements, (uint64_t)t.capacity * 8, NULL, "table");
    uint32_t size = round % 2 ? 4096 : 700;
    cr_assert_eq(wp_table_grow(pool, &t, size), 0);
    memset(t.elements, 0xEE, (uint64_t)size * 8);
    wp_table_release(pool, &t);
  }
  wp_pool_destroy(pool);
}

Test(table_pool, limits) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  wp_pool *pool = test_pool(&cfg);
  wp_table_slot t;
  cr_assert_eq(wp_table_acquire(pool, 5000, UINT32_MAX, &t), WP_ELIMIT, "past table_elements");
  cr_assert_eq(wp_table_acquire(pool, 20, 10, &t), WP_ELIMIT, "past the maximum");
  cr_assert_eq(wp_table_acquire(pool, 1, 10, &t), 0);
  cr_assert_eq(t.capacity, 10);
  cr_assert_eq(wp_table_grow(pool, &t, 11), WP_ELIMIT);
  cr_assert_eq(t.size, 1);
  cr_assert_eq(wp_table_grow(pool, &t, 10), 0);
  cr_assert_eq(t.size, 10);
  wp_table_release(pool, &t);
  wp_pool_destroy(pool);
}

Test(table_pool, exhaustion) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  cfg.tables_per_instance = 2;
  wp_pool *pool = test_pool(&cfg);
  wp_table_slot t[4], extra;
  for (int i = 0; i < 4; i++)
    cr_assert_eq(wp_table_acquire(pool, 1, 100, &t[i]), 0);
  wp_pool_stats before, after;
  wp_pool_get_stats(pool, &before);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(wp_table_acquire(pool, 1, 100, &extra), WP_EPOOL_EXHAUSTED);
  wp_pool_get_stats(pool, &after);
  cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
  cr_assert_eq(after.tables.in_use, 4);
  wp_table_release(pool, &t[2]);
  cr_assert_eq(wp_table_acquire(pool, 1, 100, &extra), 0);
  wp_table_release(pool, &extra);
  for (int i = 0; i < 4; i++)
    if (i != 2)
      wp_table_release(pool, &t[i]);
  wp_pool_get_stats(pool, &after);
  cr_assert_eq(after.tables.in_use, 0);
  cr_assert_eq(after.tables.cold, 4);
  wp_pool_destroy(pool);
}
