/* main.c — wasmpool-spec: runs WebAssembly spec-suite .wast files through
 * the instance API and prints, per file and in total,
 *
 *   FILE: N passed, N failed, N skipped [seconds, modules, cache hits]
 *   ...
 *   N passed, N failed, N skipped
 *
 * with the reason of every skip grouped above the total line (and each skip
 * on its own line with --verbose). Exits 1 on any failure (a runtime that
 * cannot start fails every file), 2 on bad usage.
 *
 * Compiled modules are cached (default: the build tree's spec-cache/), so a
 * second run is mostly cache hits; the runner compiles with -O1 because the
 * suite is thousands of small modules whose speed does not matter (and -O0
 * is slower still on the large generated files, br_table.wast's for one).
 *
 * Isolation: each file runs in a forked child that creates its own runtime,
 * so a crash of the runtime (a host bug the suite is meant to find) cannot
 * take the runner down. The child writes the command it is running into a
 * shared page before each command; when it dies, that command is reported
 * as a failure with its line, and the file runs again in a new child that
 * rebuilds the state by running the earlier commands again quietly, does
 * not run the crashed one, and goes on after it (at most MAX_CRASHES per
 * file). The child sends its counters back over a pipe
 * (wp_spec_report_write).
 *
 * Tools: wast2json and wat2wasm are wabt 1.0.36 from the Debian 13 tool root
 * (WP_TOOLROOT, --toolroot), run through the root's loader. Features: per
 * file from its directory (profile.c), or --profile NAME for every file.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spec.h"

#ifndef WP_TOOLROOT
#define WP_TOOLROOT ".toolroot/root"
#endif
#ifndef WP_SPEC_CACHE_DIR
#define WP_SPEC_CACHE_DIR "spec-cache"
#endif

static void usage(FILE *out) {
  fprintf(out,
          "usage: wasmpool-spec [options] FILE.wast...\n"
          "  -v, --verbose          print every skip (and the reason) as it happens\n"
          "      --cache-dir DIR    compiled-module cache (default %s)\n"
          "      --tier N           build modules at tier 0 (tcc, the default) or 1 (cc);\n"
          "                         SIMD and shared memories always build at tier 1\n"
          "      --opt LEVEL        tier 1's C optimisation flag (default -O1)\n"
          "      --deadline-ms N    limit per call and instantiation (default 20000; 0 none)\n"
          "      --toolroot DIR     Debian 13 tool root with wast2json, wat2wasm (default %s)\n"
          "      --profile NAME     features for every file: core, a proposal directory\n"
          "                         name or all (default: from each file's directory)\n"
          "      --strict           a module the engine refuses as unsupported fails\n"
          "                         instead of being skipped\n"
          "      --keep-temp        keep wast2json's output directories\n"
          "      --trace            print each command before running it (finds crashes)\n"
          "      --no-fork          run files in this process (for a debugger); by default\n"
          "                         each file runs in a child, so a crash fails one command\n"
          "      --crash-at-line N  abort() at the command on line N (tests the recovery)\n",
          WP_SPEC_CACHE_DIR, WP_TOOLROOT);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one file with a fresh runtime in this process. */
static int run_here(const wp_spec_run_options *base, const wp_runtime_config *cfg, const char *path,
                    wp_spec_report *report, wp_spec_file_stats *stats) {
  wp_spec_run_options opts = *base;
  wp_error err = {0};
  int rc = wp_runtime_create(cfg, &opts.runtime, &err);
  if (rc != 0) {
    fprintf(opts.out, "FAIL %s:0: cannot start the runtime: %s: %s\n", base_name(path),
            wp_err_name(rc), err.message);
    wp_spec_report_fail(report);
    return 0;
  }
  rc = wp_spec_run_file(&opts, path, report, stats);
  wp_runtime_destroy(opts.runtime);
  return rc;
}

/* Runs one file in a child process; its results come back over a pipe.
 * Returns 0 with *died set to the signal (0 if none) that killed the child;
 * a child that exits without a full report counts as one failure. */
