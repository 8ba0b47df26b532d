/* reader_code.c — the byte cursor and the instruction walker of the reader.
 *
 * The cursor (wp__reader) is a bounded view of the input: every read checks
 * against the end of the current section or function body, so no input can
 * make the reader look outside the bytes it was given. LEB128 follows the
 * spec's rules for malformed encodings (too long, unused bits set).
 *
 * The walker decodes one expression with all its immediates. It exists for
 * one question the host must answer before wasm2c sees the module — does it
 * use SIMD? — and that cannot be answered by scanning for 0xFD bytes, since
 * such a byte may sit inside an immediate (an i32.const, a memarg offset).
 * It knows the opcodes of wabt 1.0.32 (MVP, sign extension, saturating
 * conversions, bulk memory, reference types, multi-value, tail calls,
 * exceptions, threads, SIMD); anything else is reported as malformed with
 * its offset rather than guessed at. Typing is left to wasm2c.
 */
#include "reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int wp__reader_fail(wp__reader *rd, int code, size_t offset, const char *fmt, ...) {
  wp__read_error *err = rd->err;
  va_list ap;

  err->offset = offset;
  snprintf(err->section, sizeof(err->section), "%s", rd->section ? rd->section : "header");
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  return code;
}

int wp__read_byte(wp__reader *rd, uint8_t *value) {
  if (rd->pos >= rd->end)
    return wp__reader_fail(rd, WP_EMALFORMED, rd->pos, "unexpected end");
  *value = rd->base[rd->pos++];
  return 0;
}

int wp__read_leb(wp__reader *rd, unsigned bits, bool is_signed, uint64_t *value) {
  size_t start = rd->pos;

  /* Most integers in a module fit in one byte. */
  if (rd->pos < rd->end && rd->base[rd->pos] < 0x80) {
    uint8_t byte = rd->base[rd->pos++];
    *value = is_signed && (byte & 0x40) ? (uint64_t)byte | ~(uint64_t)0x7f : byte;
    return 0;
  }
  unsigned max_bytes = (bits + 6) / 7;
  uint64_t result = 0;

  for (unsigned i = 0; i < max_bytes; i++) {
    if (rd->pos >= rd->end)
      return wp__reader_fail(rd, WP_EMALFORMED, start, "unexpected end inside a LEB128 integer");
    uint8_t byte = rd->base[rd->pos++];
    unsigned shift = 7 * i;
    result |= (uint64_t)(byte & 0x7f) << shift;
    if (i == max_bytes - 1) {
      unsigned used = bits - shift; /* value bits this last byte may carry */
      uint8_t rest = (uint8_t)((byte & 0x7f) >> (is_signed ? used - 1 : used));
      if (byte & 0x80)
        return wp__reader_fail(rd, WP_EMALFORMED, start,
                               "integer representation too long (over %u bytes)", max_bytes);
      if (is_signed ? (rest != 0 && rest != (0x7f >> (used - 1))) : rest != 0)
        return wp__reader_fail(rd, WP_EMALFORMED, start, "integer too large for %s%u",
                               is_signed ? "s" : "u", bits);
    }
    if (!(byte & 0x80)) {
      if (is_signed && shift + 7 < 64 && (byte & 0x40))
        result |= ~(uint64_t)0 << (shift + 7);
      *value = result;
      return 0;
    }
  }
  /* The last byte's continuation bit is rejected above. */
  return wp__reader_fail(rd, WP_EMALFORMED, start, "integer representation too long");
}

int wp__read_u32(wp__reader *rd, uint32_t *value) {
  uint64_t v;
  int rc;
  if (rd->pos < rd->end && rd->base[rd->pos] < 0x80) {
    *value = rd->base[rd->pos++];
    return 0;
  }
  rc = wp__read_leb(rd, 32, false, &v);
  if (rc)
    return rc;
  *value = (uint32_t)v;
  return 0;
}

int wp__read_valtype(wp__reader *rd, uint8_t *type, bool *uses_simd) {
  size_t at = rd->pos;
  int rc = wp__read_byte(rd, type);
  if (rc)
    return rc;
  switch (*type) {
  case WP__I32:
  case WP__I64:
  case WP__F32:
  case WP__F64:
  case WP__FUNCREF:
  case WP__EXTERNREF: return 0;
  case WP__V128: *uses_simd = true; return 0;
  }
  return wp__reader_fail(rd, WP_EMALFORMED, at, "malformed value type 0x%02x", *type);
}

