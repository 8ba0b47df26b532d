/* memory_pool.c — linear-memory slots: acquire, grow, release and reset.
 *
 * Layout: one PROT_NONE reservation per slot class. The guarded class is
 * [guard?][mem 0][guard][mem 1][guard]... where mem i is max_memory_bytes
 * and each guard is guard_bytes; the small class is [mem 0][mem 1]... of
 * small_memory_bytes each, with no guard: code that runs there checks every
 * access against its memory's size, so the PROT_NONE tail of a slot is a
 * second line of defence, not the bounds check. Everything below holds for
 * both classes. Within a slot, while it is free or held:
 *   [0, image bytes)        MAP_PRIVATE mapping of the image's memfd, RW
 *   [image bytes, rw_bytes) anonymous, RW
 *   [rw_bytes, max)         PROT_NONE (the reservation itself)
 * Invariant of a free slot: [0, rw_bytes) reads exactly its image, then
 * zeroes. Making a slot cold (eviction) maps PROT_NONE over all of it. A
 * warm slot keeps its image mapped, so a holder of the same image gets it
 * with no system call at all (unless its initial size differs and an
 * mprotect must move the accessible end).
 *
 * Memories without an image are warm too, keyed by their accessible size
 * (zero_key): such a free slot reads zeroes over [0, rw_bytes), so a holder
 * asking for that initial size takes it with no system call, exactly like an
 * image hit. Keying by size rather than sharing one key means a hit never
 * needs an mprotect; a slot of another size is still better than a cold one
 * and only moves its accessible end.
 *
 * Reset design (measured on this 2-core VM, kernel 6.18; see
 * docs/BENCHMARKS.md): a page fault costs ~1.7 us, madvise(DONTNEED) of a
 * dirty page ~1.2 us, madvise of an untouched 1 MiB range ~0.6-0.8 us,
 * memcpy of 16 KiB ~0.16 us but of 64 KiB ~2 us (it no longer fits in L1).
 * Tracking written pages with userfaultfd WP_ASYNC + PAGEMAP_SCAN was tried:
 * the write-protect fault alone costs ~1.4 us and one scan 2-5 us, more than
 * the copy it would save, so it is not used. What the measurement of that
 * missed is that madvise(DONTNEED) in a multi-threaded process flushes the
 * TLB of every core running one of its threads (an IPI each): in the daemon
 * a third of a hello run's time was that shootdown and the page faults that
 * followed (docs/BENCHMARKS.md "Reset by written pages"). Hence:
 *   - one read of /proc/self/pagemap (written_pages.c) finds the pages the
 *     holder may have written (private anonymous ones: copy-on-write copies
 *     of image pages and anonymous pages past the image). Up to
 *     keep_resident_bytes of them are restored in place, by memcpy from the
 *     image's read-only view or memset past it (past 16 KiB of a run, each
 *     page is compared first and written only if it differs). They stay
 *     private and resident, so the next holder writes them without a page
 *     fault, and nothing is unmapped, so no other core is interrupted.
 *   - from the first written page past that budget (and past the first
 *     16 MiB, which are all that is scanned), the memory is dropped with one
 *     madvise(MADV_DONTNEED): private copies of image pages are dropped (the
 *     page reads the memfd again) and anonymous pages read zero again.
 *   - without pagemap (or with reset_by_prefix) the first keep_resident_bytes
 *     are restored whatever was written and the rest is dropped.
 *   - growth is undone with one mprotect(PROT_NONE).
 * The cost of a release is therefore one pread of pagemap + the restores of
 * the written pages, and a madvise only when they exceed the budget; it is
 * paid by the releasing thread or, with decommit_in_background, by the
 * decommit thread (decommit.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc_internal.h"

static wp__memory_class *class_of(wp__memory_pool *mp, uint32_t s) {
  return s < mp->classes[WP_MEMORY_GUARDED].count ? &mp->classes[WP_MEMORY_GUARDED]
                                                  : &mp->classes[WP_MEMORY_SMALL];
}

static uint8_t *slot_base(wp__memory_pool *mp, uint32_t s) {
  wp__memory_class *cls = class_of(mp, s);
  return cls->first_base + (uint64_t)(s - cls->first) * cls->stride;
}

/* The index of the stripe a class-local slot belongs to, and the slot's
 * number in it. */
static wp__index *stripe_of(wp__memory_class *cls, uint32_t local, uint32_t *pos) {
  *pos = local / cls->stripe_count;
  return &cls->stripes[local % cls->stripe_count];
}

