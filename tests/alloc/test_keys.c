/* test_keys.c — memory protection keys (alloc/keys.c): the striped layout,
 * the stripe bookkeeping of the guarded class, and, where the CPU has
 * protection keys, the hardware part.
 *
 * Three levels, because the hardware is not everywhere (the CI machine's
 * CPU has no pku):
 *   - layout arithmetic: for a grid of sizes and key counts, every byte a
 *     guest may reach from a slot's base (max_memory + guard) is its own
 *     slot, a slot of another stripe, or the trailing guard. Pure, runs
 *     everywhere.
 *   - stripe bookkeeping: a pool striped as if it had keys but using none
 *     (wp__pool_create with simulated stripes) hands out, pins, reuses,
 *     evicts and resets slots per stripe. Runs everywhere.
 *   - hardware: with real keys, a slot's accessible bytes and a CoW image
 *     mapped over it carry the slot's key (read back from /proc/self/smaps,
 *     Wasmtime's issue 13982), and with guest rights for one key, the
 *     neighbour's memory faults while the slot's own does not. Without
 *     keys these say so plainly on stderr; they cannot pass by skipping
 *     silently, since the first two levels run in any case.
 */
#include <sys/mman.h>

#include "alloc_internal.h"
#include "alloc_test_util.h"

#define GIB (1024ull * MIB)

static uint64_t page_bytes(void) {
  return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Checks the layout's promise for `count` slots by walking each slot's
 * window slot by slot. */
static void check_layout(uint64_t max_memory, uint64_t guard, uint32_t keys) {
  wp__stripes l;
  wp__stripe_layout(max_memory, guard, page_bytes(), keys, &l);
  uint64_t window = max_memory + guard;
  cr_assert_geq(l.stripes, 1);
  cr_assert_leq(l.stripes, keys > 1 ? keys : 1, "more stripes than keys");
  cr_assert_geq(l.stride, max_memory, "a slot cannot hold its largest memory");
  cr_assert_eq(l.stride % page_bytes(), 0);
  cr_assert_eq(l.stride + l.trailing, l.stripes > 1 ? window : l.stride);
  if (l.stripes == 1) {
    cr_assert_eq(l.stride, window, "without stripes every slot carries its own guard");
    return;
  }
  uint32_t count = 3 * l.stripes + 1;
  uint64_t end = (uint64_t)count * l.stride + l.trailing;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t lo = (uint64_t)i * l.stride, hi = lo + window;
    cr_assert_leq(hi, end, "slot %u's window passes the reservation's end", i);
    for (uint64_t j = i + 1; (uint64_t)j * l.stride < hi && j < count; j++)
      cr_assert_neq(j % l.stripes, i % l.stripes,
                    "M %llu G %llu keys %u: slot %llu lies in slot %u's window with its key",
                    (unsigned long long)max_memory, (unsigned long long)guard, keys,
                    (unsigned long long)j, i);
  }
}

Test(keys, layout_arithmetic_over_a_grid) {
  const uint64_t memories[] = {64 * KIB, 1 * MIB, 4 * MIB, 64 * MIB, 1 * GIB, 4 * GIB};
  for (size_t m = 0; m < sizeof(memories) / sizeof(memories[0]); m++) {
    uint64_t M = memories[m];
    /* wasm2c's guard-page code: base + 8 GiB; and a few others. */
    const uint64_t guards[] = {0, 1 * MIB, M, 8 * GIB - M, 4 * GIB};
    for (size_t g = 0; g < sizeof(guards) / sizeof(guards[0]); g++)
      for (uint32_t keys = 0; keys <= WP__MAX_STRIPES; keys++)
        check_layout(M, guards[g], keys);
  }
}

