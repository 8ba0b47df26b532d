/* reader.h — private to instance/: what the host needs to know of a module.
 *
 * wp__module_read() walks a WebAssembly binary once and fills a
 * wp__module_info that owns all its memory (free it with
 * wp__module_info_free()). It checks structure (section order and sizes,
 * LEB128 ranges, UTF-8 names, indices in range) well enough that every later
 * step can trust the info; full validation of function bodies is wasm2c's job.
 * It never reads outside the input, whatever the input.
 *
 * The info drives: the import check at deploy, the glue generator (exports
 * and their signatures), the memory image (active data segments), the data
 * segment rewrite (so that the generated code never copies them again), and
 * the SIMD refusal.
 */
#ifndef WP_INSTANCE_READER_H
#define WP_INSTANCE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wp_errno.h"

typedef enum wp__valtype {
  WP__I32 = 0x7f,
  WP__I64 = 0x7e,
  WP__F32 = 0x7d,
  WP__F64 = 0x7c,
  WP__V128 = 0x7b,
  WP__FUNCREF = 0x70,
  WP__EXTERNREF = 0x6f,
} wp__valtype;

typedef enum wp__extern_kind {
  WP__EXTERN_FUNC = 0,
  WP__EXTERN_TABLE = 1,
  WP__EXTERN_MEMORY = 2,
  WP__EXTERN_GLOBAL = 3,
  WP__EXTERN_TAG = 4,
} wp__extern_kind;

/* A name as it is in the binary: any bytes (valid UTF-8, may contain NUL),
 * not NUL-terminated in the input; the reader copies it and appends a NUL
 * for convenience, but length is the truth. */
typedef struct wp__name {
  char *bytes;
  uint32_t length;
} wp__name;

typedef struct wp__functype {
  uint32_t param_count, result_count;
  uint8_t *params; /* wp__valtype each */
  uint8_t *results;
} wp__functype;

typedef struct wp__limits {
  uint64_t min;
  uint64_t max;
  bool has_max;
  bool shared;
  bool is64;
} wp__limits;

typedef struct wp__tabletype {
  uint8_t elem_type; /* WP__FUNCREF or WP__EXTERNREF */
  wp__limits limits; /* in elements */
} wp__tabletype;

typedef struct wp__globaltype {
  uint8_t type;
  bool mutable_;
} wp__globaltype;

/* A constant expression as the host can evaluate it. */
typedef enum wp__const_kind {
  WP__CONST_I32,
  WP__CONST_I64,
  WP__CONST_F32,
  WP__CONST_F64,
  WP__CONST_GLOBAL_GET, /* value of global `index` */
  WP__CONST_REF_NULL,
  WP__CONST_REF_FUNC, /* function `index` */
  WP__CONST_OTHER,    /* extended-const or anything the host does not evaluate */
} wp__const_kind;

typedef struct wp__const_expr {
  wp__const_kind kind;
  uint32_t index; /* global or function index */
  uint64_t bits;  /* i32/i64 value, or f32/f64 bit pattern */
} wp__const_expr;

typedef struct wp__import {
  wp__name module, field;
  wp__extern_kind kind;
  uint32_t type_index;   /* WP__EXTERN_FUNC, WP__EXTERN_TAG */
  wp__tabletype table;   /* WP__EXTERN_TABLE */
  wp__limits memory;     /* WP__EXTERN_MEMORY, in 64 KiB pages */
  wp__globaltype global; /* WP__EXTERN_GLOBAL */
} wp__import;

typedef struct wp__global {
  wp__globaltype type;
  wp__const_expr init;
} wp__global;

typedef struct wp__export {
  wp__name name;
  wp__extern_kind kind;
  uint32_t index; /* in the kind's index space (imports first) */
} wp__export;

typedef enum wp__segment_mode {
  WP__SEGMENT_ACTIVE,
  WP__SEGMENT_PASSIVE,
  WP__SEGMENT_DECLARATIVE, /* element segments only */
} wp__segment_mode;

typedef struct wp__data_segment {
  wp__segment_mode mode;
  uint32_t memory_index;
  wp__const_expr offset; /* active only */
  uint64_t file_offset;  /* where the segment's bytes start in the input */
  uint32_t length;
  /* Where the whole segment entry (mode flags .. last byte) sits in the
   * input, for the rewrite. */
  uint64_t entry_offset, entry_length;
} wp__data_segment;

typedef struct wp__module_info {
  uint32_t type_count;
  wp__functype *types;

  uint32_t import_count;
  wp__import *imports;
  /* Imported counts per kind (they come first in each index space). */
  uint32_t imported_funcs, imported_tables, imported_memories, imported_globals, imported_tags;

  uint32_t func_count;  /* defined functions */
  uint32_t *func_types; /* type index of each defined function */

  uint32_t table_count; /* defined tables */
  wp__tabletype *tables;

  uint32_t memory_count; /* defined memories */
  wp__limits *memories;  /* in 64 KiB pages */

  uint32_t global_count; /* defined globals */
  wp__global *globals;

  uint32_t tag_count; /* defined tags (exception handling) */

  uint32_t export_count;
  wp__export *exports;

  bool has_start;
  uint32_t start_func;

  uint32_t elem_segment_count;
  bool has_data_count;
  uint32_t data_count;

  uint32_t data_segment_count;
  wp__data_segment *data_segments;
  /* The data section as a whole, for the rewrite. */
  uint64_t data_section_offset, data_section_length; /* section id byte .. end */

  wp__name module_name; /* from the name section; length 0 if absent */

  bool uses_simd; /* any v128 type or 0xFD-prefixed instruction */
  /* A memory.size / grow / copy / fill / init immediate other than one 0x00
   * byte: a memory index (multi-memory), malformed without it. */
  bool uses_memory_index;

  /* Private to reader*.c: the blocks that the type vectors and the names
   * point into (one allocation per section instead of one per item).
   * module_name.bytes is its own allocation. */
  uint8_t *type_storage_;
  char *import_name_storage_, *export_name_storage_;
} wp__module_info;

