/* test_memory_pool.c — memory slots: isolation across reuses, guard pages,
 * growth limits and exhaustion. */
#include "alloc_internal.h"
#include "alloc_test_util.h"

/* Which classes an isolation run asks for: one, or both in turn from one
 * pool. */
enum { RUN_GUARDED = 1 << WP_MEMORY_GUARDED, RUN_SMALL = 1 << WP_MEMORY_SMALL };

/* One holder after another on a small pool, each with image A, image B or no
 * image, sometimes growing, always dirtying everything it may touch (memory,
 * table, instance area). Every holder first checks it sees only its own image
 * and zeroes. With both classes, each round picks one: a slot must come from
 * the class asked for, and each class's slots still go between images and
 * no image. */
static void run_isolation_in(wp_pool_config *cfg, int rounds, int classes) {
  wp_pool *pool = test_pool(cfg);
  test_image a, b;
  test_image_make(&a, 0x11, 20000); /* within keep-resident in most configs */
  test_image_make(&b, 0x77, 70000); /* extends past it */
  test_image *images[3] = {&a, &b, NULL};
  uint32_t seed = 12345;
  int last_kind[64];
  int cross_reuses = 0;
  /* Reuses of a slot from an image to none and from none to an image, by
   * class. */
  int to_none[2] = {0, 0}, from_none[2] = {0, 0};
  for (int i = 0; i < 64; i++)
    last_kind[i] = -1;
  for (int round = 0; round < rounds; round++) {
    seed = seed * 1103515245u + 12345u;
    int kind = (int)((seed >> 16) % 3);
    test_image *ti = images[kind];
    wp_memory_class slot_class = classes == RUN_SMALL     ? WP_MEMORY_SMALL
                                 : classes == RUN_GUARDED ? WP_MEMORY_GUARDED
                                 : (seed >> 20) & 1       ? WP_MEMORY_SMALL
                                                          : WP_MEMORY_GUARDED;
    wp_memory_request req = {.slot_class = slot_class,
                             .image = ti != NULL ? ti->image : NULL,
                             .initial_bytes = 128 * KIB,
                             .maximum_bytes = 2 * MIB};
    wp_memory_slot mem;
    int rc = wp_memory_acquire(pool, &req, &mem);
    cr_assert_eq(rc, 0, "round %d: acquire: %s", round, wp_err_name(rc));
    cr_assert_eq(mem.slot_class, slot_class);
    const wp__memory_class *cls = &pool->memories.classes[slot_class];
    cr_assert(mem.index >= cls->first && mem.index < cls->first + cls->count,
              "round %d: slot %u is not of class %d", round, mem.index, (int)slot_class);
    cr_assert_eq(mem.accessible_bytes, 128 * KIB);
    cr_assert_lt(mem.index, 64);
    if (last_kind[mem.index] != -1 && last_kind[mem.index] != kind)
      cross_reuses++;
    if (last_kind[mem.index] != -1 && last_kind[mem.index] != 2 && kind == 2)
      to_none[slot_class]++;
    if (last_kind[mem.index] == 2 && kind != 2)
      from_none[slot_class]++;
    last_kind[mem.index] = kind;
    expect_contents(mem.base, mem.accessible_bytes, ti, "memory on acquire");

    wp_table_slot table;
    rc = wp_table_acquire(pool, 100, 4096, &table);
    cr_assert_eq(rc, 0, "round %d: table acquire: %s", round, wp_err_name(rc));
    expect_contents(table.elements, (uint64_t)table.capacity * 8, NULL, "table on acquire");
    wp_instance_slot inst;
    rc = wp_instance_slot_acquire(pool, &inst);
    cr_assert_eq(rc, 0, "round %d: instance acquire: %s", round, wp_err_name(rc));
    expect_contents(inst.area, inst.area_bytes, NULL, "instance area on acquire");

    if ((seed >> 8) % 3 == 0) {
      uint64_t grown = mem.accessible_bytes + ((seed >> 4) % 4 + 1) * 64 * KIB;
      cr_assert_eq(wp_memory_grow(pool, &mem, grown), 0);
      cr_assert_eq(mem.accessible_bytes, grown);
      expect_contents(mem.base, mem.accessible_bytes, ti, "memory after grow");
      cr_assert_eq(wp_table_grow(pool, &table, 4096), 0);
    }
    /* Dirty either everything or only a few scattered pages. */
    if (seed & 1) {
      memset(mem.base, 0x5C, mem.accessible_bytes);
    } else {
      for (uint64_t at = (seed >> 3) % 4096; at < mem.accessible_bytes; at += 37 * 4096)
        mem.base[at] = 0x5C;
    }
    memset(table.elements, 0xA5, (uint64_t)table.size * 8);
    uint64_t used = (seed >> 5) % 4 == 0 ? inst.area_bytes : 3000;
    memset(inst.area, 0x3C, used);
    wp_memory_release(pool, &mem);
    wp_table_release(pool, &table);
    wp_instance_slot_release(pool, &inst, used);
  }
  wp_pool_flush_decommits(pool);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.in_use, 0);
  cr_assert_eq(stats.memories.pending, 0);
  cr_assert_eq(stats.resets, (uint64_t)rounds);
  /* The test must really hand slots from one image to another, and from an
   * image to none and back, in each class it ran. */
  cr_assert_gt(cross_reuses, rounds / 20, "only %d cross-image reuses", cross_reuses);
  for (int c = 0; c < 2; c++) {
    if (!(classes & (1 << c)))
      continue;
    cr_assert_gt(to_none[c], rounds / 100, "class %d: only %d image -> none reuses", c, to_none[c]);
    cr_assert_gt(from_none[c], rounds / 100, "class %d: only %d none -> image reuses", c,
                 from_none[c]);
  }
  wp_pool_destroy(pool);
  test_image_free(&a);
  test_image_free(&b);
}

