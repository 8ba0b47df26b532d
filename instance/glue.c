/* glue.c — generates the glue C file linked with wasm2c's output into one
 * module .so.
 *
 * Choices (see runtime_internal.h for the ABI structs):
 * - The glue is its own translation unit and includes only the generated
 *   header m.h, so the generated code may be split into several .c files
 *   (wasm2c --num-outputs) compiled in parallel, and every export and import
 *   prototype of m.h checks the glue's own definitions at compile time.
 * - Self-contained .so: the glue defines every wasm_rt_* symbol the generated
 *   code calls as a forwarder through a wp_glue_host table that the host
 *   passes once at load (bind), with the runtime as context for memory and
 *   table calls. Nothing is resolved from the executable, so it works with
 *   static libraries, without -rdynamic, and in sanitizer builds (the .so
 *   itself is not instrumented).
 * - Imports: each import symbol w2c_<module>_<field> is defined here as a
 *   forwarder through a host-filled wp_glue_import array. The generated code
 *   receives one import block as the instance of every module it imports
 *   from (so the order wasm2c sorts them in does not matter), and one .so
 *   never depends on another's symbols: two modules registered under the
 *   same name cannot clash. The block is [self pointer][wp_glue_import...]
 *   and forwarders find it as *(void **)ctx: wasm2c passes the block itself
 *   on a direct call but, for an imported function placed in a table, a
 *   pointer to the instance field that holds the block (its elem init adds
 *   the field's offset to the instance). Both dereference to the block.
 * - Imported tags are module-wide constants in wasm2c (extern const
 *   wasm_rt_tag_t w2c_<module>_<field>), not instance fields. A second
 *   generated file, tags.c, which does not include m.h, defines each as a
 *   plain pointer and a setter; the glue fills them from the import block
 *   before instantiating, so a catch in this module matches the exporter's
 *   tag. (The generated code sees them const: it only reads them, and never
 *   before instantiation.) One module .so links one set of tags at a time.
 * - Exports: one descriptor, wp_glue_module (the only visible symbol), with a
 *   per-export entry holding the raw name bytes, kind, signature, a
 *   trampoline over 16-byte value cells and the typed C function (the linker
 *   hands it to importers, whose forwarders call it directly).
 * - Names: wp__mangle() reproduces wasm2c 1.0.36's Mangle byte for byte; raw
 *   names are written as escaped C string literals with their length, so
 *   names with NUL or any other byte survive.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

static bool is_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_upper_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* wasm2c 1.0.36's rules: a hex digit after "0x", and an underscore first,
 * last or after another underscore, are escaped as 0xAB; module names double
 * every other underscore; other alphanumerics and '_' stay; the rest is
 * escaped. The "0x" state machine restarts after every escape. */
char *wp__mangle(const char *bytes, size_t length, bool module_name) {
  char *out = malloc(4 * length + 1);
  if (!out)
    return NULL;
  enum { ANY, ZERO, ZERO_X } state = ANY;
  bool last_underscore = false;
  size_t n = 0;
  for (size_t i = 0; i < length; i++) {
    unsigned char c = (unsigned char)bytes[i];
    bool escape_hex = false;
    if (state == ZERO_X) {
      escape_hex = is_upper_hex(c);
      state = ANY;
    } else if (state == ZERO) {
      state = c == 'x' ? ZERO_X : ANY;
    } else {
      state = c == '0' ? ZERO : ANY;
    }
    bool edge_underscore = c == '_' && (i == 0 || i + 1 == length || last_underscore);
    if (escape_hex || edge_underscore || !(is_alnum(c) || c == '_')) {
      n += (size_t)sprintf(out + n, "0x%02X", c);
      last_underscore = false;
      state = ANY;
      continue;
    }
    out[n++] = (char)c;
    if (c == '_' && module_name)
      out[n++] = '_';
    last_underscore = c == '_';
  }
  out[n] = '\0';
  return out;
}

static const char *c_type(uint8_t t) {
  switch (t) {
  case WP__I32: return "u32";
  case WP__I64: return "u64";
  case WP__F32: return "f32";
  case WP__F64: return "f64";
  case WP__V128: return "v128";
  case WP__FUNCREF: return "wasm_rt_funcref_t";
  case WP__EXTERNREF: return "wasm_rt_externref_t";
  }
  return NULL;
}