Test(keys, layout_figures) {
  wp__stripes l;
  /* 64 MiB memories under the 8 GiB window: 15 keys put slots 546 MiB
   * apart instead of 8 GiB, 15x the slots in the same address space. */
  wp__stripe_layout(64 * MIB, 8 * GIB - 64 * MIB, 4096, 15, &l);
  cr_assert_eq(l.stripes, 15);
  cr_assert_eq(l.stride, (8 * GIB + 14) / 15 / 4096 * 4096 + 4096);
  /* The default 4 GiB + 4 GiB: two stripes halve the stride, more do not
   * help (a slot must hold 4 GiB). */
  wp__stripe_layout(4 * GIB, 4 * GIB, 4096, 15, &l);
  cr_assert_eq(l.stripes, 2);
  cr_assert_eq(l.stride, 4 * GIB);
  cr_assert_eq(l.trailing, 4 * GIB);
  cr_assert_eq(wp__guarded_reservation(1000, &l, 4 * GIB), 1000 * 4 * GIB + 8 * GIB);
  wp__stripe_layout(4 * GIB, 4 * GIB, 4096, 1, &l);
  cr_assert_eq(l.stripes, 1);
  cr_assert_eq(wp__guarded_reservation(1000, &l, 4 * GIB), 1000 * 8 * GIB + 4 * GIB);
}

/* 4 MiB memories, 60 MiB guard: a 64 MiB window, 15 stripes 4.3 MiB apart. */
static void striped_config(wp_pool_config *cfg, uint32_t slots) {
  test_config(cfg, slots);
  cfg->guard_bytes = 60 * MIB;
}

static wp_pool *simulated_pool(const wp_pool_config *cfg, uint32_t stripes) {
  wp_pool *pool = NULL;
  char why[256] = "";
  int rc = wp__pool_create(cfg, stripes, &pool, why, sizeof(why));
  cr_assert_eq(rc, 0, "wp__pool_create: %s (%s)", wp_err_name(rc), why);
  return pool;
}

static wp_memory_slot take(wp_pool *pool, const test_image *ti, int pkey) {
  wp_memory_request req = {.image = ti != NULL ? ti->image : NULL,
                           .initial_bytes = 128 * KIB,
                           .maximum_bytes = 4 * MIB,
                           .pkey = pkey};
  wp_memory_slot mem;
  int rc = wp_memory_acquire(pool, &req, &mem);
  cr_assert_eq(rc, 0, "acquire (pkey %d): %s", pkey, wp_err_name(rc));
  return mem;
}

Test(keys, simulated_stripes_lay_slots_out_and_pin_them) {
  wp_pool_config cfg;
  striped_config(&cfg, 30);
  wp_pool *pool = simulated_pool(&cfg, 15);
  wp__stripes l;
  wp__stripe_layout(cfg.max_memory_bytes, cfg.guard_bytes, page_bytes(), 15, &l);
  cr_assert_eq(l.stripes, 15);
  /* Fifteen acquires with no wish take one slot of each stripe, in turn. */
  wp_memory_slot mems[30];
  uint32_t seen = 0;
  for (int i = 0; i < 15; i++) {
    mems[i] = take(pool, NULL, 0);
    cr_assert(mems[i].pkey >= 1 && mems[i].pkey <= 15, "pkey %d", mems[i].pkey);
    cr_assert_eq(mems[i].pkey, (int)(mems[i].index % 15) + 1);
    seen |= 1u << mems[i].pkey;
    uint8_t *first = mems[0].base - (uint64_t)mems[0].index * l.stride;
    cr_assert_eq(mems[i].base, first + (uint64_t)mems[i].index * l.stride,
                 "slot %u is not stride bytes after its neighbour", mems[i].index);
  }
  cr_assert_eq(__builtin_popcount(seen), 15, "stripes used: %#x", seen);
  /* Pinned to memory 0's key: the second slot of that stripe, then none. */
  mems[15] = take(pool, NULL, mems[0].pkey);
  cr_assert_eq(mems[15].pkey, mems[0].pkey);
  cr_assert_eq(mems[15].index % 15, mems[0].index % 15);
  wp_memory_request req = {
      .initial_bytes = 128 * KIB, .maximum_bytes = 4 * MIB, .pkey = mems[0].pkey};
  wp_memory_slot extra;
  cr_assert_eq(wp_memory_acquire(pool, &req, &extra), WP_EPOOL_EXHAUSTED,
               "a full stripe must not lend a slot of another");
  req.pkey = 0;
  cr_assert_eq(wp_memory_acquire(pool, &req, &extra), 0, "other stripes still have slots");
  cr_assert_neq(extra.pkey, mems[0].pkey);
  wp_memory_release(pool, &extra);
  req.pkey = 99;
  cr_assert_eq(wp_memory_acquire(pool, &req, &extra), WP_EINVAL, "not a key of the pool");
  for (int i = 0; i < 16; i++)
    wp_memory_release(pool, &mems[i]);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.total, 30);
  cr_assert_eq(stats.memories.in_use, 0);
  cr_assert_eq(stats.key_stripes, 15);
  cr_assert_eq(wp_pool_keys_in_use(pool), 15);
  wp_pool_destroy(pool);
}

