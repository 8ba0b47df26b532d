/* table_pool.c — table slots: arrays of table_elements fixed-size elements.
 *
 * A table slot is always read-write; its capacity is a plain bound the
 * embedder checks (wasm2c bounds-checks table accesses itself), so growth is
 * bookkeeping only. Elements are zero on acquire because release clears the
 * first size elements (slab.c), which covers everything a holder could set.
 */
#include <string.h>

#include "alloc_internal.h"

int wp_table_acquire(wp_pool *pool, uint32_t initial_elements, uint32_t max_elements,
                     wp_table_slot *out) {
  wp__plain_pool *pp = &pool->tables;
  memset(out, 0, sizeof(*out));
  uint32_t capacity =
      max_elements < pool->cfg.table_elements ? max_elements : pool->cfg.table_elements;
  if (initial_elements > capacity)
    return WP_ELIMIT;
  uint8_t *at;
  uint32_t s = wp__plain_slot_take(pp, &at);
  if (s == WP__NO_SLOT)
    return WP_EPOOL_EXHAUSTED;
  out->index = s;
  out->elements = at;
  out->capacity = capacity;
  out->size = initial_elements;
  return 0;
}

int wp_table_grow(wp_pool *pool, wp_table_slot *slot, uint32_t new_elements) {
  if (new_elements > slot->capacity)
    return WP_ELIMIT;
  if (new_elements > slot->size)
    slot->size = new_elements;
  return 0;
}

void wp_table_release(wp_pool *pool, wp_table_slot *slot) {
  wp__plain_pool *pp = &pool->tables;
  uint32_t s = slot->index;
  uint64_t used = (uint64_t)slot->size * pool->cfg.table_element_bytes;
  memset(slot, 0, sizeof(*slot));
  uint64_t decommitted =
      wp__plain_slot_put(pp, s, used, pool->cfg.table_keep_resident_bytes, pool->page_bytes);
  atomic_fetch_add_explicit(&pool->bytes_decommitted, decommitted, memory_order_relaxed);
}
