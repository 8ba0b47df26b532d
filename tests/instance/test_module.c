/* test_module.c — module metadata (exports, signatures, limits), the
 * spectest host module and linking registered instances (the spec suite's
 * "register"). */
#include <pthread.h>

#include "data/runtime/helpers.h"

TestSuite(module, .fini = wpt_cleanup);

Test(module, exports_and_limits) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module\n"
                                "  (memory (export \"mem\") 2 10)\n"
                                "  (table (export \"tab\") 3 7 funcref)\n"
                                "  (global (export \"g\") (mut f64) (f64.const 1.5))\n"
                                "  (func (export \"_initialize\"))\n"
                                "  (func (export \"f\") (param i64 f32) (result f64 i32)\n"
                                "    f64.const 0 i32.const 0))\n");
  cr_assert_eq(wp_module_export_count(mod), 5);
  const wp_export_info *f = wp_module_find_export(mod, "f", 1);
  cr_assert_not_null(f);
  cr_assert_eq(f->kind, WP_EXTERN_FUNC);
  cr_assert_eq(f->param_count, 2);
  cr_assert_eq(f->params[0], WP_I64);
  cr_assert_eq(f->params[1], WP_F32);
  cr_assert_eq(f->result_count, 2);
  cr_assert_eq(f->results[0], WP_F64);
  cr_assert_eq(f->results[1], WP_I32);
  const wp_export_info *g = wp_module_find_export(mod, "g", 1);
  cr_assert_eq(g->kind, WP_EXTERN_GLOBAL);
  cr_assert_eq(g->global_type, WP_F64);
  cr_assert(g->global_mutable);
  cr_assert_eq(wp_module_find_export(mod, "mem", 3)->kind, WP_EXTERN_MEMORY);
  cr_assert_eq(wp_module_find_export(mod, "tab", 3)->kind, WP_EXTERN_TABLE);
  cr_assert_null(wp_module_find_export(mod, "me", 2));
  wp_module_limits l;
  wp_module_get_limits(mod, &l);
  cr_assert_eq(l.initial_memory_bytes, 2 * 65536);
  cr_assert_eq(l.maximum_memory_bytes, 10 * 65536);
  cr_assert_eq(l.initial_table_elements, 3);
  cr_assert_eq(l.maximum_table_elements, 7);
  cr_assert(l.is_reactor);
  cr_assert_not(l.is_command);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(module, reactor_initialize_runs_at_instantiation) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (global $g (mut i32) (i32.const 0))\n"
                                "  (func (export \"_initialize\") i32.const 5 global.set $g)\n"
                                "  (func (export \"get\") (result i32) global.get $g))");
  wp_instance *inst = wpt_instantiate(rt, mod);
  uint32_t r = 0;
  wp_error err = {0};
  cr_assert_eq(wpt_call_i32(inst, "get", NULL, 0, &r, &err), 0);
  cr_assert_eq(r, 5);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(module, spectest_imports) {
  wp_runtime *rt = wpt_runtime();
  wp_module_options opts = {.allow_spectest = true};
  wp_module *mod =
      wpt_load_opts(rt,
                    "(module\n"
                    "  (import \"spectest\" \"print_i32\" (func $p (param i32)))\n"
                    "  (import \"spectest\" \"print_f64_f64\" (func $pp (param f64 f64)))\n"
                    "  (import \"spectest\" \"global_i64\" (global $g i64))\n"
                    "  (import \"spectest\" \"global_f32\" (global $f f32))\n"
                    "  (import \"spectest\" \"memory\" (memory 1))\n"
                    "  (import \"spectest\" \"table\" (table 10 funcref))\n"
                    "  (func (export \"run\") (result i64)\n"
                    "    (call $p (i32.const 1)) (call $pp (f64.const 1) (f64.const 2))\n"
                    "    (i32.store (i32.const 0) (i32.const 9))\n"
                    "    global.get $g)\n"
                    "  (func (export \"f\") (result f32) global.get $f)\n"
                    "  (func (export \"tsize\") (result i32) table.size 0)\n"
                    "  (func (export \"msize\") (result i32) memory.size))\n",
                    &opts);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_val res[1];
  wp_error err = {0};
  cr_assert_eq(wp_instance_call(inst, "run", 3, NULL, 0, res, 1, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(res[0].of.i64, 666);
  cr_assert_eq(wp_instance_call(inst, "f", 1, NULL, 0, res, 1, NULL, &err), 0);
  float f;
  memcpy(&f, &res[0].of.f32_bits, 4);
  cr_assert_float_eq(f, 666.6f, 1e-3);
  uint32_t r;
  cr_assert_eq(wpt_call_i32(inst, "tsize", NULL, 0, &r, &err), 0);
  cr_assert_eq(r, 10);
  cr_assert_eq(wpt_call_i32(inst, "msize", NULL, 0, &r, &err), 0);
  cr_assert_eq(r, 1);
  wp_instance_destroy(inst);
  wp_module_release(mod);

  /* Wrong types or limits are unlinkable. */
  size_t length;
  uint8_t *wasm = wpt_wat("(module (import \"spectest\" \"global_i32\" (global (mut i32)))\n"
                          "  (import \"spectest\" \"memory\" (memory 3)))",
                          &length);
  wp_module *bad = NULL;
  cr_assert_eq(wp_module_load(rt, wasm, length, &opts, &bad, &err), WP_EUNLINKABLE);
  cr_assert_not_null(strstr(err.message, "spectest.global_i32"), "%s", err.message);
  cr_assert_not_null(strstr(err.message, "spectest.memory"), "%s", err.message);
  free(wasm);
  wp_runtime_destroy(rt);
}

Test(module, linker_shares_functions_globals_memories_tables) {
  wp_runtime *rt = wpt_runtime();
  wp_linker *linker = NULL;
  cr_assert_eq(wp_linker_create(&linker), 0);
  wp_module *a = wpt_load(rt, "(module\n"
                              "  (memory (export \"mem\") 1 5)\n"
                              "  (global (export \"gm\") (mut i32) (i32.const 10))\n"
                              "  (table (export \"tab\") 2 funcref)\n"
                              "  (elem (i32.const 0) $twice)\n"
                              "  (func $twice (export \"twice\") (param i32) (result i32)\n"
                              "    local.get 0 i32.const 2 i32.mul)\n"
                              "  (func (export \"peek\") (result i32) i32.const 100 i32.load)\n"
                              "  (func (export \"trap\") unreachable))\n");
  wp_instance *ia = wpt_instantiate(rt, a);
  cr_assert_eq(wp_linker_register(linker, "A", ia), 0);

  wp_module_options mopts = {.linker = linker};
  wp_module *b = wpt_load_opts(rt,
                               "(module\n"
                               "  (import \"A\" \"twice\" (func $twice (param i32) (result i32)))\n"
                               "  (import \"A\" \"trap\" (func $trap))\n"
                               "  (import \"A\" \"mem\" (memory 1))\n"
                               "  (import \"A\" \"gm\" (global $gm (mut i32)))\n"
                               "  (import \"A\" \"tab\" (table 2 funcref))\n"
                               "  (type $i_i (func (param i32) (result i32)))\n"
                               "  (func (export \"go\") (param i32) (result i32)\n"
                               "    (i32.store (i32.const 100) (i32.const 1234))\n"
                               "    (global.set $gm (i32.add (global.get $gm) (i32.const 1)))\n"
                               "    (i32.add (call $twice (local.get 0))\n"
                               "      (call_indirect (type $i_i) (local.get 0) (i32.const 0))))\n"
                               "  (func (export \"trap_through\") call $trap))\n",
                               &mopts);
  wp_instance_options iopts = {.linker = linker};
  wp_instance *ib = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_instance_create(rt, b, &iopts, &ib, &err), 0, "%s", err.message);
  uint32_t r = 0;
  wp_val arg = wpt_i32(21);
  cr_assert_eq(wpt_call_i32(ib, "go", &arg, 1, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 84);
  /* B's writes are visible in A: the memory and global are shared. */
  cr_assert_eq(wpt_call_i32(ia, "peek", NULL, 0, &r, &err), 0);
  cr_assert_eq(r, 1234);
  wp_val g;
  cr_assert_eq(wp_instance_get_global(ia, "gm", 2, &g, &err), 0);
  cr_assert_eq(g.of.i32, 11);
  /* A trap in A's code, called from B, comes back to B's caller. */
  cr_assert_eq(wp_instance_call(ib, "trap_through", 12, NULL, 0, NULL, 0, NULL, &err),
               WP_ETRAP_UNREACHABLE);
  cr_assert_eq(wpt_call_i32(ib, "go", &arg, 1, &r, &err), 0);

  /* Unknown names or wrong types are unlinkable, with the names listed. */
  size_t length;
  uint8_t *wasm = wpt_wat("(module (import \"A\" \"twice\" (func (param i64)))\n"
                          "  (import \"A\" \"nothing\" (func))\n"
                          "  (import \"B\" \"x\" (global i32)))",
                          &length);
  wp_module *bad = NULL;
  cr_assert_eq(wp_module_load(rt, wasm, length, &mopts, &bad, &err), WP_EUNLINKABLE);
  cr_assert_not_null(strstr(err.message, "A.twice"), "%s", err.message);
  cr_assert_not_null(strstr(err.message, "A.nothing"), "%s", err.message);
  cr_assert_not_null(strstr(err.message, "B.x"), "%s", err.message);
  free(wasm);

  wp_instance_destroy(ib);
  wp_instance_destroy(ia);
  wp_module_release(b);
  wp_module_release(a);
  wp_linker_destroy(linker);
  wp_runtime_destroy(rt);
}

Test(module, pool_exhaustion_is_reported) {
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.pool.total_instances = 2;
  wp_runtime *rt = wpt_runtime_with(&cfg);
  wp_module *mod = wpt_load(rt, "(module (memory 1))");
  wp_instance *a = wpt_instantiate(rt, mod), *b = wpt_instantiate(rt, mod), *c = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_instance_create(rt, mod, NULL, &c, &err), WP_EPOOL_EXHAUSTED);
  wp_instance_destroy(a);
  cr_assert_eq(wp_instance_create(rt, mod, NULL, &c, &err), 0, "%s", err.message);
  wp_instance_destroy(b);
  wp_instance_destroy(c);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

/* wasm2c 1.0.32 passes a different "instance" pointer when an imported
 * function is called through a table than when it is called directly; both
 * must reach the right host function and linked instance. */
Test(module, imported_functions_called_through_a_table) {
  wp_runtime *rt = wpt_runtime();
  wp_linker *linker = NULL;
  cr_assert_eq(wp_linker_create(&linker), 0);
  wp_module *a = wpt_load(rt, "(module (global $k (mut i32) (i32.const 3))\n"
                              "  (func (export \"triple\") (param i32) (result i32)\n"
                              "    local.get 0 global.get $k i32.mul))");
  wp_instance *ia = wpt_instantiate(rt, a);
  cr_assert_eq(wp_linker_register(linker, "A", ia), 0);
  wp_module_options mopts = {.allow_spectest = true, .linker = linker};
  wp_module *b =
      wpt_load_opts(rt,
                    "(module\n"
                    "  (import \"spectest\" \"print_i32\" (func $print (param i32)))\n"
                    "  (import \"A\" \"triple\" (func $triple (param i32) (result i32)))\n"
                    "  (type $v (func (param i32)))\n"
                    "  (type $t (func (param i32) (result i32)))\n"
                    "  (table 2 funcref) (elem (i32.const 0) $print $triple)\n"
                    "  (func (export \"via_table\") (param i32) (result i32)\n"
                    "    (call_indirect (type $v) (local.get 0) (i32.const 0))\n"
                    "    (call_indirect (type $t) (local.get 0) (i32.const 1))))\n",
                    &mopts);
  wp_instance_options iopts = {.linker = linker};
  wp_instance *ib = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_instance_create(rt, b, &iopts, &ib, &err), 0, "%s", err.message);
  uint32_t r = 0;
  wp_val arg = wpt_i32(14);
  cr_assert_eq(wpt_call_i32(ib, "via_table", &arg, 1, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 42);
  wp_instance_destroy(ib);
  wp_instance_destroy(ia);
  wp_module_release(b);
  wp_module_release(a);
  wp_linker_destroy(linker);
  wp_runtime_destroy(rt);
}

/* Validation comes before linking: an invalid module with unknown imports
 * is reported invalid. */
Test(module, invalid_before_unlinkable) {
  wp_runtime *rt = wpt_runtime();
  /* (import "x" "y" (func)) plus a body "i32.const 0" for a () -> () func. */
  static const uint8_t wasm[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01,
                                 0x04, 0x01, 0x60, 0x00, 0x00, 0x02, 0x07, 0x01, 0x01,
                                 0x78, 0x01, 0x79, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
                                 0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b};
  wp_module *mod = NULL;
  wp_error err = {0};
  int rc = wp_module_load(rt, wasm, sizeof(wasm), NULL, &mod, &err);
  cr_assert_eq(rc, WP_EINVALID_MODULE, "%s: %s", wp_err_name(rc), err.message);
  wp_runtime_destroy(rt);
}

typedef struct loader_arg {
  wp_runtime *rt;
  const uint8_t *wasm;
  size_t length;
  int rc;
  uint32_t result;
} loader_arg;

static void *loader(void *p) {
  loader_arg *a = p;
  wp_module *mod = NULL;
  wp_error err = {0};
  a->rc = wp_module_load(a->rt, a->wasm, a->length, NULL, &mod, &err);
  if (a->rc != 0)
    return NULL;
  wp_instance *inst = NULL;
  a->rc = wp_instance_create(a->rt, mod, NULL, &inst, &err);
  if (a->rc == 0) {
    a->rc = wpt_call_i32(inst, "f", NULL, 0, &a->result, &err);
    wp_instance_destroy(inst);
  }
  wp_module_release(mod);
  return NULL;
}

/* Deploys of the same bytes racing on several threads all succeed (the
 * artifact is published with rename, so nobody loads a partial .so). */
Test(module, concurrent_loads_of_the_same_module) {
  wp_runtime *rt = wpt_runtime();
  size_t length;
  uint8_t *wasm = wpt_wat("(module (func (export \"f\") (result i32) i32.const 31))", &length);
  pthread_t threads[3];
  loader_arg args[3];
  for (int i = 0; i < 3; i++) {
    args[i] = (loader_arg){rt, wasm, length, -1, 0};
    cr_assert_eq(pthread_create(&threads[i], NULL, loader, &args[i]), 0);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(threads[i], NULL);
    cr_assert_eq(args[i].rc, 0, "thread %d: %s", i, wp_err_name(args[i].rc));
    cr_assert_eq(args[i].result, 31);
  }
  free(wasm);
  wp_runtime_destroy(rt);
}
