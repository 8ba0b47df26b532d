/* pool.c — the pool as a whole: config defaults and checks, creating and
 * destroying the three slot pools, and stats.
 *
 * Every limit is a field of wp_pool_config; a bad value is reported with the
 * field's name first ("max_memory_bytes: must be ...") so that the daemon can
 * pass the message straight to the operator.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc_internal.h"

void wp_pool_config_default(wp_pool_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->total_instances = 1000;
  cfg->memories_per_instance = 1;
  cfg->tables_per_instance = 1;
  cfg->max_memory_bytes = 4ull << 30;
  cfg->guard_bytes = 4ull << 30;
  cfg->guard_before = true;
  cfg->table_elements = 10000;
  cfg->table_element_bytes = 8;
  cfg->max_instance_bytes = 1ull << 20;
  cfg->keep_resident_bytes = 64ull << 10;
  cfg->table_keep_resident_bytes = 64ull << 10;
  cfg->max_unused_warm_slots = 100;
  cfg->decommit_batch_size = 1;
  cfg->decommit_in_background = false;
  cfg->guarded_memories = WP_POOL_DERIVED;
  cfg->small_memories = 0;
  cfg->small_memory_bytes = 64ull << 20;
  cfg->memory_protection_keys = WP_KEYS_OFF;
  cfg->max_memory_protection_keys = WP__MAX_STRIPES;
}

uint32_t wp_pool_guarded_memories(const wp_pool_config *cfg) {
  if (cfg->guarded_memories != WP_POOL_DERIVED)
    return cfg->guarded_memories;
  uint64_t derived = (uint64_t)cfg->total_instances * cfg->memories_per_instance;
  return derived >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)derived;
}

static int fail(char *why, size_t why_len, const char *fmt, ...) {
  if (why != NULL && why_len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
  }
  return WP_ECONFIG;
}

/* Largest reservation we try: the x86-64 / arm64 user address space. */
#define WP__MAX_RESERVATION (1ull << 47)

int wp_pool_config_check(const wp_pool_config *cfg, char *why, size_t why_len) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  if (cfg->total_instances == 0)
    return fail(why, why_len, "total_instances: must be at least 1");
  if (cfg->memories_per_instance == 0)
    return fail(why, why_len, "memories_per_instance: must be at least 1");
  if (cfg->tables_per_instance == 0)
    return fail(why, why_len, "tables_per_instance: must be at least 1");
  struct {
    const char *name;
    uint64_t value;
    bool may_be_zero;
  } sizes[] = {
      {"max_memory_bytes", cfg->max_memory_bytes, false},
      {"guard_bytes", cfg->guard_bytes, true},
      {"keep_resident_bytes", cfg->keep_resident_bytes, true},
      {"table_keep_resident_bytes", cfg->table_keep_resident_bytes, true},
      {"max_committed_bytes", cfg->max_committed_bytes, true},
      {"small_memory_bytes", cfg->small_memory_bytes, cfg->small_memories == 0},
  };
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    if (sizes[i].value == 0 && !sizes[i].may_be_zero)
      return fail(why, why_len, "%s: must not be zero", sizes[i].name);
    if (sizes[i].value % page != 0)
      return fail(why, why_len, "%s: must be a multiple of the page size (%" PRIu64 ")",
                  sizes[i].name, page);
    if (sizes[i].value > WP__MAX_RESERVATION)
      return fail(why, why_len, "%s: larger than the address space", sizes[i].name);
  }
  /* Instance areas may share a page: the engine's struct of a small module
   * is a few hundred bytes, and a page per live instance was a third of
   * its resident cost (docs/BENCHMARKS.md "Density"). Guests never address
   * an area; release clears what the holder used with memset. */
  if (cfg->max_instance_bytes == 0)
    return fail(why, why_len, "max_instance_bytes: must not be zero");
  if (cfg->max_instance_bytes % 64 != 0 ||
      (cfg->max_instance_bytes > page && cfg->max_instance_bytes % page != 0))
    return fail(why, why_len,
                "max_instance_bytes: must be a multiple of 64 below the page size (%" PRIu64
                ") and of the page size above it",
                page);
  if (cfg->keep_resident_bytes > cfg->max_memory_bytes)
    return fail(why, why_len, "keep_resident_bytes: larger than max_memory_bytes");
  if (cfg->table_elements == 0)
    return fail(why, why_len, "table_elements: must be at least 1");
  if (cfg->table_element_bytes == 0)
    return fail(why, why_len, "table_element_bytes: must be at least 1");
  if (cfg->decommit_batch_size == 0)
    return fail(why, why_len, "decommit_batch_size: must be at least 1");
  if (cfg->memory_protection_keys != WP_KEYS_OFF && cfg->memory_protection_keys != WP_KEYS_AUTO &&
      cfg->memory_protection_keys != WP_KEYS_ON)
    return fail(why, why_len, "memory_protection_keys: must be off, auto or on");
  if (cfg->max_memory_protection_keys < 2 || cfg->max_memory_protection_keys > WP__MAX_STRIPES)
    return fail(why, why_len, "max_memory_protection_keys: must be between 2 and %u",
                WP__MAX_STRIPES);
  uint64_t memories = (uint64_t)cfg->total_instances * cfg->memories_per_instance;
  uint64_t tables = (uint64_t)cfg->total_instances * cfg->tables_per_instance;
  if (cfg->guarded_memories == WP_POOL_DERIVED && memories >= UINT32_MAX)
    return fail(why, why_len, "memories_per_instance: total memory slots exceed 2^32");
  if ((uint64_t)wp_pool_guarded_memories(cfg) + cfg->small_memories >= UINT32_MAX)
    return fail(why, why_len, "small_memories: total memory slots exceed 2^32");
  if (tables >= UINT32_MAX)
    return fail(why, why_len, "tables_per_instance: total table slots exceed 2^32");
  wp_pool_sizing sizing;
  return wp_pool_sizing_compute(cfg, &sizing, why, why_len);
}

