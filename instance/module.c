/* module.c — deploying a module: read, refuse what cannot run, build the
 * memory image, compile (or hit the cache), load the .so.
 *
 * Order matters: what the engine cannot run is refused before wasm2c runs,
 * naming the feature; unknown imports are refused before anything is
 * compiled, and
 * when the active data segments fit an image they are stripped from the
 * bytes given to wasm2c, so the generated code never copies them: the
 * instance's memory maps the image copy-on-write instead (alloc/).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module_internal.h"

static const char k_wasi_module[] = "wasi_snapshot_preview1";
static const char k_spectest_module[] = "spectest";

static bool name_is(const wp__name *name, const char *text) {
  size_t len = strlen(text);
  return name->length == len && memcmp(name->bytes, text, len) == 0;
}

bool wp__functype_equal(const wp__functype *a, const wp__functype *b) {
  return a->param_count == b->param_count && a->result_count == b->result_count &&
         memcmp(a->params, b->params, a->param_count) == 0 &&
         memcmp(a->results, b->results, a->result_count) == 0;
}

static bool sig_matches(const char *spec, const uint8_t *types, uint32_t count) {
  if (strlen(spec) != count)
    return false;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t want = spec[i] == 'I' ? WP__I64 : WP__I32;
    if (types[i] != want)
      return false;
  }
  return true;
}

static const wp__wasi_func *wasi_binding(const wp__module_info *info, const wp__import *imp) {
  if (imp->kind != WP__EXTERN_FUNC || imp->type_index >= info->type_count)
    return NULL;
  const wp__wasi_func *f = wp__wasi_lookup(imp->field.bytes, imp->field.length);
  if (!f)
    return NULL;
  const wp__functype *ft = &info->types[imp->type_index];
  if (!sig_matches(f->params, ft->params, ft->param_count) ||
      !sig_matches(f->results, ft->results, ft->result_count))
    return NULL;
  return f;
}

/* "(i32 i32) -> i32" from a wasi table entry's letters. */
static void format_wasi_sig(const wp__wasi_func *f, char *out, size_t len) {
  size_t n = (size_t)snprintf(out, len, "(");
  for (const char *p = f->params; *p && n < len; p++)
    n += (size_t)snprintf(out + n, len - n, "%s%s", p == f->params ? "" : " ",
                          *p == 'I' ? "i64" : "i32");
  if (n < len)
    snprintf(out + n, len - n, ") -> %s", f->results[0] ? "i32" : "()");
}

static void format_functype(const wp__functype *ft, char *out, size_t len) {
  size_t n = (size_t)snprintf(out, len, "(");
  for (uint32_t i = 0; i < ft->param_count && n < len; i++)
    n += (size_t)snprintf(out + n, len - n, "%s%s", i ? " " : "",
                          wp_valtype_name(wp__public_valtype(ft->params[i])));
  n += n < len ? (size_t)snprintf(out + n, len - n, ") -> ") : 0;
  if (ft->result_count == 0 && n < len)
    snprintf(out + n, len - n, "()");
  for (uint32_t i = 0; i < ft->result_count && n < len; i++)
    n += (size_t)snprintf(out + n, len - n, "%s%s", i ? " " : "",
                          wp_valtype_name(wp__public_valtype(ft->results[i])));
}

/* A WASI function imported under its right name with another signature:
 * said as such, not as an unknown import. */
static bool wasi_signature_mismatch(const wp__module_info *info, char *why, size_t why_len) {
  for (uint32_t i = 0; i < info->import_count; i++) {
    const wp__import *imp = &info->imports[i];
    if (!name_is(&imp->module, k_wasi_module) || imp->kind != WP__EXTERN_FUNC ||
        imp->type_index >= info->type_count)
      continue;
    const wp__wasi_func *f = wp__wasi_lookup(imp->field.bytes, imp->field.length);
    if (!f || wasi_binding(info, imp))
      continue;
    char want[64], have[64];
    format_wasi_sig(f, want, sizeof(want));
    format_functype(&info->types[imp->type_index], have, sizeof(have));
    snprintf(why, why_len, "%s.%s: WASI defines it as %s, the module imports %s", k_wasi_module,
             f->name, want, have);
    return true;
  }
  return false;
}