/* cfg with as many small slots (no guard) as guarded ones beside them,
 * sized so growth stays inside. */
static void small_too(const wp_pool_config *cfg, wp_pool_config *small) {
  *small = *cfg;
  small->small_memories = wp_pool_guarded_memories(cfg);
  small->small_memory_bytes = 2 * MIB;
  if (small->keep_resident_bytes > small->small_memory_bytes)
    small->keep_resident_bytes = small->small_memory_bytes;
}

/* Every isolation scenario runs over both slot classes: guarded slots, then
 * the small slots of the same pool. */
static void run_isolation(wp_pool_config *cfg, int rounds) {
  run_isolation_in(cfg, rounds, RUN_GUARDED);
  wp_pool_config small;
  small_too(cfg, &small);
  run_isolation_in(&small, rounds, RUN_SMALL);
}

/* Both classes from one pool, round by round: each class's index and resets
 * keep to its own slots while the other's are busy and warm beside them. */
Test(memory_pool, isolation_mixed_classes) {
  wp_pool_config cfg, both;
  test_config(&cfg, 2);
  small_too(&cfg, &both);
  run_isolation_in(&both, 2000, RUN_GUARDED | RUN_SMALL);
}

Test(memory_pool, isolation_mixed_classes_batched_background) {
  wp_pool_config cfg, both;
  test_config(&cfg, 4);
  cfg.keep_resident_bytes = 0;
  cfg.decommit_batch_size = 3;
  cfg.decommit_in_background = true;
  cfg.max_unused_warm_slots = 2;
  small_too(&cfg, &both);
  run_isolation_in(&both, 2000, RUN_GUARDED | RUN_SMALL);
}

Test(memory_pool, isolation_keep_resident) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  run_isolation(&cfg, 2000);
}

Test(memory_pool, isolation_no_keep_resident) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  cfg.keep_resident_bytes = 0;
  run_isolation(&cfg, 2000);
}

Test(memory_pool, isolation_large_keep_resident) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  cfg.keep_resident_bytes = 256 * KIB; /* past the initial size: growth pages too */
  run_isolation(&cfg, 2000);
}

/* The reset without /proc/self/pagemap (restore the prefix, madvise the
 * rest), which a pool falls back to when pagemap cannot be read. */
Test(memory_pool, isolation_prefix_reset) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  cfg.reset_by_prefix = true;
  run_isolation(&cfg, 2000);
}

/* Scattered written pages anywhere in the memory are restored in place while
 * they fit keep_resident_bytes: no madvise at all, and the next holder of the
 * warm slot reads exactly the image. Past the budget the rest is dropped.
 * Each scenario has a fresh pool and reads nothing before its release: on
 * some kernels a read fault maps a fresh anonymous page (no shared zero
 * page), which pagemap cannot tell from a written one. */
static uint64_t decommitted_after_writes(test_image *ti, const uint64_t *offsets, int count) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  cfg.keep_resident_bytes = 16 * KIB; /* four pages */
  wp_pool *pool = test_pool(&cfg);
  if (pool->memories.pagemap_fd < 0) {
    wp_pool_destroy(pool);
    cr_skip_test("/proc/self/pagemap cannot be read here");
  }
  wp_memory_request req = {.image = ti->image, .initial_bytes = 1 * MIB, .maximum_bytes = 2 * MIB};
  wp_memory_slot mem;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  for (int i = 0; i < count; i++)
    mem.base[offsets[i]] = 0x5C;
  wp_pool_stats before, after;
  wp_pool_get_stats(pool, &before);
  wp_memory_release(pool, &mem);
  wp_pool_get_stats(pool, &after);
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  cr_assert(mem.affinity_hit);
  expect_contents(mem.base, mem.accessible_bytes, ti, "memory after scattered writes");
  wp_memory_release(pool, &mem);
  wp_pool_destroy(pool);
  return after.bytes_decommitted - before.bytes_decommitted;
}

