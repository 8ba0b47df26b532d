/* alloc_bench.c — wasmpool-alloc-bench: what one acquire + release of a
 * memory slot holding a 1 MiB image costs, pooled versus wasm2c's stock
 * runtime.
 *
 * Each cycle: acquire a slot for the image, the holder writes one byte in
 * each of its first P pages (P = 1 and 16), release. Cases:
 *   (a)   pooled, affinity, keep_resident_bytes 16 KiB (memcpy restore)
 *   (a64) the same with the default keep_resident_bytes of 64 KiB
 *   (b)   pooled, affinity, keep_resident_bytes 0 (madvise reset only)
 *   (c)   pooled without affinity: two images alternate and
 *         max_unused_warm_slots is 1, so every acquire maps its image
 *   (d)   baseline, what wasm2c's stock runtime does per instance: a fresh
 *         8 GiB PROT_NONE reservation, mprotect of the initial size, memcpy of
 *         the 1 MiB data, munmap
 * Default slot geometry: 4 GiB memory + 4 GiB guard. Reports median and p99
 * per case and the ratio (d)/(x) of medians. Not a test: it asserts nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

#define IMAGE_BYTES          (1ull << 20)
#define INITIAL_BYTES        (1ull << 20)
#define BASELINE_RESERVATION (8ull << 30)
#define WARMUP               200

typedef struct result {
  const char *name;
  const char *what;
  int pages;
  double median_us, p99_us;
  uint64_t image_maps, affinity_hits;
} result;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void summarize(double *samples, size_t n, result *r) {
  qsort(samples, n, sizeof(double), cmp_double);
  r->median_us = samples[n / 2] / 1000.0;
  size_t p99 = (size_t)((double)n * 0.99);
  r->p99_us = samples[p99 < n ? p99 : n - 1] / 1000.0;
}

static void dirty(uint8_t *base, int pages, uint64_t round) {
  for (int p = 0; p < pages; p++)
    base[(uint64_t)p * 4096 + (round % 4000)] = (uint8_t)round;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "wasmpool-alloc-bench: %s: %s\n", what, wp_strerror(rc));
  exit(1);
}

/* Cases (a), (b), (c): images[] alternate when image_count is 2. */
static void run_pooled(result *r, wp_image **images, int image_count, uint64_t keep,
                       uint32_t max_warm, size_t iterations, double *samples) {
  wp_pool_config cfg;
  wp_pool_config_default(&cfg);
  cfg.total_instances = 4;
  cfg.keep_resident_bytes = keep;
  cfg.max_unused_warm_slots = max_warm;
  wp_pool *pool;
  char why[256] = "";
  int rc = wp_pool_create(&cfg, &pool, why, sizeof(why));
  if (rc != 0) {
    fprintf(stderr, "wasmpool-alloc-bench: pool: %s\n", why);
    exit(1);
  }
  wp_memory_request req = {.initial_bytes = INITIAL_BYTES, .maximum_bytes = UINT64_MAX};
  wp_pool_stats before, after;
  for (size_t i = 0; i < WARMUP + iterations; i++) {
    if (i == WARMUP)
      wp_pool_get_stats(pool, &before);
    req.image = images[i % (size_t)image_count];
    double start = now_ns();
    wp_memory_slot mem;
    rc = wp_memory_acquire(pool, &req, &mem);
    if (rc != 0)
      die("acquire", rc);
    dirty(mem.base, r->pages, i);
    wp_memory_release(pool, &mem);
    double end = now_ns();
    if (i >= WARMUP)
      samples[i - WARMUP] = end - start;
  }
  wp_pool_get_stats(pool, &after);
  r->image_maps = after.image_maps - before.image_maps;
  r->affinity_hits = after.affinity_hits - before.affinity_hits;
  wp_pool_destroy(pool);
  summarize(samples, iterations, r);
}

static void run_baseline(result *r, const uint8_t *data, size_t iterations, double *samples) {
  for (size_t i = 0; i < iterations + 10; i++) {
    double start = now_ns();
    uint8_t *mem = mmap(NULL, BASELINE_RESERVATION, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED || mprotect(mem, INITIAL_BYTES, PROT_READ | PROT_WRITE) != 0) {
      fprintf(stderr, "wasmpool-alloc-bench: baseline: %s\n", strerror(errno));
      exit(1);
    }
    memcpy(mem, data, IMAGE_BYTES);
    dirty(mem, r->pages, i);
    munmap(mem, BASELINE_RESERVATION);
    double end = now_ns();
    if (i >= 10)
      samples[i - 10] = end - start;
  }
  r->image_maps = 0;
  r->affinity_hits = 0;
  summarize(samples, iterations, r);
}

static void cpu_model(char *out, size_t len) {
  snprintf(out, len, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL)
    return;
  char line[512];
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "model name", 10) == 0) {
      char *colon = strchr(line, ':');
      if (colon != NULL) {
        snprintf(out, len, "%s", colon + 2);
        out[strcspn(out, "\n")] = '\0';
      }
      break;
    }
  }
  fclose(f);
}

static void usage(FILE *to) {
  fprintf(to, "usage: wasmpool-alloc-bench [--json] [--iterations N] [--help]\n"
              "  Times acquire + release of a memory slot holding a 1 MiB image, for a\n"
              "  holder dirtying 1 and 16 pages: (a) pooled+affinity+keep-resident 16 KiB,\n"
              "  (a64) the same with 64 KiB, (b) pooled+affinity with madvise reset,\n"
              "  (c) pooled without affinity, (d) fresh 8 GiB mmap + mprotect + memcpy +\n"
              "  munmap per cycle. Prints median, p99 and (d)/(x).\n"
              "  --iterations N  cycles per pooled case (default 20000); the baseline\n"
              "                  runs N/20 cycles (at least 100)\n"
              "  --json          print one JSON object instead of a table\n");
}

