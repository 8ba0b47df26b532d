/* interp.c — the entry point for wabt's wasm-interp, whose Debian build has
 * no WASI ("wasi support not compiled in"): a module with no imports whose
 * one export, run(), does bench(WP_INTERP_N) and returns the checksum, so
 * `wasm-interp --run-all-exports` runs it. Timed from outside (process wall
 * time), which includes the interpreter's start-up of a few milliseconds.
 * Built with -nostartfiles -Wl,--no-entry and -DWP_KERNEL_NO_EXPORT. */
#include "kernel.h"

#ifndef WP_INTERP_N
#error "build with -DWP_INTERP_N=<repetitions>"
#endif

__attribute__((export_name("run"))) uint32_t run(void) {
  return bench(WP_INTERP_N);
}
