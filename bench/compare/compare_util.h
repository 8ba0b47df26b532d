/* compare_util.h — what the comparison harnesses linked to wp_instance share:
 * reading a .wasm, a monotonic clock, order statistics over samples, the
 * process's resident set, and starting a runtime with a given pool config.
 * Only the bench/compare executables use it. */
#ifndef WP_COMPARE_UTIL_H
#define WP_COMPARE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "instance.h"

/* Reads a whole file into a malloc'd buffer. 0 or WP_ESYS / WP_ENOMEM. */
int wp_compare_read_file(const char *path, uint8_t **bytes, size_t *length);

uint64_t wp_compare_now_ns(void);

/* Sorts samples in place and returns the value at quantile q in [0, 1]. */
uint64_t wp_compare_quantile(uint64_t *samples, size_t count, double q);

/* VmRSS of this process in bytes (0 if /proc is unreadable). */
uint64_t wp_compare_rss_bytes(void);

/* Creates the runtime and loads one module, printing any error to stderr.
 * The caller sets cfg (pool sizes, cache_dir) first. */
int wp_compare_start(const wp_runtime_config *cfg, const char *wasm_path, wp_runtime **rt,
                     wp_module **mod);
/* The same with module options (tier, features); NULL means the defaults. */
int wp_compare_start_with(const wp_runtime_config *cfg, const char *wasm_path,
                          const wp_module_options *opts, wp_runtime **rt, wp_module **mod);

/* Reads the harness options every guest harness shares, "--tier 0|1",
 * "--cc PATH" (tier 1's compiler) and "--slots small|guarded" (the memory
 * slot class, so the bounds-checked build can be timed), from the front of argv into cfg and
 * opts; returns how many arguments it took, or -1 after printing why. */
int wp_compare_engine_args(int argc, char **argv, wp_runtime_config *cfg, wp_module_options *opts);

#endif /* WP_COMPARE_UTIL_H */
