/* alloc_test_util.h — helpers shared by the alloc/ tests: a small pool
 * config, test images with known contents, a content checker and a fault
 * probe that runs the access in a child process. */
#ifndef WP_ALLOC_TEST_UTIL_H
#define WP_ALLOC_TEST_UTIL_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)

/* Small slots so the tests run fast: 4 MiB memories, 1 MiB guards. */
static inline void test_config(wp_pool_config *cfg, uint32_t instances) {
  wp_pool_config_default(cfg);
  cfg->total_instances = instances;
  cfg->max_memory_bytes = 4 * MIB;
  cfg->guard_bytes = 1 * MIB;
  cfg->guard_before = true;
  cfg->table_elements = 4096;
  cfg->max_instance_bytes = 256 * KIB;
  cfg->keep_resident_bytes = 16 * KIB;
  cfg->table_keep_resident_bytes = 8 * KIB;
  cfg->max_unused_warm_slots = 8;
  cfg->decommit_batch_size = 1;
}

static inline wp_pool *test_pool(const wp_pool_config *cfg) {
  wp_pool *pool = NULL;
  char why[256] = "";
  int rc = wp_pool_create(cfg, &pool, why, sizeof(why));
  cr_assert_eq(rc, 0, "wp_pool_create: %s (%s)", wp_err_name(rc), why);
  return pool;
}

/* A test image: segments filled with bytes derived from seed, one crossing a
 * page boundary, one at a page start, one small at the end; with an overlap
 * so that "later wins" is exercised. expected gets image_bytes of contents. */
typedef struct test_image {
  wp_image *image;
  uint8_t *expected; /* wp_image_bytes() bytes */
  uint64_t bytes;
} test_image;

static inline void test_image_make(test_image *ti, uint8_t seed, uint64_t end) {
  size_t lens[3] = {6000, 4096, 300};
  uint8_t *owned[3];
  for (int i = 0; i < 3; i++) {
    owned[i] = malloc(lens[i]);
    for (size_t j = 0; j < lens[i]; j++)
      owned[i][j] = (uint8_t)(seed + j * (i + 3) + 1) | 1; /* never zero */
  }
  wp_image_segment segs[3] = {
      {.offset = 1000, .bytes = owned[0], .length = lens[0]},
      {.offset = 4096, .bytes = owned[1], .length = lens[1]}, /* overlaps segment 0 */
      {.offset = end - lens[2], .bytes = owned[2], .length = lens[2]},
  };
  int rc = wp_image_create(segs, 3, 1ull << 32, &ti->image);
  cr_assert_eq(rc, 0, "wp_image_create: %s", wp_err_name(rc));
  ti->bytes = wp_image_bytes(ti->image);
  ti->expected = calloc(1, ti->bytes);
  for (int i = 0; i < 3; i++)
    memcpy(ti->expected + segs[i].offset, segs[i].bytes, segs[i].length);
  for (int i = 0; i < 3; i++)
    free(owned[i]);
}

static inline void test_image_free(test_image *ti) {
  wp_image_release(ti->image);
  free(ti->expected);
}

/* Checks [0, bytes) of memory reads the image (or zeroes past it / without). */
static inline void expect_contents(const uint8_t *mem, uint64_t bytes, const test_image *ti,
                                   const char *what) {
  uint64_t image_bytes = ti != NULL ? ti->bytes : 0;
  if (image_bytes > bytes)
    image_bytes = bytes;
  if (image_bytes > 0 && memcmp(mem, ti->expected, image_bytes) != 0) {
    for (uint64_t i = 0; i < image_bytes; i++)
      cr_assert_eq(mem[i], ti->expected[i], "%s: byte %llu is %#x, image has %#x", what,
                   (unsigned long long)i, mem[i], ti->expected[i]);
  }
  static const uint8_t zeroes[4096];
  for (uint64_t i = image_bytes; i < bytes; i += sizeof(zeroes)) {
    uint64_t n = bytes - i < sizeof(zeroes) ? bytes - i : sizeof(zeroes);
    if (memcmp(mem + i, zeroes, n) != 0)
      cr_assert_fail("%s: bytes from %llu past the image are not zero", what,
                     (unsigned long long)i);
  }
}

/* True if reading *p kills a child process with SIGSEGV or SIGBUS. */
static inline bool faults(const volatile uint8_t *p) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork");
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    uint8_t value = *p;
    _exit(value == 0xFF ? 3 : 0);
  }
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  return WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

#endif /* WP_ALLOC_TEST_UTIL_H */
