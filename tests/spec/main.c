/* main.c — wasmpool-spec: runs WebAssembly spec-suite .wast files through
 * the instance API and prints, per file and in total,
 *
 *   FILE: N passed, N failed, N skipped [seconds, modules, cache hits]
 *   ...
 *   N passed, N failed, N skipped
 *
 * with the reason of every skip grouped above the total line (and each skip
 * on its own line with --verbose). Exits 1 on any failure, 2 on bad usage or
 * when the runtime cannot start.
 *
 * Compiled modules are cached (default: the build tree's spec-cache/), so a
 * second run is mostly cache hits; the runner compiles with -O1 because the
 * suite is thousands of small modules whose speed does not matter.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spec.h"

#ifndef WP_SPEC_WAST2JSON
#define WP_SPEC_WAST2JSON "/usr/bin/wast2json"
#endif
#ifndef WP_SPEC_WAT2WASM
#define WP_SPEC_WAT2WASM "/usr/bin/wat2wasm"
#endif
#ifndef WP_SPEC_WASM2C
#define WP_SPEC_WASM2C "/usr/bin/wasm2c"
#endif
#ifndef WP_SPEC_CACHE_DIR
#define WP_SPEC_CACHE_DIR "spec-cache"
#endif

static void usage(FILE *out) {
  fprintf(out,
          "usage: wasmpool-spec [options] FILE.wast...\n"
          "  -v, --verbose          print every skip (and the reason) as it happens\n"
          "      --cache-dir DIR    compiled-module cache (default %s)\n"
          "      --opt LEVEL        C optimisation flag for generated code (default -O1)\n"
          "      --deadline-ms N    limit per call and instantiation (default 20000; 0 none)\n"
          "      --wast2json PATH   (default %s)\n"
          "      --wat2wasm PATH    (default %s)\n"
          "      --keep-temp        keep wast2json's output directories\n",
          WP_SPEC_CACHE_DIR, WP_SPEC_WAST2JSON, WP_SPEC_WAT2WASM);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  wp_spec_run_options opts = {
      .wast2json_path = WP_SPEC_WAST2JSON,
      .wat2wasm_path = WP_SPEC_WAT2WASM,
      .call_deadline_ms = 20000,
      .out = stdout,
  };
  const char *cache_dir = WP_SPEC_CACHE_DIR;
  const char *opt_level = "-O1";
  enum { OPT_CACHE = 256, OPT_OPT, OPT_DEADLINE, OPT_WAST2JSON, OPT_WAT2WASM, OPT_KEEP };
  static const struct option long_options[] = {
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"cache-dir", required_argument, NULL, OPT_CACHE},
      {"opt", required_argument, NULL, OPT_OPT},
      {"deadline-ms", required_argument, NULL, OPT_DEADLINE},
      {"wast2json", required_argument, NULL, OPT_WAST2JSON},
      {"wat2wasm", required_argument, NULL, OPT_WAT2WASM},
      {"keep-temp", no_argument, NULL, OPT_KEEP},
      {NULL, 0, NULL, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "vh", long_options, NULL)) != -1) {
    switch (c) {
    case 'v': opts.verbose = true; break;
    case 'h': usage(stdout); return 0;
    case OPT_CACHE: cache_dir = optarg; break;
    case OPT_OPT: opt_level = optarg; break;
    case OPT_DEADLINE: opts.call_deadline_ms = strtoull(optarg, NULL, 10); break;
    case OPT_WAST2JSON: opts.wast2json_path = optarg; break;
    case OPT_WAT2WASM: opts.wat2wasm_path = optarg; break;
    case OPT_KEEP: opts.keep_temp = true; break;
    default: usage(stderr); return 2;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return 2;
  }
  /* FAIL lines and the summary interleave correctly when piped (ctest). */
  setvbuf(stdout, NULL, _IOLBF, 0);

  wp_runtime_config cfg;
  wp_runtime_config_default(&cfg);
  cfg.cache_dir = cache_dir;
  cfg.opt_level = opt_level;
  cfg.wasm2c_path = WP_SPEC_WASM2C;
  /* Named and registered instances live until the end of their file (up to
   * ~60 in imports.wast); a few tables per module (reference types). */
  cfg.pool.total_instances = 256;
  cfg.pool.tables_per_instance = 8;
  wp_runtime *runtime;
  wp_error err = {0};
  int rc = wp_runtime_create(&cfg, &runtime, &err);
  if (rc != 0) {
    fprintf(stderr, "wasmpool-spec: cannot start the runtime: %s: %s\n", wp_err_name(rc),
            err.message);
    return 2;
  }
  opts.runtime = runtime;

  wp_spec_report *total;
  if (wp_spec_report_create(&total) != 0) {
    wp_runtime_destroy(runtime);
    return 2;
  }
  double started = now_seconds();
  uint64_t modules = 0, hits = 0, text_checked = 0, reinstantiated = 0;
  int status = 0;
  for (int i = optind; i < argc; i++) {
    wp_spec_report *report;
    if (wp_spec_report_create(&report) != 0) {
      status = 2;
      break;
    }
    wp_spec_file_stats stats;
    double file_started = now_seconds();
    wp_spec_run_file(&opts, argv[i], report, &stats);
    char line[128];
    wp_spec_report_format(report, line, sizeof line);
    const char *slash = strrchr(argv[i], '/');
    printf("%s: %s [%.1f s, %" PRIu64 " modules loaded, %" PRIu64 " from cache]\n",
           slash ? slash + 1 : argv[i], line, now_seconds() - file_started, stats.modules_loaded,
           stats.cache_hits);
    modules += stats.modules_loaded;
    hits += stats.cache_hits;
    text_checked += stats.text_checked;
    reinstantiated += stats.reinstantiated;
    if (wp_spec_report_merge(total, report) != 0)
      status = 2;
    wp_spec_report_destroy(report);
  }

  printf("%d files in %.1f s; %" PRIu64 " modules loaded (%" PRIu64 " from cache); %" PRIu64
         " text-format assert_malformed rejected by wat2wasm; %" PRIu64
         " instances re-created after stack exhaustion or timeout\n",
         argc - optind, now_seconds() - started, modules, hits, text_checked, reinstantiated);
  if (wp_spec_report_reason_count(total) > 0) {
    printf("skip reasons:\n");
    wp_spec_report_print_reasons(total, stdout);
  }
  char line[128];
  wp_spec_report_format(total, line, sizeof line);
  printf("%s\n", line);
  if (status == 0 && wp_spec_report_failed(total) > 0)
    status = 1;
  wp_spec_report_destroy(total);
  wp_runtime_destroy(runtime);
  return status;
}
