/* test_pool.c — the pool as a whole: config checks that name the bad field,
 * reservation failures, stats, and many threads sharing one pool. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc_test_util.h"

static void expect_bad(const wp_pool_config *cfg, const char *field) {
  char why[256] = "";
  cr_assert_eq(wp_pool_config_check(cfg, why, sizeof(why)), WP_ECONFIG, "%s accepted", field);
  cr_assert_eq(strncmp(why, field, strlen(field)), 0, "why \"%s\" does not start with %s", why,
               field);
  wp_pool *pool = (wp_pool *)1;
  why[0] = '\0';
  cr_assert_eq(wp_pool_create(cfg, &pool, why, sizeof(why)), WP_ECONFIG);
  cr_assert_null(pool);
  cr_assert_eq(strncmp(why, field, strlen(field)), 0, "create: why \"%s\"", why);
}

Test(pool, default_config_is_valid) {
  wp_pool_config cfg;
  wp_pool_config_default(&cfg);
  char why[256] = "";
  cr_assert_eq(wp_pool_config_check(&cfg, why, sizeof(why)), 0, "%s", why);
  cr_assert_eq(cfg.max_memory_bytes + cfg.guard_bytes, 8ull << 30);
}

Test(pool, each_bad_field_is_named) {
  wp_pool_config cfg;
#define BAD(field, value)                                                                          \
  do {                                                                                             \
    test_config(&cfg, 4);                                                                          \
    cfg.field = value;                                                                             \
    expect_bad(&cfg, #field);                                                                      \
  } while (0)
  BAD(total_instances, 0);
  BAD(memories_per_instance, 0);
  BAD(tables_per_instance, 0);
  BAD(max_memory_bytes, 0);
  BAD(max_memory_bytes, 4 * MIB + 100);
  BAD(guard_bytes, 4097);
  BAD(max_instance_bytes, 0);
  BAD(max_instance_bytes, 12345);
  BAD(keep_resident_bytes, 100);
  BAD(keep_resident_bytes, 8 * MIB);
  BAD(table_keep_resident_bytes, 10);
  BAD(table_elements, 0);
  BAD(table_element_bytes, 0);
  BAD(decommit_batch_size, 0);
  BAD(max_memory_bytes, 1ull << 48);
  BAD(memories_per_instance, 1u << 31);
#undef BAD
  test_config(&cfg, 4);
  cfg.max_memory_bytes = 4 * MIB + 100;
  char why[256];
  wp_pool_config_check(&cfg, why, sizeof(why));
  char page[64];
  snprintf(page, sizeof(page), "multiple of the page size (%ld)", sysconf(_SC_PAGESIZE));
  cr_assert(strstr(why, page) != NULL, "why: %s", why);
  /* Zero guard is allowed (dense mode with explicit bounds checks). */
  test_config(&cfg, 4);
  cfg.guard_bytes = 0;
  cr_assert_eq(wp_pool_config_check(&cfg, NULL, 0), 0);
}

Test(pool, unreservable_address_space_is_esys) {
  wp_pool_config cfg;
  test_config(&cfg, 1);
  /* Passes the arithmetic checks but no process has this much free VA. */
  cfg.max_memory_bytes = 120ull << 40;
  cfg.keep_resident_bytes = 0;
  char why[256] = "";
  wp_pool *pool = NULL;
  /* Under ASan its shadow takes ~20 TiB, and the sizing already sees that
   * 120 TiB cannot fit: then the check refuses it with the figures. */
  if (wp_pool_config_check(&cfg, why, sizeof(why)) != 0) {
    cr_assert(strstr(why, "the pools need 120.0 TiB") != NULL, "why: %s", why);
    cr_assert_eq(wp_pool_create(&cfg, &pool, why, sizeof(why)), WP_ECONFIG);
    cr_assert_null(pool);
    return;
  }
  cr_assert_eq(wp_pool_create(&cfg, &pool, why, sizeof(why)), WP_ESYS);
  cr_assert_null(pool);
  cr_assert(strncmp(why, "memory pool", 11) == 0, "why: %s", why);
}

