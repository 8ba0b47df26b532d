/* index.c — the index allocator: which free slot a request gets, in O(1).
 *
 * Free slots are either warm (they still map the image they last held; the
 * image id is their affinity key) or cold (they hold no image). Three
 * structures make every choice constant time:
 *   - per key, a doubly linked list of its free warm slots, found through a
 *     small chained hash table of "affinity heads" (at most one head per warm
 *     slot, so the head array never grows);
 *   - one LRU list of all warm slots (MRU at lru_head), for eviction;
 *   - a stack of cold slots.
 * An acquire prefers a warm slot of its key (no mmap needed), then a cold
 * slot, then steals the least recently used warm slot of another key. A
 * release past max_warm warm slots hands the LRU one back to the caller to
 * make cold. The caller's mutex protects everything here.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"

static uint32_t bucket_of(const wp__index *ix, uint64_t key) {
  /* Image ids are sequential; a multiplicative hash spreads them. */
  return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & ix->bucket_mask;
}

int wp__index_init(wp__index *ix, uint32_t count, uint32_t max_warm) {
  memset(ix, 0, sizeof(*ix));
  uint32_t buckets = 16;
  while (buckets < count && buckets < (1u << 30))
    buckets <<= 1;
  ix->slots = calloc(count, sizeof(*ix->slots));
  ix->heads = calloc(count, sizeof(*ix->heads));
  ix->buckets = malloc(sizeof(*ix->buckets) * buckets);
  if (ix->slots == NULL || ix->heads == NULL || ix->buckets == NULL) {
    wp__index_destroy(ix);
    return WP_ENOMEM;
  }
  ix->count = count;
  ix->max_warm = max_warm;
  ix->bucket_mask = buckets - 1;
  for (uint32_t b = 0; b < buckets; b++)
    ix->buckets[b] = WP__NO_SLOT;
  for (uint32_t h = 0; h < count; h++)
    ix->heads[h].chain_next = h + 1 < count ? h + 1 : WP__NO_SLOT;
  ix->free_head = count ? 0 : WP__NO_SLOT;
  /* Cold stack in index order so that low slots are used first. */
  for (uint32_t s = 0; s < count; s++) {
    ix->slots[s].state = WP__SLOT_COLD;
    ix->slots[s].key_next = s + 1 < count ? s + 1 : WP__NO_SLOT;
  }
  ix->cold_top = count ? 0 : WP__NO_SLOT;
  ix->lru_head = ix->lru_tail = WP__NO_SLOT;
  ix->cold = count;
  return 0;
}

void wp__index_destroy(wp__index *ix) {
  free(ix->slots);
  free(ix->heads);
  free(ix->buckets);
  ix->slots = NULL;
  ix->heads = NULL;
  ix->buckets = NULL;
}

/* Returns the head index of key, and in *link where the bucket chain points
 * at it (to unlink it). WP__NO_SLOT when the key has no warm slot. */
static uint32_t find_head(wp__index *ix, uint64_t key, uint32_t **link) {
  uint32_t *at = &ix->buckets[bucket_of(ix, key)];
  while (*at != WP__NO_SLOT && ix->heads[*at].key != key)
    at = &ix->heads[*at].chain_next;
  if (link != NULL)
    *link = at;
  return *at;
}

static void lru_unlink(wp__index *ix, uint32_t s) {
  wp__index_slot *slot = &ix->slots[s];
  if (slot->lru_prev != WP__NO_SLOT)
    ix->slots[slot->lru_prev].lru_next = slot->lru_next;
  else
    ix->lru_head = slot->lru_next;
  if (slot->lru_next != WP__NO_SLOT)
    ix->slots[slot->lru_next].lru_prev = slot->lru_prev;
  else
    ix->lru_tail = slot->lru_prev;
}

/* Removes a warm slot from its key list and the LRU list. */
static void unlink_warm(wp__index *ix, uint32_t s) {
  wp__index_slot *slot = &ix->slots[s];
  uint32_t *link;
  uint32_t h = find_head(ix, slot->key, &link);
  if (slot->key_prev != WP__NO_SLOT)
    ix->slots[slot->key_prev].key_next = slot->key_next;
  else
    ix->heads[h].first = slot->key_next;
  if (slot->key_next != WP__NO_SLOT)
    ix->slots[slot->key_next].key_prev = slot->key_prev;
  if (ix->heads[h].first == WP__NO_SLOT) {
    *link = ix->heads[h].chain_next;
    ix->heads[h].chain_next = ix->free_head;
    ix->free_head = h;
  }
  lru_unlink(ix, s);
  ix->warm--;
}

