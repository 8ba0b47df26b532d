/* jemalloc_stats.c — jemalloc's own view of the heap for /metrics.
 *
 * Kept apart from metrics.c so that only wasmpoold (which links jemalloc)
 * pulls in mallctl; the unit tests of the formatter run on plain malloc.
 */
#include <jemalloc/jemalloc.h>
#include <stdint.h>

#include "metrics.h"
#include "wp_errno.h"

int wp_jemalloc_stats(uint64_t *allocated, uint64_t *resident, uint64_t *metadata) {
  /* jemalloc caches its statistics; writing the epoch refreshes them. */
  uint64_t epoch = 1;
  size_t size = sizeof epoch;
  if (mallctl("epoch", &epoch, &size, &epoch, size) != 0)
    return WP_ESYS;
  size_t value;
  size = sizeof value;
  if (mallctl("stats.allocated", &value, &size, NULL, 0) != 0)
    return WP_ESYS;
  *allocated = value;
  size = sizeof value;
  if (mallctl("stats.resident", &value, &size, NULL, 0) != 0)
    return WP_ESYS;
  *resident = value;
  /* Metadata (extent and slab headers, the radix tree) grows with the number
   * of live allocations: part of what a live instance costs. */
  size = sizeof value;
  if (mallctl("stats.metadata", &value, &size, NULL, 0) != 0)
    return WP_ESYS;
  *metadata = value;
  return 0;
}

int wp_jemalloc_flush_thread_cache(void) {
  return mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0 ? 0 : WP_ESYS;
}
