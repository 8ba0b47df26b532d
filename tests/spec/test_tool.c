/* test_tool.c — tool.c: spawning the wabt tools without a shell through the
 * tool root's loader, temp dirs and file reading, against the real
 * wast2json / wat2wasm 1.0.36 of WP_TOOLROOT. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec.h"

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

Test(tool, tempdir_is_created_and_removed_with_its_files) {
  char dir[4096];
  cr_assert_eq(wp_spec_tempdir_create(dir, sizeof dir), 0);
  struct stat st;
  cr_assert_eq(stat(dir, &st), 0);
  cr_assert(S_ISDIR(st.st_mode));
  cr_assert_eq(st.st_mode & 0777, 0700, "mkdtemp makes it private");
  char path[8192];
  snprintf(path, sizeof path, "%s/a.wasm", dir);
  write_file(path, "x");
  snprintf(path, sizeof path, "%s/b.json", dir);
  write_file(path, "y");
  cr_assert_eq(wp_spec_tempdir_remove(dir), 0);
  cr_assert_neq(stat(dir, &st), 0);
}

Test(tool, read_file_returns_the_bytes) {
  char dir[4096], path[8192];
  cr_assert_eq(wp_spec_tempdir_create(dir, sizeof dir), 0);
  snprintf(path, sizeof path, "%s/m.wasm", dir);
  write_file(path, "\x00"
                   "asm");
  uint8_t *bytes;
  size_t length;
  cr_assert_eq(wp_spec_read_file(path, &bytes, &length), 0);
  cr_assert_eq(length, 0); /* fputs stops at the NUL: an empty file */
  free(bytes);
  write_file(path, "abc");
  cr_assert_eq(wp_spec_read_file(path, &bytes, &length), 0);
  cr_assert_eq(length, 3);
  cr_assert_eq(memcmp(bytes, "abc", 3), 0);
  free(bytes);
  snprintf(path, sizeof path, "%s/missing", dir);
  cr_assert_eq(wp_spec_read_file(path, &bytes, &length), WP_EIO);
  wp_spec_tempdir_remove(dir);
}

Test(tool, spawn_reports_exit_status_and_failure_to_start) {
  int status = -1;
  const char *ok[] = {"/bin/true", NULL};
  cr_assert_eq(wp_spec_spawn(ok, NULL, &status), 0);
  cr_assert_eq(status, 0);
  const char *bad[] = {"/bin/false", NULL};
  cr_assert_eq(wp_spec_spawn(bad, NULL, &status), 0);
  cr_assert_eq(status, 1);
  const char *missing[] = {"/nonexistent/tool", NULL};
  cr_assert_eq(wp_spec_spawn(missing, NULL, &status), WP_ESYS);
}

Test(tool, wast2json_writes_commands_and_modules) {
  char dir[4096], wast[8192], json[8192], err[8192];
  cr_assert_eq(wp_spec_tempdir_create(dir, sizeof dir), 0);
  snprintf(wast, sizeof wast, "%s/t.wast", dir);
  snprintf(json, sizeof json, "%s/t.json", dir);
  snprintf(err, sizeof err, "%s/stderr", dir);
  write_file(wast, "(module (func (export \"f\") (result i32) (i32.const 7)))\n"
                   "(assert_return (invoke \"f\") (i32.const 7))\n"
                   "(assert_malformed (module quote \"(func (nop nop\") \"unexpected token\")\n");
  wp_spec_tool wast2json;
  cr_assert_eq(wp_spec_tool_init(&wast2json, WP_TOOLROOT, "wast2json"), 0);
  const char *argv[8];
  wp_spec_tool_argv(&wast2json, argv);
  argv[4] = wast;
  argv[5] = "-o";
  argv[6] = json;
  argv[7] = NULL;
  int status = -1;
  cr_assert_eq(wp_spec_spawn(argv, err, &status), 0);
  cr_assert_eq(status, 0);

  json_error_t jerr;
  json_t *root = json_load_file(json, 0, &jerr);
  cr_assert_not_null(root, "%s", jerr.text);
  json_t *commands = json_object_get(root, "commands");
  cr_assert_eq(json_array_size(commands), 3);
  wp_spec_command cmd;
  char why[256];
  cr_assert_eq(wp_spec_command_parse(json_array_get(commands, 0), &cmd, why, sizeof why), 0);
  cr_assert_eq(cmd.kind, WP_SPEC_MODULE);
  cr_assert_eq(wp_spec_command_parse(json_array_get(commands, 2), &cmd, why, sizeof why), 0);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_MALFORMED);
  cr_assert(cmd.text_module);

  /* The text module really is malformed: wat2wasm rejects it. */
  char wat[8192];
  snprintf(wat, sizeof wat, "%s/%s", dir, cmd.filename);
  wp_spec_tool wat2wasm;
  cr_assert_eq(wp_spec_tool_init(&wat2wasm, WP_TOOLROOT, "wat2wasm"), 0);
  const char *check[7];
  wp_spec_tool_argv(&wat2wasm, check);
  check[4] = "--output=/dev/null";
  check[5] = wat;
  check[6] = NULL;
  cr_assert_eq(wp_spec_spawn(check, NULL, &status), 0);
  cr_assert_eq(status, 1);
  json_decref(root);

  /* A bad .wast makes wast2json fail with a message on stderr. */
  write_file(wast, "(module (func (i32.const)))) junk\n");
  cr_assert_eq(wp_spec_spawn(argv, err, &status), 0);
  cr_assert_neq(status, 0);
  struct stat st;
  cr_assert_eq(stat(err, &st), 0);
  cr_assert_gt(st.st_size, 0);
  cr_assert_eq(wp_spec_tempdir_remove(dir), 0);
}

