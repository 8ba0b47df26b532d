/* test_instance_pool.c — instance areas: zero on acquire, exhaustion. */
#include "alloc_test_util.h"

Test(instance_pool, cleared_between_holders) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  wp_pool *pool = test_pool(&cfg);
  for (int round = 0; round < 500; round++) {
    wp_instance_slot s;
    cr_assert_eq(wp_instance_slot_acquire(pool, &s), 0);
    cr_assert_eq(s.area_bytes, cfg.max_instance_bytes);
    expect_contents(s.area, s.area_bytes, NULL, "instance area");
    uint64_t used = round % 3 == 0 ? s.area_bytes : (uint64_t)(round * 97 % 70000) + 1;
    memset(s.area, 0x3C, used);
    wp_instance_slot_release(pool, &s, used);
  }
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  /* Every third holder used the whole 256 KiB: all but 64 KiB is madvised. */
  cr_assert_geq(stats.bytes_decommitted, 167 * (cfg.max_instance_bytes - 64 * KIB));
  wp_pool_destroy(pool);
}

Test(instance_pool, exhaustion) {
  wp_pool_config cfg;
  test_config(&cfg, 3);
  wp_pool *pool = test_pool(&cfg);
  wp_instance_slot s[3], extra;
  for (int i = 0; i < 3; i++)
    cr_assert_eq(wp_instance_slot_acquire(pool, &s[i]), 0);
  cr_assert_neq(s[0].area, s[1].area);
  wp_pool_stats before, after;
  wp_pool_get_stats(pool, &before);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(wp_instance_slot_acquire(pool, &extra), WP_EPOOL_EXHAUSTED);
  wp_pool_get_stats(pool, &after);
  cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
  cr_assert_eq(after.instances.in_use, 3);
  wp_instance_slot_release(pool, &s[1], 0);
  cr_assert_eq(wp_instance_slot_acquire(pool, &extra), 0);
  wp_instance_slot_release(pool, &extra, 0);
  wp_instance_slot_release(pool, &s[0], 0);
  wp_instance_slot_release(pool, &s[2], 0);
  wp_pool_get_stats(pool, &after);
  cr_assert_eq(after.instances.in_use, 0);
  wp_pool_destroy(pool);
}
