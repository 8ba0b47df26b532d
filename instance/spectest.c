/* spectest.c — the "spectest" host module the spec suite imports from:
 * print functions (silent here: the runner checks results, not output), four
 * immutable globals of value 666 / 666.6, funcref tables of 10..20 elements
 * ("table", and "table64" with a 64-bit index) and memories of 1..2 pages
 * ("memory", and "shared_memory" for threads). The table and memory are
 * pooled slots created on first import and shared by every importer of this runtime, as one
 * spectest instance is shared in the reference interpreter.
 */
#include <stdlib.h>
#include <string.h>

#include <wasm-rt.h>

#include "module_internal.h"

/* Owns its slots like an instance (runtime.c finds it as the runtime's
 * spectest_owner, since it has no instance area). */
typedef struct wp__spectest {
  wasm_rt_memory_t memory;
  wasm_rt_shared_memory_t shared_memory; /* "shared_memory" (threads) */
  wasm_rt_funcref_table_t tables[2];     /* "table", "table64" (memory64) */
  wp__memory_binding memory_bindings[2]; /* memory, shared_memory */
  wp__table_binding table_bindings[2];
  wp__slot_owner owner;
} wp__spectest;

static const uint32_t k_global_i32 = 666;
static const uint64_t k_global_i64 = 666;
static const float k_global_f32 = 666.6f;
static const double k_global_f64 = 666.6;

static void print(void *env) {
  (void)env;
}
static void print_i32(void *env, uint32_t v) {
  (void)env;
  (void)v;
}
static void print_i64(void *env, uint64_t v) {
  (void)env;
  (void)v;
}
static void print_f32(void *env, float v) {
  (void)env;
  (void)v;
}
static void print_f64(void *env, double v) {
  (void)env;
  (void)v;
}
static void print_i32_f32(void *env, uint32_t a, float b) {
  (void)env;
  (void)a;
  (void)b;
}
static void print_f64_f64(void *env, double a, double b) {
  (void)env;
  (void)a;
  (void)b;
}

typedef struct spectest_func {
  const char *name;
  const char *params; /* i I f F */
  void (*fn)(void);
} spectest_func;

static const spectest_func k_funcs[] = {
    {"print", "", (void (*)(void))print},
    {"print_i32", "i", (void (*)(void))print_i32},
    {"print_i64", "I", (void (*)(void))print_i64},
    {"print_f32", "f", (void (*)(void))print_f32},
    {"print_f64", "F", (void (*)(void))print_f64},
    {"print_i32_f32", "if", (void (*)(void))print_i32_f32},
    {"print_f64_f64", "FF", (void (*)(void))print_f64_f64},
};

static uint8_t type_of(char c) {
  switch (c) {
  case 'I': return WP__I64;
  case 'f': return WP__F32;
  case 'F': return WP__F64;
  default: return WP__I32;
  }
}

static bool field_is(const wp__import *imp, const char *name) {
  size_t len = strlen(name);
  return imp->field.length == len && memcmp(imp->field.bytes, name, len) == 0;
}

static bool limits_ok(const wp__limits *want, uint64_t min, uint64_t max) {
  return min >= want->min && (!want->has_max || max <= want->max);
}

void wp__spectest_release(wp_runtime *rt) {
  wp__spectest *s = rt->spectest;
  if (!s)
    return;
  rt->spectest_owner = NULL;
  wp__owner_release(rt, &s->owner);
  free(s);
  rt->spectest = NULL;
}

static wp__spectest *spectest_of(wp_runtime *rt) {
  if (rt->spectest)
    return rt->spectest;
  wp__spectest *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->owner.memories = s->memory_bindings;
  s->owner.memory_count = s->owner.memories_bound = 2;
  /* Both tables are looked up from the start; an unbound one (table NULL)
   * matches no descriptor. */
  s->owner.tables = s->table_bindings;
  s->owner.table_count = s->owner.tables_bound = 2;
  rt->spectest = s;
  rt->spectest_owner = &s->owner;
  return s;
}

/* The spectest memory (1..2 pages) and table (10..20 funcrefs), created on
 * first import. Called with spectest_lock held. */
