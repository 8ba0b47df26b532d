/* instance.c — instances: acquire slots, instantiate, call exports, release.
 *
 * The request-to-slot path, as Wasmtime's InstanceAllocator: an instance
 * area, then a memory slot per defined memory (memory 0 mapping the
 * module's image) and a table slot per defined table are acquired here,
 * before any guest code runs; the generated instantiate only binds its
 * wasm_rt_memory_t / table descriptors to them (runtime.c finds the owner
 * from a descriptor's address by arithmetic).
 * Every entry into guest code (instantiate + start, _initialize, calls) goes
 * through wp__guest_call, so traps, stack exhaustion and deadlines come back
 * as codes on every path.
 *
 * Poisoning: a timeout can stop the guest anywhere, and a stack overflow in
 * a host call can leave host state half-updated, so both poison the
 * instance. A stack overflow in guest code is as clean as any other trap
 * (wasm2c keeps no state on the native stack across calls) and does not: the
 * spec suite goes on calling an instance after assert_exhaustion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wasm-rt.h>

#include "module_internal.h"

_Static_assert(sizeof(wasm_rt_funcref_t) == WP_RUNTIME_TABLE_ELEMENT_BYTES,
               "instance.h's WP_RUNTIME_TABLE_ELEMENT_BYTES");

int wp__module_resolve_imports(wp_module *mod, const wp_linker *linker, wp__wasi_ctx *wasi,
                               wp_glue_import *imports, wp_error *err);

static void instantiate_entry(void *arg) {
  wp_instance *inst = arg;
  inst->mod->glue->instantiate(inst->area, inst->import_block);
}

typedef struct call_args {
  const wp_glue_export *exp;
  void *area;
  const wp_glue_cell *args;
  wp_glue_cell *results;
} call_args;

static void call_entry(void *arg) {
  call_args *c = arg;
  c->exp->call(c->area, c->args, c->results);
}

static void exit_hook(void *arg, uint32_t code) {
  wp_instance *inst = arg;
  inst->exit_code = (int)code;
  wp__guest_unwind(WP_EEXIT);
}

/* Runs one guest entry; turns its result into an error with a message. */
static int run_guest(wp_instance *inst, uint64_t deadline_ms, void (*entry)(void *), void *arg,
                     const char *what, size_t what_length, wp_error *err) {
  wp__thread *t = wp__thread_get(inst->rt);
  if (!t)
    return wp__error(err, WP_ENOMEM, "cannot set up the guest stack of this thread");
  inst->wasi.interrupt = &t->timeout_pending;
  wp_pool_keys_guest(inst->rt->pool, inst->key_mask);
  int rc = wp__guest_call(t, deadline_ms, entry, arg);
  /* Also after a trap: the handler that unwound ran with the kernel's
   * default rights, which deny the pool's keys. */
  wp_pool_keys_host(inst->rt->pool);
  bool overflow_in_host = rc == WP_ETRAP_STACK && t->in_host > 0;
  if (rc == WP_ETIMEOUT || overflow_in_host)
    inst->poisoned = true;
  if (rc == 0)
    return 0;
  if (rc == WP_EEXIT)
    return wp__error(err, rc, "guest called proc_exit(%d) in %.*s", inst->exit_code,
                     (int)what_length, what);
  if (rc == WP_ETIMEOUT)
    return wp__error(err, rc, "deadline of %llu ms exceeded in %.*s",
                     (unsigned long long)deadline_ms, (int)what_length, what);
  return wp__error(err, rc, "%s%s%s in %.*s", wp_strerror(rc), t->trap_detail[0] ? ": " : "",
                   t->trap_detail, (int)what_length, what);
}

/* Acquires one slot per defined memory and table, in definition order (the
 * order the generated instantiate binds them). A full pool or a memory
 * larger than a slot is found here, before any guest code runs. */
