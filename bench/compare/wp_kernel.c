/* wp_kernel.c — runs one guest-speed kernel (a WASI command built from
 * bench/kernels) on wasmpool's instance API and prints the guest's stdout.
 *
 *   wasmpool-compare-kernel [--tier 0|1] [--cc PATH] [--slots small|guarded] KERNEL.wasm CACHE_DIR
 * N [REPS [WARMUP]]
 *
 * The guest times its own bench(N) calls (bench/kernels/main.c), so this
 * measures compiled guest code, not compilation or instantiation. --tier
 * picks the compiler tier (default 0, tcc, what a deploy gets; SIMD modules
 * build at tier 1 whatever is asked) and --cc tier 1's compiler. The tier
 * actually built is printed as "tier=N" after the guest's line.
 */
#include <stdio.h>
#include <stdlib.h>

#include "compare_util.h"

int main(int argc, char **argv) {
  const char *prog = argv[0];
  wp_runtime_config cfg;
  wp_runtime_config_default(&cfg);
  wp_module_options mod_opts = {0};
  int used = wp_compare_engine_args(argc - 1, argv + 1, &cfg, &mod_opts);
  if (used < 0)
    return 2;
  argc -= used;
  argv += used;
  if (argc < 4 || argc > 6) {
    fprintf(stderr,
            "usage: %s [--tier 0|1] [--cc PATH] [--slots small|guarded] KERNEL.wasm CACHE_DIR N "
            "[REPS [WARMUP]]\n",
            prog);
    return 2;
  }
  cfg.cache_dir = argv[2];
  cfg.pool.total_instances = 2;
  wp_runtime *rt = NULL;
  wp_module *mod = NULL;
  if (wp_compare_start_with(&cfg, argv[1], &mod_opts, &rt, &mod) != 0)
    return 1;

  /* argv for the guest: its name, then N [REPS [WARMUP]]. */
  const char *guest_argv[4] = {argv[1], NULL, NULL, NULL};
  size_t guest_argc = 1;
  for (int i = 3; i < argc; i++)
    guest_argv[guest_argc++] = argv[i];
  wp_wasi_config wasi = {
      .argv = guest_argv, .argc = guest_argc, .stdout_limit = 4096, .stderr_limit = 4096};
  wp_instance_options opts = {.wasi = &wasi};
  wp_instance *inst = NULL;
  wp_error err = {0};
  int rc = wp_instance_create(rt, mod, &opts, &inst, &err);
  int exit_code = 1;
  if (rc == 0)
    rc = wp_instance_run(inst, NULL, &exit_code, &err);
  if (rc != 0) {
    fprintf(stderr, "%s: %s\n", argv[1], err.message);
  } else {
    size_t length = 0;
    bool truncated = false;
    const uint8_t *out = wp_instance_stdout(inst, &length, &truncated);
    fwrite(out, 1, length, stdout);
    wp_module_limits limits;
    wp_module_get_limits(mod, &limits);
    printf("tier=%d bounds_checked=%d\n", (int)wp_module_tier(mod), limits.bounds_checked ? 1 : 0);
    out = wp_instance_stderr(inst, &length, &truncated);
    fwrite(out, 1, length, stderr);
  }
  if (inst)
    wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
  return rc == 0 ? exit_code : 1;
}
