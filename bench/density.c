/* density.c — how many live instances fit, and what each costs: N live
 * instances of a module with one data page, each having written one byte,
 * through the instance API in one process.
 *
 *   wasmpool-density N [small|guarded] [max_instance_size_bytes]
 *
 * Prints the process's RSS, page tables (VmPTE) and heap before and after,
 * and per instance. The module is given as WAT compiled by the tool root's
 * wat2wasm beforehand (bench/CMakeLists.txt), path in argv or
 * WP_DENSITY_WASM. Every figure is read from /proc/self/status and
 * mallinfo2(); nothing is estimated.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "instance.h"

typedef struct usage {
  uint64_t rss_kib, pte_kib, heap_bytes, maps;
} usage;

static uint64_t status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  uint64_t value = 0;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, key, n) == 0 && line[n] == ':')
      value = strtoull(line + n + 1, NULL, 10);
  if (f)
    fclose(f);
  return value;
}

static uint64_t map_count(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  uint64_t lines = 0;
  int c;
  while (f && (c = fgetc(f)) != EOF)
    lines += c == '\n';
  if (f)
    fclose(f);
  return lines;
}

static void measure(usage *u) {
  u->rss_kib = status_kib("VmRSS");
  u->pte_kib = status_kib("VmPTE");
  u->heap_bytes = mallinfo2().uordblks;
  u->maps = map_count();
}

static uint8_t *read_file(const char *path, size_t *length) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *bytes = malloc((size_t)size);
  if (bytes && fread(bytes, 1, (size_t)size, f) != (size_t)size) {
    free(bytes);
    bytes = NULL;
  }
  fclose(f);
  *length = (size_t)size;
  return bytes;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODULE.wasm N [small|guarded] [max_instance_bytes]\n", argv[0]);
    return 2;
  }
  const char *wasm_path = argv[1];
  uint32_t count = (uint32_t)strtoul(argv[2], NULL, 10);
  bool small = argc < 4 || strcmp(argv[3], "small") == 0;
  uint64_t area = argc > 4 ? strtoull(argv[4], NULL, 0) : 64 << 10;

  wp_runtime_config cfg;
  wp_runtime_config_default(&cfg);
  char cache[256];
  snprintf(cache, sizeof(cache), "/tmp/wasmpool-density-%d", (int)getpid());
  cfg.cache_dir = cache;
  cfg.pool.total_instances = count;
  cfg.pool.guarded_memories = small ? 1 : count;
  cfg.pool.small_memories = small ? count : 0;
  cfg.pool.small_memory_bytes = 64 << 20;
  cfg.pool.table_elements = 1000;
  cfg.pool.max_instance_bytes = area;
  cfg.pool.keep_resident_bytes = 16 << 10;
  cfg.guest_stack_bytes = 1 << 20;
  wp_runtime *rt;
  wp_error err = {0};
  if (wp_runtime_create(&cfg, &rt, &err) != 0) {
    fprintf(stderr, "runtime: %s\n", err.message);
    return 1;
  }
  size_t length;
  uint8_t *wasm = read_file(wasm_path, &length);
  if (!wasm) {
    fprintf(stderr, "cannot read %s\n", wasm_path);
    return 1;
  }
  wp_module *mod;
  if (wp_module_load(rt, wasm, length, NULL, &mod, &err) != 0) {
    fprintf(stderr, "module: %s\n", err.message);
    return 1;
  }
  free(wasm);
  wp_module_limits lim;
  wp_module_get_limits(mod, &lim);
  wp_instance **live = calloc(count, sizeof(*live));
  usage before, after;
  measure(&before);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  uint32_t made = 0;
  for (; made < count; made++) {
    if (wp_instance_create(rt, mod, NULL, &live[made], &err) != 0) {
      fprintf(stderr, "instance %u: %s\n", made, err.message);
      break;
    }
    wp_val arg = {.type = WP_I32, .of.i32 = made % 4096};
    if (wp_instance_call(live[made], "touch", 5, &arg, 1, NULL, 0, NULL, &err) != 0) {
      fprintf(stderr, "touch %u: %s\n", made, err.message);
      break;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  measure(&after);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  double n = made ? made : 1;
  printf("class=%s bounds_checked=%d live=%u of %u max_instance_size=%llu in %.2f s\n",
         lim.memory_class == WP_MEMORY_SMALL ? "small" : "guarded", lim.bounds_checked, made, count,
         (unsigned long long)area, secs);
  printf("rss      %8llu KiB -> %8llu KiB  %7.2f KiB/instance\n",
         (unsigned long long)before.rss_kib, (unsigned long long)after.rss_kib,
         (double)(after.rss_kib - before.rss_kib) / n);
  printf("  ptes   %8llu KiB -> %8llu KiB  %7.2f KiB/instance\n",
         (unsigned long long)before.pte_kib, (unsigned long long)after.pte_kib,
         (double)(after.pte_kib - before.pte_kib) / n);
  printf("heap     %8llu B   -> %8llu B    %7.0f B/instance\n",
         (unsigned long long)before.heap_bytes, (unsigned long long)after.heap_bytes,
         (double)(after.heap_bytes - before.heap_bytes) / n);
  printf("mappings %8llu     -> %8llu      %7.2f /instance\n", (unsigned long long)before.maps,
         (unsigned long long)after.maps, (double)(after.maps - before.maps) / n);
  for (uint32_t i = 0; i < made; i++)
    wp_instance_destroy(live[i]);
  free(live);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
  return made == count ? 0 : 1;
}
