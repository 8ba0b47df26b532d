/* linker.c — named instances whose exports other modules import (the spec
 * suite's "register" command).
 *
 * A registered function import binds to the exporter's own C function with
 * the exporter's instance as its environment: the importer's glue forwarder
 * calls it directly, so a cross-module call costs one indirect call and
 * traps unwind through both modules to the caller's trap target. Globals,
 * memories and tables bind by address (shared, as Wasm requires). The linker
 * does not own the instances; they must outlive every importer.
 */
#include <stdlib.h>
#include <string.h>

#include <wasm-rt.h>

#include "module_internal.h"

typedef struct linker_entry {
  char *name;
  size_t name_length;
  wp_instance *inst;
} linker_entry;

struct wp_linker {
  pthread_mutex_t lock;
  linker_entry *entries;
  size_t count, capacity;
};

int wp_linker_create(wp_linker **out) {
  wp_linker *linker = calloc(1, sizeof(*linker));
  if (!linker)
    return WP_ENOMEM;
  pthread_mutex_init(&linker->lock, NULL);
  *out = linker;
  return 0;
}

void wp_linker_destroy(wp_linker *linker) {
  if (!linker)
    return;
  for (size_t i = 0; i < linker->count; i++)
    free(linker->entries[i].name);
  free(linker->entries);
  pthread_mutex_destroy(&linker->lock);
  free(linker);
}

int wp_linker_register(wp_linker *linker, const char *name, wp_instance *inst) {
  size_t length = strlen(name);
  pthread_mutex_lock(&linker->lock);
  for (size_t i = 0; i < linker->count; i++) {
    if (linker->entries[i].name_length == length &&
        memcmp(linker->entries[i].name, name, length) == 0) {
      linker->entries[i].inst = inst; /* re-registering a name replaces it */
      pthread_mutex_unlock(&linker->lock);
      return 0;
    }
  }
  if (linker->count == linker->capacity) {
    size_t capacity = linker->capacity ? 2 * linker->capacity : 8;
    linker_entry *grown = realloc(linker->entries, capacity * sizeof(*grown));
    if (!grown) {
      pthread_mutex_unlock(&linker->lock);
      return WP_ENOMEM;
    }
    linker->entries = grown;
    linker->capacity = capacity;
  }
  char *copy = strdup(name);
  if (!copy) {
    pthread_mutex_unlock(&linker->lock);
    return WP_ENOMEM;
  }
  linker->entries[linker->count++] = (linker_entry){copy, length, inst};
  pthread_mutex_unlock(&linker->lock);
  return 0;
}

/* Import limits {min, max?} accept an actual {size, max?}. */
static bool limits_match(const wp__limits *want, uint64_t size, bool has_max, uint64_t max) {
  if (size < want->min)
    return false;
  if (want->has_max && (!has_max || max > want->max))
    return false;
  return true;
}

static bool resolve_in(wp_instance *inst, const wp__module_info *info, const wp__import *imp,
                       wp_glue_import *out) {
  const wp_module *mod = inst->mod;
  const wp__module_info *xinfo = &mod->info;
  for (uint32_t i = 0; i < xinfo->export_count; i++) {
    const wp__export *e = &xinfo->exports[i];
    if (e->name.length != imp->field.length ||
        memcmp(e->name.bytes, imp->field.bytes, e->name.length) != 0)
      continue;
    if ((int)e->kind != (int)imp->kind)
      return false;
    const wp_glue_export *g = &mod->glue->exports[i];
    memset(out, 0, sizeof(*out));
    switch (imp->kind) {
    case WP__EXTERN_FUNC: {
      const wp__functype *have = wp__module_func_type(xinfo, e->index);
      if (!have || imp->type_index >= info->type_count ||
          !wp__functype_equal(have, &info->types[imp->type_index]))
        return false;
      out->fn = g->func;
      out->env = inst->area;
      return true;
    }
    case WP__EXTERN_GLOBAL: {
      const wp_export_info *x = &mod->exports[i];
      if (x->global_mutable != imp->global.mutable_)
        return false;
      if (x->global_type != wp__public_valtype(imp->global.type))
        return false;
      out->ptr = g->get(inst->area);
      return true;
    }
    case WP__EXTERN_MEMORY: {
      const wp__limits *decl = wp__module_memory(xinfo, e->index);
      wasm_rt_memory_t *mem = g->get(inst->area);
      if (!decl || !mem)
        return false;
      if (!limits_match(&imp->memory, mem->pages, decl->has_max, decl->max))
        return false;
      out->ptr = mem;
      return true;
    }
    case WP__EXTERN_TABLE: {
      const wp__tabletype *decl = wp__module_table(xinfo, e->index);
      if (!decl || decl->elem_type != imp->table.elem_type)
        return false;
      uint32_t size = decl->elem_type == WP__EXTERNREF
                          ? ((wasm_rt_externref_table_t *)g->get(inst->area))->size
                          : ((wasm_rt_funcref_table_t *)g->get(inst->area))->size;
      if (!limits_match(&imp->table.limits, size, decl->limits.has_max, decl->limits.max))
        return false;
      out->ptr = g->get(inst->area);
      return true;
    }
    case WP__EXTERN_TAG: {
      /* Tags match by identity: the exporter's tag object (glue.c). A tag's
       * type must be the same function type. */
      if (!g->get)
        return false;
      out->ptr = g->get(inst->area);
      return true;
    }
    default: return false;
    }
  }
  return false;
}

bool wp__linker_resolve(const wp_linker *linker, const wp__module_info *info, const wp__import *imp,
                        wp_glue_import *out) {
  wp_linker *l = (wp_linker *)linker;
  pthread_mutex_lock(&l->lock);
  wp_instance *inst = NULL;
  for (size_t i = 0; i < l->count; i++) {
    if (l->entries[i].name_length == imp->module.length &&
        memcmp(l->entries[i].name, imp->module.bytes, imp->module.length) == 0)
      inst = l->entries[i].inst;
  }
  pthread_mutex_unlock(&l->lock);
  return inst && resolve_in(inst, info, imp, out);
}