/* Skips `n` raw bytes (lane indices, v128 constants, float constants). */
static int skip_bytes(wp__reader *rd, size_t n) {
  if (rd->end - rd->pos < n)
    return wp__reader_fail(rd, WP_EMALFORMED, rd->pos, "unexpected end inside an immediate");
  rd->pos += n;
  return 0;
}

static int skip_u32(wp__reader *rd) {
  uint32_t ignored;
  return wp__read_u32(rd, &ignored);
}

/* memory.size, memory.grow, memory.fill... carry a memory index: a single
 * zero byte without multi-memory, a u32 with it. Read as a u32; whether
 * anything but 0x00 was there is reported for the caller to judge once it
 * knows the features. */
static int read_memory_index(wp__reader *rd, wp__expr_walk *walk) {
  size_t at = rd->pos;
  uint32_t index;
  int rc = wp__read_u32(rd, &index);
  if (rc == 0 && (index != 0 || rd->pos != at + 1))
    walk->uses_memory_index = true;
  return rc;
}

/* atomic.fence's reserved byte. */
static int read_zero_byte(wp__reader *rd) {
  size_t at = rd->pos;
  uint8_t byte;
  int rc = wp__read_byte(rd, &byte);
  if (rc)
    return rc;
  if (byte != 0)
    return wp__reader_fail(rd, WP_EMALFORMED, at, "zero byte expected, got 0x%02x", byte);
  return 0;
}

static int skip_memarg(wp__reader *rd, const wp__expr_walk *walk) {
  uint32_t align;
  uint64_t ignored;
  int rc = wp__read_u32(rd, &align); /* alignment exponent */
  if (rc)
    return rc;
  /* Multi-memory: bit 6 of the alignment says a memory index follows. */
  if ((align & 0x40) && (rc = skip_u32(rd)) != 0)
    return rc;
  return wp__read_leb(rd, walk->memory64 ? 64 : 32, false, &ignored);
}

static int read_blocktype(wp__reader *rd, wp__expr_walk *walk) {
  size_t at = rd->pos;
  uint8_t type;
  uint64_t index;

  if (rd->pos >= rd->end)
    return wp__reader_fail(rd, WP_EMALFORMED, at, "unexpected end");
  if (rd->base[rd->pos] == 0x40) {
    rd->pos++;
    return 0;
  }
  if (rd->base[rd->pos] & 0x40) /* negative s33: a value type or garbage */
    return wp__read_valtype(rd, &type, &walk->uses_simd);
  return wp__read_leb(rd, 33, true, &index); /* a type index (multi-value) */
}

/* Opcodes 0xFD 0x00..0x113 that wabt 1.0.32 knows (SIMD and relaxed SIMD),
 * one bit each, taken from its opcode table. */
static const uint32_t simd_known[] = {0xffffffffu, 0xffffffffu, 0xffffffffu,
                                      0xffffffffu, 0xfbffffffu, 0xf7e27f9bu,
                                      0xffe27f9bu, 0xffffbffbu, 0x000fffffu};

static int walk_simd(wp__reader *rd, wp__expr_walk *walk, size_t at) {
  uint32_t op;
  int rc = wp__read_u32(rd, &op);
  if (rc)
    return rc;
  walk->uses_simd = true;
  if (op >= 0x100 && op <= 0x113)
    return wp__reader_fail(rd, WP_EUNSUPPORTED, at,
                           "relaxed-simd is not supported (wasm2c 1.0.36 cannot translate it)");
  if (op >= 32 * sizeof(simd_known) / sizeof(simd_known[0]) ||
      !(simd_known[op / 32] & (1u << (op % 32))))
    return wp__reader_fail(rd, WP_EMALFORMED, at, "illegal opcode 0xfd 0x%x", op);
  if (op <= 0x0b || op == 0x5c || op == 0x5d) /* loads, stores, load_zero */
    return skip_memarg(rd, walk);
  if (op == 0x0c || op == 0x0d) /* v128.const, i8x16.shuffle */
    return skip_bytes(rd, 16);
  if (op >= 0x15 && op <= 0x22) /* extract_lane, replace_lane */
    return skip_bytes(rd, 1);
  if (op >= 0x54 && op <= 0x5b) { /* load_lane, store_lane */
    rc = skip_memarg(rd, walk);
    return rc ? rc : skip_bytes(rd, 1);
  }
  return 0;
}