Test(pool, default_geometry_reserves_8gib_per_memory) {
  wp_pool_config cfg;
  wp_pool_config_default(&cfg);
  cfg.total_instances = 4;
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot m0, m1;
  cr_assert_eq(wp_memory_acquire(pool, &req, &m0), 0);
  cr_assert_eq(wp_memory_acquire(pool, &req, &m1), 0);
  uint64_t distance =
      m1.base > m0.base ? (uint64_t)(m1.base - m0.base) : (uint64_t)(m0.base - m1.base);
  cr_assert_eq(distance, 8ull << 30);
  cr_assert(faults(m0.base + (8ull << 30) - 1), "base + 8 GiB - 1 is guard");
  cr_assert_eq(wp_pool_get_config(pool)->total_instances, 4);
  wp_memory_release(pool, &m0);
  wp_memory_release(pool, &m1);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_assert_eq(stats.memories.total, 4);
  cr_assert_eq(stats.tables.total, 4);
  cr_assert_eq(stats.instances.total, 4);
  cr_assert_eq(stats.resets, 2);
  wp_pool_destroy(pool);
}

/* ---- concurrency ---------------------------------------------------------- */

typedef struct shared {
  wp_pool *pool;
  test_image *images[3];
  int classes; /* bit c: threads may ask for class c; both: by thread */
  _Atomic uint32_t mem_owner[16], table_owner[8], inst_owner[8]; /* memories: both classes */
  atomic_int failures;
  atomic_long cycles;
  double deadline;
} shared;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void claim(_Atomic uint32_t *owner, uint32_t me, shared *sh) {
  uint32_t expected = 0;
  if (!atomic_compare_exchange_strong(owner, &expected, me))
    atomic_fetch_add(&sh->failures, 1);
}

static void unclaim(_Atomic uint32_t *owner, uint32_t me, shared *sh) {
  uint32_t expected = me;
  if (!atomic_compare_exchange_strong(owner, &expected, 0))
    atomic_fetch_add(&sh->failures, 1);
}

static void *worker(void *arg) {
  shared *sh = ((void **)arg)[0];
  uint32_t me = (uint32_t)(uintptr_t)((void **)arg)[1];
  uint32_t seed = me * 7919;
  while (now_seconds() < sh->deadline) {
    seed = seed * 1103515245u + 12345u;
    test_image *ti = sh->images[(seed >> 16) % 3];
    /* With both classes, odd threads take small slots and even ones
     * guarded slots, so each class is shared by two threads. */
    wp_memory_class slot_class = sh->classes == (1 << WP_MEMORY_SMALL)     ? WP_MEMORY_SMALL
                                 : sh->classes == (1 << WP_MEMORY_GUARDED) ? WP_MEMORY_GUARDED
                                 : me % 2                                  ? WP_MEMORY_SMALL
                                                                           : WP_MEMORY_GUARDED;
    wp_memory_request req = {.slot_class = slot_class,
                             .image = ti ? ti->image : NULL,
                             .initial_bytes = 128 * KIB,
                             .maximum_bytes = UINT64_MAX};
    wp_memory_slot mem;
    wp_table_slot table;
    wp_instance_slot inst;
    if (wp_memory_acquire(sh->pool, &req, &mem) != 0)
      continue;
    if (mem.slot_class != slot_class)
      atomic_fetch_add(&sh->failures, 1);
    claim(&sh->mem_owner[mem.index], me, sh);
    uint64_t image_bytes = ti ? ti->bytes : 0;
    /* Contents must be exactly our image: spot-check image and zero parts. */
    if ((image_bytes && memcmp(mem.base, ti->expected, image_bytes) != 0) ||
        mem.base[image_bytes] != 0 || mem.base[mem.accessible_bytes - 1] != 0)
      atomic_fetch_add(&sh->failures, 1);
    memset(mem.base, (int)me, 8192);
    memcpy(mem.base + 100000, &me, sizeof(me));
    int have_table = wp_table_acquire(sh->pool, 10, 100, &table) == 0;
    if (have_table) {
      claim(&sh->table_owner[table.index], me, sh);
      memset(table.elements, (int)me, 80);
    }
    int have_inst = wp_instance_slot_acquire(sh->pool, &inst) == 0;
    if (have_inst) {
      claim(&sh->inst_owner[inst.index], me, sh);
      memset(inst.area, (int)me, 4096);
    }
    sched_yield();
    uint32_t stamp;
    memcpy(&stamp, mem.base + 100000, sizeof(stamp));
    if (stamp != me || mem.base[8191] != (uint8_t)me)
      atomic_fetch_add(&sh->failures, 1);
    if (have_table) {
      if (((uint8_t *)table.elements)[79] != (uint8_t)me)
        atomic_fetch_add(&sh->failures, 1);
      unclaim(&sh->table_owner[table.index], me, sh);
      wp_table_release(sh->pool, &table);
    }
    if (have_inst) {
      if (((uint8_t *)inst.area)[4095] != (uint8_t)me)
        atomic_fetch_add(&sh->failures, 1);
      unclaim(&sh->inst_owner[inst.index], me, sh);
      wp_instance_slot_release(sh->pool, &inst, 4096);
    }
    unclaim(&sh->mem_owner[mem.index], me, sh);
    wp_memory_release(sh->pool, &mem);
    atomic_fetch_add(&sh->cycles, 1);
  }
  return NULL;
}