static int plan_slots(wp_instance *inst, wp_error *err) {
  const wp_module *mod = inst->mod;
  const wp__module_info *info = &mod->info;
  for (uint32_t i = 0; i < info->memory_count; i++) {
    const wp__limits *l = &info->memories[i];
    uint64_t max = l->has_max ? l->max : (l->is64 ? UINT64_MAX / 65536 : 65536);
    uint64_t max_bytes = max > UINT64_MAX / 65536 ? UINT64_MAX : max * 65536;
    if (inst->max_memory_bytes && max_bytes > inst->max_memory_bytes)
      max_bytes = inst->max_memory_bytes;
    if (mod->memory_cap_bytes && max_bytes > mod->memory_cap_bytes)
      max_bytes = mod->memory_cap_bytes;
    /* The class the code was compiled for (module.c): guard-page code
     * only ever gets a guarded slot. */
    inst->slots.memories[i].slot_class = mod->memory_class;
    const wp_image *image = i == 0 && info->imported_memories == 0 ? mod->image : NULL;
    /* A snapshot's memory starts at the size init left it (snapshot.c). */
    uint64_t initial_bytes = l->min * 65536;
    if (i == 0 && mod->snapshot && mod->snapshot->memory_bytes > initial_bytes)
      initial_bytes = mod->snapshot->memory_bytes;
    /* With protection keys every memory comes from memory 0's stripe. */
    int pkey = i > 0 ? inst->slots.memories[0].slot.pkey : 0;
    int rc = l->min > UINT64_MAX / 65536 ? WP_ELIMIT
                                         : wp__memory_plan(inst->rt, &inst->slots.memories[i],
                                                           initial_bytes, max_bytes, image, pkey);
    if (rc != 0)
      return wp__error(err, rc, "memory %u of %llu pages: %s", i + info->imported_memories,
                       (unsigned long long)l->min, wp_strerror(rc));
    if (inst->slots.memories[i].slot.pkey > 0)
      inst->key_mask |= 1u << inst->slots.memories[i].slot.pkey;
  }
  for (uint32_t i = 0; i < info->table_count; i++) {
    const wp__tabletype *t = &info->tables[i];
    uint32_t max = t->limits.has_max ? (uint32_t)t->limits.max : UINT32_MAX;
    int rc = t->limits.min > UINT32_MAX
                 ? WP_ELIMIT
                 : wp__table_plan(inst->rt, &inst->slots.tables[i], t->elem_type == WP__EXTERNREF,
                                  (uint32_t)t->limits.min, max);
    if (rc != 0)
      return wp__error(err, rc, "table %u of %llu elements: %s", i + info->imported_tables,
                       (unsigned long long)t->limits.min, wp_strerror(rc));
  }
  return 0;
}

/* With protection keys, an imported memory's key must be the one of this
 * instance's own memories: the guest may touch only one stripe, since a
 * second open key would also open that stripe's slots next to the first
 * stripe's memories (keys.c). */
static int add_imported_keys(wp_instance *inst, wp_error *err) {
  const wp__module_info *info = &inst->mod->info;
  for (uint32_t i = 0; i < info->import_count; i++) {
    if (info->imports[i].kind != WP__EXTERN_MEMORY)
      continue;
    const wasm_rt_memory_t *mem = inst->imports[i].ptr;
    int pkey = mem ? wp_pool_memory_pkey(inst->rt->pool, mem->data) : 0;
    if (pkey > 0)
      inst->key_mask |= 1u << pkey;
  }
  if (inst->key_mask & (inst->key_mask - 1))
    return wp__error(err, WP_EINVAL,
                     "an imported memory is in another protection-key stripe than this "
                     "instance's memories (memory_protection_keys)");
  return 0;
}

static wp_instance *instance_new(wp_runtime *rt, wp_module *mod) {
  const wp__module_info *info = &mod->info;
  size_t bytes = sizeof(wp_instance) + info->memory_count * sizeof(wp__memory_binding) +
                 info->table_count * sizeof(wp__table_binding);
  wp_instance *inst = calloc(1, bytes);
  if (!inst)
    return NULL;
  inst->rt = rt;
  inst->mod = mod;
  inst->slots.memories = (wp__memory_binding *)(inst + 1);
  inst->slots.memory_count = info->memory_count;
  inst->slots.tables = (wp__table_binding *)(inst->slots.memories + info->memory_count);
  inst->slots.table_count = info->table_count;
  wp_module_retain(mod);
  return inst;
}