static int run_child(const wp_spec_run_options *opts, const wp_runtime_config *cfg,
                     const char *path, wp_spec_report *report, wp_spec_file_stats *stats,
                     int *died) {
  int fds[2];
  memset(stats, 0, sizeof *stats);
  *died = 0;
  if (pipe(fds) != 0)
    return WP_ESYS;
  fflush(stdout); /* or the child would print the parent's buffered lines again */
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return WP_ESYS;
  }
  if (pid == 0) {
    close(fds[0]);
    wp_spec_report *mine;
    if (wp_spec_report_create(&mine) != 0)
      _exit(3);
    wp_spec_file_stats child_stats = {0};
    run_here(opts, cfg, path, mine, &child_stats);
    FILE *out = fdopen(fds[1], "w");
    if (out == NULL)
      _exit(3);
    fprintf(out, "stats %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
            child_stats.modules_loaded, child_stats.cache_hits, child_stats.text_checked,
            child_stats.reinstantiated);
    int rc = wp_spec_report_write(mine, out);
    if (fclose(out) != 0)
      rc = WP_EIO;
    fflush(stdout);
    _exit(rc == 0 ? 0 : 3);
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  int rc = WP_ESYS;
  wp_spec_report *got = NULL;
  if (in != NULL) {
    /* The stats line first, the report after it. Read into a scratch report:
     * a child that dies half-way must not leave part of its counts. */
    if (wp_spec_report_create(&got) == 0 &&
        fscanf(in, "stats %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 "\n",
               &stats->modules_loaded, &stats->cache_hits, &stats->text_checked,
               &stats->reinstantiated) == 4)
      rc = wp_spec_report_read(got, in);
    fclose(in);
  } else {
    close(fds[0]);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      wp_spec_report_destroy(got);
      return WP_ESYS;
    }
  }
  if (WIFSIGNALED(status)) {
    *died = WTERMSIG(status);
  } else if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("FAIL %s:0: the child running it exited with status %d without a full report\n",
           base_name(path), WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    wp_spec_report_fail(report);
  } else if (wp_spec_report_merge(report, got) != 0) {
    rc = WP_ENOMEM;
  }
  wp_spec_report_destroy(got);
  return rc == WP_ENOMEM ? rc : 0;
}

/* A file whose commands keep crashing is given up after this many. */
#define MAX_CRASHES 32

/* Runs one file in children until one finishes: each crash is one failed
 * command, reported with its line, and the next child goes on after it. */
