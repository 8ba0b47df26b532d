/* test_snapshot.c — snapshots at deploy (instance/snapshot.c): what init
 * leaves in memory and mutable globals is every later instance's starting
 * state (also after grow, and after a save and load), the init export is
 * hidden, and what cannot be carried is refused with WP_ESNAPSHOT. */
#include "data/runtime/helpers.h"

/* init writes 0x2a at 70000 (page 1 of memory), grows memory by one page and
 * writes there, sets the mutable global $counter to 41 and the i64 $wide to
 * a large value. The data segment is there too (the image starts from it). */
static const char k_snap_wat[] =
    "(module (memory (export \"memory\") 2 10)\n"
    "  (global $counter (mut i32) (i32.const 1))\n"
    "  (global $wide (mut i64) (i64.const 2))\n"
    "  (global $fixed i32 (i32.const 9))\n"
    "  (data (i32.const 16) \"hello\")\n"
    "  (func (export \"wizer.initialize\")\n"
    "    (i32.store8 (i32.const 70000) (i32.const 42))\n"
    "    (drop (memory.grow (i32.const 1)))\n"
    "    (i32.store8 (i32.const 140000) (i32.const 7))\n"
    "    (global.set $counter (i32.const 41))\n"
    "    (global.set $wide (i64.const 0x123456789)))\n"
    "  (func (export \"next\") (result i32)\n"
    "    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))\n"
    "    (global.get $counter))\n"
    "  (func (export \"wide\") (result i64) (global.get $wide))\n"
    "  (func (export \"size\") (result i32) (memory.size))\n"
    "  (func (export \"load8\") (param i32) (result i32) (i32.load8_u (local.get 0)))\n"
    "  (func (export \"store8\") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))";

TestSuite(snapshot, .fini = wpt_cleanup);

static uint32_t call_i32(wp_instance *inst, const char *name, uint32_t arg, bool with_arg) {
  wp_val args[1] = {wpt_i32(arg)};
  uint32_t out = 0;
  wp_error err = {0};
  int rc = wpt_call_i32(inst, name, args, with_arg ? 1 : 0, &out, &err);
  cr_assert_eq(rc, 0, "%s: %s", name, err.message);
  return out;
}

static void check_starts_from_snapshot(wp_runtime *rt, wp_module *mod) {
  for (int round = 0; round < 3; round++) {
    wp_instance *inst = wpt_instantiate(rt, mod);
    cr_assert_eq(call_i32(inst, "size", 0, false), 3, "memory starts at the snapshot's size");
    cr_assert_eq(call_i32(inst, "load8", 70000, true), 42);
    cr_assert_eq(call_i32(inst, "load8", 140000, true), 7);
    cr_assert_eq(call_i32(inst, "load8", 16, true), 'h');
    cr_assert_eq(call_i32(inst, "next", 0, false), 42, "the global starts at init's value");
    wp_val wide;
    wp_error err = {0};
    cr_assert_eq(wp_instance_call(inst, "wide", 4, NULL, 0, &wide, 1, NULL, &err), 0, "%s",
                 err.message);
    cr_assert_eq(wide.of.i64, 0x123456789ull);
    /* Garbage for the next holder of the slot, which must not see it. */
    wp_val args[2] = {wpt_i32(70000), wpt_i32(99)};
    cr_assert_eq(wp_instance_call(inst, "store8", 6, args, 2, NULL, 0, NULL, &err), 0);
    args[0] = wpt_i32(200);
    cr_assert_eq(wp_instance_call(inst, "store8", 6, args, 2, NULL, 0, NULL, &err), 0);
    wp_instance_destroy(inst);
  }
}

Test(snapshot, memory_and_globals_become_the_starting_state) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_snap_wat);
  wp_error err = {0};
  int rc = wp_module_snapshot(mod, WP_SNAPSHOT_DEFAULT_INIT, 10000, &err);
  cr_assert_eq(rc, 0, "%s", err.message);
  wp_snapshot_info info;
  cr_assert(wp_module_snapshot_info(mod, &info));
  cr_assert_str_eq(info.init, "wizer.initialize");
  cr_assert_eq(info.memory_bytes, 3 * 65536);
  cr_assert_eq(info.pages, 3, "pages 0 (data), 17 (70000) and 34 (140000)");
  cr_assert_eq(info.globals, 2);
  check_starts_from_snapshot(rt, mod);

  /* Hidden afterwards: neither found nor callable. */
  cr_assert_null(wp_module_find_export(mod, "wizer.initialize", 16));
  wp_instance *inst = wpt_instantiate(rt, mod);
  rc = wp_instance_call(inst, "wizer.initialize", 16, NULL, 0, NULL, 0, NULL, &err);
  cr_assert_eq(rc, WP_ENO_EXPORT);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(snapshot, saved_bytes_load_into_a_fresh_module) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_snap_wat);
  wp_error err = {0};
  cr_assert_eq(wp_module_snapshot(mod, "wizer.initialize", 10000, &err), 0, "%s", err.message);
  size_t length = 0;
  const uint8_t *bytes = wp_module_snapshot_bytes(mod, &length);
  cr_assert_not_null(bytes);
  wp_module *again = wpt_load(rt, k_snap_wat);
  cr_assert_eq(wp_module_snapshot_load(again, bytes, length, &err), 0, "%s", err.message);
  check_starts_from_snapshot(rt, again);
  cr_assert_eq(wp_module_snapshot_load(again, bytes, length / 2, &err), WP_ESNAPSHOT);
  wp_module_release(again);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

static void expect_refusal(const char *wat, const char *init, uint64_t deadline_ms,
                           const char *why) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, wat);
  wp_error err = {0};
  int rc = wp_module_snapshot(mod, init, deadline_ms, &err);
  cr_assert_eq(rc, WP_ESNAPSHOT, "expected snapshot_failed, got %s: %s", wp_err_name(rc),
               err.message);
  cr_assert_not_null(strstr(err.message, why), "message \"%s\" lacks \"%s\"", err.message, why);
  wp_snapshot_info info;
  cr_assert(!wp_module_snapshot_info(mod, &info));
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(snapshot, trap_in_init_is_refused) {
  expect_refusal("(module (memory 1) (func (export \"wizer.initialize\") unreachable))",
                 "wizer.initialize", 10000, "trap_unreachable");
}

Test(snapshot, timeout_in_init_is_refused) {
  expect_refusal("(module (memory 1) (func (export \"init\") (loop (br 0))))", "init", 200,
                 "deadline_exceeded");
}

Test(snapshot, changed_table_is_refused) {
  expect_refusal("(module (table 2 funcref) (func $f) (elem declare func $f)\n"
                 "  (func (export \"wizer.initialize\") (table.set (i32.const 1) (ref.func $f))))",
                 "wizer.initialize", 10000, "changed table 0");
}

Test(snapshot, start_function_is_refused) {
  expect_refusal("(module (memory 1) (func $s) (start $s) (func (export \"wizer.initialize\")))",
                 "wizer.initialize", 10000, "start function");
}

Test(snapshot, init_with_parameters_is_refused) {
  expect_refusal("(module (func (export \"init\") (param i32)))", "init", 10000,
                 "take and return nothing");
}

Test(snapshot, missing_init_export) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (memory 1))");
  wp_error err = {0};
  cr_assert_eq(wp_module_snapshot(mod, "wizer.initialize", 0, &err), WP_ESNAPSHOT);
  cr_assert_not_null(strstr(err.message, "no function export named"), "%s", err.message);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}
