/* compare_util.c — helpers shared by the wp_instance comparison harnesses
 * (see compare_util.h). */
#include "compare_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int wp_compare_read_file(const char *path, uint8_t **bytes, size_t *length) {
  FILE *file = fopen(path, "rb");
  if (!file)
    return WP_ESYS;
  if (fseek(file, 0, SEEK_END) != 0) {
    fclose(file);
    return WP_ESYS;
  }
  long size = ftell(file);
  rewind(file);
  if (size < 0) {
    fclose(file);
    return WP_ESYS;
  }
  uint8_t *buffer = malloc(size > 0 ? (size_t)size : 1);
  if (!buffer) {
    fclose(file);
    return WP_ENOMEM;
  }
  size_t got = fread(buffer, 1, (size_t)size, file);
  fclose(file);
  if (got != (size_t)size) {
    free(buffer);
    return WP_ESYS;
  }
  *bytes = buffer;
  *length = got;
  return 0;
}

uint64_t wp_compare_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

uint64_t wp_compare_quantile(uint64_t *samples, size_t count, double q) {
  if (count == 0)
    return 0;
  qsort(samples, count, sizeof samples[0], compare_u64);
  size_t at = (size_t)(q * (double)(count - 1) + 0.5);
  return samples[at < count ? at : count - 1];
}

uint64_t wp_compare_rss_bytes(void) {
  FILE *status = fopen("/proc/self/status", "r");
  if (!status)
    return 0;
  char line[256];
  uint64_t kib = 0;
  while (fgets(line, sizeof line, status)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kib = strtoull(line + 6, NULL, 10);
      break;
    }
  }
  fclose(status);
  return kib * 1024;
}

int wp_compare_start(const wp_runtime_config *cfg, const char *wasm_path, wp_runtime **rt,
                     wp_module **mod) {
  return wp_compare_start_with(cfg, wasm_path, NULL, rt, mod);
}

int wp_compare_start_with(const wp_runtime_config *cfg, const char *wasm_path,
                          const wp_module_options *opts, wp_runtime **rt, wp_module **mod) {
  wp_error err = {0};
  int rc = wp_runtime_create(cfg, rt, &err);
  if (rc != 0) {
    fprintf(stderr, "wp_runtime_create: %s (%s)\n", err.message, wp_strerror(rc));
    return rc;
  }
  uint8_t *wasm = NULL;
  size_t length = 0;
  rc = wp_compare_read_file(wasm_path, &wasm, &length);
  if (rc != 0) {
    fprintf(stderr, "cannot read %s\n", wasm_path);
    wp_runtime_destroy(*rt);
    return rc;
  }
  rc = wp_module_load(*rt, wasm, length, opts, mod, &err);
  free(wasm);
  if (rc != 0) {
    fprintf(stderr, "wp_module_load %s: %s\n", wasm_path, err.message);
    wp_runtime_destroy(*rt);
    return rc;
  }
  return 0;
}

int wp_compare_engine_args(int argc, char **argv, wp_runtime_config *cfg, wp_module_options *opts) {
  int used = 0;
  while (used + 1 < argc) {
    const char *flag = argv[used], *value = argv[used + 1];
    if (strcmp(flag, "--tier") == 0) {
      if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
        fprintf(stderr, "--tier takes 0 (tcc) or 1 (cc -O2), not '%s'\n", value);
        return -1;
      }
      opts->tier = value[0] == '1' ? WP_TIER_OPTIMIZED : WP_TIER_BASELINE;
    } else if (strcmp(flag, "--cc") == 0) {
      cfg->cc_path = value;
    } else if (strcmp(flag, "--slots") == 0) {
      /* small: no guard-page slots, so the module runs in a small slot and
       * its code is built with explicit bounds checks (docs/CONFIG.md,
       * "Guard pages and bounds checks"); 1 GiB holds every kernel. */
      if (strcmp(value, "small") == 0) {
        cfg->pool.guarded_memories = 0;
        cfg->pool.small_memories = 4;
        cfg->pool.small_memory_bytes = (uint64_t)1 << 30;
      } else if (strcmp(value, "guarded") != 0) {
        fprintf(stderr, "--slots takes small or guarded, not '%s'\n", value);
        return -1;
      }
    } else {
      break;
    }
    used += 2;
  }
  return used;
}
