/* test_reader.c — the WebAssembly binary reader (instance/reader*.c).
 *
 * Fixtures are .wat files under data/reader/, turned into binaries at test
 * time by the tool root's wabt 1.0.36 wat2wasm (the engine's own; run with
 * posix_spawn through the root's loader, no shell) into a fresh
 * temporary directory; malformed inputs are hand-assembled byte arrays so
 * that each names the exact byte the reader must point at. The rewritten
 * data section is checked by wabt itself (wasm-validate, wasm-interp) and by
 * reading it back. The last tests run the 2024 spec suite's binary modules
 * (from wast2json) through the reader: valid ones must read, malformed
 * ones must be refused.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reader.h"

extern char **environ;

static char tmp_dir[64];

static void make_tmp_dir(void) {
  snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/wp-reader-test-XXXXXX");
  cr_assert_not_null(mkdtemp(tmp_dir));
}

static void remove_tmp_dir(void) {
  DIR *dir = opendir(tmp_dir);
  struct dirent *entry;
  char path[512];
  if (!dir)
    return;
  while ((entry = readdir(dir))) {
    if (entry->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", tmp_dir, entry->d_name);
    unlink(path);
  }
  closedir(dir);
  rmdir(tmp_dir);
}

TestSuite(reader, .init = make_tmp_dir, .fini = remove_tmp_dir);

/* Runs the tool root's wabt program argv[0] through the root's loader (the
 * binaries need Debian 13's glibc) with stdout into out_path (or /dev/null)
 * and stderr discarded; returns its exit status, or -1. */