static int walk_misc(wp__reader *rd, wp__expr_walk *walk, size_t at) {
  uint32_t op;
  int rc = wp__read_u32(rd, &op);
  if (rc)
    return rc;
  if (op <= 0x07) /* trunc_sat */
    return 0;
  switch (op) {
  case 0x08: /* memory.init */
  case 0x09: /* data.drop */
    if (!walk->has_data_count)
      return wp__reader_fail(rd, WP_EMALFORMED, at,
                             "data count section required (memory.init / data.drop)");
    rc = skip_u32(rd);
    return rc || op == 0x09 ? rc : read_memory_index(rd, walk);
  case 0x0a: /* memory.copy */
    rc = read_memory_index(rd, walk);
    return rc ? rc : read_memory_index(rd, walk);
  case 0x0b: return read_memory_index(rd, walk); /* memory.fill */
  case 0x0c:                                     /* table.init */
  case 0x0e: /* table.copy */ rc = skip_u32(rd); return rc ? rc : skip_u32(rd);
  case 0x0d: /* elem.drop */
  case 0x0f: /* table.grow */
  case 0x10: /* table.size */
  case 0x11: /* table.fill */ return skip_u32(rd);
  }
  return wp__reader_fail(rd, WP_EMALFORMED, at, "illegal opcode 0xfc 0x%x", op);
}

static int walk_atomic(wp__reader *rd, wp__expr_walk *walk, size_t at) {
  uint32_t op;
  int rc = wp__read_u32(rd, &op);
  if (rc)
    return rc;
  if (op == 0x03) /* atomic.fence */
    return read_zero_byte(rd);
  if (op == 0x01 || op == 0x02) /* memory.atomic.wait32 / wait64 */
    return wp__reader_fail(rd, WP_EUNSUPPORTED, at,
                           "threads: memory.atomic.wait is not supported (wasm2c 1.0.36 cannot "
                           "translate it)");
  if (op <= 0x02 || (op >= 0x10 && op <= 0x4e))
    return skip_memarg(rd, walk);
  return wp__reader_fail(rd, WP_EMALFORMED, at, "illegal opcode 0xfe 0x%x", op);
}

/* Records the first instruction of a constant expression. */
static void note_const(wp__expr_walk *walk, wp__const_kind kind, uint32_t index, uint64_t bits) {
  if (walk->instr_count != 0)
    return;
  walk->first.kind = kind;
  walk->first.index = index;
  walk->first.bits = bits;
}

