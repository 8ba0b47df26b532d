/* check_reader.c — wp_fuzz_reader(): the properties the Wasm binary reader
 * (instance/reader.h) promises, checked on one arbitrary input.
 *
 * The reader is the first code that sees a deployed module, so besides "no
 * crash, no leak, no read past the input" (the sanitizers' part) this checks
 * what later steps trust without re-checking: refusals carry a known code and
 * a message; an accepted module's offsets lie inside the input and its
 * indices inside their index spaces; the queries the deploy path makes
 * (signatures, missing imports, imageability) are safe on it; and the
 * data-segment rewrite yields a module that reads again with the same shape,
 * every active segment now an empty passive one, and that a second rewrite
 * leaves unchanged (the compile cache keys on the rewritten bytes).
 */
#include "fuzz_targets.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

static int fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (why && why_len)
    vsnprintf(why, why_len, fmt, ap);
  va_end(ap);
  return -1;
}

static bool provide_none(const wp__import *import, void *ctx) {
  (void)import;
  (void)ctx;
  return false;
}

static bool provide_all(const wp__import *import, void *ctx) {
  (void)import;
  (void)ctx;
  return true;
}

/* Size of each extern kind's index space: imports first, then definitions. */
static uint64_t index_space(const wp__module_info *info, wp__extern_kind kind) {
  switch (kind) {
  case WP__EXTERN_FUNC: return (uint64_t)info->imported_funcs + info->func_count;
  case WP__EXTERN_TABLE: return (uint64_t)info->imported_tables + info->table_count;
  case WP__EXTERN_MEMORY: return (uint64_t)info->imported_memories + info->memory_count;
  case WP__EXTERN_GLOBAL: return (uint64_t)info->imported_globals + info->global_count;
  case WP__EXTERN_TAG: return (uint64_t)info->imported_tags + info->tag_count;
  }
  return 0;
}

/* What an accepted module's info must satisfy on its own. */
static int check_info(const wp__module_info *info, size_t size, char *why, size_t why_len) {
  for (uint32_t i = 0; i < info->export_count; i++) {
    const wp__export *e = &info->exports[i];
    if (e->index >= index_space(info, e->kind))
      return fail(why, why_len, "export %u (kind %d) index %u outside its index space", i,
                  (int)e->kind, e->index);
    if (e->name.bytes == NULL && e->name.length != 0)
      return fail(why, why_len, "export %u has a length but no bytes", i);
  }
  for (uint32_t i = 0; i < info->import_count; i++) {
    const wp__import *imp = &info->imports[i];
    if ((imp->kind == WP__EXTERN_FUNC || imp->kind == WP__EXTERN_TAG) &&
        imp->type_index >= info->type_count)
      return fail(why, why_len, "import %u type index %u >= %u types", i, imp->type_index,
                  info->type_count);
  }
  uint64_t funcs = index_space(info, WP__EXTERN_FUNC);
  for (uint64_t f = 0; f < funcs; f++) {
    if (wp__module_func_type(info, (uint32_t)f) == NULL)
      return fail(why, why_len, "function %llu has no signature", (unsigned long long)f);
  }
  if (funcs < UINT32_MAX && wp__module_func_type(info, (uint32_t)funcs) != NULL)
    return fail(why, why_len, "function index %llu past the end has a signature",
                (unsigned long long)funcs);
  if (info->has_start && info->start_func >= funcs)
    return fail(why, why_len, "start function %u out of range", info->start_func);

  if (info->data_section_offset + info->data_section_length > size)
    return fail(why, why_len, "data section [%llu, +%llu) past the input (%zu bytes)",
                (unsigned long long)info->data_section_offset,
                (unsigned long long)info->data_section_length, size);
  for (uint32_t i = 0; i < info->data_segment_count; i++) {
    const wp__data_segment *seg = &info->data_segments[i];
    if (seg->file_offset + seg->length > size || seg->entry_offset + seg->entry_length > size)
      return fail(why, why_len, "data segment %u lies past the input", i);
    if (seg->file_offset < seg->entry_offset ||
        seg->file_offset + seg->length > seg->entry_offset + seg->entry_length)
      return fail(why, why_len, "data segment %u bytes outside its entry", i);
    if (seg->mode == WP__SEGMENT_ACTIVE &&
        seg->memory_index >= index_space(info, WP__EXTERN_MEMORY))
      return fail(why, why_len, "data segment %u targets memory %u that does not exist", i,
                  seg->memory_index);
  }

  /* The deploy path's queries: the missing-import list must stay inside a
   * small buffer and count every import the host refuses. */
  char text[48];
  memset(text, 'x', sizeof text);
  uint32_t missing = wp__module_missing_imports(info, provide_none, NULL, text, sizeof text);
  if (missing != info->import_count)
    return fail(why, why_len, "%u missing imports reported for %u refused", missing,
                info->import_count);
  if (memchr(text, '\0', sizeof text) == NULL)
    return fail(why, why_len, "missing-import text not NUL-terminated within its buffer");
  if (wp__module_missing_imports(info, provide_all, NULL, text, sizeof text) != 0 || text[0])
    return fail(why, why_len, "imports reported missing although all are provided");
  (void)wp__module_data_is_imageable(info);
  return 0;
}