typedef struct provide_ctx {
  wp_runtime *rt;
  const wp__module_info *info;
  bool allow_spectest;
  const wp_linker *linker;
} provide_ctx;

static bool provides(const wp__import *imp, void *arg) {
  provide_ctx *ctx = arg;
  if (name_is(&imp->module, k_wasi_module))
    return wasi_binding(ctx->info, imp) != NULL;
  if (ctx->allow_spectest && name_is(&imp->module, k_spectest_module))
    return wp__spectest_resolve(ctx->rt, ctx->info, imp, NULL);
  if (ctx->linker) {
    wp_glue_import unused;
    return wp__linker_resolve(ctx->linker, ctx->info, imp, &unused);
  }
  return false;
}

int wp__module_resolve_imports(wp_module *mod, const wp_linker *linker, wp__wasi_ctx *wasi,
                               wp_glue_import *imports, wp_error *err) {
  const wp__module_info *info = &mod->info;
  char missing[400] = "";
  size_t used = 0;
  uint32_t missing_count = 0;
  for (uint32_t i = 0; i < info->import_count; i++) {
    const wp__import *imp = &info->imports[i];
    bool ok = false;
    memset(&imports[i], 0, sizeof(imports[i]));
    if (name_is(&imp->module, k_wasi_module)) {
      const wp__wasi_func *f = wasi_binding(info, imp);
      if (f) {
        imports[i].fn = f->fn;
        imports[i].env = wasi;
        imports[i].host = 1;
        ok = true;
      }
    } else if (mod->allow_spectest && name_is(&imp->module, k_spectest_module)) {
      ok = wp__spectest_resolve(mod->rt, info, imp, &imports[i]);
    } else if (linker) {
      ok = wp__linker_resolve(linker, info, imp, &imports[i]);
    }
    if (!ok) {
      missing_count++;
      if (used < sizeof(missing))
        used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s%.*s.%.*s",
                                 missing_count > 1 ? ", " : "", (int)imp->module.length,
                                 imp->module.bytes, (int)imp->field.length, imp->field.bytes);
    }
  }
  if (missing_count)
    return wp__error(err, WP_EUNLINKABLE, "unknown import%s: %s", missing_count > 1 ? "s" : "",
                     missing);
  return 0;
}

wp_valtype wp__public_valtype(uint8_t t) {
  switch (t) {
  case WP__I64: return WP_I64;
  case WP__F32: return WP_F32;
  case WP__F64: return WP_F64;
  case WP__FUNCREF: return WP_FUNCREF;
  case WP__EXTERNREF: return WP_EXTERNREF;
  case WP__V128: return WP_V128;
  default: return WP_I32;
  }
}

static const wp__globaltype *global_type(const wp__module_info *info, uint32_t index) {
  if (index < info->imported_globals) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < info->import_count; i++)
      if (info->imports[i].kind == WP__EXTERN_GLOBAL && n++ == index)
        return &info->imports[i].global;
    return NULL;
  }
  index -= info->imported_globals;
  return index < info->global_count ? &info->globals[index].type : NULL;
}

