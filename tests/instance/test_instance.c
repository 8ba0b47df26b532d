/* test_instance.c — instances of a simple module: call exports with every
 * value type, odd export names, globals, WASI command runs, concurrent
 * instances on several threads. */
#include <pthread.h>

#include "data/runtime/helpers.h"

static const char k_basic[] =
    "(module\n"
    "  (func $fib (export \"fib\") (param i32) (result i32)\n"
    "    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))\n"
    "      (then (local.get 0))\n"
    "      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))\n"
    "                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))\n"
    "  (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)\n"
    "  (func (export \"add64\") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add)\n"
    "  (func (export \"fmix\") (param f32 f64) (result f64)\n"
    "    local.get 0 f64.promote_f32 local.get 1 f64.mul)\n"
    "  (func (export \"fneg\") (param f32) (result f32) local.get 0 f32.neg)\n"
    "  (func (export \"two\") (param i32) (result i32 i64) local.get 0 i64.const 7)\n"
    "  (func (export \"\\00~!@#\") (result i32) i32.const 11)\n"
    "  (func (export \"h\\c3\\a9llo Z_z\") (result i32) i32.const 12)\n"
    "  (global $g (export \"counter\") (mut i32) (i32.const 40))\n"
    "  (func (export \"bump\") (result i32)\n"
    "    global.get $g i32.const 1 i32.add global.set $g global.get $g)\n"
    "  (memory (export \"memory\") 1 4)\n"
    "  (func (export \"grow\") (param i32) (result i32) local.get 0 memory.grow)\n"
    "  (func (export \"store\") (param i32 i32) local.get 0 local.get 1 i32.store)\n"
    "  (func (export \"load\") (param i32) (result i32) local.get 0 i32.load))\n";

TestSuite(instance, .fini = wpt_cleanup);

Test(instance, calls_every_value_type) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_basic);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_error err = {0};
  uint32_t r32 = 0;
  wp_val args[2] = {wpt_i32(20)};
  cr_assert_eq(wpt_call_i32(inst, "fib", args, 1, &r32, &err), 0, "%s", err.message);
  cr_assert_eq(r32, 6765);
  args[0] = wpt_i32(0xffffffffu);
  args[1] = wpt_i32(3);
  cr_assert_eq(wpt_call_i32(inst, "add", args, 2, &r32, &err), 0);
  cr_assert_eq(r32, 2);

  wp_val res[2];
  args[0] = wpt_i64(1ull << 62);
  args[1] = wpt_i64((1ull << 62) + 5);
  cr_assert_eq(wp_instance_call(inst, "add64", 5, args, 2, res, 2, NULL, &err), 0);
  cr_assert_eq(res[0].type, WP_I64);
  cr_assert_eq(res[0].of.i64, (1ull << 63) + 5);

  float f = 1.5f;
  double d = -2.25;
  wp_val fargs[2] = {{.type = WP_F32}, {.type = WP_F64}};
  memcpy(&fargs[0].of.f32_bits, &f, 4);
  memcpy(&fargs[1].of.f64_bits, &d, 8);
  cr_assert_eq(wp_instance_call(inst, "fmix", 4, fargs, 2, res, 1, NULL, &err), 0);
  double got;
  memcpy(&got, &res[0].of.f64_bits, 8);
  cr_assert_float_eq(got, -3.375, 1e-12);

  /* NaN payloads survive (bits in, bits out). */
  wp_val nan = {.type = WP_F32};
  nan.of.f32_bits = 0x7fa00001u;
  cr_assert_eq(wp_instance_call(inst, "fneg", 4, &nan, 1, res, 1, NULL, &err), 0);
  cr_assert_eq(res[0].of.f32_bits, 0xffa00001u);

  args[0] = wpt_i32(5);
  cr_assert_eq(wp_instance_call(inst, "two", 3, args, 1, res, 2, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(res[0].of.i32, 5);
  cr_assert_eq(res[1].of.i64, 7);

  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(instance, odd_export_names) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_basic);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_error err = {0};
  wp_val res[1];
  cr_assert_eq(wp_instance_call(inst, "\0~!@#", 5, NULL, 0, res, 1, NULL, &err), 0, "%s",
               err.message);
  cr_assert_eq(res[0].of.i32, 11);
  cr_assert_eq(wp_instance_call(inst, "h\xc3\xa9llo Z_z", 10, NULL, 0, res, 1, NULL, &err), 0, "%s",
               err.message);
  cr_assert_eq(res[0].of.i32, 12);
  const wp_export_info *x = wp_module_find_export(mod, "\0~!@#", 5);
  cr_assert_not_null(x);
  cr_assert_eq(x->kind, WP_EXTERN_FUNC);
  cr_assert_eq(x->result_count, 1);
  cr_assert_eq(wp_instance_call(inst, "nope", 4, NULL, 0, res, 1, NULL, &err), WP_ENO_EXPORT);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(instance, argument_checks_and_globals) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_basic);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_error err = {0};
  wp_val args[2] = {wpt_i64(1), wpt_i32(2)};
  wp_val res[1];
  cr_assert_eq(wp_instance_call(inst, "add", 3, args, 2, res, 1, NULL, &err), WP_EARG_TYPE);
  cr_assert_eq(wp_instance_call(inst, "add", 3, args, 1, res, 1, NULL, &err), WP_EARG_TYPE);
  wp_val g;
  cr_assert_eq(wp_instance_get_global(inst, "counter", 7, &g, &err), 0);
  cr_assert_eq(g.of.i32, 40);
  uint32_t r;
  cr_assert_eq(wpt_call_i32(inst, "bump", NULL, 0, &r, &err), 0);
  cr_assert_eq(r, 41);
  cr_assert_eq(wp_instance_get_global(inst, "counter", 7, &g, &err), 0);
  cr_assert_eq(g.of.i32, 41);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(instance, memory_grow_respects_maximum) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_basic);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_error err = {0};
  uint32_t r;
  wp_val a[2] = {wpt_i32(2)};
  cr_assert_eq(wpt_call_i32(inst, "grow", a, 1, &r, &err), 0);
  cr_assert_eq(r, 1);
  uint64_t size;
  uint8_t *mem = wp_instance_memory(inst, &size);
  cr_assert_not_null(mem);
  cr_assert_eq(size, 3 * 65536);
  a[0] = wpt_i32(3 * 65536 - 4);
  a[1] = wpt_i32(0xabcdef01u);
  cr_assert_eq(wp_instance_call(inst, "store", 5, a, 2, NULL, 0, NULL, &err), 0, "%s", err.message);
  cr_assert_eq(wpt_call_i32(inst, "load", a, 1, &r, &err), 0);
  cr_assert_eq(r, 0xabcdef01u);
  a[0] = wpt_i32(2); /* 3 + 2 > max 4 */
  cr_assert_eq(wpt_call_i32(inst, "grow", a, 1, &r, &err), 0);
  cr_assert_eq(r, 0xffffffffu);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

