/* kernel.h — the contract every CPU-bound comparison kernel meets.
 *
 * A kernel is one function, bench(n), that does n repetitions of a fixed unit
 * of work and returns a 32-bit checksum of everything it computed. Work is
 * linear in n, so an engine too slow for the full size (wasm-interp) can run
 * a smaller n and be scaled. The same source is built three ways: as a WASI
 * command for wasm32 (with main.c), with bench exported for direct calls, and
 * natively with cc -O2 (with main.c again). Kernels use no libc beyond
 * <stdint.h>/<string.h> so that no engine gets a different library
 * implementation (qsort, strstr) than another.
 */
#ifndef WP_KERNEL_H
#define WP_KERNEL_H

#include <stdint.h>

#if defined(__wasm__) && !defined(WP_KERNEL_NO_EXPORT)
#define WP_KERNEL_EXPORT __attribute__((export_name("bench")))
#else
#define WP_KERNEL_EXPORT
#endif

WP_KERNEL_EXPORT uint32_t bench(uint32_t n);

/* A small deterministic generator shared by the kernels' inputs. */
static inline uint32_t kernel_xorshift32(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

#endif /* WP_KERNEL_H */