static int build_exports(wp_module *mod, wp_error *err) {
  const wp__module_info *info = &mod->info;
  size_t type_slots = 0;
  for (uint32_t i = 0; i < info->export_count; i++) {
    const wp__functype *ft = info->exports[i].kind == WP__EXTERN_FUNC
                                 ? wp__module_func_type(info, info->exports[i].index)
                                 : NULL;
    if (ft)
      type_slots += ft->param_count + ft->result_count;
  }
  mod->exports = calloc(info->export_count + 1, sizeof(wp_export_info));
  mod->export_types = calloc(type_slots + 1, sizeof(wp_valtype));
  if (!mod->exports || !mod->export_types)
    return wp__error(err, WP_ENOMEM, "out of memory");
  mod->memory_export = mod->start_export = mod->initialize_export = -1;
  size_t next = 0;
  for (uint32_t i = 0; i < info->export_count; i++) {
    const wp__export *e = &info->exports[i];
    wp_export_info *x = &mod->exports[i];
    x->name = e->name.bytes;
    x->name_length = e->name.length;
    switch (e->kind) {
    case WP__EXTERN_FUNC: {
      x->kind = WP_EXTERN_FUNC;
      const wp__functype *ft = wp__module_func_type(info, e->index);
      if (!ft)
        return wp__error(err, WP_EINVALID_MODULE, "export %u: no function %u", i, e->index);
      wp_valtype *types = mod->export_types + next;
      for (uint32_t p = 0; p < ft->param_count; p++)
        types[p] = wp__public_valtype(ft->params[p]);
      for (uint32_t p = 0; p < ft->result_count; p++)
        types[ft->param_count + p] = wp__public_valtype(ft->results[p]);
      x->param_count = ft->param_count;
      x->result_count = ft->result_count;
      x->params = types;
      x->results = types + ft->param_count;
      next += ft->param_count + ft->result_count;
      if (name_is(&e->name, "_start") && ft->param_count == 0 && ft->result_count == 0)
        mod->start_export = (int32_t)i;
      if (name_is(&e->name, "_initialize") && ft->param_count == 0 && ft->result_count == 0)
        mod->initialize_export = (int32_t)i;
      break;
    }
    case WP__EXTERN_GLOBAL: {
      x->kind = WP_EXTERN_GLOBAL;
      const wp__globaltype *gt = global_type(info, e->index);
      if (gt) {
        x->global_type = wp__public_valtype(gt->type);
        x->global_mutable = gt->mutable_;
      }
      break;
    }
    case WP__EXTERN_MEMORY:
      x->kind = WP_EXTERN_MEMORY;
      if (mod->memory_export < 0)
        mod->memory_export = (int32_t)i;
      break;
    case WP__EXTERN_TABLE: x->kind = WP_EXTERN_TABLE; break;
    default: x->kind = WP_EXTERN_FUNC; break; /* tags: never callable (no glue entry) */
    }
  }
  return 0;
}

static void fill_limits(wp_module *mod) {
  const wp__module_info *info = &mod->info;
  wp_module_limits *l = &mod->limits;
  memset(l, 0, sizeof(*l));
  l->maximum_memory_bytes = UINT64_MAX;
  l->maximum_table_elements = UINT32_MAX;
  const wp__limits *mem = wp__module_memory(info, 0);
  if (mem) {
    l->initial_memory_bytes = mem->min * 65536;
    l->maximum_memory_bytes = mem->has_max ? mem->max * 65536 : UINT64_MAX;
  }
  const wp__tabletype *tab = wp__module_table(info, 0);
  if (tab) {
    l->initial_table_elements = (uint32_t)tab->limits.min;
    l->maximum_table_elements = tab->limits.has_max ? (uint32_t)tab->limits.max : UINT32_MAX;
  }
  l->image_bytes = mod->image ? wp_image_bytes(mod->image) : 0;
  l->is_command = mod->start_export >= 0;
  l->is_reactor = mod->initialize_export >= 0;
  l->memory_class = mod->memory_class;
  l->bounds_checked = mod->bounds_checked;
  l->memory_cap_bytes = mod->memory_cap_bytes;
}

/* Active segments -> image, when the reader says they can be. */
static int build_image(wp_module *mod, const uint8_t *wasm, wp_error *err) {
  const wp__module_info *info = &mod->info;
  if (info->data_segment_count == 0 || !wp__module_data_is_imageable(info))
    return 0;
  const wp__limits *mem = wp__module_memory(info, 0);
  if (!mem || info->imported_memories > 0)
    return 0;
  wp_image_segment *segs = calloc(info->data_segment_count, sizeof(*segs));
  if (!segs)
    return wp__error(err, WP_ENOMEM, "out of memory");
  size_t n = 0;
  for (uint32_t i = 0; i < info->data_segment_count; i++) {
    const wp__data_segment *d = &info->data_segments[i];
    if (d->mode != WP__SEGMENT_ACTIVE || d->length == 0)
      continue;
    segs[n].offset = (uint32_t)d->offset.bits;
    segs[n].bytes = wasm + d->file_offset;
    segs[n].length = d->length;
    n++;
  }
  int rc = wp_image_create(segs, n, mem->min * 65536, &mod->image);
  free(segs);
  if (rc != 0)
    return wp__error(err, rc, "memory image: %s", wp_strerror(rc));
  return 0;
}

