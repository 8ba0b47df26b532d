/* alloc.h — the pooling allocator: the only public header of alloc/.
 *
 * At start-up one pool reserves, with one mmap(PROT_NONE, MAP_NORESERVE)
 * each, the address space for every instance area, linear memory and table
 * the daemon will ever run at once. Requests then take slots out of those
 * reservations and give them back; nothing is mapped or unmapped on the hot
 * path except what copy-on-write images and resets need.
 *
 *   instance pool  [area 0][area 1]...          max_instance_bytes each
 *   memory pool    [guard][mem 0][guard][mem 1][guard]...   (guarded class)
 *                  mem i = max_memory_bytes, guards shared between neighbours
 *                  with protection keys (keys.c) slots are closer, each
 *                  with its stripe's key, and one guard follows the last
 *   small memories [mem 0][mem 1]...             (small class, optional)
 *                  mem i = small_memory_bytes, no guard: only for code that
 *                  checks every access against the memory's size itself
 *   table pool     [table 0][table 1]...        table_elements * element bytes
 *
 * alloc/ knows nothing about WebAssembly: a memory image is a list of
 * (offset, bytes) segments, a table is an array of fixed-size elements, and
 * the "module" a slot has affinity to is the image it last held.
 *
 * Thread safety: every function may be called from any thread, except
 * wp_pool_destroy(), which must not race with anything else on that pool.
 * A slot handle (wp_memory_slot, wp_table_slot, wp_instance_slot) belongs to
 * the one thread that acquired it until it is released.
 *
 * Errors: 0 or a negative WP_E* code from wp_errno.h.
 */
#ifndef WP_ALLOC_H
#define WP_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wp_errno.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The two memory-slot classes. Guard-page code (no bounds checks) may only
 * run in guarded slots; code with explicit bounds checks may run in either,
 * and is what small slots are for. The embedder pairs code and class. */
typedef enum wp_memory_class {
  WP_MEMORY_GUARDED = 0, /* max_memory_bytes + guard_bytes per slot */
  WP_MEMORY_SMALL = 1,   /* small_memory_bytes per slot, no guard */
} wp_memory_class;

/* Memory protection keys (pku) for the guarded class: see keys.c. */
typedef enum wp_keys_mode {
  WP_KEYS_OFF = 0,  /* never */
  WP_KEYS_AUTO = 1, /* when the CPU and kernel have at least two free keys */
  WP_KEYS_ON = 2,   /* required: wp_pool_create fails without them */
} wp_keys_mode;

/* guarded_memories default: total_instances * memories_per_instance. */
#define WP_POOL_DERIVED UINT32_MAX

/* Sizes of every pool and every limit. All byte sizes must be multiples of the
 * host page size. wp_pool_config_default() fills the documented defaults. */
