/* wp_instantiate.c — instantiate + release latency of one module on
 * wasmpool's instance API, one cycle at a time, for the comparison suite.
 *
 *   wasmpool-compare-instantiate [--tier 0|1] MODULE.wasm warm|cold ITERATIONS CACHE_DIR
 *
 * A cycle is wp_instance_create, a one-byte store into the first page of
 * memory 0 (the holder dirties one page, so the reset has work to do), and
 * wp_instance_destroy, which resets the slot synchronously (the default
 * decommit_batch_size = 1), so the reset is inside the measured time.
 *   warm  the default pool: the slot keeps the module's image mapped, so
 *         every acquire after the first is an affinity hit.
 *   cold  max_unused_warm_slots = 0: every release makes the slot cold, so
 *         every acquire maps the image again (an affinity miss).
 * The pool's hit/miss counters are printed so the mode can be checked.
 * Output: one line of key=value pairs, times in nanoseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare_util.h"

#define WARMUP_CYCLES 200

static int cycle(wp_runtime *rt, wp_module *mod) {
  wp_instance *inst = NULL;
  wp_error err = {0};
  int rc = wp_instance_create(rt, mod, NULL, &inst, &err);
  if (rc != 0) {
    fprintf(stderr, "wp_instance_create: %s\n", err.message);
    return rc;
  }
  uint64_t memory_bytes = 0;
  volatile uint8_t *memory = wp_instance_memory(inst, &memory_bytes);
  /* A plain store, not read-modify-write: a read fault on the CoW image maps
   * up to 16 neighbouring image pages (the kernel's fault-around), which is a
   * different experiment from "dirty one page". Every harness does the same. */
  if (memory && memory_bytes > 0)
    memory[0] = 1;
  wp_instance_destroy(inst);
  return 0;
}

int main(int argc, char **argv) {
  wp_runtime_config cfg;
  wp_runtime_config_default(&cfg);
  /* --tier 1: the code a module runs after tier-up (its instantiate
   * function is generated code too). Default: tier 0, as deployed. */
  wp_module_options opts = {0};
  int used = wp_compare_engine_args(argc - 1, argv + 1, &cfg, &opts);
  if (used < 0)
    return 2;
  argv += used;
  argc -= used;
  if (argc != 5 || (strcmp(argv[2], "warm") != 0 && strcmp(argv[2], "cold") != 0)) {
    fprintf(stderr, "usage: %s [--tier 0|1] MODULE.wasm warm|cold ITERATIONS CACHE_DIR\n", argv[0]);
    return 2;
  }
  bool cold = strcmp(argv[2], "cold") == 0;
  size_t iterations = strtoull(argv[3], NULL, 10);
  if (iterations == 0)
    return 2;

  cfg.cache_dir = argv[4];
  cfg.pool.total_instances = 4;
  if (cold)
    cfg.pool.max_unused_warm_slots = 0;
  wp_runtime *rt = NULL;
  wp_module *mod = NULL;
  if (wp_compare_start_with(&cfg, argv[1], &opts, &rt, &mod) != 0)
    return 1;

  uint64_t *samples = calloc(iterations, sizeof *samples);
  if (!samples)
    return 1;
  int rc = 0;
  for (size_t i = 0; i < WARMUP_CYCLES && rc == 0; i++)
    rc = cycle(rt, mod);
  wp_pool_stats before;
  wp_pool_get_stats(wp_runtime_pool(rt), &before);
  uint64_t total_start = wp_compare_now_ns();
  for (size_t i = 0; i < iterations && rc == 0; i++) {
    uint64_t start = wp_compare_now_ns();
    rc = cycle(rt, mod);
    samples[i] = wp_compare_now_ns() - start;
  }
  uint64_t total_ns = wp_compare_now_ns() - total_start;
  wp_pool_stats after;
  wp_pool_get_stats(wp_runtime_pool(rt), &after);
  if (rc == 0) {
    printf("engine=wasmpool-%s iterations=%zu mean_ns=%llu median_ns=%llu p99_ns=%llu "
           "affinity_hits=%llu affinity_misses=%llu\n",
           argv[2], iterations, (unsigned long long)(total_ns / iterations),
           (unsigned long long)wp_compare_quantile(samples, iterations, 0.5),
           (unsigned long long)wp_compare_quantile(samples, iterations, 0.99),
           (unsigned long long)(after.affinity_hits - before.affinity_hits),
           (unsigned long long)(after.affinity_misses - before.affinity_misses));
  }
  free(samples);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
  return rc == 0 ? 0 : 1;
}