int main(int argc, char **argv) {
  size_t iterations = 20000;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      char *end;
      long long n = strtoll(argv[++i], &end, 10);
      if (*end != '\0' || n < 10) {
        fprintf(stderr, "wasmpool-alloc-bench: --iterations needs a number >= 10\n");
        return 2;
      }
      iterations = (size_t)n;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  size_t baseline_iterations = iterations / 20 < 100 ? 100 : iterations / 20;

  uint8_t *data = malloc(IMAGE_BYTES);
  for (uint64_t i = 0; i < IMAGE_BYTES; i++)
    data[i] = (uint8_t)(i * 31 + 7);
  wp_image_segment seg = {.offset = 0, .bytes = data, .length = IMAGE_BYTES};
  wp_image *image_a, *image_b;
  int rc = wp_image_create(&seg, 1, UINT64_MAX, &image_a);
  if (rc == 0)
    rc = wp_image_create(&seg, 1, UINT64_MAX, &image_b);
  if (rc != 0)
    die("image", rc);
  double *samples = malloc(sizeof(double) *
                           (iterations > baseline_iterations ? iterations : baseline_iterations));
  wp_image *same[1] = {image_a};
  wp_image *alternate[2] = {image_a, image_b};

  enum { CASES = 10 };
  result results[CASES];
  int n = 0;
  int page_counts[2] = {1, 16};
  for (int pc = 0; pc < 2; pc++) {
    int pages = page_counts[pc];
    results[n] =
        (result){.name = "a", .what = "pooled+affinity+keep-resident 16 KiB", .pages = pages};
    run_pooled(&results[n++], same, 1, 16 << 10, 100, iterations, samples);
    results[n] =
        (result){.name = "a64", .what = "pooled+affinity+keep-resident 64 KiB", .pages = pages};
    run_pooled(&results[n++], same, 1, 64 << 10, 100, iterations, samples);
    results[n] = (result){.name = "b", .what = "pooled+affinity, madvise reset", .pages = pages};
    run_pooled(&results[n++], same, 1, 0, 100, iterations, samples);
    results[n] = (result){.name = "c", .what = "pooled, no affinity (2 images)", .pages = pages};
    run_pooled(&results[n++], alternate, 2, 16 << 10, 1, iterations, samples);
    results[n] =
        (result){.name = "d", .what = "baseline mmap+mprotect+memcpy+munmap", .pages = pages};
    run_baseline(&results[n++], data, baseline_iterations, samples);
  }

  char cpu[256];
  cpu_model(cpu, sizeof(cpu));
  struct utsname un;
  uname(&un);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  /* d of the same page count is the last row of each half. */
  double a1 = results[0].median_us, d1 = results[4].median_us;
  bool target_median = a1 <= 2.0;
  bool target_ratio = d1 / a1 >= 100.0;
  if (json) {
    printf("{\"machine\":{\"nproc\":%ld,\"cpu\":\"%s\",\"kernel\":\"%s\"},", cpus, cpu, un.release);
    printf("\"iterations\":%zu,\"baseline_iterations\":%zu,\"image_bytes\":%llu,"
           "\"initial_bytes\":%llu,\"cases\":[",
           iterations, baseline_iterations, (unsigned long long)IMAGE_BYTES,
           (unsigned long long)INITIAL_BYTES);
    for (int i = 0; i < n; i++) {
      double d = results[i < 5 ? 4 : 9].median_us;
      printf("%s{\"case\":\"%s\",\"description\":\"%s\",\"dirty_pages\":%d,\"median_us\":%.3f,"
             "\"p99_us\":%.3f,\"ratio_d_over_case_median\":%.1f,\"image_maps\":%llu,"
             "\"affinity_hits\":%llu}",
             i ? "," : "", results[i].name, results[i].what, results[i].pages, results[i].median_us,
             results[i].p99_us, d / results[i].median_us, (unsigned long long)results[i].image_maps,
             (unsigned long long)results[i].affinity_hits);
    }
    printf("],\"targets\":{\"a_1page_median_le_2us\":%s,\"ratio_d_over_a_1page_ge_100\":%s,"
           "\"ratio_d_over_a_1page\":%.1f}}\n",
           target_median ? "true" : "false", target_ratio ? "true" : "false", d1 / a1);
  } else {
    printf("wasmpool-alloc-bench: %ld CPUs, %s, kernel %s\n", cpus, cpu, un.release);
    printf("acquire+release of a 4 GiB + 4 GiB guard slot, 1 MiB image, initial 1 MiB; "
           "%zu cycles per pooled case, %zu baseline\n\n",
           iterations, baseline_iterations);
    printf("%-5s %-40s %5s %11s %11s %9s %11s\n", "case", "", "pages", "median_us", "p99_us",
           "(d)/(x)", "image_maps");
    for (int i = 0; i < n; i++) {
      double d = results[i < 5 ? 4 : 9].median_us;
      printf("%-5s %-40s %5d %11.3f %11.3f %9.1f %11llu\n", results[i].name, results[i].what,
             results[i].pages, results[i].median_us, results[i].p99_us, d / results[i].median_us,
             (unsigned long long)results[i].image_maps);
    }
    printf("\ntarget (a) 1-page median <= 2 us: %.3f us, %s\n", a1,
           target_median ? "met" : "NOT met");
    printf("target (d)/(a) 1-page >= 100: %.1f, %s\n", d1 / a1, target_ratio ? "met" : "NOT met");
  }
  wp_image_release(image_a);
  wp_image_release(image_b);
  free(samples);
  free(data);
  return 0;
}