Test(memory_pool, written_pages_restored_in_place) {
  test_image ti;
  test_image_make(&ti, 0x42, 70000); /* image pages and zero pages after them */
  /* Two image pages (one past the prefix) and two zero pages far apart. */
  const uint64_t few[4] = {100, 64 * KIB + 7, 300 * KIB + 1, 1 * MIB - 1};
  uint64_t dropped = decommitted_after_writes(&ti, few, 4);
  cr_assert_eq(dropped, 0, "four written pages fit the budget: %llu bytes dropped",
               (unsigned long long)dropped);
  /* Six pages: the last two are past the budget and dropped. */
  const uint64_t many[6] = {100, 8 * KIB, 64 * KIB + 7, 200 * KIB, 300 * KIB + 1, 1 * MIB - 1};
  dropped = decommitted_after_writes(&ti, many, 6);
  cr_assert_eq(dropped, 1 * MIB - 300 * KIB, "dropped from the fifth written page on: %llu",
               (unsigned long long)dropped);
  test_image_free(&ti);
}

Test(memory_pool, isolation_one_warm_slot) {
  wp_pool_config cfg;
  test_config(&cfg, 3);
  cfg.max_unused_warm_slots = 1; /* constant eviction and image replacement */
  run_isolation(&cfg, 2000);
}

Test(memory_pool, isolation_batched) {
  wp_pool_config cfg;
  test_config(&cfg, 6);
  cfg.decommit_batch_size = 4;
  cfg.max_unused_warm_slots = 2; /* images must also move between slots */
  run_isolation(&cfg, 2000);
}

Test(memory_pool, isolation_background) {
  wp_pool_config cfg;
  test_config(&cfg, 6);
  cfg.decommit_batch_size = 2;
  cfg.decommit_in_background = true;
  cfg.max_unused_warm_slots = 2;
  run_isolation(&cfg, 2000);
}

Test(memory_pool, guards_fault) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  wp_pool *pool = test_pool(&cfg);
  test_image a;
  test_image_make(&a, 0x21, 9000);
  wp_memory_request req = {
      .image = a.image, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m0, m1;
  cr_assert_eq(wp_memory_acquire(pool, &req, &m0), 0);
  cr_assert_eq(wp_memory_acquire(pool, &req, &m1), 0);
  wp_memory_slot *slots[2] = {&m0, &m1};
  for (int i = 0; i < 2; i++) {
    uint8_t *base = slots[i]->base;
    cr_assert_not(faults(base), "first byte is accessible");
    cr_assert_not(faults(base + 64 * KIB - 1), "last accessible byte");
    cr_assert(faults(base - 1), "one byte before the memory");
    cr_assert(faults(base - cfg.guard_bytes), "start of the leading guard");
    cr_assert(faults(base + 64 * KIB), "the page past the current size");
    cr_assert(faults(base + cfg.max_memory_bytes - 1), "last byte of the slot before grow");
    cr_assert(faults(base + cfg.max_memory_bytes), "first byte at max_memory_bytes");
    cr_assert(faults(base + cfg.max_memory_bytes + cfg.guard_bytes / 2), "middle of the guard");
    cr_assert(faults(base + cfg.max_memory_bytes + cfg.guard_bytes - 1), "end of the guard");
  }
  /* Grow slot 0 to the whole slot: the guard still faults. */
  cr_assert_eq(wp_memory_grow(pool, &m0, cfg.max_memory_bytes), 0);
  cr_assert_not(faults(m0.base + 64 * KIB), "grown page");
  cr_assert_not(faults(m0.base + cfg.max_memory_bytes - 1), "grown last byte");
  cr_assert(faults(m0.base + cfg.max_memory_bytes), "guard after full growth");
  cr_assert(faults(m1.base - 1), "slot 1 leading guard after slot 0 grew");
  /* Release undoes growth: the next holder faults past its own size. */
  uint32_t index = m0.index;
  wp_memory_release(pool, &m0);
  cr_assert_eq(wp_memory_acquire(pool, &req, &m0), 0);
  cr_assert_eq(m0.index, index, "same slot reused");
  cr_assert(faults(m0.base + 64 * KIB), "growth undone after release");
  expect_contents(m0.base, m0.accessible_bytes, &a, "after growth reuse");
  wp_memory_release(pool, &m0);
  wp_memory_release(pool, &m1);
  wp_pool_destroy(pool);
  test_image_free(&a);
}