/* wasm2c's letter for a type in multi-value struct names and fields. */
static char type_letter(uint8_t t) {
  switch (t) {
  case WP__I32: return 'i';
  case WP__I64: return 'j';
  case WP__F32: return 'f';
  case WP__F64: return 'd';
  case WP__V128: return 'o';
  case WP__FUNCREF: return 'r';
  case WP__EXTERNREF: return 'e';
  }
  return '?';
}

static int public_type(uint8_t t) {
  switch (t) {
  case WP__I32: return WP_I32;
  case WP__I64: return WP_I64;
  case WP__F32: return WP_F32;
  case WP__F64: return WP_F64;
  case WP__V128: return WP_V128;
  case WP__FUNCREF: return WP_FUNCREF;
  case WP__EXTERNREF: return WP_EXTERNREF;
  }
  return -1;
}

static void write_return_type(FILE *f, const wp__functype *ft) {
  if (ft->result_count == 0) {
    fputs("void", f);
  } else if (ft->result_count == 1) {
    fputs(c_type(ft->results[0]), f);
  } else {
    fputs("struct wasm_multi_", f);
    for (uint32_t i = 0; i < ft->result_count; i++)
      fputc(type_letter(ft->results[i]), f);
  }
}

static void write_string_literal(FILE *f, const char *bytes, size_t length) {
  fputc('"', f);
  for (size_t i = 0; i < length; i++)
    fprintf(f, "\\%03o", (unsigned char)bytes[i]);
  fputc('"', f);
}

/* Converts cell a[i] to the C argument type. */
static void write_arg(FILE *f, uint8_t t, uint32_t i) {
  switch (t) {
  case WP__I32: fprintf(f, "(u32)a[%u].lo", i); break;
  case WP__I64: fprintf(f, "(u64)a[%u].lo", i); break;
  case WP__F32: fprintf(f, "wp_f32(a[%u].lo)", i); break;
  case WP__F64: fprintf(f, "wp_f64(a[%u].lo)", i); break;
  case WP__V128: fprintf(f, "wp_v128(&a[%u])", i); break;
  case WP__FUNCREF: fprintf(f, "wp_funcref(a[%u].lo)", i); break;
  case WP__EXTERNREF: fprintf(f, "(wasm_rt_externref_t)(unsigned long)a[%u].lo", i); break;
  }
}

static void write_result(FILE *f, uint8_t t, uint32_t i, const char *expr) {
  switch (t) {
  case WP__I32: fprintf(f, "  r[%u].lo = (u32)%s;\n", i, expr); break;
  case WP__I64: fprintf(f, "  r[%u].lo = %s;\n", i, expr); break;
  case WP__F32: fprintf(f, "  r[%u].lo = wp_from_f32(%s);\n", i, expr); break;
  case WP__F64: fprintf(f, "  r[%u].lo = wp_from_f64(%s);\n", i, expr); break;
  case WP__V128: fprintf(f, "  memcpy(&r[%u], &(%s), 16);\n", i, expr); break;
  case WP__FUNCREF: fprintf(f, "  r[%u].lo = (unsigned long)(%s).func;\n", i, expr); break;
  case WP__EXTERNREF: fprintf(f, "  r[%u].lo = (unsigned long)%s;\n", i, expr); break;
  }
}