typedef struct wp_pool_config {
  /* Instance slots: how many instances may be live at once. Default 1000. */
  uint32_t total_instances;
  /* Memory slots per instance slot (total memory slots = product). Default 1. */
  uint32_t memories_per_instance;
  /* Table slots per instance slot (total table slots = product). Default 1. */
  uint32_t tables_per_instance;
  /* Largest linear memory a slot can hold, bytes. Default 4 GiB. */
  uint64_t max_memory_bytes;
  /* Inaccessible bytes after each memory. wasm2c's signal-handler bounds
   * checks need base + 8 GiB to be memory or guard, so default 4 GiB. */
  uint64_t guard_bytes;
  /* Also put a guard before the first memory (neighbours share guards).
   * Default true. */
  bool guard_before;
  /* Largest table, in elements. Default 10000. */
  uint32_t table_elements;
  /* Bytes of one table element; set by the embedder (instance/ uses
   * sizeof(wasm_rt_funcref_t)), not by users. Default 8. */
  uint32_t table_element_bytes;
  /* Bytes of the instance area (the engine's per-instance struct and host
   * state). Default 1 MiB. */
  uint64_t max_instance_bytes;
  /* Bytes of written pages a release restores in place (copy from the image,
   * or zero) instead of dropping them with madvise, so that they stay
   * resident for the next holder, who then writes them without a page
   * fault. The written pages are found in /proc/self/pagemap wherever they
   * are in the memory; without pagemap, the leading keep_resident_bytes are
   * restored instead. Default 64 KiB. */
  uint64_t keep_resident_bytes;
  /* Restore the leading keep_resident_bytes (compare, copy) and madvise the
   * rest, without reading pagemap: the reset before written-page scans, kept
   * for tests and for benchmarks that compare the two. Default false. */
  bool reset_by_prefix;
  /* Leading bytes of a table cleared by memset instead of madvise. Default
   * 64 KiB. */
  uint64_t table_keep_resident_bytes;
  /* Free memory slots that keep an image mapped for affinity; past this many
   * the least recently used one is made cold. Default 100. */
  uint32_t max_unused_warm_slots;
  /* Released memory slots whose reset (madvise) is batched; 1 resets at once
   * on release. Default 1. */
  uint32_t decommit_batch_size;
  /* Run batched resets on a background thread instead of the releasing one.
   * Default false. */
  bool decommit_in_background;
  /* Budget of committed guest linear memory across every memory slot in
   * use: the sum of their accessible bytes. An acquire whose initial bytes
   * or a grow whose new bytes would pass it fails with WP_ELIMIT (memory.grow
   * then returns -1 to the guest, as the spec allows). 0: no budget beyond
   * the slots themselves. A page-size multiple. Default 0. */
  uint64_t max_committed_bytes;
  /* Guarded memory slots; 0: none. Default WP_POOL_DERIVED, which is
   * total_instances * memories_per_instance. A dense pool caps this: every
   * guarded slot reserves max_memory_bytes + guard_bytes of address space. */
  uint32_t guarded_memories;
  /* Small memory slots (no guard region); 0: none. Default 0. */
  uint32_t small_memories;
  /* Largest linear memory of a small slot, bytes. Default 64 MiB. */
  uint64_t small_memory_bytes;
  /* Stripe guarded slots across protection keys so that neighbours'
   * memory serves as each other's guard: the stride between slots shrinks
   * from max_memory + guard to max(max_memory, (max_memory + guard) /
   * stripes). Guest code must then run between wp_pool_keys_guest() and
   * wp_pool_keys_host(). Default WP_KEYS_OFF. */
  wp_keys_mode memory_protection_keys;
  /* Most keys the pool takes (at most 15). Default 15. */
  uint32_t max_memory_protection_keys;
} wp_pool_config;

void wp_pool_config_default(wp_pool_config *cfg);

/* Checks a config without reserving anything. On error returns WP_ECONFIG and,
 * if why is not NULL, writes "field: what is wrong" into why. */
int wp_pool_config_check(const wp_pool_config *cfg, char *why, size_t why_len);

/* guarded_memories with WP_POOL_DERIVED resolved. */
uint32_t wp_pool_guarded_memories(const wp_pool_config *cfg);

/* The address space a config reserves, pool by pool (wp_pool_create maps
 * exactly these), and what this process may reserve. */
typedef struct wp_pool_sizing {
  uint64_t guarded_reserved;  /* [guard] + guarded_memories * stride + trailing guard */
  uint32_t key_stripes;       /* protection-key stripes (1: none) */
  uint64_t guarded_stride;    /* max_memory + guard, less with stripes */
  uint64_t small_reserved;    /* small_memories * small_memory_bytes */
  uint64_t table_reserved;    /* table slots * table bytes (page-rounded) */
  uint64_t instance_reserved; /* total_instances * max_instance_bytes */
  uint64_t total_reserved;    /* the sum; UINT64_MAX when it overflows */
  /* User address space of this architecture (128 TiB on x86-64), or
   * RLIMIT_AS when that is lower, less what the process has mapped now. */
  uint64_t available_bytes;
  /* Memory slots that may hold mappings at once under vm.max_map_count
   * (UINT32_MAX when unknown): past it acquires answer pool exhausted
   * rather than risk a reset that cannot remap its slot. */
  uint32_t mapped_memory_cap;
} wp_pool_sizing;

/* Fills out for cfg (no reservation). Returns 0, or WP_ECONFIG with why
 * naming the pool and its figures when total_reserved exceeds available_bytes. */