Test(memory_pool, grow_limits) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.image = NULL, .initial_bytes = 64 * KIB, .maximum_bytes = 1 * MIB};
  wp_memory_slot mem;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  cr_assert_eq(mem.limit_bytes, 1 * MIB);
  cr_assert_eq(wp_memory_grow(pool, &mem, 1 * MIB + 64 * KIB), WP_ELIMIT);
  cr_assert(faults(mem.base + 64 * KIB), "a refused grow changes nothing");
  cr_assert_eq(wp_memory_grow(pool, &mem, 1 * MIB), 0);
  cr_assert_eq(mem.accessible_bytes, 1 * MIB);
  mem.base[1 * MIB - 1] = 7;
  wp_memory_release(pool, &mem);

  req.maximum_bytes = UINT64_MAX;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  cr_assert_eq(mem.limit_bytes, cfg.max_memory_bytes, "limit is the slot size");
  cr_assert_eq(wp_memory_grow(pool, &mem, cfg.max_memory_bytes + 4096), WP_ELIMIT);
  cr_assert_eq(wp_memory_grow(pool, &mem, cfg.max_memory_bytes), 0);
  wp_memory_release(pool, &mem);

  req.initial_bytes = cfg.max_memory_bytes + 64 * KIB;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), WP_ELIMIT, "initial past the slot");
  req.initial_bytes = 2 * MIB;
  req.maximum_bytes = 1 * MIB;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), WP_ELIMIT, "initial past the maximum");
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.in_use, 0, "refused acquires hold nothing");
  wp_pool_destroy(pool);
}

Test(memory_pool, exhaustion) {
  wp_pool_config cfg;
  test_config(&cfg, 3);
  cfg.memories_per_instance = 2;
  wp_pool *pool = test_pool(&cfg);
  test_image a;
  test_image_make(&a, 0x31, 5000);
  wp_memory_request req = {
      .image = a.image, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot held[6], extra;
  for (int i = 0; i < 6; i++)
    cr_assert_eq(wp_memory_acquire(pool, &req, &held[i]), 0, "slot %d", i);
  wp_pool_stats before, after;
  wp_pool_get_stats(pool, &before);
  cr_assert_eq(before.memories.in_use, 6);
  for (int i = 0; i < 100; i++)
    cr_assert_eq(wp_memory_acquire(pool, &req, &extra), WP_EPOOL_EXHAUSTED);
  wp_pool_get_stats(pool, &after);
  cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0, "failed acquires changed the stats");
  cr_assert_null(extra.base);
  wp_memory_release(pool, &held[4]);
  cr_assert_eq(wp_memory_acquire(pool, &req, &extra), 0, "a freed slot is available again");
  cr_assert(extra.affinity_hit);
  expect_contents(extra.base, extra.accessible_bytes, &a, "after exhaustion");
  wp_memory_release(pool, &extra);
  for (int i = 0; i < 6; i++)
    if (i != 4)
      wp_memory_release(pool, &held[i]);
  wp_pool_get_stats(pool, &after);
  cr_assert_eq(after.memories.in_use, 0);
  cr_assert_eq(after.memories.warm + after.memories.cold, 6);
  wp_pool_destroy(pool);
  test_image_free(&a);
}

/* Under vm.max_map_count every slot holding mappings counts (in use, warm
 * or resetting): past the cap an acquire is refused as a full pool instead
 * of letting a later reset fail to remap (the dense configs found it at
 * ~21,800 instances with the default sysctl). The cap is lowered here
 * through the pool's internals, since raising live slots to the real one
 * would take minutes. */
