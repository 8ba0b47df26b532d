/* reader.c — one pass over a WebAssembly binary into a wp__module_info.
 *
 * Sections are read in the order wabt 1.0.32 allows (type, import,
 * function, table, memory, tag, global, export, start, elem, datacount,
 * code, data; custom sections anywhere), each bounded by its declared size
 * so that a lying size is caught where it lies. What the host relies on is
 * checked here (structure, LEB128, UTF-8, counts that must match, indices
 * that later steps dereference, limits); typing of function bodies is left
 * to wasm2c, whose message is passed on.
 *
 * Allocation: every vector's count is checked against the bytes left in
 * its section before anything is allocated (each entry takes at least one
 * byte), so a forged count cannot ask for more memory than the input could
 * describe. Names and type vectors go into one block per section.
 */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

#define WP__PAGE_LIMIT_32 65536u       /* 4 GiB in 64 KiB pages */
#define WP__PAGE_LIMIT_64 (1ull << 48) /* 2^64 bytes in 64 KiB pages */

typedef struct parser {
  wp__reader rd;
  wp__module_info *info;
  bool memory64; /* some memory is 64-bit: memarg offsets are u64 */
  uint32_t code_count;
} parser;

static const char *section_name(uint8_t id) {
  static const char *const names[] = {"custom", "type",   "import",    "function", "table",
                                      "memory", "global", "export",    "start",    "elem",
                                      "code",   "data",   "datacount", "tag"};
  return id < sizeof(names) / sizeof(names[0]) ? names[id] : "unknown";
}

/* Position of each known section id in the order wabt accepts; 0 = none. */
static unsigned section_rank(uint8_t id) {
  static const uint8_t ranks[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6};
  return id < sizeof(ranks) ? ranks[id] : 0;
}

/* Well-formed UTF-8 as the spec defines it: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xe0) == 0xc0)
      len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
      len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
      len = 4, cp = c & 0x07, min = 0x10000;
    else
      return false;
    if (n - i < len)
      return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

/* A vector count, refused when the section cannot hold that many entries
 * of at least `min_entry_bytes` each. */
static int read_count(parser *p, size_t min_entry_bytes, const char *what, uint32_t *count) {
  wp__reader *rd = &p->rd;
  size_t at = rd->pos;
  int rc = wp__read_u32(rd, count);
  if (rc)
    return rc;
  if (*count > (rd->end - rd->pos) / min_entry_bytes)
    return wp__reader_fail(rd, WP_EMALFORMED, at, "%u %s do not fit in the %zu bytes left", *count,
                           what, rd->end - rd->pos);
  return 0;
}

static void *alloc_array(size_t count, size_t size) {
  return calloc(count ? count : 1, size);
}

/* A name copied into *storage (advanced past it and its NUL). The storage
 * block is the section's size, which always suffices: each name is preceded
 * by a length of at least one byte, which pays for the NUL. */
static int read_name(parser *p, wp__name *name, char **storage) {
  wp__reader *rd = &p->rd;
  size_t at = rd->pos;
  uint32_t length;
  int rc = wp__read_u32(rd, &length);
  if (rc)
    return rc;
  if (length > rd->end - rd->pos)
    return wp__reader_fail(rd, WP_EMALFORMED, at, "name of %u bytes goes past the end", length);
  if (!utf8_valid(rd->base + rd->pos, length))
    return wp__reader_fail(rd, WP_EMALFORMED, rd->pos, "malformed UTF-8 encoding in a name");
  name->bytes = *storage;
  name->length = length;
  memcpy(name->bytes, rd->base + rd->pos, length);
  name->bytes[length] = '\0';
  *storage += length + 1;
  rd->pos += length;
  return 0;
}