static int slot_pkey(wp__memory_pool *mp, uint32_t s) {
  wp__memory_class *cls = class_of(mp, s);
  return cls->keys[(s - cls->first) % cls->stripe_count];
}

/* The key to give the kernel for slot s: none when stripes are simulated. */
static int kernel_pkey(wp__memory_pool *mp, uint32_t s) {
  return mp->keys_simulated ? 0 : slot_pkey(mp, s);
}

/* Image ids count up from 1 (image.c) and never reach bit 63, so keys with
 * that bit set cannot collide with an image's. The size is the accessible
 * end the free slot keeps, at most max_memory_bytes < 2^63. */
#define WP__ZERO_KEY_BIT (UINT64_C(1) << 63)

static uint64_t zero_key(uint64_t rw_bytes) {
  return WP__ZERO_KEY_BIT | rw_bytes;
}

/* The affinity key a free slot is filed under: what it holds. */
static uint64_t slot_key(const wp__memory_slot *slot) {
  return slot->image != NULL ? slot->image->id : zero_key(slot->rw_bytes);
}

static int class_init(wp__memory_class *cls, uint32_t first, uint32_t count, uint64_t slot_bytes,
                      const wp__stripes *layout, const int *keys, uint64_t leading,
                      uint32_t max_warm, const char *name, char *why, size_t why_len) {
  memset(cls, 0, sizeof(*cls));
  cls->first = first;
  cls->count = count;
  cls->slot_bytes = slot_bytes;
  cls->stride = layout->stride;
  cls->stripe_count = layout->stripes;
  if (count == 0)
    return 0;
  cls->reservation_bytes = wp__guarded_reservation(count, layout, leading);
  void *res = mmap(NULL, cls->reservation_bytes, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) {
    if (why != NULL && why_len > 0)
      snprintf(why, why_len, "%s: cannot reserve %llu bytes of address space (%s)", name,
               (unsigned long long)cls->reservation_bytes, strerror(errno));
    return WP_ESYS;
  }
  cls->reservation = res;
  cls->first_base = cls->reservation + leading;
  /* Stripe k holds local slots k, k + n, k + 2n, ...; the warm budget is
   * shared out so that the stripes together keep max_warm. The caller
   * never asks for more stripes than slots. */
  uint32_t n = cls->stripe_count;
  for (uint32_t k = 0; k < n; k++) {
    cls->keys[k] = keys != NULL ? keys[k] : 0;
    uint32_t slots = (count - k + n - 1) / n;
    uint32_t warm = max_warm / n + (k < max_warm % n ? 1 : 0);
    int rc = wp__index_init(&cls->stripes[k], slots, warm);
    if (rc != 0) {
      for (uint32_t j = 0; j < k; j++)
        wp__index_destroy(&cls->stripes[j]);
      munmap(cls->reservation, cls->reservation_bytes);
      cls->reservation = NULL;
      return rc;
    }
  }
  return 0;
}

static void class_fini(wp__memory_class *cls) {
  if (cls->reservation != NULL)
    munmap(cls->reservation, cls->reservation_bytes);
  for (uint32_t k = 0; k < cls->stripe_count; k++)
    wp__index_destroy(&cls->stripes[k]);
}

void wp__memory_class_counts(const wp__memory_class *cls, wp_slot_counts *out) {
  memset(out, 0, sizeof(*out));
  for (uint32_t k = 0; k < cls->stripe_count && cls->count > 0; k++) {
    wp_slot_counts c;
    wp__index_counts(&cls->stripes[k], &c);
    out->total += c.total;
    out->in_use += c.in_use;
    out->warm += c.warm;
    out->cold += c.cold;
    out->pending += c.pending;
  }
}

uint32_t wp__mapped_slot_cap(void) {
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  unsigned long long max_maps = 0;
  bool read = f && fscanf(f, "%llu", &max_maps) == 1;
  if (f)
    fclose(f);
  if (!read)
    return UINT32_MAX;
  /* Room for the process's own mappings (libraries, thread stacks, the
   * heap); three per memory slot that holds anything. */
  uint64_t margin = 8192;
  uint64_t slots = max_maps > margin ? (max_maps - margin) / WP__MAPS_PER_SLOT : 0;
  return slots > UINT32_MAX ? UINT32_MAX : (uint32_t)slots;
}

/* Takes the protection keys the guarded class is striped with (see
 * keys.c), and fills its layout. WP_ECONFIG when keys are required and
 * there are not two of them. */
