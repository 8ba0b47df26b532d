/* iobuf.h — memory for the bytes a connection keeps while its client lags
 * behind: the unparsed rest of a read, answers the socket did not take.
 * iobuf.c says why these are not plain malloc.
 */
#ifndef WP_DAEMON_IOBUF_H
#define WP_DAEMON_IOBUF_H

#include <stddef.h>

/* From this size on a jemalloc allocation has pages of its own (below it,
 * wp_iobuf_alloc is malloc). */
#define WP_IOBUF_MIN 4096
/* The block most of them fit in: one read's worth (READ_BUFFER_BYTES). */
#define WP_IOBUF_BLOCK 16384
/* Free blocks a loop keeps for reuse (at most 128 KiB of pages). */
#define WP_IOBUF_KEEP 8

/* One loop's free blocks: a pipelining client hands blocks back and forth
 * with every batch, and reusing them costs no system call. Used only on the
 * loop's thread. Zeroed is empty. */
typedef struct wp_iobuf_cache {
  void *blocks[WP_IOBUF_KEEP];
  unsigned count;
} wp_iobuf_cache;

/* len bytes, or NULL. *map_len says where they live, for wp_iobuf_free:
 * 0 for malloc, else the length of their mapping. */
void *wp_iobuf_alloc(wp_iobuf_cache *cache, size_t len, size_t *map_len);
void wp_iobuf_free(wp_iobuf_cache *cache, void *p, size_t map_len);
/* Unmaps the kept blocks: for a loop whose last connection closed. */
void wp_iobuf_trim(wp_iobuf_cache *cache);

#endif