static int read_limits(parser *p, wp__limits *limits, bool is_memory) {
  wp__reader *rd = &p->rd;
  size_t at = rd->pos;
  uint32_t flags;
  uint64_t limit = is_memory ? WP__PAGE_LIMIT_32 : UINT32_MAX;
  int rc = wp__read_u32(rd, &flags);
  if (rc)
    return rc;
  /* Tables take the 64-bit flag too (memory64's table64), never shared. */
  if (flags > 7u || (!is_memory && (flags & 2)))
    return wp__reader_fail(rd, WP_EMALFORMED, at, "malformed limits flags 0x%x", flags);
  limits->has_max = flags & 1;
  limits->shared = flags & 2;
  limits->is64 = flags & 4;
  if (limits->is64 && is_memory) {
    p->memory64 = true;
    limit = WP__PAGE_LIMIT_64;
  } else if (limits->is64) {
    limit = UINT64_MAX;
  }
  unsigned bits = limits->is64 ? 64 : 32;
  if ((rc = wp__read_leb(rd, bits, false, &limits->min)))
    return rc;
  if (limits->has_max && (rc = wp__read_leb(rd, bits, false, &limits->max)))
    return rc;
  if (limits->min > limit || (limits->has_max && limits->max > limit))
    return wp__reader_fail(rd, WP_EINVALID_MODULE, at, "%s size must be at most %llu%s",
                           is_memory ? "memory" : "table", (unsigned long long)limit,
                           is_memory ? " pages" : "");
  if (limits->has_max && limits->min > limits->max)
    return wp__reader_fail(rd, WP_EINVALID_MODULE, at, "size minimum %llu is above maximum %llu",
                           (unsigned long long)limits->min, (unsigned long long)limits->max);
  if (limits->shared && !limits->has_max)
    return wp__reader_fail(rd, WP_EINVALID_MODULE, at, "shared memory must have a maximum");
  return 0;
}

static int read_reftype(parser *p, uint8_t *type) {
  size_t at = p->rd.pos;
  int rc = wp__read_byte(&p->rd, type);
  if (rc)
    return rc;
  if (*type != WP__FUNCREF && *type != WP__EXTERNREF)
    return wp__reader_fail(&p->rd, WP_EMALFORMED, at, "malformed reference type 0x%02x", *type);
  return 0;
}

static int read_tabletype(parser *p, wp__tabletype *table) {
  int rc = read_reftype(p, &table->elem_type);
  return rc ? rc : read_limits(p, &table->limits, false);
}

static int read_globaltype(parser *p, wp__globaltype *global) {
  size_t at;
  uint8_t mut;
  int rc = wp__read_valtype(&p->rd, &global->type, &p->info->uses_simd);
  if (rc)
    return rc;
  at = p->rd.pos;
  if ((rc = wp__read_byte(&p->rd, &mut)))
    return rc;
  if (mut > 1)
    return wp__reader_fail(&p->rd, WP_EMALFORMED, at, "malformed mutability 0x%02x", mut);
  global->mutable_ = mut;
  return 0;
}

static int read_index(parser *p, uint32_t bound, const char *what, uint32_t *index) {
  size_t at = p->rd.pos;
  int rc = wp__read_u32(&p->rd, index);
  if (rc)
    return rc;
  if (*index >= bound)
    return wp__reader_fail(&p->rd, WP_EINVALID_MODULE, at, "unknown %s %u (there are %u)", what,
                           *index, bound);
  return 0;
}

/* Walks one constant expression; *expr is its first instruction, and
 * WP__CONST_OTHER when there is not exactly one. */
static int walk_const_expr(parser *p, wp__const_expr *expr, uint32_t *instr_count) {
  wp__expr_walk walk = {.has_data_count = p->info->has_data_count, .memory64 = p->memory64};
  int rc = wp__walk_expr(&p->rd, &walk);
  if (walk.uses_simd)
    p->info->uses_simd = true;
  if (walk.uses_memory_index)
    p->info->uses_memory_index = true;
  if (rc)
    return rc;
  *expr = walk.first;
  *instr_count = walk.instr_count;
  if (walk.instr_count != 1)
    expr->kind = WP__CONST_OTHER;
  return 0;
}

static int read_const_expr(parser *p, wp__const_expr *expr) {
  uint32_t instr_count;
  return walk_const_expr(p, expr, &instr_count);
}