Test(keys, simulated_stripes_keep_affinity_and_isolation) {
  wp_pool_config cfg;
  striped_config(&cfg, 12);
  cfg.max_unused_warm_slots = 5; /* evictions happen, per stripe */
  wp_pool *pool = simulated_pool(&cfg, 4);
  test_image a, b;
  test_image_make(&a, 0x11, 64 * KIB);
  test_image_make(&b, 0x77, 96 * KIB);
  test_image *images[3] = {&a, &b, NULL};
  uint32_t seed = 7;
  int hits = 0;
  for (int round = 0; round < 600; round++) {
    seed = seed * 1103515245u + 12345u;
    test_image *ti = images[(seed >> 16) % 3];
    wp_memory_slot held[3];
    int n = 1 + (int)((seed >> 20) % 3);
    for (int i = 0; i < n; i++) {
      /* Like an instance: later memories pinned to the first's stripe. */
      held[i] = take(pool, ti, i > 0 ? held[0].pkey : 0);
      cr_assert_eq(held[i].pkey, held[0].pkey);
      hits += held[i].affinity_hit;
      expect_contents(held[i].base, held[i].accessible_bytes, ti, "memory on acquire");
      if (seed & 1)
        cr_assert_eq(wp_memory_grow(pool, &held[i], 512 * KIB), 0);
      memset(held[i].base, 0x5C, held[i].accessible_bytes);
    }
    for (int i = 0; i < n; i++)
      wp_memory_release(pool, &held[i]);
  }
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.in_use, 0);
  cr_assert_leq(stats.memories.warm, 5);
  cr_assert_gt(stats.warm_evictions, 0, "the test must evict");
  cr_assert_gt(hits, 100, "affinity across stripes: %d hits", hits);
  wp_pool_destroy(pool);
  test_image_free(&a);
  test_image_free(&b);
}

/* ---- The hardware part ---------------------------------------------------- */

/* The ProtectionKey of the mapping holding addr, from /proc/self/smaps; -1
 * when the kernel does not show one. */
static int smaps_pkey(const void *addr) {
  FILE *f = fopen("/proc/self/smaps", "r");
  cr_assert_not_null(f);
  char line[512];
  bool inside = false;
  int key = -1;
  uintptr_t at = (uintptr_t)addr;
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
      inside = at >= lo && at < hi;
      continue;
    }
    if (inside && sscanf(line, "ProtectionKey: %d", &key) == 1)
      break;
  }
  fclose(f);
  return key;
}

static bool have_keys(void) {
  if (wp__keys_available(2) >= 2)
    return true;
  fprintf(stderr, "keys: this CPU or kernel has no memory protection keys (pkey_alloc fails): "
                  "the hardware part (pkey_mprotect, PKRU, the key kept across image mappings) "
                  "was NOT exercised; the layout arithmetic and the stripe bookkeeping were "
                  "checked\n");
  return false;
}

