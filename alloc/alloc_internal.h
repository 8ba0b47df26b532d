/* alloc_internal.h — state shared by the files of alloc/ (never included
 * outside it).
 *
 * Locking: each of the three slot pools has one mutex that protects its index
 * allocator, its per-slot bookkeeping fields marked "(lock)" and, for the
 * memory pool, the decommit queue. System calls (mmap, madvise, mprotect) and
 * copies run outside the lock: a slot taken out of the index is owned by the
 * one thread working on it, so nobody else reads its mapping fields.
 */
#ifndef WP_ALLOC_INTERNAL_H
#define WP_ALLOC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "alloc.h"

#define WP__NO_SLOT UINT32_MAX

/* ---- index.c: which free slot to hand out ------------------------------- */

typedef struct wp__index_slot {
  uint64_t key;      /* affinity key (image id) while warm; 0 when cold (lock) */
  uint32_t key_prev; /* neighbours among free warm slots of the same key, or the
                        cold stack's next when cold (lock) */
  uint32_t key_next;
  uint32_t lru_prev; /* neighbours in the warm LRU list, MRU at lru_head (lock) */
  uint32_t lru_next;
  uint8_t state; /* wp__index_state (lock) */
} wp__index_slot;

typedef struct wp__affinity_head {
  uint64_t key;
  uint32_t first;      /* most recently freed warm slot of this key */
  uint32_t chain_next; /* next head in the same hash bucket, or next free head */
} wp__affinity_head;

typedef struct wp__index {
  uint32_t count;
  uint32_t max_warm;
  wp__index_slot *slots;
  wp__affinity_head *heads; /* at most one per warm slot, so count of them */
  uint32_t *buckets;        /* hash of key -> first head, WP__NO_SLOT ends */
  uint32_t bucket_mask;
  uint32_t free_head; /* stack of unused heads */
  uint32_t cold_top;  /* stack of cold free slots */
  uint32_t lru_head, lru_tail;
  uint32_t in_use, warm, cold, busy; /* busy: out of the index, not in use */
} wp__index;

enum wp__index_state { WP__SLOT_IN_USE, WP__SLOT_WARM, WP__SLOT_COLD, WP__SLOT_BUSY };

int wp__index_init(wp__index *ix, uint32_t count, uint32_t max_warm);
void wp__index_destroy(wp__index *ix);
/* Takes a free slot: a warm one holding key (*hit = true), else a cold one,
 * else the least recently used warm one (*prev_key = its key, which the
 * caller must replace). WP__NO_SLOT when every slot is taken. key 0 never
 * hits. */
uint32_t wp__index_acquire(wp__index *ix, uint64_t key, bool *hit, uint64_t *prev_key);
/* Gives a slot back, warm under key (cold when key is 0). If that leaves more
 * than max_warm warm slots, the least recently used one is taken out as
 * "busy" and returned: the caller makes it cold and calls
 * wp__index_release(ix, slot, 0). Otherwise returns WP__NO_SLOT. */
uint32_t wp__index_release(wp__index *ix, uint32_t slot, uint64_t key);
/* True when a free warm slot holds key (nothing is taken). */
bool wp__index_has_warm(wp__index *ix, uint64_t key);
/* Marks a slot in use as busy (released, reset pending). */
void wp__index_mark_busy(wp__index *ix, uint32_t slot);
void wp__index_counts(const wp__index *ix, wp_slot_counts *out);

/* ---- image.c ------------------------------------------------------------- */

struct wp_image {
  atomic_uint refs;
  uint64_t id;
  uint64_t bytes;      /* page multiple; 0 for an image without data */
  int fd;              /* sealed memfd, -1 when bytes == 0 */
  const uint8_t *view; /* read-only shared mapping: the source of restores */
};

/* ---- memory_pool.c ------------------------------------------------------- */

typedef struct wp__memory_slot {
  /* Owned by whoever holds the slot out of the index (holder or resetter). */
  wp_image *image;         /* mapped at [0, image->bytes) or NULL; one reference */
  uint64_t rw_bytes;       /* [0, rw_bytes) is PROT_READ|PROT_WRITE */
  uint64_t acquired_bytes; /* initial size given to the current holder */
  uint64_t dirty_bytes;    /* accessible size at release: what reset restores */
  uint32_t pending_next;   /* decommit queue link */
} wp__memory_slot;

/* ---- keys.c: memory protection keys and the striped layout ------------- */

/* Keys a pool may take: x86-64 has 16, key 0 is everyone's default. */
#define WP__MAX_STRIPES 15u

typedef struct wp__stripes {
  uint32_t stripes;  /* 1 without keys */
  uint64_t stride;   /* bytes from one slot's base to the next */
  uint64_t trailing; /* guard past the last slot's stride: window - stride */
} wp__stripes;

