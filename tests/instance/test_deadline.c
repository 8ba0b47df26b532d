/* test_deadline.c — deadlines interrupt guest code with WP_ETIMEOUT within a
 * bound, poison the instance, and leave the thread able to run more. */
#include <time.h>

#include "data/runtime/helpers.h"

static const char k_loop[] =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"sched_yield\" (func $yield (result i32)))\n"
    "  (func (export \"spin\") (loop br 0))\n"
    "  (func (export \"spin_yield\") (loop (drop (call $yield)) br 0))\n"
    "  (func (export \"quick\") (result i32) i32.const 5))\n";

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

TestSuite(deadline, .fini = wpt_cleanup);

Test(deadline, infinite_loop_times_out_and_poisons) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_loop);
  for (int round = 0; round < 2; round++) {
    const char *name = round == 0 ? "spin" : "spin_yield";
    wp_instance *inst = wpt_instantiate(rt, mod);
    wp_call_options opts = {.deadline_ms = 100};
    wp_error err = {0};
    uint64_t start = now_ms();
    int rc = wp_instance_call(inst, name, strlen(name), NULL, 0, NULL, 0, &opts, &err);
    uint64_t took = now_ms() - start;
    cr_assert_eq(rc, WP_ETIMEOUT, "%s: %s", name, wp_err_name(rc));
    cr_assert_geq(took, 90);
    cr_assert_lt(took, 2000, "%s took %llu ms", name, (unsigned long long)took);
    cr_assert(wp_instance_poisoned(inst));
    cr_assert_neq(wp_instance_call(inst, "quick", 5, NULL, 0, NULL, 0, NULL, &err), 0);
    wp_instance_destroy(inst);
  }
  /* The thread goes on: a fresh instance runs, with and without a deadline,
   * and a deadline that does not expire leaves nothing behind. */
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_error err = {0};
  uint32_t r = 0;
  wp_val res[1];
  wp_call_options opts = {.deadline_ms = 50};
  cr_assert_eq(wp_instance_call(inst, "quick", 5, NULL, 0, res, 1, &opts, &err), 0);
  cr_assert_eq(res[0].of.i32, 5);
  struct timespec pause = {0, 120 * 1000 * 1000};
  nanosleep(&pause, NULL); /* past the old deadline: its expiry is absorbed */
  cr_assert_eq(wpt_call_i32(inst, "quick", NULL, 0, &r, &err), 0);
  cr_assert_eq(r, 5);
  cr_assert_not(wp_instance_poisoned(inst));
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

/* Spins under a deadline of deadline_ms on a fresh instance; returns how
 * long it took to time out. */
static uint64_t spin_for(wp_runtime *rt, wp_module *mod, uint64_t deadline_ms) {
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_call_options opts = {.deadline_ms = deadline_ms};
  wp_error err = {0};
  uint64_t start = now_ms();
  int rc = wp_instance_call(inst, "spin", 4, NULL, 0, NULL, 0, &opts, &err);
  uint64_t took = now_ms() - start;
  cr_assert_eq(rc, WP_ETIMEOUT, "%s", wp_err_name(rc));
  wp_instance_destroy(inst);
  return took;
}

static void quick_with_deadline(wp_runtime *rt, wp_module *mod, uint64_t deadline_ms) {
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_call_options opts = {.deadline_ms = deadline_ms};
  wp_error err = {0};
  wp_val res[1];
  cr_assert_eq(wp_instance_call(inst, "quick", 5, NULL, 0, res, 1, &opts, &err), 0, "%s",
               err.message);
  wp_instance_destroy(inst);
}

/* The timer is left running after a call (deadline.c): an expiry left over
 * from an earlier, shorter deadline must not cut a later call short, and a
 * later call with a shorter deadline must not wait for a longer expiry. */
Test(deadline, leftover_timer_neither_early_nor_late) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, k_loop);
  quick_with_deadline(rt, mod, 30); /* leaves the timer set for +30 ms */
  uint64_t took = spin_for(rt, mod, 300);
  cr_assert_geq(took, 290, "timed out after %llu ms of 300", (unsigned long long)took);
  cr_assert_lt(took, 2000, "took %llu ms", (unsigned long long)took);
  quick_with_deadline(rt, mod, 5000); /* leaves it set for +5 s */
  took = spin_for(rt, mod, 50);
  cr_assert_geq(took, 45, "timed out after %llu ms of 50", (unsigned long long)took);
  cr_assert_lt(took, 1000, "a 50 ms deadline took %llu ms", (unsigned long long)took);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(deadline, start_function_deadline) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (func $s (loop br 0)) (start $s))");
  wp_instance_options opts = {.deadline_ms = 50};
  wp_instance *inst = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_instance_create(rt, mod, &opts, &inst, &err), WP_ETIMEOUT);
  cr_assert_null(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

/* A deadline that passes during a host call does not tear it: the call
 * (a 2 s WASI sleep, which the deadline cuts short through the ctx's
 * interrupt flag) returns to the guest first, and the timeout is taken as it
 * returns. */
Test(deadline, deferred_during_host_call) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(
      rt, "(module\n"
          "  (import \"wasi_snapshot_preview1\" \"poll_oneoff\"\n"
          "    (func $poll (param i32 i32 i32 i32) (result i32)))\n"
          "  (memory (export \"memory\") 1)\n"
          "  (func (export \"sleep\")\n"
          "    (i32.store (i32.const 128) (i32.const 99))\n"
          "    (i32.store8 (i32.const 8) (i32.const 0))\n"
          "    (i32.store (i32.const 16) (i32.const 1))\n"
          "    (i64.store (i32.const 24) (i64.const 2000000000))\n"
          "    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))\n"
          "    (loop br 0)))\n");
  wp_instance *inst = wpt_instantiate(rt, mod);
  wp_call_options opts = {.deadline_ms = 50};
  wp_error err = {0};
  uint64_t start = now_ms();
  int rc = wp_instance_call(inst, "sleep", 5, NULL, 0, NULL, 0, &opts, &err);
  uint64_t took = now_ms() - start;
  cr_assert_eq(rc, WP_ETIMEOUT, "%s: %s", wp_err_name(rc), err.message);
  cr_assert_lt(took, 1500, "took %llu ms", (unsigned long long)took);
  cr_assert(wp_instance_poisoned(inst));
  /* poll_oneoff ran to its end: it stored its event count (over the 99). */
  uint64_t size;
  uint8_t *mem = wp_instance_memory(inst, &size);
  cr_assert_eq(mem[128], 1);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}