Test(memory_pool, mapping_cap_refuses_before_the_kernel_does) {
  wp_pool_config cfg;
  test_config(&cfg, 6);
  cfg.max_unused_warm_slots = 1;
  wp_pool *pool = test_pool(&cfg);
  cr_assert_neq(pool->memories.mapped_cap, 0, "the sysctl is readable and leaves room");
  pool->memories.mapped_cap = 3;
  wp_memory_request req = {.initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot held[3], extra;
  for (int i = 0; i < 3; i++)
    cr_assert_eq(wp_memory_acquire(pool, &req, &held[i]), 0, "slot %d", i);
  cr_assert_eq(wp_memory_acquire(pool, &req, &extra), WP_EPOOL_EXHAUSTED,
               "3 free slots remain, but a fourth mapped slot is over the cap");
  wp_memory_release(pool, &held[2]); /* warm: still mapped, reused */
  cr_assert_eq(wp_memory_acquire(pool, &req, &extra), 0, "the warm slot is taken again");
  cr_assert(extra.affinity_hit);
  wp_memory_release(pool, &extra);
  for (int i = 0; i < 2; i++)
    wp_memory_release(pool, &held[i]);
  wp_pool_destroy(pool);
}

Test(memory_pool, exhaustion_with_pending_resets_flushes) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  cfg.decommit_batch_size = 8; /* never reached: the resets stay pending */
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.image = NULL, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m0, m1;
  cr_assert_eq(wp_memory_acquire(pool, &req, &m0), 0);
  cr_assert_eq(wp_memory_acquire(pool, &req, &m1), 0);
  memset(m0.base, 0x5C, 64 * KIB);
  memset(m1.base, 0x5C, 64 * KIB);
  wp_memory_release(pool, &m0);
  wp_memory_release(pool, &m1);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.pending, 2);
  cr_assert_eq(stats.resets, 0);
  cr_assert_eq(wp_memory_acquire(pool, &req, &m0), 0, "full but pending: flush and retry");
  expect_contents(m0.base, m0.accessible_bytes, NULL, "after flush");
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.resets, 2);
  cr_assert_eq(stats.memories.pending, 0);
  wp_memory_release(pool, &m0);
  wp_pool_flush_decommits(pool);
  wp_pool_destroy(pool);
}

Test(memory_pool, warm_slot_with_other_initial_sizes) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  wp_pool *pool = test_pool(&cfg);
  test_image a;
  test_image_make(&a, 0x29, 30000);
  uint64_t sizes[4] = {128 * KIB, 64 * KIB, 256 * KIB, 64 * KIB};
  for (int i = 0; i < 4; i++) {
    wp_memory_request req = {
        .image = a.image, .initial_bytes = sizes[i], .maximum_bytes = UINT64_MAX};
    wp_memory_slot mem;
    cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
    cr_assert_eq(mem.affinity_hit, i > 0);
    expect_contents(mem.base, mem.accessible_bytes, &a, "resized warm slot");
    cr_assert(faults(mem.base + sizes[i]), "size %d: past the initial size", i);
    cr_assert_not(faults(mem.base + sizes[i] - 1));
    memset(mem.base, 0x5C, mem.accessible_bytes);
    wp_memory_release(pool, &mem);
  }
  wp_pool_destroy(pool);
  test_image_free(&a);
}

/* Memories without an image are warm too, keyed by their accessible size: a
 * holder asking for the same size gets the same slot back, zeroed (past the
 * keep-resident part as well), with growth undone. */
Test(memory_pool, no_image_warm_reuse) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.image = NULL, .initial_bytes = 128 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot mem;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  cr_assert_not(mem.affinity_hit, "a fresh pool holds nothing warm");
  uint32_t first = mem.index;
  memset(mem.base, 0xA5, mem.accessible_bytes); /* keep-resident part and past it */
  cr_assert_eq(wp_memory_grow(pool, &mem, 256 * KIB), 0);
  memset(mem.base + 128 * KIB, 0x5A, 128 * KIB);
  wp_memory_release(pool, &mem);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.warm, 1, "a released no-image slot stays warm");
  cr_assert_eq(stats.memories.cold, 1);

  for (int round = 0; round < 3; round++) {
    cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
    cr_assert(mem.affinity_hit, "round %d: same size hits", round);
    cr_assert_eq(mem.index, first);
    cr_assert_eq(mem.accessible_bytes, 128 * KIB);
    expect_contents(mem.base, mem.accessible_bytes, NULL, "warm no-image reuse");
    cr_assert(faults(mem.base + 128 * KIB), "round %d: growth undone", round);
    mem.base[0] = 1;
    mem.base[mem.accessible_bytes - 1] = 2;
    wp_memory_release(pool, &mem);
  }
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.affinity_hits, 3);
  cr_assert_eq(stats.affinity_misses, 1);

  /* Another size misses the key: a cold slot goes first, then the warm one
   * is reused with its accessible end moved. */
  wp_memory_request other = req;
  other.initial_bytes = 64 * KIB;
  wp_memory_slot a, b;
  cr_assert_eq(wp_memory_acquire(pool, &other, &a), 0);
  cr_assert_not(a.affinity_hit);
  cr_assert_eq(wp_memory_acquire(pool, &other, &b), 0);
  wp_memory_slot *reused = a.index == first ? &a : &b;
  cr_assert_eq(reused->index, first, "the warm slot is used once the cold one is taken");
  cr_assert_eq(reused->accessible_bytes, 64 * KIB);
  expect_contents(reused->base, reused->accessible_bytes, NULL, "other size");
  cr_assert(faults(reused->base + 64 * KIB), "the accessible end moved down");
  wp_memory_release(pool, &a);
  wp_memory_release(pool, &b);
  wp_pool_destroy(pool);
}