int wp_instance_create(wp_runtime *rt, wp_module *mod, const wp_instance_options *opts,
                       wp_instance **out, wp_error *err) {
  wp_instance *inst = instance_new(rt, mod);
  if (!inst)
    return wp__error(err, WP_ENOMEM, "out of memory");
  inst->max_memory_bytes = opts ? opts->max_memory_bytes : 0;
  int rc = wp_instance_slot_acquire(rt->pool, &inst->slot);
  if (rc != 0) {
    wp_instance_destroy(inst);
    return wp__error(err, rc, "no free instance slot");
  }
  inst->has_slot = true;
  if (WP__AREA_HEADER_BYTES + mod->glue->instance_size > inst->slot.area_bytes) {
    wp_instance_destroy(inst);
    return wp__error(err, WP_ELIMIT, "instance state of %lu bytes exceeds max_instance_bytes",
                     mod->glue->instance_size);
  }
  ((wp__area_header *)inst->slot.area)->owner = &inst->slots;
  inst->area = (uint8_t *)inst->slot.area + WP__AREA_HEADER_BYTES;
  rc = plan_slots(inst, err);
  if (rc != 0) {
    wp_instance_destroy(inst);
    return rc;
  }
  /* [self pointer][wp_glue_import x import_count]: see glue.c. */
  inst->import_block =
      calloc(1, sizeof(void *) + (mod->info.import_count + 1) * sizeof(wp_glue_import));
  if (!inst->import_block) {
    wp_instance_destroy(inst);
    return wp__error(err, WP_ENOMEM, "out of memory");
  }
  inst->import_block[0] = inst->import_block;
  inst->imports = (wp_glue_import *)(inst->import_block + 1);
  rc = wp__wasi_ctx_init(&inst->wasi, opts ? opts->wasi : NULL);
  if (rc != 0) {
    wp_instance_destroy(inst);
    return wp__error(err, rc, "WASI configuration: %s", wp_strerror(rc));
  }
  inst->wasi_ready = true;
  wp__wasi_ctx_set_exit_hook(&inst->wasi, exit_hook, inst);
  rc = wp__module_resolve_imports(mod, opts ? opts->linker : NULL, &inst->wasi, inst->imports, err);
  if (rc == 0)
    rc = add_imported_keys(inst, err);
  if (rc != 0) {
    wp_instance_destroy(inst);
    return rc;
  }
  /* WASI sees the exported memory from the start function on. */
  const wp_glue_export *mem_exp =
      mod->memory_export >= 0 ? &mod->glue->exports[mod->memory_export] : NULL;
  if (mem_exp && mod->info.imported_memories == 0)
    wp__wasi_ctx_set_memory(&inst->wasi, mem_exp->get(inst->area));
  inst->instantiated = true; /* from here on, free runs the generated free */
  static const char what[] = "instantiation";
  rc = run_guest(inst, opts ? opts->deadline_ms : 0, instantiate_entry, inst, what,
                 sizeof(what) - 1, err);
  if (rc != 0) {
    /* A trap in the start function or in segment initialisation. */
    wp_instance_destroy(inst);
    return rc;
  }
  if (mem_exp)
    wp__wasi_ctx_set_memory(&inst->wasi, mem_exp->get(inst->area));
  /* A snapshot already holds what _initialize did (it ran before init). */
  if (mod->snapshot)
    wp__snapshot_apply_globals(mod, inst->area);
  if (mod->initialize_export >= 0 && !mod->snapshot) {
    const wp_glue_export *init = &mod->glue->exports[mod->initialize_export];
    wp_glue_cell none[1];
    call_args c = {init, inst->area, none, none};
    rc = run_guest(inst, opts ? opts->deadline_ms : 0, call_entry, &c, "_initialize", 11, err);
    if (rc != 0) {
      wp_instance_destroy(inst);
      return rc;
    }
  }
  *out = inst;
  return 0;
}