/* The slot class of the module's memories, chosen once at deploy because
 * the code is compiled for it. Small slots when the pool has them and
 * every defined memory's maximum (after the operator's cap) fits one, or
 * when the pool has no guarded slots at all and the initial sizes fit
 * (growth past the slot is then memory.grow -> -1, as the spec allows).
 * Code is bounds-checked whenever its memory may sit in a small slot:
 * its own, or an imported one (whose slot the importer cannot know). */
static void choose_memory_class(wp_module *mod, const wp_pool_config *pool, uint64_t cap) {
  const wp__module_info *info = &mod->info;
  bool small_ok = pool->small_memories > 0, max_fits = true, initial_fits = true;
  for (uint32_t i = 0; i < info->memory_count; i++) {
    const wp__limits *l = &info->memories[i];
    uint64_t max = l->has_max ? l->max : (l->is64 ? UINT64_MAX / 65536 : 65536);
    uint64_t max_bytes = max > UINT64_MAX / 65536 ? UINT64_MAX : max * 65536;
    if (cap && max_bytes > cap)
      max_bytes = cap;
    if (max_bytes > pool->small_memory_bytes)
      max_fits = false;
    if (l->min > pool->small_memory_bytes / 65536)
      initial_fits = false;
  }
  bool small = small_ok && info->memory_count > 0 &&
               (max_fits || (wp_pool_guarded_memories(pool) == 0 && initial_fits));
  mod->memory_class = small ? WP_MEMORY_SMALL : WP_MEMORY_GUARDED;
  mod->memory_cap_bytes = cap;
  mod->bounds_checked = small || (small_ok && info->imported_memories > 0);
}

