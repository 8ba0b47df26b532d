/* keys.c — memory protection keys: taking them, the striped layout of the
 * guarded class, and switching a thread between host and guest rights.
 *
 * Why: a guarded slot reserves max_memory + guard bytes because wasm2c's
 * guard-page code needs every access below base + 8 GiB to be in bounds or
 * to fault. With protection keys (x86-64 pku), the guard of one slot can be
 * the memory of its neighbours, as in Wasmtime's memory_protection_keys:
 * slots are laid out `stride` bytes apart, slot i gets the key of stripe
 * i % stripes, and while guest code runs its thread's PKRU denies every
 * stripe key but its instance's. An access past a memory then lands either
 * in the slot's own inaccessible tail, in a slot of another stripe (denied:
 * SEGV_PKUERR, still inside the memory reservation, so the engine reports
 * it as out of bounds), or in the reservation's trailing guard.
 *
 * The arithmetic: the bytes an access may reach from a slot's base are
 * window = max_memory + guard. They cover the slot itself and the next
 * floor((window - 1) / stride) slots; those must all be of other stripes,
 * which holds when stride >= window / stripes. And a slot must hold its
 * largest memory, so stride >= max_memory. Past the last slot the
 * reservation keeps window - stride bytes of plain guard.
 *
 * The PKRU register holds two bits per key (access disable, write
 * disable). Host code runs with the pool's keys allowed; guest code with
 * all of them denied but its own. Threads start with the rights of the
 * thread that created them, and a signal handler starts with the kernel's
 * default rights (our keys denied): the fault and deadline handlers touch
 * no guest memory, and after one unwinds a call the engine sets host rights
 * again (wp_pool_keys_host).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc_internal.h"

#if defined(__x86_64__)
static inline uint32_t read_pkru(void) {
  uint32_t eax, edx;
  /* rdpkru, spelled as bytes: older assemblers lack the mnemonic. */
  __asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
  return eax;
}

static inline void write_pkru(uint32_t value) {
  __asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(value), "c"(0), "d"(0) : "memory");
}
#define WP__HAVE_PKRU 1
#endif

uint32_t wp__keys_take(uint32_t max, int *keys) {
  uint32_t got = 0;
#ifdef WP__HAVE_PKRU
  if (max > WP__MAX_STRIPES)
    max = WP__MAX_STRIPES;
  while (got < max) {
    int key = pkey_alloc(0, 0);
    if (key < 0)
      break;
    keys[got++] = key;
  }
#else
  (void)max;
  (void)keys;
#endif
  return got;
}

void wp__keys_give_back(const int *keys, uint32_t count) {
#ifdef WP__HAVE_PKRU
  for (uint32_t i = 0; i < count; i++)
    pkey_free(keys[i]);
#else
  (void)keys;
  (void)count;
#endif
}

uint32_t wp__keys_available(uint32_t max) {
  int keys[WP__MAX_STRIPES];
  uint32_t got = wp__keys_take(max, keys);
  wp__keys_give_back(keys, got);
  return got;
}

void wp__stripe_layout(uint64_t max_memory, uint64_t guard, uint64_t page, uint32_t keys,
                       wp__stripes *out) {
  uint64_t window = max_memory + guard;
  memset(out, 0, sizeof(*out));
  out->stripes = 1;
  out->stride = window;
  if (keys < 2 || guard == 0)
    return; /* one stripe: every slot carries its own guard */
  /* More stripes than window / max_memory cannot shrink the stride below
   * max_memory; fewer keys than that give a longer stride. */
  uint64_t useful = (window + max_memory - 1) / max_memory;
  uint32_t stripes = useful < keys ? (uint32_t)useful : keys;
  if (stripes < 2)
    return;
  uint64_t stride = (window + stripes - 1) / stripes;
  stride = (stride + page - 1) / page * page;
  if (stride < max_memory)
    stride = max_memory;
  out->stripes = stripes;
  out->stride = stride;
  out->trailing = window - stride;
}

uint64_t wp__guarded_reservation(uint32_t count, const wp__stripes *layout, uint64_t leading) {
  uint64_t r;
  if (count == 0)
    return 0;
  if (__builtin_mul_overflow((uint64_t)count, layout->stride, &r) ||
      __builtin_add_overflow(r, leading + layout->trailing, &r))
    return UINT64_MAX;
  return r;
}

int wp__keys_protect(void *at, uint64_t bytes, int prot, int key) {
  if (bytes == 0)
    return 0;
#ifdef WP__HAVE_PKRU
  if (key > 0)
    return pkey_mprotect(at, bytes, prot, key) == 0 ? 0 : WP_ESYS;
#endif
  return mprotect(at, bytes, prot) == 0 ? 0 : WP_ESYS;
}

/* The PKRU bits (access and write disable) of every key in mask. */
static uint32_t deny_bits(uint32_t key_mask) {
  uint32_t bits = 0;
  for (int key = 1; key < 16; key++)
    if (key_mask & (1u << key))
      bits |= 3u << (2 * key);
  return bits;
}

void wp_pool_keys_guest(const wp_pool *pool, uint32_t key_mask) {
#ifdef WP__HAVE_PKRU
  uint32_t all = pool->memories.key_mask;
  if (all == 0)
    return;
  uint32_t value = (read_pkru() & ~deny_bits(all)) | deny_bits(all & ~key_mask);
  write_pkru(value);
#else
  (void)pool;
  (void)key_mask;
#endif
}

void wp_pool_keys_host(const wp_pool *pool) {
#ifdef WP__HAVE_PKRU
  uint32_t all = pool->memories.key_mask;
  if (all == 0)
    return;
  uint32_t now = read_pkru();
  if ((now & deny_bits(all)) != 0)
    write_pkru(now & ~deny_bits(all));
#else
  (void)pool;
#endif
}

int wp_pool_memory_pkey(const wp_pool *pool, const void *addr) {
  const wp__memory_class *cls = &pool->memories.classes[WP_MEMORY_GUARDED];
  uintptr_t at = (uintptr_t)addr, lo = (uintptr_t)cls->first_base;
  if (cls->stripe_count < 2 || cls->count == 0 || at < lo)
    return 0;
  uint64_t local = (at - lo) / cls->stride;
  return local < cls->count ? cls->keys[local % cls->stripe_count] : 0;
}

uint32_t wp_pool_keys_in_use(const wp_pool *pool) {
  return pool->memories.key_count;
}