/* "4 GiB", "1.5 TiB": figures for operators, at most one decimal. */
static const char *human_bytes(uint64_t bytes, char *buf, size_t len) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes == UINT64_MAX) {
    snprintf(buf, len, "more than 16 EiB");
    return buf;
  }
  double value = (double)bytes;
  size_t u = 0;
  while (value >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
    value /= 1024;
    u++;
  }
  if (value == (double)(uint64_t)value)
    snprintf(buf, len, "%" PRIu64 " %s", (uint64_t)value, units[u]);
  else
    snprintf(buf, len, "%.1f %s", value, units[u]);
  return buf;
}

/* a * b + c, saturating at UINT64_MAX. */
static uint64_t mul_add(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
    return UINT64_MAX;
  return r;
}

/* What this process may still reserve: the architecture's user address
 * space or RLIMIT_AS, whichever is lower, less what is mapped already
 * (VmSize). Fragmentation can make a single reservation fail below this;
 * wp_pool_create reports that case with the pool's figures. */
static uint64_t address_space_available(void) {
  uint64_t limit = WP__MAX_RESERVATION;
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < limit)
    limit = rl.rlim_cur;
  uint64_t mapped = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    unsigned long long pages;
    if (fscanf(f, "%llu", &pages) == 1)
      mapped = pages * (uint64_t)sysconf(_SC_PAGESIZE);
    fclose(f);
  }
  return mapped < limit ? limit - mapped : 0;
}

