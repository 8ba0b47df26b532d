/* wasmpool_bench.c — main of wasmpool-bench, the bundled load generator.
 *
 * Parse flags (bench_args.c), prepare the daemon (bench_setup.c: health,
 * deploys, long-lived instances), run the load (bench_run.c), release the
 * instances, then report (bench_report.c) and plot (bench_svg.c). Usage in
 * `wasmpool-bench --help` and docs/BENCH_TOOL.md.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "bench_report.h"
#include "bench_run.h"
#include "bench_setup.h"
#include "bench_svg.h"
#include "wp_errno.h"

#ifdef WP_BENCH_HAVE_CONFIG
#include "config.h"
#endif

/* The daemon's default socket unless --socket or $WASMPOOL_SOCKET (the
 * CLI's rule, so the three agree). */
static void default_socket(char *buf, size_t len) {
  const char *env = getenv("WASMPOOL_SOCKET");
  if (env != NULL && *env != '\0') {
    snprintf(buf, len, "%s", env);
    return;
  }
#ifdef WP_BENCH_HAVE_CONFIG
  wp_config_default_socket_path(buf, len);
#else
  const char *dir = getenv("XDG_RUNTIME_DIR");
  if (dir != NULL && dir[0] == '/' && strlen(dir) + sizeof("/wasmpool.sock") <= 108)
    snprintf(buf, len, "%s/wasmpool.sock", dir);
  else
    snprintf(buf, len, "/tmp/wasmpool.sock");
#endif
}

static int write_plot(const wp_bench_opts *opts, const wp_bench_results *res) {
  size_t count = 1 + (res->entry_count > 1 ? res->entry_count : 0);
  wp_bench_svg_series *series = calloc(count, sizeof(*series));
  if (series == NULL)
    return WP_ENOMEM;
  series[0].label = "all requests";
  series[0].hist = res->latency;
  for (size_t i = 1; i < count; i++) {
    series[i].label = opts->mix->entries[i - 1].name;
    series[i].hist = res->entries[i - 1].latency;
  }
  char title[256];
  snprintf(title, sizeof(title), "wasmpool-bench %s: %u conn, pipeline %u, %s%s%.0f req/s",
           opts->workload_flag, opts->connections, opts->pipeline,
           res->open_loop ? "open loop at " : "closed loop, ", "",
           res->open_loop ? res->rate : wp_bench_results_throughput(res));
  int rc = wp_bench_svg_save(opts->plot_path, title, series, count);
  free(series);
  return rc;
}

int main(int argc, char **argv) {
  wp_bench_opts opts;
  char err[1024];
  if (wp_bench_opts_parse(argc, argv, &opts, err, sizeof(err)) < 0) {
    fprintf(stderr, "wasmpool-bench: %s\nTry 'wasmpool-bench --help'.\n", err);
    return 2;
  }
  if (opts.help) {
    wp_bench_usage(stdout);
    wp_bench_opts_free(&opts);
    return 0;
  }
  /* A daemon that closes while we write must not kill us: libuv reports
   * EPIPE on the write instead. */
  signal(SIGPIPE, SIG_IGN);

  char socket_path[4096];
  if (opts.socket_path != NULL)
    snprintf(socket_path, sizeof(socket_path), "%s", opts.socket_path);
  else
    default_socket(socket_path, sizeof(socket_path));
  if (opts.tcp_host == NULL && opts.socket_path == NULL &&
      (opts.socket_path = strdup(socket_path)) == NULL) {
    fprintf(stderr, "wasmpool-bench: out of memory\n");
    wp_bench_opts_free(&opts);
    return 1;
  }

  int status = 1;
  wp_client *client = NULL;
  char **ids = NULL;
  wp_bench_results *res = NULL;
  int rc = wp_bench_setup_client(&opts, socket_path, &client);
  if (rc < 0) {
    fprintf(stderr, "wasmpool-bench: cannot make a client: %s\n", wp_strerror(rc));
    goto out;
  }
  if (wp_bench_setup_prepare(client, &opts, err, sizeof(err)) < 0 ||
      wp_bench_setup_instances(client, &opts, &ids, err, sizeof(err)) < 0) {
    fprintf(stderr, "wasmpool-bench: %s\n", err);
    goto out;
  }
  if ((rc = wp_bench_results_create(opts.mix->count, &res)) < 0) {
    fprintf(stderr, "wasmpool-bench: out of memory\n");
    goto out;
  }
  rc = wp_bench_run(&opts, socket_path, ids, res, err, sizeof(err));
  size_t leaked = wp_bench_setup_release(client, &opts, ids);
  ids = NULL;
  if (leaked > 0)
    fprintf(stderr, "wasmpool-bench: %zu instance(s) could not be released\n", leaked);
  if (rc < 0) {
    fprintf(stderr, "wasmpool-bench: %s\n", err);
    goto out;
  }
  if (opts.json) {
    json_t *doc = wp_bench_report_json(&opts, res);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    if (text == NULL) {
      fprintf(stderr, "wasmpool-bench: out of memory\n");
      json_decref(doc);
      goto out;
    }
    printf("%s\n", text);
    free(text);
    json_decref(doc);
  } else {
    wp_bench_report_text(stdout, &opts, res);
  }
  if (opts.plot_path != NULL && write_plot(&opts, res) < 0) {
    fprintf(stderr, "wasmpool-bench: cannot write %s\n", opts.plot_path);
    goto out;
  }
  status = res->expected > 0 ? 0 : 1;
  if (status != 0)
    fprintf(stderr, "wasmpool-bench: no request got its expected status\n");
out:
  wp_bench_setup_release(client, &opts, ids);
  wp_bench_results_destroy(res);
  wp_client_destroy(client);
  wp_bench_opts_free(&opts);
  return status;
}
