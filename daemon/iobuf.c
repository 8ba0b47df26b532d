/* iobuf.c — memory for the bytes a connection keeps while its client lags.
 *
 * A client that pipelines and never reads makes its connection keep, for as
 * long as it stays open, the unparsed rest of its last read (up to 16 KiB)
 * and the answers its socket did not take (a batch of 32 is ~5 KiB, in an
 * 8 KiB buffer). In jemalloc, an allocation of a page or more has pages of
 * its own: an extent (16 KiB and up) or a one-region slab (the 4 KiB and
 * 8 KiB classes). jemalloc describes every extent with a descriptor from its
 * base allocator, which never returns memory to the system, and maps each
 * extent's pages in its radix tree. So 1,000 such clients left ~0.4 MiB of
 * descriptors and radix-tree pages resident after they had all closed, with
 * everything they had allocated freed (docs/BENCHMARKS.md).
 *
 * Here such bytes get a mapping of their own, and munmap returns all of it.
 * Smaller ones stay with malloc: they share jemalloc's slabs and cost no
 * descriptor of their own. Mappings of WP_IOBUF_BLOCK bytes are kept for
 * reuse, a few per loop, until the loop's last connection closes.
 *
 * Under AddressSanitizer the bytes past len and the kept blocks are
 * poisoned, so these buffers are checked as malloc's are.
 */
#include "iobuf.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "wp_asan.h"
#ifdef WP_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Unpoisoned first: the next mapping at this address starts clean. */
static void unmap(void *p, size_t size) {
  UNPOISON(p, size);
  munmap(p, size);
}

void *wp_iobuf_alloc(wp_iobuf_cache *cache, size_t len, size_t *map_len) {
  *map_len = 0;
  if (len < WP_IOBUF_MIN)
    return malloc(len);
  size_t size = len <= WP_IOBUF_BLOCK ? WP_IOBUF_BLOCK : len;
  void *p;
  if (size == WP_IOBUF_BLOCK && cache->count > 0) {
    p = cache->blocks[--cache->count];
    UNPOISON(p, size);
  } else {
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return malloc(len); /* out of mappings (vm.max_map_count): malloc still serves */
  }
  POISON((char *)p + len, size - len);
  *map_len = size;
  return p;
}

void wp_iobuf_free(wp_iobuf_cache *cache, void *p, size_t map_len) {
  if (map_len == 0) {
    free(p);
    return;
  }
  if (map_len == WP_IOBUF_BLOCK && cache->count < WP_IOBUF_KEEP) {
    POISON(p, map_len);
    cache->blocks[cache->count++] = p;
    return;
  }
  unmap(p, map_len);
}

void wp_iobuf_trim(wp_iobuf_cache *cache) {
  while (cache->count > 0)
    unmap(cache->blocks[--cache->count], WP_IOBUF_BLOCK);
}