static bool memory_ready(wp_runtime *rt, wp__spectest *s, int which) {
  wp__memory_binding *b = &s->memory_bindings[which];
  if (b->memory)
    return true;
  if (wp__memory_plan(rt, b, 65536, 2 * 65536, NULL, 0) != 0)
    return false;
  wp__memory_bind(b, which ? (void *)&s->shared_memory : (void *)&s->memory, 2, false, which == 1);
  return true;
}

static bool table_ready(wp_runtime *rt, wp__spectest *s, int which) {
  wp__table_binding *b = &s->table_bindings[which];
  if (b->table)
    return true;
  if (wp__table_plan(rt, b, false, 10, 20) != 0)
    return false;
  wp__table_bind(b, &s->tables[which], 20);
  return true;
}

bool wp__spectest_resolve(wp_runtime *rt, const wp__module_info *info, const wp__import *imp,
                          wp_glue_import *out) {
  switch (imp->kind) {
  case WP__EXTERN_FUNC: {
    if (imp->type_index >= info->type_count)
      return false;
    const wp__functype *ft = &info->types[imp->type_index];
    for (size_t i = 0; i < sizeof(k_funcs) / sizeof(k_funcs[0]); i++) {
      if (!field_is(imp, k_funcs[i].name))
        continue;
      size_t n = strlen(k_funcs[i].params);
      if (ft->result_count != 0 || ft->param_count != n)
        return false;
      for (size_t p = 0; p < n; p++)
        if (ft->params[p] != type_of(k_funcs[i].params[p]))
          return false;
      if (out) {
        memset(out, 0, sizeof(*out));
        out->fn = k_funcs[i].fn;
        out->host = 1;
      }
      return true;
    }
    return false;
  }
  case WP__EXTERN_GLOBAL: {
    const void *value = NULL;
    uint8_t type = 0;
    if (field_is(imp, "global_i32"))
      value = &k_global_i32, type = WP__I32;
    else if (field_is(imp, "global_i64"))
      value = &k_global_i64, type = WP__I64;
    else if (field_is(imp, "global_f32"))
      value = &k_global_f32, type = WP__F32;
    else if (field_is(imp, "global_f64"))
      value = &k_global_f64, type = WP__F64;
    if (!value || imp->global.type != type || imp->global.mutable_)
      return false;
    if (out) {
      memset(out, 0, sizeof(*out));
      /* Immutable: the generated code only reads through this pointer. */
      out->ptr = (void *)value;
    }
    return true;
  }
  case WP__EXTERN_MEMORY: {
    int which = field_is(imp, "memory") ? 0 : field_is(imp, "shared_memory") ? 1 : -1;
    if (which < 0 || imp->memory.is64 || imp->memory.shared != (which == 1) ||
        !limits_ok(&imp->memory, 1, 2))
      return false;
    if (!out)
      return true;
    pthread_mutex_lock(&rt->spectest_lock);
    wp__spectest *s = spectest_of(rt);
    bool ok = s && memory_ready(rt, s, which);
    pthread_mutex_unlock(&rt->spectest_lock);
    memset(out, 0, sizeof(*out));
    out->ptr = !ok ? NULL : which ? (void *)&s->shared_memory : (void *)&s->memory;
    return ok;
  }
  case WP__EXTERN_TABLE: {
    int which = field_is(imp, "table") ? 0 : field_is(imp, "table64") ? 1 : -1;
    if (which < 0 || imp->table.elem_type != WP__FUNCREF ||
        imp->table.limits.is64 != (which == 1) || !limits_ok(&imp->table.limits, 10, 20))
      return false;
    if (!out)
      return true;
    pthread_mutex_lock(&rt->spectest_lock);
    wp__spectest *s = spectest_of(rt);
    bool ok = s && table_ready(rt, s, which);
    pthread_mutex_unlock(&rt->spectest_lock);
    memset(out, 0, sizeof(*out));
    out->ptr = ok ? &s->tables[which] : NULL;
    return ok;
  }
  default: return false;
  }
}
