/* runtime.c — our implementation of the wasm-rt.h runtime, and wp_runtime.
 *
 * The generated code reaches these functions through the wp_glue_host table
 * (glue.c defines the wasm_rt_* symbols as forwarders), so the process may
 * load any number of module .so files and run them on any number of threads.
 *
 * Process-wide state, and why it is global: the wasm_rt_* entry points carry
 * no context argument and the fault handler must find guest memories without
 * locks, so the function-type registry, the tag counter and the slot
 * registries below are globals. They are bound to the one wp_runtime of the
 * process (creating a second one fails with WP_ECONFIG).
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

/* ---- Process-wide registries ---------------------------------------------- */

typedef struct func_type_entry {
  uint32_t params, results;
  int *types;
} func_type_entry;

typedef struct memory_record {
  void *memory; /* wasm_rt_memory_t * the generated code holds */
  wp_memory_slot slot;
} memory_record;

typedef struct table_record {
  void *table;
  wp_table_slot slot;
} table_record;

/* Guard ranges read by the fault handler: lo/hi per memory slot index, 0/0
 * when free. Written under g_state.lock, read lock-free (atomics). */
typedef struct guard_range {
  _Atomic uintptr_t lo, hi;
} guard_range;

static struct {
  pthread_mutex_t lock;
  struct wp_runtime *rt; /* the one runtime; NULL when none */
  func_type_entry *func_types;
  uint32_t func_type_count, func_type_capacity;
  _Atomic uint32_t next_tag;
  memory_record *memories; /* by memory slot index */
  bool *memory_used;
  uint32_t memory_capacity;
  table_record *tables; /* by table slot index */
  bool *table_used;
  uint32_t table_capacity;
  guard_range *guards;
  uint32_t guard_capacity;
  uint64_t guard_span; /* bytes faulting as OOB from a memory's base */
} g_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

void wp__guard_register(uint32_t slot_index, uintptr_t lo, uintptr_t hi) {
  if (slot_index >= g_state.guard_capacity)
    return;
  atomic_store(&g_state.guards[slot_index].lo, lo);
  atomic_store(&g_state.guards[slot_index].hi, hi);
}

void wp__guard_unregister(uint32_t slot_index) {
  if (slot_index >= g_state.guard_capacity)
    return;
  atomic_store(&g_state.guards[slot_index].hi, 0);
  atomic_store(&g_state.guards[slot_index].lo, 0);
}

bool wp__guard_contains(uintptr_t addr) {
  for (uint32_t i = 0; i < g_state.guard_capacity; i++) {
    uintptr_t lo = atomic_load(&g_state.guards[i].lo);
    uintptr_t hi = atomic_load(&g_state.guards[i].hi);
    if (addr >= lo && addr < hi)
      return true;
  }
  return false;
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
  case WP__RT_TRAP_OOB: mapped = WP_ETRAP_OOB; break;
  case WP__RT_TRAP_INT_OVERFLOW: mapped = WP_ETRAP_INT_OVERFLOW; break;
  case WP__RT_TRAP_DIV_BY_ZERO: mapped = WP_ETRAP_DIV_ZERO; break;
  case WP__RT_TRAP_INVALID_CONVERSION: mapped = WP_ETRAP_CONVERSION; break;
  case WP__RT_TRAP_UNREACHABLE: mapped = WP_ETRAP_UNREACHABLE; break;
  case WP__RT_TRAP_CALL_INDIRECT: mapped = WP_ETRAP_INDIRECT; break;
  case WP__RT_TRAP_UNCAUGHT_EXCEPTION: mapped = WP_ETRAP_EXCEPTION; break;
  case WP__RT_TRAP_EXHAUSTION: mapped = WP_ETRAP_STACK; break;
  default: mapped = WP_ETRAP_UNREACHABLE; break;
  }
  wp__guest_unwind(mapped);
}

