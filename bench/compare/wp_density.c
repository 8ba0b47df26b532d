/* wp_density.c — resident memory of N live instances of one module on
 * wasmpool's instance API (the density figure when the daemon is not used).
 *
 *   wasmpool-compare-density MODULE.wasm CACHE_DIR COUNT...
 *
 * Creates instances up to each COUNT in turn (ascending) and keeps them all
 * live; each one stores one byte into its first page (a plain store, see
 * wp_instantiate.c), as a request would, so
 * every instance owns at least one private page. Prints VmRSS after each
 * step and once before the first instance (the runtime alone).
 */
#include <stdio.h>
#include <stdlib.h>

#include "compare_util.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODULE.wasm CACHE_DIR COUNT...\n", argv[0]);
    return 2;
  }
  size_t max_count = 0;
  for (int i = 3; i < argc; i++) {
    size_t count = strtoull(argv[i], NULL, 10);
    if (count > max_count)
      max_count = count;
  }
  wp_runtime_config cfg;
  wp_runtime_config_default(&cfg);
  cfg.cache_dir = argv[2];
  cfg.pool.total_instances = (uint32_t)max_count + 1;
  wp_runtime *rt = NULL;
  wp_module *mod = NULL;
  if (wp_compare_start(&cfg, argv[1], &rt, &mod) != 0)
    return 1;

  wp_instance **live = calloc(max_count + 1, sizeof *live);
  if (!live)
    return 1;
  printf("engine=wasmpool instances=0 rss_bytes=%llu\n",
         (unsigned long long)wp_compare_rss_bytes());
  size_t made = 0;
  int rc = 0;
  for (int i = 3; i < argc && rc == 0; i++) {
    size_t count = strtoull(argv[i], NULL, 10);
    while (made < count) {
      wp_error err = {0};
      rc = wp_instance_create(rt, mod, NULL, &live[made], &err);
      if (rc != 0) {
        fprintf(stderr, "instance %zu: %s\n", made, err.message);
        break;
      }
      uint64_t memory_bytes = 0;
      volatile uint8_t *memory = wp_instance_memory(live[made], &memory_bytes);
      if (memory && memory_bytes > 0)
        memory[0] = 1;
      made++;
    }
    if (rc == 0)
      printf("engine=wasmpool instances=%zu rss_bytes=%llu\n", made,
             (unsigned long long)wp_compare_rss_bytes());
  }
  for (size_t i = 0; i < made; i++)
    wp_instance_destroy(live[i]);
  free(live);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
  return rc == 0 ? 0 : 1;
}