Test(keys, without_keys_auto_is_off_and_on_is_refused) {
  wp_pool_config cfg;
  striped_config(&cfg, 4);
  cfg.memory_protection_keys = WP_KEYS_AUTO;
  wp_pool *pool = test_pool(&cfg);
  wp_pool_sizing sizing;
  cr_assert_eq(wp_pool_sizing_compute(&cfg, &sizing, NULL, 0), 0);
  if (have_keys()) {
    cr_assert_gt(wp_pool_keys_in_use(pool), 1);
    cr_assert_eq(sizing.key_stripes, wp_pool_keys_in_use(pool));
  } else {
    cr_assert_eq(wp_pool_keys_in_use(pool), 0);
    cr_assert_eq(sizing.key_stripes, 1);
    cr_assert_eq(sizing.guarded_stride, 64 * MIB);
    wp_memory_slot mem = take(pool, NULL, 0);
    cr_assert_eq(mem.pkey, 0);
    wp_memory_release(pool, &mem);
    cfg.memory_protection_keys = WP_KEYS_ON;
    char why[256] = "";
    wp_pool *refused = NULL;
    cr_assert_eq(wp_pool_create(&cfg, &refused, why, sizeof(why)), WP_ECONFIG);
    cr_assert(strstr(why, "memory_protection_keys") != NULL, "%s", why);
  }
  wp_pool_destroy(pool);
}

/* In a child: with guest rights for `own` only, reading p faults. */
static bool faults_as_guest(wp_pool *pool, int own, const volatile uint8_t *p) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);
    wp_pool_keys_guest(pool, 1u << own);
    uint8_t value = *p;
    _exit(value == 0xFF ? 3 : 0);
  }
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

Test(keys, hardware_keys_follow_mappings_and_fault_neighbours) {
  if (!have_keys())
    return;
  wp_pool_config cfg;
  striped_config(&cfg, 8);
  cfg.memory_protection_keys = WP_KEYS_ON;
  wp_pool *pool = test_pool(&cfg);
  test_image a, b;
  test_image_make(&a, 0x21, 64 * KIB);
  test_image_make(&b, 0x42, 128 * KIB);
  wp_memory_slot one = take(pool, &a, 0);
  wp_memory_slot two = take(pool, NULL, 0);
  cr_assert_neq(one.pkey, two.pkey);
  /* The image mapping and the anonymous rest carry the slot's key. */
  cr_assert_eq(smaps_pkey(one.base), one.pkey, "image mapping lost its key");
  cr_assert_eq(smaps_pkey(two.base), two.pkey);
  cr_assert_eq(wp_memory_grow(pool, &one, 256 * KIB), 0);
  cr_assert_eq(smaps_pkey(one.base + 200 * KIB), one.pkey, "grown bytes lost the key");
  /* Remapping other images over slots of that stripe keeps the key. */
  int stripe_key = one.pkey;
  wp_memory_release(pool, &one);
  for (int i = 0; i < 4; i++) {
    one = take(pool, i % 2 ? &a : &b, stripe_key);
    cr_assert_eq(smaps_pkey(one.base), stripe_key, "round %d: remapped image has key %d, not %d", i,
                 smaps_pkey(one.base), stripe_key);
    wp_memory_release(pool, &one);
  }
  one = take(pool, &a, 0);
  /* Guest rights: own memory readable, the neighbour's faults. */
  cr_assert(!faults_as_guest(pool, one.pkey, one.base));
  cr_assert(faults_as_guest(pool, one.pkey, two.base), "another stripe's memory is readable");
  cr_assert(!faults_as_guest(pool, two.pkey, two.base));
  wp_memory_release(pool, &one);
  wp_memory_release(pool, &two);
  wp_pool_destroy(pool);
  test_image_free(&a);
  test_image_free(&b);
}
