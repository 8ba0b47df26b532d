/* bench_args.h — wasmpool-bench's command line.
 *
 * wp_bench_opts_parse turns argv into wp_bench_opts or a one-line message;
 * main prints it and exits 2. Parsing reads the files named by --mix and
 * --body @FILE, so a bad file is a usage error too. The socket default
 * ($WASMPOOL_SOCKET, then the daemon's default path) is resolved by main,
 * so parsing needs no environment.
 */
#ifndef WP_BENCH_ARGS_H
#define WP_BENCH_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_mix.h"

typedef struct wp_bench_deploy {
  char *name; /* module name */
  char *path; /* .wasm file */
} wp_bench_deploy;

typedef struct wp_bench_opts {
  char *socket_path; /* --socket; NULL when not given */
  char *tcp_host;    /* --tcp HOST:PORT (loopback only) */
  uint16_t tcp_port;
  unsigned connections;      /* -c, default 1 */
  unsigned pipeline;         /* --pipeline, default 1: requests in flight per connection */
  double rate;               /* --rate, requests/s over all connections; 0 = closed loop */
  uint64_t requests;         /* -n: measured requests; 0 = bounded by duration */
  uint64_t duration_ns;      /* -d: measured time; default 10 s unless -n */
  uint64_t warmup_ns;        /* --warmup: unmeasured time first; default 0 */
  uint64_t timeout_ns;       /* --timeout: per request; default 30 s */
  wp_bench_mix *mix;         /* the workload (one entry unless --mix) */
  const char *workload_flag; /* "--call", "--mix", ...: for the report */
  wp_bench_deploy *deploys;  /* --deploy NAME=FILE, repeatable */
  size_t deploy_count;
  bool json;        /* --json */
  char *plot_path;  /* --plot FILE.svg */
  bool no_progress; /* --no-progress */
  uint64_t seed;    /* --seed, default 1 */
  bool help;        /* -h / --help: print usage, exit 0 */
} wp_bench_opts;

/* 0, or WP_EINVAL with a message in err (flags, values, conflicts, files),
 * or WP_ENOMEM. On error *opts is freed. */
int wp_bench_opts_parse(int argc, char **argv, wp_bench_opts *opts, char *err, size_t err_len);
void wp_bench_opts_free(wp_bench_opts *opts);
void wp_bench_usage(FILE *out);

/* "10s", "250ms", "100us", "2m", "1.5s", "3" (seconds) -> ns. allow_zero
 * for --warmup. WP_EINVAL. */
int wp_bench_parse_duration(const char *text, bool allow_zero, uint64_t *out_ns);

#endif /* WP_BENCH_ARGS_H */
