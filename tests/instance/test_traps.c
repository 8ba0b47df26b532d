/* test_traps.c — every trap kind comes back as its WP_ETRAP_* code with a
 * message, and the same thread (and instance) goes on working afterwards. */
#include "data/runtime/helpers.h"

static const char k_traps[] =
    "(module\n"
    "  (type $v_i (func (result i32)))\n"
    "  (type $i_i (func (param i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (table 4 funcref)\n"
    "  (elem (i32.const 0) $seven $inc)\n"
    "  (tag $boom (param i32))\n"
    "  (func $seven (type $v_i) i32.const 7)\n"
    "  (func $inc (type $i_i) local.get 0 i32.const 1 i32.add)\n"
    "  (func (export \"ok\") (result i32) i32.const 42)\n"
    "  (func (export \"load\") (param i32) (result i32) local.get 0 i32.load)\n"
    "  (func (export \"store\") (param i32) local.get 0 i32.const 1 i32.store)\n"
    "  (func (export \"load_far\") (param i32) (result i64) local.get 0 i64.load "
    "offset=0xfffffff0)\n"
    "  (func (export \"div\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)\n"
    "  (func (export \"trunc\") (param f32) (result i32) local.get 0 i32.trunc_f32_s)\n"
    "  (func (export \"unreachable\") unreachable)\n"
    "  (func (export \"call_v_i\") (param i32) (result i32) local.get 0 call_indirect (type "
    "$v_i))\n"
    "  (func $rec (export \"rec\") (param i32) (result i32)\n"
    "    local.get 0 i32.const 1 i32.add call $rec i32.const 1 i32.add)\n"
    "  (func (export \"throw\") i32.const 5 throw $boom)\n"
    "  (func (export \"catch\") (result i32)\n"
    "    (try (result i32) (do i32.const 9 throw $boom) (catch $boom)))\n"
    "  (func (export \"table_get\") (param i32) (result funcref) local.get 0 table.get 0))\n";

typedef struct fixture {
  wp_runtime *rt;
  wp_module *mod;
  wp_instance *inst;
} fixture;

static fixture setup(void) {
  fixture f;
  f.rt = wpt_runtime();
  f.mod = wpt_load(f.rt, k_traps);
  f.inst = wpt_instantiate(f.rt, f.mod);
  return f;
}

static void teardown(fixture *f) {
  wp_instance_destroy(f->inst);
  wp_module_release(f->mod);
  wp_runtime_destroy(f->rt);
}