/* With max_unused_warm_slots = 0 a no-image slot goes cold on release: its
 * accessible range is dropped, so the next holder faults in fresh zeroes. */
Test(memory_pool, no_image_cold_when_no_warm_slots) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  cfg.max_unused_warm_slots = 0;
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.image = NULL, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot mem;
  uint8_t *base = NULL;
  for (int round = 0; round < 3; round++) {
    cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
    cr_assert_not(mem.affinity_hit);
    expect_contents(mem.base, mem.accessible_bytes, NULL, "cold no-image");
    cr_assert(faults(mem.base + 64 * KIB));
    memset(mem.base, 0x77, mem.accessible_bytes);
    base = mem.base;
    wp_memory_release(pool, &mem);
    wp_pool_stats stats;
    wp_pool_get_stats(pool, &stats);
    cr_assert_eq(stats.memories.warm, 0);
    cr_assert_eq(stats.memories.cold, 1);
  }
  cr_assert(faults(base), "a cold slot keeps nothing accessible");
  wp_pool_destroy(pool);
}

/* Issue 12 item 4: max_committed_bytes caps the accessible bytes of every
 * memory in use together: a grow or an acquire past it fails with
 * WP_ELIMIT and changes nothing; a release gives the bytes back. */
Test(memory_pool, committed_memory_budget) {
  wp_pool_config cfg;
  test_config(&cfg, 4);
  cfg.max_committed_bytes = 3 * MIB;
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.image = NULL, .initial_bytes = 1 * MIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot a, b, c;
  cr_assert_eq(wp_memory_acquire(pool, &req, &a), 0);
  cr_assert_eq(wp_memory_acquire(pool, &req, &b), 0);
  wp_pool_stats st;
  wp_pool_get_stats(pool, &st);
  cr_assert_eq(st.committed_bytes, 2 * MIB);
  cr_assert_eq(st.max_committed_bytes, 3 * MIB);

  cr_assert_eq(wp_memory_grow(pool, &a, 2 * MIB), 0, "up to the budget");
  cr_assert_eq(wp_memory_grow(pool, &b, 2 * MIB), WP_ELIMIT, "past it");
  cr_assert_eq(b.accessible_bytes, 1 * MIB, "a refused grow changes nothing");
  cr_assert_eq(wp_memory_acquire(pool, &req, &c), WP_ELIMIT, "an acquire past it");
  wp_pool_get_stats(pool, &st);
  cr_assert_eq(st.committed_bytes, 3 * MIB);
  cr_assert_eq(st.budget_refusals, 2);
  cr_assert_eq(st.memories.in_use, 2, "the refused acquire took no slot");

  wp_memory_release(pool, &a);
  cr_assert_eq(wp_memory_grow(pool, &b, 3 * MIB), 0, "released bytes are free again");
  b.base[3 * MIB - 1] = 1; /* and really accessible */
  wp_memory_release(pool, &b);
  wp_pool_get_stats(pool, &st);
  cr_assert_eq(st.committed_bytes, 0);
  wp_pool_destroy(pool);
}

Test(memory_pool, committed_memory_counted_without_budget) {
  wp_pool_config cfg;
  test_config(&cfg, 2);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.image = NULL, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot a;
  cr_assert_eq(wp_memory_acquire(pool, &req, &a), 0);
  cr_assert_eq(wp_memory_grow(pool, &a, 4 * MIB), 0);
  wp_pool_stats st;
  wp_pool_get_stats(pool, &st);
  cr_assert_eq(st.committed_bytes, 4 * MIB);
  cr_assert_eq(st.max_committed_bytes, 0);
  wp_memory_release(pool, &a);
  wp_pool_get_stats(pool, &st);
  cr_assert_eq(st.committed_bytes, 0);
  wp_pool_destroy(pool);
}

/* ---- Small slots (no guard region) -------------------------------------- */

static void small_config(wp_pool_config *cfg, uint32_t guarded, uint32_t small) {
  test_config(cfg, 4);
  cfg->guarded_memories = guarded;
  cfg->small_memories = small;
  cfg->small_memory_bytes = 1 * MIB;
}

