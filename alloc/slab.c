/* slab.c — the plain slot pools behind tables and instance areas.
 *
 * A plain pool is one read-write reservation cut into equal slots, with an
 * index allocator (index.c, never warm) to hand them out. Slots are zero when
 * handed out: they start as fresh anonymous memory and every release clears
 * what the holder used, by memset for the first keep bytes (they stay
 * resident, no page fault next time) and madvise(MADV_DONTNEED) past that.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc_internal.h"

int wp__plain_pool_init(wp__plain_pool *pp, uint32_t count, uint64_t slot_bytes, const char *name,
                        char *why, size_t why_len) {
  memset(pp, 0, sizeof(*pp));
  pp->count = count;
  pp->slot_bytes = slot_bytes;
  if (slot_bytes && (slot_bytes & (slot_bytes - 1)) == 0)
    pp->slot_shift = (unsigned)__builtin_ctzll(slot_bytes);
  pp->reservation_bytes = (uint64_t)count * slot_bytes;
  void *res = mmap(NULL, pp->reservation_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) {
    if (why != NULL && why_len > 0)
      snprintf(why, why_len, "%s: cannot reserve %llu bytes of address space (%s)", name,
               (unsigned long long)pp->reservation_bytes, strerror(errno));
    return WP_ESYS;
  }
  pp->reservation = res;
  int rc = wp__index_init(&pp->index, count, 0);
  if (rc != 0) {
    munmap(pp->reservation, pp->reservation_bytes);
    return rc;
  }
  pthread_mutex_init(&pp->lock, NULL);
  return 0;
}

void wp__plain_pool_fini(wp__plain_pool *pp) {
  munmap(pp->reservation, pp->reservation_bytes);
  wp__index_destroy(&pp->index);
  pthread_mutex_destroy(&pp->lock);
}

static uint64_t plain_slot_clear(wp__plain_pool *pp, uint32_t slot, uint64_t used, uint64_t keep,
                                 uint64_t page_bytes) {
  uint8_t *at = pp->reservation + (uint64_t)slot * pp->slot_bytes;
  if (used > pp->slot_bytes)
    used = pp->slot_bytes;
  uint64_t copy = used < keep ? used : keep;
  memset(at, 0, copy);
  if (used <= copy)
    return 0;
  /* keep is a page multiple, so at + copy is page aligned here. */
  uint64_t end = (used + page_bytes - 1) / page_bytes * page_bytes;
  if (madvise(at + copy, end - copy, MADV_DONTNEED) != 0) {
    memset(at + copy, 0, used - copy);
    return 0;
  }
  return end - copy;
}

uint32_t wp__plain_slot_take(wp__plain_pool *pp, uint8_t **at) {
  bool hit;
  uint64_t prev_key;
  pthread_mutex_lock(&pp->lock);
  uint32_t slot = wp__index_acquire(&pp->index, 0, &hit, &prev_key);
  pthread_mutex_unlock(&pp->lock);
  if (slot != WP__NO_SLOT)
    *at = pp->reservation + (uint64_t)slot * pp->slot_bytes;
  return slot;
}

uint64_t wp__plain_slot_put(wp__plain_pool *pp, uint32_t slot, uint64_t used, uint64_t keep,
                            uint64_t page_bytes) {
  /* Cleared before it is free, so no other holder can see the old bytes. */
  uint64_t decommitted = plain_slot_clear(pp, slot, used, keep, page_bytes);
  pthread_mutex_lock(&pp->lock);
  wp__index_release(&pp->index, slot, 0);
  pthread_mutex_unlock(&pp->lock);
  return decommitted;
}