static int run_forked(const wp_spec_run_options *base, const wp_runtime_config *cfg,
                      const char *path, wp_spec_report *report, wp_spec_file_stats *stats) {
  /* Shared with the children: the command each is running. */
  wp_spec_progress *progress =
      mmap(NULL, sizeof *progress, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (progress == MAP_FAILED)
    return WP_ESYS;
  size_t crashed[MAX_CRASHES];
  wp_spec_run_options opts = *base;
  opts.progress = progress;
  opts.crashed = crashed;
  opts.crashed_count = 0;
  opts.quiet_before = 0;
  int rc;
  for (;;) {
    progress->command = SIZE_MAX;
    progress->tempdir[0] = '\0';
    int died;
    rc = run_child(&opts, cfg, path, report, stats, &died);
    /* A child killed by a signal left its wast2json directory behind. */
    if (progress->tempdir[0] != '\0' && !opts.keep_temp)
      wp_spec_tempdir_remove(progress->tempdir);
    if (rc != 0 || died == 0)
      break;
    size_t at = progress->command;
    if (at == SIZE_MAX) {
      printf("FAIL %s:0: the runner crashed with signal %d (%s) before its first command\n",
             base_name(path), died, strsignal(died));
      wp_spec_report_fail(report);
      break;
    }
    printf("FAIL %s:%d %s: the runner crashed with signal %d (%s) while running it\n",
           base_name(path), progress->line, progress->label, died, strsignal(died));
    if (opts.crashed_count == MAX_CRASHES) {
      printf("FAIL %s:0: %d commands crashed the runner; the rest of the file is not run\n",
             base_name(path), MAX_CRASHES);
      wp_spec_report_fail(report);
      break;
    }
    /* The next child counts this command as failed without running it. */
    crashed[opts.crashed_count++] = at;
    if (at + 1 > opts.quiet_before)
      opts.quiet_before = at + 1;
  }
  munmap(progress, sizeof *progress);
  return rc;
}

int main(int argc, char **argv) {
  wp_spec_run_options opts = {
      .toolroot = WP_TOOLROOT,
      .call_deadline_ms = 20000,
      .out = stdout,
  };
  const char *cache_dir = WP_SPEC_CACHE_DIR;
  const char *opt_level = "-O1";
  bool fork_per_file = true;
  enum {
    OPT_CACHE = 256,
    OPT_OPT,
    OPT_DEADLINE,
    OPT_TOOLROOT,
    OPT_PROFILE,
    OPT_STRICT,
    OPT_CRASH_AT_LINE,
    OPT_KEEP,
    OPT_NO_FORK,
    OPT_TRACE,
    OPT_TIER
  };
  static const struct option long_options[] = {
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"cache-dir", required_argument, NULL, OPT_CACHE},
      {"opt", required_argument, NULL, OPT_OPT},
      {"deadline-ms", required_argument, NULL, OPT_DEADLINE},
      {"toolroot", required_argument, NULL, OPT_TOOLROOT},
      {"profile", required_argument, NULL, OPT_PROFILE},
      {"strict", no_argument, NULL, OPT_STRICT},
      {"crash-at-line", required_argument, NULL, OPT_CRASH_AT_LINE},
      {"keep-temp", no_argument, NULL, OPT_KEEP},
      {"no-fork", no_argument, NULL, OPT_NO_FORK},
      {"trace", no_argument, NULL, OPT_TRACE},
      {"tier", required_argument, NULL, OPT_TIER},
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
    case OPT_TOOLROOT: opts.toolroot = optarg; break;
    case OPT_PROFILE:
      opts.profile = wp_spec_profile_find(optarg);
      if (opts.profile == NULL) {
        fprintf(stderr, "wasmpool-spec: unknown profile '%s'\n", optarg);
        return 2;
      }
      break;
    case OPT_STRICT: opts.strict = true; break;
    case OPT_CRASH_AT_LINE: opts.crash_at_line = atoi(optarg); break;
    case OPT_KEEP: opts.keep_temp = true; break;
    case OPT_NO_FORK: fork_per_file = false; break;
    case OPT_TRACE: opts.trace = true; break;
    case OPT_TIER:
      if (strcmp(optarg, "0") != 0 && strcmp(optarg, "1") != 0) {
        fprintf(stderr, "wasmpool-spec: --tier takes 0 (tcc) or 1 (cc)\n");
        return 2;
      }
      opts.tier = optarg[0] == '1' ? WP_TIER_OPTIMIZED : WP_TIER_BASELINE;
      break;
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
  /* Every instance lives until the end of its file: up to 402 in const.wast
   * (address space only: 8 GiB of reservation per memory slot). A few tables
   * per module for reference types. */
  cfg.pool.total_instances = 1024;
  cfg.pool.tables_per_instance = 8;
  wp_spec_report *total;
  if (wp_spec_report_create(&total) != 0)
    return 2;
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
    int rc = fork_per_file ? run_forked(&opts, &cfg, argv[i], report, &stats)
                           : run_here(&opts, &cfg, argv[i], report, &stats);
    if (rc != 0) {
      printf("FAIL %s:0: cannot run it: %s\n", base_name(argv[i]), wp_err_name(rc));
      wp_spec_report_fail(report);
    }
    char line[128];
    wp_spec_report_format(report, line, sizeof line);
    printf("%s: %s [%.1f s, %" PRIu64 " modules loaded, %" PRIu64 " from cache]\n",
           base_name(argv[i]), line, now_seconds() - file_started, stats.modules_loaded,
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
  return status;
}