static unsigned register_func_type(unsigned params, unsigned results, const int *types) {
  unsigned count = params + results;
  pthread_mutex_lock(&g_state.lock);
  for (uint32_t i = 0; i < g_state.func_type_count; i++) {
    func_type_entry *e = &g_state.func_types[i];
    if (e->params == params && e->results == results &&
        (count == 0 || memcmp(e->types, types, count * sizeof(int)) == 0)) {
      pthread_mutex_unlock(&g_state.lock);
      return i + 1;
    }
  }
  if (g_state.func_type_count == g_state.func_type_capacity) {
    uint32_t capacity = g_state.func_type_capacity ? 2 * g_state.func_type_capacity : 64;
    func_type_entry *grown = realloc(g_state.func_types, capacity * sizeof(*grown));
    if (!grown)
      abort(); /* init_module cannot report failure; out of memory at deploy */
    g_state.func_types = grown;
    g_state.func_type_capacity = capacity;
  }
  func_type_entry *e = &g_state.func_types[g_state.func_type_count];
  e->params = params;
  e->results = results;
  e->types = malloc((count ? count : 1) * sizeof(int));
  if (!e->types)
    abort();
  memcpy(e->types, types, count * sizeof(int));
  /* Ids start at 1: 0 is the func_type of the null funcref. */
  unsigned id = ++g_state.func_type_count;
  pthread_mutex_unlock(&g_state.lock);
  return id;
}

static unsigned register_tag(unsigned size) {
  (void)size;
  return atomic_fetch_add(&g_state.next_tag, 1) + 1;
}

static void load_exception(unsigned tag, unsigned size, const void *values) {
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

static void throw_exception(void) {
  wp__thread *t = current();
  siglongjmp(*(sigjmp_buf *)t->unwind_target, -WP_ETRAP_EXCEPTION);
}

static void *get_unwind_target(void) {
  return current()->unwind_target;
}

static void set_unwind_target(void *target) {
  current()->unwind_target = target;
}

static unsigned exception_tag(void) {
  return current()->exc_tag;
}

static unsigned exception_size(void) {
  return current()->exc_size;
}

static void *exception_values(void) {
  return current()->exc_values;
}

/* ---- Memories and tables in pooled slots ----------------------------------- */

int wp__memory_attach(struct wp_runtime *rt, void *memory, uint32_t initial_pages,
                      uint32_t max_pages, const wp_image *image) {
  wasm_rt_memory_t *mem = memory;
  wp_memory_request req = {
      .image = image,
      .initial_bytes = (uint64_t)initial_pages * 65536,
      .maximum_bytes = (uint64_t)max_pages * 65536,
  };
  if (image && wp_image_bytes(image) > req.initial_bytes)
    return WP_EINVAL;
  wp_memory_slot slot;
  int rc = wp_memory_acquire(rt->pool, &req, &slot);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&g_state.lock);
  if (slot.index >= g_state.memory_capacity) {
    pthread_mutex_unlock(&g_state.lock);
    wp_memory_release(rt->pool, &slot);
    return WP_ECONFIG;
  }
  g_state.memories[slot.index].memory = memory;
  g_state.memories[slot.index].slot = slot;
  g_state.memory_used[slot.index] = true;
  wp__guard_register(slot.index, (uintptr_t)slot.base, (uintptr_t)slot.base + g_state.guard_span);
  pthread_mutex_unlock(&g_state.lock);
  mem->data = slot.base;
  mem->pages = initial_pages;
  mem->max_pages = max_pages;
  mem->size = (uint32_t)req.initial_bytes;
  return 0;
}

static memory_record *find_memory(void *memory) {
  for (uint32_t i = 0; i < g_state.memory_capacity; i++)
    if (g_state.memory_used[i] && g_state.memories[i].memory == memory)
      return &g_state.memories[i];
  return NULL;
}

void wp__memory_detach(void *memory) {
  pthread_mutex_lock(&g_state.lock);
  memory_record *rec = g_state.memories ? find_memory(memory) : NULL;
  if (!rec) {
    pthread_mutex_unlock(&g_state.lock);
    return;
  }
  wp_memory_slot slot = rec->slot;
  wp__guard_unregister(slot.index);
  g_state.memory_used[slot.index] = false;
  rec->memory = NULL;
  pthread_mutex_unlock(&g_state.lock);
  wp_memory_release(g_state.rt->pool, &slot);
  wasm_rt_memory_t *mem = memory;
  mem->data = NULL;
  mem->size = 0;
  mem->pages = 0;
}