static int take_keys(wp_pool *pool, uint32_t guarded, wp__stripes *layout, char *why,
                     size_t why_len) {
  const wp_pool_config *cfg = &pool->cfg;
  wp__memory_pool *mp = &pool->memories;
  if (mp->keys_simulated) {
    uint32_t n = mp->key_count < guarded ? mp->key_count : guarded;
    wp__stripe_layout(cfg->max_memory_bytes, cfg->guard_bytes, pool->page_bytes, n, layout);
    mp->key_count = layout->stripes > 1 ? layout->stripes : 0;
    for (uint32_t k = 0; k < mp->key_count; k++)
      mp->keys[k] = (int)k + 1; /* never given to the kernel; key_mask stays 0 */
    return 0;
  }
  wp__stripe_layout(cfg->max_memory_bytes, cfg->guard_bytes, pool->page_bytes, 0, layout);
  if (cfg->memory_protection_keys == WP_KEYS_OFF || guarded < 2)
    return 0;
  wp__stripes best;
  wp__stripe_layout(cfg->max_memory_bytes, cfg->guard_bytes, pool->page_bytes,
                    cfg->max_memory_protection_keys, &best);
  uint32_t want = best.stripes < guarded ? best.stripes : guarded;
  if (want < 2)
    return 0; /* nothing to stripe (no guard, or one slot) */
  mp->key_count = wp__keys_take(want, mp->keys);
  if (mp->key_count < 2) {
    wp__keys_give_back(mp->keys, mp->key_count);
    mp->key_count = 0;
    if (cfg->memory_protection_keys == WP_KEYS_AUTO)
      return 0;
    if (why != NULL && why_len > 0)
      snprintf(why, why_len,
               "memory_protection_keys: \"on\" but this CPU or kernel gives no protection "
               "keys (pkey_alloc: %s); use \"auto\" or \"off\"",
               strerror(errno));
    return WP_ECONFIG;
  }
  wp__stripe_layout(cfg->max_memory_bytes, cfg->guard_bytes, pool->page_bytes, mp->key_count,
                    layout);
  for (uint32_t k = 0; k < mp->key_count; k++)
    mp->key_mask |= 1u << mp->keys[k];
  return 0;
}

int wp__memory_pool_init(wp_pool *pool, char *why, size_t why_len) {
  const wp_pool_config *cfg = &pool->cfg;
  wp__memory_pool *mp = &pool->memories;
  mp->mapped_cap = wp__mapped_slot_cap();
  uint32_t guarded = wp_pool_guarded_memories(cfg);
  mp->count = guarded + cfg->small_memories;
  mp->slots = calloc(mp->count ? mp->count : 1, sizeof(*mp->slots));
  if (mp->slots == NULL)
    return WP_ENOMEM;
  wp__stripes layout;
  int rc = take_keys(pool, guarded, &layout, why, why_len);
  if (rc == 0)
    rc = class_init(&mp->classes[WP_MEMORY_GUARDED], 0, guarded, cfg->max_memory_bytes, &layout,
                    mp->keys, cfg->guard_before ? cfg->guard_bytes : 0, cfg->max_unused_warm_slots,
                    "memory pool", why, why_len);
  if (rc == 0) {
    wp__stripes small = {.stripes = 1, .stride = cfg->small_memory_bytes, .trailing = 0};
    rc = class_init(&mp->classes[WP_MEMORY_SMALL], guarded, cfg->small_memories,
                    cfg->small_memory_bytes, &small, NULL, 0, cfg->max_unused_warm_slots,
                    "small memory pool", why, why_len);
    if (rc != 0)
      class_fini(&mp->classes[WP_MEMORY_GUARDED]);
  }
  if (rc != 0) {
    if (!mp->keys_simulated)
      wp__keys_give_back(mp->keys, mp->key_count);
    free(mp->slots);
    return rc;
  }
  pthread_mutex_init(&mp->lock, NULL);
  mp->pagemap_fd = cfg->reset_by_prefix ? -1 : wp__pagemap_open();
  return 0;
}

void wp__memory_pool_fini(wp_pool *pool) {
  wp__memory_pool *mp = &pool->memories;
  for (uint32_t s = 0; s < mp->count; s++)
    wp_image_release(mp->slots[s].image);
  class_fini(&mp->classes[WP_MEMORY_GUARDED]);
  class_fini(&mp->classes[WP_MEMORY_SMALL]);
  if (!mp->keys_simulated)
    wp__keys_give_back(mp->keys, mp->key_count);
  if (mp->pagemap_fd >= 0)
    close(mp->pagemap_fd);
  free(mp->slots);
  pthread_mutex_destroy(&mp->lock);
}