Test(tool, argv_runs_the_tool_through_the_roots_loader) {
  wp_spec_tool tool;
  cr_assert_eq(wp_spec_tool_init(&tool, "/r", "wast2json"), 0);
  const char *argv[4];
  wp_spec_tool_argv(&tool, argv);
  cr_assert_str_eq(argv[0], "/r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  cr_assert_str_eq(argv[1], "--library-path");
  cr_assert_str_eq(argv[2], "/r/usr/lib/x86_64-linux-gnu");
  cr_assert_str_eq(argv[3], "/r/usr/bin/wast2json");
  char long_root[5000];
  memset(long_root, 'a', sizeof long_root - 1);
  long_root[sizeof long_root - 1] = '\0';
  cr_assert_eq(wp_spec_tool_init(&tool, long_root, "wat2wasm"), WP_EINVAL);
}

/* wast2json 1.0.36 parses SIMD by default and the proposals with their
 * flags: the v128 values and assert_exception the runner understands. */
Test(tool, wast2json_1_0_36_writes_v128_and_assert_exception) {
  char dir[4096], wast[8192], json[8192];
  cr_assert_eq(wp_spec_tempdir_create(dir, sizeof dir), 0);
  snprintf(wast, sizeof wast, "%s/x.wast", dir);
  snprintf(json, sizeof json, "%s/x.json", dir);
  write_file(wast, "(module (tag $e) (func (export \"v\") (param v128) (result v128) "
                   "(local.get 0)) (func (export \"t\") (throw $e)))\n"
                   "(assert_return (invoke \"v\" (v128.const i16x8 1 2 3 4 5 6 7 -1))"
                   " (v128.const f32x4 nan:canonical 0 1 nan:arithmetic))\n"
                   "(assert_exception (invoke \"t\"))\n");
  wp_spec_tool wast2json;
  cr_assert_eq(wp_spec_tool_init(&wast2json, WP_TOOLROOT, "wast2json"), 0);
  const wp_spec_profile *legacy = wp_spec_profile_find("exceptions-legacy");
  cr_assert_not_null(legacy);
  const char *argv[12];
  wp_spec_tool_argv(&wast2json, argv);
  size_t n = 4;
  for (size_t i = 0; legacy->flags[i] != NULL; i++)
    argv[n++] = legacy->flags[i];
  argv[n++] = wast;
  argv[n++] = "-o";
  argv[n++] = json;
  argv[n] = NULL;
  int status = -1;
  cr_assert_eq(wp_spec_spawn(argv, NULL, &status), 0);
  cr_assert_eq(status, 0);

  json_error_t jerr;
  json_t *root = json_load_file(json, 0, &jerr);
  cr_assert_not_null(root, "%s", jerr.text);
  json_t *commands = json_object_get(root, "commands");
  cr_assert_eq(json_array_size(commands), 3);
  wp_spec_command cmd;
  char why[256] = "";
  cr_assert_eq(wp_spec_command_parse(json_array_get(commands, 1), &cmd, why, sizeof why), 0, "%s",
               why);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_RETURN);
  wp_val arg;
  cr_assert_eq(wp_spec_value_parse(json_array_get(cmd.args, 0), &arg, why, sizeof why), 0, "%s",
               why);
  cr_assert_eq(arg.type, WP_V128);
  uint8_t lanes[16] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0xff, 0xff};
  cr_assert_arr_eq(arg.of.v128, lanes, 16);
  wp_spec_result want;
  cr_assert_eq(wp_spec_result_parse(json_array_get(cmd.expected, 0), &want, why, sizeof why), 0,
               "%s", why);
  cr_assert_eq(want.options[0].lane, WP_SPEC_LANE_F32);
  cr_assert_eq(want.options[0].lane_patterns[0], WP_SPEC_NAN_CANONICAL);
  cr_assert_eq(want.options[0].lane_patterns[3], WP_SPEC_NAN_ARITHMETIC);
  cr_assert_eq(wp_spec_command_parse(json_array_get(commands, 2), &cmd, why, sizeof why), 0, "%s",
               why);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_EXCEPTION);
  json_decref(root);

  /* Without the profile's flags the tag does not parse. */
  argv[4] = wast;
  argv[5] = "-o";
  argv[6] = json;
  argv[7] = NULL;
  cr_assert_eq(wp_spec_spawn(argv, NULL, &status), 0);
  cr_assert_neq(status, 0);
  cr_assert_eq(wp_spec_tempdir_remove(dir), 0);
}