Test(memory_pool, small_slots_are_adjacent_and_bounded) {
  wp_pool_config cfg;
  small_config(&cfg, 1, 3);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {
      .slot_class = WP_MEMORY_SMALL, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m[3];
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(wp_memory_acquire(pool, &req, &m[i]), 0);
    cr_assert_eq(m[i].slot_class, WP_MEMORY_SMALL);
    cr_assert_eq(m[i].limit_bytes, 1 * MIB, "the slot, not the request, bounds it");
    cr_assert(wp_pool_memory_contains(pool, m[i].base));
  }
  /* No guard: slots follow each other at small_memory_bytes. */
  uint8_t *lo = m[0].base;
  for (int i = 1; i < 3; i++)
    if (m[i].base < lo)
      lo = m[i].base;
  for (int i = 0; i < 3; i++)
    cr_assert_eq((uint64_t)(m[i].base - lo) % MIB, 0);
  cr_assert(faults(m[0].base + 64 * KIB), "past the accessible size faults");
  /* A fourth small memory does not spill into the guarded class. */
  wp_memory_slot extra;
  cr_assert_eq(wp_memory_acquire(pool, &req, &extra), WP_EPOOL_EXHAUSTED);
  /* Growth: up to the slot, then WP_ELIMIT (memory.grow -> -1). */
  cr_assert_eq(wp_memory_grow(pool, &m[0], 1 * MIB), 0);
  m[0].base[MIB - 1] = 1;
  cr_assert_eq(wp_memory_grow(pool, &m[0], 1 * MIB + 64 * KIB), WP_ELIMIT);
  /* An initial size past the slot is refused. */
  wp_memory_request big = req;
  big.initial_bytes = 2 * MIB;
  cr_assert_eq(wp_memory_acquire(pool, &big, &extra), WP_ELIMIT);
  /* The guarded class is untouched by all this. */
  wp_memory_request guarded = req;
  guarded.slot_class = WP_MEMORY_GUARDED;
  cr_assert_eq(wp_memory_acquire(pool, &guarded, &extra), 0);
  cr_assert_eq(extra.slot_class, WP_MEMORY_GUARDED);
  cr_assert_eq(extra.limit_bytes, 4 * MIB);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.total, 4);
  cr_assert_eq(stats.memories.in_use, 4);
  cr_assert_eq(stats.small_memories.total, 3);
  cr_assert_eq(stats.small_memories.in_use, 3);
  wp_memory_release(pool, &extra);
  for (int i = 0; i < 3; i++)
    wp_memory_release(pool, &m[i]);
  wp_pool_destroy(pool);
}

Test(memory_pool, no_guarded_class_at_all) {
  wp_pool_config cfg;
  small_config(&cfg, 0, 2);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m;
  cr_assert_eq(wp_memory_acquire(pool, &req, &m), WP_EPOOL_EXHAUSTED);
  req.slot_class = WP_MEMORY_SMALL;
  cr_assert_eq(wp_memory_acquire(pool, &req, &m), 0);
  wp_memory_release(pool, &m);
  wp_pool_destroy(pool);
}

/* One slot per class: each holder takes the slot the previous one left, in
 * a fixed sequence that goes from no image to an image and back, between
 * two images of different sizes, and between no-image holders of different
 * sizes; some holders grow, every one dirties all it can reach. The image
 * must replace the zero pages, the dirt and the growth completely, zeroes
 * must replace the image, and past each holder's size the slot faults.
 * Over each way a reset can go, in each class. */
enum { NONE = -1, IMG_A = 0, IMG_B = 1 };
static const struct {
  int image;
  uint64_t initial, grow_to; /* grow_to 0: no growth */
} replace_steps[] = {
    {NONE, 128 * KIB, 0},  {IMG_A, 128 * KIB, 384 * KIB}, {NONE, 128 * KIB, 0},
    {IMG_B, 256 * KIB, 0}, {IMG_A, 128 * KIB, 0},         {NONE, 64 * KIB, 256 * KIB},
    {NONE, 128 * KIB, 0},  {IMG_B, 256 * KIB, 512 * KIB}, {NONE, 128 * KIB, 0},
    {IMG_A, 128 * KIB, 0}, {IMG_A, 128 * KIB, 192 * KIB}, {NONE, 128 * KIB, 0},
    {NONE, 128 * KIB, 0},  {IMG_A, 128 * KIB, 0},
};