/* The runtime forwarders: wasm-rt.h and wasm-rt-exceptions.h of 1.0.36. */
static const char k_prelude[] =
    "#include <string.h>\n"
    "static const wp_glue_host *wp_host;\n"
    "static void *wp_ctx;\n"
    "static inline f32 wp_f32(unsigned long long v) { u32 b = (u32)v; f32 x; memcpy(&x, &b, 4); "
    "return x; }\n"
    "static inline f64 wp_f64(unsigned long long v) { f64 x; memcpy(&x, &v, 8); return x; }\n"
    "static inline unsigned long long wp_from_f32(f32 x) { u32 b; memcpy(&b, &x, 4); return b; "
    "}\n"
    "static inline unsigned long long wp_from_f64(f64 x) { unsigned long long b; memcpy(&b, &x, "
    "8); return b; }\n"
    "static inline wasm_rt_funcref_t wp_funcref(unsigned long long v) {\n"
    "  wasm_rt_funcref_t r = wasm_rt_funcref_null_value;\n"
    "  r.func = (wasm_rt_function_ptr_t)(unsigned long)v;\n"
    "  return r;\n"
    "}\n"
    "void wasm_rt_init(void) {}\n"
    "bool wasm_rt_is_initialized(void) { return true; }\n"
    "void wasm_rt_free(void) {}\n"
    "void wasm_rt_init_thread(void) {}\n"
    "void wasm_rt_free_thread(void) {}\n"
    "const char *wasm_rt_strerror(wasm_rt_trap_t trap) { (void)trap; return \"trap\"; }\n"
    "void wasm_rt_trap(wasm_rt_trap_t code) { wp_host->trap((int)code); "
    "wasm_rt_unreachable(); }\n"
    "void wasm_rt_load_exception(const wasm_rt_tag_t tag, uint32_t size, const void *values) {\n"
    "  wp_host->load_exception(tag, size, values);\n"
    "}\n"
    "void wasm_rt_throw(void) { wp_host->throw_exception(); wasm_rt_unreachable(); }\n"
    "WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void) {\n"
    "  return (WASM_RT_UNWIND_TARGET *)wp_host->get_unwind_target();\n"
    "}\n"
    "void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *t) { wp_host->set_unwind_target(t); "
    "}\n"
    "wasm_rt_tag_t wasm_rt_exception_tag(void) { return wp_host->exception_tag(); }\n"
    "uint32_t wasm_rt_exception_size(void) { return wp_host->exception_size(); }\n"
    "void *wasm_rt_exception(void) { return wp_host->exception(); }\n"
    "void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint64_t initial, uint64_t max, bool "
    "is64) {\n"
    "  wp_host->allocate_memory(wp_ctx, m, initial, max, is64);\n"
    "}\n"
    "uint64_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint64_t delta) {\n"
    "  return wp_host->grow_memory(wp_ctx, m, delta);\n"
    "}\n"
    "void wasm_rt_free_memory(wasm_rt_memory_t *m) { wp_host->free_memory(wp_ctx, m); }\n"
    "void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t n, uint32_t max) "
    "{\n"
    "  wp_host->allocate_table(wp_ctx, t, 0, n, max);\n"
    "}\n"
    "void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t n, uint32_t "
    "max) {\n"
    "  wp_host->allocate_table(wp_ctx, t, 1, n, max);\n"
    "}\n"
    "void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t) { wp_host->free_table(wp_ctx, "
    "t, 0); }\n"
    "void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t) { "
    "wp_host->free_table(wp_ctx, t, 1); }\n"
    "uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t d, "
    "wasm_rt_funcref_t init) {\n"
    "  return wp_host->grow_table(wp_ctx, t, 0, d, &init);\n"
    "}\n"
    "uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t d, "
    "wasm_rt_externref_t init) {\n"
    "  return wp_host->grow_table(wp_ctx, t, 1, d, &init);\n"
    "}\n"
    /* Shared memories need C11 atomics and threads.h: cc only (tier 1). */
    "#ifdef WASM_RT_C11_AVAILABLE\n"
    "void wasm_rt_allocate_memory_shared(wasm_rt_shared_memory_t *m, uint64_t initial, uint64_t "
    "max, bool is64) {\n"
    "  wp_host->allocate_memory(wp_ctx, m, initial, max, (is64 ? 1 : 0) | 2);\n"
    "}\n"
    "uint64_t wasm_rt_grow_memory_shared(wasm_rt_shared_memory_t *m, uint64_t delta) {\n"
    "  return wp_host->grow_memory(wp_ctx, m, delta);\n"
    "}\n"
    "void wasm_rt_free_memory_shared(wasm_rt_shared_memory_t *m) { wp_host->free_memory(wp_ctx, "
    "m); }\n"
    "#endif\n"
    "static void wp_bind(const wp_glue_host *host, void *ctx) { wp_host = host; wp_ctx = ctx; }\n"
    "static inline const wp_glue_import *wp_imports(void *ctx) {\n"
    "  void **block = *(void **)ctx;\n"
    "  return (const wp_glue_import *)(block + 1);\n"
    "}\n";

