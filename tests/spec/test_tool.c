/* test_tool.c — tool.c: spawning the wabt tools without a shell, temp dirs
 * and file reading, against the real wast2json / wat2wasm. */
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
  const char *argv[] = {WP_SPEC_WAST2JSON, wast, "-o", json, NULL};
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
  const char *check[] = {WP_SPEC_WAT2WASM, "--output=/dev/null", wat, NULL};
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