int wp_pool_sizing_compute(const wp_pool_config *cfg, wp_pool_sizing *out, char *why,
                           size_t why_len) {
  memset(out, 0, sizeof(*out));
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint32_t guarded = wp_pool_guarded_memories(cfg);
  /* The stripes wp_pool_create would get: as many keys as help, if this
   * machine has them now (they are taken and given back). */
  uint32_t keys = 0;
  if (cfg->memory_protection_keys != WP_KEYS_OFF && guarded >= 2) {
    wp__stripes best;
    wp__stripe_layout(cfg->max_memory_bytes, cfg->guard_bytes, page,
                      cfg->max_memory_protection_keys, &best);
    keys = wp__keys_available(best.stripes < guarded ? best.stripes : guarded);
    if (keys < 2 && best.stripes >= 2 && cfg->memory_protection_keys == WP_KEYS_ON)
      return fail(why, why_len,
                  "memory_protection_keys: \"on\" but this CPU or kernel gives no protection "
                  "keys; use \"auto\" or \"off\"");
  }
  wp__stripes layout;
  wp__stripe_layout(cfg->max_memory_bytes, cfg->guard_bytes, page, keys, &layout);
  out->key_stripes = layout.stripes;
  out->guarded_stride = layout.stride;
  out->guarded_reserved =
      wp__guarded_reservation(guarded, &layout, cfg->guard_before ? cfg->guard_bytes : 0);
  out->small_reserved = mul_add(cfg->small_memories, cfg->small_memory_bytes, 0);
  uint64_t table_bytes = mul_add(cfg->table_elements, cfg->table_element_bytes, page - 1);
  if (table_bytes != UINT64_MAX)
    table_bytes = table_bytes / page * page;
  out->table_reserved =
      mul_add((uint64_t)cfg->total_instances * cfg->tables_per_instance, table_bytes, 0);
  out->instance_reserved = mul_add(cfg->total_instances, cfg->max_instance_bytes, 0);
  uint64_t parts[] = {out->guarded_reserved, out->small_reserved, out->table_reserved,
                      out->instance_reserved};
  out->total_reserved = 0;
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
    out->total_reserved = mul_add(1, out->total_reserved, parts[i]);
  out->available_bytes = address_space_available();
  out->mapped_memory_cap = wp__mapped_slot_cap();
  if (out->total_reserved <= out->available_bytes)
    return 0;
  /* Blame the field that sets the largest reservation. */
  const char *const blamed[] = {cfg->guarded_memories == WP_POOL_DERIVED ? "total_instances"
                                                                         : "guarded_memories",
                                "small_memories", "table_elements", "max_instance_bytes"};
  size_t largest = 0;
  for (size_t i = 1; i < sizeof(parts) / sizeof(parts[0]); i++)
    if (parts[i] > parts[largest])
      largest = i;
  char t[32], a[32], g[32], m[32], gd[32], sm[32], ss[32], tb[32], in[32], sd[32], st[96] = "";
  if (layout.stripes > 1)
    snprintf(st, sizeof(st), ", striped over %" PRIu32 " protection keys: %s apart", layout.stripes,
             human_bytes(layout.stride, sd, sizeof(sd)));
  return fail(why, why_len,
              "%s: the pools need %s of address space but %s are available: guarded memories "
              "%s (%" PRIu32 " x (%s + %s guard)%s), small memories %s (%" PRIu32
              " x %s), tables %s, instance areas %s",
              blamed[largest], human_bytes(out->total_reserved, t, sizeof(t)),
              human_bytes(out->available_bytes, a, sizeof(a)),
              human_bytes(out->guarded_reserved, g, sizeof(g)), guarded,
              human_bytes(cfg->max_memory_bytes, m, sizeof(m)),
              human_bytes(cfg->guard_bytes, gd, sizeof(gd)), st,
              human_bytes(out->small_reserved, sm, sizeof(sm)), cfg->small_memories,
              human_bytes(cfg->small_memory_bytes, ss, sizeof(ss)),
              human_bytes(out->table_reserved, tb, sizeof(tb)),
              human_bytes(out->instance_reserved, in, sizeof(in)));
}

int wp_pool_create(const wp_pool_config *cfg, wp_pool **out, char *why, size_t why_len) {
  return wp__pool_create(cfg, 0, out, why, why_len);
}