/* A macro: m.h defines v128 only when a signature or global uses it, and
 * only those trampolines expand this (cells are 16-byte aligned). */
static const char k_prelude_v128[] = "#define wp_v128(c) (*(const v128 *)(c))\n";

/* The C symbol of import i: w2c_<module>_<field>, and its instance type's
 * name w2c_<module>. *sym and *mod are malloc'd. */
static int import_symbol(const wp__import *imp, char **sym, char **mod) {
  char *m = wp__mangle(imp->module.bytes, imp->module.length, true);
  char *field = wp__mangle(imp->field.bytes, imp->field.length, false);
  char *s = m && field ? malloc(strlen(m) + strlen(field) + 6) : NULL;
  if (!s) {
    free(m);
    free(field);
    return WP_ENOMEM;
  }
  sprintf(s, "w2c_%s_%s", m, field);
  free(field);
  *sym = s;
  *mod = m;
  return 0;
}

static bool any_simd_type(const wp__module_info *info) {
  return info->uses_simd;
}

/* Prints line (a format taking the tag's symbol and its position among
 * the imported tags) once per imported tag. */
static int print_per_tag(FILE *f, const wp__module_info *info, const char *line, wp_error *err) {
  for (uint32_t i = 0, k = 0; i < info->import_count; i++) {
    if (info->imports[i].kind != WP__EXTERN_TAG)
      continue;
    char *sym, *mod;
    if (import_symbol(&info->imports[i], &sym, &mod) != 0)
      return wp__error(err, WP_ENOMEM, "out of memory");
    fprintf(f, line, sym, k++);
    free(sym);
    free(mod);
  }
  return 0;
}

/* tags.c: the imported tags as writable pointers (see above). */
static int write_tags(const wp__module_info *info, const char *tags_path, wp_error *err) {
  FILE *f = fopen(tags_path, "w");
  if (!f)
    return wp__error(err, WP_EIO, "cannot write %s", tags_path);
  fputs("/* Generated by wasmpool (instance/glue.c): imported tags. */\n", f);
  int rc = print_per_tag(f, info, "const void *%s; /* tag %u */\n", err);
  fputs("void wp_tags_set(const void *const *values) {\n  (void)values;\n", f);
  if (rc == 0)
    rc = print_per_tag(f, info, "  %s = values[%u];\n", err);
  fputs("}\n", f);
  if (fclose(f) != 0 && rc == 0)
    rc = wp__error(err, WP_EIO, "cannot write %s", tags_path);
  return rc;
}

static void write_func_import(FILE *f, const wp__functype *ft, const char *sym, const char *mod,
                              uint32_t i) {
  write_return_type(f, ft);
  fprintf(f, " %s(struct w2c_%s *ctx", sym, mod);
  for (uint32_t p = 0; p < ft->param_count; p++)
    fprintf(f, ", %s a%u", c_type(ft->params[p]), p);
  fprintf(f, ") {\n  const wp_glue_import *imp = &wp_imports(ctx)[%u];\n", i);
  fputs("  if (imp->host) wp_host->host_enter();\n  ", f);
  if (ft->result_count > 0) {
    write_return_type(f, ft);
    fputs(" res = ", f);
  }
  fputs("((", f);
  write_return_type(f, ft);
  fputs(" (*)(void *", f);
  for (uint32_t p = 0; p < ft->param_count; p++)
    fprintf(f, ", %s", c_type(ft->params[p]));
  fputs("))imp->fn)(imp->env", f);
  for (uint32_t p = 0; p < ft->param_count; p++)
    fprintf(f, ", a%u", p);
  fputs(");\n  if (imp->host) wp_host->host_leave();\n", f);
  if (ft->result_count > 0)
    fputs("  return res;\n", f);
  fputs("}\n", f);
}

/* One forwarder per distinct import symbol (a module may import the same
 * field twice). */