/* An active segment's offset must produce exactly one value of the index
 * type. wabt 1.0.32's validator lets an empty offset through and the C it
 * generates then fails to compile, so the reader refuses it as the spec does:
 * an empty expression, or a lone constant of another type, is a type
 * mismatch. Longer expressions are left to wasm2c's validator. */
static int read_offset_expr(parser *p, bool is64, wp__const_expr *expr) {
  size_t at = p->rd.pos;
  uint32_t instr_count;
  int rc = walk_const_expr(p, expr, &instr_count);
  if (rc)
    return rc;
  if (instr_count == 0)
    return wp__reader_fail(&p->rd, WP_EINVALID_MODULE, at,
                           "type mismatch: empty offset expression");
  wp__const_kind want = is64 ? WP__CONST_I64 : WP__CONST_I32;
  bool literal = expr->kind == WP__CONST_I32 || expr->kind == WP__CONST_I64 ||
                 expr->kind == WP__CONST_F32 || expr->kind == WP__CONST_F64 ||
                 expr->kind == WP__CONST_REF_NULL || expr->kind == WP__CONST_REF_FUNC;
  if (literal && expr->kind != want)
    return wp__reader_fail(&p->rd, WP_EINVALID_MODULE, at,
                           "type mismatch: offset expression is not %s", is64 ? "i64" : "i32");
  return 0;
}

static uint32_t total_funcs(const wp__module_info *m) {
  return m->imported_funcs + m->func_count;
}

static int read_type_section(parser *p) {
  wp__module_info *m = p->info;
  wp__reader *rd = &p->rd;
  uint8_t *storage;
  int rc = read_count(p, 3, "types", &m->type_count);
  if (rc)
    return rc;
  m->types = alloc_array(m->type_count, sizeof(*m->types));
  /* Each value type is one byte of the section. */
  storage = m->type_storage_ = malloc(rd->end - rd->pos + 1);
  if (!m->types || !storage)
    return WP_ENOMEM;
  for (uint32_t i = 0; i < m->type_count; i++) {
    wp__functype *type = &m->types[i];
    size_t at = rd->pos;
    uint8_t form;
    if ((rc = wp__read_byte(rd, &form)))
      return rc;
    if (form != 0x60)
      return wp__reader_fail(rd, WP_EMALFORMED, at, "malformed function type form 0x%02x", form);
    if ((rc = read_count(p, 1, "parameters", &type->param_count)))
      return rc;
    type->params = storage;
    for (uint32_t k = 0; k < type->param_count; k++)
      if ((rc = wp__read_valtype(rd, storage++, &m->uses_simd)))
        return rc;
    if ((rc = read_count(p, 1, "results", &type->result_count)))
      return rc;
    type->results = storage;
    for (uint32_t k = 0; k < type->result_count; k++)
      if ((rc = wp__read_valtype(rd, storage++, &m->uses_simd)))
        return rc;
  }
  return 0;
}

static int read_import_section(parser *p) {
  wp__module_info *m = p->info;
  wp__reader *rd = &p->rd;
  char *storage;
  int rc = read_count(p, 4, "imports", &m->import_count);
  if (rc)
    return rc;
  m->imports = alloc_array(m->import_count, sizeof(*m->imports));
  storage = m->import_name_storage_ = malloc(rd->end - rd->pos + 1);
  if (!m->imports || !storage)
    return WP_ENOMEM;
  for (uint32_t i = 0; i < m->import_count; i++) {
    wp__import *imp = &m->imports[i];
    size_t at;
    uint8_t kind, attribute;
    if ((rc = read_name(p, &imp->module, &storage)) || (rc = read_name(p, &imp->field, &storage)))
      return rc;
    at = rd->pos;
    if ((rc = wp__read_byte(rd, &kind)))
      return rc;
    imp->kind = kind;
    switch (kind) {
    case WP__EXTERN_FUNC:
      rc = read_index(p, m->type_count, "type", &imp->type_index);
      m->imported_funcs++;
      break;
    case WP__EXTERN_TABLE:
      rc = read_tabletype(p, &imp->table);
      m->imported_tables++;
      break;
    case WP__EXTERN_MEMORY:
      rc = read_limits(p, &imp->memory, true);
      m->imported_memories++;
      break;
    case WP__EXTERN_GLOBAL:
      rc = read_globaltype(p, &imp->global);
      m->imported_globals++;
      break;
    case WP__EXTERN_TAG:
      if ((rc = wp__read_byte(rd, &attribute)))
        return rc;
      if (attribute != 0)
        return wp__reader_fail(rd, WP_EMALFORMED, at + 1, "malformed tag attribute %u", attribute);
      rc = read_index(p, m->type_count, "type", &imp->type_index);
      m->imported_tags++;
      break;
    default: return wp__reader_fail(rd, WP_EMALFORMED, at, "malformed import kind %u", kind);
    }
    if (rc)
      return rc;
  }
  return 0;
}