/* Error detail: what is wrong and the byte offset in the input. */
typedef struct wp__read_error {
  uint64_t offset;
  char section[24]; /* "type", "import", "code", "header", ... */
  char message[160];
} wp__read_error;

/* Returns 0, WP_EMALFORMED (structure: bad magic, truncated, bad LEB, section
 * out of order...), WP_EINVALID_MODULE (an index out of range, a bad limit),
 * WP_EUNSUPPORTED (SIMD is reported in info->uses_simd, not as an error: the
 * caller decides), or WP_ENOMEM. On error *info is left empty. */
int wp__module_read(const uint8_t *wasm, size_t length, wp__module_info *info, wp__read_error *err);
void wp__module_info_free(wp__module_info *info);

/* Signature of function `func_index` (imports first). NULL if out of range. */
const wp__functype *wp__module_func_type(const wp__module_info *info, uint32_t func_index);
/* Limits of memory `index` and type of table `index` (imports first in each
 * index space). NULL if out of range. */
const wp__limits *wp__module_memory(const wp__module_info *info, uint32_t index);
const wp__tabletype *wp__module_table(const wp__module_info *info, uint32_t index);

/* The names of imports the host does not provide. provides(import, ctx)
 * answers for one import (its module and field names are in the import).
 * Returns the number missing and, when missing_text is not NULL, writes
 * "module.field, module.field, ..." into it: bytes outside printable ASCII
 * and the backslash are written \XX (hex); always NUL-terminated, and a list
 * that does not fit ends in "...". */
typedef bool (*wp__import_provider)(const wp__import *import, void *ctx);
uint32_t wp__module_missing_imports(const wp__module_info *info, wp__import_provider provides,
                                    void *ctx, char *missing_text, size_t missing_len);

/* True when every active data segment targets a memory the module defines
 * (not imports) with an i32.const offset and ends within that memory's
 * initial size, so the segments can become a CoW image at deploy. Otherwise
 * the segments stay in the code and wasm2c's init copies them (and traps in
 * the spec's order when one is out of bounds). */
bool wp__module_data_is_imageable(const wp__module_info *info);

/* Writes a copy of the module in which every active data segment is replaced
 * by an empty passive one (same index, so data.drop / memory.init indices are
 * unchanged; an active segment is dropped at instantiation, which behaves
 * exactly like an empty passive one). The bytes then live only in the image.
 * *out is malloc'd. */
int wp__module_strip_active_data(const uint8_t *wasm, size_t length, const wp__module_info *info,
                                 uint8_t **out, size_t *out_length);

/* ---- Internal to reader*.c: the byte cursor and the instruction walker. ----
 * Callers outside the reader use the functions above only. */

/* A bounded view of the input: reads never pass `end` (the end of the
 * current section or function body). Offsets are from the input's start so
 * that errors point into the file. */
typedef struct wp__reader {
  const uint8_t *base;
  size_t pos, end;
  const char *section; /* name for errors */
  wp__read_error *err;
} wp__reader;

/* Fills rd->err (printf-style message) and returns `code`. */
int wp__reader_fail(wp__reader *rd, int code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int wp__read_byte(wp__reader *rd, uint8_t *value);
/* LEB128 of `bits` bits with the spec's rules: at most ceil(bits/7) bytes,
 * unused bits of the last byte zero (unsigned) or a sign extension (signed). */
int wp__read_leb(wp__reader *rd, unsigned bits, bool is_signed, uint64_t *value);
int wp__read_u32(wp__reader *rd, uint32_t *value);
/* A value type byte; sets *uses_simd on v128. */
int wp__read_valtype(wp__reader *rd, uint8_t *type, bool *uses_simd);

/* One expression (function body or constant expression) up to and including
 * its final `end`, with every immediate decoded so that a 0xFD byte inside
 * an immediate is never taken for an opcode. */
typedef struct wp__expr_walk {
  /* in */
  bool has_data_count; /* memory.init / data.drop need the datacount section */
  bool memory64;       /* memarg offsets are u64 */
  /* out */
  bool uses_simd;
  bool uses_memory_index; /* a memory immediate that is not a single 0x00 byte */
  uint32_t instr_count;   /* instructions before the final end */
  wp__const_expr first;   /* the first instruction when it is a constant */
} wp__expr_walk;
int wp__walk_expr(wp__reader *rd, wp__expr_walk *walk);

#endif /* WP_INSTANCE_READER_H */