int wp_pool_sizing_compute(const wp_pool_config *cfg, wp_pool_sizing *out, char *why,
                           size_t why_len);

/* ---- Memory images (copy-on-write, backed by one memfd) ------------------ */

typedef struct wp_image wp_image;

typedef struct wp_image_segment {
  uint64_t offset; /* byte offset in linear memory */
  const void *bytes;
  uint64_t length;
} wp_image_segment;

/* Lays the segments out once in a sealed memfd covering [0, image_bytes),
 * image_bytes = end of the last segment rounded up to a page. Later segments
 * overwrite earlier ones where they overlap. Returns WP_EINVAL if a segment
 * ends past max_bytes. *out has one reference. Zero segments give an image
 * with image_bytes == 0 (a valid "no data" image). */
int wp_image_create(const wp_image_segment *segments, size_t segment_count, uint64_t max_bytes,
                    wp_image **out);
void wp_image_retain(wp_image *image);
void wp_image_release(wp_image *image); /* frees at the last reference */
uint64_t wp_image_bytes(const wp_image *image);
/* Unique, never reused identity; the affinity key of slots holding it. */
uint64_t wp_image_id(const wp_image *image);

/* ---- The pool ------------------------------------------------------------ */

typedef struct wp_pool wp_pool;

/* Reserves every pool. why as in wp_pool_config_check(); WP_ESYS (with why
 * naming the pool) if the address space cannot be reserved. */
int wp_pool_create(const wp_pool_config *cfg, wp_pool **out, char *why, size_t why_len);
/* Unmaps everything. All slots must have been released. */
void wp_pool_destroy(wp_pool *pool);
const wp_pool_config *wp_pool_get_config(const wp_pool *pool);

/* Instance areas: zeroed on acquire, at least max_instance_bytes long. */
typedef struct wp_instance_slot {
  uint32_t index;
  void *area;
  uint64_t area_bytes;
} wp_instance_slot;

int wp_instance_slot_acquire(wp_pool *pool, wp_instance_slot *out); /* WP_EPOOL_EXHAUSTED */
/* used_bytes: how much of the area the holder may have written (cleared). */
void wp_instance_slot_release(wp_pool *pool, wp_instance_slot *slot, uint64_t used_bytes);

/* Linear memories. */
typedef struct wp_memory_request {
  wp_memory_class slot_class; /* WP_MEMORY_GUARDED unless set */
  const wp_image *image;      /* NULL: all zeroes */
  uint64_t initial_bytes;     /* accessible on acquire; >= image bytes */
  uint64_t maximum_bytes;     /* module's maximum; UINT64_MAX when it has none */
  /* 0: any slot. Else the pkey of a memory this instance already holds:
   * the slot comes from the same key stripe (all memories of an instance
   * must share one key, or the other key would open its neighbours). */
  int pkey;
} wp_memory_request;

typedef struct wp_memory_slot {
  uint32_t index;
  uint8_t *base;             /* first byte of linear memory */
  uint64_t accessible_bytes; /* current size; past it everything faults */
  uint64_t limit_bytes;      /* min(request maximum, the class's slot bytes) */
  wp_memory_class slot_class;
  bool affinity_hit; /* the image (or, without one, zeroes at this size) was
                        already in this slot */
  int pkey;          /* the slot's protection key; 0 without keys */
} wp_memory_slot;

/* Takes a memory slot holding exactly the image (or zeroes) in
 * [0, initial_bytes) and faulting everywhere past it, up to the end of the
 * trailing guard. Prefers a free slot that last held the same image, or,
 * for image NULL, zeroes at the same initial size (no system call then).
 * Only slots of req->slot_class are considered (no fallback to the other).
 * WP_EPOOL_EXHAUSTED when every slot is in use; WP_ELIMIT when initial_bytes
 * exceeds the slot size or the request's maximum, or would take the pool
 * past max_committed_bytes. Never copies image bytes. */
int wp_memory_acquire(wp_pool *pool, const wp_memory_request *req, wp_memory_slot *out);
/* Makes [0, new_bytes) accessible. WP_ELIMIT past limit_bytes or past the
 * pool's max_committed_bytes. */