/* The layout of guarded slots with `keys` keys (0 or 1: none): how many
 * stripes help, the stride, the trailing guard. Pure arithmetic. */
void wp__stripe_layout(uint64_t max_memory, uint64_t guard, uint64_t page, uint32_t keys,
                       wp__stripes *out);
/* count slots of that layout after leading bytes of guard; UINT64_MAX on
 * overflow. */
uint64_t wp__guarded_reservation(uint32_t count, const wp__stripes *layout, uint64_t leading);
/* pkey_alloc up to max keys (never more than WP__MAX_STRIPES) into keys;
 * returns how many. 0 where the CPU or kernel has none. */
uint32_t wp__keys_take(uint32_t max, int *keys);
void wp__keys_give_back(const int *keys, uint32_t count);
/* How many keys wp__keys_take would get now (takes and frees them). */
uint32_t wp__keys_available(uint32_t max);
/* mprotect that gives the range key (pkey_mprotect) when key > 0. */
int wp__keys_protect(void *at, uint64_t bytes, int prot, int key);

/* One slot class: its own reservation and indexes. Slot numbers are global
 * across classes (guarded first, then small), so the decommit queue and the
 * slots array need not know about classes; the class works in local
 * numbers (global - first). With protection keys the guarded class is cut
 * into stripes: local slot l belongs to stripe l % stripe_count, which has
 * its own index (in which it is number l / stripe_count) and its own key,
 * so an instance can take all its memories from one stripe. */
typedef struct wp__memory_class {
  wp__index stripes[WP__MAX_STRIPES]; /* [0, stripe_count) used (lock) */
  int keys[WP__MAX_STRIPES];          /* stripe -> protection key; 0: none */
  uint32_t stripe_count;              /* 1 without keys */
  uint32_t next_stripe;               /* where an acquire with no stripe wish starts (lock) */
  uint8_t *reservation;               /* NULL when count is 0 */
  uint64_t reservation_bytes;
  uint8_t *first_base; /* base of local slot 0 */
  uint64_t slot_bytes; /* largest memory: max_memory_bytes or small_memory_bytes */
  uint64_t stride;     /* base to base: slot_bytes + guard, less with stripes */
  uint32_t first;      /* global number of local slot 0 */
  uint32_t count;
} wp__memory_class;

typedef struct wp__memory_pool {
  pthread_mutex_t lock;
  wp__memory_class classes[2]; /* by wp_memory_class */
  wp__memory_slot *slots;      /* every class's, by global number */
  uint32_t count;              /* both classes */
  /* Memory slots that may hold mappings at once (in use, warm or being
   * reset), from vm.max_map_count: each splits its reservation into up to
   * three kernel mappings, and a failed mmap there would leave a slot we
   * cannot scrub. UINT32_MAX when the sysctl cannot be read. (lock) */
  uint32_t mapped_cap;
  /* Protection keys the pool took (wp__keys_take) and their bits
   * (1 << key); 0 when the pool runs without keys. */
  int keys[WP__MAX_STRIPES];
  uint32_t key_count;
  uint32_t key_mask;
  /* Tests only (wp__pool_create_simulated): stripes numbered 1..n with no
   * key taken or applied, so that the stripe bookkeeping can be tested on
   * machines without pku. Memories are then not isolated past their own
   * size from their neighbours. */
  bool keys_simulated;
  /* /proc/self/pagemap, read by resets to find the pages a holder wrote;
   * -1 when it cannot be opened (or cfg.reset_by_prefix), and resets then
   * restore the keep-resident prefix and madvise the rest. */
  int pagemap_fd;
} wp__memory_pool;

/* ---- written_pages.c ----------------------------------------------------- */

/* Opens /proc/self/pagemap read-only; -1 on failure. */
int wp__pagemap_open(void);
typedef enum wp__page_kind {
  WP__PAGE_CLEAN,   /* not present, or the image's page-cache page: unchanged */
  WP__PAGE_WRITTEN, /* an exclusive private page (or swapped out): written */
  WP__PAGE_UNSURE,  /* the zero page, or a private page shared since a fork */
} wp__page_kind;
/* Called with one run of pages of one kind (never CLEAN), [offset, offset +
 * bytes) from the scanned base; returns false to stop the scan. */
typedef bool (*wp__page_run_fn)(void *ctx, uint64_t offset, uint64_t bytes, wp__page_kind kind);
/* Calls visit for every run of pages in [base, base + bytes) that this
 * process may have written, in address order. bytes is a multiple of page.
 * Returns 0, or WP_ESYS when pagemap could not be read (visit may have run
 * for a prefix). */