static int read_function_section(parser *p) {
  wp__module_info *m = p->info;
  int rc = read_count(p, 1, "functions", &m->func_count);
  if (rc)
    return rc;
  if (m->func_count > UINT32_MAX - m->imported_funcs)
    return wp__reader_fail(&p->rd, WP_EINVALID_MODULE, p->rd.pos, "too many functions");
  m->func_types = alloc_array(m->func_count, sizeof(*m->func_types));
  if (!m->func_types)
    return WP_ENOMEM;
  for (uint32_t i = 0; i < m->func_count; i++)
    if ((rc = read_index(p, m->type_count, "type", &m->func_types[i])))
      return rc;
  return 0;
}

static int read_table_section(parser *p) {
  wp__module_info *m = p->info;
  int rc = read_count(p, 3, "tables", &m->table_count);
  if (rc)
    return rc;
  m->tables = alloc_array(m->table_count, sizeof(*m->tables));
  if (!m->tables)
    return WP_ENOMEM;
  for (uint32_t i = 0; i < m->table_count; i++)
    if ((rc = read_tabletype(p, &m->tables[i])))
      return rc;
  return 0;
}

static int read_memory_section(parser *p) {
  wp__module_info *m = p->info;
  int rc = read_count(p, 2, "memories", &m->memory_count);
  if (rc)
    return rc;
  m->memories = alloc_array(m->memory_count, sizeof(*m->memories));
  if (!m->memories)
    return WP_ENOMEM;
  for (uint32_t i = 0; i < m->memory_count; i++)
    if ((rc = read_limits(p, &m->memories[i], true)))
      return rc;
  return 0;
}

static int read_tag_section(parser *p) {
  wp__module_info *m = p->info;
  wp__reader *rd = &p->rd;
  uint32_t type_index;
  int rc = read_count(p, 2, "tags", &m->tag_count);
  if (rc)
    return rc;
  for (uint32_t i = 0; i < m->tag_count; i++) {
    size_t at = rd->pos;
    uint8_t attribute;
    if ((rc = wp__read_byte(rd, &attribute)))
      return rc;
    if (attribute != 0)
      return wp__reader_fail(rd, WP_EMALFORMED, at, "malformed tag attribute %u", attribute);
    if ((rc = read_index(p, m->type_count, "type", &type_index)))
      return rc;
  }
  return 0;
}

static int read_global_section(parser *p) {
  wp__module_info *m = p->info;
  int rc = read_count(p, 3, "globals", &m->global_count);
  if (rc)
    return rc;
  m->globals = alloc_array(m->global_count, sizeof(*m->globals));
  if (!m->globals)
    return WP_ENOMEM;
  for (uint32_t i = 0; i < m->global_count; i++) {
    if ((rc = read_globaltype(p, &m->globals[i].type)))
      return rc;
    if ((rc = read_const_expr(p, &m->globals[i].init)))
      return rc;
  }
  return 0;
}

/* Export names must be unique: the glue turns each into a symbol-like key.
 * An open-addressing set of export indices, sized to stay half empty. */
