/* main.c — the driver linked with every kernel, for wasm32-wasi and native.
 *
 *   kernel N [REPS [WARMUP]]
 *
 * Runs bench(N) WARMUP times untimed (default 2: lets a tiering JIT such as
 * V8 reach its optimizing tier, and faults in memory), then REPS times
 * (default 5) timed with CLOCK_MONOTONIC, and prints one line:
 *
 *   checksum=<u32> n=<N> reps=<REPS> median_ns=<ns> min_ns=<ns>
 *
 * Timing inside the guest means every engine is measured over the same code
 * with the same clock, excluding its start-up and compile time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernel.h"

#define MAX_REPS 64

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s N [REPS [WARMUP]]\n", argv[0]);
    return 2;
  }
  uint32_t n = (uint32_t)strtoul(argv[1], NULL, 10);
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  int warmup = argc > 3 ? atoi(argv[3]) : 2;
  if (reps < 1 || reps > MAX_REPS || warmup < 0) {
    fprintf(stderr, "REPS must be 1..%d and WARMUP >= 0\n", MAX_REPS);
    return 2;
  }
  uint32_t checksum = 0;
  for (int i = 0; i < warmup; i++)
    checksum = bench(n);
  uint64_t times[MAX_REPS];
  for (int i = 0; i < reps; i++) {
    uint64_t start = now_ns();
    uint32_t sum = bench(n);
    times[i] = now_ns() - start;
    if (i > 0 || warmup > 0) {
      if (sum != checksum) {
        fprintf(stderr, "checksum changed between runs: %u then %u\n", checksum, sum);
        return 1;
      }
    }
    checksum = sum;
  }
  qsort(times, (size_t)reps, sizeof times[0], compare_u64);
  printf("checksum=%u n=%u reps=%d median_ns=%llu min_ns=%llu\n", checksum, n, reps,
         (unsigned long long)times[reps / 2], (unsigned long long)times[0]);
  return 0;
}