typedef struct worker_arg {
  wp_runtime *rt;
  wp_module *mod;
  int failures;
} worker_arg;

static void *worker(void *p) {
  worker_arg *w = p;
  for (int round = 0; round < 20; round++) {
    wp_instance *inst = NULL;
    wp_error err = {0};
    if (wp_instance_create(w->rt, w->mod, NULL, &inst, &err) != 0) {
      w->failures++;
      continue;
    }
    wp_val a = wpt_i32(15);
    uint32_t r = 0;
    if (wpt_call_i32(inst, "fib", &a, 1, &r, &err) != 0 || r != 610)
      w->failures++;
    /* A trap on one thread must not disturb the others. */
    a = wpt_i32(0xfffffff0u);
    if (wpt_call_i32(inst, "load", &a, 1, &r, &err) != WP_ETRAP_OOB)
      w->failures++;
    wp_instance_destroy(inst);
  }
  return NULL;
}

Test(instance, concurrent_instances_on_threads) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_basic);
  pthread_t threads[4];
  worker_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (worker_arg){rt, mod, 0};
    cr_assert_eq(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    cr_assert_eq(args[i].failures, 0, "thread %d had %d failures", i, args[i].failures);
  }
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(instance, wasi_command_run_and_exit_code) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(
      rt, "(module\n"
          "  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
          "    (func $fd_write (param i32 i32 i32 i32) (result i32)))\n"
          "  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))\n"
          "  (memory (export \"memory\") 1)\n"
          "  (data (i32.const 16) \"hi there\\n\")\n"
          "  (func (export \"_start\")\n"
          "    (i32.store (i32.const 0) (i32.const 16))\n"
          "    (i32.store (i32.const 4) (i32.const 9))\n"
          "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
          "    (call $exit (i32.const 3))\n"
          "    unreachable))\n");
  wp_module_limits limits;
  wp_module_get_limits(mod, &limits);
  cr_assert(limits.is_command);
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_error err = {0};
  int code = -1;
  cr_assert_eq(wp_instance_run(inst, NULL, &code, &err), 0, "%s", err.message);
  cr_assert_eq(code, 3);
  size_t len;
  bool trunc;
  const uint8_t *out = wp_instance_stdout(inst, &len, &trunc);
  cr_assert_eq(len, 9);
  cr_assert(memcmp(out, "hi there\n", 9) == 0);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

/* ---- Memory slot classes ------------------------------------------------- */

static const char k_small[] = "(module\n"
                              "  (memory (export \"memory\") 1 4)\n"
                              "  (data (i32.const 0) \"img!\")\n"
                              "  (func (export \"grow\") (param i32) (result i32)\n"
                              "    local.get 0 memory.grow)\n"
                              "  (func (export \"load\") (param i32) (result i32)\n"
                              "    local.get 0 i32.load))\n";

static const char k_unbounded[] = "(module\n"
                                  "  (memory (export \"memory\") 1)\n"
                                  "  (func (export \"grow\") (param i32) (result i32)\n"
                                  "    local.get 0 memory.grow)\n"
                                  "  (func (export \"load\") (param i32) (result i32)\n"
                                  "    local.get 0 i32.load))\n";