int wp__written_runs(int pagemap_fd, const uint8_t *base, uint64_t bytes, uint64_t page,
                     wp__page_run_fn visit, void *ctx);

/* ---- decommit.c ---------------------------------------------------------- */

typedef struct wp__decommit_queue {
  /* Pending memory slots, released but not reset yet (memory pool lock). */
  uint32_t head, count;
  uint32_t in_flight;     /* taken out of the queue, reset running (lock) */
  pthread_cond_t wake;    /* background thread: a batch is ready or stop */
  pthread_cond_t drained; /* in_flight dropped to zero */
  pthread_t thread;
  bool thread_running;
  bool stop;
} wp__decommit_queue;

/* ---- table_pool.c / instance_pool.c -------------------------------------- */

typedef struct wp__plain_pool {
  pthread_mutex_t lock;
  wp__index index;
  uint8_t *reservation;
  uint64_t reservation_bytes;
  uint64_t slot_bytes;
  /* log2(slot_bytes) when it is a power of two, else 0: the engine maps an
   * address to its instance area on every memory/table bind and grow, and a
   * shift is cheaper than a 64-bit division there. */
  unsigned slot_shift;
  uint32_t count;
} wp__plain_pool;

/* ---- pool.c -------------------------------------------------------------- */

struct wp_pool {
  wp_pool_config cfg;
  uint64_t page_bytes;
  wp__memory_pool memories;
  wp__decommit_queue decommits;
  wp__plain_pool tables;
  wp__plain_pool instances;
  /* Counters are atomics so that readers of stats take no lock. */
  atomic_uint_fast64_t affinity_hits, affinity_misses, image_maps, resets, bytes_decommitted,
      warm_evictions;
  /* Accessible bytes of the memory slots in use, charged on acquire and
   * grow (before the pages are made accessible) and given back on release;
   * never above cfg.max_committed_bytes when that is set. */
  atomic_uint_fast64_t committed_bytes, budget_refusals;
};

/* Kernel mappings one memory slot may split into (image, rest of its
 * accessible bytes, the inaccessible tail). */
#define WP__MAPS_PER_SLOT 3u
/* How many memory slots may hold mappings at once under vm.max_map_count
 * (UINT32_MAX when it cannot be read). */
uint32_t wp__mapped_slot_cap(void);

int wp__memory_pool_init(wp_pool *pool, char *why, size_t why_len);
/* wp_pool_create; with simulated_stripes > 1, the guarded class is striped
 * as if that many keys existed, and none is used (tests of the stripe
 * bookkeeping on machines without pku; never for guests). */
int wp__pool_create(const wp_pool_config *cfg, uint32_t simulated_stripes, wp_pool **out, char *why,
                    size_t why_len);
void wp__memory_pool_fini(wp_pool *pool);
/* The slot counts of a class, summed over its stripes. (lock) */
void wp__memory_class_counts(const wp__memory_class *cls, wp_slot_counts *out);
/* Restores a released slot to its image (or zeroes) and undoes growth. */
void wp__memory_slot_reset(wp_pool *pool, uint32_t slot);
/* Puts a reset slot back in the index (warm when it holds an image), and makes
 * cold any warm slot evicted by that. Takes the memory pool lock. */
void wp__memory_slot_return(wp_pool *pool, uint32_t slot);
/* Like wp__memory_slot_return for many slots; caller holds no lock. */
void wp__memory_slots_return(wp_pool *pool, const uint32_t *slots, uint32_t count);

int wp__decommit_init(wp_pool *pool);
void wp__decommit_fini(wp_pool *pool);
/* Queues a released slot (memory pool lock held by the caller). Returns true
 * when the caller must run wp__decommit_run_batch() (synchronous mode). */
bool wp__decommit_push_locked(wp_pool *pool, uint32_t slot);
/* Takes up to max pending slots out of the queue, resets and returns them.
 * Returns how many it reset. Caller holds no lock. */
uint32_t wp__decommit_run_batch(wp_pool *pool, uint32_t max);

int wp__plain_pool_init(wp__plain_pool *pp, uint32_t count, uint64_t slot_bytes, const char *name,
                        char *why, size_t why_len);
void wp__plain_pool_fini(wp__plain_pool *pp);
/* Takes a free slot of a plain pool: its index and first byte, or
 * WP__NO_SLOT when every slot is held. */
uint32_t wp__plain_slot_take(wp__plain_pool *pp, uint8_t **at);
/* Zeroes [0, used) of a plain slot (memset up to keep bytes, madvise after)
 * and frees it. Returns the bytes passed to madvise. */
uint64_t wp__plain_slot_put(wp__plain_pool *pp, uint32_t slot, uint64_t used, uint64_t keep,
                            uint64_t page_bytes);

#endif /* WP_ALLOC_INTERNAL_H */