static int write_imports(FILE *f, const wp__module_info *info, wp_error *err) {
  char **seen = calloc(info->import_count + 1, sizeof(char *));
  if (!seen)
    return wp__error(err, WP_ENOMEM, "out of memory");
  int rc = 0;
  for (uint32_t i = 0; i < info->import_count && rc == 0; i++) {
    const wp__import *imp = &info->imports[i];
    char *mod;
    if (import_symbol(imp, &seen[i], &mod) != 0) {
      rc = wp__error(err, WP_ENOMEM, "out of memory");
      break;
    }
    bool duplicate = false;
    for (uint32_t j = 0; j < i; j++)
      if (seen[j] && strcmp(seen[j], seen[i]) == 0)
        duplicate = true;
    if (!duplicate) {
      fprintf(f, "/* import %u */\n", i);
      switch (imp->kind) {
      case WP__EXTERN_FUNC:
        write_func_import(f, &info->types[imp->type_index], seen[i], mod, i);
        break;
      case WP__EXTERN_GLOBAL:
        fprintf(f, "%s *%s(struct w2c_%s *ctx) { return (%s *)wp_imports(ctx)[%u].ptr; }\n",
                c_type(imp->global.type), seen[i], mod, c_type(imp->global.type), i);
        break;
      case WP__EXTERN_MEMORY: {
        const char *mt = imp->memory.shared ? "wasm_rt_shared_memory_t" : "wasm_rt_memory_t";
        fprintf(f, "%s *%s(struct w2c_%s *ctx) { return (%s *)wp_imports(ctx)[%u].ptr; }\n", mt,
                seen[i], mod, mt, i);
        break;
      }
      case WP__EXTERN_TABLE: {
        const char *tt = imp->table.elem_type == WP__EXTERNREF ? "wasm_rt_externref_table_t"
                                                               : "wasm_rt_funcref_table_t";
        fprintf(f, "%s *%s(struct w2c_%s *ctx) { return (%s *)wp_imports(ctx)[%u].ptr; }\n", tt,
                seen[i], mod, tt, i);
        break;
      }
      case WP__EXTERN_TAG: break; /* tags.c */
      }
    }
    free(mod);
  }
  for (uint32_t i = 0; i < info->import_count; i++)
    free(seen[i]);
  free(seen);
  return rc;
}

static const wp__functype *export_func_type(const wp__module_info *info, const wp__export *e) {
  return wp__module_func_type(info, e->index);
}

static uint8_t global_type_of(const wp__module_info *info, uint32_t index) {
  if (index < info->imported_globals) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < info->import_count; i++) {
      if (info->imports[i].kind != WP__EXTERN_GLOBAL)
        continue;
      if (n++ == index)
        return info->imports[i].global.type;
    }
    return WP__I32;
  }
  return info->globals[index - info->imported_globals].type.type;
}

static void write_trampoline(FILE *f, const wp__functype *ft, const char *sym, uint32_t i) {
  fprintf(f, "static void wp_call_%u(void *inst, const wp_glue_cell *a, wp_glue_cell *r) {\n", i);
  fputs("  (void)a; (void)r;\n  ", f);
  if (ft->result_count > 0) {
    write_return_type(f, ft);
    fputs(" res = ", f);
  }
  fprintf(f, "w2c_m_%s((w2c_m *)inst", sym);
  for (uint32_t p = 0; p < ft->param_count; p++) {
    fputs(", ", f);
    write_arg(f, ft->params[p], p);
  }
  fputs(");\n", f);
  if (ft->result_count == 1) {
    write_result(f, ft->results[0], 0, "res");
  } else {
    for (uint32_t p = 0; p < ft->result_count; p++) {
      char expr[32];
      snprintf(expr, sizeof(expr), "res.%c%u", type_letter(ft->results[p]), p);
      write_result(f, ft->results[p], p, expr);
    }
  }
  fputs("}\n", f);
}