/* 4-page small slots, back to back, next to the usual guarded ones. */
static wp_runtime *small_runtime(void) {
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.pool.small_memories = 4;
  cfg.pool.small_memory_bytes = 4 * 65536;
  return wpt_runtime_with(&cfg);
}

Test(instance, small_slot_code_checks_bounds) {
  wp_runtime *rt = small_runtime();
  wp_module *mod = wpt_load(rt, k_small);
  wp_module_limits lim;
  wp_module_get_limits(mod, &lim);
  cr_assert_eq(lim.memory_class, WP_MEMORY_SMALL, "a maximum of 4 pages fits a 4-page slot");
  cr_assert(lim.bounds_checked);
  wp_instance *a = wpt_instantiate(rt, mod);
  wp_instance *b = wpt_instantiate(rt, mod);
  uint64_t size_a, size_b;
  uint8_t *mem_a = wp_instance_memory(a, &size_a);
  uint8_t *mem_b = wp_instance_memory(b, &size_b);
  cr_assert_eq(size_a, 65536);
  cr_assert_eq(memcmp(mem_a, "img!", 4), 0, "the image is mapped");
  /* Neighbours with no guard between them: an unchecked load from a past
   * its slot would read b's bytes. */
  cr_assert_eq(mem_b, mem_a + 4 * 65536, "slots are adjacent");
  memcpy(mem_b, "\x78\x56\x34\x12", 4);
  wp_error err = {0};
  uint32_t r = 0;
  wp_val arg = wpt_i32(4 * 65536);
  cr_assert_eq(wpt_call_i32(a, "load", &arg, 1, &r, &err), WP_ETRAP_OOB, "got %#x: %s", r,
               err.message);
  arg = wpt_i32(65536 - 2); /* straddles the accessible end */
  cr_assert_eq(wpt_call_i32(a, "load", &arg, 1, &r, &err), WP_ETRAP_OOB);
  /* Growth up to the slot works; past it is -1 (the module's own max). */
  arg = wpt_i32(3);
  cr_assert_eq(wpt_call_i32(a, "grow", &arg, 1, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 1);
  arg = wpt_i32(4 * 65536 - 4);
  cr_assert_eq(wpt_call_i32(a, "load", &arg, 1, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 0);
  arg = wpt_i32(4 * 65536);
  cr_assert_eq(wpt_call_i32(a, "load", &arg, 1, &r, &err), WP_ETRAP_OOB, "got %#x", r);
  wp_instance_destroy(a);
  wp_instance_destroy(b);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(instance, operator_cap_puts_a_module_in_a_small_slot) {
  wp_runtime *rt = small_runtime();
  /* No maximum (4 GiB): guard pages, and a guarded slot. */
  wp_module *wide = wpt_load(rt, k_unbounded);
  wp_module_limits lim;
  wp_module_get_limits(wide, &lim);
  cr_assert_eq(lim.memory_class, WP_MEMORY_GUARDED);
  cr_assert(!lim.bounds_checked);
  cr_assert(!wp_module_cache_hit(wide));
  /* Capped by the operator: the same bytes become another artifact. */
  wp_module_options opts = {.max_memory_bytes = 4 * 65536};
  wp_module *capped = wpt_load_opts(rt, k_unbounded, &opts);
  wp_module_get_limits(capped, &lim);
  cr_assert_eq(lim.memory_class, WP_MEMORY_SMALL);
  cr_assert(lim.bounds_checked);
  cr_assert_eq(lim.memory_cap_bytes, 4 * 65536);
  cr_assert(!wp_module_cache_hit(capped), "bounds-checked code has its own cache key");
  wp_module *again = wpt_load_opts(rt, k_unbounded, &opts);
  cr_assert(wp_module_cache_hit(again));
  wp_instance *inst = wpt_instantiate(rt, capped);
  wp_error err = {0};
  uint32_t r = 0;
  wp_val arg = wpt_i32(4);
  cr_assert_eq(wpt_call_i32(inst, "grow", &arg, 1, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 0xffffffffu, "1 + 4 pages do not fit the slot: memory.grow is -1");
  arg = wpt_i32(3);
  cr_assert_eq(wpt_call_i32(inst, "grow", &arg, 1, &r, &err), 0);
  cr_assert_eq(r, 1);
  wp_pool_stats stats;
  wp_pool_get_stats(wp_runtime_pool(rt), &stats);
  cr_assert_eq(stats.small_memories.in_use, 1);
  cr_assert_eq(stats.memories.in_use, 1, "nothing in the guarded class");
  wp_instance_destroy(inst);
  wp_module_release(again);
  wp_module_release(capped);
  wp_module_release(wide);
  wp_runtime_destroy(rt);
}

Test(instance, without_small_slots_nothing_changes) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_small);
  wp_module_limits lim;
  wp_module_get_limits(mod, &lim);
  cr_assert_eq(lim.memory_class, WP_MEMORY_GUARDED);
  cr_assert(!lim.bounds_checked);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}