static int check_unique_exports(parser *p, const size_t *name_offsets) {
  wp__module_info *m = p->info;
  size_t slots = 1;
  uint32_t *set;
  while (slots < 2 * (size_t)m->export_count)
    slots <<= 1;
  set = malloc(slots * sizeof(*set));
  if (!set)
    return WP_ENOMEM;
  memset(set, 0xff, slots * sizeof(*set));
  for (uint32_t i = 0; i < m->export_count; i++) {
    const wp__name *name = &m->exports[i].name;
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (uint32_t k = 0; k < name->length; k++)
      hash = (hash ^ (uint8_t)name->bytes[k]) * 1099511628211ull;
    for (size_t slot = hash & (slots - 1);; slot = (slot + 1) & (slots - 1)) {
      if (set[slot] == UINT32_MAX) {
        set[slot] = i;
        break;
      }
      const wp__name *other = &m->exports[set[slot]].name;
      if (other->length == name->length && memcmp(other->bytes, name->bytes, name->length) == 0) {
        free(set);
        return wp__reader_fail(&p->rd, WP_EINVALID_MODULE, name_offsets[i],
                               "duplicate export name \"%s\"", name->bytes);
      }
    }
  }
  free(set);
  return 0;
}

static int read_export_section(parser *p) {
  wp__module_info *m = p->info;
  wp__reader *rd = &p->rd;
  size_t *name_offsets;
  char *storage;
  int rc = read_count(p, 3, "exports", &m->export_count);
  if (rc)
    return rc;
  m->exports = alloc_array(m->export_count, sizeof(*m->exports));
  storage = m->export_name_storage_ = malloc(rd->end - rd->pos + 1);
  name_offsets = alloc_array(m->export_count, sizeof(*name_offsets));
  if (!m->exports || !storage || !name_offsets) {
    free(name_offsets);
    return WP_ENOMEM;
  }
  for (uint32_t i = 0; i < m->export_count && rc == 0; i++) {
    wp__export *exp = &m->exports[i];
    size_t at;
    uint8_t kind;
    name_offsets[i] = rd->pos;
    if ((rc = read_name(p, &exp->name, &storage)))
      break;
    at = rd->pos;
    if ((rc = wp__read_byte(rd, &kind)))
      break;
    exp->kind = kind;
    switch (kind) {
    case WP__EXTERN_FUNC: rc = read_index(p, total_funcs(m), "function", &exp->index); break;
    case WP__EXTERN_TABLE:
      rc = read_index(p, m->imported_tables + m->table_count, "table", &exp->index);
      break;
    case WP__EXTERN_MEMORY:
      rc = read_index(p, m->imported_memories + m->memory_count, "memory", &exp->index);
      break;
    case WP__EXTERN_GLOBAL:
      rc = read_index(p, m->imported_globals + m->global_count, "global", &exp->index);
      break;
    case WP__EXTERN_TAG:
      rc = read_index(p, m->imported_tags + m->tag_count, "tag", &exp->index);
      break;
    default: rc = wp__reader_fail(rd, WP_EMALFORMED, at, "malformed export kind %u", kind);
    }
  }
  if (rc == 0)
    rc = check_unique_exports(p, name_offsets);
  free(name_offsets);
  return rc;
}

static int read_start_section(parser *p) {
  wp__module_info *m = p->info;
  size_t at = p->rd.pos;
  const wp__functype *type;
  int rc = read_index(p, total_funcs(m), "function", &m->start_func);
  if (rc)
    return rc;
  type = wp__module_func_type(m, m->start_func);
  if (!type || type->param_count != 0 || type->result_count != 0)
    return wp__reader_fail(&p->rd, WP_EINVALID_MODULE, at,
                           "start function %u must take and return nothing", m->start_func);
  m->has_start = true;
  return 0;
}