static int write_export_bodies(FILE *f, const wp__module_info *info, wp_error *err) {
  for (uint32_t i = 0; i < info->export_count; i++) {
    const wp__export *e = &info->exports[i];
    char *sym = wp__mangle(e->name.bytes, e->name.length, false);
    if (!sym)
      return wp__error(err, WP_ENOMEM, "out of memory");
    if (e->kind == WP__EXTERN_FUNC) {
      const wp__functype *ft = export_func_type(info, e);
      fprintf(f, "static const unsigned char wp_types_%u[] = {", i);
      for (uint32_t p = 0; p < ft->param_count; p++)
        fprintf(f, "%d, ", public_type(ft->params[p]));
      for (uint32_t p = 0; p < ft->result_count; p++)
        fprintf(f, "%d, ", public_type(ft->results[p]));
      fputs("0};\n", f);
      write_trampoline(f, ft, sym, i);
    } else if (e->kind == WP__EXTERN_TAG) {
      fprintf(f, "static const unsigned char wp_types_%u[] = {0};\n", i);
      fprintf(f, "static void *wp_get_%u(void *inst) { (void)inst; return (void *)w2c_m_%s; }\n", i,
              sym);
    } else {
      int type = e->kind == WP__EXTERN_GLOBAL ? public_type(global_type_of(info, e->index)) : 0;
      fprintf(f, "static const unsigned char wp_types_%u[] = {%d};\n", i, type);
      fprintf(f, "static void *wp_get_%u(void *inst) { return (void *)w2c_m_%s((w2c_m *)inst); }\n",
              i, sym);
    }
    free(sym);
  }
  return 0;
}

static int write_export_table(FILE *f, const wp__module_info *info, wp_error *err) {
  fputs("static const wp_glue_export wp_exports[] = {\n", f);
  for (uint32_t i = 0; i < info->export_count; i++) {
    const wp__export *e = &info->exports[i];
    fputs("  {", f);
    write_string_literal(f, e->name.bytes, e->name.length);
    fprintf(f, ", %u, %d, ", e->name.length, (int)e->kind);
    if (e->kind == WP__EXTERN_FUNC) {
      const wp__functype *ft = export_func_type(info, e);
      char *sym = wp__mangle(e->name.bytes, e->name.length, false);
      if (!sym)
        return wp__error(err, WP_ENOMEM, "out of memory");
      fprintf(f, "%u, %u, wp_types_%u, wp_call_%u, (void (*)(void))w2c_m_%s, 0},\n",
              ft->param_count, ft->result_count, i, i, sym);
      free(sym);
    } else {
      fprintf(f, "0, 0, wp_types_%u, 0, 0, wp_get_%u},\n", i, i);
    }
  }
  fputs("  {0, 0, 0, 0, 0, 0, 0, 0, 0}\n};\n", f);
  return 0;
}

static uint32_t distinct_import_modules(const wp__module_info *info) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < info->import_count; i++) {
    bool seen = false;
    for (uint32_t j = 0; j < i && !seen; j++)
      seen = info->imports[j].module.length == info->imports[i].module.length &&
             memcmp(info->imports[j].module.bytes, info->imports[i].module.bytes,
                    info->imports[i].module.length) == 0;
    if (!seen)
      count++;
  }
  return count;
}

/* The instance-struct field of each defined global, read from the
 * generated header: wasm2c 1.0.36 writes `struct w2c_m` as the imported
 * modules' instance pointers and imported globals, memories and tables (all
 * pointers), then one field per defined global in definition order, then the
 * memories and tables. A global's field name depends on the name section,
 * so it is read rather than predicted; each line's type is checked against
 * the global's. Returns a malloc'd array of global_count names, or NULL when
 * the header does not match (the glue then offers no global offsets and
 * snapshots refuse the module). */
static char **read_global_fields(const wp__module_info *info, const char *header_path) {
  if (info->global_count == 0)
    return NULL;
  FILE *h = fopen(header_path, "r");
  if (!h)
    return NULL;
  char **names = calloc(info->global_count, sizeof(char *));
  char line[1024];
  bool inside = false;
  uint32_t found = 0;
  while (names && found < info->global_count && fgets(line, sizeof(line), h)) {
    if (!inside) {
      inside = strncmp(line, "typedef struct w2c_m {", 22) == 0;
      continue;
    }
    if (line[0] == '}')
      break;
    const char *field = line;
    while (*field == ' ')
      field++;
    if (strncmp(field, "/*", 2) == 0 || strchr(field, '*'))
      continue; /* a comment, or an import's pointer */
    const char *type = c_type(info->globals[found].type.type);
    size_t type_len = type ? strlen(type) : 0;
    if (!type || strncmp(field, type, type_len) != 0 || field[type_len] != ' ')
      break;
    const char *name = field + type_len + 1;
    size_t name_len = strcspn(name, ";");
    if (name[name_len] != ';')
      break;
    names[found] = malloc(name_len + 1);
    if (!names[found])
      break;
    memcpy(names[found], name, name_len);
    names[found][name_len] = 0;
    found++;
  }
  fclose(h);
  if (names && found == info->global_count)
    return names;
  for (uint32_t i = 0; names && i < info->global_count; i++)
    free(names[i]);
  free(names);
  return NULL;
}