/* After any trap: the instance still answers and is not poisoned. */
static void assert_healthy(fixture *f) {
  wp_error err = {0};
  uint32_t r = 0;
  cr_assert_eq(wpt_call_i32(f->inst, "ok", NULL, 0, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 42);
  cr_assert_not(wp_instance_poisoned(f->inst));
}

static void expect_trap(fixture *f, const char *name, const wp_val *args, size_t n, int code,
                        const char *needle) {
  wp_error err = {0};
  wp_val res[2];
  int rc = wp_instance_call(f->inst, name, strlen(name), args, n, res, 2, NULL, &err);
  cr_assert_eq(rc, code, "%s: got %s (%s), want %s", name, wp_err_name(rc), err.message,
               wp_err_name(code));
  cr_assert_eq(err.code, code);
  cr_assert_not_null(strstr(err.message, needle), "%s: message '%s' lacks '%s'", name, err.message,
                     needle);
  assert_healthy(f);
}

TestSuite(traps, .fini = wpt_cleanup);

Test(traps, out_of_bounds_memory) {
  fixture f = setup();
  wp_val a = wpt_i32(65536 - 2);
  expect_trap(&f, "load", &a, 1, WP_ETRAP_OOB, "out of bounds");
  expect_trap(&f, "store", &a, 1, WP_ETRAP_OOB, "out of bounds");
  a = wpt_i32(0xffffffffu);
  expect_trap(&f, "load_far", &a, 1, WP_ETRAP_OOB, "out of bounds");
  a = wpt_i32(65532);
  uint32_t r;
  wp_error err = {0};
  cr_assert_eq(wpt_call_i32(f.inst, "load", &a, 1, &r, &err), 0);
  teardown(&f);
}

Test(traps, integer_divide_and_overflow) {
  fixture f = setup();
  wp_val a[2] = {wpt_i32(1), wpt_i32(0)};
  expect_trap(&f, "div", a, 2, WP_ETRAP_DIV_ZERO, "divide by zero");
  a[0] = wpt_i32(0x80000000u);
  a[1] = wpt_i32(0xffffffffu);
  expect_trap(&f, "div", a, 2, WP_ETRAP_INT_OVERFLOW, "overflow");
  teardown(&f);
}

Test(traps, invalid_conversion) {
  fixture f = setup();
  wp_val a = {.type = WP_F32};
  a.of.f32_bits = 0x7fc00000u; /* NaN */
  expect_trap(&f, "trunc", &a, 1, WP_ETRAP_CONVERSION, "conversion");
  float big = 1e10f;
  memcpy(&a.of.f32_bits, &big, 4);
  expect_trap(&f, "trunc", &a, 1, WP_ETRAP_INT_OVERFLOW, "overflow");
  teardown(&f);
}

Test(traps, unreachable) {
  fixture f = setup();
  expect_trap(&f, "unreachable", NULL, 0, WP_ETRAP_UNREACHABLE, "unreachable");
  teardown(&f);
}

Test(traps, indirect_calls) {
  fixture f = setup();
  uint32_t r = 0;
  wp_error err = {0};
  wp_val a = wpt_i32(0);
  cr_assert_eq(wpt_call_i32(f.inst, "call_v_i", &a, 1, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 7);
  a = wpt_i32(1); /* type mismatch */
  expect_trap(&f, "call_v_i", &a, 1, WP_ETRAP_INDIRECT, "indirect");
  a = wpt_i32(2); /* null entry */
  expect_trap(&f, "call_v_i", &a, 1, WP_ETRAP_INDIRECT, "indirect");
  a = wpt_i32(100); /* out of range */
  expect_trap(&f, "call_v_i", &a, 1, WP_ETRAP_INDIRECT, "indirect");
  teardown(&f);
}

Test(traps, table_out_of_bounds) {
  fixture f = setup();
  wp_val a = wpt_i32(100);
  expect_trap(&f, "table_get", &a, 1, WP_ETRAP_OOB, "out of bounds");
  teardown(&f);
}

Test(traps, stack_exhaustion_from_deep_recursion) {
  fixture f = setup();
  wp_val a = wpt_i32(0);
  for (int round = 0; round < 3; round++)
    expect_trap(&f, "rec", &a, 1, WP_ETRAP_STACK, "stack");
  teardown(&f);
}

/* A function whose frame is larger than the 64 KiB stack guard: 9000 i64
 * locals, compiled at -O0 so each has its own slot (a 72 KiB frame; -O2 on
 * this many locals takes minutes of cc time). Without stack-clash probing
 * the first store of a new frame could land past the guard. */
Test(traps, stack_exhaustion_from_huge_frames) {
  enum { LOCALS = 9000 };
  size_t cap = (size_t)LOCALS * 120 + 4096;
  char *wat = malloc(cap);
  size_t n = 0;
  n += (size_t)snprintf(wat + n, cap - n,
                        "(module (memory 1)\n"
                        "  (func (export \"ok\") (result i32) i32.const 42)\n"
                        "  (func $big (export \"big\") (param i32) (result i64)");
  for (int i = 0; i < LOCALS; i++)
    n += (size_t)snprintf(wat + n, cap - n, " (local i64)");
  for (int i = 0; i < LOCALS; i++)
    n += (size_t)snprintf(wat + n, cap - n, "\n (local.set %d (i64.load offset=%d (local.get 0)))",
                          i + 1, (i * 8) % 60000);
  n += (size_t)snprintf(wat + n, cap - n, "\n (call $big (i32.add (local.get 0) (i32.const 1)))");
  for (int i = 0; i < LOCALS; i++)
    n += (size_t)snprintf(wat + n, cap - n, " (local.get %d) i64.add", i + 1);
  n += (size_t)snprintf(wat + n, cap - n, "))\n");
  fixture f;
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.opt_level = "-O0";
  f.rt = wpt_runtime_with(&cfg);
  f.mod = wpt_load(f.rt, wat);
  free(wat);
  f.inst = wpt_instantiate(f.rt, f.mod);
  wp_val a = wpt_i32(0);
  expect_trap(&f, "big", &a, 1, WP_ETRAP_STACK, "stack");
  teardown(&f);
}

Test(traps, uncaught_exception) {
  fixture f = setup();
  expect_trap(&f, "throw", NULL, 0, WP_ETRAP_EXCEPTION, "exception");
  uint32_t r = 0;
  wp_error err = {0};
  cr_assert_eq(wpt_call_i32(f.inst, "catch", NULL, 0, &r, &err), 0, "%s", err.message);
  cr_assert_eq(r, 9);
  teardown(&f);
}

Test(traps, trap_in_start_function_fails_instantiation) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (func $s unreachable) (start $s) (memory 1))");
  wp_instance *inst = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_instance_create(rt, mod, NULL, &inst, &err), WP_ETRAP_UNREACHABLE);
  cr_assert_null(inst);
  /* Its slots came back: the pool is not leaking. */
  wp_pool_stats stats;
  wp_pool_get_stats(wp_runtime_pool(rt), &stats);
  cr_assert_eq(stats.instances.in_use, 0);
  cr_assert_eq(stats.memories.in_use, 0);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}
