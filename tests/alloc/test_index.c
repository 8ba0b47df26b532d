/* test_index.c — slot choice: module affinity and LRU eviction of warm slots,
 * observed through the pool's stats and the slots handed out. */
#include "alloc_test_util.h"

static wp_memory_slot take(wp_pool *pool, const test_image *ti) {
  wp_memory_request req = {.image = ti != NULL ? ti->image : NULL,
                           .initial_bytes = 128 * KIB,
                           .maximum_bytes = UINT64_MAX};
  wp_memory_slot mem;
  int rc = wp_memory_acquire(pool, &req, &mem);
  cr_assert_eq(rc, 0, "acquire: %s", wp_err_name(rc));
  expect_contents(mem.base, mem.accessible_bytes, ti, "acquire");
  return mem;
}

Test(index, same_image_maps_once) {
  wp_pool_config cfg;
  test_config(&cfg, 4);
  wp_pool *pool = test_pool(&cfg);
  test_image a;
  test_image_make(&a, 0x41, 30000);
  uint32_t first_index = 0;
  for (int i = 0; i < 200; i++) {
    wp_memory_slot mem = take(pool, &a);
    cr_assert_eq(mem.affinity_hit, i > 0, "round %d: affinity_hit", i);
    if (i == 0)
      first_index = mem.index;
    cr_assert_eq(mem.index, first_index, "affinity picks the warm slot");
    mem.base[0] = 0x5C;
    wp_memory_release(pool, &mem);
  }
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.image_maps, 1, "the image was mapped %llu times",
               (unsigned long long)stats.image_maps);
  cr_assert_eq(stats.affinity_hits, 199);
  cr_assert_eq(stats.affinity_misses, 1);
  cr_assert_eq(stats.resets, 200);
  cr_assert_eq(stats.memories.warm, 1);
  cr_assert_eq(stats.memories.cold, 3);
  cr_assert_eq(stats.warm_evictions, 0);
  wp_pool_destroy(pool);
  test_image_free(&a);
}

Test(index, warm_slot_preferred_over_cold_and_other_images) {
  wp_pool_config cfg;
  test_config(&cfg, 4);
  wp_pool *pool = test_pool(&cfg);
  test_image a, b;
  test_image_make(&a, 0x41, 30000);
  test_image_make(&b, 0x42, 9000);
  wp_memory_slot ma = take(pool, &a), mb = take(pool, &b);
  uint32_t ia = ma.index, ib = mb.index;
  wp_memory_release(pool, &ma);
  wp_memory_release(pool, &mb);
  /* No image: a cold slot, not a warm one. */
  wp_memory_slot none = take(pool, NULL);
  cr_assert_neq(none.index, ia);
  cr_assert_neq(none.index, ib);
  wp_memory_slot mb2 = take(pool, &b), ma2 = take(pool, &a);
  cr_assert_eq(mb2.index, ib);
  cr_assert_eq(ma2.index, ia);
  cr_assert(mb2.affinity_hit && ma2.affinity_hit);
  wp_memory_release(pool, &none);
  wp_memory_release(pool, &mb2);
  wp_memory_release(pool, &ma2);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.image_maps, 2);
  wp_pool_destroy(pool);
  test_image_free(&a);
  test_image_free(&b);
}

Test(index, lru_eviction) {
  wp_pool_config cfg;
  test_config(&cfg, 4);
  cfg.max_unused_warm_slots = 2;
  wp_pool *pool = test_pool(&cfg);
  test_image a, b, c;
  test_image_make(&a, 0x51, 30000);
  test_image_make(&b, 0x52, 9000);
  test_image_make(&c, 0x53, 70000);
  wp_memory_slot ma = take(pool, &a), mb = take(pool, &b), mc = take(pool, &c);
  wp_memory_release(pool, &ma); /* least recently used */
  wp_memory_release(pool, &mb);
  wp_memory_release(pool, &mc); /* third warm slot: a is evicted */
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.warm, 2);
  cr_assert_eq(stats.memories.cold, 2);
  cr_assert_eq(stats.warm_evictions, 1);
  mb = take(pool, &b);
  cr_assert(mb.affinity_hit, "b stayed warm");
  mc = take(pool, &c);
  cr_assert(mc.affinity_hit, "c stayed warm");
  ma = take(pool, &a);
  cr_assert_not(ma.affinity_hit, "a was evicted");
  wp_memory_release(pool, &mb);
  wp_memory_release(pool, &mc);
  wp_memory_release(pool, &ma); /* now b is the LRU one */
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.warm_evictions, 2);
  ma = take(pool, &a);
  cr_assert(ma.affinity_hit);
  mb = take(pool, &b);
  cr_assert_not(mb.affinity_hit, "b was the least recently used");
  wp_memory_release(pool, &ma);
  wp_memory_release(pool, &mb);
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.image_maps, 5);
  wp_pool_destroy(pool);
  test_image_free(&a);
  test_image_free(&b);
  test_image_free(&c);
}

Test(index, two_images_alternating_without_room_to_stay_warm) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  cfg.max_unused_warm_slots = 1;
  wp_pool *pool = test_pool(&cfg);
  test_image a, b;
  test_image_make(&a, 0x61, 30000);
  test_image_make(&b, 0x62, 9000);
  for (int i = 0; i < 100; i++) {
    wp_memory_slot mem = take(pool, i % 2 ? &b : &a);
    cr_assert_not(mem.affinity_hit, "round %d", i);
    memset(mem.base, 0x5C, mem.accessible_bytes);
    wp_memory_release(pool, &mem);
  }
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.image_maps, 100);
  cr_assert_eq(stats.affinity_misses, 100);
  cr_assert_eq(stats.affinity_hits, 0);
  wp_pool_destroy(pool);
  test_image_free(&a);
  test_image_free(&b);
}

Test(index, no_warm_slots_allowed) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  cfg.max_unused_warm_slots = 0;
  wp_pool *pool = test_pool(&cfg);
  test_image a;
  test_image_make(&a, 0x71, 30000);
  for (int i = 0; i < 10; i++) {
    wp_memory_slot mem = take(pool, &a);
    cr_assert_not(mem.affinity_hit);
    wp_memory_release(pool, &mem);
  }
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.warm, 0);
  cr_assert_eq(stats.memories.cold, 2);
  cr_assert_eq(stats.warm_evictions, 10);
  wp_pool_destroy(pool);
  test_image_free(&a);
}

Test(index, many_images_keep_their_slots) {
  /* More images than hash buckets' worth of collisions: every image finds its
   * own warm slot again. */
  wp_pool_config cfg;
  test_config(&cfg, 40);
  cfg.max_unused_warm_slots = 40;
  wp_pool *pool = test_pool(&cfg);
  test_image imgs[40];
  uint32_t where[40];
  for (int i = 0; i < 40; i++)
    test_image_make(&imgs[i], (uint8_t)i, 5000 + i * 100);
  for (int i = 0; i < 40; i++) {
    wp_memory_slot mem = take(pool, &imgs[i]);
    where[i] = mem.index;
    wp_memory_release(pool, &mem);
  }
  for (int round = 0; round < 3; round++)
    for (int i = 39; i >= 0; i--) {
      wp_memory_slot mem = take(pool, &imgs[i]);
      cr_assert(mem.affinity_hit, "image %d", i);
      cr_assert_eq(mem.index, where[i]);
      wp_memory_release(pool, &mem);
    }
  wp_pool_destroy(pool);
  for (int i = 0; i < 40; i++)
    test_image_free(&imgs[i]);
}