static void write_global_offsets(FILE *f, const wp__module_info *info, char **fields) {
  fputs("static const unsigned long wp_global_offsets[] = {", f);
  for (uint32_t i = 0; fields && i < info->global_count; i++)
    fprintf(f, "(unsigned long)&((w2c_m *)0)->%s, ", fields[i]);
  fputs("0};\n", f);
}

static void write_instantiate(FILE *f, const wp__module_info *info, bool has_global_offsets) {
  fputs("void wp_tags_set(const void *const *values);\n", f);
  fputs("static void wp_instantiate(void *inst, void *imports) {\n", f);
  fprintf(f, "  const void *tags[%u];\n  uint32_t n = 0;\n  (void)n;\n", info->imported_tags + 1);
  for (uint32_t i = 0; i < info->import_count; i++)
    if (info->imports[i].kind == WP__EXTERN_TAG)
      fprintf(f, "  tags[n++] = wp_imports(&imports)[%u].ptr;\n", i);
  fputs("  wp_tags_set(tags);\n", f);
  fputs("  wasm2c_m_instantiate((w2c_m *)inst", f);
  uint32_t modules = distinct_import_modules(info);
  for (uint32_t i = 0; i < modules; i++)
    fputs(", imports", f);
  fputs(");\n}\n", f);
  fputs("static void wp_free(void *inst) { wasm2c_m_free((w2c_m *)inst); }\n", f);
  fprintf(f,
          "__attribute__((visibility(\"default\"))) const wp_glue_module wp_glue_descriptor = {\n"
          "  %uu, sizeof(w2c_m), wp_bind, wp_instantiate, wp_free, %uu, wp_exports, %uu,\n"
          "  %uu, wp_global_offsets};\n",
          WP__GLUE_ABI_VERSION, info->export_count, info->import_count,
          has_global_offsets ? info->global_count : 0u);
}

int wp__glue_write(const wp__module_info *info, const char *generated_h, const char *glue_path,
                   const char *tags_path, wp_error *err) {
  for (uint32_t i = 0; i < info->export_count; i++) {
    if (info->exports[i].kind == WP__EXTERN_FUNC &&
        !wp__module_func_type(info, info->exports[i].index))
      return wp__error(err, WP_EINVALID_MODULE, "export %u names a missing function", i);
  }
  FILE *f = fopen(glue_path, "w");
  if (!f)
    return wp__error(err, WP_EIO, "cannot write %s", glue_path);
  fputs("/* Generated by wasmpool (instance/glue.c). */\n", f);
  int rc = write_tags(info, tags_path, err);
  fprintf(f, "#include \"%s\"\n#include \"wasm-rt-exceptions.h\"\n", generated_h);
  fprintf(f, "%s\n", wp__glue_abi_text);
  fputs(k_prelude, f);
  if (any_simd_type(info))
    fputs(k_prelude_v128, f);
  if (rc == 0)
    rc = write_imports(f, info, err);
  if (rc == 0)
    rc = write_export_bodies(f, info, err);
  if (rc == 0)
    rc = write_export_table(f, info, err);
  if (rc == 0) {
    char header_path[4200];
    const char *slash = strrchr(glue_path, '/');
    snprintf(header_path, sizeof(header_path), "%.*s%s", slash ? (int)(slash - glue_path + 1) : 0,
             glue_path, generated_h);
    char **fields = read_global_fields(info, header_path);
    write_global_offsets(f, info, fields);
    write_instantiate(f, info, fields != NULL);
    for (uint32_t i = 0; fields && i < info->global_count; i++)
      free(fields[i]);
    free(fields);
  }
  if (fclose(f) != 0 && rc == 0)
    rc = wp__error(err, WP_EIO, "cannot write %s", glue_path);
  return rc;
}
