/* reader_rewrite.c — what the host asks of a module once it is read:
 * signatures by function index, the imports it lacks, whether its data can
 * become a copy-on-write image, and the rewrite that takes active data out
 * of the code so that instantiation never copies it again.
 *
 * The rewrite changes only the data section: each active segment entry
 * becomes the two bytes of an empty passive segment (flags 1, length 0),
 * other entries are copied as they are, and the section size is
 * re-encoded. Segment indices do not move, so data.drop and memory.init
 * keep meaning the same segment; an active segment is dropped at
 * instantiation, which makes it indistinguishable from an empty passive
 * one afterwards.
 */
#include "reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const wp__functype *wp__module_func_type(const wp__module_info *info, uint32_t func_index) {
  uint32_t type_index;

  if (func_index < info->imported_funcs) {
    uint32_t seen = 0;
    for (uint32_t i = 0; i < info->import_count; i++) {
      const wp__import *imp = &info->imports[i];
      if (imp->kind != WP__EXTERN_FUNC)
        continue;
      if (seen++ == func_index)
        return imp->type_index < info->type_count ? &info->types[imp->type_index] : NULL;
    }
    return NULL;
  }
  func_index -= info->imported_funcs;
  if (func_index >= info->func_count)
    return NULL;
  type_index = info->func_types[func_index];
  return type_index < info->type_count ? &info->types[type_index] : NULL;
}

/* The import of `kind` that is number `index` among imports of that kind. */
static const wp__import *nth_import(const wp__module_info *info, wp__extern_kind kind,
                                    uint32_t index) {
  for (uint32_t i = 0; i < info->import_count; i++)
    if (info->imports[i].kind == kind && index-- == 0)
      return &info->imports[i];
  return NULL;
}

const wp__limits *wp__module_memory(const wp__module_info *info, uint32_t index) {
  if (index < info->imported_memories) {
    const wp__import *imp = nth_import(info, WP__EXTERN_MEMORY, index);
    return imp ? &imp->memory : NULL;
  }
  index -= info->imported_memories;
  return index < info->memory_count ? &info->memories[index] : NULL;
}

const wp__tabletype *wp__module_table(const wp__module_info *info, uint32_t index) {
  if (index < info->imported_tables) {
    const wp__import *imp = nth_import(info, WP__EXTERN_TABLE, index);
    return imp ? &imp->table : NULL;
  }
  index -= info->imported_tables;
  return index < info->table_count ? &info->tables[index] : NULL;
}

/* Appends a name with bytes outside printable ASCII (and the backslash)
 * written as \XX, the way the text format writes them, so that a list of
 * names with NULs or control bytes stays one readable line. */
static void append_escaped(char *out, size_t cap, size_t *len, const wp__name *name) {
  static const char hex[] = "0123456789abcdef";
  for (uint32_t i = 0; i < name->length; i++) {
    uint8_t c = (uint8_t)name->bytes[i];
    char buf[3];
    size_t n = 0;
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      buf[n++] = (char)c;
    } else {
      buf[n++] = '\\';
      buf[n++] = hex[c >> 4];
      buf[n++] = hex[c & 15];
    }
    for (size_t k = 0; k < n; k++, (*len)++)
      if (*len + 1 < cap)
        out[*len] = buf[k];
  }
}

static void append_text(char *out, size_t cap, size_t *len, const char *text) {
  for (; *text; text++, (*len)++)
    if (*len + 1 < cap)
      out[*len] = *text;
}

uint32_t wp__module_missing_imports(const wp__module_info *info, wp__import_provider provides,
                                    void *ctx, char *missing_text, size_t missing_len) {
  uint32_t missing = 0;
  size_t len = 0; /* length the full text would have; writes stop at the buffer's end */

  for (uint32_t i = 0; i < info->import_count; i++) {
    const wp__import *imp = &info->imports[i];
    if (provides(imp, ctx))
      continue;
    missing++;
    if (!missing_text || missing_len == 0)
      continue;
    if (missing > 1)
      append_text(missing_text, missing_len, &len, ", ");
    append_escaped(missing_text, missing_len, &len, &imp->module);
    append_text(missing_text, missing_len, &len, ".");
    append_escaped(missing_text, missing_len, &len, &imp->field);
  }
  if (missing_text && missing_len > 0) {
    if (len >= missing_len && missing_len >= 4) /* cut short: say so */
      memcpy(missing_text + missing_len - 4, "...", 3);
    missing_text[len < missing_len ? len : missing_len - 1] = '\0';
  }
  return missing;
}