int wp_module_load(wp_runtime *rt, const uint8_t *wasm, size_t length,
                   const wp_module_options *opts, wp_module **out, wp_error *err) {
  wp_module *mod = calloc(1, sizeof(*mod));
  if (!mod)
    return wp__error(err, WP_ENOMEM, "out of memory");
  atomic_init(&mod->refs, 1);
  mod->rt = rt;
  mod->allow_spectest = opts && opts->allow_spectest;
  mod->memory_export = mod->start_export = mod->initialize_export = -1;
  wp__sha256_hex(wasm, length, mod->hash);

  wp__read_error rerr;
  memset(&rerr, 0, sizeof(rerr));
  int rc = wp__module_read(wasm, length, &mod->info, &rerr);
  if (rc != 0) {
    free(mod);
    return wp__error(err, rc, "%s section, offset %llu: %s", rerr.section,
                     (unsigned long long)rerr.offset, rerr.message);
  }
  uint32_t disabled = opts ? opts->disabled_features : 0;
  if (mod->info.uses_memory_index && (disabled & WP_FEATURE_MULTI_MEMORY)) {
    wp_module_release(mod);
    return wp__error(err, WP_EMALFORMED,
                     "code section: zero byte expected (a memory index needs multi-memory)");
  }
  provide_ctx pctx = {rt, &mod->info, mod->allow_spectest, opts ? opts->linker : NULL};
  char missing[400];
  uint32_t missing_count =
      wp__module_missing_imports(&mod->info, provides, &pctx, missing, sizeof(missing));
  if (missing_count) {
    /* A WASI name with the wrong signature is said as such. */
    char why[320] = "";
    bool mismatch = wasi_signature_mismatch(&mod->info, why, sizeof(why));
    wp_module_release(mod);
    if (wp__validate(&rt->compiler, wasm, length, opts ? opts->disabled_features : 0, err) ==
        WP_EINVALID_MODULE)
      return WP_EINVALID_MODULE;
    return wp__error(err, WP_EUNLINKABLE, "unknown import%s: %s%s%s", missing_count > 1 ? "s" : "",
                     missing, mismatch ? "; " : "", why);
  }
  choose_memory_class(mod, wp_pool_get_config(rt->pool), opts ? opts->max_memory_bytes : 0);
  rc = build_image(mod, wasm, err);
  if (rc != 0) {
    wp_module_release(mod);
    return rc;
  }
  const uint8_t *compile_bytes = wasm;
  size_t compile_length = length;
  uint8_t *stripped = NULL;
  if (mod->image) {
    rc = wp__module_strip_active_data(wasm, length, &mod->info, &stripped, &compile_length);
    if (rc != 0) {
      wp_module_release(mod);
      return wp__error(err, rc, "cannot rewrite the data section: %s", wp_strerror(rc));
    }
    compile_bytes = stripped;
  }
  wp__build_request req = {.info = &mod->info,
                           .wasm = compile_bytes,
                           .length = compile_length,
                           .disabled_features = opts ? opts->disabled_features : 0,
                           .tier = opts ? opts->tier : WP_TIER_BASELINE,
                           .cache_only = opts && opts->cache_only,
                           .bounds_checks = mod->bounds_checked};
  mod->tier = wp__build_tier(&req);
  char input_hex[65], key_hex[65];
  wp__sha256_hex(compile_bytes, compile_length, input_hex);
  char key_text[200];
  /* Bounds-checked code is another artifact: ":b" keeps the two apart. */
  snprintf(key_text, sizeof(key_text), "%s:%s:%x%s", rt->compiler.tiers[mod->tier].identity_hex,
           input_hex, (unsigned)req.disabled_features, req.bounds_checks ? ":b" : "");
  wp__sha256_hex(key_text, strlen(key_text), key_hex);
  char *so_path = NULL;
  rc = wp__compile(&rt->compiler, &req, key_hex, &so_path, &mod->cache_hit, err);
  free(stripped);
  if (rc != 0) {
    wp_module_release(mod);
    return rc;
  }
  mod->dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
  if (!mod->dl) {
    rc = wp__error(err, WP_ECOMPILE, "cannot load %s: %s", so_path, dlerror());
    free(so_path);
    wp_module_release(mod);
    return rc;
  }
  mod->glue = dlsym(mod->dl, "wp_glue_descriptor");
  if (!mod->glue || mod->glue->abi_version != WP__GLUE_ABI_VERSION ||
      mod->glue->export_count != mod->info.export_count ||
      mod->glue->import_count != mod->info.import_count) {
    rc = wp__error(err, WP_ECOMPILE, "%s: not a wasmpool module of this version", so_path);
    free(so_path);
    wp_module_release(mod);
    return rc;
  }
  free(so_path);
  mod->glue->bind(&wp__glue_host, rt);
  rc = build_exports(mod, err);
  if (rc != 0) {
    wp_module_release(mod);
    return rc;
  }
  fill_limits(mod);
  *out = mod;
  return 0;
}

void wp_module_retain(wp_module *mod) {
  atomic_fetch_add(&mod->refs, 1);
}

void wp_module_release(wp_module *mod) {
  if (!mod || atomic_fetch_sub(&mod->refs, 1) != 1)
    return;
  if (mod->dl)
    dlclose(mod->dl);
  if (mod->image)
    wp_image_release(mod->image);
  wp__snapshot_free(mod->snapshot);
  free(mod->exports);
  free(mod->export_types);
  wp__module_info_free(&mod->info);
  free(mod);
}

bool wp_module_cache_hit(const wp_module *mod) {
  return mod->cache_hit;
}

const char *wp_module_hash(const wp_module *mod) {
  return mod->hash;
}

wp_tier wp_module_tier(const wp_module *mod) {
  return mod->tier;
}

size_t wp_module_export_count(const wp_module *mod) {
  return mod->info.export_count;
}

const wp_export_info *wp_module_export(const wp_module *mod, size_t i) {
  return i < mod->info.export_count ? &mod->exports[i] : NULL;
}

const wp_export_info *wp_module_find_export(const wp_module *mod, const char *name, size_t length) {
  for (uint32_t i = 0; i < mod->info.export_count; i++) {
    if (!mod->exports[i].hidden && mod->exports[i].name_length == length &&
        memcmp(mod->exports[i].name, name, length) == 0)
      return &mod->exports[i];
  }
  return NULL;
}

void wp_module_get_limits(const wp_module *mod, wp_module_limits *out) {
  *out = mod->limits;
}
