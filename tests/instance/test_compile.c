/* test_compile.c — the compile driver: refusals before any compiler runs
 * (unsupported features, unknown imports), wasm2c validation errors, and the limits on the
 * compiler child processes. */
#include "data/runtime/helpers.h"
#include "runtime_internal.h"

TestSuite(compile, .fini = wpt_cleanup);

static int load_wat(wp_runtime *rt, const char *wat, const wp_module_options *opts, wp_module **mod,
                    wp_error *err) {
  size_t length;
  uint8_t *wasm = wpt_wat(wat, &length);
  int rc = wp_module_load(rt, wasm, length, opts, mod, err);
  free(wasm);
  return rc;
}

/* SIMD runs (through SIMDe); tcc cannot compile SIMDe, so a SIMD module
 * asked for at tier 0 is built at tier 1 and says so. */
Test(compile, simd_builds_at_tier_1_and_runs) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (func (export \"f\") (param i32) (result i32)\n"
                                "  (i32x4.extract_lane 2 (i32x4.add (i32x4.splat (local.get 0))\n"
                                "    (v128.const i32x4 1 2 3 4)))))");
  cr_assert_eq(wp_module_tier(mod), WP_TIER_OPTIMIZED);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_val arg = {.type = WP_I32, .of.i32 = 40}, res;
  wp_error err = {0};
  cr_assert_eq(wp_instance_call(inst, "f", 1, &arg, 1, &res, 1, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(res.of.i32, 43);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

/* Shared memories run (tier 1: tcc has no C11 atomics), with atomics and a
 * grow that takes the memory's lock. */
Test(compile, shared_memory_grows_and_runs_atomics) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (memory (export \"m\") 1 3 shared)\n"
                                "  (func (export \"f\") (param i32) (result i32)\n"
                                "    (drop (i32.atomic.rmw.add (i32.const 8) (local.get 0)))\n"
                                "    (drop (memory.grow (i32.const 1)))\n"
                                "    (i32.add (memory.size) (i32.atomic.load (i32.const 8)))))");
  cr_assert_eq(wp_module_tier(mod), WP_TIER_OPTIMIZED);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_val arg = {.type = WP_I32, .of.i32 = 40}, res;
  wp_error err = {0};
  cr_assert_eq(wp_instance_call(inst, "f", 1, &arg, 1, &res, 1, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(res.of.i32, 42, "2 pages + 40");
  cr_assert_eq(wp_instance_call(inst, "f", 1, &arg, 1, &res, 1, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(res.of.i32, 83, "3 pages + 80, the second grow past the maximum fails");
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

/* What wasm2c 1.0.36 cannot translate is refused naming the feature, before
 * any tool runs (wasm2c itself aborts on memory.atomic.wait). */
Test(compile, unsupported_features_named) {
  static const struct {
    const char *wat, *feature;
  } cases[] = {
      {"(module (func (export \"f\") (param v128 v128 v128) (result v128)\n"
       "  (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))))",
       "relaxed-simd"},
      {"(module (memory 1 1 shared) (func (export \"w\") (param i32 i32 i64) (result i32)\n"
       "  (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2))))",
       "memory.atomic.wait"},
  };
  wp_runtime *rt = wpt_runtime();
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wp_module *mod = NULL;
    wp_error err = {0};
    int rc = load_wat(rt, cases[i].wat, NULL, &mod, &err);
    cr_expect_eq(rc, WP_EUNSUPPORTED, "case %zu: %s", i, wp_err_name(rc));
    cr_expect_not_null(strstr(err.message, cases[i].feature), "case %zu: %s", i, err.message);
    cr_expect_null(mod);
  }
  wp_runtime_destroy(rt);
}

Test(compile, unknown_imports_listed) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = NULL;
  wp_error err = {0};
  int rc = load_wat(rt,
                    "(module\n"
                    "  (import \"env\" \"missing_fn\" (func))\n"
                    "  (import \"wasi_snapshot_preview1\" \"fd_write\" (func (param i32)))\n"
                    "  (import \"wasi_snapshot_preview1\" \"no_such_call\" (func))\n"
                    "  (import \"spectest\" \"print_i32\" (func (param i32))))\n",
                    NULL, &mod, &err);
  cr_assert_eq(rc, WP_EUNLINKABLE, "%s", wp_err_name(rc));
  cr_assert_not_null(strstr(err.message, "env.missing_fn"), "%s", err.message);
  /* Wrong type for a known WASI name is refused too, and said as such. */
  cr_assert_not_null(strstr(err.message, "wasi_snapshot_preview1.fd_write"), "%s", err.message);
  cr_assert_not_null(strstr(err.message, "wasi_snapshot_preview1.fd_write: WASI defines it as (i32 "
                                         "i32 i32 i32) -> i32, the module imports (i32) -> ()"),
                     "%s", err.message);
  cr_assert_not_null(strstr(err.message, "wasi_snapshot_preview1.no_such_call"), "%s", err.message);
  /* spectest is not offered unless asked for. */
  cr_assert_not_null(strstr(err.message, "spectest.print_i32"), "%s", err.message);
  wp_runtime_destroy(rt);
}

Test(compile, invalid_module_reports_wasm2c_message) {
  wp_runtime *rt = wpt_runtime();
  /* Type error in a body: structure is fine, validation is wasm2c's. */
  static const uint8_t wasm[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01,
                                 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01,
                                 0x00, 0x0a, 0x05, 0x01, 0x03, 0x00, 0x01, 0x0b};
  wp_module *mod = NULL;
  wp_error err = {0};
  int rc = wp_module_load(rt, wasm, sizeof(wasm), NULL, &mod, &err);
  cr_assert(rc == WP_EINVALID_MODULE || rc == WP_EMALFORMED, "%s: %s", wp_err_name(rc),
            err.message);
  cr_assert_gt(strlen(err.message), 0);
  wp_runtime_destroy(rt);
}

Test(compile, wall_clock_limit) {
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.compile_wall_ms = 1;
  wp_runtime *rt = wpt_runtime_with(&cfg);
  wp_module *mod = NULL;
  wp_error err = {0};
  int rc =
      load_wat(rt, "(module (func (export \"f\") (result i32) i32.const 1))", NULL, &mod, &err);
  cr_assert_eq(rc, WP_ECOMPILE_LIMIT, "%s: %s", wp_err_name(rc), err.message);
  cr_assert_not_null(strstr(err.message, "wall-clock"), "%s", err.message);
  wp_runtime_destroy(rt);
}

Test(compile, cpu_limit_kills_child) {
  /* A child that burns CPU: `yes` writing to /dev/null. */
  const char *const argv[] = {"yes", NULL};
  wp__spawn_limits limits = {.cpu_seconds = 1, .memory_bytes = 0, .wall_ms = 20000};
  char captured[256];
  wp_error err = {0};
  int rc = wp__spawn(argv, &limits, captured, sizeof(captured), &err);
  cr_assert_eq(rc, WP_ECOMPILE_LIMIT, "%s: %s", wp_err_name(rc), err.message);
  cr_assert_not_null(strstr(err.message, "CPU"), "%s", err.message);
}

Test(compile, failing_child_keeps_stderr) {
  const char *const argv[] = {"cc", "-c", "/nonexistent/file.c", "-o", "/dev/null", NULL};
  wp__spawn_limits limits = {.cpu_seconds = 10, .memory_bytes = 0, .wall_ms = 20000};
  char captured[1024];
  wp_error err = {0};
  int rc = wp__spawn(argv, &limits, captured, sizeof(captured), &err);
  cr_assert_eq(rc, WP_ECOMPILE, "%s", wp_err_name(rc));
  cr_assert_not_null(strstr(err.message, "nonexistent"), "%s", err.message);
}

/* A missing tool root or compiler is a start-up error naming what is
 * missing, never a crash at the first deploy. */
Test(compile, missing_tool_is_a_config_error) {
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.toolroot = "/nonexistent/toolroot";
  wp_runtime *rt = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_runtime_create(&cfg, &rt, &err), WP_ECONFIG);
  cr_assert_not_null(strstr(err.message, "toolroot: /nonexistent/toolroot"), "%s", err.message);
  wpt_config(&cfg);
  cfg.tcc_path = "/nonexistent/tcc";
  cr_assert_eq(wp_runtime_create(&cfg, &rt, &err), WP_ECONFIG);
  cr_assert_not_null(strstr(err.message, "tcc: /nonexistent/tcc not found"), "%s", err.message);
}

Test(compile, memory_limit) {
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.compile_memory_bytes = (uint64_t)8 << 20;
  wp_runtime *rt = wpt_runtime_with(&cfg);
  wp_module *mod = NULL;
  wp_error err = {0};
  int rc =
      load_wat(rt, "(module (func (export \"f\") (result i32) i32.const 1))", NULL, &mod, &err);
  /* Depending on where the 8 MiB run out (wasm2c, cc, or cc1 whose stack
   * cannot grow), the message differs; the code does not. */
  cr_assert_eq(rc, WP_ECOMPILE_LIMIT, "%s: %s", wp_err_name(rc), err.message);
  cr_assert(strstr(err.message, "limit") || strstr(err.message, "out of memory"), "%s",
            err.message);
  wp_runtime_destroy(rt);
}