/* See wp_runtime.kept. Returns true when the runtime took the instance. */
static bool keep_for_imported_tables(wp_instance *inst) {
  if (!inst->instantiated || inst->mod->info.imported_tables == 0 || inst->kept)
    return false;
  wp_runtime *rt = inst->rt;
  pthread_mutex_lock(&rt->spectest_lock);
  if (rt->kept_count == rt->kept_capacity) {
    size_t capacity = rt->kept_capacity ? 2 * rt->kept_capacity : 16;
    wp_instance **grown = realloc(rt->kept, capacity * sizeof(*grown));
    if (!grown) {
      pthread_mutex_unlock(&rt->spectest_lock);
      return false; /* freed now: its funcrefs in other tables would dangle */
    }
    rt->kept = grown;
    rt->kept_capacity = capacity;
  }
  inst->kept = true;
  rt->kept[rt->kept_count++] = inst;
  pthread_mutex_unlock(&rt->spectest_lock);
  return true;
}

void wp__instances_release_kept(wp_runtime *rt) {
  for (size_t i = 0; i < rt->kept_count; i++)
    wp_instance_destroy(rt->kept[i]);
  free(rt->kept);
  rt->kept = NULL;
  rt->kept_count = rt->kept_capacity = 0;
}

void wp_instance_destroy(wp_instance *inst) {
  if (!inst || keep_for_imported_tables(inst))
    return;
  if (inst->instantiated)
    inst->mod->glue->free_instance(inst->area);
  wp__owner_release(inst->rt, &inst->slots);
  if (inst->has_slot)
    wp_instance_slot_release(inst->rt->pool, &inst->slot,
                             WP__AREA_HEADER_BYTES + inst->mod->glue->instance_size);
  if (inst->wasi_ready)
    wp__wasi_ctx_free(&inst->wasi);
  free(inst->import_block);
  wp_module_release(inst->mod);
  free(inst);
}

wp_module *wp_instance_module(const wp_instance *inst) {
  return inst->mod;
}

bool wp_instance_poisoned(const wp_instance *inst) {
  return inst->poisoned;
}

static int find_export(wp_instance *inst, const char *name, size_t length, wp_extern_kind kind,
                       size_t *index, wp_error *err) {
  const wp_module *mod = inst->mod;
  for (uint32_t i = 0; i < mod->info.export_count; i++) {
    const wp_export_info *x = &mod->exports[i];
    if (x->hidden || x->name_length != length || memcmp(x->name, name, length) != 0)
      continue;
    bool callable = mod->glue->exports[i].call != NULL;
    if (x->kind != kind || (kind == WP_EXTERN_FUNC && !callable))
      return wp__error(err, WP_ENO_EXPORT, "export \"%.*s\" is not a %s", (int)length, name,
                       kind == WP_EXTERN_FUNC ? "function" : "global");
    *index = i;
    return 0;
  }
  return wp__error(err, WP_ENO_EXPORT, "no export named \"%.*s\"", (int)length, name);
}

static void to_cell(const wp_val *v, wp_glue_cell *c) {
  c->lo = c->hi = 0;
  switch (v->type) {
  case WP_I32: c->lo = v->of.i32; break;
  case WP_I64: c->lo = v->of.i64; break;
  case WP_F32: c->lo = v->of.f32_bits; break;
  case WP_F64: c->lo = v->of.f64_bits; break;
  case WP_V128: memcpy(c, v->of.v128, 16); break;
  default: c->lo = (unsigned long long)(uintptr_t)v->of.ref; break;
  }
}

static void from_cell(wp_valtype type, const wp_glue_cell *c, wp_val *v) {
  memset(v, 0, sizeof(*v));
  v->type = type;
  switch (type) {
  case WP_I32: v->of.i32 = (uint32_t)c->lo; break;
  case WP_I64: v->of.i64 = c->lo; break;
  case WP_F32: v->of.f32_bits = (uint32_t)c->lo; break;
  case WP_F64: v->of.f64_bits = c->lo; break;
  case WP_V128: memcpy(v->of.v128, c, 16); break;
  default: v->of.ref = (void *)(uintptr_t)c->lo; break;
  }
}

