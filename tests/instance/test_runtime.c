/* test_runtime.c — the runtime's process-wide behaviour: configuration
 * checks, and that a fault outside guest code still kills the process
 * (the handler must not swallow host bugs). */
#include <signal.h>
#include <sys/mman.h>

#include "data/runtime/helpers.h"

TestSuite(runtime, .fini = wpt_cleanup);

Test(runtime, refuses_a_memory_span_under_8_gib) {
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.pool.guard_bytes = (uint64_t)1 << 30;
  wp_runtime *rt = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_runtime_create(&cfg, &rt, &err), WP_ECONFIG);
  cr_assert_not_null(strstr(err.message, "guard_bytes"));
}

Test(runtime, one_runtime_per_process) {
  wp_runtime *rt = wpt_runtime();
  wp_runtime_config cfg;
  wpt_config(&cfg);
  wp_runtime *second = NULL;
  wp_error err = {0};
  cr_assert_eq(wp_runtime_create(&cfg, &second, &err), WP_ECONFIG);
  wp_runtime_destroy(rt);
  rt = wpt_runtime(); /* after destroy a new one may be made */
  wp_runtime_destroy(rt);
}

/* A host write to an inaccessible page with the handlers installed dies
 * with SIGSEGV. (Not a NULL store: UBSan would stop that one first.) */
Test(runtime, host_fault_still_kills, .signal = SIGSEGV) {
  wp_runtime *rt = wpt_runtime();
  volatile int *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq((void *)bad, MAP_FAILED);
  *bad = 1;
  wp_runtime_destroy(rt);
}

/* A host read of a guest memory's guard, outside guest code, is a host bug
 * too: it must not be turned into a trap. */
Test(runtime, host_touching_guest_guard_kills, .signal = SIGSEGV) {
  wp_runtime *rt = wpt_runtime();
  wp_module *mod = wpt_load(rt, "(module (memory (export \"memory\") 1))");
  wp_instance *inst = wpt_instantiate(rt, mod);
  uint64_t size;
  volatile uint8_t *mem = wp_instance_memory(inst, &size);
  cr_assert_eq(size, 65536);
  uint8_t x = mem[size + 16];
  (void)x;
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

Test(runtime, valtype_names) {
  cr_assert_str_eq(wp_valtype_name(WP_I32), "i32");
  cr_assert_str_eq(wp_valtype_name(WP_F64), "f64");
  cr_assert_str_eq(wp_valtype_name(WP_EXTERNREF), "externref");
}