static const struct reset_variant {
  const char *name;
  uint64_t keep_resident;
  bool by_prefix;
  uint32_t warm, batch;
  bool background;
} reset_variants[] = {
    {"keep_resident 16 KiB", 16 * KIB, false, 1, 1, false},
    {"keep_resident 0", 0, false, 1, 1, false},
    /* past the initial sizes: grown pages are restored in place too */
    {"keep_resident 256 KiB", 256 * KIB, false, 1, 1, false},
    {"prefix reset", 16 * KIB, true, 1, 1, false},
    {"no warm slots", 16 * KIB, false, 0, 1, false},
    /* one slot per class: a batch of two waits until the next acquire
     * flushes it */
    {"batched", 16 * KIB, false, 1, 2, false},
    {"background", 64 * KIB, false, 1, 2, true},
};

static void image_replaces_none(wp_memory_class slot_class, const struct reset_variant *v) {
  wp_pool_config cfg;
  small_config(&cfg, 1, 1);
  cfg.keep_resident_bytes = v->keep_resident;
  cfg.reset_by_prefix = v->by_prefix;
  cfg.max_unused_warm_slots = v->warm;
  cfg.decommit_batch_size = v->batch;
  cfg.decommit_in_background = v->background;
  wp_pool *pool = test_pool(&cfg);
  test_image a, b;
  test_image_make(&a, 0x42, 90000);  /* an 88 KiB image */
  test_image_make(&b, 0x99, 200000); /* a 196 KiB one: after it, a maps over its head */
  test_image *images[2] = {&a, &b};
  uint32_t index = UINT32_MAX;
  /* What the slot was left holding: an image, or zeroes at a size. */
  const test_image *prev_image = NULL;
  uint64_t prev_initial = 0;
  int to_none = 0, from_none = 0, hits = 0;
  size_t steps = sizeof(replace_steps) / sizeof(replace_steps[0]);
  for (size_t i = 0; i < steps; i++) {
    test_image *ti = replace_steps[i].image == NONE ? NULL : images[replace_steps[i].image];
    wp_memory_request req = {.slot_class = slot_class,
                             .image = ti ? ti->image : NULL,
                             .initial_bytes = replace_steps[i].initial,
                             .maximum_bytes = UINT64_MAX};
    wp_memory_slot m;
    int rc = wp_memory_acquire(pool, &req, &m);
    cr_assert_eq(rc, 0, "%s, step %zu: acquire: %s", v->name, i, wp_err_name(rc));
    cr_assert_eq(m.slot_class, slot_class);
    if (index != UINT32_MAX)
      cr_assert_eq(m.index, index, "%s, step %zu: the same slot every time", v->name, i);
    index = m.index;
    /* The warm paths are taken too: the same image (or zeroes at the same
     * size) again is a hit exactly when warm slots are kept. */
    bool same = i > 0 && ti == prev_image && (ti || req.initial_bytes == prev_initial);
    cr_assert_eq(m.affinity_hit, v->warm > 0 && same, "%s, step %zu: affinity hit %d", v->name, i,
                 m.affinity_hit);
    hits += m.affinity_hit;
    if (i > 0 && replace_steps[i - 1].image != NONE && !ti)
      to_none++;
    if (i > 0 && replace_steps[i - 1].image == NONE && ti)
      from_none++;
    char what[96];
    snprintf(what, sizeof what, "%s, step %zu (%s after %s)", v->name, i, ti ? "image" : "none",
             i == 0 || replace_steps[i - 1].image == NONE ? "none" : "image");
    expect_contents(m.base, m.accessible_bytes, ti, what);
    cr_assert(faults(m.base + m.accessible_bytes), "%s: past the initial size", what);
    if (replace_steps[i].grow_to) {
      cr_assert_eq(wp_memory_grow(pool, &m, replace_steps[i].grow_to), 0);
      expect_contents(m.base, m.accessible_bytes, ti, what);
    }
    memset(m.base, 0xEE, m.accessible_bytes);
    prev_image = ti;
    prev_initial = req.initial_bytes;
    wp_memory_release(pool, &m);
  }
  cr_assert_geq(to_none, 4);
  cr_assert_geq(from_none, 4);
  cr_assert_eq(hits, v->warm > 0 ? 2 : 0, "%s: %d warm hits", v->name, hits);
  wp_pool_flush_decommits(pool);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.resets, steps);
  wp_pool_destroy(pool);
  test_image_free(&a);
  test_image_free(&b);
}

Test(memory_pool, image_replaces_none_guarded) {
  for (size_t v = 0; v < sizeof(reset_variants) / sizeof(reset_variants[0]); v++)
    image_replaces_none(WP_MEMORY_GUARDED, &reset_variants[v]);
}

Test(memory_pool, image_replaces_none_small) {
  for (size_t v = 0; v < sizeof(reset_variants) / sizeof(reset_variants[0]); v++)
    image_replaces_none(WP_MEMORY_SMALL, &reset_variants[v]);
}
