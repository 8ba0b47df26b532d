/* instance_pool.c — instance areas: the engine's per-instance struct and host
 * state, max_instance_bytes each, zero on acquire.
 *
 * The holder says how much of the area it may have written; release clears
 * that much (slab.c), keeping the first WP__INSTANCE_KEEP_BYTES resident since
 * every instance writes its header there.
 */
#include <string.h>

#include "alloc_internal.h"

/* The config has no field for this: instance structs are small, and 64 KiB of
 * memset costs about as much as one madvise call. */
#define WP__INSTANCE_KEEP_BYTES (64ull << 10)

int wp_instance_slot_acquire(wp_pool *pool, wp_instance_slot *out) {
  wp__plain_pool *pp = &pool->instances;
  memset(out, 0, sizeof(*out));
  uint8_t *at;
  uint32_t s = wp__plain_slot_take(pp, &at);
  if (s == WP__NO_SLOT)
    return WP_EPOOL_EXHAUSTED;
  out->index = s;
  out->area = at;
  out->area_bytes = pp->slot_bytes;
  return 0;
}

void wp_instance_slot_release(wp_pool *pool, wp_instance_slot *slot, uint64_t used_bytes) {
  wp__plain_pool *pp = &pool->instances;
  uint32_t s = slot->index;
  memset(slot, 0, sizeof(*slot));
  uint64_t decommitted =
      wp__plain_slot_put(pp, s, used_bytes, WP__INSTANCE_KEEP_BYTES, pool->page_bytes);
  atomic_fetch_add_explicit(&pool->bytes_decommitted, decommitted, memory_order_relaxed);
}
