/* test_glue.c — name mangling matches wasm2c byte for byte (checked against
 * the header wasm2c itself writes), and the generated glue compiles. */
#include <sys/wait.h>

#include "data/runtime/helpers.h"
#include "runtime_internal.h"

TestSuite(glue, .fini = wpt_cleanup);

/* wasm2c 1.0.36's rules (src/c-writer.cc Mangle): "0x" + an upper hex
 * digit, leading/trailing/double underscores and non-alphanumerics are
 * escaped as 0xAB; module names double their other underscores. */
Test(glue, mangle_rules) {
  static const struct {
    const char *in;
    size_t len;
    bool module;
    const char *out;
  } cases[] = {
      {"add", 3, false, "add"},
      {"\0~!@#", 5, false, "0x000x7E0x210x400x23"},
      {"h\xc3\xa9llo w", 8, false, "h0xC30xA9llo0x20w"},
      {"_a__b_", 6, false, "0x5Fa_0x5Fb0x5F"},
      {"0xAB", 4, false, "0x0x41B"},
      {"0xab", 4, false, "0xab"},
      {"wasi_snapshot_preview1", 22, true, "wasi__snapshot__preview1"},
      {"a__b", 4, true, "a__0x5Fb"},
      {"", 0, false, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *m = wp__mangle(cases[i].in, cases[i].len, cases[i].module);
    cr_expect_str_eq(m, cases[i].out, "case %zu", i);
    free(m);
  }
}

/* Runs wasm2c on a module with odd names and checks every export symbol we
 * would call is declared in its header. */
Test(glue, mangled_names_are_what_wasm2c_declares) {
  static const char *names[] = {"plain", "with space", "_x__", "\\00nul", "\\e2\\82\\ac", "0xAB"};
  static const char *raw[] = {"plain", "with space", "_x__", "\0nul", "\xe2\x82\xac", "0xAB"};
  static const size_t raw_len[] = {5, 10, 4, 4, 3, 4};
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
  const char *args[] = {wasm_path, "-n", "m", "-o", c_path, NULL};
  int status = wpt_toolroot_run("wasm2c", args);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  f = fopen(h_path, "r");
  cr_assert_not_null(f);
  static char header[65536];
  size_t got = fread(header, 1, sizeof(header) - 1, f);
  header[got] = '\0';
  fclose(f);
  for (size_t i = 0; i < 6; i++) {
    char *m = wp__mangle(raw[i], raw_len[i], false);
    char sym[256];
    snprintf(sym, sizeof(sym), " w2c_m_%s(", m);
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