static void run_threads(wp_pool_config *cfg, int classes) {
  static shared sh;
  memset(&sh, 0, sizeof(sh));
  sh.pool = test_pool(cfg);
  sh.classes = classes;
  test_image a, b;
  test_image_make(&a, 0x11, 20000);
  test_image_make(&b, 0x77, 70000);
  sh.images[0] = &a;
  sh.images[1] = &b;
  sh.images[2] = NULL;
  sh.deadline = now_seconds() + 0.5;
  enum { THREADS = 4 };
  pthread_t threads[THREADS];
  void *args[THREADS][2];
  for (int i = 0; i < THREADS; i++) {
    args[i][0] = &sh;
    args[i][1] = (void *)(uintptr_t)(i + 1);
    cr_assert_eq(pthread_create(&threads[i], NULL, worker, args[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(threads[i], NULL);
  cr_assert_eq(atomic_load(&sh.failures), 0, "%d slot checks failed", atomic_load(&sh.failures));
  cr_assert_gt(atomic_load(&sh.cycles), 100, "only %ld cycles", atomic_load(&sh.cycles));
  wp_pool_flush_decommits(sh.pool);
  wp_pool_stats stats;
  wp_pool_get_stats(sh.pool, &stats);
  cr_assert_eq(stats.memories.in_use + stats.tables.in_use + stats.instances.in_use, 0);
  cr_assert_eq(stats.memories.warm + stats.memories.cold, stats.memories.total);
  wp_pool_destroy(sh.pool);
  test_image_free(&a);
  test_image_free(&b);
}

#define GUARDED_ONLY (1 << WP_MEMORY_GUARDED)
#define SMALL_ONLY   (1 << WP_MEMORY_SMALL)

/* The pool of cfg with small slots: `small` of them, and `guarded` guarded
 * ones beside them. */
static void with_small(wp_pool_config *cfg, uint32_t guarded, uint32_t small) {
  cfg->guarded_memories = guarded;
  cfg->small_memories = small;
  cfg->small_memory_bytes = 1 * MIB;
}

Test(pool, threads_never_share_a_slot) {
  wp_pool_config cfg;
  test_config(&cfg, 3); /* fewer slots than threads: exhaustion races too */
  cfg.max_unused_warm_slots = 1;
  run_threads(&cfg, GUARDED_ONLY);
}

Test(pool, threads_never_share_a_slot_batched_background) {
  wp_pool_config cfg;
  test_config(&cfg, 6);
  cfg.decommit_batch_size = 2;
  cfg.decommit_in_background = true;
  run_threads(&cfg, GUARDED_ONLY);
}

Test(pool, threads_never_share_a_small_slot) {
  wp_pool_config cfg;
  test_config(&cfg, 3);
  cfg.max_unused_warm_slots = 1;
  with_small(&cfg, 0, 3);
  run_threads(&cfg, SMALL_ONLY);
}

/* Two threads per class on one pool, one slot per class: exhaustion races
 * in each class while the other class's slot is held beside it. */
Test(pool, threads_never_share_a_slot_both_classes) {
  wp_pool_config cfg;
  test_config(&cfg, 3);
  cfg.max_unused_warm_slots = 1;
  with_small(&cfg, 1, 1);
  run_threads(&cfg, GUARDED_ONLY | SMALL_ONLY);
}

Test(pool, threads_never_share_a_slot_both_classes_batched_background) {
  wp_pool_config cfg;
  test_config(&cfg, 6);
  cfg.decommit_batch_size = 2;
  cfg.decommit_in_background = true;
  with_small(&cfg, 6, 6);
  run_threads(&cfg, GUARDED_ONLY | SMALL_ONLY);
}

/* ---- Sizing: the address space a config needs ---------------------------- */

Test(pool, sizing_adds_up_every_pool) {
  wp_pool_config cfg;
  test_config(&cfg, 10);
  cfg.guarded_memories = 3;
  cfg.small_memories = 7;
  cfg.small_memory_bytes = 2 * MIB;
  wp_pool_sizing sz;
  char why[512] = "";
  cr_assert_eq(wp_pool_sizing_compute(&cfg, &sz, why, sizeof(why)), 0, "%s", why);
  /* leading guard + 3 x (4 MiB + 1 MiB guard) */
  cr_expect_eq(sz.guarded_reserved, 1 * MIB + 3 * 5 * MIB);
  cr_expect_eq(sz.small_reserved, 7 * 2 * MIB);
  cr_expect_eq(sz.table_reserved, 10 * ((4096 * 8 + 4095) / 4096 * 4096));
  cr_expect_eq(sz.instance_reserved, 10 * 256 * KIB);
  cr_expect_eq(sz.total_reserved,
               sz.guarded_reserved + sz.small_reserved + sz.table_reserved + sz.instance_reserved);
  cr_expect_gt(sz.available_bytes, sz.total_reserved);
  /* The pool reserves exactly that: its slots land inside those figures. */
  wp_pool *pool = test_pool(&cfg);
  wp_pool_stats stats;
  wp_pool_get_stats(pool, &stats);
  cr_expect_eq(stats.memories.total, 10);
  cr_expect_eq(stats.small_memories.total, 7);
  wp_pool_destroy(pool);
}

Test(pool, sizing_failure_names_the_key_and_the_figures) {
  wp_pool_config cfg;
  wp_pool_config_default(&cfg);
  cfg.total_instances = 20000; /* 20,000 x 8 GiB = 156.3 TiB > 128 TiB */
  char why[512] = "";
  wp_pool_sizing sz;
  cr_assert_eq(wp_pool_sizing_compute(&cfg, &sz, why, sizeof(why)), WP_ECONFIG);
  cr_assert(strncmp(why, "total_instances: the pools need 156.", 36) == 0, "why: %s", why);
  cr_assert(strstr(why, "20000 x (4 GiB + 4 GiB guard)") != NULL, "why: %s", why);
  cr_assert(strstr(why, "are available") != NULL, "why: %s", why);
  /* wp_pool_config_check and wp_pool_create say the same; nothing falls
   * back to a smaller pool. */
  char why2[512] = "";
  cr_assert_eq(wp_pool_config_check(&cfg, why2, sizeof(why2)), WP_ECONFIG);
  cr_assert_str_eq(why, why2);
  wp_pool *pool = NULL;
  cr_assert_eq(wp_pool_create(&cfg, &pool, why2, sizeof(why2)), WP_ECONFIG);
  cr_assert_null(pool);
  /* The same instances with small slots fit. */
  cfg.guarded_memories = 100;
  cfg.small_memories = 20000;
  cr_assert_eq(wp_pool_sizing_compute(&cfg, &sz, why, sizeof(why)), 0, "%s", why);
  cr_expect_eq(sz.small_reserved, 20000ull * 64 * MIB);
}

Test(pool, sizing_respects_rlimit_as) {
  wp_pool_config cfg;
  test_config(&cfg, 4);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    struct rlimit rl = {.rlim_cur = 1ull << 30, .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
      _exit(2);
    cfg.small_memories = 1000;
    cfg.small_memory_bytes = 64 * MIB; /* 62.5 GiB: more than 1 GiB of RLIMIT_AS */
    char why[512] = "";
    wp_pool_sizing sz;
    int rc = wp_pool_sizing_compute(&cfg, &sz, why, sizeof(why));
    _exit(rc == WP_ECONFIG && strncmp(why, "small_memories: ", 16) == 0 &&
                  sz.available_bytes < (1ull << 30)
              ? 0
              : 1);
  }
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}
