/* wp_deploy.c — compiles one WASI command at a chosen tier through
 * wp_module_load, times that, then runs it once with a fixed stdin and keeps
 * its stdout, so bench/deploy.sh can record tier 1's compile time and check
 * that a program's output is byte-identical at both tiers.
 *
 *   wasmpool-compare-deploy [--tier 0|1] [--cc PATH] PROGRAM.wasm CACHE_DIR STDIN_FILE
 *                           STDOUT_FILE [ARG...]
 *
 * CACHE_DIR should be fresh (empty) for a compile time; the line printed
 * says whether the artifact came from the cache. ARGs follow argv[0] (the
 * module's file name). Prints one line:
 *
 *   tier=<built> cache_hit=<0|1> load_ns=<ns> run_ns=<ns> exit=<code> stdout_bytes=<n>
 *
 * load_ns is wp_module_load from bytes in memory to a loaded module
 * (wasm2c, the compiler, the link, dlopen, the image); run_ns covers one
 * instantiate + _start + release.
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
  if (argc < 5) {
    fprintf(stderr,
            "usage: %s [--tier 0|1] [--cc PATH] PROGRAM.wasm CACHE_DIR STDIN_FILE STDOUT_FILE "
            "[ARG...]\n",
            prog);
    return 2;
  }
  cfg.cache_dir = argv[2];
  cfg.pool.total_instances = 2;
  uint8_t *stdin_bytes = NULL, *wasm = NULL;
  size_t stdin_length = 0, wasm_length = 0;
  if (wp_compare_read_file(argv[3], &stdin_bytes, &stdin_length) != 0 ||
      wp_compare_read_file(argv[1], &wasm, &wasm_length) != 0) {
    fprintf(stderr, "cannot read %s or %s\n", argv[3], argv[1]);
    return 1;
  }

  wp_error err = {0};
  wp_runtime *rt = NULL;
  int rc = wp_runtime_create(&cfg, &rt, &err);
  if (rc != 0) {
    fprintf(stderr, "wp_runtime_create: %s\n", err.message);
    return 1;
  }
  wp_module *mod = NULL;
  uint64_t start = wp_compare_now_ns();
  rc = wp_module_load(rt, wasm, wasm_length, &mod_opts, &mod, &err);
  uint64_t load_ns = wp_compare_now_ns() - start;
  free(wasm);
  if (rc != 0) {
    fprintf(stderr, "wp_module_load %s: %s\n", argv[1], err.message);
    wp_runtime_destroy(rt);
    return 1;
  }

  const char **guest_argv = calloc((size_t)argc, sizeof(char *));
  size_t guest_argc = 0;
  guest_argv[guest_argc++] = argv[1];
  for (int i = 5; i < argc; i++)
    guest_argv[guest_argc++] = argv[i];
  wp_wasi_config wasi = {.argv = guest_argv,
                         .argc = guest_argc,
                         .stdin_bytes = stdin_bytes,
                         .stdin_length = stdin_length,
                         .stdout_limit = 64u << 20,
                         .stderr_limit = 64u << 10};
  wp_instance_options opts = {.wasi = &wasi};
  wp_instance *inst = NULL;
  int exit_code = -1;
  start = wp_compare_now_ns();
  rc = wp_instance_create(rt, mod, &opts, &inst, &err);
  if (rc == 0)
    rc = wp_instance_run(inst, NULL, &exit_code, &err);
  size_t out_length = 0;
  if (rc != 0) {
    fprintf(stderr, "%s: %s\n", argv[1], err.message);
  } else {
    bool truncated = false;
    const uint8_t *out = wp_instance_stdout(inst, &out_length, &truncated);
    FILE *f = fopen(argv[4], "wb");
    if (!f || fwrite(out, 1, out_length, f) != out_length || fclose(f) != 0) {
      fprintf(stderr, "cannot write %s\n", argv[4]);
      rc = -1;
    }
    if (truncated) {
      fprintf(stderr, "stdout truncated at %zu bytes\n", out_length);
      rc = -1;
    }
  }
  if (inst)
    wp_instance_destroy(inst);
  uint64_t run_ns = wp_compare_now_ns() - start;
  if (rc == 0)
    printf("tier=%d cache_hit=%d load_ns=%llu run_ns=%llu exit=%d stdout_bytes=%zu\n",
           (int)wp_module_tier(mod), wp_module_cache_hit(mod) ? 1 : 0,
           (unsigned long long)load_ns, (unsigned long long)run_ns, exit_code, out_length);
  free(guest_argv);
  free(stdin_bytes);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
  return rc == 0 ? 0 : 1;
}