static uint64_t load_le(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

int wp__walk_expr(wp__reader *rd, wp__expr_walk *walk) {
  uint64_t depth = 0; /* open blocks; the expression ends at an `end` at depth 0 */
  uint64_t value;
  uint32_t index, count;
  uint8_t op, byte;
  int rc;

  walk->instr_count = 0;
  walk->first.kind = WP__CONST_OTHER;
  walk->first.index = 0;
  walk->first.bits = 0;
  for (;;) {
    size_t at = rd->pos;
    if (rd->pos >= rd->end)
      return wp__reader_fail(rd, WP_EMALFORMED, at, "unexpected end (END opcode expected)");
    op = rd->base[rd->pos++];
    rc = 0;
    switch (op) {
    case 0x0b: /* end */
      if (depth == 0)
        return 0;
      depth--;
      break;
    case 0x02: /* block */
    case 0x03: /* loop */
    case 0x04: /* if */
    case 0x06: /* try */
      rc = read_blocktype(rd, walk);
      depth++;
      break;
    case 0x18: /* delegate: ends a try */
      if (depth == 0)
        return wp__reader_fail(rd, WP_EINVALID_MODULE, at, "delegate outside a try block");
      depth--;
      rc = skip_u32(rd);
      break;
    case 0x00: /* unreachable */
    case 0x01: /* nop */
    case 0x05: /* else */
    case 0x0f: /* return */
    case 0x19: /* catch_all */
    case 0x1a: /* drop */
    case 0x1b: /* select */
    case 0xd1: /* ref.is_null */ break;
    case 0x07: /* catch */
    case 0x08: /* throw */
    case 0x09: /* rethrow */
    case 0x0c: /* br */
    case 0x0d: /* br_if */
    case 0x10: /* call */
    case 0x12: /* return_call */
    case 0x20: /* local.get */
    case 0x21: /* local.set */
    case 0x22: /* local.tee */
    case 0x24: /* global.set */
    case 0x25: /* table.get */
    case 0x26: /* table.set */ rc = skip_u32(rd); break;
    case 0x23: /* global.get */
      rc = wp__read_u32(rd, &index);
      note_const(walk, WP__CONST_GLOBAL_GET, index, 0);
      break;
    case 0xd2: /* ref.func */
      rc = wp__read_u32(rd, &index);
      note_const(walk, WP__CONST_REF_FUNC, index, 0);
      break;
    case 0x0e: /* br_table */
      rc = wp__read_u32(rd, &count);
      if (rc == 0 && count > rd->end - rd->pos)
        return wp__reader_fail(rd, WP_EMALFORMED, at, "br_table has %u labels, past the end",
                               count);
      for (uint64_t i = 0; rc == 0 && i <= count; i++) /* labels, then the default */
        rc = skip_u32(rd);
      break;
    case 0x11: /* call_indirect: type, table */
    case 0x13: /* return_call_indirect */
      rc = skip_u32(rd);
      if (rc == 0)
        rc = skip_u32(rd);
      break;
    case 0x1c: /* select t* */
      rc = wp__read_u32(rd, &count);
      if (rc == 0 && count > rd->end - rd->pos)
        return wp__reader_fail(rd, WP_EMALFORMED, at, "select has %u types, past the end", count);
      for (uint32_t i = 0; rc == 0 && i < count; i++)
        rc = wp__read_valtype(rd, &byte, &walk->uses_simd);
      break;
    case 0x3f: /* memory.size */
    case 0x40: /* memory.grow */ rc = read_memory_index(rd, walk); break;
    case 0x41: /* i32.const */
      rc = wp__read_leb(rd, 32, true, &value);
      note_const(walk, WP__CONST_I32, 0, value & 0xffffffffu);
      break;
    case 0x42: /* i64.const */
      rc = wp__read_leb(rd, 64, true, &value);
      note_const(walk, WP__CONST_I64, 0, value);
      break;
    case 0x43: /* f32.const */
      rc = skip_bytes(rd, 4);
      if (rc == 0)
        note_const(walk, WP__CONST_F32, 0, load_le(rd->base + at + 1, 4));
      break;
    case 0x44: /* f64.const */
      rc = skip_bytes(rd, 8);
      if (rc == 0)
        note_const(walk, WP__CONST_F64, 0, load_le(rd->base + at + 1, 8));
      break;
    case 0xd0: /* ref.null t */
      rc = wp__read_byte(rd, &byte);
      if (rc == 0 && byte != WP__FUNCREF && byte != WP__EXTERNREF)
        return wp__reader_fail(rd, WP_EMALFORMED, at + 1, "malformed reference type 0x%02x", byte);
      note_const(walk, WP__CONST_REF_NULL, 0, byte);
      break;
    case 0x1f: /* try_table */
    case 0x0a: /* throw_ref */
      return wp__reader_fail(rd, WP_EUNSUPPORTED, at,
                             "exception handling with exnref (try_table) is not supported; "
                             "legacy try/catch is");
    case 0x14: /* call_ref */
    case 0x15: /* return_call_ref */
    case 0xd4: /* ref.as_non_null */
    case 0xd5: /* br_on_null */
    case 0xd6: /* br_on_non_null */
      return wp__reader_fail(rd, WP_EUNSUPPORTED, at, "function-references is not supported");
    case 0xfb: return wp__reader_fail(rd, WP_EUNSUPPORTED, at, "gc is not supported");
    case 0xfc: rc = walk_misc(rd, walk, at); break;
    case 0xfd: rc = walk_simd(rd, walk, at); break;
    case 0xfe: rc = walk_atomic(rd, walk, at); break;
    default:
      if (op >= 0x28 && op <= 0x3e) /* loads and stores */
        rc = skip_memarg(rd, walk);
      else if (op < 0x45 || op > 0xc4) /* not a numeric operator without immediates */
        return wp__reader_fail(rd, WP_EMALFORMED, at, "illegal opcode 0x%02x", op);
      break;
    }
    if (rc)
      return rc;
    walk->instr_count++;
  }
}