static int read_elem_section(parser *p) {
  wp__module_info *m = p->info;
  wp__reader *rd = &p->rd;
  uint32_t tables = m->imported_tables + m->table_count;
  int rc = read_count(p, 2, "element segments", &m->elem_segment_count);
  if (rc)
    return rc;
  for (uint32_t i = 0; i < m->elem_segment_count; i++) {
    size_t at = rd->pos;
    uint32_t flags, table_index = 0, count, func_index;
    uint8_t kind;
    wp__const_expr expr;
    if ((rc = wp__read_u32(rd, &flags)))
      return rc;
    if (flags > 7)
      return wp__reader_fail(rd, WP_EMALFORMED, at, "malformed element segment flags %u", flags);
    bool active = !(flags & 1), explicit_table = (flags & 3) == 2, has_kind = (flags & 3) != 0;
    bool exprs = flags & 4;
    if (explicit_table && (rc = read_index(p, tables, "table", &table_index)))
      return rc;
    if (active && table_index >= tables)
      return wp__reader_fail(rd, WP_EINVALID_MODULE, at, "unknown table %u", table_index);
    const wp__tabletype *target = active ? wp__module_table(m, table_index) : NULL;
    if (active && (rc = read_offset_expr(p, target && target->limits.is64, &expr)))
      return rc;
    if (has_kind) {
      size_t kind_at = rd->pos;
      if (exprs) {
        if ((rc = read_reftype(p, &kind)))
          return rc;
      } else {
        if ((rc = wp__read_byte(rd, &kind)))
          return rc;
        if (kind != 0)
          return wp__reader_fail(rd, WP_EMALFORMED, kind_at, "malformed element kind %u", kind);
      }
    }
    if ((rc = read_count(p, 1, "elements", &count)))
      return rc;
    for (uint32_t k = 0; k < count; k++) {
      if (exprs)
        rc = read_const_expr(p, &expr);
      else
        rc = read_index(p, total_funcs(m), "function", &func_index);
      if (rc)
        return rc;
    }
  }
  return 0;
}

static int read_datacount_section(parser *p) {
  int rc = wp__read_u32(&p->rd, &p->info->data_count);
  if (rc)
    return rc;
  p->info->has_data_count = true;
  return 0;
}

static int read_code_section(parser *p) {
  wp__module_info *m = p->info;
  wp__reader *rd = &p->rd;
  size_t at = rd->pos, section_end = rd->end;
  wp__expr_walk walk = {.has_data_count = m->has_data_count, .memory64 = p->memory64};
  int rc = read_count(p, 2, "function bodies", &p->code_count);
  if (rc)
    return rc;
  if (p->code_count != m->func_count)
    return wp__reader_fail(rd, WP_EMALFORMED, at,
                           "function and code section have inconsistent lengths (%u and %u)",
                           m->func_count, p->code_count);
  for (uint32_t i = 0; i < p->code_count; i++) {
    uint32_t size, groups, count;
    uint64_t locals = 0;
    uint8_t type;
    at = rd->pos;
    if ((rc = wp__read_u32(rd, &size)))
      return rc;
    if (size > section_end - rd->pos)
      return wp__reader_fail(rd, WP_EMALFORMED, at,
                             "function body %u of %u bytes goes past the end", i, size);
    rd->end = rd->pos + size; /* the body bounds every read below */
    if ((rc = read_count(p, 2, "local groups", &groups)))
      return rc;
    for (uint32_t k = 0; k < groups; k++) {
      if ((rc = wp__read_u32(rd, &count)))
        return rc;
      locals += count;
      if (locals > UINT32_MAX)
        return wp__reader_fail(rd, WP_EMALFORMED, at, "too many locals in function body %u", i);
      if ((rc = wp__read_valtype(rd, &type, &m->uses_simd)))
        return rc;
    }
    if ((rc = wp__walk_expr(rd, &walk)))
      return rc;
    if (rd->pos != rd->end)
      return wp__reader_fail(rd, WP_EMALFORMED, rd->pos,
                             "function body %u: %zu bytes after its final end", i,
                             rd->end - rd->pos);
    rd->end = section_end;
  }
  if (walk.uses_simd)
    m->uses_simd = true;
  if (walk.uses_memory_index)
    m->uses_memory_index = true;
  return 0;
}