/* Makes a slot cold: one PROT_NONE anonymous mapping over everything it had
 * accessible drops the image mapping and every resident page, so a cold slot
 * holds no memory. On failure the slot keeps its image; whoever acquires it
 * next tries again. */
static int unmap_image(wp__memory_pool *mp, uint32_t s) {
  wp__memory_slot *slot = &mp->slots[s];
  if (slot->image == NULL)
    return 0;
  uint64_t bytes = slot->rw_bytes > slot->image->bytes ? slot->rw_bytes : slot->image->bytes;
  void *at = mmap(slot_base(mp, s), bytes, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  if (at == MAP_FAILED)
    return WP_ESYS;
  wp_image_release(slot->image);
  slot->image = NULL;
  slot->rw_bytes = 0;
  return 0;
}

/* Moves the accessible end of the slot from rw_bytes to bytes. */
static int set_accessible(wp__memory_pool *mp, uint32_t s, uint64_t bytes) {
  wp__memory_slot *slot = &mp->slots[s];
  uint8_t *base = slot_base(mp, s);
  /* The reservation carries key 0: what becomes accessible gets the
   * slot's key here (mprotect would keep key 0). */
  if (slot->rw_bytes < bytes && wp__keys_protect(base + slot->rw_bytes, bytes - slot->rw_bytes,
                                                 PROT_READ | PROT_WRITE, kernel_pkey(mp, s)) != 0)
    return WP_ESYS;
  if (slot->rw_bytes > bytes && mprotect(base + bytes, slot->rw_bytes - bytes, PROT_NONE) != 0)
    return WP_ESYS;
  slot->rw_bytes = bytes;
  return 0;
}

/* Last resort when a reset system call fails: throw the slot's contents away
 * with a fresh PROT_NONE mapping. If even that fails we cannot promise
 * isolation, and continuing would leak one tenant's bytes to the next. */
static void scrub(wp__memory_pool *mp, uint32_t s, uint64_t bytes) {
  wp__memory_slot *slot = &mp->slots[s];
  if (slot->rw_bytes > bytes)
    bytes = slot->rw_bytes;
  if (bytes > 0 &&
      mmap(slot_base(mp, s), bytes, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
    fprintf(stderr, "wasmpool: cannot scrub memory slot %u (%s)\n", s, strerror(errno));
    abort();
  }
  wp_image_release(slot->image);
  slot->image = NULL;
  slot->rw_bytes = 0;
}

/* Takes bytes from the committed-memory budget; false (and counted) when
 * they do not fit. A CAS loop: acquires and grows run on many threads. */
static bool budget_charge(wp_pool *pool, uint64_t bytes) {
  uint64_t cap = pool->cfg.max_committed_bytes;
  if (cap == 0) {
    atomic_fetch_add_explicit(&pool->committed_bytes, bytes, memory_order_relaxed);
    return true;
  }
  uint_fast64_t now = atomic_load_explicit(&pool->committed_bytes, memory_order_relaxed);
  do {
    if (bytes > cap || now > cap - bytes) {
      atomic_fetch_add_explicit(&pool->budget_refusals, 1, memory_order_relaxed);
      return false;
    }
  } while (!atomic_compare_exchange_weak_explicit(&pool->committed_bytes, &now, now + bytes,
                                                  memory_order_relaxed, memory_order_relaxed));
  return true;
}

static void budget_return(wp_pool *pool, uint64_t bytes) {
  atomic_fetch_sub_explicit(&pool->committed_bytes, bytes, memory_order_relaxed);
}

/* Slots of both classes that may hold mappings: in use, warm, or out of the
 * index for a reset. (lock) */
static uint32_t mapped_slots(const wp__memory_pool *mp) {
  uint32_t n = 0;
  for (int c = 0; c < 2; c++)
    for (uint32_t k = 0; k < mp->classes[c].stripe_count; k++) {
      const wp__index *ix = &mp->classes[c].stripes[k];
      n += ix->in_use + ix->warm + ix->busy;
    }
  return n;
}

/* The stripe whose key is pkey; WP__NO_SLOT when cls has none such. */
static uint32_t stripe_of_key(const wp__memory_class *cls, int pkey) {
  for (uint32_t k = 0; k < cls->stripe_count; k++)
    if (cls->keys[k] == pkey)
      return k;
  return WP__NO_SLOT;
}

/* Which stripe of cls an acquire takes from (lock held): the one holding
 * the key pkey when the instance has a memory already; else one with a
 * free warm slot of the image; else the next one, in turn, with any free
 * slot. *busy tells whether the stripes it may use have slots waiting
 * for a reset. WP__NO_SLOT when none has a free slot. */
static uint32_t pick_stripe(wp__memory_class *cls, uint64_t key, int pkey, bool *busy) {
  uint32_t n = cls->stripe_count;
  *busy = false;
  if (cls->count == 0)
    return WP__NO_SLOT;
  if (pkey != 0 && n > 1) {
    uint32_t k = stripe_of_key(cls, pkey); /* the caller checked it exists */
    wp__index *ix = &cls->stripes[k];
    *busy = ix->busy > 0;
    return ix->warm + ix->cold > 0 ? k : WP__NO_SLOT;
  }
  for (uint32_t k = 0; n > 1 && k < n; k++)
    if (wp__index_has_warm(&cls->stripes[k], key))
      return k;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k = (cls->next_stripe + i) % n;
    wp__index *ix = &cls->stripes[k];
    *busy |= ix->busy > 0;
    if (ix->warm + ix->cold > 0) {
      cls->next_stripe = (k + 1) % n;
      return k;
    }
  }
  return WP__NO_SLOT;
}

int wp_memory_acquire(wp_pool *pool, const wp_memory_request *req, wp_memory_slot *out) {
  wp__memory_pool *mp = &pool->memories;
  memset(out, 0, sizeof(*out));
  wp_image *image = (wp_image *)req->image;
  if (image != NULL && image->bytes == 0)
    image = NULL; /* nothing to map: same as no image */
  if (req->slot_class != WP_MEMORY_GUARDED && req->slot_class != WP_MEMORY_SMALL)
    return WP_EINVAL;
  wp__memory_class *cls = &mp->classes[req->slot_class];
  int pkey = cls->stripe_count > 1 ? req->pkey : 0;
  if (pkey != 0 && stripe_of_key(cls, pkey) == WP__NO_SLOT)
    return WP_EINVAL;
  uint64_t limit = req->maximum_bytes < cls->slot_bytes ? req->maximum_bytes : cls->slot_bytes;
  if (req->initial_bytes > limit)
    return WP_ELIMIT;
  if (req->initial_bytes % pool->page_bytes != 0)
    return WP_EINVAL;
  if (image != NULL && image->bytes > req->initial_bytes)
    return WP_EINVAL;
  if (!budget_charge(pool, req->initial_bytes))
    return WP_ELIMIT;
  uint64_t key = image != NULL ? image->id : zero_key(req->initial_bytes);
  bool hit;
  uint64_t prev_key;
  uint32_t s;
  pthread_mutex_lock(&mp->lock);
  for (;;) {
    uint32_t mapped = mapped_slots(mp);
    bool busy;
    uint32_t k = pick_stripe(cls, key, pkey, &busy);
    wp__index *ix = k != WP__NO_SLOT ? &cls->stripes[k] : NULL;
    s = ix != NULL ? wp__index_acquire(ix, key, &hit, &prev_key) : WP__NO_SLOT;
    if (s != WP__NO_SLOT && !hit && prev_key == 0 && mapped >= mp->mapped_cap) {
      /* A cold slot would add mappings past what vm.max_map_count allows,
       * and a reset that cannot remap its slot cannot promise isolation:
       * refuse as a full pool (docs/CONFIG.md: raise the sysctl for dense
       * pools). Warm slots are reused as before. */
      wp__index_release(ix, s, 0);
      pthread_mutex_unlock(&mp->lock);
      budget_return(pool, req->initial_bytes);
      return WP_EPOOL_EXHAUSTED;
    }
    if (s != WP__NO_SLOT) {
      s = cls->first + s * cls->stripe_count + k;
      break;
    }
    /* Full, but busy slots (released and waiting for their reset, or being
     * made cold after an eviction) come back soon: flush and retry. */
    if (!busy) {
      pthread_mutex_unlock(&mp->lock);
      budget_return(pool, req->initial_bytes);
      return WP_EPOOL_EXHAUSTED;
    }
    pthread_mutex_unlock(&mp->lock);
    wp_pool_flush_decommits(pool);
    sched_yield();
    pthread_mutex_lock(&mp->lock);
  }
  pthread_mutex_unlock(&mp->lock);

  wp__memory_slot *slot = &mp->slots[s];
  uint8_t *base = slot_base(mp, s);
  int rc = 0;
  if (hit)
    atomic_fetch_add_explicit(&pool->affinity_hits, 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&pool->affinity_misses, 1, memory_order_relaxed);
  if (slot->image != image) {
    /* Another image is mapped: the new one replaces its head with one mmap,
     * and only a tail it does not cover needs anonymous pages again. */
    if (image != NULL && slot->image != NULL && slot->image->bytes <= image->bytes) {
      wp_image_release(slot->image);
      slot->image = NULL;
    }
    rc = unmap_image(mp, s);
    if (rc == 0 && image != NULL) {
      void *at =
          mmap(base, image->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, image->fd, 0);
      /* A fresh mapping carries key 0 whatever it replaced: give it the
       * slot's key, or the image would be open to every neighbour's guest
       * (the bug of Wasmtime's issue 13982). */
      if (at != MAP_FAILED && kernel_pkey(mp, s) != 0 &&
          wp__keys_protect(base, image->bytes, PROT_READ | PROT_WRITE, kernel_pkey(mp, s)) != 0)
        at = MAP_FAILED; /* scrub below maps PROT_NONE over the keyless mapping */
      if (at == MAP_FAILED) {
        rc = WP_ESYS;
      } else {
        wp_image_retain(image);
        slot->image = image;
        if (slot->rw_bytes < image->bytes)
          slot->rw_bytes = image->bytes;
        atomic_fetch_add_explicit(&pool->image_maps, 1, memory_order_relaxed);
      }
    }
  }
  if (rc == 0)
    rc = set_accessible(mp, s, req->initial_bytes);
  if (rc != 0) {
    /* A failed MAP_FIXED may have left the range unmapped: make it sane. */
    scrub(mp, s, image != NULL ? image->bytes : 0);
    wp__memory_slot_return(pool, s);
    budget_return(pool, req->initial_bytes);
    return rc;
  }
  slot->acquired_bytes = req->initial_bytes;
  out->index = s;
  out->base = base;
  out->accessible_bytes = req->initial_bytes;
  out->limit_bytes = limit;
  out->slot_class = req->slot_class;
  out->affinity_hit = hit;
  out->pkey = slot_pkey(mp, s);
  /* This thread may touch the memory next (data, snapshot globals): it
   * may be one that started before the pool took its keys. */
  wp_pool_keys_host(pool);
  return 0;
}

int wp_memory_grow(wp_pool *pool, wp_memory_slot *handle, uint64_t new_bytes) {
  wp__memory_pool *mp = &pool->memories;
  if (new_bytes <= handle->accessible_bytes)
    return 0;
  if (new_bytes > handle->limit_bytes)
    return WP_ELIMIT;
  if (new_bytes % pool->page_bytes != 0)
    return WP_EINVAL;
  uint64_t more = new_bytes - handle->accessible_bytes;
  if (!budget_charge(pool, more))
    return WP_ELIMIT;
  int rc = set_accessible(mp, handle->index, new_bytes);
  if (rc != 0) {
    budget_return(pool, more);
    return rc;
  }
  handle->accessible_bytes = new_bytes;
  return 0;
}

void wp_memory_release(wp_pool *pool, wp_memory_slot *handle) {
  wp__memory_pool *mp = &pool->memories;
  uint32_t s = handle->index;
  mp->slots[s].dirty_bytes = handle->accessible_bytes;
  /* The holder stops using the bytes here; a batched reset gives the pages
   * back a little later, which the budget does not wait for. */
  budget_return(pool, handle->accessible_bytes);
  memset(handle, 0, sizeof(*handle));
  if (pool->cfg.decommit_batch_size <= 1 && !pool->cfg.decommit_in_background) {
    wp__memory_slot_reset(pool, s);
    wp__memory_slot_return(pool, s);
    return;
  }
  wp__memory_class *cls = class_of(mp, s);
  uint32_t pos;
  wp__index *ix = stripe_of(cls, s - cls->first, &pos);
  pthread_mutex_lock(&mp->lock);
  wp__index_mark_busy(ix, pos);
  bool run_now = wp__decommit_push_locked(pool, s);
  pthread_mutex_unlock(&mp->lock);
  if (run_now)
    wp__decommit_run_batch(pool, pool->cfg.decommit_batch_size);
}

/* Past about 16 KiB the copy no longer fits in L1 and costs ~2 us per
 * 64 KiB; comparing first reads the clean pages without writing them and
 * copies only the pages that differ, which measured ~1.3 us per 64 KiB. */
#define WP__COMPARE_FIRST_BYTES (16u << 10)

static void restore_copy(uint8_t *to, const uint8_t *image, uint64_t bytes, uint64_t page) {
  if (bytes <= WP__COMPARE_FIRST_BYTES) {
    memcpy(to, image, bytes);
    return;
  }
  for (uint64_t at = 0; at < bytes; at += page)
    if (memcmp(to + at, image + at, page) != 0)
      memcpy(to + at, image + at, page);
}

/* Read-only zeroes to compare against: glibc's memcmp is vectorised and
 * stops at the first difference, where an OR over every word of the page
 * (the previous loop) was scalar at -O2 and took ~80% of a warm no-image
 * cycle (perf, docs/BENCHMARKS.md "Instance-level warm path"). */
static const uint8_t zero_block[4096];

static bool page_is_zero(const uint8_t *at, uint64_t page) {
  for (uint64_t done = 0; done < page; done += sizeof(zero_block)) {
    uint64_t chunk = page - done < sizeof(zero_block) ? page - done : sizeof(zero_block);
    if (memcmp(at + done, zero_block, chunk) != 0)
      return false;
  }
  return true;
}

static void restore_zero(uint8_t *to, uint64_t bytes, uint64_t page) {
  if (bytes <= WP__COMPARE_FIRST_BYTES) {
    memset(to, 0, bytes);
    return;
  }
  for (uint64_t at = 0; at < bytes; at += page)
    if (!page_is_zero(to + at, page))
      memset(to + at, 0, page);
}

/* Restores [at, at + bytes) of a slot to its image, then zeroes past it. */
static void restore_range(uint8_t *base, const wp_image *image, uint64_t at, uint64_t bytes,
                          uint64_t page) {
  uint64_t image_bytes = image != NULL ? image->bytes : 0;
  uint64_t end = at + bytes;
  if (at < image_bytes) {
    uint64_t copy_end = end < image_bytes ? end : image_bytes;
    restore_copy(base + at, image->view + at, copy_end - at, page);
    at = copy_end;
  }
  if (at < end)
    restore_zero(base + at, end - at, page);
}

/* Drops [at, end) with madvise; false when that failed. */
static bool decommit_range(wp_pool *pool, uint8_t *base, uint64_t at, uint64_t end) {
  if (at >= end)
    return true;
  if (madvise(base + at, end - at, MADV_DONTNEED) != 0)
    return false;
  atomic_fetch_add_explicit(&pool->bytes_decommitted, end - at, memory_order_relaxed);
  return true;
}

/* The reset without pagemap: the leading keep-resident bytes are restored
 * whatever was written, the rest is dropped. */
static bool reset_prefix(wp_pool *pool, wp__memory_slot *slot, uint8_t *base, uint64_t dirty) {
  uint64_t keep = pool->cfg.keep_resident_bytes < dirty ? pool->cfg.keep_resident_bytes : dirty;
  restore_range(base, slot->image, 0, keep, pool->page_bytes);
  return decommit_range(pool, base, keep, dirty);
}

/* Written pages are scanned up to this many bytes of a memory; past it they
 * are dropped unread (16 MiB: 32 KiB of pagemap, a few microseconds). */
#define WP__SCAN_MAX_BYTES (16ull << 20)

typedef struct written_reset {
  uint8_t *base;
  const wp_image *image;
  uint64_t page;
  uint64_t budget;    /* bytes of written pages that may still be restored */
  uint64_t drop_from; /* first offset past the budget (UINT64_MAX: none) */
} written_reset;

static bool restore_run(void *ctx, uint64_t at, uint64_t bytes, wp__page_kind kind) {
  written_reset *w = ctx;
  if (kind == WP__PAGE_UNSURE) {
    /* Compared, and written only where they differ; not charged: mostly
     * zero pages that reads mapped, which stay mapped and cost nothing. */
    restore_range(w->base, w->image, at, bytes, w->page);
    return true;
  }
  uint64_t kept = bytes < w->budget ? bytes : w->budget;
  restore_range(w->base, w->image, at, kept, w->page);
  w->budget -= kept;
  if (kept == bytes)
    return true;
  w->drop_from = at + kept;
  return false;
}

/* The reset by written pages: up to keep_resident_bytes of them are
 * restored in place wherever they are (and the unsure ones compared); from the first one past that
 * budget (and past the scanned range) the memory is dropped with one madvise. A slot whose holder
 * wrote little costs no system call but the pagemap read. Returns WP_ESYS when pagemap could not be
 * read (nothing lost: the caller falls back to the prefix reset, which restores everything again).
 */
static int reset_written(wp_pool *pool, wp__memory_slot *slot, uint8_t *base, uint64_t dirty,
                         bool *dropped_ok) {
  uint64_t scanned = dirty < WP__SCAN_MAX_BYTES ? dirty : WP__SCAN_MAX_BYTES;
  written_reset w = {.base = base,
                     .image = slot->image,
                     .page = pool->page_bytes,
                     .budget = pool->cfg.keep_resident_bytes,
                     .drop_from = UINT64_MAX};
  int rc =
      wp__written_runs(pool->memories.pagemap_fd, base, scanned, pool->page_bytes, restore_run, &w);
  if (rc != 0)
    return rc;
  uint64_t drop_from = w.drop_from < scanned ? w.drop_from : scanned;
  *dropped_ok = decommit_range(pool, base, drop_from, dirty);
  return 0;
}

void wp__memory_slot_reset(wp_pool *pool, uint32_t s) {
  wp__memory_pool *mp = &pool->memories;
  wp__memory_slot *slot = &mp->slots[s];
  uint8_t *base = slot_base(mp, s);
  uint64_t dirty = slot->dirty_bytes;
  bool ok = true;
  wp_pool_keys_host(pool); /* the restores below write the slot */
  if (mp->pagemap_fd < 0 || reset_written(pool, slot, base, dirty, &ok) != 0)
    ok = reset_prefix(pool, slot, base, dirty);
  if (!ok) {
    scrub(mp, s, dirty);
    goto done;
  }
  /* Undo growth so the next holder faults past its own initial size. */
  if (slot->rw_bytes > slot->acquired_bytes && set_accessible(mp, s, slot->acquired_bytes) != 0)
    scrub(mp, s, dirty);
done:
  slot->dirty_bytes = 0;
  atomic_fetch_add_explicit(&pool->resets, 1, memory_order_relaxed);
}

/* Makes evicted warm slots cold; they were taken out of the index as busy. */
static void make_cold(wp_pool *pool, uint32_t victim) {
  wp__memory_pool *mp = &pool->memories;
  while (victim != WP__NO_SLOT) {
    /* scrub also drops the resident zero pages of a slot without image, so
     * a cold slot holds no memory whatever it held while warm. */
    if (mp->slots[victim].image == NULL || unmap_image(mp, victim) != 0)
      scrub(mp, victim, 0);
    atomic_fetch_add_explicit(&pool->warm_evictions, 1, memory_order_relaxed);
    wp__memory_class *cls = class_of(mp, victim);
    uint32_t local = victim - cls->first, pos;
    wp__index *ix = stripe_of(cls, local, &pos);
    pthread_mutex_lock(&mp->lock);
    uint32_t next = wp__index_release(ix, pos, 0);
    pthread_mutex_unlock(&mp->lock);
    /* The next victim comes from the same stripe. */
    victim = next == WP__NO_SLOT
                 ? WP__NO_SLOT
                 : cls->first + next * cls->stripe_count + local % cls->stripe_count;
  }
}

void wp__memory_slot_return(wp_pool *pool, uint32_t s) {
  wp__memory_slots_return(pool, &s, 1);
}

void wp__memory_slots_return(wp_pool *pool, const uint32_t *slots, uint32_t count) {
  wp__memory_pool *mp = &pool->memories;
  uint32_t victims[64];
  uint32_t done = 0;
  while (done < count) {
    uint32_t victim_count = 0;
    pthread_mutex_lock(&mp->lock);
    for (; done < count && victim_count < 64; done++) {
      wp__memory_class *cls = class_of(mp, slots[done]);
      uint32_t local = slots[done] - cls->first, pos;
      wp__index *ix = stripe_of(cls, local, &pos);
      uint32_t victim = wp__index_release(ix, pos, slot_key(&mp->slots[slots[done]]));
      if (victim != WP__NO_SLOT)
        victims[victim_count++] =
            cls->first + victim * cls->stripe_count + local % cls->stripe_count;
    }
    pthread_mutex_unlock(&mp->lock);
    for (uint32_t v = 0; v < victim_count; v++)
      make_cold(pool, victims[v]);
  }
}