bool wp__module_data_is_imageable(const wp__module_info *info) {
  for (uint32_t i = 0; i < info->data_segment_count; i++) {
    const wp__data_segment *seg = &info->data_segments[i];
    if (seg->mode != WP__SEGMENT_ACTIVE)
      continue;
    /* One image, for memory 0: segments of any other memory stay in the
     * code (multi-memory). */
    if (seg->memory_index != 0 || info->imported_memories > 0)
      return false;
    uint32_t defined = seg->memory_index - info->imported_memories;
    if (defined >= info->memory_count || seg->offset.kind != WP__CONST_I32)
      return false;
    const wp__limits *memory = &info->memories[defined];
    if (memory->is64 || memory->shared)
      return false;
    /* i32.const offsets are unsigned addresses; min is at most 65536 pages. */
    if ((uint64_t)(uint32_t)seg->offset.bits + seg->length > memory->min * 65536ull)
      return false;
  }
  return true;
}

static size_t leb_u32_size(uint32_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_leb_u32(uint8_t *out, uint32_t value) {
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    *out++ = byte | (value ? 0x80 : 0);
  } while (value);
  return out;
}

int wp__module_strip_active_data(const uint8_t *wasm, size_t length, const wp__module_info *info,
                                 uint8_t **out, size_t *out_length) {
  uint64_t section_start = info->data_section_offset, section_end;
  uint64_t entries_start, payload = 0;
  uint8_t *copy, *w;

  *out = NULL;
  *out_length = 0;
  section_end = section_start + info->data_section_length;
  if (section_end > length || (info->data_segment_count && info->data_section_length == 0))
    return WP_EINVAL;
  if (info->data_segment_count == 0) { /* nothing to strip: the same bytes */
    if (!(copy = malloc(length ? length : 1)))
      return WP_ENOMEM;
    memcpy(copy, wasm, length);
    *out = copy;
    *out_length = length;
    return 0;
  }
  /* Between the section header and the first entry sits the count, kept
   * byte for byte (an overlong encoding stays as it was). */
  entries_start = info->data_segments[0].entry_offset;
  if (entries_start <= section_start || entries_start > section_end)
    return WP_EINVAL;
  const uint8_t *size_leb = wasm + section_start + 1;
  size_t size_leb_len = 0;
  while (size_leb_len < 5 && (size_leb[size_leb_len] & 0x80))
    size_leb_len++;
  size_leb_len++;
  payload = entries_start - (section_start + 1 + size_leb_len);
  for (uint32_t i = 0; i < info->data_segment_count; i++) {
    const wp__data_segment *seg = &info->data_segments[i];
    if (seg->entry_offset + seg->entry_length > section_end)
      return WP_EINVAL;
    payload += seg->mode == WP__SEGMENT_ACTIVE ? 2 : seg->entry_length;
  }
  if (payload > UINT32_MAX)
    return WP_EINVAL;

  size_t new_length =
      section_start + 1 + leb_u32_size((uint32_t)payload) + payload + (length - section_end);
  if (!(copy = malloc(new_length)))
    return WP_ENOMEM;
  w = copy;
  memcpy(w, wasm, section_start + 1); /* everything before, and the section id */
  w += section_start + 1;
  w = put_leb_u32(w, (uint32_t)payload);
  size_t count_len = entries_start - (section_start + 1 + size_leb_len);
  memcpy(w, wasm + section_start + 1 + size_leb_len, count_len);
  w += count_len;
  for (uint32_t i = 0; i < info->data_segment_count; i++) {
    const wp__data_segment *seg = &info->data_segments[i];
    if (seg->mode == WP__SEGMENT_ACTIVE) {
      *w++ = 0x01; /* passive */
      *w++ = 0x00; /* no bytes */
    } else {
      memcpy(w, wasm + seg->entry_offset, seg->entry_length);
      w += seg->entry_length;
    }
  }
  /* Anything after the data section (custom sections) stays as it was. */
  memcpy(w, wasm + section_end, length - section_end);
  w += length - section_end;
  *out = copy;
  *out_length = (size_t)(w - copy);
  return 0;
}