int wp_instance_call(wp_instance *inst, const char *export_name, size_t name_length,
                     const wp_val *args, size_t arg_count, wp_val *results, size_t result_capacity,
                     const wp_call_options *opts, wp_error *err) {
  if (inst->poisoned)
    return wp__error(err, WP_EINVAL, "instance is poisoned (timed out); destroy it");
  size_t index = 0; /* set by find_export on success; gcc -O3 cannot see that */
  int rc = find_export(inst, export_name, name_length, WP_EXTERN_FUNC, &index, err);
  if (rc != 0)
    return rc;
  const wp_export_info *x = &inst->mod->exports[index];
  if (arg_count != x->param_count)
    return wp__error(err, WP_EARG_TYPE, "\"%.*s\" takes %u arguments, got %zu", (int)name_length,
                     export_name, x->param_count, arg_count);
  for (size_t i = 0; i < arg_count; i++) {
    if (args[i].type != x->params[i])
      return wp__error(err, WP_EARG_TYPE, "\"%.*s\" argument %zu: expected %s, got %s",
                       (int)name_length, export_name, i, wp_valtype_name(x->params[i]),
                       wp_valtype_name(args[i].type));
  }
  if (result_capacity < x->result_count)
    return wp__error(err, WP_EINVAL, "\"%.*s\" returns %u results, room for %zu", (int)name_length,
                     export_name, x->result_count, result_capacity);
  wp_glue_cell cell_args[x->param_count + 1];
  wp_glue_cell cell_results[x->result_count + 1];
  for (size_t i = 0; i < arg_count; i++)
    to_cell(&args[i], &cell_args[i]);
  call_args c = {&inst->mod->glue->exports[index], inst->area, cell_args, cell_results};
  rc = run_guest(inst, opts ? opts->deadline_ms : 0, call_entry, &c, export_name, name_length, err);
  if (rc != 0)
    return rc;
  for (uint32_t i = 0; i < x->result_count; i++)
    from_cell(x->results[i], &cell_results[i], &results[i]);
  return 0;
}

int wp_instance_get_global(wp_instance *inst, const char *export_name, size_t name_length,
                           wp_val *out, wp_error *err) {
  size_t index = 0; /* set by find_export on success; gcc -O3 cannot see that */
  int rc = find_export(inst, export_name, name_length, WP_EXTERN_GLOBAL, &index, err);
  if (rc != 0)
    return rc;
  const wp_export_info *x = &inst->mod->exports[index];
  void *p = inst->mod->glue->exports[index].get(inst->area);
  wp_glue_cell cell = {0, 0};
  switch (x->global_type) {
  case WP_I32:
  case WP_F32: cell.lo = *(const uint32_t *)p; break;
  case WP_I64:
  case WP_F64: cell.lo = *(const uint64_t *)p; break;
  case WP_V128: memcpy(&cell, p, 16); break;
  case WP_FUNCREF: cell.lo = (uintptr_t)((const wasm_rt_funcref_t *)p)->func; break;
  case WP_EXTERNREF: cell.lo = (uintptr_t) * (void *const *)p; break;
  }
  from_cell(x->global_type, &cell, out);
  return 0;
}

int wp_instance_run(wp_instance *inst, const wp_call_options *opts, int *exit_code, wp_error *err) {
  *exit_code = 0;
  if (inst->mod->start_export < 0)
    return wp__error(err, WP_ENO_EXPORT, "module has no _start (not a WASI command)");
  int rc = wp_instance_call(inst, "_start", 6, NULL, 0, NULL, 0, opts, err);
  if (rc == WP_EEXIT) {
    *exit_code = inst->exit_code;
    if (err) {
      err->code = 0;
      err->message[0] = '\0';
    }
    return 0;
  }
  return rc;
}

const uint8_t *wp_instance_stdout(const wp_instance *inst, size_t *length, bool *truncated) {
  return wp__wasi_stdout(&inst->wasi, length, truncated);
}

const uint8_t *wp_instance_stderr(const wp_instance *inst, size_t *length, bool *truncated) {
  return wp__wasi_stderr(&inst->wasi, length, truncated);
}

uint8_t *wp_instance_memory(wp_instance *inst, uint64_t *size_bytes) {
  if (inst->mod->memory_export < 0) {
    *size_bytes = 0;
    return NULL;
  }
  wasm_rt_memory_t *mem = inst->mod->glue->exports[inst->mod->memory_export].get(inst->area);
  *size_bytes = mem->size;
  return mem->data;
}