bool wp__index_has_warm(wp__index *ix, uint64_t key) {
  return key != 0 && ix->count > 0 && find_head(ix, key, NULL) != WP__NO_SLOT;
}

uint32_t wp__index_acquire(wp__index *ix, uint64_t key, bool *hit, uint64_t *prev_key) {
  *hit = false;
  *prev_key = 0;
  uint32_t s = WP__NO_SLOT;
  if (key != 0) {
    uint32_t h = find_head(ix, key, NULL);
    if (h != WP__NO_SLOT) {
      s = ix->heads[h].first;
      unlink_warm(ix, s);
      *hit = true;
    }
  }
  if (s == WP__NO_SLOT && ix->cold_top != WP__NO_SLOT) {
    s = ix->cold_top;
    ix->cold_top = ix->slots[s].key_next;
    ix->cold--;
  }
  if (s == WP__NO_SLOT && ix->lru_tail != WP__NO_SLOT) {
    s = ix->lru_tail;
    *prev_key = ix->slots[s].key;
    unlink_warm(ix, s);
  }
  if (s == WP__NO_SLOT)
    return WP__NO_SLOT;
  ix->slots[s].state = WP__SLOT_IN_USE;
  ix->slots[s].key = 0;
  ix->in_use++;
  return s;
}

void wp__index_mark_busy(wp__index *ix, uint32_t s) {
  ix->slots[s].state = WP__SLOT_BUSY;
  ix->in_use--;
  ix->busy++;
}

uint32_t wp__index_release(wp__index *ix, uint32_t s, uint64_t key) {
  wp__index_slot *slot = &ix->slots[s];
  if (slot->state == WP__SLOT_IN_USE)
    ix->in_use--;
  else
    ix->busy--;
  if (key == 0 || ix->max_warm == 0) {
    /* max_warm 0: the caller passed a key, but no slot may stay warm. */
    if (key != 0) {
      slot->state = WP__SLOT_BUSY;
      ix->busy++;
      return s;
    }
    slot->state = WP__SLOT_COLD;
    slot->key = 0;
    slot->key_next = ix->cold_top;
    ix->cold_top = s;
    ix->cold++;
    return WP__NO_SLOT;
  }
  uint32_t *link;
  uint32_t h = find_head(ix, key, &link);
  if (h == WP__NO_SLOT) {
    h = ix->free_head;
    ix->free_head = ix->heads[h].chain_next;
    ix->heads[h].key = key;
    ix->heads[h].first = WP__NO_SLOT;
    ix->heads[h].chain_next = WP__NO_SLOT;
    *link = h;
  }
  slot->state = WP__SLOT_WARM;
  slot->key = key;
  slot->key_prev = WP__NO_SLOT;
  slot->key_next = ix->heads[h].first;
  if (slot->key_next != WP__NO_SLOT)
    ix->slots[slot->key_next].key_prev = s;
  ix->heads[h].first = s;
  slot->lru_prev = WP__NO_SLOT;
  slot->lru_next = ix->lru_head;
  if (ix->lru_head != WP__NO_SLOT)
    ix->slots[ix->lru_head].lru_prev = s;
  else
    ix->lru_tail = s;
  ix->lru_head = s;
  ix->warm++;
  if (ix->warm <= ix->max_warm)
    return WP__NO_SLOT;
  uint32_t victim = ix->lru_tail;
  unlink_warm(ix, victim);
  ix->slots[victim].state = WP__SLOT_BUSY;
  ix->slots[victim].key = 0;
  ix->busy++;
  return victim;
}

void wp__index_counts(const wp__index *ix, wp_slot_counts *out) {
  out->total = ix->count;
  out->in_use = ix->in_use;
  out->warm = ix->warm;
  out->cold = ix->cold;
  out->pending = ix->busy;
}
