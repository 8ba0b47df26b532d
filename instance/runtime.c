/* runtime.c — our implementation of the wasm-rt.h runtime, and wp_runtime.
 *
 * The generated code reaches these functions through the wp_glue_host table
 * (glue.c defines the wasm_rt_* symbols as forwarders), so the process may
 * load any number of module .so files and run them on any number of threads.
 *
 * No process-wide registry: function types are 32-byte hashes compared by
 * the generated code, tags are addresses, and a memory or table descriptor
 * leads to the instance that owns its slot by arithmetic on the instance
 * pool's stride (owner_of). The memory and table calls get the runtime as
 * the context the glue was bound with. The signal handlers are the one
 * process-wide thing (signals.c), so one runtime exists at a time.
 *
 * Per-thread state (trap target, exception, host-call depth) is in
 * wp__thread (signals.c); nothing here blocks while guest code waits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wasm-rt.h>

#include "module_internal.h"

int wp__error(wp_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---- Host calls and traps -------------------------------------------------- */

static wp__thread *current(void) {
  return wp__thread_get(NULL);
}

static void host_enter(void) {
  wp__thread *t = current();
  t->in_host++;
}

static void host_leave(void) {
  wp__thread *t = current();
  t->in_host--;
  if (t->in_host == 0 && t->timeout_pending)
    wp__guest_unwind(WP_ETIMEOUT);
}

static void host_trap(int code) {
  int mapped;
  switch (code) {
  case WASM_RT_TRAP_OOB: mapped = WP_ETRAP_OOB; break;
  case WASM_RT_TRAP_INT_OVERFLOW: mapped = WP_ETRAP_INT_OVERFLOW; break;
  case WASM_RT_TRAP_DIV_BY_ZERO: mapped = WP_ETRAP_DIV_ZERO; break;
  case WASM_RT_TRAP_INVALID_CONVERSION: mapped = WP_ETRAP_CONVERSION; break;
  case WASM_RT_TRAP_UNREACHABLE: mapped = WP_ETRAP_UNREACHABLE; break;
  case WASM_RT_TRAP_CALL_INDIRECT: mapped = WP_ETRAP_INDIRECT; break;
  case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: mapped = WP_ETRAP_EXCEPTION; break;
  case WASM_RT_TRAP_UNALIGNED: mapped = WP_ETRAP_OOB; break;
  case WASM_RT_TRAP_EXHAUSTION: mapped = WP_ETRAP_STACK; break;
  default: mapped = WP_ETRAP_UNREACHABLE; break;
  }
  if (code == WASM_RT_TRAP_UNALIGNED) {
    wp__thread *t = current();
    snprintf(t->trap_detail, sizeof(t->trap_detail), "unaligned atomic access");
  }
  wp__guest_unwind(mapped);
}

static void load_exception(const void *tag, unsigned size, const void *values) {
  wp__thread *t = current();
  if (size > sizeof(t->exc_values)) {
    snprintf(t->trap_detail, sizeof(t->trap_detail), "exception payload of %u bytes", size);
    wp__guest_unwind(WP_ETRAP_EXCEPTION);
  }
  t->exc_tag = tag;
  t->exc_size = size;
  if (size)
    memcpy(t->exc_values, values, size);
}

/* wasm2c arms an unwind target (a wasm_rt_jmp_buf) around every try; the
 * outermost one is the trap target of wp__guest_call, so an exception no try
 * catches comes back as WP_ETRAP_EXCEPTION. */
