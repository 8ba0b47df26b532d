/* test_glue.c — name mangling matches wasm2c byte for byte (checked against
 * the header wasm2c itself writes), and the generated glue compiles. */
#include <sys/wait.h>

#include "data/runtime/helpers.h"
#include "runtime_internal.h"

TestSuite(glue, .fini = wpt_cleanup);

Test(glue, mangle_rules) {
  char *m = wp__mangle("add", 3);
  cr_assert_str_eq(m, "Z_add");
  free(m);
  m = wp__mangle("\0~!@#", 5);
  cr_assert_str_eq(m, "Z_Z00Z7EZ21Z40Z23");
  free(m);
  m = wp__mangle("h\xc3\xa9llo w", 8);
  cr_assert_str_eq(m, "Z_hZC3ZA9lloZ20w");
  free(m);
  m = wp__mangle("Z_a9-", 5);
  cr_assert_str_eq(m, "Z_Z5A_a9Z2D");
  free(m);
  m = wp__mangle("", 0);
  cr_assert_str_eq(m, "Z_");
  free(m);
}

/* Runs wasm2c on a module with odd names and checks every export symbol we
 * would call is declared in its header. */
Test(glue, mangled_names_are_what_wasm2c_declares) {
  static const char *names[] = {"plain", "with space", "Zed", "\\00nul", "\\e2\\82\\ac", "a.b-c"};
  static const char *raw[] = {"plain", "with space", "Zed", "\0nul", "\xe2\x82\xac", "a.b-c"};
  static const size_t raw_len[] = {5, 10, 3, 4, 3, 5};
  char wat[1024];
  size_t n = (size_t)snprintf(wat, sizeof(wat), "(module");
  for (size_t i = 0; i < 6; i++)
    n += (size_t)snprintf(wat + n, sizeof(wat) - n, " (func (export \"%s\"))", names[i]);
  snprintf(wat + n, sizeof(wat) - n, ")");
  size_t length;
  uint8_t *wasm = wpt_wat(wat, &length);
  char wasm_path[300], c_path[300], h_path[300];
  snprintf(wasm_path, sizeof(wasm_path), "%s/names.wasm", wpt_tempdir());
  snprintf(c_path, sizeof(c_path), "%s/names.c", wpt_tempdir());
  snprintf(h_path, sizeof(h_path), "%s/names.h", wpt_tempdir());
  FILE *f = fopen(wasm_path, "wb");
  fwrite(wasm, 1, length, f);
  fclose(f);
  free(wasm);
  char *argv[] = {"wasm2c", wasm_path, "-n", "m", "-o", c_path, NULL};
  pid_t pid;
  cr_assert_eq(posix_spawnp(&pid, "wasm2c", NULL, NULL, argv, environ), 0);
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  f = fopen(h_path, "r");
  cr_assert_not_null(f);
  static char header[65536];
  size_t got = fread(header, 1, sizeof(header) - 1, f);
  header[got] = '\0';
  fclose(f);
  for (size_t i = 0; i < 6; i++) {
    char *m = wp__mangle(raw[i], raw_len[i]);
    char sym[256];
    snprintf(sym, sizeof(sym), " Z_m%s(", m);
    /* memmem: the header quotes raw names, NUL bytes included. */
    cr_assert_not_null(memmem(header, got, sym, strlen(sym)), "%s not declared by wasm2c", sym);
    free(m);
  }
}

Test(glue, odd_names_load_and_call) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (func (export \"\\00\") (result i32) i32.const 1)\n"
                                "  (func (export \"\\00\\00\") (result i32) i32.const 2)\n"
                                "  (func (export \"\\e2\\82\\ac\") (result i32) i32.const 3))");
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_val res[1];
  wp_error err = {0};
  cr_assert_eq(wp_instance_call(inst, "\0", 1, NULL, 0, res, 1, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(res[0].of.i32, 1);
  cr_assert_eq(wp_instance_call(inst, "\0\0", 2, NULL, 0, res, 1, NULL, &err), 0);
  cr_assert_eq(res[0].of.i32, 2);
  cr_assert_eq(wp_instance_call(inst, "\xe2\x82\xac", 3, NULL, 0, res, 1, NULL, &err), 0);
  cr_assert_eq(res[0].of.i32, 3);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}