static int run_tool(char *const argv[], const char *out_path) {
  posix_spawn_file_actions_t actions;
  pid_t pid;
  int status, rc;
  char loader[600], libpath[512], program[512];
  char *full[16];
  size_t n = 0;

  snprintf(libpath, sizeof(libpath), "%s/usr/lib/x86_64-linux-gnu", WP_TEST_TOOLROOT);
  snprintf(loader, sizeof(loader), "%s/ld-linux-x86-64.so.2", libpath);
  snprintf(program, sizeof(program), "%s/usr/bin/%s", WP_TEST_TOOLROOT, argv[0]);
  full[n++] = loader;
  full[n++] = "--library-path";
  full[n++] = libpath;
  full[n++] = program;
  for (size_t i = 1; argv[i] && n < 15; i++)
    full[n++] = argv[i];
  full[n] = NULL;

  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path ? out_path : "/dev/null",
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  rc = posix_spawn(&pid, loader, &actions, NULL, full, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return -1;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

static uint8_t *read_whole_file(const char *path, size_t *length) {
  FILE *file = fopen(path, "rb");
  uint8_t *bytes;
  long size;
  cr_assert_not_null(file, "cannot open %s", path);
  fseek(file, 0, SEEK_END);
  size = ftell(file);
  fseek(file, 0, SEEK_SET);
  bytes = malloc(size > 0 ? (size_t)size : 1);
  cr_assert_not_null(bytes);
  cr_assert_eq(fread(bytes, 1, (size_t)size, file), (size_t)size);
  fclose(file);
  *length = (size_t)size;
  return bytes;
}

static void write_whole_file(const char *path, const uint8_t *bytes, size_t length) {
  FILE *file = fopen(path, "wb");
  cr_assert_not_null(file);
  cr_assert_eq(fwrite(bytes, 1, length, file), length);
  fclose(file);
}

/* data/reader/<name>.wat -> bytes, through wat2wasm. */
static uint8_t *wat_fixture(const char *name, size_t *length) {
  char wat[512], wasm[512];
  snprintf(wat, sizeof(wat), "%s/reader/%s.wat", WP_TEST_DATA_DIR, name);
  snprintf(wasm, sizeof(wasm), "%s/%s.wasm", tmp_dir, name);
  char *argv[] = {"wat2wasm", "--enable-exceptions", "--debug-names", wat, "-o", wasm, NULL};
  cr_assert_eq(run_tool(argv, NULL), 0, "wat2wasm %s failed", wat);
  return read_whole_file(wasm, length);
}

static uint8_t *read_fixture(const char *name, size_t *length, wp__module_info *info) {
  wp__read_error err;
  uint8_t *bytes = wat_fixture(name, length);
  int rc = wp__module_read(bytes, *length, info, &err);
  cr_assert_eq(rc, 0, "%s: %s at %s+%llu: %s", name, wp_err_name(rc), err.section,
               (unsigned long long)err.offset, err.message);
  return bytes;
}

static bool name_is(const wp__name *name, const char *bytes, uint32_t length) {
  return name->length == length && memcmp(name->bytes, bytes, length) == 0 &&
         name->bytes[length] == '\0';
}

static void assert_sig(const wp__functype *type, const char *params, uint32_t param_count,
                       const char *results, uint32_t result_count) {
  cr_assert_not_null(type);
  cr_assert_eq(type->param_count, param_count);
  cr_assert_eq(type->result_count, result_count);
  cr_assert_arr_eq(type->params, params, param_count);
  cr_assert_arr_eq(type->results, results, result_count);
}

Test(reader, every_section) {
  wp__module_info m;
  size_t length;
  uint8_t *wasm = read_fixture("all_sections", &length, &m);
  const char i32[] = {WP__I32}, sig_params[] = {WP__I32, WP__I64}, sig_results[] = {WP__F32};

  cr_assert_eq(m.type_count, 3);
  assert_sig(&m.types[0], sig_params, 2, sig_results, 1);
  assert_sig(&m.types[1], "", 0, "", 0);
  assert_sig(&m.types[2], i32, 1, "", 0);

  cr_assert_eq(m.import_count, 4);
  cr_assert(name_is(&m.imports[0].module, "env", 3));
  cr_assert(name_is(&m.imports[0].field, "imported_func", 13));
  cr_assert_eq(m.imports[0].kind, WP__EXTERN_FUNC);
  cr_assert_eq(m.imports[0].type_index, 0);
  cr_assert_eq(m.imports[1].kind, WP__EXTERN_TABLE);
  cr_assert_eq(m.imports[1].table.elem_type, WP__FUNCREF);
  cr_assert_eq(m.imports[1].table.limits.min, 1);
  cr_assert(m.imports[1].table.limits.has_max);
  cr_assert_eq(m.imports[1].table.limits.max, 10);
  cr_assert_eq(m.imports[2].kind, WP__EXTERN_GLOBAL);
  cr_assert_eq(m.imports[2].global.type, WP__I32);
  cr_assert_not(m.imports[2].global.mutable_);
  cr_assert_eq(m.imports[3].kind, WP__EXTERN_TAG);
  cr_assert_eq(m.imports[3].type_index, 2);
  cr_assert_eq(m.imported_funcs, 1);
  cr_assert_eq(m.imported_tables, 1);
  cr_assert_eq(m.imported_memories, 0);
  cr_assert_eq(m.imported_globals, 1);
  cr_assert_eq(m.imported_tags, 1);

  cr_assert_eq(m.func_count, 2);
  cr_assert_eq(m.func_types[0], 1);
  cr_assert_eq(m.func_types[1], 0);
  assert_sig(wp__module_func_type(&m, 0), sig_params, 2, sig_results, 1);
  assert_sig(wp__module_func_type(&m, 1), "", 0, "", 0);
  assert_sig(wp__module_func_type(&m, 2), sig_params, 2, sig_results, 1);
  cr_assert_null(wp__module_func_type(&m, 3));

  cr_assert_eq(m.table_count, 1);
  cr_assert_eq(m.tables[0].limits.min, 2);
  cr_assert_not(m.tables[0].limits.has_max);
  cr_assert_eq(m.memory_count, 1);
  cr_assert_eq(m.memories[0].min, 1);
  cr_assert_eq(m.memories[0].max, 2);
  cr_assert(m.memories[0].has_max);
  cr_assert_not(m.memories[0].shared || m.memories[0].is64);
  cr_assert_eq(m.tag_count, 1);

  cr_assert_eq(m.global_count, 5);
  cr_assert(m.globals[0].type.mutable_);
  cr_assert_eq(m.globals[0].init.kind, WP__CONST_I32);
  cr_assert_eq(m.globals[0].init.bits, 42);
  cr_assert_eq(m.globals[1].init.kind, WP__CONST_I64);
  cr_assert_eq((int64_t)m.globals[1].init.bits, -7);
  cr_assert_eq(m.globals[2].init.kind, WP__CONST_F64);
  cr_assert_eq(m.globals[2].init.bits, 0x4004000000000000ull); /* 2.5 */
  cr_assert_eq(m.globals[3].init.kind, WP__CONST_GLOBAL_GET);
  cr_assert_eq(m.globals[3].init.index, 0);
  cr_assert_eq(m.globals[4].type.type, WP__FUNCREF);
  cr_assert_eq(m.globals[4].init.kind, WP__CONST_REF_FUNC);
  cr_assert_eq(m.globals[4].init.index, 2);

  cr_assert_eq(m.export_count, 6);
  cr_assert(name_is(&m.exports[0].name, "f", 1));
  cr_assert_eq(m.exports[0].kind, WP__EXTERN_FUNC);
  cr_assert_eq(m.exports[0].index, 2);
  cr_assert(name_is(&m.exports[1].name, "\0", 1));
  cr_assert_eq(m.exports[1].index, 0);
  cr_assert(name_is(&m.exports[2].name, "\xef\xbb\xbf", 3));
  cr_assert_eq(m.exports[2].kind, WP__EXTERN_MEMORY);
  cr_assert_eq(m.exports[3].kind, WP__EXTERN_GLOBAL);
  cr_assert_eq(m.exports[3].index, 1); /* after the imported global */
  cr_assert_eq(m.exports[4].kind, WP__EXTERN_TABLE);
  cr_assert_eq(m.exports[4].index, 1);
  cr_assert_eq(m.exports[5].kind, WP__EXTERN_TAG);
  cr_assert_eq(m.exports[5].index, 1);

  cr_assert(m.has_start);
  cr_assert_eq(m.start_func, 1);
  cr_assert_eq(m.elem_segment_count, 3);
  cr_assert(m.has_data_count);
  cr_assert_eq(m.data_count, 3);

  cr_assert_eq(m.data_segment_count, 3);
  const wp__data_segment *d = m.data_segments;
  cr_assert_eq(d[0].mode, WP__SEGMENT_ACTIVE);
  cr_assert_eq(d[0].offset.kind, WP__CONST_I32);
  cr_assert_eq(d[0].offset.bits, 16);
  cr_assert_eq(d[0].length, 5);
  cr_assert_arr_eq(wasm + d[0].file_offset, "hello", 5);
  cr_assert_eq(d[1].mode, WP__SEGMENT_PASSIVE);
  cr_assert_eq(d[1].length, 8);
  cr_assert_arr_eq(wasm + d[1].file_offset, "passive!", 8);
  cr_assert_eq(d[2].mode, WP__SEGMENT_ACTIVE);
  cr_assert_eq(d[2].offset.bits, 1024);
  cr_assert_eq(d[2].length, 3);
  cr_assert_arr_eq(wasm + d[2].file_offset, "\0\1\2", 3);
  cr_assert_eq(wasm[m.data_section_offset], 11);              /* the data section's id */
  cr_assert_eq(d[0].entry_offset, m.data_section_offset + 3); /* id, size, count */
  cr_assert_eq(d[1].entry_offset, d[0].entry_offset + d[0].entry_length);
  cr_assert_eq(d[2].entry_offset + d[2].entry_length,
               m.data_section_offset + m.data_section_length);

  cr_assert(name_is(&m.module_name, "all_sections", 12));
  cr_assert_not(m.uses_simd);
  wp__module_info_free(&m);
  cr_assert_null(m.types);
  free(wasm);
}

/* Section boundaries of a well-formed module, from its headers. */
typedef struct section_span {
  size_t start, end;
  uint8_t id;
} section_span;

static size_t list_sections(const uint8_t *wasm, size_t length, section_span *spans, size_t cap) {
  size_t pos = 8, n = 0;
  while (pos < length && n < cap) {
    size_t start = pos;
    uint8_t id = wasm[pos++];
    uint32_t size = 0;
    for (unsigned shift = 0;; shift += 7) {
      uint8_t byte = wasm[pos++];
      size |= (uint32_t)(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        break;
    }
    spans[n++] = (section_span){start, pos + size, id};
    pos += size;
  }
  return n;
}

static const char *expected_section_name(uint8_t id) {
  static const char *const names[] = {"custom", "type",   "import",    "function", "table",
                                      "memory", "global", "export",    "start",    "elem",
                                      "code",   "data",   "datacount", "tag"};
  return names[id];
}

/* Cut the module at every byte: inside a section it is malformed, and the
 * error names that section and points no further than the cut. */
Test(reader, truncated_in_every_section) {
  size_t length;
  uint8_t *wasm = wat_fixture("all_sections", &length);
  section_span spans[32];
  size_t count = list_sections(wasm, length, spans, 32);
  bool seen[14] = {false};

  cr_assert_eq(count, 14, "all_sections should have 14 sections, has %zu", count);
  for (size_t cut = 0; cut < length; cut++) {
    wp__module_info info;
    wp__read_error err;
    uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
    memcpy(copy, wasm, cut);
    int rc = wp__module_read(copy, cut, &info, &err);
    free(copy);
    const section_span *in = NULL;
    for (size_t s = 0; s < count; s++)
      if (cut > spans[s].start && cut < spans[s].end)
        in = &spans[s];
    if (cut >= 8 && !in) { /* at a boundary: complete, or counts that do not match */
      cr_assert(rc == 0 || rc == WP_EMALFORMED, "cut %zu: %s", cut, wp_err_name(rc));
      if (rc == 0)
        wp__module_info_free(&info);
      continue;
    }
    cr_assert_eq(rc, WP_EMALFORMED, "cut at %zu read as %s", cut, wp_err_name(rc));
    cr_assert_leq(err.offset, cut, "cut %zu, error at %llu", cut, (unsigned long long)err.offset);
    cr_assert_eq(info.types, NULL);
    if (in) {
      cr_assert_str_eq(err.section, expected_section_name(in->id), "cut %zu: %s: %s", cut,
                       err.section, err.message);
      seen[in->id] = true;
    }
  }
  for (int id = 0; id < 14; id++)
    cr_assert(seen[id], "no cut inside section %d", id);
  free(wasm);
}

typedef struct malformed_case {
  const char *what;
  const char *bytes; /* after the 8-byte header */
  size_t length;
  int code;
  const char *section;
  uint64_t offset; /* in the whole module */
} malformed_case;

#define CASE(what, bytes, code, section, offset)                                                   \
  { what, bytes, sizeof(bytes) - 1, code, section, offset }

static const malformed_case malformed_cases[] = {
    CASE("type count, overlong LEB", "\x01\x07\x81\x80\x80\x80\x80\x00\x00", WP_EMALFORMED, "type",
         10),
    CASE("type count, too large for u32", "\x01\x06\x81\x80\x80\x80\x10\x00", WP_EMALFORMED, "type",
         10),
    CASE("section size, overlong LEB", "\x01\x80\x80\x80\x80\x80\x00", WP_EMALFORMED, "type", 9),
    CASE("type truncated inside its declared size", "\x01\x04\x01\x60\x01\x7f", WP_EMALFORMED,
         "type", 14),
    CASE("bad type form", "\x01\x04\x01\x61\x00\x00", WP_EMALFORMED, "type", 11),
    CASE("bad value type", "\x01\x05\x01\x60\x01\x7a\x00", WP_EMALFORMED, "type", 13),
    CASE("section larger than the input", "\x01\x09\x01\x60\x00\x00", WP_EMALFORMED, "type", 8),
    CASE("content shorter than the section size", "\x01\x05\x01\x60\x00\x00\x00", WP_EMALFORMED,
         "type", 14),
    CASE("unknown section id", "\x0e\x00", WP_EMALFORMED, "unknown", 8),
    CASE("function before type", "\x03\x01\x00\x01\x01\x00", WP_EMALFORMED, "type", 11),
    CASE("duplicate type section", "\x01\x01\x00\x01\x01\x00", WP_EMALFORMED, "type", 11),
    CASE("data count before element", "\x0c\x01\x00\x09\x01\x00", WP_EMALFORMED, "elem", 11),
    CASE("import module name not UTF-8",
         "\x01\x04\x01\x60\x00\x00\x02\x07\x01\x01\xff\x01\x66\x00\x00", WP_EMALFORMED, "import",
         18),
    CASE("export name is a lone continuation byte",
         "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x05\x01\x01\x80\x00\x00"
         "\x0a\x04\x01\x02\x00\x0b",
         WP_EMALFORMED, "export", 22),
    CASE("export name is an overlong NUL",
         "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x06\x01\x02\xc0\x80\x00\x00"
         "\x0a\x04\x01\x02\x00\x0b",
         WP_EMALFORMED, "export", 22),
    CASE("export name is a surrogate", "\x07\x06\x01\x03\xed\xa0\x80\x00", WP_EMALFORMED, "export",
         12),
    CASE("custom section name not UTF-8", "\x00\x03\x02\xc3\x28", WP_EMALFORMED, "custom", 11),
    CASE("custom section name past its section", "\x00\x02\x05\x61", WP_EMALFORMED, "custom", 10),
    CASE("function without code", "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00", WP_EMALFORMED,
         "module", 18),
    CASE("two bodies for one function",
         "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x07\x02\x02\x00\x0b\x02\x00\x0b",
         WP_EMALFORMED, "code", 20),
    CASE("data count does not match", "\x0c\x01\x02\x0b\x01\x00", WP_EMALFORMED, "data", 13),
    CASE("data count without data", "\x0c\x01\x01", WP_EMALFORMED, "module", 11),
    CASE("memory.init without data count",
         "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x03\x01\x00\x01"
         "\x0a\x0e\x01\x0c\x00\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x00\x0b"
         "\x0b\x04\x01\x01\x01\x61",
         WP_EMALFORMED, "code", 34),
    CASE("illegal opcode", "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\xff\x0b",
         WP_EMALFORMED, "code", 23),
    CASE("body without end", "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\x01\x01",
         WP_EMALFORMED, "code", 25),
    CASE("i32.const with an overlong s32",
         "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0c\x01\x0a\x00\x41\xff\xff\xff\xff\xff"
         "\x7f\x1a\x0b",
         WP_EMALFORMED, "code", 24),
    CASE("i32.const, s32 with bad sign bits",
         "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0a\x01\x08\x00\x41\xff\xff\xff\xff\x4f"
         "\x1a\x0b",
         WP_EMALFORMED, "code", 24),
    CASE("too many locals",
         "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x10\x01\x0e\x02\xff\xff\xff\xff\x0f\x7f"
         "\xff\xff\xff\xff\x0f\x7e\x0b",
         WP_EMALFORMED, "code", 21),
    CASE("memory flags", "\x05\x03\x01\x08\x00", WP_EMALFORMED, "memory", 11),
    CASE("table limits min above max", "\x04\x05\x01\x70\x01\x02\x01", WP_EINVALID_MODULE, "table",
         12),
    CASE("memory above 4 GiB", "\x05\x05\x01\x00\x81\x80\x04", WP_EINVALID_MODULE, "memory", 11),
    CASE("export of an unknown function", "\x07\x05\x01\x01\x66\x00\x05", WP_EINVALID_MODULE,
         "export", 14),
    CASE("duplicate export name",
         "\x05\x03\x01\x00\x01\x07\x09\x02\x01\x6d\x02\x00\x01\x6d\x02\x00", WP_EINVALID_MODULE,
         "export", 20),
    CASE("function of an unknown type", "\x03\x02\x01\x00", WP_EINVALID_MODULE, "function", 11),
    CASE("active data without memory", "\x0b\x07\x01\x00\x41\x00\x0b\x01\x61", WP_EINVALID_MODULE,
         "data", 11),
    CASE("data segment past its section",
         "\x05\x03\x01\x00\x01\x0b\x07\x01\x00\x41\x00\x0b\x09\x61", WP_EMALFORMED, "data", 20),
    /* wabt 1.0.32 validates these, and then its C fails to compile. */
    CASE("data offset is empty", "\x05\x03\x01\x00\x01\x0b\x05\x01\x00\x0b\x01\x61",
         WP_EINVALID_MODULE, "data", 17),
    CASE("data offset is an f32",
         "\x05\x03\x01\x00\x01\x0b\x0a\x01\x00\x43\x00\x00\x00\x00\x0b\x01\x61", WP_EINVALID_MODULE,
         "data", 17),
    CASE("element offset is empty", "\x04\x04\x01\x70\x00\x01\x09\x04\x01\x00\x0b\x00",
         WP_EINVALID_MODULE, "elem", 18),
    CASE("bad import kind", "\x02\x05\x01\x00\x00\x05\x00", WP_EMALFORMED, "import", 13),
    CASE("bad mutability", "\x06\x06\x01\x7f\x02\x41\x00\x0b", WP_EMALFORMED, "global", 12),
    CASE("bad element segment flags", "\x09\x04\x01\x08\x00\x00", WP_EMALFORMED, "elem", 11),
    CASE("start function with parameters",
         "\x01\x05\x01\x60\x01\x7f\x00\x03\x02\x01\x00\x08\x01\x00\x0a\x04\x01\x02\x00\x0b",
         WP_EINVALID_MODULE, "start", 21),
};

/* memory.size's immediate is a memory index with multi-memory: the reader
 * takes it and says so; the module is malformed only where the feature is
 * off (module.c; core's "zero byte expected"). */
Test(reader, memory_index_immediates_are_reported) {
  static const uint8_t body[] = "\0asm\1\0\0\0"
                                "\x01\x05\x01\x60\x00\x01\x7f\x03\x02\x01\x00\x05\x03\x01\x00\x01"
                                "\x0a\x06\x01\x04\x00\x3f\x01\x0b";
  wp__module_info info;
  wp__read_error err;
  cr_assert_eq(wp__module_read(body, sizeof(body) - 1, &info, &err), 0, "%s", err.message);
  cr_expect(info.uses_memory_index);
  wp__module_info_free(&info);
}

Test(reader, malformed_and_invalid) {
  for (size_t i = 0; i < sizeof(malformed_cases) / sizeof(malformed_cases[0]); i++) {
    const malformed_case *c = &malformed_cases[i];
    size_t length = 8 + c->length;
    uint8_t *wasm = malloc(length); /* exact size: ASan sees any overread */
    wp__module_info info;
    wp__read_error err;
    memcpy(wasm, "\0asm\1\0\0\0", 8);
    memcpy(wasm + 8, c->bytes, c->length);
    int rc = wp__module_read(wasm, length, &info, &err);
    free(wasm);
    cr_expect_eq(rc, c->code, "%s: got %s (%s)", c->what, wp_err_name(rc), err.message);
    cr_expect_str_eq(err.section, c->section, "%s: section %s (%s)", c->what, err.section,
                     err.message);
    cr_expect_eq(err.offset, c->offset, "%s: offset %llu, want %llu (%s)", c->what,
                 (unsigned long long)err.offset, (unsigned long long)c->offset, err.message);
    cr_expect_neq(err.message[0], '\0', "%s: no message", c->what);
    if (rc == 0)
      wp__module_info_free(&info);
  }
}

Test(reader, header) {
  static const struct {
    const char *bytes;
    size_t length;
    uint64_t offset;
  } cases[] = {
      {"", 0, 0},
      {"\0as", 3, 0},
      {"\0asn\1\0\0\0", 8, 0},
      {"\0asm\2\0\0\0", 8, 4},
      {"\0asm\1\0\0", 7, 4},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wp__module_info info;
    wp__read_error err;
    uint8_t *wasm = malloc(cases[i].length + 1);
    memcpy(wasm, cases[i].bytes, cases[i].length);
    int rc = wp__module_read(wasm, cases[i].length, &info, &err);
    free(wasm);
    cr_expect_eq(rc, WP_EMALFORMED, "case %zu: %s", i, wp_err_name(rc));
    cr_expect_eq(err.offset, cases[i].offset, "case %zu", i);
    cr_expect_str_eq(err.section, "header");
  }
  /* The smallest module: just the header. */
  wp__module_info info;
  cr_assert_eq(wp__module_read((const uint8_t *)"\0asm\1\0\0\0", 8, &info, NULL), 0);
  cr_assert_eq(info.type_count + info.func_count + info.data_segment_count, 0);
  wp__module_info_free(&info);
}

Test(reader, simd_in_a_type) {
  wp__module_info m;
  size_t length;
  uint8_t *wasm = read_fixture("simd_type", &length, &m);
  cr_assert(m.uses_simd);
  cr_assert_eq(m.func_count, 0);
  wp__module_info_free(&m);
  free(wasm);
}

Test(reader, simd_instruction) {
  wp__module_info m;
  size_t length;
  uint8_t *wasm = read_fixture("simd_instr", &length, &m);
  for (uint32_t i = 0; i < m.type_count; i++) /* the fixture has v128 in no type */
    for (uint32_t k = 0; k < m.types[i].result_count; k++)
      cr_assert_neq(m.types[i].results[k], WP__V128);
  cr_assert(m.uses_simd);
  wp__module_info_free(&m);
  free(wasm);
}

Test(reader, no_simd_for_0xfd_inside_immediates) {
  wp__module_info m;
  size_t length;
  uint8_t *wasm = read_fixture("fd_immediates", &length, &m);
  size_t fd_bytes = 0;
  for (size_t i = 0; i < length; i++)
    fd_bytes += wasm[i] == 0xfd;
  cr_assert_geq(fd_bytes, 4, "the fixture lost its 0xFD immediates");
  cr_assert_not(m.uses_simd);
  cr_assert_eq(m.globals[0].init.bits, 253);
  wp__module_info_free(&m);
  free(wasm);
}

static bool provides_wasi(const wp__import *import, void *ctx) {
  (*(int *)ctx)++;
  return import->module.length == 22 &&
         memcmp(import->module.bytes, "wasi_snapshot_preview1", 22) == 0;
}

Test(reader, missing_imports) {
  wp__module_info m;
  size_t length;
  uint8_t *wasm = read_fixture("imports", &length, &m);
  char text[256];
  int asked = 0;

  cr_assert_eq(m.import_count, 5);
  cr_assert(name_is(&m.imports[3].module, "\0odd", 4));
  cr_assert(name_is(&m.imports[3].field, "tab\t\x7f", 5));
  cr_assert_eq(wp__module_missing_imports(&m, provides_wasi, &asked, text, sizeof(text)), 3);
  cr_assert_eq(asked, 5);
  cr_assert_str_eq(text, "env.missing_func, \\00odd.tab\\09\\7f, env.memory");

  /* Counting only, and a buffer too small: cut short, still terminated. */
  cr_assert_eq(wp__module_missing_imports(&m, provides_wasi, &asked, NULL, 0), 3);
  memset(text, 'x', sizeof(text));
  cr_assert_eq(wp__module_missing_imports(&m, provides_wasi, &asked, text, 12), 3);
  cr_assert_str_eq(text, "env.miss...");
  wp__module_info_free(&m);
  free(wasm);
}

/* Strips `name`, checks the result with wasm-validate and by reading it
 * back, and returns the stripped bytes (written to <tmp>/<name>.stripped.wasm). */
static uint8_t *strip_fixture(const char *name, const wp__module_info *m, const uint8_t *wasm,
                              size_t length, size_t *out_length, wp__module_info *back) {
  uint8_t *out;
  char path[512];
  wp__read_error err;

  cr_assert_eq(wp__module_strip_active_data(wasm, length, m, &out, out_length), 0);
  snprintf(path, sizeof(path), "%s/%s.stripped.wasm", tmp_dir, name);
  write_whole_file(path, out, *out_length);
  char *argv[] = {"wasm-validate", path, NULL};
  cr_assert_eq(run_tool(argv, NULL), 0, "wasm-validate refused the rewrite of %s", name);

  cr_assert_eq(wp__module_read(out, *out_length, back, &err), 0, "%s", err.message);
  cr_assert_eq(back->data_segment_count, m->data_segment_count);
  cr_assert_eq(back->has_data_count, m->has_data_count);
  for (uint32_t i = 0; i < m->data_segment_count; i++) {
    const wp__data_segment *was = &m->data_segments[i], *now = &back->data_segments[i];
    cr_assert_eq(now->mode, WP__SEGMENT_PASSIVE, "segment %u", i);
    if (was->mode == WP__SEGMENT_ACTIVE) {
      cr_assert_eq(now->length, 0, "segment %u", i);
    } else {
      cr_assert_eq(now->length, was->length);
      cr_assert_arr_eq(out + now->file_offset, wasm + was->file_offset, was->length);
    }
  }
  /* Byte-identical outside the data section. */
  cr_assert_arr_eq(out, wasm, m->data_section_offset);
  size_t tail = length - (m->data_section_offset + m->data_section_length);
  cr_assert_arr_eq(out + *out_length - tail, wasm + length - tail, tail);
  return out;
}

static char *interp_output(const char *wasm_path, const char *name) {
  char out_path[512];
  size_t length;
  snprintf(out_path, sizeof(out_path), "%s/%s.out", tmp_dir, name);
  char *argv[] = {"wasm-interp", (char *)wasm_path, "--run-all-exports", NULL};
  cr_assert_eq(run_tool(argv, out_path), 0, "wasm-interp %s failed", wasm_path);
  uint8_t *text = read_whole_file(out_path, &length);
  text = realloc(text, length + 1);
  text[length] = '\0';
  return (char *)text;
}

Test(reader, strip_active_data) {
  wp__module_info m, back;
  size_t length, out_length;
  char path[512];
  uint8_t *wasm = read_fixture("data", &length, &m);

  cr_assert(m.has_data_count);
  cr_assert(wp__module_data_is_imageable(&m));
  uint8_t *out = strip_fixture("data", &m, wasm, length, &out_length, &back);
  cr_assert_lt(out_length, length);

  /* Run both: the active bytes are gone from the code, the passive ones and
   * the segment indices (memory.init 1, data.drop 2) are unchanged. */
  snprintf(path, sizeof(path), "%s/data.wasm", tmp_dir);
  char *before = interp_output(path, "before");
  snprintf(path, sizeof(path), "%s/data.stripped.wasm", tmp_dir);
  char *after = interp_output(path, "after");
  cr_assert(strstr(before, "active_byte() => i32:104"), "%s", before);
  cr_assert(strstr(after, "active_byte() => i32:0"), "%s", after);
  cr_assert(strstr(before, "passive_byte() => i32:112"), "%s", before);
  cr_assert(strstr(after, "passive_byte() => i32:112"), "%s", after);
  cr_assert(strstr(after, "init_active_empty() => i32:1"), "%s", after);
  cr_assert(strstr(after, "drop_active() => i32:2"), "%s", after);
  free(before);
  free(after);
  wp__module_info_free(&back);
  wp__module_info_free(&m);
  free(out);
  free(wasm);
}

Test(reader, strip_adds_no_data_count) {
  wp__module_info m, back;
  size_t length, out_length;
  uint8_t *wasm = read_fixture("data_nodc", &length, &m);

  cr_assert_not(m.has_data_count);
  uint8_t *out = strip_fixture("data_nodc", &m, wasm, length, &out_length, &back);
  cr_assert_not(back.has_data_count);
  cr_assert_eq(back.data_section_length, 1 + 1 + 1 + 2 * 2);
  wp__module_info_free(&back);
  wp__module_info_free(&m);
  free(out);
  free(wasm);
}

Test(reader, strip_without_data_is_a_copy) {
  wp__module_info m;
  size_t length, out_length;
  uint8_t *out, *wasm = read_fixture("fd_immediates", &length, &m);
  cr_assert_eq(wp__module_strip_active_data(wasm, length, &m, &out, &out_length), 0);
  cr_assert_eq(out_length, length);
  cr_assert_arr_eq(out, wasm, length);
  free(out);
  wp__module_info_free(&m);
  free(wasm);
}

Test(reader, imageable) {
  wp__module_info m;
  size_t length;
  uint8_t *wasm = read_fixture("data_nodc", &length, &m);

  cr_assert(wp__module_data_is_imageable(&m)); /* 70000 + 6 fits in 2 pages */
  m.memories[0].min = 1;                       /* ... not in 1 */
  cr_assert_not(wp__module_data_is_imageable(&m));
  m.memories[0].min = 2;
  m.data_segments[0].offset.kind = WP__CONST_GLOBAL_GET;
  cr_assert_not(wp__module_data_is_imageable(&m));
  m.data_segments[0].offset.kind = WP__CONST_I32;
  m.data_segments[0].mode = WP__SEGMENT_PASSIVE; /* passive ones do not count */
  m.data_segments[1].offset.kind = WP__CONST_GLOBAL_GET;
  m.data_segments[1].mode = WP__SEGMENT_PASSIVE;
  cr_assert(wp__module_data_is_imageable(&m));
  wp__module_info_free(&m);
  free(wasm);

  wasm = read_fixture("imports", &length, &m); /* imported memory, no data */
  cr_assert(wp__module_data_is_imageable(&m));
  wp__module_info_free(&m);
  free(wasm);
}

/* ---- The spec suite's binaries ---- */

static const char *const spec_files[] = {
    "custom",
    "data",
    "utf8-custom-section-id",
    "utf8-import-field",
    "utf8-import-module",
    "utf8-invalid-encoding",
    "bulk",
    "memory",
    "elem",
    "imports",
    "exports",
    "global",
    "table",
    "select",
    "simd_const",
    "simd_lane",
    "simd_load16_lane",
    "simd_store16_lane",
};

/* wast2json writes one command per line; the fields needed are simple. */
static bool json_field(const char *line, const char *key, char *value, size_t cap) {
  char pattern[64];
  snprintf(pattern, sizeof(pattern), "\"%s\": \"", key);
  const char *start = strstr(line, pattern);
  if (!start)
    return false;
  start += strlen(pattern);
  const char *end = strchr(start, '"');
  if (!end || (size_t)(end - start) >= cap)
    return false;
  memcpy(value, start, (size_t)(end - start));
  value[end - start] = '\0';
  return true;
}

Test(reader, spec_suite_binaries, .timeout = 120) {
  unsigned valid = 0, malformed = 0, failures = 0;
  bool saw_simd = false;

  for (size_t f = 0; f < sizeof(spec_files) / sizeof(spec_files[0]); f++) {
    char wast[512], json[512];
    /* The suite sits in shared/ beside the repository; a missing file is a
     * broken checkout, not a reason to read fewer binaries. */
    snprintf(wast, sizeof(wast), "%s/../../../../shared/spec/testsuite-2024/core/%s.wast",
             WP_TEST_DATA_DIR, spec_files[f]);
    cr_assert_eq(access(wast, R_OK), 0, "%s is missing", wast);
    snprintf(json, sizeof(json), "%s/%s.json", tmp_dir, spec_files[f]);
    char *argv[] = {"wast2json", wast, "-o", json, NULL};
    cr_assert_eq(run_tool(argv, NULL), 0, "wast2json %s failed", wast);

    FILE *commands = fopen(json, "r");
    char line[4096], type[64], file[256], module_type[16], path[512];
    cr_assert_not_null(commands);
    while (fgets(line, sizeof(line), commands)) {
      if (!json_field(line, "type", type, sizeof(type)) ||
          !json_field(line, "filename", file, sizeof(file)) || !strstr(file, ".wasm"))
        continue;
      if (json_field(line, "module_type", module_type, sizeof(module_type)) &&
          strcmp(module_type, "binary") != 0)
        continue;
      bool must_read = strcmp(type, "module") == 0 || strcmp(type, "assert_unlinkable") == 0 ||
                       strcmp(type, "assert_uninstantiable") == 0;
      bool must_fail = strcmp(type, "assert_malformed") == 0;
      if (!must_read && !must_fail)
        continue;
      snprintf(path, sizeof(path), "%s/%s", tmp_dir, file);
      size_t length;
      uint8_t *wasm = read_whole_file(path, &length);
      wp__module_info info;
      wp__read_error err;
      int rc = wp__module_read(wasm, length, &info, &err);
      free(wasm);
      if (must_read && rc != 0) {
        cr_log_error("%s: %s refused: %s at %s+%llu", spec_files[f], file, err.message, err.section,
                     (unsigned long long)err.offset);
        failures++;
      }
      if (must_fail && rc == 0) {
        cr_log_error("%s: malformed %s accepted", spec_files[f], file);
        failures++;
      }
      if (rc == 0) {
        saw_simd |= info.uses_simd;
        wp__module_info_free(&info);
      }
      valid += must_read;
      malformed += must_fail;
    }
    fclose(commands);
  }
  cr_assert_eq(failures, 0, "%u of %u valid and %u malformed spec binaries misread", failures,
               valid, malformed);
  cr_assert_gt(valid, 100);
  cr_assert_gt(malformed, 50);
  cr_assert(saw_simd, "simd_const.wast's modules should use SIMD");
}