int wp_memory_grow(wp_pool *pool, wp_memory_slot *slot, uint64_t new_bytes);
/* Gives the slot back; its bytes are reset before anyone can acquire it. */
void wp_memory_release(wp_pool *pool, wp_memory_slot *slot);

/* Tables: zeroed elements on acquire. */
typedef struct wp_table_slot {
  uint32_t index;
  void *elements;
  uint32_t capacity; /* elements that fit: min(max_elements, table_elements) */
  uint32_t size;     /* current size in elements */
} wp_table_slot;

int wp_table_acquire(wp_pool *pool, uint32_t initial_elements, uint32_t max_elements,
                     wp_table_slot *out);
int wp_table_grow(wp_pool *pool, wp_table_slot *slot, uint32_t new_elements); /* WP_ELIMIT */
void wp_table_release(wp_pool *pool, wp_table_slot *slot);

/* ---- Address arithmetic (O(1), no lock, async-signal-safe) -------------- */

/* The start of the instance area that contains addr, or NULL when addr is
 * not inside the instance pool. The engine keeps its owner record at the
 * start of each area, so anything it placed in an area (a memory or table
 * descriptor) leads back to its instance without a registry. */
void *wp_pool_instance_area_of(const wp_pool *pool, const void *addr);
/* True when addr is inside a memory reservation (either class): a fault
 * there is a guest's out-of-bounds access (every byte is a slot or a guard;
 * bounds-checked code in a small slot never faults past its size). */
bool wp_pool_memory_contains(const wp_pool *pool, const void *addr);

/* ---- Protection keys ------------------------------------------------------ */

/* How many keys (stripes) the pool runs with; 0 when keys are off. */
uint32_t wp_pool_keys_in_use(const wp_pool *pool);
/* The protection key of the memory slot holding addr (O(1), no lock); 0
 * without keys or outside the guarded class. */
int wp_pool_memory_pkey(const wp_pool *pool, const void *addr);
/* Before guest code runs on this thread: of the pool's keys, only those in
 * key_mask (bit 1 << pkey of each wp_memory_slot the guest may touch) stay
 * accessible. A no-op without keys. */
void wp_pool_keys_guest(const wp_pool *pool, uint32_t key_mask);
/* After guest code (also after a trap unwound it, since a signal handler
 * starts with the kernel's default rights): every key of the pool is
 * accessible again to this thread. A no-op without keys. */
void wp_pool_keys_host(const wp_pool *pool);

/* Runs every pending batched reset now (tests, shutdown). */
void wp_pool_flush_decommits(wp_pool *pool);

/* ---- Stats --------------------------------------------------------------- */

typedef struct wp_slot_counts {
  uint32_t total;
  uint32_t in_use;
  uint32_t warm;    /* free, still holding an image mapping or, without an
                       image, its accessible zero pages (memory pool) */
  uint32_t cold;    /* free, holding nothing */
  uint32_t pending; /* released, waiting for a batched reset */
} wp_slot_counts;

typedef struct wp_pool_stats {
  wp_slot_counts instances, memories, tables; /* memories: both classes */
  wp_slot_counts small_memories;              /* the small class's part */
  uint64_t affinity_hits;                     /* acquires that found their image mapped (or,
                                                 without image, zeroes at their size) */
  uint64_t affinity_misses;                   /* acquires that did not */
  uint64_t image_maps;                        /* mmap calls that attached an image */
  uint64_t resets;                            /* memory slot resets done */
  uint64_t bytes_decommitted;   /* bytes passed to madvise(MADV_DONTNEED), all pools */
  uint64_t warm_evictions;      /* warm slots made cold past max_unused_warm_slots */
  uint64_t committed_bytes;     /* accessible bytes of the memory slots in use */
  uint64_t max_committed_bytes; /* the budget (0: none) */
  uint64_t budget_refusals;     /* acquires and grows refused by the budget */
  uint32_t key_stripes;         /* protection-key stripes of the guarded class; 0: off */
} wp_pool_stats;

void wp_pool_get_stats(wp_pool *pool, wp_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* WP_ALLOC_H */
