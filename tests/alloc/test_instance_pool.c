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

/* Areas smaller than a page share it: each holder still gets zeroes, and
 * clearing one area leaves its neighbours' bytes alone. */
Test(instance_pool, sub_page_areas) {
  wp_pool_config cfg;
  test_config(&cfg, 8);
  cfg.max_instance_bytes = 512;
  wp_pool *pool = test_pool(&cfg);
  wp_instance_slot a, b;
  cr_assert_eq(wp_instance_slot_acquire(pool, &a), 0);
  cr_assert_eq(wp_instance_slot_acquire(pool, &b), 0);
  cr_assert_eq(a.area_bytes, 512);
  uint8_t *lo = a.area < b.area ? a.area : b.area;
  uint8_t *hi = a.area < b.area ? b.area : a.area;
  cr_assert_eq(hi - lo, 512, "neighbours in one page");
  memset(a.area, 0xAB, 512);
  memset(b.area, 0xCD, 512);
  void *b_area = b.area;
  wp_instance_slot_release(pool, &b, 512);
  for (int i = 0; i < 512; i++)
    cr_assert_eq(((uint8_t *)a.area)[i], 0xAB, "a's byte %d", i);
  cr_assert_eq(wp_instance_slot_acquire(pool, &b), 0);
  cr_assert_eq(b.area, b_area);
  expect_contents(b.area, b.area_bytes, NULL, "reused sub-page area");
  wp_instance_slot_release(pool, &a, 512);
  wp_instance_slot_release(pool, &b, 0);
  cr_assert_eq(wp_pool_config_check(&cfg, NULL, 0), 0);
  cfg.max_instance_bytes = 100; /* not a multiple of 64 */
  cr_assert_eq(wp_pool_config_check(&cfg, NULL, 0), WP_ECONFIG);
  cfg.max_instance_bytes = 4096 + 64; /* above a page: page multiples */
  cr_assert_eq(wp_pool_config_check(&cfg, NULL, 0), WP_ECONFIG);
  wp_pool_destroy(pool);
}