static void throw_exception(void) {
  wp__thread *t = current();
  wasm_rt_jmp_buf *target = t->unwind_target;
  if (!target || !target->initialized)
    wp__guest_unwind(WP_ETRAP_EXCEPTION);
  target->initialized = false;
  siglongjmp(target->buffer, WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}

static void *get_unwind_target(void) {
  return current()->unwind_target;
}

static void set_unwind_target(void *target) {
  current()->unwind_target = target;
}

static const void *exception_tag(void) {
  return current()->exc_tag;
}

static unsigned exception_size(void) {
  return current()->exc_size;
}

static void *exception_values(void) {
  return current()->exc_values;
}

/* ---- Memories and tables in pooled slots ----------------------------------- */

int wp__memory_plan(struct wp_runtime *rt, wp__memory_binding *b, uint64_t initial_bytes,
                    uint64_t max_bytes, const wp_image *image, int pkey) {
  wp_memory_request req = {.slot_class = b->slot_class,
                           .image = image,
                           .initial_bytes = initial_bytes,
                           .maximum_bytes = max_bytes,
                           .pkey = pkey};
  if (image && wp_image_bytes(image) > initial_bytes)
    return WP_EINVAL;
  int rc = wp_memory_acquire(rt->pool, &req, &b->slot);
  if (rc != 0)
    return rc;
  b->held = true;
  b->memory = NULL;
  return 0;
}

int wp__table_plan(struct wp_runtime *rt, wp__table_binding *b, bool externref, uint32_t initial,
                   uint32_t max) {
  int rc = wp_table_acquire(rt->pool, initial, max, &b->slot);
  if (rc != 0)
    return rc;
  b->held = true;
  b->externref = externref;
  b->table = NULL;
  return 0;
}

void wp__memory_bind(wp__memory_binding *b, void *memory, uint64_t max_pages, bool is64,
                     bool shared) {
  if (shared) {
    wasm_rt_shared_memory_t *mem = memory;
    mem->data = (_Atomic volatile uint8_t *)b->slot.base;
    mem->size = b->slot.accessible_bytes;
    mem->pages = b->slot.accessible_bytes / 65536;
    mem->max_pages = max_pages;
    mem->is64 = is64;
    mtx_init(&mem->mem_lock, mtx_plain);
  } else {
    wasm_rt_memory_t *mem = memory;
    mem->data = b->slot.base;
    mem->size = b->slot.accessible_bytes;
    mem->pages = b->slot.accessible_bytes / 65536;
    mem->max_pages = max_pages;
    mem->is64 = is64;
  }
  b->memory = memory;
  b->shared = shared;
}

void wp__table_bind(wp__table_binding *b, void *table, uint32_t max) {
  if (b->externref) {
    wasm_rt_externref_table_t *tab = table;
    tab->data = b->slot.elements;
    tab->size = b->slot.size;
    tab->max_size = max;
  } else {
    wasm_rt_funcref_table_t *tab = table;
    tab->data = b->slot.elements;
    tab->size = b->slot.size;
    tab->max_size = max;
  }
  b->table = table;
}

void wp__owner_release(struct wp_runtime *rt, wp__slot_owner *owner) {
  for (uint32_t i = 0; i < owner->memory_count; i++) {
    wp__memory_binding *b = &owner->memories[i];
    if (b->held)
      wp_memory_release(rt->pool, &b->slot);
    b->held = false;
    b->memory = NULL;
  }
  for (uint32_t i = 0; i < owner->table_count; i++) {
    wp__table_binding *b = &owner->tables[i];
    if (b->held)
      wp_table_release(rt->pool, &b->slot);
    b->held = false;
    b->table = NULL;
  }
  owner->memories_bound = owner->tables_bound = 0;
}

/* The owner of a descriptor: the instance whose area holds it, else the
 * spectest module. O(1): arithmetic on the instance pool's stride. */
static wp__slot_owner *owner_of(wp_runtime *rt, const void *descriptor) {
  const wp__area_header *area = wp_pool_instance_area_of(rt->pool, descriptor);
  if (area)
    return area->owner;
  return rt->spectest_owner;
}

static wp__memory_binding *memory_binding(wp_runtime *rt, const void *memory) {
  wp__slot_owner *owner = owner_of(rt, memory);
  if (!owner)
    return NULL;
  for (uint32_t i = 0; i < owner->memories_bound; i++)
    if (owner->memories[i].memory == memory)
      return &owner->memories[i];
  return NULL;
}

static wp__table_binding *table_binding(wp_runtime *rt, const void *table) {
  wp__slot_owner *owner = owner_of(rt, table);
  if (!owner)
    return NULL;
  for (uint32_t i = 0; i < owner->tables_bound; i++)
    if (owner->tables[i].table == table)
      return &owner->tables[i];
  return NULL;
}

/* Unwinds guest code with a host-side failure found while instantiating. */
static _Noreturn void fail_instantiate(int code, const char *what) {
  wp__thread *t = current();
  snprintf(t->trap_detail, sizeof(t->trap_detail), "%s", what);
  wp__guest_unwind(code);
}

/* The generated instantiate binds the memories it defines, in order, to the
 * slots wp_instance_create planned; nothing is acquired here. */
static void allocate_memory(void *ctx, void *memory, unsigned long long initial,
                            unsigned long long max, int flags) {
  wp__slot_owner *owner = owner_of(ctx, memory);
  if (!owner || owner->memories_bound >= owner->memory_count)
    fail_instantiate(WP_EINVAL, "a memory the instance did not plan");
  wp__memory_binding *b = &owner->memories[owner->memories_bound];
  /* Larger only when a snapshot grew it (instance.c plans that size). */
  if (b->slot.accessible_bytes < initial * 65536)
    fail_instantiate(WP_EINVAL, "memory size differs from the planned slot");
  wp__memory_bind(b, memory, max, (flags & 1) != 0, (flags & 2) != 0);
  owner->memories_bound++;
}

static void free_memory(void *ctx, void *memory) {
  wp__memory_binding *b = memory_binding(ctx, memory);
  if (b && b->shared) {
    wasm_rt_shared_memory_t *mem = memory;
    mtx_destroy(&mem->mem_lock);
    mem->data = NULL;
    mem->size = mem->pages = 0;
  } else {
    wasm_rt_memory_t *mem = memory;
    mem->data = NULL;
    mem->size = mem->pages = 0;
  }
  if (b)
    b->memory = NULL;
}

/* The page counts of either descriptor kind (shared ones under their
 * lock). */
typedef struct memory_view {
  uint64_t *pages, *max_pages, *size;
} memory_view;

static memory_view view_of(void *memory, bool shared) {
  if (shared) {
    wasm_rt_shared_memory_t *mem = memory;
    return (memory_view){&mem->pages, &mem->max_pages, &mem->size};
  }
  wasm_rt_memory_t *mem = memory;
  return (memory_view){&mem->pages, &mem->max_pages, &mem->size};
}

static unsigned long long grow_memory(void *ctx, void *memory, unsigned long long delta) {
  wp__memory_binding *b = memory_binding(ctx, memory);
  if (!b)
    return UINT64_MAX;
  memory_view v = view_of(memory, b->shared);
  /* Entered before the lock: a deadline taken at host_leave must not
   * unwind with the lock held. */
  host_enter();
  if (b->shared)
    mtx_lock(&((wasm_rt_shared_memory_t *)memory)->mem_lock);
  uint64_t old = *v.pages;
  uint64_t result = UINT64_MAX;
  if (delta <= *v.max_pages && old + delta <= *v.max_pages) {
    result = old;
    uint64_t new_pages = old + delta;
    if (delta > 0 && wp_memory_grow(((wp_runtime *)ctx)->pool, &b->slot, new_pages * 65536) == 0) {
      *v.pages = new_pages;
      *v.size = new_pages * 65536;
    } else if (delta > 0) {
      result = UINT64_MAX;
    }
  }
  if (b->shared)
    mtx_unlock(&((wasm_rt_shared_memory_t *)memory)->mem_lock);
  host_leave();
  return result;
}

static void allocate_table(void *ctx, void *table, int externref, unsigned initial, unsigned max) {
  wp__slot_owner *owner = owner_of(ctx, table);
  if (!owner || owner->tables_bound >= owner->table_count)
    fail_instantiate(WP_EINVAL, "a table the instance did not plan");
  wp__table_binding *b = &owner->tables[owner->tables_bound];
  if (b->slot.size != initial || b->externref != (externref != 0))
    fail_instantiate(WP_EINVAL, "table differs from the planned slot");
  wp__table_bind(b, table, max);
  owner->tables_bound++;
}

static void free_table(void *ctx, void *table, int externref) {
  wp__table_binding *b = table_binding(ctx, table);
  if (b)
    b->table = NULL;
  if (externref) {
    ((wasm_rt_externref_table_t *)table)->data = NULL;
    ((wasm_rt_externref_table_t *)table)->size = 0;
  } else {
    ((wasm_rt_funcref_table_t *)table)->data = NULL;
    ((wasm_rt_funcref_table_t *)table)->size = 0;
  }
}

static unsigned grow_table(void *ctx, void *table, int externref, unsigned delta,
                           const void *init) {
  uint32_t old_size, max_size;
  if (externref) {
    old_size = ((wasm_rt_externref_table_t *)table)->size;
    max_size = ((wasm_rt_externref_table_t *)table)->max_size;
  } else {
    old_size = ((wasm_rt_funcref_table_t *)table)->size;
    max_size = ((wasm_rt_funcref_table_t *)table)->max_size;
  }
  uint64_t new_size = (uint64_t)old_size + delta;
  if (new_size > max_size || new_size > UINT32_MAX)
    return UINT32_MAX;
  if (delta == 0)
    return old_size;
  wp__table_binding *b = table_binding(ctx, table);
  if (!b)
    return UINT32_MAX;
  host_enter();
  int rc = wp_table_grow(((wp_runtime *)ctx)->pool, &b->slot, (uint32_t)new_size);
  if (rc == 0) {
    if (externref) {
      wasm_rt_externref_table_t *tab = table;
      for (uint64_t i = old_size; i < new_size; i++)
        tab->data[i] = *(const wasm_rt_externref_t *)init;
      tab->size = (uint32_t)new_size;
    } else {
      wasm_rt_funcref_table_t *tab = table;
      for (uint64_t i = old_size; i < new_size; i++)
        tab->data[i] = *(const wasm_rt_funcref_t *)init;
      tab->size = (uint32_t)new_size;
    }
  }
  host_leave();
  return rc == 0 ? old_size : UINT32_MAX;
}

const wp_glue_host wp__glue_host = {
    .abi_version = WP__GLUE_ABI_VERSION,
    .trap = host_trap,
    .load_exception = load_exception,
    .throw_exception = throw_exception,
    .get_unwind_target = get_unwind_target,
    .set_unwind_target = set_unwind_target,
    .exception_tag = exception_tag,
    .exception_size = exception_size,
    .exception = exception_values,
    .allocate_memory = allocate_memory,
    .grow_memory = grow_memory,
    .free_memory = free_memory,
    .allocate_table = allocate_table,
    .grow_table = grow_table,
    .free_table = free_table,
    .host_enter = host_enter,
    .host_leave = host_leave,
};

/* ---- wp_runtime ------------------------------------------------------------ */

void wp_runtime_config_default(wp_runtime_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  wp_pool_config_default(&cfg->pool);
  cfg->cache_dir = NULL;
  cfg->toolroot = NULL; /* WP_DEFAULT_TOOLROOT */
  cfg->cc_path = "cc";
  cfg->tcc_path = "tcc";
  cfg->compile_jobs = 2;
  cfg->opt_level = "-O2";
  cfg->compile_cpu_seconds = 120;
  cfg->compile_memory_bytes = (uint64_t)4 << 30;
  cfg->compile_wall_ms = 300000;
  cfg->guest_stack_bytes = (uint64_t)8 << 20;
}

static void thread_key_destructor(void *value);

int wp_runtime_create(const wp_runtime_config *cfg, wp_runtime **out, wp_error *err) {
  wp_runtime *rt = calloc(1, sizeof(*rt));
  if (!rt)
    return wp__error(err, WP_ENOMEM, "out of memory");
  rt->cfg = *cfg;
  pthread_mutex_init(&rt->spectest_lock, NULL);
  if (rt->cfg.guest_stack_bytes == 0)
    rt->cfg.guest_stack_bytes = (uint64_t)8 << 20;
  /* Guard-page code has no bounds checks: an access reaches base + 4 GiB +
   * a 32-bit offset, so that much past every memory must be its own or
   * guard. */
  if (wp_pool_guarded_memories(&rt->cfg.pool) > 0 &&
      rt->cfg.pool.max_memory_bytes + rt->cfg.pool.guard_bytes < ((uint64_t)8 << 30)) {
    free(rt);
    return wp__error(err, WP_ECONFIG,
                     "pool.guard_bytes: max_memory_bytes + guard_bytes must be at least 8 GiB "
                     "(wasm2c's guard-page bounds checks)");
  }
  /* Tables hold wasm_rt_funcref_t (the larger element kind); every
   * instance area starts with its owner header. */
  rt->cfg.pool.table_element_bytes = sizeof(wasm_rt_funcref_t);
  char why[256] = "";
  int rc = wp_pool_create(&rt->cfg.pool, &rt->pool, why, sizeof(why));
  if (rc != 0) {
    free(rt);
    return wp__error(err, rc, "pool: %s", why);
  }
  rc = wp__compiler_init(&rt->compiler, &rt->cfg, err);
  if (rc != 0) {
    wp_pool_destroy(rt->pool);
    free(rt);
    return rc;
  }
  if (pthread_key_create(&rt->thread_key, thread_key_destructor) != 0) {
    wp_runtime_destroy(rt);
    return wp__error(err, WP_ESYS, "pthread_key_create failed");
  }
  rt->thread_key_created = true;
  rc = wp__signals_install(rt, err);
  if (rc != 0) {
    wp_runtime_destroy(rt);
    return rc;
  }
  *out = rt;
  return 0;
}

void wp__thread_free(wp__thread *t);

static void thread_key_destructor(void *value) {
  wp__thread_free(value);
}

void wp_runtime_destroy(wp_runtime *rt) {
  if (!rt)
    return;
  wp__instances_release_kept(rt);
  wp__spectest_release(rt);
  wp__signals_uninstall(rt); /* also frees this thread's state */
  /* Threads that ran guest code must have exited (their key destructor
   * freed their state) before the runtime goes. */
  if (rt->thread_key_created)
    pthread_key_delete(rt->thread_key);
  wp__compiler_free(&rt->compiler);
  wp_pool_destroy(rt->pool);
  pthread_mutex_destroy(&rt->spectest_lock);
  free(rt);
}

void wp_runtime_cancel_compiles(wp_runtime *rt) {
  atomic_store(&rt->compiler.cancel, true);
}

const char *wp_runtime_engine_versions(const wp_runtime *rt) {
  return rt->compiler.versions;
}

wp_pool *wp_runtime_pool(wp_runtime *rt) {
  return rt->pool;
}