/* The rewrite: same shape, no active segment left, passive bytes kept. */
static int check_stripped(const uint8_t *data, size_t size, const wp__module_info *info,
                          const uint8_t *out, size_t out_size, char *why, size_t why_len) {
  wp__module_info again;
  wp__read_error err;
  memset(&err, 0, sizeof err);
  int rc = wp__module_read(out, out_size, &again, &err);
  if (rc != 0)
    return fail(why, why_len, "stripped module does not read again (%d): %s at %llu: %s", rc,
                err.section, (unsigned long long)err.offset, err.message);
  int result = 0;
#define SAME(field)                                                                                \
  if (again.field != info->field) {                                                                \
    result = fail(why, why_len, "stripped module has another " #field " (%u, was %u)",             \
                  (unsigned)again.field, (unsigned)info->field);                                   \
    goto out;                                                                                      \
  }
  SAME(data_segment_count)
  SAME(type_count)
  SAME(import_count)
  SAME(func_count)
  SAME(table_count)
  SAME(memory_count)
  SAME(global_count)
  SAME(export_count)
  SAME(has_start)
  SAME(has_data_count)
#undef SAME
  /* SIMD may go away with the rewrite (regress/reader/simd-in-offset.wasm:
   * the reader walks an offset expression, 0xFD opcode included, and accepts
   * it as "not evaluated by the host"; the rewrite drops the expression), but
   * it must never appear. */
  if (again.uses_simd && !info->uses_simd) {
    result = fail(why, why_len, "the rewrite introduced SIMD");
    goto out;
  }
  for (uint32_t i = 0; i < again.data_segment_count; i++) {
    const wp__data_segment *before = &info->data_segments[i], *after = &again.data_segments[i];
    if (after->mode == WP__SEGMENT_ACTIVE) {
      result = fail(why, why_len, "data segment %u still active after the rewrite", i);
      goto out;
    }
    if (before->mode == WP__SEGMENT_ACTIVE
            ? after->length != 0
            : (after->length != before->length ||
               memcmp(out + after->file_offset, data + before->file_offset, before->length) != 0)) {
      result = fail(why, why_len, "data segment %u has other bytes after the rewrite", i);
      goto out;
    }
  }
  /* A second rewrite is a fixed point. */
  uint8_t *twice = NULL;
  size_t twice_size = 0;
  rc = wp__module_strip_active_data(out, out_size, &again, &twice, &twice_size);
  if (rc != 0)
    result = fail(why, why_len, "second rewrite failed (%d)", rc);
  else if (twice_size != out_size || memcmp(twice, out, out_size) != 0)
    result = fail(why, why_len, "second rewrite changed the module (%zu -> %zu bytes)", out_size,
                  twice_size);
  free(twice);
out:
  wp__module_info_free(&again);
  return result;
}

int wp_fuzz_reader(const uint8_t *data, size_t size, char *why, size_t why_len) {
  wp__module_info info;
  wp__read_error err;
  memset(&err, 0, sizeof err);
  int rc = wp__module_read(data, size, &info, &err);
  if (rc != 0) {
    if (rc != WP_EMALFORMED && rc != WP_EINVALID_MODULE && rc != WP_EUNSUPPORTED && rc != WP_ENOMEM)
      return fail(why, why_len, "unexpected error code %d", rc);
    if (err.message[0] == '\0' || memchr(err.message, '\0', sizeof err.message) == NULL)
      return fail(why, why_len, "refusal %d without a message", rc);
    if (err.offset > size)
      return fail(why, why_len, "error offset %llu past the input (%zu bytes)",
                  (unsigned long long)err.offset, size);
    return 0;
  }
  int result = check_info(&info, size, why, why_len);
  if (result == 0) {
    uint8_t *out = NULL;
    size_t out_size = 0;
    rc = wp__module_strip_active_data(data, size, &info, &out, &out_size);
    if (rc != 0)
      result = fail(why, why_len, "rewrite of an accepted module failed (%d)", rc);
    else if (out_size > size)
      result = fail(why, why_len, "rewrite grew the module (%zu -> %zu bytes)", size, out_size);
    else
      result = check_stripped(data, size, &info, out, out_size, why, why_len);
    free(out);
  }
  wp__module_info_free(&info);
  return result;
}