static uint32_t grow_memory(void *memory, unsigned delta) {
  wasm_rt_memory_t *mem = memory;
  uint64_t new_pages = (uint64_t)mem->pages + delta;
  if (new_pages > mem->max_pages || new_pages > 65536)
    return UINT32_MAX;
  if (delta == 0)
    return mem->pages;
  host_enter();
  pthread_mutex_lock(&g_state.lock);
  memory_record *rec = find_memory(memory);
  int rc = rec ? wp_memory_grow(g_state.rt->pool, &rec->slot, new_pages * 65536) : WP_EINVAL;
  pthread_mutex_unlock(&g_state.lock);
  uint32_t old = mem->pages;
  if (rc == 0) {
    mem->pages = (uint32_t)new_pages;
    mem->size = (uint32_t)(new_pages * 65536);
  }
  host_leave();
  return rc == 0 ? old : UINT32_MAX;
}

/* allocate_memory runs inside the generated instantiate, on the guest stack;
 * the instance being created planned the image of its memory 0. */
static void allocate_memory(void *memory, unsigned initial, unsigned max) {
  wp__thread *t = current();
  wp__instance_core *core = t->instantiating;
  const wp_image *image = NULL;
  if (core && core->memories_attached == 0)
    image = core->image;
  host_enter();
  int rc = wp__memory_attach(g_state.rt, memory, initial, max, image);
  if (core)
    core->memories_attached++;
  if (rc != 0) {
    t->in_host--;
    snprintf(t->trap_detail, sizeof(t->trap_detail), "memory of %u pages: %s", initial,
             wp_strerror(rc));
    wp__guest_unwind(rc);
  }
  host_leave();
}

static void free_memory(void *memory) {
  wp__memory_detach(memory);
}

int wp__table_attach(struct wp_runtime *rt, void *table, bool externref, uint32_t initial,
                     uint32_t max) {
  wp_table_slot slot;
  int rc = wp_table_acquire(rt->pool, initial, max, &slot);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&g_state.lock);
  if (slot.index >= g_state.table_capacity) {
    pthread_mutex_unlock(&g_state.lock);
    wp_table_release(rt->pool, &slot);
    return WP_ECONFIG;
  }
  g_state.tables[slot.index].table = table;
  g_state.tables[slot.index].slot = slot;
  g_state.table_used[slot.index] = true;
  pthread_mutex_unlock(&g_state.lock);
  if (externref) {
    wasm_rt_externref_table_t *tab = table;
    tab->data = slot.elements;
    tab->size = initial;
    tab->max_size = max;
  } else {
    wasm_rt_funcref_table_t *tab = table;
    tab->data = slot.elements;
    tab->size = initial;
    tab->max_size = max;
  }
  return 0;
}

static table_record *find_table(void *table) {
  for (uint32_t i = 0; i < g_state.table_capacity; i++)
    if (g_state.table_used[i] && g_state.tables[i].table == table)
      return &g_state.tables[i];
  return NULL;
}

void wp__table_detach(void *table, bool externref) {
  pthread_mutex_lock(&g_state.lock);
  table_record *rec = g_state.tables ? find_table(table) : NULL;
  if (!rec) {
    pthread_mutex_unlock(&g_state.lock);
    return;
  }
  wp_table_slot slot = rec->slot;
  g_state.table_used[slot.index] = false;
  rec->table = NULL;
  pthread_mutex_unlock(&g_state.lock);
  wp_table_release(g_state.rt->pool, &slot);
  if (externref) {
    ((wasm_rt_externref_table_t *)table)->data = NULL;
    ((wasm_rt_externref_table_t *)table)->size = 0;
  } else {
    ((wasm_rt_funcref_table_t *)table)->data = NULL;
    ((wasm_rt_funcref_table_t *)table)->size = 0;
  }
}

static void allocate_table(void *table, int externref, unsigned initial, unsigned max) {
  wp__thread *t = current();
  host_enter();
  int rc = wp__table_attach(g_state.rt, table, externref != 0, initial, max);
  if (rc != 0) {
    t->in_host--;
    snprintf(t->trap_detail, sizeof(t->trap_detail), "table of %u elements: %s", initial,
             wp_strerror(rc));
    wp__guest_unwind(rc);
  }
  host_leave();
}

static void free_table(void *table, int externref) {
  wp__table_detach(table, externref != 0);
}