static int read_data_section(parser *p, size_t section_start) {
  wp__module_info *m = p->info;
  wp__reader *rd = &p->rd;
  uint32_t memories = m->imported_memories + m->memory_count;
  size_t at = rd->pos;
  int rc = read_count(p, 2, "data segments", &m->data_segment_count);
  if (rc)
    return rc;
  if (m->has_data_count && m->data_count != m->data_segment_count)
    return wp__reader_fail(rd, WP_EMALFORMED, at,
                           "data count and data section have inconsistent lengths (%u and %u)",
                           m->data_count, m->data_segment_count);
  m->data_section_offset = section_start;
  m->data_section_length = rd->end - section_start;
  m->data_segments = alloc_array(m->data_segment_count, sizeof(*m->data_segments));
  if (!m->data_segments)
    return WP_ENOMEM;
  for (uint32_t i = 0; i < m->data_segment_count; i++) {
    wp__data_segment *seg = &m->data_segments[i];
    uint32_t flags;
    seg->entry_offset = at = rd->pos;
    if ((rc = wp__read_u32(rd, &flags)))
      return rc;
    if (flags > 2)
      return wp__reader_fail(rd, WP_EMALFORMED, at, "malformed data segment flags %u", flags);
    seg->mode = flags == 1 ? WP__SEGMENT_PASSIVE : WP__SEGMENT_ACTIVE;
    if (flags == 2 && (rc = wp__read_u32(rd, &seg->memory_index)))
      return rc;
    if (seg->mode == WP__SEGMENT_ACTIVE) {
      if (seg->memory_index >= memories)
        return wp__reader_fail(rd, WP_EINVALID_MODULE, at, "unknown memory %u", seg->memory_index);
      if ((rc = read_offset_expr(p, wp__module_memory(m, seg->memory_index)->is64, &seg->offset)))
        return rc;
    }
    size_t length_at = rd->pos;
    if ((rc = wp__read_u32(rd, &seg->length)))
      return rc;
    if (seg->length > rd->end - rd->pos)
      return wp__reader_fail(rd, WP_EMALFORMED, length_at,
                             "data segment %u of %u bytes goes past the end", i, seg->length);
    seg->file_offset = rd->pos;
    rd->pos += seg->length;
    seg->entry_length = rd->pos - seg->entry_offset;
  }
  return 0;
}

/* The "name" section is a custom section: a malformed one is ignored (the
 * spec does not let custom contents make a module malformed); only the
 * module name (subsection 0) is taken. */
static int read_name_section(parser *p) {
  wp__module_info *m = p->info;
  wp__reader sub = p->rd;
  uint8_t id;
  uint32_t size, length;

  while (sub.pos < sub.end) {
    if (wp__read_byte(&sub, &id) || wp__read_u32(&sub, &size) || size > sub.end - sub.pos)
      return 0;
    if (id != 0) {
      sub.pos += size;
      continue;
    }
    sub.end = sub.pos + size;
    if (wp__read_u32(&sub, &length) || length > sub.end - sub.pos ||
        !utf8_valid(sub.base + sub.pos, length))
      return 0;
    m->module_name.bytes = malloc((size_t)length + 1);
    if (!m->module_name.bytes)
      return WP_ENOMEM;
    memcpy(m->module_name.bytes, sub.base + sub.pos, length);
    m->module_name.bytes[length] = '\0';
    m->module_name.length = length;
    return 0;
  }
  return 0;
}

static int read_custom_section(parser *p) {
  wp__reader *rd = &p->rd;
  size_t at = rd->pos;
  uint32_t length;
  int rc = wp__read_u32(rd, &length);
  if (rc)
    return rc;
  if (length > rd->end - rd->pos)
    return wp__reader_fail(rd, WP_EMALFORMED, at,
                           "custom section name of %u bytes goes past the end", length);
  if (!utf8_valid(rd->base + rd->pos, length))
    return wp__reader_fail(rd, WP_EMALFORMED, rd->pos, "malformed UTF-8 encoding in a name");
  bool is_name = length == 4 && memcmp(rd->base + rd->pos, "name", 4) == 0;
  rd->pos += length;
  /* A repeated name section is not the spec's concern; the first one wins. */
  if (is_name && !p->info->module_name.bytes && (rc = read_name_section(p)))
    return rc;
  rd->pos = rd->end;
  return 0;
}

