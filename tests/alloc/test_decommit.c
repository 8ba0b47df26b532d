/* test_decommit.c — batched and background resets: pending slots are never
 * handed out, batches run at decommit_batch_size, flush drains everything. */
#include <time.h>

#include "alloc_test_util.h"

Test(decommit, pending_slots_are_not_handed_out) {
  wp_pool_config cfg;
  test_config(&cfg, 8);
  cfg.decommit_batch_size = 3;
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.initial_bytes = 128 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m[3], others[6];
  wp_pool_stats stats;
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(wp_memory_acquire(pool, &req, &m[i]), 0);
    memset(m[i].base, 0x5C, m[i].accessible_bytes);
  }
  uint32_t pending0 = m[0].index, pending1 = m[1].index;
  wp_memory_release(pool, &m[0]);
  wp_memory_release(pool, &m[1]);
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.pending, 2);
  cr_assert_eq(stats.resets, 0);
  /* The five free slots come first; the pending ones stay out. */
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(wp_memory_acquire(pool, &req, &others[i]), 0);
    cr_assert_neq(others[i].index, pending0);
    cr_assert_neq(others[i].index, pending1);
  }
  /* Now the index is empty: the acquire flushes and gets a reset slot. */
  cr_assert_eq(wp_memory_acquire(pool, &req, &others[5]), 0);
  cr_assert(others[5].index == pending0 || others[5].index == pending1);
  expect_contents(others[5].base, others[5].accessible_bytes, NULL, "flushed slot");
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.resets, 2);
  for (int i = 0; i < 6; i++)
    wp_memory_release(pool, &others[i]);
  wp_memory_release(pool, &m[2]);
  wp_pool_flush_decommits(pool);
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.resets, 9);
  cr_assert_eq(stats.memories.pending, 0);
  /* Slots without an image stay warm (keyed by size) after their reset. */
  cr_assert_eq(stats.memories.warm, 8);
  cr_assert_eq(stats.memories.cold, 0);
  wp_pool_destroy(pool);
}

Test(decommit, third_release_resets_the_batch) {
  wp_pool_config cfg;
  test_config(&cfg, 8);
  cfg.decommit_batch_size = 3;
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.initial_bytes = 128 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m[3];
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(wp_memory_acquire(pool, &req, &m[i]), 0);
    memset(m[i].base, 0x5C, m[i].accessible_bytes);
  }
  wp_pool_stats stats;
  wp_memory_release(pool, &m[0]);
  wp_memory_release(pool, &m[1]);
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.resets, 0);
  cr_assert_eq(stats.memories.pending, 2);
  wp_memory_release(pool, &m[2]);
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.resets, 3);
  cr_assert_eq(stats.memories.pending, 0);
  cr_assert_eq(stats.bytes_decommitted, 3 * (128 * KIB - cfg.keep_resident_bytes));
  wp_pool_destroy(pool);
}

Test(decommit, background_thread_resets) {
  wp_pool_config cfg;
  test_config(&cfg, 4);
  cfg.decommit_batch_size = 1;
  cfg.decommit_in_background = true;
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.initial_bytes = 128 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m;
  cr_assert_eq(wp_memory_acquire(pool, &req, &m), 0);
  memset(m.base, 0x5C, m.accessible_bytes);
  wp_memory_release(pool, &m);
  /* The releasing thread does not reset; the background thread soon does. */
  wp_pool_stats stats;
  for (int i = 0; i < 2000; i++) {
    wp_pool_get_stats(pool, &stats);
    if (stats.resets == 1)
      break;
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
  }
  cr_assert_eq(stats.resets, 1, "background thread did not reset");
  cr_assert_eq(stats.memories.pending, 0);
  for (int i = 0; i < 4; i++) {
    wp_memory_slot all[4];
    for (int j = 0; j < 4; j++) {
      cr_assert_eq(wp_memory_acquire(pool, &req, &all[j]), 0);
      expect_contents(all[j].base, all[j].accessible_bytes, NULL, "after background reset");
      memset(all[j].base, 0x5C, 4096);
    }
    for (int j = 0; j < 4; j++)
      wp_memory_release(pool, &all[j]);
  }
  wp_pool_flush_decommits(pool);
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.resets, 17);
  cr_assert_eq(stats.memories.pending, 0);
  wp_pool_destroy(pool);
}

Test(decommit, destroy_with_pending_slots) {
  wp_pool_config cfg;
  test_config(&cfg, 4);
  cfg.decommit_batch_size = 100;
  cfg.decommit_in_background = true;
  wp_pool *pool = test_pool(&cfg);
  test_image a;
  test_image_make(&a, 0x11, 20000);
  wp_memory_request req = {
      .image = a.image, .initial_bytes = 128 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m;
  cr_assert_eq(wp_memory_acquire(pool, &req, &m), 0);
  wp_memory_release(pool, &m);
  wp_pool_destroy(pool); /* must join the thread and drop the image reference */
  test_image_free(&a);
}