int wp__pool_create(const wp_pool_config *cfg, uint32_t simulated_stripes, wp_pool **out, char *why,
                    size_t why_len) {
  *out = NULL;
  int rc = wp_pool_config_check(cfg, why, why_len);
  if (rc != 0)
    return rc;
  wp_pool *pool = calloc(1, sizeof(*pool));
  if (pool == NULL)
    return WP_ENOMEM;
  pool->cfg = *cfg;
  if (simulated_stripes > 1) {
    pool->memories.keys_simulated = true;
    pool->memories.key_count =
        simulated_stripes < WP__MAX_STRIPES ? simulated_stripes : WP__MAX_STRIPES;
  }
  pool->page_bytes = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t table_bytes = (uint64_t)cfg->table_elements * cfg->table_element_bytes;
  table_bytes = (table_bytes + pool->page_bytes - 1) / pool->page_bytes * pool->page_bytes;
  rc = wp__memory_pool_init(pool, why, why_len);
  if (rc != 0)
    goto fail_memory;
  rc = wp__plain_pool_init(&pool->tables, cfg->total_instances * cfg->tables_per_instance,
                           table_bytes, "table pool", why, why_len);
  if (rc != 0)
    goto fail_tables;
  rc = wp__plain_pool_init(&pool->instances, cfg->total_instances, cfg->max_instance_bytes,
                           "instance pool", why, why_len);
  if (rc != 0)
    goto fail_instances;
  rc = wp__decommit_init(pool);
  if (rc != 0) {
    fail(why, why_len, "decommit_in_background: cannot start the decommit thread");
    goto fail_decommit;
  }
  *out = pool;
  return 0;
fail_decommit:
  wp__plain_pool_fini(&pool->instances);
fail_instances:
  wp__plain_pool_fini(&pool->tables);
fail_tables:
  wp__memory_pool_fini(pool);
fail_memory:
  free(pool);
  return rc;
}

void wp_pool_destroy(wp_pool *pool) {
  if (pool == NULL)
    return;
  wp__decommit_fini(pool);
  wp__plain_pool_fini(&pool->instances);
  wp__plain_pool_fini(&pool->tables);
  wp__memory_pool_fini(pool);
  free(pool);
}

void *wp_pool_instance_area_of(const wp_pool *pool, const void *addr) {
  const wp__plain_pool *pp = &pool->instances;
  uintptr_t at = (uintptr_t)addr, lo = (uintptr_t)pp->reservation;
  if (at < lo || at - lo >= pp->reservation_bytes)
    return NULL;
  uint64_t index = pp->slot_shift ? (at - lo) >> pp->slot_shift : (at - lo) / pp->slot_bytes;
  return pp->reservation + index * pp->slot_bytes;
}

bool wp_pool_memory_contains(const wp_pool *pool, const void *addr) {
  for (int c = WP_MEMORY_GUARDED; c <= WP_MEMORY_SMALL; c++) {
    const wp__memory_class *cls = &pool->memories.classes[c];
    uintptr_t at = (uintptr_t)addr, lo = (uintptr_t)cls->reservation;
    if (cls->reservation != NULL && at >= lo && at - lo < cls->reservation_bytes)
      return true;
  }
  return false;
}

const wp_pool_config *wp_pool_get_config(const wp_pool *pool) {
  return &pool->cfg;
}

void wp_pool_get_stats(wp_pool *pool, wp_pool_stats *out) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&pool->memories.lock);
  wp_slot_counts guarded;
  wp__memory_class_counts(&pool->memories.classes[WP_MEMORY_GUARDED], &guarded);
  wp__memory_class_counts(&pool->memories.classes[WP_MEMORY_SMALL], &out->small_memories);
  out->memories.total = guarded.total + out->small_memories.total;
  out->memories.in_use = guarded.in_use + out->small_memories.in_use;
  out->memories.warm = guarded.warm + out->small_memories.warm;
  out->memories.cold = guarded.cold + out->small_memories.cold;
  out->memories.pending = guarded.pending + out->small_memories.pending;
  pthread_mutex_unlock(&pool->memories.lock);
  pthread_mutex_lock(&pool->tables.lock);
  wp__index_counts(&pool->tables.index, &out->tables);
  pthread_mutex_unlock(&pool->tables.lock);
  pthread_mutex_lock(&pool->instances.lock);
  wp__index_counts(&pool->instances.index, &out->instances);
  pthread_mutex_unlock(&pool->instances.lock);
  out->affinity_hits = atomic_load(&pool->affinity_hits);
  out->affinity_misses = atomic_load(&pool->affinity_misses);
  out->image_maps = atomic_load(&pool->image_maps);
  out->resets = atomic_load(&pool->resets);
  out->bytes_decommitted = atomic_load(&pool->bytes_decommitted);
  out->warm_evictions = atomic_load(&pool->warm_evictions);
  out->committed_bytes = atomic_load(&pool->committed_bytes);
  out->max_committed_bytes = pool->cfg.max_committed_bytes;
  out->budget_refusals = atomic_load(&pool->budget_refusals);
  out->key_stripes = pool->memories.key_count;
}