static int read_section(parser *p, uint8_t id, size_t section_start) {
  switch (id) {
  case 0: return read_custom_section(p);
  case 1: return read_type_section(p);
  case 2: return read_import_section(p);
  case 3: return read_function_section(p);
  case 4: return read_table_section(p);
  case 5: return read_memory_section(p);
  case 6: return read_global_section(p);
  case 7: return read_export_section(p);
  case 8: return read_start_section(p);
  case 9: return read_elem_section(p);
  case 10: return read_code_section(p);
  case 11: return read_data_section(p, section_start);
  case 12: return read_datacount_section(p);
  case 13: return read_tag_section(p);
  }
  return WP_EMALFORMED; /* ids were checked by the caller */
}

static int read_module(parser *p, size_t length) {
  static const uint8_t magic[4] = {0x00, 'a', 's', 'm'};
  static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
  wp__reader *rd = &p->rd;
  unsigned last_rank = 0;
  int rc;

  if (length < 4 || memcmp(rd->base, magic, 4) != 0)
    return wp__reader_fail(rd, WP_EMALFORMED, 0, "magic header not detected");
  if (length < 8 || memcmp(rd->base + 4, version, 4) != 0)
    return wp__reader_fail(rd, WP_EMALFORMED, 4, "unknown binary version");
  rd->pos = 8;
  while (rd->pos < length) {
    size_t section_start = rd->pos;
    uint8_t id = rd->base[rd->pos++];
    uint32_t size;
    unsigned rank = section_rank(id);

    rd->section = section_name(id);
    rd->end = length;
    if (id != 0 && rank == 0)
      return wp__reader_fail(rd, WP_EMALFORMED, section_start, "malformed section id %u", id);
    if ((rc = wp__read_u32(rd, &size)))
      return rc;
    if (size > length - rd->pos)
      return wp__reader_fail(rd, WP_EMALFORMED, section_start,
                             "section size %u goes past the end of the input (%zu bytes left)",
                             size, length - rd->pos);
    if (id != 0) {
      if (rank <= last_rank)
        return wp__reader_fail(rd, WP_EMALFORMED, section_start, "%s section out of order",
                               rd->section);
      last_rank = rank;
    }
    rd->end = rd->pos + size;
    if ((rc = read_section(p, id, section_start)))
      return rc;
    if (rd->pos != rd->end)
      return wp__reader_fail(rd, WP_EMALFORMED, rd->pos,
                             "section size mismatch: %zu bytes left after its content",
                             rd->end - rd->pos);
  }
  rd->section = "module";
  if (p->code_count != p->info->func_count)
    return wp__reader_fail(rd, WP_EMALFORMED, length,
                           "function and code section have inconsistent lengths (%u and %u)",
                           p->info->func_count, p->code_count);
  if (p->info->has_data_count && p->info->data_count != p->info->data_segment_count)
    return wp__reader_fail(rd, WP_EMALFORMED, length,
                           "data count and data section have inconsistent lengths (%u and %u)",
                           p->info->data_count, p->info->data_segment_count);
  return 0;
}

int wp__module_read(const uint8_t *wasm, size_t length, wp__module_info *info,
                    wp__read_error *err) {
  wp__read_error scratch;
  parser p;
  int rc;

  if (!err)
    err = &scratch;
  memset(err, 0, sizeof(*err));
  memset(info, 0, sizeof(*info));
  memset(&p, 0, sizeof(p));
  p.rd.base = wasm;
  p.rd.end = length;
  p.rd.err = err;
  p.info = info;
  if (!wasm && length)
    return wp__reader_fail(&p.rd, WP_EINVAL, 0, "no input");
  rc = read_module(&p, length);
  if (rc == WP_ENOMEM)
    wp__reader_fail(&p.rd, rc, p.rd.pos, "out of memory");
  if (rc)
    wp__module_info_free(info);
  return rc;
}

void wp__module_info_free(wp__module_info *info) {
  if (!info)
    return;
  free(info->types);
  free(info->type_storage_);
  free(info->imports);
  free(info->import_name_storage_);
  free(info->func_types);
  free(info->tables);
  free(info->memories);
  free(info->globals);
  free(info->exports);
  free(info->export_name_storage_);
  free(info->data_segments);
  free(info->module_name.bytes);
  memset(info, 0, sizeof(*info));
}
