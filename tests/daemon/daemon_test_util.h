/* daemon_test_util.h — a small runtime and the example modules for the
 * daemon's unit tests that need real modules and instances. */
#ifndef WP_DAEMON_TEST_UTIL_H
#define WP_DAEMON_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "instance.h"

/* A runtime with a tiny pool and the build tree's shared compile cache, so
 * each example is compiled once per build tree. */
static inline wp_runtime *test_runtime(void) {
  wp_runtime_config cfg;
  wp_runtime_config_default(&cfg);
  cfg.pool.total_instances = 4;
  cfg.cache_dir = WP_TEST_CACHE_DIR;
  wp_runtime *rt;
  wp_error err = {0};
  int rc = wp_runtime_create(&cfg, &rt, &err);
  cr_assert_eq(rc, 0, "runtime: %s", err.message);
  return rt;
}

/* The bytes of build/examples/<name>; free() them. */
static inline uint8_t *read_example(const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", WP_EXAMPLES_DIR, name);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "missing %s (build the wp_examples target)", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)size);
  cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  *len = (size_t)size;
  return buf;
}

#endif /* WP_DAEMON_TEST_UTIL_H */
