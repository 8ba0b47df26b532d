/* stock_wasm2c.c — instantiate + release latency of a module under wasm2c's
 * stock runtime (wabt 1.0.32's wasm-rt-impl.c), the baseline wasmpool's own
 * runtime replaces. Built once per module: the wasm2c output for the module
 * is compiled alongside with -DWP_STOCK_NAME=<wasm2c -n name> and
 * -DWP_STOCK_HEADER="<name>.h".
 *
 *   wasmpool-compare-stock-<name> ITERATIONS
 *
 * A cycle is Z_<name>_instantiate (its wasm_rt_allocate_memory reserves
 * 8 GiB with mmap and mprotects the initial pages, then the generated init
 * copies the data segments), a one-byte store into the first page, and
 * Z_<name>_free. That free munmaps only the current size, not the 8 GiB
 * reservation, so address space leaks and the process dies after about
 * 16,000 cycles (128 TiB / 8 GiB): run far fewer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include WP_STOCK_HEADER

#define WP_PASTE3(a, b, c) a##b##c
#define WP_NAME3(a, b, c)  WP_PASTE3(a, b, c)
#define STOCK_INSTANCE_T   WP_NAME3(Z_, WP_STOCK_NAME, _instance_t)
#define STOCK_INSTANTIATE  WP_NAME3(Z_, WP_STOCK_NAME, _instantiate)
#define STOCK_FREE         WP_NAME3(Z_, WP_STOCK_NAME, _free)
#define STOCK_MEMORY       WP_NAME3(Z_, WP_STOCK_NAME, Z_memory)

#define WARMUP_CYCLES  20
#define MAX_ITERATIONS 12000 /* below the ~16,000-cycle address-space leak */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void cycle(STOCK_INSTANCE_T *inst) {
  STOCK_INSTANTIATE(inst);
#ifdef WP_STOCK_HAS_MEMORY
  volatile uint8_t *memory = STOCK_MEMORY(inst)->data;
  memory[0] = 1;
#endif
  STOCK_FREE(inst);
}

int main(int argc, char **argv) {
  size_t iterations = argc == 2 ? strtoull(argv[1], NULL, 10) : 0;
  if (iterations == 0 || iterations + WARMUP_CYCLES > MAX_ITERATIONS) {
    fprintf(stderr, "usage: %s ITERATIONS (1..%d: the stock free leaks 8 GiB each)\n", argv[0],
            MAX_ITERATIONS - WARMUP_CYCLES);
    return 2;
  }
  wasm_rt_init();
  static STOCK_INSTANCE_T inst;
  uint64_t *samples = calloc(iterations, sizeof *samples);
  if (!samples)
    return 1;
  for (int i = 0; i < WARMUP_CYCLES; i++)
    cycle(&inst);
  uint64_t total_start = now_ns();
  for (size_t i = 0; i < iterations; i++) {
    uint64_t start = now_ns();
    cycle(&inst);
    samples[i] = now_ns() - start;
  }
  uint64_t total_ns = now_ns() - total_start;
  qsort(samples, iterations, sizeof samples[0], compare_u64);
  printf("engine=wasm2c-stock iterations=%zu mean_ns=%llu median_ns=%llu p99_ns=%llu\n", iterations,
         (unsigned long long)(total_ns / iterations), (unsigned long long)samples[iterations / 2],
         (unsigned long long)samples[(size_t)(0.99 * (double)(iterations - 1) + 0.5)]);
  free(samples);
  wasm_rt_free();
  return 0;
}