static unsigned grow_table(void *table, int externref, unsigned delta, const void *init) {
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
  host_enter();
  pthread_mutex_lock(&g_state.lock);
  table_record *rec = find_table(table);
  int rc = rec ? wp_table_grow(g_state.rt->pool, &rec->slot, (uint32_t)new_size) : WP_EINVAL;
  pthread_mutex_unlock(&g_state.lock);
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
    .register_func_type = register_func_type,
    .register_tag = register_tag,
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
  cfg->wasm2c_path = "wasm2c";
  cfg->cc_path = "cc";
  cfg->opt_level = "-O2";
  cfg->compile_cpu_seconds = 120;
  cfg->compile_memory_bytes = (uint64_t)4 << 30;
  cfg->compile_wall_ms = 300000;
  cfg->guest_stack_bytes = (uint64_t)8 << 20;
}

static void free_registries(void) {
  /* Function types stay: a module .so still loaded keeps the ids it got. */
  free(g_state.memories);
  free(g_state.memory_used);
  free(g_state.tables);
  free(g_state.table_used);
  free(g_state.guards);
  g_state.memories = NULL;
  g_state.memory_used = NULL;
  g_state.tables = NULL;
  g_state.table_used = NULL;
  g_state.guards = NULL;
  g_state.memory_capacity = g_state.table_capacity = g_state.guard_capacity = 0;
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
  /* wasm2c drops bounds checks: an access reaches base + 4 GiB + a 32-bit
   * offset, so that much past every memory must be its own or guard. */
  if (rt->cfg.pool.max_memory_bytes + rt->cfg.pool.guard_bytes < ((uint64_t)8 << 30)) {
    free(rt);
    return wp__error(err, WP_ECONFIG,
                     "pool.guard_bytes: max_memory_bytes + guard_bytes must be at least 8 GiB "
                     "(wasm2c's guard-page bounds checks)");
  }
  /* Tables hold wasm_rt_funcref_t (the larger element kind). */
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
  pthread_mutex_lock(&g_state.lock);
  if (g_state.rt) {
    pthread_mutex_unlock(&g_state.lock);
    wp__compiler_free(&rt->compiler);
    wp_pool_destroy(rt->pool);
    free(rt);
    return wp__error(err, WP_ECONFIG, "a wp_runtime already exists in this process");
  }
  const wp_pool_config *pc = wp_pool_get_config(rt->pool);
  uint32_t memories = pc->total_instances * pc->memories_per_instance;
  uint32_t tables = pc->total_instances * pc->tables_per_instance;
  g_state.memories = calloc(memories, sizeof(memory_record));
  g_state.memory_used = calloc(memories, sizeof(bool));
  g_state.tables = calloc(tables, sizeof(table_record));
  g_state.table_used = calloc(tables, sizeof(bool));
  g_state.guards = calloc(memories, sizeof(guard_range));
  if (!g_state.memories || !g_state.memory_used || !g_state.tables || !g_state.table_used ||
      !g_state.guards) {
    free_registries();
    pthread_mutex_unlock(&g_state.lock);
    wp__compiler_free(&rt->compiler);
    wp_pool_destroy(rt->pool);
    free(rt);
    return wp__error(err, WP_ENOMEM, "out of memory");
  }
  g_state.memory_capacity = memories;
  g_state.table_capacity = tables;
  g_state.guard_capacity = memories;
  g_state.guard_span = pc->max_memory_bytes + pc->guard_bytes;
  g_state.rt = rt;
  pthread_mutex_unlock(&g_state.lock);

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
  wp__spectest_release(rt);
  wp__signals_uninstall(rt); /* also frees this thread's state */
  /* Threads that ran guest code must have exited (their key destructor
   * freed their state) before the runtime goes. */
  if (rt->thread_key_created)
    pthread_key_delete(rt->thread_key);
  pthread_mutex_lock(&g_state.lock);
  free_registries();
  g_state.rt = NULL;
  pthread_mutex_unlock(&g_state.lock);
  wp__compiler_free(&rt->compiler);
  wp_pool_destroy(rt->pool);
  pthread_mutex_destroy(&rt->spectest_lock);
  free(rt);
}

wp_pool *wp_runtime_pool(wp_runtime *rt) {
  return rt->pool;
}
